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

/* Header-only xxHash: the streaming state lives on the stack, so hashing
 * allocates nothing and does not depend on libxxhash's private state layout. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "common/err.h"
#include "common/util.h"

/* How the pieces fit.
 *
 * Writing. lc_snapshot_begin() opens ":memory:" and turns its main database
 * into a resizeable memdb image (sqlite3_deserialize of an empty buffer), so
 * the processor's tables are written straight into one contiguous buffer that
 * is exactly the database file (memdb runs with journal_mode=MEMORY and never
 * touches the file system). lc_snapshot_finish() reads that buffer without a
 * copy (SQLITE_SERIALIZE_NOCOPY), copies it once into raft_malloc() memory and
 * closes the connection, which frees the memdb buffer. Peak memory is about
 * twice the image. memdb caps an image at SQLITE_MEMDB_DEFAULT_MAXSIZE (1 GiB
 * in stock builds); beyond that writes fail with SQLITE_FULL.
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
 * Checksum. XXH64 (seed 0) over a byte stream built from every table of the
 * main schema except `meta` (matched case-insensitively, as SQLite resolves
 * names) and sqlite_schema itself; internal tables such as sqlite_sequence are
 * included. Tables are taken in name order (byte-wise) and contribute:
 *     'T' u64(name length) name u64(column count)
 *     then per row, in rowid order: 'R' i64(rowid) value...
 * each value being
 *     'N'                         NULL
 *     'I' i64                     integer
 *     'F' u64(IEEE-754 bits)      real
 *     'S' u64(length) bytes       text, as UTF-8
 *     'B' u64(length) bytes       blob
 * with every integer 8 bytes little-endian. The column count excludes the
 * rowid and covers what `SELECT *` returns. So the checksum depends only on
 * logical content (names, rowids, typed values), not on page layout or
 * insertion order, and moving rows between tables changes it.
 *
 * Processor tables must therefore be ordinary rowid tables: no WITHOUT ROWID
 * tables, no virtual tables, no VIRTUAL generated columns (STORED ones are
 * fine) and no column named `_rowid_`; lc_snapshot_finish() refuses all but
 * the last with LC_EINVAL. Views are allowed and not hashed. The meta rows
 * themselves are not covered: index and term are also in raft's own snapshot
 * metadata.
 */

#define META_TABLE "meta"

