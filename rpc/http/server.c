/* HTTP server: listener, connection lifecycle (I/O, idle, close), shutdown. */
#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "rpc/http/internal.h"

/* As the gRPC server's: many clients reconnecting at once (a restarted
 * member) must not overflow the accept queue, where each dropped SYN costs
 * its client a 1 s retransmission. net.core.somaxconn caps it. */
#define LISTEN_BACKLOG 4096

#define READ_BUF_SIZE (64 * 1024)
#define IN_HIGH_WATER (64 * 1024)   /* unparsed bytes: stop reading */
#define OUT_HIGH_WATER (256 * 1024) /* unsent bytes: stop parsing */
#define LINGER_MS 2000              /* after the last response, read and drop */
#define TRIM_BYTES (64 * 1024)      /* larger buffers are freed after use */

/* A response that could not be written at once. */
struct wreq {
    uv_write_t req;
    char *owned; /* malloc'd body, or NULL */
    char data[]; /* copied head (and body when not owned) */
};

static void on_conn_timer(uv_timer_t *t);
static void conn_process(struct lc_http_sconn *c);

void lc_http_limits_default(struct lc_http_limits *limits)
{
    limits->max_header_bytes = 8 * 1024;
    limits->max_body_bytes = 1024 * 1024;
    limits->idle_timeout_ms = 60 * 1000;
    limits->max_connections = 4096;
    limits->head_timeout_ms = 10 * 1000;
    limits->body_timeout_ms = 30 * 1000;
    limits->max_connections_per_ip = 1024;
}

struct lc_http_server *lc_http_server_new(uv_loop_t *loop,
                                          const struct lc_http_limits *limits)
{
    struct lc_http_server *srv = calloc(1, sizeof *srv);

    if (srv == NULL) {
        return NULL;
    }
    srv->rbuf = malloc(READ_BUF_SIZE);
    if (srv->rbuf == NULL) {
        goto err_after_alloc;
    }
    srv->loop = loop;
    if (limits != NULL) {
        srv->limits = *limits;
    } else {
        lc_http_limits_default(&srv->limits);
    }
    /* http_parser has its own process-wide cap (80 KiB); only raise it. */
    if (srv->limits.max_header_bytes + 1024 > HTTP_MAX_HEADER_SIZE &&
        srv->limits.max_header_bytes < UINT32_MAX - 1024) {
        http_parser_set_max_header_size((uint32_t)srv->limits.max_header_bytes +
                                        1024);
    }
    if (uv_tcp_init(loop, &srv->listener) != 0) {
        goto err_after_rbuf;
    }
    uv_timer_init(loop, &srv->grace);
    srv->listener.data = srv;
    srv->grace.data = srv;
    return srv;

err_after_rbuf:
    free(srv->rbuf);
err_after_alloc:
    free(srv);
    return NULL;
}

/* ---------------------------------------------------------- connections */

static void conn_link(struct lc_http_server *srv, struct lc_http_sconn *c)
{
    c->next = srv->conns;
    if (srv->conns != NULL) {
        srv->conns->prev = c;
    }
    srv->conns = c;
    srv->nconns++;
}

/* Count @c against its address's limit; false when it is over. */
static bool ip_count_add(struct lc_http_server *srv, struct lc_http_sconn *c)
{
    struct lc_http_ip_count *ic = NULL;
    unsigned limit = srv->limits.max_connections_per_ip;

    if (limit == 0) {
        return true;
    }
    HASH_FIND_STR(srv->by_ip, c->remote_ip, ic);
    if (ic == NULL) {
        ic = calloc(1, sizeof *ic);
        if (ic == NULL) {
            return false;
        }
        lc_strlcpy(ic->ip, c->remote_ip, sizeof ic->ip);
        HASH_ADD_STR(srv->by_ip, ip, ic);
    }
    if (ic->n >= limit) {
        return false;
    }
    ic->n++;
    c->ip_counted = true;
    return true;
}

static void ip_count_remove(struct lc_http_server *srv,
                            struct lc_http_sconn *c)
{
    struct lc_http_ip_count *ic = NULL;

    if (!c->ip_counted) {
        return;
    }
    c->ip_counted = false;
    HASH_FIND_STR(srv->by_ip, c->remote_ip, ic);
    if (ic != NULL && --ic->n == 0) {
        HASH_DEL(srv->by_ip, ic);
        free(ic);
    }
}

