/* Tests of raft/net_preface.c: the hello, the authenticated claim and every way
 * a claim is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "raft/net.h"

static const uint8_t secret[] = "correct horse battery staple";
static const uint8_t other_secret[] = "correct horse battery stapler";

static const uint8_t nonce_a[LC_PREFACE_NONCE_LEN] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static const uint8_t nonce_b[LC_PREFACE_NONCE_LEN] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16};

static struct lc_preface claim_of(const char *channel, const char *address,
                                  raft_id id)
{
    struct lc_preface p;
    memset(&p, 0, sizeof p);
    assert_true(strlen(channel) < sizeof p.channel);
    assert_true(strlen(address) < sizeof p.address);
    strcpy(p.channel, channel);
    strcpy(p.address, address);
    p.id = id;
    return p;
}

/* Encode a claim with the test secret and nonce_a. */
static size_t encode(const struct lc_preface *p, uint8_t *out, size_t cap)
{
    size_t len = 0;
    assert_int_equal(lc_preface_encode(secret, sizeof secret - 1, nonce_a, p,
                                       out, cap, &len),
                     0);
    return len;
}

static int verify(const uint8_t *msg, size_t len, struct lc_preface *out)
{
    return lc_preface_verify(secret, sizeof secret - 1, nonce_a, msg, len, out);
}

/* Recompute a claim's MAC in place (after editing its body), so that only
 * the edited field can be the reason for a refusal. */
static void remac(uint8_t *msg, size_t len)
{
    crypto_auth_hmacsha256_state st;
    uint8_t chan_len = msg[5];
    uint8_t addr_len = msg[6];
    assert_int_equal(len, LC_PREFACE_FIXED_LEN + chan_len + addr_len +
                              LC_PREFACE_MAC_LEN);
    crypto_auth_hmacsha256_init(&st, secret, sizeof secret - 1);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)"locus-preface-v1", 16);
    crypto_auth_hmacsha256_update(&st, nonce_a, LC_PREFACE_NONCE_LEN);
    crypto_auth_hmacsha256_update(&st, &chan_len, 1);
    crypto_auth_hmacsha256_update(&st, msg + LC_PREFACE_FIXED_LEN, chan_len);
    crypto_auth_hmacsha256_update(&st, &addr_len, 1);
    crypto_auth_hmacsha256_update(&st, msg + LC_PREFACE_FIXED_LEN + chan_len,
                                  addr_len);
    crypto_auth_hmacsha256_update(&st, msg + 7, 8);
    crypto_auth_hmacsha256_final(&st, msg + len - LC_PREFACE_MAC_LEN);
}

