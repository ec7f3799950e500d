/* The processor of LC_AUTH_GROUP (auth/store.h): users, roles and
 * permissions, applied in log order by every member, and the reads the
 * checks and the endpoints make of them.
 *
 * State: users by name (each with its BCrypt hash and the roles it holds),
 * role rows (role, username) and permission rows (role, resource, action),
 * each in a uthash table whose order is the order rows were added, and a
 * role index (holders and permissions of each role) so that a check walks
 * only the asking user's roles. A role "exists" (for adding permissions)
 * while some user holds it, as Nacos's roleSet; its permissions stay when
 * the last holder goes, as Nacos's table does.
 *
 * Every change is validated on apply, deterministically, and refused in the
 * entry's result with Nacos's message; nothing is half applied (memory is
 * taken before anything changes). The epoch moves on every change and on
 * every snapshot load.
 *
 * Snapshot: three tables, users(username, password), roles(role,
 * username), permissions(role, resource, action), rows in order. A load
 * builds a whole new state, validating every row as an entry would be, and
 * replaces the old one only when all of it is good.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* uthash answers a failed allocation by exiting unless told otherwise:
 * here an add that could not get memory is undone and flagged, and the
 * change is refused with LC_ENOMEM. */
static bool hash_oom;
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (hash_oom = true)
#include <uthash.h>

#include "auth/auth.h"
#include "auth/store.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "snapshots/snapshots.h"
#include "statemachine/statemachine.h"

struct role;

struct user {
    UT_hash_handle hh;
    char *name;
    char *hash;
    struct role **roles; /* the roles held, in the order added */
    size_t n_roles, cap_roles;
    bool admin; /* holds LC_AUTH_ROLE_ADMIN */
};

/* A row of roles or permissions: the strings live in @key, each
 * NUL-terminated, one after the other (the hash key is all of them). */
struct row {
    UT_hash_handle hh;
    char *key;
    size_t keylen;
    const char *f[3]; /* role, username | role, resource, action */
};

struct role {
    UT_hash_handle hh;
    char *name;
    size_t holders;
    struct row **perms; /* the role's permission rows */
    size_t n_perms, cap_perms;
};

struct state {
    struct user *users;
    struct row *rows;  /* roles */
    struct row *perms; /* permissions */
    struct role *roles;
};

struct lc_auth_store {
    struct lc_processor proc;
    struct lc_statemachine *sm;
    struct state st;
    uint64_t epoch;
    /* The first entry this member could not apply for want of memory, which
     * the others applied (0: none): its state differs from theirs. */
    uint64_t diverged;
    bool detached;
};

/* ------------------------------------------------------------ validation */

/* What a stored hash may look like: BCrypt "$2a$" / "$2b$" / "$2y$" (or
 * any other crypt "$id$" form), printable ASCII, bounded. */
static bool hash_valid(const char *h)
{
    size_t len;
    if (h == NULL || h[0] != '$') {
        return false;
    }
    len = strlen(h);
    if (len < 4 || len > LC_AUTH_HASH_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (h[i] <= ' ' || h[i] > '~') {
            return false;
        }
    }
    return true;
}

/* ----------------------------------------------------------------- state */

static struct user *user_find(const struct state *st, const char *name)
{
    struct user *u = NULL;
    HASH_FIND_STR(st->users, name, u);
    return u;
}

static struct role *role_find(const struct state *st, const char *name)
{
    struct role *r = NULL;
    HASH_FIND_STR(st->roles, name, r);
    return r;
}

/* Write a row's key from @n strings into @out (@size bytes); false when it
 * does not fit. *@len gets its length. */
static bool row_key_into(char *out, size_t size, const char *const *f,
                         size_t n, size_t *len)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(f[i]) + 1;
        if (l > size - total) {
            return false;
        }
        memcpy(out + total, f[i], l);
        total += l;
    }
    *len = total;
    return true;
}

