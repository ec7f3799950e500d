/* /nacos/v1/ns/catalog: the console's views of services and instances, as
 * Nacos 2.4.3's CatalogController with CatalogServiceV2Impl.
 *
 * GET /catalog/services pages the services of a namespace (optionally
 * filtered by name patterns and by having instances), GET /catalog/service
 * shows one service with its clusters, /catalog/instances pages the
 * instances of one cluster. Nacos's orders are those of hash sets; locus
 * sorts (services by group@@name, instances by ip then port).
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "naming/http/filters.h"
#include "naming/http/handlers.h"
#include "naming/http/java_compat.h"
#include "naming/store/service_meta.h"

static bool blank(const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        if ((unsigned char)*s > ' ') {
            return false;
        }
    }
    return true;
}

/* Gate, ServiceNameFilter, ParamCheckerFilter; @grouped gets serviceName as
 * the filter leaves it, @group and @name its parts ("" when blank). */
static bool filters(struct lc_naming *n, struct lc_http_exchange *ex,
                    char *grouped, size_t gsize, char *group, size_t grsize,
                    char *name, size_t nsize)
{
    const char *g;
    size_t glen;
    const char *s;

    if (!lc_ns_parse_common(n, ex, grouped, gsize)) {
        return false;
    }
    group[0] = '\0';
    name[0] = '\0';
    if (!blank(grouped) && lc_split_grouped(grouped, &g, &glen, &s) &&
        glen < grsize) {
        memcpy(group, g, glen);
        group[glen] = '\0';
        lc_strlcpy(name, s, nsize);
    }
    return true;
}

/* ------------------------------------------------------------ instances */

struct insts {
    struct lc_instance **v;
    size_t n;
    size_t healthy;
};

static void collect(struct lc_instance *inst, void *data)
{
    struct insts *c = data;
    struct lc_instance **v = realloc(c->v, (c->n + 1) * sizeof *v);
    if (v != NULL) {
        c->v = v;
        c->v[c->n++] = inst;
        c->healthy += inst->healthy;
    }
}

static int cmp_inst(const void *a, const void *b)
{
    const struct lc_instance *x = *(struct lc_instance *const *)a;
    const struct lc_instance *y = *(struct lc_instance *const *)b;
    int c = strcmp(x->ip, y->ip);
    return c != 0 ? c : (x->port > y->port) - (x->port < y->port);
}

/* Every instance of @svc, sorted. */
static void instances_of(struct lc_naming *n, const struct lc_service *svc,
                         struct insts *c)
{
    memset(c, 0, sizeof *c);
    lc_registry_each_instance(n->reg, svc, collect, c);
    if (c->n > 1) {
        qsort(c->v, c->n, sizeof *c->v, cmp_inst);
    }
}

static size_t cluster_count(const struct insts *c)
{
    size_t count = 0;
    for (size_t i = 0; i < c->n; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++) {
            seen = strcmp(c->v[j]->cluster, c->v[i]->cluster) == 0;
        }
        count += !seen;
    }
    return count;
}

/* ------------------------------------------------------------- services */

static int cmp_svc(const void *a, const void *b)
{
    const struct lc_service *x = *(struct lc_service *const *)a;
    const struct lc_service *y = *(struct lc_service *const *)b;
    return strcmp(x->grouped, y->grouped);
}

/* Nacos's patternServices: the services of @ns whose group@@name matches
 * .*group.*@@.*name.* (a blank part is .*). Replies on a bad pattern. */
static bool pattern_services(struct lc_naming *n, struct lc_http_exchange *ex,
                             const char *ns, const char *group,
                             const char *name, struct lc_service ***out,
                             size_t *count)
{
    bool filter = !blank(group) || !blank(name);
    struct lc_jregex re;
    struct lc_service *svc, *tmp;
    struct lc_service **v;
    char *pattern = NULL;

    if (filter) {
        if (asprintf(&pattern, "%s%s%s@@%s%s%s", blank(group) ? "" : ".*",
                     blank(group) ? ".*" : group, blank(group) ? "" : ".*",
                     blank(name) ? "" : ".*", blank(name) ? ".*" : name,
                     blank(name) ? "" : ".*") < 0) {
            lc_naming_error(ex, LC_KIND_TEXT, 500, "out of memory");
            return false;
        }
        if (!lc_jregex_compile(ex, &re, pattern)) {
            free(pattern);
            return false;
        }
        free(pattern);
    }
    v = malloc((HASH_COUNT(n->reg->services) + 1) * sizeof *v);
    if (v == NULL) {
        if (filter) {
            lc_jregex_free(&re);
        }
        lc_naming_error(ex, LC_KIND_TEXT, 500, "out of memory");
        return false;
    }
    *count = 0;
    HASH_ITER(hh, n->reg->services, svc, tmp)
    {
        if (strcmp(svc->ns, ns) == 0 &&
            (!filter || lc_jregex_matches(&re, svc->grouped))) {
            v[(*count)++] = svc;
        }
    }
    if (filter) {
        lc_jregex_free(&re);
    }
    qsort(v, *count, sizeof *v, cmp_svc);
    *out = v;
    return true;
}

