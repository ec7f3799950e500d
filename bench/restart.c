/* locusctl bench restart: how long a follower that restarts behind a large
 * state takes to catch up, and how long its event loop is blocked meanwhile.
 *
 * It starts its own 3-node cluster on loopback, registers --instances
 * persistent instances through the leader and snapshots every member. Then,
 * per run and per case, it stops a follower with SIGKILL and:
 *   log:     the follower had already received --backlog more entries, so
 *            on restart it loads its own snapshot and applies a backlog of
 *            committed entries from its own log;
 *   install: --backlog entries are written while it is down and the leader
 *            snapshots past its log, so it installs the leader's snapshot
 *            (restore on the loop, with the whole state).
 * It reports, from the restart: time until the node answers UP (ready),
 * time until it has applied what the leader had committed at restart, and
 * the longest "event loop blocked N ms in <phase>" its log shows (locusd's
 * lag monitor warns from 50 ms; "-" when none), with the phase.
 *
 * With --pauses it measures instead what snapshots cost acknowledged
 * writes: with the default snapshot threshold, after loading --instances,
 * --conns clients register new instances through the leader for
 * --seconds; it prints the latency percentiles and the longest write (the
 * median of --runs) and how many snapshots the members took meanwhile.
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bench/bench.h"
#include "bench/cluster.h"
#include "bench/load.h"
#include "common/util.h"

#define GROUP "naming_persistent_service_v2"
#define MAX_RUNS 9

struct ropts {
    unsigned instances;
    unsigned backlog;
    unsigned runs;
    unsigned conns;
    unsigned seconds;
    unsigned threshold; /* --pauses: snapshot threshold, 0 = default */
    bool pauses;
    const char *locusd;
    const char *dir;
    int port;
};

struct figure {
    double ready_ms;
    double caught_up_ms;
    double load_ms;     /* "raft groups loaded from disk in" */
    unsigned block_ms;  /* longest block logged */
    char phase[48];
};

static uint64_t next_seq; /* instances registered so far */

/* Instance @n: ip 127.x.y.z from n's low 24 bits (never .0), 100 per
 * service, so every n is a distinct ip:port. */
static void register_path(void *data, uint64_t n, char *out, size_t size)
{
    uint64_t k = *(const uint64_t *)data + n;
    snprintf(out, size,
             "/nacos/v1/ns/instance?serviceName=restart-%llu&ip=127.%u.%u.%u"
             "&port=%u&ephemeral=false",
             (unsigned long long)(k / 100), 16 + (unsigned)((k >> 16) & 127),
             (unsigned)(k >> 8) & 255, 1 + (unsigned)(k & 255) % 254,
             1000 + (unsigned)(k / (128u << 16)) * 254 +
                 (unsigned)(k & 255) / 254);
}

static int register_n(const struct ropts *o, struct lc_cluster *c,
                      unsigned node, unsigned n)
{
    struct lc_load_spec s;
    struct lc_load_result r;
    uint64_t base = next_seq;

    memset(&s, 0, sizeof s);
    s.host = "127.0.0.1";
    s.port = c->nodes[node].port;
    s.conns = o->conns;
    s.limit = n;
    s.method = "POST";
    s.path = register_path;
    s.data = &base;
    s.body_equals = "ok";
    s.quiet = true;
    if (lc_load_run(&s, &r) != 0 || r.errors > 0) {
        fprintf(stderr, "bench restart: registering failed: %llu errors (%s)\n",
                (unsigned long long)r.errors, r.first_error);
        return -1;
    }
    next_seq += n;
    fprintf(stderr, "bench restart: %u registrations at %.0f/s\n", n, r.rate);
    return 0;
}

/* The group's field @field ("commitIndex", "appliedIndex") on node @i, or
 * -1. */
