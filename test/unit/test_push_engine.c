/* Tests of the push engine alone (naming/push/push*.c) over fake in-process
 * transports, on a simulated clock: no sockets, no real timers. Each test
 * drives time by hand (advance()), so every assertion on when something is
 * sent is exact.
 *
 * Two fakes with different policies stand for the two transports locus
 * has or will have: "udp-like" (one resend after the ack timeout, no retry)
 * and "grpc-like" (no resend, a retry after a delay). A fake records every
 * op the engine calls, keeps a marker per delivery in d->data (so a leaked
 * or doubly dropped per-delivery state shows), and counts its payloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "naming/internal.h"
#include "test/support/fixture_naming.h"
#include "naming/push/push.h"
#include "naming/push/push_internal.h"
#include "naming/push/transport.h"

#define DELAY 20
#define MAX_SENDS 128
#define MAX_IDS 256

struct fake_target {
    const char *id;
    unsigned forgotten;
};

struct fake_payload {
    uint64_t round;
    char clusters[64];
    size_t hosts;
    struct fake *f;
};

struct sent {
    uint64_t id;
    unsigned attempt;
    struct fake_target *target;
    uint64_t round;
    size_t hosts;
    uint64_t at;
};

struct fake {
    struct lc_push_transport base;
    struct env *e;
    const char *name;
    int send_rv; /* what send() answers */
    struct sent sends[MAX_SENDS];
    unsigned n_sends;
    unsigned encodes, live_payloads, cancels, forgets;
    bool mark[MAX_IDS]; /* per-delivery state is live */
    bool closed;
    unsigned calls_after_close;
    void (*on_closed)(struct lc_push_transport *t);
    struct lc_push_transport_ops ops;
};

struct env {
    uv_loop_t loop;
    struct lc_naming *n;
    uint64_t now;
    uint64_t wake_at;
    struct fake udp, grpc;
    bool closed;
    unsigned close_cbs;
};

/* ------------------------------------------------------------ the clock */

static uint64_t sim_now(void *data)
{
    return ((struct env *)data)->now;
}

static void sim_arm(void *data, uint64_t at)
{
    ((struct env *)data)->wake_at = at;
}

/* Move time on by @ms, waking the engine at every time it asked for. */
static void advance(struct env *e, uint64_t ms)
{
    uint64_t end = e->now + ms;
    while (e->wake_at <= end) {
        if (e->wake_at > e->now) {
            e->now = e->wake_at;
        }
        e->wake_at = UINT64_MAX;
        push_wake(e->n->push);
    }
    e->now = end;
}

/* ------------------------------------------------------- fake transport */

static struct fake *fake_of(struct lc_push_transport *t)
{
    return t->impl;
}

static int fake_encode(struct lc_push_transport *t,
                       const struct lc_push_view *v, void **payload)
{
    struct fake *f = fake_of(t);
    struct fake_payload *pl = calloc(1, sizeof *pl);
    if (f->closed) {
        f->calls_after_close++;
    }
    assert_non_null(pl);
    assert_non_null(v->info);
    assert_string_equal(json_string_value(json_object_get(v->info, "clusters")),
                        v->clusters);
    pl->round = v->round;
    snprintf(pl->clusters, sizeof pl->clusters, "%s", v->clusters);
    pl->hosts = json_array_size(json_object_get(v->info, "hosts"));
    pl->f = f;
    f->encodes++;
    f->live_payloads++;
    *payload = pl;
    return 0;
}

static void fake_payload_free(struct lc_push_transport *t, void *payload)
{
    struct fake *f = fake_of(t);
    struct fake_payload *pl = payload;
    assert_ptr_equal(pl->f, f);
    assert_true(f->live_payloads > 0);
    f->live_payloads--;
    free(pl);
}

static int fake_send(struct lc_push_transport *t, void *target, void *payload,
                     struct lc_push_delivery *d)
{
    struct fake *f = fake_of(t);
    struct fake_payload *pl = payload;
    struct sent *s;
    if (f->closed) {
        f->calls_after_close++;
    }
    assert_true(d->id < MAX_IDS);
    assert_true(f->n_sends < MAX_SENDS);
    s = &f->sends[f->n_sends++];
    *s = (struct sent){d->id,     d->attempt, target,
                       pl->round, pl->hosts,  f->e->now};
    if (f->send_rv == 0 || f->send_rv == LC_PUSH_DEFERRED) {
        /* Keep state for the delivery, as a real transport does. */
        if (d->data == NULL) {
            assert_false(f->mark[d->id]);
            f->mark[d->id] = true;
            d->data = &f->mark[d->id];
        }
        assert_ptr_equal(d->data, &f->mark[d->id]);
    }
    return f->send_rv;
}

