/* Nacos's gRPC request layer over grpc.h: the Payload codec, the
 * connection manager (ServerCheck, ConnectionSetup, SetupAck, liveness,
 * ConnectReset, limits) and the request handler registry, as Nacos's
 * BaseGrpcServer, GrpcRequestAcceptor, GrpcBiStreamRequestAcceptor,
 * ConnectionManager and NacosRuntimeConnectionEjector do
 * (../shared/protocol.md §4, §6, §11.1-§11.5).
 *
 * One struct lc_rpc serves one port: LC_RPC_SDK (main + 1000) or
 * LC_RPC_CLUSTER (main + 1001). Handlers are registered per request type
 * with the ports they are allowed on; a type registered but not allowed on
 * this port answers ErrorResponse 500/502 " invoke <Type> from sdk is
 * forbidden" (cluster: "from cluster").
 *
 * Unary dispatch, in Nacos's order: not started (lc_rpc_set_started) ->
 * ErrorResponse 300 "Server is starting,please try later."; ServerCheck ->
 * answered with the connection id; no handler -> 302 "RequestHandler Not
 * Found"; connection not set up on the bi-stream -> 301 "Connection is
 * unregistered."; body not a JSON object -> 502; else the handler. A
 * payload that is not protobuf gets grpc-status INTERNAL.
 *
 * Connections. The id is "<millis>_<remoteIp>_<remotePort>", assigned when
 * the HTTP/2 session opens. A connection is registered once its bi-stream
 * carries ConnectionSetupRequest: SDK-source setups (labels.source "sdk")
 * are refused (session closed) while not started or over
 * max_sdk_connections, and any setup the config's admit hook refuses;
 * SetupAckRequest{abilityTable} is pushed when the setup carried an
 * abilityTable. Any message from the client refreshes its
 * last-active time. Every ejector_interval_ms connections idle for
 * idle_probe_ms get ClientDetectionRequest (probe_timeout_ms); no success
 * closes them. A closed connection (session gone, probe failed, reset,
 * refused) calls every conn-close observer once, with the connection still
 * readable.
 *
 * Server-to-client requests (lc_rpc_conn_request) get requestId from a
 * counter and wait for the response with the same requestId on the stream.
 */
#ifndef LC_RPC_GRPC_RPC_H
#define LC_RPC_GRPC_RPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/err.h"
#include "rpc/grpc/grpc.h"

/* ------------------------------------------------------------ payload */

/* A decoded Payload: metadata.type, metadata.clientIp, metadata.headers and
 * the body's JSON (Any.value). */
struct lc_payload {
    char *type;      /* "" when absent */
    char *client_ip; /* "" when absent */
    json_t *headers; /* object of strings, never NULL */
    char *body;      /* Any.value, NUL-terminated (NULL-free not checked) */
    size_t body_len;
};

/* Decode protobuf @buf. Return 0, LC_EPROTO (not a Payload) or LC_ENOMEM.
 * On 0 the caller frees with lc_payload_free. */
int lc_payload_decode(const uint8_t *buf, size_t len, struct lc_payload *p);
void lc_payload_free(struct lc_payload *p);

/* Parse the body as a JSON object (a new reference in *@out). Return 0 or
 * LC_EPROTO. */
int lc_payload_json(const struct lc_payload *p, json_t **out);

/* Encode a Payload of @type with @body (compact JSON; object members that
 * are null are left out, as Nacos's Jackson NON_NULL) and @headers (object
 * of strings, or NULL; other values skipped). *@out is malloc'd; the caller
 * frees. Return 0 or LC_ENOMEM. */
int lc_payload_encode(const char *type, const json_t *body,
                      const json_t *headers, uint8_t **out, size_t *len);

/* @body's JSON text as lc_payload_encode writes it (compact, null members
 * left out): a malloc'd string in *@text. Return 0 or LC_ENOMEM. */
int lc_payload_text(const json_t *body, char **text);

/* As lc_payload_encode, with the body already rendered: @text_len bytes of
 * @text (borrowed) become Any.value. */
int lc_payload_encode_text(const char *type, const char *text, size_t text_len,
                           const json_t *headers, uint8_t **out, size_t *len);

/* ------------------------------------------------------------- server */

enum lc_rpc_source { LC_RPC_SDK = 1, LC_RPC_CLUSTER = 2 };

struct lc_rpc;
struct lc_rpc_conn;
struct lc_rpc_req;

