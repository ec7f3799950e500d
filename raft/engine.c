/* The engine: options, the groups, the network layer and what it reports
 * (claims to check, group connections, peer links up and down, requests from
 * peers), and the periodic sweep (request deadlines, interval snapshots).
 *
 * Start order: listen on the raft port, open every group (bootstrapping a
 * pristine one with the configured members), connect peer links. Close order
 * is the reverse, and the engine is freed only once every group, the network
 * layer and the timer have closed (n_live counts them).
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "raft/internal.h"

#define SWEEP_MS 100

raft_id lc_raft_id_of(const char *address)
{
    /* Stable across nodes and restarts; raft wants ids > 0. */
    raft_id id = XXH64(address, strlen(address), 0x6c6f637573ULL) >> 1;
    return id == 0 ? 1 : id;
}

static int on_net_check(void *data, const struct lc_preface *claim);
static void on_net_accept(void *data, const struct lc_preface *claim,
                          uv_stream_t *stream);
static void on_net_peer_up(void *data, const char *address);
static void on_net_peer_down(void *data, const char *address);
static void on_net_request(void *data, struct lc_net_request *req,
                           const Locus__Raft__PeerRequest *msg);

int lc_raft_engine_new(uv_loop_t *loop, const struct lc_raft_options *opts,
                       struct lc_raft_engine **out, char *errmsg,
                       size_t errlen)
{
    return lc_engine_new_on(loop, opts, NULL, out, errmsg, errlen);
}

int lc_engine_new_on(uv_loop_t *loop, const struct lc_raft_options *opts,
                     const struct lc_engine_env *env,
                     struct lc_raft_engine **out, char *errmsg,
                     size_t errlen)
{
    struct lc_raft_engine *e;
    const char *peers[LC_RAFT_MAX_MEMBERS];
    struct lc_net_config config;
    struct lc_net_cbs cbs = {
        .check = on_net_check,
        .accept = on_net_accept,
        .peer_up = on_net_peer_up,
        .peer_down = on_net_peer_down,
        .request = on_net_request,
    };
    bool self_listed = false;
    int rv;

    if (opts->self == NULL || opts->n_members == 0 ||
        opts->n_members > LC_RAFT_MAX_MEMBERS ||
        opts->election_timeout_ms == 0 || opts->heartbeat_ms == 0 ||
        opts->rpc_timeout_ms == 0 || opts->snapshot_threshold == 0) {
        snprintf(errmsg, errlen, "invalid raft options");
        return LC_EINVAL;
    }
    e = calloc(1, sizeof *e);
    if (e == NULL) {
        return LC_ENOMEM;
    }
    e->loop = loop;
    if (env != NULL) {
        e->env = *env;
    }
    e->opts = *opts;
    lc_strlcpy(e->self, opts->self, sizeof e->self);
    e->self_id = lc_raft_id_of(e->self);
    lc_strlcpy(e->data_dir, opts->data_dir, sizeof e->data_dir);
    for (unsigned i = 0; i < opts->n_members; i++) {
        if (!lc_strlcpy(e->members[i], opts->members[i], LC_RAFT_ADDR_MAX)) {
            snprintf(errmsg, errlen, "member address too long: %s",
                     opts->members[i]);
            rv = LC_EINVAL;
            goto err;
        }
        for (unsigned j = 0; j < i; j++) {
            if (lc_raft_id_of(e->members[j]) == lc_raft_id_of(e->members[i])) {
                snprintf(errmsg, errlen, "duplicate member %s", e->members[i]);
                rv = LC_EINVAL;
                goto err;
            }
        }
        e->member_ptrs[i] = e->members[i];
        self_listed = self_listed || strcmp(e->members[i], e->self) == 0;
    }
    if (!self_listed && opts->bootstrap) {
        snprintf(errmsg, errlen, "this node (%s) is not among the members",
                 e->self);
        rv = LC_EINVAL;
        goto err;
    }
    e->opts.self = e->self;
    e->opts.members = e->member_ptrs;
    e->opts.data_dir = e->data_dir;
    e->secret = malloc(opts->secret_len > 0 ? opts->secret_len : 1);
    if (e->secret == NULL) {
        rv = LC_ENOMEM;
        goto err;
    }
    memcpy(e->secret, opts->secret, opts->secret_len);
    e->opts.secret = e->secret;

    cbs.data = e;
    if (e->env.net_init != NULL) {
        rv = e->env.net_init(e->env.data, &e->net, &cbs);
    } else {
        memset(&config, 0, sizeof config);
        config.self = e->self;
        config.self_id = e->self_id;
        config.secret = e->secret;
        config.secret_len = opts->secret_len;
        config.liveness_ms = opts->election_timeout_ms;
        config.peers = peers;
        for (unsigned i = 0; i < opts->n_members; i++) {
            if (strcmp(e->members[i], e->self) != 0) {
                peers[config.n_peers++] = e->members[i];
            }
        }
        rv = lc_net_init(&e->net, loop, &config, &cbs);
    }
    if (rv != 0) {
        snprintf(errmsg, errlen, "cannot set up the raft network: %s",
                 lc_strerror(rv));
        goto err_after_secret;
    }
    e->net.data = e;
    e->n_live++; /* the network layer */
    uv_timer_init(loop, &e->sweep_timer);
    e->sweep_timer.data = e;
    e->n_live++; /* the sweep timer */
    *out = e;
    return 0;

err_after_secret:
    free(e->secret);
err:
    free(e);
    return rv;
}

