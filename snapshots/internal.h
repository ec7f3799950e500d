/* Private to snapshots/: helpers shared by snapshots.c and checksum.c. */
#ifndef LC_SNAPSHOTS_INTERNAL_H
#define LC_SNAPSHOTS_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <raft.h>

#include "common/err.h"

#define META_TABLE "meta"

/* A formatted message into @errmsg, if the caller gave one; the code is
 * chosen apart. */
#define lc_snap_set_err(errmsg, errlen, ...) \
    ((void)lc_errf(0, errmsg, errlen, __VA_ARGS__))

/* Copy @src (untrusted text from an image) into @dst for a log message:
 * control characters become '?', long text is cut and ends with "...". */
void lc_snap_sanitize(char *dst, size_t size, const char *src);

/* SQLITE_* to LC_E*. */
int lc_snap_err_from_sqlite(int rc);
/* Whether a failure of @rc on @db was running out of memory. */
bool lc_snap_is_nomem(sqlite3 *db, int rc);
/* LC_ENOMEM or LC_ECORRUPT for a failure reading an untrusted image. */
int lc_snap_image_err(sqlite3 *db, int rc);

/* Refuse content tables the checksum cannot cover (WITHOUT ROWID, virtual,
 * VIRTUAL generated columns): LC_EINVAL with a message. */
int lc_snap_vet_tables(sqlite3 *db, char *errmsg, size_t errlen);

/* The checksum over every content table (format in checksum.c). */
int lc_snap_checksum(sqlite3 *db, uint64_t *out, char *errmsg, size_t errlen);

/* The in-memory VFS images are written with (vfs.c). */
#define LC_SNAP_VFS "lc-snapshot"

/* Largest file the VFS holds, in bytes (1 GiB; tests lower it). */
extern size_t lc_snap_vfs_max;

/* Register the VFS once per process; safe from any thread. An SQLITE_* code
 * (a failure is retried by the next call). */
int lc_snap_vfs_register(void);

/* Take the main database file of @db (opened on the VFS, no transaction
 * open) as the chunks that hold it: on SQLITE_OK *@bufs (raft_malloc'd array
 * of *@n_bufs raft_malloc'd buffers, each trimmed to its bytes in use; owned
 * by the caller) concatenate to the *@len-byte file, and the file is left
 * empty: @db may only be closed. SQLITE_EMPTY for an empty file,
 * SQLITE_MISUSE if @db's main file is not on the VFS. */
int lc_snap_vfs_take(sqlite3 *db, struct raft_buffer **bufs, unsigned *n_bufs,
                     size_t *len);

#endif /* LC_SNAPSHOTS_INTERNAL_H */
