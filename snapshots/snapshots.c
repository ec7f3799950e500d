/* Snapshot images: SQLite databases serialised for raft, with a checked meta
 * table. */
#include "snapshots/snapshots.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <raft.h>

#include "common/err.h"
#include "common/util.h"
#include "snapshots/internal.h"

/* Page cache of a snapshot being written (PRAGMA cache_size: -N is N KiB). */
#define SNAP_CACHE_KIB "-1024"

/* How the pieces fit.
 *
 * Writing. lc_snapshot_begin() opens a database on the in-memory VFS of
 * vfs.c: the processor's tables are written into a file that is a row of
 * raft_malloc'd chunks, never on disk, with the rollback journal in memory
 * and a 1 MiB page cache. lc_snapshot_finish_bufs() adds the meta table and
 * takes the chunks as they are, as raft's snapshot buffers: the image is
 * never copied, so a snapshot costs its size once (plus the page cache). The
 * file is capped at 1 GiB (lc_snap_vfs_max); beyond that writes fail with
 * SQLITE_FULL. lc_snapshot_finish() joins the chunks into one buffer, which
 * copies the image when there is more than one: for tests and tools.
 *
 * Reading. lc_snapshot_open() deserialises the caller's buffer with
 * SQLITE_DESERIALIZE_READONLY and without FREEONCLOSE: no copy is made, SQLite
 * only reads the bytes, and the buffer is borrowed until lc_snapshot_close().
 * The image is treated as hostile: defensive mode, schema not trusted, cell
 * size checks, and while validating, CHECK constraints ignored and values
 * capped at the image's size, so a crafted schema cannot make validation
 * compute something huge per row. Checks, in order, each with its own message:
 *   1. the bytes are an SQLite image: header magic, page size, length a whole
 *      number of pages and equal to the page count in the header, schema
 *      readable;
 *   2. the meta table exists and its 'format' row parses; the format is
 *      LC_SNAPSHOT_FORMAT (else LC_EINVAL). The format is checked before the
 *      other rows since another format may lay out its meta differently;
 *   3. the other meta rows exist and parse;
 *   4. the group matches (else LC_EINVAL);
 *   5. every content table is one lc_snapshot_finish() would accept;
 *   6. PRAGMA quick_check passes (catches damage to pages the checksum does
 *      not read, such as indexes);
 *   7. the checksum recomputed over the content equals meta's.
 * Validation reads the whole image: about 0.2 s for 75 MB.
 *
 * Checksum: see checksum.c.
 */


/* ------------------------------------------------------------ writing */

int lc_snapshot_begin(sqlite3 **db)
{
    sqlite3 *conn = NULL;
    int rc;
    int err;

    rc = lc_snap_vfs_register();
    if (rc != SQLITE_OK) {
        return (rc & 0xff) == SQLITE_NOMEM ? LC_ENOMEM : LC_EIO;
    }
    /* The name is only a label: every open on the VFS is a new file. */
    rc = sqlite3_open_v2("snapshot.db", &conn,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                             SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE,
                         LC_SNAP_VFS);
    if (rc != SQLITE_OK) {
        goto err_after_open;
    }
    /* The rollback journal in memory: pages appended by a transaction are
     * not journaled, so it holds a few pages at a time. One connection:
     * lock once. The page cache is only a cache over memory: keep it small,
     * it is the one part of the build held beside the image. */
    rc = sqlite3_exec(conn,
                      "PRAGMA main.journal_mode=MEMORY;"
                      " PRAGMA main.locking_mode=EXCLUSIVE;"
                      " PRAGMA main.synchronous=OFF;"
                      " PRAGMA main.cache_size=" SNAP_CACHE_KIB ";"
                      " PRAGMA temp_store=MEMORY",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        goto err_after_open;
    }
    *db = conn;
    return 0;

err_after_open:
    err = lc_snap_is_nomem(conn, rc) ? LC_ENOMEM : LC_EIO;
    sqlite3_close(conn); /* harmless on NULL */
    return err;
}

void lc_snapshot_abort(sqlite3 *db)
{
    /* v2: a statement the processor forgot to finalise delays the close
     * instead of leaking the connection outright. */
    sqlite3_close_v2(db);
}

