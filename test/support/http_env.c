/* Helpers for the rpc/http unit tests: see http_env.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/http/http.h"
#include "rpc/http/internal.h"
#include "test/support/http_env.h"

/* ------------------------------------------------------------- routes */

void ht_h_text(struct lc_http_exchange *ex, void *data)
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
    struct ht_env *env = data;
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
    struct ht_env *env;
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
    struct ht_env *env = data;
    struct slow *s = calloc(1, sizeof *s);
    const char *ms = lc_http_param(ex, "ms");
    s->ex = ex;
    s->env = env;
    uv_timer_init(&env->loop, &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, on_slow, ms ? (uint64_t)atoi(ms) : 20, 0);
}

int ht_add_routes(struct lc_http_server *srv, void *env)
{
    static const struct {
        unsigned methods;
        const char *path;
        lc_http_handler_cb fn;
        const char *text; /* data for ht_h_text; else env, or NULL */
    } r[] = {
        {LC_HTTP_GET, "/a", ht_h_text, "a"},
        {LC_HTTP_GET, "/m", ht_h_text, "get"},
        {LC_HTTP_POST | LC_HTTP_DELETE, "/m", ht_h_text, "post"},
        {LC_HTTP_GET | LC_HTTP_HEAD, "/h", ht_h_text, "hello"},
        {LC_HTTP_ANY, "/echo", h_echo, NULL},
        {LC_HTTP_GET, "/p q", ht_h_text, "space"},
        {LC_HTTP_GET, "/a+b", ht_h_text, "plus"},
        {LC_HTTP_GET, "/port", h_port, NULL},
        {LC_HTTP_ANY, "/hold", h_hold, NULL},
        {LC_HTTP_GET, "/slow", h_slow, NULL},
        {LC_HTTP_GET, "/header", h_header, NULL},
        {LC_HTTP_GET, "/big", h_big, NULL},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        void *data = r[i].fn == ht_h_text ? (void *)r[i].text : env;
        int rv =
            lc_http_server_route(srv, r[i].methods, r[i].path, r[i].fn, data);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

void ht_env_start(struct ht_env *env, const struct lc_http_limits *limits)
{
    assert_int_equal(uv_loop_init(&env->loop), 0);
    env->srv = lc_http_server_new(&env->loop, limits);
    assert_non_null(env->srv);
    assert_int_equal(ht_add_routes(env->srv, env), 0);
    assert_int_equal(lc_http_server_listen(env->srv, "127.0.0.1", 0), 0);
    env->port = lc_http_server_bound_port(env->srv);
    assert_true(env->port > 0);
}

struct lc_http_limits ht_limits(void)
{
    struct lc_http_limits l;
    lc_http_limits_default(&l);
    l.max_header_bytes = 1024;
    l.max_body_bytes = 4096;
    l.max_connections = 16;
    return l;
}

int ht_setup(void **state)
{
    struct ht_env *env = calloc(1, sizeof *env);
    struct lc_http_limits l = ht_limits();
    ht_env_start(env, &l);
    *state = env;
    return 0;
}

void ht_on_srv_closed(struct lc_http_server *srv, void *data)
{
    struct ht_env *env = data;
    (void)srv;
    env->srv_closed = true;
}

static bool srv_is_closed(void *arg)
{
    return ((struct ht_env *)arg)->srv_closed;
}
static void close_stray(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h)) {
        (*(int *)arg)++;
        uv_close(h, NULL);
    }
}

