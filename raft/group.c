/* One Raft group: a canonical/raft instance on raft_uv with our transport,
 * its raft_fsm glue to the state machine, and its lifecycle (open, restart,
 * close).
 *
 * Open: create <data_dir>/protocol/raft/<group>/, init raft_uv with
 * compression off (so snapshot files are plain SQLite databases), wrap the
 * io (observe.c), init raft with pre-vote on, bootstrap if pristine, start.
 * A group attached to someone else's instance (lc_group_attach: tests on
 * canonical/raft's fixture) only has its io wrapped and options set, and is
 * started; its owner bootstraps and closes it.
 *
 * Restart (after a failed disk write on the leader, or for resetPeers): close
 * the instance and open it again from disk. The state machine keeps its state;
 * entries and snapshots it has already applied are skipped on the way back
 * (skip_through), so nothing is applied twice and no event is published
 * twice.
 *
 * Snapshots use raft's async path: the state is frozen on the loop
 * (snapshot_take), encoded on a worker thread (snapshot_write), released on
 * the loop (finalize).
 */
#include <assert.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "raft/internal.h"

static int mkdir_p(const char *path)
{
    char tmp[1024];
    lc_strlcpy(tmp, path, sizeof tmp);
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ raft_fsm */

static struct lc_raft_group *fsm_group(struct raft_fsm *fsm)
{
    return fsm->data;
}

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
                     void **result)
{
    struct lc_raft_group *g = fsm_group(fsm);
    struct raft *r = g->inc->raft;
    uint64_t index = r->last_applied + 1;
    struct lc_raft_result res;

    *result = NULL;
    if (index <= g->skip_through) {
        return 0; /* applied before the group restarted */
    }
    res.status = 0;
    res.message[0] = '\0';
    g->sm->apply(g->sm, index, buf->base, buf->len, &res);
    lc_group_on_applied(g, index, &res);
    return 0;
}

/* Entries before @g's next snapshot, when its last one is at @last.
 *
 * Every member snapshots by the same threshold of applied entries, so by
 * default all take a snapshot at the same index at the same moment. On a
 * follower that is when canonical/raft 0.15 drops the compacted entries,
 * and for each AppendEntries batch it received it scans the whole log
 * (log.c, isBatchReferenced), for a few hundred ms with the default
 * threshold under load; with both followers stalled at once the leader
 * cannot commit (docs/benchmarks.md: writes paused up to 157-680 ms). So member k of n (its place in the member list) snapshots at the
 * indexes congruent to k * threshold / n modulo threshold: one member at a
 * time, a quorum always free. The first snapshot is at least half a
 * threshold after the last. */
static unsigned next_threshold(const struct lc_raft_group *g, uint64_t last)
{
    const struct lc_raft_engine *e = g->e;
    uint64_t t = e->opts.snapshot_threshold;
    uint64_t slot = 0;
    uint64_t next;
    for (unsigned i = 0; i < e->opts.n_members; i++) {
        if (strcmp(e->members[i], e->self) == 0) {
            slot = t * i / e->opts.n_members;
        }
    }
    if (t < 64) {
        return (unsigned)t; /* tests: exact thresholds */
    }
    /* The smallest index > last + t/2 that is congruent to slot mod t. */
    next = last + t / 2 + 1;
    next += (slot + t - next % t) % t;
    return (unsigned)(next - last);
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[],
                        unsigned *n_bufs)
{
    struct lc_raft_group *g = fsm_group(fsm);
    struct raft *r = g->inc->raft;
    void *frozen = NULL;
    int rv;

    if (g->snap_frozen != NULL) {
        return RAFT_BUSY;
    }
    g->snap_index = r->snapshot.pending.index;
    g->snap_term = r->snapshot.pending.term;
    g->snap_start_us = lc_mono_us();
    rv = g->sm->snapshot_take(g->sm, g->snap_index, g->snap_term, &frozen);
    g->snap_take_us = lc_mono_us() - g->snap_start_us;
    if (rv != 0) {
        lc_warnf("raft", "group %s: cannot take snapshot: %s", g->name,
                 lc_strerror(rv));
        return RAFT_NOMEM;
    }
    g->snap_frozen = frozen;
    g->snap_size = 0;
    *bufs = NULL;
    *n_bufs = 0;
    return 0;
}

