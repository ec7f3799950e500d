/* What auth/'s files share (private to auth/).
 *
 *   auth.c      the module, lc_auth_check, lc_auth_login, the cache of
 *               good username+password pairs
 *   config.c    the properties' defaults and start refusals
 *   jwt.c       Nacos's tokens: sign and verify (OpenSSL HMAC)
 *   password.c  BCrypt through libxcrypt, on the libuv thread pool
 *   limiter.c   failed password checks per user and per source address
 *   store.c     the processor of LC_AUTH_GROUP: its state, apply and reads
 *   snapshot.c  that processor's snapshot tables (store_state.h: the state
 *               the two share)
 *   write.c     the lc_auth_* writes: hash, then a raft entry
 *   perm.c      Nacos's resource patterns
 *   http.c      the /nacos/v1/auth endpoints
 *   http_console.c  how Nacos's console answers and reads parameters
 *               (RestResult, "caused: ...;", Page), for http.c
 */
#ifndef LC_AUTH_INTERNAL_H
#define LC_AUTH_INTERNAL_H

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "auth/auth.h"
#include "auth/store.h"

/* NULL, "" or only isspace() characters: a token, name or namespace that
 * is not there. */
static inline bool lc_auth_blank(const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        if (!isspace((unsigned char)*s)) {
            return false;
        }
    }
    return true;
}

/* ---------------------------------------------------------------- jwt.c */

/* Longest decoded token secret (secret_b64 holds 1023 characters). */
#define LC_AUTH_KEY_MAX 768

/* Sign a token for @sub expiring at @exp (epoch seconds) with @key (the
 * decoded secret): the header by @keylen (HS256 < 48 <= HS384 < 64 <=
 * HS512). Return 0, or LC_ETOOBIG when @size is too small. */
int lc_jwt_sign(const uint8_t *key, size_t keylen, const char *sub,
                int64_t exp, char *out, size_t size);

/* Verify @token at @now (epoch seconds), in Nacos's order: blank "user not
 * found!", not three parts "token invalid!", an unknown header
 * "unsupported signature algorithm", a bad signature "Invalid signature",
 * expired "token expired!" (each LC_EDENIED in @e). On 0 the subject is in
 * @sub and the expiry in *@exp. */
int lc_jwt_verify(const uint8_t *key, size_t keylen, const char *token,
                  int64_t now, char *sub, size_t sublen, int64_t *exp,
                  struct lc_err *e);

/* Decode standard base64 @b64 (as Java's Base64 decoder: padding optional)
 * into @out. Return the length, or -1 when it is not base64 or too long. */
long lc_auth_b64_decode(const char *b64, uint8_t *out, size_t size);

/* ----------------------------------------------------------- password.c */

/* Blocking (call from the thread pool): BCrypt $2a$10$ hash of @password
 * with a fresh salt into @out (61 bytes needed). Return 0 or LC_E*. */
int lc_password_hash(const char *password, char *out, size_t size);

/* Blocking: whether @password matches @hash ($2a$/$2b$/$2y$ BCrypt),
 * compared in constant time. */
bool lc_password_verify(const char *password, const char *hash);

/* Nacos's PasswordGeneratorUtil: 8 characters with at least one lower,
 * upper, digit and one of "!@#$%&", from a CSPRNG. @out >= 9 bytes. */
void lc_password_generate(char *out);

/* Hash @password on the thread pool; @cb from the loop with status 0
 * (j->hash set) or an LC_E* code (LC_ESHUTDOWN once the module is
 * detached). Counts against the module's pool budget: LC_EBUSY at once
 * when it is full (lc_auth_pool_take). */
struct lc_auth_hash_job;
typedef void (*lc_auth_hash_cb)(struct lc_auth_hash_job *j, int status);
struct lc_auth_hash_job {
    void *data;
    lc_auth_hash_cb cb;
    char hash[128];
    /* private */
    struct lc_auth *a;
    uv_work_t work;
    char password[512];
    int status;
};
int lc_auth_hash_async(struct lc_auth *a, struct lc_auth_hash_job *j,
                       const char *password, lc_auth_hash_cb cb);

/* For tests and tools: lc_auth_new with a store that has no raft group
 * (lc_auth_store_new_detached), driven through
 * lc_statemachine_sm(lc_auth_store_sm(lc_auth_store(a))). */
int lc_auth_new_detached(uv_loop_t *loop, const struct lc_auth_config *cfg,
                         struct lc_auth **out);

/* The thread pool's budget (auth.c's MAX_JOBS), shared by the password
 * checks and lc_auth_hash_async: take a slot before queueing a hash (0,
 * LC_EBUSY when full, LC_ESHUTDOWN once detached); give it back from the
 * job's callback, after using the module (lc_auth_free waits for every
 * slot). lc_auth_pool_give says whether the module was detached. */
int lc_auth_pool_take(struct lc_auth *a);
bool lc_auth_pool_give(struct lc_auth *a);
bool lc_auth_detached(const struct lc_auth *a);

/* A password change of @user may start now: 0 (counted), else the
 * milliseconds until it may (at most 5 a minute per user).
 * lc_auth_change_undo takes one back (the change did not start). */
uint64_t lc_auth_change_wait(struct lc_auth *a, const char *user);
void lc_auth_change_undo(struct lc_auth *a, const char *user);

/* The loop the module runs on (store.c's writes). */
uv_loop_t *lc_auth_loop(struct lc_auth *a);

#endif /* LC_AUTH_INTERNAL_H */