/* Does @db's main schema already hold a table called meta (any case)? */
static int meta_exists(sqlite3 *db, bool *exists, char *errmsg, size_t errlen)
{
    sqlite3_stmt *stmt;
    int rc;

    rc = sqlite3_prepare_v2(
        db,
        "SELECT 1 FROM main.sqlite_schema WHERE name = '" META_TABLE
        "' COLLATE NOCASE",
        -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(stmt);
        sqlite3_finalize(stmt);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        lc_snap_set_err(errmsg, errlen, "cannot write snapshot: reading schema: %s",
                sqlite3_errmsg(db));
        return lc_snap_err_from_sqlite(rc);
    }
    *exists = rc == SQLITE_ROW;
    return 0;
}

/* Create and fill the meta table. */
static int write_meta(sqlite3 *db, const struct lc_snapshot_meta *meta,
                      uint64_t checksum, char *errmsg, size_t errlen)
{
    char index[24], term[24], format[24], created[24], sum[24];
    const char *rows[][2] = {
        {"group", meta->group}, {"index", index},        {"term", term},
        {"format", format},     {"created_ms", created}, {"checksum", sum},
    };
    sqlite3_stmt *stmt;
    int rc;

    snprintf(index, sizeof index, "%" PRIu64, meta->index);
    snprintf(term, sizeof term, "%" PRIu64, meta->term);
    snprintf(format, sizeof format, "%d", LC_SNAPSHOT_FORMAT);
    snprintf(created, sizeof created, "%" PRIu64, meta->created_ms);
    snprintf(sum, sizeof sum, "%016" PRIx64, checksum);

    rc = sqlite3_exec(db,
                      "CREATE TABLE main." META_TABLE
                      "(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        goto err;
    }
    rc = sqlite3_prepare_v2(
        db, "INSERT INTO main." META_TABLE "(key, value) VALUES (?1, ?2)", -1,
        &stmt, NULL);
    if (rc != SQLITE_OK) {
        goto err;
    }
    for (size_t i = 0; i < LC_ARRAY_SIZE(rows); i++) {
        rc = sqlite3_bind_text(stmt, 1, rows[i][0], -1, SQLITE_STATIC);
        if (rc == SQLITE_OK) {
            rc = sqlite3_bind_text(stmt, 2, rows[i][1], -1, SQLITE_STATIC);
        }
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(stmt);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        }
        if (rc != SQLITE_OK) {
            goto err_after_prepare;
        }
        sqlite3_reset(stmt);
    }
    sqlite3_finalize(stmt);
    return 0;

err_after_prepare:
    sqlite3_finalize(stmt);
err:
    lc_snap_set_err(errmsg, errlen, "cannot write snapshot: writing meta table: %s",
            sqlite3_errmsg(db));
    return lc_snap_err_from_sqlite(rc);
}

int lc_snapshot_finish_bufs(sqlite3 *db, const struct lc_snapshot_meta *meta,
                            struct raft_buffer **bufs, unsigned *n_bufs,
                            char *errmsg, size_t errlen)
{
    char detail[256];
    uint64_t checksum;
    size_t glen;
    size_t len;
    bool exists = false;
    int rc;
    int err;

    glen = strnlen(meta->group, sizeof meta->group);
    if (glen == 0 || glen == sizeof meta->group) {
        lc_snap_set_err(errmsg, errlen,
                "cannot write snapshot: group name is empty or longer than "
                "%zu bytes",
                sizeof meta->group - 1);
        err = LC_EINVAL;
        goto err_after_begin;
    }
    if (!sqlite3_get_autocommit(db)) {
        lc_snap_set_err(errmsg, errlen,
                "cannot write snapshot: a transaction is still open");
        err = LC_EINVAL;
        goto err_after_begin;
    }
    err = meta_exists(db, &exists, errmsg, errlen);
    if (err != 0) {
        goto err_after_begin;
    }
    if (exists) {
        lc_snap_set_err(errmsg, errlen,
                "cannot write snapshot: the table name '" META_TABLE
                "' is reserved for snapshot metadata");
        err = LC_EINVAL;
        goto err_after_begin;
    }
    err = lc_snap_vet_tables(db, detail, sizeof detail);
    if (err == 0) {
        err = lc_snap_checksum(db, &checksum, detail, sizeof detail);
    }
    if (err != 0) {
        lc_snap_set_err(errmsg, errlen, "cannot write snapshot: %s", detail);
        goto err_after_begin;
    }
    err = write_meta(db, meta, checksum, errmsg, errlen);
    if (err != 0) {
        goto err_after_begin;
    }

    /* Committed, so every page is in the file: take its chunks as they are. */
    rc = lc_snap_vfs_take(db, bufs, n_bufs, &len);
    if (rc != SQLITE_OK) {
        lc_snap_set_err(errmsg, errlen,
                "cannot write snapshot: the database file is %s",
                rc == SQLITE_EMPTY ? "empty" : "not on the snapshot VFS");
        err = LC_EIO;
        goto err_after_begin;
    }
    sqlite3_close_v2(db);
    return 0;

err_after_begin:
    sqlite3_close_v2(db);
    return err;
}

