/* gRPC server streams: nghttp2's callbacks for a server session, routing by
 * :path, unary calls (with grpc-timeout), bidirectional streams, responses
 * through a data provider and trailers, and the ping policy.
 *
 * A request stream is one struct lc_grpc_stream from its HEADERS to
 * nghttp2's on_stream_close (or the session's end). Its messages are
 * reassembled by a framer that refuses a compressed message (12) or one
 * longer than max_inbound (8) before buffering it. A unary call's message
 * is held until END_STREAM, then handed to the application as a struct
 * lc_grpc_call, which outlives the stream if need be: a reply to a call
 * whose stream is gone, or whose deadline passed, is dropped.
 *
 * Output goes through one data provider per answered stream: it reads the
 * stream's queue, says DEFERRED when the queue is empty and the stream is
 * not ending, and at the end submits the trailers (grpc-status,
 * grpc-message). An error before any output is a trailers-only response.
 * When we end a stream the peer has not ended, it is reset with NO_ERROR
 * once our END_STREAM is sent, so it does not linger. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "rpc/grpc/internal.h"

#define PING_STRIKES 2

static struct lc_grpc_stream *stream_of(struct lc_grpc_conn *c, int32_t id)
{
    return nghttp2_session_get_stream_user_data(c->io.session, id);
}

/* ------------------------------------------------------------ deadlines */

static void timed_remove(struct lc_grpc_stream *ss)
{
    struct lc_grpc_server *srv = ss->conn->srv;
    if (!ss->timed_in) {
        return;
    }
    if (ss->tprev != NULL) {
        ss->tprev->tnext = ss->tnext;
    } else {
        srv->timed = ss->tnext;
    }
    if (ss->tnext != NULL) {
        ss->tnext->tprev = ss->tprev;
    }
    ss->timed_in = false;
    ss->tnext = ss->tprev = NULL;
}

static void timer_arm(struct lc_grpc_server *srv, uint64_t deadline)
{
    uint64_t now = uv_now(srv->loop);
    if (srv->close_done) {
        return;
    }
    if (uv_is_active((uv_handle_t *)&srv->deadlines) &&
        uv_timer_get_due_in(&srv->deadlines) + now <= deadline) {
        return;
    }
    uv_timer_start(&srv->deadlines, lc_grpc__deadlines_cb,
                   deadline > now ? deadline - now : 0, 0);
}

static void timed_insert(struct lc_grpc_stream *ss)
{
    struct lc_grpc_server *srv = ss->conn->srv;
    ss->tprev = NULL;
    ss->tnext = srv->timed;
    if (srv->timed != NULL) {
        srv->timed->tprev = ss;
    }
    srv->timed = ss;
    ss->timed_in = true;
    timer_arm(srv, ss->deadline);
}

/* @ss's call is answered (or abandoned): detach it. */
static void call_detach(struct lc_grpc_stream *ss)
{
    if (ss->call == NULL) {
        return;
    }
    ss->call->ss = NULL;
    ss->call->conn = NULL;
    ss->call = NULL;
    ss->conn->srv->unanswered--;
    timed_remove(ss);
}

void lc_grpc__deadlines_cb(uv_timer_t *t)
{
    struct lc_grpc_server *srv = t->data;
    uint64_t now = uv_now(srv->loop);
    uint64_t next = 0;
    struct lc_grpc_stream *ss = srv->timed;
    while (ss != NULL) {
        struct lc_grpc_stream *tnext = ss->tnext;
        if (ss->deadline <= now) {
            call_detach(ss);
            lc_grpc__stream_finish(ss, LC_GRPC_DEADLINE_EXCEEDED,
                                   "deadline exceeded");
        } else if (next == 0 || ss->deadline < next) {
            next = ss->deadline;
        }
        ss = tnext;
    }
    if (next != 0) {
        timer_arm(srv, next);
    }
}

void lc_grpc__fail_unanswered(struct lc_grpc_server *srv, int status,
                              const char *message)
{
    struct lc_grpc_conn *c;
    for (c = srv->conns; c != NULL; c = c->next) {
        struct lc_grpc_stream *ss;
        for (ss = c->streams; ss != NULL; ss = ss->next) {
            if (ss->call != NULL) {
                call_detach(ss);
                lc_grpc__stream_finish(ss, status, message);
            }
        }
    }
}

/* -------------------------------------------------------------- responses */

static ssize_t on_read_data(nghttp2_session *session, int32_t id, uint8_t *buf,
                            size_t length, uint32_t *flags,
                            nghttp2_data_source *source, void *user_data);

