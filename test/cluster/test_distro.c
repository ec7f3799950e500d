/* Distro on real 3-node clusters (distro/distro.h, ../shared/protocol.md
 * §5): ephemeral instances registered over gRPC on one member are listed
 * and pushed on the others; a killed member's clients stay on the
 * survivors until they expire; a restarted member loads 100,000 instances
 * before it is UP; a stopped member converges after SIGCONT (verify
 * repairs what sync missed); an instance metadata overlay survives a
 * client's move to another member. The gRPC clients are rpc/grpc/nclient,
 * on a loop this thread spins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "rpc/cluster/internal.h"
#include "rpc/grpc/nclient.h"
#include "test/support/tcluster.h"

#define WAIT_MS 20000

/* ------------------------------------------------------- gRPC clients */

struct cl {
    struct lc_nclient *c;
    int ready; /* 0 waiting, 1 ready, -1 failed */
    bool closed;
    unsigned pushes;
    char last_push[1 << 16];
};

static uv_loop_t loop;
static uv_timer_t tick;

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void loop_init(void)
{
    assert_int_equal(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 10, 10);
}

static void loop_fini(void)
{
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void spin_ms(unsigned ms)
{
    uint64_t until = tc_now_ms() + ms;
    while (tc_now_ms() < until) {
        uv_run(&loop, UV_RUN_ONCE);
    }
}

static void on_ready(struct lc_nclient *c, int status, void *data)
{
    struct cl *k = data;
    (void)c;
    k->ready = status == 0 ? 1 : -1;
}

static void on_push(struct lc_nclient *c, const char *json, size_t len,
                    void *data)
{
    struct cl *k = data;
    (void)c;
    k->pushes++;
    if (len >= sizeof k->last_push) {
        len = sizeof k->last_push - 1;
    }
    memcpy(k->last_push, json, len);
    k->last_push[len] = '\0';
}

static void on_closed(struct lc_nclient *c, void *data)
{
    struct cl *k = data;
    (void)c;
    k->closed = true;
    k->c = NULL;
}

static void cl_connect(struct cl *k, struct tc *t, unsigned node)
{
    struct lc_nclient_cbs cbs = {.data = k,
                                 .ready = on_ready,
                                 .push = on_push,
                                 .closed = on_closed};
    uint64_t until = tc_now_ms() + WAIT_MS;
    memset(k, 0, sizeof *k);
    assert_int_equal(lc_nclient_new(&loop, "127.0.0.1",
                                    t->c.nodes[node].port + 1000, &cbs, &k->c),
                     0);
    while (k->ready == 0 && tc_now_ms() < until) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_int_equal(k->ready, 1);
}

static void cl_close(struct cl *k)
{
    uint64_t until = tc_now_ms() + WAIT_MS;
    if (k->c != NULL && !k->closed) {
        lc_nclient_close(k->c);
    }
    while (!k->closed && tc_now_ms() < until) {
        uv_run(&loop, UV_RUN_ONCE);
    }
}

struct answer {
    struct lc_nreq r;
    bool done;
    int status;
    long long code;
    char msg[512];
    bool keep;   /* keep the body */
    json_t *body;
};

static void on_answer(struct lc_nreq *r, int status, const char *type,
                      json_t *body)
{
    struct answer *a = r->data;
    const char *m = json_string_value(json_object_get(body, "message"));
    (void)type;
    a->done = true;
    a->status = status;
    a->code = json_integer_value(json_object_get(body, "resultCode"));
    snprintf(a->msg, sizeof a->msg, "%s", m != NULL ? m : "");
    if (a->keep) {
        a->body = json_incref(body);
    }
}

/* Send @type with @body (consumed) and wait; fail unless resultCode 200. */
static void cl_call(struct cl *k, const char *type, json_t *body)
{
    struct answer a;
    uint64_t until = tc_now_ms() + WAIT_MS;
    memset(&a, 0, sizeof a);
    a.r.data = &a;
    if (k->c == NULL) {
        fail_msg("%s: the client's connection was closed", type);
    }
    assert_int_equal(lc_nclient_request(k->c, &a.r, type, body, 10000,
                                        on_answer),
                     0);
    json_decref(body);
    while (!a.done && tc_now_ms() < until) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    if (!a.done || a.status != 0 || a.code != 200) {
        fail_msg("%s: status %d code %lld %s", type, a.status, a.code, a.msg);
    }
}

static json_t *inst(const char *ip, int port, const char *meta)
{
    return json_pack("{s:s,s:i,s:f,s:b,s:b,s:b,s:s,s:{s:s}}", "ip", ip, "port",
                     port, "weight", 1.0, "healthy", 1, "enabled", 1,
                     "ephemeral", 1, "clusterName", "DEFAULT", "metadata",
                     "who", meta);
}

static json_t *naming_req(const char *service)
{
    return json_pack("{s:s,s:s,s:s,s:s}", "namespace", "public", "serviceName",
                     service, "groupName", "DEFAULT_GROUP", "module", "naming");
}

static void cl_register(struct cl *k, const char *service, const char *ip,
                        int port)
{
    json_t *b = naming_req(service);
    json_object_set_new(b, "type", json_string("registerInstance"));
    json_object_set_new(b, "instance", inst(ip, port, "grpc"));
    cl_call(k, "InstanceRequest", b);
}

static void cl_deregister(struct cl *k, const char *service, const char *ip,
                          int port)
{
    json_t *b = naming_req(service);
    json_object_set_new(b, "type", json_string("deregisterInstance"));
    json_object_set_new(b, "instance", inst(ip, port, "grpc"));
    cl_call(k, "InstanceRequest", b);
}

/* @count instances 127.x.y.z:port of @service in one batch. */
static void cl_batch(struct cl *k, const char *service, unsigned base,
                     unsigned count)
{
    json_t *b = naming_req(service);
    json_t *list = json_array();
    for (unsigned i = 0; i < count; i++) {
        unsigned v = base + i;
        char ip[32];
        snprintf(ip, sizeof ip, "127.%u.%u.%u", (v >> 16) & 255,
                 (v >> 8) & 255, v & 255);
        json_array_append_new(list, inst(ip, 1000 + (int)(v % 50000), "b"));
    }
    json_object_set_new(b, "type", json_string("batchRegisterInstance"));
    json_object_set_new(b, "instances", list);
    cl_call(k, "BatchInstanceRequest", b);
}

static void cl_subscribe(struct cl *k, const char *service)
{
    json_t *b = naming_req(service);
    json_object_set_new(b, "subscribe", json_true());
    json_object_set_new(b, "clusters", json_string(""));
    cl_call(k, "SubscribeServiceRequest", b);
}

/* ------------------------------------------------------------- reading */

/* The hosts of @service on node @i as "ip:port,..." in list order, or
 * NULL when the list cannot be read. */
static json_t *hosts(struct tc *t, unsigned i, const char *service)
{
    char path[512];
    char *body = NULL;
    json_t *o, *h;
    snprintf(path, sizeof path,
             "/nacos/v1/ns/instance/list?serviceName=%s", service);
    if (tc_http(t, i, "GET", path, NULL, NULL, &body) != 200) {
        free(body);
        return NULL;
    }
    o = json_loads(body, 0, NULL);
    free(body);
    h = json_incref(json_object_get(o, "hosts"));
    json_decref(o);
    return h;
}

static long long count_of(struct tc *t, unsigned i, const char *service)
{
    json_t *h = hosts(t, i, service);
    long long n = h != NULL ? (long long)json_array_size(h) : -1;
    json_decref(h);
    return n;
}

static bool has_host(struct tc *t, unsigned i, const char *service,
                     const char *ip, int port)
{
    json_t *h = hosts(t, i, service), *v;
    size_t k;
    bool found = false;
    json_array_foreach(h, k, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "ip")), ip) == 0 &&
            json_integer_value(json_object_get(v, "port")) == port) {
            found = true;
        }
    }
    json_decref(h);
    return found;
}

