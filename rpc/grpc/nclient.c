/* A small asynchronous Nacos 2.x gRPC client: see nclient.h.
 *
 * Setup follows the Java client (RpcClient + GrpcClient): a unary
 * ServerCheckRequest gives the connection id, the bi-stream carries
 * ConnectionSetupRequest, and the server's SetupAckRequest makes the
 * connection ready. Requests then go as unary calls; the stream brings the
 * server's own requests, which are answered with their requestId.
 *
 * The setup may have one deadline (lc_nclient_new_limited) from its start
 * to SetupAck: a server that accepts the socket and then
 * says nothing (a stopped process) fails the setup instead of holding the
 * client forever. The timer is the last handle to close: the client is
 * freed in its close callback, after the gRPC session's closed.
 */
#include "rpc/grpc/nclient.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "rpc/grpc/grpc.h"
#include "rpc/grpc/rpc.h"

#define REQUEST_PATH "/Request/request"
#define STREAM_PATH "/BiRequestStream/requestBiStream"
#define CHECK_TIMEOUT_MS 5000

struct lc_nclient {
    struct lc_nclient_cbs cbs;
    struct lc_grpc_client *grpc;
    struct lc_grpc_cstream *stream;
    struct lc_grpc_ccall check;
    uv_timer_t setup_timer; /* the setup's deadline; freed in its close */
    char id[128];
    json_t *headers; /* metadata headers of every request, or NULL */
    bool ready;
    bool failed; /* ready fired with an error */
    bool closing;
};

/* One request in flight. */
struct pending {
    struct lc_grpc_ccall call;
    struct lc_nreq *r;
};

static void fail(struct lc_nclient *c, int status)
{
    uv_timer_stop(&c->setup_timer);
    if (!c->ready && !c->failed) {
        c->failed = true;
        if (c->cbs.ready != NULL) {
            c->cbs.ready(c, status, c->cbs.data);
        }
    }
    lc_nclient_close(c);
}

static int send_payload(struct lc_nclient *c, const char *type, json_t *body)
{
    uint8_t *buf;
    size_t len;
    int rv = lc_payload_encode(type, body, NULL, &buf, &len);
    if (rv != 0) {
        return rv;
    }
    rv = c->stream != NULL ? lc_grpc_cstream_send(c->stream, buf, len)
                           : LC_ECONN;
    free(buf);
    return rv;
}

/* The requestId of a server request's JSON text, found without parsing
 * it (the server writes compact JSON): "" when absent. */
