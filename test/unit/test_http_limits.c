/* Tests of rpc/http's server against bad and oversized requests and its
 * limits: malformed input, header and body sizes, Expect: 100-continue,
 * idle timeout, connection count; chunk framing, request deadlines and
 * connections per address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/http/http.h"

#include "test/support/http_env.h"

#define BAD_REQUEST                                                            \
    HT_TEXT_HEAD("400 Bad Request", "11") "Connection: close\r\n\r\nbad "      \
                                          "request"

static void test_malformed(void **state)
{
    struct ht_env *env = *state;

    ht_expect_exact_close(env, "GARBAGE\r\n\r\n", BAD_REQUEST);
    ht_expect_exact_close(env, "\x01\x02\x03 / HTTP/1.1\r\n\r\n", BAD_REQUEST);
    ht_expect_exact_close(env, "GET /a HTTP/1.1\r\nHost x\r\n\r\n",
                          BAD_REQUEST);
    ht_expect_exact_close(env, "GET /a HTTP/9.9.9\r\n\r\n", BAD_REQUEST);
    ht_expect_exact_close(env,
                          "POST /echo HTTP/1.1\r\nHost: x\r\n"
                          "Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n",
                          BAD_REQUEST);
    ht_expect_exact_close(
        env, "POST /echo HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", BAD_REQUEST);
    ht_expect_exact_close(env,
                          "POST /echo HTTP/1.1\r\nContent-Length: 1\r\n"
                          "Content-Length: 2\r\n\r\nab",
                          BAD_REQUEST);
    /* A good request, then garbage: the first is answered, then 400. */
    ht_expect_exact_close(env, "GET /a HTTP/1.1\r\n\r\nBLAH\r\n\r\n",
                          HT_TEXT_HEAD("200 OK", "1") "\r\na" BAD_REQUEST);
}

static void test_header_limit(void **state)
{
    struct ht_env *env = *state;
    char req[4096];
    struct ht_raw *r;
    struct ht_resp resp[1];
    size_t n;

    /* Just below 1024 bytes of request line and headers: fine. */
    n = (size_t)snprintf(req, sizeof req, "GET /a HTTP/1.1\r\nX-Pad: ");
    memset(req + n, 'p', 900);
    snprintf(req + 900 + n, sizeof req - 900 - n, "\r\n\r\n");
    r = ht_raw_open(env);
    ht_raw_sends(r, req);
    assert_int_equal(ht_raw_wait(r, 1, resp, 1), 1);
    assert_int_equal(resp[0].status, 200);
    ht_raw_free(r);

    /* One big header. */
    n = (size_t)snprintf(req, sizeof req, "GET /a HTTP/1.1\r\nX-Pad: ");
    memset(req + n, 'p', 2000);
    snprintf(req + 2000 + n, sizeof req - 2000 - n, "\r\n\r\n");
    ht_expect_exact_close(env, req,
                          HT_TEXT_HEAD("431 Request Header Fields Too Large",
                                       "31") "Connection: close\r\n\r\n"
                                             "request header fields too large");

    /* Many small headers. */
    n = (size_t)snprintf(req, sizeof req, "GET /a HTTP/1.1\r\n");
    for (int i = 0; i < 200; i++) {
        n += (size_t)snprintf(req + n, sizeof req - n, "X%d: v\r\n", i);
    }
    snprintf(req + n, sizeof req - n, "\r\n");
    r = ht_raw_open(env);
    ht_raw_sends(r, req);
    assert_true(ht_run_until(env, ht_raw_is_eof, r, 3000));
    assert_int_equal(ht_parse_resps(r->in, r->in_len, resp, 1), 1);
    assert_int_equal(resp[0].status, 431);
    ht_raw_free(r);

    /* A long URL. */
    n = (size_t)snprintf(req, sizeof req, "GET /a?x=");
    memset(req + n, 'u', 1500);
    snprintf(req + n + 1500, sizeof req - n - 1500, " HTTP/1.1\r\n\r\n");
    r = ht_raw_open(env);
    ht_raw_sends(r, req);
    assert_true(ht_run_until(env, ht_raw_is_eof, r, 3000));
    assert_int_equal(ht_parse_resps(r->in, r->in_len, resp, 1), 1);
    assert_int_equal(resp[0].status, 431);
    ht_raw_free(r);
}

