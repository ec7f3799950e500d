/* Server-side health checks of persistent instances, as Nacos 2.4.3's
 * HealthCheckTaskV2, TcpHealthCheckProcessor and HealthCheckCommonV2.
 *
 * Only the node leading naming_persistent_service_v2 checks (Nacos gives
 * each ip:port to one responsible server; here the leader is that server
 * for all of them), and only once its leader barrier is applied (the group
 * is "ready": what earlier leaders committed is applied here, so verdicts
 * and writes start from the current state), and only while the `check`
 * switch is on. A 500 ms poll follows both. Starting schedules one task per
 * persistent client ("ip:port#false"), found by an incremental scan of the
 * registry's persistent rows (bounded work per loop turn); afterwards
 * ClientRegisterServiceEvent adds the tasks of new clients, and the
 * checker's client observer drops the tasks of clients that go. Stopping
 * (leadership lost, switch off, close) drops every task and closes every
 * probe: nothing is kept per client while the checker is stopped.
 *
 * A task is a `struct lc_sched_node` in its lc_client (16 bytes): its due time
 * sits in one min-heap served by one uv timer. It fires after its
 * normalized check time (first 2000 + a random part below
 * tcpHealthParams.max, then smoothed with tcpHealthParams.factor from each
 * check's response time and kept within [min, max]) and marks every
 * instance of the client due, unless the switch is off or the cluster's
 * checker is NONE; an instance whose last check has not finished is
 * skipped and doubles the check time. A client with due instances waits in
 * a FIFO for connect slots (at most MAX_IN_FLIGHT at once); the uv handles
 * of a connect are allocated when it starts and freed when it closes.
 *
 * The per-instance HealthCheckStatus (counts, being checked, a write in
 * flight) lives in the instance's lc_publish (8 bytes) and is valid only
 * while it carries the checker's current epoch; stopping bumps the epoch,
 * which resets every status at once.
 *
 * A connect succeeds, is refused, fails otherwise, or times out after
 * 500 ms. Verdicts count as Nacos counts them: an unhealthy instance becomes
 * healthy after checkTimes successes in a row; a healthy one becomes
 * unhealthy after checkTimes failures or timeouts in a row, or at once when
 * the connection is refused. A change is written through Raft
 * (lc_entry_write_health), so every member applies it and subscribers get a push.
 *
 * Lifetime: the checker holds a reference for each of its handles, each
 * probe (until its handles are closed) and each Raft write in flight.
 * Closing stops it and closes its handles; it frees itself when the last
 * reference goes and never touches the naming module after
 * lc_health_checker_close().
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "naming/internal.h"
#include "naming/ops/entries.h"

#define POLL_MS 500            /* leadership and switch follow-up */
#define CONNECT_TIMEOUT_MS 500 /* TcpHealthCheckProcessor.CONNECT_TIMEOUT_MS */
#define LOWER_CHECK_RT 2000    /* HealthCheckTaskV2.LOWER_CHECK_RT */
#define MAX_IN_FLIGHT 256      /* concurrent connects */
#define SCAN_BATCH 2048        /* registry rows per loop turn when starting */
#define FIRE_BATCH 4096        /* tasks fired per loop turn */
#define STREAK_MAX 32767

/* lc_publish.hc_flags */
#define F_DUE 1u          /* waiting for a connect slot */
#define F_PROBING 2u      /* a connect is running */
#define F_WRITING 4u      /* a status change is on its way through Raft */
#define F_LAST_HEALTHY 8u /* health when the counts started */

enum verdict { CHECK_OK, CHECK_FAIL, CHECK_FAIL_NOW };

/* One TCP connect, allocated when it starts. */
struct hc_probe {
    struct lc_health_checker *hc;
    struct hc_probe *prev, *next; /* the checker's probes */
    uint32_t epoch;
    char *client_id; /* these three follow the struct */
    char *service_key;
    char *ip;
    int port;
    uv_getaddrinfo_t gai;
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_timer_t timeout;
    unsigned open_handles;
    bool resolving;
    bool started;
    bool done;
    uint64_t start_ms;
};

struct hc_write {
    struct lc_sm_write w;
    struct lc_health_checker *hc;
    uint32_t epoch;
    char *client_id; /* these two follow the struct */
    char *service_key;
    bool healthy;
};

