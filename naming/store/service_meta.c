/* The processor of naming_service_metadata (Nacos's ServiceMetadataProcessor)
 * and the JSON of what it stores.
 *
 * Entries: a WriteRequest with operation CHANGE, ADD or DELETE and a packed
 * ServiceMetaOp as data. on_apply runs on every member in log order; it
 * refuses only undecodable entries and unknown operations.
 *
 * Snapshot: one `service_meta` table, a row per service with its ServiceMeta
 * packed. Loading one reads and checks every row before touching the state,
 * then replaces the store, makes every service it names exist (as Nacos's
 * loadServiceMetadataSnapshot does) and removes services whose metadata is
 * gone when nobody publishes them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "naming/store/service_meta.h"
#include "snapshots/snapshots.h"

#define KEY_MAX 1024

static void entry_free(struct lc_smeta *e)
{
    free(e->key);
    free(e->ns);
    free(e->group);
    free(e->name);
    if (e->meta != NULL) {
        locus__naming__service_meta__free_unpacked(e->meta, NULL);
    }
    free(e);
}

static struct lc_smeta *entry_new(const char *key, const char *ns,
                                  const char *group, const char *name)
{
    struct lc_smeta *e = calloc(1, sizeof *e);
    if (e == NULL) {
        return NULL;
    }
    e->key = strdup(key);
    e->ns = strdup(ns);
    e->group = strdup(group);
    e->name = strdup(name);
    if (e->key == NULL || e->ns == NULL || e->group == NULL ||
        e->name == NULL) {
        entry_free(e);
        return NULL;
    }
    return e;
}

struct lc_smeta *lc_service_meta_find(struct lc_naming *n, const char *key)
{
    struct lc_smeta *e = NULL;
    HASH_FIND_STR(n->smeta, key, e);
    return e;
}

static void clear_table(struct lc_smeta **table)
{
    struct lc_smeta *e, *tmp;
    HASH_ITER(hh, *table, e, tmp)
    {
        HASH_DEL(*table, e);
        entry_free(e);
    }
}

void lc_service_meta_clear(struct lc_naming *n)
{
    clear_table(&n->smeta);
}

/* @m packed into a malloc'd buffer (*@len bytes), or NULL. */
static uint8_t *meta_pack(const Locus__Naming__ServiceMeta *m, size_t *len)
{
    uint8_t *buf;
    *len = locus__naming__service_meta__get_packed_size(m);
    buf = malloc(*len > 0 ? *len : 1);
    if (buf != NULL) {
        locus__naming__service_meta__pack(m, buf);
    }
    return buf;
}

/* An owned copy of @m (which may borrow from several messages). */
static Locus__Naming__ServiceMeta *
meta_copy(const Locus__Naming__ServiceMeta *m)
{
    size_t len;
    uint8_t *buf = meta_pack(m, &len);
    Locus__Naming__ServiceMeta *copy;
    if (buf == NULL) {
        return NULL;
    }
    copy = locus__naming__service_meta__unpack(NULL, len, buf);
    free(buf);
    return copy;
}

static bool meta_equal(const Locus__Naming__ServiceMeta *a,
                       const Locus__Naming__ServiceMeta *b)
{
    size_t la, lb;
    uint8_t *pa = meta_pack(a, &la);
    uint8_t *pb = meta_pack(b, &lb);
    bool eq = pa != NULL && pb != NULL && la == lb && memcmp(pa, pb, la) == 0;
    free(pa);
    free(pb);
    return eq;
}

/* The instances of @svc may render differently: tell subscribers. */
static void publish_changed(struct lc_naming *n, struct lc_service *svc)
{
    struct lc_event ev = {.type = LC_EV_SERVICE_CHANGED,
                          .ns = svc->ns,
                          .group = svc->group,
                          .service = svc->name};
    svc->revision++;
    lc_bus_publish(n->bus, &ev);
}

/* The service exists from now on (Nacos's ServiceManager.getSingleton). */
static int service_touch(struct lc_naming *n, const struct lc_service_key *k,
                         bool ephemeral)
{
    struct lc_service *svc = lc_registry_service(n->reg, k, ephemeral);
    if (svc == NULL) {
        return LC_ENOMEM;
    }
    publish_changed(n, svc);
    return 0;
}

