/* HTTP client: keep-alive connection, queued calls, lc_http_fetch(). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "rpc/http/internal.h"

#define READ_BUF_SIZE (64 * 1024)

/* A serialized request, owned by its call until handed to uv_write(), then
 * by the write callback. */
struct creq {
    uv_write_t w;
    size_t len;
    char data[];
};

/* One TCP connection; freed in its close callback, so a new one can be
 * opened while an old one is still closing. */
struct link {
    uv_tcp_t tcp;
    uv_connect_t connect;
    struct lc_http_conn *conn;
    bool connected;
};

/* One name resolution; its callback always runs, even when abandoned. */
struct resolve {
    uv_getaddrinfo_t req;
    struct lc_http_conn *conn;
};

struct lc_http_conn {
    uv_loop_t *loop;
    char host[256];
    char hostport[300]; /* for the Host header */
    int port;
    unsigned timeout_ms;
    uv_timer_t timer; /* call timeout, and failures deferred out of calls */
    struct link *link;
    struct resolve *resolve;
    struct addrinfo *addrs; /* resolved, while connecting */
    struct addrinfo *next_addr;
    http_parser parser;
    struct lc_http_call *head; /* queue; head is the active call */
    struct lc_http_call *tail;
    char *rbuf;
    char *body;
    size_t body_len;
    size_t body_cap;
    int pending_err;   /* to fail the active call with, from the timer */
    unsigned children; /* timer + links + resolutions not yet finished */
    bool active;       /* head has been started */
    bool phased;       /* head has connect/read timeouts (lc_http_req) */
    bool done;         /* head's response is complete */
    bool closing;
    bool freed;
};

/* The call's private words: [0] next call, [1] struct creq, [2] HEAD flag,
 * [3] connect timeout, [4] read timeout (ms), [5] sent flag. Accessed as
 * void * so there is no aliasing question. */
static struct lc_http_call *call_next(struct lc_http_call *call)
{
    return call->priv[0];
}

static struct creq *call_req(struct lc_http_call *call)
{
    return call->priv[1];
}

static bool call_is_head(struct lc_http_call *call)
{
    return call->priv[2] != NULL;
}

static unsigned call_ms(struct lc_http_call *call, int word)
{
    return (unsigned)(uintptr_t)call->priv[word];
}

static void on_timer(uv_timer_t *t);
static void on_link_closed(uv_handle_t *h);
static int write_request(struct lc_http_conn *conn);
static int connect_start(struct lc_http_conn *conn);

static void maybe_free(struct lc_http_conn *conn)
{
    if (!conn->closing || conn->children > 0 || conn->freed) {
        return;
    }
    conn->freed = true;
    /* Every handle is closed; now the queued calls can be told. */
    while (conn->head != NULL) {
        struct lc_http_call *call = conn->head;
        conn->head = call_next(call);
        free(call_req(call));
        call->priv[1] = NULL;
        call->cb(call, LC_ECANCELED, 0, NULL, 0);
    }
    uv_freeaddrinfo(conn->addrs);
    free(conn->rbuf);
    free(conn->body);
    free(conn);
}

/* Drop the connection (and any connection attempt) of @conn. */
static void reset_link(struct lc_http_conn *conn)
{
    if (conn->link != NULL) {
        uv_close((uv_handle_t *)&conn->link->tcp, on_link_closed);
        conn->link = NULL;
    }
    if (conn->resolve != NULL) {
        uv_cancel((uv_req_t *)&conn->resolve->req);
        conn->resolve = NULL;
    }
    uv_freeaddrinfo(conn->addrs);
    conn->addrs = conn->next_addr = NULL;
}

static void on_link_closed(uv_handle_t *h)
{
    struct link *l = h->data;
    struct lc_http_conn *conn = l->conn;
    free(l);
    conn->children--;
    maybe_free(conn);
}

static struct lc_http_call *pop_call(struct lc_http_conn *conn)
{
    struct lc_http_call *call = conn->head;
    conn->head = call_next(call);
    if (conn->head == NULL) {
        conn->tail = NULL;
    }
    conn->active = false;
    conn->phased = false;
    conn->done = false;
    conn->pending_err = 0;
    uv_timer_stop(&conn->timer);
    free(call_req(call));
    call->priv[1] = NULL;
    return call;
}

