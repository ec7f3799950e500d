/* The persistent processor through leader changes and partitions on
 * canonical/raft's fixture: every registry converges, and entries that never
 * committed never show up anywhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "test/support/fixture_naming.h"

#define ALL LC_FIXTURE_ALL
#define MAX_MS LC_FIXTURE_MAX_MS

static struct lc_fixture_cluster *cluster3(void **state, bool pre_vote)
{
    struct lc_fixture_cluster *c =
        lc_fixture_cluster_new(3, LC_GROUP_PERSISTENT);
    *state = c;
    for (unsigned i = 0; i < 3; i++) {
        raft_set_pre_vote(lc_fixture_raft(c, i), pre_vote);
    }
    raft_fixture_elect(&c->f, 0);
    return c;
}

static void converged(struct lc_fixture_cluster *c, unsigned mask)
{
    free(lc_fixture_assert_converged(c, mask));
}

static void isolate(struct lc_fixture_cluster *c, unsigned i, bool cut)
{
    for (unsigned j = 0; j < c->n; j++) {
        if (j != i) {
            lc_fixture_link(c, i, j, !cut);
        }
    }
}

static void assert_sane(struct lc_fixture_cluster *c)
{
    for (unsigned i = 0; i < c->n; i++) {
        assert_int_equal(c->nodes[i].adapter.n_reapplied, 0);
        assert_int_equal(c->nodes[i].adapter.n_restore_errors, 0);
    }
}

/* Kill the leader: another is elected, writes continue, the old leader comes
 * back and converges. */
static void test_leader_killed(void **state)
{
    struct lc_fixture_cluster *c = cluster3(state, true);
    struct lc_fixture_inst in[10];
    struct lc_fixture_inst upd;
    unsigned leader;
    uint64_t index = 0;

    for (int k = 0; k < 10; k++) {
        lc_fixture_inst_init(&in[k], "svc", k + 1, 8080);
    }
    for (int k = 0; k < 5; k++) {
        index = lc_fixture_add(c, 0, &in[k]);
    }
    lc_fixture_wait_applied(c, index, ALL);
    converged(c, ALL);

    raft_fixture_kill(&c->f, 0);
    leader = lc_fixture_step_until_leader(c, 0x6, MAX_MS);
    assert_true(leader == 1 || leader == 2);
    assert_true(lc_fixture_raft(c, leader)->current_term >
                lc_fixture_raft(c, 0)->current_term);

    for (int k = 5; k < 10; k++) {
        index = lc_fixture_add(c, leader, &in[k]);
    }
    lc_fixture_del(c, leader, &in[1]);
    lc_fixture_inst_init(&upd, "svc", 3, 8080); /* in[2] */
    upd.st.weight = 0.25;
    index = lc_fixture_add(c, leader, &upd);
    lc_fixture_wait_applied(c, index, lc_fixture_live(c));
    converged(c, 0x6);
    lc_fixture_assert_lacks(c, 0, &in[5]);
    lc_fixture_assert_has(c, 0, &in[1]);

    raft_fixture_revive(&c->f, 0);
    lc_fixture_wait_applied(c, index, ALL);
    converged(c, ALL);
    lc_fixture_assert_has(c, 0, &in[9]);
    lc_fixture_assert_lacks(c, 0, &in[1]);
    lc_fixture_assert_has(c, 0, &upd);
    /* Caught up from the log, not a snapshot. */
    assert_int_equal(c->nodes[0].adapter.n_restores, 0);
    for (uint64_t x = index - 6; x <= index; x++) {
        lc_fixture_assert_result(c, x, 0);
    }
    assert_sane(c);
}

/* The leader is cut off after appending entries it can never commit; the
 * majority elects a new leader whose entries take the same indices. The
 * old leader's entries never reach any registry. */
