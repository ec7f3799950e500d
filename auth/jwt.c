/* Nacos's tokens: its hand-rolled JWT, signed and verified with OpenSSL's
 * HMAC and encoded with libsodium's base64.
 *
 * A token is H.P.S: H one of three fixed headers (HS256, HS384, HS512,
 * chosen by the key's length when signing, read from the token when
 * verifying, as NacosSignatureAlgorithm does), P the base64url (no padding)
 * of Jackson's {"sub":"<user>","exp":<s>}, S the base64url (no padding) of
 * the HMAC of "H.P". Verification follows Nacos's order and messages; the
 * signature is compared in constant time, and nothing in the payload is
 * looked at before the signature matched.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <string.h>

#include "auth/internal.h"
#include "common/err.h"

#define HS256_HEADER "eyJhbGciOiJIUzI1NiJ9"
#define HS384_HEADER "eyJhbGciOiJIUzM4NCJ9"
#define HS512_HEADER "eyJhbGciOiJIUzUxMiJ9"

/* Longest token looked at: a payload with a 256-byte subject is far below. */
#define TOKEN_MAX 4096

struct alg {
    const char *header;
    const EVP_MD *(*md)(void);
};

static const struct alg ALGS[] = {
    {HS256_HEADER, EVP_sha256},
    {HS384_HEADER, EVP_sha384},
    {HS512_HEADER, EVP_sha512},
};

static const struct alg *alg_for_key(size_t keylen)
{
    if (keylen < 48)
        return &ALGS[0];
    if (keylen < 64)
        return &ALGS[1];
    return &ALGS[2];
}

static const struct alg *alg_for_header(const char *h, size_t len)
{
    for (size_t i = 0; i < sizeof ALGS / sizeof ALGS[0]; i++)
        if (strlen(ALGS[i].header) == len && memcmp(ALGS[i].header, h, len) == 0)
            return &ALGS[i];
    return NULL;
}

/* base64url without padding of HMAC(@key, @data) into @out. Return its
 * length, or -1. */
