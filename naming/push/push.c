/* The push engine's lifetime, clock and wake-up, statistics, and where
 * changes come in (ServiceChangedEvent). Tasks are in push_tasks.c,
 * deliveries in push_delivery.c, subscribers in push_subscribers.c.
 *
 * One timer wakes the engine for the earliest of three things: the first
 * pending task, the first ack deadline of any transport, the next expiry
 * sweep. Time is read through a clock (uv_now by default) so that tests can
 * drive the engine on simulated time.
 *
 * Closing drops every task and delivery uncounted, closes the transports
 * and the timer, and frees the engine when the last of them reports closed.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "naming/internal.h"
#include "naming/push/push_internal.h"

void lc_push_options_default(struct lc_push_options *o)
{
    *o = (struct lc_push_options){
        .delay_ms = LC_PUSH_DEFAULT_DELAY_MS,
        .expire_check_ms = 5000,
        .paused_poll_ms = 100,
        .slice_us = 10000,
    };
}

/* --------------------------------------------------------------- clock */

static void on_timer(uv_timer_t *t)
{
    push_wake(t->data);
}

static uint64_t uv_clock_now(void *data)
{
    struct lc_push *p = data;
    return uv_now(p->loop);
}

static void uv_clock_arm(void *data, uint64_t at)
{
    struct lc_push *p = data;
    uint64_t now = uv_now(p->loop);
    uv_timer_start(&p->timer, on_timer, at > now ? at - now : 0, 0);
}

uint64_t push_now(struct lc_push *p)
{
    return p->clock.now(p->clock.data);
}

static unsigned sweep_period(const struct lc_push *p)
{
    return p->opt.expire_check_ms > 0 ? p->opt.expire_check_ms : 5000;
}

void push_schedule(struct lc_push *p)
{
    uint64_t at = p->next_sweep;
    uint64_t task = push_next_task(p);
    uint64_t deadline = push_next_deadline(p);

    if (p->closing) {
        return;
    }
    if (task != UINT64_MAX && !p->n->sw.push_enabled) {
        /* PushDelayTaskExecuteEngine: while pushEnabled is false, tasks
         * wait (and keep merging); look again now and then. */
        uint64_t poll = push_now(p) + p->opt.paused_poll_ms;
        task = task > poll ? task : poll;
    }
    at = task < at ? task : at;
    at = deadline < at ? deadline : at;
    if (at < p->armed_at) {
        p->armed_at = at;
        p->clock.arm(p->clock.data, at);
    }
}

void push_wake(struct lc_push *p)
{
    uint64_t now = push_now(p);
    bool yielded = false;
    if (p->closing) {
        return;
    }
    p->armed_at = UINT64_MAX;
    if (now >= p->next_sweep) {
        push_sweep(p, now);
        p->next_sweep = now + sweep_period(p);
    }
    if (p->n->sw.push_enabled) {
        yielded = push_run_tasks(p, now);
    }
    push_run_deadlines(p, now);
    push_schedule(p);
    if (yielded) {
        /* Rounds are due still: after the loop's next poll for I/O. */
        p->armed_at = now + 1;
        p->clock.arm(p->clock.data, now + 1);
    }
}

void push_set_clock(struct lc_push *p, const struct push_clock *c)
{
    uv_timer_stop(&p->timer); /* armed by the previous clock, if any */
    p->clock = *c;
    p->armed_at = UINT64_MAX;
    p->next_sweep = push_now(p) + sweep_period(p);
    push_schedule(p);
}

/* ------------------------------------------------------------- changes */

/* ServiceChangedEvent: push the service to every subscriber. */
static void on_service_changed(const struct lc_event *ev, void *data)
{
    struct lc_naming *n = data;
    struct lc_push *p = n->push;
    struct lc_service_key key = {ev->ns, ev->group, ev->service};
    struct sub_service *svc;
    char text[1600];

    if (p == NULL || p->closing || ev->ns == NULL || ev->group == NULL ||
        ev->service == NULL || !lc_service_key_text(text, sizeof text, &key)) {
        return;
    }
    HASH_FIND_STR(p->services, text, svc);
    if (svc != NULL) {
        push_add_task(p, svc, NULL, p->opt.delay_ms);
    }
}

/* ------------------------------------------------------------ lifetime */

