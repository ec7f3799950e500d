/* ServiceQueryRequest, SubscribeServiceRequest and ServiceListRequest, as
 * Nacos 2.4.3's ServiceQueryRequestHandler, SubscribeServiceRequestHandler
 * and ServiceListRequestHandler. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "naming/grpc/handlers.h"

/* Answer @type {resultCode, errorCode, [message,] success, serviceInfo}
 * (Jackson's order: Response's fields, then the subclass's), the
 * ServiceInfo from the renderings cache. */
static void reply_info(struct lc_naming_grpc *g, struct lc_rpc_req *req,
                       const char *type, const char *message,
                       const struct lc_service_key *key, const char *clusters,
                       bool healthy_only)
{
    char prefix[128];
    size_t len;
    char *text;
    struct lc_err e;

    snprintf(prefix, sizeof prefix,
             "{\"resultCode\":200,\"errorCode\":0,%s%s%s\"success\":true,"
             "\"serviceInfo\":",
             message != NULL ? "\"message\":\"" : "",
             message != NULL ? message : "", message != NULL ? "\"," : "");
    text = lc_op_service_info_text(g->n, key, clusters, healthy_only,
                                   LC_INFO_GRPC, prefix, "}", &len);
    if (text == NULL) {
        lc_err_set(&e, LC_ENOMEM, "out of memory");
        lc_ng_fail(req, type, &e);
        return;
    }
    lc_rpc_reply_text(req, type, text, len);
    free(text);
}

void lc_ng_on_service_query(struct lc_rpc_req *req, void *data)
{
    struct lc_naming_grpc *g = data;
    json_t *body = lc_rpc_req_body(req);
    const char *cluster = lc_ng_str(body, "cluster");
    struct lc_instance_req r;
    struct lc_service_key key;
    struct lc_err e;

    if (lc_op_ready(g->n, &e) != 0 ||
        lc_ng_check_service(body, cluster, &e) != 0 ||
        lc_ng_service(body, &r, &e) != 0) {
        lc_ng_fail(req, "QueryServiceResponse", &e);
        return;
    }
    key = (struct lc_service_key){r.ns, r.group, r.service};
    reply_info(g, req, "QueryServiceResponse", NULL, &key,
               cluster != NULL ? cluster : "",
               json_is_true(json_object_get(body, "healthyOnly")));
}

void lc_ng_on_subscribe(struct lc_rpc_req *req, void *data)
{
    struct lc_naming_grpc *g = data;
    json_t *body = lc_rpc_req_body(req);
    const char *clusters = lc_ng_str(body, "clusters");
    struct lc_rpc_conn *c = lc_rpc_req_conn(req);
    const char *app = lc_rpc_req_header(req, "app");
    bool subscribe = json_is_true(json_object_get(body, "subscribe"));
    struct lc_instance_req r;
    struct lc_service_key key;
    struct lc_err e;

    if (clusters == NULL) {
        clusters = "";
    }
    if (lc_op_ready(g->n, &e) != 0 ||
        lc_ng_check_service(body, clusters, &e) != 0 ||
        lc_ng_service(body, &r, &e) != 0) {
        lc_ng_fail(req, "SubscribeServiceResponse", &e);
        return;
    }
    key = (struct lc_service_key){r.ns, r.group, r.service};
    if (g->push == NULL) {
        lc_err_set(&e, LC_ESHUTDOWN, "server is shutting down");
        lc_ng_fail(req, "SubscribeServiceResponse", &e);
        return;
    }
    if (subscribe) {
        struct lc_push_subscriber s = {
            .ns = r.ns,
            .group = r.group,
            .service = r.service,
            .clusters = clusters,
            .ip = lc_rpc_conn_ip(c),
            .port = 0,
            .agent = lc_rpc_conn_version(c),
            .app = app != NULL && app[0] != '\0' ? app : "unknown",
        };
        int rv = lc_push_grpc_subscribe(g->push, c, &s);
        if (rv != 0) {
            lc_err_set(&e, rv, "subscribe failed: %s", lc_strerror(rv));
            lc_ng_fail(req, "SubscribeServiceResponse", &e);
            return;
        }
    } else {
        lc_push_grpc_unsubscribe(g->push, lc_rpc_conn_id(c), &key);
    }
    reply_info(g, req, "SubscribeServiceResponse", "success", &key, clusters,
               false);
}

void lc_ng_on_service_list(struct lc_rpc_req *req, void *data)
{
    struct lc_naming_grpc *g = data;
    json_t *body = lc_rpc_req_body(req);
    const char *ns = lc_ng_str(body, "namespace");
    const char *group = lc_ng_str(body, "groupName");
    json_t *page_no = json_object_get(body, "pageNo");
    json_t *page_size = json_object_get(body, "pageSize");
    json_t *names = NULL;
    size_t count = 0;
    json_t *resp;
    struct lc_err e;

    if (lc_op_ready(g->n, &e) != 0 ||
        lc_ng_check_service(body, NULL, &e) != 0) {
        lc_ng_fail(req, "ServiceListResponse", &e);
        return;
    }
    if (ns == NULL || ns[0] == '\0') {
        ns = LC_DEFAULT_NAMESPACE;
    }
    /* Objects.equals(groupName, each.getGroup()): a null group matches no
     * service. The selector is not applied (Nacos: "TODO"). */
    if (group == NULL) {
        names = json_array();
    } else if (lc_op_service_list(g->n, ns, group,
                                  (int)json_integer_value(page_no),
                                  (int)json_integer_value(page_size), &names,
                                  &count, &e) != 0) {
        lc_ng_fail(req, "ServiceListResponse", &e);
        return;
    }
    resp = json_object();
    json_object_set_new(resp, "count", json_integer((json_int_t)count));
    json_object_set_new(resp, "serviceNames", names);
    lc_rpc_reply(req, "ServiceListResponse", resp);
    json_decref(resp);
}