static void conn_unlink(struct lc_http_server *srv, struct lc_http_sconn *c)
{
    ip_count_remove(srv, c);
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        srv->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    c->prev = c->next = NULL;
    srv->nconns--;
}

static struct lc_http_sconn *conn_alloc(struct lc_http_server *srv)
{
    struct lc_http_sconn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    c->srv = srv;
    c->state = LC_HTTP_OPEN;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    return c;
}

void lc_http_sconn_free(struct lc_http_sconn *c)
{
    free(c->head);
    free(c->hdrs);
    free(c->body);
    free(c->in);
    free(c->out);
    lc_http_params_free(&c->ex.params);
    free(c);
}

static void server_maybe_done(struct lc_http_server *srv);

static void on_conn_closed(uv_handle_t *h)
{
    struct lc_http_sconn *c = h->data;
    struct lc_http_server *srv = c->srv;

    if (--c->handles > 0) {
        return;
    }
    c->state = LC_HTTP_CLOSED;
    conn_unlink(srv, c);
    c->srv = NULL;
    if (!c->ex_inflight) {
        lc_http_sconn_free(c);
    } /* else the handler's reply frees it */
    server_maybe_done(srv);
}

void lc_http_sconn_close(struct lc_http_sconn *c)
{
    if (c->state >= LC_HTTP_CLOSING) {
        return;
    }
    c->state = LC_HTTP_CLOSING;
    if (c->fake) {
        c->state = LC_HTTP_CLOSED;
        return;
    }
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    struct lc_http_sconn *c = req->data;

    if (c->state != LC_HTTP_DRAIN) {
        return;
    }
    if (status < 0 || c->eof) {
        lc_http_sconn_close(c);
        return;
    }
    /* Read and drop what the client still sends, so that closing with
     * unread data does not reset the connection before it read our answer. */
    uv_timer_start(&c->timer, on_conn_timer, LINGER_MS, 0);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct lc_http_sconn *c = h->data;
    (void)hint;
    buf->base = c->srv->rbuf;
    buf->len = READ_BUF_SIZE;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void read_start(struct lc_http_sconn *c)
{
    if (!c->reading && !c->eof && !c->fake) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
            lc_http_sconn_close(c);
            return;
        }
        c->reading = true;
    }
}

static void read_stop(struct lc_http_sconn *c)
{
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

void lc_http_sconn_drain(struct lc_http_sconn *c)
{
    unsigned idle;

    if (c->state != LC_HTTP_OPEN) {
        return;
    }
    c->state = LC_HTTP_DRAIN; /* buffered requests are never parsed */
    if (c->fake) {
        return;
    }
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        lc_http_sconn_close(c);
        return;
    }
    read_start(c);
    /* Bound the time a client that does not read can hold us. */
    idle = c->srv->limits.idle_timeout_ms;
    uv_timer_start(&c->timer, on_conn_timer, idle ? idle : LINGER_MS, 0);
}

bool lc_http_sconn_can_parse(const struct lc_http_sconn *c)
{
    return c->state == LC_HTTP_OPEN && !c->ex_inflight && !c->req_ready &&
           (c->fake || c->tcp.write_queue_size < OUT_HIGH_WATER);
}

static void on_write(uv_write_t *req, int status)
{
    struct wreq *w = LC_CONTAINER_OF(req, struct wreq, req);
    struct lc_http_sconn *c = req->handle->data;

    free(w->owned);
    free(w);
    if (status < 0) {
        lc_http_sconn_close(c);
        return;
    }
    if (c->state == LC_HTTP_OPEN && c->in_off < c->in_len &&
        c->tcp.write_queue_size < OUT_HIGH_WATER / 2) {
        conn_process(c);
    }
}

