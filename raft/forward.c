/* Where a request goes: batched into raft_apply() on the leader, forwarded to
 * the leader from a follower, or parked until a leader is known.
 *
 * Writes on the leader collect in `pending` while the loop processes I/O; a
 * uv_check handle (after the poll phase) hands them to raft_apply() in one
 * call, so a burst of requests becomes one disk write and one AppendEntries
 * per follower. Each entry stays its own WriteRequest in the log; since 0.15
 * calls back a batch when its *first* entry is applied, each request is
 * completed from the state machine's apply at its own index instead.
 *
 * A follower sends the entry to the leader on the peer channel; the leader
 * answers with the index it was applied at and the state machine's result;
 * the follower answers its caller once it has applied that index too. Reads
 * do the same with a barrier instead of an entry.
 *
 * Failures: a request whose outcome is unknown (appended, then leadership
 * lost; or the link to the leader dropped after sending) fails with
 * LC_ELEADERSHIPLOST or LC_ECONN; a request still waiting for a leader after
 * the rpc timeout fails with LC_ENOLEADER (it was not applied), anything
 * else then with LC_ETIMEDOUT. A member that knows no reachable leader and
 * cannot reach a majority of voters fails requests at once with
 * LC_ENOLEADER, so clients retry elsewhere instead of waiting.
 *
 * A forwarded write carries the time its asker still waits. The leader
 * appends it only before that time (less a margin, measured from receipt):
 * an entry that took too long to arrive must not be applied after a later
 * write the client made once it gave up. The peer channel resets a silent
 * link, discarding what it had not delivered (net_peer.c), so nothing stays
 * in flight for longer than the margin.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "raft/internal.h"

/* Reads answered by one barrier. raft holds the barrier until its callback,
 * which is the only place the batch is freed. */
struct read_batch {
    struct raft_barrier req;
    struct lc_raft_group *group;
    struct lc_req_list reads;
};

static void flush_reads(struct lc_raft_group *g, struct raft *r);

/* How much of a forwarded write's @budget the leader keeps in reserve: it
 * covers the time the request took to arrive, which the peer channel's
 * liveness check bounds by about one election timeout (half the budget at
 * most, for very short rpc timeouts). */
static uint64_t budget_margin(const struct lc_raft_engine *e, uint64_t budget)
{
    uint64_t m = 2 * (uint64_t)e->opts.election_timeout_ms + 100;
    return m < budget / 2 ? m : budget / 2;
}

/* ----------------------------------------------------------------- lists */

void lc_req_list_push(struct lc_req_list *l, struct lc_raft__req *r)
{
    r->next = NULL;
    r->prev = l->tail;
    if (l->tail != NULL) {
        l->tail->next = r;
    } else {
        l->head = r;
    }
    l->tail = r;
    l->n++;
}

/* Insert keeping the list ordered by index (usually at the tail). */
void lc_req_list_insert_sorted(struct lc_req_list *l, struct lc_raft__req *r)
{
    struct lc_raft__req *at = l->tail;
    while (at != NULL && at->index > r->index) {
        at = at->prev;
    }
    r->prev = at;
    r->next = at != NULL ? at->next : l->head;
    if (r->next != NULL) {
        r->next->prev = r;
    } else {
        l->tail = r;
    }
    if (at != NULL) {
        at->next = r;
    } else {
        l->head = r;
    }
    l->n++;
}

void lc_req_list_remove(struct lc_req_list *l, struct lc_raft__req *r)
{
    if (r->prev != NULL) {
        r->prev->next = r->next;
    } else {
        l->head = r->next;
    }
    if (r->next != NULL) {
        r->next->prev = r->prev;
    } else {
        l->tail = r->prev;
    }
    r->prev = r->next = NULL;
    l->n--;
}

static struct lc_req_list *list_of(struct lc_raft__req *r)
{
    struct lc_raft_group *g = r->group;
    switch (r->state) {
        case LC_REQ_WAIT_LEADER:
            return &g->wait_leader;
        case LC_REQ_PENDING:
            return r->kind == LC_REQ_READ ? &g->pending_reads : &g->pending;
        case LC_REQ_APPLYING:
            return &g->applying;
        case LC_REQ_BARRIER:
            return &((struct read_batch *)r->batch)->reads;
        case LC_REQ_FORWARDED:
            return &g->forwarded;
        case LC_REQ_WAIT_APPLY:
            return &g->wait_apply;
    }
    return NULL;
}

