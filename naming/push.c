/* The push engine: delayed, merged UDP pushes to v1 subscribers, acks and
 * one resend (see push.h for the protocol).
 *
 * State: subscriber clients (by "ip:port#true") each holding one subscriber
 * per service, the service index (service key -> subscribers), pending push
 * tasks (one per service, in a FIFO by due time: every task has the same
 * delay, so appending keeps the order and one timer serves them all), and
 * pending acks (by lastRefTime and address, in a FIFO by deadline for the
 * same reason).
 *
 * Failure modes: a send that fails at once, or gets no ack after the resend,
 * counts as a failed push and is not retried (Nacos does not retry UDP
 * pushes either); the next change or subscription pushes again. Datagrams
 * that arrive on the socket and are not a matching ack are counted and
 * dropped.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "naming/internal.h"
#include "naming/push.h"

#define RECV_MAX 65536

struct sub_client;
struct sub_service;

/* One subscriber: a client's subscription to a service. */
struct sub {
    struct sub_client *client;
    struct sub_service *service;
    char *clusters;
    char *agent;
    char *app;
    UT_hash_handle hh_client;  /* in client->subs, by service key */
    UT_hash_handle hh_service; /* in service->subs, by client id */
};

struct sub_client {
    char *id; /* "ip:port#true" */
    char *ip; /* as given */
    int port;
    struct sockaddr_in addr;
    bool addr_ok;
    uint64_t last_updated; /* uv_now */
    struct sub *subs;
    UT_hash_handle hh;
};

struct sub_service {
    char *key; /* lc_service_key_text */
    char *ns;
    char *group;
    char *name;
    char *grouped;
    struct sub *subs;
    UT_hash_handle hh;
};

struct target {
    char *client_id;
    UT_hash_handle hh;
};

/* A pending push of one service (PushDelayTask). */
struct task {
    char *key;
    char *ns, *group, *name;
    bool all; /* every subscriber, else only targets */
    struct target *targets;
    uint64_t created; /* earliest merged change (uv_now) */
    uint64_t due;
    struct task *next;
    UT_hash_handle hh;
};

/* A datagram, shared by every subscriber it goes to. */
struct dgram {
    unsigned refs;
    size_t len;
    char data[];
};

struct ack_key {
    uint64_t ref;
    uint32_t ip;   /* network order */
    uint32_t port; /* network order, widened */
};

struct ack {
    struct ack_key key;
    struct sockaddr_in to;
    struct dgram *dg;
    unsigned sends;
    uint64_t deadline;
    uint64_t started; /* the task's created time, for the push cost */
    struct ack *prev, *next;
    UT_hash_handle hh;
};

struct send_req {
    uv_udp_send_t req;
    struct dgram *dg;
};

struct lc_push {
    struct lc_naming *n;
    uv_loop_t *loop;
    struct lc_push_options opt;
    uv_udp_t udp;
    uv_timer_t task_timer;
    uv_timer_t ack_timer;
    uv_timer_t sweep_timer;
    int port;

    struct sub_client *clients;
    struct sub_service *services;
    unsigned long n_subs;

    struct task *tasks; /* by key */
    struct task *task_head, *task_tail;

    struct ack *acks; /* by ack_key */
    struct ack *ack_head, *ack_tail;

    uint64_t last_ref;
    struct lc_push_stats st;
    uint64_t cost_sum;
    unsigned long cost_n;

    bool closing;
    unsigned open_handles;
    void (*close_cb)(void *data);
    void *close_data;
    char rbuf[RECV_MAX];
};

void lc_push_options_default(struct lc_push_options *o)
{
    *o = (struct lc_push_options){
        .delay_ms = LC_PUSH_DEFAULT_DELAY_MS,
        .ack_timeout_ms = LC_PUSH_DEFAULT_ACK_TIMEOUT_MS,
        .max_resends = 1,
        .client_expired_ms = LC_PUSH_DEFAULT_CLIENT_EXPIRED_MS,
        .expire_check_ms = 5000,
        .paused_poll_ms = 100,
    };
}

/* ------------------------------------------------------------ datagrams */

