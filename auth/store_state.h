/* The in-memory users, roles and permissions of auth/store.c, shared with
 * auth/snapshot.c, which writes them to and reads them from a snapshot.
 * Private to those two files; everything here runs on the loop. */
#ifndef LC_AUTH_STORE_STATE_H
#define LC_AUTH_STORE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uthash.h>

#include "auth/store.h"
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

/* The user named @name in @st, or NULL (borrowed: valid until it is
 * deleted). */
struct user *lc_auth_state_user(const struct state *st, const char *name);

/* The row of @table whose fields are the @n strings @f, or NULL. Never
 * allocates. */
struct row *lc_auth_state_row(struct row *table, const char *const *f,
                              size_t n);

/* Add user @username with BCrypt @hash, validated as an entry is (0, or an
 * LC_E* code with Nacos's message in @msg; *@changed whether it was
 * added). The strings are copied. */
int lc_auth_state_user_create(struct state *st, const char *username,
                              const char *hash, char *msg, size_t size,
                              bool *changed);

/* Give @u the role @role, which it does not hold yet (0 or LC_ENOMEM,
 * nothing changed then). @role is copied. */
int lc_auth_state_grant_add(struct state *st, struct user *u,
                            const char *role);

/* Add the permission row (@role, @resource, @action), not there yet (0 or
 * LC_ENOMEM, nothing changed then). The strings are copied. */
int lc_auth_state_perm_add(struct state *st, const char *role,
                           const char *resource, const char *action);

/* Free everything @st holds and leave it empty. */
void lc_auth_state_clear(struct state *st);

/* ----------------------------------------------------------- snapshot.c */

/* Set @p's snapshot callbacks (freeze, save, release, load) to the three
 * tables of auth/snapshot.c; @p->data is the struct lc_auth_store. */
void lc_auth_snapshot_hooks(struct lc_processor *p);

#endif
