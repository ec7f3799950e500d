/* The console's views of services and instances, as Nacos 2.4.3's
 * CatalogServiceV2Impl: services of a namespace (optionally filtered by name
 * patterns and by having instances), one service with its clusters, the
 * instances of one cluster. Nacos's orders are those of hash sets; locus
 * sorts (services by group@@name, instances by ip then port).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/java.h"
#include "common/util.h"
#include "naming/ops/ops.h"
#include "naming/store/service_meta.h"

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
 * .*group.*@@.*name.* (a blank part is .*). */
static int pattern_services(struct lc_naming *n, const char *ns,
                            const char *group, const char *name,
                            struct lc_service ***out, size_t *count,
                            struct lc_err *e)
{
    bool filter = !lc_java_blank(group) || !lc_java_blank(name);
    struct lc_jregex re;
    struct lc_service *svc, *tmp;
    struct lc_service **v;
    char *pattern = NULL;
    char rx_err[1400];

    if (filter) {
        if (asprintf(&pattern, "%s%s%s@@%s%s%s", lc_java_blank(group) ? "" : ".*",
                     lc_java_blank(group) ? ".*" : group, lc_java_blank(group) ? "" : ".*",
                     lc_java_blank(name) ? "" : ".*", lc_java_blank(name) ? ".*" : name,
                     lc_java_blank(name) ? "" : ".*") < 0) {
            return lc_err_set(e, LC_ENOMEM, "out of memory");
        }
        if (!lc_jregex_compile(&re, pattern, rx_err, sizeof rx_err)) {
            free(pattern);
            return lc_err_set(e, LC_EINVAL, "%s", rx_err);
        }
        free(pattern);
    }
    v = malloc((HASH_COUNT(n->reg->services) + 1) * sizeof *v);
    if (v == NULL) {
        if (filter) {
            lc_jregex_free(&re);
        }
        return lc_err_set(e, LC_ENOMEM, "out of memory");
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
    return 0;
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

int lc_op_catalog_services(struct lc_naming *n, const char *ns,
                           const char *group_param, const char *name_param,
                           bool with_instances, bool has_ip_count,
                           int page_no, int page_size, json_t **out,
                           struct lc_err *e)
{
    struct lc_service **svcs = NULL;
    size_t count, start, end;
    json_t *list;

    if (pattern_services(n, ns, group_param, name_param, &svcs, &count, e) !=
        0) {
        return e->code;
    }
    list = json_array();
    if (with_instances) {
        do_page(count, page_no - 1, page_size, &start, &end);
        for (size_t i = start; i < end; i++) {
            json_array_append_new(list, service_detail(n, svcs[i]));
        }
        free(svcs);
        *out = list;
        return 0;
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
    *out = json_object();
    json_object_set_new(*out, "count", json_integer((json_int_t)count));
    json_object_set_new(*out, "serviceList", list);
    return 0;
}

/* The names of the clusters of @c, sorted (a malloc'd array of borrowed
 * names; NULL when out of memory). */
static const char **cluster_names(const struct insts *c, size_t *nn)
{
    const char **names = calloc(c->n + 1, sizeof *names);
    *nn = 0;
    for (size_t i = 0; names != NULL && i < c->n; i++) {
        bool seen = false;
        for (size_t j = 0; j < *nn && !seen; j++) {
            seen = strcmp(names[j], c->v[i]->cluster) == 0;
        }
        if (!seen) {
            names[(*nn)++] = c->v[i]->cluster;
        }
    }
    for (size_t i = 0; i < *nn; i++) {
        /* keep cluster names sorted */
        for (size_t j = i + 1; j < *nn; j++) {
            if (strcmp(names[j], names[i]) < 0) {
                const char *t = names[i];
                names[i] = names[j];
                names[j] = t;
            }
        }
    }
    return names;
}

int lc_op_catalog_service(struct lc_naming *n, const char *ns,
                          const char *group, const char *name, json_t **out,
                          struct lc_err *e)
{
    struct lc_service_key key = {ns, group, name};
    struct lc_service *svc = lc_registry_find_service(n->reg, &key);
    struct lc_smeta *sm;
    const Locus__Naming__ServiceMeta *m;
    struct insts c;
    const char **names;
    size_t nn;
    json_t *o, *so, *clusters;

    if (svc == NULL) {
        return lc_err_set(e, LC_ENOTFOUND, "service %s@@%s is not found!",
                          group, name);
    }
    sm = lc_service_meta_find(n, svc->key);
    m = sm != NULL ? sm->meta : NULL;
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
    names = cluster_names(&c, &nn);
    for (size_t i = 0; names != NULL && i < nn; i++) {
        const Locus__Naming__ClusterMeta *cm = lc_cluster_meta(m, names[i]);
        json_t *co = json_object();
        json_object_set_new(co, "serviceName", json_string(svc->grouped));
        json_object_set_new(co, "name", json_string(names[i]));
        json_object_set_new(co, "healthChecker", lc_health_checker_json(cm));
        json_object_set_new(co, "defaultPort",
                            json_integer(LC_CLUSTER_DEFAULT_PORT));
        json_object_set_new(co, "defaultCheckPort",
                            json_integer(cm != NULL ? cm->check_port
                                                    : LC_CLUSTER_CHECK_PORT));
        json_object_set_new(co, "useIPPort4Check",
                            json_boolean(cm == NULL || cm->use_ip_port));
        json_object_set_new(co, "metadata",
                            cm != NULL ? lc_meta_entries_json(cm->metadata,
                                                              cm->n_metadata)
                                       : json_object());
        json_array_append_new(clusters, co);
    }
    free(names);
    free(c.v);
    o = json_object();
    json_object_set_new(o, "service", so);
    json_object_set_new(o, "clusters", clusters);
    *out = o;
    return 0;
}

int lc_op_catalog_instances(struct lc_naming *n, const char *ns,
                            const char *group, const char *name,
                            const char *cluster, int page_no, int page_size,
                            json_t **out, struct lc_err *e)
{
    struct lc_service_key key = {ns, group, name};
    struct lc_service *svc = lc_registry_find_service(n->reg, &key);
    long long start, end;
    struct insts c;
    size_t in_cluster = 0;
    bool found = false;
    json_t *list;

    if (svc == NULL) {
        return lc_err_set(e, LC_ENOTFOUND, "service %s@@%s is not found!",
                          group, name);
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
        return lc_err_set(e, LC_ENOTFOUND, "cluster %s is not found!",
                          cluster);
    }
    start = (long long)(int32_t)((uint32_t)(page_no - 1) * (uint32_t)page_size);
    end = (long long)(int32_t)((uint32_t)page_no * (uint32_t)page_size);
    start = start < 0 ? 0 : start;
    start = start > (long long)in_cluster ? (long long)in_cluster : start;
    end = end > (long long)in_cluster ? (long long)in_cluster : end;
    if (start > end) {
        free(c.v);
        return lc_err_set(e, LC_EINVAL, "fromIndex(%lld) > toIndex(%lld)",
                          start, end);
    }
    list = json_array();
    for (long long i = start; i < end; i++) {
        struct lc_view v;
        lc_instance_view(n, svc, c.v[i], &v);
        json_array_append_new(list, lc_render_host(svc, c.v[i], &v));
        json_decref(v.metadata);
    }
    free(c.v);
    *out = json_object();
    json_object_set_new(*out, "list", list);
    json_object_set_new(*out, "count", json_integer((json_int_t)in_cluster));
    return 0;
}