/* Runs on a libuv worker thread: touches only the frozen state. */
static int fsm_snapshot_async(struct raft_fsm *fsm, struct raft_buffer *bufs[],
                              unsigned *n_bufs)
{
    struct lc_raft_group *g = fsm_group(fsm);
    struct raft_buffer *b = NULL;
    unsigned n = 0;
    size_t len = 0;
    int rv;

    /* The image in pieces, written by raft_uv with one writev: never joined
     * (see snapshots/vfs.c). */
    rv = g->sm->snapshot_write(g->sm, g->snap_frozen, &b, &n);
    if (rv != 0) {
        return rv == LC_ENOMEM ? RAFT_NOMEM : RAFT_IOERR;
    }
    for (unsigned i = 0; i < n; i++) {
        len += b[i].len;
    }
    *bufs = b;
    *n_bufs = n;
    g->snap_size = len;
    return 0;
}

static int fsm_snapshot_finalize(struct raft_fsm *fsm,
                                 struct raft_buffer *bufs[], unsigned *n_bufs)
{
    struct lc_raft_group *g = fsm_group(fsm);
    struct raft *r = g->inc->raft;
    bool ok;

    if (*bufs != NULL) {
        for (unsigned i = 0; i < *n_bufs; i++) {
            raft_free((*bufs)[i].base);
        }
        raft_free(*bufs);
    }
    *bufs = NULL;
    *n_bufs = 0;
    if (g->snap_frozen != NULL) {
        g->sm->snapshot_release(g->sm, g->snap_frozen);
        g->snap_frozen = NULL;
    }
    ok = r->log.snapshot.last_index == g->snap_index && g->snap_size > 0;
    if (ok) {
        g->snap.index = g->snap_index;
        g->snap.term = g->snap_term;
        g->snap.created_ms = lc_now_ms();
        g->snap.size = g->snap_size;
        g->last_snapshot_at = lc_engine_now(g->e);
        lc_infof("raft",
                 "group %s: snapshot at index %llu (%zu bytes; %.1f ms on "
                 "the loop, %.1f ms in all)",
                 g->name, (unsigned long long)g->snap_index, g->snap_size,
                 (double)g->snap_take_us / 1000.0,
                 (double)(lc_mono_us() - g->snap_start_us) / 1000.0);
    } else {
        lc_warnf("raft", "group %s: snapshot at index %llu failed", g->name,
                 (unsigned long long)g->snap_index);
    }
    g->snap_forced = false;
    raft_set_snapshot_threshold(r,
                                next_threshold(g, r->log.snapshot.last_index));
    lc_admin_snapshot_done(g, ok ? 0 : LC_EIO);
    return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct lc_raft_group *g = fsm_group(fsm);
    struct lc_raft_snapshot_info info = {0};
    char errmsg[256] = "";
    int rv;

    if (g->skip_through > 0 && g->restore_hint <= g->skip_through) {
        /* Restarting: the state machine is already past this snapshot. */
        g->snap.size = buf->len;
        raft_free(buf->base);
        return 0;
    }
    rv = g->sm->restore(g->sm, buf->base, buf->len, &info, errmsg,
                        sizeof errmsg);
    if (rv != 0) {
        lc_errorf("raft",
                  "group %s: refusing snapshot at index %llu in %s: %s",
                  g->name, (unsigned long long)g->restore_hint, g->dir,
                  errmsg[0] != '\0' ? errmsg : lc_strerror(rv));
        return RAFT_CORRUPT;
    }
    g->snap.index = g->restore_hint;
    g->snap.created_ms = info.created_ms;
    g->snap.size = buf->len;
    raft_free(buf->base);
    return 0;
}

/* ------------------------------------------------------------ lifecycle */

/* Every handle of @g is closed: tell the engine. The memory stays until
 * the engine itself is freed (lc_group_free), because the engine's users
 * (naming's timers) may still ask for @g's status until the engine's close
 * callback, and a closed group answers "unavailable". */
