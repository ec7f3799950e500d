/* A fleet of SDK connections choosing servers as the Java client does (see
 * fleet.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bench/fleet.h"
#include "rpc/grpc/nclient.h"
#include "common/err.h"
#include "common/util.h"

struct fclient {
    struct lc_fleet *f;
    struct lc_nclient *nc; /* NULL between connections */
    uv_timer_t timer;      /* the sleep between failed tries */
    unsigned cur;          /* index of the server tried or connected */
    int next;              /* a reset's target index, -1: none */
    unsigned fails;        /* failed tries since the last success */
    bool ready;
    bool reset;
    bool started;
};

struct lc_fleet {
    uv_loop_t *loop;
    struct lc_fleet_config cfg;
    struct fclient *clients;
    unsigned started;    /* clients started so far (paced at first) */
    unsigned inflight;   /* nclients not yet ready (or failed) */
    unsigned live;       /* nclients alive */
    unsigned timers;     /* timers not yet closed */
    bool closing;
    struct lc_fleet_stats st;
};

static void start_more(struct lc_fleet *f);
static void connect_now(struct fclient *cl);

static void on_ready(struct lc_nclient *c, int status, void *data)
{
    struct fclient *cl = data;
    struct lc_fleet *f = cl->f;
    (void)c;
    f->inflight--;
    if (status == 0) {
        cl->ready = true;
        cl->fails = 0;
        f->st.ready[cl->cur]++;
    } else {
        f->st.failed_connects++;
    }
    start_more(f);
}

static void on_reset(struct lc_nclient *c, const char *ip, const char *port,
                     void *data)
{
    struct fclient *cl = data;
    struct lc_fleet *f = cl->f;
    long long p;
    (void)c;
    f->st.resets++;
    cl->reset = true;
    cl->next = -1;
    /* RpcClient: the recommended server only when it is in the list. */
    if (ip != NULL && ip[0] != '\0' && port != NULL &&
        lc_parse_int(port, 1, 65535, &p) == 0 &&
        strcmp(ip, f->cfg.host) == 0) {
        for (unsigned i = 0; i < f->cfg.n_servers; i++) {
            if (f->cfg.ports[i] == (int)p) {
                cl->next = (int)i;
                f->st.redirects++;
                break;
            }
        }
    }
}

static void on_timer(uv_timer_t *t)
{
    connect_now(t->data);
}

static void on_closed(struct lc_nclient *c, void *data)
{
    struct fclient *cl = data;
    struct lc_fleet *f = cl->f;
    unsigned n = f->cfg.n_servers;
    unsigned turns;
    uint64_t delay;
    (void)c;
    cl->nc = NULL;
    f->live--;
    if (cl->ready) {
        f->st.ready[cl->cur]--;
    }
    if (f->closing) {
        cl->ready = false;
        return;
    }
    if (cl->reset) {
        cl->cur = cl->next >= 0 ? (unsigned)cl->next : (cl->cur + 1) % n;
        cl->reset = false;
        cl->ready = false;
        connect_now(cl);
        return;
    }
    cl->cur = (cl->cur + 1) % n;
    if (cl->ready) {
        /* Lost: the next server at once. */
        f->st.losses++;
        cl->ready = false;
        connect_now(cl);
        return;
    }
    /* A failed try: RpcClient sleeps min(retryTurns + 1, 50) * 100 ms,
     * retryTurns counting whole passes over the list. */
    turns = cl->fails / n;
    cl->fails++;
    delay = (uint64_t)(turns + 1 < 50 ? turns + 1 : 50) * 100;
    uv_timer_start(&cl->timer, on_timer, delay, 0);
}

static void connect_now(struct fclient *cl)
{
    struct lc_fleet *f = cl->f;
    struct lc_nclient_cbs cbs = {.data = cl,
                                 .ready = on_ready,
                                 .closed = on_closed,
                                 .reset = on_reset};
    if (f->closing) {
        return;
    }
    cl->started = true;
    if (lc_nclient_new(f->loop, f->cfg.host, f->cfg.ports[cl->cur] + 1000,
                       &cbs, &cl->nc) != 0) {
        cl->nc = NULL;
        cl->fails++;
        uv_timer_start(&cl->timer, on_timer, 100, 0);
        return;
    }
    f->live++;
    f->inflight++;
}

/* Pace the first connections: at most max_connecting in flight. */
static void start_more(struct lc_fleet *f)
{
    unsigned max = f->cfg.max_connecting != 0 ? f->cfg.max_connecting : 200;
    while (!f->closing && f->started < f->cfg.conns && f->inflight < max) {
        connect_now(&f->clients[f->started++]);
    }
}

int lc_fleet_new(uv_loop_t *loop, const struct lc_fleet_config *cfg,
                 struct lc_fleet **out)
{
    struct lc_fleet *f;
    unsigned seed = cfg->seed;
    if (cfg->n_servers == 0 || cfg->n_servers > LC_FLEET_MAX_SERVERS ||
        cfg->host == NULL) {
        return LC_EINVAL;
    }
    f = calloc(1, sizeof *f);
    if (f == NULL) {
        return LC_ENOMEM;
    }
    f->clients = calloc(cfg->conns > 0 ? cfg->conns : 1, sizeof *f->clients);
    if (f->clients == NULL) {
        free(f);
        return LC_ENOMEM;
    }
    f->loop = loop;
    f->cfg = *cfg;
    for (unsigned i = 0; i < cfg->conns; i++) {
        struct fclient *cl = &f->clients[i];
        cl->f = f;
        cl->next = -1;
        cl->cur = (unsigned)rand_r(&seed) % cfg->n_servers;
        uv_timer_init(loop, &cl->timer);
        cl->timer.data = cl;
        f->timers++;
    }
    *out = f;
    start_more(f);
    return 0;
}

void lc_fleet_stats(const struct lc_fleet *f, struct lc_fleet_stats *out)
{
    *out = f->st;
    out->connecting = 0;
    for (unsigned i = 0; i < f->cfg.conns; i++) {
        out->connecting += !f->clients[i].ready;
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    struct fclient *cl = h->data;
    cl->f->timers--;
}

void lc_fleet_close(struct lc_fleet *f)
{
    if (f->closing) {
        return;
    }
    f->closing = true;
    for (unsigned i = 0; i < f->cfg.conns; i++) {
        struct fclient *cl = &f->clients[i];
        if (cl->nc != NULL) {
            lc_nclient_close(cl->nc);
        }
        uv_close((uv_handle_t *)&cl->timer, on_timer_closed);
    }
}

int lc_fleet_closed(const struct lc_fleet *f)
{
    return f->closing && f->live == 0 && f->timers == 0;
}

void lc_fleet_free(struct lc_fleet *f)
{
    if (f != NULL) {
        free(f->clients);
        free(f);
    }
}
