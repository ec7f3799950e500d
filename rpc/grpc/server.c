/* gRPC server: the listener, each session's lifecycle (read, pump, close),
 * deferred work, and lc_grpc_server_close's GOAWAY and grace period.
 *
 * Input is handed to nghttp2 as it is read; nghttp2's callbacks
 * (server_h2.c) run the application's callbacks. After each read and each
 * finished write the session is pumped (session.c). What the application
 * asks for from its own calls (a reply, a send, a close) only changes state
 * and marks the session dirty; the server's idle handle then pumps or
 * closes it from the loop, so no application callback ever runs inside an
 * lc_grpc_* call. A session ends when its peer closes, when a read or a
 * write fails, when nghttp2 is done with it (after a GOAWAY either way, or
 * a protocol error: nghttp2 has sent GOAWAY(PROTOCOL_ERROR) then), or when
 * its GOAWAY from lc_grpc_conn_close or the ping policy is written. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "rpc/grpc/internal.h"

#define STREAM_WINDOW (1024 * 1024)
#define CONN_WINDOW (4 * 1024 * 1024)

static void conn_teardown(struct lc_grpc_conn *c);
static void server_maybe_free(struct lc_grpc_server *srv);
static void on_idle(uv_idle_t *h);

/* A reconnect storm (every client of a restarted member at once) overflows
 * a short accept queue, and each dropped SYN costs its client a 1 s, then
 * 3 s, retransmission. The kernel caps this at net.core.somaxconn (4096 on
 * Debian 12). */
#define LISTEN_BACKLOG 4096

void lc_grpc_limits_default(struct lc_grpc_limits *limits)
{
    limits->max_inbound = LC_GRPC__DEFAULT_MAX_INBOUND;
    limits->max_connections = 10000;
    limits->max_conn_outbuf = 4 * 1024 * 1024;
    limits->max_concurrent_streams = 100;
    limits->min_ping_interval_ms = 300000;
    limits->grace_ms = 1000;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct lc_grpc_server *srv = h->data;
    srv->handles--;
    server_maybe_free(srv);
}

struct lc_grpc_server *lc_grpc_server_new(uv_loop_t *loop,
                                          const struct lc_grpc_limits *limits,
                                          const struct lc_grpc_server_cbs *cbs)
{
    struct lc_grpc_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL) {
        goto err;
    }
    srv->loop = loop;
    if (limits != NULL) {
        srv->limits = *limits;
    } else {
        lc_grpc_limits_default(&srv->limits);
    }
    srv->cbs = *cbs;
    if (lc_grpc__server_callbacks(&srv->callbacks) != 0) {
        goto err_after_alloc;
    }
    if (nghttp2_option_new(&srv->option) != 0) {
        goto err_after_callbacks;
    }
    nghttp2_option_set_max_deflate_dynamic_table_size(srv->option, 1024);
    nghttp2_option_set_no_closed_streams(srv->option, 1);
    uv_tcp_init(loop, &srv->listener);
    uv_idle_init(loop, &srv->idle);
    uv_timer_init(loop, &srv->deadlines);
    uv_timer_init(loop, &srv->grace);
    srv->listener.data = srv;
    srv->idle.data = srv;
    srv->deadlines.data = srv;
    srv->grace.data = srv;
    srv->handles = 4;
    return srv;

err_after_callbacks:
    nghttp2_session_callbacks_del(srv->callbacks);
err_after_alloc:
    free(srv);
err:
    return NULL;
}

int lc_grpc_server_port(const struct lc_grpc_server *srv)
{
    return srv->port;
}

unsigned lc_grpc_server_conn_count(const struct lc_grpc_server *srv)
{
    return srv->nconns;
}

uint64_t lc_grpc_server_refused(const struct lc_grpc_server *srv)
{
    return srv->refused;
}

/* ---------------------------------------------------------------- sessions */

void lc_grpc__conn_dirty(struct lc_grpc_conn *c)
{
    struct lc_grpc_server *srv = c->srv;
    if (c->dead || c->in_dirty) {
        return;
    }
    c->in_dirty = true;
    c->dirty_next = srv->dirty;
    srv->dirty = c;
    if (!srv->close_done && !uv_is_closing((uv_handle_t *)&srv->idle)) {
        uv_idle_start(&srv->idle, on_idle);
    }
}

static void dirty_unlink(struct lc_grpc_conn *c)
{
    struct lc_grpc_conn **p = &c->srv->dirty;
    if (!c->in_dirty) {
        return;
    }
    while (*p != NULL && *p != c) {
        p = &(*p)->dirty_next;
    }
    if (*p == c) {
        *p = c->dirty_next;
    }
    c->in_dirty = false;
}

