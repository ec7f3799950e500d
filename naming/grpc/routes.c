/* The naming gRPC API's one route table: every naming request type with
 * its handler, allowed from the SDK and the cluster ports (Nacos's
 * @InvokeSource for naming handlers), and what a closed connection takes
 * with it. */
#include <stdlib.h>

#include "common/log.h"
#include "naming/grpc/handlers.h"

static const struct route {
    const char *type;
    lc_rpc_handler_cb handler;
} routes[] = {
    {"InstanceRequest", lc_ng_on_instance},
    {"BatchInstanceRequest", lc_ng_on_batch_instance},
    {"PersistentInstanceRequest", lc_ng_on_persistent_instance},
    {"ServiceQueryRequest", lc_ng_on_service_query},
    {"SubscribeServiceRequest", lc_ng_on_subscribe},
    {"ServiceListRequest", lc_ng_on_service_list},
};

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
                           routes[i].handler, g);
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
