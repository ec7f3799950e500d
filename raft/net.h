/* The raft engine's network layer: the raft port (one listener, an
 * authenticated preface on every connection), the peer channel to every
 * member, and the raft_uv_transport each group hands to raft_uv.
 *
 * It never calls the engine. What happens on the network goes up through the
 * callbacks the engine registers (struct lc_net_cbs): a connector's claim to
 * check, a group's connection accepted, a peer link up or down, a request
 * from a peer. The answer to one of our own requests comes back through that
 * request's callback (struct lc_net_call).
 *
 * The engine uses the peer channel through struct lc_net, a table of methods
 * over an implementation, as raft_uv uses a raft_uv_transport: lc_net_init()
 * fills it with the real one on the raft port (net_hub.c, net_peer.c,
 * net_transport.c); deterministic tests fill it with an in-process
 * simulation (test/support/sim_net.c).
 *
 * Everything runs on one libuv loop; nothing here may be called from another
 * thread. No callback is ever called from inside the call that caused it.
 */
#ifndef LC_RAFT_NET_H
#define LC_RAFT_NET_H

#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uthash.h>
#include <uv.h>

#include "raft/peer.pb-c.h"

#define LC_NET_CHANNEL_MAX 64 /* longest channel (group) name, with NUL */
#define LC_NET_ADDR_MAX 280   /* longest address "[v6]:port", with NUL */
#define LC_NET_PEER_CHANNEL "peer"

/* ------------------------------------------------ preface (net_preface.c) */

#define LC_PREFACE_VERSION 1
#define LC_PREFACE_NONCE_LEN 16
#define LC_PREFACE_HELLO_LEN 21
#define LC_PREFACE_FIXED_LEN 15
#define LC_PREFACE_MAC_LEN 32
#define LC_PREFACE_MAX_LEN                                                     \
    (LC_PREFACE_FIXED_LEN + LC_NET_CHANNEL_MAX + LC_NET_ADDR_MAX +             \
     LC_PREFACE_MAC_LEN)

enum lc_preface_status {
    LC_PREFACE_OK = 0,
    LC_PREFACE_BAD_AUTH = 1,
    LC_PREFACE_UNKNOWN_CHANNEL = 2,
    LC_PREFACE_MALFORMED = 3,
    LC_PREFACE_BUSY = 4,
    LC_PREFACE_NOT_MEMBER = 5,
};

/* What a connector claims: the channel it wants and who it is. */
struct lc_preface {
    char channel[LC_NET_CHANNEL_MAX];
    raft_id id;
    char address[LC_NET_ADDR_MAX];
};

void lc_preface_hello(uint8_t out[LC_PREFACE_HELLO_LEN],
                      const uint8_t nonce[LC_PREFACE_NONCE_LEN]);
int lc_preface_parse_hello(const uint8_t in[LC_PREFACE_HELLO_LEN],
                           uint8_t nonce[LC_PREFACE_NONCE_LEN]);
/* Encode @p as a claim answering @nonce into @out (@cap bytes). */
int lc_preface_encode(const uint8_t *key, size_t keylen,
                      const uint8_t nonce[LC_PREFACE_NONCE_LEN],
                      const struct lc_preface *p, uint8_t *out, size_t cap,
                      size_t *len);
/* Check the fixed head of a claim; *@rest_len is how many bytes follow. */
int lc_preface_parse_fixed(const uint8_t in[LC_PREFACE_FIXED_LEN],
                           size_t *rest_len);
/* Verify a whole claim: LC_EPROTO if malformed, LC_EUNAUTH if the MAC is
 * wrong, else 0 with @out filled. */
int lc_preface_verify(const uint8_t *key, size_t keylen,
                      const uint8_t nonce[LC_PREFACE_NONCE_LEN],
                      const uint8_t *msg, size_t len, struct lc_preface *out);
const char *lc_preface_status_str(int status);

/* -------------------------------------------------- callbacks to the engine */

/* A request a peer sent us, answered exactly once with net->respond() (now or
 * later); the network layer frees it then. The fields belong to the
 * implementation. */
struct lc_net_request {
    void *link;    /* where the answer goes */
    uint64_t corr; /* which request it answers */
};

/* A connector's claim passed authentication: may it open its channel?
 * Return an enum lc_preface_status (LC_PREFACE_OK to accept). @claim is
 * borrowed for the call. */
typedef int (*lc_net_check_cb)(void *data, const struct lc_preface *claim);
/* An accepted connection for group channel @claim->channel (never the peer
 * channel, which the network layer keeps): @stream, a raft_malloc'd
 * uv_tcp_t, is the callee's from now on (lc_net_transport_accept() hands it
 * to raft_uv, lc_net_stream_close() drops it). */
