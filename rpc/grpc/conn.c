/* Connections (Nacos's ConnectionManager, GrpcBiStreamRequestAcceptor and
 * NacosRuntimeConnectionEjector): ids, the bi-stream's ConnectionSetup and
 * SetupAck, server-to-client requests and their responses, liveness
 * probes, ConnectReset, observers.
 *
 * Happy path: a session opens (conn_open: the id is assigned), the client
 * sends ServerCheckRequest (rpc.c answers with the id), opens the
 * bi-stream and sends ConnectionSetupRequest: the connection is registered
 * and, when the setup carried an abilityTable, SetupAckRequest is pushed.
 * From then on unary requests reach their handlers, and pushes go out on
 * the bi-stream with requestIds from a counter; the client's responses,
 * matched by requestId, complete them.
 *
 * Failure modes. A registered connection closes when its session goes
 * away, its bi-stream ends, a liveness probe fails, a reset completes, or
 * lc_rpc_conn_close: it is unregistered at once, the observers run once
 * (the connection still readable), and every pending push fails with
 * LC_ECONN from the loop. A push the transport cannot queue (its session's
 * unsent output over max_conn_outbuf) fails with LC_EBUSY, from the loop.
 * A connection has at most LC_RPC_MAX_PENDING pushes in flight. A session
 * that never registers is closed once idle for idle_probe_ms +
 * probe_timeout_ms, so idle sockets do not hold memory forever. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "rpc/grpc/rpc_internal.h"

#define LOG "grpc"

static char *dup_str(const char *s)
{
    return strdup(s != NULL ? s : "");
}

/* ------------------------------------------------------------- lifetime */

static void conn_free(struct lc_rpc_conn *c)
{
    struct lc_rpc *r = c->rpc;

    free(c->version);
    free(c->tenant);
    free(c->client_ip);
    json_decref(c->labels);
    free(c);
    r->nlive--;
    lc__rpc_maybe_destroy(r);
}

void lc__rpc_conn_unref(struct lc_rpc_conn *c)
{
    assert(c->refs > 0);
    if (--c->refs == 0) {
        conn_free(c);
    }
}

void lc__rpc_on_conn_open(struct lc_grpc_conn *gc, void *data)
{
    struct lc_rpc *r = data;
    struct lc_rpc_conn *c = calloc(1, sizeof *c);

    if (c == NULL) {
        goto err;
    }
    c->version = dup_str("");
    c->tenant = dup_str("");
    c->client_ip = dup_str("");
    c->labels = json_object();
    if (c->version == NULL || c->tenant == NULL || c->client_ip == NULL ||
        c->labels == NULL) {
        goto err_after_alloc;
    }
    c->rpc = r;
    c->gc = gc;
    lc_strlcpy(c->ip, lc_grpc_conn_remote_ip(gc), sizeof c->ip);
    c->port = lc_grpc_conn_remote_port(gc);
    c->created_ms = lc_now_ms();
    c->active_ms = uv_now(r->loop);
    snprintf(c->id, sizeof c->id, "%" PRIu64 "_%s_%d", c->created_ms, c->ip,
             c->port);
    c->refs = 1; /* the session's, dropped in conn_close */
    c->next = r->sessions;
    if (r->sessions != NULL) {
        r->sessions->prev = c;
    }
    r->sessions = c;
    r->nsessions++;
    r->nlive++;
    lc_grpc_conn_set_data(gc, c);
    return;

err_after_alloc:
    free(c->version);
    free(c->tenant);
    free(c->client_ip);
    json_decref(c->labels);
    free(c);
err:
    lc_warnf(LOG, "out of memory for a session from %s:%d",
             lc_grpc_conn_remote_ip(gc), lc_grpc_conn_remote_port(gc));
    lc_grpc_conn_close(gc);
}

/* ------------------------------------------------------------- pending */

static void on_pending_closed(uv_handle_t *h)
{
    struct lc_rpc_pending *pd = h->data;
    struct lc_rpc_conn *c = pd->conn;
    free(pd);
    lc__rpc_conn_unref(c);
}

static void pending_unlink(struct lc_rpc_pending *pd)
{
    struct lc_rpc_conn *c = pd->conn;

    if (!pd->linked) {
        return;
    }
    pd->linked = false;
    HASH_DEL(c->rpc->pending, pd);
    if (pd->prev != NULL) {
        pd->prev->next = pd->next;
    } else {
        c->pending = pd->next;
    }
    if (pd->next != NULL) {
        pd->next->prev = pd->prev;
    }
    c->npending--;
}

