/* Tests of rpc/grpc/rpc.h, Nacos's gRPC request layer: a real lc_rpc server
 * on loopback driven by the real lc_grpc client of grpc.h. Dispatch order
 * and answers, ConnectionSetup and SetupAck, handlers answering now and
 * later, server-to-client requests (round trip, timeout, cancel, closed
 * connection, limits), the ejector's probes, ConnectReset, observers, the
 * SDK connection limit, the cluster port, and thousands of connections. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "rpc/grpc/nacos_grpc_service.pb-c.h"
#include "rpc/grpc/rpc.h"

#include "test/support/ports.h"

#define PATH_UNARY "/Request/request"
#define PATH_BI "/BiRequestStream/requestBiStream"

/* ------------------------------------------------------------- env */

struct env {
    uv_loop_t loop;
    struct lc_rpc_config cfg;
    struct lc_rpc *rpc;
    int port;
    bool rpc_closed;
    struct lc_rpc_conn_observer obs[2];
    int observed[2];
    char last_closed[96];
    bool closed_readable;    /* labels and id readable in the observer */
    struct lc_rpc_req *held; /* SlowRequest's, answered by the test */
    int held_count;
};

static void on_closed_obs(struct lc_rpc_conn_observer *obs,
                          struct lc_rpc_conn *c)
{
    struct env *e = obs->data;
    int i = obs == &e->obs[0] ? 0 : 1;
    e->observed[i]++;
    lc_strlcpy(e->last_closed, lc_rpc_conn_id(c), sizeof e->last_closed);
    e->closed_readable = lc_rpc_conn_labels(c) != NULL &&
                         lc_rpc_conn_find(e->rpc, lc_rpc_conn_id(c)) == NULL;
}

/* EchoRequest: the body back, with the x-token header and the id. */
static void h_echo(struct lc_rpc_req *req, void *data)
{
    json_t *body = json_deep_copy(lc_rpc_req_body(req));
    const char *token = lc_rpc_req_header(req, "X-Token");
    (void)data;
    json_object_set_new(body, "token", json_string(token ? token : "-"));
    json_object_set_new(body, "conn",
                        json_string(lc_rpc_conn_id(lc_rpc_req_conn(req))));
    json_object_set_new(body, "type", json_string(lc_rpc_req_type(req)));
    lc_rpc_reply(req, "EchoResponse", body);
    json_decref(body);
}

/* SlowRequest: held until the test answers it. */
static void h_slow(struct lc_rpc_req *req, void *data)
{
    struct env *e = data;
    e->held = req;
    e->held_count++;
}

static void env_config(struct env *e, enum lc_rpc_source source)
{
    memset(e, 0, sizeof *e);
    lc_rpc_config_default(&e->cfg, source);
}

static void env_start(struct env *e, bool started)
{
    assert_int_equal(uv_loop_init(&e->loop), 0);
    e->rpc = lc_rpc_new(&e->loop, &e->cfg);
    assert_non_null(e->rpc);
    e->port = tc_port_reserve_one();
    assert_true(e->port > 0);
    assert_int_equal(lc_rpc_listen(e->rpc, "127.0.0.1", e->port), 0);
    lc_rpc_set_started(e->rpc, started);
    for (int i = 0; i < 2; i++) {
        e->obs[i].closed = on_closed_obs;
        e->obs[i].data = e;
        lc_rpc_observe(e->rpc, &e->obs[i]);
    }
    assert_int_equal(
        lc_rpc_handle(e->rpc, "EchoRequest", LC_RPC_SDK, h_echo, e), 0);
    assert_int_equal(lc_rpc_handle(e->rpc, "SlowRequest",
                                   LC_RPC_SDK | LC_RPC_CLUSTER, h_slow, e),
                     0);
    assert_int_equal(
        lc_rpc_handle(e->rpc, "ClusterOnlyRequest", LC_RPC_CLUSTER, h_echo, e),
        0);
    assert_int_equal(
        lc_rpc_handle(e->rpc, "EchoRequest", LC_RPC_SDK, h_echo, e), LC_EEXIST);
    assert_int_equal(
        lc_rpc_handle(e->rpc, "HealthCheckRequest", LC_RPC_SDK, h_echo, e),
        LC_EEXIST);
}

struct waker {
    uv_timer_t t;
};

static void on_wake(uv_timer_t *t)
{
    (void)t;
}

static void on_waker_closed(uv_handle_t *h)
{
    (void)h;
}

