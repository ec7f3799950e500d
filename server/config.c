/* locusd configuration: defaults, .properties files, cluster.conf, flags,
 * checks. */
#include "server/config.h"
#include "server/properties.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

#define DEFAULT_CONF "conf/application.properties"
#define DEFAULT_CLUSTER_CONF "conf/cluster.conf"
#define DEFAULT_MEMBER_PORT 8848 /* Nacos's default, not this node's port */
#define RAFT_PORT_OFFSET 1000
#define MIN_MAIN_PORT 1001  /* raft port = port - 1000 >= 1 */
#define MAX_MAIN_PORT 64534 /* gRPC ports = port + 1000, port + 1001 */
#define PORT_NOTE "raft uses port - 1000, gRPC port + 1000 and port + 1001"
#define MIN_SECRET_LEN 16
#define MIN_HEARTBEAT_MS 10
/* Heartbeats per election timeout when locus.raft.heartbeat_ms is not set:
 * six, as etcd's 300/50 (a follower elects after ~3-6 missed heartbeats). */
#define HEARTBEAT_DIVISOR 6
#define MEMBER_RULE "expected ip, ip:port or [ipv6]:port, port 1..65535"

/* What lc_config_load remembers across sources; NULL outside it. */
struct load_state {
    bool heartbeat_set;   /* locus.raft.heartbeat_ms given explicitly */
    bool member_list_set; /* nacos.member.list given (and not empty) */
};

enum prop_kind {
    P_NUM,       /* integer in [min, max] */
    P_BOOL,      /* true/false, case-insensitive */
    P_HOST,      /* IP literal or host name */
    P_PATH,      /* non-empty path */
    P_SECRET,    /* never echoed */
    P_LOG_LEVEL, /* debug/info/warn/error */
    P_MEMBERS,   /* comma-separated ip[:port] */
    P_CONTEXT,   /* must be /nacos */
    P_STR,       /* any text shorter than the field */
    P_NOEFFECT,  /* true/false, accepted without effect (logged) */
};

enum num_type { T_INT, T_UNSIGNED, T_SIZE };

struct prop {
    const char *key;
    enum prop_kind kind;
    size_t off;  /* field offset in struct lc_config (not P_MEMBERS/CONTEXT) */
    size_t size; /* field size: char arrays, to bound copies */
    enum num_type type;
    long long min, max;
    const char *note; /* explains the range, or NULL */
};

#define FIELD(f)                                                               \
    offsetof(struct lc_config, f), sizeof(((struct lc_config *)0)->f)

/* Every property locus reads. lc_config_validate re-checks the P_NUM ranges
 * on the struct, so keep them here only. */
