/* Private structures of the naming module. */
#ifndef LC_NAMING_INTERNAL_H
#define LC_NAMING_INTERNAL_H

#include <uthash.h>
#include <uv.h>

#include "naming/core/events.h"
#include "naming/core/model.h"
#include "naming/naming.h"
#include "naming/core/registry.h"
#include "naming/core/switches.h"
#include "statemachine/statemachine.h"

#define LC_GROUP_PERSISTENT "naming_persistent_service_v2"
#define LC_GROUP_SERVICE_META "naming_service_metadata"
#define LC_GROUP_INSTANCE_META "naming_instance_metadata"
/* Nacos's legacy CP group, kept for the switch domain (SwitchManager). */
#define LC_GROUP_SWITCHES "naming_persistent_service"

struct kv_entry;

/* The replicated key/value state of the metadata groups. */
struct lc_kvstore {
    struct kv_entry *entries;
    /* Called after a key changes (put, delete, or snapshot load). */
    void (*on_change)(void *data, const char *key);
    void *change_data;
    unsigned long changes; /* counts changes (puts, deletes, loads) */
};

/* Value of @key (borrowed until the next change), or NULL. */
const void *lc_kvstore_get(const struct lc_kvstore *kv, const char *key,
                           size_t *len);

void lc_kvstore_processor(struct lc_kvstore *kv, const char *group,
                          struct lc_processor *p);
void lc_kvstore_clear(struct lc_kvstore *kv);
unsigned lc_kvstore_count(const struct lc_kvstore *kv);
/* Call @fn for every key (in no order); @fn must not change @kv. */
void lc_kvstore_each(const struct lc_kvstore *kv,
                     void (*fn)(const char *key, const void *value,
                                size_t len, void *data),
                     void *data);

struct lc_naming {
    uv_loop_t *loop;
    struct lc_raft_engine *engine;
    struct lc_bus *bus;
    struct lc_registry *reg;

    struct lc_processor persistent_proc;
    struct lc_processor service_meta_proc;
    struct lc_processor instance_meta_proc;
    struct lc_statemachine *persistent_sm;
    struct lc_statemachine *service_meta_sm;
    struct lc_statemachine *instance_meta_sm;
    struct lc_kvstore instance_meta;

    struct lc_switches sw; /* applied switch domain */
    struct lc_beat_checker *beats; /* NULL without a loop (fixtures) */

    struct lc_push *push; /* push engine (naming/push/push.h), or NULL */
    struct lc_push_udp *push_udp; /* its UDP transport (push/udp.h), or NULL */
    void (*close_cb)(void *data);
    void *close_data;

    /* Switches and health checks (issue 3). */
    struct lc_processor switch_proc;
    struct lc_statemachine *switch_sm;
    struct lc_health_checker *hc; /* NULL without a loop (test fixtures) */

    struct lc_smeta *smeta; /* service metadata, by service key */
    struct lc_service_cleaner *cleaner; /* NULL until started */
    struct lc_info_cache *info_cache; /* ops/info_cache.c; NULL until used */

    /* The cluster's members (borrowed, lc_naming_set_members), or NULL;
     * each request to another member is bounded by members_timeout_ms. */
    const struct lc_members *members;
    unsigned members_timeout_ms;
    /* DistroFilter's connections to the members (naming/http/forward.c);
     * NULL until the first forward. */
    struct lc_ns_forward *forward;
    struct lc_imeta_cleaner *imeta; /* instance_meta_clean.c; NULL until used */
    /* The gRPC connections (lc_naming_set_conn_count), or NULL. */
    unsigned (*conn_count)(void *data);
    void *conn_count_data;
    /* Distro's watch on client changes (ops/sync.c), or NULL. */
    void (*sync_cb)(const char *id, void *data);
    void *sync_data;
    bool sync_subscribed;
    /* The readiness gate beyond the engine's catch-up (Distro's startup
     * load, lc_naming_set_gate), or NULL. */
    bool (*gate)(void *data);
    void *gate_data;
    /* The peer identity header (lc_naming_set_peer_identity): "" when
     * none. */
    char peer_id_key[256];
    char peer_id_value[1024];
};

void lc_naming_persistent_processor(struct lc_naming *n,
                                    struct lc_processor *p);

/* Key of an instance's metadata overlay in naming_instance_metadata:
 * "<service key>\x1e<ip>:<port>:<cluster>". */
void lc_overlay_key(char *out, size_t size, const char *service_key,
                    const char *ip, int port, const char *cluster);

/* An instance as a client sees it: the published instance with the PUT
 * overlay (weight, enabled, metadata) applied. */
struct lc_view {
    double weight;
    bool enabled;
    bool healthy;
    json_t *metadata; /* a new reference */
};
void lc_instance_view(struct lc_naming *n, const struct lc_service *svc,
                      const struct lc_instance *inst, struct lc_view *v);

/* ServiceInfo JSON for /instance/list (v1 shape, grouped name). @svc may be
 * NULL (unknown service). */
json_t *lc_render_service_info(struct lc_naming *n,
                               const struct lc_service *svc,
                               const struct lc_service_key *key,
                               const char *clusters, bool healthy_only);
/* Host JSON in Jackson's key order. */
json_t *lc_render_host(const struct lc_service *svc,
                       const struct lc_instance *inst,
                       const struct lc_view *v);
/* The cache of rendered ServiceInfo texts (naming/ops/info_cache.c), freed
 * with the module. */
struct lc_info_cache;
void lc_info_cache_free(struct lc_info_cache *lc);

/* ------------------------------------ beat checker (health/beat_check.c) */

struct lc_beat_checker;

/* One pass of the beat checker at loop time @now (tests call it). */
void lc_ephemeral_check(struct lc_naming *n, uint64_t now);
int lc_beat_checker_start(struct lc_naming *n, struct lc_beat_checker **out);
/* Stop and free (in the close callback); NULL is fine. */
void lc_beat_checker_close(struct lc_beat_checker *bc);

/* ------------------------------------------------ switches, health checks */

/* The processor of LC_GROUP_SWITCHES (naming/store/switch_store.c). */
void lc_naming_switch_processor(struct lc_naming *n, struct lc_processor *p);


/* The server-side health checker of persistent instances
 * (naming/health/health_check.c): runs on the leader of LC_GROUP_PERSISTENT. */
struct lc_health_checker;

/* Create it on @n->loop; it starts and stops itself with leadership.
 * Return 0 or LC_ENOMEM. */
int lc_health_checker_start(struct lc_naming *n);

/* Stop checking and close every handle; the checker frees itself once the
 * last close callback has run, and never touches @n after this call. */
void lc_health_checker_close(struct lc_health_checker *hc);

/* Whether the server checks the health of @svc's cluster @cluster: the
 * health_check_enabled switch is on and the cluster's checker is not NONE.
 * PUT /health/instance is refused while this is true. */
bool lc_health_checks_on(struct lc_naming *n, const struct lc_service *svc,
                         const char *cluster);

#endif /* LC_NAMING_INTERNAL_H */
