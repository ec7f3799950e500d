/* The raft port: one listener for every group and the peer channel, and
 * prefaces in and out (the raft_uv_transport on top is net_transport.c).
 *
 * canonical/raft 0.15's own TCP transport sets no TCP_NODELAY (so small
 * AppendEntries wait ~40 ms for delayed ACKs), accepts IPv4 literals only and
 * listens with a backlog of 1. This one sets TCP_NODELAY on both ends,
 * resolves host names and IPv6 literals, listens with a backlog of 511, and
 * authenticates every connection before raft sees a byte.
 *
 * Inbound: accept, send hello (a fresh nonce), read the claim with exact-size
 * reads (nothing beyond the preface is consumed), verify it, answer one status
 * byte and hand the socket to the group's raft_uv (or to the peer module).
 * Anything malformed, unauthenticated or too slow (3 s) is logged and closed.
 *
 * Outbound: resolve, connect, read hello, send the claim, read the status
 * byte, hand the socket to the caller.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "raft/net.h"

#define HANDSHAKE_TIMEOUT_MS 3000
/* An outbound connection whose TCP connect has not completed in this long is
 * abandoned and retried by its owner: during a partition the kernel would
 * otherwise back off its SYN retransmissions (1 s, 2 s, 4 s...) and a
 * connect started then would complete seconds after the network heals. */
#define CONNECT_TIMEOUT_MS 400
#define MAX_INBOUND 256
#define LOG_BURST 20 /* dropped-connection lines per 10 s */

struct inbound {
    struct lc_net_hub *hub;
    uv_tcp_t *tcp; /* raft_malloc'd: raft frees it with raft_free */
    uv_timer_t timer;
    uv_write_t write;
    uv_buf_t wbuf;
    uint8_t hello[LC_PREFACE_HELLO_LEN];
    uint8_t nonce[LC_PREFACE_NONCE_LEN];
    uint8_t buf[LC_PREFACE_MAX_LEN];
    size_t need;
    size_t got;
    bool fixed_done;
    uint8_t status;
    struct lc_preface claim;
    char remote[LC_NET_ADDR_MAX];
    unsigned open;
    bool done;
    struct inbound *prev, *next;
};

struct outbound {
    struct lc_net_hub *hub;
    struct lc_net_connect *req;
    char channel[LC_NET_CHANNEL_MAX];
    char address[LC_NET_ADDR_MAX];
    uv_getaddrinfo_t gai;
    uv_connect_t connect;
    uv_write_t write;
    uv_timer_t timer;
    uv_tcp_t *tcp;
    uint8_t hello[LC_PREFACE_HELLO_LEN];
    uint8_t claim[LC_PREFACE_MAX_LEN];
    size_t claim_len;
    uint8_t status;
    uint8_t *rbuf;
    size_t need;
    size_t got;
    bool reading_status;
    bool pending_gai;
    unsigned open;
    int result;
    bool finishing;
    struct outbound *prev, *next;
};

struct lc_net_hub {
    uv_loop_t *loop;
    lc_net_check_cb check;
    lc_net_accept_cb accept;
    void *data; /* for check and accept */
    lc_net_hub_close_cb close_cb;
    void *close_data;
    uv_tcp_t listener;
    bool listener_open;
    char self_address[LC_NET_ADDR_MAX];
    raft_id self_id;
    uint8_t *key;
    size_t keylen;
    struct inbound *inbound;
    unsigned n_inbound;
    struct outbound *outbound;
    bool closing;
    unsigned user_timeout_ms; /* TCP_USER_TIMEOUT on every socket, 0 none */
    uint64_t log_window;
    unsigned log_count;
    unsigned log_suppressed;
};

/* ------------------------------------------------------------------ hub */

/* Give @tcp a TCP_USER_TIMEOUT: unacknowledged data older than that
 * aborts the connection (the kernel resets it and discards what is
 * buffered) instead of retransmitting with exponential back-off for up to
 * ~15 minutes. raft_uv never reads from the links it opens, so a link that
 * died silently (a partition) is only noticed when a write fails; without
 * this it would wait out the back-off after the network heals. */