static struct dgram *dgram_new(const char *data, size_t len)
{
    struct dgram *d = malloc(sizeof *d + len);
    if (d == NULL) {
        return NULL;
    }
    d->refs = 1;
    d->len = len;
    memcpy(d->data, data, len);
    return d;
}

static void dgram_unref(struct dgram *d)
{
    if (d != NULL && --d->refs == 0) {
        free(d);
    }
}

/* Gzip @in whole (GZIPOutputStream's framing: a gzip member). */
static int gzip(const char *in, size_t len, char **out, size_t *out_len)
{
    z_stream zs;
    size_t cap;
    char *buf;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        return LC_ENOMEM;
    }
    cap = deflateBound(&zs, (uLong)len);
    buf = malloc(cap);
    if (buf == NULL) {
        deflateEnd(&zs);
        return LC_ENOMEM;
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)buf;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
        deflateEnd(&zs);
        free(buf);
        return LC_ENOMEM;
    }
    *out = buf;
    *out_len = zs.total_out;
    deflateEnd(&zs);
    return 0;
}

int lc_push_render(struct lc_naming *n, const struct lc_service_key *key,
                   const char *clusters, uint64_t ref, char **out, size_t *len)
{
    struct lc_service *svc = lc_registry_find_service(n->reg, key);
    json_t *info = lc_render_service_info(n, svc, key, clusters, false);
    json_t *root;
    char *data;
    char *text;
    size_t text_len;

    /* PushExecutorUdpImpl copies name (grouped), clusters, hosts,
     * lastRefTime and cacheMillis into a new ServiceInfo: groupName stays
     * null (left out) and reachProtectionThreshold false. */
    json_object_del(info, "groupName");
    json_object_set_new(info, "reachProtectionThreshold", json_false());
    data = json_dumps(info, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(info);
    if (data == NULL) {
        return LC_ENOMEM;
    }
    /* UdpPushService's HashMap iterates type, data, lastRefTime. */
    root = json_object();
    json_object_set_new(root, "type", json_string("dom"));
    json_object_set_new(root, "data", json_string(data));
    json_object_set_new(root, "lastRefTime", json_integer((json_int_t)ref));
    free(data);
    text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (text == NULL) {
        return LC_ENOMEM;
    }
    text_len = strlen(text);
    if (text_len >= LC_PUSH_GZIP_MIN) {
        char *z;
        size_t zlen;
        int rv = gzip(text, text_len, &z, &zlen);
        free(text);
        if (rv != 0) {
            return rv;
        }
        text = z;
        text_len = zlen;
    }
    *out = text;
    *len = text_len;
    return 0;
}

/* ------------------------------------------------------------- sending */

static void on_sent(uv_udp_send_t *req, int status)
{
    struct send_req *r = (struct send_req *)req;
    if (status != 0 && status != UV_ECANCELED) {
        lc_debugf("push", "udp send failed: %s", uv_strerror(status));
    }
    dgram_unref(r->dg);
    free(r);
}

/* Send @dg to @to without copying it when the socket takes it at once. */
static int send_to(struct lc_push *p, const struct sockaddr_in *to,
                   struct dgram *dg)
{
    uv_buf_t b = uv_buf_init(dg->data, (unsigned)dg->len);
    struct send_req *r;
    int rv = uv_udp_try_send(&p->udp, &b, 1, (const struct sockaddr *)to);
    if (rv >= 0) {
        p->st.sent++;
        return 0;
    }
    if (rv != UV_EAGAIN) {
        return rv;
    }
    r = malloc(sizeof *r);
    if (r == NULL) {
        return UV_ENOMEM;
    }
    r->dg = dg;
    dg->refs++;
    rv = uv_udp_send(&r->req, &p->udp, &b, 1, (const struct sockaddr *)to,
                     on_sent);
    if (rv != 0) {
        dgram_unref(dg);
        free(r);
        return rv;
    }
    p->st.sent++;
    return 0;
}

/* ---------------------------------------------------------------- acks */

static void ack_append(struct lc_push *p, struct ack *a)
{
    a->next = NULL;
    a->prev = p->ack_tail;
    if (p->ack_tail != NULL) {
        p->ack_tail->next = a;
    } else {
        p->ack_head = a;
    }
    p->ack_tail = a;
}

static void ack_unlink(struct lc_push *p, struct ack *a)
{
    if (a->prev != NULL) {
        a->prev->next = a->next;
    } else {
        p->ack_head = a->next;
    }
    if (a->next != NULL) {
        a->next->prev = a->prev;
    } else {
        p->ack_tail = a->prev;
    }
    a->prev = a->next = NULL;
}

static void ack_free(struct lc_push *p, struct ack *a)
{
    ack_unlink(p, a);
    HASH_DEL(p->acks, a);
    dgram_unref(a->dg);
    free(a);
}

static void on_ack_timer(uv_timer_t *t);

static void arm_ack_timer(struct lc_push *p)
{
    uint64_t now = uv_now(p->loop);
    if (p->closing) {
        return;
    }
    if (p->ack_head == NULL) {
        uv_timer_stop(&p->ack_timer);
        return;
    }
    uv_timer_start(
        &p->ack_timer, on_ack_timer,
        p->ack_head->deadline > now ? p->ack_head->deadline - now : 0, 0);
}

static void push_failed(struct lc_push *p, struct ack *a, const char *why)
{
    char ip[INET_ADDRSTRLEN] = "?";
    uv_ip4_name(&a->to, ip, sizeof ip);
    lc_infof("push", "push to %s:%d failed (%s), lastRefTime %llu", ip,
             ntohs(a->to.sin_port), why, (unsigned long long)a->key.ref);
    p->st.total++;
    p->st.failed++;
    ack_free(p, a);
}

static void on_ack_timer(uv_timer_t *t)
{
    struct lc_push *p = t->data;
    uint64_t now = uv_now(p->loop);
    struct ack *a;
    while ((a = p->ack_head) != NULL && a->deadline <= now) {
        int rv;
        if (a->sends > p->opt.max_resends) {
            push_failed(p, a, "no ack");
            continue;
        }
        ack_unlink(p, a);
        rv = send_to(p, &a->to, a->dg);
        a->sends++;
        p->st.resent++;
        if (rv != 0) {
            ack_append(p, a);
            push_failed(p, a, uv_strerror(rv));
            continue;
        }
        a->deadline = now + p->opt.ack_timeout_ms;
        ack_append(p, a);
    }
    arm_ack_timer(p);
}

/* Java's Long.parseLong for the ack's lastRefTime (the Java 1.x client sends
 * it as a string); a JSON number is taken as is (Jackson truncates reals). */
static bool ack_ref(json_t *v, uint64_t *out)
{
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0) {
            return false;
        }
        *out = (uint64_t)json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= 0 && d < 18446744073709551616.0)) {
            return false;
        }
        *out = (uint64_t)d;
        return true;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        uint64_t x = 0;
        if (*s == '+') {
            s++;
        }
        if (*s == '\0') {
            return false;
        }
        for (; *s != '\0'; s++) {
            if (*s < '0' || *s > '9' || x > (UINT64_MAX - 9) / 10) {
                return false;
            }
            x = x * 10 + (uint64_t)(*s - '0');
        }
        *out = x;
        return true;
    }
    return false;
}

