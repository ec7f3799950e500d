/* The fault suite's clients: threads in the root namespace that register
 * and deregister persistent instances (HTTP v1, ephemeral=false) over a
 * small key space through the members, logging every operation with its
 * invoke and complete time and outcome (test/faults/history.h).
 *
 * Key k is instance FC_IP:(FC_PORT0 + k) in service "faults<k % 4>". One
 * request per connection, so a request that was never sent (the connect
 * failed) is known to have failed. A client moves to the next member after
 * any answer other than "ok".
 */
#ifndef LC_TEST_FAULTS_CLIENT_H
#define LC_TEST_FAULTS_CLIENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#include "test/faults/history.h"

#define FC_IP "127.42.0.1"
#define FC_PORT0 20000
#define FC_SERVICES 4
#define FC_MAX_NODES 9
#define FC_MAX_CLIENTS 32

struct fc_clients;

struct fc_config {
    unsigned n_clients;
    unsigned n_keys;
    unsigned n_nodes;
    const char *hosts[FC_MAX_NODES]; /* borrowed */
    int port;                        /* HTTP port, the same on every node */
    unsigned timeout_ms;             /* a request's deadline */
    unsigned think_ms;               /* up to this pause between requests */
    uint32_t seed;
};

/* Every timestamp is lc_mono_us() (common/util.h): microseconds on the
 * monotonic clock. */

/* Start the clients; NULL on failure. */
struct fc_clients *fc_start(const struct fc_config *cfg);

/* Stop them (waits for requests in flight, up to their timeout). */
void fc_stop(struct fc_clients *cl);

/* A copy of the log so far (malloc'd, caller frees), its length in *@n. */
struct fh_op *fc_ops(struct fc_clients *cl, size_t *n);

/* Counts so far by outcome (any of the pointers may be NULL). */
void fc_counts(struct fc_clients *cl, size_t *ok, size_t *failed,
               size_t *unknown);

void fc_free(struct fc_clients *cl);

/* Service name and port of key @k. */
void fc_key_service(unsigned k, char *buf, size_t size);
int fc_key_port(unsigned k);

/* One HTTP/1.1 request with "Connection: close" to @host:@port within
 * @timeout_ms. Return FH_OK with *@status and the body (up to @body_size
 * - 1 bytes, NUL-terminated) when an answer came; FH_FAILED when nothing
 * was sent (connect refused, unreachable or timed out); FH_UNKNOWN when the
 * request may have been sent but no whole answer came. */
enum fh_outcome fc_http(const char *host, int port, const char *method,
                        const char *target, const char *form,
                        unsigned timeout_ms, int *status, char *body,
                        size_t body_size);

#endif /* LC_TEST_FAULTS_CLIENT_H */
