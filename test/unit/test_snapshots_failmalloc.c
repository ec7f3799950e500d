/* snapshots/ under allocation failure: fail the Nth SQLite or raft allocation
 * in turn through begin, a processor's writes, finish, finish_bufs, join,
 * open and read_meta; every failure must be reported as LC_ENOMEM (SQLITE_NOMEM
 * for the processor's writes) and leave no allocation behind. Its own binary
 * because SQLITE_CONFIG_MALLOC is process-wide and must precede
 * sqlite3_initialize. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>
#include <sqlite3.h>

#include "common/err.h"
#include "snapshots/snapshots.h"

#define GROUP "naming_persistent_service_v2"

/* ------------------------------------------------------------ failing heap */

static sqlite3_mem_methods sqlite_mem;
static long live;    /* allocations made through the wrappers, not freed */
static long counter; /* allocations attempted since arm() */
static long fail_at; /* fail attempt number fail_at; 0: never */
static bool armed;
static bool injected; /* the failure was handed out */

static bool should_fail(void)
{
    if (!armed) {
        return false;
    }
    counter++;
    if (counter == fail_at) {
        injected = true;
        return true;
    }
    return false;
}

static void arm(long n)
{
    counter = 0;
    fail_at = n;
    injected = false;
    armed = true;
}

static void disarm(void)
{
    armed = false;
}

static void *sq_malloc(int n)
{
    void *p;
    if (should_fail()) {
        return NULL;
    }
    p = sqlite_mem.xMalloc(n);
    if (p != NULL) {
        live++;
    }
    return p;
}

static void sq_free(void *p)
{
    if (p != NULL) {
        live--;
    }
    sqlite_mem.xFree(p);
}

static void *sq_realloc(void *p, int n)
{
    if (should_fail()) {
        return NULL;
    }
    return sqlite_mem.xRealloc(p, n);
}

static int sq_size(void *p)
{
    return sqlite_mem.xSize(p);
}

static int sq_roundup(int n)
{
    return sqlite_mem.xRoundup(n);
}

static int sq_init(void *data)
{
    return sqlite_mem.xInit(data);
}

static void sq_shutdown(void *data)
{
    sqlite_mem.xShutdown(data);
}

static void *rf_malloc(void *data, size_t size)
{
    void *p;
    (void)data;
    if (should_fail()) {
        return NULL;
    }
    p = malloc(size);
    if (p != NULL) {
        live++;
    }
    return p;
}

static void rf_free(void *data, void *p)
{
    (void)data;
    if (p != NULL) {
        live--;
    }
    free(p);
}

static void *rf_calloc(void *data, size_t nmemb, size_t size)
{
    void *p;
    (void)data;
    if (should_fail()) {
        return NULL;
    }
    p = calloc(nmemb, size);
    if (p != NULL) {
        live++;
    }
    return p;
}

static void *rf_realloc(void *data, void *p, size_t size)
{
    void *q;
    (void)data;
    if (should_fail()) {
        return NULL;
    }
    q = realloc(p, size);
    if (q != NULL && p == NULL) {
        live++;
    }
    return q;
}

static void *rf_aligned_alloc(void *data, size_t alignment, size_t size)
{
    void *p;
    (void)data;
    if (should_fail()) {
        return NULL;
    }
    p = aligned_alloc(alignment, size);
    if (p != NULL) {
        live++;
    }
    return p;
}

static void rf_aligned_free(void *data, size_t alignment, void *p)
{
    (void)data;
    (void)alignment;
    if (p != NULL) {
        live--;
    }
    free(p);
}

static struct raft_heap raft_failing_heap = {
    NULL,       rf_malloc,        rf_free,         rf_calloc,
    rf_realloc, rf_aligned_alloc, rf_aligned_free,
};

