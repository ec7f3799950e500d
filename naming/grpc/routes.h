/* Naming over gRPC (naming/grpc/): Nacos 2.x's naming request handlers on
 * an lc_rpc server, and the push of NotifySubscriberRequest to subscribed
 * connections. The public face of naming/grpc/.
 *
 * Handlers (one route table, routes.c), registered on the lc_rpc given with
 * the sources Nacos allows them from (SDK and cluster; an lc_rpc serves one
 * port, and only its own source counts): InstanceRequest,
 * BatchInstanceRequest, PersistentInstanceRequest, ServiceQueryRequest,
 * SubscribeServiceRequest, ServiceListRequest. Each decodes its request as
 * Nacos's handler and parameter extractor read it, calls an operation
 * (naming/ops/ops.h) and encodes Nacos's response.
 *
 * A connection's instances (lc_op_conn_*) and subscriptions are bound to
 * it: when it closes they go, and the subscribers of the services it
 * published are pushed.
 */
#ifndef LC_NAMING_GRPC_ROUTES_H
#define LC_NAMING_GRPC_ROUTES_H

#include "naming/naming.h"
#include "rpc/grpc/rpc.h"

struct lc_naming_grpc;

/* Register the handlers on @rpc, add the gRPC push transport to @n's push
 * engine and observe @rpc's connections closing. @n and @rpc are borrowed:
 * call lc_naming_grpc_detach once @rpc is closed, and free the result with
 * lc_naming_grpc_free after lc_naming_close (the push engine closes the
 * transport) and before lc_naming_free. Return 0 or an LC_E* code. */
int lc_naming_grpc_new(struct lc_naming *n, struct lc_rpc *rpc,
                       struct lc_naming_grpc **out);

struct lc_auth;

/* Check every request against @auth (borrowed; it must outlive @g) before
 * its handler, as Nacos's RemoteRequestAuthFilter: the request's metadata
 * headers accessToken, Authorization ("Bearer <token>"), username and
 * password; InstanceRequest, BatchInstanceRequest and
 * PersistentInstanceRequest need 'w', ServiceQueryRequest,
 * SubscribeServiceRequest and ServiceListRequest 'r' on the naming
 * resource of the body's namespace, groupName and serviceName
 * (ServiceListRequest: every service). A refusal is the handler's own
 * response type with resultCode 500 and errorCode 403. The check runs for
 * every request the handlers get, whatever port @g's lc_rpc serves: no
 * source or member identity skips it. locusd registers the handlers on
 * the SDK port's lc_rpc only (main + 1000, server/node.c); on the cluster
 * port (main + 1001) these types are rpc/cluster/peers.c's, allowed from
 * the SDK source only, so a request there gets ErrorResponse 502
 * " invoke <Type> from cluster is forbidden" and reaches neither this
 * check nor a handler. Headers are the metadata's, then the body's
 * "headers" (Nacos's Request merges both), names exactly as written.
 * Without this call, or with auth off, nothing is checked. */
void lc_naming_grpc_set_auth(struct lc_naming_grpc *g, struct lc_auth *auth);

/* The gRPC server is closed (freed): no push is sent from here on, and
 * the connection count is 0. */
void lc_naming_grpc_detach(struct lc_naming_grpc *g);

/* How many subscriptions connection @conn_id holds. */
unsigned lc_naming_grpc_subscriptions(struct lc_naming_grpc *g,
                                      const char *conn_id);

void lc_naming_grpc_free(struct lc_naming_grpc *g);

#endif /* LC_NAMING_GRPC_ROUTES_H */
