/* The users, roles and permissions of LC_AUTH_GROUP (auth/store.c): the
 * processor every member applies, and what the checks and the endpoints
 * read. Private to auth/.
 *
 * Model (Nacos's tables): users(username, password BCrypt), roles(role,
 * username), permissions(role, resource, action "r" | "w" | "rw"). A user
 * holding LC_AUTH_ROLE_ADMIN passes every check. A permission grants
 * @action when its action contains it and its resource, with '*' matching
 * any run of characters, matches the whole resource asked for.
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
/* Before the engine closes (lc_statemachine_detach). */
void lc_auth_store_detach(struct lc_auth_store *s);
void lc_auth_store_free(struct lc_auth_store *s);
struct lc_statemachine *lc_auth_store_sm(struct lc_auth_store *s);

/* Changes whenever anything in the store changes (an entry applied, a
 * snapshot loaded): caches of checks made against it compare it. */
uint64_t lc_auth_store_epoch(const struct lc_auth_store *s);

/* The BCrypt hash of @username, or NULL when there is no such user. */
const char *lc_auth_store_password(const struct lc_auth_store *s,
                                   const char *username);
bool lc_auth_store_is_admin(const struct lc_auth_store *s,
                            const char *username);
/* Whether any user holds LC_AUTH_ROLE_ADMIN. */
bool lc_auth_store_has_admin(const struct lc_auth_store *s);
/* Whether @username's roles grant @action ('r' or 'w') on @resource
 * (admins: always). */
bool lc_auth_store_granted(const struct lc_auth_store *s,
                           const char *username, const char *resource,
                           char action);

/* Nacos's match: @pattern's '*' matches any run of characters, the rest
 * literally, over the whole of @resource. */
bool lc_auth_resource_match(const char *pattern, const char *resource);

#endif /* LC_AUTH_STORE_H */