#define TOO_LARGE                                                              \
    HT_TEXT_HEAD("413 Payload Too Large", "17")                                \
    "Connection: close\r\n"                                                    \
    "\r\npayload too large"

static void test_body_limit(void **state)
{
    struct ht_env *env = *state;
    char *req = malloc(16384);
    struct ht_raw *r;
    struct ht_resp resp[1];
    size_t n;

    /* Exactly the limit is fine. */
    n = (size_t)snprintf(req, 16384,
                         "POST /echo HTTP/1.1\r\nContent-Length: 4096\r\n\r\n");
    memset(req + n, 'b', 4096);
    req[n + 4096] = '\0';
    r = ht_raw_open(env);
    ht_raw_sends(r, req);
    assert_int_equal(ht_raw_wait(r, 1, resp, 1), 1);
    assert_int_equal(resp[0].status, 200);
    ht_raw_free(r);

    /* Content-Length over the limit: refused before the body. */
    ht_expect_exact_close(
        env, "POST /echo HTTP/1.1\r\nContent-Length: 4097\r\n\r\n", TOO_LARGE);

    /* Same, with the body sent anyway: the answer must still arrive. */
    n = (size_t)snprintf(
        req, 16384, "POST /echo HTTP/1.1\r\nContent-Length: 10000\r\n\r\n");
    memset(req + n, 'b', 10000);
    req[n + 10000] = '\0';
    ht_expect_exact_close(env, req, TOO_LARGE);

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
    ht_expect_exact_close(env, req, TOO_LARGE);

    /* Chunked with a huge chunk size announced. */
    ht_expect_exact_close(env,
                          "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked"
                          "\r\n\r\nfffffff\r\nabc",
                          TOO_LARGE);
    free(req);
}

static bool has_continue(void *arg)
{
    return strstr(((struct ht_raw *)arg)->in,
                  "HTTP/1.1 100 Continue\r\n\r\n") != NULL;
}

static void test_expect_continue(void **state)
{
    struct ht_env *env = *state;
    struct ht_raw *r = ht_raw_open(env);
    struct ht_resp resp[1];

    ht_raw_sends(r,
                 "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: " HT_CT_FORM
                 "\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\n");
    assert_true(ht_run_until(env, has_continue, r, 2000));
    assert_string_equal(r->in, "HTTP/1.1 100 Continue\r\n\r\n");
    ht_raw_sends(r, "a=1&b=2");
    assert_int_equal(ht_raw_wait(r, 1, resp, 1), 1);
    assert_int_equal(resp[0].status, 200);
    assert_string_equal(resp[0].body, "POST /echo\na=1\nb=2\nbody=a=1&b=2");
    ht_raw_free(r);

    /* Too large: 413 instead of 100. */
    ht_expect_exact_close(env,
                          "POST /echo HTTP/1.1\r\nContent-Length: 9999\r\n"
                          "Expect: 100-continue\r\n\r\n",
                          TOO_LARGE);
}

static void test_idle_timeout(void **state)
{
    struct ht_env *env = *state;
    struct lc_http_limits l = ht_limits();
    struct ht_raw *r;
    struct ht_resp resp[1];
    uint64_t t0;

    ht_env_stop(env);
    memset(env, 0, sizeof *env);
    l.idle_timeout_ms = 100;
    ht_env_start(env, &l);

    /* Silent connection. */
    r = ht_raw_open(env);
    t0 = uv_now(&env->loop);
    assert_true(ht_run_until(env, ht_raw_is_eof, r, 2000));
    assert_true(uv_now(&env->loop) - t0 >= 90);
    assert_int_equal(r->in_len, 0);
    ht_raw_free(r);

    /* Kept alive while active, closed once idle. */
    r = ht_raw_open(env);
    for (int i = 0; i < 4; i++) {
        ht_raw_sends(r, "GET /a HTTP/1.1\r\n\r\n");
        ht_run_until(env, ht_never, NULL, 60);
        assert_false(r->eof);
    }
    assert_int_equal(ht_parse_resps(r->in, r->in_len, resp, 1), 4);
    t0 = uv_now(&env->loop);
    assert_true(ht_run_until(env, ht_raw_is_eof, r, 2000));
    assert_true(uv_now(&env->loop) - t0 >= 20);
    ht_raw_free(r);

    /* A slow handler is not idleness. */
    r = ht_raw_open(env);
    ht_raw_sends(r, "GET /slow?ms=250 HTTP/1.1\r\n\r\n");
    assert_int_equal(ht_raw_wait(r, 1, resp, 1), 1);
    assert_string_equal(resp[0].body, "slow");
    ht_raw_free(r);
}

