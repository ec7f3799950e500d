/* The metadata kvstore processor (naming_instance_metadata) on
 * canonical/raft's fixture: PUT/DELETE, change reports, snapshot install and
 * refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "snapshots/snapshots.h"
#include "test/support/fixture_naming.h"

#define ALL LC_FIXTURE_ALL

static uint64_t put(struct lc_fixture_cluster *c, const char *key,
                    const char *value)
{
    uint64_t index =
        lc_fixture_submit_kv(c, 0, "PUT", key, value, strlen(value));
    assert_true(index > 0);
    return index;
}

static uint64_t put_bin(struct lc_fixture_cluster *c, const char *key,
                        const void *value, size_t len)
{
    uint64_t index = lc_fixture_submit_kv(c, 0, "PUT", key, value, len);
    assert_true(index > 0);
    return index;
}

static uint64_t del(struct lc_fixture_cluster *c, const char *key)
{
    uint64_t index = lc_fixture_submit_kv(c, 0, "DELETE", key, NULL, 0);
    assert_true(index > 0);
    return index;
}

static void assert_value(struct lc_fixture_cluster *c, unsigned i,
                         const char *key, const void *value, size_t len)
{
    size_t got_len = 0;
    const void *got = lc_kvstore_get(c->nodes[i].kv, key, &got_len);
    if (value == NULL) {
        if (got != NULL) {
            fail_msg("server %u still has %s", i, key);
        }
        return;
    }
    if (got == NULL) {
        fail_msg("server %u lacks %s", i, key);
    }
    assert_int_equal(got_len, len);
    assert_memory_equal(got, value, len);
}

static void converged(struct lc_fixture_cluster *c, unsigned mask)
{
    free(lc_fixture_assert_converged(c, mask));
}

/* ------------------------------------------------------------ apply */

static void test_put_delete(void **state)
{
    struct lc_fixture_cluster *c =
        lc_fixture_cluster3(state, LC_GROUP_INSTANCE_META);
    static const uint8_t bin[] = {0, 1, 2, 0, 0xff};
    uint64_t index;

    put(c, "k1", "v1");
    put(c, "k2", "v2");
    put(c, "empty", "");
    put_bin(c, "bin", bin, sizeof bin);
    put(c, "k1", "v1b");
    del(c, "k2");
    index = del(c, "absent");
    lc_fixture_wait_applied(c, index, ALL);
    for (uint64_t x = index - 6; x <= index; x++) {
        lc_fixture_assert_result(c, x, 0);
    }
    converged(c, ALL);
    for (unsigned i = 0; i < 3; i++) {
        assert_value(c, i, "k1", "v1b", 3);
        assert_value(c, i, "k2", NULL, 0);
        assert_value(c, i, "empty", "", 0);
        assert_value(c, i, "bin", bin, sizeof bin);
        assert_value(c, i, "absent", NULL, 0);
        assert_int_equal(lc_kvstore_count(c->nodes[i].kv), 3);
        /* on_change for every change, on every server. */
        assert_int_equal(lc_fixture_changes(c, i, "k1"), 2);
        assert_int_equal(lc_fixture_changes(c, i, "k2"), 2);
        assert_int_equal(lc_fixture_changes(c, i, "empty"), 1);
        assert_int_equal(lc_fixture_changes(c, i, "bin"), 1);
        /* Deleting what is not there changes nothing. */
        assert_int_equal(lc_fixture_changes(c, i, "absent"), 0);
        assert_int_equal(lc_fixture_changes(c, i, NULL), 6);
    }
}

static void test_refused(void **state)
{
    struct lc_fixture_cluster *c =
        lc_fixture_cluster3(state, LC_GROUP_INSTANCE_META);
    uint64_t bad_op;
    uint64_t bad_data;
    uint64_t foreign;
    uint64_t index;
    char *before;
    char *after;

    index = put(c, "k", "v");
    lc_fixture_wait_applied(c, index, ALL);
    before = lc_fixture_assert_converged(c, ALL);
    for (unsigned i = 0; i < 3; i++) {
        lc_fixture_changes_reset(c, i);
    }

    bad_op = lc_fixture_submit_kv(c, 0, "APPEND", "k", "x", 1);
    {
        static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0xff};
        bad_data = lc_fixture_submit(c, 0, NULL, "PUT", junk, sizeof junk);
    }
    {
        Locus__Naming__MetadataStore st = LOCUS__NAMING__METADATA_STORE__INIT;
        uint8_t data[64];
        size_t len;
        st.key = "k";
        st.value.data = (uint8_t *)"other";
        st.value.len = 5;
        len = locus__naming__metadata_store__pack(&st, data);
        foreign =
            lc_fixture_submit(c, 0, LC_GROUP_SERVICE_META, "PUT", data, len);
    }
    assert_true(bad_op > 0 && bad_data > 0 && foreign > 0);
    lc_fixture_wait_applied(c, foreign, ALL);
    lc_fixture_assert_result(c, bad_op, LC_EINVAL);
    lc_fixture_assert_result(c, bad_data, LC_ECORRUPT);
    lc_fixture_assert_result(c, foreign, LC_EINVAL);
    after = lc_fixture_assert_converged(c, ALL);
    assert_string_equal(before, after);
    for (unsigned i = 0; i < 3; i++) {
        assert_value(c, i, "k", "v", 1);
        assert_int_equal(lc_fixture_changes(c, i, NULL), 0);
    }
    free(before);
    free(after);
}

