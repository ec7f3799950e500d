/* Tests of rpc/http: server, client, parameters on 127.0.0.1 sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "common/util.h"
#include "rpc/http.h"
#include "rpc/http_internal.h"

#define CT_FORM "application/x-www-form-urlencoded"
#define TEXT_HEAD(status_line, len)                                            \
    "HTTP/1.1 " status_line "\r\n"                                             \
    "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: " len "\r\n"

/* ------------------------------------------------------------- fixture */

struct env {
    uv_loop_t loop;
    struct lc_http_server *srv;
    int port;
    struct lc_http_exchange *held[8];
    int nheld;
    int slow_replied;
    int slow_gone;
    bool srv_closed;
};

static void h_text(struct lc_http_exchange *ex, void *data)
{
    lc_http_reply_text(ex, 200, "%s", (const char *)data);
}

/* "METHOD path\n" then "name=value\n" per parameter, then "body=...". */
static void h_echo(struct lc_http_exchange *ex, void *data)
{
    char *out = NULL;
    size_t len = 0, cap = 0, blen;
    const char *name, *value, *body;
    char line[512];
    (void)data;

    snprintf(line, sizeof line, "%s %s\n", lc_http_method_name(ex),
             lc_http_path(ex));
    out = strdup(line);
    len = cap = strlen(out);
    for (size_t i = 0; lc_http_param_at(ex, i, &name, &value); i++) {
        size_t n = (size_t)snprintf(line, sizeof line, "%s=%s\n", name, value);
        out = realloc(out, len + n + 1);
        memcpy(out + len, line, n + 1);
        len += n;
    }
    body = lc_http_body(ex, &blen);
    out = realloc(out, len + 5 + blen + 1);
    memcpy(out + len, "body=", 5);
    memcpy(out + len + 5, body, blen);
    len += 5 + blen;
    (void)cap;
    lc_http_reply_take(ex, 200, "text/plain", out, len);
}

static void h_port(struct lc_http_exchange *ex, void *data)
{
    (void)data;
    lc_http_reply_text(ex, 200, "%s:%d", lc_http_remote_ip(ex),
                       lc_http_remote_port(ex));
}

static void h_hold(struct lc_http_exchange *ex, void *data)
{
    struct env *env = data;
    assert_true(env->nheld < 8);
    env->held[env->nheld++] = ex;
}

static void h_header(struct lc_http_exchange *ex, void *data)
{
    const char *v = lc_http_header(ex, lc_http_param(ex, "name"));
    (void)data;
    lc_http_reply_text(ex, 200, "%s", v != NULL ? v : "(none)");
}

static void h_big(struct lc_http_exchange *ex, void *data)
{
    size_t len = 3 * 1024 * 1024 + 7;
    char *body = malloc(len);
    (void)data;
    for (size_t i = 0; i < len; i++) {
        body[i] = (char)('a' + i % 26);
    }
    lc_http_reply_take(ex, 200, "application/octet-stream", body, len);
}

struct slow {
    uv_timer_t timer;
    struct lc_http_exchange *ex;
    struct env *env;
};

static void on_slow_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_slow(uv_timer_t *t)
{
    struct slow *s = t->data;
    s->env->slow_replied++;
    if (lc_http_gone(s->ex)) {
        s->env->slow_gone++;
    }
    lc_http_reply_text(s->ex, 200, "slow");
    uv_close((uv_handle_t *)&s->timer, on_slow_closed);
}

/* Answers "slow" after ?ms= milliseconds, from a timer. */
static void h_slow(struct lc_http_exchange *ex, void *data)
{
    struct env *env = data;
    struct slow *s = calloc(1, sizeof *s);
    const char *ms = lc_http_param(ex, "ms");
    s->ex = ex;
    s->env = env;
    uv_timer_init(&env->loop, &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, on_slow, ms ? (uint64_t)atoi(ms) : 20, 0);
}

static void h_fallback(struct lc_http_exchange *ex, void *data)
{
    (void)data;
    lc_http_reply_text(ex, 200, "fallback %s", lc_http_path(ex));
}

static void add_routes(struct lc_http_server *srv, void *env)
{
    assert_int_equal(lc_http_server_route(srv, LC_HTTP_GET, "/a", h_text, "a"),
                     0);
    assert_int_equal(
        lc_http_server_route(srv, LC_HTTP_GET, "/m", h_text, "get"), 0);
    assert_int_equal(lc_http_server_route(srv, LC_HTTP_POST | LC_HTTP_DELETE,
                                          "/m", h_text, "post"),
                     0);
    assert_int_equal(lc_http_server_route(srv, LC_HTTP_GET | LC_HTTP_HEAD, "/h",
                                          h_text, "hello"),
                     0);
    assert_int_equal(
        lc_http_server_route(srv, LC_HTTP_ANY, "/echo", h_echo, NULL), 0);
    assert_int_equal(
        lc_http_server_route(srv, LC_HTTP_GET, "/p q", h_text, "space"), 0);
    assert_int_equal(
        lc_http_server_route(srv, LC_HTTP_GET, "/a+b", h_text, "plus"), 0);
    assert_int_equal(
        lc_http_server_route(srv, LC_HTTP_GET, "/port", h_port, NULL), 0);
    assert_int_equal(
        lc_http_server_route(srv, LC_HTTP_ANY, "/hold", h_hold, env), 0);
    assert_int_equal(
        lc_http_server_route(srv, LC_HTTP_GET, "/slow", h_slow, env), 0);
    assert_int_equal(
        lc_http_server_route(srv, LC_HTTP_GET, "/header", h_header, NULL), 0);
    assert_int_equal(
        lc_http_server_route(srv, LC_HTTP_GET, "/big", h_big, NULL), 0);
}

static void env_start(struct env *env, const struct lc_http_limits *limits)
{
    assert_int_equal(uv_loop_init(&env->loop), 0);
    env->srv = lc_http_server_new(&env->loop, limits);
    assert_non_null(env->srv);
    add_routes(env->srv, env);
    assert_int_equal(lc_http_server_listen(env->srv, "127.0.0.1", 0), 0);
    env->port = lc_http_server_bound_port(env->srv);
    assert_true(env->port > 0);
}

static struct lc_http_limits test_limits(void)
{
    struct lc_http_limits l;
    lc_http_limits_default(&l);
    l.max_header_bytes = 1024;
    l.max_body_bytes = 4096;
    l.max_connections = 16;
    return l;
}

static int setup(void **state)
{
    struct env *env = calloc(1, sizeof *env);
    struct lc_http_limits l = test_limits();
    env_start(env, &l);
    *state = env;
    return 0;
}

static void on_srv_closed(struct lc_http_server *srv, void *data)
{
    struct env *env = data;
    (void)srv;
    env->srv_closed = true;
}

static bool srv_is_closed(void *arg)
{
    return ((struct env *)arg)->srv_closed;
}

static bool run_until(struct env *env, bool (*cond)(void *), void *arg,
                      unsigned ms);

static void close_stray(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h)) {
        (*(int *)arg)++;
        uv_close(h, NULL);
    }
}

