/* gRPC over cleartext HTTP/2 (nghttp2) on libuv: the server behind ports
 * 9848 (SDK) and 9849 (cluster), and a client for tests, benchmarks and
 * (next) the cluster's member links. This layer moves opaque gRPC messages;
 * it knows nothing of Nacos (payload.h and rpc.h sit on top).
 *
 * Server. Each accepted TCP connection is one HTTP/2 session (prior
 * knowledge, no TLS, no h2c upgrade). A request stream is routed by its
 * :path:
 *   "/Request/request"                  unary: one message in, one out
 *   "/BiRequestStream/requestBiStream"  bidirectional: messages both ways
 *                                       until either side ends it
 * Anything else is answered with grpc-status 12 UNIMPLEMENTED. Messages are
 * the 5-byte gRPC prefix (compressed flag, big-endian length) and the bytes;
 * a compressed message (flag 1; no grpc-encoding is negotiated) gets 12
 * UNIMPLEMENTED, a message longer than limits.max_inbound gets 8
 * RESOURCE_EXHAUSTED, both with grpc-message and the stream reset. A
 * unary stream with zero or two messages gets 13 INTERNAL. grpc-timeout on
 * a unary call is honoured: unanswered when it passes, the call gets 4
 * DEADLINE_EXCEEDED and the handler's later reply is dropped.
 *
 * Flow control is nghttp2's: windows are opened as the application
 * consumes data, and the server never buffers more than
 * limits.max_conn_outbuf bytes of unsent output per connection; a send
 * beyond that fails with LC_EBUSY (the caller decides: a push is retried
 * later, a unary reply is still queued). PING frames are answered;
 * malformed frames close the session with GOAWAY(PROTOCOL_ERROR); a
 * client pinging faster than limits.min_ping_interval_ms is sent
 * GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings") as grpc-java does.
 * lc_grpc_server_close() sends GOAWAY(NO_ERROR) to every session, so
 * clients move to another member, waits for in-flight unary calls up to
 * its grace period, then closes.
 *
 * Connections beyond limits.max_connections are accepted and closed at
 * once (the client sees the refusal as a closed connection, as Nacos's
 * connection limit does), and counted.
 *
 * Every callback runs on the server's loop, never from inside an lc_grpc_*
 * call the application made (no re-entrancy).
 */
#ifndef LC_RPC_GRPC_H
#define LC_RPC_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* grpc-status codes used here. */
enum {
    LC_GRPC_OK = 0,
    LC_GRPC_CANCELLED = 1,
    LC_GRPC_UNKNOWN = 2,
    LC_GRPC_INVALID_ARGUMENT = 3,
    LC_GRPC_DEADLINE_EXCEEDED = 4,
    LC_GRPC_RESOURCE_EXHAUSTED = 8,
    LC_GRPC_UNIMPLEMENTED = 12,
    LC_GRPC_INTERNAL = 13,
    LC_GRPC_UNAVAILABLE = 14,
};

struct lc_grpc_server;
struct lc_grpc_conn;   /* one HTTP/2 session (a TCP connection) */
struct lc_grpc_call;   /* one unary call, until replied */
struct lc_grpc_stream; /* one bidirectional stream, until closed */

struct lc_grpc_limits {
    size_t max_inbound;           /* one message's bytes (10 MiB) */
    unsigned max_connections;     /* open sessions (10000) */
    size_t max_conn_outbuf;       /* unsent bytes per session (4 MiB) */
    unsigned max_concurrent_streams; /* SETTINGS (100) */
    unsigned min_ping_interval_ms; /* permit-keep-alive-time (300000) */
    unsigned grace_ms;            /* in-flight unary calls at close (1000) */
};

/* Fill @limits with the defaults given above. */
void lc_grpc_limits_default(struct lc_grpc_limits *limits);

/* What the server tells its application. All callbacks are optional but
 * unary (NULL: every unary call gets UNIMPLEMENTED). Pointers passed are
 * valid until the matching close callback returns (conn, stream) or the
 * call is replied (call); message bytes only during the callback. */
