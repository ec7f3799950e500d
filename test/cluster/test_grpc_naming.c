/* Naming over gRPC end to end on a real standalone locusd: a client made of
 * the lc_grpc client and lc_payload (ServerCheck, the bi-stream with
 * ConnectionSetup, unary requests, pushes answered) registers, deregisters,
 * batch-registers, registers persistent instances, queries, subscribes and
 * lists services on port + 1000, as the Java SDK does; a connection that
 * closes takes its instances, and another connection's subscription is
 * pushed; bad inputs get Nacos's errors and change nothing; the loader
 * endpoint and locusctl see the connections; SIGTERM closes them first;
 * in a cluster a persistent instance sent to a follower reaches every
 * member. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <signal.h>
#include <uv.h>

#include "rpc/grpc/grpc.h"
#include "rpc/grpc/rpc.h"
#include "test/support/tcluster.h"

#define WAIT_MS 5000
#define MAX_PUSHES 64

/* ------------------------------------------------------ a gRPC client */

struct gc {
    uv_loop_t loop;
    uv_timer_t tick; /* keeps uv_run(ONCE) returning */
    struct lc_grpc_client *cl;
    struct lc_grpc_cstream *stream;
    int connected; /* 0 waiting, 1 up, -1 failed */
    bool closed;
    bool setup_acked;
    bool reset;         /* ConnectResetRequest received */
    bool answer_pushes; /* reply NotifySubscriberResponse */
    char conn_id[128];
    json_t *pushes[MAX_PUSHES]; /* NotifySubscriberRequest bodies */
    unsigned n_pushes;
    unsigned next_id;
};

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

/* Run @g's loop until *@flag (a bool or int) is set or @ms pass. */
static bool spin(struct gc *g, const volatile int *iflag,
                 const volatile bool *bflag, unsigned ms)
{
    uint64_t until = tc_now_ms() + ms;
    while (tc_now_ms() < until) {
        if ((iflag != NULL && *iflag != 0) || (bflag != NULL && *bflag)) {
            return true;
        }
        uv_run(&g->loop, UV_RUN_ONCE);
    }
    return (iflag != NULL && *iflag != 0) || (bflag != NULL && *bflag);
}

static void on_connected(struct lc_grpc_client *cl, int status, void *data)
{
    struct gc *g = data;
    (void)cl;
    g->connected = status == 0 ? 1 : -1;
}

static void on_client_closed(struct lc_grpc_client *cl, void *data)
{
    struct gc *g = data;
    (void)cl;
    g->closed = true;
    g->cl = NULL;
    g->stream = NULL;
}

static void send_on_stream(struct gc *g, const char *type, json_t *body)
{
    uint8_t *buf;
    size_t len;
    assert_int_equal(lc_payload_encode(type, body, NULL, &buf, &len), 0);
    assert_int_equal(lc_grpc_cstream_send(g->stream, buf, len), 0);
    free(buf);
}

/* A request from the server on the bi-stream. */
static void on_stream_msg(struct lc_grpc_cstream *s, const uint8_t *msg,
                          size_t len, void *data)
{
    struct gc *g = data;
    struct lc_payload p;
    json_t *body = NULL;
    (void)s;
    if (lc_payload_decode(msg, len, &p) != 0) {
        return;
    }
    if (lc_payload_json(&p, &body) != 0) {
        lc_payload_free(&p);
        return;
    }
    if (strcmp(p.type, "SetupAckRequest") == 0) {
        g->setup_acked = true;
    } else if (strcmp(p.type, "ConnectResetRequest") == 0) {
        json_t *resp = json_object();
        g->reset = true;
        json_object_set_new(resp, "resultCode", json_integer(200));
        json_object_set_new(resp, "errorCode", json_integer(0));
        json_object_set_new(resp, "success", json_true());
        json_object_set(resp, "requestId", json_object_get(body, "requestId"));
        send_on_stream(g, "ConnectResetResponse", resp);
        json_decref(resp);
    } else if (strcmp(p.type, "NotifySubscriberRequest") == 0 ||
               strcmp(p.type, "ClientDetectionRequest") == 0) {
        bool notify = p.type[0] == 'N';
        if (notify && g->n_pushes < MAX_PUSHES) {
            g->pushes[g->n_pushes++] = json_incref(body);
        }
        if (!notify || g->answer_pushes) {
            json_t *resp = json_object();
            json_object_set_new(resp, "resultCode", json_integer(200));
            json_object_set_new(resp, "errorCode", json_integer(0));
            json_object_set_new(resp, "success", json_true());
            json_object_set(resp, "requestId",
                            json_object_get(body, "requestId"));
            send_on_stream(g,
                           notify ? "NotifySubscriberResponse"
                                  : "ClientDetectionResponse",
                           resp);
            json_decref(resp);
        }
    }
    json_decref(body);
    lc_payload_free(&p);
}