static void set_user_timeout(const struct lc_net_hub *hub, uv_tcp_t *tcp)
{
    uv_os_fd_t fd;
    unsigned ms = hub->user_timeout_ms;
    if (ms == 0 || uv_fileno((uv_handle_t *)tcp, &fd) != 0) {
        return;
    }
    if (setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms) != 0) {
        lc_debugf("raft", "TCP_USER_TIMEOUT: %s", strerror(errno));
    }
}

void lc_net_hub_set_user_timeout(struct lc_net_hub *hub, unsigned ms)
{
    hub->user_timeout_ms = ms;
}

void lc_net_stream_close(uv_stream_t *stream)
{
    uv_close((uv_handle_t *)stream, (uv_close_cb)raft_free);
}

static void hub_maybe_free(struct lc_net_hub *hub)
{
    if (!hub->closing || hub->listener_open || hub->inbound != NULL ||
        hub->outbound != NULL) {
        return;
    }
    lc_net_hub_close_cb cb = hub->close_cb;
    void *data = hub->close_data;
    sodium_memzero(hub->key, hub->keylen);
    free(hub->key);
    free(hub);
    if (cb != NULL) {
        cb(data);
    }
}

/* Log a dropped connection, at most LOG_BURST lines per 10 s. */
static void log_drop(struct lc_net_hub *hub, const char *remote, const char *why)
{
    uint64_t now = uv_now(hub->loop);
    if (now - hub->log_window >= 10000) {
        if (hub->log_suppressed > 0) {
            lc_warnf("raft", "%u more dropped connections not logged",
                     hub->log_suppressed);
        }
        hub->log_window = now;
        hub->log_count = 0;
        hub->log_suppressed = 0;
    }
    if (hub->log_count++ < LOG_BURST) {
        lc_warnf("raft", "dropped connection from %s: %s", remote, why);
    } else {
        hub->log_suppressed++;
    }
}

int lc_net_hub_new(uv_loop_t *loop, const char *self_address, raft_id self_id,
                   const void *key, size_t keylen, lc_net_check_cb check,
                   lc_net_accept_cb accept, void *data,
                   struct lc_net_hub **out)
{
    struct lc_net_hub *hub = calloc(1, sizeof *hub);
    if (hub == NULL) {
        return LC_ENOMEM;
    }
    hub->key = malloc(keylen > 0 ? keylen : 1);
    if (hub->key == NULL) {
        free(hub);
        return LC_ENOMEM;
    }
    memcpy(hub->key, key, keylen);
    hub->keylen = keylen;
    hub->loop = loop;
    hub->check = check;
    hub->accept = accept;
    hub->data = data;
    hub->self_id = self_id;
    lc_strlcpy(hub->self_address, self_address, sizeof hub->self_address);
    *out = hub;
    return 0;
}

static int resolve_numeric(const char *address, struct sockaddr_storage *ss)
{
    char host[LC_NET_ADDR_MAX];
    int port;
    if (lc_split_host_port(address, host, sizeof host, &port) != 0) {
        return LC_EINVAL;
    }
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0 ||
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0) {
        return 0;
    }
    return LC_ENOTFOUND; /* a name: needs getaddrinfo */
}

/* ------------------------------------------------------------- inbound */

static void inbound_unlink(struct inbound *in)
{
    struct lc_net_hub *hub = in->hub;
    if (in->prev != NULL) {
        in->prev->next = in->next;
    } else {
        hub->inbound = in->next;
    }
    if (in->next != NULL) {
        in->next->prev = in->prev;
    }
    hub->n_inbound--;
}

static void inbound_on_close(uv_handle_t *h)
{
    struct inbound *in = h->data;
    if (h == (uv_handle_t *)in->tcp) {
        raft_free(in->tcp);
        in->tcp = NULL;
    }
    if (--in->open == 0) {
        struct lc_net_hub *hub = in->hub;
        inbound_unlink(in);
        free(in);
        hub_maybe_free(hub);
    }
}