/* Spin the loop (pushes keep flowing) until node @i lists @n instances of
 * @service; fail after @ms. Return the time it took. */
static uint64_t wait_count(struct tc *t, unsigned i, const char *service,
                           long long n, unsigned ms)
{
    uint64_t start = tc_now_ms(), until = start + ms;
    long long got = -2;
    while (tc_now_ms() < until) {
        got = count_of(t, i, service);
        if (got == n) {
            return tc_now_ms() - start;
        }
        spin_ms(5);
    }
    fail_msg("node %u lists %lld instance(s) of %s, want %lld", i, got,
             service, n);
    return 0;
}

static long long metric(struct tc *t, unsigned i, const char *field)
{
    char *body = NULL;
    json_t *o;
    long long v = -1;
    if (tc_http(t, i, "GET", "/nacos/v1/ns/operator/metrics?onlyStatus=false",
                NULL, NULL, &body) == 200) {
        o = json_loads(body, 0, NULL);
        v = json_integer_value(json_object_get(o, field));
        json_decref(o);
    }
    free(body);
    return v;
}

static void wait_metric(struct tc *t, unsigned i, const char *field,
                        long long want, unsigned ms)
{
    uint64_t until = tc_now_ms() + ms;
    long long got = -1;
    while (tc_now_ms() < until) {
        got = metric(t, i, field);
        if (got == want) {
            return;
        }
        spin_ms(50); /* the clients answer the server's detections */
    }
    fail_msg("node %u: %s is %lld, want %lld", i, field, got, want);
}

