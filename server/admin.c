/* Core admin endpoints.
 *
 *   GET  /nacos/v1/core/cluster/nodes     members in Nacos's shape, with
 *                                         raftMetaData per group
 *   GET  /nacos/v1/core/cluster/self      this member
 *   GET  /nacos/v1/core/cluster/health    {"data":"UP"} when healthy
 *   GET  /nacos/v1/core/raft/groups       locus's detailed view (also
 *                                         /v1/core/raft/groups)
 *   POST /nacos/v1/core/ops/raft          Nacos's raft ops commands
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "members/members.h"
#include "server/admin.h"

#define NACOS_VERSION "2.4.3"

struct lc_admin {
    const struct lc_members *members;
    struct lc_raft_engine *engine;
    struct lc_peers *peers; /* NULL: render members from the list alone */
};

/* An ops/raft request running over one or all groups. */
struct ops_call {
    struct lc_admin *admin;
    struct lc_http_exchange *ex;
    struct lc_raft_admin req;
    char command[64];
    char value[4096];
    unsigned next_group; /* all groups: index of the next to run */
    bool all;
};

static void reply_json(struct lc_http_exchange *ex, int status, json_t *root)
{
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (text == NULL) {
        lc_http_reply_text(ex, 500, "out of memory");
        return;
    }
    lc_http_reply_take(ex, status, "application/json;charset=UTF-8", text,
                       strlen(text));
}

/* RestResult {"code":..,"message":..,"data":..} (message null when none).
 * Nacos's core controllers return it with HTTP 200 whatever the code. */
static void reply_rest(struct lc_http_exchange *ex, int code,
                       const char *message, json_t *data)
{
    json_t *root = json_object();
    json_object_set_new(root, "code", json_integer(code));
    json_object_set_new(root, "message",
                        message != NULL ? json_string(message) : json_null());
    json_object_set_new(root, "data", data != NULL ? data : json_null());
    reply_json(ex, 200, root);
}

/* ------------------------------------------------------- cluster/nodes */

json_t *lc_admin_raft_meta(struct lc_raft_engine *engine)
{
    json_t *map = json_object();
    for (unsigned i = 0; i < lc_raft_engine_n_groups(engine); i++) {
        struct lc_raft_group_status st;
        json_t *g = json_object();
        json_t *members = json_array();
        lc_raft_group_status(lc_raft_engine_group_at(engine, i), &st);
        json_object_set_new(g, "leader", json_string(st.leader));
        for (unsigned j = 0; j < st.n_members; j++) {
            json_array_append_new(members, json_string(st.members[j].address));
        }
        json_object_set_new(g, "raftGroupMember", members);
        json_object_set_new(g, "term", json_integer((json_int_t)st.term));
        json_object_set_new(map, st.name, g);
    }
    json_t *meta = json_object();
    json_object_set_new(meta, "metaDataMap", map);
    return meta;
}

/* Nacos's Member JSON for @m without the cluster plane: the list's state,
 * lastRefreshTime now and this node's raft view. */
static json_t *list_member_json(struct lc_admin *a, const struct lc_member *m)
{
    char raft_port[8];
    json_t *o = json_object();
    json_t *ext = json_object();
    json_t *abilities = json_object();
    json_t *remote = json_object();
    json_t *config = json_object();
    json_t *naming = json_object();
    uint64_t refreshed =
        m->last_refresh_ms != 0 ? m->last_refresh_ms : lc_now_ms();

    snprintf(raft_port, sizeof raft_port, "%d", m->raft_port);
    json_object_set_new(o, "ip", json_string(m->host));
    json_object_set_new(o, "port", json_integer(m->port));
    json_object_set_new(
        o, "state",
        json_string(lc_member_state_name(lc_members_state(a->members, m))));
    json_object_set_new(ext, "lastRefreshTime",
                        json_integer((json_int_t)refreshed));
    json_object_set_new(ext, "raftMetaData", lc_admin_raft_meta(a->engine));
    json_object_set_new(ext, "raftPort", json_string(raft_port));
    json_object_set_new(ext, "readyToUpgrade", json_true());
    json_object_set_new(ext, "version", json_string(NACOS_VERSION));
    json_object_set_new(o, "extendInfo", ext);
    json_object_set_new(o, "address", json_string(m->addr));
    json_object_set_new(o, "failAccessCnt",
                        json_integer((json_int_t)m->fail_access_cnt));
    json_object_set_new(remote, "supportRemoteConnection", json_true());
    json_object_set_new(remote, "grpcReportEnabled", json_true());
    json_object_set_new(config, "supportRemoteMetrics", json_false());
    json_object_set_new(naming, "supportJraft", json_true());
    json_object_set_new(abilities, "remoteAbility", remote);
    json_object_set_new(abilities, "configAbility", config);
    json_object_set_new(abilities, "namingAbility", naming);
    json_object_set_new(o, "abilities", abilities);
    json_object_set_new(o, "grpcReportEnabled", json_true());
    return o;
}

