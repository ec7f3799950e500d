/* Unit tests for snapshots/: round trip, checksum, what the writer refuses,
 * the sqlite3 shell on an image (refusals of bad images:
 * test_snapshots_refuse.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <raft.h>
#include <sqlite3.h>
#include <xxhash.h>

#include "common/err.h"
#include "snapshots/snapshots.h"
#include "test/support/snap_env.h"

/* ------------------------------------------------------------ round trip */

static void test_round_trip(void **state)
{
    struct lc_snapshot_meta m, m2;
    char errmsg[256] = "";
    sqlite3_stmt *stmt;
    sqlite3 *db;
    void *buf;
    size_t len;
    (void)state;

    ts_make_image(&buf, &len);
    assert_int_equal(
        lc_snapshot_open(buf, len, TS_GROUP, &db, &m, errmsg, sizeof errmsg),
        0);
    assert_string_equal(m.group, TS_GROUP);
    assert_int_equal(m.index, 12345);
    assert_int_equal(m.term, 7);
    assert_int_equal(m.format, LC_SNAPSHOT_FORMAT);
    assert_int_equal(m.created_ms, 1700000000123u);

    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT id, name, weight, data, note"
                                        " FROM services ORDER BY id",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(stmt, 0), 1);
    assert_string_equal(sqlite3_column_text(stmt, 1), "svc-a");
    assert_true(sqlite3_column_double(stmt, 2) == 1.5);
    assert_int_equal(sqlite3_column_bytes(stmt, 3), 3);
    assert_memory_equal(sqlite3_column_blob(stmt, 3), "\x00\xff\x10", 3);
    assert_int_equal(sqlite3_column_type(stmt, 4), SQLITE_NULL);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal(sqlite3_column_text(stmt, 1), "tamper-me-please");
    assert_true(sqlite3_column_double(stmt, 2) == -0.25);
    assert_int_equal(sqlite3_column_type(stmt, 3), SQLITE_BLOB);
    assert_int_equal(sqlite3_column_bytes(stmt, 3), 0);
    assert_int_equal(sqlite3_column_int64(stmt, 4), 42);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(stmt, 0), INT64_MAX);
    assert_string_equal(sqlite3_column_text(stmt, 1), "");
    assert_int_equal(sqlite3_column_bytes(stmt, 3), 300);
    assert_int_equal(sqlite3_step(stmt), SQLITE_DONE);
    sqlite3_finalize(stmt);

    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*), sum(healthy),"
                                        " min(port) FROM instances",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(stmt, 0), 3);
    assert_int_equal(sqlite3_column_int(stmt, 1), 2);
    assert_int_equal(sqlite3_column_int64(stmt, 2), INT64_MIN);
    sqlite3_finalize(stmt);

    /* The meta table is plain text for operators. */
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT value FROM meta WHERE key ="
                                        " 'checksum'",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    {
        char want[17];
        snprintf(want, sizeof want, "%016" PRIx64, m.checksum);
        assert_string_equal(sqlite3_column_text(stmt, 0), want);
    }
    sqlite3_finalize(stmt);

    /* Read-only. */
    assert_int_equal(
        sqlite3_exec(db, "DELETE FROM instances", NULL, NULL, NULL),
        SQLITE_READONLY);
    lc_snapshot_close(db);

    assert_int_equal(
        lc_snapshot_read_meta(buf, len, &m2, errmsg, sizeof errmsg), 0);
    assert_memory_equal(&m, &m2, sizeof m);
    raft_free(buf);
}

/* A snapshot with no processor tables is still a valid snapshot. */
static void test_round_trip_empty(void **state)
{
    struct lc_snapshot_meta m;
    char errmsg[256] = "";
    sqlite3 *db;
    void *buf;
    size_t len;
    (void)state;

    assert_int_equal(lc_snapshot_begin(&db), 0);
    ts_finish_ok(db, TS_GROUP, &buf, &len);
    assert_int_equal(
        lc_snapshot_open(buf, len, TS_GROUP, &db, &m, errmsg, sizeof errmsg),
        0);
    assert_int_equal(m.checksum, XXH64(NULL, 0, 0));
    lc_snapshot_close(db);
    raft_free(buf);
}

/* The opened database reads the caller's buffer in place and never writes
 * it: open it from read-only pages. */