/* The largest key a stored row can have: role, resource and action with
 * their NULs (a username is no longer than a role). */
#define ROW_KEY_MAX (LC_AUTH_NAME_MAX + LC_AUTH_RESOURCE_MAX + 3 + 3)

/* A row's key from @n strings (malloc'd; *@len its length). */
static char *row_key(const char *const *f, size_t n, size_t *len)
{
    char buf[ROW_KEY_MAX];
    char *key;
    if (!row_key_into(buf, sizeof buf, f, n, len)) {
        return NULL;
    }
    key = malloc(*len);
    if (key != NULL) {
        memcpy(key, buf, *len);
    }
    return key;
}

/* Without allocating (a lookup must not fail for want of memory): a key
 * too long for any stored row finds nothing. */
static struct row *row_find(struct row *table, const char *const *f, size_t n)
{
    char key[ROW_KEY_MAX];
    struct row *r = NULL;
    size_t len;
    if (!row_key_into(key, sizeof key, f, n, &len)) {
        return NULL;
    }
    HASH_FIND(hh, table, key, len, r);
    return r;
}

static struct row *row_new(const char *const *f, size_t n)
{
    struct row *r = calloc(1, sizeof *r);
    const char *o;
    if (r == NULL) {
        return NULL;
    }
    r->key = row_key(f, n, &r->keylen);
    if (r->key == NULL) {
        free(r);
        return NULL;
    }
    o = r->key;
    for (size_t i = 0; i < n; i++) {
        r->f[i] = o;
        o += strlen(o) + 1;
    }
    return r;
}

static void row_free(struct row *r)
{
    if (r != NULL) {
        free(r->key);
        free(r);
    }
}

/* Grow @arr (of pointers) to hold one more; false when out of memory. */
static bool reserve(void ***arr, size_t n, size_t *cap)
{
    void **p;
    size_t ncap;
    if (n < *cap) {
        return true;
    }
    ncap = *cap == 0 ? 4 : *cap * 2;
    p = realloc(*arr, ncap * sizeof *p);
    if (p == NULL) {
        return false;
    }
    *arr = p;
    *cap = ncap;
    return true;
}

/* Remove @item from @arr of @n pointers, keeping the order. */
static void remove_ptr(void **arr, size_t *n, const void *item)
{
    for (size_t i = 0; i < *n; i++) {
        if (arr[i] == item) {
            memmove(&arr[i], &arr[i + 1], (*n - i - 1) * sizeof *arr);
            (*n)--;
            return;
        }
    }
}

/* The role named @name, created when missing (NULL: out of memory). */
static struct role *role_get(struct state *st, const char *name)
{
    struct role *r = role_find(st, name);
    if (r != NULL) {
        return r;
    }
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        return NULL;
    }
    r->name = strdup(name);
    if (r->name == NULL) {
        free(r);
        return NULL;
    }
    hash_oom = false;
    HASH_ADD_KEYPTR(hh, st->roles, r->name, strlen(r->name), r);
    if (hash_oom) {
        free(r->name);
        free(r);
        return NULL;
    }
    return r;
}

static void role_maybe_free(struct state *st, struct role *r)
{
    if (r->holders == 0 && r->n_perms == 0) {
        HASH_DEL(st->roles, r);
        free(r->perms);
        free(r->name);
        free(r);
    }
}

static int user_add(struct state *st, const char *name, const char *hash)
{
    struct user *u = calloc(1, sizeof *u);
    if (u == NULL) {
        return LC_ENOMEM;
    }
    u->name = strdup(name);
    u->hash = strdup(hash);
    if (u->name == NULL || u->hash == NULL) {
        free(u->name);
        free(u->hash);
        free(u);
        return LC_ENOMEM;
    }
    hash_oom = false;
    HASH_ADD_KEYPTR(hh, st->users, u->name, strlen(u->name), u);
    if (hash_oom) {
        free(u->name);
        free(u->hash);
        free(u);
        return LC_ENOMEM;
    }
    return 0;
}