static void detach(struct lc_raft__req *r)
{
    struct lc_req_list *l = list_of(r);
    if (l != NULL) {
        lc_req_list_remove(l, r);
    }
    if (r->call != NULL) {
        struct lc_net *net = &r->group->e->net;
        net->cancel(net, r->call);
        r->call = NULL;
    }
    r->batch = NULL;
    r->state = LC_REQ_IDLE;
}

/* ------------------------------------------------------------ completion */

void lc_req_complete(struct lc_raft__req *r, int status,
                     const struct lc_raft_result *result)
{
    struct lc_raft_result none = {0, ""};
    detach(r);
    if (r->buf != NULL) {
        raft_free(r->buf);
        r->buf = NULL;
    }
    if (result == NULL) {
        result = &none;
    }
    if (r->kind == LC_REQ_WRITE) {
        struct lc_raft_write *w = LC_CONTAINER_OF(r, struct lc_raft_write,
                                                  priv);
        w->cb(w, status, result);
    } else {
        struct lc_raft_read *rd = LC_CONTAINER_OF(r, struct lc_raft_read,
                                                  priv);
        rd->cb(rd, status);
    }
}

void lc_req_fail_all(struct lc_raft_group *g, struct lc_req_list *l,
                     int status)
{
    (void)g;
    while (l->head != NULL) {
        lc_req_complete(l->head, status, NULL);
    }
}

void lc_req_reroute_all(struct lc_raft_group *g, struct lc_req_list *l)
{
    struct lc_req_list moved = *l;
    (void)g;
    /* Detach the whole list first: routing may put requests back on it. */
    l->head = l->tail = NULL;
    l->n = 0;
    while (moved.head != NULL) {
        struct lc_raft__req *r = moved.head;
        lc_req_list_remove(&moved, r);
        r->state = LC_REQ_IDLE;
        lc_req_route(r);
    }
}

/* Everything up to @index is applied here: complete what waited for it. */
void lc_group_check_waiters(struct lc_raft_group *g)
{
    struct raft *r = lc_group_raft(g);
    if (r == NULL) {
        return;
    }
    while (g->wait_apply.head != NULL &&
           g->wait_apply.head->index <= lc_group_visible_index(g, r)) {
        struct lc_raft__req *q = g->wait_apply.head;
        lc_req_complete(q, 0, &q->result);
    }
}

void lc_raft_group_visible(struct lc_raft_group *g)
{
    lc_group_check_waiters(g);
}

void lc_group_on_applied(struct lc_raft_group *g, uint64_t index,
                         const struct lc_raft_result *result)
{
    /* Leader: the request appended at @index is done. Anything before it
     * in the list was overwritten by another leader's entries. */
    while (g->applying.head != NULL && g->applying.head->index < index) {
        lc_req_complete(g->applying.head, LC_ELEADERSHIPLOST, NULL);
    }
    if (g->applying.head != NULL && g->applying.head->index == index) {
        if (g->applying.head->served) {
            g->commit_notify = true; /* see lc_observe() */
        }
        lc_req_complete(g->applying.head, 0, result);
    }
    /* Follower: forwarded writes applied at or before @index (and visible:
     * a state machine may still be loading a snapshot in slices). */
    if (g->sm->visible != NULL && g->sm->visible(g->sm) < index) {
        return;
    }
    while (g->wait_apply.head != NULL && g->wait_apply.head->index <= index) {
        struct lc_raft__req *q = g->wait_apply.head;
        lc_req_complete(q, 0, &q->result);
    }
}

/* --------------------------------------------------------------- batching */

struct batch {
    struct raft_apply req;
    struct lc_raft_group *group;
    uint64_t first;
    unsigned n;
};

static void on_batch_applied(struct raft_apply *req, int status, void *result)
{
    struct batch *b = req->data;
    struct lc_raft_group *g = b->group;
    (void)result;
    if (status != 0) {
        int err = lc_err_from_raft(status);
        struct lc_raft__req *q = g->applying.head;
        while (q != NULL) {
            struct lc_raft__req *next = q->next;
            if (q->index >= b->first && q->index < b->first + b->n) {
                lc_req_complete(q, err, NULL);
            }
            q = next;
        }
    }
    free(b);
}

static void on_flush_check(uv_check_t *check)
{
    struct lc_raft_group *g = check->data;
    uv_check_stop(&g->flush_check);
    g->flush_active = false;
    lc_group_flush(g);
    if (g->admin_wait != NULL) {
        lc_admin_leader_changed(g);
    }
}

