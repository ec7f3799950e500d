/* Tests of rpc/http's client: lc_http_conn (queueing, timeouts, refused
 * connections, the responses a server may send, closing) and the blocking
 * lc_http_fetch against a server on another thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "rpc/http/http.h"
#include "rpc/http/internal.h"

#include "test/support/http_env.h"

/* Queued calls go one at a time, in order, on one connection. */
static void test_client_queue(void **state)
{
    struct ht_env *env = *state;
    struct lc_http_conn *conn = ht_client(env, 2000);
    struct ht_result res[4];
    static const char *paths[] = {"/slow?ms=30", "/a", "/m", "/nope"};

    for (int i = 0; i < 4; i++) {
        memset(&res[i], 0, sizeof res[i]);
        res[i].call.data = &res[i];
        assert_int_equal(lc_http_conn_send(conn, &res[i].call, "GET", paths[i],
                                           NULL, NULL, 0, ht_on_result),
                         0);
    }
    assert_false(res[0].done); /* never called from inside send */
    assert_true(ht_run_until(env, ht_is_true, &res[3].done, 3000));
    HT_ASSERT_RESULT(res[0], 200, "slow");
    HT_ASSERT_RESULT(res[1], 200, "a");
    HT_ASSERT_RESULT(res[2], 200, "get");
    HT_ASSERT_RESULT(res[3], 404, "not found");
    lc_http_conn_close(conn);
}

static void test_big_response(void **state)
{
    struct ht_env *env = *state;
    struct lc_http_conn *conn = ht_client(env, 5000);
    struct ht_result res;

    ht_call(env, conn, &res, "GET", "/big", NULL, NULL);
    assert_int_equal(res.status, 0);
    assert_int_equal(res.http, 200);
    assert_int_equal(res.len, 3 * 1024 * 1024 + 7);
    assert_true(strncmp(res.body, "abcdefghijklmnopqrstuvwxyzabc", 29) == 0);
    ht_call(env, conn, &res, "GET", "/a", NULL, NULL);
    HT_ASSERT_RESULT(res, 200, "a");
    lc_http_conn_close(conn);
}

