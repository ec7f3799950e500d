/* Unit tests for how snapshots/ holds an image: the in-memory VFS (vfs.c),
 * images in several chunks, the size cap, and that writing or opening a
 * snapshot never holds the image twice. Its own binary: it installs a
 * counting raft heap, which is process-wide. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <raft.h>
#include <sqlite3.h>

#include "common/err.h"
#include "snapshots/internal.h"
#include "snapshots/snapshots.h"
#include "test/support/snap_env.h"

#define GROUP "naming_persistent_service_v2"
#define KIB 1024
#define MIB (1024 * 1024)

/* ------------------------------------------------------------ raft heap */

/* Every raft allocation carries its size in front, so the live total and
 * its peak are known. */
#define HDR 16

static size_t raft_live;
static size_t raft_peak;

static void account(size_t add, size_t sub)
{
    raft_live = raft_live + add - sub;
    if (raft_live > raft_peak) {
        raft_peak = raft_live;
    }
}

static void *h_malloc(void *data, size_t size)
{
    unsigned char *p = malloc(size + HDR);
    (void)data;
    if (p == NULL) {
        return NULL;
    }
    memcpy(p, &size, sizeof size);
    account(size, 0);
    return p + HDR;
}

static void h_free(void *data, void *ptr)
{
    unsigned char *p = ptr;
    size_t size;
    (void)data;
    if (p == NULL) {
        return;
    }
    memcpy(&size, p - HDR, sizeof size);
    account(0, size);
    free(p - HDR);
}

static void *h_calloc(void *data, size_t nmemb, size_t size)
{
    void *p = h_malloc(data, nmemb * size);
    if (p != NULL) {
        memset(p, 0, nmemb * size);
    }
    return p;
}

static void *h_realloc(void *data, void *ptr, size_t size)
{
    unsigned char *p = ptr;
    size_t old = 0;
    (void)data;
    if (p == NULL) {
        return h_malloc(data, size);
    }
    memcpy(&old, p - HDR, sizeof old);
    p = realloc(p - HDR, size + HDR);
    if (p == NULL) {
        return NULL;
    }
    memcpy(p, &size, sizeof size);
    account(size, old);
    return p + HDR;
}

static void *h_aligned_alloc(void *data, size_t alignment, size_t size)
{
    (void)data;
    (void)alignment;
    (void)size;
    fail_msg("snapshots/ made an aligned raft allocation");
    return NULL;
}

static void h_aligned_free(void *data, size_t alignment, void *ptr)
{
    (void)data;
    (void)alignment;
    (void)ptr;
}

static struct raft_heap counting_heap = {
    NULL,      h_malloc,        h_free,         h_calloc,
    h_realloc, h_aligned_alloc, h_aligned_free,
};

/* ------------------------------------------------------------ helpers */

static struct lc_snapshot_meta test_meta(void)
{
    struct lc_snapshot_meta m;
    memset(&m, 0, sizeof m);
    snprintf(m.group, sizeof m.group, "%s", GROUP);
    m.index = 4242;
    m.term = 3;
    m.created_ms = 1700000000123u;
    return m;
}

/* A database shaped as the persistent group's: @rows rows of ~190 bytes,
 * each its own transaction as naming/store/persistent.c writes them. */
static sqlite3 *filled_db(int rows)
{
    sqlite3_stmt *st;
    sqlite3 *db;

    assert_int_equal(lc_snapshot_begin(&db), 0);
    ts_exec_ok(db, "CREATE TABLE instances(client_id TEXT, service TEXT,"
                   " ip TEXT, port INTEGER, weight REAL, metadata TEXT)");
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO instances VALUES"
                                        " (?1 || ':8080#false', 'svc-' ||"
                                        " (?2 / 100), ?1, 8080, 1.0,"
                                        " '{\"app\":\"order-service\","
                                        "\"version\":\"1.4.2\",\"zone\":"
                                        "\"zone-a\"}' || ?2)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    for (int i = 0; i < rows; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.%d.%d.%d", i >> 16, (i >> 8) & 255,
                 i & 255);
        sqlite3_bind_text(st, 1, ip, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 2, i);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return db;
}

static void finish_bufs_ok(sqlite3 *db, struct raft_buffer **bufs,
                           unsigned *n_bufs, size_t *len)
{
    struct lc_snapshot_meta m = test_meta();
    char errmsg[256] = "";
    int err =
        lc_snapshot_finish_bufs(db, &m, bufs, n_bufs, errmsg, sizeof errmsg);
    if (err != 0) {
        fail_msg("lc_snapshot_finish_bufs: %s (%s)", lc_errname(err), errmsg);
    }
    *len = 0;
    for (unsigned i = 0; i < *n_bufs; i++) {
        *len += (*bufs)[i].len;
    }
}

