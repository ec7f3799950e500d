/* Tests of auth/jwt.c: Nacos's tokens against vectors computed apart from
 * locus, with Python's hmac and base64 modules:
 *
 *   import hmac, hashlib, base64
 *   def b64u(b): return base64.urlsafe_b64encode(b).rstrip(b'=').decode()
 *   def tok(key, payload_json, alg='HS256', hdr=None):
 *       h = hdr or b64u(('{"alg":"%s"}' % alg).encode())
 *       p = b64u(payload_json.encode())
 *       md = {'HS256': hashlib.sha256, 'HS384': hashlib.sha384,
 *             'HS512': hashlib.sha512}[alg]
 *       return h + '.' + p + '.' + b64u(hmac.new(key, (h + '.' + p).encode(),
 *                                                md).digest())
 *
 * with the keys K32, K48, K64 below (the literal bytes) and, for the old
 * published Nacos default, base64.b64decode('SecretKey0123...6789'[:68])
 * (51 bytes: Nacos's lenient decoder dropped the 69th character). Each
 * token's comment gives the call that produced it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/internal.h"
#include "common/err.h"

/* 4102444800 = 2100-01-01, 1600000000 = 2020-09-13. */
#define NOW 1765000000
#define FUTURE 4102444800LL

static const char K32[] = "locus-auth-unit-test-key-32bytes";
static const char K48[] = "locus-auth-unit-test-key-of-forty-eight-bytes!!!";
static const char K64[] =
    "locus-auth-unit-test-key-of-sixty-four-bytes-for-hs512-signing!!";

#define KEY(k) (const uint8_t *)(k), (sizeof(k) - 1)

/* tok(K32, '{"sub":"nacos","exp":4102444800}') */
static const char GOOD256[] =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJuYWNvcyIsImV4cCI6NDEwMjQ0NDgwMH0."
    "WbMPzdhhD9B3Pn4FVpqOyA1isswKn2b4LCTX5iQL2ak";
/* tok(K48, '{"sub":"alice","exp":4102444800}', 'HS384') */
static const char GOOD384[] =
    "eyJhbGciOiJIUzM4NCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6NDEwMjQ0NDgwMH0."
    "LPKMCWmPkCDiHHv2zz32QNEhnWEQPCiQ9wUtjS6Y4Ma5-4pc75DuuTUkb2GUx8b1";
/* tok(K64, '{"sub":"bob","exp":4102444800}', 'HS512') */
static const char GOOD512[] =
    "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJib2IiLCJleHAiOjQxMDI0NDQ4MDB9."
    "i4DEs2TzRNZpcAoXKFQ3zcd3LcAfMUO7iznorN0V8NWnVSAsZjXYr0TRnq0yKd1cTeD9oJlJ"
    "U1Tg0gqm_Qn33A";
/* tok(K32, '{"sub":"nacos","exp":1600000000}') */
static const char EXPIRED[] =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJuYWNvcyIsImV4cCI6MTYwMDAwMDAwMH0."
    "gIi3qAmzRb7Cw47Rt5ZX8mzr7_F8cMrubygjSMIuMjM";
/* tok(old_default, '{"sub":"nacos","exp":4102444800}', 'HS384') */
static const char OLDKEY[] =
    "eyJhbGciOiJIUzM4NCJ9.eyJzdWIiOiJuYWNvcyIsImV4cCI6NDEwMjQ0NDgwMH0."
    "iAfsp0_9i8jvXXKRlia3dAbYtvDRys0yeslMPd2pD1_C4Ob85AQfpvf9Amk5HtP-";
/* tok(K32, '{"sub":"nacos","exp":4102444800}', 'HS512'): a correct
 * signature under a header the server's key length does not choose. */
static const char HS512_ON_K32[] =
    "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJuYWNvcyIsImV4cCI6NDEwMjQ0NDgwMH0."
    "ebnvDBQEJgO191JnGxGL4PPi6G9ZGLLFp8cTTowN7XbGiKjbHsIMHf59ya8gah625r5pptew"
    "ecAHNpMjayGA9Q";
/* b64u(b'{"alg":"none"}') + '.' + b64u(payload) + '.' */
static const char NONE[] =
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiJuYWNvcyIsImV4cCI6NDEwMjQ0NDgwMH0.";
/* The same with a signature part left empty but present. */
static const char NONE2[] = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
                            "eyJzdWIiOiJuYWNvcyIsImV4cCI6NDEwMjQ0NDgwMH0.x";
/* tok(K32, ..., hdr=b64u(b'{"alg":"HS256","typ":"JWT"}')): a standard
 * JWT library's HS256 header, which Nacos does not accept either. */