/* Nacos's doPage (pageNo already minus one): everything when there are
 * fewer services than a page, else skip pageNo*pageSize and take pageSize
 * (taking one when pageSize is 0 or less). Sets [*start, *end). */
static void do_page(size_t count, int page_no, int page_size, size_t *start,
                    size_t *end)
{
    long long skip;
    if ((long long)count < page_size) {
        *start = 0;
        *end = count;
        return;
    }
    skip = (long long)(int32_t)((uint32_t)page_no * (uint32_t)page_size);
    *start = skip <= 0 ? 0 : (size_t)skip < count ? (size_t)skip : count;
    *end = *start + (page_size > 1 ? (size_t)page_size : 1);
    if (*end > count) {
        *end = count;
    }
}

static json_t *service_view(struct lc_naming *n, struct lc_service *svc)
{
    struct lc_smeta *e = lc_service_meta_find(n, svc->key);
    float threshold = e != NULL ? e->meta->protect_threshold : 0.0f;
    struct insts c;
    json_t *o = json_object();
    instances_of(n, svc, &c);
    json_object_set_new(o, "name", json_string(svc->name));
    json_object_set_new(o, "groupName", json_string(svc->group));
    json_object_set_new(o, "clusterCount",
                        json_integer((json_int_t)cluster_count(&c)));
    json_object_set_new(o, "ipCount", json_integer((json_int_t)c.n));
    json_object_set_new(o, "healthyInstanceCount",
                        json_integer((json_int_t)c.healthy));
    /* healthy * 1.0 / ipCount <= threshold, in doubles (0/0 is NaN) */
    json_object_set_new(
        o, "triggerFlag",
        json_string((double)c.healthy / (double)c.n <= (double)threshold
                        ? "true"
                        : "false"));
    free(c.v);
    return o;
}

/* ServiceDetailInfo as Spring writes it (nulls included). */
static json_t *service_detail(struct lc_naming *n, struct lc_service *svc)
{
    struct lc_smeta *e = lc_service_meta_find(n, svc->key);
    struct insts c;
    json_t *o = json_object();
    json_t *map = json_object();
    instances_of(n, svc, &c);
    for (size_t i = 0; i < c.n; i++) {
        struct lc_view v;
        json_t *info = json_object_get(map, c.v[i]->cluster);
        json_t *h = json_object();
        if (info == NULL) {
            info = json_object();
            json_object_set_new(info, "clusterName", json_null());
            json_object_set_new(info, "healthChecker", json_null());
            json_object_set_new(info, "metadata", json_null());
            json_object_set_new(info, "hosts", json_array());
            json_object_set_new(map, c.v[i]->cluster, info);
        }
        lc_instance_view(n, svc, c.v[i], &v);
        json_object_set_new(h, "valid", json_boolean(v.healthy));
        json_object_set_new(h, "metadata", v.metadata);
        json_object_set_new(h, "port", json_integer(c.v[i]->port));
        json_object_set_new(h, "ip", json_string(c.v[i]->ip));
        json_object_set_new(h, "weight", json_real(v.weight));
        json_object_set_new(h, "enabled", json_boolean(v.enabled));
        json_array_append_new(json_object_get(info, "hosts"), h);
    }
    free(c.v);
    json_object_set_new(o, "namespace", json_null());
    json_object_set_new(o, "serviceName", json_string(svc->name));
    json_object_set_new(o, "groupName", json_string(svc->group));
    json_object_set_new(o, "clusterMap", map);
    json_object_set_new(o, "metadata",
                        e != NULL ? lc_meta_entries_json(e->meta->metadata,
                                                         e->meta->n_metadata)
                                  : json_object());
    json_object_set_new(o, "protectThreshold",
                        lc_json_float(e != NULL ? e->meta->protect_threshold
                                                : 0.0f));
    json_object_set_new(o, "selector", json_null());
    json_object_set_new(o, "ephemeral", json_null());
    return o;
}

