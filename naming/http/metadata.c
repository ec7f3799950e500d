/* Instance metadata overlays beyond PUT: PATCH /nacos/v1/ns/instance and
 * PUT/DELETE /nacos/v1/ns/instance/metadata/batch, as Nacos 2.4.3's
 * InstanceController.patch / batchUpdateInstanceMetadata /
 * batchDeleteInstanceMetadata over InstanceOperatorClientImpl.
 *
 * Both read the instance's current overlay (InstanceMetadata: weight,
 * enabled, extendData) in naming_instance_metadata, change it, and write it
 * back through Raft; the answer comes once every write is applied here. As
 * in Nacos, an instance without an overlay starts from InstanceMetadata's
 * defaults (weight 1.0, enabled true), so a PATCH of metadata alone also
 * sets those; a PATCH with metadata replaces the overlay's metadata map
 * (mergeMetadata), while metadata/batch adds or removes keys.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "naming/http/filters.h"
#include "naming/http/handlers.h"
#include "naming/naming.pb-c.h"

int lc_ns_pack_overlay(const char *okey, json_t *overlay, void **data,
                       size_t *len)
{
    Locus__Naming__MetadataStore st = LOCUS__NAMING__METADATA_STORE__INIT;
    char *value = json_dumps(overlay, JSON_COMPACT | JSON_SORT_KEYS);
    if (value == NULL) {
        return LC_ENOMEM;
    }
    st.key = (char *)okey;
    st.value.data = (uint8_t *)value;
    st.value.len = strlen(value);
    *len = locus__naming__metadata_store__get_packed_size(&st);
    *data = malloc(*len > 0 ? *len : 1);
    if (*data == NULL) {
        free(value);
        return LC_ENOMEM;
    }
    locus__naming__metadata_store__pack(&st, *data);
    free(value);
    return 0;
}

/* The overlay of @inst in @svc as it is now, or InstanceMetadata's
 * defaults (a new reference). */
static json_t *overlay_of(struct lc_naming *n, const struct lc_service *svc,
                          const struct lc_instance *inst, char *okey,
                          size_t size)
{
    size_t len;
    const void *raw;
    json_t *o = NULL;
    lc_overlay_key(okey, size, svc->key, inst->ip, inst->port, inst->cluster);
    raw = lc_kvstore_get(&n->instance_meta, okey, &len);
    if (raw != NULL) {
        o = json_loadb(raw, len, 0, NULL);
    }
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
        json_object_set_new(o, "enabled", json_true());
        json_object_set_new(o, "weight", json_real(1.0));
    }
    if (!json_is_object(json_object_get(o, "extendData"))) {
        json_object_set_new(o, "extendData", json_object());
    }
    /* Who may expire it (naming/clean/instance_meta_clean.c). */
    json_object_set_new(o, "ephemeral", json_boolean(inst->ephemeral));
    return o;
}

/* ------------------------------------------------------------- batches */

/* Several overlay writes answered together. */
struct batch {
    struct lc_http_exchange *ex;
    unsigned pending;
    int failed; /* first error, or 0 */
    char failure[512];
    json_t *updated; /* the reply's list */
    struct lc_sm_write w[];
};

static void batch_done(struct batch *b)
{
    if (b->failed != 0) {
        if (b->failure[0] != '\0') {
            lc_naming_error(b->ex, LC_KIND_TEXT, 500, "%s", b->failure);
        } else {
            lc_ns_reply_write_error(b->ex, b->failed);
        }
        json_decref(b->updated);
    } else if (b->updated != NULL) {
        json_t *o = json_object();
        json_object_set_new(o, "updated", b->updated);
        lc_reply_json(b->ex, o);
    } else {
        lc_naming_ok(b->ex);
    }
    free(b);
}

static void on_batch_written(struct lc_sm_write *w, int status,
                             const struct lc_raft_result *result)
{
    struct batch *b = w->data;
    if (b->failed == 0 && status != 0) {
        b->failed = status;
    } else if (b->failed == 0 && result->status != 0) {
        b->failed = result->status;
        lc_strlcpy(b->failure, result->message, sizeof b->failure);
    }
    if (--b->pending == 0) {
        batch_done(b);
    }
}

