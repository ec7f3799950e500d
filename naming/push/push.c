/* The push engine: delayed, merged UDP pushes to v1 subscribers, acks and
 * one resend (see push.h for the protocol). Subscribers are kept in
 * push_subscribers.c, datagrams rendered in push_render.c.
 *
 * State: pending push tasks (one per service, in a FIFO by due time: every
 * task has the same delay, so appending keeps the order and one timer serves
 * them all) and pending acks (by lastRefTime and address, in a FIFO by
 * deadline for the same reason).
 *
 * Failure modes: a send that fails at once, or gets no ack after the resend,
 * counts as a failed push and is not retried (Nacos does not retry UDP
 * pushes either); the next change or subscription pushes again. Datagrams
 * that arrive on the socket and are not a matching ack are counted and
 * dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "naming/internal.h"
#include "naming/push/push_internal.h"

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

/* ------------------------------------------------------------- sending */

static void on_sent(uv_udp_send_t *req, int status)
{
    struct send_req *r = (struct send_req *)req;
    if (status != 0 && status != UV_ECANCELED) {
        lc_debugf("push", "udp send failed: %s", uv_strerror(status));
    }
    push_dgram_unref(r->dg);
    free(r);
}

/* Send @dg to @dest without copying it when the socket takes it at once.
 * The dual-stack IPv6 socket reaches IPv4 addresses as mapped ones. */
static int send_to(struct lc_push *p, const struct sockaddr_storage *dest,
                   struct dgram *dg)
{
    uv_buf_t b = uv_buf_init(dg->data, (unsigned)dg->len);
    struct send_req *r;
    struct sockaddr_in6 mapped;
    const struct sockaddr *to = (const struct sockaddr *)dest;
    int rv;

    if (p->v6 && dest->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)dest;
        memset(&mapped, 0, sizeof mapped);
        mapped.sin6_family = AF_INET6;
        mapped.sin6_port = v4->sin_port;
        mapped.sin6_addr.s6_addr[10] = mapped.sin6_addr.s6_addr[11] = 0xff;
        memcpy(&mapped.sin6_addr.s6_addr[12], &v4->sin_addr, 4);
        to = (const struct sockaddr *)&mapped;
    } else if (!p->v6 && dest->ss_family != AF_INET) {
        return UV_EAFNOSUPPORT; /* no IPv6 on this host */
    }
    rv = uv_udp_try_send(&p->udp, &b, 1, to);
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
    rv = uv_udp_send(&r->req, &p->udp, &b, 1, to, on_sent);
    if (rv != 0) {
        push_dgram_unref(dg);
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
    push_dgram_unref(a->dg);
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
    char to[INET6_ADDRSTRLEN + 16];
    push_addr_text((const struct sockaddr *)&a->to, to, sizeof to);
    lc_infof("push", "push to %s failed (%s), lastRefTime %llu", to, why,
             (unsigned long long)a->key.ref);
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
    if (from == NULL || !push_ack_key(&key, ref, from)) {
        p->st.unmatched++;
        return;
    }
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
    c->dg = push_dgram_new(text, len);
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

void push_count_failed(struct lc_push *p)
{
    p->st.total++;
    p->st.failed++;
}

void push_send_to_client(struct lc_push *p, struct sub_client *c,
                         struct dgram *dg, uint64_t ref, uint64_t started)
{
    struct ack *a;
    struct ack *dup;
    int rv;

    a = calloc(1, sizeof *a);
    if (a == NULL || !push_ack_key(&a->key, ref,
                                   (const struct sockaddr *)&c->addr)) {
        free(a);
        push_count_failed(p);
        return;
    }
    /* Two clients naming the same address (a name and its IP) in one
     * round: the datagram already awaits that ack. */
    HASH_FIND(hh, p->acks, &a->key, sizeof a->key, dup);
    if (dup != NULL) {
        free(a);
        return;
    }
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
    if (p->ack_head != NULL && p->ack_head == p->ack_tail) {
        arm_ack_timer(p); /* the first pending ack */
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
        push_to_client(p, s->client, dg, ref, t->created);
    }
    while (cache != NULL) {
        struct render_cache *next = cache->next;
        push_dgram_unref(cache->dg);
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
void push_add_task(struct lc_push *p, const struct sub_service *svc,
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
        push_add_task(p, svc, NULL);
    }
}

/* ------------------------------------------------------------ lifetime */

int lc_push_new(struct lc_naming *n, const struct lc_push_options *o,
                struct lc_push **out)
{
    struct lc_push *p = calloc(1, sizeof *p);
    struct sockaddr_storage any;
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
    /* One dual-stack IPv6 socket reaches IPv4 and IPv6 subscribers, as the
     * JVM's DatagramSocket; a host without IPv6 gets an IPv4 one. */
    p->v6 = uv_udp_init_ex(p->loop, &p->udp, AF_INET6) == 0;
    if (p->v6) {
        uv_os_fd_t fd;
        int off = 0;
        if (uv_fileno((uv_handle_t *)&p->udp, &fd) == 0) {
            (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
        }
        uv_ip6_addr("::", 0, (struct sockaddr_in6 *)&any);
    } else {
        uv_udp_init(p->loop, &p->udp);
        uv_ip4_addr("0.0.0.0", 0, (struct sockaddr_in *)&any);
    }
    uv_timer_init(p->loop, &p->task_timer);
    uv_timer_init(p->loop, &p->ack_timer);
    uv_timer_init(p->loop, &p->sweep_timer);
    p->udp.data = p->task_timer.data = p->ack_timer.data = p->sweep_timer.data =
        p;
    p->open_handles = 4;
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
    p->port = name.ss_family == AF_INET6
                  ? ntohs(((struct sockaddr_in6 *)&name)->sin6_port)
                  : ntohs(((struct sockaddr_in *)&name)->sin_port);
    push_arm_sweep(p);
    *out = p;
    return 0;
}

void lc_push_set_options(struct lc_push *p, const struct lc_push_options *o)
{
    p->opt = *o;
    if (!p->closing) {
        push_arm_sweep(p);
    }
}

static void push_free(struct lc_push *p)
{
    struct sub_client *c, *ctmp;
    struct task *t, *ttmp;
    HASH_ITER(hh, p->clients, c, ctmp)
    {
        push_client_free(p, c);
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

void push_hold(struct lc_push *p)
{
    p->open_handles++;
}

void push_release(struct lc_push *p)
{
    if (--p->open_handles == 0) {
        void (*cb)(void *) = p->close_cb;
        void *data = p->close_data;
        push_free(p);
        if (cb != NULL) {
            cb(data);
        }
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    push_release(h->data);
}

void lc_push_close(struct lc_push *p, void (*cb)(void *data), void *data)
{
    p->closing = true;
    p->close_cb = cb;
    p->close_data = data;
    push_cancel_lookups(p);
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