/* Arm the active call's phase timer (connect, or read: @word 3 or 4) when
 * the call has phase timeouts; 0 ms means none. */
static void arm_phase(struct lc_http_conn *conn, int word)
{
    unsigned ms;

    if (!conn->phased) {
        return;
    }
    ms = call_ms(conn->head, word);
    if (ms > 0) {
        uv_timer_start(&conn->timer, on_timer, ms, 0);
    } else {
        uv_timer_stop(&conn->timer);
    }
}

/* Start the next queued call if nothing is active. Never calls a callback:
 * failures go through the timer (fail_soon). */
static void kick(struct lc_http_conn *conn)
{
    int rv;

    if (conn->closing || conn->active || conn->head == NULL) {
        return;
    }
    conn->active = true;
    conn->done = false;
    conn->body_len = 0;
    conn->phased = call_ms(conn->head, 3) > 0 || call_ms(conn->head, 4) > 0;
    http_parser_init(&conn->parser, HTTP_RESPONSE);
    conn->parser.data = conn;
    if (!conn->phased && conn->timeout_ms > 0) {
        uv_timer_start(&conn->timer, on_timer, conn->timeout_ms, 0);
    }
    if (conn->link != NULL && conn->link->connected) {
        rv = write_request(conn);
        arm_phase(conn, 4);
    } else if (conn->link == NULL && conn->resolve == NULL) {
        rv = connect_start(conn);
        arm_phase(conn, 3);
    } else {
        rv = 0; /* a connection attempt is under way */
        arm_phase(conn, 3);
    }
    if (rv != 0) {
        reset_link(conn);
        conn->pending_err = rv;
        uv_timer_start(&conn->timer, on_timer, 0, 0);
    }
}

static void fail_call(struct lc_http_conn *conn, int err)
{
    struct lc_http_call *call;

    reset_link(conn);
    call = pop_call(conn);
    call->cb(call, err, 0, NULL, 0);
    kick(conn);
}

static void finish_call(struct lc_http_conn *conn, bool keep)
{
    int status = conn->parser.status_code;
    struct lc_http_call *call;

    if (!keep) {
        reset_link(conn);
    }
    call = pop_call(conn);
    call->cb(call, 0, status, conn->body != NULL ? conn->body : "",
             conn->body_len);
    kick(conn);
}

static void on_timer(uv_timer_t *t)
{
    struct lc_http_conn *conn = t->data;
    int err = conn->pending_err != 0 ? conn->pending_err : LC_ETIMEDOUT;

    if (conn->active && !conn->closing) {
        fail_call(conn, err);
    }
}

/* --------------------------------------------------------------- parser */

static int on_message_begin(http_parser *p)
{
    struct lc_http_conn *conn = p->data;
    conn->body_len = 0;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct lc_http_conn *conn = p->data;
    /* 1: the response to HEAD has no body whatever its headers say. */
    return conn->head != NULL && call_is_head(conn->head) ? 1 : 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct lc_http_conn *conn = p->data;

    if (conn->body_cap - conn->body_len < len + 1) {
        size_t cap = conn->body_cap ? conn->body_cap : 1024;
        char *body;
        while (cap - conn->body_len < len + 1) {
            cap *= 2;
        }
        body = realloc(conn->body, cap);
        if (body == NULL) {
            return -1;
        }
        conn->body = body;
        conn->body_cap = cap;
    }
    memcpy(conn->body + conn->body_len, at, len);
    conn->body_len += len;
    conn->body[conn->body_len] = '\0';
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct lc_http_conn *conn = p->data;

    if (p->status_code >= 100 && p->status_code < 200 &&
        p->status_code != 101) {
        conn->body_len = 0; /* interim response (100 Continue): go on */
        return 0;
    }
    conn->done = true;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ------------------------------------------------------------------ I/O */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    struct link *l = h->data;
    (void)hint;
    buf->base = l->conn->rbuf;
    buf->len = READ_BUF_SIZE;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct link *l = s->data;
    struct lc_http_conn *conn = l->conn;
    size_t n;

    if (l != conn->link || nread == 0) {
        return;
    }
    if (nread > 0) {
        if (!conn->active || conn->pending_err != 0) {
            reset_link(conn); /* nobody asked */
            return;
        }
        n = http_parser_execute(&conn->parser, &settings, buf->base,
                                (size_t)nread);
        if (conn->done) {
            /* Bytes beyond the response mean the stream is out of step. */
            finish_call(conn, n == (size_t)nread &&
                                  http_should_keep_alive(&conn->parser));
        } else if (HTTP_PARSER_ERRNO(&conn->parser) != HPE_OK) {
            fail_call(conn, HTTP_PARSER_ERRNO(&conn->parser) == HPE_CB_body
                                ? LC_ENOMEM
                                : LC_EPROTO);
        } else {
            arm_phase(conn, 4); /* SO_TIMEOUT: the wait for the next bytes */
        }
        return;
    }
    if (conn->active && conn->pending_err == 0) {
        if (nread == UV_EOF) {
            /* A body delimited by the end of the connection ends here. */
            http_parser_execute(&conn->parser, &settings, NULL, 0);
            if (conn->done) {
                finish_call(conn, false);
                return;
            }
        }
        fail_call(conn, LC_ECONN);
    } else {
        reset_link(conn); /* the server closed an idle connection */
    }
}