/* Pump @c and close it when it is done. */
static void conn_after_io(struct lc_grpc_conn *c)
{
    if (c->dead) {
        return;
    }
    if (lc_grpc__io_pump(&c->io) != 0) {
        conn_teardown(c);
        return;
    }
    if (lc_grpc__io_finished(&c->io) ||
        (c->flush_close && c->io.wbytes == 0 &&
         !nghttp2_session_want_write(c->io.session))) {
        conn_teardown(c);
    }
}

static void conn_input(struct lc_grpc_conn *c, const uint8_t *data, size_t len)
{
    ssize_t rv = nghttp2_session_mem_recv(c->io.session, data, len);
    if (rv < 0) {
        lc_debugf("grpc", "session %s:%d: %s", c->ip, c->rport,
                  nghttp2_strerror((int)rv));
        (void)lc_grpc__io_pump(&c->io);
        conn_teardown(c);
        return;
    }
    conn_after_io(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct lc_grpc_conn *c = s->data;
    if (c->dead) {
        return;
    }
    if (nread < 0) {
        conn_teardown(c);
        return;
    }
    if (nread > 0) {
        conn_input(c, (const uint8_t *)buf->base, (size_t)nread);
    }
}

static void on_written(struct lc_grpc__io *io, int status)
{
    struct lc_grpc_conn *c = (struct lc_grpc_conn *)io;
    if (c->dead) {
        return;
    }
    if (status < 0) {
        conn_teardown(c);
        return;
    }
    conn_after_io(c);
}

static void on_conn_closed(uv_handle_t *h)
{
    struct lc_grpc_conn *c = h->data;
    struct lc_grpc_server *srv = c->srv;
    free(c);
    srv->nallocs--;
    server_maybe_free(srv);
}

/* Create @c's nghttp2 session and send our SETTINGS. */
static int conn_session(struct lc_grpc_conn *c)
{
    struct lc_grpc_server *srv = c->srv;
    nghttp2_settings_entry iv[3] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
         srv->limits.max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 16384},
    };
    if (nghttp2_session_server_new2(&c->io.session, srv->callbacks, c,
                                    srv->option) != 0) {
        return LC_ENOMEM;
    }
    if (nghttp2_submit_settings(c->io.session, NGHTTP2_FLAG_NONE, iv, 3) != 0 ||
        nghttp2_session_set_local_window_size(c->io.session, NGHTTP2_FLAG_NONE,
                                              0, CONN_WINDOW) != 0) {
        nghttp2_session_del(c->io.session);
        c->io.session = NULL;
        return LC_ENOMEM;
    }
    return 0;
}

static void conn_link(struct lc_grpc_conn *c)
{
    struct lc_grpc_server *srv = c->srv;
    c->next = srv->conns;
    if (srv->conns != NULL) {
        srv->conns->prev = c;
    }
    srv->conns = c;
    srv->nconns++;
    c->counted = true;
}

static void conn_unlink(struct lc_grpc_conn *c)
{
    struct lc_grpc_server *srv = c->srv;
    if (!c->counted) {
        return;
    }
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        srv->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    srv->nconns--;
    c->counted = false;
}

static void addr_of(const struct sockaddr_storage *ss, char *ip, size_t size,
                    int *port)
{
    ip[0] = 0;
    *port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        uv_ip4_name(a, ip, size);
        *port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        uv_ip6_name(a, ip, size);
        *port = ntohs(a->sin6_port);
    }
}

/* Close a connection that never became a session. */
static void conn_refuse(struct lc_grpc_conn *c)
{
    c->dead = true;
    uv_close((uv_handle_t *)&c->io.tcp, on_conn_closed);
}

