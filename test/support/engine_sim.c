/* Engines on canonical/raft's fixture, an in-process peer channel and one
 * simulated clock (see engine_sim.h; the peer channel and the clock are
 * sim_net.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "test/support/engine_sim.h"

/* --------------------------------------------------------- state machine */

static struct lc_sim_sm *sm_of(struct lc_raft_sm *sm)
{
    return sm->data;
}

static void sm_apply(struct lc_raft_sm *sm, uint64_t index, const void *buf,
                     size_t len, struct lc_raft_result *result)
{
    struct lc_sim_sm *m = sm_of(sm);
    uint64_t v;
    assert_int_equal(len, sizeof v);
    memcpy(&v, buf, sizeof v);
    assert_true(index < LC_SIM_MAX_INDEX);
    m->values[index] = v;
    m->last_index = index;
    m->n_applied++;
    if (v >= LC_SIM_REFUSE) {
        result->status = LC_EINVAL;
        snprintf(result->message, sizeof result->message, "refused %llu",
                 (unsigned long long)v);
    }
}

static int sm_snapshot_take(struct lc_raft_sm *sm, uint64_t index,
                            uint64_t term, void **frozen)
{
    (void)sm;
    (void)term;
    *frozen = (void *)(uintptr_t)index;
    return 0;
}

static int sm_snapshot_write(struct lc_raft_sm *sm, void *frozen,
                             struct raft_buffer **bufs, unsigned *n_bufs)
{
    struct lc_sim_sm *m = sm_of(sm);
    uint64_t index = (uint64_t)(uintptr_t)frozen;
    struct raft_buffer *b = raft_malloc(sizeof *b);
    assert_non_null(b);
    b->base = raft_malloc(sizeof index);
    assert_non_null(b->base);
    memcpy(b->base, &index, sizeof index);
    b->len = sizeof index;
    *bufs = b;
    *n_bufs = 1;
    m->n_snapshots++;
    return 0;
}

static void sm_snapshot_release(struct lc_raft_sm *sm, void *frozen)
{
    (void)sm;
    (void)frozen;
}

static int sm_restore(struct lc_raft_sm *sm, const void *buf, size_t len,
                      struct lc_raft_snapshot_info *info, char *errmsg,
                      size_t errlen)
{
    struct lc_sim_sm *m = sm_of(sm);
    (void)buf;
    if (len != sizeof(uint64_t)) {
        snprintf(errmsg, errlen, "image of %zu bytes", len);
        return LC_EINVAL;
    }
    m->n_restores++;
    info->created_ms = 0;
    return 0;
}

/* ----------------------------------------------------------------- set up */

static int clock_apply(struct raft_fsm *fsm, const struct raft_buffer *buf,
                       void **result)
{
    (void)fsm;
    (void)buf;
    *result = NULL;
    return 0;
}

static int clock_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[],
                          unsigned *n_bufs)
{
    (void)fsm;
    (void)bufs;
    (void)n_bufs;
    return RAFT_NOTFOUND;
}

static int clock_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    (void)fsm;
    (void)buf;
    return RAFT_CORRUPT;
}

static struct raft_fsm clock_fsm = {
    .version = 1,
    .apply = clock_apply,
    .snapshot = clock_snapshot,
    .restore = clock_restore,
};

/* The fixture steps from one raft event to the next, and the simulation
 * runs what came due meanwhile after that step: a peer-channel answer due in
 * 1 ms would wait for the next tick or message, and arrive after raft events
 * that come later. One more server, in no configuration (it stays a
 * follower and nobody writes to it), ticks every millisecond, so that what
 * is due runs within a millisecond of its time, in order. */
static void add_clock(struct lc_sim *s)
{
    struct raft *r;
    assert_int_equal(raft_fixture_grow(&s->f, &clock_fsm), 0);
    r = raft_fixture_get(&s->f, s->n);
    raft_set_heartbeat_timeout(r, 1);
    assert_int_equal(raft_start(r), 0);
}

/* Give the fixture's server @i our address. The fixture names servers by
 * their id ("1", "2", ...) and routes by id; raft copies its address and the
 * fixture's io points at that copy (io->init), so swap both before start. */
static void rename_server(struct lc_sim *s, unsigned i)
{
    struct raft_fixture_server *srv = &s->f.servers[i];
    const char *address = s->nodes[i].address;
    char *copy = raft_malloc(strlen(address) + 1);
    assert_non_null(copy);
    strcpy(copy, address);
    raft_free(srv->raft.address);
    srv->raft.address = copy;
    assert_int_equal(srv->io.init(&srv->io, srv->id, copy), 0);
}

