/* Naming operations, the same for every transport: the HTTP v1/v2 handlers
 * (naming/http/) call these and nothing else, and so will the gRPC ones.
 *
 * An operation validates its request with Nacos's rules and messages, then
 * changes an ephemeral client in memory, or builds the Raft entry and
 * submits it, or reads the registry. It answers with 0 or an LC_E* code and
 * Nacos's message in a struct lc_err (common/err.h), whose code says how
 * each transport renders it. Nothing here knows HTTP or gRPC.
 *
 * Writes through Raft finish later. They take a caller-allocated struct
 * lc_op (as raft's struct raft_apply): on return 0 with op->pending set,
 * @cb fires once, later, from the loop (never from inside the call); on
 * return 0 with op->pending clear, the operation is complete already and
 * @cb never fires (the caller answers at once); on an error return @cb
 * never fires either. A write is answered once applied on this node.
 */
#ifndef LC_NAMING_OPS_H
#define LC_NAMING_OPS_H

#include <jansson.h>
#include <stdbool.h>

#include "common/err.h"
#include "naming/internal.h"
#include "naming/ops/check.h"
#include "naming/ops/ephemeral.h"

struct lc_op;

/* @e is NULL on success, else the failure (borrowed for the call). */
typedef void (*lc_op_cb)(struct lc_op *op, const struct lc_err *e);

struct lc_op {
    void *data; /* the caller's */
    /* What a successful operation answers beyond "ok" (a new reference the
     * caller takes, or NULL): metadata/batch's {"updated":[...]}. */
    json_t *result;
    bool pending; /* set by the operation: @cb will fire */
    /* private */
    lc_op_cb cb;
    int errors; /* how this group's write failures read */
    struct lc_sm_write w;
    struct lc_sm_read rd;
};

/* The readiness gate of every naming request: LC_ENOTREADY ("server is
 * STARTINGnow, please try again later!") until this node has caught up. */
int lc_op_ready(struct lc_naming *n, struct lc_err *e);

/* A consistent read: @cb fires once everything committed to the persistent
 * instances' group before this call is applied here (a barrier through the
 * leader). Return 0 (pending) or an LC_E* code. */
int lc_op_barrier(struct lc_naming *n, struct lc_op *op, lc_op_cb cb,
                  struct lc_err *e);

/* The same through the instance metadata overlays' group (PUT and PATCH
 * /instance, metadata/batch write there). */
int lc_op_barrier_meta(struct lc_naming *n, struct lc_op *op, lc_op_cb cb,
                       struct lc_err *e);

/* ------------------------------------------------------- service views */

/* Which ServiceInfo: HTTP v1's (name "group@@service") or gRPC's (name the
 * bare service). */
enum lc_info_shape { LC_INFO_HTTP, LC_INFO_GRPC };

/* @key's ServiceInfo (its instances filtered by @clusters, healthy ones
 * only with @healthy_only) as JSON text between @prefix and @suffix, in a
 * malloc'd NUL-terminated buffer the caller frees (*@len bytes), or NULL
 * when out of memory. Served from a cache of renderings (info_cache.c)
 * until something it was made from changes; lastRefTime is now. */
char *lc_op_service_info_text(struct lc_naming *n,
                              const struct lc_service_key *key,
                              const char *clusters, bool healthy_only,
                              enum lc_info_shape shape, const char *prefix,
                              const char *suffix, size_t *len);

/* ------------------------------------------------------------ instances */

/* An instance request (Nacos's Instance as a request carries it). */
struct lc_instance_req {
    char ns[256];
    char grouped[1300]; /* group@@service */
    char group[256];
    char service[1100]; /* bare */
    char ip[256];
    int port;
    char cluster[256];
    double weight;
    bool healthy;
    bool enabled;
    bool ephemeral;
    char *metadata; /* canonical JSON object text, malloc'd; the caller frees */
    char instance_id[2000];
};

/* Split @grouped ("group@@service", already checked) into @r's grouped,
 * group and service. LC_EINVAL when a part does not fit. */
int lc_op_instance_names(struct lc_instance_req *r, const char *grouped,
                         struct lc_err *e);