/* A formatted message into @errmsg, if the caller gave one. */
__attribute__((format(printf, 3, 4))) static void
set_err(char *errmsg, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (errmsg == NULL || errlen == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(errmsg, errlen, fmt, ap);
    va_end(ap);
}

/* Copy @src (untrusted text from an image) into @dst for a log message:
 * control characters become '?', long text is cut and ends with "...". */
static void sanitize(char *dst, size_t size, const char *src)
{
    size_t i;

    for (i = 0; src[i] != '\0' && i + 1 < size; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    dst[i] = '\0';
    if (src[i] != '\0' && size >= 4) {
        memcpy(dst + size - 4, "...", 4);
    }
}

/* Translate an SQLite result code while writing a snapshot. */
static int err_from_sqlite(int rc)
{
    switch (rc & 0xff) {
        case SQLITE_OK:
            return 0;
        case SQLITE_NOMEM:
            return LC_ENOMEM;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
            return LC_ECORRUPT;
        case SQLITE_FULL:
        case SQLITE_TOOBIG:
            return LC_ETOOBIG;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return LC_EBUSY;
        case SQLITE_CONSTRAINT:
        case SQLITE_MISMATCH:
        case SQLITE_RANGE:
        case SQLITE_ERROR:
        case SQLITE_MISUSE:
            return LC_EINVAL;
        default:
            return LC_EIO;
    }
}

/* Did @rc, or the last error on @db, come from running out of memory? Some
 * calls (sqlite3_deserialize) report an allocation failure as SQLITE_ERROR. */
static bool is_nomem(sqlite3 *db, int rc)
{
    return (rc & 0xff) == SQLITE_NOMEM ||
           (db != NULL && sqlite3_errcode(db) == SQLITE_NOMEM);
}

/* Translate an SQLite result code while reading an untrusted image: anything
 * but running out of memory means the image is bad. */
static int image_err(sqlite3 *db, int rc)
{
    return is_nomem(db, rc) ? LC_ENOMEM : LC_ECORRUPT;
}

/* ------------------------------------------------------------ checksum */

static void hash_u64(XXH64_state_t *st, uint64_t v)
{
    unsigned char b[8];

    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(v >> (8 * i));
    }
    (void)XXH64_update(st, b, sizeof b);
}

static void hash_tag(XXH64_state_t *st, char tag)
{
    (void)XXH64_update(st, &tag, 1);
}

static void hash_bytes(XXH64_state_t *st, const void *p, size_t n)
{
    hash_u64(st, (uint64_t)n);
    if (n > 0) {
        (void)XXH64_update(st, p, n);
    }
}

/* Hash column @col of the current row of @stmt. Return 0 or LC_ENOMEM. */
static int hash_value(XXH64_state_t *st, sqlite3_stmt *stmt, int col)
{
    const void *p;
    double d;
    uint64_t bits;
    int n;

    switch (sqlite3_column_type(stmt, col)) {
        case SQLITE_INTEGER:
            hash_tag(st, 'I');
            hash_u64(st, (uint64_t)sqlite3_column_int64(stmt, col));
            return 0;
        case SQLITE_FLOAT:
            d = sqlite3_column_double(stmt, col);
            memcpy(&bits, &d, sizeof bits);
            hash_tag(st, 'F');
            hash_u64(st, bits);
            return 0;
        case SQLITE_TEXT:
            p = sqlite3_column_text(stmt, col);
            if (p == NULL) {
                return LC_ENOMEM; /* NULL for TEXT only when out of memory */
            }
            n = sqlite3_column_bytes(stmt, col);
            hash_tag(st, 'S');
            hash_bytes(st, p, (size_t)n);
            return 0;
        case SQLITE_BLOB:
            p = sqlite3_column_blob(stmt, col);
            n = sqlite3_column_bytes(stmt, col);
            if (p == NULL && n > 0) {
                return LC_ENOMEM;
            }
            hash_tag(st, 'B');
            hash_bytes(st, p, (size_t)n);
            return 0;
        default:
            hash_tag(st, 'N');
            return 0;
    }
}

/* Hash table @name of @db. On error write a detail message (no prefix). */
static int hash_table(sqlite3 *db, const char *name, XXH64_state_t *st,
                      char *errmsg, size_t errlen)
{
    char shown[80];
    sqlite3_stmt *stmt;
    char *sql;
    int ncol;
    int rc;
    int err;

    sanitize(shown, sizeof shown, name);
    sql = sqlite3_mprintf("SELECT _rowid_, * FROM main.\"%w\" ORDER BY _rowid_",
                          name);
    if (sql == NULL) {
        set_err(errmsg, errlen, "out of memory");
        return LC_ENOMEM;
    }
    rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) {
        set_err(errmsg, errlen, "reading table '%s': %s", shown,
                sqlite3_errmsg(db));
        return err_from_sqlite(rc);
    }
    ncol = sqlite3_column_count(stmt) - 1;
    hash_tag(st, 'T');
    hash_bytes(st, name, strlen(name));
    hash_u64(st, (uint64_t)ncol);

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        hash_tag(st, 'R');
        hash_u64(st, (uint64_t)sqlite3_column_int64(stmt, 0));
        for (int i = 1; i <= ncol; i++) {
            err = hash_value(st, stmt, i);
            if (err != 0) {
                set_err(errmsg, errlen, "reading table '%s': out of memory",
                        shown);
                goto err_after_prepare;
            }
        }
    }
    if (rc != SQLITE_DONE) {
        set_err(errmsg, errlen, "reading table '%s': %s", shown,
                sqlite3_errmsg(db));
        err = err_from_sqlite(rc);
        goto err_after_prepare;
    }
    sqlite3_finalize(stmt);
    return 0;