void ht_env_stop(struct ht_env *env)
{
    int stray = 0;
    bool closed;

    if (env->srv != NULL) {
        lc_http_server_close(env->srv, 0, ht_on_srv_closed, env);
        env->srv = NULL;
    }
    closed = ht_run_until(env, srv_is_closed, env, 3000);
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

int ht_teardown(void **state)
{
    struct ht_env *env = *state;
    ht_env_stop(env);
    free(env);
    return 0;
}

/* Run the loop until @cond holds or @ms pass; return whether it held. */
static void on_deadline(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

bool ht_run_until(struct ht_env *env, bool (*cond)(void *), void *arg,
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

bool ht_is_true(void *arg)
{
    return *(bool *)arg;
}

bool ht_never(void *arg)
{
    (void)arg;
    return false;
}
/* ------------------------------------------------ raw client (uv_tcp_t) */

static void raw_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct ht_raw *r = h->data;
    (void)hint;
    buf->base = r->in + r->in_len;
    buf->len = sizeof r->in - r->in_len - 1;
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct ht_raw *r = s->data;
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
    struct ht_raw *r = req->data;
    r->connected = status == 0 ? 1 : status;
    if (status == 0) {
        uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read);
    }
}

static bool raw_is_connected(void *arg)
{
    return ((struct ht_raw *)arg)->connected != 0;
}

struct ht_raw *ht_raw_open(struct ht_env *env)
{
    struct ht_raw *r = calloc(1, sizeof *r);
    struct sockaddr_in sin;

    r->env = env;
    uv_ip4_addr("127.0.0.1", env->port, &sin);
    uv_tcp_init(&env->loop, &r->tcp);
    r->tcp.data = r;
    r->connect.data = r;
    assert_int_equal(uv_tcp_connect(&r->connect, &r->tcp,
                                    (struct sockaddr *)&sin, raw_on_connect),
                     0);
    assert_true(ht_run_until(env, raw_is_connected, r, 2000));
    assert_int_equal(r->connected, 1);
    return r;
}

static void raw_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

void ht_raw_send(struct ht_raw *r, const char *data, size_t len)
{
    uv_write_t *w = malloc(sizeof *w + len);
    uv_buf_t b = uv_buf_init((char *)(w + 1), (unsigned)len);
    memcpy(w + 1, data, len);
    assert_int_equal(uv_write(w, (uv_stream_t *)&r->tcp, &b, 1, raw_written),
                     0);
}

void ht_raw_sends(struct ht_raw *r, const char *text)
{
    ht_raw_send(r, text, strlen(text));
}

static void raw_on_closed(uv_handle_t *h)
{
    struct ht_raw *r = h->data;
    r->closed = true;
}

void ht_raw_free(struct ht_raw *r)
{
    if (!uv_is_closing((uv_handle_t *)&r->tcp)) {
        uv_close((uv_handle_t *)&r->tcp, raw_on_closed);
    }
    assert_true(ht_run_until(r->env, ht_is_true, &r->closed, 2000));
    free(r);
}

bool ht_raw_is_eof(void *arg)
{
    return ((struct ht_raw *)arg)->eof;
}

/* Parsing what arrived as responses (struct ht_resp). */

struct resp_ctx {
    struct ht_resp *r;
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
        struct ht_resp *r = &ctx->r[ctx->n];
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

int ht_parse_resps(const char *buf, size_t len, struct ht_resp *r, int max)
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
    struct ht_raw *r = arg;
    struct ht_resp tmp[16];
    return ht_parse_resps(r->in, r->in_len, tmp, 16) >= r->want;
}

int ht_raw_wait(struct ht_raw *r, int n, struct ht_resp *out, int max)
{
    r->want = n;
    ht_run_until(r->env, raw_has_responses, r, 3000);
    return ht_parse_resps(r->in, r->in_len, out, max);
}

/* ---------------------------------------------------- async client calls */

void ht_on_result(struct lc_http_call *call, int status, int http_status,
                  const char *body, size_t len)
{
    struct ht_result *res = call->data;
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

void ht_call(struct ht_env *env, struct lc_http_conn *conn,
             struct ht_result *res, const char *method, const char *path,
             const char *ct, const char *body)
{
    memset(res, 0, sizeof *res);
    res->call.data = res;
    assert_int_equal(lc_http_conn_send(conn, &res->call, method, path, ct, body,
                                       body ? strlen(body) : 0, ht_on_result),
                     0);
    assert_true(ht_run_until(env, ht_is_true, &res->done, 5000));
}

struct lc_http_conn *ht_client(struct ht_env *env, unsigned timeout_ms)
{
    struct lc_http_conn *conn;
    assert_int_equal(
        lc_http_conn_new(&env->loop, "127.0.0.1", env->port, timeout_ms, &conn),
        0);
    return conn;
}
/* Send @req on a fresh connection; expect exactly @want and then EOF. */
void ht_expect_exact_close(struct ht_env *env, const char *req,
                           const char *want)
{
    struct ht_raw *r = ht_raw_open(env);
    ht_raw_sends(r, req);
    assert_true(ht_run_until(env, ht_raw_is_eof, r, 3000));
    assert_string_equal(r->in, want);
    ht_raw_free(r);
}

/* ------------------------------------------------------ server thread */

static void on_thread_stop(uv_async_t *a)
{
    struct ht_thread *t = a->data;
    lc_http_server_close(t->srv, 0, NULL, NULL);
    uv_close((uv_handle_t *)a, NULL);
}

static void *thread_main(void *arg)
{
    struct ht_thread *t = arg;
    uv_loop_init(&t->loop);
    t->srv = lc_http_server_new(&t->loop, NULL);
    if (t->routes(t->srv, t->data) == 0 &&
        lc_http_server_listen(t->srv, "127.0.0.1", 0) == 0) {
        t->port = lc_http_server_bound_port(t->srv);
    }
    if (t->port <= 0) {
        t->port = -1;
    }
    uv_async_init(&t->loop, &t->stop, on_thread_stop);
    t->stop.data = t;
    uv_sem_post(&t->ready);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    t->loop_close_rv = uv_loop_close(&t->loop);
    return NULL;
}

int ht_thread_start(struct ht_thread *t,
                    int (*routes)(struct lc_http_server *srv, void *data),
                    void *data)
{
    memset(t, 0, sizeof *t);
    t->routes = routes;
    t->data = data;
    uv_sem_init(&t->ready, 0);
    if (pthread_create(&t->thread, NULL, thread_main, t) != 0) {
        uv_sem_destroy(&t->ready);
        return -1;
    }
    uv_sem_wait(&t->ready);
    return t->port > 0 ? 0 : -1;
}

int ht_thread_stop(struct ht_thread *t)
{
    uv_async_send(&t->stop);
    pthread_join(t->thread, NULL);
    uv_sem_destroy(&t->ready);
    return t->loop_close_rv;
}