static int setup_heaps(void)
{
    static sqlite3_mem_methods wrap = {
        sq_malloc,  sq_free, sq_realloc,  sq_size,
        sq_roundup, sq_init, sq_shutdown, NULL,
    };
    if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_mem) != SQLITE_OK ||
        sqlite3_config(SQLITE_CONFIG_MALLOC, &wrap) != SQLITE_OK ||
        sqlite3_initialize() != SQLITE_OK) {
        return -1;
    }
    raft_heap_set(&raft_failing_heap);
    return 0;
}

/* ------------------------------------------------------------ helpers */

static const char CONTENT_SQL[] =
    "CREATE TABLE services(id INTEGER PRIMARY KEY, name TEXT, weight REAL,"
    " data BLOB, note);"
    "CREATE TABLE instances(ip TEXT, port INTEGER, healthy INTEGER, extra);"
    "CREATE INDEX instances_ip ON instances(ip);"
    "INSERT INTO services VALUES (1, 'svc-a', 1.5, x'00ff10', NULL);"
    "INSERT INTO services VALUES (2, 'svc-b', -0.25, zeroblob(5000), 42);"
    "INSERT INTO instances VALUES ('127.0.0.1', 8080, 1, NULL);"
    "INSERT INTO instances VALUES ('127.0.0.2', 8081, 0, 3.25);";

static struct lc_snapshot_meta test_meta(void)
{
    struct lc_snapshot_meta m;
    memset(&m, 0, sizeof m);
    snprintf(m.group, sizeof m.group, "%s", GROUP);
    m.index = 99;
    m.term = 3;
    m.created_ms = 1700000000000u;
    return m;
}

static sqlite3 *filled_db(void)
{
    sqlite3 *db;
    assert_int_equal(lc_snapshot_begin(&db), 0);
    assert_int_equal(sqlite3_exec(db, CONTENT_SQL, NULL, NULL, NULL),
                     SQLITE_OK);
    return db;
}

static void make_image(void **buf, size_t *len)
{
    struct lc_snapshot_meta m = test_meta();
    assert_int_equal(lc_snapshot_finish(filled_db(), &m, buf, len, NULL, 0), 0);
}

/* A successful result must be a good one. */
static void check_image(const void *buf, size_t len)
{
    struct lc_snapshot_meta m;
    char errmsg[256] = "";
    sqlite3 *db;
    int err = lc_snapshot_open(buf, len, GROUP, &db, &m, errmsg, sizeof errmsg);
    if (err != 0) {
        fail_msg("image made under failing heap does not open: %s (%s)",
                 lc_errname(err), errmsg);
    }
    assert_int_equal(m.index, 99);
    assert_int_equal(
        sqlite3_exec(db, "SELECT * FROM services", NULL, NULL, NULL),
        SQLITE_OK);
    lc_snapshot_close(db);
}

/* Report an unexpected result of a call made with allocation @n failing
 * (@errmsg NULL: the call has no message buffer). */
static void check_result(const char *what, long n, int err, const char *errmsg,
                         long base)
{
    if (err != 0 && !injected) {
        fail_msg("%s failed with no allocation failure (n=%ld): %s (%s)", what,
                 n, lc_errname(err), errmsg);
    }
    if (err != 0 && err != LC_ENOMEM) {
        fail_msg("%s with allocation %ld failing: %s (%s), want LC_ENOMEM",
                 what, n, lc_errname(err), errmsg);
    }
    if (err != 0 && errmsg != NULL && errmsg[0] == '\0') {
        fail_msg("%s with allocation %ld failing: no message", what, n);
    }
    if (live != base) {
        fail_msg("%s with allocation %ld failing: %ld allocations leaked", what,
                 n, live - base);
    }
}

/* ------------------------------------------------------------ tests */

static void test_begin(void **state)
{
    long base = live;
    long n;
    sqlite3 *db;
    int err;
    (void)state;

    for (n = 1;; n++) {
        db = NULL;
        arm(n);
        err = lc_snapshot_begin(&db);
        disarm();
        if (err == 0) {
            lc_snapshot_abort(db);
        }
        check_result("lc_snapshot_begin", n, err, NULL, base);
        if (!injected) {
            break;
        }
    }
    /* The hook reached the code: a loop that injected nothing passes
     * without testing anything. */
    assert_true(n > 1);
    print_message("begin: %ld allocation points\n", n - 1);
}

