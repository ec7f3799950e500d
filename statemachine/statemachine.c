/* The glue between a raft group and its processor: decode entries, dispatch
 * to on_apply, wrap snapshots in SQLite files with a meta table.
 *
 * Apply: an entry that does not decode as a WriteRequest, or names another
 * group, is reported in the result and logged; it changes nothing, and since
 * every member sees the same bytes every member reports the same.
 *
 * Snapshot: freeze on the loop, then on a worker thread open an in-memory
 * database, let the processor write its tables, add the meta table and hand
 * the database file's chunks to raft as they are (snapshots/). Restore
 * validates the image (group, format, checksum) before the processor sees it,
 * so a corrupt or foreign file is refused with a message and the state is
 * untouched.
 *
 * Staged restore (a processor with load_step, on an engine's loop): restore
 * keeps a copy of the image and returns once it is validated; an idle
 * handle then runs slices of the load, then the entries raft applied
 * meanwhile (queued here, in order), each slice at most LC_SM_SLICE_US.
 * The group sees only what is applied here as visible (sm_visible), so
 * nothing waiting on this member completes early; consistent reads wait
 * here; a snapshot, a new restore or an entry applied as leader (whose
 * result a client waits for) first finishes the work at once. 0.15's
 * replicationApply applies every committed entry in one go, so the queue
 * also keeps a long backlog after a restore from blocking the loop.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/loopmon.h"
#include "common/util.h"
#include "snapshots/snapshots.h"
#include "statemachine/statemachine.h"

/* An entry raft applied while a staged load was under way. */
struct queued {
    struct queued *next;
    uint64_t index;
    size_t len;
    uint8_t buf[];
};

struct lc_statemachine {
    struct lc_raft_sm sm;
    struct lc_processor *proc;
    struct lc_raft_group *group;
    uv_idle_t *idle;     /* runs slices; NULL when detached (heap: freed in
                            its close callback) */
    /* Staged load (NULL when none): the image (owned), its database and
     * the processor's staging. */
    void *image;
    sqlite3 *db;
    void *staged;
    uint64_t staged_index; /* snapshot index being loaded */
    uint64_t load_start_us;
    uint64_t longest_us; /* longest slice (for the log) */
    uint64_t stage_us;   /* copying and validating the image */
    unsigned slices;
    struct queued *q_head;
    struct queued *q_tail;
    size_t n_queued;
    uint64_t applied; /* last index applied here (entries and snapshots) */
    /* The run of entries raft is applying in this loop iteration. */
    uint64_t burst_loop_ms; /* uv_now() when it began */
    uint64_t burst_us;      /* lc_mono_us() when it began */
    bool backlog;           /* queueing a long run (no snapshot staged) */
    bool pending;     /* staged load or queue not done: visible < applied */
    bool broken;      /* a staged load failed: never visible again */
    char error[256];  /* why */
    struct lc_sm_read *held; /* consistent reads waiting for the load */
};

/* Phases named in "event loop blocked" warnings (common/loopmon.h). */
static const char PHASE_APPLY[] = "raft apply";
static const char PHASE_FREEZE[] = "snapshot freeze";
static const char PHASE_RESTORE[] = "snapshot restore";

struct frozen {
    void *state;
    uint64_t index;
    uint64_t term;
};

static void finish_now(struct lc_statemachine *sm, const char *why);

/* Decode and apply one entry. */
static void apply_entry(struct lc_statemachine *sm, uint64_t index,
                        const void *buf, size_t len,
                        struct lc_raft_result *result)
{
    Locus__Consistency__WriteRequest *req;

    lc_loopmon_enter(PHASE_APPLY);
    req = locus__consistency__write_request__unpack(NULL, len, buf);
    if (req == NULL) {
        lc_errorf("sm",
                  "group %s: entry %llu is not a "
                  "Locus__Consistency__WriteRequest; skipped",
                  sm->proc->group, (unsigned long long)index);
        result->status = LC_ECORRUPT;
        lc_strlcpy(result->message, "undecodable log entry",
                   sizeof result->message);
        lc_loopmon_leave();
        return;
    }
    if (strcmp(req->group, sm->proc->group) != 0) {
        lc_errorf("sm", "group %s: entry %llu belongs to group '%s'; skipped",
                  sm->proc->group, (unsigned long long)index, req->group);
        result->status = LC_EINVAL;
        snprintf(result->message, sizeof result->message,
                 "entry for group '%s' in group '%s'", req->group,
                 sm->proc->group);
    } else {
        sm->proc->on_apply(sm->proc, index, req, result);
    }
    locus__consistency__write_request__free_unpacked(req, NULL);
    lc_loopmon_leave();
}