static void fake_cancel(struct lc_push_transport *t, void *target,
                        struct lc_push_delivery *d)
{
    struct fake *f = fake_of(t);
    (void)target;
    if (f->closed) {
        f->calls_after_close++;
    }
    f->cancels++;
    if (d->data != NULL) {
        assert_ptr_equal(d->data, &f->mark[d->id]);
        assert_true(f->mark[d->id]);
        f->mark[d->id] = false;
        d->data = NULL;
    }
}

static void fake_forget(struct lc_push_transport *t, void *target)
{
    struct fake *f = fake_of(t);
    if (f->closed) {
        f->calls_after_close++;
    }
    f->forgets++;
    ((struct fake_target *)target)->forgotten++;
}

static void fake_close(struct lc_push_transport *t,
                       void (*on_closed)(struct lc_push_transport *t))
{
    struct fake *f = fake_of(t);
    if (f->closed) {
        f->calls_after_close++;
    }
    f->closed = true;
    f->on_closed = on_closed;
    /* Drop every per-delivery state, as a closing transport does. */
    memset(f->mark, 0, sizeof f->mark);
}

static void fake_init(struct env *e, struct fake *f, const char *name,
                      struct lc_push_policy policy)
{
    memset(f, 0, sizeof *f);
    f->e = e;
    f->name = name;
    f->ops = (struct lc_push_transport_ops){
        .name = name,
        .encode = fake_encode,
        .payload_free = fake_payload_free,
        .send = fake_send,
        .cancel = fake_cancel,
        .forget = fake_forget,
        .close = fake_close,
    };
    f->base.ops = &f->ops;
    f->base.policy = policy;
    f->base.impl = f;
}

/* What the transport does when an ack, a failure or a late send comes: it
 * drops its own state first, then tells the engine. */
static int fake_ack(struct fake *f, uint64_t id)
{
    f->mark[id] = false;
    return lc_push_acked(f->e->n->push, id);
}

static void fake_failed(struct fake *f, uint64_t id, int err)
{
    f->mark[id] = false;
    lc_push_send_failed(f->e->n->push, id, err);
}

static unsigned live_marks(const struct fake *f)
{
    unsigned n = 0;
    for (size_t i = 0; i < MAX_IDS; i++) {
        n += f->mark[i];
    }
    return n;
}

/* ---------------------------------------------------------------- setup */

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    struct lc_push_options o;
    assert_int_equal(uv_loop_init(&e->loop), 0);
    e->n = calloc(1, sizeof *e->n);
    e->n->loop = &e->loop;
    lc_switches_default(&e->n->sw);
    e->n->bus = lc_bus_new();
    e->n->reg = lc_registry_new(e->n->bus);
    lc_push_options_default(&o);
    o.delay_ms = DELAY;
    o.expire_check_ms = 100;
    o.paused_poll_ms = 10;
    assert_int_equal(lc_push_new(e->n, &o, &e->n->push), 0);
    e->now = 1000;
    e->wake_at = UINT64_MAX;
    push_set_clock(e->n->push, &(struct push_clock){sim_now, sim_arm, e});
    fake_init(e, &e->udp, "udp-like",
              (struct lc_push_policy){.ack_timeout_ms = 100,
                                      .max_resends = 1,
                                      .retry_delay_ms = 0,
                                      .expire_ms = 0});
    fake_init(e, &e->grpc, "grpc-like",
              (struct lc_push_policy){.ack_timeout_ms = 50,
                                      .max_resends = 0,
                                      .retry_delay_ms = 30,
                                      .expire_ms = 0});
    assert_int_equal(lc_push_add_transport(e->n->push, &e->udp.base), 0);
    assert_int_equal(lc_push_add_transport(e->n->push, &e->grpc.base), 0);
    *state = e;
    return 0;
}

static void on_engine_closed(void *data)
{
    struct env *e = data;
    e->closed = true;
    e->close_cbs++;
}

