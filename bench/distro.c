/* locusctl bench distro: ephemeral instances on an AP cluster (issue 10).
 *
 *   convergence  under a steady, paced registration load over gRPC (--load
 *                per second, --conns connections spread over the members),
 *                one writer connection per member re-registers its instance
 *                of one service with a new port, --changes times, the
 *                writer's member turning round; per change, from the
 *                writer's acknowledgement, the time until (a) the
 *                --subscribers subscribed connections on each other member
 *                are pushed the new port, (b) a ServiceQueryRequest on each
 *                other member (polled every 2 ms) answers it. The same on
 *                the writer's own member is reported apart, as the baseline.
 *                A change not seen within --timeout counts as a timeout; the
 *                phase stops when 5 changes in a row reach no other member.
 *   rate         ephemeral registrations/s in aggregate: the register load
 *                of `bench grpc register` (grpc_rate.c), its connections
 *                spread over every member; the median of --runs.
 *   restart      for each --sizes N: N instances registered in batches
 *                (BatchInstanceRequest of --batch instances, one connection
 *                per batch, on the members but the last), then the last
 *                member is restarted (SIGTERM, start) and the time from its
 *                start to status UP is taken, with the instances it holds
 *                then.
 *
 * It starts its own cluster of --members nodes (bench/cluster.h, fresh data
 * directories) unless --server lists running members' HTTP ports (gRPC is
 * +1000; restart needs its own cluster). Progress on stderr; a table on
 * stdout (JSON with --json). The exit status is 1 when something did not
 * work (a request failed, a change timed out, a restarted member came up
 * without its peers' instances), not when a target is missed: the targets
 * are printed beside the figures.
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bench/bench.h"
#include "bench/cluster.h"
#include "bench/grpc_internal.h"
#include "common/err.h"
#include "common/util.h"
#include "rpc/grpc/nclient.h"

#define CONV_SERVICE "distro-conv"
#define CONV_BASE_PORT 20000 /* + change: five digits, never a prefix */
#define MAX_CHANGES 9999
#define MAX_SIZES 8
#define POLL_MS 2
#define BLIND_LIMIT 5 /* changes in a row seen on no other member */
#define BATCH_WINDOW 16

struct dopts {
    struct opts g; /* conns, depth, services, seconds, runs, changes, dir,
                      locusd, extra, json, port (base) */
    unsigned members;
    char host[256];
    int ports[LC_CLUSTER_MAX]; /* --server: HTTP ports */
    unsigned n_ports;
    unsigned load;        /* convergence: registrations/s */
    unsigned subscribers; /* convergence: per member */
    unsigned timeout_ms, interval_ms;
    unsigned sizes[MAX_SIZES];
    unsigned n_sizes;
    unsigned batch;
    bool conv, rate, restart;
};

/* ---------------------------------------------------------- convergence */

enum role { WRITER, SUBSCRIBER, QUERIER };

struct conv;

struct probe {
    struct conv *v;
    enum role role;
    unsigned member;
    struct lc_nclient *c;
    struct lc_nreq req;
    bool ready, failed, subscribed;
    bool busy;        /* a query or a change in flight */
    bool again;       /* querier: one more query wanted */
    uint64_t seen_us; /* the current change seen (0: not yet) */
    uv_timer_t poll;  /* querier: next query */
};

struct samples {
    uint64_t *v;
    size_t n;
    uint64_t timeouts;
};

struct conv {
    struct bench *b;
    struct probe *p;
    unsigned n_probes, n_members, settled;
    unsigned n_subs, subscribed; /* subscriber probes; answered */
    unsigned change; /* current change (port CONV_BASE_PORT + change) */
    unsigned writer; /* its member */
    struct probe *writer_probe;
    bool active; /* the current change is being watched */
    bool acked;
    uint64_t ack_us;
    unsigned pending; /* probes yet to see the change */
    char first_error[200];
    uint64_t errors;
    /* remote (other members) and local (the writer's), push and query */
    struct samples push_remote, query_remote, push_local, query_local;
    unsigned done, blind;
    bool stopped_blind;
    double load_rate;
};

/* Does the JSON text carry "port":@port? Five-digit ports only. */
static bool has_port(const char *json, size_t len, unsigned port)
{
    char needle[32];
    int n = snprintf(needle, sizeof needle, "\"port\":%u", port);
    return memmem(json, len, needle, (size_t)n) != NULL;
}

static void conv_error(struct conv *v, const char *what)
{
    v->errors++;
    if (v->first_error[0] == '\0') {
        snprintf(v->first_error, sizeof v->first_error, "%s", what);
    }
}

static void probe_seen(struct probe *p)
{
    struct conv *v = p->v;
    if (!v->active || p->seen_us != 0 || p->role == WRITER) {
        return;
    }
    p->seen_us = gbench_now_us();
    v->pending--;
}

static void on_probe_push(struct lc_nclient *c, const char *json, size_t len,
                          void *data)
{
    struct probe *p = data;
    (void)c;
    if (p->v->active && has_port(json, len, CONV_BASE_PORT + p->v->change)) {
        probe_seen(p);
    }
}

static void on_probe_ready(struct lc_nclient *c, int status, void *data)
{
    struct probe *p = data;
    (void)c;
    p->v->settled++;
    if (status == 0) {
        p->ready = true;
    } else {
        p->failed = true;
        conv_error(p->v, lc_strerror(status));
    }
}

static void on_probe_closed(struct lc_nclient *c, void *data)
{
    struct probe *p = data;
    (void)c;
    if (!p->ready && !p->failed) {
        p->failed = true;
        p->v->settled++;
    }
    p->ready = false;
    p->c = NULL;
}

