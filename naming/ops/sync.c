/* The naming side of Distro (sync.h): Distro clients as Nacos's
 * ClientSyncData, applied into the registry through its bus.
 *
 * ClientSyncData (Nacos 2.4 ClientSyncData, InstancePublishInfo,
 * BatchInstanceData): {"clientId", "attributes":{"clientAttributes":
 * {"revision":n}}, "namespaces":[], "groupNames":[], "serviceNames":[],
 * "instancePublishInfos":[{ip, port, healthy, cluster, extendDatum}],
 * "batchInstanceData":{namespaces, groupNames, serviceNames,
 * batchInstancePublishInfos:[{"instancePublishInfos":[...]}]}}. An
 * instance's weight, enabled flag and custom instance id travel in
 * extendDatum as Nacos puts them there ("weight", "enabled",
 * "customInstanceId"); the rest of extendDatum is its metadata.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "naming/ops/ops.h"
#include "naming/ops/sync.h"

#define NAME_MAX_LEN 1024
#define IP_MAX_LEN 255

/* ---------------------------------------------------------------- ids */

/* The length of the connection id of companion @id ("<id>#b<k>"), or 0
 * when @id is no companion. */
static size_t companion_base(const char *id)
{
    const char *hash = strrchr(id, '#');
    const char *p;
    if (hash == NULL || hash[1] != 'b' || hash[2] == '\0') {
        return 0;
    }
    for (p = hash + 2; *p != '\0'; p++) {
        if (!isdigit((unsigned char)*p)) {
            return 0;
        }
    }
    return (size_t)(hash - id);
}

static void companion_id(char *out, size_t size, const char *id, unsigned k)
{
    snprintf(out, size, "%s#b%u", id, k);
}

/* Whether @id names an ip:port client ("ip:port#true"). */
static bool is_ip_port(const char *id)
{
    size_t len = strlen(id);
    return len > 5 && strcmp(id + len - 5, "#true") == 0;
}

void lc_sync_client_of(const char *id, char *out, size_t size)
{
    size_t len = companion_base(id);
    if (len == 0) {
        len = strlen(id);
    }
    if (len >= size) {
        len = size - 1;
    }
    memcpy(out, id, len);
    out[len] = '\0';
}

static bool ip_port_responsible(struct lc_naming *n, const char *id)
{
    char tag[LC_SYNC_ID_MAX];
    size_t len = strlen(id) - 5; /* "#true" */
    if (len >= sizeof tag) {
        return false;
    }
    memcpy(tag, id, len);
    tag[len] = '\0';
    return lc_sync_responsible(n, tag);
}

static bool client_owned(struct lc_naming *n, const struct lc_client *c)
{
    switch (c->kind) {
        case LC_CLIENT_CONNECTION:
            return true;
        case LC_CLIENT_EPHEMERAL:
            return ip_port_responsible(n, c->id);
        default:
            return false;
    }
}

bool lc_sync_owned(struct lc_naming *n, const char *id)
{
    struct lc_client *c = lc_registry_find_client(n->reg, id);
    if (c != NULL) {
        return client_owned(n, c);
    }
    return is_ip_port(id) ? ip_port_responsible(n, id) : true;
}

bool lc_sync_revision(struct lc_naming *n, const char *id, uint64_t *rev)
{
    struct lc_client *c = lc_registry_find_client(n->reg, id);
    if (c == NULL || !c->ephemeral) {
        return false;
    }
    *rev = c->revision;
    return true;
}

/* ----------------------------------------------------------- serialize */

static json_t *publish_info(const struct lc_instance *inst)
{
    json_t *o = json_object();
    json_t *ext = NULL;
    if (inst->metadata_text != NULL) {
        ext = json_loads(inst->metadata_text, 0, NULL);
    }
    if (!json_is_object(ext)) {
        json_decref(ext);
        ext = json_object();
    }
    json_object_set_new(ext, "weight", json_real(inst->weight));
    json_object_set_new(ext, "enabled", json_boolean(inst->enabled));
    if (inst->instance_id != NULL && inst->instance_id[0] != '\0') {
        json_object_set_new(ext, "customInstanceId",
                            json_string(inst->instance_id));
    }
    json_object_set_new(o, "ip", json_string(inst->ip));
    json_object_set_new(o, "port", json_integer(inst->port));
    json_object_set_new(o, "healthy", json_boolean(inst->healthy));
    json_object_set_new(o, "cluster", json_string(inst->cluster));
    json_object_set_new(o, "extendDatum", ext);
    return o;
}