static void inbound_drop(struct inbound *in, const char *why)
{
    if (in->done) {
        return;
    }
    in->done = true;
    if (why != NULL) {
        log_drop(in->hub, in->remote, why);
    }
    uv_close((uv_handle_t *)in->tcp, inbound_on_close);
    uv_close((uv_handle_t *)&in->timer, inbound_on_close);
}

static void inbound_on_timeout(uv_timer_t *t)
{
    inbound_drop(t->data, "preface not completed within 3 s");
}

static void inbound_on_status_written(uv_write_t *w, int status)
{
    struct inbound *in = w->data;
    struct lc_net_hub *hub = in->hub;
    if (in->done) {
        return;
    }
    if (status != 0 || in->status != LC_PREFACE_OK || hub->closing) {
        char why[512];
        snprintf(why, sizeof why, "%s (channel '%s', claims %s)",
                 in->status != LC_PREFACE_OK
                     ? lc_preface_status_str(in->status)
                     : "connection lost",
                 in->claim.channel, in->claim.address);
        inbound_drop(in, status == UV_ECANCELED ? NULL : why);
        return;
    }
    /* Hand over: raft (or the peer module) owns the socket from here. */
    in->done = true;
    uv_stream_t *stream = (uv_stream_t *)in->tcp;
    in->tcp = NULL;
    in->open--; /* the tcp handle leaves our count */
    uv_close((uv_handle_t *)&in->timer, inbound_on_close);
    hub->accept(hub->data, &in->claim, stream);
}

static void inbound_answer(struct inbound *in, uint8_t status)
{
    int rv;
    uv_read_stop((uv_stream_t *)in->tcp);
    in->status = status;
    in->wbuf = uv_buf_init((char *)&in->status, 1);
    in->write.data = in;
    rv = uv_write(&in->write, (uv_stream_t *)in->tcp, &in->wbuf, 1,
                  inbound_on_status_written);
    if (rv != 0) {
        inbound_drop(in, "cannot answer preface");
    }
}

static void inbound_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct inbound *in = h->data;
    (void)suggested;
    /* Exact-size reads: never consume a byte past the preface. */
    *buf = uv_buf_init((char *)in->buf + in->got,
                       (unsigned)(in->need - in->got));
}

static void inbound_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct inbound *in = s->data;
    struct lc_net_hub *hub = in->hub;
    size_t rest;
    int rv;
    (void)b;

    if (in->done) {
        return;
    }
    if (nread < 0) {
        inbound_drop(in, nread == UV_EOF ? "closed during preface"
                                          : uv_strerror((int)nread));
        return;
    }
    in->got += (size_t)nread;
    if (in->got < in->need) {
        return;
    }
    if (!in->fixed_done) {
        if (lc_preface_parse_fixed(in->buf, &rest) != 0) {
            uv_read_stop(s);
            inbound_drop(in, "malformed preface (not a locus peer?)");
            return;
        }
        in->fixed_done = true;
        in->need = LC_PREFACE_FIXED_LEN + rest;
        return;
    }
    rv = lc_preface_verify(hub->key, hub->keylen, in->nonce, in->buf, in->got,
                           &in->claim);
    if (rv == LC_EUNAUTH) {
        inbound_answer(in, LC_PREFACE_BAD_AUTH);
        return;
    }
    if (rv != 0) {
        inbound_answer(in, LC_PREFACE_MALFORMED);
        return;
    }
    inbound_answer(in, (uint8_t)hub->check(hub->data, &in->claim));
}

