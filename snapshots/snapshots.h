/* Snapshot files: one SQLite database per snapshot.
 *
 * A snapshot is an ordinary SQLite database image. A processor writes its own
 * tables into it; this module adds a `meta` table (key TEXT PRIMARY KEY,
 * value TEXT) holding group, index, term, format version, creation time and a
 * checksum over every other table, and hands the database file over as the
 * buffers canonical/raft writes, as they are, into the snapshot file. An operator can open
 * that file with `sqlite3 <file> .tables`.
 *
 * Loading deserialises a buffer, in place and without a copy, into a
 * read-only in-memory database and
 * refuses it, with a message naming the cause, when it is not a SQLite image,
 * lacks the meta table, has another format version, belongs to another group
 * or its checksum does not match its content.
 *
 * Threads: a writer or reader is used by one thread at a time. Writing runs on
 * the libuv thread pool (raft's async snapshot); loading runs on the loop.
 */
#ifndef LC_SNAPSHOTS_H
#define LC_SNAPSHOTS_H

#include <raft.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define LC_SNAPSHOT_FORMAT 1

struct lc_snapshot_meta {
    char group[128];     /* raft group the snapshot belongs to */
    uint64_t index;      /* last log index included */
    uint64_t term;       /* term of that entry */
    int format;          /* LC_SNAPSHOT_FORMAT */
    uint64_t created_ms; /* wall clock at creation, ms since the epoch */
    uint64_t checksum;   /* XXH64 over the content tables (see snapshots.c) */
};

/* Open an empty in-memory database for a processor to fill. Return 0 or
 * LC_ENOMEM / LC_EIO. The caller owns *@db until lc_snapshot_finish() or
 * lc_snapshot_abort(). */
int lc_snapshot_begin(sqlite3 **db);

/* Compute the checksum, write the meta table from @meta (group, index, term,
 * created_ms; format and checksum are filled in) and close @db, handing over
 * the database file as it was written, without a copy: on 0, *@bufs is a
 * raft_malloc'd array of *@n_bufs (>= 1) raft_malloc'd buffers whose
 * concatenation is the image, owned by the caller (lc_snapshot_free_bufs(),
 * or raft). @db is closed in every case. On failure a message is written to
 * @errmsg (@errlen bytes): LC_ENOMEM, LC_ETOOBIG (image over 1 GiB), or
 * LC_EINVAL for an empty group, an open transaction, a table named meta or a
 * table the checksum cannot cover (WITHOUT ROWID, virtual, VIRTUAL generated
 * column). */
int lc_snapshot_finish_bufs(sqlite3 *db, const struct lc_snapshot_meta *meta,
                            struct raft_buffer **bufs, unsigned *n_bufs,
                            char *errmsg, size_t errlen);

/* Free what lc_snapshot_finish_bufs() returned (NULL @bufs: nothing). */
void lc_snapshot_free_bufs(struct raft_buffer *bufs, unsigned n_bufs);

/* Join the @n_bufs buffers of @bufs (taken over in every case) into one
 * raft_malloc'd buffer *@buf of *@len bytes: moved when there is one, copied
 * otherwise. Return 0 or LC_ENOMEM. */
int lc_snapshot_join(struct raft_buffer *bufs, unsigned n_bufs, void **buf,
                     size_t *len);

/* lc_snapshot_finish_bufs() then lc_snapshot_join(): the image in one
 * raft_malloc'd buffer *@buf of *@len bytes, owned by the caller. Holds the
 * image twice for a moment when it is over 64 KiB: for tests and tools, not
 * for raft. */
int lc_snapshot_finish(sqlite3 *db, const struct lc_snapshot_meta *meta,
                       void **buf, size_t *len, char *errmsg, size_t errlen);

/* Close a database opened by lc_snapshot_begin() without producing an image. */
void lc_snapshot_abort(sqlite3 *db);

/* Open the image @buf/@len (borrowed until lc_snapshot_close(); read in
 * place, never written) read-only and validate it against @group. On 0, *@db
 * is open and *@meta filled. On failure: LC_ECORRUPT (not SQLite, missing or
 * malformed meta, checksum mismatch), LC_EINVAL (another group or format),
 * LC_ENOMEM, with a message naming the cause in @errmsg. */
int lc_snapshot_open(const void *buf, size_t len, const char *group,
                     sqlite3 **db, struct lc_snapshot_meta *meta,
                     char *errmsg, size_t errlen);

/* Prepare "SELECT @columns FROM @table ORDER BY rowid" on an opened image:
 * 0, or LC_ECORRUPT with "snapshot has no <table> table: ..." in @errmsg. */
int lc_snapshot_select(sqlite3 *db, const char *table, const char *columns,
                       sqlite3_stmt **st, char *errmsg, size_t errlen);

/* Close a database opened by lc_snapshot_open(). */
void lc_snapshot_close(sqlite3 *db);

/* Read only the meta table of an image, without checking the checksum (for
 * status and for locusctl). Return 0, LC_ECORRUPT, LC_EINVAL (another format)
 * or LC_ENOMEM. */
int lc_snapshot_read_meta(const void *buf, size_t len,
                          struct lc_snapshot_meta *meta, char *errmsg,
                          size_t errlen);

#endif /* LC_SNAPSHOTS_H */
