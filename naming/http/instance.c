/* /nacos/v1/ns/instance and /instance/list: register, deregister, update,
 * detail and list, as Nacos 2.4.3's v1 InstanceController.
 *
 * Every request goes through Nacos's order of checks: the readiness gate,
 * ServiceNameFilter, ParamCheckerFilter, then the controller's own
 * parameters, each failing with Nacos's status and message and changing
 * nothing. Persistent writes become WriteRequests on
 * naming_persistent_service_v2 (PUT overlays on naming_instance_metadata)
 * and are answered once applied on this node.
 *
 * Ephemeral instances (ephemeral=true, Nacos's default) go straight into
 * the registry as client "ip:port#true" (naming/health/ephemeral.c); the beat
 * checker keeps or expires them.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "naming/http/filters.h"
#include "naming/http/handlers.h"
#include "naming/naming.pb-c.h"

struct write_ctx {
    struct lc_sm_write w;
    struct lc_http_exchange *ex;
    struct lc_naming *n;
};

bool lc_ns_gate(struct lc_naming *n, struct lc_http_exchange *ex)
{
    if (!lc_raft_engine_caught_up(n->engine)) {
        lc_naming_error(ex, LC_KIND_DOWN, 503,
                        "server is STARTINGnow, please try again later!");
        return false;
    }
    return true;
}

void lc_ns_no_such_api(struct lc_http_exchange *ex)
{
    lc_naming_error(ex, LC_KIND_SPRING, 501, "no such api:%s:%s",
                    lc_http_method_name(ex), lc_http_path(ex));
}

/* Split req->grouped into group and service. */
static bool split_service(struct lc_inst_req *r)
{
    const char *group;
    size_t glen;
    const char *service;
    if (!lc_split_grouped(r->grouped, &group, &glen, &service) ||
        glen >= sizeof r->group) {
        return false;
    }
    memcpy(r->group, group, glen);
    r->group[glen] = '\0';
    return lc_strlcpy(r->service, service, sizeof r->service);
}

/* namespaceId, serviceName (required) and its format. */
bool lc_ns_parse_service(struct lc_http_exchange *ex, struct lc_inst_req *r,
                          const char *grouped)
{
    char tmp[1300];
    const char *error;
    if (lc_optional(ex, "namespaceId", r->ns, sizeof r->ns) == NULL) {
        lc_strlcpy(r->ns, LC_DEFAULT_NAMESPACE, sizeof r->ns);
    }
    if (grouped[0] == '\0') {
        lc_naming_error(ex, LC_KIND_TEXT, 400,
                        "Param 'serviceName' is required.");
        return false;
    }
    /* WebUtils.required trims the (already grouped) name. */
    lc_strlcpy(tmp, grouped, sizeof tmp);
    {
        char *s = tmp;
        while (*s != '\0' && (unsigned char)*s <= ' ') {
            s++;
        }
        size_t n = strlen(s);
        while (n > 0 && (unsigned char)s[n - 1] <= ' ') {
            s[--n] = '\0';
        }
        lc_strlcpy(r->grouped, s, sizeof r->grouped);
    }
    error = lc_service_name_format_error(r->grouped);
    if (error != NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 400, "%s", error);
        return false;
    }
    return split_service(r);
}

/* ip, port, healthy, ephemeral, weight, cluster, enabled, metadata,
 * instanceId (HttpRequestInstanceBuilder). */
bool lc_ns_parse_instance(struct lc_naming *n, struct lc_http_exchange *ex,
                           struct lc_inst_req *r)
{
    char buf[1200];
    char err[1300];
    const char *v;
    (void)n;

