/* locusctl bench failover: how long a 3-node cluster is unavailable when the
 * leader of naming_persistent_service_v2 is killed, and whether any
 * acknowledged write is lost.
 *
 * It starts its own cluster on loopback, runs keep-alive clients that
 * register persistent instances (each client its own service, each write a
 * new ip:port), measures steady throughput and latency, then per trial:
 * finds the leader, SIGKILLs it, and records
 *   - time to a new leader (polling the survivors' raft view every 5 ms),
 *   - unavailability: kill -> first acknowledged write after it,
 *   - the longest gap between acknowledged writes around the kill,
 *   - lost writes: acknowledged instances missing on any member, checked
 *     with consistent reads on the survivors and, after the killed node is
 *     restarted and has caught up, on it too.
 * Clients that lose their node move to the next one.
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "bench/bench.h"
#include "bench/cluster.h"
#include "common/util.h"
#include "rpc/http/http.h"

#define GROUP "naming_persistent_service_v2"
#define PORTS_PER_IP 60000

struct fo;

struct client {
    struct fo *fo;
    unsigned id;
    unsigned node;
    struct lc_http_conn *conn;
    struct lc_http_call call;
    uv_timer_t retry;
    bool busy;
    uint64_t seq;
    uint64_t sent_us;
    char service[64];
    uint8_t *acked; /* bitmap of acknowledged seqs */
    size_t acked_cap;
    uint64_t n_acked;
};

struct u64v {
    uint64_t *v;
    size_t n;
    size_t cap;
};

struct poller {
    struct lc_http_conn *conn;
    struct lc_http_call call;
    unsigned node;
    bool busy;
};

struct fo {
    uv_loop_t loop;
    struct lc_cluster cluster;
    struct client *clients;
    unsigned n_clients;
    bool running;
    unsigned trial;
    const char *phase;
    uint64_t errors;
    struct u64v acks;      /* ack times (us) in this phase */
    struct u64v latencies; /* us */
    /* trial state */
    int killed;
    uint64_t kill_us;
    uint64_t first_ack_us;
    uint64_t leader_us;
    struct poller pollers[LC_CLUSTER_MAX];
    uv_timer_t poll_timer;
    uv_timer_t stop_timer;
};

struct trial {
    double leader_ms;
    double unavail_ms;
    double gap_ms;
    uint64_t acked;
    uint64_t lost;
    uint64_t unverified;
};

