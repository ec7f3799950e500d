/* Tests of auth/config.c (defaults, start refusals), auth/limiter.c (the
 * brute-force windows and their memory bound) and the small pure parts of
 * auth/auth.c (naming resources, peer identity). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/internal.h"
#include "auth/limiter.h"
#include "common/err.h"
#include "common/log.h"

#define KEY_SECRET "nacos.core.auth.plugin.nacos.token.secret.key"

/* base64 of the 32 bytes "locus-auth-unit-test-key-32bytes" */
#define SECRET32 "bG9jdXMtYXV0aC11bml0LXRlc3Qta2V5LTMyYnl0ZXM="

static void on_cfg(struct lc_auth_config *cfg, const char *secret)
{
    lc_auth_config_default(cfg);
    cfg->enabled = true;
    snprintf(cfg->secret_b64, sizeof cfg->secret_b64, "%s", secret);
}

static void refused(const struct lc_auth_config *cfg, bool cluster,
                    const char *want_in_msg)
{
    char msg[512] = "";
    assert_int_equal(lc_auth_config_validate(cfg, cluster, msg, sizeof msg),
                     LC_ECONFIG);
    if (strstr(msg, want_in_msg) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", msg, want_in_msg);
}

static void accepted(const struct lc_auth_config *cfg, bool cluster)
{
    char msg[512] = "";
    int rv = lc_auth_config_validate(cfg, cluster, msg, sizeof msg);
    if (rv != 0)
        fail_msg("refused: %s", msg);
}

static void test_defaults(void **state)
{
    (void)state;
    struct lc_auth_config cfg;
    memset(&cfg, 0x5a, sizeof cfg);
    lc_auth_config_default(&cfg);
    assert_false(cfg.enabled);
    assert_string_equal(cfg.secret_b64, "");
    assert_int_equal(cfg.token_ttl_s, 18000);
    assert_string_equal(cfg.identity_key, "");
    assert_string_equal(cfg.identity_value, "");
    assert_int_equal(cfg.max_fails_per_user, 10);
    assert_int_equal(cfg.max_fails_per_ip, 30);
    assert_int_equal(cfg.fail_window_s, 300);
    /* Auth off: nothing to refuse, whatever the secret. */
    accepted(&cfg, false);
    accepted(&cfg, true);
    snprintf(cfg.secret_b64, sizeof cfg.secret_b64, "not base64!");
    accepted(&cfg, true);
}

static void test_secret_refusals(void **state)
{
    (void)state;
    struct lc_auth_config cfg;
    on_cfg(&cfg, "");
    refused(&cfg, false, KEY_SECRET " is required");
    on_cfg(&cfg, "not base64!");
    refused(&cfg, false, KEY_SECRET " is not base64");
    on_cfg(&cfg, "bG9jdXMtYXV0aC11bml0LXRlc3Qta2V5LTMyYnl0ZXM"); /* no pad */
    accepted(&cfg, false);
    on_cfg(&cfg, SECRET32 "=");
    refused(&cfg, false, "not base64");
    /* 31 bytes */
    on_cfg(&cfg, "bG9jdXMtYXV0aC11bml0LXRlc3Qta2V5LTMyYnl0ZQ==");
    refused(&cfg, false, KEY_SECRET " decodes to 31 bytes");
    on_cfg(&cfg, SECRET32);
    accepted(&cfg, false);
    /* The published ones: Nacos's default until 2.2.0 (not even base64),
     * the documentation's example, with and without its padding. */
    on_cfg(&cfg, "SecretKey012345678901234567890123456789012345678901234567"
                 "890123456789");
    refused(&cfg, false, "published by Nacos");
    on_cfg(&cfg, "VGhpc0lzTXlDdXN0b21TZWNyZXRLZXkwMTIzNDU2Nzg=");
    refused(&cfg, false, "published by Nacos");
    on_cfg(&cfg, "VGhpc0lzTXlDdXN0b21TZWNyZXRLZXkwMTIzNDU2Nzg");
    refused(&cfg, false, "published by Nacos");
    /* The message never shows the secret. */
    char msg[512];
    on_cfg(&cfg, "VGhpc0lzTXlDdXN0b21TZWNyZXRLZXkwMTIzNDU2Nzg=");
    lc_auth_config_validate(&cfg, false, msg, sizeof msg);
    assert_null(strstr(msg, "VGhp"));
    /* Other numbers. */
    on_cfg(&cfg, SECRET32);
    cfg.token_ttl_s = 0;
    refused(&cfg, false,
            "nacos.core.auth.plugin.nacos.token.expire.seconds must be");
    on_cfg(&cfg, SECRET32);
    cfg.fail_window_s = 0;
    refused(&cfg, false, "locus.auth.login.fail_window_s must be");
    cfg.max_fails_per_user = 0;
    cfg.max_fails_per_ip = 0;
    accepted(&cfg, false);
}

static void test_identity_refusals(void **state)
{
    (void)state;
    struct lc_auth_config cfg;
    on_cfg(&cfg, SECRET32);
    /* Standalone: no identity needed. */
    accepted(&cfg, false);
    refused(&cfg, true, "nacos.core.auth.server.identity.key and "
                        "nacos.core.auth.server.identity.value are required");
    snprintf(cfg.identity_key, sizeof cfg.identity_key, "X-Peer");
    refused(&cfg, true, "are required");
    snprintf(cfg.identity_value, sizeof cfg.identity_value, "security");
    refused(&cfg, true, "nacos.core.auth.server.identity.value is "
                        "\"security\", Nacos's published default");
    snprintf(cfg.identity_value, sizeof cfg.identity_value, "s3cr3t-value");
    accepted(&cfg, true);
    /* The key alone is only a header name. */
    snprintf(cfg.identity_key, sizeof cfg.identity_key, "serverIdentity");
    accepted(&cfg, true);
    cfg.identity_key[0] = '\0';
    refused(&cfg, true, "are required");
}

/* ------------------------------------------------------------- limiter */

static void test_limiter_window(void **state)
{
    (void)state;
    struct lc_limiter *l = lc_limiter_new(3, 1000, 100);
    assert_non_null(l);
    uint64_t t = 5000;
    assert_int_equal(lc_limiter_blocked(l, "alice", t), 0);
    lc_limiter_fail(l, "alice", t);
    lc_limiter_fail(l, "alice", t + 100);
    assert_int_equal(lc_limiter_blocked(l, "alice", t + 200), 0);
    lc_limiter_fail(l, "alice", t + 200);
    /* Third failure: refused until the window (from the first) ends. */
    assert_int_equal(lc_limiter_blocked(l, "alice", t + 200), 800);
    assert_int_equal(lc_limiter_blocked(l, "alice", t + 999), 1);
    assert_int_equal(lc_limiter_blocked(l, "bob", t + 500), 0);
    assert_int_equal(lc_limiter_blocked(l, "alic", t + 500), 0);
    assert_int_equal(lc_limiter_blocked(l, "alice", t + 1000), 0);
    /* A new window. */
    lc_limiter_fail(l, "alice", t + 1000);
    assert_int_equal(lc_limiter_blocked(l, "alice", t + 1001), 0);
    lc_limiter_fail(l, "alice", t + 1001);
    lc_limiter_fail(l, "alice", t + 1002);
    assert_int_equal(lc_limiter_blocked(l, "alice", t + 1002), 998);
    /* A success forgets. */
    lc_limiter_reset(l, "alice");
    assert_int_equal(lc_limiter_blocked(l, "alice", t + 1003), 0);
    /* NULL and "" are never counted nor refused. */
    for (int i = 0; i < 10; i++) {
        lc_limiter_fail(l, NULL, t);
        lc_limiter_fail(l, "", t);
    }
    assert_int_equal(lc_limiter_blocked(l, NULL, t), 0);
    assert_int_equal(lc_limiter_blocked(l, "", t), 0);
    lc_limiter_free(l);

    /* max 0: never refuses, holds nothing. */
    l = lc_limiter_new(0, 1000, 100);
    for (int i = 0; i < 50; i++)
        lc_limiter_fail(l, "x", t);
    assert_int_equal(lc_limiter_blocked(l, "x", t), 0);
    assert_int_equal(lc_limiter_size(l), 0);
    lc_limiter_free(l);
}

static void test_limiter_bounded(void **state)
{
    (void)state;
    struct lc_limiter *l = lc_limiter_new(2, 60000, 1000);
    uint64_t t = 1;
    /* The target is blocked first. */
    lc_limiter_fail(l, "victim", t);
    lc_limiter_fail(l, "victim", t);
    assert_true(lc_limiter_blocked(l, "victim", t) > 0);
    /* A flood of distinct names within the window never holds more than
     * the capacity. */
    char name[32];
    for (int i = 0; i < 200000; i++) {
        snprintf(name, sizeof name, "u%d", i);
        lc_limiter_fail(l, name, t + (uint64_t)i / 1000);
        assert_true(lc_limiter_size(l) <= 1000);
    }
    assert_int_equal(lc_limiter_size(l), 1000);
    /* The newest are kept, the oldest went; but the victim, at its
     * limit, was never evicted: the flood did not clear it. */
    assert_true(lc_limiter_blocked(l, "victim", t + 200) > 0);
    assert_int_equal(lc_limiter_fails(l, "victim", t + 200), 2);
    lc_limiter_fail(l, "u199999", t + 200);
    assert_true(lc_limiter_blocked(l, "u199999", t + 200) > 0);
    assert_int_equal(lc_limiter_blocked(l, "u0", t + 200), 0);
    /* Windows that ended are dropped before anything else. */
    lc_limiter_fail(l, "late", t + 60000 + 200);
    assert_true(lc_limiter_size(l) < 1000);
    lc_limiter_free(l);

    /* Full of keys at their limit: a new key is refused (fail closed),
     * not counted, until the oldest window ends. */
    l = lc_limiter_new(2, 1000, 4);
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "k%d", i);
        lc_limiter_fail(l, name, 10 + (uint64_t)i);
        assert_int_equal(lc_limiter_blocked(l, "new", 10 + (uint64_t)i), 0);
        lc_limiter_fail(l, name, 10 + (uint64_t)i);
    }
    assert_int_equal(lc_limiter_blocked(l, "new", 20), 990);
    assert_int_equal(lc_limiter_fail(l, "new", 20), 0);
    assert_int_equal(lc_limiter_size(l), 4);
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "k%d", i);
        assert_true(lc_limiter_blocked(l, name, 20) > 0);
    }
    /* One taken back (a good attempt): under its limit again, it is the
     * one evicted for a new key. */
    lc_limiter_undo(l, "k2");
    assert_int_equal(lc_limiter_blocked(l, "new", 20), 0);
    assert_int_equal(lc_limiter_fail(l, "new", 20), 1);
    assert_int_equal(lc_limiter_fails(l, "k2", 20), 0);
    assert_true(lc_limiter_blocked(l, "k1", 20) > 0);
    /* The oldest window ends: room again. */
    assert_int_equal(lc_limiter_fail(l, "later", 1010), 1);
    assert_int_equal(lc_limiter_fails(l, "k0", 1010), 0);
    lc_limiter_free(l);
}