static void add_names(json_t *holder, const struct lc_service *svc)
{
    json_array_append_new(json_object_get(holder, "namespaces"),
                          json_string(svc->ns));
    json_array_append_new(json_object_get(holder, "groupNames"),
                          json_string(svc->group));
    json_array_append_new(json_object_get(holder, "serviceNames"),
                          json_string(svc->name));
}

static json_t *names_holder(const char *list)
{
    json_t *o = json_object();
    json_object_set_new(o, "namespaces", json_array());
    json_object_set_new(o, "groupNames", json_array());
    json_object_set_new(o, "serviceNames", json_array());
    json_object_set_new(o, list, json_array());
    return o;
}

json_t *lc_sync_data(struct lc_naming *n, const char *id)
{
    struct lc_client *c = lc_registry_find_client(n->reg, id);
    struct lc_publish *pub, *tmp;
    char cid[LC_SYNC_ID_MAX + 16];
    json_t *o, *batch;

    if (c == NULL || !c->ephemeral) {
        return NULL;
    }
    o = names_holder("instancePublishInfos");
    batch = names_holder("batchInstancePublishInfos");
    json_object_set_new(o, "clientId", json_string(id));
    json_object_set_new(
        o, "attributes",
        json_pack("{s:{s:I}}", "clientAttributes", "revision",
                  (json_int_t)c->revision));
    HASH_ITER(hh, c->publishes, pub, tmp)
    {
        json_t *list = NULL;
        for (unsigned k = 1; c->kind != LC_CLIENT_EPHEMERAL; k++) {
            struct lc_instance *inst;
            companion_id(cid, sizeof cid, id, k);
            inst = lc_registry_instance_of(n->reg, cid, pub->service);
            if (inst == NULL) {
                break;
            }
            if (list == NULL) {
                list = json_array();
                json_array_append_new(list, publish_info(pub->inst));
            }
            json_array_append_new(list, publish_info(inst));
        }
        if (list == NULL) {
            add_names(o, pub->service);
            json_array_append_new(json_object_get(o, "instancePublishInfos"),
                                  publish_info(pub->inst));
        } else {
            add_names(batch, pub->service);
            json_array_append_new(
                json_object_get(batch, "batchInstancePublishInfos"),
                json_pack("{s:o}", "instancePublishInfos", list));
        }
    }
    json_object_set_new(o, "batchInstanceData", batch);
    return o;
}

/* ClientSyncData as text, written directly into a struct lc_buf (what
 * lc_sync_data builds as a tree and the caller then dumps, without the
 * tree): the same JSON, the same keys. */
static void t_lit(struct lc_buf *b, const char *s)
{
    lc_buf_add(b, s, strlen(s));
}


/* Whether @inst's metadata names a key extendDatum adds itself: such an
 * instance is rendered through the tree (which replaces the key) rather
 * than spliced (which would repeat it). */
static bool meta_clashes(const struct lc_instance *inst)
{
    const char *m = inst->metadata_text;
    return m != NULL && (strstr(m, "\"weight\"") != NULL ||
                         strstr(m, "\"enabled\"") != NULL ||
                         strstr(m, "\"customInstanceId\"") != NULL);
}

static void t_instance(struct lc_buf *b, const struct lc_instance *inst)
{
    const char *m = inst->metadata_text;
    char num[64];
    if (meta_clashes(inst)) {
        json_t *o = publish_info(inst);
        char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (text == NULL) {
            b->oom = true;
            return;
        }
        t_lit(b, text);
        free(text);
        return;
    }
    t_lit(b, "{\"ip\":");
    lc_buf_json_str(b, inst->ip);
    snprintf(num, sizeof num, ",\"port\":%d,\"healthy\":%s,\"cluster\":",
             inst->port, inst->healthy ? "true" : "false");
    t_lit(b, num);
    lc_buf_json_str(b, inst->cluster);
    t_lit(b, ",\"extendDatum\":{");
    if (m != NULL && strcmp(m, "{}") != 0) {
        size_t len = strlen(m); /* canonical: "{...}" */
        lc_buf_add(b, m + 1, len - 2);
        lc_buf_add(b, ",", 1);
    }
    /* a real as jansson writes it: 1 is "1.0" (Nacos reads a double) */
    snprintf(num, sizeof num, "\"weight\":%.17g", inst->weight);
    if (strpbrk(num + 9, ".e") == NULL) {
        strcat(num, ".0");
    }
    t_lit(b, num);
    t_lit(b, inst->enabled ? ",\"enabled\":true" : ",\"enabled\":false");
    if (inst->instance_id != NULL && inst->instance_id[0] != '\0') {
        t_lit(b, ",\"customInstanceId\":");
        lc_buf_json_str(b, inst->instance_id);
    }
    t_lit(b, "}}");
}

