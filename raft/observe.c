/* Watching a group: wrappers around its raft_io (raft_uv's, or an attached
 * instance's) that see every tick, message, disk write and snapshot, and act
 * on what changed.
 *
 * canonical/raft 0.15 has no callbacks for state changes, so after each event
 * the observer compares the instance with what it saw last and reacts:
 *
 * - became leader: append a barrier (0.15 appends no no-op on election); the
 *   group reports ready and serves consistent reads only once it is applied.
 *   This also makes entries of older terms commit through an entry of the
 *   current term, narrowing 0.15's window for committing them by counting.
 * - lost leadership: appended-but-unapplied writes fail (outcome unknown),
 *   reads and not-yet-appended writes go to the new leader.
 * - leader known: requests waiting for one are routed; elections are counted
 *   and the leader gap (last word from the old leader to first from the new)
 *   recorded.
 * - a failed disk write while leader: 0.15 keeps leading with entries that
 *   never reached disk; the group is restarted from disk instead.
 *
 * Also fast failover: when the network layer reports the peer link to the
 * leader down (its process died), followers forget the leader and start an
 * election at once, staggered by rank so they do not split the vote.
 *
 * And a failure detector for what closes no connection (a partition, a
 * frozen or dead host). A follower that has had no AppendEntries from its
 * leader for one election timeout forgets it and elects the same way: in
 * 0.15 a follower refuses every vote while it still knows a leader, so
 * waiting for raft's own randomised timer (one to two election timeouts,
 * then a retry) left the cluster leaderless for ~1.7 election timeouts on
 * average. A leader that has not heard from a majority for one election
 * timeout steps down (check-quorum: 0.15 has one, but counts per window, so
 * it takes up to two timeouts; ours replaces it). No verdict is passed on a
 * tick that comes late: timers run before the loop reads its sockets, so
 * after a stall of our own everyone would look silent.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "raft/internal.h"

/* raft_init points io->data at the instance, the group its data at us. */
static struct lc_incarnation *inc_of(struct raft_io *io)
{
    return ((struct raft *)io->data)->data;
}

static void record_contact(struct lc_raft_group *g, raft_id id, uint64_t now)
{
    for (unsigned i = 0; i < g->n_contacts; i++) {
        if (g->contacts[i].id == id) {
            g->contacts[i].at = now;
            return;
        }
    }
    if (g->n_contacts < LC_RAFT_MAX_MEMBERS) {
        g->contacts[g->n_contacts].id = id;
        g->contacts[g->n_contacts].at = now;
        g->n_contacts++;
    }
}

uint64_t lc_observe_contact(struct lc_raft_group *g, raft_id id)
{
    for (unsigned i = 0; i < g->n_contacts; i++) {
        if (g->contacts[i].id == id) {
            return g->contacts[i].at;
        }
    }
    return 0;
}

/* canonical/raft 0.15 loops forever when a follower's snapshot is newer than
 * the point the leader probes from (a restarted follower that snapshotted
 * while it led, say): the follower answers the leader's older
 * InstallSnapshot with a no-op that reports the leader's snapshot index as
 * matched, then rejects the next AppendEntries because that index is
 * compacted on its side (logTermOf() is 0 below the snapshot), and the leader
 * goes back to the snapshot.
 *
 * Entries at or below the follower's snapshot are committed, so they are the
 * leader's too. When an AppendEntries starts below the snapshot and reaches
 * past it, drop the entries the snapshot covers and make it start at the
 * snapshot: the follower then appends the rest (truncating any stale suffix)
 * and reports exactly what it appended. (With nothing left past the snapshot
 * the message is left alone: 0.15 would answer an empty one with its whole
 * log, stale suffix included.) Return true if @m was rewritten. */