static void hub_on_connection(uv_stream_t *server, int status)
{
    struct lc_net_hub *hub = server->data;
    struct inbound *in;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "?";

    if (status != 0 || hub->closing) {
        return;
    }
    in = calloc(1, sizeof *in);
    if (in == NULL) {
        return;
    }
    in->tcp = raft_malloc(sizeof *in->tcp);
    if (in->tcp == NULL) {
        free(in);
        return;
    }
    in->hub = hub;
    uv_tcp_init(hub->loop, in->tcp);
    uv_timer_init(hub->loop, &in->timer);
    in->tcp->data = in;
    in->timer.data = in;
    in->open = 2;
    in->next = hub->inbound;
    if (hub->inbound != NULL) {
        hub->inbound->prev = in;
    }
    hub->inbound = in;
    hub->n_inbound++;

    if (uv_accept(server, (uv_stream_t *)in->tcp) != 0) {
        inbound_drop(in, NULL);
        return;
    }
    if (uv_tcp_getpeername(in->tcp, (struct sockaddr *)&ss, &len) == 0) {
        int port;
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
            uv_ip6_name(a6, ip, sizeof ip);
            port = ntohs(a6->sin6_port);
        } else {
            struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
            uv_ip4_name(a4, ip, sizeof ip);
            port = ntohs(a4->sin_port);
        }
        lc_join_host_port(in->remote, sizeof in->remote, ip, port);
    }
    if (hub->n_inbound > MAX_INBOUND) {
        inbound_drop(in, "too many connections in preface");
        return;
    }
    uv_tcp_nodelay(in->tcp, 1);
    uv_tcp_keepalive(in->tcp, 1, 10);
    set_user_timeout(hub, in->tcp);

    randombytes_buf(in->nonce, sizeof in->nonce);
    lc_preface_hello(in->hello, in->nonce);
    in->wbuf = uv_buf_init((char *)in->hello, sizeof in->hello);
    /* The hello fits in the socket buffer of a fresh connection. */
    if (uv_try_write((uv_stream_t *)in->tcp, &in->wbuf, 1) !=
        (int)sizeof in->hello) {
        inbound_drop(in, "cannot send hello");
        return;
    }
    in->need = LC_PREFACE_FIXED_LEN;
    uv_timer_start(&in->timer, inbound_on_timeout, HANDSHAKE_TIMEOUT_MS, 0);
    if (uv_read_start((uv_stream_t *)in->tcp, inbound_on_alloc,
                      inbound_on_read) != 0) {
        inbound_drop(in, "cannot read");
    }
}

static void hub_on_listener_closed(uv_handle_t *h)
{
    struct lc_net_hub *hub = h->data;
    hub->listener_open = false;
    hub_maybe_free(hub);
}

int lc_net_hub_listen(struct lc_net_hub *hub, char *errmsg, size_t errlen)
{
    struct sockaddr_storage ss;
    int rv;

    if (resolve_numeric(hub->self_address, &ss) != 0) {
        snprintf(errmsg, errlen,
                 "raft address %s must be an IP literal with a port",
                 hub->self_address);
        return LC_EINVAL;
    }
    uv_tcp_init(hub->loop, &hub->listener);
    hub->listener.data = hub;
    hub->listener_open = true;
    rv = uv_tcp_bind(&hub->listener, (struct sockaddr *)&ss, 0);
    if (rv == 0) {
        rv = uv_listen((uv_stream_t *)&hub->listener, 511, hub_on_connection);
    }
    if (rv != 0) {
        snprintf(errmsg, errlen, "cannot listen on raft port %s: %s",
                 hub->self_address, uv_strerror(rv));
        return lc_err_from_uv(rv);
    }
    return 0;
}

/* ------------------------------------------------------------ outbound */

static void outbound_on_close(uv_handle_t *h);

static void outbound_finish(struct outbound *o, int status)
{
    if (o->finishing) {
        return;
    }
    o->finishing = true;
    o->result = status;
    if (o->pending_gai) {
        uv_cancel((uv_req_t *)&o->gai);
    }
    if (status == 0) {
        /* The socket goes to the caller; only the timer is ours to close. */
        uv_read_stop((uv_stream_t *)o->tcp);
        o->open--;
    } else if (o->tcp != NULL) {
        uv_close((uv_handle_t *)o->tcp, outbound_on_close);
    }
    uv_close((uv_handle_t *)&o->timer, outbound_on_close);
}

static void outbound_maybe_done(struct outbound *o)
{
    struct lc_net_hub *hub = o->hub;
    struct lc_net_connect *req = o->req;
    uv_stream_t *stream = NULL;

    if (o->open > 0 || o->pending_gai) {
        return;
    }
    if (o->prev != NULL) {
        o->prev->next = o->next;
    } else {
        hub->outbound = o->next;
    }
    if (o->next != NULL) {
        o->next->prev = o->prev;
    }
    if (o->result == 0) {
        stream = (uv_stream_t *)o->tcp;
        stream->data = NULL;
    }
    if (req != NULL) {
        req->priv = NULL;
        req->cb(req->data, stream, o->result);
    } else if (stream != NULL) {
        lc_net_stream_close(stream);
    }
    free(o);
    hub_maybe_free(hub);
}

