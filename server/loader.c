/* /nacos/v2/core/loader (see loader.h). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "naming/ops/ops.h"
#include "server/balance.h"
#include "server/loader.h"

struct lc_loader {
    struct lc_rpc *rpc; /* NULL once detached */
    struct lc_balance *balance; /* NULL: not set */
    struct lc_naming_grpc *ng;
    struct lc_naming *naming;
    int grpc_port;
    uv_loop_t *loop;
};

static void reply_json(struct lc_http_exchange *ex, json_t *root)
{
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (text == NULL) {
        lc_http_reply_text(ex, 500, "out of memory");
        return;
    }
    lc_http_reply_take(ex, 200, "application/json;charset=UTF-8", text,
                       strlen(text));
}

struct each_ctx {
    struct lc_loader *l;
    json_t *out;
    uint64_t wall_now;
    uint64_t loop_now;
};

static const char *label(json_t *labels, const char *key)
{
    const char *v = json_string_value(json_object_get(labels, key));
    return v != NULL ? v : "";
}

/* One Connection as Jackson writes Nacos's GrpcConnection. */
static void add_conn(struct lc_rpc_conn *c, void *data)
{
    struct each_ctx *ctx = data;
    json_t *labels = lc_rpc_conn_labels(c);
    json_t *meta = json_object();
    json_t *conn = json_object();
    json_t *locus = json_object();
    uint64_t active = lc_rpc_conn_active_ms(c);
    uint64_t idle = ctx->loop_now > active ? ctx->loop_now - active : 0;
    const char *id = lc_rpc_conn_id(c);
    bool sdk = lc_rpc_conn_sdk(c);

    json_object_set_new(meta, "connectType", json_string("GRPC"));
    json_object_set_new(meta, "clientIp", json_string(lc_rpc_conn_ip(c)));
    json_object_set_new(meta, "remoteIp", json_string(lc_rpc_conn_ip(c)));
    json_object_set_new(meta, "remotePort", json_integer(lc_rpc_conn_port(c)));
    json_object_set_new(meta, "localPort", json_integer(ctx->l->grpc_port));
    json_object_set_new(meta, "version", json_string(lc_rpc_conn_version(c)));
    json_object_set_new(meta, "connectionId", json_string(id));
    json_object_set_new(meta, "createTime",
                        json_integer((json_int_t)lc_rpc_conn_created_ms(c)));
    json_object_set_new(meta, "lastActiveTime",
                        json_integer((json_int_t)(ctx->wall_now - idle)));
    json_object_set_new(meta, "appName",
                        json_string(label(labels, "AppName")[0] != '\0'
                                        ? label(labels, "AppName")
                                        : "-"));
    json_object_set_new(meta, "tenant", json_string(lc_rpc_conn_tenant(c)));
    json_object_set_new(meta, "labels",
                        labels != NULL ? json_deep_copy(labels)
                                       : json_object());
    json_object_set_new(meta, "firstPushQueueBlockTime", json_integer(0));
    json_object_set_new(meta, "lastPushQueueBlockTime", json_integer(0));
    json_object_set_new(
        meta, "clusterSource",
        json_boolean(strcmp(label(labels, "source"), "cluster") == 0));
    json_object_set_new(meta, "sdkSource", json_boolean(sdk));
    json_object_set_new(conn, "traced", json_false());
    json_object_set_new(conn, "abilityTable", json_object());
    json_object_set_new(conn, "metaInfo", meta);
    json_object_set_new(conn, "labels",
                        labels != NULL ? json_deep_copy(labels)
                                       : json_object());
    /* locus's own: what the connection holds in naming */
    json_object_set_new(locus, "instances",
                        json_integer(lc_op_conn_instances(ctx->l->naming, id)));
    json_object_set_new(
        locus, "subscriptions",
        json_integer(lc_naming_grpc_subscriptions(ctx->l->ng, id)));
    json_object_set_new(conn, "locus", locus);
    json_object_set_new(ctx->out, id, conn);
}

static void on_current(struct lc_http_exchange *ex, void *data)
{
    struct lc_loader *l = data;
    struct each_ctx ctx = {l, json_object(), lc_now_ms(), uv_now(l->loop)};
    if (l->rpc != NULL) {
        lc_rpc_conn_each(l->rpc, add_conn, &ctx);
    }
    reply_json(ex, ctx.out);
}

static void on_reload_client(struct lc_http_exchange *ex, void *data)
{
    struct lc_loader *l = data;
    const char *id = lc_http_param(ex, "connectionId");
    const char *redirect = lc_http_param(ex, "redirectAddress");
    struct lc_rpc_conn *c;
    char host[256];
    char port[16];
    int p;

    if (id == NULL) {
        lc_http_reply_text(ex, 400,
                           "Required request parameter 'connectionId' for "
                           "method parameter type String is not present");
        return;
    }
    c = l->rpc != NULL ? lc_rpc_conn_find(l->rpc, id) : NULL;
    /* ConnectionManager.loadSingle: SDK connections only, silently. */
    if (c != NULL && lc_rpc_conn_sdk(c)) {
        if (redirect != NULL && redirect[0] != '\0' &&
            lc_split_host_port(redirect, host, sizeof host, &p) == 0) {
            snprintf(port, sizeof port, "%d", p);
            lc_rpc_conn_reset(c, host, port);
        } else {
            lc_rpc_conn_reset(c, NULL, NULL);
        }
        lc_infof("server", "connection %s: ConnectReset sent (%s)", id,
                 redirect != NULL ? redirect : "any server");
    }
    lc_http_reply_text(ex, 200, "success");
}