static void on_services(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    char grouped[1300], group[256], name[1100];
    bool with_instances, has_ip_count;
    const char *ns, *name_param, *group_param, *instance;
    int page_no, page_size;
    struct lc_service **svcs = NULL;
    size_t count, start, end;
    json_t *list;

    if (lc_http_method(ex) != LC_HTTP_GET) {
        lc_ns_no_such_api(ex);
        return;
    }
    if (!filters(n, ex, grouped, sizeof grouped, group, sizeof group, name,
                 sizeof name) ||
        !lc_rp_bool(ex, "withInstances", &with_instances) ||
        !lc_rp_string(ex, "namespaceId", false, LC_DEFAULT_NAMESPACE, &ns) ||
        !lc_rp_int(ex, "pageNo", false, &page_no) ||
        !lc_rp_int(ex, "pageSize", false, &page_size) ||
        !lc_rp_string(ex, "serviceNameParam", false, "", &name_param) ||
        !lc_rp_string(ex, "groupNameParam", false, "", &group_param) ||
        !lc_rp_string(ex, "instance", false, "", &instance) ||
        !lc_rp_bool(ex, "hasIpCount", &has_ip_count) ||
        !pattern_services(n, ex, ns, group_param, name_param, &svcs,
                          &count)) {
        return;
    }
    list = json_array();
    if (with_instances) {
        do_page(count, page_no - 1, page_size, &start, &end);
        for (size_t i = start; i < end; i++) {
            json_array_append_new(list, service_detail(n, svcs[i]));
        }
        free(svcs);
        lc_reply_json(ex, list);
        return;
    }
    if (has_ip_count) {
        size_t kept = 0;
        for (size_t i = 0; i < count; i++) {
            if (svcs[i]->n_publishers > 0) {
                svcs[kept++] = svcs[i];
            }
        }
        count = kept;
    }
    do_page(count, page_no - 1, page_size, &start, &end);
    for (size_t i = start; i < end; i++) {
        json_array_append_new(list, service_view(n, svcs[i]));
    }
    free(svcs);
    {
        json_t *o = json_object();
        json_object_set_new(o, "count", json_integer((json_int_t)count));
        json_object_set_new(o, "serviceList", list);
        lc_reply_json(ex, o);
    }
}

static void on_service(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    char grouped[1300], group[256], name[1100];
    const char *ns;
    struct lc_service_key key;
    struct lc_service *svc;
    struct lc_smeta *e;
    const Locus__Naming__ServiceMeta *m;
    struct insts c;
    json_t *o, *so, *clusters;

    if (lc_http_method(ex) != LC_HTTP_GET) {
        lc_ns_no_such_api(ex);
        return;
    }
    if (!filters(n, ex, grouped, sizeof grouped, group, sizeof group, name,
                 sizeof name) ||
        !lc_rp_string(ex, "namespaceId", false, LC_DEFAULT_NAMESPACE, &ns)) {
        return;
    }
    key.ns = ns;
    key.group = group;
    key.name = name;
    svc = lc_registry_find_service(n->reg, &key);
    if (svc == NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 404, "service %s@@%s is not found!",
                        group, name);
        return;
    }
    e = lc_service_meta_find(n, svc->key);
    m = e != NULL ? e->meta : NULL;
    so = json_object();
    json_object_set_new(so, "name", json_string(svc->name));
    json_object_set_new(so, "groupName", json_string(svc->group));
    json_object_set_new(so, "protectThreshold",
                        lc_json_float(m != NULL ? m->protect_threshold : 0));
    json_object_set_new(so, "selector", lc_selector_json(m));
    json_object_set_new(so, "metadata",
                        m != NULL
                            ? lc_meta_entries_json(m->metadata, m->n_metadata)
                            : json_object());
    clusters = json_array();
    instances_of(n, svc, &c);
    {
        const char **names = calloc(c.n + 1, sizeof *names);
        size_t nn = 0;
        for (size_t i = 0; names != NULL && i < c.n; i++) {
            bool seen = false;
            for (size_t j = 0; j < nn && !seen; j++) {
                seen = strcmp(names[j], c.v[i]->cluster) == 0;
            }
            if (!seen) {
                names[nn++] = c.v[i]->cluster;
            }
        }
        for (size_t i = 0; i < nn; i++) {
            /* keep cluster names sorted */
            for (size_t j = i + 1; j < nn; j++) {
                if (strcmp(names[j], names[i]) < 0) {
                    const char *t = names[i];
                    names[i] = names[j];
                    names[j] = t;
                }
            }
        }
        for (size_t i = 0; i < nn; i++) {
            const Locus__Naming__ClusterMeta *cm = lc_cluster_meta(m, names[i]);
            json_t *co = json_object();
            json_object_set_new(co, "serviceName", json_string(svc->grouped));
            json_object_set_new(co, "name", json_string(names[i]));
            json_object_set_new(co, "healthChecker",
                                lc_health_checker_json(cm));
            json_object_set_new(co, "defaultPort",
                                json_integer(LC_CLUSTER_DEFAULT_PORT));
            json_object_set_new(co, "defaultCheckPort",
                                json_integer(cm != NULL
                                                 ? cm->check_port
                                                 : LC_CLUSTER_CHECK_PORT));
            json_object_set_new(co, "useIPPort4Check",
                                json_boolean(cm == NULL || cm->use_ip_port));
            json_object_set_new(co, "metadata",
                                cm != NULL
                                    ? lc_meta_entries_json(cm->metadata,
                                                           cm->n_metadata)
                                    : json_object());
            json_array_append_new(clusters, co);
        }
        free(names);
    }
    free(c.v);
    o = json_object();
    json_object_set_new(o, "service", so);
    json_object_set_new(o, "clusters", clusters);
    lc_reply_json(ex, o);
}

