/* The UDP push transport (see udp.h for the protocol): subscriber targets
 * (an rpc/udp peer per "clientIP:udpPort#true"), datagrams, and acks
 * matched by sender address and lastRefTime.
 *
 * Happy path: the engine encodes a round's view (one datagram per clusters
 * string, with the round's lastRefTime) and sends it to each target; a send
 * records the ack key (address, lastRefTime) of the delivery; the client's
 * push-ack on the socket finds the key and acks the delivery.
 *
 * Failure modes: a target whose host name is being looked up for the first
 * time holds its sends (deferred) and sends them when the answer comes, or
 * fails them when the name does not resolve; a target without an address
 * fails at once. Two client ids naming one address in one round await one
 * ack: the second is a duplicate. Datagrams that are not an ack, and acks
 * that match nothing pending, are reported to the engine and dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/err.h"
#include "common/log.h"
#include "naming/internal.h"
#include "naming/push/transport.h"
#include "naming/push/udp.h"
#include "rpc/udp/udp.h"

/* A datagram, shared by a round's deliveries with the same clusters. */
struct udp_payload {
    uint64_t ref; /* its lastRefTime */
    size_t len;
    char data[];
};

struct ack_key {
    uint64_t ref;
    struct lc_udp_key addr;
};

struct udp_target;

/* What the transport keeps for one delivery (its d->data): waiting for the
 * target's lookup, or sent and awaiting the ack under its key. */
struct pending {
    uint64_t id;
    struct udp_target *waiting;   /* waits on this target's lookup, or NULL */
    const struct udp_payload *pl; /* while waiting (the engine's) */
    struct pending *wprev, *wnext;
    bool in_table;
    struct ack_key key;
    struct sockaddr_storage to;
    UT_hash_handle hh; /* in acks, by key */
};

struct udp_target {
    struct lc_push_udp *u;
    char *id; /* "ip:port#true" */
    struct lc_udp_peer peer;
    struct pending *wait_head, *wait_tail;
    UT_hash_handle hh;
};

struct lc_push_udp {
    struct lc_push_transport base;
    struct lc_push *p;
    struct lc_udp *sock;
    struct lc_push_udp_options opt;
    struct udp_target *targets; /* by id */
    struct pending *acks;       /* by key */
    uint64_t last_ref;
    uint64_t round;     /* the engine's round last encoded */
    uint64_t round_ref; /* and its lastRefTime */
    bool closing;
    void (*on_closed)(struct lc_push_transport *t);
};

void lc_push_udp_options_default(struct lc_push_udp_options *o)
{
    *o = (struct lc_push_udp_options){
        .ack_timeout_ms = LC_PUSH_DEFAULT_ACK_TIMEOUT_MS,
        .max_resends = 1,
        .client_expired_ms = LC_PUSH_DEFAULT_CLIENT_EXPIRED_MS,
    };
}

static void apply_options(struct lc_push_udp *u,
                          const struct lc_push_udp_options *o)
{
    u->opt = *o;
    u->base.policy = (struct lc_push_policy){
        .ack_timeout_ms = o->ack_timeout_ms,
        .max_resends = o->max_resends,
        .retry_delay_ms = 0, /* UDP pushes are not retried in Nacos */
        .expire_ms = o->client_expired_ms,
    };
}

/* ------------------------------------------------------------ datagrams */

/* Gzip @in whole (GZIPOutputStream's framing: a gzip member). */
static int gzip(const char *in, size_t len, char **out, size_t *out_len)
{
    z_stream zs;
    size_t cap;
    char *buf;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        return LC_ENOMEM;
    }
    cap = deflateBound(&zs, (uLong)len);
    buf = malloc(cap);
    if (buf == NULL) {
        deflateEnd(&zs);
        return LC_ENOMEM;
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)buf;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
        deflateEnd(&zs);
        free(buf);
        return LC_ENOMEM;
    }
    *out = buf;
    *out_len = zs.total_out;
    deflateEnd(&zs);
    return 0;
}

