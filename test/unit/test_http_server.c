/* Tests of rpc/http's HTTP/1.1 server: routing, keep-alive, pipelining,
 * asynchronous replies, HEAD, Connection, closing, socket-less connections. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/err.h"
#include "common/util.h"
#include "rpc/http/http.h"
#include "rpc/http/internal.h"

#include "test/support/http_env.h"

static void h_fallback(struct lc_http_exchange *ex, void *data)
{
    (void)data;
    lc_http_reply_text(ex, 200, "fallback %s", lc_http_path(ex));
}

static void test_routing(void **state)
{
    struct ht_env *env = *state;
    struct lc_http_conn *conn = ht_client(env, 2000);
    struct ht_result res;

    ht_call(env, conn, &res, "GET", "/a", NULL, NULL);
    HT_ASSERT_RESULT(res, 200, "a");
    ht_call(env, conn, &res, "POST", "/a", NULL, NULL);
    HT_ASSERT_RESULT(res, 405, "method not allowed");
    ht_call(env, conn, &res, "GET", "/nope", NULL, NULL);
    HT_ASSERT_RESULT(res, 404, "not found");
    ht_call(env, conn, &res, "GET", "/a/", NULL, NULL);
    HT_ASSERT_RESULT(res, 404, "not found");
    ht_call(env, conn, &res, "GET", "/m", NULL, NULL);
    HT_ASSERT_RESULT(res, 200, "get");
    ht_call(env, conn, &res, "POST", "/m", NULL, NULL);
    HT_ASSERT_RESULT(res, 200, "post");
    ht_call(env, conn, &res, "DELETE", "/m?x=1", NULL, NULL);
    HT_ASSERT_RESULT(res, 200, "post");
    ht_call(env, conn, &res, "PUT", "/m", NULL, NULL);
    HT_ASSERT_RESULT(res, 405, "method not allowed");
    ht_call(env, conn, &res, "OPTIONS", "/m", NULL, NULL);
    HT_ASSERT_RESULT(res, 405, "method not allowed");
    ht_call(env, conn, &res, "GET", "/p%20q", NULL, NULL);
    HT_ASSERT_RESULT(res, 200, "space");
    ht_call(env, conn, &res, "GET", "/a+b", NULL, NULL);
    HT_ASSERT_RESULT(res, 200, "plus");
    ht_call(env, conn, &res, "GET", "/header?name=HOST", NULL, NULL);
    assert_int_equal(res.http, 200);
    assert_true(strncmp(res.body, "127.0.0.1:", 10) == 0);
    ht_call(env, conn, &res, "GET", "/header?name=x-missing", NULL, NULL);
    HT_ASSERT_RESULT(res, 200, "(none)");

    assert_int_equal(
        lc_http_server_route(env->srv, LC_HTTP_GET, "/m", ht_h_text, "x"),
        LC_EEXIST);
    assert_int_equal(lc_http_server_route(env->srv, LC_HTTP_PUT | LC_HTTP_POST,
                                          "/m", ht_h_text, "x"),
                     LC_EEXIST);
    assert_int_equal(lc_http_server_route(env->srv, 0, "/z", ht_h_text, "x"),
                     LC_EINVAL);

    lc_http_server_fallback(env->srv, h_fallback, NULL);
    ht_call(env, conn, &res, "GET", "/else%2Fwhere?q", NULL, NULL);
    HT_ASSERT_RESULT(res, 200, "fallback /else/where");
    ht_call(env, conn, &res, "POST", "/a", NULL, NULL);
    HT_ASSERT_RESULT(res, 405, "method not allowed");
    lc_http_conn_close(conn);
}

static void test_405_allow(void **state)
{
    struct ht_env *env = *state;
    struct ht_raw *r = ht_raw_open(env);
    static const char want[] = HT_TEXT_HEAD("405 Method Not Allowed",
                                            "18") "Allow: GET, POST, DELETE\r\n"
                                                  "\r\nmethod not allowed";
    struct ht_resp resp[2];

    ht_raw_sends(r, "PATCH /m HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(ht_raw_wait(r, 1, resp, 2), 1);
    assert_string_equal(r->in, want);
    ht_raw_free(r);
}

static void test_keepalive(void **state)
{
    struct ht_env *env = *state;
    struct lc_http_conn *conn = ht_client(env, 2000);
    struct ht_result res;
    char first[64];

    ht_call(env, conn, &res, "GET", "/port", NULL, NULL);
    assert_int_equal(res.http, 200);
    assert_true(strncmp(res.body, "127.0.0.1:", 10) == 0);
    lc_strlcpy(first, res.body, sizeof first);
    for (int i = 0; i < 5; i++) {
        ht_call(env, conn, &res, i % 2 ? "POST" : "GET", "/port", NULL, NULL);
        if (i % 2) {
            HT_ASSERT_RESULT(res, 405, "method not allowed");
        } else {
            HT_ASSERT_RESULT(res, 200, first); /* same connection */
        }
    }
    lc_http_conn_close(conn);
}

