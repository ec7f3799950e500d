/* Service metadata: the naming_service_metadata group's state, what the
 * service API stores per service (Nacos's ServiceMetadata): protectThreshold,
 * metadata, selector, the ephemeral flag and per-cluster metadata.
 *
 * The processor applies Nacos's three operations (ServiceMetadataProcessor):
 * CHANGE creates or updates, merging into what is stored (the ephemeral flag
 * and the clusters are kept); ADD merges cluster metadata; DELETE removes the
 * metadata and, when nobody publishes an instance of it, the service. Applying
 * CHANGE or ADD makes the service exist in the registry (a service created
 * through the API is persistent), so it is listed even without instances.
 *
 * Private to the naming module.
 */
#ifndef LC_NAMING_SERVICE_META_H
#define LC_NAMING_SERVICE_META_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "naming/core/selector.h"
#include "naming/internal.h"
#include "naming/naming.pb-c.h"

#define LC_SMETA_CHANGE "CHANGE"
#define LC_SMETA_ADD "ADD"
#define LC_SMETA_DELETE "DELETE"

/* Nacos's ClusterMetadata defaults. */
#define LC_CLUSTER_CHECK_PORT 80
#define LC_CLUSTER_DEFAULT_PORT 80

/* One service's stored metadata. */
struct lc_smeta {
    char *key; /* lc_service_key_text() */
    char *ns;
    char *group;
    char *name; /* bare */
    Locus__Naming__ServiceMeta *meta; /* owned (unpacked protobuf) */
    /* Local bookkeeping, not replicated: when the empty-service cleaner
     * removed the service (0: never; Nacos's ExpiredMetadataInfo), and
     * whether the metadata cleaner's DELETE is in flight. */
    uint64_t expired_ms;
    bool deleting;
    UT_hash_handle hh;
};

/* Fill @p with the processor of naming_service_metadata over @n's store. */
void lc_service_meta_processor(struct lc_naming *n, struct lc_processor *p);

/* Free every entry of @n's store. */
void lc_service_meta_clear(struct lc_naming *n);

/* The metadata stored for the service with key text @key, or NULL. */
struct lc_smeta *lc_service_meta_find(struct lc_naming *n, const char *key);

/* Nacos's selectInstancesWithHealthyProtection, applied to @hosts (host
 * JSON objects, already cluster/enabled/healthyOnly filtered) of which
 * @healthy of the cluster/enabled-filtered instances are healthy. Only for a
 * service with stored metadata: when healthy/size(@hosts) <= threshold every
 * host is marked healthy and true is returned (reachProtectionThreshold). */
bool lc_service_protect(struct lc_naming *n, const struct lc_service *svc,
                        json_t *hosts, size_t healthy);

/* --------------------------------------------------------------- JSON */

/* A float as Java prints it (Float.toString digits): the double nearest the
 * float's shortest decimal form, for json_real. */
json_t *lc_json_float(float f);

/* The selector as Nacos's Jackson writes it: {"type":"none","contextType":
 * "NONE"} (also for @m NULL) or {"type":"label","expression":..,"labels":
 * [..],"contextType":"CMDB"}. */
json_t *lc_selector_json(const Locus__Naming__ServiceMeta *m);

/* {key: value} of @entries. */
json_t *lc_meta_entries_json(Locus__Naming__MetaEntry *const *entries,
                             size_t n);

/* The metadata of cluster @name in @m (NULL when @m or the cluster has
 * none: Nacos's defaults apply). */
const Locus__Naming__ClusterMeta *
lc_cluster_meta(const Locus__Naming__ServiceMeta *m, const char *name);

/* {"type":"TCP"} or {"type":"NONE"} for @c (TCP when @c is NULL). */
json_t *lc_health_checker_json(const Locus__Naming__ClusterMeta *c);

/* ----------------------------------------------------------- cleaners */

/* Nacos's EmptyServiceAutoCleanerV2 and ExpiredMetadataCleaner (service
 * metadata part) as uv timers on @n's loop. */
struct lc_service_cleaner;

/* Start them (the timers are closed by lc_service_cleaner_close). Return 0
 * or LC_ENOMEM. */
int lc_service_cleaner_start(struct lc_naming *n,
                             const struct lc_naming_clean_options *opts,
                             struct lc_service_cleaner **out);
/* Stop the timers; the memory goes when their close callbacks have run. */
void lc_service_cleaner_close(struct lc_service_cleaner *c);

/* One pass of each cleaner, as the timers run them (for tests). */
void lc_service_clean_empty(struct lc_naming *n, uint64_t expired_ms);
void lc_service_clean_metadata(struct lc_naming *n, uint64_t expired_ms);

#endif /* LC_NAMING_SERVICE_META_H */