static void env_stop(struct env *env)
{
    int stray = 0;
    bool closed;

    if (env->srv != NULL) {
        lc_http_server_close(env->srv, 0, on_srv_closed, env);
        env->srv = NULL;
    }
    closed = run_until(env, srv_is_closed, env, 3000);
    /* Late replies to held exchanges are dropped, and free them. */
    for (int i = 0; i < env->nheld; i++) {
        if (env->held[i] != NULL) {
            assert_true(lc_http_gone(env->held[i]));
            lc_http_reply_text(env->held[i], 200, "late");
        }
    }
    env->nheld = 0;
    uv_run(&env->loop, UV_RUN_NOWAIT);
    /* A failed test may leave handles behind; close them so that the
     * failure is reported rather than the teardown hanging. */
    uv_walk(&env->loop, close_stray, &stray);
    uv_run(&env->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&env->loop), 0);
    assert_true(closed);
    assert_int_equal(stray, 0);
}

static int teardown(void **state)
{
    struct env *env = *state;
    env_stop(env);
    free(env);
    return 0;
}

/* Run the loop until @cond holds or @ms pass; return whether it held. */
static void on_deadline(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

static bool run_until(struct env *env, bool (*cond)(void *), void *arg,
                      unsigned ms)
{
    uv_timer_t t;
    bool expired = false;
    bool ok;

    uv_timer_init(&env->loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_deadline, ms, 0);
    while (!(ok = cond(arg)) && !expired) {
        uv_run(&env->loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&env->loop, UV_RUN_NOWAIT);
    return ok;
}

static bool is_true(void *arg)
{
    return *(bool *)arg;
}

static bool never(void *arg)
{
    (void)arg;
    return false;
}

/* ------------------------------------------------ raw client (uv_tcp_t) */

struct raw {
    struct env *env;
    uv_tcp_t tcp;
    uv_connect_t connect;
    char in[1 << 16];
    size_t in_len;
    int connected; /* 1 ok, <0 error */
    bool eof;
    bool closed;
    int want; /* responses, for has_responses() */
};

static void raw_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct raw *r = h->data;
    (void)hint;
    buf->base = r->in + r->in_len;
    buf->len = sizeof r->in - r->in_len - 1;
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct raw *r = s->data;
    (void)buf;
    if (n > 0) {
        r->in_len += (size_t)n;
        r->in[r->in_len] = '\0';
    } else if (n < 0) {
        r->eof = true;
        uv_read_stop(s);
    }
}

static void raw_on_connect(uv_connect_t *req, int status)
{
    struct raw *r = req->data;
    r->connected = status == 0 ? 1 : status;
    if (status == 0) {
        uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read);
    }
}

static bool raw_is_connected(void *arg)
{
    return ((struct raw *)arg)->connected != 0;
}

static struct raw *raw_open(struct env *env)
{
    struct raw *r = calloc(1, sizeof *r);
    struct sockaddr_in sin;

    r->env = env;
    uv_ip4_addr("127.0.0.1", env->port, &sin);
    uv_tcp_init(&env->loop, &r->tcp);
    r->tcp.data = r;
    r->connect.data = r;
    assert_int_equal(uv_tcp_connect(&r->connect, &r->tcp,
                                    (struct sockaddr *)&sin, raw_on_connect),
                     0);
    assert_true(run_until(env, raw_is_connected, r, 2000));
    assert_int_equal(r->connected, 1);
    return r;
}

static void raw_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void raw_send(struct raw *r, const char *data, size_t len)
{
    uv_write_t *w = malloc(sizeof *w + len);
    uv_buf_t b = uv_buf_init((char *)(w + 1), (unsigned)len);
    memcpy(w + 1, data, len);
    assert_int_equal(uv_write(w, (uv_stream_t *)&r->tcp, &b, 1, raw_written),
                     0);
}

static void raw_sends(struct raw *r, const char *text)
{
    raw_send(r, text, strlen(text));
}

static void raw_on_closed(uv_handle_t *h)
{
    struct raw *r = h->data;
    r->closed = true;
}

static void raw_free(struct raw *r)
{
    if (!uv_is_closing((uv_handle_t *)&r->tcp)) {
        uv_close((uv_handle_t *)&r->tcp, raw_on_closed);
    }
    assert_true(run_until(r->env, is_true, &r->closed, 2000));
    free(r);
}

static bool raw_is_eof(void *arg)
{
    return ((struct raw *)arg)->eof;
}

/* Parse what arrived as responses. */
struct resp {
    int status;
    char body[512];
    size_t len;
    bool close;
};

struct resp_ctx {
    struct resp *r;
    int n;
    int max;
};

static int rp_begin(http_parser *p)
{
    struct resp_ctx *ctx = p->data;
    if (ctx->n < ctx->max) {
        memset(&ctx->r[ctx->n], 0, sizeof ctx->r[ctx->n]);
    }
    return 0;
}

static int rp_body(http_parser *p, const char *at, size_t len)
{
    struct resp_ctx *ctx = p->data;
    if (ctx->n < ctx->max) {
        struct resp *r = &ctx->r[ctx->n];
        size_t room = sizeof r->body - 1 - r->len;
        size_t n = len < room ? len : room;
        memcpy(r->body + r->len, at, n);
        r->len += n;
        r->body[r->len] = '\0';
    }
    return 0;
}

static int rp_complete(http_parser *p)
{
    struct resp_ctx *ctx = p->data;
    if (p->status_code == 100) {
        return 0;
    }
    if (ctx->n < ctx->max) {
        ctx->r[ctx->n].status = p->status_code;
        ctx->r[ctx->n].close = !http_should_keep_alive(p);
    }
    ctx->n++;
    return 0;
}

static int parse_resps(const char *buf, size_t len, struct resp *r, int max)
{
    static const http_parser_settings s = {.on_message_begin = rp_begin,
                                           .on_body = rp_body,
                                           .on_message_complete = rp_complete};
    http_parser p;
    struct resp_ctx ctx = {.r = r, .max = max};

    http_parser_init(&p, HTTP_RESPONSE);
    p.data = &ctx;
    http_parser_execute(&p, &s, buf, len);
    return ctx.n;
}

static bool raw_has_responses(void *arg)
{
    struct raw *r = arg;
    struct resp tmp[16];
    return parse_resps(r->in, r->in_len, tmp, 16) >= r->want;
}

static int raw_wait(struct raw *r, int n, struct resp *out, int max)
{
    r->want = n;
    run_until(r->env, raw_has_responses, r, 3000);
    return parse_resps(r->in, r->in_len, out, max);
}

/* ---------------------------------------------------- async client calls */

struct result {
    struct lc_http_call call;
    bool done;
    int status;
    int http;
    char body[512];
    size_t len;
};

static void on_result(struct lc_http_call *call, int status, int http_status,
                      const char *body, size_t len)
{
    struct result *res = call->data;
    res->done = true;
    res->status = status;
    res->http = http_status;
    res->len = len;
    if (len >= sizeof res->body) {
        len = sizeof res->body - 1;
    }
    memcpy(res->body, body != NULL ? body : "", len);
    res->body[len] = '\0';
}

static void call(struct env *env, struct lc_http_conn *conn, struct result *res,
                 const char *method, const char *path, const char *ct,
                 const char *body)
{
    memset(res, 0, sizeof *res);
    res->call.data = res;
    assert_int_equal(lc_http_conn_send(conn, &res->call, method, path, ct, body,
                                       body ? strlen(body) : 0, on_result),
                     0);
    assert_true(run_until(env, is_true, &res->done, 5000));
}

