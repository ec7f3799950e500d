/* The HTTP side of UDP push: subscribing from /instance/list,
 * /nacos/v1/ns/service/subscribers and /nacos/v1/ns/operator/push/state, as
 * Nacos 2.4.3's InstanceController.list, ServiceController.subscribers and
 * OperatorController.pushState.
 */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "naming/http/handlers.h"
#include "common/java.h"
#include "naming/push/push.h"
#include "naming/push/udp.h"
#include "naming/http/subscribers_cluster.h"

/* WebUtils.getUserAgent: User-Agent, else Client-Version, else "". */
static const char *user_agent(const struct lc_http_exchange *ex)
{
    const char *agent = lc_http_header(ex, "User-Agent");
    if (agent == NULL || agent[0] == '\0') {
        agent = lc_http_header(ex, "Client-Version");
    }
    return agent != NULL ? agent : "";
}

/* A v2 @RequestParam that does not convert to @type
 * (MethodArgumentTypeMismatchException through NacosApiExceptionHandler's
 * catch-all): 500 {"code":30000,"message":"Failed to convert value of type
 * 'java.lang.String' to required type '<type>'; nested exception is
 * <cause_class>: <cause_msg>","data":null}. */
static int type_mismatch(struct lc_err *e, const char *type,
                         const char *cause_class, const char *cause_msg)
{
    return lc_err_set(e, LC_ETYPE,
                      "Failed to convert value of type 'java.lang.String' to "
                      "required type '%s'; nested exception is %s: %s",
                      type, cause_class, cause_msg);
}

int lc_v2_list_params(struct lc_http_exchange *ex, int *port,
                      bool *healthy_only, struct lc_err *e)
{
    const char *v = lc_http_param(ex, "port");
    char msg[300];
    *port = 0;
    *healthy_only = false;
    if (v != NULL && v[0] != '\0' && !lc_spring_int(v, port, msg, sizeof msg)) {
        return type_mismatch(e, "java.lang.Integer",
                             "java.lang.NumberFormatException", msg);
    }
    v = lc_http_param(ex, "healthyOnly");
    if (v != NULL && v[0] != '\0' &&
        !lc_spring_bool(v, healthy_only, msg, sizeof msg)) {
        return type_mismatch(e, "java.lang.Boolean",
                             "java.lang.IllegalArgumentException", msg);
    }
    return 0;
}

/* @RequestParam(defaultValue = "") String: the raw value, "" when absent
 * or empty. */
static void v2_string(struct lc_http_exchange *ex, const char *name,
                      char *out, size_t size)
{
    const char *v = lc_http_param(ex, name);
    lc_strlcpy(out, v != NULL ? v : "", size);
}

void lc_naming_push_on_list(struct lc_naming *n, struct lc_http_exchange *ex,
                            const struct lc_service_key *key,
                            const char *clusters, int udp_port)
{
    char ip[256];
    char app[256];
    const char *agent = user_agent(ex);
    struct lc_push_subscriber s;
    int rv;

    /* InstanceOperatorClientImpl.listInstance: "For adapt 1.X subscribe
     * logic". canEnablePush checks the pushEnabled switch first. */
    if (udp_port <= 0 || n->push_udp == NULL || !n->sw.push_enabled ||
        !lc_push_agent_supported(agent)) {
        return;
    }
    if (lc_v2(ex)) {
        /* InstanceControllerV2.list: Subscriber(ip + ":" + port, ...). */
        v2_string(ex, "ip", ip, sizeof ip);
        v2_string(ex, "app", app, sizeof app);
    } else {
        if (lc_optional(ex, "clientIP", ip, sizeof ip) == NULL) {
            ip[0] = '\0';
        }
        if (lc_optional(ex, "app", app, sizeof app) == NULL) {
            app[0] = '\0';
        }
    }
    s = (struct lc_push_subscriber){
        .ns = key->ns,
        .group = key->group,
        .service = key->name,
        .clusters = clusters,
        .ip = ip,
        .port = udp_port,
        .agent = agent,
        .app = app,
    };
    rv = lc_push_udp_subscribe(n->push_udp, &s);
    if (rv != 0) {
        lc_warnf("push", "cannot subscribe %s:%d: %s", ip, udp_port,
                 lc_strerror(rv));
    }
}


/* --------------------------------------------------------------- helpers */

/* NumberUtils.toInt(s): 0 when it does not parse. */
static int to_int(const char *s)
{
    char err[128];
    int v;
    return lc_java_parse_int(s, &v, err, sizeof err) ? v : 0;
}

/* ------------------------------------------------------------ subscribers */

static void add_subscriber(const struct lc_push_subscriber *s,
                           const char *grouped, void *data)
{
    json_t *list = data;
    json_t *o = json_object();
    char addr[320];
    snprintf(addr, sizeof addr, "%s:%d", s->ip, s->port);
    /* Subscriber's field order. */
    json_object_set_new(o, "addrStr", json_string(addr));
    json_object_set_new(o, "agent", json_string(s->agent));
    json_object_set_new(o, "app", json_string(s->app));
    json_object_set_new(o, "ip", json_string(s->ip));
    json_object_set_new(o, "port", json_integer(s->port));
    json_object_set_new(o, "namespaceId", json_string(s->ns));
    json_object_set_new(o, "serviceName", json_string(grouped));
    json_object_set_new(o, "cluster", json_string(s->clusters));
    json_array_append_new(list, o);
}

