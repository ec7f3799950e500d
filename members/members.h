/* The cluster's member list: the one view of who is in the cluster, shared
 * by server/ (the /v1/core/cluster answers, raft addresses), naming/
 * (asking other members, Distro's mapping) and the coming distro/.
 *
 * A member is what Nacos's Member is: host and main (HTTP) port, the ports
 * derived from it (raft = port - 1000, gRPC = port + 1000 and + 1001), its
 * address "host:port" (Member.getAddress(); IPv6 hosts bracketed), a state
 * (NodeState) and whether it is this node. The list always holds this node
 * and is sorted by address, as ServerMemberManager's serverList is.
 *
 * Liveness. The list does not know how members are reached; it is told, in
 * one of two ways:
 *
 *   - states pushed in (lc_members_set_state, lc_members_set_report), kept
 *     in the member. The cluster plane (rpc/cluster/peers.h) pushes them
 *     from member reports (every 2 s, SUSPICIOUS on a failure, DOWN after
 *     nacos.core.member.fail-access-cnt failures or a refused connection)
 *     with failAccessCnt and lastRefreshTime. This is what locusd does;
 *   - a probe (lc_members_set_probe), asked for a member's state every time
 *     the state is read, which sees the pushed state (m->state) and may
 *     combine it with something else (tests; locusd once answered from the
 *     raft peer links this way).
 *
 * The list changes when cluster.conf is edited (lc_members_update).
 *
 * Everything runs on one loop; nothing here blocks, and only
 * lc_members_new and lc_members_update allocate. This module includes only
 * common/ headers, so raft/, distro/ and naming/ can all use it.
 */
#ifndef LC_MEMBERS_H
#define LC_MEMBERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LC_MEMBERS_MAX 16      /* members, this node included */
#define LC_MEMBER_HOST_MAX 256 /* longest host, with NUL */
#define LC_MEMBER_ADDR_MAX 264 /* longest "[host]:port", with NUL */

/* Nacos's NodeState, in its order. */
enum lc_member_state {
    LC_MEMBER_STARTING,
    LC_MEMBER_UP,
    LC_MEMBER_SUSPICIOUS,
    LC_MEMBER_DOWN,
    LC_MEMBER_ISOLATION,
};

/* NodeState's name ("UP", ...), or "UNKNOWN" for a value out of range. */
const char *lc_member_state_name(enum lc_member_state state);

/* Whether Distro counts a member in @state (UP or SUSPICIOUS, as
 * DistroMapper's healthy list). */
bool lc_member_state_healthy(enum lc_member_state state);

/* A member as configuration gives it (cluster.conf's `ip[:port]`, parsed):
 * host as written (an IPv6 literal without brackets) and main port. */
struct lc_member_conf {
    const char *host;
    int port;
};

/* A member. Read-only for users of the list; it lives as long as the list. */
struct lc_member {
    char host[LC_MEMBER_HOST_MAX];
    int port;                           /* main (HTTP) port */
    int raft_port;                      /* port - 1000 */
    int grpc_port;                      /* port + 1000: the SDK's gRPC */
    int grpc_cluster_port;              /* port + 1001: server-to-server gRPC */
    char addr[LC_MEMBER_ADDR_MAX];      /* "host:port", "[v6]:port" */
    char raft_addr[LC_MEMBER_ADDR_MAX]; /* "host:raft_port", the engine's */
    bool self;                          /* this node */
    /* The last state pushed in (UP at first, as a parsed Nacos Member);
     * read the member's state with lc_members_state. */
    enum lc_member_state state;
    /* Filled by member reports (lc_members_set_report): failures since the
     * last success, and when the member was last heard of (wall clock ms,
     * 0: never). */
    unsigned fail_access_cnt;
    uint64_t last_refresh_ms;
};

struct lc_members;

