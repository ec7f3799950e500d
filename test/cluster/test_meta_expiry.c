/* Expired instance metadata on a real 3-node cluster (Nacos's
 * ExpiredMetadataCleaner, instance part): the overlay of an instance that
 * went away is deleted through naming_instance_metadata by its leader once
 * expired-time has passed, on every member, and not before; an instance
 * registered again before that keeps its overlay, and so does a live
 * ephemeral instance on a node that does not lead the group (only the node
 * that had an ephemeral instance judges its overlay); overlays orphaned across
 * a snapshot and a restart of the whole cluster are still removed.
 *
 * Whether an overlay is still stored is read from the group's appliedIndex
 * (nothing else writes to naming_instance_metadata here, so the removal is
 * the one entry after the PATCH) and, once the instance is back, from the
 * metadata GET /instance shows on each member. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test/support/tcluster.h"

#define NS "/nacos/v1/ns"
#define N 3
#define EXPIRED_MS 3000

#define OWN "{\"own\":\"1\"}"
#define PATCHED "{\"k\":\"v\",\"own\":\"1\"}"

#define PROPS                                                                  \
    "nacos.naming.clean.expired-metadata.interval=200\n"                       \
    "nacos.naming.clean.expired-metadata.expired-time=3000\n"

/* The metadata node @i shows for ip:port of @service (sorted compact
 * JSON), or "status N". */