static void group_maybe_free(struct lc_raft_group *g)
{
    if (g->n_handles_open > 0 || g->inc != NULL || g->closed) {
        return;
    }
    g->closed = true;
    lc_engine_handle_closed(g->e);
}

void lc_group_free(struct lc_raft_group *g)
{
    free(g->recover_conf);
    free(g);
}

static void group_on_handle_closed(uv_handle_t *h)
{
    struct lc_raft_group *g = h->data;
    g->n_handles_open--;
    group_maybe_free(g);
}

int lc_group_new(struct lc_raft_engine *e, const char *name,
                 struct lc_raft_sm *sm, struct lc_raft_group **out)
{
    struct lc_raft_group *g = calloc(1, sizeof *g);
    const char *fault = getenv("LOCUS_FAULT_APPEND");
    if (g == NULL) {
        return LC_ENOMEM;
    }
    g->e = e;
    g->sm = sm;
    lc_strlcpy(g->name, name, sizeof g->name);
    snprintf(g->dir, sizeof g->dir, "%s/protocol/raft/%s", e->data_dir, name);
    uv_check_init(e->loop, &g->flush_check);
    uv_timer_init(e->loop, &g->fast_timer);
    uv_timer_init(e->loop, &g->restart_timer);
    uv_timer_init(e->loop, &g->watch_timer);
    g->flush_check.data = g;
    g->fast_timer.data = g;
    g->restart_timer.data = g;
    g->watch_timer.data = g;
    g->n_handles_open = 4;
    g->fsm.version = 3;
    g->fsm.data = g;
    g->fsm.apply = fsm_apply;
    g->fsm.snapshot = fsm_snapshot;
    g->fsm.snapshot_async = fsm_snapshot_async;
    g->fsm.snapshot_finalize = fsm_snapshot_finalize;
    g->fsm.restore = fsm_restore;
    g->last_election_ms = -1;
    g->fault_append_after = -1;
    /* Test hook: LOCUS_FAULT_APPEND=<group>:<n> fails the (n+1)th append on
     * this group as a disk error would. */
    if (fault != NULL) {
        size_t n = strlen(name);
        if (strncmp(fault, name, n) == 0 && fault[n] == ':') {
            g->fault_append_after = strtol(fault + n + 1, NULL, 10);
        }
    }
    e->n_live++;
    *out = g;
    return 0;
}

static void inc_free(struct lc_incarnation *inc)
{
    if (inc->io_inited) {
        raft_uv_close(&inc->own_io);
    }
    free(inc);
}

static void inc_on_transport_fini(struct lc_net_transport *t)
{
    inc_free(LC_CONTAINER_OF(t, struct lc_incarnation, tr));
}

/* Free an incarnation whose raft instance is closed (or never inited). */
static void inc_release(struct lc_incarnation *inc)
{
    if (!inc->tr_inited || !lc_net_transport_fini(&inc->tr,
                                                  inc_on_transport_fini)) {
        inc_free(inc);
    }
}

/* Incarnations whose raft instance closed, freed by lc_raft_free_closed:
 * raft_uv 0.15 may still call into them (see on_io_closed in observe.c)
 * until the loop has nothing left to run. */
static struct lc_incarnation *closed_incarnations;

void lc_raft_free_closed(void)
{
    while (closed_incarnations != NULL) {
        struct lc_incarnation *inc = closed_incarnations;
        closed_incarnations = inc->next_closed;
        inc_free(inc);
    }
}

static void inc_bury(struct lc_incarnation *inc)
{
    if (inc->tr_inited) {
        lc_net_transport_fini(&inc->tr, NULL);
    }
    inc->next_closed = closed_incarnations;
    closed_incarnations = inc;
}

static void group_on_reopen_timer(uv_timer_t *t);

