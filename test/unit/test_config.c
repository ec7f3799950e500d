/* Unit tests for server/config: properties, cluster.conf, flags, validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "server/config.h"

#define SECRET "0123456789abcdef0123456789abcdef"

/* Each test runs in a fresh temporary directory, also the working directory,
 * so the default conf/ paths resolve inside it. */
static char tmpdir[64];
static char oldcwd[4096];

static int setup(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/locus-test-config-XXXXXX");
    if (mkdtemp(tmpdir) == NULL || getcwd(oldcwd, sizeof oldcwd) == NULL ||
        chdir(tmpdir) != 0) {
        return -1;
    }
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    (void)state;
    if (chdir(oldcwd) != 0) {
        return -1;
    }
    return nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Write @content to @name (relative to the temporary directory); return its
 * absolute path in @path. */
static void write_file(char *path, size_t size, const char *name,
                       const char *content)
{
    FILE *f;
    snprintf(path, size, "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(content, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static int load_argv(struct lc_config *cfg, char *err, size_t errlen,
                     const char **args)
{
    int argc = 0;
    while (args[argc] != NULL) {
        argc++;
    }
    return lc_config_load(cfg, argc, (char **)args, err, errlen);
}

#define LOAD(cfg, err, ...)                                                    \
    load_argv((cfg), (err), sizeof(err),                                       \
              (const char *[]){"locusd", __VA_ARGS__, NULL})

#define assert_contains(haystack, needle)                                      \
    do {                                                                       \
        if (strstr((haystack), (needle)) == NULL) {                            \
            fail_msg("'%s' does not contain '%s'", (haystack), (needle));      \
        }                                                                      \
    } while (0)

#define assert_not_contains(haystack, needle)                                  \
    do {                                                                       \
        if (strstr((haystack), (needle)) != NULL) {                            \
            fail_msg("'%s' contains '%s'", (haystack), (needle));              \
        }                                                                      \
    } while (0)

/* ------------------------------------------------------------- defaults */

static void test_defaults(void **state)
{
    struct lc_config cfg;
    char err[512];
    (void)state;

    lc_config_defaults(&cfg);
    assert_int_equal(cfg.port, 8848);
    assert_string_equal(cfg.ip, "127.0.0.1");
    assert_false(cfg.standalone);
    assert_false(cfg.join);
    assert_string_equal(cfg.data_dir, "data");
    assert_string_equal(cfg.conf_path, "");
    assert_string_equal(cfg.cluster_conf_path, "");
    assert_int_equal(cfg.n_members, 0);
    assert_int_equal(cfg.election_timeout_ms, 300);
    assert_int_equal(cfg.heartbeat_ms, 50);
    assert_int_equal(cfg.snapshot_interval_secs, 1800);
    assert_int_equal(cfg.snapshot_threshold, 65536);
    assert_int_equal(cfg.snapshot_trailing, 4096);
    assert_int_equal(cfg.rpc_request_timeout_ms, 5000);
    assert_true(cfg.fast_failover);
    assert_string_equal(cfg.secret, "");
    assert_int_equal(cfg.log_level, LC_LOG_INFO);
    assert_int_equal(cfg.http_max_header_bytes, 8192);
    assert_int_equal(cfg.http_max_body_bytes, 1024 * 1024);
    assert_true(cfg.balance_enabled);
    assert_int_equal(cfg.balance_interval_ms, 500);
    assert_int_equal(cfg.balance_factor_pct, 10);
    assert_int_equal(cfg.balance_batch, 100);
    assert_int_equal(lc_config_raft_port(8848), 7848);

    /* Defaults are a valid standalone node, not a valid cluster node. */
    assert_int_equal(lc_config_validate(&cfg, err, sizeof err), LC_ECONFIG);
    cfg.standalone = true;
    assert_int_equal(lc_config_validate(&cfg, err, sizeof err), 0);
}

/* ------------------------------------------------------------- keys */

static void set_ok(struct lc_config *cfg, const char *key, const char *value)
{
    char err[512] = "";
    int rc = lc_config_set(cfg, key, value, err, sizeof err);
    if (rc != 0) {
        fail_msg("%s=%s refused: %s", key, value, err);
    }
}

static void test_every_key(void **state)
{
    struct lc_config cfg;
    (void)state;

    lc_config_defaults(&cfg);
    set_ok(&cfg, "server.port", "9848");
    set_ok(&cfg, "nacos.inetutils.ip-address", "127.0.1.7");
    set_ok(&cfg, "nacos.standalone", "TRUE");
    set_ok(&cfg, "nacos.member.list", "127.0.1.7:9848, 127.0.1.8");
    set_ok(&cfg, "nacos.core.protocol.raft.data.election_timeout_ms", "3000");
    set_ok(&cfg, "nacos.core.protocol.raft.data.snapshot_interval_secs", "0");
    set_ok(&cfg, "nacos.core.protocol.raft.data.rpc_request_timeout_ms", "700");
    set_ok(&cfg, "locus.raft.heartbeat_ms", "250");
    set_ok(&cfg, "locus.raft.snapshot_threshold", "5000");
    set_ok(&cfg, "locus.raft.snapshot_trailing", "0");
    set_ok(&cfg, "locus.raft.fast_failover", "False");
    set_ok(&cfg, "locus.cluster.secret", SECRET);
    set_ok(&cfg, "locus.data.dir", "/var/lib/locus");
    set_ok(&cfg, "locus.log.level", "warn");
    set_ok(&cfg, "locus.http.max_header_bytes", "16384");
    set_ok(&cfg, "locus.http.max_body_bytes", "2097152");
    set_ok(&cfg, "server.servlet.contextPath", "/nacos");
    set_ok(&cfg, "server.servlet.context-path", "/nacos");
    set_ok(&cfg, "locus.loader.balance.enabled", "false");
    set_ok(&cfg, "locus.loader.balance.interval_ms", "2500");
    set_ok(&cfg, "locus.loader.balance.factor_percent", "20");
    set_ok(&cfg, "locus.loader.balance.batch", "7");

    assert_int_equal(cfg.port, 9848);
    assert_string_equal(cfg.ip, "127.0.1.7");
    assert_true(cfg.standalone);
    assert_int_equal(cfg.n_members, 2);
    assert_string_equal(cfg.members[0].host, "127.0.1.7");
    assert_int_equal(cfg.members[0].port, 9848);
    assert_string_equal(cfg.members[1].host, "127.0.1.8");
    assert_int_equal(cfg.members[1].port, 8848);
    assert_int_equal(cfg.election_timeout_ms, 3000);
    assert_int_equal(cfg.snapshot_interval_secs, 0);
    assert_int_equal(cfg.rpc_request_timeout_ms, 700);
    assert_int_equal(cfg.heartbeat_ms, 250);
    assert_int_equal(cfg.snapshot_threshold, 5000);
    assert_int_equal(cfg.snapshot_trailing, 0);
    assert_false(cfg.fast_failover);
    assert_string_equal(cfg.secret, SECRET);
    assert_string_equal(cfg.data_dir, "/var/lib/locus");
    assert_int_equal(cfg.log_level, LC_LOG_WARN);
    assert_int_equal(cfg.http_max_header_bytes, 16384);
    assert_int_equal(cfg.http_max_body_bytes, 2097152);
    assert_false(cfg.balance_enabled);
    assert_int_equal(cfg.balance_interval_ms, 2500);
    assert_int_equal(cfg.balance_factor_pct, 20);
    assert_int_equal(cfg.balance_batch, 7);

    /* Range ends are accepted. */
    set_ok(&cfg, "server.port", "1001");
    set_ok(&cfg, "server.port", "64534");
    set_ok(&cfg, "nacos.core.protocol.raft.data.election_timeout_ms", "50");
    set_ok(&cfg, "nacos.core.protocol.raft.data.election_timeout_ms", "60000");
    set_ok(&cfg, "locus.log.level", "DEBUG");
    assert_int_equal(cfg.log_level, LC_LOG_DEBUG);
    set_ok(&cfg, "nacos.inetutils.ip-address", "[fd00::1]");
    assert_string_equal(cfg.ip, "fd00::1");
    set_ok(&cfg, "nacos.inetutils.ip-address", "node-1.example");
    assert_string_equal(cfg.ip, "node-1.example");
}

struct bad_value {
    const char *key;
    const char *value;
    const char *shown; /* quoted in the message; NULL: the whole value */
};

static const struct bad_value bad_values[] = {
    {"server.port", "0", NULL},
    {"server.port", "1000", NULL},  /* raft port would be 0 */
    {"server.port", "64535", NULL}, /* gRPC port + 1001 would be 65536 */
    {"server.port", "65536", NULL},
    {"server.port", "abc", NULL},
    {"server.port", "", NULL},
    {"server.port", "8848x", NULL},
    {"nacos.inetutils.ip-address", "", NULL},
    {"nacos.inetutils.ip-address", "127.0.1.1 127.0.1.2", NULL},
    {"nacos.inetutils.ip-address", "127.0.1.1:8848", NULL},
    {"nacos.standalone", "yes", NULL},
    {"nacos.standalone", "1", NULL},
    {"nacos.standalone", "", NULL},
    {"nacos.member.list", "127.0.1.1:abc", NULL},
    {"nacos.member.list", "::1", NULL},
    {"nacos.member.list", "127.0.1.1,127.0.1.1:8848", "'127.0.1.1:8848'"},
    {"nacos.core.protocol.raft.data.election_timeout_ms", "49", NULL},
    {"nacos.core.protocol.raft.data.election_timeout_ms", "60001", NULL},
    {"nacos.core.protocol.raft.data.election_timeout_ms", "abc", NULL},
    {"nacos.core.protocol.raft.data.election_timeout_ms", "-1000", NULL},
    {"nacos.core.protocol.raft.data.snapshot_interval_secs", "-1", NULL},
    {"nacos.core.protocol.raft.data.snapshot_interval_secs", "2592001", NULL},
    {"nacos.core.protocol.raft.data.rpc_request_timeout_ms", "99", NULL},
    {"nacos.core.protocol.raft.data.rpc_request_timeout_ms", "600001", NULL},
    {"locus.raft.heartbeat_ms", "9", NULL},
    {"locus.raft.heartbeat_ms", "30001", NULL},
    {"locus.raft.snapshot_threshold", "0", NULL},
    {"locus.raft.snapshot_trailing", "-1", NULL},
    {"locus.raft.fast_failover", "on", NULL},
    {"locus.data.dir", "", NULL},
    {"locus.log.level", "verbose", NULL},
    {"locus.log.level", "", NULL},
    {"locus.http.max_header_bytes", "1023", NULL},
    {"locus.http.max_header_bytes", "1048577", NULL},
    {"locus.http.max_body_bytes", "1023", NULL},
    {"locus.http.max_body_bytes", "1073741825", NULL},
    {"locus.http.max_body_bytes", "1MB", NULL},
    {"server.servlet.contextPath", "/", NULL},
    {"server.servlet.contextPath", "/nacos2", NULL},
    {"server.servlet.context-path", "", NULL},
    {"locus.loader.balance.enabled", "off", NULL},
    {"locus.loader.balance.interval_ms", "99", NULL},
    {"locus.loader.balance.factor_percent", "0", NULL},
    {"locus.loader.balance.factor_percent", "100", NULL},
    {"locus.loader.balance.batch", "0", NULL},
};

static void test_range_violations(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        const struct bad_value *b = &bad_values[i];
        struct lc_config cfg;
        char err[512] = "";
        int rc;

        lc_config_defaults(&cfg);
        rc = lc_config_set(&cfg, b->key, b->value, err, sizeof err);
        if (rc != LC_ECONFIG) {
            fail_msg("%s='%s' gave %d, want LC_ECONFIG", b->key, b->value, rc);
        }
        assert_contains(err, b->key);
        if (b->shown != NULL) {
            assert_contains(err, b->shown);
        } else if (b->value[0] != '\0') {
            assert_contains(err, b->value);
        }
    }
}

static void test_messages(void **state)
{
    struct lc_config cfg;
    char err[512];
    (void)state;

    lc_config_defaults(&cfg);
    assert_int_equal(
        lc_config_set(&cfg, "nacos.core.protocol.raft.data.election_timeout_ms",
                      "abc", err, sizeof err),
        LC_ECONFIG);
    assert_string_equal(err, "bad config: nacos.core.protocol.raft.data."
                             "election_timeout_ms must be an integer in "
                             "50..60000 (got 'abc')");
    assert_int_equal(
        lc_config_set(&cfg, "nacos.standalone", "yes", err, sizeof err),
        LC_ECONFIG);
    assert_string_equal(
        err, "bad config: nacos.standalone must be true or false (got 'yes')");
    assert_int_equal(lc_config_set(&cfg, "server.servlet.contextPath", "/api",
                                   err, sizeof err),
                     LC_ECONFIG);
    assert_contains(err, "only the /nacos context");
    /* A failed set leaves the field alone. */
    assert_int_equal(cfg.election_timeout_ms, 300);
}

static void test_unknown_keys(void **state)
{
    struct lc_config cfg;
    char err[512];
    static const char *ignored[] = {
        "nacos.core.auth.plugin.nacos.token.secret.keyx",
        "nacos.naming.empty-service.auto-clean",
        "server.tomcat.basedir",
        "server.error.include-message",
        "spring.datasource.platform",
        "management.metrics.export.elastic.enabled",
        "db.num",
        "db.url.0",
    };
    static const char *refused[] = {
        "locus.raft.heartbeat", "locus.cluster.secrets", "locus.",
        "locus.data.dir.x",     "useAddressServer",      "foo.bar",
        "Server.port",
    };
    (void)state;

    lc_config_defaults(&cfg);
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) {
        assert_int_equal(lc_config_set(&cfg, ignored[i], "x", err, sizeof err),
                         0);
    }
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        assert_int_equal(
            lc_config_set(&cfg, refused[i], "hunter2-value", err, sizeof err),
            LC_ECONFIG);
        assert_contains(err, refused[i]);
        assert_contains(err, "unknown key");
        /* The value of an unknown key might be a mistyped secret. */
        assert_not_contains(err, "hunter2-value");
    }
}

