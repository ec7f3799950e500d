/* Failed password checks per user and per source address (limiter.h). */
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "auth/limiter.h"

struct entry {
    uint64_t key;      /* SipHash of the key */
    uint64_t start_ms; /* the window's first failure */
    unsigned fails;
    struct entry *prev, *next; /* by start_ms, oldest first */
    UT_hash_handle hh;
};

struct lc_limiter {
    unsigned max_fails;
    uint64_t window_ms;
    size_t capacity;
    size_t count;
    size_t pinned; /* entries at max_fails */
    unsigned char hkey[crypto_shorthash_KEYBYTES];
    struct entry *table;
    struct entry *oldest, *newest;
};

struct lc_limiter *lc_limiter_new(unsigned max_fails, uint64_t window_ms,
                                  size_t capacity)
{
    struct lc_limiter *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    l->max_fails = max_fails;
    l->window_ms = window_ms;
    l->capacity = capacity > 0 ? capacity : 1;
    randombytes_buf(l->hkey, sizeof l->hkey);
    return l;
}

static void unlink_entry(struct lc_limiter *l, struct entry *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        l->oldest = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        l->newest = e->prev;
    e->prev = e->next = NULL;
}

static void append_entry(struct lc_limiter *l, struct entry *e)
{
    e->prev = l->newest;
    e->next = NULL;
    if (l->newest != NULL)
        l->newest->next = e;
    else
        l->oldest = e;
    l->newest = e;
}

static bool at_max(const struct lc_limiter *l, const struct entry *e)
{
    return e->fails >= l->max_fails;
}

static void drop(struct lc_limiter *l, struct entry *e)
{
    if (at_max(l, e))
        l->pinned--;
    unlink_entry(l, e);
    HASH_DEL(l->table, e);
    free(e);
    l->count--;
}

void lc_limiter_free(struct lc_limiter *l)
{
    if (l == NULL)
        return;
    while (l->oldest != NULL)
        drop(l, l->oldest);
    free(l);
}

static uint64_t hash_key(const struct lc_limiter *l, const char *key)
{
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, (const unsigned char *)key, strlen(key), l->hkey);
    uint64_t h;
    memcpy(&h, out, sizeof h);
    return h;
}

static bool ended(const struct lc_limiter *l, const struct entry *e,
                  uint64_t now_ms)
{
    return now_ms >= e->start_ms + l->window_ms;
}

static void drop_ended(struct lc_limiter *l, uint64_t now_ms)
{
    while (l->oldest != NULL && ended(l, l->oldest, now_ms))
        drop(l, l->oldest);
}

/* Room for one more key: windows that ended go first (they are the
 * oldest), then the oldest window whose key is under its limit. Keys at
 * their limit are never evicted while their window runs (a flood of fresh
 * keys must not clear a refused one): false when every key is. */
static bool make_room(struct lc_limiter *l, uint64_t now_ms)
{
    drop_ended(l, now_ms);
    if (l->count < l->capacity)
        return true;
    for (struct entry *e = l->oldest; e != NULL; e = e->next)
        if (!at_max(l, e)) {
            drop(l, e);
            return true;
        }
    return false;
}

static struct entry *find(struct lc_limiter *l, const char *key,
                          uint64_t now_ms)
{
    uint64_t h = hash_key(l, key);
    struct entry *e = NULL;
    HASH_FIND(hh, l->table, &h, sizeof h, e);
    if (e != NULL && ended(l, e, now_ms)) {
        drop(l, e);
        e = NULL;
    }
    return e;
}

uint64_t lc_limiter_blocked(struct lc_limiter *l, const char *key,
                            uint64_t now_ms)
{
    if (l == NULL || key == NULL || key[0] == '\0' || l->max_fails == 0)
        return 0;
    struct entry *e = find(l, key, now_ms);
    if (e == NULL) {
        /* Full of keys at their limit: a new key is refused (fail closed)
         * until the oldest window ends. */
        drop_ended(l, now_ms);
        if (l->count >= l->capacity && l->pinned >= l->count)
            return l->oldest->start_ms + l->window_ms - now_ms;
        return 0;
    }
    if (e->fails < l->max_fails)
        return 0;
    return e->start_ms + l->window_ms - now_ms;
}

unsigned lc_limiter_fail(struct lc_limiter *l, const char *key,
                         uint64_t now_ms)
{
    if (l == NULL || key == NULL || key[0] == '\0' || l->max_fails == 0)
        return 0;
    struct entry *e = find(l, key, now_ms);
    if (e != NULL) {
        if (e->fails < UINT32_MAX) {
            e->fails++;
            if (e->fails == l->max_fails)
                l->pinned++;
        }
        return e->fails;
    }
    if (!make_room(l, now_ms))
        return 0;
    e = calloc(1, sizeof *e);
    if (e == NULL)
        return 0;
    e->key = hash_key(l, key);
    e->start_ms = now_ms;
    e->fails = 1;
    HASH_ADD(hh, l->table, key, sizeof e->key, e);
    append_entry(l, e);
    l->count++;
    if (e->fails == l->max_fails)
        l->pinned++;
    return 1;
}

void lc_limiter_undo(struct lc_limiter *l, const char *key)
{
    if (l == NULL || key == NULL || key[0] == '\0')
        return;
    uint64_t h = hash_key(l, key);
    struct entry *e = NULL;
    HASH_FIND(hh, l->table, &h, sizeof h, e);
    if (e == NULL)
        return;
    bool was = at_max(l, e);
    e->fails--;
    if (was && !at_max(l, e))
        l->pinned--;
    if (e->fails == 0)
        drop(l, e);
}

unsigned lc_limiter_fails(struct lc_limiter *l, const char *key,
                          uint64_t now_ms)
{
    if (l == NULL || key == NULL || key[0] == '\0' || l->max_fails == 0)
        return 0;
    struct entry *e = find(l, key, now_ms);
    return e != NULL ? e->fails : 0;
}

void lc_limiter_reset(struct lc_limiter *l, const char *key)
{
    if (l == NULL || key == NULL || key[0] == '\0')
        return;
    uint64_t h = hash_key(l, key);
    struct entry *e = NULL;
    HASH_FIND(hh, l->table, &h, sizeof h, e);
    if (e != NULL)
        drop(l, e);
}

size_t lc_limiter_size(const struct lc_limiter *l)
{
    return l->count;
}
