/* The auth module: who a request is (a token, or a username and password)
 * and whether the store's roles let it do what it asks.
 *
 * A token is checked on the loop (an HMAC). A username and password are
 * first looked up in the cache of pairs already checked good (a hit proves
 * the password, costs no BCrypt and is never refused by the limits), then
 * held against the brute-force limits, and only then checked with BCrypt
 * on the thread pool: at most MAX_JOBS such checks and hashes (password.c)
 * run at once, more are refused with LC_EBUSY; checks of a pair already on
 * the pool wait for its answer instead of hashing again.
 *
 * The limits (three limiter.h tables, one window of fail_window_s):
 *   - (user, address): max_fails_per_user failures of one user from one
 *     address refuse that pair;
 *   - user: once a user has max_fails_per_user failures from all addresses
 *     together, an address that has failed for that user in the window is
 *     refused for it, while an address with a clean record still gets its
 *     attempts. A guess spread over many addresses gets one try per fresh
 *     address, and nobody can lock a user out from elsewhere;
 *   - address: max_fails_per_ip failures from one address refuse its
 *     password checks for every user (a cached pair still passes).
 * An attempt counts against all three when it starts and is taken back
 * when the password was good (and the pair forgotten), so guesses sent
 * together cannot pass the limits before the first ends. A refusal never
 * depends on the password, so it tells nothing. A user that does not exist
 * costs the same BCrypt as a wrong password (a dummy hash) and gets the
 * same answer, so neither the answer nor its time tells which names exist.
 *
 * Shutdown: jobs on the pool hold the module; lc_auth_detach cancels those
 * not started, and every job answers LC_ESHUTDOWN from then on.
 * lc_auth_free releases the store, limiters and cache at once, but the
 * struct itself only once the last job's callback has run.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uthash.h>

#include "auth/auth.h"
#include "auth/internal.h"
#include "auth/limiter.h"
#include "auth/store.h"
#include "common/err.h"
#include "common/java.h"
#include "common/log.h"
#include "common/util.h"

/* Password checks waiting on or running in the thread pool. */
#define MAX_JOBS 64
/* Checks and logins waiting on them. */
#define MAX_WAITERS 1024
/* Good (username, password) pairs remembered. */
#define CACHE_MAX 4096
/* Keys each brute-force limiter holds. */
#define LIMITER_MAX 16384
/* Password changes of one user (auth/http.c's PUT /v1/auth/users): each
 * costs a BCrypt and a raft entry. */
#define CHANGES_MAX 5
#define CHANGES_WINDOW_MS 60000

/* A BCrypt hash of cost 10 (Nacos's published one of "nacos"), checked
 * against when the user does not exist so that the answer takes as long as
 * for a wrong password. Never accepted: the job's verdict is false
 * whatever it says. */
static const char DUMMY_HASH[] =
    "$2a$10$EuWPZHzz32dJN7jexM34MOeYirDdFAZm2kuWj7VEOJhhZkDrxfvUu";

struct cache_entry {
    uint8_t key[crypto_generichash_BYTES]; /* keyed hash of user\0password */
    char hash[64];                          /* the BCrypt hash it matched */
    struct cache_entry *prev, *next;        /* least recently used first */
    UT_hash_handle hh;
};

/* Tokens already verified: a client sends the same token with every
 * request, and the HMAC, base64 and JSON of a verification cost more than
 * the request it guards (bench/auth.sh). Only a token that passed
 * lc_jwt_verify gets in, with what it said (user, exp); a hit compares the
 * whole token and still checks exp, and the user and grants are looked up
 * every time, as for a token verified anew. The secret does not change
 * while the process runs, so nothing else can make a cached token wrong.
 * Bounded: the oldest entry goes first. */
#define TOKEN_CACHE_MAX 1024
#define TOKEN_CACHE_LEN 1024 /* longer tokens are verified every time */
_Static_assert(crypto_generichash_KEYBYTES >= crypto_shorthash_KEYBYTES,
               "the token cache's SipHash key is cache_key's first bytes");

struct token_entry {
    uint64_t h; /* SipHash of the token (key: cache_key) */
    char token[TOKEN_CACHE_LEN];
    char user[256];
    int64_t exp;
    UT_hash_handle hh;
};

struct job;

struct lc_auth {
    uv_loop_t *loop;
    struct lc_auth_config cfg;
    uint8_t key[LC_AUTH_KEY_MAX];
    size_t keylen; /* 0: no usable secret */
    struct lc_auth_store *store;
    struct lc_limiter *by_pair; /* "<address> <user>" */
    struct lc_limiter *by_user;
    struct lc_limiter *by_ip;
    struct lc_limiter *changes; /* password changes per user */

