/* What Nacos does to a /v1/ns request before its controllers: the
 * ServiceNameFilter, the ParamCheckerFilter's HTTP extractors (the checks
 * themselves are naming/ops/check.c's, shared with gRPC), WebUtils'
 * required/optional, and DistroFilter's decision (the forwarding itself is
 * naming/http/forward.c's). Sources: alibaba/nacos 2.4.3,
 * naming/web/ServiceNameFilter.java, naming/paramcheck/ (the HTTP param
 * extractors), core/utils/WebUtils.java, naming/web/DistroFilter.java,
 * DistroIpPortTagGenerator.java, core/web/TrafficReviseFilter.java.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/java.h"
#include "common/util.h"
#include "naming/core/model.h"
#include "naming/http/filters.h"
#include "naming/http/forward.h"
#include "naming/http/reply.h"
#include "naming/ops/check.h"
#include "naming/ops/ops.h"

const char *lc_optional(const struct lc_http_exchange *ex, const char *name,
                        char *out, size_t size)
{
    const char *v = lc_http_param(ex, name);
    if (lc_java_blank(v)) {
        return NULL;
    }
    lc_java_trim(v, out, size);
    return out;
}

const char *lc_required(struct lc_http_exchange *ex, const char *name,
                        char *out, size_t size, struct lc_err *e)
{
    const char *v = lc_http_param(ex, name);
    if (v == NULL || v[0] == '\0') {
        lc_err_missing(e, name, false);
        return NULL;
    }
    lc_java_trim(v, out, size);
    return out;
}

int lc_filter_service_name(struct lc_http_exchange *ex, char *out,
                           size_t size, struct lc_err *e)
{
    const char *raw = lc_http_param(ex, "serviceName");
    const char *group = lc_http_param(ex, "groupName");
    char name[1200];
    const char *error;

    out[0] = '\0';
    if (raw == NULL) {
        return 0;
    }
    if (lc_java_blank(raw)) {
        lc_strlcpy(out, raw, size);
        return 0;
    }
    lc_java_trim(raw, name, sizeof name);
    if (lc_java_blank(group)) {
        group = LC_DEFAULT_GROUP;
    }
    if (strstr(name, LC_GROUP_SEP) == NULL) {
        snprintf(out, size, "%s%s%s", group, LC_GROUP_SEP, name);
    } else {
        lc_strlcpy(out, name, size);
    }
    error = lc_check_service_name_format(out);
    if (error != NULL) {
        return lc_err_set(e, LC_EBADNAME,
                          "Service name filter error,caused: %s;", error);
    }
    return 0;
}

int lc_filter_params(struct lc_http_exchange *ex, const char *grouped,
                     bool list, struct lc_err *e)
{
    struct lc_param_info pi = {.ns = lc_http_param(ex, "namespaceId")};
    char group[1200] = "";
    const char *sep;

    if (list) {
        pi.clusters = lc_http_param(ex, "clusters");
    } else {
        const char *metadata = lc_http_param(ex, "metadata");
        pi.ip = lc_http_param(ex, "ip");
        pi.port = lc_http_param(ex, "port");
        pi.cluster = lc_http_param(ex, "clusterName");
        if (lc_java_blank(pi.cluster)) {
            pi.cluster = lc_http_param(ex, "cluster");
        }
        if (lc_java_blank(pi.port)) {
            pi.port = lc_http_param(ex, "checkPort");
        }
        /* The extractor parses metadata before any check runs. */
        if (!lc_java_blank(metadata)) {
            char *canonical = NULL;
            if (lc_metadata_parse(metadata, &canonical) != 0) {
                /* The extractor quotes the raw parameter, untrimmed. */
                return lc_err_set(e, LC_EEXTRACT,
                                  "Server failed, caused: ErrCode:400, "
                                  "ErrMsg:metadata format incorrect:%s;"
                                  "caused: metadata format incorrect:%s;",
                                  metadata, metadata);
            }
            pi.metadata_len = lc_check_metadata_len(canonical);
            free(canonical);
        }
    }
    pi.service = grouped;
    if (grouped != NULL && (sep = strstr(grouped, LC_GROUP_SEP)) != NULL) {
        size_t n = (size_t)(sep - grouped);
        if (n < sizeof group) {
            memcpy(group, grouped, n);
            group[n] = '\0';
        }
        pi.service = sep + 2;
    } else if (grouped == NULL || grouped[0] == '\0') {
        const char *g = lc_http_param(ex, "groupName");
        pi.service = NULL;
        if (g != NULL) {
            lc_strlcpy(group, g, sizeof group);
        }
    }
    pi.group = group;
    return lc_check_params(&pi, e);
}

/* RsInfo's ip and port as Jackson binds them for the tag: ip a string (or
 * null), port an int (or null: 0). Return false when the JSON does not
 * bind, and then nothing is taken from it. */
