/* InstanceRequest, BatchInstanceRequest and PersistentInstanceRequest, as
 * Nacos 2.4.3's InstanceRequestHandler, BatchInstanceRequestHandler and
 * PersistentInstanceRequestHandler with their parameter extractors.
 *
 * An ephemeral instance binds to the connection (lc_op_conn_*); a
 * persistent one (PersistentInstanceRequest, or an InstanceRequest whose
 * instance says ephemeral:false) is client "ip:port#false" through Raft,
 * answered once applied.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "naming/grpc/handlers.h"

#define REGISTER "registerInstance"
#define DEREGISTER "deregisterInstance"
#define BATCH_REGISTER "batchRegisterInstance"

static void reply_type(struct lc_rpc_req *req, const char *resp_type,
                       const char *type)
{
    json_t *body = json_object();
    json_object_set_new(body, "type", json_string(type));
    lc_rpc_reply(req, resp_type, body);
    json_decref(body);
}

/* A persistent write in flight: answered when applied. */
struct pwrite {
    struct lc_op op;
    struct lc_rpc_req *req;
    const char *type; /* static */
};

static void on_persistent_done(struct lc_op *op, const struct lc_err *e)
{
    struct pwrite *w = op->data;
    if (e != NULL) {
        lc_ng_fail(w->req, "InstanceResponse", e);
    } else {
        reply_type(w->req, "InstanceResponse", w->type);
    }
    json_decref(op->result);
    free(w);
}

static void persistent_write(struct lc_naming *n, struct lc_rpc_req *req,
                             const struct lc_instance_req *r, bool reg)
{
    struct pwrite *w = calloc(1, sizeof *w);
    struct lc_err e;
    int rv;
    if (w == NULL) {
        lc_err_set(&e, LC_ENOMEM, "out of memory");
        lc_ng_fail(req, "InstanceResponse", &e);
        return;
    }
    w->req = req;
    w->type = reg ? REGISTER : DEREGISTER;
    w->op.data = w;
    rv = reg ? lc_op_register(n, r, &w->op, on_persistent_done, &e)
             : lc_op_deregister(n, r, &w->op, on_persistent_done, &e);
    if (rv != 0) {
        lc_ng_fail(req, "InstanceResponse", &e);
        free(w);
    } else if (!w->op.pending) {
        reply_type(req, "InstanceResponse", w->type);
        json_decref(w->op.result);
        free(w);
    }
}

/* The request's service, the checker, the instance and its type: what
 * every instance request decodes first. */
static int decode(struct lc_naming *n, json_t *body, struct lc_instance_req *r,
                  struct lc_err *e)
{
    r->metadata = NULL;
    if (lc_op_ready(n, e) != 0 || lc_ng_check_service(body, NULL, e) != 0 ||
        lc_ng_instance(json_object_get(body, "instance"), r, e) != 0 ||
        lc_ng_service(body, r, e) != 0) {
        return e->code;
    }
    lc_ng_instance_id(r);
    return 0;
}

static int unsupported(const char *type, struct lc_err *e)
{
    return lc_err_set(e, LC_EINVAL, "Unsupported request type %s",
                      type != NULL ? type : "null");
}

void lc_ng_on_instance(struct lc_rpc_req *req, void *data)
{
    struct lc_naming_grpc *g = data;
    struct lc_naming *n = g->n;
    json_t *body = lc_rpc_req_body(req);
    const char *type = lc_ng_str(body, "type");
    const char *conn_id = lc_rpc_conn_id(lc_rpc_req_conn(req));
    struct lc_instance_req r;
    struct lc_err e;
    bool reg;

    if (decode(n, body, &r, &e) != 0) {
        goto fail;
    }
    if (type != NULL && strcmp(type, REGISTER) == 0) {
        reg = true;
    } else if (type != NULL && strcmp(type, DEREGISTER) == 0) {
        reg = false;
    } else {
        unsupported(type, &e);
        goto fail;
    }
    if (!r.ephemeral) {
        /* A persistent instance is not the connection's: ip:port#false
         * through Raft, as PersistentInstanceRequest. */
        if (reg && lc_check_instance_legal(r.metadata, r.cluster, &e) != 0) {
            goto fail;
        }
        persistent_write(n, req, &r, reg);
        free(r.metadata);
        return;
    }
    if (reg) {
        if (lc_check_instance_legal(r.metadata, r.cluster, &e) != 0 ||
            lc_op_conn_register(n, conn_id, &r, &e) != 0) {
            goto fail;
        }
    } else {
        struct lc_service_key key = {r.ns, r.group, r.service};
        lc_op_conn_deregister(n, conn_id, &key);
    }
    reply_type(req, "InstanceResponse", type);
    free(r.metadata);
    return;
fail:
    lc_ng_fail(req, "InstanceResponse", &e);
    free(r.metadata);
}

