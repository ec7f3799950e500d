/* Unit tests for snapshots/: round trip, checksum, refusal of bad images. */
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

#define GROUP "naming_persistent_service_v2"

/* ------------------------------------------------------------ helpers */

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        fail_msg("%s: %s", sql, msg != NULL ? msg : sqlite3_errstr(rc));
    }
}

static struct lc_snapshot_meta test_meta(const char *group)
{
    struct lc_snapshot_meta m;
    memset(&m, 0, sizeof m);
    snprintf(m.group, sizeof m.group, "%s", group);
    m.index = 12345;
    m.term = 7;
    m.created_ms = 1700000000123u;
    return m;
}

/* Finish @db with test_meta(@group); the image is raft_malloc'd. */
static void finish_ok(sqlite3 *db, const char *group, void **buf, size_t *len)
{
    struct lc_snapshot_meta m = test_meta(group);
    char errmsg[256] = "";
    int err = lc_snapshot_finish(db, &m, buf, len, errmsg, sizeof errmsg);
    if (err != 0) {
        fail_msg("lc_snapshot_finish: %s (%s)", lc_errname(err), errmsg);
    }
}

static const char CONTENT_SQL[] =
    "CREATE TABLE services(id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " weight REAL, data BLOB, note);"
    "CREATE TABLE instances(ip TEXT, port INTEGER, healthy INTEGER, extra);"
    "CREATE INDEX instances_ip ON instances(ip);"
    "INSERT INTO services VALUES (1, 'svc-a', 1.5, x'00ff10', NULL);"
    "INSERT INTO services VALUES (2, 'tamper-me-please', -0.25, x'', 42);"
    "INSERT INTO services VALUES (9223372036854775807, '', 1e300,"
    " zeroblob(300), 'x');"
    "INSERT INTO instances VALUES ('10.0.0.1', 8080, 1, NULL);"
    "INSERT INTO instances VALUES ('10.0.0.2', 8081, 0, 3.25);"
    "INSERT INTO instances VALUES ('::1', -9223372036854775807 - 1, 1,"
    " 'text');";

/* A snapshot of CONTENT_SQL for GROUP. */
static void make_image(void **buf, size_t *len)
{
    sqlite3 *db;
    assert_int_equal(lc_snapshot_begin(&db), 0);
    exec_ok(db, CONTENT_SQL);
    finish_ok(db, GROUP, buf, len);
}

/* Run @sql on a writable copy of @buf and serialise it again. The result is
 * sqlite3_malloc'd. */
static unsigned char *rewrite_image(const void *buf, size_t len,
                                    const char *sql, size_t *out_len)
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
    exec_ok(db, sql);
    out = sqlite3_serialize(db, "main", &size, 0);
    assert_non_null(out);
    sqlite3_close(db);
    *out_len = (size_t)size;
    return out;
}

