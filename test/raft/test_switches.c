/* The switch domain's processor (naming_persistent_service) on
 * canonical/raft's fixture: updates applied alike on every member, refused
 * ones changing nothing, snapshot install to a lagging member, and images
 * restored or refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "naming/ops/entries.h"
#include "snapshots/snapshots.h"
#include "test/support/fixture_naming.h"

#define ALL LC_FIXTURE_ALL

static uint64_t set(struct lc_fixture_cluster *c, const char *entry,
                    const char *value)
{
    void *data;
    size_t len;
    uint64_t index;
    assert_int_equal(lc_entry_encode_switch(entry, value, &data, &len), 0);
    index = lc_fixture_submit(c, 0, NULL, "Write", data, len);
    free(data);
    assert_true(index > 0);
    return index;
}

static void assert_all(struct lc_fixture_cluster *c, unsigned mask,
                       void (*check)(const struct lc_switches *sw))
{
    for (unsigned i = 0; i < c->n; i++) {
        if (mask == ALL || (mask & (1u << i)) != 0) {
            check(&c->nodes[i].naming->sw);
        }
    }
}

static void check_updated(const struct lc_switches *sw)
{
    assert_false(sw->health_check_enabled);
    assert_int_equal(sw->check_times, 5);
    assert_int_equal(sw->default_push_cache_millis, 12000);
    assert_int_equal(sw->tcp_params.max, 4000);
    assert_int_equal(sw->tcp_params.min, 1000);
    assert_string_equal(sw->push_java_version, "2.0.0");
    assert_int_equal(json_array_size(sw->masters), 2);
}

static void test_apply(void **state)
{
    struct lc_fixture_cluster *c =
        lc_fixture_cluster3(state, LC_GROUP_SWITCHES);
    uint64_t index;
    char *before;
    char *after;

    set(c, "check", "false");
    set(c, "healthCheckTimes", "5");
    set(c, "pushCacheMillis", "12000");
    set(c, "tcpHealthParams", "{\"max\":4000}");
    set(c, "pushVersion", "java:2.0.0");
    index = set(c, "masters", "a,b");
    lc_fixture_wait_applied(c, index, ALL);
    for (uint64_t x = index - 5; x <= index; x++) {
        lc_fixture_assert_result(c, x, 0);
    }
    before = lc_fixture_assert_converged(c, ALL);
    assert_all(c, ALL, check_updated);

    /* Refused on apply (validated again, deterministically), an unknown
     * operation, undecodable data, another group's entry: all change
     * nothing anywhere. */
    {
        uint64_t bad_value = set(c, "pushCacheMillis", "1");
        uint64_t bad_op = lc_fixture_submit(c, 0, NULL, "DELETE", "{}", 2);
        uint64_t junk = lc_fixture_submit(c, 0, NULL, "Write", "\xff\x01", 2);
        uint64_t no_value =
            lc_fixture_submit(c, 0, NULL, "Write", "{\"entry\":\"check\"}", 17);
        uint64_t foreign =
            lc_fixture_submit(c, 0, LC_GROUP_SERVICE_META, "Write", "{}", 2);
        uint64_t unknown = set(c, "noSuchEntry", "1");
        assert_true(bad_op > 0 && junk > 0 && no_value > 0 && foreign > 0);
        lc_fixture_wait_applied(c, unknown, ALL);
        lc_fixture_assert_result(c, bad_value, LC_EINVAL);
        lc_fixture_assert_result(c, bad_op, LC_EINVAL);
        lc_fixture_assert_result(c, junk, LC_ECORRUPT);
        lc_fixture_assert_result(c, no_value, LC_ECORRUPT);
        lc_fixture_assert_result(c, foreign, LC_EINVAL);
        lc_fixture_assert_result(c, unknown, 0);
    }
    after = lc_fixture_assert_converged(c, ALL);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