static void on_write(uv_write_t *w, int status)
{
    struct creq *r = LC_CONTAINER_OF(w, struct creq, w);
    struct link *l = w->handle->data;
    struct lc_http_conn *conn = l->conn;

    free(r);
    if (status < 0 && l == conn->link && conn->active &&
        conn->pending_err == 0) {
        fail_call(conn, LC_ECONN);
    }
}

static int write_request(struct lc_http_conn *conn)
{
    struct lc_http_call *call = conn->head;
    struct creq *r = call_req(call);
    uv_stream_t *s = (uv_stream_t *)&conn->link->tcp;
    uv_buf_t buf = uv_buf_init(r->data, (unsigned)r->len);
    int n;

    call->priv[1] = NULL;
    call->priv[5] = call; /* sent on an established connection */
    n = uv_try_write(s, &buf, 1);
    if (n == (int)r->len) {
        free(r);
        return 0;
    }
    if (n < 0 && n != UV_EAGAIN) {
        free(r);
        return LC_ECONN;
    }
    if (n > 0) {
        buf.base += n;
        buf.len -= (unsigned)n;
    }
    if (uv_write(&r->w, s, &buf, 1, on_write) != 0) {
        free(r);
        return LC_ECONN;
    }
    return 0;
}

static void on_connect(uv_connect_t *req, int status)
{
    struct link *l = req->data;
    struct lc_http_conn *conn = l->conn;
    int rv;

    if (l != conn->link) {
        return; /* abandoned; it is closing */
    }
    if (status < 0) {
        uv_close((uv_handle_t *)&l->tcp, on_link_closed);
        conn->link = NULL;
        rv = LC_ECONN;
        while (conn->next_addr != NULL && rv != 0) {
            rv = connect_start(conn); /* the next resolved address */
        }
        if (rv != 0) {
            fail_call(conn, LC_ECONN);
        }
        return;
    }
    uv_freeaddrinfo(conn->addrs);
    conn->addrs = conn->next_addr = NULL;
    l->connected = true;
    uv_tcp_nodelay(&l->tcp, 1);
    if (uv_read_start((uv_stream_t *)&l->tcp, on_alloc, on_read) != 0) {
        fail_call(conn, LC_ECONN);
        return;
    }
    rv = write_request(conn);
    if (rv != 0) {
        fail_call(conn, rv);
        return;
    }
    arm_phase(conn, 4);
}

static int connect_addr(struct lc_http_conn *conn, const struct sockaddr *sa)
{
    struct link *l = calloc(1, sizeof *l);

    if (l == NULL) {
        return LC_ENOMEM;
    }
    l->conn = conn;
    uv_tcp_init(conn->loop, &l->tcp);
    l->tcp.data = l;
    l->connect.data = l;
    conn->children++;
    if (uv_tcp_connect(&l->connect, &l->tcp, sa, on_connect) != 0) {
        uv_close((uv_handle_t *)&l->tcp, on_link_closed);
        return LC_ECONN;
    }
    conn->link = l;
    return 0;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct resolve *r = LC_CONTAINER_OF(req, struct resolve, req);
    struct lc_http_conn *conn = r->conn;
    bool current = conn->resolve == r;
    int rv = LC_ECONN;

    free(r);
    conn->children--;
    if (!current || conn->closing) {
        uv_freeaddrinfo(res);
        maybe_free(conn);
        return;
    }
    conn->resolve = NULL;
    if (status < 0 || res == NULL) {
        uv_freeaddrinfo(res);
        fail_call(conn, LC_ECONN);
        return;
    }
    conn->addrs = conn->next_addr = res;
    while (conn->next_addr != NULL && rv != 0) {
        rv = connect_start(conn);
    }
    if (rv != 0) {
        fail_call(conn, rv);
    }
}

