/* Private to the rpc/grpc/ sources, their tests and the fuzzer: gRPC framing,
 * output queues, the write pump shared by server and client, and the server's
 * structures. */
#ifndef LC_RPC_GRPC_INTERNAL_H
#define LC_RPC_GRPC_INTERNAL_H

#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <uv.h>

#include "rpc/grpc/grpc.h"

#define LC_GRPC__PATH_UNARY "/Request/request"
#define LC_GRPC__PATH_BIDI "/BiRequestStream/requestBiStream"
#define LC_GRPC__DEFAULT_MAX_INBOUND (10 * 1024 * 1024)

#define LC_GRPC__NV(NAME, VALUE)                                               \
    {                                                                          \
        (uint8_t *)(NAME), (uint8_t *)(VALUE), sizeof(NAME) - 1,               \
            sizeof(VALUE) - 1,                                                 \
            NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE       \
    }

/* ---------------------------------------------------------------- framing */

/* Reassembles gRPC messages (5-byte prefix, then the bytes) from DATA
 * chunks of any size. Never holds more than one message: the prefix's
 * length is checked before anything is buffered, and the buffer grows as
 * bytes arrive (a prefix alone allocates nothing). Zero it to start. */
struct lc_grpc__framer {
    uint8_t hdr[5];
    uint8_t hdr_len; /* prefix bytes seen of the current message */
    uint8_t *buf;    /* the message so far, malloc'd */
    size_t len;      /* bytes in @buf */
    size_t cap;
    size_t need; /* the message's length, once the prefix is complete */
};

/* One whole message: @msg (malloc'd, or NULL when @len is 0) is the
 * callee's. Return 0 to go on, anything else to stop feeding (returned by
 * lc_grpc__framer_feed). */
typedef int (*lc_grpc__msg_cb)(void *arg, uint8_t *msg, size_t len);

/* Feed @len bytes. Return 0, LC_ENOTSUP (compressed flag), LC_ETOOBIG
 * (longer than @max_inbound), LC_ENOMEM, or what @cb returned. After an
 * error the framer must not be fed again. */
int lc_grpc__framer_feed(struct lc_grpc__framer *f, const uint8_t *data,
                         size_t len, size_t max_inbound, lc_grpc__msg_cb cb,
                         void *arg);

/* True when part of a message has been fed. */
bool lc_grpc__framer_partial(const struct lc_grpc__framer *f);

void lc_grpc__framer_free(struct lc_grpc__framer *f);

/* ----------------------------------------------------------- output queue */

struct lc_grpc__chunk {
    struct lc_grpc__chunk *next;
    size_t len;
    size_t off;
    uint8_t data[];
};

/* Framed messages waiting for a stream's data provider. */
struct lc_grpc__outq {
    struct lc_grpc__chunk *head;
    struct lc_grpc__chunk *tail;
    size_t bytes; /* unread bytes, prefixes included */
};

/* Append @msg (@len bytes, copied) with its prefix. Return 0 or LC_ENOMEM. */
int lc_grpc__outq_push(struct lc_grpc__outq *q, const uint8_t *msg, size_t len);

/* Move up to @len bytes into @buf; return how many. */
size_t lc_grpc__outq_read(struct lc_grpc__outq *q, uint8_t *buf, size_t len);

void lc_grpc__outq_free(struct lc_grpc__outq *q);

/* ------------------------------------------------------------ write pump */

struct lc_grpc__io;
typedef void (*lc_grpc__io_cb)(struct lc_grpc__io *io, int status);

/* A TCP connection and its nghttp2 session. The owner (server connection
 * or client) starts with this struct, so that nghttp2's user_data and the
 * handle's data are the owner and the io at once. */
struct lc_grpc__io {
    uv_tcp_t tcp;
    nghttp2_session *session;
    lc_grpc__io_cb written; /* a write finished: pump again */
    size_t wbytes;          /* bytes handed to uv_write, not yet written */
    unsigned writes;        /* uv_write requests in flight */
    bool sink;              /* no socket: output is dropped (the fuzzer) */
    bool pumping;
};

/* Move what nghttp2 has to send onto the socket, until it has nothing or
 * LC_GRPC__PUMP_HIGH bytes are in flight (the write callback pumps again).
 * Callbacks of nghttp2 (so the owner's callbacks) may run. Return 0, or an
 * LC_E* code when the session failed (the owner tears it down). */
int lc_grpc__io_pump(struct lc_grpc__io *io);
#define LC_GRPC__PUMP_HIGH (256 * 1024)

/* Write @len raw bytes (copied). Return 0 or LC_ENOMEM / LC_ECONN. */
int lc_grpc__io_write(struct lc_grpc__io *io, const uint8_t *buf, size_t len);

/* True when nghttp2 is done with the session (both sides finished, GOAWAY
 * exchanged) and nothing is being written. */
bool lc_grpc__io_finished(const struct lc_grpc__io *io);

/* libuv read buffers: one per thread, as input is consumed at once. */
void lc_grpc__alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

/* The nghttp2 send callback (user_data is a struct lc_grpc__io). */
/* nghttp2's send_data_callback body for NGHTTP2_DATA_FLAG_NO_COPY: put
 * the frame header @framehd, @length bytes of @q and @padlen padding into
 * the pump's staging buffer. Return 0 or NGHTTP2_ERR_WOULDBLOCK (no room
 * now: nghttp2 offers the frame again on the next pass). */
int lc_grpc__send_data(const uint8_t *framehd, size_t length, size_t padlen,
                       struct lc_grpc__outq *q);

ssize_t lc_grpc__send_cb(nghttp2_session *session, const uint8_t *data,
                         size_t length, int flags, void *user_data);

