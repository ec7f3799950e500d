/* Ephemeral instances of HTTP clients: client "ip:port#true" per instance
 * address, as Nacos 2.x's IpPortBasedClient, kept alive by beats.
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

#define CHECK_PERIOD_MS 1000

struct lc_beat_checker {
    uv_timer_t timer;
    struct lc_naming *n;
};

void lc_ephemeral_client_id(char *out, size_t size, const char *ip, int port)
{
    snprintf(out, size, "%s:%d#true", ip, port);
}

static uint64_t now_ms(struct lc_naming *n)
{
    return n->loop != NULL ? uv_now(n->loop) : 0;
}

int lc_ephemeral_register(struct lc_naming *n,
                          const struct lc_service_key *key,
                          struct lc_instance *inst, char *err, size_t errlen)
{
    char client_id[320];
    struct lc_service *svc = lc_registry_find_service(n->reg, key);
    struct lc_publish *pub;
    int rv;

    if (svc != NULL && !svc->ephemeral) {
        snprintf(err, errlen,
                 "errCode: 400, errMsg: Current service %s is persistent "
                 "service, can't register ephemeral instance. ",
                 svc->grouped);
        return LC_EINVAL;
    }
    if (svc == NULL) {
        svc = lc_registry_service(n->reg, key, true);
        if (svc == NULL) {
            snprintf(err, errlen, "out of memory");
            return LC_ENOMEM;
        }
    }
    lc_ephemeral_client_id(client_id, sizeof client_id, inst->ip, inst->port);
    rv = lc_registry_publish(n->reg, client_id, true, svc, inst);
    if (rv != 0) {
        snprintf(err, errlen, "out of memory");
        return rv;
    }
    pub = lc_registry_find_publish(n->reg, client_id, svc);
    if (pub != NULL) {
        pub->beat_ms = now_ms(n);
    }
    return 0;
}

void lc_ephemeral_deregister(struct lc_naming *n,
                             const struct lc_service_key *key, const char *ip,
                             int port)
{
    char client_id[320];
    struct lc_service *svc = lc_registry_find_service(n->reg, key);
    if (svc == NULL) {
        return;
    }
    lc_ephemeral_client_id(client_id, sizeof client_id, ip, port);
    lc_registry_unpublish(n->reg, client_id, svc);
}

/* Publish a copy of @pub's instance with @healthy. */
static int set_health(struct lc_naming *n, const char *client_id,
                      struct lc_publish *pub, bool healthy)
{
    const struct lc_instance *old = pub->inst;
    struct lc_instance *inst = lc_instance_new(
        old->ip, old->port, old->cluster, old->weight, healthy, old->enabled,
        old->ephemeral, old->metadata_text, old->instance_id);
    int rv;
    if (inst == NULL) {
        return LC_ENOMEM;
    }
    rv = lc_registry_publish(n->reg, client_id, true, pub->service, inst);
    lc_instance_unref(inst);
    return rv;
}

int lc_ephemeral_beat(struct lc_naming *n, struct lc_service *svc,
                      const char *ip, int port)
{
    char client_id[320];
    struct lc_publish *pub;
    lc_ephemeral_client_id(client_id, sizeof client_id, ip, port);
    pub = lc_registry_find_publish(n->reg, client_id, svc);
    if (pub == NULL) {
        return LC_ENOTFOUND;
    }
    if (strcmp(pub->inst->ip, ip) != 0 || pub->inst->port != port) {
        return 0;
    }
    pub->beat_ms = now_ms(n);
    if (!pub->inst->healthy) {
        lc_infof("naming", "%s of %s is healthy again (beat)", client_id,
                 svc->grouped);
        return set_health(n, client_id, pub, true);
    }
    return 0;
}

int lc_ephemeral_set_health(struct lc_naming *n, struct lc_service *svc,
                            const char *ip, int port, bool healthy)
{
    char client_id[320];
    struct lc_publish *pub;
    lc_ephemeral_client_id(client_id, sizeof client_id, ip, port);
    pub = lc_registry_find_publish(n->reg, client_id, svc);
    if (pub == NULL) {
        return LC_ENOTFOUND;
    }
    if (pub->inst->healthy == healthy) {
        return 0;
    }
    return set_health(n, client_id, pub, healthy);
}

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
            if (set_health(n, c->id, pub, false) != 0) {
                lc_warnf("naming", "out of memory marking %s unhealthy",
                         c->id);
            }
        }
    }
}

void lc_ephemeral_check(struct lc_naming *n, uint64_t now)
{
    struct lc_client *c, *tmp;
    if (!n->sw.health_check_enabled) {
        return;
    }
    HASH_ITER(hh, n->reg->clients, c, tmp)
    {
        if (c->ephemeral) {
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
