/* Instance metadata overlays beyond PUT: PATCH /nacos/v1/ns/instance and
 * PUT/DELETE /nacos/v1/ns/instance/metadata/batch, as Nacos 2.4.3's
 * InstanceController.patch / batchUpdateInstanceMetadata /
 * batchDeleteInstanceMetadata bind them. The overlays themselves are the
 * operations' (lc_op_patch, lc_op_metadata_batch).
 */
#include <stdlib.h>
#include <string.h>

#include "common/java.h"
#include "common/util.h"
#include "naming/http/handlers.h"

/* An overlay write in flight. */
struct write {
    struct lc_op op;
    struct lc_http_exchange *ex;
};

static void answer(struct lc_http_exchange *ex, json_t *result)
{
    if (result != NULL) {
        lc_reply_json(ex, result);
    } else {
        lc_naming_ok(ex);
    }
}

static void on_written(struct lc_op *op, const struct lc_err *e)
{
    struct write *w = op->data;
    if (e != NULL) {
        lc_naming_fail(w->ex, e);
    } else {
        answer(w->ex, op->result);
    }
    free(w);
}

/* The operation returned @rv: answer now unless it is pending. */
static void after_start(struct write *w, int rv, const struct lc_err *e)
{
    if (rv != 0) {
        lc_naming_fail(w->ex, e);
        free(w);
    } else if (!w->op.pending) {
        answer(w->ex, w->op.result);
        free(w);
    }
}

static struct write *write_new(struct lc_http_exchange *ex)
{
    struct write *w = malloc(sizeof *w);
    if (w == NULL) {
        lc_naming_failf(ex, LC_ENOMEM, "out of memory");
        return NULL;
    }
    w->ex = ex;
    w->op.data = w;
    w->op.result = NULL;
    return w;
}

/* -------------------------------------------------------------- PATCH */

void lc_ns_on_patch(struct lc_naming *n, struct lc_http_exchange *ex)
{
    struct lc_instance_req r;
    char grouped[1300];
    char buf[1200];
    char err[1300];
    const char *v;
    const char *weight_text;
    json_t *meta = NULL;
    double weight = 0;
    struct write *w;
    struct lc_err e;
    int rv;

    lc_ns_req_init(&r);
    if (lc_ns_filters(n, ex, grouped, sizeof grouped, false, &e) != 0 ||
        lc_ns_parse_service(ex, &r, grouped, &e) != 0 ||
        lc_required(ex, "ip", r.ip, sizeof r.ip, &e) == NULL ||
        lc_required(ex, "port", buf, sizeof buf, &e) == NULL) {
        goto fail;
    }
    if (!lc_java_parse_int(buf, &r.port, err, sizeof err)) {
        lc_err_set(&e, LC_EINVAL, "%s", err);
        goto fail;
    }
    if (lc_optional(ex, "clusterName", r.cluster, sizeof r.cluster) == NULL &&
        lc_optional(ex, "cluster", r.cluster, sizeof r.cluster) == NULL) {
        lc_strlcpy(r.cluster, LC_DEFAULT_CLUSTER, sizeof r.cluster);
    }
    v = lc_optional(ex, "metadata", buf, sizeof buf);
    if (v != NULL) {
        if (lc_check_metadata(v, &r.metadata, &e) != 0) {
            goto fail;
        }
        meta = json_loads(r.metadata, 0, NULL);
    }
    weight_text = lc_optional(ex, "weight", buf, sizeof buf);
    if (weight_text != NULL &&
        !lc_java_parse_double(weight_text, &weight, err, sizeof err)) {
        lc_err_set(&e, LC_EINVAL, "%s", err);
        goto fail;
    }
    w = write_new(ex);
    if (w != NULL) {
        char enabled[64];
        const char *en = lc_optional(ex, "enabled", enabled, sizeof enabled);
        rv = lc_op_patch(n, &r, meta, weight_text != NULL, weight, en, &w->op,
                         on_written, &e);
        after_start(w, rv, &e);
    }
    goto out;
fail:
    lc_naming_fail(ex, &e);
out:
    json_decref(meta);
    free(r.metadata);
}

/* ----------------------------------------------------- metadata/batch */

void lc_ns_on_metadata_batch(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    struct lc_instance_req r;
    char grouped[1300];
    char buf[1200];
    json_t *instances = NULL;
    json_t *meta = NULL;
    unsigned method = lc_http_method(ex);
    const char *v;
    struct write *w;
    struct lc_err e;

    if (method != LC_HTTP_PUT && method != LC_HTTP_DELETE) {
        lc_naming_no_such_api(ex);
        return;
    }
    lc_ns_req_init(&r);
    if (lc_ns_filters(n, ex, grouped, sizeof grouped, false, &e) != 0 ||
        lc_ns_parse_service(ex, &r, grouped, &e) != 0) {
        goto fail;
    }
    /* A list that does not parse is ignored (all instances), as Nacos. */
    v = lc_http_param(ex, "instances");
    instances = v != NULL ? json_loads(v, 0, NULL) : NULL;
    if (!json_is_array(instances)) {
        json_decref(instances);
        instances = json_array();
    }
    if (lc_required(ex, "metadata", buf, sizeof buf, &e) == NULL ||
        lc_check_metadata(buf, &r.metadata, &e) != 0) {
        goto fail;
    }
    meta = json_loads(r.metadata, 0, NULL);
    w = write_new(ex);
    if (w != NULL) {
        int rv = lc_op_metadata_batch(n, &r, instances, meta,
                                      method == LC_HTTP_DELETE, &w->op,
                                      on_written, &e);
        after_start(w, rv, &e);
    }
    goto out;
fail:
    lc_naming_fail(ex, &e);
out:
    json_decref(meta);
    json_decref(instances);
    free(r.metadata);
}