static void on_stream_closed(struct lc_grpc_cstream *s, int status,
                             int grpc_status, const char *message, void *data)
{
    struct gc *g = data;
    (void)s;
    (void)status;
    (void)grpc_status;
    (void)message;
    g->stream = NULL;
}

struct call {
    struct lc_grpc_ccall cc;
    bool done;
    int status;
    char type[128];
    json_t *body;
};

static void on_call(struct lc_grpc_ccall *cc, int status, int grpc_status,
                    const char *message, const uint8_t *msg, size_t len)
{
    struct call *c = cc->data;
    struct lc_payload p;
    (void)message;
    c->done = true;
    c->status = status != 0 ? status : grpc_status;
    if (c->status != 0 || lc_payload_decode(msg, len, &p) != 0) {
        if (c->status == 0) {
            c->status = -1;
        }
        return;
    }
    snprintf(c->type, sizeof c->type, "%s", p.type);
    if (lc_payload_json(&p, &c->body) != 0) {
        c->status = -1;
    }
    lc_payload_free(&p);
}

/* A unary request of @type with @body (consumed); the response's body (a
 * new reference), its type in @type_out. Fails the test when there is no
 * response. */
static json_t *gc_request(struct gc *g, const char *type, json_t *body,
                          char *type_out, size_t type_size)
{
    struct call c;
    uint8_t *buf;
    size_t len;
    char rid[32];

    memset(&c, 0, sizeof c);
    c.cc.data = &c;
    snprintf(rid, sizeof rid, "%u", ++g->next_id);
    json_object_set_new(body, "requestId", json_string(rid));
    if (json_object_get(body, "headers") == NULL) {
        json_object_set_new(body, "headers", json_object());
    }
    assert_int_equal(lc_payload_encode(type, body, NULL, &buf, &len), 0);
    json_decref(body);
    assert_int_equal(lc_grpc_client_unary(g->cl, &c.cc, "/Request/request", buf,
                                          len, 3000, on_call),
                     0);
    free(buf);
    spin(g, NULL, &c.done, WAIT_MS);
    if (!c.done || c.status != 0) {
        fail_msg("%s: no response (status %d)", type, c.status);
    }
    if (type_out != NULL) {
        snprintf(type_out, type_size, "%s", c.type);
    }
    return c.body;
}

/* Connect to @port, ServerCheck, bi-stream with ConnectionSetup, wait for
 * SetupAck. */
static void gc_connect(struct gc *g, int port)
{
    struct lc_grpc_client_cbs cbs = {
        .data = g, .connected = on_connected, .closed = on_client_closed};
    struct lc_grpc_cstream_cbs scbs = {
        .data = g, .msg = on_stream_msg, .closed = on_stream_closed};
    json_t *resp, *setup, *labels;
    char type[128];

    memset(g, 0, sizeof *g);
    g->answer_pushes = true;
    assert_int_equal(uv_loop_init(&g->loop), 0);
    uv_timer_init(&g->loop, &g->tick);
    uv_timer_start(&g->tick, on_tick, 10, 10);
    assert_int_equal(
        lc_grpc_client_new(&g->loop, "127.0.0.1", port, 0, &cbs, &g->cl), 0);
    spin(g, &g->connected, NULL, WAIT_MS);
    assert_int_equal(g->connected, 1);

    /* The SDK port serves once naming is ready (within 100 ms of HTTP's
     * UP): 300 "Server is starting" until then, and the client retries. */
    for (unsigned tries = 0;; tries++) {
        resp = gc_request(g, "ServerCheckRequest",
                          json_pack("{s:s}", "module", "internal"), type,
                          sizeof type);
        if (strcmp(type, "ServerCheckResponse") == 0 || tries == 50) {
            break;
        }
        if (json_integer_value(json_object_get(resp, "errorCode")) != 300) {
            char *s = json_dumps(resp, 0);
            fail_msg("ServerCheck: %s %s", type, s);
        }
        json_decref(resp);
        tc_sleep_ms(20);
    }
    assert_string_equal(type, "ServerCheckResponse");
    snprintf(g->conn_id, sizeof g->conn_id, "%s",
             json_string_value(json_object_get(resp, "connectionId")));
    json_decref(resp);
    assert_true(g->conn_id[0] != '\0');

    assert_int_equal(lc_grpc_client_stream(g->cl,
                                           "/BiRequestStream/requestBiStream",
                                           &scbs, &g->stream),
                     0);
    labels = json_pack("{s:s,s:s}", "source", "sdk", "module", "naming");
    setup = json_pack("{s:s,s:s,s:o,s:{},s:s,s:{}}", "clientVersion",
                      "Nacos-Java-Client:v2.4.3", "tenant", "", "labels",
                      labels, "abilityTable", "module", "internal", "headers");
    send_on_stream(g, "ConnectionSetupRequest", setup);
    json_decref(setup);
    spin(g, NULL, &g->setup_acked, WAIT_MS);
    assert_true(g->setup_acked);
}

