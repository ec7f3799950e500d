/* The naming HTTP API's one route table: every /nacos/v1/ns and
 * /nacos/v2/ns path with its handler. A path not listed under /v1/ns gets
 * Nacos's 501 "no such api", anything else Spring's 404. */
#include <string.h>

#include "naming/http/handlers.h"
#include "naming/http/routes.h"

static const struct route {
    const char *path;
    lc_http_handler_cb handler;
} routes[] = {
    /* InstanceController, InstanceControllerV2 */
    {"/nacos/v1/ns/instance", lc_ns_on_instance},
    {"/nacos/v2/ns/instance", lc_ns_on_instance},
    {"/nacos/v1/ns/instance/list", lc_ns_on_list},
    {"/nacos/v2/ns/instance/list", lc_ns_on_list},
    {"/nacos/v1/ns/instance/beat", lc_ns_on_beat},
    {"/nacos/v2/ns/instance/beat", lc_ns_on_beat},
    {"/nacos/v1/ns/instance/metadata/batch", lc_ns_on_metadata_batch},
    {"/nacos/v2/ns/instance/metadata/batch", lc_ns_on_metadata_batch},
    {"/nacos/v1/ns/instance/statuses", lc_ns_on_statuses},
    /* HealthController */
    {"/nacos/v1/ns/health", lc_ns_on_health},
    {"/nacos/v1/ns/health/instance", lc_ns_on_health},
    {"/nacos/v2/ns/health/instance", lc_ns_on_health},
    /* ServiceController, ServiceControllerV2 */
    {"/nacos/v1/ns/service", lc_ns_on_service},
    {"/nacos/v2/ns/service", lc_ns_on_service},
    {"/nacos/v1/ns/service/list", lc_ns_on_service_list},
    {"/nacos/v2/ns/service/list", lc_ns_on_service_list},
    {"/nacos/v1/ns/service/names", lc_ns_on_service_names},
    {"/nacos/v1/ns/service/subscribers", lc_ns_on_subscribers},
    /* CatalogController */
    {"/nacos/v1/ns/catalog/services", lc_ns_on_catalog_services},
    {"/nacos/v1/ns/catalog/service", lc_ns_on_catalog_service},
    {"/nacos/v1/ns/catalog/instances", lc_ns_on_catalog_instances},
    /* OperatorController (alias /ops), OperatorControllerV2 */
    {"/nacos/v1/ns/operator/switches", lc_ns_on_switches},
    {"/nacos/v1/ns/ops/switches", lc_ns_on_switches},
    {"/nacos/v2/ns/operator/switches", lc_ns_on_switches},
    {"/nacos/v1/ns/operator/metrics", lc_ns_on_metrics},
    {"/nacos/v1/ns/ops/metrics", lc_ns_on_metrics},
    {"/nacos/v2/ns/operator/metrics", lc_ns_on_metrics},
    {"/nacos/v1/ns/operator/distro/client", lc_ns_on_distro_client},
    {"/nacos/v1/ns/ops/distro/client", lc_ns_on_distro_client},
    {"/nacos/v1/ns/operator/log", lc_ns_on_log},
    {"/nacos/v1/ns/ops/log", lc_ns_on_log},
    {"/nacos/v1/ns/operator/push/state", lc_ns_on_push_state},
    {"/nacos/v1/ns/ops/push/state", lc_ns_on_push_state},
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

int lc_naming_http_routes(struct lc_naming *n, struct lc_http_server *srv)
{
    lc_http_server_fallback(srv, on_fallback, n);
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (lc_http_server_route(srv, LC_HTTP_ANY, routes[i].path,
                                 routes[i].handler, n) != 0) {
            return LC_ENOMEM;
        }
    }
    return 0;
}