/* Build the list from the @n configured members @entries and this node,
 * @self (both copied; nothing borrowed). @self is found among @entries by
 * host (as written, not resolved) and port; when it is not listed
 * (standalone) it is added. Return 0 and the list in *@out, or, with a
 * message in @errmsg (may be NULL) and *@out untouched: LC_EINVAL for a bad
 * host (empty, over-long, with blanks or `,#[]/@"'`, or one colon) or port
 * (the derived ports must be valid: 1001..64534), LC_EEXIST for a member
 * listed twice, LC_ETOOBIG for more than LC_MEMBERS_MAX members, LC_ENOMEM. */
int lc_members_new(const struct lc_member_conf *entries, unsigned n,
                   const struct lc_member_conf *self, struct lc_members **out,
                   char *errmsg, size_t errlen);

void lc_members_free(struct lc_members *ms);

/* Replace the configured members by the @n @entries (copied; cluster.conf
 * edited), keeping this node (added when not listed) and what is known of
 * the members that stay (state, failAccessCnt, last refresh). Checked as
 * lc_members_new; on an error nothing changes. Pointers to members
 * (lc_members_at, _find, _self) are invalid after a successful call.
 * Return 0 or LC_E* with a message in @errmsg. */
int lc_members_update(struct lc_members *ms,
                      const struct lc_member_conf *entries, unsigned n,
                      char *errmsg, size_t errlen);

/* Number of members, this node included (>= 1). */
unsigned lc_members_count(const struct lc_members *ms);

/* The @i-th member in address order (NULL when @i >= count); borrowed
 * from @ms. */
const struct lc_member *lc_members_at(const struct lc_members *ms, unsigned i);

/* This node; borrowed from @ms. */
const struct lc_member *lc_members_self(const struct lc_members *ms);

/* The member whose address is @addr ("host:port", IPv6 bracketed), or
 * NULL; borrowed from @ms. */
const struct lc_member *lc_members_find(const struct lc_members *ms,
                                        const char *addr);

/* The member whose raft address is @raft_addr, or NULL; borrowed. */
const struct lc_member *lc_members_find_raft(const struct lc_members *ms,
                                             const char *raft_addr);

/* ------------------------------------------------------------- liveness */

/* A member's current state. @m is borrowed for the call; m->state is the
 * last state pushed in. Must not change the list. */
typedef enum lc_member_state (*lc_members_probe_cb)(void *data,
                                                    const struct lc_member *m);

/* Ask @cb (with @data, borrowed) for a member's state each time it is read;
 * NULL removes the probe (the pushed states count again). */
void lc_members_set_probe(struct lc_members *ms, lc_members_probe_cb cb,
                          void *data);

/* Record @state for the member at @addr. Return 0, LC_ENOTFOUND (no such
 * member) or LC_EINVAL (not a state). */
int lc_members_set_state(struct lc_members *ms, const char *addr,
                         enum lc_member_state state);

/* Record what member reports learnt about the member at @addr (the cluster
 * plane, rpc/cluster/peers.h): its @state, failures since the last success
 * and when it was last heard of (wall ms; 0 keeps the old value). Return
 * 0, LC_ENOTFOUND or LC_EINVAL. */
int lc_members_set_report(struct lc_members *ms, const char *addr,
                          enum lc_member_state state, unsigned fail_access_cnt,
                          uint64_t last_refresh_ms);

/* @m's state: the probe's answer when a probe is set, else m->state. */
enum lc_member_state lc_members_state(const struct lc_members *ms,
                                      const struct lc_member *m);

/* --------------------------------------------------------------- Distro */

/* Distro's healthy list: this node, whatever its state (it always serves
 * what it is responsible for), and the others whose state counts
 * (lc_member_state_healthy), in address order, the same on every member
 * that sees the same states. Fill @out with at most @size borrowed
 * pointers; return how many (>= 1 when @size >= 1). Pass LC_MEMBERS_MAX to
 * get them all. */
unsigned lc_members_healthy(const struct lc_members *ms,
                            const struct lc_member **out, unsigned size);

#endif /* LC_MEMBERS_H */
