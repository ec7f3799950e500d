/* Ephemeral instances of ip:port clients: client "ip:port#true" per
 * instance address, as Nacos 2.x's IpPortBasedClient with
 * EphemeralClientOperationServiceImpl. Registering or beating sets the
 * publish's beat time; the beat checker (naming/health/beat_check.c) turns
 * instances unhealthy or removes them when beats stop. Every change goes
 * through the registry, so the index and the push engine see it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "naming/ops/ops.h"

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
                          struct lc_instance *inst, struct lc_err *e)
{
    char client_id[320];
    struct lc_service *svc = lc_registry_find_service(n->reg, key);
    struct lc_publish *pub;

    if (svc != NULL && !svc->ephemeral) {
        return lc_err_set(e, LC_EINVAL,
                          "errCode: 400, errMsg: Current service %s is "
                          "persistent service, can't register ephemeral "
                          "instance. ",
                          svc->grouped);
    }
    if (svc == NULL) {
        svc = lc_registry_service(n->reg, key, true);
        if (svc == NULL) {
            return lc_err_set(e, LC_ENOMEM, "out of memory");
        }
    }
    lc_ephemeral_client_id(client_id, sizeof client_id, inst->ip, inst->port);
    if (lc_registry_publish(n->reg, client_id, LC_CLIENT_EPHEMERAL, svc,
                            inst) != 0) {
        return lc_err_set(e, LC_ENOMEM, "out of memory");
    }
    pub = lc_registry_find_publish(n->reg, client_id, svc);
    if (pub != NULL) {
        pub->beat_ms = now_ms(n);
    }
    return 0;
}

int lc_ephemeral_register_req(struct lc_naming *n,
                              const struct lc_service_key *key,
                              const struct lc_instance_req *r,
                              struct lc_err *e)
{
    struct lc_instance *inst =
        lc_instance_new(r->ip, r->port, r->cluster, r->weight, r->healthy,
                        r->enabled, true, r->metadata, r->instance_id);
    int rv;
    if (inst == NULL) {
        return lc_err_set(e, LC_ENOMEM, "out of memory");
    }
    rv = lc_ephemeral_register(n, key, inst, e);
    lc_instance_unref(inst);
    return rv;
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

int lc_ephemeral_publish_health(struct lc_naming *n, const char *client_id,
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
    rv = lc_registry_publish(n->reg, client_id, LC_CLIENT_EPHEMERAL,
                             pub->service, inst);
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
        return lc_ephemeral_publish_health(n, client_id, pub, true);
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
    return lc_ephemeral_publish_health(n, client_id, pub, healthy);
}
