/* raft/forward.c on simulated engines (test/support/engine_sim.h): where a
 * write or a read goes, and every way it ends as raft/engine.h documents:
 * applied (here too, for a forwarded one), LC_ENOTREADY, LC_ETIMEDOUT,
 * LC_ECONN and LC_ELEADERSHIPLOST (outcome unknown), a state machine's
 * refusal, a leader that moved. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "test/support/engine_sim.h"

#define RPC LC_SIM_RPC_TIMEOUT_MS

/* The index @value was applied at on @i, or 0. */
static uint64_t index_of_value(struct lc_sim *s, unsigned i, uint64_t value)
{
    for (uint64_t x = 1; x <= s->nodes[i].sm.last_index; x++) {
        if (s->nodes[i].sm.values[x] == value) {
            return x;
        }
    }
    return 0;
}

static struct raft *raft_of(struct lc_sim *s, unsigned i)
{
    return lc_sim_raft(s, i);
}

/* A write on the leader is applied and answered there; nothing is sent. */
static void test_write_on_leader(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned long served = s->nodes[leader].n_served;
    struct lc_sim_write *w = lc_sim_write(s, leader, 42);

    assert_int_equal(w->rv, 0);
    assert_int_equal(w->n_cb_in_call, 0);
    assert_true(lc_sim_wait_write(s, w, 1000));
    assert_int_equal(w->status, 0);
    assert_int_equal(w->result.status, 0);
    assert_true(index_of_value(s, leader, 42) > 0);
    assert_int_equal(s->nodes[leader].n_served, served);
}

/* A write on a follower goes to the leader over the peer channel and is
 * answered once the follower has applied it too (read-your-writes), without
 * waiting for the next heartbeat to learn the commit index (defect 12). */
static void test_write_forwarded(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned f = (leader + 1) % s->n;
    unsigned long served = s->nodes[leader].n_served;
    uint64_t start = lc_sim_now(s);
    struct lc_sim_write *w = lc_sim_write(s, f, 7);
    uint64_t index;

    assert_int_equal(w->rv, 0);
    assert_true(lc_sim_wait_write(s, w, 1000));
    assert_int_equal(w->status, 0);
    assert_int_equal(w->result.status, 0);
    assert_int_equal(s->nodes[leader].n_served, served + 1);
    index = index_of_value(s, leader, 7);
    assert_true(index > 0);
    /* Applied here, at the same index, by the time the caller heard. */
    assert_int_equal(s->nodes[f].sm.values[index], 7);
    assert_true(raft_last_applied(raft_of(s, f)) >= index);
    assert_true(w->done_at - start < LC_SIM_HEARTBEAT_MS);
    lc_sim_run_for(s, 500);
    assert_int_equal(w->n_cb, 1);
}

/* The state machine's verdict travels back to the follower that asked. */
static void test_write_refused_by_state_machine(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned f = (leader + 2) % s->n;
    struct lc_sim_write *w = lc_sim_write(s, f, LC_SIM_REFUSE + 5);
    uint64_t index;

    assert_true(lc_sim_wait_write(s, w, 1000));
    assert_int_equal(w->status, 0); /* applied: the entry took an index */
    assert_int_equal(w->result.status, LC_EINVAL);
    assert_string_equal(w->result.message, "refused 1000005");
    index = index_of_value(s, f, LC_SIM_REFUSE + 5);
    assert_true(index > 0);
    assert_int_equal(index_of_value(s, leader, LC_SIM_REFUSE + 5), index);
}

/* Before every group has caught up, writes and reads are refused at once
 * (the callback never fires) and the entry is freed. */
static void test_not_ready(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    struct lc_sim_write *w = lc_sim_write(s, 0, 1);
    struct lc_sim_read *r = lc_sim_read(s, 1);

    assert_false(lc_raft_engine_caught_up(lc_sim_engine(s, 0)));
    assert_int_equal(w->rv, LC_ENOTREADY);
    assert_int_equal(r->rv, LC_ENOTREADY);
    lc_sim_wait_ready(s, 10000);
    assert_int_equal(w->n_cb, 0);
    assert_int_equal(r->n_cb, 0);
    assert_int_equal(index_of_value(s, 0, 1), 0);
}

/* Submitted while no leader is reachable, a write waits, and goes out as
 * soon as a new leader is known. */
static void test_write_waits_for_leader(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, false);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned f = (leader + 1) % s->n;
    struct lc_sim_write *w;
    uint64_t killed_at;
    unsigned next;

    lc_sim_kill(s, leader);
    killed_at = lc_sim_now(s);
    w = lc_sim_write(s, f, 9);
    assert_int_equal(w->rv, 0);
    lc_sim_run_for(s, 300);
    assert_int_equal(w->n_cb, 0); /* parked: the leader's link is down */
    assert_true(lc_sim_wait_write(s, w, RPC));
    assert_int_equal(w->status, 0);
    next = lc_sim_leader(s);
    assert_true(next != leader && next < s->n);
    /* Without fast failover, only after an election timeout. */
    assert_true(w->done_at - killed_at >= LC_SIM_ELECTION_TIMEOUT_MS);
    assert_true(index_of_value(s, f, 9) > 0);
    assert_int_equal(index_of_value(s, f, 9), index_of_value(s, next, 9));
}