    uint8_t cache_key[crypto_generichash_KEYBYTES];
    struct cache_entry *cache;
    struct cache_entry *lru_head, *lru_tail;
    size_t cache_count;
    struct token_entry *tokens; /* insertion order: the oldest first */
    size_t ntokens;

    struct job *jobs; /* on the pool */
    unsigned njobs;
    unsigned nhash; /* password.c's hashes on the pool */
    unsigned nwaiters; /* over all jobs */
    bool detached;
    bool freed; /* lc_auth_free ran; the last job frees the struct */
};

/* A check or a login waiting on a job. */
struct waiter {
    struct lc_auth_check *c; /* one of c, l */
    struct lc_auth_login *l;
    char action;
    bool admin_only;
    char *resource;
    struct waiter *next;
};

/* A password check on the thread pool. Checks of the same username and
 * password that arrive while it runs wait on it rather than run BCrypt
 * again (a client's first burst of requests costs one hash, and counts as
 * one attempt). */
struct job {
    uv_work_t work;
    struct lc_auth *a;
    uint8_t digest[crypto_generichash_BYTES]; /* as the cache's key */
    struct waiter *waiters, *last;
    unsigned nwaiters;
    char username[256];
    char password[512];
    char hash[64];
    char ip[64];
    char pair[64 + 1 + 256]; /* by_pair's key */
    bool known; /* the user exists (else hash is the dummy) */
    bool ok;    /* worker's verdict */
    /* Counting this attempt reached the pair's or the address's limit. */
    bool user_at_max, ip_at_max;
    struct job *prev, *next;
};

/* @s for a log line: itself when short and printable ASCII, else a
 * placeholder (names come from clients). */
static const char *printable(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if (n >= 64 || s[n] < 0x21 || s[n] > 0x7e || s[n] == '"')
            return "(not shown: long or unprintable)";
    return s;
}

static void clear_err(struct lc_err *e)
{
    e->code = 0;
    e->param[0] = '\0';
    e->msg[0] = '\0';
}

/* ----------------------------------------------------------------- cache */

static void cache_digest(const struct lc_auth *a, const char *user,
                         const char *password, uint8_t *out)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, a->cache_key, sizeof a->cache_key,
                            crypto_generichash_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)user,
                              strlen(user) + 1);
    crypto_generichash_update(&st, (const unsigned char *)password,
                              strlen(password));
    crypto_generichash_final(&st, out, crypto_generichash_BYTES);
}

static void lru_unlink(struct lc_auth *a, struct cache_entry *ce)
{
    if (ce->prev != NULL)
        ce->prev->next = ce->next;
    else
        a->lru_head = ce->next;
    if (ce->next != NULL)
        ce->next->prev = ce->prev;
    else
        a->lru_tail = ce->prev;
    ce->prev = ce->next = NULL;
}

static void lru_append(struct lc_auth *a, struct cache_entry *ce)
{
    ce->prev = a->lru_tail;
    ce->next = NULL;
    if (a->lru_tail != NULL)
        a->lru_tail->next = ce;
    else
        a->lru_head = ce;
    a->lru_tail = ce;
}

static void cache_drop(struct lc_auth *a, struct cache_entry *ce)
{
    lru_unlink(a, ce);
    HASH_DEL(a->cache, ce);
    sodium_memzero(ce, sizeof *ce);
    free(ce);
    a->cache_count--;
}

static void cache_clear(struct lc_auth *a)
{
    while (a->lru_head != NULL)
        cache_drop(a, a->lru_head);
}

/* Whether (user, password) was checked good against the hash the store
 * still holds for user. */
static bool cache_hit(struct lc_auth *a, const char *user,
                      const char *password)
{
    uint8_t d[crypto_generichash_BYTES];
    cache_digest(a, user, password, d);
    struct cache_entry *ce = NULL;
    HASH_FIND(hh, a->cache, d, sizeof d, ce);
    sodium_memzero(d, sizeof d);
    if (ce == NULL)
        return false;
    const char *stored = lc_auth_store_password(a->store, user);
    if (stored == NULL || strcmp(stored, ce->hash) != 0) {
        cache_drop(a, ce); /* password changed or user gone */
        return false;
    }
    lru_unlink(a, ce);
    lru_append(a, ce);
    return true;
}