void lc_group_kick(struct lc_raft_group *g)
{
    if (!g->flush_active && !g->closing) {
        g->flush_active = true;
        uv_check_start(&g->flush_check, on_flush_check);
    }
}

/* A forwarded write whose asker has given up is never appended. */
static void drop_expired(struct lc_raft_group *g)
{
    uint64_t now = lc_engine_now(g->e);
    struct lc_raft__req *q = g->pending.head;
    while (q != NULL) {
        struct lc_raft__req *next = q->next;
        if (q->served && now >= q->deadline) {
            lc_req_complete(q, LC_ETIMEDOUT, NULL);
        }
        q = next;
    }
}

void lc_group_flush(struct lc_raft_group *g)
{
    struct raft *r = lc_group_raft(g);
    struct raft_buffer *bufs;
    struct batch *b;
    unsigned n = g->pending.n;
    unsigned i;
    int rv;

    if (r != NULL) {
        flush_reads(g, r);
    } else if (g->pending_reads.n > 0) {
        lc_req_reroute_all(g, &g->pending_reads);
    }
    if (n == 0) {
        return;
    }
    if (r == NULL || raft_state(r) != RAFT_LEADER || r->transfer != NULL) {
        lc_req_reroute_all(g, &g->pending);
        return;
    }
    drop_expired(g);
    n = g->pending.n;
    if (n == 0) {
        return;
    }
    bufs = malloc(n * sizeof *bufs);
    b = malloc(sizeof *b);
    if (bufs == NULL || b == NULL) {
        free(bufs);
        free(b);
        lc_req_fail_all(g, &g->pending, LC_ENOMEM);
        return;
    }
    i = 0;
    for (struct lc_raft__req *q = g->pending.head; q != NULL; q = q->next) {
        bufs[i].base = q->buf;
        bufs[i].len = q->len;
        i++;
    }
    b->req.data = b;
    b->group = g;
    b->n = n;
    b->first = raft_last_index(r) + 1;
    rv = raft_apply(r, &b->req, bufs, n, on_batch_applied);
    free(bufs);
    if (rv != 0) {
        free(b);
        if (rv == RAFT_NOTLEADER) {
            lc_req_reroute_all(g, &g->pending);
        } else {
            lc_req_fail_all(g, &g->pending, lc_err_from_raft(rv));
        }
        return;
    }
    /* raft owns the buffers now; each request waits for its own index. */
    i = 0;
    while (g->pending.head != NULL) {
        struct lc_raft__req *q = g->pending.head;
        lc_req_list_remove(&g->pending, q);
        q->buf = NULL;
        q->index = b->first + i++;
        q->state = LC_REQ_APPLYING;
        lc_req_list_push(&g->applying, q);
    }
}

/* ----------------------------------------------------------------- reads */

static void on_batch_barrier(struct raft_barrier *req, int status)
{
    struct read_batch *b = req->data;
    struct lc_raft_group *g = b->group;
    while (b->reads.head != NULL) {
        struct lc_raft__req *q = b->reads.head;
        if (status == 0) {
            q->index = req->index;
            if (q->served) {
                g->commit_notify = true;
            }
            lc_req_complete(q, 0, NULL);
        } else if (g->closing) {
            lc_req_complete(q, LC_ESHUTDOWN, NULL);
        } else {
            /* Leadership lost: a read is safe to retry. Not from inside
             * raft: the observer routes wait_leader when raft returns. */
            lc_req_list_remove(&b->reads, q);
            q->batch = NULL;
            q->state = LC_REQ_WAIT_LEADER;
            lc_req_list_push(&g->wait_leader, q);
        }
    }
    free(b);
}

/* One barrier for every read queued in this loop iteration. */
static void flush_reads(struct lc_raft_group *g, struct raft *r)
{
    struct read_batch *b;
    int rv;
    if (g->pending_reads.n == 0) {
        return;
    }
    if (raft_state(r) != RAFT_LEADER || r->transfer != NULL ||
        !g->leader_ready) {
        lc_req_reroute_all(g, &g->pending_reads);
        return;
    }
    b = calloc(1, sizeof *b);
    if (b == NULL) {
        lc_req_fail_all(g, &g->pending_reads, LC_ENOMEM);
        return;
    }
    b->group = g;
    b->req.data = b;
    rv = raft_barrier(r, &b->req, on_batch_barrier);
    if (rv != 0) {
        free(b);
        lc_req_reroute_all(g, &g->pending_reads);
        return;
    }
    while (g->pending_reads.head != NULL) {
        struct lc_raft__req *q = g->pending_reads.head;
        lc_req_list_remove(&g->pending_reads, q);
        q->state = LC_REQ_BARRIER;
        q->batch = b;
        lc_req_list_push(&b->reads, q);
    }
}

