/* The snapshot of LC_AUTH_GROUP (auth/store.c's processor): three tables,
 * users(username, password), roles(role, username), permissions(role,
 * resource, action), rows in the order they were added.
 *
 * Freeze copies every row's strings on the loop (small tables); save writes
 * them in one transaction on the snapshot thread. A member whose state
 * diverged (an entry it could not apply for want of memory) takes no
 * snapshot. A load builds a whole new state, validating every row as an
 * entry would be, and replaces the old one only when all of it is good.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/store_state.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "snapshots/snapshots.h"

/* Every row's strings, copied on the loop: small tables. */
struct frozen {
    char **users; /* username, hash, ... */
    size_t n_users;
    char **rows; /* role, username, ... */
    size_t n_rows;
    char **perms; /* role, resource, action, ... */
    size_t n_perms;
};

static void frozen_free(struct frozen *f)
{
    if (f == NULL) {
        return;
    }
    for (size_t i = 0; i < f->n_users * 2; i++) {
        free(f->users[i]);
    }
    for (size_t i = 0; i < f->n_rows * 2; i++) {
        free(f->rows[i]);
    }
    for (size_t i = 0; i < f->n_perms * 3; i++) {
        free(f->perms[i]);
    }
    free(f->users);
    free(f->rows);
    free(f->perms);
    free(f);
}

static bool copy_strs(char **dst, const char *const *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dst[i] = strdup(src[i]);
        if (dst[i] == NULL) {
            return false;
        }
    }
    return true;
}

static int snapshot_freeze(struct lc_processor *p, void **out)
{
    struct lc_auth_store *s = p->data;
    struct state *st = &s->st;
    if (s->diverged != 0) {
        /* Never persist a state the other members do not have. */
        lc_errorf("auth",
                  "group %s: no snapshot: this member diverged at entry "
                  "%llu (out of memory); restart it",
                  LC_AUTH_GROUP, (unsigned long long)s->diverged);
        return LC_ECORRUPT;
    }
    struct frozen *f = calloc(1, sizeof *f);
    size_t nu = HASH_COUNT(st->users);
    size_t nr = HASH_COUNT(st->rows);
    size_t np = HASH_COUNT(st->perms);
    struct user *u;
    struct row *r;
    size_t i;
    if (f == NULL) {
        return LC_ENOMEM;
    }
    f->users = calloc(nu * 2 + 1, sizeof *f->users);
    f->rows = calloc(nr * 2 + 1, sizeof *f->rows);
    f->perms = calloc(np * 3 + 1, sizeof *f->perms);
    if (f->users == NULL || f->rows == NULL || f->perms == NULL) {
        goto err;
    }
    /* Counts first so frozen_free frees what was copied (NULLs are fine). */
    f->n_users = nu;
    f->n_rows = nr;
    f->n_perms = np;
    i = 0;
    for (u = st->users; u != NULL; u = u->hh.next, i++) {
        const char *src[2] = {u->name, u->hash};
        if (!copy_strs(&f->users[i * 2], src, 2)) {
            goto err;
        }
    }
    i = 0;
    for (r = st->rows; r != NULL; r = r->hh.next, i++) {
        if (!copy_strs(&f->rows[i * 2], r->f, 2)) {
            goto err;
        }
    }
    i = 0;
    for (r = st->perms; r != NULL; r = r->hh.next, i++) {
        if (!copy_strs(&f->perms[i * 3], r->f, 3)) {
            goto err;
        }
    }
    *out = f;
    return 0;
err:
    frozen_free(f);
    return LC_ENOMEM;
}

