/* locusctl bench failover: how long a 3-node cluster is unavailable for
 * writes when the leader of naming_persistent_service_v2 is killed,
 * partitioned away or paused, and whether any acknowledged write is lost.
 *
 * It starts its own cluster (fresh for each fault kind), runs keep-alive
 * clients that register persistent instances, each client its own service
 * and node, and optionally measures a steady phase with no fault (writes/s,
 * latency, and the leader changes and terms of every raft group: a stable
 * cluster has none). Then, per trial, it finds the leader and
 *   kill:      SIGKILLs it (restarted after the trial),
 *   partition: isolates it from the other members in its network namespace
 *              (clients still reach it; packets are dropped, nothing is
 *              closed), healed after --fault-secs,
 *   pause:     SIGSTOPs it, SIGCONT after --fault-secs,
 * and records
 *   - unavailability per client: fault -> that client's first acknowledged
 *     write among the requests it sent after the fault. A client whose
 *     request fails or times out (--timeout-ms, 1 s) retries at once on the
 *     next member, so a hung member costs its clients the client timeout,
 *     which is counted and shown apart ("clients of other members");
 *   - time to a new leader (the survivors' raft view, polled every 5 ms);
 *   - leader changes (each member's count) and terms during the trial;
 *   - lost writes: an acknowledged write missing on any member once the
 *     cluster has settled, by consistent reads on every member.
 * Each write carries its number in the instance's metadata ("s") and goes
 * to a slot (ip:port) of its client; slots restart at 0 each trial, so the
 * cluster's state stays the same size from trial to trial. A slot must hold
 * its last acknowledged write or a later one.
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
#include "bench/netns.h"
#include "common/err.h"
#include "common/util.h"
#include "rpc/http/http.h"

#define GROUP "naming_persistent_service_v2"
#define SLOTS 8000 /* per client: 127.201.<client>.<1 + slot / 1000> */
#define MAX_TRIALS 256
#define MAX_CLIENTS 250
#define RECOVERY_MS 20000 /* a trial fails when a client waits longer */
#define SHUN_MS 3000      /* a member that timed out is tried last */

enum fault { F_KILL, F_PARTITION, F_PAUSE, N_FAULTS };

static const char *const fault_names[N_FAULTS] = {"kill", "partition",
                                                  "pause"};

struct fo;

struct client {
    struct fo *fo;
    unsigned id;
    unsigned node; /* the member it writes to */
    struct lc_http_conn *conn;
    struct lc_http_call call;
    uv_timer_t retry;
    bool busy;
    uint64_t seq;       /* writes sent so far (the metadata "s" of the next) */
    unsigned slot;      /* next slot this trial */
    unsigned in_slot;   /* slot and number of the write in flight */
    uint64_t in_seq;
    uint64_t sent_us;
    uint64_t *acked;    /* per slot: number of its last acknowledged write */
    uint64_t n_acked;
    int node_at_fault;  /* the member it wrote to when the fault came */
    uint64_t shun_until[LC_CLUSTER_MAX]; /* a member that timed out (us) */
    uint64_t first_us;  /* first ack of a request sent after the fault */
    char service[64];
};

struct u64v {
    uint64_t *v;
    size_t n;
    size_t cap;
};

struct poller {
    struct fo *fo;
    struct lc_http_conn *conn;
    struct lc_http_call call;
    unsigned node;
    bool busy;
};

/* Raft figures of one group as one member sees them. */
struct gstat {
    char name[64];
    uint64_t elections;
    uint64_t term;
};

#define MAX_GROUPS 8

struct view {
    struct gstat g[LC_CLUSTER_MAX][MAX_GROUPS];
    unsigned n[LC_CLUSTER_MAX];
    bool ok[LC_CLUSTER_MAX];
};

struct fo {
    uv_loop_t loop;
    struct lc_cluster_spec spec;
    struct lc_cluster cluster;
    bool started;
    struct client *clients;
    unsigned n_clients;
    unsigned timeout_ms;
    unsigned fault_ms;
    bool running;
    bool debug; /* LOCUS_BENCH_DEBUG: each client's requests around a fault */
    uint64_t errors;
    uint64_t timeouts;
    struct u64v acks;      /* ack times (us) */
    struct u64v latencies; /* us */
    /* the trial under way */
    enum fault kind;
    int faulted;
    bool recovering;       /* fault applied, not yet undone */
    uint64_t fault_us;
    uint64_t leader_us;
    uint64_t undo_us;
    struct poller pollers[LC_CLUSTER_MAX];
    uv_timer_t poll_timer;
    uv_timer_t stop_timer;
    uv_timer_t undo_timer;
    /* Network namespaces (NULL: every node on 127.0.0.1, no partitions). */
    struct lc_netns *netns;
    char no_netns[200]; /* why there are none */
};

struct trial {
    int faulted;
    bool apply_failed;
    double apply_ms; /* how long applying the fault took (ip/nft, kill) */
    double leader_ms;
    double gap_ms;
    uint64_t leader_changes;
    uint64_t terms;
    uint64_t acked;
    uint64_t lost;
    uint64_t unverified;
    uint64_t timeouts;
    uint64_t errors;
    unsigned unrecovered;
};