void lc_snapshot_free_bufs(struct raft_buffer *bufs, unsigned n_bufs)
{
    if (bufs == NULL) {
        return;
    }
    for (unsigned i = 0; i < n_bufs; i++) {
        raft_free(bufs[i].base);
    }
    raft_free(bufs);
}

int lc_snapshot_join(struct raft_buffer *bufs, unsigned n_bufs, void **buf,
                     size_t *len)
{
    unsigned char *out;
    size_t total = 0;

    if (n_bufs == 1) {
        /* One piece: hand it over as it is. */
        *buf = bufs[0].base;
        *len = bufs[0].len;
        raft_free(bufs);
        return 0;
    }
    for (unsigned i = 0; i < n_bufs; i++) {
        total += bufs[i].len;
    }
    out = raft_malloc(total > 0 ? total : 1);
    if (out == NULL) {
        lc_snapshot_free_bufs(bufs, n_bufs);
        return LC_ENOMEM;
    }
    *buf = out;
    *len = total;
    for (unsigned i = 0; i < n_bufs; i++) {
        memcpy(out, bufs[i].base, bufs[i].len);
        out += bufs[i].len;
    }
    lc_snapshot_free_bufs(bufs, n_bufs);
    return 0;
}

int lc_snapshot_finish(sqlite3 *db, const struct lc_snapshot_meta *meta,
                       void **buf, size_t *len, char *errmsg, size_t errlen)
{
    struct raft_buffer *bufs;
    unsigned n_bufs;
    int err;

    err = lc_snapshot_finish_bufs(db, meta, &bufs, &n_bufs, errmsg, errlen);
    if (err != 0) {
        return err;
    }
    err = lc_snapshot_join(bufs, n_bufs, buf, len);
    if (err != 0) {
        lc_snap_set_err(errmsg, errlen,
                "cannot write snapshot: out of memory joining the image");
    }
    return err;
}

/* ------------------------------------------------------------ reading */

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

#define NOT_SQLITE "snapshot is not an SQLite database: "

