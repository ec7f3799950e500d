/* SDK connection balancing across members (see balance.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "rpc/cluster/peers.h"
#include "server/balance.h"
#include "server/balance_plan.h"

/* Nacos's RemoteUtils.LOADER_FACTOR: a ServerReload sheds at most 10 %. */
#define LOADER_FACTOR 0.1

struct lc_balance {
    uv_loop_t *loop;
    struct lc_balance_config cfg;
    struct lc_members *members;
    struct lc_peers *peers; /* NULL: standalone */
    struct lc_rpc *sdk;     /* NULL once detached */
    uv_timer_t timer;
    bool ready;
    bool polling;   /* a round's metrics are being asked */
    bool closing;
    bool timer_closed;
    unsigned pending; /* gathers in flight */
    uint64_t up_since; /* loop ms since every member is UP; 0: not */
    /* loadCount, applied once at the next interval */
    int load_count;
    char load_redirect[LC_MEMBER_ADDR_MAX];
    /* cpu: process time over wall time between two metric reads */
    uint64_t cpu_us;
    uint64_t cpu_wall_ms;
    double cpu;
    struct lc_balance_stats st;
};

void lc_balance_config_default(struct lc_balance_config *cfg)
{
    cfg->enabled = true;
    cfg->interval_ms = 500;
    cfg->factor_pct = 10;
    cfg->batch = 100;
    cfg->request_timeout_ms = 1000;
}

static void maybe_free(struct lc_balance *b)
{
    if (b->closing && b->timer_closed && b->pending == 0) {
        free(b);
    }
}

/* ------------------------------------------------------------ metrics */

static unsigned sdk_count(const struct lc_balance *b)
{
    return b->sdk != NULL ? lc_rpc_conn_count(b->sdk, true) : 0;
}