/* One service's names into the three parallel arrays' buffers. */
static void t_names(struct lc_buf names[3], const struct lc_service *svc)
{
    for (int i = 0; i < 3; i++) {
        if (names[i].len > 1) {
            lc_buf_add(&names[i], ",", 1);
        }
    }
    lc_buf_json_str(&names[0], svc->ns);
    lc_buf_json_str(&names[1], svc->group);
    lc_buf_json_str(&names[2], svc->name);
}

static void t_holder(struct lc_buf *b, struct lc_buf names[3], const char *list,
                     struct lc_buf *items)
{
    static const char *keys[3] = {"\"namespaces\":", ",\"groupNames\":",
                                  ",\"serviceNames\":"};
    for (int i = 0; i < 3; i++) {
        t_lit(b, keys[i]);
        lc_buf_add(b, names[i].p, names[i].len);
        lc_buf_add(b, "]", 1);
    }
    t_lit(b, ",\"");
    t_lit(b, list);
    t_lit(b, "\":");
    lc_buf_add(b, items->p, items->len);
    lc_buf_add(b, "]", 1);
}

char *lc_sync_text(struct lc_naming *n, const char *id, size_t *len)
{
    struct lc_client *c = lc_registry_find_client(n->reg, id);
    struct lc_publish *pub, *tmp;
    char cid[LC_SYNC_ID_MAX + 16];
    char num[96];
    struct lc_buf out = {0}, sn[3] = {{0}}, bn[3] = {{0}}, singles = {0},
                batches = {0};
    bool oom = false;

    if (c == NULL || !c->ephemeral) {
        return NULL;
    }
    for (int i = 0; i < 3; i++) {
        lc_buf_add(&sn[i], "[", 1);
        lc_buf_add(&bn[i], "[", 1);
    }
    lc_buf_add(&singles, "[", 1);
    lc_buf_add(&batches, "[", 1);
    HASH_ITER(hh, c->publishes, pub, tmp)
    {
        bool listed = false;
        for (unsigned k = 1; c->kind != LC_CLIENT_EPHEMERAL; k++) {
            struct lc_instance *inst;
            companion_id(cid, sizeof cid, id, k);
            inst = lc_registry_instance_of(n->reg, cid, pub->service);
            if (inst == NULL) {
                break;
            }
            if (!listed) {
                listed = true;
                if (batches.len > 1) {
                    lc_buf_add(&batches, ",", 1);
                }
                t_lit(&batches, "{\"instancePublishInfos\":[");
                t_instance(&batches, pub->inst);
            }
            lc_buf_add(&batches, ",", 1);
            t_instance(&batches, inst);
        }
        if (listed) {
            lc_buf_add(&batches, "]}", 2);
            t_names(bn, pub->service);
        } else {
            if (singles.len > 1) {
                lc_buf_add(&singles, ",", 1);
            }
            t_instance(&singles, pub->inst);
            t_names(sn, pub->service);
        }
    }
    lc_buf_add(&out, "{", 1);
    t_holder(&out, sn, "instancePublishInfos", &singles);
    t_lit(&out, ",\"clientId\":");
    lc_buf_json_str(&out, id);
    snprintf(num, sizeof num,
             ",\"attributes\":{\"clientAttributes\":{\"revision\":%llu}},"
             "\"batchInstanceData\":{",
             (unsigned long long)c->revision);
    t_lit(&out, num);
    t_holder(&out, bn, "batchInstancePublishInfos", &batches);
    lc_buf_add(&out, "}", 1);
    lc_buf_add(&out, "}", 1);
    oom = out.oom;
    for (int i = 0; i < 3; i++) {
        oom = oom || sn[i].oom || bn[i].oom;
        free(sn[i].p);
        free(bn[i].p);
    }
    oom = oom || singles.oom || batches.oom;
    free(singles.p);
    free(batches.p);
    if (oom) {
        free(out.p);
        return NULL;
    }
    *len = out.len;
    return out.p;
}