static void test_pipelined(void **state)
{
    struct ht_env *env = *state;
    struct ht_raw *r = ht_raw_open(env);
    struct ht_resp resp[4];

    ht_raw_sends(r,
                 "GET /slow?ms=60 HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                 "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: " HT_CT_FORM
                 "\r\nContent-Length: 3\r\n\r\nk=v"
                 "GET /slow?ms=10 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(ht_raw_wait(r, 4, resp, 4), 4);
    assert_int_equal(resp[0].status, 200);
    assert_string_equal(resp[0].body, "slow");
    assert_string_equal(resp[1].body, "a");
    assert_string_equal(resp[2].body, "POST /echo\nk=v\nbody=k=v");
    assert_string_equal(resp[3].body, "slow");
    assert_int_equal(env->slow_replied, 2);
    assert_int_equal(env->slow_gone, 0);
    assert_false(r->eof);
    ht_raw_free(r);
}

/* Requests arriving a byte at a time are parsed the same; trailers after a
 * chunked body are dropped and do not disturb the head already parsed. */
static void test_split_bytes(void **state)
{
    struct ht_env *env = *state;
    struct ht_raw *r = ht_raw_open(env);
    char req[2048];
    size_t n;
    struct ht_resp resp[2];

    n = (size_t)snprintf(req, sizeof req,
                         "POST /echo?x=%%41 HTTP/1.1\r\nHost: h\r\n"
                         "Content-Type: " HT_CT_FORM "\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n"
                         "3\r\na=1\r\n4;ext=v\r\n&b=2\r\n0\r\nX-Trailer: ");
    memset(req + n, 't', 700); /* more than the head buffer holds */
    n += 700;
    n += (size_t)snprintf(req + n, sizeof req - n,
                          "\r\nContent-Type: text/plain\r\n\r\n"
                          "GET /header?name=x-trailer HTTP/1.1\r\n\r\n");
    for (size_t i = 0; i < n; i++) {
        ht_raw_send(r, req + i, 1);
        uv_run(&env->loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(ht_raw_wait(r, 2, resp, 2), 2);
    assert_string_equal(resp[0].body,
                        "POST /echo\nx=A\na=1\nb=2\nbody=a=1&b=2");
    assert_string_equal(resp[1].body, "(none)");
    ht_raw_free(r);
}

static void test_async_reply(void **state)
{
    struct ht_env *env = *state;
    struct lc_http_conn *conn = ht_client(env, 2000);
    struct ht_result res;
    uint64_t t0 = uv_now(&env->loop);

    ht_call(env, conn, &res, "GET", "/slow?ms=50", NULL, NULL);
    HT_ASSERT_RESULT(res, 200, "slow");
    assert_true(uv_now(&env->loop) - t0 >= 45);
    ht_call(env, conn, &res, "GET", "/a", NULL, NULL);
    HT_ASSERT_RESULT(res, 200, "a");
    lc_http_conn_close(conn);
}

static bool slow_done(void *arg)
{
    return ((struct ht_env *)arg)->slow_replied > 0;
}

static void test_disconnect_before_reply(void **state)
{
    struct ht_env *env = *state;
    struct ht_raw *r = ht_raw_open(env);

    ht_raw_sends(r, "GET /slow?ms=80 HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    uv_run(&env->loop, UV_RUN_NOWAIT);
    ht_raw_free(r);
    assert_true(ht_run_until(env, slow_done, env, 2000));
    assert_int_equal(env->slow_gone, 1);
    /* The server still works. */
    r = ht_raw_open(env);
    ht_raw_sends(r, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    struct ht_resp resp[1];
    assert_int_equal(ht_raw_wait(r, 1, resp, 1), 1);
    assert_string_equal(resp[0].body, "a");
    ht_raw_free(r);
}

static void test_head(void **state)
{
    struct ht_env *env = *state;
    struct ht_raw *r = ht_raw_open(env);
    static const char want[] =
        HT_TEXT_HEAD("200 OK", "5") "\r\n" HT_TEXT_HEAD("200 OK", "1") "\r\na";

    ht_raw_sends(r, "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    r->want = 0;
    ht_run_until(env, ht_never, NULL, 150);
    assert_string_equal(r->in, want);
    assert_false(r->eof);
    ht_raw_free(r);

    /* HEAD on a GET route: served by the GET handler, without the body
     * (as Tomcat and Spring do). */
    r = ht_raw_open(env);
    ht_raw_sends(r, "HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n");
    ht_run_until(env, ht_never, NULL, 100);
    assert_string_equal(r->in, HT_TEXT_HEAD("200 OK", "1") "\r\n");
    assert_false(r->eof);
    ht_raw_free(r);

    /* On a route for any method the handler sees GET: the same head as
     * the GET's, with no body. */
    r = ht_raw_open(env);
    ht_raw_sends(r, "GET /echo?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    ht_run_until(env, ht_never, NULL, 100);
    {
        static char get_head[sizeof r->in];
        char *end = strstr(r->in, "\r\n\r\n");
        assert_non_null(end);
        assert_true(strncmp(end + 4, "GET", 3) == 0);
        end[4] = '\0';
        memcpy(get_head, r->in, (size_t)(end + 5 - r->in));
        ht_raw_free(r);
        r = ht_raw_open(env);
        ht_raw_sends(r, "HEAD /echo?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
        ht_run_until(env, ht_never, NULL, 100);
        assert_string_equal(r->in, get_head);
    }
    ht_raw_free(r);
}

static void test_connection_close(void **state)
{
    struct ht_env *env = *state;

    ht_expect_exact_close(
        env,
        "GET /a HTTP/1.1\r\nConnection: close\r\n\r\n"
        "GET /a HTTP/1.1\r\n\r\n",
        HT_TEXT_HEAD("200 OK", "1") "Connection: close\r\n\r\na");
    ht_expect_exact_close(
        env, "GET /a HTTP/1.0\r\n\r\n",
        HT_TEXT_HEAD("200 OK", "1") "Connection: close\r\n\r\na");

    /* HTTP/1.0 asking for keep-alive keeps it. */
    struct ht_raw *r = ht_raw_open(env);
    ht_raw_sends(r, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                    "GET /m HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    ht_run_until(env, ht_never, NULL, 100);
    assert_string_equal(
        r->in,
        HT_TEXT_HEAD("200 OK", "1") "Connection: keep-alive\r\n"
                                    "\r\na" HT_TEXT_HEAD(
                                        "200 OK", "3") "Connection: keep-alive"
                                                       "\r\n\r\nget");
    assert_false(r->eof);
    ht_raw_free(r);
}

static void test_server_close_grace(void **state)
{
    struct ht_env *env = *state;
    struct ht_raw *r1 = ht_raw_open(env);
    struct ht_raw *r2 = ht_raw_open(env);
    struct ht_raw *idle = ht_raw_open(env);
    struct ht_resp resp[1];

    ht_raw_sends(r1, "GET /hold HTTP/1.1\r\n\r\n");
    ht_raw_sends(r2, "GET /hold HTTP/1.1\r\n\r\n");
    ht_run_until(env, ht_never, NULL, 50);
    assert_int_equal(env->nheld, 2);

    lc_http_server_close(env->srv, 150, ht_on_srv_closed, env);
    env->srv = NULL;
    assert_true(ht_run_until(env, ht_raw_is_eof, idle, 1000));
    assert_int_equal(idle->in_len, 0);
    /* Answered within the grace period: delivered, then closed. */
    lc_http_reply_text(env->held[0], 200, "in time");
    env->held[0] = NULL;
    assert_true(ht_run_until(env, ht_raw_is_eof, r1, 1000));
    assert_int_equal(ht_parse_resps(r1->in, r1->in_len, resp, 1), 1);
    assert_string_equal(resp[0].body, "in time");
    assert_true(resp[0].close);
    /* Not answered: 503 when the grace period ends. */
    assert_true(ht_run_until(env, ht_raw_is_eof, r2, 1000));
    assert_int_equal(ht_parse_resps(r2->in, r2->in_len, resp, 1), 1);
    assert_int_equal(resp[0].status, 503);
    assert_true(ht_run_until(env, ht_is_true, &env->srv_closed, 1000));
    assert_true(lc_http_gone(env->held[1])); /* teardown answers it late */
    ht_raw_free(r1);
    ht_raw_free(r2);
    ht_raw_free(idle);
}

/* ---------------------------------------------------------------- gate */

struct gate_state {
    int asked;            /* gate calls */
    unsigned last_method; /* what the gate saw last */
    char last_path[64];
    struct lc_http_exchange *held;
    int runs; /* /count handler runs */
};

/* ?gate=deny: refused (Spring JSON); ?gate=hold: kept for lc_http_pass;
 * else the handler runs. */
static bool t_gate(struct lc_http_exchange *ex, void *data)
{
    struct gate_state *gs = data;
    const char *what = lc_http_param(ex, "gate");

    gs->asked++;
    gs->last_method = lc_http_method(ex);
    lc_strlcpy(gs->last_path, lc_http_path(ex), sizeof gs->last_path);
    if (what != NULL && strcmp(what, "deny") == 0) {
        lc_http_reply_spring(ex, 403, "user not found!");
        return true;
    }
    if (what != NULL && strcmp(what, "hold") == 0) {
        gs->held = ex;
        return true;
    }
    return false;
}

static void h_count(struct lc_http_exchange *ex, void *data)
{
    struct gate_state *gs = data;
    gs->runs++;
    lc_http_reply_text(ex, 200, "counted %d", gs->runs);
}

static bool gate_held(void *arg)
{
    return ((struct gate_state *)arg)->held != NULL;
}

static void test_gate(void **state)
{
    struct ht_env *env = *state;
    struct gate_state gs = {0};
    struct lc_http_conn *conn = ht_client(env, 2000);
    struct ht_result res;
    struct ht_raw *r;
    struct ht_resp resp[2];

    assert_int_equal(
        lc_http_server_route(env->srv, LC_HTTP_ANY, "/count", h_count, &gs), 0);
    lc_http_server_gate(env->srv, t_gate, &gs);

    /* Passed at once: the handler answers. */
    ht_call(env, conn, &res, "GET", "/count", NULL, NULL);
    HT_ASSERT_RESULT(res, 200, "counted 1");
    assert_int_equal(gs.asked, 1);
    assert_string_equal(gs.last_path, "/count");

    /* Refused: Spring's JSON, the handler never runs. */
    ht_call(env, conn, &res, "POST", "/count?gate=deny", NULL, NULL);
    assert_int_equal(res.status, 0);
    assert_int_equal(res.http, 403);
    assert_non_null(strstr(res.body, "\"status\":403,\"error\":\"Forbidden\","
                                     "\"message\":\"user not found!\","
                                     "\"path\":\"/count\"}"));
    assert_true(strncmp(res.body, "{\"timestamp\":\"", 14) == 0);
    assert_int_equal(gs.runs, 1);

    /* Not asked for what has no handler: 404, 405. */
    ht_call(env, conn, &res, "GET", "/nope?gate=deny", NULL, NULL);
    HT_ASSERT_RESULT(res, 404, "not found");
    ht_call(env, conn, &res, "PUT", "/a?gate=deny", NULL, NULL);
    HT_ASSERT_RESULT(res, 405, "method not allowed");
    assert_int_equal(gs.asked, 2);

    /* HEAD on a GET route: the gate sees the GET it becomes. */
    r = ht_raw_open(env);
    ht_raw_sends(r, "HEAD /a?gate=deny HTTP/1.1\r\nHost: x\r\n\r\n");
    ht_run_until(env, ht_never, NULL, 100);
    assert_true(strncmp(r->in, "HTTP/1.1 403 ", 13) == 0);
    assert_int_equal(gs.last_method, LC_HTTP_GET);
    ht_raw_free(r);

    /* Held, then passed from the loop: the handler answers then, and the
     * pipelined request behind it waits its turn. */
    r = ht_raw_open(env);
    ht_raw_sends(r, "GET /count?gate=hold HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /count HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(ht_run_until(env, gate_held, &gs, 2000));
    ht_run_until(env, ht_never, NULL, 50);
    assert_int_equal(r->in_len, 0);
    assert_int_equal(gs.runs, 1);
    {
        struct lc_http_exchange *ex = gs.held;
        gs.held = NULL;
        lc_http_pass(ex);
    }
    assert_int_equal(ht_raw_wait(r, 2, resp, 2), 2);
    assert_string_equal(resp[0].body, "counted 2");
    assert_string_equal(resp[1].body, "counted 3");
    ht_raw_free(r);

    /* Held while the client goes away: passing it answers and frees it
     * without running the handler. */
    r = ht_raw_open(env);
    ht_raw_sends(r, "PUT /count?gate=hold HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(ht_run_until(env, gate_held, &gs, 2000));
    ht_raw_free(r);
    ht_run_until(env, ht_never, NULL, 50);
    assert_true(lc_http_gone(gs.held));
    {
        struct lc_http_exchange *ex = gs.held;
        gs.held = NULL;
        lc_http_pass(ex);
    }
    assert_int_equal(gs.runs, 3);

    /* Held while the server closes: 503 at the end of the grace, and a
     * late pass is dropped (the teardown's leak checks see the rest). */
    r = ht_raw_open(env);
    ht_raw_sends(r, "GET /count?gate=hold HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(ht_run_until(env, gate_held, &gs, 2000));
    lc_http_conn_close(conn);
    lc_http_server_close(env->srv, 50, ht_on_srv_closed, env);
    env->srv = NULL;
    assert_true(ht_run_until(env, ht_raw_is_eof, r, 1000));
    assert_int_equal(ht_parse_resps(r->in, r->in_len, resp, 1), 1);
    assert_int_equal(resp[0].status, 503);
    assert_true(ht_run_until(env, ht_is_true, &env->srv_closed, 1000));
    {
        struct lc_http_exchange *ex = gs.held;
        gs.held = NULL;
        lc_http_pass(ex);
    }
    assert_int_equal(gs.runs, 3);
    ht_raw_free(r);
}

/* Spring's JSON for a path longer than it keeps (a server whose request
 * line may hold one). */
static int big_setup(void **state)
{
    struct ht_env *env = calloc(1, sizeof *env);
    struct lc_http_limits l = ht_limits();
    l.max_header_bytes = 8192;
    ht_env_start(env, &l);
    *state = env;
    return 0;
}

static void test_spring_cut(void **state)
{
    struct ht_env *env = *state;
    struct gate_state gs = {0};
    static char path[2 + 2 * 1100 + 1];
    static char head[sizeof path + 128];
    struct ht_raw *r;
    const char *body;
    json_t *root;
    const char *got;

    lc_http_server_gate(env->srv, t_gate, &gs);
    /* A path too long for the body is cut before a whole character: the
     * body stays UTF-8 (jansson refuses anything else) and its path is
     * a prefix of the real one. "/x" puts every "é" (C3 A9) at an even
     * offset, so a cut at a byte count would split one. Sent as raw
     * bytes: encoded, the request line would pass the header limit. */
    memcpy(path, "/x", 2);
    for (int i = 0; i < 1100; i++) {
        memcpy(path + 2 + 2 * i, "\xC3\xA9", 2);
    }
    path[sizeof path - 1] = '\0';
    assert_int_equal(
        lc_http_server_route(env->srv, LC_HTTP_ANY, path, h_count, &gs), 0);
    snprintf(head, sizeof head,
             "GET %s?gate=deny HTTP/1.1\r\nHost: x\r\n"
             "Connection: close\r\n\r\n",
             path);
    r = ht_raw_open(env);
    ht_raw_sends(r, head);
    assert_true(ht_run_until(env, ht_raw_is_eof, r, 2000));
    r->in[r->in_len < sizeof r->in ? r->in_len : sizeof r->in - 1] = '\0';
    assert_true(strncmp(r->in, "HTTP/1.1 403 ", 13) == 0);
    body = strstr(r->in, "\r\n\r\n");
    assert_non_null(body);
    root = json_loads(body + 4, 0, NULL);
    if (root == NULL) {
        fail_msg("not JSON (UTF-8): %s", body + 4);
    }
    got = json_string_value(json_object_get(root, "path"));
    assert_non_null(got);
    assert_true(strlen(got) > 2000 && strlen(got) < strlen(path));
    assert_int_equal(strncmp(got, path, strlen(got)), 0);
    json_decref(root);
    assert_int_equal(gs.runs, 0);
    ht_raw_free(r);
}

/* ------------------------------------------------ socket-less connection */

static void test_fake_conn(void **state)
{
    struct ht_env *env = *state;
    struct lc_http_sconn *c = lc_http_fake_conn_new(env->srv);
    static const char req[] =
        "GET /a HTTP/1.1\r\n\r\nGET /hold HTTP/1.1\r\n\r\n"
        "GET /m HTTP/1.1\r\n\r\n";
    const char *out;
    size_t len;

    assert_non_null(c);
    for (size_t i = 0; i < sizeof req - 1; i++) {
        assert_true(lc_http_fake_conn_feed(c, req + i, 1));
    }
    out = lc_http_fake_conn_output(c, &len);
    assert_int_equal(len, strlen(HT_TEXT_HEAD("200 OK", "1") "\r\na"));
    assert_int_equal(env->nheld, 1);
    lc_http_reply_text(env->held[0], 201, "held");
    env->held[0] = NULL;
    assert_true(lc_http_fake_conn_feed(c, NULL, 0));
    out = lc_http_fake_conn_output(c, &len);
    static const char want[] = HT_TEXT_HEAD("200 OK", "1") "\r\na" HT_TEXT_HEAD(
        "201 Created", "4") "\r\nheld" HT_TEXT_HEAD("200 OK", "3") "\r\nget";
    assert_int_equal(len, sizeof want - 1);
    assert_memory_equal(out, want, len);
    lc_http_fake_conn_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, ht_setup, ht_teardown)
        cmocka_unit_test_setup_teardown(test_spring_cut, big_setup,
                                        ht_teardown),
        T(test_routing),
        T(test_405_allow),
        T(test_keepalive),
        T(test_pipelined),
        T(test_split_bytes),
        T(test_async_reply),
        T(test_disconnect_before_reply),
        T(test_head),
        T(test_connection_close),
        T(test_server_close_grace),
        T(test_fake_conn),
        T(test_gate),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