/* Its metadata is gone: the service goes when nobody publishes it; else it
 * stays and changes. */
static void service_drop(struct lc_naming *n, const struct lc_service_key *k)
{
    struct lc_service *svc = lc_registry_find_service(n->reg, k);
    if (svc != NULL && svc->n_publishers == 0) {
        lc_registry_remove_service(n->reg, svc);
    } else if (svc != NULL) {
        publish_changed(n, svc); /* it renders without the metadata now */
    }
}

/* Store a copy of @m as @key's metadata (replacing what was there; @m may
 * borrow from it). */
static int store(struct lc_naming *n, const char *key,
                 const Locus__Naming__ServiceMetaOp *op,
                 const Locus__Naming__ServiceMeta *m)
{
    struct lc_smeta *e = lc_service_meta_find(n, key);
    Locus__Naming__ServiceMeta *copy = meta_copy(m);
    if (copy == NULL) {
        return LC_ENOMEM;
    }
    if (e == NULL) {
        e = entry_new(key, op->namespace_, op->group_name, op->service_name);
        if (e == NULL) {
            locus__naming__service_meta__free_unpacked(copy, NULL);
            return LC_ENOMEM;
        }
        HASH_ADD_KEYPTR(hh, n->smeta, e->key, strlen(e->key), e);
    } else {
        locus__naming__service_meta__free_unpacked(e->meta, NULL);
    }
    e->meta = copy;
    e->expired_ms = 0;
    return 0;
}

/* CHANGE: the new threshold, selector and metadata; an existing entry keeps
 * its ephemeral flag and clusters (ServiceMetadataProcessor.mergeMetadata). */
static int apply_change(struct lc_naming *n, const char *key,
                        const Locus__Naming__ServiceMetaOp *op)
{
    const Locus__Naming__ServiceMeta *in = op->metadata;
    struct lc_smeta *e = lc_service_meta_find(n, key);
    struct lc_service_key k = {op->namespace_, op->group_name,
                               op->service_name};
    Locus__Naming__ServiceMeta merged;
    bool ephemeral;
    int rv;

    if (e != NULL) {
        merged = *in;
        merged.ephemeral = e->meta->ephemeral;
        merged.n_clusters = e->meta->n_clusters;
        merged.clusters = e->meta->clusters;
        in = &merged;
    }
    ephemeral = in->ephemeral;
    rv = store(n, key, op, in);
    return rv != 0 ? rv : service_touch(n, &k, ephemeral);
}

static int cmp_cluster(const void *a, const void *b)
{
    return strcmp((*(Locus__Naming__ClusterMeta *const *)a)->name,
                  (*(Locus__Naming__ClusterMeta *const *)b)->name);
}

/* ADD: cluster metadata put into the entry's (or stored as is). */
static int apply_add(struct lc_naming *n, const char *key,
                     const Locus__Naming__ServiceMetaOp *op)
{
    const Locus__Naming__ServiceMeta *in = op->metadata;
    struct lc_smeta *e = lc_service_meta_find(n, key);
    struct lc_service_key k = {op->namespace_, op->group_name,
                               op->service_name};
    Locus__Naming__ServiceMeta merged;
    Locus__Naming__ClusterMeta **all = NULL;
    size_t n_all = 0;
    bool ephemeral;
    int rv;

    if (e != NULL) {
        all = malloc((e->meta->n_clusters + in->n_clusters + 1) *
                     sizeof *all);
        if (all == NULL) {
            return LC_ENOMEM;
        }
        for (size_t i = 0; i < e->meta->n_clusters; i++) {
            if (lc_cluster_meta(in, e->meta->clusters[i]->name) == NULL) {
                all[n_all++] = e->meta->clusters[i];
            }
        }
        for (size_t i = 0; i < in->n_clusters; i++) {
            all[n_all++] = in->clusters[i];
        }
        qsort(all, n_all, sizeof *all, cmp_cluster);
        merged = *e->meta;
        merged.clusters = all;
        merged.n_clusters = n_all;
        in = &merged;
    }
    ephemeral = in->ephemeral;
    rv = store(n, key, op, in);
    free(all);
    return rv != 0 ? rv : service_touch(n, &k, ephemeral);
}