static void on_probe_subscribed(struct lc_nreq *r, int status, const char *type,
                                json_t *body)
{
    struct probe *p = r->data;
    (void)type;
    if (lc_nclient_ok(status, body)) {
        p->subscribed = true;
    } else {
        conv_error(p->v, gbench_response_error(status, body));
    }
    p->v->subscribed++;
}

static void send_query(struct probe *p);

static bool hosts_have_port(json_t *body, unsigned port)
{
    json_t *hosts =
        json_object_get(json_object_get(body, "serviceInfo"), "hosts");
    size_t k;
    json_t *h;
    json_array_foreach(hosts, k, h)
    {
        if (json_integer_value(json_object_get(h, "port")) ==
            (json_int_t)port) {
            return true;
        }
    }
    return false;
}

static void on_poll(uv_timer_t *t)
{
    send_query(t->data);
}

static void on_query(struct lc_nreq *r, int status, const char *type,
                     json_t *body)
{
    struct probe *p = r->data;
    struct conv *v = p->v;
    unsigned asked = (unsigned)(uintptr_t)r->priv[9];
    (void)type;
    p->busy = false;
    if (!lc_nclient_ok(status, body)) {
        conv_error(v, gbench_response_error(status, body));
    } else if (v->active && asked == v->change &&
               hosts_have_port(body, CONV_BASE_PORT + v->change)) {
        probe_seen(p);
    }
    if (p->again || (v->active && p->seen_us == 0)) {
        p->again = false;
        uv_timer_start(&p->poll, on_poll, POLL_MS, 0);
    }
}

static void send_query(struct probe *p)
{
    struct conv *v = p->v;
    json_t *body;
    if (!v->active || p->seen_us != 0 || p->c == NULL) {
        return;
    }
    if (p->busy) {
        p->again = true;
        return;
    }
    body = json_pack("{s:s, s:s, s:s, s:s, s:b, s:i}", "namespace", "public",
                     "serviceName", CONV_SERVICE, "groupName", "DEFAULT_GROUP",
                     "cluster", "", "healthyOnly", 0, "udpPort", 0);
    p->req.data = p;
    p->req.priv[9] = (void *)(uintptr_t)v->change;
    if (body != NULL &&
        lc_nclient_request(p->c, &p->req, "ServiceQueryRequest", body,
                           REQ_TIMEOUT_MS, on_query) == 0) {
        p->busy = true;
    } else {
        conv_error(v, "query: cannot send");
    }
    json_decref(body);
}

static void on_change_acked(struct lc_nreq *r, int status, const char *type,
                            json_t *body)
{
    struct probe *w = r->data;
    struct conv *v = w->v;
    (void)type;
    w->busy = false;
    if (!v->active || (unsigned)(uintptr_t)r->priv[9] != v->change) {
        return; /* a change given up on */
    }
    if (!lc_nclient_ok(status, body)) {
        conv_error(v, gbench_response_error(status, body));
        v->active = false; /* counted as a failed change */
        return;
    }
    v->acked = true;
    v->ack_us = gbench_now_us();
    for (unsigned i = 0; i < v->n_probes; i++) {
        if (v->p[i].role == QUERIER) {
            send_query(&v->p[i]);
        }
    }
}

static bool probes_settled(struct bench *b)
{
    struct conv *v = b->ctx;
    return v->settled >= v->n_probes;
}

static bool probes_subscribed(struct bench *b)
{
    struct conv *v = b->ctx;
    return v->subscribed >= v->n_subs;
}

static bool probes_closed(struct bench *b)
{
    struct conv *v = b->ctx;
    for (unsigned i = 0; v->p != NULL && i < v->n_probes; i++) {
        if (v->p[i].c != NULL) {
            return false;
        }
    }
    return true;
}

static bool writer_idle(struct bench *b)
{
    struct conv *v = b->ctx;
    return !v->writer_probe->busy;
}

static bool change_settled(struct bench *b)
{
    struct conv *v = b->ctx;
    return !v->active || (v->acked && v->pending == 0);
}

static void sample_add(struct samples *s, uint64_t v)
{
    s->v[s->n++] = v;
}

/* One change by member @w's writer: watch it until every probe has it or
 * --timeout passes; keep the latencies. Return whether any other member saw
 * it (true when there is none). */
static bool one_change(struct conv *v, unsigned k, unsigned w,
                       unsigned timeout_ms)
{
    struct bench *b = v->b;
    struct probe *writer = NULL;
    bool remote_seen = false, remote_expected = false;
    char ip[32];
    json_t *body;
    v->change = k;
    v->writer = w;
    v->acked = false;
    v->pending = 0;
    for (unsigned i = 0; i < v->n_probes; i++) {
        struct probe *p = &v->p[i];
        p->seen_us = 0;
        if (p->role == WRITER && p->member == w) {
            writer = p;
        } else if (p->role != WRITER && p->ready &&
                   (p->role == QUERIER || p->subscribed)) {
            v->pending++;
        }
    }
    snprintf(ip, sizeof ip, "127.0.1.%u", w + 1);
    body = gbench_instance_request(CONV_SERVICE, "registerInstance", ip,
                                   CONV_BASE_PORT + (int)k, true);
    writer->req.data = writer;
    writer->req.priv[9] = (void *)(uintptr_t)k;
    v->active = true;
    if (body == NULL || writer->c == NULL ||
        lc_nclient_request(writer->c, &writer->req, "InstanceRequest", body,
                           REQ_TIMEOUT_MS, on_change_acked) != 0) {
        conv_error(v, "change: cannot send");
        v->active = false;
    } else {
        writer->busy = true;
    }
    json_decref(body);
    gbench_run_until(b, change_settled, timeout_ms);
    if (!v->acked) {
        conv_error(v, "change: not acknowledged in time");
        v->active = false;
        /* Its request must end before the writer sends again. */
        v->writer_probe = writer;
        gbench_run_until(b, writer_idle, REQ_TIMEOUT_MS + 1000);
        return true; /* not a replication failure */
    }
    v->active = false;
    for (unsigned i = 0; i < v->n_probes; i++) {
        struct probe *p = &v->p[i];
        bool local = p->member == w;
        struct samples *s;
        if (p->role == WRITER || !p->ready ||
            (p->role == SUBSCRIBER && !p->subscribed)) {
            continue;
        }
        s = p->role == SUBSCRIBER
                ? (local ? &v->push_local : &v->push_remote)
                : (local ? &v->query_local : &v->query_remote);
        if (!local) {
            remote_expected = true;
        }
        if (p->seen_us == 0) {
            s->timeouts++;
            continue;
        }
        if (!local) {
            remote_seen = true;
        }
        sample_add(s, p->seen_us > v->ack_us ? p->seen_us - v->ack_us : 0);
    }
    return remote_seen || !remote_expected;
}

