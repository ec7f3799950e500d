/* PUT /nacos/v1/ns/instance/beat: an HTTP client's heart beat, as Nacos
 * 2.4.3's InstanceController.beat and InstanceOperatorClientImpl.handleBeat.
 *
 * A beat names ip:port (from the `beat` JSON when present, else from the
 * parameters). A known instance is refreshed and made healthy again. An
 * unknown one is re-registered from the beat JSON when there is one (this is
 * how clients come back after a server restart: the npm client never
 * re-registers by itself), or answered with code 20404 when the beat was a
 * light one, which makes Java clients re-register.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "naming/http/filters.h"
#include "naming/http/handlers.h"

#define CODE_OK 10200
#define CODE_NOT_FOUND 20404

/* The parts of RsInfo a beat uses. */
struct beat {
    const char *ip;
    int port;
    const char *cluster;
    double weight;
    bool ephemeral;
    char *metadata; /* canonical JSON, malloc'd */
};

/* Parse RsInfo: unknown keys are ignored, as Jackson is configured in
 * Nacos. Return false (with a message in @err) when it is not an object of
 * the right field types. @root keeps the strings alive. */
static bool parse_beat(json_t *root, struct beat *b, char *err, size_t errlen)
{
    json_t *ip = json_object_get(root, "ip");
    json_t *port = json_object_get(root, "port");
    json_t *cluster = json_object_get(root, "cluster");
    json_t *weight = json_object_get(root, "weight");
    json_t *eph = json_object_get(root, "ephemeral");
    json_t *meta = json_object_get(root, "metadata");
    const char *k;
    json_t *v;

    b->ip = "";
    b->port = 0;
    b->cluster = NULL;
    b->weight = 0;
    b->ephemeral = true;
    b->metadata = NULL;
    if (!json_is_object(root) || (ip != NULL && !json_is_string(ip) &&
                                  !json_is_null(ip)) ||
        (port != NULL && !json_is_integer(port) && !json_is_null(port)) ||
        (cluster != NULL && !json_is_string(cluster) &&
         !json_is_null(cluster)) ||
        (weight != NULL && !json_is_number(weight) && !json_is_null(weight)) ||
        (eph != NULL && !json_is_boolean(eph) && !json_is_null(eph)) ||
        (meta != NULL && !json_is_object(meta) && !json_is_null(meta))) {
        snprintf(err, errlen,
                 "errCode: 101, errMsg: Nacos deserialize for class "
                 "[com.alibaba.nacos.naming.healthcheck.RsInfo] failed. ");
        return false;
    }
    if (json_is_string(ip)) {
        b->ip = json_string_value(ip);
    }
    if (json_is_integer(port)) {
        json_int_t p = json_integer_value(port);
        if (p < 0 || p > 65535) {
            snprintf(err, errlen,
                     "Param check invalid:Param 'port' is illegal, the value "
                     "should be between 0 and 65535.");
            return false;
        }
        b->port = (int)p;
    }
    if (json_is_string(cluster)) {
        b->cluster = json_string_value(cluster);
    }
    if (json_is_number(weight)) {
        b->weight = json_number_value(weight);
    }
    if (json_is_boolean(eph)) {
        b->ephemeral = json_is_true(eph);
    }
    if (json_is_object(meta)) {
        /* Map<String,String>: non-string values become their text. */
        json_t *flat = json_object();
        json_object_foreach(meta, k, v)
        {
            if (json_is_string(v)) {
                json_object_set(flat, k, v);
            } else if (!json_is_null(v)) {
                char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
                json_object_set_new(flat, k, json_string(text ? text : ""));
                free(text);
            }
        }
        b->metadata = json_dumps(flat, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(flat);
    } else {
        b->metadata = strdup("{}");
    }
    if (b->metadata == NULL) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    return true;
}

/* The instance's beat interval: overlay, then its metadata, then the
 * switch (InstanceOperatorClientImpl.getHeartBeatInterval). */
static long long beat_interval(struct lc_naming *n, struct lc_service *svc,
                               const char *ip, int port)
{
    char client_id[320];
    struct lc_instance *inst;
    long long interval = n->sw.client_beat_interval;
    if (svc == NULL) {
        return interval;
    }
    lc_ephemeral_client_id(client_id, sizeof client_id, ip, port);
    inst = lc_registry_instance_of(n->reg, client_id, svc);
    if (inst != NULL) {
        struct lc_view v;
        lc_instance_view(n, svc, inst, &v);
        interval = lc_meta_long(v.metadata, LC_META_BEAT_INTERVAL, interval);
        json_decref(v.metadata);
    }
    return interval;
}

static bool cluster_name_ok(const char *c)
{
    if (*c == '\0') {
        return false;
    }
    for (; *c != '\0'; c++) {
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
              (*c >= 'A' && *c <= 'Z') || *c == '-')) {
            return false;
        }
    }
    return true;
}