int lc_push_udp_datagram(json_t *info, uint64_t ref, char **out, size_t *len)
{
    json_t *udp_info = json_copy(info); /* shallow: @info stays as it is */
    json_t *root;
    char *data;
    char *text;
    size_t text_len;

    if (udp_info == NULL) {
        return LC_ENOMEM;
    }
    /* PushExecutorUdpImpl copies name (grouped), clusters, hosts,
     * lastRefTime and cacheMillis into a new ServiceInfo: groupName stays
     * null (left out) and reachProtectionThreshold false. */
    json_object_del(udp_info, "groupName");
    json_object_set_new(udp_info, "reachProtectionThreshold", json_false());
    data = json_dumps(udp_info, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(udp_info);
    if (data == NULL) {
        return LC_ENOMEM;
    }
    /* UdpPushService's HashMap iterates type, data, lastRefTime. */
    root = json_object();
    json_object_set_new(root, "type", json_string("dom"));
    json_object_set_new(root, "data", json_string(data));
    json_object_set_new(root, "lastRefTime", json_integer((json_int_t)ref));
    free(data);
    text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (text == NULL) {
        return LC_ENOMEM;
    }
    text_len = strlen(text);
    if (text_len >= LC_PUSH_UDP_GZIP_MIN) {
        char *z;
        size_t zlen;
        int rv = gzip(text, text_len, &z, &zlen);
        free(text);
        if (rv != 0) {
            return rv;
        }
        text = z;
        text_len = zlen;
    }
    *out = text;
    *len = text_len;
    return 0;
}

int lc_push_udp_render(struct lc_naming *n, const struct lc_service_key *key,
                       const char *clusters, uint64_t ref, char **out,
                       size_t *len)
{
    struct lc_service *svc = lc_registry_find_service(n->reg, key);
    json_t *info = lc_render_service_info(n, svc, key, clusters, false);
    int rv = lc_push_udp_datagram(info, ref, out, len);
    json_decref(info);
    return rv;
}

static uint64_t next_ref(struct lc_push_udp *u)
{
    /* Microseconds of a monotonic clock: unique, increasing, and 2^53 us is
     * 285 years, so JavaScript doubles hold it exactly. */
    uint64_t now = uv_hrtime() / 1000;
    u->last_ref = now > u->last_ref ? now : u->last_ref + 1;
    return u->last_ref;
}

static int udp_encode(struct lc_push_transport *t, const struct lc_push_view *v,
                      void **payload)
{
    struct lc_push_udp *u = t->impl;
    struct udp_payload *pl;
    char *text;
    size_t len;
    int rv;

    /* One lastRefTime per round, the same for all its datagrams. */
    if (v->round != u->round) {
        u->round = v->round;
        u->round_ref = next_ref(u);
    }
    rv = lc_push_udp_datagram(v->info, u->round_ref, &text, &len);
    if (rv != 0) {
        return rv;
    }
    pl = malloc(sizeof *pl + len);
    if (pl == NULL) {
        free(text);
        return LC_ENOMEM;
    }
    pl->ref = u->round_ref;
    pl->len = len;
    memcpy(pl->data, text, len);
    free(text);
    *payload = pl;
    return 0;
}

static void udp_payload_free(struct lc_push_transport *t, void *payload)
{
    (void)t;
    free(payload);
}

/* -------------------------------------------------------------- sending */

static void wait_unlink(struct pending *w)
{
    struct udp_target *tg = w->waiting;
    if (w->wprev != NULL) {
        w->wprev->wnext = w->wnext;
    } else {
        tg->wait_head = w->wnext;
    }
    if (w->wnext != NULL) {
        w->wnext->wprev = w->wprev;
    } else {
        tg->wait_tail = w->wprev;
    }
    w->wprev = w->wnext = NULL;
    w->waiting = NULL;
}

/* Send @pl to @to for @w and await the ack under (@to, lastRefTime).
 * Return 0, LC_PUSH_DUPLICATE or an LC_E* code (then @w is not in the
 * table). */
static int send_first(struct lc_push_udp *u, struct pending *w,
                      const struct sockaddr_storage *to,
                      const struct udp_payload *pl)
{
    struct pending *dup;
    int rv;

    memset(&w->key, 0, sizeof w->key);
    w->key.ref = pl->ref;
    if (!lc_udp_addr_key((const struct sockaddr *)to, &w->key.addr)) {
        return LC_EINVAL;
    }
    /* Two clients naming the same address (a name and its IP) in one
     * round: the datagram already awaits that ack. */
    HASH_FIND(hh, u->acks, &w->key, sizeof w->key, dup);
    if (dup != NULL) {
        return LC_PUSH_DUPLICATE;
    }
    rv = lc_udp_send(u->sock, (const struct sockaddr *)to, pl->data, pl->len);
    if (rv != 0) {
        return rv;
    }
    w->to = *to;
    w->in_table = true;
    HASH_ADD(hh, u->acks, key, sizeof w->key, w);
    return 0;
}

static int udp_send(struct lc_push_transport *t, void *target, void *payload,
                    struct lc_push_delivery *d)
{
    struct lc_push_udp *u = t->impl;
    struct udp_target *tg = target;
    const struct udp_payload *pl = payload;
    struct pending *w = d->data;
    int rv;

    if (w != NULL) {
        /* A resend goes where the first send went: that is the ack key. */
        return lc_udp_send(u->sock, (const struct sockaddr *)&w->to, pl->data,
                           pl->len);
    }
    if (!tg->peer.ok && !lc_udp_peer_resolving(&tg->peer)) {
        lc_debugf("push", "cannot push to %s: no address for clientIP", tg->id);
        return LC_ENOTFOUND;
    }
    w = calloc(1, sizeof *w);
    if (w == NULL) {
        return LC_ENOMEM;
    }
    w->id = d->id;
    if (!tg->peer.ok) {
        /* The first lookup is in flight: send when it answers, in the
         * order the pushes were made. */
        w->pl = pl;
        w->waiting = tg;
        w->wprev = tg->wait_tail;
        if (tg->wait_tail != NULL) {
            tg->wait_tail->wnext = w;
        } else {
            tg->wait_head = w;
        }
        tg->wait_tail = w;
        d->data = w;
        return LC_PUSH_DEFERRED;
    }
    rv = send_first(u, w, &tg->peer.addr, pl);
    if (rv != 0) {
        free(w);
        return rv;
    }
    d->data = w;
    return 0;
}

static void pending_free(struct lc_push_udp *u, struct pending *w)
{
    if (w->waiting != NULL) {
        wait_unlink(w);
    }
    if (w->in_table) {
        HASH_DEL(u->acks, w);
    }
    free(w);
}

static void udp_cancel(struct lc_push_transport *t, void *target,
                       struct lc_push_delivery *d)
{
    (void)target;
    if (d->data != NULL) {
        pending_free(t->impl, d->data);
        d->data = NULL;
    }
}

/* A lookup ended: send what waited for it, or fail it. */
static void on_peer(struct lc_udp_peer *peer, int status)
{
    struct udp_target *tg = peer->data;
    struct lc_push_udp *u = tg->u;
    struct pending *w;

    (void)status; /* rpc/udp logged it; each push that waited fails */
    while ((w = tg->wait_head) != NULL) {
        uint64_t id = w->id;
        const struct udp_payload *pl = w->pl;
        int rv = LC_ENOTFOUND;
        wait_unlink(w);
        if (peer->ok) {
            rv = send_first(u, w, &peer->addr, pl);
        }
        if (rv == 0) {
            lc_push_sent(u->p, id);
        } else {
            free(w);
            lc_push_send_failed(u->p, id, rv);
        }
    }
}

/* -------------------------------------------------------------- targets */

static void target_free(struct lc_push_udp *u, struct udp_target *tg)
{
    while (tg->wait_head != NULL) {
        pending_free(u, tg->wait_head);
    }
    HASH_DEL(u->targets, tg);
    lc_udp_peer_cleanup(&tg->peer);
    free(tg->id);
    free(tg);
}

static void udp_forget(struct lc_push_transport *t, void *target)
{
    target_free(t->impl, target);
}

int lc_push_udp_subscribe(struct lc_push_udp *u,
                          const struct lc_push_subscriber *s)
{
    const char *ip = s->ip != NULL ? s->ip : "";
    char id[320];
    struct udp_target *tg;
    bool created = false;
    int rv;

    if (u->closing) {
        return LC_ESHUTDOWN;
    }
    if (s->port <= 0) {
        return LC_EINVAL;
    }
    snprintf(id, sizeof id, "%s:%d#true", ip, s->port);
    HASH_FIND_STR(u->targets, id, tg);
    if (tg != NULL) {
        lc_udp_peer_refresh(&tg->peer); /* a stale host-name answer */
    } else {
        tg = calloc(1, sizeof *tg);
        if (tg == NULL || (tg->id = strdup(id)) == NULL) {
            free(tg);
            return LC_ENOMEM;
        }
        tg->u = u;
        tg->peer.data = tg;
        /* Java's InetSocketAddress("", port) is loopback. */
        if (lc_udp_peer_init(u->sock, &tg->peer,
                             ip[0] != '\0' ? ip : "127.0.0.1", s->port,
                             on_peer) != 0) {
            free(tg->id);
            free(tg);
            return LC_ENOMEM;
        }
        HASH_ADD_KEYPTR(hh, u->targets, tg->id, strlen(tg->id), tg);
        created = true;
    }
    rv = lc_push_subscribe(u->p, &u->base, id, tg, s);
    if (rv != 0 && created) {
        target_free(u, tg);
    }
    return rv;
}

/* ---------------------------------------------------------------- acks */

/* Java's Long.parseLong for the ack's lastRefTime (the Java 1.x client sends
 * it as a string); a JSON number is taken as is (Jackson truncates reals). */
static bool ack_ref(json_t *v, uint64_t *out)
{
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0) {
            return false;
        }
        *out = (uint64_t)json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= 0 && d < 18446744073709551616.0)) {
            return false;
        }
        *out = (uint64_t)d;
        return true;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        uint64_t x = 0;
        if (*s == '+') {
            s++;
        }
        if (*s == '\0') {
            return false;
        }
        for (; *s != '\0'; s++) {
            if (*s < '0' || *s > '9' || x > (UINT64_MAX - 9) / 10) {
                return false;
            }
            x = x * 10 + (uint64_t)(*s - '0');
        }
        *out = x;
        return true;
    }
    return false;
}