/* ------------------------------------------------------------ snapshots */

struct restore_changes {
    struct lc_fixture_cluster *c;
    unsigned server;
    size_t before;
    char **keys; /* reported during restores, in order */
    size_t n;
};

static void on_restore(struct lc_fixture_sm *a, bool done, void *data)
{
    struct restore_changes *rc = data;
    struct lc_fixture_node *node = &rc->c->nodes[rc->server];
    (void)a;
    if (!done) {
        rc->before = node->n_changed;
        return;
    }
    for (size_t k = rc->before; k < node->n_changed; k++) {
        rc->keys = realloc(rc->keys, (rc->n + 1) * sizeof *rc->keys);
        assert_non_null(rc->keys);
        rc->keys[rc->n++] = strdup(node->changed[k]);
    }
}

static size_t count_key(const struct restore_changes *rc, const char *key)
{
    size_t n = 0;
    for (size_t k = 0; k < rc->n; k++) {
        n += strcmp(rc->keys[k], key) == 0;
    }
    return n;
}

static void restore_changes_free(struct restore_changes *rc)
{
    for (size_t k = 0; k < rc->n; k++) {
        free(rc->keys[k]);
    }
    free(rc->keys);
}

/* A follower that missed compacted entries catches up by InstallSnapshot;
 * on_change reports each key that differs, once, and no other. */
static void test_snapshot_install(void **state)
{
    struct lc_fixture_cluster *c =
        lc_fixture_cluster3(state, LC_GROUP_INSTANCE_META);
    struct restore_changes rc = {.c = c, .server = 2};
    char key[32];
    char value[32];
    uint64_t index = 0;
    uint64_t last_real;

    for (unsigned i = 0; i < 3; i++) {
        raft_set_snapshot_threshold(lc_fixture_raft(c, i), 4);
        raft_set_snapshot_trailing(lc_fixture_raft(c, i), 1);
    }
    c->nodes[2].adapter.restore_hook = on_restore;
    c->nodes[2].adapter.hook_data = &rc;

    for (int k = 0; k < 8; k++) {
        snprintf(key, sizeof key, "key-%d", k);
        snprintf(value, sizeof value, "value-%d", k);
        index = put(c, key, value);
    }
    lc_fixture_wait_applied(c, index, ALL);
    converged(c, ALL);

    raft_fixture_kill(&c->f, 2);
    /* key-0..1 changed, key-2..3 deleted, key-4..7 unchanged, new-0..9. */
    put(c, "key-0", "changed");
    put(c, "key-1", "changed");
    del(c, "key-2");
    del(c, "key-3");
    for (int k = 0; k < 10; k++) {
        snprintf(key, sizeof key, "new-%d", k);
        index = put(c, key, "fresh");
    }
    /* Same value again: key-4 ends up as it was. */
    put(c, "key-4", "other");
    last_real = put(c, "key-4", "value-4");
    /* No-op entries, so that a snapshot covers every real change. */
    for (int k = 0; k < 6; k++) {
        index = del(c, "never-there");
    }
    lc_fixture_wait_applied(c, index, lc_fixture_live(c));
    assert_true(c->nodes[0].adapter.last_snapshot_index >= last_real);
    assert_true(lc_fixture_raft(c, 0)->log.offset >
                raft_last_applied(lc_fixture_raft(c, 2)) + 1);
    converged(c, 0x3);

    raft_fixture_revive(&c->f, 2);
    lc_fixture_wait_applied(c, index, ALL);
    assert_true(raft_fixture_n_recv(&c->f, 2, RAFT_IO_INSTALL_SNAPSHOT) >= 1);
    assert_true(c->nodes[2].adapter.n_restores >= 1);
    assert_int_equal(c->nodes[2].adapter.n_restore_errors, 0);
    assert_true(c->nodes[2].adapter.restored.index >= last_real);
    converged(c, ALL);
    assert_value(c, 2, "key-0", "changed", 7);
    assert_value(c, 2, "key-2", NULL, 0);
    assert_value(c, 2, "key-4", "value-4", 7);
    assert_value(c, 2, "new-9", "fresh", 5);

    /* Reported during the restore: the 2 changed, the 2 deleted and the 10
     * new keys, once each; not the 4 unchanged ones. */
    assert_int_equal(count_key(&rc, "key-0"), 1);
    assert_int_equal(count_key(&rc, "key-1"), 1);
    assert_int_equal(count_key(&rc, "key-2"), 1);
    assert_int_equal(count_key(&rc, "key-3"), 1);
    for (int k = 0; k < 10; k++) {
        snprintf(key, sizeof key, "new-%d", k);
        assert_int_equal(count_key(&rc, key), 1);
    }
    for (int k = 4; k < 8; k++) {
        snprintf(key, sizeof key, "key-%d", k);
        assert_int_equal(count_key(&rc, key), 0);
    }
    assert_int_equal(rc.n, 14);
    restore_changes_free(&rc);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(c->nodes[i].adapter.n_reapplied, 0);
    }
}