static void test_open_reads_buffer_in_place(void **state)
{
    struct lc_snapshot_meta m;
    char errmsg[256] = "";
    sqlite3 *db;
    void *buf;
    size_t len;
    unsigned char *page;
    size_t map_len;
    (void)state;

    ts_make_image(&buf, &len);
    map_len = (len + 4095) & ~(size_t)4095;
    page = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(page != MAP_FAILED);
    memcpy(page, buf, len);
    assert_int_equal(mprotect(page, map_len, PROT_READ), 0);

    assert_int_equal(
        lc_snapshot_open(page, len, TS_GROUP, &db, &m, errmsg, sizeof errmsg),
        0);
    ts_exec_ok(db, "SELECT * FROM services; SELECT * FROM instances"
                   " WHERE ip = '::1'; PRAGMA integrity_check");
    lc_snapshot_close(db);
    assert_int_equal(
        lc_snapshot_read_meta(page, len, &m, errmsg, sizeof errmsg), 0);
    assert_memory_equal(page, buf, len);
    munmap(page, map_len);
    raft_free(buf);
}

/* ------------------------------------------------------------ checksum */

/* Checksum of a snapshot whose content is made by @sql. */
static uint64_t checksum_of_sql(const char *sql)
{
    sqlite3 *db;
    void *buf;
    size_t len;
    uint64_t sum;

    assert_int_equal(lc_snapshot_begin(&db), 0);
    ts_exec_ok(db, sql);
    ts_finish_ok(db, TS_GROUP, &buf, &len);
    sum = ts_checksum_of(buf, len);
    raft_free(buf);
    return sum;
}

static void test_checksum_deterministic(void **state)
{
    sqlite3 *db;
    void *a, *b;
    size_t alen, blen;
    struct lc_snapshot_meta m;
    (void)state;

    /* Same content, different creation time: same checksum. */
    ts_make_image(&a, &alen);
    assert_int_equal(lc_snapshot_begin(&db), 0);
    ts_exec_ok(db, TS_CONTENT_SQL);
    m = ts_meta(TS_GROUP);
    m.created_ms += 99999;
    m.index = 1;
    assert_int_equal(lc_snapshot_finish(db, &m, &b, &blen, NULL, 0), 0);
    assert_int_equal(ts_checksum_of(a, alen), ts_checksum_of(b, blen));
    raft_free(a);
    raft_free(b);

    /* Same rows and rowids inserted in another order; tables created in
     * another order; an index or not: same checksum. */
    assert_int_equal(
        checksum_of_sql("CREATE TABLE t(a, b); CREATE TABLE u(x);"
                        "INSERT INTO t(rowid, a, b) VALUES (1, 'one', 1.0);"
                        "INSERT INTO t(rowid, a, b) VALUES (2, 'two', NULL);"
                        "INSERT INTO t(rowid, a, b) VALUES (3, x'03', 3);"
                        "INSERT INTO u VALUES ('u');"),
        checksum_of_sql("CREATE TABLE u(x); CREATE TABLE t(a, b);"
                        "CREATE INDEX t_a ON t(a);"
                        "INSERT INTO u VALUES ('u');"
                        "INSERT INTO t(rowid, a, b) VALUES (3, x'03', 3);"
                        "INSERT INTO t(rowid, a, b) VALUES (1, 'one', 1.0);"
                        "INSERT INTO t(rowid, a, b) VALUES (2, 'two', NULL);"));

    /* Deleted rows leave no trace. */
    assert_int_equal(
        checksum_of_sql("CREATE TABLE t(a); INSERT INTO t VALUES (1);"),
        checksum_of_sql("CREATE TABLE t(a); INSERT INTO t VALUES (1);"
                        "INSERT INTO t SELECT randomblob(500) FROM"
                        " (WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL"
                        " SELECT i + 1 FROM c WHERE i < 100) SELECT i FROM c);"
                        "DELETE FROM t WHERE rowid > 1;"));
}

