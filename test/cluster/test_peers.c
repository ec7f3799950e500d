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

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "common/err.h"
#include "members/members.h"
#include "rpc/cluster/internal.h"
#include "rpc/cluster/peers.h"
#include "rpc/grpc/grpc.h"
#include "rpc/grpc/nclient.h"
#include "rpc/grpc/rpc.h"
#include "test/support/tcluster.h"
#include "test/support/tpeer.h"

#define WAIT_MS 10000

/* ---------------------------------------------------------- the loop */

static void spin_for(struct tpeer *e, unsigned ms)
{
    bool never = false;
    tpeer_spin(e, &never, ms);
}

/* Start nodes 0 and 1 of a three-node cluster; this process is node 2
 * (member list and secret as the nodes have them), its plane listening on
 * node 2's cluster port when @listen. */
static void env_up(struct tpeer *e, struct tc *t, const char *name, bool listen)
{
    tc_init(t, name, 3, NULL);
    tc_start(t, 0);
    tc_start(t, 1);
    tc_wait_ready(t, 0);
    tc_wait_ready(t, 1);
    tpeer_up(e, t, listen);
}

/* ---------------------------------------------------------- requests */

/* A MemberReportRequest from this process's plane to @addr; its end. */
static void report(struct tpeer *e, const char *addr, struct tpeer_req *q)
{
    json_t *self = lc_peers_member_json(e->ps, e->addr[2]);
    json_t *body = json_pack("{s:o}", "node", self);

    tpeer_req_init(q);
    assert_int_equal(lc_peers_request(e->ps, addr, &q->r, "MemberReportRequest",
                                      body, 0, tpeer_on_req),
                     0);
    json_decref(body);
    assert_true(tpeer_spin(e, &q->done, WAIT_MS));
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
    struct tpeer e;
    struct tpeer_req q;
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
        tpeer_req_init(&q);
        assert_int_equal(lc_peers_request(e.ps, "127.0.0.1:1", &q.r,
                                          "MemberReportRequest", body, 0,
                                          tpeer_on_req),
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

    tpeer_down(&e);
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
static int try_setup(struct tpeer *e, int port, struct conn *k)
{
    struct lc_nclient_cbs cbs = {.data = k,
                                 .ready = conn_ready,
                                 .closed = conn_closed,
                                 .labels = conn_labels};
    assert_int_equal(lc_nclient_new(&e->loop, "127.0.0.1", port, &cbs, &k->c),
                     0);
    assert_true(tpeer_spin(e, &k->ready_done, WAIT_MS));
    return k->ready;
}

static void conn_close(struct tpeer *e, struct conn *k)
{
    if (k->c != NULL) {
        lc_nclient_close(k->c);
    }
    assert_true(tpeer_spin(e, &k->closed, WAIT_MS));
}

/* A MemberReportRequest body for node 2 (this process). */
static json_t *member_report_body(struct tpeer *e, struct tc *t)
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

static void raw_connect(struct tpeer *e, struct raw *r, int port)
{
    struct lc_grpc_client_cbs cbs = {
        .data = r, .connected = raw_connected, .closed = raw_closed};
    memset(r, 0, sizeof *r);
    assert_int_equal(
        lc_grpc_client_new(&e->loop, "127.0.0.1", port, 0, &cbs, &r->cl), 0);
    assert_true(tpeer_spin(e, &r->up_done, WAIT_MS));
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
static json_t *raw_request(struct tpeer *e, struct raw *r, const char *type,
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
    assert_true(tpeer_spin(e, &r->done, WAIT_MS));
    assert_int_equal(r->status, 0);
    return r->body;
}

static void raw_close(struct tpeer *e, struct raw *r)
{
    if (r->cl != NULL) {
        lc_grpc_client_close(r->cl);
    }
    assert_true(tpeer_spin(e, &r->closed, WAIT_MS));
}

/* Connections that cannot prove membership are refused (the session
 * closed, nothing registered); unary requests on a connection that is not
 * set up answer 301; the node stays up and keeps admitting members. */
static void test_refused(void **state)
{
    struct tc *t = *state;
    struct tpeer e;
    struct tpeer_req q;
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
        tpeer_req_init(&q);
        assert_int_equal(lc_nclient_request(k.c, &q.r, "MemberReportRequest",
                                            body, 3000, tpeer_on_req),
                         0);
        json_decref(body);
        assert_true(tpeer_spin(&e, &q.done, WAIT_MS));
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

    tpeer_down(&e);
    tc_pass(t);
}

/* ------------------------------------------------------ member views */

/* Member @addr in node @i's /nacos/v1/core/cluster/nodes (a new
 * reference), or NULL; *@count (may be NULL) gets how many it lists (-1:
 * no answer). */
static json_t *node_member(struct tc *t, unsigned i, const char *addr,
                           int *count)
{
    char *body = NULL;
    json_t *root, *data, *m, *found = NULL;
    size_t k;
    int st =
        tc_http(t, i, "GET", "/nacos/v1/core/cluster/nodes", NULL, NULL, &body);

    if (count != NULL) {
        *count = -1;
    }
    if (st != 200 || body == NULL) {
        free(body);
        return NULL;
    }
    root = json_loads(body, 0, NULL);
    free(body);
    data = json_object_get(root, "data");
    if (count != NULL && json_is_array(data)) {
        *count = (int)json_array_size(data);
    }
    json_array_foreach(data, k, m)
    {
        const char *a = json_string_value(json_object_get(m, "address"));
        if (addr != NULL && a != NULL && strcmp(a, addr) == 0) {
            found = json_incref(m);
        }
    }
    json_decref(root);
    return found;
}

static bool state_is(const json_t *m, const char *state)
{
    const char *s = json_string_value(json_object_get(m, "state"));
    return s != NULL && strcmp(s, state) == 0;
}

/* Wait until node @i shows @addr in @state; return the ms it took, or fail
 * after @timeout_ms. */
static uint64_t wait_state(struct tc *t, unsigned i, const char *addr,
                           const char *state, unsigned timeout_ms)
{
    uint64_t start = tc_now_ms();
    json_t *m = NULL;

    for (;;) {
        m = node_member(t, i, addr, NULL);
        if (m != NULL && state_is(m, state)) {
            json_decref(m);
            return tc_now_ms() - start;
        }
        if (tc_now_ms() - start > timeout_ms) {
            char *dump = m != NULL ? json_dumps(m, JSON_COMPACT) : NULL;
            fail_msg("node %u: %s not %s after %u ms: %s", i, addr, state,
                     timeout_ms, dump != NULL ? dump : "(not listed)");
        }
        json_decref(m);
        tc_sleep_ms(100);
    }
}

static void addr_of(struct tc *t, unsigned i, char *out, size_t size)
{
    snprintf(out, size, "127.0.0.1:%d", t->c.nodes[i].port);
}

/* Member states from reports between real processes: kill -9 -> DOWN at
 * once (the dropped channel is reported to, the connection refused),
 * restart -> UP; SIGSTOP -> SUSPICIOUS (failures counted), then DOWN after
 * nacos.core.member.fail-access-cnt (2 here), SIGCONT -> UP. */
static void test_states(void **state)
{
    struct tc *t = *state;
    char a[3][64];
    uint64_t ms;
    bool suspicious = false;
    json_t *m;

    tc_up(t, "peers_states", 3, "nacos.core.member.fail-access-cnt=2\n");
    for (unsigned i = 0; i < 3; i++) {
        addr_of(t, i, a[i], sizeof a[i]);
    }
    /* Channels come up with the first reports. */
    for (unsigned i = 0; i < 3; i++) {
        for (unsigned j = 0; j < 3; j++) {
            wait_state(t, i, a[j], "UP", WAIT_MS);
        }
    }
    tc_sleep_ms(5000); /* every channel has carried a report */

    tc_signal(t, 2, SIGKILL);
    ms = wait_state(t, 0, a[2], "DOWN", WAIT_MS);
    print_message("kill -9: DOWN on node 0 after %llu ms\n",
                  (unsigned long long)ms);
    ms = wait_state(t, 1, a[2], "DOWN", WAIT_MS);
    print_message("kill -9: DOWN on node 1 after %llu ms\n",
                  (unsigned long long)ms);
    assert_true(tc_log_contains(t, 0, "UP -> DOWN"));

    tc_start(t, 2);
    tc_wait_ready(t, 2);
    ms = wait_state(t, 0, a[2], "UP", 20000);
    print_message("restart: UP on node 0 after %llu ms from ready\n",
                  (unsigned long long)ms);
    wait_state(t, 1, a[2], "UP", 20000);
    m = node_member(t, 0, a[2], NULL);
    assert_int_equal(json_integer_value(json_object_get(m, "failAccessCnt")),
                     0);
    json_decref(m);

    /* A stopped process accepts connections (the kernel does) but answers
     * nothing: reports time out. */
    tc_signal(t, 1, SIGSTOP);
    ms = tc_now_ms();
    for (uint64_t end = tc_now_ms() + 60000;;) {
        long long cnt;
        m = node_member(t, 0, a[1], NULL);
        assert_non_null(m);
        cnt = json_integer_value(json_object_get(m, "failAccessCnt"));
        if (state_is(m, "SUSPICIOUS")) {
            if (!suspicious) {
                print_message("SIGSTOP: SUSPICIOUS on node 0 after %llu ms\n",
                              (unsigned long long)(tc_now_ms() - ms));
            }
            suspicious = true;
            assert_true(cnt >= 1 && cnt <= 2);
        } else if (state_is(m, "DOWN")) {
            print_message("SIGSTOP: DOWN on node 0 after %llu ms\n",
                          (unsigned long long)(tc_now_ms() - ms));
            assert_true(cnt >= 3);
            json_decref(m);
            break;
        }
        json_decref(m);
        if (tc_now_ms() > end) {
            kill(t->c.nodes[1].pid, SIGCONT);
            fail_msg("stopped member not DOWN within 60 s");
        }
        tc_sleep_ms(100);
    }
    assert_true(suspicious);
    kill(t->c.nodes[1].pid, SIGCONT);
    ms = wait_state(t, 0, a[1], "UP", 20000);
    print_message("SIGCONT: UP on node 0 after %llu ms\n",
                  (unsigned long long)ms);
    wait_state(t, 2, a[1], "UP", 20000);
    tc_pass(t);
}

/* ---------------------------------------------------- raftMetaData */

static void test_extend(void *data, json_t *ext)
{
    (void)data;
    json_object_set_new(ext, "raftMetaData",
                        json_pack("{s:{s:{s:s, s:[s], s:i}}}", "metaDataMap",
                                  "locus_test_group", "leader", "test:1",
                                  "raftGroupMember", "test:1", "term", 42));
}

/* /nodes shows each member's own raftMetaData, from its last report or
 * answer: this process's member (its extend callback) as it reported it,
 * the real ones their real groups. A member nobody can reach is DOWN; its
 * report makes it UP at once. */
static void test_nodes_meta(void **state)
{
    struct tc *t = *state;
    struct tpeer e;
    struct tpeer_req q;
    json_t *m, *map;
    uint64_t ms;

    env_up(&e, t, "peers_meta", false);
    lc_peers_set_extend(e.ps, test_extend, NULL);
    /* Nobody listens on our cluster port yet: their reports are refused. */
    for (uint64_t end = tc_now_ms() + 20000;;) {
        m = node_member(t, 0, e.addr[2], NULL);
        if (m != NULL && state_is(m, "DOWN")) {
            json_decref(m);
            break;
        }
        json_decref(m);
        assert_true(tc_now_ms() < end);
        spin_for(&e, 100);
    }
    report(&e, e.addr[0], &q);
    assert_int_equal(result_code(q.body), 200);
    /* The answer is node 0's own Member, with its groups. */
    map = json_object_get(
        json_object_get(
            json_object_get(json_object_get(q.body, "node"), "extendInfo"),
            "raftMetaData"),
        "metaDataMap");
    assert_non_null(json_object_get(map, "naming_persistent_service_v2"));
    json_decref(q.body);
    ms = wait_state(t, 0, e.addr[2], "UP", 1000);
    (void)ms;
    m = node_member(t, 0, e.addr[2], NULL);
    map = json_object_get(
        json_object_get(json_object_get(m, "extendInfo"), "raftMetaData"),
        "metaDataMap");
    assert_int_equal(json_object_size(map), 1);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(map, "locus_test_group"), "term")),
                     42);
    assert_int_equal(json_integer_value(json_object_get(m, "failAccessCnt")),
                     0);
    assert_true(json_integer_value(json_object_get(
                    json_object_get(m, "extendInfo"), "lastRefreshTime")) >
                1600000000000LL);
    json_decref(m);
    /* Node 1 as node 0 shows it: node 1's groups (once heard from). */
    for (uint64_t end = tc_now_ms() + 20000;;) {
        m = node_member(t, 0, e.addr[1], NULL);
        map = json_object_get(
            json_object_get(json_object_get(m, "extendInfo"), "raftMetaData"),
            "metaDataMap");
        if (json_object_get(map, "naming_persistent_service_v2") != NULL) {
            json_decref(m);
            break;
        }
        json_decref(m);
        assert_true(tc_now_ms() < end);
        spin_for(&e, 100);
    }
    tpeer_down(&e);
    tc_pass(t);
}