/* ---------------------------------------------------------------- apply */

/* What an entry of a ClientSyncData decodes to. */
struct entry {
    struct lc_service_key key;
    uint32_t hash; /* key_hash(key): most comparisons end there */
    struct lc_instance **insts; /* 1 (single) or more (batch) */
    size_t count;
};

/* FNV-1a over a service's three names (a client may publish hundreds of
 * services: entries are told apart without comparing strings). */
static uint32_t key_hash(const char *ns, const char *group, const char *name)
{
    const char *parts[3] = {ns, group, name};
    uint32_t h = 2166136261u;
    for (int i = 0; i < 3; i++) {
        for (const char *p = parts[i]; *p != '\0'; p++) {
            h = (h ^ (unsigned char)*p) * 16777619u;
        }
        h = (h ^ 0xff) * 16777619u; /* a separator no name holds */
    }
    return h;
}

struct decoded {
    const char *id;
    uint64_t revision;
    struct entry *entries;
    size_t count;
};

static void decoded_free(struct decoded *d)
{
    for (size_t i = 0; i < d->count; i++) {
        for (size_t j = 0; j < d->entries[i].count; j++) {
            if (d->entries[i].insts[j] != NULL) {
                lc_instance_unref(d->entries[i].insts[j]);
            }
        }
        free(d->entries[i].insts);
    }
    free(d->entries);
    d->entries = NULL;
    d->count = 0;
}

static bool good_text(const json_t *v, size_t max, bool empty_ok)
{
    const char *s = json_string_value(v);
    size_t len;
    if (s == NULL) {
        return false;
    }
    len = json_string_length(v);
    if (len > max || (!empty_ok && len == 0) || strlen(s) != len) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20) {
            return false;
        }
    }
    return true;
}

static int bad(struct lc_err *e, const char *what)
{
    return lc_err_set(e, LC_EINVAL, "invalid ClientSyncData: %s", what);
}

/* An InstancePublishInfo into an instance (NULL with @e on bad input). */
static struct lc_instance *decode_instance(const json_t *info,
                                           struct lc_err *e)
{
    json_t *ext, *v, *meta;
    const char *key;
    double weight = 1.0;
    bool enabled = true;
    const char *instance_id = NULL;
    json_int_t port;
    char *text;
    bool has_meta;
    struct lc_instance *inst;

    if (!json_is_object(info) ||
        !good_text(json_object_get(info, "ip"), IP_MAX_LEN, false) ||
        !lc_check_ip(json_string_value(json_object_get(info, "ip")))) {
        bad(e, "instance ip");
        return NULL;
    }
    v = json_object_get(info, "port");
    port = json_is_integer(v) ? json_integer_value(v) : -1;
    if (port < 0 || port > 65535) {
        bad(e, "instance port");
        return NULL;
    }
    v = json_object_get(info, "healthy");
    if (v != NULL && !json_is_boolean(v)) {
        bad(e, "instance healthy");
        return NULL;
    }
    v = json_object_get(info, "cluster");
    if (v != NULL && !json_is_null(v) && !good_text(v, 256, true)) {
        bad(e, "instance cluster");
        return NULL;
    }
    ext = json_object_get(info, "extendDatum");
    if (ext != NULL && !json_is_null(ext) && !json_is_object(ext)) {
        bad(e, "instance extendDatum");
        return NULL;
    }
    meta = NULL; /* made on the first metadata key: most have none */
    json_object_foreach(ext, key, v)
    {
        bool special =
            (strcmp(key, "weight") == 0 && json_is_number(v)) ||
            (strcmp(key, "enabled") == 0 && json_is_boolean(v)) ||
            (strcmp(key, "customInstanceId") == 0 && json_is_string(v));
        if (!special && meta == NULL && (meta = json_object()) == NULL) {
            lc_err_set(e, LC_ENOMEM, "out of memory");
            return NULL;
        }
        if (strcmp(key, "weight") == 0 && json_is_number(v)) {
            weight = json_number_value(v);
        } else if (strcmp(key, "enabled") == 0 && json_is_boolean(v)) {
            enabled = json_is_true(v);
        } else if (strcmp(key, "customInstanceId") == 0 &&
                   json_is_string(v)) {
            instance_id = json_string_value(v);
        } else if (json_is_string(v)) {
            json_object_set(meta, key, v);
        } else {
            /* Nacos's metadata is Map<String,String>. */
            char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            json_object_set_new(meta, key, json_string(s != NULL ? s : ""));
            free(s);
        }
    }
    if (!isfinite(weight) || weight < 0 || weight > 1e6) {
        json_decref(meta);
        bad(e, "instance weight");
        return NULL;
    }
    has_meta = meta != NULL;
    text = has_meta ? json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(meta);
    v = json_object_get(info, "cluster");
    inst = has_meta && text == NULL ? NULL
                        : lc_instance_new(
                              json_string_value(json_object_get(info, "ip")),
                              (int)port,
                              json_is_string(v) && json_string_length(v) > 0
                                  ? json_string_value(v)
                                  : LC_DEFAULT_CLUSTER,
                              weight,
                              !json_is_false(json_object_get(info, "healthy")),
                              enabled, true, text, instance_id);
    free(text);
    if (inst == NULL) {
        lc_err_set(e, LC_ENOMEM, "out of memory");
    }
    return inst;
}