/* Wait for node @i to say UP, spinning the loop meanwhile (the clients
 * answer the server's ClientDetectionRequests, or it closes them). */
static void wait_up(struct tc *t, unsigned i, unsigned ms)
{
    uint64_t until = tc_now_ms() + ms;
    while (tc_now_ms() < until) {
        char *body = NULL;
        bool up = tc_http(t, i, "GET", "/nacos/v1/ns/operator/metrics", NULL,
                          NULL, &body) == 200 &&
                  body != NULL && strstr(body, "\"UP\"") != NULL;
        free(body);
        if (up) {
            return;
        }
        spin_ms(20);
    }
    fail_msg("node %u not UP within %u ms", i, ms);
}

/* Fast verify and expiry, so the tests see them within seconds. */
/* Balancing off: these tests put each client on the member they choose
 * (and their clients do not reconnect after a ConnectReset). */
#define PROPS                                                                  \
    "nacos.core.protocol.distro.data.verify.intervalMs=500\n"                 \
    "nacos.core.member.fail-access-cnt=1\n"                                   \
    "locus.loader.balance.enabled=false\n"

/* -------------------------------------------------------------- tests */

/* Register over gRPC on A; list on B and C; subscribe on C and receive the
 * changes made through A and B; deregister and close reach everyone. */
static void test_replicate(void **state)
{
    struct tc *t = *state;
    struct cl a, b, c;
    uint64_t worst = 0;
    tc_up(t, "distro_replicate", 3, PROPS);
    loop_init();
    cl_connect(&a, t, 0);
    cl_connect(&b, t, 1);
    cl_connect(&c, t, 2);
    cl_subscribe(&c, "d1");
    cl_register(&a, "d1", "127.0.0.1", 9001);
    for (unsigned i = 0; i < 3; i++) {
        uint64_t took = wait_count(t, i, "d1", 1, WAIT_MS);
        worst = took > worst ? took : worst;
    }
    print_message("register on A visible on all within %llu ms\n",
                  (unsigned long long)worst);
    assert_true(has_host(t, 2, "d1", "127.0.0.1", 9001));
    /* C's subscriber is pushed what A and B change */
    {
        uint64_t until = tc_now_ms() + WAIT_MS;
        while (strstr(c.last_push, "9001") == NULL && tc_now_ms() < until) {
            uv_run(&loop, UV_RUN_ONCE);
        }
        assert_non_null(strstr(c.last_push, "9001"));
    }
    cl_register(&b, "d1", "127.0.0.2", 9002);
    {
        uint64_t until = tc_now_ms() + WAIT_MS;
        while (!(strstr(c.last_push, "9002") != NULL &&
                 strstr(c.last_push, "9001") != NULL) &&
               tc_now_ms() < until) {
            uv_run(&loop, UV_RUN_ONCE);
        }
        assert_non_null(strstr(c.last_push, "9002"));
    }
    for (unsigned i = 0; i < 3; i++) {
        wait_count(t, i, "d1", 2, WAIT_MS);
    }
    cl_deregister(&a, "d1", "127.0.0.1", 9001);
    for (unsigned i = 0; i < 3; i++) {
        wait_count(t, i, "d1", 1, WAIT_MS);
    }
    assert_true(has_host(t, 0, "d1", "127.0.0.2", 9002));
    {
        uint64_t until = tc_now_ms() + WAIT_MS;
        while (strstr(c.last_push, "9001") != NULL && tc_now_ms() < until) {
            uv_run(&loop, UV_RUN_ONCE);
        }
        assert_null(strstr(c.last_push, "9001"));
    }
    /* B's connection closes: its instance goes everywhere */
    cl_close(&b);
    for (unsigned i = 0; i < 3; i++) {
        wait_count(t, i, "d1", 0, WAIT_MS);
    }
    cl_close(&a);
    cl_close(&c);
    loop_fini();
    tc_pass(t);
}

