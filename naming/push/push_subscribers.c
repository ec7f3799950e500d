/* Push subscribers: IP-port clients ("clientIP:udpPort#true") holding one
 * subscriber per service, the service -> subscribers index, expiry, and the
 * fuzzy listing behind /service/subscribers (Nacos's IpPortBasedClient,
 * ClientServiceIndexesManager subscriber side, NamingSubscriberServiceV2Impl).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "naming/internal.h"
#include "naming/push/push_internal.h"

static void sub_free(struct lc_push *p, struct sub *s)
{
    struct sub_service *svc = s->service;
    HASH_DELETE(hh_service, svc->subs, s);
    HASH_DELETE(hh_client, s->client->subs, s);
    if (svc->subs == NULL) {
        HASH_DEL(p->services, svc);
        free(svc->key); /* and the other names */
        free(svc);
    }
    free(s->clusters);
    free(s->agent);
    free(s->app);
    free(s);
    p->n_subs--;
}

void push_client_free(struct lc_push *p, struct sub_client *c)
{
    struct sub *s, *tmp;
    HASH_ITER(hh_client, c->subs, s, tmp)
    {
        sub_free(p, s);
    }
    push_client_detach(p, c);
    HASH_DEL(p->clients, c);
    free(c->id);
    free(c->ip);
    free(c);
}

static struct sub_client *client_get(struct lc_push *p, const char *ip,
                                     int port)
{
    char id[320];
    struct sub_client *c;
    snprintf(id, sizeof id, "%s:%d#true", ip, port);
    HASH_FIND_STR(p->clients, id, c);
    if (c != NULL) {
        return c;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL || (c->id = strdup(id)) == NULL ||
        (c->ip = strdup(ip)) == NULL) {
        if (c != NULL) {
            free(c->id);
        }
        free(c);
        return NULL;
    }
    c->port = port;
    HASH_ADD_KEYPTR(hh, p->clients, c->id, strlen(c->id), c);
    /* The address pushes go to (push_resolve.c). */
    push_client_resolve(p, c, false);
    return c;
}

static struct sub_service *service_get(struct lc_push *p,
                                       const struct lc_push_subscriber *in,
                                       const char *key)
{
    struct sub_service *svc;
    HASH_FIND_STR(p->services, key, svc);
    if (svc != NULL) {
        return svc;
    }
    svc = calloc(1, sizeof *svc);
    if (svc == NULL) {
        return NULL;
    }
    svc->key = lc_service_names(
        &(struct lc_service_key){in->ns, in->group, in->service}, &svc->ns,
        &svc->group, &svc->name, &svc->grouped);
    if (svc->key == NULL) {
        free(svc);
        return NULL;
    }
    HASH_ADD_KEYPTR(hh, p->services, svc->key, strlen(svc->key), svc);
    return svc;
}

/* Replace *@field with a copy of @value; false when out of memory. */
static bool set_str(char **field, const char *value)
{
    char *copy = strdup(value != NULL ? value : "");
    if (copy == NULL) {
        return false;
    }
    free(*field);
    *field = copy;
    return true;
}

int lc_push_subscribe(struct lc_push *p, const struct lc_push_subscriber *in)
{
    struct lc_service_key key = {in->ns, in->group, in->service};
    char text[1600];
    struct sub_client *c;
    struct sub_service *svc;
    struct sub *s;

    if (p->closing || in->port <= 0 ||
        !lc_service_key_text(text, sizeof text, &key)) {
        return LC_EINVAL;
    }
    c = client_get(p, in->ip != NULL ? in->ip : "", in->port);
    if (c == NULL) {
        return LC_ENOMEM;
    }
    c->last_updated = uv_now(p->loop);
    push_client_resolve(p, c, true); /* a stale host-name answer */
    HASH_FIND(hh_client, c->subs, text, strlen(text), s);
    if (s != NULL) {
        /* Client.addServiceSubscriber replaces the subscriber; no new
         * ServiceSubscribedEvent, so no push. */
        if (!set_str(&s->clusters, in->clusters) ||
            !set_str(&s->agent, in->agent) || !set_str(&s->app, in->app)) {
            return LC_ENOMEM;
        }
        return 0;
    }
    svc = service_get(p, in, text);
    s = svc != NULL ? calloc(1, sizeof *s) : NULL;
    if (s == NULL || !set_str(&s->clusters, in->clusters) ||
        !set_str(&s->agent, in->agent) || !set_str(&s->app, in->app)) {
        if (s != NULL) {
            free(s->clusters);
            free(s->agent);
            free(s);
        }
        if (svc != NULL && svc->subs == NULL) {
            HASH_DEL(p->services, svc);
            free(svc->key); /* and the other names */
            free(svc);
        }
        if (c->subs == NULL) {
            push_client_free(p, c);
        }
        return LC_ENOMEM;
    }
    s->client = c;
    s->service = svc;
    HASH_ADD_KEYPTR(hh_client, c->subs, svc->key, strlen(svc->key), s);
    HASH_ADD_KEYPTR(hh_service, svc->subs, c->id, strlen(c->id), s);
    p->n_subs++;
    lc_debugf("push", "%s subscribed to %s (clusters '%s')", c->id,
              svc->grouped, s->clusters);
    push_add_task(p, svc, c->id);
    return 0;
}

/* IpPortBasedClient.isExpire: no published instance and not refreshed for
 * the expiry time. */
static void on_sweep(uv_timer_t *t)
{
    struct lc_push *p = t->data;
    uint64_t now = uv_now(p->loop);
    struct sub_client *c, *tmp;
    HASH_ITER(hh, p->clients, c, tmp)
    {
        struct lc_client *pub;
        if (now - c->last_updated <= p->opt.client_expired_ms) {
            continue;
        }
        pub = lc_registry_find_client(p->n->reg, c->id);
        if (pub != NULL && pub->publishes != NULL) {
            continue;
        }
        lc_infof("push", "subscriber client %s expired", c->id);
        push_client_free(p, c);
    }
}

void lc_push_each_subscriber(const struct lc_push *p, const char *ns,
                             const char *group, const char *name,
                             lc_push_subscriber_cb fn, void *data)
{
    const struct sub_service *svc, *tmp;
    HASH_ITER(hh, p->services, svc, tmp)
    {
        const struct sub *s, *stmp;
        if (strcmp(svc->ns, ns) != 0 || strstr(svc->name, name) == NULL ||
            strstr(svc->group, group) == NULL) {
            continue;
        }
        HASH_ITER(hh_service, svc->subs, s, stmp)
        {
            struct lc_push_subscriber out = {
                .ns = svc->ns,
                .group = svc->group,
                .service = svc->name,
                .clusters = s->clusters,
                .ip = s->client->ip,
                .port = s->client->port,
                .agent = s->agent,
                .app = s->app,
            };
            fn(&out, svc->grouped, data);
        }
    }
}

void push_arm_sweep(struct lc_push *p)
{
    unsigned period =
        p->opt.expire_check_ms > 0 ? p->opt.expire_check_ms : 5000;
    uv_timer_start(&p->sweep_timer, on_sweep, period, period);
}