static int conv_connect(struct conv *v, const struct dopts *o,
                        const int *grpc_ports)
{
    struct bench *b = v->b;
    unsigned per = 2 + o->subscribers;
    struct lc_nclient_cbs cbs = {.ready = on_probe_ready,
                                 .push = on_probe_push,
                                 .closed = on_probe_closed};
    v->n_probes = v->n_members * per;
    v->n_subs = v->n_members * o->subscribers;
    v->p = calloc(v->n_probes, sizeof *v->p);
    if (v->p == NULL) {
        return -1;
    }
    for (unsigned i = 0; i < v->n_probes; i++) {
        struct probe *p = &v->p[i];
        p->v = v;
        p->member = i / per;
        p->role = i % per == 0 ? WRITER : i % per == 1 ? QUERIER : SUBSCRIBER;
        uv_timer_init(&b->loop, &p->poll);
        p->poll.data = p;
        cbs.data = p;
        if (lc_nclient_new(&b->loop, b->grpc_host, grpc_ports[p->member], &cbs,
                           &p->c) != 0) {
            p->c = NULL;
            p->failed = true;
            v->settled++;
        }
    }
    if (!gbench_run_until(b, probes_settled, 30000) || v->errors > 0) {
        fprintf(stderr, "locusctl: probe connections failed: %s\n",
                v->first_error);
        return -1;
    }
    for (unsigned i = 0; i < v->n_probes; i++) {
        struct probe *p = &v->p[i];
        json_t *body;
        if (p->role != SUBSCRIBER) {
            continue;
        }
        body = gbench_subscribe_request(CONV_SERVICE, true);
        p->req.data = p;
        p->req.lazy = true;
        if (body == NULL ||
            lc_nclient_request(p->c, &p->req, "SubscribeServiceRequest", body,
                               REQ_TIMEOUT_MS, on_probe_subscribed) != 0) {
            conv_error(v, "subscribe: cannot send");
            v->subscribed++;
        }
        json_decref(body);
    }
    if (!gbench_run_until(b, probes_subscribed, 30000) || v->errors > 0) {
        fprintf(stderr, "locusctl: subscriptions failed: %s\n", v->first_error);
        return -1;
    }
    return 0;
}

static void conv_close(struct conv *v)
{
    v->active = false;
    for (unsigned i = 0; v->p != NULL && i < v->n_probes; i++) {
        uv_timer_stop(&v->p[i].poll);
        if (v->p[i].c != NULL) {
            lc_nclient_close(v->p[i].c);
        }
    }
    v->b->ctx = v;
    gbench_run_until(v->b, probes_closed, 10000);
}

/* Close the probes and free them (the samples stay). */
static void conv_free(struct conv *v)
{
    conv_close(v);
    for (unsigned i = 0; v->p != NULL && i < v->n_probes; i++) {
        uv_close((uv_handle_t *)&v->p[i].poll, NULL);
    }
    uv_run(&v->b->loop, UV_RUN_NOWAIT);
    free(v->p);
    v->p = NULL;
}

/* The samples, once reported. */
static void conv_free_samples(struct conv *v)
{
    free(v->push_remote.v);
    free(v->query_remote.v);
    free(v->push_local.v);
    free(v->query_local.v);
}

static int run_convergence(struct bench *b, struct conv *v,
                           const struct dopts *o, const int *grpc_ports)
{
    size_t cap = (size_t)o->g.changes * o->subscribers * v->n_members;
    uint64_t start, last;
    fprintf(stderr,
            "convergence: %u subscribers and a querier per member, "
            "a writer on each...\n",
            o->subscribers);
    v->push_remote.v = calloc(cap + 1, sizeof(uint64_t));
    v->push_local.v = calloc(cap + 1, sizeof(uint64_t));
    v->query_remote.v =
        calloc((size_t)o->g.changes * v->n_members + 1, sizeof(uint64_t));
    v->query_local.v = calloc((size_t)o->g.changes + 1, sizeof(uint64_t));
    if (v->push_remote.v == NULL || v->push_local.v == NULL ||
        v->query_remote.v == NULL || v->query_local.v == NULL ||
        conv_connect(v, o, grpc_ports) != 0) {
        return -1;
    }
    gbench_run_for(b, 500); /* the subscriptions' first pushes */
    fprintf(stderr, "  load: %u registrations/s over %u connections\n", o->load,
            o->g.conns);
    gbench_pace_start(b, o->load);
    gbench_run_for(b, 1000); /* the load settles */
    b->ok = 0;
    start = last = lc_mono_ms();
    for (unsigned k = 1; k <= o->g.changes; k++) {
        if (one_change(v, k, (k - 1) % v->n_members, o->timeout_ms)) {
            v->blind = 0;
        } else if (++v->blind >= BLIND_LIMIT) {
            fprintf(stderr,
                    "  change %u: %u changes in a row reached no other "
                    "member within %u ms: stopping (is Distro replication "
                    "running?)\n",
                    k, BLIND_LIMIT, o->timeout_ms);
            v->stopped_blind = true;
            v->done = k;
            break;
        }
        v->done = k;
        if (lc_mono_ms() - last >= 1000 || k == o->g.changes) {
            last = lc_mono_ms();
            fprintf(stderr,
                    "  %u/%u changes; other members: %zu pushes, %zu "
                    "queries seen, %llu timeouts\n",
                    k, o->g.changes, v->push_remote.n, v->query_remote.n,
                    (unsigned long long)(v->push_remote.timeouts +
                                         v->query_remote.timeouts));
        }
        gbench_run_for(b, o->interval_ms);
    }
    v->load_rate = b->ok * 1000.0 / (double)(lc_mono_ms() - start + 1);
    gbench_pace_stop(b);
    if (b->errors > 0) {
        fprintf(stderr, "  load: %llu errors, the first: %s\n",
                (unsigned long long)b->errors, b->first_error);
    }
    conv_close(v);
    return 0;
}