int lc_push_new(struct lc_naming *n, const struct lc_push_options *o,
                struct lc_push **out)
{
    struct lc_push *p = calloc(1, sizeof *p);
    int rv;

    if (p == NULL) {
        return LC_ENOMEM;
    }
    p->n = n;
    p->loop = n->loop;
    if (o != NULL) {
        p->opt = *o;
    } else {
        lc_push_options_default(&p->opt);
    }
    p->st.max_cost_ms = -1;
    p->st.avg_cost_ms = -1;
    rv = lc_bus_subscribe(n->bus, LC_EV_SERVICE_CHANGED, on_service_changed, n);
    if (rv != 0) {
        free(p);
        return rv;
    }
    rv = uv_timer_init(p->loop, &p->timer);
    if (rv != 0) {
        free(p);
        return lc_err_from_uv(rv);
    }
    p->timer.data = p;
    p->open = 1;
    push_set_clock(p, &(struct push_clock){uv_clock_now, uv_clock_arm, p});
    *out = p;
    return 0;
}

void lc_push_set_options(struct lc_push *p, const struct lc_push_options *o)
{
    p->opt = *o;
    if (!p->closing) {
        /* The sweep period restarts; the timer is re-armed for it. */
        p->next_sweep = push_now(p) + sweep_period(p);
        p->armed_at = UINT64_MAX;
        push_schedule(p);
    }
}

uv_loop_t *lc_push_loop(const struct lc_push *p)
{
    return p->loop;
}

struct push_slot *push_slot_of(struct lc_push *p,
                               const struct lc_push_transport *t)
{
    for (unsigned i = 0; i < p->n_slots; i++) {
        if (p->slots[i].t == t) {
            return &p->slots[i];
        }
    }
    return NULL;
}

int lc_push_add_transport(struct lc_push *p, struct lc_push_transport *t)
{
    if (p->closing) {
        return LC_ESHUTDOWN;
    }
    if (p->n_slots == LC_PUSH_MAX_TRANSPORTS) {
        return LC_ENOTSUP;
    }
    p->slots[p->n_slots++] = (struct push_slot){.t = t};
    t->engine = p;
    return 0;
}

static void release(struct lc_push *p)
{
    if (--p->open == 0) {
        void (*cb)(void *) = p->close_cb;
        void *data = p->close_data;
        free(p);
        if (cb != NULL) {
            cb(data);
        }
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    release(h->data);
}

static void on_transport_closed(struct lc_push_transport *t)
{
    release(t->engine);
}

void lc_push_close(struct lc_push *p, void (*cb)(void *data), void *data)
{
    struct push_client *c, *ctmp;

    assert(p->in_op == 0);
    p->closing = true;
    p->close_cb = cb;
    p->close_data = data;
    /* Payloads go while every transport is still whole; then the
     * transports drop their own state for the deliveries and targets. */
    push_free_deliveries(p);
    push_free_tasks(p);
    HASH_ITER(hh, p->clients, c, ctmp)
    {
        push_client_drop(p, c, PUSH_DROP_CLOSING);
    }
    p->open += p->n_slots;
    for (unsigned i = 0; i < p->n_slots; i++) {
        struct lc_push_transport *t = p->slots[i].t;
        t->ops->close(t, on_transport_closed);
    }
    uv_close((uv_handle_t *)&p->timer, on_timer_closed);
}

/* --------------------------------------------------------------- stats */

void lc_push_stats(const struct lc_push *p, struct lc_push_stats *st)
{
    *st = p->st;
    st->avg_cost_ms = p->cost_n > 0 ? (long long)(p->cost_sum / p->cost_n) : -1;
    st->subscribers = p->n_subs;
    st->pending_acks = p->n_awaiting;
}

void lc_push_reset_stats(struct lc_push *p)
{
    /* MetricsMonitor.resetPush. */
    p->st.total = 0;
    p->st.failed = 0;
    p->st.max_cost_ms = -1;
    p->cost_sum = 0;
    p->cost_n = 0;
}

void lc_push_ack_unmatched(struct lc_push *p)
{
    assert(p->in_op == 0);
    p->st.unmatched++;
}

void lc_push_ack_malformed(struct lc_push *p)
{
    assert(p->in_op == 0);
    p->st.malformed++;
}
