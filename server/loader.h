/* Nacos's connection admin (ServerLoaderController, /nacos/v2/core/loader)
 * over the SDK gRPC server:
 *
 *   GET /nacos/v2/core/loader/current       {connectionId: Connection}, in
 *                                           Nacos's shape (metaInfo, ...),
 *                                           plus "locus": {instances,
 *                                           subscriptions} per connection
 *   GET /nacos/v2/core/loader/reloadClient?connectionId=&redirectAddress=
 *                                           ConnectResetRequest to that
 *                                           connection -> "success"
 *   GET .../reloadCurrent?count=&redirectAddress=
 *                                           loadCount: the SDK connections
 *                                           beyond count get ConnectReset
 *                                           at the next interval ->
 *                                           "success"
 *   GET .../cluster                         every member's loader metrics,
 *                                           {detail, memberCount, ...}
 *   GET .../smartReloadCluster?loaderFactor=0.1
 *                                           ServerReload to overloaded
 *                                           members -> "Ok" / "Fail"
 *
 * The last three go through the balancer (server/balance.h).
 * (also without the /nacos prefix). locusctl connections reads current.
 */
#ifndef LC_SERVER_LOADER_H
#define LC_SERVER_LOADER_H

#include "naming/grpc/routes.h"
#include "naming/naming.h"
#include "rpc/grpc/rpc.h"
#include "rpc/http/http.h"

struct lc_loader;

/* Route the endpoints on @srv (serving on @loop). @rpc, @ng and @naming are
 * borrowed until lc_loader_detach (the gRPC server closes before the HTTP one);
 * @grpc_port is the SDK port (Connection's localPort). NULL when out of memory.
 */
struct lc_loader *lc_loader_new(uv_loop_t *loop, struct lc_http_server *srv,
                                struct lc_rpc *rpc, struct lc_naming_grpc *ng,
                                struct lc_naming *naming, int grpc_port);

struct lc_balance;
/* The balancer reloadCurrent, cluster and smartReloadCluster use (borrowed;
 * until set they answer 503 / 500 / "Fail"). */
void lc_loader_set_balance(struct lc_loader *l, struct lc_balance *b);

/* The gRPC server is closed: answer with no connections from here on. */
void lc_loader_detach(struct lc_loader *l);

void lc_loader_free(struct lc_loader *l);

#endif /* LC_SERVER_LOADER_H */