bool lc_observe_fix_append(struct raft *r, struct raft_message *m)
{
    struct raft_append_entries *ae = &m->append_entries;
    raft_index snap = r->log.snapshot.last_index;
    raft_index skip;

    if (m->type != RAFT_IO_APPEND_ENTRIES || snap == 0 ||
        ae->prev_log_index >= snap ||
        ae->prev_log_index + ae->n_entries <= snap || snap > r->commit_index) {
        return false;
    }
    skip = snap - ae->prev_log_index;
    /* Every entry of a message shares one batch buffer (freed through
     * entries[0].batch): moving the array keeps it. */
    memmove(ae->entries, ae->entries + skip,
            (ae->n_entries - skip) * sizeof *ae->entries);
    ae->n_entries -= (unsigned)skip;
    ae->prev_log_index = snap;
    ae->prev_log_term = r->log.snapshot.last_term;
    return true;
}

/* ------------------------------------------------------------ wrappers */

static void watch(struct lc_raft_group *g, struct raft *r);

/* Note when this tick comes late (our loop stalled); then keep raft's own
 * timers from judging too, until the loop has read what arrived. */
static void before_tick(struct lc_raft_group *g, struct raft *r)
{
    uint64_t now = lc_engine_now(g->e);
    bool late = g->last_tick_at != 0 &&
                now - g->last_tick_at > 3 * (uint64_t)g->e->opts.heartbeat_ms;
    g->last_tick_at = now;
    if (!late) {
        return;
    }
    g->judge_from = now + 1;
    if (raft_state(r) == RAFT_LEADER ||
        (raft_state(r) == RAFT_FOLLOWER &&
         r->follower_state.current_leader.id != 0)) {
        r->election_timer_start = r->io->time(r->io);
    }
}

static void on_tick(struct raft_io *io)
{
    struct lc_incarnation *inc = inc_of(io);
    if (inc->started) {
        before_tick(inc->group, inc->raft);
    }
    inc->tick(io);
    if (inc->started) {
        watch(inc->group, inc->raft);
        lc_observe(inc->group);
    }
}

static void on_recv(struct raft_io *io, struct raft_message *m)
{
    struct lc_incarnation *inc = inc_of(io);
    struct lc_raft_group *g = inc->group;
    uint64_t now = lc_engine_now(g->e);

    if (m->server_id == g->obs_leader) {
        g->last_leader_contact = now; /* AppendEntries, InstallSnapshot */
    }
    switch (m->type) {
        case RAFT_IO_APPEND_ENTRIES_RESULT:
            record_contact(g, m->server_id, now);
            if (m->append_entries_result.rejected > 0) {
                g->probe_retry = m->server_id;
            }
            break;
        case RAFT_IO_INSTALL_SNAPSHOT:
            g->restore_hint = m->install_snapshot.last_index;
            g->snap.term = m->install_snapshot.last_term;
            break;
    }
    if (lc_observe_fix_append(inc->raft, m)) {
        lc_debugf("raft", "group %s: AppendEntries from below our snapshot "
                          "now starts at %llu",
                  g->name, (unsigned long long)m->append_entries.prev_log_index);
    }
    inc->recv(io, m);
    if (inc->started) {
        lc_observe(g);
    }
}

static int wrap_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
                      raft_io_recv_cb recv)
{
    struct lc_incarnation *inc = inc_of(io);
    inc->tick = tick;
    inc->recv = recv;
    return inc->orig_start(io, msecs, on_tick, on_recv);
}

struct append_wrap {
    struct raft_io_append req; /* handed to raft_uv */
    struct raft_io_append *orig;
    raft_io_append_cb orig_cb;
    struct lc_incarnation *inc;
    raft_index first_index; /* of the entries written */
    uv_timer_t fault_timer; /* only for injected faults */
};

static void on_disk_failure_timer(uv_timer_t *t)
{
    struct lc_raft_group *g = t->data;
    lc_group_restart(g, "a disk write failed", NULL);
}

/* Restart @g on the next turn (not from inside raft's callback). */
static void restart_after_disk_failure(struct lc_raft_group *g)
{
    lc_engine_timer_start(g->e, &g->restart_timer, on_disk_failure_timer, 0,
                          0);
}

