/* The multi-group Raft engine: one canonical/raft instance per state machine,
 * all on one libuv loop and one authenticated TCP port.
 *
 * A group is created for each state machine registered before start. Each
 * group has its own directory (<data_dir>/protocol/raft/<group>/), log,
 * snapshots, elections and leader. Connections to the raft port begin with a
 * preface naming the group (or the node-level "peer" channel) and proving
 * membership with an HMAC over the cluster secret.
 *
 * Writes may be submitted on any member: the leader batches them into
 * raft_apply(); a follower forwards them to the leader over the peer channel
 * and reports success only once the entry is applied locally too
 * (read-your-writes on the node that was asked). A read barrier gives
 * linearizable reads on any member.
 *
 * Everything here runs on the engine's loop; no function may be called from
 * another thread.
 */
#ifndef LC_RAFT_ENGINE_H
#define LC_RAFT_ENGINE_H

#include <raft.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define LC_RAFT_GROUP_MAX 64   /* longest group name, with NUL */
#define LC_RAFT_ADDR_MAX 280   /* longest raft address "[v6]:port", with NUL */
#define LC_RAFT_MAX_MEMBERS 16
#define LC_RAFT_PEER_CHANNEL "peer"

struct lc_raft_engine;
struct lc_raft_group;

struct lc_raft_options {
    const char *self;          /* this node's raft address, "ip:port" */
    const char *const *members; /* raft addresses of every voter, self too */
    unsigned n_members;
    const char *data_dir;      /* groups live under <data_dir>/protocol/raft */
    const void *secret;        /* cluster secret for prefaces (copied) */
    size_t secret_len;
    bool bootstrap;            /* bootstrap a pristine group (false: --join) */
    unsigned election_timeout_ms;
    unsigned heartbeat_ms;
    unsigned snapshot_threshold;
    unsigned snapshot_trailing;
    unsigned snapshot_interval_secs; /* 0: only by threshold and command */
    unsigned rpc_timeout_ms;   /* bound on a write, read or admin command */
    bool fast_failover;        /* elect at once when the leader process dies */
};

/* Outcome of applying one entry, produced by the state machine on every
 * member (deterministic), travelling back to whoever submitted the write. */
struct lc_raft_result {
    int status;        /* 0 or an LC_E* code chosen by the state machine */
    char message[256]; /* detail, "" when none */
};

struct lc_raft_snapshot_info {
    uint64_t index;
    uint64_t term;
    uint64_t created_ms; /* wall clock when it was taken, 0 if none */
    size_t size;         /* bytes */
};

/* What a group runs. Implemented by statemachine/; all callbacks but
 * snapshot_write run on the loop. */
struct lc_raft_sm {
    void *data;
    /* Apply the committed command @buf/@len at @index; fill @result. */
    void (*apply)(struct lc_raft_sm *sm, uint64_t index, const void *buf,
                  size_t len, struct lc_raft_result *result);
    /* Capture the state as of @index/@term into *@frozen, cheaply. */
    int (*snapshot_take)(struct lc_raft_sm *sm, uint64_t index, uint64_t term,
                         void **frozen);
    /* On a worker thread: encode @frozen into *@n_bufs (>= 1) buffers whose
     * concatenation is the snapshot: *@bufs and every base raft_malloc'd,
     * owned by the engine afterwards. */
    int (*snapshot_write)(struct lc_raft_sm *sm, void *frozen,
                          struct raft_buffer **bufs, unsigned *n_bufs);
    /* Release @frozen (always called once after snapshot_take succeeded). */
    void (*snapshot_release)(struct lc_raft_sm *sm, void *frozen);
    /* Replace the whole state with the snapshot @buf/@len (borrowed). Set
     * info->created_ms. Return 0, or an LC_E* code with a message. */
    int (*restore)(struct lc_raft_sm *sm, const void *buf, size_t len,
                   struct lc_raft_snapshot_info *info, char *errmsg,
                   size_t errlen);
    /* Optional (NULL: whatever raft applied is visible). The last index
     * whose effect the state shows, when restore or apply left work for
     * later loop iterations; UINT64_MAX when none is left. Requests
     * waiting on this member for an index wait for it too, and a leader is
     * not ready before; call lc_raft_group_visible() as it advances. */
    uint64_t (*visible)(struct lc_raft_sm *sm);
};

