/* /nacos/v1/ns/service: create, delete, update, detail, list and names, as
 * Nacos 2.4.3's v1 ServiceController with ServiceOperatorV2Impl.
 *
 * Each request passes the readiness gate, ServiceNameFilter and
 * ParamCheckerFilter, then binds its parameters as the controller does
 * (Spring @RequestParam for create, delete, detail and names; WebUtils for
 * update and list), each failure answered with Nacos's status and message
 * before anything changes. Writes become CHANGE or DELETE entries on
 * naming_service_metadata and are answered once applied on this node.
 *
 * Deviation: Nacos creates a service with an empty group and name when
 * serviceName is blank; locus refuses it with the message Nacos gives when
 * deleting one (400 "Param 'serviceName' is illegal, serviceName is blank").
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "naming/http/filters.h"
#include "naming/http/handlers.h"
#include "naming/http/java_compat.h"
#include "naming/store/service_meta.h"

#define BLANK_NAME "Param 'serviceName' is illegal, serviceName is blank"

/* A service as the controller names it. */
struct svc_name {
    char grouped[1300]; /* as the filter left serviceName */
    char group[256];
    char name[1100];
    bool blank;
};

static bool blank(const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        if ((unsigned char)*s > ' ') {
            return false;
        }
    }
    return true;
}

/* Gate, ServiceNameFilter, ParamCheckerFilter; @s gets the grouped name. */
static bool filters(struct lc_naming *n, struct lc_http_exchange *ex,
                    struct svc_name *s)
{
    const char *group;
    size_t glen;
    const char *name;

    if (!lc_ns_gate(n, ex) ||
        !lc_filter_service_name(ex, s->grouped, sizeof s->grouped) ||
        !lc_filter_params(ex, s->grouped, false)) {
        return false;
    }
    /* NamingUtils.getGroupName / getServiceName: "" for a blank name. */
    s->blank = blank(s->grouped);
    s->group[0] = '\0';
    s->name[0] = '\0';
    if (!s->blank && lc_split_grouped(s->grouped, &group, &glen, &name) &&
        glen < sizeof s->group) {
        memcpy(s->group, group, glen);
        s->group[glen] = '\0';
        lc_strlcpy(s->name, name, sizeof s->name);
    }
    return true;
}

static struct lc_service *find(struct lc_naming *n, const char *ns,
                               const struct svc_name *s)
{
    struct lc_service_key key = {ns, s->group, s->name};
    return lc_registry_find_service(n->reg, &key);
}

/* ---------------------------------------------------------------- writes */

struct write_ctx {
    struct lc_sm_write w;
    struct lc_http_exchange *ex;
};

static void reply_write_error(struct lc_http_exchange *ex, int status)
{
    switch (status) {
        case LC_ENOTREADY:
            lc_naming_error(ex, LC_KIND_DOWN, 503,
                            "server is STARTINGnow, please try again later!");
            break;
        case LC_ESHUTDOWN:
            lc_naming_error(ex, LC_KIND_DOWN, 503,
                            "server is DOWNnow, please try again later!");
            break;
        default:
            /* NamingMetadataOperateService's NacosRuntimeException */
            lc_naming_error(ex, LC_KIND_TEXT, 500,
                            "errCode: 500, errMsg: do metadata operation "
                            "failed (%s) ",
                            lc_strerror(status));
    }
}

static void on_written(struct lc_sm_write *w, int status,
                       const struct lc_raft_result *result)
{
    struct write_ctx *c = w->data;
    if (status != 0) {
        reply_write_error(c->ex, status);
    } else if (result->status != 0) {
        lc_naming_error(c->ex, LC_KIND_TEXT, 500,
                        "errCode: 500, errMsg: do metadata operation failed "
                        "%s ",
                        result->message);
    } else {
        lc_naming_ok(c->ex);
    }
    free(c);
}