static void test_secret_not_shown(void **state)
{
    struct lc_config cfg;
    char err[1024];
    char long_secret[600];
    char path[256];
    (void)state;

    memset(long_secret, 'S', sizeof long_secret - 1);
    long_secret[sizeof long_secret - 1] = '\0';
    lc_config_defaults(&cfg);
    assert_int_equal(lc_config_set(&cfg, "locus.cluster.secret", long_secret,
                                   err, sizeof err),
                     LC_ECONFIG);
    assert_contains(err, "locus.cluster.secret");
    assert_not_contains(err, "SSSS");

    /* Mistakes around a secret on the command line do not echo it. */
    assert_int_equal(LOAD(&cfg, err, "--standalone", "--set",
                          "locus.cluster.secret:TOPSECRETVALUE"),
                     LC_ECONFIG);
    assert_not_contains(err, "TOPSECRETVALUE");
    assert_int_equal(LOAD(&cfg, err, "--standalone", "--set",
                          "locus.cluster.secret", "TOPSECRETVALUE"),
                     LC_ECONFIG);
    assert_not_contains(err, "TOPSECRETVALUE");

    /* Short secret in a file. */
    write_file(path, sizeof path, "a.properties",
               "locus.cluster.secret=TOPSECRET\n"
               "nacos.member.list=127.0.0.1:8848\n");
    assert_int_equal(LOAD(&cfg, err, "--conf", path), LC_ECONFIG);
    assert_contains(err, "locus.cluster.secret");
    assert_not_contains(err, "TOPSECRET");
}