static void cache_put(struct lc_auth *a, const char *user,
                      const char *password, const char *hash)
{
    if (strlen(hash) >= sizeof ((struct cache_entry *)0)->hash)
        return;
    uint8_t d[crypto_generichash_BYTES];
    cache_digest(a, user, password, d);
    struct cache_entry *ce = NULL;
    HASH_FIND(hh, a->cache, d, sizeof d, ce);
    if (ce != NULL) {
        strcpy(ce->hash, hash);
        lru_unlink(a, ce);
        lru_append(a, ce);
        sodium_memzero(d, sizeof d);
        return;
    }
    while (a->cache_count >= CACHE_MAX && a->lru_head != NULL)
        cache_drop(a, a->lru_head);
    ce = calloc(1, sizeof *ce);
    if (ce != NULL) {
        memcpy(ce->key, d, sizeof d);
        strcpy(ce->hash, hash);
        HASH_ADD(hh, a->cache, key, sizeof ce->key, ce);
        lru_append(a, ce);
        a->cache_count++;
    }
    sodium_memzero(d, sizeof d);
}

/* ---------------------------------------------------------------- module */

/* lc_auth_new, with the store from lc_auth_store_new(@engine), or a
 * detached one when @detached. */
static int auth_new(uv_loop_t *loop, struct lc_raft_engine *engine,
                    bool detached, const struct lc_auth_config *cfg,
                    struct lc_auth **out)
{
    struct lc_auth *a = calloc(1, sizeof *a);
    if (a == NULL)
        return LC_ENOMEM;
    int rv = LC_ENOMEM;
    a->loop = loop;
    a->cfg = *cfg;
    long n = cfg->secret_b64[0] == '\0'
                 ? -1
                 : lc_auth_b64_decode(cfg->secret_b64, a->key, sizeof a->key);
    if (n >= 32) {
        a->keylen = (size_t)n;
    } else {
        sodium_memzero(a->key, sizeof a->key);
        if (cfg->enabled) {
            /* lc_auth_config_validate refuses this; never run without. */
            rv = LC_ECONFIG;
            goto err_after_alloc;
        }
    }
    randombytes_buf(a->cache_key, sizeof a->cache_key);
    uint64_t window = (uint64_t)cfg->fail_window_s * 1000;
    a->by_pair = lc_limiter_new(cfg->max_fails_per_user, window, LIMITER_MAX);
    a->by_user = lc_limiter_new(cfg->max_fails_per_user, window, LIMITER_MAX);
    a->by_ip = lc_limiter_new(cfg->max_fails_per_ip, window, LIMITER_MAX);
    a->changes = lc_limiter_new(CHANGES_MAX, CHANGES_WINDOW_MS, LIMITER_MAX);
    if (a->by_pair == NULL || a->by_user == NULL || a->by_ip == NULL ||
        a->changes == NULL)
        goto err_after_limiters;
    rv = detached ? lc_auth_store_new_detached(&a->store)
                  : lc_auth_store_new(engine, &a->store);
    if (rv != 0)
        goto err_after_limiters;
    if (cfg->enabled)
        lc_infof("auth",
                 "on: tokens HS%d, valid %u s; at most %u failed password "
                 "checks per user from one address and %u per address in "
                 "%u s; server "
                 "identity %s",
                 a->keylen < 48 ? 256 : a->keylen < 64 ? 384 : 512,
                 cfg->token_ttl_s, cfg->max_fails_per_user,
                 cfg->max_fails_per_ip, cfg->fail_window_s,
                 cfg->identity_key[0] != '\0' ? "set" : "not set");
    *out = a;
    return 0;

err_after_limiters:
    lc_limiter_free(a->by_pair);
    lc_limiter_free(a->by_user);
    lc_limiter_free(a->by_ip);
    lc_limiter_free(a->changes);
err_after_alloc:
    sodium_memzero(a, sizeof *a);
    free(a);
    return rv;
}

int lc_auth_new(uv_loop_t *loop, struct lc_raft_engine *engine,
                const struct lc_auth_config *cfg, struct lc_auth **out)
{
    return auth_new(loop, engine, false, cfg, out);
}

int lc_auth_new_detached(uv_loop_t *loop, const struct lc_auth_config *cfg,
                         struct lc_auth **out)
{
    return auth_new(loop, NULL, true, cfg, out);
}

void lc_auth_detach(struct lc_auth *a)
{
    if (a == NULL || a->detached)
        return;
    a->detached = true;
    /* Jobs not started yet answer now (LC_ESHUTDOWN from their callback);
     * those running answer when they end. */
    for (struct job *j = a->jobs; j != NULL; j = j->next)
        uv_cancel((uv_req_t *)&j->work);
    if (a->store != NULL)
        lc_auth_store_detach(a->store);
}

