/* Tests of rpc/grpc's transport: a real server and real clients on one loop
 * over 127.0.0.1: unary calls, bidirectional streams, framing across DATA
 * frames, limits, deadlines, GOAWAY, refusals, malformed input, pings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "rpc/grpc/grpc.h"
#include "rpc/grpc/internal.h"

#define UNARY LC_GRPC__PATH_UNARY
#define BIDI LC_GRPC__PATH_BIDI

struct env {
    uv_loop_t loop;
    uv_timer_t tick;
    struct lc_grpc_server *srv;
    struct lc_grpc_limits limits;
    int port;
    unsigned conn_opens, conn_closes;
    unsigned stream_opens, stream_closes, stream_msgs;
    unsigned unary_calls;
    bool srv_closed;
    /* server behaviour */
    bool hold_unary; /* keep calls in held[] instead of replying */
    struct lc_grpc_call *held[64];
    unsigned nheld;
    struct lc_grpc_stream *last_stream;
    size_t last_msg_len;
    bool end_on_msg;
};

/* ------------------------------------------------------------- server cbs */

static void s_conn_open(struct lc_grpc_conn *c, void *data)
{
    struct env *env = data;
    assert_string_equal(lc_grpc_conn_remote_ip(c), "127.0.0.1");
    assert_int_equal(lc_grpc_conn_local_port(c), env->port);
    assert_true(lc_grpc_conn_remote_port(c) > 0);
    assert_null(lc_grpc_conn_data(c));
    lc_grpc_conn_set_data(c, env);
    env->conn_opens++;
}

static void s_conn_close(struct lc_grpc_conn *c, void *data)
{
    struct env *env = data;
    assert_ptr_equal(lc_grpc_conn_data(c), env);
    env->conn_closes++;
}

static void s_unary(struct lc_grpc_call *call, const uint8_t *msg, size_t len,
                    void *data)
{
    struct env *env = data;
    env->unary_calls++;
    env->last_msg_len = len;
    assert_non_null(lc_grpc_call_conn(call));
    if (env->hold_unary) {
        assert_true(env->nheld < 64);
        env->held[env->nheld++] = call;
        return;
    }
    if (len >= 4 && memcmp(msg, "fail", 4) == 0) {
        lc_grpc_call_fail(call, LC_GRPC_INVALID_ARGUMENT, "bad: 100% é");
        return;
    }
    lc_grpc_call_reply(call, msg, len);
}

static void s_stream_open(struct lc_grpc_stream *s, void *data)
{
    struct env *env = data;
    env->stream_opens++;
    env->last_stream = s;
    assert_non_null(lc_grpc_stream_conn(s));
}

static void s_stream_msg(struct lc_grpc_stream *s, const uint8_t *msg,
                         size_t len, void *data)
{
    struct env *env = data;
    env->stream_msgs++;
    env->last_msg_len = len;
    assert_int_equal(lc_grpc_stream_send(s, msg, len), 0);
    assert_int_equal(lc_grpc_stream_send(s, msg, len), 0);
    if (env->end_on_msg) {
        lc_grpc_stream_end(s, LC_GRPC_UNAVAILABLE, "ended");
        assert_int_equal(lc_grpc_stream_send(s, msg, len), LC_ECONN);
    }
}

