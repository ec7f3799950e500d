/* locusctl bench register | query | memory: naming throughput and memory on
 * one node.
 *
 *   register  each request registers a new instance (a distinct ip:port,
 *             spread over --services services) with POST
 *             /nacos/v1/ns/instance, ephemeral (Nacos's default) or
 *             persistent (through Raft); the answer must be "ok".
 *   query     registers --services x --instances instances, then GETs
 *             /nacos/v1/ns/instance/list round-robin over the services; the
 *             answer must be a ServiceInfo of that service.
 *   memory    registers --count instances (1,000 services of 100 by
 *             default, with small metadata) into a fresh node, ephemeral
 *             and then persistent, and reads the node's VmRSS and VmHWM
 *             before and after.
 *
 * Each starts its own standalone locusd (a fresh data directory; `register`
 * uses a fresh node per run so runs do not pile up instances) unless
 * --server points at a running node. Load comes from --conns keep-alive
 * connections (bench/load.c), --runs runs of --seconds each; every run is
 * printed and the median run (by rate) is the summary.
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/cluster.h"
#include "bench/load.h"
#include "common/util.h"
#include "rpc/http/http.h"

#define MAX_RUNS 64
#define DEFAULT_METADATA \
    "{\"app\":\"order-service\",\"version\":\"1.4.2\",\"zone\":\"zone-a\"}"

enum cmd { CMD_REGISTER, CMD_QUERY, CMD_MEMORY };

struct opts {
    enum cmd cmd;
    bool json;
    bool persistent;
    bool both; /* memory: ephemeral then persistent */
    unsigned conns;
    unsigned seconds;
    unsigned runs;
    unsigned services;
    unsigned instances; /* query: per service */
    unsigned long count; /* memory: total */
    const char *metadata; /* JSON text or NULL */
    char enc_metadata[1024]; /* URL-encoded, with "&metadata=" */
    const char *locusd;
    const char *dir;
    int port;
    char server_host[256];
    int server_port; /* 0: start our own node */
    char extra[2048]; /* --set KEY=VALUE lines for the node it starts */
};

/* The node under load: ours (a standalone cluster of one) or --server. */
struct target {
    bool own;
    struct lc_cluster cluster;
    char host[256];
    int port;
};

/* ------------------------------------------------------------ the node */

static int node_start(const struct opts *o, struct target *t)
{
    struct lc_cluster_spec spec = {.n = 1,
                                   .base_port = o->port,
                                   .port_step = 10,
                                   .dir = o->dir,
                                   .locusd = o->locusd,
                                   .extra = o->extra};
    memset(t, 0, sizeof *t);
    if (o->server_port != 0) {
        lc_strlcpy(t->host, o->server_host, sizeof t->host);
        t->port = o->server_port;
        return 0;
    }
    t->own = true;
    lc_strlcpy(t->host, "127.0.0.1", sizeof t->host);
    t->port = o->port;
    if (lc_cluster_init(&t->cluster, &spec) != 0 ||
        lc_cluster_wipe(&t->cluster) != 0) {
        return -1;
    }
    if (lc_cluster_start(&t->cluster) != 0 ||
        lc_cluster_wait_ready(&t->cluster, 0, 30000) != 0) {
        fprintf(stderr, "locusctl: locusd did not become ready; log: %s\n",
                t->cluster.nodes[0].log);
        lc_cluster_stop(&t->cluster);
        return -1;
    }
    return 0;
}

static void node_stop(struct target *t)
{
    if (t->own) {
        lc_cluster_stop(&t->cluster);
    }
}

static int get(struct target *t, const char *path, char **body)
{
    int status = 0;
    size_t len;
    *body = NULL;
    if (lc_http_fetch(t->host, t->port, "GET", path, NULL, NULL, 0, 10000,
                      &status, body, &len) != 0) {
        return -1;
    }
    return status;
}

static long long metric(struct target *t, const char *key)
{
    char *body = NULL;
    long long v = -1;
    if (get(t, "/nacos/v1/ns/operator/metrics?onlyStatus=false", &body) == 200) {
        json_t *root = json_loads(body, 0, NULL);
        json_t *x = json_object_get(root, key);
        if (json_is_integer(x)) {
            v = json_integer_value(x);
        }
        json_decref(root);
    }
    free(body);
    return v;
}