/* -------------------------------------------------------------- restart */

struct restart {
    unsigned size;
    unsigned registered; /* acknowledged instances */
    uint64_t register_ms;
    long peer_count; /* the least instanceCount of the peers before */
    bool up;
    uint64_t up_ms;  /* process start -> status UP */
    uint64_t sdk_ms; /* process start -> an SDK connection set up */
    long loaded;     /* instanceCount of the restarted member at UP */
    long rss_kb;     /* its RSS at UP */
};

struct batch_state {
    unsigned next, inflight, acked, failed;
    unsigned batch;
};

static void send_batch(struct slot *s);

static void on_batch(struct lc_nreq *r, int status, const char *type,
                     json_t *body)
{
    struct slot *s = r->data;
    struct bench *b = s->b;
    struct batch_state *st = b->ctx;
    (void)type;
    st->inflight--;
    if (lc_nclient_ok(status, body)) {
        st->acked++;
    } else {
        st->failed++;
        gbench_note_error(b, "batch register",
                          gbench_response_error(status, body));
    }
}

static void send_batch(struct slot *s)
{
    struct bench *b = s->b;
    struct batch_state *st = b->ctx;
    size_t cap = 256 + (size_t)st->batch * 200, n;
    char *text = malloc(cap);
    if (text == NULL) {
        st->failed++;
        return;
    }
    n = (size_t)snprintf(text, cap,
                         "{\"headers\":{},\"namespace\":\"public\","
                         "\"serviceName\":\"distro-restart-%u\",\"groupName\":"
                         "\"DEFAULT_GROUP\",\"module\":\"naming\",\"type\":"
                         "\"batchRegisterInstance\",\"instances\":[",
                         s->i);
    for (unsigned j = 0; j < st->batch; j++) {
        char ip[32];
        gbench_instance_ip((uint64_t)s->i * st->batch + j + 1, ip, sizeof ip);
        n += (size_t)snprintf(
            text + n, cap - n,
            "%s{\"ip\":\"%s\",\"port\":8080,\"weight\":1.0,\"healthy\":true,"
            "\"enabled\":true,\"ephemeral\":true,\"clusterName\":\"DEFAULT\","
            "\"metadata\":{}}",
            j > 0 ? "," : "", ip);
    }
    n += (size_t)snprintf(text + n, cap - n, "]}");
    s->req[0].data = s;
    s->req[0].lazy = true;
    if (lc_nclient_request_text(s->c, &s->req[0], "BatchInstanceRequest", text,
                                n, 60000, on_batch) != 0) {
        st->failed++;
    } else {
        st->inflight++;
    }
    free(text);
}

static bool batches_done(struct bench *b)
{
    struct batch_state *st = b->ctx;
    while (st->next < b->o.conns && st->inflight < BATCH_WINDOW) {
        send_batch(&b->slots[st->next++]);
    }
    return st->acked + st->failed >= b->o.conns;
}

static long metric(struct lc_cluster *c, unsigned i, const char *field)
{
    char *body = NULL;
    json_t *root;
    long v = -1;
    if (lc_cluster_http(c, i, "GET",
                        "/nacos/v1/ns/operator/metrics?onlyStatus=false", NULL,
                        NULL, &body) == 200 &&
        body != NULL) {
        root = json_loads(body, 0, NULL);
        v = (long)json_integer_value(json_object_get(root, field));
        json_decref(root);
    }
    free(body);
    return v;
}

/* A connection tried again and again on the restarted member's SDK port
 * until one is set up (ServerCheck answered, SetupAck): when it serves. */
struct sdk_probe {
    struct lc_nclient *c;
    bool trying, serving;
    uint64_t at; /* lc_mono_ms() when set up */
};

static void on_sdk_ready(struct lc_nclient *c, int status, void *data)
{
    struct sdk_probe *p = data;
    (void)c;
    if (status == 0) {
        p->serving = true;
        p->at = lc_mono_ms();
    }
}

static void on_sdk_closed(struct lc_nclient *c, void *data)
{
    struct sdk_probe *p = data;
    (void)c;
    p->c = NULL;
    p->trying = false;
}

/* Wait until member @i reports UP and serves SDK connections, polling
 * every 20 ms while the connections' loop keeps turning (their clients
 * must stay: the servers probe idle connections). Times from @t_start in
 * *@up_ms and *@sdk_ms (0: never), its instanceCount at UP in *@loaded.
 * Return whether both happened. */
