/* /nacos/v1/ns/instance and /instance/list (and their /v2 twins):
 * register, deregister, update, detail and list, as Nacos 2.4.3's v1
 * InstanceController binds them.
 *
 * Every request goes through Nacos's order of checks: the readiness gate,
 * ServiceNameFilter, ParamCheckerFilter, then the controller's own
 * parameters, each failing with Nacos's status and message and changing
 * nothing. What to do with a request is the operation's (naming/ops/).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/java.h"
#include "common/util.h"
#include "naming/http/handlers.h"

int lc_ns_filters(struct lc_naming *n, struct lc_http_exchange *ex,
                  char *grouped, size_t gsize, bool list, struct lc_err *e)
{
    if (lc_op_ready(n, e) != 0 ||
        lc_filter_service_name(ex, grouped, gsize, e) != 0 ||
        lc_filter_params(ex, grouped, list, e) != 0) {
        return e->code;
    }
    return 0;
}

int lc_ns_service_filters(struct lc_naming *n, struct lc_http_exchange *ex,
                          struct lc_service_name *s, struct lc_err *e)
{
    char grouped[1300];
    if (lc_ns_filters(n, ex, grouped, sizeof grouped, false, e) != 0) {
        return e->code;
    }
    lc_op_service_name(s, grouped);
    return 0;
}

void lc_ns_req_init(struct lc_instance_req *r)
{
    r->metadata = NULL;
}

int lc_ns_parse_service(struct lc_http_exchange *ex, struct lc_instance_req *r,
                        const char *grouped, struct lc_err *e)
{
    char name[1300];
    if (lc_optional(ex, "namespaceId", r->ns, sizeof r->ns) == NULL) {
        lc_strlcpy(r->ns, LC_DEFAULT_NAMESPACE, sizeof r->ns);
    }
    if (grouped[0] == '\0') {
        return lc_err_missing(e, "serviceName", false);
    }
    /* WebUtils.required trims the (already grouped) name. */
    lc_java_trim(grouped, name, sizeof name);
    if (lc_check_service_name(name, e) != 0) {
        return e->code;
    }
    return lc_op_instance_names(r, name, e);
}

int lc_ns_parse_instance(struct lc_http_exchange *ex, struct lc_instance_req *r,
                         struct lc_err *e)
{
    char buf[1200];
    char err[1300];
    const char *v;

    if (lc_required(ex, "serviceName", buf, sizeof buf, e) == NULL ||
        lc_required(ex, "ip", r->ip, sizeof r->ip, e) == NULL ||
        lc_required(ex, "port", buf, sizeof buf, e) == NULL) {
        return e->code;
    }
    if (!lc_java_parse_int(buf, &r->port, err, sizeof err)) {
        return lc_err_set(e, LC_EINVAL, "%s", err);
    }
    v = lc_optional(ex, "healthy", buf, sizeof buf);
    r->healthy = v == NULL || lc_java_to_boolean(v);
    v = lc_optional(ex, "ephemeral", buf, sizeof buf);
    r->ephemeral = v == NULL || lc_java_to_boolean(v);
    r->weight = 1.0;
    v = lc_optional(ex, "weight", buf, sizeof buf);
    if (v != NULL && !lc_java_parse_double(v, &r->weight, err, sizeof err)) {
        return lc_err_set(e, LC_EINVAL, "%s", err);
    }
    if (lc_check_weight(r->weight, e) != 0) {
        return e->code;
    }
    if (lc_optional(ex, "clusterName", r->cluster, sizeof r->cluster) ==
            NULL &&
        lc_optional(ex, "cluster", r->cluster, sizeof r->cluster) == NULL) {
        lc_strlcpy(r->cluster, LC_DEFAULT_CLUSTER, sizeof r->cluster);
    }
    v = lc_optional(ex, "enabled", buf, sizeof buf);
    if (v == NULL) {
        v = lc_optional(ex, "enable", buf, sizeof buf);
    }
    r->enabled = v == NULL || lc_java_to_boolean(v);
    v = lc_optional(ex, "metadata", buf, sizeof buf);
    if (lc_check_metadata(v, &r->metadata, e) != 0 ||
        lc_check_id_generator(r->metadata, e) != 0) {
        return e->code;
    }
    lc_instance_id(r->instance_id, sizeof r->instance_id, r->ip, r->port,
                   r->cluster, r->grouped);
    return 0;
}

/* ---------------------------------------------------------------- writes */

struct lc_ns_write *lc_ns_write_new(struct lc_http_exchange *ex,
                                    struct lc_err *e)
{
    struct lc_ns_write *w = malloc(sizeof *w);
    if (w == NULL) {
        lc_err_set(e, LC_ENOMEM, "out of memory");
        return NULL;
    }
    w->ex = ex;
    w->op.data = w;
    w->op.result = NULL;
    return w;
}

static void answer_result(struct lc_http_exchange *ex, json_t *result)
{
    if (result != NULL) {
        lc_reply_json(ex, result);
    } else {
        lc_naming_ok(ex);
    }
}