/* Forget cached token @t (a bearer secret: wiped before it is freed). */
static void token_drop(struct lc_auth *a, struct token_entry *t)
{
    HASH_DEL(a->tokens, t);
    a->ntokens--;
    sodium_memzero(t, sizeof *t);
    free(t);
}

static void tokens_clear(struct lc_auth *a)
{
    struct token_entry *t, *tmp;
    HASH_ITER(hh, a->tokens, t, tmp)
    {
        token_drop(a, t);
    }
}

static void destroy(struct lc_auth *a)
{
    sodium_memzero(a, sizeof *a);
    free(a);
}

void lc_auth_free(struct lc_auth *a)
{
    if (a == NULL)
        return;
    lc_auth_detach(a);
    if (a->store != NULL) {
        lc_auth_store_free(a->store);
        a->store = NULL;
    }
    lc_limiter_free(a->by_pair);
    a->by_pair = NULL;
    lc_limiter_free(a->by_user);
    a->by_user = NULL;
    lc_limiter_free(a->by_ip);
    a->by_ip = NULL;
    lc_limiter_free(a->changes);
    a->changes = NULL;
    cache_clear(a);
    tokens_clear(a);
    sodium_memzero(a->key, sizeof a->key);
    a->keylen = 0;
    a->freed = true;
    if (a->njobs == 0 && a->nhash == 0)
        destroy(a);
}

bool lc_auth_enabled(const struct lc_auth *a)
{
    return a->cfg.enabled;
}

bool lc_auth_peer_identity(const struct lc_auth *a, const char *value)
{
    const char *want = a->cfg.identity_value;
    if (value == NULL || want[0] == '\0' || a->cfg.identity_key[0] == '\0')
        return false;
    size_t n = strlen(want);
    if (strlen(value) != n)
        return false;
    return sodium_memcmp(value, want, n) == 0;
}

const char *lc_auth_identity_key(const struct lc_auth *a)
{
    return a->cfg.identity_key;
}

const char *lc_auth_identity_value(const struct lc_auth *a)
{
    return a->cfg.identity_value;
}

struct lc_auth_store *lc_auth_store(struct lc_auth *a)
{
    return a->store;
}

uv_loop_t *lc_auth_loop(struct lc_auth *a)
{
    return a->loop;
}

/* Append @s to @out (at @*len, @size bytes), truncating. */
static void append(char *out, size_t size, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (*len + 1 >= size)
        return;
    if (n > size - 1 - *len)
        n = size - 1 - *len;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
}

void lc_auth_naming_resource(const char *ns, const char *group,
                             const char *service, char *out, size_t size)
{
    if (size == 0)
        return;
    size_t len = 0;
    out[0] = '\0';
    /* NacosRoleServiceImpl#joinResource: a blank namespace or "public" is
     * the public namespace, written as nothing (issue #10347). */
    if (!lc_auth_blank(ns) && strcmp(ns, "public") != 0)
        append(out, size, &len, ns);
    append(out, size, &len, ":");
    append(out, size, &len, lc_auth_blank(group) ? "*" : group);
    append(out, size, &len, ":naming/");
    append(out, size, &len, lc_auth_blank(service) ? "*" : service);
}

const char *lc_auth_token_of(const char *authorization,
                             const char *access_token)
{
    if (authorization != NULL && strncmp(authorization, "Bearer ", 7) == 0 &&
        !lc_java_blank(authorization + 7)) {
        return authorization + 7;
    }
    return lc_java_blank(access_token) ? NULL : access_token;
}

/* ------------------------------------------------------------- authorize */

static int deny(struct lc_err *e, const char *msg)
{
    lc_err_set(e, LC_EDENIED, "%s", msg);
    return LC_EDENIED;
}

/* Whether @user (identified) may do @need. */
static int authorize(struct lc_auth *a, const char *user, char action,
                     bool admin_only, const char *resource, bool *admin,
                     struct lc_err *e)
{
    *admin = lc_auth_store_is_admin(a->store, user);
    if (*admin)
        return 0;
    if (admin_only)
        return deny(e, "authorization failed!");
    if (resource == NULL)
        resource = "";
    /* Nacos: every identified user may ask to change a password (the
     * handler then wants the same user or an admin); other console/
     * resources are for admins only. */
    if (strcmp(resource, "console/user/password") == 0)
        return 0;
    if (strncmp(resource, "console/", 8) == 0)
        return deny(e, "authorization failed!");
    if (!lc_auth_store_granted(a->store, user, resource, action))
        return deny(e, "authorization failed!");
    return 0;
}