/* ---------------------------------------------------- cluster.conf */

static void write_conf(struct tc *t, const char *text)
{
    char tmp[1200];
    FILE *f;

    /* Written aside, then renamed: the watcher never sees half a file. */
    snprintf(tmp, sizeof tmp, "%s.tmp", t->c.cluster_conf);
    f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, t->c.cluster_conf), 0);
}

static void wait_count(struct tc *t, unsigned i, int want)
{
    int count = -1;
    for (uint64_t end = tc_now_ms() + 20000; tc_now_ms() < end;) {
        json_decref(node_member(t, i, NULL, &count));
        if (count == want) {
            return;
        }
        tc_sleep_ms(100);
    }
    fail_msg("node %u lists %d members, want %d", i, count, want);
}

static long long raft_members(struct tc *t, unsigned i)
{
    json_t *g = tc_group(t, i, TC_PS);
    long long n = (long long)json_array_size(json_object_get(g, "members"));
    json_decref(g);
    return n;
}

/* An edited cluster.conf changes every node's member list (not raft's);
 * a bad edit is logged and ignored. */
static void test_conf_watch(void **state)
{
    struct tc *t = *state;
    char conf[512], four[64], a[3][64];
    int extra;
    json_t *m;

    tc_up(t, "peers_conf", 3, NULL);
    extra = tc_node_port(t); /* reserved: nothing listens there */
    for (unsigned i = 0; i < 3; i++) {
        addr_of(t, i, a[i], sizeof a[i]);
    }
    snprintf(four, sizeof four, "127.0.0.1:%d", extra);
    assert_int_equal(raft_members(t, 0), 3);

    snprintf(conf, sizeof conf, "# edited\n%s\n%s, %s\n%s # new\n", a[0], a[1],
             a[2], four);
    write_conf(t, conf);
    for (unsigned i = 0; i < 3; i++) {
        wait_count(t, i, 4);
    }
    assert_true(tc_log_contains(t, 0, "added (cluster.conf)"));
    /* It gets reported to like any member: nothing listens, DOWN. */
    wait_state(t, 0, four, "DOWN", 20000);
    assert_int_equal(raft_members(t, 0), 3); /* raft stays explicit */

    /* Bad edits: ignored, logged, the list stays. */
    write_conf(t, "127.0.0.1:notaport\n");
    write_conf(t, "");
    tc_sleep_ms(5000);
    for (unsigned i = 0; i < 3; i++) {
        int count;
        json_decref(node_member(t, i, NULL, &count));
        assert_int_equal(count, 4);
    }
    assert_true(tc_log_contains(t, 0, "is not used"));

    /* Back to three. */
    snprintf(conf, sizeof conf, "%s\n%s\n%s\n", a[0], a[1], a[2]);
    write_conf(t, conf);
    for (unsigned i = 0; i < 3; i++) {
        wait_count(t, i, 3);
    }
    assert_true(tc_log_contains(t, 1, "removed (cluster.conf)"));
    m = node_member(t, 0, four, NULL);
    assert_null(m);
    for (unsigned j = 0; j < 3; j++) {
        wait_state(t, 0, a[j], "UP", WAIT_MS);
    }
    assert_int_equal(raft_members(t, 0), 3);
    tc_pass(t);
}

