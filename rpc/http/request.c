/* HTTP server requests: parsing, limits, routing, accessors, replies. */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/util.h"
#include "rpc/http/internal.h"

/* Which string of the request head the parser is appending to. */
enum { SEG_NONE, SEG_URL, SEG_FIELD, SEG_VALUE };

/* Request line bytes the URL callback does not see ("GET ", " HTTP/1.1\r\n")
 * and per header line (": ", "\r\n"), for max_header_bytes. */
#define LINE_OVERHEAD 16
#define HEADER_OVERHEAD 4

#define CT_TEXT "text/plain;charset=UTF-8"
#define CT_JSON "application/json;charset=UTF-8"

static struct lc_http_sconn *conn_of(const struct lc_http_exchange *ex)
{
    return LC_CONTAINER_OF(ex, struct lc_http_sconn, ex);
}

/* ---------------------------------------------------------- parser hooks */

static int head_put(struct lc_http_sconn *c, const char *at, size_t len)
{
    if (c->head_cap - c->head_len < len + 1) {
        size_t cap = c->head_cap ? c->head_cap : 512;
        char *head;
        while (cap - c->head_len < len + 1) {
            cap *= 2;
        }
        head = realloc(c->head, cap);
        if (head == NULL) {
            c->reject = 503;
            return -1;
        }
        c->head = head;
        c->head_cap = cap;
    }
    memcpy(c->head + c->head_len, at, len);
    c->head_len += len;
    return 0;
}

static int count_head(struct lc_http_sconn *c, size_t len)
{
    c->head_bytes += len;
    if (c->head_bytes > c->srv->limits.max_header_bytes) {
        c->reject = 431;
        return -1;
    }
    return 0;
}

/* Start appending to a @seg string, ending the current one. */
static int seg_switch(struct lc_http_sconn *c, int seg)
{
    if (c->seg == seg) {
        return 0;
    }
    if (c->seg != SEG_NONE && head_put(c, "", 1) != 0) {
        return -1;
    }
    if (c->seg == SEG_FIELD) {
        /* A name without a value callback: give it "". */
        c->hdrs[c->nhdrs - 1].value = (uint32_t)c->head_len;
        if (head_put(c, "", 1) != 0) {
            return -1;
        }
    }
    if (c->seg == SEG_URL) {
        c->url_len = c->head_len - 1;
    }
    c->seg = seg;
    if (seg == SEG_FIELD) {
        if (c->nhdrs == c->hdrs_cap) {
            size_t cap = c->hdrs_cap ? 2 * c->hdrs_cap : 16;
            struct lc_http_hdr *hdrs = realloc(c->hdrs, cap * sizeof *hdrs);
            if (hdrs == NULL) {
                c->reject = 503;
                return -1;
            }
            c->hdrs = hdrs;
            c->hdrs_cap = cap;
        }
        c->hdrs[c->nhdrs].name = (uint32_t)c->head_len;
        c->hdrs[c->nhdrs].value = (uint32_t)c->head_len;
        c->nhdrs++;
        return count_head(c, HEADER_OVERHEAD);
    }
    if (seg == SEG_VALUE) {
        c->hdrs[c->nhdrs - 1].value = (uint32_t)c->head_len;
    }
    return 0;
}

