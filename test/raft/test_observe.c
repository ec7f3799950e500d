/* raft/observe.c on simulated engines (test/support/engine_sim.h): leader
 * tracking, elections counted, readiness (leader_ready, caught_up), and what
 * the network layer's peer_down and peer_up set off: fast failover, and
 * requests that waited for a link. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "test/support/engine_sim.h"

#define ELECTION LC_SIM_ELECTION_TIMEOUT_MS

static bool has_leader_except(struct lc_sim *s, void *arg)
{
    unsigned old = *(unsigned *)arg;
    unsigned leader = lc_sim_leader(s);
    return leader < s->n && leader != old;
}

static bool any_leader(struct lc_sim *s, void *arg)
{
    (void)arg;
    return lc_sim_leader(s) < s->n;
}

/* Every member knows the leader, its address and id; only the leader is
 * ready as one; nobody counts the first leader as an election. */
static void test_leader_tracking(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    struct lc_raft_group_status st;

    for (unsigned i = 0; i < s->n; i++) {
        lc_sim_status(s, i, &st);
        assert_string_equal(st.name, LC_SIM_GROUP);
        assert_string_equal(st.state, i == leader ? "leader" : "follower");
        assert_string_equal(st.leader, lc_sim_address(s, leader));
        assert_int_equal(st.leader_id, lc_sim_raft(s, leader)->id);
        assert_int_equal(st.elections, 0);
        assert_int_equal(st.last_election_ms, -1);
        assert_true(st.caught_up);
        assert_int_equal(st.leader_ready, i == leader);
        assert_int_equal(st.n_members, 3);
        for (unsigned k = 0; k < st.n_members; k++) {
            assert_true(st.members[k].link_up);
            assert_int_equal(st.members[k].leader,
                             st.members[k].id == st.leader_id);
            if (i == leader && !st.members[k].self) {
                assert_true(st.members[k].match_index >= st.applied_index);
                assert_true(st.members[k].last_contact_ms >= 0);
                assert_true(st.members[k].last_contact_ms <=
                            LC_SIM_HEARTBEAT_MS + 50);
            }
        }
        assert_true(lc_raft_engine_healthy(lc_sim_engine(s, i)));
    }
}

/* A new leader is not ready until the barrier it appends is applied: until
 * then it holds consistent reads. */
static void test_leader_ready_after_barrier(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    struct lc_raft_group_status st;
    unsigned leader;
    uint64_t index;

    assert_true(lc_sim_step_until(s, any_leader, NULL, 5000));
    leader = lc_sim_leader(s);
    lc_sim_status(s, leader, &st);
    assert_string_equal(st.state, "leader");
    assert_false(st.leader_ready);
    assert_false(st.caught_up);
    index = raft_last_index(lc_sim_raft(s, leader)); /* the barrier */
    lc_sim_wait_ready(s, 2000);
    lc_sim_status(s, leader, &st);
    assert_true(st.leader_ready);
    assert_true(st.applied_index >= index);
    for (unsigned i = 0; i < s->n; i++) {
        assert_true(lc_raft_engine_caught_up(lc_sim_engine(s, i)));
    }
}

/* The leader dies: the survivors elect another after an election timeout
 * and count it, with the gap; readiness stays latched; the old leader comes
 * back as a follower and counts the change too. */
static void test_elections_counted(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, false);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    struct lc_raft_group_status st;
    unsigned next;

    lc_sim_kill(s, leader);
    assert_true(lc_sim_step_until(s, has_leader_except, &leader, 5000));
    next = lc_sim_leader(s);
    lc_sim_run_for(s, 500);
    for (unsigned i = 0; i < s->n; i++) {
        if (i == leader) {
            continue;
        }
        lc_sim_status(s, i, &st);
        assert_string_equal(st.leader, lc_sim_address(s, next));
        assert_int_equal(st.elections, 1);
        assert_true(st.last_election_ms >= ELECTION);
        assert_true(st.last_election_ms < 3 * ELECTION);
        assert_true(st.caught_up);
        assert_true(lc_raft_engine_caught_up(lc_sim_engine(s, i)));
        assert_true(lc_raft_engine_healthy(lc_sim_engine(s, i)));
        assert_int_equal(st.leader_ready, i == next);
    }

    lc_sim_revive(s, leader);
    lc_sim_run_for(s, 1000);
    lc_sim_status(s, leader, &st);
    assert_string_equal(st.state, "follower");
    assert_string_equal(st.leader, lc_sim_address(s, next));
    assert_int_equal(st.elections, 1);
    assert_false(st.leader_ready);
    assert_int_equal(lc_sim_leader(s), next);
}

