/* A follower whose snapshot is newer than where the leader probes from.
 *
 * canonical/raft 0.15 loops forever there: the follower answers the leader's
 * older InstallSnapshot with a no-op that reports the leader's snapshot index
 * as matched, then rejects the next AppendEntries because that index is
 * compacted on its side, and the leader goes back to the snapshot.
 * raft/observe.c's lc_observe_fix_append() rewrites such an AppendEntries to
 * start at the follower's snapshot. These tests run the scenario on
 * canonical/raft's fixture, with and without the rewrite on the followers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <raft.h>
#include <raft/fixture.h>

#include "raft/internal.h"

#define N 3

/* A counter state machine: each entry adds its first 8 bytes. */
struct counter {
    uint64_t sum;
    unsigned applied;
};

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
                     void **result)
{
    struct counter *c = fsm->data;
    uint64_t v;
    memcpy(&v, buf->base, sizeof v);
    c->sum += v;
    c->applied++;
    *result = NULL;
    return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[],
                        unsigned *n)
{
    struct counter *c = fsm->data;
    *bufs = raft_malloc(sizeof **bufs);
    (*bufs)[0].len = sizeof c->sum;
    (*bufs)[0].base = raft_malloc(sizeof c->sum);
    memcpy((*bufs)[0].base, &c->sum, sizeof c->sum);
    *n = 1;
    return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct counter *c = fsm->data;
    memcpy(&c->sum, buf->base, sizeof c->sum);
    raft_free(buf->base);
    return 0;
}

/* The rewrite, hooked in front of raft's recv on every server. */
struct hook {
    raft_io_recv_cb recv;
    int (*start)(struct raft_io *, unsigned, raft_io_tick_cb, raft_io_recv_cb);
    bool fix;
    unsigned rewrites;
};

static struct hook hooks[N];
static struct raft_fixture f;
static bool f_open;
static struct counter counters[N];
static struct raft_fsm fsms[N];

static unsigned server_of(struct raft_io *io)
{
    for (unsigned i = 0; i < N; i++) {
        if (&f.servers[i].io == io) {
            return i;
        }
    }
    fail_msg("unknown io");
    return 0;
}

static void hooked_recv(struct raft_io *io, struct raft_message *m)
{
    unsigned i = server_of(io);
    struct raft *r = raft_fixture_get(&f, i);
    if (hooks[i].fix && lc_observe_fix_append(r, m)) {
        hooks[i].rewrites++;
    }
    hooks[i].recv(io, m);
}

static int hooked_start(struct raft_io *io, unsigned msecs,
                        raft_io_tick_cb tick, raft_io_recv_cb recv)
{
    unsigned i = server_of(io);
    hooks[i].recv = recv;
    return hooks[i].start(io, msecs, tick, hooked_recv);
}

static void on_applied(struct raft_apply *req, int status, void *result)
{
    (void)status;
    (void)result;
    free(req);
}

static void apply_one(unsigned leader, uint64_t v)
{
    struct raft_apply *req = calloc(1, sizeof *req);
    struct raft_buffer buf;
    buf.len = 8;
    buf.base = raft_malloc(8);
    memcpy(buf.base, &v, 8);
    req->data = req;
    assert_int_equal(raft_apply(raft_fixture_get(&f, leader), req, &buf, 1,
                                on_applied),
                     0);
}

/* The follower applied the entry appended after the gap was made. */
static raft_index target;

static bool follower_caught_up(struct raft_fixture *fx, void *arg)
{
    unsigned i = *(unsigned *)arg;
    unsigned l = raft_fixture_leader_index(fx);
    return l < N && raft_fixture_get(fx, l)->last_applied >= target &&
           raft_fixture_get(fx, i)->last_applied >= target &&
           counters[i].sum == counters[l].sum;
}

/* Build the gap: follower 2 misses entries while down, the leader compacts
 * (snapshot at a low index), follower 2 catches up from the log and then
 * snapshots at a higher index than the leader's; finally the leader forgets
 * where follower 2 is and probes from its own snapshot index. */
