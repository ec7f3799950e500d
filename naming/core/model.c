/* Instances (immutable, reference counted), instance ids, grouped names and
 * metadata parsing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "naming/core/model.h"

static const char empty_text[] = "{}";
static const char default_cluster[] = LC_DEFAULT_CLUSTER;

/* The shared empty metadata object (never modified: views copy before
 * merging an overlay). */
static json_t *empty_metadata(void)
{
    static json_t *empty;
    if (empty == NULL) {
        empty = json_object();
    }
    return empty;
}

/* Copy @s (NULL: "") to *@p and return the end of the copy. */
static char *put(char *p, const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    memcpy(p, s != NULL ? s : "", n);
    p[n] = '\0';
    return p + n + 1;
}

struct lc_instance *lc_instance_new(const char *ip, int port,
                                    const char *cluster, double weight,
                                    bool healthy, bool enabled, bool ephemeral,
                                    const char *metadata_text,
                                    const char *instance_id)
{
    struct lc_instance *inst;
    json_error_t jerr;
    json_t *meta = NULL;
    char *canonical = NULL;
    bool shared_cluster = cluster != NULL &&
                          strcmp(cluster, default_cluster) == 0;
    size_t size = sizeof *inst;
    char *p;

    if (metadata_text != NULL && metadata_text[0] != '\0' &&
        strcmp(metadata_text, empty_text) != 0) {
        meta = json_loads(metadata_text, JSON_REJECT_DUPLICATES, &jerr);
        if (meta == NULL || !json_is_object(meta)) {
            json_decref(meta);
            return NULL;
        }
        canonical = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
        if (canonical == NULL) {
            json_decref(meta);
            return NULL;
        }
        if (strcmp(canonical, empty_text) == 0) {
            free(canonical);
            canonical = NULL;
        }
    }
    size += (ip != NULL ? strlen(ip) : 0) + 1;
    size += shared_cluster ? 0 : (cluster != NULL ? strlen(cluster) : 0) + 1;
    size += (instance_id != NULL ? strlen(instance_id) : 0) + 1;
    size += canonical != NULL ? strlen(canonical) + 1 : 0;
    inst = malloc(size);
    if (inst == NULL) {
        json_decref(meta);
        free(canonical);
        return NULL;
    }
    memset(inst, 0, sizeof *inst);
    inst->refs = 1;
    inst->port = port;
    inst->weight = weight;
    inst->healthy = healthy;
    inst->enabled = enabled;
    inst->ephemeral = ephemeral;
    p = (char *)(inst + 1);
    inst->ip = p;
    p = put(p, ip);
    if (shared_cluster) {
        inst->cluster = (char *)default_cluster;
    } else {
        inst->cluster = p;
        p = put(p, cluster);
    }
    inst->instance_id = p;
    p = put(p, instance_id);
    if (canonical != NULL) {
        inst->metadata_text = p;
        put(p, canonical);
        free(canonical);
    } else {
        inst->metadata_text = (char *)empty_text;
    }
    inst->beat_interval_ms = lc_meta_long(meta, LC_META_BEAT_INTERVAL, 5000);
    inst->beat_timeout_ms = lc_meta_long(meta, LC_META_BEAT_TIMEOUT, 15000);
    inst->delete_timeout_ms =
        lc_meta_long(meta, LC_META_DELETE_TIMEOUT, 30000);
    json_decref(meta);
    return inst;
}

json_t *lc_instance_metadata(const struct lc_instance *inst)
{
    json_t *meta;
    if (inst->metadata_text == empty_text) {
        return json_incref(empty_metadata());
    }
    meta = json_loads(inst->metadata_text, 0, NULL);
    if (meta != NULL && !json_is_object(meta)) {
        json_decref(meta);
        meta = NULL;
    }
    return meta;
}

void lc_instance_ref(struct lc_instance *inst)
{
    inst->refs++;
}