/* ------------------------------------------------------------- files */

static void test_properties_syntax(void **state)
{
    struct lc_config cfg;
    char err[512] = "";
    char path[256];
    (void)state;

    write_file(path, sizeof path, "app.properties",
               "# a comment\n"
               "! another comment\n"
               "   # indented comment\n"
               "\n"
               "   \t\n"
               "server.port=9848\n"
               "nacos.inetutils.ip-address : 127.0.1.9  \n"
               "locus.raft.snapshot_threshold 77\n"
               "\tlocus.raft.snapshot_trailing\t=\t5\t\n"
               "locus.log.level:debug\r\n"
               "nacos.member.list=127.0.1.9:9848,\\\n"
               "                  127.0.1.10:9848, \\\n"
               "   127.0.1.11:9848\n"
               "# comment ending in a backslash does not continue \\\n"
               "locus.raft.fast_failover=false\n"
               "locus.data.dir=a\\tb\\\\c\\=d\\:e\\u00e9\\n\n"
               "nacos.core.auth.enabled=true\n"
               "server.servlet.contextPath=/nacos\n"
               "locus.http.max_header_bytes = 4096\n"
               "locus.http.max_header_bytes = 2048\n" /* last one wins */
               "nacos.core.protocol.raft.data.election_timeout_ms=2\\\n"
               "   000\n"
               "locus.cluster.secret=ends at eof \\");
    lc_config_defaults(&cfg);
    if (lc_config_load_properties(&cfg, path, err, sizeof err) != 0) {
        fail_msg("%s", err);
    }
    assert_string_equal(cfg.conf_path, path);
    assert_int_equal(cfg.port, 9848);
    assert_string_equal(cfg.ip, "127.0.1.9");
    assert_int_equal(cfg.snapshot_threshold, 77);
    assert_int_equal(cfg.snapshot_trailing, 5);
    assert_int_equal(cfg.log_level, LC_LOG_DEBUG);
    assert_int_equal(cfg.n_members, 3);
    assert_string_equal(cfg.members[2].host, "127.0.1.11");
    assert_false(cfg.fast_failover);
    assert_string_equal(cfg.data_dir, "a\tb\\c=d:e\xc3\xa9\n");
    assert_int_equal(cfg.http_max_header_bytes, 2048);
    assert_int_equal(cfg.election_timeout_ms, 2000);
    assert_string_equal(cfg.secret, "ends at eof ");
}

static void test_properties_errors(void **state)
{
    struct lc_config cfg;
    char err[512];
    char path[256];
    char want[512];
    (void)state;

    write_file(path, sizeof path, "bad.properties",
               "# line 1\n"
               "server.port=8848\n"
               "\n"
               "nacos.core.protocol.raft.data.election_timeout_ms=abc\n");
    lc_config_defaults(&cfg);
    assert_int_equal(lc_config_load_properties(&cfg, path, err, sizeof err),
                     LC_ECONFIG);
    snprintf(want, sizeof want,
             "%s:4: nacos.core.protocol.raft.data.election_timeout_ms must be "
             "an integer in 50..60000 (got 'abc')",
             path);
    assert_string_equal(err, want);

    /* The line reported is where a continued line starts. */
    write_file(path, sizeof path, "cont.properties",
               "server.port=8848\n"
               "locus.raft.snapshot_threshold=\\\n"
               "  12x\n");
    assert_int_equal(lc_config_load_properties(&cfg, path, err, sizeof err),
                     LC_ECONFIG);
    snprintf(want, sizeof want, "%s:2: locus.raft.snapshot_threshold", path);
    assert_contains(err, want);

    write_file(path, sizeof path, "unknown.properties",
               "nacos.whatever=1\nlocus.raft.heartbeat=50\n");
    assert_int_equal(lc_config_load_properties(&cfg, path, err, sizeof err),
                     LC_ECONFIG);
    snprintf(want, sizeof want, "%s:2: unknown key locus.raft.heartbeat", path);
    assert_string_equal(err, want);

    write_file(path, sizeof path, "nokey.properties", "=5\n");
    assert_int_equal(lc_config_load_properties(&cfg, path, err, sizeof err),
                     LC_ECONFIG);
    snprintf(want, sizeof want, "%s:1:", path);
    assert_contains(err, want);

    write_file(path, sizeof path, "escape.properties",
               "locus.data.dir=\\u12\n");
    assert_int_equal(lc_config_load_properties(&cfg, path, err, sizeof err),
                     LC_ECONFIG);
    assert_contains(err, "\\uXXXX");

    snprintf(path, sizeof path, "%s/none.properties", tmpdir);
    assert_int_equal(lc_config_load_properties(&cfg, path, err, sizeof err),
                     LC_ENOTFOUND);
}

