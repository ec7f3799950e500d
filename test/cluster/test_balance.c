/* Connections stay balanced (issue 10, ../shared/protocol.md §11.4) on a
 * real 3-node cluster:
 *
 *   - 3,000 gRPC SDK connections from a fleet that picks servers as the
 *     Java client does (bench/fleet.h); each member is restarted in turn
 *     (SIGTERM, start, wait UP); within 30 s of the last restart every
 *     member holds within ±10 % of a third (the members' own counts, from
 *     /nacos/v2/core/loader/cluster); the time it took is printed;
 *   - once balanced, balancing moves nothing more, nor while a member is
 *     away (stopped: its clients crowd another member); back, it gets its
 *     share again;
 *   - with locus.loader.balance.enabled=false a restarted member stays
 *     empty (Nacos's behaviour), and the manual endpoints (reloadCurrent,
 *     smartReloadCluster) move connections; cluster answers in Nacos's
 *     shape; bad parameters are refused and move nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "bench/fleet.h"
#include "members/members.h"
#include "rpc/cluster/peers.h"
#include "rpc/grpc/nclient.h"
#include "test/support/tcluster.h"
#include "test/support/tpeer.h"

#define BALANCE_WAIT_MS 30000

/* ------------------------------------------------ the fleet's thread */

struct fleet_run {
    struct lc_fleet_config cfg;
    pthread_t thread;
    pthread_mutex_t mu;
    struct lc_fleet_stats st; /* copied every 50 ms */
    bool stop;
    int rv;
};

static void on_fleet_tick(uv_timer_t *timer)
{
    struct fleet_run *r = timer->data;
    struct lc_fleet *f = timer->loop->data;
    bool stop;
    pthread_mutex_lock(&r->mu);
    lc_fleet_stats(f, &r->st);
    stop = r->stop;
    pthread_mutex_unlock(&r->mu);
    if (stop) {
        lc_fleet_close(f);
        if (lc_fleet_closed(f)) {
            uv_close((uv_handle_t *)timer, NULL);
        }
    }
}

static void *fleet_main(void *arg)
{
    struct fleet_run *r = arg;
    uv_loop_t loop;
    uv_timer_t tick;
    struct lc_fleet *f = NULL;
    uv_loop_init(&loop);
    r->rv = lc_fleet_new(&loop, &r->cfg, &f);
    if (r->rv != 0) {
        uv_loop_close(&loop);
        return NULL;
    }
    loop.data = f;
    uv_timer_init(&loop, &tick);
    tick.data = r;
    uv_timer_start(&tick, on_fleet_tick, 50, 50);
    uv_run(&loop, UV_RUN_DEFAULT);
    lc_fleet_free(f);
    uv_loop_close(&loop);
    return NULL;
}

static void fleet_start(struct fleet_run *r, struct tc *t, unsigned conns)
{
    struct rlimit rl;
    memset(r, 0, sizeof *r);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    r->cfg.host = "127.0.0.1";
    r->cfg.n_servers = t->c.n;
    for (unsigned i = 0; i < t->c.n; i++) {
        r->cfg.ports[i] = t->c.nodes[i].port;
    }
    r->cfg.conns = conns;
    r->cfg.seed = 10;
    pthread_mutex_init(&r->mu, NULL);
    assert_int_equal(pthread_create(&r->thread, NULL, fleet_main, r), 0);
}

static void fleet_stats(struct fleet_run *r, struct lc_fleet_stats *out)
{
    pthread_mutex_lock(&r->mu);
    *out = r->st;
    pthread_mutex_unlock(&r->mu);
}

static void fleet_stop(struct fleet_run *r)
{
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    pthread_mutex_destroy(&r->mu);
    assert_int_equal(r->rv, 0);
}

/* ------------------------------------------------ the members' counts */

/* sdkConCount of each member from node @i's /v2/core/loader/cluster, in
 * node order; false unless every member answered. */
