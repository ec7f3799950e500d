/* Instance operations: register, deregister, update, patch, metadata
 * batches and detail, as Nacos 2.4.3's InstanceOperatorClientImpl over its
 * client operation services.
 *
 * Ephemeral instances (Nacos's default) go straight into the registry as
 * client "ip:port#true" (naming/ops/ephemeral.c); the beat checker keeps or
 * expires them. Persistent ones become InstanceStore entries on
 * naming_persistent_service_v2; weight/enabled/metadata changes become
 * overlays on naming_instance_metadata (InstanceMetadata). Both are
 * answered once applied on this node.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/java.h"
#include "common/util.h"
#include "naming/ops/entries.h"
#include "naming/ops/internal.h"

static struct lc_service *find_service(struct lc_naming *n,
                                       const struct lc_instance_req *r)
{
    struct lc_service_key key = {r->ns, r->group, r->service};
    return lc_registry_find_service(n->reg, &key);
}

static void persistent_client_id(char *out, size_t size, const char *ip,
                                 int port)
{
    snprintf(out, size, "%s:%d#false", ip, port);
}

/* The InstanceStore entry of @r with @op. */
static int write_instance(struct lc_naming *n, const struct lc_instance_req *r,
                          const char *entry_op, struct lc_op *op, lc_op_cb cb,
                          struct lc_err *e)
{
    char client_id[320];
    struct lc_instance_entry ie = {
        .ns = r->ns,
        .group = r->group,
        .service = r->service,
        .grouped = r->grouped,
        .client_id = client_id,
        .ip = r->ip,
        .port = r->port,
        .cluster = r->cluster,
        .weight = r->weight,
        .healthy = r->healthy,
        .enabled = r->enabled,
        .metadata = r->metadata != NULL ? r->metadata : "{}",
        .instance_id = r->instance_id,
    };
    struct lc_sm_write *w = lc_op_start(op, LC_OP_ERRORS_INSTANCE, cb);
    persistent_client_id(client_id, sizeof client_id, r->ip, r->port);
    return lc_op_submitted(
        op, lc_entry_write_instance(n, entry_op, &ie, w, lc_op_written_cb()),
        e);
}

int lc_op_register(struct lc_naming *n, const struct lc_instance_req *r,
                   struct lc_op *op, lc_op_cb cb, struct lc_err *e)
{
    struct lc_service_key key = {r->ns, r->group, r->service};
    struct lc_service *svc;

    op->pending = false;
    if (r->ephemeral) {
        return lc_ephemeral_register_req(n, &key, r, e);
    }
    svc = lc_registry_find_service(n->reg, &key);
    if (svc != NULL && svc->ephemeral) {
        return lc_err_set(e, LC_EINVAL,
                          "errCode: 400, errMsg: Current service %s is "
                          "ephemeral service, can't register persistent "
                          "instance. ",
                          svc->grouped);
    }
    return write_instance(n, r, LC_ENTRY_ADD, op, cb, e);
}

int lc_op_deregister(struct lc_naming *n, const struct lc_instance_req *r,
                     struct lc_op *op, lc_op_cb cb, struct lc_err *e)
{
    struct lc_instance_req copy;
    op->pending = false;
    if (r->ephemeral) {
        struct lc_service_key key = {r->ns, r->group, r->service};
        lc_ephemeral_deregister(n, &key, r->ip, r->port);
        return 0;
    }
    /* Always through Raft: a no-op delete is acknowledged like any write,
     * and a delete racing a register elsewhere cannot be lost. */
    copy = *r;
    lc_instance_id(copy.instance_id, sizeof copy.instance_id, r->ip, r->port,
                   r->cluster, r->grouped);
    return write_instance(n, &copy, LC_ENTRY_DELETE, op, cb, e);
}

