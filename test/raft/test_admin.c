/* raft/admin.c on simulated engines (test/support/engine_sim.h): Nacos's raft
 * ops commands run on the leader (sent there from a follower over the peer
 * channel), doSnapshot on the member named, and every error a caller can
 * get. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "test/support/engine_sim.h"

#define RPC LC_SIM_RPC_TIMEOUT_MS

static bool in_configuration(struct lc_sim *s, unsigned i, unsigned member)
{
    struct raft *r = lc_sim_raft(s, i);
    for (unsigned k = 0; k < r->configuration.n; k++) {
        if (r->configuration.servers[k].id == lc_sim_raft(s, member)->id) {
            return true;
        }
    }
    return false;
}

/* Run @command @value on member @i and wait for the answer. */
static struct lc_sim_admin *run(struct lc_sim *s, unsigned i,
                                const char *command, const char *value,
                                unsigned max_ms)
{
    struct lc_sim_admin *a = lc_sim_admin(s, i, command, value);
    if (a->rv != 0) {
        fail_msg("%s %s: %s", command, value, a->errmsg);
    }
    assert_int_equal(a->n_cb_in_call, 0);
    if (!lc_sim_wait_admin(s, a, max_ms)) {
        fail_msg("%s %s on %u: no answer in %u ms", command, value, i, max_ms);
    }
    assert_int_equal(a->n_cb, 1);
    return a;
}

/* transferLeader on the leader: done once the target leads. */
static void test_transfer_on_leader(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned target = (leader + 1) % s->n;
    struct lc_sim_admin *a;

    a = run(s, leader, "transferLeader", lc_sim_address(s, target), RPC);
    assert_int_equal(a->status, 0);
    assert_string_equal(a->message, "");
    assert_int_equal(lc_sim_leader(s), target);
    /* Asking for the leader it already has is done at once. */
    a = run(s, target, "transferLeader", lc_sim_address(s, target), 100);
    assert_int_equal(a->status, 0);
    assert_int_equal(lc_sim_leader(s), target);
}

/* transferLeader asked on a follower travels to the leader. */
static void test_transfer_from_follower(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned f = (leader + 1) % s->n;
    unsigned target = lc_sim_other(s, leader, f);
    unsigned long served = s->nodes[leader].n_served;
    struct lc_sim_admin *a;

    a = run(s, f, "transferLeader", lc_sim_address(s, target), RPC);
    assert_int_equal(a->status, 0);
    assert_int_equal(s->nodes[leader].n_served, served + 1);
    assert_int_equal(lc_sim_leader(s), target);
}

/* Commands refused before anything runs: no callback, a message. */
static void test_refused_at_once(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    struct lc_sim_admin *a;

    a = lc_sim_admin(s, leader, "doSomething", "");
    assert_int_equal(a->rv, LC_ENOTSUP);
    assert_string_equal(a->errmsg, "Not support command : doSomething");
    a = lc_sim_admin(s, leader, "transferLeader", "nope");
    assert_int_equal(a->rv, LC_EINVAL);
    assert_string_equal(a->errmsg, "bad peer address 'nope' (want ip:port)");
    a = lc_sim_admin(s, leader, "transferLeader",
                     "127.0.0.1:7001,127.0.0.1:7002");
    assert_int_equal(a->rv, LC_EINVAL);
    assert_string_equal(a->errmsg, "transferLeader takes one peer "
                                   "(ip:raftPort)");
    a = lc_sim_admin(s, leader, "removePeers", "");
    assert_int_equal(a->rv, LC_EINVAL);
    assert_string_equal(a->errmsg, "no peers given");
    lc_sim_run_for(s, 500);
    for (size_t k = 0; k < s->n_owned; k++) {
        assert_int_equal(((struct lc_sim_admin *)s->owned[k])->n_cb, 0);
    }
}

/* A command that runs and fails says why, on the leader and from a
 * follower (the leader's answer travels back). */