static void on_connection(uv_stream_t *l, int status)
{
    struct lc_grpc_server *srv = l->data;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    struct lc_grpc_conn *c;
    if (status < 0) {
        return;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        return;
    }
    c->srv = srv;
    uv_tcp_init(srv->loop, &c->io.tcp);
    c->io.tcp.data = c;
    c->io.written = on_written;
    srv->nallocs++;
    if (uv_accept(l, (uv_stream_t *)&c->io.tcp) != 0) {
        conn_refuse(c);
        return;
    }
    if (srv->closing || srv->nconns >= srv->limits.max_connections) {
        srv->refused++;
        conn_refuse(c);
        return;
    }
    if (uv_tcp_getpeername(&c->io.tcp, (struct sockaddr *)&ss, &len) == 0) {
        addr_of(&ss, c->ip, sizeof c->ip, &c->rport);
    }
    len = sizeof ss;
    if (uv_tcp_getsockname(&c->io.tcp, (struct sockaddr *)&ss, &len) == 0) {
        char ip[48];
        addr_of(&ss, ip, sizeof ip, &c->lport);
    }
    if (conn_session(c) != 0) {
        conn_refuse(c);
        return;
    }
    uv_tcp_nodelay(&c->io.tcp, 1);
    conn_link(c);
    if (uv_read_start((uv_stream_t *)&c->io.tcp, lc_grpc__alloc_cb, on_read) !=
        0) {
        conn_unlink(c);
        nghttp2_session_del(c->io.session);
        conn_refuse(c);
        return;
    }
    if (srv->cbs.conn_open != NULL) {
        srv->cbs.conn_open(c, srv->cbs.data);
    }
    conn_after_io(c);
}

/* End @c: its streams' stream_close, then conn_close, then the socket. */
static void conn_teardown(struct lc_grpc_conn *c)
{
    struct lc_grpc_server *srv = c->srv;
    if (c->dead) {
        return;
    }
    c->dead = true;
    dirty_unlink(c);
    lc_grpc__conn_streams_gone(c);
    conn_unlink(c);
    if (srv->cbs.conn_close != NULL) {
        srv->cbs.conn_close(c, srv->cbs.data);
    }
    nghttp2_session_del(c->io.session);
    c->io.session = NULL;
    if (c->io.sink) {
        free(c);
        srv->nallocs--;
        server_maybe_free(srv);
        return;
    }
    uv_close((uv_handle_t *)&c->io.tcp, on_conn_closed);
}

static void conn_process(struct lc_grpc_conn *c)
{
    if (c->close_req && !c->flush_close) {
        nghttp2_submit_goaway(
            c->io.session, NGHTTP2_FLAG_NONE,
            nghttp2_session_get_last_proc_stream_id(c->io.session),
            NGHTTP2_NO_ERROR, NULL, 0);
        c->flush_close = true;
    }
    conn_after_io(c);
}

const char *lc_grpc_conn_remote_ip(const struct lc_grpc_conn *c)
{
    return c->ip;
}

int lc_grpc_conn_remote_port(const struct lc_grpc_conn *c)
{
    return c->rport;
}

int lc_grpc_conn_local_port(const struct lc_grpc_conn *c)
{
    return c->lport;
}

void lc_grpc_conn_set_data(struct lc_grpc_conn *c, void *data)
{
    c->data = data;
}

void *lc_grpc_conn_data(const struct lc_grpc_conn *c)
{
    return c->data;
}

size_t lc_grpc_conn_outbuf(const struct lc_grpc_conn *c)
{
    return c->queued + c->io.wbytes;
}

void lc_grpc_conn_close(struct lc_grpc_conn *c)
{
    if (c->dead) {
        return;
    }
    c->close_req = true;
    lc_grpc__conn_dirty(c);
}

/* ---------------------------------------------------------------- server */

int lc_grpc_server_listen(struct lc_grpc_server *srv, const char *host,
                          int port)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    int rv;
    if (srv->closing || srv->listening) {
        return LC_EINVAL;
    }
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0) {
        return LC_EINVAL;
    }
    rv = uv_tcp_bind(&srv->listener, (struct sockaddr *)&ss, 0);
    if (rv == 0) {
        rv = uv_listen((uv_stream_t *)&srv->listener, LISTEN_BACKLOG,
                       on_connection);
    }
    if (rv != 0) {
        return rv == UV_EADDRINUSE ? LC_EEXIST : LC_EIO;
    }
    if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len) == 0) {
        char ip[48];
        addr_of(&ss, ip, sizeof ip, &srv->port);
    }
    srv->listening = true;
    return 0;
}

/* Past the grace period: fail what is unanswered, close every session. */
static void server_drain(struct lc_grpc_server *srv)
{
    srv->draining = true;
    uv_timer_stop(&srv->grace);
    lc_grpc__fail_unanswered(srv, LC_GRPC_UNAVAILABLE, "server closing");
    while (srv->conns != NULL) {
        struct lc_grpc_conn *c = srv->conns;
        (void)lc_grpc__io_pump(&c->io);
        conn_teardown(c);
    }
    srv->close_done = true;
    uv_close((uv_handle_t *)&srv->idle, on_handle_closed);
    uv_close((uv_handle_t *)&srv->deadlines, on_handle_closed);
    uv_close((uv_handle_t *)&srv->grace, on_handle_closed);
}