/* Pack @op and write it with @operation; the reply follows. */
static void submit(struct lc_naming *n, struct lc_http_exchange *ex,
                   const char *operation,
                   const Locus__Naming__ServiceMetaOp *op)
{
    size_t len = locus__naming__service_meta_op__get_packed_size(op);
    uint8_t *data = malloc(len > 0 ? len : 1);
    struct write_ctx *c = calloc(1, sizeof *c);
    char key[1400];
    int rv;

    if (data == NULL || c == NULL) {
        free(data);
        free(c);
        lc_naming_error(ex, LC_KIND_TEXT, 500, "out of memory");
        return;
    }
    locus__naming__service_meta_op__pack(op, data);
    snprintf(key, sizeof key, "%s##%s@@%s", op->namespace_, op->group_name,
             op->service_name);
    c->ex = ex;
    c->w.data = c;
    rv = lc_sm_write(n->service_meta_sm, &c->w, key, operation, data, len,
                     on_written);
    free(data);
    if (rv != 0) {
        free(c);
        reply_write_error(ex, rv);
    }
}

/* The parts of a ServiceMeta the API sets, with storage for its entries. */
struct meta_build {
    Locus__Naming__ServiceMeta m;
    json_t *metadata; /* canonical object the entries borrow from */
    Locus__Naming__MetaEntry *entries;
    Locus__Naming__MetaEntry **ptrs;
    char *selector_expression;
};

static void meta_build_free(struct meta_build *b)
{
    json_decref(b->metadata);
    free(b->entries);
    free(b->ptrs);
    free(b->selector_expression);
}

/* Selector (parseSelector) then metadata (UtilsAndCommons.parseMetadata)
 * into @b, as create orders them (update has checked its metadata before).
 * Replies and returns false on bad input. */
static bool meta_build(struct lc_http_exchange *ex, struct meta_build *b,
                       const char *metadata, const char *selector)
{
    char *canonical = NULL;
    char msg[600];
    const char *type;
    int status = 0;
    size_t i = 0;
    const char *k;
    json_t *v;

    memset(b, 0, sizeof *b);
    locus__naming__service_meta__init(&b->m);
    status = lc_selector_parse(selector, &type, &b->selector_expression, msg,
                               sizeof msg);
    if (status != 0) {
        lc_naming_error(ex, LC_KIND_TEXT, status, "%s", msg);
        return false;
    }
    if (lc_metadata_parse(blank(metadata) ? "" : metadata, &canonical) != 0) {
        free(b->selector_expression);
        lc_naming_error(ex, LC_KIND_TEXT, 400, "metadata format incorrect:%s",
                        metadata);
        return false;
    }
    b->metadata = json_loads(canonical, 0, NULL);
    free(canonical);
    b->entries = calloc(json_object_size(b->metadata) + 1,
                        sizeof *b->entries);
    b->ptrs = calloc(json_object_size(b->metadata) + 1, sizeof *b->ptrs);
    if (b->metadata == NULL || b->entries == NULL || b->ptrs == NULL) {
        meta_build_free(b);
        lc_naming_error(ex, LC_KIND_TEXT, 500, "out of memory");
        return false;
    }
    /* canonical text has sorted keys; jansson keeps insertion order */
    json_object_foreach(b->metadata, k, v)
    {
        locus__naming__meta_entry__init(&b->entries[i]);
        b->entries[i].key = (char *)k;
        b->entries[i].value = (char *)json_string_value(v);
        b->ptrs[i] = &b->entries[i];
        i++;
    }
    b->m.n_metadata = i;
    b->m.metadata = b->ptrs;
    b->m.selector_type = (char *)type;
    if (b->selector_expression != NULL) {
        b->m.selector_expression = b->selector_expression;
        b->m.has_selector_expression = true;
    }
    return true;
}

static void op_init(Locus__Naming__ServiceMetaOp *op, const char *ns,
                    struct svc_name *s)
{
    locus__naming__service_meta_op__init(op);
    op->namespace_ = (char *)ns;
    op->group_name = s->group;
    op->service_name = s->name;
}

