/* The naming module: Nacos's registry on top of the raft engine.
 *
 * Creating it registers the four naming processors (persistent instances,
 * service metadata, instance metadata, switches) with the engine, and the
 * health checker of persistent instances; lc_naming_routes()
 * adds the /nacos/v1/ns/... handlers to an HTTP server.
 */
#ifndef LC_NAMING_H
#define LC_NAMING_H

#include <uv.h>

#include "raft/engine.h"
#include "rpc/http.h"

struct lc_naming;

struct lc_naming_stats {
    unsigned long services;
    unsigned long instances;
    unsigned long clients;
    unsigned long persistent_clients;
    unsigned long ephemeral_clients;
};

/* Create the module and register its processors with @engine (borrowed;
 * before lc_raft_engine_start). Return 0 or an LC_E* code. */
int lc_naming_new(uv_loop_t *loop, struct lc_raft_engine *engine,
                  struct lc_naming **out);

/* Route the naming HTTP API on @srv. Return 0 or LC_ENOMEM. */
int lc_naming_routes(struct lc_naming *n, struct lc_http_server *srv);

void lc_naming_stats(struct lc_naming *n, struct lc_naming_stats *st);

/* Free the module; only once the engine is closed. */
void lc_naming_free(struct lc_naming *n);

#endif /* LC_NAMING_H */