static void group_on_raft_closed(struct raft *r)
{
    struct lc_incarnation *inc = r->data;
    struct lc_raft_group *g = inc->group;
    inc_bury(inc);
    g->inc = NULL;
    if (g->closing) {
        uv_close((uv_handle_t *)&g->flush_check, group_on_handle_closed);
        uv_close((uv_handle_t *)&g->fast_timer, group_on_handle_closed);
        uv_close((uv_handle_t *)&g->restart_timer, group_on_handle_closed);
        uv_close((uv_handle_t *)&g->watch_timer, group_on_handle_closed);
        return;
    }
    if (g->restarting) {
        /* Back off when restarts come in a burst (a disk that keeps
         * failing). */
        uint64_t now = lc_engine_now(g->e);
        unsigned delay = now - g->last_restart_at < 10000 ? 1000 : 0;
        g->last_restart_at = now;
        lc_engine_timer_start(g->e, &g->restart_timer, group_on_reopen_timer,
                              delay, 0);
    }
}

static int random_range(struct raft_io *io, int min, int max)
{
    (void)io;
    if (max <= min) {
        return min;
    }
    return min + (int)randombytes_uniform((uint32_t)(max - min));
}

static void set_options(struct lc_raft_group *g, struct raft *r)
{
    const struct lc_raft_options *o = &g->e->opts;
    raft_set_election_timeout(r, o->election_timeout_ms);
    raft_set_heartbeat_timeout(r, o->heartbeat_ms);
    raft_set_install_snapshot_timeout(r, 5 * o->election_timeout_ms);
    raft_set_pre_vote(r, true);
    raft_set_snapshot_threshold(r, next_threshold(g, 0));
    raft_set_snapshot_trailing(r, o->snapshot_trailing);
}

/* Start @g on its attached instance: as incarnation_open, with someone
 * else's instance, already bootstrapped by its owner. */
static int incarnation_attach(struct lc_raft_group *g, char *errmsg,
                              size_t errlen)
{
    struct lc_incarnation *inc = calloc(1, sizeof *inc);
    struct raft *r = g->attach;
    int rv;

    if (inc == NULL) {
        return LC_ENOMEM;
    }
    inc->group = g;
    inc->attached = true;
    inc->raft = r;
    inc->io = r->io;
    r->data = inc;
    lc_observe_wrap_io(inc);
    set_options(g, r);
    g->inc = inc;
    g->attach = NULL;
    rv = raft_start(r);
    if (rv != 0) {
        snprintf(errmsg, errlen, "group %s: cannot start: %s", g->name,
                 raft_errmsg(r)[0] != '\0' ? raft_errmsg(r)
                                           : raft_strerror(rv));
        inc_bury(inc); /* its io stays wrapped until the owner closes it */
        g->inc = NULL;
        return lc_err_from_raft(rv);
    }
    inc->started = true;
    lc_observe_reset(g);
    lc_observe(g);
    return 0;
}