/* The overlay (PUT /instance, naming_instance_metadata) applies to synced
 * instances and survives the client's reconnect to another member (Nacos
 * lost it: #10975). */
static void test_overlay_survives_move(void **state)
{
    struct tc *t = *state;
    struct cl a, b;
    char *body = NULL;
    json_t *h;
    int st;
    tc_up(t, "distro_overlay", 3, PROPS);
    loop_init();
    cl_connect(&a, t, 0);
    cl_register(&a, "ov", "127.0.0.5", 7000);
    wait_count(t, 2, "ov", 1, WAIT_MS);
    st = tc_http(t, 1, "PUT",
                 "/nacos/v1/ns/instance?serviceName=ov&ip=127.0.0.5&port=7000"
                 "&ephemeral=true&metadata=%7B%22color%22%3A%22red%22%7D",
                 NULL, NULL, &body);
    assert_int_equal(st, 200);
    free(body);
    /* the client moves: its old connection closes, a new one on B */
    cl_close(&a);
    cl_connect(&b, t, 1);
    cl_register(&b, "ov", "127.0.0.5", 7000);
    for (unsigned i = 0; i < 3; i++) {
        uint64_t until = tc_now_ms() + WAIT_MS;
        bool red = false;
        while (!red && tc_now_ms() < until) {
            h = hosts(t, i, "ov");
            red = json_array_size(h) == 1 &&
                  json_string_value(json_object_get(
                      json_object_get(json_array_get(h, 0), "metadata"),
                      "color")) != NULL &&
                  strcmp(json_string_value(json_object_get(
                             json_object_get(json_array_get(h, 0), "metadata"),
                             "color")),
                         "red") == 0;
            json_decref(h);
            if (!red) {
                spin_ms(20);
            }
        }
        if (!red) {
            fail_msg("node %u does not show the overlay", i);
        }
    }
    cl_close(&b);
    loop_fini();
    tc_pass(t);
}

/* kill -9 C: its clients stay on A and B until nacos.naming.client.expired
 * .time, then go, as nobody registers them again. */
static void test_kill_expiry(void **state)
{
    struct tc *t = *state;
    struct cl c;
    tc_up(t, "distro_kill", 3,
          PROPS "nacos.naming.client.expired.time=6000\n");
    loop_init();
    cl_connect(&c, t, 2);
    cl_register(&c, "k1", "127.0.0.3", 9003);
    wait_count(t, 0, "k1", 1, WAIT_MS);
    wait_count(t, 1, "k1", 1, WAIT_MS);
    tc_signal(t, 2, SIGKILL);
    /* still there right after the kill (renewed by verify < 1 s ago) */
    assert_int_equal(count_of(t, 0, "k1"), 1);
    assert_int_equal(count_of(t, 1, "k1"), 1);
    /* gone after the expiry */
    wait_count(t, 0, "k1", 0, 30000);
    wait_count(t, 1, "k1", 0, 30000);
    assert_true(tc_log_contains(t, 0, "expired"));
    cl_close(&c);
    loop_fini();
    tc_pass(t);
}

/* SIGTERM C: it tells the others its connections closed before it exits,
 * so their copies go at once, not after the 3-minute expiry. */
static void test_graceful_stop(void **state)
{
    struct tc *t = *state;
    struct cl c;
    tc_up(t, "distro_sigterm", 3, PROPS);
    loop_init();
    cl_connect(&c, t, 2);
    cl_register(&c, "g1", "127.0.0.7", 9007);
    wait_count(t, 0, "g1", 1, WAIT_MS);
    wait_count(t, 1, "g1", 1, WAIT_MS);
    tc_signal(t, 2, SIGTERM);
    wait_count(t, 0, "g1", 0, 10000);
    wait_count(t, 1, "g1", 0, 10000);
    cl_close(&c);
    loop_fini();
    tc_pass(t);
}

/* A member restarted with 100,000 ephemeral instances in the cluster loads
 * them (in pieces) before it reports UP. */
