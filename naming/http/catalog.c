/* /nacos/v1/ns/catalog: the console's views of services and instances, as
 * Nacos 2.4.3's CatalogController binds them; the views are
 * naming/ops/catalog.c's.
 */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "naming/http/handlers.h"
#include "naming/http/params.h"

void lc_ns_on_catalog_services(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    struct lc_service_name s;
    bool with_instances, has_ip_count;
    const char *ns, *name_param, *group_param, *instance;
    int page_no, page_size;
    json_t *o;
    struct lc_err e;

    if (lc_http_method(ex) != LC_HTTP_GET) {
        lc_naming_no_such_api(ex);
        return;
    }
    if (lc_ns_service_filters(n, ex, &s, &e) != 0 ||
        lc_rp_bool(ex, "withInstances", &with_instances, &e) != 0 ||
        lc_rp_string(ex, "namespaceId", false, LC_DEFAULT_NAMESPACE, &ns,
                     &e) != 0 ||
        lc_rp_int(ex, "pageNo", false, &page_no, &e) != 0 ||
        lc_rp_int(ex, "pageSize", false, &page_size, &e) != 0 ||
        lc_rp_string(ex, "serviceNameParam", false, "", &name_param, &e) !=
            0 ||
        lc_rp_string(ex, "groupNameParam", false, "", &group_param, &e) != 0 ||
        lc_rp_string(ex, "instance", false, "", &instance, &e) != 0 ||
        lc_rp_bool(ex, "hasIpCount", &has_ip_count, &e) != 0 ||
        lc_op_catalog_services(n, ns, group_param, name_param, with_instances,
                               has_ip_count, page_no, page_size, &o,
                               &e) != 0) {
        lc_naming_fail(ex, &e);
        return;
    }
    lc_reply_json(ex, o);
}

void lc_ns_on_catalog_service(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    struct lc_service_name s;
    const char *ns;
    json_t *o;
    struct lc_err e;

    if (lc_http_method(ex) != LC_HTTP_GET) {
        lc_naming_no_such_api(ex);
        return;
    }
    if (lc_ns_service_filters(n, ex, &s, &e) != 0 ||
        lc_rp_string(ex, "namespaceId", false, LC_DEFAULT_NAMESPACE, &ns,
                     &e) != 0 ||
        lc_op_catalog_service(n, ns, s.group, s.name, &o, &e) != 0) {
        lc_naming_fail(ex, &e);
        return;
    }
    lc_reply_json(ex, o);
}

void lc_ns_on_catalog_instances(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    struct lc_service_name s;
    const char *ns, *raw, *cluster;
    int page_no, page_size;
    json_t *o;
    struct lc_err e;

    if (lc_ns_service_filters(n, ex, &s, &e) != 0 ||
        lc_rp_string(ex, "namespaceId", false, LC_DEFAULT_NAMESPACE, &ns,
                     &e) != 0 ||
        lc_rp_string(ex, "serviceName", true, NULL, &raw, &e) != 0 ||
        lc_rp_string(ex, "clusterName", true, NULL, &cluster, &e) != 0 ||
        lc_rp_int(ex, "pageNo", true, &page_no, &e) != 0 ||
        lc_rp_int(ex, "pageSize", true, &page_size, &e) != 0 ||
        lc_op_catalog_instances(n, ns, s.group, s.name, cluster, page_no,
                                page_size, &o, &e) != 0) {
        lc_naming_fail(ex, &e);
        return;
    }
    lc_reply_json(ex, o);
}
