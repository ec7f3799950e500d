/* The cluster plane: the server-to-server gRPC port (main port + 1001), one
 * client channel per peer, and member reports, as Nacos's GrpcClusterServer,
 * ClusterRpcClientProxy and ServerMemberManager's MemberInfoReportTask
 * (../shared/protocol.md §3, §11.1, §11.6).
 *
 * Membership proof. Nacos sends no identity on this port; locus does not
 * accept a stranger. A peer's channel does ServerCheck, then sends
 * ConnectionSetupRequest with labels {"source":"cluster",
 * "locus.member":"<its host:port>", "locus.proof":"<hex HMAC-SHA256(cluster
 * secret, connectionId from ServerCheck)>"}. The server checks the proof
 * (constant-time) and that locus.member is in the member list; otherwise it
 * closes the session without registering the connection, so every request
 * on it gets 301 "Connection is unregistered." and changes nothing.
 *
 * Member states (Nacos's NodeState). Every report_interval_ms this node sends
 * MemberReportRequest{"node":<self Member>} to one peer, round-robin. A
 * success marks the peer UP (failAccessCnt 0) and keeps its answer (its
 * Member: extendInfo with raftMetaData, ...). A failure marks it SUSPICIOUS
 * and bumps failAccessCnt; more than fail_access_cnt failures, or a refused
 * connection, mark it DOWN. A received report marks the sender UP. States
 * are pushed into struct lc_members (lc_members_set_state), which stays the
 * one view every module reads; observers hear of each change.
 *
 * Everything runs on one loop.
 */
#ifndef LC_RPC_CLUSTER_PEERS_H
#define LC_RPC_CLUSTER_PEERS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "members/members.h"
#include "rpc/grpc/nclient.h"
#include "rpc/grpc/rpc.h"

struct lc_peers;

struct lc_peers_config {
    struct lc_members *members; /* borrowed; states are pushed into it */
    const uint8_t *secret;      /* the cluster secret (copied) */
    size_t secret_len;
    const char *version;          /* Member.extendInfo.version, "2.4.3" */
    struct lc_grpc_limits limits; /* server and channels (max inbound) */
    unsigned request_timeout_ms;  /* 3000 (ClusterRpcClientProxy) */
    unsigned report_interval_ms;  /* 2000 */
    unsigned fail_access_cnt;     /* nacos.core.member.fail-access-cnt: 3 */
};

/* Nacos's defaults; members and secret NULL. */
void lc_peers_config_default(struct lc_peers_config *cfg);

/* Create the plane (@cfg copied, secret copied). Reports start at
 * lc_peers_listen. Return 0 or LC_ENOMEM / LC_EINVAL. */
int lc_peers_new(uv_loop_t *loop, const struct lc_peers_config *cfg,
                 struct lc_peers **out);

/* Listen on @host:@port (main + 1001) and start reporting. Return 0 or
 * LC_E* (LC_EEXIST: in use). */
int lc_peers_listen(struct lc_peers *peers, const char *host, int port);

/* The server on the cluster port, to register cluster-only handlers
 * (lc_rpc_handle(..., LC_RPC_CLUSTER, ...)): DistroDataRequest,
 * ServerLoaderInfoRequest, ServerReloadRequest. MemberReportRequest is
 * handled here. */
struct lc_rpc *lc_peers_rpc(struct lc_peers *peers);

/* Refuse the cluster's request types on the SDK port @sdk as Nacos does
 * (§11.1: ErrorResponse 500/502 " invoke DistroDataRequest from sdk is
 * forbidden" rather than 302): MemberReportRequest and DistroDataRequest.
 * A type already registered on @sdk is left as it is. The plane refuses the
 * SDK's naming types on the cluster port the same way ("from cluster"):
 * members never send them, and nothing else is admitted there. Return 0 or
 * LC_ENOMEM. */
int lc_peers_guard_sdk(struct lc_rpc *sdk);

/* Send request @type with @body (borrowed) to the member whose address is
 * @addr ("host:port", main port) over its channel, connecting it first when
 * needed. @r borrowed until @cb, which fires once, from the loop (never
 * from inside this call); LC_ENOTFOUND for an address that is not a member,
 * LC_ECONN when the channel cannot be set up, LC_ETIMEDOUT. @timeout_ms 0:
 * request_timeout_ms. Return 0, or LC_E* and @cb never fires. */
int lc_peers_request(struct lc_peers *peers, const char *addr,
                     struct lc_nreq *r, const char *type, json_t *body,
                     unsigned timeout_ms, lc_nreq_cb cb);

/* As lc_peers_request with the body already rendered (it must carry
 * "module" and "headers"). */
int lc_peers_request_text(struct lc_peers *peers, const char *addr,
                          struct lc_nreq *r, const char *type, const char *text,
                          size_t len, unsigned timeout_ms, lc_nreq_cb cb);

/* What this node adds to its own Member's extendInfo (raftMetaData, the
 * SDK connection count, ...), asked each time the Member is rendered (a
 * report, /v1/core/cluster/nodes). @cb fills @extend_info (an object). */
typedef void (*lc_peers_extend_cb)(void *data, json_t *extend_info);
void lc_peers_set_extend(struct lc_peers *peers, lc_peers_extend_cb cb,
                         void *data);

/* The Member JSON of @addr as Nacos's /v1/core/cluster/nodes shows it: this
 * node's rendered now, a peer's from its last report or answer (state and
 * failAccessCnt as the list has them). A new reference, or NULL for an
 * address that is not a member. */
json_t *lc_peers_member_json(struct lc_peers *peers, const char *addr);

/* Observe member state changes (Distro: responsibility moved; balancing).
 * @obs is borrowed until lc_peers_unobserve or the plane is freed. */
struct lc_peers_observer {
    void (*changed)(struct lc_peers_observer *obs, const struct lc_member *m,
                    enum lc_member_state old_state,
                    enum lc_member_state new_state);
    void *data;
    struct lc_peers_observer *next; /* private */
};
void lc_peers_observe(struct lc_peers *peers, struct lc_peers_observer *obs);
void lc_peers_unobserve(struct lc_peers *peers, struct lc_peers_observer *obs);

/* cluster.conf changed: make the @n @entries (copied) the configured
 * members (lc_members_update: this node stays, members that stay keep
 * their state), open channels to the new members lazily, close those of the
 * members that left and their connections to this node's cluster port, and
 * tell the observers: a member that leaves as changed(m, its state, DOWN),
 * @m still readable, one that arrives as changed(m, DOWN, its state). Raft
 * membership does not change here (the admin API changes it). Each change
 * is logged; *@changed (may be NULL) says whether there was one. On a bad
 * list nothing changes: return LC_E* with a message in @errmsg, else 0. */
int lc_peers_update_members(struct lc_peers *peers,
                            const struct lc_member_conf *entries, unsigned n,
                            bool *changed, char *errmsg, size_t errlen);

/* This member's own state (STARTING while it loads, then UP), as its
 * reports carry it: peers keep a STARTING member out of Distro's healthy
 * list. A change is reported to every peer at once. */
void lc_peers_set_self_state(struct lc_peers *peers,
                             enum lc_member_state state);

typedef void (*lc_peers_close_cb)(struct lc_peers *peers, void *data);

/* Stop reporting, close the channels and the server, free, then @cb. */
void lc_peers_close(struct lc_peers *peers, lc_peers_close_cb cb, void *data);

#endif /* LC_RPC_CLUSTER_PEERS_H */