/* Cheap checks of the 100-byte database header before SQLite sees it. */
static int check_header(const unsigned char *p, size_t len, char *errmsg,
                        size_t errlen)
{
    static const char magic[16] = "SQLite format 3"; /* with its NUL */
    uint32_t page_size;
    uint32_t pages;

    if (p == NULL || len == 0) {
        lc_snap_set_err(errmsg, errlen, NOT_SQLITE "the image is empty");
        return LC_ECORRUPT;
    }
    if (len < 100) {
        lc_snap_set_err(errmsg, errlen,
                NOT_SQLITE "the image is %zu bytes, shorter than the 100-byte "
                           "header",
                len);
        return LC_ECORRUPT;
    }
    if (memcmp(p, magic, sizeof magic) != 0) {
        lc_snap_set_err(errmsg, errlen, NOT_SQLITE "no \"SQLite format 3\" header");
        return LC_ECORRUPT;
    }
    page_size = (uint32_t)p[16] << 8 | p[17];
    if (page_size == 1) {
        page_size = 65536;
    }
    if (page_size < 512 || (page_size & (page_size - 1)) != 0) {
        lc_snap_set_err(errmsg, errlen, NOT_SQLITE "invalid page size %" PRIu32,
                page_size);
        return LC_ECORRUPT;
    }
    if (len % page_size != 0 || len / page_size > UINT32_MAX ||
        len > (size_t)INT64_MAX) {
        lc_snap_set_err(errmsg, errlen,
                NOT_SQLITE "the image is %zu bytes, not a whole number of "
                           "%" PRIu32 "-byte pages (truncated?)",
                len, page_size);
        return LC_ECORRUPT;
    }
    /* The page count at offset 28 is valid when the change counter (24)
     * equals the version-valid-for number (92); SQLite keeps it so. */
    pages = get_be32(p + 28);
    if (pages != 0 && get_be32(p + 24) == get_be32(p + 92) &&
        pages != len / page_size) {
        lc_snap_set_err(errmsg, errlen,
                NOT_SQLITE "the header counts %" PRIu32 " pages but the image "
                           "holds %zu pages (truncated?)",
                pages, len / page_size);
        return LC_ECORRUPT;
    }
    return 0;
}

/* Open @buf read-only, borrowed, and make sure SQLite can read its schema. */
static int image_open(const void *buf, size_t len, sqlite3 **db, char *errmsg,
                      size_t errlen)
{
    sqlite3 *conn = NULL;
    int rc;
    int err;

    err = check_header(buf, len, errmsg, errlen);
    if (err != 0) {
        return err;
    }
    rc = sqlite3_open_v2(
        ":memory:", &conn,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        lc_snap_set_err(errmsg, errlen, "cannot open snapshot: %s",
                conn != NULL ? sqlite3_errmsg(conn) : "out of memory");
        err = lc_snap_is_nomem(conn, rc) ? LC_ENOMEM : LC_EIO;
        goto err_after_open;
    }
    /* Treat the image as hostile: no schema-defined side effects, no
     * writable schema, eager detection of malformed cells. */
    rc = sqlite3_db_config(conn, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_db_config(conn, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    }
    if (rc == SQLITE_OK) {
        /* quick_check would evaluate every CHECK constraint on every row. */
        rc = sqlite3_exec(conn,
                          "PRAGMA cell_size_check=ON;"
                          " PRAGMA ignore_check_constraints=ON",
                          NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        lc_snap_set_err(errmsg, errlen, "cannot open snapshot: %s",
                sqlite3_errmsg(conn));
        err = lc_snap_is_nomem(conn, rc) ? LC_ENOMEM : LC_EIO;
        goto err_after_open;
    }
    /* READONLY and no FREEONCLOSE: SQLite reads @buf in place and never
     * writes or frees it, hence the cast. */
    rc = sqlite3_deserialize(conn, "main", (unsigned char *)buf,
                             (sqlite3_int64)len, (sqlite3_int64)len,
                             SQLITE_DESERIALIZE_READONLY);
    if (rc != SQLITE_OK) {
        lc_snap_set_err(errmsg, errlen, "cannot open snapshot: %s",
                sqlite3_errmsg(conn));
        err = lc_snap_is_nomem(conn, rc) ? LC_ENOMEM : LC_EIO;
        goto err_after_open;
    }
    /* No value read while validating can be longer than the image, except
     * one computed by a generated column: cap those, so that a crafted
     * schema cannot make each row allocate up to 1 GB. The caller of
     * image_open() lifts the cap before handing out the connection. */
    if (len < (size_t)sqlite3_limit(conn, SQLITE_LIMIT_LENGTH, -1)) {
        sqlite3_limit(conn, SQLITE_LIMIT_LENGTH, (int)len);
    }
    /* Loading the schema is the first real read of the image. */
    rc = sqlite3_exec(conn, "SELECT count(*) FROM main.sqlite_schema", NULL,
                      NULL, NULL);
    if (rc != SQLITE_OK) {
        err = lc_snap_image_err(conn, rc);
        if (err == LC_ENOMEM) {
            lc_snap_set_err(errmsg, errlen, "cannot open snapshot: out of memory");
        } else {
            lc_snap_set_err(errmsg, errlen, NOT_SQLITE "%s", sqlite3_errmsg(conn));
        }
        goto err_after_open;
    }
    *db = conn;
    return 0;

err_after_open:
    sqlite3_close(conn);
    return err;
}

/* Strictly parse a decimal uint64: digits only, no sign, no overflow. */
static bool parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (*s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9') {
            return false;
        }
        if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) {
            return false;
        }
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

/* Exactly 16 hex digits, either case. */
static bool parse_hex64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    int i;

    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9') {
            d = (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            d = (unsigned)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            d = (unsigned)(c - 'A' + 10);
        } else {
            return false;
        }
        if (i >= 16) {
            return false;
        }
        v = v << 4 | d;
    }
    if (i != 16) {
        return false;
    }
    *out = v;
    return true;
}

