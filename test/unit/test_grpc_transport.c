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
    if (len < 1024 * 1024) { /* a large second one would be LC_EBUSY */
        assert_int_equal(lc_grpc_stream_send(s, msg, len), 0);
    }
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

static void flag_cb(struct lc_grpc_server *srv, void *data)
{
    (void)srv;
    *(bool *)data = true;
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

static void cli_open_max(struct env *env, struct cli *c, size_t max_inbound)
{
    struct lc_grpc_client_cbs cbs = {
        .data = c, .connected = c_connected, .closed = c_closed};
    memset(c, 0, sizeof *c);
    c->env = env;
    c->connected = -1;
    assert_int_equal(lc_grpc_client_new(&env->loop, "127.0.0.1", env->port,
                                        max_inbound, &cbs, &c->cl),
                     0);
    RUN_UNTIL(env, c->connected != -1);
    assert_int_equal(c->connected, 0);
    assert_true(lc_grpc_client_local_port(c->cl) > 0);
}

static void cli_open(struct env *env, struct cli *c)
{
    cli_open_max(env, c, 0);
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

/* ------------------------------------------------------------ raw client
 *
 * A plain TCP socket that sends hand-built HTTP/2 and decodes what comes
 * back (frame headers, HPACK through nghttp2's inflater). */

struct raw {
    struct env *env;
    uv_tcp_t tcp;
    uv_connect_t req;
    bool connected;
    bool eof;
    bool handle_closed;
    uint8_t *in;
    size_t in_len;
    /* parsed */
    int grpc_status;  /* the last seen, -1 none */
    unsigned nstatus; /* how many seen */
    unsigned waited;  /* how many raw_wait_status has returned */
    char grpc_message[128];
    int http_status;
    size_t data_bytes; /* DATA payload bytes on any stream */
    uint8_t data[256]; /* the first of them */
    bool goaway;
    uint32_t goaway_code;
    char goaway_debug[64];
    unsigned ping_acks;
    unsigned rsts;
    unsigned settings;
};

static void raw_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(suggested);
    buf->len = suggested;
}

static void raw_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct raw *r = s->data;
    if (nread < 0) {
        r->eof = true;
    } else if (nread > 0) {
        r->in = realloc(r->in, r->in_len + (size_t)nread);
        memcpy(r->in + r->in_len, buf->base, (size_t)nread);
        r->in_len += (size_t)nread;
    }
    free(buf->base);
}

static void raw_connected(uv_connect_t *req, int status)
{
    struct raw *r = req->data;
    assert_int_equal(status, 0);
    r->connected = true;
    uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read);
}

static void raw_open(struct env *env, struct raw *r)
{
    struct sockaddr_in a;
    memset(r, 0, sizeof *r);
    r->env = env;
    r->grpc_status = -1;
    uv_ip4_addr("127.0.0.1", env->port, &a);
    uv_tcp_init(&env->loop, &r->tcp);
    r->tcp.data = r;
    r->req.data = r;
    assert_int_equal(
        uv_tcp_connect(&r->req, &r->tcp, (struct sockaddr *)&a, raw_connected),
        0);
    RUN_UNTIL(env, r->connected);
}

static void raw_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void raw_send(struct raw *r, const void *buf, size_t len)
{
    uv_write_t *w = malloc(sizeof *w + len);
    uv_buf_t b = uv_buf_init((char *)(w + 1), (unsigned)len);
    memcpy(w + 1, buf, len);
    assert_int_equal(uv_write(w, (uv_stream_t *)&r->tcp, &b, 1, raw_written),
                     0);
}

static void raw_handle_closed(uv_handle_t *h)
{
    struct raw *r = h->data;
    r->handle_closed = true;
}

static void raw_close(struct raw *r)
{
    uv_close((uv_handle_t *)&r->tcp, raw_handle_closed);
    RUN_UNTIL(r->env, r->handle_closed);
    free(r->in);
    r->in = NULL;
}

/* Append a frame to @out at *@len. */
static void frame(uint8_t *out, size_t *len, uint8_t type, uint8_t flags,
                  uint32_t sid, const void *payload, size_t plen)
{
    uint8_t *p = out + *len;
    p[0] = (uint8_t)(plen >> 16);
    p[1] = (uint8_t)(plen >> 8);
    p[2] = (uint8_t)plen;
    p[3] = type;
    p[4] = flags;
    p[5] = (uint8_t)(sid >> 24);
    p[6] = (uint8_t)(sid >> 16);
    p[7] = (uint8_t)(sid >> 8);
    p[8] = (uint8_t)sid;
    if (plen > 0) {
        memcpy(p + 9, payload, plen);
    }
    *len += 9 + plen;
}