/* Finish @pd: unlink it, close its timer, then tell its push (if not
 * canceled) @err (0: the response @type/@body). */
static void pending_complete(struct lc_rpc_pending *pd, int err,
                             const char *type, json_t *body)
{
    struct lc_rpc_push *p = pd->push;
    struct lc_err e;

    pending_unlink(pd);
    pd->push = NULL;
    uv_close((uv_handle_t *)&pd->timer, on_pending_closed);
    if (p == NULL) {
        return;
    }
    p->priv[0] = NULL;
    if (err != 0) {
        memset(&e, 0, sizeof e);
        e.code = err;
        lc_strlcpy(e.msg, lc_strerror(err), sizeof e.msg);
        p->cb(p, &e, NULL, NULL);
    } else {
        p->cb(p, NULL, type, body);
    }
}

static void on_pending_timer(uv_timer_t *t)
{
    struct lc_rpc_pending *pd = t->data;
    pending_complete(pd, pd->err != 0 ? pd->err : LC_ETIMEDOUT, NULL, NULL);
}

/* Fail @pd with @err from the loop (never from the caller's stack). */
static void pending_fail_later(struct lc_rpc_pending *pd, int err)
{
    if (pd->err == 0) {
        pd->err = err;
    }
    uv_timer_start(&pd->timer, on_pending_timer, 0, 0);
}

static void fail_all_pending(struct lc_rpc_conn *c)
{
    for (struct lc_rpc_pending *pd = c->pending; pd != NULL; pd = pd->next) {
        pending_fail_later(pd, LC_ECONN);
    }
}

struct lc_rpc_body {
    char *type;
    char *text; /* the JSON object without requestId: "{...}" */
    size_t len;
};

int lc_rpc_body_new(const char *type, const json_t *body,
                    struct lc_rpc_body **out)
{
    struct lc_rpc_body *b;
    json_t *copy;
    int rv;

    if (type == NULL || (body != NULL && !json_is_object(body))) {
        return LC_EINVAL;
    }
    b = calloc(1, sizeof *b);
    copy = body != NULL ? json_copy((json_t *)body) : json_object();
    if (b == NULL || copy == NULL || (b->type = strdup(type)) == NULL) {
        rv = LC_ENOMEM;
        goto err;
    }
    json_object_del(copy, "requestId");
    rv = lc_payload_text(copy, &b->text);
    if (rv != 0) {
        goto err;
    }
    b->len = strlen(b->text);
    json_decref(copy);
    *out = b;
    return 0;

err:
    json_decref(copy);
    lc_rpc_body_free(b);
    return rv;
}

void lc_rpc_body_free(struct lc_rpc_body *b)
{
    if (b != NULL) {
        free(b->type);
        free(b->text);
        free(b);
    }
}

/* @b's Payload with requestId @id spliced in front of its members. */
static int body_encode(const struct lc_rpc_body *b, uint64_t id, uint8_t **out,
                       size_t *len)
{
    char head[48];
    int n = snprintf(head, sizeof head, "{\"requestId\":\"%" PRIu64 "\"%s", id,
                     b->len > 2 ? "," : "");
    size_t total = (size_t)n + b->len - 1;
    char *text = malloc(total);
    int rv;

    if (text == NULL) {
        return LC_ENOMEM;
    }
    memcpy(text, head, (size_t)n);
    memcpy(text + n, b->text + 1, b->len - 1);
    rv = lc_payload_encode_text(b->type, text, total, NULL, out, len);
    free(text);
    return rv;
}

/* Start a push. With @defer_all, failures to start (too many pending) are
 * reported through @cb from the loop as well, and only LC_ENOMEM is
 * returned. */