static void on_append_done(struct raft_io_append *req, int status)
{
    struct append_wrap *w = (struct append_wrap *)req;
    struct lc_incarnation *inc = w->inc;
    struct lc_raft_group *g = inc->group;
    struct raft_io_append *orig = w->orig;
    raft_io_append_cb cb = w->orig_cb;
    raft_index first_index = w->first_index;
    int failure = status;

    free(w);
    /* raft_uv 0.15 cancels the appends still in flight from inside its
     * close. raft's leader callback then truncates its in-memory log from
     * each canceled entry on (0.15 does it without checking the index is
     * still in the log), and a second cancel truncates past the end: a
     * double free while the node shuts down under write load (seen as
     * "double free or corruption" on SIGTERM). The instance is closing and
     * unavailable, so whether these entries are in its memory no longer
     * matters: report them written, and raft only releases them. */
    if (status == RAFT_CANCELED && inc->closing) {
        status = 0;
    }
    /* The same truncation past the end on a full disk: raft_uv fails every
     * append in flight, and the first failure's callback has truncated the
     * log below this one's entries (a leader died of "double free or
     * corruption" in the fault suite). Entries no longer in the log are
     * only released when reported written: raft finds none of them there
     * to count as stored. The group restarts below either way. */
    if (status != 0 && first_index > raft_last_index(inc->raft)) {
        status = 0;
    }
    cb(orig, status);
    if (inc->tr_inited) {
        lc_net_transport_release(&inc->tr);
    }
    if (failure != 0 && status == 0 && !inc->closing && inc->started) {
        restart_after_disk_failure(g);
    }
    if (status == 0 || status == RAFT_CANCELED || !inc->started) {
        if (inc->started) {
            lc_observe(g);
        }
        return;
    }
    /* A leader must not go on leading with entries that never reached its
     * disk. And raft_uv 0.15 marks itself errored after a failed write (a
     * segment it could not create on a full disk, say) and refuses every
     * later one, so a follower that kept this instance would never write
     * again, even once the disk has room: its group is restarted as well
     * (reopening retries every second while the disk still fails). */
    if (raft_state(inc->raft) == RAFT_LEADER) {
        lc_errorf("raft", "group %s: disk write failed on the leader: %s",
                  g->name, raft_strerror(status));
    } else {
        lc_errorf("raft", "group %s: disk write failed: %s", g->name,
                  raft_strerror(status));
    }
    restart_after_disk_failure(g);
    lc_observe(g);
}

static void on_fault_closed(uv_handle_t *h)
{
    struct append_wrap *w = h->data;
    on_append_done(&w->req, RAFT_IOERR);
}

static void on_fault_timer(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, on_fault_closed);
}

static int wrap_append(struct raft_io *io, struct raft_io_append *req,
                       const struct raft_entry entries[], unsigned n,
                       raft_io_append_cb cb)
{
    struct lc_incarnation *inc = inc_of(io);
    struct lc_raft_group *g = inc->group;
    struct append_wrap *w = calloc(1, sizeof *w);
    int rv;

    if (w == NULL) {
        return RAFT_NOMEM;
    }
    w->orig = req;
    w->orig_cb = cb;
    w->inc = inc;
    /* raft has put the entries at the end of its log before writing. */
    w->first_index = raft_last_index(inc->raft) + 1 - n;
    w->req.data = w;
    if (g->fault_append_after == 0) {
        /* Injected fault: the entries never reach the disk. */
        g->fault_append_after = -1;
        lc_warnf("raft", "group %s: injecting a disk write failure",
                 g->name);
        uv_timer_init(g->e->loop, &w->fault_timer);
        w->fault_timer.data = w;
        lc_engine_timer_start(g->e, &w->fault_timer, on_fault_timer, 0, 0);
        if (inc->tr_inited) {
            lc_net_transport_hold(&inc->tr);
        }
        return 0;
    }
    if (g->fault_append_after > 0) {
        g->fault_append_after--;
    }
    rv = inc->orig_append(io, &w->req, entries, n, on_append_done);
    if (rv != 0) {
        free(w);
        if (rv == RAFT_IOERR && inc->started) {
            /* raft_uv is errored (see on_append_done). */
            restart_after_disk_failure(g);
        }
        return rv;
    }
    if (inc->tr_inited) {
        lc_net_transport_hold(&inc->tr);
    }
    return 0;
}