static int on_message_begin(http_parser *p)
{
    struct lc_http_sconn *c = p->data;
    c->head_len = 0;
    c->url_len = 0;
    c->nhdrs = 0;
    c->head_bytes = LINE_OVERHEAD;
    c->seg = SEG_NONE;
    c->reject = 0;
    c->body_len = 0;
    c->in_body = false;
    c->crlf_need = 0;
    lc_http_sconn_phase(c, LC_HTTP_PHASE_HEAD, false);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct lc_http_sconn *c = p->data;
    if (count_head(c, len) != 0 || seg_switch(c, SEG_URL) != 0) {
        return -1;
    }
    return head_put(c, at, len);
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct lc_http_sconn *c = p->data;
    if (c->in_body) {
        return 0; /* chunked trailers: dropped, the head is final */
    }
    if (seg_switch(c, SEG_FIELD) != 0 || count_head(c, len) != 0) {
        return -1;
    }
    return head_put(c, at, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct lc_http_sconn *c = p->data;
    if (c->in_body) {
        return 0; /* chunked trailers: dropped, the head is final */
    }
    if (seg_switch(c, SEG_VALUE) != 0 || count_head(c, len) != 0) {
        return -1;
    }
    return head_put(c, at, len);
}

static unsigned method_bit(unsigned method)
{
    switch (method) {
        case HTTP_GET:
            return LC_HTTP_GET;
        case HTTP_POST:
            return LC_HTTP_POST;
        case HTTP_PUT:
            return LC_HTTP_PUT;
        case HTTP_DELETE:
            return LC_HTTP_DELETE;
        case HTTP_PATCH:
            return LC_HTTP_PATCH;
        case HTTP_HEAD:
            return LC_HTTP_HEAD;
        default:
            return 0;
    }
}

static int on_headers_complete(http_parser *p)
{
    struct lc_http_sconn *c = p->data;
    struct lc_http_exchange *ex = &c->ex;
    size_t max_body = c->srv->limits.max_body_bytes;
    const char *expect = NULL;
    bool chunked = (p->flags & F_CHUNKED) != 0;
    bool has_len = p->content_length != ULLONG_MAX;

    if (seg_switch(c, SEG_NONE) != 0) {
        return -1;
    }
    c->in_body = true;
    ex->method = method_bit(p->method);
    ex->method_name = http_method_str((enum http_method)p->method);
    ex->content_type = NULL;
    for (size_t i = 0; i < c->nhdrs; i++) {
        const char *name = c->head + c->hdrs[i].name;
        if (ex->content_type == NULL && strcasecmp(name, "content-type") == 0) {
            ex->content_type = c->head + c->hdrs[i].value;
        } else if (strcasecmp(name, "expect") == 0) {
            expect = c->head + c->hdrs[i].value;
        }
    }
    c->keep_alive = http_should_keep_alive(p) && p->method != HTTP_CONNECT;
    c->http10 = p->http_major == 1 && p->http_minor == 0;
    c->head_req = p->method == HTTP_HEAD;

    if (!chunked && has_len && p->content_length > max_body) {
        c->reject = 413;
        return -1;
    }
    if (!chunked && has_len && p->content_length > c->body_cap) {
        char *body = malloc((size_t)p->content_length);
        if (body == NULL) {
            c->reject = 503;
            return -1;
        }
        free(c->body);
        c->body = body;
        c->body_cap = (size_t)p->content_length;
    }
    if (expect != NULL && strcasecmp(expect, "100-continue") == 0 &&
        !c->http10 && (chunked || (has_len && p->content_length > 0))) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        lc_http_sconn_send(c, cont, sizeof cont - 1, NULL, 0, NULL);
    }
    lc_http_sconn_phase(c, LC_HTTP_PHASE_BODY,
                        chunked || (has_len && p->content_length > 0));
    return 0;
}

/* http_parser, built without HTTP_PARSER_STRICT as Debian ships it, takes
 * any two bytes after a chunk's data for its CRLF: "2\r\nabcdef\r\n" would
 * read as chunk "ab" and then a chunk of size 0xef, and the server would
 * wait for it. Check those bytes here, from @at in the buffer being parsed
 * as far as it goes; lc_http_sconn_parse() checks the rest at the start of
 * the next. */