static bool member_counts(struct tc *t, unsigned i, unsigned *counts)
{
    char *body = NULL;
    json_t *root;
    json_t *detail;
    bool ok = false;
    unsigned have = 0;
    if (tc_http(t, i, "GET", "/nacos/v2/core/loader/cluster", NULL, NULL,
                &body) != 200) {
        free(body);
        return false;
    }
    root = json_loads(body, 0, NULL);
    free(body);
    detail = json_object_get(root, "detail");
    for (size_t k = 0; k < json_array_size(detail); k++) {
        json_t *d = json_array_get(detail, k);
        const char *addr = json_string_value(json_object_get(d, "address"));
        const char *v = json_string_value(
            json_object_get(json_object_get(d, "metric"), "sdkConCount"));
        for (unsigned j = 0; addr != NULL && v != NULL && j < t->c.n; j++) {
            char want[64];
            snprintf(want, sizeof want, "127.0.0.1:%d", t->c.nodes[j].port);
            if (strcmp(addr, want) == 0) {
                counts[j] = (unsigned)strtoul(v, NULL, 10);
                have++;
            }
        }
    }
    ok = have == t->c.n && json_is_true(json_object_get(root, "completed"));
    json_decref(root);
    return ok;
}

/* Every member holds within ±10 % of total/n, and the total is @total. */
static bool balanced(const unsigned *counts, unsigned n, unsigned total)
{
    unsigned sum = 0;
    double share = (double)total / n;
    for (unsigned i = 0; i < n; i++) {
        sum += counts[i];
    }
    if (sum != total) {
        return false;
    }
    for (unsigned i = 0; i < n; i++) {
        if (counts[i] < share * 0.9 || counts[i] > share * 1.1) {
            return false;
        }
    }
    return true;
}

/* Wait until node 0 reports @total connections spread within ±10 %;
 * return how long it took (ms), or fail after @timeout_ms. */
static uint64_t wait_balanced(struct tc *t, unsigned total,
                              unsigned timeout_ms, const char *what)
{
    uint64_t start = tc_now_ms();
    unsigned counts[LC_CLUSTER_MAX] = {0};
    for (;;) {
        bool got = member_counts(t, 0, counts);
        if (got && balanced(counts, t->c.n, total)) {
            return tc_now_ms() - start;
        }
        if (tc_now_ms() - start > timeout_ms) {
            fail_msg("%s: not balanced after %u ms: %u %u %u (want %u in "
                     "all, ±10 %% of a third)",
                     what, timeout_ms, counts[0], counts[1], counts[2], total);
        }
        tc_sleep_ms(250);
    }
}

static unsigned fleet_ready(const struct lc_fleet_stats *st, unsigned n)
{
    unsigned sum = 0;
    for (unsigned i = 0; i < n; i++) {
        sum += st->ready[i];
    }
    return sum;
}

static void wait_fleet_connected(struct tc *t, struct fleet_run *r,
                                 unsigned conns, unsigned timeout_ms)
{
    struct lc_fleet_stats st;
    uint64_t until = tc_now_ms() + timeout_ms;
    for (;;) {
        fleet_stats(r, &st);
        if (fleet_ready(&st, t->c.n) == conns) {
            return;
        }
        if (tc_now_ms() > until) {
            fail_msg("fleet: %u of %u connected after %u ms",
                     fleet_ready(&st, t->c.n), conns, timeout_ms);
        }
        tc_sleep_ms(100);
    }
}

/* ------------------------------------- one request on the SDK port */

struct one {
    bool ready;
    bool done;
    bool closed;
    int status;
    char type[64];
    json_t *body;
};

static void one_ready(struct lc_nclient *c, int status, void *data)
{
    struct one *o = data;
    (void)c;
    o->ready = status == 0;
    if (status != 0) {
        o->done = true;
        o->status = status;
    }
}

static void one_closed(struct lc_nclient *c, void *data)
{
    struct one *o = data;
    (void)c;
    o->closed = true;
}

static void one_answer(struct lc_nreq *r, int status, const char *type,
                       json_t *body)
{
    struct one *o = r->data;
    o->done = true;
    o->status = status;
    snprintf(o->type, sizeof o->type, "%s", type != NULL ? type : "");
    o->body = body != NULL ? json_incref(body) : NULL;
}

/* Send @type with @body (JSON text) on node @i's SDK port; the answer's
 * type in @o->type, its body in @o->body (the caller decrefs). */