/* Freed memory waiting for the last pin (see model.h). */
struct grave {
    void *p;
    bool instance;
    struct grave *next;
};

static unsigned pins;
static struct grave *graves;

static void instance_free(struct lc_instance *inst);

static void bury(void *p, bool instance)
{
    struct grave *g = malloc(sizeof *g);
    if (g == NULL) {
        return; /* out of memory: leaking is safe, freeing is not */
    }
    g->p = p;
    g->instance = instance;
    g->next = graves;
    graves = g;
}

void lc_model_pin(void)
{
    pins++;
}

void lc_model_unpin(void)
{
    if (--pins > 0) {
        return;
    }
    while (graves != NULL) {
        struct grave *g = graves;
        graves = g->next;
        if (g->instance) {
            instance_free(g->p);
        } else {
            free(g->p);
        }
        free(g);
    }
}

void lc_model_defer_free(void *p)
{
    if (p == NULL) {
        return;
    }
    if (pins > 0) {
        bury(p, false);
    } else {
        free(p);
    }
}

void lc_instance_unref(struct lc_instance *inst)
{
    if (inst == NULL || --inst->refs > 0) {
        return;
    }
    if (pins > 0) {
        bury(inst, true);
        return;
    }
    instance_free(inst);
}

static void instance_free(struct lc_instance *inst)
{
    free(inst); /* strings live in the same block */
}

bool lc_instance_equal(const struct lc_instance *a,
                       const struct lc_instance *b)
{
    return a->port == b->port && a->weight == b->weight &&
           a->healthy == b->healthy && a->enabled == b->enabled &&
           a->ephemeral == b->ephemeral && strcmp(a->ip, b->ip) == 0 &&
           strcmp(a->cluster, b->cluster) == 0 &&
           strcmp(a->instance_id, b->instance_id) == 0 &&
           strcmp(a->metadata_text, b->metadata_text) == 0;
}

long long lc_meta_long(const json_t *meta, const char *key, long long dflt)
{
    json_t *v = json_object_get(meta, key);
    const char *s;
    char *end;
    long long n;
    if (v == NULL) {
        return dflt;
    }
    if (json_is_integer(v)) {
        return json_integer_value(v);
    }
    s = json_string_value(v);
    /* Only ^\d+$ counts (Instance#getMetaDataByKeyWithDefault); strtoll
     * alone would take a sign and leading white space. */
    if (s == NULL || *s < '0' || *s > '9') {
        return dflt;
    }
    errno = 0;
    n = strtoll(s, &end, 10);
    return *end == '\0' && errno == 0 ? n : dflt;
}

long long lc_instance_meta_long(const struct lc_instance *inst,
                                const char *key, long long dflt)
{
    json_t *meta;
    long long v;
    if (inst->metadata_text == empty_text) {
        return dflt;
    }
    meta = lc_instance_metadata(inst);
    v = lc_meta_long(meta, key, dflt);
    json_decref(meta);
    return v;
}

void lc_instance_id(char *out, size_t size, const char *ip, int port,
                    const char *cluster, const char *grouped_service)
{
    snprintf(out, size, "%s#%d#%s#%s", ip, port, cluster, grouped_service);
}

bool lc_split_grouped(const char *grouped, const char **group,
                      size_t *group_len, const char **service)
{
    const char *sep = strstr(grouped, LC_GROUP_SEP);
    if (sep == NULL) {
        return false;
    }
    *group = grouped;
    *group_len = (size_t)(sep - grouped);
    *service = sep + 2;
    return true;
}

bool lc_service_key_text(char *out, size_t size,
                         const struct lc_service_key *key)
{
    int n = snprintf(out, size, "%s\x1f%s\x1f%s", key->ns, key->group,
                     key->name);
    return n >= 0 && (size_t)n < size;
}

