/* The users, roles and permissions of LC_AUTH_GROUP (auth/store.c; its
 * snapshot: auth/snapshot.c): the processor every member applies, and what
 * the checks and the endpoints read. Private to auth/.
 *
 * Model (Nacos's tables): users(username, password BCrypt), roles(role,
 * username), permissions(role, resource, action "r" | "w" | "rw"). A user
 * holding LC_AUTH_ROLE_ADMIN passes every check. A permission grants
 * @action when its action contains it and its resource, with '*' matching
 * any run of characters, matches the whole resource asked for.
 *
 * LC_AUTH_ROLE_ADMIN is given only by the admin-init entry (to user
 * "nacos"), and is never taken away: deleting the role is refused (as
 * upstream Nacos since #13761; 2.4.3 allowed it) and so is deleting a user
 * who holds it. Once a cluster has an admin it keeps one, and the
 * admin-init endpoint stays closed. Deleting a user deletes its roles.
 */
#ifndef LC_AUTH_STORE_H
#define LC_AUTH_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "raft/engine.h"

struct lc_auth_store;
struct lc_statemachine;

/* Create the store and register its processor with @engine (before
 * lc_raft_engine_start). Return 0 or an LC_E* code. */
int lc_auth_store_new(struct lc_raft_engine *engine,
                      struct lc_auth_store **out);
/* Before the engine closes (lc_statemachine_detach). Writes started
 * afterwards (auth/write.c, a hash finishing late included) fail with
 * LC_ESHUTDOWN instead of reaching a group that is going away. */
void lc_auth_store_detach(struct lc_auth_store *s);
bool lc_auth_store_detached(const struct lc_auth_store *s);
void lc_auth_store_free(struct lc_auth_store *s);
struct lc_statemachine *lc_auth_store_sm(struct lc_auth_store *s);

/* Changes whenever anything in the store changes (an entry applied, a
 * snapshot loaded): caches of checks made against it compare it. */
uint64_t lc_auth_store_epoch(const struct lc_auth_store *s);

/* The first log index this member refused for want of memory although
 * the other members applied it (0: none). While set, the member's state
 * differs from theirs and it takes no snapshots; loading one clears it
 * (docs/raft.md). */
uint64_t lc_auth_store_diverged(const struct lc_auth_store *s);

/* The BCrypt hash of @username, or NULL when there is no such user. */
const char *lc_auth_store_password(const struct lc_auth_store *s,
                                   const char *username);
bool lc_auth_store_is_admin(const struct lc_auth_store *s,
                            const char *username);
/* Whether any user holds LC_AUTH_ROLE_ADMIN. */
bool lc_auth_store_has_admin(const struct lc_auth_store *s);
/* Whether @username's roles grant @action ('r' or 'w') on @resource, as
 * Nacos's NacosRoleServiceImpl.hasPermission: an unknown user never; then
 * "console/user/password" always; a ROLE_ADMIN holder always; other
 * "console/" resources never; else any permission of any of the user's
 * roles whose action contains @action and whose resource pattern matches
 * @resource (lc_auth_resource_match). */
bool lc_auth_store_granted(const struct lc_auth_store *s,
                           const char *username, const char *resource,
                           char action);

/* Nacos's match: @pattern's '*' matches any run of characters, the rest
 * literally, over the whole of @resource (no regex; iterative, so a pattern
 * of many stars costs at most |pattern| x |resource| steps). */
bool lc_auth_resource_match(const char *pattern, const char *resource);

/* ------------------------------------------------------------ listings */

/* Call @fn for every row of a table, in the order the rows were added
 * (the same on every member); stop early when @fn returns false. The
 * strings are borrowed for the call only. Users: the BCrypt hash is given
 * for checks, never for answers. */
typedef bool (*lc_auth_user_fn)(void *data, const char *username,
                                const char *hash);
typedef bool (*lc_auth_role_fn)(void *data, const char *role,
                                const char *username);
typedef bool (*lc_auth_perm_fn)(void *data, const char *role,
                                const char *resource, const char *action);
void lc_auth_store_users(const struct lc_auth_store *s, lc_auth_user_fn fn,
                         void *data);
void lc_auth_store_roles(const struct lc_auth_store *s, lc_auth_role_fn fn,
                         void *data);
void lc_auth_store_permissions(const struct lc_auth_store *s,
                               lc_auth_perm_fn fn, void *data);

/* ---------------------------------------------------------- validation */

/* Bounds of what the store holds, in bytes. Passwords: BCrypt reads at
 * most 72 bytes, so a longer one is refused rather than cut silently. */
#define LC_AUTH_NAME_MAX 128     /* a username or a role */
#define LC_AUTH_RESOURCE_MAX 512 /* a permission's resource pattern */
#define LC_AUTH_PASSWORD_MAX 72
#define LC_AUTH_HASH_MAX 127     /* a stored password hash */

/* A username or role: 1..LC_AUTH_NAME_MAX bytes of valid UTF-8 without
 * control characters (C0, DEL, C1) or whitespace. On false, @why (may be
 * NULL) says what is wrong ("is blank", "is too long", ...). */
bool lc_auth_name_valid(const char *name, const char **why);
/* A resource pattern: 1..LC_AUTH_RESOURCE_MAX bytes of valid UTF-8
 * without control characters or whitespace. */
bool lc_auth_resource_valid(const char *resource, const char **why);
/* A permission's action: "r", "w" or "rw". */
bool lc_auth_action_valid(const char *action);
/* A password to hash: 1..LC_AUTH_PASSWORD_MAX bytes of valid UTF-8
 * without control characters. */
bool lc_auth_password_valid(const char *password, const char **why);

/* ------------------------------------------------------------- entries */

/* The store's log entries: WriteRequest operation one of these, key the
 * username or role it is about, data a JSON object with the fields
 * "username", "password" (the BCrypt hash, never the password), "role",
 * "resource", "action" the operation needs. Every entry is validated again
 * when applied; a refusal is the entry's result (status LC_EEXIST,
 * LC_ENOTFOUND or LC_EINVAL and Nacos's message), so every member refuses
 * the same entries. The data must be compact JSON (json_dumps with
 * JSON_COMPACT, as auth/write.c writes it): an entry that does not encode
 * back to as many bytes is refused (LC_ENOMEM), because jansson's lexer can
 * drop a character when an allocation fails and still return a document. */
#define LC_AUTH_OP_USER_CREATE "UserCreate"
#define LC_AUTH_OP_USER_PASSWORD "UserPassword"
#define LC_AUTH_OP_USER_DELETE "UserDelete"
#define LC_AUTH_OP_ADMIN_INIT "AdminInit"
#define LC_AUTH_OP_ROLE_ADD "RoleAdd"
#define LC_AUTH_OP_ROLE_DELETE "RoleDelete"
#define LC_AUTH_OP_PERMISSION_ADD "PermissionAdd"
#define LC_AUTH_OP_PERMISSION_DELETE "PermissionDelete"

/* The admin-init refusal's message (Nacos's 409 text). */
#define LC_AUTH_HAVE_ADMIN "have admin user cannot use it"

/* For tests and tools: a store with no raft group, driven through
 * lc_statemachine_sm(lc_auth_store_sm(s)). Free with lc_auth_store_free. */
int lc_auth_store_new_detached(struct lc_auth_store **out);

#endif /* LC_AUTH_STORE_H */
