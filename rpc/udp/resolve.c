/* Peers: where datagrams go, from a host and a port. A literal is an
 * address at once; a host name is looked up with uv_getaddrinfo on the
 * thread pool, the first IPv4 answer taken, else the first IPv6 one (the
 * JVM's order), and cached on the peer for the TTL (a failure for the
 * negative TTL).
 *
 * Lifetime: a lookup in flight holds the socket open (lc_udp_close waits
 * for it), and points at its peer until the peer is cleaned up or the
 * socket closes; a detached lookup's answer is dropped and no callback
 * fires. Lookups not yet started are cancelled when the socket closes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "rpc/udp/internal.h"

struct lc_udp_lookup {
    uv_getaddrinfo_t req;
    struct lc_udp *u;
    struct lc_udp_peer *peer; /* NULL once detached */
    struct lc_udp_lookup *prev, *next;
};

bool lc_udp_addr_key(const struct sockaddr *addr, struct lc_udp_key *key)
{
    memset(key, 0, sizeof *key);
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
        key->ip[10] = key->ip[11] = 0xff;
        memcpy(key->ip + 12, &a->sin_addr, 4);
        key->port = a->sin_port;
        return true;
    }
    if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
        memcpy(key->ip, &a->sin6_addr, 16);
        key->port = a->sin6_port;
        return true;
    }
    return false;
}

void lc_udp_addr_text(const struct sockaddr *addr, char *out, size_t size)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
        uv_ip4_name(a, ip, sizeof ip);
        snprintf(out, size, "%s:%d", ip, ntohs(a->sin_port));
    } else if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
        uv_ip6_name(a, ip, sizeof ip);
        snprintf(out, size, "[%s]:%d", ip, ntohs(a->sin6_port));
    } else {
        snprintf(out, size, "?");
    }
}

bool lc_udp_addr_literal(const char *host, int port,
                         struct sockaddr_storage *out)
{
    char inner[INET6_ADDRSTRLEN + 64];
    size_t len = strlen(host);
    memset(out, 0, sizeof *out);
    /* InetAddress.getByName takes "[v6]" too. */
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']' &&
        len - 2 < sizeof inner) {
        memcpy(inner, host + 1, len - 2);
        inner[len - 2] = '\0';
        return uv_ip6_addr(inner, port, (struct sockaddr_in6 *)out) == 0;
    }
    return uv_ip4_addr(host, port, (struct sockaddr_in *)out) == 0 ||
           uv_ip6_addr(host, port, (struct sockaddr_in6 *)out) == 0;
}

static void lookup_unlink(struct lc_udp *u, struct lc_udp_lookup *l)
{
    if (l->prev != NULL) {
        l->prev->next = l->next;
    } else {
        u->lookups = l->next;
    }
    if (l->next != NULL) {
        l->next->prev = l->prev;
    }
    l->prev = l->next = NULL;
}

/* The answer for @peer: the first IPv4 address, else the first IPv6 one. */
static void take_answer(struct lc_udp_peer *peer, int status,
                        const struct addrinfo *res)
{
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *ai = status == 0 ? res : NULL; ai != NULL;
         ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
        if (ai->ai_family == AF_INET6 && pick == NULL) {
            pick = ai;
        }
    }
    if (pick == NULL) {
        peer->ok = false;
        return;
    }
    memset(&peer->addr, 0, sizeof peer->addr);
    memcpy(&peer->addr, pick->ai_addr, pick->ai_addrlen);
    if (pick->ai_family == AF_INET) {
        ((struct sockaddr_in *)&peer->addr)->sin_port =
            htons((uint16_t)peer->port);
    } else {
        ((struct sockaddr_in6 *)&peer->addr)->sin6_port =
            htons((uint16_t)peer->port);
    }
    peer->ok = true;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct lc_udp_lookup *l = (struct lc_udp_lookup *)req;
    struct lc_udp *u = l->u;
    struct lc_udp_peer *peer = l->peer;

    lookup_unlink(u, l);
    if (peer != NULL) {
        int rv = 0;
        peer->lookup = NULL;
        peer->resolved_at = uv_now(u->loop);
        take_answer(peer, status, res);
        if (!peer->ok) {
            rv = status != 0 ? lc_err_from_uv(status) : LC_ENOTFOUND;
            lc_warnf("udp", "'%s' does not resolve (%s)", peer->host,
                     status != 0 ? uv_strerror(status) : "no IP address");
        }
        /* The owner may clean the peer up in its callback: last use. */
        if (peer->cb != NULL) {
            peer->cb(peer, rv);
        }
    }
    uv_freeaddrinfo(res);
    free(l);
    udp_release(u);
}

static void lookup(struct lc_udp_peer *peer)
{
    struct lc_udp *u = peer->u;
    struct addrinfo hints;
    struct lc_udp_lookup *l = calloc(1, sizeof *l);
    int rv;

    if (l == NULL) {
        lc_warnf("udp", "out of memory resolving %s", peer->host);
        peer->resolved_at = uv_now(u->loop);
        return;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    l->u = u;
    l->peer = peer;
    rv =
        uv_getaddrinfo(u->loop, &l->req, on_resolved, peer->host, NULL, &hints);
    if (rv != 0) {
        lc_warnf("udp", "cannot resolve '%s': %s", peer->host, uv_strerror(rv));
        free(l);
        peer->resolved_at = uv_now(u->loop);
        return;
    }
    l->next = u->lookups;
    if (u->lookups != NULL) {
        u->lookups->prev = l;
    }
    u->lookups = l;
    peer->lookup = l;
    u->open++;
}

int lc_udp_peer_init(struct lc_udp *u, struct lc_udp_peer *peer,
                     const char *host, int port, lc_udp_peer_cb cb)
{
    void *data = peer->data;
    memset(peer, 0, sizeof *peer);
    peer->data = data;
    peer->u = u;
    peer->port = port;
    peer->cb = cb;
    peer->host = strdup(host);
    if (peer->host == NULL) {
        return LC_ENOMEM;
    }
    /* InetSocketAddress refuses a port out of range. */
    if (port <= 0 || port > 65535) {
        return 0;
    }
    if (lc_udp_addr_literal(host, port, &peer->addr)) {
        peer->ok = true;
        return 0;
    }
    peer->is_name = true;
    if (!u->closing) {
        lookup(peer);
    }
    return 0;
}

void lc_udp_peer_refresh(struct lc_udp_peer *peer)
{
    struct lc_udp *u = peer->u;
    uint64_t ttl = peer->ok ? u->opt.dns_ttl_ms : u->opt.dns_negative_ttl_ms;
    if (peer->is_name && peer->lookup == NULL && !u->closing &&
        uv_now(u->loop) - peer->resolved_at >= ttl) {
        lookup(peer);
    }
}

bool lc_udp_peer_resolving(const struct lc_udp_peer *peer)
{
    return peer->lookup != NULL;
}

void lc_udp_peer_cleanup(struct lc_udp_peer *peer)
{
    if (peer->lookup != NULL) {
        peer->lookup->peer = NULL;
        peer->lookup = NULL;
    }
    free(peer->host);
    peer->host = NULL;
    peer->ok = false;
}

void udp_cancel_lookups(struct lc_udp *u)
{
    for (struct lc_udp_lookup *l = u->lookups; l != NULL; l = l->next) {
        if (l->peer != NULL) {
            l->peer->lookup = NULL;
            l->peer = NULL;
        }
        uv_cancel((uv_req_t *)&l->req);
    }
}
