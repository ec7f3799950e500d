/* One channel per peer, as Nacos's ClusterRpcClientProxy keeps one
 * GrpcClusterClient per member: connected on the first request, to the
 * peer's cluster port (main + 1001), with the membership proof in the
 * setup's labels (peers.h).
 *
 * States. IDLE: the next request starts a client (CONNECTING) and queues.
 * CONNECTING: requests queue (at most LC_PEERS_MAX_QUEUED; LC_EBUSY
 * beyond), each under its own deadline. READY: requests go at once. A
 * failed setup fails the queue with the setup's error and moves to
 * BACKOFF, where requests fail at once with that error (from the loop)
 * until the backoff timer (100 ms doubling to 3 s) moves back to IDLE; a
 * report from the peer (lc__peer_heard) ends the backoff early. A ready
 * channel that drops goes back to IDLE (the next request reconnects) and
 * tells peers.c, which reports to the peer at once, so a member that died
 * is noticed by a refused connection rather than after several missed
 * reports.
 *
 * Every callback fires from the loop, never from inside
 * lc__peer_request. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "rpc/cluster/internal.h"

#define LOG "cluster"

/* ------------------------------------------------------------------ ops */

static void op_maybe_free(struct peer_op *op)
{
    struct lc_peers *ps = op->ps;

    if (!op->timer_closed || op->sent) {
        return;
    }
    free(op->type);
    free(op->text);
    free(op);
    ps->nops--;
    lc__peers_maybe_destroy(ps);
}

static void on_op_timer_closed(uv_handle_t *h)
{
    struct peer_op *op = h->data;
    op->timer_closed = true;
    op_maybe_free(op);
}

static void queue_remove(struct peer *p, struct peer_op *op)
{
    struct peer_op **pp = &p->queue;

    if (!op->queued) {
        return;
    }
    op->queued = false;
    while (*pp != NULL && *pp != op) {
        pp = &(*pp)->next;
    }
    if (*pp == op) {
        *pp = op->next;
    }
    p->tail = NULL;
    for (struct peer_op *o = p->queue; o != NULL; o = o->next) {
        p->tail = o;
    }
    op->next = NULL;
    p->nqueued--;
}

/* End @op once: the caller's callback with @status (0: @type/@body). */
static void op_finish(struct peer_op *op, int status, const char *type,
                      json_t *body)
{
    struct lc_nreq *r = op->r;

    if (r == NULL) {
        return;
    }
    op->r = NULL;
    if (op->queued) {
        queue_remove(op->peer, op);
    }
    uv_close((uv_handle_t *)&op->timer, on_op_timer_closed);
    r->cb = op->cb;
    r->cb(r, status, type, body);
}

static void on_op_timer(uv_timer_t *t)
{
    struct peer_op *op = t->data;
    op_finish(op, op->err != 0 ? op->err : LC_ETIMEDOUT, NULL, NULL);
}

/* Fail @op with @err from the loop. */
static void op_fail_later(struct peer_op *op, int err)
{
    op->err = err;
    uv_timer_start(&op->timer, on_op_timer, 0, 0);
}

static void on_op_reply(struct lc_nreq *inner, int status, const char *type,
                        json_t *body)
{
    struct peer_op *op = inner->data;
    op->sent = false;
    op_finish(op, status, type, body);
    op_maybe_free(op);
}

/* Send @op on the ready channel. */
static void op_send(struct peer *p, struct peer_op *op)
{
    uint64_t now = uv_now(p->ps->loop);
    unsigned left;
    int rv;

    if (now >= op->deadline) {
        op_fail_later(op, LC_ETIMEDOUT);
        return;
    }
    left = (unsigned)(op->deadline - now);
    memset(&op->inner, 0, sizeof op->inner);
    op->inner.data = op;
    rv = lc_nclient_request_text(p->client, &op->inner, op->type, op->text,
                                 op->len, left, on_op_reply);
    if (rv != 0) {
        op_fail_later(op, rv == LC_ENOMEM ? LC_ENOMEM : LC_ECONN);
        return;
    }
    op->sent = true;
}