static void test_cluster_conf(void **state)
{
    struct lc_config cfg;
    char err[512] = "";
    char path[256];
    (void)state;

    write_file(path, sizeof path, "cluster.conf",
               "#2024-01-01T00:00:00\n"
               "# members\n"
               "\n"
               "  127.0.1.1:8848  \n"
               "127.0.1.2 # trailing comment\n"
               "[::1]:9848\n"
               "[fd00::2]\n"
               "node-3.example:9000\r\n"
               "127.0.1.4:8848,127.0.1.5:8849 , 127.0.1.6,\n"
               "   \t\n");
    lc_config_defaults(&cfg);
    if (lc_config_load_members(&cfg, path, err, sizeof err) != 0) {
        fail_msg("%s", err);
    }
    assert_string_equal(cfg.cluster_conf_path, path);
    assert_int_equal(cfg.n_members, 8);
    assert_string_equal(cfg.members[0].host, "127.0.1.1");
    assert_int_equal(cfg.members[0].port, 8848);
    assert_string_equal(cfg.members[1].host, "127.0.1.2");
    assert_int_equal(cfg.members[1].port, 8848);
    assert_string_equal(cfg.members[2].host, "::1");
    assert_int_equal(cfg.members[2].port, 9848);
    assert_string_equal(cfg.members[3].host, "fd00::2");
    assert_int_equal(cfg.members[3].port, 8848);
    assert_string_equal(cfg.members[4].host, "node-3.example");
    assert_int_equal(cfg.members[4].port, 9000);
    assert_string_equal(cfg.members[5].host, "127.0.1.4");
    assert_string_equal(cfg.members[6].host, "127.0.1.5");
    assert_int_equal(cfg.members[6].port, 8849);
    assert_string_equal(cfg.members[7].host, "127.0.1.6");
    assert_int_equal(cfg.members[7].port, 8848);

    /* Loading replaces the members. */
    write_file(path, sizeof path, "one.conf", "127.0.1.9\n");
    assert_int_equal(lc_config_load_members(&cfg, path, err, sizeof err), 0);
    assert_int_equal(cfg.n_members, 1);

    /* So does a member list. */
    assert_int_equal(
        lc_config_parse_members(&cfg, "a:9000,[::2]:9001,b", err, sizeof err),
        0);
    assert_int_equal(cfg.n_members, 3);
    assert_string_equal(cfg.members[0].host, "a");
    assert_string_equal(cfg.members[1].host, "::2");
    assert_int_equal(cfg.members[1].port, 9001);
    assert_int_equal(cfg.members[2].port, 8848);
}

static void test_cluster_conf_errors(void **state)
{
    struct lc_config cfg;
    char err[512];
    char path[256];
    char want[512];
    char many[1024] = "";
    (void)state;

    lc_config_defaults(&cfg);

    /* Same member twice, once with the default port spelled out. */
    write_file(path, sizeof path, "dup.conf",
               "127.0.1.1\n127.0.1.2\n127.0.1.1:8848\n");
    assert_int_equal(lc_config_load_members(&cfg, path, err, sizeof err),
                     LC_ECONFIG);
    snprintf(want, sizeof want, "%s:3: duplicate member '127.0.1.1:8848'",
             path);
    assert_string_equal(err, want);

    for (int i = 0; i <= LC_MAX_MEMBERS; i++) {
        char line[32];
        snprintf(line, sizeof line, "127.0.2.%d:8848\n", i + 1);
        strcat(many, line);
    }
    write_file(path, sizeof path, "many.conf", many);
    assert_int_equal(lc_config_load_members(&cfg, path, err, sizeof err),
                     LC_ECONFIG);
    assert_contains(err, "too many members");
    snprintf(want, sizeof want, "%s:%d:", path, LC_MAX_MEMBERS + 1);
    assert_contains(err, want);

    write_file(path, sizeof path, "v6.conf", "fd00::1:8848\n");
    assert_int_equal(lc_config_load_members(&cfg, path, err, sizeof err),
                     LC_ECONFIG);
    assert_contains(err, "bracketed");

    write_file(path, sizeof path, "port.conf", "127.0.1.1:70000\n");
    assert_int_equal(lc_config_load_members(&cfg, path, err, sizeof err),
                     LC_ECONFIG);
    assert_contains(err, "127.0.1.1:70000");

    write_file(path, sizeof path, "space.conf", "127.0.1.1 8848\n");
    assert_int_equal(lc_config_load_members(&cfg, path, err, sizeof err),
                     LC_ECONFIG);

    assert_int_equal(
        lc_config_parse_members(&cfg, "127.0.1.1,127.0.1.1", err, sizeof err),
        LC_ECONFIG);
    assert_contains(err, "nacos.member.list");
    assert_contains(err, "duplicate");

    snprintf(path, sizeof path, "%s/none.conf", tmpdir);
    assert_int_equal(lc_config_load_members(&cfg, path, err, sizeof err),
                     LC_ENOTFOUND);
}

/* ------------------------------------------------------------- load */