static int request_start(struct lc_rpc_conn *c, struct lc_rpc_push *p,
                         const struct lc_rpc_body *b, unsigned timeout_ms,
                         lc_rpc_push_cb cb, bool defer_all)
{
    struct lc_rpc *r = c->rpc;
    struct lc_rpc_pending *pd;
    uint8_t *buf = NULL;
    size_t len = 0;
    int err = 0;
    int rv;

    if (cb == NULL) {
        return LC_EINVAL;
    }
    if (c->npending >= LC_RPC_MAX_PENDING) {
        if (!defer_all) {
            return LC_EBUSY;
        }
        err = LC_EBUSY;
    }
    pd = calloc(1, sizeof *pd);
    if (pd == NULL) {
        return LC_ENOMEM;
    }
    pd->id = ++r->next_id;
    if (err == 0 && !c->closed && c->stream != NULL) {
        if (body_encode(b, pd->id, &buf, &len) != 0) {
            free(pd);
            return LC_ENOMEM;
        }
    } else if (err == 0) {
        err = LC_ECONN;
    }

    uv_timer_init(r->loop, &pd->timer);
    pd->timer.data = pd;
    pd->push = p;
    pd->conn = c;
    c->refs++;
    pd->linked = true;
    HASH_ADD(hh, r->pending, id, sizeof pd->id, pd);
    pd->next = c->pending;
    if (c->pending != NULL) {
        c->pending->prev = pd;
    }
    c->pending = pd;
    c->npending++;
    p->cb = cb;
    p->priv[0] = pd;

    if (err == 0) {
        rv = lc_grpc_stream_send(c->stream, buf, len);
        free(buf);
        if (rv != 0) {
            err = rv == LC_EBUSY ? LC_EBUSY : LC_ECONN;
        }
    }
    if (err != 0) {
        pending_fail_later(pd, err);
    } else {
        uv_timer_start(&pd->timer, on_pending_timer,
                       timeout_ms > 0 ? timeout_ms : r->cfg.push_timeout_ms, 0);
    }
    return 0;
}

int lc_rpc_conn_request(struct lc_rpc_conn *c, struct lc_rpc_push *p,
                        const char *type, json_t *body, unsigned timeout_ms,
                        lc_rpc_push_cb cb)
{
    struct lc_rpc_body *b;
    int rv = lc_rpc_body_new(type, body, &b);
    if (rv == 0) {
        rv = request_start(c, p, b, timeout_ms, cb, false);
        lc_rpc_body_free(b);
    }
    return rv;
}

int lc_rpc_conn_request_body(struct lc_rpc_conn *c, struct lc_rpc_push *p,
                             const struct lc_rpc_body *b, unsigned timeout_ms,
                             lc_rpc_push_cb cb)
{
    return request_start(c, p, b, timeout_ms, cb, false);
}

void lc_rpc_push_cancel(struct lc_rpc_push *p)
{
    struct lc_rpc_pending *pd = p->priv[0];

    if (pd == NULL) {
        return;
    }
    p->priv[0] = NULL;
    pd->push = NULL;
    pending_unlink(pd);
    uv_close((uv_handle_t *)&pd->timer, on_pending_closed);
}

/* ------------------------------------------------------------- closing */

/* Take @c out of the registered table and run the observers, once. */
static void conn_unregister(struct lc_rpc_conn *c)
{
    struct lc_rpc *r = c->rpc;
    struct lc_rpc_conn_observer *obs;
    struct lc_rpc_conn_observer *next;

    if (!c->registered) {
        return;
    }
    HASH_DEL(r->conns, c);
    r->nconns--;
    if (c->sdk) {
        r->nsdk--;
    }
    lc_debugf(LOG, "[%s] connection unregistered", c->id);
    c->refs++; /* an observer may drop the last request reference */
    for (obs = r->observers; obs != NULL; obs = next) {
        next = obs->next;
        obs->closed(obs, c);
    }
    c->registered = false;
    lc__rpc_conn_unref(c);
}

/* Unregister @c, fail its pushes from the loop, close its session. */
static void conn_shut(struct lc_rpc_conn *c)
{
    if (c->closed) {
        return;
    }
    c->closed = true;
    c->refs++;
    conn_unregister(c);
    fail_all_pending(c);
    if (c->gc != NULL) {
        lc_grpc_conn_close(c->gc);
    }
    lc__rpc_conn_unref(c);
}

void lc_rpc_conn_close(struct lc_rpc_conn *c)
{
    conn_shut(c);
}