/* Write @overlay of @okey (borrowed) as @op's one write. */
static int write_overlay(struct lc_naming *n, const char *okey,
                         const json_t *overlay, struct lc_op *op, lc_op_cb cb,
                         struct lc_err *e)
{
    struct lc_sm_write *w = lc_op_start(op, LC_OP_ERRORS_INSTANCE, cb);
    return lc_op_submitted(
        op, lc_entry_write_overlay(n, okey, overlay, w, lc_op_written_cb()),
        e);
}

int lc_op_update(struct lc_naming *n, const struct lc_instance_req *r,
                 struct lc_op *op, lc_op_cb cb, struct lc_err *e)
{
    struct lc_service *svc = find_service(n, r);
    char okey[2400];
    json_t *overlay;
    int rv;

    op->pending = false;
    if (svc == NULL) {
        return lc_err_set(e, LC_ESERVICE_NOTFOUND,
                          "service not found, namespace: %s, service: "
                          "Service{namespace='%s', group='%s', name='%s', "
                          "ephemeral=%s, revision=0}",
                          r->ns, r->ns, r->group, r->service,
                          r->ephemeral ? "true" : "false");
    }
    /* The overlay replaces weight, enabled and metadata of ip:port:cluster
     * (InstanceMetadata in naming_instance_metadata). */
    overlay = json_object();
    json_object_set_new(overlay, "enabled", json_boolean(r->enabled));
    json_object_set_new(overlay, "weight", json_real(r->weight));
    json_object_set_new(overlay, "extendData",
                        json_loads(r->metadata, 0, NULL));
    /* Who may expire it (naming/clean/instance_meta_clean.c). */
    json_object_set_new(overlay, "ephemeral", json_boolean(svc->ephemeral));
    lc_overlay_key(okey, sizeof okey, svc->key, r->ip, r->port, r->cluster);
    rv = write_overlay(n, okey, overlay, op, cb, e);
    json_decref(overlay);
    return rv;
}

/* ----------------------------------------------------------------- reads */

int lc_op_find_instance(struct lc_naming *n, const struct lc_instance_req *r,
                        struct lc_service **svc_out,
                        struct lc_instance **inst_out, struct lc_err *e)
{
    struct lc_service *svc = find_service(n, r);
    struct lc_publisher *p, *tmp;
    *svc_out = svc;
    if (svc == NULL || svc->n_publishers == 0) {
        return lc_err_set(e, LC_ENOTFOUND,
                          "no ips found for cluster %s in service %s",
                          r->cluster, r->grouped);
    }
    HASH_ITER(hh, svc->publishers, p, tmp)
    {
        struct lc_instance *inst =
            lc_registry_instance_of(n->reg, p->client_id, svc);
        if (inst != NULL && strcmp(inst->cluster, r->cluster) == 0 &&
            strcmp(inst->ip, r->ip) == 0 && inst->port == r->port) {
            *inst_out = inst;
            return 0;
        }
    }
    return lc_err_set(e, LC_ENOTFOUND, "no matched ip found!");
}

int lc_op_instance_detail(struct lc_naming *n, const struct lc_instance_req *r,
                          json_t **out, struct lc_err *e)
{
    struct lc_service *svc;
    struct lc_instance *inst;
    struct lc_view v;
    json_t *o;

    if (lc_op_find_instance(n, r, &svc, &inst, e) != 0) {
        return e->code;
    }
    o = json_object();
    lc_instance_view(n, svc, inst, &v);
    json_object_set_new(o, "service", json_string(r->grouped));
    json_object_set_new(o, "ip", json_string(inst->ip));
    json_object_set_new(o, "port", json_integer(inst->port));
    json_object_set_new(o, "clusterName", json_string(inst->cluster));
    json_object_set_new(o, "weight", json_real(v.weight));
    json_object_set_new(o, "healthy", json_boolean(v.healthy));
    json_object_set_new(o, "instanceId", json_string(inst->instance_id));
    json_object_set_new(o, "metadata", v.metadata);
    *out = o;
    return 0;
}

