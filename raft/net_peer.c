/* The peer channel: one authenticated link from this node to every other
 * member, carrying forwarded writes, read-index requests and admin commands,
 * and telling the engine at once when a member's process dies. Also the root
 * of the network layer: lc_net_init() builds the hub, the peers and the
 * links behind the methods of struct lc_net.
 *
 * Frames: [u32 length][u8 type][u64 correlation id][protobuf payload], big
 * endian, length counting everything after itself. Requests (PeerRequest)
 * travel on a link its opener sends on; responses (PeerResponse) come back on
 * the same link. A link that sends a malformed or oversized frame is closed.
 *
 * Each peer keeps one outgoing link open, reconnecting with backoff
 * (50 ms doubling to 250 ms). The peer is "up" while that link is; when it drops
 * the engine hears of it (peer_down) and may start an election at once (fast
 * failover); calls in flight fail with LC_ECONN. Requests from a member go up
 * to the engine (request), which answers each once (respond).
 *
 * Liveness: a partition or a frozen process closes nothing, and TCP would
 * keep a silent link "up" for minutes. Every outbound link sends an empty
 * PING frame each quarter of the liveness window and the other end answers
 * PONG; a link (either end) on which nothing arrived for the whole window
 * is closed with a reset (SO_LINGER 0), so bytes still in its send buffer
 * are discarded and can never reach the peer after we gave up on them.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "raft/net.h"

#define FRAME_HEAD 13
#define FRAME_MAX (64u << 20)
#define TYPE_REQUEST 1
#define TYPE_RESPONSE 2
#define TYPE_PING 3 /* empty; answered with TYPE_PONG */
#define TYPE_PONG 4
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 250

/* The network layer: struct lc_net's impl. */
struct net {
    struct lc_net *net;
    uv_loop_t *loop;
    struct lc_net_cbs cbs;
    struct lc_net_hub *hub;
    struct peer **peers;
    unsigned n_peers;
    struct link *links; /* every open peer-channel link */
    uint64_t next_corr;
    unsigned liveness_ms; /* 0: no pings, no silence check */
    uv_timer_t live_timer;
    uint64_t live_last; /* when live_timer last fired */
    unsigned n_live; /* hub, peers, links, live_timer not yet freed */
    bool closing;
    lc_net_close_cb close_cb;
};

struct link {
    struct net *n;
    struct peer *peer; /* outbound links only */
    uv_tcp_t *tcp;
    bool outbound;
    bool closing;
    bool reset;         /* close with RST: the peer went silent */
    uint64_t last_read; /* loop time of the last bytes read */
    unsigned refs;
    uint8_t *rbuf;
    size_t rlen;
    size_t rcap;
    char remote[LC_NET_ADDR_MAX];
    struct link *prev, *next;
};

struct peer {
    struct net *n;
    char address[LC_NET_ADDR_MAX];
    struct link *out;
    struct lc_net_connect hc;
    bool connecting;
    uv_timer_t retry;
    unsigned backoff;
    bool up;
    bool closing;
    bool timer_closed;
    struct lc_net_call *calls;
};

struct frame_write {
    uv_write_t req;
    uv_buf_t buf;
    struct link *link;
};

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* ------------------------------------------------------------------ root */

/* One of the hub, a peer or a link is freed: free the layer after the last
 * once it is closing. */
static void net_handle_closed(struct net *n)
{
    struct lc_net *net = n->net;
    lc_net_close_cb cb = n->close_cb;
    if (--n->n_live > 0 || !n->closing) {
        return;
    }
    free(n->peers);
    free(n);
    net->impl = NULL;
    if (cb != NULL) {
        cb(net);
    }
}

static void link_ref(struct link *link);
static void link_unref(struct link *link);

/* ----------------------------------------------------------------- links */

static void peer_link_lost(struct peer *peer);

static void link_free(struct link *link)
{
    struct net *n = link->n;
    if (link->prev != NULL) {
        link->prev->next = link->next;
    } else {
        n->links = link->next;
    }
    if (link->next != NULL) {
        link->next->prev = link->prev;
    }
    free(link->rbuf);
    free(link);
    net_handle_closed(n);
}

