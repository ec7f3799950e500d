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
#include "bench/nclient.h"
#include "common/err.h"
#include "common/util.h"
#include "rpc/grpc/grpc.h"
#include "rpc/grpc/rpc.h"

#define MAX_RUNS 32
#define CONNECT_WINDOW 256 /* connection setups in flight */
#define REQ_TIMEOUT_MS 10000
#define SETUP_WINDOW 512 /* idle/storm setup requests in flight */
#define ETCD_PUT_PATH "/etcdserverpb.KV/Put"

enum cmd { CMD_REGISTER, CMD_PUSH, CMD_IDLE, CMD_STORM, CMD_PUTS };

struct opts {
    enum cmd cmd;
    bool json;
    unsigned conns;
    unsigned depth;
    unsigned services;
    unsigned seconds;
    unsigned runs;
    unsigned changes;
    int port;
    const char *dir;
    const char *locusd;
    char host[256];
    int server_port; /* HTTP; 0: our own node */
    char etcd_host[256];
    int etcd_port; /* puts against etcd */
    char extra[2048];
};

struct bench;

/* One connection and what it does. */
struct slot {
    struct bench *b;
    unsigned i;
    struct lc_nclient *c;
    struct lc_nreq req[16]; /* --depth requests in flight */
    struct lc_grpc_ccall raw; /* puts against etcd */
    struct lc_grpc_client *etcd;
    bool ready;
    bool registered; /* idle/storm: instance acknowledged */
    bool subscribed;
    unsigned attempts; /* connect_all: failed setups */
    bool redoing; /* storm: registration and subscription sent again */
    bool resubscribe; /* storm: subscribe once the registration is answered */
    unsigned turns;       /* storm: failed reconnect passes */
    uint64_t last_change; /* push: the last change seen */
    uv_timer_t retry;     /* storm: reconnect timer */
    bool retry_init;
};

struct bench {
    struct opts o;
    uv_loop_t loop;
    uv_timer_t tick;
    struct slot *slots;
    char grpc_host[256];
    int grpc_port;
    /* connecting */
    unsigned connecting, ready, failed, closed;
    unsigned next_connect;
    /* load */
    bool running;
    uint64_t seq;
    uint64_t ok, errors;
    char first_error[200];
    uint64_t *lat_us; /* per request (register, puts) */
    size_t n_lat, cap_lat;
    /* push */
    struct lc_nclient *writer;
    struct lc_nreq wreq;
    uint64_t change;      /* current change number */
    uint64_t change_sent, change_ack; /* µs */
    bool change_done;
    unsigned have;
    uint64_t *from_ack; /* µs, one per delivery */
    size_t n_push;
    /* idle, storm */
    unsigned registered, subscribed;
    unsigned setup_next; /* the next slot to register or subscribe */
    unsigned inflight;   /* setup requests in flight */
    const char *sub_service; /* push: every slot's; NULL: idle_service() */
    bool reconnect;
    uint64_t pushes;
};

static uint64_t now_us(void)
{
    return uv_hrtime() / 1000;
}

static void lat_add(struct bench *b, uint64_t us)
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
static void note_error(struct bench *b, const char *op, const char *what)
{
    b->errors++;
    if (b->first_error[0] == '\0') {
        snprintf(b->first_error, sizeof b->first_error, "%s: %s", op, what);
    }
}

/* Run the loop until @done(b) or @ms pass; return whether done. */
static void on_tick(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static bool run_until(struct bench *b, bool (*done)(struct bench *),
                      uint64_t ms)
{
    uint64_t end = lc_mono_ms() + ms;
    while (!done(b)) {
        if (lc_mono_ms() >= end) {
            return false;
        }
        uv_timer_start(&b->tick, on_tick, 20, 0);
        uv_run(&b->loop, UV_RUN_DEFAULT);
    }
    return true;
}

static void run_for(struct bench *b, uint64_t ms)
{
    uint64_t end = lc_mono_ms() + ms;
    while (lc_mono_ms() < end) {
        uv_timer_start(&b->tick, on_tick, 20, 0);
        uv_run(&b->loop, UV_RUN_DEFAULT);
    }
}

/* ------------------------------------------------------------ requests */

static void instance_ip(uint64_t n, char *ip, size_t size)
{
    snprintf(ip, size, "127.%u.%u.%u", (unsigned)(n >> 16) & 255,
             (unsigned)(n >> 8) & 255, (unsigned)n & 255);
}

/* {namespace, serviceName, groupName, type, instance}: a new reference. */
static json_t *instance_request(const char *service, const char *type,
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

static json_t *subscribe_request(const char *service, bool subscribe)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:b}", "namespace", "public",
                     "serviceName", service, "groupName", "DEFAULT_GROUP",
                     "clusters", "", "subscribe", subscribe);
}