static int wrap_load(struct raft_io *io, raft_term *term, raft_id *voted_for,
                     struct raft_snapshot **snapshot, raft_index *start_index,
                     struct raft_entry **entries, size_t *n_entries)
{
    struct lc_incarnation *inc = inc_of(io);
    struct lc_raft_group *g = inc->group;
    int rv = inc->orig_load(io, term, voted_for, snapshot, start_index,
                            entries, n_entries);
    if (rv == 0 && *snapshot != NULL) {
        g->restore_hint = (*snapshot)->index;
        g->snap.term = (*snapshot)->term;
    }
    return rv;
}

struct put_wrap {
    struct raft_io_snapshot_put req;
    struct raft_io_snapshot_put *orig;
    raft_io_snapshot_put_cb orig_cb;
    struct lc_incarnation *inc;
};

static void on_snapshot_put_done(struct raft_io_snapshot_put *req, int status)
{
    struct put_wrap *w = (struct put_wrap *)req;
    struct lc_incarnation *inc = w->inc;
    struct raft_io_snapshot_put *orig = w->orig;
    raft_io_snapshot_put_cb cb = w->orig_cb;
    free(w);
    cb(orig, status);
    if (inc->started) {
        lc_observe(inc->group);
    }
}

static int wrap_snapshot_put(struct raft_io *io, unsigned trailing,
                             struct raft_io_snapshot_put *req,
                             const struct raft_snapshot *snapshot,
                             raft_io_snapshot_put_cb cb)
{
    struct lc_incarnation *inc = inc_of(io);
    struct put_wrap *w = calloc(1, sizeof *w);
    int rv;
    if (w == NULL) {
        return RAFT_NOMEM;
    }
    w->orig = req;
    w->orig_cb = cb;
    w->inc = inc;
    w->req.data = w;
    rv = inc->orig_snapshot_put(io, trailing, &w->req, snapshot,
                                on_snapshot_put_done);
    if (rv != 0) {
        free(w);
    }
    return rv;
}

/* raft_uv 0.15 can call its close callback twice: it stops tracking an
 * open segment when it finalizes it, so the callback fires while the
 * segment's writer is still closing, and again from the writer's close
 * callback (a poll handle, or after threadpool writes). A second call of
 * raft's callback would free the instance's memory twice. */
static void on_io_closed(struct raft_io *io)
{
    struct lc_incarnation *inc = inc_of(io);
    if (inc->close_fired) {
        return;
    }
    inc->close_fired = true;
    inc->close_cb(io);
    if (inc->attached && inc->started) {
        lc_group_detached(inc); /* closed by its owner, not by the group */
    }
}

/* A message to nobody. elect_now() makes a follower forget its leader
 * (id 0, address NULL) while its appends of that leader's entries may still
 * be on disk; when one completes, raft 0.15 answers the leader it no longer
 * knows, and raft_uv's send dereferences the NULL address (a SEGV seen under
 * ASan with five groups restarting under load). Refused here, raft frees
 * the request itself (its senders free it when send fails); the leader,
 * gone or not, learns the follower's log from its next answer. */
static int wrap_send(struct raft_io *io, struct raft_io_send *req,
                     const struct raft_message *message, raft_io_send_cb cb)
{
    struct lc_incarnation *inc = inc_of(io);
    if (message->server_id == 0 || message->server_address == NULL) {
        lc_debugf("raft", "group %s: message type %d to no server dropped",
                  inc->group->name, (int)message->type);
        return RAFT_NOCONNECTION;
    }
    return inc->orig_send(io, req, message, cb);
}

