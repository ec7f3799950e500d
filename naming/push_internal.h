/* Private to the push engine's files (push.c, push_render.c,
 * push_subscribers.c): its state and what the files call in each other. */
#ifndef LC_NAMING_PUSH_INTERNAL_H
#define LC_NAMING_PUSH_INTERNAL_H

#include <uthash.h>
#include <uv.h>

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

/* A datagram of @len bytes (copied), one reference; NULL when out of
 * memory. */
struct dgram *push_dgram_new(const char *data, size_t len);
void push_dgram_unref(struct dgram *d);

/* Schedule a push of @svc to every subscriber (@target NULL) or to the
 * client @target (copied), merging into the pending task if there is one. */
void push_add_task(struct lc_push *p, const struct sub_service *svc,
                   const char *target);

/* Drop a subscriber client and its subscriptions. */
void push_client_free(struct lc_push *p, struct sub_client *c);

/* Start (or restart) the expiry sweep with the current options. */
void push_arm_sweep(struct lc_push *p);

#endif /* LC_NAMING_PUSH_INTERNAL_H */
