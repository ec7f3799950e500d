/* The gRPC push transport (naming/push/transport.h): Nacos 2.4.3's
 * PushExecutorRpcImpl over RpcPushService.
 *
 * A target is a subscribed connection, by id (the client id the engine
 * knows). Each delivery is one NotifySubscriberRequest
 * {"serviceInfo":{...},"module":"naming","headers":{}} sent on the
 * connection's bi-stream with lc_rpc_conn_request; the client's response
 * acks it (a response with success false, a timeout or a closed
 * connection fails it). The policy is Nacos's: ack timeout 5000 ms
 * (PushConfig's push timeout), no resend, a failed push retried after
 * 1000 ms (PushExecuteTask's retry delay).
 *
 * A connection that closes takes its subscriptions and its deliveries
 * with it (lc_push_grpc_conn_closed, from the connection observer).
 */
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "common/log.h"
#include "naming/grpc/handlers.h"

#define ACK_TIMEOUT_MS 5000
#define RETRY_DELAY_MS 1000
#define KEY_MAX 2048

struct grpc_target;

/* One delivery in flight (its d->data). */
struct pending {
    struct lc_rpc_push push; /* push.data is this */
    struct lc_push_grpc *pg;
    struct grpc_target *tg;
    uint64_t id;
    struct pending *prev, *next; /* in tg's list */
};

struct sub_key {
    char *key; /* lc_service_key_text */
    UT_hash_handle hh;
};

struct grpc_target {
    char *id; /* the connection id */
    struct pending *head;
    struct sub_key *subs; /* for the listing's count */
    UT_hash_handle hh;
};

struct lc_push_grpc {
    struct lc_push_transport base;
    struct lc_naming_grpc *g; /* NULL once closed */
    struct lc_push *p;
    struct grpc_target *targets; /* by id */
    uv_timer_t close_timer;      /* closed to report the close */
    void (*on_closed)(struct lc_push_transport *t);
};

/* ------------------------------------------------------------- payloads */

static int grpc_encode(struct lc_push_transport *t,
                       const struct lc_push_view *v, void **payload)
{
    json_t *info = json_copy(v->info); /* shallow: v->info stays */
    json_t *body = json_object();
    int rv;
    (void)t;
    if (info == NULL || body == NULL) {
        json_decref(info);
        json_decref(body);
        return LC_ENOMEM;
    }
    /* gRPC's ServiceInfo: the bare name beside groupName. */
    json_object_set_new(info, "name", json_string(v->key->name));
    json_object_set_new(body, "serviceInfo", info);
    json_object_set_new(body, "module", json_string("naming"));
    json_object_set_new(body, "headers", json_object());
    /* Rendered once for every subscriber of the round; each connection's
     * message only gains its requestId. */
    rv = lc_rpc_body_new("NotifySubscriberRequest", body,
                         (struct lc_rpc_body **)payload);
    json_decref(body);
    return rv;
}

static void grpc_payload_free(struct lc_push_transport *t, void *payload)
{
    (void)t;
    lc_rpc_body_free(payload);
}

/* ------------------------------------------------------------ sending */

static void pending_unlink(struct pending *w)
{
    if (w->prev != NULL) {
        w->prev->next = w->next;
    } else {
        w->tg->head = w->next;
    }
    if (w->next != NULL) {
        w->next->prev = w->prev;
    }
    w->prev = w->next = NULL;
}

static void on_response(struct lc_rpc_push *push, const struct lc_err *e,
                        const char *resp_type, json_t *body)
{
    struct pending *w = push->data;
    struct lc_push_grpc *pg = w->pg;
    uint64_t id = w->id;
    bool ok = e == NULL && json_is_true(json_object_get(body, "success"));
    int err = e != NULL ? e->code : LC_EPROTO;

    (void)resp_type;
    pending_unlink(w);
    free(w);
    if (ok) {
        lc_push_acked(pg->p, id);
    } else {
        lc_debugf("push", "push %llu not acked: %s", (unsigned long long)id,
                  e != NULL ? e->msg : "response without success");
        lc_push_send_failed(pg->p, id, err);
    }
}

