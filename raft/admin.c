/* Nacos's raft ops commands on a group: steering leadership, snapshots and
 * membership.
 *
 * transferLeader, removePeer(s), changePeers and restRaftCluster must run on
 * the leader: a follower sends them there on the peer channel. doSnapshot
 * runs on the member its value names. resetPeers always runs where it is
 * asked: it is the way out when a group lost its quorum, and restarts the
 * group locally with a forced configuration (raft_recover), keeping its data.
 *
 * canonical/raft 0.15's raft_transfer can fail spuriously (the target was not
 * caught up, or another node won the election); the transfer is checked after
 * its callback and retried up to four times.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "raft/internal.h"

#define TRANSFER_ATTEMPTS 5
#define MAX_LIST 16

enum op_kind {
    OP_TRANSFER,
    OP_SNAPSHOT,
    OP_REMOVE,   /* removePeer, removePeers */
    OP_CHANGE,   /* changePeers, restRaftCluster */
    OP_RESET,    /* resetPeers */
};

struct lc_admin_op {
    struct lc_raft_group *g;
    enum op_kind kind;
    char command[32];
    char value[LC_RAFT_ADDR_MAX * MAX_LIST];
    /* who asked: a local caller or a peer */
    struct lc_raft_admin *req;
    struct lc_net_request *nreq;
    uint64_t deadline;
    /* progress */
    char list[MAX_LIST][LC_RAFT_ADDR_MAX];
    unsigned n_list;
    unsigned attempts;
    uint64_t min_index; /* doSnapshot: snapshot must cover this */
    bool changing;      /* a raft_change is in flight */
    bool transferring;
    bool promoting;     /* raft_add done, raft_assign next */
    struct raft_transfer transfer;
    struct raft_change change;
    struct lc_raft_read read;
    bool reading;
    struct lc_net_call *call;
    struct lc_admin_op *next; /* in snap_waiters / admin_wait */
};

static void op_step(struct lc_admin_op *op);

static void op_finish(struct lc_admin_op *op, int status, const char *message)
{
    if (message == NULL) {
        message = status == 0 ? "" : lc_strerror(status);
    }
    if (status != 0) {
        lc_warnf("raft", "group %s: %s %s failed: %s", op->g->name,
                 op->command, op->value, message);
    } else {
        lc_infof("raft", "group %s: %s %s done", op->g->name, op->command,
                 op->value);
    }
    if (op->req != NULL) {
        op->req->op = NULL;
        op->req->cb(op->req, status, message);
    } else if (op->nreq != NULL) {
        Locus__Raft__PeerResponse resp = LOCUS__RAFT__PEER_RESPONSE__INIT;
        struct lc_net *net = &op->g->e->net;
        resp.status = status;
        resp.message = (char *)message;
        net->respond(net, op->nreq, &resp);
    }
    free(op);
}

static void list_remove(struct lc_admin_op **head, struct lc_admin_op *op)
{
    for (struct lc_admin_op **p = head; *p != NULL; p = &(*p)->next) {
        if (*p == op) {
            *p = op->next;
            op->next = NULL;
            return;
        }
    }
}

static int parse_list(struct lc_admin_op *op, const char *value, char *errmsg,
                      size_t errlen)
{
    const char *p = value;
    op->n_list = 0;
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        char item[LC_RAFT_ADDR_MAX];
        char host[LC_RAFT_ADDR_MAX];
        int port;
        while (n > 0 && (*p == ' ')) {
            p++;
            n--;
        }
        while (n > 0 && p[n - 1] == ' ') {
            n--;
        }
        if (n == 0 || n >= sizeof item) {
            snprintf(errmsg, errlen, "bad peer list '%s'", value);
            return LC_EINVAL;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        if (lc_split_host_port(item, host, sizeof host, &port) != 0) {
            snprintf(errmsg, errlen, "bad peer address '%s' (want ip:port)",
                     item);
            return LC_EINVAL;
        }
        if (op->n_list == MAX_LIST) {
            snprintf(errmsg, errlen, "too many peers (at most %d)", MAX_LIST);
            return LC_EINVAL;
        }
        lc_strlcpy(op->list[op->n_list++], item, LC_RAFT_ADDR_MAX);
        p = comma != NULL ? comma + 1 : p + n;
    }
    if (op->n_list == 0) {
        snprintf(errmsg, errlen, "no peers given");
        return LC_EINVAL;
    }
    return 0;
}