/* Connect to the next resolved address, or resolve, or connect to the
 * literal address. */
static int connect_start(struct lc_http_conn *conn)
{
    struct sockaddr_storage ss;
    struct addrinfo hints;
    struct resolve *r;
    char port[16];

    if (conn->next_addr != NULL) {
        struct addrinfo *ai = conn->next_addr;
        conn->next_addr = ai->ai_next;
        return connect_addr(conn, ai->ai_addr);
    }
    if (uv_ip4_addr(conn->host, conn->port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(conn->host, conn->port, (struct sockaddr_in6 *)&ss) == 0) {
        return connect_addr(conn, (struct sockaddr *)&ss);
    }
    r = malloc(sizeof *r);
    if (r == NULL) {
        return LC_ENOMEM;
    }
    r->conn = conn;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof port, "%d", conn->port);
    if (uv_getaddrinfo(conn->loop, &r->req, on_resolved, conn->host, port,
                       &hints) != 0) {
        free(r);
        return LC_ECONN;
    }
    conn->resolve = r;
    conn->children++;
    return 0;
}

/* ------------------------------------------------------------------ API */

int lc_http_conn_new(uv_loop_t *loop, const char *host, int port,
                     unsigned timeout_ms, struct lc_http_conn **out)
{
    struct lc_http_conn *conn;
    size_t hlen;

    if (host == NULL || port < 1 || port > 65535) {
        return LC_EINVAL;
    }
    if (host[0] == '[') { /* "[::1]" */
        host++;
    }
    hlen = strcspn(host, "]");
    if (hlen == 0 || hlen >= sizeof conn->host) {
        return LC_EINVAL;
    }
    conn = calloc(1, sizeof *conn);
    if (conn == NULL) {
        return LC_ENOMEM;
    }
    conn->rbuf = malloc(READ_BUF_SIZE);
    if (conn->rbuf == NULL) {
        free(conn);
        return LC_ENOMEM;
    }
    memcpy(conn->host, host, hlen);
    conn->host[hlen] = '\0';
    lc_join_host_port(conn->hostport, sizeof conn->hostport, conn->host, port);
    conn->loop = loop;
    conn->port = port;
    conn->timeout_ms = timeout_ms;
    uv_timer_init(loop, &conn->timer);
    conn->timer.data = conn;
    conn->children = 1;
    *out = conn;
    return 0;
}

/* Whether @text holds a byte that would end a header line. */
static bool has_crlf(const char *text)
{
    return text[strcspn(text, "\r\n")] != '\0';
}

static bool header_ok(const char *name, const char *value)
{
    return name[0] != '\0' && name[strcspn(name, ": \t\r\n")] == '\0' &&
           !has_crlf(value);
}

