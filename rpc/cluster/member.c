/* Member reports and the Member JSON, as Nacos's ServerMemberManager
 * (MemberInfoReportTask), MemberReportHandler and MemberUtil
 * (../shared/protocol.md §3, §11.6).
 *
 * Every report_interval_ms this node sends MemberReportRequest{"node":
 * <self>} to the next peer in address order. The answer
 * (MemberReportResponse{"node":<peer>}) marks the peer UP with
 * failAccessCnt 0 and keeps its Member (extendInfo with its raftMetaData,
 * abilities). A failure makes it SUSPICIOUS and counts; more than
 * fail_access_cnt failures, or a refused connection (LC_ECONN: nothing
 * listens, the peer refused our proof, or the channel dropped), make it
 * DOWN (MemberUtil#onFail). A report received marks its sender UP. A ready
 * channel that drops is reported to at once, so a killed member is DOWN on
 * the next refused connect, not after several periods.
 *
 * At most one report per peer is in flight; another asked meanwhile is sent
 * when it ends. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "rpc/cluster/internal.h"

#define LOG "cluster"

struct report {
    struct lc_nreq r;
    struct lc_peers *ps;
    char addr[LC_MEMBER_ADDR_MAX];
};

/* ------------------------------------------------------------- JSON */

/* Nacos's ServerAbilities as a 2.4 member reports them. */
static json_t *abilities_json(void)
{
    return json_pack("{s:{s:b, s:b}, s:{s:b}, s:{s:b}}", "remoteAbility",
                     "supportRemoteConnection", 1, "grpcReportEnabled", 1,
                     "configAbility", "supportRemoteMetrics", 0,
                     "namingAbility", "supportJraft", 1);
}

/* The Member fields the list knows for @m (extendInfo: raftPort only, as
 * MemberUtil.singleParse gives a member read from cluster.conf). */
static json_t *base_json(const struct lc_peers *ps, const struct lc_member *m)
{
    char raft_port[16];

    snprintf(raft_port, sizeof raft_port, "%d", m->raft_port);
    return json_pack("{s:s, s:i, s:s, s:{s:s}, s:s, s:i, s:o, s:b}", "ip",
                     m->host, "port", m->port, "state",
                     lc_member_state_name(lc_members_state(ps->cfg.members, m)),
                     "extendInfo", "raftPort", raft_port, "address", m->addr,
                     "failAccessCnt", (json_int_t)m->fail_access_cnt,
                     "abilities", abilities_json(), "grpcReportEnabled", 1);
}

json_t *lc__peers_self_json(struct lc_peers *ps)
{
    const struct lc_member *self = lc_members_self(ps->cfg.members);
    json_t *j = base_json(ps, self);
    json_t *ext = json_object_get(j, "extendInfo");

    if (j == NULL || ext == NULL) {
        json_decref(j);
        return NULL;
    }
    json_object_set_new(ext, "lastRefreshTime",
                        json_integer((json_int_t)lc_now_ms()));
    json_object_set_new(ext, "readyToUpgrade", json_true());
    json_object_set_new(ext, "version", json_string(ps->version));
    if (ps->extend != NULL) {
        ps->extend(ps->extend_data, ext);
    }
    return j;
}

json_t *lc_peers_member_json(struct lc_peers *ps, const char *addr)
{
    const struct lc_member *m = lc_members_find(ps->cfg.members, addr);
    struct peer *p;
    json_t *j, *ext, *abilities;

    if (m == NULL) {
        return NULL;
    }
    if (m->self) {
        return lc__peers_self_json(ps);
    }
    j = base_json(ps, m);
    p = lc__peer_find(ps, addr);
    if (j == NULL || p == NULL || p->member == NULL) {
        return j;
    }
    /* Its own view of itself, from its last report or answer. */
    ext = json_object_get(p->member, "extendInfo");
    if (json_is_object(ext)) {
        json_object_set_new(j, "extendInfo", json_deep_copy(ext));
    }
    abilities = json_object_get(p->member, "abilities");
    if (json_is_object(abilities)) {
        json_object_set_new(j, "abilities", json_deep_copy(abilities));
    }
    return j;
}