struct lc_health_checker {
    struct lc_naming *n; /* NULL once closing */
    uv_loop_t *loop;
    uv_timer_t poll;
    uv_timer_t due_timer; /* the heap's earliest task */
    uv_idle_t scan;       /* the incremental scan after starting */
    bool leading;
    bool active; /* leading, ready and the switch on: tasks exist */
    bool scanning;
    bool draining; /* probe_start may end a probe, which drains */
    bool closing;
    size_t scan_cursor; /* rows below it are still to visit */
    uint32_t epoch;     /* of the instance statuses; bumped on stop */
    uint64_t clock0;    /* due times are uint32 ms since */
    unsigned refs;      /* handles, probes, writes in flight */
    struct lc_sched_heap heap;
    struct lc_sched_fifo fifo;
    struct lc_client_observer gone; /* persistent clients going away */
    struct hc_probe *probes; /* started, not yet freed */
    unsigned in_flight;
    uint64_t rand_state;
};

static void drain(struct lc_health_checker *hc);

/* ------------------------------------------------------------ predicate */

/* Hook for service metadata (the service piece of issue 3): true when the
 * ClusterMetadata of @svc's @cluster says healthyCheckType NONE. Until
 * clusters carry metadata every cluster has Nacos's default checker, TCP. */
static bool cluster_checker_is_none(struct lc_naming *n,
                                    const struct lc_service *svc,
                                    const char *cluster)
{
    (void)n;
    (void)svc;
    (void)cluster;
    return false;
}

bool lc_health_checks_on(struct lc_naming *n, const struct lc_service *svc,
                         const char *cluster)
{
    return n->sw.health_check_enabled &&
           !cluster_checker_is_none(n, svc, cluster);
}

/* ------------------------------------------------------------ helpers */

static void maybe_destroy(struct lc_health_checker *hc)
{
    if (hc->closing && hc->refs == 0) {
        lc_sched_heap_clear(&hc->heap);
        lc_sched_fifo_clear(&hc->fifo);
        free(hc);
    }
}

static long random_below(struct lc_health_checker *hc, long bound)
{
    uint64_t x = hc->rand_state; /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    hc->rand_state = x;
    return bound > 0 ? (long)(x % (uint64_t)bound) : 0;
}

static uint32_t clock_ms(const struct lc_health_checker *hc)
{
    return (uint32_t)(uv_now(hc->loop) - hc->clock0);
}

static struct lc_client *client_of(struct lc_sched_node *x)
{
    return (struct lc_client *)(void *)((char *)x -
                                        offsetof(struct lc_client, hc));
}

/* The instance's status in this epoch (fresh counts otherwise). */
static void status_fresh(struct lc_health_checker *hc, struct lc_publish *pub)
{
    if (pub->hc_epoch != hc->epoch) {
        pub->hc_epoch = hc->epoch;
        pub->hc_streak = 0;
        pub->hc_flags = pub->inst->healthy ? F_LAST_HEALTHY : 0;
    }
}

/* HealthCheckCommonV2.reEvaluateCheckRT with the TCP parameters. */
static void re_evaluate(struct lc_client *c, long rt,
                        const struct lc_health_params *params)
{
    long v = (long)(params->factor * (float)c->hc.rt +
                    (1 - params->factor) * (float)rt);
    if (v > params->max) {
        v = params->max;
    }
    if (v < params->min) {
        v = params->min;
    }
    if (v > INT32_MAX) {
        v = INT32_MAX;
    }
    c->hc.rt = (int32_t)v;
}

/* --------------------------------------------------------------- tasks */

static void on_due(uv_timer_t *timer);

/* Arm the timer for the heap's earliest task. */
static void arm(struct lc_health_checker *hc)
{
    struct lc_sched_node *top = lc_sched_heap_top(&hc->heap);
    uint32_t now = clock_ms(hc);
    if (top == NULL) {
        uv_timer_stop(&hc->due_timer);
        return;
    }
    uv_timer_start(&hc->due_timer, on_due,
                   lc_sched_before(now, top->due) ? top->due - now : 0, 0);
}

static void schedule(struct lc_health_checker *hc, struct lc_client *c)
{
    c->hc.due = clock_ms(hc) + (uint32_t)(c->hc.rt > 0 ? c->hc.rt : 0);
    if (lc_sched_heap_push(&hc->heap, &c->hc) != 0) {
        lc_warnf("health", "out of memory scheduling %s", c->id);
        return;
    }
    if (c->hc.heap_pos == 1) {
        arm(hc);
    }
}

