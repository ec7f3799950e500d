/* Private structures of the raft engine, shared by the files of raft/. */
#ifndef LC_RAFT_INTERNAL_H
#define LC_RAFT_INTERNAL_H

#include <raft.h>
#include <raft/uv.h>
#include <uthash.h>

#include "raft/engine.h"
#include "raft/net.h"

_Static_assert(LC_NET_ADDR_MAX == LC_RAFT_ADDR_MAX, "one address size");
_Static_assert(LC_NET_CHANNEL_MAX == LC_RAFT_GROUP_MAX, "one group size");

/* ------------------------------------------------------------ environment */

/* What an engine runs on, for lc_engine_new_on(). The daemon takes the
 * defaults (lc_raft_engine_new): the network layer on the raft port, the
 * loop's clock, raft_uv groups. Deterministic tests run engines on an
 * in-process peer channel and a simulated clock, their groups on
 * canonical/raft's fixture (lc_group_attach); see test/support/engine_sim.c.
 * Every member may be NULL: the default. */
struct lc_engine_env {
    void *data;
    /* Fill @net with the engine's network layer, reporting to @cbs (copy
     * it). Return 0 or an LC_E* code. */
    int (*net_init)(void *data, struct lc_net *net,
                    const struct lc_net_cbs *cbs);
    /* Milliseconds on the engine's clock (the loop's: uv_now). */
    uint64_t (*now)(void *data);
    /* Run @cb on @t (initialised on the engine's loop) after @timeout ms of
     * that clock, then every @repeat ms if non-zero; stop it. */
    void (*timer_start)(void *data, uv_timer_t *t, uv_timer_cb cb,
                        uint64_t timeout, uint64_t repeat);
    void (*timer_stop)(void *data, uv_timer_t *t);
};

/* lc_raft_engine_new() on @env (copied; NULL for the defaults). */
int lc_engine_new_on(uv_loop_t *loop, const struct lc_raft_options *opts,
                     const struct lc_engine_env *env,
                     struct lc_raft_engine **out, char *errmsg,
                     size_t errlen);

/* ----------------------------------------------------------------- groups */

enum lc_req_kind { LC_REQ_WRITE = 1, LC_REQ_READ = 2 };

enum lc_req_state {
    LC_REQ_IDLE = 0,
    LC_REQ_WAIT_LEADER, /* no usable leader yet */
    LC_REQ_PENDING,     /* on the leader, waiting for the next batch */
    LC_REQ_APPLYING,    /* appended on the leader, waiting to be applied */
    LC_REQ_BARRIER,     /* read: in a barrier batch raft holds */
    LC_REQ_FORWARDED,   /* sent to the leader, waiting for its answer */
    LC_REQ_WAIT_APPLY,  /* leader answered; waiting to apply locally */
};

/* Intrusive request list. */
struct lc_req_list {
    struct lc_raft__req *head, *tail;
    unsigned n;
};

/* Everything that is rebuilt when a group restarts: normally a raft instance
 * of its own on raft_uv with our transport; for a group attached to someone
 * else's instance (lc_group_attach), just the pointers to it. The instance's
 * data points here. */
struct lc_incarnation {
    struct lc_raft_group *group;
    struct raft *raft;  /* &own_raft, or the attached instance */
    struct raft_io *io; /* its io */
    bool attached;      /* *raft belongs to someone else */
    struct raft own_raft;
    struct raft_io own_io;
    struct raft_uv_transport transport;
    struct lc_net_transport tr;
    bool tr_inited;
    /* raft_io methods we wrap, and the callbacks raft gave io->start */
    int (*orig_start)(struct raft_io *, unsigned, raft_io_tick_cb,
                      raft_io_recv_cb);
    int (*orig_append)(struct raft_io *, struct raft_io_append *,
                       const struct raft_entry[], unsigned,
                       raft_io_append_cb);
    int (*orig_load)(struct raft_io *, raft_term *, raft_id *,
                     struct raft_snapshot **, raft_index *,
                     struct raft_entry **, size_t *);
    int (*orig_snapshot_put)(struct raft_io *, unsigned,
                             struct raft_io_snapshot_put *,
                             const struct raft_snapshot *,
                             raft_io_snapshot_put_cb);
    int (*orig_send)(struct raft_io *, struct raft_io_send *,
                     const struct raft_message *, raft_io_send_cb);
    raft_io_tick_cb tick;
    raft_io_recv_cb recv;
    void (*orig_close)(struct raft_io *, raft_io_close_cb);
    raft_io_close_cb close_cb; /* raft's; called once (observe.c) */
    bool closing;              /* raft_uv's close has been called */
    bool close_fired;
    struct lc_incarnation *next_closed; /* lc_raft_free_closed's list */
    bool io_inited;
    bool raft_inited;
    bool started;
};