/* Close the engine; the fakes report closed from a later "callback". */
static void close_engine(struct env *e)
{
    struct lc_push *p = e->n->push;
    e->n->push = NULL;
    lc_push_close(p, on_engine_closed, e);
    assert_true(e->udp.closed);
    assert_true(e->grpc.closed);
    assert_false(e->closed);
    /* Every payload went before the transports were closed. */
    assert_int_equal(e->udp.live_payloads, 0);
    assert_int_equal(e->grpc.live_payloads, 0);
    e->udp.on_closed(&e->udp.base);
    e->grpc.on_closed(&e->grpc.base);
    uv_run(&e->loop, UV_RUN_DEFAULT); /* the engine's timer closes */
    assert_true(e->closed);
}

static int teardown(void **state)
{
    struct env *e = *state;
    if (e->n->push != NULL) {
        close_engine(e);
    }
    assert_int_equal(e->close_cbs, 1);
    assert_int_equal(e->udp.calls_after_close, 0);
    assert_int_equal(e->grpc.calls_after_close, 0);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    lc_registry_free(e->n->reg);
    lc_bus_free(e->n->bus);
    free(e->n);
    free(e);
    return 0;
}

static void subscribe(struct env *e, struct fake *f, struct fake_target *t,
                      const char *service, const char *clusters)
{
    struct lc_push_subscriber s = {
        .ns = "public",
        .group = "DEFAULT_GROUP",
        .service = service,
        .clusters = clusters,
        .ip = "127.0.0.1",
        .port = 1,
        .agent = "test",
        .app = "",
    };
    assert_int_equal(lc_push_subscribe(e->n->push, &f->base, t->id, t, &s), 0);
}

/* A persistent instance 127.0.0.<host>:<port> in @cluster of @service: one
 * ServiceChangedEvent. */
static void publish(struct env *e, const char *service, int host, int port,
                    const char *cluster)
{
    char ip[32];
    snprintf(ip, sizeof ip, "127.0.0.%d", host);
    lc_fixture_publish(e->n, service, ip, port, cluster);
}

static struct lc_push_stats stats(struct env *e)
{
    struct lc_push_stats st;
    lc_push_stats(e->n->push, &st);
    return st;
}

static const struct sent *last(const struct fake *f)
{
    assert_true(f->n_sends > 0);
    return &f->sends[f->n_sends - 1];
}

/* Subscribe @t and ack its first push, so that later tests start clean. */
static void subscribe_acked(struct env *e, struct fake *f,
                            struct fake_target *t, const char *service,
                            const char *clusters)
{
    unsigned before = f->n_sends;
    subscribe(e, f, t, service, clusters);
    advance(e, DELAY);
    assert_int_equal(f->n_sends, before + 1);
    assert_int_equal(fake_ack(f, last(f)->id), 0);
}

/* ---------------------------------------------------------------- tests */

/* A burst of changes inside one delay window is one round, sent at the
 * first change + delay with everything in it; a change after that round
 * starts a new window. */
static void test_burst_is_one_round(void **state)
{
    struct env *e = *state;
    struct fake_target a = {"a:1#true", 0};
    struct fake *f = &e->udp;
    uint64_t t0;

    subscribe_acked(e, f, &a, "svc", "");
    t0 = e->now;
    for (int i = 1; i <= 20; i++) {
        publish(e, "svc", i, 80, "DEFAULT");
    }
    advance(e, 5);
    for (int i = 21; i <= 25; i++) {
        publish(e, "svc", i, 80, "DEFAULT");
    }
    publish(e, "other", 1, 80, "DEFAULT"); /* no subscriber: no round */
    advance(e, DELAY - 6);
    assert_int_equal(f->n_sends, 1);
    advance(e, 1);
    assert_int_equal(f->n_sends, 2);
    assert_int_equal(last(f)->at, t0 + DELAY);
    assert_int_equal(last(f)->hosts, 25);
    assert_int_equal(last(f)->attempt, 1);
    assert_int_equal(stats(e).rounds, 2);
    assert_int_equal(f->encodes, 2);
    assert_int_equal(fake_ack(f, last(f)->id), 0);

    /* Changes at +0 and +10 merge; +25 opens the next window. */
    t0 = e->now;
    publish(e, "svc", 30, 80, "DEFAULT");
    advance(e, 10);
    publish(e, "svc", 31, 80, "DEFAULT");
    advance(e, 15);
    assert_int_equal(f->n_sends, 3);
    assert_int_equal(last(f)->at, t0 + DELAY);
    assert_int_equal(last(f)->hosts, 27);
    assert_int_equal(fake_ack(f, last(f)->id), 0);
    publish(e, "svc", 32, 80, "DEFAULT");
    advance(e, 100);
    assert_int_equal(f->n_sends, 4);
    assert_int_equal(last(f)->at, t0 + 25 + DELAY);
    assert_int_equal(last(f)->hosts, 28);
    assert_true(f->sends[3].round > f->sends[2].round);
    assert_int_equal(fake_ack(f, last(f)->id), 0);
    assert_int_equal(stats(e).rounds, 4);
    assert_int_equal(live_marks(f), 0);
}

