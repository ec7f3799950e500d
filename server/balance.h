/* SDK connection balancing across members: Nacos's ServerLoaderInfo and
 * ServerReload (cluster port only), its loadCount (what the ejector applies
 * once), the cluster metrics of /nacos/v2/core/loader/cluster and
 * smartReloadCluster (../shared/protocol.md §11.4), and what no peer does:
 * balancing by itself.
 *
 * Automatic balancing. Every interval_ms this member asks every other
 * member for its loader metrics (ServerLoaderInfoRequest over the cluster
 * plane). Only when every member is UP, has been for two intervals, serves
 * SDK connections, and answered this round, it runs lc_balance_plan
 * (balance_plan.h) on the fresh counts and its own, and sends ConnectReset
 * to at most `batch` of its SDK connections, each redirected to an
 * underloaded member (serverIp, serverPort: the member's main port). The
 * band (±factor_pct around the average) with shedding to the average is
 * the hysteresis; deciding only on counts asked after the previous batch
 * is the cooldown. A member's absence, a failed or late answer, or a peer
 * still starting stops balancing for that round.
 *
 * Everything runs on one loop.
 */
#ifndef LC_SERVER_BALANCE_H
#define LC_SERVER_BALANCE_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "members/members.h"
#include "rpc/grpc/rpc.h"

struct lc_balance;
struct lc_peers;

struct lc_balance_config {
    bool enabled;         /* locus.loader.balance.enabled: true */
    unsigned interval_ms; /* locus.loader.balance.interval_ms: 500 */
    unsigned factor_pct;  /* locus.loader.balance.factor_percent: 10 */
    unsigned batch;       /* locus.loader.balance.batch: 100 per interval */
    unsigned request_timeout_ms; /* a member's metrics: 1000 */
};

void lc_balance_config_default(struct lc_balance_config *cfg);

/* Create the balancer: register ServerLoaderInfoRequest and
 * ServerReloadRequest on the cluster port (lc_peers_rpc(@peers)), start the
 * interval timer. @members, @peers (NULL: standalone, no cluster) and
 * @sdk borrowed until lc_balance_close (@sdk until lc_balance_detach).
 * Return 0 or LC_E*. */
int lc_balance_new(uv_loop_t *loop, const struct lc_balance_config *cfg,
                   struct lc_members *members, struct lc_peers *peers,
                   struct lc_rpc *sdk, struct lc_balance **out);

/* Whether this node serves SDK connections (set with lc_rpc_set_started):
 * reported to the others ("locusReady"), which send no client here before. */
void lc_balance_set_ready(struct lc_balance *b, bool ready);

/* This node's ServerLoaderInfoResponse.loaderMetrics: conCount,
 * sdkConCount, load, cpu (strings, as Nacos) and locusReady. New reference. */
json_t *lc_balance_metrics(struct lc_balance *b);

/* Nacos's ConnectionManager.loadCount: at the next interval, send
 * ConnectReset to the SDK connections beyond @count (redirected to
 * @redirect "ip:port" when not NULL/empty), once. A negative @count clears
 * it. */
void lc_balance_load_count(struct lc_balance *b, int count,
                           const char *redirect);

/* The answer of /nacos/v2/core/loader/cluster: every member's metrics
 * (asked over the cluster plane, request_timeout_ms each), as Nacos's
 * ServerLoaderController. @cb gets it (a new reference, never NULL unless
 * out of memory), from the loop. Return 0 or LC_E* (@cb never fires). */
typedef void (*lc_balance_cluster_cb)(void *data, json_t *answer);
int lc_balance_cluster(struct lc_balance *b, lc_balance_cluster_cb cb,
                       void *data);

/* smartReloadCluster: pair members above avg*(1+@factor) with those below
 * avg*(1-@factor) and send each overloaded one ServerReloadRequest
 * {reloadCount: avg*(1+@factor), reloadServer: <underloaded address>}
 * (this node: handled locally). @cb gets whether every request succeeded.
 * Return 0 or LC_E*. */
typedef void (*lc_balance_done_cb)(void *data, bool ok);
int lc_balance_smart_reload(struct lc_balance *b, double factor,
                            lc_balance_done_cb cb, void *data);

/* Counters for tests and metrics. */
struct lc_balance_stats {
    unsigned long long rounds;    /* rounds decided on fresh counts */
    unsigned long long resets;    /* ConnectResets sent by balancing */
    unsigned long long loaded;    /* ConnectResets sent by loadCount */
};
void lc_balance_stats(const struct lc_balance *b, struct lc_balance_stats *out);

/* The SDK server is closing: no more resets, counts read 0. */
void lc_balance_detach(struct lc_balance *b);

/* Stop the timer and free (once the requests in flight have ended). */
void lc_balance_close(struct lc_balance *b);

#endif /* LC_SERVER_BALANCE_H */