static void handle_datagram(struct lc_push *p, const char *data, size_t len,
                            const struct sockaddr *from)
{
    json_t *root;
    uint64_t ref;
    struct ack_key key;
    struct ack *a;

    /* UdpReceiver trims the text (Java's trim: bytes <= ' '). */
    while (len > 0 && (unsigned char)data[len - 1] <= ' ') {
        len--;
    }
    root = json_loadb(data, len, 0, NULL);
    if (!json_is_object(root) ||
        !ack_ref(json_object_get(root, "lastRefTime"), &ref)) {
        p->st.malformed++;
        lc_debugf("push", "dropped a %zu-byte datagram that is not an ack",
                  len);
        json_decref(root);
        return;
    }
    json_decref(root);
    if (from == NULL || from->sa_family != AF_INET) {
        p->st.unmatched++;
        return;
    }
    memset(&key, 0, sizeof key);
    key.ref = ref;
    key.ip = ((const struct sockaddr_in *)from)->sin_addr.s_addr;
    key.port = ((const struct sockaddr_in *)from)->sin_port;
    HASH_FIND(hh, p->acks, &key, sizeof key, a);
    if (a == NULL) {
        p->st.unmatched++;
        lc_debugf("push", "ack for no pending push, lastRefTime %llu",
                  (unsigned long long)ref);
        return;
    }
    {
        uint64_t cost = uv_now(p->loop) - a->started;
        p->st.total++;
        p->cost_sum += cost;
        p->cost_n++;
        if ((long long)cost > p->st.max_cost_ms) {
            p->st.max_cost_ms = (long long)cost;
        }
    }
    ack_free(p, a);
    arm_ack_timer(p);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct lc_push *p = h->data;
    (void)suggested;
    buf->base = p->rbuf;
    buf->len = sizeof p->rbuf;
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                    const struct sockaddr *addr, unsigned flags)
{
    struct lc_push *p = h->data;
    if (nread < 0) {
        lc_debugf("push", "udp receive: %s", uv_strerror((int)nread));
        return;
    }
    if (addr == NULL) {
        return; /* nothing more to read */
    }
    if (nread == 0 || (flags & UV_UDP_PARTIAL) != 0) {
        p->st.malformed++;
        return;
    }
    handle_datagram(p, buf->base, (size_t)nread, addr);
}