static void on_idle(uv_idle_t *h)
{
    struct lc_grpc_server *srv = h->data;
    while (srv->dirty != NULL) {
        struct lc_grpc_conn *c = srv->dirty;
        srv->dirty = c->dirty_next;
        c->in_dirty = false;
        conn_process(c);
    }
    if (srv->closing && !srv->draining && srv->unanswered == 0) {
        server_drain(srv);
        return;
    }
    uv_idle_stop(&srv->idle);
}

static void on_grace(uv_timer_t *t)
{
    struct lc_grpc_server *srv = t->data;
    if (!srv->draining) {
        server_drain(srv);
    }
}

void lc_grpc_server_close(struct lc_grpc_server *srv,
                          lc_grpc_server_close_cb cb, void *data)
{
    struct lc_grpc_conn *c;
    if (srv->closing) {
        return;
    }
    srv->closing = true;
    srv->close_cb = cb;
    srv->close_data = data;
    uv_close((uv_handle_t *)&srv->listener, on_handle_closed);
    for (c = srv->conns; c != NULL; c = c->next) {
        nghttp2_submit_goaway(
            c->io.session, NGHTTP2_FLAG_NONE,
            nghttp2_session_get_last_proc_stream_id(c->io.session),
            NGHTTP2_NO_ERROR, NULL, 0);
        lc_grpc__conn_dirty(c);
    }
    if (srv->unanswered > 0) {
        uv_timer_start(&srv->grace, on_grace, srv->limits.grace_ms, 0);
    }
    uv_idle_start(&srv->idle, on_idle);
}

static void server_maybe_free(struct lc_grpc_server *srv)
{
    if (!srv->close_done || srv->handles > 0 || srv->nallocs > 0) {
        return;
    }
    if (srv->close_cb != NULL) {
        srv->close_cb(srv, srv->close_data);
    }
    nghttp2_option_del(srv->option);
    nghttp2_session_callbacks_del(srv->callbacks);
    free(srv);
}

/* ---------------------------------------------------------------- fuzzing */

static struct lc_grpc_call *fz_kept[8];
static unsigned fz_nkept;

static void fz_unary(struct lc_grpc_call *call, const uint8_t *msg, size_t len,
                     void *data)
{
    (void)data;
    if (len > 0 && msg[0] == 'f') {
        lc_grpc_call_fail(call, LC_GRPC_INTERNAL, "fail\n%");
    } else if (len > 0 && msg[0] == 'k' && fz_nkept < 8) {
        fz_kept[fz_nkept++] = call; /* answered after the server closed */
    } else {
        lc_grpc_call_reply(call, msg, len);
    }
}

static void fz_msg(struct lc_grpc_stream *s, const uint8_t *msg, size_t len,
                   void *data)
{
    (void)data;
    (void)lc_grpc_stream_send(s, msg, len);
    if (len > 0 && msg[0] == 'e') {
        lc_grpc_stream_end(s, LC_GRPC_OK, NULL);
    }
}

void lc_grpc__fuzz_session(const uint8_t *data, size_t len)
{
    struct lc_grpc_server_cbs cbs = {.unary = fz_unary, .stream_msg = fz_msg};
    struct lc_grpc_limits limits;
    struct lc_grpc_server *srv;
    struct lc_grpc_conn *c;
    uv_loop_t loop;
    size_t half = len / 2;

    lc_grpc_limits_default(&limits);
    limits.max_inbound = 64 * 1024;
    limits.min_ping_interval_ms = 1000;
    limits.max_conn_outbuf = 256 * 1024;
    limits.grace_ms = 1;
    if (uv_loop_init(&loop) != 0) {
        return;
    }
    srv = lc_grpc_server_new(&loop, &limits, &cbs);
    if (srv == NULL) {
        goto out;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        goto out_after_srv;
    }
    c->srv = srv;
    c->io.sink = true;
    srv->nallocs++;
    snprintf(c->ip, sizeof c->ip, "127.0.0.1");
    if (conn_session(c) != 0) {
        free(c);
        srv->nallocs--;
        goto out_after_srv;
    }
    conn_link(c);
    /* In two reads, so that state carries across. */
    conn_input(c, data, half);
    if (srv->nconns > 0) { /* a sink session is freed when it ends */
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    if (srv->nconns > 0) {
        conn_input(c, data + half, len - half);
    }
out_after_srv:
    lc_grpc_server_close(srv, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    while (fz_nkept > 0) {
        lc_grpc_call_reply(fz_kept[--fz_nkept], NULL, 0);
    }
out:
    uv_loop_close(&loop);
}