/* Open must fail with @want and a message starting with @prefix. */
static void expect_open_error(const void *buf, size_t len, const char *group,
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

static uint64_t checksum_of(const void *buf, size_t len)
{
    struct lc_snapshot_meta m;
    char errmsg[256];
    assert_int_equal(lc_snapshot_read_meta(buf, len, &m, errmsg, sizeof errmsg),
                     0);
    return m.checksum;
}

/* Checksum of a snapshot whose content is made by @sql. */
static uint64_t checksum_of_sql(const char *sql)
{
    sqlite3 *db;
    void *buf;
    size_t len;
    uint64_t sum;

    assert_int_equal(lc_snapshot_begin(&db), 0);
    exec_ok(db, sql);
    finish_ok(db, GROUP, &buf, &len);
    sum = checksum_of(buf, len);
    raft_free(buf);
    return sum;
}

/* xorshift64*: reproducible pseudo-random bytes. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717u;
}

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

    make_image(&buf, &len);
    assert_int_equal(
        lc_snapshot_open(buf, len, GROUP, &db, &m, errmsg, sizeof errmsg), 0);
    assert_string_equal(m.group, GROUP);
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
    finish_ok(db, GROUP, &buf, &len);
    assert_int_equal(
        lc_snapshot_open(buf, len, GROUP, &db, &m, errmsg, sizeof errmsg), 0);
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

    make_image(&buf, &len);
    map_len = (len + 4095) & ~(size_t)4095;
    page = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(page != MAP_FAILED);
    memcpy(page, buf, len);
    assert_int_equal(mprotect(page, map_len, PROT_READ), 0);

    assert_int_equal(
        lc_snapshot_open(page, len, GROUP, &db, &m, errmsg, sizeof errmsg), 0);
    exec_ok(db, "SELECT * FROM services; SELECT * FROM instances"
                " WHERE ip = '::1'; PRAGMA integrity_check");
    lc_snapshot_close(db);
    assert_int_equal(
        lc_snapshot_read_meta(page, len, &m, errmsg, sizeof errmsg), 0);
    assert_memory_equal(page, buf, len);
    munmap(page, map_len);
    raft_free(buf);
}

/* ------------------------------------------------------------ checksum */

static void test_checksum_deterministic(void **state)
{
    sqlite3 *db;
    void *a, *b;
    size_t alen, blen;
    struct lc_snapshot_meta m;
    (void)state;

    /* Same content, different creation time: same checksum. */
    make_image(&a, &alen);
    assert_int_equal(lc_snapshot_begin(&db), 0);
    exec_ok(db, CONTENT_SQL);
    m = test_meta(GROUP);
    m.created_ms += 99999;
    m.index = 1;
    assert_int_equal(lc_snapshot_finish(db, &m, &b, &blen, NULL, 0), 0);
    assert_int_equal(checksum_of(a, alen), checksum_of(b, blen));
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

/* ------------------------------------------------------------ refusals */

static void test_refuse_empty(void **state)
{
    struct lc_snapshot_meta m;
    char errmsg[256];
    (void)state;

    expect_open_error(NULL, 0, GROUP, LC_ECORRUPT,
                      "snapshot is not an SQLite database: the image is empty");
    expect_open_error("", 0, GROUP, LC_ECORRUPT,
                      "snapshot is not an SQLite database: the image is empty");
    assert_int_equal(lc_snapshot_read_meta("", 0, &m, errmsg, sizeof errmsg),
                     LC_ECORRUPT);
}

static void test_refuse_random(void **state)
{
    static const size_t sizes[] = {1, 99, 100, 512, 4096, 8192, 65536};
    unsigned char *junk;
    void *img;
    size_t len;
    (void)state;

    make_image(&img, &len);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        junk = malloc(sizes[i]);
        assert_non_null(junk);
        for (int round = 0; round < 3; round++) {
            for (size_t j = 0; j < sizes[i]; j++) {
                junk[j] = (unsigned char)rng();
            }
            expect_open_error(junk, sizes[i], GROUP, LC_ECORRUPT,
                              "snapshot is not an SQLite database: ");
            if (sizes[i] < 100) {
                continue;
            }
            /* Past the magic. */
            memcpy(junk, "SQLite format 3", 16);
            expect_open_error(junk, sizes[i], GROUP, LC_ECORRUPT, NULL);
            /* Past a genuine header whose page count agrees. */
            memcpy(junk, img, 100);
            junk[28] = junk[29] = junk[30] = 0;
            junk[31] = (unsigned char)(sizes[i] / 4096);
            expect_open_error(junk, sizes[i], GROUP, LC_ECORRUPT, NULL);
        }
        free(junk);
    }
    raft_free(img);
}

static void test_refuse_truncated(void **state)
{
    struct lc_snapshot_meta m;
    char errmsg[256];
    sqlite3 *db;
    void *img;
    size_t len;
    (void)state;

    make_image(&img, &len);
    assert_true(len >= 3 * 4096);
    for (size_t n = 0; n < len; n++) {
        db = NULL;
        int err =
            lc_snapshot_open(img, n, GROUP, &db, &m, errmsg, sizeof errmsg);
        if (err != LC_ECORRUPT) {
            fail_msg("truncated to %zu of %zu: %s (%s)", n, len,
                     lc_errname(err), errmsg);
        }
        assert_null(db);
        assert_int_equal(
            lc_snapshot_read_meta(img, n, &m, errmsg, sizeof errmsg),
            LC_ECORRUPT);
    }
    expect_open_error(img, 4096, GROUP, LC_ECORRUPT,
                      "snapshot is not an SQLite database: the header counts");
    expect_open_error(img, 4095, GROUP, LC_ECORRUPT,
                      "snapshot is not an SQLite database: the image is 4095 "
                      "bytes, not a whole number of 4096-byte pages");
    raft_free(img);
}

static void test_refuse_page_size(void **state)
{
    unsigned char *copy;
    void *img;
    size_t len;
    (void)state;

    make_image(&img, &len);
    copy = malloc(len);
    assert_non_null(copy);

    /* 65536 (encoded as 1): the image is not a whole number of pages. */
    memcpy(copy, img, len);
    copy[16] = 0x00;
    copy[17] = 0x01;
    expect_open_error(copy, len, GROUP, LC_ECORRUPT,
                      "snapshot is not an SQLite database: ");
    /* Not a power of two. */
    copy[16] = 0x30;
    copy[17] = 0x00;
    expect_open_error(copy, len, GROUP, LC_ECORRUPT,
                      "snapshot is not an SQLite database: invalid page size");
    /* 1024 and the page count made to agree: SQLite must see the damage. */
    copy[16] = 0x04;
    copy[17] = 0x00;
    {
        uint32_t pages = (uint32_t)(len / 1024);
        copy[28] = (unsigned char)(pages >> 24);
        copy[29] = (unsigned char)(pages >> 16);
        copy[30] = (unsigned char)(pages >> 8);
        copy[31] = (unsigned char)pages;
    }
    expect_open_error(copy, len, GROUP, LC_ECORRUPT, NULL);
    /* Huge page size on a one-page image. */
    memcpy(copy, img, 100);
    copy[16] = 0x00;
    copy[17] = 0x01;
    expect_open_error(copy, 100, GROUP, LC_ECORRUPT,
                      "snapshot is not an SQLite database: ");

    free(copy);
    raft_free(img);
}

static void test_refuse_no_meta(void **state)
{
    sqlite3 *db;
    unsigned char *img;
    sqlite3_int64 size;
    struct lc_snapshot_meta m;
    char errmsg[256];
    (void)state;

    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    exec_ok(db, "CREATE TABLE t(a); INSERT INTO t VALUES (1)");
    img = sqlite3_serialize(db, "main", &size, 0);
    assert_non_null(img);
    sqlite3_close(db);

    expect_open_error(img, (size_t)size, GROUP, LC_ECORRUPT,
                      "snapshot has no meta table");
    assert_int_equal(
        lc_snapshot_read_meta(img, (size_t)size, &m, errmsg, sizeof errmsg),
        LC_ECORRUPT);
    sqlite3_free(img);
}

static void test_refuse_wrong_group(void **state)
{
    void *img;
    size_t len;
    (void)state;

    make_image(&img, &len);
    expect_open_error(img, len, "naming_instance_metadata", LC_EINVAL,
                      "snapshot belongs to group "
                      "'naming_persistent_service_v2', not "
                      "'naming_instance_metadata'");
    raft_free(img);
}

static void test_refuse_wrong_format(void **state)
{
    struct lc_snapshot_meta m;
    char errmsg[256] = "";
    unsigned char *bad;
    size_t bad_len;
    void *img;
    size_t len;
    (void)state;

    make_image(&img, &len);
    bad = rewrite_image(img, len,
                        "UPDATE meta SET value = '7' WHERE key ="
                        " 'format'; DELETE FROM meta WHERE key ="
                        " 'term'",
                        &bad_len);
    expect_open_error(bad, bad_len, GROUP, LC_EINVAL,
                      "snapshot format 7 is not supported (this build reads "
                      "format 1)");
    assert_int_equal(
        lc_snapshot_read_meta(bad, bad_len, &m, errmsg, sizeof errmsg),
        LC_EINVAL);
    assert_string_equal(errmsg, "snapshot format 7 is not supported (this "
                                "build reads format 1)");
    sqlite3_free(bad);
    raft_free(img);
}

static void test_refuse_malformed_meta(void **state)
{
    static const struct {
        const char *sql;
        const char *msg;
    } cases[] = {
        {"DELETE FROM meta WHERE key = 'term'",
         "snapshot meta table has no 'term' row"},
        {"DELETE FROM meta WHERE key = 'format'",
         "snapshot meta table has no 'format' row"},
        {"UPDATE meta SET value = 'abc' WHERE key = 'index'",
         "snapshot meta 'index' is not a decimal number: 'abc'"},
        {"UPDATE meta SET value = '-1' WHERE key = 'term'",
         "snapshot meta 'term' is not a decimal number: '-1'"},
        {"UPDATE meta SET value = '18446744073709551616' WHERE key = 'index'",
         "snapshot meta 'index' is not a decimal number: "
         "'18446744073709551616'"},
        {"UPDATE meta SET value = 'xyz' WHERE key = 'checksum'",
         "snapshot meta 'checksum' is not 16 hex digits: 'xyz'"},
        {"UPDATE meta SET value = '' WHERE key = 'group'",
         "snapshot meta 'group' is empty"},
        {"UPDATE meta SET value = hex(zeroblob(200)) WHERE key = 'group'",
         "snapshot meta 'group' is longer than 127 bytes"},
        {"ALTER TABLE meta RENAME TO meta2;"
         "CREATE TABLE meta(key TEXT, value TEXT);"
         "INSERT INTO meta SELECT * FROM meta2;"
         "INSERT INTO meta VALUES ('index', '5');",
         "snapshot meta table has more than one 'index' row"},
        {"ALTER TABLE meta RENAME TO meta2;"
         "CREATE TABLE meta(key TEXT, value TEXT);"
         "INSERT INTO meta SELECT * FROM meta2;"
         "UPDATE meta SET value = NULL WHERE key = 'term'",
         "snapshot meta 'term' is NULL"},
        {"ALTER TABLE meta RENAME TO meta2; CREATE TABLE meta(k, v)",
         "snapshot meta table is unreadable: no such column: "},
        {"ALTER TABLE meta RENAME TO meta2; CREATE VIEW meta AS SELECT * FROM"
         " meta2",
         "snapshot has no meta table"},
    };
    struct lc_snapshot_meta m;
    char errmsg[256];
    unsigned char *bad;
    size_t bad_len;
    void *img;
    size_t len;
    (void)state;

    make_image(&img, &len);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bad = rewrite_image(img, len, cases[i].sql, &bad_len);
        expect_open_error(bad, bad_len, GROUP, LC_ECORRUPT, cases[i].msg);
        assert_int_equal(
            lc_snapshot_read_meta(bad, bad_len, &m, errmsg, sizeof errmsg),
            LC_ECORRUPT);
        sqlite3_free(bad);
    }
    raft_free(img);
}