/* The user a token names, when the token is good and the user exists.
 * Return 0 or the denial in @e. */
static int identify_token(struct lc_auth *a, const char *token, char *user,
                          size_t userlen, int64_t *exp, struct lc_err *e)
{
    if (a->keylen == 0)
        return deny(e, "token invalid!");
    int64_t now = (int64_t)time(NULL);
    size_t tlen = strnlen(token, TOKEN_CACHE_LEN);
    uint64_t h = 0;
    struct token_entry *t = NULL;
    if (tlen < TOKEN_CACHE_LEN) {
        crypto_shorthash((unsigned char *)&h, (const unsigned char *)token,
                         tlen, a->cache_key);
        HASH_FIND(hh, a->tokens, &h, sizeof h, t);
    }
    if (t != NULL && strcmp(t->token, token) == 0 &&
        strlen(t->user) < userlen) {
        if (t->exp < now) {
            token_drop(a, t);
            return deny(e, "token expired!");
        }
        memcpy(user, t->user, strlen(t->user) + 1);
        *exp = t->exp;
    } else {
        int rv = lc_jwt_verify(a->key, a->keylen, token, now, user, userlen,
                               exp, e);
        if (rv != 0)
            return rv;
        if (tlen < TOKEN_CACHE_LEN && strlen(user) < sizeof t->user) {
            if (t != NULL) /* another token with the same hash */
                token_drop(a, t);
            if (a->ntokens >= TOKEN_CACHE_MAX)
                token_drop(a, a->tokens); /* the oldest */
            t = malloc(sizeof *t);
            if (t != NULL) {
                t->h = h;
                memcpy(t->token, token, tlen + 1);
                memcpy(t->user, user, strlen(user) + 1);
                t->exp = *exp;
                HASH_ADD(hh, a->tokens, h, sizeof t->h, t);
                a->ntokens++;
            }
        }
    }
    /* A token outlives nothing: a deleted user's tokens stop at once. */
    if (lc_auth_store_password(a->store, user) == NULL)
        return deny(e, "user not found!");
    return 0;
}

/* by_pair's key: an address has no space, so "<address> <user>" names one
 * pair. */
static void pair_key(const char *user, const char *ip, char *out,
                     size_t size)
{
    snprintf(out, size, "%s %s", ip != NULL ? ip : "", user);
}

/* Refuse a password check of @user from @ip over a brute-force limit
 * (auth.c's head comment). */
static int limited(struct lc_auth *a, const char *user, const char *ip,
                   struct lc_err *e)
{
    uint64_t now = uv_now(a->loop);
    char pair[sizeof ((struct job *)0)->pair];
    pair_key(user, ip, pair, sizeof pair);
    const char *who = NULL;
    uint64_t wait = lc_limiter_blocked(a->by_pair, pair, now);
    if (wait > 0) {
        who = "for this user from this address";
    } else if (lc_limiter_fails(a->by_pair, pair, now) > 0) {
        /* The user is under a guess from several addresses: only
         * addresses with a clean record for it may try. */
        uint64_t w = lc_limiter_blocked(a->by_user, user, now);
        if (w > 0) {
            wait = w;
            who = "for this user";
        }
    }
    uint64_t w2 = lc_limiter_blocked(a->by_ip, ip, now);
    if (w2 > wait) {
        wait = w2;
        who = "from this address";
    }
    sodium_memzero(pair, sizeof pair);
    if (wait == 0)
        return 0;
    lc_err_set(e, LC_EDENIED, "too many failed logins %s, retry in %llu s",
               who, (unsigned long long)((wait + 999) / 1000));
    return LC_EDENIED;
}

uint64_t lc_auth_change_wait(struct lc_auth *a, const char *user)
{
    uint64_t now = uv_now(a->loop);
    uint64_t wait = lc_limiter_blocked(a->changes, user, now);
    if (wait > 0)
        return wait;
    if (lc_limiter_fail(a->changes, user, now) == 0)
        return CHANGES_WINDOW_MS; /* not counted (full, memory): refuse */
    return 0;
}

void lc_auth_change_undo(struct lc_auth *a, const char *user)
{
    lc_limiter_undo(a->changes, user);
}

int lc_auth_pool_take(struct lc_auth *a)
{
    if (a->detached)
        return LC_ESHUTDOWN;
    if (a->njobs + a->nhash >= MAX_JOBS)
        return LC_EBUSY;
    a->nhash++;
    return 0;
}

