/* Shared helpers of the snapshots/ unit tests: building, rewriting and
 * opening images (test/support/snap_env.c). */
#ifndef LC_TEST_SNAP_ENV_H
#define LC_TEST_SNAP_ENV_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "snapshots/snapshots.h"

#define TS_GROUP "naming_persistent_service_v2"

/* Tables of every type and edge value, for round trips and tampering. */
extern const char TS_CONTENT_SQL[];

/* Run @sql on @db or fail the test. */
void ts_exec_ok(sqlite3 *db, const char *sql);
/* Meta of @group with fixed index, term and time. */
struct lc_snapshot_meta ts_meta(const char *group);
/* Finish @db with ts_meta(@group); the image is raft_malloc'd. */
void ts_finish_ok(sqlite3 *db, const char *group, void **buf, size_t *len);
/* A snapshot of TS_CONTENT_SQL for TS_GROUP (raft_malloc'd). */
void ts_make_image(void **buf, size_t *len);
/* Run @sql on a writable copy of @buf and serialise it again. The result is
 * sqlite3_malloc'd. */
unsigned char *ts_rewrite_image(const void *buf, size_t len, const char *sql,
                                size_t *out_len);
/* Open must fail with @want and a message starting with @prefix (NULL: any
 * message). */
void ts_expect_open_error(const void *buf, size_t len, const char *group,
                          int want, const char *prefix);
/* The checksum in an image's meta table. */
uint64_t ts_checksum_of(const void *buf, size_t len);
/* xorshift64*: reproducible pseudo-random numbers. */
uint64_t ts_rng(void);
/* Run the sqlite3 shell read-only on @path with @args (quoted for sh);
 * its output into @out, which is returned. Fails unless it exits 0. */
const char *ts_sqlite_cli(const char *path, const char *args, char *out,
                          size_t size);

#endif /* LC_TEST_SNAP_ENV_H */
