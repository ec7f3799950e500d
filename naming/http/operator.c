/* /nacos/v1/ns/operator (alias /ops): metrics, the naming module's status
 * and counts; distro/client, which server is responsible for a client; log,
 * a module's log level.
 *
 * status is UP only when every raft group has caught up with what was
 * committed when this node started and currently has a leader; STARTING
 * before the first catch-up, DOWN when a group has lost its leader. Unlike
 * the rest of /v1/ns it always answers, so clients and operators can ask
 * while the node starts.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sysinfo.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "distro/mapper.h"
#include "members/members.h"
#include "naming/http/filters.h"
#include "naming/http/handlers.h"

/* System CPU use since the previous call, 0..1, from /proc/stat. */
static double cpu_load(void)
{
    static unsigned long long last_busy, last_total;
    unsigned long long v[8] = {0};
    unsigned long long busy, total;
    double load = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL) {
        return 0;
    }
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
               &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
        total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
        busy = total - v[3] - v[4];
        if (total > last_total) {
            load = (double)(busy - last_busy) / (double)(total - last_total);
        }
        last_busy = busy;
        last_total = total;
    }
    fclose(f);
    return load;
}

/* ServerStatusManager: a non-blank overriddenServerStatus switch naming a
 * ServerStatus replaces the computed one (an unknown name is ignored, as
 * Nacos's refresh fails on it and keeps the old status). */
static const char *overridden_status(const struct lc_naming *n)
{
    static const char *const names[] = {"UP",     "DOWN",       "STARTING",
                                        "PAUSED", "WRITE_ONLY", "READ_ONLY"};
    const char *o = n->sw.overridden_server_status;
    for (size_t i = 0; o != NULL && i < sizeof names / sizeof *names; i++) {
        if (strcmp(o, names[i]) == 0) {
            return names[i];
        }
    }
    return NULL;
}

static void on_metrics(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    const char *only = lc_http_param(ex, "onlyStatus");
    bool only_status = only == NULL ||
                       strspn(only, " \t\r\n") == strlen(only) ||
                       strcasecmp(only, "true") == 0;
    const char *status = lc_raft_engine_healthy(n->engine) ? "UP"
                         : lc_raft_engine_caught_up(n->engine) ? "DOWN"
                                                                : "STARTING";
    json_t *o = json_object();
    struct lc_naming_stats st;
    struct sysinfo si;
    double loads[1] = {-1.0};

    if (overridden_status(n) != NULL) {
        status = overridden_status(n);
    }
    if (lc_http_method(ex) != LC_HTTP_GET) {
        json_decref(o);
        lc_naming_error(ex, LC_KIND_SPRING, 501, "no such api:%s:%s",
                        lc_http_method_name(ex), lc_http_path(ex));
        return;
    }
    json_object_set_new(o, "status", json_string(status));
    if (!only_status) {
        lc_naming_stats(n, &st);
        json_object_set_new(o, "serviceCount", json_integer((json_int_t)st.services));
        json_object_set_new(o, "instanceCount", json_integer((json_int_t)st.instances));
        json_object_set_new(o, "subscribeCount",
                            json_integer((json_int_t)lc_naming_push_subscribers(n)));
        json_object_set_new(o, "responsibleInstanceCount",
                            json_integer((json_int_t)st.instances));
        json_object_set_new(o, "clientCount", json_integer((json_int_t)st.clients));
        json_object_set_new(o, "connectionBasedClientCount", json_integer(0));
        json_object_set_new(o, "ephemeralIpPortClientCount",
                            json_integer((json_int_t)st.ephemeral_clients));
        json_object_set_new(o, "persistentIpPortClientCount",
                            json_integer((json_int_t)st.persistent_clients));
        json_object_set_new(o, "responsibleClientCount",
                            json_integer((json_int_t)st.clients));
        getloadavg(loads, 1);
        json_object_set_new(o, "cpu", json_real(cpu_load()));
        json_object_set_new(o, "load", json_real(loads[0]));
        if (sysinfo(&si) == 0 && si.totalram > 0) {
            json_object_set_new(
                o, "mem",
                json_real(1.0 - (double)si.freeram / (double)si.totalram));
        } else {
            json_object_set_new(o, "mem", json_real(0));
        }
    }
    lc_reply_json(ex, o);
}

/* Spring's @RequestParam String: present (even empty) or 400. */
static const char *required(struct lc_http_exchange *ex, const char *name)
{
    const char *v = lc_http_param(ex, name);
    if (v == NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 400, "Parameter '%s' is missing",
                        name);
    }
    return v;
}