static const char PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/* Preface and an empty SETTINGS. */
static size_t preface(uint8_t *out)
{
    size_t len = 24;
    memcpy(out, PREFACE, 24);
    frame(out, &len, 4, 0, 0, NULL, 0);
    return len;
}

/* A HPACK block of literal fields (never indexed, no Huffman): @kv is
 * name, value, ..., NULL. */
static size_t hpack(uint8_t *out, const char *const *kv)
{
    size_t n = 0;
    for (; kv[0] != NULL; kv += 2) {
        size_t nl = strlen(kv[0]), vl = strlen(kv[1]);
        out[n++] = 0x10;
        out[n++] = (uint8_t)nl;
        memcpy(out + n, kv[0], nl);
        n += nl;
        out[n++] = (uint8_t)vl;
        memcpy(out + n, kv[1], vl);
        n += vl;
    }
    return n;
}

/* A request HEADERS frame on @sid for @path, with grpc-timeout @timeout
 * (or none). */
static void req_headers(uint8_t *out, size_t *len, uint32_t sid,
                        const char *path, const char *timeout, uint8_t flags)
{
    const char *kv[] = {":method",
                        "POST",
                        ":scheme",
                        "http",
                        ":path",
                        path,
                        ":authority",
                        "localhost",
                        "content-type",
                        "application/grpc",
                        "te",
                        "trailers",
                        timeout ? "grpc-timeout" : NULL,
                        timeout,
                        NULL};
    uint8_t block[512];
    size_t n = hpack(block, kv);
    frame(out, len, 1, 0x4 | flags, sid, block, n);
}

/* A gRPC message (prefix with @flag, then @msg) into @out; its length. */
static size_t grpc_msg(uint8_t *out, uint8_t flag, const void *msg, size_t len)
{
    out[0] = flag;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
    memcpy(out + 5, msg, len);
    return 5 + len;
}

