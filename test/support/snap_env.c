/* Shared helpers of the snapshots/ unit tests (test/support/snap_env.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>
#include <sqlite3.h>

#include "common/err.h"
#include "snapshots/snapshots.h"
#include "test/support/snap_env.h"

void ts_exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        fail_msg("%s: %s", sql, msg != NULL ? msg : sqlite3_errstr(rc));
    }
}

struct lc_snapshot_meta ts_meta(const char *group)
{
    struct lc_snapshot_meta m;
    memset(&m, 0, sizeof m);
    snprintf(m.group, sizeof m.group, "%s", group);
    m.index = 12345;
    m.term = 7;
    m.created_ms = 1700000000123u;
    return m;
}

/* Finish @db with ts_meta(@group); the image is raft_malloc'd. */
void ts_finish_ok(sqlite3 *db, const char *group, void **buf, size_t *len)
{
    struct lc_snapshot_meta m = ts_meta(group);
    char errmsg[256] = "";
    int err = lc_snapshot_finish(db, &m, buf, len, errmsg, sizeof errmsg);
    if (err != 0) {
        fail_msg("lc_snapshot_finish: %s (%s)", lc_errname(err), errmsg);
    }
}

const char TS_CONTENT_SQL[] =
    "CREATE TABLE services(id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " weight REAL, data BLOB, note);"
    "CREATE TABLE instances(ip TEXT, port INTEGER, healthy INTEGER, extra);"
    "CREATE INDEX instances_ip ON instances(ip);"
    "INSERT INTO services VALUES (1, 'svc-a', 1.5, x'00ff10', NULL);"
    "INSERT INTO services VALUES (2, 'tamper-me-please', -0.25, x'', 42);"
    "INSERT INTO services VALUES (9223372036854775807, '', 1e300,"
    " zeroblob(300), 'x');"
    "INSERT INTO instances VALUES ('127.0.0.1', 8080, 1, NULL);"
    "INSERT INTO instances VALUES ('127.0.0.2', 8081, 0, 3.25);"
    "INSERT INTO instances VALUES ('::1', -9223372036854775807 - 1, 1,"
    " 'text');";

/* A snapshot of TS_CONTENT_SQL for TS_GROUP. */
void ts_make_image(void **buf, size_t *len)
{
    sqlite3 *db;
    assert_int_equal(lc_snapshot_begin(&db), 0);
    ts_exec_ok(db, TS_CONTENT_SQL);
    ts_finish_ok(db, TS_GROUP, buf, len);
}

/* Run @sql on a writable copy of @buf and serialise it again. The result is
 * sqlite3_malloc'd. */
unsigned char *ts_rewrite_image(const void *buf, size_t len, const char *sql,
                                size_t *out_len)
{
    sqlite3 *db;
    unsigned char *copy;
    unsigned char *out;
    sqlite3_int64 size;

    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    copy = sqlite3_malloc64(len);
    assert_non_null(copy);
    memcpy(copy, buf, len);
    assert_int_equal(sqlite3_deserialize(db, "main", copy, (sqlite3_int64)len,
                                         (sqlite3_int64)len,
                                         SQLITE_DESERIALIZE_FREEONCLOSE |
                                             SQLITE_DESERIALIZE_RESIZEABLE),
                     SQLITE_OK);
    ts_exec_ok(db, sql);
    out = sqlite3_serialize(db, "main", &size, 0);
    assert_non_null(out);
    sqlite3_close(db);
    *out_len = (size_t)size;
    return out;
}

/* Open must fail with @want and a message starting with @prefix. */
void ts_expect_open_error(const void *buf, size_t len, const char *group,
                          int want, const char *prefix)
{
    struct lc_snapshot_meta m;
    char errmsg[512] = "";
    sqlite3 *db = NULL;
    int err = lc_snapshot_open(buf, len, group, &db, &m, errmsg, sizeof errmsg);
    if (err != want) {
        fail_msg("lc_snapshot_open: got %s (%s), want %s", lc_errname(err),
                 errmsg, lc_errname(want));
    }
    assert_null(db);
    if (prefix != NULL && strncmp(errmsg, prefix, strlen(prefix)) != 0) {
        fail_msg("message '%s' does not start with '%s'", errmsg, prefix);
    }
}

uint64_t ts_checksum_of(const void *buf, size_t len)
{
    struct lc_snapshot_meta m;
    char errmsg[256];
    assert_int_equal(lc_snapshot_read_meta(buf, len, &m, errmsg, sizeof errmsg),
                     0);
    return m.checksum;
}

/* xorshift64*: reproducible pseudo-random bytes. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;
uint64_t ts_rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717u;
}

const char *ts_sqlite_cli(const char *path, const char *args, char *out,
                          size_t size)
{
    char cmd[1024];
    FILE *f;
    size_t n;
    snprintf(cmd, sizeof cmd, "sqlite3 -readonly %s %s 2>&1", path, args);
    f = popen(cmd, "r");
    assert_non_null(f);
    n = fread(out, 1, size - 1, f);
    out[n] = '\0';
    assert_int_equal(pclose(f), 0);
    return out;
}
