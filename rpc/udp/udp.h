/* UDP on libuv: one datagram socket, the addresses it sends to (IP literals
 * or host names resolved off the loop and cached), and address helpers.
 * Nothing here knows what the datagrams mean.
 *
 * Socket: bound to a port (0: an ephemeral one) on every local address. It is
 * one dual-stack IPv6 socket, which reaches IPv4 destinations through mapped
 * addresses, as the JVM's DatagramSocket does; on a host without IPv6 it is
 * an IPv4 socket and IPv6 destinations fail. lc_udp_send() sends at once
 * when the socket takes the datagram (uv_udp_try_send), else copies it and
 * queues it. Every datagram received goes to the receive callback with its
 * sender, until lc_udp_close().
 *
 * Peers: an address to send to, given as a host and a port. A literal (IPv4,
 * IPv6, or IPv6 in brackets) is an address at once. Anything else is a host
 * name looked up with uv_getaddrinfo on the thread pool; the first IPv4
 * answer is taken, else the first IPv6 one (the JVM's order). The answer is
 * kept for the TTL (a failure for the negative TTL) and looked up again when
 * the owner asks (lc_udp_peer_refresh) after that; meanwhile the last answer
 * stays in use. A peer's callback fires when a lookup ends.
 *
 * Everything runs on the socket's loop. Callbacks never run from inside an
 * lc_udp_* call.
 */
#ifndef LC_RPC_UDP_H
#define LC_RPC_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define LC_UDP_DNS_TTL_MS 30000          /* the JVM's positive DNS cache */
#define LC_UDP_DNS_NEGATIVE_TTL_MS 10000 /* and its negative one */

struct lc_udp;

/* A datagram of @len bytes from @from (both borrowed for the call). @len
 * may be 0 (an empty datagram); @truncated says it was larger than 64 KiB
 * and was cut. */
typedef void (*lc_udp_recv_cb)(void *data, const char *buf, size_t len,
                               const struct sockaddr *from, bool truncated);
typedef void (*lc_udp_close_cb)(void *data);

struct lc_udp_options {
    int port;                     /* 0: ephemeral */
    unsigned dns_ttl_ms;          /* LC_UDP_DNS_TTL_MS */
    unsigned dns_negative_ttl_ms; /* LC_UDP_DNS_NEGATIVE_TTL_MS */
};

void lc_udp_options_default(struct lc_udp_options *o);

/* Open and bind a socket on @loop (borrowed; it outlives the socket) and
 * start receiving: @recv_cb(@data, ...) gets every datagram until
 * lc_udp_close(). @o is copied (NULL: defaults). Return 0 or an LC_E* code;
 * on failure nothing is left to close (memory of a half-opened handle is
 * freed by a close callback the loop runs later). */
int lc_udp_open(uv_loop_t *loop, const struct lc_udp_options *o,
                lc_udp_recv_cb recv_cb, void *data, struct lc_udp **out);

/* The port the socket is bound to. */
int lc_udp_port(const struct lc_udp *u);

/* Send @len bytes at @buf (borrowed for the call; copied when the datagram
 * has to wait) to @to. Return 0 when it went out or is queued, else an
 * LC_E* code: LC_ENOTSUP for an IPv6 destination on an IPv4 socket. A queued
 * datagram that later fails is logged (debug) and dropped, as UDP drops. */
int lc_udp_send(struct lc_udp *u, const struct sockaddr *to, const char *buf,
                size_t len);

/* Stop receiving, cancel lookups that have not started and detach every
 * peer's lookup (no peer callback fires after this call), drop queued
 * datagrams and close the socket. @cb(@data) runs once the handle is closed
 * and every lookup on the thread pool has returned; the socket's memory is
 * freed before @cb. Peers must still be cleaned up by their owner; after
 * this call lc_udp_peer_cleanup() is the only call a peer may get. */
void lc_udp_close(struct lc_udp *u, lc_udp_close_cb cb, void *data);

/* ---------------------------------------------------------------- peers */

struct lc_udp_peer;
struct lc_udp_lookup;

/* A lookup of @peer's host ended; @status is 0 or an LC_E* code (then
 * peer->ok is false). */
typedef void (*lc_udp_peer_cb)(struct lc_udp_peer *peer, int status);

/* An address to send to; caller-allocated, owned by the caller. Read addr
 * and ok; the rest is private. */
struct lc_udp_peer {
    void *data;                   /* the owner's */
    struct sockaddr_storage addr; /* with the port; valid when ok */
    bool ok;                      /* addr is known */
    /* private */
    struct lc_udp *u;
    char *host;
    int port;
    bool is_name;
    uint64_t resolved_at;         /* uv_now of the last lookup's end */
    struct lc_udp_lookup *lookup; /* in flight, or NULL */
    lc_udp_peer_cb cb;
};

/* Set up @peer for @host (copied) and @port on socket @u. A literal makes
 * the peer ok at once; a host name starts a lookup whose end calls @cb
 * (never from inside this call). A port outside 1..65535 leaves the peer
 * without an address, as does a lookup that cannot start (logged). Return 0
 * or LC_ENOMEM (then there is nothing to clean up). */
int lc_udp_peer_init(struct lc_udp *u, struct lc_udp_peer *peer,
                     const char *host, int port, lc_udp_peer_cb cb);

/* Look @peer's host name up again when its last answer is older than the
 * TTL (a failed one: the negative TTL) and no lookup is in flight. No-op for
 * literals. */
void lc_udp_peer_refresh(struct lc_udp_peer *peer);

/* A lookup is in flight (its callback will fire). */
bool lc_udp_peer_resolving(const struct lc_udp_peer *peer);

/* Release @peer: a lookup in flight is detached and its callback never
 * fires. The struct itself is the caller's. */
void lc_udp_peer_cleanup(struct lc_udp_peer *peer);

/* -------------------------------------------------------------- helpers */

/* An address as a fixed-size key: the IP as 16 bytes (IPv4 as the mapped
 * ::ffff:a.b.c.d, so both families of one address compare equal) and the
 * port. */
struct lc_udp_key {
    uint8_t ip[16];
    uint32_t port; /* network order, widened */
};

/* Fill @key (every byte, padding included) from @addr; false for a family
 * other than AF_INET/AF_INET6. */
bool lc_udp_addr_key(const struct sockaddr *addr, struct lc_udp_key *key);

/* @addr as "ip:port" or "[v6]:port" for logs ("?" for other families). */
void lc_udp_addr_text(const struct sockaddr *addr, char *out, size_t size);

/* @host as an IP literal ("[v6]" allowed) with @port in @out; false when it
 * is not one. */
bool lc_udp_addr_literal(const char *host, int port,
                         struct sockaddr_storage *out);

#endif /* LC_RPC_UDP_H */
