/* locusctl bench grpc: the Nacos 2.x gRPC protocol under load.
 *
 *   register  --conns connections (bench/nclient.c, set up as the Java
 *             client does), each keeping --depth InstanceRequests in flight:
 *             ephemeral registrations/s on one node. A connection holds one
 *             publish per service (Nacos's replace semantics), so requests
 *             cycle over --services services and memory stays flat.
 *   push      --subscribers connections subscribe to one service; a writer
 *             connection re-registers its instance with a new port
 *             --changes times; per subscriber, the time from the writer's
 *             acknowledgement to the push that carries the new port.
 *   idle      --conns connections, each with one instance and one
 *             subscription (over 100 services); the node's RSS before and
 *             after.
 *   storm     as idle, then locusd is restarted (SIGTERM, start): every
 *             connection reconnects as the Java client does (retry after
 *             100 ms, backing off by 100 ms per failed pass up to 5 s) and
 *             redoes its registration and subscription; the time until all
 *             are registered again.
 *   puts      --conns connections, one unary call in flight each, for
 *             --seconds: persistent registrations over gRPC
 *             (PersistentInstanceRequest, through Raft) against --server,
 *             or with --etcd HOST:PORT, etcd's native gRPC KV.Put of a
 *             value of the same size. bench/grpc_puts_vs_etcd.sh runs both
 *             side by side on 3-node clusters.
 *
 * Each starts its own standalone locusd (fresh data directory) unless
 * --server points at a running node (HTTP port; gRPC is +1000). Progress on
 * stderr; a table on stdout (JSON with --json).
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "bench/bench.h"
#include "bench/cluster.h"
#include "bench/grpc_internal.h"
#include "rpc/grpc/nclient.h"
#include "common/err.h"
#include "common/util.h"
#include "rpc/grpc/grpc.h"
#include "rpc/grpc/rpc.h"

uint64_t gbench_now_us(void)
{
    return uv_hrtime() / 1000;
}

void gbench_lat_add(struct bench *b, uint64_t us)
{
    if (b->n_lat == b->cap_lat) {
        size_t cap = b->cap_lat ? b->cap_lat * 2 : 1 << 16;
        uint64_t *v = realloc(b->lat_us, cap * sizeof *v);
        if (v == NULL) {
            return;
        }
        b->lat_us = v;
        b->cap_lat = cap;
    }
    b->lat_us[b->n_lat++] = us;
}

/* Count an error; the first is kept as "@op: @what". */
void gbench_note_error(struct bench *b, const char *op, const char *what)
{
    b->errors++;
    if (b->first_error[0] == '\0') {
        snprintf(b->first_error, sizeof b->first_error, "%s: %s", op, what);
    }
}

/* Run the loop until @done(b) or @ms pass; return whether done. */
void gbench_on_tick(uv_timer_t *t)
{
    uv_stop(t->loop);
}

bool gbench_run_until(struct bench *b, bool (*done)(struct bench *),
                      uint64_t ms)
{
    uint64_t end = lc_mono_ms() + ms;
    while (!done(b)) {
        if (lc_mono_ms() >= end) {
            return false;
        }
        uv_timer_start(&b->tick, gbench_on_tick, 20, 0);
        uv_run(&b->loop, UV_RUN_DEFAULT);
    }
    return true;
}

void gbench_run_for(struct bench *b, uint64_t ms)
{
    uint64_t end = lc_mono_ms() + ms;
    while (lc_mono_ms() < end) {
        uv_timer_start(&b->tick, gbench_on_tick, 20, 0);
        uv_run(&b->loop, UV_RUN_DEFAULT);
    }
}

/* ------------------------------------------------------------ requests */

void gbench_instance_ip(uint64_t n, char *ip, size_t size)
{
    snprintf(ip, size, "127.%u.%u.%u", (unsigned)(n >> 16) & 255,
             (unsigned)(n >> 8) & 255, (unsigned)n & 255);
}