static long long group_int(struct lc_cluster *c, unsigned i, const char *field)
{
    char *body = NULL;
    long long v = -1;
    json_t *root;
    size_t k;
    json_t *g;
    if (lc_cluster_http(c, i, "GET", "/nacos/v1/core/raft/groups", NULL, NULL,
                        &body) != 200) {
        free(body);
        return -1;
    }
    root = json_loads(body, 0, NULL);
    free(body);
    json_array_foreach(json_object_get(root, "groups"), k, g)
    {
        const char *name = json_string_value(json_object_get(g, "group"));
        if (name != NULL && strcmp(name, GROUP) == 0 &&
            json_is_integer(json_object_get(g, field))) {
            v = json_integer_value(json_object_get(g, field));
        }
    }
    json_decref(root);
    return v;
}

/* Whether node @i lists the member with HTTP port @port as UP. */
static bool member_up(struct lc_cluster *c, unsigned i, int port)
{
    char *body = NULL;
    bool up = true;
    json_t *root;
    json_t *m;
    size_t k;
    if (lc_cluster_http(c, i, "GET", "/nacos/v1/core/cluster/nodes", NULL,
                        NULL, &body) != 200) {
        free(body);
        return true;
    }
    root = json_loads(body, 0, NULL);
    free(body);
    json_array_foreach(json_object_get(root, "data"), k, m)
    {
        const char *st = json_string_value(json_object_get(m, "state"));
        if (json_integer_value(json_object_get(m, "port")) == port) {
            up = st != NULL && strcmp(st, "UP") == 0;
        }
    }
    json_decref(root);
    return up;
}

static int snapshot_on(struct lc_cluster *c, unsigned i)
{
    char *body = NULL;
    int st = lc_cluster_http(c, i, "POST", "/nacos/v1/core/ops/raft",
                             "application/json",
                             "{\"groupId\":\"" GROUP "\","
                             "\"command\":\"doSnapshot\"}",
                             &body);
    if (st != 200) {
        fprintf(stderr, "bench restart: snapshot on node %u: %d %s\n", i, st,
                body != NULL ? body : "");
    }
    free(body);
    return st == 200 ? 0 : -1;
}

/* Move the leadership of the group from @from to @to and wait for it. */
static int transfer(struct lc_cluster *c, unsigned from, unsigned to)
{
    char req[256];
    char *body = NULL;
    uint64_t end = lc_mono_ms() + 10000;
    int st;
    snprintf(req, sizeof req,
             "{\"groupId\":\"" GROUP "\",\"command\":\"transferLeader\","
             "\"value\":\"127.0.0.1:%d\"}",
             c->nodes[to].port - 1000);
    st = lc_cluster_http(c, from, "POST", "/nacos/v1/core/ops/raft",
                         "application/json", req, &body);
    free(body);
    while (st == 200 && lc_mono_ms() < end) {
        if (lc_cluster_leader(c, GROUP, 0, 1000) == (int)to) {
            return 0;
        }
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "bench restart: transfer to node %u failed (%d)\n", to,
            st);
    return -1;
}

static long file_size(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0 ? (long)s.st_size : 0;
}

/* Read node @i's log from @from: the longest block and the load time. */
static void scan_log(struct lc_cluster *c, unsigned i, long from,
                     struct figure *f)
{
    FILE *fp = fopen(c->nodes[i].log, "r");
    char line[1024];
    f->block_ms = 0;
    f->load_ms = -1;
    strcpy(f->phase, "-");
    if (fp == NULL) {
        return;
    }
    fseek(fp, from, SEEK_SET);
    while (fgets(line, sizeof line, fp) != NULL) {
        const char *p = strstr(line, "event loop blocked ");
        const char *q = strstr(line, "raft groups loaded from disk in ");
        unsigned ms;
        char phase[48] = "";
        if (p != NULL &&
            sscanf(p, "event loop blocked %u ms in %47[a-z ]", &ms, phase) >=
                1 &&
            ms > f->block_ms) {
            f->block_ms = ms;
            lc_strlcpy(f->phase, phase[0] != '\0' ? phase : "?",
                       sizeof f->phase);
            size_t n = strlen(f->phase);
            while (n > 0 && f->phase[n - 1] == ' ') {
                f->phase[--n] = '\0';
            }
        }
        if (p != NULL && strstr(p, "outside named phases") != NULL &&
            f->block_ms == ms) {
            strcpy(f->phase, "unnamed");
        }
        if (q != NULL) {
            f->load_ms = atof(q + strlen("raft groups loaded from disk in "));
        }
    }
    fclose(fp);
}

