/* The request layer's server: handler registry, unary dispatch in Nacos's
 * order (GrpcRequestAcceptor, BaseGrpcServer#handleCommonRequest), replies,
 * stats and close. Connections, the bi-stream and pushes are conn.c's.
 *
 * A unary call is answered exactly once: at once for the layer's own
 * answers (ErrorResponse, ServerCheckResponse, HealthCheckResponse), or by
 * the handler, now or later, through lc_rpc_reply*. A request keeps its
 * connection alive (a reference) until replied; when the session went away
 * meanwhile, the transport drops the reply.
 *
 * lc_rpc_close closes the transport server (GOAWAY, every session's
 * conn_close, where conn.c unregisters and runs the observers) and the
 * ejector timer; the server is freed once both are closed and no
 * connection is referenced any more (every request replied, every pending
 * push's timer closed). */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "rpc/grpc/rpc_internal.h"

#define LOG "grpc"

/* NacosException codes of ErrorResponse (protocol.md §4). */
#define NACOS_SERVER_STARTING 300
#define NACOS_UN_REGISTER 301
#define NACOS_NO_HANDLER 302
#define NACOS_BAD_GATEWAY 502
#define NACOS_FAIL 500

void lc_rpc_config_default(struct lc_rpc_config *cfg, enum lc_rpc_source source)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->source = source;
    lc_grpc_limits_default(&cfg->limits);
    cfg->max_sdk_connections = 0;
    cfg->ejector_interval_ms = 3000;
    cfg->idle_probe_ms = 20000;
    cfg->probe_timeout_ms = 5000;
    cfg->push_timeout_ms = 3000;
}

static const char *source_name(enum lc_rpc_source s)
{
    return s == LC_RPC_CLUSTER ? "cluster" : "sdk";
}

/* ------------------------------------------------------------- replies */

/* Answer @call with a Payload of @type and @body (borrowed). */
static void call_reply(struct lc_grpc_call *call, const char *type,
                       const json_t *body)
{
    uint8_t *buf;
    size_t len;

    if (lc_payload_encode(type, body, NULL, &buf, &len) != 0) {
        lc_grpc_call_fail(call, LC_GRPC_INTERNAL, "out of memory");
        return;
    }
    lc_grpc_call_reply(call, buf, len);
    free(buf);
}

/* Answer @call with a Response of @type that failed: resultCode 500 (as
 * Response#setErrorInfo), @error_code, @msg. */
static void call_reply_error(struct lc_grpc_call *call, const char *type,
                             int error_code, const char *msg)
{
    json_t *body =
        json_pack("{s:i, s:i, s:s, s:b}", "resultCode", NACOS_FAIL, "errorCode",
                  error_code, "message", msg != NULL ? msg : "", "success", 0);
    if (body == NULL) {
        /* msg not UTF-8, or no memory */
        body = json_pack("{s:i, s:i, s:b}", "resultCode", NACOS_FAIL,
                         "errorCode", error_code, "success", 0);
    }
    if (body == NULL) {
        lc_grpc_call_fail(call, LC_GRPC_INTERNAL, "out of memory");
        return;
    }
    call_reply(call, type != NULL ? type : "ErrorResponse", body);
    json_decref(body);
}

static void req_free(struct lc_rpc_req *req)
{
    struct lc_rpc_conn *c = req->conn;
    lc_payload_free(&req->payload);
    json_decref(req->body);
    free(req);
    lc__rpc_conn_unref(c);
}

void lc_rpc_reply(struct lc_rpc_req *req, const char *type, json_t *body)
{
    json_t *out = body != NULL ? json_copy(body) : json_object();

    if (out == NULL || !json_is_object(out)) {
        json_decref(out);
        lc_grpc_call_fail(req->call, LC_GRPC_INTERNAL, "bad response");
        req_free(req);
        return;
    }
    if (json_object_get(out, "resultCode") == NULL) {
        json_object_set_new(out, "resultCode", json_integer(200));
    }
    if (json_object_get(out, "errorCode") == NULL) {
        json_object_set_new(out, "errorCode", json_integer(0));
    }
    if (json_object_get(out, "success") == NULL) {
        json_object_set_new(out, "success", json_true());
    }
    call_reply(req->call, type, out);
    json_decref(out);
    req_free(req);
}

void lc_rpc_reply_text(struct lc_rpc_req *req, const char *type,
                       const char *json, size_t len)
{
    uint8_t *buf;
    size_t n;

    if (lc_payload_encode_text(type, json, len, NULL, &buf, &n) != 0) {
        lc_grpc_call_fail(req->call, LC_GRPC_INTERNAL, "out of memory");
    } else {
        lc_grpc_call_reply(req->call, buf, n);
        free(buf);
    }
    req_free(req);
}

void lc_rpc_reply_error(struct lc_rpc_req *req, const char *type,
                        const struct lc_err *e)
{
    call_reply_error(req->call, type, lc_err_grpc_code(e->code),
                     e->msg[0] != '\0' ? e->msg : lc_strerror(e->code));
    req_free(req);
}