/* Run the loop until @pred(@arg) or @ms pass; return whether @pred held. */
static bool run_until(struct env *e, bool (*pred)(void *), void *arg,
                      unsigned ms)
{
    struct waker w;
    uint64_t deadline;
    bool ok;

    uv_update_time(&e->loop);
    deadline = uv_now(&e->loop) + ms;
    uv_timer_init(&e->loop, &w.t);
    uv_timer_start(&w.t, on_wake, 5, 5);
    while (!(ok = pred(arg)) && uv_now(&e->loop) < deadline) {
        uv_run(&e->loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&w.t, on_waker_closed);
    uv_run(&e->loop, UV_RUN_NOWAIT);
    return ok;
}

static bool never(void *arg)
{
    (void)arg;
    return false;
}

static void run_for(struct env *e, unsigned ms)
{
    run_until(e, never, NULL, ms);
}

static bool flag_set(void *arg)
{
    return *(bool *)arg;
}

static void on_rpc_closed(struct lc_rpc *r, void *data)
{
    struct env *e = data;
    (void)r;
    e->rpc_closed = true;
}

static void env_stop(struct env *e)
{
    lc_rpc_close(e->rpc, on_rpc_closed, e);
    assert_true(run_until(e, flag_set, &e->rpc_closed, 5000));
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    tc_port_release(e->port);
}

/* ------------------------------------------------------------- client */

#define TC_MAX_MSGS 16

struct tc {
    struct env *env;
    struct lc_grpc_client *cl;
    struct lc_grpc_cstream *bs;
    bool connect_done;
    int connect_status;
    bool closed;
    bool stream_closed;
    bool answer_detection;
    bool answer_reset;
    bool answer_push;
    int acks;
    int detections;
    int nmsgs;
    char *types[TC_MAX_MSGS];
    json_t *msgs[TC_MAX_MSGS];
    char id[96];
};

static void on_connected(struct lc_grpc_client *cl, int status, void *data)
{
    struct tc *t = data;
    (void)cl;
    t->connect_done = true;
    t->connect_status = status;
}

static void on_client_closed(struct lc_grpc_client *cl, void *data)
{
    struct tc *t = data;
    (void)cl;
    t->closed = true;
    t->cl = NULL;
    t->bs = NULL;
}

static bool connect_done(void *arg)
{
    return ((struct tc *)arg)->connect_done;
}

static bool client_closed(void *arg)
{
    return ((struct tc *)arg)->closed;
}

static void tc_open(struct env *e, struct tc *t)
{
    struct lc_grpc_client_cbs cbs = {
        .data = t, .connected = on_connected, .closed = on_client_closed};
    memset(t, 0, sizeof *t);
    t->env = e;
    assert_int_equal(
        lc_grpc_client_new(&e->loop, "127.0.0.1", e->port, 0, &cbs, &t->cl), 0);
    assert_true(run_until(e, connect_done, t, 3000));
    assert_int_equal(t->connect_status, 0);
}

static void tc_close(struct tc *t)
{
    if (!t->closed && t->cl != NULL) {
        lc_grpc_client_close(t->cl);
    }
    assert_true(run_until(t->env, client_closed, t, 3000));
    for (int i = 0; i < t->nmsgs; i++) {
        free(t->types[i]);
        json_decref(t->msgs[i]);
    }
    t->nmsgs = 0;
}

/* A unary call's result. */
struct ures {
    struct lc_grpc_ccall call;
    bool done;
    int status;
    int grpc_status;
    char message[256];
    char type[64];
    json_t *body;
};

static void on_ucall(struct lc_grpc_ccall *call, int status, int grpc_status,
                     const char *message, const uint8_t *msg, size_t len)
{
    struct ures *u = call->data;
    struct lc_payload p;

    u->done = true;
    u->status = status;
    u->grpc_status = grpc_status;
    lc_strlcpy(u->message, message != NULL ? message : "", sizeof u->message);
    if (status == 0 && grpc_status == 0 && msg != NULL &&
        lc_payload_decode(msg, len, &p) == 0) {
        lc_strlcpy(u->type, p.type, sizeof u->type);
        if (lc_payload_json(&p, &u->body) != 0) {
            u->body = NULL;
        }
        lc_payload_free(&p);
    }
}

static bool ures_done(void *arg)
{
    return ((struct ures *)arg)->done;
}

static void ures_free(struct ures *u)
{
    json_decref(u->body);
    memset(u, 0, sizeof *u);
}

static void tc_unary_raw(struct tc *t, const uint8_t *buf, size_t len,
                         struct ures *u)
{
    memset(u, 0, sizeof *u);
    u->call.data = u;
    assert_int_equal(lc_grpc_client_unary(t->cl, &u->call, PATH_UNARY, buf, len,
                                          3000, on_ucall),
                     0);
    assert_true(run_until(t->env, ures_done, u, 5000));
}

/* Call @type with @body (stolen; NULL: {}) and @headers (borrowed). */
static void tc_unary(struct tc *t, const char *type, json_t *body,
                     const json_t *headers, struct ures *u)
{
    uint8_t *buf;
    size_t len;

    if (body == NULL) {
        body = json_pack("{s:s, s:{}}", "module", "internal", "headers");
    }
    assert_int_equal(lc_payload_encode(type, body, headers, &buf, &len), 0);
    json_decref(body);
    tc_unary_raw(t, buf, len, u);
    free(buf);
}

static int jint(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    assert_true(json_is_integer(v));
    return (int)json_integer_value(v);
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    assert_non_null(s);
    return s;
}

/* The answer must be ErrorResponse{500, @code, @msg, false}. */
static void assert_error(struct ures *u, const char *type, int code,
                         const char *msg)
{
    assert_int_equal(u->status, 0);
    assert_int_equal(u->grpc_status, 0);
    assert_string_equal(u->type, type);
    assert_non_null(u->body);
    assert_int_equal(jint(u->body, "resultCode"), 500);
    assert_int_equal(jint(u->body, "errorCode"), code);
    assert_string_equal(jstr(u->body, "message"), msg);
    assert_true(json_is_false(json_object_get(u->body, "success")));
    assert_null(json_object_get(u->body, "requestId"));
}

/* ServerCheck: keep the connection id. */
static void tc_server_check(struct tc *t)
{
    struct ures u;
    tc_unary(t, "ServerCheckRequest", NULL, NULL, &u);
    assert_string_equal(u.type, "ServerCheckResponse");
    lc_strlcpy(t->id, jstr(u.body, "connectionId"), sizeof t->id);
    ures_free(&u);
}

static void tc_send(struct tc *t, const char *type, json_t *body)
{
    uint8_t *buf;
    size_t len;
    assert_int_equal(lc_payload_encode(type, body, NULL, &buf, &len), 0);
    assert_int_equal(lc_grpc_cstream_send(t->bs, buf, len), 0);
    free(buf);
}

static void answer(struct tc *t, const char *type, const json_t *req)
{
    json_t *resp =
        json_pack("{s:i, s:i, s:b, s:s}", "resultCode", 200, "errorCode", 0,
                  "success", 1, "requestId", jstr(req, "requestId"));
    tc_send(t, type, resp);
    json_decref(resp);
}

static void on_cmsg(struct lc_grpc_cstream *s, const uint8_t *msg, size_t len,
                    void *data)
{
    struct tc *t = data;
    struct lc_payload p;
    json_t *body;
    (void)s;

    assert_int_equal(lc_payload_decode(msg, len, &p), 0);
    assert_int_equal(lc_payload_json(&p, &body), 0);
    if (strcmp(p.type, "SetupAckRequest") == 0) {
        t->acks++;
    } else if (strcmp(p.type, "ClientDetectionRequest") == 0) {
        t->detections++;
        if (t->answer_detection) {
            answer(t, "ClientDetectionResponse", body);
        }
    } else if (strcmp(p.type, "ConnectResetRequest") == 0) {
        if (t->answer_reset) {
            answer(t, "ConnectResetResponse", body);
        }
    } else if (t->answer_push) {
        answer(t, "NotifySubscriberResponse", body);
    }
    if (t->nmsgs < TC_MAX_MSGS) {
        t->types[t->nmsgs] = strdup(p.type);
        t->msgs[t->nmsgs++] = json_incref(body);
    }
    json_decref(body);
    lc_payload_free(&p);
}

static void on_cstream_closed(struct lc_grpc_cstream *s, int status,
                              int grpc_status, const char *message, void *data)
{
    struct tc *t = data;
    (void)s;
    (void)status;
    (void)grpc_status;
    (void)message;
    t->stream_closed = true;
    t->bs = NULL;
}

/* Open the bi-stream and send ConnectionSetupRequest with labels.source
 * @source and, if @ability, an abilityTable {}. */
static void tc_setup(struct tc *t, const char *source, bool ability)
{
    struct lc_grpc_cstream_cbs cbs = {
        .data = t, .msg = on_cmsg, .closed = on_cstream_closed};
    json_t *body = json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:s}, s:s, s:{}}", "clientVersion",
        "Nacos-Java-Client:v2.4.3", "tenant", "ns1", "labels", "source", source,
        "module", "naming", "AppName", "test", "module", "internal", "headers");
    if (ability) {
        json_object_set_new(body, "abilityTable", json_object());
    }
    assert_int_equal(lc_grpc_client_stream(t->cl, PATH_BI, &cbs, &t->bs), 0);
    tc_send(t, "ConnectionSetupRequest", body);
    json_decref(body);
}