/* {namespace, serviceName, groupName, type, instance}: a new reference. */
json_t *gbench_instance_request(const char *service, const char *type,
                                const char *ip, int port, bool ephemeral)
{
    json_t *inst = lc_nclient_instance(ip, port, ephemeral);
    if (inst == NULL) {
        return NULL;
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:o}", "namespace", "public",
                     "serviceName", service, "groupName", "DEFAULT_GROUP",
                     "type", type, "instance", inst);
}

json_t *gbench_subscribe_request(const char *service, bool subscribe)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:b}", "namespace", "public",
                     "serviceName", service, "groupName", "DEFAULT_GROUP",
                     "clusters", "", "subscribe", subscribe);
}


const char *gbench_response_error(int status, json_t *body)
{
    const char *m;
    if (status != 0) {
        return lc_strerror(status);
    }
    m = json_string_value(json_object_get(body, "message"));
    return m != NULL ? m : "resultCode != 200";
}

/* ---------------------------------------------------------- connections */

static void slot_connect(struct slot *s);
static void on_retry(uv_timer_t *t);

static void on_ready(struct lc_nclient *c, int status, void *data)
{
    struct slot *s = data;
    struct bench *b = s->b;
    (void)c;
    b->connecting--;
    if (status != 0) {
        /* A node that has just become ready over HTTP may still refuse
         * for a moment (ServerCheck: "Server is starting"): the Java
         * client tries again, and so do we, a few times. */
        if (!b->reconnect && ++s->attempts < 5) {
            b->connecting++; /* still on its way */
            uv_timer_start(&s->retry, on_retry, 200, 0);
            return;
        }
        if (b->failed++ == 0 && !b->reconnect) {
            fprintf(stderr, "  a connection failed: %s\n",
                    lc_strerror(status));
        }
        return;
    }
    s->ready = true;
    s->turns = 0;
    b->ready++;
}

static void on_retry(uv_timer_t *t);

static void on_closed(struct lc_nclient *c, void *data)
{
    struct slot *s = data;
    struct bench *b = s->b;
    (void)c;
    if (s->ready) {
        b->ready--;
    }
    s->ready = false;
    s->redoing = false;
    s->c = NULL;
    if (s->registered) {
        s->registered = false;
        b->registered--;
    }
    if (s->subscribed) {
        s->subscribed = false;
        b->subscribed--;
    }
    b->closed++;
    if (b->reconnect) {
        /* The Java client: the next try at once after a drop, then
         * min(turns + 1, 50) x 100 ms between failed passes. */
        unsigned delay = 100 + (unsigned)(rand() % 100);
        if (s->turns > 0) {
            delay = (s->turns + 1 < 50 ? s->turns + 1 : 50) * 100;
        }
        s->turns++;
        uv_timer_start(&s->retry, on_retry, delay, 0);
    }
}

static void on_retry(uv_timer_t *t)
{
    struct slot *s = t->data;
    if (!s->b->reconnect) {
        s->b->connecting--; /* counted again below */
    }
    slot_connect(s);
}

static void slot_connect(struct slot *s)
{
    struct bench *b = s->b;
    struct lc_nclient_cbs cbs = {.data = s,
                                 .ready = on_ready,
                                 .push = gbench_on_push,
                                 .closed = on_closed};
    int port = b->n_members > 0 ? b->member_ports[s->i % b->n_members]
                                : b->grpc_port;
    if (lc_nclient_new(&b->loop, b->grpc_host, port, &cbs, &s->c) != 0) {
        s->c = NULL;
        b->failed++;
        return;
    }
    if (b->o.token[0] != '\0') {
        /* As the Java client with auth on: the token on every request. */
        json_t *h = json_pack("{s:s}", "accessToken", b->o.token);
        if (h == NULL || lc_nclient_set_headers(s->c, h) != 0) {
            gbench_note_error(b, "connect", "cannot set the token header");
        }
        json_decref(h);
    }
    b->connecting++;
}

bool gbench_all_settled(struct bench *b)
{
    while (b->next_connect < b->o.conns && b->connecting < CONNECT_WINDOW) {
        slot_connect(&b->slots[b->next_connect++]);
    }
    return b->next_connect == b->o.conns && b->connecting == 0;
}