static void test_checksum_sensitive(void **state)
{
    uint64_t base;
    (void)state;

    base = checksum_of_sql("CREATE TABLE a(x, y); CREATE TABLE b(x, y);"
                           "INSERT INTO a VALUES (1, 'p');"
                           "INSERT INTO b VALUES (2, 'q');");
    /* A row moved to the other table. */
    assert_int_not_equal(base,
                         checksum_of_sql("CREATE TABLE a(x, y);"
                                         " CREATE TABLE b(x, y);"
                                         "INSERT INTO a VALUES (1, 'p');"
                                         "INSERT INTO a VALUES (2, 'q');"));
    /* Another type for the same value. */
    assert_int_not_equal(base,
                         checksum_of_sql("CREATE TABLE a(x, y);"
                                         " CREATE TABLE b(x, y);"
                                         "INSERT INTO a VALUES (1.0, 'p');"
                                         "INSERT INTO b VALUES (2, 'q');"));
    assert_int_not_equal(base,
                         checksum_of_sql("CREATE TABLE a(x, y);"
                                         " CREATE TABLE b(x, y);"
                                         "INSERT INTO a VALUES ('1', 'p');"
                                         "INSERT INTO b VALUES (2, 'q');"));
    assert_int_not_equal(base,
                         checksum_of_sql("CREATE TABLE a(x, y);"
                                         " CREATE TABLE b(x, y);"
                                         "INSERT INTO a VALUES (1, x'70');"
                                         "INSERT INTO b VALUES (2, 'q');"));
    /* Another rowid. */
    assert_int_not_equal(base,
                         checksum_of_sql("CREATE TABLE a(x, y);"
                                         " CREATE TABLE b(x, y);"
                                         "INSERT INTO a(rowid, x, y) VALUES"
                                         " (5, 1, 'p');"
                                         "INSERT INTO b VALUES (2, 'q');"));
    /* Another column count, same values. */
    assert_int_not_equal(base,
                         checksum_of_sql("CREATE TABLE a(x, y, z);"
                                         " CREATE TABLE b(x, y);"
                                         "INSERT INTO a(x, y) VALUES (1, 'p');"
                                         "INSERT INTO b VALUES (2, 'q');"));
    /* Another table name. */
    assert_int_not_equal(base,
                         checksum_of_sql("CREATE TABLE a(x, y);"
                                         " CREATE TABLE c(x, y);"
                                         "INSERT INTO a VALUES (1, 'p');"
                                         "INSERT INTO c VALUES (2, 'q');"));
    /* Text boundaries: ('ab','') vs ('a','b'). */
    assert_int_not_equal(
        checksum_of_sql("CREATE TABLE t(x, y); INSERT INTO t VALUES('ab','')"),
        checksum_of_sql("CREATE TABLE t(x, y); INSERT INTO t VALUES('a','b')"));
}

static void put_u64(unsigned char *p, size_t *n, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[(*n)++] = (unsigned char)(v >> (8 * i));
    }
}

/* The documented byte stream, built by hand, hashes to what finish stores:
 * pins the format so it cannot drift between builds or machines. */
static void test_checksum_encoding(void **state)
{
    unsigned char s[256];
    size_t n = 0;
    double d = 2.5;
    uint64_t bits;
    (void)state;

    /* Table "t" with 4 columns, one row, rowid 7: NULL, -2, 2.5, 'hi'
     * and table "u" with one column and a row holding x'00ff'. */
    s[n++] = 'T';
    put_u64(s, &n, 1);
    s[n++] = 't';
    put_u64(s, &n, 4);
    s[n++] = 'R';
    put_u64(s, &n, 7);
    s[n++] = 'N';
    s[n++] = 'I';
    put_u64(s, &n, (uint64_t)(int64_t)-2);
    s[n++] = 'F';
    memcpy(&bits, &d, sizeof bits);
    put_u64(s, &n, bits);
    s[n++] = 'S';
    put_u64(s, &n, 2);
    s[n++] = 'h';
    s[n++] = 'i';
    s[n++] = 'T';
    put_u64(s, &n, 1);
    s[n++] = 'u';
    put_u64(s, &n, 1);
    s[n++] = 'R';
    put_u64(s, &n, 1);
    s[n++] = 'B';
    put_u64(s, &n, 2);
    s[n++] = 0x00;
    s[n++] = 0xff;

    assert_int_equal(
        checksum_of_sql("CREATE TABLE u(b); CREATE TABLE t(a, b, c, d);"
                        "INSERT INTO t(rowid, a, b, c, d) VALUES"
                        " (7, NULL, -2, 2.5, 'hi');"
                        "INSERT INTO u VALUES (x'00ff');"),
        XXH64(s, n, 0));
}

/* ------------------------------------------------------------ writer side */

/* Run @sql in a fresh snapshot and expect lc_snapshot_finish() to refuse it
 * with LC_EINVAL and @msg. */
static void expect_refused(const char *sql, const char *msg)
{
    struct lc_snapshot_meta m = ts_meta(TS_GROUP);
    char errmsg[256];
    sqlite3 *db;
    void *buf = NULL;
    size_t len = 0;

    assert_int_equal(lc_snapshot_begin(&db), 0);
    ts_exec_ok(db, sql);
    assert_int_equal(
        lc_snapshot_finish(db, &m, &buf, &len, errmsg, sizeof errmsg),
        LC_EINVAL);
    assert_string_equal(errmsg, msg);
}