static void link_on_close(uv_handle_t *h)
{
    struct link *link = h->data;
    raft_free(link->tcp);
    link->tcp = NULL;
    link_unref(link);
}

static void link_ref(struct link *link)
{
    link->refs++;
}

static void link_unref(struct link *link)
{
    if (--link->refs == 0) {
        link_free(link);
    }
}

static void link_close(struct link *link)
{
    if (link->closing) {
        return;
    }
    link->closing = true;
    if (!link->reset ||
        uv_tcp_close_reset(link->tcp, link_on_close) != 0) {
        uv_close((uv_handle_t *)link->tcp, link_on_close);
    }
    if (link->outbound && link->peer != NULL) {
        struct peer *peer = link->peer;
        link->peer = NULL;
        peer->out = NULL;
        peer_link_lost(peer);
    }
}

static void on_frame_written(uv_write_t *w, int status)
{
    struct frame_write *fw = w->data;
    struct link *link = fw->link;
    free(fw->buf.base);
    free(fw);
    if (status != 0 && status != UV_ECANCELED) {
        link_close(link);
    }
    link_unref(link);
}

/* Queue the frame @buf/@len (malloc'd, as @fw; both owned from here on).
 * A write that cannot be queued closes the link. */
static int link_write(struct link *link, struct frame_write *fw, uint8_t *buf,
                      size_t len)
{
    fw->buf = uv_buf_init((char *)buf, (unsigned)len);
    fw->link = link;
    fw->req.data = fw;
    if (uv_write(&fw->req, (uv_stream_t *)link->tcp, &fw->buf, 1,
                 on_frame_written) != 0) {
        free(buf);
        free(fw);
        link_close(link);
        return LC_ECONN;
    }
    link_ref(link);
    return 0;
}

/* Send one frame whose payload is the packed @msg. */
static int link_send(struct link *link, uint8_t type, uint64_t corr,
                     const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    struct frame_write *fw;
    uint8_t *buf;

    if (link->closing) {
        return LC_ECONN;
    }
    if (n + 9 > FRAME_MAX) {
        return LC_ETOOBIG;
    }
    fw = malloc(sizeof *fw);
    buf = malloc(FRAME_HEAD + n);
    if (fw == NULL || buf == NULL) {
        free(fw);
        free(buf);
        return LC_ENOMEM;
    }
    put32(buf, (uint32_t)(n + 9));
    buf[4] = type;
    put64(buf + 5, corr);
    protobuf_c_message_pack(msg, buf + FRAME_HEAD);
    return link_write(link, fw, buf, FRAME_HEAD + n);
}

/* Send an empty frame of @type (a ping or a pong). */
static void link_send_empty(struct link *link, uint8_t type)
{
    struct frame_write *fw;
    uint8_t *buf;
    if (link->closing) {
        return;
    }
    fw = malloc(sizeof *fw);
    buf = malloc(FRAME_HEAD);
    if (fw == NULL || buf == NULL) {
        free(fw);
        free(buf);
        return; /* the silence check closes the link if this persists */
    }
    put32(buf, 9);
    buf[4] = type;
    put64(buf + 5, 0);
    (void)link_write(link, fw, buf, FRAME_HEAD);
}

static void link_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct link *link = h->data;
    (void)suggested;
    if (link->rcap - link->rlen < 16384) {
        size_t cap = link->rcap == 0 ? 65536 : link->rcap * 2;
        uint8_t *p = realloc(link->rbuf, cap);
        if (p == NULL) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
        link->rbuf = p;
        link->rcap = cap;
    }
    *buf = uv_buf_init((char *)link->rbuf + link->rlen,
                       (unsigned)(link->rcap - link->rlen));
}