/* A response is a success when resultCode is 200. */
static bool response_ok(int status, json_t *body)
{
    return status == 0 &&
           json_integer_value(json_object_get(body, "resultCode")) == 200;
}

static const char *response_error(int status, json_t *body)
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

static void on_push(struct lc_nclient *c, const char *json, size_t len,
                    void *data);
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
                                 .push = on_push,
                                 .closed = on_closed};
    if (lc_nclient_new(&b->loop, b->grpc_host, b->grpc_port, &cbs, &s->c) !=
        0) {
        s->c = NULL;
        b->failed++;
        return;
    }
    b->connecting++;
}

static bool all_settled(struct bench *b)
{
    while (b->next_connect < b->o.conns && b->connecting < CONNECT_WINDOW) {
        slot_connect(&b->slots[b->next_connect++]);
    }
    return b->next_connect == b->o.conns && b->connecting == 0;
}

/* Open --conns connections, CONNECT_WINDOW at a time. Return 0 when all
 * are ready. */
static int connect_all(struct bench *b)
{
    uint64_t start = lc_mono_ms(), last = start;
    b->next_connect = 0;
    while (!all_settled(b)) {
        uv_timer_start(&b->tick, on_tick, 20, 0);
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
    run_until(b, all_closed, 10000);
}

/* ------------------------------------------------------------ register */

static void send_register(struct slot *s, unsigned k);

static void on_registered(struct lc_nreq *r, int status, const char *type,
                          json_t *body)
{
    struct slot *s = r->data;
    struct bench *b = s->b;
    unsigned k = (unsigned)(r - s->req);
    uint64_t sent = (uint64_t)(uintptr_t)r->priv[9];
    (void)type;
    if (response_ok(status, body)) {
        b->ok++;
        lat_add(b, now_us() - sent);
    } else {
        note_error(b, "register", response_error(status, body));
    }
    if (b->running && s->c != NULL) {
        send_register(s, k);
    }
}

static void send_register(struct slot *s, unsigned k)
{
    struct bench *b = s->b;
    uint64_t seq = b->seq++;
    char ip[32], text[512];
    int n;
    instance_ip(seq / b->o.services, ip, sizeof ip);
    /* What the Java client sends, written directly (see nclient.h). */
    n = snprintf(text, sizeof text,
                 "{\"headers\":{},\"namespace\":\"public\","
                 "\"serviceName\":\"grpc-reg-%u\",\"groupName\":"
                 "\"DEFAULT_GROUP\",\"module\":\"naming\",\"type\":"
                 "\"registerInstance\",\"instance\":{\"ip\":\"%s\","
                 "\"port\":%d,\"weight\":1.0,\"healthy\":true,"
                 "\"enabled\":true,\"ephemeral\":true,\"clusterName\":"
                 "\"DEFAULT\",\"metadata\":{}}}",
                 (unsigned)(seq % b->o.services), ip, 1 + (int)(seq % 60000));
    s->req[k].data = s;
    s->req[k].lazy = true;
    s->req[k].priv[9] = (void *)(uintptr_t)now_us();
    if (lc_nclient_request_text(s->c, &s->req[k], "InstanceRequest", text,
                                (size_t)n, REQ_TIMEOUT_MS,
                                on_registered) != 0) {
        note_error(b, "register", "cannot send");
    }
}

/* ---------------------------------------------------------------- puts */

static void send_put(struct slot *s);

static void on_put_reply(struct lc_nreq *r, int status, const char *type,
                         json_t *body)
{
    on_registered(r, status, type, body);
}

static void on_etcd_put(struct lc_grpc_ccall *call, int status,
                        int grpc_status, const char *message,
                        const uint8_t *msg, size_t len)
{
    struct slot *s = call->data;
    struct bench *b = s->b;
    uint64_t sent = (uint64_t)(uintptr_t)s->req[0].priv[9];
    (void)msg;
    (void)len;
    if (status == 0 && grpc_status == 0) {
        b->ok++;
        lat_add(b, now_us() - sent);
    } else {
        note_error(b, "etcd put",
                   status != 0 ? lc_strerror(status)
                               : (message ? message : "grpc error"));
    }
    if (b->running && s->etcd != NULL) {
        send_put(s);
    }
}

/* etcd's PutRequest{key = 1, value = 2}, hand-encoded. */
static size_t etcd_put(uint8_t *out, const char *key, const uint8_t *val,
                       size_t vlen)
{
    size_t klen = strlen(key), n = 0;
    out[n++] = 0x0a;
    out[n++] = (uint8_t)klen;
    memcpy(out + n, key, klen);
    n += klen;
    out[n++] = 0x12;
    out[n++] = (uint8_t)(0x80 | (vlen & 0x7f));
    out[n++] = (uint8_t)(vlen >> 7);
    memcpy(out + n, val, vlen);
    return n + vlen;
}

#define PUT_VALUE_BYTES 256 /* about a persistent instance's JSON */

static void send_put(struct slot *s)
{
    struct bench *b = s->b;
    uint64_t seq = b->seq++;
    s->req[0].data = s;
    s->req[0].priv[9] = (void *)(uintptr_t)now_us();
    if (s->etcd != NULL) {
        uint8_t buf[512], val[PUT_VALUE_BYTES];
        char key[64];
        size_t n;
        memset(val, 'v', sizeof val);
        snprintf(key, sizeof key, "/bench/grpc-puts/%llu",
                 (unsigned long long)seq);
        n = etcd_put(buf, key, val, sizeof val);
        s->raw.data = s;
        if (lc_grpc_client_unary(s->etcd, &s->raw, ETCD_PUT_PATH, buf, n,
                                 REQ_TIMEOUT_MS, on_etcd_put) != 0) {
            note_error(b, "etcd put", "cannot send");
        }
        return;
    }
    {
        char service[64], ip[32];
        json_t *body;
        snprintf(service, sizeof service, "grpc-puts-%u",
                 (unsigned)(seq % 100));
        instance_ip(seq / 100, ip, sizeof ip);
        body = instance_request(service, "registerInstance", ip,
                                1 + (int)(seq % 60000), false);
        if (body == NULL ||
            lc_nclient_request(s->c, &s->req[0], "PersistentInstanceRequest",
                               body, REQ_TIMEOUT_MS, on_put_reply) != 0) {
            note_error(b, "put", "cannot send");
        }
        json_decref(body);
    }
}

static void on_etcd_connected(struct lc_grpc_client *cl, int status,
                              void *data)
{
    struct slot *s = data;
    (void)cl;
    s->b->connecting--;
    if (status == 0) {
        s->ready = true;
        s->b->ready++;
    } else {
        s->b->failed++;
    }
}

static void on_etcd_closed(struct lc_grpc_client *cl, void *data)
{
    struct slot *s = data;
    (void)cl;
    s->etcd = NULL;
}

static int connect_etcd(struct bench *b)
{
    struct lc_grpc_client_cbs cbs = {.connected = on_etcd_connected,
                                     .closed = on_etcd_closed};
    for (unsigned i = 0; i < b->o.conns; i++) {
        struct slot *s = &b->slots[i];
        cbs.data = s;
        if (lc_grpc_client_new(&b->loop, b->o.etcd_host, b->o.etcd_port, 0,
                               &cbs, &s->etcd) != 0) {
            s->etcd = NULL;
            return -1;
        }
        b->connecting++;
    }
    b->next_connect = b->o.conns;
    run_until(b, all_settled, 10000);
    return b->ready == b->o.conns ? 0 : -1;
}

/* One timed run of register or puts: the rate and latencies. */
struct run {
    double rate;
    uint64_t ok, errors;
    double p50, p99;
};

static int cmp_run(const void *a, const void *b)
{
    double x = ((const struct run *)a)->rate;
    double y = ((const struct run *)b)->rate;
    return (x > y) - (x < y);
}

static bool load_drained(struct bench *b)
{
    (void)b;
    return false;
}

static void timed_run(struct bench *b, unsigned r, struct run *out)
{
    uint64_t start, last, end;
    uint64_t ok0;
    b->ok = b->errors = 0;
    b->n_lat = 0;
    b->running = true;
    for (unsigned i = 0; i < b->o.conns; i++) {
        for (unsigned k = 0; k < (b->o.cmd == CMD_PUTS ? 1 : b->o.depth);
             k++) {
            if (b->o.cmd == CMD_PUTS) {
                send_put(&b->slots[i]);
            } else {
                send_register(&b->slots[i], k);
            }
        }
    }
    start = last = lc_mono_ms();
    end = start + (uint64_t)b->o.seconds * 1000;
    ok0 = 0;
    while (lc_mono_ms() < end) {
        run_until(b, load_drained, 1000);
        fprintf(stderr, "  run %u: %llu/s\n", r + 1,
                (unsigned long long)((b->ok - ok0) * 1000 /
                                     (lc_mono_ms() - last + 1)));
        ok0 = b->ok;
        last = lc_mono_ms();
    }
    out->ok = b->ok;
    out->errors = b->errors;
    out->rate = b->ok * 1000.0 / (double)(lc_mono_ms() - start);
    b->running = false;
    /* Let the calls in flight finish before the next run. */
    run_for(b, 300);
    lc_bench_sort(b->lat_us, b->n_lat);
    out->p50 = lc_bench_percentile(b->lat_us, b->n_lat, 50) / 1000.0;
    out->p99 = lc_bench_percentile(b->lat_us, b->n_lat, 99) / 1000.0;
}

static int bench_rate(struct bench *b)
{
    struct run runs[MAX_RUNS], sorted[MAX_RUNS];
    const char *what = b->o.cmd == CMD_PUTS
                           ? (b->o.etcd_port ? "etcd KV.Put/s"
                                             : "persistent registrations/s")
                           : "ephemeral registrations/s";
    int rc = 0;
    if (b->o.cmd == CMD_PUTS && b->o.etcd_port != 0) {
        fprintf(stderr, "connecting %u gRPC connections to etcd %s:%d...\n",
                b->o.conns, b->o.etcd_host, b->o.etcd_port);
        if (connect_etcd(b) != 0) {
            fprintf(stderr, "locusctl: cannot connect to etcd\n");
            return 1;
        }
    } else {
        fprintf(stderr, "connecting %u gRPC connections to %s:%d...\n",
                b->o.conns, b->grpc_host, b->grpc_port);
        if (connect_all(b) != 0) {
            return 1;
        }
    }
    for (unsigned r = 0; r < b->o.runs; r++) {
        timed_run(b, r, &runs[r]);
        if (runs[r].errors > 0) {
            fprintf(stderr, "  run %u: %llu errors, the first: %s\n", r + 1,
                    (unsigned long long)runs[r].errors, b->first_error);
            rc = 1;
        }
    }
    memcpy(sorted, runs, sizeof runs[0] * b->o.runs);
    qsort(sorted, b->o.runs, sizeof sorted[0], cmp_run);
    {
        const struct run *m = &sorted[b->o.runs / 2];
        if (b->o.json) {
            json_t *root = json_pack(
                "{s:s, s:i, s:i, s:f, s:f, s:f, s:[]}", "measure", what,
                "conns", b->o.conns, "depth",
                b->o.cmd == CMD_PUTS ? 1 : b->o.depth, "medianRate", m->rate,
                "p50Ms", m->p50, "p99Ms", m->p99, "runs");
            for (unsigned r = 0; r < b->o.runs; r++) {
                json_array_append_new(
                    json_object_get(root, "runs"),
                    json_pack("{s:f, s:I, s:I, s:f, s:f}", "rate",
                              runs[r].rate, "ok", (json_int_t)runs[r].ok,
                              "errors", (json_int_t)runs[r].errors, "p50Ms",
                              runs[r].p50, "p99Ms", runs[r].p99));
            }
            char *text = json_dumps(root, JSON_INDENT(2));
            printf("%s\n", text);
            free(text);
            json_decref(root);
        } else {
            printf("\n%s, %u connections x %u in flight, %u runs of %u s\n\n",
                   what, b->o.conns, b->o.cmd == CMD_PUTS ? 1 : b->o.depth,
                   b->o.runs, b->o.seconds);
            printf("%-6s %12s %10s %10s %10s\n", "run", "rate/s", "errors",
                   "p50 ms", "p99 ms");
            for (unsigned r = 0; r < b->o.runs; r++) {
                printf("%-6u %12.0f %10llu %10.2f %10.2f\n", r + 1,
                       runs[r].rate, (unsigned long long)runs[r].errors,
                       runs[r].p50, runs[r].p99);
            }
            printf("%-6s %12.0f %10s %10.2f %10.2f\n", "median", m->rate, "",
                   m->p50, m->p99);
        }
    }
    return rc;
}

/* ---------------------------------------------------------------- push */

#define PUSH_SERVICE "grpc-push-bench"
#define PUSH_BASE_PORT 20000

static void on_push(struct lc_nclient *c, const char *json, size_t len,
                    void *data)
{
    struct slot *s = data;
    struct bench *b = s->b;
    char needle[32];
    (void)c;
    b->pushes++;
    if (b->change == 0 || s->last_change == b->change) {
        return;
    }
    snprintf(needle, sizeof needle, "\"port\":%u",
             PUSH_BASE_PORT + (unsigned)b->change);
    if (memmem(json, len, needle, strlen(needle)) == NULL) {
        return;
    }
    s->last_change = b->change;
    b->have++;
    /* Before the writer's ack arrives the latency counts from the send;
     * fixed up once the ack is in (rare: the push waits the merge delay). */
    b->from_ack[b->n_push++] = now_us();
}

static void on_subscribed(struct lc_nreq *r, int status, const char *type,
                          json_t *body)
{
    struct slot *s = r->data;
    (void)type;
    if (s->b->inflight > 0) {
        s->b->inflight--;
    }
    if (response_ok(status, body)) {
        s->subscribed = true;
        s->b->subscribed++;
    } else {
        note_error(s->b, "subscribe", response_error(status, body));
    }
}

static bool subscribe_pump(struct bench *b);

static bool all_subscribed(struct bench *b)
{
    return b->subscribed + b->errors >= b->o.conns;
}

static void on_change_ack(struct lc_nreq *r, int status, const char *type,
                          json_t *body)
{
    struct bench *b = r->data;
    (void)type;
    if (!response_ok(status, body)) {
        note_error(b, "change", response_error(status, body));
    }
    b->change_ack = now_us();
    b->change_done = true;
}

static void on_writer_ready(struct lc_nclient *c, int status, void *data)
{
    struct bench *b = data;
    if (status != 0 && b->writer == c) {
        b->writer = NULL;
    }
    b->change_done = true;
}

static void on_writer_closed(struct lc_nclient *c, void *data)
{
    struct bench *b = data;
    if (b->writer == c) {
        b->writer = NULL;
    }
}

static bool change_seen(struct bench *b)
{
    return b->change_done && b->have >= b->o.conns;
}

static bool writer_done(struct bench *b)
{
    return b->change_done;
}

static int bench_push(struct bench *b)
{
    struct lc_nclient_cbs wcbs = {.data = b,
                                  .ready = on_writer_ready,
                                  .closed = on_writer_closed};
    size_t first_of_change = 0;
    uint64_t missed = 0;
    uint64_t *lat;
    size_t n_lat = 0;
    int rc = 0;

    b->from_ack = calloc((size_t)b->o.conns * b->o.changes, sizeof *b->from_ack);
    lat = calloc((size_t)b->o.conns * b->o.changes, sizeof *lat);
    if (b->from_ack == NULL || lat == NULL) {
        free(lat);
        return 1;
    }
    for (int tries = 0; tries < 5 && b->writer == NULL; tries++) {
        b->change_done = false;
        if (tries > 0) {
            run_for(b, 200); /* the node may still be starting */
        }
        if (lc_nclient_new(&b->loop, b->grpc_host, b->grpc_port, &wcbs,
                           &b->writer) != 0) {
            b->writer = NULL;
            break;
        }
        run_until(b, writer_done, 10000);
    }
    if (b->writer == NULL) {
        fprintf(stderr, "locusctl: the writer cannot connect\n");
        free(lat);
        return 1;
    }
    fprintf(stderr, "connecting %u subscriber connections...\n", b->o.conns);
    if (connect_all(b) != 0) {
        free(lat);
        return 1;
    }
    fprintf(stderr, "subscribing them to %s...\n", PUSH_SERVICE);
    b->sub_service = PUSH_SERVICE;
    b->setup_next = 0;
    b->inflight = 0;
    if (!run_until(b, subscribe_pump, 120000) || b->errors > 0) {
        fprintf(stderr, "locusctl: subscriptions failed: %s\n",
                b->first_error);
        free(lat);
        return 1;
    }
    run_for(b, 1000); /* the subscriptions' first pushes */

    fprintf(stderr, "%u changes...\n", b->o.changes);
    for (unsigned k = 1; k <= b->o.changes; k++) {
        json_t *body = instance_request(PUSH_SERVICE, "registerInstance",
                                        "127.0.0.1", PUSH_BASE_PORT + (int)k,
                                        true);
        b->change = k;
        b->have = 0;
        b->change_done = false;
        first_of_change = b->n_push;
        b->wreq.data = b;
        b->change_sent = now_us();
        if (body == NULL ||
            lc_nclient_request(b->writer, &b->wreq, "InstanceRequest", body,
                               REQ_TIMEOUT_MS, on_change_ack) != 0) {
            json_decref(body);
            rc = 1;
            break;
        }
        json_decref(body);
        if (!run_until(b, change_seen, 5000)) {
            missed += b->o.conns - b->have;
            fprintf(stderr, "change %u: %u of %u subscribers got it in 5 s\n",
                    k, b->have, b->o.conns);
            run_until(b, writer_done, 10000);
        }
        for (size_t j = first_of_change; j < b->n_push; j++) {
            uint64_t t = b->from_ack[j];
            lat[n_lat++] = t > b->change_ack ? t - b->change_ack : 0;
        }
        if (k % (b->o.changes / 5 > 0 ? b->o.changes / 5 : 1) == 0) {
            fprintf(stderr, "  %u/%u changes, %zu deliveries\n", k,
                    b->o.changes, n_lat);
        }
        run_for(b, 100);
    }
    lc_bench_sort(lat, n_lat);
    {
        double p50 = lc_bench_percentile(lat, n_lat, 50) / 1000.0;
        double p90 = lc_bench_percentile(lat, n_lat, 90) / 1000.0;
        double p99 = lc_bench_percentile(lat, n_lat, 99) / 1000.0;
        double mx = n_lat ? lat[n_lat - 1] / 1000.0 : 0;
        if (b->o.json) {
            json_t *root = json_pack(
                "{s:i, s:i, s:I, s:I, s:{s:f, s:f, s:f, s:f}}", "subscribers",
                b->o.conns, "changes", b->o.changes, "deliveries",
                (json_int_t)n_lat, "missed", (json_int_t)missed, "fromAckMs",
                "p50", p50, "p90", p90, "p99", p99, "max", mx);
            char *text = json_dumps(root, JSON_INDENT(2));
            printf("%s\n", text);
            free(text);
            json_decref(root);
        } else {
            printf("\n%u gRPC subscribers, %u changes: %zu deliveries, %llu "
                   "missed\n\n",
                   b->o.conns, b->o.changes, n_lat,
                   (unsigned long long)missed);
            printf("%-34s %8s %8s %8s %8s\n", "latency (ms)", "p50", "p90",
                   "p99", "max");
            printf("%-34s %8.1f %8.1f %8.1f %8.1f\n",
                   "write acknowledged -> new list", p50, p90, p99, mx);
        }
    }
    free(lat);
    return rc != 0 || missed > 0 ? 1 : 0;
}

/* ---------------------------------------------------------- idle, storm */

static void send_subscribe(struct slot *s);

static void on_idle_registered(struct lc_nreq *r, int status, const char *type,
                               json_t *body)
{
    struct slot *s = r->data;
    (void)type;
    if (s->b->inflight > 0) {
        s->b->inflight--;
    }
    if (response_ok(status, body)) {
        if (!s->registered) {
            s->registered = true;
            s->b->registered++;
        }
        if (s->resubscribe && s->c != NULL) {
            s->resubscribe = false;
            send_subscribe(s);
        }
    } else if (!s->b->reconnect) {
        note_error(s->b, "register", response_error(status, body));
    }
}

static void idle_service(const struct bench *b, unsigned i, char *out,
                         size_t size)
{
    snprintf(out, size, "grpc-idle-%u", i % b->o.services);
}

/* Register slot @s's instance (and subscribe it, when @subscribe). */
static void idle_redo(struct slot *s, bool subscribe)
{
    char service[64], ip[32];
    json_t *body;
    idle_service(s->b, s->i, service, sizeof service);
    instance_ip(s->i, ip, sizeof ip);
    body = instance_request(service, "registerInstance", ip,
                            1 + (int)(s->i % 60000), true);
    s->req[0].data = s;
    if (body == NULL ||
        lc_nclient_request(s->c, &s->req[0], "InstanceRequest", body,
                           REQ_TIMEOUT_MS, on_idle_registered) != 0) {
        note_error(s->b, "register", "cannot send");
    }
    json_decref(body);
    /* The subscription follows the registration's answer
     * (on_idle_registered), as the Java client's redo task does: instances
     * first, then subscriptions, each call waiting for its answer. */
    s->resubscribe = subscribe;
}

static bool all_registered(struct bench *b)
{
    return b->registered + b->errors >= b->o.conns;
}

static bool all_redone(struct bench *b)
{
    /* storm: every slot ready again is redone from the ready callback */
    for (unsigned i = 0; i < b->o.conns; i++) {
        struct slot *s = &b->slots[i];
        if (s->ready && !s->redoing) {
            s->redoing = true;
            idle_redo(s, true);
        }
    }
    return b->registered >= b->o.conns && b->subscribed >= b->o.conns;
}

static void send_subscribe(struct slot *s)
{
    char service[64];
    json_t *body;
    if (s->b->sub_service != NULL) {
        snprintf(service, sizeof service, "%s", s->b->sub_service);
    } else {
        idle_service(s->b, s->i, service, sizeof service);
    }
    body = subscribe_request(service, true);
    s->req[1].data = s;
    s->req[1].lazy = true;
    if (body == NULL ||
        lc_nclient_request(s->c, &s->req[1], "SubscribeServiceRequest", body,
                           REQ_TIMEOUT_MS, on_subscribed) != 0) {
        note_error(s->b, "subscribe", "cannot send");
    }
    json_decref(body);
}

/* Setup requests go SETUP_WINDOW at a time, as a fleet of clients starting
 * over some seconds would send them, not all in one instant. */
static bool register_pump(struct bench *b)
{
    while (b->setup_next < b->o.conns && b->inflight < SETUP_WINDOW) {
        b->inflight++;
        idle_redo(&b->slots[b->setup_next++], false);
    }
    return all_registered(b);
}

static bool subscribe_pump(struct bench *b)
{
    while (b->setup_next < b->o.conns && b->inflight < SETUP_WINDOW) {
        b->inflight++;
        send_subscribe(&b->slots[b->setup_next++]);
    }
    return all_subscribed(b);
}

static int setup_idle(struct bench *b)
{
    uint64_t start;
    fprintf(stderr, "connecting %u connections...\n", b->o.conns);
    if (connect_all(b) != 0) {
        return -1;
    }
    fprintf(stderr, "registering one instance per connection...\n");
    start = lc_mono_ms();
    b->setup_next = 0;
    b->inflight = 0;
    if (!run_until(b, register_pump, 120000) || b->errors > 0) {
        fprintf(stderr, "locusctl: registrations failed: %s\n",
                b->first_error);
        return -1;
    }
    fprintf(stderr, "  %u registered in %.1f s\n", b->registered,
            (lc_mono_ms() - start) / 1000.0);
    fprintf(stderr, "subscribing each connection to its service...\n");
    start = lc_mono_ms();
    b->setup_next = 0;
    b->inflight = 0;
    if (!run_until(b, subscribe_pump, 120000) || b->errors > 0) {
        fprintf(stderr, "locusctl: subscriptions failed: %s\n",
                b->first_error);
        return -1;
    }
    fprintf(stderr, "  %u subscribed in %.1f s\n", b->subscribed,
            (lc_mono_ms() - start) / 1000.0);
    return 0;
}

static int bench_idle(struct bench *b, struct lc_cluster *cluster)
{
    pid_t pid = cluster != NULL ? cluster->nodes[0].pid : 0;
    long before = pid ? lc_bench_status_kb(pid, "VmRSS") : -1;
    long busy, after, hwm;
    if (setup_idle(b) != 0) {
        return 1;
    }
    busy = pid ? lc_bench_status_kb(pid, "VmRSS") : -1;
    /* Idle: what stays once the setup's buffers are freed and returned
     * (locusd trims its heap every 10 s). */
    fprintf(stderr, "idle for 12 s...\n");
    run_for(b, 12000);
    after = pid ? lc_bench_status_kb(pid, "VmRSS") : -1;
    hwm = pid ? lc_bench_status_kb(pid, "VmHWM") : -1;
    if (b->o.json) {
        json_t *root = json_pack("{s:i, s:I, s:I, s:I, s:I, s:I}",
                                 "connections", b->o.conns, "rssBeforeKb",
                                 (json_int_t)before, "rssAfterSetupKb",
                                 (json_int_t)busy, "rssAfterKb",
                                 (json_int_t)after, "hwmKb", (json_int_t)hwm,
                                 "pushesReceived", (json_int_t)b->pushes);
        char *text = json_dumps(root, JSON_INDENT(2));
        printf("%s\n", text);
        free(text);
        json_decref(root);
    } else {
        printf("\n%u idle connections, each with one instance and one "
               "subscription\n\n",
               b->o.conns);
        printf("%-28s %10s\n", "locusd", "MB");
        printf("%-28s %10.1f\n", "RSS before", before / 1024.0);
        printf("%-28s %10.1f\n", "RSS right after the setup", busy / 1024.0);
        printf("%-28s %10.1f\n", "RSS idle (12 s later)", after / 1024.0);
        printf("%-28s %10.1f\n", "peak RSS (VmHWM)", hwm / 1024.0);
    }
    return pid ? 0 : 1;
}

static int bench_storm(struct bench *b, struct lc_cluster *cluster)
{
    uint64_t t_kill, t_started, t_ready, t_done, t_registered;
    bool done;
    if (cluster == NULL) {
        fprintf(stderr, "locusctl: storm restarts its own node: no --server\n");
        return 2;
    }
    if (setup_idle(b) != 0) {
        return 1;
    }
    b->reconnect = true;
    fprintf(stderr, "restarting locusd under %u connections...\n",
            b->o.conns);
    t_kill = lc_mono_ms();
    lc_cluster_signal(cluster, 0, SIGTERM);
    t_started = lc_mono_ms();
    if (lc_cluster_start_node(cluster, 0) != 0) {
        return 1;
    }
    /* The clients reconnect while the node starts; readiness is polled
     * over HTTP on the side. */
    t_ready = t_registered = 0;
    done = false;
    while (!done && lc_mono_ms() - t_started < 60000) {
        uv_timer_start(&b->tick, on_tick, 20, 0);
        uv_run(&b->loop, UV_RUN_DEFAULT);
        done = all_redone(b);
        if (t_ready == 0 && b->ready > 0) {
            t_ready = lc_mono_ms();
        }
        if (t_registered == 0 && b->registered >= b->o.conns) {
            t_registered = lc_mono_ms();
        }
    }
    t_done = lc_mono_ms();
    if (t_registered == 0) {
        t_registered = t_done;
    }
    if (b->o.json) {
        json_t *root = json_pack(
            "{s:i, s:b, s:I, s:I, s:I, s:I, s:I, s:I}", "connections",
            b->o.conns, "allRedone", done, "reregistered",
            (json_int_t)b->registered, "resubscribed",
            (json_int_t)b->subscribed, "stopMs",
            (json_int_t)(t_started - t_kill), "registeredFromStartMs",
            (json_int_t)(t_registered - t_started), "redoneFromStartMs",
            (json_int_t)(t_done - t_started), "firstReadyFromStartMs",
            (json_int_t)(t_ready ? t_ready - t_started : 0));
        char *text = json_dumps(root, JSON_INDENT(2));
        printf("%s\n", text);
        free(text);
        json_decref(root);
    } else {
        printf("\nreconnect storm: %u connections, %u re-registered and "
               "re-subscribed%s\n\n",
               b->o.conns, b->registered, done ? "" : " (NOT ALL)");
        printf("%-44s %10s\n", "phase", "ms");
        printf("%-44s %10llu\n", "SIGTERM until the old process exited",
               (unsigned long long)(t_started - t_kill));
        printf("%-44s %10llu\n", "new process started -> first reconnection",
               (unsigned long long)(t_ready ? t_ready - t_started : 0));
        printf("%-44s %10llu\n", "new process started -> all re-registered",
               (unsigned long long)(t_registered - t_started));
        printf("%-44s %10llu\n", "new process started -> all re-subscribed",
               (unsigned long long)(t_done - t_started));
    }
    return done ? 0 : 1;
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
    "  --server H:P     a running node's HTTP port (gRPC = +1000)\n"
    "  --etcd H:P       puts: etcd's client port instead of locus\n"
    "  --port P         HTTP port of the node it starts (18848)\n"
    "  --dir D          its directory (data/bench-grpc)\n"
    "  --locusd PATH    the locusd binary (build/locusd)\n"
    "  --set K=V        a property for the node it starts\n"
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
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "locusctl: %s needs a value\n%s", a, usage);
            return 2;
        }
        i++;
        if (strcmp(a, "--conns") == 0 || strcmp(a, "--subscribers") == 0) {
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
        } else if (strcmp(a, "--port") == 0) {
            o->port = atoi(v);
        } else if (strcmp(a, "--dir") == 0) {
            o->dir = v;
        } else if (strcmp(a, "--locusd") == 0) {
            o->locusd = v;
        } else if (strcmp(a, "--server") == 0) {
            if (!parse_hp(v, o->host, sizeof o->host, &o->server_port)) {
                return 2;
            }
        } else if (strcmp(a, "--etcd") == 0) {
            if (!parse_hp(v, o->etcd_host, sizeof o->etcd_host,
                          &o->etcd_port)) {
                return 2;
            }
        } else if (strcmp(a, "--set") == 0) {
            size_t l = strlen(o->extra);
            snprintf(o->extra + l, sizeof o->extra - l, "%s\n", v);
        } else {
            fprintf(stderr, "locusctl: unknown option %s\n%s", a, usage);
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

/* Room for @n sockets: raise the soft open-files limit to the hard one. */
static void raise_nofile(unsigned n)
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
    raise_nofile(o.conns + 1);
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
    b = calloc(1, sizeof *b);
    if (b == NULL) {
        rc = 1;
        goto out;
    }
    b->o = o;
    snprintf(b->grpc_host, sizeof b->grpc_host, "%s", o.host);
    b->grpc_port = o.server_port + 1000;
    b->slots = calloc(o.conns, sizeof *b->slots);
    uv_loop_init(&b->loop);
    uv_timer_init(&b->loop, &b->tick);
    for (unsigned i = 0; b->slots != NULL && i < o.conns; i++) {
        b->slots[i].b = b;
        b->slots[i].i = i;
        uv_timer_init(&b->loop, &b->slots[i].retry);
        b->slots[i].retry.data = &b->slots[i];
        b->slots[i].retry_init = true;
    }
    if (b->slots == NULL) {
        rc = 1;
    } else if (o.cmd == CMD_REGISTER || o.cmd == CMD_PUTS) {
        rc = bench_rate(b);
    } else if (o.cmd == CMD_PUSH) {
        rc = bench_push(b);
    } else if (o.cmd == CMD_IDLE) {
        rc = bench_idle(b, own ? &cluster : NULL);
    } else {
        rc = bench_storm(b, own ? &cluster : NULL);
    }
    if (b->slots != NULL) {
        close_all(b);
        for (unsigned i = 0; i < o.conns; i++) {
            uv_close((uv_handle_t *)&b->slots[i].retry, NULL);
        }
    }
    uv_close((uv_handle_t *)&b->tick, NULL);
    uv_run(&b->loop, UV_RUN_DEFAULT);
    uv_loop_close(&b->loop);
    free(b->slots);
    free(b->lat_us);
    free(b->from_ack);
    free(b);
out:
    if (own) {
        lc_cluster_stop(&cluster);
    }
    return rc;
}
