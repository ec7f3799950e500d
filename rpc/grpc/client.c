/* gRPC client: one nghttp2 client session over one uv_tcp connection,
 * unary calls and bidirectional streams multiplexed on it.
 *
 * Requests are submitted to nghttp2 as the application makes them (before
 * the connection is up too); the client's idle handle pumps them out from
 * the loop, so completion callbacks never run inside an lc_grpc_* call. A
 * call completes when its stream closes: with the reply and the trailers'
 * grpc-status, or LC_ECONN when the stream was reset or the session ended
 * first. A call's deadline fails it with LC_ETIMEDOUT and resets its
 * stream. The session ends on a read or write error, when nghttp2 is done
 * (a GOAWAY received and no stream left), or on lc_grpc_client_close;
 * every pending call and stream is failed, then closed runs.
 *
 * Memory per client is the handles, the nghttp2 session and what is in
 * flight: read buffers are shared per thread, write buffers live only
 * while written. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "rpc/grpc/internal.h"

#define CONNECT_TIMEOUT_MS 10000
/* Windows wide enough for a whole Distro snapshot piece (~5 MB): the
 * answer to the next piece keeps arriving while this side applies the
 * last one, instead of stalling on a window update every 1 MB. Memory is
 * only taken by data actually sent. */
#define STREAM_WINDOW (8 * 1024 * 1024)
#define CONN_WINDOW (16 * 1024 * 1024)
#define MAX_OUTBUF (4 * 1024 * 1024)

struct lc_grpc_cstream {
    struct lc_grpc_client *cl;
    struct lc_grpc_cstream *next, *prev;
    struct lc_grpc_ccall *call; /* unary, until completed */
    struct lc_grpc_cstream_cbs cbs;
    struct lc_grpc__framer in;
    struct lc_grpc__outq out;
    uint8_t *msg; /* unary reply */
    size_t msg_len;
    char *message; /* grpc-message, decoded */
    uint64_t deadline;
    int32_t id;
    int grpc_status; /* -1 until the trailers */
    bool bidi;
    bool has_msg;
    bool ending; /* END_STREAM after the queue */
    bool deferred;
    bool failed; /* a local error decided grpc_status */
};

struct lc_grpc_client {
    struct lc_grpc__io io; /* first */
    uv_loop_t *loop;
    uv_connect_t connect;
    uv_idle_t idle;
    uv_timer_t timer; /* connect timeout, then call deadlines */
    struct lc_grpc_client_cbs cbs;
    struct lc_grpc_cstream *streams;
    size_t max_inbound;
    size_t queued;
    char authority[64];
    unsigned handles;
    int lport;
    bool connected;
    bool close_req;
    bool dead;
    bool goaway;
};

static void client_teardown(struct lc_grpc_client *cl, int err);
static void on_timer(uv_timer_t *t);

/* ----------------------------------------------------------------- loop */

static void on_idle(uv_idle_t *h);

static void client_dirty(struct lc_grpc_client *cl)
{
    if (!cl->dead) {
        uv_idle_start(&cl->idle, on_idle);
    }
}

static void client_after_io(struct lc_grpc_client *cl)
{
    if (cl->dead || !cl->connected) {
        return;
    }
    if (lc_grpc__io_pump(&cl->io) != 0 || lc_grpc__io_finished(&cl->io)) {
        client_teardown(cl, LC_ECONN);
    }
}

static void on_idle(uv_idle_t *h)
{
    struct lc_grpc_client *cl = h->data;
    uv_idle_stop(h);
    if (cl->dead) {
        return;
    }
    if (cl->close_req) {
        if (cl->connected) {
            nghttp2_session_terminate_session(cl->io.session, NGHTTP2_NO_ERROR);
            (void)lc_grpc__io_pump(&cl->io);
        }
        client_teardown(cl, LC_ECANCELED);
        return;
    }
    client_after_io(cl);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct lc_grpc_client *cl = s->data;
    ssize_t rv;
    if (cl->dead) {
        return;
    }
    if (nread < 0) {
        client_teardown(cl, LC_ECONN);
        return;
    }
    if (nread == 0) {
        return;
    }
    rv = nghttp2_session_mem_recv(cl->io.session, (const uint8_t *)buf->base,
                                  (size_t)nread);
    if (rv < 0) {
        client_teardown(cl, LC_ECONN);
        return;
    }
    client_after_io(cl);
}