static long long count_rows(sqlite3 *db)
{
    sqlite3_stmt *st;
    long long n;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT count(*) FROM instances", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* ------------------------------------------------------------ the vfs */

/* The VFS on its own, at offsets SQLite does not use: writes across chunk
 * boundaries, holes, short reads, truncation, the cap. */
static void test_vfs_file(void **state)
{
    sqlite3_vfs *vfs;
    sqlite3_file *f;
    unsigned char *pattern;
    unsigned char *back;
    sqlite3_int64 size;
    size_t saved_max = lc_snap_vfs_max;
    int out_flags;
    (void)state;

    assert_int_equal(lc_snap_vfs_register(), SQLITE_OK);
    vfs = sqlite3_vfs_find(LC_SNAP_VFS);
    assert_non_null(vfs);
    f = calloc(1, (size_t)vfs->szOsFile);
    pattern = malloc(300 * KIB);
    back = malloc(300 * KIB);
    assert_non_null(f);
    assert_non_null(pattern);
    assert_non_null(back);
    for (size_t i = 0; i < 300 * KIB; i++) {
        pattern[i] = (unsigned char)(i * 7 + i / 251);
    }
    assert_int_equal(vfs->xOpen(vfs, NULL, f,
                                SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                    SQLITE_OPEN_TEMP_JOURNAL |
                                    SQLITE_OPEN_DELETEONCLOSE,
                                &out_flags),
                     SQLITE_OK);

    /* Empty: a short read of zeros. */
    memset(back, 0xaa, 100);
    assert_int_equal(f->pMethods->xRead(f, back, 100, 0),
                     SQLITE_IOERR_SHORT_READ);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(back[i], 0);
    }

    /* 300 KiB from offset 1000 spans chunks 0 (64 KiB), 1 (128 KiB) and 2
     * (256 KiB); the hole before it reads as zeros. */
    assert_int_equal(f->pMethods->xWrite(f, pattern, 300 * KIB, 1000),
                     SQLITE_OK);
    assert_int_equal(f->pMethods->xFileSize(f, &size), SQLITE_OK);
    assert_int_equal(size, 1000 + 300 * KIB);
    assert_int_equal(f->pMethods->xRead(f, back, 1000, 0), SQLITE_OK);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(back[i], 0);
    }
    memset(back, 0, 300 * KIB);
    assert_int_equal(f->pMethods->xRead(f, back, 300 * KIB, 1000), SQLITE_OK);
    assert_memory_equal(back, pattern, 300 * KIB);
    /* Straddling the 64 KiB boundary, unaligned. */
    assert_int_equal(f->pMethods->xRead(f, back, 5000, 64 * KIB - 2000),
                     SQLITE_OK);
    assert_memory_equal(back, pattern + 64 * KIB - 3000, 5000);

    /* Reading past the end: what is there, then zeros. */
    memset(back, 0xaa, 4000);
    assert_int_equal(f->pMethods->xRead(f, back, 4000, size - 1000),
                     SQLITE_IOERR_SHORT_READ);
    assert_memory_equal(back, pattern + 300 * KIB - 1000, 1000);
    for (int i = 1000; i < 4000; i++) {
        assert_int_equal(back[i], 0);
    }

    /* Shrink, then grow again: the old bytes must not come back. */
    assert_int_equal(f->pMethods->xTruncate(f, 2000), SQLITE_OK);
    assert_int_equal(f->pMethods->xFileSize(f, &size), SQLITE_OK);
    assert_int_equal(size, 2000);
    assert_int_equal(f->pMethods->xTruncate(f, 100 * KIB), SQLITE_OK);
    assert_int_equal(f->pMethods->xRead(f, back, 4000, 1000), SQLITE_OK);
    assert_memory_equal(back, pattern, 1000);
    for (int i = 1000; i < 4000; i++) {
        assert_int_equal(back[i], 0);
    }
    assert_int_equal(f->pMethods->xWrite(f, pattern, 10, 200 * KIB), SQLITE_OK);
    assert_int_equal(f->pMethods->xRead(f, back, 1000, 150 * KIB), SQLITE_OK);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(back[i], 0);
    }

    /* The cap. */
    lc_snap_vfs_max = 256 * KIB;
    assert_int_equal(f->pMethods->xWrite(f, pattern, 4096, 256 * KIB - 4095),
                     SQLITE_FULL);
    assert_int_equal(f->pMethods->xWrite(f, pattern, 4096, 256 * KIB - 4096),
                     SQLITE_OK);
    assert_int_equal(f->pMethods->xTruncate(f, 256 * KIB + 1), SQLITE_FULL);
    lc_snap_vfs_max = saved_max;

    assert_int_equal(f->pMethods->xClose(f), SQLITE_OK);
    free(f);
    free(pattern);
    free(back);
    assert_int_equal(raft_live, 0); /* the chunks went with the file */
}

