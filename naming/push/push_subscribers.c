/* Push subscribers: clients (one per client id, on one transport) holding
 * one subscriber per service, the service -> subscribers index, expiry, and
 * the fuzzy listing behind /service/subscribers (Nacos's client managers,
 * ClientServiceIndexesManager's subscriber side,
 * NamingSubscriberServiceV2Impl).
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "naming/internal.h"
#include "naming/push/push_internal.h"

static void service_free(struct lc_push *p, struct sub_service *svc)
{
    HASH_DEL(p->services, svc);
    free(svc->key); /* and the other names */
    free(svc);
}

static void sub_free(struct lc_push *p, struct sub *s)
{
    struct sub_service *svc = s->service;
    HASH_DELETE(hh_service, svc->subs, s);
    HASH_DELETE(hh_client, s->client->subs, s);
    if (svc->subs == NULL) {
        service_free(p, svc);
    }
    free(s->clusters);
    free(s->agent);
    free(s->app);
    free(s);
    p->n_subs--;
}

void push_client_drop(struct lc_push *p, struct push_client *c,
                      enum push_drop why)
{
    struct sub *s, *tmp;
    HASH_ITER(hh_client, c->subs, s, tmp)
    {
        sub_free(p, s);
    }
    if (why != PUSH_DROP_CLOSING) {
        push_fail_client_deliveries(p, c, why == PUSH_DROP_EXPIRED);
    }
    if (why == PUSH_DROP_EXPIRED) {
        struct lc_push_transport *t = c->slot->t;
        PUSH_OP(p, t->ops->forget(t, c->target));
    }
    HASH_DEL(p->clients, c);
    free(c->id);
    free(c->ip);
    free(c);
}

bool push_client_subscribes(const struct push_client *c, const char *key)
{
    struct sub *s;
    HASH_FIND(hh_client, c->subs, key, strlen(key), s);
    return s != NULL;
}

static struct push_client *client_new(struct lc_push *p, struct push_slot *slot,
                                      const char *id, void *target,
                                      const struct lc_push_subscriber *in)
{
    struct push_client *c = calloc(1, sizeof *c);
    if (c == NULL || (c->id = strdup(id)) == NULL ||
        (c->ip = strdup(in->ip != NULL ? in->ip : "")) == NULL) {
        if (c != NULL) {
            free(c->id);
        }
        free(c);
        return NULL;
    }
    c->slot = slot;
    c->target = target;
    c->port = in->port;
    HASH_ADD_KEYPTR(hh, p->clients, c->id, strlen(c->id), c);
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

int lc_push_subscribe(struct lc_push *p, struct lc_push_transport *t,
                      const char *client_id, void *target,
                      const struct lc_push_subscriber *in)
{
    struct lc_service_key key = {in->ns, in->group, in->service};
    char text[1600];
    struct push_slot *slot;
    struct push_client *c;
    struct sub_service *svc;
    struct sub *s;
    bool created = false;

    assert(p->in_op == 0);
    if (p->closing) {
        return LC_ESHUTDOWN;
    }
    slot = push_slot_of(p, t);
    if (slot == NULL || !lc_service_key_text(text, sizeof text, &key)) {
        return LC_EINVAL;
    }
    HASH_FIND_STR(p->clients, client_id, c);
    if (c != NULL && c->slot != slot) {
        return LC_EEXIST;
    }
    if (c == NULL) {
        c = client_new(p, slot, client_id, target, in);
        if (c == NULL) {
            return LC_ENOMEM;
        }
        created = true;
    }
    assert(c->target == target);
    c->last_updated = push_now(p);
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
            service_free(p, svc);
        }
        if (created) {
            push_client_drop(p, c, PUSH_DROP_REMOVED);
        }
        return LC_ENOMEM;
    }
    s->client = c;
    s->service = svc;
    HASH_ADD_KEYPTR(hh_client, c->subs, svc->key, strlen(svc->key), s);
    HASH_ADD_KEYPTR(hh_service, svc->subs, c->id, strlen(c->id), s);
    p->n_subs++;
    lc_debugf("push", "%s subscribed to %s (clusters '%s', %s)", c->id,
              svc->grouped, s->clusters, t->ops->name);
    push_add_task(p, svc, c->id, p->opt.delay_ms);
    return 0;
}

int lc_push_unsubscribe(struct lc_push *p, const char *client_id,
                        const struct lc_service_key *key)
{
    char text[1600];
    struct push_client *c;
    struct sub *s = NULL;

    assert(p->in_op == 0);
    HASH_FIND_STR(p->clients, client_id, c);
    if (c != NULL && lc_service_key_text(text, sizeof text, key)) {
        HASH_FIND(hh_client, c->subs, text, strlen(text), s);
    }
    if (s == NULL) {
        return LC_ENOTFOUND;
    }
    sub_free(p, s);
    return 0;
}

void lc_push_client_remove(struct lc_push *p, const char *client_id)
{
    struct push_client *c;
    assert(p->in_op == 0);
    if (p->closing) {
        return;
    }
    HASH_FIND_STR(p->clients, client_id, c);
    if (c != NULL) {
        push_client_drop(p, c, PUSH_DROP_REMOVED);
    }
}

/* IpPortBasedClient.isExpire: no published instance and not refreshed for
 * the expiry time (clients of transports with one). */
void push_sweep(struct lc_push *p, uint64_t now)
{
    struct push_client *c, *tmp;
    HASH_ITER(hh, p->clients, c, tmp)
    {
        unsigned expire = c->slot->t->policy.expire_ms;
        struct lc_client *pub;
        if (expire == 0 || now - c->last_updated <= expire) {
            continue;
        }
        pub = lc_registry_find_client(p->n->reg, c->id);
        if (pub != NULL && pub->publishes != NULL) {
            continue;
        }
        lc_infof("push", "subscriber client %s expired", c->id);
        push_client_drop(p, c, PUSH_DROP_EXPIRED);
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