/* ------------------------------------------------------------- forwarding */

static void on_forward_reply(struct lc_net_call *call, int status,
                             const Locus__Raft__PeerResponse *resp)
{
    struct lc_raft__req *q = call->data;
    struct lc_raft_group *g = q->group;
    struct raft *r = lc_group_raft(g);

    q->call = NULL; /* freed by the network layer after we return */
    lc_req_list_remove(&g->forwarded, q);
    q->state = LC_REQ_IDLE;

    if (status != 0) {
        if (q->kind == LC_REQ_READ) {
            lc_req_route(q); /* safe to retry */
        } else {
            lc_req_complete(q, status, NULL);
        }
        return;
    }
    if (resp->status == LC_ENOTLEADER || resp->status == LC_ENOLEADER) {
        /* The leader moved: try again where it is now. */
        q->state = LC_REQ_WAIT_LEADER;
        lc_req_list_push(&g->wait_leader, q);
        return;
    }
    q->result.status = 0;
    lc_strlcpy(q->result.message, resp->message ? resp->message : "",
               sizeof q->result.message);
    if (resp->status != 0 && resp->index == 0) {
        lc_req_complete(q, resp->status, &q->result);
        return;
    }
    /* Applied on the leader (possibly with a state-machine error in the
     * result): wait until it is applied here too. */
    q->result.status = resp->status;
    q->index = resp->index;
    if (r != NULL && lc_group_visible_index(g, r) >= q->index) {
        lc_req_complete(q, 0, &q->result);
        return;
    }
    q->state = LC_REQ_WAIT_APPLY;
    lc_req_list_insert_sorted(&g->wait_apply, q);
}

static int forward(struct lc_raft__req *q, const char *leader)
{
    Locus__Raft__PeerRequest req = LOCUS__RAFT__PEER_REQUEST__INIT;
    struct lc_net *net = &q->group->e->net;
    struct lc_net_call *call = calloc(1, sizeof *call);
    uint64_t now = lc_engine_now(q->group->e);
    int rv;
    if (call == NULL) {
        return LC_ENOMEM;
    }
    req.group = q->group->name;
    if (q->kind == LC_REQ_WRITE) {
        req.kind = LOCUS__RAFT__PEER_REQUEST__KIND__WRITE;
        req.entry.data = q->buf;
        req.entry.len = q->len;
        req.budget_ms = q->deadline <= now ? 1
                        : q->deadline - now > UINT32_MAX
                            ? UINT32_MAX /* 0 would mean "no deadline" */
                            : (uint32_t)(q->deadline - now);
    } else {
        req.kind = LOCUS__RAFT__PEER_REQUEST__KIND__READ_INDEX;
    }
    call->data = q;
    rv = net->send(net, leader, &req, call, on_forward_reply);
    if (rv != 0) {
        free(call);
        return rv;
    }
    q->call = call;
    q->state = LC_REQ_FORWARDED;
    lc_req_list_push(&q->group->forwarded, q);
    return 0;
}

/* No leader we can reach (on the peer channel, or heard from within an
 * election timeout: its link may be reconnecting after a heal), and fewer
 * than a majority of voters (us included) reachable on the peer channel: no
 * leader will be elected on our side soon. Peer links are reset after an
 * election timeout of silence. */
static bool isolated(struct lc_raft_group *g, struct raft *r)
{
    struct lc_raft_engine *e = g->e;
    struct lc_net *net = &e->net;
    raft_id leader = 0;
    const char *leader_addr = NULL;
    unsigned voters = 0;
    unsigned reachable = 0;

    if (raft_state(r) == RAFT_LEADER) {
        return false;
    }
    raft_leader(r, &leader, &leader_addr);
    if (leader != 0 &&
        (net->peer_up(net, leader_addr) ||
         lc_engine_now(e) - g->last_leader_contact <
             e->opts.election_timeout_ms)) {
        return false;
    }
    for (unsigned i = 0; i < r->configuration.n; i++) {
        const struct raft_server *s = &r->configuration.servers[i];
        if (s->role != RAFT_VOTER) {
            continue;
        }
        voters++;
        if (s->id == r->id || net->peer_up(net, s->address)) {
            reachable++;
        }
    }
    return voters > 0 && reachable <= voters / 2;
}