static void sdk_request(struct tc *t, unsigned i, const char *type,
                        const char *body, struct one *o)
{
    uv_loop_t loop;
    struct lc_nclient *c = NULL;
    struct lc_nclient_cbs cbs = {.data = o, .ready = one_ready,
                                 .closed = one_closed};
    struct lc_nreq req = {.data = o};
    json_t *b = json_loads(body, 0, NULL);
    uint64_t until = tc_now_ms() + 5000;
    memset(o, 0, sizeof *o);
    uv_loop_init(&loop);
    assert_int_equal(lc_nclient_new(&loop, "127.0.0.1",
                                     t->c.nodes[i].port + 1000, &cbs, &c),
                     0);
    while (!o->ready && !o->done && tc_now_ms() < until) {
        uv_run(&loop, UV_RUN_NOWAIT);
        tc_sleep_ms(1);
    }
    assert_true(o->ready);
    assert_int_equal(lc_nclient_request(c, &req, type, b, 3000, one_answer),
                     0);
    json_decref(b);
    while (!o->done && tc_now_ms() < until) {
        uv_run(&loop, UV_RUN_NOWAIT);
        tc_sleep_ms(1);
    }
    assert_true(o->done);
    lc_nclient_close(c);
    while (!o->closed) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    uv_loop_close(&loop);
}

/* ------------------------------------------------------------- tests */

#define CONNS 3000

static void test_rolling_restart(void **state)
{
    struct tc *t = *state;
    struct fleet_run fr;
    struct lc_fleet_stats st;
    unsigned counts[LC_CLUSTER_MAX];
    uint64_t took;
    uint64_t resets;

    tc_up(t, "balance_rolling", 3, NULL);
    fleet_start(&fr, t, CONNS);
    wait_fleet_connected(t, &fr, CONNS, 60000);
    took = wait_balanced(t, CONNS, BALANCE_WAIT_MS, "at start");
    printf("balance: %u connections spread at start (%llu ms)\n", CONNS,
           (unsigned long long)took);

    for (unsigned i = 0; i < 3; i++) {
        uint64_t t0 = tc_now_ms();
        tc_signal(t, i, SIGTERM);
        tc_start(t, i);
        tc_wait_ready(t, i);
        member_counts(t, 0, counts);
        printf("balance: node %u restarted, UP after %llu ms; counts %u %u "
               "%u\n",
               i, (unsigned long long)(tc_now_ms() - t0), counts[0],
               counts[1], counts[2]);
    }
    took = wait_balanced(t, CONNS, BALANCE_WAIT_MS, "after the last restart");
    member_counts(t, 0, counts);
    fleet_stats(&fr, &st);
    printf("balance: within ±10 %% of a third %llu ms after the last "
           "restart: %u %u %u (fleet: %llu resets, %llu redirected, %llu "
           "lost)\n",
           (unsigned long long)took, counts[0], counts[1], counts[2],
           (unsigned long long)st.resets, (unsigned long long)st.redirects,
           (unsigned long long)st.losses);
    assert_true(took <= BALANCE_WAIT_MS);

    /* Balanced: nothing moves any more. Let the last round's stragglers
     * settle (two intervals), then watch five intervals. */
    tc_sleep_ms(2000);
    fleet_stats(&fr, &st);
    resets = st.resets;
    tc_sleep_ms(5000);
    fleet_stats(&fr, &st);
    assert_int_equal(st.resets, resets);
    assert_int_equal(fleet_ready(&st, 3), CONNS);
    assert_true(member_counts(t, 1, counts));
    assert_true(balanced(counts, 3, CONNS));

    /* A member away: node 2 stopped, its clients go to node 0, which is
     * then over its share of the two left; nothing is balanced while a
     * member is absent. Back, it gets its third again. */
    tc_signal(t, 2, SIGTERM);
    tc_sleep_ms(1000);
    fleet_stats(&fr, &st);
    resets = st.resets;
    tc_sleep_ms(4000);
    fleet_stats(&fr, &st);
    assert_int_equal(st.resets, resets);
    assert_int_equal(fleet_ready(&st, 3), CONNS);
    assert_int_equal(st.ready[2], 0);
    assert_true(st.ready[0] > CONNS / 2 + CONNS / 20);
    tc_start(t, 2);
    tc_wait_ready(t, 2);
    took = wait_balanced(t, CONNS, BALANCE_WAIT_MS, "after node 2 came back");
    member_counts(t, 0, counts);
    printf("balance: node 2 back, within ±10 %% of a third after %llu ms: "
           "%u %u %u\n",
           (unsigned long long)took, counts[0], counts[1], counts[2]);

    fleet_stop(&fr);
    tc_pass(t);
}