/* The member at @address in @r's configuration (its id is derived from the
 * address, lc_raft_id_of, when the engine adds it). */
static const struct raft_server *find_server(struct raft *r,
                                             const char *address)
{
    for (unsigned i = 0; i < r->configuration.n; i++) {
        if (strcmp(r->configuration.servers[i].address, address) == 0) {
            return &r->configuration.servers[i];
        }
    }
    return NULL;
}

/* --------------------------------------------------- sending to a member */

static void on_remote_reply(struct lc_net_call *call, int status,
                            const Locus__Raft__PeerResponse *resp)
{
    struct lc_admin_op *op = call->data;
    op->call = NULL;
    if (status != 0) {
        op_finish(op, status, "lost the connection to the member");
        return;
    }
    if (resp->status == LC_ENOTLEADER && op->kind != OP_SNAPSHOT) {
        /* Leadership moved while the command travelled: go again. */
        op->next = op->g->admin_wait;
        op->g->admin_wait = op;
        return;
    }
    op_finish(op, resp->status, resp->message);
}

/* Send the command to @address; 0 if sent. */
static int send_to(struct lc_admin_op *op, const char *address)
{
    struct lc_net *net = &op->g->e->net;
    Locus__Raft__PeerRequest req = LOCUS__RAFT__PEER_REQUEST__INIT;
    struct lc_net_call *call;
    int rv;

    if (!net->peer_up(net, address)) {
        return LC_ECONN;
    }
    call = calloc(1, sizeof *call);
    if (call == NULL) {
        return LC_ENOMEM;
    }
    req.kind = LOCUS__RAFT__PEER_REQUEST__KIND__ADMIN;
    req.group = op->g->name;
    req.command = op->command;
    req.value = op->value;
    call->data = op;
    rv = net->send(net, address, &req, call, on_remote_reply);
    if (rv != 0) {
        free(call);
        return rv;
    }
    op->call = call;
    return 0;
}

/* Run on the leader: here if we are it, else send it there, else wait. */
static bool at_leader(struct lc_admin_op *op, struct raft *r)
{
    raft_id leader;
    const char *addr;
    if (raft_state(r) == RAFT_LEADER && r->transfer == NULL) {
        return true;
    }
    raft_leader(r, &leader, &addr);
    if (op->nreq != NULL) {
        /* A peer thought we lead: tell it to look again. */
        op_finish(op, LC_ENOTLEADER, "not the leader");
        return false;
    }
    if (leader != 0 && leader != r->id && send_to(op, addr) == 0) {
        return false;
    }
    op->next = op->g->admin_wait;
    op->g->admin_wait = op;
    return false;
}

/* ------------------------------------------------------------- transfer */

/* Continue an op on the next turn, never from inside a raft callback. */
static void defer(struct lc_admin_op *op)
{
    op->next = op->g->admin_wait;
    op->g->admin_wait = op;
    lc_group_kick(op->g);
}

static void on_transfer(struct raft_transfer *req)
{
    struct lc_admin_op *op = req->data;
    op->transferring = false;
    defer(op);
}

static void step_transfer(struct lc_admin_op *op, struct raft *r)
{
    const struct raft_server *s = find_server(r, op->value);
    raft_id target;
    raft_id leader;
    const char *addr;
    int rv;

    if (s == NULL || s->role != RAFT_VOTER) {
        op_finish(op, LC_EINVAL, "the target is not a voter of this group");
        return;
    }
    target = s->id;
    raft_leader(r, &leader, &addr);
    if (leader == target) {
        op_finish(op, 0, NULL);
        return;
    }
    if (op->attempts >= TRANSFER_ATTEMPTS) {
        op_finish(op, LC_EBUSY, "leadership did not move to the target");
        return;
    }
    if (!at_leader(op, r)) {
        return;
    }
    op->attempts++;
    op->transfer.data = op;
    rv = raft_transfer(r, &op->transfer, target, on_transfer);
    if (rv != 0) {
        op_finish(op, lc_err_from_raft(rv), raft_errmsg(r));
        return;
    }
    op->transferring = true;
}