/* ------------------------------------------------------------- lifecycle */

/* Create an engine on @loop. @opts and everything it points to are copied.
 * Return 0 or LC_ENOMEM / LC_EINVAL (message in @errmsg). */
int lc_raft_engine_new(uv_loop_t *loop, const struct lc_raft_options *opts,
                       struct lc_raft_engine **out, char *errmsg,
                       size_t errlen);

/* Register a group named @name running @sm (borrowed for the engine's
 * lifetime). Only before lc_raft_engine_start(). */
int lc_raft_engine_add_group(struct lc_raft_engine *e, const char *name,
                             struct lc_raft_sm *sm,
                             struct lc_raft_group **out);

/* Listen on the raft port, open (and on first start bootstrap) every group,
 * connect peer links. Return 0 or an LC_E* code with a message. */
int lc_raft_engine_start(struct lc_raft_engine *e, char *errmsg,
                         size_t errlen);

typedef void (*lc_raft_engine_close_cb)(void *data);

/* Fail pending requests with LC_ESHUTDOWN, close every group (their logs are
 * left consistent on disk), the listener and peer links, then call @cb. The
 * engine's memory is freed before @cb runs. */
void lc_raft_engine_close(struct lc_raft_engine *e, lc_raft_engine_close_cb cb,
                          void *data);

/* Free what closed raft instances still hold. canonical/raft 0.15 may call
 * into a closed instance until the loop has run everything pending, so this
 * is for after uv_run() has returned (incarnations replaced by a group
 * restart also wait until then). */
void lc_raft_free_closed(void);

/* --------------------------------------------------------------- queries */

struct lc_raft_group *lc_raft_engine_group(struct lc_raft_engine *e,
                                           const char *name);
unsigned lc_raft_engine_n_groups(const struct lc_raft_engine *e);
struct lc_raft_group *lc_raft_engine_group_at(struct lc_raft_engine *e,
                                              unsigned i);
const char *lc_raft_group_name(const struct lc_raft_group *g);

/* The loop the engine runs on. */
uv_loop_t *lc_raft_engine_loop(struct lc_raft_engine *e);

/* @g's state machine made more applied entries visible (lc_raft_sm's
 * visible): complete what waited for them. */
void lc_raft_group_visible(struct lc_raft_group *g);

/* True once every group has caught up with what was committed when this node
 * first heard from a leader (and, on a leader, its first barrier is applied).
 * Latches: stays true afterwards. */
bool lc_raft_engine_caught_up(const struct lc_raft_engine *e);

/* True when caught up and every group currently has a known leader. */
bool lc_raft_engine_healthy(const struct lc_raft_engine *e);

/* Whether the peer-channel link to the member with raft address @address is
 * up (true for self). */
bool lc_raft_engine_peer_up(const struct lc_raft_engine *e,
                            const char *address);

/* Raft id used for @address (derived from the address text). */
raft_id lc_raft_id_of(const char *address);

/* ---------------------------------------------------------------- writes */

struct lc_raft_write;
typedef void (*lc_raft_write_cb)(struct lc_raft_write *req, int status,
                                 const struct lc_raft_result *result);

/* Private part shared by writes and reads; callers never touch it. */
struct lc_raft__req {
    struct lc_raft_group *group;
    int kind;           /* write or read */
    int state;          /* where the request is (see raft/internal.h) */
    bool served;        /* submitted on behalf of a peer: never forwarded */
    void *buf;          /* a write's entry, owned until appended */
    size_t len;
    uint64_t index;     /* log index once known */
    uint64_t deadline;  /* loop time (ms) after which it fails */
    void *call;         /* peer call in flight, or NULL */
    void *batch;        /* read: the barrier batch it waits in, or NULL */
    struct lc_raft_result result;
    struct lc_raft__req *prev, *next;
};

/* A write request, caller-allocated, borrowed until @cb fires. */
struct lc_raft_write {
    void *data; /* user data */
    lc_raft_write_cb cb;
    struct lc_raft__req priv;
};