struct reg_wait {
    struct env *env;
    struct tc *t;
};

static bool registered(void *arg)
{
    struct reg_wait *w = arg;
    return lc_rpc_conn_find(w->env->rpc, w->t->id) != NULL;
}

/* Open, ServerCheck, set up and wait for the registration (and the ack). */
static void tc_register(struct env *e, struct tc *t, const char *source,
                        bool ability)
{
    struct reg_wait w = {e, t};
    tc_open(e, t);
    tc_server_check(t);
    tc_setup(t, source, ability);
    assert_true(run_until(e, registered, &w, 3000));
}

static bool acked(void *arg)
{
    return ((struct tc *)arg)->acks > 0;
}

/* ------------------------------------------------------------- tests */

/* ServerCheck: 300 while not started, then the id <millis>_<ip>_<port>
 * with exactly Nacos's fields. */
static void test_server_check(void **state)
{
    struct env e;
    struct tc t;
    struct tc t2;
    struct ures u;
    unsigned long long ms;
    char ip[64];
    int port;
    uint64_t before = lc_now_ms();
    struct lc_rpc_stats st;
    (void)state;

    env_config(&e, LC_RPC_SDK);
    env_start(&e, false);
    tc_open(&e, &t);
    tc_unary(&t, "ServerCheckRequest", NULL, NULL, &u);
    assert_error(&u, "ErrorResponse", 300,
                 "Server is starting,please try later.");
    assert_int_equal(json_object_size(u.body), 4);
    ures_free(&u);

    lc_rpc_set_started(e.rpc, true);
    tc_unary(&t, "ServerCheckRequest", NULL, NULL, &u);
    assert_string_equal(u.type, "ServerCheckResponse");
    assert_int_equal(json_object_size(u.body), 5);
    assert_int_equal(jint(u.body, "resultCode"), 200);
    assert_int_equal(jint(u.body, "errorCode"), 0);
    assert_true(json_is_true(json_object_get(u.body, "success")));
    assert_true(
        json_is_true(json_object_get(u.body, "supportAbilityNegotiation")));
    assert_int_equal(
        sscanf(jstr(u.body, "connectionId"), "%llu_%63[^_]_%d", &ms, ip, &port),
        3);
    assert_true(ms >= before - 1000 && ms <= lc_now_ms());
    assert_string_equal(ip, "127.0.0.1");
    assert_int_equal(port, lc_grpc_client_local_port(t.cl));
    lc_strlcpy(t.id, jstr(u.body, "connectionId"), sizeof t.id);
    ures_free(&u);

    /* Same session, same id; another session, another. */
    tc_server_check(&t);
    tc_open(&e, &t2);
    tc_server_check(&t2);
    assert_string_not_equal(t.id, t2.id);
    lc_rpc_stats(e.rpc, &st);
    assert_int_equal(st.sessions, 2);
    assert_int_equal(st.connections, 0);
    assert_true(st.requests >= 4);
    assert_null(lc_rpc_conn_find(e.rpc, t.id)); /* not registered */
    tc_close(&t);
    tc_close(&t2);
    assert_int_equal(e.observed[0], 0);
    env_stop(&e);
}

/* Nacos's order: forbidden port, not started, ServerCheck, no handler,
 * unregistered, bad JSON, handler. */
