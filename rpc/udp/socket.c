/* The UDP socket: open (dual-stack where possible), send now or queue,
 * receive, close.
 *
 * Sending: uv_udp_try_send puts the datagram on the wire without a copy
 * when the kernel takes it; when the socket is busy (UV_EAGAIN) the
 * datagram is copied into a request and queued with uv_udp_send. A queued
 * datagram that fails later is logged and dropped, like any lost datagram.
 *
 * Closing: queued requests are cancelled by libuv (their callbacks run
 * before the handle's close callback); lookups on the thread pool cannot be
 * stopped once started, so the socket's memory lives until the last one has
 * returned (resolve.c), and only then does the owner's close callback run.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "rpc/udp/internal.h"

struct send_req {
    uv_udp_send_t req;
    size_t len;
    char data[];
};

void lc_udp_options_default(struct lc_udp_options *o)
{
    *o = (struct lc_udp_options){
        .port = 0,
        .dns_ttl_ms = LC_UDP_DNS_TTL_MS,
        .dns_negative_ttl_ms = LC_UDP_DNS_NEGATIVE_TTL_MS,
    };
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct lc_udp *u = h->data;
    (void)suggested;
    buf->base = u->rbuf;
    buf->len = sizeof u->rbuf;
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                    const struct sockaddr *addr, unsigned flags)
{
    struct lc_udp *u = h->data;
    if (nread < 0) {
        lc_debugf("udp", "receive: %s", uv_strerror((int)nread));
        return;
    }
    if (addr == NULL || u->closing) {
        return; /* nothing more to read */
    }
    u->recv_cb(u->data, buf->base, (size_t)nread, addr,
               (flags & UV_UDP_PARTIAL) != 0);
}

static void on_closed(uv_handle_t *h)
{
    udp_release(h->data);
}

void udp_release(struct lc_udp *u)
{
    if (--u->open == 0) {
        lc_udp_close_cb cb = u->close_cb;
        void *data = u->close_data;
        free(u);
        if (cb != NULL) {
            cb(data);
        }
    }
}

int lc_udp_open(uv_loop_t *loop, const struct lc_udp_options *o,
                lc_udp_recv_cb recv_cb, void *data, struct lc_udp **out)
{
    struct lc_udp *u = calloc(1, sizeof *u);
    struct sockaddr_storage any;
    struct sockaddr_storage name;
    int namelen = sizeof name;
    int rv;

    if (u == NULL) {
        return LC_ENOMEM;
    }
    u->loop = loop;
    if (o != NULL) {
        u->opt = *o;
    } else {
        lc_udp_options_default(&u->opt);
    }
    u->recv_cb = recv_cb;
    u->data = data;
    /* One dual-stack IPv6 socket reaches IPv4 and IPv6 peers; a host without
     * IPv6 gets an IPv4 one. */
    u->v6 = uv_udp_init_ex(loop, &u->handle, AF_INET6) == 0;
    if (u->v6) {
        uv_os_fd_t fd;
        int off = 0;
        if (uv_fileno((uv_handle_t *)&u->handle, &fd) == 0) {
            (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
        }
        uv_ip6_addr("::", u->opt.port, (struct sockaddr_in6 *)&any);
    } else {
        rv = uv_udp_init(loop, &u->handle);
        if (rv != 0) {
            free(u);
            return lc_err_from_uv(rv);
        }
        uv_ip4_addr("0.0.0.0", u->opt.port, (struct sockaddr_in *)&any);
    }
    u->handle.data = u;
    u->open = 1;
    rv = uv_udp_bind(&u->handle, (const struct sockaddr *)&any, 0);
    if (rv == 0) {
        rv = uv_udp_getsockname(&u->handle, (struct sockaddr *)&name, &namelen);
    }
    if (rv == 0) {
        rv = uv_udp_recv_start(&u->handle, on_alloc, on_recv);
    }
    if (rv != 0) {
        lc_errorf("udp", "cannot open a UDP socket: %s", uv_strerror(rv));
        lc_udp_close(u, NULL, NULL);
        return lc_err_from_uv(rv);
    }
    u->port = name.ss_family == AF_INET6
                  ? ntohs(((struct sockaddr_in6 *)&name)->sin6_port)
                  : ntohs(((struct sockaddr_in *)&name)->sin_port);
    *out = u;
    return 0;
}

int lc_udp_port(const struct lc_udp *u)
{
    return u->port;
}

static void on_sent(uv_udp_send_t *req, int status)
{
    if (status != 0 && status != UV_ECANCELED) {
        lc_debugf("udp", "queued send failed: %s", uv_strerror(status));
    }
    free(req);
}

int lc_udp_send(struct lc_udp *u, const struct sockaddr *to, const char *buf,
                size_t len)
{
    uv_buf_t b = uv_buf_init((char *)(uintptr_t)buf, (unsigned)len);
    struct sockaddr_in6 mapped;
    struct send_req *r;
    int rv;

    if (u->closing) {
        return LC_ESHUTDOWN;
    }
    if (u->v6 && to->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)to;
        memset(&mapped, 0, sizeof mapped);
        mapped.sin6_family = AF_INET6;
        mapped.sin6_port = v4->sin_port;
        mapped.sin6_addr.s6_addr[10] = mapped.sin6_addr.s6_addr[11] = 0xff;
        memcpy(&mapped.sin6_addr.s6_addr[12], &v4->sin_addr, 4);
        to = (const struct sockaddr *)&mapped;
    } else if (!u->v6 && to->sa_family != AF_INET) {
        return LC_ENOTSUP; /* no IPv6 on this host */
    }
    rv = uv_udp_try_send(&u->handle, &b, 1, to);
    if (rv >= 0) {
        return 0;
    }
    if (rv != UV_EAGAIN) {
        return lc_err_from_uv(rv);
    }
    r = malloc(sizeof *r + len);
    if (r == NULL) {
        return LC_ENOMEM;
    }
    r->len = len;
    memcpy(r->data, buf, len);
    b = uv_buf_init(r->data, (unsigned)len);
    rv = uv_udp_send(&r->req, &u->handle, &b, 1, to, on_sent);
    if (rv != 0) {
        free(r);
        return lc_err_from_uv(rv);
    }
    return 0;
}

void lc_udp_close(struct lc_udp *u, lc_udp_close_cb cb, void *data)
{
    u->closing = true;
    u->close_cb = cb;
    u->close_data = data;
    udp_cancel_lookups(u);
    uv_close((uv_handle_t *)&u->handle, on_closed);
}