typedef void (*lc_net_accept_cb)(void *data, const struct lc_preface *claim,
                                 uv_stream_t *stream);
/* The peer link to the member at @address (borrowed) came up, or went down
 * while it was up: its process died, or the network between us did. */
typedef void (*lc_net_peer_cb)(void *data, const char *address);
/* A peer sent @msg (borrowed for the call); answer @req with net->respond(),
 * now or later. */
typedef void (*lc_net_request_cb)(void *data, struct lc_net_request *req,
                                  const Locus__Raft__PeerRequest *msg);

/* What the network layer reports, registered by the engine; copied. */
struct lc_net_cbs {
    void *data;
    lc_net_check_cb check;
    lc_net_accept_cb accept;
    lc_net_peer_cb peer_up;
    lc_net_peer_cb peer_down;
    lc_net_request_cb request;
};

/* ----------------------------------------------------------- peer channel */

struct lc_net;
struct lc_net_call;
struct lc_net_transport;

/* @status is 0 with the peer's answer @resp (borrowed for the call), or
 * LC_ECONN when the link dropped first, LC_EPROTO when the answer could not
 * be decoded, LC_ESHUTDOWN when the network layer closed. */
typedef void (*lc_net_call_cb)(struct lc_net_call *call, int status,
                               const Locus__Raft__PeerResponse *resp);
typedef void (*lc_net_close_cb)(struct lc_net *net);

/* A request to a peer. Allocated by the caller with malloc; the network layer
 * owns it once net->send() succeeded and frees it after its callback has
 * returned, or in net->cancel(). */
struct lc_net_call {
    void *data;
    lc_net_call_cb cb;
    /* private to the implementation */
    uint64_t corr;
    void *peer;
    UT_hash_handle hh;
};

/* The peer channel as the engine uses it. */
struct lc_net {
    void *data; /* the engine's */
    void *impl; /* the implementation's */
    /* Listen on the raft port. Return 0 or an LC_E* code with a message. */
    int (*listen)(struct lc_net *net, char *errmsg, size_t errlen);
    /* Start keeping a link open to every other member. */
    void (*connect)(struct lc_net *net);
    /* Whether our link to the member at @address is up (false for an
     * address that is not a member). */
    bool (*peer_up)(struct lc_net *net, const char *address);
    /* Milliseconds since anything arrived on our link to the member at
     * @address (pings answered included): a small number means its process
     * runs and the network between us works. UINT64_MAX when the link is
     * down or unknown. May be NULL (a simulation): unknown. */
    uint64_t (*peer_quiet_ms)(struct lc_net *net, const char *address);
    /* Send @msg (copied) to the member at @address; @call's callback fires
     * exactly once, later, unless the call is canceled. Return 0, or LC_ECONN
     * when that link is not up, LC_ENOMEM, LC_ETOOBIG (then the callback never
     * fires and @call is still the caller's). */
    int (*send)(struct lc_net *net, const char *address,
                const Locus__Raft__PeerRequest *msg, struct lc_net_call *call,
                lc_net_call_cb cb);
    /* Forget @call: its callback never fires; the call is freed. */
    void (*cancel)(struct lc_net *net, struct lc_net_call *call);
    /* Answer @req with @msg (copied) and free @req; dropped when the link it
     * came on is gone. */
    void (*respond)(struct lc_net *net, struct lc_net_request *req,
                    const Locus__Raft__PeerResponse *msg);
    /* Make @t the transport of a raft_uv instance for group @channel,
     * carried by this network layer's raft port. NULL when there is none
     * (a simulation). */
    int (*transport_init)(struct lc_net *net, struct lc_net_transport *t,
                          struct raft_uv_transport *uvt, const char *channel);
    /* Fail calls in flight with LC_ESHUTDOWN, close the listener, the links
     * and handshakes; @cb fires once everything is freed (but @net itself,
     * which is the caller's). No callback of struct lc_net_cbs fires after
     * this call. */
    void (*close)(struct lc_net *net, lc_net_close_cb cb);
};

struct lc_net_config {
    const char *self;         /* our raft address, "ip:port" (copied) */
    raft_id self_id;          /* our raft id, claimed in outgoing prefaces */
    const char *const *peers; /* the other members' addresses (copied) */
    unsigned n_peers;
    const void *secret; /* cluster secret for prefaces (copied) */
    size_t secret_len;
    /* A peer link on which nothing arrived for this long (pings included)
     * is reset and the peer reported down; every connection on the raft
     * port gets twice this as TCP_USER_TIMEOUT. 0: neither. */
    unsigned liveness_ms;
};