/* Re-register ip:port from the beat (BeatInfoInstanceBuilder). */
static bool register_from_beat(struct lc_naming *n,
                               struct lc_http_exchange *ex,
                               const struct lc_inst_req *r,
                               const struct lc_service_key *key,
                               const struct beat *b, const char *ip, int port,
                               const char *cluster)
{
    char id[2000];
    char err[1600];
    struct lc_instance *inst;
    int rv;

    if (b->weight != b->weight || b->weight < 0 || b->weight > 10000) {
        lc_naming_error(
            ex, LC_KIND_TEXT, 400,
            "instance format invalid: The weights range from 0.0 to 10000.0");
        return false;
    }
    if (!cluster_name_ok(cluster)) {
        lc_naming_error(ex, LC_KIND_TEXT, 400,
                        "Instance 'clusterName' should be characters with "
                        "only 0-9a-zA-Z-. (current: %s)",
                        cluster);
        return false;
    }
    lc_instance_id(id, sizeof id, ip, port, cluster, r->grouped);
    inst = lc_instance_new(ip, port, cluster, b->weight, true, true, true,
                           b->metadata, id);
    if (inst == NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 500, "out of memory");
        return false;
    }
    rv = lc_ephemeral_register(n, key, inst, err, sizeof err);
    lc_instance_unref(inst);
    if (rv != 0) {
        lc_naming_error(ex, LC_KIND_TEXT, rv == LC_EINVAL ? 400 : 500, "%s",
                        err);
        return false;
    }
    lc_infof("naming", "%s:%d re-registered in %s from its beat", ip, port,
             r->grouped);
    return true;
}

static void on_beat(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    struct lc_inst_req r;
    char grouped[1300];
    char buf[1200];
    char err[1600];
    char cluster[256];
    char ip[256];
    int port = 0;
    struct beat b = {0};
    json_t *root = NULL;
    const char *text;
    struct lc_service_key key;
    struct lc_service *svc;
    int code = CODE_OK;
    json_t *reply;

    if (lc_http_method(ex) != LC_HTTP_PUT) {
        lc_ns_no_such_api(ex);
        return;
    }
    if (!lc_ns_parse_common(n, ex, grouped, sizeof grouped)) {
        return;
    }
    text = lc_http_param(ex, "beat");
    if (text != NULL && text[strspn(text, " \t\r\n")] == '\0') {
        text = NULL; /* StringUtils.isNotBlank */
    }
    if (text != NULL) {
        json_error_t jerr;
        root = json_loads(text, JSON_DECODE_ANY, &jerr);
        if (root == NULL || !parse_beat(root, &b, err, sizeof err)) {
            if (root == NULL) {
                snprintf(err, sizeof err,
                         "errCode: 101, errMsg: Nacos deserialize for class "
                         "[com.alibaba.nacos.naming.healthcheck.RsInfo] "
                         "failed. ");
            }
            lc_naming_error(ex, LC_KIND_TEXT, 400, "%s", err);
            goto out;
        }
    }
    if (lc_optional(ex, "clusterName", cluster, sizeof cluster) == NULL) {
        lc_strlcpy(cluster, LC_DEFAULT_CLUSTER, sizeof cluster);
    }
    if (lc_optional(ex, "ip", ip, sizeof ip) == NULL) {
        ip[0] = '\0';
    }
    if (lc_optional(ex, "port", buf, sizeof buf) != NULL &&
        !lc_java_parse_int(buf, &port, err, sizeof err)) {
        lc_naming_error(ex, LC_KIND_TEXT, 400, "%s", err);
        goto out;
    }
    if (root != NULL) {
        if (b.cluster != NULL && b.cluster[0] != '\0') {
            lc_strlcpy(cluster, b.cluster, sizeof cluster);
        }
        lc_strlcpy(ip, b.ip, sizeof ip);
        port = b.port;
    }
    r.metadata = NULL;
    if (!lc_ns_parse_service(ex, &r, grouped)) {
        goto out;
    }
    key.ns = r.ns;
    key.group = r.group;
    key.name = r.service;
    svc = lc_registry_find_service(n->reg, &key);
    if (svc == NULL || lc_ephemeral_beat(n, svc, ip, port) != 0) {
        if (root == NULL) {
            code = CODE_NOT_FOUND;
        } else if (!register_from_beat(n, ex, &r, &key, &b, ip, port,
                                       cluster)) {
            goto out;
        }
        svc = lc_registry_find_service(n->reg, &key);
        if (code == CODE_OK && svc == NULL) {
            lc_naming_error(ex, LC_KIND_TEXT, 500,
                            "service not found: %s@%s", r.grouped, r.ns);
            goto out;
        }
    }
    reply = json_object();
    json_object_set_new(reply, "clientBeatInterval",
                        json_integer(beat_interval(n, svc, ip, port)));
    json_object_set_new(reply, "code", json_integer(code));
    json_object_set_new(reply, "lightBeatEnabled",
                        json_boolean(n->sw.light_beat_enabled));
    lc_reply_json_raw(ex, reply);
out:
    free(b.metadata);
    json_decref(root);
}

int lc_naming_beat_routes(struct lc_naming *n, struct lc_http_server *srv)
{
    return lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v1/ns/instance/beat",
                                on_beat, n) != 0 ||
                   lc_http_server_route(srv, LC_HTTP_ANY,
                                        "/nacos/v2/ns/instance/beat", on_beat,
                                        n) != 0
               ? LC_ENOMEM
               : 0;
}