/* Restart follower @f and time it against what @leader had committed. */
static int restart_and_time(struct lc_cluster *c, unsigned f, int leader,
                            struct figure *fig)
{
    long long target = group_int(c, (unsigned)leader, "commitIndex");
    long from = file_size(c->nodes[f].log);
    uint64_t t0 = lc_mono_us();
    uint64_t end;
    bool ready = false;

    if (target < 0 || lc_cluster_start_node(c, f) != 0) {
        return -1;
    }
    fig->ready_ms = -1;
    fig->caught_up_ms = -1;
    end = lc_mono_ms() + 120000;
    while (lc_mono_ms() < end && (!ready || fig->caught_up_ms < 0)) {
        char *body = NULL;
        if (!ready &&
            lc_cluster_http(c, f, "GET", "/nacos/v1/ns/operator/metrics", NULL,
                            NULL, &body) == 200 &&
            body != NULL && strstr(body, "\"UP\"") != NULL) {
            ready = true;
            fig->ready_ms = (double)(lc_mono_us() - t0) / 1000.0;
        }
        free(body);
        /* Applied by raft is not yet visible while a load runs in slices:
         * caught up counts from when the node is also ready. */
        if (ready && fig->caught_up_ms < 0 &&
            group_int(c, f, "appliedIndex") >= target) {
            fig->caught_up_ms = (double)(lc_mono_us() - t0) / 1000.0;
        }
        if (!ready || fig->caught_up_ms < 0) {
            struct timespec ts = {0, 5 * 1000000};
            nanosleep(&ts, NULL);
        }
    }
    if (!ready || fig->caught_up_ms < 0) {
        fprintf(stderr, "bench restart: node %u did not catch up\n", f);
        return -1;
    }
    /* Let the lag monitor's next tick log the last block. */
    {
        struct timespec ts = {0, 300 * 1000000};
        nanosleep(&ts, NULL);
    }
    scan_log(c, f, from, fig);
    return 0;
}

static int one_case(const struct ropts *o, struct lc_cluster *c, bool install,
                    struct figure *fig)
{
    int leader = lc_cluster_leader(c, GROUP, 0, 10000);
    unsigned f;
    if (leader < 0) {
        return -1;
    }
    f = leader == 2 ? 1 : 2;
    if (!install && register_n(o, c, (unsigned)leader, o->backlog) != 0) {
        return -1;
    }
    if (!install) {
        /* Every member has the backlog in its log (and applied it). */
        long long want = group_int(c, (unsigned)leader, "commitIndex");
        uint64_t end = lc_mono_ms() + 30000;
        while (group_int(c, f, "appliedIndex") < want &&
               lc_mono_ms() < end) {
            struct timespec ts = {0, 20 * 1000000};
            nanosleep(&ts, NULL);
        }
    }
    lc_cluster_signal(c, f, SIGKILL);
    if (install) {
        /* HTTP writes go to the member Distro picks for the service until
         * every running member sees the stopped one as down. */
        uint64_t end = lc_mono_ms() + 30000;
        for (unsigned i = 0; i < c->n; i++) {
            while (i != f && member_up(c, i, c->nodes[f].port) &&
                   lc_mono_ms() < end) {
                struct timespec ts = {0, 50 * 1000000};
                nanosleep(&ts, NULL);
            }
        }
        /* Both running members compact past the stopped one's log; the
         * leader then hands over, because raft_uv 0.15 keeps the
         * AppendEntries it could not send queued per peer and delivers
         * them on reconnection, which spares the follower the snapshot. */
        unsigned other = 3u - f - (unsigned)leader;
        if (register_n(o, c, (unsigned)leader, o->backlog) != 0 ||
            snapshot_on(c, (unsigned)leader) != 0 ||
            snapshot_on(c, other) != 0 ||
            transfer(c, (unsigned)leader, other) != 0) {
            return -1;
        }
        leader = (int)other;
    }
    return restart_and_time(c, f, leader, fig);
}

