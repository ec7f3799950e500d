/* Private to naming/grpc/: the handlers, the request decoding they share
 * (request.c) and the gRPC push transport (push_grpc.c). */
#ifndef LC_NAMING_GRPC_HANDLERS_H
#define LC_NAMING_GRPC_HANDLERS_H

#include <jansson.h>

#include "naming/grpc/routes.h"
#include "naming/ops/ops.h"
#include "naming/push/transport.h"
#include "rpc/grpc/rpc.h"

struct grpc_target;

struct lc_naming_grpc {
    struct lc_naming *n;
    struct lc_rpc *rpc; /* NULL once detached (closed) */
    struct lc_rpc_conn_observer obs;
    /* The push transport, NULL once the engine closed it (or without a
     * push engine). */
    struct lc_push_grpc *push;
    struct lc_auth *auth; /* lc_naming_grpc_set_auth, or NULL */
};

/* ------------------------------------------------------------ decoding */

/* A naming request's service: namespace ("" or absent: public),
 * groupName and the bare serviceName, both required (Nacos's
 * NamingUtils.getGroupedName: LC_ESERVER "Param 'serviceName' is illegal,
 * serviceName is blank"), into @r's ns and names (no instance). */
int lc_ng_service(json_t *body, struct lc_instance_req *r, struct lc_err *e);

/* The parameter checker's view of @body's service (namespace, group,
 * service; @clusters: the request's cluster list or NULL): LC_ECHECK with
 * "Param check invalid:<checker's message>". */
int lc_ng_check_service(json_t *body, const char *clusters, struct lc_err *e);

/* The Instance JSON @inst into @r (whose service is set): ip, port, weight,
 * healthy, enabled, ephemeral, clusterName (blank: DEFAULT), metadata and
 * instanceId (blank: Nacos's simple id), checked by the parameter checker
 * (ip, port, cluster, metadata; LC_ECHECK "Param check invalid:..."); the
 * service may be unknown yet (lc_ng_instance_id once it is). On success
 * r->metadata is set (the caller frees it, also on failure). */
int lc_ng_instance(json_t *inst, struct lc_instance_req *r, struct lc_err *e);

/* InstanceUtil.setInstanceIdIfEmpty: Nacos's simple id when the instance
 * gave none (r's service set). */
void lc_ng_instance_id(struct lc_instance_req *r);

/* A string member of @o, or NULL when absent or not a string. */
const char *lc_ng_str(json_t *o, const char *key);

/* Answer @req with @e as Nacos does: a parameter check failure as the
 * handler's own response type @type, anything else as ErrorResponse. */
void lc_ng_fail(struct lc_rpc_req *req, const char *type,
                const struct lc_err *e);

/* ------------------------------------------------------------ handlers */

/* Each one a request type; @data is the struct lc_naming_grpc. */
void lc_ng_on_instance(struct lc_rpc_req *req, void *data);
void lc_ng_on_batch_instance(struct lc_rpc_req *req, void *data);
void lc_ng_on_persistent_instance(struct lc_rpc_req *req, void *data);
void lc_ng_on_service_query(struct lc_rpc_req *req, void *data);
void lc_ng_on_subscribe(struct lc_rpc_req *req, void *data);
void lc_ng_on_service_list(struct lc_rpc_req *req, void *data);

/* ------------------------------------------------------- push transport */

struct lc_push_grpc;

/* The transport: NotifySubscriberRequest on the connection's bi-stream,
 * acked by the response (ack timeout 5000 ms, no resend, a failed push
 * retried after 1000 ms). Registered with @g->n's push engine, which closes
 * it; @g->push is cleared then. Return 0 or an LC_E* code. */
int lc_push_grpc_new(struct lc_naming_grpc *g);

/* Subscribe connection @c to @s (strings copied), or refresh. */
int lc_push_grpc_subscribe(struct lc_push_grpc *pg, struct lc_rpc_conn *c,
                           const struct lc_push_subscriber *s);

/* Drop @conn_id's subscription to @key (no-op if none). */
void lc_push_grpc_unsubscribe(struct lc_push_grpc *pg, const char *conn_id,
                              const struct lc_service_key *key);

/* Connection @conn_id closed: its subscriptions and deliveries go. */
void lc_push_grpc_conn_closed(struct lc_push_grpc *pg, const char *conn_id);

/* Subscriptions held by @conn_id. */
unsigned lc_push_grpc_count(struct lc_push_grpc *pg, const char *conn_id);

#endif /* LC_NAMING_GRPC_HANDLERS_H */