static void on_written(struct lc_grpc__io *io, int status)
{
    struct lc_grpc_client *cl = (struct lc_grpc_client *)io;
    if (cl->dead) {
        return;
    }
    if (status < 0) {
        client_teardown(cl, LC_ECONN);
        return;
    }
    client_after_io(cl);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct lc_grpc_client *cl = h->data;
    if (--cl->handles == 0) {
        free(cl);
    }
}

static void client_close_handles(struct lc_grpc_client *cl)
{
    uv_close((uv_handle_t *)&cl->io.tcp, on_handle_closed);
    uv_close((uv_handle_t *)&cl->idle, on_handle_closed);
    uv_close((uv_handle_t *)&cl->timer, on_handle_closed);
}

/* -------------------------------------------------------------- streams */

static void stream_unlink(struct lc_grpc_cstream *cs)
{
    struct lc_grpc_client *cl = cs->cl;
    if (cs->prev != NULL) {
        cs->prev->next = cs->next;
    } else {
        cl->streams = cs->next;
    }
    if (cs->next != NULL) {
        cs->next->prev = cs->prev;
    }
}

static void stream_free(struct lc_grpc_cstream *cs)
{
    cs->cl->queued -= cs->out.bytes;
    lc_grpc__outq_free(&cs->out);
    lc_grpc__framer_free(&cs->in);
    free(cs->msg);
    free(cs->message);
    free(cs);
}

/* Complete @cs's call or stream: from its trailers (or local failure), or
 * with @err when it ended without them. */
static void stream_complete(struct lc_grpc_cstream *cs, int err)
{
    int gs = cs->grpc_status;
    if (cs->bidi) {
        void (*closed)(struct lc_grpc_cstream *, int, int, const char *,
                       void *) = cs->cbs.closed;
        cs->cbs.closed = NULL;
        cs->cbs.msg = NULL;
        if (closed != NULL) {
            if (gs >= 0) {
                closed(cs, 0, gs, cs->message, cs->cbs.data);
            } else {
                closed(cs, err, -1, NULL, cs->cbs.data);
            }
        }
        return;
    }
    if (cs->call != NULL) {
        struct lc_grpc_ccall *call = cs->call;
        cs->call = NULL;
        if (gs == LC_GRPC_OK && cs->has_msg) {
            call->cb(call, 0, 0, NULL,
                     cs->msg != NULL ? cs->msg : (const uint8_t *)"",
                     cs->msg_len);
        } else if (gs == LC_GRPC_OK) {
            call->cb(call, 0, LC_GRPC_INTERNAL, "no response message", NULL, 0);
        } else if (gs > 0) {
            call->cb(call, 0, gs, cs->message, NULL, 0);
        } else {
            call->cb(call, err, -1, NULL, NULL, 0);
        }
    }
}

