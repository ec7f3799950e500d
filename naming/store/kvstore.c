/* A replicated key/value processor: the state machine of the
 * instance-metadata group (overlays; see lc_overlay_key).
 *
 * Entries: operation "PUT" or "DELETE", data = MetadataStore {key, value}.
 * Snapshot: one `kv` table (key TEXT, value BLOB).
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "naming/internal.h"
#include "snapshots/snapshots.h"
#include "naming/naming.pb-c.h"

struct kv_entry {
    char *key;
    uint8_t *value;
    size_t len;
    UT_hash_handle hh;
};

static void entry_free(struct kv_entry *e)
{
    free(e->key);
    free(e->value);
    free(e);
}

static void on_apply(struct lc_processor *p, uint64_t index,
                     const Locus__Consistency__WriteRequest *req,
                     struct lc_raft_result *result)
{
    struct lc_kvstore *kv = p->data;
    Locus__Naming__MetadataStore *st = locus__naming__metadata_store__unpack(
        NULL, req->data.len, req->data.data);
    struct kv_entry *e = NULL;
    bool changed = true;
    (void)index;
    if (st == NULL) {
        result->status = LC_ECORRUPT;
        lc_strlcpy(result->message, "undecodable entry",
                   sizeof result->message);
        return;
    }
    HASH_FIND_STR(kv->entries, st->key, e);
    if (strcmp(req->operation, "PUT") == 0) {
        uint8_t *v = malloc(st->value.len > 0 ? st->value.len : 1);
        if (v == NULL) {
            result->status = LC_ENOMEM;
        } else {
            if (st->value.len > 0) { /* data is NULL for an empty value */
                memcpy(v, st->value.data, st->value.len);
            }
            if (e == NULL) {
                e = calloc(1, sizeof *e);
                if (e == NULL || (e->key = strdup(st->key)) == NULL) {
                    free(e);
                    free(v);
                    result->status = LC_ENOMEM;
                    goto out;
                }
                HASH_ADD_KEYPTR(hh, kv->entries, e->key, strlen(e->key), e);
            } else {
                free(e->value);
            }
            e->value = v;
            e->len = st->value.len;
        }
    } else if (strcmp(req->operation, "DELETE") == 0) {
        if (e != NULL) {
            HASH_DEL(kv->entries, e);
            entry_free(e);
        } else {
            changed = false; /* nothing to delete */
        }
    } else {
        result->status = LC_EINVAL;
        snprintf(result->message, sizeof result->message,
                 "unknown operation '%s'", req->operation);
    }
out:
    if (result->status == 0 && changed) {
        kv->changes++;
    }
    if (result->status == 0 && changed && kv->on_change != NULL) {
        kv->on_change(kv->change_data, st->key);
    }
    locus__naming__metadata_store__free_unpacked(st, NULL);
}

const void *lc_kvstore_get(const struct lc_kvstore *kv, const char *key,
                           size_t *len)
{
    struct kv_entry *e = NULL;
    HASH_FIND_STR(kv->entries, key, e);
    if (e == NULL) {
        return NULL;
    }
    *len = e->len;
    return e->value;
}

/* The frozen state is a copy: these tables are small. */
static int snapshot_freeze(struct lc_processor *p, void **out)
{
    struct lc_kvstore *kv = p->data;
    struct lc_kvstore *copy = calloc(1, sizeof *copy);
    /* copy->on_change stays NULL: the frozen copy reports nothing. */
    struct kv_entry *e, *tmp;
    if (copy == NULL) {
        return LC_ENOMEM;
    }
    HASH_ITER(hh, kv->entries, e, tmp)
    {
        struct kv_entry *c = calloc(1, sizeof *c);
        if (c == NULL || (c->key = strdup(e->key)) == NULL ||
            (c->value = malloc(e->len > 0 ? e->len : 1)) == NULL) {
            if (c != NULL) {
                free(c->key);
                free(c);
            }
            lc_kvstore_clear(copy);
            free(copy);
            return LC_ENOMEM;
        }
        memcpy(c->value, e->value, e->len);
        c->len = e->len;
        HASH_ADD_KEYPTR(hh, copy->entries, c->key, strlen(c->key), c);
    }
    *out = copy;
    return 0;
}

