/* Private structures of the naming module. */
#ifndef LC_NAMING_INTERNAL_H
#define LC_NAMING_INTERNAL_H

#include <uthash.h>
#include <uv.h>

#include "naming/events.h"
#include "naming/model.h"
#include "naming/naming.h"
#include "naming/registry.h"
#include "naming/switches.h"
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
};

/* Value of @key (borrowed until the next change), or NULL. */
const void *lc_kvstore_get(const struct lc_kvstore *kv, const char *key,
                           size_t *len);

void lc_kvstore_processor(struct lc_kvstore *kv, const char *group,
                          struct lc_processor *p);
void lc_kvstore_clear(struct lc_kvstore *kv);
unsigned lc_kvstore_count(const struct lc_kvstore *kv);

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
    struct lc_kvstore service_meta;
    struct lc_kvstore instance_meta;

    struct lc_switches sw; /* applied switch domain */

    /* Switches and health checks (issue 3). */
    struct lc_processor switch_proc;
    struct lc_statemachine *switch_sm;
    struct lc_health_checker *hc; /* NULL without a loop (test fixtures) */
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
/* Serialise @root (consumed) and reply 200 application/json. */
void lc_reply_json(struct lc_http_exchange *ex, json_t *root);

int lc_naming_instance_routes(struct lc_naming *n, struct lc_http_server *srv);
int lc_naming_operator_routes(struct lc_naming *n, struct lc_http_server *srv);

/* ------------------------------------------------ switches, health checks */

/* The processor of LC_GROUP_SWITCHES (naming/switch_store.c). */
void lc_naming_switch_processor(struct lc_naming *n, struct lc_processor *p);

/* The data of a switch update entry for @entry=@value (both copied):
 * *@data is malloc'd text of *@len bytes. Return 0 or LC_ENOMEM. */
int lc_switch_entry_encode(const char *entry, const char *value, char **data,
                           size_t *len);

/* Reply to a Raft write the engine failed with @status (LC_E*), with the
 * texts http_instance.c uses. */
void lc_naming_write_error(struct lc_http_exchange *ex, int status);

/* /operator/switches (naming/http_switches.c); /health/instance and
 * /instance/statuses (naming/http_health.c). */
int lc_naming_switch_routes(struct lc_naming *n, struct lc_http_server *srv);
int lc_naming_health_routes(struct lc_naming *n, struct lc_http_server *srv);

/* Write @inst (published by persistent client @client_id in @svc) again
 * through Raft with `healthy` set to @healthy. @w is borrowed until @cb
 * fires. Return 0 or an LC_E* code (then @cb never fires). */
int lc_health_write(struct lc_naming *n, const struct lc_service *svc,
                    const char *client_id, const struct lc_instance *inst,
                    bool healthy, struct lc_sm_write *w, lc_sm_write_cb cb);

/* The server-side health checker of persistent instances
 * (naming/health_check.c): runs on the leader of LC_GROUP_PERSISTENT. */
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
