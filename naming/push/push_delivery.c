/* Deliveries: one payload on its way to one subscriber client, from the
 * first send to the ack or the failure (see transport.h for the states),
 * and the entry points through which transports report on them.
 *
 * A delivery awaiting its ack sits in its transport's FIFO by deadline; one
 * wake-up (push.c) serves every FIFO. At the deadline it is sent again
 * while the transport's policy allows resends, else it fails. A failed
 * delivery is counted (Nacos's failedPush) and, when the transport has a
 * retry delay, the service is pushed to that client again after it, with
 * what the service is by then (Nacos's gRPC push retries; UDP does not
 * retry: the next change pushes again).
 *
 * Costs are Nacos's push cost: from the first change of the task to the
 * ack.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "naming/internal.h"
#include "naming/push/push_internal.h"

struct payload *push_payload_new(struct push_slot *slot, void *data,
                                 const char *key)
{
    struct lc_push_transport *t = slot->t;
    struct payload *pl = calloc(1, sizeof *pl);
    if (pl == NULL || (pl->key = strdup(key)) == NULL) {
        free(pl);
        t->ops->payload_free(t, data);
        return NULL;
    }
    pl->refs = 1;
    pl->slot = slot;
    pl->data = data;
    return pl;
}

void push_payload_unref(struct payload *pl)
{
    if (pl != NULL && --pl->refs == 0) {
        struct lc_push_transport *t = pl->slot->t;
        t->ops->payload_free(t, pl->data);
        free(pl->key);
        free(pl);
    }
}

void push_count_failed(struct lc_push *p)
{
    p->st.total++;
    p->st.failed++;
}

/* ------------------------------------------------------------- the FIFO */

static void await_ack(struct lc_push *p, struct delivery *d, uint64_t now)
{
    struct push_slot *slot = d->pl->slot;
    d->deadline = now + slot->t->policy.ack_timeout_ms;
    d->awaiting = true;
    d->next = NULL;
    d->prev = slot->tail;
    if (slot->tail != NULL) {
        slot->tail->next = d;
    } else {
        slot->head = d;
    }
    slot->tail = d;
    p->n_awaiting++;
}

static void stop_awaiting(struct lc_push *p, struct delivery *d)
{
    struct push_slot *slot = d->pl->slot;
    if (!d->awaiting) {
        return;
    }
    if (d->prev != NULL) {
        d->prev->next = d->next;
    } else {
        slot->head = d->next;
    }
    if (d->next != NULL) {
        d->next->prev = d->prev;
    } else {
        slot->tail = d->prev;
    }
    d->prev = d->next = NULL;
    d->awaiting = false;
    p->n_awaiting--;
}

/* ---------------------------------------------------------------- ending */

/* Unlink and free @d; call the transport's cancel() first when @cancel. */
static void delivery_end(struct lc_push *p, struct delivery *d, bool cancel)
{
    struct push_client *c = d->client;
    if (d->again && !p->closing && push_client_subscribes(c, d->pl->key)) {
        /* The rounds held back while this one was in flight: one push of
         * the latest view, now. */
        struct sub_service *svc;
        HASH_FIND_STR(p->services, d->pl->key, svc);
        if (svc != NULL) {
            push_add_task(p, svc, c->id, 0);
        }
    }
    if (cancel) {
        struct lc_push_transport *t = d->pl->slot->t;
        PUSH_OP(p, t->ops->cancel(t, c->target, &d->pub));
    }
    stop_awaiting(p, d);
    if (d->cprev != NULL) {
        d->cprev->cnext = d->cnext;
    } else {
        c->deliveries = d->cnext;
    }
    if (d->cnext != NULL) {
        d->cnext->cprev = d->cprev;
    }
    HASH_DEL(p->deliveries, d);
    push_payload_unref(d->pl);
    free(d);
}

/* @d failed: count it, schedule the transport's retry, end it. */
static void delivery_fail(struct lc_push *p, struct delivery *d,
                          const char *why, bool cancel, bool retry)
{
    struct push_client *c = d->client;
    const struct lc_push_transport *t = d->pl->slot->t;
    unsigned delay = t->policy.retry_delay_ms;

    lc_infof("push", "%s push to %s failed (%s), delivery %llu", t->ops->name,
             c->id, why, (unsigned long long)d->pub.id);
    push_count_failed(p);
    if (retry && delay > 0 && !p->closing &&
        push_client_subscribes(c, d->pl->key)) {
        struct sub_service *svc;
        HASH_FIND_STR(p->services, d->pl->key, svc);
        if (svc != NULL) {
            push_add_task(p, svc, c->id, delay);
        }
    }
    delivery_end(p, d, cancel);
}

void push_fail_client_deliveries(struct lc_push *p, struct push_client *c,
                                 bool cancel)
{
    while (c->deliveries != NULL) {
        c->deliveries->again = false;
        delivery_fail(p, c->deliveries, "client gone", cancel, false);
    }
}