static void test_refuse_tampered_byte(void **state)
{
    static const char needle[] = "tamper-me-please";
    char prefix[128];
    unsigned char *copy;
    unsigned char *at;
    void *img;
    size_t len;
    uint64_t sum;
    (void)state;

    make_image(&img, &len);
    sum = checksum_of(img, len);
    copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, img, len);
    at = memmem(copy, len, needle, strlen(needle));
    assert_non_null(at);
    at[0] = 'T';

    snprintf(prefix, sizeof prefix,
             "snapshot checksum mismatch: meta says %016" PRIx64
             ", content hashes to ",
             sum);
    expect_open_error(copy, len, GROUP, LC_ECORRUPT, prefix);
    /* read_meta does not look at the content. */
    assert_int_equal(checksum_of(copy, len), sum);
    free(copy);
    raft_free(img);
}

static void test_refuse_tampered_sql(void **state)
{
    static const char *const edits[] = {
        "UPDATE instances SET healthy = 0 WHERE ip = '10.0.0.1'",
        "DELETE FROM services WHERE id = 1",
        "INSERT INTO instances VALUES ('10.0.0.3', 1, 1, NULL)",
        "CREATE TABLE extra(x)",
        "DROP TABLE instances",
        "UPDATE services SET weight = 1 WHERE id = 1", /* 1.5 -> integer 1 */
    };
    unsigned char *bad;
    size_t bad_len;
    void *img;
    size_t len;
    (void)state;

    make_image(&img, &len);
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        bad = rewrite_image(img, len, edits[i], &bad_len);
        expect_open_error(bad, bad_len, GROUP, LC_ECORRUPT,
                          "snapshot checksum mismatch: meta says ");
        sqlite3_free(bad);
    }
    /* Touching only an index or meta's created_ms is not a content change. */
    bad = rewrite_image(img, len,
                        "DROP INDEX instances_ip; UPDATE meta SET value = '1'"
                        " WHERE key = 'created_ms'",
                        &bad_len);
    {
        struct lc_snapshot_meta m;
        char errmsg[256] = "";
        sqlite3 *db;
        assert_int_equal(lc_snapshot_open(bad, bad_len, GROUP, &db, &m, errmsg,
                                          sizeof errmsg),
                         0);
        assert_int_equal(m.created_ms, 1);
        lc_snapshot_close(db);
    }
    sqlite3_free(bad);
    raft_free(img);
}

