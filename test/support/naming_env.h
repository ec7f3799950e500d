/* Helpers for the unit tests of naming/ops and naming/health that run the
 * operations on a bare struct lc_naming (bus, registry, default switches;
 * no raft, no transports): its set-up and tear-down, and the instance
 * requests the operations take.
 *
 * Helpers that cannot do their job fail the running cmocka test.
 */
#ifndef LC_TEST_NAMING_ENV_H
#define LC_TEST_NAMING_ENV_H

#include "naming/internal.h"
#include "naming/ops/ops.h"

/* A fresh bus and registry in @n, default switches. @n is zeroed or
 * calloc'd before. */
void nenv_init(struct lc_naming *n);

/* Free what nenv_init made, and the instance metadata the test added. */
void nenv_fini(struct lc_naming *n);

/* An ephemeral instance @ip:@port of DEFAULT_GROUP@@@service in public,
 * cluster DEFAULT: weight 1, healthy, enabled, no metadata, no instance
 * id. */
void nenv_req(struct lc_instance_req *r, const char *service, const char *ip,
              int port);

#endif /* LC_TEST_NAMING_ENV_H */