static bool not_blank(const json_t *v)
{
    const char *s = json_string_value(v);
    if (s == NULL) {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') {
            return true;
        }
    }
    return false;
}

bool lc__peers_node_ok(const json_t *node)
{
    json_t *port = json_object_get(node, "port");
    json_t *ext = json_object_get(node, "extendInfo");
    json_t *abilities = json_object_get(node, "abilities");

    return json_is_object(node) && not_blank(json_object_get(node, "ip")) &&
           not_blank(json_object_get(node, "address")) &&
           json_is_integer(port) && json_integer_value(port) > 0 &&
           json_integer_value(port) <= 65535 &&
           (ext == NULL || json_is_object(ext) || json_is_null(ext)) &&
           (abilities == NULL || json_is_object(abilities) ||
            json_is_null(abilities));
}

/* Keep @node (borrowed) as @p's last Member. */
static void keep_member(struct peer *p, json_t *node)
{
    json_t *copy = json_deep_copy(node);
    if (copy != NULL) {
        json_decref(p->member);
        p->member = copy;
    }
}

/* ------------------------------------------------------------- handler */

/* The state a member reports for itself: STARTING while it loads (its
 * Distro snapshot, its raft groups catching up), else UP. Nacos's
 * MemberReportHandler marks every reporter UP; locus keeps a starting
 * member out of Distro's healthy list until it holds the data it will be
 * responsible for. */
static enum lc_member_state reported_state(const json_t *node)
{
    const char *state = json_string_value(json_object_get(node, "state"));
    return state != NULL && strcmp(state, "STARTING") == 0
               ? LC_MEMBER_STARTING
               : LC_MEMBER_UP;
}

static void on_member_report(struct lc_rpc_req *req, void *data)
{
    struct lc_peers *ps = data;
    json_t *node = json_object_get(lc_rpc_req_body(req), "node");
    const char *from = json_string_value(json_object_get(
        lc_rpc_conn_labels(lc_rpc_req_conn(req)), "locus.member"));
    const struct lc_member *m;
    struct peer *p;
    json_t *self, *body;
    struct lc_err e;

    if (!lc__peers_node_ok(node)) {
        memset(&e, 0, sizeof e);
        e.code = LC_EINVAL;
        lc_strlcpy(e.msg, "Node information is illegal", sizeof e.msg);
        lc_rpc_reply_error(req, "MemberReportResponse", &e);
        return;
    }
    m = lc_members_find(ps->cfg.members,
                        json_string_value(json_object_get(node, "address")));
    p = m != NULL ? lc__peer_find(ps, m->addr) : NULL;
    if (p == NULL || from == NULL || strcmp(from, m->addr) != 0) {
        /* Not a peer of this list (MemberReportHandler's update ignores
         * it), or a member speaking for another: answer, change nothing. */
        lc_debugf(LOG, "report about %s from %s ignored",
                  json_string_value(json_object_get(node, "address")),
                  from != NULL ? from : "?");
    } else {
        keep_member(p, node);
        lc__peer_heard(p);
        lc__peers_set_state(ps, m, reported_state(node), 0, lc_now_ms());
    }
    self = lc__peers_self_json(ps);
    body = self != NULL ? json_pack("{s:o}", "node", self) : NULL;
    if (body == NULL) {
        memset(&e, 0, sizeof e);
        e.code = LC_ENOMEM;
        lc_strlcpy(e.msg, "out of memory", sizeof e.msg);
        lc_rpc_reply_error(req, "MemberReportResponse", &e);
        return;
    }
    lc_rpc_reply(req, "MemberReportResponse", body);
    json_decref(body);
}

int lc__peers_member_init(struct lc_peers *ps)
{
    return lc_rpc_handle(ps->rpc, "MemberReportRequest", LC_RPC_CLUSTER,
                         on_member_report, ps);
}

/* ------------------------------------------------------------- reports */

static void report_to(struct lc_peers *ps, struct peer *p);

static bool response_ok(const char *type, json_t *body)
{
    json_t *rc = json_object_get(body, "resultCode");
    return type != NULL && strcmp(type, "MemberReportResponse") == 0 &&
           json_is_integer(rc) && json_integer_value(rc) == 200 &&
           lc__peers_node_ok(json_object_get(body, "node"));
}