static void raw_parse(struct raw *r)
{
    nghttp2_hd_inflater *inf;
    size_t off = 0;
    assert_int_equal(nghttp2_hd_inflate_new(&inf), 0);
    r->data_bytes = 0;
    r->ping_acks = 0;
    r->rsts = 0;
    r->settings = 0;
    r->nstatus = 0;
    while (off + 9 <= r->in_len) {
        const uint8_t *p = r->in + off;
        size_t plen = (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
        uint8_t type = p[3], flags = p[4];
        const uint8_t *pl = p + 9;
        if (off + 9 + plen > r->in_len) {
            break;
        }
        off += 9 + plen;
        switch (type) {
            case 0: /* DATA */
                if (r->data_bytes + plen <= sizeof r->data) {
                    memcpy(r->data + r->data_bytes, pl, plen);
                }
                r->data_bytes += plen;
                break;
            case 1: {                              /* HEADERS */
                assert_int_equal(flags & 0x28, 0); /* no PADDED/PRIORITY */
                while (plen > 0) {
                    nghttp2_nv nv;
                    int fl = 0;
                    ssize_t rv =
                        nghttp2_hd_inflate_hd2(inf, &nv, &fl, pl, plen, 1);
                    if (rv < 0) {
                        fail_msg("inflate: %s", nghttp2_strerror((int)rv));
                    }
                    pl += rv;
                    plen -= (size_t)rv;
                    if (fl & NGHTTP2_HD_INFLATE_EMIT) {
                        char v[128];
                        snprintf(v, sizeof v, "%.*s", (int)nv.valuelen,
                                 nv.value);
                        if (nv.namelen == 11 &&
                            memcmp(nv.name, "grpc-status", 11) == 0) {
                            r->grpc_status = atoi(v);
                            r->nstatus++;
                        } else if (nv.namelen == 12 &&
                                   memcmp(nv.name, "grpc-message", 12) == 0) {
                            snprintf(r->grpc_message, sizeof r->grpc_message,
                                     "%s", v);
                        } else if (nv.namelen == 7 &&
                                   memcmp(nv.name, ":status", 7) == 0) {
                            r->http_status = atoi(v);
                        }
                    }
                    if (fl & NGHTTP2_HD_INFLATE_FINAL) {
                        nghttp2_hd_inflate_end_headers(inf);
                        break;
                    }
                    if (rv == 0 && !(fl & NGHTTP2_HD_INFLATE_EMIT)) {
                        break;
                    }
                }
                break;
            }
            case 3:
                r->rsts++;
                break;
            case 4:
                r->settings++;
                break;
            case 6:
                r->ping_acks += (flags & 1) != 0;
                break;
            case 7:
                r->goaway = true;
                r->goaway_code = (uint32_t)pl[4] << 24 | (uint32_t)pl[5] << 16 |
                                 (uint32_t)pl[6] << 8 | pl[7];
                snprintf(r->goaway_debug, sizeof r->goaway_debug, "%.*s",
                         (int)(plen - 8), (const char *)pl + 8);
                break;
            default:
                break;
        }
    }
    nghttp2_hd_inflate_del(inf);
}

/* Run until the server closed the socket, then parse. */
static void raw_wait_eof(struct raw *r)
{
    RUN_UNTIL(r->env, r->eof);
    raw_parse(r);
}

/* Run until one more grpc-status arrived. */
static void raw_wait_status(struct raw *r)
{
    RUN_UNTIL(r->env, (raw_parse(r), r->nstatus > r->waited));
    r->waited = r->nstatus;
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

    /* Our client closes with a stream open. */
    env->end_on_msg = false;
    b_open(&c, &b);
    assert_int_equal(lc_grpc_cstream_send(b.s, (const uint8_t *)"y", 1), 0);
    RUN_UNTIL(env, b.msgs == 2);
    cli_close(&c);
    assert_true(b.closed);
    assert_int_equal(b.status, LC_ECANCELED);
    assert_int_equal(b.grpc_status, -1);
    RUN_UNTIL(env, env->stream_closes == 3);
    RUN_UNTIL(env, env->conn_closes == 1);
}

/* A message whose prefix and bytes are spread over one-byte DATA frames,
 * then a unary call without a message and one with two. */
static void test_split_frames(void **state)
{
    struct env *env = *state;
    struct raw r;
    uint8_t out[4096], msg[64];
    size_t len, mlen, i;
    env_listen(env);
    raw_open(env, &r);
    len = preface(out);
    req_headers(out, &len, 1, UNARY, NULL, 0);
    mlen = grpc_msg(msg, 0, "hello world", 11);
    for (i = 0; i < mlen; i++) {
        frame(out, &len, 0, i + 1 == mlen ? 1 : 0, 1, msg + i, 1);
    }
    raw_send(&r, out, len);
    raw_wait_status(&r);
    assert_int_equal(r.grpc_status, 0);
    assert_int_equal(r.http_status, 200);
    assert_int_equal(r.data_bytes, 16);
    assert_memory_equal(r.data, msg, 16);
    assert_int_equal(env->last_msg_len, 11);

    /* No message: END_STREAM on the HEADERS. */
    len = 0;
    req_headers(out, &len, 3, UNARY, NULL, 1);
    raw_send(&r, out, len);
    raw_wait_status(&r);
    assert_int_equal(r.grpc_status, LC_GRPC_INTERNAL);

    /* Two messages. */
    len = 0;
    req_headers(out, &len, 5, UNARY, NULL, 0);
    mlen = grpc_msg(msg, 0, "a", 1);
    mlen += grpc_msg(msg + mlen, 0, "b", 1);
    frame(out, &len, 0, 1, 5, msg, mlen);
    raw_send(&r, out, len);
    raw_wait_status(&r);
    assert_int_equal(r.grpc_status, LC_GRPC_INTERNAL);

    /* A second message's first bytes in a frame of their own. */
    len = 0;
    req_headers(out, &len, 11, UNARY, NULL, 0);
    mlen = grpc_msg(msg, 0, "a", 1);
    frame(out, &len, 0, 0, 11, msg, mlen);
    frame(out, &len, 0, 0, 11, "\0\0", 2);
    raw_send(&r, out, len);
    raw_wait_status(&r);
    assert_int_equal(r.grpc_status, LC_GRPC_INTERNAL);

    /* A compressed one, the stream still open: 12 and a reset. */
    len = 0;
    req_headers(out, &len, 13, UNARY, NULL, 0);
    mlen = grpc_msg(msg, 1, "zz", 2);
    frame(out, &len, 0, 0, 13, msg, mlen);
    raw_send(&r, out, len);
    raw_wait_status(&r);
    assert_int_equal(r.grpc_status, LC_GRPC_UNIMPLEMENTED);
    RUN_UNTIL(env, (raw_parse(&r), r.rsts == 2));
    assert_int_equal(env->unary_calls, 1);

    /* Unknown path, trailers-only. */
    len = 0;
    req_headers(out, &len, 15, "/x/y", NULL, 1);
    raw_send(&r, out, len);
    raw_wait_status(&r);
    assert_int_equal(r.grpc_status, LC_GRPC_UNIMPLEMENTED);
    assert_int_equal(r.http_status, 200);
    assert_string_equal(r.grpc_message, "Method not found: /x/y");
    assert_int_equal(r.data_bytes, 16);
    raw_close(&r);
    RUN_UNTIL(env, env->conn_closes == 1);
}

/* The preface a byte at a time, then a call works. */
static void test_slow_preface(void **state)
{
    struct env *env = *state;
    struct raw r;
    uint8_t out[1024], msg[16];
    size_t len, i, mlen;
    env_listen(env);
    raw_open(env, &r);
    len = preface(out);
    for (i = 0; i < len; i++) {
        raw_send(&r, out + i, 1);
        uv_run(&env->loop, UV_RUN_NOWAIT);
    }
    len = 0;
    req_headers(out, &len, 1, UNARY, NULL, 0);
    mlen = grpc_msg(msg, 0, "abc", 3);
    frame(out, &len, 0, 1, 1, msg, mlen);
    raw_send(&r, out, len);
    raw_wait_status(&r);
    assert_int_equal(r.grpc_status, 0);
    assert_false(r.eof);
    raw_close(&r);
}

static void test_garbage(void **state)
{
    struct env *env = *state;
    struct raw r;
    uint8_t out[1024];
    size_t len;
    static const char http1[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    env_listen(env);

    /* HTTP/1.1 */
    raw_open(env, &r);
    raw_send(&r, http1, sizeof http1 - 1);
    raw_wait_eof(&r);
    raw_close(&r);

    /* Random bytes after a valid preface. */
    raw_open(env, &r);
    len = preface(out);
    memset(out + len, 0xA5, 200);
    raw_send(&r, out, len + 200);
    raw_wait_eof(&r);
    assert_true(r.goaway);
    raw_close(&r);

    /* DATA on stream 0: a connection error. */
    raw_open(env, &r);
    len = preface(out);
    frame(out, &len, 0, 0, 0, "xxxx", 4);
    raw_send(&r, out, len);
    raw_wait_eof(&r);
    assert_true(r.goaway);
    assert_int_equal(r.goaway_code, NGHTTP2_PROTOCOL_ERROR);
    raw_close(&r);

    /* A HEADERS block that does not decode. */
    raw_open(env, &r);
    len = preface(out);
    frame(out, &len, 1, 0x5, 1, "\xff\xff\xff\xff\xff", 5);
    raw_send(&r, out, len);
    raw_wait_eof(&r);
    assert_true(r.goaway);
    raw_close(&r);

    /* A frame longer than SETTINGS_MAX_FRAME_SIZE. */
    raw_open(env, &r);
    len = preface(out);
    out[len++] = 0xff;
    out[len++] = 0xff;
    out[len++] = 0xff;
    memset(out + len, 0, 6);
    len += 6;
    raw_send(&r, out, len);
    raw_wait_eof(&r);
    raw_close(&r);

    /* A malformed frame from a real client's session (write_raw): the
     * session ends with its calls. */
    {
        struct cli c;
        struct ucall u;
        env->hold_unary = true;
        cli_open(env, &c);
        u_start(&c, &u, UNARY, "x", 1, 0);
        RUN_UNTIL(env, env->nheld == 1);
        len = 0;
        frame(out, &len, 0, 0, 0, "xxxx", 4);
        assert_int_equal(lc_grpc_client_write_raw(c.cl, out, len), 0);
        RUN_UNTIL(env, c.closed);
        assert_int_equal(u.status, LC_ECONN);
        assert_null(lc_grpc_call_conn(env->held[0]));
        lc_grpc_call_reply(env->held[0], NULL, 0);
        env->nheld = 0;
        env->hold_unary = false;
    }

    /* Still serving. */
    RUN_UNTIL(env, env->conn_closes == env->conn_opens);
    assert_int_equal(lc_grpc_server_conn_count(env->srv), 0);
    {
        struct cli c;
        struct ucall u;
        cli_open(env, &c);
        u_start(&c, &u, UNARY, "ok", 2, 0);
        RUN_UNTIL(env, u.done);
        assert_int_equal(u.grpc_status, 0);
        u_free(&u);
        cli_close(&c);
    }
}

static void test_pings(void **state)
{
    struct env *env = *state;
    struct raw r;
    uint8_t out[1024];
    size_t len;
    env->limits.min_ping_interval_ms = 60000;
    env_listen(env);

    /* Two pings are answered. */
    raw_open(env, &r);
    len = preface(out);
    frame(out, &len, 6, 0, 0, "12345678", 8);
    frame(out, &len, 6, 0, 0, "12345678", 8);
    raw_send(&r, out, len);
    RUN_UNTIL(env, (raw_parse(&r), r.ping_acks == 2));
    assert_false(r.goaway);

    /* Two more are strikes, the third too many. */
    len = 0;
    frame(out, &len, 6, 0, 0, "12345678", 8);
    frame(out, &len, 6, 0, 0, "12345678", 8);
    frame(out, &len, 6, 0, 0, "12345678", 8);
    raw_send(&r, out, len);
    raw_wait_eof(&r);
    assert_true(r.goaway);
    assert_int_equal(r.goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
    assert_string_equal(r.goaway_debug, "too_many_pings");
    raw_close(&r);
    RUN_UNTIL(env, env->conn_closes == 1);
}

static void test_large_messages(void **state)
{
    struct env *env = *state;
    struct cli c;
    struct ucall u;
    struct bidi b;
    size_t big = 9 * 1024 * 1024;
    uint8_t *buf = malloc(env->limits.max_inbound + 1);
    size_t i;
    for (i = 0; i < env->limits.max_inbound + 1; i++) {
        buf[i] = (uint8_t)(i * 7);
    }
    env_listen(env);
    cli_open(env, &c);

    u_start(&c, &u, UNARY, buf, big, 0);
    RUN_UNTIL(env, u.done);
    assert_int_equal(u.status, 0);
    assert_int_equal(u.grpc_status, 0);
    assert_int_equal(u.len, big);
    assert_memory_equal(u.reply, buf, big);
    u_free(&u);

    /* One byte past the limit. */
    u_start(&c, &u, UNARY, buf, env->limits.max_inbound + 1, 0);
    RUN_UNTIL(env, u.done);
    assert_int_equal(u.status, 0);
    assert_int_equal(u.grpc_status, LC_GRPC_RESOURCE_EXHAUSTED);
    u_free(&u);

    /* A bidi stream both ways (each message comes back twice). */
    b_open(&c, &b);
    assert_int_equal(lc_grpc_cstream_send(b.s, buf, big), 0);
    RUN_UNTIL(env, b.msgs == 1);
    assert_int_equal(b.bytes, big);
    lc_grpc_cstream_end(b.s);
    RUN_UNTIL(env, b.closed);
    assert_int_equal(b.grpc_status, 0);
    cli_close(&c);

    /* Replies larger than the client's own limit. */
    cli_open_max(env, &c, 1000);
    u_start(&c, &u, UNARY, buf, 1000, 0);
    RUN_UNTIL(env, u.done);
    assert_int_equal(u.grpc_status, 0);
    u_free(&u);
    u_start(&c, &u, UNARY, buf, 1001, 0);
    RUN_UNTIL(env, u.done);
    assert_int_equal(u.status, 0);
    assert_int_equal(u.grpc_status, LC_GRPC_RESOURCE_EXHAUSTED);
    u_free(&u);
    b_open(&c, &b);
    assert_int_equal(lc_grpc_cstream_send(b.s, buf, 1001), 0);
    RUN_UNTIL(env, b.closed);
    assert_int_equal(b.msgs, 0);
    assert_int_equal(b.grpc_status, LC_GRPC_RESOURCE_EXHAUSTED);
    RUN_UNTIL(env, env->stream_closes == 2);
    free(buf);
    cli_close(&c);
}

static void test_deadline(void **state)
{
    struct env *env = *state;
    struct raw r;
    struct cli c;
    struct ucall u;
    uint8_t out[1024], msg[16];
    size_t len, mlen;
    env->hold_unary = true;
    env_listen(env);

    /* The server's deadline: 4, and the late reply is dropped. */
    raw_open(env, &r);
    len = preface(out);
    req_headers(out, &len, 1, UNARY, "50m", 0);
    mlen = grpc_msg(msg, 0, "slow", 4);
    frame(out, &len, 0, 1, 1, msg, mlen);
    raw_send(&r, out, len);
    raw_wait_status(&r);
    assert_int_equal(r.grpc_status, LC_GRPC_DEADLINE_EXCEEDED);
    assert_int_equal(env->nheld, 1);
    lc_grpc_call_reply(env->held[0], (const uint8_t *)"late", 4);
    env->nheld = 0;
    raw_close(&r);

    /* The client's: LC_ETIMEDOUT; the server drops its reply. */
    cli_open(env, &c);
    u_start(&c, &u, UNARY, "slow", 4, 100);
    RUN_UNTIL(env, u.done);
    assert_int_equal(u.status, LC_ETIMEDOUT);
    RUN_UNTIL(env, env->nheld == 1);
    lc_grpc_call_reply(env->held[0], (const uint8_t *)"late", 4);
    env->nheld = 0;

    /* A reply after the session is gone. */
    u_start(&c, &u, UNARY, "held", 4, 0);
    RUN_UNTIL(env, env->nheld == 1);
    cli_close(&c);
    assert_int_equal(u.status, LC_ECANCELED);
    RUN_UNTIL(env, env->conn_closes == 2);
    assert_null(lc_grpc_call_conn(env->held[0]));
    lc_grpc_call_fail(env->held[0], LC_GRPC_INTERNAL, "gone");
    env->nheld = 0;
}

/* A call that times out while queued behind max_concurrent_streams. */
static void test_deadline_queued(void **state)
{
    struct env *env = *state;
    struct cli c;
    struct ucall a, b, d;
    env->hold_unary = true;
    env->limits.max_concurrent_streams = 1;
    env_listen(env);
    cli_open(env, &c);
    u_start(&c, &a, UNARY, "a", 1, 0);
    RUN_UNTIL(env, env->nheld == 1);
    u_start(&c, &b, UNARY, "b", 1, 50);
    RUN_UNTIL(env, b.done);
    assert_int_equal(b.status, LC_ETIMEDOUT);
    assert_int_equal(env->nheld, 1);
    env->hold_unary = false;
    lc_grpc_call_reply(env->held[0], (const uint8_t *)"A", 1);
    env->nheld = 0;
    RUN_UNTIL(env, a.done);
    assert_int_equal(a.grpc_status, 0);
    u_start(&c, &d, UNARY, "d", 1, 1000);
    RUN_UNTIL(env, d.done);
    assert_int_equal(d.status, 0);
    assert_int_equal(d.grpc_status, 0);
    assert_int_equal(env->unary_calls, 2);
    u_free(&a);
    u_free(&d);
    cli_close(&c);
}

static void test_server_close(void **state)
{
    struct env *env = *state;
    struct cli c;
    struct ucall u, late;
    struct bidi b;
    struct raw r;
    uint8_t out[256];
    size_t len;
    env->hold_unary = true;
    env->limits.grace_ms = 100;
    env_listen(env);
    cli_open(env, &c);
    b_open(&c, &b);
    assert_int_equal(lc_grpc_cstream_send(b.s, (const uint8_t *)"a", 1), 0);
    RUN_UNTIL(env, b.msgs == 2);
    u_start(&c, &u, UNARY, "held", 4, 0);
    RUN_UNTIL(env, env->nheld == 1);

    raw_open(env, &r);
    len = preface(out);
    raw_send(&r, out, len);
    RUN_UNTIL(env, env->conn_opens == 2);

    lc_grpc_server_close(env->srv, on_srv_closed, env);
    assert_int_equal(env->conn_closes, 0); /* not from inside the call */
    /* GOAWAY(NO_ERROR) at once; an idle session closes after it. */
    raw_wait_eof(&r);
    assert_true(r.goaway);
    assert_int_equal(r.goaway_code, NGHTTP2_NO_ERROR);
    raw_close(&r);
    RUN_UNTIL(env, env->conn_closes == 1);
    /* The busy one waits for the held call, then the grace period. */
    assert_false(u.done);
    assert_false(c.closed);
    assert_int_equal(lc_grpc_client_unary(c.cl, &late.call, UNARY,
                                          (const uint8_t *)"x", 1, 0, u_done),
                     LC_ECONN);
    RUN_UNTIL(env, env->srv_closed);
    env->srv = NULL;
    assert_true(u.done);
    assert_int_equal(u.grpc_status, LC_GRPC_UNAVAILABLE);
    RUN_UNTIL(env, c.closed);
    assert_true(b.closed);
    assert_int_equal(env->stream_closes, 1);
    assert_int_equal(env->conn_closes, 2);
    assert_null(lc_grpc_call_conn(env->held[0]));
    lc_grpc_call_reply(env->held[0], NULL, 0);
    env->nheld = 0;
}

static void test_conn_close(void **state)
{
    struct env *env = *state;
    struct cli c;
    struct bidi b;
    struct lc_grpc_conn *conn;
    env_listen(env);
    cli_open(env, &c);
    b_open(&c, &b);
    assert_int_equal(lc_grpc_cstream_send(b.s, (const uint8_t *)"a", 1), 0);
    RUN_UNTIL(env, b.msgs == 2);
    conn = lc_grpc_stream_conn(env->last_stream);
    lc_grpc_conn_close(conn);
    assert_int_equal(env->stream_closes, 0);
    assert_int_equal(env->conn_closes, 0);
    RUN_UNTIL(env, c.closed);
    assert_true(b.closed);
    RUN_UNTIL(env, env->conn_closes == 1);
    assert_int_equal(env->stream_closes, 1);
}

static void test_max_connections(void **state)
{
    struct env *env = *state;
    struct cli c[3];
    struct lc_grpc_client_cbs cbs;
    env->limits.max_connections = 2;
    env_listen(env);
    cli_open(env, &c[0]);
    cli_open(env, &c[1]);
    RUN_UNTIL(env, env->conn_opens == 2);
    memset(&c[2], 0, sizeof c[2]);
    c[2].env = env;
    c[2].connected = -1;
    cbs = (struct lc_grpc_client_cbs){
        .data = &c[2], .connected = c_connected, .closed = c_closed};
    assert_int_equal(lc_grpc_client_new(&env->loop, "127.0.0.1", env->port, 0,
                                        &cbs, &c[2].cl),
                     0);
    RUN_UNTIL(env, c[2].closed);
    assert_int_equal(lc_grpc_server_refused(env->srv), 1);
    assert_int_equal(lc_grpc_server_conn_count(env->srv), 2);
    assert_int_equal(env->conn_opens, 2);
    cli_close(&c[0]);
    cli_close(&c[1]);
    RUN_UNTIL(env, lc_grpc_server_conn_count(env->srv) == 0);

    /* The port is taken. */
    {
        struct lc_grpc_server_cbs scbs = {.unary = s_unary};
        struct lc_grpc_server *other =
            lc_grpc_server_new(&env->loop, NULL, &scbs);
        bool closed = false;
        assert_int_equal(lc_grpc_server_listen(other, "127.0.0.1", env->port),
                         LC_EEXIST);
        assert_int_equal(lc_grpc_server_listen(other, "not an ip", 0),
                         LC_EINVAL);
        lc_grpc_server_close(other, flag_cb, &closed);
        RUN_UNTIL(env, closed);
    }
}

static struct lc_grpc_stream *busy_stream;
static int busy_rv;
static size_t busy_sent;

static void test_outbuf(void **state)
{
    struct env *env = *state;
    struct cli c;
    struct bidi b;
    uint8_t chunk[1024] = {0};
    struct lc_grpc_conn *conn;
    env->limits.max_conn_outbuf = 64 * 1024;
    env_listen(env);
    cli_open(env, &c);
    b_open(&c, &b);
    assert_int_equal(lc_grpc_cstream_send(b.s, (const uint8_t *)"a", 1), 0);
    RUN_UNTIL(env, b.msgs == 2);
    busy_stream = env->last_stream;
    conn = lc_grpc_stream_conn(busy_stream);
    busy_sent = 0;
    while ((busy_rv = lc_grpc_stream_send(busy_stream, chunk, sizeof chunk)) ==
           0) {
        busy_sent++;
        assert_true(busy_sent < 1000);
    }
    assert_int_equal(busy_rv, LC_EBUSY);
    assert_true(busy_sent >= 60 && busy_sent <= 64);
    assert_true(lc_grpc_conn_outbuf(conn) <= 64 * 1024);
    assert_true(lc_grpc_conn_outbuf(conn) > 60 * 1024);
    RUN_UNTIL(env, b.msgs == 2 + busy_sent);
    assert_int_equal(lc_grpc_conn_outbuf(conn), 0);
    assert_int_equal(lc_grpc_stream_send(busy_stream, chunk, sizeof chunk), 0);
    RUN_UNTIL(env, b.msgs == 3 + busy_sent);
    cli_close(&c);
}

/* Many clients on one loop, each with a call. */
static void test_many_clients(void **state)
{
    struct env *env = *state;
    enum { N = 200 };
    static struct cli c[N];
    static struct ucall u[N];
    struct lc_grpc_client_cbs cbs;
    unsigned i;
    env_listen(env);
    for (i = 0; i < N; i++) {
        memset(&c[i], 0, sizeof c[i]);
        c[i].env = env;
        c[i].connected = -1;
        cbs = (struct lc_grpc_client_cbs){
            .data = &c[i], .connected = c_connected, .closed = c_closed};
        assert_int_equal(lc_grpc_client_new(&env->loop, "127.0.0.1", env->port,
                                            0, &cbs, &c[i].cl),
                         0);
        /* Submitted before the connection is up. */
        u_start(&c[i], &u[i], UNARY, "hi", 2, 2000);
    }
    RUN_UNTIL(env, count_done(u, N) == N);
    for (i = 0; i < N; i++) {
        assert_int_equal(u[i].status, 0);
        assert_int_equal(u[i].grpc_status, 0);
        u_free(&u[i]);
    }
    assert_int_equal(lc_grpc_server_conn_count(env->srv), N);
    for (i = 0; i < N; i++) {
        lc_grpc_client_close(c[i].cl);
    }
    RUN_UNTIL(env, env->conn_closes == N);
    for (i = 0; i < N; i++) {
        assert_true(c[i].closed);
    }
}

/* Refused: nothing listens. */
static void test_connect_refused(void **state)
{
    struct env *env = *state;
    struct cli c;
    struct ucall u;
    struct lc_grpc_client_cbs cbs = {
        .data = &c, .connected = c_connected, .closed = c_closed};
    env_listen(env);
    env->port = lc_grpc_server_port(env->srv);
    env_close_server(env);
    memset(&c, 0, sizeof c);
    c.env = env;
    c.connected = -1;
    assert_int_equal(
        lc_grpc_client_new(&env->loop, "127.0.0.1", env->port, 0, &cbs, &c.cl),
        0);
    u_start(&c, &u, UNARY, "x", 1, 0);
    RUN_UNTIL(env, c.closed);
    assert_int_equal(c.connected, LC_ECONN);
    assert_true(u.done);
    assert_int_equal(u.status, LC_ECONN);
    assert_int_equal(
        lc_grpc_client_new(&env->loop, "nohost", 1, 0, &cbs, &c.cl), LC_EINVAL);
}

static void test_headers(void **state)
{
    uint64_t ms;
    char out[16], *e, *d;
    (void)state;
    assert_int_equal(lc_grpc__timeout_parse((const uint8_t *)"10m", 3, &ms), 0);
    assert_int_equal(ms, 10);
    assert_int_equal(lc_grpc__timeout_parse((const uint8_t *)"2S", 2, &ms), 0);
    assert_int_equal(ms, 2000);
    assert_int_equal(lc_grpc__timeout_parse((const uint8_t *)"1H", 2, &ms), 0);
    assert_int_equal(ms, 3600000);
    assert_int_equal(lc_grpc__timeout_parse((const uint8_t *)"3M", 2, &ms), 0);
    assert_int_equal(ms, 180000);
    assert_int_equal(lc_grpc__timeout_parse((const uint8_t *)"1500u", 5, &ms),
                     0);
    assert_int_equal(ms, 2);
    assert_int_equal(lc_grpc__timeout_parse((const uint8_t *)"1n", 2, &ms), 0);
    assert_int_equal(ms, 1);
    assert_int_equal(
        lc_grpc__timeout_parse((const uint8_t *)"123456789m", 10, &ms),
        LC_EINVAL);
    assert_int_equal(lc_grpc__timeout_parse((const uint8_t *)"m", 1, &ms),
                     LC_EINVAL);
    assert_int_equal(lc_grpc__timeout_parse((const uint8_t *)"1x", 2, &ms),
                     LC_EINVAL);
    assert_int_equal(lc_grpc__timeout_parse((const uint8_t *)"-1m", 3, &ms),
                     LC_EINVAL);
    lc_grpc__timeout_format(3000, out);
    assert_string_equal(out, "3000m");
    lc_grpc__timeout_format(100000000ull, out);
    assert_string_equal(out, "100000S");
    e = lc_grpc__pct_encode("a%b\nc é");
    assert_string_equal(e, "a%25b%0Ac %C3%A9");
    d = lc_grpc__pct_decode((const uint8_t *)e, strlen(e));
    assert_string_equal(d, "a%b\nc é");
    free(d);
    free(e);
    d = lc_grpc__pct_decode((const uint8_t *)"%4%zz%00%", 9);
    assert_string_equal(d, "%4%zz%00%");
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unary_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unary_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bidi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_preface, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conn_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbuf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
        cmocka_unit_test(test_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