static bool wait_serving(struct bench *b, struct lc_cluster *c, unsigned i,
                         uint64_t t_start, uint64_t *up_ms, uint64_t *sdk_ms,
                         long *loaded)
{
    struct sdk_probe p = {0};
    struct lc_nclient_cbs cbs = {
        .data = &p, .ready = on_sdk_ready, .closed = on_sdk_closed};
    uint64_t end = t_start + 120000;
    *up_ms = *sdk_ms = 0;
    while (lc_mono_ms() < end && (*up_ms == 0 || !p.serving)) {
        if (!p.trying && !p.serving) {
            p.trying = lc_nclient_new(&b->loop, "127.0.0.1",
                                      c->nodes[i].port + 1000, &cbs, &p.c) == 0;
        }
        if (*up_ms == 0 && lc_cluster_wait_ready(c, i, 0) == 0) {
            *up_ms = lc_mono_ms() - t_start;
            *loaded = metric(c, i, "instanceCount");
        }
        if (c->nodes[i].pid == 0) {
            fprintf(stderr, "  member %u exited; log in %s\n", i,
                    c->nodes[i].log);
            break;
        }
        uv_run(&b->loop, UV_RUN_NOWAIT);
        if (*up_ms != 0) {
            uv_sleep(1); /* lc_cluster_wait_ready sleeps otherwise */
        }
    }
    if (p.serving) {
        *sdk_ms = p.at - t_start;
    }
    if (p.c != NULL) {
        lc_nclient_close(p.c);
        while (p.c != NULL) {
            uv_run(&b->loop, UV_RUN_ONCE);
        }
    }
    return *up_ms != 0 && p.serving;
}

/* The least instanceCount among the members but the last (the one member
 * when alone). */
static long peer_least(struct lc_cluster *c)
{
    unsigned peers = c->n > 1 ? c->n - 1 : 1;
    long least = -1;
    for (unsigned i = 0; i < peers; i++) {
        long n = metric(c, i, "instanceCount");
        least = least < 0 || n < least ? n : least;
    }
    return least;
}

/* peer_least() once it reaches @want or 120 s have passed, @b's loop
 * turning meanwhile. */
static long peers_hold(struct bench *b, struct lc_cluster *c, unsigned want)
{
    uint64_t start = lc_mono_ms(), last = start;
    long least = peer_least(c);
    while (least < (long)want && lc_mono_ms() - start < 120000) {
        gbench_run_for(b, 200);
        least = peer_least(c);
        if (lc_mono_ms() - last >= 1000) {
            last = lc_mono_ms();
            fprintf(stderr, "  the peers hold %ld of %u at least\n", least,
                    want);
        }
    }
    return least;
}

static int run_restart(struct lc_cluster *c, const struct dopts *o,
                       unsigned size, struct restart *out)
{
    struct opts go = o->g;
    struct batch_state st = {.batch = o->batch};
    unsigned last = c->n - 1;
    struct bench *rb;
    uint64_t t0, t_start;
    int rc = 0;
    memset(out, 0, sizeof *out);
    out->size = size;
    go.conns = (size + o->batch - 1) / o->batch;
    rb = gbench_new(&go, "127.0.0.1", c->nodes[0].port + 1000);
    if (rb == NULL) {
        return -1;
    }
    /* Held by the members that stay up (every member when alone). */
    rb->n_members = c->n > 1 ? c->n - 1 : 1;
    for (unsigned i = 0; i < rb->n_members; i++) {
        rb->member_ports[i] = c->nodes[i].port + 1000;
    }
    rb->ctx = &st;
    fprintf(stderr, "restart %u: %u connections x %u instances...\n", size,
            go.conns, o->batch);
    if (gbench_connect_all(rb) != 0) {
        gbench_free(rb);
        return -1;
    }
    t0 = lc_mono_ms();
    while (!gbench_run_until(rb, batches_done, 2000)) {
        fprintf(stderr, "  %u/%u batches acknowledged\n", st.acked, go.conns);
        if (lc_mono_ms() - t0 > 600000) {
            break;
        }
    }
    out->register_ms = lc_mono_ms() - t0;
    out->registered = st.acked * o->batch;
    fprintf(stderr, "  %u instances registered in %.1f s%s%s\n",
            out->registered, out->register_ms / 1000.0,
            st.failed ? "; failed: " : "", st.failed ? rb->first_error : "");
    if (st.failed > 0) {
        rc = -1;
    }
    /* What the member should load: the least any peer holds, once they
     * all hold every instance (replicated) or 120 s have passed. */
    out->peer_count = peers_hold(rb, c, out->registered);
    fprintf(stderr, "  restarting member %u (port %d); its peers hold %ld\n",
            last, c->nodes[last].port, out->peer_count);
    lc_cluster_signal(c, last, SIGTERM);
    t_start = lc_mono_ms();
    if (lc_cluster_start_node(c, last) != 0) {
        gbench_free(rb);
        return -1;
    }
    out->up = wait_serving(rb, c, last, t_start, &out->up_ms, &out->sdk_ms,
                           &out->loaded);
    out->rss_kb = lc_bench_status_kb(c->nodes[last].pid, "VmRSS");
    fprintf(stderr,
            "  member %u: UP after %.2f s holding %ld instances, SDK "
            "connection set up after %.2f s%s\n",
            last, out->up_ms / 1000.0, out->loaded, out->sdk_ms / 1000.0,
            out->up ? "" : " (NOT BOTH within 120 s)");
    fprintf(stderr, "  closing the %u connections...\n", go.conns);
    gbench_free(rb);
    /* With peers, every instance they hold must be there at UP. */
    if (c->n > 1 && out->loaded < (long)out->registered) {
        fprintf(stderr,
                "  member %u is UP without all the instances (%ld of "
                "%u)\n",
                last, out->loaded, out->registered);
        rc = -1;
    }
    return out->up ? rc : -1;
}