/* ------------------------------------------------------ overlay batches */

/* The overlay of @inst in @svc as it is now, or InstanceMetadata's
 * defaults (a new reference). */
static json_t *overlay_of(struct lc_naming *n, const struct lc_service *svc,
                          const struct lc_instance *inst, char *okey,
                          size_t size)
{
    size_t len;
    const void *raw;
    json_t *o = NULL;
    lc_overlay_key(okey, size, svc->key, inst->ip, inst->port, inst->cluster);
    raw = lc_kvstore_get(&n->instance_meta, okey, &len);
    if (raw != NULL) {
        o = json_loadb(raw, len, 0, NULL);
    }
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
        json_object_set_new(o, "enabled", json_true());
        json_object_set_new(o, "weight", json_real(1.0));
    }
    if (!json_is_object(json_object_get(o, "extendData"))) {
        json_object_set_new(o, "extendData", json_object());
    }
    /* Who may expire it (naming/clean/instance_meta_clean.c). */
    json_object_set_new(o, "ephemeral", json_boolean(inst->ephemeral));
    return o;
}

/* Several overlay writes answered together, through one struct lc_op. */
struct batch {
    struct lc_op *op;
    unsigned pending;
    struct lc_err failure; /* the first failure; code 0 when none */
    struct lc_sm_write w[];
};

static void batch_release(struct batch *b)
{
    struct lc_op *op = b->op;
    if (--b->pending > 0) {
        return;
    }
    op->pending = false;
    if (b->failure.code != 0) {
        json_decref(op->result);
        op->result = NULL;
        op->cb(op, &b->failure);
    } else {
        op->cb(op, NULL);
    }
    free(b);
}

static void on_batch_written(struct lc_sm_write *w, int status,
                             const struct lc_raft_result *result)
{
    struct batch *b = w->data;
    struct lc_err e;
    if (b->failure.code == 0 && status == 0 && result->status != 0) {
        /* A batch answers a refused overlay as a server error. */
        lc_err_set(&b->failure, LC_ESERVER, "%s", result->message);
    } else if (b->failure.code == 0 &&
               lc_op_write_result(LC_OP_ERRORS_INSTANCE, status, result,
                                  &e) != 0) {
        b->failure = e;
    }
    batch_release(b);
}

static struct batch *batch_new(struct lc_op *op, lc_op_cb cb, size_t count)
{
    struct batch *b = calloc(1, sizeof *b + count * sizeof b->w[0]);
    lc_op_start(op, LC_OP_ERRORS_INSTANCE, cb);
    if (b != NULL) {
        b->op = op;
        b->pending = 1; /* held by the submitter until all are sent */
    }
    return b;
}

/* Write @overlay (borrowed) as write @i of @b. */
static void batch_put(struct lc_naming *n, struct batch *b, size_t i,
                      const char *okey, const json_t *overlay)
{
    int rv;
    b->w[i].data = b;
    rv = lc_entry_write_overlay(n, okey, overlay, &b->w[i], on_batch_written);
    if (rv == 0) {
        b->pending++;
    } else if (b->failure.code == 0) {
        lc_op_submit_failed(LC_OP_ERRORS_INSTANCE, rv, &b->failure);
    }
}

/* The submitter lets go. When nothing was written (or every write came back
 * already) the operation completes now: the caller answers, @cb does not
 * fire. */
static int batch_done_submitting(struct batch *b, struct lc_err *e)
{
    struct lc_op *op = b->op;
    if (b->pending > 1) {
        b->pending--;
        op->pending = true;
        return 0;
    }
    op->pending = false;
    if (b->failure.code != 0) {
        *e = b->failure;
        json_decref(op->result);
        op->result = NULL;
        free(b);
        return e->code;
    }
    free(b);
    return 0;
}