/* A task for @c (HealthCheckTaskV2 with initCheckRT), unless it has one. */
static void task_start(struct lc_health_checker *hc, struct lc_client *c)
{
    long max = hc->n->sw.tcp_params.max;
    if (c->ephemeral || c->hc.heap_pos != 0) {
        return;
    }
    c->hc.rt = (int32_t)(LOWER_CHECK_RT + random_below(hc, random_below(hc, max)));
    schedule(hc, c);
}

/* Drop @c's task (it is going away, or the checker stops). */
static void task_drop(struct lc_health_checker *hc, struct lc_client *c)
{
    if (c->hc.heap_pos != 0) {
        lc_sched_heap_remove(&hc->heap, &c->hc);
    }
    if (c->hc.fifo_pos != 0) {
        lc_sched_fifo_remove(&hc->fifo, &c->hc);
    }
}

/* HealthCheckTaskV2.run: TcpHealthCheckProcessor.process for each
 * instance of the client, then the next run. */
static void task_fire(struct lc_health_checker *hc, struct lc_client *c)
{
    struct lc_naming *n = hc->n;
    bool due = false;
    /* HealthCheckEnableInterceptor: nothing while the switch is off. */
    if (n->sw.health_check_enabled) {
        struct lc_publish *pub, *tmp;
        HASH_ITER(hh, c->publishes, pub, tmp)
        {
            if (!lc_health_checks_on(n, pub->service, pub->inst->cluster)) {
                continue;
            }
            status_fresh(hc, pub);
            if (pub->hc_flags & (F_DUE | F_PROBING)) {
                /* The last check has not finished: wait longer. */
                re_evaluate(c, (long)c->hc.rt * 2, &n->sw.tcp_params);
            } else {
                pub->hc_flags |= F_DUE;
                due = true;
            }
        }
    }
    schedule(hc, c);
    if (due && c->hc.fifo_pos == 0 &&
        lc_sched_fifo_push(&hc->fifo, &c->hc) != 0) {
        struct lc_publish *pub, *tmp;
        lc_warnf("health", "out of memory queueing %s", c->id);
        HASH_ITER(hh, c->publishes, pub, tmp)
        {
            if (pub->hc_epoch == hc->epoch) {
                pub->hc_flags &= (uint8_t)~F_DUE;
            }
        }
    }
}

static void on_due(uv_timer_t *timer)
{
    struct lc_health_checker *hc = timer->data;
    uint32_t now = clock_ms(hc);
    struct lc_sched_node *x;
    unsigned fired = 0;
    while (hc->active && fired < FIRE_BATCH &&
           (x = lc_sched_heap_top(&hc->heap)) != NULL &&
           !lc_sched_before(now, x->due)) {
        lc_sched_heap_remove(&hc->heap, x);
        task_fire(hc, client_of(x));
        fired++;
    }
    if (hc->active) {
        arm(hc); /* at once again if the batch was cut short */
        drain(hc);
    }
}

/* -------------------------------------------------------------- probes */

static void probe_maybe_end(struct hc_probe *p)
{
    struct lc_health_checker *hc = p->hc;
    if (p->open_handles > 0 || p->resolving) {
        return;
    }
    if (p->prev != NULL) {
        p->prev->next = p->next;
    } else {
        hc->probes = p->next;
    }
    if (p->next != NULL) {
        p->next->prev = p->prev;
    }
    hc->in_flight--;
    free(p);
    hc->refs--;
    if (!hc->closing) {
        drain(hc);
    }
    maybe_destroy(hc);
}

static void on_probe_handle_closed(uv_handle_t *h)
{
    struct hc_probe *p = h->data;
    p->open_handles--;
    probe_maybe_end(p);
}

/* Stop a probe without a verdict, or after one. */
static void probe_close(struct hc_probe *p)
{
    p->done = true;
    if (p->resolving) {
        uv_cancel((uv_req_t *)&p->gai); /* its callback still runs */
    }
    if (p->started && !uv_is_closing((uv_handle_t *)&p->timeout)) {
        uv_close((uv_handle_t *)&p->timeout, on_probe_handle_closed);
        uv_close((uv_handle_t *)&p->tcp, on_probe_handle_closed);
    }
}