static void test_flags_override_file(void **state)
{
    struct lc_config cfg;
    char err[512] = "";
    char path[256];
    int rc;
    (void)state;

    write_file(path, sizeof path, "app.properties",
               "server.port=9000\n"
               "locus.data.dir=from-file\n"
               "locus.log.level=error\n"
               "nacos.inetutils.ip-address=127.0.1.1\n"
               "locus.raft.snapshot_threshold=10\n");
    rc = LOAD(&cfg, err, "--conf", path, "--port", "9100", "--data-dir=flag",
              "--standalone", "--log-level", "debug", "--ip=127.0.1.2", "--set",
              "server.port=9200");
    if (rc != 0) {
        fail_msg("%s", err);
    }
    assert_string_equal(cfg.conf_path, path);
    assert_int_equal(cfg.port, 9200); /* flags apply in order */
    assert_string_equal(cfg.data_dir, "flag");
    assert_int_equal(cfg.log_level, LC_LOG_DEBUG);
    assert_string_equal(cfg.ip, "127.0.1.2");
    assert_int_equal(cfg.snapshot_threshold, 10); /* from the file */
    assert_true(cfg.standalone);
    assert_false(cfg.join);

    /* --conf is read first wherever it appears. */
    rc = LOAD(&cfg, err, "--standalone", "--port", "9300", "--conf=");
    assert_int_equal(rc, LC_ECONFIG);
    assert_contains(err, "--conf");
    rc = LOAD(&cfg, err, "--standalone", "--port", "9300", "--conf", path);
    assert_int_equal(rc, 0);
    assert_int_equal(cfg.port, 9300);
}

static void test_set_flag(void **state)
{
    struct lc_config cfg;
    char err[512] = "";
    int rc;
    (void)state;

    rc = LOAD(&cfg, err, "--standalone", "--set",
              "locus.raft.snapshot_threshold=99",
              "--set=locus.raft.snapshot_trailing=7", "--set",
              " locus.http.max_body_bytes = 4096 ", "--set",
              "nacos.naming.data.warmup=true", "--set", "nacos.standalone=false",
              "--standalone");
    if (rc != 0) {
        fail_msg("%s", err);
    }
    assert_int_equal(cfg.snapshot_threshold, 99);
    assert_int_equal(cfg.snapshot_trailing, 7);
    assert_int_equal(cfg.http_max_body_bytes, 4096);
    assert_true(cfg.standalone);

    rc = LOAD(&cfg, err, "--standalone", "--set", "locus.raft.bogus=1");
    assert_int_equal(rc, LC_ECONFIG);
    assert_string_equal(err, "--set: unknown key locus.raft.bogus");

    rc = LOAD(&cfg, err, "--standalone", "--set",
              "locus.raft.snapshot_threshold");
    assert_int_equal(rc, LC_ECONFIG);
    assert_contains(err, "key=value");

    rc = LOAD(&cfg, err, "--standalone", "--set", "=5");
    assert_int_equal(rc, LC_ECONFIG);
    assert_contains(err, "--set");

    rc = LOAD(&cfg, err, "--standalone", "--port", "80");
    assert_int_equal(rc, LC_ECONFIG);
    assert_contains(err, "--port");
    assert_contains(err, "server.port");
    assert_contains(err, "'80'");
}

static void test_flag_errors(void **state)
{
    struct lc_config cfg;
    char err[512];
    (void)state;

    assert_int_equal(LOAD(&cfg, err, "--standalone", "--bogus"), LC_ECONFIG);
    assert_contains(err, "--bogus");
    assert_int_equal(LOAD(&cfg, err, "--standalone", "--bogus=1"), LC_ECONFIG);
    assert_contains(err, "--bogus");
    assert_int_equal(LOAD(&cfg, err, "--standalone", "--port"), LC_ECONFIG);
    assert_string_equal(err, "--port needs a value");
    assert_int_equal(LOAD(&cfg, err, "--port", "--standalone"), LC_ECONFIG);
    assert_string_equal(err, "--port needs a value");
    assert_int_equal(LOAD(&cfg, err, "--standalone", "--set"), LC_ECONFIG);
    assert_contains(err, "--set");
    assert_int_equal(LOAD(&cfg, err, "--standalone=true"), LC_ECONFIG);
    assert_contains(err, "--standalone");
    assert_int_equal(LOAD(&cfg, err, "--standalone", "standalone"), LC_ECONFIG);
    assert_contains(err, "'standalone'");
    assert_int_equal(LOAD(&cfg, err, "--standalone", "-p", "1"), LC_ECONFIG);
    assert_int_equal(LOAD(&cfg, err, "--standalone", "--log-level", "loud"),
                     LC_ECONFIG);
    assert_contains(err, "locus.log.level");
    /* Flag errors are found before any file is read. */
    assert_int_equal(LOAD(&cfg, err, "--conf", "/nonexistent/x", "--what"),
                     LC_ECONFIG);
    assert_contains(err, "--what");
}

static void test_missing_files(void **state)
{
    struct lc_config cfg;
    char err[512] = "";
    (void)state;

    /* No conf/ in the working directory: defaults and flags are enough. */
    assert_int_equal(LOAD(&cfg, err, "--standalone"), 0);
    assert_string_equal(cfg.conf_path, "");
    assert_string_equal(err, "");

    assert_int_equal(LOAD(&cfg, err, "--standalone", "--conf",
                          "/nonexistent/application.properties"),
                     LC_ECONFIG);
    assert_contains(err, "/nonexistent/application.properties");
    assert_contains(err, "--conf");

    assert_int_equal(LOAD(&cfg, err, "--set", "locus.cluster.secret=" SECRET,
                          "--cluster-conf", "/nonexistent/cluster.conf"),
                     LC_ECONFIG);
    assert_contains(err, "/nonexistent/cluster.conf");

    /* Cluster mode with no cluster.conf at all: no members. */
    assert_int_equal(LOAD(&cfg, err, "--set", "locus.cluster.secret=" SECRET),
                     LC_ECONFIG);
    assert_contains(err, "at least one member");
    assert_contains(err, "conf/cluster.conf");
}

