/* The naming_persistent_service_v2 processor on canonical/raft's fixture:
 * apply, refusals, snapshot install, corrupt snapshots. */
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

/* ------------------------------------------------------------ helpers */

static unsigned long n_reg(struct lc_fixture_cluster *c, unsigned i)
{
    return lc_bus_count(c->nodes[i].naming->bus, LC_EV_CLIENT_REGISTER_SERVICE);
}

static unsigned long n_dereg(struct lc_fixture_cluster *c, unsigned i)
{
    return lc_bus_count(c->nodes[i].naming->bus,
                        LC_EV_CLIENT_DEREGISTER_SERVICE);
}

static void assert_no_reapply(struct lc_fixture_cluster *c)
{
    for (unsigned i = 0; i < c->n; i++) {
        assert_int_equal(c->nodes[i].adapter.n_reapplied, 0);
    }
}

static void converged(struct lc_fixture_cluster *c, unsigned mask)
{
    free(lc_fixture_assert_converged(c, mask));
}

/* ------------------------------------------------------------ apply */

static void test_apply_add_delete(void **state)
{
    struct lc_fixture_cluster *c =
        lc_fixture_cluster3(state, LC_GROUP_PERSISTENT);
    struct lc_fixture_inst in[6];
    struct lc_fixture_inst updated;
    uint64_t index = 0;

    for (int k = 0; k < 6; k++) {
        lc_fixture_inst_init(&in[k], k < 4 ? "svc-a" : "svc-b", k + 1,
                             8080 + k);
        index = lc_fixture_add(c, 0, &in[k]);
    }
    /* The same client again for svc-a: an update, not a second instance. */
    lc_fixture_inst_init(&updated, "svc-a", 2, 8081);
    updated.st.weight = 3.5;
    updated.st.enabled = false;
    updated.st.healthy = false;
    snprintf(updated.metadata, sizeof updated.metadata,
             "{\"a\":\"1\",\"b\":\"2\"}");
    index = lc_fixture_add(c, 0, &updated);
    lc_fixture_wait_applied(c, index, ALL);
    lc_fixture_assert_result(c, index, 0);

    for (unsigned i = 0; i < 3; i++) {
        lc_fixture_assert_has(c, i, &in[0]);
        lc_fixture_assert_has(c, i, &updated);
        lc_fixture_assert_has(c, i, &in[5]);
        assert_int_equal(c->nodes[i].naming->reg->n_instances, 6);
        assert_int_equal(n_reg(c, i), 7);
        assert_int_equal(n_dereg(c, i), 0);
    }
    converged(c, ALL);

    /* DELETE removes. */
    index = lc_fixture_del(c, 0, &in[3]);
    lc_fixture_wait_applied(c, index, ALL);
    lc_fixture_assert_result(c, index, 0);
    for (unsigned i = 0; i < 3; i++) {
        lc_fixture_assert_lacks(c, i, &in[3]);
        assert_int_equal(c->nodes[i].naming->reg->n_instances, 5);
        assert_int_equal(n_dereg(c, i), 1);
    }
    converged(c, ALL);

    /* A DELETE of something absent is a no-op: an unknown client, a known
     * client on a service it does not publish, an unknown service, and the
     * instance deleted just before. */
    {
        struct lc_fixture_inst ghost, other_svc, no_svc;
        char *before = lc_fixture_dump(c, 0);
        char *after;
        lc_fixture_inst_init(&ghost, "svc-a", 200, 9999);
        lc_fixture_inst_init(&other_svc, "svc-b", 1, 8080); /* in[0]'s client */
        lc_fixture_inst_init(&no_svc, "svc-none", 1, 8080);
        lc_fixture_del(c, 0, &ghost);
        lc_fixture_del(c, 0, &other_svc);
        lc_fixture_del(c, 0, &no_svc);
        index = lc_fixture_del(c, 0, &in[3]);
        lc_fixture_wait_applied(c, index, ALL);
        for (uint64_t k = index - 3; k <= index; k++) {
            lc_fixture_assert_result(c, k, 0);
        }
        for (unsigned i = 0; i < 3; i++) {
            assert_int_equal(n_dereg(c, i), 1);
            assert_int_equal(n_reg(c, i), 7);
        }
        after = lc_fixture_assert_converged(c, ALL);
        assert_string_equal(before, after);
        free(before);
        free(after);
    }
    assert_no_reapply(c);
}