/* ---------------------------------------------------------------- tasks */

static void task_free(struct task *t)
{
    struct target *x, *tmp;
    HASH_ITER(hh, t->targets, x, tmp)
    {
        HASH_DEL(t->targets, x);
        free(x->client_id);
        free(x);
    }
    free(t->key);
    free(t->ns);
    free(t->group);
    free(t->name);
    free(t);
}

static bool task_targets(const struct task *t, const char *client_id)
{
    struct target *x;
    if (t->all) {
        return true;
    }
    HASH_FIND_STR(t->targets, client_id, x);
    return x != NULL;
}

/* The datagram for @clusters in this round, rendered on first use. */
struct render_cache {
    const char *clusters;
    struct dgram *dg;
    struct render_cache *next;
};

static struct dgram *cached_render(struct lc_push *p,
                                   struct render_cache **cache,
                                   const struct lc_service_key *key,
                                   const char *clusters, uint64_t ref)
{
    struct render_cache *c;
    char *text;
    size_t len;
    for (c = *cache; c != NULL; c = c->next) {
        if (strcmp(c->clusters, clusters) == 0) {
            return c->dg;
        }
    }
    c = calloc(1, sizeof *c);
    if (c == NULL ||
        lc_push_render(p->n, key, clusters, ref, &text, &len) != 0) {
        free(c);
        return NULL;
    }
    c->dg = dgram_new(text, len);
    free(text);
    if (c->dg == NULL) {
        free(c);
        return NULL;
    }
    c->clusters = clusters;
    c->next = *cache;
    *cache = c;
    return c->dg;
}

static uint64_t next_ref(struct lc_push *p)
{
    /* Microseconds of a monotonic clock: unique, increasing, and 2^53 us is
     * 285 years, so JavaScript doubles hold it exactly. */
    uint64_t now = uv_hrtime() / 1000;
    p->last_ref = now > p->last_ref ? now : p->last_ref + 1;
    return p->last_ref;
}

static void push_one(struct lc_push *p, struct sub *s, struct dgram *dg,
                     uint64_t ref, uint64_t started)
{
    struct sub_client *c = s->client;
    struct ack *a;
    int rv;

    if (!c->addr_ok) {
        lc_debugf("push", "cannot push to %s: not an IPv4 address", c->id);
        p->st.total++;
        p->st.failed++;
        return;
    }
    a = calloc(1, sizeof *a);
    if (a == NULL) {
        p->st.total++;
        p->st.failed++;
        return;
    }
    a->key.ref = ref;
    a->key.ip = c->addr.sin_addr.s_addr;
    a->key.port = c->addr.sin_port;
    a->to = c->addr;
    a->dg = dg;
    dg->refs++;
    a->started = started;
    a->deadline = uv_now(p->loop) + p->opt.ack_timeout_ms;
    a->sends = 1;
    HASH_ADD(hh, p->acks, key, sizeof a->key, a);
    ack_append(p, a);
    rv = send_to(p, &a->to, dg);
    if (rv != 0) {
        push_failed(p, a, uv_strerror(rv));
    }
}