/* The service names of entry @i of @holder's parallel arrays. */
static int decode_key(const json_t *holder, size_t i, size_t count,
                      struct lc_service_key *key, struct lc_err *e)
{
    const json_t *ns = json_object_get(holder, "namespaces");
    const json_t *gs = json_object_get(holder, "groupNames");
    const json_t *ss = json_object_get(holder, "serviceNames");
    if (json_array_size(ns) != count || json_array_size(gs) != count ||
        json_array_size(ss) != count) {
        return bad(e, "namespaces, groupNames and serviceNames must "
                      "parallel the publishes");
    }
    if (!good_text(json_array_get(ns, i), 256, false) ||
        !good_text(json_array_get(gs, i), 256, false) ||
        !good_text(json_array_get(ss, i), NAME_MAX_LEN, false)) {
        return bad(e, "service name");
    }
    key->ns = json_string_value(json_array_get(ns, i));
    key->group = json_string_value(json_array_get(gs, i));
    key->name = json_string_value(json_array_get(ss, i));
    return 0;
}

static int add_entry(struct decoded *d, const struct lc_service_key *key,
                     const json_t *infos, bool batch, struct lc_err *e)
{
    struct entry *en;
    size_t count = batch ? json_array_size(infos) : 1;
    uint32_t hash = key_hash(key->ns, key->group, key->name);
    if (batch && (!json_is_array(infos) || count == 0 || count > 100000)) {
        return bad(e, "batchInstancePublishInfos");
    }
    for (size_t i = 0; i < d->count; i++) {
        struct lc_service_key *k = &d->entries[i].key;
        if (d->entries[i].hash == hash && strcmp(k->ns, key->ns) == 0 &&
            strcmp(k->group, key->group) == 0 &&
            strcmp(k->name, key->name) == 0) {
            return bad(e, "a service published twice");
        }
    }
    en = &d->entries[d->count];
    en->key = *key;
    en->hash = hash;
    en->count = count;
    en->insts = calloc(count, sizeof *en->insts);
    if (en->insts == NULL) {
        return lc_err_set(e, LC_ENOMEM, "out of memory");
    }
    d->count++;
    for (size_t i = 0; i < count; i++) {
        en->insts[i] =
            decode_instance(batch ? json_array_get(infos, i) : infos, e);
        if (en->insts[i] == NULL) {
            return e->code;
        }
    }
    return 0;
}

/* Decode and check all of @csd; on error @d is freed. */
static int decode(struct lc_naming *n, const json_t *csd, struct decoded *d,
                  struct lc_err *e)
{
    const json_t *singles, *batch, *batches, *v;
    size_t ns, nb;
    json_int_t rev = 0;
    int rv = 0;