/* ---------------------------------------------------------- bad input */

/* A member connection (this process, proven) for raw requests. */
static void member_conn(struct tpeer *e, int port, struct conn *k)
{
    memset(k, 0, sizeof *k);
    k->member = e->addr[2];
    k->secret = e->secret;
    assert_int_equal(try_setup(e, port, k), 0);
}

/* Send @type with @text (a JSON text, sent as it is) on @c; the answer. */
static void send_text(struct tpeer *e, struct lc_nclient *c, const char *type,
                      const char *text, struct tpeer_req *q)
{
    tpeer_req_init(q);
    assert_int_equal(lc_nclient_request_text(c, &q->r, type, text, strlen(text),
                                             3000, tpeer_on_req),
                     0);
    assert_true(tpeer_spin(e, &q->done, WAIT_MS));
    assert_int_equal(q->status, 0);
}

static void expect_error(struct tpeer_req *q, const char *type, int error_code,
                         const char *message)
{
    if (strcmp(q->type, type) != 0 ||
        json_integer_value(json_object_get(q->body, "errorCode")) !=
            error_code ||
        (message != NULL &&
         strcmp(json_string_value(json_object_get(q->body, "message")) != NULL
                    ? json_string_value(json_object_get(q->body, "message"))
                    : "",
                message) != 0)) {
        char *d = json_dumps(q->body, JSON_COMPACT);
        fail_msg("want %s %d '%s', got %s %s", type, error_code,
                 message != NULL ? message : "*", q->type, d);
    }
    assert_int_equal(result_code(q->body), 500);
    json_decref(q->body);
    q->body = NULL;
}