static void on_datagram(void *data, const char *buf, size_t len,
                        const struct sockaddr *from, bool truncated)
{
    struct lc_push_udp *u = data;
    json_t *root;
    struct ack_key key;
    struct pending *w;
    uint64_t id;

    if (u->closing) {
        return;
    }
    if (len == 0 || truncated) {
        lc_push_ack_malformed(u->p);
        return;
    }
    /* UdpReceiver trims the text (Java's trim: bytes <= ' '). */
    while (len > 0 && (unsigned char)buf[len - 1] <= ' ') {
        len--;
    }
    memset(&key, 0, sizeof key);
    root = json_loadb(buf, len, 0, NULL);
    if (!json_is_object(root) ||
        !ack_ref(json_object_get(root, "lastRefTime"), &key.ref)) {
        lc_debugf("push", "dropped a %zu-byte datagram that is not an ack",
                  len);
        json_decref(root);
        lc_push_ack_malformed(u->p);
        return;
    }
    json_decref(root);
    if (!lc_udp_addr_key(from, &key.addr)) {
        lc_push_ack_unmatched(u->p);
        return;
    }
    HASH_FIND(hh, u->acks, &key, sizeof key, w);
    if (w == NULL) {
        lc_debugf("push", "ack for no pending push, lastRefTime %llu",
                  (unsigned long long)key.ref);
        lc_push_ack_unmatched(u->p);
        return;
    }
    id = w->id;
    pending_free(u, w);
    lc_push_acked(u->p, id);
}

