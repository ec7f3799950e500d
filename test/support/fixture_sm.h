/* Test adapter: runs an lc_raft_sm (what a group runs, raft/engine.h) as the
 * raft_fsm of a server of canonical/raft's in-memory fixture.
 *
 * Apply passes the log index as the engine does (the raft instance's
 * last_applied + 1) and records every result by index. Snapshots are taken
 * synchronously (fsm version 1): snapshot_take, snapshot_write and
 * snapshot_release in one go; restore goes through lc_raft_sm's restore and
 * reports a refusal to raft as RAFT_CORRUPT, as raft/group.c does.
 */
#ifndef LC_TEST_FIXTURE_SM_H
#define LC_TEST_FIXTURE_SM_H

#include <raft.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/engine.h"

/* What the adapter saw at one log index. */
struct lc_fixture_applied {
    bool applied; /* a command was applied at this index */
    struct lc_raft_result result;
};

struct lc_fixture_sm {
    struct raft_fsm fsm;   /* pass &fsm to raft_fixture_grow() */
    struct lc_raft_sm *sm; /* borrowed */
    struct raft *raft;     /* the server's instance, see _attach() */

    struct lc_fixture_applied *applied; /* by log index, @cap slots */
    size_t cap;
    unsigned long n_applied;   /* command entries applied */
    unsigned long n_reapplied; /* an index applied a second time (a bug) */
    unsigned long n_snapshots; /* snapshots taken */
    uint64_t last_snapshot_index;
    unsigned long n_restores;              /* snapshots restored */
    unsigned long n_restore_errors;        /* snapshots refused */
    int restore_error;                     /* LC_E* of the last refusal */
    char restore_errmsg[256];              /* its message */
    struct lc_raft_snapshot_info restored; /* the last restored snapshot */

    /* Buffer arrays raft 0.15 forgets to free after a refused install
     * (see fsm_restore); freed by lc_fixture_sm_close(). */
    struct raft_buffer **orphans;
    size_t n_orphans;

    /* While non-zero, each restore raft asks for gets its image damaged
     * first (one byte of the SQLite header flipped) and this is decremented:
     * a snapshot corrupted on the way. */
    unsigned corrupt_restores;

    /* Called right before (@done false) and after (@done true, counters
     * updated) each restore raft asks for, e.g. to count the events the
     * restore alone publishes. */
    void (*restore_hook)(struct lc_fixture_sm *a, bool done, void *data);
    void *hook_data;
};

/* Prepare @a to run @sm (borrowed for @a's lifetime). */
void lc_fixture_sm_init(struct lc_fixture_sm *a, struct lc_raft_sm *sm);

/* Tell @a which raft instance applies through it: call after
 * raft_fixture_grow(f, &a->fsm) with raft_fixture_get(f, i). */
void lc_fixture_sm_attach(struct lc_fixture_sm *a, struct raft *raft);

/* Free what @a recorded (not @sm). After the fixture is closed. */
void lc_fixture_sm_close(struct lc_fixture_sm *a);

/* The result of the command applied at @index, or NULL when none was. The
 * pointer is valid until the next apply. */
const struct lc_raft_result *lc_fixture_sm_result(const struct lc_fixture_sm *a,
                                                  uint64_t index);

/* Produce a snapshot image of @a's state as of @index/@term through
 * snapshot_take, snapshot_write, snapshot_release. On 0, *@buf is
 * raft_malloc'd and owned by the caller. Return 0 or an LC_E* code. */
int lc_fixture_sm_image(struct lc_fixture_sm *a, uint64_t index, uint64_t term,
                        void **buf, size_t *len);

#endif /* LC_TEST_FIXTURE_SM_H */