static int grpc_send(struct lc_push_transport *t, void *target, void *payload,
                     struct lc_push_delivery *d)
{
    struct lc_push_grpc *pg = t->impl;
    struct grpc_target *tg = target;
    struct lc_rpc_conn *c;
    struct pending *w;
    int rv;

    if (pg->g == NULL || pg->g->rpc == NULL ||
        (c = lc_rpc_conn_find(pg->g->rpc, tg->id)) == NULL) {
        return LC_ECONN;
    }
    w = calloc(1, sizeof *w);
    if (w == NULL) {
        return LC_ENOMEM;
    }
    w->push.data = w;
    w->pg = pg;
    w->tg = tg;
    w->id = d->id;
    rv = lc_rpc_conn_request_body(c, &w->push, payload,
                                  t->policy.ack_timeout_ms, on_response);
    if (rv != 0) {
        free(w);
        return rv;
    }
    w->next = tg->head;
    if (tg->head != NULL) {
        tg->head->prev = w;
    }
    tg->head = w;
    d->data = w;
    return 0;
}

static void pending_cancel(struct pending *w)
{
    lc_rpc_push_cancel(&w->push);
    pending_unlink(w);
    free(w);
}

static void grpc_cancel(struct lc_push_transport *t, void *target,
                        struct lc_push_delivery *d)
{
    (void)t;
    (void)target;
    if (d->data != NULL) {
        pending_cancel(d->data);
        d->data = NULL;
    }
}

/* ------------------------------------------------------------- targets */

static void target_free(struct lc_push_grpc *pg, struct grpc_target *tg)
{
    struct sub_key *s, *tmp;
    while (tg->head != NULL) {
        pending_cancel(tg->head);
    }
    HASH_ITER(hh, tg->subs, s, tmp)
    {
        HASH_DEL(tg->subs, s);
        free(s->key);
        free(s);
    }
    HASH_DEL(pg->targets, tg);
    free(tg->id);
    free(tg);
}

static void grpc_forget(struct lc_push_transport *t, void *target)
{
    target_free(t->impl, target);
}

int lc_push_grpc_subscribe(struct lc_push_grpc *pg, struct lc_rpc_conn *c,
                           const struct lc_push_subscriber *s)
{
    const char *id = lc_rpc_conn_id(c);
    struct lc_service_key key = {s->ns, s->group, s->service};
    struct grpc_target *tg;
    struct sub_key *sk;
    char text[KEY_MAX];
    bool created = false;
    int rv;

    HASH_FIND_STR(pg->targets, id, tg);
    if (tg == NULL) {
        tg = calloc(1, sizeof *tg);
        if (tg == NULL || (tg->id = strdup(id)) == NULL) {
            free(tg);
            return LC_ENOMEM;
        }
        HASH_ADD_KEYPTR(hh, pg->targets, tg->id, strlen(tg->id), tg);
        created = true;
    }
    rv = lc_push_subscribe(pg->p, &pg->base, id, tg, s);
    if (rv != 0) {
        if (created) {
            target_free(pg, tg); /* the engine dropped its client */
        }
        return rv;
    }
    if (!lc_service_key_text(text, sizeof text, &key)) {
        return 0; /* only the listing's count misses it */
    }
    HASH_FIND_STR(tg->subs, text, sk);
    if (sk != NULL || (sk = calloc(1, sizeof *sk)) == NULL) {
        return 0;
    }
    sk->key = strdup(text);
    if (sk->key == NULL) {
        free(sk);
        return 0;
    }
    HASH_ADD_KEYPTR(hh, tg->subs, sk->key, strlen(sk->key), sk);
    return 0;
}