static void dispatch_response(struct link *link, uint64_t corr,
                              const uint8_t *p, size_t n)
{
    struct peer *peer = link->peer;
    struct lc_net_call *call = NULL;
    Locus__Raft__PeerResponse *resp;

    if (peer == NULL) {
        return;
    }
    HASH_FIND(hh, peer->calls, &corr, sizeof corr, call);
    if (call == NULL) {
        return; /* canceled or timed out */
    }
    HASH_DELETE(hh, peer->calls, call);
    resp = locus__raft__peer_response__unpack(NULL, n, p);
    if (resp == NULL) {
        call->cb(call, LC_EPROTO, NULL);
    } else {
        call->cb(call, 0, resp);
        locus__raft__peer_response__free_unpacked(resp, NULL);
    }
    free(call);
}

static void dispatch_request(struct link *link, uint64_t corr,
                             const uint8_t *p, size_t n)
{
    struct net *net = link->n;
    struct lc_net_request *token;
    Locus__Raft__PeerRequest *req =
        locus__raft__peer_request__unpack(NULL, n, p);
    if (req == NULL) {
        lc_warnf("raft", "peer %s sent a malformed request; closing link",
                 link->remote);
        link_close(link);
        return;
    }
    token = malloc(sizeof *token);
    if (token == NULL) {
        Locus__Raft__PeerResponse resp = LOCUS__RAFT__PEER_RESPONSE__INIT;
        resp.status = LC_ENOMEM;
        resp.message = (char *)"";
        link_send(link, TYPE_RESPONSE, corr, &resp.base);
    } else {
        token->link = link;
        token->corr = corr;
        link_ref(link); /* until net_respond */
        net->cbs.request(net->cbs.data, token, req);
    }
    locus__raft__peer_request__free_unpacked(req, NULL);
}

static void link_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct link *link = s->data;
    size_t off = 0;
    (void)b;

    if (link->closing) {
        return;
    }
    if (nread < 0) {
        if (nread != UV_EOF) {
            lc_debugf("raft", "peer link %s: %s", link->remote,
                      uv_strerror((int)nread));
        }
        link_close(link);
        return;
    }
    link->rlen += (size_t)nread;
    link->last_read = uv_now(link->n->loop);
    link_ref(link); /* dispatching may close the link */
    while (!link->closing && link->rlen - off >= FRAME_HEAD) {
        uint32_t len = get32(link->rbuf + off);
        uint8_t type = link->rbuf[off + 4];
        uint64_t corr = get64(link->rbuf + off + 5);
        if (len < 9 || len > FRAME_MAX || type < TYPE_REQUEST ||
            type > TYPE_PONG) {
            lc_warnf("raft", "peer %s sent a bad frame; closing link",
                     link->remote);
            link_close(link);
            break;
        }
        if (link->rlen - off < 4 + (size_t)len) {
            break;
        }
        const uint8_t *payload = link->rbuf + off + FRAME_HEAD;
        size_t n = (size_t)len - 9;
        off += 4 + (size_t)len;
        if (type == TYPE_PING && !link->outbound) {
            link_send_empty(link, TYPE_PONG);
        } else if (type == TYPE_PONG && link->outbound) {
            /* only proves the link alive (last_read) */
        } else if (type == TYPE_RESPONSE && link->outbound) {
            dispatch_response(link, corr, payload, n);
        } else if (type == TYPE_REQUEST && !link->outbound) {
            dispatch_request(link, corr, payload, n);
        } else {
            link_close(link);
        }
    }
    if (!link->closing && off > 0) {
        memmove(link->rbuf, link->rbuf + off, link->rlen - off);
        link->rlen -= off;
    }
    link_unref(link);
}

static struct link *link_new(struct net *n, uv_stream_t *stream,
                             bool outbound, const char *remote)
{
    struct link *link = calloc(1, sizeof *link);
    if (link == NULL) {
        return NULL;
    }
    link->n = n;
    link->tcp = (uv_tcp_t *)stream;
    link->tcp->data = link;
    link->outbound = outbound;
    link->refs = 1; /* released by the close callback */
    n->n_live++;    /* balanced in link_free */
    link->next = n->links;
    if (n->links != NULL) {
        n->links->prev = link;
    }
    n->links = link;
    lc_strlcpy(link->remote, remote, sizeof link->remote);
    link->last_read = uv_now(n->loop);
    return link;
}