static const char JWTIO[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJuYWNvcyIsImV4cCI6NDEwMjQ0NDgwMH0."
    "z10OVY-TQRedixMvjYD8iAozsTpc0JU-Uy6zZ54ij_Q";
/* Well signed (tok(K32, ...)) payloads locus refuses. */
static const char ARRAY[] = /* '["nacos",4102444800]' */
    "eyJhbGciOiJIUzI1NiJ9.WyJuYWNvcyIsNDEwMjQ0NDgwMF0."
    "MAvVi5BteTMks7CjJIZUWr7Kp-DR9RxPtRJAFWxevGg";
static const char NOSUB[] = /* '{"exp":4102444800}' */
    "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9."
    "-P1rHrNE1tN6zk7D7hsXFqJ7JjeyDs1ThD5jCBBDUmE";
static const char EMPTYSUB[] = /* '{"sub":"","exp":4102444800}' */
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIiLCJleHAiOjQxMDI0NDQ4MDB9."
    "Th6dAMlSM_1Dz5IsUuPrXKfqwK8SorwLw0Wlp4uk02w";
static const char STREXP[] = /* '{"sub":"nacos","exp":"4102444800"}' */
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJuYWNvcyIsImV4cCI6IjQxMDI0NDQ4MDAifQ."
    "9KIOKm0h62LyW3pa4wt4ycetq_NUh-7iSxfSRieR8SY";
static const char FLTEXP[] = /* '{"sub":"nacos","exp":4102444800.5}' */
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJuYWNvcyIsImV4cCI6NDEwMjQ0NDgwMC41fQ."
    "GcuqCEANvYIZL2K7ugUug8OyR9KOYcyWaxqTJB8DHeY";
static const char NUMSUB[] = /* '{"sub":7,"exp":4102444800}' */
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOjcsImV4cCI6NDEwMjQ0NDgwMH0."
    "shErmBTna0OKawb8gt1VsPEMPKxYGp65Y7DxqkQiYwU";

static void ok(const uint8_t *key, size_t keylen, const char *token,
               const char *want_sub, int64_t want_exp)
{
    char sub[256] = "";
    int64_t exp = 0;
    struct lc_err e;
    memset(&e, 0, sizeof e);
    int rv = lc_jwt_verify(key, keylen, token, NOW, sub, sizeof sub, &exp, &e);
    if (rv != 0)
        fail_msg("%s: refused: %s", token, e.msg);
    assert_string_equal(sub, want_sub);
    assert_int_equal(exp, want_exp);
}

static void refused(const uint8_t *key, size_t keylen, const char *token,
                    const char *want_msg)
{
    char sub[256] = "untouched";
    int64_t exp = 42;
    struct lc_err e;
    memset(&e, 0, sizeof e);
    int rv = lc_jwt_verify(key, keylen, token, NOW, sub, sizeof sub, &exp, &e);
    if (rv == 0)
        fail_msg("%s: accepted as %s", token ? token : "(null)", sub);
    assert_int_equal(rv, LC_EDENIED);
    assert_int_equal(e.code, LC_EDENIED);
    assert_string_equal(e.msg, want_msg);
    assert_int_equal(exp, 42);
}

static void test_python_tokens_accepted(void **state)
{
    (void)state;
    ok(KEY(K32), GOOD256, "nacos", FUTURE);
    ok(KEY(K48), GOOD384, "alice", FUTURE);
    ok(KEY(K64), GOOD512, "bob", FUTURE);
    /* At the very second of exp it is still good (Nacos: exp >= now). */
    char sub[64];
    int64_t exp;
    struct lc_err e;
    assert_int_equal(lc_jwt_verify(KEY(K32), GOOD256, FUTURE, sub, sizeof sub,
                                   &exp, &e),
                     0);
    assert_int_equal(lc_jwt_verify(KEY(K32), GOOD256, FUTURE + 1, sub,
                                   sizeof sub, &exp, &e),
                     LC_EDENIED);
    assert_string_equal(e.msg, "token expired!");
}

static void test_sign_matches_python(void **state)
{
    (void)state;
    char t[1024];
    assert_int_equal(lc_jwt_sign(KEY(K32), "nacos", FUTURE, t, sizeof t), 0);
    assert_string_equal(t, GOOD256);
    assert_int_equal(lc_jwt_sign(KEY(K48), "alice", FUTURE, t, sizeof t), 0);
    assert_string_equal(t, GOOD384);
    assert_int_equal(lc_jwt_sign(KEY(K64), "bob", FUTURE, t, sizeof t), 0);
    assert_string_equal(t, GOOD512);
    /* Jackson's escapes: tok(K32, '{"sub":"a\\"b\\\\c","exp":4102444800}') */
    assert_int_equal(lc_jwt_sign(KEY(K32), "a\"b\\c", FUTURE, t, sizeof t), 0);
    assert_string_equal(
        t, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhXCJiXFxjIiwiZXhwIjo0MTAyNDQ0ODAwfQ."
           "XH3S6h3Y547vQETiT34vxS_SqUkUosC1rR5ex3cwoOI");
    /* Too small a buffer. */
    assert_int_equal(lc_jwt_sign(KEY(K32), "nacos", FUTURE, t, 40),
                     LC_ETOOBIG);
    /* Not UTF-8. */
    assert_int_equal(lc_jwt_sign(KEY(K32), "\xff", FUTURE, t, sizeof t),
                     LC_EINVAL);
}

static void test_sign_verify_round_trip(void **state)
{
    (void)state;
    static const char *const users[] = {"nacos", "a", "日本語", "x y/z:@"};
    for (size_t i = 0; i < sizeof users / sizeof users[0]; i++) {
        char t[1024];
        assert_int_equal(
            lc_jwt_sign(KEY(K48), users[i], NOW + 100, t, sizeof t), 0);
        ok(KEY(K48), t, users[i], NOW + 100);
        /* One bit off anywhere in the signature: refused. */
        char *sig = strrchr(t, '.') + 1;
        sig[3] = sig[3] == 'A' ? 'B' : 'A';
        refused(KEY(K48), t, "Invalid signature");
    }
}

static void test_expired(void **state)
{
    (void)state;
    refused(KEY(K32), EXPIRED, "token expired!");
}

static void test_bad_signature(void **state)
{
    (void)state;
    /* Another key of the same length. */
    refused((const uint8_t *)"locus-auth-unit-test-key-32bytez", 32, GOOD256,
            "Invalid signature");
    /* A token signed with another key length's algorithm. */
    refused(KEY(K32), GOOD384, "Invalid signature");
    /* Payload changed after signing: another user. */
    char t[sizeof GOOD256];
    memcpy(t, GOOD256, sizeof t);
    char *p = strchr(t, '.') + 1;
    p[5] = p[5] == 'W' ? 'X' : 'W';
    refused(KEY(K32), t, "Invalid signature");
    /* Signature with base64 padding, or standard alphabet: not Nacos's. */
    char padded[sizeof GOOD256 + 1];
    snprintf(padded, sizeof padded, "%s=", GOOD256);
    refused(KEY(K32), padded, "Invalid signature");
    refused(KEY(K32), OLDKEY, "Invalid signature");
}

static void test_old_published_key(void **state)
{
    (void)state;
    /* The server has its own key: a token forged with the key Nacos
     * shipped until 2.2.0 is refused. */
    refused(KEY(K32), OLDKEY, "Invalid signature");
    refused(KEY(K64), OLDKEY, "Invalid signature");
}

static void test_header_swapped(void **state)
{
    (void)state;
    /* HS512 header with a correct HS512 MAC under the server's 32-byte key:
     * Nacos takes the algorithm from the header, so does locus. */
    ok(KEY(K32), HS512_ON_K32, "nacos", FUTURE);
    /* The HS256 token with its header swapped for another algorithm. */
    char t[sizeof GOOD256 + 8];
    snprintf(t, sizeof t, "eyJhbGciOiJIUzM4NCJ9%s", strchr(GOOD256, '.'));
    refused(KEY(K32), t, "Invalid signature");
    snprintf(t, sizeof t, "eyJhbGciOiJIUzUxMiJ9%s", strchr(GOOD256, '.'));
    refused(KEY(K32), t, "Invalid signature");
    /* A header spelled another way (standard JWT libraries): unknown. */
    refused(KEY(K32), JWTIO, "unsupported signature algorithm");
}

static void test_alg_none(void **state)
{
    (void)state;
    /* "H.P." is two parts once Java's split drops the trailing empty one. */
    refused(KEY(K32), NONE, "token invalid!");
    refused(KEY(K32), NONE2, "unsupported signature algorithm");
    char t[256];
    snprintf(t, sizeof t, "eyJhbGciOiJub25lIn0.%s",
             strchr(GOOD256, '.') + 1);
    refused(KEY(K32), t, "unsupported signature algorithm");
}

static void test_shapes(void **state)
{
    (void)state;
    refused(KEY(K32), NULL, "user not found!");
    refused(KEY(K32), "", "user not found!");
    refused(KEY(K32), "  \t", "user not found!");
    refused(KEY(K32), "abc", "token invalid!");
    refused(KEY(K32), "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJuYWNvcyJ9",
            "token invalid!");
    refused(KEY(K32), "a.b.c.d", "token invalid!");
    refused(KEY(K32), "...", "token invalid!");
    /* Truncated: the last characters of the signature, the whole signature,
     * the signature and its dot. */
    char t[sizeof GOOD256];
    memcpy(t, GOOD256, sizeof t);
    t[strlen(t) - 3] = '\0';
    refused(KEY(K32), t, "Invalid signature");
    *strrchr(t, '.') = '\0';
    refused(KEY(K32), t, "token invalid!");
    memcpy(t, GOOD256, sizeof t);
    strrchr(t, '.')[1] = '\0';
    refused(KEY(K32), t, "token invalid!");
    /* Four parts: a good token with something appended. */
    char t4[sizeof GOOD256 + 8];
    snprintf(t4, sizeof t4, "%s.x", GOOD256);
    refused(KEY(K32), t4, "token invalid!");
    /* Java's split drops trailing empty parts: "H.P.S." is H.P.S. */
    snprintf(t4, sizeof t4, "%s.", GOOD256);
    ok(KEY(K32), t4, "nacos", FUTURE);
    /* Very long. */
    char *big = malloc(10000);
    memset(big, 'a', 9999);
    big[9999] = '\0';
    big[20] = '.';
    big[40] = '.';
    refused(KEY(K32), big, "token invalid!");
    free(big);
}

static void test_bad_payloads(void **state)
{
    (void)state;
    refused(KEY(K32), ARRAY, "token invalid!");
    refused(KEY(K32), NOSUB, "token invalid!");
    refused(KEY(K32), EMPTYSUB, "token invalid!");
    refused(KEY(K32), STREXP, "token invalid!");
    refused(KEY(K32), FLTEXP, "token invalid!");
    refused(KEY(K32), NUMSUB, "token invalid!");
}

static void test_b64_decode(void **state)
{
    (void)state;
    uint8_t out[128];
    assert_int_equal(lc_auth_b64_decode("", out, sizeof out), 0);
    assert_int_equal(lc_auth_b64_decode("YQ==", out, sizeof out), 1);
    assert_int_equal(out[0], 'a');
    assert_int_equal(lc_auth_b64_decode("YQ", out, sizeof out), 1);
    assert_int_equal(lc_auth_b64_decode("YWI=", out, sizeof out), 2);
    assert_int_equal(lc_auth_b64_decode("YWI", out, sizeof out), 2);
    assert_int_equal(lc_auth_b64_decode("YWJj", out, sizeof out), 3);
    assert_int_equal(
        lc_auth_b64_decode("bG9jdXMtYXV0aC11bml0LXRlc3Qta2V5LTMyYnl0ZXM=", out,
                           sizeof out),
        32);
    assert_memory_equal(out, K32, 32);
    assert_int_equal(lc_auth_b64_decode("+/+/", out, sizeof out), 3);
    /* Refused: URL alphabet, bad padding, stray characters, a lone
     * character, whitespace, too long for @size. */
    assert_int_equal(lc_auth_b64_decode("-_-_", out, sizeof out), -1);
    assert_int_equal(lc_auth_b64_decode("YQ=", out, sizeof out), -1);
    assert_int_equal(lc_auth_b64_decode("YQ===", out, sizeof out), -1);
    assert_int_equal(lc_auth_b64_decode("Y===", out, sizeof out), -1);
    assert_int_equal(lc_auth_b64_decode("=", out, sizeof out), -1);
    assert_int_equal(lc_auth_b64_decode("YWJjZ", out, sizeof out), -1);
    assert_int_equal(lc_auth_b64_decode("YW Jj", out, sizeof out), -1);
    assert_int_equal(lc_auth_b64_decode("YWJj\n", out, sizeof out), -1);
    assert_int_equal(lc_auth_b64_decode("YW=j", out, sizeof out), -1);
    assert_int_equal(lc_auth_b64_decode("YWJj", out, 2), -1);
    /* Bytes >= 0x80 (libsodium 1.0.18's decoder takes some for letters). */
    assert_int_equal(lc_auth_b64_decode("YW\xb7j", out, sizeof out), -1);
    assert_int_equal(lc_auth_b64_decode("eyJhiJuYWNvcyIs\xb7mV4c", out,
                                        sizeof out),
                     -1);
    assert_int_equal(lc_auth_b64_decode(NULL, out, sizeof out), -1);
    assert_int_equal(
        lc_auth_b64_decode(
            "SecretKey012345678901234567890123456789012345678901234567890123456789",
            out, sizeof out),
        -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_python_tokens_accepted),
        cmocka_unit_test(test_sign_matches_python),
        cmocka_unit_test(test_sign_verify_round_trip),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_old_published_key),
        cmocka_unit_test(test_header_swapped),
        cmocka_unit_test(test_alg_none),
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_bad_payloads),
        cmocka_unit_test(test_b64_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
