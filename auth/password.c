/* Passwords: BCrypt as Nacos stores it ($2a$10$), through libxcrypt.
 *
 * Hashing and checking cost tens of milliseconds on purpose, so they run on
 * the libuv thread pool (lc_auth_hash_async here, the checks in auth.c),
 * never on the loop. Only BCrypt hashes are accepted ($2a$, $2b$, $2y$):
 * libxcrypt also knows DES, MD5 and others, and returns "*0"-style failure
 * tokens, none of which may ever compare equal to a stored value.
 */
#include <crypt.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "auth/internal.h"
#include "common/err.h"
#include "common/util.h"

/* "$2a$10$" + 22 characters of salt + 31 of hash. */
#define BCRYPT_LEN 60

static bool bcrypt_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '/';
}

/* Whether @hash is a well-formed BCrypt hash of a variant we accept. */
static bool bcrypt_form(const char *hash)
{
    if (hash == NULL || strnlen(hash, BCRYPT_LEN + 1) != BCRYPT_LEN)
        return false;
    if (hash[0] != '$' || hash[1] != '2' ||
        (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') ||
        hash[3] != '$' || hash[4] < '0' || hash[4] > '3' || hash[5] < '0' ||
        hash[5] > '9' || hash[6] != '$')
        return false;
    int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
    if (cost < 4 || cost > 31)
        return false;
    for (int i = 7; i < BCRYPT_LEN; i++)
        if (!bcrypt_char(hash[i]))
            return false;
    return true;
}

int lc_password_hash(const char *password, char *out, size_t size)
{
    if (password == NULL || size < BCRYPT_LEN + 1)
        return LC_EINVAL;
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    if (crypt_gensalt_rn("$2a$", 10, NULL, 0, salt, sizeof salt) == NULL)
        return LC_EIO;
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (cd == NULL)
        return LC_ENOMEM;
    int rv = LC_EIO;
    const char *h = crypt_rn(password, salt, cd, sizeof *cd);
    if (h != NULL && bcrypt_form(h) && strncmp(h, "$2a$10$", 7) == 0) {
        memcpy(out, h, BCRYPT_LEN + 1);
        rv = 0;
    }
    sodium_memzero(cd, sizeof *cd);
    free(cd);
    return rv;
}

bool lc_password_verify(const char *password, const char *hash)
{
    if (password == NULL || !bcrypt_form(hash))
        return false;
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (cd == NULL)
        return false;
    bool ok = false;
    const char *h = crypt_rn(password, hash, cd, sizeof *cd);
    if (h != NULL && strnlen(h, BCRYPT_LEN + 1) == BCRYPT_LEN &&
        bcrypt_form(h))
        ok = sodium_memcmp(h, hash, BCRYPT_LEN) == 0;
    sodium_memzero(cd, sizeof *cd);
    free(cd);
    return ok;
}

void lc_password_generate(char *out)
{
    static const char lower[] = "abcdefghijklmnopqrstuvwxyz";
    static const char upper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    static const char digits[] = "0123456789";
    static const char special[] = "!@#$%&";
    static const char all[] = "abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "0123456789!@#$%&";
    char p[8];
    p[0] = lower[randombytes_uniform(sizeof lower - 1)];
    p[1] = upper[randombytes_uniform(sizeof upper - 1)];
    p[2] = digits[randombytes_uniform(sizeof digits - 1)];
    p[3] = special[randombytes_uniform(sizeof special - 1)];
    for (int i = 4; i < 8; i++)
        p[i] = all[randombytes_uniform(sizeof all - 1)];
    /* Fisher-Yates, as Collections.shuffle. */
    for (uint32_t i = 7; i > 0; i--) {
        uint32_t j = randombytes_uniform(i + 1);
        char t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    memcpy(out, p, 8);
    out[8] = '\0';
    sodium_memzero(p, sizeof p);
}

/* ------------------------------------------------------------ async hash */

static void on_hash_work(uv_work_t *w)
{
    struct lc_auth_hash_job *j =
        LC_CONTAINER_OF(w, struct lc_auth_hash_job, work);
    j->status = lc_password_hash(j->password, j->hash, sizeof j->hash);
}

static void on_hash_done(uv_work_t *w, int status)
{
    struct lc_auth_hash_job *j =
        LC_CONTAINER_OF(w, struct lc_auth_hash_job, work);
    sodium_memzero(j->password, sizeof j->password);
    struct lc_auth *a = j->a;
    if (status == UV_ECANCELED)
        j->status = LC_ECANCELED;
    else if (status != 0 && j->status == 0)
        j->status = lc_err_from_uv(status);
    if (lc_auth_detached(a))
        j->status = LC_ESHUTDOWN;
    if (j->status != 0)
        j->hash[0] = '\0';
    j->cb(j, j->status);
    /* After the callback: the module outlives the slot. */
    lc_auth_pool_give(a);
}

int lc_auth_hash_async(struct lc_auth *a, struct lc_auth_hash_job *j,
                       const char *password, lc_auth_hash_cb cb)
{
    if (password == NULL)
        return LC_EINVAL;
    if (!lc_strlcpy(j->password, password, sizeof j->password)) {
        sodium_memzero(j->password, sizeof j->password);
        return LC_ETOOBIG;
    }
    j->cb = cb;
    j->a = a;
    j->status = 0;
    j->hash[0] = '\0';
    /* The checks' budget: a flood of changes must not starve logins. */
    int rv = lc_auth_pool_take(a);
    if (rv != 0) {
        sodium_memzero(j->password, sizeof j->password);
        return rv;
    }
    rv = uv_queue_work(lc_auth_loop(a), &j->work, on_hash_work,
                       on_hash_done);
    if (rv != 0) {
        lc_auth_pool_give(a);
        sodium_memzero(j->password, sizeof j->password);
        return lc_err_from_uv(rv);
    }
    return 0;
}