static void sample_cpu(struct lc_balance *b)
{
    struct rusage ru;
    uint64_t now = uv_now(b->loop);
    uint64_t us;
    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        return;
    }
    us = (uint64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
         (uint64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
    if (b->cpu_wall_ms != 0 && now > b->cpu_wall_ms + 100) {
        b->cpu = (double)(us - b->cpu_us) / 1000.0 / (double)(now - b->cpu_wall_ms);
    }
    if (b->cpu_wall_ms == 0 || now > b->cpu_wall_ms + 100) {
        b->cpu_us = us;
        b->cpu_wall_ms = now;
    }
}

static json_t *num_string(double v, bool integer)
{
    char buf[64];
    if (integer) {
        snprintf(buf, sizeof buf, "%.0f", v);
    } else {
        snprintf(buf, sizeof buf, "%.2f", v);
    }
    return json_string(buf);
}

json_t *lc_balance_metrics(struct lc_balance *b)
{
    json_t *m = json_object();
    double load[1] = {0};
    if (m == NULL) {
        return NULL;
    }
    sample_cpu(b);
    if (getloadavg(load, 1) != 1) {
        load[0] = 0;
    }
    json_object_set_new(
        m, "conCount",
        num_string(b->sdk != NULL ? lc_rpc_conn_count(b->sdk, false) : 0, true));
    json_object_set_new(m, "sdkConCount", num_string(sdk_count(b), true));
    json_object_set_new(m, "load", num_string(load[0], false));
    json_object_set_new(m, "cpu", num_string(b->cpu, false));
    json_object_set_new(m, "locusReady",
                        json_string(b->ready && b->sdk != NULL ? "true"
                                                               : "false"));
    return m;
}

/* sdkConCount of a metrics object, or -1. */
static long long metric_sdk(json_t *metric)
{
    long long v;
    const char *s = json_string_value(json_object_get(metric, "sdkConCount"));
    if (s == NULL || lc_parse_int(s, 0, 100000000, &v) != 0) {
        return -1;
    }
    return v;
}

/* ------------------------------------------------------------- resets */

struct pick {
    char **ids;
    unsigned n;
    unsigned want;
};

static void pick_sdk(struct lc_rpc_conn *c, void *data)
{
    struct pick *p = data;
    if (p->n < p->want && lc_rpc_conn_sdk(c)) {
        p->ids[p->n] = strdup(lc_rpc_conn_id(c));
        if (p->ids[p->n] != NULL) {
            p->n++;
        }
    }
}

/* The ids of up to @want SDK connections (collected first: a reset may
 * close a connection, which must not happen inside lc_rpc_conn_each). */
static int pick_start(struct lc_balance *b, unsigned want, struct pick *p)
{
    p->n = 0;
    p->want = want;
    p->ids = calloc(want > 0 ? want : 1, sizeof *p->ids);
    if (p->ids == NULL) {
        return LC_ENOMEM;
    }
    if (b->sdk != NULL) {
        lc_rpc_conn_each(b->sdk, pick_sdk, p);
    }
    return 0;
}

static void pick_free(struct pick *p)
{
    for (unsigned i = 0; i < p->n; i++) {
        free(p->ids[i]);
    }
    free(p->ids);
}

/* ConnectReset to the picked connections [@from, @from + @count), each
 * redirected to @host:@port when @host is not NULL. Return how many. */
static unsigned reset_ids(struct lc_balance *b, const struct pick *p,
                          unsigned from, unsigned count, const char *host,
                          int port)
{
    char port_s[16];
    unsigned sent = 0;
    snprintf(port_s, sizeof port_s, "%d", port);
    for (unsigned i = from; i < from + count && i < p->n; i++) {
        struct lc_rpc_conn *c =
            b->sdk != NULL ? lc_rpc_conn_find(b->sdk, p->ids[i]) : NULL;
        if (c != NULL &&
            lc_rpc_conn_reset(c, host, host != NULL ? port_s : NULL) == 0) {
            sent++;
        }
    }
    return sent;
}

/* The loadCount set by reloadCurrent or a ServerReload, once. */
static void apply_load(struct lc_balance *b)
{
    unsigned sdk = sdk_count(b);
    char host[LC_MEMBER_HOST_MAX];
    int port = 0;
    bool redirect;
    unsigned n;
    if (b->load_count < 0) {
        return;
    }
    redirect = b->load_redirect[0] != '\0' &&
               lc_split_host_port(b->load_redirect, host, sizeof host,
                                  &port) == 0;
    if (sdk > (unsigned)b->load_count) {
        struct pick p;
        n = 0;
        if (pick_start(b, sdk - (unsigned)b->load_count, &p) == 0) {
            n = reset_ids(b, &p, 0, p.n, redirect ? host : NULL, port);
            pick_free(&p);
        }
        b->st.loaded += n;
        lc_infof("balance", "loadCount %d: ConnectReset sent to %u of %u SDK "
                 "connections (%s)", b->load_count, n, sdk,
                 redirect ? b->load_redirect : "any server");
    }
    b->load_count = -1;
    b->load_redirect[0] = '\0';
}

void lc_balance_load_count(struct lc_balance *b, int count,
                           const char *redirect)
{
    b->load_count = count < 0 ? -1 : count;
    lc_strlcpy(b->load_redirect, redirect != NULL ? redirect : "",
               sizeof b->load_redirect);
}

/* ------------------------------------------------------------- gather */

struct gather;
typedef void (*gather_done)(struct gather *g);

struct slot {
    struct gather *g;
    const struct lc_member *m;
    json_t *metric; /* NULL: no answer */
    struct lc_nreq req;
};

struct gather {
    struct lc_balance *b;
    unsigned n;
    unsigned pending;
    gather_done done;
    void *data;
    void *cb;
    double factor;
    struct slot slots[LC_MEMBERS_MAX];
};

static void gather_free(struct gather *g)
{
    for (unsigned i = 0; i < g->n; i++) {
        json_decref(g->slots[i].metric);
    }
    free(g);
}

static void gather_end(struct gather *g)
{
    struct lc_balance *b = g->b;
    b->pending--;
    g->done(g); /* also when closing: an HTTP exchange waits for it */
    gather_free(g);
    maybe_free(b);
}

static void on_metrics(struct lc_nreq *r, int status, const char *type,
                       json_t *body)
{
    struct slot *s = r->data;
    struct gather *g = s->g;
    json_t *m = body != NULL ? json_object_get(body, "loaderMetrics") : NULL;
    if (status == 0 && type != NULL &&
        strcmp(type, "ServerLoaderInfoResponse") == 0 && json_is_object(m)) {
        s->metric = json_deep_copy(m);
    } else {
        lc_debugf("balance", "%s: no loader metrics (%s)", s->m->addr,
                  status != 0 ? lc_strerror(status) : type);
    }
    if (--g->pending == 0) {
        gather_end(g);
    }
}

/* Ask every member for its metrics (this node's read here); @done runs
 * once all have answered or failed, possibly from inside this call. */
static int gather_start(struct lc_balance *b, gather_done done, void *data,
                        void *cb, double factor)
{
    struct gather *g = calloc(1, sizeof *g);
    unsigned n = lc_members_count(b->members);
    if (g == NULL) {
        return LC_ENOMEM;
    }
    g->b = b;
    g->done = done;
    g->data = data;
    g->cb = cb;
    g->factor = factor;
    g->n = n < LC_MEMBERS_MAX ? n : LC_MEMBERS_MAX;
    g->pending = 1; /* held until every request is out */
    b->pending++;
    for (unsigned i = 0; i < g->n; i++) {
        struct slot *s = &g->slots[i];
        json_t *body;
        s->g = g;
        s->m = lc_members_at(b->members, i);
        if (s->m->self) {
            s->metric = lc_balance_metrics(b);
            continue;
        }
        if (b->peers == NULL) {
            continue;
        }
        body = json_pack("{s:s, s:{}}", "module", "internal", "headers");
        s->req.data = s;
        g->pending++;
        if (body == NULL ||
            lc_peers_request(b->peers, s->m->addr, &s->req,
                             "ServerLoaderInfoRequest", body,
                             b->cfg.request_timeout_ms, on_metrics) != 0) {
            g->pending--;
        }
        json_decref(body);
    }
    if (--g->pending == 0) {
        gather_end(g);
    }
    return 0;
}

/* ------------------------------------------------------ /loader/cluster */

/* Nacos's getServerLoadMetrics over a finished gather. */
static json_t *cluster_answer(struct gather *g)
{
    json_t *out = json_object();
    json_t *detail = json_array();
    long long max = 0;
    long long min = -1;
    long long total = 0;
    unsigned count = 0;
    for (unsigned i = 0; i < g->n; i++) {
        struct slot *s = &g->slots[i];
        long long v;
        if (s->metric == NULL) {
            continue;
        }
        json_array_append_new(detail,
                              json_pack("{s:s, s:O}", "address", s->m->addr,
                                        "metric", s->metric));
        count++;
        if ((v = metric_sdk(s->metric)) >= 0) {
            if (max == 0 || max < v) {
                max = v;
            }
            if (min == -1 || v < min) {
                min = v;
            }
            total += v;
        }
    }
    json_object_set_new(out, "detail", detail);
    json_object_set_new(out, "memberCount", json_integer(g->n));
    json_object_set_new(out, "metricsCount", json_integer(count));
    json_object_set_new(out, "completed", json_boolean(count == g->n));
    json_object_set_new(out, "max", json_integer(max));
    json_object_set_new(out, "min", json_integer(min));
    json_object_set_new(out, "avg", json_integer(count > 0 ? total / count : 0));
    json_object_set_new(
        out, "threshold",
        json_real(count > 0 ? (double)(total / count) * 1.1 : 0));
    json_object_set_new(out, "total", json_integer(total));
    return out;
}

static void cluster_done(struct gather *g)
{
    lc_balance_cluster_cb cb = (lc_balance_cluster_cb)g->cb;
    cb(g->data, cluster_answer(g));
}

int lc_balance_cluster(struct lc_balance *b, lc_balance_cluster_cb cb,
                       void *data)
{
    return gather_start(b, cluster_done, data, (void *)cb, 0);
}

/* --------------------------------------------------- smartReloadCluster */

struct reload {
    struct lc_nreq req;
    struct reload_all *all;
};

struct reload_all {
    struct lc_balance *b;
    unsigned pending;
    bool ok;
    lc_balance_done_cb cb;
    void *data;
    struct reload reqs[LC_MEMBERS_MAX];
};

static void reload_end(struct reload_all *a)
{
    struct lc_balance *b = a->b;
    b->pending--;
    a->cb(a->data, a->ok);
    free(a);
    maybe_free(b);
}

static void on_reload(struct lc_nreq *r, int status, const char *type,
                      json_t *body)
{
    struct reload *rl = r->data;
    struct reload_all *a = rl->all;
    json_t *code = body != NULL ? json_object_get(body, "resultCode") : NULL;
    if (status != 0 || type == NULL ||
        strcmp(type, "ServerReloadResponse") != 0 ||
        json_integer_value(code) != 200) {
        a->ok = false;
    }
    if (--a->pending == 0) {
        reload_end(a);
    }
}

/* ServerReloadRequest's semantics (ServerReloaderRequestHandler). Return
 * "ok" or "ignore". */
static const char *reload_here(struct lc_balance *b, long long reload_count,
                               const char *server)
{
    unsigned sdk = sdk_count(b);
    long long floor_count;
    if ((long long)sdk <= reload_count) {
        return "ignore";
    }
    floor_count = (long long)(sdk * (1 - LOADER_FACTOR));
    lc_balance_load_count(
        b, (int)(reload_count > floor_count ? reload_count : floor_count),
        server);
    return "ok";
}

static void smart_done(struct gather *g)
{
    struct lc_balance *b = g->b;
    lc_balance_done_cb cb = (lc_balance_done_cb)g->cb;
    struct slot *over[LC_MEMBERS_MAX];
    struct slot *low[LC_MEMBERS_MAX];
    unsigned n_over = 0;
    unsigned n_low = 0;
    long long total = 0;
    unsigned count = 0;
    long long avg;
    int over_limit;
    int low_limit;
    struct reload_all *a;

    if (b->closing) {
        cb(g->data, false);
        return;
    }
    for (unsigned i = 0; i < g->n; i++) {
        long long v = g->slots[i].metric != NULL
                          ? metric_sdk(g->slots[i].metric)
                          : -1;
        if (g->slots[i].metric != NULL) {
            count++;
        }
        total += v > 0 ? v : 0;
    }
    avg = count > 0 ? total / count : 0;
    over_limit = (int)(avg * (1 + g->factor));
    low_limit = (int)(avg * (1 - g->factor));
    for (unsigned i = 0; i < g->n; i++) {
        long long v = g->slots[i].metric != NULL
                          ? metric_sdk(g->slots[i].metric)
                          : -1;
        if (v < 0) {
            continue;
        }
        if (v > over_limit) {
            over[n_over++] = &g->slots[i];
        }
        if (v < low_limit) {
            low[n_low++] = &g->slots[i];
        }
    }
    /* over by sdkConCount descending, low ascending (insertion sorts) */
    for (unsigned i = 1; i < n_over; i++) {
        for (unsigned j = i; j > 0 && metric_sdk(over[j - 1]->metric) <
                                          metric_sdk(over[j]->metric);
             j--) {
            struct slot *t = over[j];
            over[j] = over[j - 1];
            over[j - 1] = t;
        }
    }
    for (unsigned i = 1; i < n_low; i++) {
        for (unsigned j = i; j > 0 && metric_sdk(low[j - 1]->metric) >
                                          metric_sdk(low[j]->metric);
             j--) {
            struct slot *t = low[j];
            low[j] = low[j - 1];
            low[j - 1] = t;
        }
    }
    a = calloc(1, sizeof *a);
    if (a == NULL) {
        cb(g->data, false);
        return;
    }
    a->b = b;
    a->ok = true;
    a->cb = cb;
    a->data = g->data;
    a->pending = 1;
    b->pending++;
    for (unsigned i = 0; i < n_over && i < n_low; i++) {
        json_t *body;
        lc_infof("balance", "smartReloadCluster: %s sheds to %d, to %s",
                 over[i]->m->addr, over_limit, low[i]->m->addr);
        if (over[i]->m->self) {
            reload_here(b, over_limit, low[i]->m->addr);
            continue;
        }
        body = json_pack("{s:s, s:{}, s:i, s:s}", "module", "internal",
                         "headers", "reloadCount", over_limit, "reloadServer",
                         low[i]->m->addr);
        a->reqs[i].req.data = &a->reqs[i];
        a->reqs[i].all = a;
        a->pending++;
        if (body == NULL || b->peers == NULL ||
            lc_peers_request(b->peers, over[i]->m->addr, &a->reqs[i].req,
                             "ServerReloadRequest", body,
                             b->cfg.request_timeout_ms, on_reload) != 0) {
            a->pending--;
            a->ok = false;
        }
        json_decref(body);
    }
    if (--a->pending == 0) {
        reload_end(a);
    }
}

int lc_balance_smart_reload(struct lc_balance *b, double factor,
                            lc_balance_done_cb cb, void *data)
{
    if (!(factor >= 0) || factor >= 1) {
        return LC_EINVAL;
    }
    return gather_start(b, smart_done, data, (void *)cb, factor);
}

/* ------------------------------------------------------- the cluster port */

static void on_loader_info(struct lc_rpc_req *req, void *data)
{
    struct lc_balance *b = data;
    json_t *body = json_object();
    json_object_set_new(body, "loaderMetrics", lc_balance_metrics(b));
    lc_rpc_reply(req, "ServerLoaderInfoResponse", body);
    json_decref(body);
}

static void on_reload_request(struct lc_rpc_req *req, void *data)
{
    struct lc_balance *b = data;
    json_t *in = lc_rpc_req_body(req);
    json_t *count = json_object_get(in, "reloadCount");
    json_t *server = json_object_get(in, "reloadServer");
    char host[LC_MEMBER_HOST_MAX];
    int port;
    struct lc_err e;
    json_t *body;
    const char *s = json_string_value(server);

    if (!json_is_integer(count) || json_integer_value(count) < 0 ||
        json_integer_value(count) > 100000000) {
        lc_err_set(&e, LC_EINVAL,
                   "reloadCount must be an integer in [0, 100000000]");
        lc_rpc_reply_error(req, "ServerReloadResponse", &e);
        return;
    }
    if ((server != NULL && !json_is_null(server) && s == NULL) ||
        (s != NULL && s[0] != '\0' &&
         lc_split_host_port(s, host, sizeof host, &port) != 0)) {
        lc_err_set(&e, LC_EINVAL, "reloadServer must be ip:port");
        lc_rpc_reply_error(req, "ServerReloadResponse", &e);
        return;
    }
    lc_infof("balance", "server reload request receive,reload count=%lld,"
             "redirectServer=%s",
             (long long)json_integer_value(count), s != NULL ? s : "null");
    body = json_pack("{s:s}", "message",
                     reload_here(b, json_integer_value(count), s));
    lc_rpc_reply(req, "ServerReloadResponse", body);
    json_decref(body);
}

/* ------------------------------------------------------ the balancing */

static bool all_up(struct lc_balance *b)
{
    unsigned n = lc_members_count(b->members);
    for (unsigned i = 0; i < n; i++) {
        const struct lc_member *m = lc_members_at(b->members, i);
        if (!m->self && lc_members_state(b->members, m) != LC_MEMBER_UP) {
            return false;
        }
    }
    return true;
}

static void round_done(struct gather *g)
{
    struct lc_balance *b = g->b;
    unsigned counts[LC_MEMBERS_MAX];
    unsigned to[LC_MEMBERS_MAX];
    unsigned self = g->n;
    unsigned reset;
    unsigned sent = 0;
    unsigned from = 0;
    unsigned total = 0;
    struct pick p;

    b->polling = false;
    if (b->closing || b->sdk == NULL || !b->ready || !all_up(b) ||
        g->n != lc_members_count(b->members)) {
        return;
    }
    for (unsigned i = 0; i < g->n; i++) {
        struct slot *s = &g->slots[i];
        const char *ready = json_string_value(
            s->metric != NULL ? json_object_get(s->metric, "locusReady")
                              : NULL);
        long long v = s->metric != NULL ? metric_sdk(s->metric) : -1;
        if (s->m->self) {
            self = i;
            counts[i] = sdk_count(b); /* live, not the one read earlier */
            continue;
        }
        if (v < 0 || (ready != NULL && strcmp(ready, "true") != 0)) {
            return; /* an answer missing, or a peer not serving yet */
        }
        counts[i] = (unsigned)v;
    }
    for (unsigned i = 0; i < g->n; i++) {
        total += counts[i];
    }
    b->st.rounds++;
    reset = lc_balance_plan(counts, g->n, self, b->cfg.factor_pct,
                            b->cfg.batch, to);
    if (reset == 0) {
        return;
    }
    if (pick_start(b, reset, &p) != 0) {
        return;
    }
    for (unsigned i = 0; i < g->n; i++) {
        const struct lc_member *m = g->slots[i].m;
        if (to[i] > 0) {
            sent += reset_ids(b, &p, from, to[i], m->host, m->port);
            lc_infof("balance", "%u SDK connections here, %u in the "
                     "cluster: ConnectReset to %u, redirected to %s",
                     counts[self], total, to[i], m->addr);
            from += to[i];
        }
    }
    pick_free(&p);
    b->st.resets += sent;
}

static void on_tick(uv_timer_t *t)
{
    struct lc_balance *b = t->data;
    uint64_t now = uv_now(b->loop);

    apply_load(b);
    if (!b->cfg.enabled || b->peers == NULL || b->sdk == NULL ||
        b->closing || b->polling || lc_members_count(b->members) < 2) {
        return;
    }
    if (!all_up(b)) {
        b->up_since = 0;
        return;
    }
    if (b->up_since == 0) {
        b->up_since = now;
    }
    /* every member UP for two intervals: not while peers are starting */
    if (!b->ready || now - b->up_since < 2 * (uint64_t)b->cfg.interval_ms) {
        return;
    }
    b->polling = true;
    if (gather_start(b, round_done, NULL, NULL, 0) != 0) {
        b->polling = false;
    }
}

/* -------------------------------------------------------- life cycle */

int lc_balance_new(uv_loop_t *loop, const struct lc_balance_config *cfg,
                   struct lc_members *members, struct lc_peers *peers,
                   struct lc_rpc *sdk, struct lc_balance **out)
{
    struct lc_balance *b;
    int rv;
    if (cfg->interval_ms == 0 || members == NULL) {
        return LC_EINVAL;
    }
    b = calloc(1, sizeof *b);
    if (b == NULL) {
        return LC_ENOMEM;
    }
    b->loop = loop;
    b->cfg = *cfg;
    b->members = members;
    b->peers = peers;
    b->sdk = sdk;
    b->load_count = -1;
    /* Registered on both ports, allowed from the cluster only, as Nacos's
     * @InvokeSource: on the SDK port they answer "... is forbidden". */
    for (int i = 0; i < 2; i++) {
        struct lc_rpc *r = i == 0 ? sdk
                                  : (peers != NULL ? lc_peers_rpc(peers) : NULL);
        if (r == NULL) {
            continue;
        }
        if ((rv = lc_rpc_handle(r, "ServerLoaderInfoRequest", LC_RPC_CLUSTER,
                                on_loader_info, b)) != 0 ||
            (rv = lc_rpc_handle(r, "ServerReloadRequest", LC_RPC_CLUSTER,
                                on_reload_request, b)) != 0) {
            free(b);
            return rv;
        }
    }
    uv_timer_init(loop, &b->timer);
    b->timer.data = b;
    uv_timer_start(&b->timer, on_tick, cfg->interval_ms, cfg->interval_ms);
    sample_cpu(b);
    *out = b;
    return 0;
}

void lc_balance_set_ready(struct lc_balance *b, bool ready)
{
    if (b != NULL) {
        b->ready = ready;
    }
}

void lc_balance_stats(const struct lc_balance *b, struct lc_balance_stats *out)
{
    *out = b->st;
}

void lc_balance_detach(struct lc_balance *b)
{
    if (b != NULL) {
        b->sdk = NULL;
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    struct lc_balance *b = h->data;
    b->timer_closed = true;
    maybe_free(b);
}

void lc_balance_close(struct lc_balance *b)
{
    if (b == NULL || b->closing) {
        return;
    }
    b->closing = true;
    b->sdk = NULL;
    uv_close((uv_handle_t *)&b->timer, on_timer_closed);
}