/* Raw bytes on a TCP connection to @port, then close. */
static void tcp_garbage(int port, const void *buf, size_t len)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_true(write(fd, buf, len) >= 0);
    tc_sleep_ms(100);
    close(fd);
}

/* A snapshot of node @i's member view: address, state and raftMetaData
 * groups of each, as text. */
static void view(struct tc *t, unsigned i, char *out, size_t size)
{
    char *body = NULL;
    json_t *root, *m;
    size_t k, n = 0;

    out[0] = '\0';
    assert_int_equal(
        tc_http(t, i, "GET", "/nacos/v1/core/cluster/nodes", NULL, NULL, &body),
        200);
    root = json_loads(body, 0, NULL);
    free(body);
    json_array_foreach(json_object_get(root, "data"), k, m)
    {
        json_t *map = json_object_get(
            json_object_get(json_object_get(m, "extendInfo"), "raftMetaData"),
            "metaDataMap");
        const char *g;
        json_t *v;
        n += (size_t)snprintf(out + n, size - n, "%s %s [",
                              json_string_value(json_object_get(m, "address")),
                              json_string_value(json_object_get(m, "state")));
        json_object_foreach(map, g, v)
        {
            n += (size_t)snprintf(out + n, size - n, "%s ", g);
        }
        n += (size_t)snprintf(out + n, size - n, "] ");
        assert_true(n < size);
    }
    json_decref(root);
}

