/* The naming HTTP API (naming/http/): Nacos's /nacos/v1/ns and /nacos/v2/ns
 * paths on the main port. The public face of naming/http/. */
#ifndef LC_NAMING_HTTP_ROUTES_H
#define LC_NAMING_HTTP_ROUTES_H

#include "naming/naming.h"
#include "rpc/http/http.h"

/* Route every naming path on @srv to its handler over @n (borrowed for the
 * server's lifetime), and the fallback for unknown paths. Return 0 or
 * LC_ENOMEM. */
int lc_naming_http_routes(struct lc_naming *n, struct lc_http_server *srv);

#endif /* LC_NAMING_HTTP_ROUTES_H */