/* A SQLite failure @rc reading the meta table of an untrusted image:
 * LC_ENOMEM or LC_ECORRUPT, with a message. */
static int meta_sqlite_err(sqlite3 *db, int rc, char *errmsg, size_t errlen)
{
    int err = lc_snap_image_err(db, rc);

    if (err == LC_ENOMEM) {
        lc_snap_set_err(errmsg, errlen, "reading snapshot meta: out of memory");
    } else {
        lc_snap_set_err(errmsg, errlen, "snapshot meta table is unreadable: %s",
                sqlite3_errmsg(db));
    }
    return err;
}

/* Look up meta row @key with the prepared @stmt (SELECT value ... key = ?1)
 * into @value (@size bytes). Return 0, LC_ECORRUPT or LC_ENOMEM. */
static int meta_get(sqlite3 *db, sqlite3_stmt *stmt, const char *key,
                    char *value, size_t size, char *errmsg, size_t errlen)
{
    const char *text;
    int n;
    int rc;

    sqlite3_reset(stmt);
    rc = sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(stmt);
    }
    if (rc == SQLITE_DONE) {
        lc_snap_set_err(errmsg, errlen, "snapshot meta table has no '%s' row", key);
        return LC_ECORRUPT;
    }
    if (rc != SQLITE_ROW) {
        return meta_sqlite_err(db, rc, errmsg, errlen);
    }
    if (sqlite3_column_type(stmt, 0) == SQLITE_NULL) {
        lc_snap_set_err(errmsg, errlen, "snapshot meta '%s' is NULL", key);
        return LC_ECORRUPT;
    }
    text = (const char *)sqlite3_column_text(stmt, 0);
    if (text == NULL) {
        return meta_sqlite_err(db, SQLITE_NOMEM, errmsg, errlen);
    }
    n = sqlite3_column_bytes(stmt, 0);
    if ((size_t)n >= size || strlen(text) != (size_t)n) {
        lc_snap_set_err(errmsg, errlen,
                "snapshot meta '%s' is longer than %zu bytes or holds a NUL",
                key, size - 1);
        return LC_ECORRUPT;
    }
    memcpy(value, text, (size_t)n + 1);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        lc_snap_set_err(errmsg, errlen,
                "snapshot meta table has more than one '%s' row", key);
        return LC_ECORRUPT;
    }
    if (rc != SQLITE_DONE) {
        return meta_sqlite_err(db, rc, errmsg, errlen);
    }
    return 0;
}

/* Read and validate a numeric meta row. */
static int meta_get_u64(sqlite3 *db, sqlite3_stmt *stmt, const char *key,
                        uint64_t *out, char *errmsg, size_t errlen)
{
    char value[32];
    char shown[40];
    int err;

    err = meta_get(db, stmt, key, value, sizeof value, errmsg, errlen);
    if (err != 0) {
        return err;
    }
    if (!parse_u64(value, out)) {
        lc_snap_sanitize(shown, sizeof shown, value);
        lc_snap_set_err(errmsg, errlen,
                "snapshot meta '%s' is not a decimal number: '%s'", key, shown);
        return LC_ECORRUPT;
    }
    return 0;
}

/* Fill @meta from the meta table of @db. Return 0, LC_ECORRUPT, LC_EINVAL
 * (unsupported format) or LC_ENOMEM. */
