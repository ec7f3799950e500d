/* PUT /nacos/v1/ns/health[/instance] (HealthController.update with
 * HealthOperatorV2Impl) and /nacos/v1/ns/instance/statuses
 * (InstanceController.listWithHealthStatus), as Nacos 2.4.3.
 *
 * Setting health by hand is for persistent instances whose cluster is not
 * checked by the server: while lc_health_checks_on() holds it is refused
 * with Nacos's "health check is still working" message. Otherwise the
 * instance that "ip:port#false" publishes in the service is written again
 * through Raft with only `healthy` changed (so every member agrees and
 * subscribers get a push); an unknown client or service answers "ok" and
 * changes nothing, as Nacos does. Ephemeral instances are never touched:
 * Nacos looks up only the persistent client id.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "naming/http/filters.h"
#include "naming/http/handlers.h"
#include "naming/naming.pb-c.h"

struct health_write {
    struct lc_sm_write w;
    struct lc_http_exchange *ex;
};

static void on_written(struct lc_sm_write *w, int status,
                       const struct lc_raft_result *result)
{
    struct health_write *c = w->data;
    lc_ns_reply_written(c->ex, status, result);
    free(c);
}

int lc_health_write(struct lc_naming *n, const struct lc_service *svc,
                    const char *client_id, const struct lc_instance *inst,
                    bool healthy, struct lc_sm_write *w, lc_sm_write_cb cb)
{
    Locus__Naming__InstanceStore st = LOCUS__NAMING__INSTANCE_STORE__INIT;
    char key[2400];
    size_t len;
    void *data;
    int rv;

    snprintf(key, sizeof key, "%s##%s##%s", svc->ns, svc->grouped, client_id);
    st.namespace_ = svc->ns;
    st.group_name = svc->group;
    st.service_name = svc->name;
    st.client_id = (char *)client_id;
    st.ip = inst->ip;
    st.port = inst->port;
    st.cluster = inst->cluster;
    st.weight = inst->weight;
    st.healthy = healthy;
    st.enabled = inst->enabled;
    st.metadata = inst->metadata_text;
    st.instance_id = inst->instance_id;
    len = locus__naming__instance_store__get_packed_size(&st);
    data = malloc(len > 0 ? len : 1);
    if (data == NULL) {
        return LC_ENOMEM;
    }
    locus__naming__instance_store__pack(&st, data);
    rv = lc_sm_write(n->persistent_sm, w, key, "HEALTH", data, len, cb);
    free(data);
    return rv;
}

static void on_update(struct lc_naming *n, struct lc_http_exchange *ex)
{
    char grouped[1300];
    char healthy_text[64];
    char ns[256];
    char cluster[256];
    char ip[256];
    char port_text[64];
    char err[256];
    char client_id[320];
    const char *group;
    size_t glen;
    const char *name;
    char group_buf[256];
    struct lc_service_key key;
    struct lc_service *svc;
    struct lc_instance *inst;
    struct health_write *c;
    bool healthy;
    int port;
    int rv;

    if (!lc_ns_gate(n, ex) || !lc_filter_service_name(ex, grouped, sizeof grouped) ||
        !lc_filter_params(ex, grouped, false)) {
        return;
    }
    if (lc_optional(ex, "healthy", healthy_text, sizeof healthy_text) == NULL &&
        lc_optional(ex, "valid", healthy_text, sizeof healthy_text) == NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 400, "Param 'healthy' is required.");
        return;
    }
    healthy = lc_to_boolean(healthy_text);
    if (grouped[0] == '\0') {
        lc_naming_error(ex, LC_KIND_TEXT, 400,
                        "Param 'serviceName' is required.");
        return;
    }
    if (lc_optional(ex, "namespaceId", ns, sizeof ns) == NULL) {
        lc_strlcpy(ns, LC_DEFAULT_NAMESPACE, sizeof ns);
    }
    if (lc_optional(ex, "clusterName", cluster, sizeof cluster) == NULL) {
        lc_strlcpy(cluster, LC_DEFAULT_CLUSTER, sizeof cluster);
    }
    if (lc_required(ex, "ip", ip, sizeof ip) == NULL ||
        lc_required(ex, "port", port_text, sizeof port_text) == NULL) {
        return;
    }
    if (!lc_java_parse_int(port_text, &port, err, sizeof err)) {
        lc_naming_error(ex, LC_KIND_TEXT, 400, "%s", err);
        return;
    }
    /* The filter made the name grouped; a malformed one cannot get here. */
    if (!lc_split_grouped(grouped, &group, &glen, &name) ||
        glen >= sizeof group_buf) {
        lc_naming_error(ex, LC_KIND_TEXT, 400,
                        "Param 'serviceName' is illegal, it should be "
                        "format as 'groupName@@serviceName'");
        return;
    }
    memcpy(group_buf, group, glen);
    group_buf[glen] = '\0';
    key.ns = ns;
    key.group = group_buf;
    key.name = name;
    svc = lc_registry_find_service(n->reg, &key);
    if (lc_health_checks_on(n, svc, cluster)) {
        lc_naming_error(ex, LC_KIND_TEXT, 400,
                        "health check is still working, service: %s, "
                        "cluster: %s",
                        grouped, cluster);
        return;
    }
    snprintf(client_id, sizeof client_id, "%s:%d#false", ip, port);
    inst = svc != NULL ? lc_registry_instance_of(n->reg, client_id, svc) : NULL;
    if (inst == NULL) {
        lc_naming_ok(ex); /* no such client or instance: nothing to do */
        return;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 500, "out of memory");
        return;
    }
    c->ex = ex;
    c->w.data = c;
    rv = lc_health_write(n, svc, client_id, inst, healthy, &c->w, on_written);
    if (rv != 0) {
        free(c);
        lc_ns_reply_write_error(ex, rv);
    }
}