static void test_dispatch_order(void **state)
{
    struct env e;
    struct tc t;
    struct ures u;
    Locus__Grpc__Payload msg = LOCUS__GRPC__PAYLOAD__INIT;
    Locus__Grpc__Metadata md = LOCUS__GRPC__METADATA__INIT;
    Locus__Grpc__Any any = LOCUS__GRPC__ANY__INIT;
    uint8_t buf[256];
    size_t len;
    json_t *headers;
    (void)state;

    env_config(&e, LC_RPC_SDK);
    env_start(&e, false);
    tc_open(&e, &t);
    /* The port gate comes first, even before "not started". */
    tc_unary(&t, "ClusterOnlyRequest", NULL, NULL, &u);
    assert_error(&u, "ErrorResponse", 502,
                 " invoke ClusterOnlyRequest from sdk is forbidden");
    ures_free(&u);
    tc_unary(&t, "EchoRequest", NULL, NULL, &u);
    assert_error(&u, "ErrorResponse", 300,
                 "Server is starting,please try later.");
    ures_free(&u);
    tc_unary(&t, "NoSuchRequest", NULL, NULL, &u);
    assert_error(&u, "ErrorResponse", 300,
                 "Server is starting,please try later.");
    ures_free(&u);

    lc_rpc_set_started(e.rpc, true);
    tc_unary(&t, "NoSuchRequest", NULL, NULL, &u);
    assert_error(&u, "ErrorResponse", 302, "RequestHandler Not Found");
    ures_free(&u);
    tc_unary(&t, "", NULL, NULL, &u);
    assert_error(&u, "ErrorResponse", 302, "RequestHandler Not Found");
    ures_free(&u);
    tc_unary(&t, "EchoRequest", NULL, NULL, &u);
    assert_error(&u, "ErrorResponse", 301, "Connection is unregistered.");
    ures_free(&u);
    tc_unary(&t, "HealthCheckRequest", NULL, NULL, &u);
    assert_error(&u, "ErrorResponse", 301, "Connection is unregistered.");
    ures_free(&u);
    /* Not protobuf at all. */
    tc_unary_raw(&t, (const uint8_t *)"\xff\xff\xff", 3, &u);
    assert_int_equal(u.status, 0);
    assert_int_equal(u.grpc_status, LC_GRPC_INTERNAL);
    ures_free(&u);
    tc_close(&t);

    tc_register(&e, &t, "sdk", false);
    /* Bad JSON, and JSON that is not an object: 502. */
    md.type = "EchoRequest";
    msg.metadata = &md;
    msg.body = &any;
    any.value.data = (uint8_t *)"{\"a\":";
    any.value.len = 5;
    len = locus__grpc__payload__pack(&msg, buf);
    tc_unary_raw(&t, buf, len, &u);
    assert_int_equal(u.grpc_status, 0);
    assert_string_equal(u.type, "ErrorResponse");
    assert_int_equal(jint(u.body, "resultCode"), 500);
    assert_int_equal(jint(u.body, "errorCode"), 502);
    ures_free(&u);
    any.value.data = (uint8_t *)"[1]";
    any.value.len = 3;
    len = locus__grpc__payload__pack(&msg, buf);
    tc_unary_raw(&t, buf, len, &u);
    assert_int_equal(jint(u.body, "errorCode"), 502);
    ures_free(&u);
    tc_unary(&t, "ClusterOnlyRequest", NULL, NULL, &u);
    assert_error(&u, "ErrorResponse", 502,
                 " invoke ClusterOnlyRequest from sdk is forbidden");
    ures_free(&u);
    tc_unary(&t, "NoSuchRequest", NULL, NULL, &u);
    assert_error(&u, "ErrorResponse", 302, "RequestHandler Not Found");
    ures_free(&u);

    /* HealthCheck, then a synchronous handler with headers. */
    tc_unary(&t, "HealthCheckRequest", NULL, NULL, &u);
    assert_string_equal(u.type, "HealthCheckResponse");
    assert_int_equal(jint(u.body, "resultCode"), 200);
    assert_int_equal(jint(u.body, "errorCode"), 0);
    assert_true(json_is_true(json_object_get(u.body, "success")));
    ures_free(&u);
    headers = json_pack("{s:s}", "x-token", "secret");
    tc_unary(&t, "EchoRequest", json_pack("{s:s, s:n}", "k", "v", "z"), headers,
             &u);
    json_decref(headers);
    assert_string_equal(u.type, "EchoResponse");
    assert_int_equal(jint(u.body, "resultCode"), 200);
    assert_int_equal(jint(u.body, "errorCode"), 0);
    assert_true(json_is_true(json_object_get(u.body, "success")));
    assert_string_equal(jstr(u.body, "k"), "v");
    assert_null(json_object_get(u.body, "z")); /* null left out */
    assert_string_equal(jstr(u.body, "token"), "secret");
    assert_string_equal(jstr(u.body, "conn"), t.id);
    assert_string_equal(jstr(u.body, "type"), "EchoRequest");
    ures_free(&u);
    /* A header that is not there is NULL, whatever the others are (the
     * Java client sends "app" on every request: its value must not be
     * taken for an absent accessToken). */
    headers = json_pack("{s:s, s:s}", "Client-Version", "2.4.3", "app",
                        "unknown");
    tc_unary(&t, "EchoRequest", json_object(), headers, &u);
    json_decref(headers);
    assert_string_equal(jstr(u.body, "token"), "-");
    ures_free(&u);
    tc_close(&t);
    env_stop(&e);
}

static void on_reply_timer(uv_timer_t *timer)
{
    struct env *e = timer->data;
    struct lc_err err;
    lc_err_set(&err, LC_ENOTFOUND, "no such thing");
    lc_rpc_reply_error(e->held, "SlowResponse", &err);
    e->held = NULL;
}

static bool held(void *arg)
{
    return ((struct env *)arg)->held != NULL;
}

/* A handler answering later, typed failures, and a reply after the
 * connection went away (dropped; the connection still readable). */
static void test_async_handler(void **state)
{
    struct env e;
    struct tc t;
    struct ures u;
    uv_timer_t timer;
    struct lc_rpc_conn *c;
    struct lc_err err;
    (void)state;

    env_config(&e, LC_RPC_SDK);
    env_start(&e, true);
    tc_register(&e, &t, "sdk", true);

    uv_timer_init(&e.loop, &timer);
    timer.data = &e;
    uv_timer_start(&timer, on_reply_timer, 50, 0);
    tc_unary(&t, "SlowRequest", NULL, NULL, &u);
    assert_string_equal(u.type, "SlowResponse");
    assert_int_equal(jint(u.body, "resultCode"), 500);
    assert_int_equal(jint(u.body, "errorCode"), 404);
    assert_string_equal(jstr(u.body, "message"), "no such thing");
    assert_true(json_is_false(json_object_get(u.body, "success")));
    ures_free(&u);
    uv_close((uv_handle_t *)&timer, NULL);

    /* A held request whose client leaves: observers run, the request and
     * its connection stay readable, the reply is dropped. */
    memset(&u, 0, sizeof u);
    {
        json_t *body = json_pack("{s:s}", "module", "internal");
        uint8_t *buf;
        size_t len;
        assert_int_equal(
            lc_payload_encode("SlowRequest", body, NULL, &buf, &len), 0);
        u.call.data = &u;
        assert_int_equal(lc_grpc_client_unary(t.cl, &u.call, PATH_UNARY, buf,
                                              len, 0, on_ucall),
                         0);
        free(buf);
        json_decref(body);
    }
    assert_true(run_until(&e, held, &e, 3000));
    c = lc_rpc_req_conn(e.held);
    assert_string_equal(lc_rpc_req_type(e.held), "SlowRequest");
    tc_close(&t);
    assert_true(u.done);
    ures_free(&u);
    run_for(&e, 50);
    assert_int_equal(e.observed[0], 1);
    assert_int_equal(e.observed[1], 1);
    assert_true(e.closed_readable);
    assert_string_equal(lc_rpc_conn_id(c), t.id);
    assert_false(lc_rpc_conn_registered(c));
    assert_null(lc_rpc_conn_find(e.rpc, t.id));
    lc_err_set(&err, LC_ESERVER, "late");
    lc_rpc_reply_error(e.held, NULL, &err);
    e.held = NULL;
    run_for(&e, 20);
    env_stop(&e);
}

static bool stream_or_client_closed(void *arg)
{
    struct tc *t = arg;
    return t->closed;
}

/* Setup while not started: SDK refused (the session closed), cluster
 * accepted; SetupAck only when the setup carried an abilityTable. */
