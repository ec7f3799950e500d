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
 * The state's structs are in auth/store_state.h; its snapshot is
 * auth/snapshot.c.
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
#include "auth/store_state.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "statemachine/statemachine.h"

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

struct user *lc_auth_state_user(const struct state *st, const char *name)
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
struct row *lc_auth_state_row(struct row *table, const char *const *f, size_t n)
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
int lc_auth_state_grant_add(struct state *st, struct user *u, const char *role)
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
    struct user *u = lc_auth_state_user(st, row->f[1]);
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

int lc_auth_state_perm_add(struct state *st, const char *role,
                           const char *resource, const char *action)
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
        struct row *row = lc_auth_state_row(st->rows, f, 2);
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

void lc_auth_state_clear(struct state *st)
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

int lc_auth_state_user_create(struct state *st, const char *username,
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
    if (lc_auth_state_user(st, username) != NULL) {
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
    struct user *u = username != NULL ? lc_auth_state_user(st, username) : NULL;
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
    struct user *u = username != NULL ? lc_auth_state_user(st, username) : NULL;
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
    if (lc_auth_state_user(st, LC_AUTH_ADMIN_USER) != NULL) {
        return refuse(msg, size, LC_EEXIST, "user '%s' already exist!",
                      LC_AUTH_ADMIN_USER);
    }
    rv = user_add(st, LC_AUTH_ADMIN_USER, hash);
    if (rv != 0) {
        return rv;
    }
    u = lc_auth_state_user(st, LC_AUTH_ADMIN_USER);
    rv = lc_auth_state_grant_add(st, u, LC_AUTH_ROLE_ADMIN);
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
    u = lc_auth_state_user(st, username);
    if (u == NULL) {
        return refuse(msg, size, LC_ENOTFOUND, "user '%s' not found!",
                      username);
    }
    if (strcmp(role, LC_AUTH_ROLE_ADMIN) == 0) {
        return refuse(msg, size, LC_EINVAL,
                      "role '%s' is not permitted to create!",
                      LC_AUTH_ROLE_ADMIN);
    }
    if (lc_auth_state_row(st->rows, f, 2) != NULL) {
        return refuse(msg, size, LC_EEXIST,
                      "role '%s' of user '%s' already exist!", role,
                      username);
    }
    *changed = true;
    return lc_auth_state_grant_add(st, u, role);
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
        struct row *row = lc_auth_state_row(st->rows, f, 2);
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
    if (lc_auth_state_row(st->perms, f, 3) != NULL) {
        return refuse(msg, size, LC_EEXIST,
                      "permission '%s' '%s' '%s' already exist!", role,
                      resource, action);
    }
    *changed = true;
    return lc_auth_state_perm_add(st, role, resource, action);
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
    row = lc_auth_state_row(st->perms, f, 3);
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
        rv = lc_auth_state_user_create(st, field(doc, "username"),
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
    lc_auth_snapshot_hooks(&s->proc);
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
    lc_auth_state_clear(&s->st);
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
    struct user *u =
        username != NULL ? lc_auth_state_user(&s->st, username) : NULL;
    return u != NULL ? u->hash : NULL;
}

bool lc_auth_store_is_admin(const struct lc_auth_store *s,
                            const char *username)
{
    struct user *u =
        username != NULL ? lc_auth_state_user(&s->st, username) : NULL;
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
    struct user *u =
        username != NULL ? lc_auth_state_user(&s->st, username) : NULL;
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