/* one_in_flight: rounds for a client and service whose push awaits its ack
 * are held back; its ack (or failure) brings one push of the latest view;
 * other clients and services are not held. */
static void test_one_in_flight(void **state)
{
    struct env *e = *state;
    struct fake_target a = {"conn-a", 0}, b = {"conn-b", 0};
    struct fake *f = &e->grpc;
    uint64_t held;

    f->base.policy.one_in_flight = true;
    f->base.policy.ack_timeout_ms = 10000;
    subscribe_acked(e, f, &a, "svc", "");
    subscribe_acked(e, f, &b, "other", "");
    publish(e, "svc", 1, 80, "DEFAULT");
    advance(e, DELAY);
    assert_int_equal(f->n_sends, 3);
    assert_int_equal(last(f)->hosts, 1);
    held = last(f)->id;
    /* Two more rounds while it is in flight: nothing sent to a. */
    publish(e, "svc", 2, 80, "DEFAULT");
    advance(e, DELAY);
    publish(e, "svc", 3, 80, "DEFAULT");
    advance(e, DELAY);
    assert_int_equal(f->n_sends, 3);
    assert_int_equal(stats(e).merged, 2);
    /* b's service is not held. */
    publish(e, "other", 1, 80, "DEFAULT");
    advance(e, DELAY);
    assert_int_equal(f->n_sends, 4);
    assert_ptr_equal(last(f)->target, &b);
    assert_int_equal(fake_ack(f, last(f)->id), 0);
    /* The ack: one push with the latest view, at once. */
    assert_int_equal(fake_ack(f, held), 0);
    advance(e, 1);
    assert_int_equal(f->n_sends, 5);
    assert_ptr_equal(last(f)->target, &a);
    assert_int_equal(last(f)->hosts, 3);
    /* A failure brings the latest view too (and the retry merges in). */
    publish(e, "svc", 4, 80, "DEFAULT");
    advance(e, DELAY);
    assert_int_equal(f->n_sends, 5);
    fake_failed(f, last(f)->id, LC_ECONN);
    advance(e, 1);
    assert_int_equal(f->n_sends, 6);
    assert_int_equal(last(f)->hosts, 4);
    assert_int_equal(fake_ack(f, last(f)->id), 0);
    advance(e, 1000);
    assert_int_equal(f->n_sends, 6);
    assert_int_equal(live_marks(f), 0);
}

/* A wake that used up its slice yields: the rounds still due run 1 ms
 * later, after the loop has polled for I/O (slice 0: one round a wake). */
static void test_slice_yields(void **state)
{
    struct env *e = *state;
    struct fake_target a = {"a:1#true", 0};
    struct fake *f = &e->udp;

    e->n->push->opt.slice_us = 0;
    subscribe_acked(e, f, &a, "s1", "");
    subscribe_acked(e, f, &a, "s2", "");
    subscribe_acked(e, f, &a, "s3", "");
    publish(e, "s1", 1, 80, "DEFAULT");
    publish(e, "s2", 1, 80, "DEFAULT");
    publish(e, "s3", 1, 80, "DEFAULT");
    advance(e, DELAY);
    assert_int_equal(f->n_sends, 4);
    assert_int_equal(stats(e).yields, 1);
    advance(e, 1);
    assert_int_equal(f->n_sends, 5);
    advance(e, 1);
    assert_int_equal(f->n_sends, 6);
    assert_int_equal(stats(e).yields, 2);
    for (unsigned i = 3; i < 6; i++) {
        assert_int_equal(fake_ack(f, f->sends[i].id), 0);
    }
    e->n->push->opt.slice_us = 10000;
    publish(e, "s1", 2, 80, "DEFAULT");
    publish(e, "s2", 2, 80, "DEFAULT");
    advance(e, DELAY);
    assert_int_equal(f->n_sends, 8); /* both in one wake */
    assert_int_equal(stats(e).yields, 2);
}