/* The switch off: after a restart the member stays empty, as in Nacos; the
 * manual endpoints work; bad parameters move nothing. */
static void test_disabled_and_manual(void **state)
{
    struct tc *t = *state;
    struct fleet_run fr;
    struct lc_fleet_stats st;
    unsigned counts[LC_CLUSTER_MAX];
    unsigned conns = 300;
    char *body = NULL;
    json_t *root;
    uint64_t resets;
    char path[256];

    tc_up(t, "balance_off", 3, "locus.loader.balance.enabled=false\n");
    fleet_start(&fr, t, conns);
    wait_fleet_connected(t, &fr, conns, 30000);

    /* cluster: Nacos's shape */
    assert_int_equal(tc_http(t, 1, "GET", "/nacos/v2/core/loader/cluster",
                             NULL, NULL, &body),
                     200);
    root = json_loads(body, 0, NULL);
    free(body);
    assert_non_null(root);
    assert_int_equal(json_array_size(json_object_get(root, "detail")), 3);
    assert_int_equal(json_integer_value(json_object_get(root, "memberCount")),
                     3);
    assert_int_equal(json_integer_value(json_object_get(root, "metricsCount")),
                     3);
    assert_true(json_is_true(json_object_get(root, "completed")));
    assert_int_equal(json_integer_value(json_object_get(root, "total")),
                     conns);
    assert_true(json_is_real(json_object_get(root, "threshold")));
    for (unsigned k = 0; k < 3; k++) {
        json_t *m = json_object_get(
            json_array_get(json_object_get(root, "detail"), k), "metric");
        assert_true(json_is_string(json_object_get(m, "conCount")));
        assert_true(json_is_string(json_object_get(m, "sdkConCount")));
        assert_true(json_is_string(json_object_get(m, "load")));
        assert_true(json_is_string(json_object_get(m, "cpu")));
    }
    json_decref(root);

    /* node 2 restarted: its clients go to 0 and 1 and stay there */
    tc_signal(t, 2, SIGTERM);
    tc_start(t, 2);
    tc_wait_ready(t, 2);
    wait_fleet_connected(t, &fr, conns, 30000);
    tc_sleep_ms(4000);
    assert_true(member_counts(t, 0, counts));
    assert_int_equal(counts[0] + counts[1] + counts[2], conns);
    assert_int_equal(counts[2], 0);

    /* bad parameters: refused, nothing moves */
    fleet_stats(&fr, &st);
    resets = st.resets;
    tc_expect_body(t, 0, "GET", "/nacos/v2/core/loader/reloadCurrent", 400,
                   "Required request parameter 'count' for method parameter "
                   "type Integer is not present");
    tc_expect_body(t, 0, "GET", "/nacos/v2/core/loader/reloadCurrent?count=x",
                   400, NULL);
    tc_expect_body(t, 0, "GET",
                   "/nacos/v2/core/loader/reloadCurrent?count=0&"
                   "redirectAddress=nohost",
                   400, "redirectAddress must be ip:port");
    tc_expect_body(t, 0, "GET",
                   "/nacos/v2/core/loader/smartReloadCluster?loaderFactor=x",
                   400, NULL);
    tc_expect_body(t, 0, "GET",
                   "/nacos/v2/core/loader/smartReloadCluster?loaderFactor=2",
                   400, NULL);
    /* the cluster-only requests on the SDK port */
    {
        static const char *const types[] = {"ServerReloadRequest",
                                            "ServerLoaderInfoRequest"};
        for (unsigned k = 0; k < 2; k++) {
            struct one o;
            const char *msg;
            sdk_request(t, 0, types[k],
                        "{\"module\":\"internal\",\"headers\":{},"
                        "\"reloadCount\":0}",
                        &o);
            assert_int_equal(o.status, 0);
            assert_string_equal(o.type, "ErrorResponse");
            msg = json_string_value(json_object_get(o.body, "message"));
            assert_non_null(msg);
            assert_non_null(strstr(msg, "is forbidden"));
            json_decref(o.body);
        }
    }
    tc_sleep_ms(2500);
    fleet_stats(&fr, &st);
    assert_int_equal(st.resets, resets);

    /* smartReloadCluster (asked of node 1): node 0, which took node 2's
     * clients, is over avg*1.1 and node 2 under avg*0.9: node 0 gets
     * ServerReload{reloadCount: avg*1.1, reloadServer: node 2} and sheds
     * 10 % of its connections (at most), redirected to node 2. */
    {
        unsigned c0 = counts[0];
        uint64_t until = tc_now_ms() + 15000;
        assert_true(c0 > conns / 3 + conns / 30);
        tc_expect_body(t, 1, "GET", "/nacos/v2/core/loader/smartReloadCluster",
                       200, "Ok");
        while (tc_now_ms() < until) {
            if (member_counts(t, 0, counts) && counts[2] > 0 &&
                counts[0] + counts[1] + counts[2] == conns) {
                break;
            }
            tc_sleep_ms(200);
        }
        printf("balance: smartReloadCluster moved %u of node 0's %u "
               "connections to node 2\n",
               counts[2], c0);
        assert_int_equal(counts[0], c0 - counts[2]);
        assert_true(counts[2] > 0 && counts[2] <= c0 / 10 + 1);
    }

    /* reloadCurrent on node 0: down to 20, redirected to node 2 */
    fleet_stats(&fr, &st);
    resets = st.redirects;
    snprintf(path, sizeof path,
             "/nacos/v2/core/loader/reloadCurrent?count=20&"
             "redirectAddress=127.0.0.1:%d",
             t->c.nodes[2].port);
    tc_expect_body(t, 0, "GET", path, 200, "success");
    {
        uint64_t until = tc_now_ms() + 15000;
        unsigned c0 = counts[0];
        unsigned c2 = counts[2];
        while (tc_now_ms() < until) {
            if (member_counts(t, 0, counts) && counts[0] <= 20 &&
                counts[0] + counts[1] + counts[2] == conns) {
                break;
            }
            tc_sleep_ms(200);
        }
        assert_int_equal(counts[0], 20);
        assert_int_equal(counts[2], c2 + c0 - 20);
    }
    /* The fleet's stats are copied every 50 ms: the reconnections the
     * counts show may be newer than the copy. */
    {
        uint64_t until = tc_now_ms() + 2000;
        fleet_stats(&fr, &st);
        while (st.redirects <= resets && tc_now_ms() < until) {
            tc_sleep_ms(50);
            fleet_stats(&fr, &st);
        }
    }
    assert_true(st.redirects > resets);

    fleet_stop(&fr);
    tc_pass(t);
}