/* Nacos's Member JSON for @m: the cluster plane's (its state and
 * failAccessCnt from member reports, its own extendInfo with its
 * raftMetaData from its last report or answer; this node's rendered now),
 * else the list's. */
static json_t *member_json(struct lc_admin *a, const struct lc_member *m)
{
    json_t *j =
        a->peers != NULL ? lc_peers_member_json(a->peers, m->addr) : NULL;
    return j != NULL ? j : list_member_json(a, m);
}

/* The members in address order, those whose address starts with
 * @keyword when given. */
static void on_nodes(struct lc_http_exchange *ex, void *data)
{
    struct lc_admin *a = data;
    const char *keyword = lc_http_param(ex, "keyword");
    json_t *list = json_array();

    for (unsigned i = 0; i < lc_members_count(a->members); i++) {
        const struct lc_member *m = lc_members_at(a->members, i);
        if (keyword != NULL && keyword[0] != '\0' &&
            strncmp(m->addr, keyword, strlen(keyword)) != 0) {
            continue;
        }
        json_array_append_new(list, member_json(a, m));
    }
    reply_rest(ex, 200, NULL, list);
}

static void on_self(struct lc_http_exchange *ex, void *data)
{
    struct lc_admin *a = data;
    reply_rest(ex, 200, NULL, member_json(a, lc_members_self(a->members)));
}

static void on_health(struct lc_http_exchange *ex, void *data)
{
    struct lc_admin *a = data;
    reply_rest(ex, 200, NULL,
               json_string(lc_raft_engine_healthy(a->engine) ? "UP"
                                                             : "DOWN"));
}

/* --------------------------------------------------------- raft/groups */

static const char *role_name(int role)
{
    switch (role) {
        case RAFT_VOTER:
            return "voter";
        case RAFT_STANDBY:
            return "standby";
        case RAFT_SPARE:
            return "spare";
    }
    return "unknown";
}

