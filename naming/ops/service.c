/* Service operations: create, delete, update, detail, list and names, as
 * Nacos 2.4.3's ServiceOperatorV2Impl. Writes become CHANGE or DELETE
 * entries on naming_service_metadata (ServiceMetaOp) and are answered once
 * applied on this node.
 *
 * Deviation: Nacos creates a service with an empty group and name when
 * serviceName is blank; locus refuses it with the message Nacos gives when
 * deleting one (400 "Param 'serviceName' is illegal, serviceName is blank").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/java.h"
#include "common/util.h"
#include "naming/ops/entries.h"
#include "naming/ops/internal.h"
#include "naming/store/service_meta.h"

#define BLANK_NAME "Param 'serviceName' is illegal, serviceName is blank"

void lc_op_service_name(struct lc_service_name *s, const char *grouped)
{
    const char *group;
    size_t glen;
    const char *name;

    lc_strlcpy(s->grouped, grouped, sizeof s->grouped);
    s->blank = lc_java_blank(s->grouped);
    s->group[0] = '\0';
    s->name[0] = '\0';
    if (!s->blank && lc_split_grouped(s->grouped, &group, &glen, &name) &&
        glen < sizeof s->group) {
        memcpy(s->group, group, glen);
        s->group[glen] = '\0';
        lc_strlcpy(s->name, name, sizeof s->name);
    }
}

static struct lc_service *find(struct lc_naming *n,
                               const struct lc_service_name *s)
{
    struct lc_service_key key = {s->ns, s->group, s->name};
    return lc_registry_find_service(n->reg, &key);
}

/* ---------------------------------------------------------------- writes */