/* Give @u the role @role (not held yet). */
static int grant_add(struct state *st, struct user *u, const char *role)
{
    const char *f[2] = {role, u->name};
    struct row *row = row_new(f, 2);
    struct role *r;
    if (row == NULL) {
        return LC_ENOMEM;
    }
    r = role_get(st, role);
    if (r == NULL || !reserve((void ***)&u->roles, u->n_roles,
                              &u->cap_roles)) {
        if (r != NULL) {
            role_maybe_free(st, r);
        }
        row_free(row);
        return LC_ENOMEM;
    }
    hash_oom = false;
    HASH_ADD_KEYPTR(hh, st->rows, row->key, row->keylen, row);
    if (hash_oom) {
        role_maybe_free(st, r);
        row_free(row);
        return LC_ENOMEM;
    }
    /* Nothing below allocates. */
    u->roles[u->n_roles++] = r;
    r->holders++;
    if (strcmp(role, LC_AUTH_ROLE_ADMIN) == 0) {
        u->admin = true;
    }
    return 0;
}

static void grant_del(struct state *st, struct row *row)
{
    struct user *u = user_find(st, row->f[1]);
    struct role *r = role_find(st, row->f[0]);
    if (u != NULL && r != NULL) {
        remove_ptr((void **)u->roles, &u->n_roles, r);
        if (strcmp(r->name, LC_AUTH_ROLE_ADMIN) == 0) {
            u->admin = false;
        }
        r->holders--;
        role_maybe_free(st, r);
    }
    HASH_DEL(st->rows, row);
    row_free(row);
}

static int perm_add(struct state *st, const char *role, const char *resource,
                    const char *action)
{
    const char *f[3] = {role, resource, action};
    struct row *row = row_new(f, 3);
    struct role *r;
    if (row == NULL) {
        return LC_ENOMEM;
    }
    r = role_get(st, role);
    if (r == NULL ||
        !reserve((void ***)&r->perms, r->n_perms, &r->cap_perms)) {
        if (r != NULL) {
            role_maybe_free(st, r);
        }
        row_free(row);
        return LC_ENOMEM;
    }
    hash_oom = false;
    HASH_ADD_KEYPTR(hh, st->perms, row->key, row->keylen, row);
    if (hash_oom) {
        role_maybe_free(st, r);
        row_free(row);
        return LC_ENOMEM;
    }
    r->perms[r->n_perms++] = row;
    return 0;
}

static void perm_del(struct state *st, struct row *row)
{
    struct role *r = role_find(st, row->f[0]);
    if (r != NULL) {
        remove_ptr((void **)r->perms, &r->n_perms, row);
        role_maybe_free(st, r);
    }
    HASH_DEL(st->perms, row);
    row_free(row);
}

static void user_del(struct state *st, struct user *u)
{
    while (u->n_roles > 0) {
        const char *f[2] = {u->roles[0]->name, u->name};
        struct row *row = row_find(st->rows, f, 2);
        if (row == NULL) {
            /* A broken index (never expected): drop the role from the
             * user anyway so the loop ends. */
            struct role *r = u->roles[0];
            remove_ptr((void **)u->roles, &u->n_roles, r);
            r->holders--;
            role_maybe_free(st, r);
            continue;
        }
        grant_del(st, row);
    }
    HASH_DEL(st->users, u);
    free(u->roles);
    free(u->name);
    free(u->hash);
    free(u);
}

static void state_clear(struct state *st)
{
    struct user *u, *utmp;
    struct row *r, *rtmp;
    struct role *ro, *rotmp;
    HASH_ITER(hh, st->users, u, utmp) {
        HASH_DEL(st->users, u);
        free(u->roles);
        free(u->name);
        free(u->hash);
        free(u);
    }
    HASH_ITER(hh, st->rows, r, rtmp) {
        HASH_DEL(st->rows, r);
        row_free(r);
    }
    HASH_ITER(hh, st->perms, r, rtmp) {
        HASH_DEL(st->perms, r);
        row_free(r);
    }
    HASH_ITER(hh, st->roles, ro, rotmp) {
        HASH_DEL(st->roles, ro);
        free(ro->perms);
        free(ro->name);
        free(ro);
    }
}

