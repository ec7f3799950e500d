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
    struct lc_ns_write *w;
    struct lc_err e;

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
    w = lc_ns_write_new(ex, &e);
    if (w == NULL) {
        goto fail;
    }
    {
        char enabled[64];
        const char *en = lc_optional(ex, "enabled", enabled, sizeof enabled);
        lc_ns_write_started(w,
                            lc_op_patch(n, &r, meta, weight_text != NULL,
                                        weight, en, &w->op, lc_ns_write_done,
                                        &e),
                            &e);
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
    struct lc_ns_write *w;
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
    w = lc_ns_write_new(ex, &e);
    if (w == NULL) {
        goto fail;
    }
    lc_ns_write_started(w,
                        lc_op_metadata_batch(n, &r, instances, meta,
                                             method == LC_HTTP_DELETE, &w->op,
                                             lc_ns_write_done, &e),
                        &e);
    goto out;
fail:
    lc_naming_fail(ex, &e);
out:
    json_decref(meta);
    json_decref(instances);
    free(r.metadata);
}