    if (lc_required(ex, "serviceName", buf, sizeof buf) == NULL ||
        lc_required(ex, "ip", r->ip, sizeof r->ip) == NULL ||
        lc_required(ex, "port", buf, sizeof buf) == NULL) {
        return false;
    }
    if (!lc_java_parse_int(buf, &r->port, err, sizeof err)) {
        lc_naming_error(ex, LC_KIND_TEXT, 400, "%s", err);
        return false;
    }
    v = lc_optional(ex, "healthy", buf, sizeof buf);
    r->healthy = v == NULL || lc_to_boolean(v);
    v = lc_optional(ex, "ephemeral", buf, sizeof buf);
    r->ephemeral = v == NULL || lc_to_boolean(v);
    r->weight = 1.0;
    v = lc_optional(ex, "weight", buf, sizeof buf);
    if (v != NULL && !lc_java_parse_double(v, &r->weight, err, sizeof err)) {
        lc_naming_error(ex, LC_KIND_TEXT, 400, "%s", err);
        return false;
    }
    if (r->weight != r->weight || r->weight > 10000.0 || r->weight < 0.0) {
        lc_naming_error(
            ex, LC_KIND_TEXT, 400,
            "instance format invalid: The weights range from 0.0 to 10000.0");
        return false;
    }
    if (lc_optional(ex, "clusterName", r->cluster, sizeof r->cluster) ==
            NULL &&
        lc_optional(ex, "cluster", r->cluster, sizeof r->cluster) == NULL) {
        lc_strlcpy(r->cluster, LC_DEFAULT_CLUSTER, sizeof r->cluster);
    }
    v = lc_optional(ex, "enabled", buf, sizeof buf);
    if (v == NULL) {
        v = lc_optional(ex, "enable", buf, sizeof buf);
    }
    r->enabled = v == NULL || lc_to_boolean(v);
    v = lc_optional(ex, "metadata", buf, sizeof buf);
    if (lc_metadata_parse(v, &r->metadata) != 0) {
        lc_naming_error(ex, LC_KIND_TEXT, 400, "metadata format incorrect:%s",
                        v);
        return false;
    }
    /* Only the simple generator: ip#port#cluster#group@@service. */
    if (strcmp(r->metadata, "{}") != 0) {
        json_t *meta = json_loads(r->metadata, 0, NULL);
        const char *gen = json_string_value(
            json_object_get(meta, LC_META_ID_GENERATOR));
        bool unknown = gen != NULL && strcmp(gen, "simple") != 0;
        json_decref(meta);
        if (unknown) {
            lc_naming_error(
                ex, LC_KIND_TEXT, 500,
                "caused: The InstanceIdGenerator type is not found ;");
            return false;
        }
    }
    lc_instance_id(r->instance_id, sizeof r->instance_id, r->ip, r->port,
                   r->cluster, r->grouped);
    return true;
}

/* NamingUtils.checkInstanceIsLegal. */
bool lc_ns_check_legal(struct lc_http_exchange *ex, struct lc_inst_req *r)
{
    json_t *meta = strcmp(r->metadata, "{}") == 0
                       ? json_object()
                       : json_loads(r->metadata, 0, NULL);
    long long interval;
    interval = lc_meta_long(meta, LC_META_BEAT_INTERVAL, 5000);
    if (lc_meta_long(meta, LC_META_BEAT_TIMEOUT, 15000) < interval ||
        lc_meta_long(meta, LC_META_DELETE_TIMEOUT, 30000) < interval) {
        json_decref(meta);
        lc_naming_error(ex, LC_KIND_TEXT, 400,
                        "Instance 'heart beat interval' must less than "
                        "'heart beat timeout' and 'ip delete timeout'.");
        return false;
    }
    json_decref(meta);
    for (const char *p = r->cluster; *p != '\0'; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
              (*p >= 'A' && *p <= 'Z') || *p == '-')) {
            lc_naming_error(ex, LC_KIND_TEXT, 400,
                            "Instance 'clusterName' should be characters "
                            "with only 0-9a-zA-Z-. (current: %s)",
                            r->cluster);
            return false;
        }
    }
    return true;
}

/* ---------------------------------------------------------------- writes */

void lc_ns_reply_write_error(struct lc_http_exchange *ex, int status)
{
    switch (status) {
        case LC_ENOTREADY:
            lc_naming_error(ex, LC_KIND_DOWN, 503,
                            "server is STARTINGnow, please try again later!");
            break;
        case LC_ESHUTDOWN:
            lc_naming_error(ex, LC_KIND_DOWN, 503,
                            "server is DOWNnow, please try again later!");
            break;
        case LC_ETIMEDOUT:
            lc_naming_error(ex, LC_KIND_TEXT, 500,
                            "raft write timed out: no leader committed it in "
                            "time; it may still be applied, retry");
            break;
        case LC_ELEADERSHIPLOST:
            lc_naming_error(ex, LC_KIND_TEXT, 500,
                            "raft leadership changed before the write was "
                            "committed; it may or may not be applied, retry");
            break;
        case LC_ECONN:
            lc_naming_error(ex, LC_KIND_TEXT, 500,
                            "lost the connection to the raft leader before it "
                            "answered; the write may or may not be applied, "
                            "retry");
            break;
        default:
            lc_naming_error(ex, LC_KIND_TEXT, 500, "raft write failed: %s",
                            lc_strerror(status));
    }
}

