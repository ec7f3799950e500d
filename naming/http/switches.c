/* /nacos/v1/ns/operator/switches (alias /ops/switches): read and change the
 * switch domain, as Nacos 2.4.3's OperatorController and SwitchManager.
 *
 * GET answers this node's applied domain. PUT ?entry=&value=[&debug=]
 * validates the value first (400 or 500 with Nacos's message, nothing
 * changes), then writes the update through Raft (group
 * naming_persistent_service) and answers "ok" once it is applied here;
 * debug=true changes only this node's copy, without Raft, as Nacos does.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "naming/http/filters.h"
#include "naming/http/handlers.h"

struct switch_write {
    struct lc_sm_write w;
    struct lc_http_exchange *ex;
};

/* Spring's conversion of an optional primitive boolean parameter. Return
 * false (after replying 500) for a value it cannot convert. */
static bool parse_debug(struct lc_http_exchange *ex, bool *debug)
{
    const char *v = lc_http_param(ex, "debug");
    static const char *const yes[] = {"true", "on", "yes", "1"};
    static const char *const no[] = {"false", "off", "no", "0", ""};
    *debug = false;
    if (v == NULL) {
        return true;
    }
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *debug = true;
            return true;
        }
    }
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        if (strcasecmp(v, no[i]) == 0) {
            return true;
        }
    }
    lc_naming_error(
        ex, LC_KIND_TEXT, 500,
        "caused: Failed to convert value of type 'java.lang.String' to "
        "required type 'boolean'; nested exception is "
        "java.lang.IllegalArgumentException: Invalid boolean value [%s];"
        "caused: Invalid boolean value [%s];",
        v, v);
    return false;
}

static void on_written(struct lc_sm_write *w, int status,
                       const struct lc_raft_result *result)
{
    struct switch_write *c = w->data;
    lc_ns_reply_written(c->ex, status, result);
    free(c);
}

static void on_update(struct lc_naming *n, struct lc_http_exchange *ex)
{
    struct lc_switches probe;
    struct switch_write *c;
    const char *entry;
    const char *value;
    char msg[512];
    bool debug;
    char *data;
    size_t len;
    int rv;

    if (!parse_debug(ex, &debug)) {
        return;
    }
    entry = lc_http_param(ex, "entry");
    value = lc_http_param(ex, "value");
    if (entry == NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 400, "Parameter 'entry' is missing");
        return;
    }
    if (value == NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 400, "Parameter 'value' is missing");
        return;
    }
    /* Validate on a copy: a bad value changes nothing anywhere. */
    if (lc_switches_copy(&probe, &n->sw) != 0) {
        lc_naming_error(ex, LC_KIND_TEXT, 500, "out of memory");
        return;
    }
    rv = lc_switches_update(debug ? &n->sw : &probe, entry, value, msg,
                            sizeof msg);
    lc_switches_clear(&probe);
    if (rv != 0) {
        lc_naming_error(ex, LC_KIND_TEXT, rv == LC_EINVAL ? 400 : 500, "%s",
                        msg);
        return;
    }
    if (debug) { /* SwitchManager.update(domain): this node only */
        lc_naming_ok(ex);
        return;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL || lc_switch_entry_encode(entry, value, &data, &len) != 0) {
        free(c);
        lc_naming_error(ex, LC_KIND_TEXT, 500, "out of memory");
        return;
    }
    c->ex = ex;
    c->w.data = c;
    rv = lc_sm_write(n->switch_sm, &c->w, LC_SWITCH_DOMAIN_KEY, "Write", data,
                     len, on_written);
    free(data);
    if (rv != 0) {
        free(c);
        lc_ns_reply_write_error(ex, rv);
    }
}

static void on_switches(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    unsigned method = lc_http_method(ex);
    json_t *doc;
    if (method != LC_HTTP_GET && method != LC_HTTP_PUT) {
        lc_naming_error(ex, LC_KIND_SPRING, 501, "no such api:%s:%s",
                        lc_http_method_name(ex), lc_http_path(ex));
        return;
    }
    if (!lc_ns_gate(n, ex)) {
        return;
    }
    if (method == LC_HTTP_PUT) {
        on_update(n, ex);
        return;
    }
    doc = lc_switches_json(&n->sw);
    if (doc == NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 500, "out of memory");
        return;
    }
    lc_reply_json(ex, doc);
}

int lc_naming_switch_routes(struct lc_naming *n, struct lc_http_server *srv)
{
    if (lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v1/ns/operator/switches",
                             on_switches, n) != 0 ||
        lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v1/ns/ops/switches",
                             on_switches, n) != 0 ||
        lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v2/ns/operator/switches",
                             on_switches, n) != 0) {
        return LC_ENOMEM;
    }
    return 0;
}