/* ------------------------------------------------------------- snapshot */

static void on_snapshot_barrier(struct lc_raft_read *rd, int status)
{
    struct lc_admin_op *op = rd->data;
    op->reading = false;
    if (status != 0) {
        list_remove(&op->g->snap_waiters, op);
        op_finish(op, status, "could not reach the leader");
    }
    /* Otherwise the barrier is applied; the snapshot is on its way. */
}

static void step_snapshot(struct lc_admin_op *op, struct raft *r)
{
    const char *target = op->value[0] != '\0' ? op->value : NULL;
    if (target != NULL && strcmp(target, op->g->e->self) != 0) {
        if (op->nreq != NULL) {
            op_finish(op, LC_EINVAL, "snapshot target is not this member");
        } else if (send_to(op, target) != 0) {
            op_finish(op, LC_ECONN, "cannot reach the snapshot target");
        }
        return;
    }
    op->min_index = r->last_applied;
    op->next = op->g->snap_waiters;
    op->g->snap_waiters = op;
    lc_group_force_snapshot(op->g);
    /* A snapshot is taken when an entry is applied: append a barrier. */
    op->read.data = op;
    op->reading = true;
    lc_req_submit_read(op->g, &op->read, on_snapshot_barrier);
}

void lc_admin_snapshot_done(struct lc_raft_group *g, int status)
{
    struct lc_admin_op *op = g->snap_waiters;
    bool again = false;
    g->snap_waiters = NULL;
    while (op != NULL) {
        struct lc_admin_op *next = op->next;
        op->next = NULL;
        if (status != 0 && !op->reading) {
            op_finish(op, status, "snapshot failed");
        } else if (status == 0 && g->snap.index >= op->min_index &&
                   !op->reading) {
            op_finish(op, 0, NULL);
        } else {
            op->next = g->snap_waiters; /* an older snapshot finished */
            g->snap_waiters = op;
            again = true;
        }
        op = next;
    }
    if (again && status != LC_ESHUTDOWN) {
        lc_group_force_snapshot(g);
    }
}

/* ------------------------------------------------------------ membership */

static void on_change(struct raft_change *req, int status)
{
    struct lc_admin_op *op = req->data;
    op->changing = false;
    if (status != 0) {
        op_finish(op, lc_err_from_raft(status), raft_strerror(status));
        return;
    }
    defer(op);
}

/* One membership change toward the goal, or finish if there. */
static void step_membership(struct lc_admin_op *op, struct raft *r)
{
    int rv = 0;
    if (!at_leader(op, r)) {
        return;
    }
    op->change.data = op;
    if (op->kind == OP_REMOVE) {
        for (unsigned i = 0; i < op->n_list; i++) {
            const struct raft_server *s = find_server(r, op->list[i]);
            if (s != NULL) {
                rv = raft_remove(r, &op->change, s->id, on_change);
                goto submitted;
            }
        }
        op_finish(op, 0, NULL); /* removing an absent peer is a no-op */
        return;
    }
    /* OP_CHANGE: add and promote the missing, then remove the extra. */
    for (unsigned i = 0; i < op->n_list; i++) {
        const struct raft_server *s = find_server(r, op->list[i]);
        if (s == NULL) {
            rv = raft_add(r, &op->change, lc_raft_id_of(op->list[i]),
                          op->list[i], on_change);
            goto submitted;
        }
        if (s->role != RAFT_VOTER) {
            rv = raft_assign(r, &op->change, s->id, RAFT_VOTER, on_change);
            goto submitted;
        }
    }
    for (unsigned i = 0; i < r->configuration.n; i++) {
        const struct raft_server *s = &r->configuration.servers[i];
        bool wanted = false;
        for (unsigned j = 0; j < op->n_list; j++) {
            wanted = wanted || strcmp(op->list[j], s->address) == 0;
        }
        if (!wanted) {
            rv = raft_remove(r, &op->change, s->id, on_change);
            goto submitted;
        }
    }
    op_finish(op, 0, NULL);
    return;

submitted:
    if (rv != 0) {
        op_finish(op, lc_err_from_raft(rv), raft_errmsg(r));
        return;
    }
    op->changing = true;
}