static void on_written(struct lc_sm_write *w, int status,
                       const struct lc_raft_result *result)
{
    struct hc_write *c = w->data;
    struct lc_health_checker *hc = c->hc;
    if (status != 0 || result->status != 0) {
        lc_warnf("health", "writing %s healthy=%s failed: %s %s", c->client_id,
                 c->healthy ? "true" : "false",
                 lc_strerror(status != 0 ? status : result->status),
                 status != 0 ? "" : result->message);
    }
    if (!hc->closing && c->epoch == hc->epoch) {
        struct lc_client *client =
            lc_registry_find_client(hc->n->reg, c->client_id);
        struct lc_publish *pub = NULL;
        if (client != NULL) {
            HASH_FIND_STR(client->publishes, c->service_key, pub);
        }
        if (pub != NULL && pub->hc_epoch == hc->epoch) {
            pub->hc_flags &= (uint8_t)~F_WRITING;
        }
    }
    free(c);
    hc->refs--;
    maybe_destroy(hc);
}

/* PersistentHealthStatusSynchronizer.instanceHealthStatusChange. */
static void change_status(struct lc_health_checker *hc, struct lc_client *c,
                          struct lc_publish *pub, bool healthy,
                          const char *msg)
{
    const struct lc_instance *inst = pub->inst;
    size_t lid = strlen(c->id) + 1, lkey = strlen(pub->service_key) + 1;
    struct hc_write *w = malloc(sizeof *w + lid + lkey);
    int rv;
    if (w == NULL) {
        lc_warnf("health", "out of memory changing %s", c->id);
        return;
    }
    memset(w, 0, sizeof *w);
    w->client_id = (char *)(w + 1);
    w->service_key = w->client_id + lid;
    memcpy(w->client_id, c->id, lid);
    memcpy(w->service_key, pub->service_key, lkey);
    w->hc = hc;
    w->epoch = hc->epoch;
    w->healthy = healthy;
    w->w.data = w;
    rv = lc_entry_write_health(hc->n, pub->service, c->id, inst, healthy,
                               &w->w, on_written);
    if (rv != 0) {
        lc_warnf("health", "writing %s healthy=%s failed: %s", c->id,
                 healthy ? "true" : "false", lc_strerror(rv));
        free(w);
        return;
    }
    hc->refs++;
    pub->hc_flags |= F_WRITING;
    lc_infof("health",
             "serviceName: %s {POS} {%s} %s: %s:%d@%s, region: unknown, "
             "msg: %s",
             pub->service->grouped, healthy ? "IP-ENABLED" : "IP-DISABLED",
             healthy ? "valid" : "invalid", inst->ip, inst->port,
             inst->cluster, msg);
}

/* HealthCheckCommonV2.checkOk / checkFail / checkFailNow, then
 * reEvaluateCheckRT. @rt < 0: twice the task's check time (a timeout). */
static void apply_verdict(struct hc_probe *p, enum verdict v, long rt,
                          const char *msg)
{
    struct lc_health_checker *hc = p->hc;
    struct lc_naming *n;
    struct lc_client *c;
    struct lc_publish *pub = NULL;
    if (hc->closing || !hc->active || p->epoch != hc->epoch) {
        return; /* stopped since it started */
    }
    n = hc->n;
    c = lc_registry_find_client(n->reg, p->client_id);
    if (c == NULL || c->hc.heap_pos == 0) {
        return; /* the client went away (its task with it) */
    }
    if (rt < 0) {
        rt = (long)c->hc.rt * 2;
    }
    HASH_FIND_STR(c->publishes, p->service_key, pub);
    if (pub != NULL) {
        const struct lc_instance *inst = pub->inst;
        bool last_healthy;
        bool may_write;
        status_fresh(hc, pub);
        pub->hc_flags &= (uint8_t)~F_PROBING;
        may_write = n->sw.health_check_enabled && !(pub->hc_flags & F_WRITING);
        last_healthy = (pub->hc_flags & F_LAST_HEALTHY) != 0;
        if (inst->healthy != last_healthy) {
            /* Written again since (by us or by hand): count afresh, as
             * Nacos does with the new publish info. */
            pub->hc_streak = 0;
            pub->hc_flags ^= F_LAST_HEALTHY;
        }
        /* ok and fail counts: one of them is always 0 (each verdict resets
         * the other), so one signed streak holds both. */
        if (v == CHECK_OK) {
            if (pub->hc_streak < 0) {
                pub->hc_streak = 0; /* fail count reset */
            }
            if (!inst->healthy) {
                if (pub->hc_streak < STREAK_MAX) {
                    pub->hc_streak++;
                }
                if (pub->hc_streak >= n->sw.check_times && may_write) {
                    change_status(hc, c, pub, true, msg);
                }
            }
        } else {
            if (pub->hc_streak > 0) {
                pub->hc_streak = 0; /* ok count reset */
            }
            if (inst->healthy) {
                bool now = v == CHECK_FAIL_NOW;
                if (!now && pub->hc_streak > -STREAK_MAX) {
                    pub->hc_streak--;
                }
                if ((now || -pub->hc_streak >= n->sw.check_times) &&
                    may_write) {
                    change_status(hc, c, pub, false, msg);
                }
            }
        }
    }
    re_evaluate(c, rt, &n->sw.tcp_params);
}