/* Fail every queued request with @err. */
static void queue_fail(struct peer *p, int err)
{
    while (p->queue != NULL) {
        struct peer_op *op = p->queue;
        queue_remove(p, op);
        op_fail_later(op, err);
    }
}

/* ---------------------------------------------------------------- client */

static void on_backoff(uv_timer_t *t)
{
    struct peer *p = t->data;
    if (p->chan == CHAN_BACKOFF) {
        p->chan = CHAN_IDLE;
    }
}

static void on_labels(struct lc_nclient *c, json_t *labels, void *data)
{
    struct peer *p = data;
    struct lc_peers *ps = p->ps;
    const struct lc_member *self = lc_members_self(ps->cfg.members);
    char proof[LC_PEERS_PROOF_HEX];

    lc__peers_proof(ps->secret, ps->cfg.secret_len, lc_nclient_id(c), proof);
    json_object_clear(labels);
    json_object_set_new(labels, "source", json_string("cluster"));
    json_object_set_new(labels, "locus.member", json_string(self->addr));
    json_object_set_new(labels, "locus.proof", json_string(proof));
}

static void on_ready(struct lc_nclient *c, int status, void *data)
{
    struct peer *p = data;

    if (p->client != c) {
        return;
    }
    if (status != 0) {
        lc_debugf(LOG, "channel to %s: setup failed: %s", p->addr,
                  lc_strerror(status));
        p->last_err = status == LC_ETIMEDOUT ? LC_ETIMEDOUT : LC_ECONN;
        queue_fail(p, p->last_err);
        if (p->removed || p->ps->closing) {
            return;
        }
        p->chan = CHAN_BACKOFF;
        uv_timer_start(&p->backoff_timer, on_backoff, p->backoff_ms, 0);
        p->backoff_ms = p->backoff_ms * 2 < LC_PEERS_BACKOFF_MAX_MS
                            ? p->backoff_ms * 2
                            : LC_PEERS_BACKOFF_MAX_MS;
        return;
    }
    lc_infof(LOG, "channel to %s ready (%s)", p->addr, lc_nclient_id(c));
    p->chan = CHAN_READY;
    p->backoff_ms = LC_PEERS_BACKOFF_MIN_MS;
    while (p->queue != NULL) {
        struct peer_op *op = p->queue;
        queue_remove(p, op);
        op_send(p, op);
    }
}

static void peer_maybe_free(struct peer *p);

static void on_client_closed(struct lc_nclient *c, void *data)
{
    struct peer *p = data;
    struct lc_peers *ps = p->ps;
    bool was_ready = p->client == c && p->chan == CHAN_READY;

    ps->nhandles--;
    if (p->client != c) {
        return;
    }
    p->client = NULL;
    queue_fail(p, LC_ECONN); /* a setup that never said ready */
    if (p->chan == CHAN_READY || p->chan == CHAN_CONNECTING) {
        p->chan = CHAN_IDLE;
    }
    if (p->removed || ps->closing) {
        peer_maybe_free(p);
        lc__peers_maybe_destroy(ps);
        return;
    }
    if (was_ready) {
        lc_infof(LOG, "channel to %s closed", p->addr);
        lc__peers_on_drop(ps, p);
    }
}

static int connect_peer(struct peer *p)
{
    struct lc_peers *ps = p->ps;
    struct lc_nclient_cbs cbs = {.data = p,
                                 .ready = on_ready,
                                 .closed = on_client_closed,
                                 .labels = on_labels};
    int rv = lc_nclient_new_limited(
        ps->loop, p->host, p->cluster_port, ps->cfg.limits.max_inbound,
        LC_PEERS_SETUP_TIMEOUT_MS, &cbs, &p->client);
    if (rv != 0) {
        p->client = NULL;
        return rv;
    }
    ps->nhandles++;
    p->chan = CHAN_CONNECTING;
    return 0;
}