static void push(struct u64v *a, uint64_t x)
{
    if (a->n == a->cap) {
        size_t cap = a->cap == 0 ? 4096 : a->cap * 2;
        uint64_t *v = realloc(a->v, cap * sizeof *v);
        if (v == NULL) {
            return;
        }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void lc_bench_sort(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_u64);
}

uint64_t lc_bench_percentile(const uint64_t *sorted, size_t n, double p)
{
    size_t i;
    if (n == 0) {
        return 0;
    }
    i = (size_t)((p / 100.0) * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

/* ---------------------------------------------------------------- load */

static void client_send(struct client *c);

static bool node_alive(struct fo *fo, unsigned i)
{
    return fo->cluster.nodes[i].pid != 0;
}

static void client_switch(struct client *c)
{
    struct fo *fo = c->fo;
    if (c->conn != NULL) {
        lc_http_conn_close(c->conn);
        c->conn = NULL;
    }
    for (unsigned k = 0; k < fo->cluster.n; k++) {
        c->node = (c->node + 1) % fo->cluster.n;
        if (node_alive(fo, c->node)) {
            break;
        }
    }
}

static void on_retry(uv_timer_t *t)
{
    client_send(t->data);
}

static void mark_acked(struct client *c, uint64_t seq)
{
    size_t byte = seq / 8;
    if (byte >= c->acked_cap) {
        size_t cap = c->acked_cap == 0 ? 8192 : c->acked_cap;
        while (cap <= byte) {
            cap *= 2;
        }
        uint8_t *p = realloc(c->acked, cap);
        if (p == NULL) {
            return;
        }
        memset(p + c->acked_cap, 0, cap - c->acked_cap);
        c->acked = p;
        c->acked_cap = cap;
    }
    c->acked[byte] |= (uint8_t)(1u << (seq % 8));
    c->n_acked++;
}

static void on_response(struct lc_http_call *call, int status, int http_status,
                        const char *body, size_t len)
{
    struct client *c = call->data;
    struct fo *fo = c->fo;
    uint64_t now = lc_mono_us();
    (void)body;
    (void)len;

    c->busy = false;
    if (status == 0 && http_status == 200) {
        mark_acked(c, c->seq);
        push(&fo->acks, now);
        push(&fo->latencies, now - c->sent_us);
        if (fo->kill_us != 0 && fo->first_ack_us == 0 && now > fo->kill_us) {
            fo->first_ack_us = now;
        }
        c->seq++;
        if (fo->running) {
            client_send(c);
        }
        return;
    }
    fo->errors++;
    if (status != 0) {
        client_switch(c); /* connection trouble: try another node */
    }
    if (fo->running) {
        uv_timer_start(&c->retry, on_retry, 5, 0);
    }
}

static void client_send(struct client *c)
{
    struct fo *fo = c->fo;
    char path[512];
    uint64_t s = c->seq;

    if (!fo->running || c->busy) {
        return;
    }
    if (c->conn == NULL) {
        if (!node_alive(fo, c->node)) {
            client_switch(c);
        }
        if (lc_http_conn_new(&fo->loop, "127.0.0.1",
                             fo->cluster.nodes[c->node].port, 2000,
                             &c->conn) != 0) {
            uv_timer_start(&c->retry, on_retry, 5, 0);
            return;
        }
    }
    snprintf(path, sizeof path,
             "/nacos/v1/ns/instance?serviceName=%s&ip=127.%u.%u.%u&port=%u"
             "&ephemeral=false",
             c->service, fo->trial % 250, c->id,
             (unsigned)(s / PORTS_PER_IP), (unsigned)(s % PORTS_PER_IP) + 1);
    c->call.data = c;
    c->sent_us = lc_mono_us();
    c->busy = true;
    if (lc_http_conn_send(c->conn, &c->call, "POST", path, NULL, NULL, 0,
                          on_response) != 0) {
        c->busy = false;
        client_switch(c);
        uv_timer_start(&c->retry, on_retry, 5, 0);
    }
}

static void load_begin(struct fo *fo, const char *prefix)
{
    fo->acks.n = 0;
    fo->latencies.n = 0;
    fo->errors = 0;
    fo->running = true;
    for (unsigned i = 0; i < fo->n_clients; i++) {
        struct client *c = &fo->clients[i];
        snprintf(c->service, sizeof c->service, "%s-%u-c%u", prefix,
                 fo->trial, i);
        c->seq = 0;
        c->n_acked = 0;
        if (c->acked != NULL) {
            memset(c->acked, 0, c->acked_cap);
        }
        client_send(c);
    }
}

static void on_stop_timer(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Run the loop for @ms (or until uv_stop). */
static void run_for(struct fo *fo, unsigned ms)
{
    /* The loop's clock is stale after blocking work between phases. */
    uv_update_time(&fo->loop);
    uv_timer_start(&fo->stop_timer, on_stop_timer, ms, 0);
    uv_run(&fo->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&fo->stop_timer);
}

static void load_end(struct fo *fo)
{
    bool busy = true;
    fo->running = false;
    for (unsigned i = 0; i < fo->n_clients; i++) {
        uv_timer_stop(&fo->clients[i].retry);
    }
    for (int k = 0; busy && k < 300; k++) {
        run_for(fo, 10);
        busy = false;
        for (unsigned i = 0; i < fo->n_clients; i++) {
            busy = busy || fo->clients[i].busy;
        }
    }
}

/* ---------------------------------------------------- leader detection */

static void on_poll_response(struct lc_http_call *call, int status,
                             int http_status, const char *body, size_t len)
{
    struct poller *p = call->data;
    struct fo *fo = LC_CONTAINER_OF(p, struct fo, pollers[p->node]);
    json_t *root;
    json_t *g;
    size_t i;
    p->busy = false;
    if (status != 0 || http_status != 200 || fo->leader_us != 0) {
        return;
    }
    root = json_loadb(body, len, 0, NULL);
    json_array_foreach(json_object_get(root, "groups"), i, g)
    {
        const char *name = json_string_value(json_object_get(g, "group"));
        const char *leader = json_string_value(json_object_get(g, "leader"));
        char killed[64];
        snprintf(killed, sizeof killed, "127.0.0.1:%d",
                 fo->cluster.nodes[fo->killed].port - 1000);
        if (name != NULL && strcmp(name, GROUP) == 0 && leader != NULL &&
            strcmp(leader, killed) != 0) {
            fo->leader_us = lc_mono_us();
        }
    }
    json_decref(root);
}

static void on_poll_timer(uv_timer_t *t)
{
    struct fo *fo = t->data;
    if (fo->leader_us != 0) {
        uv_timer_stop(t);
        return;
    }
    for (unsigned i = 0; i < fo->cluster.n; i++) {
        struct poller *p = &fo->pollers[i];
        if (!node_alive(fo, i) || p->busy) {
            continue;
        }
        if (p->conn == NULL &&
            lc_http_conn_new(&fo->loop, "127.0.0.1", fo->cluster.nodes[i].port,
                             1000, &p->conn) != 0) {
            continue;
        }
        p->node = i;
        p->call.data = p;
        p->busy = lc_http_conn_send(p->conn, &p->call, "GET",
                                    "/v1/core/raft/groups", NULL, NULL, 0,
                                    on_poll_response) == 0;
    }
}

/* ----------------------------------------------------------- verifying */

/* GET @path on node @i, retrying for up to 60 s (a node that just
 * restarted may still be applying the log). */
static char *get_retry(struct fo *fo, unsigned node, const char *path)
{
    uint64_t end = lc_mono_ms() + 60000;
    do {
        char *body = NULL;
        if (lc_cluster_http(&fo->cluster, node, "GET", path, NULL, NULL,
                            &body) == 200 &&
            body != NULL) {
            return body;
        }
        free(body);
        usleep(200000);
    } while (lc_mono_ms() < end);
    return NULL;
}

/* Acknowledged writes of every client missing on node @i; *@unverified
 * counts those that could not be checked (the node did not answer). */
static uint64_t count_lost(struct fo *fo, unsigned node, uint64_t *unverified)
{
    uint64_t lost = 0;
    for (unsigned ci = 0; ci < fo->n_clients; ci++) {
        struct client *c = &fo->clients[ci];
        char path[256];
        char *body;
        json_t *root;
        json_t *h;
        size_t i;
        size_t cap = c->acked_cap;
        uint8_t *seen;
        snprintf(path, sizeof path,
                 "/nacos/v1/ns/instance/list?serviceName=%s&consistent=true",
                 c->service);
        body = get_retry(fo, node, path);
        if (body == NULL) {
            fprintf(stderr, "  verify: node%u did not answer for %s\n", node,
                    c->service);
            *unverified += c->n_acked;
            continue;
        }
        seen = calloc(cap > 0 ? cap : 1, 1);
        root = json_loads(body, 0, NULL);
        free(body);
        json_array_foreach(json_object_get(root, "hosts"), i, h)
        {
            const char *ip = json_string_value(json_object_get(h, "ip"));
            long long port = json_integer_value(json_object_get(h, "port"));
            unsigned a, b, cc, d;
            if (ip != NULL && sscanf(ip, "%u.%u.%u.%u", &a, &b, &cc, &d) == 4) {
                uint64_t seq = (uint64_t)d * PORTS_PER_IP + (uint64_t)port - 1;
                if (seq / 8 < cap) {
                    seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
                }
            }
        }
        json_decref(root);
        for (size_t byte = 0; byte < cap; byte++) {
            uint8_t missing = c->acked[byte] & (uint8_t)~seen[byte];
            lost += (uint64_t)__builtin_popcount(missing);
        }
        free(seen);
    }
    return lost;
}

static uint64_t node_elections(struct fo *fo, unsigned node)
{
    char *body = NULL;
    json_t *root;
    json_t *g;
    size_t i;
    uint64_t total = 0;
    if (lc_cluster_http(&fo->cluster, node, "GET", "/v1/core/raft/groups",
                        NULL, NULL, &body) != 200) {
        free(body);
        return 0;
    }
    root = json_loads(body, 0, NULL);
    free(body);
    json_array_foreach(json_object_get(root, "groups"), i, g)
    {
        total += (uint64_t)json_integer_value(json_object_get(g, "elections"));
    }
    json_decref(root);
    return total;
}

static uint64_t leader_commit(struct fo *fo, unsigned node)
{
    char *body = NULL;
    json_t *root;
    json_t *g;
    size_t i;
    uint64_t v = 0;
    if (lc_cluster_http(&fo->cluster, node, "GET", "/v1/core/raft/groups",
                        NULL, NULL, &body) == 200) {
        root = json_loads(body, 0, NULL);
        json_array_foreach(json_object_get(root, "groups"), i, g)
        {
            const char *name = json_string_value(json_object_get(g, "group"));
            if (name != NULL && strcmp(name, GROUP) == 0) {
                v = (uint64_t)json_integer_value(
                    json_object_get(g, "appliedIndex"));
            }
        }
        json_decref(root);
    }
    free(body);
    return v;
}

/* ---------------------------------------------------------------- trial */

static int run_trial(struct fo *fo, struct trial *t)
{
    int leader = lc_cluster_leader(&fo->cluster, GROUP, 0, 10000);
    uint64_t end;
    uint64_t max_gap = 0;

    memset(t, 0, sizeof *t);
    if (leader < 0) {
        fprintf(stderr, "  no leader before the trial\n");
        return -1;
    }
    load_begin(fo, "fo");
    if (getenv("LOCUS_BENCH_DEBUG") != NULL) {
        fprintf(stderr, "    warm-up from %llu (wall ms), leader node%d\n",
                (unsigned long long)lc_now_ms(), leader);
    }
    run_for(fo, 1000);

    fo->killed = leader;
    fo->leader_us = 0;
    fo->first_ack_us = 0;
    fo->kill_us = lc_mono_us();
    lc_cluster_signal(&fo->cluster, (unsigned)leader, SIGKILL);
    uv_timer_start(&fo->poll_timer, on_poll_timer, 0, 5);
    end = fo->kill_us + 15000000;
    while ((fo->leader_us == 0 || fo->first_ack_us == 0) &&
           lc_mono_us() < end) {
        run_for(fo, 10);
    }
    uv_timer_stop(&fo->poll_timer);
    run_for(fo, 1000);
    load_end(fo);

    if (fo->leader_us == 0 || fo->first_ack_us == 0) {
        fprintf(stderr, "  no recovery within 15 s\n");
        return -1;
    }
    t->leader_ms = (double)(fo->leader_us - fo->kill_us) / 1000.0;
    t->unavail_ms = (double)(fo->first_ack_us - fo->kill_us) / 1000.0;
    lc_bench_sort(fo->acks.v, fo->acks.n);
    uint64_t gap_at = 0;
    for (size_t i = 1; i < fo->acks.n; i++) {
        uint64_t gap = fo->acks.v[i] - fo->acks.v[i - 1];
        if (fo->acks.v[i] > fo->kill_us - 1000000 && gap > max_gap) {
            max_gap = gap;
            gap_at = fo->acks.v[i - 1];
        }
    }
    if (getenv("LOCUS_BENCH_DEBUG") != NULL) {
        fprintf(stderr, "    longest gap starts at %+.1f ms (wall %llu)\n",
                ((double)gap_at - (double)fo->kill_us) / 1000.0,
                (unsigned long long)(lc_now_ms() -
                                     (lc_mono_us() - gap_at) / 1000));
    }
    t->gap_ms = (double)max_gap / 1000.0;
    if (getenv("LOCUS_BENCH_DEBUG") != NULL) {
        size_t before = 0;
        for (size_t i = 0; i < fo->acks.n; i++) {
            before += fo->acks.v[i] <= fo->kill_us;
        }
        fprintf(stderr, "    %zu acks, %zu before the kill, first %+.1f ms, last %+.1f ms\n",
                fo->acks.n, before,
                fo->acks.n ? ((double)fo->acks.v[0] - (double)fo->kill_us) / 1000 : 0.0,
                fo->acks.n ? ((double)fo->acks.v[fo->acks.n - 1] - (double)fo->kill_us) / 1000 : 0.0);
        for (size_t i = 0; i < fo->acks.n; i++) {
            int64_t rel = (int64_t)fo->acks.v[i] - (int64_t)fo->kill_us;
            if (rel > -20000 && rel < 1000000) {
                fprintf(stderr, "    ack %+.1f ms\n", (double)rel / 1000.0);
            }
        }
    }
    for (unsigned i = 0; i < fo->n_clients; i++) {
        t->acked += fo->clients[i].n_acked;
    }
    for (unsigned i = 0; i < fo->cluster.n; i++) {
        if (node_alive(fo, i)) {
            t->lost += count_lost(fo, i, &t->unverified);
        }
    }
    /* Bring the killed node back and check it caught up. */
    lc_cluster_start_node(&fo->cluster, (unsigned)leader);
    if (lc_cluster_wait_ready(&fo->cluster, (unsigned)leader, 30000) != 0) {
        fprintf(stderr, "  node%d did not come back; raft views:\n", leader);
        for (unsigned i = 0; i < fo->cluster.n; i++) {
            char *body = NULL;
            lc_cluster_http(&fo->cluster, i, "GET", "/v1/core/raft/groups",
                            NULL, NULL, &body);
            fprintf(stderr, "  node%u: %s\n", i, body != NULL ? body : "-");
            free(body);
        }
        return -1;
    }
    {
        int l = lc_cluster_leader(&fo->cluster, GROUP, 0, 5000);
        uint64_t target = l >= 0 ? leader_commit(fo, (unsigned)l) : 0;
        uint64_t until = lc_mono_ms() + 30000;
        while (leader_commit(fo, (unsigned)leader) < target &&
               lc_mono_ms() < until) {
            usleep(20000);
        }
    }
    t->lost += count_lost(fo, (unsigned)leader, &t->unverified);
    return 0;
}

/* --------------------------------------------------------------- report */

static double pct_d(double *v, unsigned n, double p)
{
    uint64_t tmp[256];
    for (unsigned i = 0; i < n; i++) {
        tmp[i] = (uint64_t)(v[i] * 1000.0);
    }
    lc_bench_sort(tmp, n);
    return (double)lc_bench_percentile(tmp, n, p) / 1000.0;
}

static const char fo_usage[] =
    "usage: locusctl bench failover [--trials N] [--clients N] [--steady S]\n"
    "       [--port P] [--dir D] [--locusd PATH] [--json]\n"
    "\n"
    "Starts a 3-node cluster on 127.0.0.1 (HTTP ports P, P+10, P+20; default\n"
    "19848), measures steady throughput for S seconds (10), then kills the\n"
    "leader of naming_persistent_service_v2 N times (10) under load from\n"
    "N clients (16), restarting it between trials.\n";

int lc_bench_failover(int argc, char **argv, bool json)
{
    struct lc_cluster_spec spec = {.n = 3,
                                   .base_port = 19848,
                                   .port_step = 10,
                                   .dir = "data/bench-failover",
                                   .locusd = "build/locusd"};
    struct fo fo;
    unsigned trials = 10;
    unsigned steady = 10;
    struct trial t[256];
    unsigned done = 0;
    uint64_t lost = 0;
    uint64_t unverified = 0;
    uint64_t elections_before = 0;
    uint64_t elections_after = 0;
    double steady_rate;
    uint64_t p50, p90, p99, pmax;
    int rc = 0;

    memset(&fo, 0, sizeof fo);
    fo.n_clients = 16;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            json = true;
            continue;
        }
        if (strcmp(a, "--help") == 0) {
            fputs(fo_usage, stdout);
            return 0;
        }
        if (v == NULL) {
            fprintf(stderr, "locusctl: %s needs a value\n%s", a, fo_usage);
            return 2;
        }
        i++;
        if (strcmp(a, "--trials") == 0) {
            trials = (unsigned)atoi(v);
        } else if (strcmp(a, "--clients") == 0) {
            fo.n_clients = (unsigned)atoi(v);
        } else if (strcmp(a, "--steady") == 0) {
            steady = (unsigned)atoi(v);
        } else if (strcmp(a, "--port") == 0) {
            spec.base_port = atoi(v);
        } else if (strcmp(a, "--dir") == 0) {
            spec.dir = v;
        } else if (strcmp(a, "--locusd") == 0) {
            spec.locusd = v;
        } else {
            fprintf(stderr, "locusctl: unknown option %s\n%s", a, fo_usage);
            return 2;
        }
    }
    if (trials == 0 || trials > 256 || fo.n_clients == 0 ||
        fo.n_clients > 1024) {
        fprintf(stderr, "locusctl: 1..256 trials, 1..1024 clients\n");
        return 2;
    }
    if (lc_cluster_init(&fo.cluster, &spec) != 0 ||
        lc_cluster_wipe(&fo.cluster) != 0) {
        return 1;
    }
    fprintf(stderr, "starting a 3-node cluster in %s (ports %d, %d, %d)...\n",
            fo.cluster.dir, fo.cluster.nodes[0].port, fo.cluster.nodes[1].port,
            fo.cluster.nodes[2].port);
    if (lc_cluster_start(&fo.cluster) != 0 ||
        lc_cluster_wait_all_ready(&fo.cluster, 30000) != 0) {
        fprintf(stderr, "locusctl: cluster did not become ready; logs in %s\n",
                fo.cluster.dir);
        lc_cluster_stop(&fo.cluster);
        return 1;
    }
    uv_loop_init(&fo.loop);
    uv_timer_init(&fo.loop, &fo.poll_timer);
    uv_timer_init(&fo.loop, &fo.stop_timer);
    fo.poll_timer.data = &fo;
    fo.clients = calloc(fo.n_clients, sizeof *fo.clients);
    for (unsigned i = 0; i < fo.n_clients; i++) {
        fo.clients[i].fo = &fo;
        fo.clients[i].id = i;
        fo.clients[i].node = i % fo.cluster.n;
        uv_timer_init(&fo.loop, &fo.clients[i].retry);
        fo.clients[i].retry.data = &fo.clients[i];
    }

    /* Steady state. */
    fprintf(stderr, "steady load: %u clients for %u s...\n", fo.n_clients,
            steady);
    for (unsigned i = 0; i < fo.cluster.n; i++) {
        elections_before += node_elections(&fo, i);
    }
    fo.trial = 0;
    load_begin(&fo, "steady");
    run_for(&fo, steady * 1000);
    load_end(&fo);
    for (unsigned i = 0; i < fo.cluster.n; i++) {
        elections_after += node_elections(&fo, i);
    }
    steady_rate = (double)fo.acks.n / (double)steady;
    lc_bench_sort(fo.latencies.v, fo.latencies.n);
    p50 = lc_bench_percentile(fo.latencies.v, fo.latencies.n, 50);
    p90 = lc_bench_percentile(fo.latencies.v, fo.latencies.n, 90);
    p99 = lc_bench_percentile(fo.latencies.v, fo.latencies.n, 99);
    pmax = lc_bench_percentile(fo.latencies.v, fo.latencies.n, 100);
    fprintf(stderr,
            "  %.0f writes/s, latency p50 %.2f ms, p99 %.2f ms, %llu errors, "
            "%llu leader changes\n",
            steady_rate, (double)p50 / 1000, (double)p99 / 1000,
            (unsigned long long)fo.errors,
            (unsigned long long)(elections_after - elections_before));

    for (unsigned k = 0; k < trials; k++) {
        fo.trial = k + 1;
        if (run_trial(&fo, &t[done]) != 0) {
            rc = 1;
            break;
        }
        lost += t[done].lost;
        unverified += t[done].unverified;
        fprintf(stderr,
                "trial %2u/%u: killed node%d  new leader %6.1f ms  "
                "unavailable %6.1f ms  max gap %6.1f ms  %llu acked, %llu "
                "lost%s\n",
                k + 1, trials, fo.killed, t[done].leader_ms,
                t[done].unavail_ms, t[done].gap_ms,
                (unsigned long long)t[done].acked,
                (unsigned long long)t[done].lost,
                t[done].unverified > 0 ? " (some unverified)" : "");
        done++;
    }
    lc_cluster_stop(&fo.cluster);

    double lm[256], um[256], gm[256];
    for (unsigned i = 0; i < done; i++) {
        lm[i] = t[i].leader_ms;
        um[i] = t[i].unavail_ms;
        gm[i] = t[i].gap_ms;
    }
    if (json) {
        json_t *root = json_object();
        json_t *st = json_object();
        json_t *arr = json_array();
        json_object_set_new(st, "seconds", json_integer(steady));
        json_object_set_new(st, "clients", json_integer(fo.n_clients));
        json_object_set_new(st, "writesPerSec", json_real(steady_rate));
        json_object_set_new(st, "p50Ms", json_real((double)p50 / 1000));
        json_object_set_new(st, "p90Ms", json_real((double)p90 / 1000));
        json_object_set_new(st, "p99Ms", json_real((double)p99 / 1000));
        json_object_set_new(st, "maxMs", json_real((double)pmax / 1000));
        json_object_set_new(
            st, "leaderChanges",
            json_integer((json_int_t)(elections_after - elections_before)));
        json_object_set_new(root, "steady", st);
        for (unsigned i = 0; i < done; i++) {
            json_t *o = json_object();
            json_object_set_new(o, "newLeaderMs", json_real(t[i].leader_ms));
            json_object_set_new(o, "unavailableMs", json_real(t[i].unavail_ms));
            json_object_set_new(o, "maxGapMs", json_real(t[i].gap_ms));
            json_object_set_new(o, "acked", json_integer((json_int_t)t[i].acked));
            json_object_set_new(o, "lost", json_integer((json_int_t)t[i].lost));
            json_array_append_new(arr, o);
        }
        json_object_set_new(root, "trials", arr);
        json_object_set_new(root, "lost", json_integer((json_int_t)lost));
        json_object_set_new(root, "unverified",
                            json_integer((json_int_t)unverified));
        char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        printf("%s\n", text);
        free(text);
        json_decref(root);
    } else if (done > 0) {
        printf("\nsteady state: %u clients, %u s: %.0f writes/s; latency p50 "
               "%.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms; %llu leader "
               "changes\n\n",
               fo.n_clients, steady, steady_rate, (double)p50 / 1000,
               (double)p90 / 1000, (double)p99 / 1000, (double)pmax / 1000,
               (unsigned long long)(elections_after - elections_before));
        printf("%-28s %9s %9s %9s %9s\n", "over " , "min", "median", "p90",
               "max");
        printf("%-28s %9.1f %9.1f %9.1f %9.1f\n", "new leader (ms)",
               pct_d(lm, done, 0), pct_d(lm, done, 50), pct_d(lm, done, 90),
               pct_d(lm, done, 100));
        printf("%-28s %9.1f %9.1f %9.1f %9.1f\n", "unavailable (ms)",
               pct_d(um, done, 0), pct_d(um, done, 50), pct_d(um, done, 90),
               pct_d(um, done, 100));
        printf("%-28s %9.1f %9.1f %9.1f %9.1f\n", "longest ack gap (ms)",
               pct_d(gm, done, 0), pct_d(gm, done, 50), pct_d(gm, done, 90),
               pct_d(gm, done, 100));
        printf("\n%u trials, %llu acknowledged writes lost", done,
               (unsigned long long)lost);
        if (unverified > 0) {
            printf(", %llu could not be verified (a node did not answer)",
                   (unsigned long long)unverified);
        }
        printf("\n");
    }
    return rc != 0 ? rc : (lost > 0 || unverified > 0 ? 1 : 0);
}