static void wrap_close(struct raft_io *io, raft_io_close_cb cb)
{
    struct lc_incarnation *inc = inc_of(io);
    inc->close_cb = cb;
    inc->closing = true;
    inc->orig_close(io, on_io_closed);
}

void lc_observe_wrap_io(struct lc_incarnation *inc)
{
    struct raft_io *io = inc->io;
    inc->orig_close = io->close;
    io->close = wrap_close;
    inc->orig_start = io->start;
    inc->orig_append = io->append;
    inc->orig_load = io->load;
    inc->orig_snapshot_put = io->snapshot_put;
    inc->orig_send = io->send;
    io->send = wrap_send;
    io->start = wrap_start;
    io->append = wrap_append;
    io->load = wrap_load;
    io->snapshot_put = wrap_snapshot_put;
}

/* ------------------------------------------------------------- reacting */

static void leave_fast_mode(struct lc_raft_group *g, struct raft *r)
{
    if (g->fast_mode) {
        g->fast_mode = false;
        lc_engine_timer_stop(g->e, &g->fast_timer);
        raft_set_election_timeout(r, g->e->opts.election_timeout_ms);
    }
}

static void on_leader_barrier(struct raft_barrier *req, int status)
{
    struct lc_raft_group *g = req->data;
    struct raft *r = lc_group_raft(g);
    g->leader_barrier_pending = false;
    if (status != 0 || r == NULL || raft_state(r) != RAFT_LEADER) {
        return;
    }
    g->leader_ready = true;
    lc_infof("raft", "group %s: leader for term %llu, ready at index %llu",
             g->name, (unsigned long long)r->current_term,
             (unsigned long long)r->last_applied);
    /* No lc_observe() here: this runs inside raft's apply loop; the
     * observer runs when raft returns (every raft event is wrapped). */
}

static void on_became_leader(struct lc_raft_group *g, struct raft *r)
{
    int rv;
    g->leader_ready = false;
    g->leader_since = lc_engine_now(g->e);
    leave_fast_mode(g, r);
    if (g->leader_barrier_pending) {
        return; /* cannot happen: stepping down fails it synchronously */
    }
    g->leader_barrier.data = g;
    rv = raft_barrier(r, &g->leader_barrier, on_leader_barrier);
    if (rv != 0) {
        lc_warnf("raft", "group %s: cannot append leader barrier: %s",
                 g->name, raft_strerror(rv));
        return;
    }
    g->leader_barrier_pending = true;
}

static void on_lost_leadership(struct lc_raft_group *g)
{
    g->leader_ready = false;
    lc_req_fail_all(g, &g->applying, LC_ELEADERSHIPLOST);
    lc_req_reroute_all(g, &g->pending_reads);
    lc_req_reroute_all(g, &g->pending);
}

static void on_catchup_read(struct lc_raft_read *rd, int status)
{
    struct lc_raft_group *g = rd->data;
    g->catchup_reading = false;
    if (status != 0 || g->caught_up) {
        return; /* asked again at the next observation */
    }
    g->caught_up = true;
    lc_infof("raft", "group %s: caught up at index %llu", g->name,
             (unsigned long long)rd->priv.index);
    lc_engine_update_caught_up(g->e);
}

static void update_caught_up(struct lc_raft_group *g, struct raft *r,
                             raft_id leader)
{
    if (g->caught_up || leader == 0) {
        return;
    }
    if (raft_state(r) == RAFT_LEADER) {
        g->caught_up = g->leader_ready &&
                       lc_group_visible_index(g, r) >= r->last_applied;
    } else {
        /* A follower has caught up once a read barrier through the leader
         * is applied here. Its own commit index says nothing of what the
         * leader committed (after a restart it is where the log or snapshot
         * ends), nor does the first AppendEntries (raft_uv may deliver ones
         * queued long ago). */
        if (!g->catchup_reading) {
            g->catchup_reading = true;
            g->catchup_read.data = g;
            lc_req_submit_read(g, &g->catchup_read, on_catchup_read);
        }
        return;
    }
    if (g->caught_up) {
        lc_infof("raft", "group %s: caught up at index %llu", g->name,
                 (unsigned long long)r->last_applied);
        lc_engine_update_caught_up(g->e);
    }
}