static const struct prop props[] = {
    {"server.port", P_NUM, FIELD(port), T_INT, MIN_MAIN_PORT, MAX_MAIN_PORT,
     PORT_NOTE},
    {"nacos.inetutils.ip-address", P_HOST, FIELD(ip), 0, 0, 0, NULL},
    {"nacos.standalone", P_BOOL, FIELD(standalone), 0, 0, 0, NULL},
    {"nacos.member.list", P_MEMBERS, 0, 0, 0, 0, 0, NULL},
    {"nacos.core.protocol.raft.data.election_timeout_ms", P_NUM,
     FIELD(election_timeout_ms), T_UNSIGNED, 50, 60000, NULL},
    {"nacos.core.protocol.raft.data.snapshot_interval_secs", P_NUM,
     FIELD(snapshot_interval_secs), T_UNSIGNED, 0, 30 * 86400,
     "0 turns timed snapshots off"},
    {"nacos.core.protocol.raft.data.rpc_request_timeout_ms", P_NUM,
     FIELD(rpc_request_timeout_ms), T_UNSIGNED, 100, 600000, NULL},
    {"locus.raft.heartbeat_ms", P_NUM, FIELD(heartbeat_ms), T_UNSIGNED,
     MIN_HEARTBEAT_MS, 30000,
     "and at most half of "
     "nacos.core.protocol.raft.data.election_timeout_ms"},
    {"locus.raft.snapshot_threshold", P_NUM, FIELD(snapshot_threshold),
     T_UNSIGNED, 1, 1000000000, NULL},
    {"locus.raft.snapshot_trailing", P_NUM, FIELD(snapshot_trailing),
     T_UNSIGNED, 0, 1000000000, NULL},
    {"locus.raft.fast_failover", P_BOOL, FIELD(fast_failover), 0, 0, 0, NULL},
    {"locus.cluster.secret", P_SECRET, FIELD(secret), 0, 0, 0, NULL},
    {"locus.data.dir", P_PATH, FIELD(data_dir), 0, 0, 0, NULL},
    {"locus.log.level", P_LOG_LEVEL, FIELD(log_level), 0, 0, 0, NULL},
    {"locus.http.max_header_bytes", P_NUM, FIELD(http_max_header_bytes), T_SIZE,
     1024, 1024 * 1024, NULL},
    {"locus.http.max_body_bytes", P_NUM, FIELD(http_max_body_bytes), T_SIZE,
     1024, 1024 * 1024 * 1024, NULL},
    {"locus.http.head_timeout_ms", P_NUM, FIELD(http_head_timeout_ms),
     T_UNSIGNED, 0, 3600000, "0: none"},
    {"locus.http.body_timeout_ms", P_NUM, FIELD(http_body_timeout_ms),
     T_UNSIGNED, 0, 3600000, "0: none"},
    {"locus.http.max_connections_per_ip", P_NUM,
     FIELD(http_max_connections_per_ip), T_UNSIGNED, 0, 10000000,
     "0: no limit"},
    {"nacos.naming.push.pushTaskDelay", P_NUM, FIELD(push_task_delay_ms),
     T_UNSIGNED, 0, 60000, NULL},
    {"locus.naming.push.ack_timeout_ms", P_NUM, FIELD(push_ack_timeout_ms),
     T_UNSIGNED, 10, 600000, NULL},
    {"nacos.naming.client.expired.time", P_NUM, FIELD(client_expired_ms),
     T_UNSIGNED, 1000, 86400000, NULL},
    {"nacos.core.protocol.distro.data.sync.delayMs", P_NUM,
     FIELD(distro_sync_delay_ms), T_UNSIGNED, 0, 600000, NULL},
    {"nacos.core.protocol.distro.data.sync.timeoutMs", P_NUM,
     FIELD(distro_sync_timeout_ms), T_UNSIGNED, 10, 600000, NULL},
    {"nacos.core.protocol.distro.data.sync.retryDelayMs", P_NUM,
     FIELD(distro_sync_retry_ms), T_UNSIGNED, 10, 600000, NULL},
    {"nacos.core.protocol.distro.data.verify.intervalMs", P_NUM,
     FIELD(distro_verify_interval_ms), T_UNSIGNED, 10, 600000, NULL},
    {"nacos.core.protocol.distro.data.verify.timeoutMs", P_NUM,
     FIELD(distro_verify_timeout_ms), T_UNSIGNED, 10, 600000, NULL},
    {"nacos.core.protocol.distro.data.load.retryDelayMs", P_NUM,
     FIELD(distro_load_retry_ms), T_UNSIGNED, 10, 600000, NULL},
    {"nacos.naming.clean.empty-service.interval", P_NUM,
     FIELD(clean_empty_interval_ms), T_UNSIGNED, 10, 86400000, "ms"},
    {"nacos.naming.clean.empty-service.expired-time", P_NUM,
     FIELD(clean_empty_expired_ms), T_UNSIGNED, 0, 86400000, "ms"},
    {"nacos.naming.clean.expired-metadata.interval", P_NUM,
     FIELD(clean_metadata_interval_ms), T_UNSIGNED, 10, 86400000, "ms"},
    {"nacos.naming.clean.expired-metadata.expired-time", P_NUM,
     FIELD(clean_metadata_expired_ms), T_UNSIGNED, 0, 86400000, "ms"},
    {"locus.naming.subscribers.timeout_ms", P_NUM,
     FIELD(subscribers_timeout_ms), T_UNSIGNED, 100, 5000, NULL},
    /* Nacos's GrpcServerConstants: the SDK port's message limit, and the
     * deprecated name it falls back to (0: not set; 10 MiB then). */
    {"nacos.remote.server.grpc.sdk.max-inbound-message-size", P_NUM,
     FIELD(grpc_sdk_max_inbound), T_SIZE, 0, 1024 * 1024 * 1024,
     "bytes; 0: not set"},
    {"nacos.remote.server.grpc.maxinbound.message.size", P_NUM,
     FIELD(grpc_max_inbound_deprecated), T_SIZE, 0, 1024 * 1024 * 1024,
     "bytes; 0: not set"},
    /* Registered SDK connections (0: no limit); Nacos limits them through
     * its connection-control plugin only. */
    {"nacos.remote.server.grpc.sdk.max-connections", P_NUM,
     FIELD(grpc_sdk_max_connections), T_UNSIGNED, 0, 10000000, "0: no limit"},
    /* The cluster port's message limit (GrpcClusterServer), with the same
     * fallback; and member reports' failures before DOWN (MemberUtil). */
    {"nacos.remote.server.grpc.cluster.max-inbound-message-size", P_NUM,
     FIELD(grpc_cluster_max_inbound), T_SIZE, 0, 1024 * 1024 * 1024,
     "bytes; 0: not set"},
    {"nacos.core.member.fail-access-cnt", P_NUM, FIELD(member_fail_access_cnt),
     T_UNSIGNED, 0, 1000, NULL},
    /* Automatic connection balancing (server/balance.h). */
    {"locus.loader.balance.enabled", P_BOOL, FIELD(balance_enabled), 0, 0, 0,
     NULL},
    {"locus.loader.balance.interval_ms", P_NUM, FIELD(balance_interval_ms),
     T_UNSIGNED, 100, 600000, NULL},
    {"locus.loader.balance.factor_percent", P_NUM, FIELD(balance_factor_pct),
     T_UNSIGNED, 1, 99, NULL},
    {"locus.loader.balance.batch", P_NUM, FIELD(balance_batch), T_UNSIGNED, 1,
     1000000, "ConnectResets per interval"},
    /* Auth (auth/auth.h). */
    {"nacos.core.auth.enabled", P_BOOL, FIELD(auth.enabled), 0, 0, 0, NULL},
    {"nacos.core.auth.system.type", P_STR, FIELD(auth_system_type), 0, 0, 0,
     NULL},
    {"nacos.core.auth.plugin.nacos.token.secret.key", P_SECRET,
     FIELD(auth.secret_b64), 0, 0, 0, NULL},
    {"nacos.core.auth.plugin.nacos.token.expire.seconds", P_NUM,
     FIELD(auth.token_ttl_s), T_UNSIGNED, 1, 315360000, NULL},
    {"nacos.core.auth.server.identity.key", P_STR, FIELD(auth.identity_key), 0,
     0, 0, NULL},
    {"nacos.core.auth.server.identity.value", P_SECRET,
     FIELD(auth.identity_value), 0, 0, 0, NULL},
    {"nacos.core.auth.enable.userAgentAuthWhite", P_BOOL, FIELD(auth_ua_white),
     0, 0, 0, NULL},
    /* Nacos's caches of users, roles and tokens: locus applies every change
     * at once and signs a token per login. */
    {"nacos.core.auth.caching.enabled", P_NOEFFECT, 0, 0, 0, 0, 0, NULL},
    {"nacos.core.auth.plugin.nacos.token.cache.enable", P_NOEFFECT, 0, 0, 0, 0,
     0, NULL},
    {"locus.auth.login.max_fails_per_user", P_NUM,
     FIELD(auth.max_fails_per_user), T_UNSIGNED, 1, 1000000, NULL},
    {"locus.auth.login.max_fails_per_ip", P_NUM, FIELD(auth.max_fails_per_ip),
     T_UNSIGNED, 1, 1000000, NULL},
    {"locus.auth.login.fail_window_s", P_NUM, FIELD(auth.fail_window_s),
     T_UNSIGNED, 1, 86400, NULL},
    /* Spring accepts both spellings. */
    {"server.servlet.contextPath", P_CONTEXT, 0, 0, 0, 0, 0, NULL},
    {"server.servlet.context-path", P_CONTEXT, 0, 0, 0, 0, 0, NULL},
};