static int read_meta_table(sqlite3 *db, struct lc_snapshot_meta *meta,
                           char *errmsg, size_t errlen)
{
    struct lc_snapshot_meta m;
    sqlite3_stmt *stmt;
    char value[32];
    char shown[40];
    uint64_t format;
    int rc;
    int err;

    memset(&m, 0, sizeof m);
    rc =
        sqlite3_prepare_v2(db,
                           "SELECT 1 FROM main.sqlite_schema WHERE type = "
                           "'table' AND name = '" META_TABLE "' COLLATE NOCASE",
                           -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(stmt);
        sqlite3_finalize(stmt);
    }
    if (rc == SQLITE_DONE) {
        lc_snap_set_err(errmsg, errlen,
                "snapshot has no meta table (not a locus snapshot?)");
        return LC_ECORRUPT;
    }
    if (rc != SQLITE_ROW) {
        goto err_sqlite;
    }
    rc = sqlite3_prepare_v2(db,
                            "SELECT value FROM main." META_TABLE " NOT INDEXED"
                            " WHERE key = ?1",
                            -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        goto err_sqlite;
    }

    /* The format first: another format may lay out its meta differently. */
    err = meta_get_u64(db, stmt, "format", &format, errmsg, errlen);
    if (err != 0) {
        goto err_after_prepare;
    }
    if (format != LC_SNAPSHOT_FORMAT) {
        lc_snap_set_err(errmsg, errlen,
                "snapshot format %" PRIu64
                " is not supported (this build reads format %d)",
                format, LC_SNAPSHOT_FORMAT);
        err = LC_EINVAL;
        goto err_after_prepare;
    }
    m.format = (int)format;

    err = meta_get(db, stmt, "group", m.group, sizeof m.group, errmsg, errlen);
    if (err != 0) {
        goto err_after_prepare;
    }
    if (m.group[0] == '\0') {
        lc_snap_set_err(errmsg, errlen, "snapshot meta 'group' is empty");
        err = LC_ECORRUPT;
        goto err_after_prepare;
    }
    err = meta_get_u64(db, stmt, "index", &m.index, errmsg, errlen);
    if (err == 0) {
        err = meta_get_u64(db, stmt, "term", &m.term, errmsg, errlen);
    }
    if (err == 0) {
        err =
            meta_get_u64(db, stmt, "created_ms", &m.created_ms, errmsg, errlen);
    }
    if (err == 0) {
        err =
            meta_get(db, stmt, "checksum", value, sizeof value, errmsg, errlen);
    }
    if (err != 0) {
        goto err_after_prepare;
    }
    if (!parse_hex64(value, &m.checksum)) {
        lc_snap_sanitize(shown, sizeof shown, value);
        lc_snap_set_err(errmsg, errlen,
                "snapshot meta 'checksum' is not 16 hex digits: '%s'", shown);
        err = LC_ECORRUPT;
        goto err_after_prepare;
    }
    sqlite3_finalize(stmt);
    *meta = m;
    return 0;

err_after_prepare:
    sqlite3_finalize(stmt);
    return err;

err_sqlite:
    return meta_sqlite_err(db, rc, errmsg, errlen);
}

/* PRAGMA quick_check: structure of every page, including those (indexes,
 * free pages) the checksum never reads. */
static int quick_check(sqlite3 *db, char *errmsg, size_t errlen)
{
    sqlite3_stmt *stmt;
    const char *text;
    char shown[160];
    int rc;
    int err;

    rc = sqlite3_prepare_v2(db, "PRAGMA main.quick_check(1)", -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        goto err_sqlite;
    }
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(stmt);
        goto err_sqlite;
    }
    text = (const char *)sqlite3_column_text(stmt, 0);
    if (text == NULL) {
        sqlite3_finalize(stmt);
        rc = SQLITE_NOMEM;
        goto err_sqlite;
    }
    if (strcmp(text, "ok") != 0) {
        lc_snap_sanitize(shown, sizeof shown, text);
        lc_snap_set_err(errmsg, errlen, "snapshot is corrupt: %s", shown);
        sqlite3_finalize(stmt);
        return LC_ECORRUPT;
    }
    sqlite3_finalize(stmt);
    return 0;