enum { PROGRESS_PROBE = 0, PROGRESS_PIPELINE = 1 }; /* 0.15's progress.h */

/* Two places where 0.15 waits for the next heartbeat to send an
 * AppendEntries, and the leader sends it now instead (by marking the
 * follower as due and running the leader's tick):
 *
 * - a follower forwarded a write or read and waits to apply its index, but
 *   learns the new commit index only with the next AppendEntries;
 * - a follower rejected a probe (its log diverges, typically right after an
 *   election): in PROBE state 0.15 sends at most one AppendEntries per
 *   heartbeat, so finding the match point takes a heartbeat per round. */
static void kick_replication(struct lc_raft_group *g, struct raft *r)
{
    bool any = false;
    for (unsigned i = 0; i < r->configuration.n; i++) {
        struct raft_progress *p = &r->leader_state.progress[i];
        raft_id id = r->configuration.servers[i].id;
        if (id == r->id) {
            continue;
        }
        if ((g->commit_notify && p->state == PROGRESS_PIPELINE) ||
            (g->probe_retry == id && p->state == PROGRESS_PROBE)) {
            p->last_send = 0;
            any = true;
        }
    }
    g->commit_notify = false;
    g->probe_retry = 0;
    if (any) {
        g->inc->tick(g->inc->io);
    }
}

void lc_observe_reset(struct lc_raft_group *g)
{
    g->obs_state = RAFT_UNAVAILABLE;
    g->obs_leader = 0;
    g->obs_leader_addr[0] = '\0';
    g->obs_term = 0;
    g->obs_transfer = false;
    g->leader_ready = false;
    g->leader_barrier_pending = false;
    g->fast_mode = false;
    g->n_contacts = 0;
    g->last_leader_contact = lc_engine_now(g->e);
    g->last_tick_at = 0;
    g->judge_from = 0;
}

void lc_observe(struct lc_raft_group *g)
{
    struct raft *r = lc_group_raft(g);
    uint64_t now = lc_engine_now(g->e);
    raft_id leader;
    const char *leader_addr;
    int state;
    bool transfer;

    if (r == NULL || g->closing) {
        return;
    }
    state = raft_state(r);
    raft_leader(r, &leader, &leader_addr);
    transfer = r->transfer != NULL;

    if (g->obs_state == RAFT_LEADER) {
        g->last_leader_contact = now; /* we hear ourselves */
    }
    if (state != g->obs_state) {
        int old = g->obs_state;
        g->obs_state = state;
        if (old == RAFT_LEADER) {
            on_lost_leadership(g);
        }
        if (state == RAFT_LEADER) {
            on_became_leader(g, r);
        }
    }
    if (leader != g->obs_leader ||
        (leader != 0 && r->current_term != g->obs_term)) {
        if (leader != 0) {
            /* A follower that lost and found the same leader in the same
             * term saw no election. */
            if (g->seen_leader && (leader != g->counted_leader ||
                                   r->current_term != g->counted_term)) {
                g->elections++;
                g->last_election_ms = (int64_t)(now - g->last_leader_contact);
            }
            g->seen_leader = true;
            g->counted_leader = leader;
            g->counted_term = r->current_term;
            g->last_leader_contact = now;
            lc_strlcpy(g->obs_leader_addr, leader_addr,
                       sizeof g->obs_leader_addr);
            lc_infof("raft", "group %s: leader is %s (term %llu)", g->name,
                     leader_addr, (unsigned long long)r->current_term);
            leave_fast_mode(g, r);
        } else {
            g->obs_leader_addr[0] = '\0';
        }
        g->obs_leader = leader;
        g->obs_term = r->current_term;
        lc_admin_leader_changed(g);
    }
    if (g->obs_transfer != transfer) {
        g->obs_transfer = transfer;
        lc_admin_leader_changed(g);
    }
    if (g->wait_leader.n > 0 && leader != 0 && !transfer) {
        lc_req_reroute_all(g, &g->wait_leader);
    }
    if ((g->commit_notify || g->probe_retry != 0) && state == RAFT_LEADER) {
        kick_replication(g, r);
    } else {
        g->commit_notify = false;
        g->probe_retry = 0;
    }
    update_caught_up(g, r, leader);
    lc_group_check_waiters(g);
    lc_group_fail_unreachable(g);
}