static void gc_close(struct gc *g)
{
    if (g->cl != NULL) {
        lc_grpc_client_close(g->cl);
        spin(g, NULL, &g->closed, WAIT_MS);
        assert_true(g->closed);
    }
    uv_close((uv_handle_t *)&g->tick, NULL);
    uv_run(&g->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&g->loop), 0);
    for (unsigned i = 0; i < g->n_pushes; i++) {
        json_decref(g->pushes[i]);
    }
    g->n_pushes = 0;
}

/* The next push (a new reference to its body) within @ms, or NULL. */
static json_t *gc_push(struct gc *g, unsigned ms)
{
    uint64_t until = tc_now_ms() + ms;
    while (g->n_pushes == 0 && tc_now_ms() < until) {
        uv_run(&g->loop, UV_RUN_ONCE);
    }
    if (g->n_pushes == 0) {
        return NULL;
    }
    {
        json_t *p = g->pushes[0];
        memmove(g->pushes, g->pushes + 1,
                (g->n_pushes - 1) * sizeof g->pushes[0]);
        g->n_pushes--;
        return p;
    }
}

/* ------------------------------------------------------------ requests */

static json_t *instance(const char *ip, int port, bool ephemeral)
{
    return json_pack("{s:s,s:i,s:f,s:b,s:b,s:b,s:s,s:{s:s}}", "ip", ip, "port",
                     port, "weight", 1.0, "healthy", 1, "enabled", 1,
                     "ephemeral", ephemeral, "clusterName", "DEFAULT",
                     "metadata", "k", "v");
}

static json_t *naming_req(const char *service, const char *group)
{
    json_t *o = json_object();
    json_object_set_new(o, "namespace", json_string("public"));
    if (service != NULL) {
        json_object_set_new(o, "serviceName", json_string(service));
    }
    json_object_set_new(o, "groupName", json_string(group));
    json_object_set_new(o, "module", json_string("naming"));
    return o;
}

/* InstanceRequest (or @req_type) of @type for @inst (consumed). */
static json_t *instance_req(struct gc *g, const char *req_type,
                            const char *service, const char *type, json_t *inst,
                            char *rtype, size_t rsize)
{
    json_t *o = naming_req(service, "DEFAULT_GROUP");
    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "instance", inst);
    return gc_request(g, req_type, o, rtype, rsize);
}

static void expect_ok(json_t *resp, const char *rtype, const char *want_type)
{
    if (!json_is_true(json_object_get(resp, "success"))) {
        char *s = json_dumps(resp, 0);
        fail_msg("%s not successful: %s", want_type, s);
    }
    assert_string_equal(rtype, want_type);
    assert_int_equal(json_integer_value(json_object_get(resp, "resultCode")),
                     200);
}

static void expect_error(json_t *resp, const char *rtype, const char *want_type,
                         int code, const char *msg)
{
    char *s = json_dumps(resp, 0);
    if (strcmp(rtype, want_type) != 0 ||
        json_integer_value(json_object_get(resp, "errorCode")) != code ||
        json_is_true(json_object_get(resp, "success")) ||
        (msg != NULL &&
         strcmp(json_string_value(json_object_get(resp, "message")), msg) !=
             0)) {
        fail_msg("want %s %d %s, got %s %s", want_type, code,
                 msg != NULL ? msg : "", rtype, s);
    }
    free(s);
}

static void reg(struct gc *g, const char *service, int port)
{
    char rtype[128];
    json_t *r =
        instance_req(g, "InstanceRequest", service, "registerInstance",
                     instance("127.0.0.1", port, true), rtype, sizeof rtype);
    expect_ok(r, rtype, "InstanceResponse");
    assert_string_equal(json_string_value(json_object_get(r, "type")),
                        "registerInstance");
    json_decref(r);
}

/* The ServiceInfo of @service through ServiceQueryRequest. */
static json_t *query(struct gc *g, const char *service)
{
    char rtype[128];
    json_t *o = naming_req(service, "DEFAULT_GROUP");
    json_t *r, *info;
    json_object_set_new(o, "cluster", json_string(""));
    json_object_set_new(o, "healthyOnly", json_false());
    json_object_set_new(o, "udpPort", json_integer(0));
    r = gc_request(g, "ServiceQueryRequest", o, rtype, sizeof rtype);
    expect_ok(r, rtype, "QueryServiceResponse");
    info = json_incref(json_object_get(r, "serviceInfo"));
    json_decref(r);
    assert_non_null(info);
    return info;
}

