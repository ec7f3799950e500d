/* /service/subscribers across the cluster (naming/http/subscribers_cluster.c):
 * Nacos's SubscribeManager and NamingSubscriberServiceAggregationImpl. */
#ifndef LC_NAMING_SUBSCRIBERS_CLUSTER_H
#define LC_NAMING_SUBSCRIBERS_CLUSTER_H

#include <jansson.h>
#include <stdbool.h>

#include "rpc/http/http.h"

struct lc_naming;

/* Answer /service/subscribers with @local (this node's subscribers, in
 * Subscriber's JSON shape; consumed): as is when !@aggregation, else merged
 * with every other member's (asked without blocking, each bounded by the
 * members' timeout) and deduplicated; then paged by @page_no/@page_size. */
void lc_subscribers_answer(struct lc_naming *n, struct lc_http_exchange *ex,
                           json_t *local, const char *ns, const char *grouped,
                           bool aggregation, int page_no, int page_size);

#endif /* LC_NAMING_SUBSCRIBERS_CLUSTER_H */
