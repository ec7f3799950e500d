/* Distro, Nacos's AP protocol for ephemeral instances (../shared/protocol.md
 * §5): each member is responsible for a share of the clients (gRPC
 * connections: the member holding them; ip:port clients: distroHash over
 * the healthy members, distro/mapper.h), syncs their changes to every other
 * member after a merge delay, verifies revisions every verify_interval_ms,
 * expires synced clients that are not renewed, and loads a snapshot from a
 * peer when it starts (in pieces, so a snapshot larger than the gRPC
 * message limit still moves). What arrives by Distro enters the naming
 * module's event bus as any local change does, so subscribers on every
 * member are pushed.
 *
 * The wire is DistroDataRequest / DistroDataResponse on the cluster port
 * (rpc/cluster/peers.h).
 */
#ifndef LC_DISTRO_H
#define LC_DISTRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct lc_naming;
struct lc_peers;
struct lc_members;
struct lc_distro;

struct lc_distro_config {
    unsigned sync_delay_ms;   /* nacos.core.protocol.distro.data.sync.delayMs */
    unsigned sync_timeout_ms; /* ...sync.timeoutMs: 3000 */
    unsigned sync_retry_ms;   /* ...sync.retryDelayMs: 3000 */
    unsigned verify_interval_ms; /* ...verify.intervalMs: 5000 */
    unsigned verify_timeout_ms;  /* ...verify.timeoutMs: 3000 */
    unsigned load_retry_ms;      /* ...load.retryDelayMs: 30000 */
    unsigned load_timeout_ms;    /* snapshot piece timeout: 30000 */
    uint64_t client_expired_ms;  /* nacos.naming.client.expired.time: 180000 */
    size_t piece_bytes;          /* largest snapshot piece (< max inbound) */
};

void lc_distro_config_default(struct lc_distro_config *cfg);

/* Create the module: handlers on @peers's server, observers on @n's bus and
 * on member states. All borrowed until lc_distro_free. Return 0 or
 * LC_ENOMEM. */
int lc_distro_new(uv_loop_t *loop, struct lc_naming *n, struct lc_peers *peers,
                  struct lc_members *ms, const struct lc_distro_config *cfg,
                  struct lc_distro **out);

/* Begin the startup load (standalone, or no other member: loaded at
 * once). */
void lc_distro_start(struct lc_distro *d);

/* Whether the startup load is done: until then the node is not UP and does
 * not serve SDK connections. */
bool lc_distro_loaded(const struct lc_distro *d);

/* Stopping: send now what is due to the peers that are not DOWN (the
 * DELETEs of the connections just closed, so the survivors do not keep
 * copies until they expire), then @cb, once every request answered or
 * after @timeout_ms. Nothing new is synced after the call. */
void lc_distro_flush(struct lc_distro *d, unsigned timeout_ms,
                     void (*cb)(void *data), void *data);

/* Stop timers, cancel pending requests, free. */
void lc_distro_free(struct lc_distro *d);

#endif /* LC_DISTRO_H */