bool lc_auth_pool_give(struct lc_auth *a)
{
    bool detached = a->detached;
    a->nhash--;
    if (a->freed && a->njobs == 0 && a->nhash == 0)
        destroy(a);
    return detached;
}

bool lc_auth_detached(const struct lc_auth *a)
{
    return a->detached;
}

/* ------------------------------------------------------------------ jobs */

static void on_job_work(uv_work_t *w)
{
    struct job *j = LC_CONTAINER_OF(w, struct job, work);
    bool ok = lc_password_verify(j->password, j->hash);
    j->ok = ok && j->known;
}

static void waiter_free(struct waiter *w)
{
    free(w->resource);
    free(w);
}

static void job_free(struct job *j)
{
    struct waiter *w;
    while ((w = j->waiters) != NULL) {
        j->waiters = w->next;
        waiter_free(w);
    }
    sodium_memzero(j, sizeof *j);
    free(j);
}

static void job_unlink(struct lc_auth *a, struct job *j)
{
    if (j->prev != NULL)
        j->prev->next = j->next;
    else
        a->jobs = j->next;
    if (j->next != NULL)
        j->next->prev = j->prev;
    j->prev = j->next = NULL;
}

/* Sign a token for @l's user, or "AUTH_DISABLED" (auth off, no secret). */
static int issue_token(struct lc_auth *a, struct lc_auth_login *l,
                       struct lc_err *e)
{
    if (a->keylen == 0) {
        lc_strlcpy(l->token, "AUTH_DISABLED", sizeof l->token);
        l->ttl_s = (long)a->cfg.token_ttl_s;
        return 0;
    }
    int64_t exp = (int64_t)time(NULL) + a->cfg.token_ttl_s;
    int rv = lc_jwt_sign(a->key, a->keylen, l->username, exp, l->token,
                         sizeof l->token);
    if (rv != 0)
        return lc_err_set(e, rv, "cannot sign a token for this user");
    l->ttl_s = (long)a->cfg.token_ttl_s;
    return 0;
}

/* Whether @j's password is good and still the store's. */
static bool job_good(struct lc_auth *a, const struct job *j)
{
    if (!j->ok)
        return false;
    const char *stored = lc_auth_store_password(a->store, j->username);
    return stored != NULL && strcmp(stored, j->hash) == 0;
}

/* Answer one waiter of a finished job. The module may have been detached
 * or freed by an earlier waiter's callback. */
static void answer(struct lc_auth *a, struct job *j, struct waiter *w,
                   int status)
{
    struct lc_err e;
    clear_err(&e);
    if (a->detached || status != 0) {
        lc_err_set(&e, LC_ESHUTDOWN, "server is shutting down");
    } else if (!job_good(a, j)) {
        deny(&e, "user not found!");
    } else if (w->c != NULL) {
        bool admin = false;
        if (authorize(a, j->username, w->action, w->admin_only, w->resource,
                      &admin, &e) == 0) {
            lc_strlcpy(w->c->username, j->username, sizeof w->c->username);
            w->c->admin = admin;
        }
    } else {
        lc_strlcpy(w->l->username, j->username, sizeof w->l->username);
        w->l->admin = lc_auth_store_is_admin(a->store, j->username);
        issue_token(a, w->l, &e);
    }
    if (w->c != NULL)
        w->c->cb(w->c, e.code == 0 ? NULL : &e);
    else
        w->l->cb(w->l, e.code == 0 ? NULL : &e);
}

static void on_job_done(uv_work_t *work, int status)
{
    struct job *j = LC_CONTAINER_OF(work, struct job, work);
    struct lc_auth *a = j->a;
    if (!a->detached && status == 0 && job_good(a, j)) {
        /* It was counted as a failure when it started (submit). */
        lc_limiter_undo(a->by_ip, j->ip);
        lc_limiter_undo(a->by_user, j->username);
        lc_limiter_reset(a->by_pair, j->pair);
        cache_put(a, j->username, j->password, j->hash);
    } else if (!a->detached && status == 0) {
        if (j->user_at_max)
            lc_warnf("auth",
                     "user \"%s\" reached %u failed logins from %s in %u "
                     "s: its password checks from there are refused until "
                     "the window ends",
                     printable(j->username), a->cfg.max_fails_per_user,
                     printable(j->ip), a->cfg.fail_window_s);
        if (j->ip_at_max)
            lc_warnf("auth",
                     "address %s reached %u failed logins in %u s: its "
                     "password checks are refused until the window ends",
                     printable(j->ip), a->cfg.max_fails_per_ip,
                     a->cfg.fail_window_s);
    }
    sodium_memzero(j->password, sizeof j->password);
    /* Out of the list, so a check made from a callback does not wait on it
     * (the cache answers it), but still counted through the callbacks, any
     * of which may free the module (the struct then outlives it until
     * below). */
    job_unlink(a, j);
    struct waiter *w;
    while ((w = j->waiters) != NULL) {
        j->waiters = w->next;
        j->nwaiters--;
        a->nwaiters--;
        answer(a, j, w, status);
        waiter_free(w);
    }
    j->last = NULL;
    a->njobs--;
    job_free(j);
    if (a->freed && a->njobs == 0 && a->nhash == 0)
        destroy(a);
}

