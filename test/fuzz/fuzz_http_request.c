/* libFuzzer driver: arbitrary bytes through the HTTP server's request path. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/http/internal.h"

/* The server is built once; each input runs on a socket-less connection, so
 * everything from parsing to routing, parameters and replies is exercised
 * without the network. Input layout: byte 0 picks how the rest is split
 * into reads (as TCP would), the rest is what the client sent. */

static uv_loop_t loop;
static struct lc_http_server *srv;
static struct lc_http_exchange *held;

/* Touch everything a handler can read, then answer with some of it. */
static void h_echo(struct lc_http_exchange *ex, void *data)
{
    const char *name, *value, *body;
    size_t len, sum = 0, blen;
    char *out;
    (void)data;

    for (size_t i = 0; lc_http_param_at(ex, i, &name, &value); i++) {
        sum += strlen(name) + strlen(value);
        if (lc_http_param(ex, name) == NULL) {
            abort(); /* a listed name must be found */
        }
    }
    value = lc_http_header(ex, "host");
    sum += value != NULL ? strlen(value) : 0;
    value = lc_http_header(ex, "content-type");
    sum += value != NULL ? strlen(value) : 0;
    body = lc_http_body(ex, &blen);
    out = malloc(blen + 64);
    if (out == NULL) {
        lc_http_reply(ex, 500, NULL, NULL, 0);
        return;
    }
    len = (size_t)snprintf(out, 64, "%s %s %zu %u %s:%d\n",
                           lc_http_method_name(ex), lc_http_path(ex), sum,
                           lc_http_method(ex), lc_http_remote_ip(ex),
                           lc_http_remote_port(ex));
    memcpy(out + len, body, blen);
    lc_http_reply_take(ex, 200, "text/plain", out, len + blen);
}

static void h_hold(struct lc_http_exchange *ex, void *data)
{
    (void)data;
    held = ex; /* answered by the driver, after the handler returned */
}

static void h_text(struct lc_http_exchange *ex, void *data)
{
    lc_http_reply_text(ex, 200, "%s", (const char *)data);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct lc_http_limits limits;
    (void)argc;
    (void)argv;

    lc_http_limits_default(&limits);
    limits.max_header_bytes = 2048; /* small, so the limits are reached */
    limits.max_body_bytes = 4096;
    uv_loop_init(&loop);
    srv = lc_http_server_new(&loop, &limits);
    if (srv == NULL ||
        lc_http_server_route(srv, LC_HTTP_ANY, "/echo", h_echo, NULL) != 0 ||
        lc_http_server_route(srv, LC_HTTP_GET | LC_HTTP_POST, "/hold", h_hold,
                             NULL) != 0 ||
        lc_http_server_route(srv, LC_HTTP_GET | LC_HTTP_HEAD, "/", h_text,
                             "root") != 0 ||
        lc_http_server_route(srv, LC_HTTP_DELETE, "/a b", h_text, "ab") != 0) {
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lc_http_sconn *c;
    const char *in = (const char *)data;
    size_t step, off, out_len;
    const char *out;

    if (size < 1) {
        return 0;
    }
    step = (size_t)data[0] + 1; /* 1..256 bytes per read; 256: all at once */
    in++;
    size--;
    c = lc_http_fake_conn_new(srv);
    if (c == NULL) {
        return 0;
    }
    for (off = 0; off < size;) {
        size_t n = data[0] == 255 || size - off < step ? size - off : step;
        bool open = lc_http_fake_conn_feed(c, in + off, n);
        off += n;
        while (open && held != NULL) {
            struct lc_http_exchange *ex = held;
            held = NULL;
            if (lc_http_gone(ex)) {
                abort(); /* nothing closes a fake connection mid-exchange */
            }
            lc_http_reply(ex, 202, "text/plain", "held", 4);
            open = lc_http_fake_conn_feed(c, NULL, 0);
        }
        if (!open) {
            break;
        }
    }
    out = lc_http_fake_conn_output(c, &out_len);
    if (out_len > 0 && (out_len < 12 || memcmp(out, "HTTP/1.1 ", 9) != 0)) {
        abort(); /* whatever we write starts as a status line */
    }
    if (held != NULL) {
        /* Input ended while a request was held: answer late, as a handler
         * whose client went away would. */
        struct lc_http_exchange *ex = held;
        held = NULL;
        lc_http_fake_conn_free(c);
        lc_http_reply(ex, 202, NULL, NULL, 0);
    } else {
        lc_http_fake_conn_free(c);
    }
    return 0;
}