static void on_report(struct lc_nreq *r, int status, const char *type,
                      json_t *body)
{
    struct report *rep = r->data;
    struct lc_peers *ps = rep->ps;
    struct peer *p = ps->closing ? NULL : lc__peer_find(ps, rep->addr);
    const struct lc_member *m =
        p != NULL ? lc_members_find(ps->cfg.members, rep->addr) : NULL;
    unsigned cnt;
    bool refused;

    free(rep);
    if (p == NULL || m == NULL) {
        return; /* closing, or no longer a member */
    }
    p->reporting = false;
    if (status == 0 && response_ok(type, body)) {
        keep_member(p, json_object_get(body, "node"));
        lc__peers_set_state(ps, m, reported_state(json_object_get(body, "node")),
                            0, lc_now_ms());
    } else {
        cnt = m->fail_access_cnt + 1;
        refused = status == LC_ECONN;
        lc_debugf(LOG, "report to %s failed: %s", m->addr,
                  status != 0 ? lc_strerror(status) : "not a success");
        lc__peers_set_state(ps, m,
                            cnt > ps->cfg.fail_access_cnt || refused
                                ? LC_MEMBER_DOWN
                                : LC_MEMBER_SUSPICIOUS,
                            cnt, 0);
    }
    if (p->report_again) {
        p->report_again = false;
        report_to(ps, p);
    }
}

static void report_to(struct lc_peers *ps, struct peer *p)
{
    struct report *rep;
    json_t *self, *body;
    int rv;

    if (p->reporting) {
        p->report_again = true;
        return;
    }
    rep = calloc(1, sizeof *rep);
    self = lc__peers_self_json(ps);
    body = self != NULL ? json_pack("{s:o, s:s, s:{}}", "node", self, "module",
                                    "cluster", "headers")
                        : NULL;
    if (rep == NULL || body == NULL) {
        free(rep);
        json_decref(body);
        return;
    }
    rep->ps = ps;
    rep->r.data = rep;
    lc_strlcpy(rep->addr, p->addr, sizeof rep->addr);
    rv = lc_peers_request(ps, p->addr, &rep->r, "MemberReportRequest", body, 0,
                          on_report);
    json_decref(body);
    if (rv != 0) {
        lc_debugf(LOG, "report to %s not sent: %s", p->addr, lc_strerror(rv));
        free(rep);
        return;
    }
    p->reporting = true;
}

static void on_report_timer(uv_timer_t *t)
{
    struct lc_peers *ps = t->data;
    unsigned n = 0, i = 0;
    struct peer *p;

    if (ps->closing) {
        return;
    }
    for (p = ps->peers; p != NULL; p = p->next) {
        n += !p->removed;
    }
    if (n == 0) {
        return;
    }
    ps->cursor = (ps->cursor + 1) % n;
    for (p = ps->peers; p != NULL; p = p->next) {
        if (!p->removed && i++ == ps->cursor) {
            report_to(ps, p);
            return;
        }
    }
}

/* Report to every peer now (a report already under way is sent again
 * once it ends). */
static void report_all(struct lc_peers *ps)
{
    for (struct peer *p = ps->peers; p != NULL; p = p->next) {
        if (!p->removed) {
            report_to(ps, p);
        }
    }
}

void lc_peers_set_self_state(struct lc_peers *ps, enum lc_member_state state)
{
    const struct lc_member *self = lc_members_self(ps->cfg.members);
    if (lc_members_state(ps->cfg.members, self) == state) {
        return;
    }
    lc_members_set_state(ps->cfg.members, self->addr, state);
    lc_infof(LOG, "this member is %s", lc_member_state_name(state));
    if (ps->listening && !ps->closing) {
        report_all(ps);
    }
}

void lc__peers_reports_start(struct lc_peers *ps)
{
    /* A member that starts (or restarts) announces itself to every peer
     * at once: they know its state on receipt, not a round later. */
    report_all(ps);
    uv_timer_start(&ps->report_timer, on_report_timer,
                   ps->cfg.report_interval_ms, ps->cfg.report_interval_ms);
}

void lc__peers_on_drop(struct lc_peers *ps, struct peer *p)
{
    if (ps->listening && !ps->closing && !p->removed) {
        report_to(ps, p);
    }
}
