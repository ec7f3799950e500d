/* Private to rpc.c and conn.c: the request layer's structures. */
#ifndef LC_RPC_GRPC_RPC_INTERNAL_H
#define LC_RPC_GRPC_RPC_INTERNAL_H

#include <uthash.h>

#include "rpc/grpc/rpc.h"

/* Server-to-client requests waiting for their response, per connection. */
#define LC_RPC_MAX_PENDING 1024

struct lc_rpc_handler {
    char *type;
    unsigned sources;
    lc_rpc_handler_cb cb;
    void *data;
    UT_hash_handle hh;
};

/* One server-to-client request in flight (lc_rpc_conn_request). Its timer
 * is the request's deadline, and also how a failure is reported from the
 * loop: restarted with timeout 0 and @err set. Freed in the timer's close
 * callback, which drops the connection reference it holds. */
struct lc_rpc_pending {
    struct lc_rpc_push *push; /* NULL once completed or canceled */
    struct lc_rpc_conn *conn; /* referenced */
    uint64_t id;              /* requestId */
    int err;                  /* what the timer reports; 0: LC_ETIMEDOUT */
    bool linked;              /* in conn->pending and rpc->pending */
    uv_timer_t timer;
    struct lc_rpc_pending *prev, *next; /* conn->pending */
    UT_hash_handle hh;                  /* rpc->pending, by id */
};

/* One HTTP/2 session. Lives while the session is open, and after that as
 * long as an unreplied request or a pending push refers to it (refs). */
struct lc_rpc_conn {
    struct lc_rpc *rpc;
    struct lc_grpc_conn *gc;       /* NULL once the session is gone */
    struct lc_grpc_stream *stream; /* the setup's bi-stream, or NULL */
    char id[96];
    char ip[64];
    int port;
    char *version;       /* "" until setup */
    char *tenant;        /* "" until setup */
    char *client_ip;     /* metadata.clientIp of the setup, "" until then */
    json_t *labels;      /* {} until setup */
    bool registered;     /* in rpc->conns */
    bool sdk;            /* labels.source "sdk" */
    bool closed;         /* closing or closed: no more registration */
    bool probing;        /* a ClientDetectionRequest is out */
    uint64_t created_ms; /* wall */
    uint64_t active_ms;  /* loop */
    unsigned refs;       /* the session + unreplied requests + pending */
    unsigned npending;
    struct lc_rpc_pending *pending;  /* in flight, list */
    struct lc_rpc_conn *prev, *next; /* rpc->sessions */
    UT_hash_handle hh;               /* rpc->conns, when registered */
};

struct lc_rpc_req {
    struct lc_rpc *rpc;
    struct lc_rpc_conn *conn; /* referenced */
    struct lc_grpc_call *call;
    struct lc_payload payload;
    json_t *body;
};

struct lc_rpc {
    uv_loop_t *loop;
    struct lc_rpc_config cfg;
    struct lc_grpc_server *srv; /* NULL once closed */
    bool started;
    bool closing;
    bool ejector_closed;
    struct lc_rpc_handler *handlers;        /* by type */
    struct lc_rpc_conn *conns;              /* registered, by id */
    struct lc_rpc_conn *sessions;           /* every session, list */
    struct lc_rpc_pending *pending;         /* by requestId */
    struct lc_rpc_conn_observer *observers; /* list */
    unsigned nconns;                        /* registered */
    unsigned nsdk;                          /* registered, sdk */
    unsigned nsessions;                     /* open sessions */
    unsigned nlive;                         /* struct lc_rpc_conn allocated */
    uint64_t next_id;                       /* last requestId given */
    uint64_t refused;
    uint64_t requests;
    uint64_t probes_failed;
    uv_timer_t ejector;
    lc_rpc_close_cb close_cb;
    void *close_data;
};

/* conn.c: the transport's session and stream callbacks. */
void lc__rpc_on_conn_open(struct lc_grpc_conn *gc, void *data);
void lc__rpc_on_conn_close(struct lc_grpc_conn *gc, void *data);
void lc__rpc_on_stream_msg(struct lc_grpc_stream *s, const uint8_t *msg,
                           size_t len, void *data);
void lc__rpc_on_stream_close(struct lc_grpc_stream *s, void *data);

/* conn.c: the ejector's tick. */
void lc__rpc_eject(struct lc_rpc *r);

/* conn.c: drop a reference; the last one frees @c (and may finish
 * lc_rpc_close). */
void lc__rpc_conn_unref(struct lc_rpc_conn *c);

/* rpc.c: free the server if it is closing and nothing is left. */
void lc__rpc_maybe_destroy(struct lc_rpc *r);

#endif /* LC_RPC_GRPC_RPC_INTERNAL_H */
