/* Deterministic engine tests: n real engines (raft/engine.h) in one process,
 * each with one group, whose raft instances are servers of canonical/raft's
 * fixture and whose network layer is an in-process simulation of the peer
 * channel (raft/net.h), all on one simulated clock: the fixture's.
 *
 * The engines run the daemon's code (forwarding, admin commands, leader
 * tracking, fast failover); only what they run on differs (struct
 * lc_engine_env, lc_group_attach). Time moves only when the simulation
 * steps: the fixture's next event (a tick, a message, a disk write), then
 * every engine timer and peer-channel message due by then, each followed by
 * the engines' deferred work (their uv_check handles, the one thing left for
 * the libuv loop to run). One more fixture server, in no configuration,
 * ticks every millisecond, so nothing runs more than 1 ms after its time.
 * Nothing waits on the wall clock or opens a socket.
 *
 * The peer channel: member i's link to member j is up or down (lc_sim_link).
 * A link going down fails i's calls to j with LC_ECONN and tells i's engine
 * (peer_down), as a closed TCP connection does; coming up tells it
 * (peer_up). A blackholed link (lc_sim_blackhole) stays up but loses what is
 * sent on it, as a partition TCP has not noticed yet. Messages go through the
 * protobuf codec and arrive LC_SIM_NET_LATENCY_MS later, in order.
 *
 * Addresses are "127.0.0.1:700<i+1>" and raft ids i + 1 (the fixture routes
 * by id): the harness renames the fixture's servers before they start.
 *
 * Requests (writes, reads, admin commands) are allocated by the simulation
 * and freed by lc_sim_free, after every engine closed: a callback that fires
 * after a test gave up on it lands in live memory.
 */
#ifndef LC_TEST_ENGINE_SIM_H
#define LC_TEST_ENGINE_SIM_H

#include <raft.h>
#include <raft/fixture.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "raft/internal.h"

#define LC_SIM_MAX 5
#define LC_SIM_GROUP "g"
#define LC_SIM_NET_LATENCY_MS 1
#define LC_SIM_RPC_TIMEOUT_MS 2000
#define LC_SIM_ELECTION_TIMEOUT_MS 1000
#define LC_SIM_HEARTBEAT_MS 100

/* Commands whose value is at least this are refused by the state machine
 * (status LC_EINVAL, message "refused <value>"), still taking an index. */
#define LC_SIM_REFUSE 1000000
#define LC_SIM_MAX_INDEX 4096

struct lc_sim;
struct lc_sim_event;

/* A member's state machine: what it applied, by index. */
struct lc_sim_sm {
    struct lc_raft_sm sm;
    uint64_t values[LC_SIM_MAX_INDEX]; /* 0: no command at that index */
    uint64_t last_index;               /* of the last command applied */
    unsigned long n_applied;
    unsigned long n_snapshots; /* images written */
    unsigned long n_restores;
};

/* A member: its engine and group, and what the engine registered with its
 * (simulated) network layer. */
struct lc_sim_node {
    struct lc_sim *sim;
    unsigned i;
    char address[LC_NET_ADDR_MAX];
    struct lc_raft_engine *e;
    struct lc_raft_group *g;
    struct lc_net *net;        /* the engine's, filled by the simulation */
    struct lc_net_cbs cbs;     /* what the engine reports to */
    struct lc_net_call *calls; /* in flight from this member, by corr */
    uint64_t next_corr;
    bool dead;
    bool net_closed;
    bool engine_closed;
    struct lc_sim_sm sm;
    unsigned long n_served;    /* peer requests delivered to this engine */
    unsigned long n_peer_down; /* peer_down callbacks it got */
    unsigned long n_peer_up;
};

struct lc_sim {
    uv_loop_t loop;
    struct raft_fixture f;
    unsigned n;
    struct lc_sim_node nodes[LC_SIM_MAX];
    bool link[LC_SIM_MAX][LC_SIM_MAX];      /* i's link to j is up */
    bool blackhole[LC_SIM_MAX][LC_SIM_MAX]; /* what i sends j is lost */
    uint64_t epoch[LC_SIM_MAX][LC_SIM_MAX]; /* bumped when a link comes up */
    struct lc_sim_event *events; /* by due time, then in order queued */
    uint64_t seq;
    unsigned long n_messages; /* peer-channel messages delivered */
    void **owned;             /* requests, freed by lc_sim_free */
    size_t n_owned;
};

struct lc_sim_options {
    unsigned n;         /* members, 1..LC_SIM_MAX */
    bool fast_failover; /* lc_raft_options.fast_failover */
};

/* Create and start @o->n members (bootstrapped voters; no leader yet).
 * Fails the test on error. */