/* HEALTH flips the flag of the instance as it stands when the entry
 * applies: a verdict taken before an update keeps the update, one taken
 * before a deregistration brings nothing back, one for another cluster or
 * port changes nothing; every member agrees. */
static void test_apply_health(void **state)
{
    struct lc_fixture_cluster *c =
        lc_fixture_cluster3(state, LC_GROUP_PERSISTENT);
    struct lc_fixture_inst in, verdict, gone, moved;
    char other[] = "OTHER";
    uint64_t index;

    lc_fixture_inst_init(&in, "svc-h", 1, 8080);
    lc_fixture_add(c, 0, &in);
    /* The checker saw the instance as registered and says unhealthy; in
     * the log its verdict comes after an update of weight and metadata. */
    lc_fixture_inst_init(&verdict, "svc-h", 1, 8080);
    verdict.st.healthy = false;
    in.st.weight = 7.0;
    snprintf(in.metadata, sizeof in.metadata, "{\"v\":\"2\"}");
    lc_fixture_add(c, 0, &in);
    index = lc_fixture_submit_instance(c, 0, "HEALTH", &verdict.st);
    lc_fixture_wait_applied(c, index, ALL);
    lc_fixture_assert_result(c, index, 0);
    in.st.healthy = false;
    for (unsigned i = 0; i < 3; i++) {
        lc_fixture_assert_has(c, i, &in); /* weight 7, new metadata, unhealthy */
    }

    /* Another port of the same client id, or another cluster: no change. */
    lc_fixture_inst_init(&moved, "svc-h", 1, 8080);
    moved.st.healthy = true;
    moved.st.cluster = other;
    lc_fixture_submit_instance(c, 0, "HEALTH", &moved.st);
    lc_fixture_inst_init(&moved, "svc-h", 1, 8080);
    moved.st.healthy = true;
    moved.st.port = 9090;
    index = lc_fixture_submit_instance(c, 0, "HEALTH", &moved.st);
    lc_fixture_wait_applied(c, index, ALL);
    for (unsigned i = 0; i < 3; i++) {
        lc_fixture_assert_has(c, i, &in);
    }

    /* Deregistered, then a verdict taken before: it stays deregistered. */
    lc_fixture_inst_init(&gone, "svc-h", 2, 8081);
    lc_fixture_add(c, 0, &gone);
    lc_fixture_inst_init(&verdict, "svc-h", 2, 8081);
    verdict.st.healthy = false;
    lc_fixture_del(c, 0, &gone);
    index = lc_fixture_submit_instance(c, 0, "HEALTH", &verdict.st);
    lc_fixture_wait_applied(c, index, ALL);
    lc_fixture_assert_result(c, index, 0);
    for (unsigned i = 0; i < 3; i++) {
        lc_fixture_assert_lacks(c, i, &gone);
        assert_int_equal(c->nodes[i].naming->reg->n_instances, 1);
    }
    converged(c, ALL);
    assert_no_reapply(c);
}

/* Entries the processor must refuse, identically on every member, without
 * changing anything. */
