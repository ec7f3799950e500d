/* Processors and the glue that runs them on a Raft group.
 *
 * A processor is a deterministic state machine for one group, as a Nacos
 * RequestProcessor4CP: it applies WriteRequest entries, answers consistent
 * reads, and saves and loads snapshots (SQLite tables, see
 * snapshots/snapshots.h). Registering a processor creates its group in the
 * raft engine. Log entries are protobuf WriteRequest {group, key, data, type,
 * operation, extendInfo}, field for field as in Nacos.
 */
#ifndef LC_STATEMACHINE_H
#define LC_STATEMACHINE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/engine.h"
#include "statemachine/consistency.pb-c.h"

struct lc_processor;

/* A processor. Every callback runs on the loop except snapshot_save, which
 * runs on a worker thread and may only read what snapshot_freeze captured. */
struct lc_processor {
    const char *group; /* raft group name (borrowed, static) */
    void *data;

    /* Apply the committed @req at log @index. Must be deterministic: every
     * member applies the same entries in the same order. A rejected request
     * is reported in @result (status and message), not by failing. */
    void (*on_apply)(struct lc_processor *p, uint64_t index,
                     const Locus__Consistency__WriteRequest *req,
                     struct lc_raft_result *result);

    /* Answer @req from local state (called after a read barrier). Fill
     * @resp: data (malloc'd, owned by the caller afterwards), errMsg
     * (malloc'd or NULL), success. NULL if the processor has no reads. */
    void (*on_read)(struct lc_processor *p,
                    const Locus__Consistency__ReadRequest *req,
                    Locus__Consistency__Response *resp);

    /* Capture the state cheaply (e.g. take references) into *@frozen. */
    int (*snapshot_freeze)(struct lc_processor *p, void **frozen);
    /* Worker thread: write @frozen as tables into @db (rowid tables). */
    int (*snapshot_save)(struct lc_processor *p, void *frozen, sqlite3 *db,
                         char *errmsg, size_t errlen);
    /* Release what snapshot_freeze captured. */
    void (*snapshot_release)(struct lc_processor *p, void *frozen);
    /* Replace the whole state with the tables of @db, publishing what
     * changed. On error the state must be unchanged. */
    int (*snapshot_load)(struct lc_processor *p, sqlite3 *db, char *errmsg,
                         size_t errlen);

    /* Instead of snapshot_load, for states large enough to hold the loop
     * (all three or none): load in slices. load_begin stages @db (borrowed
     * until load_end) without touching the state. load_step works until
     * the monotonic clock passes @until_us (checked every few rows) and
     * sets *@done once the state is exactly the snapshot's; an error (the
     * image is bad) may leave the state partly changed. load_end frees the
     * staging, done or not. Between slices the glue holds back entries
     * and consistent reads (see lc_statemachine_register). */
    int (*load_begin)(struct lc_processor *p, sqlite3 *db, void **staged,
                      char *errmsg, size_t errlen);
    int (*load_step)(struct lc_processor *p, void *staged, uint64_t until_us,
                     bool *done, char *errmsg, size_t errlen);
    void (*load_end)(struct lc_processor *p, void *staged);
};

struct lc_statemachine;

/* Longest slice of a staged snapshot load or of queued entries. */
#define LC_SM_SLICE_US 5000

/* Create the glue for @p (borrowed for the engine's lifetime) and its group
 * in @e (before lc_raft_engine_start). Return 0 or an LC_E* code.
 *
 * A snapshot installed while running (a follower far behind) is loaded in
 * slices of LC_SM_SLICE_US on the engine's loop when @p has load_step: the
 * image is validated (checksum, group) before raft is told it is restored,
 * then published over later loop iterations. Until the last slice, entries
 * raft applies are queued and applied after it (in slices too), the group
 * is told that only entries up to the last one applied here are visible
 * (writes and reads waiting on this member, and its readiness, wait for
 * them), consistent reads are held, a snapshot or a term as leader first
 * finishes the load at once. The state is the same as after a load in one
 * piece. */
int lc_statemachine_register(struct lc_raft_engine *e, struct lc_processor *p,
                             struct lc_statemachine **out);

/* For tests and tools: create the glue for @p (borrowed) without a raft
 * group, to be driven through lc_statemachine_sm() by something other than
 * the engine (e.g. canonical/raft's fixture). lc_statemachine_group() is NULL
 * and lc_sm_write()/lc_sm_read() must not be used on it. Free it with
 * lc_statemachine_free(). Return 0 or LC_ENOMEM. */
int lc_statemachine_new_detached(struct lc_processor *p,
                                 struct lc_statemachine **out);

/* The lc_raft_sm running @sm's processor (owned by @sm). */
struct lc_raft_sm *lc_statemachine_sm(struct lc_statemachine *sm);

/* Shutting down, before the engine closes (it frees the group): stop the
 * deferred slices (nothing runs after the group is gone) and fail reads
 * held for a load with LC_ESHUTDOWN. Writes and reads submitted afterwards
 * fail as the engine closes. */
void lc_statemachine_detach(struct lc_statemachine *sm);

/* Free the glue (after the engine is closed). */
void lc_statemachine_free(struct lc_statemachine *sm);

struct lc_raft_group *lc_statemachine_group(struct lc_statemachine *sm);

/* Encode a WriteRequest into a buffer allocated with raft_malloc. Strings are
 * borrowed; @data (@len bytes) is copied. Return 0 or LC_ENOMEM. */
int lc_sm_encode_write(const char *group, const char *key,
                       const char *operation, const char *type,
                       const void *data, size_t len, void **buf,
                       size_t *buflen);

/* ------------------------------------------------------------- writes */

struct lc_sm_write;
typedef void (*lc_sm_write_cb)(struct lc_sm_write *w, int status,
                               const struct lc_raft_result *result);

/* A write, caller-allocated, borrowed until @cb fires. @cb's status is 0
 * when the entry was applied on this node (then @result holds the
 * processor's verdict) or an LC_E* code from the engine. */
struct lc_sm_write {
    void *data;
    lc_sm_write_cb cb;
    struct lc_raft_write raft;
};

/* Submit a WriteRequest with @key, @operation and @data to @sm's group.
 * Return 0 or an LC_E* code (then @cb never fires). */
int lc_sm_write(struct lc_statemachine *sm, struct lc_sm_write *w,
                const char *key, const char *operation, const void *data,
                size_t len, lc_sm_write_cb cb);

/* -------------------------------------------------------------- reads */

struct lc_sm_read;
typedef void (*lc_sm_read_cb)(struct lc_sm_read *r, int status,
                              const Locus__Consistency__Response *resp);

/* A consistent read: a barrier through the leader, then the processor's
 * on_read on this node. */
struct lc_sm_read {
    void *data;
    lc_sm_read_cb cb;
    struct lc_raft_read raft;
    struct lc_statemachine *sm;
    Locus__Consistency__ReadRequest req;
    uint8_t *req_data;
    struct lc_sm_read *held_next; /* held while a snapshot loads */
};

/* Submit a consistent read of @data (copied). Return 0 or an LC_E* code. */
int lc_sm_read(struct lc_statemachine *sm, struct lc_sm_read *r,
               const void *data, size_t len, lc_sm_read_cb cb);

#endif /* LC_STATEMACHINE_H */