/* -------------------------------------------------------------- changes */

/* Each returns 0 (changed; or nothing to do for a delete of what is not
 * there, which Nacos answers as a success) or an LC_E* code with the
 * message in @msg. *@changed says whether anything changed. */

static int refuse(char *msg, size_t size, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int refuse(char *msg, size_t size, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, size, fmt, ap);
    va_end(ap);
    return code;
}

static int bad_field(char *msg, size_t size, const char *field,
                     const char *why)
{
    return refuse(msg, size, LC_EINVAL, "%s %s", field, why);
}

static int do_user_create(struct state *st, const char *username,
                          const char *hash, char *msg, size_t size,
                          bool *changed)
{
    const char *why;
    if (!lc_auth_name_valid(username, &why)) {
        return bad_field(msg, size, "username", why);
    }
    if (!hash_valid(hash)) {
        return refuse(msg, size, LC_EINVAL, "password hash is malformed");
    }
    if (user_find(st, username) != NULL) {
        return refuse(msg, size, LC_EEXIST, "user '%s' already exist!",
                      username);
    }
    *changed = true;
    return user_add(st, username, hash);
}

static int do_user_password(struct state *st, const char *username,
                            const char *hash, char *msg, size_t size,
                            bool *changed)
{
    struct user *u = username != NULL ? user_find(st, username) : NULL;
    char *copy;
    if (!hash_valid(hash)) {
        return refuse(msg, size, LC_EINVAL, "password hash is malformed");
    }
    if (u == NULL) {
        return refuse(msg, size, LC_ENOTFOUND, "user %s not exist!",
                      username != NULL ? username : "null");
    }
    copy = strdup(hash);
    if (copy == NULL) {
        return LC_ENOMEM;
    }
    free(u->hash);
    u->hash = copy;
    *changed = true;
    return 0;
}

static int do_user_delete(struct state *st, const char *username, char *msg,
                          size_t size, bool *changed)
{
    struct user *u = username != NULL ? user_find(st, username) : NULL;
    if (u == NULL) {
        return 0; /* Nacos: silent when there is no such user */
    }
    if (u->admin) {
        return refuse(msg, size, LC_EINVAL, "cannot delete admin: %s",
                      username);
    }
    user_del(st, u);
    *changed = true;
    return 0;
}

static int do_admin_init(struct state *st, const char *hash, char *msg,
                         size_t size, bool *changed)
{
    struct role *admin = role_find(st, LC_AUTH_ROLE_ADMIN);
    struct user *u;
    int rv;
    if (admin != NULL && admin->holders > 0) {
        return refuse(msg, size, LC_EEXIST, "%s", LC_AUTH_HAVE_ADMIN);
    }
    if (!hash_valid(hash)) {
        return refuse(msg, size, LC_EINVAL, "password hash is malformed");
    }
    if (user_find(st, LC_AUTH_ADMIN_USER) != NULL) {
        return refuse(msg, size, LC_EEXIST, "user '%s' already exist!",
                      LC_AUTH_ADMIN_USER);
    }
    rv = user_add(st, LC_AUTH_ADMIN_USER, hash);
    if (rv != 0) {
        return rv;
    }
    u = user_find(st, LC_AUTH_ADMIN_USER);
    rv = grant_add(st, u, LC_AUTH_ROLE_ADMIN);
    if (rv != 0) {
        user_del(st, u); /* all or nothing */
        return rv;
    }
    *changed = true;
    return 0;
}