void lc_ns_on_subscribers(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    char grouped[1300];
    char ns[256];
    char buf[64];
    char group[256];
    const char *g;
    const char *name;
    size_t glen;
    int page_no;
    int page_size;
    bool aggregation;
    json_t *all;
    struct lc_err e;

    if (lc_http_method(ex) != LC_HTTP_GET) {
        lc_naming_no_such_api(ex);
        return;
    }
    if (lc_ns_filters(n, ex, grouped, sizeof grouped, false, &e) != 0) {
        lc_naming_fail(ex, &e);
        return;
    }
    page_no =
        to_int(lc_optional(ex, "pageNo", buf, sizeof buf) != NULL ? buf : "1");
    page_size = to_int(
        lc_optional(ex, "pageSize", buf, sizeof buf) != NULL ? buf : "1000");
    if (lc_optional(ex, "namespaceId", ns, sizeof ns) == NULL) {
        lc_strlcpy(ns, LC_DEFAULT_NAMESPACE, sizeof ns);
    }
    if (grouped[0] == '\0') {
        lc_err_missing(&e, "serviceName", false);
        lc_naming_fail(ex, &e);
        return;
    }
    /* NamingUtils.getGroupName / getServiceName. */
    if (lc_split_grouped(grouped, &g, &glen, &name) && glen < sizeof group) {
        memcpy(group, g, glen);
        group[glen] = '\0';
    } else {
        lc_strlcpy(group, LC_DEFAULT_GROUP, sizeof group);
        name = grouped;
    }

    /* SubscribeManager: this node's subscribers, and with aggregation
     * (Boolean.parseBoolean, default true) every other member's. */
    aggregation = lc_optional(ex, "aggregation", buf, sizeof buf) == NULL ||
                  strcasecmp(buf, "true") == 0;
    all = json_array();
    if (n->push != NULL) {
        lc_push_each_subscriber(n->push, ns, group, name, add_subscriber, all);
    }
    lc_subscribers_answer(n, ex, all, ns, grouped, aggregation, page_no,
                          page_size);
}

/* ------------------------------------------------------------ push state */

/* Spring's StringToBooleanConverter for an optional primitive boolean:
 * absent or blank is false; LC_ESERVER when @name's value is not a
 * boolean. */
static int spring_bool(struct lc_http_exchange *ex, const char *name,
                       bool *out, struct lc_err *e)
{
    static const char *yes[] = {"true", "on", "yes", "1"};
    static const char *no[] = {"false", "off", "no", "0"};
    char v[256];
    *out = false;
    if (lc_optional(ex, name, v, sizeof v) == NULL) {
        return 0;
    }
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            return 0;
        }
    }
    /* MethodArgumentTypeMismatchException through ResponseExceptionHandler
     * (500, every cause's message). */
    return lc_err_set(e, LC_ESERVER,
                      "caused: Failed to convert value of type "
                      "'java.lang.String' to required type 'boolean'; nested "
                      "exception is java.lang.IllegalArgumentException: "
                      "Invalid boolean value '%s';caused: Invalid boolean "
                      "value '%s';",
                      v, v);
}

/* Java's Float.toString for a ratio in [0, 1]: the shortest digits that
 * read back as the same float, at least one decimal. */
static void java_float(char *out, size_t size, float f)
{
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(out, size, "%.*f", prec, (double)f);
        if ((float)strtod(out, NULL) == f) {
            return;
        }
    }
}

void lc_ns_on_push_state(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    struct lc_push_stats st = {0};
    bool detail;
    bool reset;
    char ratio[32] = "0";
    char body[512];
    int len;
    struct lc_err e;

    if (lc_op_ready(n, &e) != 0 || spring_bool(ex, "detail", &detail, &e) != 0 ||
        spring_bool(ex, "reset", &reset, &e) != 0) {
        lc_naming_fail(ex, &e);
        return;
    }
    if (n->push != NULL) {
        lc_push_stats(n->push, &st);
    } else {
        st.max_cost_ms = st.avg_cost_ms = -1;
    }
    if (st.total > 0) {
        java_float(ratio, sizeof ratio,
                   ((float)st.total - (float)st.failed) / (float)st.total);
    }
    len = snprintf(body, sizeof body,
                   "{\"succeed\":%lu,\"total\":%lu,"
                   "\"ratio\":%s",
                   st.total - st.failed, st.total, ratio);
    if (detail) {
        len += snprintf(body + len, sizeof body - (size_t)len,
                        ",\"detail\":{\"avgPushCost\":%lld,"
                        "\"maxPushCost\":%lld}",
                        st.avg_cost_ms, st.max_cost_ms);
    }
    len += snprintf(body + len, sizeof body - (size_t)len, ",\"reset\":%s}",
                    reset ? "true" : "false");
    if (reset && n->push != NULL) {
        lc_push_reset_stats(n->push);
    }
    lc_http_reply(ex, 200, "application/json", body, (size_t)len);
}