/* Submit the command @buf/@len (allocated with raft_malloc; ownership passes
 * to the engine in every case) to @g. @len must be a non-zero multiple of 8:
 * raft_uv 0.15 cannot load other entries back from disk (LC_EINVAL). @cb gets status 0 and the state
 * machine's result once the entry is applied on this node, or LC_ENOTREADY,
 * LC_ENOLEADER (no leader reachable: not applied), LC_ETIMEDOUT (the leader
 * did not answer in time), LC_ELEADERSHIPLOST, LC_ECONN (these three:
 * outcome unknown), LC_ESHUTDOWN. Return 0, or an LC_E* code (then @cb
 * never fires): LC_ENOLEADER at once when this member knows no reachable
 * leader and reaches no majority of voters. */
int lc_raft_group_write(struct lc_raft_group *g, struct lc_raft_write *req,
                        void *buf, size_t len, lc_raft_write_cb cb);

/* --------------------------------------------------------- read barrier */

struct lc_raft_read;
typedef void (*lc_raft_read_cb)(struct lc_raft_read *req, int status);

struct lc_raft_read {
    void *data;
    lc_raft_read_cb cb;
    struct lc_raft__req priv;
};

/* Wait until everything committed before this call is applied on this node:
 * a barrier through the leader (linearizable read). @cb gets 0 or an LC_E*
 * code. Return 0 or an LC_E* code (then @cb never fires). */
int lc_raft_group_read_barrier(struct lc_raft_group *g,
                               struct lc_raft_read *req, lc_raft_read_cb cb);

/* ----------------------------------------------------------------- admin */

struct lc_raft_admin;
typedef void (*lc_raft_admin_cb)(struct lc_raft_admin *req, int status,
                                 const char *message);

struct lc_raft_admin {
    void *data;
    lc_raft_admin_cb cb;
    /* private */
    void *op;
};

/* Run Nacos's raft ops command @command with @value on @g (see
 * docs/raft.md): transferLeader, doSnapshot, removePeer, removePeers,
 * changePeers, restRaftCluster, resetPeers. Commands that need the leader are
 * sent to it. @command and @value are copied. @cb gets 0 or an LC_E* code
 * with a message. Return 0 or LC_ENOTSUP / LC_EINVAL / LC_ENOMEM (then @cb
 * never fires; @errmsg says why). */
int lc_raft_group_admin(struct lc_raft_group *g, struct lc_raft_admin *req,
                        const char *command, const char *value,
                        lc_raft_admin_cb cb, char *errmsg, size_t errlen);

/* ---------------------------------------------------------------- status */

struct lc_raft_member_status {
    raft_id id;
    char address[LC_RAFT_ADDR_MAX];
    int role;              /* RAFT_VOTER, RAFT_STANDBY, RAFT_SPARE */
    bool self;
    bool leader;
    bool link_up;          /* peer channel connected (true for self) */
    uint64_t match_index;  /* leader only */
    int64_t last_contact_ms; /* leader only: ms since last reply, -1 unknown */
};

struct lc_raft_group_status {
    char name[LC_RAFT_GROUP_MAX];
    const char *state; /* "leader", "follower", "candidate", "unavailable" */
    char leader[LC_RAFT_ADDR_MAX]; /* "" when unknown */
    raft_id leader_id;
    uint64_t term;
    uint64_t commit_index;
    uint64_t applied_index;
    uint64_t last_log_index;
    struct lc_raft_snapshot_info snapshot;
    struct lc_raft_member_status members[LC_RAFT_MAX_MEMBERS];
    unsigned n_members;
    uint64_t elections;        /* leaders seen after the first */
    int64_t last_election_ms;  /* leader gap of the last change, -1 none */
    uint64_t restarts;         /* group restarts (disk failure, resetPeers) */
    bool caught_up;
    /* Leader whose barrier of this term is applied: everything committed
     * before it became leader is applied here. False on other states. */
    bool leader_ready;
};

/* Fill @st with @g's current view. */
void lc_raft_group_status(struct lc_raft_group *g,
                          struct lc_raft_group_status *st);

#endif /* LC_RAFT_ENGINE_H */
