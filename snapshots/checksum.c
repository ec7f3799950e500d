/* Snapshot checksums, and the rules a processor table must follow to be
 * hashed (see snapshots.c for how images are written and read).
 *
 * XXH64 (seed 0) over a byte stream built from every table of the
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
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Header-only xxHash: the streaming state lives on the stack, so hashing
 * allocates nothing and does not depend on libxxhash's private state layout. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "common/err.h"
#include "common/util.h"
#include "snapshots/internal.h"

/* Copy @src (untrusted text from an image) into @dst for a log message:
 * control characters become '?', long text is cut and ends with "...". */
void lc_snap_sanitize(char *dst, size_t size, const char *src)
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
int lc_snap_err_from_sqlite(int rc)
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
bool lc_snap_is_nomem(sqlite3 *db, int rc)
{
    return (rc & 0xff) == SQLITE_NOMEM ||
           (db != NULL && sqlite3_errcode(db) == SQLITE_NOMEM);
}

/* Translate an SQLite result code while reading an untrusted image: anything
 * but running out of memory means the image is bad. */
int lc_snap_image_err(sqlite3 *db, int rc)
{
    return lc_snap_is_nomem(db, rc) ? LC_ENOMEM : LC_ECORRUPT;
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

    lc_snap_sanitize(shown, sizeof shown, name);
    sql = sqlite3_mprintf("SELECT _rowid_, * FROM main.\"%w\" ORDER BY _rowid_",
                          name);
    if (sql == NULL) {
        lc_snap_set_err(errmsg, errlen, "out of memory");
        return LC_ENOMEM;
    }
    rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) {
        lc_snap_set_err(errmsg, errlen, "reading table '%s': %s", shown,
                sqlite3_errmsg(db));
        return lc_snap_err_from_sqlite(rc);
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
                lc_snap_set_err(errmsg, errlen, "reading table '%s': out of memory",
                        shown);
                goto err_after_prepare;
            }
        }
    }
    if (rc != SQLITE_DONE) {
        lc_snap_set_err(errmsg, errlen, "reading table '%s': %s", shown,
                sqlite3_errmsg(db));
        err = lc_snap_err_from_sqlite(rc);
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
 * non-zero result of @cb, or a code from lc_snap_err_from_sqlite() with a detail
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
        lc_snap_set_err(errmsg, errlen, "listing tables: %s", sqlite3_errmsg(db));
        return lc_snap_err_from_sqlite(rc);
    }
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(stmt, 0);
        const char *type = (const char *)sqlite3_column_text(stmt, 1);
        if (name == NULL || type == NULL) {
            lc_snap_set_err(errmsg, errlen, "listing tables: out of memory");
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
        lc_snap_set_err(errmsg, errlen, "listing tables: %s", sqlite3_errmsg(db));
        err = lc_snap_err_from_sqlite(rc);
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

    lc_snap_sanitize(shown, sizeof shown, name);
    if (strcmp(type, "table") != 0) {
        lc_snap_set_err(errmsg, errlen,
                "table '%s' is of type '%s'; snapshot tables must be "
                "ordinary rowid tables",
                shown, type);
        return LC_EINVAL;
    }
    if (without_rowid) {
        lc_snap_set_err(errmsg, errlen,
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
        lc_snap_sanitize(column, sizeof column, text != NULL ? text : "?");
        lc_snap_set_err(errmsg, errlen,
                "table '%s' has a VIRTUAL generated column '%s'; snapshot "
                "tables may only have stored columns",
                shown, column);
        sqlite3_finalize(stmt);
        return LC_EINVAL;
    }
    if (rc != SQLITE_DONE) {
        lc_snap_set_err(errmsg, errlen, "reading the columns of '%s': %s", shown,
                sqlite3_errmsg(db));
        sqlite3_finalize(stmt);
        return lc_snap_err_from_sqlite(rc);
    }
    sqlite3_finalize(stmt);
    return 0;
}

/* Check every content table with vet_table(). */
int lc_snap_vet_tables(sqlite3 *db, char *errmsg, size_t errlen)
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

/* Compute the checksum of @db's content tables, vetted by lc_snap_vet_tables(), into
 * *@out. Return 0, LC_ENOMEM or another code from lc_snap_err_from_sqlite(), with a
 * detail message (no prefix). */
int lc_snap_checksum(sqlite3 *db, uint64_t *out, char *errmsg,
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