/* Prefixes of a Nacos application.properties that locus does not use. */
/* Nacos's JRaft settings (RaftSysConstants, under
 * nacos.core.protocol.raft.data.) that locus accepts and ignores: they tune
 * JRaft's threads, buffers and batching, which canonical/raft does not
 * have. election_timeout_ms, snapshot_interval_secs and
 * rpc_request_timeout_ms are read (props above). */
#define RAFT_DATA_PREFIX "nacos.core.protocol.raft.data."
#define RAFT_PREFIX "nacos.core.protocol.raft."
static const char *const jraft_ignored[] = {
    "request_failoverRetries", "core_thread_num", "cli_service_thread_num",
    "read_index_type", "max_byte_count_per_rpc", "max_entries_size",
    "max_body_size", "max_append_buffer_size", "max_election_delay_ms",
    "election_heartbeat_factor", "apply_batch", "sync", "sync_meta",
    "disruptor_buffer_size", "replicator_pipeline",
    "max_replicator_inflight_msgs", "enable_log_entry_checksum",
};

static const char *const ignored_prefixes[] = {
    "nacos.", "server.", "spring.", "management.", "db.",
};

/* ------------------------------------------------------------- helpers */

/* Write a message into @err and return LC_ECONFIG. */
#define fail(err, errlen, ...) lc_errf(LC_ECONFIG, err, errlen, __VA_ARGS__)

static bool is_space(char c)
{
    return isspace((unsigned char)c) != 0;
}

/* Trim blanks at both ends of [*s, *s + *len). */
static void trim(const char **s, size_t *len)
{
    while (*len > 0 && is_space(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && is_space((*s)[*len - 1])) {
        (*len)--;
    }
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Flags and positional arguments are echoed in messages unless they might
 * carry the cluster secret. */
static bool mentions_secret(const char *s)
{
    return s != NULL &&
           (strstr(s, "secret") != NULL || strstr(s, "identity.value") != NULL);
}

static const struct prop *find_prop(const char *key)
{
    for (size_t i = 0; i < LC_ARRAY_SIZE(props); i++) {
        if (strcmp(props[i].key, key) == 0) {
            return &props[i];
        }
    }
    return NULL;
}

static void *field_of(struct lc_config *cfg, const struct prop *p)
{
    return (char *)cfg + p->off;
}

static const void *cfield_of(const struct lc_config *cfg, const struct prop *p)
{
    return (const char *)cfg + p->off;
}

static void put_num(struct lc_config *cfg, const struct prop *p, long long v)
{
    void *f = field_of(cfg, p);
    switch (p->type) {
        case T_INT:
            *(int *)f = (int)v;
            break;
        case T_UNSIGNED:
            *(unsigned *)f = (unsigned)v;
            break;
        case T_SIZE:
            *(size_t *)f = (size_t)v;
            break;
    }
}

static long long get_num(const struct lc_config *cfg, const struct prop *p)
{
    const void *f = cfield_of(cfg, p);
    switch (p->type) {
        case T_INT:
            return *(const int *)f;
        case T_UNSIGNED:
            return *(const unsigned *)f;
        case T_SIZE:
            if (*(const size_t *)f > (size_t)INT64_MAX) {
                return INT64_MAX;
            }
            return (long long)*(const size_t *)f;
    }
    return 0;
}

/* Format a numeric rule: "K must be an integer in A..B (note)". */
static void num_rule(char *out, size_t size, const struct prop *p)
{
    if (p->note != NULL) {
        snprintf(out, size, "%s must be an integer in %lld..%lld (%s)", p->key,
                 p->min, p->max, p->note);
    } else {
        snprintf(out, size, "%s must be an integer in %lld..%lld", p->key,
                 p->min, p->max);
    }
}

/* ------------------------------------------------------------- members */

/* A host as stored: no port, no brackets, nothing a list would split on. */
static bool valid_host(const char *host)
{
    unsigned colons = 0;
    if (*host == '\0') {
        return false;
    }
    for (const char *c = host; *c != '\0'; c++) {
        if (is_space(*c) || strchr(",#[]/@\"'", *c) != NULL) {
            return false;
        }
        colons += *c == ':';
    }
    return colons != 1; /* one colon is host:port; IPv6 has at least two */
}

/* Add one trimmed, non-empty member text ("ip", "ip:port", "[v6]",
 * "[v6]:port"). @where prefixes messages. */
static int add_member(struct lc_config *cfg, const char *text,
                      const char *where, char *err, size_t errlen)
{
    char host[LC_HOST_MAX];
    int port = DEFAULT_MEMBER_PORT;
    const char *colon = strchr(text, ':');
    struct lc_config_member *m;

    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close != NULL && close[1] == '\0') {
            size_t n = (size_t)(close - text - 1);
            if (n == 0 || n >= sizeof host) {
                goto bad;
            }
            memcpy(host, text + 1, n);
            host[n] = '\0';
        } else if (lc_split_host_port(text, host, sizeof host, &port) != 0) {
            goto bad;
        }
    } else if (colon == NULL) {
        if (!lc_strlcpy(host, text, sizeof host)) {
            goto bad;
        }
    } else if (strchr(colon + 1, ':') != NULL) {
        return fail(err, errlen,
                    "%s: bad member '%.300s': IPv6 members must be "
                    "bracketed, as [::1]:8848",
                    where, text);
    } else if (lc_split_host_port(text, host, sizeof host, &port) != 0) {
        goto bad;
    }
    if (!valid_host(host)) {
        goto bad;
    }

    for (unsigned i = 0; i < cfg->n_members; i++) {
        if (cfg->members[i].port == port &&
            strcmp(cfg->members[i].host, host) == 0) {
            return fail(err, errlen, "%s: duplicate member '%.300s'", where,
                        text);
        }
    }
    if (cfg->n_members >= LC_MAX_MEMBERS) {
        return fail(err, errlen,
                    "%s: too many members: at most %d (at '%.300s')", where,
                    LC_MAX_MEMBERS, text);
    }
    m = &cfg->members[cfg->n_members++];
    lc_strlcpy(m->host, host, sizeof m->host);
    m->port = port;
    return 0;

bad:
    return fail(err, errlen, "%s: bad member '%.300s' (" MEMBER_RULE ")", where,
                text);
}