static int crlf_check(struct lc_http_sconn *c, const char *at)
{
    static const char crlf[] = "\r\n";
    while (c->crlf_need > 0 && at < c->exec_end) {
        if (*at != crlf[2 - c->crlf_need]) {
            c->reject = 400;
            return -1;
        }
        at++;
        c->crlf_need--;
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct lc_http_sconn *c = p->data;

    if (len > c->srv->limits.max_body_bytes - c->body_len) {
        c->reject = 413;
        return -1;
    }
    if (c->body_cap - c->body_len < len) {
        size_t cap = c->body_cap ? c->body_cap : 1024;
        char *body;
        while (cap - c->body_len < len) {
            cap *= 2;
        }
        body = realloc(c->body, cap);
        if (body == NULL) {
            c->reject = 503;
            return -1;
        }
        c->body = body;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, at, len);
    c->body_len += len;
    if ((p->flags & F_CHUNKED) != 0 && len <= c->chunk_left) {
        c->chunk_left -= len;
        if (c->chunk_left == 0) {
            c->crlf_need = 2;
            return crlf_check(c, at + len);
        }
    }
    return 0;
}

static int on_chunk_header(http_parser *p)
{
    struct lc_http_sconn *c = p->data;
    if (p->content_length > c->srv->limits.max_body_bytes - c->body_len) {
        c->reject = 413;
        return -1;
    }
    c->chunk_left = p->content_length;
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct lc_http_sconn *c = p->data;
    lc_http_sconn_phase(c, LC_HTTP_PHASE_NONE, false);
    c->req_ready = true;
    http_parser_pause(p, 1); /* one request at a time: see dispatch() */
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_chunk_header = on_chunk_header,
};

/* --------------------------------------------------------------- routes */

int lc_http_server_route(struct lc_http_server *srv, unsigned methods,
                         const char *path, lc_http_handler_cb cb, void *data)
{
    struct lc_http_route *route = NULL;
    size_t len = strlen(path);

    methods &= LC_HTTP_ANY;
    if (methods == 0 || cb == NULL) {
        return LC_EINVAL;
    }
    HASH_FIND(hh, srv->routes, path, len, route);
    if (route == NULL) {
        route = calloc(1, sizeof *route);
        if (route == NULL) {
            return LC_ENOMEM;
        }
        route->path = strdup(path);
        if (route->path == NULL) {
            free(route);
            return LC_ENOMEM;
        }
        HASH_ADD_KEYPTR(hh, srv->routes, route->path, len, route);
    }
    if (route->methods & methods) {
        return LC_EEXIST;
    }
    assert(route->n < LC_ARRAY_SIZE(route->entries));
    route->entries[route->n].methods = methods;
    route->entries[route->n].cb = cb;
    route->entries[route->n].data = data;
    route->n++;
    route->methods |= methods;
    return 0;
}

void lc_http_server_gate(struct lc_http_server *srv, lc_http_gate_cb cb,
                         void *data)
{
    srv->gate_cb = cb;
    srv->gate_data = data;
}

void lc_http_pass(struct lc_http_exchange *ex)
{
    struct lc_http_sconn *c = conn_of(ex);

    if (c->state >= LC_HTTP_CLOSING) {
        /* Gone while held: nobody reads the answer, and the handler must
         * not act for a client that left. This frees the exchange. */
        lc_http_reply(ex, 503, CT_TEXT, "client gone", 11);
        return;
    }
    ex->route_cb(ex, ex->route_data);
}

void lc_http_server_each_route(struct lc_http_server *srv,
                               void (*cb)(const char *path, unsigned methods,
                                          void *data),
                               void *data)
{
    struct lc_http_route *route;
    struct lc_http_route *tmp;

    HASH_ITER(hh, srv->routes, route, tmp)
    {
        cb(route->path, route->methods, data);
    }
}

void lc_http_server_fallback(struct lc_http_server *srv, lc_http_handler_cb cb,
                             void *data)
{
    srv->fallback_cb = cb;
    srv->fallback_data = data;
}

/* ------------------------------------------------------------- dispatch */

static void reply_full(struct lc_http_exchange *ex, int status,
                       const char *content_type, const char *body, size_t len,
                       char *owned, const char *extra);

static void default_fallback(struct lc_http_exchange *ex, void *data)
{
    (void)data;
    lc_http_reply(ex, 404, CT_TEXT, "not found", 9);
}

static void reply_405(struct lc_http_exchange *ex, unsigned methods)
{
    static const char *names[] = {"GET",    "POST",  "PUT",
                                  "DELETE", "PATCH", "HEAD"};
    char allow[64] = "Allow: ";
    size_t n = strlen(allow);

    for (unsigned i = 0; i < LC_ARRAY_SIZE(names); i++) {
        if (methods & (1u << i)) {
            n += (size_t)snprintf(allow + n, sizeof allow - n, "%s%s",
                                  n > 7 ? ", " : "", names[i]);
        }
    }
    snprintf(allow + n, sizeof allow - n, "\r\n");
    reply_full(ex, 405, CT_TEXT, "method not allowed", 18, NULL, allow);
}

/* Decode the path and parameters of the complete request and hand it to its
 * handler, or answer it here. Runs outside http_parser_execute(). */
static void dispatch(struct lc_http_sconn *c)
{
    struct lc_http_server *srv = c->srv;
    struct lc_http_exchange *ex = &c->ex;
    struct lc_http_route *route = NULL;
    const char *url = c->head;
    size_t ulen = c->url_len;
    const char *path = url;
    size_t plen = ulen;
    const char *query = NULL;
    size_t qlen = 0;
    bool form = lc_http_is_form(ex->content_type);
    struct http_parser_url u;
    lc_http_handler_cb cb = srv->fallback_cb;
    void *data = srv->fallback_data;
    int rv;

    c->req_ready = false;
    c->ex_inflight = true;
    ex->body = c->body;
    ex->body_len = c->body_len;

    if (ulen > 0 && url[0] != '/') {
        /* Absolute form ("http://host/p?q") or "*". */
        http_parser_url_init(&u);
        if (ulen == 1 && url[0] == '*') {
            plen = 1;
        } else if (http_parser_parse_url(url, ulen, 0, &u) == 0) {
            path = "/";
            plen = 1;
            if (u.field_set & (1 << UF_PATH)) {
                path = url + u.field_data[UF_PATH].off;
                plen = u.field_data[UF_PATH].len;
            }
            if (u.field_set & (1 << UF_QUERY)) {
                query = url + u.field_data[UF_QUERY].off;
                qlen = u.field_data[UF_QUERY].len;
            }
        } else {
            goto bad_request;
        }
    } else {
        const char *hash = memchr(url, '#', ulen);
        const char *qm;
        if (hash != NULL) {
            ulen = (size_t)(hash - url);
        }
        qm = memchr(url, '?', ulen);
        plen = ulen;
        if (qm != NULL) {
            plen = (size_t)(qm - url);
            query = qm + 1;
            qlen = ulen - plen - 1;
        }
    }

    rv = lc_http_params_begin(&ex->params,
                              c->url_len + (form ? c->body_len : 0));
    if (rv != 0) {
        goto unavailable;
    }
    ex->path = lc_http_params_add_path(&ex->params, path, plen);
    if (ex->path == NULL) {
        goto unavailable;
    }
    rv = lc_http_params_parse(&ex->params, query, qlen);
    if (rv == 0 && form) {
        rv = lc_http_params_parse(&ex->params, c->body, c->body_len);
    }
    if (rv == LC_ETOOBIG) {
        goto bad_request;
    } else if (rv != 0) {
        goto unavailable;
    }

    HASH_FIND(hh, srv->routes, ex->path, strlen(ex->path), route);
    if (route != NULL && ex->method == LC_HTTP_HEAD &&
        (route->methods & LC_HTTP_GET) != 0) {
        /* As Spring maps HEAD to GET handlers (and Tomcat's doHead runs
         * doGet): the GET answer, its body dropped by the reply. */
        ex->method = LC_HTTP_GET;
        ex->method_name = "GET";
    }
    if (route != NULL) {
        cb = NULL;
        for (unsigned i = 0; i < route->n; i++) {
            if (route->entries[i].methods & ex->method) {
                cb = route->entries[i].cb;
                data = route->entries[i].data;
                break;
            }
        }
        if (cb == NULL) {
            reply_405(ex, route->methods);
            return;
        }
    }
    if (cb == NULL) {
        cb = default_fallback;
    }
    ex->route_cb = cb;
    ex->route_data = data;
    c->dispatching = true;
    /* A gate sees routed requests only: the fallback's answers (404, 501)
     * change nothing. */
    if (route == NULL || srv->gate_cb == NULL ||
        !srv->gate_cb(ex, srv->gate_data)) {
        cb(ex, data);
    }
    c->dispatching = false;
    return;

bad_request:
    ex->path = "";
    lc_http_params_begin(&ex->params, 0);
    reply_full(ex, 400, CT_TEXT, "bad request", 11, NULL, NULL);
    return;
unavailable:
    ex->path = "";
    ex->params.n = 0;
    reply_full(ex, 503, CT_TEXT, "out of memory", 13, NULL, NULL);
}

/* Answer a request the parser refused, then close. */
static void reject(struct lc_http_sconn *c, enum http_errno err)
{
    int status = 400;
    const char *msg = "bad request";

    if (err >= HPE_CB_message_begin && err <= HPE_CB_chunk_complete &&
        c->reject != 0) {
        status = c->reject;
    } else if (err == HPE_HEADER_OVERFLOW) {
        status = 431;
    }
    switch (status) {
        case 413:
            msg = "payload too large";
            break;
        case 431:
            msg = "request header fields too large";
            break;
        case 503:
            msg = "out of memory";
            break;
    }
    lc_http_sconn_respond(c, status, CT_TEXT, msg, strlen(msg), NULL, NULL,
                          true, false);
    lc_http_sconn_drain(c);
}

size_t lc_http_sconn_parse(struct lc_http_sconn *c, const char *data,
                           size_t len)
{
    size_t off = 0;

    c->exec_end = data + len;
    while (off < len && lc_http_sconn_can_parse(c)) {
        size_t n;
        enum http_errno err;
        if (c->crlf_need > 0 && crlf_check(c, data + off) != 0) {
            reject(c, HPE_CB_body);
            return len;
        }
        n = http_parser_execute(&c->parser, &settings, data + off, len - off);
        err = HTTP_PARSER_ERRNO(&c->parser);
        off += n;
        if (err == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
            if (c->req_ready) {
                dispatch(c);
            }
        } else if (err != HPE_OK || n == 0) {
            reject(c, err);
            return len;
        }
    }
    return c->state == LC_HTTP_OPEN ? off : len;
}

/* -------------------------------------------------------------- replies */

static char *put_str(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}

static char *put_uint(char *o, size_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) {
        *o++ = tmp[--n];
    }
    return o;
}