static void on_fast_timer(uv_timer_t *t)
{
    struct lc_raft_group *g = t->data;
    struct raft *r = lc_group_raft(g);
    raft_id leader;
    const char *addr;
    if (r == NULL || raft_state(r) != RAFT_FOLLOWER) {
        return;
    }
    raft_leader(r, &leader, &addr);
    if (leader == 0) {
        g->inc->tick(g->inc->io);
        lc_observe(g);
    }
}

/* Forget the leader @leader and elect now: at once (rank 0, after @base
 * ms) or a little later (rank n: voters with a lower id we can reach go
 * first), so the survivors do not split the vote. Forgetting the leader
 * also makes us grant the others' pre-votes. Retries after a split vote use
 * a short timeout until a leader is known. */
static void elect_now(struct lc_raft_group *g, struct raft *r, raft_id leader,
                      unsigned base, const char *why)
{
    struct lc_raft_engine *e = g->e;
    const struct raft_server *self = NULL;
    unsigned rank = 0;
    unsigned delay;
    /* Long enough for rank 0 to win (a pre-vote and a vote round trip
     * with an fsync each), short enough to matter when it cannot. */
    const unsigned stagger = 30;

    for (unsigned i = 0; i < r->configuration.n; i++) {
        const struct raft_server *s = &r->configuration.servers[i];
        if (s->id == r->id) {
            self = s;
        } else if (s->role == RAFT_VOTER && s->id != leader &&
                   s->id < r->id && lc_raft_engine_peer_up(e, s->address)) {
            rank++;
        }
    }
    if (self == NULL || self->role != RAFT_VOTER) {
        return;
    }
    delay = base + rank * stagger;
    lc_infof("raft", "group %s: leader %s %s; electing now (rank %u)",
             g->name, g->obs_leader_addr, why, rank);
    raft_free(r->follower_state.current_leader.address);
    r->follower_state.current_leader.address = NULL;
    r->follower_state.current_leader.id = 0;
    g->fast_mode = true;
    lc_engine_timer_stop(e, &g->watch_timer);
    raft_set_election_timeout(r, e->opts.election_timeout_ms / 4 >
                                         3 * e->opts.heartbeat_ms
                                     ? e->opts.election_timeout_ms / 4
                                     : 3 * e->opts.heartbeat_ms);
    r->election_timer_start = r->io->time(r->io);
    r->follower_state.randomized_election_timeout = delay;
    if (delay == 0) {
        g->inc->tick(g->inc->io);
        lc_observe(g);
    } else {
        lc_engine_timer_start(e, &g->fast_timer, on_fast_timer, delay, 0);
    }
}

void lc_observe_peer_down(struct lc_raft_group *g, const char *address)
{
    struct raft *r = lc_group_raft(g);
    raft_id leader;
    const char *leader_addr;

    if (r == NULL || !g->e->opts.fast_failover ||
        raft_state(r) != RAFT_FOLLOWER) {
        return;
    }
    raft_leader(r, &leader, &leader_addr);
    if (leader == 0 || strcmp(leader_addr, address) != 0) {
        return;
    }
    elect_now(g, r, leader, 0, "is gone");
}

/* ---------------------------------------------------- failure detector */

static void follower_watch(struct lc_raft_group *g, struct raft *r,
                           uint64_t now);