void push_free_deliveries(struct lc_push *p)
{
    struct delivery *d, *tmp;
    HASH_ITER(hh, p->deliveries, d, tmp)
    {
        d->client->deliveries = NULL;
        HASH_DEL(p->deliveries, d);
        push_payload_unref(d->pl);
        free(d);
    }
    for (unsigned i = 0; i < p->n_slots; i++) {
        p->slots[i].head = p->slots[i].tail = NULL;
    }
    p->n_awaiting = 0;
}

/* ---------------------------------------------------------------- sending */

/* Send @d (next attempt) and act on what the transport says. */
static void delivery_send(struct lc_push *p, struct delivery *d, uint64_t now)
{
    struct lc_push_transport *t = d->pl->slot->t;
    int rv;

    d->pub.attempt++;
    if (d->pub.attempt > 1) {
        p->st.resent++;
    }
    PUSH_OP(p, rv = t->ops->send(t, d->client->target, d->pl->data, &d->pub));
    switch (rv) {
        case 0:
            p->st.sent++;
            await_ack(p, d, now);
            break;
        case LC_PUSH_DEFERRED:
            break; /* lc_push_sent or lc_push_send_failed follows */
        case LC_PUSH_DUPLICATE:
            delivery_end(p, d, true);
            break;
        default:
            delivery_fail(p, d, lc_strerror(rv), true, true);
            break;
    }
}

void push_deliver(struct lc_push *p, struct push_client *c, struct payload *pl,
                  uint64_t started)
{
    struct delivery *d;
    if (pl->slot->t->policy.one_in_flight) {
        for (d = c->deliveries; d != NULL; d = d->cnext) {
            if (strcmp(d->pl->key, pl->key) == 0) {
                d->again = true;
                p->st.merged++;
                return;
            }
        }
    }
    d = calloc(1, sizeof *d);
    if (d == NULL) {
        lc_warnf("push", "out of memory pushing to %s", c->id);
        push_count_failed(p);
        return;
    }
    d->pub.id = ++p->next_id;
    d->client = c;
    d->pl = pl;
    pl->refs++;
    d->started = started;
    d->cnext = c->deliveries;
    if (c->deliveries != NULL) {
        c->deliveries->cprev = d;
    }
    c->deliveries = d;
    HASH_ADD(hh, p->deliveries, pub.id, sizeof d->pub.id, d);
    delivery_send(p, d, push_now(p));
}

/* -------------------------------------------------------------- deadlines */

uint64_t push_next_deadline(const struct lc_push *p)
{
    uint64_t at = UINT64_MAX;
    for (unsigned i = 0; i < p->n_slots; i++) {
        const struct delivery *d = p->slots[i].head;
        if (d != NULL && d->deadline < at) {
            at = d->deadline;
        }
    }
    return at;
}

void push_run_deadlines(struct lc_push *p, uint64_t now)
{
    for (unsigned i = 0; i < p->n_slots; i++) {
        struct push_slot *slot = &p->slots[i];
        struct delivery *d;
        while ((d = slot->head) != NULL && d->deadline <= now) {
            stop_awaiting(p, d);
            if (d->pub.attempt > slot->t->policy.max_resends) {
                delivery_fail(p, d, "no ack", true, true);
            } else {
                delivery_send(p, d, now);
            }
        }
    }
}

/* ----------------------------------------------------------- entry points */

static struct delivery *find(struct lc_push *p, uint64_t id)
{
    struct delivery *d;
    assert(p->in_op == 0); /* never from inside a transport op */
    if (p->closing) {
        return NULL;
    }
    HASH_FIND(hh, p->deliveries, &id, sizeof id, d);
    return d;
}

void lc_push_sent(struct lc_push *p, uint64_t delivery)
{
    struct delivery *d = find(p, delivery);
    if (d == NULL || d->awaiting) {
        return;
    }
    p->st.sent++;
    await_ack(p, d, push_now(p));
    push_schedule(p);
}

int lc_push_acked(struct lc_push *p, uint64_t delivery)
{
    struct delivery *d = find(p, delivery);
    uint64_t cost;
    if (d == NULL) {
        if (!p->closing) {
            p->st.unmatched++;
        }
        return LC_ENOTFOUND;
    }
    cost = push_now(p) - d->started;
    p->st.total++;
    p->cost_sum += cost;
    p->cost_n++;
    if ((long long)cost > p->st.max_cost_ms) {
        p->st.max_cost_ms = (long long)cost;
    }
    delivery_end(p, d, false);
    return 0;
}

void lc_push_send_failed(struct lc_push *p, uint64_t delivery, int err)
{
    struct delivery *d = find(p, delivery);
    if (d == NULL) {
        return;
    }
    if (err == LC_PUSH_DUPLICATE) {
        delivery_end(p, d, false);
        return;
    }
    delivery_fail(p, d, lc_strerror(err), false, true);
    push_schedule(p);
}