/* reloadCurrent?count=&redirectAddress=: ConnectionManager.loadCount, the
 * SDK connections beyond count reset at the next balancing interval. */
static void on_reload_current(struct lc_http_exchange *ex, void *data)
{
    struct lc_loader *l = data;
    const char *count = lc_http_param(ex, "count");
    const char *redirect = lc_http_param(ex, "redirectAddress");
    char host[256];
    long long n;
    int p;

    if (count == NULL) {
        lc_http_reply_text(ex, 400,
                           "Required request parameter 'count' for method "
                           "parameter type Integer is not present");
        return;
    }
    if (lc_parse_int(count, -2147483648LL, 2147483647LL, &n) != 0) {
        lc_http_reply_text(ex, 400,
                           "Failed to convert value of type "
                           "'java.lang.String' to required type "
                           "'java.lang.Integer'; For input string: \"%s\"",
                           count);
        return;
    }
    if (redirect != NULL && redirect[0] != '\0' &&
        lc_split_host_port(redirect, host, sizeof host, &p) != 0) {
        lc_http_reply_text(ex, 400, "redirectAddress must be ip:port");
        return;
    }
    if (l->balance == NULL) {
        lc_http_reply_text(ex, 503, "server is not ready");
        return;
    }
    lc_balance_load_count(l->balance, (int)n, redirect);
    lc_http_reply_text(ex, 200, "success");
}

static void on_cluster_answer(void *data, json_t *answer)
{
    struct lc_http_exchange *ex = data;
    if (answer == NULL) {
        lc_http_reply_text(ex, 500, "out of memory");
        return;
    }
    reply_json(ex, answer);
}

/* cluster: every member's ServerLoaderInfo (§11.4's shape). */
static void on_cluster(struct lc_http_exchange *ex, void *data)
{
    struct lc_loader *l = data;
    if (l->balance == NULL ||
        lc_balance_cluster(l->balance, on_cluster_answer, ex) != 0) {
        lc_http_reply_text(ex, 500, "server error");
    }
}

static void on_smart_done(void *data, bool ok)
{
    lc_http_reply_text(data, 200, "%s", ok ? "Ok" : "Fail");
}

/* smartReloadCluster?loaderFactor=0.1 */
static void on_smart_reload(struct lc_http_exchange *ex, void *data)
{
    struct lc_loader *l = data;
    const char *f = lc_http_param(ex, "loaderFactor");
    double factor = 0.1; /* RemoteUtils.LOADER_FACTOR */

    if (f != NULL && f[0] != '\0' &&
        (lc_parse_double(f, &factor) != 0 || factor < 0 || factor >= 1)) {
        lc_http_reply_text(ex, 400,
                           "loaderFactor must be a number in [0, 1): %s", f);
        return;
    }
    if (l->balance == NULL ||
        lc_balance_smart_reload(l->balance, factor, on_smart_done, ex) != 0) {
        lc_http_reply_text(ex, 200, "Fail");
    }
}

void lc_loader_set_balance(struct lc_loader *l, struct lc_balance *b)
{
    l->balance = b;
}

struct lc_loader *lc_loader_new(uv_loop_t *loop, struct lc_http_server *srv,
                                struct lc_rpc *rpc, struct lc_naming_grpc *ng,
                                struct lc_naming *naming, int grpc_port)
{
    static const char *const prefixes[] = {"/nacos", ""};
    static const struct {
        const char *name;
        lc_http_handler_cb handler;
    } routes[] = {
        {"current", on_current},
        {"reloadClient", on_reload_client},
        {"reloadCurrent", on_reload_current},
        {"cluster", on_cluster},
        {"smartReloadCluster", on_smart_reload},
    };
    struct lc_loader *l = calloc(1, sizeof *l);
    char path[128];
    if (l == NULL) {
        return NULL;
    }
    l->rpc = rpc;
    l->ng = ng;
    l->naming = naming;
    l->grpc_port = grpc_port;
    l->loop = loop;
    for (size_t i = 0; i < 2; i++) {
        for (size_t j = 0; j < LC_ARRAY_SIZE(routes); j++) {
            snprintf(path, sizeof path, "%s/v2/core/loader/%s", prefixes[i],
                     routes[j].name);
            if (lc_http_server_route(srv, LC_HTTP_GET, path, routes[j].handler,
                                     l) != 0) {
                goto fail;
            }
        }
    }
    return l;
fail:
    free(l);
    return NULL;
}

void lc_loader_detach(struct lc_loader *l)
{
    if (l != NULL) {
        l->rpc = NULL;
    }
}

void lc_loader_free(struct lc_loader *l)
{
    free(l);
}