static void test_default_files(void **state)
{
    struct lc_config cfg;
    char err[512] = "";
    char path[256];
    int rc;
    (void)state;

    assert_int_equal(mkdir("conf", 0700), 0);
    write_file(path, sizeof path, "conf/application.properties",
               "server.port=9848\n"
               "nacos.inetutils.ip-address=127.0.1.2\n"
               "locus.cluster.secret=" SECRET "\n");
    write_file(path, sizeof path, "conf/cluster.conf",
               "127.0.1.1:9848\n127.0.1.2:9848\n127.0.1.3:9848\n");
    rc = LOAD(&cfg, err, "--join");
    if (rc != 0) {
        fail_msg("%s", err);
    }
    assert_string_equal(cfg.conf_path, "conf/application.properties");
    assert_string_equal(cfg.cluster_conf_path, "conf/cluster.conf");
    assert_int_equal(cfg.n_members, 3);
    assert_true(cfg.join);
    assert_false(cfg.standalone);

    /* nacos.member.list replaces cluster.conf. */
    rc = LOAD(&cfg, err, "--set",
              "nacos.member.list=127.0.1.2:9848,127.0.1.7:9848");
    if (rc != 0) {
        fail_msg("%s", err);
    }
    assert_int_equal(cfg.n_members, 2);
    assert_string_equal(cfg.members[1].host, "127.0.1.7");
    assert_string_equal(cfg.cluster_conf_path, "");

    /* An empty one does not. */
    rc = LOAD(&cfg, err, "--set", "nacos.member.list=");
    assert_int_equal(rc, 0);
    assert_int_equal(cfg.n_members, 3);

    /* Standalone reads no cluster.conf, even a broken one. */
    write_file(path, sizeof path, "conf/cluster.conf", "not a member\n");
    assert_int_equal(LOAD(&cfg, err, "--standalone"), 0);
    assert_int_equal(cfg.n_members, 0);
    assert_int_equal(
        load_argv(&cfg, err, sizeof err, (const char *[]){"locusd", NULL}),
        LC_ECONFIG);
    assert_contains(err, "conf/cluster.conf:1");
}

static void test_cluster_validation(void **state)
{
    struct lc_config cfg;
    char err[1024] = "";
    char path[256];
    int rc;
    (void)state;

    write_file(path, sizeof path, "cluster.conf",
               "127.0.1.1:8848\n127.0.1.2:8848\n127.0.1.3:8848\n");

    /* This node (127.0.0.1:8848 by default) is not a member. */
    rc = LOAD(&cfg, err, "--cluster-conf", path, "--set",
              "locus.cluster.secret=" SECRET);
    assert_int_equal(rc, LC_ECONFIG);
    assert_contains(err, "127.0.0.1:8848");
    assert_contains(err, "127.0.1.1:8848, 127.0.1.2:8848, 127.0.1.3:8848");
    assert_not_contains(err, SECRET);

    /* Right host, wrong port. */
    rc = LOAD(&cfg, err, "--cluster-conf", path, "--ip", "127.0.1.2", "--port",
              "9848", "--set", "locus.cluster.secret=" SECRET);
    assert_int_equal(rc, LC_ECONFIG);
    assert_contains(err, "127.0.1.2:9848");

    /* No secret. */
    rc = LOAD(&cfg, err, "--cluster-conf", path, "--ip", "127.0.1.2");
    assert_int_equal(rc, LC_ECONFIG);
    assert_contains(err, "locus.cluster.secret");
    assert_contains(err, "openssl rand -hex 32");

    /* Short secret, not echoed. */
    rc = LOAD(&cfg, err, "--cluster-conf", path, "--ip", "127.0.1.2", "--set",
              "locus.cluster.secret=short-secret-15");
    assert_int_equal(rc, LC_ECONFIG);
    assert_contains(err, "locus.cluster.secret");
    assert_contains(err, "16");
    assert_not_contains(err, "short-secret-15");

    /* Exactly 16 characters is enough. */
    rc = LOAD(&cfg, err, "--cluster-conf", path, "--ip", "127.0.1.2", "--set",
              "locus.cluster.secret=0123456789abcdef");
    if (rc != 0) {
        fail_msg("%s", err);
    }
    assert_string_equal(cfg.cluster_conf_path, path);
    assert_int_equal(cfg.n_members, 3);

    /* IPv6 self. */
    write_file(path, sizeof path, "v6.conf", "[::1]:8848\n[::1]:9848\n");
    rc = LOAD(&cfg, err, "--cluster-conf", path, "--ip", "::1", "--port",
              "9848", "--set", "locus.cluster.secret=" SECRET);
    if (rc != 0) {
        fail_msg("%s", err);
    }

    /* Member ports must leave room for Nacos's offsets. */
    rc = LOAD(&cfg, err, "--set",
              "nacos.member.list=127.0.0.1:8848,127.0.1.1:80", "--set",
              "locus.cluster.secret=" SECRET);
    assert_int_equal(rc, LC_ECONFIG);
    assert_contains(err, "127.0.1.1:80");

    /* lc_config_validate on a hand-built struct. */
    lc_config_defaults(&cfg);
    assert_int_equal(
        lc_config_parse_members(&cfg, "127.0.0.1:8848", err, sizeof err), 0);
    lc_strlcpy(cfg.secret, SECRET, sizeof cfg.secret);
    assert_int_equal(lc_config_validate(&cfg, err, sizeof err), 0);
    cfg.port = 65000;
    cfg.members[0].port = 65000;
    assert_int_equal(lc_config_validate(&cfg, err, sizeof err), LC_ECONFIG);
    assert_contains(err, "server.port");
    cfg.port = 8848;
    cfg.members[0].port = 8848;
    cfg.election_timeout_ms = 10;
    assert_int_equal(lc_config_validate(&cfg, err, sizeof err), LC_ECONFIG);
    assert_contains(err, "election_timeout_ms");
}

static void test_standalone(void **state)
{
    struct lc_config cfg;
    char err[512] = "";
    (void)state;

    assert_int_equal(LOAD(&cfg, err, "--standalone"), 0);
    assert_true(cfg.standalone);
    assert_int_equal(cfg.n_members, 0);

    /* The property works too, and members are ignored. */
    assert_int_equal(LOAD(&cfg, err, "--set", "nacos.standalone=true", "--set",
                          "nacos.member.list=127.0.1.1,127.0.1.2"),
                     0);
    assert_true(cfg.standalone);
    assert_int_equal(cfg.n_members, 0);

    assert_int_equal(LOAD(&cfg, err, "--standalone", "--join"), LC_ECONFIG);
    assert_contains(err, "--join");
}

