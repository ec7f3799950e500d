/* Push tasks (Nacos's PushDelayTask): at most one pending per service, in a
 * list by due time, merged as changes come; and running one (a round).
 *
 * A task is due its first change plus the delay. A merge keeps the earlier
 * due time and widens the targets (a task for every subscriber absorbs
 * targeted ones). Tasks of the default delay are appended in order; a retry
 * (a transport's retry delay) is inserted where its due time falls.
 *
 * A round renders the service's ServiceInfo once per distinct clusters
 * string among its targets, has each transport encode it once, and starts
 * one delivery per target subscriber client, all sharing that payload.
 * Rendering or encoding that fails (out of memory) fails the pushes it was
 * for; the next change pushes again.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "naming/internal.h"
#include "naming/push/push_internal.h"

static void free_targets(struct task *t)
{
    struct task_target *x, *tmp;
    HASH_ITER(hh, t->targets, x, tmp)
    {
        HASH_DEL(t->targets, x);
        free(x->client_id);
        free(x);
    }
}

static void task_free(struct task *t)
{
    free_targets(t);
    free(t->key);
    free(t->ns);
    free(t->group);
    free(t->name);
    free(t);
}

static void task_unlink(struct lc_push *p, struct task *t)
{
    if (t->prev != NULL) {
        t->prev->next = t->next;
    } else {
        p->task_head = t->next;
    }
    if (t->next != NULL) {
        t->next->prev = t->prev;
    } else {
        p->task_tail = t->prev;
    }
    t->prev = t->next = NULL;
}

/* Insert @t by due time, after tasks due at the same time (from the tail:
 * most tasks have the default delay and go last). */
static void task_insert(struct lc_push *p, struct task *t)
{
    struct task *after = p->task_tail;
    while (after != NULL && after->due > t->due) {
        after = after->prev;
    }
    t->prev = after;
    t->next = after != NULL ? after->next : p->task_head;
    if (t->next != NULL) {
        t->next->prev = t;
    } else {
        p->task_tail = t;
    }
    if (after != NULL) {
        after->next = t;
    } else {
        p->task_head = t;
    }
}

static bool task_targets(const struct task *t, const char *client_id)
{
    struct task_target *x;
    if (t->all) {
        return true;
    }
    HASH_FIND_STR(t->targets, client_id, x);
    return x != NULL;
}

void push_add_task(struct lc_push *p, const struct sub_service *svc,
                   const char *target, unsigned delay_ms)
{
    uint64_t now = push_now(p);
    struct task *t;
    struct task_target *x;

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
        t->created = now;
        t->due = now + delay_ms;
        HASH_ADD_KEYPTR(hh, p->tasks, t->key, strlen(t->key), t);
        task_insert(p, t);
        push_schedule(p);
    } else {
        /* PushDelayTask.merge: the earlier time wins. */
        if (now + delay_ms < t->due) {
            t->due = now + delay_ms;
            task_unlink(p, t);
            task_insert(p, t);
            push_schedule(p);
        }
        if (target == NULL) {
            t->all = true;
            free_targets(t);
            return;
        }
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
        free_targets(t);
        return;
    }
    HASH_ADD_KEYPTR(hh, t->targets, x->client_id, strlen(x->client_id), x);
    return;
oom:
    lc_warnf("push", "out of memory scheduling a push of %s", svc->grouped);
}

uint64_t push_next_task(const struct lc_push *p)
{
    return p->task_head != NULL ? p->task_head->due : UINT64_MAX;
}

void push_free_tasks(struct lc_push *p)
{
    struct task *t;
    while ((t = p->task_head) != NULL) {
        task_unlink(p, t);
        HASH_DEL(p->tasks, t);
        task_free(t);
    }
}

/* ---------------------------------------------------------------- rounds */

/* The view of one clusters string in a round, rendered on first use, and
 * its payload per transport, encoded on first use. */
struct round_view {
    const char *clusters; /* a subscriber's, alive for the round */
    json_t *info;
    struct payload *pl[LC_PUSH_MAX_TRANSPORTS];
    int err[LC_PUSH_MAX_TRANSPORTS]; /* encode failed with this */
    struct round_view *next;
};

struct round {
    struct lc_push *p;
    const struct sub_service *svc;
    const struct lc_service *reg_svc; /* NULL: unknown service, no hosts */
    struct lc_service_key key;
    uint64_t id;
    struct round_view *views;
};