err_after_prepare:
    sqlite3_finalize(stmt);
    return err;
}

/* Called for each content table of the main schema, in name order, with the
 * row of pragma_table_list (type and the WITHOUT ROWID flag). */
typedef int (*table_cb)(sqlite3 *db, const char *name, const char *type,
                        int without_rowid, void *arg, char *errmsg,
                        size_t errlen);

/* Run @cb on every table except sqlite_schema and meta. Return 0, the first
 * non-zero result of @cb, or a code from err_from_sqlite() with a detail
 * message (no prefix). */
static int for_each_table(sqlite3 *db, table_cb cb, void *arg, char *errmsg,
                          size_t errlen)
{
    static const char sql[] =
        "SELECT name, type, wr FROM pragma_table_list"
        " WHERE schema = 'main' AND type <> 'view' ORDER BY name";
    sqlite3_stmt *stmt;
    int rc;
    int err;

    rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        set_err(errmsg, errlen, "listing tables: %s", sqlite3_errmsg(db));
        return err_from_sqlite(rc);
    }
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(stmt, 0);
        const char *type = (const char *)sqlite3_column_text(stmt, 1);
        if (name == NULL || type == NULL) {
            set_err(errmsg, errlen, "listing tables: out of memory");
            err = LC_ENOMEM;
            goto err_after_prepare;
        }
        if (strcmp(name, "sqlite_schema") == 0 ||
            sqlite3_stricmp(name, META_TABLE) == 0) {
            continue;
        }
        err = cb(db, name, type, sqlite3_column_int(stmt, 2), arg, errmsg,
                 errlen);
        if (err != 0) {
            goto err_after_prepare;
        }
    }
    if (rc != SQLITE_DONE) {
        set_err(errmsg, errlen, "listing tables: %s", sqlite3_errmsg(db));
        err = err_from_sqlite(rc);
        goto err_after_prepare;
    }
    sqlite3_finalize(stmt);
    return 0;

err_after_prepare:
    sqlite3_finalize(stmt);
    return err;
}

/* table_cb: refuse a table the checksum cannot cover or that would compute
 * values on every read: LC_EINVAL with a detail message. */
static int vet_table(sqlite3 *db, const char *name, const char *type,
                     int without_rowid, void *arg, char *errmsg, size_t errlen)
{
    static const char sql[] =
        "SELECT name FROM pragma_table_xinfo(?1, 'main') WHERE hidden = 2";
    char shown[80];
    char column[80];
    sqlite3_stmt *stmt;
    const char *text;
    int rc;
    (void)arg;

    sanitize(shown, sizeof shown, name);
    if (strcmp(type, "table") != 0) {
        set_err(errmsg, errlen,
                "table '%s' is of type '%s'; snapshot tables must be "
                "ordinary rowid tables",
                shown, type);
        return LC_EINVAL;
    }
    if (without_rowid) {
        set_err(errmsg, errlen,
                "table '%s' is WITHOUT ROWID; snapshot tables must be "
                "ordinary rowid tables",
                shown);
        return LC_EINVAL;
    }
    rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(stmt);
    }
    if (rc == SQLITE_ROW) {
        text = (const char *)sqlite3_column_text(stmt, 0);
        sanitize(column, sizeof column, text != NULL ? text : "?");
        set_err(errmsg, errlen,
                "table '%s' has a VIRTUAL generated column '%s'; snapshot "
                "tables may only have stored columns",
                shown, column);
        sqlite3_finalize(stmt);
        return LC_EINVAL;
    }
    if (rc != SQLITE_DONE) {
        set_err(errmsg, errlen, "reading the columns of '%s': %s", shown,
                sqlite3_errmsg(db));
        sqlite3_finalize(stmt);
        return err_from_sqlite(rc);
    }
    sqlite3_finalize(stmt);
    return 0;
}