static int out_append(struct lc_http_sconn *c, const char *data, size_t len)
{
    if (len == 0) {
        return 0;
    }
    if (c->out_cap - c->out_len < len) {
        size_t cap = c->out_cap ? c->out_cap : 1024;
        char *out;
        while (cap - c->out_len < len) {
            cap *= 2;
        }
        out = realloc(c->out, cap);
        if (out == NULL) {
            return LC_ENOMEM;
        }
        c->out = out;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return 0;
}

void lc_http_sconn_send(struct lc_http_sconn *c, const char *head, size_t hlen,
                        const char *body, size_t blen, char *owned)
{
    uv_stream_t *s = (uv_stream_t *)&c->tcp;
    uv_buf_t bufs[2];
    size_t copy;
    struct wreq *w;
    int n;

    if (c->state >= LC_HTTP_CLOSING) {
        free(owned);
        return;
    }
    if (c->fake) {
        if (out_append(c, head, hlen) != 0 || out_append(c, body, blen) != 0) {
            lc_http_sconn_close(c);
        }
        free(owned);
        return;
    }
    if (s->write_queue_size == 0) {
        bufs[0] = uv_buf_init((char *)head, (unsigned)hlen);
        bufs[1] = uv_buf_init((char *)body, (unsigned)blen);
        n = uv_try_write(s, bufs, blen > 0 ? 2 : 1);
        if (n < 0 && n != UV_EAGAIN) {
            free(owned);
            lc_http_sconn_close(c);
            return;
        }
        if (n > 0) {
            size_t done = (size_t)n;
            size_t h = done < hlen ? done : hlen;
            head += h;
            hlen -= h;
            if (done > h) {
                body += done - h;
                blen -= done - h;
            }
        }
        if (hlen == 0 && blen == 0) {
            free(owned);
            return;
        }
    }
    copy = hlen + (owned != NULL ? 0 : blen);
    w = malloc(sizeof *w + copy);
    if (w == NULL) {
        free(owned);
        lc_http_sconn_close(c);
        return;
    }
    w->owned = owned;
    memcpy(w->data, head, hlen);
    n = 0;
    if (hlen > 0) {
        bufs[n++] = uv_buf_init(w->data, (unsigned)hlen);
    }
    if (blen > 0) {
        if (owned == NULL) {
            memcpy(w->data + hlen, body, blen);
            body = w->data + hlen;
        }
        bufs[n++] = uv_buf_init((char *)body, (unsigned)blen);
    }
    if (uv_write(&w->req, s, bufs, (unsigned)n, on_write) != 0) {
        free(w->owned);
        free(w);
        lc_http_sconn_close(c);
    }
}

/* Give back memory a big request needed. */
static void conn_trim(struct lc_http_sconn *c)
{
    if (c->body_cap > TRIM_BYTES) {
        free(c->body);
        c->body = NULL;
        c->body_cap = 0;
    }
    if (c->ex.params.cap > TRIM_BYTES) {
        lc_http_params_free(&c->ex.params);
    }
    if (c->head_cap > TRIM_BYTES) {
        free(c->head);
        c->head = NULL;
        c->head_cap = c->head_len = 0;
    }
}

void lc_http_sconn_after_reply(struct lc_http_sconn *c, bool close)
{
    conn_trim(c);
    if (close) {
        lc_http_sconn_drain(c);
        return;
    }
    if (c->fake) {
        return;
    }
    c->last_active = uv_now(c->srv->loop);
    if (c->dispatching) {
        return; /* the parse loop that called the handler goes on */
    }
    if (c->in_off < c->in_len) {
        /* Parse pipelined requests from the loop, not from inside the reply
         * call, so the next handler never runs within this one's reply. */
        uv_timer_start(&c->timer, on_conn_timer, 0, 0);
    } else {
        read_start(c);
    }
}

/* Parse buffered input as far as possible; manage reading around it. */
static void conn_process(struct lc_http_sconn *c)
{
    if (c->in_off < c->in_len && lc_http_sconn_can_parse(c)) {
        c->in_off +=
            lc_http_sconn_parse(c, c->in + c->in_off, c->in_len - c->in_off);
    }
    if (c->state != LC_HTTP_OPEN) {
        c->in_off = c->in_len = 0; /* dropped with the connection */
        return;
    }
    if (c->in_off == c->in_len) {
        c->in_off = c->in_len = 0;
        if (c->in_cap > TRIM_BYTES) {
            free(c->in);
            c->in = NULL;
            c->in_cap = 0;
        }
    }
    if (c->in_len - c->in_off >= IN_HIGH_WATER) {
        read_stop(c);
    } else {
        read_start(c);
    }
}

static int in_append(struct lc_http_sconn *c, const char *data, size_t len)
{
    if (c->in_off > 0) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    if (c->in_cap - c->in_len < len) {
        size_t cap = c->in_cap ? c->in_cap : 4096;
        char *in;
        while (cap - c->in_len < len) {
            cap *= 2;
        }
        in = realloc(c->in, cap);
        if (in == NULL) {
            return LC_ENOMEM;
        }
        c->in = in;
        c->in_cap = cap;
    }
    memcpy(c->in + c->in_len, data, len);
    c->in_len += len;
    return 0;
}

/* Bytes arrived: parse them in place when nothing is buffered, keep the
 * rest for later. */
static void conn_input(struct lc_http_sconn *c, const char *data, size_t len)
{
    if (c->in_off == c->in_len && lc_http_sconn_can_parse(c)) {
        size_t n = lc_http_sconn_parse(c, data, len);
        data += n;
        len -= n;
    }
    if (len == 0 || c->state != LC_HTTP_OPEN) {
        return;
    }
    if (in_append(c, data, len) != 0) {
        lc_http_sconn_close(c);
        return;
    }
    conn_process(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct lc_http_sconn *c = s->data;

    if (nread > 0) {
        c->last_active = uv_now(c->srv->loop);
        if (c->state == LC_HTTP_OPEN) {
            conn_input(c, buf->base, (size_t)nread);
        }
        return;
    }
    if (nread == 0) {
        return;
    }
    /* End of stream or error: the client is gone. libuv stopped reading. */
    c->reading = false;
    c->eof = true;
    if (c->state == LC_HTTP_OPEN && nread == UV_EOF && !c->ex_inflight &&
        c->tcp.write_queue_size > 0) {
        lc_http_sconn_drain(c); /* let it have the answers it asked for */
        return;
    }
    if (c->state == LC_HTTP_DRAIN && c->tcp.write_queue_size > 0 &&
        nread == UV_EOF) {
        return; /* on_shutdown closes once flushed */
    }
    lc_http_sconn_close(c);
}

/* A request's head or body took longer than its deadline. */
static void request_timeout(struct lc_http_sconn *c)
{
    static const char msg[] = "request timeout";
    lc_http_sconn_respond(c, 408, "text/plain;charset=UTF-8", msg,
                          sizeof msg - 1, NULL, NULL, true, false);
    lc_http_sconn_drain(c);
}

static unsigned phase_limit(const struct lc_http_sconn *c)
{
    switch (c->phase) {
        case LC_HTTP_PHASE_HEAD:
            return c->srv->limits.head_timeout_ms;
        case LC_HTTP_PHASE_BODY:
            return c->srv->limits.body_timeout_ms;
        default:
            return 0;
    }
}

void lc_http_sconn_phase(struct lc_http_sconn *c, enum lc_http_phase phase,
                         bool has_body)
{
    uint64_t now;
    uint64_t due = UINT64_MAX; /* when the armed head deadline fires */
    unsigned limit;
    unsigned idle;

    if (c->fake) {
        c->phase = phase;
        return;
    }
    now = uv_now(c->srv->loop);
    if (c->phase == LC_HTTP_PHASE_HEAD && c->srv->limits.head_timeout_ms > 0) {
        due = c->phase_start + c->srv->limits.head_timeout_ms;
    }
    c->phase = phase;
    c->phase_start = now;
    limit = phase_limit(c);
    /* One timer start per request on the fast path: the head's deadline
     * is armed when it begins; a body only re-arms the timer when the
     * head's deadline would fire after the body's. */
    if (limit == 0 || (phase == LC_HTTP_PHASE_BODY &&
                       (!has_body || due <= now + limit))) {
        return;
    }
    /* The timer also keeps the idle timeout (a client silent mid-request,
     * and the wait for the next request once this one is answered). */
    idle = c->srv->limits.idle_timeout_ms;
    uv_timer_start(&c->timer, on_conn_timer,
                   idle > 0 && idle < limit ? idle : limit, 0);
}

static void on_conn_timer(uv_timer_t *t)
{
    struct lc_http_sconn *c = t->data;
    unsigned idle = c->srv->limits.idle_timeout_ms;
    unsigned limit;
    uint64_t now;
    uint64_t elapsed;
    uint64_t next = UINT64_MAX;

    if (c->state == LC_HTTP_DRAIN) {
        lc_http_sconn_close(c); /* linger over, or the client never read */
        return;
    }
    if (c->state != LC_HTTP_OPEN) {
        return;
    }
    conn_process(c); /* resume after an asynchronous reply */
    if (c->state != LC_HTTP_OPEN) {
        return;
    }
    now = uv_now(c->srv->loop);
    /* A request being read has a deadline however steadily bytes come. */
    limit = phase_limit(c);
    if (!c->ex_inflight && limit > 0) {
        elapsed = now - c->phase_start;
        if (elapsed >= limit) {
            request_timeout(c);
            return;
        }
        next = limit - elapsed;
    }
    if (idle > 0) {
        if (c->ex_inflight) {
            next = next < idle ? next : idle;
        } else {
            elapsed = now - c->last_active;
            if (elapsed >= idle) {
                lc_http_sconn_close(c);
                return;
            }
            next = next < idle - elapsed ? next : idle - elapsed;
        }
    }
    if (next != UINT64_MAX) {
        uv_timer_start(t, on_conn_timer, next, 0);
    }
}

static void peer_name(struct lc_http_sconn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;

    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0) {
        return;
    }
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        uv_ip4_name(sin, c->remote_ip, sizeof c->remote_ip);
        c->remote_port = ntohs(sin->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            /* A dual-stack listener: show "1.2.3.4", not "::ffff:1.2.3.4". */
            inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], c->remote_ip,
                      sizeof c->remote_ip);
        } else {
            uv_ip6_name(sin6, c->remote_ip, sizeof c->remote_ip);
        }
        c->remote_port = ntohs(sin6->sin6_port);
    }
}