static const char *meta_on(struct tc *t, unsigned i, const char *service,
                           const char *ip, int port, bool ephemeral, char *out,
                           size_t size)
{
    char path[256];
    char *body = NULL;
    char *meta;
    json_t *h;
    int st;
    snprintf(path, sizeof path,
             NS "/instance?serviceName=%s&ip=%s&port=%d&ephemeral=%s", service,
             ip, port, ephemeral ? "true" : "false");
    st = tc_http(t, i, "GET", path, NULL, NULL, &body);
    if (st != 200) {
        snprintf(out, size, "status %d", st);
        free(body);
        return out;
    }
    h = json_loads(body, 0, NULL);
    meta = json_dumps(json_object_get(h, "metadata"),
                      JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(out, size, "%s", meta != NULL ? meta : "(none)");
    free(meta);
    json_decref(h);
    free(body);
    return out;
}

/* Ephemeral instances live on the node they registered with (no Distro
 * replication yet, and no forwarding: no_forwarding): @home, chosen not to lead
 * naming_instance_metadata, so that the leader never sees them. Persistent ones
 * are on every node. */
static unsigned home;

static unsigned node_for(bool ephemeral, unsigned persistent_node)
{
    return ephemeral ? home : persistent_node;
}

/* The `distro` switch off: every member is responsible for every client,
 * so DistroFilter forwards nothing and the v1 requests sent to @home are
 * served there. */
static void no_forwarding(struct tc *t)
{
    uint64_t deadline = tc_now_ms() + TC_WAIT_MS;

    tc_expect_body(t, 0, "PUT",
                   NS "/operator/switches?entry=distro&value=false", 200, "ok");
    for (unsigned i = 0; i < N; i++) {
        char *body = NULL;
        while (tc_http(t, i, "GET", NS "/operator/switches", NULL, NULL,
                       &body) != 200 ||
               body == NULL ||
               strstr(body, "\"distroEnabled\":false") == NULL) {
            free(body);
            body = NULL;
            if (tc_now_ms() > deadline) {
                fail_msg("node %u never applied distro=false", i);
            }
            tc_sleep_ms(50);
        }
        free(body);
    }
}

static void choose_home(struct tc *t)
{
    no_forwarding(t);
    home = ((unsigned)tc_leader(t, TC_IM, 0, TC_WAIT_MS) + 1) % N;
}

/* Wait until every node that has ip:port shows @want as its metadata. */
static void wait_meta_all(struct tc *t, const char *service, const char *ip,
                          int port, bool ephemeral, const char *want)
{
    char buf[512];
    uint64_t deadline = tc_now_ms() + TC_WAIT_MS;
    for (unsigned i = 0; i < N; i++) {
        if (ephemeral && i != home) {
            continue;
        }
        while (
            strcmp(meta_on(t, i, service, ip, port, ephemeral, buf, sizeof buf),
                   want) != 0) {
            if (tc_now_ms() > deadline) {
                fail_msg("node %u shows %s:%d of %s with metadata %s, want %s",
                         i, ip, port, service, buf, want);
            }
            tc_sleep_ms(50);
        }
    }
}

/* Register ip:port (with metadata own=1) and wait until every node shows
 * it with the metadata @want. */
static void register_inst(struct tc *t, const char *service, const char *ip,
                          int port, bool ephemeral, const char *want)
{
    char path[256];
    snprintf(path, sizeof path,
             NS "/instance?serviceName=%s&ip=%s&port=%d&ephemeral=%s"
                "&metadata=own%%3D1",
             service, ip, port, ephemeral ? "true" : "false");
    tc_expect_body(t, node_for(ephemeral, 0), "POST", path, 200, "ok");
    wait_meta_all(t, service, ip, port, ephemeral, want);
}

static void deregister_inst(struct tc *t, unsigned node, const char *service,
                            const char *ip, int port, bool ephemeral)
{
    char path[256];
    snprintf(path, sizeof path,
             NS "/instance?serviceName=%s&ip=%s&port=%d&ephemeral=%s", service,
             ip, port, ephemeral ? "true" : "false");
    tc_expect_body(t, node_for(ephemeral, node), "DELETE", path, 200, "ok");
}

static void patch_meta(struct tc *t, const char *service, const char *ip,
                       int port, bool ephemeral, const char *meta)
{
    char path[256];
    snprintf(path, sizeof path,
             NS "/instance?serviceName=%s&ip=%s&port=%d&ephemeral=%s"
                "&metadata=%s",
             service, ip, port, ephemeral ? "true" : "false", meta);
    tc_expect_body(t, node_for(ephemeral, 1), "PATCH", path, 200, "ok");
}

/* appliedIndex of naming_instance_metadata on every node, once they agree
 * (all applied the same entries). */
static void im_applied(struct tc *t, long long *out)
{
    uint64_t deadline = tc_now_ms() + TC_WAIT_MS;
    for (;;) {
        bool same = true;
        for (unsigned i = 0; i < N; i++) {
            out[i] = tc_group_int(t, i, TC_IM, "appliedIndex");
            same = same && out[i] > 0 && out[i] == out[0];
        }
        if (same) {
            return;
        }
        if (tc_now_ms() > deadline) {
            fail_msg("appliedIndex of %s never agreed: %lld %lld %lld", TC_IM,
                     out[0], out[1], out[2]);
        }
        tc_sleep_ms(50);
    }
}

/* Whether any node has applied more of naming_instance_metadata than
 * @base. */
static bool im_moved(struct tc *t, const long long *base)
{
    for (unsigned i = 0; i < N; i++) {
        if (tc_group_int(t, i, TC_IM, "appliedIndex") != base[i]) {
            return true;
        }
    }
    return false;
}

static bool any_log(struct tc *t, const char *needle)
{
    for (unsigned i = 0; i < N; i++) {
        if (tc_log_contains(t, i, needle)) {
            return true;
        }
    }
    return false;
}

/* 1. A deregistered instance's overlay stays for expired-time, then one
 * DELETE through the group removes it on every member: the same instance
 * registered again afterwards has only its own metadata. Persistent and
 * ephemeral alike. */
static void expire_one(struct tc *t, const char *service, const char *ip,
                       bool ephemeral)
{
    long long base[N];
    long long after[N];
    char needle[128];
    uint64_t gone_at;
    uint64_t t0;

    register_inst(t, service, ip, 1, ephemeral, OWN);
    patch_meta(t, service, ip, 1, ephemeral, "k%3Dv");
    wait_meta_all(t, service, ip, 1, ephemeral, PATCHED);
    im_applied(t, base);

    deregister_inst(t, 2, service, ip, 1, ephemeral);
    t0 = tc_now_ms();
    /* Well inside expired-time: nothing removed anywhere. */
    while (tc_now_ms() < t0 + EXPIRED_MS - 800) {
        if (im_moved(t, base)) {
            fail_msg("%s: overlay removed %llu ms after the deregistration "
                     "(expired-time %d)",
                     ip, (unsigned long long)(tc_now_ms() - t0), EXPIRED_MS);
        }
        tc_sleep_ms(100);
    }
    /* Then it goes, on every member. */
    while (!im_moved(t, base)) {
        if (tc_now_ms() > t0 + EXPIRED_MS + TC_WAIT_MS) {
            fail_msg("%s: overlay never removed", ip);
        }
        tc_sleep_ms(50);
    }
    gone_at = tc_now_ms();
    assert_true(gone_at - t0 >= EXPIRED_MS - 500);
    /* One DELETE, or one from each member that held the instance: an
     * ephemeral instance synced by Distro is seen to go by every member
     * holding a copy, and each may submit its DELETE before the first is
     * applied (idempotent; Nacos's cleaners race the same way). */
    im_applied(t, after);
    for (unsigned i = 0; i < N; i++) {
        assert_true(after[i] >= base[i] + 1 && after[i] <= base[i] + N);
    }
    snprintf(needle, sizeof needle,
             "Remove expired metadata of instance %s:1:DEFAULT", ip);
    assert_true(any_log(t, needle));

    /* The same instance again: no stale overlay. */
    register_inst(t, service, ip, 1, ephemeral, OWN);
}

static void test_expire(void **state)
{
    struct tc *t = *state;
    tc_up(t, "meta-expire", N, PROPS);
    choose_home(t);
    expire_one(t, "pe", "127.8.0.1", false);
    expire_one(t, "ee", "127.8.0.2", true);
    tc_pass(t);
}

/* 2. Registered again before expired-time: the overlay is kept (Nacos
 * unmarks it on registration), also long after expired-time has passed.
 * The ephemeral one lives on a node that does not lead the group: the
 * leader, which never saw it, leaves its overlay alone. */
static void test_reregister_keeps(void **state)
{
    struct tc *t = *state;
    long long base[N];
    long long after[N];
    bool eph[2] = {false, true};
    const char *svc[2] = {"pk", "ek"};
    tc_up(t, "meta-keep", N, PROPS);
    choose_home(t);
    for (int k = 0; k < 2; k++) {
        register_inst(t, svc[k], "127.8.1.1", 1, eph[k], OWN);
        patch_meta(t, svc[k], "127.8.1.1", 1, eph[k], "k%3Dv");
        wait_meta_all(t, svc[k], "127.8.1.1", 1, eph[k], PATCHED);
    }
    im_applied(t, base);
    for (int k = 0; k < 2; k++) {
        deregister_inst(t, 2, svc[k], "127.8.1.1", 1, eph[k]);
    }
    tc_sleep_ms(EXPIRED_MS / 2);
    for (int k = 0; k < 2; k++) {
        register_inst(t, svc[k], "127.8.1.1", 1, eph[k], PATCHED);
    }
    tc_sleep_ms(EXPIRED_MS + 1500);
    for (int k = 0; k < 2; k++) {
        wait_meta_all(t, svc[k], "127.8.1.1", 1, eph[k], PATCHED);
    }
    im_applied(t, after);
    for (unsigned i = 0; i < N; i++) {
        assert_int_equal(after[i], base[i]);
    }
    assert_false(any_log(t, "Remove expired metadata of instance"));
    tc_pass(t);
}

/* 3. Marks are not state: an overlay orphaned before a snapshot and a
 * restart of every node is still found and removed afterwards. */
static void test_restart(void **state)
{
    struct tc *t = *state;
    char *body = NULL;
    uint64_t deadline;
    tc_up(t, "meta-restart", N, PROPS);
    register_inst(t, "pr", "127.8.2.1", 1, false, OWN);
    patch_meta(t, "pr", "127.8.2.1", 1, false, "k%3Dv");
    wait_meta_all(t, "pr", "127.8.2.1", 1, false, PATCHED);
    deregister_inst(t, 0, "pr", "127.8.2.1", 1, false);
    assert_int_equal(tc_ops(t, 0, TC_IM, "doSnapshot", NULL, &body), 200);
    free(body);
    tc_stop_all(t);
    for (unsigned i = 0; i < N; i++) {
        tc_start(t, i);
    }
    tc_wait_all_ready(t);
    deadline = tc_now_ms() + EXPIRED_MS + TC_WAIT_MS;
    while (!any_log(t, "Remove expired metadata of instance 127.8.2.1:1")) {
        if (tc_now_ms() > deadline) {
            fail_msg("the orphaned overlay was never removed after restart");
        }
        tc_sleep_ms(100);
    }
    {
        long long applied[N];
        im_applied(t, applied); /* every member applied the removal */
    }
    register_inst(t, "pr", "127.8.2.1", 1, false, OWN);
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_expire, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_reregister_keeps, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_restart, tc_setup, tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
