/* Failed password checks per key (a username, a source address) within a
 * window: the brute-force limits of auth.c. Private to auth/.
 *
 * Each key gets a fixed window that starts at its first failure; once it
 * has @max_fails failures in that window it is refused until the window
 * ends. Keys are kept as keyed 64-bit hashes (SipHash with a random
 * per-process key), so an entry has a fixed small size whatever the key's
 * length, and at most @capacity entries are held: a new key first evicts
 * windows that have ended, then the oldest window of a key still under its
 * limit. A key at its limit is never evicted while its window runs, so a
 * flood of failures under fresh keys cannot clear it; when every key held
 * is at its limit, new keys are refused (lc_limiter_blocked answers the
 * oldest window's end for them, lc_limiter_fail does not count them): the
 * table fails closed. Times are monotonic milliseconds given by the
 * caller. Loop thread only.
 *
 * auth.c keeps three: per (user, address) pair, per user, per address
 * (the policy is in auth.c's head comment and docs/operations.md).
 */
#ifndef LC_AUTH_LIMITER_H
#define LC_AUTH_LIMITER_H

#include <stddef.h>
#include <stdint.h>

struct lc_limiter;

/* Return NULL when out of memory. @max_fails 0: nothing is ever refused. */
struct lc_limiter *lc_limiter_new(unsigned max_fails, uint64_t window_ms,
                                  size_t capacity);
void lc_limiter_free(struct lc_limiter *l);

/* 0 when @key (NULL or "" never is) may try now, else the milliseconds
 * until it may. */
uint64_t lc_limiter_blocked(struct lc_limiter *l, const char *key,
                            uint64_t now_ms);

/* Count a failure of @key at @now_ms; return its failures in the current
 * window (0 when not counted: no key, no limit, out of memory). */
unsigned lc_limiter_fail(struct lc_limiter *l, const char *key,
                         uint64_t now_ms);

/* @key's failures in its current window (0: none, or not held). */
unsigned lc_limiter_fails(struct lc_limiter *l, const char *key,
                          uint64_t now_ms);

/* Take back one failure of @key (an attempt counted when it started that
 * turned out good). */
void lc_limiter_undo(struct lc_limiter *l, const char *key);

/* Forget @key's failures (a success). */
void lc_limiter_reset(struct lc_limiter *l, const char *key);

/* How many keys are held (tests). */
size_t lc_limiter_size(const struct lc_limiter *l);

#endif /* LC_AUTH_LIMITER_H */