static void test_max_connections(void **state)
{
    struct ht_env *env = *state;
    struct lc_http_limits l = ht_limits();
    struct ht_raw *r[3];
    struct ht_resp resp[1];

    ht_env_stop(env);
    memset(env, 0, sizeof *env);
    l.max_connections = 2;
    ht_env_start(env, &l);

    for (int i = 0; i < 2; i++) {
        r[i] = ht_raw_open(env);
        ht_raw_sends(r[i], "GET /a HTTP/1.1\r\n\r\n");
        assert_int_equal(ht_raw_wait(r[i], 1, resp, 1), 1);
    }
    r[2] = ht_raw_open(env);
    ht_raw_sends(r[2], "GET /a HTTP/1.1\r\n\r\n");
    assert_true(ht_run_until(env, ht_raw_is_eof, r[2], 2000));
    assert_int_equal(r[2]->in_len, 0);
    ht_raw_free(r[2]);
    /* A slot frees up once one closes. */
    ht_raw_free(r[0]);
    ht_run_until(env, ht_never, NULL, 50);
    r[0] = ht_raw_open(env);
    ht_raw_sends(r[0], "GET /a HTTP/1.1\r\n\r\n");
    assert_int_equal(ht_raw_wait(r[0], 1, resp, 1), 1);
    assert_string_equal(resp[0].body, "a");
    ht_raw_free(r[0]);
    ht_raw_free(r[1]);
}

/* The CRLF after each chunk's data is checked (http_parser as Debian
 * builds it, not strict, does not): "2\r\nabcdef" is a bad request, not
 * a chunk "ab" followed by a chunk of size 0xef. */
static void test_chunk_crlf(void **state)
{
    struct ht_env *env = *state;
    static const char head[] = "POST /echo HTTP/1.1\r\nHost: x\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n";
    static const char good[] = "2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n";
    static const char *splits[][2] = {
        {"2\r\nab", "cdef\r\n0\r\n\r\n"},
        {"2\r\nab\r", "X0\r\n\r\n"},
        {"2\r\nab\r", "\r\n0\r\n\r\n"},
    };
    char req[256];
    struct ht_raw *r;
    struct ht_resp resp[1];

    snprintf(req, sizeof req, "%s2\r\nabcdef\r\n0\r\n\r\n", head);
    ht_expect_exact_close(env, req, BAD_REQUEST);
    snprintf(req, sizeof req, "%s2\r\nab\n\r0\r\n\r\n", head);
    ht_expect_exact_close(env, req, BAD_REQUEST);

    /* The same, with the data and what follows it in separate reads. */
    for (size_t i = 0; i < sizeof splits / sizeof splits[0]; i++) {
        r = ht_raw_open(env);
        ht_raw_sends(r, head);
        ht_raw_sends(r, splits[i][0]);
        ht_run_until(env, ht_never, NULL, 30);
        ht_raw_sends(r, splits[i][1]);
        assert_true(ht_run_until(env, ht_raw_is_eof, r, 2000));
        assert_string_equal(r->in, BAD_REQUEST);
        ht_raw_free(r);
    }

    /* Good chunks, one byte per read, still work. */
    r = ht_raw_open(env);
    ht_raw_sends(r, head);
    for (const char *p = good; *p != '\0'; p++) {
        ht_raw_send(r, p, 1);
        ht_run_until(env, ht_never, NULL, 2);
    }
    assert_int_equal(ht_raw_wait(r, 1, resp, 1), 1);
    assert_int_equal(resp[0].status, 200);
    assert_non_null(strstr(resp[0].body, "abcde"));
    assert_false(r->eof);
    ht_raw_free(r);
}

#define TIMED_OUT                                                              \
    HT_TEXT_HEAD("408 Request Timeout", "15") "Connection: close\r\n\r\n"      \
                                              "request timeout"

/* Send @first, then one byte of @drip every 40 ms until the server closes
 * (or 3 s pass); return how long after @first it closed. */
