/* The peer channel: one authenticated link from this node to every other
 * member, carrying forwarded writes, read-index requests and admin commands,
 * and telling us at once when a member's process dies.
 *
 * Frames: [u32 length][u8 type][u64 correlation id][protobuf payload], big
 * endian, length counting everything after itself. Requests (PeerRequest)
 * travel on a link its opener sends on; responses (PeerResponse) come back on
 * the same link. A link that sends a malformed or oversized frame is closed.
 *
 * Each peer keeps one outgoing link open, reconnecting with backoff
 * (50 ms doubling to 1 s). The peer is "up" while that link is; when it drops
 * we tell the engine, which may start an election at once (fast failover),
 * and calls in flight fail with LC_ECONN.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "raft/internal.h"

#define FRAME_HEAD 13
#define FRAME_MAX (64u << 20)
#define TYPE_REQUEST 1
#define TYPE_RESPONSE 2
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000

struct lc_link {
    struct lc_raft_engine *e;
    struct lc_peer *peer; /* outbound links only */
    uv_tcp_t *tcp;
    bool outbound;
    bool closing;
    unsigned refs;
    uint8_t *rbuf;
    size_t rlen;
    size_t rcap;
    char remote[LC_RAFT_ADDR_MAX];
    struct lc_link *prev, *next;
};

struct lc_peer {
    struct lc_raft_engine *e;
    char address[LC_RAFT_ADDR_MAX];
    struct lc_link *out;
    struct lc_hub_connect hc;
    bool connecting;
    uv_timer_t retry;
    unsigned backoff;
    bool up;
    bool closing;
    bool timer_closed;
    struct lc_peer_call *calls;
};