    memset(d, 0, sizeof *d);
    if (!json_is_object(csd) ||
        !good_text(json_object_get(csd, "clientId"), LC_SYNC_ID_MAX - 1,
                   false)) {
        return bad(e, "clientId");
    }
    d->id = json_string_value(json_object_get(csd, "clientId"));
    /* "ip:port#true" or a connection id (no '#'); never a companion. */
    v = json_object_get(csd, "clientId");
    if (strchr(d->id, '#') != NULL &&
        (!is_ip_port(d->id) || strchr(d->id, '#') != strrchr(d->id, '#'))) {
        return bad(e, "clientId");
    }
    v = json_object_get(json_object_get(json_object_get(csd, "attributes"),
                                        "clientAttributes"),
                        "revision");
    if (v != NULL) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            return bad(e, "revision");
        }
        rev = json_integer_value(v);
    }
    d->revision = (uint64_t)rev;
    singles = json_object_get(csd, "instancePublishInfos");
    batch = json_object_get(csd, "batchInstanceData");
    batches = json_object_get(batch, "batchInstancePublishInfos");
    if ((singles != NULL && !json_is_array(singles)) ||
        (batch != NULL && !json_is_null(batch) && !json_is_object(batch)) ||
        (batches != NULL && !json_is_array(batches))) {
        return bad(e, "publishes");
    }
    ns = json_array_size(singles);
    nb = json_array_size(batches);
    if (nb > 0 && is_ip_port(d->id)) {
        return bad(e, "an ip:port client publishes no batch");
    }
    d->entries = calloc(ns + nb + 1, sizeof *d->entries);
    if (d->entries == NULL) {
        return lc_err_set(e, LC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < ns + nb && rv == 0; i++) {
        struct lc_service_key key;
        const json_t *holder = i < ns ? csd : batch;
        size_t j = i < ns ? i : i - ns;
        struct lc_service *svc;
        rv = decode_key(holder, j, i < ns ? ns : nb, &key, e);
        if (rv != 0) {
            break;
        }
        svc = lc_registry_find_service(n->reg, &key);
        if (svc != NULL && !svc->ephemeral) {
            rv = lc_err_set(e, LC_EINVAL,
                            "invalid ClientSyncData: service %s is "
                            "persistent",
                            svc->grouped);
            break;
        }
        rv = i < ns ? add_entry(d, &key, json_array_get(singles, j), false, e)
                    : add_entry(d, &key,
                                json_object_get(json_array_get(batches, j),
                                                "instancePublishInfos"),
                                true, e);
    }
    if (rv != 0) {
        decoded_free(d);
    }
    return rv;
}

int lc_sync_check(struct lc_naming *n, const json_t *csd, struct lc_err *e)
{
    struct decoded d;
    int rv = decode(n, csd, &d, e);
    if (rv == 0) {
        decoded_free(&d);
    }
    return rv;
}

static bool same_instance(const struct lc_instance *a,
                          const struct lc_instance *b)
{
    return a->port == b->port && a->weight == b->weight &&
           a->healthy == b->healthy && a->enabled == b->enabled &&
           strcmp(a->ip, b->ip) == 0 && strcmp(a->cluster, b->cluster) == 0 &&
           strcmp(a->metadata_text != NULL ? a->metadata_text : "{}",
                  b->metadata_text != NULL ? b->metadata_text : "{}") == 0 &&
           strcmp(a->instance_id != NULL ? a->instance_id : "",
                  b->instance_id != NULL ? b->instance_id : "") == 0;
}

/* @who publishes @inst for @svc unless it already publishes the same. */
static int put(struct lc_naming *n, const char *who, enum lc_client_kind kind,
               struct lc_service *svc, struct lc_instance *inst)
{
    struct lc_publish *pub = lc_registry_find_publish(n->reg, who, svc);
    int rv = 0;
    if (pub == NULL || !same_instance(pub->inst, inst)) {
        rv = lc_registry_publish(n->reg, who, kind, svc, inst);
        /* beats matter to an ip:port client only (the beat checker's) */
        pub = kind == LC_CLIENT_EPHEMERAL
                  ? lc_registry_find_publish(n->reg, who, svc)
                  : NULL;
    }
    if (pub != NULL) {
        pub->beat_ms = n->loop != NULL ? uv_now(n->loop) : 0;
    }
    return rv;
}

/* Withdraw @id's companions of @svc from @from on. */
static void drop_companions(struct lc_naming *n, const char *id,
                            struct lc_service *svc, unsigned from)
{
    char cid[LC_SYNC_ID_MAX + 16];
    for (unsigned k = from;; k++) {
        companion_id(cid, sizeof cid, id, k);
        if (lc_registry_find_publish(n->reg, cid, svc) == NULL) {
            return;
        }
        lc_registry_unpublish(n->reg, cid, svc);
    }
}

static bool entry_has(const struct decoded *d, const struct lc_service *svc)
{
    uint32_t hash = key_hash(svc->ns, svc->group, svc->name);
    for (size_t i = 0; i < d->count; i++) {
        const struct lc_service_key *k = &d->entries[i].key;
        if (d->entries[i].hash == hash && strcmp(k->ns, svc->ns) == 0 &&
            strcmp(k->group, svc->group) == 0 &&
            strcmp(k->name, svc->name) == 0) {
            return true;
        }
    }
    return false;
}

