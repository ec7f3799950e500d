/* Private to the push engine's files (push.c, push_tasks.c,
 * push_delivery.c, push_subscribers.c): its state and what the files call
 * in each other. Transports do not include it; engine tests do (to drive
 * the engine on a simulated clock). */
#ifndef LC_NAMING_PUSH_INTERNAL_H
#define LC_NAMING_PUSH_INTERNAL_H

#include <uthash.h>
#include <uv.h>

#include "naming/push/push.h"
#include "naming/push/transport.h"

struct sub_service;
struct delivery;

/* A registered transport and its deliveries awaiting an ack, in a FIFO by
 * deadline (one ack timeout per transport, so appending keeps the order). */
struct push_slot {
    struct lc_push_transport *t;
    struct delivery *head, *tail;
};

/* A subscriber client: one per client id, on one transport. */
struct push_client {
    char *id;
    struct push_slot *slot;
    void *target; /* the transport's */
    char *ip;     /* as it gave it, for the listing */
    int port;
    uint64_t last_updated;       /* last lc_push_subscribe */
    struct sub *subs;            /* by service key */
    struct delivery *deliveries; /* pending, linked by cnext */
    UT_hash_handle hh;
};

/* One subscriber: a client's subscription to a service. */
struct sub {
    struct push_client *client;
    struct sub_service *service;
    char *clusters;
    char *agent;
    char *app;
    UT_hash_handle hh_client;  /* in client->subs, by service key */
    UT_hash_handle hh_service; /* in service->subs, by client id */
};

struct sub_service {
    char *key; /* lc_service_key_text; one allocation with the names */
    char *ns;
    char *group;
    char *name;
    char *grouped;
    struct sub *subs;
    UT_hash_handle hh;
};

struct task_target {
    char *client_id;
    UT_hash_handle hh;
};

/* A pending push of one service (PushDelayTask), in a list by due time. */
struct task {
    char *key;
    char *ns, *group, *name;
    bool all; /* every subscriber, else only targets */
    struct task_target *targets;
    uint64_t created; /* earliest merged change */
    uint64_t due;
    struct task *prev, *next;
    UT_hash_handle hh;
};

/* A transport's payload, shared by the deliveries of one round that have
 * the same clusters and transport. */
struct payload {
    unsigned refs;
    struct push_slot *slot;
    void *data;
    char *key; /* the service, for retries */
};

struct delivery {
    struct lc_push_delivery pub;
    struct push_client *client;
    struct payload *pl;
    uint64_t started;               /* the task's first change, for the cost */
    uint64_t deadline;              /* when awaiting */
    bool awaiting;                  /* sent, in the slot's FIFO */
    bool again; /* one_in_flight: a newer round waits for this one's end */
    struct delivery *prev, *next;   /* in the slot's FIFO */
    struct delivery *cprev, *cnext; /* in the client's list */
    UT_hash_handle hh;              /* by id */
};

/* Where the engine's time comes from and how it asks to be woken:
 * uv_now and one uv timer, or a test's simulated clock. */
struct push_clock {
    uint64_t (*now)(void *data);
    /* Call push_wake() at @at or later (replaces the previous request). */
    void (*arm)(void *data, uint64_t at);
    void *data;
};

struct lc_push {
    struct lc_naming *n;
    uv_loop_t *loop;
    struct lc_push_options opt;
    uv_timer_t timer;
    struct push_clock clock;
    uint64_t armed_at; /* UINT64_MAX: not armed */
    uint64_t next_sweep;

    struct push_slot slots[LC_PUSH_MAX_TRANSPORTS];
    unsigned n_slots;

    struct push_client *clients;
    struct sub_service *services;
    unsigned long n_subs;

    struct task *tasks; /* by key */
    struct task *task_head, *task_tail;
    uint64_t round;

    struct delivery *deliveries; /* by id */
    uint64_t next_id;
    unsigned long n_awaiting;