/* No quorum: a member that can reach no leader and no majority refuses a
 * write at once with LC_ENOLEADER (nothing applied), so its client can
 * retry elsewhere instead of waiting out the rpc timeout; a write already
 * waiting for a leader fails the same way, once the member finds itself
 * alone. */
static void test_write_times_out(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned f = (leader + 1) % s->n;
    unsigned g = lc_sim_other(s, leader, f);
    struct lc_sim_write *w;
    uint64_t start;

    /* Waiting: the leader is gone, g is still reachable. */
    lc_sim_link(s, f, leader, false);
    lc_sim_kill(s, leader);
    lc_sim_raft_link(s, f, g, false);
    start = lc_sim_now(s);
    w = lc_sim_write(s, f, 10);
    assert_int_equal(w->rv, 0);
    lc_sim_run_for(s, 50);
    assert_int_equal(w->n_cb, 0);
    /* g goes too: the waiting write fails at once. */
    lc_sim_kill(s, g);
    assert_true(lc_sim_wait_write(s, w, 3 * RPC));
    assert_int_equal(w->status, LC_ENOLEADER);
    assert_true(w->done_at - start <= 300);
    assert_int_equal(index_of_value(s, f, 10), 0);

    w = lc_sim_write(s, f, 11);
    assert_int_equal(w->rv, LC_ENOLEADER);
    assert_int_equal(w->n_cb, 0);
    assert_int_equal(index_of_value(s, f, 11), 0);
}

/* A forwarded write whose answer is lost with the connection: LC_ECONN, the
 * outcome unknown to the caller (the leader did apply it). */
static void test_write_connection_lost(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned f = (leader + 1) % s->n;
    unsigned long served = s->nodes[leader].n_served;
    struct lc_sim_write *w;

    /* The leader's answers to f are lost; then f's link to it drops. */
    lc_sim_blackhole(s, leader, f, true);
    w = lc_sim_write(s, f, 13);
    assert_int_equal(w->rv, 0);
    lc_sim_run_for(s, 200);
    assert_int_equal(s->nodes[leader].n_served, served + 1);
    assert_int_equal(w->n_cb, 0);
    lc_sim_link(s, f, leader, false);
    assert_int_equal(w->n_cb, 1);
    assert_int_equal(w->status, LC_ECONN);
    assert_true(index_of_value(s, leader, 13) > 0);
    /* A connection lost before sending is not an error: it waits. */
    lc_sim_blackhole(s, leader, f, false);
    lc_sim_link(s, f, leader, true);
    w = lc_sim_write(s, f, 14);
    assert_true(lc_sim_wait_write(s, w, 1000));
    assert_int_equal(w->status, 0);
}

/* The leader appends a write, then loses leadership before it commits:
 * LC_ELEADERSHIPLOST for a local write and for a forwarded one (its
 * outcome is unknown: another leader may or may not keep the entry). */
static void test_write_leadership_lost(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned f = (leader + 1) % s->n;
    unsigned g = lc_sim_other(s, leader, f);
    struct lc_sim_write *local;
    struct lc_sim_write *fwd;
    unsigned next;

    /* Raft's own messages from the leader stop; the peer channel works. */
    lc_sim_raft_link(s, leader, f, false);
    lc_sim_raft_link(s, leader, g, false);
    local = lc_sim_write(s, leader, 21);
    fwd = lc_sim_write(s, f, 22);
    lc_sim_run_for(s, 100);
    assert_int_equal(local->n_cb, 0);
    assert_int_equal(fwd->n_cb, 0);
    assert_true(raft_last_index(raft_of(s, leader)) >
                raft_of(s, leader)->commit_index);
    /* The leader steps down (no contact with a majority), the others elect
     * one of them. */
    assert_true(lc_sim_wait_write(s, local, 3 * LC_SIM_ELECTION_TIMEOUT_MS));
    assert_true(lc_sim_wait_write(s, fwd, 1000));
    assert_int_equal(local->status, LC_ELEADERSHIPLOST);
    assert_int_equal(fwd->status, LC_ELEADERSHIPLOST);
    /* The old leader steps down one election timeout after it last heard
     * a majority; the others elect one of them about as soon. */
    lc_sim_run_for(s, LC_SIM_ELECTION_TIMEOUT_MS);
    next = lc_sim_leader(s);
    assert_true(next == f || next == g);
    /* Healed: the new leader's log wins, the lost entries are gone. */
    lc_sim_raft_link(s, leader, f, true);
    lc_sim_raft_link(s, leader, g, true);
    lc_sim_run_for(s, 2000);
    assert_int_equal(index_of_value(s, leader, 21), 0);
    assert_int_equal(index_of_value(s, leader, 22), 0);
    assert_int_equal(local->n_cb, 1);
    assert_int_equal(fwd->n_cb, 1);
}