static void test_uncommitted_overwritten(void **state)
{
    struct lc_fixture_cluster *c = cluster3(state, true);
    struct lc_fixture_inst base[3];
    struct lc_fixture_inst lost[4];
    struct lc_fixture_inst won[6];
    uint64_t committed = 0;
    uint64_t lost_first = 0;
    uint64_t lost_last = 0;
    uint64_t index = 0;
    unsigned leader;

    for (int k = 0; k < 3; k++) {
        lc_fixture_inst_init(&base[k], "svc", k + 1, 8080);
        committed = lc_fixture_add(c, 0, &base[k]);
    }
    lc_fixture_wait_applied(c, committed, ALL);

    /* Cut server 0 off; what it appends now cannot commit. One of the
     * entries deletes a committed instance, to be sure it is not applied
     * either. */
    isolate(c, 0, true);
    for (int k = 0; k < 3; k++) {
        lc_fixture_inst_init(&lost[k], "svc-lost", 100 + k, 8080);
        index = lc_fixture_add(c, 0, &lost[k]);
        lost_first = lost_first == 0 ? index : lost_first;
    }
    lost_last = lc_fixture_del(c, 0, &base[0]);
    (void)index;
    assert_int_equal(lost_first, committed + 1);
    assert_true(raft_last_index(lc_fixture_raft(c, 0)) >= lost_last);

    leader = lc_fixture_step_until_leader(c, 0x6, MAX_MS);
    assert_true(leader == 1 || leader == 2);
    /* The old leader has stepped down or is still waiting, but never
     * committed anything past what everyone had. */
    assert_int_equal(raft_last_applied(lc_fixture_raft(c, 0)), committed);
    for (int k = 0; k < 6; k++) {
        lc_fixture_inst_init(&won[k], "svc-won", 200 + k, 8080);
        index = lc_fixture_add(c, leader, &won[k]);
    }
    /* The new entries took the old leader's indices. */
    assert_true(index - 5 <= lost_last);
    lc_fixture_wait_applied(c, index, 0x6);
    converged(c, 0x6);

    isolate(c, 0, false);
    lc_fixture_wait_applied(c, index, ALL);
    converged(c, ALL);
    for (unsigned i = 0; i < 3; i++) {
        for (int k = 0; k < 3; k++) {
            lc_fixture_assert_lacks(c, i, &lost[k]);
            lc_fixture_assert_has(c, i, &base[k]);
        }
        for (int k = 0; k < 6; k++) {
            lc_fixture_assert_has(c, i, &won[k]);
        }
        /* Every index was applied once, with the new leader's entries. */
        for (uint64_t x = lost_first; x <= index; x++) {
            const struct lc_raft_result *r =
                lc_fixture_sm_result(&c->nodes[i].adapter, x);
            assert_non_null(r);
            assert_int_equal(r->status, 0);
        }
    }
    /* The old leader's requests failed (leadership lost), none succeeded. */
    assert_int_equal(c->n_apply_failed, 4);
    assert_sane(c);
}

/* The leader is partitioned from both followers: the majority elects a
 * new leader and commits; after healing, everyone converges. */
static void test_partition_leader(void **state)
{
    struct lc_fixture_cluster *c = cluster3(state, true);
    struct lc_fixture_inst in[8];
    unsigned leader;
    uint64_t index = 0;

    for (int k = 0; k < 8; k++) {
        lc_fixture_inst_init(&in[k], k % 2 ? "svc-1" : "svc-2", k + 1, 80);
    }
    for (int k = 0; k < 4; k++) {
        index = lc_fixture_add(c, 0, &in[k]);
    }
    lc_fixture_wait_applied(c, index, ALL);

    isolate(c, 0, true);
    leader = lc_fixture_step_until_leader(c, 0x6, MAX_MS);
    assert_true(leader == 1 || leader == 2);
    for (int k = 4; k < 8; k++) {
        index = lc_fixture_add(c, leader, &in[k]);
    }
    index = lc_fixture_del(c, leader, &in[0]);
    lc_fixture_wait_applied(c, index, 0x6);
    converged(c, 0x6);
    lc_fixture_assert_has(c, 0, &in[0]);
    lc_fixture_assert_lacks(c, 0, &in[4]);
    /* Cut off, the old leader has stepped down. */
    assert_int_not_equal(raft_state(lc_fixture_raft(c, 0)), RAFT_LEADER);

    isolate(c, 0, false);
    lc_fixture_wait_applied(c, index, ALL);
    converged(c, ALL);
    lc_fixture_assert_lacks(c, 0, &in[0]);
    lc_fixture_assert_has(c, 0, &in[7]);
    assert_int_equal(lc_fixture_leader(c, ALL), leader);
    assert_sane(c);
}