void lc__rpc_on_conn_close(struct lc_grpc_conn *gc, void *data)
{
    struct lc_rpc *r = data;
    struct lc_rpc_conn *c = lc_grpc_conn_data(gc);

    if (c == NULL) {
        return;
    }
    lc_grpc_conn_set_data(gc, NULL);
    c->gc = NULL; /* gone: conn_shut must not close it */
    c->stream = NULL;
    conn_shut(c);
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        r->sessions = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    r->nsessions--;
    lc__rpc_conn_unref(c); /* the session's */
}

/* ------------------------------------------------------------- streams */

void lc__rpc_on_stream_close(struct lc_grpc_stream *s, void *data)
{
    struct lc_rpc_conn *c = lc_grpc_conn_data(lc_grpc_stream_conn(s));

    (void)data;
    if (c == NULL || c->stream != s) {
        return;
    }
    /* The setup's stream is how pushes reach the client: without it the
     * connection is of no use (Nacos keeps it until the probe fails). */
    c->stream = NULL;
    conn_shut(c);
}

static const char *json_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL ? s : "";
}

static void send_setup_ack(struct lc_rpc_conn *c)
{
    json_t *body = json_pack("{s:{s:b}, s:s, s:{}}", "abilityTable",
                             "supportPersistentInstanceByGrpc", 1, "module",
                             "internal", "headers");
    uint8_t *buf;
    size_t len;
    int rv = LC_ENOMEM;

    if (body != NULL &&
        lc_payload_encode("SetupAckRequest", body, NULL, &buf, &len) == 0) {
        rv = lc_grpc_stream_send(c->stream, buf, len);
        free(buf);
    }
    json_decref(body);
    if (rv != 0) {
        lc_warnf(LOG, "[%s] SetupAckRequest not sent: %s", c->id,
                 lc_strerror(rv));
    }
}

/* ConnectionSetupRequest on @s: register @c (or refuse it). */
static void on_setup(struct lc_rpc_conn *c, struct lc_grpc_stream *s,
                     const struct lc_payload *p, json_t *body)
{
    struct lc_rpc *r = c->rpc;
    json_t *labels = json_object_get(body, "labels");
    json_t *ability = json_object_get(body, "abilityTable");
    json_t *copy;
    char *version;
    char *tenant;
    char *client_ip;
    const char *key;
    json_t *v;
    bool sdk;

    if (c->registered || c->closed) {
        lc_debugf(LOG, "[%s] setup again: ignored", c->id);
        return;
    }
    copy = json_object();
    if (copy == NULL) {
        return;
    }
    if (json_is_object(labels)) {
        json_object_foreach(labels, key, v)
        {
            if (json_is_string(v)) {
                json_object_set(copy, key, v);
            }
        }
    }
    sdk = strcmp(json_str(copy, "source"), "sdk") == 0;
    if (sdk && !r->started) {
        lc_warnf(LOG,
                 "[%s] connection register fail, reason: server is "
                 "not started",
                 c->id);
        goto refuse;
    }
    if (sdk && r->cfg.max_sdk_connections > 0 &&
        r->nsdk >= r->cfg.max_sdk_connections) {
        lc_warnf(LOG,
                 "[%s] connection register fail, reason: over %u sdk "
                 "connections",
                 c->id, r->cfg.max_sdk_connections);
        goto refuse;
    }
    if (r->cfg.admit != NULL && !r->cfg.admit(c, copy, r->cfg.admit_data)) {
        lc_warnf(LOG, "[%s] connection register fail, reason: refused (%s)",
                 c->id, json_str(copy, "source"));
        goto refuse;
    }
    version = dup_str(json_str(body, "clientVersion"));
    tenant = dup_str(json_str(body, "tenant"));
    client_ip = dup_str(p->client_ip);
    if (version == NULL || tenant == NULL || client_ip == NULL) {
        free(version);
        free(tenant);
        free(client_ip);
        json_decref(copy);
        conn_shut(c);
        return;
    }
    free(c->version);
    free(c->tenant);
    free(c->client_ip);
    json_decref(c->labels);
    c->version = version;
    c->tenant = tenant;
    c->client_ip = client_ip;
    c->labels = copy;
    c->sdk = sdk;
    c->stream = s;
    c->registered = true;
    HASH_ADD_STR(r->conns, id, c);
    r->nconns++;
    if (sdk) {
        r->nsdk++;
    }
    lc_debugf(LOG, "[%s] connection registered (%s, %s)", c->id,
              c->version[0] != '\0' ? c->version : "-",
              sdk ? "sdk" : json_str(copy, "source"));
    if (ability != NULL && !json_is_null(ability)) {
        send_setup_ack(c);
    }
    return;

refuse:
    json_decref(copy);
    r->refused++;
    conn_shut(c);
}