static void test_restart_load(void **state)
{
    struct tc *t = *state;
    struct cl cls[10];
    const unsigned services = 100, per = 1000, conns = 10;
    uint64_t start, up;
    char name[32];
    /* its connections stay on the first two members on purpose (PROPS
     * turns balancing off) */
    tc_up(t, "distro_load", 3, PROPS);
    loop_init();
    /* a client publishes 10 services of 1000: a sync of one stays well
     * below the message limit */
    for (unsigned k = 0; k < conns; k++) {
        cl_connect(&cls[k], t, k % 2);
    }
    for (unsigned s = 0; s < services; s++) {
        snprintf(name, sizeof name, "load%u", s);
        cl_batch(&cls[s % conns], name, s * per, per);
    }
    for (unsigned i = 0; i < 3; i++) {
        wait_metric(t, i, "instanceCount", (long long)services * per, 60000);
    }
    tc_signal(t, 2, SIGKILL);
    start = tc_now_ms();
    tc_start(t, 2);
    wait_up(t, 2, 60000);
    up = tc_now_ms() - start;
    /* UP means loaded: everything is there at the first look */
    assert_int_equal(metric(t, 2, "instanceCount"), (long long)services * per);
    print_message("restart with %u instances: UP in %llu ms\n",
                  services * per, (unsigned long long)up);
    assert_true(tc_log_contains(t, 2, "startup load done"));
    for (unsigned k = 0; k < conns; k++) {
        cl_close(&cls[k]);
    }
    loop_fini();
    tc_pass(t);
}

/* Two members restart together while the third holds the data, which is
 * last in address order: the first restarted one asks the other restarted
 * one first, is told it is loading too, and loads from the third. UP with
 * everything at the first look (verify cannot fill it meanwhile: a loading
 * member refuses VERIFY). */
static void test_two_restart_load(void **state)
{
    struct tc *t = *state;
    struct cl cls[2];
    const unsigned per = 1000;
    tc_up(t, "distro_two", 3, PROPS);
    loop_init();
    for (unsigned k = 0; k < 2; k++) {
        cl_connect(&cls[k], t, 2);
        cl_batch(&cls[k], k == 0 ? "two0" : "two1", k * per, per);
    }
    for (unsigned i = 0; i < 3; i++) {
        wait_metric(t, i, "instanceCount", 2 * per, 30000);
    }
    tc_signal(t, 0, SIGKILL);
    tc_signal(t, 1, SIGKILL);
    tc_start(t, 0);
    tc_start(t, 1);
    for (unsigned i = 0; i < 2; i++) {
        wait_up(t, i, 60000);
        assert_int_equal(metric(t, i, "instanceCount"), 2 * per);
    }
    for (unsigned k = 0; k < 2; k++) {
        cl_close(&cls[k]);
    }
    loop_fini();
    tc_pass(t);
}

/* SIGSTOP C, change instances on A and B, SIGCONT, change on C: all three
 * converge. The retry of failed syncs is pushed past the test: what C
 * missed comes from the requests it finds queued when it resumes, or from
 * verify (test_bad_data_and_verify shows verify alone repairing). */
static void test_stop_converge(void **state)
{
    struct tc *t = *state;
    struct cl a, b, c, a2, b2;
    tc_up(t, "distro_stop", 3,
          PROPS "nacos.core.protocol.distro.data.sync.retryDelayMs=600000\n");
    loop_init();
    cl_connect(&a, t, 0);
    cl_connect(&b, t, 1);
    cl_connect(&c, t, 2);
    cl_register(&a, "p1", "127.0.0.1", 1);
    cl_register(&b, "p1", "127.0.0.2", 2);
    cl_register(&c, "p1", "127.0.0.3", 3);
    for (unsigned i = 0; i < 3; i++) {
        wait_count(t, i, "p1", 3, WAIT_MS);
    }
    tc_signal(t, 2, SIGSTOP);
    cl_register(&a, "p1", "127.0.0.1", 11); /* replaces 1 */
    cl_connect(&a2, t, 0);
    cl_register(&a2, "p1", "127.0.0.4", 4);
    cl_connect(&b2, t, 1); /* b's register would replace its own */
    cl_register(&b2, "p1", "127.0.0.5", 5);
    wait_count(t, 0, "p1", 5, WAIT_MS);
    wait_count(t, 1, "p1", 5, WAIT_MS);
    tc_sleep_ms(4000); /* the syncs to C time out */
    tc_signal(t, 2, SIGCONT);
    cl_register(&c, "p2", "127.0.0.3", 33);
    /* expected everywhere: 11, 2, 3, 4, 5 in p1; 33 in p2 */
    for (unsigned i = 0; i < 3; i++) {
        wait_count(t, i, "p1", 5, 30000);
        assert_false(has_host(t, i, "p1", "127.0.0.1", 1));
        assert_true(has_host(t, i, "p1", "127.0.0.1", 11));
        assert_true(has_host(t, i, "p1", "127.0.0.2", 2));
        assert_true(has_host(t, i, "p1", "127.0.0.3", 3));
        assert_true(has_host(t, i, "p1", "127.0.0.4", 4));
        assert_true(has_host(t, i, "p1", "127.0.0.5", 5));
        wait_count(t, i, "p2", 1, 30000);
    }
    cl_close(&a);
    cl_close(&a2);
    cl_close(&b);
    cl_close(&b2);
    cl_close(&c);
    loop_fini();
    tc_pass(t);
}