static ssize_t on_read_data(nghttp2_session *session, int32_t id, uint8_t *buf,
                            size_t length, uint32_t *flags,
                            nghttp2_data_source *source, void *user_data)
{
    struct lc_grpc_cstream *cs = source->ptr;
    struct lc_grpc_client *cl = user_data;
    size_t n = lc_grpc__outq_read(&cs->out, buf, length);
    (void)session;
    (void)id;
    cl->queued -= n;
    if (cs->out.head == NULL && cs->ending) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return (ssize_t)n;
    }
    if (n == 0) {
        cs->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

static void stream_resume(struct lc_grpc_cstream *cs)
{
    if (cs->deferred) {
        cs->deferred = false;
        nghttp2_session_resume_data(cs->cl->io.session, cs->id);
    }
    client_dirty(cs->cl);
}

/* Fail @cs locally with @gs (the peer's later trailers are ignored). */
static void stream_fail(struct lc_grpc_cstream *cs, int gs, const char *text)
{
    if (cs->failed) {
        return;
    }
    cs->failed = true;
    cs->grpc_status = gs;
    free(cs->message);
    cs->message = strdup(text);
    lc_grpc__framer_free(&cs->in);
    nghttp2_submit_rst_stream(cs->cl->io.session, NGHTTP2_FLAG_NONE, cs->id,
                              NGHTTP2_CANCEL);
    client_dirty(cs->cl);
}

static void timer_arm(struct lc_grpc_client *cl, uint64_t deadline)
{
    uint64_t now = uv_now(cl->loop);
    if (uv_is_active((uv_handle_t *)&cl->timer) &&
        uv_timer_get_due_in(&cl->timer) + now <= deadline) {
        return;
    }
    uv_timer_start(&cl->timer, on_timer, deadline > now ? deadline - now : 0,
                   0);
}

static void on_timer(uv_timer_t *t)
{
    struct lc_grpc_client *cl = t->data;
    uint64_t now = uv_now(cl->loop);
    uint64_t next = 0;
    struct lc_grpc_cstream *cs;
    if (cl->dead) {
        return;
    }
    if (!cl->connected) {
        if (cl->cbs.connected != NULL) {
            cl->cbs.connected(cl, LC_ETIMEDOUT, cl->cbs.data);
        }
        client_teardown(cl, LC_ETIMEDOUT);
        return;
    }
    for (cs = cl->streams; cs != NULL; cs = cs->next) {
        if (cs->call == NULL || cs->deadline == 0) {
            continue;
        }
        if (cs->deadline <= now) {
            struct lc_grpc_ccall *call = cs->call;
            cs->call = NULL;
            nghttp2_submit_rst_stream(cl->io.session, NGHTTP2_FLAG_NONE, cs->id,
                                      NGHTTP2_CANCEL);
            call->cb(call, LC_ETIMEDOUT, -1, NULL, NULL, 0);
            if (cl->dead) {
                return;
            }
        } else if (next == 0 || cs->deadline < next) {
            next = cs->deadline;
        }
    }
    if (next != 0) {
        timer_arm(cl, next);
    }
    client_dirty(cl);
}

/* ------------------------------------------------------ nghttp2 callbacks */

static struct lc_grpc_cstream *cstream_of(struct lc_grpc_client *cl, int32_t id)
{
    return nghttp2_session_get_stream_user_data(cl->io.session, id);
}

static int on_msg(void *arg, uint8_t *msg, size_t len)
{
    struct lc_grpc_cstream *cs = arg;
    if (!cs->bidi) {
        if (cs->has_msg) {
            free(msg);
            stream_fail(cs, LC_GRPC_INTERNAL, "too many response messages");
            return 1;
        }
        cs->msg = msg;
        cs->msg_len = len;
        cs->has_msg = true;
        return 0;
    }
    if (cs->cbs.msg != NULL) {
        cs->cbs.msg(cs, msg != NULL ? msg : (const uint8_t *)"", len,
                    cs->cbs.data);
    }
    free(msg);
    return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t id,
                         const uint8_t *data, size_t len, void *user_data)
{
    struct lc_grpc_client *cl = user_data;
    struct lc_grpc_cstream *cs = cstream_of(cl, id);
    int rv;
    (void)session;
    (void)flags;
    if (cs == NULL || cs->failed) {
        return 0;
    }
    rv = lc_grpc__framer_feed(&cs->in, data, len, cl->max_inbound, on_msg, cs);
    if (rv == LC_ENOTSUP) {
        stream_fail(cs, LC_GRPC_UNIMPLEMENTED, "compressed message");
    } else if (rv == LC_ETOOBIG || rv == LC_ENOMEM) {
        stream_fail(cs, LC_GRPC_RESOURCE_EXHAUSTED, "message too large");
    }
    return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame,
                     const uint8_t *name, size_t namelen, const uint8_t *value,
                     size_t valuelen, uint8_t flags, void *user_data)
{
    struct lc_grpc_client *cl = user_data;
    struct lc_grpc_cstream *cs;
    (void)session;
    (void)flags;
    if (frame->hd.type != NGHTTP2_HEADERS) {
        return 0;
    }
    cs = cstream_of(cl, frame->hd.stream_id);
    if (cs == NULL || cs->failed) {
        return 0;
    }
    if (lc_grpc__name_is(name, namelen, "grpc-status")) {
        int v = 0;
        size_t i;
        for (i = 0; i < valuelen && i < 4; i++) {
            if (value[i] < '0' || value[i] > '9') {
                break;
            }
            v = v * 10 + (value[i] - '0');
        }
        cs->grpc_status = (i == valuelen && i > 0) ? v : LC_GRPC_UNKNOWN;
    } else if (lc_grpc__name_is(name, namelen, "grpc-message")) {
        free(cs->message);
        cs->message = lc_grpc__pct_decode(value, valuelen);
    } else if (lc_grpc__name_is(name, namelen, ":status")) {
        if (!lc_grpc__name_is(value, valuelen, "200")) {
            stream_fail(cs, LC_GRPC_UNKNOWN, "HTTP status not 200");
        }
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame,
                         void *user_data)
{
    struct lc_grpc_client *cl = user_data;
    (void)session;
    if (frame->hd.type == NGHTTP2_GOAWAY) {
        cl->goaway = true;
    }
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t id,
                           uint32_t error_code, void *user_data)
{
    struct lc_grpc_client *cl = user_data;
    struct lc_grpc_cstream *cs = cstream_of(cl, id);
    (void)error_code;
    if (cs == NULL) {
        return 0;
    }
    nghttp2_session_set_stream_user_data(session, id, NULL);
    stream_unlink(cs);
    stream_complete(cs, LC_ECONN);
    stream_free(cs);
    return 0;
}

static int client_session(struct lc_grpc_client *cl)
{
    nghttp2_session_callbacks *cb;
    nghttp2_option *opt;
    nghttp2_settings_entry iv[2] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
    };
    int rv;
    if (nghttp2_session_callbacks_new(&cb) != 0) {
        return LC_ENOMEM;
    }
    nghttp2_session_callbacks_set_send_callback(cb, lc_grpc__send_cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
                                                              on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cb);
        return LC_ENOMEM;
    }
    nghttp2_option_set_no_closed_streams(opt, 1);
    rv = nghttp2_session_client_new2(&cl->io.session, cb, cl, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    if (rv != 0) {
        return LC_ENOMEM;
    }
    if (nghttp2_submit_settings(cl->io.session, NGHTTP2_FLAG_NONE, iv, 2) !=
            0 ||
        nghttp2_session_set_local_window_size(cl->io.session, NGHTTP2_FLAG_NONE,
                                              0, CONN_WINDOW) != 0) {
        nghttp2_session_del(cl->io.session);
        cl->io.session = NULL;
        return LC_ENOMEM;
    }
    return 0;
}

/* ---------------------------------------------------------------- client */

static void on_connect(uv_connect_t *req, int status)
{
    struct lc_grpc_client *cl = req->data;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (cl->dead) {
        return;
    }
    if (status < 0 || uv_read_start((uv_stream_t *)&cl->io.tcp,
                                    lc_grpc__alloc_cb, on_read) != 0) {
        if (cl->cbs.connected != NULL) {
            cl->cbs.connected(cl, LC_ECONN, cl->cbs.data);
        }
        client_teardown(cl, LC_ECONN);
        return;
    }
    cl->connected = true;
    uv_timer_stop(&cl->timer);
    uv_tcp_nodelay(&cl->io.tcp, 1);
    if (uv_tcp_getsockname(&cl->io.tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            cl->lport = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            cl->lport = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    /* Calls whose deadline was set while connecting. */
    timer_arm(cl, uv_now(cl->loop));
    if (cl->cbs.connected != NULL) {
        cl->cbs.connected(cl, 0, cl->cbs.data);
    }
    client_after_io(cl);
}

int lc_grpc_client_new(uv_loop_t *loop, const char *host, int port,
                       size_t max_inbound, const struct lc_grpc_client_cbs *cbs,
                       struct lc_grpc_client **out)
{
    struct sockaddr_storage ss;
    struct lc_grpc_client *cl;
    int rv;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0) {
        return LC_EINVAL;
    }
    cl = calloc(1, sizeof *cl);
    if (cl == NULL) {
        return LC_ENOMEM;
    }
    cl->loop = loop;
    cl->cbs = *cbs;
    cl->max_inbound =
        max_inbound != 0 ? max_inbound : LC_GRPC__DEFAULT_MAX_INBOUND;
    lc_join_host_port(cl->authority, sizeof cl->authority, host, port);
    rv = client_session(cl);
    if (rv != 0) {
        free(cl);
        return rv;
    }
    uv_tcp_init(loop, &cl->io.tcp);
    uv_idle_init(loop, &cl->idle);
    uv_timer_init(loop, &cl->timer);
    cl->io.tcp.data = cl;
    cl->idle.data = cl;
    cl->timer.data = cl;
    cl->connect.data = cl;
    cl->io.written = on_written;
    cl->handles = 3;
    if (uv_tcp_connect(&cl->connect, &cl->io.tcp, (struct sockaddr *)&ss,
                       on_connect) != 0) {
        cl->dead = true;
        nghttp2_session_del(cl->io.session);
        client_close_handles(cl);
        return LC_EINVAL;
    }
    uv_timer_start(&cl->timer, on_timer, CONNECT_TIMEOUT_MS, 0);
    *out = cl;
    return 0;
}

static void client_teardown(struct lc_grpc_client *cl, int err)
{
    if (cl->dead) {
        return;
    }
    cl->dead = true;
    uv_timer_stop(&cl->timer);
    while (cl->streams != NULL) {
        struct lc_grpc_cstream *cs = cl->streams;
        stream_unlink(cs);
        cs->grpc_status = cs->failed ? cs->grpc_status : -1;
        stream_complete(cs, err);
        stream_free(cs);
    }
    if (cl->cbs.closed != NULL) {
        cl->cbs.closed(cl, cl->cbs.data);
    }
    nghttp2_session_del(cl->io.session);
    cl->io.session = NULL;
    client_close_handles(cl);
}

void lc_grpc_client_close(struct lc_grpc_client *cl)
{
    if (cl->dead || cl->close_req) {
        return;
    }
    cl->close_req = true;
    uv_idle_start(&cl->idle, on_idle);
}

int lc_grpc_client_local_port(const struct lc_grpc_client *cl)
{
    return cl->lport;
}

/* Submit a request on @path for @cs, its data provider reading @cs's
 * queue. Return 0 or LC_E*. */
static int submit(struct lc_grpc_client *cl, struct lc_grpc_cstream *cs,
                  const char *path, unsigned timeout_ms)
{
    char tmo[16];
    nghttp2_nv nva[8] = {
        LC_GRPC__NV(":method", "POST"),
        LC_GRPC__NV(":scheme", "http"),
    };
    size_t n = 2;
    nghttp2_data_provider prd;
    int32_t id;
    nva[n++] = (nghttp2_nv){(uint8_t *)":path", (uint8_t *)path, 5,
                            strlen(path), NGHTTP2_NV_FLAG_NO_COPY_NAME};
    nva[n++] =
        (nghttp2_nv){(uint8_t *)":authority", (uint8_t *)cl->authority, 10,
                     strlen(cl->authority), NGHTTP2_NV_FLAG_NO_COPY_NAME};
    nva[n++] = (nghttp2_nv)LC_GRPC__NV("content-type", "application/grpc");
    nva[n++] = (nghttp2_nv)LC_GRPC__NV("te", "trailers");
    nva[n++] = (nghttp2_nv)LC_GRPC__NV("user-agent", "grpc-c-locus/1");
    if (timeout_ms > 0) {
        lc_grpc__timeout_format(timeout_ms, tmo);
        nva[n++] = (nghttp2_nv){(uint8_t *)"grpc-timeout", (uint8_t *)tmo, 12,
                                strlen(tmo), NGHTTP2_NV_FLAG_NO_COPY_NAME};
    }
    prd.source.ptr = cs;
    prd.read_callback = on_read_data;
    id = nghttp2_submit_request(cl->io.session, NULL, nva, n, &prd, cs);
    if (id < 0) {
        return id == NGHTTP2_ERR_NOMEM ? LC_ENOMEM : LC_ECONN;
    }
    cs->id = id;
    cs->cl = cl;
    cs->next = cl->streams;
    if (cl->streams != NULL) {
        cl->streams->prev = cs;
    }
    cl->streams = cs;
    client_dirty(cl);
    return 0;
}

int lc_grpc_client_unary(struct lc_grpc_client *cl, struct lc_grpc_ccall *call,
                         const char *path, const uint8_t *msg, size_t len,
                         unsigned timeout_ms, lc_grpc_ccall_cb cb)
{
    struct lc_grpc_cstream *cs;
    int rv;
    if (cl->dead || cl->close_req || cl->goaway) {
        return LC_ECONN;
    }
    cs = calloc(1, sizeof *cs);
    if (cs == NULL) {
        return LC_ENOMEM;
    }
    cs->grpc_status = -1;
    cs->ending = true;
    if (lc_grpc__outq_push(&cs->out, msg, len) != 0) {
        free(cs);
        return LC_ENOMEM;
    }
    cs->cl = cl;
    cl->queued += cs->out.bytes;
    rv = submit(cl, cs, path, timeout_ms);
    if (rv != 0) {
        stream_free(cs);
        return rv;
    }
    call->cb = cb;
    call->priv[0] = cs;
    cs->call = call;
    if (timeout_ms > 0) {
        cs->deadline = uv_now(cl->loop) + timeout_ms;
        if (cl->connected) {
            timer_arm(cl, cs->deadline);
        }
    }
    return 0;
}

int lc_grpc_client_stream(struct lc_grpc_client *cl, const char *path,
                          const struct lc_grpc_cstream_cbs *cbs,
                          struct lc_grpc_cstream **out)
{
    struct lc_grpc_cstream *cs;
    int rv;
    if (cl->dead || cl->close_req || cl->goaway) {
        return LC_ECONN;
    }
    cs = calloc(1, sizeof *cs);
    if (cs == NULL) {
        return LC_ENOMEM;
    }
    cs->grpc_status = -1;
    cs->bidi = true;
    cs->cbs = *cbs;
    cs->cl = cl;
    rv = submit(cl, cs, path, 0);
    if (rv != 0) {
        stream_free(cs);
        return rv;
    }
    *out = cs;
    return 0;
}

int lc_grpc_cstream_send(struct lc_grpc_cstream *s, const uint8_t *msg,
                         size_t len)
{
    struct lc_grpc_client *cl = s->cl;
    size_t out = cl->queued + cl->io.wbytes;
    if (cl->dead || s->ending || s->failed) {
        return LC_ECONN;
    }
    if (out > 0 && out + len + 5 > MAX_OUTBUF) {
        return LC_EBUSY;
    }
    if (lc_grpc__outq_push(&s->out, msg, len) != 0) {
        return LC_ENOMEM;
    }
    cl->queued += len + 5;
    stream_resume(s);
    return 0;
}

void lc_grpc_cstream_end(struct lc_grpc_cstream *s)
{
    if (s->cl->dead || s->ending) {
        return;
    }
    s->ending = true;
    stream_resume(s);
}

int lc_grpc_client_write_raw(struct lc_grpc_client *cl, const uint8_t *buf,
                             size_t len)
{
    if (cl->dead || !cl->connected) {
        return LC_ECONN;
    }
    return lc_grpc__io_write(&cl->io, buf, len) == 0 ? 0 : LC_ECONN;
}