static void run_task(struct lc_push *p, struct task *t)
{
    struct sub_service *svc;
    struct sub *s, *tmp;
    struct render_cache *cache = NULL;
    struct lc_service_key key = {t->ns, t->group, t->name};
    uint64_t ref;

    HASH_FIND_STR(p->services, t->key, svc);
    if (svc == NULL) {
        return;
    }
    p->st.rounds++;
    ref = next_ref(p);
    HASH_ITER(hh_service, svc->subs, s, tmp)
    {
        struct dgram *dg;
        if (!task_targets(t, s->client->id)) {
            continue;
        }
        dg = cached_render(p, &cache, &key, s->clusters, ref);
        if (dg == NULL) {
            lc_warnf("push", "out of memory rendering a push of %s",
                     svc->grouped);
            p->st.total++;
            p->st.failed++;
            continue;
        }
        push_one(p, s, dg, ref, t->created);
    }
    while (cache != NULL) {
        struct render_cache *next = cache->next;
        dgram_unref(cache->dg);
        free(cache);
        cache = next;
    }
    arm_ack_timer(p);
}

static void on_task_timer(uv_timer_t *timer);

static void arm_task_timer(struct lc_push *p)
{
    uint64_t now = uv_now(p->loop);
    if (p->closing) {
        return;
    }
    if (p->task_head == NULL) {
        uv_timer_stop(&p->task_timer);
        return;
    }
    uv_timer_start(&p->task_timer, on_task_timer,
                   p->task_head->due > now ? p->task_head->due - now : 0, 0);
}

static void on_task_timer(uv_timer_t *timer)
{
    struct lc_push *p = timer->data;
    uint64_t now = uv_now(p->loop);
    struct task *t;

    /* PushDelayTaskExecuteEngine: while pushEnabled is false, tasks wait
     * (and keep merging); they run once it is true again. */
    if (!p->n->sw.push_enabled) {
        uv_timer_start(&p->task_timer, on_task_timer, p->opt.paused_poll_ms, 0);
        return;
    }
    while ((t = p->task_head) != NULL && t->due <= now) {
        p->task_head = t->next;
        if (p->task_head == NULL) {
            p->task_tail = NULL;
        }
        HASH_DEL(p->tasks, t);
        run_task(p, t);
        task_free(t);
    }
    arm_task_timer(p);
}

/* Schedule a push of @svc to every subscriber (@target NULL) or to one
 * client, merging into the pending task when there is one. */
static void add_task(struct lc_push *p, const struct sub_service *svc,
                     const char *target)
{
    struct task *t;
    struct target *x;
    HASH_FIND_STR(p->tasks, svc->key, t);
    if (t == NULL) {
        t = calloc(1, sizeof *t);
        if (t == NULL) {
            goto oom;
        }
        t->key = strdup(svc->key);
        t->ns = strdup(svc->ns);
        t->group = strdup(svc->group);
        t->name = strdup(svc->name);
        if (t->key == NULL || t->ns == NULL || t->group == NULL ||
            t->name == NULL) {
            task_free(t);
            goto oom;
        }
        t->all = target == NULL;
        t->created = uv_now(p->loop);
        t->due = t->created + p->opt.delay_ms;
        HASH_ADD_KEYPTR(hh, p->tasks, t->key, strlen(t->key), t);
        if (p->task_tail != NULL) {
            p->task_tail->next = t;
        } else {
            p->task_head = t;
        }
        p->task_tail = t;
        if (p->task_head == t) {
            arm_task_timer(p);
        }
    } else if (target == NULL) {
        struct target *tmp;
        t->all = true;
        HASH_ITER(hh, t->targets, x, tmp)
        {
            HASH_DEL(t->targets, x);
            free(x->client_id);
            free(x);
        }
        return;
    }
    if (t->all) {
        return;
    }
    HASH_FIND_STR(t->targets, target, x);
    if (x != NULL) {
        return;
    }
    x = calloc(1, sizeof *x);
    if (x == NULL || (x->client_id = strdup(target)) == NULL) {
        free(x);
        t->all = true; /* pushing to more clients is safe */
        return;
    }
    HASH_ADD_KEYPTR(hh, t->targets, x->client_id, strlen(x->client_id), x);
    return;
oom:
    lc_warnf("push", "out of memory scheduling a push of %s", svc->grouped);
}