static void test_apply_refused(void **state)
{
    struct lc_fixture_cluster *c =
        lc_fixture_cluster3(state, LC_GROUP_PERSISTENT);
    struct lc_fixture_inst a;
    char *before;
    char *after;
    unsigned long reg0[3];
    uint64_t garbage;
    uint64_t foreign;
    uint64_t bad_data;
    uint64_t bad_op;
    uint64_t bad_meta;
    uint64_t index;

    lc_fixture_inst_init(&a, "svc-a", 1, 8080);
    index = lc_fixture_add(c, 0, &a);
    lc_fixture_wait_applied(c, index, ALL);
    before = lc_fixture_assert_converged(c, ALL);
    for (unsigned i = 0; i < 3; i++) {
        reg0[i] = n_reg(c, i);
    }

    /* Not a WriteRequest at all (a varint that never ends), padded to 8. */
    {
        uint8_t *buf = raft_malloc(16);
        assert_non_null(buf);
        memset(buf, 0xff, 16);
        garbage = lc_fixture_submit_raw(c, 0, buf, 16);
        assert_true(garbage > 0);
    }
    /* A well-formed entry of another group. */
    {
        size_t len = locus__naming__instance_store__get_packed_size(&a.st);
        uint8_t data[512];
        assert_true(len <= sizeof data);
        locus__naming__instance_store__pack(&a.st, data);
        foreign =
            lc_fixture_submit(c, 0, LC_GROUP_SERVICE_META, "ADD", data, len);
        assert_true(foreign > 0);
    }
    /* A WriteRequest whose data is not an InstanceStore. */
    {
        static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0xff};
        bad_data = lc_fixture_submit(c, 0, NULL, "ADD", junk, sizeof junk);
        assert_true(bad_data > 0);
    }
    /* An operation the processor does not know. */
    {
        uint8_t data[512];
        struct lc_fixture_inst b;
        size_t len;
        lc_fixture_inst_init(&b, "svc-a", 2, 8080);
        len = locus__naming__instance_store__get_packed_size(&b.st);
        assert_true(len <= sizeof data);
        locus__naming__instance_store__pack(&b.st, data);
        bad_op = lc_fixture_submit(c, 0, NULL, "UPSERT", data, len);
        assert_true(bad_op > 0);
    }
    /* Metadata that is not a JSON object. */
    {
        struct lc_fixture_inst b;
        lc_fixture_inst_init(&b, "svc-a", 3, 8080);
        b.st.metadata = "[1,2]";
        bad_meta = lc_fixture_add(c, 0, &b);
    }
    lc_fixture_wait_applied(c, bad_meta, ALL);

    lc_fixture_assert_result(c, garbage, LC_ECORRUPT);
    /* statemachine.c reports an entry of another group as LC_EINVAL. */
    lc_fixture_assert_result(c, foreign, LC_EINVAL);
    lc_fixture_assert_result(c, bad_data, LC_ECORRUPT);
    lc_fixture_assert_result(c, bad_op, LC_EINVAL);
    lc_fixture_assert_result(c, bad_meta, LC_EINVAL);

    after = lc_fixture_assert_converged(c, ALL);
    assert_string_equal(before, after);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(n_reg(c, i), reg0[i]);
        assert_int_equal(n_dereg(c, i), 0);
        lc_fixture_assert_has(c, i, &a);
    }
    free(before);
    free(after);

    /* The group keeps working afterwards. */
    {
        struct lc_fixture_inst b;
        lc_fixture_inst_init(&b, "svc-b", 4, 8080);
        index = lc_fixture_add(c, 0, &b);
        lc_fixture_wait_applied(c, index, ALL);
        lc_fixture_assert_result(c, index, 0);
        for (unsigned i = 0; i < 3; i++) {
            lc_fixture_assert_has(c, i, &b);
        }
    }
    assert_no_reapply(c);
}

/* A persistent instance for a service that is ephemeral on every member is
 * refused the same way everywhere. */
static void test_apply_ephemeral_service(void **state)
{
    struct lc_fixture_cluster *c =
        lc_fixture_cluster3(state, LC_GROUP_PERSISTENT);
    struct lc_fixture_inst a;
    uint64_t index;

    lc_fixture_inst_init(&a, "svc-eph", 1, 8080);
    for (unsigned i = 0; i < 3; i++) {
        struct lc_service_key key = {a.st.namespace_, a.st.group_name,
                                     a.st.service_name};
        assert_non_null(
            lc_registry_service(c->nodes[i].naming->reg, &key, true));
    }
    index = lc_fixture_add(c, 0, &a);
    lc_fixture_wait_applied(c, index, ALL);
    lc_fixture_assert_result(c, index, LC_EINVAL);
    for (unsigned i = 0; i < 3; i++) {
        lc_fixture_assert_lacks(c, i, &a);
        assert_int_equal(n_reg(c, i), 0);
    }
}

/* ------------------------------------------------------------ snapshots */

struct restore_events {
    struct lc_fixture_cluster *c;
    unsigned server;
    unsigned long reg_before, dereg_before;
    unsigned long reg, dereg; /* published by restores alone */
};

static void on_restore(struct lc_fixture_sm *a, bool done, void *data)
{
    struct restore_events *ev = data;
    (void)a;
    if (!done) {
        ev->reg_before = n_reg(ev->c, ev->server);
        ev->dereg_before = n_dereg(ev->c, ev->server);
    } else {
        ev->reg += n_reg(ev->c, ev->server) - ev->reg_before;
        ev->dereg += n_dereg(ev->c, ev->server) - ev->dereg_before;
    }
}

static void set_snapshots(struct lc_fixture_cluster *c, unsigned threshold,
                          unsigned trailing)
{
    for (unsigned i = 0; i < c->n; i++) {
        raft_set_snapshot_threshold(lc_fixture_raft(c, i), threshold);
        raft_set_snapshot_trailing(lc_fixture_raft(c, i), trailing);
    }
}