static void test_transfer_to_stranger(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned f = (leader + 2) % s->n;
    struct lc_sim_admin *a;

    a = run(s, leader, "transferLeader", "127.0.0.1:9999", RPC);
    assert_int_equal(a->status, LC_EINVAL);
    assert_string_equal(a->message, "the target is not a voter of this group");
    a = run(s, f, "transferLeader", "127.0.0.1:9999", RPC);
    assert_int_equal(a->status, LC_EINVAL);
    assert_string_equal(a->message, "the target is not a voter of this group");
    assert_int_equal(lc_sim_leader(s), leader);
}

/* doSnapshot: on this member when no member is named, else on the one
 * named (sent there); done when the snapshot covers what was applied. */
static void test_do_snapshot(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned f = (leader + 1) % s->n;
    unsigned g = lc_sim_other(s, leader, f);
    struct lc_raft_group_status st;
    struct lc_sim_write *w = lc_sim_write(s, leader, 5);
    struct lc_sim_admin *a;
    uint64_t applied;

    assert_true(lc_sim_wait_write(s, w, 1000));
    lc_sim_run_for(s, 200);
    applied = raft_last_applied(lc_sim_raft(s, f));
    a = run(s, f, "doSnapshot", "", 4 * RPC);
    assert_int_equal(a->status, 0);
    assert_int_equal(s->nodes[f].sm.n_snapshots, 1);
    lc_sim_status(s, f, &st);
    assert_true(st.snapshot.index >= applied);
    assert_true(st.snapshot.size > 0);
    assert_int_equal(s->nodes[g].sm.n_snapshots, 0);

    /* Named: g takes it, f only asked. */
    a = run(s, f, "doSnapshot", lc_sim_address(s, g), 4 * RPC);
    assert_int_equal(a->status, 0);
    assert_int_equal(s->nodes[g].sm.n_snapshots, 1);
    assert_int_equal(s->nodes[f].sm.n_snapshots, 1);
    lc_sim_status(s, g, &st);
    assert_true(st.snapshot.index >= applied);
}

/* doSnapshot naming a member that cannot be reached. */
static void test_do_snapshot_unreachable(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned f = (leader + 1) % s->n;
    unsigned g = lc_sim_other(s, leader, f);
    struct lc_sim_admin *a;

    lc_sim_link(s, f, g, false);
    a = run(s, f, "doSnapshot", lc_sim_address(s, g), RPC);
    assert_int_equal(a->status, LC_ECONN);
    assert_string_equal(a->message, "cannot reach the snapshot target");
    assert_int_equal(s->nodes[g].sm.n_snapshots, 0);
}

/* removePeer from a follower runs on the leader; removing an absent peer
 * is a no-op. (Adding one cannot be simulated: the engine derives a new
 * member's raft id from its address, and the fixture routes by its own
 * ids; test/cluster covers it.) */
static void test_remove_peer(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned f = (leader + 1) % s->n;
    unsigned g = lc_sim_other(s, leader, f);
    struct lc_sim_admin *a;
    struct lc_sim_write *w;

    a = run(s, f, "removePeer", lc_sim_address(s, g), RPC);
    assert_int_equal(a->status, 0);
    lc_sim_run_for(s, 300);
    assert_false(in_configuration(s, leader, g));
    assert_false(in_configuration(s, f, g));
    a = run(s, f, "removePeer", lc_sim_address(s, g), RPC);
    assert_int_equal(a->status, 0); /* already gone */
    /* Two members commit alone now. */
    lc_sim_kill(s, g);
    w = lc_sim_write(s, f, 3);
    assert_true(lc_sim_wait_write(s, w, 1000));
    assert_int_equal(w->status, 0);
}

/* changePeers removes the members not listed, and is a no-op when the
 * list is the configuration. */
static void test_change_peers(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned f = (leader + 1) % s->n;
    unsigned g = lc_sim_other(s, leader, f);
    char two[128];
    struct lc_sim_admin *a;

    snprintf(two, sizeof two, "%s, %s", lc_sim_address(s, f),
             lc_sim_address(s, leader));
    a = run(s, g, "changePeers", two, RPC);
    assert_int_equal(a->status, 0);
    lc_sim_run_for(s, 300);
    assert_false(in_configuration(s, leader, g));
    assert_true(in_configuration(s, leader, f));
    assert_int_equal(lc_sim_raft(s, leader)->configuration.n, 2);
    a = run(s, f, "restRaftCluster", two, RPC);
    assert_int_equal(a->status, 0);
    assert_int_equal(lc_sim_raft(s, leader)->configuration.n, 2);
}