static int submit(struct lc_naming *n, const char *operation,
                  const struct lc_service_name *s,
                  const Locus__Naming__ServiceMeta *meta, struct lc_op *op,
                  lc_op_cb cb, struct lc_err *e)
{
    struct lc_sm_write *w = lc_op_start(op, LC_OP_ERRORS_METADATA, cb);
    return lc_op_submitted(
        op,
        lc_entry_write_service_meta(n, operation, s->ns, s->group, s->name,
                                    meta, w, lc_op_written_cb()),
        e);
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
 * into @b, as create orders them (update has checked its metadata before). */
static int meta_build(struct meta_build *b, const char *metadata,
                      const char *selector, struct lc_err *e)
{
    char *canonical = NULL;
    const char *type;
    size_t i = 0;
    const char *k;
    json_t *v;

    memset(b, 0, sizeof *b);
    locus__naming__service_meta__init(&b->m);
    if (lc_selector_parse(selector, &type, &b->selector_expression, e) != 0) {
        return e->code;
    }
    if (lc_metadata_parse(lc_java_blank(metadata) ? "" : metadata,
                          &canonical) != 0) {
        free(b->selector_expression);
        return lc_err_set(e, LC_EINVAL, "metadata format incorrect:%s",
                          metadata);
    }
    b->metadata = json_loads(canonical, 0, NULL);
    free(canonical);
    b->entries = calloc(json_object_size(b->metadata) + 1,
                        sizeof *b->entries);
    b->ptrs = calloc(json_object_size(b->metadata) + 1, sizeof *b->ptrs);
    if (b->metadata == NULL || b->entries == NULL || b->ptrs == NULL) {
        meta_build_free(b);
        return lc_err_set(e, LC_ENOMEM, "out of memory");
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
    return 0;
}

int lc_op_service_create(struct lc_naming *n, const struct lc_service_name *s,
                         float threshold, const char *metadata,
                         const char *selector, struct lc_op *op, lc_op_cb cb,
                         struct lc_err *e)
{
    struct meta_build b;
    int rv;

    op->pending = false;
    if (meta_build(&b, metadata, selector, e) != 0) {
        return e->code;
    }
    if (s->blank) {
        rv = lc_err_set(e, LC_EINVAL, BLANK_NAME);
    } else if (find(n, s) != NULL) {
        rv = lc_err_set(e, LC_ESERVICE_EXISTS,
                        "specified service %s already exists!", s->grouped);
    } else {
        b.m.protect_threshold = threshold;
        b.m.ephemeral = false; /* a service made through the API persists */
        rv = submit(n, LC_SMETA_CHANGE, s, &b.m, op, cb, e);
    }
    meta_build_free(&b);
    return rv;
}

int lc_op_service_remove(struct lc_naming *n, const struct lc_service_name *s,
                         struct lc_op *op, lc_op_cb cb, struct lc_err *e)
{
    struct lc_service *svc = s->blank ? NULL : find(n, s);
    op->pending = false;
    if (s->blank) {
        return lc_err_set(e, LC_EINVAL, BLANK_NAME);
    }
    if (svc == NULL) {
        return lc_err_set(e, LC_ESERVICE_NOTFOUND, "service %s not found!",
                          s->grouped);
    }
    if (svc->n_publishers > 0) {
        return lc_err_set(e, LC_ESERVICE_NOTEMPTY,
                          "Service %s is not empty, can't be delete. Please "
                          "unregister instance first",
                          s->grouped);
    }
    return submit(n, LC_SMETA_DELETE, s, NULL, op, cb, e);
}

int lc_op_service_update(struct lc_naming *n, const struct lc_service_name *s,
                         const char *threshold, const char *metadata,
                         const char *selector, struct lc_op *op, lc_op_cb cb,
                         struct lc_err *e)
{
    struct meta_build b;
    struct lc_service *svc;
    int rv;

    op->pending = false;
    if (meta_build(&b, metadata, selector, e) != 0) {
        return e->code;
    }
    svc = s->blank ? NULL : find(n, s);
    if (s->blank) {
        rv = lc_err_set(e, LC_EINVAL, BLANK_NAME);
    } else if (svc == NULL) {
        rv = lc_err_set(e, LC_ESERVICE_NOTFOUND, "service %s not found!",
                        s->grouped);
    } else {
        /* NumberUtils.toFloat: not a number is 0. */
        b.m.protect_threshold = lc_java_to_float(threshold, 0.0f);
        /* Nacos writes its default (ephemeral) here; what is stored then
         * matters only if no metadata exists yet, and then the service's
         * real kind is the right one to keep. */
        b.m.ephemeral = svc->ephemeral;
        rv = submit(n, LC_SMETA_CHANGE, s, &b.m, op, cb, e);
    }
    meta_build_free(&b);
    return rv;
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

int lc_op_service_detail(struct lc_naming *n, const struct lc_service_name *s,
                         const struct lc_service **svc_out, json_t **out,
                         struct lc_err *e)
{
    struct lc_service *svc = find(n, s);
    struct lc_smeta *meta;
    const Locus__Naming__ServiceMeta *m;
    struct clusters cl = {NULL, 0};
    json_t *o, *arr;

    if (svc == NULL) {
        return lc_err_set(e, LC_ESERVICE_NOTFOUND,
                          "service not found, namespace: %s, serviceName: %s",
                          s->ns, s->grouped);
    }
    meta = lc_service_meta_find(n, svc->key);
    m = meta != NULL ? meta->meta : NULL;
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
    lc_registry_each_instance(n->reg, svc, add_cluster, &cl);
    if (cl.n > 1) {
        qsort(cl.v, cl.n, sizeof *cl.v, cmp_str);
    }
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
    *svc_out = svc;
    *out = o;
    return 0;
}

/* Java's int arithmetic (wraps). */
static int jmul(int a, int b)
{
    return (int)(int32_t)((uint32_t)a * (uint32_t)b);
}

int lc_op_service_list(struct lc_naming *n, const char *ns, const char *group,
                       int page_no, int page_size, json_t **out,
                       size_t *count_out, struct lc_err *e)
{
    const char **names;
    size_t count = 0;
    struct lc_service *svc, *tmp;
    int start, end;
    json_t *doms;

    names = malloc((HASH_COUNT(n->reg->services) + 1) * sizeof *names);
    if (names == NULL) {
        return lc_err_set(e, LC_ENOMEM, "out of memory");
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
            return lc_err_set(e, LC_EINVAL, "fromIndex(%d) > toIndex(%d)",
                              start, end);
        }
        for (int i = start; i < end; i++) {
            json_array_append_new(doms, json_string(names[i]));
        }
    }
    free(names);
    *out = doms;
    *count_out = count;
    return 0;
}

int lc_op_service_names(struct lc_naming *n, const char *ns, const char *expr,
                        json_t **out, struct lc_err *e)
{
    struct lc_jregex re;
    char *pattern;
    char msg[1400];
    struct lc_service *svc, *tmp;
    json_t *map, *o;
    size_t total = 0;

    if (asprintf(&pattern, ".*%s.*", expr) < 0) {
        return lc_err_set(e, LC_ENOMEM, "out of memory");
    }
    if (!lc_jregex_compile(&re, pattern, msg, sizeof msg)) {
        free(pattern);
        return lc_err_set(e, LC_EINVAL, "%s", msg);
    }
    free(pattern);
    map = json_object();
    if (!lc_java_blank(ns)) {
        json_object_set_new(map, ns, json_array());
    }
    HASH_ITER(hh, n->reg->services, svc, tmp)
    {
        json_t *list;
        if (!lc_java_blank(ns) && strcmp(svc->ns, ns) != 0) {
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
    *out = o;
    return 0;
}