int lc_raft_engine_add_group(struct lc_raft_engine *e, const char *name,
                             struct lc_raft_sm *sm,
                             struct lc_raft_group **out)
{
    struct lc_raft_group *g;
    int rv;
    if (e->started || e->n_groups == LC_ARRAY_SIZE(e->groups) ||
        strlen(name) >= LC_RAFT_GROUP_MAX ||
        strcmp(name, LC_RAFT_PEER_CHANNEL) == 0 ||
        lc_raft_engine_group(e, name) != NULL) {
        return LC_EINVAL;
    }
    rv = lc_group_new(e, name, sm, &g);
    if (rv != 0) {
        return rv;
    }
    e->groups[e->n_groups++] = g;
    if (out != NULL) {
        *out = g;
    }
    return 0;
}

static void on_sweep(uv_timer_t *t)
{
    struct lc_raft_engine *e = t->data;
    uint64_t now = lc_engine_now(e);
    uint64_t interval = (uint64_t)e->opts.snapshot_interval_secs * 1000;

    for (unsigned i = 0; i < e->n_groups; i++) {
        struct lc_raft_group *g = e->groups[i];
        struct raft *r = lc_group_raft(g);
        lc_group_sweep(g, now);
        lc_admin_sweep(g, now);
        if (r == NULL || interval == 0) {
            continue;
        }
        if (g->last_snapshot_at == 0) {
            g->last_snapshot_at = now;
        }
        if (now - g->last_snapshot_at >= interval &&
            r->last_applied > r->log.snapshot.last_index && !g->snap_forced) {
            /* Interval reached with entries since the last snapshot: take
             * one at the next applied entry. */
            g->last_snapshot_at = now;
            lc_group_force_snapshot(g);
        }
    }
}

int lc_raft_engine_start(struct lc_raft_engine *e, char *errmsg,
                         size_t errlen)
{
    int rv = e->net.listen(&e->net, errmsg, errlen);
    if (rv != 0) {
        return rv;
    }
    e->started = true;
    for (unsigned i = 0; i < e->n_groups; i++) {
        rv = lc_group_open(e->groups[i], errmsg, errlen);
        if (rv != 0) {
            return rv;
        }
    }
    e->net.connect(&e->net);
    lc_engine_timer_start(e, &e->sweep_timer, on_sweep, SWEEP_MS, SWEEP_MS);
    return 0;
}

uint64_t lc_engine_now(const struct lc_raft_engine *e)
{
    return e->env.now != NULL ? e->env.now(e->env.data) : uv_now(e->loop);
}

void lc_engine_timer_start(struct lc_raft_engine *e, uv_timer_t *t,
                           uv_timer_cb cb, uint64_t timeout, uint64_t repeat)
{
    if (e->env.timer_start != NULL) {
        e->env.timer_start(e->env.data, t, cb, timeout, repeat);
    } else {
        uv_timer_start(t, cb, timeout, repeat);
    }
}

void lc_engine_timer_stop(struct lc_raft_engine *e, uv_timer_t *t)
{
    if (e->env.timer_stop != NULL) {
        e->env.timer_stop(e->env.data, t);
    } else {
        uv_timer_stop(t);
    }
}

