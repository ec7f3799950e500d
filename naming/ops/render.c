/* JSON as Nacos's Jackson writes it: ServiceInfo and Instance with their key
 * order, null fields left out, and the PUT overlay applied to each host.
 *
 * Instance keys: instanceId, ip, port, weight, healthy, enabled, ephemeral,
 * clusterName, serviceName, metadata, then the getter-only
 * instanceHeartBeatInterval, instanceHeartBeatTimeOut, ipDeleteTimeout and
 * instanceIdGenerator (present only while metadata is empty or names a
 * generator, as Instance.getInstanceIdGenerator() returns null otherwise).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "naming/internal.h"
#include "naming/store/service_meta.h"

void lc_overlay_key(char *out, size_t size, const char *service_key,
                    const char *ip, int port, const char *cluster)
{
    snprintf(out, size, "%s\x1e%s:%d:%s", service_key, ip, port, cluster);
}

void lc_instance_view(struct lc_naming *n, const struct lc_service *svc,
                      const struct lc_instance *inst, struct lc_view *v)
{
    char key[2400];
    size_t len;
    const void *raw;

    v->weight = inst->weight;
    v->enabled = inst->enabled;
    v->healthy = inst->healthy;
    v->metadata = lc_instance_metadata(inst);
    if (lc_kvstore_count(&n->instance_meta) == 0) {
        return;
    }
    lc_overlay_key(key, sizeof key, svc->key, inst->ip, inst->port,
                   inst->cluster);
    raw = lc_kvstore_get(&n->instance_meta, key, &len);
    if (raw == NULL) {
        return;
    }
    json_t *overlay = json_loadb(raw, len, 0, NULL);
    json_t *w = json_object_get(overlay, "weight");
    json_t *en = json_object_get(overlay, "enabled");
    json_t *extra = json_object_get(overlay, "extendData");
    if (json_is_number(w)) {
        v->weight = json_number_value(w);
    }
    if (json_is_boolean(en)) {
        v->enabled = json_is_true(en);
    }
    if (json_is_object(extra) && json_object_size(extra) > 0) {
        json_t *merged = json_copy(v->metadata);
        json_object_update(merged, extra);
        json_decref(v->metadata);
        v->metadata = merged;
    }
    json_decref(overlay);
}

json_t *lc_render_host(const struct lc_service *svc,
                       const struct lc_instance *inst,
                       const struct lc_view *v)
{
    json_t *h = json_object();
    json_t *gen = json_object_get(v->metadata, LC_META_ID_GENERATOR);
    long long interval = 5000;
    long long timeout = 15000;
    long long del = 30000;
    const char *k;
    json_t *val;

    /* The getters parse the metadata strings; anything else is default. */
    json_object_foreach(v->metadata, k, val)
    {
        const char *s = json_string_value(val);
        char *end;
        long long x;
        if (s == NULL || *s == '\0') {
            continue;
        }
        x = strtoll(s, &end, 10);
        if (*end != '\0') {
            continue;
        }
        if (strcmp(k, LC_META_BEAT_INTERVAL) == 0) {
            interval = x;
        } else if (strcmp(k, LC_META_BEAT_TIMEOUT) == 0) {
            timeout = x;
        } else if (strcmp(k, LC_META_DELETE_TIMEOUT) == 0) {
            del = x;
        }
    }
    json_object_set_new(h, "instanceId", json_string(inst->instance_id));
    json_object_set_new(h, "ip", json_string(inst->ip));
    json_object_set_new(h, "port", json_integer(inst->port));
    json_object_set_new(h, "weight", json_real(v->weight));
    json_object_set_new(h, "healthy", json_boolean(v->healthy));
    json_object_set_new(h, "enabled", json_boolean(v->enabled));
    json_object_set_new(h, "ephemeral", json_boolean(svc->ephemeral));
    json_object_set_new(h, "clusterName", json_string(inst->cluster));
    json_object_set_new(h, "serviceName", json_string(svc->grouped));
    json_object_set_new(h, "metadata", json_incref(v->metadata));
    json_object_set_new(h, "instanceHeartBeatInterval",
                        json_integer(interval));
    json_object_set_new(h, "instanceHeartBeatTimeOut", json_integer(timeout));
    json_object_set_new(h, "ipDeleteTimeout", json_integer(del));
    if (json_is_string(gen)) {
        json_object_set_new(h, "instanceIdGenerator", json_incref(gen));
    } else if (json_object_size(v->metadata) == 0) {
        json_object_set_new(h, "instanceIdGenerator", json_string("simple"));
    }
    return h;
}

struct list_ctx {
    struct lc_naming *n;
    const struct lc_service *svc;
    char **clusters;
    size_t n_clusters;
    bool healthy_only;
    json_t *hosts;
    size_t healthy; /* enabled and healthy, before healthyOnly */
};

static bool cluster_wanted(const struct list_ctx *c, const char *cluster)
{
    if (c->n_clusters == 0) {
        return true;
    }
    for (size_t i = 0; i < c->n_clusters; i++) {
        if (strcmp(c->clusters[i], cluster) == 0) {
            return true;
        }
    }
    return false;
}