struct lc_sim *lc_sim_new(const struct lc_sim_options *o)
{
    struct lc_sim *s = calloc(1, sizeof *s);
    const char *members[LC_SIM_MAX];
    struct raft_configuration conf;
    char errmsg[512] = "";

    assert_non_null(s);
    assert_true(o->n >= 1 && o->n <= LC_SIM_MAX);
    s->n = o->n;
    assert_int_equal(uv_loop_init(&s->loop), 0);
    assert_int_equal(raft_fixture_initialize(&s->f), 0);
    for (unsigned i = 0; i < s->n; i++) {
        struct lc_sim_node *n = &s->nodes[i];
        n->sim = s;
        n->i = i;
        snprintf(n->address, sizeof n->address, "127.0.0.1:%u", 7001 + i);
        members[i] = n->address;
    }
    raft_configuration_init(&conf);
    for (unsigned i = 0; i < s->n; i++) {
        struct lc_sim_node *n = &s->nodes[i];
        struct lc_engine_env env;
        struct lc_raft_options opts = {
            .self = n->address,
            .members = members,
            .n_members = s->n,
            .data_dir = "/nonexistent", /* the fixture keeps everything */
            .secret = "sim",
            .secret_len = 3,
            .bootstrap = false, /* the fixture bootstraps */
            .election_timeout_ms = LC_SIM_ELECTION_TIMEOUT_MS,
            .heartbeat_ms = LC_SIM_HEARTBEAT_MS,
            .snapshot_threshold = 1u << 20,
            .snapshot_trailing = 16,
            .rpc_timeout_ms = LC_SIM_RPC_TIMEOUT_MS,
            .fast_failover = o->fast_failover,
        };
        lc_sim__env(n, &env);
        n->sm.sm.data = &n->sm;
        n->sm.sm.apply = sm_apply;
        n->sm.sm.snapshot_take = sm_snapshot_take;
        n->sm.sm.snapshot_write = sm_snapshot_write;
        n->sm.sm.snapshot_release = sm_snapshot_release;
        n->sm.sm.restore = sm_restore;
        if (lc_engine_new_on(&s->loop, &opts, &env, &n->e, errmsg,
                             sizeof errmsg) != 0) {
            fail_msg("engine %u: %s", i, errmsg);
        }
        assert_int_equal(
            lc_raft_engine_add_group(n->e, LC_SIM_GROUP, &n->sm.sm, &n->g), 0);
        /* The fixture's io implements async_work but, like raft_uv 0.15,
         * leaves io->version below 2, which raft_init needs for the
         * engine's async snapshots; ioInit leaves the field alone. */
        s->f.servers[i].io.version = 2;
        assert_int_equal(raft_fixture_grow(&s->f, lc_group_fsm(n->g)), 0);
        rename_server(s, i);
        assert_int_equal(raft_configuration_add(&conf, s->f.servers[i].id,
                                                n->address, RAFT_VOTER),
                         0);
    }
    assert_int_equal(raft_fixture_bootstrap(&s->f, &conf), 0);
    raft_configuration_close(&conf);
    add_clock(s);
    for (unsigned i = 0; i < s->n; i++) {
        struct lc_sim_node *n = &s->nodes[i];
        assert_int_equal(lc_group_attach(n->g, raft_fixture_get(&s->f, i)), 0);
        if (lc_raft_engine_start(n->e, errmsg, sizeof errmsg) != 0) {
            fail_msg("engine %u start: %s", i, errmsg);
        }
    }
    lc_sim__run_checks(s);
    lc_sim__run_due(s);
    return s;
}

static void on_engine_closed(void *data)
{
    ((struct lc_sim_node *)data)->engine_closed = true;
}

void lc_sim_free(struct lc_sim *s)
{
    if (s == NULL) {
        return;
    }
    /* The fixture owns the raft instances and closes them while the engines
     * are alive: raft's last callbacks land in live groups, which then let
     * go of their instances (lc_group_attach). */
    lc_sim__drop_events(s);
    raft_fixture_close(&s->f);
    lc_sim__run_checks(s);
    lc_sim__drop_events(s);
    for (unsigned i = 0; i < s->n; i++) {
        assert_null(lc_sim_group(s, i)->inc);
        lc_raft_engine_close(s->nodes[i].e, on_engine_closed, &s->nodes[i]);
    }
    lc_sim__drain(s);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    for (unsigned i = 0; i < s->n; i++) {
        assert_true(s->nodes[i].engine_closed);
        assert_null(s->nodes[i].calls);
    }
    lc_raft_free_closed();
    assert_int_equal(uv_loop_close(&s->loop), 0);
    for (size_t k = 0; k < s->n_owned; k++) {
        free(s->owned[k]);
    }
    free(s->owned);
    free(s);
}

