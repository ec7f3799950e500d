/* The naming HTTP API's one route table: every /nacos/v1/ns and
 * /nacos/v2/ns path with its handler. A path not listed under /v1/ns gets
 * Nacos's 501 "no such api", anything else Spring's 404. Every request's
 * parameters must be valid UTF-8 before any filter or handler sees them. */
#include <string.h>

#include "naming/http/handlers.h"
#include "naming/http/reply.h"
#include "naming/http/routes.h"
#include "naming/ops/check.h"

/* The methods DistroFilter forwards (§11.7: the @CanDistro handlers under
 * /v1/ns; on /v2 the annotation has no effect). */
#define INSTANCE_WRITES                                                        \
    (LC_HTTP_POST | LC_HTTP_DELETE | LC_HTTP_PUT | LC_HTTP_PATCH)

static const struct route {
    const char *path;
    lc_http_handler_cb handler;
    unsigned distro; /* methods that go through DistroFilter first */
} routes[] = {
    /* InstanceController, InstanceControllerV2 */
    {"/nacos/v1/ns/instance", lc_ns_on_instance, INSTANCE_WRITES},
    {"/nacos/v2/ns/instance", lc_ns_on_instance, 0},
    {"/nacos/v1/ns/instance/list", lc_ns_on_list, 0},
    {"/nacos/v2/ns/instance/list", lc_ns_on_list, 0},
    {"/nacos/v1/ns/instance/beat", lc_ns_on_beat, LC_HTTP_PUT},
    {"/nacos/v2/ns/instance/beat", lc_ns_on_beat, 0},
    {"/nacos/v1/ns/instance/metadata/batch", lc_ns_on_metadata_batch,
     LC_HTTP_PUT | LC_HTTP_DELETE},
    {"/nacos/v2/ns/instance/metadata/batch", lc_ns_on_metadata_batch, 0},
    {"/nacos/v1/ns/instance/statuses", lc_ns_on_statuses, 0},
    /* HealthController */
    {"/nacos/v1/ns/health", lc_ns_on_health, LC_HTTP_PUT},
    {"/nacos/v1/ns/health/instance", lc_ns_on_health, LC_HTTP_PUT},
    {"/nacos/v2/ns/health/instance", lc_ns_on_health, 0},
    /* ServiceController, ServiceControllerV2 */
    {"/nacos/v1/ns/service", lc_ns_on_service, 0},
    {"/nacos/v2/ns/service", lc_ns_on_service, 0},
    {"/nacos/v1/ns/service/list", lc_ns_on_service_list, 0},
    {"/nacos/v2/ns/service/list", lc_ns_on_service_list, 0},
    {"/nacos/v1/ns/service/names", lc_ns_on_service_names, 0},
    {"/nacos/v1/ns/service/subscribers", lc_ns_on_subscribers, 0},
    /* CatalogController */
    {"/nacos/v1/ns/catalog/services", lc_ns_on_catalog_services, 0},
    {"/nacos/v1/ns/catalog/service", lc_ns_on_catalog_service, 0},
    {"/nacos/v1/ns/catalog/instances", lc_ns_on_catalog_instances, 0},
    /* OperatorController (alias /ops), OperatorControllerV2 */
    {"/nacos/v1/ns/operator/switches", lc_ns_on_switches, 0},
    {"/nacos/v1/ns/ops/switches", lc_ns_on_switches, 0},
    {"/nacos/v2/ns/operator/switches", lc_ns_on_switches, 0},
    {"/nacos/v1/ns/operator/metrics", lc_ns_on_metrics, 0},
    {"/nacos/v1/ns/ops/metrics", lc_ns_on_metrics, 0},
    {"/nacos/v2/ns/operator/metrics", lc_ns_on_metrics, 0},
    {"/nacos/v1/ns/operator/distro/client", lc_ns_on_distro_client, 0},
    {"/nacos/v1/ns/ops/distro/client", lc_ns_on_distro_client, 0},
    {"/nacos/v1/ns/operator/log", lc_ns_on_log, 0},
    {"/nacos/v1/ns/ops/log", lc_ns_on_log, 0},
    {"/nacos/v1/ns/operator/push/state", lc_ns_on_push_state, 0},
    {"/nacos/v1/ns/ops/push/state", lc_ns_on_push_state, 0},
};

static void on_fallback(struct lc_http_exchange *ex, void *data)
{
    (void)data;
    if (strncmp(lc_http_path(ex), "/nacos/v1/ns/", 13) == 0) {
        lc_naming_no_such_api(ex);
    } else {
        lc_naming_failf(ex, LC_ENOHANDLER, "No message available");
    }
}

/* Refuse a request with a parameter whose name or decoded value is not
 * valid UTF-8 (Tomcat would have turned the bytes into U+FFFD; stored as
 * they are, the names would vanish from every JSON answer). Return true
 * when it answered @ex. */
static bool refused_encoding(struct lc_http_exchange *ex)
{
    const char *name;
    const char *value;

    for (size_t i = 0; lc_http_param_at(ex, i, &name, &value); i++) {
        if (!lc_check_utf8(name)) {
            lc_naming_failf(ex, LC_ECHECK,
                            "Param name is illegal, illegal characters "
                            "should not appear in the param.");
            return true;
        }
        if (!lc_check_utf8(value)) {
            lc_naming_failf(ex, LC_ECHECK,
                            "Param '%s' is illegal, illegal characters "
                            "should not appear in the param.",
                            name);
            return true;
        }
    }
    return false;
}

/* Every route: the encoding check, then DistroFilter for the methods it
 * applies to (it answers or forwards), or the handler here. The route is
 * found again by its path (the server routes by exact path). */
static void on_route(struct lc_http_exchange *ex, void *data)
{
    const char *path = lc_http_path(ex);

    if (refused_encoding(ex)) {
        return;
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(routes[i].path, path) == 0) {
            if (routes[i].distro == 0 ||
                !lc_filter_distro(data, ex, routes[i].distro)) {
                routes[i].handler(ex, data);
            }
            return;
        }
    }
    lc_naming_no_such_api(ex); /* not reached: only routed paths come */
}

int lc_naming_http_routes(struct lc_naming *n, struct lc_http_server *srv)
{
    lc_http_server_fallback(srv, on_fallback, n);
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (lc_http_server_route(srv, LC_HTTP_ANY, routes[i].path, on_route,
                                 n) != 0) {
            return LC_ENOMEM;
        }
    }
    return 0;
}