/* A response on the stream: complete its pending push. */
static void on_response(struct lc_rpc_conn *c, const struct lc_payload *p,
                        json_t *body)
{
    const char *rid = json_string_value(json_object_get(body, "requestId"));
    struct lc_rpc_pending *pd;
    uint64_t id;
    char *end;

    if (rid == NULL || rid[0] < '0' || rid[0] > '9') {
        return;
    }
    errno = 0;
    id = strtoull(rid, &end, 10);
    if (errno != 0 || *end != '\0') {
        return;
    }
    HASH_FIND(hh, c->rpc->pending, &id, sizeof id, pd);
    if (pd == NULL || pd->conn != c) {
        lc_debugf(LOG, "[%s] response to no request (%s)", c->id, rid);
        return;
    }
    pending_complete(pd, 0, p->type, body);
}

void lc__rpc_on_stream_msg(struct lc_grpc_stream *s, const uint8_t *msg,
                           size_t len, void *data)
{
    struct lc_rpc *r = data;
    struct lc_rpc_conn *c = lc_grpc_conn_data(lc_grpc_stream_conn(s));
    struct lc_payload p;
    json_t *body;
    size_t tlen;

    if (c == NULL || c->closed) {
        return;
    }
    c->active_ms = uv_now(r->loop);
    if (lc_payload_decode(msg, len, &p) != 0) {
        lc_debugf(LOG, "[%s] bi-stream: not a Payload", c->id);
        return;
    }
    if (lc_payload_json(&p, &body) != 0) {
        lc_debugf(LOG, "[%s] bi-stream: %s body not a JSON object", c->id,
                  p.type);
        lc_payload_free(&p);
        return;
    }
    tlen = strlen(p.type);
    if (strcmp(p.type, "ConnectionSetupRequest") == 0) {
        on_setup(c, s, &p, body);
    } else if (tlen > 8 && strcmp(p.type + tlen - 8, "Response") == 0) {
        on_response(c, &p, body);
    } else {
        lc_debugf(LOG, "[%s] bi-stream: unexpected %s", c->id, p.type);
    }
    json_decref(body);
    lc_payload_free(&p);
}

/* ------------------------------------------------------------- probes */

struct internal_push {
    struct lc_rpc_push push;
    struct lc_rpc_conn *conn; /* kept alive by the pending request */
};

static bool response_ok(const json_t *body)
{
    json_t *rc = json_object_get(body, "resultCode");
    json_t *ok = json_object_get(body, "success");
    if (json_is_integer(rc)) {
        return json_integer_value(rc) == 200;
    }
    return json_is_true(ok);
}

static void on_probe(struct lc_rpc_push *p, const struct lc_err *e,
                     const char *type, json_t *body)
{
    struct internal_push *ip = (struct internal_push *)p;
    struct lc_rpc_conn *c = ip->conn;

    (void)type;
    free(ip);
    c->probing = false;
    if (e == NULL && response_ok(body)) {
        c->active_ms = uv_now(c->rpc->loop);
        return;
    }
    if (!c->closed) {
        lc_infof(LOG, "[%s] client detection failed (%s): closing", c->id,
                 e != NULL ? lc_strerror(e->code) : "not a success");
        c->rpc->probes_failed++;
        conn_shut(c);
    }
}

static int internal_request(struct lc_rpc_conn *c, const char *type,
                            json_t *body, unsigned timeout_ms,
                            lc_rpc_push_cb cb)
{
    struct internal_push *ip = calloc(1, sizeof *ip);
    struct lc_rpc_body *b;
    int rv;

    if (ip == NULL) {
        return LC_ENOMEM;
    }
    ip->conn = c;
    rv = lc_rpc_body_new(type, body, &b);
    if (rv == 0) {
        rv = request_start(c, &ip->push, b, timeout_ms, cb, true);
        lc_rpc_body_free(b);
    }
    if (rv != 0) {
        free(ip);
    }
    return rv;
}