static bool leading(struct lc_statemachine *sm)
{
    struct lc_raft_group_status st;
    if (sm->group == NULL) {
        return false;
    }
    lc_raft_group_status(sm->group, &st);
    return strcmp(st.state, "leader") == 0;
}

static void on_idle(uv_idle_t *h);

/* Whether this entry comes after LC_SM_SLICE_US of entries applied in the
 * same loop iteration, on a member whose results no client waits for. */
static bool long_run(struct lc_statemachine *sm)
{
    uint64_t now_ms = uv_now(sm->idle->loop);
    if (now_ms != sm->burst_loop_ms) {
        sm->burst_loop_ms = now_ms;
        sm->burst_us = lc_mono_us();
        return false;
    }
    return lc_mono_us() - sm->burst_us > LC_SM_SLICE_US && !leading(sm);
}

static void sm_apply(struct lc_raft_sm *rsm, uint64_t index, const void *buf,
                     size_t len, struct lc_raft_result *result)
{
    struct lc_statemachine *sm = rsm->data;
    if (sm->pending && !sm->broken && leading(sm)) {
        /* A client waits for this entry's result from this member. */
        finish_now(sm, "an entry applied as leader");
    }
    if (!sm->pending && sm->idle != NULL && long_run(sm)) {
        /* canonical/raft 0.15 applies every committed entry in one call
         * (a follower back from a restart: its whole backlog): queue the
         * rest of the run and apply it in slices. */
        sm->pending = true;
        sm->backlog = true;
        sm->load_start_us = lc_mono_us();
        sm->longest_us = 0;
        sm->slices = 0;
        uv_idle_start(sm->idle, on_idle);
    }
    if (sm->broken) {
        /* Never visible again (run_slice logged why): keep nothing. */
        result->status = LC_ECORRUPT;
        lc_strlcpy(result->message, "state machine failed to load a snapshot",
                   sizeof result->message);
        return;
    }
    if (sm->pending) {
        /* Applied after the staged work, in order. Only a leader's result
         * reaches a client, and a follower's waiters use the leader's. */
        struct queued *q = malloc(sizeof *q + len);
        if (q == NULL) {
            finish_now(sm, "out of memory queueing an entry");
        } else {
            q->next = NULL;
            q->index = index;
            q->len = len;
            memcpy(q->buf, buf, len);
            if (sm->q_tail != NULL) {
                sm->q_tail->next = q;
            } else {
                sm->q_head = q;
            }
            sm->q_tail = q;
            sm->n_queued++;
            return;
        }
        if (sm->broken) {
            return;
        }
    }
    apply_entry(sm, index, buf, len, result);
    sm->applied = index;
}

static int sm_snapshot_take(struct lc_raft_sm *rsm, uint64_t index,
                            uint64_t term, void **out)
{
    struct lc_statemachine *sm = rsm->data;
    struct frozen *f = malloc(sizeof *f);
    int rv;
    if (f == NULL) {
        return LC_ENOMEM;
    }
    if (sm->pending) {
        finish_now(sm, "a snapshot");
    }
    if (sm->broken) {
        free(f);
        return LC_ECORRUPT; /* never persist a half-loaded state */
    }
    lc_loopmon_enter(PHASE_FREEZE);
    rv = sm->proc->snapshot_freeze(sm->proc, &f->state);
    lc_loopmon_leave();
    if (rv != 0) {
        free(f);
        return rv;
    }
    f->index = index;
    f->term = term;
    *out = f;
    return 0;
}

/* Worker thread. */
static int sm_snapshot_write(struct lc_raft_sm *rsm, void *frozen,
                             struct raft_buffer **bufs, unsigned *n_bufs)
{
    struct lc_statemachine *sm = rsm->data;
    struct frozen *f = frozen;
    struct lc_snapshot_meta meta;
    char errmsg[256] = "";
    sqlite3 *db;
    int rv;