void lc_ns_reply_written(struct lc_http_exchange *ex, int status,
                         const struct lc_raft_result *result)
{
    if (status != 0) {
        lc_ns_reply_write_error(ex, status);
    } else if (result->status != 0) {
        lc_naming_error(ex, LC_KIND_TEXT,
                        result->status == LC_EINVAL ? 400 : 500, "%s",
                        result->message);
    } else {
        lc_naming_ok(ex);
    }
}

static void on_written(struct lc_sm_write *w, int status,
                       const struct lc_raft_result *result)
{
    struct write_ctx *c = w->data;
    lc_ns_reply_written(c->ex, status, result);
    free(c);
}

void lc_ns_submit(struct lc_naming *n, struct lc_http_exchange *ex,
                   struct lc_statemachine *sm, const char *key,
                   const char *op, void *data, size_t len)
{
    struct write_ctx *c = calloc(1, sizeof *c);
    int rv;
    if (c == NULL) {
        free(data);
        lc_naming_error(ex, LC_KIND_TEXT, 500, "out of memory");
        return;
    }
    c->ex = ex;
    c->n = n;
    c->w.data = c;
    rv = lc_sm_write(sm, &c->w, key, op, data, len, on_written);
    free(data);
    if (rv != 0) {
        free(c);
        lc_ns_reply_write_error(ex, rv);
    }
}

static void write_instance(struct lc_naming *n, struct lc_http_exchange *ex,
                           struct lc_inst_req *r, const char *op)
{
    Locus__Naming__InstanceStore st = LOCUS__NAMING__INSTANCE_STORE__INIT;
    char client_id[320];
    char key[2200];
    size_t len;
    void *data;

    snprintf(client_id, sizeof client_id, "%s:%d#false", r->ip, r->port);
    snprintf(key, sizeof key, "%s##%s##%s", r->ns, r->grouped, client_id);
    st.namespace_ = r->ns;
    st.group_name = r->group;
    st.service_name = r->service;
    st.client_id = client_id;
    st.ip = r->ip;
    st.port = r->port;
    st.cluster = r->cluster;
    st.weight = r->weight;
    st.healthy = r->healthy;
    st.enabled = r->enabled;
    st.metadata = r->metadata;
    st.instance_id = r->instance_id;
    len = locus__naming__instance_store__get_packed_size(&st);
    data = malloc(len > 0 ? len : 1);
    if (data == NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 500, "out of memory");
        return;
    }
    locus__naming__instance_store__pack(&st, data);
    lc_ns_submit(n, ex, n->persistent_sm, key, op, data, len);
}

bool lc_ns_parse_common(struct lc_naming *n, struct lc_http_exchange *ex,
                         char *grouped, size_t gsize)
{
    return lc_ns_gate(n, ex) && lc_filter_service_name(ex, grouped, gsize) &&
           lc_filter_params(ex, grouped, false);
}

/* Ephemeral: into the registry now, no Raft (Distro's side of Nacos). */
static void register_ephemeral(struct lc_http_exchange *ex,
                               struct lc_naming *n, struct lc_inst_req *r,
                               const struct lc_service_key *key)
{
    char err[1600];
    struct lc_instance *inst =
        lc_instance_new(r->ip, r->port, r->cluster, r->weight, r->healthy,
                        r->enabled, true, r->metadata, r->instance_id);
    int rv;
    if (inst == NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 500, "out of memory");
        return;
    }
    rv = lc_ephemeral_register(n, key, inst, err, sizeof err);
    lc_instance_unref(inst);
    if (rv == LC_EINVAL) {
        lc_naming_error(ex, LC_KIND_TEXT, 400, "%s", err);
    } else if (rv != 0) {
        lc_naming_error(ex, LC_KIND_TEXT, 500, "%s", err);
    } else {
        lc_naming_ok(ex);
    }
}