static void on_watch_timer(uv_timer_t *t)
{
    struct lc_raft_group *g = t->data;
    struct raft *r = lc_group_raft(g);
    uint64_t now = lc_engine_now(g->e);
    if (r == NULL || g->closing || now < g->judge_from ||
        now - g->last_tick_at > 3 * (uint64_t)g->e->opts.heartbeat_ms) {
        return; /* our loop stalled: the next tick judges */
    }
    follower_watch(g, r, now);
    lc_observe(g);
}

/* Follower: elect when the leader has been silent for an election timeout;
 * when that moment falls before the next tick, be there on time. */
static void follower_watch(struct lc_raft_group *g, struct raft *r,
                           uint64_t now)
{
    struct lc_raft_engine *e = g->e;
    uint64_t due = g->last_leader_contact + e->opts.election_timeout_ms;
    raft_id leader;
    const char *addr;
    char why[64];

    if (!e->opts.fast_failover || raft_state(r) != RAFT_FOLLOWER ||
        g->fast_mode) {
        return;
    }
    raft_leader(r, &leader, &addr);
    if (leader == 0 || leader != g->obs_leader) {
        return;
    }
    if (now >= due && e->net.peer_quiet_ms != NULL) {
        /* Its process answers our pings: it is alive and reachable, just
         * not sending to us (a snapshot in flight, a backlog to a member
         * that restarted). Not a failure; look again when the link has
         * been quiet for long enough too (it is reset then anyway). */
        uint64_t quiet = e->net.peer_quiet_ms(&e->net, addr);
        if (quiet < e->opts.election_timeout_ms) {
            lc_engine_timer_start(e, &g->watch_timer, on_watch_timer,
                                  e->opts.election_timeout_ms - quiet, 0);
            return;
        }
    }
    if (now >= due) {
        snprintf(why, sizeof why, "has been silent for %llu ms",
                 (unsigned long long)(now - g->last_leader_contact));
        /* The other followers heard the same last heartbeat; give them a
         * moment to reach the same verdict, or they refuse our vote. */
        elect_now(g, r, leader, 15, why);
        return;
    }
    if (due - now <= e->opts.heartbeat_ms + e->opts.heartbeat_ms / 2) {
        lc_engine_timer_start(e, &g->watch_timer, on_watch_timer, due - now,
                              0);
    }
}

/* Leader: step down when fewer than a majority of voters (us included)
 * answered within the last election timeout, so our clients hear at once
 * that we cannot commit, and go elsewhere. Stepping down goes through
 * raft's own check (tickLeader), made to fail; while we hear a majority we
 * keep raft's window from expiring, so only this check decides. */
static void check_quorum(struct lc_raft_group *g, struct raft *r, uint64_t now)
{
    unsigned et = g->e->opts.election_timeout_ms;
    uint64_t since = now > et ? now - et : 0;
    unsigned voters = 0;
    unsigned heard = 0;

    for (unsigned i = 0; i < r->configuration.n; i++) {
        const struct raft_server *s = &r->configuration.servers[i];
        uint64_t at;
        if (s->role != RAFT_VOTER) {
            continue;
        }
        voters++;
        at = s->id == r->id ? now : lc_observe_contact(g, s->id);
        if (at < g->leader_since) {
            at = g->leader_since;
        }
        if (at >= since) {
            heard++;
        }
    }
    if (heard > voters / 2) {
        r->election_timer_start = r->io->time(r->io);
        return;
    }
    lc_warnf("raft", "group %s: heard from %u of %u voters in the last %u ms; "
                     "stepping down",
             g->name, heard, voters, et);
    for (unsigned i = 0; i < r->configuration.n; i++) {
        r->leader_state.progress[i].recent_recv = false;
    }
    r->election_timer_start = r->io->time(r->io) - r->election_timeout;
    g->inc->tick(g->inc->io);
}

static void watch(struct lc_raft_group *g, struct raft *r)
{
    uint64_t now = lc_engine_now(g->e);
    if (now < g->judge_from || g->closing) {
        return;
    }
    if (raft_state(r) == RAFT_LEADER) {
        check_quorum(g, r, now);
    } else {
        follower_watch(g, r, now);
    }
}