static struct lc_http_conn *client(struct env *env, unsigned timeout_ms)
{
    struct lc_http_conn *conn;
    assert_int_equal(
        lc_http_conn_new(&env->loop, "127.0.0.1", env->port, timeout_ms, &conn),
        0);
    return conn;
}

#define ASSERT_RESULT(res, st, text)                                           \
    do {                                                                       \
        assert_int_equal((res).status, 0);                                     \
        assert_int_equal((res).http, (st));                                    \
        assert_string_equal((res).body, (text));                               \
    } while (0)

/* ----------------------------------------------------------------- tests */

static void test_routing(void **state)
{
    struct env *env = *state;
    struct lc_http_conn *conn = client(env, 2000);
    struct result res;

    call(env, conn, &res, "GET", "/a", NULL, NULL);
    ASSERT_RESULT(res, 200, "a");
    call(env, conn, &res, "POST", "/a", NULL, NULL);
    ASSERT_RESULT(res, 405, "method not allowed");
    call(env, conn, &res, "GET", "/nope", NULL, NULL);
    ASSERT_RESULT(res, 404, "not found");
    call(env, conn, &res, "GET", "/a/", NULL, NULL);
    ASSERT_RESULT(res, 404, "not found");
    call(env, conn, &res, "GET", "/m", NULL, NULL);
    ASSERT_RESULT(res, 200, "get");
    call(env, conn, &res, "POST", "/m", NULL, NULL);
    ASSERT_RESULT(res, 200, "post");
    call(env, conn, &res, "DELETE", "/m?x=1", NULL, NULL);
    ASSERT_RESULT(res, 200, "post");
    call(env, conn, &res, "PUT", "/m", NULL, NULL);
    ASSERT_RESULT(res, 405, "method not allowed");
    call(env, conn, &res, "OPTIONS", "/m", NULL, NULL);
    ASSERT_RESULT(res, 405, "method not allowed");
    call(env, conn, &res, "GET", "/p%20q", NULL, NULL);
    ASSERT_RESULT(res, 200, "space");
    call(env, conn, &res, "GET", "/a+b", NULL, NULL);
    ASSERT_RESULT(res, 200, "plus");
    call(env, conn, &res, "GET", "/header?name=HOST", NULL, NULL);
    assert_int_equal(res.http, 200);
    assert_true(strncmp(res.body, "127.0.0.1:", 10) == 0);
    call(env, conn, &res, "GET", "/header?name=x-missing", NULL, NULL);
    ASSERT_RESULT(res, 200, "(none)");

    assert_int_equal(
        lc_http_server_route(env->srv, LC_HTTP_GET, "/m", h_text, "x"),
        LC_EEXIST);
    assert_int_equal(lc_http_server_route(env->srv, LC_HTTP_PUT | LC_HTTP_POST,
                                          "/m", h_text, "x"),
                     LC_EEXIST);
    assert_int_equal(lc_http_server_route(env->srv, 0, "/z", h_text, "x"),
                     LC_EINVAL);

    lc_http_server_fallback(env->srv, h_fallback, NULL);
    call(env, conn, &res, "GET", "/else%2Fwhere?q", NULL, NULL);
    ASSERT_RESULT(res, 200, "fallback /else/where");
    call(env, conn, &res, "POST", "/a", NULL, NULL);
    ASSERT_RESULT(res, 405, "method not allowed");
    lc_http_conn_close(conn);
}