/* ------------------------------------------------------------- reports */

struct pct {
    size_t n;
    uint64_t timeouts;
    double p50, p90, p99, max;
};

static struct pct pct_of(struct samples *s)
{
    struct pct p = {.n = s->n, .timeouts = s->timeouts};
    lc_bench_sort(s->v, s->n);
    p.p50 = lc_bench_percentile(s->v, s->n, 50) / 1000.0;
    p.p90 = lc_bench_percentile(s->v, s->n, 90) / 1000.0;
    p.p99 = lc_bench_percentile(s->v, s->n, 99) / 1000.0;
    p.max = s->n ? s->v[s->n - 1] / 1000.0 : 0;
    return p;
}

static json_t *pct_json(const struct pct *p)
{
    return json_pack("{s:I, s:I, s:f, s:f, s:f, s:f}", "count",
                     (json_int_t)p->n, "timeouts", (json_int_t)p->timeouts,
                     "p50Ms", p->p50, "p90Ms", p->p90, "p99Ms", p->p99, "maxMs",
                     p->max);
}

static void pct_row(const char *what, const struct pct *p)
{
    printf("%-40s %7zu %8llu %8.1f %8.1f %8.1f %8.1f\n", what, p->n,
           (unsigned long long)p->timeouts, p->p50, p->p90, p->p99, p->max);
}

static void report(const struct dopts *o, unsigned members, struct conv *v,
                   const struct gbench_run *runs, int median,
                   const struct restart *rs, unsigned n_rs)
{
    struct pct pr = {0}, qr = {0}, pl = {0}, ql = {0};
    if (o->conv) {
        pr = pct_of(&v->push_remote);
        qr = pct_of(&v->query_remote);
        pl = pct_of(&v->push_local);
        ql = pct_of(&v->query_local);
    }
    if (o->g.json) {
        json_t *root = json_pack("{s:i}", "members", members);
        if (o->conv) {
            json_object_set_new(
                root, "convergence",
                json_pack("{s:i, s:i, s:i, s:f, s:b, s:I, s:o, s:o, s:o, "
                          "s:o, s:f}",
                          "changes", v->done, "subscribersPerMember",
                          o->subscribers, "loadPerSecAsked", o->load,
                          "loadPerSec", v->load_rate, "stoppedNoReplication",
                          v->stopped_blind, "errors", (json_int_t)v->errors,
                          "pushOtherMembers", pct_json(&pr),
                          "queryOtherMembers", pct_json(&qr), "pushSameMember",
                          pct_json(&pl), "querySameMember", pct_json(&ql),
                          "targetP99Ms", 100.0));
        }
        if (o->rate && median >= 0) {
            json_t *arr = json_array();
            for (unsigned r = 0; r < o->g.runs; r++) {
                json_array_append_new(
                    arr, json_pack("{s:f, s:I, s:I, s:f, s:f}", "rate",
                                   runs[r].rate, "ok", (json_int_t)runs[r].ok,
                                   "errors", (json_int_t)runs[r].errors,
                                   "p50Ms", runs[r].p50, "p99Ms", runs[r].p99));
            }
            json_object_set_new(root, "registrations",
                                json_pack("{s:i, s:i, s:f, s:o, s:f}", "conns",
                                          o->g.conns, "depth", o->g.depth,
                                          "medianRate", runs[median].rate,
                                          "runs", arr, "target", 30000.0));
        }
        if (o->restart) {
            json_t *arr = json_array();
            for (unsigned i = 0; i < n_rs; i++) {
                json_array_append_new(
                    arr,
                    json_pack("{s:i, s:i, s:I, s:I, s:b, s:I, s:I, s:I, s:I}",
                              "instances", rs[i].size, "registered",
                              rs[i].registered, "registerMs",
                              (json_int_t)rs[i].register_ms, "peerCount",
                              (json_int_t)rs[i].peer_count, "up", rs[i].up,
                              "startToUpMs", (json_int_t)rs[i].up_ms,
                              "startToSdkMs", (json_int_t)rs[i].sdk_ms,
                              "loadedAtUp", (json_int_t)rs[i].loaded,
                              "rssKbAtUp", (json_int_t)rs[i].rss_kb));
            }
            json_object_set_new(root, "restart", arr);
        }
        char *text = json_dumps(root, JSON_INDENT(2));
        printf("%s\n", text);
        free(text);
        json_decref(root);
        return;
    }
    printf("\nDistro, %u members on loopback\n", members);
    if (o->conv) {
        printf("\nconvergence: %u changes under %.0f registrations/s (asked "
               "%u), %u subscribers per member%s\n\n",
               v->done, v->load_rate, o->load, o->subscribers,
               v->stopped_blind ? "; STOPPED: no change reached another "
                                  "member"
                                : "");
        printf("%-40s %7s %8s %8s %8s %8s %8s\n",
               "acknowledged -> visible (ms)", "count", "timeout", "p50", "p90",
               "p99", "max");
        pct_row("pushed, other members", &pr);
        pct_row("query answers it, other members", &qr);
        pct_row("pushed, same member (baseline)", &pl);
        pct_row("query answers it, same member", &ql);
        printf("target: p99 <= 100 ms on the other members%s\n",
               pr.n == 0 ? " (nothing measured)" : "");
    }
    if (o->rate && median >= 0) {
        printf("\nephemeral registrations/s over gRPC, %u connections x %u "
               "in flight spread over %u members, %u runs of %u s\n\n",
               o->g.conns, o->g.depth, members, o->g.runs, o->g.seconds);
        printf("%-6s %12s %10s %10s %10s\n", "run", "rate/s", "errors",
               "p50 ms", "p99 ms");
        for (unsigned r = 0; r < o->g.runs; r++) {
            printf("%-6u %12.0f %10llu %10.2f %10.2f\n", r + 1, runs[r].rate,
                   (unsigned long long)runs[r].errors, runs[r].p50,
                   runs[r].p99);
        }
        printf("%-6s %12.0f   (target >= 30,000/s)\n", "median",
               runs[median].rate);
    }
    if (o->restart && n_rs > 0) {
        printf("\nrestart: the last member restarted; from its process's "
               "start to status UP, and to an SDK connection set up\n\n");
        printf("%10s %10s %10s %9s %9s %10s %8s\n", "instances", "registered",
               "peers hold", "->UP s", "->SDK s", "at UP", "RSS MB");
        for (unsigned i = 0; i < n_rs; i++) {
            printf("%10u %10u %10ld %9.2f %9.2f %10ld %8.1f%s\n", rs[i].size,
                   rs[i].registered, rs[i].peer_count, rs[i].up_ms / 1000.0,
                   rs[i].sdk_ms / 1000.0, rs[i].loaded, rs[i].rss_kb / 1024.0,
                   !rs[i].up ? "  NOT SERVING"
                   : members > 1 && rs[i].loaded < (long)rs[i].registered
                       ? "  INCOMPLETE"
                       : "");
        }
        printf("target: UP within 10 s with 1,000,000 instances, all of "
               "them loaded\n");
    }
}