err_sqlite:
    err = lc_snap_image_err(db, rc);
    if (err == LC_ENOMEM) {
        lc_snap_set_err(errmsg, errlen, "checking snapshot: out of memory");
    } else {
        lc_snap_set_err(errmsg, errlen, "snapshot is corrupt: %s", sqlite3_errmsg(db));
    }
    return err;
}

int lc_snapshot_open(const void *buf, size_t len, const char *group,
                     sqlite3 **db, struct lc_snapshot_meta *meta, char *errmsg,
                     size_t errlen)
{
    struct lc_snapshot_meta m;
    char detail[256];
    char shown[160];
    uint64_t sum;
    sqlite3 *conn;
    int rc;
    int err;

    err = image_open(buf, len, &conn, errmsg, errlen);
    if (err != 0) {
        return err;
    }
    err = read_meta_table(conn, &m, errmsg, errlen);
    if (err != 0) {
        goto err_after_open;
    }
    if (strcmp(m.group, group) != 0) {
        lc_snap_sanitize(shown, sizeof shown, m.group);
        lc_snap_set_err(errmsg, errlen, "snapshot belongs to group '%s', not '%s'",
                shown, group);
        err = LC_EINVAL;
        goto err_after_open;
    }
    /* Before anything reads rows: nothing below may evaluate a schema
     * expression per row (see vet_table() and image_open()). */
    err = lc_snap_vet_tables(conn, detail, sizeof detail);
    if (err == 0) {
        err = quick_check(conn, errmsg, errlen);
        if (err != 0) {
            goto err_after_open;
        }
        err = lc_snap_checksum(conn, &sum, detail, sizeof detail);
    }
    if (err == LC_ENOMEM) {
        lc_snap_set_err(errmsg, errlen, "checking snapshot: %s", detail);
        goto err_after_open;
    }
    if (err != 0) {
        lc_snap_set_err(errmsg, errlen, "snapshot is corrupt: %s", detail);
        err = LC_ECORRUPT;
        goto err_after_open;
    }
    if (sum != m.checksum) {
        lc_snap_set_err(errmsg, errlen,
                "snapshot checksum mismatch: meta says %016" PRIx64
                ", content hashes to %016" PRIx64,
                m.checksum, sum);
        err = LC_ECORRUPT;
        goto err_after_open;
    }
    /* Back to the build's maximum (limits above it are clamped to it). */
    sqlite3_limit(conn, SQLITE_LIMIT_LENGTH, INT_MAX);
    rc = sqlite3_exec(conn, "PRAGMA ignore_check_constraints=OFF", NULL, NULL,
                      NULL);
    if (rc != SQLITE_OK) {
        err = lc_snap_is_nomem(conn, rc) ? LC_ENOMEM : LC_EIO;
        lc_snap_set_err(errmsg, errlen, "cannot open snapshot: %s",
                sqlite3_errmsg(conn));
        goto err_after_open;
    }
    *db = conn;
    *meta = m;
    return 0;

err_after_open:
    sqlite3_close(conn);
    return err;
}

int lc_snapshot_select(sqlite3 *db, const char *table, const char *columns,
                       sqlite3_stmt **st, char *errmsg, size_t errlen)
{
    char *sql = sqlite3_mprintf("SELECT %s FROM %s ORDER BY rowid", columns,
                                table);
    int rc;
    if (sql == NULL) {
        snprintf(errmsg, errlen, "out of memory");
        return LC_ENOMEM;
    }
    rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) {
        snprintf(errmsg, errlen, "snapshot has no %s table: %s", table,
                 sqlite3_errmsg(db));
        return LC_ECORRUPT;
    }
    return 0;
}

void lc_snapshot_close(sqlite3 *db)
{
    sqlite3_close_v2(db);
}

int lc_snapshot_read_meta(const void *buf, size_t len,
                          struct lc_snapshot_meta *meta, char *errmsg,
                          size_t errlen)
{
    sqlite3 *conn;
    int err;

    err = image_open(buf, len, &conn, errmsg, errlen);
    if (err != 0) {
        return err;
    }
    err = read_meta_table(conn, meta, errmsg, errlen);
    sqlite3_close(conn);
    return err;
}