static void test_setup(void **state)
{
    struct env e;
    struct tc t;
    struct tc t2;
    struct lc_rpc_conn *c;
    struct lc_rpc_stats st;
    json_t *ack;
    (void)state;

    env_config(&e, LC_RPC_SDK);
    env_start(&e, false);
    tc_open(&e, &t);
    tc_setup(&t, "sdk", true);
    assert_true(run_until(&e, stream_or_client_closed, &t, 3000));
    assert_int_equal(t.acks, 0);
    lc_rpc_stats(e.rpc, &st);
    assert_int_equal(st.refused, 1);
    assert_int_equal(st.connections, 0);
    tc_close(&t);
    assert_int_equal(e.observed[0], 0);

    /* A cluster connection is not refused while starting. */
    tc_open(&e, &t);
    t.id[0] = '\0';
    tc_setup(&t, "cluster", true);
    assert_true(run_until(&e, acked, &t, 3000));
    assert_int_equal(lc_rpc_conn_count(e.rpc, false), 1);
    assert_int_equal(lc_rpc_conn_count(e.rpc, true), 0);
    tc_close(&t);
    run_for(&e, 20);
    assert_int_equal(e.observed[0], 1);
    assert_int_equal(lc_rpc_conn_count(e.rpc, false), 0);

    lc_rpc_set_started(e.rpc, true);
    tc_register(&e, &t, "sdk", true);
    assert_true(run_until(&e, acked, &t, 3000));
    assert_int_equal(t.acks, 1);
    assert_string_equal(t.types[0], "SetupAckRequest");
    ack = t.msgs[0];
    assert_true(
        json_is_true(json_object_get(json_object_get(ack, "abilityTable"),
                                     "supportPersistentInstanceByGrpc")));
    assert_string_equal(jstr(ack, "module"), "internal");
    assert_null(json_object_get(ack, "requestId"));
    c = lc_rpc_conn_find(e.rpc, t.id);
    assert_non_null(c);
    assert_true(lc_rpc_conn_registered(c));
    assert_true(lc_rpc_conn_sdk(c));
    assert_string_equal(lc_rpc_conn_version(c), "Nacos-Java-Client:v2.4.3");
    assert_string_equal(lc_rpc_conn_tenant(c), "ns1");
    assert_string_equal(lc_rpc_conn_ip(c), "127.0.0.1");
    assert_int_equal(lc_rpc_conn_port(c), lc_grpc_client_local_port(t.cl));
    assert_string_equal(jstr(lc_rpc_conn_labels(c), "AppName"), "test");
    assert_true(lc_rpc_conn_created_ms(c) <= lc_now_ms());
    assert_int_equal(lc_rpc_conn_count(e.rpc, true), 1);

    /* No abilityTable: registered, no ack. */
    tc_register(&e, &t2, "sdk", false);
    run_for(&e, 100);
    assert_int_equal(t2.acks, 0);
    assert_int_equal(lc_rpc_conn_count(e.rpc, true), 2);
    lc_rpc_stats(e.rpc, &st);
    assert_int_equal(st.connections, 2);
    assert_int_equal(st.sdk_connections, 2);
    tc_close(&t);
    tc_close(&t2);
    run_for(&e, 20);
    assert_int_equal(e.observed[0], 3);
    assert_int_equal(e.observed[1], 3);
    env_stop(&e);
}

/* ---- server-to-client requests ---- */

struct push_res {
    struct lc_rpc_push push;
    bool in_call; /* set while lc_rpc_conn_request runs */
    bool from_inside;
    int fired;
    int err;
    char type[64];
    json_t *body;
    struct lc_rpc_conn *conn;
    struct push_res *chain; /* started from the callback */
};

static void on_push(struct lc_rpc_push *p, const struct lc_err *e,
                    const char *type, json_t *body)
{
    struct push_res *r = p->data;
    r->fired++;
    if (r->in_call) {
        r->from_inside = true;
    }
    r->err = e != NULL ? e->code : 0;
    if (e == NULL) {
        lc_strlcpy(r->type, type, sizeof r->type);
        r->body = json_incref(body);
    }
    if (r->chain != NULL) {
        /* The connection is still readable; a request on it fails from
         * the loop with LC_ECONN. */
        r->chain->push.data = r->chain;
        r->chain->in_call = true;
        assert_int_equal(lc_rpc_conn_request(r->conn, &r->chain->push,
                                             "NotifySubscriberRequest", NULL, 0,
                                             on_push),
                         0);
        r->chain->in_call = false;
    }
}

static void push_start(struct push_res *r, struct lc_rpc_conn *c,
                       unsigned timeout_ms)
{
    json_t *body = json_pack("{s:{s:s}, s:s}", "serviceInfo", "name", "svc",
                             "module", "naming");
    memset(r, 0, sizeof *r);
    r->push.data = r;
    r->conn = c;
    r->in_call = true;
    assert_int_equal(lc_rpc_conn_request(c, &r->push, "NotifySubscriberRequest",
                                         body, timeout_ms, on_push),
                     0);
    r->in_call = false;
    json_decref(body);
    assert_int_equal(r->fired, 0);
}

static bool push_fired(void *arg)
{
    return ((struct push_res *)arg)->fired > 0;
}

static void test_push(void **state)
{
    struct env e;
    struct tc t;
    struct lc_rpc_conn *c;
    struct push_res r;
    struct push_res chained;
    const json_t *req;
    (void)state;

    env_config(&e, LC_RPC_SDK);
    env_start(&e, true);
    tc_register(&e, &t, "sdk", false);
    c = lc_rpc_conn_find(e.rpc, t.id);

    /* Round trip: the requestId is a counter, as a string. */
    t.answer_push = true;
    push_start(&r, c, 0);
    assert_true(run_until(&e, push_fired, &r, 3000));
    assert_false(r.from_inside);
    assert_int_equal(r.err, 0);
    assert_string_equal(r.type, "NotifySubscriberResponse");
    assert_int_equal(jint(r.body, "resultCode"), 200);
    assert_int_equal(t.nmsgs, 1);
    assert_string_equal(t.types[0], "NotifySubscriberRequest");
    req = t.msgs[0];
    assert_string_equal(jstr(req, "module"), "naming");
    assert_string_equal(jstr(json_object_get(req, "serviceInfo"), "name"),
                        "svc");
    assert_true(strspn(jstr(req, "requestId"), "0123456789") ==
                strlen(jstr(req, "requestId")));
    json_decref(r.body);

    /* Unanswered: times out. */
    t.answer_push = false;
    push_start(&r, c, 100);
    assert_true(run_until(&e, push_fired, &r, 3000));
    assert_int_equal(r.err, LC_ETIMEDOUT);
    assert_int_equal(r.fired, 1);

    /* Canceled: never fires, even when answered later. */
    push_start(&r, c, 50);
    lc_rpc_push_cancel(&r.push);
    lc_rpc_push_cancel(&r.push);
    run_for(&e, 150);
    assert_int_equal(r.fired, 0);

    /* A bounded number in flight per connection. */
    {
        struct push_res *many = calloc(1025, sizeof *many);
        int busy;
        for (int i = 0; i < 1024; i++) {
            push_start(&many[i], c, 10000);
        }
        many[1024].push.data = &many[1024];
        busy = lc_rpc_conn_request(c, &many[1024].push, "X", NULL, 0, on_push);
        assert_int_equal(busy, LC_EBUSY);
        /* Closing the connection (here, from the server) fails them all
         * from the loop, never from inside the close. */
        lc_rpc_conn_close(c);
        assert_int_equal(e.observed[0], 1);
        for (int i = 0; i < 1024; i++) {
            assert_int_equal(many[i].fired, 0);
        }
        run_for(&e, 100);
        for (int i = 0; i < 1024; i++) {
            assert_int_equal(many[i].fired, 1);
            assert_int_equal(many[i].err, LC_ECONN);
        }
        assert_int_equal(many[1024].fired, 0);
        free(many);
    }
    assert_true(run_until(&e, client_closed, &t, 3000));
    tc_close(&t);
    assert_int_equal(e.observed[0], 1);

    /* The client leaves with a request pending; a request made from the
     * failure's callback fails too, from the loop. */
    tc_register(&e, &t, "sdk", false);
    c = lc_rpc_conn_find(e.rpc, t.id);
    push_start(&r, c, 5000);
    r.chain = &chained;
    memset(&chained, 0, sizeof chained);
    tc_close(&t);
    assert_true(run_until(&e, push_fired, &r, 3000));
    assert_int_equal(r.err, LC_ECONN);
    assert_true(run_until(&e, push_fired, &chained, 3000));
    assert_false(chained.from_inside);
    assert_int_equal(chained.err, LC_ECONN);
    assert_int_equal(e.observed[0], 2);
    env_stop(&e);
}

