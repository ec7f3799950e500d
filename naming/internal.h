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
    struct lc_list_cache *list_cache; /* list_cache.c; NULL until used */

    /* The cluster members (naming/http/members.c), or NULL. */
    struct lc_peers *peers;
    struct lc_imeta_cleaner *imeta; /* instance_meta_clean.c; NULL until used */
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
/* Serialise @root (consumed) and reply 200 application/json; on /v2 paths
 * inside the v2 envelope. */
void lc_reply_json(struct lc_http_exchange *ex, json_t *root);
/* The same, never wrapped (v2 beat answers are bare, as in Nacos). */
void lc_reply_json_raw(struct lc_http_exchange *ex, json_t *root);

/* ------------------------------------- list answers (list_cache.c) */

struct lc_list_cache;
/* Answer /instance/list with lc_render_service_info()'s ServiceInfo, from
 * the cache when nothing it depends on changed (lastRefTime is now). */
void lc_list_reply(struct lc_naming *n, struct lc_http_exchange *ex,
                   const struct lc_service *svc,
                   const struct lc_service_key *key, const char *clusters,
                   bool healthy_only);
void lc_list_cache_free(struct lc_list_cache *lc);

/* ---------------------------------------------- ephemeral (ephemeral.c) */

struct lc_beat_checker;

/* "ip:port#true", the HTTP client that publishes an ephemeral instance. */
void lc_ephemeral_client_id(char *out, size_t size, const char *ip, int port);
/* Publish @inst (reference taken) as the ephemeral instance of client
 * "ip:port#true" in the service @key, creating the service (ephemeral).
 * Return 0; LC_EINVAL with Nacos's message in @err when the service is
 * persistent; LC_ENOMEM. */
int lc_ephemeral_register(struct lc_naming *n,
                          const struct lc_service_key *key,
                          struct lc_instance *inst, char *err, size_t errlen);
/* Withdraw client "ip:port#true"'s instance of @key (no-op if none). */
void lc_ephemeral_deregister(struct lc_naming *n,
                             const struct lc_service_key *key, const char *ip,
                             int port);
/* A beat for ip:port in @svc: refresh it, and make it healthy if it was not.
 * Return 0, or LC_ENOTFOUND when the client publishes nothing there. */
int lc_ephemeral_beat(struct lc_naming *n, struct lc_service *svc,
                      const char *ip, int port);
/* Set the health of ip:port's ephemeral instance of @svc (health/instance).
 * Return 0, LC_ENOTFOUND or LC_ENOMEM. */
int lc_ephemeral_set_health(struct lc_naming *n, struct lc_service *svc,
                            const char *ip, int port, bool healthy);
/* One pass of the beat checker at loop time @now (tests call it). */
void lc_ephemeral_check(struct lc_naming *n, uint64_t now);
int lc_beat_checker_start(struct lc_naming *n, struct lc_beat_checker **out);
/* Stop and free (in the close callback); NULL is fine. */
void lc_beat_checker_close(struct lc_beat_checker *bc);

int lc_naming_beat_routes(struct lc_naming *n, struct lc_http_server *srv);
int lc_naming_metadata_routes(struct lc_naming *n,
                              struct lc_http_server *srv);

int lc_naming_instance_routes(struct lc_naming *n, struct lc_http_server *srv);
int lc_naming_operator_routes(struct lc_naming *n, struct lc_http_server *srv);

/* UDP push (naming/http/push.c): /service/subscribers, /operator/push/state,
 * and the subscription side effect of /instance/list (call it once the
 * request is validated; it checks udpPort, the User-Agent and the switch). */
struct lc_push;
struct lc_push_udp;
int lc_naming_push_routes(struct lc_naming *n, struct lc_http_server *srv);
/* Number of UDP push subscribers (for metrics). */
unsigned long lc_naming_push_subscribers(struct lc_naming *n);
void lc_naming_push_on_list(struct lc_naming *n, struct lc_http_exchange *ex,
                            const struct lc_service_key *key,
                            const char *clusters, int udp_port);
/* The v2 list's subscriber parameters (InstanceControllerV2.list): `port`
 * (Integer, default 0) and `healthyOnly` (Boolean, default false); the
 * subscriber's address is `ip`, not v1's clientIP/udpPort. Replies Nacos's
 * 500 and returns false when one does not convert. */
bool lc_v2_list_params(struct lc_http_exchange *ex, int *port,
                       bool *healthy_only);
/* ------------------------------------------------ switches, health checks */

/* The processor of LC_GROUP_SWITCHES (naming/store/switch_store.c). */
void lc_naming_switch_processor(struct lc_naming *n, struct lc_processor *p);

/* The data of a switch update entry for @entry=@value (both copied):
 * *@data is malloc'd text of *@len bytes. Return 0 or LC_ENOMEM. */
int lc_switch_entry_encode(const char *entry, const char *value, char **data,
                           size_t *len);

/* /operator/switches (naming/http/switches.c); /health/instance and
 * /instance/statuses (naming/http/health.c). */
int lc_naming_switch_routes(struct lc_naming *n, struct lc_http_server *srv);
int lc_naming_health_routes(struct lc_naming *n, struct lc_http_server *srv);

/* Write a HEALTH entry through Raft: `healthy` of @inst (published by
 * persistent client @client_id in @svc) becomes @healthy, if that instance
 * is still there when the entry applies (naming/store/persistent.c). @w is
 * borrowed until @cb fires. Return 0 or an LC_E* code (then @cb never fires). */
int lc_health_write(struct lc_naming *n, const struct lc_service *svc,
                    const char *client_id, const struct lc_instance *inst,
                    bool healthy, struct lc_sm_write *w, lc_sm_write_cb cb);

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
