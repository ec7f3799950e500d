/* The naming gRPC API's one route table: every naming request type with
 * its handler, allowed from the SDK and the cluster ports (Nacos's
 * @InvokeSource for naming handlers), and what a closed connection takes
 * with it. */
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "common/java.h"
#include "common/log.h"
#include "common/util.h"
#include "naming/grpc/handlers.h"

/* Each type with its handler, what it needs (@Secured of the 2.4.3
 * handlers) and the response type a refusal is answered with. */
static const struct route {
    const char *type;
    lc_rpc_handler_cb handler;
    char action;
    const char *response;
    bool every_service; /* the resource names no service */
} routes[] = {
    {"InstanceRequest", lc_ng_on_instance, 'w', "InstanceResponse", false},
    {"BatchInstanceRequest", lc_ng_on_batch_instance, 'w',
     "BatchInstanceResponse", false},
    {"PersistentInstanceRequest", lc_ng_on_persistent_instance, 'w',
     "InstanceResponse", false},
    {"ServiceQueryRequest", lc_ng_on_service_query, 'r', "QueryServiceResponse",
     false},
    {"SubscribeServiceRequest", lc_ng_on_subscribe, 'r',
     "SubscribeServiceResponse", false},
    {"ServiceListRequest", lc_ng_on_service_list, 'r', "ServiceListResponse",
     true},
};

/* ------------------------------------------------------------------ auth */

/* A request whose check waits for the thread pool. The server keeps the
 * request (and closing waits for its reply), so @g outlives it. */
struct held {
    struct lc_auth_check check;
    struct lc_rpc_req *req;
    struct lc_naming_grpc *g;
    const struct route *route;
};

static void on_checked(struct lc_auth_check *c, const struct lc_err *e)
{
    struct held *h = LC_CONTAINER_OF(c, struct held, check);
    struct lc_rpc_req *req = h->req;
    struct lc_naming_grpc *g = h->g;
    const struct route *r = h->route;

    struct lc_rpc_conn *conn = lc_rpc_req_conn(req);
    struct lc_err gone;

    free(h);
    if (e == NULL && (conn == NULL || !lc_rpc_conn_registered(conn))) {
        /* Closed while checked: its instances and subscriptions are gone
         * already, and a handler would publish for nobody. The answer is
         * dropped. */
        lc_err_set(&gone, LC_ECONN, "Connection is unregistered.");
        e = &gone;
    }
    if (e == NULL) {
        r->handler(req, g);
    } else {
        lc_rpc_reply_error(req, r->response, e);
    }
}

/* Header @name of @req, by its exact name (GrpcIdentityContextBuilder
 * compares the keys as sent): the metadata's, else the body's "headers"
 * (Nacos's Request holds both, the metadata's put last). */
static const char *header(struct lc_rpc_req *req, const char *name)
{
    const char *v =
        json_string_value(json_object_get(lc_rpc_req_headers(req), name));
    if (v != NULL) {
        return v;
    }
    return json_string_value(json_object_get(
        json_object_get(lc_rpc_req_body(req), "headers"), name));
}

/* Nacos's GrpcIdentityContextBuilder: a token from "Authorization: Bearer
 * <t>", else accessToken, else username and password. */
static void identity_of(struct lc_rpc_req *req, struct lc_auth_ident *id)
{
    struct lc_rpc_conn *conn = lc_rpc_req_conn(req);

    memset(id, 0, sizeof *id);
    id->token = lc_auth_token_of(header(req, "Authorization"),
                                 header(req, "accessToken"));
    id->username = header(req, "username");
    id->password = header(req, "password");
    id->remote_ip = conn != NULL ? lc_rpc_conn_ip(conn) : NULL;
}

/* The naming resource of the body, as the handler reads it (a blank
 * namespace is public). */
static void resource_of(struct lc_rpc_req *req, bool every_service, char *out,
                        size_t size)
{
    json_t *body = lc_rpc_req_body(req);
    const char *ns = lc_ng_str(body, "namespace");
    const char *group = lc_ng_str(body, "groupName");
    const char *service = every_service ? NULL : lc_ng_str(body, "serviceName");

    lc_auth_naming_resource(lc_java_blank(ns) ? NULL : ns, group, service, out,
                            size);
}

/* Check @req against its route's need, then run the handler (now or
 * from the check's callback), or answer the refusal. */