/* An inbound link opened by a member on the peer channel. */
static void link_accept(struct net *n, const struct lc_preface *p,
                        uv_stream_t *stream)
{
    struct link *link = link_new(n, stream, false, p->address);
    if (link == NULL) {
        lc_net_stream_close(stream);
        return;
    }
    if (uv_read_start(stream, link_on_alloc, link_on_read) != 0) {
        link_close(link);
    }
}

/* ----------------------------------------------------------------- peers */

static void peer_connect(struct peer *peer);
static void peer_maybe_free(struct peer *peer);

static void peer_on_retry(uv_timer_t *t)
{
    peer_connect(t->data);
}

static void peer_schedule_retry(struct peer *peer)
{
    if (peer->closing) {
        return;
    }
    uv_timer_start(&peer->retry, peer_on_retry, peer->backoff, 0);
    peer->backoff = peer->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                      : peer->backoff * 2;
}

static void fail_calls(struct peer *peer, int status)
{
    struct lc_net_call *call;
    struct lc_net_call *tmp;
    HASH_ITER(hh, peer->calls, call, tmp)
    {
        HASH_DELETE(hh, peer->calls, call);
        call->cb(call, status, NULL);
        free(call);
    }
}

static void peer_link_lost(struct peer *peer)
{
    bool was_up = peer->up;
    peer->up = false;
    fail_calls(peer, peer->closing ? LC_ESHUTDOWN : LC_ECONN);
    if (peer->closing) {
        return;
    }
    if (was_up) {
        lc_infof("raft", "peer %s is down", peer->address);
        peer->n->cbs.peer_down(peer->n->cbs.data, peer->address);
    }
    peer->backoff = BACKOFF_MIN_MS;
    peer_schedule_retry(peer);
}

static void peer_on_connected(void *data, uv_stream_t *stream, int status)
{
    struct peer *peer = data;
    struct link *link;

    peer->connecting = false;
    if (peer->closing) {
        if (stream != NULL) {
            lc_net_stream_close(stream);
        }
        peer_maybe_free(peer);
        return;
    }
    if (status != 0) {
        peer_schedule_retry(peer);
        return;
    }
    link = link_new(peer->n, stream, true, peer->address);
    if (link == NULL) {
        lc_net_stream_close(stream);
        peer_schedule_retry(peer);
        return;
    }
    link->peer = peer;
    peer->out = link;
    if (uv_read_start(stream, link_on_alloc, link_on_read) != 0) {
        link_close(link);
        return;
    }
    peer->up = true;
    peer->backoff = BACKOFF_MIN_MS;
    lc_infof("raft", "peer %s is up", peer->address);
    peer->n->cbs.peer_up(peer->n->cbs.data, peer->address);
}

static void peer_connect(struct peer *peer)
{
    if (peer->closing || peer->connecting || peer->out != NULL) {
        return;
    }
    peer->hc.data = peer;
    if (lc_net_hub_connect(peer->n->hub, &peer->hc, LC_NET_PEER_CHANNEL,
                           peer->address, peer_on_connected) != 0) {
        peer_schedule_retry(peer);
        return;
    }
    peer->connecting = true;
}

static void peer_maybe_free(struct peer *peer)
{
    struct net *n = peer->n;
    if (peer->closing && peer->timer_closed && !peer->connecting) {
        free(peer);
        net_handle_closed(n);
    }
}

static void peer_on_timer_closed(uv_handle_t *h)
{
    struct peer *peer = h->data;
    peer->timer_closed = true;
    peer_maybe_free(peer);
}

static void peer_close(struct peer *peer)
{
    peer->closing = true;
    fail_calls(peer, LC_ESHUTDOWN);
    if (peer->out != NULL) {
        link_close(peer->out);
    }
    if (peer->connecting) {
        lc_net_hub_connect_cancel(&peer->hc);
    }
    uv_close((uv_handle_t *)&peer->retry, peer_on_timer_closed);
}