struct lc_rpc_config {
    enum lc_rpc_source source;   /* which port this is */
    struct lc_grpc_limits limits; /* transport limits */
    /* Registered SDK connections; 0: no limit. Nacos has no property for
     * it (its connection-control plugin's countLimit, -1 by default);
     * locus's is nacos.remote.server.grpc.sdk.max-connections. */
    unsigned max_sdk_connections;
    unsigned ejector_interval_ms; /* 3000 */
    unsigned idle_probe_ms;       /* 20000 */
    unsigned probe_timeout_ms;    /* 5000 */
    unsigned push_timeout_ms;     /* default for lc_rpc_conn_request: 3000 */
    /* Optional: asked at ConnectionSetupRequest, after the layer's own
     * checks, with the connection (not yet registered: its id and remote
     * address are set) and the setup's labels (string members only;
     * borrowed during the call). false: the session is closed without
     * registering, so requests on it answer 301 and change nothing, and
     * no observer runs. The cluster port checks its membership proof here
     * (rpc/cluster/peers.h). */
    bool (*admit)(struct lc_rpc_conn *c, const json_t *labels, void *data);
    void *admit_data;
};

/* Nacos's defaults above; @source as given. */
void lc_rpc_config_default(struct lc_rpc_config *cfg,
                           enum lc_rpc_source source);

/* Create the server on @loop (@cfg copied). NULL when out of memory. */
struct lc_rpc *lc_rpc_new(uv_loop_t *loop, const struct lc_rpc_config *cfg);

/* Listen on @host:@port. Return 0 or LC_E* (LC_EEXIST in use). */
int lc_rpc_listen(struct lc_rpc *r, const char *host, int port);

/* Until called, requests get 300 and SDK setups are refused. */
void lc_rpc_set_started(struct lc_rpc *r, bool started);

/* A handler answers its request exactly once, now or later, with
 * lc_rpc_reply or lc_rpc_reply_error. @req and what it points to stay valid
 * until then (also after its connection closed: the reply is dropped). */
typedef void (*lc_rpc_handler_cb)(struct lc_rpc_req *req, void *data);

/* Handle requests of @type ("InstanceRequest") allowed from @sources
 * (LC_RPC_SDK | LC_RPC_CLUSTER). @type copied. Return 0 or LC_EEXIST /
 * LC_ENOMEM. */
int lc_rpc_handle(struct lc_rpc *r, const char *type, unsigned sources,
                  lc_rpc_handler_cb cb, void *data);

/* The request. */
const char *lc_rpc_req_type(const struct lc_rpc_req *req);
json_t *lc_rpc_req_body(const struct lc_rpc_req *req); /* borrowed object */
const char *lc_rpc_req_header(const struct lc_rpc_req *req,
                              const char *name); /* metadata.headers */
/* metadata.headers as sent (an object of strings, borrowed, never NULL),
 * for lookups by exact name. */
json_t *lc_rpc_req_headers(const struct lc_rpc_req *req);
struct lc_rpc_conn *lc_rpc_req_conn(const struct lc_rpc_req *req);

/* Answer @body (borrowed; resultCode 200, errorCode 0, success true are
 * added when absent) as a Payload of @type ("InstanceResponse"). */
void lc_rpc_reply(struct lc_rpc_req *req, const char *type, json_t *body);

/* Answer with a body already rendered: @len bytes of JSON text @json
 * (borrowed), sent as they are (the caller writes resultCode, errorCode
 * and success), as a Payload of @type. For answers served from a cache of
 * renderings. */
void lc_rpc_reply_text(struct lc_rpc_req *req, const char *type,
                       const char *json, size_t len);

/* Answer a typed failure: @type's Response with resultCode 500, errorCode
 * lc_err_grpc_code(e->code), message e->msg, success false, as Nacos's
 * handlers do (response.setErrorInfo). @type NULL: ErrorResponse. */
void lc_rpc_reply_error(struct lc_rpc_req *req, const char *type,
                        const struct lc_err *e);

/* ---- connections ---- */

const char *lc_rpc_conn_id(const struct lc_rpc_conn *c);
const char *lc_rpc_conn_ip(const struct lc_rpc_conn *c);   /* remote */
int lc_rpc_conn_port(const struct lc_rpc_conn *c);         /* remote */
const char *lc_rpc_conn_version(const struct lc_rpc_conn *c);
const char *lc_rpc_conn_tenant(const struct lc_rpc_conn *c);
json_t *lc_rpc_conn_labels(const struct lc_rpc_conn *c); /* borrowed */
bool lc_rpc_conn_registered(const struct lc_rpc_conn *c);
bool lc_rpc_conn_sdk(const struct lc_rpc_conn *c); /* labels.source "sdk" */
uint64_t lc_rpc_conn_created_ms(const struct lc_rpc_conn *c);  /* wall */
uint64_t lc_rpc_conn_active_ms(const struct lc_rpc_conn *c);   /* loop */

