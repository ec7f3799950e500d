/* The /nacos/v1/auth endpoints (auth/http.c): login, the admin init, and
 * the user, role and permission management of Nacos 2.4.3's
 * UserController, RoleController and PermissionController, with their
 * answers (docs/api.md, "Auth").
 *
 * Who may call which route is the gate's business (it runs before these
 * handlers); the handlers only identify the caller themselves for PUT
 * /v1/auth/users (admin or the same user). Changes go through the auth
 * raft group and are answered once applied on this member.
 */
#ifndef LC_AUTH_HTTP_H
#define LC_AUTH_HTTP_H

#include "auth/auth.h"
#include "rpc/http/http.h"

/* Route every /nacos/v1/auth path on @srv to @a (borrowed for the
 * server's lifetime):
 *   POST   /nacos/v1/auth/login, /nacos/v1/auth/users/login
 *   POST   /nacos/v1/auth/users/admin
 *   GET POST DELETE PUT  /nacos/v1/auth/users
 *   GET    /nacos/v1/auth/users/search
 *   GET POST DELETE      /nacos/v1/auth/roles
 *   GET    /nacos/v1/auth/roles/search
 *   GET POST DELETE      /nacos/v1/auth/permissions
 * and, as Nacos maps UserController at /v1/auth too, the aliases
 * /nacos/v1/auth (= /users), /nacos/v1/auth/admin (= /users/admin) and
 * /nacos/v1/auth/search (= /users/search). Return 0 or LC_ENOMEM /
 * LC_EEXIST. */
int lc_auth_http_routes(struct lc_auth *a, struct lc_http_server *srv);

#endif /* LC_AUTH_HTTP_H */