static void on_health(struct lc_http_exchange *ex, void *data)
{
    if (lc_http_method(ex) != LC_HTTP_PUT) {
        lc_ns_no_such_api(ex);
        return;
    }
    on_update(data, ex);
}

/* ------------------------------------------------------------ statuses */

/* Java's key.split(@sep)[@i] with @sep a literal: piece @i into @out, or
 * false when there are not that many pieces (trailing empty ones are
 * dropped); *@count gets the number of pieces. */
static bool split_piece(const char *s, const char *sep, int i, char *out,
                        size_t size, int *count)
{
    size_t seplen = strlen(sep);
    const char *p = s;
    int n = 0;
    int last_nonempty = 0;
    bool found = false;
    for (;;) {
        const char *end = strstr(p, sep);
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len > 0) {
            last_nonempty = n + 1;
        }
        if (n == i) {
            found = len < size;
            if (found) {
                memcpy(out, p, len);
                out[len] = '\0';
            }
        }
        n++;
        if (end == NULL) {
            break;
        }
        p = end + seplen;
    }
    if (s[0] == '\0') {
        last_nonempty = 1; /* "".split() is [""] */
    }
    *count = last_nonempty;
    return found && i < last_nonempty;
}

struct statuses {
    json_t *ips;
};

static void add_status(struct lc_instance *inst, void *data)
{
    struct statuses *s = data;
    char text[320];
    snprintf(text, sizeof text, "%s:%d_%s", inst->ip, inst->port,
             inst->healthy ? "true" : "false");
    json_array_append_new(s->ips, json_string(text));
}

static void on_statuses(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    const char *key = lc_http_param(ex, "key");
    char grouped_filtered[1300];
    const char *error;
    struct lc_service_key skey;
    struct lc_service *svc;
    struct statuses s;
    json_t *root;
    size_t size;
    char *buf;
    char *ns, *service, *group, *name;
    int count;

    if (!lc_ns_gate(n, ex) ||
        !lc_filter_service_name(ex, grouped_filtered,
                                sizeof grouped_filtered) ||
        !lc_filter_params(ex, grouped_filtered, false)) {
        return;
    }
    if (key == NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 400, "Parameter 'key' is missing");
        return;
    }
    /* Four pieces of at most the key's length each. */
    size = strlen(key) + sizeof LC_DEFAULT_NAMESPACE;
    buf = malloc(4 * size);
    if (buf == NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 500, "out of memory");
        return;
    }
    ns = buf;
    service = buf + size;
    group = buf + 2 * size;
    name = buf + 3 * size;
    if (strstr(key, "##") != NULL) {
        if (!split_piece(key, "##", 0, ns, size, &count) ||
            !split_piece(key, "##", 1, service, size, &count)) {
            lc_naming_error(ex, LC_KIND_TEXT, 500,
                            "caused: Index %d out of bounds for length %d;",
                            count < 1 ? 0 : 1, count);
            goto out;
        }
    } else {
        lc_strlcpy(ns, LC_DEFAULT_NAMESPACE, size);
        lc_strlcpy(service, key, size);
    }
    error = lc_service_name_format_error(service);
    if (error != NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 400, "%s", error);
        goto out;
    }
    split_piece(service, LC_GROUP_SEP, 0, group, size, &count);
    split_piece(service, LC_GROUP_SEP, 1, name, size, &count);
    skey.ns = ns;
    skey.group = group;
    skey.name = name;
    svc = lc_registry_find_service(n->reg, &skey);
    root = json_object();
    s.ips = json_array();
    if (svc != NULL) {
        lc_registry_each_instance(n->reg, svc, add_status, &s);
    }
    json_object_set_new(root, "ips", s.ips);
    lc_reply_json(ex, root);
out:
    free(buf);
}

int lc_naming_health_routes(struct lc_naming *n, struct lc_http_server *srv)
{
    if (lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v1/ns/health", on_health,
                             n) != 0 ||
        lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v1/ns/health/instance",
                             on_health, n) != 0 ||
        lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v1/ns/instance/statuses",
                             on_statuses, n) != 0 ||
        lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v2/ns/health/instance",
                             on_health, n) != 0) {
        return LC_ENOMEM;
    }
    return 0;
}
