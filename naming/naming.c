/* The naming module's lifetime: bus, registry, processors. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "naming/clean/instance_meta_clean.h"
#include "naming/internal.h"
#include "naming/push/push.h"
#include "naming/push/udp.h"
#include "naming/store/service_meta.h"
#include "naming/http/forward.h"
#include "naming/http/subscribers_cluster.h"

/* An overlay changed: the instances of its service look different. */
static void on_overlay_change(void *data, const char *key)
{
    struct lc_naming *n = data;
    const char *sep = strchr(key, '\x1e');
    struct lc_service *svc = NULL;
    if (sep == NULL) {
        return;
    }
    lc_imeta_on_overlay(n, key);
    HASH_FIND(hh, n->reg->services, key, (unsigned)(sep - key), svc);
    if (svc != NULL) {
        struct lc_event ev = {.type = LC_EV_SERVICE_CHANGED,
                              .ns = svc->ns,
                              .group = svc->group,
                              .service = svc->name};
        svc->revision++;
        lc_bus_publish(n->bus, &ev);
    }
}

/* Register the four processors with @engine; from here on the engine
 * borrows them. */
static int register_processors(struct lc_naming *n,
                               struct lc_raft_engine *engine)
{
    int rv = lc_statemachine_register(engine, &n->persistent_proc,
                                      &n->persistent_sm);
    if (rv == 0) {
        rv = lc_statemachine_register(engine, &n->service_meta_proc,
                                      &n->service_meta_sm);
    }
    if (rv == 0) {
        rv = lc_statemachine_register(engine, &n->instance_meta_proc,
                                      &n->instance_meta_sm);
    }
    if (rv == 0) {
        rv = lc_statemachine_register(engine, &n->switch_proc,
                                      &n->switch_sm);
    }
    if (rv != 0) {
        lc_statemachine_free(n->persistent_sm);
        lc_statemachine_free(n->service_meta_sm);
        lc_statemachine_free(n->instance_meta_sm);
        lc_statemachine_free(n->switch_sm);
    }
    return rv;
}

int lc_naming_new(uv_loop_t *loop, struct lc_raft_engine *engine,
                  struct lc_naming **out)
{
    struct lc_naming *n = calloc(1, sizeof *n);
    int rv = LC_ENOMEM;
    if (n == NULL) {
        return LC_ENOMEM;
    }
    n->loop = loop;
    n->engine = engine;
    lc_switches_default(&n->sw);
    n->bus = lc_bus_new();
    if (n->bus == NULL) {
        goto err;
    }
    n->reg = lc_registry_new(n->bus);
    if (n->reg == NULL) {
        goto err_after_bus;
    }
    lc_naming_persistent_processor(n, &n->persistent_proc);
    lc_service_meta_processor(n, &n->service_meta_proc);
    lc_kvstore_processor(&n->instance_meta, LC_GROUP_INSTANCE_META,
                         &n->instance_meta_proc);
    lc_naming_switch_processor(n, &n->switch_proc);
    n->instance_meta.on_change = on_overlay_change;
    n->instance_meta.change_data = n;

    /* What owns handles on the loop: each closes itself and frees its own
     * memory in its close callbacks, without touching @n, so a failure can
     * close them and free @n at once. */
    rv = lc_beat_checker_start(n, &n->beats);
    if (rv != 0) {
        goto err_after_registry;
    }
    rv = lc_health_checker_start(n);
    if (rv != 0) {
        goto err_after_beats;
    }
    rv = lc_push_new(n, NULL, &n->push);
    if (rv != 0) {
        goto err_after_health;
    }
    rv = lc_push_udp_new(n->push, NULL, &n->push_udp);
    if (rv != 0) {
        goto err_after_push;
    }
    /* Last: nothing may fail once the engine borrows the processors. */
    rv = register_processors(n, engine);
    if (rv != 0) {
        goto err_after_push;
    }
    *out = n;
    return 0;

err_after_push:
    lc_push_close(n->push, NULL, NULL);
err_after_health:
    lc_health_checker_close(n->hc);
err_after_beats:
    lc_beat_checker_close(n->beats);
err_after_registry:
    lc_registry_free(n->reg);
err_after_bus:
    lc_bus_free(n->bus);
err:
    free(n);
    return rv;
}

void lc_naming_stats(struct lc_naming *n, struct lc_naming_stats *st)
{
    struct lc_client *c, *tmp;
    unsigned long conn_in_registry = 0;
    memset(st, 0, sizeof *st);
    st->services = HASH_COUNT(n->reg->services);
    st->instances = n->reg->n_instances;
    st->clients = HASH_COUNT(n->reg->clients);
    HASH_ITER(hh, n->reg->clients, c, tmp)
    {
        if (c->kind == LC_CLIENT_CONNECTION) {
            conn_in_registry++;
        }
        switch (c->kind) {
            case LC_CLIENT_EPHEMERAL:
                st->ephemeral_clients++;
                break;
            case LC_CLIENT_PERSISTENT:
                st->persistent_clients++;
                break;
            case LC_CLIENT_CONNECTION:
                /* a batch's companions "<id>#b<k>" are not connections */
                st->connection_clients += strchr(c->id, '#') == NULL;
                break;
            case LC_CLIENT_SYNCED:
                break;
        }
    }
    if (n->conn_count != NULL) {
        /* Nacos counts a ConnectionBasedClient per connection, publishing
         * or not. */
        st->connection_clients = n->conn_count(n->conn_count_data);
        st->clients = st->clients - conn_in_registry + st->connection_clients;
    }
    if (n->push != NULL) {
        struct lc_push_stats ps;
        lc_push_stats(n->push, &ps);
        st->subscribers = ps.subscribers;
    }
}