/* Random byte flips anywhere in a valid image: an error or, when the flip
 * hit unused space, success; never a crash (run under ASan/valgrind). */
static void test_random_flips(void **state)
{
    struct lc_snapshot_meta m;
    char errmsg[256];
    unsigned char *copy;
    sqlite3 *db;
    void *img;
    size_t len;
    int accepted = 0;
    (void)state;

    make_image(&img, &len);
    copy = malloc(len);
    assert_non_null(copy);
    for (int i = 0; i < 2000; i++) {
        memcpy(copy, img, len);
        int flips = 1 + (int)(rng() % 4);
        for (int f = 0; f < flips; f++) {
            copy[rng() % len] ^= (unsigned char)(1u << (rng() % 8));
        }
        db = NULL;
        int err =
            lc_snapshot_open(copy, len, GROUP, &db, &m, errmsg, sizeof errmsg);
        if (err == 0) {
            accepted++;
            exec_ok(db, "SELECT * FROM services; SELECT * FROM instances");
            lc_snapshot_close(db);
        } else {
            assert_true(err == LC_ECORRUPT || err == LC_EINVAL);
            assert_null(db);
            assert_true(errmsg[0] != '\0');
        }
        err = lc_snapshot_read_meta(copy, len, &m, errmsg, sizeof errmsg);
        assert_true(err == 0 || err == LC_ECORRUPT || err == LC_EINVAL);
    }
    /* Most of the image is unused page space. */
    print_message("random flips: %d of 2000 accepted\n", accepted);
    free(copy);
    raft_free(img);
}