static void on_instances(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    char grouped[1300], group[256], name[1100];
    const char *ns, *raw, *cluster;
    int page_no, page_size;
    long long start, end;
    struct lc_service_key key;
    struct lc_service *svc;
    struct insts c;
    size_t in_cluster = 0;
    bool found = false;
    json_t *list, *o;

    if (!filters(n, ex, grouped, sizeof grouped, group, sizeof group, name,
                 sizeof name) ||
        !lc_rp_string(ex, "namespaceId", false, LC_DEFAULT_NAMESPACE, &ns) ||
        !lc_rp_string(ex, "serviceName", true, NULL, &raw) ||
        !lc_rp_string(ex, "clusterName", true, NULL, &cluster) ||
        !lc_rp_int(ex, "pageNo", true, &page_no) ||
        !lc_rp_int(ex, "pageSize", true, &page_size)) {
        return;
    }
    key.ns = ns;
    key.group = group;
    key.name = name;
    svc = lc_registry_find_service(n->reg, &key);
    if (svc == NULL) {
        lc_naming_error(ex, LC_KIND_TEXT, 404, "service %s@@%s is not found!",
                        group, name);
        return;
    }
    instances_of(n, svc, &c);
    for (size_t i = 0; i < c.n; i++) {
        if (strcmp(c.v[i]->cluster, cluster) == 0) {
            c.v[in_cluster++] = c.v[i];
            found = true;
        }
    }
    if (!found) {
        free(c.v);
        lc_naming_error(ex, LC_KIND_TEXT, 404, "cluster %s is not found!",
                        cluster);
        return;
    }
    start = (long long)(int32_t)((uint32_t)(page_no - 1) * (uint32_t)page_size);
    end = (long long)(int32_t)((uint32_t)page_no * (uint32_t)page_size);
    start = start < 0 ? 0 : start;
    start = start > (long long)in_cluster ? (long long)in_cluster : start;
    end = end > (long long)in_cluster ? (long long)in_cluster : end;
    if (start > end) {
        free(c.v);
        lc_naming_error(ex, LC_KIND_TEXT, 400, "fromIndex(%lld) > toIndex(%lld)",
                        start, end);
        return;
    }
    list = json_array();
    for (long long i = start; i < end; i++) {
        struct lc_view v;
        lc_instance_view(n, svc, c.v[i], &v);
        json_array_append_new(list, lc_render_host(svc, c.v[i], &v));
        json_decref(v.metadata);
    }
    free(c.v);
    o = json_object();
    json_object_set_new(o, "list", list);
    json_object_set_new(o, "count", json_integer((json_int_t)in_cluster));
    lc_reply_json(ex, o);
}

int lc_naming_catalog_routes(struct lc_naming *n, struct lc_http_server *srv)
{
    if (lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v1/ns/catalog/services",
                             on_services, n) != 0 ||
        lc_http_server_route(srv, LC_HTTP_ANY, "/nacos/v1/ns/catalog/service",
                             on_service, n) != 0 ||
        lc_http_server_route(srv, LC_HTTP_ANY,
                             "/nacos/v1/ns/catalog/instances", on_instances,
                             n) != 0) {
        return LC_ENOMEM;
    }
    return 0;
}