static int save_table(sqlite3 *db, const char *create, const char *insert,
                      char **strs, size_t rows, int cols, const char *name,
                      char *errmsg, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_exec(db, create, NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_prepare_v2(db, insert, -1, &st, NULL);
    }
    for (size_t i = 0; rc == SQLITE_OK && i < rows; i++) {
        for (int c = 0; c < cols; c++) {
            sqlite3_bind_text(st, c + 1, strs[i * (size_t)cols + (size_t)c],
                              -1, SQLITE_STATIC);
        }
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_reset(st);
    }
    if (rc != SQLITE_OK) {
        snprintf(errmsg, errlen, "writing %s: %s", name, sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : LC_EIO;
}

static int snapshot_save(struct lc_processor *p, void *frozen, sqlite3 *db,
                         char *errmsg, size_t errlen)
{
    struct frozen *f = frozen;
    int rv;
    (void)p;
    rv = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0
                                                                   : LC_EIO;
    if (rv == 0) {
        rv = save_table(db,
                        "CREATE TABLE users (username TEXT NOT NULL,"
                        " password TEXT NOT NULL)",
                        "INSERT INTO users VALUES (?,?)", f->users,
                        f->n_users, 2, "users", errmsg, errlen);
    }
    if (rv == 0) {
        rv = save_table(db,
                        "CREATE TABLE roles (role TEXT NOT NULL,"
                        " username TEXT NOT NULL)",
                        "INSERT INTO roles VALUES (?,?)", f->rows, f->n_rows,
                        2, "roles", errmsg, errlen);
    }
    if (rv == 0) {
        rv = save_table(db,
                        "CREATE TABLE permissions (role TEXT NOT NULL,"
                        " resource TEXT NOT NULL, action TEXT NOT NULL)",
                        "INSERT INTO permissions VALUES (?,?,?)", f->perms,
                        f->n_perms, 3, "permissions", errmsg, errlen);
    }
    if (sqlite3_exec(db, rv == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL,
                     NULL) != SQLITE_OK &&
        rv == 0) {
        snprintf(errmsg, errlen, "committing auth tables: %s",
                 sqlite3_errmsg(db));
        rv = LC_EIO;
    }
    return rv;
}

static void snapshot_release(struct lc_processor *p, void *frozen)
{
    (void)p;
    frozen_free(frozen);
}

/* Read @table's rows (@cols of them: @columns) into @st; LC_ECORRUPT with
 * a message naming the row for anything an entry would be refused for. */
static int load_table(sqlite3 *db, struct state *st, const char *table,
                      const char *columns, int cols, char *errmsg,
                      size_t errlen)
{
    sqlite3_stmt *q = NULL;
    int rv = lc_snapshot_select(db, table, columns, &q, errmsg, errlen);
    int rc;
    long n = 0;
    if (rv != 0) {
        return rv;
    }
    while (rv == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *v[3] = {NULL, NULL, NULL};
        char why[256] = "";
        bool changed = false;
        n++;
        for (int c = 0; c < cols; c++) {
            v[c] = (const char *)sqlite3_column_text(q, c);
            if (v[c] == NULL) {
                rv = LC_ECORRUPT;
                lc_strlcpy(why, "a NULL column", sizeof why);
            }
        }
        if (rv != 0) {
            /* reported below */
        } else if (strcmp(table, "users") == 0) {
            rv = lc_auth_state_user_create(st, v[0], v[1], why, sizeof why,
                                           &changed);
        } else if (strcmp(table, "roles") == 0) {
            struct user *u = lc_auth_state_user(st, v[1]);
            const char *f[2] = {v[0], v[1]};
            const char *w;
            if (!lc_auth_name_valid(v[0], &w) || u == NULL) {
                rv = LC_ECORRUPT;
                lc_strlcpy(why, "bad role or unknown user", sizeof why);
            } else if (lc_auth_state_row(st->rows, f, 2) != NULL) {
                rv = LC_ECORRUPT;
                lc_strlcpy(why, "duplicate", sizeof why);
            } else {
                rv = lc_auth_state_grant_add(st, u, v[0]);
            }
        } else {
            const char *f[3] = {v[0], v[1], v[2]};
            const char *w;
            if (!lc_auth_name_valid(v[0], &w) ||
                !lc_auth_resource_valid(v[1], &w) ||
                !lc_auth_action_valid(v[2])) {
                rv = LC_ECORRUPT;
                lc_strlcpy(why, "bad role, resource or action", sizeof why);
            } else if (lc_auth_state_row(st->perms, f, 3) != NULL) {
                rv = LC_ECORRUPT;
                lc_strlcpy(why, "duplicate", sizeof why);
            } else {
                rv = lc_auth_state_perm_add(st, v[0], v[1], v[2]);
            }
        }
        if (rv != 0) {
            snprintf(errmsg, errlen, "snapshot %s row %ld refused: %s",
                     table, n, rv == LC_ENOMEM ? "out of memory" : why);
            if (rv != LC_ENOMEM) {
                rv = LC_ECORRUPT;
            }
        }
    }
    if (rv == 0 && rc != SQLITE_DONE) {
        snprintf(errmsg, errlen, "reading %s: %s", table, sqlite3_errmsg(db));
        rv = LC_ECORRUPT;
    }
    sqlite3_finalize(q);
    return rv;
}

static int snapshot_load(struct lc_processor *p, sqlite3 *db, char *errmsg,
                         size_t errlen)
{
    struct lc_auth_store *s = p->data;
    struct state fresh = {0};
    int rv = load_table(db, &fresh, "users", "username, password", 2, errmsg,
                        errlen);
    if (rv == 0) {
        rv = load_table(db, &fresh, "roles", "role, username", 2, errmsg,
                        errlen);
    }
    if (rv == 0) {
        rv = load_table(db, &fresh, "permissions", "role, resource, action",
                        3, errmsg, errlen);
    }
    if (rv != 0) {
        lc_auth_state_clear(&fresh);
        return rv;
    }
    lc_auth_state_clear(&s->st);
    s->st = fresh;
    s->epoch++;
    s->diverged = 0; /* the leader's state, whole */
    lc_infof("auth", "snapshot loaded: %u users, %u roles, %u permissions",
             HASH_COUNT(fresh.users), HASH_COUNT(fresh.rows),
             HASH_COUNT(fresh.perms));
    return 0;
}

void lc_auth_snapshot_hooks(struct lc_processor *p)
{
    p->snapshot_freeze = snapshot_freeze;
    p->snapshot_save = snapshot_save;
    p->snapshot_release = snapshot_release;
    p->snapshot_load = snapshot_load;
}