/* A new subscription pushes to that client only; subscribing again
 * (a poll) does not push again. */
static void test_new_subscription_is_targeted(void **state)
{
    struct env *e = *state;
    struct fake_target a = {"a:1#true", 0}, b = {"b:1#true", 0};
    struct fake *f = &e->udp;

    subscribe_acked(e, f, &a, "svc", "");
    subscribe(e, f, &b, "svc", "");
    subscribe(e, f, &a, "svc", ""); /* a polls: no push */
    advance(e, DELAY - 1);
    assert_int_equal(f->n_sends, 1);
    advance(e, 1);
    assert_int_equal(f->n_sends, 2);
    assert_ptr_equal(last(f)->target, &b);
    assert_int_equal(fake_ack(f, last(f)->id), 0);
    advance(e, 500);
    assert_int_equal(f->n_sends, 2);
    assert_int_equal(stats(e).subscribers, 2);

    /* A targeted task merged with a change: everyone, once. */
    subscribe(e, f, &(struct fake_target){"c:1#true", 0}, "svc2", "");
    subscribe(e, f, &a, "svc2", "");
    publish(e, "svc2", 1, 80, "DEFAULT");
    advance(e, DELAY);
    assert_int_equal(f->n_sends, 4);
    assert_int_equal(fake_ack(f, f->sends[2].id), 0);
    assert_int_equal(fake_ack(f, f->sends[3].id), 0);
    assert_int_equal(stats(e).total, 4);
    assert_int_equal(stats(e).failed, 0);
}

/* An ack ends the delivery and records its cost, from the change to the
 * ack; the engine calls nothing on the transport for it. */
static void test_ack_records_cost(void **state)
{
    struct env *e = *state;
    struct fake_target a = {"a:1#true", 0};
    struct fake *f = &e->udp;
    struct lc_push_stats st;

    subscribe_acked(e, f, &a, "svc", "");
    lc_push_reset_stats(e->n->push);
    assert_int_equal(stats(e).max_cost_ms, -1);
    assert_int_equal(stats(e).avg_cost_ms, -1);
    publish(e, "svc", 1, 80, "DEFAULT");
    advance(e, DELAY);
    assert_int_equal(stats(e).pending_acks, 1);
    advance(e, 7);
    assert_int_equal(fake_ack(f, last(f)->id), 0);
    st = stats(e);
    assert_int_equal(st.total, 1);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.max_cost_ms, DELAY + 7);
    assert_int_equal(st.avg_cost_ms, DELAY + 7);
    assert_int_equal(st.pending_acks, 0);
    assert_int_equal(f->cancels, 0);
    /* The same ack again matches nothing. */
    assert_int_equal(lc_push_acked(e->n->push, last(f)->id), LC_ENOTFOUND);
    assert_int_equal(stats(e).unmatched, 1);
    advance(e, 1000);
    assert_int_equal(f->n_sends, 2); /* no resend */
}

/* No ack: resent after the ack timeout (udp-like: once), then failed,
 * cancelled and not retried. */
