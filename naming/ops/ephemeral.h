/* Ephemeral ip:port clients (naming/ops/ephemeral.c): what the instance
 * operations, the beat operation and the beat checker change. */
#ifndef LC_NAMING_OPS_EPHEMERAL_H
#define LC_NAMING_OPS_EPHEMERAL_H

#include "common/err.h"
#include "naming/internal.h"

struct lc_instance_req;

/* "ip:port#true", the ip:port client that publishes an ephemeral
 * instance. */
void lc_ephemeral_client_id(char *out, size_t size, const char *ip, int port);

/* Publish @inst (reference taken) as the ephemeral instance of client
 * "ip:port#true" in the service @key, creating the service (ephemeral).
 * Return 0; LC_EINVAL with Nacos's message when the service is persistent;
 * LC_ENOMEM. */
int lc_ephemeral_register(struct lc_naming *n,
                          const struct lc_service_key *key,
                          struct lc_instance *inst, struct lc_err *e);

/* The same for the instance @r describes. */
int lc_ephemeral_register_req(struct lc_naming *n,
                              const struct lc_service_key *key,
                              const struct lc_instance_req *r,
                              struct lc_err *e);

/* Withdraw client "ip:port#true"'s instance of @key (no-op if none). */
void lc_ephemeral_deregister(struct lc_naming *n,
                             const struct lc_service_key *key, const char *ip,
                             int port);

/* A beat for ip:port in @svc: refresh it, and make it healthy if it was not.
 * Return 0, or LC_ENOTFOUND when the client publishes nothing there. */
int lc_ephemeral_beat(struct lc_naming *n, struct lc_service *svc,
                      const char *ip, int port);

/* Set the health of ip:port's ephemeral instance of @svc. Return 0,
 * LC_ENOTFOUND or LC_ENOMEM. */
int lc_ephemeral_set_health(struct lc_naming *n, struct lc_service *svc,
                            const char *ip, int port, bool healthy);

/* Publish a copy of @pub's instance (of @client_id) with @healthy. Return
 * 0 or LC_ENOMEM. */
int lc_ephemeral_publish_health(struct lc_naming *n, const char *client_id,
                                struct lc_publish *pub, bool healthy);

#endif /* LC_NAMING_OPS_EPHEMERAL_H */