/* Fast failover: when the leader's process dies, the peer channel says so
 * at once; the first survivor by rank starts an election right away, with a
 * short timeout, the next waits its turn; a new leader is there long before
 * an election timeout. */
static void test_fast_failover(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned a = (leader + 1) % s->n;
    unsigned b = lc_sim_other(s, leader, a);
    unsigned first = lc_sim_raft(s, a)->id < lc_sim_raft(s, b)->id ? a : b;
    unsigned second = first == a ? b : a;
    uint64_t killed_at;
    raft_id id;
    const char *address;

    lc_sim_kill(s, leader);
    killed_at = lc_sim_now(s);
    /* No time has passed: rank 0 is already a candidate. */
    assert_int_equal(s->nodes[first].n_peer_down, 1);
    assert_int_equal(raft_state(lc_sim_raft(s, first)), RAFT_CANDIDATE);
    assert_int_equal(lc_sim_raft(s, first)->election_timeout, 3 * 100);
    /* Rank 1 forgot the dead leader and waits its 30 ms. */
    assert_int_equal(raft_state(lc_sim_raft(s, second)), RAFT_FOLLOWER);
    raft_leader(lc_sim_raft(s, second), &id, &address);
    assert_int_equal(id, 0);
    assert_true(lc_sim_group(s, second)->fast_mode);

    assert_true(lc_sim_step_until(s, has_leader_except, &leader, 5000));
    assert_true(lc_sim_now(s) - killed_at < ELECTION / 2);
    assert_int_equal(lc_sim_leader(s), first);
    lc_sim_run_for(s, 200);
    /* Back to the configured timeout once a leader is known. */
    assert_int_equal(lc_sim_raft(s, first)->election_timeout, ELECTION);
    assert_int_equal(lc_sim_raft(s, second)->election_timeout, ELECTION);
    assert_false(lc_sim_group(s, second)->fast_mode);
}

/* The same death without fast failover: nothing happens until an election
 * timeout has passed. */
static void test_no_fast_failover(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, false);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    uint64_t killed_at;

    lc_sim_kill(s, leader);
    killed_at = lc_sim_now(s);
    for (unsigned i = 0; i < s->n; i++) {
        if (i != leader) {
            assert_int_equal(raft_state(lc_sim_raft(s, i)), RAFT_FOLLOWER);
            assert_int_equal(s->nodes[i].n_peer_down, 1);
        }
    }
    assert_true(lc_sim_step_until(s, has_leader_except, &leader, 5000));
    assert_true(lc_sim_now(s) - killed_at >= ELECTION);
}

/* The peer link to a live leader drops (not its process): the follower
 * forgets the leader and asks for votes, but with pre-vote the others, who
 * still hear the leader, refuse: the leader keeps its term. */
static void test_fast_failover_false_alarm(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned f = (leader + 1) % s->n;
    raft_term term = lc_sim_raft(s, leader)->current_term;
    struct lc_raft_group_status st;

    lc_sim_link(s, f, leader, false);
    lc_sim_run_for(s, 3 * ELECTION);
    assert_int_equal(lc_sim_leader(s), leader);
    for (unsigned i = 0; i < s->n; i++) {
        assert_int_equal(lc_sim_raft(s, i)->current_term, term);
    }
    lc_sim_status(s, f, &st);
    assert_string_equal(st.state, "follower");
    assert_string_equal(st.leader, lc_sim_address(s, leader));
    lc_sim_status(s, leader, &st);
    assert_int_equal(st.elections, 0);
}