static void add_host(struct lc_instance *inst, void *data)
{
    struct list_ctx *c = data;
    struct lc_view v;
    if (!cluster_wanted(c, inst->cluster)) {
        return;
    }
    lc_instance_view(c->n, c->svc, inst, &v);
    c->healthy += v.enabled && v.healthy;
    if (v.enabled && (!c->healthy_only || v.healthy)) {
        json_array_append_new(c->hosts, lc_render_host(c->svc, inst, &v));
    }
    json_decref(v.metadata);
}

/* One instance per ip:port:cluster. Two clients may publish the same
 * address in a service: a dead member's connection, still synced here
 * until it expires, and the client's new connection after its redo. Nacos
 * renders both when any field differs (a HashSet of Instance, whose equals
 * compares every field), so a subscriber sees the instance twice; locus
 * renders one: a client this member holds (or is responsible for) before a
 * synced copy, else the first. */
struct seen_addr {
    struct lc_instance *inst;
    bool synced;
    UT_hash_handle hh;
    char key[];
};

static void each_distinct(struct lc_naming *n, const struct lc_service *svc,
                          struct list_ctx *c)
{
    struct lc_publisher *p, *tmp;
    struct seen_addr *seen = NULL, *s, *stmp;
    bool dup = false;
    if (svc->n_publishers < 2) {
        lc_registry_each_instance(n->reg, svc, add_host, c);
        return;
    }
    HASH_ITER(hh, svc->publishers, p, tmp)
    {
        struct lc_client *cl = lc_registry_find_client(n->reg, p->client_id);
        struct lc_publish *pub = lc_registry_find_publish(n->reg,
                                                          p->client_id, svc);
        size_t len;
        if (cl == NULL || pub == NULL) {
            continue;
        }
        len = strlen(pub->inst->ip) + strlen(pub->inst->cluster) + 16;
        s = malloc(sizeof *s + len);
        if (s == NULL) {
            continue;
        }
        snprintf(s->key, len, "%s:%d:%s", pub->inst->ip, pub->inst->port,
                 pub->inst->cluster);
        s->inst = pub->inst;
        s->synced = cl->kind == LC_CLIENT_SYNCED;
        {
            struct seen_addr *old;
            HASH_FIND_STR(seen, s->key, old);
            if (old == NULL) {
                HASH_ADD_STR(seen, key, s);
                continue;
            }
            dup = true;
            if (old->synced && !s->synced) {
                old->inst = s->inst;
                old->synced = false;
            }
            free(s);
        }
    }
    if (dup) {
        lc_debugf("naming", "%s: an address published twice, rendered once",
                  svc->grouped);
    }
    HASH_ITER(hh, seen, s, stmp)
    {
        add_host(s->inst, c);
        HASH_DEL(seen, s);
        free(s);
    }
}

json_t *lc_render_service_info(struct lc_naming *n,
                               const struct lc_service *svc,
                               const struct lc_service_key *key,
                               const char *clusters, bool healthy_only)
{
    json_t *info = json_object();
    char grouped[1300];
    struct list_ctx c = {n, svc, NULL, 0, healthy_only, json_array(), 0};
    bool reached;
    char *copy = NULL;

    /* Java's split(",") keeps empty inner items; an empty name matches no
     * cluster, which is what Nacos does. */
    if (clusters != NULL && clusters[0] != '\0') {
        size_t cap = 1;
        for (const char *p = clusters; *p != '\0'; p++) {
            cap += *p == ',';
        }
        copy = strdup(clusters);
        c.clusters = calloc(cap, sizeof *c.clusters);
        if (copy != NULL && c.clusters != NULL) {
            char *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t != NULL;
                 t = strtok_r(NULL, ",", &save)) {
                c.clusters[c.n_clusters++] = t;
            }
        }
    }
    if (svc != NULL) {
        each_distinct(n, svc, &c);
    }
    /* protectThreshold (services with stored metadata only) */
    reached = lc_service_protect(n, svc, c.hosts, c.healthy);
    snprintf(grouped, sizeof grouped, "%s@@%s", key->group, key->name);
    json_object_set_new(info, "name", json_string(grouped));
    json_object_set_new(info, "groupName", json_string(key->group));
    json_object_set_new(info, "clusters",
                        json_string(clusters != NULL ? clusters : ""));
    json_object_set_new(info, "cacheMillis", json_integer(n->sw.default_push_cache_millis));
    json_object_set_new(info, "hosts", c.hosts);
    json_object_set_new(info, "lastRefTime",
                        json_integer((json_int_t)lc_now_ms()));
    json_object_set_new(info, "checksum", json_string(""));
    json_object_set_new(info, "allIPs", json_false());
    json_object_set_new(info, "reachProtectionThreshold",
                        json_boolean(reached));
    json_object_set_new(info, "valid", json_true());
    free(c.clusters);
    free(copy);
    return info;
}