/* Find a registered connection by id, or NULL. */
struct lc_rpc_conn *lc_rpc_conn_find(struct lc_rpc *r, const char *id);

/* Iterate registered connections: @cb for each (do not close from it). */
void lc_rpc_conn_each(struct lc_rpc *r,
                      void (*cb)(struct lc_rpc_conn *c, void *data),
                      void *data);
unsigned lc_rpc_conn_count(const struct lc_rpc *r, bool sdk_only);

/* Observe registered connections closing. @obs is borrowed until removed
 * (or the server is freed); its cb runs once per connection. */
struct lc_rpc_conn_observer {
    void (*closed)(struct lc_rpc_conn_observer *obs, struct lc_rpc_conn *c);
    void *data;
    struct lc_rpc_conn_observer *next; /* private */
};
void lc_rpc_observe(struct lc_rpc *r, struct lc_rpc_conn_observer *obs);

/* A server-to-client request's end: @e NULL and @body the response JSON
 * (borrowed during the callback; success or not is the caller's to read),
 * or @e the failure (LC_ETIMEDOUT, LC_ECONN, LC_EBUSY, LC_ECANCELED). */
struct lc_rpc_push;
typedef void (*lc_rpc_push_cb)(struct lc_rpc_push *p, const struct lc_err *e,
                               const char *resp_type, json_t *body);

struct lc_rpc_push {
    void *data;
    /* private */
    lc_rpc_push_cb cb;
    void *priv[8];
};

/* Send request @type with @body (borrowed; requestId and module are the
 * caller's business except requestId, which is set here) on @c's
 * bi-stream; @cb fires once, from the loop, never from inside this call
 * (a failure to queue fires it from the loop too). @timeout_ms 0: the
 * config's push_timeout_ms. @p is borrowed until @cb. Return 0 or LC_E*
 * (then @cb never fires). */
int lc_rpc_conn_request(struct lc_rpc_conn *c, struct lc_rpc_push *p,
                        const char *type, json_t *body, unsigned timeout_ms,
                        lc_rpc_push_cb cb);

/* A request body rendered once for many connections, as a push of one
 * service view to all its subscribers: each connection's message differs
 * only by its requestId, spliced in front of the shared JSON text instead
 * of rendering the JSON again per connection. */
struct lc_rpc_body;

/* Render @type and @body (a JSON object, borrowed; its requestId, if any,
 * is replaced per connection). Return 0 or LC_EINVAL / LC_ENOMEM; the
 * caller frees *@out with lc_rpc_body_free, which may come before the
 * requests it started end. */
int lc_rpc_body_new(const char *type, const json_t *body,
                    struct lc_rpc_body **out);
void lc_rpc_body_free(struct lc_rpc_body *b);

/* As lc_rpc_conn_request with a body made by lc_rpc_body_new. */
int lc_rpc_conn_request_body(struct lc_rpc_conn *c, struct lc_rpc_push *p,
                             const struct lc_rpc_body *b, unsigned timeout_ms,
                             lc_rpc_push_cb cb);

/* Cancel a pending request: @cb does not fire. */
void lc_rpc_push_cancel(struct lc_rpc_push *p);

/* Send ConnectResetRequest (with @server_ip/@server_port when not NULL)
 * and close the connection after the reply or its timeout. */
int lc_rpc_conn_reset(struct lc_rpc_conn *c, const char *server_ip,
                      const char *server_port);

/* Close the connection now (observers run). */
void lc_rpc_conn_close(struct lc_rpc_conn *c);

/* Counters for metrics. */
struct lc_rpc_stats {
    unsigned connections;     /* registered */
    unsigned sdk_connections; /* registered, source sdk */
    unsigned sessions;        /* HTTP/2 sessions, registered or not */
    uint64_t refused;         /* setups refused + sessions over the limit */
    uint64_t requests;        /* unary requests handled */
    uint64_t probes_failed;   /* connections closed by the ejector */
};
void lc_rpc_stats(const struct lc_rpc *r, struct lc_rpc_stats *out);

typedef void (*lc_rpc_close_cb)(struct lc_rpc *r, void *data);

/* GOAWAY every connection, close them (observers run), free the server,
 * then @cb. */
void lc_rpc_close(struct lc_rpc *r, lc_rpc_close_cb cb, void *data);

#endif /* LC_RPC_GRPC_RPC_H */
