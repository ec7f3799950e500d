/* /nacos/v1/ns/operator/switches (alias /ops/switches, and /v2): read and
 * change the switch domain, as Nacos 2.4.3's OperatorController binds it.
 * GET answers this node's applied domain; PUT ?entry=&value=[&debug=]
 * changes an entry (naming/ops/switches.c). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "naming/http/handlers.h"

/* Spring's conversion of an optional primitive boolean parameter;
 * LC_ESERVER for a value it cannot convert. */
static int parse_debug(struct lc_http_exchange *ex, bool *debug,
                       struct lc_err *e)
{
    const char *v = lc_http_param(ex, "debug");
    static const char *const yes[] = {"true", "on", "yes", "1"};
    static const char *const no[] = {"false", "off", "no", "0", ""};
    *debug = false;
    if (v == NULL) {
        return 0;
    }
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *debug = true;
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        if (strcasecmp(v, no[i]) == 0) {
            return 0;
        }
    }
    return lc_err_set(
        e, LC_ESERVER,
        "caused: Failed to convert value of type 'java.lang.String' to "
        "required type 'boolean'; nested exception is "
        "java.lang.IllegalArgumentException: Invalid boolean value [%s];"
        "caused: Invalid boolean value [%s];",
        v, v);
}

static void on_update(struct lc_naming *n, struct lc_http_exchange *ex)
{
    const char *entry = lc_http_param(ex, "entry");
    const char *value = lc_http_param(ex, "value");
    struct lc_ns_write *w;
    bool debug;
    struct lc_err e;

    if (parse_debug(ex, &debug, &e) != 0) {
        goto fail;
    }
    if (entry == NULL) {
        lc_err_missing(&e, "entry", true);
        goto fail;
    }
    if (value == NULL) {
        lc_err_missing(&e, "value", true);
        goto fail;
    }
    w = lc_ns_write_new(ex, &e);
    if (w == NULL) {
        goto fail;
    }
    lc_ns_write_started(w,
                        lc_op_switch_update(n, entry, value, debug, &w->op,
                                            lc_ns_write_done, &e),
                        &e);
    return;
fail:
    lc_naming_fail(ex, &e);
}

void lc_ns_on_switches(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    unsigned method = lc_http_method(ex);
    json_t *doc;
    struct lc_err e;

    if (method != LC_HTTP_GET && method != LC_HTTP_PUT) {
        lc_naming_no_such_api(ex);
        return;
    }
    if (lc_op_ready(n, &e) != 0) {
        lc_naming_fail(ex, &e);
        return;
    }
    if (method == LC_HTTP_PUT) {
        on_update(n, ex);
        return;
    }
    if (lc_op_switches(n, &doc, &e) != 0) {
        lc_naming_fail(ex, &e);
        return;
    }
    lc_reply_json(ex, doc);
}