static int submit_trailers(struct lc_grpc_stream *ss, bool headers_too)
{
    char code[12];
    nghttp2_nv nva[4] = {
        LC_GRPC__NV(":status", "200"),
        LC_GRPC__NV("content-type", "application/grpc"),
    };
    nghttp2_nv *t = headers_too ? nva : nva + 2;
    size_t n = 2;
    snprintf(code, sizeof code, "%d", ss->status);
    nva[2] = (nghttp2_nv){(uint8_t *)"grpc-status", (uint8_t *)code, 11,
                          strlen(code), NGHTTP2_NV_FLAG_NO_COPY_NAME};
    if (ss->message != NULL) {
        nva[3] =
            (nghttp2_nv){(uint8_t *)"grpc-message", (uint8_t *)ss->message, 12,
                         strlen(ss->message), NGHTTP2_NV_FLAG_NO_COPY_NAME};
        n = 4;
    } else {
        n = 3;
    }
    if (headers_too) {
        return nghttp2_submit_response(ss->conn->io.session, ss->id, t, n,
                                       NULL);
    }
    return nghttp2_submit_trailer(ss->conn->io.session, ss->id, t, n - 2);
}

/* Submit response headers with @ss's data provider. */
static int submit_headers(struct lc_grpc_stream *ss)
{
    nghttp2_nv nva[2] = {
        LC_GRPC__NV(":status", "200"),
        LC_GRPC__NV("content-type", "application/grpc"),
    };
    nghttp2_data_provider prd;
    prd.source.ptr = ss;
    prd.read_callback = on_read_data;
    ss->responded = true;
    return nghttp2_submit_response(ss->conn->io.session, ss->id, nva, 2, &prd);
}

static void stream_resume(struct lc_grpc_stream *ss)
{
    if (ss->deferred) {
        ss->deferred = false;
        nghttp2_session_resume_data(ss->conn->io.session, ss->id);
    }
    lc_grpc__conn_dirty(ss->conn);
}

void lc_grpc__stream_finish(struct lc_grpc_stream *ss, int status,
                            const char *message)
{
    struct lc_grpc_conn *c = ss->conn;
    if (ss->ending || c->dead) {
        return;
    }
    ss->ending = true;
    ss->status = status;
    if (message != NULL) {
        free(ss->message);
        ss->message = lc_grpc__pct_encode(message);
    }
    lc_grpc__framer_free(&ss->in);
    if (ss->kind != SS_BIDI) {
        ss->kind = SS_DONE;
    }
    if (!ss->responded) {
        ss->responded = true;
        if (submit_trailers(ss, true) != 0) {
            nghttp2_submit_rst_stream(c->io.session, NGHTTP2_FLAG_NONE, ss->id,
                                      NGHTTP2_INTERNAL_ERROR);
        }
        lc_grpc__conn_dirty(c);
        return;
    }
    stream_resume(ss);
}