void lc_naming_set_conn_count(struct lc_naming *n,
                              unsigned (*count)(void *data), void *data)
{
    n->conn_count = count;
    n->conn_count_data = data;
}

void lc_naming_set_peer_identity(struct lc_naming *n, const char *key,
                                 const char *value)
{
    if (key == NULL || key[0] == '\0' || value == NULL) {
        n->peer_id_key[0] = '\0';
        n->peer_id_value[0] = '\0';
        return;
    }
    lc_strlcpy(n->peer_id_key, key, sizeof n->peer_id_key);
    lc_strlcpy(n->peer_id_value, value, sizeof n->peer_id_value);
}

void lc_naming_set_members(struct lc_naming *n,
                           const struct lc_members *members,
                           unsigned timeout_ms)
{
    n->members = members;
    n->members_timeout_ms = timeout_ms;
}

void lc_naming_set_gate(struct lc_naming *n, bool (*ready)(void *data),
                        void *data)
{
    n->gate = ready;
    n->gate_data = data;
}

bool lc_naming_ready(struct lc_naming *n)
{
    return lc_raft_engine_caught_up(n->engine) &&
           (n->gate == NULL || n->gate(n->gate_data));
}

void lc_naming_configure_push(struct lc_naming *n, unsigned delay_ms,
                              unsigned ack_timeout_ms,
                              unsigned client_expired_ms)
{
    struct lc_push_options o;
    struct lc_push_udp_options uo;
    if (n->push == NULL) {
        return;
    }
    lc_push_options_default(&o);
    o.delay_ms = delay_ms;
    lc_push_set_options(n->push, &o);
    lc_push_udp_options_default(&uo);
    uo.ack_timeout_ms = ack_timeout_ms;
    uo.client_expired_ms = client_expired_ms;
    lc_push_udp_set_options(n->push_udp, &uo);
}

static void on_push_closed(void *data)
{
    struct lc_naming *n = data;
    if (n->close_cb != NULL) {
        n->close_cb(n->close_data);
    }
}

void lc_naming_detach_raft(struct lc_naming *n)
{
    if (n == NULL) {
        return;
    }
    lc_statemachine_detach(n->persistent_sm);
    lc_statemachine_detach(n->service_meta_sm);
    lc_statemachine_detach(n->instance_meta_sm);
    lc_statemachine_detach(n->switch_sm);
}

void lc_naming_close(struct lc_naming *n, void (*cb)(void *data), void *data)
{
    struct lc_push *p = n->push;
    n->push = NULL; /* no new pushes or subscriptions from here on */
    lc_ns_forward_close(n->forward); /* forwards under way answer */
    n->forward = NULL;
    n->push_udp = NULL;
    lc_beat_checker_close(n->beats); /* nor expiries, nor checks */
    n->beats = NULL;
    if (n->hc != NULL) {
        lc_health_checker_close(n->hc);
        n->hc = NULL;
    }
    n->close_cb = cb;
    n->close_data = data;
    if (p != NULL) {
        lc_push_close(p, on_push_closed, n);
    } else if (cb != NULL) {
        cb(data);
    }
}

void lc_naming_free(struct lc_naming *n)
{
    if (n == NULL) {
        return;
    }
    lc_beat_checker_close(n->beats);
    lc_ns_forward_close(n->forward);
    /* A push engine still open owns handles on the loop: close it first. */
    assert(n->push == NULL);
    if (n->cleaner != NULL) {
        lc_service_cleaner_close(n->cleaner);
    }
    lc_info_cache_free(n->info_cache);
    lc_imeta_cleaner_free(n->imeta);
    lc_statemachine_free(n->persistent_sm);
    lc_statemachine_free(n->service_meta_sm);
    lc_statemachine_free(n->instance_meta_sm);
    lc_statemachine_free(n->switch_sm);
    if (n->hc != NULL) {
        lc_health_checker_close(n->hc);
    }
    lc_switches_clear(&n->sw);
    lc_kvstore_clear(&n->instance_meta);
    lc_service_meta_clear(n);
    lc_registry_free(n->reg);
    lc_bus_free(n->bus);
    free(n);
}

int lc_naming_start_cleaners(struct lc_naming *n,
                             const struct lc_naming_clean_options *o)
{
    if (n->cleaner != NULL) {
        return LC_EEXIST;
    }
    return lc_service_cleaner_start(n, o, &n->cleaner);
}