/* Register @r (validated: check.h): ephemeral into the registry as client
 * "ip:port#true", persistent through Raft. For an ephemeral instance the
 * operation is complete when it returns (never pending, @cb never fires),
 * so the caller may keep @op on its stack. */
int lc_op_register(struct lc_naming *n, const struct lc_instance_req *r,
                   struct lc_op *op, lc_op_cb cb, struct lc_err *e);

/* Deregister ip:port of @r's service (and cluster, for the entry); for an
 * ephemeral instance complete when it returns, as lc_op_register. */
int lc_op_deregister(struct lc_naming *n, const struct lc_instance_req *r,
                     struct lc_op *op, lc_op_cb cb, struct lc_err *e);

/* PUT /instance: replace the weight, enabled and metadata overlay of
 * ip:port:cluster in an existing service. */
int lc_op_update(struct lc_naming *n, const struct lc_instance_req *r,
                 struct lc_op *op, lc_op_cb cb, struct lc_err *e);

/* The instance ip:port of cluster r->cluster in @r's service (Nacos's
 * getInstance0); LC_ENOTFOUND "no ips found for cluster ..." or "no matched
 * ip found!" when there is none. */
int lc_op_find_instance(struct lc_naming *n, const struct lc_instance_req *r,
                        struct lc_service **svc, struct lc_instance **inst,
                        struct lc_err *e);

/* The instance detail {service, ip, port, clusterName, weight, healthy,
 * instanceId, metadata} (a new reference in *@out). */
int lc_op_instance_detail(struct lc_naming *n, const struct lc_instance_req *r,
                          json_t **out, struct lc_err *e);

/* PATCH /instance: change the overlay's metadata (replaced when @metadata
 * is not NULL: a JSON object, borrowed), weight (when @has_weight) and
 * enabled (when @enabled is not NULL: ConvertUtils text) of an existing
 * instance. */
int lc_op_patch(struct lc_naming *n, const struct lc_instance_req *r,
                json_t *metadata, bool has_weight, double weight,
                const char *enabled, struct lc_op *op, lc_op_cb cb,
                struct lc_err *e);

/* metadata/batch: add (or with @remove, delete) the keys of @metadata (a
 * JSON object) in the overlays of the instances of @r's service that
 * @instances ([{ip,port}], empty: all) names. On success op->result is
 * {"updated":["ip:port:unknown:cluster:ephemeral|persist",...]}. */
int lc_op_metadata_batch(struct lc_naming *n, const struct lc_instance_req *r,
                         json_t *instances, json_t *metadata, bool remove,
                         struct lc_op *op, lc_op_cb cb, struct lc_err *e);

/* ------------------------------------------------------ connection clients
 *
 * Ephemeral instances of a gRPC connection (naming/ops/conn.c): client
 * LC_CLIENT_CONNECTION whose id is the connection id, as Nacos 2.x's
 * ConnectionBasedClient with EphemeralClientOperationServiceImpl. The client
 * holds one publish per service: a register replaces it, a batch replaces
 * it with a set, a deregister withdraws it whatever ip:port is named. The
 * instances live until withdrawn or the connection closes
 * (lc_op_conn_remove); no beat keeps them. Every change goes through the
 * registry and its bus, so the index and the push engine see it.
 *
 * A batch of k instances is published by the connection's client (the
 * first) and k - 1 companion clients "<id>#b1".."<id>#b(k-1)" of the same
 * kind (the registry holds one instance per client and service); the
 * companions of a service are numbered from 1 without gaps, so the
 * connection's companions are found without scanning every client. A
 * connection id never holds '#'.
 */

/* Register @r (validated; r->ephemeral) as @conn_id's instance of @r's
 * service, replacing what it published there. LC_EINVAL "errCode: 400,
 * errMsg: Current service G@@S is persistent service, can't register
 * ephemeral instance. " on a persistent service; LC_ENOMEM. */
int lc_op_conn_register(struct lc_naming *n, const char *conn_id,
                        const struct lc_instance_req *r, struct lc_err *e);