    struct lc_push_stats st;
    uint64_t cost_sum;
    unsigned long cost_n;

    unsigned in_op; /* inside a transport op: entry points are forbidden */
    bool closing;
    unsigned open; /* the timer and the transports still closing */
    void (*close_cb)(void *data);
    void *close_data;
};

/* ------------------------------------------------------------ push.c */

uint64_t push_now(struct lc_push *p);

/* Arm the wake-up for the earliest of: the first task, the first ack
 * deadline, the next expiry sweep. */
void push_schedule(struct lc_push *p);

/* Run what is due now: the sweep, tasks (unless pushEnabled is off),
 * deadlines; then re-arm. The timer calls it; so do clock-driven tests. */
void push_wake(struct lc_push *p);

/* Use @c instead of uv_now and the engine's timer (tests, before any
 * traffic); restarts the sweep period from c's now. */
void push_set_clock(struct lc_push *p, const struct push_clock *c);

struct push_slot *push_slot_of(struct lc_push *p,
                               const struct lc_push_transport *t);

/* ------------------------------------------------------ push_tasks.c */

/* Schedule a push of @svc to every subscriber (@target NULL) or to the
 * client @target (copied) after @delay_ms, merging into the pending task
 * if there is one (the earlier due time wins). */
void push_add_task(struct lc_push *p, const struct sub_service *svc,
                   const char *target, unsigned delay_ms);

/* Run the tasks due at @now; true when it yielded with some still due
 * (its time slice used up). */
bool push_run_tasks(struct lc_push *p, uint64_t now);

/* The due time of the first task, or UINT64_MAX. */
uint64_t push_next_task(const struct lc_push *p);

void push_free_tasks(struct lc_push *p);

/* -------------------------------------------------- push_delivery.c */

/* Start a delivery of @pl (a reference is taken) to @c and send it. */
void push_deliver(struct lc_push *p, struct push_client *c, struct payload *pl,
                  uint64_t started);

/* A payload of @slot for service @key (copied) with one reference, or
 * NULL when out of memory (then @data is freed). */
struct payload *push_payload_new(struct push_slot *slot, void *data,
                                 const char *key);
void push_payload_unref(struct payload *pl);

/* Resend or fail the deliveries whose deadline is past. */
void push_run_deadlines(struct lc_push *p, uint64_t now);

/* The earliest ack deadline, or UINT64_MAX. */
uint64_t push_next_deadline(const struct lc_push *p);

/* End @c's deliveries as failed; call cancel() on each when @cancel. */
void push_fail_client_deliveries(struct lc_push *p, struct push_client *c,
                                 bool cancel);

/* Drop every delivery, uncounted, without calling the transports but
 * payload_free (closing). */
void push_free_deliveries(struct lc_push *p);

/* Count a push that never became a delivery as finished and failed. */
void push_count_failed(struct lc_push *p);

/* --------------------------------------------------- push_subscribers.c */

/* Drop client @c and its subscriptions. @forget: the engine drops it
 * (cancel() its deliveries, forget() its target); else the transport did
 * (no calls). Closing: neither, and nothing counted. */
enum push_drop { PUSH_DROP_EXPIRED, PUSH_DROP_REMOVED, PUSH_DROP_CLOSING };
void push_client_drop(struct lc_push *p, struct push_client *c,
                      enum push_drop why);

/* Drop clients that expired by @now. */
void push_sweep(struct lc_push *p, uint64_t now);

/* Whether @c subscribes to the service @key. */
bool push_client_subscribes(const struct push_client *c, const char *key);

/* Enter / leave a transport op (entry points assert they are outside). */
#define PUSH_OP(p, call)                                                       \
    do {                                                                       \
        (p)->in_op++;                                                          \
        call;                                                                  \
        (p)->in_op--;                                                          \
    } while (0)

#endif /* LC_NAMING_PUSH_INTERNAL_H */