/* Pushes beyond the session's unsent-output limit fail with LC_EBUSY,
 * each push's callback fires once. */
/* One body rendered once, sent twice: each message has its own requestId
 * in front of the same members; an empty body and one that already has a
 * requestId come out as JSON objects too. */
static void test_push_shared_body(void **state)
{
    struct env e;
    struct tc t;
    struct lc_rpc_conn *c;
    struct lc_rpc_body *b, *empty;
    struct push_res r[3];
    json_t *body = json_pack("{s:s, s:{s:s, s:[i]}, s:s}", "requestId", "x",
                             "serviceInfo", "name", "svc", "hosts", 1,
                             "module", "naming");
    (void)state;

    env_config(&e, LC_RPC_SDK);
    env_start(&e, true);
    tc_register(&e, &t, "sdk", false);
    c = lc_rpc_conn_find(e.rpc, t.id);
    t.answer_push = true;
    assert_int_equal(lc_rpc_body_new("NotifySubscriberRequest", NULL, &empty),
                     0);
    assert_int_equal(lc_rpc_body_new(NULL, body, &b), LC_EINVAL);
    assert_int_equal(lc_rpc_body_new("NotifySubscriberRequest", body, &b), 0);
    json_decref(body);
    for (int i = 0; i < 3; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].push.data = &r[i];
        assert_int_equal(lc_rpc_conn_request_body(c, &r[i].push,
                                                  i < 2 ? b : empty, 0,
                                                  on_push),
                         0);
    }
    lc_rpc_body_free(b); /* before the requests end: they have their copy */
    lc_rpc_body_free(empty);
    for (int i = 0; i < 3; i++) {
        assert_true(run_until(&e, push_fired, &r[i], 3000));
        assert_int_equal(r[i].err, 0);
        json_decref(r[i].body);
    }
    assert_int_equal(t.nmsgs, 3);
    for (int i = 0; i < 2; i++) {
        const json_t *m = t.msgs[i];
        assert_string_equal(t.types[i], "NotifySubscriberRequest");
        assert_string_equal(jstr(m, "module"), "naming");
        assert_string_equal(jstr(json_object_get(m, "serviceInfo"), "name"),
                            "svc");
        assert_string_not_equal(jstr(m, "requestId"), "x");
    }
    assert_string_not_equal(jstr(t.msgs[0], "requestId"),
                            jstr(t.msgs[1], "requestId"));
    assert_int_equal(json_object_size(t.msgs[2]), 1);
    assert_non_null(jstr(t.msgs[2], "requestId"));
    tc_close(&t);
    env_stop(&e);
}

static void test_push_outbuf(void **state)
{
    enum { N = 64 };
    struct env e;
    struct tc t;
    struct lc_rpc_conn *c;
    struct push_res *r = calloc(N, sizeof *r);
    char *big = malloc(32 * 1024);
    json_t *body;
    int busy = 0;
    int ok = 0;
    (void)state;

    memset(big, 'x', 32 * 1024 - 1);
    big[32 * 1024 - 1] = '\0';
    env_config(&e, LC_RPC_SDK);
    e.cfg.limits.max_conn_outbuf = 64 * 1024;
    env_start(&e, true);
    tc_register(&e, &t, "sdk", false);
    t.answer_push = true;
    c = lc_rpc_conn_find(e.rpc, t.id);
    body = json_pack("{s:s}", "blob", big);
    for (int i = 0; i < N; i++) {
        r[i].push.data = &r[i];
        assert_int_equal(lc_rpc_conn_request(c, &r[i].push, "BlobRequest", body,
                                             3000, on_push),
                         0);
    }
    json_decref(body);
    run_for(&e, 1000);
    for (int i = 0; i < N; i++) {
        assert_int_equal(r[i].fired, 1);
        busy += r[i].err == LC_EBUSY;
        ok += r[i].err == 0;
        json_decref(r[i].body);
    }
    assert_true(busy > 0);
    assert_true(ok > 0);
    tc_close(&t);
    free(r);
    free(big);
    env_stop(&e);
}

/* The ejector probes idle connections: one answers and stays, one does
 * not and is closed; a session that never sets up is closed too. */
