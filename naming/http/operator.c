/* /nacos/v1/ns/operator (alias /ops, and /v2 metrics): metrics,
 * distro/client and log, as Nacos 2.4.3's OperatorController binds them;
 * the answers are naming/ops/operator.c's. Unlike the rest of /v1/ns,
 * metrics always answers, so clients and operators can ask while the node
 * starts.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "naming/http/handlers.h"

void lc_ns_on_metrics(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    const char *only = lc_http_param(ex, "onlyStatus");
    bool only_status = only == NULL ||
                       strspn(only, " \t\r\n") == strlen(only) ||
                       strcasecmp(only, "true") == 0;
    json_t *o;
    struct lc_err e;

    if (lc_http_method(ex) != LC_HTTP_GET) {
        lc_naming_no_such_api(ex);
        return;
    }
    if (lc_op_metrics(n, only_status, &o, &e) != 0) {
        lc_naming_fail(ex, &e);
        return;
    }
    lc_reply_json(ex, o);
}

/* Spring's @RequestParam String: present (even empty), else LC_EMISSING. */
static const char *required(struct lc_http_exchange *ex, const char *name,
                            struct lc_err *e)
{
    const char *v = lc_http_param(ex, name);
    if (v == NULL) {
        lc_err_missing(e, name, true);
    }
    return v;
}

/* GET /operator/distro/client?ip=&port=: OperatorController
 * .getResponsibleServer4Client, {"responsibleServer":"host:port"}. */
void lc_ns_on_distro_client(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    const char *ip;
    const char *port;
    json_t *o;
    struct lc_err e;

    if (lc_http_method(ex) != LC_HTTP_GET) {
        lc_naming_no_such_api(ex);
        return;
    }
    if ((ip = required(ex, "ip", &e)) == NULL ||
        (port = required(ex, "port", &e)) == NULL ||
        lc_op_distro_client(n, ip, port, &o, &e) != 0) {
        lc_naming_fail(ex, &e);
        return;
    }
    lc_reply_json(ex, o);
}

/* PUT /operator/log?logName=&logLevel=: OperatorController.setLogLevel. */
void lc_ns_on_log(struct lc_http_exchange *ex, void *data)
{
    const char *name;
    const char *level;
    struct lc_err e;
    (void)data;

    if (lc_http_method(ex) != LC_HTTP_PUT) {
        lc_naming_no_such_api(ex);
        return;
    }
    if ((name = required(ex, "logName", &e)) == NULL ||
        (level = required(ex, "logLevel", &e)) == NULL) {
        lc_naming_fail(ex, &e);
        return;
    }
    lc_op_set_log_level(name, level);
    lc_http_reply_text(ex, 200, "ok");
}