static bool beat_ip_port(const char *beat, char *ip, size_t ipsize,
                         bool *has_ip, long *port)
{
    json_t *root = json_loads(beat, JSON_DECODE_ANY, NULL);
    json_t *jip;
    json_t *jport;
    bool ok = false;

    if (!json_is_object(root)) {
        goto out;
    }
    jip = json_object_get(root, "ip");
    jport = json_object_get(root, "port");
    if ((jip != NULL && !json_is_string(jip) && !json_is_null(jip)) ||
        (jport != NULL && !json_is_integer(jport) && !json_is_null(jport)) ||
        (json_is_integer(jport) && (json_integer_value(jport) < INT32_MIN ||
                                    json_integer_value(jport) > INT32_MAX))) {
        goto out;
    }
    *has_ip = json_is_string(jip);
    if (*has_ip) {
        lc_strlcpy(ip, json_string_value(jip), ipsize);
    }
    *port = json_is_integer(jport) ? (long)json_integer_value(jport) : 0;
    ok = true;
out:
    json_decref(root);
    return ok;
}

void lc_filter_distro_tag(const struct lc_http_exchange *ex, char *out,
                          size_t size)
{
    const char *ip = lc_http_param(ex, "ip");
    const char *port = lc_http_param(ex, "port");
    char beatip[512];
    char ipbuf[512];
    char portbuf[64];

    if (lc_java_blank(ip)) {
        const char *beat = lc_http_param(ex, "beat");
        bool has_ip;
        long p;
        if (!lc_java_blank(beat) &&
            beat_ip_port(beat, beatip, sizeof beatip, &has_ip, &p)) {
            ip = has_ip ? beatip : NULL;
            snprintf(portbuf, sizeof portbuf, "%ld", p);
            port = portbuf;
        }
    }
    if (!lc_java_blank(ip)) {
        lc_java_trim(ip, ipbuf, sizeof ipbuf);
        ip = ipbuf;
    }
    if (lc_java_blank(port)) {
        port = "0";
    } else if (port != portbuf) {
        lc_java_trim(port, portbuf, sizeof portbuf);
        port = portbuf;
    }
    snprintf(out, size, "%s:%s", ip != NULL ? ip : "null", port);
}

/* UtilsAndCommons.NACOS_SERVER_HEADER in the User-Agent: a request a peer
 * forwarded (DistroFilter tests contains()). */
static bool from_peer(const struct lc_http_exchange *ex)
{
    const char *ua = lc_http_header(ex, "User-Agent");
    return ua != NULL && strstr(ua, "Nacos-Server") != NULL;
}

/* A registration or deregistration of a persistent instance, or a health
 * update (persistent instances only): a Raft write any member can submit.
 * Nacos forwards these too, which only adds a hop and makes a third of them
 * wait on one member: a paused or partitioned responsible member holds them
 * until it is marked DOWN, long after Raft has a new leader. */
static bool raft_write(const struct lc_http_exchange *ex)
{
    const char *path = lc_http_path(ex);
    const char *eph = lc_http_param(ex, "ephemeral");
    unsigned m = lc_http_method(ex);

    if (strncmp(path, "/nacos/v1/ns/health", 19) == 0) {
        return true;
    }
    return strcmp(path, "/nacos/v1/ns/instance") == 0 &&
           (m == LC_HTTP_POST || m == LC_HTTP_DELETE) && eph != NULL &&
           strcasecmp(eph, "false") == 0;
}

bool lc_filter_distro(struct lc_naming *n, struct lc_http_exchange *ex,
                      unsigned methods)
{
    const struct lc_member *target;
    struct lc_err e = {0};
    char grouped[1300];
    char tag[600];
    bool peer = from_peer(ex);

    if ((lc_http_method(ex) & methods) == 0) {
        return false;
    }
    /* TrafficReviseFilter (order 1): not UP answers 503 before anything
     * is forwarded; a peer's request passes it. ServiceNameFilter (5)
     * comes before DistroFilter (7): a bad name is answered here. */
    if ((!peer && lc_op_ready(n, &e) != 0) ||
        lc_filter_service_name(ex, grouped, sizeof grouped, &e) != 0) {
        lc_naming_fail(ex, &e);
        return true;
    }
    if (raft_write(ex)) {
        return false;
    }
    lc_filter_distro_tag(ex, tag, sizeof tag);
    target = lc_op_distro_target(n, tag);
    if (target == NULL) {
        return false;
    }
    if (peer) {
        /* Not forwarded twice: sendError(400), the Spring error body
         * ServiceNameFilter's sendError also gets. */
        lc_naming_failf(ex, LC_EBADNAME,
                        "receive invalid redirect request from peer %s",
                        lc_http_remote_ip(ex));
        return true;
    }
    lc_ns_forward(n, ex, target);
    return true;
}