static struct round_view *round_view(struct round *r, const char *clusters)
{
    struct round_view *v;
    for (v = r->views; v != NULL; v = v->next) {
        if (strcmp(v->clusters, clusters) == 0) {
            return v;
        }
    }
    v = calloc(1, sizeof *v);
    if (v == NULL) {
        return NULL;
    }
    v->info =
        lc_render_service_info(r->p->n, r->reg_svc, &r->key, clusters, false);
    if (v->info == NULL) {
        free(v);
        return NULL;
    }
    v->clusters = clusters;
    v->next = r->views;
    r->views = v;
    return v;
}

/* The payload for @clusters on @slot's transport; NULL (and *@err) when it
 * cannot be made. */
static struct payload *round_payload(struct round *r, const char *clusters,
                                     struct push_slot *slot, int *err)
{
    struct lc_push *p = r->p;
    struct lc_push_transport *t = slot->t;
    size_t i = (size_t)(slot - p->slots);
    struct round_view *v = round_view(r, clusters);
    void *data = NULL;
    int rv;

    if (v == NULL) {
        *err = LC_ENOMEM;
        return NULL;
    }
    if (v->pl[i] != NULL || v->err[i] != 0) {
        *err = v->err[i];
        return v->pl[i];
    }
    {
        struct lc_push_view view = {
            .key = &r->key,
            .grouped = r->svc->grouped,
            .clusters = clusters,
            .info = v->info,
            .round = r->id,
        };
        PUSH_OP(p, rv = t->ops->encode(t, &view, &data));
    }
    if (rv == 0) {
        v->pl[i] = push_payload_new(slot, data, r->svc->key);
        rv = v->pl[i] == NULL ? LC_ENOMEM : 0;
    }
    v->err[i] = rv;
    *err = rv;
    return v->pl[i];
}

static void round_end(struct round *r)
{
    while (r->views != NULL) {
        struct round_view *v = r->views;
        r->views = v->next;
        for (size_t i = 0; i < LC_PUSH_MAX_TRANSPORTS; i++) {
            push_payload_unref(v->pl[i]);
        }
        json_decref(v->info);
        free(v);
    }
}

static void run_task(struct lc_push *p, struct task *t)
{
    struct sub_service *svc;
    struct sub *s, *tmp;
    struct round r;

    HASH_FIND_STR(p->services, t->key, svc);
    if (svc == NULL) {
        return;
    }
    p->st.rounds++;
    r = (struct round){
        .p = p,
        .svc = svc,
        .key = {svc->ns, svc->group, svc->name},
        .id = ++p->round,
    };
    r.reg_svc = lc_registry_find_service(p->n->reg, &r.key);
    HASH_ITER(hh_service, svc->subs, s, tmp)
    {
        struct payload *pl;
        int err;
        if (!task_targets(t, s->client->id)) {
            continue;
        }
        pl = round_payload(&r, s->clusters, s->client->slot, &err);
        if (pl == NULL) {
            lc_warnf("push", "cannot make the %s push of %s: %s",
                     s->client->slot->t->ops->name, svc->grouped,
                     lc_strerror(err));
            push_count_failed(p);
            continue;
        }
        push_deliver(p, s->client, pl, t->created);
    }
    round_end(&r);
}

/* How long one wake may spend starting rounds (opt.slice_us) before it
 * yields to the
 * loop: a burst of changes to many large services (10,000 connections
 * closing, each taking an instance from a service its neighbours subscribe
 * to) is hundreds of megabytes of pushes, and the loop also runs raft's
 * heartbeats. The rounds left are due already; the wake that yields asks
 * for the next one 1 ms later (push_wake), so that the loop polls for I/O
 * in between (libuv 1.44 runs a timer restarted with timeout 0 from a timer
 * callback in the same pass). A single round is not split. */
bool push_run_tasks(struct lc_push *p, uint64_t now)
{
    uint64_t start = uv_hrtime();
    unsigned ran = 0;
    struct task *t;
    while ((t = p->task_head) != NULL && t->due <= now) {
        if (ran > 0 && uv_hrtime() - start >= (uint64_t)p->opt.slice_us * 1000) {
            p->st.yields++;
            return true;
        }
        task_unlink(p, t);
        HASH_DEL(p->tasks, t);
        run_task(p, t);
        task_free(t);
        ran++;
    }
    return false;
}
