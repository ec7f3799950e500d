/* /nacos/v1/ns/service (and /v2/ns/service): create, delete, update,
 * detail, list and names, as Nacos 2.4.3's v1 ServiceController binds
 * them: the readiness gate, ServiceNameFilter and ParamCheckerFilter, then
 * Spring @RequestParam for create, delete, detail and names and WebUtils
 * for update and list. The operations are naming/ops/service.c's.
 */
#include <stdlib.h>
#include <string.h>

#include "common/java.h"
#include "common/util.h"
#include "naming/http/handlers.h"
#include "naming/http/params.h"

static void on_create(struct lc_naming *n, struct lc_http_exchange *ex)
{
    struct lc_service_name s;
    const char *ns, *raw, *metadata, *selector;
    float threshold;
    struct lc_ns_write *w;
    struct lc_err e;

    if (lc_ns_service_filters(n, ex, &s, &e) != 0 ||
        lc_rp_string(ex, "namespaceId", false, LC_DEFAULT_NAMESPACE, &ns,
                     &e) != 0 ||
        lc_rp_string(ex, "serviceName", true, NULL, &raw, &e) != 0 ||
        lc_rp_float(ex, "protectThreshold", 0.0f, &threshold, &e) != 0 ||
        lc_rp_string(ex, "metadata", false, "", &metadata, &e) != 0 ||
        lc_rp_string(ex, "selector", false, "", &selector, &e) != 0 ||
        (w = lc_ns_write_new(ex, &e)) == NULL) {
        lc_naming_fail(ex, &e);
        return;
    }
    lc_strlcpy(s.ns, ns, sizeof s.ns);
    lc_ns_write_started(w,
                lc_op_service_create(n, &s, threshold, metadata, selector,
                                     &w->op, lc_ns_write_done, &e),
                &e);
}

static void on_remove(struct lc_naming *n, struct lc_http_exchange *ex)
{
    struct lc_service_name s;
    const char *ns, *raw;
    struct lc_ns_write *w;
    struct lc_err e;

    if (lc_ns_service_filters(n, ex, &s, &e) != 0 ||
        lc_rp_string(ex, "namespaceId", false, LC_DEFAULT_NAMESPACE, &ns,
                     &e) != 0 ||
        lc_rp_string(ex, "serviceName", true, NULL, &raw, &e) != 0 ||
        (w = lc_ns_write_new(ex, &e)) == NULL) {
        lc_naming_fail(ex, &e);
        return;
    }
    lc_strlcpy(s.ns, ns, sizeof s.ns);
    lc_ns_write_started(w, lc_op_service_remove(n, &s, &w->op, lc_ns_write_done, &e), &e);
}

/* WebUtils.optional: trimmed, NULL when blank (a malloc'd copy). */
static char *optional_dup(struct lc_http_exchange *ex, const char *name)
{
    const char *v = lc_http_param(ex, name);
    size_t a = 0, b;
    if (lc_java_blank(v)) {
        return NULL;
    }
    while ((unsigned char)v[a] <= ' ') {
        a++;
    }
    b = strlen(v);
    while (b > a && (unsigned char)v[b - 1] <= ' ') {
        b--;
    }
    return strndup(v + a, b - a);
}

static void on_update(struct lc_naming *n, struct lc_http_exchange *ex)
{
    struct lc_service_name s;
    char buf[1200];
    char threshold[256];
    char *metadata = NULL;
    char *selector = NULL;
    char *canonical = NULL;
    struct lc_ns_write *w;
    struct lc_err e;

    if (lc_ns_service_filters(n, ex, &s, &e) != 0) {
        goto fail;
    }
    if (lc_optional(ex, "namespaceId", s.ns, sizeof s.ns) == NULL) {
        lc_strlcpy(s.ns, LC_DEFAULT_NAMESPACE, sizeof s.ns);
    }
    if (lc_required(ex, "serviceName", buf, sizeof buf, &e) == NULL) {
        goto fail;
    }
    metadata = optional_dup(ex, "metadata");
    selector = optional_dup(ex, "selector");
    /* metadata, then protectThreshold (required), then selector */
    if (lc_check_metadata(metadata != NULL ? metadata : "", &canonical,
                          &e) != 0 ||
        lc_required(ex, "protectThreshold", threshold, sizeof threshold,
                    &e) == NULL ||
        (w = lc_ns_write_new(ex, &e)) == NULL) {
        goto fail;
    }
    lc_ns_write_started(w,
                lc_op_service_update(n, &s, threshold, metadata, selector,
                                     &w->op, lc_ns_write_done, &e),
                &e);
    goto out;
fail:
    lc_naming_fail(ex, &e);
out:
    free(canonical);
    free(metadata);
    free(selector);
}

/* ----------------------------------------------------------------- reads */

/* The v1 detail @v1 (consumed) in v2's ServiceDetailInfo shape:
 * {namespace, serviceName, groupName, clusterMap, metadata,
 * protectThreshold, selector, ephemeral}. */