static struct batch *batch_new(struct lc_http_exchange *ex, size_t n)
{
    struct batch *b = calloc(1, sizeof *b + n * sizeof b->w[0]);
    if (b != NULL) {
        b->ex = ex;
        b->pending = 1; /* held by the submitter until all are sent */
    }
    return b;
}

/* Write @overlay (consumed) as entry @i of @b. */
static void batch_put(struct lc_naming *n, struct batch *b, size_t i,
                      const char *okey, json_t *overlay)
{
    void *data;
    size_t len;
    int rv = lc_ns_pack_overlay(okey, overlay, &data, &len);
    json_decref(overlay);
    if (rv == 0) {
        b->w[i].data = b;
        b->pending++;
        rv = lc_sm_write(n->instance_meta_sm, &b->w[i], okey, "PUT", data, len,
                         on_batch_written);
        free(data);
        if (rv != 0) {
            b->pending--;
        }
    }
    if (rv != 0 && b->failed == 0) {
        b->failed = rv;
    }
}

/* The submitter lets go: replies if every write has already come back. */
static void batch_release(struct batch *b)
{
    if (--b->pending == 0) {
        batch_done(b);
    }
}

/* -------------------------------------------------------------- PATCH */

void lc_ns_on_patch(struct lc_naming *n, struct lc_http_exchange *ex)
{
    struct lc_inst_req r;
    char grouped[1300];
    char buf[1200];
    char err[1300];
    char okey[2400];
    const char *v;
    json_t *overlay;
    json_t *meta = NULL;
    double weight = 0;
    struct lc_service *svc;
    struct lc_instance *inst;
    struct batch *b;

    r.metadata = NULL;
    if (!lc_ns_parse_common(n, ex, grouped, sizeof grouped) ||
        !lc_ns_parse_service(ex, &r, grouped) ||
        lc_required(ex, "ip", r.ip, sizeof r.ip) == NULL ||
        lc_required(ex, "port", buf, sizeof buf) == NULL) {
        return;
    }
    if (!lc_java_parse_int(buf, &r.port, err, sizeof err)) {
        lc_naming_error(ex, LC_KIND_TEXT, 400, "%s", err);
        return;
    }
    if (lc_optional(ex, "clusterName", r.cluster, sizeof r.cluster) == NULL &&
        lc_optional(ex, "cluster", r.cluster, sizeof r.cluster) == NULL) {
        lc_strlcpy(r.cluster, LC_DEFAULT_CLUSTER, sizeof r.cluster);
    }
    v = lc_optional(ex, "metadata", buf, sizeof buf);
    if (v != NULL) {
        if (lc_metadata_parse(v, &r.metadata) != 0) {
            lc_naming_error(ex, LC_KIND_TEXT, 400,
                            "metadata format incorrect:%s", v);
            return;
        }
        meta = json_loads(r.metadata, 0, NULL);
        free(r.metadata);
    }
    v = lc_optional(ex, "weight", buf, sizeof buf);
    if (v != NULL && !lc_java_parse_double(v, &weight, err, sizeof err)) {
        lc_naming_error(ex, LC_KIND_TEXT, 400, "%s", err);
        json_decref(meta);
        return;
    }
    {
        struct lc_service_key key = {r.ns, r.group, r.service};
        svc = lc_registry_find_service(n->reg, &key);
    }
    inst = lc_ns_find_instance(n, ex, svc, &r);
    if (inst == NULL) {
        json_decref(meta);
        return;
    }
    overlay = overlay_of(n, svc, inst, okey, sizeof okey);
    if (meta != NULL) {
        /* mergeMetadata replaces extendData with the patch's map. */
        json_object_set_new(overlay, "extendData", meta);
    }
    if (v != NULL) {
        json_object_set_new(overlay, "weight", json_real(weight));
    }
    v = lc_optional(ex, "enabled", buf, sizeof buf);
    if (v != NULL) {
        json_object_set_new(overlay, "enabled", json_boolean(lc_to_boolean(v)));
    }
    /* `healthy` is read by Nacos and then ignored by patchInstance. */
    b = batch_new(ex, 1);
    if (b == NULL) {
        json_decref(overlay);
        lc_naming_error(ex, LC_KIND_TEXT, 500, "out of memory");
        return;
    }
    batch_put(n, b, 0, okey, overlay);
    batch_release(b);
}

/* ----------------------------------------------------- metadata/batch */

