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

static void drop(struct lc_limiter *l, struct entry *e)
{
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
    if (e == NULL || e->fails < l->max_fails)
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
        if (e->fails < UINT32_MAX)
            e->fails++;
        return e->fails;
    }
    /* Room: windows that ended go first (they are the oldest), then the
     * oldest window still running. */
    while (l->oldest != NULL &&
           (l->count >= l->capacity || ended(l, l->oldest, now_ms)))
        drop(l, l->oldest);
    e = calloc(1, sizeof *e);
    if (e == NULL)
        return 0;
    e->key = hash_key(l, key);
    e->start_ms = now_ms;
    e->fails = 1;
    HASH_ADD(hh, l->table, key, sizeof e->key, e);
    append_entry(l, e);
    l->count++;
    return 1;
}

void lc_limiter_undo(struct lc_limiter *l, const char *key)
{
    if (l == NULL || key == NULL || key[0] == '\0')
        return;
    uint64_t h = hash_key(l, key);
    struct entry *e = NULL;
    HASH_FIND(hh, l->table, &h, sizeof h, e);
    if (e != NULL && --e->fails == 0)
        drop(l, e);
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