static json_t *detail_v2(const struct lc_service *svc, json_t *v1)
{
    json_t *o = json_object();
    json_t *map = json_object();
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(v1, "clusters"), i, c)
    {
        json_t *info = json_object();
        json_object_set(info, "clusterName", json_object_get(c, "name"));
        json_object_set(info, "healthChecker",
                        json_object_get(c, "healthChecker"));
        json_object_set(info, "metadata", json_object_get(c, "metadata"));
        json_object_set_new(map, json_string_value(json_object_get(c, "name")),
                            info);
    }
    json_object_set_new(o, "namespace", json_string(svc->ns));
    json_object_set_new(o, "serviceName", json_string(svc->name));
    json_object_set_new(o, "groupName", json_string(svc->group));
    json_object_set_new(o, "clusterMap", map);
    json_object_set(o, "metadata", json_object_get(v1, "metadata"));
    json_object_set(o, "protectThreshold",
                    json_object_get(v1, "protectThreshold"));
    json_object_set(o, "selector", json_object_get(v1, "selector"));
    json_object_set_new(o, "ephemeral", json_boolean(svc->ephemeral));
    json_decref(v1);
    return o;
}

static void on_detail(struct lc_naming *n, struct lc_http_exchange *ex)
{
    struct lc_service_name s;
    const char *ns, *raw;
    const struct lc_service *svc;
    json_t *o;
    struct lc_err e;

    if (lc_ns_service_filters(n, ex, &s, &e) != 0 ||
        lc_rp_string(ex, "namespaceId", false, LC_DEFAULT_NAMESPACE, &ns,
                     &e) != 0 ||
        lc_rp_string(ex, "serviceName", true, NULL, &raw, &e) != 0) {
        lc_naming_fail(ex, &e);
        return;
    }
    lc_strlcpy(s.ns, ns, sizeof s.ns);
    if (lc_op_service_detail(n, &s, &svc, &o, &e) != 0) {
        lc_naming_fail(ex, &e);
        return;
    }
    lc_reply_json(ex, lc_v2(ex) ? detail_v2(svc, o) : o);
}

void lc_ns_on_service(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    switch (lc_http_method(ex)) {
        case LC_HTTP_POST:
            on_create(n, ex);
            break;
        case LC_HTTP_DELETE:
            on_remove(n, ex);
            break;
        case LC_HTTP_PUT:
            on_update(n, ex);
            break;
        case LC_HTTP_GET:
            on_detail(n, ex);
            break;
        default:
            lc_naming_no_such_api(ex);
    }
}

void lc_ns_on_service_list(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    struct lc_service_name s;
    char buf[64];
    char group[256];
    int page_no, page_size;
    size_t count;
    json_t *o, *doms;
    struct lc_err e;

    if (lc_http_method(ex) != LC_HTTP_GET) {
        lc_naming_no_such_api(ex);
        return;
    }
    if (lc_ns_service_filters(n, ex, &s, &e) != 0) {
        goto fail;
    }
    if (lc_v2(ex)) { /* v2: optional, pageNo 1, pageSize 20 */
        page_no = lc_optional(ex, "pageNo", buf, sizeof buf) != NULL
                      ? lc_java_to_int(buf, 0)
                      : 1;
        page_size = lc_optional(ex, "pageSize", buf, sizeof buf) != NULL
                        ? lc_java_to_int(buf, 0)
                        : 20;
    } else {
        if (lc_required(ex, "pageNo", buf, sizeof buf, &e) == NULL) {
            goto fail;
        }
        page_no = lc_java_to_int(buf, 0);
        if (lc_required(ex, "pageSize", buf, sizeof buf, &e) == NULL) {
            goto fail;
        }
        page_size = lc_java_to_int(buf, 0);
    }
    if (lc_optional(ex, "namespaceId", s.ns, sizeof s.ns) == NULL) {
        lc_strlcpy(s.ns, LC_DEFAULT_NAMESPACE, sizeof s.ns);
    }
    if (lc_optional(ex, "groupName", group, sizeof group) == NULL) {
        lc_strlcpy(group, LC_DEFAULT_GROUP, sizeof group);
    }
    if (lc_op_service_list(n, s.ns, group, page_no, page_size, &doms, &count,
                           &e) != 0) {
        goto fail;
    }
    o = json_object();
    json_object_set_new(o, "count", json_integer((json_int_t)count));
    json_object_set_new(o, lc_v2(ex) ? "services" : "doms", doms);
    lc_reply_json(ex, o);
    return;
fail:
    lc_naming_fail(ex, &e);
}

void lc_ns_on_service_names(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    struct lc_service_name s;
    const char *ns, *expr;
    json_t *o;
    struct lc_err e;

    if (lc_ns_service_filters(n, ex, &s, &e) != 0 ||
        lc_rp_string(ex, "namespaceId", false, "", &ns, &e) != 0 ||
        lc_rp_string(ex, "expr", false, "", &expr, &e) != 0 ||
        lc_op_service_names(n, ns, expr, &o, &e) != 0) {
        lc_naming_fail(ex, &e);
        return;
    }
    lc_reply_json(ex, o);
}
