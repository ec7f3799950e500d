/* What every naming gRPC handler decodes: the service a request names, the
 * Instance JSON, Nacos's parameter checker (RemoteParamCheckFilter with the
 * requests' ParamExtractors) and how failures are answered. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "naming/grpc/handlers.h"

const char *lc_ng_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static bool blank(const char *s)
{
    if (s == NULL) {
        return true;
    }
    for (; *s != '\0'; s++) {
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' && *s != '\f' &&
            *s != '\v') {
            return false;
        }
    }
    return true;
}

void lc_ng_fail(struct lc_rpc_req *req, const char *type,
                const struct lc_err *e)
{
    /* RemoteParamCheckFilter answers with the handler's response; an
     * exception out of a handler becomes ErrorResponse. */
    lc_rpc_reply_error(req, e->code == LC_ECHECK ? type : NULL, e);
}

/* The checker's failure @e, worded as RemoteParamCheckFilter does. */
static int check_failed(struct lc_err *e)
{
    char msg[sizeof e->msg];
    snprintf(msg, sizeof msg, "%s", e->msg);
    return lc_err_set(e, LC_ECHECK, "Param check invalid:%s", msg);
}

int lc_ng_check_service(json_t *body, const char *clusters, struct lc_err *e)
{
    struct lc_param_info pi = {
        .ns = lc_ng_str(body, "namespace"),
        .group = lc_ng_str(body, "groupName"),
        .service = lc_ng_str(body, "serviceName"),
        .clusters = clusters,
    };
    if (lc_check_params(&pi, e) != 0) {
        return check_failed(e);
    }
    return 0;
}

int lc_ng_service(json_t *body, struct lc_instance_req *r, struct lc_err *e)
{
    const char *ns = lc_ng_str(body, "namespace");
    const char *group = lc_ng_str(body, "groupName");
    const char *service = lc_ng_str(body, "serviceName");
    char grouped[1400];

    if (blank(service)) {
        return lc_err_set(e, LC_ESERVER,
                          "Param 'serviceName' is illegal, serviceName is "
                          "blank");
    }
    if (blank(group)) {
        return lc_err_set(e, LC_ESERVER,
                          "Param 'groupName' is illegal, groupName is blank");
    }
    if (strlen(service) >= sizeof r->service ||
        strlen(group) >= sizeof r->group) {
        return lc_err_set(e, LC_ECHECK,
                          "Param check invalid:Param 'serviceName' is "
                          "illegal, the param length should not exceed %d.",
                          LC_MAX_SERVICE_NAME);
    }
    lc_strlcpy(r->ns, blank(ns) ? LC_DEFAULT_NAMESPACE : ns, sizeof r->ns);
    snprintf(grouped, sizeof grouped, "%s%s%s", group, LC_GROUP_SEP, service);
    return lc_op_instance_names(r, grouped, e);
}

/* A boolean member, @def when absent. */
static bool get_bool(json_t *o, const char *key, bool def)
{
    json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

/* The metadata map as canonical JSON text. */
static int metadata_of(json_t *inst, char **out, struct lc_err *e)
{
    json_t *md = json_object_get(inst, "metadata");
    char *text;
    int rv;
    if (md == NULL || json_is_null(md)) {
        return lc_check_metadata(NULL, out, e);
    }
    if (!json_is_object(md)) {
        return lc_err_set(e, LC_EINVAL, "metadata format incorrect");
    }
    text = json_dumps(md, JSON_COMPACT);
    if (text == NULL) {
        return lc_err_set(e, LC_ENOMEM, "out of memory");
    }
    rv = lc_check_metadata(text, out, e);
    free(text);
    return rv;
}

int lc_ng_instance(json_t *inst, struct lc_instance_req *r, struct lc_err *e)
{
    const char *ip, *cluster, *id;
    json_t *port, *weight;
    char port_text[32];
    struct lc_param_info pi;

    r->metadata = NULL;
    if (!json_is_object(inst)) {
        return lc_err_set(e, LC_ESERVER,
                          "Cannot invoke \"com.alibaba.nacos.api.naming."
                          "pojo.Instance.getInstanceId()\" because the "
                          "return value of \"getInstance()\" is null");
    }
    ip = lc_ng_str(inst, "ip");
    cluster = lc_ng_str(inst, "clusterName");
    port = json_object_get(inst, "port");
    weight = json_object_get(inst, "weight");
    if (blank(ip)) {
        return lc_err_set(e, LC_ECHECK,
                          "Param check invalid:Param 'ip' is illegal, ip is "
                          "blank");
    }
    if (port != NULL && !json_is_integer(port)) {
        return lc_err_set(e, LC_ECHECK,
                          "Param check invalid:Param 'port' is illegal, the "
                          "value should be between 0 and 65535.");
    }
    snprintf(port_text, sizeof port_text, "%lld",
             port != NULL ? (long long)json_integer_value(port) : 0LL);
    if (metadata_of(inst, &r->metadata, e) != 0) {
        return e->code;
    }
    pi = (struct lc_param_info){
        .cluster = cluster,
        .ip = ip,
        .port = port_text,
        .metadata_len = lc_check_metadata_len(r->metadata),
    };
    if (lc_check_params(&pi, e) != 0) {
        return check_failed(e);
    }
    if (strlen(ip) >= sizeof r->ip) {
        return lc_err_set(e, LC_ECHECK,
                          "Param check invalid:Param 'ip' is illegal, the "
                          "param length should not exceed %zu.",
                          sizeof r->ip - 1);
    }
    lc_strlcpy(r->ip, ip, sizeof r->ip);
    r->port = (int)json_integer_value(port);
    lc_strlcpy(r->cluster, blank(cluster) ? LC_DEFAULT_CLUSTER : cluster,
               sizeof r->cluster);
    r->weight = json_is_number(weight) ? json_number_value(weight) : 1.0;
    if (isnan(r->weight)) {
        r->weight = 1.0;
    }
    r->healthy = get_bool(inst, "healthy", true);
    r->enabled = get_bool(inst, "enabled", true);
    r->ephemeral = get_bool(inst, "ephemeral", true);
    id = lc_ng_str(inst, "instanceId");
    r->instance_id[0] = '\0';
    if (!blank(id) && strlen(id) < sizeof r->instance_id) {
        lc_strlcpy(r->instance_id, id, sizeof r->instance_id);
    }
    return 0;
}

void lc_ng_instance_id(struct lc_instance_req *r)
{
    if (r->instance_id[0] == '\0') {
        lc_instance_id(r->instance_id, sizeof r->instance_id, r->ip, r->port,
                       r->cluster, r->grouped);
    }
}