int lc_sim_teardown(void **state)
{
    lc_sim_free(*state);
    return 0;
}

/* ---------------------------------------------------------------- queries */

uint64_t lc_sim_now(const struct lc_sim *s)
{
    return s->f.time;
}

struct raft *lc_sim_raft(struct lc_sim *s, unsigned i)
{
    return raft_fixture_get(&s->f, i);
}

struct lc_raft_engine *lc_sim_engine(struct lc_sim *s, unsigned i)
{
    return s->nodes[i].e;
}

struct lc_raft_group *lc_sim_group(struct lc_sim *s, unsigned i)
{
    return s->nodes[i].g;
}

const char *lc_sim_address(const struct lc_sim *s, unsigned i)
{
    return s->nodes[i].address;
}

void lc_sim_status(struct lc_sim *s, unsigned i,
                   struct lc_raft_group_status *st)
{
    lc_raft_group_status(s->nodes[i].g, st);
}

unsigned lc_sim_leader(struct lc_sim *s)
{
    unsigned leader = s->n;
    for (unsigned i = 0; i < s->n; i++) {
        struct raft *r = lc_sim_raft(s, i);
        if (!s->nodes[i].dead && raft_state(r) == RAFT_LEADER &&
            (leader == s->n ||
             r->current_term > lc_sim_raft(s, leader)->current_term)) {
            leader = i;
        }
    }
    return leader;
}

/* --------------------------------------------------------------- stepping */

void lc_sim_step(struct lc_sim *s)
{
    raft_fixture_step(&s->f);
    lc_sim__run_checks(s);
    lc_sim__run_due(s);
}

bool lc_sim_step_until(struct lc_sim *s, bool (*cond)(struct lc_sim *, void *),
                       void *arg, unsigned max_ms)
{
    uint64_t start = s->f.time;
    while (!cond(s, arg)) {
        if (s->f.time - start >= max_ms) {
            return false;
        }
        lc_sim_step(s);
    }
    return true;
}

static bool never(struct lc_sim *s, void *arg)
{
    (void)s;
    (void)arg;
    return false;
}

void lc_sim_run_for(struct lc_sim *s, unsigned ms)
{
    lc_sim_step_until(s, never, NULL, ms);
}

static bool ready(struct lc_sim *s, void *arg)
{
    unsigned leader = lc_sim_leader(s);
    struct lc_raft_group_status st;
    (void)arg;
    if (leader == s->n) {
        return false;
    }
    lc_sim_status(s, leader, &st);
    if (!st.leader_ready) {
        return false;
    }
    for (unsigned i = 0; i < s->n; i++) {
        struct raft *r = lc_sim_raft(s, i);
        raft_id id;
        const char *address;
        if (s->nodes[i].dead) {
            continue;
        }
        raft_leader(r, &id, &address);
        if (id != lc_sim_raft(s, leader)->id ||
            !lc_raft_engine_caught_up(s->nodes[i].e)) {
            return false;
        }
    }
    return true;
}

unsigned lc_sim_wait_ready(struct lc_sim *s, unsigned max_ms)
{
    if (!lc_sim_step_until(s, ready, NULL, max_ms)) {
        fail_msg("no ready leader after %u ms", max_ms);
    }
    return lc_sim_leader(s);
}

/* ---------------------------------------------------------------- network */

void lc_sim_raft_link(struct lc_sim *s, unsigned i, unsigned j, bool up)
{
    if (up) {
        raft_fixture_reconnect(&s->f, i, j);
        raft_fixture_reconnect(&s->f, j, i);
    } else {
        raft_fixture_disconnect(&s->f, i, j);
        raft_fixture_disconnect(&s->f, j, i);
    }
}

void lc_sim_kill(struct lc_sim *s, unsigned i)
{
    raft_fixture_kill(&s->f, i);
    s->nodes[i].dead = true;
    for (unsigned j = 0; j < s->n; j++) {
        if (j != i) {
            lc_sim_link(s, j, i, false);
            lc_sim_link(s, i, j, false);
        }
    }
}

