/* The push engine: UDP pushes to v1 subscribers, as Nacos 2.4.3's
 * PushDelayTaskExecuteEngine + PushExecutorUdpImpl + UdpConnector.
 *
 * A v1 client subscribes by polling /instance/list with udpPort > 0 and a
 * push-capable User-Agent; it becomes the IP-port client
 * "clientIP:udpPort#true" holding one subscriber per service (clusters, agent,
 * app). Every ServiceChangedEvent of a subscribed service schedules one push
 * task for that service after a short delay; further changes merge into the
 * pending task (Nacos's merge keeps the earliest time, so a burst gives one
 * push per delay window, never a push later than delay after the first change).
 * A new subscription schedules a task aimed at that client only.
 *
 * When a task runs, every target subscriber gets the service's ServiceInfo
 * filtered by its clusters (rendered once per distinct clusters string), as
 * one datagram {"type":"dom","data":"<ServiceInfo>","lastRefTime":n}, gzipped
 * whole when it is 1024 bytes or more, from one UDP socket bound to an
 * ephemeral port. The client answers {"type":"push-ack","lastRefTime":n} to
 * that socket; without an ack within the ack timeout (10 s) the datagram is
 * sent once more, then the push counts as failed. lastRefTime is unique per
 * push round (a microsecond clock, bumped when equal) and stays far below
 * 2^53, so JavaScript clients echo it exactly.
 *
 * Subscribers expire when their client has not polled for
 * nacos.naming.client.expired.time (3 min) and publishes nothing.
 *
 * Everything runs on the naming loop. Malformed datagrams on the socket are
 * counted and dropped.
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
#define LC_PUSH_DEFAULT_ACK_TIMEOUT_MS 10000
#define LC_PUSH_DEFAULT_CLIENT_EXPIRED_MS 180000
#define LC_PUSH_GZIP_MIN 1024 /* datagrams this large or larger are gzipped */

struct lc_push_options {
    unsigned delay_ms;          /* nacos.naming.push.pushTaskDelay */
    unsigned ack_timeout_ms;    /* locus.naming.push.ack_timeout_ms */
    unsigned max_resends;       /* after the first send (Nacos: 1) */
    unsigned client_expired_ms; /* nacos.naming.client.expired.time */
    unsigned expire_check_ms;   /* sweep period (Nacos: 5000) */
    unsigned paused_poll_ms;    /* re-check while pushEnabled is false */
};

void lc_push_options_default(struct lc_push_options *o);

/* One subscription from /instance/list. Strings are copied. */
struct lc_push_subscriber {
    const char *ns;
    const char *group;
    const char *service; /* bare */
    const char *clusters;
    const char *ip; /* clientIP as given ("" allowed) */
    int port;       /* udpPort, > 0 */
    const char *agent;
    const char *app;
};

struct lc_push_stats {
    unsigned long total;  /* pushes finished (acked or failed) */
    unsigned long failed; /* no ack after the resend, or send error */
    unsigned long sent;   /* datagrams sent, resends included */
    unsigned long resent;
    unsigned long rounds;    /* push tasks run */
    unsigned long malformed; /* datagrams that were not an ack */
    unsigned long unmatched; /* acks for no pending push */
    long long max_cost_ms;   /* change to ack, -1 when none */
    long long avg_cost_ms;   /* -1 when none */
    unsigned long subscribers;
    unsigned long pending_acks;
};

/* Create the engine on @n's loop and bus (both borrowed; @n outlives the
 * engine) and bind its UDP socket. @o is copied (NULL: defaults). Return 0 or
 * an LC_E* code. */
int lc_push_new(struct lc_naming *n, const struct lc_push_options *o,
                struct lc_push **out);

/* Replace the options (before traffic; the delay applies to new tasks). */
void lc_push_set_options(struct lc_push *p, const struct lc_push_options *o);

/* Stop timers and close the socket; pending pushes are dropped. @cb runs once
 * every handle is closed; the engine's memory is freed before @cb. */
void lc_push_close(struct lc_push *p, void (*cb)(void *data), void *data);

/* Record (or refresh) a subscription; a new one gets a push after the
 * delay. Return 0 or LC_ENOMEM. */
int lc_push_subscribe(struct lc_push *p, const struct lc_push_subscriber *s);

/* Nacos's canEnablePush without the pushEnabled switch: the User-Agent (or
 * Client-Version) names a known client whose version (after ":v") is at
 * least the switch minimum. */
bool lc_push_agent_supported(const char *agent);

/* The engine's UDP port (for tests), or -1. */
int lc_push_port(const struct lc_push *p);

void lc_push_stats(const struct lc_push *p, struct lc_push_stats *st);
void lc_push_reset_stats(struct lc_push *p);

/* Call @fn for every subscriber of services in @ns whose bare name contains
 * @name and whose group contains @group (Nacos's getFuzzySubscribers). */
typedef void (*lc_push_subscriber_cb)(const struct lc_push_subscriber *s,
                                      const char *grouped, void *data);
void lc_push_each_subscriber(const struct lc_push *p, const char *ns,
                             const char *group, const char *name,
                             lc_push_subscriber_cb fn, void *data);

/* Render the datagram for @svc (may be NULL) as @clusters sees it, with
 * outer lastRefTime @ref: UTF-8 JSON, gzipped whole when large. *@out is
 * malloc'd. Return 0 or LC_ENOMEM. For tests and the engine. */
int lc_push_render(struct lc_naming *n, const struct lc_service_key *key,
                   const char *clusters, uint64_t ref, char **out, size_t *len);

#endif /* LC_NAMING_PUSH_H */