/* Check every content table with vet_table(). */
static int vet_tables(sqlite3 *db, char *errmsg, size_t errlen)
{
    return for_each_table(db, vet_table, NULL, errmsg, errlen);
}

/* table_cb: feed a table into the XXH64 state @arg. */
static int hash_table_cb(sqlite3 *db, const char *name, const char *type,
                         int without_rowid, void *arg, char *errmsg,
                         size_t errlen)
{
    (void)type;
    (void)without_rowid;
    return hash_table(db, name, arg, errmsg, errlen);
}

/* Compute the checksum of @db's content tables, vetted by vet_tables(), into
 * *@out. Return 0, LC_ENOMEM or another code from err_from_sqlite(), with a
 * detail message (no prefix). */
static int compute_checksum(sqlite3 *db, uint64_t *out, char *errmsg,
                            size_t errlen)
{
    XXH64_state_t st;
    int err;

    (void)XXH64_reset(&st, 0);
    err = for_each_table(db, hash_table_cb, &st, errmsg, errlen);
    if (err != 0) {
        return err;
    }
    *out = XXH64_digest(&st);
    return 0;
}

/* ------------------------------------------------------------ writing */

int lc_snapshot_begin(sqlite3 **db)
{
    sqlite3 *conn = NULL;
    int rc;
    int err;

    rc = sqlite3_open_v2(
        ":memory:", &conn,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        goto err_after_open;
    }
    /* An empty, growable memdb image owned (and freed) by the connection. */
    rc = sqlite3_deserialize(conn, "main", NULL, 0, 0,
                             SQLITE_DESERIALIZE_RESIZEABLE |
                                 SQLITE_DESERIALIZE_FREEONCLOSE);
    if (rc != SQLITE_OK) {
        goto err_after_open;
    }
    /* memdb's default already; stated so no journal file can appear. */
    rc =
        sqlite3_exec(conn, "PRAGMA main.journal_mode=MEMORY", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        goto err_after_open;
    }
    *db = conn;
    return 0;

err_after_open:
    err = is_nomem(conn, rc) ? LC_ENOMEM : LC_EIO;
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
        set_err(errmsg, errlen, "cannot write snapshot: reading schema: %s",
                sqlite3_errmsg(db));
        return err_from_sqlite(rc);
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
    set_err(errmsg, errlen, "cannot write snapshot: writing meta table: %s",
            sqlite3_errmsg(db));
    return err_from_sqlite(rc);
}