static int snapshot_save(struct lc_processor *p, void *frozen, sqlite3 *db,
                         char *errmsg, size_t errlen)
{
    struct lc_kvstore *kv = frozen;
    struct kv_entry *e, *tmp;
    sqlite3_stmt *st = NULL;
    int rc;
    (void)p;
    rc = sqlite3_exec(db, "CREATE TABLE kv (key TEXT NOT NULL, value BLOB)",
                      NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_prepare_v2(db, "INSERT INTO kv VALUES (?,?)", -1, &st,
                                NULL);
    }
    HASH_ITER(hh, kv->entries, e, tmp)
    {
        if (rc != SQLITE_OK) {
            break;
        }
        sqlite3_bind_text(st, 1, e->key, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, e->value, (int)e->len, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_reset(st);
    }
    if (rc != SQLITE_OK) {
        snprintf(errmsg, errlen, "writing kv: %s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : LC_EIO;
}

static void snapshot_release(struct lc_processor *p, void *frozen)
{
    (void)p;
    lc_kvstore_clear(frozen);
    free(frozen);
}

static int snapshot_load(struct lc_processor *p, sqlite3 *db, char *errmsg,
                         size_t errlen)
{
    struct lc_kvstore *kv = p->data;
    struct lc_kvstore fresh = {NULL, NULL, NULL, 0};
    sqlite3_stmt *st = NULL;
    int rc = lc_snapshot_select(db, "kv", "key, value", &st, errmsg, errlen);
    if (rc != 0) {
        return rc;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        const void *v = sqlite3_column_blob(st, 1);
        int len = sqlite3_column_bytes(st, 1);
        struct kv_entry *e = calloc(1, sizeof *e);
        if (k == NULL || e == NULL || (e->key = strdup(k)) == NULL ||
            (e->value = malloc(len > 0 ? (size_t)len : 1)) == NULL) {
            if (e != NULL) {
                free(e->key);
                free(e);
            }
            rc = SQLITE_NOMEM;
            break;
        }
        if (len > 0) {
            memcpy(e->value, v, (size_t)len);
        }
        e->len = (size_t)len;
        HASH_ADD_KEYPTR(hh, fresh.entries, e->key, strlen(e->key), e);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        snprintf(errmsg, errlen, "reading kv snapshot failed");
        lc_kvstore_clear(&fresh);
        return LC_ECORRUPT;
    }
    /* Report each key that differs, once: gone, changed, or new. */
    struct kv_entry *e, *tmp, *o;
    struct lc_kvstore old = {kv->entries, NULL, NULL, 0};
    kv->entries = fresh.entries;
    kv->changes++;
    if (kv->on_change != NULL) {
        HASH_ITER(hh, old.entries, e, tmp)
        {
            HASH_FIND_STR(kv->entries, e->key, o);
            if (o == NULL || o->len != e->len ||
                memcmp(o->value, e->value, e->len) != 0) {
                kv->on_change(kv->change_data, e->key);
            }
        }
        HASH_ITER(hh, kv->entries, e, tmp)
        {
            HASH_FIND_STR(old.entries, e->key, o);
            if (o == NULL) {
                kv->on_change(kv->change_data, e->key);
            }
        }
    }
    lc_kvstore_clear(&old);
    return 0;
}

void lc_kvstore_clear(struct lc_kvstore *kv)
{
    struct kv_entry *e, *tmp;
    HASH_ITER(hh, kv->entries, e, tmp)
    {
        HASH_DEL(kv->entries, e);
        entry_free(e);
    }
}

unsigned lc_kvstore_count(const struct lc_kvstore *kv)
{
    return HASH_COUNT(kv->entries);
}

void lc_kvstore_each(const struct lc_kvstore *kv,
                     void (*fn)(const char *key, const void *value,
                                size_t len, void *data),
                     void *data)
{
    struct kv_entry *e, *tmp;
    HASH_ITER(hh, kv->entries, e, tmp)
    {
        fn(e->key, e->value, e->len, data);
    }
}

void lc_kvstore_processor(struct lc_kvstore *kv, const char *group,
                          struct lc_processor *p)
{
    memset(p, 0, sizeof *p);
    p->group = group;
    p->data = kv;
    p->on_apply = on_apply;
    p->snapshot_freeze = snapshot_freeze;
    p->snapshot_save = snapshot_save;
    p->snapshot_release = snapshot_release;
    p->snapshot_load = snapshot_load;
}