/* Lines of every node's log from @from[i] that contain "snapshot at index"
 * (one per snapshot taken). */
static unsigned count_snapshots(struct lc_cluster *c, const long *from)
{
    unsigned n = 0;
    char line[1024];
    for (unsigned i = 0; i < c->n; i++) {
        FILE *fp = fopen(c->nodes[i].log, "r");
        if (fp == NULL) {
            continue;
        }
        fseek(fp, from[i], SEEK_SET);
        while (fgets(line, sizeof line, fp) != NULL) {
            n += strstr(line, "snapshot at index") != NULL &&
                 strstr(line, "bytes;") != NULL;
        }
        fclose(fp);
    }
    return n;
}

/* --conns clients writing new instances through @leader for --seconds,
 * while members snapshot by threshold (the defaults). */
static int pause_run(const struct ropts *o, struct lc_cluster *c, int leader,
                     struct lc_load_result *out, unsigned *n_snap)
{
    struct lc_load_spec spec;
    uint64_t base = next_seq;
    long from[LC_CLUSTER_MAX];

    for (unsigned i = 0; i < c->n; i++) {
        from[i] = file_size(c->nodes[i].log);
    }
    memset(&spec, 0, sizeof spec);
    spec.host = "127.0.0.1";
    spec.port = c->nodes[leader].port;
    spec.conns = o->conns;
    spec.ms = o->seconds * 1000;
    spec.method = "POST";
    spec.path = register_path;
    spec.data = &base;
    spec.body_equals = "ok";
    spec.quiet = true;
    if (lc_load_run(&spec, out) != 0 || out->errors > 0) {
        fprintf(stderr, "bench restart: writers failed: %llu errors (%s)\n",
                (unsigned long long)out->errors, out->first_error);
        return -1;
    }
    next_seq += out->requests + 1000; /* never reuse an address */
    *n_snap = count_snapshots(c, from);
    fprintf(stderr,
            "bench restart: %llu writes (%.0f/s), p50 %.1f ms, p99 %.1f ms, "
            "longest %.1f ms; %u snapshot(s) taken by the members\n",
            (unsigned long long)out->requests, out->rate, out->p50_ms,
            out->p99_ms, out->max_ms, *n_snap);
    return 0;
}

static int cmp_max(const void *a, const void *b)
{
    double x = ((const struct lc_load_result *)a)->max_ms;
    double y = ((const struct lc_load_result *)b)->max_ms;
    return (x > y) - (x < y);
}

static int pauses(const struct ropts *o, struct lc_cluster *c, int leader,
                  json_t *out)
{
    struct lc_load_result runs[MAX_RUNS];
    unsigned snaps = 0;
    for (unsigned r = 0; r < o->runs; r++) {
        unsigned n = 0;
        if (pause_run(o, c, leader, &runs[r], &n) != 0) {
            return -1;
        }
        snaps += n;
    }
    qsort(runs, o->runs, sizeof *runs, cmp_max);
    printf("acknowledged writes: %u clients through the leader for %u s a "
           "run, on top of %u persistent instances, snapshot threshold %s; "
           "%u snapshot(s) in all\n",
           o->conns, o->seconds, o->instances,
           o->threshold > 0 ? "set" : "default", snaps);
    printf("  median of %u run(s): %.0f writes/s, p50 %.1f ms, p99 %.1f ms, "
           "longest write %.1f ms (runs: %.0f..%.0f ms)\n",
           o->runs, runs[o->runs / 2].rate, runs[o->runs / 2].p50_ms,
           runs[o->runs / 2].p99_ms, runs[o->runs / 2].max_ms,
           runs[0].max_ms, runs[o->runs - 1].max_ms);
    json_object_set_new(out, "longestWriteMs",
                        json_real(runs[o->runs / 2].max_ms));
    json_object_set_new(out, "p99Ms", json_real(runs[o->runs / 2].p99_ms));
    json_object_set_new(out, "snapshots", json_integer(snaps));
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n == 0 ? -1 : v[n / 2];
}

