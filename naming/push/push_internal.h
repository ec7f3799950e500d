/* Private to the push engine's files (push.c, push_render.c,
 * push_subscribers.c, push_resolve.c): its state and what the files call in
 * each other. */
#ifndef LC_NAMING_PUSH_INTERNAL_H
#define LC_NAMING_PUSH_INTERNAL_H

#include <uthash.h>
#include <uv.h>

#include "naming/push/push.h"

#define RECV_MAX 65536

struct sub_client;
struct sub_service;
struct resolve_req;
struct dgram;

/* A push waiting for its client's address to resolve. */
struct pending_push {
    struct dgram *dg;
    uint64_t ref;
    uint64_t started;
    struct pending_push *next;
};

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
    /* Where pushes go (AF_INET or AF_INET6, as resolved; push_resolve.c). */
    struct sockaddr_storage addr;
    bool addr_ok;
    bool is_name;                /* clientIP is a host name, not a literal */
    struct resolve_req *resolving; /* lookup in flight, or NULL */
    uint64_t resolved_at;        /* uv_now of the last lookup's answer */
    struct pending_push *pending; /* pushes waiting for the lookup */
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
    uint8_t ip[16]; /* IPv6, or IPv4-mapped IPv6 (::ffff:a.b.c.d) */
    uint32_t port;  /* network order, widened */
};

struct ack {
    struct ack_key key;
    struct sockaddr_storage to;
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
    bool v6; /* the socket is IPv6, dual-stack (IPv4 as mapped addresses) */

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

/* Send @dg to client @c now (its address is known) and await the ack. */
void push_send_to_client(struct lc_push *p, struct sub_client *c,
                         struct dgram *dg, uint64_t ref, uint64_t started);

/* Count a push that could not even be sent as finished and failed. */
void push_count_failed(struct lc_push *p);

/* Engine handles and requests still open: one more, or one fewer (the last
 * one frees the engine once it is closing). */
void push_hold(struct lc_push *p);
void push_release(struct lc_push *p);

/* ------------------------------------------------- push_resolve.c */

/* Work out client @c's push address from c->ip: blank is loopback, an IPv4
 * or IPv6 literal (brackets allowed) is used as is, anything else is a host
 * name looked up with uv_getaddrinfo (IPv4 answers first, as the JVM). A
 * name is looked up again when @refresh and its answer is older than
 * PUSH_DNS_TTL_MS, or when the last lookup failed. */
#define PUSH_DNS_TTL_MS 30000
void push_client_resolve(struct lc_push *p, struct sub_client *c,
                         bool refresh);

/* Push @dg to @c: now when its address is known, after the lookup in
 * flight, else counted as failed. */
void push_to_client(struct lc_push *p, struct sub_client *c, struct dgram *dg,
                    uint64_t ref, uint64_t started);

/* Forget @c's lookup and pending pushes (before freeing it). */
void push_client_detach(struct lc_push *p, struct sub_client *c);

/* Cancel lookups not started yet (engine closing). */
void push_cancel_lookups(struct lc_push *p);

/* The ack key of @ref from/to @addr; false for a family other than
 * AF_INET/AF_INET6. */
bool push_ack_key(struct ack_key *key, uint64_t ref,
                  const struct sockaddr *addr);

/* @addr as "ip:port" ("[v6]:port") for logs. */
void push_addr_text(const struct sockaddr *addr, char *out, size_t size);

#endif /* LC_NAMING_PUSH_INTERNAL_H */
