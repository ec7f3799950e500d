/* locusctl bench grpc register and puts: a rate over timed runs (see
 * bench/grpc.c for what each measures). */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bench/bench.h"
#include "bench/grpc_internal.h"
#include "common/err.h"
#include "common/util.h"
#include "rpc/grpc/rpc.h"

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
    if (lc_nclient_ok(status, body)) {
        b->ok++;
        gbench_lat_add(b, gbench_now_us() - sent);
    } else {
        gbench_note_error(b, "register", gbench_response_error(status, body));
    }
    s->busy &= (uint16_t)~(1u << k);
    if (b->running && s->c != NULL && b->pace == 0) {
        send_register(s, k);
    }
}

static void send_register(struct slot *s, unsigned k)
{
    struct bench *b = s->b;
    uint64_t seq = b->seq++;
    char ip[32], text[512];
    int n;
    gbench_instance_ip(seq / b->o.services, ip, sizeof ip);
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
    s->req[k].priv[9] = (void *)(uintptr_t)gbench_now_us();
    if (lc_nclient_request_text(s->c, &s->req[k], "InstanceRequest", text,
                                (size_t)n, REQ_TIMEOUT_MS,
                                on_registered) != 0) {
        gbench_note_error(b, "register", "cannot send");
        return;
    }
    s->busy |= (uint16_t)(1u << k);
}

/* Paced: every 5 ms, what is due since gbench_pace_start goes out on
 * slots with a free request; a load that falls behind (every request in
 * flight) is not made up for in a burst later. */
static void on_pace(uv_timer_t *t)
{
    struct bench *b = t->data;
    uint64_t due = (gbench_now_us() - b->pace_start) * b->pace / 1000000;
    unsigned total = b->o.conns * b->o.depth;
    for (unsigned tries = 0; b->pace_sent < due && tries < total; tries++) {
        struct slot *s = &b->slots[b->pace_next % b->o.conns];
        unsigned k = (b->pace_next / b->o.conns) % b->o.depth;
        b->pace_next++;
        if (s->c == NULL || !s->ready || (s->busy & (1u << k)) != 0) {
            continue;
        }
        send_register(s, k);
        b->pace_sent++;
    }
    if (b->pace_sent < due) {
        b->pace_sent = due;
    }
}

void gbench_pace_start(struct bench *b, unsigned per_sec)
{
    b->ok = b->errors = 0;
    b->n_lat = 0;
    b->pace = per_sec;
    b->pace_start = gbench_now_us();
    b->pace_sent = 0;
    b->running = per_sec > 0;
    if (per_sec > 0) {
        uv_timer_start(&b->pace_timer, on_pace, 5, 5);
    }
}

static bool pace_drained(struct bench *b)
{
    for (unsigned i = 0; i < b->o.conns; i++) {
        if (b->slots[i].busy != 0) {
            return false;
        }
    }
    return true;
}

void gbench_pace_stop(struct bench *b)
{
    uv_timer_stop(&b->pace_timer);
    b->running = false;
    b->pace = 0;
    /* The requests still in flight are answered (or time out) before
     * their slots are used again. */
    gbench_run_until(b, pace_drained, REQ_TIMEOUT_MS + 1000);
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
        gbench_lat_add(b, gbench_now_us() - sent);
    } else {
        gbench_note_error(b, "etcd put",
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
    s->req[0].priv[9] = (void *)(uintptr_t)gbench_now_us();
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
            gbench_note_error(b, "etcd put", "cannot send");
        }
        return;
    }
    {
        char service[64], ip[32];
        json_t *body;
        snprintf(service, sizeof service, "grpc-puts-%u",
                 (unsigned)(seq % 100));
        gbench_instance_ip(seq / 100, ip, sizeof ip);
        body = gbench_instance_request(service, "registerInstance", ip,
                                1 + (int)(seq % 60000), false);
        if (body == NULL ||
            lc_nclient_request(s->c, &s->req[0], "PersistentInstanceRequest",
                               body, REQ_TIMEOUT_MS, on_put_reply) != 0) {
            gbench_note_error(b, "put", "cannot send");
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
    gbench_run_until(b, gbench_all_settled, 10000);
    return b->ready == b->o.conns ? 0 : -1;
}

static int cmp_run(const void *a, const void *b)
{
    double x = ((const struct gbench_run *)a)->rate;
    double y = ((const struct gbench_run *)b)->rate;
    return (x > y) - (x < y);
}

static bool load_drained(struct bench *b)
{
    (void)b;
    return false;
}

static void timed_run(struct bench *b, unsigned r, struct gbench_run *out)
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
        gbench_run_until(b, load_drained, 1000);
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
    gbench_run_for(b, 300);
    lc_bench_sort(b->lat_us, b->n_lat);
    out->p50 = lc_bench_percentile(b->lat_us, b->n_lat, 50) / 1000.0;
    out->p99 = lc_bench_percentile(b->lat_us, b->n_lat, 99) / 1000.0;
}

unsigned gbench_rate_runs(struct bench *b, struct gbench_run *runs)
{
    struct gbench_run sorted[MAX_RUNS];
    for (unsigned r = 0; r < b->o.runs; r++) {
        timed_run(b, r, &runs[r]);
        if (runs[r].errors > 0) {
            fprintf(stderr, "  run %u: %llu errors, the first: %s\n", r + 1,
                    (unsigned long long)runs[r].errors, b->first_error);
        }
    }
    memcpy(sorted, runs, sizeof runs[0] * b->o.runs);
    qsort(sorted, b->o.runs, sizeof sorted[0], cmp_run);
    for (unsigned r = 0; r < b->o.runs; r++) {
        if (runs[r].rate == sorted[b->o.runs / 2].rate) {
            return r;
        }
    }
    return 0;
}

int gbench_bench_rate(struct bench *b)
{
    struct gbench_run runs[MAX_RUNS];
    const char *what = b->o.cmd == CMD_PUTS
                           ? (b->o.etcd_port ? "etcd KV.Put/s"
                                             : "persistent registrations/s")
                           : "ephemeral registrations/s";
    int rc = 0;
    b->seq = b->o.first_seq;
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
        if (gbench_connect_all(b) != 0) {
            return 1;
        }
    }
    {
        const struct gbench_run *m = &runs[gbench_rate_runs(b, runs)];
        for (unsigned r = 0; r < b->o.runs; r++) {
            if (runs[r].errors > 0) {
                rc = 1;
            }
        }
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