/* A follower that missed compacted entries catches up by InstallSnapshot;
 * the restore publishes events only for what differs. */
static void test_snapshot_install(void **state)
{
    struct lc_fixture_cluster *c =
        lc_fixture_cluster3(state, LC_GROUP_PERSISTENT);
    struct restore_events ev = {.c = c, .server = 2};
    struct lc_fixture_inst in[30];
    struct lc_fixture_inst upd[2];
    struct lc_fixture_inst ghost;
    unsigned long reg_before, dereg_before;
    uint64_t index = 0;
    uint64_t last_real;

    set_snapshots(c, 8, 2);
    c->nodes[2].adapter.restore_hook = on_restore;
    c->nodes[2].adapter.hook_data = &ev;

    /* 10 instances everyone applies, with a snapshot or more on the way. */
    for (int k = 0; k < 30; k++) {
        lc_fixture_inst_init(&in[k], k % 2 == 0 ? "svc-even" : "svc-odd", k + 1,
                             8080);
    }
    for (int k = 0; k < 10; k++) {
        index = lc_fixture_add(c, 0, &in[k]);
    }
    lc_fixture_wait_applied(c, index, ALL);
    for (unsigned i = 0; i < 3; i++) {
        assert_true(c->nodes[i].adapter.n_snapshots > 0);
    }
    converged(c, ALL);

    /* Server 2 goes down; the others move on: 20 new instances, 3 deleted,
     * 2 changed. */
    raft_fixture_kill(&c->f, 2);
    for (int k = 10; k < 30; k++) {
        lc_fixture_add(c, 0, &in[k]);
    }
    lc_fixture_del(c, 0, &in[1]);
    lc_fixture_del(c, 0, &in[4]);
    lc_fixture_del(c, 0, &in[7]);
    lc_fixture_inst_init(&upd[0], "svc-even", 1, 8080); /* in[0] */
    upd[0].st.weight = 7;
    lc_fixture_inst_init(&upd[1], "svc-odd", 4, 8080); /* in[3] */
    snprintf(upd[1].metadata, sizeof upd[1].metadata, "{\"changed\":\"y\"}");
    lc_fixture_add(c, 0, &upd[0]);
    last_real = lc_fixture_add(c, 0, &upd[1]);
    /* No-op entries, so that a snapshot covers every real change. */
    lc_fixture_inst_init(&ghost, "svc-ghost", 240, 1);
    for (int k = 0; k < 12; k++) {
        index = lc_fixture_del(c, 0, &ghost);
    }
    lc_fixture_wait_applied(c, index, lc_fixture_live(c));
    assert_true(c->nodes[0].adapter.last_snapshot_index >= last_real);
    /* The entries server 2 misses are gone from the leader's log. */
    assert_true(lc_fixture_raft(c, 0)->log.offset >
                raft_last_applied(lc_fixture_raft(c, 2)) + 1);
    assert_int_equal(c->nodes[2].adapter.n_restores, 0);
    converged(c, 0x3);

    reg_before = n_reg(c, 2);
    dereg_before = n_dereg(c, 2);
    raft_fixture_revive(&c->f, 2);
    lc_fixture_wait_applied(c, index, ALL);

    /* It came back through the restore path. */
    assert_true(raft_fixture_n_recv(&c->f, 2, RAFT_IO_INSTALL_SNAPSHOT) >= 1);
    assert_true(c->nodes[2].adapter.n_restores >= 1);
    assert_int_equal(c->nodes[2].adapter.n_restore_errors, 0);
    assert_true(c->nodes[2].adapter.restored.index >= last_real);
    assert_true(lc_fixture_raft(c, 2)->log.snapshot.last_index >= last_real);
    assert_true(c->nodes[2].adapter.restored.size > 0);
    converged(c, ALL);
    for (int k = 0; k < 30; k++) {
        if (k == 1 || k == 4 || k == 7) {
            lc_fixture_assert_lacks(c, 2, &in[k]);
        } else if (k == 0) {
            lc_fixture_assert_has(c, 2, &upd[0]);
        } else if (k == 3) {
            lc_fixture_assert_has(c, 2, &upd[1]);
        } else {
            lc_fixture_assert_has(c, 2, &in[k]);
        }
    }

    /* Events only for differences: 20 new + 2 changed, 3 gone; the 5
     * unchanged instances published nothing. */
    assert_int_equal(ev.reg, 22);
    assert_int_equal(ev.dereg, 3);
    assert_int_equal(n_reg(c, 2) - reg_before, 22);
    assert_int_equal(n_dereg(c, 2) - dereg_before, 3);
    assert_no_reapply(c);

    /* Writes after the catch-up reach server 2 as ordinary entries. */
    {
        struct lc_fixture_inst late;
        lc_fixture_inst_init(&late, "svc-late", 241, 80);
        index = lc_fixture_add(c, 0, &late);
        lc_fixture_wait_applied(c, index, ALL);
        lc_fixture_assert_result(c, index, 0);
        lc_fixture_assert_has(c, 2, &late);
        converged(c, ALL);
    }
}

