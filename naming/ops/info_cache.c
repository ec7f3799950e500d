/* Rendered ServiceInfo texts, cached per service, query and shape: the
 * answers of HTTP /instance/list (v1 shape) and of gRPC's ServiceQuery and
 * SubscribeService (gRPC shape: the bare service name).
 *
 * Rendering a ServiceInfo builds a jansson tree of every host and serialises
 * it: ~80 us for ten hosts, most of a list request's cost. Clients poll the
 * same few services over and over while they rarely change, so the text is
 * kept and served again until something it was made from changes:
 *   - the service's revision (the registry bumps it on every publish,
 *     withdrawal, health change and instance overlay change), and the
 *     service itself (a uid, so a service removed and created again at the
 *     same address is not mistaken for the old one);
 *   - the instance metadata store (its change counter; service metadata
 *     changes bump the revision of their service) and the switch domain
 *     (cacheMillis);
 *   - the query: clusters and healthyOnly.
 * lastRefTime is the only field that changes per request: the cached text is
 * rendered with lastRefTime 0, split around that value, and each answer is
 * head + now + tail.
 *
 * Entries live in one table with a least-recently-used list; their total
 * size is capped (LC_INFO_CACHE_BYTES) and the oldest are dropped beyond it,
 * so a node answering lists for many large services does not double its
 * memory. Unknown services are not cached (their answer is cheap).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "naming/internal.h"
#include "naming/ops/ops.h"

#define LC_INFO_CACHE_BYTES (16u << 20)
#define MARK "\"lastRefTime\":0"

struct list_entry {
    UT_hash_handle hh; /* by key */
    struct list_entry *newer;
    struct list_entry *older;
    uint64_t uid;
    uint64_t revision;
    unsigned long instance_meta_changes;
    struct lc_switches sw;
    char *text;      /* the answer with MARK's digit cut out */
    size_t head_len; /* bytes before the digit */
    size_t len;
    size_t cost; /* bytes counted against the budget */
    char key[];  /* service key \x1f shape \x1f healthyOnly \x1f clusters */
};

struct lc_info_cache {
    struct list_entry *by_key;
    struct list_entry *newest;
    struct list_entry *oldest;
    size_t bytes;
    size_t budget;
};

static void lru_unlink(struct lc_info_cache *lc, struct list_entry *e)
{
    if (e->newer != NULL) {
        e->newer->older = e->older;
    } else {
        lc->newest = e->older;
    }
    if (e->older != NULL) {
        e->older->newer = e->newer;
    } else {
        lc->oldest = e->newer;
    }
    e->newer = e->older = NULL;
}

static void lru_push(struct lc_info_cache *lc, struct list_entry *e)
{
    e->older = lc->newest;
    e->newer = NULL;
    if (lc->newest != NULL) {
        lc->newest->newer = e;
    } else {
        lc->oldest = e;
    }
    lc->newest = e;
}

static void entry_drop(struct lc_info_cache *lc, struct list_entry *e)
{
    HASH_DEL(lc->by_key, e);
    lru_unlink(lc, e);
    lc->bytes -= e->cost;
    free(e->text);
    free(e);
}

void lc_info_cache_free(struct lc_info_cache *lc)
{
    if (lc == NULL) {
        return;
    }
    while (lc->oldest != NULL) {
        entry_drop(lc, lc->oldest);
    }
    free(lc);
}

static bool entry_fresh(const struct lc_naming *n, const struct list_entry *e,
                        const struct lc_service *svc)
{
    return e->uid == svc->uid && e->revision == svc->revision &&
           e->instance_meta_changes == n->instance_meta.changes &&
           memcmp(&e->sw, &n->sw, sizeof e->sw) == 0;
}

/* Render @svc's answer and split it around lastRefTime. NULL when the
 * rendering has no lastRefTime 0 to split at (then it is not cached) or
 * when out of memory; *@text gets the rendering in the first case. */
static json_t *render_info(struct lc_naming *n, const struct lc_service *svc,
                           const struct lc_service_key *key,
                           const char *clusters, bool healthy_only,
                           enum lc_info_shape shape)
{
    json_t *info = lc_render_service_info(n, svc, key, clusters, healthy_only);
    if (info != NULL && shape == LC_INFO_GRPC) {
        /* gRPC's ServiceInfo carries the bare name beside groupName. */
        json_object_set_new(info, "name", json_string(key->name));
    }
    return info;
}

