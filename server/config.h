/* locusd configuration: Nacos property names where Nacos has them.
 *
 * Sources, later ones winning: built-in defaults, the properties file
 * (conf/application.properties, or --conf), then command-line flags. Members
 * come from conf/cluster.conf (or --cluster-conf), one `ip[:port]` a line, '#'
 * comments, port defaulting to 8848, as Nacos reads it; `nacos.member.list`
 * (comma separated) replaces the file when set.
 *
 * Flags: --conf FILE, --cluster-conf FILE, --port N, --ip ADDR,
 * --data-dir DIR, --standalone, --join, --log-level LEVEL, and
 * --set key=value (any property). `--help` is handled by the caller.
 *
 * Every value is checked; a bad one is refused with a message that names the
 * key, the rule and the value given.
 */
#ifndef LC_SERVER_CONFIG_H
#define LC_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/auth.h"

#define LC_MAX_MEMBERS 16
#define LC_HOST_MAX 256
#define LC_PATH_MAX 1024

/* A member as cluster.conf lists it; server/node.c builds the member list
 * (members/members.h) from these. */
struct lc_config_member {
    char host[LC_HOST_MAX]; /* IPv4/IPv6 literal or host name */
    int port;               /* main (HTTP) port; raft is port - 1000 */
};

struct lc_config {
    /* server.port (8848) and nacos.inetutils.ip-address (127.0.0.1) */
    int port;
    char ip[LC_HOST_MAX];
    /* nacos.standalone (false); --standalone */
    bool standalone;
    /* --join: never bootstrap; wait to be added by changePeers */
    bool join;
    /* locus.data.dir (data) */
    char data_dir[LC_PATH_MAX];
    /* where the files came from ("" if not read) */
    char conf_path[LC_PATH_MAX];
    char cluster_conf_path[LC_PATH_MAX];

    /* cluster members (cluster mode); includes this node */
    struct lc_config_member members[LC_MAX_MEMBERS];
    unsigned n_members;

    /* nacos.core.protocol.raft.data.election_timeout_ms (1000; 50..60000) */
    unsigned election_timeout_ms;
    /* locus.raft.heartbeat_ms (election timeout / 10; 10..election/2) */
    unsigned heartbeat_ms;
    /* nacos.core.protocol.raft.data.snapshot_interval_secs (1800; 0 = off) */
    unsigned snapshot_interval_secs;
    /* locus.raft.snapshot_threshold (65536 entries; >= 1) */
    unsigned snapshot_threshold;
    /* locus.raft.snapshot_trailing (4096 entries kept after a snapshot) */
    unsigned snapshot_trailing;
    /* nacos.core.protocol.raft.data.rpc_request_timeout_ms (5000; >= 100) */
    unsigned rpc_request_timeout_ms;
    /* locus.raft.fast_failover (true): elect at once when the leader's
     * process is seen to die */
    bool fast_failover;
    /* locus.cluster.secret: shared secret for server-to-server prefaces;
     * required in cluster mode, at least 16 characters */
    char secret[512];

    /* locus.log.level (info) */
    int log_level;
    /* locus.http.max_header_bytes (8192), locus.http.max_body_bytes (1 MiB) */
    size_t http_max_header_bytes;
    size_t http_max_body_bytes;
    /* locus.http.head_timeout_ms (10 s), locus.http.body_timeout_ms (30 s),
     * locus.http.max_connections_per_ip (1024): rpc/http/http.h */
    unsigned http_head_timeout_ms;
    unsigned http_body_timeout_ms;
    unsigned http_max_connections_per_ip;

    /* nacos.naming.push.pushTaskDelay (20 ms; Nacos: 500): how long changes
     * of a service merge before one push; 0..60000 */
    unsigned push_task_delay_ms;
    /* locus.naming.push.ack_timeout_ms (10000): UDP ack wait before the one
     * resend; 10..600000 */
    unsigned push_ack_timeout_ms;
    /* nacos.naming.client.expired.time (180000): an IP-port client that
     * publishes nothing and has not polled for this long is removed, with
     * its push subscriptions; 1000..86400000 */
    unsigned client_expired_ms;
    /* Distro (distro/distro.h), nacos.core.protocol.distro.data.*:
     * sync.delayMs (20; Nacos: 1000), sync.timeoutMs (3000),
     * sync.retryDelayMs (3000), verify.intervalMs (5000), verify.timeoutMs
     * (3000), load.retryDelayMs (30000) */
    unsigned distro_sync_delay_ms;
    unsigned distro_sync_timeout_ms;
    unsigned distro_sync_retry_ms;
    unsigned distro_verify_interval_ms;
    unsigned distro_verify_timeout_ms;
    unsigned distro_load_retry_ms;
    /* nacos.naming.clean.empty-service.interval (60000 ms) and
     * .expired-time (60000 ms); nacos.naming.clean.expired-metadata.interval
     * (5000 ms) and .expired-time (60000 ms) */
    unsigned clean_empty_interval_ms;
    unsigned clean_empty_expired_ms;
    unsigned clean_metadata_interval_ms;
    unsigned clean_metadata_expired_ms;

    /* locus.naming.subscribers.timeout_ms (5000): bound on each member's
     * answer when service/subscribers aggregates the cluster; 100..5000
     * (at most the HTTP shutdown grace) */
    unsigned subscribers_timeout_ms;