/* Open --conns connections, CONNECT_WINDOW at a time. Return 0 when all
 * are ready. */
int gbench_connect_all(struct bench *b)
{
    uint64_t start = lc_mono_ms(), last = start;
    b->next_connect = 0;
    while (!gbench_all_settled(b)) {
        uv_timer_start(&b->tick, gbench_on_tick, 20, 0);
        uv_run(&b->loop, UV_RUN_DEFAULT);
        if (lc_mono_ms() - last >= 1000) {
            last = lc_mono_ms();
            fprintf(stderr, "  %u/%u connections ready, %u failed\n",
                    b->ready, b->o.conns, b->failed);
        }
        if (lc_mono_ms() - start > 120000) {
            break;
        }
    }
    fprintf(stderr, "  %u/%u connections ready in %.1f s, %u failed\n",
            b->ready, b->o.conns, (lc_mono_ms() - start) / 1000.0, b->failed);
    return b->ready == b->o.conns ? 0 : -1;
}

static bool all_closed(struct bench *b)
{
    for (unsigned i = 0; i < b->o.conns; i++) {
        if (b->slots[i].c != NULL || b->slots[i].etcd != NULL) {
            return false;
        }
    }
    return b->writer == NULL;
}

static void close_all(struct bench *b)
{
    b->reconnect = false;
    for (unsigned i = 0; i < b->o.conns; i++) {
        struct slot *s = &b->slots[i];
        if (s->retry_init) {
            uv_timer_stop(&s->retry);
        }
        if (s->c != NULL) {
            lc_nclient_close(s->c);
        }
        if (s->etcd != NULL) {
            lc_grpc_client_close(s->etcd);
        }
    }
    if (b->writer != NULL) {
        lc_nclient_close(b->writer);
    }
    gbench_run_until(b, all_closed, 10000);
}

struct bench *gbench_new(const struct opts *o, const char *host,
                         int grpc_port)
{
    struct bench *b = calloc(1, sizeof *b);
    if (b == NULL) {
        return NULL;
    }
    b->o = *o;
    b->slots = calloc(o->conns, sizeof *b->slots);
    if (b->slots == NULL) {
        free(b);
        return NULL;
    }
    snprintf(b->grpc_host, sizeof b->grpc_host, "%s", host);
    b->grpc_port = grpc_port;
    uv_loop_init(&b->loop);
    uv_timer_init(&b->loop, &b->tick);
    uv_timer_init(&b->loop, &b->pace_timer);
    b->pace_timer.data = b;
    for (unsigned i = 0; i < o->conns; i++) {
        b->slots[i].b = b;
        b->slots[i].i = i;
        uv_timer_init(&b->loop, &b->slots[i].retry);
        b->slots[i].retry.data = &b->slots[i];
        b->slots[i].retry_init = true;
    }
    return b;
}

void gbench_free(struct bench *b)
{
    if (b == NULL) {
        return;
    }
    uv_timer_stop(&b->pace_timer);
    close_all(b);
    for (unsigned i = 0; i < b->o.conns; i++) {
        uv_close((uv_handle_t *)&b->slots[i].retry, NULL);
    }
    uv_close((uv_handle_t *)&b->pace_timer, NULL);
    uv_close((uv_handle_t *)&b->tick, NULL);
    uv_run(&b->loop, UV_RUN_DEFAULT);
    uv_loop_close(&b->loop);
    free(b->slots);
    free(b->lat_us);
    free(b->from_ack);
    free(b);
}

/* ---------------------------------------------------------------- main */