/* ServiceChangedEvent: push the service to every subscriber. */
static void on_service_changed(const struct lc_event *ev, void *data)
{
    struct lc_naming *n = data;
    struct lc_push *p = n->push;
    struct lc_service_key key = {ev->ns, ev->group, ev->service};
    struct sub_service *svc;
    char text[1600];

    if (p == NULL || p->closing || ev->ns == NULL || ev->group == NULL ||
        ev->service == NULL || !lc_service_key_text(text, sizeof text, &key)) {
        return;
    }
    HASH_FIND_STR(p->services, text, svc);
    if (svc != NULL) {
        add_task(p, svc, NULL);
    }
}

/* ---------------------------------------------------------- subscribers */

static void sub_free(struct lc_push *p, struct sub *s)
{
    struct sub_service *svc = s->service;
    HASH_DELETE(hh_service, svc->subs, s);
    HASH_DELETE(hh_client, s->client->subs, s);
    if (svc->subs == NULL) {
        HASH_DEL(p->services, svc);
        free(svc->key);
        free(svc->ns);
        free(svc->group);
        free(svc->name);
        free(svc->grouped);
        free(svc);
    }
    free(s->clusters);
    free(s->agent);
    free(s->app);
    free(s);
    p->n_subs--;
}

static void client_free(struct lc_push *p, struct sub_client *c)
{
    struct sub *s, *tmp;
    HASH_ITER(hh_client, c->subs, s, tmp)
    {
        sub_free(p, s);
    }
    HASH_DEL(p->clients, c);
    free(c->id);
    free(c->ip);
    free(c);
}

/* The address pushes go to: clientIP, or loopback when it is blank (Java's
 * InetSocketAddress("", port) resolves to the loopback address). */
static void resolve(struct sub_client *c)
{
    const char *ip = c->ip[0] != '\0' ? c->ip : "127.0.0.1";
    c->addr_ok = c->port > 0 && c->port <= 65535 &&
                 uv_ip4_addr(ip, c->port, &c->addr) == 0;
}

static struct sub_client *client_get(struct lc_push *p, const char *ip,
                                     int port)
{
    char id[320];
    struct sub_client *c;
    snprintf(id, sizeof id, "%s:%d#true", ip, port);
    HASH_FIND_STR(p->clients, id, c);
    if (c != NULL) {
        return c;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL || (c->id = strdup(id)) == NULL ||
        (c->ip = strdup(ip)) == NULL) {
        if (c != NULL) {
            free(c->id);
        }
        free(c);
        return NULL;
    }
    c->port = port;
    resolve(c);
    HASH_ADD_KEYPTR(hh, p->clients, c->id, strlen(c->id), c);
    return c;
}

static struct sub_service *service_get(struct lc_push *p,
                                       const struct lc_push_subscriber *in,
                                       const char *key)
{
    struct sub_service *svc;
    char grouped[1300];
    HASH_FIND_STR(p->services, key, svc);
    if (svc != NULL) {
        return svc;
    }
    snprintf(grouped, sizeof grouped, "%s@@%s", in->group, in->service);
    svc = calloc(1, sizeof *svc);
    if (svc == NULL) {
        return NULL;
    }
    svc->key = strdup(key);
    svc->ns = strdup(in->ns);
    svc->group = strdup(in->group);
    svc->name = strdup(in->service);
    svc->grouped = strdup(grouped);
    if (svc->key == NULL || svc->ns == NULL || svc->group == NULL ||
        svc->name == NULL || svc->grouped == NULL) {
        free(svc->key);
        free(svc->ns);
        free(svc->group);
        free(svc->name);
        free(svc->grouped);
        free(svc);
        return NULL;
    }
    HASH_ADD_KEYPTR(hh, p->services, svc->key, strlen(svc->key), svc);
    return svc;
}