/* No leader to run it on: the command waits, then times out. */
static void test_no_leader_times_out(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned f = (leader + 1) % s->n;
    unsigned g = lc_sim_other(s, leader, f);
    struct lc_sim_admin *a;
    uint64_t start;

    lc_sim_kill(s, leader);
    lc_sim_kill(s, g);
    start = lc_sim_now(s);
    a = run(s, f, "removePeer", lc_sim_address(s, g), 3 * RPC);
    assert_int_equal(a->status, LC_ETIMEDOUT);
    assert_string_equal(a->message, "no leader to run the command on");
    assert_true(lc_sim_now(s) - start >= 2 * RPC);
    assert_true(in_configuration(s, f, g));
}

/* The connection to the leader drops while it runs the command. */
static void test_connection_lost(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned f = (leader + 1) % s->n;
    unsigned g = lc_sim_other(s, leader, f);
    unsigned long served = s->nodes[leader].n_served;
    struct lc_sim_admin *a;

    lc_sim_blackhole(s, leader, f, true);
    a = lc_sim_admin(s, f, "transferLeader", lc_sim_address(s, g));
    assert_int_equal(a->rv, 0);
    lc_sim_run_for(s, 100);
    assert_int_equal(s->nodes[leader].n_served, served + 1);
    lc_sim_link(s, f, leader, false);
    assert_int_equal(a->n_cb, 1);
    assert_int_equal(a->status, LC_ECONN);
    assert_string_equal(a->message, "lost the connection to the member");
}

/* A member that no longer leads answers "not the leader"; the command
 * waits and goes again to whoever leads once that is known. */
static void test_leader_moved(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned f = (leader + 1) % s->n;
    unsigned target = lc_sim_other(s, leader, f);
    unsigned long served;
    struct lc_sim_admin *a;
    struct lc_sim_admin *b;

    lc_sim_raft_link(s, f, leader, false);
    lc_sim_raft_link(s, f, target, false);
    a = run(s, leader, "transferLeader", lc_sim_address(s, target), RPC);
    assert_int_equal(a->status, 0);
    served = s->nodes[leader].n_served;
    /* f still believes in the old leader and sends it there. */
    b = lc_sim_admin(s, f, "removePeer", "127.0.0.1:9999");
    lc_sim_run_for(s, 50);
    assert_int_equal(s->nodes[leader].n_served, served + 1);
    assert_int_equal(b->n_cb, 0);
    lc_sim_raft_link(s, f, leader, true);
    lc_sim_raft_link(s, f, target, true);
    assert_true(lc_sim_wait_admin(s, b, RPC));
    assert_int_equal(b->status, 0);
    assert_true(s->nodes[target].n_served > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_transfer_on_leader, lc_sim_teardown),
        cmocka_unit_test_teardown(test_transfer_from_follower, lc_sim_teardown),
        cmocka_unit_test_teardown(test_refused_at_once, lc_sim_teardown),
        cmocka_unit_test_teardown(test_transfer_to_stranger, lc_sim_teardown),
        cmocka_unit_test_teardown(test_do_snapshot, lc_sim_teardown),
        cmocka_unit_test_teardown(test_do_snapshot_unreachable,
                                  lc_sim_teardown),
        cmocka_unit_test_teardown(test_remove_peer, lc_sim_teardown),
        cmocka_unit_test_teardown(test_change_peers, lc_sim_teardown),
        cmocka_unit_test_teardown(test_no_leader_times_out, lc_sim_teardown),
        cmocka_unit_test_teardown(test_connection_lost, lc_sim_teardown),
        cmocka_unit_test_teardown(test_leader_moved, lc_sim_teardown),
    };
    lc_log_set_level(LC_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