static void set_synced(struct lc_naming *n, const char *id, uint64_t revision)
{
    struct lc_client *c = lc_registry_find_client(n->reg, id);
    if (c != NULL) {
        c->revision = revision;
        c->renew_ms = lc_mono_ms();
    }
}

int lc_sync_prepare(struct lc_naming *n, const json_t *csd,
                    struct lc_sync_prepared **out, struct lc_err *e)
{
    struct decoded *d = malloc(sizeof *d);
    int rv;
    if (d == NULL) {
        return lc_err_set(e, LC_ENOMEM, "out of memory");
    }
    rv = decode(n, csd, d, e);
    if (rv != 0) {
        free(d);
        return rv;
    }
    *out = (struct lc_sync_prepared *)d;
    return 0;
}

void lc_sync_prepared_free(struct lc_sync_prepared *p)
{
    if (p != NULL) {
        decoded_free((struct decoded *)p);
        free(p);
    }
}

int lc_sync_apply(struct lc_naming *n, const json_t *csd, struct lc_err *e)
{
    struct lc_sync_prepared *p;
    int rv = lc_sync_prepare(n, csd, &p, e);
    if (rv != 0) {
        return rv;
    }
    rv = lc_sync_apply_prepared(n, p, e);
    lc_sync_prepared_free(p);
    return rv;
}

int lc_sync_apply_prepared(struct lc_naming *n, struct lc_sync_prepared *p,
                           struct lc_err *e)
{
    const struct decoded d = *(struct decoded *)p;
    struct lc_client *c;
    enum lc_client_kind kind;
    char cid[LC_SYNC_ID_MAX + 16];
    int rv = 0;

    c = lc_registry_find_client(n->reg, d.id);
    if (c != NULL && c->kind == LC_CLIENT_CONNECTION) {
        lc_warnf("distro", "sync of %s ignored: a connection of this member",
                 d.id);
        return 0;
    }
    kind = is_ip_port(d.id) ? LC_CLIENT_EPHEMERAL : LC_CLIENT_SYNCED;
    /* Services the client no longer publishes. */
    while (c != NULL) {
        struct lc_publish *pub, *tmp;
        struct lc_service *gone = NULL;
        HASH_ITER(hh, c->publishes, pub, tmp)
        {
            if (!entry_has(&d, pub->service)) {
                gone = pub->service;
                break;
            }
        }
        if (gone == NULL) {
            break;
        }
        drop_companions(n, d.id, gone, 1);
        lc_registry_unpublish(n->reg, d.id, gone);
        c = lc_registry_find_client(n->reg, d.id);
    }
    for (size_t i = 0; i < d.count && rv == 0; i++) {
        struct entry *en = &d.entries[i];
        struct lc_service *svc = lc_registry_service(n->reg, &en->key, true);
        if (svc == NULL) {
            rv = LC_ENOMEM;
            break;
        }
        for (size_t j = 0; j < en->count && rv == 0; j++) {
            const char *who = d.id;
            if (j > 0) {
                companion_id(cid, sizeof cid, d.id, (unsigned)j);
                who = cid;
            }
            rv = put(n, who, kind, svc, en->insts[j]);
        }
        if (rv == 0) {
            drop_companions(n, d.id, svc, (unsigned)en->count);
        }
    }
    if (rv == 0) {
        set_synced(n, d.id, d.revision);
    } else {
        lc_err_set(e, LC_ENOMEM, "out of memory");
    }
    return rv;
}

/* Withdraw everything registry client @id publishes. */
static void drop_client(struct lc_naming *n, const char *id)
{
    struct lc_client *c = lc_registry_find_client(n->reg, id);
    while (c != NULL && c->publishes != NULL) {
        lc_registry_unpublish(n->reg, id, c->publishes->service);
        c = lc_registry_find_client(n->reg, id);
    }
}

static void remove_client(struct lc_naming *n, const char *id)
{
    char cid[LC_SYNC_ID_MAX + 16];
    char own[LC_SYNC_ID_MAX];
    snprintf(own, sizeof own, "%s", id); /* @id may live in the client */
    drop_client(n, own);
    for (unsigned k = 1;; k++) {
        companion_id(cid, sizeof cid, own, k);
        if (lc_registry_find_client(n->reg, cid) == NULL) {
            return;
        }
        drop_client(n, cid);
    }
}