static void test_derived_heartbeat(void **state)
{
    struct lc_config cfg;
    char err[512] = "";
    char path[256];
    (void)state;

    assert_int_equal(LOAD(&cfg, err, "--standalone"), 0);
    assert_int_equal(cfg.heartbeat_ms, 50);

    /* Nacos's key keeps its meaning: the election timeout; the heartbeat
     * follows it (a sixth). */
    assert_int_equal(
        LOAD(&cfg, err, "--standalone", "--set",
             "nacos.core.protocol.raft.data.election_timeout_ms=3000"),
        0);
    assert_int_equal(cfg.election_timeout_ms, 3000);
    assert_int_equal(cfg.heartbeat_ms, 500);

    /* Never below 10 ms. */
    assert_int_equal(
        LOAD(&cfg, err, "--standalone", "--set",
             "nacos.core.protocol.raft.data.election_timeout_ms=50"),
        0);
    assert_int_equal(cfg.heartbeat_ms, 10);

    /* Explicit values are kept, whatever the order. */
    write_file(path, sizeof path, "hb.properties",
               "locus.raft.heartbeat_ms=200\n");
    assert_int_equal(
        LOAD(&cfg, err, "--standalone", "--conf", path, "--set",
             "nacos.core.protocol.raft.data.election_timeout_ms=3000"),
        0);
    assert_int_equal(cfg.heartbeat_ms, 200);
    assert_int_equal(cfg.election_timeout_ms, 3000);

    /* Up to half the election timeout. */
    assert_int_equal(
        LOAD(&cfg, err, "--standalone", "--set", "locus.raft.heartbeat_ms=150"),
        0);
    assert_int_equal(
        LOAD(&cfg, err, "--standalone", "--set", "locus.raft.heartbeat_ms=151"),
        LC_ECONFIG);
    assert_contains(err, "locus.raft.heartbeat_ms");
    assert_contains(err, "election_timeout_ms");
}

/* Run lc_config_load_properties on @path with stderr (where warnings go)
 * captured into @out. */
static int load_capturing(struct lc_config *cfg, const char *path, char *err,
                          size_t errlen, char *out, size_t outlen)
{
    char cap[300];
    int saved = dup(STDERR_FILENO);
    int fd;
    int rv;
    FILE *f;
    size_t n;

    snprintf(cap, sizeof cap, "%s/stderr.txt", tmpdir);
    fd = open(cap, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    close(fd);
    rv = lc_config_load_properties(cfg, path, err, errlen);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    f = fopen(cap, "r");
    assert_non_null(f);
    n = fread(out, 1, outlen - 1, f);
    out[n] = '\0';
    fclose(f);
    return rv;
}

/* A Nacos configuration's raft keys: the ones locus reads keep their
 * meaning; Nacos's JRaft tuning keys are accepted and reported as ignored;
 * anything else under nacos.core.protocol.raft. is reported as unknown. */
static void test_raft_keys(void **state)
{
    struct lc_config cfg;
    char err[512] = "";
    char out[4096];
    char path[256];
    (void)state;

    assert_null(lc_config_raft_key_note(
        "nacos.core.protocol.raft.data.election_timeout_ms"));
    assert_null(lc_config_raft_key_note(
        "nacos.core.protocol.raft.data.rpc_request_timeout_ms"));
    assert_null(lc_config_raft_key_note("nacos.naming.data.warmup"));
    static const char *ignored[] = {
        "core_thread_num",        "cli_service_thread_num",
        "read_index_type",        "max_byte_count_per_rpc",
        "max_entries_size",       "max_body_size",
        "max_append_buffer_size", "max_election_delay_ms",
        "election_heartbeat_factor", "apply_batch",
        "sync",                   "sync_meta",
        "disruptor_buffer_size",  "replicator_pipeline",
        "max_replicator_inflight_msgs", "enable_log_entry_checksum",
        "request_failoverRetries",
    };
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) {
        char key[128];
        snprintf(key, sizeof key, "nacos.core.protocol.raft.data.%s",
                 ignored[i]);
        assert_non_null(lc_config_raft_key_note(key));
        assert_string_equal(lc_config_raft_key_note(key), "ignored");
    }
    assert_string_equal(
        lc_config_raft_key_note("nacos.core.protocol.raft.data.electionTimeout"),
        "unknown");
    assert_string_equal(lc_config_raft_key_note("nacos.core.protocol.raft.x"),
                        "unknown");

    lc_config_defaults(&cfg);
    write_file(path, sizeof path, "raft.properties",
               "nacos.core.protocol.raft.data.election_timeout_ms=900\n"
               "nacos.core.protocol.raft.data.core_thread_num=8\n"
               "nacos.core.protocol.raft.data.read_index_type=ReadOnlySafe\n"
               "nacos.core.protocol.raft.data.election_timeout=5000\n");
    assert_int_equal(
        load_capturing(&cfg, path, err, sizeof err, out, sizeof out), 0);
    assert_int_equal(cfg.election_timeout_ms, 900);
    assert_contains(out, "nacos.core.protocol.raft.data.core_thread_num is a "
                         "JRaft setting locus does not use; ignored");
    assert_contains(out, "nacos.core.protocol.raft.data.read_index_type is a "
                         "JRaft setting locus does not use; ignored");
    assert_contains(out, "unknown raft key "
                         "nacos.core.protocol.raft.data.election_timeout;");
    assert_null(strstr(out, "election_timeout_ms is"));
    assert_null(strstr(out, "raft key nacos.core.protocol.raft.data."
                            "election_timeout_ms"));
}

/* The push keys: defaults, Nacos's names, ranges. */
static void test_push_keys(void **state)
{
    static const char *bad[][2] = {
        {"nacos.naming.push.pushTaskDelay", "60001"},
        {"nacos.naming.push.pushTaskDelay", "-1"},
        {"nacos.naming.push.pushTaskDelay", "20ms"},
        {"locus.naming.push.ack_timeout_ms", "9"},
        {"nacos.naming.client.expired.time", "999"},
    };
    struct lc_config cfg;
    char err[512];
    (void)state;
    lc_config_defaults(&cfg);
    assert_int_equal(cfg.push_task_delay_ms, 20);
    assert_int_equal(cfg.push_ack_timeout_ms, 10000);
    assert_int_equal(cfg.client_expired_ms, 180000);
    set_ok(&cfg, "nacos.naming.push.pushTaskDelay", "500");
    set_ok(&cfg, "locus.naming.push.ack_timeout_ms", "400");
    set_ok(&cfg, "nacos.naming.client.expired.time", "60000");
    assert_int_equal(cfg.push_task_delay_ms, 500);
    assert_int_equal(cfg.push_ack_timeout_ms, 400);
    assert_int_equal(cfg.client_expired_ms, 60000);
    set_ok(&cfg, "nacos.naming.push.pushTaskDelay", "0");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lc_config_defaults(&cfg);
        assert_int_equal(lc_config_set(&cfg, bad[i][0], bad[i][1], err,
                                       sizeof err),
                         LC_ECONFIG);
        assert_contains(err, bad[i][0]);
    }
}

/* The auth properties: read into cfg.auth, refused with auth on when
 * unsafe (the message names the key), secret and identity never echoed. */