/* ------------------------------------------------------------ images */

/* A small image is one chunk, and joining it moves it. */
static void test_small_image_one_chunk(void **state)
{
    struct raft_buffer *bufs;
    unsigned n_bufs;
    size_t len;
    void *first;
    void *buf;
    size_t blen;
    (void)state;

    finish_bufs_ok(filled_db(20), &bufs, &n_bufs, &len);
    assert_int_equal(n_bufs, 1);
    assert_true(len <= 64 * KIB);
    first = bufs[0].base;
    assert_int_equal(lc_snapshot_join(bufs, n_bufs, &buf, &blen), 0);
    assert_ptr_equal(buf, first);
    assert_int_equal(blen, len);
    raft_free(buf);
    assert_int_equal(raft_live, 0);
}

/* A large image comes in growing chunks that together are the database
 * file: it opens, validates, and holds what was written. */
static void test_large_image_in_chunks(void **state)
{
    static const size_t caps[] = {64 * KIB,  128 * KIB, 256 * KIB,
                                  512 * KIB, 1 * MIB,   2 * MIB};
    struct lc_snapshot_meta m;
    struct raft_buffer *bufs;
    unsigned n_bufs;
    char errmsg[256] = "";
    size_t len;
    void *buf;
    size_t blen;
    sqlite3 *db;
    (void)state;

    finish_bufs_ok(filled_db(60000), &bufs, &n_bufs, &len);
    assert_true(len > 6 * MIB);
    assert_true(n_bufs >= 7);
    for (unsigned i = 0; i + 1 < n_bufs; i++) {
        assert_int_equal(bufs[i].len, i < 6 ? caps[i] : 4 * MIB);
    }
    assert_true(bufs[n_bufs - 1].len > 0);
    assert_true(bufs[n_bufs - 1].len <= 4 * MIB);

    assert_int_equal(lc_snapshot_join(bufs, n_bufs, &buf, &blen), 0);
    assert_int_equal(blen, len);
    assert_int_equal(
        lc_snapshot_open(buf, blen, GROUP, &db, &m, errmsg, sizeof errmsg), 0);
    assert_int_equal(m.index, 4242);
    assert_int_equal(count_rows(db), 60000);
    lc_snapshot_close(db);
    raft_free(buf);
    assert_int_equal(raft_live, 0);
}

/* Written piece by piece with one writev, as raft_uv writes them, the chunks
 * make a file the sqlite3 shell opens. */
static void test_chunks_written_as_raft_does(void **state)
{
    char path[] = "/tmp/locus-snapshot-chunks-XXXXXX";
    struct raft_buffer *bufs;
    struct iovec iov[64];
    unsigned n_bufs;
    char out[1024];
    size_t len;
    int fd;
    (void)state;

    if (system("command -v sqlite3 >/dev/null 2>&1") != 0) {
        skip();
    }
    finish_bufs_ok(filled_db(30000), &bufs, &n_bufs, &len);
    assert_true(n_bufs > 1 && n_bufs <= 64);
    for (unsigned i = 0; i < n_bufs; i++) {
        iov[i].iov_base = bufs[i].base;
        iov[i].iov_len = bufs[i].len;
    }
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(writev(fd, iov, (int)n_bufs), (ssize_t)len);
    close(fd);
    lc_snapshot_free_bufs(bufs, n_bufs);

    ts_sqlite_cli(path,
                  ".tables 'PRAGMA integrity_check'"
                  " 'SELECT count(*) FROM instances'",
                  out, sizeof out);
    unlink(path);
    assert_non_null(strstr(out, "instances"));
    assert_non_null(strstr(out, "meta"));
    assert_non_null(strstr(out, "\nok\n30000\n"));
    assert_int_equal(raft_live, 0);
}

/* ------------------------------------------------------------ the cap */