static void request_id(const char *json, size_t len, char *out, size_t size)
{
    static const char key[] = "\"requestId\":\"";
    const char *p = memmem(json, len, key, sizeof key - 1);
    size_t n = 0;
    if (p != NULL) {
        p += sizeof key - 1;
        while (p < json + len && *p != '"' && n + 1 < size) {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
}

/* Answer a server request (@json) on the stream with @type and its
 * requestId: the response's text is written directly, not built as a JSON
 * tree, since one loop answers the pushes of thousands of connections. */
static void answer(struct lc_nclient *c, const char *type, const char *json,
                   size_t len)
{
    char id[64], text[160];
    uint8_t *buf;
    size_t n;
    int tlen;
    request_id(json, len, id, sizeof id);
    if (strspn(id, "0123456789") != strlen(id)) {
        id[0] = '\0'; /* not the server's counter: leave it out */
    }
    tlen = snprintf(text, sizeof text,
                    "{\"resultCode\":200,\"errorCode\":0,\"success\":true,"
                    "\"requestId\":\"%s\"}",
                    id);
    if (c->stream != NULL &&
        lc_payload_encode_text(type, text, (size_t)tlen, NULL, &buf, &n) == 0) {
        lc_grpc_cstream_send(c->stream, buf, n);
        free(buf);
    }
}

/* Tell the owner where a ConnectResetRequest sends the client. */
static void on_reset(struct lc_nclient *c, const struct lc_payload *p)
{
    json_t *body = NULL;
    if (lc_payload_json(p, &body) != 0) {
        c->cbs.reset(c, NULL, NULL, c->cbs.data);
        return;
    }
    c->cbs.reset(c, json_string_value(json_object_get(body, "serverIp")),
                 json_string_value(json_object_get(body, "serverPort")),
                 c->cbs.data);
    json_decref(body);
}

static void on_stream_msg(struct lc_grpc_cstream *s, const uint8_t *msg,
                          size_t len, void *data)
{
    struct lc_nclient *c = data;
    struct lc_payload p;
    (void)s;
    if (lc_payload_decode(msg, len, &p) != 0) {
        return;
    }
    if (strcmp(p.type, "SetupAckRequest") == 0) {
        if (!c->ready && !c->failed && !c->closing) {
            uv_timer_stop(&c->setup_timer);
            c->ready = true;
            if (c->cbs.ready != NULL) {
                c->cbs.ready(c, 0, c->cbs.data);
            }
        }
    } else if (strcmp(p.type, "NotifySubscriberRequest") == 0) {
        if (c->cbs.push != NULL) {
            c->cbs.push(c, p.body, p.body_len, c->cbs.data);
        }
        answer(c, "NotifySubscriberResponse", p.body, p.body_len);
    } else if (strcmp(p.type, "ClientDetectionRequest") == 0) {
        answer(c, "ClientDetectionResponse", p.body, p.body_len);
    } else if (strcmp(p.type, "ConnectResetRequest") == 0) {
        if (c->cbs.reset != NULL) {
            on_reset(c, &p);
        }
        answer(c, "ConnectResetResponse", p.body, p.body_len);
        lc_nclient_close(c);
    }
    lc_payload_free(&p);
}

static void on_stream_closed(struct lc_grpc_cstream *s, int status,
                             int grpc_status, const char *message, void *data)
{
    struct lc_nclient *c = data;
    (void)s;
    (void)status;
    (void)grpc_status;
    (void)message;
    c->stream = NULL;
    fail(c, LC_ECONN);
}

static void on_check(struct lc_grpc_ccall *call, int status, int grpc_status,
                     const char *message, const uint8_t *msg, size_t len)
{
    struct lc_nclient *c = call->data;
    struct lc_grpc_cstream_cbs scbs = {
        .data = c, .msg = on_stream_msg, .closed = on_stream_closed};
    struct lc_payload p;
    json_t *body = NULL, *setup, *labels;
    const char *id;
    int rv;
    (void)message;
    if (c->closing) {
        return;
    }
    if (status != 0 || grpc_status != 0) {
        fail(c, status != 0 ? status : LC_EPROTO);
        return;
    }
    if (lc_payload_decode(msg, len, &p) != 0) {
        fail(c, LC_EPROTO);
        return;
    }
    rv = lc_payload_json(&p, &body);
    id = rv == 0 ? json_string_value(json_object_get(body, "connectionId"))
                 : NULL;
    if (id == NULL || strcmp(p.type, "ServerCheckResponse") != 0) {
        json_decref(body);
        lc_payload_free(&p);
        fail(c, LC_EPROTO);
        return;
    }
    lc_strlcpy(c->id, id, sizeof c->id);
    json_decref(body);
    lc_payload_free(&p);

    if (lc_grpc_client_stream(c->grpc, STREAM_PATH, &scbs, &c->stream) != 0) {
        c->stream = NULL;
        fail(c, LC_ECONN);
        return;
    }
    labels = json_pack("{s:s, s:s}", "source", "sdk", "module", "naming");
    if (labels != NULL && c->cbs.labels != NULL) {
        c->cbs.labels(c, labels, c->cbs.data);
    }
    setup =
        labels != NULL && json_is_object(labels)
            ? json_pack("{s:s, s:s, s:O, s:{}, s:s, s:{}}", "clientVersion",
                        "Nacos-Java-Client:v2.4.3", "tenant", "", "labels",
                        labels, "abilityTable", "module", "internal", "headers")
            : NULL;
    json_decref(labels);
    rv = setup != NULL ? send_payload(c, "ConnectionSetupRequest", setup)
                       : LC_ENOMEM;
    json_decref(setup);
    if (rv != 0) {
        fail(c, rv);
    }
}

static void on_connected(struct lc_grpc_client *cl, int status, void *data)
{
    struct lc_nclient *c = data;
    json_t *req;
    uint8_t *buf = NULL;
    size_t len;
    int rv;
    (void)cl;
    if (status != 0) {
        fail(c, status);
        return;
    }
    req = json_pack("{s:{}, s:s}", "headers", "module", "internal");
    rv = req != NULL
             ? lc_payload_encode("ServerCheckRequest", req, NULL, &buf, &len)
             : LC_ENOMEM;
    json_decref(req);
    if (rv == 0) {
        c->check.data = c;
        rv = lc_grpc_client_unary(c->grpc, &c->check, REQUEST_PATH, buf, len,
                                  CHECK_TIMEOUT_MS, on_check);
    }
    free(buf);
    if (rv != 0) {
        fail(c, rv);
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    struct lc_nclient *c = h->data;
    json_decref(c->headers);
    free(c);
}

static void on_closed(struct lc_grpc_client *cl, void *data)
{
    struct lc_nclient *c = data;
    (void)cl;
    if (!c->ready && !c->failed) {
        c->failed = true;
        if (c->cbs.ready != NULL) {
            c->cbs.ready(c, LC_ECONN, c->cbs.data);
        }
    }
    if (c->cbs.closed != NULL) {
        c->cbs.closed(c, c->cbs.data);
    }
    uv_close((uv_handle_t *)&c->setup_timer, on_timer_closed);
}

static void on_setup_timeout(uv_timer_t *t)
{
    struct lc_nclient *c = t->data;
    fail(c, LC_ETIMEDOUT);
}

int lc_nclient_new(uv_loop_t *loop, const char *host, int port,
                   const struct lc_nclient_cbs *cbs, struct lc_nclient **out)
{
    return lc_nclient_new_limited(loop, host, port, 0, 0, cbs, out);
}

int lc_nclient_new_limited(uv_loop_t *loop, const char *host, int port,
                           size_t max_inbound, unsigned setup_timeout_ms,
                           const struct lc_nclient_cbs *cbs,
                           struct lc_nclient **out)
{
    struct lc_grpc_client_cbs gcbs = {.connected = on_connected,
                                      .closed = on_closed};
    struct lc_nclient *c = calloc(1, sizeof *c);
    int rv;
    if (c == NULL) {
        return LC_ENOMEM;
    }
    c->cbs = *cbs;
    gcbs.data = c;
    rv = lc_grpc_client_new(loop, host, port, max_inbound, &gcbs, &c->grpc);
    if (rv != 0) {
        free(c);
        return rv;
    }
    uv_timer_init(loop, &c->setup_timer);
    c->setup_timer.data = c;
    if (setup_timeout_ms > 0) {
        uv_timer_start(&c->setup_timer, on_setup_timeout, setup_timeout_ms, 0);
    }
    *out = c;
    return 0;
}

const char *lc_nclient_id(const struct lc_nclient *c)
{
    return c->id;
}

struct lc_grpc_client *lc_nclient_grpc(struct lc_nclient *c)
{
    return c->grpc;
}

void lc_nclient_close(struct lc_nclient *c)
{
    if (c->closing) {
        return;
    }
    c->closing = true;
    lc_grpc_client_close(c->grpc);
}

/* Whether a response's text says resultCode 200 in its first bytes (the
 * server writes Response's fields first). */
static bool lazy_ok(const struct lc_payload *p)
{
    static const char ok[] = "\"resultCode\":200,";
    size_t n = p->body_len < 64 ? p->body_len : 64;
    return memmem(p->body, n, ok, sizeof ok - 1) != NULL;
}

static void on_reply(struct lc_grpc_ccall *call, int status, int grpc_status,
                     const char *message, const uint8_t *msg, size_t len)
{
    struct pending *pd = call->data;
    struct lc_nreq *r = pd->r;
    struct lc_payload p;
    json_t *body = NULL;
    (void)message;
    free(pd);
    if (status != 0 || grpc_status != 0) {
        r->cb(r, status != 0 ? status : LC_EPROTO, NULL, NULL);
        return;
    }
    if (lc_payload_decode(msg, len, &p) != 0) {
        r->cb(r, LC_EPROTO, NULL, NULL);
        return;
    }
    if (r->lazy && lazy_ok(&p)) {
        body = json_pack("{s:i}", "resultCode", 200);
    } else if (lc_payload_json(&p, &body) != 0) {
        lc_payload_free(&p);
        r->cb(r, LC_EPROTO, NULL, NULL);
        return;
    }
    r->cb(r, 0, p.type, body);
    json_decref(body);
    lc_payload_free(&p);
}

/* Send the encoded Payload @buf as a unary call for @r. */
static int send_request(struct lc_nclient *c, struct lc_nreq *r, uint8_t *buf,
                        size_t len, unsigned timeout_ms, lc_nreq_cb cb)
{
    struct pending *pd = malloc(sizeof *pd);
    int rv;
    if (pd == NULL) {
        return LC_ENOMEM;
    }
    pd->r = r;
    pd->call.data = pd;
    r->cb = cb;
    rv = lc_grpc_client_unary(c->grpc, &pd->call, REQUEST_PATH, buf, len,
                              timeout_ms, on_reply);
    if (rv != 0) {
        free(pd);
    }
    return rv;
}

int lc_nclient_request(struct lc_nclient *c, struct lc_nreq *r,
                       const char *type, json_t *body, unsigned timeout_ms,
                       lc_nreq_cb cb)
{
    uint8_t *buf;
    size_t len;
    int rv;
    if (c->closing) {
        return LC_ECONN;
    }
    if (json_object_get(body, "headers") == NULL) {
        json_object_set_new(body, "headers", json_object());
    }
    if (json_object_get(body, "module") == NULL) {
        json_object_set_new(body, "module", json_string("naming"));
    }
    rv = lc_payload_encode(type, body, c->headers, &buf, &len);
    if (rv != 0) {
        return rv;
    }
    rv = send_request(c, r, buf, len, timeout_ms, cb);
    free(buf);
    return rv;
}

int lc_nclient_request_text(struct lc_nclient *c, struct lc_nreq *r,
                            const char *type, const char *text, size_t len,
                            unsigned timeout_ms, lc_nreq_cb cb)
{
    uint8_t *buf;
    size_t n;
    int rv;
    if (c->closing) {
        return LC_ECONN;
    }
    rv = lc_payload_encode_text(type, text, len, c->headers, &buf, &n);
    if (rv != 0) {
        return rv;
    }
    rv = send_request(c, r, buf, n, timeout_ms, cb);
    free(buf);
    return rv;
}

int lc_nclient_set_headers(struct lc_nclient *c, const json_t *headers)
{
    json_t *copy = NULL;
    if (headers != NULL) {
        copy = json_deep_copy(headers);
        if (copy == NULL) {
            return LC_ENOMEM;
        }
    }
    json_decref(c->headers);
    c->headers = copy;
    return 0;
}

json_t *lc_nclient_instance(const char *ip, int port, bool ephemeral)
{
    return json_pack("{s:s, s:i, s:f, s:b, s:b, s:b, s:s, s:{}}", "ip", ip,
                     "port", port, "weight", 1.0, "healthy", 1, "enabled", 1,
                     "ephemeral", ephemeral, "clusterName", "DEFAULT",
                     "metadata");
}

bool lc_nclient_ok(int status, const json_t *body)
{
    return status == 0 &&
           json_integer_value(json_object_get(body, "resultCode")) == 200;
}
