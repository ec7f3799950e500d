/* The auth gate of the main HTTP port: what every route needs, checked
 * before its handler (rpc/http/http.h's gate hook), as Nacos's AuthFilter
 * with the @Secured annotations of its 2.4.3 controllers.
 *
 * With auth off the gate lets everything through untouched. With auth on
 * a request that carries the peer identity header with the configured
 * value (nacos.core.auth.server.identity.key/.value, compared in constant
 * time) passes as Nacos's peers do; nothing else skips a check (not the
 * User-Agent). Otherwise the request's identity (Authorization: Bearer,
 * accessToken, or username and password, from headers or parameters,
 * names in any case, parameters over headers) must hold what its route
 * needs; a route the table does not list needs a global admin, and is
 * warned about at start. Refusals are Spring's 403 JSON on v1 and v2
 * paths alike, and the handler never runs.
 */
#ifndef LC_SERVER_GATE_H
#define LC_SERVER_GATE_H

#include "auth/auth.h"
#include "rpc/http/http.h"

struct lc_gate;

/* Gate @srv's routes with @auth (both borrowed: the gate is freed after
 * @srv has closed). Return 0 or LC_ENOMEM. */
int lc_gate_new(struct lc_auth *auth, struct lc_http_server *srv,
                struct lc_gate **out);

/* Warn about every path routed on @srv that the table does not list (only
 * a global admin may use those), once every module has registered its
 * routes. Return how many there are. */
unsigned lc_gate_check_routes(struct lc_http_server *srv);

/* What @method @path needs, for tests and logs: "open", "admin", or
 * "<action> <resource>" ("naming" for a naming resource), into @out. */
void lc_gate_describe(unsigned method, const char *path, char *out,
                      size_t size);

/* The naming resource a K_NAMING route (what lc_gate_describe calls
 * "<action> naming") checks for @method @path with the parameters
 * @param(@ctx, name) gives (the first value of a name, or NULL), into @out,
 * and *@admin: whether only a global admin may make the request. Return
 * false (nothing written) for any other route. For tests. */
bool lc_gate_naming_resource(unsigned method, const char *path,
                             const char *(*param)(void *, const char *),
                             void *ctx, char *out, size_t size, bool *admin);

void lc_gate_free(struct lc_gate *g);

#endif /* LC_SERVER_GATE_H */