/* ------------------------------------------------------------ requests */

struct gen {
    const struct opts *o;
    const char *prefix; /* service name prefix */
    unsigned run;
    unsigned services;
    uint64_t per_service; /* instances per service (0: spread evenly) */
};

/* Instance @n: ip 127.x.y.z (n's low 24 bits), port from the run and n's
 * high bits, in service @n % services, so every n is a distinct ip:port. */
static void register_path(void *data, uint64_t n, char *out, size_t size)
{
    const struct gen *g = data;
    uint64_t svc = g->per_service != 0 ? n / g->per_service : n % g->services;
    snprintf(out, size,
             "/nacos/v1/ns/instance?serviceName=%s%llu&ip=127.%u.%u.%u"
             "&port=%u%s%s",
             g->prefix, (unsigned long long)svc,
             (unsigned)(n >> 16) & 255, (unsigned)(n >> 8) & 255,
             (unsigned)n & 255, 1000 + g->run * 64 + (unsigned)(n >> 24),
             g->o->persistent ? "&ephemeral=false" : "", g->o->enc_metadata);
}

static void list_path(void *data, uint64_t n, char *out, size_t size)
{
    const struct gen *g = data;
    snprintf(out, size, "/nacos/v1/ns/instance/list?serviceName=%s%llu",
             g->prefix, (unsigned long long)(n % g->services));
}

static void load_spec(const struct opts *o, struct target *t,
                      struct lc_load_spec *s)
{
    memset(s, 0, sizeof *s);
    s->host = t->host;
    s->port = t->port;
    s->conns = o->conns;
    s->ms = o->seconds * 1000;
}