/* Replace *@field with a copy of @value; false when out of memory. */
static bool set_str(char **field, const char *value)
{
    char *copy = strdup(value != NULL ? value : "");
    if (copy == NULL) {
        return false;
    }
    free(*field);
    *field = copy;
    return true;
}

int lc_push_subscribe(struct lc_push *p, const struct lc_push_subscriber *in)
{
    struct lc_service_key key = {in->ns, in->group, in->service};
    char text[1600];
    struct sub_client *c;
    struct sub_service *svc;
    struct sub *s;

    if (p->closing || in->port <= 0 ||
        !lc_service_key_text(text, sizeof text, &key)) {
        return LC_EINVAL;
    }
    c = client_get(p, in->ip != NULL ? in->ip : "", in->port);
    if (c == NULL) {
        return LC_ENOMEM;
    }
    c->last_updated = uv_now(p->loop);
    HASH_FIND(hh_client, c->subs, text, strlen(text), s);
    if (s != NULL) {
        /* Client.addServiceSubscriber replaces the subscriber; no new
         * ServiceSubscribedEvent, so no push. */
        if (!set_str(&s->clusters, in->clusters) ||
            !set_str(&s->agent, in->agent) || !set_str(&s->app, in->app)) {
            return LC_ENOMEM;
        }
        return 0;
    }
    svc = service_get(p, in, text);
    s = svc != NULL ? calloc(1, sizeof *s) : NULL;
    if (s == NULL || !set_str(&s->clusters, in->clusters) ||
        !set_str(&s->agent, in->agent) || !set_str(&s->app, in->app)) {
        if (s != NULL) {
            free(s->clusters);
            free(s->agent);
            free(s);
        }
        if (svc != NULL && svc->subs == NULL) {
            HASH_DEL(p->services, svc);
            free(svc->key);
            free(svc->ns);
            free(svc->group);
            free(svc->name);
            free(svc->grouped);
            free(svc);
        }
        if (c->subs == NULL) {
            client_free(p, c);
        }
        return LC_ENOMEM;
    }
    s->client = c;
    s->service = svc;
    HASH_ADD_KEYPTR(hh_client, c->subs, svc->key, strlen(svc->key), s);
    HASH_ADD_KEYPTR(hh_service, svc->subs, c->id, strlen(c->id), s);
    p->n_subs++;
    lc_debugf("push", "%s subscribed to %s (clusters '%s')", c->id,
              svc->grouped, s->clusters);
    add_task(p, svc, c->id);
    return 0;
}

/* IpPortBasedClient.isExpire: no published instance and not refreshed for
 * the expiry time. */
static void on_sweep(uv_timer_t *t)
{
    struct lc_push *p = t->data;
    uint64_t now = uv_now(p->loop);
    struct sub_client *c, *tmp;
    HASH_ITER(hh, p->clients, c, tmp)
    {
        struct lc_client *pub;
        if (now - c->last_updated <= p->opt.client_expired_ms) {
            continue;
        }
        pub = lc_registry_find_client(p->n->reg, c->id);
        if (pub != NULL && pub->publishes != NULL) {
            continue;
        }
        lc_infof("push", "subscriber client %s expired", c->id);
        client_free(p, c);
    }
}

void lc_push_each_subscriber(const struct lc_push *p, const char *ns,
                             const char *group, const char *name,
                             lc_push_subscriber_cb fn, void *data)
{
    const struct sub_service *svc, *tmp;
    HASH_ITER(hh, p->services, svc, tmp)
    {
        const struct sub *s, *stmp;
        if (strcmp(svc->ns, ns) != 0 || strstr(svc->name, name) == NULL ||
            strstr(svc->group, group) == NULL) {
            continue;
        }
        HASH_ITER(hh_service, svc->subs, s, stmp)
        {
            struct lc_push_subscriber out = {
                .ns = svc->ns,
                .group = svc->group,
                .service = svc->name,
                .clusters = s->clusters,
                .ip = s->client->ip,
                .port = s->client->port,
                .agent = s->agent,
                .app = s->app,
            };
            fn(&out, svc->grouped, data);
        }
    }
}

/* ------------------------------------------------------------ lifetime */

static void arm_sweep(struct lc_push *p)
{
    unsigned period =
        p->opt.expire_check_ms > 0 ? p->opt.expire_check_ms : 5000;
    uv_timer_start(&p->sweep_timer, on_sweep, period, period);
}

