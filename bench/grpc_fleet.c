/* locusctl bench grpc push, idle and storm: fleets of subscribed
 * connections (see bench/grpc.c for what each measures). */
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

/* ---------------------------------------------------------------- push */

#define PUSH_SERVICE "grpc-push-bench"
#define PUSH_BASE_PORT 20000

void gbench_on_push(struct lc_nclient *c, const char *json, size_t len,
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
    b->from_ack[b->n_push++] = gbench_now_us();
}

static void on_subscribed(struct lc_nreq *r, int status, const char *type,
                          json_t *body)
{
    struct slot *s = r->data;
    (void)type;
    if (s->b->inflight > 0) {
        s->b->inflight--;
    }
    if (lc_nclient_ok(status, body)) {
        s->subscribed = true;
        s->b->subscribed++;
    } else {
        gbench_note_error(s->b, "subscribe", gbench_response_error(status, body));
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
    if (!lc_nclient_ok(status, body)) {
        gbench_note_error(b, "change", gbench_response_error(status, body));
    }
    b->change_ack = gbench_now_us();
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

int gbench_bench_push(struct bench *b)
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
            gbench_run_for(b, 200); /* the node may still be starting */
        }
        if (lc_nclient_new(&b->loop, b->grpc_host, b->grpc_port, &wcbs,
                           &b->writer) != 0) {
            b->writer = NULL;
            break;
        }
        gbench_run_until(b, writer_done, 10000);
    }
    if (b->writer == NULL) {
        fprintf(stderr, "locusctl: the writer cannot connect\n");
        free(lat);
        return 1;
    }
    fprintf(stderr, "connecting %u subscriber connections...\n", b->o.conns);
    if (gbench_connect_all(b) != 0) {
        free(lat);
        return 1;
    }
    fprintf(stderr, "subscribing them to %s...\n", PUSH_SERVICE);
    b->sub_service = PUSH_SERVICE;
    b->setup_next = 0;
    b->inflight = 0;
    if (!gbench_run_until(b, subscribe_pump, 120000) || b->errors > 0) {
        fprintf(stderr, "locusctl: subscriptions failed: %s\n",
                b->first_error);
        free(lat);
        return 1;
    }
    gbench_run_for(b, 1000); /* the subscriptions' first pushes */

    fprintf(stderr, "%u changes...\n", b->o.changes);
    for (unsigned k = 1; k <= b->o.changes; k++) {
        json_t *body = gbench_instance_request(PUSH_SERVICE, "registerInstance",
                                        "127.0.0.1", PUSH_BASE_PORT + (int)k,
                                        true);
        b->change = k;
        b->have = 0;
        b->change_done = false;
        first_of_change = b->n_push;
        b->wreq.data = b;
        b->change_sent = gbench_now_us();
        if (body == NULL ||
            lc_nclient_request(b->writer, &b->wreq, "InstanceRequest", body,
                               REQ_TIMEOUT_MS, on_change_ack) != 0) {
            json_decref(body);
            rc = 1;
            break;
        }
        json_decref(body);
        if (!gbench_run_until(b, change_seen, 5000)) {
            missed += b->o.conns - b->have;
            fprintf(stderr, "change %u: %u of %u subscribers got it in 5 s\n",
                    k, b->have, b->o.conns);
            gbench_run_until(b, writer_done, 10000);
        }
        for (size_t j = first_of_change; j < b->n_push; j++) {
            uint64_t t = b->from_ack[j];
            lat[n_lat++] = t > b->change_ack ? t - b->change_ack : 0;
        }
        if (k % (b->o.changes / 5 > 0 ? b->o.changes / 5 : 1) == 0) {
            fprintf(stderr, "  %u/%u changes, %zu deliveries\n", k,
                    b->o.changes, n_lat);
        }
        gbench_run_for(b, 100);
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
    if (lc_nclient_ok(status, body)) {
        if (!s->registered) {
            s->registered = true;
            s->b->registered++;
        }
        if (s->resubscribe && s->c != NULL) {
            s->resubscribe = false;
            send_subscribe(s);
        }
    } else if (!s->b->reconnect) {
        gbench_note_error(s->b, "register", gbench_response_error(status, body));
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
    gbench_instance_ip(s->i, ip, sizeof ip);
    body = gbench_instance_request(service, "registerInstance", ip,
                            1 + (int)(s->i % 60000), true);
    s->req[0].data = s;
    if (body == NULL ||
        lc_nclient_request(s->c, &s->req[0], "InstanceRequest", body,
                           REQ_TIMEOUT_MS, on_idle_registered) != 0) {
        gbench_note_error(s->b, "register", "cannot send");
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
    body = gbench_subscribe_request(service, true);
    s->req[1].data = s;
    s->req[1].lazy = true;
    if (body == NULL ||
        lc_nclient_request(s->c, &s->req[1], "SubscribeServiceRequest", body,
                           REQ_TIMEOUT_MS, on_subscribed) != 0) {
        gbench_note_error(s->b, "subscribe", "cannot send");
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

/* One setup phase: @pump sends SETUP_WINDOW requests at a time until
 * every connection's is answered; *@done counts them. */
static int setup_phase(struct bench *b, bool (*pump)(struct bench *),
                       const char *what, const char *past,
                       const unsigned *done)
{
    uint64_t start = lc_mono_ms();
    fprintf(stderr, "%s...\n", what);
    b->setup_next = 0;
    b->inflight = 0;
    if (!gbench_run_until(b, pump, 120000) || b->errors > 0) {
        fprintf(stderr, "locusctl: %s failed: %s\n", what, b->first_error);
        return -1;
    }
    fprintf(stderr, "  %u %s in %.1f s\n", *done, past,
            (lc_mono_ms() - start) / 1000.0);
    return 0;
}

static int setup_idle(struct bench *b)
{
    fprintf(stderr, "connecting %u connections...\n", b->o.conns);
    if (gbench_connect_all(b) != 0) {
        return -1;
    }
    if (setup_phase(b, register_pump, "registering one instance per "
                                      "connection", "registered",
                    &b->registered) != 0 ||
        setup_phase(b, subscribe_pump, "subscribing each connection to its "
                                       "service", "subscribed",
                    &b->subscribed) != 0) {
        return -1;
    }
    return 0;
}

int gbench_bench_idle(struct bench *b, struct lc_cluster *cluster)
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
    gbench_run_for(b, 12000);
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

int gbench_bench_storm(struct bench *b, struct lc_cluster *cluster)
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
        uv_timer_start(&b->tick, gbench_on_tick, 20, 0);
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