/* Bad input on the cluster port: garbage bytes and frames, payloads that
 * are not protobuf or not JSON, illegal Members, a member speaking for
 * another, SDK types; cluster types on the SDK port. Each is refused as
 * Nacos does; the node stays up and its member view does not change. */
static void test_bad_input(void **state)
{
    struct tc *t = *state;
    struct tpeer e;
    struct conn k, sdk = {0};
    struct tpeer_req q;
    int port, sdk_port;
    char before[2048], after[2048], junk[4096];
    const char *bad_nodes[] = {
        "{\"module\":\"cluster\",\"headers\":{}}",
        "{\"node\":null,\"module\":\"cluster\",\"headers\":{}}",
        "{\"node\":[],\"module\":\"cluster\",\"headers\":{}}",
        "{\"node\":{\"ip\":\"\",\"port\":1,\"address\":\"x\"},"
        "\"module\":\"cluster\",\"headers\":{}}",
        "{\"node\":{\"ip\":\"127.0.0.1\",\"port\":\"x\",\"address\":\"x\"},"
        "\"module\":\"cluster\",\"headers\":{}}",
        "{\"node\":{\"ip\":\"127.0.0.1\",\"port\":1},"
        "\"module\":\"cluster\",\"headers\":{}}",
        "{\"node\":{\"ip\":\"127.0.0.1\",\"port\":1,\"address\":\"a:1\","
        "\"extendInfo\":7},\"module\":\"cluster\",\"headers\":{}}",
    };

    env_up(&e, t, "peers_badinput", true);
    lc_peers_set_extend(e.ps, test_extend, NULL);
    port = t->c.nodes[0].port + 1001;
    sdk_port = t->c.nodes[0].port + 1000;
    report(&e, e.addr[0], &q);
    json_decref(q.body);
    /* node 1 as node 0 sees it carries its own groups */
    for (uint64_t end = tc_now_ms() + 20000;;) {
        view(t, 0, before, sizeof before);
        const char *g1 = strstr(before, "naming_persistent_service_v2");
        if (g1 != NULL &&
            strstr(g1 + 1, "naming_persistent_service_v2") != NULL &&
            strstr(before, "locus_test_group") != NULL) {
            break;
        }
        assert_true(tc_now_ms() < end);
        spin_for(&e, 200);
    }
    view(t, 0, before, sizeof before);

    /* Garbage bytes, and an HTTP/2 preface followed by garbage frames. */
    for (size_t i = 0; i < sizeof junk; i++) {
        junk[i] = (char)(i * 131 + 7);
    }
    tcp_garbage(port, junk, sizeof junk);
    {
        static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
        char buf[sizeof preface - 1 + 64];
        memcpy(buf, preface, sizeof preface - 1);
        memset(buf + sizeof preface - 1, 0xff, 64); /* huge frame length */
        tcp_garbage(port, buf, sizeof buf);
    }
    {
        struct raw raw;
        /* A HEADERS frame on stream 0 and a DATA frame on a stream never
         * opened: protocol errors. */
        static const uint8_t frames[] = {0, 0, 1, 1, 4, 0, 0, 0, 0, 0x82, 0,
                                         0, 2, 0, 0, 0, 0, 0, 9, 1, 2};
        raw_connect(&e, &raw, port);
        lc_grpc_client_write_raw(raw.cl, frames, sizeof frames);
        spin_for(&e, 200);
        raw_close(&e, &raw);
    }
    /* A message that is not a Payload: grpc INTERNAL. */
    {
        struct raw raw;
        raw_connect(&e, &raw, port);
        raw.done = false;
        raw.cc.data = &raw;
        assert_int_equal(
            lc_grpc_client_unary(raw.cl, &raw.cc, "/Request/request",
                                 (const uint8_t *)junk, 100, 3000, raw_on_call),
            0);
        assert_true(tpeer_spin(&e, &raw.done, WAIT_MS));
        assert_int_equal(raw.status, LC_GRPC_INTERNAL);
        raw_close(&e, &raw);
    }

    member_conn(&e, port, &k);
    /* Illegal Members: 400 "Node information is illegal". */
    for (size_t i = 0; i < sizeof bad_nodes / sizeof bad_nodes[0]; i++) {
        send_text(&e, k.c, "MemberReportRequest", bad_nodes[i], &q);
        expect_error(&q, "MemberReportResponse", 400,
                     "Node information is illegal");
    }
    /* A body that is not a JSON object. */
    send_text(&e, k.c, "MemberReportRequest", "[1,2]", &q);
    expect_error(&q, "ErrorResponse", 502, NULL);
    send_text(&e, k.c, "MemberReportRequest", "{\"node\":", &q);
    expect_error(&q, "ErrorResponse", 502, NULL);
    /* A member speaking for another: answered, nothing changes. */
    {
        char text[512];
        snprintf(text, sizeof text,
                 "{\"node\":{\"ip\":\"127.0.0.1\",\"port\":%d,\"address\":"
                 "\"%s\",\"state\":\"DOWN\",\"extendInfo\":{\"raftMetaData\":"
                 "{\"metaDataMap\":{\"spoofed\":{}}}}},\"module\":\"cluster\","
                 "\"headers\":{}}",
                 t->c.nodes[1].port, e.addr[1]);
        send_text(&e, k.c, "MemberReportRequest", text, &q);
        assert_int_equal(result_code(q.body), 200);
        json_decref(q.body);
    }
    /* SDK types on the cluster port: forbidden; unknown types: 302. */
    send_text(&e, k.c, "InstanceRequest",
              "{\"namespace\":\"public\",\"serviceName\":\"s\","
              "\"groupName\":\"DEFAULT_GROUP\",\"type\":\"registerInstance\","
              "\"instance\":{\"ip\":\"127.0.0.1\",\"port\":1},"
              "\"module\":\"naming\",\"headers\":{}}",
              &q);
    expect_error(&q, "ErrorResponse", 502,
                 " invoke InstanceRequest from cluster is forbidden");
    send_text(&e, k.c, "SubscribeServiceRequest",
              "{\"module\":\"naming\",\"headers\":{}}", &q);
    expect_error(&q, "ErrorResponse", 502,
                 " invoke SubscribeServiceRequest from cluster is forbidden");
    send_text(&e, k.c, "NoSuchRequest", "{\"headers\":{}}", &q);
    expect_error(&q, "ErrorResponse", 302, NULL);
    conn_close(&e, &k);

    /* Cluster types on the SDK port: forbidden, even from a set-up
     * connection. */
    {
        struct lc_nclient_cbs cbs = {
            .data = &sdk, .ready = conn_ready, .closed = conn_closed};
        assert_int_equal(
            lc_nclient_new(&e.loop, "127.0.0.1", sdk_port, &cbs, &sdk.c), 0);
        assert_true(tpeer_spin(&e, &sdk.ready_done, WAIT_MS));
        assert_int_equal(sdk.ready, 0);
        send_text(&e, sdk.c, "MemberReportRequest",
                  "{\"node\":{},\"module\":\"cluster\",\"headers\":{}}", &q);
        expect_error(&q, "ErrorResponse", 502,
                     " invoke MemberReportRequest from sdk is forbidden");
        send_text(&e, sdk.c, "DistroDataRequest",
                  "{\"module\":\"cluster\",\"headers\":{}}", &q);
        expect_error(&q, "ErrorResponse", 502,
                     " invoke DistroDataRequest from sdk is forbidden");
        conn_close(&e, &sdk);
    }

    /* Up, and the same view (the real members' groups, ours). */
    spin_for(&e, 500);
    view(t, 0, after, sizeof after);
    assert_string_equal(before, after);
    assert_null(strstr(after, "spoofed"));
    report(&e, e.addr[0], &q);
    assert_int_equal(result_code(q.body), 200);
    json_decref(q.body);
    tpeer_down(&e);
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_request, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_refused, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_states, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_nodes_meta, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_conf_watch, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, tc_setup, tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