/* ------------------------------------------- a member's own connection */

struct member_conn {
    struct cl k;
    char member[64]; /* locus.member */
    char secret[256];
};

static void member_labels(struct lc_nclient *c, json_t *labels, void *data)
{
    struct member_conn *m = data;
    char proof[LC_PEERS_PROOF_HEX];
    json_object_set_new(labels, "source", json_string("cluster"));
    json_object_set_new(labels, "locus.member", json_string(m->member));
    lc__peers_proof((const uint8_t *)m->secret, strlen(m->secret),
                    lc_nclient_id(c), proof);
    json_object_set_new(labels, "locus.proof", json_string(proof));
}

static void member_ready(struct lc_nclient *c, int status, void *data)
{
    on_ready(c, status, &((struct member_conn *)data)->k);
}

static void member_closed(struct lc_nclient *c, void *data)
{
    on_closed(c, &((struct member_conn *)data)->k);
}

/* Connect to node @to's cluster port as member @as, with the proof. */
static void member_connect(struct member_conn *m, struct tc *t, unsigned to,
                           unsigned as)
{
    struct lc_nclient_cbs cbs = {.data = m,
                                 .ready = member_ready,
                                 .closed = member_closed,
                                 .labels = member_labels};
    char path[1200];
    FILE *f;
    size_t n;
    uint64_t until = tc_now_ms() + WAIT_MS;

    memset(m, 0, sizeof *m);
    snprintf(m->member, sizeof m->member, "127.0.0.1:%d", t->c.nodes[as].port);
    snprintf(path, sizeof path, "%s/secret", t->c.dir);
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(m->secret, 1, sizeof m->secret - 1, f);
    fclose(f);
    while (n > 0 && (m->secret[n - 1] == '\n' || m->secret[n - 1] == ' ')) {
        n--;
    }
    m->secret[n] = '\0';
    assert_int_equal(lc_nclient_new(&loop, "127.0.0.1",
                                    t->c.nodes[to].port + 1001, &cbs, &m->k.c),
                     0);
    while (m->k.ready == 0 && tc_now_ms() < until) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_int_equal(m->k.ready, 1);
}

/* Send DistroDataRequest @body (consumed); the answer's resultCode, its
 * message into @msg. */
static long long distro_call(struct cl *k, json_t *body, char *msg,
                             size_t size)
{
    struct answer a;
    uint64_t until = tc_now_ms() + WAIT_MS;
    memset(&a, 0, sizeof a);
    a.r.data = &a;
    assert_int_equal(lc_nclient_request(k->c, &a.r, "DistroDataRequest", body,
                                        10000, on_answer),
                     0);
    json_decref(body);
    while (!a.done && tc_now_ms() < until) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_true(a.done);
    assert_int_equal(a.status, 0);
    snprintf(msg, size, "%s", a.msg);
    return a.code;
}

/* The same, the whole answer returned (a new reference). */
static json_t *distro_call_body(struct cl *k, json_t *body)
{
    struct answer a;
    uint64_t until = tc_now_ms() + WAIT_MS;
    memset(&a, 0, sizeof a);
    a.r.data = &a;
    a.keep = true;
    assert_int_equal(lc_nclient_request(k->c, &a.r, "DistroDataRequest", body,
                                        10000, on_answer),
                     0);
    json_decref(body);
    while (!a.done && tc_now_ms() < until) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_true(a.done);
    assert_int_equal(a.status, 0);
    assert_non_null(a.body);
    return a.body;
}

