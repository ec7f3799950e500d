/* The cluster plane (rpc/cluster/peers.h) between real locusd processes:
 * requests over peer channels with the membership proof, and what the
 * cluster port (main + 1001) does with connections that cannot prove
 * membership.
 *
 * Most tests start two nodes of a three-node cluster.conf and play the
 * third member in this process with its own lc_peers (the same cluster.conf
 * and secret), so the test both sends requests to real nodes and receives
 * theirs. */
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

#include "common/err.h"
#include "members/members.h"
#include "rpc/cluster/internal.h"
#include "rpc/cluster/peers.h"
#include "rpc/grpc/grpc.h"
#include "rpc/grpc/nclient.h"
#include "rpc/grpc/rpc.h"
#include "test/support/tcluster.h"

#define WAIT_MS 10000

/* ---------------------------------------------------------- the loop */

struct env {
    uv_loop_t loop;
    uv_timer_t tick; /* keeps uv_run(ONCE) returning */
    struct lc_members *members;
    struct lc_peers *ps;
    char secret[256];
    char addr[3][LC_MEMBER_ADDR_MAX];
};

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

/* Run the loop until *@flag or @ms pass. */
static bool spin(struct env *e, const volatile bool *flag, unsigned ms)
{
    uint64_t until = tc_now_ms() + ms;
    while (!*flag && tc_now_ms() < until) {
        uv_run(&e->loop, UV_RUN_ONCE);
    }
    return *flag;
}

static void spin_for(struct env *e, unsigned ms)
{
    bool never = false;
    spin(e, &never, ms);
}

static void read_secret(struct tc *t, char *out, size_t size)
{
    char path[1200];
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "%s/secret", t->c.dir);
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(out, 1, size - 1, f);
    fclose(f);
    out[n] = '\0';
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ')) {
        out[--n] = '\0';
    }
    assert_true(n > 0);
}

/* Start nodes 0 and 1 of a three-node cluster; this process is node 2
 * (member list and secret as the nodes have them), its plane listening on
 * node 2's cluster port when @listen. */
static void env_up(struct env *e, struct tc *t, const char *name, bool listen)
{
    struct lc_member_conf confs[3];
    struct lc_peers_config pc;

    memset(e, 0, sizeof *e);
    tc_init(t, name, 3, NULL);
    tc_start(t, 0);
    tc_start(t, 1);
    tc_wait_ready(t, 0);
    tc_wait_ready(t, 1);
    read_secret(t, e->secret, sizeof e->secret);
    for (unsigned i = 0; i < 3; i++) {
        confs[i] = (struct lc_member_conf){"127.0.0.1", t->c.nodes[i].port};
        snprintf(e->addr[i], sizeof e->addr[i], "127.0.0.1:%d",
                 t->c.nodes[i].port);
    }
    assert_int_equal(lc_members_new(confs, 3, &confs[2], &e->members, NULL, 0),
                     0);
    assert_int_equal(uv_loop_init(&e->loop), 0);
    uv_timer_init(&e->loop, &e->tick);
    uv_timer_start(&e->tick, on_tick, 10, 10);
    lc_peers_config_default(&pc);
    pc.members = e->members;
    pc.secret = (const uint8_t *)e->secret;
    pc.secret_len = strlen(e->secret);
    assert_int_equal(lc_peers_new(&e->loop, &pc, &e->ps), 0);
    if (listen) {
        assert_int_equal(
            lc_peers_listen(e->ps, "127.0.0.1", t->c.nodes[2].port + 1001), 0);
    }
}

static void on_env_closed(struct lc_peers *ps, void *data)
{
    (void)ps;
    *(bool *)data = true;
}