/* A follower that still believes in a leader which has handed over: the old
 * leader answers "not the leader", the write waits, and goes to the new
 * leader once the follower hears of it. */
static void test_write_leader_moved(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned f = (leader + 1) % s->n;
    unsigned target = lc_sim_other(s, leader, f);
    unsigned long served;
    struct lc_sim_admin *a;
    struct lc_sim_write *w;
    raft_id id;
    const char *address;

    /* f hears nothing of raft for a while, so misses the transfer. */
    lc_sim_raft_link(s, f, leader, false);
    lc_sim_raft_link(s, f, target, false);
    a = lc_sim_admin(s, leader, "transferLeader", lc_sim_address(s, target));
    assert_true(lc_sim_wait_admin(s, a, 2000));
    assert_int_equal(a->status, 0);
    assert_int_equal(lc_sim_leader(s), target);
    raft_leader(raft_of(s, f), &id, &address);
    assert_int_equal(id, raft_of(s, leader)->id); /* still believes */

    served = s->nodes[leader].n_served;
    w = lc_sim_write(s, f, 31);
    lc_sim_run_for(s, 50);
    assert_true(s->nodes[leader].n_served > served); /* asked, refused */
    assert_int_equal(w->n_cb, 0);
    lc_sim_raft_link(s, f, leader, true);
    lc_sim_raft_link(s, f, target, true);
    assert_true(lc_sim_wait_write(s, w, RPC));
    assert_int_equal(w->status, 0);
    assert_true(index_of_value(s, target, 31) > 0);
    assert_int_equal(index_of_value(s, f, 31), index_of_value(s, target, 31));
}

/* A read barrier on a follower: once it answers, everything committed
 * before the call is applied here. */
static void test_read_on_follower(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned f = (leader + 1) % s->n;
    struct lc_sim_write *w;
    struct lc_sim_read *r;
    uint64_t index;

    /* f misses the commit of this write until it asks. */
    lc_sim_raft_link(s, f, leader, false);
    w = lc_sim_write(s, leader, 41);
    assert_true(lc_sim_wait_write(s, w, 1000));
    index = index_of_value(s, leader, 41);
    assert_int_equal(index_of_value(s, f, 41), 0);
    r = lc_sim_read(s, f);
    assert_int_equal(r->rv, 0);
    lc_sim_run_for(s, 100);
    assert_int_equal(r->n_cb, 0); /* the index is known, not applied here */
    lc_sim_raft_link(s, f, leader, true);
    assert_true(lc_sim_wait_read(s, r, 1000));
    assert_int_equal(r->status, 0);
    assert_true(r->applied >= index);
    assert_int_equal(s->nodes[f].sm.values[index], 41);
}

/* A read whose forwarded barrier loses its connection is retried (a read is
 * safe to repeat), not failed. */
static void test_read_retried_after_connection_lost(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned f = (leader + 1) % s->n;
    struct lc_sim_read *r;

    lc_sim_blackhole(s, leader, f, true);
    r = lc_sim_read(s, f);
    lc_sim_run_for(s, 100);
    lc_sim_link(s, f, leader, false);
    assert_int_equal(r->n_cb, 0);
    lc_sim_blackhole(s, leader, f, false);
    lc_sim_link(s, f, leader, true);
    assert_true(lc_sim_wait_read(s, r, 1000));
    assert_int_equal(r->status, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_write_on_leader, lc_sim_teardown),
        cmocka_unit_test_teardown(test_write_forwarded, lc_sim_teardown),
        cmocka_unit_test_teardown(test_write_refused_by_state_machine,
                                  lc_sim_teardown),
        cmocka_unit_test_teardown(test_not_ready, lc_sim_teardown),
        cmocka_unit_test_teardown(test_write_waits_for_leader, lc_sim_teardown),
        cmocka_unit_test_teardown(test_write_times_out, lc_sim_teardown),
        cmocka_unit_test_teardown(test_write_connection_lost, lc_sim_teardown),
        cmocka_unit_test_teardown(test_write_leadership_lost, lc_sim_teardown),
        cmocka_unit_test_teardown(test_write_leader_moved, lc_sim_teardown),
        cmocka_unit_test_teardown(test_read_on_follower, lc_sim_teardown),
        cmocka_unit_test_teardown(test_read_retried_after_connection_lost,
                                  lc_sim_teardown),
    };
    lc_log_set_level(LC_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