static void report(const char *name, const struct figure *figs, unsigned n,
                   json_t *out)
{
    double ready[MAX_RUNS], caught[MAX_RUNS], block[MAX_RUNS];
    unsigned worst = 0;
    json_t *runs = json_array();
    for (unsigned i = 0; i < n; i++) {
        json_t *r = json_object();
        ready[i] = figs[i].ready_ms;
        caught[i] = figs[i].caught_up_ms;
        block[i] = figs[i].block_ms;
        if (figs[i].block_ms > figs[worst].block_ms) {
            worst = i;
        }
        printf("  %-8s run %u: ready %7.0f ms, caught up %7.0f ms, loaded "
               "from disk %6.0f ms, longest loop block %5u ms (%s)\n",
               name, i + 1, figs[i].ready_ms, figs[i].caught_up_ms,
               figs[i].load_ms, figs[i].block_ms, figs[i].phase);
        json_object_set_new(r, "readyMs", json_real(figs[i].ready_ms));
        json_object_set_new(r, "caughtUpMs", json_real(figs[i].caught_up_ms));
        json_object_set_new(r, "loadMs", json_real(figs[i].load_ms));
        json_object_set_new(r, "maxBlockMs", json_integer(figs[i].block_ms));
        json_object_set_new(r, "phase", json_string(figs[i].phase));
        json_array_append_new(runs, r);
    }
    printf("  %-8s median: ready %.0f ms, caught up %.0f ms, longest loop "
           "block %.0f ms (max %u ms, %s)\n",
           name, median(ready, n), median(caught, n), median(block, n),
           figs[worst].block_ms, figs[worst].phase);
    json_object_set_new(out, name, runs);
}

static const char usage[] =
    "usage: locusctl bench restart [options]\n"
    "  --instances N    persistent instances before the runs (100000)\n"
    "  --backlog N      entries the follower is behind (20000)\n"
    "  --runs N         runs of each case (3)\n"
    "  --conns N        keep-alive connections registering (32)\n"
    "  --pauses         write latency under load with snapshots by\n"
    "                   threshold (defaults) instead\n"
    "  --seconds S      --pauses: length of each run (30)\n"
    "  --threshold N    --pauses: locus.raft.snapshot_threshold (default)\n"
    "  --locusd PATH    (build/locusd)  --dir D (data/bench-restart)\n"
    "  --port P         HTTP port of node 0 (28848)\n"
    "  --json           machine-readable output\n";

static int parse(int argc, char **argv, struct ropts *o)
{
    for (int i = 0; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n = 0;
        if (strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        if (strcmp(argv[i], "--pauses") == 0) {
            o->pauses = true;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "locusctl: %s needs a value\n%s", argv[i], usage);
            return -1;
        }
        if (strcmp(argv[i], "--locusd") == 0) {
            o->locusd = v;
        } else if (strcmp(argv[i], "--dir") == 0) {
            o->dir = v;
        } else if (lc_parse_int(v, 1, 10000000, &n) != 0) {
            fprintf(stderr, "locusctl: bad value for %s\n", argv[i]);
            return -1;
        } else if (strcmp(argv[i], "--instances") == 0) {
            o->instances = (unsigned)n;
        } else if (strcmp(argv[i], "--backlog") == 0) {
            o->backlog = (unsigned)n;
        } else if (strcmp(argv[i], "--runs") == 0 && n <= MAX_RUNS) {
            o->runs = (unsigned)n;
        } else if (strcmp(argv[i], "--threshold") == 0) {
            o->threshold = (unsigned)n;
        } else if (strcmp(argv[i], "--seconds") == 0 && n <= 3600) {
            o->seconds = (unsigned)n;
        } else if (strcmp(argv[i], "--conns") == 0 && n <= 1024) {
            o->conns = (unsigned)n;
        } else if (strcmp(argv[i], "--port") == 0 && n < 65000) {
            o->port = (int)n;
        } else {
            fprintf(stderr, "locusctl: unknown option %s\n%s", argv[i], usage);
            return -1;
        }
        i++;
    }
    return 0;
}