static long mac_b64(const struct alg *alg, const uint8_t *key, size_t keylen,
                    const char *data, size_t len, char *out, size_t size)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (keylen > INT32_MAX ||
        HMAC(alg->md(), key, (int)keylen, (const unsigned char *)data, len, md,
             &mdlen) == NULL)
        return -1;
    size_t need = sodium_base64_ENCODED_LEN(
        mdlen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    if (need > size)
        return -1;
    sodium_bin2base64(out, size, md, mdlen,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(md, sizeof md);
    return (long)strlen(out);
}

int lc_jwt_sign(const uint8_t *key, size_t keylen, const char *sub,
                int64_t exp, char *out, size_t size)
{
    const struct alg *alg = alg_for_key(keylen);
    /* Jackson's NacosJwtPayload: {"sub":...,"exp":...} in field order,
     * no spaces; jansson's compact output escapes as Jackson does. */
    if (sub == NULL)
        return LC_EINVAL;
    json_t *o = json_pack("{s:s, s:I}", "sub", sub, "exp", (json_int_t)exp);
    if (o == NULL)
        return LC_EINVAL; /* not UTF-8 */
    char *payload = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (payload == NULL)
        return LC_ENOMEM;
    size_t plen = strlen(payload);
    size_t hlen = strlen(alg->header);
    size_t p64len = sodium_base64_ENCODED_LEN(
        plen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    /* H . P64 . S64 NUL; S64 of at most 64 bytes is 86 characters. */
    if (hlen + 1 + p64len + 1 + 87 > size || hlen + 1 + p64len > TOKEN_MAX) {
        free(payload);
        return LC_ETOOBIG;
    }
    memcpy(out, alg->header, hlen);
    out[hlen] = '.';
    sodium_bin2base64(out + hlen + 1, size - hlen - 1,
                      (const unsigned char *)payload, plen,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    free(payload);
    size_t hp = strlen(out);
    out[hp] = '.';
    if (mac_b64(alg, key, keylen, out, hp, out + hp + 1, size - hp - 1) < 0) {
        out[0] = '\0';
        return LC_ETOOBIG;
    }
    return 0;
}

/* Whether @s[0..@len) is all of base64's alphabet (@url: '-' and '_' for
 * '+' and '/'). libsodium 1.0.18's decoder takes some bytes >= 0x80 for
 * letters (its lookup sees them as negative), so the alphabet is checked
 * here first. */
static bool b64_alphabet(const char *s, size_t len, bool url)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9'))
            continue;
        if (url ? (c == '-' || c == '_') : (c == '+' || c == '/'))
            continue;
        return false;
    }
    return true;
}

/* Decode the payload (base64url, padding optional as Java's URL decoder)
 * and read sub and exp from it. */
static bool read_payload(const char *p, size_t len, char *sub, size_t sublen,
                         int64_t *exp)
{
    while (len > 0 && p[len - 1] == '=')
        len--;
    uint8_t buf[TOKEN_MAX];
    size_t n = 0;
    if (!b64_alphabet(p, len, true) ||
        sodium_base642bin(buf, sizeof buf, p, len, NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return false;
    json_t *o = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
    if (o == NULL)
        return false;
    bool ok = false;
    json_t *s = json_object_get(o, "sub");
    json_t *e = json_object_get(o, "exp");
    if (json_is_object(o) && json_is_string(s) && json_string_length(s) > 0 &&
        json_string_length(s) < sublen &&
        strlen(json_string_value(s)) == json_string_length(s) &&
        json_is_integer(e)) {
        memcpy(sub, json_string_value(s), json_string_length(s) + 1);
        *exp = (int64_t)json_integer_value(e);
        ok = true;
    }
    json_decref(o);
    return ok;
}

int lc_jwt_verify(const uint8_t *key, size_t keylen, const char *token,
                  int64_t now, char *sub, size_t sublen, int64_t *exp,
                  struct lc_err *e)
{
    if (lc_auth_blank(token))
        return lc_err_set(e, LC_EDENIED, "user not found!");
    /* Java's split("\\.") drops trailing empty parts, then wants three. */
    size_t len = strnlen(token, TOKEN_MAX + 1);
    if (len > TOKEN_MAX)
        return lc_err_set(e, LC_EDENIED, "token invalid!");
    while (len > 0 && token[len - 1] == '.')
        len--;
    const char *d1 = memchr(token, '.', len);
    const char *d2 =
        d1 == NULL ? NULL : memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token));
    if (len == 0 || d2 == NULL ||
        memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL)
        return lc_err_set(e, LC_EDENIED, "token invalid!");

    const struct alg *alg = alg_for_header(token, (size_t)(d1 - token));
    if (alg == NULL)
        return lc_err_set(e, LC_EDENIED, "unsupported signature algorithm");

    char want[128];
    long wlen = mac_b64(alg, key, keylen, token, (size_t)(d2 - token), want,
                        sizeof want);
    const char *sig = d2 + 1;
    size_t slen = len - (size_t)(sig - token);
    if (wlen < 0 || (size_t)wlen != slen ||
        sodium_memcmp(want, sig, slen) != 0)
        return lc_err_set(e, LC_EDENIED, "Invalid signature");

    int64_t x = 0;
    if (!read_payload(d1 + 1, (size_t)(d2 - d1 - 1), sub, sublen, &x))
        return lc_err_set(e, LC_EDENIED, "token invalid!");
    if (x < now)
        return lc_err_set(e, LC_EDENIED, "token expired!");
    *exp = x;
    return 0;
}

long lc_auth_b64_decode(const char *b64, uint8_t *out, size_t size)
{
    if (b64 == NULL)
        return -1;
    size_t len = strlen(b64);
    /* Java's Base64.getDecoder(): padding may be left out, but when it is
     * there it must complete the last group of four. */
    size_t pad = 0;
    while (pad < len && pad < 3 && b64[len - 1 - pad] == '=')
        pad++;
    if (pad > 2 || (pad > 0 && len % 4 != 0))
        return -1;
    size_t n = 0;
    if (!b64_alphabet(b64, len - pad, false) ||
        sodium_base642bin(out, size, b64, len - pad, NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0)
        return -1;
    return (long)n;
}