static void test_finish_refusals(void **state)
{
    struct lc_snapshot_meta m = ts_meta(TS_GROUP);
    char errmsg[256];
    sqlite3 *db;
    void *buf = NULL;
    size_t len = 0;
    (void)state;

    expect_refused("CREATE TABLE Meta(x)",
                   "cannot write snapshot: the table name 'meta' "
                   "is reserved for snapshot metadata");
    expect_refused("CREATE TABLE kv(k TEXT PRIMARY KEY, v) WITHOUT ROWID",
                   "cannot write snapshot: table 'kv' is WITHOUT "
                   "ROWID; snapshot tables must be ordinary "
                   "rowid tables");
    expect_refused("CREATE TABLE t(x); BEGIN; INSERT INTO t VALUES (1)",
                   "cannot write snapshot: a transaction is still open");
    expect_refused("CREATE TABLE g(a, b AS (a * 2))",
                   "cannot write snapshot: table 'g' has a "
                   "VIRTUAL generated column 'b'; snapshot "
                   "tables may only have stored columns");
    expect_refused("CREATE VIRTUAL TABLE v USING rtree(id, x0, x1)",
                   "cannot write snapshot: table 'v' is of type "
                   "'virtual'; snapshot tables must be ordinary "
                   "rowid tables");

    assert_int_equal(lc_snapshot_begin(&db), 0);
    m.group[0] = '\0';
    assert_int_equal(
        lc_snapshot_finish(db, &m, &buf, &len, errmsg, sizeof errmsg),
        LC_EINVAL);
    memset(m.group, 'g', sizeof m.group);
    assert_int_equal(lc_snapshot_begin(&db), 0);
    assert_int_equal(lc_snapshot_finish(db, &m, &buf, &len, NULL, 0),
                     LC_EINVAL);
    assert_null(buf);
    assert_int_equal(len, 0);

    /* abort discards. */
    assert_int_equal(lc_snapshot_begin(&db), 0);
    ts_exec_ok(db, TS_CONTENT_SQL);
    lc_snapshot_abort(db);
}

/* Views and AUTOINCREMENT bookkeeping are allowed; sqlite_sequence is part
 * of the content. */
static void test_views_and_autoincrement(void **state)
{
    struct lc_snapshot_meta m;
    char errmsg[256] = "";
    sqlite3 *db;
    void *buf;
    size_t len;
    unsigned char *bad;
    size_t bad_len;
    (void)state;

    assert_int_equal(lc_snapshot_begin(&db), 0);
    ts_exec_ok(db, "CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT, v);"
                   "INSERT INTO t(v) VALUES ('a'), ('b');"
                   "CREATE VIEW tv AS SELECT v FROM t;");
    ts_finish_ok(db, TS_GROUP, &buf, &len);
    assert_int_equal(
        lc_snapshot_open(buf, len, TS_GROUP, &db, &m, errmsg, sizeof errmsg),
        0);
    ts_exec_ok(db, "SELECT * FROM tv");
    lc_snapshot_close(db);

    bad = ts_rewrite_image(buf, len, "UPDATE sqlite_sequence SET seq = 100",
                           &bad_len);
    ts_expect_open_error(bad, bad_len, TS_GROUP, LC_ECORRUPT,
                         "snapshot checksum mismatch: ");
    sqlite3_free(bad);
    raft_free(buf);
}

/* The image is an ordinary database file for the sqlite3 shell. */
static void test_sqlite_cli(void **state)
{
    char path[] = "/tmp/locus-snapshot-XXXXXX";
    char out[1024];
    int fd;
    void *img;
    size_t len;
    (void)state;

    if (system("command -v sqlite3 >/dev/null 2>&1") != 0) {
        skip();
    }
    ts_make_image(&img, &len);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, img, len), (ssize_t)len);
    close(fd);

    ts_sqlite_cli(path,
                  ".tables 'PRAGMA integrity_check'"
                  " \"SELECT value FROM meta WHERE key = 'group'\"",
                  out, sizeof out);
    unlink(path);

    assert_non_null(strstr(out, "instances"));
    assert_non_null(strstr(out, "meta"));
    assert_non_null(strstr(out, "services"));
    assert_non_null(strstr(out, "\nok\n"));
    assert_non_null(strstr(out, TS_GROUP "\n"));
    raft_free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_round_trip_empty),
        cmocka_unit_test(test_open_reads_buffer_in_place),
        cmocka_unit_test(test_checksum_deterministic),
        cmocka_unit_test(test_checksum_sensitive),
        cmocka_unit_test(test_checksum_encoding),
        cmocka_unit_test(test_finish_refusals),
        cmocka_unit_test(test_views_and_autoincrement),
        cmocka_unit_test(test_sqlite_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