static uint64_t trickle(struct ht_env *env, struct ht_raw *r,
                        const char *first, const char *drip)
{
    uint64_t t0 = uv_now(&env->loop);
    ht_raw_sends(r, first);
    for (const char *p = drip; !r->eof && uv_now(&env->loop) - t0 < 3000;) {
        ht_raw_send(r, p, 1);
        p = p[1] != '\0' ? p + 1 : drip;
        ht_run_until(env, ht_raw_is_eof, r, 40);
    }
    assert_true(r->eof);
    return uv_now(&env->loop) - t0;
}

static void test_request_deadlines(void **state)
{
    struct ht_env *env = *state;
    struct lc_http_limits l = ht_limits();
    struct ht_raw *r;
    struct ht_resp resp[2];
    uint64_t took;

    ht_env_stop(env);
    memset(env, 0, sizeof *env);
    l.head_timeout_ms = 250;
    l.body_timeout_ms = 400;
    l.idle_timeout_ms = 10000;
    ht_env_start(env, &l);

    /* A head trickled a byte at a time: 408 once its deadline passes,
     * although bytes keep coming (the idle timeout never fires). */
    r = ht_raw_open(env);
    took = trickle(env, r, "GET /a HTTP/1.1\r\nX-Slow: ", "abc");
    assert_true(took >= 240 && took < 2000);
    assert_string_equal(r->in, TIMED_OUT);
    ht_raw_free(r);

    /* A body trickled the same way. */
    r = ht_raw_open(env);
    took = trickle(env, r,
                   "POST /echo HTTP/1.1\r\nContent-Length: 1000\r\n\r\n",
                   "x");
    assert_true(took >= 390 && took < 2000);
    assert_string_equal(r->in, TIMED_OUT);
    ht_raw_free(r);

    /* Within the deadlines: answered; a keep-alive connection waiting for
     * its next request is only subject to the idle timeout. */
    r = ht_raw_open(env);
    ht_raw_sends(r, "GET /a HTTP/1.1\r\n");
    ht_run_until(env, ht_never, NULL, 100);
    ht_raw_sends(r, "Host: x\r\n\r\n");
    assert_int_equal(ht_raw_wait(r, 1, resp, 2), 1);
    ht_run_until(env, ht_never, NULL, 600);
    assert_false(r->eof);
    ht_raw_sends(r, "GET /a HTTP/1.1\r\n\r\n");
    assert_int_equal(ht_raw_wait(r, 2, resp, 2), 2);
    assert_string_equal(resp[1].body, "a");
    ht_raw_free(r);
}

static void test_max_connections_per_ip(void **state)
{
    struct ht_env *env = *state;
    struct lc_http_limits l = ht_limits();
    struct ht_raw *r[3];
    struct ht_resp resp[1];

    ht_env_stop(env);
    memset(env, 0, sizeof *env);
    l.max_connections_per_ip = 2; /* of 16 in all */
    ht_env_start(env, &l);

    for (int i = 0; i < 2; i++) {
        r[i] = ht_raw_open(env);
        ht_raw_sends(r[i], "GET /a HTTP/1.1\r\n\r\n");
        assert_int_equal(ht_raw_wait(r[i], 1, resp, 1), 1);
    }
    r[2] = ht_raw_open(env);
    ht_raw_sends(r[2], "GET /a HTTP/1.1\r\n\r\n");
    assert_true(ht_run_until(env, ht_raw_is_eof, r[2], 2000));
    assert_int_equal(r[2]->in_len, 0);
    ht_raw_free(r[2]);
    /* A slot of that address frees up once one closes. */
    ht_raw_free(r[0]);
    ht_run_until(env, ht_never, NULL, 50);
    r[0] = ht_raw_open(env);
    ht_raw_sends(r[0], "GET /a HTTP/1.1\r\n\r\n");
    assert_int_equal(ht_raw_wait(r[0], 1, resp, 1), 1);
    assert_string_equal(resp[0].body, "a");
    ht_raw_free(r[0]);
    ht_raw_free(r[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, ht_setup, ht_teardown)
        T(test_malformed),       T(test_header_limit), T(test_body_limit),
        T(test_expect_continue), T(test_idle_timeout), T(test_max_connections),
        T(test_chunk_crlf),      T(test_request_deadlines),
        T(test_max_connections_per_ip),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
