/* The contract between the push engine (push.h) and a transport: UDP for v1
 * clients (udp.c), the gRPC bi-stream for 2.x clients next.
 *
 * The engine decides what to push, to whom and when: it owns subscribers,
 * merges changes per service, renders the service view once per clusters
 * string and round, and keeps every delivery's state (ack deadline, resends,
 * retries, failures, cost). A transport only knows how to reach one kind of
 * client: it turns a view into its payload (encode), puts a payload on the
 * wire to a target (send), and reports what comes back through the entry
 * points below. Adding a transport is implementing these ops; the engine
 * does not change.
 *
 * Targets. A target is the transport's handle on one client (UDP: the
 * subscriber's address; gRPC: the connection). The transport creates it
 * and passes it with the client's id to lc_push_subscribe(); client ids are
 * unique across transports, as Nacos's client ids are ("ip:port#true",
 * connection ids). The engine borrows the target until it calls forget(),
 * until the transport removes the client (lc_push_client_remove), or until
 * close(). The transport frees it.
 *
 * Payloads. encode() turns one view into the transport's payload; the
 * engine calls it at most once per round, clusters string and transport,
 * shares the payload among that round's deliveries, and calls
 * payload_free() when the last of them ends. A payload given to send()
 * stays valid until its delivery ends.
 *
 * Deliveries. One per round and subscriber client, with a unique id that is
 * never reused:
 *
 *   send() == 0                    on the wire: awaiting the ack
 *   send() == LC_PUSH_DEFERRED     the transport sends later, then calls
 *                                  lc_push_sent() (awaiting the ack) or
 *                                  lc_push_send_failed()
 *   send() == LC_PUSH_DUPLICATE    the same payload already awaits an ack at
 *                                  the same destination (two client ids
 *                                  naming one address): dropped, uncounted
 *   send() == LC_E*                failed
 *   awaiting the ack:
 *     lc_push_acked()              acked, the cost is recorded
 *     lc_push_send_failed()        failed (a write error, a negative answer)
 *     ack_timeout_ms passes        send() again (attempt + 1) while fewer
 *                                  than max_resends resends went out, else
 *                                  failed
 *   failed                         counted; with retry_delay_ms, a fresh
 *                                  push of the service to that client is
 *                                  scheduled after it (Nacos's gRPC retry)
 *
 * When the engine ends a delivery on its own (timeout, send() failure,
 * client expiry) it calls cancel() first, so the transport drops what it
 * keeps for it (d->data). When the transport ends it (lc_push_acked,
 * lc_push_send_failed, lc_push_client_remove) the engine calls nothing: the
 * transport has already dropped its state.
 *
 * Calls, and when:
 *  - encode, send, forget run only from the engine's own timer callback,
 *    close only from lc_push_close(); never from inside an lc_push_* call
 *    the transport made. They must not call the engine's entry points.
 *  - payload_free and cancel only release memory; the engine may call them
 *    at any time, also from inside an entry point. They must not call the
 *    engine.
 *  - The transport calls the entry points from its own loop callbacks (or
 *    from handlers that run on the loop), never from inside an op; the
 *    engine asserts this.
 *  - After close() the engine calls nothing on the transport, and the
 *    transport calls no entry point.
 */
#ifndef LC_NAMING_PUSH_TRANSPORT_H
#define LC_NAMING_PUSH_TRANSPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "naming/push/push.h"

/* What send() returns besides 0 (on the wire) and LC_E* (failed). */
#define LC_PUSH_DEFERRED (-1)
#define LC_PUSH_DUPLICATE (-2)

struct lc_push_transport;

/* How a transport's deliveries are acked and retried. The engine reads it
 * at each use: a change applies to the next deadline and failure. */
struct lc_push_policy {
    unsigned ack_timeout_ms; /* a sent payload's wait for its ack (> 0) */
    unsigned max_resends;    /* the same payload again after an ack timeout
                                (UDP: 1; gRPC: 0) */
    unsigned retry_delay_ms; /* a failed delivery schedules a fresh push to
                                its client after this delay; 0: never (UDP;
                                gRPC: 1000) */
    unsigned expire_ms;      /* a client not subscribing again for this long
                                and publishing nothing is dropped (forget());
                                0: never, the transport removes its clients */
    bool one_in_flight;      /* while a push of a service to a client awaits
                                its ack, newer rounds for that pair are not
                                sent; when it ends, one fresh push carries
                                the latest view (gRPC: a client that acks
                                slower than the service changes gets fewer,
                                newer pushes instead of a backlog) */
};

/* What a round pushes to the subscribers with one clusters string. All
 * borrowed for the encode() call. */
struct lc_push_view {
    const struct lc_service_key *key; /* ns, group, bare name */
    const char *grouped;              /* "group@@name" */
    const char *clusters;             /* the subscribers' clusters string */
    /* The /instance/list ServiceInfo (v1 shape: grouped name, groupName,
     * enabled hosts filtered by clusters). Read-only: copy to change. */
    json_t *info;
    uint64_t round; /* increases every round; equal within one */
};