/* The hosts' ports of @info as "p1,p2" (sorted ascending). */
static const char *ports_of(json_t *info)
{
    static char out[512];
    int ports[64];
    size_t n = 0, i;
    json_t *h;
    json_array_foreach(json_object_get(info, "hosts"), i, h)
    {
        if (n < 64) {
            ports[n++] = (int)json_integer_value(json_object_get(h, "port"));
        }
    }
    for (size_t a = 0; a < n; a++) {
        for (size_t b = a + 1; b < n; b++) {
            if (ports[b] < ports[a]) {
                int x = ports[a];
                ports[a] = ports[b];
                ports[b] = x;
            }
        }
    }
    out[0] = '\0';
    for (i = 0; i < n; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "%s%d", i > 0 ? "," : "", ports[i]);
        strcat(out, buf);
    }
    return out;
}

/* Ports of @service as HTTP /instance/list shows them. */
static const char *http_ports(struct tc *t, const char *service)
{
    static char out[512];
    json_t *l = tc_list(t, 0, service, false, NULL);
    assert_non_null(l);
    snprintf(out, sizeof out, "%s", ports_of(l));
    json_decref(l);
    return out;
}

static int grpc_port(struct tc *t)
{
    return t->c.nodes[0].port + 1000;
}

/* ---------------------------------------------------------------- tests */

static void test_register_query(void **state)
{
    struct tc *t = *state;
    struct gc g;
    char rtype[128];
    json_t *r, *info;

    tc_up(t, "grpc_register", 1, NULL);
    gc_connect(&g, grpc_port(t));

    reg(&g, "gsvc", 9001);
    info = query(&g, "gsvc");
    assert_string_equal(json_string_value(json_object_get(info, "name")),
                        "gsvc");
    assert_string_equal(json_string_value(json_object_get(info, "groupName")),
                        "DEFAULT_GROUP");
    assert_string_equal(ports_of(info), "9001");
    assert_non_null(json_object_get(info, "cacheMillis"));
    assert_non_null(json_object_get(info, "lastRefTime"));
    assert_true(json_is_true(json_object_get(info, "valid")));
    json_decref(info);
    assert_string_equal(http_ports(t, "gsvc"), "9001");

    /* one publish per service and connection: a second ip:port replaces */
    reg(&g, "gsvc", 9002);
    assert_string_equal(http_ports(t, "gsvc"), "9002");

    /* deregister removes the connection's publish whatever port is named */
    r = instance_req(&g, "InstanceRequest", "gsvc", "deregisterInstance",
                     instance("127.0.0.1", 1234, true), rtype, sizeof rtype);
    expect_ok(r, rtype, "InstanceResponse");
    assert_string_equal(json_string_value(json_object_get(r, "type")),
                        "deregisterInstance");
    json_decref(r);
    assert_string_equal(http_ports(t, "gsvc"), "");

    /* a service that does not exist: a no-op */
    r = instance_req(&g, "InstanceRequest", "nosuch", "deregisterInstance",
                     instance("127.0.0.1", 1, true), rtype, sizeof rtype);
    expect_ok(r, rtype, "InstanceResponse");
    json_decref(r);

    /* closing the connection removes its instances */
    reg(&g, "gsvc", 9003);
    assert_string_equal(http_ports(t, "gsvc"), "9003");
    gc_close(&g);
    {
        uint64_t until = tc_now_ms() + WAIT_MS;
        while (strcmp(http_ports(t, "gsvc"), "") != 0 && tc_now_ms() < until) {
            tc_sleep_ms(50);
        }
    }
    assert_string_equal(http_ports(t, "gsvc"), "");
    tc_pass(t);
}