/* ------------------------------------------- the cluster port itself */

/* @type with @body (JSON text) to node @i's cluster port; the answer in
 * @q (the caller decrefs q->body). */
static void cluster_request(struct tpeer *e, unsigned i, const char *type,
                            const char *body, struct tpeer_req *q)
{
    json_t *b = json_loads(body, 0, NULL);
    assert_non_null(b);
    tpeer_req_init(q);
    assert_int_equal(
        lc_peers_request(e->ps, e->addr[i], &q->r, type, b, 0, tpeer_on_req),
        0);
    json_decref(b);
    assert_true(tpeer_spin(e, &q->done, 5000));
    assert_int_equal(q->status, 0);
}

/* A refused ServerReloadRequest: errorCode 400, message containing @want. */
static void reload_refused(struct tpeer *e, const char *body, const char *want)
{
    struct tpeer_req q;
    cluster_request(e, 0, "ServerReloadRequest", body, &q);
    assert_string_equal(q.type, "ServerReloadResponse");
    assert_int_equal(json_integer_value(json_object_get(q.body, "resultCode")),
                     500);
    assert_int_equal(json_integer_value(json_object_get(q.body, "errorCode")),
                     400);
    assert_non_null(strstr(
        json_string_value(json_object_get(q.body, "message")), want));
    json_decref(q.body);
}