/* ------------------------------------------------------------ lifetime */

static void on_sock_closed(void *data)
{
    struct lc_push_udp *u = data;
    if (u->on_closed != NULL) {
        u->on_closed(&u->base);
    }
    free(u);
}

static void udp_close(struct lc_push_transport *t,
                      void (*on_closed)(struct lc_push_transport *t))
{
    struct lc_push_udp *u = t->impl;
    struct udp_target *tg, *ttmp;
    struct pending *w, *wtmp;

    u->closing = true;
    u->on_closed = on_closed;
    HASH_ITER(hh, u->acks, w, wtmp)
    {
        pending_free(u, w);
    }
    HASH_ITER(hh, u->targets, tg, ttmp)
    {
        target_free(u, tg);
    }
    lc_udp_close(u->sock, on_sock_closed, u);
}

static const struct lc_push_transport_ops udp_ops = {
    .name = "udp",
    .encode = udp_encode,
    .payload_free = udp_payload_free,
    .send = udp_send,
    .cancel = udp_cancel,
    .forget = udp_forget,
    .close = udp_close,
};

int lc_push_udp_new(struct lc_push *p, const struct lc_push_udp_options *o,
                    struct lc_push_udp **out)
{
    struct lc_push_udp *u = calloc(1, sizeof *u);
    struct lc_push_udp_options def;
    int rv;

    if (u == NULL) {
        return LC_ENOMEM;
    }
    if (o == NULL) {
        lc_push_udp_options_default(&def);
        o = &def;
    }
    u->p = p;
    u->base.ops = &udp_ops;
    u->base.impl = u;
    apply_options(u, o);
    rv = lc_udp_open(lc_push_loop(p), NULL, on_datagram, u, &u->sock);
    if (rv != 0) {
        lc_errorf("push", "cannot open the UDP push socket: %s",
                  lc_strerror(rv));
        free(u);
        return rv;
    }
    rv = lc_push_add_transport(p, &u->base);
    if (rv != 0) {
        u->closing = true;
        lc_udp_close(u->sock, on_sock_closed, u);
        return rv;
    }
    *out = u;
    return 0;
}

void lc_push_udp_set_options(struct lc_push_udp *u,
                             const struct lc_push_udp_options *o)
{
    apply_options(u, o);
}

int lc_push_udp_port(const struct lc_push_udp *u)
{
    return u != NULL ? lc_udp_port(u->sock) : -1;
}