struct lc_grpc_server_cbs {
    void *data;
    /* A session is up (its peer address is known). */
    void (*conn_open)(struct lc_grpc_conn *c, void *data);
    /* A session is gone (peer closed, error, GOAWAY, lc_grpc_conn_close,
     * server close). Its streams' stream_close ran before; its unreplied
     * calls stay valid until replied (the reply is dropped). */
    void (*conn_close)(struct lc_grpc_conn *c, void *data);
    /* A unary call's request message. Reply exactly once, now or later. */
    void (*unary)(struct lc_grpc_call *call, const uint8_t *msg, size_t len,
                  void *data);
    /* A bidirectional stream opened (its headers arrived). */
    void (*stream_open)(struct lc_grpc_stream *s, void *data);
    /* One message on a stream. */
    void (*stream_msg)(struct lc_grpc_stream *s, const uint8_t *msg,
                       size_t len, void *data);
    /* The stream ended (either side, reset, or its session closed). After
     * this returns the stream is freed; lc_grpc_stream_send on it is not
     * allowed. */
    void (*stream_close)(struct lc_grpc_stream *s, void *data);
};

/* Create a server on @loop. @limits (NULL: defaults) and @cbs are copied.
 * Return NULL when out of memory. */
struct lc_grpc_server *lc_grpc_server_new(uv_loop_t *loop,
                                          const struct lc_grpc_limits *limits,
                                          const struct lc_grpc_server_cbs *cbs);

/* Bind and listen on @host:@port. Return 0 or an LC_E* code (LC_EEXIST when
 * the address is in use). */
int lc_grpc_server_listen(struct lc_grpc_server *srv, const char *host,
                          int port);

/* The bound port (useful after listening on port 0). */
int lc_grpc_server_port(const struct lc_grpc_server *srv);

/* Open sessions, and sessions refused over max_connections since start. */
unsigned lc_grpc_server_conn_count(const struct lc_grpc_server *srv);
uint64_t lc_grpc_server_refused(const struct lc_grpc_server *srv);

typedef void (*lc_grpc_server_close_cb)(struct lc_grpc_server *srv,
                                        void *data);

/* Stop accepting, GOAWAY every session, wait for unreplied unary calls up
 * to limits.grace_ms (then UNAVAILABLE), close every session (conn_close
 * runs for each), then call @cb; the server is freed after @cb returns. */
void lc_grpc_server_close(struct lc_grpc_server *srv,
                          lc_grpc_server_close_cb cb, void *data);

/* ---- sessions ---- */

/* Peer address ("127.0.0.1") and port; local port. */
const char *lc_grpc_conn_remote_ip(const struct lc_grpc_conn *c);
int lc_grpc_conn_remote_port(const struct lc_grpc_conn *c);
int lc_grpc_conn_local_port(const struct lc_grpc_conn *c);

/* The application's pointer for this session (NULL at first). */
void lc_grpc_conn_set_data(struct lc_grpc_conn *c, void *data);
void *lc_grpc_conn_data(const struct lc_grpc_conn *c);

/* Unsent output bytes queued on the session. */
size_t lc_grpc_conn_outbuf(const struct lc_grpc_conn *c);

/* GOAWAY and close the session (conn_close follows, from the loop). */
void lc_grpc_conn_close(struct lc_grpc_conn *c);

/* ---- unary calls ---- */

struct lc_grpc_conn *lc_grpc_call_conn(const struct lc_grpc_call *call);

/* Reply with one message (@msg copied) and grpc-status 0. The call is
 * freed. When the session or stream is gone, or the deadline passed, the
 * reply is dropped (and still frees the call). */
void lc_grpc_call_reply(struct lc_grpc_call *call, const uint8_t *msg,
                        size_t len);

/* Reply with no message and grpc-status @status, grpc-message @message
 * (copied, percent-encoded on the wire). The call is freed. */
void lc_grpc_call_fail(struct lc_grpc_call *call, int status,
                       const char *message);

/* ---- bidirectional streams ---- */

struct lc_grpc_conn *lc_grpc_stream_conn(const struct lc_grpc_stream *s);

/* Queue one message (@msg copied) on @s. Return 0, LC_EBUSY when the
 * session's unsent output would pass max_conn_outbuf (nothing queued), or
 * LC_ECONN when the stream is ending. */
int lc_grpc_stream_send(struct lc_grpc_stream *s, const uint8_t *msg,
                        size_t len);