/* Checks, around each restore on one server, that a refused one left the
 * state and the bus as they were. */
struct refusal_check {
    struct lc_fixture_cluster *c;
    unsigned server;
    char *before;
    unsigned long reg, dereg, errors;
    unsigned checked;
};

static void on_restore_check(struct lc_fixture_sm *a, bool done, void *data)
{
    struct refusal_check *rc = data;
    if (!done) {
        rc->before = lc_fixture_dump(rc->c, rc->server);
        rc->reg = n_reg(rc->c, rc->server);
        rc->dereg = n_dereg(rc->c, rc->server);
        rc->errors = a->n_restore_errors;
        return;
    }
    if (a->n_restore_errors > rc->errors) {
        char *after = lc_fixture_dump(rc->c, rc->server);
        assert_string_equal(rc->before, after);
        assert_int_equal(n_reg(rc->c, rc->server), rc->reg);
        assert_int_equal(n_dereg(rc->c, rc->server), rc->dereg);
        assert_int_equal(a->restore_error, LC_ECORRUPT);
        assert_true(a->restore_errmsg[0] != '\0');
        rc->checked++;
        free(after);
    }
    free(rc->before);
    rc->before = NULL;
}

/* A snapshot damaged on its way to a lagging follower is refused there
 * (RAFT_CORRUPT to raft) with the state untouched; the leader sends it again
 * and the follower catches up. */
static void test_snapshot_install_corrupted(void **state)
{
    struct lc_fixture_cluster *c =
        lc_fixture_cluster3(state, LC_GROUP_PERSISTENT);
    struct refusal_check rc = {.c = c, .server = 1};
    struct lc_fixture_inst in[24];
    uint64_t index = 0;

    set_snapshots(c, 4, 1);
    c->nodes[1].adapter.restore_hook = on_restore_check;
    c->nodes[1].adapter.hook_data = &rc;
    for (int k = 0; k < 24; k++) {
        lc_fixture_inst_init(&in[k], "svc", k + 1, 80);
    }
    for (int k = 0; k < 4; k++) {
        index = lc_fixture_add(c, 0, &in[k]);
    }
    lc_fixture_wait_applied(c, index, ALL);

    raft_fixture_kill(&c->f, 1);
    lc_fixture_del(c, 0, &in[0]);
    for (int k = 4; k < 24; k++) {
        index = lc_fixture_add(c, 0, &in[k]);
    }
    lc_fixture_wait_applied(c, index, lc_fixture_live(c));
    assert_true(lc_fixture_raft(c, 0)->log.offset >
                raft_last_applied(lc_fixture_raft(c, 1)) + 1);

    c->nodes[1].adapter.corrupt_restores = 2;
    raft_fixture_revive(&c->f, 1);
    lc_fixture_wait_applied(c, index, ALL);
    assert_int_equal(c->nodes[1].adapter.n_restore_errors, 2);
    assert_int_equal(rc.checked, 2);
    assert_true(c->nodes[1].adapter.n_restores >= 1);
    converged(c, ALL);
    lc_fixture_assert_lacks(c, 1, &in[0]);
    lc_fixture_assert_has(c, 1, &in[23]);
    assert_no_reapply(c);
}

static uint8_t *copy_of(const void *buf, size_t len)
{
    uint8_t *p = malloc(len > 0 ? len : 1);
    assert_non_null(p);
    memcpy(p, buf, len);
    return p;
}

static size_t find_bytes(const uint8_t *buf, size_t len, const char *s)
{
    size_t n = strlen(s);
    for (size_t k = 0; k + n <= len; k++) {
        if (memcmp(buf + k, s, n) == 0) {
            return k;
        }
    }
    fail_msg("'%s' not in the image", s);
    return 0;
}