static void test_no_ack_resend_then_fail(void **state)
{
    struct env *e = *state;
    struct fake_target a = {"a:1#true", 0};
    struct fake *f = &e->udp;
    struct lc_push_stats st;
    uint64_t t0 = e->now;

    subscribe(e, f, &a, "svc", "");
    advance(e, DELAY + 99);
    assert_int_equal(f->n_sends, 1);
    advance(e, 1);
    assert_int_equal(f->n_sends, 2);
    assert_int_equal(f->sends[1].id, f->sends[0].id);
    assert_int_equal(f->sends[1].attempt, 2);
    assert_int_equal(f->sends[1].round, f->sends[0].round);
    assert_int_equal(f->sends[1].at, t0 + DELAY + 100);
    assert_int_equal(f->cancels, 0);
    advance(e, 99);
    assert_int_equal(stats(e).pending_acks, 1);
    advance(e, 1);
    st = stats(e);
    assert_int_equal(st.total, 1);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.sent, 2);
    assert_int_equal(st.resent, 1);
    assert_int_equal(st.pending_acks, 0);
    assert_int_equal(f->cancels, 1);
    assert_int_equal(live_marks(f), 0);
    advance(e, 5000);
    assert_int_equal(f->n_sends, 2);
    /* A late ack matches nothing. */
    assert_int_equal(lc_push_acked(e->n->push, f->sends[0].id), LC_ENOTFOUND);

    /* grpc-like: no resend; failed at the timeout, then a fresh push
     * (a new delivery, re-rendered) after the retry delay. */
    {
        struct fake *g = &e->grpc;
        struct fake_target x = {"conn-x", 0};
        t0 = e->now;
        subscribe(e, g, &x, "svc", "");
        advance(e, DELAY + 50);
        assert_int_equal(g->n_sends, 1);
        assert_int_equal(stats(e).failed, 2);
        assert_int_equal(g->cancels, 1);
        publish(e, "svc", 9, 80, "DEFAULT"); /* merges into the retry */
        advance(e, 19);
        assert_int_equal(g->n_sends, 1);
        advance(e, 1);
        assert_int_equal(g->n_sends, 2);
        assert_int_equal(g->sends[1].at, t0 + DELAY + 50 + DELAY);
        assert_true(g->sends[1].id != g->sends[0].id);
        assert_int_equal(g->sends[1].attempt, 1);
        assert_int_equal(g->sends[1].hosts, 1);
        assert_int_equal(fake_ack(g, g->sends[1].id), 0);
        assert_int_equal(stats(e).total, 3);
        assert_int_equal(stats(e).failed, 2);
        advance(e, 1000);
        assert_int_equal(g->n_sends, 2);
    }
}

/* The transport reports failures: at once (send's return), later
 * (lc_push_send_failed after a deferred send), or a duplicate. */
static void test_transport_send_failure(void **state)
{
    struct env *e = *state;
    struct fake_target a = {"a:1#true", 0}, x = {"conn-x", 0};
    struct fake *f = &e->udp, *g = &e->grpc;
    struct lc_push_stats st;

    /* At once: failed, not awaiting an ack, not retried (udp-like). */
    f->send_rv = LC_ECONN;
    subscribe(e, f, &a, "svc", "");
    advance(e, DELAY);
    st = stats(e);
    assert_int_equal(st.total, 1);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.sent, 0);
    assert_int_equal(st.pending_acks, 0);
    advance(e, 1000);
    assert_int_equal(f->n_sends, 1);

    /* Deferred: the ack timeout starts when the transport says it went
     * out. */
    f->send_rv = LC_PUSH_DEFERRED;
    publish(e, "svc", 1, 80, "DEFAULT");
    advance(e, DELAY);
    assert_int_equal(f->n_sends, 2);
    assert_int_equal(stats(e).pending_acks, 0);
    advance(e, 300);
    assert_int_equal(f->n_sends, 2); /* no deadline yet */
    lc_push_sent(e->n->push, last(f)->id);
    assert_int_equal(stats(e).sent, 1);
    assert_int_equal(stats(e).pending_acks, 1);
    f->send_rv = 0;
    advance(e, 99);
    assert_int_equal(f->n_sends, 2);
    advance(e, 1);
    assert_int_equal(f->n_sends, 3); /* the resend */
    assert_int_equal(fake_ack(f, last(f)->id), 0);
    assert_int_equal(stats(e).total, 2);
    assert_int_equal(stats(e).failed, 1);

    /* Deferred, then failed later: counted, and retried (grpc-like). */
    g->send_rv = LC_PUSH_DEFERRED;
    subscribe(e, g, &x, "svc", "");
    advance(e, DELAY);
    assert_int_equal(g->n_sends, 1);
    g->send_rv = 0;
    advance(e, 5);
    fake_failed(g, g->sends[0].id, LC_ECONN);
    assert_int_equal(stats(e).failed, 2);
    assert_int_equal(g->cancels, 0);
    advance(e, 29);
    assert_int_equal(g->n_sends, 1);
    advance(e, 1);
    assert_int_equal(g->n_sends, 2);
    assert_int_equal(fake_ack(g, g->sends[1].id), 0);

    /* A duplicate is dropped, uncounted. */
    st = stats(e);
    f->send_rv = LC_PUSH_DUPLICATE;
    publish(e, "svc", 2, 80, "DEFAULT");
    advance(e, DELAY);
    assert_int_equal(stats(e).total, st.total);
    assert_int_equal(stats(e).failed, st.failed);
    assert_int_equal(stats(e).pending_acks, 1); /* x's push */
    assert_int_equal(fake_ack(g, last(g)->id), 0);
    assert_int_equal(stats(e).total, st.total + 1);
    assert_int_equal(live_marks(f), 0);
    assert_int_equal(live_marks(g), 0);
}

