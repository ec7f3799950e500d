/* Server-side health checks of persistent instances, as Nacos 2.4.3's
 * HealthCheckTaskV2, TcpHealthCheckProcessor and HealthCheckCommonV2.
 *
 * Only the node leading naming_persistent_service_v2 checks (Nacos gives
 * each ip:port to one responsible server; here the leader is that server
 * for all of them), and only once its leader barrier is applied (the group
 * is "ready": what earlier leaders committed is applied here, so verdicts
 * and writes start from the current state). A poll timer follows
 * leadership: on gaining it, one task
 * is created per persistent client ("ip:port#false"); on losing it, every
 * task and probe is stopped. While leading, the same timer adds tasks for
 * new clients and removes those of clients that are gone.
 *
 * A task fires after its normalized check time (first 2000 + a random part
 * below tcpHealthParams.max, then smoothed with tcpHealthParams.factor from
 * each check's response time and kept within [min, max]) and starts one TCP
 * connect per instance the client publishes, unless the health_check_enabled
 * switch is off or the cluster's checker is NONE. A connect succeeds, is
 * refused, fails otherwise, or times out after 500 ms. Verdicts count as
 * Nacos counts them: an unhealthy instance becomes healthy after checkTimes
 * successes in a row; a healthy one becomes unhealthy after checkTimes
 * failures or timeouts in a row, or at once when the connection is refused.
 * A change is written through Raft (the instance again with only `healthy`
 * changed), so every member applies it and subscribers get a push.
 *
 * Everything runs on the loop and never blocks: connects are asynchronous
 * (uv_tcp_connect; host names through uv_getaddrinfo), at most
 * MAX_IN_FLIGHT at once, the rest queued in order.
 *
 * Lifetime: the checker owns tasks, which own probes; each holds a
 * reference on the checker, as does every Raft write in flight. Closing
 * closes every handle and the checker frees itself when the last reference
 * goes; after lc_health_checker_close() nothing touches the naming module.
 */
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "naming/internal.h"

#define POLL_MS 500            /* leadership and client-set follow-up */
#define CONNECT_TIMEOUT_MS 500 /* TcpHealthCheckProcessor.CONNECT_TIMEOUT_MS   \
                                */
#define LOWER_CHECK_RT 2000    /* HealthCheckTaskV2.LOWER_CHECK_RT */
#define MAX_IN_FLIGHT 256      /* concurrent connects */

enum verdict { CHECK_OK, CHECK_FAIL, CHECK_FAIL_NOW };

/* HealthCheckStatus of one instance (client, service). */
struct hc_inst {
    char *service_key;
    bool being_checked;
    bool writing; /* a status change is on its way through Raft */
    bool last_healthy;
    int ok_count;
    int fail_count;
    bool seen; /* still published, at the last sweep */
    UT_hash_handle hh;
};

struct hc_probe;

/* HealthCheckTaskV2: one per persistent client. */
struct hc_task {
    struct lc_health_checker *hc;
    char *client_id;
    uv_timer_t timer;
    long rt_normalized;
    long rt_best;
    long rt_worst;
    long rt_last;
    struct hc_inst *insts;   /* by service key */
    struct hc_probe *probes; /* started or queued, linked by task_next */
    unsigned n_probes;
    bool dead; /* removed; freed once closed and probe-free */
    bool timer_closed;
    bool seen;
    UT_hash_handle hh;
};

/* One TCP connect. */
struct hc_probe {
    struct hc_task *task;
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
    struct hc_probe *task_next;
    struct hc_probe *queue_next;
};

struct hc_write {
    struct lc_sm_write w;
    struct lc_health_checker *hc;
    char *client_id;
    char *service_key;
    bool healthy;
};

struct lc_health_checker {
    struct lc_naming *n; /* NULL once closing */
    uv_loop_t *loop;
    uv_timer_t poll;
    bool leading;
    bool closing;
    unsigned refs; /* poll timer, tasks, writes in flight */
    struct hc_task *tasks;
    struct hc_probe *queue_head; /* waiting for a connect slot */
    struct hc_probe *queue_tail;
    unsigned in_flight;
    uint64_t rand_state;
};

