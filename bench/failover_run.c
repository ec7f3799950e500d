/* locusctl bench failover, the running part: clients writing persistent
 * instances, the faults, a trial from load to verification, the steady
 * phase (see bench/failover.c for what is measured and why). */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "bench/bench.h"
#include "bench/cluster.h"
#include "bench/failover_internal.h"
#include "bench/netns.h"
#include "common/err.h"
#include "common/util.h"
#include "rpc/http/http.h"

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
        c->answered_error = false;
        lc_fo_push(&fo->acks, now);
        lc_fo_push(&fo->latencies, now - c->sent_us);
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
    /* A member that answered is alive: its error ("lost the connection to
     * the raft leader ... retry") is retried there once before moving on,
     * as it may well have a new leader by now; the next member in the list
     * may be the one that hangs. A second error, or a timeout, moves on. */
    if (status == 0 && http_status != 0 && !c->answered_error) {
        c->answered_error = true;
    } else {
        c->answered_error = false;
        client_switch(c, status == LC_ETIMEDOUT);
    }
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
    c->slot = (c->slot + 1) % fo->ring;
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
        /* Every trial starts with the clients spread evenly: after a
         * kill they moved off the dead member and would otherwise pile up
         * on the survivors. */
        if (c->node != i % fo->cluster.n && c->conn != NULL) {
            lc_http_conn_close(c->conn);
            c->conn = NULL;
        }
        c->node = i % fo->cluster.n;
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
static bool read_groups(struct fo *fo, unsigned i, struct gstat *g, unsigned *n)
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
static void group_delta(const struct view *a, const struct view *b, unsigned n,
                        const char *group, int skip, uint64_t *changes,
                        uint64_t *terms)
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
        p->busy =
            lc_http_conn_send(p->conn, &p->call, "GET", "/v1/core/raft/groups",
                              NULL, NULL, 0, on_poll_response) == 0;
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
    fprintf(stderr, "  %s: not available\n", lc_fo_fault_names[kind]);
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
    const char *s =
        json_string_value(json_object_get(json_object_get(h, "metadata"), "s"));
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
            if (ip != NULL && sscanf(ip, "%u.%u.%u.%u", &a, &b, &cc, &d) == 4 &&
                d >= 1 && port >= 20000 && port < 21000) {
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
    if (lc_cluster_http(&fo->cluster, node, "GET", "/v1/core/raft/groups", NULL,
                        NULL, &body) == 200) {
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
        lc_fo_push(&r->unavail, c->first_us - fo->fault_us);
        if (c->node_at_fault != fo->faulted) {
            lc_fo_push(&r->unavail_other, c->first_us - fo->fault_us);
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
        if (lc_cluster_wait_ready(&fo->cluster, (unsigned)leader, 30000) != 0) {
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

static void run_steady(struct fo *fo, struct steady *s)
{
    struct view before;
    struct view after;
    uint64_t prev = 0;
    read_view(fo, &before);
    fo->faulted = -1;
    fo->ring = STEADY_SLOTS;
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
    fo->ring = SLOTS;
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
        group_delta(&before, &after, fo->cluster.n, d->name, -1, &d->elections,
                    &d->term);
    }
}

static bool fault_possible(const struct fo *fo, enum fault kind, char *why,
                           size_t len)
{
    if (kind == F_PARTITION && fo->netns == NULL) {
        lc_strlcpy(why, fo->no_netns, len);
        return false;
    }
    return true;
}

int lc_fo_run_kind(struct fo *fo, enum fault kind, unsigned trials,
                   struct steady *s, struct kind_result *r)
{
    r->run = true;
    if (!fault_possible(fo, kind, r->reason, sizeof r->reason)) {
        r->skipped = true;
        fprintf(stderr, "%s: skipped: %s\n", lc_fo_fault_names[kind],
                r->reason);
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
                lc_fo_fault_names[kind], k + 1, trials, t->faulted,
                t->leader_ms, t->gap_ms, (unsigned long long)t->leader_changes,
                (unsigned long long)t->timeouts, (unsigned long long)t->acked,
                (unsigned long long)t->lost,
                t->unrecovered > 0 ? "  (some clients never recovered)" : "");
    }
    cluster_down(fo);
    return r->failed ? -1 : 0;
}
