/* The push engine: Nacos 2.4.3's PushDelayTaskExecuteEngine and push
 * executors, over transports (naming/push/transport.h). UDP to v1 clients
 * is the first transport (naming/push/udp.h); the gRPC bi-stream is next.
 *
 * A subscriber is a client's subscription to a service (clusters, agent,
 * app), made through the client's transport. Every ServiceChangedEvent of a
 * subscribed service schedules one push task for that service after a short
 * delay; further changes merge into the pending task (Nacos's merge keeps
 * the earliest time, so a burst gives one push per delay window, never a
 * push later than delay after the first change). A new subscription
 * schedules a task aimed at that client only.
 *
 * When a task runs (one round), the service's ServiceInfo is rendered once
 * per distinct clusters string and encoded once per transport, and every
 * target subscriber gets one delivery: sent by its transport, then awaiting
 * an ack until the transport's timeout, resent and retried as the transport's
 * policy says. A delivery ends acked (its cost, from the first change to the
 * ack, is recorded) or failed (counted). While the pushEnabled switch is
 * off, tasks wait, still merging, and run once it is on again.
 *
 * Clients of a transport with an expiry are dropped when they have not
 * subscribed again for that long and publish nothing (Nacos's
 * IpPortBasedClient.isExpire); others live until their transport removes
 * them.
 *
 * Everything runs on the naming loop.
 */
#ifndef LC_NAMING_PUSH_H
#define LC_NAMING_PUSH_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "naming/core/model.h"

struct lc_naming;
struct lc_push;

#define LC_PUSH_DEFAULT_DELAY_MS 20 /* Nacos: 500, see docs/api.md */
#define LC_PUSH_DEFAULT_CLIENT_EXPIRED_MS 180000
#define LC_PUSH_MAX_TRANSPORTS 4

struct lc_push_options {
    unsigned delay_ms;        /* nacos.naming.push.pushTaskDelay */
    unsigned expire_check_ms; /* client expiry sweep period (Nacos: 5000) */
    unsigned paused_poll_ms;  /* re-check while pushEnabled is false */
    unsigned slice_us;        /* a wake starts rounds for this long, then
                                 yields to the loop (10000; 0: one round
                                 per wake) */
};

void lc_push_options_default(struct lc_push_options *o);

/* One subscription, as a transport gives it and as the listing shows it.
 * Strings are borrowed for the call. */
struct lc_push_subscriber {
    const char *ns;
    const char *group;
    const char *service; /* bare */
    const char *clusters;
    const char *ip; /* the client's address as it gave it ("" allowed) */
    int port;
    const char *agent;
    const char *app;
};

struct lc_push_stats {
    unsigned long total;  /* deliveries finished (acked or failed) */
    unsigned long failed; /* not acked: timed out, failed to send, dropped */
    unsigned long sent;   /* payloads on the wire, resends included */
    unsigned long resent;
    unsigned long rounds;    /* push tasks run */
    unsigned long malformed; /* what came back and was not an ack */
    unsigned long unmatched; /* acks for no pending delivery */
    unsigned long merged;    /* rounds held back behind a push in flight
                                (one_in_flight) */
    unsigned long yields;    /* wakes that left due rounds for the next
                                loop turn (a 10 ms slice was used up) */
    long long max_cost_ms;   /* change to ack, -1 when none */
    long long avg_cost_ms;   /* -1 when none */
    unsigned long subscribers;
    unsigned long pending_acks; /* deliveries sent and awaiting their ack */
};

/* Create the engine on @n's loop and bus (both borrowed; @n outlives the
 * engine). @o is copied (NULL: defaults). It has no transport yet: add them
 * with lc_push_add_transport() (udp.h's lc_push_udp_new does). Return 0 or an
 * LC_E* code. */
int lc_push_new(struct lc_naming *n, const struct lc_push_options *o,
                struct lc_push **out);

/* Replace the options (the delay applies to new tasks). */
void lc_push_set_options(struct lc_push *p, const struct lc_push_options *o);

/* Drop pending tasks, deliveries (uncounted) and subscribers, close every
 * transport and the engine's timer. From here on the engine calls no
 * transport op and no callback but @cb(@data), which runs once the timer
 * and every transport are closed; the engine's memory is freed before @cb.
 */
void lc_push_close(struct lc_push *p, void (*cb)(void *data), void *data);

void lc_push_stats(const struct lc_push *p, struct lc_push_stats *st);
/* MetricsMonitor.resetPush: total, failed and the costs. */
void lc_push_reset_stats(struct lc_push *p);

/* Call @fn for every subscriber of services in @ns whose bare name contains
 * @name and whose group contains @group (Nacos's getFuzzySubscribers). @fn
 * must not change the engine. */
typedef void (*lc_push_subscriber_cb)(const struct lc_push_subscriber *s,
                                      const char *grouped, void *data);
void lc_push_each_subscriber(const struct lc_push *p, const char *ns,
                             const char *group, const char *name,
                             lc_push_subscriber_cb fn, void *data);

#endif /* LC_NAMING_PUSH_H */
