/* The naming side of Distro (naming/ops/sync.c): what distro/ reads from
 * and writes into the registry, in Nacos's ClientSyncData terms, without
 * knowing the registry's internals.
 *
 * A Distro client is a gRPC connection id (its batch companions
 * "<id>#b<k>" included: they travel as the connection's
 * batchInstanceData) or an ip:port client "ip:port#true". Its revision is
 * its registry client's (bumped on every change of its publishes, the
 * responsible member's value on a synced copy).
 *
 * Synced clients. A connection client another member holds is kept as
 * LC_CLIENT_SYNCED. An ip:port client synced from its responsible member
 * stays LC_CLIENT_EPHEMERAL: who is responsible for it is distroHash over
 * the healthy members, computed at each use, so when its member goes DOWN
 * the client is this member's at once and its beat checker takes it over
 * (the beat checker acts only on ip:port clients this member is
 * responsible for, lc_sync_responsible). Synced clients that are not
 * renewed (by a sync or a verify) within the expiry go (Nacos's
 * ClientManager expiry); clients this member owns never expire here.
 *
 * Everything applied goes through the registry and its bus, so the index
 * and the push engine see it as any local change.
 */
#ifndef LC_NAMING_OPS_SYNC_H
#define LC_NAMING_OPS_SYNC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

struct lc_naming;

#define LC_SYNC_ID_MAX 320

/* Whether this member is responsible for ip:port tag @tag ("ip:port"):
 * distroHash over the healthy members (DistroMapper.responsible); true
 * standalone, with distro switched off, or when naming has no members. */
bool lc_sync_responsible(struct lc_naming *n, const char *tag);

/* The Distro client that registry client @id belongs to (a companion's
 * connection), into @out. */
void lc_sync_client_of(const char *id, char *out, size_t size);

/* Whether this member owns Distro client @id and syncs it: its own
 * connection, or an ip:port client it is responsible for. A connection id
 * that is gone counts as owned (it was ours unless a peer removed it). */
bool lc_sync_owned(struct lc_naming *n, const char *id);

/* The revision of @id; false when the client is unknown. */
bool lc_sync_revision(struct lc_naming *n, const char *id, uint64_t *rev);

/* ClientSyncData of @id (a new reference), or NULL when it is unknown
 * (or out of memory). */
json_t *lc_sync_data(struct lc_naming *n, const char *id);

/* The same ClientSyncData as compact JSON text (malloc'd, its length in
 * *@len), written without building the tree; NULL when @id is unknown
 * (or out of memory). */
char *lc_sync_text(struct lc_naming *n, const char *id, size_t *len);

/* Check ClientSyncData @csd: LC_EINVAL and why in @e, nothing changed.
 * lc_sync_apply checks it too; this lets a batch be checked whole before
 * any of it is applied. */
int lc_sync_check(struct lc_naming *n, const json_t *csd, struct lc_err *e);

/* ADD / CHANGE: replace the publishes of the client @csd names with its
 * own, creating it as a synced client; renew it. A connection this member
 * holds is left alone (0). Return 0 or LC_EINVAL / LC_ENOMEM with @e. */
int lc_sync_apply(struct lc_naming *n, const json_t *csd, struct lc_err *e);

/* The same in two steps, so that a batch is decoded once: check and
 * decode @csd (which must outlive the result) into *@out, then apply it
 * (what lc_sync_apply does) and free it. */
struct lc_sync_prepared;
int lc_sync_prepare(struct lc_naming *n, const json_t *csd,
                    struct lc_sync_prepared **out, struct lc_err *e);
int lc_sync_apply_prepared(struct lc_naming *n, struct lc_sync_prepared *p,
                           struct lc_err *e);
void lc_sync_prepared_free(struct lc_sync_prepared *p);

/* DELETE: withdraw everything synced client @id publishes. A connection
 * this member holds is left alone. */
void lc_sync_delete(struct lc_naming *n, const char *id);

/* VERIFY: true (and the client renewed, its ip:port beats refreshed) when
 * @id is known and @revision is its revision or 0. */
bool lc_sync_verify(struct lc_naming *n, const char *id, uint64_t revision);

/* Call @fn for every ephemeral Distro client (@owned_only: those this
 * member owns), with its revision. @fn must not change the registry. */
void lc_sync_each(struct lc_naming *n, bool owned_only,
                  void (*fn)(const char *id, uint64_t rev, void *data),
                  void *data);

/* Remove the synced clients not renewed within @expired_ms of @now
 * (lc_mono_ms); return how many went. */
unsigned lc_sync_expire(struct lc_naming *n, uint64_t now,
                        uint64_t expired_ms);

/* Observe changes of Distro clients: @cb gets the Distro client id of each
 * ClientRegisterService / ClientDeregisterService event. Return 0 or
 * LC_ENOMEM. */
int lc_sync_watch(struct lc_naming *n,
                  void (*cb)(const char *id, void *data), void *data);

#endif /* LC_NAMING_OPS_SYNC_H */