int lc_push_new(struct lc_naming *n, const struct lc_push_options *o,
                struct lc_push **out)
{
    struct lc_push *p = calloc(1, sizeof *p);
    struct sockaddr_in any;
    struct sockaddr_storage name;
    int namelen = sizeof name;
    int rv;

    if (p == NULL) {
        return LC_ENOMEM;
    }
    p->n = n;
    p->loop = n->loop;
    if (o != NULL) {
        p->opt = *o;
    } else {
        lc_push_options_default(&p->opt);
    }
    p->st.max_cost_ms = -1;
    p->st.avg_cost_ms = -1;
    rv = lc_bus_subscribe(n->bus, LC_EV_SERVICE_CHANGED, on_service_changed, n);
    if (rv != 0) {
        free(p);
        return rv;
    }
    uv_udp_init(p->loop, &p->udp);
    uv_timer_init(p->loop, &p->task_timer);
    uv_timer_init(p->loop, &p->ack_timer);
    uv_timer_init(p->loop, &p->sweep_timer);
    p->udp.data = p->task_timer.data = p->ack_timer.data = p->sweep_timer.data =
        p;
    p->open_handles = 4;
    uv_ip4_addr("0.0.0.0", 0, &any);
    rv = uv_udp_bind(&p->udp, (const struct sockaddr *)&any, 0);
    if (rv == 0) {
        rv = uv_udp_getsockname(&p->udp, (struct sockaddr *)&name, &namelen);
    }
    if (rv == 0) {
        rv = uv_udp_recv_start(&p->udp, on_alloc, on_recv);
    }
    if (rv != 0) {
        lc_errorf("push", "cannot open the UDP push socket: %s",
                  uv_strerror(rv));
        lc_push_close(p, NULL, NULL);
        return lc_err_from_uv(rv);
    }
    p->port = ntohs(((struct sockaddr_in *)&name)->sin_port);
    arm_sweep(p);
    *out = p;
    return 0;
}

void lc_push_set_options(struct lc_push *p, const struct lc_push_options *o)
{
    p->opt = *o;
    if (!p->closing) {
        arm_sweep(p);
    }
}

static void push_free(struct lc_push *p)
{
    struct sub_client *c, *ctmp;
    struct task *t, *ttmp;
    HASH_ITER(hh, p->clients, c, ctmp)
    {
        client_free(p, c);
    }
    HASH_ITER(hh, p->tasks, t, ttmp)
    {
        HASH_DEL(p->tasks, t);
        task_free(t);
    }
    while (p->ack_head != NULL) {
        ack_free(p, p->ack_head);
    }
    free(p);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct lc_push *p = h->data;
    if (--p->open_handles == 0) {
        void (*cb)(void *) = p->close_cb;
        void *data = p->close_data;
        push_free(p);
        if (cb != NULL) {
            cb(data);
        }
    }
}

void lc_push_close(struct lc_push *p, void (*cb)(void *data), void *data)
{
    p->closing = true;
    p->close_cb = cb;
    p->close_data = data;
    uv_close((uv_handle_t *)&p->udp, on_handle_closed);
    uv_close((uv_handle_t *)&p->task_timer, on_handle_closed);
    uv_close((uv_handle_t *)&p->ack_timer, on_handle_closed);
    uv_close((uv_handle_t *)&p->sweep_timer, on_handle_closed);
}

int lc_push_port(const struct lc_push *p)
{
    return p != NULL ? p->port : -1;
}

void lc_push_stats(const struct lc_push *p, struct lc_push_stats *st)
{
    *st = p->st;
    st->avg_cost_ms = p->cost_n > 0 ? (long long)(p->cost_sum / p->cost_n) : -1;
    st->subscribers = p->n_subs;
    st->pending_acks = HASH_COUNT(p->acks);
}

void lc_push_reset_stats(struct lc_push *p)
{
    /* MetricsMonitor.resetPush. */
    p->st.total = 0;
    p->st.failed = 0;
    p->st.max_cost_ms = -1;
    p->cost_sum = 0;
    p->cost_n = 0;
}