void lc_ns_write_done(struct lc_op *op, const struct lc_err *e)
{
    struct lc_ns_write *w = op->data;
    if (e != NULL) {
        lc_naming_fail(w->ex, e);
    } else {
        answer_result(w->ex, op->result);
    }
    free(w);
}

void lc_ns_write_started(struct lc_ns_write *w, int rv, const struct lc_err *e)
{
    if (rv != 0) {
        lc_naming_fail(w->ex, e);
        free(w);
    } else if (!w->op.pending) {
        answer_result(w->ex, w->op.result);
        free(w);
    }
}

typedef int (*write_op_fn)(struct lc_naming *n, const struct lc_instance_req *r,
                           struct lc_op *op, lc_op_cb cb, struct lc_err *e);

/* Run @fn on @r and answer: now, or once it completes. Registering or
 * deregistering an ephemeral instance completes at once (ops.h), so that
 * op stays on the stack: no allocation on the path of every ephemeral
 * registration. (An update writes an overlay through Raft, ephemeral or
 * not.) */
static void run_write(struct lc_naming *n, struct lc_http_exchange *ex,
                      const struct lc_instance_req *r, write_op_fn fn)
{
    struct lc_err e;
    struct lc_ns_write *w;
    if (r->ephemeral && (fn == lc_op_register || fn == lc_op_deregister)) {
        struct lc_op op = {.data = NULL};
        if (fn(n, r, &op, lc_ns_write_done, &e) != 0) {
            lc_naming_fail(ex, &e);
        } else {
            assert(!op.pending);
            lc_naming_ok(ex);
        }
        return;
    }
    w = lc_ns_write_new(ex, &e);
    if (w == NULL) {
        lc_naming_fail(ex, &e);
        return;
    }
    lc_ns_write_started(w, fn(n, r, &w->op, lc_ns_write_done, &e), &e);
}

/* POST and PUT: the filters, the service, the instance and its legality,
 * then @fn. */
static void on_instance_write(struct lc_naming *n, struct lc_http_exchange *ex,
                              write_op_fn fn)
{
    struct lc_instance_req r;
    char grouped[1300];
    struct lc_err e;

    lc_ns_req_init(&r);
    if (lc_ns_filters(n, ex, grouped, sizeof grouped, false, &e) != 0 ||
        lc_ns_parse_service(ex, &r, grouped, &e) != 0 ||
        lc_ns_parse_instance(ex, &r, &e) != 0 ||
        lc_check_instance_legal(r.metadata, r.cluster, &e) != 0) {
        lc_naming_fail(ex, &e);
    } else {
        run_write(n, ex, &r, fn);
    }
    free(r.metadata);
}

static void on_deregister(struct lc_naming *n, struct lc_http_exchange *ex)
{
    struct lc_instance_req r;
    char grouped[1300];
    struct lc_err e;

    lc_ns_req_init(&r);
    /* DELETE builds the instance first, then checks the service. */
    if (lc_ns_filters(n, ex, grouped, sizeof grouped, false, &e) != 0 ||
        lc_ns_parse_instance(ex, &r, &e) != 0 ||
        lc_ns_parse_service(ex, &r, grouped, &e) != 0) {
        lc_naming_fail(ex, &e);
    } else {
        run_write(n, ex, &r, lc_op_deregister);
    }
    free(r.metadata);
}

/* ----------------------------------------------------------------- reads */

/* A read, answered now or after a barrier when consistent=true. */
struct read {
    struct lc_op op;
    struct lc_http_exchange *ex;
    struct lc_naming *n;
    void (*answer)(struct read *c);
    struct lc_instance_req r;
    char clusters[1200];
    bool healthy_only;
};

static void answer_detail(struct read *c)
{
    json_t *o;
    struct lc_err e;
    if (lc_op_instance_detail(c->n, &c->r, &o, &e) != 0) {
        lc_naming_fail(c->ex, &e);
        return;
    }
    if (lc_v2(c->ex)) { /* v2's InstanceDetailInfoVo says serviceName */
        json_t *v2 = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v)
        {
            json_object_set(v2, strcmp(k, "service") == 0 ? "serviceName" : k,
                            v);
        }
        json_decref(o);
        o = v2;
    }
    lc_reply_json(c->ex, o);
}

static void answer_list(struct read *c)
{
    struct lc_instance_req *r = &c->r;
    struct lc_service_key key = {r->ns, r->group, r->service};
    bool v2 = lc_v2(c->ex);
    size_t len;
    /* v2 wraps the same ServiceInfo in its envelope (Result.success). */
    char *text = lc_op_service_info_text(
        c->n, &key, c->clusters, c->healthy_only, LC_INFO_HTTP,
        v2 ? "{\"code\":0,\"message\":\"success\",\"data\":" : "",
        v2 ? "}" : "", &len);
    if (text == NULL) {
        lc_http_reply_text(c->ex, 500, "out of memory");
        return;
    }
    lc_http_reply_take(c->ex, 200, "application/json", text, len);
}

