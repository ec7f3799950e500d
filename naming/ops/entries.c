/* The naming groups' Raft entries, encoded and submitted (entries.h). */
#include "naming/ops/entries.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "naming/core/switches.h"

/* Submit @data (freed here in every case) to @sm. */
static int submit(struct lc_statemachine *sm, const char *key, const char *op,
                  void *data, size_t len, struct lc_sm_write *w,
                  lc_sm_write_cb cb)
{
    int rv = lc_sm_write(sm, w, key, op, data, len, cb);
    free(data);
    return rv;
}

/* ------------------------------------------ naming_persistent_service_v2 */

void lc_entry_instance_key(char *out, size_t size, const char *ns,
                           const char *grouped, const char *client_id)
{
    snprintf(out, size, "%s##%s##%s", ns, grouped, client_id);
}

int lc_entry_encode_instance(const struct lc_instance_entry *ie, void **data,
                             size_t *len)
{
    Locus__Naming__InstanceStore st = LOCUS__NAMING__INSTANCE_STORE__INIT;
    st.namespace_ = (char *)ie->ns;
    st.group_name = (char *)ie->group;
    st.service_name = (char *)ie->service;
    st.client_id = (char *)ie->client_id;
    st.ip = (char *)ie->ip;
    st.port = ie->port;
    st.cluster = (char *)ie->cluster;
    st.weight = ie->weight;
    st.healthy = ie->healthy;
    st.enabled = ie->enabled;
    st.metadata = (char *)ie->metadata;
    st.instance_id = (char *)ie->instance_id;
    *len = locus__naming__instance_store__get_packed_size(&st);
    *data = malloc(*len > 0 ? *len : 1);
    if (*data == NULL) {
        return LC_ENOMEM;
    }
    locus__naming__instance_store__pack(&st, *data);
    return 0;
}

int lc_entry_write_instance(struct lc_naming *n, const char *op,
                            const struct lc_instance_entry *ie,
                            struct lc_sm_write *w, lc_sm_write_cb cb)
{
    char key[2400];
    void *data;
    size_t len;
    int rv = lc_entry_encode_instance(ie, &data, &len);
    if (rv != 0) {
        return rv;
    }
    lc_entry_instance_key(key, sizeof key, ie->ns, ie->grouped,
                          ie->client_id);
    return submit(n->persistent_sm, key, op, data, len, w, cb);
}

int lc_entry_write_health(struct lc_naming *n, const struct lc_service *svc,
                          const char *client_id,
                          const struct lc_instance *inst, bool healthy,
                          struct lc_sm_write *w, lc_sm_write_cb cb)
{
    struct lc_instance_entry ie = {
        .ns = svc->ns,
        .group = svc->group,
        .service = svc->name,
        .grouped = svc->grouped,
        .client_id = client_id,
        .ip = inst->ip,
        .port = inst->port,
        .cluster = inst->cluster,
        .weight = inst->weight,
        .healthy = healthy,
        .enabled = inst->enabled,
        .metadata = inst->metadata_text,
        .instance_id = inst->instance_id,
    };
    return lc_entry_write_instance(n, LC_ENTRY_HEALTH, &ie, w, cb);
}

/* ---------------------------------------------- naming_instance_metadata */

int lc_entry_encode_overlay(const char *okey, const json_t *overlay,
                            void **data, size_t *len)
{
    Locus__Naming__MetadataStore st = LOCUS__NAMING__METADATA_STORE__INIT;
    char *value = NULL;
    if (overlay != NULL) {
        value = json_dumps(overlay, JSON_COMPACT | JSON_SORT_KEYS);
        if (value == NULL) {
            return LC_ENOMEM;
        }
        st.value.data = (uint8_t *)value;
        st.value.len = strlen(value);
    }
    st.key = (char *)okey;
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

int lc_entry_write_overlay(struct lc_naming *n, const char *okey,
                           const json_t *overlay, struct lc_sm_write *w,
                           lc_sm_write_cb cb)
{
    void *data;
    size_t len;
    int rv = lc_entry_encode_overlay(okey, overlay, &data, &len);
    if (rv != 0) {
        return rv;
    }
    return submit(n->instance_meta_sm, okey, LC_ENTRY_PUT, data, len, w, cb);
}

int lc_entry_write_overlay_delete(struct lc_naming *n, const char *okey,
                                  struct lc_sm_write *w, lc_sm_write_cb cb)
{
    void *data;
    size_t len;
    int rv = lc_entry_encode_overlay(okey, NULL, &data, &len);
    if (rv != 0) {
        return rv;
    }
    return submit(n->instance_meta_sm, okey, LC_ENTRY_DELETE, data, len, w,
                  cb);
}

/* ----------------------------------------------- naming_service_metadata */

int lc_entry_encode_service_meta(const char *ns, const char *group,
                                 const char *name,
                                 const Locus__Naming__ServiceMeta *meta,
                                 void **data, size_t *len)
{
    Locus__Naming__ServiceMetaOp op = LOCUS__NAMING__SERVICE_META_OP__INIT;
    op.namespace_ = (char *)ns;
    op.group_name = (char *)group;
    op.service_name = (char *)name;
    op.metadata = (Locus__Naming__ServiceMeta *)meta;
    *len = locus__naming__service_meta_op__get_packed_size(&op);
    *data = malloc(*len > 0 ? *len : 1);
    if (*data == NULL) {
        return LC_ENOMEM;
    }
    locus__naming__service_meta_op__pack(&op, *data);
    return 0;
}

int lc_entry_write_service_meta(struct lc_naming *n, const char *op,
                                const char *ns, const char *group,
                                const char *name,
                                const Locus__Naming__ServiceMeta *meta,
                                struct lc_sm_write *w, lc_sm_write_cb cb)
{
    char key[1400];
    void *data;
    size_t len;
    int rv = lc_entry_encode_service_meta(ns, group, name, meta, &data, &len);
    if (rv != 0) {
        return rv;
    }
    snprintf(key, sizeof key, "%s##%s@@%s", ns, group, name);
    return submit(n->service_meta_sm, key, op, data, len, w, cb);
}

/* --------------------------------------------- naming_persistent_service */

int lc_entry_encode_switch(const char *entry, const char *value, void **data,
                           size_t *len)
{
    json_t *o = json_object();
    char *text;
    json_object_set_new(o, "entry", json_string(entry));
    json_object_set_new(o, "value", json_string(value));
    text = json_object_size(o) == 2 ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL) {
        return LC_ENOMEM;
    }
    *data = text;
    *len = strlen(text);
    return 0;
}

int lc_entry_write_switch(struct lc_naming *n, const char *entry,
                          const char *value, struct lc_sm_write *w,
                          lc_sm_write_cb cb)
{
    void *data;
    size_t len;
    int rv = lc_entry_encode_switch(entry, value, &data, &len);
    if (rv != 0) {
        return rv;
    }
    return submit(n->switch_sm, LC_SWITCH_DOMAIN_KEY, LC_SWITCH_WRITE, data,
                  len, w, cb);
}