void lc_req_route(struct lc_raft__req *q)
{
    struct lc_raft_group *g = q->group;
    struct raft *r = lc_group_raft(g);
    struct lc_net *net = &g->e->net;
    raft_id leader = 0;
    const char *leader_addr = NULL;

    if (g->closing) {
        lc_req_complete(q, LC_ESHUTDOWN, NULL);
        return;
    }
    if (r != NULL) {
        raft_leader(r, &leader, &leader_addr);
    }
    if (r != NULL && raft_state(r) == RAFT_LEADER && r->transfer == NULL) {
        if (q->kind == LC_REQ_WRITE) {
            q->state = LC_REQ_PENDING;
            lc_req_list_push(&g->pending, q);
            lc_group_kick(g);
        } else if (g->leader_ready) {
            q->state = LC_REQ_PENDING;
            lc_req_list_push(&g->pending_reads, q);
            lc_group_kick(g);
        } else {
            q->state = LC_REQ_WAIT_LEADER;
            lc_req_list_push(&g->wait_leader, q);
        }
        return;
    }
    if (q->served) {
        /* A peer sent this to us as the leader; do not bounce it on. */
        lc_req_complete(q, LC_ENOTLEADER, NULL);
        return;
    }
    if (leader != 0 && leader != r->id && net->peer_up(net, leader_addr) &&
        forward(q, leader_addr) == 0) {
        return;
    }
    q->state = LC_REQ_WAIT_LEADER;
    lc_req_list_push(&g->wait_leader, q);
}

void lc_group_fail_unreachable(struct lc_raft_group *g)
{
    struct raft *r = lc_group_raft(g);
    if (r != NULL && !g->closing && g->wait_leader.n > 0 && isolated(g, r)) {
        lc_req_fail_all(g, &g->wait_leader, LC_ENOLEADER);
    }
}

void lc_group_sweep(struct lc_raft_group *g, uint64_t now)
{
    struct lc_req_list *lists[] = {&g->wait_leader, &g->pending,
                                   &g->forwarded,   &g->wait_apply,
                                   &g->applying,    &g->pending_reads};
    for (size_t i = 0; i < LC_ARRAY_SIZE(lists); i++) {
        struct lc_raft__req *q = lists[i]->head;
        while (q != NULL) {
            struct lc_raft__req *next = q->next;
            if (now >= q->deadline && q->state == LC_REQ_WAIT_LEADER) {
                /* Never sent, or refused by whom we sent it to. */
                lc_req_complete(q, LC_ENOLEADER, NULL);
            } else if (now >= q->deadline && q->state != LC_REQ_APPLYING &&
                       q->state != LC_REQ_BARRIER) {
                lc_req_complete(q, LC_ETIMEDOUT, NULL);
            } else if (now >= q->deadline + q->group->e->opts.rpc_timeout_ms) {
                /* Appended but never applied: the cluster lost quorum. */
                lc_req_complete(q, LC_ETIMEDOUT, NULL);
            }
            q = next;
        }
    }
}

/* ------------------------------------------------------------- public API */

static void prepare(struct lc_raft_group *g, struct lc_raft__req *q, int kind)
{
    memset(q, 0, sizeof *q);
    q->group = g;
    q->kind = kind;
    q->deadline = lc_engine_now(g->e) + g->e->opts.rpc_timeout_ms;
}

static int check_open(struct lc_raft_group *g)
{
    struct raft *r = lc_group_raft(g);
    if (g->closing) {
        return LC_ESHUTDOWN;
    }
    if (!lc_raft_engine_caught_up(g->e)) {
        return LC_ENOTREADY;
    }
    if (r != NULL && isolated(g, r)) {
        return LC_ENOLEADER; /* what waits for a leader fails the same way */
    }
    return 0;
}

int lc_raft_group_write(struct lc_raft_group *g, struct lc_raft_write *req,
                        void *buf, size_t len, lc_raft_write_cb cb)
{
    int rv = check_open(g);
    if (rv == 0 && (len == 0 || len % 8 != 0)) {
        rv = LC_EINVAL; /* raft_uv 0.15 cannot read such entries back */
    }
    if (rv != 0) {
        raft_free(buf);
        return rv;
    }
    req->cb = cb;
    prepare(g, &req->priv, LC_REQ_WRITE);
    req->priv.buf = buf;
    req->priv.len = len;
    lc_req_route(&req->priv);
    return 0;
}