static void test_ejector(void **state)
{
    struct env e;
    struct tc a;
    struct tc b;
    struct tc idle;
    struct lc_rpc_stats st;
    (void)state;

    env_config(&e, LC_RPC_SDK);
    e.cfg.ejector_interval_ms = 50;
    e.cfg.idle_probe_ms = 300;
    e.cfg.probe_timeout_ms = 200;
    env_start(&e, true);
    tc_register(&e, &a, "sdk", false);
    a.answer_detection = true;
    tc_register(&e, &b, "sdk", false);
    tc_open(&e, &idle);
    tc_server_check(&idle);

    assert_true(run_until(&e, client_closed, &b, 3000));
    assert_true(b.detections >= 1);
    assert_int_equal(e.observed[0], 1);
    assert_string_equal(e.last_closed, b.id);
    assert_true(run_until(&e, client_closed, &idle, 3000));
    run_for(&e, 600);
    assert_false(a.closed);
    assert_true(a.detections >= 2);
    assert_non_null(lc_rpc_conn_find(e.rpc, a.id));
    lc_rpc_stats(e.rpc, &st);
    assert_int_equal(st.probes_failed, 1);
    assert_int_equal(st.connections, 1);
    assert_int_equal(e.observed[0], 1);
    tc_close(&a);
    tc_close(&b);
    tc_close(&idle);
    assert_int_equal(e.observed[0], 2);
    env_stop(&e);
}

/* ConnectReset: the fields only when given, then the connection closes. */
static void test_reset(void **state)
{
    struct env e;
    struct tc t;
    struct lc_rpc_conn *c;
    const json_t *req;
    (void)state;

    env_config(&e, LC_RPC_SDK);
    env_start(&e, true);
    tc_register(&e, &t, "sdk", false);
    t.answer_reset = true;
    c = lc_rpc_conn_find(e.rpc, t.id);
    assert_int_equal(lc_rpc_conn_reset(c, "127.0.0.5", "8848"), 0);
    assert_true(run_until(&e, client_closed, &t, 3000));
    assert_int_equal(t.nmsgs, 1);
    assert_string_equal(t.types[0], "ConnectResetRequest");
    req = t.msgs[0];
    assert_string_equal(jstr(req, "serverIp"), "127.0.0.5");
    assert_string_equal(jstr(req, "serverPort"), "8848");
    assert_string_equal(jstr(req, "connectionId"), t.id);
    assert_string_equal(jstr(req, "module"), "internal");
    assert_int_equal(e.observed[0], 1);
    tc_close(&t);

    tc_register(&e, &t, "sdk", false);
    t.answer_reset = true;
    c = lc_rpc_conn_find(e.rpc, t.id);
    assert_int_equal(lc_rpc_conn_reset(c, NULL, NULL), 0);
    assert_true(run_until(&e, client_closed, &t, 3000));
    req = t.msgs[0];
    assert_null(json_object_get(req, "serverIp"));
    assert_null(json_object_get(req, "serverPort"));
    assert_null(json_object_get(req, "connectionId"));
    assert_int_equal(e.observed[0], 2);
    tc_close(&t);
    env_stop(&e);
}

/* At most max_sdk_connections SDK connections; cluster ones not counted. */
static void test_max_sdk(void **state)
{
    struct env e;
    struct tc t[4];
    struct lc_rpc_stats st;
    (void)state;

    env_config(&e, LC_RPC_SDK);
    e.cfg.max_sdk_connections = 2;
    env_start(&e, true);
    tc_register(&e, &t[0], "sdk", true);
    tc_register(&e, &t[1], "sdk", true);
    tc_open(&e, &t[2]);
    tc_server_check(&t[2]);
    tc_setup(&t[2], "sdk", true);
    assert_true(run_until(&e, client_closed, &t[2], 3000));
    assert_int_equal(t[2].acks, 0);
    tc_register(&e, &t[3], "cluster", true);
    lc_rpc_stats(e.rpc, &st);
    assert_int_equal(st.refused, 1);
    assert_int_equal(st.sdk_connections, 2);
    assert_int_equal(st.connections, 3);
    tc_close(&t[2]);
    tc_close(&t[0]);
    run_for(&e, 20);
    tc_register(&e, &t[2], "sdk", true); /* room again */
    tc_close(&t[1]);
    tc_close(&t[2]);
    tc_close(&t[3]);
    assert_int_equal(e.observed[0], 4);
    env_stop(&e);
}

/* The cluster port: its own gate message; HealthCheck on both ports. */
static void test_cluster_port(void **state)
{
    struct env e;
    struct tc t;
    struct ures u;
    (void)state;

    env_config(&e, LC_RPC_CLUSTER);
    env_start(&e, true);
    tc_register(&e, &t, "cluster", true);
    tc_unary(&t, "EchoRequest", NULL, NULL, &u);
    assert_error(&u, "ErrorResponse", 502,
                 " invoke EchoRequest from cluster is forbidden");
    ures_free(&u);
    tc_unary(&t, "ClusterOnlyRequest", NULL, NULL, &u);
    assert_string_equal(u.type, "EchoResponse");
    ures_free(&u);
    tc_unary(&t, "HealthCheckRequest", NULL, NULL, &u);
    assert_string_equal(u.type, "HealthCheckResponse");
    ures_free(&u);
    tc_close(&t);
    env_stop(&e);
}

/* lc_rpc_close with connections up: every connection closes (observers
 * once each), pending pushes fail with LC_ECONN, and the server is freed
 * only once the last held request is answered. */
static void test_close_with_clients(void **state)
{
    struct env e;
    struct tc t1;
    struct tc t2;
    struct push_res r;
    struct ures u;
    struct lc_err err;
    json_t *body;
    uint8_t *buf;
    size_t len;
    (void)state;

    env_config(&e, LC_RPC_SDK);
    e.cfg.limits.grace_ms = 50;
    env_start(&e, true);
    tc_register(&e, &t1, "sdk", true);
    tc_register(&e, &t2, "cluster", false);
    push_start(&r, lc_rpc_conn_find(e.rpc, t1.id), 10000);
    memset(&u, 0, sizeof u);
    body = json_pack("{s:s}", "module", "internal");
    assert_int_equal(lc_payload_encode("SlowRequest", body, NULL, &buf, &len),
                     0);
    u.call.data = &u;
    assert_int_equal(
        lc_grpc_client_unary(t2.cl, &u.call, PATH_UNARY, buf, len, 0, on_ucall),
        0);
    free(buf);
    json_decref(body);
    assert_true(run_until(&e, held, &e, 3000));

    lc_rpc_close(e.rpc, on_rpc_closed, &e);
    assert_int_equal(r.fired, 0);
    assert_true(run_until(&e, push_fired, &r, 3000));
    assert_int_equal(r.err, LC_ECONN);
    assert_true(run_until(&e, client_closed, &t1, 3000));
    assert_true(run_until(&e, client_closed, &t2, 3000));
    assert_true(u.done);
    run_for(&e, 100);
    assert_int_equal(e.observed[0], 2);
    assert_int_equal(e.observed[1], 2);
    assert_false(e.rpc_closed);
    lc_err_set(&err, LC_ESERVER, "late");
    lc_rpc_reply_error(e.held, NULL, &err);
    e.held = NULL;
    assert_true(run_until(&e, flag_set, &e.rpc_closed, 3000));
    tc_close(&t1);
    tc_close(&t2);
    ures_free(&u);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e.loop), 0);
    tc_port_release(e.port);
}