/* Does the `instances` list name @inst? An empty list names them all. */
static bool targeted(json_t *list, const struct lc_instance *inst)
{
    size_t k;
    json_t *t;
    if (json_array_size(list) == 0) {
        return true;
    }
    json_array_foreach(list, k, t)
    {
        const char *ip = json_string_value(json_object_get(t, "ip"));
        json_t *port = json_object_get(t, "port");
        if (ip != NULL && strcmp(ip, inst->ip) == 0 &&
            json_integer_value(port) == inst->port) {
            return true;
        }
    }
    return false;
}

struct batch_ctx {
    struct lc_naming *n;
    struct lc_service *svc;
    json_t *instances;
    json_t *meta;
    bool remove;
    struct batch *b;
    size_t i;
};

static void batch_one(struct lc_instance *inst, void *data)
{
    struct batch_ctx *c = data;
    char okey[2400];
    char text[600];
    json_t *overlay;
    json_t *extend;
    const char *k;
    json_t *v;

    if (!targeted(c->instances, inst)) {
        return;
    }
    overlay = overlay_of(c->n, c->svc, inst, okey, sizeof okey);
    extend = json_object_get(overlay, "extendData");
    json_object_foreach(c->meta, k, v)
    {
        if (c->remove) {
            json_object_del(extend, k);
        } else {
            json_object_set(extend, k, v);
        }
    }
    snprintf(text, sizeof text, "%s:%d:unknown:%s:%s", inst->ip, inst->port,
             inst->cluster, inst->ephemeral ? "ephemeral" : "persist");
    json_array_append_new(c->b->updated, json_string(text));
    batch_put(c->n, c->b, c->i++, okey, overlay);
}

static void on_batch(struct lc_http_exchange *ex, void *data)
{
    struct lc_naming *n = data;
    struct lc_inst_req r;
    char grouped[1300];
    char buf[1200];
    struct batch_ctx c = {.n = n};
    const char *v;
    unsigned method = lc_http_method(ex);

    if (method != LC_HTTP_PUT && method != LC_HTTP_DELETE) {
        lc_ns_no_such_api(ex);
        return;
    }
    c.remove = method == LC_HTTP_DELETE;
    r.metadata = NULL;
    if (!lc_ns_parse_common(n, ex, grouped, sizeof grouped) ||
        !lc_ns_parse_service(ex, &r, grouped)) {
        return;
    }
    /* A list that does not parse is ignored (all instances), as Nacos. */
    v = lc_http_param(ex, "instances");
    c.instances = v != NULL ? json_loads(v, 0, NULL) : NULL;
    if (!json_is_array(c.instances)) {
        json_decref(c.instances);
        c.instances = json_array();
    }
    if (lc_required(ex, "metadata", buf, sizeof buf) == NULL) {
        goto out;
    }
    if (lc_metadata_parse(buf, &r.metadata) != 0) {
        lc_naming_error(ex, LC_KIND_TEXT, 400, "metadata format incorrect:%s",
                        buf);
        goto out;
    }
    c.meta = json_loads(r.metadata, 0, NULL);
    free(r.metadata);
    {
        struct lc_service_key key = {r.ns, r.group, r.service};
        c.svc = lc_registry_find_service(n->reg, &key);
    }
    c.b = batch_new(ex, c.svc != NULL ? c.svc->n_publishers : 0);
    if (c.b == NULL || (c.b->updated = json_array()) == NULL) {
        free(c.b);
        lc_naming_error(ex, LC_KIND_TEXT, 500, "out of memory");
        goto out;
    }
    if (c.svc != NULL) {
        lc_registry_each_instance(n->reg, c.svc, batch_one, &c);
    }
    batch_release(c.b);
out:
    json_decref(c.meta);
    json_decref(c.instances);
}

int lc_naming_metadata_routes(struct lc_naming *n, struct lc_http_server *srv)
{
    return lc_http_server_route(srv, LC_HTTP_ANY,
                                "/nacos/v1/ns/instance/metadata/batch",
                                on_batch, n) != 0 ||
                   lc_http_server_route(srv, LC_HTTP_ANY,
                                        "/nacos/v2/ns/instance/metadata/batch",
                                        on_batch, n) != 0
               ? LC_ENOMEM
               : 0;
}
