/* Test adapter from lc_raft_sm to canonical/raft's raft_fsm (fixture use). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "snapshots/snapshots.h"
#include "test/support/fixture_sm.h"

static int grow(struct lc_fixture_sm *a, uint64_t index)
{
    size_t ncap;
    struct lc_fixture_applied *n;
    if (index < a->cap) {
        return 0;
    }
    ncap = a->cap == 0 ? 64 : a->cap;
    while (ncap <= index) {
        ncap *= 2;
    }
    n = realloc(a->applied, ncap * sizeof *n);
    if (n == NULL) {
        return LC_ENOMEM;
    }
    memset(n + a->cap, 0, (ncap - a->cap) * sizeof *n);
    a->applied = n;
    a->cap = ncap;
    return 0;
}

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
                     void **result)
{
    struct lc_fixture_sm *a = fsm->data;
    uint64_t index;
    struct lc_fixture_applied *slot;

    assert(a->raft != NULL); /* lc_fixture_sm_attach() was called */
    index = a->raft->last_applied + 1;
    *result = NULL;
    if (grow(a, index) != 0) {
        return RAFT_NOMEM;
    }
    slot = &a->applied[index];
    if (slot->applied) {
        a->n_reapplied++;
    }
    slot->applied = true;
    slot->result.status = 0;
    slot->result.message[0] = '\0';
    a->sm->apply(a->sm, index, buf->base, buf->len, &slot->result);
    a->n_applied++;
    /* Valid while raft_apply's callback runs (right after this returns). */
    *result = &slot->result;
    return 0;
}

/* The image as the engine gets it: in pieces. */
static int image_bufs(struct lc_fixture_sm *a, uint64_t index, uint64_t term,
                      struct raft_buffer **bufs, unsigned *n_bufs)
{
    void *frozen = NULL;
    int rv = a->sm->snapshot_take(a->sm, index, term, &frozen);
    if (rv != 0) {
        return rv;
    }
    rv = a->sm->snapshot_write(a->sm, frozen, bufs, n_bufs);
    a->sm->snapshot_release(a->sm, frozen);
    return rv;
}

int lc_fixture_sm_image(struct lc_fixture_sm *a, uint64_t index, uint64_t term,
                        void **buf, size_t *len)
{
    struct raft_buffer *bufs;
    unsigned n_bufs;
    int rv = image_bufs(a, index, term, &bufs, &n_bufs);
    if (rv != 0) {
        return rv;
    }
    return lc_snapshot_join(bufs, n_bufs, buf, len);
}

/* Version 1: synchronous, raft frees the buffers afterwards. */
static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[],
                        unsigned *n_bufs)
{
    struct lc_fixture_sm *a = fsm->data;
    uint64_t index = a->raft->snapshot.pending.index;
    uint64_t term = a->raft->snapshot.pending.term;
    int rv;

    /* Several pieces, as the engine hands them (the fixture's io joins). */
    rv = image_bufs(a, index, term, bufs, n_bufs);
    if (rv != 0) {
        return rv == LC_ENOMEM ? RAFT_NOMEM : RAFT_IOERR;
    }
    a->n_snapshots++;
    a->last_snapshot_index = index;
    return 0;
}

/* On success the buffer is ours to free; on failure raft keeps it. */
static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    struct lc_fixture_sm *a = fsm->data;
    struct lc_raft_snapshot_info info;
    char errmsg[256] = "";
    int rv;

    memset(&info, 0, sizeof info);
    if (a->corrupt_restores > 0 && buf->len > 0) {
        ((uint8_t *)buf->base)[0] ^= 0xff;
        a->corrupt_restores--;
    }
    if (a->restore_hook != NULL) {
        a->restore_hook(a, false, a->hook_data);
    }
    rv = a->sm->restore(a->sm, buf->base, buf->len, &info, errmsg,
                        sizeof errmsg);
    if (rv != 0) {
        a->n_restore_errors++;
        a->restore_error = rv;
        memcpy(a->restore_errmsg, errmsg, sizeof a->restore_errmsg);
    } else {
        a->n_restores++;
        a->restored = info;
    }
    if (a->restore_hook != NULL) {
        a->restore_hook(a, true, a->hook_data);
    }
    if (rv != 0) {
        /* canonical/raft 0.15 bug: when the restore of an installed snapshot
         * fails, installSnapshotCb frees bufs[0].base but not the bufs array
         * itself (@buf), which nothing touches afterwards. Free it at close
         * so LeakSanitizer stays strict for everything else. At raft_start
         * (state still unavailable) raft frees it itself. */
        if (a->raft->state != RAFT_UNAVAILABLE) {
            struct raft_buffer **v =
                realloc(a->orphans, (a->n_orphans + 1) * sizeof *v);
            if (v != NULL) {
                a->orphans = v;
                a->orphans[a->n_orphans++] = buf;
            }
        }
        return RAFT_CORRUPT;
    }
    raft_free(buf->base);
    return 0;
}

void lc_fixture_sm_init(struct lc_fixture_sm *a, struct lc_raft_sm *sm)
{
    memset(a, 0, sizeof *a);
    a->sm = sm;
    a->fsm.version = 1;
    a->fsm.data = a;
    a->fsm.apply = fsm_apply;
    a->fsm.snapshot = fsm_snapshot;
    a->fsm.restore = fsm_restore;
}

void lc_fixture_sm_attach(struct lc_fixture_sm *a, struct raft *raft)
{
    a->raft = raft;
}

void lc_fixture_sm_close(struct lc_fixture_sm *a)
{
    for (size_t i = 0; i < a->n_orphans; i++) {
        raft_free(a->orphans[i]);
    }
    free(a->orphans);
    a->orphans = NULL;
    a->n_orphans = 0;
    free(a->applied);
    a->applied = NULL;
    a->cap = 0;
}

const struct lc_raft_result *lc_fixture_sm_result(const struct lc_fixture_sm *a,
                                                  uint64_t index)
{
    if (index >= a->cap || !a->applied[index].applied) {
        return NULL;
    }
    return &a->applied[index].result;
}