/* DistroMapper.mapSrv: the address of the server responsible for @tag
 * ("ip:port" of a client): Nacos's hash over Distro's healthy list (this
 * node and the members counted healthy, sorted); this node's own address
 * when distro is switched off; "" when naming was never told its members. */
static const char *distro_map(const struct lc_naming *n, const char *tag)
{
    const struct lc_member *healthy[LC_MEMBERS_MAX];
    unsigned count;

    if (n->members == NULL) {
        return "";
    }
    if (!n->sw.distro_enabled) {
        return lc_members_self(n->members)->addr;
    }
    count = lc_members_healthy(n->members, healthy, LC_ARRAY_SIZE(healthy));
    assert(count > 0); /* this node is always in it */
    return healthy[lc_distro_index(tag, count)]->addr;
}

/* GET /operator/distro/client?ip=&port=: OperatorController
 * .getResponsibleServer4Client, {"responsibleServer":"host:port"}. */
static void on_distro_client(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    const char *ip;
    const char *port;
    char *tag;
    size_t len;
    json_t *o;

    if (lc_http_method(ex) != LC_HTTP_GET) {
        lc_ns_no_such_api(ex);
        return;
    }
    if ((ip = required(ex, "ip")) == NULL ||
        (port = required(ex, "port")) == NULL) {
        return;
    }
    len = strlen(ip) + strlen(port) + 2;
    if ((tag = malloc(len)) == NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 500, "out of memory");
        return;
    }
    snprintf(tag, len, "%s:%s", ip, port);
    o = json_object();
    json_object_set_new(o, "responsibleServer",
                        json_string(distro_map(n, tag)));
    free(tag);
    lc_reply_json(ex, o);
}

/* Nacos's naming loggers (Loggers.setLogLevel) and the locus modules that
 * log what they log; a name not listed is accepted and changes nothing, as
 * in Nacos. */
static const struct {
    const char *nacos;
    const char *module;
} log_names[] = {
    {"naming-push", "push"},     {"naming-rt", "health"},
    {"naming-server", "naming"}, {"naming-event", "naming"},
    {"naming-raft", "raft"},     {"naming-distro", "distro"},
};

/* logback's Level.valueOf: ALL/TRACE/DEBUG, INFO, WARN, ERROR, OFF, any
 * other name DEBUG. */
static enum lc_log_level logback_level(const char *name)
{
    if (strcasecmp(name, "INFO") == 0) {
        return LC_LOG_INFO;
    }
    if (strcasecmp(name, "WARN") == 0) {
        return LC_LOG_WARN;
    }
    if (strcasecmp(name, "ERROR") == 0) {
        return LC_LOG_ERROR;
    }
    if (strcasecmp(name, "OFF") == 0) {
        return LC_LOG_OFF;
    }
    return LC_LOG_DEBUG;
}

/* PUT /operator/log?logName=&logLevel=: OperatorController.setLogLevel. */
static void on_log(struct lc_http_exchange *ex, void *data)
{
    const char *name;
    const char *level;
    (void)data;

    if (lc_http_method(ex) != LC_HTTP_PUT) {
        lc_ns_no_such_api(ex);
        return;
    }
    if ((name = required(ex, "logName")) == NULL ||
        (level = required(ex, "logLevel")) == NULL) {
        return;
    }
    for (size_t i = 0; i < LC_ARRAY_SIZE(log_names); i++) {
        if (strcmp(name, log_names[i].nacos) == 0) {
            enum lc_log_level l = logback_level(level);
            lc_log_set_module_level(log_names[i].module, l);
            lc_infof("server", "log level of %s (%s) set to %s", name,
                     log_names[i].module, level);
        }
    }
    lc_http_reply_text(ex, 200, "ok");
}

int lc_naming_operator_routes(struct lc_naming *n, struct lc_http_server *srv)
{
    if (lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v1/ns/operator/metrics",
                             on_metrics, n) != 0 ||
        lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v1/ns/ops/metrics",
                             on_metrics, n) != 0 ||
        lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v2/ns/operator/metrics",
                             on_metrics, n) != 0 ||
        lc_http_server_route(srv, LC_HTTP_ANY,
                             "/nacos/v1/ns/operator/distro/client",
                             on_distro_client, n) != 0 ||
        lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v1/ns/ops/distro/client",
                             on_distro_client, n) != 0 ||
        lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v1/ns/operator/log",
                             on_log, n) != 0 ||
        lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v1/ns/ops/log", on_log,
                             n) != 0) {
        return LC_ENOMEM;
    }
    return 0;
}