static struct list_entry *render(struct lc_naming *n,
                                 const struct lc_service *svc,
                                 const struct lc_service_key *key,
                                 const char *clusters, bool healthy_only,
                                 enum lc_info_shape shape, const char *ckey,
                                 size_t ckey_len, char **text)
{
    json_t *info = render_info(n, svc, key, clusters, healthy_only, shape);
    struct list_entry *e;
    char *s;
    char *mark = NULL;
    size_t len;

    *text = NULL;
    if (info == NULL) {
        return NULL;
    }
    json_object_set_new(info, "lastRefTime", json_integer(0));
    s = json_dumps(info, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(info);
    if (s == NULL) {
        return NULL;
    }
    len = strlen(s);
    /* The last match is the top-level key: hosts come before it, and a
     * string inside them cannot hold an unescaped quote. */
    for (char *p = strstr(s, MARK); p != NULL; p = strstr(p + 1, MARK)) {
        mark = p;
    }
    if (mark == NULL ||
        (mark[sizeof MARK - 1] != ',' && mark[sizeof MARK - 1] != '}')) {
        *text = s;
        return NULL;
    }
    e = calloc(1, sizeof *e + ckey_len + 1);
    if (e == NULL) {
        *text = s;
        return NULL;
    }
    memcpy(e->key, ckey, ckey_len + 1);
    e->head_len = (size_t)(mark - s) + sizeof MARK - 2; /* up to the 0 */
    memmove(s + e->head_len, s + e->head_len + 1, len - e->head_len);
    e->text = s;
    e->len = len - 1;
    e->cost = sizeof *e + ckey_len + 1 + len;
    e->uid = svc->uid;
    e->revision = svc->revision;
    e->instance_meta_changes = n->instance_meta.changes;
    memcpy(&e->sw, &n->sw, sizeof e->sw);
    return e;
}

/* @e's text with lastRefTime @now between @prefix and @suffix. */
static char *entry_text(const char *text, size_t len, size_t head_len,
                        const char *prefix, const char *suffix, size_t *out_len)
{
    char now[24];
    size_t plen = strlen(prefix), slen = strlen(suffix);
    int nlen = head_len > 0 ? snprintf(now, sizeof now, "%llu",
                                       (unsigned long long)lc_now_ms())
                            : 0;
    size_t total = plen + len + (size_t)nlen + slen;
    char *out = malloc(total + 1);
    char *p = out;
    if (out == NULL) {
        return NULL;
    }
    memcpy(p, prefix, plen);
    p += plen;
    memcpy(p, text, head_len);
    p += head_len;
    memcpy(p, now, (size_t)nlen);
    p += nlen;
    memcpy(p, text + head_len, len - head_len);
    p += len - head_len;
    memcpy(p, suffix, slen);
    p[slen] = '\0';
    *out_len = total;
    return out;
}

/* The cache, created on first use; NULL when out of memory. */
static struct lc_info_cache *cache_of(struct lc_naming *n)
{
    if (n->info_cache == NULL) {
        n->info_cache = calloc(1, sizeof *n->info_cache);
        if (n->info_cache != NULL) {
            n->info_cache->budget = LC_INFO_CACHE_BYTES;
        }
    }
    return n->info_cache;
}

/* Uncached: render and dump (lastRefTime as rendered). */
static char *text_uncached(struct lc_naming *n, const struct lc_service *svc,
                           const struct lc_service_key *key,
                           const char *clusters, bool healthy_only,
                           enum lc_info_shape shape, const char *prefix,
                           const char *suffix, size_t *len)
{
    json_t *info = render_info(n, svc, key, clusters, healthy_only, shape);
    char *s = info != NULL ? json_dumps(info, JSON_COMPACT |
                                                  JSON_REAL_PRECISION(15))
                           : NULL;
    char *out;
    json_decref(info);
    if (s == NULL) {
        return NULL;
    }
    out = entry_text(s, strlen(s), 0, prefix, suffix, len);
    free(s);
    return out;
}

char *lc_op_service_info_text(struct lc_naming *n,
                              const struct lc_service_key *key,
                              const char *clusters, bool healthy_only,
                              enum lc_info_shape shape, const char *prefix,
                              const char *suffix, size_t *len)
{
    const struct lc_service *svc = lc_registry_find_service(n->reg, key);
    struct lc_info_cache *lc;
    struct list_entry *e = NULL;
    char ckey[2600];
    int klen;
    char *text;
    char *out;

    if (clusters == NULL) {
        clusters = "";
    }
    klen = svc != NULL ? snprintf(ckey, sizeof ckey, "%s\x1f%d\x1f%d\x1f%s",
                                  svc->key, (int)shape, healthy_only, clusters)
                       : -1;
    lc = svc != NULL && klen > 0 && (size_t)klen < sizeof ckey ? cache_of(n)
                                                               : NULL;
    if (lc == NULL) {
        return text_uncached(n, svc, key, clusters, healthy_only, shape,
                             prefix, suffix, len);
    }
    HASH_FIND(hh, lc->by_key, ckey, (unsigned)klen, e);
    if (e != NULL && entry_fresh(n, e, svc)) {
        lru_unlink(lc, e);
        lru_push(lc, e);
        return entry_text(e->text, e->len, e->head_len, prefix, suffix, len);
    }
    if (e != NULL) {
        entry_drop(lc, e);
    }
    e = render(n, svc, key, clusters, healthy_only, shape, ckey, (size_t)klen,
               &text);
    if (e == NULL) {
        out = text != NULL ? entry_text(text, strlen(text), 0, prefix, suffix,
                                        len)
                           : NULL;
        free(text);
        return out;
    }
    out = entry_text(e->text, e->len, e->head_len, prefix, suffix, len);
    if (e->cost > lc->budget) {
        free(e->text);
        free(e);
        return out;
    }
    while (lc->bytes + e->cost > lc->budget && lc->oldest != NULL) {
        entry_drop(lc, lc->oldest);
    }
    HASH_ADD_KEYPTR(hh, lc->by_key, e->key, (unsigned)klen, e);
    lru_push(lc, e);
    lc->bytes += e->cost;
    return out;
}