static void gated(const struct route *r, struct lc_rpc_req *req,
                  struct lc_naming_grpc *g)
{
    struct lc_auth_ident id;
    struct lc_auth_need need;
    char resource[1600]; /* lc_auth_check copies it */
    struct held *h;
    struct lc_err e;
    int rv;

    h = malloc(sizeof *h);
    if (h == NULL) {
        lc_err_set(&e, LC_ENOMEM, "out of memory");
        lc_rpc_reply_error(req, r->response, &e);
        return;
    }
    h->req = req;
    h->g = g;
    h->route = r;
    identity_of(req, &id);
    resource_of(req, r->every_service, resource, sizeof resource);
    need.action = r->action;
    need.resource = resource;
    need.admin = false;
    rv = lc_auth_check(g->auth, &h->check, &id, &need, on_checked, &e);
    if (rv == LC_EAGAIN) {
        return;
    }
    free(h);
    if (rv == 0 && e.code == 0) {
        r->handler(req, g);
        return;
    }
    if (e.code == 0) {
        lc_err_set(&e, rv, "%s", lc_strerror(rv));
    }
    lc_rpc_reply_error(req, r->response, &e);
}

#define GATED(name, i)                                                         \
    static void name(struct lc_rpc_req *req, void *data)                       \
    {                                                                          \
        struct lc_naming_grpc *g = data;                                       \
        if (g->auth == NULL || !lc_auth_enabled(g->auth)) {                    \
            routes[i].handler(req, data);                                      \
            return;                                                            \
        }                                                                      \
        gated(&routes[i], req, g);                                             \
    }
GATED(on_gated_0, 0)
GATED(on_gated_1, 1)
GATED(on_gated_2, 2)
GATED(on_gated_3, 3)
GATED(on_gated_4, 4)
GATED(on_gated_5, 5)

static const lc_rpc_handler_cb entry[] = {
    on_gated_0, on_gated_1, on_gated_2, on_gated_3, on_gated_4, on_gated_5,
};
_Static_assert(LC_ARRAY_SIZE(entry) == LC_ARRAY_SIZE(routes),
               "one gated entry per route");

void lc_naming_grpc_set_auth(struct lc_naming_grpc *g, struct lc_auth *auth)
{
    g->auth = auth;
}

/* A connection closed: its instances go through the bus (the services'
 * subscribers are pushed), then its subscriptions and deliveries. */
static void on_conn_closed(struct lc_rpc_conn_observer *obs,
                           struct lc_rpc_conn *c)
{
    struct lc_naming_grpc *g = obs->data;
    const char *id = lc_rpc_conn_id(c);
    lc_op_conn_remove(g->n, id);
    if (g->push != NULL) {
        lc_push_grpc_conn_closed(g->push, id);
    }
}

static unsigned conn_count(void *data)
{
    struct lc_naming_grpc *g = data;
    return g->rpc != NULL ? lc_rpc_conn_count(g->rpc, false) : 0;
}

void lc_naming_grpc_detach(struct lc_naming_grpc *g)
{
    g->rpc = NULL;
}

int lc_naming_grpc_new(struct lc_naming *n, struct lc_rpc *rpc,
                       struct lc_naming_grpc **out)
{
    struct lc_naming_grpc *g = calloc(1, sizeof *g);
    int rv;
    if (g == NULL) {
        return LC_ENOMEM;
    }
    g->n = n;
    g->rpc = rpc;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        rv = lc_rpc_handle(rpc, routes[i].type, LC_RPC_SDK | LC_RPC_CLUSTER,
                           entry[i], g);
        if (rv != 0) {
            /* The server keeps what was registered: it must not serve
             * before it is closed (the caller gives up). */
            free(g);
            return rv;
        }
    }
    rv = lc_push_grpc_new(g);
    if (rv != 0) {
        free(g);
        return rv;
    }
    g->obs.closed = on_conn_closed;
    g->obs.data = g;
    lc_rpc_observe(rpc, &g->obs);
    lc_naming_set_conn_count(n, conn_count, g);
    *out = g;
    return 0;
}

unsigned lc_naming_grpc_subscriptions(struct lc_naming_grpc *g,
                                      const char *conn_id)
{
    return g->push != NULL ? lc_push_grpc_count(g->push, conn_id) : 0;
}

void lc_naming_grpc_free(struct lc_naming_grpc *g)
{
    if (g == NULL) {
        return;
    }
    lc_naming_set_conn_count(g->n, NULL, NULL);
    free(g);
}