static ssize_t on_read_data(nghttp2_session *session, int32_t id, uint8_t *buf,
                            size_t length, uint32_t *flags,
                            nghttp2_data_source *source, void *user_data)
{
    struct lc_grpc_stream *ss = source->ptr;
    size_t n = ss->out.bytes < length ? ss->out.bytes : length;
    (void)session;
    (void)id;
    (void)buf;
    (void)user_data;
    if (n > 0) {
        /* send_data() copies the bytes when the frame goes out. */
        *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    }
    if (n == ss->out.bytes && ss->ending) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        if (submit_trailers(ss, false) != 0) {
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
        return (ssize_t)n;
    }
    if (n == 0) {
        ss->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

static int send_data(nghttp2_session *session, nghttp2_frame *frame,
                     const uint8_t *framehd, size_t length,
                     nghttp2_data_source *source, void *user_data)
{
    struct lc_grpc_stream *ss = source->ptr;
    struct lc_grpc_conn *c = user_data;
    int rv = lc_grpc__send_data(framehd, length, frame->data.padlen, &ss->out);
    (void)session;
    if (rv == 0) {
        c->queued -= length;
    }
    return rv;
}

/* ------------------------------------------------------------- application */

struct lc_grpc_conn *lc_grpc_call_conn(const struct lc_grpc_call *call)
{
    return call->conn;
}

void lc_grpc_call_reply(struct lc_grpc_call *call, const uint8_t *msg,
                        size_t len)
{
    struct lc_grpc_stream *ss = call->ss;
    if (ss != NULL) {
        struct lc_grpc_conn *c = ss->conn;
        call_detach(ss);
        if (lc_grpc__outq_push(&ss->out, msg, len) != 0) {
            lc_grpc__stream_finish(ss, LC_GRPC_RESOURCE_EXHAUSTED,
                                   "out of memory");
        } else {
            c->queued += len + 5;
            ss->ending = true;
            ss->status = LC_GRPC_OK;
            if (submit_headers(ss) != 0) {
                nghttp2_submit_rst_stream(c->io.session, NGHTTP2_FLAG_NONE,
                                          ss->id, NGHTTP2_INTERNAL_ERROR);
            }
            lc_grpc__conn_dirty(c);
        }
    }
    free(call);
}

void lc_grpc_call_fail(struct lc_grpc_call *call, int status,
                       const char *message)
{
    struct lc_grpc_stream *ss = call->ss;
    if (ss != NULL) {
        call_detach(ss);
        lc_grpc__stream_finish(ss, status, message);
    }
    free(call);
}

struct lc_grpc_conn *lc_grpc_stream_conn(const struct lc_grpc_stream *s)
{
    return s->conn;
}

int lc_grpc_stream_send(struct lc_grpc_stream *s, const uint8_t *msg,
                        size_t len)
{
    struct lc_grpc_conn *c = s->conn;
    size_t out = c->queued + c->io.wbytes;
    if (c->dead || s->ending || s->kind != SS_BIDI) {
        return LC_ECONN;
    }
    /* An idle session always takes one message, however large. */
    if (out > 0 && out + len + 5 > c->srv->limits.max_conn_outbuf) {
        return LC_EBUSY;
    }
    if (lc_grpc__outq_push(&s->out, msg, len) != 0) {
        return LC_ENOMEM;
    }
    c->queued += len + 5;
    stream_resume(s);
    return 0;
}

void lc_grpc_stream_end(struct lc_grpc_stream *s, int status,
                        const char *message)
{
    lc_grpc__stream_finish(s, status, message);
}

/* ---------------------------------------------------------------- streams */

static void stream_gone(struct lc_grpc_stream *ss)
{
    struct lc_grpc_conn *c = ss->conn;
    struct lc_grpc_server *srv = c->srv;
    if (ss->prev != NULL) {
        ss->prev->next = ss->next;
    } else {
        c->streams = ss->next;
    }
    if (ss->next != NULL) {
        ss->next->prev = ss->prev;
    }
    if (ss->call != NULL) {
        ss->call->conn = NULL;
        call_detach(ss);
    }
    timed_remove(ss);
    ss->kind = SS_DONE;
    ss->ending = true;
    if (ss->opened && srv->cbs.stream_close != NULL) {
        srv->cbs.stream_close(ss, srv->cbs.data);
    }
    c->queued -= ss->out.bytes;
    lc_grpc__outq_free(&ss->out);
    lc_grpc__framer_free(&ss->in);
    free(ss->msg);
    free(ss->message);
    free(ss);
}

void lc_grpc__conn_streams_gone(struct lc_grpc_conn *c)
{
    struct lc_grpc_stream *ss;
    /* Calls outlive their session: unreplied ones only lose it. */
    for (ss = c->streams; ss != NULL; ss = ss->next) {
        if (ss->call != NULL) {
            ss->call->conn = NULL;
        }
    }
    while (c->streams != NULL) {
        stream_gone(c->streams);
    }
}

static int on_msg(void *arg, uint8_t *msg, size_t len)
{
    struct lc_grpc_stream *ss = arg;
    struct lc_grpc_server *srv = ss->conn->srv;
    if (ss->kind == SS_UNARY) {
        if (ss->has_msg) {
            free(msg);
            lc_grpc__stream_finish(ss, LC_GRPC_INTERNAL,
                                   "too many messages for a unary call");
            return 1;
        }
        ss->msg = msg;
        ss->msg_len = len;
        ss->has_msg = true;
        return 0;
    }
    if (ss->kind == SS_BIDI && !ss->ending && srv->cbs.stream_msg != NULL) {
        srv->cbs.stream_msg(ss, msg != NULL ? msg : (const uint8_t *)"", len,
                            srv->cbs.data);
    }
    free(msg);
    return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t id,
                         const uint8_t *data, size_t len, void *user_data)
{
    struct lc_grpc_conn *c = user_data;
    struct lc_grpc_stream *ss = stream_of(c, id);
    char text[96];
    int rv;
    (void)session;
    (void)flags;
    if (ss == NULL || ss->ending ||
        (ss->kind != SS_UNARY && ss->kind != SS_BIDI)) {
        return 0;
    }
    if (ss->kind == SS_UNARY && ss->has_msg && len > 0) {
        /* Not buffered: a unary call holds one message at most. */
        lc_grpc__stream_finish(ss, LC_GRPC_INTERNAL,
                               "too many messages for a unary call");
        return 0;
    }
    rv = lc_grpc__framer_feed(&ss->in, data, len, c->srv->limits.max_inbound,
                              on_msg, ss);
    switch (rv) {
        case 0:
        case 1:
            break;
        case LC_ENOTSUP:
            lc_grpc__stream_finish(ss, LC_GRPC_UNIMPLEMENTED,
                                   "compressed messages are not supported");
            break;
        case LC_ETOOBIG:
            snprintf(text, sizeof text,
                     "gRPC message exceeds maximum size %zu: %zu",
                     c->srv->limits.max_inbound, ss->in.need);
            lc_grpc__stream_finish(ss, LC_GRPC_RESOURCE_EXHAUSTED, text);
            break;
        default:
            lc_grpc__stream_finish(ss, LC_GRPC_RESOURCE_EXHAUSTED,
                                   "out of memory");
            break;
    }
    return 0;
}

static int on_begin_headers(nghttp2_session *session,
                            const nghttp2_frame *frame, void *user_data)
{
    struct lc_grpc_conn *c = user_data;
    struct lc_grpc_stream *ss;
    if (frame->hd.type != NGHTTP2_HEADERS ||
        frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
        return 0;
    }
    ss = calloc(1, sizeof *ss);
    if (ss == NULL) {
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    ss->conn = c;
    ss->id = frame->hd.stream_id;
    ss->next = c->streams;
    if (c->streams != NULL) {
        c->streams->prev = ss;
    }
    c->streams = ss;
    nghttp2_session_set_stream_user_data(session, ss->id, ss);
    return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame,
                     const uint8_t *name, size_t namelen, const uint8_t *value,
                     size_t valuelen, uint8_t flags, void *user_data)
{
    struct lc_grpc_conn *c = user_data;
    struct lc_grpc_stream *ss;
    uint64_t ms;
    (void)session;
    (void)flags;
    if (frame->hd.type != NGHTTP2_HEADERS ||
        frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
        return 0;
    }
    ss = stream_of(c, frame->hd.stream_id);
    if (ss == NULL) {
        return 0;
    }
    if (lc_grpc__name_is(name, namelen, ":path")) {
        if (lc_grpc__name_is(value, valuelen, LC_GRPC__PATH_UNARY)) {
            ss->route = SS_UNARY;
        } else if (lc_grpc__name_is(value, valuelen, LC_GRPC__PATH_BIDI)) {
            ss->route = SS_BIDI;
        } else {
            char text[160];
            int n = valuelen > 100 ? 100 : (int)valuelen;
            ss->route = SS_NEW;
            snprintf(text, sizeof text, "Method not found: %.*s", n,
                     (const char *)value);
            free(ss->message);
            ss->message = lc_grpc__pct_encode(text);
        }
    } else if (lc_grpc__name_is(name, namelen, "grpc-timeout")) {
        if (lc_grpc__timeout_parse(value, valuelen, &ms) == 0) {
            ss->deadline = uv_now(c->srv->loop) + ms;
        }
    }
    return 0;
}

static void request_ready(struct lc_grpc_stream *ss)
{
    struct lc_grpc_server *srv = ss->conn->srv;
    if (ss->route == SS_UNARY && srv->cbs.unary != NULL) {
        ss->kind = SS_UNARY;
    } else if (ss->route == SS_BIDI &&
               (srv->cbs.stream_open != NULL || srv->cbs.stream_msg != NULL)) {
        if (submit_headers(ss) != 0) {
            lc_grpc__stream_finish(ss, LC_GRPC_INTERNAL, "out of memory");
            return;
        }
        ss->kind = SS_BIDI;
        ss->opened = true;
        lc_grpc__conn_dirty(ss->conn);
        if (srv->cbs.stream_open != NULL) {
            srv->cbs.stream_open(ss, srv->cbs.data);
        }
    } else {
        lc_grpc__stream_finish(ss, LC_GRPC_UNIMPLEMENTED,
                               ss->message == NULL ? "Method not found" : NULL);
    }
}

static void dispatch_unary(struct lc_grpc_stream *ss)
{
    struct lc_grpc_server *srv = ss->conn->srv;
    struct lc_grpc_call *call = calloc(1, sizeof *call);
    uint8_t *msg = ss->msg;
    if (call == NULL) {
        lc_grpc__stream_finish(ss, LC_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    call->conn = ss->conn;
    call->ss = ss;
    ss->call = call;
    srv->unanswered++;
    if (ss->deadline != 0) {
        timed_insert(ss);
    }
    ss->msg = NULL;
    ss->kind = SS_DONE; /* no more input; the reply is the call's */
    srv->cbs.unary(call, msg != NULL ? msg : (const uint8_t *)"", ss->msg_len,
                   srv->cbs.data);
    free(msg);
}

static void remote_end(struct lc_grpc_stream *ss)
{
    ss->remote_closed = true;
    if (ss->ending) {
        return;
    }
    if (ss->kind == SS_UNARY) {
        if (lc_grpc__framer_partial(&ss->in)) {
            lc_grpc__stream_finish(ss, LC_GRPC_INTERNAL, "incomplete message");
        } else if (!ss->has_msg) {
            lc_grpc__stream_finish(ss, LC_GRPC_INTERNAL, "no request message");
        } else {
            dispatch_unary(ss);
        }
    } else if (ss->kind == SS_BIDI) {
        lc_grpc__stream_finish(ss, LC_GRPC_OK, NULL);
    }
}

static void ping_reset(struct lc_grpc_conn *c)
{
    c->ping_ok_ms = 0;
    c->ping_strikes = 0;
}

/* grpc-java's KeepAliveEnforcer: a ping sooner than min_ping_interval
 * after the last good one is a strike; past PING_STRIKES strikes the
 * session is sent GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings") and closed. */
static void ping_check(struct lc_grpc_conn *c)
{
    uint64_t now = uv_now(c->srv->loop);
    if (c->flush_close) {
        return;
    }
    if (c->ping_ok_ms != 0 &&
        now - c->ping_ok_ms < c->srv->limits.min_ping_interval_ms) {
        if (++c->ping_strikes > PING_STRIKES) {
            nghttp2_submit_goaway(
                c->io.session, NGHTTP2_FLAG_NONE,
                nghttp2_session_get_last_proc_stream_id(c->io.session),
                NGHTTP2_ENHANCE_YOUR_CALM, (const uint8_t *)"too_many_pings",
                14);
            c->flush_close = true;
        }
        return;
    }
    c->ping_ok_ms = now;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame,
                         void *user_data)
{
    struct lc_grpc_conn *c = user_data;
    struct lc_grpc_stream *ss;
    (void)session;
    switch (frame->hd.type) {
        case NGHTTP2_DATA:
        case NGHTTP2_HEADERS:
            ping_reset(c);
            ss = stream_of(c, frame->hd.stream_id);
            if (ss == NULL) {
                break;
            }
            if (frame->hd.type == NGHTTP2_HEADERS &&
                frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
                request_ready(ss);
            }
            if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
                remote_end(ss);
            }
            break;
        case NGHTTP2_PING:
            if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
                ping_check(c);
            }
            break;
        default:
            break;
    }
    return 0;
}

static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame,
                         void *user_data)
{
    struct lc_grpc_conn *c = user_data;
    struct lc_grpc_stream *ss;
    if (frame->hd.type != NGHTTP2_DATA && frame->hd.type != NGHTTP2_HEADERS) {
        return 0;
    }
    ping_reset(c);
    if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        return 0;
    }
    ss = stream_of(c, frame->hd.stream_id);
    if (ss != NULL && !ss->remote_closed) {
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, ss->id,
                                  NGHTTP2_NO_ERROR);
    }
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t id,
                           uint32_t error_code, void *user_data)
{
    struct lc_grpc_conn *c = user_data;
    struct lc_grpc_stream *ss = stream_of(c, id);
    (void)session;
    (void)error_code;
    if (ss != NULL) {
        nghttp2_session_set_stream_user_data(c->io.session, id, NULL);
        stream_gone(ss);
    }
    return 0;
}

int lc_grpc__server_callbacks(nghttp2_session_callbacks **out)
{
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0) {
        return LC_ENOMEM;
    }
    nghttp2_session_callbacks_set_send_callback(cb, lc_grpc__send_cb);
    nghttp2_session_callbacks_set_send_data_callback(cb, send_data);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb,
                                                            on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
                                                              on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    *out = cb;
    return 0;
}