/* Unsubscribing leaves a delivery in flight alone (no retry once it is
 * gone); removing the client ends its deliveries without calling the
 * transport; expiry cancels them and forgets the target. */
static void test_unsubscribe_and_forget_pending(void **state)
{
    struct env *e = *state;
    struct fake_target x = {"conn-x", 0}, y = {"conn-y", 0};
    struct fake_target a = {"a:1#true", 0};
    struct fake *f = &e->udp, *g = &e->grpc;
    struct lc_service_key key = {"public", "DEFAULT_GROUP", "svc"};
    struct lc_push_options o;

    subscribe(e, g, &x, "svc", "");
    advance(e, DELAY);
    assert_int_equal(lc_push_unsubscribe(e->n->push, "conn-x", &key), 0);
    assert_int_equal(lc_push_unsubscribe(e->n->push, "conn-x", &key),
                     LC_ENOTFOUND);
    assert_int_equal(stats(e).subscribers, 0);
    assert_int_equal(fake_ack(g, g->sends[0].id), 0);
    assert_int_equal(stats(e).failed, 0);

    /* Unsubscribed while awaiting: it fails at the timeout, no retry. */
    subscribe(e, g, &x, "svc", "");
    advance(e, DELAY);
    assert_int_equal(lc_push_unsubscribe(e->n->push, "conn-x", &key), 0);
    advance(e, 1000);
    assert_int_equal(g->n_sends, 2);
    assert_int_equal(stats(e).failed, 1);

    /* The transport removes a client with a delivery pending: failed,
     * nothing called back, a late ack is unmatched. */
    subscribe(e, g, &y, "svc", "");
    advance(e, DELAY);
    assert_int_equal(g->n_sends, 3);
    g->mark[last(g)->id] = false; /* the transport dropped its state */
    {
        unsigned cancels = g->cancels;
        lc_push_client_remove(e->n->push, "conn-y");
        assert_int_equal(g->cancels, cancels);
    }
    assert_int_equal(g->forgets, 0);
    assert_int_equal(stats(e).failed, 2);
    assert_int_equal(stats(e).pending_acks, 0);
    assert_int_equal(lc_push_acked(e->n->push, last(g)->id), LC_ENOTFOUND);
    assert_int_equal(stats(e).unmatched, 1);
    lc_push_client_remove(e->n->push, "conn-y"); /* unknown: no-op */

    /* Expiry (udp-like, given one) with a delivery awaiting its ack:
     * cancelled, counted failed, then the target forgotten. */
    e->udp.base.policy.expire_ms = 300;
    e->udp.base.policy.ack_timeout_ms = 1000;
    lc_push_options_default(&o);
    o.delay_ms = DELAY;
    o.expire_check_ms = 100;
    lc_push_set_options(e->n->push, &o); /* sweeps from now, every 100 */
    subscribe(e, f, &a, "svc", "");
    advance(e, DELAY);
    assert_int_equal(f->n_sends, 1);
    assert_int_equal(live_marks(f), 1);
    advance(e, 200);
    subscribe(e, f, &a, "svc", ""); /* a poll keeps it */
    advance(e, 299);
    assert_int_equal(a.forgotten, 0);
    assert_int_equal(stats(e).pending_acks, 1);
    advance(e, 200);
    assert_int_equal(a.forgotten, 1);
    assert_int_equal(f->forgets, 1);
    assert_int_equal(f->cancels, 1);
    assert_int_equal(live_marks(f), 0);
    assert_int_equal(f->n_sends, 1);
    assert_int_equal(stats(e).subscribers, 0);
    assert_int_equal(stats(e).pending_acks, 0);
    assert_int_equal(stats(e).failed, 3);
    assert_int_equal(stats(e).total, stats(e).failed + 1);
}