    /* nacos.remote.server.grpc.sdk.max-inbound-message-size, falling back
     * to the deprecated nacos.remote.server.grpc.maxinbound.message.size
     * (0: not set; 10 MiB when neither is): the largest message the SDK
     * gRPC port (port + 1000) takes */
    size_t grpc_sdk_max_inbound;
    size_t grpc_max_inbound_deprecated;
    /* nacos.remote.server.grpc.sdk.max-connections (0: no limit): SDK
     * connections beyond it are refused at setup */
    unsigned grpc_sdk_max_connections;
    /* nacos.remote.server.grpc.cluster.max-inbound-message-size, with the
     * same fallback (0: not set): the cluster port's (port + 1001) and the
     * peer channels' message limit */
    size_t grpc_cluster_max_inbound;
    /* nacos.core.member.fail-access-cnt (3): failed member reports after
     * which a SUSPICIOUS member becomes DOWN */
    unsigned member_fail_access_cnt;

    /* locus.loader.balance.*: automatic SDK connection balancing across
     * members (server/balance.h). enabled (true); interval_ms (500): how
     * often counts are asked and a batch sent; factor_percent (10): the
     * band around the average that starts a round; batch (100): at most
     * this many ConnectResets per interval */
    bool balance_enabled;
    unsigned balance_interval_ms;
    unsigned balance_factor_pct;
    unsigned balance_batch;

    /* Auth (auth/auth.h): nacos.core.auth.enabled (false),
     * nacos.core.auth.plugin.nacos.token.secret.key, .token.expire.seconds
     * (18000), nacos.core.auth.server.identity.key/.value,
     * locus.auth.login.max_fails_per_user (10), .max_fails_per_ip (30),
     * .fail_window_s (300). The secret and the identity value are never
     * echoed. */
    struct lc_auth_config auth;
    /* nacos.core.auth.system.type ("nacos"): with auth on, anything else is
     * refused (locus has Nacos's default plugin only). */
    char auth_system_type[64];
    /* nacos.core.auth.enable.userAgentAuthWhite (false): true with auth on
     * is refused (the User-Agent bypass, CVE-2021-29441). */
    bool auth_ua_white;
};

/* The SDK gRPC port's message limit the properties give. */
size_t lc_config_grpc_max_inbound(const struct lc_config *cfg);

/* The cluster gRPC port's message limit the properties give. */
size_t lc_config_grpc_cluster_max_inbound(const struct lc_config *cfg);

/* The SDK gRPC port of a main port (Nacos's offset, +1000). */
int lc_config_grpc_port(int port);

/* Fill @cfg with the built-in defaults. */
void lc_config_defaults(struct lc_config *cfg);

/* Set property @key to @value (from a file or --set). Unknown `nacos.*`,
 * `server.*`, `spring.*`, `management.*` and `db.*` keys are accepted and
 * ignored (a Nacos application.properties carries many); unknown `locus.*`
 * and other keys are refused. The heartbeat default is derived from the
 * election timeout only by lc_config_load. @key and @value are copied.
 * Return 0 or LC_ECONFIG with a message in @err. */
int lc_config_set(struct lc_config *cfg, const char *key, const char *value,
                  char *err, size_t errlen);

/* Read a Java-style properties file ('#'/'!' comments, key=value, key:value
 * or "key value", surrounding blanks trimmed, backslash continuation lines,
 * \t \n \r \f \uXXXX and \<char> escapes). A missing file is LC_ENOTFOUND.
 * Return 0, LC_ENOTFOUND or LC_ECONFIG (message names file, line and key);
 * LC_ENOMEM if memory runs out. */
int lc_config_load_properties(struct lc_config *cfg, const char *path,
                              char *err, size_t errlen);

/* Read a cluster.conf into cfg->members, replacing them: `ip`, `ip:port`,
 * `[v6]` or `[v6]:port` items, one or more (comma separated) a line, '#'
 * comments. Duplicates and more than LC_MAX_MEMBERS are refused. Return 0,
 * LC_ENOTFOUND or LC_ECONFIG. */
int lc_config_load_members(struct lc_config *cfg, const char *path,
                           char *err, size_t errlen);

/* Parse a comma-separated member list ("ip:port,ip:port") into
 * cfg->members. Return 0 or LC_ECONFIG. */
int lc_config_parse_members(struct lc_config *cfg, const char *list,
                            char *err, size_t errlen);

/* The whole sequence: defaults, properties file, flags, members, validation.
 * @argv[0] is the program name; @argv is only read. Return 0 or LC_ECONFIG
 * with a message (LC_ENOMEM if memory runs out). Does not apply the log
 * level: the caller passes cfg->log_level to lc_log_set_level. */
int lc_config_load(struct lc_config *cfg, int argc, char **argv, char *err,
                   size_t errlen);

/* Cross-field checks: cluster mode needs members that include ip:port and a
 * secret; ports derived by Nacos's offsets (raft = port - 1000, gRPC = port +
 * 1000 and + 1001) must be valid; with auth on, lc_auth_config_validate's
 * rules, the system type "nacos" and userAgentAuthWhite off. Return 0 or
 * LC_ECONFIG. */
int lc_config_validate(const struct lc_config *cfg, char *err, size_t errlen);

/* Raft port of a main port (Nacos's offset, -1000). */
int lc_config_raft_port(int port);

/* For a nacos.core.protocol.raft.* key locus does not read: "ignored" for
 * Nacos's JRaft settings it accepts without effect, "unknown" for anything
 * else (both logged as a warning when set); NULL for keys locus reads and
 * keys outside that prefix. The result is static. */
const char *lc_config_raft_key_note(const char *key);

#endif /* LC_SERVER_CONFIG_H */