static struct peer *peer_find(struct net *n, const char *address)
{
    for (unsigned i = 0; address != NULL && i < n->n_peers; i++) {
        if (strcmp(n->peers[i]->address, address) == 0) {
            return n->peers[i];
        }
    }
    return NULL;
}

/* -------------------------------------------------------------- liveness */

/* Each quarter window: reset links that have been silent for the whole
 * window, ping the others. */
static void on_live_timer(uv_timer_t *t)
{
    struct net *n = t->data;
    uint64_t now = uv_now(n->loop);
    uint64_t period = t->repeat;
    /* Timers run before the loop reads its sockets: after a stall of our
     * own loop every link looks silent. Judge only when on time. */
    bool on_time = now - n->live_last <= 2 * period;
    struct link *next;
    n->live_last = now;
    for (struct link *link = n->links; link != NULL; link = next) {
        next = link->next;
        if (link->closing) {
            continue;
        }
        if (on_time && now - link->last_read >= n->liveness_ms) {
            lc_warnf("raft", "peer link %s (%s): nothing heard for %llu ms; "
                             "resetting it",
                     link->remote, link->outbound ? "out" : "in",
                     (unsigned long long)(now - link->last_read));
            link->reset = true;
            link_close(link);
        } else if (link->outbound) {
            link_send_empty(link, TYPE_PING);
        }
    }
}

static void on_live_timer_closed(uv_handle_t *h)
{
    net_handle_closed(h->data);
}

/* --------------------------------------------------------------- methods */

static int net_listen(struct lc_net *net, char *errmsg, size_t errlen)
{
    struct net *n = net->impl;
    return lc_net_hub_listen(n->hub, errmsg, errlen);
}

static void net_connect(struct lc_net *net)
{
    struct net *n = net->impl;
    for (unsigned i = 0; i < n->n_peers; i++) {
        peer_connect(n->peers[i]);
    }
}

static bool net_peer_up(struct lc_net *net, const char *address)
{
    struct peer *peer = peer_find(net->impl, address);
    return peer != NULL && peer->up;
}

static uint64_t net_peer_quiet_ms(struct lc_net *net, const char *address)
{
    struct net *n = net->impl;
    struct peer *peer = peer_find(n, address);
    if (peer == NULL || !peer->up || peer->out == NULL ||
        n->liveness_ms == 0) {
        return UINT64_MAX;
    }
    return uv_now(n->loop) - peer->out->last_read;
}

static int net_send(struct lc_net *net, const char *address,
                    const Locus__Raft__PeerRequest *msg,
                    struct lc_net_call *call, lc_net_call_cb cb)
{
    struct net *n = net->impl;
    struct peer *peer = peer_find(n, address);
    int rv;
    if (peer == NULL || !peer->up || peer->out == NULL) {
        return LC_ECONN;
    }
    call->cb = cb;
    call->peer = peer;
    call->corr = n->next_corr++;
    rv = link_send(peer->out, TYPE_REQUEST, call->corr, &msg->base);
    if (rv != 0) {
        return rv;
    }
    HASH_ADD(hh, peer->calls, corr, sizeof call->corr, call);
    return 0;
}

static void net_cancel(struct lc_net *net, struct lc_net_call *call)
{
    struct peer *peer = call->peer;
    (void)net;
    HASH_DELETE(hh, peer->calls, call);
    free(call);
}

static void net_respond(struct lc_net *net, struct lc_net_request *req,
                        const Locus__Raft__PeerResponse *msg)
{
    struct link *link = req->link;
    (void)net;
    if (!link->closing) {
        link_send(link, TYPE_RESPONSE, req->corr, &msg->base);
    }
    free(req);
    link_unref(link);
}

static int net_transport_init(struct lc_net *net, struct lc_net_transport *t,
                              struct raft_uv_transport *uvt,
                              const char *channel)
{
    struct net *n = net->impl;
    return lc_net_transport_init(t, uvt, n->hub, n->loop, channel);
}

static void on_hub_closed(void *data)
{
    net_handle_closed(data);
}