/* --------------------------------------------------------------- reset */

static void step_reset(struct lc_admin_op *op)
{
    struct raft_configuration *conf = malloc(sizeof *conf);
    int rv;
    if (conf == NULL) {
        op_finish(op, LC_ENOMEM, NULL);
        return;
    }
    raft_configuration_init(conf);
    for (unsigned i = 0; i < op->n_list; i++) {
        rv = raft_configuration_add(conf, lc_raft_id_of(op->list[i]),
                                    op->list[i], RAFT_VOTER);
        if (rv != 0) {
            raft_configuration_close(conf);
            free(conf);
            op_finish(op, LC_EINVAL, "duplicate peer in the list");
            return;
        }
    }
    if (op->g->restart_waiter != NULL) {
        raft_configuration_close(conf);
        free(conf);
        op_finish(op, LC_EBUSY, "a reset is already in progress");
        return;
    }
    rv = lc_group_restart(op->g, "resetPeers", conf);
    if (rv != 0) {
        op_finish(op, rv,
                  rv == LC_ENOTSUP ? "this group cannot restart"
                                   : "the group is restarting or closed");
        return;
    }
    op->g->restart_waiter = op;
}

void lc_admin_restart_done(struct lc_raft_group *g, int status)
{
    struct lc_admin_op *op = g->restart_waiter;
    if (op == NULL) {
        return;
    }
    g->restart_waiter = NULL;
    op_finish(op, status, status == 0 ? NULL : "reopening the group failed");
}

/* ------------------------------------------------------------- dispatch */

static void op_step(struct lc_admin_op *op)
{
    struct raft *r = lc_group_raft(op->g);
    if (op->g->closing) {
        op_finish(op, LC_ESHUTDOWN, NULL);
        return;
    }
    if (r == NULL) {
        op->next = op->g->admin_wait; /* restarting */
        op->g->admin_wait = op;
        return;
    }
    switch (op->kind) {
        case OP_TRANSFER:
            step_transfer(op, r);
            break;
        case OP_SNAPSHOT:
            step_snapshot(op, r);
            break;
        case OP_REMOVE:
        case OP_CHANGE:
            step_membership(op, r);
            break;
        case OP_RESET:
            step_reset(op);
            break;
    }
}

void lc_admin_leader_changed(struct lc_raft_group *g)
{
    struct lc_admin_op *op = g->admin_wait;
    g->admin_wait = NULL;
    while (op != NULL) {
        struct lc_admin_op *next = op->next;
        op->next = NULL;
        op_step(op);
        op = next;
    }
}

void lc_admin_sweep(struct lc_raft_group *g, uint64_t now)
{
    struct lc_admin_op **p = &g->admin_wait;
    while (*p != NULL) {
        struct lc_admin_op *op = *p;
        if (now >= op->deadline) {
            *p = op->next;
            op_finish(op, LC_ETIMEDOUT, "no leader to run the command on");
        } else {
            p = &op->next;
        }
    }
    p = &g->snap_waiters;
    while (*p != NULL) {
        struct lc_admin_op *op = *p;
        if (now >= op->deadline + 4 * g->e->opts.rpc_timeout_ms &&
            !op->reading) {
            *p = op->next;
            op_finish(op, LC_ETIMEDOUT, "snapshot did not complete");
        } else {
            p = &op->next;
        }
    }
}