static int do_role_add(struct state *st, const char *role,
                       const char *username, char *msg, size_t size,
                       bool *changed)
{
    const char *why;
    struct user *u;
    const char *f[2] = {role, username};
    if (!lc_auth_name_valid(role, &why)) {
        return bad_field(msg, size, "role", why);
    }
    if (!lc_auth_name_valid(username, &why)) {
        return bad_field(msg, size, "username", why);
    }
    u = user_find(st, username);
    if (u == NULL) {
        return refuse(msg, size, LC_ENOTFOUND, "user '%s' not found!",
                      username);
    }
    if (strcmp(role, LC_AUTH_ROLE_ADMIN) == 0) {
        return refuse(msg, size, LC_EINVAL,
                      "role '%s' is not permitted to create!",
                      LC_AUTH_ROLE_ADMIN);
    }
    if (row_find(st->rows, f, 2) != NULL) {
        return refuse(msg, size, LC_EEXIST,
                      "role '%s' of user '%s' already exist!", role,
                      username);
    }
    *changed = true;
    return grant_add(st, u, role);
}

static int do_role_delete(struct state *st, const char *role,
                          const char *username, char *msg, size_t size,
                          bool *changed)
{
    const char *why;
    if (!lc_auth_name_valid(role, &why)) {
        return bad_field(msg, size, "role", why);
    }
    /* Refused as upstream Nacos does since #13761 (2.4.3 allowed it and
     * could leave a cluster without an admin). */
    if (strcmp(role, LC_AUTH_ROLE_ADMIN) == 0) {
        return refuse(msg, size, LC_EINVAL,
                      "role '%s' is not permitted to delete!",
                      LC_AUTH_ROLE_ADMIN);
    }
    if (username == NULL || username[0] == '\0') {
        struct row *row, *tmp;
        HASH_ITER(hh, st->rows, row, tmp) {
            if (strcmp(row->f[0], role) == 0) {
                grant_del(st, row);
                *changed = true;
            }
        }
        return 0;
    }
    {
        const char *f[2] = {role, username};
        struct row *row = row_find(st->rows, f, 2);
        if (row != NULL) {
            grant_del(st, row);
            *changed = true;
        }
    }
    return 0;
}

static int do_perm_add(struct state *st, const char *role,
                       const char *resource, const char *action, char *msg,
                       size_t size, bool *changed)
{
    const char *why;
    const char *f[3] = {role, resource, action};
    struct role *r;
    if (!lc_auth_name_valid(role, &why)) {
        return bad_field(msg, size, "role", why);
    }
    if (!lc_auth_resource_valid(resource, &why)) {
        return bad_field(msg, size, "resource", why);
    }
    if (!lc_auth_action_valid(action)) {
        return refuse(msg, size, LC_EINVAL,
                      "action must be one of r, w, rw");
    }
    r = role_find(st, role);
    if (r == NULL || r->holders == 0) {
        return refuse(msg, size, LC_ENOTFOUND, "role %s not found!", role);
    }
    if (row_find(st->perms, f, 3) != NULL) {
        return refuse(msg, size, LC_EEXIST,
                      "permission '%s' '%s' '%s' already exist!", role,
                      resource, action);
    }
    *changed = true;
    return perm_add(st, role, resource, action);
}

static int do_perm_delete(struct state *st, const char *role,
                          const char *resource, const char *action,
                          bool *changed)
{
    const char *f[3] = {role, resource, action};
    struct row *row;
    if (role == NULL || resource == NULL || action == NULL) {
        return 0;
    }
    row = row_find(st->perms, f, 3);
    if (row != NULL) {
        perm_del(st, row);
        *changed = true;
    }
    return 0;
}

/* ---------------------------------------------------------------- apply */

/* Entry @index was refused here for want of memory; the other members
 * applied it (their refusals are deterministic, this one is not), so from
 * now on this member's users, roles and permissions differ from theirs.
 * Said loudly every time; the state is not snapshotted from then on
 * (snapshot_freeze), so a restart replays the entry from the last good
 * snapshot, and a snapshot sent by the leader replaces it. */