struct lc_sim *lc_sim_new(const struct lc_sim_options *o);
/* Three members (lc_sim_new), kept in *@state for lc_sim_teardown. */
struct lc_sim *lc_sim_new3(void **state, bool fast_failover);
/* The member that is neither @a nor @b (of three). */
unsigned lc_sim_other(const struct lc_sim *s, unsigned a, unsigned b);
/* Close the fixture (it owns the raft instances), then every engine; check
 * that each closed and the loop has nothing left; free everything. */
void lc_sim_free(struct lc_sim *s);
/* cmocka teardown for a state holding an lc_sim. */
int lc_sim_teardown(void **state);

uint64_t lc_sim_now(const struct lc_sim *s);
struct raft *lc_sim_raft(struct lc_sim *s, unsigned i);
struct lc_raft_engine *lc_sim_engine(struct lc_sim *s, unsigned i);
struct lc_raft_group *lc_sim_group(struct lc_sim *s, unsigned i);
const char *lc_sim_address(const struct lc_sim *s, unsigned i);
void lc_sim_status(struct lc_sim *s, unsigned i,
                   struct lc_raft_group_status *st);

/* One step: the fixture's next event, then what is due by then. */
void lc_sim_step(struct lc_sim *s);
/* Step until @cond holds (checked before each step) or @max_ms pass; return
 * whether it holds. */
bool lc_sim_step_until(struct lc_sim *s, bool (*cond)(struct lc_sim *, void *),
                       void *arg, unsigned max_ms);
void lc_sim_run_for(struct lc_sim *s, unsigned ms);
/* Step until a live member leads with its barrier applied, every live member
 * follows it, and every live engine is caught up; return the leader. Fails
 * the test after @max_ms. */
unsigned lc_sim_wait_ready(struct lc_sim *s, unsigned max_ms);
/* The live member in raft's leader state with the highest term, or s->n. */
unsigned lc_sim_leader(struct lc_sim *s);

/* Member i's link to member j up or down (j is told nothing). */
void lc_sim_link(struct lc_sim *s, unsigned i, unsigned j, bool up);
void lc_sim_link_both(struct lc_sim *s, unsigned i, unsigned j, bool up);
/* What i sends to j is lost, or no longer (the link stays up). */
void lc_sim_blackhole(struct lc_sim *s, unsigned i, unsigned j, bool on);
/* Raft's own messages between i and j (the fixture's network), both ways. */
void lc_sim_raft_link(struct lc_sim *s, unsigned i, unsigned j, bool up);
/* Member i's process dies: its raft stops, every link to and from it drops.
 * lc_sim_revive brings both back. */
void lc_sim_kill(struct lc_sim *s, unsigned i);
void lc_sim_revive(struct lc_sim *s, unsigned i);

/* ------------------------------------------------------------- requests */

struct lc_sim_write {
    struct lc_raft_write w;
    struct lc_sim *sim;
    int rv;                /* what lc_raft_group_write returned */
    unsigned n_cb;         /* callbacks so far (must end at 1) */
    unsigned n_cb_in_call; /* callbacks from inside the call (must be 0) */
    int status;
    struct lc_raft_result result;
    uint64_t done_at; /* simulated time of the callback */
};

/* Submit the command @value on member @i (see rv). */
struct lc_sim_write *lc_sim_write(struct lc_sim *s, unsigned i, uint64_t value);
/* Step until @w's callback fired (true) or @max_ms pass (false). */
bool lc_sim_wait_write(struct lc_sim *s, struct lc_sim_write *w,
                       unsigned max_ms);

struct lc_sim_read {
    struct lc_raft_read r;
    int rv;
    unsigned n_cb;
    unsigned n_cb_in_call;
    int status;
    uint64_t applied; /* the member's last applied index at the callback */
};

struct lc_sim_read *lc_sim_read(struct lc_sim *s, unsigned i);
bool lc_sim_wait_read(struct lc_sim *s, struct lc_sim_read *r, unsigned max_ms);

struct lc_sim_admin {
    struct lc_raft_admin a;
    int rv;
    char errmsg[256]; /* when rv != 0 */
    unsigned n_cb;
    unsigned n_cb_in_call;
    int status;
    char message[256];
};

struct lc_sim_admin *lc_sim_admin(struct lc_sim *s, unsigned i,
                                  const char *command, const char *value);
bool lc_sim_wait_admin(struct lc_sim *s, struct lc_sim_admin *a,
                       unsigned max_ms);

/* ------------------------------------- between engine_sim.c and sim_net.c */

/* @n's engine runs on the simulated network layer and clock. */
void lc_sim__env(struct lc_sim_node *n, struct lc_engine_env *env);
/* The engines' deferred work (their uv_check handles), until it settles. */
void lc_sim__run_checks(struct lc_sim *s);
/* Every event due by now, each followed by the deferred work. */
void lc_sim__run_due(struct lc_sim *s);
/* Every event, due or not (closing). */
void lc_sim__drain(struct lc_sim *s);
void lc_sim__drop_events(struct lc_sim *s);

#endif /* LC_TEST_ENGINE_SIM_H */