static void test_cap(void **state)
{
    struct lc_snapshot_meta m = test_meta();
    struct raft_buffer *bufs = NULL;
    unsigned n_bufs = 0;
    char errmsg[256] = "";
    size_t saved_max = lc_snap_vfs_max;
    sqlite3_stmt *st;
    sqlite3_int64 size;
    sqlite3 *db;
    int rc;
    (void)state;

    /* A processor's write past the cap fails with SQLITE_FULL... */
    lc_snap_vfs_max = 256 * KIB;
    assert_int_equal(lc_snapshot_begin(&db), 0);
    ts_exec_ok(db, "CREATE TABLE t(b BLOB)");
    rc = sqlite3_exec(db, "INSERT INTO t VALUES (zeroblob(300000))", NULL, NULL,
                      NULL);
    assert_int_equal(rc, SQLITE_FULL);
    lc_snapshot_abort(db);
    lc_snap_vfs_max = saved_max;

    /* ...and so does the meta table when the content left no room for it:
     * the cap set at the content's size exactly. */
    db = filled_db(500);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT page_count * page_size FROM"
                                        " pragma_page_count, pragma_page_size",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    size = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    lc_snap_vfs_max = (size_t)size;
    assert_int_equal(
        lc_snapshot_finish_bufs(db, &m, &bufs, &n_bufs, errmsg, sizeof errmsg),
        LC_ETOOBIG);
    lc_snap_vfs_max = saved_max;
    assert_null(bufs);
    assert_non_null(strstr(errmsg, "writing meta table"));
    assert_int_equal(raft_live, 0);
}

/* ------------------------------------------------------------ memory */

/* Writing a snapshot holds the image once: SQLite's own memory stays at
 * the page cache's size while the image grows in raft's chunks, whose total
 * never exceeds the image and one chunk of slack. */
static void test_write_holds_image_once(void **state)
{
    struct raft_buffer *bufs;
    unsigned n_bufs;
    sqlite3_int64 sqlite_peak;
    size_t len;
    size_t peak;
    (void)state;

    assert_int_equal(raft_live, 0);
    raft_peak = 0;
    sqlite3_memory_highwater(1);
    finish_bufs_ok(filled_db(80000), &bufs, &n_bufs, &len);
    sqlite_peak = sqlite3_memory_highwater(1);
    peak = raft_peak;
    print_message("image %.1f MB in %u chunks; peaks: raft %.1f MB, SQLite "
                  "%.1f MB\n",
                  (double)len / MIB, n_bufs, (double)peak / MIB,
                  (double)sqlite_peak / MIB);
    assert_true(len > 8 * MIB);
    assert_true(sqlite3_memory_used() >= 0);
    assert_true(sqlite_peak > 0); /* SQLITE_CONFIG_MEMSTATUS is on */
    /* Page cache (1 MiB) and schema, statements, journal: well under the
     * image, which a copy would add in full. */
    assert_true(sqlite_peak < 3 * MIB);
    assert_true(peak <= len + 4 * MIB + 64 * KIB);
    lc_snapshot_free_bufs(bufs, n_bufs);
    assert_int_equal(raft_live, 0);
}

/* Opening an image (as restore does) reads it in place: SQLite's memory
 * stays far below the image's size. */
static void test_open_holds_no_copy(void **state)
{
    struct lc_snapshot_meta m;
    struct raft_buffer *bufs;
    unsigned n_bufs;
    char errmsg[256] = "";
    sqlite3_int64 sqlite_peak;
    size_t len;
    void *buf;
    size_t blen;
    sqlite3 *db;
    (void)state;

    finish_bufs_ok(filled_db(80000), &bufs, &n_bufs, &len);
    assert_int_equal(lc_snapshot_join(bufs, n_bufs, &buf, &blen), 0);
    sqlite3_memory_highwater(1);
    assert_int_equal(
        lc_snapshot_open(buf, blen, GROUP, &db, &m, errmsg, sizeof errmsg), 0);
    assert_int_equal(count_rows(db), 80000);
    lc_snapshot_close(db);
    sqlite_peak = sqlite3_memory_highwater(1);
    print_message("open of %.1f MB: SQLite peak %.1f MB\n", (double)blen / MIB,
                  (double)sqlite_peak / MIB);
    assert_true(blen > 8 * MIB);
    assert_true(sqlite_peak < 4 * MIB);
    raft_free(buf);
    assert_int_equal(raft_live, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vfs_file),
        cmocka_unit_test(test_small_image_one_chunk),
        cmocka_unit_test(test_large_image_in_chunks),
        cmocka_unit_test(test_chunks_written_as_raft_does),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_write_holds_image_once),
        cmocka_unit_test(test_open_holds_no_copy),
    };
    raft_heap_set(&counting_heap);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