static char *b64(const char *text)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t len = strlen(text), o = 0;
    char *out = malloc(len / 3 * 4 + 8);
    const unsigned char *in = (const unsigned char *)text;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 |
                     in[i + 2];
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (i < len) {
        unsigned v = (unsigned)in[i] << 16 |
                     (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0);
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

/* A distroData of @type for @id with @content (JSON text, base64'd here;
 * NULL: none; @raw: put as it is). */
static json_t *dd(const char *id, const char *type, const char *content,
                  bool raw)
{
    json_t *o = json_pack("{s:{s:s,s:s},s:s}", "distroKey", "resourceKey", id,
                          "resourceType", "Nacos:Naming:v2:ClientData", "type",
                          type);
    if (content != NULL) {
        char *enc = raw ? strdup(content) : b64(content);
        json_object_set_new(o, "content", json_string(enc));
        free(enc);
    }
    return o;
}

static json_t *request(json_t *first)
{
    return json_pack("{s:o,s:s}", "distroData", first, "dataOperation",
                     json_string_value(json_object_get(first, "type")));
}

/* A ClientSyncData of @id: one instance @ip:@port in service @service. */
static char *csd(const char *id, const char *service, const char *ip,
                 int port, long long revision)
{
    char *out = malloc(1024);
    snprintf(out, 1024,
             "{\"clientId\":\"%s\",\"attributes\":{\"clientAttributes\":"
             "{\"revision\":%lld}},\"namespaces\":[\"public\"],"
             "\"groupNames\":[\"DEFAULT_GROUP\"],\"serviceNames\":[\"%s\"],"
             "\"instancePublishInfos\":[{\"ip\":\"%s\",\"port\":%d,"
             "\"healthy\":true,\"cluster\":\"DEFAULT\",\"extendDatum\":"
             "{\"weight\":1.0,\"enabled\":true}}]}",
             id, revision, service, ip, port);
    return out;
}

/* DistroDataRequests with bad content are refused with [DISTRO-FAILED]
 * and change nothing; a copy a peer corrupted (what a lost sync leaves) is
 * repaired by the owner's verify. */
static void test_bad_data_and_verify(void **state)
{
    struct tc *t = *state;
    struct cl a;
    struct member_conn m;
    char msg[512];
    char *good, *bad;
    long long before;
    tc_up(t, "distro_bad", 3, PROPS);
    loop_init();
    cl_connect(&a, t, 0);
    cl_register(&a, "bd", "127.0.0.1", 7001);
    wait_count(t, 2, "bd", 1, WAIT_MS);
    before = metric(t, 2, "instanceCount");
    member_connect(&m, t, 2, 1);

    /* no distroData; unknown type */
    assert_int_equal(distro_call(&m.k, json_pack("{s:s}", "dataOperation",
                                                 "CHANGE"),
                                 msg, sizeof msg),
                     500);
    assert_non_null(strstr(msg, "[DISTRO-FAILED]"));
    assert_int_equal(distro_call(&m.k, request(dd("x", "BOGUS", NULL, false)),
                                 msg, sizeof msg),
                     500);
    /* content: not base64, not JSON, a bad port, a clientId that is not
     * the resourceKey */
    assert_int_equal(distro_call(&m.k, request(dd("x", "CHANGE", "!!!", true)),
                                 msg, sizeof msg),
                     500);
    assert_int_equal(distro_call(&m.k,
                                 request(dd("x", "CHANGE", "not json", false)),
                                 msg, sizeof msg),
                     500);
    bad = csd("x", "bd", "127.0.0.66", 70000, 1);
    assert_int_equal(distro_call(&m.k, request(dd("x", "CHANGE", bad, false)),
                                 msg, sizeof msg),
                     500);
    assert_non_null(strstr(msg, "[DISTRO-FAILED]"));
    free(bad);
    good = csd("y", "bd", "127.0.0.66", 1, 1);
    assert_int_equal(distro_call(&m.k, request(dd("x", "CHANGE", good, false)),
                                 msg, sizeof msg),
                     500);
    /* a batch whose second item is bad: the good first is not applied */
    {
        json_t *body = request(dd("y", "CHANGE", good, false));
        bad = csd("z", "bd", "", 1, 1);
        json_object_set_new(body, "locusBatch",
                            json_pack("[o]", dd("z", "CHANGE", bad, false)));
        free(bad);
        assert_int_equal(distro_call(&m.k, body, msg, sizeof msg), 500);
    }
    free(good);
    /* VERIFY and SNAPSHOT extensions with bad fields */
    {
        json_t *body = request(dd("x", "VERIFY", "{}", false));
        json_object_set_new(body, "locusVerify", json_string("all"));
        assert_int_equal(distro_call(&m.k, body, msg, sizeof msg), 500);
        body = request(dd("", "SNAPSHOT", NULL, false));
        json_object_set_new(body, "locusSnapshot",
                            json_pack("{s:i,s:i}", "session", 0, "cursor", -1));
        assert_int_equal(distro_call(&m.k, body, msg, sizeof msg), 500);
        body = request(dd("", "SNAPSHOT", NULL, false));
        json_object_set_new(body, "locusSnapshot",
                            json_pack("{s:i,s:i,s:s}", "session", 0, "cursor",
                                      0, "raw", "yes"));
        assert_int_equal(distro_call(&m.k, body, msg, sizeof msg), 500);
    }
    /* nothing changed, the node is up */
    assert_int_equal(metric(t, 2, "instanceCount"), before);
    assert_false(has_host(t, 2, "bd", "127.0.0.66", 1));
    assert_true(has_host(t, 2, "bd", "127.0.0.1", 7001));

    /* A good CHANGE is applied... */
    good = csd("y", "bd", "127.0.0.66", 1, 1);
    assert_int_equal(distro_call(&m.k, request(dd("y", "CHANGE", good, false)),
                                 msg, sizeof msg),
                     200);
    free(good);
    assert_true(has_host(t, 2, "bd", "127.0.0.66", 1));
    /* A raw snapshot piece: the ClientSyncData list as JSON in
     * locusContent, no base64 content; "y" in it as applied. */
    {
        json_t *body = request(dd("", "SNAPSHOT", NULL, false));
        json_t *ans, *list, *v;
        size_t i;
        bool seen = false;
        json_object_set_new(body, "locusSnapshot",
                            json_pack("{s:i,s:i,s:b}", "session", 0, "cursor",
                                      0, "raw", 1));
        ans = distro_call_body(&m.k, body);
        assert_int_equal(json_integer_value(json_object_get(ans, "resultCode")),
                         200);
        assert_null(json_object_get(json_object_get(ans, "distroData"),
                                    "content"));
        list = json_object_get(json_object_get(ans, "locusContent"),
                               "clientSyncDataList");
        assert_true(json_is_array(list));
        json_array_foreach(list, i, v)
        {
            if (strcmp(json_string_value(json_object_get(v, "clientId")),
                       "y") == 0) {
                json_t *info = json_array_get(
                    json_object_get(v, "instancePublishInfos"), 0);
                seen = true;
                assert_string_equal(
                    json_string_value(json_object_get(info, "ip")),
                    "127.0.0.66");
            }
        }
        assert_true(seen);
        assert_int_equal(json_integer_value(json_object_get(
                             json_object_get(ans, "locusSnapshot"), "next")),
                         -1);
        json_decref(ans);
    }
    /* ...and a DELETE removes it. */
    assert_int_equal(distro_call(&m.k, request(dd("y", "DELETE", NULL, false)),
                                 msg, sizeof msg),
                     200);
    assert_false(has_host(t, 2, "bd", "127.0.0.66", 1));

    /* C's copy of A's client corrupted (as a lost sync would leave it):
     * A's verify sees another revision and sends the full client. */
    good = csd(lc_nclient_id(a.c), "bd", "127.0.0.99", 1, 999999);
    assert_int_equal(distro_call(&m.k,
                                 request(dd(lc_nclient_id(a.c), "CHANGE", good,
                                            false)),
                                 msg, sizeof msg),
                     200);
    free(good);
    {
        uint64_t until = tc_now_ms() + WAIT_MS;
        while (!(has_host(t, 2, "bd", "127.0.0.1", 7001) &&
                 !has_host(t, 2, "bd", "127.0.0.99", 1)) &&
               tc_now_ms() < until) {
            spin_ms(20);
        }
    }
    assert_true(has_host(t, 2, "bd", "127.0.0.1", 7001));
    assert_false(has_host(t, 2, "bd", "127.0.0.99", 1));
    assert_true(tc_log_contains(t, 0, "differ on"));
    cl_close(&m.k);
    cl_close(&a);
    loop_fini();
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replicate, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_overlay_survives_move, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_kill_expiry, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_graceful_stop, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_stop_converge, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_bad_data_and_verify, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_two_restart_load, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_restart_load, tc_setup,
                                        tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