void lc_engine_handle_closed(struct lc_raft_engine *e)
{
    lc_raft_engine_close_cb cb;
    void *data;
    if (--e->n_live > 0 || !e->closing) {
        return;
    }
    cb = e->close_cb;
    data = e->close_data;
    for (unsigned i = 0; i < e->n_groups; i++) {
        lc_group_free(e->groups[i]);
    }
    free(e->secret);
    free(e);
    if (cb != NULL) {
        cb(data);
    }
}

static void on_sweep_closed(uv_handle_t *h)
{
    lc_engine_handle_closed(h->data);
}

static void on_net_closed(struct lc_net *net)
{
    lc_engine_handle_closed(net->data);
}

void lc_raft_engine_close(struct lc_raft_engine *e, lc_raft_engine_close_cb cb,
                          void *data)
{
    e->closing = true;
    e->close_cb = cb;
    e->close_data = data;
    e->n_live++; /* hold the engine while closing everything below */
    for (unsigned i = 0; i < e->n_groups; i++) {
        lc_admin_fail_all(e->groups[i], LC_ESHUTDOWN);
        lc_group_close(e->groups[i]);
    }
    e->net.close(&e->net, on_net_closed);
    lc_engine_timer_stop(e, &e->sweep_timer);
    uv_close((uv_handle_t *)&e->sweep_timer, on_sweep_closed);
    lc_engine_handle_closed(e);
}

/* --------------------------------------------------------------- queries */

struct lc_raft_group *lc_raft_engine_group(struct lc_raft_engine *e,
                                           const char *name)
{
    for (unsigned i = 0; i < e->n_groups; i++) {
        if (strcmp(e->groups[i]->name, name) == 0) {
            return e->groups[i];
        }
    }
    return NULL;
}

unsigned lc_raft_engine_n_groups(const struct lc_raft_engine *e)
{
    return e->n_groups;
}

struct lc_raft_group *lc_raft_engine_group_at(struct lc_raft_engine *e,
                                              unsigned i)
{
    return i < e->n_groups ? e->groups[i] : NULL;
}

void lc_engine_update_caught_up(struct lc_raft_engine *e)
{
    for (unsigned i = 0; i < e->n_groups; i++) {
        if (!e->groups[i]->caught_up) {
            return;
        }
    }
    if (!e->caught_up) {
        e->caught_up = true;
        lc_infof("raft", "all %u groups caught up; ready", e->n_groups);
    }
}

uv_loop_t *lc_raft_engine_loop(struct lc_raft_engine *e)
{
    return e->loop;
}

bool lc_raft_engine_caught_up(const struct lc_raft_engine *e)
{
    return e->caught_up;
}

bool lc_raft_engine_healthy(const struct lc_raft_engine *e)
{
    if (!e->caught_up) {
        return false;
    }
    for (unsigned i = 0; i < e->n_groups; i++) {
        struct raft *r = lc_group_raft(e->groups[i]);
        raft_id id;
        const char *addr;
        if (r == NULL) {
            return false;
        }
        raft_leader(r, &id, &addr);
        if (id == 0) {
            return false;
        }
    }
    return true;
}

bool lc_raft_engine_peer_up(const struct lc_raft_engine *e,
                            const char *address)
{
    struct lc_net *net = (struct lc_net *)&e->net;
    if (strcmp(address, e->self) == 0) {
        return true;
    }
    return net->peer_up(net, address);
}

/* ----------------------------------------- from the network layer (net.h) */

static bool is_member(struct lc_raft_engine *e, const char *address)
{
    for (unsigned i = 0; i < e->opts.n_members; i++) {
        if (strcmp(e->members[i], address) == 0) {
            return true;
        }
    }
    /* Members added at run time (changePeers) are in the groups' configs. */
    for (unsigned i = 0; i < e->n_groups; i++) {
        struct raft *r = lc_group_raft(e->groups[i]);
        for (unsigned j = 0; r != NULL && j < r->configuration.n; j++) {
            if (strcmp(r->configuration.servers[j].address, address) == 0) {
                return true;
            }
        }
    }
    return false;
}

/* Who may open a channel: members, claiming the id of their address, to the
 * peer channel or to a group that listens. */