int lc_raft_group_read_barrier(struct lc_raft_group *g,
                               struct lc_raft_read *req, lc_raft_read_cb cb)
{
    int rv = check_open(g);
    if (rv != 0) {
        return rv;
    }
    req->cb = cb;
    prepare(g, &req->priv, LC_REQ_READ);
    lc_req_route(&req->priv);
    return 0;
}

void lc_req_submit_read(struct lc_raft_group *g, struct lc_raft_read *rd,
                        lc_raft_read_cb cb)
{
    rd->cb = cb;
    prepare(g, &rd->priv, LC_REQ_READ);
    lc_req_route(&rd->priv);
}

/* ------------------------------------------------- serving a peer's call */

struct served {
    struct lc_raft_write w;
    struct lc_raft_read rd;
    struct lc_net_request *req; /* answered in served_reply */
};

static void served_reply(struct served *s, int status, uint64_t index,
                         const char *message, struct lc_raft_group *g)
{
    Locus__Raft__PeerResponse resp = LOCUS__RAFT__PEER_RESPONSE__INIT;
    struct lc_net *net = &g->e->net;
    struct raft *r = lc_group_raft(g);
    raft_id leader = 0;
    const char *leader_addr = NULL;

    resp.status = status;
    resp.index = index;
    resp.message = (char *)(message != NULL ? message : "");
    if (status == LC_ENOTLEADER && r != NULL) {
        raft_leader(r, &leader, &leader_addr);
        resp.leader = (char *)(leader_addr != NULL ? leader_addr : "");
    }
    net->respond(net, s->req, &resp);
    free(s);
}

static void on_served_write(struct lc_raft_write *w, int status,
                            const struct lc_raft_result *result)
{
    struct served *s = w->data;
    if (status != 0) {
        served_reply(s, status, 0, lc_strerror(status), w->priv.group);
    } else {
        served_reply(s, result->status, w->priv.index, result->message,
                     w->priv.group);
    }
}

static void on_served_read(struct lc_raft_read *rd, int status)
{
    struct served *s = rd->data;
    served_reply(s, status, status == 0 ? rd->priv.index : 0,
                 status != 0 ? lc_strerror(status) : "", rd->priv.group);
}

void lc_forward_serve(struct lc_raft_engine *e, struct lc_net_request *req,
                      const Locus__Raft__PeerRequest *msg)
{
    struct lc_raft_group *g = lc_raft_engine_group(e, msg->group);
    struct lc_net *net = &e->net;
    struct served *s;
    Locus__Raft__PeerResponse resp = LOCUS__RAFT__PEER_RESPONSE__INIT;

    if (g == NULL || g->closing) {
        resp.status = g == NULL ? LC_ENOTFOUND : LC_ESHUTDOWN;
        resp.message = (char *)"no such raft group here";
        net->respond(net, req, &resp);
        return;
    }
    if (msg->kind == LOCUS__RAFT__PEER_REQUEST__KIND__ADMIN) {
        lc_admin_serve(g, req, msg->command, msg->value);
        return;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        resp.status = LC_ENOMEM;
        net->respond(net, req, &resp);
        return;
    }
    s->req = req;
    if (msg->kind == LOCUS__RAFT__PEER_REQUEST__KIND__WRITE) {
        void *buf;
        if (msg->entry.len == 0 || msg->entry.len % 8 != 0) {
            served_reply(s, LC_EINVAL, 0, "entry length not a multiple of 8",
                         g);
            return;
        }
        buf = raft_malloc(msg->entry.len);
        if (buf == NULL) {
            served_reply(s, LC_ENOMEM, 0, NULL, g);
            return;
        }
        memcpy(buf, msg->entry.data, msg->entry.len);
        s->w.data = s;
        s->w.cb = on_served_write;
        prepare(g, &s->w.priv, LC_REQ_WRITE);
        if (msg->budget_ms != 0) {
            uint64_t margin = budget_margin(e, msg->budget_ms);
            if (msg->budget_ms < 10) { /* margin is at most half of it */
                raft_free(buf);
                served_reply(s, LC_ETIMEDOUT, 0,
                             "the write arrived too late to be applied", g);
                return;
            }
            s->w.priv.deadline = lc_engine_now(e) + msg->budget_ms - margin;
        }
        s->w.priv.served = true;
        s->w.priv.buf = buf;
        s->w.priv.len = msg->entry.len;
        lc_req_route(&s->w.priv);
    } else {
        s->rd.data = s;
        s->rd.cb = on_served_read;
        prepare(g, &s->rd.priv, LC_REQ_READ);
        s->rd.priv.served = true;
        lc_req_route(&s->rd.priv);
    }
}