int lc_snapshot_finish(sqlite3 *db, const struct lc_snapshot_meta *meta,
                       void **buf, size_t *len, char *errmsg, size_t errlen)
{
    char detail[256];
    sqlite3_int64 size;
    unsigned char *image;
    uint64_t checksum;
    size_t glen;
    bool exists = false;
    void *out;
    int err;

    glen = strnlen(meta->group, sizeof meta->group);
    if (glen == 0 || glen == sizeof meta->group) {
        set_err(errmsg, errlen,
                "cannot write snapshot: group name is empty or longer than "
                "%zu bytes",
                sizeof meta->group - 1);
        err = LC_EINVAL;
        goto err_after_begin;
    }
    if (!sqlite3_get_autocommit(db)) {
        set_err(errmsg, errlen,
                "cannot write snapshot: a transaction is still open");
        err = LC_EINVAL;
        goto err_after_begin;
    }
    err = meta_exists(db, &exists, errmsg, errlen);
    if (err != 0) {
        goto err_after_begin;
    }
    if (exists) {
        set_err(errmsg, errlen,
                "cannot write snapshot: the table name '" META_TABLE
                "' is reserved for snapshot metadata");
        err = LC_EINVAL;
        goto err_after_begin;
    }
    err = vet_tables(db, detail, sizeof detail);
    if (err == 0) {
        err = compute_checksum(db, &checksum, detail, sizeof detail);
    }
    if (err != 0) {
        set_err(errmsg, errlen, "cannot write snapshot: %s", detail);
        goto err_after_begin;
    }
    err = write_meta(db, meta, checksum, errmsg, errlen);
    if (err != 0) {
        goto err_after_begin;
    }

    /* The memdb buffer itself: no allocation, valid until the close. */
    image = sqlite3_serialize(db, "main", &size, SQLITE_SERIALIZE_NOCOPY);
    if (image == NULL || size <= 0) {
        set_err(errmsg, errlen,
                "cannot write snapshot: serialising the database failed");
        err = LC_EIO;
        goto err_after_begin;
    }
    out = raft_malloc((size_t)size);
    if (out == NULL) {
        set_err(errmsg, errlen,
                "cannot write snapshot: out of memory for a %lld-byte image",
                (long long)size);
        err = LC_ENOMEM;
        goto err_after_begin;
    }
    memcpy(out, image, (size_t)size);
    sqlite3_close_v2(db);
    *buf = out;
    *len = (size_t)size;
    return 0;

err_after_begin:
    sqlite3_close_v2(db);
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
        set_err(errmsg, errlen, NOT_SQLITE "the image is empty");
        return LC_ECORRUPT;
    }
    if (len < 100) {
        set_err(errmsg, errlen,
                NOT_SQLITE "the image is %zu bytes, shorter than the 100-byte "
                           "header",
                len);
        return LC_ECORRUPT;
    }
    if (memcmp(p, magic, sizeof magic) != 0) {
        set_err(errmsg, errlen, NOT_SQLITE "no \"SQLite format 3\" header");
        return LC_ECORRUPT;
    }
    page_size = (uint32_t)p[16] << 8 | p[17];
    if (page_size == 1) {
        page_size = 65536;
    }
    if (page_size < 512 || (page_size & (page_size - 1)) != 0) {
        set_err(errmsg, errlen, NOT_SQLITE "invalid page size %" PRIu32,
                page_size);
        return LC_ECORRUPT;
    }
    if (len % page_size != 0 || len / page_size > UINT32_MAX ||
        len > (size_t)INT64_MAX) {
        set_err(errmsg, errlen,
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
        set_err(errmsg, errlen,
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
        set_err(errmsg, errlen, "cannot open snapshot: %s",
                conn != NULL ? sqlite3_errmsg(conn) : "out of memory");
        err = is_nomem(conn, rc) ? LC_ENOMEM : LC_EIO;
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
        set_err(errmsg, errlen, "cannot open snapshot: %s",
                sqlite3_errmsg(conn));
        err = is_nomem(conn, rc) ? LC_ENOMEM : LC_EIO;
        goto err_after_open;
    }
    /* READONLY and no FREEONCLOSE: SQLite reads @buf in place and never
     * writes or frees it, hence the cast. */
    rc = sqlite3_deserialize(conn, "main", (unsigned char *)buf,
                             (sqlite3_int64)len, (sqlite3_int64)len,
                             SQLITE_DESERIALIZE_READONLY);
    if (rc != SQLITE_OK) {
        set_err(errmsg, errlen, "cannot open snapshot: %s",
                sqlite3_errmsg(conn));
        err = is_nomem(conn, rc) ? LC_ENOMEM : LC_EIO;
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
        err = image_err(conn, rc);
        if (err == LC_ENOMEM) {
            set_err(errmsg, errlen, "cannot open snapshot: out of memory");
        } else {
            set_err(errmsg, errlen, NOT_SQLITE "%s", sqlite3_errmsg(conn));
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

/* Look up meta row @key with the prepared @stmt (SELECT value ... key = ?1)
 * into @value (@size bytes). Return 0, LC_ECORRUPT or LC_ENOMEM. */
static int meta_get(sqlite3 *db, sqlite3_stmt *stmt, const char *key,
                    char *value, size_t size, char *errmsg, size_t errlen)
{
    const char *text;
    int n;
    int rc;
    int err = 0;

    sqlite3_reset(stmt);
    rc = sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(stmt);
    }
    if (rc == SQLITE_DONE) {
        set_err(errmsg, errlen, "snapshot meta table has no '%s' row", key);
        return LC_ECORRUPT;
    }
    if (rc != SQLITE_ROW) {
        goto err_sqlite;
    }
    if (sqlite3_column_type(stmt, 0) == SQLITE_NULL) {
        set_err(errmsg, errlen, "snapshot meta '%s' is NULL", key);
        return LC_ECORRUPT;
    }
    text = (const char *)sqlite3_column_text(stmt, 0);
    if (text == NULL) {
        rc = SQLITE_NOMEM;
        goto err_sqlite;
    }
    n = sqlite3_column_bytes(stmt, 0);
    if ((size_t)n >= size || strlen(text) != (size_t)n) {
        set_err(errmsg, errlen,
                "snapshot meta '%s' is longer than %zu bytes or holds a NUL",
                key, size - 1);
        return LC_ECORRUPT;
    }
    memcpy(value, text, (size_t)n + 1);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        set_err(errmsg, errlen,
                "snapshot meta table has more than one '%s' row", key);
        return LC_ECORRUPT;
    }
    if (rc != SQLITE_DONE) {
        goto err_sqlite;
    }
    return 0;

err_sqlite:
    err = image_err(db, rc);
    if (err == LC_ENOMEM) {
        set_err(errmsg, errlen, "reading snapshot meta: out of memory");
    } else {
        set_err(errmsg, errlen, "snapshot meta table is unreadable: %s",
                sqlite3_errmsg(db));
    }
    return err;
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
        sanitize(shown, sizeof shown, value);
        set_err(errmsg, errlen,
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
        set_err(errmsg, errlen,
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
        set_err(errmsg, errlen,
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
        set_err(errmsg, errlen, "snapshot meta 'group' is empty");
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
        sanitize(shown, sizeof shown, value);
        set_err(errmsg, errlen,
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
    err = image_err(db, rc);
    if (err == LC_ENOMEM) {
        set_err(errmsg, errlen, "reading snapshot meta: out of memory");
    } else {
        set_err(errmsg, errlen, "snapshot meta table is unreadable: %s",
                sqlite3_errmsg(db));
    }
    return err;
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
        sanitize(shown, sizeof shown, text);
        set_err(errmsg, errlen, "snapshot is corrupt: %s", shown);
        sqlite3_finalize(stmt);
        return LC_ECORRUPT;
    }
    sqlite3_finalize(stmt);
    return 0;

err_sqlite:
    err = image_err(db, rc);
    if (err == LC_ENOMEM) {
        set_err(errmsg, errlen, "checking snapshot: out of memory");
    } else {
        set_err(errmsg, errlen, "snapshot is corrupt: %s", sqlite3_errmsg(db));
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
        sanitize(shown, sizeof shown, m.group);
        set_err(errmsg, errlen, "snapshot belongs to group '%s', not '%s'",
                shown, group);
        err = LC_EINVAL;
        goto err_after_open;
    }
    /* Before anything reads rows: nothing below may evaluate a schema
     * expression per row (see vet_table() and image_open()). */
    err = vet_tables(conn, detail, sizeof detail);
    if (err == 0) {
        err = quick_check(conn, errmsg, errlen);
        if (err != 0) {
            goto err_after_open;
        }
        err = compute_checksum(conn, &sum, detail, sizeof detail);
    }
    if (err == LC_ENOMEM) {
        set_err(errmsg, errlen, "checking snapshot: %s", detail);
        goto err_after_open;
    }
    if (err != 0) {
        set_err(errmsg, errlen, "snapshot is corrupt: %s", detail);
        err = LC_ECORRUPT;
        goto err_after_open;
    }
    if (sum != m.checksum) {
        set_err(errmsg, errlen,
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
        err = is_nomem(conn, rc) ? LC_ENOMEM : LC_EIO;
        set_err(errmsg, errlen, "cannot open snapshot: %s",
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
