/* PUT /nacos/v1/ns/instance/beat (and /v2): an HTTP client's heart beat,
 * as Nacos 2.4.3's InstanceController.beat binds it: ip:port from the
 * `beat` JSON (RsInfo) when present, else from the parameters. What a beat
 * does is lc_op_beat's (naming/ops/beat.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/java.h"
#include "common/util.h"
#include "naming/http/handlers.h"

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

void lc_ns_on_beat(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    struct lc_instance_req r;
    char grouped[1300];
    char buf[1200];
    char err[1600];
    struct beat b = {0};
    struct lc_beat_info info;
    struct lc_beat_reply reply;
    json_t *root = NULL;
    const char *text;
    json_t *o;
    struct lc_err e;

    if (lc_http_method(ex) != LC_HTTP_PUT) {
        lc_naming_no_such_api(ex);
        return;
    }
    lc_ns_req_init(&r);
    if (lc_ns_filters(n, ex, grouped, sizeof grouped, false, &e) != 0) {
        goto fail;
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
            lc_err_set(&e, LC_EINVAL, "%s", err);
            goto fail;
        }
    }
    if (lc_optional(ex, "clusterName", r.cluster, sizeof r.cluster) == NULL) {
        lc_strlcpy(r.cluster, LC_DEFAULT_CLUSTER, sizeof r.cluster);
    }
    if (lc_optional(ex, "ip", r.ip, sizeof r.ip) == NULL) {
        r.ip[0] = '\0';
    }
    r.port = 0;
    if (lc_optional(ex, "port", buf, sizeof buf) != NULL &&
        !lc_java_parse_int(buf, &r.port, err, sizeof err)) {
        lc_err_set(&e, LC_EINVAL, "%s", err);
        goto fail;
    }
    if (root != NULL) {
        if (b.cluster != NULL && b.cluster[0] != '\0') {
            lc_strlcpy(r.cluster, b.cluster, sizeof r.cluster);
        }
        lc_strlcpy(r.ip, b.ip, sizeof r.ip);
        r.port = b.port;
        info.weight = b.weight;
        info.metadata = b.metadata;
    }
    if (lc_ns_parse_service(ex, &r, grouped, &e) != 0 ||
        lc_op_beat(n, &r, root != NULL ? &info : NULL, &reply, &e) != 0) {
        goto fail;
    }
    o = json_object();
    json_object_set_new(o, "clientBeatInterval",
                        json_integer(reply.interval_ms));
    json_object_set_new(o, "code", json_integer(reply.code));
    json_object_set_new(o, "lightBeatEnabled",
                        json_boolean(reply.light_beat_enabled));
    lc_reply_json_raw(ex, o);
    goto out;
fail:
    lc_naming_fail(ex, &e);
out:
    free(b.metadata);
    json_decref(root);
}
