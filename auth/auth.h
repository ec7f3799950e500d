/* Auth: Nacos's default auth plugin (type "nacos"), without its holes.
 *
 * Users, roles and permissions live in a raft group of their own
 * (LC_AUTH_GROUP), so every member applies the same changes and they
 * survive restarts and snapshots. Passwords are BCrypt ($2a$10$, as Nacos
 * stores them, through libxcrypt's crypt_r), hashed and checked on the
 * libuv thread pool, never on the loop. Tokens are Nacos's JWTs: a fixed
 * header chosen by the secret's length (HS256 below 48 bytes, HS384 below
 * 64, else HS512), {"sub":"<user>","exp":<s>}, HMAC over "H.P" with the
 * base64-decoded secret (OpenSSL), so a Nacos server with the same secret
 * accepts locus's tokens and the other way round.
 *
 * Every transport asks lc_auth_check() before a secured handler runs; the
 * check is synchronous for a token or a cached username+password, and goes
 * to the thread pool for a password not seen yet. Failed password checks
 * are counted per user and per source address (brute-force limits).
 *
 * Nothing here has a default secret, password or server identity:
 * lc_auth_config_validate() refuses to start with auth on and a missing,
 * short, non-base64 or published secret.
 */
#ifndef LC_AUTH_H
#define LC_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/err.h"
#include "raft/engine.h"

/* The raft group of users, roles and permissions. */
#define LC_AUTH_GROUP "auth_users_roles_permissions"

/* The role that passes every check (Nacos's global admin). */
#define LC_AUTH_ROLE_ADMIN "ROLE_ADMIN"

/* The user POST /v1/auth/users/admin creates (as Nacos 2.4). */
#define LC_AUTH_ADMIN_USER "nacos"

/* ---------------------------------------------------------------- config */

struct lc_auth_config {
    bool enabled; /* nacos.core.auth.enabled */
    /* nacos.core.auth.plugin.nacos.token.secret.key, as configured
     * (base64 text; "" when unset). */
    char secret_b64[1024];
    /* nacos.core.auth.plugin.nacos.token.expire.seconds (18000). */
    unsigned token_ttl_s;
    /* nacos.core.auth.server.identity.key / .value ("" when unset): the
     * header peers add to the HTTP requests they send each other. */
    char identity_key[256];
    char identity_value[1024];
    /* Brute-force limits (locus.auth.login.*): failed password checks per
     * user and per source address within window_s before further attempts
     * are refused until the window ends. */
    unsigned max_fails_per_user;  /* 10 */
    unsigned max_fails_per_ip;    /* 30 */
    unsigned fail_window_s;       /* 300 */
};

/* Fill @cfg with the defaults above (auth off, nothing secret set). */
void lc_auth_config_default(struct lc_auth_config *cfg);

/* With auth on: refuse (LC_ECONFIG, message naming the property in
 * @errmsg) a secret that is missing, not base64, shorter than 32 bytes
 * decoded, or one of the published defaults; in a cluster (@cluster) also
 * a missing identity key or value, or a published default identity. With
 * auth off: 0 (an invalid secret is only reported by login). */
int lc_auth_config_validate(const struct lc_auth_config *cfg, bool cluster,
                            char *errmsg, size_t errlen);

/* ----------------------------------------------------------------- module */

struct lc_auth;

/* Create the module on @loop and register its processor with @engine
 * (both borrowed; before lc_raft_engine_start). @cfg copied; it must have
 * passed lc_auth_config_validate. Return 0 or an LC_E* code. */
int lc_auth_new(uv_loop_t *loop, struct lc_raft_engine *engine,
                const struct lc_auth_config *cfg, struct lc_auth **out);

/* Before the engine closes: stop submitting to the group; checks waiting on
 * the thread pool still answer (LC_ESHUTDOWN). */
void lc_auth_detach(struct lc_auth *a);

/* After the engine closed and the loop ran the pool's callbacks. */
void lc_auth_free(struct lc_auth *a);

bool lc_auth_enabled(const struct lc_auth *a);

/* True when @value (a request's header named by the identity key, may be
 * NULL) is the configured server identity value (constant-time compare).
 * Always false when no identity is configured. */
bool lc_auth_peer_identity(const struct lc_auth *a, const char *value);
/* The identity header peers send ("" / "" when none is configured). */
const char *lc_auth_identity_key(const struct lc_auth *a);
const char *lc_auth_identity_value(const struct lc_auth *a);

/* ------------------------------------------------------------------ check */

/* What a request carries (any may be NULL): a token (the accessToken
 * parameter or header, or an Authorization header's value after "Bearer "),
 * or a username and password; and where it came from. */
struct lc_auth_ident {
    const char *token;
    const char *username;
    const char *password;
    const char *remote_ip;
};

/* The token a request carries, as Nacos resolves it (every transport):
 * the value of an Authorization header after "Bearer ", when not blank,
 * else @access_token when not blank, else NULL. */
const char *lc_auth_token_of(const char *authorization,
                             const char *access_token);

/* What it needs: an action ('r' or 'w') on a resource, either a naming
 * resource built with lc_auth_naming_resource() or a named one
 * ("console/users", "naming/switches"). @admin: only a global admin may
 * pass (the resource is then only for logs). */