static void diverge(struct lc_auth_store *s, uint64_t index, const char *op)
{
    if (s->diverged == 0) {
        s->diverged = index > 0 ? index : 1;
    }
    lc_errorf("auth",
              "group %s: entry %llu (%s) NOT applied on this member: out of "
              "memory. The other members applied it: this member's users, "
              "roles and permissions now DIFFER from theirs (first diverged "
              "entry %llu). It takes no snapshot from now on; restart it to "
              "apply the entry again",
              LC_AUTH_GROUP, (unsigned long long)index, op,
              (unsigned long long)s->diverged);
}

uint64_t lc_auth_store_diverged(const struct lc_auth_store *s)
{
    return s->diverged;
}

static const char *field(json_t *doc, const char *name)
{
    return json_string_value(json_object_get(doc, name));
}

static void on_apply(struct lc_processor *p, uint64_t index,
                     const Locus__Consistency__WriteRequest *req,
                     struct lc_raft_result *result)
{
    struct lc_auth_store *s = p->data;
    struct state *st = &s->st;
    char *msg = result->message;
    size_t size = sizeof result->message;
    const char *op = req->operation != NULL ? req->operation : "";
    json_t *doc = NULL;
    json_error_t jerr;
    bool changed = false;
    int rv;

    memset(&jerr, 0, sizeof jerr);
    if (req->data.len > 0) {
        doc = json_loadb((const char *)req->data.data, req->data.len, 0,
                         &jerr);
    }
    /* Entries are compact JSON (auth/write.c); re-encoding must give as
     * many bytes back. jansson's lexer can drop a character when an
     * allocation fails and still return a document: such an entry would
     * store another hash or name than the other members do. */
    if (doc != NULL &&
        json_dumpb(doc, NULL, 0, JSON_COMPACT) != req->data.len) {
        json_decref(doc);
        result->status = LC_ENOMEM;
        lc_strlcpy(msg, "auth entry decoded wrong (out of memory?)", size);
        diverge(s, index, op);
        return;
    }
    if (doc == NULL && req->data.len > 0 &&
        json_error_code(&jerr) == json_error_out_of_memory) {
        result->status = LC_ENOMEM;
        lc_strlcpy(msg, "out of memory", size);
        diverge(s, index, op);
        return;
    }
    if (!json_is_object(doc)) {
        result->status = LC_ECORRUPT;
        lc_strlcpy(msg, "undecodable auth entry", size);
        json_decref(doc);
        return;
    }
    if (strcmp(op, LC_AUTH_OP_USER_CREATE) == 0) {
        rv = do_user_create(st, field(doc, "username"),
                            field(doc, "password"), msg, size, &changed);
    } else if (strcmp(op, LC_AUTH_OP_USER_PASSWORD) == 0) {
        rv = do_user_password(st, field(doc, "username"),
                              field(doc, "password"), msg, size, &changed);
    } else if (strcmp(op, LC_AUTH_OP_USER_DELETE) == 0) {
        rv = do_user_delete(st, field(doc, "username"), msg, size, &changed);
    } else if (strcmp(op, LC_AUTH_OP_ADMIN_INIT) == 0) {
        rv = do_admin_init(st, field(doc, "password"), msg, size, &changed);
    } else if (strcmp(op, LC_AUTH_OP_ROLE_ADD) == 0) {
        rv = do_role_add(st, field(doc, "role"), field(doc, "username"), msg,
                         size, &changed);
    } else if (strcmp(op, LC_AUTH_OP_ROLE_DELETE) == 0) {
        rv = do_role_delete(st, field(doc, "role"), field(doc, "username"),
                            msg, size, &changed);
    } else if (strcmp(op, LC_AUTH_OP_PERMISSION_ADD) == 0) {
        rv = do_perm_add(st, field(doc, "role"), field(doc, "resource"),
                         field(doc, "action"), msg, size, &changed);
    } else if (strcmp(op, LC_AUTH_OP_PERMISSION_DELETE) == 0) {
        rv = do_perm_delete(st, field(doc, "role"), field(doc, "resource"),
                            field(doc, "action"), &changed);
    } else {
        rv = refuse(msg, size, LC_EINVAL, "unknown operation '%.64s'", op);
    }
    if (rv == LC_ENOMEM && msg[0] == '\0') {
        lc_strlcpy(msg, "out of memory", size);
    }
    if (rv == LC_ENOMEM) {
        diverge(s, index, op);
    }
    result->status = rv;
    if (rv == 0 && changed) {
        s->epoch++;
        const char *u = field(doc, "username");
        const char *r = field(doc, "role");
        const char *res = field(doc, "resource");
        const char *act = field(doc, "action");
        lc_infof("auth", "applied %s%s%s%s%s%s%s%s%s", op,
                 u != NULL ? " username=" : "", u != NULL ? u : "",
                 r != NULL ? " role=" : "", r != NULL ? r : "",
                 res != NULL ? " resource=" : "", res != NULL ? res : "",
                 act != NULL ? " action=" : "", act != NULL ? act : "");
    }
    json_decref(doc);
}

