/* Unit tests for snapshots/: lc_snapshot_open refuses bad images (empty,
 * random, truncated, foreign, tampered, crafted) with a clear error. */
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

/* ------------------------------------------------------------ refusals */

static void test_refuse_empty(void **state)
{
    struct lc_snapshot_meta m;
    char errmsg[256];
    (void)state;

    ts_expect_open_error(
        NULL, 0, TS_GROUP, LC_ECORRUPT,
        "snapshot is not an SQLite database: the image is empty");
    ts_expect_open_error(
        "", 0, TS_GROUP, LC_ECORRUPT,
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

    ts_make_image(&img, &len);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        junk = malloc(sizes[i]);
        assert_non_null(junk);
        for (int round = 0; round < 3; round++) {
            for (size_t j = 0; j < sizes[i]; j++) {
                junk[j] = (unsigned char)ts_rng();
            }
            ts_expect_open_error(junk, sizes[i], TS_GROUP, LC_ECORRUPT,
                                 "snapshot is not an SQLite database: ");
            if (sizes[i] < 100) {
                continue;
            }
            /* Past the magic. */
            memcpy(junk, "SQLite format 3", 16);
            ts_expect_open_error(junk, sizes[i], TS_GROUP, LC_ECORRUPT, NULL);
            /* Past a genuine header whose page count agrees. */
            memcpy(junk, img, 100);
            junk[28] = junk[29] = junk[30] = 0;
            junk[31] = (unsigned char)(sizes[i] / 4096);
            ts_expect_open_error(junk, sizes[i], TS_GROUP, LC_ECORRUPT, NULL);
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

    ts_make_image(&img, &len);
    assert_true(len >= 3 * 4096);
    for (size_t n = 0; n < len; n++) {
        db = NULL;
        int err =
            lc_snapshot_open(img, n, TS_GROUP, &db, &m, errmsg, sizeof errmsg);
        if (err != LC_ECORRUPT) {
            fail_msg("truncated to %zu of %zu: %s (%s)", n, len,
                     lc_errname(err), errmsg);
        }
        assert_null(db);
        assert_int_equal(
            lc_snapshot_read_meta(img, n, &m, errmsg, sizeof errmsg),
            LC_ECORRUPT);
    }
    ts_expect_open_error(
        img, 4096, TS_GROUP, LC_ECORRUPT,
        "snapshot is not an SQLite database: the header counts");
    ts_expect_open_error(
        img, 4095, TS_GROUP, LC_ECORRUPT,
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

    ts_make_image(&img, &len);
    copy = malloc(len);
    assert_non_null(copy);

    /* 65536 (encoded as 1): the image is not a whole number of pages. */
    memcpy(copy, img, len);
    copy[16] = 0x00;
    copy[17] = 0x01;
    ts_expect_open_error(copy, len, TS_GROUP, LC_ECORRUPT,
                         "snapshot is not an SQLite database: ");
    /* Not a power of two. */
    copy[16] = 0x30;
    copy[17] = 0x00;
    ts_expect_open_error(
        copy, len, TS_GROUP, LC_ECORRUPT,
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
    ts_expect_open_error(copy, len, TS_GROUP, LC_ECORRUPT, NULL);
    /* Huge page size on a one-page image. */
    memcpy(copy, img, 100);
    copy[16] = 0x00;
    copy[17] = 0x01;
    ts_expect_open_error(copy, 100, TS_GROUP, LC_ECORRUPT,
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
    ts_exec_ok(db, "CREATE TABLE t(a); INSERT INTO t VALUES (1)");
    img = sqlite3_serialize(db, "main", &size, 0);
    assert_non_null(img);
    sqlite3_close(db);

    ts_expect_open_error(img, (size_t)size, TS_GROUP, LC_ECORRUPT,
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

    ts_make_image(&img, &len);
    ts_expect_open_error(img, len, "naming_instance_metadata", LC_EINVAL,
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

    ts_make_image(&img, &len);
    bad = ts_rewrite_image(img, len,
                           "UPDATE meta SET value = '7' WHERE key ="
                           " 'format'; DELETE FROM meta WHERE key ="
                           " 'term'",
                           &bad_len);
    ts_expect_open_error(bad, bad_len, TS_GROUP, LC_EINVAL,
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

    ts_make_image(&img, &len);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bad = ts_rewrite_image(img, len, cases[i].sql, &bad_len);
        ts_expect_open_error(bad, bad_len, TS_GROUP, LC_ECORRUPT, cases[i].msg);
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

    ts_make_image(&img, &len);
    sum = ts_checksum_of(img, len);
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
    ts_expect_open_error(copy, len, TS_GROUP, LC_ECORRUPT, prefix);
    /* read_meta does not look at the content. */
    assert_int_equal(ts_checksum_of(copy, len), sum);
    free(copy);
    raft_free(img);
}

static void test_refuse_tampered_sql(void **state)
{
    static const char *const edits[] = {
        "UPDATE instances SET healthy = 0 WHERE ip = '127.0.0.1'",
        "DELETE FROM services WHERE id = 1",
        "INSERT INTO instances VALUES ('127.0.0.3', 1, 1, NULL)",
        "CREATE TABLE extra(x)",
        "DROP TABLE instances",
        "UPDATE services SET weight = 1 WHERE id = 1", /* 1.5 -> integer 1 */
    };
    unsigned char *bad;
    size_t bad_len;
    void *img;
    size_t len;
    (void)state;

    ts_make_image(&img, &len);
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        bad = ts_rewrite_image(img, len, edits[i], &bad_len);
        ts_expect_open_error(bad, bad_len, TS_GROUP, LC_ECORRUPT,
                             "snapshot checksum mismatch: meta says ");
        sqlite3_free(bad);
    }
    /* Touching only an index or meta's created_ms is not a content change. */
    bad =
        ts_rewrite_image(img, len,
                         "DROP INDEX instances_ip; UPDATE meta SET value = '1'"
                         " WHERE key = 'created_ms'",
                         &bad_len);
    {
        struct lc_snapshot_meta m;
        char errmsg[256] = "";
        sqlite3 *db;
        assert_int_equal(lc_snapshot_open(bad, bad_len, TS_GROUP, &db, &m,
                                          errmsg, sizeof errmsg),
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

    ts_make_image(&img, &len);
    copy = malloc(len);
    assert_non_null(copy);
    for (int i = 0; i < 2000; i++) {
        memcpy(copy, img, len);
        int flips = 1 + (int)(ts_rng() % 4);
        for (int f = 0; f < flips; f++) {
            copy[ts_rng() % len] ^= (unsigned char)(1u << (ts_rng() % 8));
        }
        db = NULL;
        int err = lc_snapshot_open(copy, len, TS_GROUP, &db, &m, errmsg,
                                   sizeof errmsg);
        if (err == 0) {
            accepted++;
            ts_exec_ok(db, "SELECT * FROM services; SELECT * FROM instances");
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

    ts_make_image(&img, &len);
    bad = ts_rewrite_image(img, len,
                           "ALTER TABLE instances ADD COLUMN bomb AS"
                           " (length(printf('%.*c', 900000000, 'x')))",
                           &bad_len);
    ts_expect_open_error(bad, bad_len, TS_GROUP, LC_ECORRUPT,
                         "snapshot is corrupt: table 'instances' has a VIRTUAL "
                         "generated column 'bomb'");
    sqlite3_free(bad);

    /* Same content, now under an expensive (and failing) CHECK. */
    bad = ts_rewrite_image(
        img, len,
        "PRAGMA ignore_check_constraints=ON;"
        "ALTER TABLE instances RENAME TO i0;"
        "CREATE TABLE instances(ip TEXT, port INTEGER, healthy INTEGER, extra,"
        " CHECK (length(printf('%.*c', 900000000, 'x')) < 0));"
        "INSERT INTO instances(rowid, ip, port, healthy, extra)"
        " SELECT rowid, * FROM i0;"
        "DROP TABLE i0;",
        &bad_len);
    assert_int_equal(lc_snapshot_open(bad, bad_len, TS_GROUP, &db, &m, errmsg,
                                      sizeof errmsg),
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

int main(void)
{
    const struct CMUnitTest tests[] = {
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
        cmocka_unit_test(test_random_flips),
        cmocka_unit_test(test_refuse_crafted_schema),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