    rv = lc_snapshot_begin(&db);
    if (rv != 0) {
        return rv;
    }
    rv = sm->proc->snapshot_save(sm->proc, f->state, db, errmsg,
                                 sizeof errmsg);
    if (rv != 0) {
        lc_snapshot_abort(db);
        lc_errorf("sm", "group %s: snapshot save failed: %s", sm->proc->group,
                  errmsg);
        return rv;
    }
    memset(&meta, 0, sizeof meta);
    lc_strlcpy(meta.group, sm->proc->group, sizeof meta.group);
    meta.index = f->index;
    meta.term = f->term;
    meta.created_ms = lc_now_ms();
    rv = lc_snapshot_finish_bufs(db, &meta, bufs, n_bufs, errmsg,
                                 sizeof errmsg);
    if (rv != 0) {
        lc_errorf("sm", "group %s: snapshot failed: %s", sm->proc->group,
                  errmsg);
    }
    return rv;
}

static void sm_snapshot_release(struct lc_raft_sm *rsm, void *frozen)
{
    struct lc_statemachine *sm = rsm->data;
    struct frozen *f = frozen;
    sm->proc->snapshot_release(sm->proc, f->state);
    free(f);
}

/* ------------------------------------------------------- staged restore */

static void release_staged(struct lc_statemachine *sm)
{
    if (sm->staged != NULL) {
        sm->proc->load_end(sm->proc, sm->staged);
        sm->staged = NULL;
    }
    if (sm->db != NULL) {
        lc_snapshot_close(sm->db);
        sm->db = NULL;
    }
    free(sm->image);
    sm->image = NULL;
}

static void drop_queue(struct lc_statemachine *sm)
{
    while (sm->q_head != NULL) {
        struct queued *q = sm->q_head;
        sm->q_head = q->next;
        free(q);
    }
    sm->q_tail = NULL;
    sm->n_queued = 0;
}

static void deliver_read(struct lc_sm_read *r, int status);

/* Held reads fail with @status; nothing waits for the load any more. */
static void fail_held(struct lc_statemachine *sm, int status)
{
    while (sm->held != NULL) {
        struct lc_sm_read *r = sm->held;
        sm->held = r->held_next;
        deliver_read(r, status);
    }
}

/* Everything staged and queued is applied: the state is visible again. */
static void on_done(struct lc_statemachine *sm)
{
    struct lc_sm_read *held = sm->held;
    sm->pending = false;
    sm->held = NULL;
    if (sm->idle != NULL) {
        uv_idle_stop(sm->idle);
    }
    if (sm->backlog && sm->slices <= 1) {
        lc_debugf("sm", "group %s: a run of entries applied one iteration "
                  "later, up to %llu",
                  sm->proc->group, (unsigned long long)sm->applied);
    } else if (sm->backlog) {
        lc_infof("sm",
                 "group %s: a backlog of entries applied in %u slice(s) over "
                 "%.0f ms (longest %.1f ms), up to %llu",
                 sm->proc->group, sm->slices,
                 (double)(lc_mono_us() - sm->load_start_us) / 1000.0,
                 (double)sm->longest_us / 1000.0,
                 (unsigned long long)sm->applied);
    } else {
        lc_infof("sm",
                 "group %s: snapshot at index %llu loaded in %u slice(s) over "
                 "%.0f ms (copied and checked in %.1f ms, longest slice "
                 "%.1f ms), entries applied after it up to %llu",
                 sm->proc->group, (unsigned long long)sm->staged_index,
                 sm->slices,
                 (double)(lc_mono_us() - sm->load_start_us) / 1000.0,
                 (double)sm->stage_us / 1000.0,
                 (double)sm->longest_us / 1000.0,
                 (unsigned long long)sm->applied);
    }
    sm->backlog = false;
    while (held != NULL) {
        struct lc_sm_read *next = held->held_next;
        deliver_read(held, 0);
        held = next;
    }
    if (sm->group != NULL) {
        lc_raft_group_visible(sm->group);
    }
}