static int on_net_check(void *data, const struct lc_preface *p)
{
    struct lc_raft_engine *e = data;
    struct lc_raft_group *g;
    if (e->closing) {
        return LC_PREFACE_BUSY;
    }
    if (p->id != lc_raft_id_of(p->address)) {
        return LC_PREFACE_MALFORMED;
    }
    if (!is_member(e, p->address)) {
        return LC_PREFACE_NOT_MEMBER;
    }
    if (strcmp(p->channel, LC_RAFT_PEER_CHANNEL) == 0) {
        return LC_PREFACE_OK;
    }
    g = lc_raft_engine_group(e, p->channel);
    if (g == NULL) {
        return LC_PREFACE_UNKNOWN_CHANNEL;
    }
    if (g->inc == NULL || !g->inc->tr_inited ||
        !lc_net_transport_listening(&g->inc->tr)) {
        return LC_PREFACE_BUSY; /* starting or restarting */
    }
    return LC_PREFACE_OK;
}

/* A group's connection: to its raft_uv instance. */
static void on_net_accept(void *data, const struct lc_preface *p,
                          uv_stream_t *stream)
{
    struct lc_raft_engine *e = data;
    struct lc_raft_group *g = lc_raft_engine_group(e, p->channel);
    if (e->closing || g == NULL || g->inc == NULL || !g->inc->tr_inited) {
        lc_net_stream_close(stream);
        return;
    }
    lc_net_transport_accept(&g->inc->tr, p, stream);
}

static void on_net_request(void *data, struct lc_net_request *req,
                           const Locus__Raft__PeerRequest *msg)
{
    lc_forward_serve(data, req, msg);
}

static void on_net_peer_down(void *data, const char *address)
{
    struct lc_raft_engine *e = data;
    for (unsigned i = 0; i < e->n_groups; i++) {
        lc_observe_peer_down(e->groups[i], address);
        lc_group_fail_unreachable(e->groups[i]);
    }
}

static void on_net_peer_up(void *data, const char *address)
{
    struct lc_raft_engine *e = data;
    (void)address;
    for (unsigned i = 0; i < e->n_groups; i++) {
        lc_observe(e->groups[i]); /* waiting requests may go now */
    }
}

/* ---------------------------------------------------------------- status */

void lc_raft_group_status(struct lc_raft_group *g,
                          struct lc_raft_group_status *st)
{
    struct raft *r = lc_group_raft(g);
    uint64_t now = lc_engine_now(g->e);
    raft_id leader = 0;
    const char *leader_addr = NULL;

    memset(st, 0, sizeof *st);
    lc_strlcpy(st->name, g->name, sizeof st->name);
    st->snapshot = g->snap;
    st->elections = g->elections;
    st->last_election_ms = g->last_election_ms;
    st->restarts = g->restarts;
    st->caught_up = g->caught_up;
    st->leader_ready = g->leader_ready;
    if (r == NULL) {
        st->state = g->restarting ? "restarting" : "unavailable";
        return;
    }
    switch (raft_state(r)) {
        case RAFT_LEADER:
            st->state = "leader";
            break;
        case RAFT_FOLLOWER:
            st->state = "follower";
            break;
        case RAFT_CANDIDATE:
            st->state = "candidate";
            break;
        default:
            st->state = "unavailable";
    }
    raft_leader(r, &leader, &leader_addr);
    st->leader_id = leader;
    if (leader_addr != NULL) {
        lc_strlcpy(st->leader, leader_addr, sizeof st->leader);
    }
    st->term = r->current_term;
    st->commit_index = r->commit_index;
    st->applied_index = r->last_applied;
    st->last_log_index = raft_last_index(r);
    for (unsigned i = 0;
         i < r->configuration.n && st->n_members < LC_RAFT_MAX_MEMBERS; i++) {
        const struct raft_server *s = &r->configuration.servers[i];
        struct lc_raft_member_status *m = &st->members[st->n_members++];
        m->id = s->id;
        lc_strlcpy(m->address, s->address, sizeof m->address);
        m->role = s->role;
        m->self = s->id == r->id;
        m->leader = s->id == leader;
        m->link_up = lc_raft_engine_peer_up(g->e, s->address);
        m->last_contact_ms = -1;
        if (raft_state(r) == RAFT_LEADER) {
            if (m->self) {
                m->match_index = r->last_stored;
                m->last_contact_ms = 0;
            } else {
                uint64_t at = lc_observe_contact(g, s->id);
                m->match_index = r->leader_state.progress[i].match_index;
                m->last_contact_ms = at == 0 ? -1 : (int64_t)(now - at);
            }
        }
    }
}