static void apply_delete(struct lc_naming *n, const char *key,
                         const Locus__Naming__ServiceMetaOp *op)
{
    struct lc_smeta *e = lc_service_meta_find(n, key);
    struct lc_service_key k = {op->namespace_, op->group_name,
                               op->service_name};
    if (e != NULL) {
        HASH_DEL(n->smeta, e);
        entry_free(e);
    }
    service_drop(n, &k);
}

static void on_apply(struct lc_processor *p, uint64_t index,
                     const Locus__Consistency__WriteRequest *req,
                     struct lc_raft_result *result)
{
    struct lc_naming *n = p->data;
    Locus__Naming__ServiceMetaOp *op = locus__naming__service_meta_op__unpack(
        NULL, req->data.len, req->data.data);
    char key[KEY_MAX];
    struct lc_service_key k;
    (void)index;

    if (op == NULL) {
        result->status = LC_ECORRUPT;
        lc_strlcpy(result->message, "undecodable service metadata",
                   sizeof result->message);
        return;
    }
    k.ns = op->namespace_;
    k.group = op->group_name;
    k.name = op->service_name;
    if (!lc_service_key_text(key, sizeof key, &k)) {
        result->status = LC_EINVAL;
        lc_strlcpy(result->message, "service name too long",
                   sizeof result->message);
    } else if (strcmp(req->operation, LC_SMETA_DELETE) == 0) {
        apply_delete(n, key, op);
    } else if (strcmp(req->operation, LC_SMETA_CHANGE) != 0 &&
               strcmp(req->operation, LC_SMETA_ADD) != 0) {
        result->status = LC_EINVAL;
        snprintf(result->message, sizeof result->message,
                 "Unsupported operation %s", req->operation);
    } else if (op->metadata == NULL) {
        result->status = LC_EINVAL;
        lc_strlcpy(result->message, "service metadata entry without metadata",
                   sizeof result->message);
    } else {
        result->status = strcmp(req->operation, LC_SMETA_CHANGE) == 0
                             ? apply_change(n, key, op)
                             : apply_add(n, key, op);
    }
    locus__naming__service_meta_op__free_unpacked(op, NULL);
}

/* ------------------------------------------------------------- snapshot */

struct frow {
    char *ns;
    char *group;
    char *name;
    uint8_t *buf;
    size_t len;
};

struct frozen {
    struct frow *rows;
    size_t n;
};

static void frozen_free(struct frozen *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->rows[i].ns);
        free(f->rows[i].group);
        free(f->rows[i].name);
        free(f->rows[i].buf);
    }
    free(f->rows);
    free(f);
}

/* A copy: service metadata is small (one row per service created or
 * updated through the API). */
static int snapshot_freeze(struct lc_processor *p, void **out)
{
    struct lc_naming *n = p->data;
    struct frozen *f = calloc(1, sizeof *f);
    struct lc_smeta *e, *tmp;
    size_t count = HASH_COUNT(n->smeta);

    if (f == NULL) {
        return LC_ENOMEM;
    }
    f->rows = calloc(count > 0 ? count : 1, sizeof *f->rows);
    if (f->rows == NULL) {
        free(f);
        return LC_ENOMEM;
    }
    HASH_ITER(hh, n->smeta, e, tmp)
    {
        struct frow *r = &f->rows[f->n++];
        r->ns = strdup(e->ns);
        r->group = strdup(e->group);
        r->name = strdup(e->name);
        r->buf = meta_pack(e->meta, &r->len);
        if (r->ns == NULL || r->group == NULL || r->name == NULL ||
            r->buf == NULL) {
            frozen_free(f);
            return LC_ENOMEM;
        }
    }
    *out = f;
    return 0;
}