char *lc_service_names(const struct lc_service_key *key, char **ns,
                       char **group, char **name, char **grouped)
{
    size_t nl = strlen(key->ns) + 1;
    size_t gl = strlen(key->group) + 1;
    size_t sl = strlen(key->name) + 1;
    /* key text (nl + gl + sl), ns, group, name, group@@name (gl + sl + 1) */
    char *b = malloc((nl + gl + sl) * 2 + gl + sl + 1);
    char *p;
    if (b == NULL) {
        return NULL;
    }
    p = b + sprintf(b, "%s\x1f%s\x1f%s", key->ns, key->group, key->name) + 1;
    *ns = memcpy(p, key->ns, nl);
    *group = memcpy(p += nl, key->group, gl);
    *name = memcpy(p += gl, key->name, sl);
    *grouped = p += sl;
    sprintf(p, "%s@@%s", key->group, key->name);
    return b;
}

/* "k=v,k=v" (Nacos's UtilsAndCommons.parseMetadata fallback): Java's
 * text.split(","), then piece.split("=") must give exactly two parts. Java's
 * split drops trailing empty strings, so "a=b," and "a=b=" are fine while
 * "a=", "a=b=c" and "a=b,,c=d" are not. */
static int parse_kv(const char *text, json_t *obj)
{
    const char *p = text;
    size_t len = strlen(text);
    while (len > 0 && text[len - 1] == ',') {
        len--; /* trailing empty pieces */
    }
    while (p < text + len) {
        const char *comma = memchr(p, ',', (size_t)(text + len - p));
        size_t n = comma != NULL ? (size_t)(comma - p)
                                 : (size_t)(text + len - p);
        size_t m = n;
        const char *eq;
        char *k;
        char *v;
        while (m > 0 && p[m - 1] == '=') {
            m--; /* trailing empty parts */
        }
        eq = memchr(p, '=', m);
        if (eq == NULL ||
            memchr(eq + 1, '=', m - (size_t)(eq + 1 - p)) != NULL) {
            return LC_EINVAL;
        }
        k = strndup(p, (size_t)(eq - p));
        v = strndup(eq + 1, m - (size_t)(eq + 1 - p));
        if (k == NULL || v == NULL || json_object_set_new(obj, k, json_string(v)) != 0) {
            free(k);
            free(v);
            return LC_EINVAL;
        }
        free(k);
        free(v);
        p += n + 1;
    }
    return 0;
}

static bool scalar_values(json_t *obj)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (json_is_object(v) || json_is_array(v)) {
            return false;
        }
    }
    return true;
}

int lc_metadata_parse(const char *text, char **canonical)
{
    json_error_t jerr;
    json_t *obj;
    if (text == NULL || text[0] == '\0') {
        *canonical = strdup("{}");
        return *canonical != NULL ? 0 : LC_ENOMEM;
    }
    /* Jackson reads the first JSON value and ignores what follows it. */
    obj = json_loads(text, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &jerr);
    if (json_is_null(obj)) {
        /* The literal null is a null map: accepted, no metadata. */
        json_decref(obj);
        *canonical = strdup("{}");
        return *canonical != NULL ? 0 : LC_ENOMEM;
    }
    if (obj != NULL && (!json_is_object(obj) || !scalar_values(obj))) {
        /* Not a Map<String,String>: Jackson fails and Nacos tries k=v. */
        json_decref(obj);
        obj = NULL;
    }
    if (obj == NULL) {
        obj = json_object();
        if (obj == NULL || parse_kv(text, obj) != 0) {
            json_decref(obj);
            return LC_EINVAL;
        }
    }
    /* Nacos keeps metadata as Map<String,String>: stringify values. */
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(obj, tmp, k, v)
    {
        if (!json_is_string(v)) {
            char *s = json_is_null(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            if (s == NULL) {
                json_object_del(obj, k);
                continue;
            }
            json_object_set_new(obj, k, json_string(s));
            free(s);
        }
    }
    *canonical = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(obj);
    return *canonical != NULL ? 0 : LC_ENOMEM;
}