/* Withdraw @conn_id's instances of service @key, whatever ip:port; a no-op
 * when the service does not exist or the connection publishes nothing
 * there. */
void lc_op_conn_deregister(struct lc_naming *n, const char *conn_id,
                           const struct lc_service_key *key);

/* Replace @conn_id's instances of the service of @rs[0] with @rs[0..@count)
 * (all validated, same service). LC_ESERVER "Index 0 out of bounds for
 * length 0" when @count is 0 (Nacos's instances.get(0)); LC_EINVAL for an
 * instance that is not ephemeral ("Batch registration does not allow
 * persistent instance registration , Instance：...") or a persistent
 * service ("... can't batch register ephemeral instance. "); LC_ENOMEM.
 * Nothing changes on error. */
int lc_op_conn_batch_register(struct lc_naming *n, const char *conn_id,
                              const struct lc_instance_req *rs, size_t count,
                              struct lc_err *e);

/* Withdraw everything @conn_id publishes (its companions too): the
 * connection closed. Return how many instances went. Subscriptions are the
 * push engine's (its transport removes them). */
unsigned lc_op_conn_remove(struct lc_naming *n, const char *conn_id);

/* How many instances @conn_id publishes (its companions too). */
unsigned lc_op_conn_instances(struct lc_naming *n, const char *conn_id);

/* ----------------------------------------------------------------- beats */

/* A beat's RsInfo, as it was sent (NULL fields: absent). */
struct lc_beat_info {
    double weight;
    char *metadata; /* canonical JSON, malloc'd */
};

struct lc_beat_reply {
    long long interval_ms; /* clientBeatInterval */
    int code;              /* 10200, or 20404: not found, re-register */
    bool light_beat_enabled;
};

/* A beat for ip:port (@r: ns and names, ip, port, cluster) in @r's
 * service: refresh it; an unknown instance is re-registered from @beat
 * when there is one, else answered with code 20404. */
int lc_op_beat(struct lc_naming *n, const struct lc_instance_req *r,
               const struct lc_beat_info *beat, struct lc_beat_reply *reply,
               struct lc_err *e);

/* ---------------------------------------------------------------- health */

/* Set the health of persistent instance ip:port (client "ip:port#false")
 * of @r's service, through Raft; refused while the server checks that
 * cluster; an unknown instance is "ok" and changes nothing (not pending). */
int lc_op_set_health(struct lc_naming *n, const struct lc_instance_req *r,
                     bool healthy, struct lc_op *op, lc_op_cb cb,
                     struct lc_err *e);

/* instance/statuses: {"ips":["ip:port_healthy",...]} of the service named
 * by Nacos's key "ns##group@@service" (or "group@@service"). */
int lc_op_statuses(struct lc_naming *n, const char *key, json_t **out,
                   struct lc_err *e);

/* -------------------------------------------------------------- services */

/* A service as a controller names it: the grouped name as the
 * ServiceNameFilter left it, and its parts ("" when blank, as
 * NamingUtils.getGroupName / getServiceName give them). */
struct lc_service_name {
    char ns[256];
    char grouped[1300];
    char group[256];
    char name[1100];
    bool blank;
};

/* Fill @s from @grouped (@s->ns is the caller's). */
void lc_op_service_name(struct lc_service_name *s, const char *grouped);

/* Create a service with protectThreshold @threshold, metadata @metadata
 * (a JSON object or k=v,k=v; blank: none) and selector @selector (the raw
 * parameter), as ServiceController.create: the selector and the metadata
 * are checked first, then the name and that it does not exist yet. */
int lc_op_service_create(struct lc_naming *n, const struct lc_service_name *s,
                         float threshold, const char *metadata,
                         const char *selector, struct lc_op *op, lc_op_cb cb,
                         struct lc_err *e);

/* Delete an existing service without instances. */
int lc_op_service_remove(struct lc_naming *n, const struct lc_service_name *s,
                         struct lc_op *op, lc_op_cb cb, struct lc_err *e);

/* Update an existing service: protectThreshold (NumberUtils.toFloat of
 * @threshold), metadata and selector (NULL: none). */