static void test_batch_and_persistent(void **state)
{
    struct tc *t = *state;
    struct gc g;
    char rtype[128];
    json_t *r, *o, *list;

    tc_up(t, "grpc_batch", 1, NULL);
    gc_connect(&g, grpc_port(t));

    o = naming_req("bsvc", "DEFAULT_GROUP");
    json_object_set_new(o, "type", json_string("batchRegisterInstance"));
    list = json_array();
    json_array_append_new(list, instance("127.0.0.1", 7001, true));
    json_array_append_new(list, instance("127.0.0.1", 7002, true));
    json_array_append_new(list, instance("127.0.0.1", 7003, true));
    json_object_set_new(o, "instances", list);
    r = gc_request(&g, "BatchInstanceRequest", o, rtype, sizeof rtype);
    expect_ok(r, rtype, "BatchInstanceResponse");
    json_decref(r);
    assert_string_equal(http_ports(t, "bsvc"), "7001,7002,7003");

    /* the retained list replaces the set (batchDeregisterService) */
    o = naming_req("bsvc", "DEFAULT_GROUP");
    json_object_set_new(o, "type", json_string("batchRegisterInstance"));
    list = json_array();
    json_array_append_new(list, instance("127.0.0.1", 7002, true));
    json_object_set_new(o, "instances", list);
    r = gc_request(&g, "BatchInstanceRequest", o, rtype, sizeof rtype);
    expect_ok(r, rtype, "BatchInstanceResponse");
    json_decref(r);
    assert_string_equal(http_ports(t, "bsvc"), "7002");

    /* a persistent instance in a batch: refused, nothing changes */
    o = naming_req("bsvc", "DEFAULT_GROUP");
    json_object_set_new(o, "type", json_string("batchRegisterInstance"));
    list = json_array();
    json_array_append_new(list, instance("127.0.0.1", 7005, true));
    json_array_append_new(list, instance("127.0.0.1", 7006, false));
    json_object_set_new(o, "instances", list);
    r = gc_request(&g, "BatchInstanceRequest", o, rtype, sizeof rtype);
    expect_error(r, rtype, "ErrorResponse", 400, NULL);
    json_decref(r);
    assert_string_equal(http_ports(t, "bsvc"), "7002");

    /* an empty batch: Nacos's instances.get(0) */
    o = naming_req("bsvc", "DEFAULT_GROUP");
    json_object_set_new(o, "type", json_string("batchRegisterInstance"));
    json_object_set_new(o, "instances", json_array());
    r = gc_request(&g, "BatchInstanceRequest", o, rtype, sizeof rtype);
    expect_error(r, rtype, "ErrorResponse", 500, NULL);
    json_decref(r);
    assert_string_equal(http_ports(t, "bsvc"), "7002");

    /* PersistentInstanceRequest: ip:port#false through Raft */
    r = instance_req(&g, "PersistentInstanceRequest", "psvc",
                     "registerInstance", instance("127.0.0.1", 8001, false),
                     rtype, sizeof rtype);
    expect_ok(r, rtype, "InstanceResponse");
    json_decref(r);
    assert_string_equal(http_ports(t, "psvc"), "8001");
    {
        json_t *l = tc_list(t, 0, "psvc", false, NULL);
        json_t *h = json_array_get(json_object_get(l, "hosts"), 0);
        assert_true(json_is_false(json_object_get(h, "ephemeral")));
        json_decref(l);
    }
    /* a batch on a persistent service */
    o = naming_req("psvc", "DEFAULT_GROUP");
    json_object_set_new(o, "type", json_string("batchRegisterInstance"));
    list = json_array();
    json_array_append_new(list, instance("127.0.0.1", 7001, true));
    json_object_set_new(o, "instances", list);
    r = gc_request(&g, "BatchInstanceRequest", o, rtype, sizeof rtype);
    expect_error(r, rtype, "ErrorResponse", 400,
                 "errCode: 400, errMsg: Current service DEFAULT_GROUP@@psvc "
                 "is persistent service, can't batch register ephemeral "
                 "instance. ");
    json_decref(r);
    /* an InstanceRequest with ephemeral:false goes the persistent way */
    r = instance_req(&g, "InstanceRequest", "psvc", "registerInstance",
                     instance("127.0.0.1", 8002, false), rtype, sizeof rtype);
    expect_ok(r, rtype, "InstanceResponse");
    json_decref(r);
    assert_string_equal(http_ports(t, "psvc"), "8001,8002");
    /* persistent instances outlive the connection; deregister removes */
    r = instance_req(&g, "PersistentInstanceRequest", "psvc",
                     "deregisterInstance", instance("127.0.0.1", 8001, false),
                     rtype, sizeof rtype);
    expect_ok(r, rtype, "InstanceResponse");
    json_decref(r);
    gc_close(&g);
    tc_sleep_ms(300);
    assert_string_equal(http_ports(t, "psvc"), "8002");
    assert_string_equal(http_ports(t, "bsvc"), "");
    tc_pass(t);
}

/* Another connection's subscription is pushed on register and when the
 * publishing connection closes; unsubscribing stops the pushes. */