/* Last time a member replied to us (leader view). */
struct lc_contact {
    raft_id id;
    uint64_t at;
};

struct lc_admin_op;

struct lc_raft_group {
    struct lc_raft_engine *e;
    char name[LC_RAFT_GROUP_MAX];
    char dir[1200];
    struct lc_raft_sm *sm;
    struct raft_fsm fsm;        /* every incarnation's glue to @sm */
    struct raft *attach;        /* lc_group_attach()'s, until start */
    struct lc_incarnation *inc; /* NULL while restarting or closed */

    bool closing;
    bool restarting;
    uint64_t restarts;
    uint64_t last_restart_at;
    uint64_t skip_through;   /* entries <= this are already in the sm */
    uint64_t restore_hint;   /* index of the snapshot being restored */
    struct raft_configuration *recover_conf; /* resetPeers, on restart */
    struct lc_admin_op *restart_waiter;

    /* requests */
    uv_check_t flush_check;
    bool flush_active;
    struct lc_req_list pending;     /* leader: waiting for the next batch */
    struct lc_req_list applying;    /* leader: appended, ordered by index */
    struct lc_req_list wait_leader; /* no usable leader */
    struct lc_req_list forwarded;   /* sent to the leader */
    struct lc_req_list pending_reads; /* leader: waiting for a barrier */
    struct lc_req_list wait_apply;  /* ordered by index */

    /* observation (observe.c) */
    int obs_state;
    raft_id obs_leader;
    char obs_leader_addr[LC_RAFT_ADDR_MAX];
    uint64_t obs_term;
    bool obs_transfer;
    uint64_t last_leader_contact; /* follower: last AppendEntries */
    uint64_t leader_lost_at;      /* when the previous leader was last heard */
    uint64_t elections;
    int64_t last_election_ms;
    bool seen_leader;
    struct lc_contact contacts[LC_RAFT_MAX_MEMBERS];
    unsigned n_contacts;

    /* leader: a follower waits to apply what was just committed */
    bool commit_notify;
    /* leader: a follower rejected a probe; resend now, not next heartbeat */
    raft_id probe_retry;

    /* leadership */
    struct raft_barrier leader_barrier;
    bool leader_barrier_pending;
    bool leader_ready;

    /* catch-up at start */
    bool caught_up;
    bool catchup_reading; /* follower: catchup_read in flight */
    struct lc_raft_read catchup_read;

    /* fast failover and the failure detector (observe.c) */
    bool fast_mode;
    uv_timer_t fast_timer;
    uv_timer_t watch_timer;  /* follower: fires when the leader is overdue */
    uint64_t last_tick_at;   /* loop time of the last raft tick */
    uint64_t judge_from;     /* no timing verdicts before (loop stalled) */
    uint64_t leader_since;   /* leader: when this node became leader */
    raft_id counted_leader;  /* last leader counted in `elections` */
    uint64_t counted_term;
    uv_timer_t restart_timer;

    /* snapshots */
    struct lc_raft_snapshot_info snap;
    void *snap_frozen;
    uint64_t snap_index;
    uint64_t snap_term;
    size_t snap_size;
    uint64_t snap_take_us;  /* freeze on the loop */
    uint64_t snap_start_us; /* freeze started */
    bool snap_forced; /* threshold lowered to force one */
    struct lc_admin_op *snap_waiters;
    struct lc_admin_op *admin_wait; /* waiting for a leader to send to */
    uint64_t last_snapshot_at; /* loop ms */

    /* fault injection for tests (LOCUS_FAULT_APPEND=<group>:<n>) */
    long fault_append_after;

    unsigned n_handles_open;
    bool closed; /* its handles are closed; freed with the engine */
};

struct lc_raft_engine {
    uv_loop_t *loop;
    struct lc_raft_options opts; /* strings point into the copies below */
    char self[LC_RAFT_ADDR_MAX];
    raft_id self_id;
    char members[LC_RAFT_MAX_MEMBERS][LC_RAFT_ADDR_MAX];
    const char *member_ptrs[LC_RAFT_MAX_MEMBERS];
    char data_dir[1024];
    uint8_t *secret;
    struct lc_engine_env env;
    struct lc_net net; /* the network layer: raft port and peer channel */
    struct lc_raft_group *groups[16];
    unsigned n_groups;
    uv_timer_t sweep_timer;
    bool started;
    bool closing;
    unsigned n_live; /* groups, the network layer, timers not yet freed */
    lc_raft_engine_close_cb close_cb;
    void *close_data;
    bool caught_up;
};

/* group.c */
int lc_group_new(struct lc_raft_engine *e, const char *name,
                 struct lc_raft_sm *sm, struct lc_raft_group **out);