int lc_op_service_update(struct lc_naming *n, const struct lc_service_name *s,
                         const char *threshold, const char *metadata,
                         const char *selector, struct lc_op *op, lc_op_cb cb,
                         struct lc_err *e);

/* The v1 detail {namespaceId, groupName, name, protectThreshold, metadata,
 * selector, clusters:[{name, healthChecker, metadata}]} (new reference in
 * *@out); *@svc is the service (for a v2 rendering). */
int lc_op_service_detail(struct lc_naming *n, const struct lc_service_name *s,
                         const struct lc_service **svc, json_t **out,
                         struct lc_err *e);

/* Page @page_no (from 1) of @page_size of the bare names of the services of
 * @ns and @group, sorted (ServiceUtil.pageServiceName): a new array in
 * *@names, the total in *@count. */
int lc_op_service_list(struct lc_naming *n, const char *ns, const char *group,
                       int page_no, int page_size, json_t **names,
                       size_t *count, struct lc_err *e);

/* /service/names: {"META-INF/services":{ns:[grouped names matching
 * .*<expr>.*]},"count":N}, of @ns (blank: every namespace). */
int lc_op_service_names(struct lc_naming *n, const char *ns, const char *expr,
                        json_t **out, struct lc_err *e);

/* --------------------------------------------------------------- catalog */

/* /catalog/services: the services of @ns whose group@@name matches the
 * patterns (blank: any), paged as Nacos's doPage; with @with_instances a
 * list of ServiceDetailInfo, else {"count":N,"serviceList":[...]} (with
 * @has_ip_count only services with instances). */
int lc_op_catalog_services(struct lc_naming *n, const char *ns,
                           const char *group_param, const char *name_param,
                           bool with_instances, bool has_ip_count,
                           int page_no, int page_size, json_t **out,
                           struct lc_err *e);

/* /catalog/service: {"service":{...},"clusters":[...]}. */
int lc_op_catalog_service(struct lc_naming *n, const char *ns,
                          const char *group, const char *name, json_t **out,
                          struct lc_err *e);

/* /catalog/instances: {"list":[hosts of @cluster, paged],"count":N}. */
int lc_op_catalog_instances(struct lc_naming *n, const char *ns,
                            const char *group, const char *name,
                            const char *cluster, int page_no, int page_size,
                            json_t **out, struct lc_err *e);

/* -------------------------------------------------------------- switches */

/* The switch domain as this node applied it (new reference). */
int lc_op_switches(struct lc_naming *n, json_t **out, struct lc_err *e);

/* Change switch @entry to @value: validated first (nothing changes on a bad
 * value), then written through Raft; with @debug only this node's copy
 * changes, at once (never pending), as SwitchManager.update(domain). */
int lc_op_switch_update(struct lc_naming *n, const char *entry,
                        const char *value, bool debug, struct lc_op *op,
                        lc_op_cb cb, struct lc_err *e);

/* -------------------------------------------------------------- operator */

/* operator/metrics: {"status"} (UP, DOWN, STARTING or the overridden
 * status), and unless @only_status the counts, cpu, load and mem. */
int lc_op_metrics(struct lc_naming *n, bool only_status, json_t **out,
                  struct lc_err *e);

/* operator/distro/client: {"responsibleServer":"host:port"} for ip:port. */
int lc_op_distro_client(struct lc_naming *n, const char *ip, const char *port,
                        json_t **out, struct lc_err *e);

/* DistroMapper for an HTTP client's tag ("ip:port", see
 * lc_filter_distro_tag): NULL when this node is responsible for @tag (no
 * member list, distro switched off, a list of one, or this node not among
 * the healthy members), else the member that is (borrowed from the member
 * list, valid for the call's turn of the loop). Reads only lc_members_*:
 * the states are whoever pushes or probes them. */
const struct lc_member *lc_op_distro_target(const struct lc_naming *n,
                                            const char *tag);

/* operator/log: set the level of Nacos's naming logger @name (logback's
 * level names) on the locus modules that log what it logs; an unknown
 * logger changes nothing, as in Nacos. */
void lc_op_set_log_level(const char *name, const char *level);

#endif /* LC_NAMING_OPS_H */