/* Everything measured for one fault kind. */
struct kind_result {
    bool run;
    bool skipped;
    char reason[200];
    unsigned trials;
    struct trial t[MAX_TRIALS];
    struct u64v unavail;       /* us, every client of every trial */
    struct u64v unavail_other; /* clients not on the faulted member */
    unsigned unrecovered;
    uint64_t lost;
    uint64_t unverified;
    bool failed;
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

/* ------------------------------------------------------------ addresses */

/* Where clients reach node @i: 127.0.0.1, or its namespace's address. */
static const char *node_host(const struct fo *fo, unsigned i)
{
    return fo->cluster.nodes[i].host;
}

/* Node @i's raft address as the members name their leader. */
static void node_raft_addr(const struct fo *fo, unsigned i, char *buf,
                           size_t size)
{
    snprintf(buf, size, "%s:%d", node_host(fo, i),
             fo->cluster.nodes[i].port - 1000);
}

static bool node_alive(const struct fo *fo, unsigned i)
{
    return fo->cluster.nodes[i].pid != 0;
}

/* ---------------------------------------------------------------- load */

static void client_send(struct client *c);

/* Give up the current member: close its connection, take the next live
 * one. A killed member is known to be gone; a paused or partitioned one is
 * not, but a member that let a request time out is shunned for a few
 * seconds, as clients with endpoint health (etcd's, gRPC's) do, so that a
 * client does not wait out its timeout on the same hung member twice in a
 * row and the figure shows the cluster rather than the client's luck. */
static void client_switch(struct client *c, bool timed_out)
{
    struct fo *fo = c->fo;
    uint64_t now = lc_mono_us();
    if (timed_out) {
        c->shun_until[c->node] = now + SHUN_MS * 1000ull;
    }
    if (c->conn != NULL) {
        lc_http_conn_close(c->conn);
        c->conn = NULL;
    }
    for (unsigned pass = 0; pass < 2; pass++) {
        for (unsigned k = 0; k < fo->cluster.n; k++) {
            c->node = (c->node + 1) % fo->cluster.n;
            if (node_alive(fo, c->node) &&
                (pass == 1 || c->shun_until[c->node] <= now)) {
                return;
            }
        }
    }
}

static void on_retry(uv_timer_t *t)
{
    client_send(t->data);
}

static void on_response(struct lc_http_call *call, int status, int http_status,
                        const char *body, size_t len)
{
    struct client *c = call->data;
    struct fo *fo = c->fo;
    uint64_t now = lc_mono_us();

    c->busy = false;
    if (status == LC_ECANCELED) {
        return; /* its connection was closed under it */
    }
    if (fo->debug && fo->fault_us != 0 && now > fo->fault_us &&
        (status != 0 || http_status != 200 || c->first_us == 0)) {
        fprintf(stderr, "    c%u node%u sent %+.1f done %+.1f: %s %d %.*s\n",
                c->id, c->node,
                ((double)c->sent_us - (double)fo->fault_us) / 1000.0,
                ((double)now - (double)fo->fault_us) / 1000.0,
                status != 0 ? lc_strerror(status) : "http", http_status,
                (int)(len < 120 ? len : 120), body != NULL ? body : "");
    }
    if (status == 0 && http_status == 200 && len == 2 &&
        memcmp(body, "ok", 2) == 0) {
        if (c->in_seq > c->acked[c->in_slot]) {
            c->acked[c->in_slot] = c->in_seq;
        }
        c->n_acked++;
        push(&fo->acks, now);
        push(&fo->latencies, now - c->sent_us);
        if (fo->fault_us != 0 && c->first_us == 0 &&
            c->sent_us >= fo->fault_us) {
            c->first_us = now;
        }
        if (fo->running) {
            client_send(c);
        }
        return;
    }
    fo->errors++;
    fo->timeouts += status == LC_ETIMEDOUT;
    client_switch(c, status == LC_ETIMEDOUT);
    if (fo->running) {
        uv_timer_start(&c->retry, on_retry, 2, 0);
    }
}

static void client_send(struct client *c)
{
    struct fo *fo = c->fo;
    char path[512];
    unsigned slot;

    if (!fo->running || c->busy) {
        return;
    }
    if (c->conn == NULL) {
        if (!node_alive(fo, c->node)) {
            client_switch(c, false);
        }
        if (lc_http_conn_new(&fo->loop, node_host(fo, c->node),
                             fo->cluster.nodes[c->node].port, fo->timeout_ms,
                             &c->conn) != 0) {
            uv_timer_start(&c->retry, on_retry, 5, 0);
            return;
        }
    }
    slot = c->slot;
    c->slot = (c->slot + 1) % SLOTS;
    c->in_slot = slot;
    c->in_seq = ++c->seq;
    /* metadata={"s":"<seq>"} */
    snprintf(path, sizeof path,
             "/nacos/v1/ns/instance?serviceName=%s&ip=127.201.%u.%u"
             "&port=%u&ephemeral=false&metadata=%%7B%%22s%%22%%3A%%22%llu"
             "%%22%%7D",
             c->service, c->id, 1 + slot / 1000, 20000 + slot % 1000,
             (unsigned long long)c->in_seq);
    c->call.data = c;
    c->sent_us = lc_mono_us();
    c->busy = true;
    if (lc_http_conn_send(c->conn, &c->call, "POST", path, NULL, NULL, 0,
                          on_response) != 0) {
        c->busy = false;
        client_switch(c, false);
        uv_timer_start(&c->retry, on_retry, 5, 0);
    }
}

static void load_begin(struct fo *fo)
{
    fo->acks.n = 0;
    fo->latencies.n = 0;
    fo->errors = 0;
    fo->timeouts = 0;
    fo->running = true;
    /* Request timeouts start from the loop's clock, stale after the
     * blocking work between phases. */
    uv_update_time(&fo->loop);
    for (unsigned i = 0; i < fo->n_clients; i++) {
        struct client *c = &fo->clients[i];
        c->slot = 0;
        c->first_us = 0;
        c->node_at_fault = -1;
        memset(c->shun_until, 0, sizeof c->shun_until);
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

/* Stop sending and wait for the writes in flight (each ends within the
 * client timeout). */
static void load_end(struct fo *fo)
{
    bool busy = true;
    fo->running = false;
    for (unsigned i = 0; i < fo->n_clients; i++) {
        uv_timer_stop(&fo->clients[i].retry);
    }
    for (int k = 0; busy && k < 500; k++) {
        run_for(fo, 10);
        busy = false;
        for (unsigned i = 0; i < fo->n_clients; i++) {
            busy = busy || fo->clients[i].busy;
        }
    }
}

/* ---------------------------------------------------------- raft views */

/* Every group's elections and term as node @i reports them. */
static bool read_groups(struct fo *fo, unsigned i, struct gstat *g,
                        unsigned *n)
{
    char *body = NULL;
    json_t *root;
    json_t *o;
    size_t k;
    *n = 0;
    if (lc_cluster_http(&fo->cluster, i, "GET", "/v1/core/raft/groups", NULL,
                        NULL, &body) != 200 ||
        body == NULL) {
        free(body);
        return false;
    }
    root = json_loads(body, 0, NULL);
    free(body);
    json_array_foreach(json_object_get(root, "groups"), k, o)
    {
        const char *name = json_string_value(json_object_get(o, "group"));
        if (name == NULL || *n == MAX_GROUPS) {
            continue;
        }
        lc_strlcpy(g[*n].name, name, sizeof g[*n].name);
        g[*n].elections =
            (uint64_t)json_integer_value(json_object_get(o, "elections"));
        g[*n].term = (uint64_t)json_integer_value(json_object_get(o, "term"));
        (*n)++;
    }
    json_decref(root);
    return *n > 0;
}

static void read_view(struct fo *fo, struct view *v)
{
    memset(v, 0, sizeof *v);
    for (unsigned i = 0; i < fo->cluster.n; i++) {
        v->ok[i] = node_alive(fo, i) && read_groups(fo, i, v->g[i], &v->n[i]);
    }
}

static const struct gstat *find_group(const struct view *v, unsigned i,
                                      const char *name)
{
    for (unsigned k = 0; k < v->n[i]; k++) {
        if (strcmp(v->g[i][k].name, name) == 0) {
            return &v->g[i][k];
        }
    }
    return NULL;
}

/* Leader changes of @group between two views: the most any member that
 * answered both times counted (a restarted member starts again at 0, so
 * @skip, when not negative, is left out), and the terms it went through. */
static void group_delta(const struct view *a, const struct view *b,
                        unsigned n, const char *group, int skip,
                        uint64_t *changes, uint64_t *terms)
{
    uint64_t ta = 0;
    uint64_t tb = 0;
    *changes = 0;
    for (unsigned i = 0; i < n; i++) {
        const struct gstat *x = a->ok[i] ? find_group(a, i, group) : NULL;
        const struct gstat *y = b->ok[i] ? find_group(b, i, group) : NULL;
        if (x != NULL && x->term > ta) {
            ta = x->term;
        }
        if (y != NULL && y->term > tb) {
            tb = y->term;
        }
        if (x == NULL || y == NULL || (int)i == skip ||
            y->elections < x->elections) {
            continue;
        }
        if (y->elections - x->elections > *changes) {
            *changes = y->elections - x->elections;
        }
    }
    *terms = tb > ta ? tb - ta : 0;
}

/* ---------------------------------------------------- leader detection */

static void on_poll_response(struct lc_http_call *call, int status,
                             int http_status, const char *body, size_t len)
{
    struct poller *p = call->data;
    struct fo *fo = p->fo;
    json_t *root;
    json_t *g;
    size_t i;
    char faulted[64];
    p->busy = false;
    if (status != 0 || http_status != 200 || fo->leader_us != 0) {
        return;
    }
    node_raft_addr(fo, (unsigned)fo->faulted, faulted, sizeof faulted);
    root = json_loadb(body, len, 0, NULL);
    json_array_foreach(json_object_get(root, "groups"), i, g)
    {
        const char *name = json_string_value(json_object_get(g, "group"));
        const char *leader = json_string_value(json_object_get(g, "leader"));
        if (name != NULL && strcmp(name, GROUP) == 0 && leader != NULL &&
            strcmp(leader, faulted) != 0) {
            fo->leader_us = lc_mono_us();
        }
    }
    json_decref(root);
}

/* Ask every survivor (never the faulted member) whom it follows. */
static void on_poll_timer(uv_timer_t *t)
{
    struct fo *fo = t->data;
    if (fo->leader_us != 0) {
        uv_timer_stop(t);
        return;
    }
    for (unsigned i = 0; i < fo->cluster.n; i++) {
        struct poller *p = &fo->pollers[i];
        if (!node_alive(fo, i) || (int)i == fo->faulted || p->busy) {
            continue;
        }
        if (p->conn == NULL &&
            lc_http_conn_new(&fo->loop, node_host(fo, i),
                             fo->cluster.nodes[i].port, 1000, &p->conn) != 0) {
            continue;
        }
        p->fo = fo;
        p->node = i;
        p->call.data = p;
        p->busy = lc_http_conn_send(p->conn, &p->call, "GET",
                                    "/v1/core/raft/groups", NULL, NULL, 0,
                                    on_poll_response) == 0;
    }
}

/* ------------------------------------------------------------- faults */

/* Apply @kind to node @i. Return 0 or -1 with a message. */
static int fault_apply(struct fo *fo, enum fault kind, unsigned i)
{
    switch (kind) {
        case F_KILL:
            return lc_cluster_signal(&fo->cluster, i, SIGKILL);
        case F_PAUSE:
            return lc_cluster_signal(&fo->cluster, i, SIGSTOP);
        case F_PARTITION:
            if (fo->netns != NULL) {
                return lc_netns_isolate(fo->netns, i);
            }
            break;
        case N_FAULTS:
            break;
    }
    fprintf(stderr, "  %s: not available\n", fault_names[kind]);
    return -1;
}

/* Undo a pause or partition (a killed member is restarted later). */
static void fault_undo(struct fo *fo)
{
    if (!fo->recovering) {
        return;
    }
    fo->recovering = false;
    fo->undo_us = lc_mono_us();
    if (fo->kind == F_PAUSE) {
        lc_cluster_signal(&fo->cluster, (unsigned)fo->faulted, SIGCONT);
    } else if (fo->kind == F_PARTITION) {
        lc_netns_heal(fo->netns);
    }
}

static void on_undo_timer(uv_timer_t *t)
{
    fault_undo(t->data);
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

/* The write number a host carries in its metadata, 0 if none. */
static uint64_t host_seq(json_t *h)
{
    const char *s = json_string_value(
        json_object_get(json_object_get(h, "metadata"), "s"));
    return s != NULL ? strtoull(s, NULL, 10) : 0;
}

/* Slots of every client whose last acknowledged write node @i does not
 * hold (absent, or an older write); *@unverified counts the acknowledged
 * slots that could not be checked (the node did not answer). */
static uint64_t count_lost(struct fo *fo, unsigned node, uint64_t *unverified)
{
    uint64_t lost = 0;
    uint64_t *held = calloc(SLOTS, sizeof *held);
    for (unsigned ci = 0; ci < fo->n_clients && held != NULL; ci++) {
        struct client *c = &fo->clients[ci];
        char path[256];
        char *body;
        json_t *root;
        json_t *h;
        size_t i;
        snprintf(path, sizeof path,
                 "/nacos/v1/ns/instance/list?serviceName=%s&consistent=true",
                 c->service);
        body = get_retry(fo, node, path);
        if (body == NULL) {
            fprintf(stderr, "  verify: node%u did not answer for %s\n", node,
                    c->service);
            for (unsigned s = 0; s < SLOTS; s++) {
                *unverified += c->acked[s] != 0;
            }
            continue;
        }
        memset(held, 0, SLOTS * sizeof *held);
        root = json_loads(body, 0, NULL);
        free(body);
        json_array_foreach(json_object_get(root, "hosts"), i, h)
        {
            const char *ip = json_string_value(json_object_get(h, "ip"));
            long long port = json_integer_value(json_object_get(h, "port"));
            unsigned a, b, cc, d;
            if (ip != NULL &&
                sscanf(ip, "%u.%u.%u.%u", &a, &b, &cc, &d) == 4 && d >= 1 &&
                port >= 20000 && port < 21000) {
                unsigned s = (d - 1) * 1000 + (unsigned)(port - 20000);
                if (s < SLOTS) {
                    held[s] = host_seq(h);
                }
            }
        }
        json_decref(root);
        for (unsigned s = 0; s < SLOTS; s++) {
            lost += c->acked[s] != 0 && held[s] < c->acked[s];
        }
    }
    free(held);
    return lost;
}

static uint64_t applied_index(struct fo *fo, unsigned node)
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

/* After a fault is undone: wait until a leader is agreed on and node @i
 * has applied what that leader had when asked. Return 0 or -1. */
static int settle(struct fo *fo, unsigned node)
{
    int l = lc_cluster_leader(&fo->cluster, GROUP, 0, 15000);
    uint64_t target;
    uint64_t until = lc_mono_ms() + 30000;
    if (l < 0) {
        return -1;
    }
    target = applied_index(fo, (unsigned)l);
    while (applied_index(fo, node) < target) {
        if (lc_mono_ms() > until) {
            return -1;
        }
        usleep(20000);
    }
    return 0;
}

static void dump_views(struct fo *fo)
{
    for (unsigned i = 0; i < fo->cluster.n; i++) {
        char *body = NULL;
        if (node_alive(fo, i)) {
            lc_cluster_http(&fo->cluster, i, "GET", "/v1/core/raft/groups",
                            NULL, NULL, &body);
        }
        fprintf(stderr, "  node%u: %s\n", i, body != NULL ? body : "-");
        free(body);
    }
}

/* ---------------------------------------------------------------- trial */

static bool all_recovered(const struct fo *fo)
{
    for (unsigned i = 0; i < fo->n_clients; i++) {
        if (fo->clients[i].first_us == 0) {
            return false;
        }
    }
    return true;
}

/* Longest time between two acknowledged writes from a second before the
 * fault on. */
static uint64_t longest_gap(struct fo *fo)
{
    uint64_t max_gap = 0;
    lc_bench_sort(fo->acks.v, fo->acks.n);
    for (size_t i = 1; i < fo->acks.n; i++) {
        uint64_t gap = fo->acks.v[i] - fo->acks.v[i - 1];
        if (fo->acks.v[i] + 1000000 > fo->fault_us && gap > max_gap) {
            max_gap = gap;
        }
    }
    return max_gap;
}

/* Load, fault, recovery: fills @t and the per-client figures of @r. */
static void measure(struct fo *fo, struct kind_result *r, struct trial *t)
{
    uint64_t end;
    load_begin(fo);
    run_for(fo, 1000); /* warm-up */
    for (unsigned i = 0; i < fo->n_clients; i++) {
        fo->clients[i].node_at_fault = (int)fo->clients[i].node;
    }
    fo->leader_us = 0;
    fo->undo_us = 0;
    fo->fault_us = lc_mono_us();
    fo->recovering = true;
    if (fault_apply(fo, fo->kind, (unsigned)fo->faulted) != 0) {
        fo->recovering = false;
        t->apply_failed = true;
    }
    t->apply_ms = (double)(lc_mono_us() - fo->fault_us) / 1000.0;
    if (fo->kind != F_KILL) {
        uv_update_time(&fo->loop);
        uv_timer_start(&fo->undo_timer, on_undo_timer, fo->fault_ms, 0);
    } else {
        fo->recovering = false;
    }
    uv_timer_start(&fo->poll_timer, on_poll_timer, 0, 5);
    /* Until a new leader, every client recovered and the fault undone a
     * second ago (the returning member must not disturb the cluster). */
    end = fo->fault_us + RECOVERY_MS * 1000ull;
    for (;;) {
        uint64_t now = lc_mono_us();
        bool undone = fo->kind == F_KILL ||
                      (fo->undo_us != 0 && now > fo->undo_us + 1000000);
        /* A paused or partitioned leader may be back before anyone
         * replaced it: then there is no new leader to wait for. */
        bool led = fo->leader_us != 0 || (fo->kind != F_KILL && undone);
        if ((led && all_recovered(fo) && undone) || now > end) {
            break;
        }
        run_for(fo, 10);
    }
    uv_timer_stop(&fo->poll_timer);
    uv_timer_stop(&fo->undo_timer);
    fault_undo(fo);
    if (fo->kind == F_KILL) {
        run_for(fo, 500);
    }
    load_end(fo);

    t->leader_ms = fo->leader_us != 0
                       ? (double)(fo->leader_us - fo->fault_us) / 1000.0
                       : -1;
    t->gap_ms = (double)longest_gap(fo) / 1000.0;
    t->timeouts = fo->timeouts;
    t->errors = fo->errors;
    for (unsigned i = 0; i < fo->n_clients; i++) {
        struct client *c = &fo->clients[i];
        t->acked += c->n_acked;
        if (c->first_us == 0) {
            t->unrecovered++;
            continue;
        }
        push(&r->unavail, c->first_us - fo->fault_us);
        if (c->node_at_fault != fo->faulted) {
            push(&r->unavail_other, c->first_us - fo->fault_us);
        }
    }
    fo->fault_us = 0;
}

static int run_trial(struct fo *fo, struct kind_result *r, struct trial *t)
{
    int leader = lc_cluster_leader(&fo->cluster, GROUP, 0, 10000);
    struct view before;
    struct view after;

    memset(t, 0, sizeof *t);
    if (leader < 0) {
        fprintf(stderr, "  no leader before the trial\n");
        dump_views(fo);
        return -1;
    }
    read_view(fo, &before);
    fo->faulted = leader;
    t->faulted = leader;
    for (unsigned i = 0; i < fo->n_clients; i++) {
        fo->clients[i].n_acked = 0;
    }
    measure(fo, r, t);
    if (t->apply_failed) {
        fprintf(stderr, "  could not apply the fault\n");
        return -1;
    }

    if (fo->kind == F_KILL) {
        lc_cluster_start_node(&fo->cluster, (unsigned)leader);
        if (lc_cluster_wait_ready(&fo->cluster, (unsigned)leader, 30000) !=
            0) {
            fprintf(stderr, "  node%d did not come back; raft views:\n",
                    leader);
            dump_views(fo);
            return -1;
        }
    }
    if (settle(fo, (unsigned)leader) != 0) {
        fprintf(stderr, "  the cluster did not settle; raft views:\n");
        dump_views(fo);
        return -1;
    }
    for (unsigned i = 0; i < fo->cluster.n; i++) {
        t->lost += count_lost(fo, i, &t->unverified);
    }
    read_view(fo, &after);
    group_delta(&before, &after, fo->cluster.n, GROUP,
                fo->kind == F_KILL ? leader : -1, &t->leader_changes,
                &t->terms);
    return 0;
}

/* ------------------------------------------------------------- clusters */

static int cluster_up(struct fo *fo)
{
    if (lc_cluster_init(&fo->cluster, &fo->spec) != 0 ||
        lc_cluster_wipe(&fo->cluster) != 0) {
        return -1;
    }
    fprintf(stderr, "starting a 3-node cluster in %s (ports %d, %d, %d)...\n",
            fo->cluster.dir, fo->cluster.nodes[0].port,
            fo->cluster.nodes[1].port, fo->cluster.nodes[2].port);
    fo->started = true;
    if (lc_cluster_start(&fo->cluster) != 0 ||
        lc_cluster_wait_all_ready(&fo->cluster, 30000) != 0 ||
        lc_cluster_leader(&fo->cluster, GROUP, 0, 15000) < 0) {
        fprintf(stderr, "locusctl: cluster did not become ready; logs in %s\n",
                fo->cluster.dir);
        return -1;
    }
    return 0;
}

static void cluster_down(struct fo *fo)
{
    for (unsigned i = 0; i < LC_CLUSTER_MAX; i++) {
        if (fo->pollers[i].conn != NULL) {
            lc_http_conn_close(fo->pollers[i].conn);
            fo->pollers[i].conn = NULL;
            fo->pollers[i].busy = false;
        }
    }
    for (unsigned i = 0; i < fo->n_clients; i++) {
        struct client *c = &fo->clients[i];
        if (c->conn != NULL) {
            lc_http_conn_close(c->conn);
            c->conn = NULL;
        }
        c->busy = false;
        c->node = i % fo->spec.n;
        c->seq = 0;
        memset(c->acked, 0, SLOTS * sizeof *c->acked);
    }
    run_for(fo, 20); /* let the closes finish */
    if (fo->started) {
        lc_cluster_stop(&fo->cluster);
        fo->started = false;
    }
}

/* ---------------------------------------------------------------- steady */

struct steady {
    unsigned seconds;
    double rate;
    uint64_t acked;
    uint64_t errors;
    uint64_t timeouts;
    uint64_t lost;
    uint64_t unverified;
    uint64_t p50, p90, p99, max;
    unsigned n_groups;
    struct gstat delta[MAX_GROUPS]; /* elections = leader changes, terms */
};

static void run_steady(struct fo *fo, struct steady *s)
{
    struct view before;
    struct view after;
    uint64_t prev = 0;
    read_view(fo, &before);
    fo->faulted = -1;
    load_begin(fo);
    for (unsigned k = 0; k < s->seconds; k += 10) {
        unsigned step = s->seconds - k < 10 ? s->seconds - k : 10;
        run_for(fo, step * 1000);
        fprintf(stderr, "  steady %3u/%u s: %.0f writes/s, %llu errors\n",
                k + step, s->seconds,
                (double)(fo->acks.n - prev) / (double)step,
                (unsigned long long)fo->errors);
        prev = fo->acks.n;
    }
    load_end(fo);
    s->acked = fo->acks.n;
    s->rate = (double)fo->acks.n / (double)s->seconds;
    s->errors = fo->errors;
    s->timeouts = fo->timeouts;
    lc_bench_sort(fo->latencies.v, fo->latencies.n);
    s->p50 = lc_bench_percentile(fo->latencies.v, fo->latencies.n, 50);
    s->p90 = lc_bench_percentile(fo->latencies.v, fo->latencies.n, 90);
    s->p99 = lc_bench_percentile(fo->latencies.v, fo->latencies.n, 99);
    s->max = lc_bench_percentile(fo->latencies.v, fo->latencies.n, 100);
    for (unsigned i = 0; i < fo->cluster.n; i++) {
        s->lost += count_lost(fo, i, &s->unverified);
    }
    read_view(fo, &after);
    s->n_groups = 0;
    for (unsigned k = 0; k < before.n[0] && s->n_groups < MAX_GROUPS; k++) {
        struct gstat *d = &s->delta[s->n_groups++];
        lc_strlcpy(d->name, before.g[0][k].name, sizeof d->name);
        group_delta(&before, &after, fo->cluster.n, d->name, -1,
                    &d->elections, &d->term);
    }
}

/* --------------------------------------------------------------- report */

struct dist {
    size_t n;
    double min, p50, p90, max; /* ms */
};

static struct dist dist_of(struct u64v *v)
{
    struct dist d = {.n = v->n};
    lc_bench_sort(v->v, v->n);
    d.min = (double)lc_bench_percentile(v->v, v->n, 0) / 1000.0;
    d.p50 = (double)lc_bench_percentile(v->v, v->n, 50) / 1000.0;
    d.p90 = (double)lc_bench_percentile(v->v, v->n, 90) / 1000.0;
    d.max = (double)lc_bench_percentile(v->v, v->n, 100) / 1000.0;
    return d;
}

static struct dist leader_dist(const struct kind_result *r)
{
    struct u64v v = {0};
    struct dist d;
    for (unsigned i = 0; i < r->trials; i++) {
        if (r->t[i].leader_ms >= 0) {
            push(&v, (uint64_t)(r->t[i].leader_ms * 1000.0));
        }
    }
    d = dist_of(&v);
    free(v.v);
    return d;
}

static struct dist gap_dist(const struct kind_result *r)
{
    struct u64v v = {0};
    struct dist d;
    for (unsigned i = 0; i < r->trials; i++) {
        push(&v, (uint64_t)(r->t[i].gap_ms * 1000.0));
    }
    d = dist_of(&v);
    free(v.v);
    return d;
}

static uint64_t sum_of(const struct kind_result *r, size_t off)
{
    uint64_t s = 0;
    for (unsigned i = 0; i < r->trials; i++) {
        s += *(const uint64_t *)((const char *)&r->t[i] + off);
    }
    return s;
}

#define SUM(r, field) sum_of((r), offsetof(struct trial, field))

static json_t *dist_json(struct dist d)
{
    json_t *o = json_object();
    json_object_set_new(o, "count", json_integer((json_int_t)d.n));
    json_object_set_new(o, "min", json_real(d.min));
    json_object_set_new(o, "median", json_real(d.p50));
    json_object_set_new(o, "p90", json_real(d.p90));
    json_object_set_new(o, "max", json_real(d.max));
    return o;
}

static json_t *steady_json(const struct steady *s, unsigned clients)
{
    json_t *st = json_object();
    json_t *groups = json_array();
    uint64_t changes = 0;
    json_object_set_new(st, "seconds", json_integer(s->seconds));
    json_object_set_new(st, "clients", json_integer(clients));
    json_object_set_new(st, "writesPerSec", json_real(s->rate));
    json_object_set_new(st, "errors", json_integer((json_int_t)s->errors));
    json_object_set_new(st, "timeouts", json_integer((json_int_t)s->timeouts));
    json_object_set_new(st, "p50Ms", json_real((double)s->p50 / 1000));
    json_object_set_new(st, "p90Ms", json_real((double)s->p90 / 1000));
    json_object_set_new(st, "p99Ms", json_real((double)s->p99 / 1000));
    json_object_set_new(st, "maxMs", json_real((double)s->max / 1000));
    for (unsigned k = 0; k < s->n_groups; k++) {
        json_t *g = json_object();
        json_object_set_new(g, "group", json_string(s->delta[k].name));
        json_object_set_new(g, "leaderChanges",
                            json_integer((json_int_t)s->delta[k].elections));
        json_object_set_new(g, "terms",
                            json_integer((json_int_t)s->delta[k].term));
        json_array_append_new(groups, g);
        changes += s->delta[k].elections;
    }
    json_object_set_new(st, "groups", groups);
    json_object_set_new(st, "leaderChanges", json_integer((json_int_t)changes));
    json_object_set_new(st, "lost", json_integer((json_int_t)s->lost));
    return st;
}

static json_t *kind_json(struct kind_result *r)
{
    json_t *o = json_object();
    json_t *arr = json_array();
    json_object_set_new(o, "skipped", json_boolean(r->skipped));
    if (r->skipped) {
        json_object_set_new(o, "reason", json_string(r->reason));
        return o;
    }
    json_object_set_new(o, "trials", json_integer(r->trials));
    json_object_set_new(o, "unavailableMs", dist_json(dist_of(&r->unavail)));
    json_object_set_new(o, "unavailableOtherMembersMs",
                        dist_json(dist_of(&r->unavail_other)));
    json_object_set_new(o, "newLeaderMs", dist_json(leader_dist(r)));
    json_object_set_new(o, "maxGapMs", dist_json(gap_dist(r)));
    json_object_set_new(o, "unrecoveredClients",
                        json_integer(r->unrecovered));
    json_object_set_new(o, "leaderChanges",
                        json_integer((json_int_t)SUM(r, leader_changes)));
    json_object_set_new(o, "terms", json_integer((json_int_t)SUM(r, terms)));
    json_object_set_new(o, "timeouts",
                        json_integer((json_int_t)SUM(r, timeouts)));
    json_object_set_new(o, "errors", json_integer((json_int_t)SUM(r, errors)));
    json_object_set_new(o, "lost", json_integer((json_int_t)r->lost));
    json_object_set_new(o, "unverified", json_integer((json_int_t)r->unverified));
    json_object_set_new(o, "failed", json_boolean(r->failed));
    for (unsigned i = 0; i < r->trials; i++) {
        const struct trial *t = &r->t[i];
        json_t *j = json_object();
        json_object_set_new(j, "node", json_integer(t->faulted));
        json_object_set_new(j, "applyMs", json_real(t->apply_ms));
        json_object_set_new(j, "newLeaderMs", json_real(t->leader_ms));
        json_object_set_new(j, "maxGapMs", json_real(t->gap_ms));
        json_object_set_new(j, "leaderChanges",
                            json_integer((json_int_t)t->leader_changes));
        json_object_set_new(j, "terms", json_integer((json_int_t)t->terms));
        json_object_set_new(j, "acked", json_integer((json_int_t)t->acked));
        json_object_set_new(j, "timeouts",
                            json_integer((json_int_t)t->timeouts));
        json_object_set_new(j, "lost", json_integer((json_int_t)t->lost));
        json_array_append_new(arr, j);
    }
    json_object_set_new(o, "trialDetails", arr);
    return o;
}

static void print_row(const char *what, struct dist d)
{
    if (d.n == 0) {
        printf("  %-34s %9s\n", what, "-");
        return;
    }
    printf("  %-34s %9.1f %9.1f %9.1f %9.1f %7zu\n", what, d.min, d.p50, d.p90,
           d.max, d.n);
}

static void print_kind(const char *name, struct kind_result *r)
{
    if (r->skipped) {
        printf("%s: skipped: %s\n\n", name, r->reason);
        return;
    }
    printf("%s: %u trials\n", name, r->trials);
    printf("  %-34s %9s %9s %9s %9s %7s\n", "(ms)", "min", "median", "p90",
           "max", "n");
    print_row("unavailable, every client", dist_of(&r->unavail));
    print_row("unavailable, clients of others", dist_of(&r->unavail_other));
    print_row("new leader", leader_dist(r));
    print_row("longest gap between acks", gap_dist(r));
    if (leader_dist(r).n < r->trials) {
        printf("  no new leader in %zu trials (the leader was back first)\n",
               r->trials - leader_dist(r).n);
    }
    printf("  leader changes %llu, terms %llu, client timeouts %llu, "
           "errors %llu, clients not back within %u s: %u\n",
           (unsigned long long)SUM(r, leader_changes),
           (unsigned long long)SUM(r, terms),
           (unsigned long long)SUM(r, timeouts),
           (unsigned long long)SUM(r, errors), RECOVERY_MS / 1000,
           r->unrecovered);
    printf("  acknowledged writes lost: %llu", (unsigned long long)r->lost);
    if (r->unverified > 0) {
        printf(" (%llu could not be verified)",
               (unsigned long long)r->unverified);
    }
    printf("%s\n\n", r->failed ? "; a trial failed (see stderr)" : "");
}

static void print_steady(const struct steady *s, unsigned clients)
{
    printf("steady load, no faults: %u clients, %u s: %.0f writes/s; latency "
           "p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms; %llu errors "
           "(%llu timeouts); %llu acknowledged writes lost\n",
           clients, s->seconds, s->rate, (double)s->p50 / 1000,
           (double)s->p90 / 1000, (double)s->p99 / 1000,
           (double)s->max / 1000, (unsigned long long)s->errors,
           (unsigned long long)s->timeouts, (unsigned long long)s->lost);
    for (unsigned k = 0; k < s->n_groups; k++) {
        printf("  %-36s leader changes %llu, terms %llu\n", s->delta[k].name,
               (unsigned long long)s->delta[k].elections,
               (unsigned long long)s->delta[k].term);
    }
    printf("\n");
}

/* ---------------------------------------------------------------- main */

static const char fo_usage[] =
    "usage: locusctl bench failover [--fault kill|partition|pause[,...]]\n"
    "       [--trials N] [--clients N] [--steady S] [--fault-secs S]\n"
    "       [--timeout-ms MS] [--port P | --ports P1,P2,P3] [--dir D]\n"
    "       [--locusd PATH] [--no-netns] [--net N] [--json]\n"
    "\n"
    "Starts a fresh 3-node cluster for each fault kind (HTTP ports P, P+10,\n"
    "P+20; default 19848), runs N clients (16) writing persistent instances,\n"
    "first S seconds of steady load with no fault (10; 0: none; it reports\n"
    "leader changes and terms of every group), then N trials (20) of each\n"
    "fault (repeat --fault or give a list; default all three) against the\n"
    "leader of naming_persistent_service_v2: kill = SIGKILL (restarted after\n"
    "the trial), partition = isolated in its network namespace (needs root;\n"
    "skipped otherwise), pause = SIGSTOP; both undone after --fault-secs (3).\n"
    "Unavailability is per client: fault -> its first acknowledged write sent\n"
    "after the fault; clients retry on the next member after an error or\n"
    "their --timeout-ms (1000). --trials 0 with --steady S: steady only.\n"
    "When it can (root, ip, nft), every kind runs with each node in its own\n"
    "network namespace on 198.18.N.0/24 (--net, 77), clients reaching them\n"
    "through a bridge; --no-netns keeps every node on 127.0.0.1.\n";

static int parse_faults(const char *v, bool *want)
{
    char buf[128];
    char *save = NULL;
    lc_strlcpy(buf, v, sizeof buf);
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        int k = -1;
        for (int i = 0; i < N_FAULTS; i++) {
            if (strcmp(tok, fault_names[i]) == 0) {
                k = i;
            }
        }
        if (k < 0) {
            fprintf(stderr, "locusctl: unknown fault %s (kill, partition, "
                            "pause)\n",
                    tok);
            return -1;
        }
        want[k] = true;
    }
    return 0;
}

static int parse_ports(const char *v, int *ports)
{
    return sscanf(v, "%d,%d,%d", &ports[0], &ports[1], &ports[2]) == 3 ? 0
                                                                        : -1;
}

/* Whether @kind can run here; @why when not. */
static bool fault_possible(const struct fo *fo, enum fault kind, char *why,
                           size_t len)
{
    if (kind == F_PARTITION && fo->netns == NULL) {
        lc_strlcpy(why, fo->no_netns, len);
        return false;
    }
    return true;
}

static int run_kind(struct fo *fo, enum fault kind, unsigned trials,
                    struct steady *s, struct kind_result *r)
{
    r->run = true;
    if (!fault_possible(fo, kind, r->reason, sizeof r->reason)) {
        r->skipped = true;
        fprintf(stderr, "%s: skipped: %s\n", fault_names[kind], r->reason);
        return 0;
    }
    if (cluster_up(fo) != 0) {
        cluster_down(fo);
        r->failed = true;
        return -1;
    }
    if (s != NULL && s->seconds > 0) {
        fprintf(stderr, "steady load: %u clients for %u s, no faults...\n",
                fo->n_clients, s->seconds);
        run_steady(fo, s);
    }
    fo->kind = kind;
    for (unsigned k = 0; k < trials; k++) {
        struct trial *t = &r->t[r->trials];
        if (run_trial(fo, r, t) != 0) {
            r->failed = true;
            break;
        }
        r->trials++;
        r->lost += t->lost;
        r->unverified += t->unverified;
        r->unrecovered += t->unrecovered;
        fprintf(stderr,
                "%s %2u/%u: node%d  new leader %7.1f ms  longest gap %7.1f ms"
                "  %llu leader changes  %llu timeouts  %llu acked  %llu "
                "lost%s\n",
                fault_names[kind], k + 1, trials, t->faulted, t->leader_ms,
                t->gap_ms, (unsigned long long)t->leader_changes,
                (unsigned long long)t->timeouts,
                (unsigned long long)t->acked, (unsigned long long)t->lost,
                t->unrecovered > 0 ? "  (some clients never recovered)" : "");
    }
    cluster_down(fo);
    return r->failed ? -1 : 0;
}

int lc_bench_failover(int argc, char **argv, bool json)
{
    static struct kind_result results[N_FAULTS];
    struct fo fo;
    struct steady steady = {.seconds = 10};
    bool want[N_FAULTS] = {false};
    bool any = false;
    int ports[3];
    unsigned trials = 20;
    int rc = 0;
    uint64_t lost = 0;
    uint64_t unverified = 0;
    bool steady_done = false;
    bool use_netns = true;
    unsigned net = 77;

    memset(&fo, 0, sizeof fo);
    memset(results, 0, sizeof results);
    fo.n_clients = 16;
    fo.timeout_ms = 1000;
    fo.fault_ms = 3000;
    fo.debug = getenv("LOCUS_BENCH_DEBUG") != NULL;
    fo.spec = (struct lc_cluster_spec){.n = 3,
                                       .base_port = 19848,
                                       .port_step = 10,
                                       .dir = "data/bench-failover",
                                       .locusd = "build/locusd"};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            json = true;
            continue;
        }
        if (strcmp(a, "--no-netns") == 0) {
            use_netns = false;
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
        if (strcmp(a, "--fault") == 0) {
            if (parse_faults(v, want) != 0) {
                return 2;
            }
        } else if (strcmp(a, "--trials") == 0) {
            trials = (unsigned)atoi(v);
        } else if (strcmp(a, "--clients") == 0) {
            fo.n_clients = (unsigned)atoi(v);
        } else if (strcmp(a, "--steady") == 0) {
            steady.seconds = (unsigned)atoi(v);
        } else if (strcmp(a, "--fault-secs") == 0) {
            fo.fault_ms = (unsigned)(atof(v) * 1000);
        } else if (strcmp(a, "--net") == 0) {
            net = (unsigned)atoi(v);
        } else if (strcmp(a, "--timeout-ms") == 0) {
            fo.timeout_ms = (unsigned)atoi(v);
        } else if (strcmp(a, "--port") == 0) {
            fo.spec.base_port = atoi(v);
        } else if (strcmp(a, "--ports") == 0) {
            if (parse_ports(v, ports) != 0) {
                fprintf(stderr, "locusctl: --ports P1,P2,P3\n");
                return 2;
            }
            fo.spec.ports = ports;
        } else if (strcmp(a, "--dir") == 0) {
            fo.spec.dir = v;
        } else if (strcmp(a, "--locusd") == 0) {
            fo.spec.locusd = v;
        } else {
            fprintf(stderr, "locusctl: unknown option %s\n%s", a, fo_usage);
            return 2;
        }
    }
    for (int k = 0; k < N_FAULTS; k++) {
        any = any || want[k];
    }
    if (!any) {
        for (int k = 0; k < N_FAULTS; k++) {
            want[k] = true;
        }
    }
    if (trials > MAX_TRIALS || (trials == 0 && steady.seconds == 0) ||
        fo.n_clients == 0 || fo.n_clients > MAX_CLIENTS ||
        fo.timeout_ms == 0 || fo.fault_ms == 0) {
        fprintf(stderr, "locusctl: 0..%d trials (0 needs --steady), 1..%d "
                        "clients, a timeout and fault time above 0\n",
                MAX_TRIALS, MAX_CLIENTS);
        return 2;
    }

    if (!use_netns) {
        snprintf(fo.no_netns, sizeof fo.no_netns, "--no-netns");
    } else if (lc_netns_available(fo.no_netns, sizeof fo.no_netns) &&
               lc_netns_create("lcbf", net, fo.spec.n, &fo.netns, fo.no_netns,
                               sizeof fo.no_netns) == 0) {
        fo.spec.netns = fo.netns;
        fprintf(stderr, "nodes in network namespaces lcbf0..%u on "
                        "198.18.%u.0/24\n",
                fo.spec.n - 1, net);
    }
    uv_loop_init(&fo.loop);
    uv_timer_init(&fo.loop, &fo.poll_timer);
    uv_timer_init(&fo.loop, &fo.stop_timer);
    uv_timer_init(&fo.loop, &fo.undo_timer);
    fo.poll_timer.data = &fo;
    fo.undo_timer.data = &fo;
    fo.clients = calloc(fo.n_clients, sizeof *fo.clients);
    for (unsigned i = 0; i < fo.n_clients; i++) {
        struct client *c = &fo.clients[i];
        c->fo = &fo;
        c->id = i;
        c->node = i % fo.spec.n;
        c->acked = calloc(SLOTS, sizeof *c->acked);
        snprintf(c->service, sizeof c->service, "fo-c%u", i);
        uv_timer_init(&fo.loop, &c->retry);
        c->retry.data = c;
    }

    for (int k = 0; k < N_FAULTS; k++) {
        if (!want[k] || (trials == 0 && steady_done)) {
            continue;
        }
        /* The steady phase runs once, on the first cluster started. */
        if (run_kind(&fo, (enum fault)k, trials,
                     steady_done ? NULL : &steady, &results[k]) != 0) {
            rc = 1;
        }
        steady_done = steady_done || !results[k].skipped;
        lost += results[k].lost;
        unverified += results[k].unverified;
        if (results[k].unrecovered > 0) {
            rc = 1;
        }
    }
    if (trials == 0 && !steady_done) {
        /* Every wanted kind was skipped: steady alone on a plain cluster. */
        struct kind_result r = {0};
        if (run_kind(&fo, F_KILL, 0, &steady, &r) != 0) {
            rc = 1;
        }
        steady_done = true;
    }
    lost += steady.lost;
    unverified += steady.unverified;

    if (json) {
        json_t *root = json_object();
        json_t *faults = json_object();
        json_object_set_new(root, "clients", json_integer(fo.n_clients));
        json_object_set_new(root, "clientTimeoutMs",
                            json_integer(fo.timeout_ms));
        json_object_set_new(root, "faultMs", json_integer(fo.fault_ms));
        if (steady_done && steady.seconds > 0) {
            json_object_set_new(root, "steady",
                                steady_json(&steady, fo.n_clients));
        }
        for (int k = 0; k < N_FAULTS; k++) {
            if (results[k].run && trials > 0) {
                json_object_set_new(faults, fault_names[k],
                                    kind_json(&results[k]));
            }
        }
        json_object_set_new(root, "faults", faults);
        json_object_set_new(root, "lost", json_integer((json_int_t)lost));
        json_object_set_new(root, "unverified",
                            json_integer((json_int_t)unverified));
        char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        printf("%s\n", text);
        free(text);
        json_decref(root);
    } else {
        printf("\n");
        if (steady_done && steady.seconds > 0) {
            print_steady(&steady, fo.n_clients);
        }
        printf("%u clients, client timeout %u ms, faults undone after %u ms; "
               "unavailability = fault -> a client's first acknowledged "
               "write sent after it\n\n",
               fo.n_clients, fo.timeout_ms, fo.fault_ms);
        for (int k = 0; k < N_FAULTS && trials > 0; k++) {
            if (results[k].run) {
                print_kind(fault_names[k], &results[k]);
            }
        }
    }
    for (unsigned i = 0; i < fo.n_clients; i++) {
        uv_close((uv_handle_t *)&fo.clients[i].retry, NULL);
    }
    uv_close((uv_handle_t *)&fo.poll_timer, NULL);
    uv_close((uv_handle_t *)&fo.stop_timer, NULL);
    uv_close((uv_handle_t *)&fo.undo_timer, NULL);
    uv_run(&fo.loop, UV_RUN_DEFAULT);
    uv_loop_close(&fo.loop);
    for (unsigned i = 0; i < fo.n_clients; i++) {
        free(fo.clients[i].acked);
    }
    free(fo.clients);
    for (int k = 0; k < N_FAULTS; k++) {
        free(results[k].unavail.v);
        free(results[k].unavail_other.v);
    }
    free(fo.acks.v);
    free(fo.latencies.v);
    lc_netns_destroy(fo.netns);
    return rc != 0 ? rc : (lost > 0 || unverified > 0 ? 1 : 0);
}
