/* The naming module: Nacos's registry on top of the raft engine.
 *
 * Creating it registers the four naming processors (persistent instances,
 * service metadata, instance metadata, switches) with the engine, and the
 * health checker of persistent instances. Its transports serve it:
 * naming/http/routes.h adds the /nacos/v1/ns/... handlers to an HTTP
 * server.
 */
#ifndef LC_NAMING_H
#define LC_NAMING_H

#include <stdbool.h>
#include <uv.h>

#include "raft/engine.h"

struct lc_naming;

struct lc_naming_stats {
    unsigned long services;
    unsigned long instances;
    unsigned long clients;
    unsigned long persistent_clients; /* ip:port, persistent */
    unsigned long ephemeral_clients;  /* ip:port, ephemeral */
    unsigned long connection_clients; /* gRPC connections */
    unsigned long subscribers;        /* push subscribers */
};

/* Create the module on @loop and register its processors with @engine
 * (both borrowed; before lc_raft_engine_start). Return 0 or an LC_E* code.
 * On failure nothing is left behind but handles already closing (their
 * memory goes in their close callbacks: run the loop before closing it);
 * only a failure of the registration itself (LC_ENOMEM from the engine) may
 * leave @engine with groups whose processors are gone, so it must then be
 * closed without being started. */
int lc_naming_new(uv_loop_t *loop, struct lc_raft_engine *engine,
                  struct lc_naming **out);

void lc_naming_stats(struct lc_naming *n, struct lc_naming_stats *st);

/* Push settings from the configuration: the merge delay
 * (nacos.naming.push.pushTaskDelay), the UDP ack timeout
 * (locus.naming.push.ack_timeout_ms) and the subscriber expiry
 * (nacos.naming.client.expired.time), in milliseconds. */
void lc_naming_configure_push(struct lc_naming *n, unsigned delay_ms,
                              unsigned ack_timeout_ms,
                              unsigned client_expired_ms);

/* Where the gRPC connection count comes from (the SDK server's registered
 * connections), for the stats' connection clients: without it they count
 * the connections that publish instances. */
void lc_naming_set_conn_count(struct lc_naming *n,
                              unsigned (*count)(void *data), void *data);

struct lc_members;

/* Naming is not ready (lc_op_ready, the status endpoints) until @ready
 * answers true as well as the engine has caught up: Distro's startup load.
 * @ready NULL: no gate. */
void lc_naming_set_gate(struct lc_naming *n, bool (*ready)(void *data),
                        void *data);

/* Whether naming serves: the engine has caught up and the gate is open. */
bool lc_naming_ready(struct lc_naming *n);

/* The cluster's member list (members/members.h; borrowed: it must outlive
 * the module; standalone: this node alone), for the requests naming makes
 * to the other members (service/subscribers?aggregation=true), each bounded
 * by @timeout_ms (at most the HTTP shutdown grace, 5000), and Distro's list
 * of healthy servers (operator/distro/client). Call once, before serving. */
void lc_naming_set_members(struct lc_naming *n,
                           const struct lc_members *members,
                           unsigned timeout_ms);

/* The header the HTTP requests naming sends to other members carry
 * (DistroFilter's forwards, subscriber aggregation):
 * nacos.core.auth.server.identity.key and .value (copied; a member with
 * auth on lets such a request through unchecked, as Nacos does). A
 * client's own copy of that header is never forwarded. NULL or "" key:
 * none. */
void lc_naming_set_peer_identity(struct lc_naming *n, const char *key,
                                 const char *value);

/* Close the module's own handles (the UDP push socket and its timers); @cb
 * runs once they are closed. Call after the engine is closed, before
 * lc_naming_free. */
void lc_naming_close(struct lc_naming *n, void (*cb)(void *data), void *data);

/* Shutting down, before lc_raft_engine_close(): the state machines stop
 * touching their raft groups, which the engine frees as it closes. */
void lc_naming_detach_raft(struct lc_naming *n);

/* Nacos's naming cleaners (nacos.naming.clean.*), in milliseconds. */
struct lc_naming_clean_options {
    unsigned empty_service_interval_ms;    /* 60000 */
    unsigned empty_service_expired_ms;     /* 60000 */
    unsigned expired_metadata_interval_ms; /* 5000 */
    unsigned expired_metadata_expired_ms;  /* 60000 */
};

void lc_naming_clean_options_default(struct lc_naming_clean_options *o);

/* Start the empty-service and expired-metadata cleaners on the module's
 * loop (@o is copied). They stop in lc_naming_free. Return 0 or an LC_E*
 * code. */
int lc_naming_start_cleaners(struct lc_naming *n,
                             const struct lc_naming_clean_options *o);

/* Free the module; only once the engine is closed and lc_naming_close has
 * finished (or was never needed: no push engine). */
void lc_naming_free(struct lc_naming *n);

#endif /* LC_NAMING_H */
