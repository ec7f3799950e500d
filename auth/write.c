/* The changes to the users, roles and permissions (auth/auth.h, "the
 * store"): each builds one LC_AUTH_GROUP entry (auth/store.h) and submits
 * it with lc_sm_write, which forwards it to the group's leader; a password
 * is hashed first on the thread pool (lc_auth_hash_async), so the entry,
 * the log and the snapshots only ever hold its BCrypt hash.
 *
 * The arguments are checked here as the processor will check them, so an
 * obviously bad request fails at once (LC_EINVAL, the callback never
 * fires); the processor's verdict on apply (the user exists already, ...)
 * comes back through the callback as an lc_err with the store's status and
 * Nacos's message, as do the engine's failures (no leader, timeout).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "auth/internal.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "statemachine/statemachine.h"

struct op {
    struct lc_auth *a;
    struct lc_auth_write *w;
    const char *name; /* LC_AUTH_OP_* */
    char key[LC_AUTH_NAME_MAX + 1];
    json_t *doc; /* the entry, without the hash until it is known */
    struct lc_sm_write sw;
    struct lc_auth_hash_job job;
};

static void op_free(struct op *op)
{
    json_decref(op->doc);
    memset(&op->job, 0, sizeof op->job); /* the password's copy */
    free(op);
}

/* Answer @op's caller and free it. @msg may point into @op (the entry's
 * result): it is copied first. */
static void finish(struct op *op, int status, const char *msg)
{
    struct lc_auth_write *w = op->w;
    struct lc_err e;
    if (status != 0) {
        lc_err_set(&e, status, "%s",
                   msg != NULL && msg[0] != '\0' ? msg
                                                  : lc_strerror(status));
    }
    op_free(op);
    w->priv[0] = NULL;
    w->cb(w, status == 0 ? NULL : &e);
}

static void on_written(struct lc_sm_write *sw, int status,
                       const struct lc_raft_result *result)
{
    struct op *op = sw->data;
    if (status != 0) {
        finish(op, status, NULL);
    } else if (result != NULL && result->status != 0) {
        finish(op, result->status, result->message);
    } else {
        finish(op, 0, NULL);
    }
}

static int submit(struct op *op)
{
    struct lc_auth_store *s = lc_auth_store(op->a);
    char *text;
    int rv;
    if (lc_auth_store_detached(s)) {
        return LC_ESHUTDOWN; /* the group is going away */
    }
    text = json_dumps(op->doc, JSON_COMPACT);
    if (text == NULL) {
        return LC_ENOMEM;
    }
    op->sw.data = op;
    rv = lc_sm_write(lc_auth_store_sm(s), &op->sw, op->key, op->name, text,
                     strlen(text), on_written);
    free(text);
    return rv;
}

static void on_hashed(struct lc_auth_hash_job *j, int status)
{
    struct op *op = j->data;
    int rv = status;
    if (rv == 0) {
        rv = json_object_set_new(op->doc, "password", json_string(j->hash)) ==
                     0
                 ? 0
                 : LC_ENOMEM;
    }
    memset(j->hash, 0, sizeof j->hash);
    if (rv == 0) {
        rv = submit(op);
    }
    if (rv != 0) {
        finish(op, rv, NULL);
    }
}

/* Start @name with the string fields of the NULL-terminated name, value
 * list (NULL values left out); @password, when not NULL, is hashed first
 * and goes in as "password". */
static int start(struct lc_auth *a, struct lc_auth_write *w,
                 const char *name, const char *key, const char *password,
                 lc_auth_write_cb cb, ...)
{
    struct op *op;
    va_list ap;
    const char *k;
    int rv = 0;
    if (lc_auth_store_detached(lc_auth_store(a))) {
        return LC_ESHUTDOWN;
    }
    op = calloc(1, sizeof *op);
    if (op == NULL) {
        return LC_ENOMEM;
    }
    op->a = a;
    op->w = w;
    op->name = name;
    lc_strlcpy(op->key, key != NULL ? key : "", sizeof op->key);
    op->doc = json_object();
    if (op->doc == NULL) {
        free(op);
        return LC_ENOMEM;
    }
    va_start(ap, cb);
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        if (v != NULL && json_object_set_new(op->doc, k, json_string(v)) != 0) {
            rv = LC_ENOMEM;
        }
    }
    va_end(ap);
    if (rv != 0) {
        op_free(op);
        return rv;
    }
    w->cb = cb;
    w->priv[0] = op;
    if (password != NULL) {
        op->job.data = op;
        rv = lc_auth_hash_async(a, &op->job, password, on_hashed);
    } else {
        rv = submit(op);
    }
    if (rv != 0) {
        w->priv[0] = NULL;
        op_free(op);
    }
    return rv;
}