static void probe_run(struct hc_probe *p);

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

/* ------------------------------------------------------------ lifetime */

static void maybe_destroy(struct lc_health_checker *hc)
{
    if (hc->closing && hc->refs == 0) {
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

static void inst_free_all(struct hc_task *t)
{
    struct hc_inst *s, *tmp;
    HASH_ITER(hh, t->insts, s, tmp)
    {
        HASH_DEL(t->insts, s);
        free(s->service_key);
        free(s);
    }
}

static void task_maybe_free(struct hc_task *t)
{
    struct lc_health_checker *hc = t->hc;
    if (!t->dead || !t->timer_closed || t->n_probes > 0) {
        return;
    }
    inst_free_all(t);
    free(t->client_id);
    free(t);
    hc->refs--;
    maybe_destroy(hc);
}

static void on_task_timer_closed(uv_handle_t *h)
{
    struct hc_task *t = h->data;
    t->timer_closed = true;
    task_maybe_free(t);
}

/* ------------------------------------------------------------- probes */

static void probe_unlink(struct hc_probe *p)
{
    struct hc_probe **pp = &p->task->probes;
    while (*pp != p) {
        pp = &(*pp)->task_next;
    }
    *pp = p->task_next;
}

static void probe_free(struct hc_probe *p)
{
    struct hc_task *t = p->task;
    probe_unlink(p);
    t->n_probes--;
    free(p->service_key);
    free(p->ip);
    free(p);
    task_maybe_free(t);
}

/* Start queued probes while there are free slots. */
static void queue_drain(struct lc_health_checker *hc)
{
    while (!hc->closing && hc->in_flight < MAX_IN_FLIGHT &&
           hc->queue_head != NULL) {
        struct hc_probe *p = hc->queue_head;
        hc->queue_head = p->queue_next;
        if (hc->queue_head == NULL) {
            hc->queue_tail = NULL;
        }
        p->queue_next = NULL;
        probe_run(p);
    }
}

/* A started probe is over once its handles are closed and no address
 * lookup is pending. */
static void probe_maybe_end(struct hc_probe *p)
{
    struct lc_health_checker *hc = p->task->hc;
    if (p->open_handles > 0 || p->resolving) {
        return;
    }
    hc->in_flight--;
    probe_free(p);
    queue_drain(hc);
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

/* HealthCheckCommonV2.reEvaluateCheckRT with the TCP parameters. */
static void re_evaluate(struct hc_task *t, long rt,
                        const struct lc_health_params *params)
{
    long v;
    t->rt_last = rt;
    if (rt > t->rt_worst) {
        t->rt_worst = rt;
    }
    if (rt < t->rt_best) {
        t->rt_best = rt;
    }
    v = (long)(params->factor * (float)t->rt_normalized +
               (1 - params->factor) * (float)rt);
    if (v > params->max) {
        v = params->max;
    }
    if (v < params->min) {
        v = params->min;
    }
    t->rt_normalized = v;
}

static void on_written(struct lc_sm_write *w, int status,
                       const struct lc_raft_result *result)
{
    struct hc_write *c = w->data;
    struct lc_health_checker *hc = c->hc;
    struct hc_task *t = NULL;
    struct hc_inst *s = NULL;
    if (status != 0 || result->status != 0) {
        lc_warnf("health", "writing %s healthy=%s failed: %s %s", c->client_id,
                 c->healthy ? "true" : "false",
                 lc_strerror(status != 0 ? status : result->status),
                 status != 0 ? "" : result->message);
    }
    if (!hc->closing) {
        HASH_FIND_STR(hc->tasks, c->client_id, t);
    }
    if (t != NULL) {
        HASH_FIND_STR(t->insts, c->service_key, s);
    }
    if (s != NULL) {
        s->writing = false;
    }
    free(c->client_id);
    free(c->service_key);
    free(c);
    hc->refs--;
    maybe_destroy(hc);
}

/* PersistentHealthStatusSynchronizer.instanceHealthStatusChange. */
static void change_status(struct hc_task *t, struct hc_inst *s,
                          const struct lc_service *svc,
                          const struct lc_instance *inst, bool healthy,
                          const char *msg)
{
    struct lc_health_checker *hc = t->hc;
    struct hc_write *c = calloc(1, sizeof *c);
    int rv;
    if (c == NULL || (c->client_id = strdup(t->client_id)) == NULL ||
        (c->service_key = strdup(s->service_key)) == NULL) {
        if (c != NULL) {
            free(c->client_id);
            free(c);
        }
        lc_warnf("health", "out of memory changing %s", t->client_id);
        return;
    }
    c->hc = hc;
    c->healthy = healthy;
    c->w.data = c;
    rv = lc_health_write(hc->n, svc, t->client_id, inst, healthy, &c->w,
                         on_written);
    if (rv != 0) {
        lc_warnf("health", "writing %s healthy=%s failed: %s", t->client_id,
                 healthy ? "true" : "false", lc_strerror(rv));
        free(c->client_id);
        free(c->service_key);
        free(c);
        return;
    }
    hc->refs++;
    s->writing = true;
    lc_infof("health",
             "serviceName: %s {POS} {%s} %s: %s:%d@%s, region: unknown, "
             "msg: %s",
             svc->grouped, healthy ? "IP-ENABLED" : "IP-DISABLED",
             healthy ? "valid" : "invalid", inst->ip, inst->port, inst->cluster,
             msg);
}

/* HealthCheckCommonV2.checkOk / checkFail / checkFailNow, then
 * reEvaluateCheckRT. */
static void apply_verdict(struct hc_probe *p, enum verdict v, long rt,
                          const char *msg)
{
    struct hc_task *t = p->task;
    struct lc_health_checker *hc = t->hc;
    struct lc_naming *n = hc->n;
    struct lc_client *client = lc_registry_find_client(n->reg, t->client_id);
    struct lc_publish *pub = NULL;
    struct hc_inst *s = NULL;
    HASH_FIND_STR(t->insts, p->service_key, s);
    if (client != NULL) {
        HASH_FIND_STR(client->publishes, p->service_key, pub);
    }
    if (s != NULL) {
        s->being_checked = false;
    }
    if (pub != NULL && s != NULL) {
        const struct lc_instance *inst = pub->inst;
        bool may_write = n->sw.health_check_enabled && hc->leading &&
                         !t->dead && !s->writing;
        if (inst->healthy != s->last_healthy) {
            /* Written again since (by us or by hand): count afresh, as
             * Nacos does with the new publish info. */
            s->ok_count = 0;
            s->fail_count = 0;
            s->last_healthy = inst->healthy;
        }
        if (v == CHECK_OK) {
            if (!inst->healthy && ++s->ok_count >= n->sw.check_times &&
                may_write) {
                change_status(t, s, pub->service, inst, true, msg);
            }
            s->fail_count = 0;
        } else {
            if (inst->healthy &&
                (v == CHECK_FAIL_NOW || ++s->fail_count >= n->sw.check_times) &&
                may_write) {
                change_status(t, s, pub->service, inst, false, msg);
            }
            s->ok_count = 0;
        }
    }
    re_evaluate(t, rt, &n->sw.tcp_params);
}

/* The probe's verdict, once; then its handles close. */
static void probe_finish(struct hc_probe *p, enum verdict v, long rt,
                         const char *msg)
{
    struct lc_health_checker *hc = p->task->hc;
    if (p->done) {
        return;
    }
    if (!hc->closing && !p->task->dead) {
        apply_verdict(p, v, rt, msg);
    }
    probe_close(p);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct hc_probe *p = req->data;
    struct lc_health_checker *hc = p->task->hc;
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
    probe_finish(p, CHECK_FAIL, p->task->rt_normalized * 2, "tcp:timeout");
}

/* Connect to @addr with the timeout armed. */
static void probe_connect(struct hc_probe *p, const struct sockaddr *addr)
{
    struct lc_health_checker *hc = p->task->hc;
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
    struct lc_health_checker *hc = p->task->hc;
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

/* Take a connect slot and start. */
static void probe_run(struct hc_probe *p)
{
    struct lc_health_checker *hc = p->task->hc;
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    hc->in_flight++;
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

/* TcpHealthCheckProcessor.process for one instance of the task's client. */
static void check_instance(struct hc_task *t, struct lc_publish *pub)
{
    struct lc_health_checker *hc = t->hc;
    struct hc_inst *s = NULL;
    struct hc_probe *p;
    HASH_FIND_STR(t->insts, pub->service_key, s);
    if (s == NULL) {
        s = calloc(1, sizeof *s);
        if (s == NULL || (s->service_key = strdup(pub->service_key)) == NULL) {
            free(s);
            return;
        }
        s->last_healthy = pub->inst->healthy;
        HASH_ADD_KEYPTR(hh, t->insts, s->service_key, strlen(s->service_key),
                        s);
    }
    if (s->being_checked) {
        /* The last check has not finished: wait longer next time. */
        re_evaluate(t, t->rt_normalized * 2, &hc->n->sw.tcp_params);
        return;
    }
    p = calloc(1, sizeof *p);
    if (p == NULL || (p->service_key = strdup(pub->service_key)) == NULL ||
        (p->ip = strdup(pub->inst->ip)) == NULL) {
        if (p != NULL) {
            free(p->service_key);
            free(p);
        }
        return;
    }
    s->being_checked = true;
    p->task = t;
    p->port = pub->inst->port;
    p->task_next = t->probes;
    t->probes = p;
    t->n_probes++;
    if (hc->in_flight < MAX_IN_FLIGHT) {
        probe_run(p);
    } else if (hc->queue_tail != NULL) {
        hc->queue_tail->queue_next = p;
        hc->queue_tail = p;
    } else {
        hc->queue_head = hc->queue_tail = p;
    }
}

/* -------------------------------------------------------------- tasks */

/* HealthCheckTaskV2.initCheckRT: only the first time. */
static void init_check_rt(struct hc_task *t)
{
    struct lc_health_checker *hc = t->hc;
    long max = hc->n->sw.tcp_params.max;
    if (t->rt_normalized != -1) {
        return;
    }
    t->rt_normalized = LOWER_CHECK_RT + random_below(hc, random_below(hc, max));
    t->rt_best = 0x7fffffffL;
    t->rt_worst = 0;
}

static void on_task_timer(uv_timer_t *timer)
{
    struct hc_task *t = timer->data;
    struct lc_health_checker *hc = t->hc;
    struct lc_naming *n = hc->n;
    struct lc_client *client = lc_registry_find_client(n->reg, t->client_id);
    /* HealthCheckEnableInterceptor: nothing while the switch is off. */
    if (client != NULL && n->sw.health_check_enabled && hc->leading) {
        struct lc_publish *pub, *tmp;
        HASH_ITER(hh, client->publishes, pub, tmp)
        {
            if (lc_health_checks_on(n, pub->service, pub->inst->cluster)) {
                check_instance(t, pub);
            }
        }
    }
    init_check_rt(t);
    uv_timer_start(&t->timer, on_task_timer, (uint64_t)t->rt_normalized, 0);
}

static struct hc_task *task_new(struct lc_health_checker *hc,
                                const char *client_id)
{
    struct hc_task *t = calloc(1, sizeof *t);
    if (t == NULL || (t->client_id = strdup(client_id)) == NULL) {
        free(t);
        return NULL;
    }
    t->hc = hc;
    t->rt_normalized = -1;
    init_check_rt(t);
    uv_timer_init(hc->loop, &t->timer);
    t->timer.data = t;
    uv_timer_start(&t->timer, on_task_timer, (uint64_t)t->rt_normalized, 0);
    HASH_ADD_KEYPTR(hh, hc->tasks, t->client_id, strlen(t->client_id), t);
    hc->refs++;
    return t;
}

/* Stop a task: its timer and every probe; freed once all are closed. */
static void task_remove(struct hc_task *t)
{
    struct lc_health_checker *hc = t->hc;
    struct hc_probe *p = t->probes;
    HASH_DEL(hc->tasks, t);
    t->dead = true;
    uv_close((uv_handle_t *)&t->timer, on_task_timer_closed);
    while (p != NULL) {
        struct hc_probe *next = p->task_next;
        if (p->started || p->resolving) {
            probe_close(p);
        } else if (!p->done) {
            /* Still queued: unlink from the queue and free now. */
            struct hc_probe **pp = &hc->queue_head;
            hc->queue_tail = NULL;
            while (*pp != NULL) {
                if (*pp == p) {
                    *pp = p->queue_next;
                } else {
                    hc->queue_tail = *pp;
                    pp = &(*pp)->queue_next;
                }
            }
            p->done = true;
            probe_free(p);
        }
        p = next;
    }
}

static void remove_all_tasks(struct lc_health_checker *hc)
{
    struct hc_task *t, *tmp;
    HASH_ITER(hh, hc->tasks, t, tmp)
    {
        task_remove(t);
    }
}

/* Follow the persistent clients: a task for each, none for the gone. */
static void sweep(struct lc_health_checker *hc)
{
    struct lc_registry *reg = hc->n->reg;
    struct lc_client *c, *ctmp;
    struct hc_task *t, *ttmp;
    HASH_ITER(hh, hc->tasks, t, ttmp)
    {
        t->seen = false;
    }
    HASH_ITER(hh, reg->clients, c, ctmp)
    {
        if (c->ephemeral) {
            continue;
        }
        HASH_FIND_STR(hc->tasks, c->id, t);
        if (t == NULL) {
            t = task_new(hc, c->id);
        }
        if (t != NULL) {
            struct hc_inst *s, *stmp;
            t->seen = true;
            /* Forget the counts of instances no longer published. */
            HASH_ITER(hh, t->insts, s, stmp)
            {
                struct lc_publish *pub = NULL;
                HASH_FIND_STR(c->publishes, s->service_key, pub);
                if (pub == NULL && !s->being_checked && !s->writing) {
                    HASH_DEL(t->insts, s);
                    free(s->service_key);
                    free(s);
                }
            }
        }
    }
    HASH_ITER(hh, hc->tasks, t, ttmp)
    {
        if (!t->seen) {
            task_remove(t);
        }
    }
}

static void on_poll(uv_timer_t *timer)
{
    struct lc_health_checker *hc = timer->data;
    struct lc_raft_group *g = lc_statemachine_group(hc->n->persistent_sm);
    struct lc_raft_group_status st;
    bool leading = false;
    if (g != NULL) {
        lc_raft_group_status(g, &st);
        /* Not on election alone: only once this term's barrier is applied,
         * so every entry the old leader committed (a deregistration, a
         * health change) is in the registry the checks read and write. */
        leading = strcmp(st.state, "leader") == 0 && st.leader_ready;
    }
    if (leading != hc->leading) {
        lc_infof("health", "%s health checks of persistent instances",
                 leading ? "leading " LC_GROUP_PERSISTENT ": starting"
                         : "not leading " LC_GROUP_PERSISTENT ": stopping");
        hc->leading = leading;
    }
    if (leading) {
        sweep(hc);
    } else if (hc->tasks != NULL) {
        remove_all_tasks(hc);
    }
}

static void on_poll_closed(uv_handle_t *h)
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
    hc->n = n;
    hc->loop = n->loop;
    hc->rand_state = uv_hrtime() | 1;
    uv_timer_init(n->loop, &hc->poll);
    hc->poll.data = hc;
    uv_timer_start(&hc->poll, on_poll, POLL_MS, POLL_MS);
    hc->refs = 1;
    n->hc = hc;
    return 0;
}

void lc_health_checker_close(struct lc_health_checker *hc)
{
    if (hc->closing) {
        return;
    }
    hc->leading = false;
    remove_all_tasks(hc);
    hc->closing = true;
    hc->n = NULL;
    uv_close((uv_handle_t *)&hc->poll, on_poll_closed);
}