void lc_push_grpc_unsubscribe(struct lc_push_grpc *pg, const char *conn_id,
                              const struct lc_service_key *key)
{
    struct grpc_target *tg;
    struct sub_key *sk;
    char text[KEY_MAX];

    lc_push_unsubscribe(pg->p, conn_id, key);
    HASH_FIND_STR(pg->targets, conn_id, tg);
    if (tg == NULL || !lc_service_key_text(text, sizeof text, key)) {
        return;
    }
    HASH_FIND_STR(tg->subs, text, sk);
    if (sk != NULL) {
        HASH_DEL(tg->subs, sk);
        free(sk->key);
        free(sk);
    }
}

void lc_push_grpc_conn_closed(struct lc_push_grpc *pg, const char *conn_id)
{
    struct grpc_target *tg;
    HASH_FIND_STR(pg->targets, conn_id, tg);
    if (tg == NULL) {
        return;
    }
    /* Our deliveries first (the engine ends them without cancel()), then
     * the engine's client, then the target it borrowed. */
    while (tg->head != NULL) {
        pending_cancel(tg->head);
    }
    lc_push_client_remove(pg->p, conn_id);
    target_free(pg, tg);
}

unsigned lc_push_grpc_count(struct lc_push_grpc *pg, const char *conn_id)
{
    struct grpc_target *tg;
    HASH_FIND_STR(pg->targets, conn_id, tg);
    return tg != NULL ? HASH_COUNT(tg->subs) : 0;
}

/* ---------------------------------------------------------- lifetime */

static void on_close_timer_closed(uv_handle_t *h)
{
    struct lc_push_grpc *pg = h->data;
    pg->on_closed(&pg->base);
    free(pg);
}

static void grpc_close(struct lc_push_transport *t,
                       void (*on_closed)(struct lc_push_transport *t))
{
    struct lc_push_grpc *pg = t->impl;
    struct grpc_target *tg, *tmp;
    HASH_ITER(hh, pg->targets, tg, tmp)
    {
        target_free(pg, tg);
    }
    if (pg->g != NULL) {
        pg->g->push = NULL; /* no subscription from here on */
        pg->g = NULL;
    }
    pg->on_closed = on_closed;
    uv_close((uv_handle_t *)&pg->close_timer, on_close_timer_closed);
}

static void free_on_close(uv_handle_t *h)
{
    free(h->data);
}

static const struct lc_push_transport_ops grpc_ops = {
    .name = "grpc",
    .encode = grpc_encode,
    .payload_free = grpc_payload_free,
    .send = grpc_send,
    .cancel = grpc_cancel,
    .forget = grpc_forget,
    .close = grpc_close,
};

int lc_push_grpc_new(struct lc_naming_grpc *g)
{
    struct lc_push *p = g->n->push;
    struct lc_push_grpc *pg;
    int rv;

    if (p == NULL) {
        return LC_ESHUTDOWN;
    }
    pg = calloc(1, sizeof *pg);
    if (pg == NULL) {
        return LC_ENOMEM;
    }
    pg->g = g;
    pg->p = p;
    pg->base.ops = &grpc_ops;
    pg->base.impl = pg;
    pg->base.policy = (struct lc_push_policy){
        .ack_timeout_ms = ACK_TIMEOUT_MS,
        .max_resends = 0,
        .retry_delay_ms = RETRY_DELAY_MS,
        .expire_ms = 0, /* a connection's clients go when it closes */
        .one_in_flight = true,
    };
    uv_timer_init(lc_push_loop(p), &pg->close_timer);
    pg->close_timer.data = pg;
    rv = lc_push_add_transport(p, &pg->base);
    if (rv != 0) {
        /* Never registered: close the handle and free here. */
        pg->g = NULL;
        uv_close((uv_handle_t *)&pg->close_timer, free_on_close);
        return rv;
    }
    g->push = pg;
    return 0;
}
