/* The cluster plane (peers.h): the cluster gRPC server with its membership
 * proof, the public face over the peer channels (channel.c), member states
 * and observers. Member JSON and reports are member.c's. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "rpc/cluster/internal.h"

#define LOG "cluster"

void lc_peers_config_default(struct lc_peers_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->version = "2.4.3";
    lc_grpc_limits_default(&cfg->limits);
    cfg->request_timeout_ms = 3000;
    cfg->report_interval_ms = 2000;
    cfg->fail_access_cnt = 3;
}

/* ---------------------------------------------------------------- proof */

void lc__peers_proof(const uint8_t *secret, size_t secret_len,
                     const char *conn_id, char out[LC_PEERS_PROOF_HEX])
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];

    crypto_auth_hmacsha256_init(&st, secret, secret_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)conn_id,
                                  strlen(conn_id));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(out, LC_PEERS_PROOF_HEX, mac, sizeof mac);
    sodium_memzero(&st, sizeof st);
}

bool lc__peers_proof_ok(const uint8_t *secret, size_t secret_len,
                        const char *conn_id, const char *proof)
{
    char want[LC_PEERS_PROOF_HEX];
    bool ok;

    if (proof == NULL || strlen(proof) != LC_PEERS_PROOF_HEX - 1) {
        return false;
    }
    lc__peers_proof(secret, secret_len, conn_id, want);
    ok = sodium_memcmp(want, proof, LC_PEERS_PROOF_HEX - 1) == 0;
    sodium_memzero(want, sizeof want);
    return ok;
}

/* The cluster port's admission: a member of the list, proven with the
 * secret over this connection's id. Anything else is refused, so a
 * stranger's requests get 301 and never reach a handler. */
