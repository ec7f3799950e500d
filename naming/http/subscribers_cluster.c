/* /service/subscribers across the cluster, as Nacos 2.4.3's SubscribeManager
 * with NamingSubscriberServiceAggregationImpl:
 *
 *   aggregation=false  this node's subscribers (NamingSubscriberServiceLocalImpl)
 *   aggregation=true   this node's, then every other member's, asked with
 *                      GET /nacos/v1/ns/service/subscribers?serviceName=
 *                      <grouped>&namespaceId=<ns>&aggregation=false (page 1 of
 *                      the member's default 1000), merged in member address
 *                      order and deduplicated by Subscriber.toString()
 *                      (addrStr, agent, app, ip, namespaceId, serviceName),
 *                      the first one kept; then paged.
 *
 * A member that cannot be reached, does not answer within the timeout, or
 * answers with a status other than 200 adds nothing (Nacos's HttpClient
 * returns a failed RestResult and the loop goes on). A member that answers
 * 200 with a body that is not a Subscribers object makes Nacos's
 * deserialisation throw, and the controller then answers
 * {"subscribers":[],"count":0}: so does locus.
 *
 * Nacos asks the members one after the other (5 s connect, 10 s read
 * timeout each); locus asks them all at once, each with one bound
 * (locus.naming.subscribers.timeout_ms, 5000 ms), over a fresh connection,
 * and answers when the last one is in. Nothing blocks the loop. The bound
 * is at most the HTTP server's 5 s shutdown grace, so an aggregation under
 * way always answers before the server stops.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "members/members.h"
#include "naming/http/reply.h"
#include "naming/internal.h"
#include "naming/http/subscribers_cluster.h"

/* ---------------------------------------------------------- the answer */

/* Reply {"subscribers":<page of @all>,"count":<size of @all>} (@all
 * consumed), as ServiceController.subscribers pages. */
static void reply_page(struct lc_http_exchange *ex, json_t *all, int page_no,
                       int page_size)
{
    size_t count = json_array_size(all);
    long long start = ((long long)page_no - 1) * page_size;
    long long end;
    json_t *page = json_array();
    json_t *root = json_object();

    if (start < 0) {
        start = 0;
    }
    end = start + page_size;
    if (end > (long long)count) {
        end = (long long)count;
    }
    /* subList(start, end) throws when start > end; Nacos then answers an
     * empty list with the full count. */
    for (long long i = start; i < end; i++) {
        json_array_append(page, json_array_get(all, (size_t)i));
    }
    json_decref(all);
    json_object_set_new(root, "subscribers", page);
    json_object_set_new(root, "count", json_integer((json_int_t)count));
    lc_reply_json(ex, root);
}

static const char *field(json_t *o, const char *name)
{
    const char *v = json_string_value(json_object_get(o, name));
    return v != NULL ? v : "\x01null";
}

/* Append the subscribers of @from (borrowed) not yet in @seen to @all. */
static void merge(json_t *all, json_t *seen, json_t *from)
{
    size_t i;
    json_t *s;
    json_array_foreach(from, i, s)
    {
        char *key = NULL;
        if (asprintf(&key, "%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s",
                     field(s, "addrStr"), field(s, "agent"), field(s, "app"),
                     field(s, "ip"), field(s, "namespaceId"),
                     field(s, "serviceName")) < 0) {
            continue;
        }
        if (json_object_get(seen, key) == NULL) {
            json_object_set_new(seen, key, json_true());
            json_array_append(all, s);
        }
        free(key);
    }
}

/* A member's Subscribers answer as Nacos reads it back (Jackson into
 * Subscriber, out again: its fields in order, nulls left out); NULL when
 * the body is not a Subscribers object. */
static json_t *read_subscribers(const char *body, size_t len)
{
    static const char *const keys[] = {
        "addrStr", "agent",       "app",         "ip",
        "port",    "namespaceId", "serviceName", "cluster",
    };
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *list = json_object_get(root, "subscribers");
    json_t *out;
    size_t i;
    json_t *s;

    if (!json_is_object(root) || !json_is_array(list)) {
        json_decref(root);
        return NULL;
    }
    out = json_array();
    json_array_foreach(list, i, s)
    {
        json_t *o;
        if (!json_is_object(s)) {
            json_decref(out);
            json_decref(root);
            return NULL;
        }
        o = json_object();
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            json_t *v = json_object_get(s, keys[k]);
            if (strcmp(keys[k], "port") == 0) {
                json_object_set_new(
                    o, "port",
                    json_integer(json_is_integer(v) ? json_integer_value(v)
                                                    : 0));
            } else if (json_is_string(v)) {
                json_object_set(o, keys[k], v);
            }
        }
        json_array_append_new(out, o);
    }
    json_decref(root);
    return out;
}

/* ------------------------------------------------------- asking members */

struct agg;

struct agg_call {
    struct lc_http_call call;
    struct lc_http_conn *conn;
    struct agg *a;
    const struct lc_member *peer; /* borrowed from naming's member list */
    json_t *subs; /* the member's subscribers, or NULL */
};