static unsigned build_gap(bool fix)
{
    struct raft_configuration conf;
    unsigned victim = 2;
    unsigned leader;

    memset(hooks, 0, sizeof hooks);
    memset(counters, 0, sizeof counters);
    memset(&f, 0, sizeof f);
    assert_int_equal(raft_fixture_initialize(&f), 0);
    f_open = true;
    for (unsigned i = 0; i < N; i++) {
        fsms[i].version = 1;
        fsms[i].data = &counters[i];
        fsms[i].apply = fsm_apply;
        fsms[i].snapshot = fsm_snapshot;
        fsms[i].restore = fsm_restore;
        assert_int_equal(raft_fixture_grow(&f, &fsms[i]), 0);
        hooks[i].fix = fix;
        hooks[i].start = f.servers[i].io.start;
        f.servers[i].io.start = hooked_start;
    }
    assert_int_equal(raft_fixture_configuration(&f, N, &conf), 0);
    assert_int_equal(raft_fixture_bootstrap(&f, &conf), 0);
    raft_configuration_close(&conf);
    assert_int_equal(raft_fixture_start(&f), 0);
    raft_fixture_elect(&f, 0);
    leader = 0;

    /* The leader snapshots every 20 entries keeping 5; the victim every 10
     * keeping 2, so its snapshots run ahead of the leader's. */
    raft_set_snapshot_threshold(raft_fixture_get(&f, 0), 20);
    raft_set_snapshot_trailing(raft_fixture_get(&f, 0), 5);
    raft_set_snapshot_threshold(raft_fixture_get(&f, 1), 20);
    raft_set_snapshot_trailing(raft_fixture_get(&f, 1), 5);
    raft_set_snapshot_threshold(raft_fixture_get(&f, victim), 10);
    raft_set_snapshot_trailing(raft_fixture_get(&f, victim), 2);

    for (uint64_t v = 1; v <= 25; v++) {
        apply_one(leader, v);
    }
    assert_true(raft_fixture_step_until_applied(&f, N, 26, 5000));
    for (uint64_t v = 26; v <= 37; v++) {
        apply_one(leader, v);
    }
    assert_true(raft_fixture_step_until_applied(&f, N, 38, 5000));
    raft_fixture_step_until_elapsed(&f, 500); /* let snapshots land */

    struct raft *lr = raft_fixture_get(&f, leader);
    struct raft *vr = raft_fixture_get(&f, victim);
    print_message("leader snapshot %llu, follower snapshot %llu\n",
                  lr->log.snapshot.last_index, vr->log.snapshot.last_index);
    assert_true(vr->log.snapshot.last_index > lr->log.snapshot.last_index);

    /* The leader probes the victim from its own snapshot index, below the
     * victim's snapshot (as after the victim was unreachable and its
     * progress reset). Cut the link first so that no answer in flight
     * moves the progress back. */
    raft_fixture_disconnect(&f, leader, victim);
    raft_fixture_disconnect(&f, victim, leader);
    raft_fixture_step_until_elapsed(&f, 300);
    for (unsigned i = 0; i < lr->configuration.n; i++) {
        if (lr->configuration.servers[i].id == vr->id) {
            lr->leader_state.progress[i].state = 0; /* PROBE */
            lr->leader_state.progress[i].next_index =
                lr->log.snapshot.last_index + 1;
            lr->leader_state.progress[i].match_index = 0;
        }
    }
    raft_fixture_reconnect(&f, leader, victim);
    raft_fixture_reconnect(&f, victim, leader);
    target = raft_last_index(lr) + 1;
    apply_one(leader, 1000);
    return victim;
}

static void test_gap_converges_with_rewrite(void **state)
{
    unsigned victim;
    (void)state;
    victim = build_gap(true);
    assert_true(raft_fixture_step_until(&f, follower_caught_up, &victim,
                                        10000));
    assert_true(hooks[victim].rewrites > 0);
}

/* Without the rewrite 0.15 never gets there: this documents the defect (if
 * it starts converging, a newer library fixed it and the rewrite can go). */
static void test_gap_loops_without_rewrite(void **state)
{
    unsigned victim;
    (void)state;
    victim = build_gap(false);
    assert_false(raft_fixture_step_until(&f, follower_caught_up, &victim,
                                         10000));
}

static int teardown(void **state)
{
    (void)state;
    if (f_open) {
        raft_fixture_close(&f);
        f_open = false;
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_gap_loops_without_rewrite, teardown),
        cmocka_unit_test_teardown(test_gap_converges_with_rewrite, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