void lc_sim_revive(struct lc_sim *s, unsigned i)
{
    raft_fixture_revive(&s->f, i);
    s->nodes[i].dead = false;
    for (unsigned j = 0; j < s->n; j++) {
        if (j != i) {
            lc_sim_link(s, j, i, true);
            lc_sim_link(s, i, j, true);
        }
    }
}

/* --------------------------------------------------------------- requests */

static void *owned(struct lc_sim *s, size_t size)
{
    void **v = realloc(s->owned, (s->n_owned + 1) * sizeof *v);
    assert_non_null(v);
    s->owned = v;
    v[s->n_owned] = calloc(1, size);
    assert_non_null(v[s->n_owned]);
    return v[s->n_owned++];
}

static void on_write(struct lc_raft_write *w, int status,
                     const struct lc_raft_result *result)
{
    struct lc_sim_write *sw = w->data;
    sw->n_cb++;
    sw->status = status;
    sw->result = *result;
    sw->done_at = lc_sim_now(sw->sim);
}

struct lc_sim_write *lc_sim_write(struct lc_sim *s, unsigned i, uint64_t value)
{
    struct lc_sim_write *w = owned(s, sizeof *w);
    void *buf = raft_malloc(sizeof value);
    assert_non_null(buf);
    memcpy(buf, &value, sizeof value);
    w->w.data = w;
    w->sim = s;
    w->rv =
        lc_raft_group_write(s->nodes[i].g, &w->w, buf, sizeof value, on_write);
    w->n_cb_in_call = w->n_cb;
    lc_sim__run_checks(s);
    return w;
}

static bool write_done(struct lc_sim *s, void *arg)
{
    (void)s;
    return ((struct lc_sim_write *)arg)->n_cb > 0;
}

bool lc_sim_wait_write(struct lc_sim *s, struct lc_sim_write *w,
                       unsigned max_ms)
{
    return lc_sim_step_until(s, write_done, w, max_ms);
}

static void on_read(struct lc_raft_read *r, int status)
{
    struct lc_sim_read *sr = r->data;
    sr->n_cb++;
    sr->status = status;
    sr->applied = r->priv.group->inc != NULL
                      ? raft_last_applied(r->priv.group->inc->raft)
                      : 0;
}

struct lc_sim_read *lc_sim_read(struct lc_sim *s, unsigned i)
{
    struct lc_sim_read *r = owned(s, sizeof *r);
    r->r.data = r;
    r->rv = lc_raft_group_read_barrier(s->nodes[i].g, &r->r, on_read);
    r->n_cb_in_call = r->n_cb;
    lc_sim__run_checks(s);
    return r;
}

static bool read_done(struct lc_sim *s, void *arg)
{
    (void)s;
    return ((struct lc_sim_read *)arg)->n_cb > 0;
}

bool lc_sim_wait_read(struct lc_sim *s, struct lc_sim_read *r, unsigned max_ms)
{
    return lc_sim_step_until(s, read_done, r, max_ms);
}

static void on_admin(struct lc_raft_admin *a, int status, const char *message)
{
    struct lc_sim_admin *sa = a->data;
    sa->n_cb++;
    sa->status = status;
    lc_strlcpy(sa->message, message != NULL ? message : "", sizeof sa->message);
}

struct lc_sim_admin *lc_sim_admin(struct lc_sim *s, unsigned i,
                                  const char *command, const char *value)
{
    struct lc_sim_admin *a = owned(s, sizeof *a);
    a->a.data = a;
    a->rv = lc_raft_group_admin(s->nodes[i].g, &a->a, command, value, on_admin,
                                a->errmsg, sizeof a->errmsg);
    a->n_cb_in_call = a->n_cb;
    lc_sim__run_checks(s);
    return a;
}

static bool admin_done(struct lc_sim *s, void *arg)
{
    (void)s;
    return ((struct lc_sim_admin *)arg)->n_cb > 0;
}

bool lc_sim_wait_admin(struct lc_sim *s, struct lc_sim_admin *a,
                       unsigned max_ms)
{
    return lc_sim_step_until(s, admin_done, a, max_ms);
}

struct lc_sim *lc_sim_new3(void **state, bool fast_failover)
{
    struct lc_sim_options o = {.n = 3, .fast_failover = fast_failover};
    struct lc_sim *s = lc_sim_new(&o);
    *state = s;
    return s;
}

unsigned lc_sim_other(const struct lc_sim *s, unsigned a, unsigned b)
{
    for (unsigned i = 0; i < s->n; i++) {
        if (i != a && i != b) {
            return i;
        }
    }
    return s->n;
}