int lc_bench_restart(int argc, char **argv, bool json)
{
    struct ropts o = {100000, 20000, 3, 32, 30, 0, false, "build/locusd",
                      "data/bench-restart", 28848};
    struct lc_cluster_spec spec;
    struct lc_cluster c;
    struct figure logf[MAX_RUNS], inst[MAX_RUNS];
    json_t *out = json_object();
    int rv = parse(argc, argv, &o);
    int leader;

    if (rv != 0) {
        return rv > 0 ? 0 : 2;
    }
    memset(&spec, 0, sizeof spec);
    spec.n = 3;
    spec.base_port = o.port;
    spec.port_step = 10;
    spec.dir = o.dir;
    spec.locusd = o.locusd;
    /* Snapshots only when asked, so each case sees the state it sets up;
     * a short trailing log, so the leader compacts past a stopped member. */
    char extra[128] = "";
    if (o.pauses && o.threshold > 0) {
        snprintf(extra, sizeof extra, "locus.raft.snapshot_threshold=%u\n",
                 o.threshold);
    }
    spec.extra = o.pauses ? extra
                          : "locus.raft.snapshot_threshold=10000000\n"
                            "locus.raft.snapshot_trailing=1024\n";
    if (lc_cluster_init(&c, &spec) != 0 || lc_cluster_wipe(&c) != 0 ||
        lc_cluster_start(&c) != 0 ||
        lc_cluster_wait_all_ready(&c, 30000) != 0) {
        lc_cluster_stop(&c);
        return 1;
    }
    leader = lc_cluster_leader(&c, GROUP, 0, 10000);
    /* The instances are not listening: with health checks on, each would
     * add a HEALTH entry as it turns unhealthy, on top of the backlog. */
    if (leader >= 0 &&
        lc_cluster_http(&c, (unsigned)leader, "PUT",
                        "/nacos/v1/ns/operator/switches?entry=check&value=false",
                        NULL, NULL, NULL) != 200) {
        fprintf(stderr, "bench restart: cannot turn health checks off\n");
        goto fail;
    }
    fprintf(stderr,
            "bench restart: %u instances, backlog %u, %u run(s) per case\n",
            o.instances, o.backlog, o.runs);
    if (leader < 0 || register_n(&o, &c, (unsigned)leader, o.instances) != 0) {
        goto fail;
    }
    if (o.pauses) {
        if (pauses(&o, &c, leader, out) != 0) {
            goto fail;
        }
        goto done;
    }
    for (unsigned i = 0; i < c.n; i++) {
        if (snapshot_on(&c, i) != 0) {
            goto fail;
        }
    }
    for (unsigned r = 0; r < o.runs; r++) {
        if (one_case(&o, &c, false, &logf[r]) != 0 ||
            one_case(&o, &c, true, &inst[r]) != 0) {
            goto fail;
        }
        fprintf(stderr, "bench restart: run %u done\n", r + 1);
    }
    printf("follower restart behind %u persistent instances, backlog %u "
           "entries (3 nodes, loopback)\n",
           o.instances, o.backlog);
    report("log", logf, o.runs, out);
    report("install", inst, o.runs, out);
done:
    if (json) {
        char *text = json_dumps(out, JSON_COMPACT);
        printf("%s\n", text);
        free(text);
    }
    json_decref(out);
    lc_cluster_stop(&c);
    return 0;
fail:
    json_decref(out);
    lc_cluster_stop(&c);
    return 1;
}
