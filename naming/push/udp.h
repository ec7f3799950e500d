/* UDP push to v1 clients, the push engine's first transport: Nacos 2.4.3's
 * UdpPushService, PushExecutorUdpImpl and UdpConnector.
 *
 * A v1 client subscribes by polling /instance/list with udpPort > 0 and a
 * push-capable User-Agent (lc_push_agent_supported); it becomes the IP-port
 * client "clientIP:udpPort#true" of the engine, whose pushes go to
 * clientIP:udpPort (a literal, or a host name resolved and cached as the JVM
 * does; a blank clientIP is loopback).
 *
 * Each push is one datagram {"type":"dom","data":"<ServiceInfo>",
 * "lastRefTime":n}, the ServiceInfo in Nacos's UDP shape (grouped name, no
 * groupName, reachProtectionThreshold false), gzipped whole when it is 1024
 * bytes or more, sent from one socket bound to an ephemeral port. The client
 * answers {"type":"push-ack","lastRefTime":n} to that socket; the ack
 * matches by sender address and lastRefTime. The engine's policy for UDP:
 * without an ack within the ack timeout (10 s) the datagram is sent once
 * more, then the push has failed and is not retried. lastRefTime is unique
 * per push round (a microsecond monotonic clock, bumped when equal) and
 * stays far below 2^53, so JavaScript clients echo it exactly. Anything else
 * arriving on the socket is counted (malformed, unmatched) and dropped.
 *
 * Clients expire after nacos.naming.client.expired.time (3 min) without a
 * poll while publishing nothing.
 */
#ifndef LC_NAMING_PUSH_UDP_H
#define LC_NAMING_PUSH_UDP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "naming/core/model.h"
#include "naming/push/push.h"

struct lc_naming;
struct lc_push_udp;

#define LC_PUSH_DEFAULT_ACK_TIMEOUT_MS 10000
#define LC_PUSH_UDP_GZIP_MIN 1024 /* datagrams this large or larger: gzip */

struct lc_push_udp_options {
    unsigned ack_timeout_ms;    /* locus.naming.push.ack_timeout_ms */
    unsigned max_resends;       /* after the first send (Nacos: 1) */
    unsigned client_expired_ms; /* nacos.naming.client.expired.time */
};

void lc_push_udp_options_default(struct lc_push_udp_options *o);

/* Open the UDP socket on the engine's loop and register the transport with
 * @p, which closes it in lc_push_close. @o is copied (NULL: defaults).
 * *@out is borrowed from the engine. Return 0 or an LC_E* code. */
int lc_push_udp_new(struct lc_push *p, const struct lc_push_udp_options *o,
                    struct lc_push_udp **out);

/* Replace the options (the ack timeout applies to new deadlines). */
void lc_push_udp_set_options(struct lc_push_udp *u,
                             const struct lc_push_udp_options *o);

/* Subscribe (or refresh) s->ip:s->port (clientIP, udpPort > 0) to the
 * service in @s (strings copied). A host name's cached answer older than
 * its TTL is looked up again. Return 0 or LC_EINVAL / LC_ENOMEM /
 * LC_ESHUTDOWN. */
int lc_push_udp_subscribe(struct lc_push_udp *u,
                          const struct lc_push_subscriber *s);

/* The socket's port (for tests), or -1. */
int lc_push_udp_port(const struct lc_push_udp *u);

/* Nacos's canEnablePush without the pushEnabled switch: the User-Agent (or
 * Client-Version) names a known client whose version (after ":v") is at
 * least the switch minimum (push_agent.c). */
bool lc_push_agent_supported(const char *agent);

/* The datagram of @svc's ServiceInfo @info (read, not changed) with outer
 * lastRefTime @ref: UTF-8 JSON, gzipped whole when large. *@out is
 * malloc'd. Return 0 or LC_ENOMEM. */
int lc_push_udp_datagram(json_t *info, uint64_t ref, char **out, size_t *len);

/* The datagram for @key (may be unknown) as @clusters sees it: the
 * /instance/list ServiceInfo through lc_push_udp_datagram (for tests). */
int lc_push_udp_render(struct lc_naming *n, const struct lc_service_key *key,
                       const char *clusters, uint64_t ref, char **out,
                       size_t *len);

#endif /* LC_NAMING_PUSH_UDP_H */