/* While pushEnabled is off, tasks wait (merging) and run once it is on. */
static void test_paused(void **state)
{
    struct env *e = *state;
    struct fake_target a = {"a:1#true", 0};
    struct fake *f = &e->udp;

    subscribe_acked(e, f, &a, "svc", "");
    e->n->sw.push_enabled = false;
    publish(e, "svc", 1, 80, "DEFAULT");
    advance(e, 500);
    publish(e, "svc", 2, 80, "DEFAULT");
    advance(e, 500);
    assert_int_equal(f->n_sends, 1);
    e->n->sw.push_enabled = true;
    advance(e, 10); /* paused_poll_ms */
    assert_int_equal(f->n_sends, 2);
    assert_int_equal(last(f)->hosts, 2);
    assert_int_equal(fake_ack(f, last(f)->id), 0);
    advance(e, 500);
    assert_int_equal(f->n_sends, 2);
}

/* Subscribers on two transports: one round renders each clusters string
 * once and each transport encodes it once; deliveries share payloads. */
static void test_two_transports(void **state)
{
    struct env *e = *state;
    struct fake_target a = {"a:1#true", 0}, b = {"b:1#true", 0};
    struct fake_target c = {"c:1#true", 0}, x = {"conn-x", 0};
    struct fake *f = &e->udp, *g = &e->grpc;
    struct lc_push_subscriber s = {
        "public", "DEFAULT_GROUP", "svc", "", "", 1, "", ""};

    publish(e, "svc", 1, 80, "A");
    publish(e, "svc", 2, 80, "B");
    subscribe_acked(e, f, &a, "svc", "A");
    subscribe_acked(e, f, &b, "svc", "A");
    subscribe_acked(e, f, &c, "svc", "B");
    subscribe_acked(e, g, &x, "svc", "A");
    f->encodes = g->encodes = 0;
    publish(e, "svc", 3, 80, "A");
    advance(e, DELAY);
    assert_int_equal(f->n_sends, 6);
    assert_int_equal(g->n_sends, 2);
    assert_int_equal(f->encodes, 2); /* "A" and "B" */
    assert_int_equal(g->encodes, 1);
    assert_int_equal(f->live_payloads, 2);
    assert_int_equal(g->live_payloads, 1);
    assert_int_equal(last(g)->round, f->sends[5].round);
    for (unsigned i = 3; i < 6; i++) {
        const struct sent *sn = &f->sends[i];
        assert_int_equal(sn->hosts, sn->target == &c ? 1 : 2);
        assert_int_equal(fake_ack(f, sn->id), 0);
    }
    assert_int_equal(f->live_payloads, 0);
    assert_int_equal(fake_ack(g, last(g)->id), 0);
    assert_int_equal(g->live_payloads, 0);

    /* A client id belongs to one transport. */
    assert_int_equal(
        lc_push_subscribe(e->n->push, &g->base, "a:1#true", &a, &s), LC_EEXIST);
    /* The listing shows every transport's subscribers. */
    assert_int_equal(stats(e).subscribers, 4);
}

/* Closing with deliveries awaiting acks, deferred, and tasks pending: every
 * payload goes, the transports are closed and get no call after that, the
 * close callback fires once, nothing fires after it. */
static void test_close_with_pending(void **state)
{
    struct env *e = *state;
    struct fake_target a = {"a:1#true", 0}, x = {"conn-x", 0};
    struct fake *f = &e->udp, *g = &e->grpc;
    unsigned sends, gsends;

    subscribe(e, f, &a, "svc", "");
    g->send_rv = LC_PUSH_DEFERRED;
    subscribe(e, g, &x, "svc", "");
    advance(e, DELAY);
    assert_int_equal(stats(e).pending_acks, 1);
    assert_int_equal(live_marks(f) + live_marks(g), 2);
    publish(e, "svc", 1, 80, "DEFAULT"); /* a task pending */
    sends = f->n_sends;
    gsends = g->n_sends;
    close_engine(e);
    assert_int_equal(f->n_sends, sends);
    assert_int_equal(g->n_sends, gsends);
    assert_int_equal(f->cancels + g->cancels, 0);
    assert_int_equal(f->forgets + g->forgets, 0);
    assert_int_equal(a.forgotten + x.forgotten, 0);
    assert_int_equal(e->close_cbs, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_burst_is_one_round, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_one_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slice_yields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_subscription_is_targeted,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_ack_records_cost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_ack_resend_then_fail, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_transport_send_failure, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unsubscribe_and_forget_pending,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_paused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_transports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_pending, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