int lc_http_conn_request(struct lc_http_conn *conn, struct lc_http_call *call,
                         const struct lc_http_req *req, lc_http_call_cb cb)
{
    const char *method = req->method;
    const char *path = req->path;
    const char *content_type = req->content_type;
    size_t len = req->len;
    size_t need;
    struct creq *r;
    int n;
    bool has_body = req->body != NULL || len > 0 ||
                    strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
                    strcmp(method, "PATCH") == 0;

    if (conn->closing) {
        return LC_ESHUTDOWN;
    }
    /* What would split the request line or a header is refused. */
    if (method[0] == '\0' || path[0] == '\0' ||
        method[strcspn(method, " \r\n")] != '\0' ||
        path[strcspn(path, " \r\n")] != '\0' ||
        (content_type != NULL && has_crlf(content_type))) {
        return LC_EINVAL;
    }
    need = strlen(method) + strlen(path) + strlen(conn->hostport) +
           (content_type != NULL ? strlen(content_type) : 0) + 128;
    for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL;
         i += 2) {
        if (req->headers[i + 1] == NULL ||
            !header_ok(req->headers[i], req->headers[i + 1])) {
            return LC_EINVAL;
        }
        need += strlen(req->headers[i]) + strlen(req->headers[i + 1]) + 4;
    }
    r = malloc(sizeof *r + need + len);
    if (r == NULL) {
        return LC_ENOMEM;
    }
    n = snprintf(r->data, need, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path,
                 conn->hostport);
    for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL;
         i += 2) {
        n += snprintf(r->data + n, need - (size_t)n, "%s: %s\r\n",
                      req->headers[i], req->headers[i + 1]);
    }
    if (content_type != NULL) {
        n += snprintf(r->data + n, need - (size_t)n, "Content-Type: %s\r\n",
                      content_type);
    }
    if (has_body) {
        n += snprintf(r->data + n, need - (size_t)n, "Content-Length: %zu\r\n",
                      len);
    }
    n += snprintf(r->data + n, need - (size_t)n, "\r\n");
    assert((size_t)n < need);
    if (len > 0) {
        memcpy(r->data + n, req->body, len);
    }
    r->len = (size_t)n + len;

    call->cb = cb;
    call->priv[0] = NULL;
    call->priv[1] = r;
    call->priv[2] = strcmp(method, "HEAD") == 0 ? call : NULL;
    call->priv[3] = (void *)(uintptr_t)req->connect_timeout_ms;
    call->priv[4] = (void *)(uintptr_t)req->read_timeout_ms;
    call->priv[5] = NULL;
    if (conn->tail != NULL) {
        conn->tail->priv[0] = call;
    } else {
        conn->head = call;
    }
    conn->tail = call;
    kick(conn);
    return 0;
}

int lc_http_conn_send(struct lc_http_conn *conn, struct lc_http_call *call,
                      const char *method, const char *path,
                      const char *content_type, const char *body, size_t len,
                      lc_http_call_cb cb)
{
    struct lc_http_req req = {
        .method = method,
        .path = path,
        .content_type = content_type,
        .body = body,
        .len = len,
    };
    return lc_http_conn_request(conn, call, &req, cb);
}

bool lc_http_call_sent(const struct lc_http_call *call)
{
    return call->priv[5] != NULL;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct lc_http_conn *conn = h->data;
    conn->children--;
    maybe_free(conn);
}

void lc_http_conn_close(struct lc_http_conn *conn)
{
    if (conn->closing) {
        return;
    }
    conn->closing = true;
    reset_link(conn);
    uv_close((uv_handle_t *)&conn->timer, on_timer_closed);
}

/* --------------------------------------------------------- lc_http_fetch */

struct fetch {
    struct lc_http_conn *conn;
    int status;
    int http_status;
    char *body;
    size_t len;
    bool want_body;
};

static void on_fetched(struct lc_http_call *call, int status, int http_status,
                       const char *body, size_t len)
{
    struct fetch *f = call->data;

    f->status = status;
    if (status == 0) {
        f->http_status = http_status;
        f->len = len;
        if (f->want_body) {
            f->body = malloc(len + 1);
            if (f->body == NULL) {
                f->status = LC_ENOMEM;
            } else {
                memcpy(f->body, body, len);
                f->body[len] = '\0';
            }
        }
    }
    lc_http_conn_close(f->conn);
}

int lc_http_fetch(const char *host, int port, const char *method,
                  const char *path, const char *content_type, const char *body,
                  size_t len, unsigned timeout_ms, int *http_status,
                  char **body_out, size_t *body_len)
{
    uv_loop_t loop;
    struct lc_http_call call;
    struct fetch f = {.status = LC_ECANCELED, .want_body = body_out != NULL};
    int rv;

    if (uv_loop_init(&loop) != 0) {
        return LC_EIO;
    }
    rv = lc_http_conn_new(&loop, host, port, timeout_ms, &f.conn);
    if (rv != 0) {
        goto err_after_loop;
    }
    memset(&call, 0, sizeof call);
    call.data = &f;
    rv = lc_http_conn_send(f.conn, &call, method, path, content_type, body, len,
                           on_fetched);
    if (rv != 0) {
        lc_http_conn_close(f.conn);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (rv != 0) {
        return rv;
    }
    if (f.status != 0) {
        free(f.body);
        return f.status;
    }
    *http_status = f.http_status;
    if (body_out != NULL) {
        *body_out = f.body;
    }
    if (body_len != NULL) {
        *body_len = f.len;
    }
    return 0;

err_after_loop:
    uv_loop_close(&loop);
    return rv;
}