/* One delivery, as the transport sees it; the engine owns it. */
struct lc_push_delivery {
    uint64_t id;      /* what the entry points take */
    unsigned attempt; /* 1 for the first send, 2 for the first resend, ... */
    void *data;       /* the transport's, NULL until it sets it; the
                         transport frees it in cancel() or before it
                         reports the delivery's end */
};

struct lc_push_transport_ops {
    const char *name; /* "udp", for logs */

    /* Encode @v into *@payload (the transport's, freed by payload_free).
     * Return 0 or an LC_E* code (the subscribers of @v fail this round). */
    int (*encode)(struct lc_push_transport *t, const struct lc_push_view *v,
                  void **payload);
    void (*payload_free)(struct lc_push_transport *t, void *payload);

    /* Put @payload on the wire to @target for delivery @d (attempt
     * d->attempt; d->data is what an earlier attempt left). Return 0,
     * LC_PUSH_DEFERRED, LC_PUSH_DUPLICATE or an LC_E* code (see above). */
    int (*send)(struct lc_push_transport *t, void *target, void *payload,
                struct lc_push_delivery *d);

    /* The engine ended @d on its own: drop d->data. */
    void (*cancel)(struct lc_push_transport *t, void *target,
                   struct lc_push_delivery *d);

    /* The engine dropped the client of @target (expired); its deliveries
     * were cancelled first. Free the target. */
    void (*forget)(struct lc_push_transport *t, void *target);

    /* Stop: drop every target and per-delivery state, close handles, call
     * no entry point again. Call @on_closed(@t) from a later loop callback
     * once everything is closed (never from inside close()); the transport
     * frees its memory after @on_closed returns. */
    void (*close)(struct lc_push_transport *t,
                  void (*on_closed)(struct lc_push_transport *t));
};

/* A transport: the implementation embeds or allocates it. */
struct lc_push_transport {
    const struct lc_push_transport_ops *ops;
    struct lc_push_policy policy;
    void *impl;             /* the implementation's */
    struct lc_push *engine; /* set by lc_push_add_transport() */
};

/* The loop the engine (and so its transports) runs on. */
uv_loop_t *lc_push_loop(const struct lc_push *p);

/* Register @t (borrowed until its close completes; the engine closes it in
 * lc_push_close). Return 0, LC_ENOTSUP when LC_PUSH_MAX_TRANSPORTS are
 * registered, LC_ESHUTDOWN when closing. */
int lc_push_add_transport(struct lc_push *p, struct lc_push_transport *t);

/* ------------------------------------------------ the transport's calls */

/* Record (or refresh) @s for client @client_id of @t (strings copied). A
 * new client adopts @target; for a known client @target must be the one it
 * has. Refreshing keeps the client from expiring and replaces clusters,
 * agent and app, without a push; a new subscription gets a push to this
 * client after the delay. Return 0; LC_EINVAL (bad service name, @t not
 * registered); LC_EEXIST (@client_id belongs to another transport);
 * LC_ESHUTDOWN; LC_ENOMEM. On error a client created by this call is
 * dropped without forget(). */
int lc_push_subscribe(struct lc_push *p, struct lc_push_transport *t,
                      const char *client_id, void *target,
                      const struct lc_push_subscriber *s);

/* Drop @client_id's subscription to @key. Its deliveries in flight go on;
 * the client stays (with its target) until removed or expired. Return 0 or
 * LC_ENOTFOUND. */
int lc_push_unsubscribe(struct lc_push *p, const char *client_id,
                        const struct lc_service_key *key);

/* The transport drops client @client_id (a closed connection): its
 * subscriptions go, its deliveries end failed without cancel(), and the
 * engine forgets the target without forget(). No-op for an unknown id. */
void lc_push_client_remove(struct lc_push *p, const char *client_id);

/* A deferred send of @delivery went out: its ack timeout starts now. */
void lc_push_sent(struct lc_push *p, uint64_t delivery);

/* @delivery was acked. Return 0, or LC_ENOTFOUND when it is not pending
 * (ended already; counted as unmatched). */
int lc_push_acked(struct lc_push *p, uint64_t delivery);

/* @delivery could not be sent or was refused (@err an LC_E* code, or
 * LC_PUSH_DUPLICATE for a deferred send that turned out to be one). No-op
 * when it is not pending. */
void lc_push_send_failed(struct lc_push *p, uint64_t delivery, int err);

/* Something came back that acks nothing pending, or is no ack at all. */
void lc_push_ack_unmatched(struct lc_push *p);
void lc_push_ack_malformed(struct lc_push *p);

#endif /* LC_NAMING_PUSH_TRANSPORT_H */