/* Register @total instances (fast, quietly). Return 0 or -1. */
static int preload(const struct opts *o, struct target *t, struct gen *g,
                   uint64_t total, struct lc_load_result *r)
{
    struct lc_load_spec s;
    load_spec(o, t, &s);
    s.ms = 0;
    s.limit = total;
    s.method = "POST";
    s.path = register_path;
    s.data = g;
    s.body_equals = "ok";
    s.quiet = true;
    if (lc_load_run(&s, r) != 0 || r->errors > 0) {
        fprintf(stderr, "locusctl: registering failed: %llu errors (%s)\n",
                (unsigned long long)r->errors, r->first_error);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------- report */

static int cmp_rate(const void *a, const void *b)
{
    double x = ((const struct lc_load_result *)a)->rate;
    double y = ((const struct lc_load_result *)b)->rate;
    return x < y ? -1 : x > y;
}

static json_t *result_json(const struct lc_load_result *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "seconds", json_real(r->seconds));
    json_object_set_new(o, "requests", json_integer((json_int_t)r->requests));
    json_object_set_new(o, "errors", json_integer((json_int_t)r->errors));
    json_object_set_new(o, "perSec", json_real(r->rate));
    json_object_set_new(o, "p50Ms", json_real(r->p50_ms));
    json_object_set_new(o, "p90Ms", json_real(r->p90_ms));
    json_object_set_new(o, "p99Ms", json_real(r->p99_ms));
    json_object_set_new(o, "maxMs", json_real(r->max_ms));
    if (r->first_error[0] != '\0') {
        json_object_set_new(o, "firstError", json_string(r->first_error));
    }
    return o;
}

static void print_json(json_t *root)
{
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    printf("%s\n", text);
    free(text);
    json_decref(root);
}

/* Print the runs and their median (by rate); return the exit code. */
static int report(const struct opts *o, const char *what, const char *unit,
                  struct lc_load_result *runs, unsigned n, json_t *extra)
{
    struct lc_load_result sorted[MAX_RUNS];
    const struct lc_load_result *med;
    uint64_t errors = 0;

    memcpy(sorted, runs, n * sizeof *runs);
    qsort(sorted, n, sizeof *sorted, cmp_rate);
    med = &sorted[(n - 1) / 2];
    for (unsigned i = 0; i < n; i++) {
        errors += runs[i].errors;
    }
    if (o->json) {
        json_t *root = extra != NULL ? extra : json_object();
        json_t *arr = json_array();
        json_object_set_new(root, "benchmark", json_string(what));
        json_object_set_new(root, "connections", json_integer(o->conns));
        for (unsigned i = 0; i < n; i++) {
            json_array_append_new(arr, result_json(&runs[i]));
        }
        json_object_set_new(root, "runs", arr);
        json_object_set_new(root, "median", result_json(med));
        json_object_set_new(root, "errors", json_integer((json_int_t)errors));
        print_json(root);
    } else {
        json_decref(extra);
        printf("\n%s, %u connections, %u s per run\n\n", what, o->conns,
               o->seconds);
        printf("%-8s %12s %9s %9s %9s %9s %10s %8s\n", "run", unit,
               "p50 ms", "p90 ms", "p99 ms", "max ms", "requests", "errors");
        for (unsigned i = 0; i <= n; i++) {
            const struct lc_load_result *r = i < n ? &runs[i] : med;
            char name[16];
            if (i < n) {
                snprintf(name, sizeof name, "%u", i + 1);
            } else {
                snprintf(name, sizeof name, "median");
            }
            printf("%-8s %12.0f %9.2f %9.2f %9.2f %9.2f %10llu %8llu\n",
                   name, r->rate, r->p50_ms, r->p90_ms, r->p99_ms, r->max_ms,
                   (unsigned long long)r->requests,
                   (unsigned long long)r->errors);
        }
        for (unsigned i = 0; i < n; i++) {
            if (runs[i].first_error[0] != '\0') {
                printf("run %u, first error: %s\n", i + 1,
                       runs[i].first_error);
            }
        }
    }
    return errors > 0 ? 1 : 0;
}

/* ------------------------------------------------------------ commands */

static int cmd_register(const struct opts *o)
{
    struct lc_load_result runs[MAX_RUNS];
    struct target t;
    bool started = false;
    char label[32];
    int rc;

    for (unsigned i = 0; i < o->runs; i++) {
        struct gen g = {o, o->persistent ? "bench-reg-p" : "bench-reg-e", i,
                        o->services, 0};
        struct lc_load_spec s;
        /* A fresh node per run: ephemeral instances of an earlier run
         * would expire in the middle of this one. */
        if ((o->server_port == 0 || !started) && node_start(o, &t) != 0) {
            return 1;
        }
        started = true;
        fprintf(stderr, "run %u/%u: %s registrations on %s:%d...\n", i + 1,
                o->runs, o->persistent ? "persistent" : "ephemeral", t.host,
                t.port);
        load_spec(o, &t, &s);
        snprintf(label, sizeof label, "run %u", i + 1);
        s.method = "POST";
        s.path = register_path;
        s.data = &g;
        s.body_equals = "ok";
        s.label = label;
        s.unit = "registrations/s";
        if (lc_load_run(&s, &runs[i]) != 0) {
            fprintf(stderr, "locusctl: cannot reach %s:%d\n", t.host, t.port);
            node_stop(&t);
            return 1;
        }
        if (o->server_port == 0) {
            node_stop(&t);
        }
    }
    rc = report(o,
                o->persistent ? "persistent registrations (one node)"
                              : "ephemeral registrations (one node)",
                "regs/s", runs, o->runs, NULL);
    return rc;
}

/* The list of @svc must be JSON with @expect hosts. */
static int check_list(struct target *t, const char *prefix, unsigned svc,
                      unsigned expect)
{
    char path[256];
    char *body = NULL;
    int st;
    json_t *root;
    size_t hosts;
    snprintf(path, sizeof path,
             "/nacos/v1/ns/instance/list?serviceName=%s%u", prefix, svc);
    st = get(t, path, &body);
    root = body != NULL ? json_loads(body, 0, NULL) : NULL;
    hosts = json_array_size(json_object_get(root, "hosts"));
    json_decref(root);
    free(body);
    if (st != 200 || hosts != expect) {
        fprintf(stderr, "locusctl: %s answered %d with %zu hosts, not %u\n",
                path, st, hosts, expect);
        return -1;
    }
    return 0;
}

static int cmd_query(const struct opts *o)
{
    struct lc_load_result runs[MAX_RUNS];
    struct lc_load_result pre;
    const char *prefix = o->persistent ? "bench-q-p" : "bench-q-e";
    struct gen g = {o, prefix, 0, o->services, o->instances};
    char body_prefix[300];
    char label[32];
    struct target t;
    uint64_t total = (uint64_t)o->services * o->instances;
    json_t *extra;

    if (node_start(o, &t) != 0) {
        return 1;
    }
    fprintf(stderr, "registering %u services x %u %s instances on %s:%d...\n",
            o->services, o->instances,
            o->persistent ? "persistent" : "ephemeral", t.host, t.port);
    snprintf(body_prefix, sizeof body_prefix,
             "{\"name\":\"DEFAULT_GROUP@@%s", prefix);
    for (unsigned i = 0; i < o->runs; i++) {
        struct lc_load_spec s;
        /* Registering again refreshes ephemeral instances (as a beat
         * does), so none turns unhealthy or expires during the run. */
        if (preload(o, &t, &g, total, &pre) != 0 ||
            check_list(&t, prefix, 0, o->instances) != 0 ||
            check_list(&t, prefix, o->services - 1, o->instances) != 0) {
            node_stop(&t);
            return 1;
        }
        fprintf(stderr, "run %u/%u: instance/list...\n", i + 1, o->runs);
        load_spec(o, &t, &s);
        snprintf(label, sizeof label, "run %u", i + 1);
        s.method = "GET";
        s.path = list_path;
        s.data = &g;
        s.body_prefix = body_prefix;
        s.label = label;
        s.unit = "queries/s";
        if (lc_load_run(&s, &runs[i]) != 0) {
            node_stop(&t);
            return 1;
        }
    }
    node_stop(&t);
    extra = json_object();
    json_object_set_new(extra, "services", json_integer(o->services));
    json_object_set_new(extra, "instancesPerService",
                        json_integer(o->instances));
    json_object_set_new(extra, "ephemeral", json_boolean(!o->persistent));
    {
        char what[160];
        snprintf(what, sizeof what,
                 "instance/list on one node, %u services x %u %s instances",
                 o->services, o->instances,
                 o->persistent ? "persistent" : "ephemeral");
        return report(o, what, "queries/s", runs, o->runs, extra);
    }
}

struct mem_result {
    bool persistent;
    long idle_kb;
    long rss_kb;
    long hwm_kb;
    long long instances;
    double seconds;
    double per_instance;
};

static int memory_one(const struct opts *o, bool persistent,
                      struct mem_result *m)
{
    struct opts oo = *o;
    struct target t;
    struct gen g;
    struct lc_load_result r;
    pid_t pid;
    unsigned per = 100;

    oo.persistent = persistent;
    oo.server_port = 0;
    memset(m, 0, sizeof *m);
    m->persistent = persistent;
    if (node_start(&oo, &t) != 0) {
        return -1;
    }
    pid = t.cluster.nodes[0].pid;
    usleep(1000000); /* let it settle */
    m->idle_kb = lc_bench_status_kb(pid, "VmRSS");
    if (o->count < per) {
        per = (unsigned)o->count;
    }
    g = (struct gen){&oo, persistent ? "mem-p" : "mem-e", 0, 0, per};
    fprintf(stderr,
            "%s: registering %lu instances (%lu services x %u) on a fresh "
            "node (idle RSS %.1f MB)...\n",
            persistent ? "persistent" : "ephemeral", o->count,
            (o->count + per - 1) / per, per, (double)m->idle_kb / 1024);
    if (preload(&oo, &t, &g, o->count, &r) != 0) {
        node_stop(&t);
        return -1;
    }
    /* Read at once: ephemeral instances stay 30 s without beats. */
    m->instances = metric(&t, "instanceCount");
    m->rss_kb = lc_bench_status_kb(pid, "VmRSS");
    m->hwm_kb = lc_bench_status_kb(pid, "VmHWM");
    m->seconds = r.seconds;
    m->per_instance = m->instances > 0 ? (double)(m->rss_kb - m->idle_kb) *
                                             1024.0 / (double)m->instances
                                       : 0;
    fprintf(stderr,
            "  %lld instances in %.1f s: RSS %.1f MB, peak %.1f MB\n",
            m->instances, r.seconds, (double)m->rss_kb / 1024,
            (double)m->hwm_kb / 1024);
    node_stop(&t);
    return m->instances == (long long)o->count ? 0 : -1;
}

static int cmd_memory(const struct opts *o)
{
    struct mem_result m[2];
    unsigned n = 0;
    int rc = 0;

    if (o->server_port != 0) {
        fprintf(stderr, "locusctl: bench memory starts its own node "
                        "(it reads /proc/<pid>/status); no --server\n");
        return 2;
    }
    if (o->both || !o->persistent) {
        rc |= memory_one(o, false, &m[n++]) != 0;
    }
    if (o->both || o->persistent) {
        rc |= memory_one(o, true, &m[n++]) != 0;
    }
    if (o->json) {
        json_t *root = json_object();
        json_t *arr = json_array();
        json_object_set_new(root, "benchmark", json_string("memory"));
        json_object_set_new(root, "metadata",
                            json_string(o->metadata != NULL ? o->metadata
                                                            : ""));
        for (unsigned i = 0; i < n; i++) {
            json_t *x = json_object();
            json_object_set_new(x, "ephemeral",
                                json_boolean(!m[i].persistent));
            json_object_set_new(x, "instances",
                                json_integer(m[i].instances));
            json_object_set_new(x, "registerSeconds",
                                json_real(m[i].seconds));
            json_object_set_new(x, "idleRssKb", json_integer(m[i].idle_kb));
            json_object_set_new(x, "rssKb", json_integer(m[i].rss_kb));
            json_object_set_new(x, "hwmKb", json_integer(m[i].hwm_kb));
            json_object_set_new(x, "bytesPerInstance",
                                json_real(m[i].per_instance));
            json_array_append_new(arr, x);
        }
        json_object_set_new(root, "results", arr);
        print_json(root);
    } else {
        printf("\nmemory of one standalone node; metadata %s\n\n",
               o->metadata != NULL ? o->metadata : "none");
        printf("%-11s %10s %10s %10s %10s %14s\n", "instances", "count",
               "idle MB", "RSS MB", "peak MB", "bytes/instance");
        for (unsigned i = 0; i < n; i++) {
            printf("%-11s %10lld %10.1f %10.1f %10.1f %14.0f\n",
                   m[i].persistent ? "persistent" : "ephemeral",
                   m[i].instances, (double)m[i].idle_kb / 1024,
                   (double)m[i].rss_kb / 1024, (double)m[i].hwm_kb / 1024,
                   m[i].per_instance);
        }
    }
    return rc;
}

/* ------------------------------------------------------------- options */

static const char usage[] =
    "usage: locusctl bench register [--ephemeral|--persistent] [options]\n"
    "       locusctl bench query [--services N] [--instances N] [options]\n"
    "       locusctl bench memory [--count N] [--ephemeral|--persistent]\n"
    "\n"
    "  --conns N        keep-alive connections (64)\n"
    "  --seconds S      per run (8)\n"
    "  --runs N         runs; each is printed, then the median (3)\n"
    "  --services N     services (register: 100; query: 10)\n"
    "  --instances N    query: instances per service (10)\n"
    "  --count N        memory: instances, 100 per service (100000)\n"
    "  --metadata JSON  instance metadata (memory: a small realistic map;\n"
    "                   register, query: none)\n"
    "  --persistent     persistent instances (through Raft); default\n"
    "                   ephemeral (memory: both, one after the other)\n"
    "  --server H:P     load a running node instead of starting one\n"
    "  --locusd PATH    (build/locusd)  --dir D (data/bench-naming)\n"
    "  --port P         HTTP port of the node it starts (18848)\n"
    "  --set KEY=VALUE  a property of the node it starts (repeatable)\n"
    "  --json           machine-readable output\n";

int lc_bench_naming(const char *cmd, int argc, char **argv, bool json)
{
    struct opts o;
    bool services_set = false;

    memset(&o, 0, sizeof o);
    o.json = json;
    o.conns = 64;
    o.seconds = 8;
    o.runs = 3;
    o.instances = 10;
    o.count = 100000;
    o.locusd = "build/locusd";
    o.dir = "data/bench-naming";
    o.port = 18848;
    if (strcmp(cmd, "register") == 0) {
        o.cmd = CMD_REGISTER;
    } else if (strcmp(cmd, "query") == 0) {
        o.cmd = CMD_QUERY;
    } else if (strcmp(cmd, "memory") == 0) {
        o.cmd = CMD_MEMORY;
        o.both = true;
        o.metadata = DEFAULT_METADATA;
    } else {
        fputs(usage, stderr);
        return 2;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long x;
        if (strcmp(a, "--json") == 0) {
            o.json = true;
            continue;
        }
        if (strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(a, "--persistent") == 0 || strcmp(a, "--ephemeral") == 0) {
            o.persistent = a[2] == 'p';
            o.both = false;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "locusctl: %s needs a value\n%s", a, usage);
            return 2;
        }
        i++;
        if (strcmp(a, "--locusd") == 0) {
            o.locusd = v;
            continue;
        }
        if (strcmp(a, "--dir") == 0) {
            o.dir = v;
            continue;
        }
        if (strcmp(a, "--set") == 0) {
            size_t used = strlen(o.extra);
            if (strchr(v, '=') == NULL ||
                (size_t)snprintf(o.extra + used, sizeof o.extra - used,
                                 "%s\n", v) >= sizeof o.extra - used) {
                fprintf(stderr, "locusctl: --set wants KEY=VALUE\n");
                return 2;
            }
            continue;
        }
        if (strcmp(a, "--metadata") == 0) {
            o.metadata = v[0] != '\0' ? v : NULL;
            continue;
        }
        if (strcmp(a, "--server") == 0) {
            if (lc_split_host_port(v, o.server_host, sizeof o.server_host,
                                   &o.server_port) != 0) {
                fprintf(stderr, "locusctl: --server wants host:port\n");
                return 2;
            }
            continue;
        }
        if (lc_parse_int(v, 1, 100000000, &x) != 0) {
            fprintf(stderr, "locusctl: %s wants a positive number\n", a);
            return 2;
        }
        if (strcmp(a, "--conns") == 0) {
            o.conns = (unsigned)x;
        } else if (strcmp(a, "--seconds") == 0) {
            o.seconds = (unsigned)x;
        } else if (strcmp(a, "--runs") == 0) {
            o.runs = (unsigned)x;
        } else if (strcmp(a, "--services") == 0) {
            o.services = (unsigned)x;
            services_set = true;
        } else if (strcmp(a, "--instances") == 0) {
            o.instances = (unsigned)x;
        } else if (strcmp(a, "--count") == 0) {
            o.count = (unsigned long)x;
        } else if (strcmp(a, "--port") == 0 && x <= 65535) {
            o.port = (int)x;
        } else {
            fprintf(stderr, "locusctl: unknown option %s\n%s", a, usage);
            return 2;
        }
    }
    if (!services_set) {
        o.services = o.cmd == CMD_QUERY ? 10 : 100;
    }
    if (o.runs > MAX_RUNS || o.conns > 4096) {
        fprintf(stderr, "locusctl: at most %d runs, 4096 connections\n",
                MAX_RUNS);
        return 2;
    }
    if (o.metadata != NULL) {
        char *enc = NULL;
        size_t len = 0;
        size_t cap = 0;
        json_t *m = json_loads(o.metadata, 0, NULL);
        bool ok = json_is_object(m);
        json_decref(m);
        if (!ok || lc_http_urlencode_append(&enc, &len, &cap, o.metadata) != 0 ||
            len + 11 >= sizeof o.enc_metadata) {
            free(enc);
            fprintf(stderr, "locusctl: --metadata wants a small JSON object\n");
            return 2;
        }
        snprintf(o.enc_metadata, sizeof o.enc_metadata, "&metadata=%s", enc);
        free(enc);
    }
    switch (o.cmd) {
        case CMD_REGISTER:
            return cmd_register(&o);
        case CMD_QUERY:
            return cmd_query(&o);
        default:
            return cmd_memory(&o);
    }
}
