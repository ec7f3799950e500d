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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bench/bench.h"
#include "bench/cluster.h"
#include "bench/failover_internal.h"
#include "bench/netns.h"
#include "common/util.h"

const char *const lc_fo_fault_names[N_FAULTS] = {"kill", "partition", "pause"};

void lc_fo_push(struct u64v *a, uint64_t x)
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
            lc_fo_push(&v, (uint64_t)(r->t[i].leader_ms * 1000.0));
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
        lc_fo_push(&v, (uint64_t)(r->t[i].gap_ms * 1000.0));
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
    json_object_set_new(o, "unrecoveredClients", json_integer(r->unrecovered));
    json_object_set_new(o, "leaderChanges",
                        json_integer((json_int_t)SUM(r, leader_changes)));
    json_object_set_new(o, "terms", json_integer((json_int_t)SUM(r, terms)));
    json_object_set_new(o, "timeouts",
                        json_integer((json_int_t)SUM(r, timeouts)));
    json_object_set_new(o, "errors", json_integer((json_int_t)SUM(r, errors)));
    json_object_set_new(o, "lost", json_integer((json_int_t)r->lost));
    json_object_set_new(o, "unverified",
                        json_integer((json_int_t)r->unverified));
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
    printf(
        "  leader changes %llu, terms %llu, client timeouts %llu, "
        "errors %llu, clients not back within %u s: %u\n",
        (unsigned long long)SUM(r, leader_changes),
        (unsigned long long)SUM(r, terms), (unsigned long long)SUM(r, timeouts),
        (unsigned long long)SUM(r, errors), RECOVERY_MS / 1000, r->unrecovered);
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
           (double)s->p90 / 1000, (double)s->p99 / 1000, (double)s->max / 1000,
           (unsigned long long)s->errors, (unsigned long long)s->timeouts,
           (unsigned long long)s->lost);
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
    "after the fault; a client retries a member that answered an error\n"
    "once, then moves to the next member, as after its --timeout-ms (500;\n"
    "a paused member cannot answer, so its clients wait that long).\n"
    "--trials 0 with --steady S: steady only.\n"
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
            if (strcmp(tok, lc_fo_fault_names[i]) == 0) {
                k = i;
            }
        }
        if (k < 0) {
            fprintf(stderr,
                    "locusctl: unknown fault %s (kill, partition, "
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
    return sscanf(v, "%d,%d,%d", &ports[0], &ports[1], &ports[2]) == 3 ? 0 : -1;
}

/* Whether @kind can run here; @why when not. */

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
    fo.timeout_ms = 500;
    fo.fault_ms = 3000;
    fo.ring = SLOTS;
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
        fo.n_clients == 0 || fo.n_clients > MAX_CLIENTS || fo.timeout_ms == 0 ||
        fo.fault_ms == 0) {
        fprintf(stderr,
                "locusctl: 0..%d trials (0 needs --steady), 1..%d "
                "clients, a timeout and fault time above 0\n",
                MAX_TRIALS, MAX_CLIENTS);
        return 2;
    }

    if (!use_netns) {
        snprintf(fo.no_netns, sizeof fo.no_netns,
                 "network namespaces not used (--no-netns)");
    } else if (lc_netns_available(fo.no_netns, sizeof fo.no_netns) &&
               lc_netns_create("lcbf", net, fo.spec.n, &fo.netns, fo.no_netns,
                               sizeof fo.no_netns) == 0) {
        fo.spec.netns = fo.netns;
        fprintf(stderr,
                "nodes in network namespaces lcbf0..%u on "
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
        if (lc_fo_run_kind(&fo, (enum fault)k, trials,
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
        if (lc_fo_run_kind(&fo, F_KILL, 0, &steady, &r) != 0) {
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
                json_object_set_new(faults, lc_fo_fault_names[k],
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
        if (trials > 0) {
            printf(
                "%u clients, client timeout %u ms, faults undone after %u ms; "
                "unavailability = fault -> a client's first acknowledged "
                "write sent after it\n\n",
                fo.n_clients, fo.timeout_ms, fo.fault_ms);
        }
        for (int k = 0; k < N_FAULTS && trials > 0; k++) {
            if (results[k].run) {
                print_kind(lc_fo_fault_names[k], &results[k]);
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
