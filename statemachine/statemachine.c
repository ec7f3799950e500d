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
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/loopmon.h"
#include "common/util.h"
#include "snapshots/snapshots.h"
#include "statemachine/statemachine.h"

struct lc_statemachine {
    struct lc_raft_sm sm;
    struct lc_processor *proc;
    struct lc_raft_group *group;
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

static void sm_apply(struct lc_raft_sm *rsm, uint64_t index, const void *buf,
                     size_t len, struct lc_raft_result *result)
{
    struct lc_statemachine *sm = rsm->data;
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

static int sm_snapshot_take(struct lc_raft_sm *rsm, uint64_t index,
                            uint64_t term, void **out)
{
    struct lc_statemachine *sm = rsm->data;
    struct frozen *f = malloc(sizeof *f);
    int rv;
    if (f == NULL) {
        return LC_ENOMEM;
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

static int sm_restore(struct lc_raft_sm *rsm, const void *buf, size_t len,
                      struct lc_raft_snapshot_info *info, char *errmsg,
                      size_t errlen)
{
    struct lc_statemachine *sm = rsm->data;
    struct lc_snapshot_meta meta;
    sqlite3 *db;
    int rv;

    lc_loopmon_enter(PHASE_RESTORE);
    rv = lc_snapshot_open(buf, len, sm->proc->group, &db, &meta, errmsg,
                          errlen);
    if (rv != 0) {
        lc_loopmon_leave();
        return rv;
    }
    rv = sm->proc->snapshot_load(sm->proc, db, errmsg, errlen);
    lc_snapshot_close(db);
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
    rv = lc_raft_engine_add_group(e, p->group, &sm->sm, &sm->group);
    if (rv != 0) {
        free(sm);
        return rv;
    }
    *out = sm;
    return 0;
}

void lc_statemachine_free(struct lc_statemachine *sm)
{
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