#define PUT_LIT(o, lit) put_str((o), (lit), sizeof(lit) - 1)

void lc_http_sconn_respond(struct lc_http_sconn *c, int status,
                           const char *content_type, const char *body,
                           size_t len, char *owned, const char *extra,
                           bool close, bool head_only)
{
    char stack[512];
    char *buf = stack;
    const char *reason;
    size_t ctlen = content_type != NULL ? strlen(content_type) : 0;
    size_t xlen = extra != NULL ? strlen(extra) : 0;
    bool bodiless = status < 200 || status == 204 || status == 304;
    size_t need;
    char *o;

    if (status < 100 || status > 999) {
        status = 500;
    }
    reason = http_status_str((enum http_status)status);
    if (reason[0] == '<') { /* "<unknown>" */
        reason = "Unknown";
    }
    need = 160 + strlen(reason) + ctlen + xlen;
    if (need > sizeof stack) {
        buf = malloc(need);
        if (buf == NULL) {
            free(owned);
            lc_http_sconn_close(c);
            return;
        }
    }
    o = PUT_LIT(buf, "HTTP/1.1 ");
    o = put_uint(o, (size_t)status);
    *o++ = ' ';
    o = put_str(o, reason, strlen(reason));
    o = PUT_LIT(o, "\r\n");
    if (content_type != NULL) {
        o = PUT_LIT(o, "Content-Type: ");
        o = put_str(o, content_type, ctlen);
        o = PUT_LIT(o, "\r\n");
    }
    if (!bodiless) {
        o = PUT_LIT(o, "Content-Length: ");
        o = put_uint(o, len);
        o = PUT_LIT(o, "\r\n");
    }
    if (close) {
        o = PUT_LIT(o, "Connection: close\r\n");
    } else if (c->http10) {
        o = PUT_LIT(o, "Connection: keep-alive\r\n");
    }
    if (extra != NULL) {
        o = put_str(o, extra, xlen);
    }
    o = PUT_LIT(o, "\r\n");
    if (bodiless || head_only) {
        body = NULL;
        len = 0;
    }
    lc_http_sconn_send(c, buf, (size_t)(o - buf), body, len, owned);
    if (buf != stack) {
        free(buf);
    }
}