static int snapshot_save(struct lc_processor *p, void *frozen, sqlite3 *db,
                         char *errmsg, size_t errlen)
{
    struct frozen *f = frozen;
    sqlite3_stmt *st = NULL;
    int rc;
    (void)p;

    rc = sqlite3_exec(db,
                      "CREATE TABLE service_meta ("
                      " namespace TEXT NOT NULL, group_name TEXT NOT NULL,"
                      " service_name TEXT NOT NULL, meta BLOB NOT NULL)",
                      NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_prepare_v2(db,
                                "INSERT INTO service_meta VALUES (?,?,?,?)",
                                -1, &st, NULL);
    }
    for (size_t i = 0; rc == SQLITE_OK && i < f->n; i++) {
        const struct frow *r = &f->rows[i];
        sqlite3_bind_text(st, 1, r->ns, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r->group, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, r->name, -1, SQLITE_STATIC);
        /* zeroblob keeps an empty message NOT NULL */
        if (r->len > 0) {
            sqlite3_bind_blob(st, 4, r->buf, (int)r->len, SQLITE_STATIC);
        } else {
            sqlite3_bind_zeroblob(st, 4, 0);
        }
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_reset(st);
    }
    if (rc != SQLITE_OK) {
        snprintf(errmsg, errlen, "writing service_meta: %s",
                 sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : LC_EIO;
}

static void snapshot_release(struct lc_processor *p, void *frozen)
{
    (void)p;
    frozen_free(frozen);
}

/* Read every row into @fresh; LC_ECORRUPT with a message on a bad one. */
static int load_rows(sqlite3 *db, struct lc_smeta **fresh, char *errmsg,
                     size_t errlen)
{
    sqlite3_stmt *st = NULL;
    size_t row = 0;
    int rv = 0;
    int rc = lc_snapshot_select(db, "service_meta",
                                "namespace, group_name, service_name, meta",
                                &st, errmsg, errlen);
    if (rc != 0) {
        return rc;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *ns = (const char *)sqlite3_column_text(st, 0);
        const char *group = (const char *)sqlite3_column_text(st, 1);
        const char *name = (const char *)sqlite3_column_text(st, 2);
        const void *blob = sqlite3_column_blob(st, 3);
        int len = sqlite3_column_bytes(st, 3);
        struct lc_service_key k = {ns, group, name};
        char key[KEY_MAX];
        struct lc_smeta *e = NULL;

        row++;
        if (ns == NULL || group == NULL || name == NULL ||
            sqlite3_column_type(st, 3) == SQLITE_NULL ||
            !lc_service_key_text(key, sizeof key, &k)) {
            snprintf(errmsg, errlen, "service_meta row %zu is invalid", row);
            rv = LC_ECORRUPT;
            break;
        }
        HASH_FIND_STR(*fresh, key, e);
        if (e != NULL) {
            snprintf(errmsg, errlen, "service_meta row %zu repeats %s@@%s",
                     row, group, name);
            rv = LC_ECORRUPT;
            break;
        }
        e = entry_new(key, ns, group, name);
        if (e == NULL) {
            rv = LC_ENOMEM;
            snprintf(errmsg, errlen, "out of memory loading service_meta");
            break;
        }
        e->meta = locus__naming__service_meta__unpack(NULL, (size_t)len, blob);
        if (e->meta == NULL) {
            entry_free(e);
            snprintf(errmsg, errlen,
                     "service_meta row %zu has undecodable metadata", row);
            rv = LC_ECORRUPT;
            break;
        }
        HASH_ADD_KEYPTR(hh, *fresh, e->key, strlen(e->key), e);
    }
    if (rv == 0 && rc != SQLITE_DONE) {
        snprintf(errmsg, errlen, "reading service_meta: %s",
                 sqlite3_errmsg(db));
        rv = LC_ECORRUPT;
    }
    sqlite3_finalize(st);
    return rv;
}

static int snapshot_load(struct lc_processor *p, sqlite3 *db, char *errmsg,
                         size_t errlen)
{
    struct lc_naming *n = p->data;
    struct lc_smeta *fresh = NULL;
    struct lc_smeta *old;
    struct lc_smeta *e, *tmp, *o;
    int rv = load_rows(db, &fresh, errmsg, errlen);

    if (rv != 0) {
        clear_table(&fresh);
        return rv;
    }
    old = n->smeta;
    n->smeta = fresh;
    HASH_ITER(hh, n->smeta, e, tmp)
    {
        struct lc_service_key k = {e->ns, e->group, e->name};
        struct lc_service *svc = lc_registry_find_service(n->reg, &k);
        HASH_FIND_STR(old, e->key, o);
        if (svc == NULL || o == NULL || !meta_equal(o->meta, e->meta)) {
            if (service_touch(n, &k, e->meta->ephemeral) != 0) {
                lc_errorf("naming", "out of memory restoring %s@@%s",
                          e->group, e->name);
            }
        }
    }
    HASH_ITER(hh, old, e, tmp)
    {
        HASH_FIND_STR(n->smeta, e->key, o);
        if (o == NULL) {
            struct lc_service_key k = {e->ns, e->group, e->name};
            service_drop(n, &k);
        }
    }
    clear_table(&old);
    return 0;
}

void lc_service_meta_processor(struct lc_naming *n, struct lc_processor *p)
{
    memset(p, 0, sizeof *p);
    p->group = LC_GROUP_SERVICE_META;
    p->data = n;
    p->on_apply = on_apply;
    p->snapshot_freeze = snapshot_freeze;
    p->snapshot_save = snapshot_save;
    p->snapshot_release = snapshot_release;
    p->snapshot_load = snapshot_load;
}

/* ------------------------------------------------------------ protection */

bool lc_service_protect(struct lc_naming *n, const struct lc_service *svc,
                        json_t *hosts, size_t healthy)
{
    struct lc_smeta *e;
    float threshold;
    size_t i;
    json_t *h;

    if (svc == NULL || n->smeta == NULL ||
        (e = lc_service_meta_find(n, svc->key)) == NULL) {
        return false;
    }
    threshold = e->meta->protect_threshold;
    if (threshold < 0) {
        threshold = 0;
    }
    /* Java's float division: 0/0 is NaN and never <= anything. */
    if (!((float)healthy / (float)json_array_size(hosts) <= threshold)) {
        return false;
    }
    json_array_foreach(hosts, i, h)
    {
        json_object_set_new(h, "healthy", json_true());
    }
    return true;
}

/* ------------------------------------------------------------------ JSON */

json_t *lc_json_float(float f)
{
    char buf[48];
    if (isnan(f)) {
        return json_string("NaN"); /* Jackson quotes non-numeric numbers */
    }
    if (isinf(f)) {
        return json_string(f > 0 ? "Infinity" : "-Infinity");
    }
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f) {
            break;
        }
    }
    return json_real(strtod(buf, NULL));
}