/* --------------------------------------------------------------- headers */

/* Parse a grpc-timeout value ("<1-8 digits><H|M|S|m|u|n>") into
 * milliseconds, rounded up (at least 1). Return 0 or LC_EINVAL. */
int lc_grpc__timeout_parse(const uint8_t *v, size_t len, uint64_t *ms);

/* Format @ms as a grpc-timeout value into @out (16 bytes). */
void lc_grpc__timeout_format(uint64_t ms, char out[16]);

/* Percent-encode @msg for grpc-message (bytes outside 0x20..0x7e, and '%')
 * into a malloc'd string; NULL when out of memory. */
char *lc_grpc__pct_encode(const char *msg);

/* Decode @len bytes of a grpc-message into a malloc'd C string; NULL when
 * out of memory. */
char *lc_grpc__pct_decode(const uint8_t *v, size_t len);

/* ---------------------------------------------------------------- server */

struct sstream_list {
    struct lc_grpc_stream *head;
};

struct lc_grpc_server {
    uv_loop_t *loop;
    struct lc_grpc_limits limits;
    struct lc_grpc_server_cbs cbs;
    uv_tcp_t listener;
    uv_idle_t idle;       /* runs deferred work (dirty sessions) */
    uv_timer_t deadlines; /* unary calls' grpc-timeout */
    uv_timer_t grace;     /* lc_grpc_server_close's wait */
    nghttp2_session_callbacks *callbacks;
    nghttp2_option *option;
    struct lc_grpc_conn *conns;   /* open sessions */
    struct lc_grpc_conn *dirty;   /* sessions with deferred work */
    struct lc_grpc_stream *timed; /* unanswered unary calls with deadline */
    uint64_t refused;
    unsigned nconns;  /* open sessions */
    unsigned nallocs; /* connections not yet freed (open, closing, refused) */
    unsigned handles; /* own handles not yet closed */
    unsigned unanswered; /* unary calls not answered on the wire */
    int port;
    bool listening;
    bool closing;
    bool draining; /* close: past the grace period */
    bool close_done;
    bool sink; /* the fuzzer's: no handles */
    lc_grpc_server_close_cb close_cb;
    void *close_data;
};

struct lc_grpc_conn {
    struct lc_grpc__io io; /* first */
    struct lc_grpc_server *srv;
    struct lc_grpc_conn *next, *prev; /* srv->conns */
    struct lc_grpc_conn *dirty_next;
    struct lc_grpc_stream *streams;
    void *data;
    size_t queued;       /* bytes in the streams' output queues */
    uint64_t ping_ok_ms; /* the last ping that was not a strike */
    unsigned ping_strikes;
    char ip[48];
    int rport;
    int lport;
    bool in_dirty;
    bool close_req;   /* lc_grpc_conn_close */
    bool flush_close; /* close once the output is written */
    bool dead;        /* torn down, waiting for the handle's close */
    bool counted;     /* in srv->nconns */
};

enum { SS_NEW, SS_UNARY, SS_BIDI, SS_DONE };

struct lc_grpc_stream {
    struct lc_grpc_conn *conn;
    struct lc_grpc_stream *next, *prev;   /* conn->streams */
    struct lc_grpc_stream *tnext, *tprev; /* srv->timed */
    struct lc_grpc_call *call;
    struct lc_grpc__framer in;
    struct lc_grpc__outq out;
    uint8_t *msg; /* a unary call's request */
    size_t msg_len;
    uint64_t deadline; /* uv_now ms, 0: none */
    char *message;     /* trailers' grpc-message, encoded */
    int32_t id;
    int status; /* trailers' grpc-status */
    uint8_t kind;
    uint8_t route; /* SS_UNARY / SS_BIDI from :path, SS_NEW for others */
    bool has_msg;
    bool responded;     /* response HEADERS submitted */
    bool ending;        /* trailers follow the queue */
    bool deferred;      /* the data provider said DEFERRED */
    bool remote_closed; /* END_STREAM received */
    bool opened;        /* stream_open ran: stream_close is owed */
    bool timed_in;
};

struct lc_grpc_call {
    struct lc_grpc_conn *conn; /* NULL once the session is gone */
    struct lc_grpc_stream *ss; /* NULL once answered or gone */
};

/* server.c: mark @c as having deferred work (pump, close) for the loop. */
void lc_grpc__conn_dirty(struct lc_grpc_conn *c);

/* server_h2.c */
int lc_grpc__server_callbacks(nghttp2_session_callbacks **out);
/* Detach or close every stream of @c (stream_close for bidi streams). */
void lc_grpc__conn_streams_gone(struct lc_grpc_conn *c);
/* Answer @ss with trailers (@status, @message) after its queued output,
 * or trailers-only when nothing was sent. */
void lc_grpc__stream_finish(struct lc_grpc_stream *ss, int status,
                            const char *message);
void lc_grpc__deadlines_cb(uv_timer_t *t);
/* Fail every unanswered unary call of @srv with @status. */
void lc_grpc__fail_unanswered(struct lc_grpc_server *srv, int status,
                              const char *message);

/* Feed @len bytes to a server session that writes nowhere (created and
 * torn down within), for the fuzzer. */
void lc_grpc__fuzz_session(const uint8_t *data, size_t len);

/* Whether the header name @name (@len bytes, not NUL-terminated) is
 * @want. */
static inline bool lc_grpc__name_is(const uint8_t *name, size_t len,
                                    const char *want)
{
    return len == strlen(want) && memcmp(name, want, len) == 0;
}

#endif /* LC_RPC_GRPC_INTERNAL_H */