static struct waiter *waiter_new(struct lc_auth_check *c,
                                 struct lc_auth_login *l,
                                 const struct lc_auth_need *need)
{
    struct waiter *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->c = c;
    w->l = l;
    if (need != NULL) {
        w->action = need->action;
        w->admin_only = need->admin;
        if (need->resource != NULL &&
            (w->resource = strdup(need->resource)) == NULL) {
            free(w);
            return NULL;
        }
    }
    return w;
}

static void job_add_waiter(struct lc_auth *a, struct job *j, struct waiter *w)
{
    if (j->last != NULL)
        j->last->next = w;
    else
        j->waiters = w;
    j->last = w;
    j->nwaiters++;
    a->nwaiters++;
}

/* Queue a BCrypt check of @id's password for @c or @l, or wait on the one
 * already running for the same username and password. */
static int submit(struct lc_auth *a, struct lc_auth_check *c,
                  struct lc_auth_login *l, const struct lc_auth_ident *id,
                  const struct lc_auth_need *need, struct lc_err *e)
{
    if (a->detached)
        return lc_err_set(e, LC_ESHUTDOWN, "server is shutting down");
    if (a->nwaiters >= MAX_WAITERS)
        return lc_err_set(e, LC_EBUSY,
                          "too many password checks in progress, retry "
                          "later or log in for a token");
    uint8_t d[crypto_generichash_BYTES];
    cache_digest(a, id->username, id->password, d);
    struct job *j;
    for (j = a->jobs; j != NULL; j = j->next)
        if (sodium_memcmp(j->digest, d, sizeof d) == 0)
            break;
    struct waiter *w = waiter_new(c, l, need);
    if (w == NULL) {
        sodium_memzero(d, sizeof d);
        return lc_err_set(e, LC_ENOMEM, "out of memory");
    }
    if (j != NULL) {
        sodium_memzero(d, sizeof d);
        job_add_waiter(a, j, w);
        return LC_EAGAIN;
    }
    if (a->njobs + a->nhash >= MAX_JOBS) {
        sodium_memzero(d, sizeof d);
        waiter_free(w);
        return lc_err_set(e, LC_EBUSY,
                          "too many password checks in progress, retry "
                          "later or log in for a token");
    }
    j = calloc(1, sizeof *j);
    if (j == NULL) {
        sodium_memzero(d, sizeof d);
        waiter_free(w);
        return lc_err_set(e, LC_ENOMEM, "out of memory");
    }
    j->a = a;
    memcpy(j->digest, d, sizeof d);
    sodium_memzero(d, sizeof d);
    lc_strlcpy(j->username, id->username, sizeof j->username);
    lc_strlcpy(j->password, id->password, sizeof j->password);
    lc_strlcpy(j->ip, id->remote_ip != NULL ? id->remote_ip : "",
               sizeof j->ip);
    pair_key(j->username, j->ip, j->pair, sizeof j->pair);
    const char *stored = lc_auth_store_password(a->store, id->username);
    j->known = stored != NULL && strlen(stored) < sizeof j->hash;
    lc_strlcpy(j->hash, j->known ? stored : DUMMY_HASH, sizeof j->hash);
    int rv = uv_queue_work(a->loop, &j->work, on_job_work, on_job_done);
    if (rv != 0) {
        waiter_free(w);
        job_free(j);
        return lc_err_set(e, lc_err_from_uv(rv),
                          "cannot queue the password check");
    }
    job_add_waiter(a, j, w);
    j->next = a->jobs;
    if (a->jobs != NULL)
        a->jobs->prev = j;
    a->jobs = j;
    a->njobs++;
    /* Counted as a failure from now on, taken back if it is good: so that
     * attempts running together cannot pass the limits before any ends. */
    uint64_t now = uv_now(a->loop);
    lc_limiter_fail(a->by_user, j->username, now);
    j->user_at_max = lc_limiter_fail(a->by_pair, j->pair, now) ==
                     a->cfg.max_fails_per_user;
    j->ip_at_max =
        lc_limiter_fail(a->by_ip, j->ip, now) == a->cfg.max_fails_per_ip;
    return LC_EAGAIN;
}