static void on_create(struct lc_naming *n, struct lc_http_exchange *ex)
{
    struct svc_name s;
    const char *ns, *raw, *metadata, *selector;
    float threshold;
    struct meta_build b;
    Locus__Naming__ServiceMetaOp op;

    if (!filters(n, ex, &s) ||
        !lc_rp_string(ex, "namespaceId", false, LC_DEFAULT_NAMESPACE, &ns) ||
        !lc_rp_string(ex, "serviceName", true, NULL, &raw) ||
        !lc_rp_float(ex, "protectThreshold", 0.0f, &threshold) ||
        !lc_rp_string(ex, "metadata", false, "", &metadata) ||
        !lc_rp_string(ex, "selector", false, "", &selector) ||
        !meta_build(ex, &b, metadata, selector)) {
        return;
    }
    if (s.blank) {
        lc_naming_error(ex, LC_KIND_TEXT, 400, BLANK_NAME);
    } else if (find(n, ns, &s) != NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 400,
                        "specified service %s already exists!", s.grouped);
    } else {
        b.m.protect_threshold = threshold;
        b.m.ephemeral = false; /* a service made through the API persists */
        op_init(&op, ns, &s);
        op.metadata = &b.m;
        submit(n, ex, LC_SMETA_CHANGE, &op);
    }
    meta_build_free(&b);
}

static void on_remove(struct lc_naming *n, struct lc_http_exchange *ex)
{
    struct svc_name s;
    const char *ns, *raw;
    struct lc_service *svc;
    Locus__Naming__ServiceMetaOp op;

    if (!filters(n, ex, &s) ||
        !lc_rp_string(ex, "namespaceId", false, LC_DEFAULT_NAMESPACE, &ns) ||
        !lc_rp_string(ex, "serviceName", true, NULL, &raw)) {
        return;
    }
    svc = s.blank ? NULL : find(n, ns, &s);
    if (s.blank) {
        lc_naming_error(ex, LC_KIND_TEXT, 400, BLANK_NAME);
    } else if (svc == NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 400, "service %s not found!",
                        s.grouped);
    } else if (svc->n_publishers > 0) {
        lc_naming_error(ex, LC_KIND_TEXT, 400,
                        "Service %s is not empty, can't be delete. Please "
                        "unregister instance first",
                        s.grouped);
    } else {
        op_init(&op, ns, &s);
        submit(n, ex, LC_SMETA_DELETE, &op);
    }
}

/* WebUtils.optional: trimmed, NULL when blank (a malloc'd copy). */
static char *optional_dup(struct lc_http_exchange *ex, const char *name)
{
    const char *v = lc_http_param(ex, name);
    size_t a = 0, b;
    if (blank(v)) {
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
    struct svc_name s;
    char ns[256];
    char buf[1200];
    char threshold[256];
    char *metadata = NULL;
    char *selector = NULL;
    char *canonical = NULL;
    struct meta_build b;
    struct lc_service *svc;
    Locus__Naming__ServiceMetaOp op;

    if (!filters(n, ex, &s)) {
        return;
    }
    if (lc_optional(ex, "namespaceId", ns, sizeof ns) == NULL) {
        lc_strlcpy(ns, LC_DEFAULT_NAMESPACE, sizeof ns);
    }
    if (lc_required(ex, "serviceName", buf, sizeof buf) == NULL) {
        return;
    }
    metadata = optional_dup(ex, "metadata");
    selector = optional_dup(ex, "selector");
    /* metadata, then protectThreshold (required), then selector */
    if (lc_metadata_parse(metadata != NULL ? metadata : "", &canonical) !=
        0) {
        lc_naming_error(ex, LC_KIND_TEXT, 400, "metadata format incorrect:%s",
                        metadata);
        goto out;
    }
    if (lc_required(ex, "protectThreshold", threshold, sizeof threshold) ==
            NULL ||
        !meta_build(ex, &b, metadata, selector)) {
        goto out;
    }
    svc = s.blank ? NULL : find(n, ns, &s);
    if (s.blank) {
        lc_naming_error(ex, LC_KIND_TEXT, 400, BLANK_NAME);
    } else if (svc == NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 400, "service %s not found!",
                        s.grouped);
    } else {
        /* NumberUtils.toFloat: not a number is 0. */
        b.m.protect_threshold = lc_java_to_float(threshold, 0.0f);
        /* Nacos writes its default (ephemeral) here; what is stored then
         * matters only if no metadata exists yet, and then the service's
         * real kind is the right one to keep. */
        b.m.ephemeral = svc->ephemeral;
        op_init(&op, ns, &s);
        op.metadata = &b.m;
        submit(n, ex, LC_SMETA_CHANGE, &op);
    }
    meta_build_free(&b);
out:
    free(canonical);
    free(metadata);
    free(selector);
}