static void probe(struct lc_rpc_conn *c)
{
    json_t *body = json_pack("{s:s, s:{}}", "module", "internal", "headers");

    if (body != NULL &&
        internal_request(c, "ClientDetectionRequest", body,
                         c->rpc->cfg.probe_timeout_ms, on_probe) == 0) {
        c->probing = true;
    }
    json_decref(body);
}

void lc__rpc_eject(struct lc_rpc *r)
{
    uint64_t now = uv_now(r->loop);
    uint64_t idle = r->cfg.idle_probe_ms;
    uint64_t never = idle + r->cfg.probe_timeout_ms;
    struct lc_rpc_conn *c;
    struct lc_rpc_conn *tmp;

    if (r->closing) {
        return;
    }
    /* Probing changes no table: failures come back from the loop. */
    HASH_ITER(hh, r->conns, c, tmp)
    {
        if (!c->probing && now - c->active_ms >= idle) {
            probe(c);
        }
    }
    /* Sessions that never registered: nothing to observe, just close. */
    for (c = r->sessions; c != NULL; c = c->next) {
        if (!c->registered && !c->closed && now - c->active_ms >= never) {
            lc_debugf(LOG, "[%s] never set up: closing", c->id);
            conn_shut(c);
        }
    }
}

/* ------------------------------------------------------------- reset */

static void on_reset(struct lc_rpc_push *p, const struct lc_err *e,
                     const char *type, json_t *body)
{
    struct internal_push *ip = (struct internal_push *)p;
    struct lc_rpc_conn *c = ip->conn;

    (void)e;
    (void)type;
    (void)body;
    free(ip);
    conn_shut(c);
}

int lc_rpc_conn_reset(struct lc_rpc_conn *c, const char *server_ip,
                      const char *server_port)
{
    json_t *body = json_pack("{s:s, s:{}}", "module", "internal", "headers");
    int rv = LC_ENOMEM;

    if (body == NULL) {
        return LC_ENOMEM;
    }
    if (server_ip != NULL &&
        json_object_set_new(body, "serverIp", json_string(server_ip)) != 0) {
        goto out;
    }
    if (server_port != NULL &&
        json_object_set_new(body, "serverPort", json_string(server_port)) !=
            0) {
        goto out;
    }
    if ((server_ip != NULL || server_port != NULL) &&
        json_object_set_new(body, "connectionId", json_string(c->id)) != 0) {
        goto out;
    }
    rv = internal_request(c, "ConnectResetRequest", body, 3000, on_reset);
out:
    json_decref(body);
    return rv;
}

/* ------------------------------------------------------------- readers */

const char *lc_rpc_conn_id(const struct lc_rpc_conn *c)
{
    return c->id;
}

const char *lc_rpc_conn_ip(const struct lc_rpc_conn *c)
{
    return c->ip;
}

int lc_rpc_conn_port(const struct lc_rpc_conn *c)
{
    return c->port;
}

const char *lc_rpc_conn_version(const struct lc_rpc_conn *c)
{
    return c->version;
}

const char *lc_rpc_conn_tenant(const struct lc_rpc_conn *c)
{
    return c->tenant;
}

json_t *lc_rpc_conn_labels(const struct lc_rpc_conn *c)
{
    return c->labels;
}

bool lc_rpc_conn_registered(const struct lc_rpc_conn *c)
{
    return c->registered;
}

bool lc_rpc_conn_sdk(const struct lc_rpc_conn *c)
{
    return c->sdk;
}

uint64_t lc_rpc_conn_created_ms(const struct lc_rpc_conn *c)
{
    return c->created_ms;
}

uint64_t lc_rpc_conn_active_ms(const struct lc_rpc_conn *c)
{
    return c->active_ms;
}

struct lc_rpc_conn *lc_rpc_conn_find(struct lc_rpc *r, const char *id)
{
    struct lc_rpc_conn *c;
    HASH_FIND_STR(r->conns, id, c);
    return c;
}

void lc_rpc_conn_each(struct lc_rpc *r,
                      void (*cb)(struct lc_rpc_conn *c, void *data), void *data)
{
    struct lc_rpc_conn *c;
    struct lc_rpc_conn *tmp;
    HASH_ITER(hh, r->conns, c, tmp)
    {
        cb(c, data);
    }
}

unsigned lc_rpc_conn_count(const struct lc_rpc *r, bool sdk_only)
{
    return sdk_only ? r->nsdk : r->nconns;
}