/* ---------------------------------------------------------------- main */

static const char usage[] =
    "usage: locusctl bench distro [options]\n"
    "  --members N      nodes of the cluster it starts (3)\n"
    "  --server H:P,..  running members' HTTP ports (gRPC = +1000) instead\n"
    "  --phases LIST    convergence,rate,restart (all)\n"
    "  --conns N        load/rate connections, spread over members (96)\n"
    "  --depth N        rate: requests in flight per connection (4)\n"
    "  --services N     services the load cycles over (100)\n"
    "  --load N         convergence: registrations/s meanwhile (3000)\n"
    "  --changes N      convergence: changes (200)\n"
    "  --subscribers N  convergence: subscribed connections per member (10)\n"
    "  --timeout MS     convergence: a change not seen by then (1000)\n"
    "  --interval MS    convergence: pause between changes (20)\n"
    "  --seconds N      rate: seconds per run (5)\n"
    "  --runs N         rate: runs, the median reported (3)\n"
    "  --sizes N,..     restart: instances (100000,1000000)\n"
    "  --batch N        restart: instances per BatchInstanceRequest (1000)\n"
    "  --port P         HTTP port of its first node (18948; step 10)\n"
    "  --dir D          its directory (data/bench-distro)\n"
    "  --locusd PATH    the locusd binary (build/locusd)\n"
    "  --set K=V        a property for the nodes it starts\n"
    "  --json           JSON instead of a table\n";

static unsigned parse_list(const char *v, unsigned *out, unsigned max)
{
    unsigned n = 0;
    char buf[256];
    char *save = NULL;
    lc_strlcpy(buf, v, sizeof buf);
    for (char *t = strtok_r(buf, ",", &save); t != NULL && n < max;
         t = strtok_r(NULL, ",", &save)) {
        out[n++] = (unsigned)strtoul(t, NULL, 10);
    }
    return n;
}

static int parse_servers(const char *v, struct dopts *o)
{
    char buf[1024];
    char *save = NULL;
    lc_strlcpy(buf, v, sizeof buf);
    o->n_ports = 0;
    for (char *t = strtok_r(buf, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        if (o->n_ports == LC_CLUSTER_MAX ||
            lc_split_host_port(t, o->host, sizeof o->host,
                               &o->ports[o->n_ports]) != 0) {
            fprintf(stderr, "locusctl: --server wants HOST:PORT,...\n");
            return -1;
        }
        o->n_ports++;
    }
    return o->n_ports > 0 ? 0 : -1;
}

/* bench distro's own options (gbench_parse_opts has the shared ones). */
static int distro_opt(void *ctx, const char *a, const char *v)
{
    struct dopts *o = ctx;
    const struct {
        const char *name;
        unsigned *to;
    } counts[] = {
        {"--members", &o->members},         {"--load", &o->load},
        {"--subscribers", &o->subscribers}, {"--timeout", &o->timeout_ms},
        {"--interval", &o->interval_ms},    {"--batch", &o->batch}};
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        if (strcmp(a, counts[k].name) == 0) {
            *counts[k].to = (unsigned)atoi(v);
            return 1;
        }
    }
    if (strcmp(a, "--server") == 0) {
        return parse_servers(v, o) == 0 ? 1 : -1;
    }
    if (strcmp(a, "--sizes") == 0) {
        o->n_sizes = parse_list(v, o->sizes, MAX_SIZES);
        return 1;
    }
    if (strcmp(a, "--phases") != 0) {
        return 0;
    }
    o->conv = strstr(v, "convergence") != NULL;
    o->rate = strstr(v, "rate") != NULL;
    o->restart = strstr(v, "restart") != NULL;
    return 1;
}