/* The probe's verdict, once; then its handles close. */
static void probe_finish(struct hc_probe *p, enum verdict v, long rt,
                         const char *msg)
{
    if (p->done) {
        return;
    }
    apply_verdict(p, v, rt, msg);
    probe_close(p);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct hc_probe *p = req->data;
    struct lc_health_checker *hc = p->hc;
    long max = hc->closing ? 0 : hc->n->sw.tcp_params.max;
    char msg[128];
    if (p->done || status == UV_ECANCELED) {
        return; /* closed: the close callbacks finish the probe */
    }
    if (status == 0) {
        probe_finish(p, CHECK_OK, (long)(uv_now(hc->loop) - p->start_ms),
                     "tcp:ok+");
    } else if (status == UV_ECONNREFUSED) {
        snprintf(msg, sizeof msg, "tcp:unable2connect:%s", uv_strerror(status));
        probe_finish(p, CHECK_FAIL_NOW, max, msg);
    } else {
        snprintf(msg, sizeof msg, "tcp:error:%s", uv_strerror(status));
        probe_finish(p, CHECK_FAIL, max, msg);
    }
}

static void on_connect_timeout(uv_timer_t *timer)
{
    struct hc_probe *p = timer->data;
    probe_finish(p, CHECK_FAIL, -1, "tcp:timeout");
}

/* Connect to @addr with the timeout armed. */
static void probe_connect(struct hc_probe *p, const struct sockaddr *addr)
{
    struct lc_health_checker *hc = p->hc;
    int rv;
    uv_tcp_init(hc->loop, &p->tcp);
    uv_timer_init(hc->loop, &p->timeout);
    p->tcp.data = p;
    p->timeout.data = p;
    p->connect.data = p;
    p->open_handles = 2;
    p->started = true;
    p->start_ms = uv_now(hc->loop);
    uv_timer_start(&p->timeout, on_connect_timeout, CONNECT_TIMEOUT_MS, 0);
    rv = uv_tcp_connect(&p->connect, &p->tcp, addr, on_connect);
    if (rv != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "tcp:error:%s", uv_strerror(rv));
        probe_finish(p, CHECK_FAIL, hc->n->sw.tcp_params.max, msg);
    }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct hc_probe *p = req->data;
    struct lc_health_checker *hc = p->hc;
    p->resolving = false;
    if (p->done || hc->closing) {
        uv_freeaddrinfo(res);
        probe_maybe_end(p);
        return;
    }
    if (status != 0 || res == NULL) {
        char msg[128];
        snprintf(msg, sizeof msg, "tcp:error:%s", uv_strerror(status));
        /* No handle was opened: the verdict, then the end. */
        apply_verdict(p, CHECK_FAIL, hc->n->sw.tcp_params.max, msg);
        p->done = true;
        uv_freeaddrinfo(res);
        probe_maybe_end(p);
        return;
    }
    if (res->ai_family == AF_INET) {
        ((struct sockaddr_in *)res->ai_addr)->sin_port = htons(p->port);
    } else if (res->ai_family == AF_INET6) {
        ((struct sockaddr_in6 *)res->ai_addr)->sin6_port = htons(p->port);
    }
    probe_connect(p, res->ai_addr);
    uv_freeaddrinfo(res);
}