static void test_405_allow(void **state)
{
    struct env *env = *state;
    struct raw *r = raw_open(env);
    static const char want[] =
        TEXT_HEAD("405 Method Not Allowed", "18") "Allow: GET, POST, DELETE\r\n"
                                                  "\r\nmethod not allowed";
    struct resp resp[2];

    raw_sends(r, "PATCH /m HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(raw_wait(r, 1, resp, 2), 1);
    assert_string_equal(r->in, want);
    raw_free(r);
}

static void test_params(void **state)
{
    struct env *env = *state;
    struct lc_http_conn *conn = client(env, 2000);
    struct result res;

    call(env, conn, &res, "GET",
         "/echo?a=1&b=x+y&c=%41%42%2b&d&e=100%&f=%zz&&a=2&=skip&g=%00&h=%e4%"
         "B8%AD",
         NULL, NULL);
    ASSERT_RESULT(res, 200,
                  "GET /echo\na=1\nb=x y\nc=AB+\nd=\ne=100%\nf=%zz\na=2\n"
                  "g=%00\nh=\xe4\xb8\xad\nbody=");

    /* Query first, then the form body; charset parameter allowed. */
    call(env, conn, &res, "POST", "/echo?q=1&b=0",
         "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
         "b=2&c=%26&d=a+b%3D");
    ASSERT_RESULT(res, 200,
                  "POST /echo\nq=1\nb=0\nb=2\nc=&\nd=a b=\n"
                  "body=b=2&c=%26&d=a+b%3D");

    /* Form bodies count for every method. */
    call(env, conn, &res, "DELETE", "/echo", CT_FORM, "id=7");
    ASSERT_RESULT(res, 200, "DELETE /echo\nid=7\nbody=id=7");

    /* Other content types: the body is not parameters. */
    call(env, conn, &res, "POST", "/echo", "application/json", "x=1");
    ASSERT_RESULT(res, 200, "POST /echo\nbody=x=1");
    call(env, conn, &res, "POST", "/echo", "application/x-www-form-urlencodedX",
         "x=1");
    ASSERT_RESULT(res, 200, "POST /echo\nbody=x=1");
    lc_http_conn_close(conn);
}

/* The first value wins, lookups are exact, iteration ends. */
static void h_lookup(struct lc_http_exchange *ex, void *data)
{
    const char *n, *v;
    (void)data;
    assert_string_equal(lc_http_param(ex, "a"), "1");
    assert_string_equal(lc_http_param(ex, "b"), "");
    assert_null(lc_http_param(ex, "A"));
    assert_null(lc_http_param(ex, "zz"));
    assert_true(lc_http_param_at(ex, 2, &n, &v));
    assert_string_equal(n, "a");
    assert_string_equal(v, "3");
    assert_false(lc_http_param_at(ex, 3, &n, &v));
    assert_int_equal(lc_http_method(ex), LC_HTTP_GET);
    lc_http_reply(ex, 204, NULL, "ignored", 7);
}

static void test_param_lookup(void **state)
{
    struct env *env = *state;
    struct lc_http_conn *conn = client(env, 2000);
    struct result res;

    assert_int_equal(
        lc_http_server_route(env->srv, LC_HTTP_GET, "/lookup", h_lookup, NULL),
        0);
    call(env, conn, &res, "GET", "/lookup?a=1&b&a=3", NULL, NULL);
    ASSERT_RESULT(res, 204, "");
    lc_http_conn_close(conn);
}

static void test_keepalive(void **state)
{
    struct env *env = *state;
    struct lc_http_conn *conn = client(env, 2000);
    struct result res;
    char first[64];

    call(env, conn, &res, "GET", "/port", NULL, NULL);
    assert_int_equal(res.http, 200);
    assert_true(strncmp(res.body, "127.0.0.1:", 10) == 0);
    lc_strlcpy(first, res.body, sizeof first);
    for (int i = 0; i < 5; i++) {
        call(env, conn, &res, i % 2 ? "POST" : "GET", "/port", NULL, NULL);
        if (i % 2) {
            ASSERT_RESULT(res, 405, "method not allowed");
        } else {
            ASSERT_RESULT(res, 200, first); /* same connection */
        }
    }
    lc_http_conn_close(conn);
}

/* Queued calls go one at a time, in order, on one connection. */
static void test_client_queue(void **state)
{
    struct env *env = *state;
    struct lc_http_conn *conn = client(env, 2000);
    struct result res[4];
    static const char *paths[] = {"/slow?ms=30", "/a", "/m", "/nope"};

    for (int i = 0; i < 4; i++) {
        memset(&res[i], 0, sizeof res[i]);
        res[i].call.data = &res[i];
        assert_int_equal(lc_http_conn_send(conn, &res[i].call, "GET", paths[i],
                                           NULL, NULL, 0, on_result),
                         0);
    }
    assert_false(res[0].done); /* never called from inside send */
    assert_true(run_until(env, is_true, &res[3].done, 3000));
    ASSERT_RESULT(res[0], 200, "slow");
    ASSERT_RESULT(res[1], 200, "a");
    ASSERT_RESULT(res[2], 200, "get");
    ASSERT_RESULT(res[3], 404, "not found");
    lc_http_conn_close(conn);
}

static void test_pipelined(void **state)
{
    struct env *env = *state;
    struct raw *r = raw_open(env);
    struct resp resp[4];

    raw_sends(r, "GET /slow?ms=60 HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                 "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: " CT_FORM
                 "\r\nContent-Length: 3\r\n\r\nk=v"
                 "GET /slow?ms=10 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(raw_wait(r, 4, resp, 4), 4);
    assert_int_equal(resp[0].status, 200);
    assert_string_equal(resp[0].body, "slow");
    assert_string_equal(resp[1].body, "a");
    assert_string_equal(resp[2].body, "POST /echo\nk=v\nbody=k=v");
    assert_string_equal(resp[3].body, "slow");
    assert_int_equal(env->slow_replied, 2);
    assert_int_equal(env->slow_gone, 0);
    assert_false(r->eof);
    raw_free(r);
}

/* Requests arriving a byte at a time are parsed the same; trailers after a
 * chunked body are dropped and do not disturb the head already parsed. */
static void test_split_bytes(void **state)
{
    struct env *env = *state;
    struct raw *r = raw_open(env);
    char req[2048];
    size_t n;
    struct resp resp[2];

    n = (size_t)snprintf(req, sizeof req,
                         "POST /echo?x=%%41 HTTP/1.1\r\nHost: h\r\n"
                         "Content-Type: " CT_FORM "\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n"
                         "3\r\na=1\r\n4;ext=v\r\n&b=2\r\n0\r\nX-Trailer: ");
    memset(req + n, 't', 700); /* more than the head buffer holds */
    n += 700;
    n += (size_t)snprintf(req + n, sizeof req - n,
                          "\r\nContent-Type: text/plain\r\n\r\n"
                          "GET /header?name=x-trailer HTTP/1.1\r\n\r\n");
    for (size_t i = 0; i < n; i++) {
        raw_send(r, req + i, 1);
        uv_run(&env->loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(raw_wait(r, 2, resp, 2), 2);
    assert_string_equal(resp[0].body,
                        "POST /echo\nx=A\na=1\nb=2\nbody=a=1&b=2");
    assert_string_equal(resp[1].body, "(none)");
    raw_free(r);
}

static void test_async_reply(void **state)
{
    struct env *env = *state;
    struct lc_http_conn *conn = client(env, 2000);
    struct result res;
    uint64_t t0 = uv_now(&env->loop);

    call(env, conn, &res, "GET", "/slow?ms=50", NULL, NULL);
    ASSERT_RESULT(res, 200, "slow");
    assert_true(uv_now(&env->loop) - t0 >= 45);
    call(env, conn, &res, "GET", "/a", NULL, NULL);
    ASSERT_RESULT(res, 200, "a");
    lc_http_conn_close(conn);
}

static bool slow_done(void *arg)
{
    return ((struct env *)arg)->slow_replied > 0;
}

static void test_disconnect_before_reply(void **state)
{
    struct env *env = *state;
    struct raw *r = raw_open(env);

    raw_sends(r, "GET /slow?ms=80 HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    uv_run(&env->loop, UV_RUN_NOWAIT);
    raw_free(r);
    assert_true(run_until(env, slow_done, env, 2000));
    assert_int_equal(env->slow_gone, 1);
    /* The server still works. */
    r = raw_open(env);
    raw_sends(r, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    struct resp resp[1];
    assert_int_equal(raw_wait(r, 1, resp, 1), 1);
    assert_string_equal(resp[0].body, "a");
    raw_free(r);
}

/* Send @req on a fresh connection; expect exactly @want and then EOF. */
static void expect_exact_close(struct env *env, const char *req,
                               const char *want)
{
    struct raw *r = raw_open(env);
    raw_sends(r, req);
    assert_true(run_until(env, raw_is_eof, r, 3000));
    assert_string_equal(r->in, want);
    raw_free(r);
}

#define BAD_REQUEST                                                            \
    TEXT_HEAD("400 Bad Request", "11") "Connection: close\r\n\r\nbad request"

static void test_malformed(void **state)
{
    struct env *env = *state;

    expect_exact_close(env, "GARBAGE\r\n\r\n", BAD_REQUEST);
    expect_exact_close(env, "\x01\x02\x03 / HTTP/1.1\r\n\r\n", BAD_REQUEST);
    expect_exact_close(env, "GET /a HTTP/1.1\r\nHost x\r\n\r\n", BAD_REQUEST);
    expect_exact_close(env, "GET /a HTTP/9.9.9\r\n\r\n", BAD_REQUEST);
    expect_exact_close(env,
                       "POST /echo HTTP/1.1\r\nHost: x\r\n"
                       "Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n",
                       BAD_REQUEST);
    expect_exact_close(env, "POST /echo HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
                       BAD_REQUEST);
    expect_exact_close(env,
                       "POST /echo HTTP/1.1\r\nContent-Length: 1\r\n"
                       "Content-Length: 2\r\n\r\nab",
                       BAD_REQUEST);
    /* A good request, then garbage: the first is answered, then 400. */
    expect_exact_close(env, "GET /a HTTP/1.1\r\n\r\nBLAH\r\n\r\n",
                       TEXT_HEAD("200 OK", "1") "\r\na" BAD_REQUEST);
}

static void test_header_limit(void **state)
{
    struct env *env = *state;
    char req[4096];
    struct raw *r;
    struct resp resp[1];
    size_t n;

    /* Just below 1024 bytes of request line and headers: fine. */
    n = (size_t)snprintf(req, sizeof req, "GET /a HTTP/1.1\r\nX-Pad: ");
    memset(req + n, 'p', 900);
    snprintf(req + 900 + n, sizeof req - 900 - n, "\r\n\r\n");
    r = raw_open(env);
    raw_sends(r, req);
    assert_int_equal(raw_wait(r, 1, resp, 1), 1);
    assert_int_equal(resp[0].status, 200);
    raw_free(r);

    /* One big header. */
    n = (size_t)snprintf(req, sizeof req, "GET /a HTTP/1.1\r\nX-Pad: ");
    memset(req + n, 'p', 2000);
    snprintf(req + 2000 + n, sizeof req - 2000 - n, "\r\n\r\n");
    expect_exact_close(env, req,
                       TEXT_HEAD("431 Request Header Fields Too Large",
                                 "31") "Connection: close\r\n\r\n"
                                       "request header fields too large");

    /* Many small headers. */
    n = (size_t)snprintf(req, sizeof req, "GET /a HTTP/1.1\r\n");
    for (int i = 0; i < 200; i++) {
        n += (size_t)snprintf(req + n, sizeof req - n, "X%d: v\r\n", i);
    }
    snprintf(req + n, sizeof req - n, "\r\n");
    r = raw_open(env);
    raw_sends(r, req);
    assert_true(run_until(env, raw_is_eof, r, 3000));
    assert_int_equal(parse_resps(r->in, r->in_len, resp, 1), 1);
    assert_int_equal(resp[0].status, 431);
    raw_free(r);

    /* A long URL. */
    n = (size_t)snprintf(req, sizeof req, "GET /a?x=");
    memset(req + n, 'u', 1500);
    snprintf(req + n + 1500, sizeof req - n - 1500, " HTTP/1.1\r\n\r\n");
    r = raw_open(env);
    raw_sends(r, req);
    assert_true(run_until(env, raw_is_eof, r, 3000));
    assert_int_equal(parse_resps(r->in, r->in_len, resp, 1), 1);
    assert_int_equal(resp[0].status, 431);
    raw_free(r);
}

#define TOO_LARGE                                                              \
    TEXT_HEAD("413 Payload Too Large", "17")                                   \
    "Connection: close\r\n"                                                    \
    "\r\npayload too large"

static void test_body_limit(void **state)
{
    struct env *env = *state;
    char *req = malloc(16384);
    struct raw *r;
    struct resp resp[1];
    size_t n;

    /* Exactly the limit is fine. */
    n = (size_t)snprintf(req, 16384,
                         "POST /echo HTTP/1.1\r\nContent-Length: 4096\r\n\r\n");
    memset(req + n, 'b', 4096);
    req[n + 4096] = '\0';
    r = raw_open(env);
    raw_sends(r, req);
    assert_int_equal(raw_wait(r, 1, resp, 1), 1);
    assert_int_equal(resp[0].status, 200);
    raw_free(r);

    /* Content-Length over the limit: refused before the body. */
    expect_exact_close(
        env, "POST /echo HTTP/1.1\r\nContent-Length: 4097\r\n\r\n", TOO_LARGE);

    /* Same, with the body sent anyway: the answer must still arrive. */
    n = (size_t)snprintf(
        req, 16384, "POST /echo HTTP/1.1\r\nContent-Length: 10000\r\n\r\n");
    memset(req + n, 'b', 10000);
    req[n + 10000] = '\0';
    expect_exact_close(env, req, TOO_LARGE);

    /* Chunked, over the limit in the third chunk. */
    n = (size_t)snprintf(req, 16384,
                         "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked"
                         "\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        n += (size_t)snprintf(req + n, 16384 - n, "800\r\n");
        memset(req + n, 'c', 0x800);
        n += 0x800;
        n += (size_t)snprintf(req + n, 16384 - n, "\r\n");
    }
    snprintf(req + n, 16384 - n, "0\r\n\r\n");
    expect_exact_close(env, req, TOO_LARGE);

    /* Chunked with a huge chunk size announced. */
    expect_exact_close(env,
                       "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked"
                       "\r\n\r\nfffffff\r\nabc",
                       TOO_LARGE);
    free(req);
}

static void test_head(void **state)
{
    struct env *env = *state;
    struct raw *r = raw_open(env);
    static const char want[] =
        TEXT_HEAD("200 OK", "5") "\r\n" TEXT_HEAD("200 OK", "1") "\r\na";

    raw_sends(r, "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    r->want = 0;
    run_until(env, never, NULL, 150);
    assert_string_equal(r->in, want);
    assert_false(r->eof);
    raw_free(r);

    /* HEAD on a route without HEAD. */
    r = raw_open(env);
    raw_sends(r, "HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n");
    run_until(env, never, NULL, 100);
    assert_string_equal(
        r->in, TEXT_HEAD("405 Method Not Allowed", "18") "Allow: GET\r\n\r\n");
    raw_free(r);
}

static bool has_continue(void *arg)
{
    return strstr(((struct raw *)arg)->in, "HTTP/1.1 100 Continue\r\n\r\n") !=
           NULL;
}

static void test_expect_continue(void **state)
{
    struct env *env = *state;
    struct raw *r = raw_open(env);
    struct resp resp[1];

    raw_sends(r, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: " CT_FORM
                 "\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\n");
    assert_true(run_until(env, has_continue, r, 2000));
    assert_string_equal(r->in, "HTTP/1.1 100 Continue\r\n\r\n");
    raw_sends(r, "a=1&b=2");
    assert_int_equal(raw_wait(r, 1, resp, 1), 1);
    assert_int_equal(resp[0].status, 200);
    assert_string_equal(resp[0].body, "POST /echo\na=1\nb=2\nbody=a=1&b=2");
    raw_free(r);

    /* Too large: 413 instead of 100. */
    expect_exact_close(env,
                       "POST /echo HTTP/1.1\r\nContent-Length: 9999\r\n"
                       "Expect: 100-continue\r\n\r\n",
                       TOO_LARGE);
}

static void test_connection_close(void **state)
{
    struct env *env = *state;

    expect_exact_close(env,
                       "GET /a HTTP/1.1\r\nConnection: close\r\n\r\n"
                       "GET /a HTTP/1.1\r\n\r\n",
                       TEXT_HEAD("200 OK", "1") "Connection: close\r\n\r\na");
    expect_exact_close(env, "GET /a HTTP/1.0\r\n\r\n",
                       TEXT_HEAD("200 OK", "1") "Connection: close\r\n\r\na");

    /* HTTP/1.0 asking for keep-alive keeps it. */
    struct raw *r = raw_open(env);
    raw_sends(r, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                 "GET /m HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    run_until(env, never, NULL, 100);
    assert_string_equal(
        r->in,
        TEXT_HEAD("200 OK", "1") "Connection: keep-alive\r\n"
                                 "\r\na" TEXT_HEAD("200 OK",
                                                   "3") "Connection: keep-alive"
                                                        "\r\n\r\nget");
    assert_false(r->eof);
    raw_free(r);
}

static void test_idle_timeout(void **state)
{
    struct env *env = *state;
    struct lc_http_limits l = test_limits();
    struct raw *r;
    struct resp resp[1];
    uint64_t t0;

    env_stop(env);
    memset(env, 0, sizeof *env);
    l.idle_timeout_ms = 100;
    env_start(env, &l);

    /* Silent connection. */
    r = raw_open(env);
    t0 = uv_now(&env->loop);
    assert_true(run_until(env, raw_is_eof, r, 2000));
    assert_true(uv_now(&env->loop) - t0 >= 90);
    assert_int_equal(r->in_len, 0);
    raw_free(r);

    /* Kept alive while active, closed once idle. */
    r = raw_open(env);
    for (int i = 0; i < 4; i++) {
        raw_sends(r, "GET /a HTTP/1.1\r\n\r\n");
        run_until(env, never, NULL, 60);
        assert_false(r->eof);
    }
    assert_int_equal(parse_resps(r->in, r->in_len, resp, 1), 4);
    t0 = uv_now(&env->loop);
    assert_true(run_until(env, raw_is_eof, r, 2000));
    assert_true(uv_now(&env->loop) - t0 >= 20);
    raw_free(r);

    /* A slow handler is not idleness. */
    r = raw_open(env);
    raw_sends(r, "GET /slow?ms=250 HTTP/1.1\r\n\r\n");
    assert_int_equal(raw_wait(r, 1, resp, 1), 1);
    assert_string_equal(resp[0].body, "slow");
    raw_free(r);
}

static void test_max_connections(void **state)
{
    struct env *env = *state;
    struct lc_http_limits l = test_limits();
    struct raw *r[3];
    struct resp resp[1];

    env_stop(env);
    memset(env, 0, sizeof *env);
    l.max_connections = 2;
    env_start(env, &l);

    for (int i = 0; i < 2; i++) {
        r[i] = raw_open(env);
        raw_sends(r[i], "GET /a HTTP/1.1\r\n\r\n");
        assert_int_equal(raw_wait(r[i], 1, resp, 1), 1);
    }
    r[2] = raw_open(env);
    raw_sends(r[2], "GET /a HTTP/1.1\r\n\r\n");
    assert_true(run_until(env, raw_is_eof, r[2], 2000));
    assert_int_equal(r[2]->in_len, 0);
    raw_free(r[2]);
    /* A slot frees up once one closes. */
    raw_free(r[0]);
    run_until(env, never, NULL, 50);
    r[0] = raw_open(env);
    raw_sends(r[0], "GET /a HTTP/1.1\r\n\r\n");
    assert_int_equal(raw_wait(r[0], 1, resp, 1), 1);
    assert_string_equal(resp[0].body, "a");
    raw_free(r[0]);
    raw_free(r[1]);
}

static void test_big_response(void **state)
{
    struct env *env = *state;
    struct lc_http_conn *conn = client(env, 5000);
    struct result res;

    call(env, conn, &res, "GET", "/big", NULL, NULL);
    assert_int_equal(res.status, 0);
    assert_int_equal(res.http, 200);
    assert_int_equal(res.len, 3 * 1024 * 1024 + 7);
    assert_true(strncmp(res.body, "abcdefghijklmnopqrstuvwxyzabc", 29) == 0);
    call(env, conn, &res, "GET", "/a", NULL, NULL);
    ASSERT_RESULT(res, 200, "a");
    lc_http_conn_close(conn);
}

static void test_client_timeout(void **state)
{
    struct env *env = *state;
    struct lc_http_conn *conn = client(env, 100);
    struct result res;
    uint64_t t0 = uv_now(&env->loop);

    call(env, conn, &res, "GET", "/hold", NULL, NULL);
    assert_int_equal(res.status, LC_ETIMEDOUT);
    assert_true(uv_now(&env->loop) - t0 >= 95);
    assert_int_equal(env->nheld, 1);
    /* The connection was reset: the server sees the client gone. */
    run_until(env, never, NULL, 50);
    assert_true(lc_http_gone(env->held[0]));
    lc_http_reply_text(env->held[0], 200, "too late");
    env->held[0] = NULL;
    /* The next call reconnects. */
    call(env, conn, &res, "GET", "/a", NULL, NULL);
    ASSERT_RESULT(res, 200, "a");
    lc_http_conn_close(conn);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof sin;
    int port;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    port = ntohs(sin.sin_port);
    close(fd);
    return port;
}

static void test_client_econn(void **state)
{
    struct env *env = *state;
    struct lc_http_conn *conn;
    struct result res;

    assert_int_equal(
        lc_http_conn_new(&env->loop, "127.0.0.1", free_port(), 1000, &conn), 0);
    call(env, conn, &res, "GET", "/a", NULL, NULL);
    assert_int_equal(res.status, LC_ECONN);
    call(env, conn, &res, "POST", "/a", CT_FORM, "x=1");
    assert_int_equal(res.status, LC_ECONN);
    lc_http_conn_close(conn);

    /* A name, resolved (localhost may give ::1 first: refused, then the
     * next address). */
    assert_int_equal(
        lc_http_conn_new(&env->loop, "localhost", env->port, 2000, &conn), 0);
    call(env, conn, &res, "GET", "/a", NULL, NULL);
    ASSERT_RESULT(res, 200, "a");
    lc_http_conn_close(conn);

    /* Text that would split the request line or a header is refused. */
    assert_int_equal(
        lc_http_conn_new(&env->loop, "localhost", env->port, 2000, &conn), 0);
    memset(&res, 0, sizeof res);
    assert_int_equal(lc_http_conn_send(conn, &res.call, "GET", "/a b", NULL,
                                       NULL, 0, on_result),
                     LC_EINVAL);
    assert_int_equal(lc_http_conn_send(conn, &res.call, "GET", "/a\r\nX: y",
                                       NULL, NULL, 0, on_result),
                     LC_EINVAL);
    assert_int_equal(lc_http_conn_send(conn, &res.call, "POST", "/a",
                                       "text/plain\r\nX: y", "b", 1, on_result),
                     LC_EINVAL);
    lc_http_conn_close(conn);
    run_until(env, never, NULL, 10);
    assert_false(res.done);

    assert_int_equal(lc_http_conn_new(&env->loop, "", 80, 0, &conn), LC_EINVAL);
    assert_int_equal(lc_http_conn_new(&env->loop, "h", 0, 0, &conn), LC_EINVAL);
}

/* A server answering each request (up to its blank line) with the next
 * canned response, for the client's side of the protocol. */
struct canned {
    uv_tcp_t listener;
    int port;
    const char *const *resp;
    int nresp;
    bool close_after; /* close the connection after each response */
    int accepts;
    int requests;
    int open;
};

struct canned_conn {
    uv_tcp_t tcp;
    uv_write_t w;
    struct canned *srv;
    char buf[4096];
    size_t len;
};

static void canned_conn_closed(uv_handle_t *h)
{
    struct canned_conn *cc = h->data;
    cc->srv->open--;
    free(cc);
}

static void canned_written(uv_write_t *w, int status)
{
    struct canned_conn *cc = w->data;
    (void)status;
    if (cc->srv->close_after && !uv_is_closing((uv_handle_t *)&cc->tcp)) {
        uv_close((uv_handle_t *)&cc->tcp, canned_conn_closed);
    }
}

static void canned_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct canned_conn *cc = h->data;
    (void)hint;
    buf->base = cc->buf + cc->len;
    buf->len = sizeof cc->buf - cc->len - 1;
}

static void canned_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct canned_conn *cc = s->data;
    char *end;
    (void)buf;

    if (n < 0) {
        if (!uv_is_closing((uv_handle_t *)s)) {
            uv_close((uv_handle_t *)s, canned_conn_closed);
        }
        return;
    }
    cc->len += (size_t)n;
    cc->buf[cc->len] = '\0';
    while ((end = strstr(cc->buf, "\r\n\r\n")) != NULL) {
        const char *r = cc->srv->resp[cc->srv->requests++ % cc->srv->nresp];
        uv_buf_t b = uv_buf_init((char *)r, (unsigned)strlen(r));
        size_t used = (size_t)(end + 4 - cc->buf);
        memmove(cc->buf, cc->buf + used, cc->len - used + 1);
        cc->len -= used;
        cc->w.data = cc;
        uv_write(&cc->w, s, &b, 1, canned_written);
        if (cc->srv->close_after) {
            break;
        }
    }
}

static void canned_accept(uv_stream_t *l, int status)
{
    struct canned *srv = l->data;
    struct canned_conn *cc = calloc(1, sizeof *cc);
    assert_int_equal(status, 0);
    cc->srv = srv;
    uv_tcp_init(l->loop, &cc->tcp);
    cc->tcp.data = cc;
    assert_int_equal(uv_accept(l, (uv_stream_t *)&cc->tcp), 0);
    srv->accepts++;
    srv->open++;
    uv_read_start((uv_stream_t *)&cc->tcp, canned_alloc, canned_read);
}

static void canned_start(struct env *env, struct canned *srv,
                         const char *const *resp, int nresp, bool close_after)
{
    struct sockaddr_in sin;
    struct sockaddr_storage ss;
    int len = sizeof ss;

    memset(srv, 0, sizeof *srv);
    srv->resp = resp;
    srv->nresp = nresp;
    srv->close_after = close_after;
    uv_ip4_addr("127.0.0.1", 0, &sin);
    uv_tcp_init(&env->loop, &srv->listener);
    srv->listener.data = srv;
    assert_int_equal(uv_tcp_bind(&srv->listener, (struct sockaddr *)&sin, 0),
                     0);
    assert_int_equal(
        uv_listen((uv_stream_t *)&srv->listener, 16, canned_accept), 0);
    uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len);
    srv->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static bool canned_idle(void *arg)
{
    return ((struct canned *)arg)->open == 0;
}

/* Close the listener; connections close when the client closes them. */
static void canned_stop(struct env *env, struct canned *srv)
{
    uv_close((uv_handle_t *)&srv->listener, NULL);
    assert_true(run_until(env, canned_idle, srv, 2000));
}

static struct lc_http_conn *canned_client(struct env *env, struct canned *srv)
{
    struct lc_http_conn *conn;
    assert_int_equal(
        lc_http_conn_new(&env->loop, "127.0.0.1", srv->port, 2000, &conn), 0);
    return conn;
}

static void test_client_responses(void **state)
{
    struct env *env = *state;
    static const char *const keep[] = {
        /* chunked, with an extension and a trailer */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello"
        "\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n",
        /* an interim 100 before the real answer */
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
        "Content-Length: 2\r\n\r\nok",
        /* answer to HEAD: a length, no body */
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
        "HTTP/1.1 204 No Content\r\n\r\n",
    };
    static const char *const closing[] = {
        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
        "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc",
        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
        "HTTP/1.1 2x0 Bad\r\n\r\n",
    };
    struct canned srv;
    struct lc_http_conn *conn;
    struct result res;

    canned_start(env, &srv, keep, 4, false);
    conn = canned_client(env, &srv);
    call(env, conn, &res, "GET", "/", NULL, NULL);
    ASSERT_RESULT(res, 200, "hello world");
    call(env, conn, &res, "POST", "/", CT_FORM, "a=1");
    ASSERT_RESULT(res, 201, "ok");
    call(env, conn, &res, "HEAD", "/", NULL, NULL);
    ASSERT_RESULT(res, 200, "");
    call(env, conn, &res, "DELETE", "/", NULL, NULL);
    ASSERT_RESULT(res, 204, "");
    call(env, conn, &res, "GET", "/", NULL, NULL);
    ASSERT_RESULT(res, 200, "hello world");
    assert_int_equal(srv.accepts, 1); /* all on one connection */
    lc_http_conn_close(conn);
    canned_stop(env, &srv);

    canned_start(env, &srv, closing, 4, true);
    conn = canned_client(env, &srv);
    call(env, conn, &res, "GET", "/", NULL, NULL);
    ASSERT_RESULT(res, 200, "until the end"); /* delimited by the close */
    call(env, conn, &res, "GET", "/", NULL, NULL);
    ASSERT_RESULT(res, 200, "abc");
    call(env, conn, &res, "GET", "/", NULL, NULL);
    assert_int_equal(res.status, LC_ECONN); /* closed mid-body */
    call(env, conn, &res, "GET", "/", NULL, NULL);
    assert_int_equal(res.status, LC_EPROTO);
    assert_int_equal(srv.accepts, 4); /* reconnected each time */
    lc_http_conn_close(conn);
    canned_stop(env, &srv);
}

/* Closing a client cancels what is queued, after the call returns. */
static void test_client_close_cancels(void **state)
{
    struct env *env = *state;
    struct lc_http_conn *conn = client(env, 0);
    struct result res[2];

    for (int i = 0; i < 2; i++) {
        memset(&res[i], 0, sizeof res[i]);
        res[i].call.data = &res[i];
        assert_int_equal(lc_http_conn_send(conn, &res[i].call, "GET", "/hold",
                                           NULL, NULL, 0, on_result),
                         0);
    }
    run_until(env, never, NULL, 50);
    assert_int_equal(env->nheld, 1);
    lc_http_conn_close(conn);
    assert_false(res[0].done);
    assert_true(run_until(env, is_true, &res[1].done, 2000));
    assert_int_equal(res[0].status, LC_ECANCELED);
    assert_int_equal(res[1].status, LC_ECANCELED);
}

static void test_server_close_grace(void **state)
{
    struct env *env = *state;
    struct raw *r1 = raw_open(env);
    struct raw *r2 = raw_open(env);
    struct raw *idle = raw_open(env);
    struct resp resp[1];

    raw_sends(r1, "GET /hold HTTP/1.1\r\n\r\n");
    raw_sends(r2, "GET /hold HTTP/1.1\r\n\r\n");
    run_until(env, never, NULL, 50);
    assert_int_equal(env->nheld, 2);

    lc_http_server_close(env->srv, 150, on_srv_closed, env);
    env->srv = NULL;
    assert_true(run_until(env, raw_is_eof, idle, 1000));
    assert_int_equal(idle->in_len, 0);
    /* Answered within the grace period: delivered, then closed. */
    lc_http_reply_text(env->held[0], 200, "in time");
    env->held[0] = NULL;
    assert_true(run_until(env, raw_is_eof, r1, 1000));
    assert_int_equal(parse_resps(r1->in, r1->in_len, resp, 1), 1);
    assert_string_equal(resp[0].body, "in time");
    assert_true(resp[0].close);
    /* Not answered: 503 when the grace period ends. */
    assert_true(run_until(env, raw_is_eof, r2, 1000));
    assert_int_equal(parse_resps(r2->in, r2->in_len, resp, 1), 1);
    assert_int_equal(resp[0].status, 503);
    assert_true(run_until(env, is_true, &env->srv_closed, 1000));
    assert_true(lc_http_gone(env->held[1])); /* teardown answers it late */
    raw_free(r1);
    raw_free(r2);
    raw_free(idle);
}

/* ------------------------------------------------ lc_http_fetch (thread) */

struct srv_thread {
    pthread_t thread;
    uv_loop_t loop;
    uv_async_t stop;
    struct lc_http_server *srv;
    uv_sem_t ready;
    int port;
};

static void on_thread_stop(uv_async_t *a)
{
    struct srv_thread *t = a->data;
    lc_http_server_close(t->srv, 0, NULL, NULL);
    uv_close((uv_handle_t *)a, NULL);
}

static void *srv_main(void *arg)
{
    struct srv_thread *t = arg;
    uv_loop_init(&t->loop);
    t->srv = lc_http_server_new(&t->loop, NULL);
    add_routes(t->srv, NULL);
    lc_http_server_listen(t->srv, "127.0.0.1", 0);
    t->port = lc_http_server_bound_port(t->srv);
    uv_async_init(&t->loop, &t->stop, on_thread_stop);
    t->stop.data = t;
    uv_sem_post(&t->ready);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    uv_loop_close(&t->loop);
    return NULL;
}

static void test_fetch(void **state)
{
    struct srv_thread t;
    int status = 0;
    char *body = NULL;
    size_t len = 0;
    (void)state;

    memset(&t, 0, sizeof t);
    uv_sem_init(&t.ready, 0);
    assert_int_equal(pthread_create(&t.thread, NULL, srv_main, &t), 0);
    uv_sem_wait(&t.ready);
    assert_true(t.port > 0);

    assert_int_equal(lc_http_fetch("127.0.0.1", t.port, "GET", "/a", NULL, NULL,
                                   0, 2000, &status, &body, &len),
                     0);
    assert_int_equal(status, 200);
    assert_int_equal(len, 1);
    assert_string_equal(body, "a");
    free(body);

    assert_int_equal(lc_http_fetch("127.0.0.1", t.port, "PUT", "/echo?x=1%2B1",
                                   CT_FORM, "y=2&z", 5, 2000, &status, &body,
                                   &len),
                     0);
    assert_int_equal(status, 200);
    assert_string_equal(body, "PUT /echo\nx=1+1\ny=2\nz=\nbody=y=2&z");
    free(body);

    assert_int_equal(lc_http_fetch("127.0.0.1", t.port, "GET", "/nope", NULL,
                                   NULL, 0, 2000, &status, NULL, NULL),
                     0);
    assert_int_equal(status, 404);

    assert_int_equal(lc_http_fetch("127.0.0.1", free_port(), "GET", "/a", NULL,
                                   NULL, 0, 2000, &status, &body, &len),
                     LC_ECONN);

    uv_async_send(&t.stop);
    pthread_join(t.thread, NULL);
    uv_sem_destroy(&t.ready);
}

/* ------------------------------------------------------------ parameters */

static void test_urlencode(void **state)
{
    char *out = NULL;
    size_t len = 0, cap = 0;
    char text[256];
    char dec[256];
    (void)state;

    assert_int_equal(
        lc_http_urlencode_append(&out, &len, &cap, "a b&c=d/\xc3\xa9~*._-"), 0);
    assert_string_equal(out, "a+b%26c%3Dd%2F%C3%A9%7E*._-");
    assert_int_equal(len, strlen(out));
    assert_int_equal(lc_http_urlencode_append(&out, &len, &cap, "+%"), 0);
    assert_string_equal(out, "a+b%26c%3Dd%2F%C3%A9%7E*._-%2B%25");

    /* Every byte but NUL survives the round trip. */
    for (int i = 1; i < 256; i++) {
        text[i - 1] = (char)i;
    }
    text[255] = '\0';
    len = 0;
    assert_int_equal(lc_http_urlencode_append(&out, &len, &cap, text), 0);
    assert_int_equal(lc_http_pct_decode(dec, out, len, true), 255);
    assert_memory_equal(dec, text, 255);
    free(out);

    assert_true(lc_http_is_form("application/x-www-form-urlencoded"));
    assert_true(lc_http_is_form(" APPLICATION/x-www-form-urlencoded ;a=b"));
    assert_false(lc_http_is_form("application/x-www-form-urlencoded2"));
    assert_false(lc_http_is_form("text/plain"));
    assert_false(lc_http_is_form(NULL));
}

static void test_urlencode_end_to_end(void **state)
{
    struct env *env = *state;
    struct lc_http_conn *conn = client(env, 2000);
    struct result res;
    char *path = NULL;
    size_t len = 0, cap = 0;

    path = strdup("/echo?k=");
    len = strlen(path);
    cap = len + 1;
    lc_http_urlencode_append(&path, &len, &cap, "v a&l=u%+\xe4\xb8\xad");
    call(env, conn, &res, "GET", path, NULL, NULL);
    ASSERT_RESULT(res, 200, "GET /echo\nk=v a&l=u%+\xe4\xb8\xad\nbody=");
    free(path);
    lc_http_conn_close(conn);
}

static void test_pct_decode(void **state)
{
    char out[64];
    size_t n;
    (void)state;

#define DEC(in, plus, want)                                                    \
    n = lc_http_pct_decode(out, in, strlen(in), plus);                         \
    assert_int_equal(n, strlen(want));                                         \
    assert_memory_equal(out, want, n)

    DEC("%41%4a%4A", true, "AJJ");
    DEC("a+b", true, "a b");
    DEC("a+b", false, "a+b");
    DEC("%", true, "%");
    DEC("%4", true, "%4");
    DEC("%4g", true, "%4g");
    DEC("x%", true, "x%");
    DEC("%00", true, "%00");
    DEC("%%41", true, "%A");
    DEC("%ff", true, "\xff");
#undef DEC
}

/* ------------------------------------------------ socket-less connection */

static void test_fake_conn(void **state)
{
    struct env *env = *state;
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
    assert_int_equal(len, strlen(TEXT_HEAD("200 OK", "1") "\r\na"));
    assert_int_equal(env->nheld, 1);
    lc_http_reply_text(env->held[0], 201, "held");
    env->held[0] = NULL;
    assert_true(lc_http_fake_conn_feed(c, NULL, 0));
    out = lc_http_fake_conn_output(c, &len);
    static const char want[] = TEXT_HEAD("200 OK", "1") "\r\na" TEXT_HEAD(
        "201 Created", "4") "\r\nheld" TEXT_HEAD("200 OK", "3") "\r\nget";
    assert_int_equal(len, sizeof want - 1);
    assert_memory_equal(out, want, len);
    lc_http_fake_conn_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_routing),
        T(test_405_allow),
        T(test_params),
        T(test_param_lookup),
        T(test_keepalive),
        T(test_client_queue),
        T(test_pipelined),
        T(test_split_bytes),
        T(test_async_reply),
        T(test_disconnect_before_reply),
        T(test_malformed),
        T(test_header_limit),
        T(test_body_limit),
        T(test_head),
        T(test_expect_continue),
        T(test_connection_close),
        T(test_idle_timeout),
        T(test_max_connections),
        T(test_big_response),
        T(test_client_timeout),
        T(test_client_econn),
        T(test_client_responses),
        T(test_client_close_cancels),
        T(test_server_close_grace),
        cmocka_unit_test(test_fetch),
        cmocka_unit_test(test_urlencode),
        T(test_urlencode_end_to_end),
        cmocka_unit_test(test_pct_decode),
        T(test_fake_conn),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
