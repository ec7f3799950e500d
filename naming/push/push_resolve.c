/* Where a UDP subscriber's pushes go: Nacos's UdpPushService sends to
 * new InetSocketAddress(clientIP, udpPort), so clientIP may be an IPv4 or
 * IPv6 literal or a host name the JVM resolves (first answer, IPv4 before
 * IPv6, cached 30 s; a failed lookup 10 s).
 *
 * A literal (or a blank clientIP: loopback) gives the address at once. A
 * name is looked up with uv_getaddrinfo, off the loop; pushes due while the
 * first lookup runs wait on the client and go out when it answers. A name
 * that does not resolve fails its pushes (counted and logged, as the JVM's
 * UnresolvedAddressException fails the send in Nacos). The answer is cached
 * on the client and looked up again when the client polls after the TTL;
 * meanwhile pushes keep using the cached address.
 *
 * Lifetime: every lookup in flight holds the engine (push_hold), so the
 * engine is freed only after the last lookup callback; a client freed while
 * its lookup runs is detached from it first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "naming/internal.h"
#include "naming/push/push_internal.h"

#define PUSH_DNS_NEGATIVE_TTL_MS 10000

struct resolve_req {
    uv_getaddrinfo_t req;
    struct lc_push *p;
    struct sub_client *c; /* NULL once the client is gone */
};

bool push_ack_key(struct ack_key *key, uint64_t ref,
                  const struct sockaddr *addr)
{
    memset(key, 0, sizeof *key);
    key->ref = ref;
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

void push_addr_text(const struct sockaddr *addr, char *out, size_t size)
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

/* @ip as a literal address with @port in @out; false when it is none. */
static bool literal(const char *ip, int port, struct sockaddr_storage *out)
{
    char inner[INET6_ADDRSTRLEN + 64];
    size_t len = strlen(ip);
    /* InetAddress.getByName takes "[v6]" too. */
    if (len >= 2 && ip[0] == '[' && ip[len - 1] == ']' &&
        len - 2 < sizeof inner) {
        memcpy(inner, ip + 1, len - 2);
        inner[len - 2] = '\0';
        return uv_ip6_addr(inner, port, (struct sockaddr_in6 *)out) == 0;
    }
    memset(out, 0, sizeof *out);
    return uv_ip4_addr(ip, port, (struct sockaddr_in *)out) == 0 ||
           uv_ip6_addr(ip, port, (struct sockaddr_in6 *)out) == 0;
}

/* Send (or fail) the pushes that waited for the lookup. */
static void flush_pending(struct lc_push *p, struct sub_client *c)
{
    struct pending_push *w = c->pending;
    c->pending = NULL;
    while (w != NULL) {
        struct pending_push *next = w->next;
        if (c->addr_ok) {
            push_send_to_client(p, c, w->dg, w->ref, w->started);
        } else {
            lc_debugf("push", "cannot push to %s: clientIP does not resolve",
                      c->id);
            push_count_failed(p);
        }
        push_dgram_unref(w->dg);
        free(w);
        w = next;
    }
}

static void on_resolved(uv_getaddrinfo_t *req, int status,
                        struct addrinfo *res)
{
    struct resolve_req *r = (struct resolve_req *)req;
    struct lc_push *p = r->p;
    struct sub_client *c = r->c;

    if (c != NULL && !p->closing) {
        const struct addrinfo *pick = NULL;
        c->resolving = NULL;
        c->resolved_at = uv_now(p->loop);
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
        if (pick != NULL) {
            memset(&c->addr, 0, sizeof c->addr);
            memcpy(&c->addr, pick->ai_addr, pick->ai_addrlen);
            if (pick->ai_family == AF_INET) {
                ((struct sockaddr_in *)&c->addr)->sin_port =
                    htons((uint16_t)c->port);
            } else {
                ((struct sockaddr_in6 *)&c->addr)->sin6_port =
                    htons((uint16_t)c->port);
            }
            c->addr_ok = true;
        } else {
            c->addr_ok = false;
            lc_warnf("push",
                     "subscriber %s: clientIP '%s' does not resolve (%s); its "
                     "pushes fail",
                     c->id, c->ip,
                     status != 0 ? uv_strerror(status) : "no IP address");
        }
        flush_pending(p, c);
    } else if (c != NULL) {
        c->resolving = NULL;
    }
    uv_freeaddrinfo(res);
    free(r);
    push_release(p);
}

static void lookup(struct lc_push *p, struct sub_client *c)
{
    struct addrinfo hints;
    struct resolve_req *r = malloc(sizeof *r);
    int rv;

    if (r == NULL) {
        lc_warnf("push", "out of memory resolving %s", c->ip);
        return;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    r->p = p;
    r->c = c;
    rv = uv_getaddrinfo(p->loop, &r->req, on_resolved, c->ip, NULL, &hints);
    if (rv != 0) {
        lc_warnf("push", "cannot resolve clientIP '%s': %s", c->ip,
                 uv_strerror(rv));
        free(r);
        c->resolved_at = uv_now(p->loop);
        return;
    }
    c->resolving = r;
    push_hold(p);
}

void push_client_resolve(struct lc_push *p, struct sub_client *c, bool refresh)
{
    uint64_t now = uv_now(p->loop);
    const char *ip = c->ip[0] != '\0' ? c->ip : "127.0.0.1";

    if (refresh) {
        uint64_t ttl = c->addr_ok ? PUSH_DNS_TTL_MS : PUSH_DNS_NEGATIVE_TTL_MS;
        if (c->is_name && c->resolving == NULL && !p->closing &&
            now - c->resolved_at >= ttl) {
            lookup(p, c);
        }
        return;
    }
    c->addr_ok = false;
    c->is_name = false;
    /* InetSocketAddress refuses a port out of range. */
    if (c->port <= 0 || c->port > 65535) {
        return;
    }
    if (literal(ip, c->port, &c->addr)) {
        c->addr_ok = true;
        return;
    }
    c->is_name = true;
    lookup(p, c);
}

void push_to_client(struct lc_push *p, struct sub_client *c, struct dgram *dg,
                    uint64_t ref, uint64_t started)
{
    struct pending_push *w;
    if (c->addr_ok) {
        push_send_to_client(p, c, dg, ref, started);
        return;
    }
    if (c->resolving == NULL) {
        lc_debugf("push", "cannot push to %s: no address for clientIP '%s'",
                  c->id, c->ip);
        push_count_failed(p);
        return;
    }
    w = malloc(sizeof *w);
    if (w == NULL) {
        push_count_failed(p);
        return;
    }
    dg->refs++;
    w->dg = dg;
    w->ref = ref;
    w->started = started;
    w->next = NULL;
    /* Keep the order the pushes were made in. */
    if (c->pending == NULL) {
        c->pending = w;
    } else {
        struct pending_push *last = c->pending;
        while (last->next != NULL) {
            last = last->next;
        }
        last->next = w;
    }
}

void push_client_detach(struct lc_push *p, struct sub_client *c)
{
    struct pending_push *w = c->pending;
    if (c->resolving != NULL) {
        c->resolving->c = NULL;
        c->resolving = NULL;
    }
    c->pending = NULL;
    while (w != NULL) {
        struct pending_push *next = w->next;
        if (!p->closing) {
            push_count_failed(p);
        }
        push_dgram_unref(w->dg);
        free(w);
        w = next;
    }
}

void push_cancel_lookups(struct lc_push *p)
{
    struct sub_client *c, *tmp;
    HASH_ITER(hh, p->clients, c, tmp)
    {
        if (c->resolving != NULL) {
            uv_cancel((uv_req_t *)&c->resolving->req);
        }
    }
}