/* ---------------------------------------------------------------- peers */

struct peer *lc__peer_new(struct lc_peers *ps, const struct lc_member *m)
{
    struct peer *p = calloc(1, sizeof *p);

    if (p == NULL) {
        return NULL;
    }
    p->ps = ps;
    lc_strlcpy(p->addr, m->addr, sizeof p->addr);
    lc_strlcpy(p->host, m->host, sizeof p->host);
    p->cluster_port = m->grpc_cluster_port;
    p->chan = CHAN_IDLE;
    p->backoff_ms = LC_PEERS_BACKOFF_MIN_MS;
    uv_timer_init(ps->loop, &p->backoff_timer);
    p->backoff_timer.data = p;
    ps->nhandles++;
    return p;
}

static void peer_maybe_free(struct peer *p)
{
    if (!p->timer_closed || p->client != NULL) {
        return;
    }
    json_decref(p->member);
    free(p);
}

static void on_peer_timer_closed(uv_handle_t *h)
{
    struct peer *p = h->data;
    struct lc_peers *ps = p->ps;

    ps->nhandles--;
    p->timer_closed = true;
    peer_maybe_free(p);
    lc__peers_maybe_destroy(ps);
}

void lc__peer_close(struct peer *p)
{
    p->removed = true;
    queue_fail(p, LC_ECONN);
    uv_close((uv_handle_t *)&p->backoff_timer, on_peer_timer_closed);
    if (p->client != NULL) {
        lc_nclient_close(p->client);
    }
}

struct peer *lc__peer_find(struct lc_peers *ps, const char *addr)
{
    for (struct peer *p = ps->peers; p != NULL; p = p->next) {
        if (strcmp(p->addr, addr) == 0) {
            return p;
        }
    }
    return NULL;
}

void lc__peer_heard(struct peer *p)
{
    if (p->chan == CHAN_BACKOFF) {
        uv_timer_stop(&p->backoff_timer);
        p->chan = CHAN_IDLE;
        p->backoff_ms = LC_PEERS_BACKOFF_MIN_MS;
    }
}

int lc__peer_request(struct peer *p, struct lc_nreq *r, const char *type,
                     char *text, size_t len, unsigned timeout_ms, lc_nreq_cb cb)
{
    struct lc_peers *ps = p->ps;
    struct peer_op *op;
    int rv;

    if (p->chan == CHAN_CONNECTING && p->nqueued >= LC_PEERS_MAX_QUEUED) {
        free(text);
        return LC_EBUSY;
    }
    op = calloc(1, sizeof *op);
    if (op == NULL || (op->type = strdup(type)) == NULL) {
        free(op);
        free(text);
        return LC_ENOMEM;
    }
    op->ps = ps;
    op->peer = p;
    op->r = r;
    op->cb = cb;
    op->text = text;
    op->len = len;
    op->deadline = uv_now(ps->loop) + timeout_ms;
    uv_timer_init(ps->loop, &op->timer);
    op->timer.data = op;
    ps->nops++;
    r->cb = cb;

    switch (p->chan) {
        case CHAN_READY:
            op_send(p, op);
            break;
        case CHAN_BACKOFF:
            op_fail_later(op, p->last_err != 0 ? p->last_err : LC_ECONN);
            break;
        case CHAN_IDLE:
            rv = connect_peer(p);
            if (rv != 0) {
                op_fail_later(op, LC_ECONN);
                break;
            }
            /* fall through */
        case CHAN_CONNECTING:
            op->queued = true;
            if (p->tail != NULL) {
                p->tail->next = op;
            } else {
                p->queue = op;
            }
            p->tail = op;
            p->nqueued++;
            uv_timer_start(&op->timer, on_op_timer, timeout_ms, 0);
            break;
    }
    return 0;
}