static void test_client_timeout(void **state)
{
    struct ht_env *env = *state;
    struct lc_http_conn *conn = ht_client(env, 100);
    struct ht_result res;
    uint64_t t0 = uv_now(&env->loop);

    ht_call(env, conn, &res, "GET", "/hold", NULL, NULL);
    assert_int_equal(res.status, LC_ETIMEDOUT);
    assert_true(uv_now(&env->loop) - t0 >= 95);
    assert_int_equal(env->nheld, 1);
    /* The connection was reset: the server sees the client gone. */
    ht_run_until(env, ht_never, NULL, 50);
    assert_true(lc_http_gone(env->held[0]));
    lc_http_reply_text(env->held[0], 200, "too late");
    env->held[0] = NULL;
    /* The next call reconnects. */
    ht_call(env, conn, &res, "GET", "/a", NULL, NULL);
    HT_ASSERT_RESULT(res, 200, "a");
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
    struct ht_env *env = *state;
    struct lc_http_conn *conn;
    struct ht_result res;

    assert_int_equal(
        lc_http_conn_new(&env->loop, "127.0.0.1", free_port(), 1000, &conn), 0);
    ht_call(env, conn, &res, "GET", "/a", NULL, NULL);
    assert_int_equal(res.status, LC_ECONN);
    ht_call(env, conn, &res, "POST", "/a", HT_CT_FORM, "x=1");
    assert_int_equal(res.status, LC_ECONN);
    lc_http_conn_close(conn);

    /* A name, resolved (localhost may give ::1 first: refused, then the
     * next address). */
    assert_int_equal(
        lc_http_conn_new(&env->loop, "localhost", env->port, 2000, &conn), 0);
    ht_call(env, conn, &res, "GET", "/a", NULL, NULL);
    HT_ASSERT_RESULT(res, 200, "a");
    lc_http_conn_close(conn);

    /* Text that would split the request line or a header is refused. */
    assert_int_equal(
        lc_http_conn_new(&env->loop, "localhost", env->port, 2000, &conn), 0);
    memset(&res, 0, sizeof res);
    assert_int_equal(lc_http_conn_send(conn, &res.call, "GET", "/a b", NULL,
                                       NULL, 0, ht_on_result),
                     LC_EINVAL);
    assert_int_equal(lc_http_conn_send(conn, &res.call, "GET", "/a\r\nX: y",
                                       NULL, NULL, 0, ht_on_result),
                     LC_EINVAL);
    assert_int_equal(lc_http_conn_send(conn, &res.call, "POST", "/a",
                                       "text/plain\r\nX: y", "b", 1,
                                       ht_on_result),
                     LC_EINVAL);
    lc_http_conn_close(conn);
    ht_run_until(env, ht_never, NULL, 10);
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

static void canned_start(struct ht_env *env, struct canned *srv,
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
static void canned_stop(struct ht_env *env, struct canned *srv)
{
    uv_close((uv_handle_t *)&srv->listener, NULL);
    assert_true(ht_run_until(env, canned_idle, srv, 2000));
}

static struct lc_http_conn *canned_client(struct ht_env *env,
                                          struct canned *srv)
{
    struct lc_http_conn *conn;
    assert_int_equal(
        lc_http_conn_new(&env->loop, "127.0.0.1", srv->port, 2000, &conn), 0);
    return conn;
}

static void test_client_responses(void **state)
{
    struct ht_env *env = *state;
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
    struct ht_result res;

    canned_start(env, &srv, keep, 4, false);
    conn = canned_client(env, &srv);
    ht_call(env, conn, &res, "GET", "/", NULL, NULL);
    HT_ASSERT_RESULT(res, 200, "hello world");
    ht_call(env, conn, &res, "POST", "/", HT_CT_FORM, "a=1");
    HT_ASSERT_RESULT(res, 201, "ok");
    ht_call(env, conn, &res, "HEAD", "/", NULL, NULL);
    HT_ASSERT_RESULT(res, 200, "");
    ht_call(env, conn, &res, "DELETE", "/", NULL, NULL);
    HT_ASSERT_RESULT(res, 204, "");
    ht_call(env, conn, &res, "GET", "/", NULL, NULL);
    HT_ASSERT_RESULT(res, 200, "hello world");
    assert_int_equal(srv.accepts, 1); /* all on one connection */
    lc_http_conn_close(conn);
    canned_stop(env, &srv);

    canned_start(env, &srv, closing, 4, true);
    conn = canned_client(env, &srv);
    ht_call(env, conn, &res, "GET", "/", NULL, NULL);
    HT_ASSERT_RESULT(res, 200, "until the end"); /* delimited by the close */
    ht_call(env, conn, &res, "GET", "/", NULL, NULL);
    HT_ASSERT_RESULT(res, 200, "abc");
    ht_call(env, conn, &res, "GET", "/", NULL, NULL);
    assert_int_equal(res.status, LC_ECONN); /* closed mid-body */
    ht_call(env, conn, &res, "GET", "/", NULL, NULL);
    assert_int_equal(res.status, LC_EPROTO);
    assert_int_equal(srv.accepts, 4); /* reconnected each time */
    lc_http_conn_close(conn);
    canned_stop(env, &srv);
}

/* Closing a client cancels what is queued, after the call returns. */
static void test_client_close_cancels(void **state)
{
    struct ht_env *env = *state;
    struct lc_http_conn *conn = ht_client(env, 0);
    struct ht_result res[2];

    for (int i = 0; i < 2; i++) {
        memset(&res[i], 0, sizeof res[i]);
        res[i].call.data = &res[i];
        assert_int_equal(lc_http_conn_send(conn, &res[i].call, "GET", "/hold",
                                           NULL, NULL, 0, ht_on_result),
                         0);
    }
    ht_run_until(env, ht_never, NULL, 50);
    assert_int_equal(env->nheld, 1);
    lc_http_conn_close(conn);
    assert_false(res[0].done);
    assert_true(ht_run_until(env, ht_is_true, &res[1].done, 2000));
    assert_int_equal(res[0].status, LC_ECANCELED);
    assert_int_equal(res[1].status, LC_ECANCELED);
}

/* ------------------------------------------------ lc_http_fetch (thread) */

static void test_fetch(void **state)
{
    struct ht_thread t;
    int status = 0;
    char *body = NULL;
    size_t len = 0;
    (void)state;

    assert_int_equal(ht_thread_start(&t, ht_add_routes, NULL), 0);

    assert_int_equal(lc_http_fetch("127.0.0.1", t.port, "GET", "/a", NULL, NULL,
                                   0, 2000, &status, &body, &len),
                     0);
    assert_int_equal(status, 200);
    assert_int_equal(len, 1);
    assert_string_equal(body, "a");
    free(body);

    assert_int_equal(lc_http_fetch("127.0.0.1", t.port, "PUT", "/echo?x=1%2B1",
                                   HT_CT_FORM, "y=2&z", 5, 2000, &status, &body,
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

    assert_int_equal(ht_thread_stop(&t), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, ht_setup, ht_teardown)
        T(test_client_queue),         T(test_big_response),
        T(test_client_timeout),       T(test_client_econn),
        T(test_client_responses),     T(test_client_close_cancels),
        cmocka_unit_test(test_fetch),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