static int incarnation_open(struct lc_raft_group *g, char *errmsg,
                            size_t errlen)
{
    struct lc_raft_engine *e = g->e;
    struct lc_incarnation *inc;
    struct raft *r;
    int rv;

    if (mkdir_p(g->dir) != 0) {
        snprintf(errmsg, errlen, "cannot create %s: %s", g->dir,
                 strerror(errno));
        return LC_EIO;
    }
    if (e->net.transport_init == NULL) {
        snprintf(errmsg, errlen, "group %s: no raft port to run on", g->name);
        return LC_ENOTSUP;
    }
    inc = calloc(1, sizeof *inc);
    if (inc == NULL) {
        return LC_ENOMEM;
    }
    inc->group = g;
    inc->raft = &inc->own_raft;
    inc->io = &inc->own_io;
    rv = e->net.transport_init(&e->net, &inc->tr, &inc->transport, g->name);
    if (rv != 0) {
        snprintf(errmsg, errlen, "group %s: transport: %s", g->name,
                 lc_strerror(rv));
        free(inc);
        return rv;
    }
    inc->tr_inited = true;

    rv = raft_uv_init(inc->io, e->loop, g->dir, &inc->transport);
    if (rv != 0) {
        snprintf(errmsg, errlen, "group %s: raft_uv_init(%s): %s", g->name,
                 g->dir, inc->io->errmsg);
        inc_release(inc);
        return lc_err_from_raft(rv);
    }
    inc->io_inited = true;
    /* 0.15's raft_uv implements async_work (for async snapshots) but
     * reports io->version 1, which makes raft_init refuse a version 3 fsm. */
    if (inc->io->async_work != NULL && inc->io->version < 2) {
        inc->io->version = 2;
    }
    raft_uv_set_snapshot_compression(inc->io, false);
    raft_uv_set_connect_retry_delay(inc->io, 100);
    lc_observe_wrap_io(inc);
    /* 0.15's raft_uv draws election timeouts with rand(), never seeded:
     * every process draws the same ones. */
    inc->io->random = random_range;

    r = inc->raft;
    rv = raft_init(r, inc->io, &g->fsm, e->self_id, e->self);
    if (rv != 0) {
        snprintf(errmsg, errlen, "group %s: raft_init: %s", g->name,
                 raft_errmsg(r));
        inc_release(inc);
        return lc_err_from_raft(rv);
    }
    inc->raft_inited = true;
    r->data = inc;
    set_options(g, r);
    g->inc = inc;

    if (g->recover_conf != NULL) {
        rv = raft_recover(r, g->recover_conf);
        raft_configuration_close(g->recover_conf);
        free(g->recover_conf);
        g->recover_conf = NULL;
        if (rv != 0) {
            snprintf(errmsg, errlen, "group %s: raft_recover: %s", g->name,
                     raft_strerror(rv));
            goto err_after_init;
        }
    } else if (e->opts.bootstrap) {
        struct raft_configuration conf;
        raft_configuration_init(&conf);
        for (unsigned i = 0; i < e->opts.n_members; i++) {
            const char *m = e->opts.members[i];
            rv = raft_configuration_add(&conf, lc_raft_id_of(m), m,
                                        RAFT_VOTER);
            if (rv != 0) {
                raft_configuration_close(&conf);
                snprintf(errmsg, errlen, "group %s: member %s: %s", g->name,
                         m, raft_strerror(rv));
                goto err_after_init;
            }
        }
        rv = raft_bootstrap(r, &conf);
        raft_configuration_close(&conf);
        if (rv == 0) {
            lc_infof("raft", "group %s: bootstrapped with %u members",
                     g->name, e->opts.n_members);
        } else if (rv != RAFT_CANTBOOTSTRAP) {
            snprintf(errmsg, errlen, "group %s: bootstrap: %s", g->name,
                     raft_errmsg(r));
            goto err_after_init;
        }
    }

    rv = raft_start(r);
    if (rv != 0) {
        snprintf(errmsg, errlen, "group %s: cannot start from %s: %s",
                 g->name, g->dir,
                 raft_errmsg(r)[0] != '\0' ? raft_errmsg(r)
                                           : raft_strerror(rv));
        goto err_after_init;
    }
    inc->started = true;
    lc_observe_reset(g);
    lc_observe(g);
    return 0;

err_after_init:
    g->inc = NULL;
    /* raft_close releases what raft_init took; the callback frees inc. */
    inc->group = g;
    raft_close(r, group_on_raft_closed);
    return rv != 0 ? lc_err_from_raft(rv) : LC_EIO;
}

int lc_group_open(struct lc_raft_group *g, char *errmsg, size_t errlen)
{
    if (g->attach != NULL) {
        return incarnation_attach(g, errmsg, errlen);
    }
    return incarnation_open(g, errmsg, errlen);
}

struct raft_fsm *lc_group_fsm(struct lc_raft_group *g)
{
    return &g->fsm;
}

int lc_group_attach(struct lc_raft_group *g, struct raft *r)
{
    if (g->e->started || r->fsm != &g->fsm || r->state != RAFT_UNAVAILABLE) {
        return LC_EINVAL;
    }
    g->attach = r;
    return 0;
}

void lc_group_detached(struct lc_incarnation *inc)
{
    struct lc_raft_group *g = inc->group;
    inc->started = false;
    inc_bury(inc);
    if (g->inc == inc) {
        g->inc = NULL;
    }
}

static void group_on_reopen_timer(uv_timer_t *t)
{
    struct lc_raft_group *g = t->data;
    char errmsg[512] = "";
    int rv;

    if (g->closing) {
        return;
    }
    rv = incarnation_open(g, errmsg, sizeof errmsg);
    g->restarting = false;
    if (rv != 0) {
        lc_errorf("raft", "group %s: reopen failed: %s (retrying)", g->name,
                  errmsg);
        g->restarting = true;
        lc_engine_timer_start(g->e, &g->restart_timer, group_on_reopen_timer,
                              1000, 0);
        lc_admin_restart_done(g, rv);
        return;
    }
    lc_infof("raft", "group %s: reopened (restart %llu)", g->name,
             (unsigned long long)g->restarts);
    lc_admin_restart_done(g, 0);
    lc_req_reroute_all(g, &g->wait_leader);
}