static void outbound_on_close(uv_handle_t *h)
{
    struct outbound *o = h->data;
    if (h == (uv_handle_t *)o->tcp) {
        raft_free(o->tcp);
        o->tcp = NULL;
    }
    o->open--;
    outbound_maybe_done(o);
}

static void outbound_on_timeout(uv_timer_t *t)
{
    struct outbound *o = t->data;
    lc_debugf("raft", "preface to %s (%s) timed out", o->address, o->channel);
    outbound_finish(o, LC_ETIMEDOUT);
}

static void outbound_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct outbound *o = h->data;
    (void)suggested;
    *buf = uv_buf_init((char *)o->rbuf + o->got,
                       (unsigned)(o->need - o->got));
}

static void outbound_on_claim_written(uv_write_t *w, int status)
{
    struct outbound *o = w->data;
    if (o->finishing) {
        return;
    }
    if (status != 0) {
        outbound_finish(o, LC_ECONN);
    }
}

static void outbound_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    struct outbound *o = s->data;
    uint8_t nonce[LC_PREFACE_NONCE_LEN];
    struct lc_preface claim;
    uv_buf_t wbuf;
    (void)b;

    if (o->finishing) {
        return;
    }
    if (nread < 0) {
        outbound_finish(o, LC_ECONN);
        return;
    }
    o->got += (size_t)nread;
    if (o->got < o->need) {
        return;
    }
    if (o->reading_status) {
        if (o->status != LC_PREFACE_OK) {
            lc_warnf("raft", "%s refused channel '%s': %s", o->address,
                     o->channel, lc_preface_status_str(o->status));
            outbound_finish(o, o->status == LC_PREFACE_BAD_AUTH ? LC_EUNAUTH
                                                                : LC_ECONN);
            return;
        }
        outbound_finish(o, 0);
        return;
    }
    if (lc_preface_parse_hello(o->hello, nonce) != 0) {
        lc_warnf("raft", "%s is not a locus raft port (bad hello)",
                 o->address);
        outbound_finish(o, LC_EPROTO);
        return;
    }
    memset(&claim, 0, sizeof claim);
    lc_strlcpy(claim.channel, o->channel, sizeof claim.channel);
    lc_strlcpy(claim.address, o->hub->self_address, sizeof claim.address);
    claim.id = o->hub->self_id;
    if (lc_preface_encode(o->hub->key, o->hub->keylen, nonce, &claim,
                          o->claim, sizeof o->claim, &o->claim_len) != 0) {
        outbound_finish(o, LC_EINVAL);
        return;
    }
    wbuf = uv_buf_init((char *)o->claim, (unsigned)o->claim_len);
    o->write.data = o;
    if (uv_write(&o->write, s, &wbuf, 1, outbound_on_claim_written) != 0) {
        outbound_finish(o, LC_ECONN);
        return;
    }
    o->reading_status = true;
    o->rbuf = &o->status;
    o->got = 0;
    o->need = 1;
}

static void outbound_on_connect(uv_connect_t *c, int status)
{
    struct outbound *o = c->data;
    if (o->finishing) {
        return;
    }
    if (status != 0) {
        outbound_finish(o, LC_ECONN);
        return;
    }
    uv_tcp_nodelay(o->tcp, 1);
    uv_tcp_keepalive(o->tcp, 1, 10);
    set_user_timeout(o->hub, o->tcp);
    /* Connected: the preface (hello, claim, status) gets the handshake's
     * own bound, as two round trips and the remote loop's turn can take
     * longer than a connect should. */
    uv_timer_start(&o->timer, outbound_on_timeout, HANDSHAKE_TIMEOUT_MS, 0);
    o->rbuf = o->hello;
    o->need = sizeof o->hello;
    o->got = 0;
    if (uv_read_start((uv_stream_t *)o->tcp, outbound_on_alloc,
                      outbound_on_read) != 0) {
        outbound_finish(o, LC_ECONN);
    }
}