static int parse(int argc, char **argv, struct dopts *o)
{
    int rc = gbench_parse_opts(argc, argv, &o->g, usage, distro_opt, o);
    if (rc >= 0) {
        return rc;
    }
    if (o->members == 0 || o->members > LC_CLUSTER_MAX ||
        o->g.changes > MAX_CHANGES || o->subscribers == 0 ||
        o->timeout_ms == 0 || o->batch == 0 || o->batch > 10000 ||
        (!o->conv && !o->rate && !o->restart)) {
        fprintf(stderr,
                "locusctl: members 1..%d, changes 1..9999, batch "
                "1..10000, a phase, and every count > 0\n",
                LC_CLUSTER_MAX);
        return 2;
    }
    for (unsigned i = 0; i < o->n_sizes; i++) {
        if (o->sizes[i] == 0) {
            fprintf(stderr, "locusctl: --sizes: counts > 0\n");
            return 2;
        }
    }
    if (o->restart && o->n_ports > 0) {
        fprintf(stderr, "locusctl: restart needs its own cluster (no "
                        "--server): skipped\n");
        o->restart = false;
    }
    return -1;
}

static int start_cluster(struct lc_cluster *c, const struct dopts *o)
{
    /* The bench places its connections itself (the restart phase keeps
     * them off the last member): automatic balancing would ConnectReset
     * them, and its client does not reconnect. --set may turn it back on. */
    char extra[sizeof o->g.extra + 64];
    struct lc_cluster_spec spec = {.n = o->members,
                                   .base_port = o->g.port,
                                   .port_step = 10,
                                   .dir = o->g.dir,
                                   .locusd = o->g.locusd,
                                   .extra = extra};
    snprintf(extra, sizeof extra, "locus.loader.balance.enabled=false\n%s",
             o->g.extra);
    if (lc_cluster_init(c, &spec) != 0 || lc_cluster_wipe(c) != 0) {
        return -1;
    }
    fprintf(stderr, "starting %u locusd in %s (ports %d + 10 i)...\n",
            o->members, c->dir, o->g.port);
    if (lc_cluster_start(c) != 0 || lc_cluster_wait_all_ready(c, 60000) != 0) {
        fprintf(stderr,
                "locusctl: the cluster did not become ready; logs "
                "in %s\n",
                c->dir);
        return -1;
    }
    return 0;
}

int lc_bench_distro(int argc, char **argv, bool json)
{
    struct dopts o = {.g = {.json = json,
                            .conns = 96,
                            .depth = 4,
                            .services = 100,
                            .seconds = 5,
                            .runs = 3,
                            .changes = 200,
                            .port = 18948,
                            .dir = "data/bench-distro",
                            .locusd = "build/locusd"},
                      .members = 3,
                      .host = "127.0.0.1",
                      .load = 3000,
                      .subscribers = 10,
                      .timeout_ms = 1000,
                      .interval_ms = 20,
                      .sizes = {100000, 1000000},
                      .n_sizes = 2,
                      .batch = 1000,
                      .conv = true,
                      .rate = true,
                      .restart = true};
    struct lc_cluster cluster;
    struct gbench_run runs[MAX_RUNS];
    struct restart rs[MAX_SIZES];
    struct conv v;
    int grpc_ports[LC_CLUSTER_MAX] = {0};
    unsigned members, n_rs = 0;
    int median = -1;
    bool own;
    struct bench *b;
    int rc = parse(argc, argv, &o);
    if (rc >= 0) {
        return rc;
    }
    signal(SIGPIPE, SIG_IGN);
    {
        unsigned most = o.g.conns + (2 + o.subscribers) * LC_CLUSTER_MAX;
        for (unsigned i = 0; o.restart && i < o.n_sizes; i++) {
            unsigned need = (o.sizes[i] + o.batch - 1) / o.batch;
            most = need > most ? need : most;
        }
        gbench_raise_nofile(most);
    }
    own = o.n_ports == 0;
    if (own && start_cluster(&cluster, &o) != 0) {
        lc_cluster_stop(&cluster);
        return 1;
    }
    members = own ? cluster.n : o.n_ports;
    for (unsigned i = 0; i < members; i++) {
        grpc_ports[i] = (own ? cluster.nodes[i].port : o.ports[i]) + 1000;
    }
    rc = 0;
    memset(&v, 0, sizeof v);
    b = gbench_new(&o.g, o.host, grpc_ports[0]);
    if (b == NULL) {
        rc = 1;
        goto out;
    }
    b->n_members = members;
    memcpy(b->member_ports, grpc_ports, sizeof(int) * members);
    v.b = b;
    v.n_members = members;
    if (o.conv || o.rate) {
        fprintf(stderr, "connecting %u load connections over %u members...\n",
                o.g.conns, members);
        if (gbench_connect_all(b) != 0) {
            rc = 1;
        }
    }
    if (rc == 0 && o.conv) {
        b->ctx = &v;
        if (run_convergence(b, &v, &o, grpc_ports) != 0) {
            rc = 1;
        } else if (v.stopped_blind || v.errors > 0 ||
                   v.push_remote.timeouts + v.query_remote.timeouts > 0) {
            rc = 1;
        }
    }
    if (b->slots != NULL && o.rate && b->ready == o.g.conns) {
        fprintf(stderr, "aggregate registrations: %u runs of %u s...\n",
                o.g.runs, o.g.seconds);
        median = (int)gbench_rate_runs(b, runs);
        for (unsigned r = 0; r < o.g.runs; r++) {
            if (runs[r].errors > 0) {
                rc = 1;
            }
        }
    }
    conv_free(&v);
    gbench_free(b);
    if (own && o.restart) {
        for (unsigned i = 0; i < o.n_sizes; i++) {
            if (run_restart(&cluster, &o, o.sizes[i], &rs[n_rs++]) != 0) {
                rc = 1;
            }
        }
    }
    report(&o, members, &v, runs, median, rs, n_rs);
    conv_free_samples(&v);
out:
    if (own) {
        lc_cluster_stop(&cluster);
    }
    return rc;
}