/* ----------------------------------------------------------------- reads */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The clusters with instances in @svc (ServiceStorage.getClusters), sorted;
 * a malloc'd array of borrowed names. */
struct clusters {
    const char **v;
    size_t n;
};

static void add_cluster(struct lc_instance *inst, void *data)
{
    struct clusters *c = data;
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->v[i], inst->cluster) == 0) {
            return;
        }
    }
    const char **v = realloc(c->v, (c->n + 1) * sizeof *v);
    if (v != NULL) {
        c->v = v;
        c->v[c->n++] = inst->cluster;
    }
}

static void service_clusters(struct lc_naming *n, const struct lc_service *svc,
                             struct clusters *c)
{
    c->v = NULL;
    c->n = 0;
    lc_registry_each_instance(n->reg, svc, add_cluster, c);
    if (c->n > 1) {
        qsort(c->v, c->n, sizeof *c->v, cmp_str);
    }
}

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
    struct svc_name s;
    const char *ns, *raw;
    struct lc_service *svc;
    struct lc_smeta *e;
    const Locus__Naming__ServiceMeta *m;
    struct clusters cl;
    json_t *o, *arr;

    if (!filters(n, ex, &s) ||
        !lc_rp_string(ex, "namespaceId", false, LC_DEFAULT_NAMESPACE, &ns) ||
        !lc_rp_string(ex, "serviceName", true, NULL, &raw)) {
        return;
    }
    svc = find(n, ns, &s);
    if (svc == NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 400,
                        "service not found, namespace: %s, serviceName: %s",
                        ns, s.grouped);
        return;
    }
    e = lc_service_meta_find(n, svc->key);
    m = e != NULL ? e->meta : NULL;
    o = json_object();
    json_object_set_new(o, "namespaceId", json_string(svc->ns));
    json_object_set_new(o, "groupName", json_string(svc->group));
    json_object_set_new(o, "name", json_string(svc->name));
    json_object_set_new(o, "protectThreshold",
                        lc_json_float(m != NULL ? m->protect_threshold : 0));
    json_object_set_new(o, "metadata",
                        m != NULL
                            ? lc_meta_entries_json(m->metadata, m->n_metadata)
                            : json_object());
    json_object_set_new(o, "selector", lc_selector_json(m));
    arr = json_array();
    service_clusters(n, svc, &cl);
    for (size_t i = 0; i < cl.n; i++) {
        const Locus__Naming__ClusterMeta *c = lc_cluster_meta(m, cl.v[i]);
        json_t *co = json_object();
        json_object_set_new(co, "name", json_string(cl.v[i]));
        json_object_set_new(co, "healthChecker", lc_health_checker_json(c));
        json_object_set_new(co, "metadata",
                            c != NULL ? lc_meta_entries_json(c->metadata,
                                                             c->n_metadata)
                                      : json_object());
        json_array_append_new(arr, co);
    }
    free(cl.v);
    json_object_set_new(o, "clusters", arr);
    lc_reply_json(ex, lc_v2(ex) ? detail_v2(svc, o) : o);
}

static void on_service(struct lc_http_exchange *ex, void *data)
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
            lc_ns_no_such_api(ex);
    }
}

/* Java's int arithmetic (wraps). */
static int jmul(int a, int b)
{
    return (int)(int32_t)((uint32_t)a * (uint32_t)b);
}