static void reply_full(struct lc_http_exchange *ex, int status,
                       const char *content_type, const char *body, size_t len,
                       char *owned, const char *extra)
{
    struct lc_http_sconn *c = conn_of(ex);
    bool close;

    assert(c->ex_inflight);
    c->ex_inflight = false;
    if (c->state >= LC_HTTP_CLOSING) {
        /* The client went away (or the server answered 503 already). */
        free(owned);
        if (c->state == LC_HTTP_CLOSED && c->srv == NULL) {
            lc_http_sconn_free(c);
        }
        return;
    }
    close = !c->keep_alive || c->srv->closing;
    lc_http_sconn_respond(c, status, content_type, body, len, owned, extra,
                          close, c->head_req);
    lc_http_sconn_after_reply(c, close);
}

void lc_http_reply(struct lc_http_exchange *ex, int status,
                   const char *content_type, const char *body, size_t len)
{
    reply_full(ex, status, content_type, body, len, NULL, NULL);
}

void lc_http_reply_take(struct lc_http_exchange *ex, int status,
                        const char *content_type, char *body, size_t len)
{
    reply_full(ex, status, content_type, body, len, body, NULL);
}

void lc_http_reply_text(struct lc_http_exchange *ex, int status,
                        const char *fmt, ...)
{
    char stack[256];
    char *heap;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(stack, sizeof stack, fmt, ap);
    va_end(ap);
    if (n < 0) {
        n = 0;
        stack[0] = '\0';
    }
    if ((size_t)n < sizeof stack) {
        reply_full(ex, status, CT_TEXT, stack, (size_t)n, NULL, NULL);
        return;
    }
    heap = malloc((size_t)n + 1);
    if (heap == NULL) {
        reply_full(ex, status, CT_TEXT, stack, sizeof stack - 1, NULL, NULL);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(heap, (size_t)n + 1, fmt, ap);
    va_end(ap);
    reply_full(ex, status, CT_TEXT, heap, (size_t)n, heap, NULL);
}

void lc_http_reply_json(struct lc_http_exchange *ex, int status,
                        const char *json, size_t len)
{
    reply_full(ex, status, CT_JSON, json, len, NULL, NULL);
}

static bool header_name_ok(const char *n)
{
    if (n == NULL || n[0] == '\0') {
        return false;
    }
    for (; *n != '\0'; n++) {
        unsigned char c = (unsigned char)*n;
        if (c <= ' ' || c >= 0x7f || c == ':') {
            return false;
        }
    }
    return true;
}

static bool header_value_ok(const char *v)
{
    return v != NULL && strpbrk(v, "\r\n") == NULL;
}

void lc_http_reply_headers(struct lc_http_exchange *ex, int status,
                           const char *content_type, const char *body,
                           size_t len, const char *const *headers)
{
    size_t need = 1;
    char *extra;
    char *o;
    for (size_t i = 0; headers != NULL && headers[i] != NULL &&
                       headers[i + 1] != NULL;
         i += 2) {
        need += strlen(headers[i]) + strlen(headers[i + 1]) + 4;
    }
    extra = malloc(need);
    if (extra == NULL) {
        reply_full(ex, status, content_type, body, len, NULL, NULL);
        return;
    }
    o = extra;
    for (size_t i = 0; headers != NULL && headers[i] != NULL &&
                       headers[i + 1] != NULL;
         i += 2) {
        size_t nl = strlen(headers[i]);
        size_t vl = strlen(headers[i + 1]);
        if (!header_name_ok(headers[i]) || !header_value_ok(headers[i + 1])) {
            continue;
        }
        memcpy(o, headers[i], nl);
        o += nl;
        memcpy(o, ": ", 2);
        o += 2;
        memcpy(o, headers[i + 1], vl);
        o += vl;
        memcpy(o, "\r\n", 2);
        o += 2;
    }
    *o = '\0';
    reply_full(ex, status, content_type, body, len, NULL,
               extra[0] != '\0' ? extra : NULL);
    free(extra);
}

/* ------------------------------------------------------------ accessors */

unsigned lc_http_method(const struct lc_http_exchange *ex)
{
    return ex->method;
}

const char *lc_http_method_name(const struct lc_http_exchange *ex)
{
    return ex->method_name;
}

const char *lc_http_path(const struct lc_http_exchange *ex)
{
    return ex->path;
}

const char *lc_http_param(const struct lc_http_exchange *ex, const char *name)
{
    for (size_t i = 0; i < ex->params.n; i++) {
        if (strcmp(ex->params.items[i].name, name) == 0) {
            return ex->params.items[i].value;
        }
    }
    return NULL;
}

bool lc_http_param_at(const struct lc_http_exchange *ex, size_t i,
                      const char **name, const char **value)
{
    if (i >= ex->params.n) {
        return false;
    }
    *name = ex->params.items[i].name;
    *value = ex->params.items[i].value;
    return true;
}

const char *lc_http_header(const struct lc_http_exchange *ex, const char *name)
{
    const struct lc_http_sconn *c = conn_of(ex);
    for (size_t i = 0; i < c->nhdrs; i++) {
        if (strcasecmp(c->head + c->hdrs[i].name, name) == 0) {
            return c->head + c->hdrs[i].value;
        }
    }
    return NULL;
}

bool lc_http_header_at(const struct lc_http_exchange *ex, size_t i,
                       const char **name, const char **value)
{
    const struct lc_http_sconn *c = conn_of(ex);
    if (i >= c->nhdrs) {
        return false;
    }
    *name = c->head + c->hdrs[i].name;
    *value = c->head + c->hdrs[i].value;
    return true;
}

const char *lc_http_body(const struct lc_http_exchange *ex, size_t *len)
{
    *len = ex->body_len;
    return ex->body != NULL ? ex->body : "";
}

const char *lc_http_remote_ip(const struct lc_http_exchange *ex)
{
    return conn_of(ex)->remote_ip;
}

int lc_http_remote_port(const struct lc_http_exchange *ex)
{
    return conn_of(ex)->remote_port;
}

bool lc_http_gone(const struct lc_http_exchange *ex)
{
    return conn_of(ex)->state >= LC_HTTP_CLOSING;
}