/* ------------------------------------------------------ naming resource */

static void resource_is(const char *ns, const char *group, const char *svc,
                        const char *want)
{
    char out[256];
    memset(out, 'x', sizeof out);
    lc_auth_naming_resource(ns, group, svc, out, sizeof out);
    assert_string_equal(out, want);
}

static void test_naming_resource(void **state)
{
    (void)state;
    resource_is(NULL, "DEFAULT_GROUP", "orders", ":DEFAULT_GROUP:naming/orders");
    resource_is("", "DEFAULT_GROUP", "orders", ":DEFAULT_GROUP:naming/orders");
    resource_is("public", "G", "s", ":G:naming/s");
    resource_is("  ", "G", "s", ":G:naming/s");
    resource_is("Public", "G", "s", "Public:G:naming/s");
    resource_is("dev", NULL, NULL, "dev:*:naming/*");
    resource_is("dev", "", " ", "dev:*:naming/*");
    resource_is("dev", "g", "a@@b", "dev:g:naming/a@@b");
    /* Truncated to the buffer. */
    char out[8];
    lc_auth_naming_resource("namespace", "g", "s", out, sizeof out);
    assert_string_equal(out, "namespa");
    lc_auth_naming_resource("ns", "g", "s", out, 1);
    assert_string_equal(out, "");
}