/* The client ending its bi-stream: the server ends it too, and the
 * connection, which can no longer be pushed to, is closed. */
static void test_stream_end(void **state)
{
    struct env e;
    struct tc t;
    (void)state;

    env_config(&e, LC_RPC_SDK);
    env_start(&e, true);
    tc_register(&e, &t, "sdk", true);
    lc_grpc_cstream_end(t.bs);
    assert_true(run_until(&e, client_closed, &t, 3000));
    assert_true(t.stream_closed);
    assert_int_equal(e.observed[0], 1);
    assert_int_equal(lc_rpc_conn_count(e.rpc, false), 0);
    tc_close(&t);
    env_stop(&e);
}

/* ---- thousands of connections ---- */

enum { MANY = 2000, WINDOW = 200 };

struct many {
    struct env *env;
    struct mc {
        struct many *m;
        struct lc_grpc_client *cl;
        struct lc_grpc_cstream *bs;
        struct lc_grpc_ccall call;
        int state; /* 0 idle, 1 connecting, 2 checking, 3 set up, 4 closed */
    } c[MANY];
    int next;
    int inflight;
    int setup;
    int closed;
    int failed;
};

static void many_kick(struct many *m);

static void on_many_closed(struct lc_grpc_client *cl, void *data)
{
    struct mc *c = data;
    (void)cl;
    if (c->state < 3) {
        c->m->failed++;
        c->m->inflight--;
    }
    c->state = 4;
    c->m->closed++;
    c->cl = NULL;
}

static void on_many_smsg(struct lc_grpc_cstream *s, const uint8_t *msg,
                         size_t len, void *data)
{
    (void)s;
    (void)msg;
    (void)len;
    (void)data;
}

static void on_many_sclosed(struct lc_grpc_cstream *s, int status,
                            int grpc_status, const char *message, void *data)
{
    (void)s;
    (void)status;
    (void)grpc_status;
    (void)message;
    (void)data;
}

static void on_many_check(struct lc_grpc_ccall *call, int status,
                          int grpc_status, const char *message,
                          const uint8_t *msg, size_t len)
{
    struct mc *c = call->data;
    struct lc_grpc_cstream_cbs cbs = {
        .data = c, .msg = on_many_smsg, .closed = on_many_sclosed};
    json_t *body;
    uint8_t *buf;
    size_t blen;
    (void)message;
    (void)msg;
    (void)len;

    if (status != 0 || grpc_status != 0 || c->cl == NULL) {
        return; /* the closed callback counts it */
    }
    body = json_pack("{s:s, s:s, s:{s:s}, s:s, s:{}}", "clientVersion", "t",
                     "tenant", "", "labels", "source", "sdk", "module",
                     "internal", "headers");
    assert_int_equal(lc_grpc_client_stream(c->cl, PATH_BI, &cbs, &c->bs), 0);
    assert_int_equal(
        lc_payload_encode("ConnectionSetupRequest", body, NULL, &buf, &blen),
        0);
    assert_int_equal(lc_grpc_cstream_send(c->bs, buf, blen), 0);
    free(buf);
    json_decref(body);
    c->state = 3;
    c->m->setup++;
    c->m->inflight--;
    many_kick(c->m);
}

static void on_many_connected(struct lc_grpc_client *cl, int status, void *data)
{
    struct mc *c = data;
    json_t *body;
    uint8_t *buf;
    size_t len;

    if (status != 0) {
        return; /* closed follows */
    }
    body = json_pack("{s:s}", "module", "internal");
    assert_int_equal(
        lc_payload_encode("ServerCheckRequest", body, NULL, &buf, &len), 0);
    c->call.data = c;
    c->state = 2;
    assert_int_equal(lc_grpc_client_unary(cl, &c->call, PATH_UNARY, buf, len,
                                          5000, on_many_check),
                     0);
    free(buf);
    json_decref(body);
}

static void many_kick(struct many *m)
{
    struct lc_grpc_client_cbs cbs = {.connected = on_many_connected,
                                     .closed = on_many_closed};
    while (m->inflight < WINDOW && m->next < MANY) {
        struct mc *c = &m->c[m->next++];
        c->m = m;
        cbs.data = c;
        c->state = 1;
        assert_int_equal(lc_grpc_client_new(&m->env->loop, "127.0.0.1",
                                            m->env->port, 0, &cbs, &c->cl),
                         0);
        m->inflight++;
    }
}

static bool many_registered(void *arg)
{
    struct many *m = arg;
    return m->failed > 0 || lc_rpc_conn_count(m->env->rpc, true) == MANY;
}

static bool many_gone(void *arg)
{
    struct many *m = arg;
    struct lc_rpc_stats st;
    lc_rpc_stats(m->env->rpc, &st);
    return m->closed == MANY && st.sessions == 0 && st.connections == 0;
}

static void test_many_connections(void **state)
{
    struct env e;
    struct many *m = calloc(1, sizeof *m);
    struct lc_rpc_stats st;
    (void)state;

    env_config(&e, LC_RPC_SDK);
    env_start(&e, true);
    m->env = &e;
    many_kick(m);
    assert_true(run_until(&e, many_registered, m, 20000));
    assert_int_equal(m->failed, 0);
    lc_rpc_stats(e.rpc, &st);
    assert_int_equal(st.connections, MANY);
    assert_int_equal(st.sdk_connections, MANY);
    assert_int_equal(st.sessions, MANY);
    for (int i = 0; i < MANY; i++) {
        lc_grpc_client_close(m->c[i].cl);
    }
    assert_true(run_until(&e, many_gone, m, 20000));
    assert_int_equal(e.observed[0], MANY);
    assert_int_equal(e.observed[1], MANY);
    assert_int_equal(lc_rpc_conn_count(e.rpc, false), 0);
    free(m);
    env_stop(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_check),
        cmocka_unit_test(test_dispatch_order),
        cmocka_unit_test(test_async_handler),
        cmocka_unit_test(test_setup),
        cmocka_unit_test(test_push),
        cmocka_unit_test(test_push_shared_body),
        cmocka_unit_test(test_push_outbuf),
        cmocka_unit_test(test_ejector),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_max_sdk),
        cmocka_unit_test(test_cluster_port),
        cmocka_unit_test(test_close_with_clients),
        cmocka_unit_test(test_stream_end),
        cmocka_unit_test(test_many_connections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