int lc_auth_user_create(struct lc_auth *a, struct lc_auth_write *w,
                        const char *username, const char *password,
                        lc_auth_write_cb cb)
{
    if (!lc_auth_name_valid(username, NULL) ||
        !lc_auth_password_valid(password, NULL)) {
        return LC_EINVAL;
    }
    return start(a, w, LC_AUTH_OP_USER_CREATE, username, password, cb,
                 "username", username, NULL);
}

int lc_auth_user_password(struct lc_auth *a, struct lc_auth_write *w,
                          const char *username, const char *password,
                          lc_auth_write_cb cb)
{
    if (!lc_auth_name_valid(username, NULL) ||
        !lc_auth_password_valid(password, NULL)) {
        return LC_EINVAL;
    }
    return start(a, w, LC_AUTH_OP_USER_PASSWORD, username, password, cb,
                 "username", username, NULL);
}

int lc_auth_user_delete(struct lc_auth *a, struct lc_auth_write *w,
                        const char *username, lc_auth_write_cb cb)
{
    if (username == NULL || username[0] == '\0') {
        return LC_EINVAL;
    }
    return start(a, w, LC_AUTH_OP_USER_DELETE, username, NULL, cb,
                 "username", username, NULL);
}

int lc_auth_admin_init(struct lc_auth *a, struct lc_auth_write *w,
                       const char *password, lc_auth_write_cb cb)
{
    if (!lc_auth_password_valid(password, NULL)) {
        return LC_EINVAL;
    }
    return start(a, w, LC_AUTH_OP_ADMIN_INIT, LC_AUTH_ADMIN_USER, password,
                 cb, "username", LC_AUTH_ADMIN_USER, NULL);
}

int lc_auth_role_add(struct lc_auth *a, struct lc_auth_write *w,
                     const char *role, const char *username,
                     lc_auth_write_cb cb)
{
    if (!lc_auth_name_valid(role, NULL) ||
        !lc_auth_name_valid(username, NULL)) {
        return LC_EINVAL;
    }
    return start(a, w, LC_AUTH_OP_ROLE_ADD, role, NULL, cb, "role", role,
                 "username", username, NULL);
}

int lc_auth_role_delete(struct lc_auth *a, struct lc_auth_write *w,
                        const char *role, const char *username,
                        lc_auth_write_cb cb)
{
    if (!lc_auth_name_valid(role, NULL)) {
        return LC_EINVAL;
    }
    return start(a, w, LC_AUTH_OP_ROLE_DELETE, role, NULL, cb, "role", role,
                 "username", username != NULL ? username : "", NULL);
}

int lc_auth_permission_add(struct lc_auth *a, struct lc_auth_write *w,
                           const char *role, const char *resource,
                           const char *action, lc_auth_write_cb cb)
{
    if (!lc_auth_name_valid(role, NULL) ||
        !lc_auth_resource_valid(resource, NULL) ||
        !lc_auth_action_valid(action)) {
        return LC_EINVAL;
    }
    return start(a, w, LC_AUTH_OP_PERMISSION_ADD, role, NULL, cb, "role",
                 role, "resource", resource, "action", action, NULL);
}

int lc_auth_permission_delete(struct lc_auth *a, struct lc_auth_write *w,
                              const char *role, const char *resource,
                              const char *action, lc_auth_write_cb cb)
{
    if (role == NULL || resource == NULL || action == NULL) {
        return LC_EINVAL;
    }
    return start(a, w, LC_AUTH_OP_PERMISSION_DELETE, role, NULL, cb, "role",
                 role, "resource", resource, "action", action, NULL);
}
