/* The simulated network layer and clock of engine_sim.h: a struct lc_net
 * whose peer channel stays in the process, and the engines' timers and
 * messages as events on the fixture's clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "test/support/engine_sim.h"

enum ev_type {
    EV_TIMER = 1, /* an engine timer fires */
    EV_REQUEST,   /* a request arrives at @to */
    EV_RESPONSE,  /* an answer arrives at @to */
    EV_LINK_UP,   /* @from's link to @to is connected */
    EV_NET_CLOSED /* @to's network layer finished closing */
};

struct lc_sim_event {
    uint64_t due;
    uint64_t seq;
    int type;
    unsigned from, to;
    uint64_t epoch; /* of the link the message travels on */
    uint64_t corr;
    uint8_t *buf; /* the packed message */
    size_t len;
    uv_timer_t *timer;
    uv_timer_cb cb;
    uint64_t repeat;
    lc_net_close_cb close_cb;
    struct lc_sim_event *next;
};

/* A request delivered to an engine, until it answers. */
struct sim_request {
    struct lc_net_request req; /* first: what the engine holds */
    unsigned from;             /* who asked */
    uint64_t epoch;            /* of from's link when it arrived */
};

/* ---------------------------------------------------------------- events */

static void push(struct lc_sim *s, struct lc_sim_event *ev)
{
    struct lc_sim_event **p = &s->events;
    ev->seq = s->seq++;
    while (*p != NULL && (*p)->due <= ev->due) {
        p = &(*p)->next;
    }
    ev->next = *p;
    *p = ev;
}

static struct lc_sim_event *event_new(struct lc_sim *s, int type,
                                      uint64_t delay)
{
    struct lc_sim_event *ev = calloc(1, sizeof *ev);
    assert_non_null(ev);
    ev->type = type;
    ev->due = s->f.time + delay;
    return ev;
}

static void event_free(struct lc_sim_event *ev)
{
    free(ev->buf);
    free(ev);
}

static void remove_timer(struct lc_sim *s, uv_timer_t *t)
{
    struct lc_sim_event **p = &s->events;
    while (*p != NULL) {
        struct lc_sim_event *ev = *p;
        if (ev->type == EV_TIMER && ev->timer == t) {
            *p = ev->next;
            event_free(ev);
        } else {
            p = &ev->next;
        }
    }
}

/* The engines' deferred work: their uv_check handles (and close callbacks).
 * Nothing else is active on the loop, so it settles. */
void lc_sim__run_checks(struct lc_sim *s)
{
    for (int k = 0; k < 1000; k++) {
        if (uv_run(&s->loop, UV_RUN_NOWAIT) == 0) {
            return;
        }
    }
    fail_msg("the engines' deferred work does not settle");
}