static const char usage[] =
    "usage: locusctl bench grpc register|push|idle|storm|puts [options]\n"
    "  --conns N        connections (register 64, idle/storm 10000,\n"
    "                   puts 64)\n"
    "  --depth N        register: requests in flight per connection (4)\n"
    "  --services N     register: services cycled over; idle/storm:\n"
    "                   services the connections spread over (100)\n"
    "  --subscribers N  push: subscriber connections (1000)\n"
    "  --changes N      push: changes (20)\n"
    "  --seconds N      register/puts: seconds per run (5)\n"
    "  --runs N         register/puts: runs, the median reported (3)\n"
    "  --first-seq N    register/puts: number of the first request (0);\n"
    "                   request n writes instance / key n, so separate\n"
    "                   invocations with distinct ranges write new ones\n"
    "  --server H:P     a running node's HTTP port (gRPC = +1000)\n"
    "  --etcd H:P       puts: etcd's client port instead of locus\n"
    "  --port P         HTTP port of the node it starts (18848)\n"
    "  --dir D          its directory (data/bench-grpc)\n"
    "  --locusd PATH    the locusd binary (build/locusd)\n"
    "  --set K=V        a property for the node it starts\n"
    "  --token T        auth on: send accessToken T (a metadata header)\n"
    "                   with every request, as the Java client does\n"
    "  --json           JSON instead of a table\n";

static bool parse_hp(const char *v, char *host, size_t size, int *port)
{
    const char *colon = strrchr(v, ':');
    if (colon == NULL || (size_t)(colon - v) >= size) {
        fprintf(stderr, "locusctl: %s: expected HOST:PORT\n", v);
        return false;
    }
    memcpy(host, v, (size_t)(colon - v));
    host[colon - v] = '\0';
    *port = atoi(colon + 1);
    return *port > 0 && *port < 65536;
}

int gbench_parse_opts(int argc, char **argv, struct opts *o,
                      const char *use,
                      int (*own)(void *ctx, const char *a, const char *v),
                      void *ctx)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int taken;
        if (strcmp(a, "--help") == 0) {
            fputs(use, stdout);
            return 0;
        }
        if (strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "locusctl: %s needs a value\n%s", a, use);
            return 2;
        }
        i++;
        if (strcmp(a, "--conns") == 0) {
            o->conns = (unsigned)atoi(v);
        } else if (strcmp(a, "--depth") == 0) {
            o->depth = (unsigned)atoi(v);
        } else if (strcmp(a, "--services") == 0) {
            o->services = (unsigned)atoi(v);
        } else if (strcmp(a, "--changes") == 0) {
            o->changes = (unsigned)atoi(v);
        } else if (strcmp(a, "--seconds") == 0) {
            o->seconds = (unsigned)atoi(v);
        } else if (strcmp(a, "--runs") == 0) {
            o->runs = (unsigned)atoi(v);
        } else if (strcmp(a, "--first-seq") == 0) {
            o->first_seq = strtoull(v, NULL, 10);
        } else if (strcmp(a, "--port") == 0) {
            o->port = atoi(v);
        } else if (strcmp(a, "--dir") == 0) {
            o->dir = v;
        } else if (strcmp(a, "--locusd") == 0) {
            o->locusd = v;
        } else if (strcmp(a, "--set") == 0) {
            size_t l = strlen(o->extra);
            snprintf(o->extra + l, sizeof o->extra - l, "%s\n", v);
        } else if (strcmp(a, "--token") == 0) {
            if (strlen(v) >= sizeof o->token) {
                fprintf(stderr, "locusctl: --token: too long\n");
                return 2;
            }
            snprintf(o->token, sizeof o->token, "%s", v);
        } else if ((taken = own(ctx, a, v)) <= 0) {
            if (taken == 0) {
                fprintf(stderr, "locusctl: unknown option %s\n%s", a, use);
            }
            return 2;
        }
    }
    if (o->conns == 0 || o->conns > 100000 || o->depth == 0 ||
        o->depth > 16 || o->services == 0 || o->seconds == 0 ||
        o->runs == 0 || o->runs > MAX_RUNS || o->changes == 0) {
        fprintf(stderr, "locusctl: conns 1..100000, depth 1..16, runs "
                        "1..32, and every count > 0\n");
        return 2;
    }
    return -1;
}