static void test_finish(void **state)
{
    struct lc_snapshot_meta m = test_meta();
    char errmsg[256];
    long base = live;
    long failures = 0;
    long n;
    void *buf;
    size_t len;
    sqlite3 *db;
    int err;
    (void)state;

    for (n = 1;; n++) {
        db = filled_db();
        errmsg[0] = '\0';
        buf = NULL;
        arm(n);
        err = lc_snapshot_finish(db, &m, &buf, &len, errmsg, sizeof errmsg);
        disarm();
        if (err == 0) {
            check_image(buf, len);
            raft_free(buf);
        } else {
            failures++;
            assert_null(buf);
        }
        check_result("lc_snapshot_finish", n, err, errmsg, base);
        if (!injected) {
            break;
        }
    }
    /* The hook reached the code: a loop that injected nothing passes
     * without testing anything. */
    assert_true(n > 1);
    assert_true(failures > 0);
    print_message("finish: %ld allocation points, %ld reported\n", n - 1,
                  failures);
}

/* A processor filling the database: a chunk of the file that cannot be
 * allocated is SQLITE_NOMEM to it, like any other allocation. */
static void test_fill(void **state)
{
    long base = live;
    long failures = 0;
    long n;
    sqlite3 *db;
    int rc;
    (void)state;

    for (n = 1;; n++) {
        assert_int_equal(lc_snapshot_begin(&db), 0);
        arm(n);
        rc = sqlite3_exec(db,
                          "CREATE TABLE t(b BLOB);"
                          " INSERT INTO t VALUES (zeroblob(250000));"
                          " INSERT INTO t VALUES (zeroblob(250000))",
                          NULL, NULL, NULL);
        disarm();
        if (rc == SQLITE_OK) {
            /* A failure SQLite absorbed (a cache page) lost nothing. */
            sqlite3_stmt *st;
            assert_int_equal(
                sqlite3_prepare_v2(db, "SELECT count(*), sum(length(b))"
                                       " FROM t", -1, &st, NULL),
                SQLITE_OK);
            assert_int_equal(sqlite3_step(st), SQLITE_ROW);
            assert_int_equal(sqlite3_column_int(st, 0), 2);
            assert_int_equal(sqlite3_column_int(st, 1), 500000);
            sqlite3_finalize(st);
        } else {
            failures++;
            if (rc != SQLITE_NOMEM) {
                fail_msg("filling with allocation %ld failing: %s, want "
                         "SQLITE_NOMEM",
                         n, sqlite3_errstr(rc));
            }
        }
        lc_snapshot_abort(db);
        if (live != base) {
            fail_msg("filling with allocation %ld failing: %ld allocations "
                     "leaked",
                     n, live - base);
        }
        if (!injected) {
            break;
        }
    }
    print_message("fill: %ld allocation points, %ld reported\n", n - 1,
                  failures);
}

/* An image of three chunks (64 + 128 + 256 KiB): every chunk and the array
 * holding them can fail. */