/* -------------------------------------------------------------- snapshot */

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

/* Read @table's rows into @st, each through @add; LC_ECORRUPT with a
 * message naming the row for anything an entry would be refused for. */
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
            rv = do_user_create(st, v[0], v[1], why, sizeof why, &changed);
        } else if (strcmp(table, "roles") == 0) {
            struct user *u = user_find(st, v[1]);
            const char *f[2] = {v[0], v[1]};
            const char *w;
            if (!lc_auth_name_valid(v[0], &w) || u == NULL) {
                rv = LC_ECORRUPT;
                lc_strlcpy(why, "bad role or unknown user", sizeof why);
            } else if (row_find(st->rows, f, 2) != NULL) {
                rv = LC_ECORRUPT;
                lc_strlcpy(why, "duplicate", sizeof why);
            } else {
                rv = grant_add(st, u, v[0]);
            }
        } else {
            const char *f[3] = {v[0], v[1], v[2]};
            const char *w;
            if (!lc_auth_name_valid(v[0], &w) ||
                !lc_auth_resource_valid(v[1], &w) ||
                !lc_auth_action_valid(v[2])) {
                rv = LC_ECORRUPT;
                lc_strlcpy(why, "bad role, resource or action", sizeof why);
            } else if (row_find(st->perms, f, 3) != NULL) {
                rv = LC_ECORRUPT;
                lc_strlcpy(why, "duplicate", sizeof why);
            } else {
                rv = perm_add(st, v[0], v[1], v[2]);
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
        state_clear(&fresh);
        return rv;
    }
    state_clear(&s->st);
    s->st = fresh;
    s->epoch++;
    s->diverged = 0; /* the leader's state, whole */
    lc_infof("auth", "snapshot loaded: %u users, %u roles, %u permissions",
             HASH_COUNT(fresh.users), HASH_COUNT(fresh.rows),
             HASH_COUNT(fresh.perms));
    return 0;
}

/* ----------------------------------------------------------------- store */

static struct lc_auth_store *store_alloc(void)
{
    struct lc_auth_store *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return NULL;
    }
    s->proc.group = LC_AUTH_GROUP;
    s->proc.data = s;
    s->proc.on_apply = on_apply;
    s->proc.snapshot_freeze = snapshot_freeze;
    s->proc.snapshot_save = snapshot_save;
    s->proc.snapshot_release = snapshot_release;
    s->proc.snapshot_load = snapshot_load;
    s->epoch = 1;
    return s;
}

int lc_auth_store_new(struct lc_raft_engine *engine,
                      struct lc_auth_store **out)
{
    struct lc_auth_store *s = store_alloc();
    int rv;
    if (s == NULL) {
        return LC_ENOMEM;
    }
    rv = lc_statemachine_register(engine, &s->proc, &s->sm);
    if (rv != 0) {
        free(s);
        return rv;
    }
    *out = s;
    return 0;
}