static bool on_admit(struct lc_rpc_conn *c, const json_t *labels, void *data)
{
    struct lc_peers *ps = data;
    const char *member =
        json_string_value(json_object_get(labels, "locus.member"));
    const char *proof =
        json_string_value(json_object_get(labels, "locus.proof"));

    if (member == NULL || proof == NULL) {
        lc_warnf(LOG, "[%s] refused: no membership proof", lc_rpc_conn_id(c));
        return false;
    }
    if (lc_members_find(ps->cfg.members, member) == NULL) {
        lc_warnf(LOG, "[%s] refused: '%.64s' is not a member",
                 lc_rpc_conn_id(c), member);
        return false;
    }
    if (!lc__peers_proof_ok(ps->secret, ps->cfg.secret_len, lc_rpc_conn_id(c),
                            proof)) {
        lc_warnf(LOG, "[%s] refused: bad membership proof for %s",
                 lc_rpc_conn_id(c), member);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------- guards */

/* Never called: the layer answers "forbidden" for a type registered for
 * the other port only. */
static void on_forbidden(struct lc_rpc_req *req, void *data)
{
    struct lc_err e;
    (void)data;
    memset(&e, 0, sizeof e);
    e.code = LC_ENOHANDLER;
    lc_strlcpy(e.msg, "forbidden", sizeof e.msg);
    lc_rpc_reply_error(req, NULL, &e);
}

static const char *const cluster_types[] = {"MemberReportRequest",
                                            "DistroDataRequest"};

/* Nacos's naming request types (sdk + cluster there; locus's cluster port
 * admits members only, which never send them). */
static const char *const sdk_types[] = {
    "InstanceRequest",           "BatchInstanceRequest",
    "PersistentInstanceRequest", "ServiceQueryRequest",
    "SubscribeServiceRequest",   "ServiceListRequest",
};

static int guard(struct lc_rpc *r, const char *const *types, size_t n,
                 unsigned sources)
{
    for (size_t i = 0; i < n; i++) {
        int rv = lc_rpc_handle(r, types[i], sources, on_forbidden, NULL);
        if (rv != 0 && rv != LC_EEXIST) {
            return rv;
        }
    }
    return 0;
}

int lc_peers_guard_sdk(struct lc_rpc *sdk)
{
    return guard(sdk, cluster_types, LC_ARRAY_SIZE(cluster_types),
                 LC_RPC_CLUSTER);
}

/* ---------------------------------------------------------------- life */

int lc_peers_new(uv_loop_t *loop, const struct lc_peers_config *cfg,
                 struct lc_peers **out)
{
    struct lc_peers *ps;
    struct lc_rpc_config rc;
    struct peer **tail;
    int rv = LC_ENOMEM;

    if (cfg->members == NULL || (cfg->secret == NULL && cfg->secret_len > 0)) {
        return LC_EINVAL;
    }
    ps = calloc(1, sizeof *ps);
    if (ps == NULL) {
        return LC_ENOMEM;
    }
    ps->loop = loop;
    ps->cfg = *cfg;
    if (ps->cfg.request_timeout_ms == 0) {
        ps->cfg.request_timeout_ms = 3000;
    }
    if (ps->cfg.report_interval_ms == 0) {
        ps->cfg.report_interval_ms = 2000;
    }
    ps->secret = malloc(cfg->secret_len > 0 ? cfg->secret_len : 1);
    ps->version = strdup(cfg->version != NULL ? cfg->version : "2.4.3");
    if (ps->secret == NULL || ps->version == NULL) {
        goto err;
    }
    if (cfg->secret_len > 0) {
        memcpy(ps->secret, cfg->secret, cfg->secret_len);
    }
    ps->cfg.secret = ps->secret;
    ps->cfg.version = ps->version;

    lc_rpc_config_default(&rc, LC_RPC_CLUSTER);
    rc.limits = cfg->limits;
    rc.admit = on_admit;
    rc.admit_data = ps;
    ps->rpc = lc_rpc_new(loop, &rc);
    if (ps->rpc == NULL) {
        goto err;
    }
    rv = lc__peers_member_init(ps);
    if (rv == 0) {
        rv = guard(ps->rpc, sdk_types, LC_ARRAY_SIZE(sdk_types), LC_RPC_SDK);
    }
    if (rv != 0) {
        goto err_after_rpc;
    }
    tail = &ps->peers;
    for (unsigned i = 0; i < lc_members_count(cfg->members); i++) {
        const struct lc_member *m = lc_members_at(cfg->members, i);
        if (m->self) {
            continue;
        }
        *tail = lc__peer_new(ps, m);
        if (*tail == NULL) {
            rv = LC_ENOMEM;
            goto err_after_rpc;
        }
        tail = &(*tail)->next;
    }
    uv_timer_init(loop, &ps->report_timer);
    ps->report_timer.data = ps;
    ps->nhandles++;
    *out = ps;
    return 0;

err_after_rpc:
    /* Nothing has run yet: the channels are idle, the server not
     * listening; closing the lot frees it from the loop. */
    uv_timer_init(loop, &ps->report_timer);
    ps->report_timer.data = ps;
    ps->nhandles++;
    lc_peers_close(ps, NULL, NULL);
    return rv;
err:
    free(ps->secret);
    free(ps->version);
    free(ps);
    return rv;
}

int lc_peers_listen(struct lc_peers *ps, const char *host, int port)
{
    int rv = lc_rpc_listen(ps->rpc, host, port);
    if (rv != 0) {
        return rv;
    }
    /* Peers serve each other from the start: a member that is loading
     * its data asks the others, which must answer. */
    lc_rpc_set_started(ps->rpc, true);
    ps->listening = true;
    lc__peers_reports_start(ps);
    return 0;
}

struct lc_rpc *lc_peers_rpc(struct lc_peers *ps)
{
    return ps->rpc;
}

/* ------------------------------------------------------------- requests */

static int request(struct lc_peers *ps, const char *addr, struct lc_nreq *r,
                   const char *type, char *text, size_t len,
                   unsigned timeout_ms, lc_nreq_cb cb)
{
    struct peer *p;

    if (ps->closing) {
        free(text);
        return LC_ESHUTDOWN;
    }
    p = lc__peer_find(ps, addr);
    if (p == NULL || p->removed) {
        free(text);
        return LC_ENOTFOUND;
    }
    return lc__peer_request(
        p, r, type, text, len,
        timeout_ms > 0 ? timeout_ms : ps->cfg.request_timeout_ms, cb);
}

int lc_peers_request(struct lc_peers *ps, const char *addr, struct lc_nreq *r,
                     const char *type, json_t *body, unsigned timeout_ms,
                     lc_nreq_cb cb)
{
    char *text;
    int rv;

    if (addr == NULL || r == NULL || type == NULL || !json_is_object(body) ||
        cb == NULL) {
        return LC_EINVAL;
    }
    if (json_object_get(body, "headers") == NULL &&
        json_object_set_new(body, "headers", json_object()) != 0) {
        return LC_ENOMEM;
    }
    if (json_object_get(body, "module") == NULL &&
        json_object_set_new(body, "module", json_string("cluster")) != 0) {
        return LC_ENOMEM;
    }
    rv = lc_payload_text(body, &text);
    if (rv != 0) {
        return rv;
    }
    return request(ps, addr, r, type, text, strlen(text), timeout_ms, cb);
}

int lc_peers_request_text(struct lc_peers *ps, const char *addr,
                          struct lc_nreq *r, const char *type, const char *text,
                          size_t len, unsigned timeout_ms, lc_nreq_cb cb)
{
    char *copy;

    if (addr == NULL || r == NULL || type == NULL || text == NULL ||
        cb == NULL) {
        return LC_EINVAL;
    }
    copy = malloc(len + 1);
    if (copy == NULL) {
        return LC_ENOMEM;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    return request(ps, addr, r, type, copy, len, timeout_ms, cb);
}

/* ------------------------------------------------------------- states */

void lc__peers_set_state(struct lc_peers *ps, const struct lc_member *m,
                         enum lc_member_state state, unsigned fail_access_cnt,
                         uint64_t refreshed_ms)
{
    enum lc_member_state old = m->state;
    struct lc_peers_observer *obs, *next;

    lc_members_set_report(ps->cfg.members, m->addr, state, fail_access_cnt,
                          refreshed_ms);
    if (old == state) {
        return;
    }
    lc_infof(LOG, "member %s: %s -> %s (failAccessCnt %u)", m->addr,
             lc_member_state_name(old), lc_member_state_name(state),
             fail_access_cnt);
    for (obs = ps->observers; obs != NULL; obs = next) {
        next = obs->next;
        obs->changed(obs, m, old, state);
    }
}

void lc_peers_observe(struct lc_peers *ps, struct lc_peers_observer *obs)
{
    obs->next = ps->observers;
    ps->observers = obs;
}

void lc_peers_unobserve(struct lc_peers *ps, struct lc_peers_observer *obs)
{
    for (struct lc_peers_observer **pp = &ps->observers; *pp != NULL;
         pp = &(*pp)->next) {
        if (*pp == obs) {
            *pp = obs->next;
            return;
        }
    }
}

void lc_peers_set_extend(struct lc_peers *ps, lc_peers_extend_cb cb, void *data)
{
    ps->extend = cb;
    ps->extend_data = data;
}

/* ------------------------------------------------------------- members */

static void notify(struct lc_peers *ps, const struct lc_member *m,
                   enum lc_member_state old, enum lc_member_state state)
{
    struct lc_peers_observer *obs, *next;

    for (obs = ps->observers; obs != NULL; obs = next) {
        next = obs->next;
        obs->changed(obs, m, old, state);
    }
}

struct gone_conns {
    const struct lc_members *members;
    char ids[64][96];
    unsigned n;
};

static void collect_gone(struct lc_rpc_conn *c, void *data)
{
    struct gone_conns *g = data;
    const char *member = json_string_value(
        json_object_get(lc_rpc_conn_labels(c), "locus.member"));

    if (g->n < LC_ARRAY_SIZE(g->ids) &&
        (member == NULL || lc_members_find(g->members, member) == NULL)) {
        lc_strlcpy(g->ids[g->n++], lc_rpc_conn_id(c), sizeof g->ids[0]);
    }
}

/* Close the connections to the cluster port of members that left. */
static void close_gone(struct lc_peers *ps)
{
    struct gone_conns *g = calloc(1, sizeof *g);

    if (g == NULL || ps->rpc == NULL) {
        free(g);
        return;
    }
    g->members = ps->cfg.members;
    lc_rpc_conn_each(ps->rpc, collect_gone, g);
    for (unsigned i = 0; i < g->n; i++) {
        struct lc_rpc_conn *c = lc_rpc_conn_find(ps->rpc, g->ids[i]);
        if (c != NULL) {
            lc_infof(LOG, "[%s] closed: its member left", g->ids[i]);
            lc_rpc_conn_close(c);
        }
    }
    free(g);
}

int lc_peers_update_members(struct lc_peers *ps,
                            const struct lc_member_conf *entries, unsigned n,
                            bool *changed, char *errmsg, size_t errlen)
{
    struct lc_members *ms = ps->cfg.members;
    const struct lc_member *self = lc_members_self(ms);
    struct lc_member_conf me = {self->host, self->port};
    struct lc_members *next;
    struct peer *old_peers, *p, **tail;
    bool any = false;
    int rv;

    if (changed != NULL) {
        *changed = false;
    }
    if (ps->closing) {
        return lc_errf(LC_ESHUTDOWN, errmsg, errlen, "shutting down");
    }
    /* Check the list and find what leaves before anything changes. */
    rv = lc_members_new(entries, n, &me, &next, errmsg, errlen);
    if (rv != 0) {
        return rv;
    }
    for (unsigned i = 0; i < lc_members_count(ms); i++) {
        const struct lc_member *m = lc_members_at(ms, i);
        if (!m->self && lc_members_find(next, m->addr) == NULL) {
            lc_infof(LOG, "member %s removed (cluster.conf)", m->addr);
            any = true;
            notify(ps, m, m->state, LC_MEMBER_DOWN);
        }
    }
    for (unsigned i = 0; i < lc_members_count(next); i++) {
        const struct lc_member *m = lc_members_at(next, i);
        if (lc_members_find(ms, m->addr) == NULL) {
            lc_infof(LOG, "member %s added (cluster.conf)", m->addr);
            any = true;
        }
    }
    if (!any) {
        lc_members_free(next);
        return 0;
    }
    rv = lc_members_update(ms, entries, n, errmsg, errlen);
    lc_members_free(next);
    if (rv != 0) {
        return rv; /* out of memory: nothing changed */
    }

    /* The peers in the new list's order: kept, new, and closed. */
    old_peers = ps->peers;
    ps->peers = NULL;
    tail = &ps->peers;
    for (unsigned i = 0; i < lc_members_count(ms); i++) {
        const struct lc_member *m = lc_members_at(ms, i);
        struct peer **pp = &old_peers;
        if (m->self) {
            continue;
        }
        while (*pp != NULL && strcmp((*pp)->addr, m->addr) != 0) {
            pp = &(*pp)->next;
        }
        if (*pp != NULL) {
            p = *pp;
            *pp = p->next;
        } else {
            p = lc__peer_new(ps, m);
            if (p == NULL) {
                lc_warnf(LOG, "member %s: no memory for its channel", m->addr);
                continue;
            }
            notify(ps, m, LC_MEMBER_DOWN, m->state);
        }
        p->next = NULL;
        *tail = p;
        tail = &p->next;
    }
    while (old_peers != NULL) {
        p = old_peers;
        old_peers = p->next;
        p->next = NULL;
        lc__peer_close(p);
    }
    ps->cursor = 0;
    close_gone(ps);
    if (changed != NULL) {
        *changed = true;
    }
    return 0;
}

/* ------------------------------------------------------------- close */

void lc__peers_maybe_destroy(struct lc_peers *ps)
{
    if (!ps->closing || ps->nhandles > 0 || ps->nops > 0 || ps->rpc != NULL) {
        return;
    }
    if (ps->close_cb != NULL) {
        ps->close_cb(ps, ps->close_data);
    }
    free(ps->secret);
    free(ps->version);
    free(ps);
}

static void on_report_timer_closed(uv_handle_t *h)
{
    struct lc_peers *ps = h->data;
    ps->nhandles--;
    lc__peers_maybe_destroy(ps);
}

static void on_rpc_closed(struct lc_rpc *r, void *data)
{
    struct lc_peers *ps = data;
    (void)r;
    ps->rpc = NULL;
    lc__peers_maybe_destroy(ps);
}

void lc_peers_close(struct lc_peers *ps, lc_peers_close_cb cb, void *data)
{
    struct peer *p, *next;

    if (ps->closing) {
        return;
    }
    ps->closing = true;
    ps->close_cb = cb;
    ps->close_data = data;
    uv_close((uv_handle_t *)&ps->report_timer, on_report_timer_closed);
    for (p = ps->peers; p != NULL; p = next) {
        next = p->next;
        lc__peer_close(p);
    }
    ps->peers = NULL;
    if (ps->rpc != NULL) {
        lc_rpc_close(ps->rpc, on_rpc_closed, ps);
    }
}