/* End the stream with grpc-status @status (stream_close follows). */
void lc_grpc_stream_end(struct lc_grpc_stream *s, int status,
                        const char *message);

/* ------------------------------------------------------------------ client
 *
 * One HTTP/2 session per lc_grpc_client, connected by lc_grpc_client_new
 * and never reconnected (the application makes a new one). Unary calls and
 * bidirectional streams multiplex on it. Used by tests, locusctl bench and
 * the cluster's member links.
 */

struct lc_grpc_client;
struct lc_grpc_ccall;
struct lc_grpc_cstream;

struct lc_grpc_client_cbs {
    void *data;
    /* Connected (status 0) or failed to (LC_ECONN, LC_ETIMEDOUT). */
    void (*connected)(struct lc_grpc_client *cl, int status, void *data);
    /* The session ended (peer close, GOAWAY, error, lc_grpc_client_close).
     * Pending calls' callbacks ran before, with LC_ECONN / LC_ECANCELED;
     * streams' closed callbacks too. The client is freed after this
     * returns. */
    void (*closed)(struct lc_grpc_client *cl, void *data);
};

/* Connect to @host:@port. @cbs copied. @max_inbound bounds a received
 * message (0: 10 MiB). Return 0 or LC_ENOMEM / LC_EINVAL; connected fires
 * later either way on 0. */
int lc_grpc_client_new(uv_loop_t *loop, const char *host, int port,
                       size_t max_inbound,
                       const struct lc_grpc_client_cbs *cbs,
                       struct lc_grpc_client **out);

/* Close (GOAWAY, then the socket); closed fires from the loop. */
void lc_grpc_client_close(struct lc_grpc_client *cl);

/* The local port of the connection (after connected). */
int lc_grpc_client_local_port(const struct lc_grpc_client *cl);

/* A unary call's end: @status is 0 and @msg/@len the reply (valid during
 * the callback), or @grpc_status != 0 with @message, or @status an LC_E*
 * (LC_ECONN, LC_ETIMEDOUT, LC_ECANCELED) with no reply. */
typedef void (*lc_grpc_ccall_cb)(struct lc_grpc_ccall *call, int status,
                                 int grpc_status, const char *message,
                                 const uint8_t *msg, size_t len);

struct lc_grpc_ccall {
    void *data;
    /* private */
    lc_grpc_ccall_cb cb;
    void *priv[6];
};

/* Start a unary call on @path with @msg (copied) and grpc-timeout
 * @timeout_ms (0: none; the client also fails the call at the deadline).
 * @call is borrowed until its callback fires. Return 0 or LC_E*. */
int lc_grpc_client_unary(struct lc_grpc_client *cl, struct lc_grpc_ccall *call,
                         const char *path, const uint8_t *msg, size_t len,
                         unsigned timeout_ms, lc_grpc_ccall_cb cb);

struct lc_grpc_cstream_cbs {
    void *data;
    void (*msg)(struct lc_grpc_cstream *s, const uint8_t *msg, size_t len,
                void *data);
    /* Ended: @grpc_status from the trailers, or -1 with @status an LC_E*
     * when the stream was reset or the session closed. @s is freed after
     * this returns. */
    void (*closed)(struct lc_grpc_cstream *s, int status, int grpc_status,
                   const char *message, void *data);
};

/* Open a bidirectional stream on @path. @cbs copied. Return 0 or LC_E*. */
int lc_grpc_client_stream(struct lc_grpc_client *cl, const char *path,
                          const struct lc_grpc_cstream_cbs *cbs,
                          struct lc_grpc_cstream **out);

/* Queue a message (@msg copied). Return 0 or LC_EBUSY / LC_ECONN. */
int lc_grpc_cstream_send(struct lc_grpc_cstream *s, const uint8_t *msg,
                         size_t len);

/* Half-close our side (END_STREAM). */
void lc_grpc_cstream_end(struct lc_grpc_cstream *s);

/* Raw bytes straight onto the socket, for tests that send malformed HTTP/2
 * (not framed, not checked). Return 0 or LC_ECONN. */
int lc_grpc_client_write_raw(struct lc_grpc_client *cl, const uint8_t *buf,
                             size_t len);

#endif /* LC_RPC_GRPC_H */