static void test_auth_keys(void **state)
{
    struct lc_config cfg;
    char err[1024] = "";
    static const char secret[] =
        "bG9jdXMtYXV0aC1nYXRlLXRlc3Qta2V5LTMyYnl0ZXM="; /* 32 bytes */
    char s_key[128];
    (void)state;

    snprintf(s_key, sizeof s_key,
             "nacos.core.auth.plugin.nacos.token.secret.key=%s", secret);
    /* Off by default; nothing is required then. */
    assert_int_equal(LOAD(&cfg, err, "--standalone"), 0);
    assert_false(cfg.auth.enabled);
    assert_int_equal(cfg.auth.token_ttl_s, 18000);
    assert_int_equal(cfg.auth.max_fails_per_user, 10);
    assert_int_equal(cfg.auth.max_fails_per_ip, 30);
    assert_int_equal(cfg.auth.fail_window_s, 300);
    assert_string_equal(cfg.auth_system_type, "nacos");
    assert_int_equal(LOAD(&cfg, err, "--standalone", "--set",
                          "nacos.core.auth.enable.userAgentAuthWhite=true"),
                     0);

    assert_int_equal(
        LOAD(&cfg, err, "--standalone", "--set", "nacos.core.auth.enabled=true",
             "--set", s_key, "--set",
             "nacos.core.auth.plugin.nacos.token.expire.seconds=60", "--set",
             "nacos.core.auth.server.identity.key=X-Peer", "--set",
             "nacos.core.auth.server.identity.value=peer-value-1", "--set",
             "locus.auth.login.max_fails_per_user=3", "--set",
             "locus.auth.login.max_fails_per_ip=4", "--set",
             "locus.auth.login.fail_window_s=5", "--set",
             "nacos.core.auth.caching.enabled=true", "--set",
             "nacos.core.auth.plugin.nacos.token.cache.enable=false"),
        0);
    assert_true(cfg.auth.enabled);
    assert_string_equal(cfg.auth.secret_b64, secret);
    assert_int_equal(cfg.auth.token_ttl_s, 60);
    assert_string_equal(cfg.auth.identity_key, "X-Peer");
    assert_string_equal(cfg.auth.identity_value, "peer-value-1");
    assert_int_equal(cfg.auth.max_fails_per_user, 3);
    assert_int_equal(cfg.auth.max_fails_per_ip, 4);
    assert_int_equal(cfg.auth.fail_window_s, 5);

    /* Refusals with auth on. */
    assert_int_equal(LOAD(&cfg, err, "--standalone", "--set",
                          "nacos.core.auth.enabled=true"),
                     LC_ECONFIG);
    assert_contains(err, "nacos.core.auth.plugin.nacos.token.secret.key");
    assert_int_equal(
        LOAD(&cfg, err, "--standalone", "--set", "nacos.core.auth.enabled=true",
             "--set",
             "nacos.core.auth.plugin.nacos.token.secret.key=c2hvcnQtc2VjcmV0"),
        LC_ECONFIG);
    assert_contains(err, "nacos.core.auth.plugin.nacos.token.secret.key");
    assert_not_contains(err, "c2hvcnQtc2VjcmV0");
    assert_int_equal(LOAD(&cfg, err, "--standalone", "--set",
                          "nacos.core.auth.enabled=true", "--set", s_key,
                          "--set", "nacos.core.auth.system.type=ldap"),
                     LC_ECONFIG);
    assert_contains(err, "nacos.core.auth.system.type");
    assert_int_equal(LOAD(&cfg, err, "--standalone", "--set",
                          "nacos.core.auth.enabled=true", "--set", s_key,
                          "--set",
                          "nacos.core.auth.enable.userAgentAuthWhite=true"),
                     LC_ECONFIG);
    assert_contains(err, "nacos.core.auth.enable.userAgentAuthWhite");
    assert_not_contains(err, secret);
    /* A cluster needs the identity. */
    assert_int_equal(LOAD(&cfg, err, "--set", "nacos.core.auth.enabled=true",
                          "--set", s_key, "--set",
                          "nacos.member.list=127.0.0.1:8848,127.0.0.1:8849",
                          "--set", "locus.cluster.secret=0123456789abcdef"),
                     LC_ECONFIG);
    assert_contains(err, "nacos.core.auth.server.identity");
    assert_int_equal(LOAD(&cfg, err, "--set", "nacos.core.auth.enabled=true",
                          "--set", s_key, "--set",
                          "nacos.member.list=127.0.0.1:8848,127.0.0.1:8849",
                          "--set", "locus.cluster.secret=0123456789abcdef",
                          "--set", "nacos.core.auth.server.identity.key=X-Peer",
                          "--set",
                          "nacos.core.auth.server.identity.value=peer-value-1"),
                     0);

    /* Nacos's old published identity. */
    assert_int_equal(LOAD(&cfg, err, "--set", "nacos.core.auth.enabled=true",
                          "--set", s_key, "--set",
                          "nacos.member.list=127.0.0.1:8848,127.0.0.1:8849",
                          "--set", "locus.cluster.secret=0123456789abcdef",
                          "--set",
                          "nacos.core.auth.server.identity.key=serverIdentity",
                          "--set",
                          "nacos.core.auth.server.identity.value=security"),
                     LC_ECONFIG);
    assert_contains(err, "nacos.core.auth.server.identity");

    /* Not echoed: the identity value and the secret. */
    assert_int_equal(
        LOAD(&cfg, err, "--standalone", "--set",
             "nacos.core.auth.server.identity.value:PEERVALUEXYZ"),
        LC_ECONFIG);
    assert_not_contains(err, "PEERVALUEXYZ");
    assert_int_equal(LOAD(&cfg, err, "--standalone", "--set",
                          "nacos.core.auth.caching.enabled=maybe"),
                     LC_ECONFIG);
    assert_contains(err, "nacos.core.auth.caching.enabled");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_defaults),
        T(test_every_key),
        T(test_range_violations),
        T(test_messages),
        T(test_unknown_keys),
        T(test_secret_not_shown),
        T(test_properties_syntax),
        T(test_properties_errors),
        T(test_cluster_conf),
        T(test_cluster_conf_errors),
        T(test_flags_override_file),
        T(test_set_flag),
        T(test_flag_errors),
        T(test_missing_files),
        T(test_default_files),
        T(test_cluster_validation),
        T(test_standalone),
        T(test_derived_heartbeat),
        T(test_raft_keys),
        T(test_push_keys),
        T(test_auth_keys),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