/* ------------------------------------------------------------- requests */

const char *lc_rpc_req_type(const struct lc_rpc_req *req)
{
    return req->payload.type;
}

json_t *lc_rpc_req_body(const struct lc_rpc_req *req)
{
    return req->body;
}

json_t *lc_rpc_req_headers(const struct lc_rpc_req *req)
{
    return req->payload.headers;
}

const char *lc_rpc_req_header(const struct lc_rpc_req *req, const char *name)
{
    const char *key;
    json_t *v = json_object_get(req->payload.headers, name);

    if (v != NULL) {
        return json_string_value(v);
    }
    /* Nacos's request headers are a case-insensitive map. (The loop
     * leaves v at the last value when nothing matches: not an answer.) */
    json_object_foreach(req->payload.headers, key, v)
    {
        if (strcasecmp(key, name) == 0) {
            return json_string_value(v);
        }
    }
    return NULL;
}

struct lc_rpc_conn *lc_rpc_req_conn(const struct lc_rpc_req *req)
{
    return req->conn;
}

/* HealthCheckRequest, the layer's own handler (HealthCheckRequestHandler). */
static void on_health_check(struct lc_rpc_req *req, void *data)
{
    (void)data;
    lc_rpc_reply(req, "HealthCheckResponse", NULL);
}

static void answer_server_check(struct lc_grpc_call *call,
                                const struct lc_rpc_conn *c)
{
    json_t *body = json_pack("{s:i, s:i, s:s, s:b, s:b}", "resultCode", 200,
                             "errorCode", 0, "connectionId", c->id,
                             "supportAbilityNegotiation", 1, "success", 1);
    if (body == NULL) {
        lc_grpc_call_fail(call, LC_GRPC_INTERNAL, "out of memory");
        return;
    }
    call_reply(call, "ServerCheckResponse", body);
    json_decref(body);
}

/* The transport's unary callback: one Payload in, one out. */
static void on_unary(struct lc_grpc_call *call, const uint8_t *msg, size_t len,
                     void *data)
{
    struct lc_rpc *r = data;
    struct lc_grpc_conn *gc = lc_grpc_call_conn(call);
    struct lc_rpc_conn *c = gc != NULL ? lc_grpc_conn_data(gc) : NULL;
    struct lc_rpc_handler *h;
    struct lc_rpc_req *req;
    char text[256];
    json_t *body;

    if (c == NULL || r->closing) {
        lc_grpc_call_fail(call, LC_GRPC_UNAVAILABLE, "server closing");
        return;
    }
    c->active_ms = uv_now(r->loop);
    req = calloc(1, sizeof *req);
    if (req == NULL) {
        lc_grpc_call_fail(call, LC_GRPC_INTERNAL, "out of memory");
        return;
    }
    if (lc_payload_decode(msg, len, &req->payload) != 0) {
        free(req);
        lc_grpc_call_fail(call, LC_GRPC_INTERNAL, "invalid Payload");
        return;
    }
    r->requests++;
    HASH_FIND_STR(r->handlers, req->payload.type, h);

    if (h != NULL && (h->sources & r->cfg.source) == 0) {
        snprintf(text, sizeof text, " invoke %.200s from %s is forbidden",
                 req->payload.type, source_name(r->cfg.source));
        call_reply_error(call, NULL, NACOS_BAD_GATEWAY, text);
        goto answered;
    }
    if (!r->started) {
        call_reply_error(call, NULL, NACOS_SERVER_STARTING,
                         "Server is starting,please try later.");
        goto answered;
    }
    if (strcmp(req->payload.type, "ServerCheckRequest") == 0) {
        answer_server_check(call, c);
        goto answered;
    }
    if (h == NULL) {
        lc_debugf(LOG, "[%s] no handler for request type %.200s", c->id,
                  req->payload.type);
        call_reply_error(call, NULL, NACOS_NO_HANDLER,
                         "RequestHandler Not Found");
        goto answered;
    }
    if (!c->registered) {
        call_reply_error(call, NULL, NACOS_UN_REGISTER,
                         "Connection is unregistered.");
        goto answered;
    }
    if (lc_payload_json(&req->payload, &body) != 0) {
        call_reply_error(call, NULL, NACOS_BAD_GATEWAY, "Invalid request");
        goto answered;
    }
    req->rpc = r;
    req->conn = c;
    req->call = call;
    req->body = body;
    c->refs++;
    h->cb(req, h->data);
    return;

answered:
    lc_payload_free(&req->payload);
    free(req);
}

/* ------------------------------------------------------------- server */

static void on_ejector_tick(uv_timer_t *t)
{
    lc__rpc_eject(t->data);
}

struct lc_rpc *lc_rpc_new(uv_loop_t *loop, const struct lc_rpc_config *cfg)
{
    struct lc_grpc_server_cbs cbs;
    struct lc_rpc *r = calloc(1, sizeof *r);
    unsigned interval;

