/* The naming module's status and counts (operator/metrics), which server
 * is responsible for a client (operator/distro/client), and a naming
 * logger's level (operator/log), as Nacos 2.4.3's OperatorController.
 *
 * status is UP only when every raft group has caught up with what was
 * committed when this node started and currently has a leader; STARTING
 * before the first catch-up, DOWN when a group has lost its leader.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sysinfo.h>

#include "common/log.h"
#include "common/util.h"
#include "distro/mapper.h"
#include "naming/ops/sync.h"
#include "members/members.h"
#include "naming/ops/ops.h"

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

int lc_op_metrics(struct lc_naming *n, bool only_status, json_t **out,
                  struct lc_err *e)
{
    const char *status = !lc_naming_ready(n)                 ? "STARTING"
                         : lc_raft_engine_healthy(n->engine) ? "UP"
                                                             : "DOWN";
    json_t *o = json_object();
    struct lc_naming_stats st;
    struct sysinfo si;
    double loads[1] = {-1.0};

    if (o == NULL) {
        return lc_err_set(e, LC_ENOMEM, "out of memory");
    }
    if (overridden_status(n) != NULL) {
        status = overridden_status(n);
    }
    json_object_set_new(o, "status", json_string(status));
    if (!only_status) {
        lc_naming_stats(n, &st);
        json_object_set_new(o, "serviceCount",
                            json_integer((json_int_t)st.services));
        json_object_set_new(o, "instanceCount",
                            json_integer((json_int_t)st.instances));
        json_object_set_new(o, "subscribeCount",
                            json_integer((json_int_t)st.subscribers));
        json_object_set_new(o, "responsibleInstanceCount",
                            json_integer((json_int_t)st.instances));
        json_object_set_new(o, "clientCount",
                            json_integer((json_int_t)st.clients));
        json_object_set_new(o, "connectionBasedClientCount",
                            json_integer((json_int_t)st.connection_clients));
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
    *out = o;
    return 0;
}

/* DistroMapper.mapSrv: the member responsible for @tag ("ip:port" of a
 * client): Nacos's hash over Distro's healthy list (this node and the
 * members counted healthy, sorted); this node when distro is switched off;
 * NULL when naming was never told its members. */
static const struct lc_member *distro_map(const struct lc_naming *n,
                                          const char *tag,
                                          unsigned *count_out)
{
    const struct lc_member *healthy[LC_MEMBERS_MAX];
    unsigned count;

    *count_out = 0;
    if (n->members == NULL) {
        return NULL;
    }
    if (!n->sw.distro_enabled) {
        return lc_members_self(n->members);
    }
    count = lc_members_healthy(n->members, healthy, LC_ARRAY_SIZE(healthy));
    assert(count > 0); /* this node is always in it */
    *count_out = count;
    return healthy[lc_distro_index(tag, count)];
}

const struct lc_member *lc_op_distro_target(const struct lc_naming *n,
                                            const char *tag)
{
    const struct lc_member *healthy[LC_MEMBERS_MAX];
    const struct lc_member *m;
    unsigned count;
    bool self_listed = false;

    m = distro_map(n, tag, &count);
    if (m == NULL || m->self || count <= 1) {
        return NULL; /* standalone, distro off, or this node's own */
    }
    /* DistroMapper.responsible: true when this node is not in the list. */
    count = lc_members_healthy(n->members, healthy, LC_ARRAY_SIZE(healthy));
    for (unsigned i = 0; i < count; i++) {
        self_listed = self_listed || healthy[i]->self;
    }
    return self_listed ? m : NULL;
}

bool lc_sync_responsible(struct lc_naming *n, const char *tag)
{
    unsigned count;
    const struct lc_member *m = distro_map(n, tag, &count);
    return m == NULL || m->self;
}

int lc_op_distro_client(struct lc_naming *n, const char *ip, const char *port,
                        json_t **out, struct lc_err *e)
{
    size_t len = strlen(ip) + strlen(port) + 2;
    char *tag = malloc(len);
    if (tag == NULL) {
        return lc_err_set(e, LC_ENOMEM, "out of memory");
    }
    snprintf(tag, len, "%s:%s", ip, port);
    const struct lc_member *m;
    unsigned count;

    m = distro_map(n, tag, &count);
    *out = json_object();
    json_object_set_new(*out, "responsibleServer",
                        json_string(m != NULL ? m->addr : ""));
    free(tag);
    return 0;
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

void lc_op_set_log_level(const char *name, const char *level)
{
    for (size_t i = 0; i < LC_ARRAY_SIZE(log_names); i++) {
        if (strcmp(name, log_names[i].nacos) == 0) {
            enum lc_log_level l = logback_level(level);
            lc_log_set_module_level(log_names[i].module, l);
            lc_infof("server", "log level of %s (%s) set to %s", name,
                     log_names[i].module, level);
        }
    }
}