int lc_group_open(struct lc_raft_group *g, char *errmsg, size_t errlen);
void lc_group_close(struct lc_raft_group *g);
/* Free @g (closed, its handles closed): the engine does, as it is freed. */
void lc_group_free(struct lc_raft_group *g);
/* Close and reopen from disk; with @recover, force that configuration. */
int lc_group_restart(struct lc_raft_group *g, const char *reason,
                     struct raft_configuration *recover);
static inline struct raft *lc_group_raft(struct lc_raft_group *g)
{
    return g->inc != NULL && g->inc->started ? g->inc->raft : NULL;
}
/* Ask raft to take a snapshot at the next applied entry. */
void lc_group_force_snapshot(struct lc_raft_group *g);
/* The raft_fsm through which a raft instance runs @g's state machine. */
struct raft_fsm *lc_group_fsm(struct lc_raft_group *g);
/* Run @g on @r instead of a raft_uv instance of its own: an initialised,
 * not yet started instance (canonical/raft's fixture, in tests) whose fsm is
 * lc_group_fsm(@g) and whose owner bootstraps it and closes it, before the
 * engine is closed. lc_raft_engine_start() starts it; the group cannot
 * restart. Only before start. Return 0 or LC_EINVAL. */
int lc_group_attach(struct lc_raft_group *g, struct raft *r);
/* The owner of @inc's attached instance closed it: the group has none. */
void lc_group_detached(struct lc_incarnation *inc);

/* observe.c */
bool lc_observe_fix_append(struct raft *r, struct raft_message *m);
void lc_observe_wrap_io(struct lc_incarnation *inc);
void lc_observe(struct lc_raft_group *g);
void lc_observe_peer_down(struct lc_raft_group *g, const char *address);
void lc_observe_reset(struct lc_raft_group *g);
uint64_t lc_observe_contact(struct lc_raft_group *g, raft_id id);

/* forward.c: request routing */
void lc_req_list_push(struct lc_req_list *l, struct lc_raft__req *r);
void lc_req_list_insert_sorted(struct lc_req_list *l, struct lc_raft__req *r);
void lc_req_list_remove(struct lc_req_list *l, struct lc_raft__req *r);
void lc_req_route(struct lc_raft__req *r);
void lc_req_complete(struct lc_raft__req *r, int status,
                     const struct lc_raft_result *result);
void lc_req_reroute_all(struct lc_raft_group *g, struct lc_req_list *l);
void lc_req_fail_all(struct lc_raft_group *g, struct lc_req_list *l,
                     int status);
void lc_group_flush(struct lc_raft_group *g);
/* Run the group's deferred work (batch flush, queued admin commands) after
 * this loop iteration's I/O. */
void lc_group_kick(struct lc_raft_group *g);
void lc_group_on_applied(struct lc_raft_group *g, uint64_t index,
                         const struct lc_raft_result *result);
void lc_group_check_waiters(struct lc_raft_group *g);
/* What @r applied and @g's state machine shows (lc_raft_sm's visible). */
uint64_t lc_group_visible_index(struct lc_raft_group *g, struct raft *r);
void lc_group_sweep(struct lc_raft_group *g, uint64_t now);
/* Fail what waits for a leader with LC_ENOLEADER when none is reachable and
 * neither is a majority of voters: nobody can commit it soon. */
void lc_group_fail_unreachable(struct lc_raft_group *g);
/* Serve @msg, a member's request; answer @req (see struct lc_net_cbs). */
void lc_forward_serve(struct lc_raft_engine *e, struct lc_net_request *req,
                      const Locus__Raft__PeerRequest *msg);
/* Submit a read barrier without the readiness check (admin use). */
void lc_req_submit_read(struct lc_raft_group *g, struct lc_raft_read *rd,
                        lc_raft_read_cb cb);

/* admin.c */
void lc_admin_serve(struct lc_raft_group *g, struct lc_net_request *req,
                    const char *command, const char *value);
void lc_admin_snapshot_done(struct lc_raft_group *g, int status);
void lc_admin_restart_done(struct lc_raft_group *g, int status);
void lc_admin_leader_changed(struct lc_raft_group *g);
void lc_admin_sweep(struct lc_raft_group *g, uint64_t now);
void lc_admin_fail_all(struct lc_raft_group *g, int status);

/* engine.c */
void lc_engine_update_caught_up(struct lc_raft_engine *e);
void lc_engine_handle_closed(struct lc_raft_engine *e);
/* The engine's clock and timers (struct lc_engine_env). */
uint64_t lc_engine_now(const struct lc_raft_engine *e);
void lc_engine_timer_start(struct lc_raft_engine *e, uv_timer_t *t,
                           uv_timer_cb cb, uint64_t timeout, uint64_t repeat);
void lc_engine_timer_stop(struct lc_raft_engine *e, uv_timer_t *t);

#endif /* LC_RAFT_INTERNAL_H */
