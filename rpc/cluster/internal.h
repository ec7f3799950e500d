/* Private to rpc/cluster/: the plane's structures, shared by peers.c (the
 * server, the public face, member states), channel.c (one lazily-connected
 * channel per peer) and member.c (the Member JSON and reports). */
#ifndef LC_RPC_CLUSTER_INTERNAL_H
#define LC_RPC_CLUSTER_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "rpc/cluster/peers.h"

/* The membership proof: lowercase hex of HMAC-SHA256(secret, text). */
#define LC_PEERS_PROOF_HEX 65 /* 64 digits and NUL */

/* Write the proof for connection @conn_id into @out. */
void lc__peers_proof(const uint8_t *secret, size_t secret_len,
                     const char *conn_id, char out[LC_PEERS_PROOF_HEX]);

/* Whether @proof (any text, possibly NULL) is the proof for @conn_id;
 * constant-time in the proof's bytes. */
bool lc__peers_proof_ok(const uint8_t *secret, size_t secret_len,
                        const char *conn_id, const char *proof);

/* A channel's setup (connect, ServerCheck, SetupAck) at most. */
#define LC_PEERS_SETUP_TIMEOUT_MS 5000
/* Requests queued on a channel that is connecting, at most. */
#define LC_PEERS_MAX_QUEUED 4096
/* Reconnect backoff after a failed setup: doubles from MIN to MAX. */
#define LC_PEERS_BACKOFF_MIN_MS 100
#define LC_PEERS_BACKOFF_MAX_MS 3000

enum chan_state {
    CHAN_IDLE,       /* no client; the next request connects */
    CHAN_CONNECTING, /* requests queue */
    CHAN_READY,      /* requests go at once */
    CHAN_BACKOFF,    /* setup failed lately: requests fail at once */
};

struct peer_op;

/* One peer (a member other than this node), and its channel. Lives from
 * the member's arrival in the list until it leaves and its client and
 * timer are closed (or the plane is freed). */
struct peer {
    struct lc_peers *ps;
    char addr[LC_MEMBER_ADDR_MAX]; /* main "host:port", the key */
    char host[LC_MEMBER_HOST_MAX];
    int cluster_port; /* port + 1001 */
    enum chan_state chan;
    struct lc_nclient *client; /* CONNECTING / READY, or closing */
    int last_err;              /* the last setup failure (BACKOFF) */
    unsigned backoff_ms;       /* the next backoff */
    uv_timer_t backoff_timer;
    bool timer_closed;
    bool removed;                 /* left the list: free once closed */
    struct peer_op *queue, *tail; /* CONNECTING: waiting for ready */
    unsigned nqueued;
    /* Reports. */
    json_t *member;    /* its Member JSON from its last report/answer */
    bool reporting;    /* a report to it is in flight */
    bool report_again; /* report once the one in flight ends */
    struct peer *next; /* ps->peers */
};

/* One request to a peer, from lc_peers_request* to its callback. The
 * timer is its deadline, and how a failure is told from the loop
 * (restarted at 0 with err set); freed once the timer is closed and the
 * client's call (if sent) has ended. */
struct peer_op {
    struct lc_peers *ps;
    struct peer *peer;
    struct lc_nreq *r; /* the caller's; NULL once done */
    lc_nreq_cb cb;
    char *type;
    char *text;
    size_t len;
    uint64_t deadline; /* loop ms */
    int err;
    bool queued;
    bool sent; /* the client's call has not ended yet */
    bool timer_closed;
    uv_timer_t timer;
    struct lc_nreq inner;
    struct peer_op *next; /* peer->queue */
};

struct lc_peers {
    uv_loop_t *loop;
    struct lc_peers_config cfg;
    uint8_t *secret;
    char *version;
    struct lc_rpc *rpc; /* NULL once closed */
    struct peer *peers;
    struct lc_peers_observer *observers;
    lc_peers_extend_cb extend;
    void *extend_data;
    uv_timer_t report_timer;
    unsigned cursor; /* round-robin over the peers, in address order */
    bool listening;
    bool closing;
    unsigned nops;     /* peer_op allocated */
    unsigned nhandles; /* timers and clients not closed yet */
    lc_peers_close_cb close_cb;
    void *close_data;
};

/* channel.c */
struct peer *lc__peer_new(struct lc_peers *ps, const struct lc_member *m);
/* Close @p's channel and timer, fail its requests; it is freed once
 * closed (and unlinked from ps->peers by the caller before). */
void lc__peer_close(struct peer *p);
struct peer *lc__peer_find(struct lc_peers *ps, const char *addr);
/* The peer was heard from (its report): forget a setup failure so the
 * next request connects at once. */
void lc__peer_heard(struct peer *p);
int lc__peer_request(struct peer *p, struct lc_nreq *r, const char *type,
                     char *text, size_t len, unsigned timeout_ms,
                     lc_nreq_cb cb);

/* peers.c: free the plane if it is closing and nothing is left. */
void lc__peers_maybe_destroy(struct lc_peers *ps);
/* peers.c: record @m's state, failures and last contact (wall ms; 0: keep)
 * in the list, and tell the observers when the state changed. */
void lc__peers_set_state(struct lc_peers *ps, const struct lc_member *m,
                         enum lc_member_state state, unsigned fail_access_cnt,
                         uint64_t refreshed_ms);

/* member.c: register the MemberReportRequest handler. Return 0 or LC_E*. */
int lc__peers_member_init(struct lc_peers *ps);
/* member.c: start the report timer (at listen). */
void lc__peers_reports_start(struct lc_peers *ps);
/* member.c: the channel to @p dropped (it was ready): report to it now. */
void lc__peers_on_drop(struct lc_peers *ps, struct peer *p);
/* member.c: this node's Member JSON (a new reference, or NULL). */
json_t *lc__peers_self_json(struct lc_peers *ps);
/* member.c: whether @node is a Member Nacos accepts (Member#check: ip and
 * address not blank, a port), with an address of the member list; fills
 * *@m with that member (or NULL when the address is not a member). */
bool lc__peers_node_ok(const json_t *node);

#endif /* LC_RPC_CLUSTER_INTERNAL_H */