struct frame_write {
    uv_write_t req;
    uv_buf_t buf;
    struct lc_link *link;
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

/* ----------------------------------------------------------------- links */

static void peer_link_lost(struct lc_peer *peer);

static void link_free(struct lc_link *link)
{
    struct lc_raft_engine *e = link->e;
    if (link->prev != NULL) {
        link->prev->next = link->next;
    } else {
        e->links = link->next;
    }
    if (link->next != NULL) {
        link->next->prev = link->prev;
    }
    free(link->rbuf);
    free(link);
    lc_engine_handle_closed(e);
}

static void link_on_close(uv_handle_t *h)
{
    struct lc_link *link = h->data;
    raft_free(link->tcp);
    link->tcp = NULL;
    lc_link_unref(link);
}

void lc_link_ref(struct lc_link *link)
{
    link->refs++;
}

void lc_link_unref(struct lc_link *link)
{
    if (--link->refs == 0) {
        link_free(link);
    }
}

static void link_close(struct lc_link *link)
{
    if (link->closing) {
        return;
    }
    link->closing = true;
    uv_close((uv_handle_t *)link->tcp, link_on_close);
    if (link->outbound && link->peer != NULL) {
        struct lc_peer *peer = link->peer;
        link->peer = NULL;
        peer->out = NULL;
        peer_link_lost(peer);
    }
}

static void on_frame_written(uv_write_t *w, int status)
{
    struct frame_write *fw = w->data;
    struct lc_link *link = fw->link;
    free(fw->buf.base);
    free(fw);
    if (status != 0 && status != UV_ECANCELED) {
        link_close(link);
    }
    lc_link_unref(link);
}

/* Send one frame whose payload is the packed @msg. */
static int link_send(struct lc_link *link, uint8_t type, uint64_t corr,
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
    fw->buf = uv_buf_init((char *)buf, (unsigned)(FRAME_HEAD + n));
    fw->link = link;
    fw->req.data = fw;
    if (uv_write(&fw->req, (uv_stream_t *)link->tcp, &fw->buf, 1,
                 on_frame_written) != 0) {
        free(buf);
        free(fw);
        link_close(link);
        return LC_ECONN;
    }
    lc_link_ref(link);
    return 0;
}

static void link_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct lc_link *link = h->data;
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

static void dispatch_response(struct lc_link *link, uint64_t corr,
                              const uint8_t *p, size_t n)
{
    struct lc_peer *peer = link->peer;
    struct lc_peer_call *call = NULL;
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

static void dispatch_request(struct lc_link *link, uint64_t corr,
                             const uint8_t *p, size_t n)
{
    Locus__Raft__PeerRequest *req =
        locus__raft__peer_request__unpack(NULL, n, p);
    if (req == NULL) {
        lc_warnf("raft", "peer %s sent a malformed request; closing link",
                 link->remote);
        link_close(link);
        return;
    }
    lc_engine_serve(link->e, link, corr, req);
    locus__raft__peer_request__free_unpacked(req, NULL);
}

static void link_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct lc_link *link = s->data;
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
    lc_link_ref(link); /* dispatching may close the link */
    while (!link->closing && link->rlen - off >= FRAME_HEAD) {
        uint32_t len = get32(link->rbuf + off);
        uint8_t type = link->rbuf[off + 4];
        uint64_t corr = get64(link->rbuf + off + 5);
        if (len < 9 || len > FRAME_MAX ||
            (type != TYPE_REQUEST && type != TYPE_RESPONSE)) {
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
        if (type == TYPE_RESPONSE && link->outbound) {
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
    lc_link_unref(link);
}

static struct lc_link *link_new(struct lc_raft_engine *e, uv_stream_t *stream,
                                bool outbound, const char *remote)
{
    struct lc_link *link = calloc(1, sizeof *link);
    if (link == NULL) {
        return NULL;
    }
    link->e = e;
    link->tcp = (uv_tcp_t *)stream;
    link->tcp->data = link;
    link->outbound = outbound;
    link->refs = 1; /* released by the close callback */
    e->n_live++;    /* balanced in link_free */
    link->next = e->links;
    if (e->links != NULL) {
        e->links->prev = link;
    }
    e->links = link;
    lc_strlcpy(link->remote, remote, sizeof link->remote);
    return link;
}

void lc_link_accept(struct lc_raft_engine *e, const struct lc_preface *p,
                    uv_stream_t *stream)
{
    struct lc_link *link = link_new(e, stream, false, p->address);
    if (link == NULL) {
        uv_close((uv_handle_t *)stream, (uv_close_cb)raft_free);
        return;
    }
    if (uv_read_start(stream, link_on_alloc, link_on_read) != 0) {
        link_close(link);
    }
}

void lc_links_close_all(struct lc_raft_engine *e)
{
    for (struct lc_link *link = e->links; link != NULL; link = link->next) {
        link_close(link);
    }
}

void lc_link_reply(struct lc_link *link, uint64_t corr,
                   const Locus__Raft__PeerResponse *resp)
{
    if (!link->closing) {
        link_send(link, TYPE_RESPONSE, corr, &resp->base);
    }
}

/* ----------------------------------------------------------------- peers */

static void peer_connect(struct lc_peer *peer);
static void peer_maybe_free(struct lc_peer *peer);

static void peer_on_retry(uv_timer_t *t)
{
    peer_connect(t->data);
}

static void peer_schedule_retry(struct lc_peer *peer)
{
    if (peer->closing) {
        return;
    }
    uv_timer_start(&peer->retry, peer_on_retry, peer->backoff, 0);
    peer->backoff = peer->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                      : peer->backoff * 2;
}

static void fail_calls(struct lc_peer *peer, int status)
{
    struct lc_peer_call *call;
    struct lc_peer_call *tmp;
    HASH_ITER(hh, peer->calls, call, tmp)
    {
        HASH_DELETE(hh, peer->calls, call);
        call->cb(call, status, NULL);
        free(call);
    }
}

static void peer_link_lost(struct lc_peer *peer)
{
    bool was_up = peer->up;
    peer->up = false;
    fail_calls(peer, peer->closing ? LC_ESHUTDOWN : LC_ECONN);
    if (peer->closing) {
        return;
    }
    if (was_up) {
        lc_infof("raft", "peer %s is down", peer->address);
        lc_engine_peer_down(peer->e, peer);
    }
    peer->backoff = BACKOFF_MIN_MS;
    peer_schedule_retry(peer);
}

static void peer_on_connected(void *data, uv_stream_t *stream, int status)
{
    struct lc_peer *peer = data;
    struct lc_link *link;

    peer->connecting = false;
    if (peer->closing) {
        if (stream != NULL) {
            uv_close((uv_handle_t *)stream, (uv_close_cb)raft_free);
        }
        peer_maybe_free(peer);
        return;
    }
    if (status != 0) {
        peer_schedule_retry(peer);
        return;
    }
    link = link_new(peer->e, stream, true, peer->address);
    if (link == NULL) {
        uv_close((uv_handle_t *)stream, (uv_close_cb)raft_free);
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
    lc_engine_peer_up(peer->e, peer);
}

static void peer_connect(struct lc_peer *peer)
{
    if (peer->closing || peer->connecting || peer->out != NULL) {
        return;
    }
    peer->hc.data = peer;
    if (lc_hub_connect(peer->e->hub, &peer->hc, LC_RAFT_PEER_CHANNEL,
                       peer->address, peer_on_connected) != 0) {
        peer_schedule_retry(peer);
        return;
    }
    peer->connecting = true;
}

struct lc_peer *lc_peer_new(struct lc_raft_engine *e, const char *address)
{
    struct lc_peer *peer = calloc(1, sizeof *peer);
    if (peer == NULL) {
        return NULL;
    }
    peer->e = e;
    e->n_live++; /* balanced in peer_maybe_free */
    lc_strlcpy(peer->address, address, sizeof peer->address);
    peer->backoff = BACKOFF_MIN_MS;
    uv_timer_init(e->loop, &peer->retry);
    peer->retry.data = peer;
    return peer;
}

void lc_peer_start(struct lc_peer *peer)
{
    peer_connect(peer);
}

static void peer_maybe_free(struct lc_peer *peer)
{
    struct lc_raft_engine *e = peer->e;
    if (peer->closing && peer->timer_closed && !peer->connecting) {
        free(peer);
        lc_engine_handle_closed(e);
    }
}

static void peer_on_timer_closed(uv_handle_t *h)
{
    struct lc_peer *peer = h->data;
    peer->timer_closed = true;
    peer_maybe_free(peer);
}

void lc_peer_close(struct lc_peer *peer)
{
    peer->closing = true;
    fail_calls(peer, LC_ESHUTDOWN);
    if (peer->out != NULL) {
        link_close(peer->out);
    }
    if (peer->connecting) {
        lc_hub_connect_cancel(&peer->hc);
    }
    uv_close((uv_handle_t *)&peer->retry, peer_on_timer_closed);
}

bool lc_peer_is_up(const struct lc_peer *peer)
{
    return peer->up;
}

const char *lc_peer_address(const struct lc_peer *peer)
{
    return peer->address;
}

int lc_peer_send(struct lc_peer *peer, const Locus__Raft__PeerRequest *req,
                 struct lc_peer_call *call, lc_peer_call_cb cb)
{
    int rv;
    if (!peer->up || peer->out == NULL) {
        return LC_ECONN;
    }
    call->cb = cb;
    call->peer = peer;
    call->corr = lc_engine_next_corr(peer->e);
    rv = link_send(peer->out, TYPE_REQUEST, call->corr, &req->base);
    if (rv != 0) {
        return rv;
    }
    HASH_ADD(hh, peer->calls, corr, sizeof call->corr, call);
    return 0;
}

void lc_peer_call_cancel(struct lc_peer_call *call)
{
    struct lc_peer *peer = call->peer;
    HASH_DELETE(hh, peer->calls, call);
    free(call);
}