/* Take a connect slot and check @pub of @c. */
static void probe_start(struct lc_health_checker *hc, struct lc_client *c,
                        struct lc_publish *pub)
{
    size_t lid = strlen(c->id) + 1, lkey = strlen(pub->service_key) + 1,
           lip = strlen(pub->inst->ip) + 1;
    struct hc_probe *p = malloc(sizeof *p + lid + lkey + lip);
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    if (p == NULL) {
        lc_warnf("health", "out of memory checking %s", c->id);
        pub->hc_flags &= (uint8_t)~(F_DUE | F_PROBING);
        return;
    }
    memset(p, 0, sizeof *p);
    p->client_id = (char *)(p + 1);
    p->service_key = p->client_id + lid;
    p->ip = p->service_key + lkey;
    memcpy(p->client_id, c->id, lid);
    memcpy(p->service_key, pub->service_key, lkey);
    memcpy(p->ip, pub->inst->ip, lip);
    p->port = pub->inst->port;
    p->hc = hc;
    p->epoch = hc->epoch;
    p->next = hc->probes;
    if (hc->probes != NULL) {
        hc->probes->prev = p;
    }
    hc->probes = p;
    hc->refs++;
    hc->in_flight++;
    pub->hc_flags = (uint8_t)((pub->hc_flags & ~F_DUE) | F_PROBING);
    if (uv_ip4_addr(p->ip, p->port, &a4) == 0) {
        probe_connect(p, (const struct sockaddr *)&a4);
    } else if (uv_ip6_addr(p->ip, p->port, &a6) == 0) {
        probe_connect(p, (const struct sockaddr *)&a6);
    } else {
        struct addrinfo hints;
        int rv;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        p->gai.data = p;
        p->resolving = true;
        rv =
            uv_getaddrinfo(hc->loop, &p->gai, on_resolved, p->ip, NULL, &hints);
        if (rv != 0) {
            p->resolving = false;
            apply_verdict(p, CHECK_FAIL, hc->n->sw.tcp_params.max,
                          "tcp:error:cannot resolve");
            p->done = true;
            probe_maybe_end(p);
        }
    }
}

/* Start the due instances of queued clients while there are free slots. */
static void drain(struct lc_health_checker *hc)
{
    struct lc_sched_node *x;
    if (hc->draining) {
        return;
    }
    hc->draining = true;
    while (hc->active && hc->in_flight < MAX_IN_FLIGHT &&
           (x = lc_sched_fifo_pop(&hc->fifo)) != NULL) {
        struct lc_client *c = client_of(x);
        struct lc_publish *pub, *tmp;
        HASH_ITER(hh, c->publishes, pub, tmp)
        {
            if (pub->hc_epoch != hc->epoch || !(pub->hc_flags & F_DUE)) {
                continue;
            }
            if (hc->in_flight >= MAX_IN_FLIGHT) {
                /* The rest waits at the front, in order. */
                if (lc_sched_fifo_push_front(&hc->fifo, &c->hc) != 0) {
                    pub->hc_flags &= (uint8_t)~F_DUE;
                    continue;
                }
                break;
            }
            probe_start(hc, c, pub);
            if (!hc->active || c->hc.heap_pos == 0) {
                break; /* stopped, or the client went away */
            }
        }
    }
    hc->draining = false;
}

/* ---------------------------------------------------- start, stop, scan */

static void on_scan(uv_idle_t *idle)
{
    struct lc_health_checker *hc = idle->data;
    struct lc_registry *reg = hc->n->reg;
    unsigned k = 0;
    /* Downwards: a removal moves the last row (visited) into the removed
     * one's place, so no unvisited row is skipped; new rows come with
     * ClientRegisterServiceEvent. */
    if (hc->scan_cursor > reg->n_rows) {
        hc->scan_cursor = reg->n_rows;
    }
    while (hc->scan_cursor > 0 && k++ < SCAN_BATCH) {
        const struct lc_row *r = &reg->rows[--hc->scan_cursor];
        struct lc_client *c = lc_registry_find_client(reg, r->client_id);
        if (c != NULL) {
            task_start(hc, c);
        }
    }
    if (hc->scan_cursor == 0) {
        hc->scanning = false;
        uv_idle_stop(&hc->scan);
        lc_infof("health", "health check tasks for %zu persistent clients",
                 hc->heap.n);
    }
}

static void start(struct lc_health_checker *hc)
{
    hc->active = true;
    hc->scanning = true;
    hc->scan_cursor = hc->n->reg->n_rows;
    uv_idle_start(&hc->scan, on_scan);
}