static void test_subscribe_push(void **state)
{
    struct tc *t = *state;
    struct gc pub, sub;
    char rtype[128];
    json_t *o, *r, *p, *info;

    tc_up(t, "grpc_push", 1, NULL);
    gc_connect(&sub, grpc_port(t));
    o = naming_req("ssvc", "DEFAULT_GROUP");
    json_object_set_new(o, "subscribe", json_true());
    json_object_set_new(o, "clusters", json_string(""));
    r = gc_request(&sub, "SubscribeServiceRequest", o, rtype, sizeof rtype);
    expect_ok(r, rtype, "SubscribeServiceResponse");
    info = json_object_get(r, "serviceInfo");
    assert_string_equal(json_string_value(json_object_get(info, "name")),
                        "ssvc");
    json_decref(r);
    /* the first push of a new subscription */
    p = gc_push(&sub, WAIT_MS);
    assert_non_null(p);
    json_decref(p);

    gc_connect(&pub, grpc_port(t));
    reg(&pub, "ssvc", 6001);
    for (;;) {
        p = gc_push(&sub, WAIT_MS);
        if (p == NULL) {
            fail_msg("no push after register");
        }
        info = json_object_get(p, "serviceInfo");
        assert_string_equal(json_string_value(json_object_get(p, "module")),
                            "naming");
        assert_string_equal(json_string_value(json_object_get(info, "name")),
                            "ssvc");
        assert_string_equal(
            json_string_value(json_object_get(info, "groupName")),
            "DEFAULT_GROUP");
        if (strcmp(ports_of(info), "6001") == 0) {
            json_decref(p);
            break;
        }
        json_decref(p);
    }

    /* the publisher's connection closes: its instance goes, pushed */
    gc_close(&pub);
    for (;;) {
        p = gc_push(&sub, WAIT_MS);
        if (p == NULL) {
            fail_msg("no push after the publisher closed");
        }
        info = json_object_get(p, "serviceInfo");
        if (strcmp(ports_of(info), "") == 0) {
            json_decref(p);
            break;
        }
        json_decref(p);
    }
    assert_string_equal(http_ports(t, "ssvc"), "");

    /* unsubscribe: no more pushes */
    o = naming_req("ssvc", "DEFAULT_GROUP");
    json_object_set_new(o, "subscribe", json_false());
    json_object_set_new(o, "clusters", json_string(""));
    r = gc_request(&sub, "SubscribeServiceRequest", o, rtype, sizeof rtype);
    expect_ok(r, rtype, "SubscribeServiceResponse");
    json_decref(r);
    gc_connect(&pub, grpc_port(t));
    reg(&pub, "ssvc", 6002);
    p = gc_push(&sub, 1000);
    assert_null(p);
    gc_close(&pub);
    gc_close(&sub);
    tc_pass(t);
}

static void test_service_list(void **state)
{
    struct tc *t = *state;
    struct gc g;
    char rtype[128];
    json_t *o, *r, *names;

    tc_up(t, "grpc_list", 1, NULL);
    gc_connect(&g, grpc_port(t));
    reg(&g, "la", 1);
    reg(&g, "lb", 2);
    reg(&g, "lc", 3);
    o = naming_req(NULL, "DEFAULT_GROUP");
    json_object_set_new(o, "pageNo", json_integer(1));
    json_object_set_new(o, "pageSize", json_integer(2));
    json_object_set_new(o, "selector", json_string(""));
    r = gc_request(&g, "ServiceListRequest", o, rtype, sizeof rtype);
    expect_ok(r, rtype, "ServiceListResponse");
    assert_int_equal(json_integer_value(json_object_get(r, "count")), 3);
    names = json_object_get(r, "serviceNames");
    assert_int_equal(json_array_size(names), 2);
    assert_string_equal(json_string_value(json_array_get(names, 0)), "la");
    json_decref(r);
    o = naming_req(NULL, "OTHER_GROUP");
    json_object_set_new(o, "pageNo", json_integer(1));
    json_object_set_new(o, "pageSize", json_integer(10));
    r = gc_request(&g, "ServiceListRequest", o, rtype, sizeof rtype);
    expect_ok(r, rtype, "ServiceListResponse");
    assert_int_equal(json_integer_value(json_object_get(r, "count")), 0);
    json_decref(r);
    gc_close(&g);
    tc_pass(t);
}