static void s_stream_close(struct lc_grpc_stream *s, void *data)
{
    struct env *env = data;
    env->stream_closes++;
    if (env->last_stream == s) {
        env->last_stream = NULL;
    }
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void env_listen(struct env *env)
{
    struct lc_grpc_server_cbs cbs = {
        .data = env,
        .conn_open = s_conn_open,
        .conn_close = s_conn_close,
        .unary = s_unary,
        .stream_open = s_stream_open,
        .stream_msg = s_stream_msg,
        .stream_close = s_stream_close,
    };
    env->srv = lc_grpc_server_new(&env->loop, &env->limits, &cbs);
    assert_non_null(env->srv);
    assert_int_equal(lc_grpc_server_listen(env->srv, "127.0.0.1", 0), 0);
    env->port = lc_grpc_server_port(env->srv);
    assert_true(env->port > 0);
}

static int setup(void **state)
{
    struct env *env = calloc(1, sizeof *env);
    assert_int_equal(uv_loop_init(&env->loop), 0);
    uv_timer_init(&env->loop, &env->tick);
    uv_timer_start(&env->tick, on_tick, 5, 5);
    uv_unref((uv_handle_t *)&env->tick);
    lc_grpc_limits_default(&env->limits);
    *state = env;
    return 0;
}

/* Run the loop until *@flag (a bool or unsigned counter reaching @want) or
 * 5 s pass. */
#define RUN_UNTIL(env, cond)                                                   \
    do {                                                                       \
        uint64_t t0_ = uv_now(&(env)->loop);                                   \
        while (!(cond)) {                                                      \
            uv_ref((uv_handle_t *)&(env)->tick);                               \
            uv_run(&(env)->loop, UV_RUN_ONCE);                                 \
            uv_unref((uv_handle_t *)&(env)->tick);                             \
            if (uv_now(&(env)->loop) - t0_ > 5000) {                           \
                fail_msg("timed out waiting for %s", #cond);                   \
            }                                                                  \
        }                                                                      \
    } while (0)

static void on_srv_closed(struct lc_grpc_server *srv, void *data)
{
    struct env *env = data;
    (void)srv;
    env->srv_closed = true;
}

static void env_close_server(struct env *env)
{
    if (env->srv != NULL) {
        lc_grpc_server_close(env->srv, on_srv_closed, env);
        RUN_UNTIL(env, env->srv_closed);
        env->srv = NULL;
    }
}

static int teardown(void **state)
{
    struct env *env = *state;
    env_close_server(env);
    uv_close((uv_handle_t *)&env->tick, NULL);
    uv_run(&env->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&env->loop), 0);
    free(env);
    return 0;
}

/* ----------------------------------------------------------------- client */

struct cli {
    struct env *env;
    struct lc_grpc_client *cl;
    int connected; /* -1 until */
    bool closed;
};

static void c_connected(struct lc_grpc_client *cl, int status, void *data)
{
    struct cli *c = data;
    (void)cl;
    c->connected = status;
}

static void c_closed(struct lc_grpc_client *cl, void *data)
{
    struct cli *c = data;
    (void)cl;
    c->closed = true;
}

static void cli_open(struct env *env, struct cli *c)
{
    struct lc_grpc_client_cbs cbs = {
        .data = c, .connected = c_connected, .closed = c_closed};
    memset(c, 0, sizeof *c);
    c->env = env;
    c->connected = -1;
    assert_int_equal(
        lc_grpc_client_new(&env->loop, "127.0.0.1", env->port, 0, &cbs, &c->cl),
        0);
    RUN_UNTIL(env, c->connected != -1);
    assert_int_equal(c->connected, 0);
    assert_true(lc_grpc_client_local_port(c->cl) > 0);
}

static void cli_close(struct cli *c)
{
    if (!c->closed) {
        lc_grpc_client_close(c->cl);
        RUN_UNTIL(c->env, c->closed);
    }
}

struct ucall {
    struct lc_grpc_ccall call;
    bool done;
    int status;
    int grpc_status;
    char message[128];
    uint8_t *reply;
    size_t len;
};

static void u_done(struct lc_grpc_ccall *call, int status, int grpc_status,
                   const char *message, const uint8_t *msg, size_t len)
{
    struct ucall *u = (struct ucall *)call;
    assert_false(u->done);
    u->done = true;
    u->status = status;
    u->grpc_status = grpc_status;
    snprintf(u->message, sizeof u->message, "%s", message ? message : "");
    u->len = len;
    if (msg != NULL) {
        u->reply = malloc(len + 1);
        memcpy(u->reply, msg, len);
    }
}

static void u_start(struct cli *c, struct ucall *u, const char *path,
                    const void *msg, size_t len, unsigned timeout_ms)
{
    memset(u, 0, sizeof *u);
    assert_int_equal(lc_grpc_client_unary(c->cl, &u->call, path, msg, len,
                                          timeout_ms, u_done),
                     0);
}

static void u_free(struct ucall *u)
{
    free(u->reply);
    u->reply = NULL;
}

/* ------------------------------------------------------------------ tests */

static void test_unary_echo(void **state)
{
    struct env *env = *state;
    struct cli c;
    struct ucall u;
    env_listen(env);
    cli_open(env, &c);
    RUN_UNTIL(env, env->conn_opens == 1);
    assert_int_equal(lc_grpc_server_conn_count(env->srv), 1);

    u_start(&c, &u, UNARY, "hello", 5, 0);
    RUN_UNTIL(env, u.done);
    assert_int_equal(u.status, 0);
    assert_int_equal(u.grpc_status, 0);
    assert_int_equal(u.len, 5);
    assert_memory_equal(u.reply, "hello", 5);
    u_free(&u);

    /* An empty message. */
    u_start(&c, &u, UNARY, NULL, 0, 1000);
    RUN_UNTIL(env, u.done);
    assert_int_equal(u.status, 0);
    assert_int_equal(u.grpc_status, 0);
    assert_int_equal(u.len, 0);
    u_free(&u);

    /* A failure, its message percent-encoded and decoded. */
    u_start(&c, &u, UNARY, "fail", 4, 0);
    RUN_UNTIL(env, u.done);
    assert_int_equal(u.status, 0);
    assert_int_equal(u.grpc_status, LC_GRPC_INVALID_ARGUMENT);
    assert_string_equal(u.message, "bad: 100% é");
    u_free(&u);

    /* An unknown path. */
    u_start(&c, &u, "/Nope/nope", "x", 1, 0);
    RUN_UNTIL(env, u.done);
    assert_int_equal(u.status, 0);
    assert_int_equal(u.grpc_status, LC_GRPC_UNIMPLEMENTED);
    assert_string_equal(u.message, "Method not found: /Nope/nope");
    u_free(&u);

    cli_close(&c);
    RUN_UNTIL(env, env->conn_closes == 1);
    assert_int_equal(lc_grpc_server_conn_count(env->srv), 0);
}

static unsigned count_done(const struct ucall *u, unsigned n)
{
    unsigned i, done = 0;
    for (i = 0; i < n; i++) {
        done += u[i].done;
    }
    return done;
}

static void test_unary_concurrent(void **state)
{
    struct env *env = *state;
    struct cli c;
    static struct ucall u[500];
    char buf[500][16];
    unsigned i;
    env_listen(env);
    cli_open(env, &c);
    for (i = 0; i < 500; i++) {
        snprintf(buf[i], sizeof buf[i], "m%u", i);
        u_start(&c, &u[i], UNARY, buf[i], strlen(buf[i]), 0);
    }
    RUN_UNTIL(env, count_done(u, 500) == 500);
    for (i = 0; i < 500; i++) {
        assert_int_equal(u[i].status, 0);
        assert_int_equal(u[i].grpc_status, 0);
        assert_int_equal(u[i].len, strlen(buf[i]));
        assert_memory_equal(u[i].reply, buf[i], u[i].len);
        u_free(&u[i]);
    }
    assert_int_equal(env->unary_calls, 500);
    assert_int_equal(env->conn_opens, 1);
    cli_close(&c);
}

struct bidi {
    struct lc_grpc_cstream *s;
    unsigned msgs;
    size_t bytes;
    bool closed;
    int status, grpc_status;
    char message[64];
};

static void b_msg(struct lc_grpc_cstream *s, const uint8_t *msg, size_t len,
                  void *data)
{
    struct bidi *b = data;
    (void)s;
    (void)msg;
    b->msgs++;
    b->bytes += len;
}

static void b_closed(struct lc_grpc_cstream *s, int status, int grpc_status,
                     const char *message, void *data)
{
    struct bidi *b = data;
    (void)s;
    assert_false(b->closed);
    b->closed = true;
    b->status = status;
    b->grpc_status = grpc_status;
    snprintf(b->message, sizeof b->message, "%s", message ? message : "");
}

static void b_open(struct cli *c, struct bidi *b)
{
    struct lc_grpc_cstream_cbs cbs = {
        .data = b, .msg = b_msg, .closed = b_closed};
    memset(b, 0, sizeof *b);
    assert_int_equal(lc_grpc_client_stream(c->cl, BIDI, &cbs, &b->s), 0);
}

static void test_bidi(void **state)
{
    struct env *env = *state;
    struct cli c;
    struct bidi b;
    env_listen(env);
    cli_open(env, &c);
    b_open(&c, &b);
    assert_int_equal(lc_grpc_cstream_send(b.s, (const uint8_t *)"a", 1), 0);
    assert_int_equal(lc_grpc_cstream_send(b.s, (const uint8_t *)"bb", 2), 0);
    assert_int_equal(lc_grpc_cstream_send(b.s, (const uint8_t *)"ccc", 3), 0);
    RUN_UNTIL(env, b.msgs == 6);
    assert_int_equal(b.bytes, 12);
    assert_int_equal(env->stream_opens, 1);
    assert_int_equal(env->stream_msgs, 3);

    /* Server to client on its own. */
    assert_non_null(env->last_stream);
    assert_int_equal(
        lc_grpc_stream_send(env->last_stream, (const uint8_t *)"push", 4), 0);
    RUN_UNTIL(env, b.msgs == 7);

    /* Our half-close ends it with OK. */
    lc_grpc_cstream_end(b.s);
    RUN_UNTIL(env, b.closed);
    assert_int_equal(b.status, 0);
    assert_int_equal(b.grpc_status, 0);
    RUN_UNTIL(env, env->stream_closes == 1);

    /* The server ends one. */
    env->end_on_msg = true;
    b_open(&c, &b);
    assert_int_equal(lc_grpc_cstream_send(b.s, (const uint8_t *)"x", 1), 0);
    RUN_UNTIL(env, b.closed);
    assert_int_equal(b.msgs, 2);
    assert_int_equal(b.grpc_status, LC_GRPC_UNAVAILABLE);
    assert_string_equal(b.message, "ended");
    RUN_UNTIL(env, env->stream_closes == 2);
    cli_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unary_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unary_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bidi, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