static json_t *group_json(struct lc_raft_group *g)
{
    struct lc_raft_group_status st;
    json_t *o = json_object();
    json_t *snap = json_object();
    json_t *members = json_array();

    lc_raft_group_status(g, &st);
    json_object_set_new(o, "group", json_string(st.name));
    json_object_set_new(o, "state", json_string(st.state));
    json_object_set_new(o, "leader",
                        st.leader[0] != '\0' ? json_string(st.leader)
                                             : json_null());
    json_object_set_new(o, "term", json_integer((json_int_t)st.term));
    json_object_set_new(o, "commitIndex",
                        json_integer((json_int_t)st.commit_index));
    json_object_set_new(o, "appliedIndex",
                        json_integer((json_int_t)st.applied_index));
    json_object_set_new(o, "lastLogIndex",
                        json_integer((json_int_t)st.last_log_index));
    json_object_set_new(snap, "index",
                        json_integer((json_int_t)st.snapshot.index));
    json_object_set_new(snap, "term",
                        json_integer((json_int_t)st.snapshot.term));
    json_object_set_new(snap, "time",
                        json_integer((json_int_t)st.snapshot.created_ms));
    json_object_set_new(snap, "size",
                        json_integer((json_int_t)st.snapshot.size));
    json_object_set_new(o, "lastSnapshot", snap);
    for (unsigned i = 0; i < st.n_members; i++) {
        const struct lc_raft_member_status *m = &st.members[i];
        json_t *mj = json_object();
        char id[24];
        snprintf(id, sizeof id, "%llu", (unsigned long long)m->id);
        json_object_set_new(mj, "id", json_string(id));
        json_object_set_new(mj, "address", json_string(m->address));
        json_object_set_new(mj, "role", json_string(role_name(m->role)));
        json_object_set_new(mj, "state",
                            json_string(m->leader ? "leader" : "follower"));
        json_object_set_new(mj, "self", json_boolean(m->self));
        json_object_set_new(mj, "linkUp", json_boolean(m->link_up));
        if (strcmp(st.state, "leader") == 0) {
            json_object_set_new(mj, "matchIndex",
                                json_integer((json_int_t)m->match_index));
            json_object_set_new(
                mj, "lastContactMs",
                m->last_contact_ms >= 0
                    ? json_integer((json_int_t)m->last_contact_ms)
                    : json_null());
        }
        json_array_append_new(members, mj);
    }
    json_object_set_new(o, "members", members);
    json_object_set_new(o, "elections", json_integer((json_int_t)st.elections));
    json_object_set_new(o, "lastElectionMs",
                        st.last_election_ms >= 0
                            ? json_integer((json_int_t)st.last_election_ms)
                            : json_null());
    json_object_set_new(o, "restarts", json_integer((json_int_t)st.restarts));
    json_object_set_new(o, "caughtUp", json_boolean(st.caught_up));
    return o;
}

static void on_groups(struct lc_http_exchange *ex, void *data)
{
    struct lc_admin *a = data;
    json_t *root = json_object();
    json_t *groups = json_array();
    for (unsigned i = 0; i < lc_raft_engine_n_groups(a->engine); i++) {
        json_array_append_new(
            groups, group_json(lc_raft_engine_group_at(a->engine, i)));
    }
    json_object_set_new(root, "node",
                        json_string(lc_members_self(a->members)->raft_addr));
    json_object_set_new(root, "ready",
                        json_boolean(lc_raft_engine_healthy(a->engine)));
    json_object_set_new(root, "groups", groups);
    reply_json(ex, 200, root);
}

/* ------------------------------------------------------------ ops/raft */

static void ops_next(struct ops_call *c);

static void on_ops_done(struct lc_raft_admin *req, int status,
                        const char *message)
{
    struct ops_call *c = req->data;
    if (status != 0) {
        reply_rest(c->ex, 500,
                   message != NULL && message[0] != '\0' ? message
                                                          : lc_strerror(status),
                   NULL);
        free(c);
        return;
    }
    if (c->all && c->next_group < lc_raft_engine_n_groups(c->admin->engine)) {
        ops_next(c);
        return;
    }
    reply_rest(c->ex, 200, NULL, NULL);
    free(c);
}

static void ops_run(struct ops_call *c, struct lc_raft_group *g)
{
    char errmsg[256] = "";
    int rv;
    c->req.data = c;
    rv = lc_raft_group_admin(g, &c->req, c->command, c->value, on_ops_done,
                             errmsg, sizeof errmsg);
    if (rv != 0) {
        reply_rest(c->ex, 500, errmsg[0] != '\0' ? errmsg : lc_strerror(rv),
                   NULL);
        free(c);
    }
}

static void ops_next(struct ops_call *c)
{
    ops_run(c, lc_raft_engine_group_at(c->admin->engine, c->next_group++));
}

/* The command comes as a JSON body (Nacos binds @RequestBody
 * Map<String,String>); form or query parameters are accepted too. */
static const char *ops_field(struct lc_http_exchange *ex, json_t *body,
                             const char *name)
{
    json_t *v = body != NULL ? json_object_get(body, name) : NULL;
    if (v != NULL && json_is_string(v)) {
        return json_string_value(v);
    }
    return lc_http_param(ex, name);
}