/* -------------------------------------------------------- peer identity */

static void test_peer_identity(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct lc_auth_config cfg;
    lc_auth_config_default(&cfg);
    struct lc_auth *a;
    assert_int_equal(lc_auth_new_detached(&loop, &cfg, &a), 0);
    assert_false(lc_auth_enabled(a));
    /* None configured: nothing matches, not even "". */
    assert_false(lc_auth_peer_identity(a, ""));
    assert_false(lc_auth_peer_identity(a, NULL));
    assert_string_equal(lc_auth_identity_key(a), "");
    assert_string_equal(lc_auth_identity_value(a), "");
    lc_auth_free(a);

    on_cfg(&cfg, SECRET32);
    snprintf(cfg.identity_key, sizeof cfg.identity_key, "X-Peer");
    snprintf(cfg.identity_value, sizeof cfg.identity_value, "v4lue");
    assert_int_equal(lc_auth_new_detached(&loop, &cfg, &a), 0);
    assert_true(lc_auth_enabled(a));
    assert_string_equal(lc_auth_identity_key(a), "X-Peer");
    assert_string_equal(lc_auth_identity_value(a), "v4lue");
    assert_true(lc_auth_peer_identity(a, "v4lue"));
    assert_false(lc_auth_peer_identity(a, "v4lu"));
    assert_false(lc_auth_peer_identity(a, "v4lue "));
    assert_false(lc_auth_peer_identity(a, "V4lue"));
    assert_false(lc_auth_peer_identity(a, ""));
    assert_false(lc_auth_peer_identity(a, NULL));
    lc_auth_free(a);

    /* Auth on with a secret the validation refuses: not started either. */
    on_cfg(&cfg, "c2hvcnQ=");
    assert_int_equal(lc_auth_new_detached(&loop, &cfg, &a), LC_ECONFIG);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    lc_log_set_level(LC_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_secret_refusals),
        cmocka_unit_test(test_identity_refusals),
        cmocka_unit_test(test_limiter_window),
        cmocka_unit_test(test_limiter_bounded),
        cmocka_unit_test(test_naming_resource),
        cmocka_unit_test(test_peer_identity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