void lc_admin_fail_all(struct lc_raft_group *g, int status)
{
    struct lc_admin_op *op;
    while ((op = g->admin_wait) != NULL) {
        g->admin_wait = op->next;
        op_finish(op, status, NULL);
    }
    while ((op = g->snap_waiters) != NULL && !op->reading) {
        g->snap_waiters = op->next;
        op_finish(op, status, NULL);
    }
    lc_admin_restart_done(g, status);
}

static int op_new(struct lc_raft_group *g, const char *command,
                  const char *value, struct lc_admin_op **out, char *errmsg,
                  size_t errlen)
{
    struct lc_admin_op *op;
    enum op_kind kind;
    int rv;

    if (strcmp(command, "transferLeader") == 0) {
        kind = OP_TRANSFER;
    } else if (strcmp(command, "doSnapshot") == 0) {
        kind = OP_SNAPSHOT;
    } else if (strcmp(command, "removePeer") == 0 ||
               strcmp(command, "removePeers") == 0) {
        kind = OP_REMOVE;
    } else if (strcmp(command, "changePeers") == 0 ||
               strcmp(command, "restRaftCluster") == 0) {
        kind = OP_CHANGE;
    } else if (strcmp(command, "resetPeers") == 0) {
        kind = OP_RESET;
    } else {
        snprintf(errmsg, errlen, "Not support command : %s", command);
        return LC_ENOTSUP;
    }
    op = calloc(1, sizeof *op);
    if (op == NULL) {
        return LC_ENOMEM;
    }
    op->g = g;
    op->kind = kind;
    op->deadline = lc_engine_now(g->e) + 2 * g->e->opts.rpc_timeout_ms;
    lc_strlcpy(op->command, command, sizeof op->command);
    if (value == NULL) {
        value = "";
    }
    if (!lc_strlcpy(op->value, value, sizeof op->value)) {
        free(op);
        snprintf(errmsg, errlen, "value too long");
        return LC_EINVAL;
    }
    if (kind == OP_TRANSFER || (kind == OP_SNAPSHOT && value[0] != '\0') ||
        kind == OP_REMOVE || kind == OP_CHANGE || kind == OP_RESET) {
        rv = parse_list(op, value, errmsg, errlen);
        if (rv == 0 && (kind == OP_TRANSFER || kind == OP_SNAPSHOT) &&
            op->n_list != 1) {
            snprintf(errmsg, errlen, "%s takes one peer (ip:raftPort)",
                     command);
            rv = LC_EINVAL;
        }
        if (rv != 0) {
            free(op);
            return rv;
        }
    }
    *out = op;
    return 0;
}

int lc_raft_group_admin(struct lc_raft_group *g, struct lc_raft_admin *req,
                        const char *command, const char *value,
                        lc_raft_admin_cb cb, char *errmsg, size_t errlen)
{
    struct lc_admin_op *op;
    int rv;
    if (g->closing) {
        snprintf(errmsg, errlen, "shutting down");
        return LC_ESHUTDOWN;
    }
    rv = op_new(g, command, value, &op, errmsg, errlen);
    if (rv != 0) {
        return rv;
    }
    req->cb = cb;
    req->op = op;
    op->req = req;
    /* Never call back from inside this call: start on the next turn. */
    op->next = g->admin_wait;
    g->admin_wait = op;
    lc_group_kick(g);
    return 0;
}

void lc_admin_serve(struct lc_raft_group *g, struct lc_net_request *req,
                    const char *command, const char *value)
{
    struct lc_admin_op *op;
    char errmsg[256] = "";
    int rv = op_new(g, command, value, &op, errmsg, sizeof errmsg);
    if (rv != 0) {
        Locus__Raft__PeerResponse resp = LOCUS__RAFT__PEER_RESPONSE__INIT;
        struct lc_net *net = &g->e->net;
        resp.status = rv;
        resp.message = errmsg;
        net->respond(net, req, &resp);
        return;
    }
    op->nreq = req;
    op_step(op);
}
