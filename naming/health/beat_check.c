/* The beat checker of ephemeral ip:port clients ("ip:port#true", Nacos
 * 2.x's IpPortBasedClient, naming/ops/ephemeral.c), kept alive by beats.
 *
 * Registering or beating sets the publish's beat time. A checker runs every
 * second over the ephemeral clients (Nacos's ClientBeatCheckTaskV2 runs every
 * five; a shorter period keeps the 15 s / 30 s limits within a second): an
 * instance whose last beat is older than its heart-beat timeout turns
 * unhealthy, one older than its delete timeout is removed. Both changes go
 * through the registry, so the index and the push engine see them like any
 * other. With the healthCheckEnabled switch off, neither happens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "naming/internal.h"
#include "naming/ops/ephemeral.h"
#include "naming/ops/sync.h"

#define CHECK_PERIOD_MS 1000

struct lc_beat_checker {
    uv_timer_t timer;
    struct lc_naming *n;
};

/* One instance's beat limits: overlay metadata first, then its own. The
 * common case, no overlay at all, reads the limits parsed at creation
 * instead of parsing every instance's metadata every second. */
static void limits_of(struct lc_naming *n, struct lc_publish *pub,
                      long long *timeout, long long *del)
{
    struct lc_view v;
    if (lc_kvstore_count(&n->instance_meta) == 0) {
        *timeout = pub->inst->beat_timeout_ms;
        *del = pub->inst->delete_timeout_ms;
        return;
    }
    lc_instance_view(n, pub->service, pub->inst, &v);
    *timeout = lc_meta_long(v.metadata, LC_META_BEAT_TIMEOUT, 15000);
    *del = lc_meta_long(v.metadata, LC_META_DELETE_TIMEOUT, 30000);
    json_decref(v.metadata);
}

static void check_client(struct lc_naming *n, struct lc_client *c,
                         uint64_t now)
{
    struct lc_publish *pub, *tmp;
    /* The client may be freed by its last unpublish: HASH_ITER keeps the
     * next element before the body runs, and c is not used after. */
    HASH_ITER(hh, c->publishes, pub, tmp)
    {
        long long timeout, del;
        uint64_t idle = now > pub->beat_ms ? now - pub->beat_ms : 0;
        limits_of(n, pub, &timeout, &del);
        if ((long long)idle > del) {
            lc_infof("naming",
                     "%s of %s removed: no beat for %llu ms (limit %lld)",
                     c->id, pub->service->grouped, (unsigned long long)idle,
                     del);
            lc_registry_unpublish(n->reg, c->id, pub->service);
        } else if ((long long)idle > timeout && pub->inst->healthy) {
            lc_infof("naming",
                     "%s of %s unhealthy: no beat for %llu ms (limit %lld)",
                     c->id, pub->service->grouped, (unsigned long long)idle,
                     timeout);
            if (lc_ephemeral_publish_health(n, c->id, pub, false) != 0) {
                lc_warnf("naming", "out of memory marking %s unhealthy",
                         c->id);
            }
        }
    }
}

/* Whether this member checks ip:port client @id ("ip:port#true"): the
 * one responsible for it (Nacos's ClientBeatCheckTaskV2 runs only there);
 * the others hold a synced copy its responsible member keeps current. */
static bool responsible(struct lc_naming *n, const char *id)
{
    char tag[LC_SYNC_ID_MAX];
    const char *hash = strrchr(id, '#');
    size_t len = hash != NULL ? (size_t)(hash - id) : strlen(id);
    if (len >= sizeof tag) {
        return true;
    }
    memcpy(tag, id, len);
    tag[len] = '\0';
    return lc_sync_responsible(n, tag);
}

void lc_ephemeral_check(struct lc_naming *n, uint64_t now)
{
    struct lc_client *c, *tmp;
    if (!n->sw.health_check_enabled) {
        return;
    }
    HASH_ITER(hh, n->reg->clients, c, tmp)
    {
        /* A connection's instances live as long as the connection. */
        if (c->kind == LC_CLIENT_EPHEMERAL && responsible(n, c->id)) {
            check_client(n, c, now);
        }
    }
}

static void on_check_timer(uv_timer_t *t)
{
    struct lc_beat_checker *bc = t->data;
    lc_ephemeral_check(bc->n, uv_now(t->loop));
}

int lc_beat_checker_start(struct lc_naming *n, struct lc_beat_checker **out)
{
    struct lc_beat_checker *bc = calloc(1, sizeof *bc);
    if (bc == NULL) {
        return LC_ENOMEM;
    }
    bc->n = n;
    uv_timer_init(n->loop, &bc->timer);
    bc->timer.data = bc;
    uv_timer_start(&bc->timer, on_check_timer, CHECK_PERIOD_MS,
                   CHECK_PERIOD_MS);
    *out = bc;
    return 0;
}

static void on_checker_closed(uv_handle_t *h)
{
    free(h->data);
}

void lc_beat_checker_close(struct lc_beat_checker *bc)
{
    if (bc != NULL) {
        uv_close((uv_handle_t *)&bc->timer, on_checker_closed);
    }
}