/* With pre-vote, a follower partitioned alone does not raise its term, and
 * when it rejoins the leader keeps its term and leadership. */
static void test_prevote_isolated_follower(void **state)
{
    struct lc_fixture_cluster *c = cluster3(state, true);
    struct lc_fixture_inst in[8];
    raft_term term = lc_fixture_raft(c, 0)->current_term;
    uint64_t index = 0;

    for (int k = 0; k < 8; k++) {
        lc_fixture_inst_init(&in[k], "svc", k + 1, 80);
    }
    for (int k = 0; k < 3; k++) {
        index = lc_fixture_add(c, 0, &in[k]);
    }
    lc_fixture_wait_applied(c, index, ALL);
    assert_int_equal(lc_fixture_raft(c, 2)->current_term, term);

    isolate(c, 2, true);
    for (int k = 3; k < 8; k++) {
        index = lc_fixture_add(c, 0, &in[k]);
    }
    lc_fixture_wait_applied(c, index, 0x3);
    /* Many election timeouts alone. */
    raft_fixture_step_until_elapsed(&c->f, 10000);
    assert_int_equal(lc_fixture_raft(c, 2)->current_term, term);
    assert_int_equal(lc_fixture_leader(c, ALL), 0);
    assert_int_equal(lc_fixture_raft(c, 0)->current_term, term);
    converged(c, 0x3);

    isolate(c, 2, false);
    lc_fixture_wait_applied(c, index, ALL);
    raft_fixture_step_until_elapsed(&c->f, 5000);
    converged(c, ALL);
    assert_int_equal(lc_fixture_leader(c, ALL), 0);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(lc_fixture_raft(c, i)->current_term, term);
    }
    assert_int_equal(raft_state(lc_fixture_raft(c, 2)), RAFT_FOLLOWER);
    assert_int_equal(c->n_apply_failed, 0);
    assert_sane(c);
}

/* The control for the test above: without pre-vote the same partition
 * raises the follower's term and its return deposes the leader. The data
 * still converges. */
static void test_no_prevote_isolated_follower(void **state)
{
    struct lc_fixture_cluster *c = cluster3(state, false);
    struct lc_fixture_inst in[6];
    raft_term term = lc_fixture_raft(c, 0)->current_term;
    unsigned leader;
    uint64_t index = 0;

    for (int k = 0; k < 6; k++) {
        lc_fixture_inst_init(&in[k], "svc", k + 1, 80);
    }
    for (int k = 0; k < 3; k++) {
        index = lc_fixture_add(c, 0, &in[k]);
    }
    lc_fixture_wait_applied(c, index, ALL);

    isolate(c, 2, true);
    raft_fixture_step_until_elapsed(&c->f, 10000);
    assert_true(lc_fixture_raft(c, 2)->current_term > term);

    isolate(c, 2, false);
    raft_fixture_step_until_elapsed(&c->f, 5000);
    leader = lc_fixture_step_until_leader(c, ALL, MAX_MS);
    assert_true(leader < 3);
    assert_true(lc_fixture_raft(c, leader)->current_term > term);
    for (int k = 3; k < 6; k++) {
        index = lc_fixture_add(c, leader, &in[k]);
    }
    lc_fixture_wait_applied(c, index, ALL);
    converged(c, ALL);
    assert_sane(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_leader_killed, lc_fixture_teardown),
        cmocka_unit_test_teardown(test_uncommitted_overwritten,
                                  lc_fixture_teardown),
        cmocka_unit_test_teardown(test_partition_leader, lc_fixture_teardown),
        cmocka_unit_test_teardown(test_prevote_isolated_follower,
                                  lc_fixture_teardown),
        cmocka_unit_test_teardown(test_no_prevote_isolated_follower,
                                  lc_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