/* What a username and password resolve to now: 0 (good, from the cache),
 * LC_EAGAIN (queued), or the denial in @e. */
static int password_path(struct lc_auth *a, struct lc_auth_check *c,
                         struct lc_auth_login *l,
                         const struct lc_auth_ident *id,
                         const struct lc_auth_need *need, struct lc_err *e)
{
    if (lc_auth_blank(id->username) || id->password == NULL || id->password[0] == '\0')
        return deny(e, "user not found!");
    /* Longer than any stored name or than a job holds: no such user. */
    if (strlen(id->username) >= sizeof ((struct job *)0)->username ||
        strlen(id->password) >= sizeof ((struct job *)0)->password)
        return deny(e, "user not found!");
    /* A hit proves the password: no BCrypt, no limit. */
    if (cache_hit(a, id->username, id->password))
        return 0;
    int rv = limited(a, id->username, id->remote_ip, e);
    if (rv != 0)
        return rv;
    return submit(a, c, l, id, need, e);
}

int lc_auth_check(struct lc_auth *a, struct lc_auth_check *c,
                  const struct lc_auth_ident *id,
                  const struct lc_auth_need *need, lc_auth_check_cb cb,
                  struct lc_err *e)
{
    static const struct lc_auth_ident no_ident;
    static const struct lc_auth_need admin_only = {'w', "", true};
    clear_err(e);
    c->cb = cb;
    c->username[0] = '\0';
    c->admin = false;
    if (!a->cfg.enabled)
        return 0;
    if (id == NULL)
        id = &no_ident;
    if (need == NULL)
        need = &admin_only; /* fail closed */
    if (a->detached) {
        lc_err_set(e, LC_ESHUTDOWN, "server is shutting down");
        return 0;
    }
    char user[256];
    bool admin = false;
    if (!lc_auth_blank(id->token)) {
        int64_t exp = 0;
        if (identify_token(a, id->token, user, sizeof user, &exp, e) != 0)
            return 0;
    } else {
        int rv = password_path(a, c, NULL, id, need, e);
        if (rv == LC_EAGAIN) {
            clear_err(e);
            return LC_EAGAIN;
        }
        if (rv != 0)
            return 0;
        lc_strlcpy(user, id->username, sizeof user);
    }
    if (authorize(a, user, need->action, need->admin, need->resource, &admin,
                  e) != 0)
        return 0;
    lc_strlcpy(c->username, user, sizeof c->username);
    c->admin = admin;
    return 0;
}

int lc_auth_login(struct lc_auth *a, struct lc_auth_login *l,
                  const struct lc_auth_ident *id, lc_auth_login_cb cb,
                  struct lc_err *e)
{
    clear_err(e);
    l->cb = cb;
    l->token[0] = '\0';
    l->ttl_s = 0;
    l->admin = false;
    l->username[0] = '\0';
    if (id == NULL) {
        deny(e, "user not found!");
        return 0;
    }
    if (a->detached) {
        lc_err_set(e, LC_ESHUTDOWN, "server is shutting down");
        return 0;
    }
    if (!lc_auth_blank(id->token)) {
        /* A good token is returned as it is; its password is not asked. */
        char user[256];
        int64_t exp = 0;
        if (identify_token(a, id->token, user, sizeof user, &exp, e) != 0)
            return 0;
        if (!lc_strlcpy(l->token, id->token, sizeof l->token)) {
            l->token[0] = '\0';
            deny(e, "token invalid!");
            return 0;
        }
        lc_strlcpy(l->username, user, sizeof l->username);
        l->ttl_s = (long)(exp - (int64_t)time(NULL));
        l->admin = lc_auth_store_is_admin(a->store, user);
        return 0;
    }
    int rv = password_path(a, NULL, l, id, NULL, e);
    if (rv == LC_EAGAIN) {
        clear_err(e);
        return LC_EAGAIN;
    }
    if (rv != 0)
        return 0;
    lc_strlcpy(l->username, id->username, sizeof l->username);
    l->admin = lc_auth_store_is_admin(a->store, id->username);
    issue_token(a, l, e);
    return 0;
}