/* ------------------------------------------------------------ writer side */

/* Run @sql in a fresh snapshot and expect lc_snapshot_finish() to refuse it
 * with LC_EINVAL and @msg. */
static void expect_refused(const char *sql, const char *msg)
{
    struct lc_snapshot_meta m = test_meta(GROUP);
    char errmsg[256];
    sqlite3 *db;
    void *buf = NULL;
    size_t len = 0;

    assert_int_equal(lc_snapshot_begin(&db), 0);
    exec_ok(db, sql);
    assert_int_equal(
        lc_snapshot_finish(db, &m, &buf, &len, errmsg, sizeof errmsg),
        LC_EINVAL);
    assert_string_equal(errmsg, msg);
}

static void test_finish_refusals(void **state)
{
    struct lc_snapshot_meta m = test_meta(GROUP);
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
    exec_ok(db, CONTENT_SQL);
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
    exec_ok(db, "CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT, v);"
                "INSERT INTO t(v) VALUES ('a'), ('b');"
                "CREATE VIEW tv AS SELECT v FROM t;");
    finish_ok(db, GROUP, &buf, &len);
    assert_int_equal(
        lc_snapshot_open(buf, len, GROUP, &db, &m, errmsg, sizeof errmsg), 0);
    exec_ok(db, "SELECT * FROM tv");
    lc_snapshot_close(db);

    bad = rewrite_image(buf, len, "UPDATE sqlite_sequence SET seq = 100",
                        &bad_len);
    expect_open_error(bad, bad_len, GROUP, LC_ECORRUPT,
                      "snapshot checksum mismatch: ");
    sqlite3_free(bad);
    raft_free(buf);
}