static int index_of(const struct lc_sim *s, const char *address)
{
    for (unsigned i = 0; address != NULL && i < s->n; i++) {
        if (strcmp(s->nodes[i].address, address) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static uint8_t *pack(const ProtobufCMessage *msg, size_t *len)
{
    uint8_t *buf;
    *len = protobuf_c_message_get_packed_size(msg);
    buf = malloc(*len > 0 ? *len : 1);
    assert_non_null(buf);
    protobuf_c_message_pack(msg, buf);
    return buf;
}

/* Fail @n's calls to @to (all when @to is s->n) with @status, in the order
 * they were sent. They all leave the table before the first callback runs,
 * which may send again. */
static void fail_calls(struct lc_sim_node *n, unsigned to, int status)
{
    struct lc_net_call **failed;
    struct lc_net_call *call;
    struct lc_net_call *tmp;
    size_t count = 0;

    failed = calloc(HASH_COUNT(n->calls) + 1, sizeof *failed);
    assert_non_null(failed);
    HASH_ITER(hh, n->calls, call, tmp)
    {
        if (to == n->sim->n || call->peer == (void *)(uintptr_t)(to + 1)) {
            HASH_DELETE(hh, n->calls, call);
            failed[count++] = call;
        }
    }
    for (size_t k = 0; k < count; k++) {
        failed[k]->cb(failed[k], status, NULL);
        free(failed[k]);
    }
    free(failed);
}

static void link_up(struct lc_sim *s, unsigned i, unsigned j)
{
    struct lc_sim_node *n = &s->nodes[i];
    if (s->link[i][j] || n->dead || s->nodes[j].dead || n->net_closed) {
        return;
    }
    s->link[i][j] = true;
    s->epoch[i][j]++;
    n->n_peer_up++;
    n->cbs.peer_up(n->cbs.data, s->nodes[j].address);
}

static void link_down(struct lc_sim *s, unsigned i, unsigned j)
{
    struct lc_sim_node *n = &s->nodes[i];
    if (!s->link[i][j]) {
        return;
    }
    s->link[i][j] = false;
    fail_calls(n, j, LC_ECONN);
    if (!n->net_closed) {
        n->n_peer_down++;
        n->cbs.peer_down(n->cbs.data, s->nodes[j].address);
    }
}

static void deliver_request(struct lc_sim *s, struct lc_sim_event *ev)
{
    struct lc_sim_node *n = &s->nodes[ev->to];
    Locus__Raft__PeerRequest *msg;
    struct sim_request *sr;

    if (!s->link[ev->from][ev->to] || s->epoch[ev->from][ev->to] != ev->epoch ||
        n->net_closed) {
        return; /* the link it travelled on is gone */
    }
    msg = locus__raft__peer_request__unpack(NULL, ev->len, ev->buf);
    assert_non_null(msg);
    sr = calloc(1, sizeof *sr);
    assert_non_null(sr);
    sr->req.link = sr;
    sr->req.corr = ev->corr;
    sr->from = ev->from;
    sr->epoch = ev->epoch;
    n->n_served++;
    s->n_messages++;
    n->cbs.request(n->cbs.data, &sr->req, msg);
    locus__raft__peer_request__free_unpacked(msg, NULL);
}

static void deliver_response(struct lc_sim *s, struct lc_sim_event *ev)
{
    struct lc_sim_node *n = &s->nodes[ev->to];
    Locus__Raft__PeerResponse *msg;
    struct lc_net_call *call = NULL;

    /* Answers travel back on the asker's link. */
    if (!s->link[ev->to][ev->from] || s->epoch[ev->to][ev->from] != ev->epoch ||
        n->net_closed) {
        return;
    }
    HASH_FIND(hh, n->calls, &ev->corr, sizeof ev->corr, call);
    if (call == NULL) {
        return; /* canceled */
    }
    HASH_DELETE(hh, n->calls, call);
    s->n_messages++;
    msg = locus__raft__peer_response__unpack(NULL, ev->len, ev->buf);
    if (msg == NULL) {
        call->cb(call, LC_EPROTO, NULL);
    } else {
        call->cb(call, 0, msg);
        locus__raft__peer_response__free_unpacked(msg, NULL);
    }
    free(call);
}

static void run_event(struct lc_sim *s, struct lc_sim_event *ev)
{
    switch (ev->type) {
        case EV_TIMER:
            if (ev->repeat > 0) {
                /* As libuv: re-armed before its callback runs. */
                struct lc_sim_event *again = event_new(s, EV_TIMER, ev->repeat);
                again->timer = ev->timer;
                again->cb = ev->cb;
                again->repeat = ev->repeat;
                push(s, again);
            }
            ev->cb(ev->timer);
            break;
        case EV_REQUEST:
            deliver_request(s, ev);
            break;
        case EV_RESPONSE:
            deliver_response(s, ev);
            break;
        case EV_LINK_UP:
            link_up(s, ev->from, ev->to);
            break;
        case EV_NET_CLOSED:
            ev->close_cb(s->nodes[ev->to].net);
            break;
    }
}

/* Run every event due by now, each followed by the deferred work. */
void lc_sim__run_due(struct lc_sim *s)
{
    while (s->events != NULL && s->events->due <= s->f.time) {
        struct lc_sim_event *ev = s->events;
        s->events = ev->next;
        run_event(s, ev);
        event_free(ev);
        lc_sim__run_checks(s);
    }
}

void lc_sim__drop_events(struct lc_sim *s)
{
    while (s->events != NULL) {
        struct lc_sim_event *ev = s->events;
        s->events = ev->next;
        event_free(ev);
    }
}

void lc_sim__drain(struct lc_sim *s)
{
    while (s->events != NULL) {
        struct lc_sim_event *ev = s->events;
        s->events = ev->next;
        run_event(s, ev);
        event_free(ev);
        lc_sim__run_checks(s);
    }
}

/* ----------------------------------------------- the engines' environment */

static uint64_t sim_now(void *data)
{
    struct lc_sim_node *n = data;
    return n->sim->f.time;
}

static void sim_timer_start(void *data, uv_timer_t *t, uv_timer_cb cb,
                            uint64_t timeout, uint64_t repeat)
{
    struct lc_sim_node *n = data;
    struct lc_sim_event *ev;
    remove_timer(n->sim, t);
    ev = event_new(n->sim, EV_TIMER, timeout);
    ev->timer = t;
    ev->cb = cb;
    ev->repeat = repeat;
    push(n->sim, ev);
}

static void sim_timer_stop(void *data, uv_timer_t *t)
{
    struct lc_sim_node *n = data;
    remove_timer(n->sim, t);
}

static int sim_listen(struct lc_net *net, char *errmsg, size_t errlen)
{
    (void)net;
    (void)errmsg;
    (void)errlen;
    return 0;
}

static void sim_connect(struct lc_net *net)
{
    struct lc_sim_node *n = net->impl;
    struct lc_sim *s = n->sim;
    for (unsigned j = 0; j < s->n; j++) {
        if (j != n->i) {
            struct lc_sim_event *ev = event_new(s, EV_LINK_UP, 0);
            ev->from = n->i;
            ev->to = j;
            push(s, ev);
        }
    }
}

static bool sim_peer_up(struct lc_net *net, const char *address)
{
    struct lc_sim_node *n = net->impl;
    int j = index_of(n->sim, address);
    return j >= 0 && n->sim->link[n->i][j];
}

static int sim_send(struct lc_net *net, const char *address,
                    const Locus__Raft__PeerRequest *msg,
                    struct lc_net_call *call, lc_net_call_cb cb)
{
    struct lc_sim_node *n = net->impl;
    struct lc_sim *s = n->sim;
    int j = index_of(s, address);
    struct lc_sim_event *ev;

    if (j < 0 || !s->link[n->i][j]) {
        return LC_ECONN;
    }
    call->cb = cb;
    call->peer = (void *)(uintptr_t)(j + 1);
    call->corr = ++n->next_corr;
    HASH_ADD(hh, n->calls, corr, sizeof call->corr, call);
    if (s->blackhole[n->i][j]) {
        return 0;
    }
    ev = event_new(s, EV_REQUEST, LC_SIM_NET_LATENCY_MS);
    ev->from = n->i;
    ev->to = (unsigned)j;
    ev->epoch = s->epoch[n->i][j];
    ev->corr = call->corr;
    ev->buf = pack(&msg->base, &ev->len);
    push(s, ev);
    return 0;
}

static void sim_cancel(struct lc_net *net, struct lc_net_call *call)
{
    struct lc_sim_node *n = net->impl;
    HASH_DELETE(hh, n->calls, call);
    free(call);
}

static void sim_respond(struct lc_net *net, struct lc_net_request *req,
                        const Locus__Raft__PeerResponse *msg)
{
    struct lc_sim_node *n = net->impl;
    struct lc_sim *s = n->sim;
    struct sim_request *sr = req->link;
    unsigned to = sr->from;

    if (s->link[to][n->i] && s->epoch[to][n->i] == sr->epoch &&
        !s->blackhole[n->i][to]) {
        struct lc_sim_event *ev =
            event_new(s, EV_RESPONSE, LC_SIM_NET_LATENCY_MS);
        ev->from = n->i;
        ev->to = to;
        ev->epoch = sr->epoch;
        ev->corr = req->corr;
        ev->buf = pack(&msg->base, &ev->len);
        push(s, ev);
    }
    free(sr);
}

static void sim_close(struct lc_net *net, lc_net_close_cb cb)
{
    struct lc_sim_node *n = net->impl;
    struct lc_sim_event *ev;
    n->net_closed = true;
    fail_calls(n, n->sim->n, LC_ESHUTDOWN);
    for (unsigned j = 0; j < n->sim->n; j++) {
        n->sim->link[n->i][j] = false;
    }
    /* Not from inside the call: as if handles were closing. */
    ev = event_new(n->sim, EV_NET_CLOSED, 0);
    ev->to = n->i;
    ev->close_cb = cb;
    push(n->sim, ev);
}

static int sim_net_init(void *data, struct lc_net *net,
                        const struct lc_net_cbs *cbs)
{
    struct lc_sim_node *n = data;
    memset(net, 0, sizeof *net);
    n->net = net;
    n->cbs = *cbs;
    net->impl = n;
    net->listen = sim_listen;
    net->connect = sim_connect;
    net->peer_up = sim_peer_up;
    net->send = sim_send;
    net->cancel = sim_cancel;
    net->respond = sim_respond;
    net->close = sim_close;
    /* No transport_init: the groups run on the fixture. */
    return 0;
}

void lc_sim__env(struct lc_sim_node *n, struct lc_engine_env *env)
{
    memset(env, 0, sizeof *env);
    env->data = n;
    env->net_init = sim_net_init;
    env->now = sim_now;
    env->timer_start = sim_timer_start;
    env->timer_stop = sim_timer_stop;
}

/* ------------------------------------------------------------- controls */

void lc_sim_link(struct lc_sim *s, unsigned i, unsigned j, bool up)
{
    if (up) {
        link_up(s, i, j);
    } else {
        link_down(s, i, j);
    }
    lc_sim__run_checks(s);
}

void lc_sim_link_both(struct lc_sim *s, unsigned i, unsigned j, bool up)
{
    lc_sim_link(s, i, j, up);
    lc_sim_link(s, j, i, up);
}

void lc_sim_blackhole(struct lc_sim *s, unsigned i, unsigned j, bool on)
{
    s->blackhole[i][j] = on;
}
