/* libFuzzer driver: arbitrary text through Nacos's token verification and
 * the secret's base64 decoding (auth/jwt.c).
 *
 * Input layout: byte 0 holds flags, the rest is a token.
 *   bit 0: before verifying, replace everything after the token's last '.'
 *          with the right HS256 signature of what precedes it, so inputs
 *          get past the MAC and the payload parsing is explored too;
 *   bit 1: verify with a 64-byte key (HS512) instead of a 32-byte one.
 * Whatever verify accepts must name a non-empty subject and an expiry not
 * before now, and signing that subject and expiry again must give a token
 * verify accepts with the same answer. Whatever lc_auth_b64_decode accepts
 * must encode back to the same text (padding aside). */
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/internal.h"
#include "common/err.h"

static const uint8_t key32[] = "fuzz-key-of-thirty-two-bytes-ok!";
static const uint8_t key64[] =
    "fuzz-key-of-sixty-four-bytes-for-the-hs512-header-path-xxxxxxxxx";

#define NOW 1765000000

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0)
        abort();
    return 0;
}

/* Re-sign @t (NUL-terminated, room for 100 more bytes) in place with
 * HS256 under @key. */
static void resign(char *t, const uint8_t *key, size_t keylen)
{
    char *dot = strrchr(t, '.');
    if (dot == NULL)
        return;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)t,
             (size_t)(dot - t), md, &mdlen) == NULL)
        return;
    sodium_bin2base64(dot + 1, 100, md, mdlen,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static void check_b64(const char *text)
{
    uint8_t out[1024];
    long n = lc_auth_b64_decode(text, out, sizeof out);
    if (n < 0)
        return;
    char back[2048];
    sodium_bin2base64(back, sizeof back, out, (size_t)n,
                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    size_t len = strlen(text);
    while (len > 0 && text[len - 1] == '=')
        len--;
    if (strlen(back) != len || memcmp(back, text, len) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 8192)
        return 0;
    uint8_t flags = data[0];
    char *t = malloc(size - 1 + 101);
    if (t == NULL)
        return 0;
    memcpy(t, data + 1, size - 1);
    t[size - 1] = '\0';
    check_b64(t);

    const uint8_t *key = flags & 2 ? key64 : key32;
    size_t keylen = flags & 2 ? sizeof key64 - 1 : sizeof key32 - 1;
    if (flags & 1)
        resign(t, key, keylen);

    char sub[256];
    int64_t exp = 0;
    struct lc_err e;
    int rv = lc_jwt_verify(key, keylen, t, NOW, sub, sizeof sub, &exp, &e);
    if (rv == 0) {
        if (sub[0] == '\0' || strlen(sub) >= sizeof sub || exp < NOW)
            abort();
        char again[1024];
        if (lc_jwt_sign(key, keylen, sub, exp, again, sizeof again) == 0) {
            char sub2[256];
            int64_t exp2 = 0;
            if (lc_jwt_verify(key, keylen, again, NOW, sub2, sizeof sub2,
                              &exp2, &e) != 0 ||
                strcmp(sub, sub2) != 0 || exp != exp2)
                abort();
        }
    } else if (rv != LC_EDENIED || e.code != LC_EDENIED || e.msg[0] == '\0') {
        abort();
    }
    free(t);
    return 0;
}