/* Add each comma-separated member of [list, list + len); empty items are
 * skipped. */
static int add_member_list(struct lc_config *cfg, const char *list, size_t len,
                           const char *where, char *err, size_t errlen)
{
    const char *end = list + len;

    while (list < end) {
        const char *comma = memchr(list, ',', (size_t)(end - list));
        const char *item = list;
        size_t n = (size_t)((comma != NULL ? comma : end) - list);
        char buf[LC_HOST_MAX + 16];
        int rc;

        list = comma != NULL ? comma + 1 : end;
        trim(&item, &n);
        if (n == 0) {
            continue;
        }
        if (n >= sizeof buf) {
            return fail(err, errlen, "%s: bad member '%.40s...' (too long)",
                        where, item);
        }
        memcpy(buf, item, n);
        buf[n] = '\0';
        rc = add_member(cfg, buf, where, err, errlen);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int lc_config_parse_members(struct lc_config *cfg, const char *list, char *err,
                            size_t errlen)
{
    cfg->n_members = 0;
    return add_member_list(cfg, list, strlen(list),
                           "bad config: nacos.member.list", err, errlen);
}

int lc_config_load_members(struct lc_config *cfg, const char *path, char *err,
                           size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned lineno = 0;
    int rc = 0;

    if (f == NULL) {
        if (errno == ENOENT) {
            return lc_errf(LC_ENOTFOUND, err, errlen, "%s: no such file",
                             path);
        }
        return fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    }
    cfg->n_members = 0;
    errno = 0;
    while ((n = getline(&line, &cap, f)) != -1) {
        char where[LC_PATH_MAX + 16];
        char *hash = memchr(line, '#', (size_t)n);
        size_t len = hash != NULL ? (size_t)(hash - line) : (size_t)n;

        lineno++;
        snprintf(where, sizeof where, "%s:%u", path, lineno);
        rc = add_member_list(cfg, line, len, where, err, errlen);
        if (rc != 0) {
            goto out;
        }
    }
    if (ferror(f)) {
        rc = errno == ENOMEM ? LC_ENOMEM : LC_ECONFIG;
        fail(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        goto out;
    }
    lc_strlcpy(cfg->cluster_conf_path, path, sizeof cfg->cluster_conf_path);
out:
    free(line);
    fclose(f);
    return rc;
}

/* ------------------------------------------------------------- properties */

const char *lc_config_raft_key_note(const char *key)
{
    if (find_prop(key) != NULL || !has_prefix(key, RAFT_PREFIX)) {
        return NULL;
    }
    if (has_prefix(key, RAFT_DATA_PREFIX)) {
        const char *name = key + strlen(RAFT_DATA_PREFIX);
        for (size_t i = 0; i < LC_ARRAY_SIZE(jraft_ignored); i++) {
            if (strcmp(name, jraft_ignored[i]) == 0) {
                return "ignored";
            }
        }
    }
    return "unknown";
}

/* A nacos.core.protocol.raft.* key locus does not read: say so at start,
 * as a migrated configuration may expect it to matter. */
static void report_raft_key(const char *key, const char *at)
{
    const char *note = lc_config_raft_key_note(key);
    if (strcmp(note, "ignored") == 0) {
        lc_warnf("config", "%s%s%s is a JRaft setting locus does not use; "
                           "ignored",
                 at != NULL ? at : "", at != NULL ? ": " : "", key);
    } else {
        lc_warnf("config", "%s%sunknown raft key %s; ignored (locus reads "
                           "election_timeout_ms, snapshot_interval_secs and "
                           "rpc_request_timeout_ms under %s)",
                 at != NULL ? at : "", at != NULL ? ": " : "", key,
                 RAFT_DATA_PREFIX);
    }
}

/* Set @key to @value. Messages start with "@where: " (a file and line, or a
 * flag), or "bad config: " if @where is NULL. @st is NULL outside
 * lc_config_load. */
static int set_prop(struct lc_config *cfg, const char *key, const char *value,
                    struct load_state *st, const char *at, char *err,
                    size_t errlen)
{
    const struct prop *p = find_prop(key);
    const char *where = at != NULL ? at : "bad config";
    char rule[256];
    long long v;

    if (p == NULL) {
        if (has_prefix(key, "locus.")) {
            return fail(err, errlen, "%s: unknown key %s", where, key);
        }
        if (has_prefix(key, RAFT_PREFIX)) {
            report_raft_key(key, at);
            return 0;
        }
        for (size_t i = 0; i < LC_ARRAY_SIZE(ignored_prefixes); i++) {
            if (has_prefix(key, ignored_prefixes[i])) {
                lc_debugf("config", "%s%signoring %s (not used by locus)",
                          at != NULL ? at : "", at != NULL ? ": " : "", key);
                return 0;
            }
        }
        return fail(err, errlen,
                    "%s: unknown key %s (locus reads locus.* and the Nacos "
                    "keys it knows; other nacos.*, server.*, spring.*, "
                    "management.* and db.* keys are ignored)",
                    where, key);
    }

    switch (p->kind) {
        case P_NUM:
            if (lc_parse_int(value, p->min, p->max, &v) != 0) {
                num_rule(rule, sizeof rule, p);
                return fail(err, errlen, "%s: %s (got '%.200s')", where, rule,
                            value);
            }
            put_num(cfg, p, v);
            if (st != NULL &&
                p->off == offsetof(struct lc_config, heartbeat_ms)) {
                st->heartbeat_set = true;
            }
            return 0;

        case P_BOOL:
        case P_NOEFFECT:
            if (strcasecmp(value, "true") != 0 &&
                strcasecmp(value, "false") != 0) {
                return fail(err, errlen,
                            "%s: %s must be true or false (got '%.200s')",
                            where, key, value);
            }
            if (p->kind == P_BOOL) {
                *(bool *)field_of(cfg, p) = lc_parse_bool(value);
                return 0;
            }
            lc_infof("config",
                     "%s%s%s has no effect: locus applies user, role and "
                     "permission changes at once",
                     at != NULL ? at : "", at != NULL ? ": " : "", key);
            return 0;

        case P_HOST: {
            char host[LC_HOST_MAX];
            size_t n = strlen(value);
            const char *h = value;
            /* Accept a bracketed IPv6 literal; store it bare, as members
             * are. */
            if (n >= 2 && value[0] == '[' && value[n - 1] == ']') {
                h = value + 1;
                n -= 2;
            }
            if (n == 0 || n >= sizeof host) {
                goto bad_host;
            }
            memcpy(host, h, n);
            host[n] = '\0';
            if (!valid_host(host)) {
                goto bad_host;
            }
            lc_strlcpy(field_of(cfg, p), host, p->size);
            return 0;
        bad_host:
            return fail(err, errlen,
                        "%s: %s must be an IP address or host name, as this "
                        "node appears in the member list (got '%.200s')",
                        where, key, value);
        }

        case P_PATH:
            if (*value == '\0' || strlen(value) >= p->size) {
                return fail(err, errlen,
                            "%s: %s must be a non-empty path shorter than %zu "
                            "bytes (got '%.200s')",
                            where, key, p->size, value);
            }
            lc_strlcpy(field_of(cfg, p), value, p->size);
            return 0;

        case P_SECRET:
            if (strlen(value) >= p->size) {
                return fail(err, errlen,
                            "%s: %s must be shorter than %zu characters "
                            "(value not shown)",
                            where, key, p->size);
            }
            lc_strlcpy(field_of(cfg, p), value, p->size);
            return 0;

        case P_LOG_LEVEL: {
            char lower[16];
            int level = -1;
            if (strlen(value) < sizeof lower) {
                size_t i;
                for (i = 0; value[i] != '\0'; i++) {
                    lower[i] = (char)tolower((unsigned char)value[i]);
                }
                lower[i] = '\0';
                level = lc_log_parse_level(lower);
            }
            if (level < 0) {
                return fail(err, errlen,
                            "%s: %s must be one of debug, info, warn, error "
                            "(got '%.200s')",
                            where, key, value);
            }
            *(int *)field_of(cfg, p) = level;
            return 0;
        }

        case P_MEMBERS: {
            char mwhere[LC_PATH_MAX + 64];
            int rc;
            snprintf(mwhere, sizeof mwhere, "%s: %s", where, key);
            cfg->n_members = 0;
            rc =
                add_member_list(cfg, value, strlen(value), mwhere, err, errlen);
            if (st != NULL) {
                /* An empty list means "read cluster.conf", as in Nacos. */
                st->member_list_set = cfg->n_members > 0;
            }
            return rc;
        }

        case P_STR:
            if (strlen(value) >= p->size) {
                return fail(err, errlen,
                            "%s: %s must be shorter than %zu characters "
                            "(got '%.200s...')",
                            where, key, p->size, value);
            }
            lc_strlcpy(field_of(cfg, p), value, p->size);
            return 0;

        case P_CONTEXT:
            if (strcmp(value, "/nacos") != 0) {
                return fail(err, errlen,
                            "%s: %s must be /nacos: locus serves only the "
                            "/nacos context (got '%.200s')",
                            where, key, value);
            }
            return 0;
    }
    return 0;
}

int lc_config_set(struct lc_config *cfg, const char *key, const char *value,
                  char *err, size_t errlen)
{
    assert(cfg != NULL && key != NULL && value != NULL);
    return set_prop(cfg, key, value, NULL, NULL, err, errlen);
}

/* One key=value from a properties file. */
struct file_ctx {
    struct lc_config *cfg;
    struct load_state *st;
};

static int on_property(void *data, const char *key, const char *value,
                       const char *where, char *err, size_t errlen)
{
    struct file_ctx *fc = data;
    return set_prop(fc->cfg, key, value, fc->st, where, err, errlen);
}

static int load_properties(struct lc_config *cfg, const char *path,
                           struct load_state *st, char *err, size_t errlen)
{
    struct file_ctx fc = {cfg, st};
    int rc = lc_properties_read(path, on_property, &fc, err, errlen);
    if (rc == 0) {
        lc_strlcpy(cfg->conf_path, path, sizeof cfg->conf_path);
    }
    return rc;
}

int lc_config_load_properties(struct lc_config *cfg, const char *path,
                              char *err, size_t errlen)
{
    return load_properties(cfg, path, NULL, err, errlen);
}

/* ------------------------------------------------------------- defaults */

void lc_config_defaults(struct lc_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->port = 8848;
    lc_strlcpy(cfg->ip, "127.0.0.1", sizeof cfg->ip);
    cfg->standalone = false;
    cfg->join = false;
    lc_strlcpy(cfg->data_dir, "data", sizeof cfg->data_dir);
    /* A dead or cut-off leader is replaced about one election timeout after
     * its last heartbeat (raft/observe.c); see docs/operations.md. */
    cfg->election_timeout_ms = 300;
    cfg->heartbeat_ms = 50; /* election timeout / HEARTBEAT_DIVISOR */
    cfg->snapshot_interval_secs = 1800;
    cfg->snapshot_threshold = 65536;
    cfg->snapshot_trailing = 4096;
    cfg->rpc_request_timeout_ms = 5000;
    cfg->fast_failover = true;
    cfg->log_level = LC_LOG_INFO;
    cfg->http_max_header_bytes = 8192;
    cfg->http_max_body_bytes = 1024 * 1024;
    cfg->http_head_timeout_ms = 10000;
    cfg->http_body_timeout_ms = 30000;
    cfg->http_max_connections_per_ip = 1024;
    cfg->push_task_delay_ms = 20;
    cfg->push_ack_timeout_ms = 10000;
    cfg->client_expired_ms = 180000;
    cfg->balance_enabled = true;
    cfg->balance_interval_ms = 500;
    cfg->balance_factor_pct = 10;
    cfg->balance_batch = 100;
    cfg->distro_sync_delay_ms = 20;
    cfg->distro_sync_timeout_ms = 3000;
    cfg->distro_sync_retry_ms = 3000;
    cfg->distro_verify_interval_ms = 5000;
    cfg->distro_verify_timeout_ms = 3000;
    cfg->distro_load_retry_ms = 30000;
    cfg->clean_empty_interval_ms = 60000;
    cfg->clean_empty_expired_ms = 60000;
    cfg->clean_metadata_interval_ms = 5000;
    cfg->clean_metadata_expired_ms = 60000;
    cfg->subscribers_timeout_ms = 5000;
    cfg->member_fail_access_cnt = 3;
    lc_auth_config_default(&cfg->auth);
    lc_strlcpy(cfg->auth_system_type, "nacos", sizeof cfg->auth_system_type);
    cfg->auth_ua_white = false;
}

int lc_config_raft_port(int port)
{
    return port - RAFT_PORT_OFFSET;
}

int lc_config_grpc_port(int port)
{
    return port + 1000;
}

size_t lc_config_grpc_max_inbound(const struct lc_config *cfg)
{
    if (cfg->grpc_sdk_max_inbound != 0) {
        return cfg->grpc_sdk_max_inbound;
    }
    if (cfg->grpc_max_inbound_deprecated != 0) {
        return cfg->grpc_max_inbound_deprecated;
    }
    return 10 * 1024 * 1024;
}

size_t lc_config_grpc_cluster_max_inbound(const struct lc_config *cfg)
{
    if (cfg->grpc_cluster_max_inbound != 0) {
        return cfg->grpc_cluster_max_inbound;
    }
    if (cfg->grpc_max_inbound_deprecated != 0) {
        return cfg->grpc_max_inbound_deprecated;
    }
    return 10 * 1024 * 1024;
}

/* ------------------------------------------------------------- validation */

int lc_config_validate(const struct lc_config *cfg, char *err, size_t errlen)
{
    char self[LC_HOST_MAX + 16];
    bool found = false;

    for (size_t i = 0; i < LC_ARRAY_SIZE(props); i++) {
        const struct prop *p = &props[i];
        long long v;
        char rule[256];
        if (p->kind != P_NUM) {
            continue;
        }
        v = get_num(cfg, p);
        if (v < p->min || v > p->max) {
            num_rule(rule, sizeof rule, p);
            return fail(err, errlen, "bad config: %s (got %lld)", rule, v);
        }
    }
    if (cfg->heartbeat_ms > cfg->election_timeout_ms / 2) {
        return fail(err, errlen,
                    "bad config: locus.raft.heartbeat_ms must be at most half "
                    "of nacos.core.protocol.raft.data.election_timeout_ms "
                    "(got %u with an election timeout of %u)",
                    cfg->heartbeat_ms, cfg->election_timeout_ms);
    }
    if (!valid_host(cfg->ip)) {
        return fail(err, errlen,
                    "bad config: nacos.inetutils.ip-address must be an IP "
                    "address or host name (got '%.200s')",
                    cfg->ip);
    }
    if (cfg->data_dir[0] == '\0') {
        return fail(err, errlen, "bad config: locus.data.dir must be set");
    }
    if (cfg->log_level < LC_LOG_DEBUG || cfg->log_level > LC_LOG_ERROR) {
        return fail(err, errlen,
                    "bad config: locus.log.level must be one of debug, info, "
                    "warn, error (got level %d)",
                    cfg->log_level);
    }
    /* Peers send the identity as an HTTP header (whenever it is set, as
     * Nacos's AuthHeaderUtil): a header name and a value a request can
     * carry. */
    for (const char *c = cfg->auth.identity_key; *c != '\0'; c++) {
        if (!isalnum((unsigned char)*c) &&
            strchr("!#$%&'*+-.^_`|~", *c) == NULL) {
            return fail(err, errlen,
                        "bad config: nacos.core.auth.server.identity.key must "
                        "be an HTTP header name (letters, digits and "
                        "!#$%%&'*+-.^_`|~; got '%.100s')",
                        cfg->auth.identity_key);
        }
    }
    for (const char *c = cfg->auth.identity_value; *c != '\0'; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            return fail(err, errlen,
                        "bad config: nacos.core.auth.server.identity.value "
                        "must not hold control characters (value not "
                        "shown)");
        }
    }
    if (cfg->auth.enabled) {
        char amsg[512];
        if (strcmp(cfg->auth_system_type, "nacos") != 0) {
            return fail(err, errlen,
                        "bad config: nacos.core.auth.system.type must be "
                        "nacos with nacos.core.auth.enabled=true: locus has "
                        "Nacos's default auth plugin only (got '%.100s')",
                        cfg->auth_system_type);
        }
        if (cfg->auth_ua_white) {
            return fail(err, errlen,
                        "bad config: nacos.core.auth.enable.userAgentAuthWhite "
                        "must be false: a User-Agent starting with "
                        "Nacos-Server would skip auth (CVE-2021-29441); peers "
                        "authenticate with nacos.core.auth.server.identity.key "
                        "and .value");
        }
        if (lc_auth_config_validate(&cfg->auth, !cfg->standalone, amsg,
                                    sizeof amsg) != 0) {
            return fail(err, errlen, "bad config: %s", amsg);
        }
    }
    if (cfg->standalone) {
        if (cfg->join) {
            return fail(err, errlen,
                        "bad config: --join is for cluster mode; it cannot "
                        "be combined with standalone mode");
        }
        return 0; /* members and secret are not used */
    }

    /* Cluster mode. */
    if (cfg->n_members == 0) {
        return fail(err, errlen,
                    "bad config: cluster mode needs at least one member: "
                    "list them one ip:port a line in %s (or set "
                    "nacos.member.list), or run with --standalone",
                    cfg->cluster_conf_path[0] != '\0' ? cfg->cluster_conf_path
                                                      : DEFAULT_CLUSTER_CONF);
    }
    if (cfg->n_members > LC_MAX_MEMBERS) {
        return fail(err, errlen, "bad config: too many members: at most %d",
                    LC_MAX_MEMBERS);
    }
    lc_join_host_port(self, sizeof self, cfg->ip, cfg->port);
    for (unsigned i = 0; i < cfg->n_members; i++) {
        const struct lc_config_member *m = &cfg->members[i];
        char addr[LC_HOST_MAX + 16];
        lc_join_host_port(addr, sizeof addr, m->host, m->port);
        if (!valid_host(m->host)) {
            return fail(err, errlen, "bad config: bad member '%.300s'", addr);
        }
        if (m->port < MIN_MAIN_PORT || m->port > MAX_MAIN_PORT) {
            return fail(err, errlen,
                        "bad config: member %s: port must be in %d..%d "
                        "(" PORT_NOTE ")",
                        addr, MIN_MAIN_PORT, MAX_MAIN_PORT);
        }
        for (unsigned j = 0; j < i; j++) {
            if (cfg->members[j].port == m->port &&
                strcmp(cfg->members[j].host, m->host) == 0) {
                return fail(err, errlen, "bad config: duplicate member %s",
                            addr);
            }
        }
        if (m->port == cfg->port && strcmp(m->host, cfg->ip) == 0) {
            found = true;
        }
    }
    if (!found) {
        char list[LC_MAX_MEMBERS * (LC_HOST_MAX + 16)];
        size_t used = 0;
        list[0] = '\0';
        for (unsigned i = 0; i < cfg->n_members && used < sizeof list; i++) {
            char addr[LC_HOST_MAX + 16];
            lc_join_host_port(addr, sizeof addr, cfg->members[i].host,
                              cfg->members[i].port);
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                     i > 0 ? ", " : "", addr);
        }
        return fail(err, errlen,
                    "bad config: this node %s (nacos.inetutils.ip-address "
                    "and server.port, or --ip and --port) is not among the "
                    "members from %s: %s; host names are compared as "
                    "written, without resolving them",
                    self,
                    cfg->cluster_conf_path[0] != '\0' ? cfg->cluster_conf_path
                                                      : "nacos.member.list",
                    list);
    }
    if (cfg->secret[0] == '\0') {
        return fail(err, errlen,
                    "bad config: locus.cluster.secret is required in cluster "
                    "mode: the same value, at least %d characters, on every "
                    "member; generate one with `openssl rand -hex 32`",
                    MIN_SECRET_LEN);
    }
    if (strlen(cfg->secret) < MIN_SECRET_LEN) {
        return fail(err, errlen,
                    "bad config: locus.cluster.secret must be at least %d "
                    "characters (value not shown); generate one with "
                    "`openssl rand -hex 32`",
                    MIN_SECRET_LEN);
    }
    return 0;
}

/* ------------------------------------------------------------- flags */

struct flag_def {
    const char *name;
    bool takes_value;
    const char *key; /* property the value sets, or NULL */
};

static const struct flag_def flag_defs[] = {
    {"--conf", true, NULL},
    {"--cluster-conf", true, NULL},
    {"--port", true, "server.port"},
    {"--ip", true, "nacos.inetutils.ip-address"},
    {"--data-dir", true, "locus.data.dir"},
    {"--standalone", false, NULL},
    {"--join", false, NULL},
    {"--log-level", true, "locus.log.level"},
    {"--set", true, NULL},
};

/* Read the flag at argv[*i] ("--flag", "--flag value" or "--flag=value"),
 * advancing *i past it. @value borrows from @argv. */
static int next_flag(int argc, char **argv, int *i, const struct flag_def **def,
                     const char **value, char *err, size_t errlen)
{
    const char *arg = argv[*i];
    const char *eq;
    size_t name_len;

    if (!has_prefix(arg, "--")) {
        if (mentions_secret(arg) || (*i > 1 && mentions_secret(argv[*i - 1]))) {
            return fail(err, errlen,
                        "unexpected argument %d (flags start with --; value "
                        "not shown)",
                        *i);
        }
        return fail(err, errlen,
                    "unexpected argument '%.200s' (flags start with --)", arg);
    }
    eq = strchr(arg, '=');
    name_len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
    *def = NULL;
    for (size_t k = 0; k < LC_ARRAY_SIZE(flag_defs); k++) {
        if (strlen(flag_defs[k].name) == name_len &&
            strncmp(flag_defs[k].name, arg, name_len) == 0) {
            *def = &flag_defs[k];
            break;
        }
    }
    if (*def == NULL) {
        return fail(err, errlen, "unknown flag %.*s (see --help)",
                    (int)(name_len > 200 ? 200 : name_len), arg);
    }
    (*i)++;
    if (!(*def)->takes_value) {
        if (eq != NULL) {
            return fail(err, errlen, "%s takes no value", (*def)->name);
        }
        *value = NULL;
        return 0;
    }
    if (eq != NULL) {
        *value = eq + 1;
        return 0;
    }
    if (*i >= argc || has_prefix(argv[*i], "--")) {
        return fail(err, errlen, "%s needs a value", (*def)->name);
    }
    *value = argv[(*i)++];
    return 0;
}

/* Apply --set key=value; key and value are trimmed as in a file. */
static int apply_set(struct lc_config *cfg, const char *arg,
                     struct load_state *st, char *err, size_t errlen)
{
    const char *eq = strchr(arg, '=');
    const char *k = arg;
    const char *v;
    size_t klen;
    size_t vlen;
    char key[256];
    char *value;
    int rc;

    if (eq == NULL) {
        if (mentions_secret(arg)) {
            return fail(err, errlen, "--set needs key=value (value not shown)");
        }
        return fail(err, errlen, "--set needs key=value (got '%.200s')", arg);
    }
    klen = (size_t)(eq - arg);
    trim(&k, &klen);
    if (klen == 0 || klen >= sizeof key) {
        return fail(err, errlen, "--set needs key=value (bad key '%.*s')",
                    (int)(klen > 200 ? 200 : klen), k);
    }
    memcpy(key, k, klen);
    key[klen] = '\0';
    v = eq + 1;
    vlen = strlen(v);
    trim(&v, &vlen);
    value = strndup(v, vlen);
    if (value == NULL) {
        return lc_errf(LC_ENOMEM, err, errlen, "out of memory");
    }
    rc = set_prop(cfg, key, value, st, "--set", err, errlen);
    free(value);
    return rc;
}

int lc_config_load(struct lc_config *cfg, int argc, char **argv, char *err,
                   size_t errlen)
{
    struct load_state st = {false, false};
    const char *conf = NULL;
    const char *cluster_conf = NULL;
    const struct flag_def *def;
    const char *value;
    int rc;
    int i;

    lc_config_defaults(cfg);
    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }

    /* First pass: check the flags' syntax and find the files. */
    for (i = 1; i < argc;) {
        rc = next_flag(argc, argv, &i, &def, &value, err, errlen);
        if (rc != 0) {
            return rc;
        }
        if (strcmp(def->name, "--conf") == 0) {
            conf = value;
        } else if (strcmp(def->name, "--cluster-conf") == 0) {
            cluster_conf = value;
        } else {
            continue;
        }
        if (*value == '\0') {
            return fail(err, errlen, "%s needs a file name", def->name);
        }
    }

    rc = load_properties(cfg, conf != NULL ? conf : DEFAULT_CONF, &st, err,
                         errlen);
    if (rc == LC_ENOTFOUND) {
        if (conf != NULL) {
            return fail(err, errlen, "--conf: %s: no such file", conf);
        }
        lc_debugf("config", "no %s; using defaults and flags", DEFAULT_CONF);
        if (err != NULL && errlen > 0) {
            err[0] = '\0';
        }
    } else if (rc != 0) {
        return rc;
    }

    /* Second pass: the other flags, in order. */
    for (i = 1; i < argc;) {
        rc = next_flag(argc, argv, &i, &def, &value, err, errlen);
        assert(rc == 0); /* checked in the first pass */
        if (def->key != NULL) {
            rc = set_prop(cfg, def->key, value, &st, def->name, err, errlen);
        } else if (strcmp(def->name, "--set") == 0) {
            rc = apply_set(cfg, value, &st, err, errlen);
        } else if (strcmp(def->name, "--standalone") == 0) {
            cfg->standalone = true;
        } else if (strcmp(def->name, "--join") == 0) {
            cfg->join = true;
        }
        if (rc != 0) {
            return rc;
        }
    }

    if (cfg->standalone) {
        if (cfg->n_members > 0) {
            lc_infof("config", "standalone: ignoring nacos.member.list");
            cfg->n_members = 0;
        }
    } else if (st.member_list_set) {
        if (cluster_conf != NULL) {
            lc_infof("config", "nacos.member.list is set; not reading %s",
                     cluster_conf);
        }
    } else {
        const char *path =
            cluster_conf != NULL ? cluster_conf : DEFAULT_CLUSTER_CONF;
        rc = lc_config_load_members(cfg, path, err, errlen);
        if (rc == LC_ENOTFOUND) {
            if (cluster_conf != NULL) {
                return fail(err, errlen, "--cluster-conf: %s: no such file",
                            cluster_conf);
            }
            if (err != NULL && errlen > 0) {
                err[0] = '\0'; /* validation reports the missing members */
            }
        } else if (rc != 0) {
            return rc;
        }
    }

    if (!st.heartbeat_set) {
        cfg->heartbeat_ms = cfg->election_timeout_ms / HEARTBEAT_DIVISOR;
        if (cfg->heartbeat_ms < MIN_HEARTBEAT_MS) {
            cfg->heartbeat_ms = MIN_HEARTBEAT_MS;
        }
    }
    return lc_config_validate(cfg, err, errlen);
}