/* bench grpc's own options. */
static int grpc_opt(void *ctx, const char *a, const char *v)
{
    struct opts *o = ctx;
    if (strcmp(a, "--subscribers") == 0) {
        o->conns = (unsigned)atoi(v);
    } else if (strcmp(a, "--server") == 0) {
        return parse_hp(v, o->host, sizeof o->host, &o->server_port) ? 1 : -1;
    } else if (strcmp(a, "--etcd") == 0) {
        return parse_hp(v, o->etcd_host, sizeof o->etcd_host, &o->etcd_port)
                   ? 1
                   : -1;
    } else {
        return 0;
    }
    return 1;
}

static int parse(int argc, char **argv, struct opts *o)
{
    const char *sub = argc > 0 ? argv[0] : "";
    if (strcmp(sub, "register") == 0) {
        o->cmd = CMD_REGISTER;
    } else if (strcmp(sub, "push") == 0) {
        o->cmd = CMD_PUSH;
        o->conns = 1000;
    } else if (strcmp(sub, "idle") == 0) {
        o->cmd = CMD_IDLE;
        o->conns = 10000;
    } else if (strcmp(sub, "storm") == 0) {
        o->cmd = CMD_STORM;
        o->conns = 10000;
    } else if (strcmp(sub, "puts") == 0) {
        o->cmd = CMD_PUTS;
    } else {
        fputs(usage, strcmp(sub, "--help") == 0 ? stdout : stderr);
        return strcmp(sub, "--help") == 0 ? 0 : 2;
    }
    return gbench_parse_opts(argc - 1, argv + 1, o, usage, grpc_opt, o);
}

/* Room for @n sockets: raise the soft open-files limit to the hard one. */
void gbench_raise_nofile(unsigned n)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n + 64) {
        fprintf(stderr,
                "locusctl: warning: %llu open files allowed, %u connections "
                "asked\n",
                (unsigned long long)rl.rlim_cur, n);
    }
}

int lc_bench_grpc(int argc, char **argv, bool json)
{
    struct opts o = {.json = json,
                     .conns = 64,
                     .depth = 4,
                     .services = 100,
                     .seconds = 5,
                     .runs = 3,
                     .changes = 20,
                     .port = 18848,
                     .dir = "data/bench-grpc",
                     .locusd = "build/locusd"};
    struct lc_cluster cluster;
    struct lc_cluster_spec spec;
    bool own;
    struct bench *b;
    int rc = parse(argc, argv, &o);
    if (rc >= 0) {
        return rc;
    }
    signal(SIGPIPE, SIG_IGN);
    gbench_raise_nofile(o.conns + 1);
    own = o.server_port == 0 && o.etcd_port == 0;
    if (own) {
        memset(&spec, 0, sizeof spec);
        spec.n = 1;
        spec.base_port = o.port;
        spec.port_step = 10;
        spec.dir = o.dir;
        spec.locusd = o.locusd;
        spec.extra = o.extra;
        if (lc_cluster_init(&cluster, &spec) != 0 ||
            lc_cluster_wipe(&cluster) != 0) {
            return 1;
        }
        fprintf(stderr, "starting a standalone locusd in %s (port %d)...\n",
                cluster.dir, o.port);
        if (lc_cluster_start(&cluster) != 0 ||
            lc_cluster_wait_all_ready(&cluster, 30000) != 0) {
            fprintf(stderr, "locusctl: locusd did not become ready; log in %s\n",
                    cluster.dir);
            lc_cluster_stop(&cluster);
            return 1;
        }
        snprintf(o.host, sizeof o.host, "127.0.0.1");
        o.server_port = o.port;
    }
    b = gbench_new(&o, o.host, o.server_port + 1000);
    if (b == NULL) {
        rc = 1;
    } else if (o.cmd == CMD_REGISTER || o.cmd == CMD_PUTS) {
        rc = gbench_bench_rate(b);
    } else if (o.cmd == CMD_PUSH) {
        rc = gbench_bench_push(b);
    } else if (o.cmd == CMD_IDLE) {
        rc = gbench_bench_idle(b, own ? &cluster : NULL);
    } else {
        rc = gbench_bench_storm(b, own ? &cluster : NULL);
    }
    gbench_free(b);
    if (own) {
        lc_cluster_stop(&cluster);
    }
    return rc;
}