/* A peer that is not the leader going down changes nothing. */
static void test_peer_down_not_leader(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned f = (leader + 1) % s->n;
    unsigned g = lc_sim_other(s, leader, f);
    raft_id id;
    const char *address;
    struct lc_raft_group_status st;

    lc_sim_link(s, f, g, false);
    assert_int_equal(s->nodes[f].n_peer_down, 1);
    assert_false(
        lc_raft_engine_peer_up(lc_sim_engine(s, f), lc_sim_address(s, g)));
    assert_true(
        lc_raft_engine_peer_up(lc_sim_engine(s, f), lc_sim_address(s, f)));
    lc_sim_status(s, f, &st);
    for (unsigned k = 0; k < st.n_members; k++) {
        assert_int_equal(st.members[k].link_up,
                         strcmp(st.members[k].address, lc_sim_address(s, g)) !=
                             0);
    }
    assert_int_equal(raft_state(lc_sim_raft(s, f)), RAFT_FOLLOWER);
    raft_leader(lc_sim_raft(s, f), &id, &address);
    assert_int_equal(id, lc_sim_raft(s, leader)->id);
    assert_int_equal(lc_sim_raft(s, f)->election_timeout, ELECTION);
    assert_false(lc_sim_group(s, f)->fast_mode);
}

/* A write waiting because the link to the leader is down goes out as soon
 * as the network layer says the link is back (peer_up), not at the next
 * raft event. */
static void test_peer_up_releases_waiting(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, false);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned f = (leader + 1) % s->n;
    unsigned long served = s->nodes[leader].n_served;
    struct lc_sim_write *w;

    lc_sim_link(s, f, leader, false);
    w = lc_sim_write(s, f, 77);
    lc_sim_run_for(s, 500);
    assert_int_equal(w->n_cb, 0);
    assert_int_equal(s->nodes[leader].n_served, served);
    lc_sim_link(s, f, leader, true);
    /* Sent from inside the peer_up report: already on its way. */
    lc_sim_run_for(s, LC_SIM_NET_LATENCY_MS);
    assert_int_equal(s->nodes[leader].n_served, served + 1);
    assert_true(lc_sim_wait_write(s, w, 1000));
    assert_int_equal(w->status, 0);
}

static bool not_leader(struct lc_sim *s, void *arg)
{
    return raft_state(lc_sim_raft(s, *(unsigned *)arg)) != RAFT_LEADER;
}

/* A leader cut off from raft's traffic, with nothing closed (the peer
 * channel stays up: a partition of the raft port, a frozen process): it
 * steps down one election timeout after it last heard a majority
 * (check-quorum), and the followers elect one of them about as soon (the
 * failure detector), instead of after one to two timeouts of raft's own
 * randomised timer plus refused votes. Exactly one election. */
static void test_silent_leader_replaced(void **state)
{
    struct lc_sim *s = lc_sim_new3(state, true);
    unsigned leader = lc_sim_wait_ready(s, 10000);
    unsigned a = (leader + 1) % s->n;
    unsigned b = lc_sim_other(s, leader, a);
    struct lc_raft_group_status st;
    uint64_t elections;
    uint64_t cut;

    lc_sim_status(s, a, &st);
    elections = st.elections;
    lc_sim_raft_link(s, leader, a, false);
    lc_sim_raft_link(s, leader, b, false);
    cut = lc_sim_now(s);
    assert_true(lc_sim_step_until(s, has_leader_except, &leader, 5000));
    assert_true(lc_sim_now(s) - cut <= ELECTION + 150);
    assert_true(lc_sim_step_until(s, not_leader, &leader, 5000));
    assert_true(lc_sim_now(s) - cut <= ELECTION + LC_SIM_HEARTBEAT_MS);
    lc_sim_run_for(s, 2 * ELECTION);
    lc_sim_status(s, a, &st);
    assert_int_equal(st.elections, elections + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_leader_tracking, lc_sim_teardown),
        cmocka_unit_test_teardown(test_leader_ready_after_barrier,
                                  lc_sim_teardown),
        cmocka_unit_test_teardown(test_elections_counted, lc_sim_teardown),
        cmocka_unit_test_teardown(test_fast_failover, lc_sim_teardown),
        cmocka_unit_test_teardown(test_no_fast_failover, lc_sim_teardown),
        cmocka_unit_test_teardown(test_fast_failover_false_alarm,
                                  lc_sim_teardown),
        cmocka_unit_test_teardown(test_peer_down_not_leader, lc_sim_teardown),
        cmocka_unit_test_teardown(test_peer_up_releases_waiting,
                                  lc_sim_teardown),
        cmocka_unit_test_teardown(test_silent_leader_replaced,
                                  lc_sim_teardown),
    };
    lc_log_set_level(LC_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