static void test_finish_bufs(void **state)
{
    struct lc_snapshot_meta m = test_meta();
    struct raft_buffer *bufs;
    unsigned n_bufs;
    char errmsg[256];
    long base = live;
    long failures = 0;
    long n;
    sqlite3 *db;
    int err;
    (void)state;

    for (n = 1;; n++) {
        db = filled_db();
        assert_int_equal(sqlite3_exec(db,
                                      "INSERT INTO services VALUES (3, 'big',"
                                      " 0, zeroblob(250000), NULL)",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
        errmsg[0] = '\0';
        bufs = NULL;
        n_bufs = 0;
        arm(n);
        err = lc_snapshot_finish_bufs(db, &m, &bufs, &n_bufs, errmsg,
                                      sizeof errmsg);
        disarm();
        if (err == 0) {
            void *buf;
            size_t len;
            assert_int_equal(n_bufs, 3);
            assert_int_equal(lc_snapshot_join(bufs, n_bufs, &buf, &len), 0);
            check_image(buf, len);
            raft_free(buf);
        } else {
            failures++;
            assert_null(bufs);
        }
        check_result("lc_snapshot_finish_bufs", n, err, errmsg, base);
        if (!injected) {
            break;
        }
    }
    print_message("finish_bufs: %ld allocation points, %ld reported\n", n - 1,
                  failures);
}

/* Joining pieces: the one allocation fails cleanly, the pieces are gone
 * either way. */
static void test_join(void **state)
{
    struct lc_snapshot_meta m = test_meta();
    struct raft_buffer *bufs;
    unsigned n_bufs;
    long base = live;
    void *buf = NULL;
    size_t len;
    sqlite3 *db;
    (void)state;

    db = filled_db();
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO services VALUES (3, 'big', 0,"
                                  " zeroblob(100000), NULL)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(
        lc_snapshot_finish_bufs(db, &m, &bufs, &n_bufs, NULL, 0), 0);
    assert_true(n_bufs > 1);
    arm(1);
    assert_int_equal(lc_snapshot_join(bufs, n_bufs, &buf, &len), LC_ENOMEM);
    disarm();
    assert_true(injected);
    assert_null(buf);
    assert_int_equal(live, base);
}

static void test_open(void **state)
{
    struct lc_snapshot_meta m;
    char errmsg[256];
    long base;
    long failures = 0;
    long n;
    void *img;
    size_t len;
    sqlite3 *db;
    int err;
    (void)state;

    make_image(&img, &len);
    base = live;
    for (n = 1;; n++) {
        db = NULL;
        errmsg[0] = '\0';
        arm(n);
        err = lc_snapshot_open(img, len, GROUP, &db, &m, errmsg, sizeof errmsg);
        disarm();
        if (err == 0) {
            assert_int_equal(m.term, 3);
            assert_int_equal(
                sqlite3_exec(db, "SELECT * FROM instances", NULL, NULL, NULL),
                SQLITE_OK);
            lc_snapshot_close(db);
        } else {
            failures++;
            assert_null(db);
        }
        check_result("lc_snapshot_open", n, err, errmsg, base);
        if (!injected) {
            break;
        }
    }
    /* The hook reached the code: a loop that injected nothing passes
     * without testing anything. */
    assert_true(n > 1);
    assert_true(failures > 0);
    print_message("open: %ld allocation points, %ld reported\n", n - 1,
                  failures);
    raft_free(img);
}

static void test_read_meta(void **state)
{
    struct lc_snapshot_meta m;
    char errmsg[256];
    long base;
    long n;
    void *img;
    size_t len;
    int err;
    (void)state;

    make_image(&img, &len);
    base = live;
    for (n = 1;; n++) {
        errmsg[0] = '\0';
        memset(&m, 0, sizeof m);
        arm(n);
        err = lc_snapshot_read_meta(img, len, &m, errmsg, sizeof errmsg);
        disarm();
        if (err == 0) {
            assert_int_equal(m.index, 99);
            assert_string_equal(m.group, GROUP);
        }
        check_result("lc_snapshot_read_meta", n, err, errmsg, base);
        if (!injected) {
            break;
        }
    }
    /* The hook reached the code: a loop that injected nothing passes
     * without testing anything. */
    assert_true(n > 1);
    print_message("read_meta: %ld allocation points\n", n - 1);
    raft_free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_begin),
        cmocka_unit_test(test_finish),
        cmocka_unit_test(test_fill),
        cmocka_unit_test(test_finish_bufs),
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_open),
        cmocka_unit_test(test_read_meta),
    };
    if (setup_heaps() != 0) {
        fprintf(stderr, "cannot install the failing allocators\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