static void on_ops_raft(struct lc_http_exchange *ex, void *data)
{
    struct lc_admin *a = data;
    size_t len;
    const char *raw = lc_http_body(ex, &len);
    json_t *body = NULL;
    const char *group_id;
    const char *command;
    const char *value;
    struct ops_call *c;
    struct lc_raft_group *g = NULL;
    json_error_t jerr;

    /* A body that does not bind is the client's mistake: 400 with the
     * reason (Nacos's ConsoleExceptionHandler answers 500 with Jackson's
     * message; jansson has none for valid JSON that is not an object). */
    if (len > 0) {
        body = json_loadb(raw, len, JSON_DECODE_ANY, &jerr);
        if (body != NULL && !json_is_object(body)) {
            json_decref(body);
            if (lc_http_param(ex, "command") == NULL) {
                lc_http_reply_text(ex, 400,
                                   "caused: JSON parse error: the body must "
                                   "be a JSON object such as "
                                   "{\"command\":\"doSnapshot\"};");
                return;
            }
            body = NULL;
        }
        if (body == NULL && lc_http_param(ex, "command") == NULL) {
            lc_http_reply_text(ex, 400,
                               "caused: JSON parse error: %s (line %d);",
                               jerr.text, jerr.line);
            return;
        }
    } else if (lc_http_param(ex, "command") == NULL) {
        lc_http_reply_text(ex, 400, "caused: Required request body is missing;");
        return;
    }
    group_id = ops_field(ex, body, "groupId");
    command = ops_field(ex, body, "command");
    value = ops_field(ex, body, "value");
    if (command == NULL || command[0] == '\0') {
        json_decref(body);
        reply_rest(ex, 500, "Not support command : null", NULL);
        return;
    }
    if (group_id != NULL && group_id[0] != '\0') {
        g = lc_raft_engine_group(a->engine, group_id);
        if (g == NULL) {
            char msg[256];
            snprintf(msg, sizeof msg, "not this raft group : %s", group_id);
            json_decref(body);
            reply_rest(ex, 500, msg, NULL);
            return;
        }
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        json_decref(body);
        lc_http_reply_text(ex, 500, "out of memory");
        return;
    }
    c->admin = a;
    c->ex = ex;
    if (!lc_strlcpy(c->command, command, sizeof c->command) ||
        !lc_strlcpy(c->value, value != NULL ? value : "", sizeof c->value)) {
        json_decref(body);
        free(c);
        reply_rest(ex, 500, "command or value too long", NULL);
        return;
    }
    json_decref(body);
    if (g != NULL) {
        ops_run(c, g);
    } else {
        c->all = true;
        ops_next(c);
    }
}

/* -------------------------------------------------------------- routes */

struct lc_admin *lc_admin_new(const struct lc_members *members,
                              struct lc_raft_engine *engine,
                              struct lc_http_server *srv)
{
    struct lc_admin *a = calloc(1, sizeof *a);
    if (a == NULL) {
        return NULL;
    }
    a->members = members;
    a->engine = engine;
    if (lc_http_server_route(srv, LC_HTTP_GET, "/nacos/v1/core/cluster/nodes",
                             on_nodes, a) != 0 ||
        lc_http_server_route(srv, LC_HTTP_GET, "/nacos/v1/core/cluster/self",
                             on_self, a) != 0 ||
        lc_http_server_route(srv, LC_HTTP_GET,
                             "/nacos/v1/core/cluster/health", on_health,
                             a) != 0 ||
        lc_http_server_route(srv, LC_HTTP_GET, "/nacos/v1/core/raft/groups",
                             on_groups, a) != 0 ||
        lc_http_server_route(srv, LC_HTTP_GET, "/v1/core/raft/groups",
                             on_groups, a) != 0 ||
        lc_http_server_route(srv, LC_HTTP_POST, "/nacos/v1/core/ops/raft",
                             on_ops_raft, a) != 0) {
        free(a);
        return NULL;
    }
    return a;
}

void lc_admin_set_peers(struct lc_admin *admin, struct lc_peers *peers)
{
    admin->peers = peers;
}

void lc_admin_free(struct lc_admin *admin)
{
    free(admin);
}