/* Images restored directly: a corrupt or foreign one is refused with the
 * state unchanged; a valid older one rolls the state back reporting only
 * the keys that differ. */
static void test_snapshot_images(void **state)
{
    struct lc_fixture_cluster *c =
        lc_fixture_cluster3(state, LC_GROUP_INSTANCE_META);
    struct raft *leader = lc_fixture_raft(c, 0);
    void *s1;
    size_t s1_len;
    char *s2_dump;
    uint64_t index;

    put(c, "a", "1");
    put(c, "b", "2");
    index = put(c, "c", "value-c");
    lc_fixture_wait_applied(c, index, ALL);
    converged(c, ALL);
    assert_int_equal(lc_fixture_sm_image(&c->nodes[0].adapter,
                                         raft_last_applied(leader),
                                         leader->current_term, &s1, &s1_len),
                     0);
    put(c, "a", "1*");
    del(c, "b");
    index = put(c, "d", "4");
    lc_fixture_wait_applied(c, index, ALL);
    s2_dump = lc_fixture_assert_converged(c, ALL);

    {
        uint8_t *p = malloc(s1_len);
        uint8_t *at;
        assert_non_null(p);
        memcpy(p, s1, s1_len);
        p[0] ^= 0xff;
        lc_fixture_assert_refused(c, 1, p, s1_len, "header flipped");
        memcpy(p, s1, s1_len);
        /* c's value, covered by the checksum. */
        at = memmem(p, s1_len, "value-c", 7);
        assert_non_null(at);
        at[6] = 'C';
        lc_fixture_assert_refused(c, 1, p, s1_len, "row changed");
        free(p);
    }
    lc_fixture_assert_refused(c, 1, s1, s1_len / 2, "truncated");
    lc_fixture_assert_refused(c, 1, s1, 0, "empty");
    /* A valid image of another group. */
    {
        struct lc_naming *n = c->nodes[1].naming;
        struct lc_statemachine *glue;
        void *buf;
        size_t len;
        struct lc_fixture_sm a;
        assert_int_equal(
            lc_statemachine_new_detached(&n->service_meta_proc, &glue), 0);
        lc_fixture_sm_init(&a, lc_statemachine_sm(glue));
        assert_int_equal(lc_fixture_sm_image(&a, 3, 1, &buf, &len), 0);
        lc_fixture_assert_refused(c, 1, buf, len, "other group");
        raft_free(buf);
        lc_fixture_sm_close(&a);
        lc_statemachine_free(glue);
    }
    /* Valid image without a kv table. */
    {
        void *buf;
        size_t len;
        lc_fixture_image(LC_GROUP_INSTANCE_META, "CREATE TABLE other (x)", &buf,
                         &len);
        lc_fixture_assert_refused(c, 1, buf, len, "no kv table");
        raft_free(buf);
    }

    /* S1 on server 1 (at S2): a back, b back, d gone; c untouched. */
    lc_fixture_changes_reset(c, 1);
    lc_fixture_must_restore(c, 1, s1, s1_len);
    assert_value(c, 1, "a", "1", 1);
    assert_value(c, 1, "b", "2", 1);
    assert_value(c, 1, "c", "value-c", 7);
    assert_value(c, 1, "d", NULL, 0);
    assert_int_equal(lc_kvstore_count(c->nodes[1].kv), 3);
    assert_int_equal(lc_fixture_changes(c, 1, "a"), 1);
    assert_int_equal(lc_fixture_changes(c, 1, "b"), 1);
    assert_int_equal(lc_fixture_changes(c, 1, "d"), 1);
    assert_int_equal(lc_fixture_changes(c, 1, NULL), 3);
    /* Again: nothing differs, nothing is reported. */
    lc_fixture_must_restore(c, 1, s1, s1_len);
    assert_int_equal(lc_fixture_changes(c, 1, NULL), 3);
    /* And back to S2, the cluster's state. */
    lc_fixture_changes_reset(c, 1);
    {
        void *s2;
        size_t s2_len;
        char *d;
        assert_int_equal(
            lc_fixture_sm_image(&c->nodes[0].adapter, raft_last_applied(leader),
                                leader->current_term, &s2, &s2_len),
            0);
        lc_fixture_must_restore(c, 1, s2, s2_len);
        d = lc_fixture_dump(c, 1);
        assert_string_equal(d, s2_dump);
        free(d);
        assert_int_equal(lc_fixture_changes(c, 1, NULL), 3);
        raft_free(s2);
    }
    raft_free(s1);
    free(s2_dump);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_put_delete, lc_fixture_teardown),
        cmocka_unit_test_teardown(test_refused, lc_fixture_teardown),
        cmocka_unit_test_teardown(test_snapshot_install, lc_fixture_teardown),
        cmocka_unit_test_teardown(test_snapshot_images, lc_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