/* Work until @until_us (UINT64_MAX: to the end). */
static void run_slice(struct lc_statemachine *sm, uint64_t until_us)
{
    char errmsg[256] = "";
    uint64_t before = sm->applied;
    uint64_t t0 = lc_mono_us();

    lc_loopmon_enter(PHASE_RESTORE);
    sm->slices++;
    if (sm->staged != NULL) {
        bool done = false;
        int rv = sm->proc->load_step(sm->proc, sm->staged, until_us, &done,
                                     errmsg, sizeof errmsg);
        if (rv != 0) {
            /* The image passed its checksum, so this is a bug or memory
             * exhaustion; the state is part old, part new: never serve it
             * (a detached glue refuses the snapshot instead: sm_restore). */
            snprintf(sm->error, sizeof sm->error, "%s",
                     errmsg[0] != '\0' ? errmsg : lc_strerror(rv));
            if (sm->idle != NULL) {
                lc_errorf("sm",
                          "group %s: loading snapshot at index %llu failed: "
                          "%s; this member stays unready until restarted",
                          sm->proc->group,
                          (unsigned long long)sm->staged_index, sm->error);
            }
            sm->broken = true;
            release_staged(sm);
            drop_queue(sm);
            if (sm->idle != NULL) {
                uv_idle_stop(sm->idle);
            }
            fail_held(sm, LC_ECORRUPT);
            lc_loopmon_leave();
            return;
        }
        if (done) {
            release_staged(sm);
            sm->applied = sm->staged_index;
        }
    }
    while (sm->staged == NULL && sm->q_head != NULL &&
           lc_mono_us() < until_us) {
        struct queued *q = sm->q_head;
        struct lc_raft_result res = {0, ""};
        sm->q_head = q->next;
        if (sm->q_head == NULL) {
            sm->q_tail = NULL;
        }
        sm->n_queued--;
        apply_entry(sm, q->index, q->buf, q->len, &res);
        sm->applied = q->index;
        free(q);
    }
    lc_loopmon_leave();
    if (lc_mono_us() - t0 > sm->longest_us) {
        sm->longest_us = lc_mono_us() - t0;
    }
    if (sm->staged == NULL && sm->q_head == NULL) {
        on_done(sm);
    } else if (sm->applied != before && sm->group != NULL) {
        lc_raft_group_visible(sm->group);
    }
}

static void on_idle(uv_idle_t *h)
{
    struct lc_statemachine *sm = h->data;
    run_slice(sm, lc_mono_us() + LC_SM_SLICE_US);
}

static void finish_now(struct lc_statemachine *sm, const char *why)
{
    uint64_t t0 = lc_mono_us();
    while (sm->pending && !sm->broken) {
        run_slice(sm, UINT64_MAX);
    }
    lc_infof("sm", "group %s: finished a staged load at once for %s "
             "(%.1f ms)",
             sm->proc->group, why, (double)(lc_mono_us() - t0) / 1000.0);
}

static uint64_t sm_visible(struct lc_raft_sm *rsm)
{
    struct lc_statemachine *sm = rsm->data;
    return sm->pending ? sm->applied : UINT64_MAX;
}

/* Keep a copy of @buf, validate it and stage it; the slices follow. */
static int stage_restore(struct lc_statemachine *sm, const void *buf,
                         size_t len, struct lc_snapshot_meta *meta,
                         char *errmsg, size_t errlen)
{
    uint64_t t0 = lc_mono_us();
    bool replacing = sm->pending && !sm->broken;
    int rv;
    if (replacing) {
        /* The new image replaces everything the old one and the queued
         * entries (all before it) would have made. */
        release_staged(sm);
        drop_queue(sm);
    }
    sm->image = malloc(len > 0 ? len : 1);
    if (sm->image == NULL) {
        rv = LC_ENOMEM;
        goto fail;
    }
    memcpy(sm->image, buf, len);
    rv = lc_snapshot_open(sm->image, len, sm->proc->group, &sm->db, meta,
                          errmsg, errlen);
    if (rv == 0) {
        rv = sm->proc->load_begin(sm->proc, sm->db, &sm->staged, errmsg,
                                  errlen);
    }
    if (rv != 0) {
        release_staged(sm);
        goto fail;
    }
    sm->staged_index = meta->index;
    sm->load_start_us = lc_mono_us();
    sm->stage_us = lc_mono_us() - t0;
    sm->longest_us = 0;
    sm->slices = 0;
    sm->pending = true;
    sm->broken = false;
    sm->backlog = false;
    return 0;

fail:
    if (replacing) {
        /* The state is part of the old load: never serve it. */
        snprintf(sm->error, sizeof sm->error,
                 "a snapshot replacing a load under way failed: %s",
                 lc_strerror(rv));
        sm->broken = true;
        fail_held(sm, LC_ECORRUPT);
    }
    return rv;
}