static void test_cluster_port(void **state)
{
    struct tc *t = *state;
    struct tpeer e;
    struct fleet_run fr;
    struct lc_fleet_stats st;
    struct tpeer_req q;
    json_t *m;
    char body[512];
    uint64_t until;

    /* Nodes 0 and 1 only (member 2, this process, is DOWN for them: no
     * automatic balancing), 40 connections, all on node 0. */
    tc_init(t, "balance_port", 3, NULL);
    tc_start(t, 0);
    tc_start(t, 1);
    tc_wait_ready(t, 0);
    tc_wait_ready(t, 1);
    memset(&fr, 0, sizeof fr);
    fr.cfg.host = "127.0.0.1";
    fr.cfg.n_servers = 1;
    fr.cfg.ports[0] = t->c.nodes[0].port;
    fr.cfg.conns = 40;
    pthread_mutex_init(&fr.mu, NULL);
    assert_int_equal(pthread_create(&fr.thread, NULL, fleet_main, &fr), 0);
    until = tc_now_ms() + 20000;
    do {
        tc_sleep_ms(50);
        fleet_stats(&fr, &st);
    } while (st.ready[0] != 40 && tc_now_ms() < until);
    assert_int_equal(st.ready[0], 40);
    /* This process as member 2 (the cluster's secret and member list, with
     * the membership proof), asking nodes 0 and 1 over the cluster port. */
    tpeer_up(&e, t, false);

    cluster_request(&e, 0, "ServerLoaderInfoRequest",
                    "{\"module\":\"internal\",\"headers\":{}}", &q);
    assert_string_equal(q.type, "ServerLoaderInfoResponse");
    assert_int_equal(json_integer_value(json_object_get(q.body, "resultCode")),
                     200);
    m = json_object_get(q.body, "loaderMetrics");
    assert_string_equal(json_string_value(json_object_get(m, "sdkConCount")),
                        "40");
    assert_true(json_is_string(json_object_get(m, "conCount")));
    assert_true(json_is_string(json_object_get(m, "load")));
    assert_true(json_is_string(json_object_get(m, "cpu")));
    json_decref(q.body);

    /* bad input: refused, nothing moves */
    reload_refused(&e, "{\"module\":\"internal\",\"headers\":{}}",
                   "reloadCount");
    reload_refused(&e,
                   "{\"module\":\"internal\",\"headers\":{},"
                   "\"reloadCount\":\"5\"}",
                   "reloadCount");
    reload_refused(&e,
                   "{\"module\":\"internal\",\"headers\":{},"
                   "\"reloadCount\":-1}",
                   "reloadCount");
    reload_refused(&e,
                   "{\"module\":\"internal\",\"headers\":{},"
                   "\"reloadCount\":1,\"reloadServer\":\"nohost\"}",
                   "reloadServer");
    reload_refused(&e,
                   "{\"module\":\"internal\",\"headers\":{},"
                   "\"reloadCount\":1,\"reloadServer\":7}",
                   "reloadServer");

    /* no more than reloadCount: ignore */
    cluster_request(&e, 0, "ServerReloadRequest",
                    "{\"module\":\"internal\",\"headers\":{},"
                    "\"reloadCount\":40}",
                    &q);
    assert_string_equal(json_string_value(json_object_get(q.body, "message")),
                        "ignore");
    json_decref(q.body);
    tc_sleep_ms(1500);
    fleet_stats(&fr, &st);
    assert_int_equal(st.resets, 0);

    /* reloadCount 10 of 40: at most 10 % go (max(10, 36) stay), redirected
     * to node 1, which this fleet does not know: it reconnects to its
     * next server (node 0 again) */
    snprintf(body, sizeof body,
             "{\"module\":\"internal\",\"headers\":{},"
             "\"reloadCount\":10,\"reloadServer\":\"%s\"}",
             e.addr[1]);
    cluster_request(&e, 0, "ServerReloadRequest", body, &q);
    assert_string_equal(json_string_value(json_object_get(q.body, "message")),
                        "ok");
    json_decref(q.body);
    until = tc_now_ms() + 10000;
    do {
        tc_sleep_ms(100);
        fleet_stats(&fr, &st);
    } while ((st.resets < 4 || st.ready[0] != 40) && tc_now_ms() < until);
    tc_sleep_ms(1000);
    fleet_stats(&fr, &st);
    assert_int_equal(st.resets, 4);
    assert_int_equal(st.redirects, 0);
    assert_int_equal(st.ready[0], 40);

    tpeer_down(&e);
    fleet_stop(&fr);
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rolling_restart, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_disabled_and_manual, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_cluster_port, tc_setup,
                                        tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