static void on_reject_closed(uv_handle_t *h)
{
    struct lc_http_server *srv = h->data;
    free(h);
    srv->nrejects--;
    server_maybe_done(srv);
}

/* Over max_connections: accept and close at once. */
static void reject_connection(struct lc_http_server *srv)
{
    uv_tcp_t *tcp = malloc(sizeof *tcp);

    if (tcp == NULL) {
        lc_errorf("http", "out of memory refusing a connection");
        return;
    }
    uv_tcp_init(srv->loop, tcp);
    tcp->data = srv;
    uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)tcp);
    srv->nrejects++;
    uv_close((uv_handle_t *)tcp, on_reject_closed);
}

/* A client that hits the per-address limit sees its connections reset:
 * say so at warn, at most LOG_IP_BURST lines per 10 s. */
#define LOG_IP_BURST 5
static void log_ip_refusal(struct lc_http_server *srv, const char *ip)
{
    uint64_t now = uv_now(srv->loop);
    if (now - srv->ip_refused_since >= 10000) {
        if (srv->ip_refused > LOG_IP_BURST) {
            lc_warnf("http", "%u more connections refused by "
                     "locus.http.max_connections_per_ip not logged",
                     srv->ip_refused - LOG_IP_BURST);
        }
        srv->ip_refused_since = now;
        srv->ip_refused = 0;
    }
    if (++srv->ip_refused <= LOG_IP_BURST) {
        lc_warnf("http", "refusing a connection from %s: "
                 "locus.http.max_connections_per_ip (%u) reached",
                 ip, srv->limits.max_connections_per_ip);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    struct lc_http_server *srv = server->data;
    struct lc_http_sconn *c;

    if (status < 0) {
        lc_warnf("http", "accept: %s", uv_strerror(status));
        return;
    }
    if (srv->nconns >= srv->limits.max_connections) {
        reject_connection(srv);
        return;
    }
    c = conn_alloc(srv);
    if (c == NULL) {
        reject_connection(srv);
        return;
    }
    uv_tcp_init(srv->loop, &c->tcp);
    uv_timer_init(srv->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles = 2;
    conn_link(srv, c);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        lc_http_sconn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    peer_name(c);
    if (!ip_count_add(srv, c)) {
        log_ip_refusal(srv, c->remote_ip);
        lc_http_sconn_close(c);
        return;
    }
    c->last_active = uv_now(srv->loop);
    read_start(c);
    if (srv->limits.idle_timeout_ms > 0 && c->state == LC_HTTP_OPEN) {
        uv_timer_start(&c->timer, on_conn_timer, srv->limits.idle_timeout_ms,
                       0);
    }
}

/* ----------------------------------------------------------- the server */

int lc_http_server_listen(struct lc_http_server *srv, const char *host,
                          int port)
{
    struct sockaddr_storage ss;
    int rv;

    if (srv->closing || srv->listening || host == NULL || port < 0 ||
        port > 65535) {
        return LC_EINVAL;
    }
    if (strchr(host, ':') != NULL) {
        rv = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
    } else {
        rv = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    }
    if (rv != 0) {
        return LC_EINVAL;
    }
    rv = uv_tcp_bind(&srv->listener, (struct sockaddr *)&ss, 0);
    if (rv == 0) {
        rv = uv_listen((uv_stream_t *)&srv->listener, LISTEN_BACKLOG,
                       on_connection);
    }
    if (rv != 0) {
        return lc_err_from_uv(rv);
    }
    srv->listening = true;
    return 0;
}

int lc_http_server_bound_port(struct lc_http_server *srv)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;

    if (!srv->listening ||
        uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len) != 0) {
        return -1;
    }
    if (ss.ss_family == AF_INET) {
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void on_grace_closed(uv_handle_t *h)
{
    struct lc_http_server *srv = h->data;
    struct lc_http_route *route;
    struct lc_http_route *tmp;

    if (srv->close_cb != NULL) {
        srv->close_cb(srv, srv->close_data);
    }
    HASH_ITER(hh, srv->routes, route, tmp)
    {
        HASH_DEL(srv->routes, route);
        free(route->path);
        free(route);
    }
    {
        struct lc_http_ip_count *ic;
        struct lc_http_ip_count *itmp;
        HASH_ITER(hh, srv->by_ip, ic, itmp)
        {
            HASH_DEL(srv->by_ip, ic);
            free(ic);
        }
    }
    free(srv->rbuf);
    free(srv);
}

static void server_maybe_done(struct lc_http_server *srv)
{
    if (!srv->closing || srv->done || !srv->listener_closed ||
        srv->nconns > 0 || srv->nrejects > 0) {
        return;
    }
    srv->done = true;
    uv_timer_stop(&srv->grace);
    uv_close((uv_handle_t *)&srv->grace, on_grace_closed);
}

static void on_listener_closed(uv_handle_t *h)
{
    struct lc_http_server *srv = h->data;
    srv->listener_closed = true;
    server_maybe_done(srv);
}

/* Grace is over: answer what is still unanswered with 503, close all. */
static void server_force(struct lc_http_server *srv)
{
    static const char msg[] = "server shutting down";

    for (struct lc_http_sconn *c = srv->conns; c != NULL; c = c->next) {
        if (c->state >= LC_HTTP_CLOSING) {
            continue;
        }
        if (c->state == LC_HTTP_OPEN && c->ex_inflight) {
            lc_http_sconn_respond(c, 503, "text/plain;charset=UTF-8", msg,
                                  sizeof msg - 1, NULL, NULL, true, false);
        }
        lc_http_sconn_close(c);
    }
}

static void on_grace(uv_timer_t *t)
{
    server_force(t->data);
}

void lc_http_server_close(struct lc_http_server *srv, unsigned grace_ms,
                          lc_http_server_close_cb cb, void *data)
{
    assert(!srv->closing);
    srv->closing = true;
    srv->close_cb = cb;
    srv->close_data = data;
    uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
    for (struct lc_http_sconn *c = srv->conns; c != NULL; c = c->next) {
        if (c->state != LC_HTTP_OPEN) {
            continue;
        }
        if (c->ex_inflight) {
            c->keep_alive = false; /* its reply closes it */
        } else if (c->tcp.write_queue_size > 0) {
            lc_http_sconn_drain(c);
        } else {
            lc_http_sconn_close(c);
        }
    }
    if (grace_ms == 0) {
        server_force(srv);
    } else {
        uv_timer_start(&srv->grace, on_grace, grace_ms, 0);
    }
}

/* ------------------------------------------- socket-less server connections */

struct lc_http_sconn *lc_http_fake_conn_new(struct lc_http_server *srv)
{
    struct lc_http_sconn *c = conn_alloc(srv);
    if (c == NULL) {
        return NULL;
    }
    c->fake = true;
    lc_strlcpy(c->remote_ip, "127.0.0.1", sizeof c->remote_ip);
    return c;
}

bool lc_http_fake_conn_feed(struct lc_http_sconn *c, const char *data,
                            size_t len)
{
    if (c->state == LC_HTTP_OPEN) {
        if (len > 0) {
            conn_input(c, data, len);
        } else {
            conn_process(c);
        }
    }
    return c->state == LC_HTTP_OPEN;
}

const char *lc_http_fake_conn_output(const struct lc_http_sconn *c, size_t *len)
{
    *len = c->out_len;
    return c->out != NULL ? c->out : "";
}

void lc_http_fake_conn_free(struct lc_http_sconn *c)
{
    c->state = LC_HTTP_CLOSED;
    c->srv = NULL;
    if (!c->ex_inflight) {
        lc_http_sconn_free(c);
    }
}