static int setup(void **state)
{
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- hello */

static void test_hello_layout(void **state)
{
    uint8_t hello[LC_PREFACE_HELLO_LEN];
    uint8_t nonce[LC_PREFACE_NONCE_LEN];
    (void)state;

    lc_preface_hello(hello, nonce_a);
    assert_memory_equal(hello, "LCHI", 4);
    assert_int_equal(hello[4], 1);
    assert_memory_equal(hello + 5, nonce_a, LC_PREFACE_NONCE_LEN);

    memset(nonce, 0xee, sizeof nonce);
    assert_int_equal(lc_preface_parse_hello(hello, nonce), 0);
    assert_memory_equal(nonce, nonce_a, sizeof nonce);
}

static void test_hello_refused(void **state)
{
    uint8_t hello[LC_PREFACE_HELLO_LEN];
    uint8_t nonce[LC_PREFACE_NONCE_LEN];
    (void)state;

    for (int i = 0; i < 4; i++) {
        lc_preface_hello(hello, nonce_a);
        hello[i] ^= 0x20; /* "lCHI", "LcHI", ... */
        assert_int_equal(lc_preface_parse_hello(hello, nonce), LC_EPROTO);
    }
    lc_preface_hello(hello, nonce_a);
    hello[4] = 0;
    assert_int_equal(lc_preface_parse_hello(hello, nonce), LC_EPROTO);
    hello[4] = 2;
    assert_int_equal(lc_preface_parse_hello(hello, nonce), LC_EPROTO);
    /* A claim's magic is not a hello. */
    lc_preface_hello(hello, nonce_a);
    memcpy(hello, "LCPF", 4);
    assert_int_equal(lc_preface_parse_hello(hello, nonce), LC_EPROTO);
}

/* ---------------------------------------------------------------- claim */

static void test_claim_layout(void **state)
{
    struct lc_preface p = claim_of("naming_persistent_service_v2",
                                   "10.0.0.1:7848", 0x0102030405060708ULL);
    uint8_t msg[LC_PREFACE_MAX_LEN];
    uint8_t mac[LC_PREFACE_MAC_LEN];
    size_t len = encode(&p, msg, sizeof msg);
    size_t clen = strlen(p.channel);
    size_t alen = strlen(p.address);
    (void)state;

    assert_int_equal(len, 15 + clen + alen + 32);
    assert_memory_equal(msg, "LCPF", 4);
    assert_int_equal(msg[4], 1);
    assert_int_equal(msg[5], clen);
    assert_int_equal(msg[6], alen);
    /* id, little endian */
    const uint8_t id_le[8] = {8, 7, 6, 5, 4, 3, 2, 1};
    assert_memory_equal(msg + 7, id_le, 8);
    assert_memory_equal(msg + 15, p.channel, clen);
    assert_memory_equal(msg + 15 + clen, p.address, alen);
    /* The MAC is HMAC-SHA256 over the documented fields. */
    memcpy(mac, msg + len - 32, 32);
    remac(msg, len);
    assert_memory_equal(msg + len - 32, mac, 32);
}

static void test_claim_round_trip(void **state)
{
    static const struct {
        const char *channel;
        const char *address;
        raft_id id;
    } cases[] = {
        {"peer", "127.0.0.1:7848", 1},
        {"naming_persistent_service_v2", "[::1]:7848", 0x7fffffffffffffffULL},
        {"a", "h:1", 0xffffffffffffffffULL},
        {"A-z_0.9", "node-1.example.com:65535", 42},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct lc_preface p =
            claim_of(cases[i].channel, cases[i].address, cases[i].id);
        struct lc_preface out;
        uint8_t msg[LC_PREFACE_MAX_LEN];
        size_t rest = 0;
        size_t len = encode(&p, msg, sizeof msg);

        assert_int_equal(lc_preface_parse_fixed(msg, &rest), 0);
        assert_int_equal(LC_PREFACE_FIXED_LEN + rest, len);
        memset(&out, 0x55, sizeof out);
        assert_int_equal(verify(msg, len, &out), 0);
        assert_string_equal(out.channel, cases[i].channel);
        assert_string_equal(out.address, cases[i].address);
        assert_true(out.id == cases[i].id);
    }
}

static void test_claim_longest(void **state)
{
    char channel[LC_NET_CHANNEL_MAX];
    char address[256];
    struct lc_preface p;
    struct lc_preface out;
    uint8_t msg[LC_PREFACE_MAX_LEN];
    size_t len;
    (void)state;

    memset(channel, 'c', sizeof channel - 1);
    channel[sizeof channel - 1] = '\0'; /* 63 characters */
    memset(address, 'a', sizeof address - 1);
    address[sizeof address - 1] = '\0'; /* 255 characters */
    p = claim_of(channel, address, 9);
    len = encode(&p, msg, sizeof msg);
    assert_int_equal(len, 15 + 63 + 255 + 32);
    assert_int_equal(verify(msg, len, &out), 0);
    assert_string_equal(out.channel, channel);
    assert_string_equal(out.address, address);

    /* Exactly enough room, then one byte short. */
    assert_int_equal(lc_preface_encode(secret, sizeof secret - 1, nonce_a, &p,
                                       msg, len, &len),
                     0);
    assert_int_equal(lc_preface_encode(secret, sizeof secret - 1, nonce_a, &p,
                                       msg, len - 1, &len),
                     LC_EINVAL);
}

static void test_encode_refused(void **state)
{
    struct lc_preface p;
    uint8_t msg[LC_PREFACE_MAX_LEN];
    size_t len = 12345;
    (void)state;

#define REFUSED(pp)                                                            \
    assert_int_equal(lc_preface_encode(secret, sizeof secret - 1, nonce_a,     \
                                       &(pp), msg, sizeof msg, &len),          \
                     LC_EINVAL)
    p = claim_of("", "127.0.0.1:1", 1);
    REFUSED(p);
    p = claim_of("a b", "127.0.0.1:1", 1);
    REFUSED(p);
    p = claim_of("a/b", "127.0.0.1:1", 1);
    REFUSED(p);
    p = claim_of("a@@b", "127.0.0.1:1", 1);
    REFUSED(p);
    p = claim_of("peer", "", 1);
    REFUSED(p);
    p = claim_of("peer", "127.0.0.1 :1", 1);
    REFUSED(p);
    p = claim_of("peer", "127.0.0.1:1\n", 1);
    REFUSED(p);
    p = claim_of("peer", "\x7f", 1);
    REFUSED(p);
    p = claim_of("peer", "caf\xc3\xa9:1", 1);
    REFUSED(p);
    /* 256 printable characters: longer than the one-byte length. */
    p = claim_of("peer", "", 1);
    memset(p.address, 'a', 256);
    p.address[256] = '\0';
    REFUSED(p);
#undef REFUSED
    assert_int_equal(len, 12345);
}

/* --------------------------------------------------------- fixed head */

static void fixed_bytes(uint8_t in[LC_PREFACE_FIXED_LEN], uint8_t chan_len,
                        uint8_t addr_len)
{
    memcpy(in, "LCPF", 4);
    in[4] = LC_PREFACE_VERSION;
    in[5] = chan_len;
    in[6] = addr_len;
    memset(in + 7, 0, 8);
    in[7] = 1;
}

static void test_fixed(void **state)
{
    uint8_t in[LC_PREFACE_FIXED_LEN];
    size_t rest = 0;
    (void)state;

    fixed_bytes(in, 4, 14);
    assert_int_equal(lc_preface_parse_fixed(in, &rest), 0);
    assert_int_equal(rest, 4 + 14 + 32);
    fixed_bytes(in, 63, 255);
    assert_int_equal(lc_preface_parse_fixed(in, &rest), 0);
    assert_int_equal(rest, 63 + 255 + 32);

    rest = 777;
    fixed_bytes(in, 4, 14);
    memcpy(in, "LCHI", 4); /* wrong magic */
    assert_int_equal(lc_preface_parse_fixed(in, &rest), LC_EPROTO);
    fixed_bytes(in, 4, 14);
    in[3] = 'f';
    assert_int_equal(lc_preface_parse_fixed(in, &rest), LC_EPROTO);
    fixed_bytes(in, 4, 14);
    in[4] = 0; /* wrong version */
    assert_int_equal(lc_preface_parse_fixed(in, &rest), LC_EPROTO);
    in[4] = 2;
    assert_int_equal(lc_preface_parse_fixed(in, &rest), LC_EPROTO);
    fixed_bytes(in, 0, 14); /* zero channel length */
    assert_int_equal(lc_preface_parse_fixed(in, &rest), LC_EPROTO);
    fixed_bytes(in, 64, 14); /* channel longer than a group name */
    assert_int_equal(lc_preface_parse_fixed(in, &rest), LC_EPROTO);
    fixed_bytes(in, 255, 14);
    assert_int_equal(lc_preface_parse_fixed(in, &rest), LC_EPROTO);
    fixed_bytes(in, 4, 0); /* zero address length */
    assert_int_equal(lc_preface_parse_fixed(in, &rest), LC_EPROTO);
    assert_int_equal(rest, 777);
}

/* ------------------------------------------------------------ refusals */

static void test_verify_malformed(void **state)
{
    struct lc_preface p = claim_of("peer", "127.0.0.1:7848", 77);
    struct lc_preface out;
    uint8_t msg[LC_PREFACE_MAX_LEN + 8];
    uint8_t copy[LC_PREFACE_MAX_LEN + 8];
    size_t len = encode(&p, msg, sizeof msg);
    (void)state;

    /* Truncated: at every length short of the whole claim. */
    for (size_t n = 0; n < len; n++) {
        assert_int_equal(verify(msg, n, &out), LC_EPROTO);
    }
    /* Extra bytes after the MAC. */
    msg[len] = 0;
    assert_int_equal(verify(msg, len + 1, &out), LC_EPROTO);
    assert_int_equal(verify(msg, len + 8, &out), LC_EPROTO);

    /* Lengths that claim more than was sent (an oversized address length
     * cannot overrun: it makes the message the wrong size). */
    memcpy(copy, msg, len);
    copy[6] = 255;
    assert_int_equal(verify(copy, len, &out), LC_EPROTO);
    memcpy(copy, msg, len);
    copy[5] = 63;
    assert_int_equal(verify(copy, len, &out), LC_EPROTO);
    memcpy(copy, msg, len);
    copy[5] = 64;
    assert_int_equal(verify(copy, len, &out), LC_EPROTO);
    memcpy(copy, msg, len);
    copy[5] = 0;
    assert_int_equal(verify(copy, len, &out), LC_EPROTO);
    memcpy(copy, msg, len);
    copy[6] = 0;
    assert_int_equal(verify(copy, len, &out), LC_EPROTO);

    /* Wrong magic or version with a correct size. */
    memcpy(copy, msg, len);
    copy[0] = 'X';
    assert_int_equal(verify(copy, len, &out), LC_EPROTO);
    memcpy(copy, msg, len);
    copy[4] = 2;
    assert_int_equal(verify(copy, len, &out), LC_EPROTO);
}

static void test_verify_bad_characters(void **state)
{
    struct lc_preface p = claim_of("peer", "127.0.0.1:7848", 77);
    struct lc_preface out;
    uint8_t msg[LC_PREFACE_MAX_LEN];
    size_t len = encode(&p, msg, sizeof msg);
    uint8_t *channel = msg + LC_PREFACE_FIXED_LEN;
    uint8_t *address = channel + 4;
    static const uint8_t bad_channel[] = {' ',  '/',  '@',  ':', 0,
                                          0x80, 0xff, '\n', '%', '~'};
    static const uint8_t bad_address[] = {' ',  0,    '\t', '\n', 0x7f,
                                          0x80, 0xc3, 0xff, 0x1b};
    (void)state;

    /* Each forged claim carries a correct MAC: the characters alone are the
     * reason for the refusal. */
    for (size_t i = 0; i < sizeof bad_channel; i++) {
        uint8_t copy[LC_PREFACE_MAX_LEN];
        memcpy(copy, msg, len);
        copy[LC_PREFACE_FIXED_LEN + 2] = bad_channel[i];
        remac(copy, len);
        assert_int_equal(verify(copy, len, &out), LC_EPROTO);
    }
    for (size_t i = 0; i < sizeof bad_address; i++) {
        uint8_t copy[LC_PREFACE_MAX_LEN];
        memcpy(copy, msg, len);
        copy[address - msg + 5] = bad_address[i];
        remac(copy, len);
        assert_int_equal(verify(copy, len, &out), LC_EPROTO);
    }
    /* Printable characters are fine in an address (with a correct MAC). */
    {
        uint8_t copy[LC_PREFACE_MAX_LEN];
        memcpy(copy, msg, len);
        copy[address - msg] = '~';
        copy[address - msg + 1] = '!';
        remac(copy, len);
        assert_int_equal(verify(copy, len, &out), 0);
        assert_string_equal(out.address, "~!7.0.0.1:7848");
    }
    /* The remac helper is sound: the untouched claim still verifies. */
    remac(msg, len);
    assert_int_equal(verify(msg, len, &out), 0);
}

static void test_verify_wrong_secret(void **state)
{
    struct lc_preface p = claim_of("peer", "127.0.0.1:7848", 77);
    struct lc_preface out;
    uint8_t msg[LC_PREFACE_MAX_LEN];
    size_t len = 0;
    (void)state;

    assert_int_equal(lc_preface_encode(other_secret, sizeof other_secret - 1,
                                       nonce_a, &p, msg, sizeof msg, &len),
                     0);
    memset(&out, 0, sizeof out);
    assert_int_equal(verify(msg, len, &out), LC_EUNAUTH);
    assert_string_equal(out.channel, ""); /* nothing filled in */
    /* A key that is a prefix of the right one. */
    assert_int_equal(lc_preface_encode(secret, sizeof secret - 2, nonce_a, &p,
                                       msg, sizeof msg, &len),
                     0);
    assert_int_equal(verify(msg, len, &out), LC_EUNAUTH);
    /* Empty key. */
    assert_int_equal(
        lc_preface_encode(secret, 0, nonce_a, &p, msg, sizeof msg, &len), 0);
    assert_int_equal(verify(msg, len, &out), LC_EUNAUTH);
    assert_int_equal(lc_preface_verify(secret, 0, nonce_a, msg, len, &out), 0);
}

static void test_verify_replay(void **state)
{
    struct lc_preface p = claim_of("peer", "127.0.0.1:7848", 77);
    struct lc_preface out;
    uint8_t msg[LC_PREFACE_MAX_LEN];
    size_t len = encode(&p, msg, sizeof msg);
    (void)state;

    /* Recorded on a connection whose hello carried nonce_a, replayed on one
     * whose hello carried nonce_b. */
    assert_int_equal(verify(msg, len, &out), 0);
    assert_int_equal(
        lc_preface_verify(secret, sizeof secret - 1, nonce_b, msg, len, &out),
        LC_EUNAUTH);
}

static void test_verify_tampered(void **state)
{
    struct lc_preface p = claim_of("peer", "127.0.0.1:7848", 77);
    struct lc_preface out;
    uint8_t msg[LC_PREFACE_MAX_LEN];
    size_t len = encode(&p, msg, sizeof msg);
    (void)state;

    /* Any change to the id, channel, address or MAC is caught (characters
     * stay legal: 'p' -> 'q', '1' -> '0' ...). */
    for (size_t i = 7; i < len; i++) {
        uint8_t copy[LC_PREFACE_MAX_LEN];
        memcpy(copy, msg, len);
        copy[i] ^= 1;
        assert_int_equal(verify(copy, len, &out), LC_EUNAUTH);
    }
}

static void test_verify_id_zero(void **state)
{
    struct lc_preface p = claim_of("peer", "127.0.0.1:7848", 0);
    struct lc_preface out;
    uint8_t msg[LC_PREFACE_MAX_LEN];
    size_t len = encode(&p, msg, sizeof msg);
    (void)state;

    assert_int_equal(verify(msg, len, &out), LC_EPROTO);
}

static void test_status_str(void **state)
{
    (void)state;
    assert_string_equal(lc_preface_status_str(LC_PREFACE_OK), "ok");
    assert_string_equal(lc_preface_status_str(LC_PREFACE_BAD_AUTH),
                        "authentication failed (check locus.cluster.secret)");
    assert_string_equal(lc_preface_status_str(LC_PREFACE_UNKNOWN_CHANNEL),
                        "unknown group or channel");
    assert_string_equal(lc_preface_status_str(LC_PREFACE_MALFORMED),
                        "malformed preface");
    assert_string_equal(lc_preface_status_str(LC_PREFACE_BUSY), "busy");
    assert_string_equal(lc_preface_status_str(LC_PREFACE_NOT_MEMBER),
                        "not a member of this cluster");
    assert_string_equal(lc_preface_status_str(6), "unknown status");
    assert_string_equal(lc_preface_status_str(255), "unknown status");
    assert_string_equal(lc_preface_status_str(-1), "unknown status");
    /* The wire values are fixed. */
    assert_int_equal(LC_PREFACE_OK, 0);
    assert_int_equal(LC_PREFACE_BAD_AUTH, 1);
    assert_int_equal(LC_PREFACE_UNKNOWN_CHANNEL, 2);
    assert_int_equal(LC_PREFACE_MALFORMED, 3);
    assert_int_equal(LC_PREFACE_BUSY, 4);
    assert_int_equal(LC_PREFACE_NOT_MEMBER, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_layout),
        cmocka_unit_test(test_hello_refused),
        cmocka_unit_test(test_claim_layout),
        cmocka_unit_test(test_claim_round_trip),
        cmocka_unit_test(test_claim_longest),
        cmocka_unit_test(test_encode_refused),
        cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_verify_malformed),
        cmocka_unit_test(test_verify_bad_characters),
        cmocka_unit_test(test_verify_wrong_secret),
        cmocka_unit_test(test_verify_replay),
        cmocka_unit_test(test_verify_tampered),
        cmocka_unit_test(test_verify_id_zero),
        cmocka_unit_test(test_status_str),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