/* A member that missed compacted entries catches up by InstallSnapshot. */
static void test_snapshot_install(void **state)
{
    struct lc_fixture_cluster *c =
        lc_fixture_cluster3(state, LC_GROUP_SWITCHES);
    uint64_t index = 0;
    char value[32];

    for (unsigned i = 0; i < 3; i++) {
        raft_set_snapshot_threshold(lc_fixture_raft(c, i), 4);
        raft_set_snapshot_trailing(lc_fixture_raft(c, i), 1);
    }
    raft_fixture_kill(&c->f, 2);
    set(c, "check", "false");
    set(c, "masters", "m1,m2,m3");
    set(c, "limitedUrlMap", "/v1/x:429");
    set(c, "overriddenServerStatus", "DOWN");
    set(c, "tcpHealthParams", "{\"max\":3500,\"min\":900,\"factor\":0.5}");
    for (int k = 0; k < 8; k++) {
        snprintf(value, sizeof value, "%d", 10 + k);
        index = set(c, "healthCheckTimes", value);
    }
    lc_fixture_wait_applied(c, index, lc_fixture_live(c));
    assert_true(lc_fixture_raft(c, 0)->log.offset >
                raft_last_applied(lc_fixture_raft(c, 2)) + 1);
    raft_fixture_revive(&c->f, 2);
    lc_fixture_wait_applied(c, index, ALL);
    assert_true(raft_fixture_n_recv(&c->f, 2, RAFT_IO_INSTALL_SNAPSHOT) >= 1);
    assert_true(c->nodes[2].adapter.n_restores >= 1);
    assert_int_equal(c->nodes[2].adapter.n_restore_errors, 0);
    free(lc_fixture_assert_converged(c, ALL));
    {
        const struct lc_switches *sw = &c->nodes[2].naming->sw;
        assert_false(sw->health_check_enabled);
        assert_int_equal(sw->check_times, 17);
        assert_int_equal(json_array_size(sw->masters), 3);
        assert_int_equal(
            json_integer_value(json_object_get(sw->limited_url_map, "/v1/x")),
            429);
        assert_string_equal(sw->overridden_server_status, "DOWN");
        assert_int_equal(sw->tcp_params.min, 900);
        assert_true(sw->tcp_params.factor == 0.5f);
    }
}

static void test_snapshot_images(void **state)
{
    struct lc_fixture_cluster *c =
        lc_fixture_cluster3(state, LC_GROUP_SWITCHES);
    struct raft *leader = lc_fixture_raft(c, 0);
    void *s1;
    size_t s1_len;
    char *s1_dump;
    char *s2_dump;
    uint64_t index;

    set(c, "check", "false");
    index = set(c, "masters", "one");
    lc_fixture_wait_applied(c, index, ALL);
    s1_dump = lc_fixture_assert_converged(c, ALL);
    assert_int_equal(lc_fixture_sm_image(&c->nodes[0].adapter,
                                         raft_last_applied(leader),
                                         leader->current_term, &s1, &s1_len),
                     0);
    set(c, "check", "true");
    index = set(c, "healthCheckTimes", "9");
    lc_fixture_wait_applied(c, index, ALL);
    s2_dump = lc_fixture_assert_converged(c, ALL);

    {
        void *buf;
        size_t len;
        lc_fixture_image(LC_GROUP_SWITCHES, "CREATE TABLE other (x)", &buf,
                         &len);
        lc_fixture_assert_refused(c, 1, buf, len, "no switch_domain table");
        raft_free(buf);
        lc_fixture_image(
            LC_GROUP_SWITCHES,
            "CREATE TABLE switch_domain (key TEXT, value TEXT);"
            "INSERT INTO switch_domain VALUES ('" LC_SWITCH_DOMAIN_KEY
            "', 'not json')",
            &buf, &len);
        lc_fixture_assert_refused(c, 1, buf, len, "value not JSON");
        raft_free(buf);
        lc_fixture_image(
            LC_GROUP_SWITCHES,
            "CREATE TABLE switch_domain (key TEXT, value TEXT);"
            "INSERT INTO switch_domain VALUES ('" LC_SWITCH_DOMAIN_KEY
            "', '{\"checkTimes\":\"x\"}')",
            &buf, &len);
        lc_fixture_assert_refused(c, 1, buf, len, "wrong type");
        raft_free(buf);
        lc_fixture_image(LC_GROUP_SWITCHES,
                         "CREATE TABLE switch_domain (key TEXT, value TEXT);"
                         "INSERT INTO switch_domain VALUES ('other', '{}')",
                         &buf, &len);
        lc_fixture_assert_refused(c, 1, buf, len, "other key");
        raft_free(buf);
        lc_fixture_assert_refused(c, 1, s1, s1_len / 2, "truncated");
        /* An empty table is the defaults. */
        lc_fixture_image(LC_GROUP_SWITCHES,
                         "CREATE TABLE switch_domain (key TEXT, value TEXT)",
                         &buf, &len);
        lc_fixture_must_restore(c, 1, buf, len);
        raft_free(buf);
        assert_true(c->nodes[1].naming->sw.health_check_enabled);
        assert_int_equal(c->nodes[1].naming->sw.check_times, 3);
        assert_null(c->nodes[1].naming->sw.masters);
    }
    /* The older image rolls server 1 back to S1. */
    lc_fixture_must_restore(c, 1, s1, s1_len);
    {
        char *d = lc_fixture_dump(c, 1);
        assert_string_equal(d, s1_dump);
        assert_string_not_equal(d, s2_dump);
        free(d);
    }
    assert_false(c->nodes[1].naming->sw.health_check_enabled);
    raft_free(s1);
    free(s1_dump);
    free(s2_dump);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_apply, lc_fixture_teardown),
        cmocka_unit_test_teardown(test_snapshot_install, lc_fixture_teardown),
        cmocka_unit_test_teardown(test_snapshot_images, lc_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