static void on_register(struct lc_naming *n, struct lc_http_exchange *ex)
{
    struct lc_inst_req r;
    char grouped[1300];
    struct lc_service_key key;
    struct lc_service *svc;

    r.metadata = NULL; /* the rest is written before it is read */

    if (!lc_ns_parse_common(n, ex, grouped, sizeof grouped) ||
        !lc_ns_parse_service(ex, &r, grouped) || !lc_ns_parse_instance(n, ex, &r) ||
        !lc_ns_check_legal(ex, &r)) {
        goto out;
    }
    key.ns = r.ns;
    key.group = r.group;
    key.name = r.service;
    if (r.ephemeral) {
        register_ephemeral(ex, n, &r, &key);
        goto out;
    }
    svc = lc_registry_find_service(n->reg, &key);
    if (svc != NULL && svc->ephemeral) {
        lc_naming_error(ex, LC_KIND_TEXT, 400,
                        "errCode: 400, errMsg: Current service %s is "
                        "ephemeral service, can't register persistent "
                        "instance. ",
                        svc->grouped);
        goto out;
    }
    write_instance(n, ex, &r, "ADD");
out:
    free(r.metadata);
}

static void on_deregister(struct lc_naming *n, struct lc_http_exchange *ex)
{
    struct lc_inst_req r;
    char grouped[1300];

    r.metadata = NULL;
    /* DELETE builds the instance first, then checks the service. */
    if (!lc_ns_parse_common(n, ex, grouped, sizeof grouped) ||
        !lc_ns_parse_instance(n, ex, &r) || !lc_ns_parse_service(ex, &r, grouped)) {
        goto out;
    }
    if (r.ephemeral) {
        struct lc_service_key key = {r.ns, r.group, r.service};
        lc_ephemeral_deregister(n, &key, r.ip, r.port);
        lc_naming_ok(ex);
        goto out;
    }
    /* Always through Raft: a no-op delete is acknowledged like any write,
     * and a delete racing a register elsewhere cannot be lost. */
    lc_instance_id(r.instance_id, sizeof r.instance_id, r.ip, r.port,
                   r.cluster, r.grouped);
    write_instance(n, ex, &r, "DELETE");
out:
    free(r.metadata);
}

static void on_update(struct lc_naming *n, struct lc_http_exchange *ex)
{
    struct lc_inst_req r;
    char grouped[1300];
    struct lc_service_key key;
    char okey[2400];
    json_t *overlay;
    size_t len;
    void *data;
    int rv;

    r.metadata = NULL;
    if (!lc_ns_parse_common(n, ex, grouped, sizeof grouped) ||
        !lc_ns_parse_service(ex, &r, grouped) || !lc_ns_parse_instance(n, ex, &r) ||
        !lc_ns_check_legal(ex, &r)) {
        goto out;
    }
    key.ns = r.ns;
    key.group = r.group;
    key.name = r.service;
    struct lc_service *svc = lc_registry_find_service(n->reg, &key);
    if (svc == NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 400,
                        "service not found, namespace: %s, service: "
                        "Service{namespace='%s', group='%s', name='%s', "
                        "ephemeral=%s, revision=0}",
                        r.ns, r.ns, r.group, r.service,
                        r.ephemeral ? "true" : "false");
        goto out;
    }
    /* The overlay replaces weight, enabled and metadata of ip:port:cluster
     * (InstanceMetadata in naming_instance_metadata). */
    overlay = json_object();
    json_object_set_new(overlay, "enabled", json_boolean(r.enabled));
    json_object_set_new(overlay, "weight", json_real(r.weight));
    json_object_set_new(overlay, "extendData",
                        json_loads(r.metadata, 0, NULL));
    /* Who may expire it (naming/clean/instance_meta_clean.c). */
    json_object_set_new(overlay, "ephemeral", json_boolean(svc->ephemeral));
    lc_overlay_key(okey, sizeof okey, svc->key, r.ip, r.port, r.cluster);
    rv = lc_ns_pack_overlay(okey, overlay, &data, &len);
    json_decref(overlay);
    if (rv != 0) {
        lc_naming_error(ex, LC_KIND_TEXT, 500, "out of memory");
        goto out;
    }
    lc_ns_submit(n, ex, n->instance_meta_sm, okey, "PUT", data, len);
out:
    free(r.metadata);
}

/* ----------------------------------------------------------------- reads */

struct read_ctx {
    struct lc_sm_read rd;
    struct lc_http_exchange *ex;
    struct lc_naming *n;
    void (*render)(struct read_ctx *c);
    struct lc_inst_req r;
    char clusters[1200];
    bool healthy_only;
};