    if (r == NULL) {
        goto err;
    }
    r->loop = loop;
    r->cfg = *cfg;
    if (r->cfg.push_timeout_ms == 0) {
        r->cfg.push_timeout_ms = 3000;
    }
    memset(&cbs, 0, sizeof cbs);
    cbs.data = r;
    cbs.conn_open = lc__rpc_on_conn_open;
    cbs.conn_close = lc__rpc_on_conn_close;
    cbs.unary = on_unary;
    cbs.stream_msg = lc__rpc_on_stream_msg;
    cbs.stream_close = lc__rpc_on_stream_close;
    r->srv = lc_grpc_server_new(loop, &r->cfg.limits, &cbs);
    if (r->srv == NULL) {
        goto err_after_alloc;
    }
    if (lc_rpc_handle(r, "HealthCheckRequest", LC_RPC_SDK | LC_RPC_CLUSTER,
                      on_health_check, NULL) != 0) {
        goto err_after_srv;
    }
    uv_timer_init(loop, &r->ejector);
    r->ejector.data = r;
    interval =
        r->cfg.ejector_interval_ms > 0 ? r->cfg.ejector_interval_ms : 3000;
    uv_timer_start(&r->ejector, on_ejector_tick, interval, interval);
    /* The timer must not keep a loop alive on its own. */
    uv_unref((uv_handle_t *)&r->ejector);
    return r;

err_after_srv:
    /* Nothing listens yet: the transport closes without sessions. The
     * handlers table is freed when it calls back. */
    r->ejector_closed = true; /* never started */
    lc_rpc_close(r, NULL, NULL);
    return NULL;
err_after_alloc:
    free(r);
err:
    return NULL;
}

int lc_rpc_listen(struct lc_rpc *r, const char *host, int port)
{
    if (r->closing) {
        return LC_ESHUTDOWN;
    }
    return lc_grpc_server_listen(r->srv, host, port);
}

void lc_rpc_set_started(struct lc_rpc *r, bool started)
{
    r->started = started;
}

int lc_rpc_handle(struct lc_rpc *r, const char *type, unsigned sources,
                  lc_rpc_handler_cb cb, void *data)
{
    struct lc_rpc_handler *h;

    if (type == NULL || type[0] == '\0' || cb == NULL ||
        (sources & (LC_RPC_SDK | LC_RPC_CLUSTER)) == 0) {
        return LC_EINVAL;
    }
    HASH_FIND_STR(r->handlers, type, h);
    if (h != NULL) {
        return LC_EEXIST;
    }
    h = calloc(1, sizeof *h);
    if (h == NULL) {
        return LC_ENOMEM;
    }
    h->type = strdup(type);
    if (h->type == NULL) {
        free(h);
        return LC_ENOMEM;
    }
    h->sources = sources;
    h->cb = cb;
    h->data = data;
    HASH_ADD_KEYPTR(hh, r->handlers, h->type, strlen(h->type), h);
    return 0;
}

void lc_rpc_observe(struct lc_rpc *r, struct lc_rpc_conn_observer *obs)
{
    obs->next = r->observers;
    r->observers = obs;
}

void lc_rpc_stats(const struct lc_rpc *r, struct lc_rpc_stats *out)
{
    memset(out, 0, sizeof *out);
    out->connections = r->nconns;
    out->sdk_connections = r->nsdk;
    out->sessions = r->nsessions;
    out->refused = r->refused;
    if (r->srv != NULL) {
        out->refused += lc_grpc_server_refused(r->srv);
    }
    out->requests = r->requests;
    out->probes_failed = r->probes_failed;
}

void lc__rpc_maybe_destroy(struct lc_rpc *r)
{
    struct lc_rpc_handler *h;
    struct lc_rpc_handler *tmp;

    if (!r->closing || r->srv != NULL || !r->ejector_closed || r->nlive > 0) {
        return;
    }
    HASH_ITER(hh, r->handlers, h, tmp)
    {
        HASH_DEL(r->handlers, h);
        free(h->type);
        free(h);
    }
    if (r->close_cb != NULL) {
        r->close_cb(r, r->close_data);
    }
    free(r);
}

static void on_srv_closed(struct lc_grpc_server *srv, void *data)
{
    struct lc_rpc *r = data;
    (void)srv;
    r->srv = NULL;
    lc__rpc_maybe_destroy(r);
}

static void on_ejector_closed(uv_handle_t *h)
{
    struct lc_rpc *r = h->data;
    r->ejector_closed = true;
    lc__rpc_maybe_destroy(r);
}

void lc_rpc_close(struct lc_rpc *r, lc_rpc_close_cb cb, void *data)
{
    bool timer = !r->ejector_closed;

    if (r->closing) {
        return; /* closing already: the first call's @cb fires */
    }
    r->closing = true;
    r->close_cb = cb;
    r->close_data = data;
    if (timer) {
        uv_close((uv_handle_t *)&r->ejector, on_ejector_closed);
    }
    lc_grpc_server_close(r->srv, on_srv_closed, r);
}