static void on_list(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    struct svc_name s;
    char buf[64];
    char ns[256];
    char group[256];
    int page_no, page_size, start, end;
    const char **names = NULL;
    size_t count = 0;
    struct lc_service *svc, *tmp;
    json_t *o, *doms;

    if (lc_http_method(ex) != LC_HTTP_GET) {
        lc_ns_no_such_api(ex);
        return;
    }
    if (!filters(n, ex, &s)) {
        return;
    }
    if (lc_v2(ex)) { /* v2: optional, pageNo 1, pageSize 20 */
        page_no = lc_optional(ex, "pageNo", buf, sizeof buf) != NULL
                      ? lc_java_to_int(buf, 0)
                      : 1;
        page_size = lc_optional(ex, "pageSize", buf, sizeof buf) != NULL
                        ? lc_java_to_int(buf, 0)
                        : 20;
    } else {
        if (lc_required(ex, "pageNo", buf, sizeof buf) == NULL) {
            return;
        }
        page_no = lc_java_to_int(buf, 0);
        if (lc_required(ex, "pageSize", buf, sizeof buf) == NULL) {
            return;
        }
        page_size = lc_java_to_int(buf, 0);
    }
    if (lc_optional(ex, "namespaceId", ns, sizeof ns) == NULL) {
        lc_strlcpy(ns, LC_DEFAULT_NAMESPACE, sizeof ns);
    }
    if (lc_optional(ex, "groupName", group, sizeof group) == NULL) {
        lc_strlcpy(group, LC_DEFAULT_GROUP, sizeof group);
    }
    names = malloc((HASH_COUNT(n->reg->services) + 1) * sizeof *names);
    if (names == NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 500, "out of memory");
        return;
    }
    HASH_ITER(hh, n->reg->services, svc, tmp)
    {
        if (strcmp(svc->ns, ns) == 0 && strcmp(svc->group, group) == 0) {
            names[count++] = svc->name;
        }
    }
    qsort(names, count, sizeof *names, cmp_str);
    /* ServiceUtil.pageServiceName */
    start = jmul(page_no - 1, page_size);
    if (start < 0) {
        start = 0;
    }
    doms = json_array();
    if ((size_t)start < count) {
        end = start + page_size;
        if (end > (int)count) {
            end = (int)count;
        }
        if (start > end) {
            free(names);
            json_decref(doms);
            lc_naming_error(ex, LC_KIND_TEXT, 400,
                            "fromIndex(%d) > toIndex(%d)", start, end);
            return;
        }
        for (int i = start; i < end; i++) {
            json_array_append_new(doms, json_string(names[i]));
        }
    }
    free(names);
    o = json_object();
    json_object_set_new(o, "count", json_integer((json_int_t)count));
    json_object_set_new(o, lc_v2(ex) ? "services" : "doms", doms);
    lc_reply_json(ex, o);
}

static void on_names(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    struct svc_name s;
    const char *ns, *expr;
    struct lc_jregex re;
    char *pattern;
    struct lc_service *svc, *tmp;
    json_t *map, *o;
    size_t total = 0;

    if (!filters(n, ex, &s) ||
        !lc_rp_string(ex, "namespaceId", false, "", &ns) ||
        !lc_rp_string(ex, "expr", false, "", &expr)) {
        return;
    }
    if (asprintf(&pattern, ".*%s.*", expr) < 0) {
        lc_naming_error(ex, LC_KIND_TEXT, 500, "out of memory");
        return;
    }
    if (!lc_jregex_compile(ex, &re, pattern)) {
        free(pattern);
        return;
    }
    free(pattern);
    map = json_object();
    if (!blank(ns)) {
        json_object_set_new(map, ns, json_array());
    }
    HASH_ITER(hh, n->reg->services, svc, tmp)
    {
        json_t *list;
        if (!blank(ns) && strcmp(svc->ns, ns) != 0) {
            continue;
        }
        list = json_object_get(map, svc->ns);
        if (list == NULL) {
            json_object_set_new(map, svc->ns, json_array());
            list = json_object_get(map, svc->ns);
        }
        if (lc_jregex_matches(&re, svc->grouped)) {
            json_array_append_new(list, json_string(svc->grouped));
            total++;
        }
    }
    lc_jregex_free(&re);
    o = json_object();
    json_object_set_new(o, "META-INF/services", map);
    json_object_set_new(o, "count", json_integer((json_int_t)total));
    lc_reply_json(ex, o);
}

int lc_naming_service_routes(struct lc_naming *n, struct lc_http_server *srv)
{
    if (lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v2/ns/service",
                             on_service, n) != 0 ||
        lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v2/ns/service/list",
                             on_list, n) != 0 ||
        lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v1/ns/service",
                             on_service, n) != 0 ||
        lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v1/ns/service/list",
                             on_list, n) != 0 ||
        lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v1/ns/service/names",
                             on_names, n) != 0) {
        return LC_ENOMEM;
    }
    return 0;
}