int lc_group_restart(struct lc_raft_group *g, const char *reason,
                     struct raft_configuration *recover)
{
    struct raft *r = lc_group_raft(g);
    if (g->closing || g->restarting || r == NULL || g->inc->attached) {
        if (recover != NULL) {
            raft_configuration_close(recover);
            free(recover);
        }
        return r != NULL && g->inc->attached ? LC_ENOTSUP : LC_EBUSY;
    }
    lc_warnf("raft", "group %s: restarting: %s", g->name, reason);
    g->restarting = true;
    g->restarts++;
    g->skip_through = r->last_applied;
    g->recover_conf = recover;
    /* Requests appended but not applied have an unknown outcome; those not
     * yet appended wait for the reopened group. */
    lc_req_fail_all(g, &g->applying, LC_ELEADERSHIPLOST);
    lc_req_reroute_all(g, &g->pending_reads);
    while (g->pending.head != NULL) {
        struct lc_raft__req *q = g->pending.head;
        lc_req_list_remove(&g->pending, q);
        q->state = LC_REQ_WAIT_LEADER;
        lc_req_list_push(&g->wait_leader, q);
    }
    g->inc->started = false;
    raft_close(r, group_on_raft_closed);
    return 0;
}

void lc_group_close(struct lc_raft_group *g)
{
    /* An attached instance's owner closes it first (lc_group_attach). */
    assert(g->inc == NULL || !g->inc->attached);
    g->closing = true;
    lc_engine_timer_stop(g->e, &g->restart_timer);
    lc_engine_timer_stop(g->e, &g->fast_timer);
    lc_engine_timer_stop(g->e, &g->watch_timer);
    lc_req_fail_all(g, &g->pending, LC_ESHUTDOWN);
    lc_req_fail_all(g, &g->applying, LC_ESHUTDOWN);
    lc_req_fail_all(g, &g->pending_reads, LC_ESHUTDOWN);
    lc_req_fail_all(g, &g->wait_leader, LC_ESHUTDOWN);
    lc_req_fail_all(g, &g->forwarded, LC_ESHUTDOWN);
    lc_req_fail_all(g, &g->wait_apply, LC_ESHUTDOWN);
    lc_admin_restart_done(g, LC_ESHUTDOWN);
    lc_admin_snapshot_done(g, LC_ESHUTDOWN);
    if (g->inc != NULL && g->inc->started) {
        g->inc->started = false;
        raft_close(g->inc->raft, group_on_raft_closed);
    } else if (g->inc == NULL) {
        uv_close((uv_handle_t *)&g->flush_check, group_on_handle_closed);
        uv_close((uv_handle_t *)&g->fast_timer, group_on_handle_closed);
        uv_close((uv_handle_t *)&g->restart_timer, group_on_handle_closed);
        uv_close((uv_handle_t *)&g->watch_timer, group_on_handle_closed);
    }
    /* else: a raft_close is already under way (restart); its callback sees
     * g->closing and finishes the job. */
}

void lc_group_force_snapshot(struct lc_raft_group *g)
{
    struct raft *r = lc_group_raft(g);
    if (r == NULL) {
        return;
    }
    /* canonical/raft 0.15 has no "snapshot now": lower the threshold so the
     * next applied entry triggers one, restored in finalize. */
    g->snap_forced = true;
    raft_set_snapshot_threshold(r, 1);
}

uint64_t lc_group_visible_index(struct lc_raft_group *g, struct raft *r)
{
    uint64_t visible = g->sm->visible != NULL ? g->sm->visible(g->sm)
                                              : UINT64_MAX;
    return visible < r->last_applied ? visible : r->last_applied;
}

const char *lc_raft_group_name(const struct lc_raft_group *g)
{
    return g->name;
}