struct lc_auth_need {
    char action;
    const char *resource;
    bool admin;
};

/* Nacos's naming resource "<ns>:<group>:naming/<service>": @ns "",
 * "public" or NULL give "" (the public namespace), a blank @group or
 * @service gives "*". Truncated to @size - 1 bytes. */
void lc_auth_naming_resource(const char *ns, const char *group,
                             const char *service, char *out, size_t size);

struct lc_auth_check;
/* @e NULL: granted (c->username says who). Otherwise the denial: code
 * LC_EDENIED with Nacos's message ("user not found!", "token invalid!",
 * "token expired!", "Invalid signature", "unsupported signature algorithm",
 * "authorization failed!") or, for example, LC_ESHUTDOWN / LC_EBUSY. */
typedef void (*lc_auth_check_cb)(struct lc_auth_check *c,
                                 const struct lc_err *e);

struct lc_auth_check {
    void *data;
    lc_auth_check_cb cb;
    char username[256]; /* who, once identified */
    bool admin;         /* the user holds ROLE_ADMIN */
    /* private */
    void *priv[16];
};

/* Decide whether @id may do @need. Return 0 when decided now: then @e's
 * code is 0 (granted; @c->username and @c->admin set) or the denial (as the
 * callback's). Return LC_EAGAIN when a password must be checked on the
 * thread pool: @c (borrowed until then; @id's and @need's strings are
 * copied) gets @cb once, from the loop, never from inside this call. With
 * auth off, everything is granted at once. */
int lc_auth_check(struct lc_auth *a, struct lc_auth_check *c,
                  const struct lc_auth_ident *id,
                  const struct lc_auth_need *need, lc_auth_check_cb cb,
                  struct lc_err *e);

/* ------------------------------------------------------------------ login */

struct lc_auth_login;
/* @e NULL: logged in, @l's token, ttl_s, admin and username are set. */
typedef void (*lc_auth_login_cb)(struct lc_auth_login *l,
                                 const struct lc_err *e);

struct lc_auth_login {
    void *data;
    lc_auth_login_cb cb;
    char token[1024];
    long ttl_s;        /* exp - now (Nacos's tokenTtl) */
    bool admin;        /* globalAdmin */
    char username[256];
    /* private */
    void *priv[16];
};

/* POST /v1/auth/login's resolution: a valid token in @id is returned as it
 * is; else @id's username and password are checked (thread pool, brute-force
 * limits) and a new token is signed. With auth off and no secret, the token
 * is "AUTH_DISABLED" (as Nacos). Return 0 (decided now, @e as for
 * lc_auth_check) or LC_EAGAIN (@cb later). */
int lc_auth_login(struct lc_auth *a, struct lc_auth_login *l,
                  const struct lc_auth_ident *id, lc_auth_login_cb cb,
                  struct lc_err *e);

/* --------------------------------------------------------- the store */

/* The users, roles and permissions this member has applied. */
struct lc_auth_store;
struct lc_auth_store *lc_auth_store(struct lc_auth *a);

/* A change to the store, through the raft group (forwarded to its leader).
 * @e NULL: applied on this member. Otherwise the failure: the store's
 * verdict (LC_EEXIST "user 'x' already exist!", LC_ENOTFOUND ...) or the
 * engine's. */
struct lc_auth_write;
typedef void (*lc_auth_write_cb)(struct lc_auth_write *w,
                                 const struct lc_err *e);

struct lc_auth_write {
    void *data;
    lc_auth_write_cb cb;
    /* private */
    void *priv[24];
};

/* Create user @username with @password (hashed here, on the thread pool;
 * @password is not kept). */
int lc_auth_user_create(struct lc_auth *a, struct lc_auth_write *w,
                        const char *username, const char *password,
                        lc_auth_write_cb cb);
/* Set @username's password to @password (hashed on the thread pool). */
int lc_auth_user_password(struct lc_auth *a, struct lc_auth_write *w,
                          const char *username, const char *password,
                          lc_auth_write_cb cb);
int lc_auth_user_delete(struct lc_auth *a, struct lc_auth_write *w,
                        const char *username, lc_auth_write_cb cb);
/* POST /v1/auth/users/admin: create user "nacos" with @password and role
 * ROLE_ADMIN in one entry, refused on apply (LC_EEXIST) when any user holds
 * ROLE_ADMIN, so two racing calls cannot both succeed. */
int lc_auth_admin_init(struct lc_auth *a, struct lc_auth_write *w,
                       const char *password, lc_auth_write_cb cb);
int lc_auth_role_add(struct lc_auth *a, struct lc_auth_write *w,
                     const char *role, const char *username,
                     lc_auth_write_cb cb);
/* @username NULL or "": the role is removed from every user. */
int lc_auth_role_delete(struct lc_auth *a, struct lc_auth_write *w,
                        const char *role, const char *username,
                        lc_auth_write_cb cb);
int lc_auth_permission_add(struct lc_auth *a, struct lc_auth_write *w,
                           const char *role, const char *resource,
                           const char *action, lc_auth_write_cb cb);
int lc_auth_permission_delete(struct lc_auth *a, struct lc_auth_write *w,
                              const char *role, const char *resource,
                              const char *action, lc_auth_write_cb cb);

#endif /* LC_AUTH_H */