static int sm_restore(struct lc_raft_sm *rsm, const void *buf, size_t len,
                      struct lc_raft_snapshot_info *info, char *errmsg,
                      size_t errlen)
{
    struct lc_statemachine *sm = rsm->data;
    struct lc_snapshot_meta meta;
    sqlite3 *db;
    int rv;

    lc_loopmon_enter(PHASE_RESTORE);
    if (sm->proc->load_step != NULL) {
        rv = stage_restore(sm, buf, len, &meta, errmsg, errlen);
        if (rv == 0 && sm->idle != NULL) {
            uv_idle_start(sm->idle, on_idle);
        } else if (rv == 0) {
            /* Detached: no loop to slice on. */
            lc_loopmon_leave();
            while (sm->pending && !sm->broken) {
                run_slice(sm, UINT64_MAX);
            }
            lc_loopmon_enter(PHASE_RESTORE);
            if (sm->broken) {
                /* Refused, as a bad row is found before anything is
                 * published (load_step's first phase). */
                rv = LC_ECORRUPT;
                snprintf(errmsg, errlen, "%s", sm->error);
                sm->broken = false;
                sm->pending = false;
            }
        }
    } else {
        rv = lc_snapshot_open(buf, len, sm->proc->group, &db, &meta, errmsg,
                              errlen);
        if (rv == 0) {
            rv = sm->proc->snapshot_load(sm->proc, db, errmsg, errlen);
            lc_snapshot_close(db);
        }
        if (rv == 0) {
            sm->applied = meta.index;
        }
    }
    lc_loopmon_leave();
    if (rv != 0) {
        return rv;
    }
    info->index = meta.index;
    info->term = meta.term;
    info->created_ms = meta.created_ms;
    info->size = len;
    return 0;
}

int lc_statemachine_new_detached(struct lc_processor *p,
                                 struct lc_statemachine **out)
{
    struct lc_statemachine *sm = calloc(1, sizeof *sm);
    if (sm == NULL) {
        return LC_ENOMEM;
    }
    sm->proc = p;
    sm->sm.data = sm;
    sm->sm.apply = sm_apply;
    sm->sm.snapshot_take = sm_snapshot_take;
    sm->sm.snapshot_write = sm_snapshot_write;
    sm->sm.snapshot_release = sm_snapshot_release;
    sm->sm.restore = sm_restore;
    sm->sm.visible = sm_visible;
    *out = sm;
    return 0;
}

struct lc_raft_sm *lc_statemachine_sm(struct lc_statemachine *sm)
{
    return &sm->sm;
}

int lc_statemachine_register(struct lc_raft_engine *e, struct lc_processor *p,
                             struct lc_statemachine **out)
{
    struct lc_statemachine *sm;
    int rv = lc_statemachine_new_detached(p, &sm);
    if (rv != 0) {
        return rv;
    }
    /* The idle handle first: once the group is added, the engine holds
     * &sm->sm and sm must live. */
    if (p->load_step != NULL) {
        sm->idle = malloc(sizeof *sm->idle);
        if (sm->idle == NULL) {
            free(sm);
            return LC_ENOMEM;
        }
    }
    rv = lc_raft_engine_add_group(e, p->group, &sm->sm, &sm->group);
    if (rv != 0) {
        free(sm->idle);
        free(sm);
        return rv;
    }
    if (sm->idle != NULL) {
        uv_idle_init(lc_raft_engine_loop(e), sm->idle);
        sm->idle->data = sm;
    }
    *out = sm;
    return 0;
}

static void on_idle_closed(uv_handle_t *h)
{
    free(h);
}

void lc_statemachine_detach(struct lc_statemachine *sm)
{
    if (sm == NULL) {
        return;
    }
    if (sm->idle != NULL) {
        uv_close((uv_handle_t *)sm->idle, on_idle_closed);
        sm->idle = NULL;
    }
    fail_held(sm, LC_ESHUTDOWN);
}

void lc_statemachine_free(struct lc_statemachine *sm)
{
    if (sm == NULL) {
        return;
    }
    if (sm->idle != NULL) {
        uv_close((uv_handle_t *)sm->idle, on_idle_closed);
    }
    fail_held(sm, LC_ESHUTDOWN);
    release_staged(sm);
    drop_queue(sm);
    free(sm);
}

struct lc_raft_group *lc_statemachine_group(struct lc_statemachine *sm)
{
    return sm->group;
}

/* canonical/raft 0.15's segment writer pads every entry to 8 bytes but its
 * loader does not skip the padding, so a log holding an entry of another
 * length cannot be read back. Entries are therefore padded here with a
 * protobuf field Nacos's WriteRequest does not define (number 15, bytes):
 * every protobuf parser skips unknown fields, so the entry is still exactly a
 * WriteRequest to any reader. */