/* getInstance0: the instance ip:port of @cluster in @svc, else 404. */
struct lc_instance *lc_ns_find_instance(struct lc_naming *n,
                                       struct lc_http_exchange *ex,
                                       const struct lc_service *svc,
                                       const struct lc_inst_req *r)
{
    struct lc_publisher *p, *tmp;
    if (svc == NULL || svc->n_publishers == 0) {
        lc_naming_error(ex, LC_KIND_TEXT, 404,
                        "no ips found for cluster %s in service %s",
                        r->cluster, r->grouped);
        return NULL;
    }
    HASH_ITER(hh, svc->publishers, p, tmp)
    {
        struct lc_instance *inst =
            lc_registry_instance_of(n->reg, p->client_id, svc);
        if (inst != NULL && strcmp(inst->cluster, r->cluster) == 0 &&
            strcmp(inst->ip, r->ip) == 0 && inst->port == r->port) {
            return inst;
        }
    }
    lc_naming_error(ex, LC_KIND_TEXT, 404, "no matched ip found!");
    return NULL;
}

static void render_detail(struct read_ctx *c)
{
    struct lc_naming *n = c->n;
    struct lc_inst_req *r = &c->r;
    struct lc_service_key key = {r->ns, r->group, r->service};
    struct lc_service *svc = lc_registry_find_service(n->reg, &key);
    struct lc_instance *inst = lc_ns_find_instance(n, c->ex, svc, r);
    struct lc_view v;
    json_t *o;

    if (inst == NULL) {
        return;
    }
    o = json_object();
    lc_instance_view(n, svc, inst, &v);
    /* v2's InstanceDetailInfoVo says serviceName. */
    json_object_set_new(o, lc_v2(c->ex) ? "serviceName" : "service",
                        json_string(r->grouped));
    json_object_set_new(o, "ip", json_string(inst->ip));
    json_object_set_new(o, "port", json_integer(inst->port));
    json_object_set_new(o, "clusterName", json_string(inst->cluster));
    json_object_set_new(o, "weight", json_real(v.weight));
    json_object_set_new(o, "healthy", json_boolean(v.healthy));
    json_object_set_new(o, "instanceId", json_string(inst->instance_id));
    json_object_set_new(o, "metadata", v.metadata);
    lc_reply_json(c->ex, o);
}

static void render_list(struct read_ctx *c)
{
    struct lc_inst_req *r = &c->r;
    struct lc_service_key key = {r->ns, r->group, r->service};
    struct lc_service *svc = lc_registry_find_service(c->n->reg, &key);
    if (lc_v2(c->ex)) { /* enveloped: not from the v1 answer cache */
        lc_reply_json(c->ex, lc_render_service_info(c->n, svc, &key,
                                                    c->clusters,
                                                    c->healthy_only));
        return;
    }
    lc_list_reply(c->n, c->ex, svc, &key, c->clusters, c->healthy_only);
}

static void on_read_done(struct lc_sm_read *rd, int status,
                         const Locus__Consistency__Response *resp)
{
    struct read_ctx *c = rd->data;
    (void)resp;
    if (status != 0) {
        lc_ns_reply_write_error(c->ex, status);
    } else {
        c->render(c);
    }
    free(c);
}

/* Render now, or after a barrier when consistent=true. */
static void read_and_render(struct read_ctx *c)
{
    const char *consistent = lc_http_param(c->ex, "consistent");
    int rv;
    if (!lc_to_boolean(consistent)) {
        c->render(c);
        free(c);
        return;
    }
    c->rd.data = c;
    rv = lc_sm_read(c->n->persistent_sm, &c->rd, "", 0, on_read_done);
    if (rv != 0) {
        lc_ns_reply_write_error(c->ex, rv);
        free(c);
    }
}

/* A read context without zeroing its ~6 KB of buffers (they are written
 * before they are read). */
