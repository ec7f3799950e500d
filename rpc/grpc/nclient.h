/* A small asynchronous Nacos 2.x gRPC client on one libuv loop: what the
 * Java client does to connect (ServerCheck, bi-stream, ConnectionSetup,
 * wait for SetupAck), unary requests as Payloads, and answers to the
 * server's pushes (NotifySubscriberRequest, ClientDetectionRequest,
 * ConnectResetRequest). Used by the cluster plane's peer channels
 * (rpc/cluster/peers.c), `locusctl bench grpc` and tests. Thousands of
 * these share one loop; no thread, no blocking call. What the server sends
 * is validated: a bad answer fails the setup or the request, never the
 * process.
 */
#ifndef LC_RPC_GRPC_NCLIENT_H
#define LC_RPC_GRPC_NCLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct lc_nclient;

struct lc_nclient_cbs {
    void *data;
    /* Set up (status 0: ServerCheck answered, SetupAck received) or not
     * (an LC_E* code; closed follows). */
    void (*ready)(struct lc_nclient *c, int status, void *data);
    /* A NotifySubscriberRequest: its JSON text (@len bytes, borrowed
     * during the call; not parsed here, so that thousands of subscribers
     * on one loop stay cheap). It is acknowledged after this returns. */
    void (*push)(struct lc_nclient *c, const char *json, size_t len,
                 void *data);
    /* The connection is gone; the client is freed after this returns. */
    void (*closed)(struct lc_nclient *c, void *data);
    /* Optional: after ServerCheck answered (lc_nclient_id(c) is the
     * connection id) and before ConnectionSetupRequest goes, with the
     * setup's labels (an object, borrowed during the call: {"source":
     * "sdk", "module":"naming"}), which it may change. The cluster plane
     * writes its membership proof here. */
    void (*labels)(struct lc_nclient *c, json_t *labels, void *data);
    /* A ConnectResetRequest (optional): @server_ip and @server_port as the
     * server sent them (NULL when absent; the port is the main port, the
     * client adds 1000). It is answered and the client closed after this
     * returns; closed follows. */
    void (*reset)(struct lc_nclient *c, const char *server_ip,
                  const char *server_port, void *data);
};

/* Connect to the gRPC port @host:@port with the SDK labels (source "sdk",
 * module "naming"; see cbs->labels). @cbs copied. Connecting may take 10 s
 * and ServerCheck 5 s; the wait for SetupAck is not bounded (thousands of
 * benchmark clients set up at once). Return 0 (ready fires later) or
 * LC_E*. */
int lc_nclient_new(uv_loop_t *loop, const char *host, int port,
                   const struct lc_nclient_cbs *cbs, struct lc_nclient **out);

/* As lc_nclient_new, with the largest message accepted from the server
 * (@max_inbound bytes; 0: 10 MiB) and a deadline for the whole setup
 * (connect, ServerCheck, SetupAck: @setup_timeout_ms, 0: none), after which
 * ready fires with LC_ETIMEDOUT: a server that accepts the socket and then
 * says nothing (a stopped process) does not hold the client forever. */
int lc_nclient_new_limited(uv_loop_t *loop, const char *host, int port,
                           size_t max_inbound, unsigned setup_timeout_ms,
                           const struct lc_nclient_cbs *cbs,
                           struct lc_nclient **out);

/* The connection id from ServerCheck ("" before). */
const char *lc_nclient_id(const struct lc_nclient *c);

/* The gRPC session under the client, for raw calls (bench grpc puts). */
struct lc_grpc_client *lc_nclient_grpc(struct lc_nclient *c);

/* Close; closed fires from the loop. */
void lc_nclient_close(struct lc_nclient *c);

struct lc_nreq;
/* A request's end: @status 0 and the response (@type, @body borrowed during
 * the call; resultCode is the caller's to check), or an LC_E* code. */
typedef void (*lc_nreq_cb)(struct lc_nreq *r, int status, const char *type,
                           json_t *body);

struct lc_nreq {
    void *data;
    /* Skip parsing a successful response's JSON: @cb gets a body holding
     * only its resultCode (a subscription's answer carries the whole
     * service, which thousands of clients on one loop cannot afford to
     * parse). Failures are parsed in full. */
    bool lazy;
    /* private */
    lc_nreq_cb cb;
    void *priv[10];
};

/* Send request @type with @body (borrowed; "module" and "headers" are added
 * when absent). @r is borrowed until @cb. Return 0 or LC_E*. */
int lc_nclient_request(struct lc_nclient *c, struct lc_nreq *r,
                       const char *type, json_t *body, unsigned timeout_ms,
                       lc_nreq_cb cb);

/* As lc_nclient_request with the body already written as JSON text (@len
 * bytes, borrowed; it must carry "module" and "headers" itself): a load
 * generator that renders its requests with printf spends its loop on the
 * server's answers, not on building trees. */
int lc_nclient_request_text(struct lc_nclient *c, struct lc_nreq *r,
                            const char *type, const char *text, size_t len,
                            unsigned timeout_ms, lc_nreq_cb cb);

/* Metadata headers (an object of strings, copied; NULL: none) sent with
 * every request from now on, as the Java client sends "accessToken" with
 * each naming request when auth is on. Return 0 or LC_ENOMEM. */
int lc_nclient_set_headers(struct lc_nclient *c, const json_t *headers);

/* Whether a request's end (@status, @body of the callback) is a success:
 * a response arrived and its resultCode is 200. */
bool lc_nclient_ok(int status, const json_t *body);

/* The JSON of an Instance for @ip:@port (ephemeral, weight 1, healthy,
 * enabled, cluster DEFAULT); a new reference. */
json_t *lc_nclient_instance(const char *ip, int port, bool ephemeral);

#endif /* LC_RPC_GRPC_NCLIENT_H */