/* A crafted schema must not make validation compute per row: a VIRTUAL
 * generated column is refused before any row is read, CHECK constraints are
 * not evaluated (each would take seconds here). */
static void test_refuse_crafted_schema(void **state)
{
    struct lc_snapshot_meta m;
    char errmsg[256] = "";
    unsigned char *bad;
    size_t bad_len;
    sqlite3 *db;
    void *img;
    size_t len;
    int flag = -1;
    (void)state;

    make_image(&img, &len);
    bad = rewrite_image(img, len,
                        "ALTER TABLE instances ADD COLUMN bomb AS"
                        " (length(printf('%.*c', 900000000, 'x')))",
                        &bad_len);
    expect_open_error(bad, bad_len, GROUP, LC_ECORRUPT,
                      "snapshot is corrupt: table 'instances' has a VIRTUAL "
                      "generated column 'bomb'");
    sqlite3_free(bad);

    /* Same content, now under an expensive (and failing) CHECK. */
    bad = rewrite_image(
        img, len,
        "PRAGMA ignore_check_constraints=ON;"
        "ALTER TABLE instances RENAME TO i0;"
        "CREATE TABLE instances(ip TEXT, port INTEGER, healthy INTEGER, extra,"
        " CHECK (length(printf('%.*c', 900000000, 'x')) < 0));"
        "INSERT INTO instances(rowid, ip, port, healthy, extra)"
        " SELECT rowid, * FROM i0;"
        "DROP TABLE i0;",
        &bad_len);
    assert_int_equal(
        lc_snapshot_open(bad, bad_len, GROUP, &db, &m, errmsg, sizeof errmsg),
        0);
    /* The connection handed out is back to normal. */
    {
        sqlite3_stmt *stmt;
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "PRAGMA ignore_check_constraints",
                                            -1, &stmt, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
        flag = sqlite3_column_int(stmt, 0);
        sqlite3_finalize(stmt);
    }
    assert_int_equal(flag, 0);
    assert_int_equal(sqlite3_limit(db, SQLITE_LIMIT_LENGTH, -1), 1000000000);
    lc_snapshot_close(db);
    sqlite3_free(bad);
    raft_free(img);
}

/* The image is an ordinary database file for the sqlite3 shell. */
static void test_sqlite_cli(void **state)
{
    char path[] = "/tmp/locus-snapshot-XXXXXX";
    char cmd[256];
    char out[1024];
    size_t n;
    FILE *f;
    int fd;
    void *img;
    size_t len;
    (void)state;

    if (system("command -v sqlite3 >/dev/null 2>&1") != 0) {
        skip();
    }
    make_image(&img, &len);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, img, len), (ssize_t)len);
    close(fd);

    snprintf(cmd, sizeof cmd,
             "sqlite3 -readonly %s .tables 'PRAGMA integrity_check'"
             " \"SELECT value FROM meta WHERE key = 'group'\" 2>&1",
             path);
    f = popen(cmd, "r");
    assert_non_null(f);
    n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    assert_int_equal(pclose(f), 0);
    unlink(path);

    assert_non_null(strstr(out, "instances"));
    assert_non_null(strstr(out, "meta"));
    assert_non_null(strstr(out, "services"));
    assert_non_null(strstr(out, "\nok\n"));
    assert_non_null(strstr(out, GROUP "\n"));
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
        cmocka_unit_test(test_refuse_empty),
        cmocka_unit_test(test_refuse_random),
        cmocka_unit_test(test_refuse_truncated),
        cmocka_unit_test(test_refuse_page_size),
        cmocka_unit_test(test_refuse_no_meta),
        cmocka_unit_test(test_refuse_wrong_group),
        cmocka_unit_test(test_refuse_wrong_format),
        cmocka_unit_test(test_refuse_malformed_meta),
        cmocka_unit_test(test_refuse_tampered_byte),
        cmocka_unit_test(test_refuse_tampered_sql),
        cmocka_unit_test(test_refuse_crafted_schema),
        cmocka_unit_test(test_random_flips),
        cmocka_unit_test(test_finish_refusals),
        cmocka_unit_test(test_views_and_autoincrement),
        cmocka_unit_test(test_sqlite_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