static void outbound_connect(struct outbound *o, const struct sockaddr *sa)
{
    int rv;
    o->tcp = raft_malloc(sizeof *o->tcp);
    if (o->tcp == NULL) {
        outbound_finish(o, LC_ENOMEM);
        return;
    }
    uv_tcp_init(o->hub->loop, o->tcp);
    o->tcp->data = o;
    o->open++;
    o->connect.data = o;
    rv = uv_tcp_connect(&o->connect, o->tcp, sa, outbound_on_connect);
    if (rv != 0) {
        outbound_finish(o, LC_ECONN);
    }
}

static void outbound_on_resolved(uv_getaddrinfo_t *req, int status,
                                 struct addrinfo *res)
{
    struct outbound *o = req->data;
    o->pending_gai = false;
    if (o->finishing) {
        uv_freeaddrinfo(res);
        outbound_maybe_done(o);
        return;
    }
    if (status != 0 || res == NULL) {
        lc_warnf("raft", "cannot resolve %s: %s", o->address,
                 uv_strerror(status));
        uv_freeaddrinfo(res);
        outbound_finish(o, LC_ECONN);
        return;
    }
    outbound_connect(o, res->ai_addr);
    uv_freeaddrinfo(res);
}

int lc_net_hub_connect(struct lc_net_hub *hub, struct lc_net_connect *req,
                       const char *channel, const char *address,
                       lc_net_connect_cb cb)
{
    struct sockaddr_storage ss;
    struct outbound *o;
    char host[LC_NET_ADDR_MAX];
    char port_text[8];
    int port;
    int rv;

    if (hub->closing) {
        return LC_ESHUTDOWN;
    }
    if (lc_split_host_port(address, host, sizeof host, &port) != 0) {
        return LC_EINVAL;
    }
    o = calloc(1, sizeof *o);
    if (o == NULL) {
        return LC_ENOMEM;
    }
    o->hub = hub;
    o->req = req;
    req->cb = cb;
    req->priv = o;
    lc_strlcpy(o->channel, channel, sizeof o->channel);
    lc_strlcpy(o->address, address, sizeof o->address);
    uv_timer_init(hub->loop, &o->timer);
    o->timer.data = o;
    o->open = 1;
    o->next = hub->outbound;
    if (hub->outbound != NULL) {
        hub->outbound->prev = o;
    }
    hub->outbound = o;
    uv_timer_start(&o->timer, outbound_on_timeout, CONNECT_TIMEOUT_MS, 0);

    rv = resolve_numeric(address, &ss);
    if (rv == 0) {
        outbound_connect(o, (struct sockaddr *)&ss);
        return 0;
    }
    snprintf(port_text, sizeof port_text, "%d", port);
    o->gai.data = o;
    o->pending_gai = true;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    rv = uv_getaddrinfo(hub->loop, &o->gai, outbound_on_resolved, host,
                        port_text, &hints);
    if (rv != 0) {
        o->pending_gai = false;
        outbound_finish(o, LC_ECONN);
    }
    return 0;
}

void lc_net_hub_connect_cancel(struct lc_net_connect *req)
{
    struct outbound *o = req->priv;
    if (o != NULL) {
        outbound_finish(o, LC_ECANCELED);
    }
}

void lc_net_hub_close(struct lc_net_hub *hub, lc_net_hub_close_cb cb,
                      void *data)
{
    hub->closing = true;
    hub->close_cb = cb;
    hub->close_data = data;
    if (hub->listener_open && !uv_is_closing((uv_handle_t *)&hub->listener)) {
        uv_close((uv_handle_t *)&hub->listener, hub_on_listener_closed);
    }
    for (struct inbound *in = hub->inbound; in != NULL; in = in->next) {
        inbound_drop(in, NULL);
    }
    for (struct outbound *o = hub->outbound; o != NULL; o = o->next) {
        outbound_finish(o, LC_ECANCELED);
    }
    hub_maybe_free(hub);
}