int lc_op_patch(struct lc_naming *n, const struct lc_instance_req *r,
                json_t *metadata, bool has_weight, double weight,
                const char *enabled, struct lc_op *op, lc_op_cb cb,
                struct lc_err *e)
{
    char okey[2400];
    struct lc_service *svc;
    struct lc_instance *inst;
    json_t *overlay;
    struct batch *b;

    op->pending = false;
    if (lc_op_find_instance(n, r, &svc, &inst, e) != 0) {
        return e->code;
    }
    overlay = overlay_of(n, svc, inst, okey, sizeof okey);
    if (metadata != NULL) {
        /* mergeMetadata replaces extendData with the patch's map. */
        json_object_set(overlay, "extendData", metadata);
    }
    if (has_weight) {
        json_object_set_new(overlay, "weight", json_real(weight));
    }
    if (enabled != NULL) {
        json_object_set_new(overlay, "enabled",
                            json_boolean(lc_java_to_boolean(enabled)));
    }
    /* `healthy` is read by Nacos and then ignored by patchInstance. */
    b = batch_new(op, cb, 1);
    if (b == NULL) {
        json_decref(overlay);
        return lc_err_set(e, LC_ENOMEM, "out of memory");
    }
    batch_put(n, b, 0, okey, overlay);
    json_decref(overlay);
    return batch_done_submitting(b, e);
}

/* Does the `instances` list name @inst? An empty list names them all. */
static bool targeted(json_t *list, const struct lc_instance *inst)
{
    size_t k;
    json_t *t;
    if (json_array_size(list) == 0) {
        return true;
    }
    json_array_foreach(list, k, t)
    {
        const char *ip = json_string_value(json_object_get(t, "ip"));
        json_t *port = json_object_get(t, "port");
        if (ip != NULL && strcmp(ip, inst->ip) == 0 &&
            json_integer_value(port) == inst->port) {
            return true;
        }
    }
    return false;
}

struct batch_ctx {
    struct lc_naming *n;
    struct lc_service *svc;
    json_t *instances;
    json_t *meta;
    json_t *updated;
    bool remove;
    struct batch *b;
    size_t i;
};

static void batch_one(struct lc_instance *inst, void *data)
{
    struct batch_ctx *c = data;
    char okey[2400];
    char text[600];
    json_t *overlay;
    json_t *extend;
    const char *k;
    json_t *v;

    if (!targeted(c->instances, inst)) {
        return;
    }
    overlay = overlay_of(c->n, c->svc, inst, okey, sizeof okey);
    extend = json_object_get(overlay, "extendData");
    json_object_foreach(c->meta, k, v)
    {
        if (c->remove) {
            json_object_del(extend, k);
        } else {
            json_object_set(extend, k, v);
        }
    }
    snprintf(text, sizeof text, "%s:%d:unknown:%s:%s", inst->ip, inst->port,
             inst->cluster, inst->ephemeral ? "ephemeral" : "persist");
    json_array_append_new(c->updated, json_string(text));
    batch_put(c->n, c->b, c->i++, okey, overlay);
    json_decref(overlay);
}

int lc_op_metadata_batch(struct lc_naming *n, const struct lc_instance_req *r,
                         json_t *instances, json_t *metadata, bool remove,
                         struct lc_op *op, lc_op_cb cb, struct lc_err *e)
{
    struct batch_ctx c = {.n = n, .instances = instances, .meta = metadata,
                          .remove = remove};
    op->pending = false;
    c.svc = find_service(n, r);
    c.b = batch_new(op, cb, c.svc != NULL ? c.svc->n_publishers : 0);
    c.updated = json_array();
    if (c.b == NULL || c.updated == NULL) {
        free(c.b);
        json_decref(c.updated);
        return lc_err_set(e, LC_ENOMEM, "out of memory");
    }
    op->result = json_object();
    json_object_set_new(op->result, "updated", c.updated);
    if (c.svc != NULL) {
        lc_registry_each_instance(n->reg, c.svc, batch_one, &c);
    }
    return batch_done_submitting(c.b, e);
}