json_t *lc_selector_json(const Locus__Naming__ServiceMeta *m)
{
    json_t *o = json_object();
    if (m == NULL || strcmp(m->selector_type, "label") != 0) {
        json_object_set_new(o, "type", json_string("none"));
        json_object_set_new(o, "contextType", json_string("NONE"));
        return o;
    }
    json_object_set_new(o, "type", json_string("label"));
    if (m->has_selector_expression) {
        json_object_set_new(o, "expression",
                            json_string(m->selector_expression));
    }
    json_object_set_new(o, "labels",
                        lc_selector_labels(m->has_selector_expression
                                               ? m->selector_expression
                                               : NULL));
    json_object_set_new(o, "contextType", json_string("CMDB"));
    return o;
}

json_t *lc_meta_entries_json(Locus__Naming__MetaEntry *const *entries, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) {
        json_object_set_new(o, entries[i]->key,
                            json_string(entries[i]->value));
    }
    return o;
}

const Locus__Naming__ClusterMeta *
lc_cluster_meta(const Locus__Naming__ServiceMeta *m, const char *name)
{
    if (m == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < m->n_clusters; i++) {
        if (strcmp(m->clusters[i]->name, name) == 0) {
            return m->clusters[i];
        }
    }
    return NULL;
}

json_t *lc_health_checker_json(const Locus__Naming__ClusterMeta *c)
{
    const char *type = "TCP";
    json_t *o = json_object();
    if (c != NULL && strcmp(c->health_checker, "NONE") == 0) {
        type = "NONE";
    }
    json_object_set_new(o, "type", json_string(type));
    return o;
}