#define PAD_FIELD_TAG 0x7a /* field 15, wire type 2 (length-delimited) */

static size_t pad_length(size_t n)
{
    /* tag + one-byte length + L zero bytes, L in 0..7 */
    return 2 + (8 - (n + 2) % 8) % 8;
}

int lc_sm_encode_write(const char *group, const char *key,
                       const char *operation, const char *type,
                       const void *data, size_t len, void **buf,
                       size_t *buflen)
{
    Locus__Consistency__WriteRequest req =
        LOCUS__CONSISTENCY__WRITE_REQUEST__INIT;
    size_t n;
    size_t pad;
    uint8_t *out;

    req.group = (char *)group;
    req.key = (char *)(key != NULL ? key : "");
    req.operation = (char *)(operation != NULL ? operation : "");
    req.type = (char *)(type != NULL ? type : "");
    req.data.data = (uint8_t *)data;
    req.data.len = len;
    n = locus__consistency__write_request__get_packed_size(&req);
    pad = pad_length(n);
    out = raft_malloc(n + pad);
    if (out == NULL) {
        return LC_ENOMEM;
    }
    locus__consistency__write_request__pack(&req, out);
    out[n] = PAD_FIELD_TAG;
    out[n + 1] = (uint8_t)(pad - 2);
    memset(out + n + 2, 0, pad - 2);
    *buf = out;
    *buflen = n + pad;
    return 0;
}

static void on_raft_write(struct lc_raft_write *rw, int status,
                          const struct lc_raft_result *result)
{
    struct lc_sm_write *w = LC_CONTAINER_OF(rw, struct lc_sm_write, raft);
    w->cb(w, status, result);
}

int lc_sm_write(struct lc_statemachine *sm, struct lc_sm_write *w,
                const char *key, const char *operation, const void *data,
                size_t len, lc_sm_write_cb cb)
{
    void *buf;
    size_t n;
    int rv = lc_sm_encode_write(sm->proc->group, key, operation, "", data,
                                len, &buf, &n);
    if (rv != 0) {
        return rv;
    }
    w->cb = cb;
    return lc_raft_group_write(sm->group, &w->raft, buf, n, on_raft_write);
}

static void on_raft_read(struct lc_raft_read *rr, int status)
{
    struct lc_sm_read *r = LC_CONTAINER_OF(rr, struct lc_sm_read, raft);
    struct lc_statemachine *sm = r->sm;
    if (status == 0 && sm->broken) {
        deliver_read(r, LC_ECORRUPT);
        return;
    }
    if (status == 0 && sm->pending) {
        /* The barrier is applied but the state does not show it yet. */
        r->held_next = sm->held;
        sm->held = r;
        return;
    }
    deliver_read(r, status);
}

static void deliver_read(struct lc_sm_read *r, int status)
{
    Locus__Consistency__Response resp = LOCUS__CONSISTENCY__RESPONSE__INIT;
    struct lc_processor *p = r->sm->proc;

    /* RESPONSE__INIT points errmsg at protobuf-c's static empty string;
     * the processor fills in malloc'd strings or leaves NULL. */
    resp.errmsg = NULL;
    if (status == 0 && p->on_read != NULL) {
        p->on_read(p, &r->req, &resp);
    }
    free(r->req_data);
    r->req_data = NULL;
    r->cb(r, status, status == 0 ? &resp : NULL);
    free(resp.data.data);
    free(resp.errmsg);
}

int lc_sm_read(struct lc_statemachine *sm, struct lc_sm_read *r,
               const void *data, size_t len, lc_sm_read_cb cb)
{
    int rv;
    locus__consistency__read_request__init(&r->req);
    r->req_data = malloc(len > 0 ? len : 1);
    if (r->req_data == NULL) {
        return LC_ENOMEM;
    }
    if (len > 0) {
        memcpy(r->req_data, data, len);
    }
    r->req.group = (char *)sm->proc->group;
    r->req.data.data = r->req_data;
    r->req.data.len = len;
    r->sm = sm;
    r->cb = cb;
    rv = lc_raft_group_read_barrier(sm->group, &r->raft, on_raft_read);
    if (rv != 0) {
        free(r->req_data);
        r->req_data = NULL;
    }
    return rv;
}