/* Drop every task and close every probe; reset every instance status. */
static void stop(struct lc_health_checker *hc)
{
    struct hc_probe *p;
    hc->active = false;
    hc->scanning = false;
    uv_idle_stop(&hc->scan);
    uv_timer_stop(&hc->due_timer);
    if (++hc->epoch == 0) {
        hc->epoch = 1; /* 0 is what a new publish carries */
    }
    lc_sched_heap_clear(&hc->heap);
    lc_sched_fifo_clear(&hc->fifo);
    for (p = hc->probes; p != NULL; p = p->next) {
        if (!p->done) {
            probe_close(p);
        }
    }
}

static void on_client_gone(struct lc_client_observer *obs,
                           struct lc_client *c)
{
    task_drop(obs->data, c);
}

/* ClientRegisterServiceEvent: a task for a new persistent client. */
static void on_register(const struct lc_event *ev, void *data)
{
    struct lc_naming *n = data;
    struct lc_health_checker *hc = n->hc;
    struct lc_client *c;
    if (hc == NULL || !hc->active || ev->client_id == NULL) {
        return;
    }
    c = lc_registry_find_client(n->reg, ev->client_id);
    if (c != NULL) {
        task_start(hc, c);
    }
}

static void on_poll(uv_timer_t *timer)
{
    struct lc_health_checker *hc = timer->data;
    struct lc_raft_group *g = lc_statemachine_group(hc->n->persistent_sm);
    struct lc_raft_group_status st;
    bool leading = false;
    bool want;
    bool changed;
    if (g != NULL) {
        lc_raft_group_status(g, &st);
        /* Not on election alone: only once this term's barrier is applied,
         * so every entry the old leader committed (a deregistration, a
         * health change) is in the registry the checks read and write. */
        leading = strcmp(st.state, "leader") == 0 && st.leader_ready;
    }
    changed = leading != hc->leading;
    if (changed) {
        lc_infof("health", "%s health checks of persistent instances",
                 leading ? "leading " LC_GROUP_PERSISTENT ": starting"
                         : "not leading " LC_GROUP_PERSISTENT ": stopping");
        hc->leading = leading;
    }
    want = leading && hc->n->sw.health_check_enabled;
    if (want && !hc->active) {
        if (!changed) {
            lc_infof("health", "check switch on: scheduling health checks");
        }
        start(hc);
    } else if (!want && hc->active) {
        if (!changed) {
            lc_infof("health", "check switch off: health check tasks dropped");
        }
        stop(hc);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    struct lc_health_checker *hc = h->data;
    hc->refs--;
    maybe_destroy(hc);
}

int lc_health_checker_start(struct lc_naming *n)
{
    struct lc_health_checker *hc = calloc(1, sizeof *hc);
    if (hc == NULL) {
        return LC_ENOMEM;
    }
    if (lc_bus_subscribe(n->bus, LC_EV_CLIENT_REGISTER_SERVICE, on_register,
                         n) != 0) {
        free(hc);
        return LC_ENOMEM;
    }
    hc->n = n;
    hc->loop = n->loop;
    hc->rand_state = uv_hrtime() | 1;
    hc->epoch = 1;
    hc->clock0 = uv_now(n->loop);
    uv_timer_init(n->loop, &hc->poll);
    uv_timer_init(n->loop, &hc->due_timer);
    uv_idle_init(n->loop, &hc->scan);
    hc->poll.data = hc;
    hc->due_timer.data = hc;
    hc->scan.data = hc;
    uv_timer_start(&hc->poll, on_poll, POLL_MS, POLL_MS);
    hc->refs = 3;
    hc->gone.data = hc;
    hc->gone.client_gone = on_client_gone;
    lc_registry_observe(n->reg, &hc->gone);
    n->hc = hc;
    return 0;
}

void lc_health_checker_close(struct lc_health_checker *hc)
{
    if (hc->closing) {
        return;
    }
    hc->leading = false;
    stop(hc);
    lc_registry_unobserve(hc->n->reg, &hc->gone);
    hc->n->hc = NULL;
    hc->closing = true;
    hc->n = NULL;
    uv_close((uv_handle_t *)&hc->poll, on_handle_closed);
    uv_close((uv_handle_t *)&hc->due_timer, on_handle_closed);
    uv_close((uv_handle_t *)&hc->scan, on_handle_closed);
}