void lc_sync_delete(struct lc_naming *n, const char *id)
{
    struct lc_client *c = lc_registry_find_client(n->reg, id);
    if (c == NULL || !c->ephemeral || c->kind == LC_CLIENT_CONNECTION ||
        companion_base(id) != 0) {
        return;
    }
    remove_client(n, id);
}

bool lc_sync_verify(struct lc_naming *n, const char *id, uint64_t revision)
{
    struct lc_client *c = lc_registry_find_client(n->reg, id);
    struct lc_publish *pub, *tmp;
    if (c == NULL || !c->ephemeral ||
        (revision != 0 && revision != c->revision)) {
        return false;
    }
    c->renew_ms = lc_mono_ms();
    if (c->kind == LC_CLIENT_EPHEMERAL && n->loop != NULL) {
        HASH_ITER(hh, c->publishes, pub, tmp)
        {
            pub->beat_ms = uv_now(n->loop);
        }
    }
    return true;
}

void lc_sync_each(struct lc_naming *n, bool owned_only,
                  void (*fn)(const char *id, uint64_t rev, void *data),
                  void *data)
{
    struct lc_client *c, *tmp;
    HASH_ITER(hh, n->reg->clients, c, tmp)
    {
        if (!c->ephemeral || (c->kind != LC_CLIENT_EPHEMERAL &&
                              companion_base(c->id) != 0)) {
            continue;
        }
        if (owned_only && !client_owned(n, c)) {
            continue;
        }
        fn(c->id, c->revision, data);
    }
}

unsigned lc_sync_expire(struct lc_naming *n, uint64_t now,
                        uint64_t expired_ms)
{
    struct lc_client *c, *tmp;
    char **ids = NULL;
    size_t count = 0, cap = 0;
    /* Collect first: removing a client frees its companions too, which
     * the iteration must not meet. */
    HASH_ITER(hh, n->reg->clients, c, tmp)
    {
        bool synced = c->kind == LC_CLIENT_SYNCED ||
                      (c->kind == LC_CLIENT_EPHEMERAL &&
                       !ip_port_responsible(n, c->id));
        char *copy;
        if (!synced || companion_base(c->id) != 0 ||
            now < c->renew_ms + expired_ms) {
            continue;
        }
        if (count == cap) {
            size_t ncap = cap == 0 ? 64 : cap * 2;
            char **grown = realloc(ids, ncap * sizeof *grown);
            if (grown == NULL) {
                break; /* the rest next time */
            }
            ids = grown;
            cap = ncap;
        }
        copy = strdup(c->id);
        if (copy == NULL) {
            break;
        }
        lc_debugf("distro", "synced client %s expired: not renewed for %llu "
                            "ms",
                  copy, (unsigned long long)(now - c->renew_ms));
        ids[count++] = copy;
    }
    for (size_t i = 0; i < count; i++) {
        remove_client(n, ids[i]);
        free(ids[i]);
    }
    free(ids);
    if (count > 0) {
        lc_infof("distro", "%zu synced client(s) expired: not renewed for %llu "
                           "ms",
                 count, (unsigned long long)expired_ms);
    }
    return (unsigned)count;
}

/* ----------------------------------------------------------------- watch */

static void on_client_event(const struct lc_event *ev, void *data)
{
    struct lc_naming *n = data;
    char id[LC_SYNC_ID_MAX];
    if (n->sync_cb == NULL || ev->client_id == NULL) {
        return;
    }
    if (is_ip_port(ev->client_id) || strchr(ev->client_id, '#') == NULL ||
        companion_base(ev->client_id) != 0) {
        lc_sync_client_of(ev->client_id, id, sizeof id);
        n->sync_cb(id, n->sync_data);
    }
}

int lc_sync_watch(struct lc_naming *n,
                  void (*cb)(const char *id, void *data), void *data)
{
    n->sync_cb = cb;
    n->sync_data = data;
    if (!n->sync_subscribed && cb != NULL) {
        if (lc_bus_subscribe(n->bus, LC_EV_CLIENT_REGISTER_SERVICE,
                             on_client_event, n) != 0 ||
            lc_bus_subscribe(n->bus, LC_EV_CLIENT_DEREGISTER_SERVICE,
                             on_client_event, n) != 0) {
            return LC_ENOMEM;
        }
        n->sync_subscribed = true;
    }
    return 0;
}