static void env_down(struct env *e)
{
    bool closed = false;

    lc_peers_close(e->ps, on_env_closed, &closed);
    assert_true(spin(e, &closed, WAIT_MS));
    uv_close((uv_handle_t *)&e->tick, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    lc_members_free(e->members);
}

/* ---------------------------------------------------------- requests */

struct req {
    struct lc_nreq r;
    bool done;
    int status;
    char type[128];
    json_t *body;
};

static void on_req(struct lc_nreq *r, int status, const char *type,
                   json_t *body)
{
    struct req *q = r->data;
    q->done = true;
    q->status = status;
    snprintf(q->type, sizeof q->type, "%s", type != NULL ? type : "");
    q->body = json_incref(body);
}

/* A MemberReportRequest from this process's plane to @addr; its end. */
static void report(struct env *e, const char *addr, struct req *q)
{
    json_t *self = lc_peers_member_json(e->ps, e->addr[2]);
    json_t *body = json_pack("{s:o}", "node", self);

    memset(q, 0, sizeof *q);
    q->r.data = q;
    assert_int_equal(lc_peers_request(e->ps, addr, &q->r, "MemberReportRequest",
                                      body, 0, on_req),
                     0);
    json_decref(body);
    assert_true(spin(e, &q->done, WAIT_MS));
}

static int result_code(const json_t *body)
{
    return (int)json_integer_value(json_object_get(body, "resultCode"));
}

/* Requests from this process's plane reach real nodes over channels set
 * up with the proof, and the nodes' own channels to each other and to us
 * work (their reports arrive). */
static void test_request(void **state)
{
    struct tc *t = *state;
    struct env e;
    struct req q;
    json_t *node;
    char needle[LC_MEMBER_ADDR_MAX + 32];

    env_up(&e, t, "peers_request", true);

    for (unsigned i = 0; i < 2; i++) {
        report(&e, e.addr[i], &q);
        assert_int_equal(q.status, 0);
        assert_string_equal(q.type, "MemberReportResponse");
        assert_int_equal(result_code(q.body), 200);
        node = json_object_get(q.body, "node");
        assert_string_equal(json_string_value(json_object_get(node, "address")),
                            e.addr[i]);
        json_decref(q.body);
    }
    /* Not a member: refused at once, the callback never fires. */
    {
        json_t *body = json_object();
        memset(&q, 0, sizeof q);
        q.r.data = &q;
        assert_int_equal(lc_peers_request(e.ps, "127.0.0.1:1", &q.r,
                                          "MemberReportRequest", body, 0,
                                          on_req),
                         LC_ENOTFOUND);
        json_decref(body);
    }

    /* The real nodes' channels: to each other, and to this process (their
     * reports mark it UP in their lists; ours marks them UP). */
    snprintf(needle, sizeof needle, "channel to %s ready", e.addr[1]);
    for (uint64_t until = tc_now_ms() + WAIT_MS;
         !tc_log_contains(t, 0, needle) && tc_now_ms() < until;) {
        spin_for(&e, 100);
    }
    assert_true(tc_log_contains(t, 0, needle));
    snprintf(needle, sizeof needle, "channel to %s ready", e.addr[2]);
    for (uint64_t until = tc_now_ms() + WAIT_MS;
         !(tc_log_contains(t, 0, needle) && tc_log_contains(t, 1, needle)) &&
         tc_now_ms() < until;) {
        spin_for(&e, 100);
    }
    assert_true(tc_log_contains(t, 0, needle));
    assert_true(tc_log_contains(t, 1, needle));
    assert_false(tc_log_contains(t, 0, "refused"));
    assert_false(tc_log_contains(t, 1, "refused"));

    env_down(&e);
    tc_pass(t);
}

/* ---------------------------------------------------------- admission */

struct conn {
    struct lc_nclient *c;
    const char *member; /* locus.member, or NULL: none */
    const char *secret; /* proof with this secret, or NULL: no proof */
    bool garbage;       /* a proof that is not hex of the right length */
    bool ready_done;
    int ready;
    bool closed;
};

static void conn_labels(struct lc_nclient *c, json_t *labels, void *data)
{
    struct conn *k = data;
    char proof[LC_PEERS_PROOF_HEX];

    json_object_set_new(labels, "source", json_string("cluster"));
    if (k->member != NULL) {
        json_object_set_new(labels, "locus.member", json_string(k->member));
    }
    if (k->garbage) {
        json_object_set_new(labels, "locus.proof", json_string("zz\xc3\xa9"));
    } else if (k->secret != NULL) {
        lc__peers_proof((const uint8_t *)k->secret, strlen(k->secret),
                        lc_nclient_id(c), proof);
        json_object_set_new(labels, "locus.proof", json_string(proof));
    }
}

static void conn_ready(struct lc_nclient *c, int status, void *data)
{
    struct conn *k = data;
    (void)c;
    k->ready_done = true;
    k->ready = status;
}

static void conn_closed(struct lc_nclient *c, void *data)
{
    struct conn *k = data;
    (void)c;
    k->closed = true;
    k->c = NULL;
}

/* Connect to @port with @k's labels; return the setup's status. */
static int try_setup(struct env *e, int port, struct conn *k)
{
    struct lc_nclient_cbs cbs = {.data = k,
                                 .ready = conn_ready,
                                 .closed = conn_closed,
                                 .labels = conn_labels};
    assert_int_equal(lc_nclient_new(&e->loop, "127.0.0.1", port, &cbs, &k->c),
                     0);
    assert_true(spin(e, &k->ready_done, WAIT_MS));
    return k->ready;
}

static void conn_close(struct env *e, struct conn *k)
{
    if (k->c != NULL) {
        lc_nclient_close(k->c);
    }
    assert_true(spin(e, &k->closed, WAIT_MS));
}

/* A MemberReportRequest body for node 2 (this process). */
static json_t *member_report_body(struct env *e, struct tc *t)
{
    return json_pack("{s:{s:s, s:s, s:i}, s:s, s:{}}", "node", "ip",
                     "127.0.0.1", "address", e->addr[2], "port",
                     t->c.nodes[2].port, "module", "cluster", "headers");
}

/* A bare gRPC session: no ServerCheck, no setup. */
struct raw {
    struct lc_grpc_client *cl;
    int connected; /* 0 waiting, 1 up, -1 failed */
    bool up_done;
    bool closed;
    bool done;
    int status;
    char type[128];
    json_t *body;
    struct lc_grpc_ccall cc;
};

static void raw_connected(struct lc_grpc_client *cl, int status, void *data)
{
    struct raw *r = data;
    (void)cl;
    r->connected = status == 0 ? 1 : -1;
    r->up_done = true;
}

static void raw_closed(struct lc_grpc_client *cl, void *data)
{
    struct raw *r = data;
    (void)cl;
    r->closed = true;
    r->cl = NULL;
}

static void raw_connect(struct env *e, struct raw *r, int port)
{
    struct lc_grpc_client_cbs cbs = {
        .data = r, .connected = raw_connected, .closed = raw_closed};
    memset(r, 0, sizeof *r);
    assert_int_equal(
        lc_grpc_client_new(&e->loop, "127.0.0.1", port, 0, &cbs, &r->cl), 0);
    assert_true(spin(e, &r->up_done, WAIT_MS));
    assert_int_equal(r->connected, 1);
}

static void raw_on_call(struct lc_grpc_ccall *cc, int status, int grpc_status,
                        const char *message, const uint8_t *msg, size_t len)
{
    struct raw *r = cc->data;
    struct lc_payload p;
    (void)message;
    r->done = true;
    r->status = status != 0 ? status : grpc_status;
    if (r->status != 0 || lc_payload_decode(msg, len, &p) != 0) {
        r->status = r->status != 0 ? r->status : -1;
        return;
    }
    snprintf(r->type, sizeof r->type, "%s", p.type);
    if (lc_payload_json(&p, &r->body) != 0) {
        r->status = -1;
    }
    lc_payload_free(&p);
}

/* A unary request; the response body (a new reference). */
static json_t *raw_request(struct env *e, struct raw *r, const char *type,
                           json_t *body)
{
    uint8_t *buf;
    size_t len;

    r->done = false;
    r->body = NULL;
    r->cc.data = r;
    assert_int_equal(lc_payload_encode(type, body, NULL, &buf, &len), 0);
    assert_int_equal(lc_grpc_client_unary(r->cl, &r->cc, "/Request/request",
                                          buf, len, 3000, raw_on_call),
                     0);
    free(buf);
    assert_true(spin(e, &r->done, WAIT_MS));
    assert_int_equal(r->status, 0);
    return r->body;
}

static void raw_close(struct env *e, struct raw *r)
{
    if (r->cl != NULL) {
        lc_grpc_client_close(r->cl);
    }
    assert_true(spin(e, &r->closed, WAIT_MS));
}

/* Connections that cannot prove membership are refused (the session
 * closed, nothing registered); unary requests on a connection that is not
 * set up answer 301; the node stays up and keeps admitting members. */
static void test_refused(void **state)
{
    struct tc *t = *state;
    struct env e;
    struct req q;
    int port;
    char other_secret[] = "0123456789abcdef0123456789abcdef";

    env_up(&e, t, "peers_refused", false);
    port = t->c.nodes[0].port + 1001;

    /* No identity at all (Nacos's own cluster client, or a stranger). */
    {
        struct conn k = {0};
        assert_int_equal(try_setup(&e, port, &k), LC_ECONN);
        conn_close(&e, &k);
    }
    /* A member's name without a proof. */
    {
        struct conn k = {.member = e.addr[2]};
        assert_int_equal(try_setup(&e, port, &k), LC_ECONN);
        conn_close(&e, &k);
    }
    /* A proof made with another secret. */
    {
        struct conn k = {.member = e.addr[2], .secret = other_secret};
        assert_int_equal(try_setup(&e, port, &k), LC_ECONN);
        conn_close(&e, &k);
    }
    /* Garbage for a proof. */
    {
        struct conn k = {.member = e.addr[2], .garbage = true};
        assert_int_equal(try_setup(&e, port, &k), LC_ECONN);
        conn_close(&e, &k);
    }
    /* The right secret, but not a member. */
    {
        struct conn k = {.member = "127.0.0.1:1", .secret = e.secret};
        assert_int_equal(try_setup(&e, port, &k), LC_ECONN);
        conn_close(&e, &k);
    }
    assert_true(tc_log_contains(t, 0, "refused: no membership proof"));
    assert_true(tc_log_contains(t, 0, "refused: bad membership proof"));
    assert_true(tc_log_contains(t, 0, "is not a member"));

    /* A member set up properly is served (the same request as below). */
    {
        struct conn k = {.member = e.addr[2], .secret = e.secret};
        json_t *body = member_report_body(&e, t);
        assert_int_equal(try_setup(&e, port, &k), 0);
        memset(&q, 0, sizeof q);
        q.r.data = &q;
        assert_int_equal(lc_nclient_request(k.c, &q.r, "MemberReportRequest",
                                            body, 3000, on_req),
                         0);
        json_decref(body);
        assert_true(spin(&e, &q.done, WAIT_MS));
        assert_int_equal(q.status, 0);
        assert_int_equal(result_code(q.body), 200);
        json_decref(q.body);
        conn_close(&e, &k);
    }
    /* A session that never set up: its requests answer 301. */
    {
        struct raw raw;
        json_t *body = member_report_body(&e, t);
        json_t *resp;
        raw_connect(&e, &raw, port);
        resp = raw_request(&e, &raw, "MemberReportRequest", body);
        assert_string_equal(raw.type, "ErrorResponse");
        assert_int_equal(json_integer_value(json_object_get(resp, "errorCode")),
                         301);
        json_decref(resp);
        json_decref(body);
        raw_close(&e, &raw);
    }

    /* The node is up and still admits a member. */
    assert_int_equal(
        tc_http(t, 0, "GET", "/nacos/v1/core/cluster/nodes", NULL, NULL, NULL),
        200);
    report(&e, e.addr[0], &q);
    assert_int_equal(q.status, 0);
    assert_int_equal(result_code(q.body), 200);
    json_decref(q.body);

    env_down(&e);
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_request, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_refused, tc_setup, tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
