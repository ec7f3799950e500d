/* PUT /nacos/v1/ns/health[/instance] (and /v2/ns/health/instance) and
 * /nacos/v1/ns/instance/statuses, as Nacos 2.4.3's HealthController.update
 * and InstanceController.listWithHealthStatus bind them; the operations are
 * naming/ops/health.c's.
 */
#include <stdlib.h>
#include <string.h>

#include "common/java.h"
#include "common/util.h"
#include "naming/http/handlers.h"

static void on_update(struct lc_naming *n, struct lc_http_exchange *ex)
{
    struct lc_instance_req r;
    char grouped[1300];
    char healthy_text[64];
    char port_text[64];
    char err[256];
    struct lc_ns_write *w;
    struct lc_err e;

    lc_ns_req_init(&r);
    if (lc_ns_filters(n, ex, grouped, sizeof grouped, false, &e) != 0) {
        goto fail;
    }
    if (lc_optional(ex, "healthy", healthy_text, sizeof healthy_text) == NULL &&
        lc_optional(ex, "valid", healthy_text, sizeof healthy_text) == NULL) {
        lc_err_missing(&e, "healthy", false);
        goto fail;
    }
    if (grouped[0] == '\0') {
        lc_err_missing(&e, "serviceName", false);
        goto fail;
    }
    if (lc_optional(ex, "namespaceId", r.ns, sizeof r.ns) == NULL) {
        lc_strlcpy(r.ns, LC_DEFAULT_NAMESPACE, sizeof r.ns);
    }
    if (lc_optional(ex, "clusterName", r.cluster, sizeof r.cluster) == NULL) {
        lc_strlcpy(r.cluster, LC_DEFAULT_CLUSTER, sizeof r.cluster);
    }
    if (lc_required(ex, "ip", r.ip, sizeof r.ip, &e) == NULL ||
        lc_required(ex, "port", port_text, sizeof port_text, &e) == NULL) {
        goto fail;
    }
    if (!lc_java_parse_int(port_text, &r.port, err, sizeof err)) {
        lc_err_set(&e, LC_EINVAL, "%s", err);
        goto fail;
    }
    /* The filter made the name grouped; a malformed one cannot get here. */
    if (lc_op_instance_names(&r, grouped, &e) != 0) {
        goto fail;
    }
    w = lc_ns_write_new(ex, &e);
    if (w == NULL) {
        goto fail;
    }
    lc_ns_write_started(w,
                        lc_op_set_health(n, &r,
                                         lc_java_to_boolean(healthy_text),
                                         &w->op, lc_ns_write_done, &e),
                        &e);
    return;
fail:
    lc_naming_fail(ex, &e);
}

void lc_ns_on_health(struct lc_http_exchange *ex, void *data)
{
    if (lc_http_method(ex) != LC_HTTP_PUT) {
        lc_naming_no_such_api(ex);
        return;
    }
    on_update(data, ex);
}

void lc_ns_on_statuses(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    const char *key = lc_http_param(ex, "key");
    char grouped[1300];
    json_t *o;
    struct lc_err e;

    if (lc_ns_filters(n, ex, grouped, sizeof grouped, false, &e) != 0) {
        lc_naming_fail(ex, &e);
        return;
    }
    if (key == NULL) {
        lc_err_missing(&e, "key", true);
        lc_naming_fail(ex, &e);
        return;
    }
    if (lc_op_statuses(n, key, &o, &e) != 0) {
        lc_naming_fail(ex, &e);
        return;
    }
    lc_reply_json(ex, o);
}