/* An image of the instances table with the rows given, valid checksum. */
static void craft_image(const char *rows_sql, void **buf, size_t *len)
{
    struct lc_snapshot_meta meta;
    char errmsg[256] = "";
    sqlite3 *db;
    char *sql;
    assert_int_equal(lc_snapshot_begin(&db), 0);
    assert_true(asprintf(&sql,
                         "CREATE TABLE instances ("
                         " client_id TEXT, namespace TEXT, group_name TEXT,"
                         " service_name TEXT, ip TEXT, port INTEGER,"
                         " cluster TEXT, weight REAL, healthy INTEGER,"
                         " enabled INTEGER, metadata TEXT, instance_id TEXT);"
                         "%s",
                         rows_sql) > 0);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    free(sql);
    memset(&meta, 0, sizeof meta);
    snprintf(meta.group, sizeof meta.group, "%s", LC_GROUP_PERSISTENT);
    meta.index = 1000;
    meta.term = 9;
    assert_int_equal(
        lc_snapshot_finish(db, &meta, buf, len, errmsg, sizeof errmsg), 0);
}

static void test_snapshot_refused(void **state)
{
    struct lc_fixture_cluster *c =
        lc_fixture_cluster3(state, LC_GROUP_PERSISTENT);
    struct lc_fixture_inst in[8];
    struct raft *leader = lc_fixture_raft(c, 0);
    void *s1 = NULL;
    size_t s1_len = 0;
    char *s1_dump;
    char *s2_dump;
    uint64_t index = 0;

    for (int k = 0; k < 8; k++) {
        lc_fixture_inst_init(&in[k], "svc-a", k + 1, 8080);
    }
    for (int k = 0; k < 4; k++) {
        index = lc_fixture_add(c, 0, &in[k]);
    }
    lc_fixture_wait_applied(c, index, ALL);
    s1_dump = lc_fixture_assert_converged(c, ALL);
    /* S1: the image of the state with in[0..3]. */
    assert_int_equal(lc_fixture_sm_image(&c->nodes[0].adapter,
                                         raft_last_applied(leader),
                                         leader->current_term, &s1, &s1_len),
                     0);

    /* S2: in[1] gone, in[4..7] added. */
    lc_fixture_del(c, 0, &in[1]);
    for (int k = 4; k < 8; k++) {
        index = lc_fixture_add(c, 0, &in[k]);
    }
    lc_fixture_wait_applied(c, index, ALL);
    s2_dump = lc_fixture_assert_converged(c, ALL);

    /* Corrupt variants of S1, refused by server 1 at S2. */
    {
        uint8_t *p = copy_of(s1, s1_len);
        p[0] ^= 0xff; /* the SQLite header */
        lc_fixture_assert_refused(c, 1, p, s1_len, "header flipped");
        free(p);
    }
    {
        uint8_t *p = copy_of(s1, s1_len);
        size_t at = find_bytes(p, s1_len, in[2].client_id);
        p[at + 3] ^= 0x01; /* content under the checksum */
        lc_fixture_assert_refused(c, 1, p, s1_len, "row flipped");
        free(p);
    }
    {
        uint8_t *p = copy_of(s1, s1_len);
        size_t at = find_bytes(p, s1_len, LC_GROUP_PERSISTENT);
        p[at] ^= 0x20; /* the group in the meta table */
        lc_fixture_assert_refused(c, 1, p, s1_len, "meta flipped");
        free(p);
    }
    lc_fixture_assert_refused(c, 1, s1, s1_len / 2, "truncated");
    lc_fixture_assert_refused(c, 1, s1, 0, "empty");
    {
        static const char junk[4096] = "not a snapshot";
        lc_fixture_assert_refused(c, 1, junk, sizeof junk, "junk");
    }

    /* A valid snapshot of another group. */
    {
        struct lc_naming *n = c->nodes[1].naming;
        struct lc_statemachine *glue;
        struct lc_raft_sm *sm;
        struct raft_buffer *bufs;
        unsigned n_bufs;
        void *frozen;
        void *buf;
        size_t len;
        assert_int_equal(
            lc_statemachine_new_detached(&n->service_meta_proc, &glue), 0);
        sm = lc_statemachine_sm(glue);
        assert_int_equal(sm->snapshot_take(sm, 5, 1, &frozen), 0);
        assert_int_equal(sm->snapshot_write(sm, frozen, &bufs, &n_bufs), 0);
        assert_int_equal(lc_snapshot_join(bufs, n_bufs, &buf, &len), 0);
        sm->snapshot_release(sm, frozen);
        lc_fixture_assert_refused(c, 1, buf, len, "other group");
        raft_free(buf);
        lc_statemachine_free(glue);
    }

    /* Valid SQLite and checksum, but rows the processor must refuse; the
     * first rows are valid and new, so a partial load would show. */
    {
        static const char *bad[] = {
            /* metadata not a JSON object */
            "INSERT INTO instances VALUES ('127.9.9.9:1#false','public',"
            "'DEFAULT_GROUP','svc-x','127.9.9.9',1,'DEFAULT',1.0,1,1,'{}','i');"
            "INSERT INTO instances VALUES ('127.9.9.8:1#false','public',"
            "'DEFAULT_GROUP','svc-x','127.9.9.8',1,'DEFAULT',1.0,1,1,'nope',"
            "'i');",
            /* a NULL field */
            "INSERT INTO instances VALUES ('127.9.9.9:1#false','public',"
            "'DEFAULT_GROUP','svc-x','127.9.9.9',1,'DEFAULT',1.0,1,1,'{}','i');"
            "INSERT INTO instances VALUES ('127.9.9.8:1#false','public',"
            "'DEFAULT_GROUP',NULL,'127.9.9.8',1,'DEFAULT',1.0,1,1,'{}','i');",
        };
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            void *buf;
            size_t len;
            craft_image(bad[k], &buf, &len);
            lc_fixture_assert_refused(c, 1, buf, len, bad[k]);
            raft_free(buf);
        }
        /* No instances table at all. */
        {
            void *buf;
            size_t len;
            lc_fixture_image(LC_GROUP_PERSISTENT, "CREATE TABLE other (x)",
                             &buf, &len);
            lc_fixture_assert_refused(c, 1, buf, len, "no instances table");
            raft_free(buf);
        }
    }
    {
        char *d = lc_fixture_dump(c, 1);
        assert_string_equal(d, s2_dump);
        free(d);
    }

    /* The intact S1 is accepted: server 1 goes back to S1, publishing only
     * the differences (in[1] back, in[4..7] gone); then S2 again. */
    {
        unsigned long reg = n_reg(c, 1);
        unsigned long dereg = n_dereg(c, 1);
        void *s2;
        size_t s2_len;
        char *d;
        lc_fixture_must_restore(c, 1, s1, s1_len);
        d = lc_fixture_dump(c, 1);
        assert_string_equal(d, s1_dump);
        free(d);
        assert_int_equal(n_reg(c, 1) - reg, 1);
        assert_int_equal(n_dereg(c, 1) - dereg, 4);

        /* The same image again: nothing differs, nothing is published. */
        reg = n_reg(c, 1);
        dereg = n_dereg(c, 1);
        lc_fixture_must_restore(c, 1, s1, s1_len);
        assert_int_equal(n_reg(c, 1), reg);
        assert_int_equal(n_dereg(c, 1), dereg);

        assert_int_equal(
            lc_fixture_sm_image(&c->nodes[0].adapter, raft_last_applied(leader),
                                leader->current_term, &s2, &s2_len),
            0);
        lc_fixture_must_restore(c, 1, s2, s2_len);
        assert_int_equal(n_reg(c, 1) - reg, 4);
        assert_int_equal(n_dereg(c, 1) - dereg, 1);
        d = lc_fixture_dump(c, 1);
        assert_string_equal(d, s2_dump);
        free(d);
        raft_free(s2);
    }
    raft_free(s1);
    free(s1_dump);
    free(s2_dump);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_apply_add_delete, lc_fixture_teardown),
        cmocka_unit_test_teardown(test_apply_health, lc_fixture_teardown),
        cmocka_unit_test_teardown(test_apply_refused, lc_fixture_teardown),
        cmocka_unit_test_teardown(test_apply_ephemeral_service,
                                  lc_fixture_teardown),
        cmocka_unit_test_teardown(test_snapshot_install, lc_fixture_teardown),
        cmocka_unit_test_teardown(test_snapshot_install_corrupted,
                                  lc_fixture_teardown),
        cmocka_unit_test_teardown(test_snapshot_refused, lc_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