static void net_close(struct lc_net *net, lc_net_close_cb cb)
{
    struct net *n = net->impl;
    n->closing = true;
    n->close_cb = cb;
    n->n_live++; /* hold the layer while closing everything below */
    uv_close((uv_handle_t *)&n->live_timer, on_live_timer_closed);
    for (unsigned i = 0; i < n->n_peers; i++) {
        peer_close(n->peers[i]);
    }
    for (struct link *link = n->links; link != NULL; link = link->next) {
        link_close(link);
    }
    lc_net_hub_close(n->hub, on_hub_closed, n);
    net_handle_closed(n);
}

/* The hub asks the engine about a claim; the peer channel stays here. */
static int on_hub_check(void *data, const struct lc_preface *claim)
{
    struct net *n = data;
    return n->cbs.check(n->cbs.data, claim);
}

static void on_hub_accept(void *data, const struct lc_preface *claim,
                          uv_stream_t *stream)
{
    struct net *n = data;
    if (n->closing) {
        lc_net_stream_close(stream);
    } else if (strcmp(claim->channel, LC_NET_PEER_CHANNEL) == 0) {
        link_accept(n, claim, stream);
    } else {
        n->cbs.accept(n->cbs.data, claim, stream);
    }
}

int lc_net_init(struct lc_net *net, uv_loop_t *loop,
                const struct lc_net_config *config,
                const struct lc_net_cbs *cbs)
{
    struct net *n;
    unsigned i;
    int rv;

    n = calloc(1, sizeof *n);
    if (n == NULL) {
        return LC_ENOMEM;
    }
    n->net = net;
    n->loop = loop;
    n->cbs = *cbs;
    n->next_corr = 1;
    n->peers = calloc(config->n_peers > 0 ? config->n_peers : 1,
                      sizeof *n->peers);
    if (n->peers == NULL) {
        rv = LC_ENOMEM;
        goto err_after_alloc;
    }
    for (i = 0; i < config->n_peers; i++) {
        struct peer *peer = calloc(1, sizeof *peer);
        if (peer == NULL) {
            rv = LC_ENOMEM;
            goto err_after_peers;
        }
        n->peers[n->n_peers++] = peer;
        peer->n = n;
        peer->backoff = BACKOFF_MIN_MS;
        if (!lc_strlcpy(peer->address, config->peers[i],
                        sizeof peer->address)) {
            rv = LC_EINVAL;
            goto err_after_peers;
        }
    }
    rv = lc_net_hub_new(loop, config->self, config->self_id, config->secret,
                        config->secret_len, on_hub_check, on_hub_accept, n,
                        &n->hub);
    if (rv != 0) {
        goto err_after_peers;
    }
    /* Nothing can fail from here: handles are initialised last. */
    for (i = 0; i < n->n_peers; i++) {
        uv_timer_init(loop, &n->peers[i]->retry);
        n->peers[i]->retry.data = n->peers[i];
    }
    n->n_live = 2 + n->n_peers; /* the hub, the peers, live_timer */
    n->liveness_ms = config->liveness_ms;
    uv_timer_init(loop, &n->live_timer);
    n->live_timer.data = n;
    if (n->liveness_ms > 0) {
        uint64_t period = n->liveness_ms / 4 > 10 ? n->liveness_ms / 4 : 10;
        lc_net_hub_set_user_timeout(n->hub, 2 * n->liveness_ms);
        n->live_last = uv_now(loop);
        uv_timer_start(&n->live_timer, on_live_timer, period, period);
        uv_unref((uv_handle_t *)&n->live_timer);
    }

    memset(net, 0, sizeof *net);
    net->impl = n;
    net->listen = net_listen;
    net->connect = net_connect;
    net->peer_up = net_peer_up;
    net->peer_quiet_ms = net_peer_quiet_ms;
    net->send = net_send;
    net->cancel = net_cancel;
    net->respond = net_respond;
    net->transport_init = net_transport_init;
    net->close = net_close;
    return 0;

err_after_peers:
    for (i = 0; i < n->n_peers; i++) {
        free(n->peers[i]);
    }
    free(n->peers);
err_after_alloc:
    free(n);
    return rv;
}