static void test_bad_input(void **state)
{
    struct tc *t = *state;
    struct gc g;
    char rtype[128];
    json_t *r, *o;

    tc_up(t, "grpc_bad", 1, NULL);
    gc_connect(&g, grpc_port(t));

    /* missing serviceName */
    r = instance_req(&g, "InstanceRequest", NULL, "registerInstance",
                     instance("127.0.0.1", 1, true), rtype, sizeof rtype);
    expect_error(r, rtype, "ErrorResponse", 500,
                 "Param 'serviceName' is illegal, serviceName is blank");
    json_decref(r);
    /* a bad ip: the parameter checker, as the handler's response */
    r = instance_req(&g, "InstanceRequest", "badsvc", "registerInstance",
                     instance("127.0.0.1 x", 1, true), rtype, sizeof rtype);
    expect_error(r, rtype, "InstanceResponse", 400,
                 "Param check invalid:Param 'ip' is illegal, illegal "
                 "characters should not appear in the param.");
    json_decref(r);
    /* an ip that is neither an address nor a host name (issue 11) */
    r = instance_req(&g, "InstanceRequest", "badsvc", "registerInstance",
                     instance("127.1.1.300", 1, true), rtype, sizeof rtype);
    expect_error(r, rtype, "InstanceResponse", 400,
                 "Param check invalid:Param 'ip' is illegal, it should be an "
                 "IPv4 or IPv6 address or a host name.");
    json_decref(r);
    r = instance_req(&g, "PersistentInstanceRequest", "badsvc",
                     "registerInstance", instance("bad..host", 1, false),
                     rtype, sizeof rtype);
    expect_error(r, rtype, "InstanceResponse", 400, NULL);
    json_decref(r);
    o = naming_req("badsvc", "DEFAULT_GROUP");
    json_object_set_new(o, "type", json_string("batchRegisterInstance"));
    {
        json_t *list = json_array();
        json_array_append_new(list, instance("127.0.0.1", 7001, true));
        json_array_append_new(list, instance("127.0.0.-1", 7002, true));
        json_object_set_new(o, "instances", list);
    }
    r = gc_request(&g, "BatchInstanceRequest", o, rtype, sizeof rtype);
    if (json_is_true(json_object_get(r, "success"))) {
        fail_msg("a batch with ip 127.0.0.-1 was accepted");
    }
    json_decref(r);
    /* an unknown instance request type */
    r = instance_req(&g, "InstanceRequest", "badsvc", "updateInstance",
                     instance("127.0.0.1", 1, true), rtype, sizeof rtype);
    expect_error(r, rtype, "ErrorResponse", 400,
                 "Unsupported request type updateInstance");
    json_decref(r);
    /* an illegal cluster name */
    o = instance("127.0.0.1", 1, true);
    json_object_set_new(o, "clusterName", json_string("a_b"));
    r = instance_req(&g, "InstanceRequest", "badsvc", "registerInstance", o,
                     rtype, sizeof rtype);
    expect_error(r, rtype, "ErrorResponse", 400,
                 "Instance 'clusterName' should be characters with only "
                 "0-9a-zA-Z-. (current: a_b)");
    json_decref(r);
    /* nothing was registered */
    {
        json_t *l = tc_list(t, 0, "badsvc", false, NULL);
        assert_int_equal(json_array_size(json_object_get(l, "hosts")), 0);
        json_decref(l);
    }
    gc_close(&g);
    tc_pass(t);
}

/* build/locusctl, next to the locusd under test. */
static const char *locusctl(void)
{
    static char path[PATH_MAX];
    const char *d = tc_locusd();
    const char *slash = strrchr(d, '/');
    snprintf(path, sizeof path, "%.*slocusctl",
             slash != NULL ? (int)(slash - d + 1) : 0, d);
    return path;
}

/* `locusctl --server 127.0.0.1:<node 0> @args` must exit 0; its output. */
static char *ctl(struct tc *t, const char *args)
{
    static char out[1 << 16];
    char cmd[PATH_MAX + 512];
    size_t n = 0, r;
    FILE *p;
    if (snprintf(cmd, sizeof cmd, "%s --server 127.0.0.1:%d %.200s", locusctl(),
                 t->c.nodes[0].port, args) >= (int)sizeof cmd) {
        fail_msg("command too long");
    }
    p = popen(cmd, "r");
    assert_non_null(p);
    while ((r = fread(out + n, 1, sizeof out - 1 - n, p)) > 0) {
        n += r;
    }
    out[n] = '\0';
    if (pclose(p) != 0) {
        fail_msg("%s failed: %s", cmd, out);
    }
    return out;
}

/* The loader endpoint, locusctl and the metrics see the connection and what
 * it holds; reloadClient resets it, and its instances go. */
static void test_loader(void **state)
{
    struct tc *t = *state;
    struct gc g;
    char *body = NULL;
    json_t *root, *conn, *m;

    tc_up(t, "grpc_loader", 1, NULL);
    gc_connect(&g, grpc_port(t));
    reg(&g, "ldsvc", 1);
    assert_int_equal(tc_http(t, 0, "GET", "/nacos/v2/core/loader/current", NULL,
                             NULL, &body),
                     200);
    root = json_loads(body, 0, NULL);
    assert_non_null(root);
    conn = json_object_get(root, g.conn_id);
    if (conn == NULL) {
        fail_msg("%s not in %s", g.conn_id, body);
    }
    free(body);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(conn, "metaInfo"), "version")),
                        "Nacos-Java-Client:v2.4.3");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(conn, "locus"), "instances")),
                     1);
    json_decref(root);
    body = NULL;
    assert_int_equal(tc_http(t, 0, "GET",
                             "/nacos/v1/ns/operator/metrics?onlyStatus=false",
                             NULL, NULL, &body),
                     200);
    m = json_loads(body, 0, NULL);
    free(body);
    assert_int_equal(
        json_integer_value(json_object_get(m, "connectionBasedClientCount")),
        1);
    json_decref(m);

    /* locusctl connections: JSON rows and the table */
    {
        json_t *rows = json_loads(ctl(t, "--json connections"), 0, NULL);
        json_t *row = json_array_get(rows, 0);
        assert_int_equal(json_array_size(rows), 1);
        assert_string_equal(
            json_string_value(json_object_get(row, "connectionId")), g.conn_id);
        assert_string_equal(json_string_value(json_object_get(row, "clientIp")),
                            "127.0.0.1");
        assert_int_equal(json_integer_value(json_object_get(row, "instances")),
                         1);
        assert_int_equal(
            json_integer_value(json_object_get(row, "subscriptions")), 0);
        assert_string_equal(json_string_value(json_object_get(
                                json_object_get(row, "labels"), "source")),
                            "sdk");
        json_decref(rows);
        assert_non_null(strstr(ctl(t, "connections"), g.conn_id));
    }

    /* reloadClient: ConnectReset, then the connection is closed */
    {
        char path[256];
        snprintf(path, sizeof path,
                 "/nacos/v2/core/loader/reloadClient?connectionId=%s",
                 g.conn_id);
        body = NULL;
        assert_int_equal(tc_http(t, 0, "GET", path, NULL, NULL, &body), 200);
        assert_string_equal(body, "success");
        free(body);
    }
    spin(&g, NULL, &g.reset, WAIT_MS);
    assert_true(g.reset);
    spin(&g, NULL, &g.closed, WAIT_MS);
    assert_true(g.closed);
    {
        uint64_t until = tc_now_ms() + WAIT_MS;
        while (strcmp(http_ports(t, "ldsvc"), "") != 0 && tc_now_ms() < until) {
            tc_sleep_ms(50);
        }
    }
    assert_string_equal(http_ports(t, "ldsvc"), "");
    gc_close(&g);
    tc_pass(t);
}