static void on_read_done(struct lc_op *op, const struct lc_err *e)
{
    struct read *c = op->data;
    if (e != NULL) {
        lc_naming_fail(c->ex, e);
    } else {
        c->answer(c);
    }
    free(c);
}

/* Answer now, or after a barrier when consistent=true. */
static void read_and_answer(struct read *c)
{
    struct lc_err e;
    if (!lc_java_to_boolean(lc_http_param(c->ex, "consistent"))) {
        c->answer(c);
        free(c);
        return;
    }
    c->op.data = c;
    if (lc_op_barrier(c->n, &c->op, on_read_done, &e) != 0) {
        lc_naming_fail(c->ex, &e);
        free(c);
    }
}

/* A read context without zeroing its ~6 KB of buffers (they are written
 * before they are read). */
static struct read *read_new(struct lc_naming *n, struct lc_http_exchange *ex,
                             void (*answer)(struct read *))
{
    struct read *c = malloc(sizeof *c);
    if (c == NULL) {
        lc_naming_failf(ex, LC_ENOMEM, "out of memory");
        return NULL;
    }
    c->ex = ex;
    c->n = n;
    c->answer = answer;
    lc_ns_req_init(&c->r);
    c->clusters[0] = '\0';
    c->healthy_only = false;
    return c;
}

static void on_detail(struct lc_naming *n, struct lc_http_exchange *ex)
{
    struct read *c = read_new(n, ex, answer_detail);
    char grouped[1300];
    char buf[1200];
    char err[1300];
    struct lc_err e;
    if (c == NULL) {
        return;
    }
    if (lc_ns_filters(n, ex, grouped, sizeof grouped, false, &e) != 0 ||
        lc_ns_parse_service(ex, &c->r, grouped, &e) != 0) {
        goto fail;
    }
    if (lc_optional(ex, "clusterName", c->r.cluster, sizeof c->r.cluster) ==
        NULL) {
        lc_strlcpy(c->r.cluster, LC_DEFAULT_CLUSTER, sizeof c->r.cluster);
    }
    if (lc_required(ex, "ip", c->r.ip, sizeof c->r.ip, &e) == NULL ||
        lc_required(ex, "port", buf, sizeof buf, &e) == NULL) {
        goto fail;
    }
    if (!lc_java_parse_int(buf, &c->r.port, err, sizeof err)) {
        lc_err_set(&e, LC_EINVAL, "%s", err);
        goto fail;
    }
    read_and_answer(c);
    return;
fail:
    lc_naming_fail(ex, &e);
    free(c);
}

void lc_ns_on_list(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    struct read *c;
    char grouped[1300];
    char buf[64];
    char err[128];
    int udp_port = 0;
    const char *v;
    struct lc_err e;

    if (lc_http_method(ex) != LC_HTTP_GET) {
        lc_naming_no_such_api(ex);
        return;
    }
    c = read_new(n, ex, answer_list);
    if (c == NULL) {
        return;
    }
    if (lc_ns_filters(n, ex, grouped, sizeof grouped, true, &e) != 0 ||
        lc_ns_parse_service(ex, &c->r, grouped, &e) != 0) {
        goto fail;
    }
    /* v2 names the cluster list clusterName. */
    if (lc_optional(ex, lc_v2(ex) ? "clusterName" : "clusters", c->clusters,
                    sizeof c->clusters) == NULL) {
        c->clusters[0] = '\0';
    }
    if (lc_v2(ex)) {
        /* InstanceControllerV2.list: Integer port, Boolean healthyOnly. */
        if (lc_v2_list_params(ex, &udp_port, &c->healthy_only, &e) != 0) {
            goto fail;
        }
    } else {
        v = lc_optional(ex, "udpPort", buf, sizeof buf);
        if (v != NULL && !lc_java_parse_int(v, &udp_port, err, sizeof err)) {
            lc_err_set(&e, LC_EINVAL, "%s", err);
            goto fail;
        }
        v = lc_optional(ex, "healthyOnly", buf, sizeof buf);
        c->healthy_only = v != NULL && strcasecmp(v, "true") == 0;
    }
    lc_naming_push_on_list(
        n, ex, &(struct lc_service_key){c->r.ns, c->r.group, c->r.service},
        c->clusters, udp_port);
    read_and_answer(c);
    return;
fail:
    lc_naming_fail(ex, &e);
    free(c);
}

void lc_ns_on_instance(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    switch (lc_http_method(ex)) {
        case LC_HTTP_POST:
            on_instance_write(n, ex, lc_op_register);
            break;
        case LC_HTTP_DELETE:
            on_deregister(n, ex);
            break;
        case LC_HTTP_PUT:
            on_instance_write(n, ex, lc_op_update);
            break;
        case LC_HTTP_GET:
            on_detail(n, ex);
            break;
        case LC_HTTP_PATCH:
            lc_ns_on_patch(n, ex);
            break;
        default:
            lc_naming_no_such_api(ex);
    }
}