void lc_ng_on_persistent_instance(struct lc_rpc_req *req, void *data)
{
    struct lc_naming_grpc *g = data;
    json_t *body = lc_rpc_req_body(req);
    const char *type = lc_ng_str(body, "type");
    struct lc_instance_req r;
    struct lc_err e;
    bool reg;

    if (decode(g->n, body, &r, &e) != 0) {
        goto fail;
    }
    if (type != NULL && strcmp(type, REGISTER) == 0) {
        reg = true;
    } else if (type != NULL && strcmp(type, DEREGISTER) == 0) {
        reg = false;
    } else {
        unsupported(type, &e);
        goto fail;
    }
    r.ephemeral = false; /* whatever the instance says */
    if (reg && lc_check_instance_legal(r.metadata, r.cluster, &e) != 0) {
        goto fail;
    }
    persistent_write(g->n, req, &r, reg);
    free(r.metadata);
    return;
fail:
    lc_ng_fail(req, "InstanceResponse", &e);
    free(r.metadata);
}

void lc_ng_on_batch_instance(struct lc_rpc_req *req, void *data)
{
    struct lc_naming_grpc *g = data;
    struct lc_naming *n = g->n;
    json_t *body = lc_rpc_req_body(req);
    json_t *list = json_object_get(body, "instances");
    const char *type = lc_ng_str(body, "type");
    size_t count = json_array_size(list);
    struct lc_instance_req svc;
    struct lc_instance_req *rs = NULL;
    size_t decoded = 0;
    struct lc_err e;

    svc.metadata = NULL;
    if (lc_op_ready(n, &e) != 0 || lc_ng_check_service(body, NULL, &e) != 0) {
        goto fail;
    }
    if (count > 0) {
        rs = calloc(count, sizeof *rs);
        if (rs == NULL) {
            lc_err_set(&e, LC_ENOMEM, "out of memory");
            goto fail;
        }
    }
    /* BatchInstanceRequestParamExtractor checks every instance. */
    for (; decoded < count; decoded++) {
        struct lc_instance_req *r = &rs[decoded];
        if (lc_ng_instance(json_array_get(list, decoded), r, &e) != 0) {
            decoded++; /* its metadata may be set */
            goto fail;
        }
    }
    if (lc_ng_service(body, &svc, &e) != 0) {
        goto fail;
    }
    if (type == NULL || strcmp(type, BATCH_REGISTER) != 0) {
        unsupported(type, &e);
        goto fail;
    }
    for (size_t i = 0; i < count; i++) {
        memcpy(rs[i].ns, svc.ns, sizeof svc.ns);
        memcpy(rs[i].grouped, svc.grouped, sizeof svc.grouped);
        memcpy(rs[i].group, svc.group, sizeof svc.group);
        memcpy(rs[i].service, svc.service, sizeof svc.service);
        lc_ng_instance_id(&rs[i]);
    }
    if (lc_op_conn_batch_register(n, lc_rpc_conn_id(lc_rpc_req_conn(req)), rs,
                                  count, &e) != 0) {
        goto fail;
    }
    reply_type(req, "BatchInstanceResponse", BATCH_REGISTER);
    goto out;
fail:
    lc_ng_fail(req, "BatchInstanceResponse", &e);
out:
    for (size_t i = 0; i < decoded; i++) {
        free(rs[i].metadata);
    }
    free(rs);
}