/* Fill @net (caller-allocated, kept until its close callback) with the
 * network layer on the raft port at @config->self, reporting to @cbs
 * (copied). Nothing listens or connects before net->listen() and
 * net->connect(). Return 0 or LC_ENOMEM / LC_EINVAL. */
int lc_net_init(struct lc_net *net, uv_loop_t *loop,
                const struct lc_net_config *config,
                const struct lc_net_cbs *cbs);

/* Close and free @stream, a raft_malloc'd uv_tcp_t the network layer handed
 * over. */
void lc_net_stream_close(uv_stream_t *stream);

/* -------------------------------------------------------- hub (net_hub.c) */

/* The raft port: one listener, prefaces in and out. */
struct lc_net_hub;

typedef void (*lc_net_connect_cb)(void *data, uv_stream_t *stream, int status);

/* An outgoing connection with a preface. On success the callback receives a
 * connected TCP handle allocated with raft_malloc (the caller owns it, closes
 * it and frees it with raft_free). */
struct lc_net_connect {
    void *data;
    lc_net_connect_cb cb;
    void *priv; /* the attempt in flight */
};

typedef void (*lc_net_hub_close_cb)(void *data);

/* A hub claiming @self_address/@self_id (copied) with the secret @key
 * (copied). Inbound claims go to @check, then accepted streams to @accept
 * (both with @data); they may be NULL for a hub that never listens. */
int lc_net_hub_new(uv_loop_t *loop, const char *self_address, raft_id self_id,
                   const void *key, size_t keylen, lc_net_check_cb check,
                   lc_net_accept_cb accept, void *data,
                   struct lc_net_hub **out);
int lc_net_hub_listen(struct lc_net_hub *hub, char *errmsg, size_t errlen);
/* Set TCP_USER_TIMEOUT to @ms (0: the kernel's default) on every connection
 * made or accepted from now on. */
void lc_net_hub_set_user_timeout(struct lc_net_hub *hub, unsigned ms);
/* Connect to @address and open @channel (both copied). The callback fires
 * exactly once, never from inside this call. */
int lc_net_hub_connect(struct lc_net_hub *hub, struct lc_net_connect *req,
                       const char *channel, const char *address,
                       lc_net_connect_cb cb);
/* Abort an attempt: its callback fires later with LC_ECANCELED. */
void lc_net_hub_connect_cancel(struct lc_net_connect *req);
/* Stop listening, abort handshakes; free once every handle is closed, then
 * call @cb (may be NULL) with @data. */
void lc_net_hub_close(struct lc_net_hub *hub, lc_net_hub_close_cb cb,
                      void *data);

/* ------------------------------------------ transport (net_transport.c) */

struct lc_net_transport_connect;

/* A raft_uv_transport for one group incarnation, on top of the hub.
 * Embedded by the engine; the fields are private. */
struct lc_net_transport {
    struct raft_uv_transport *uvt;
    struct lc_net_hub *hub;
    char channel[LC_NET_CHANNEL_MAX];
    raft_uv_accept_cb accept_cb; /* set by listen, NULL before/after */
    raft_uv_transport_close_cb close_cb;
    unsigned n_connecting;
    unsigned holds; /* appends in flight (lc_net_transport_hold) */
    bool closing;
    uv_idle_t closer; /* defers the close callback */
    struct lc_net_transport_connect *connecting;
    void (*fini_cb)(struct lc_net_transport *t);
};

typedef void (*lc_net_transport_fini_cb)(struct lc_net_transport *t);

/* Make @uvt (zeroed here) the raft_uv_transport implemented by @t over
 * @hub for @channel (copied). */
int lc_net_transport_init(struct lc_net_transport *t,
                          struct raft_uv_transport *uvt, struct lc_net_hub *hub,
                          uv_loop_t *loop, const char *channel);
/* raft_uv 0.15 must not see its transport closed while it still has appends
 * in flight (see net_transport.c): the engine holds @t while one is, and
 * releases it when it completes. */
void lc_net_transport_hold(struct lc_net_transport *t);
void lc_net_transport_release(struct lc_net_transport *t);
/* Whether raft_uv listens on @t (it has started and not closed). */
bool lc_net_transport_listening(const struct lc_net_transport *t);
/* Hand an inbound @stream (ownership passes) for this group to raft_uv;
 * closed if raft_uv does not listen. */
void lc_net_transport_accept(struct lc_net_transport *t,
                             const struct lc_preface *claim,
                             uv_stream_t *stream);
/* Release @t's handle once raft_uv is done with the transport (or never
 * started it). Return true if @cb (may be NULL) will fire when it is closed;
 * false if raft_uv's close already closed it, and @cb never fires. */
bool lc_net_transport_fini(struct lc_net_transport *t,
                           lc_net_transport_fini_cb cb);

#endif /* LC_RAFT_NET_H */