/* A subscriber that never answers: the push fails after the ack timeout
 * (5 s) and is tried again after 1 s. */
static void test_push_unacked(void **state)
{
    struct tc *t = *state;
    struct gc sub;
    char rtype[128];
    json_t *o, *r, *p;
    uint64_t t0;

    tc_up(t, "grpc_unacked", 1, NULL);
    gc_connect(&sub, grpc_port(t));
    sub.answer_pushes = false;
    o = naming_req("usvc", "DEFAULT_GROUP");
    json_object_set_new(o, "subscribe", json_true());
    r = gc_request(&sub, "SubscribeServiceRequest", o, rtype, sizeof rtype);
    expect_ok(r, rtype, "SubscribeServiceResponse");
    json_decref(r);
    p = gc_push(&sub, WAIT_MS);
    assert_non_null(p);
    json_decref(p);
    t0 = tc_now_ms();
    p = gc_push(&sub, 9000);
    assert_non_null(p);
    json_decref(p);
    if (tc_now_ms() - t0 < 5000) {
        fail_msg("retried after %llu ms, before the ack timeout",
                 (unsigned long long)(tc_now_ms() - t0));
    }
    gc_close(&sub);
    tc_pass(t);
}

/* In a cluster of 3: a persistent instance registered over gRPC on a
 * follower of its group goes through the leader and every member lists
 * it; an ephemeral one stays on the member its connection is on. */
static void test_cluster_persistent(void **state)
{
    struct tc *t = *state;
    struct gc g;
    char rtype[128];
    json_t *r;
    unsigned leader, other;
    int port = 5151;

    tc_up(t, "grpc_cluster", 3, NULL);
    leader = (unsigned)tc_leader(t, TC_PS, 0, TC_WAIT_MS);
    other = (leader + 1) % 3;
    gc_connect(&g, t->c.nodes[other].port + 1000);
    r = instance_req(&g, "PersistentInstanceRequest", "csvc",
                     "registerInstance", instance("127.0.0.1", port, false),
                     rtype, sizeof rtype);
    expect_ok(r, rtype, "InstanceResponse");
    json_decref(r);
    tc_expect_all(t, leader, "csvc", "127.0.0.1", &port, 1);
    tc_expect_all(t, (other + 1) % 3, "csvc", "127.0.0.1", &port, 1);
    reg(&g, "cesvc", 6161);
    {
        json_t *l = tc_list(t, other, "cesvc", false, NULL);
        assert_non_null(l);
        assert_string_equal(ports_of(l), "6161");
        json_decref(l);
    }
    gc_close(&g);
    tc_pass(t);
}

/* SIGTERM with a client connected: GOAWAY first, the connection closes,
 * the node exits cleanly. */
static void test_shutdown(void **state)
{
    struct tc *t = *state;
    struct gc g;

    tc_up(t, "grpc_shutdown", 1, NULL);
    gc_connect(&g, grpc_port(t));
    reg(&g, "shsvc", 1);
    tc_signal(t, 0, SIGTERM); /* fails unless it exits with status 0 */
    spin(&g, NULL, &g.closed, WAIT_MS);
    assert_true(g.closed);
    assert_true(tc_log_contains(t, 0, "closed: 1 instance(s) removed"));
    gc_close(&g);
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_register_query, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_batch_and_persistent, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_subscribe_push, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_service_list, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_loader, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_push_unacked, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_shutdown, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_cluster_persistent, tc_setup,
                                        tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