struct agg {
    struct lc_http_exchange *ex;
    json_t *local;
    int page_no;
    int page_size;
    bool unreadable; /* a member answered 200 with something else */
    unsigned pending;
    unsigned n;
    struct agg_call calls[];
};

static void agg_finish(struct agg *a)
{
    json_t *all = json_array();
    json_t *seen = json_object();
    if (!a->unreadable) {
        merge(all, seen, a->local);
        for (unsigned i = 0; i < a->n; i++) {
            if (a->calls[i].subs != NULL) {
                merge(all, seen, a->calls[i].subs);
            }
        }
    }
    json_decref(seen);
    reply_page(a->ex, all, a->page_no, a->page_size);
    for (unsigned i = 0; i < a->n; i++) {
        json_decref(a->calls[i].subs);
    }
    json_decref(a->local);
    free(a);
}

static void on_member_answer(struct lc_http_call *call, int status,
                             int http_status, const char *body, size_t len)
{
    struct agg_call *c = call->data;
    struct agg *a = c->a;

    if (status != 0) {
        lc_infof("naming", "subscribers of member %s: %s", c->peer->addr,
                 lc_strerror(status));
    } else if (http_status != 200) {
        lc_infof("naming", "subscribers of member %s: HTTP %d", c->peer->addr,
                 http_status);
    } else if ((c->subs = read_subscribers(body, len)) == NULL) {
        lc_warnf("naming", "subscribers of member %s: not a Subscribers "
                 "answer", c->peer->addr);
        a->unreadable = true;
    }
    lc_http_conn_close(c->conn); /* safe inside its own callback */
    c->conn = NULL;
    if (--a->pending == 0) {
        agg_finish(a);
    }
}

/* @s URL-encoded (malloc'd), or NULL when out of memory. */
static char *encoded(const char *s)
{
    char *out = NULL;
    size_t len = 0, cap = 0;
    if (lc_http_urlencode_append(&out, &len, &cap, s) != 0) {
        free(out);
        return NULL;
    }
    return out != NULL ? out : strdup("");
}

/* The request NamingSubscriberServiceAggregationImpl makes of a member
 * (HttpClient adds encoding and nofix). */
static char *member_path(const char *ns, const char *grouped)
{
    char *service = encoded(grouped);
    char *space = encoded(ns);
    char *path = NULL;
    if (service == NULL || space == NULL ||
        asprintf(&path,
                 "/nacos/v1/ns/service/subscribers?serviceName=%s"
                 "&namespaceId=%s&aggregation=false&encoding=UTF-8&nofix=1",
                 service, space) < 0) {
        path = NULL;
    }
    free(service);
    free(space);
    return path;
}

void lc_subscribers_answer(struct lc_naming *n, struct lc_http_exchange *ex,
                           json_t *local, const char *ns, const char *grouped,
                           bool aggregation, int page_no, int page_size)
{
    const struct lc_members *ms = n->members;
    /* The others: the list always holds this node. */
    unsigned others = ms != NULL ? lc_members_count(ms) - 1 : 0;
    struct agg *a;
    char *path;

    if (!aggregation) {
        reply_page(ex, local, page_no, page_size);
        return;
    }
    if (others == 0) {
        json_t *all = json_array();
        json_t *seen = json_object();
        merge(all, seen, local);
        json_decref(seen);
        json_decref(local);
        reply_page(ex, all, page_no, page_size);
        return;
    }
    path = member_path(ns, grouped);
    a = calloc(1, sizeof *a + others * sizeof a->calls[0]);
    if (path == NULL || a == NULL) {
        free(path);
        free(a);
        json_decref(local);
        lc_naming_failf(ex, LC_ENOMEM, "out of memory");
        return;
    }
    a->ex = ex;
    a->local = local;
    a->page_no = page_no;
    a->page_size = page_size;
    a->pending = 1; /* held until every call is sent */
    /* In address order (the merge keeps the first of duplicates). */
    for (unsigned i = 0; i < lc_members_count(ms); i++) {
        const struct lc_member *m = lc_members_at(ms, i);
        struct agg_call *c;
        int rv;
        if (m->self) {
            continue; /* allMembersWithoutSelf */
        }
        c = &a->calls[a->n++];
        c->a = a;
        c->peer = m;
        c->call.data = c;
        rv = lc_http_conn_new(n->loop, m->host, m->port, n->members_timeout_ms,
                              &c->conn);
        if (rv == 0) {
            /* The peer identity, when there is one (the member checks auth
             * otherwise). */
            const char *hdrs[] = {n->peer_id_key, n->peer_id_value, NULL};
            struct lc_http_req req = {
                .method = "GET",
                .path = path,
                .headers = n->peer_id_key[0] != '\0' ? hdrs : NULL};
            rv =
                lc_http_conn_request(c->conn, &c->call, &req, on_member_answer);
            if (rv != 0) {
                lc_http_conn_close(c->conn);
                c->conn = NULL;
            }
        }
        if (rv != 0) {
            lc_infof("naming", "subscribers of member %s: %s", m->addr,
                     lc_strerror(rv));
            continue;
        }
        a->pending++;
    }
    free(path);
    if (--a->pending == 0) {
        agg_finish(a);
    }
}