static struct read_ctx *read_ctx_new(struct lc_naming *n,
                                     struct lc_http_exchange *ex,
                                     void (*render)(struct read_ctx *))
{
    struct read_ctx *c = malloc(sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    memset(&c->rd, 0, sizeof c->rd);
    c->ex = ex;
    c->n = n;
    c->render = render;
    c->r.metadata = NULL;
    c->clusters[0] = '\0';
    c->healthy_only = false;
    return c;
}

static void on_detail(struct lc_naming *n, struct lc_http_exchange *ex)
{
    struct read_ctx *c = read_ctx_new(n, ex, render_detail);
    char grouped[1300];
    char buf[1200];
    char err[1300];
    if (c == NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 500, "out of memory");
        return;
    }
    if (!lc_ns_parse_common(n, ex, grouped, sizeof grouped) ||
        !lc_ns_parse_service(ex, &c->r, grouped)) {
        free(c);
        return;
    }
    if (lc_optional(ex, "clusterName", c->r.cluster, sizeof c->r.cluster) ==
        NULL) {
        lc_strlcpy(c->r.cluster, LC_DEFAULT_CLUSTER, sizeof c->r.cluster);
    }
    if (lc_required(ex, "ip", c->r.ip, sizeof c->r.ip) == NULL ||
        lc_required(ex, "port", buf, sizeof buf) == NULL) {
        free(c);
        return;
    }
    if (!lc_java_parse_int(buf, &c->r.port, err, sizeof err)) {
        lc_naming_error(ex, LC_KIND_TEXT, 400, "%s", err);
        free(c);
        return;
    }
    read_and_render(c);
}

static void on_list(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    struct read_ctx *c;
    char grouped[1300];
    char buf[64];
    char err[128];
    int udp_port = 0;
    const char *v;

    if (lc_http_method(ex) != LC_HTTP_GET) {
        lc_ns_no_such_api(ex);
        return;
    }
    c = read_ctx_new(n, ex, render_list);
    if (c == NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 500, "out of memory");
        return;
    }
    if (!lc_ns_gate(n, ex) || !lc_filter_service_name(ex, grouped, sizeof grouped) ||
        !lc_filter_params(ex, grouped, true) ||
        !lc_ns_parse_service(ex, &c->r, grouped)) {
        free(c);
        return;
    }
    /* v2 names the cluster list clusterName. */
    if (lc_optional(ex, lc_v2(ex) ? "clusterName" : "clusters", c->clusters,
                    sizeof c->clusters) == NULL) {
        c->clusters[0] = '\0';
    }
    if (lc_v2(ex)) {
        /* InstanceControllerV2.list: Integer port, Boolean healthyOnly. */
        if (!lc_v2_list_params(ex, &udp_port, &c->healthy_only)) {
            free(c);
            return;
        }
    } else {
        v = lc_optional(ex, "udpPort", buf, sizeof buf);
        if (v != NULL && !lc_java_parse_int(v, &udp_port, err, sizeof err)) {
            lc_naming_error(ex, LC_KIND_TEXT, 400, "%s", err);
            free(c);
            return;
        }
        v = lc_optional(ex, "healthyOnly", buf, sizeof buf);
        c->healthy_only = v != NULL && strcasecmp(v, "true") == 0;
    }
    lc_naming_push_on_list(
        n, ex, &(struct lc_service_key){c->r.ns, c->r.group, c->r.service},
        c->clusters, udp_port);
    read_and_render(c);
}

static void on_instance(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    switch (lc_http_method(ex)) {
        case LC_HTTP_POST:
            on_register(n, ex);
            break;
        case LC_HTTP_DELETE:
            on_deregister(n, ex);
            break;
        case LC_HTTP_PUT:
            on_update(n, ex);
            break;
        case LC_HTTP_GET:
            on_detail(n, ex);
            break;
        case LC_HTTP_PATCH:
            lc_ns_on_patch(n, ex);
            break;
        default:
            lc_ns_no_such_api(ex);
    }
}

static void on_fallback(struct lc_http_exchange *ex, void *data)
{
    (void)data;
    if (strncmp(lc_http_path(ex), "/nacos/v1/ns/", 13) == 0) {
        lc_ns_no_such_api(ex);
    } else {
        lc_naming_error(ex, LC_KIND_SPRING, 404, "No message available");
    }
}

int lc_naming_instance_routes(struct lc_naming *n, struct lc_http_server *srv)
{
    lc_http_server_fallback(srv, on_fallback, n);
    if (lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v1/ns/instance",
                             on_instance, n) != 0 ||
        lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v1/ns/instance/list",
                             on_list, n) != 0 ||
        lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v2/ns/instance",
                             on_instance, n) != 0 ||
        lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v2/ns/instance/list",
                             on_list, n) != 0) {
        return LC_ENOMEM;
    }
    return 0;
}