int lc_auth_store_new_detached(struct lc_auth_store **out)
{
    struct lc_auth_store *s = store_alloc();
    int rv;
    if (s == NULL) {
        return LC_ENOMEM;
    }
    rv = lc_statemachine_new_detached(&s->proc, &s->sm);
    if (rv != 0) {
        free(s);
        return rv;
    }
    *out = s;
    return 0;
}

void lc_auth_store_detach(struct lc_auth_store *s)
{
    if (s == NULL || s->detached) {
        return;
    }
    s->detached = true;
    if (s->sm != NULL) {
        lc_statemachine_detach(s->sm);
    }
}

bool lc_auth_store_detached(const struct lc_auth_store *s)
{
    return s == NULL || s->detached;
}

void lc_auth_store_free(struct lc_auth_store *s)
{
    if (s == NULL) {
        return;
    }
    if (s->sm != NULL) {
        lc_statemachine_free(s->sm);
    }
    state_clear(&s->st);
    free(s);
}

struct lc_statemachine *lc_auth_store_sm(struct lc_auth_store *s)
{
    return s->sm;
}

uint64_t lc_auth_store_epoch(const struct lc_auth_store *s)
{
    return s->epoch;
}

/* ----------------------------------------------------------------- reads */

const char *lc_auth_store_password(const struct lc_auth_store *s,
                                   const char *username)
{
    struct user *u = username != NULL ? user_find(&s->st, username) : NULL;
    return u != NULL ? u->hash : NULL;
}

bool lc_auth_store_is_admin(const struct lc_auth_store *s,
                            const char *username)
{
    struct user *u = username != NULL ? user_find(&s->st, username) : NULL;
    return u != NULL && u->admin;
}

bool lc_auth_store_has_admin(const struct lc_auth_store *s)
{
    struct role *r = role_find(&s->st, LC_AUTH_ROLE_ADMIN);
    return r != NULL && r->holders > 0;
}

bool lc_auth_store_granted(const struct lc_auth_store *s,
                           const char *username, const char *resource,
                           char action)
{
    struct user *u = username != NULL ? user_find(&s->st, username) : NULL;
    const char act[2] = {action, '\0'};
    if (u == NULL || resource == NULL || (action != 'r' && action != 'w')) {
        return false;
    }
    if (strcmp(resource, "console/user/password") == 0 || u->admin) {
        return true;
    }
    if (strncmp(resource, "console/", 8) == 0) {
        return false;
    }
    for (size_t i = 0; i < u->n_roles; i++) {
        struct role *r = u->roles[i];
        for (size_t j = 0; j < r->n_perms; j++) {
            const struct row *perm = r->perms[j];
            if (strstr(perm->f[2], act) != NULL &&
                lc_auth_resource_match(perm->f[1], resource)) {
                return true;
            }
        }
    }
    return false;
}

void lc_auth_store_users(const struct lc_auth_store *s, lc_auth_user_fn fn,
                         void *data)
{
    for (struct user *u = s->st.users; u != NULL; u = u->hh.next) {
        if (!fn(data, u->name, u->hash)) {
            return;
        }
    }
}

void lc_auth_store_roles(const struct lc_auth_store *s, lc_auth_role_fn fn,
                         void *data)
{
    for (struct row *r = s->st.rows; r != NULL; r = r->hh.next) {
        if (!fn(data, r->f[0], r->f[1])) {
            return;
        }
    }
}

void lc_auth_store_permissions(const struct lc_auth_store *s,
                               lc_auth_perm_fn fn, void *data)
{
    for (struct row *r = s->st.perms; r != NULL; r = r->hh.next) {
        if (!fn(data, r->f[0], r->f[1], r->f[2])) {
            return;
        }
    }
}
