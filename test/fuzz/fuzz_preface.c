/* libFuzzer driver: arbitrary bytes through the raft preface parsers. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "raft/net.h"

/* Input layout: byte 0 holds flags, the rest is what a connector sent.
 *   bit 0: re-sign the claim with the right secret and nonce before
 *          verifying (when its lengths add up), so inputs get past the MAC
 *          and the success path is explored too;
 *   bit 1: use a zero-length secret.
 * The first 21 bytes are also tried as a hello. Whatever verify accepts
 * must be a legal claim that encodes back to exactly the same bytes. */

static const uint8_t key[] = "fuzz secret";
static const uint8_t nonce[LC_PREFACE_NONCE_LEN] = {
    0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static void sign(const uint8_t *k, size_t klen, uint8_t *msg, size_t len)
{
    crypto_auth_hmacsha256_state st;
    uint8_t chan_len = msg[5];
    uint8_t addr_len = msg[6];
    if (len != (size_t)LC_PREFACE_FIXED_LEN + chan_len + addr_len +
                   LC_PREFACE_MAC_LEN) {
        return;
    }
    crypto_auth_hmacsha256_init(&st, k, klen);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)"locus-preface-v1", 16);
    crypto_auth_hmacsha256_update(&st, nonce, LC_PREFACE_NONCE_LEN);
    crypto_auth_hmacsha256_update(&st, &chan_len, 1);
    crypto_auth_hmacsha256_update(&st, msg + LC_PREFACE_FIXED_LEN, chan_len);
    crypto_auth_hmacsha256_update(&st, &addr_len, 1);
    crypto_auth_hmacsha256_update(&st, msg + LC_PREFACE_FIXED_LEN + chan_len,
                                  addr_len);
    crypto_auth_hmacsha256_update(&st, msg + 7, 8);
    crypto_auth_hmacsha256_final(&st, msg + len - LC_PREFACE_MAC_LEN);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init() < 0) {
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t flags;
    uint8_t *msg;
    size_t len;
    size_t klen;
    size_t rest = 0;
    int fixed_rv = -1;
    int rv;
    struct lc_preface out;
    uint8_t hello_nonce[LC_PREFACE_NONCE_LEN];

    if (size < 1) {
        return 0;
    }
    flags = data[0];
    len = size - 1;
    klen = (flags & 2) != 0 ? 0 : sizeof key - 1;
    /* An exact-size heap copy, so ASan sees any read past the input. */
    msg = malloc(len > 0 ? len : 1);
    if (msg == NULL) {
        return 0;
    }
    memcpy(msg, data + 1, len);

    if (len >= LC_PREFACE_HELLO_LEN &&
        lc_preface_parse_hello(msg, hello_nonce) == 0 &&
        memcmp(msg + 5, hello_nonce, LC_PREFACE_NONCE_LEN) != 0) {
        abort();
    }
    if (len >= LC_PREFACE_FIXED_LEN) {
        fixed_rv = lc_preface_parse_fixed(msg, &rest);
        if (fixed_rv == 0 &&
            (rest > LC_PREFACE_MAX_LEN - LC_PREFACE_FIXED_LEN ||
             rest < 2 + LC_PREFACE_MAC_LEN)) {
            abort(); /* the hub reads rest bytes into a fixed buffer */
        }
        if ((flags & 1) != 0) {
            sign(key, klen, msg, len);
        }
    }
    memset(&out, 0xa5, sizeof out);
    rv = lc_preface_verify(key, klen, nonce, msg, len, &out);
    if (rv != 0 && rv != LC_EPROTO && rv != LC_EUNAUTH) {
        abort();
    }
    if (rv == 0) {
        uint8_t again[LC_PREFACE_MAX_LEN];
        size_t again_len = 0;
        /* Accepted: the head was fine, the size exact, the fields legal. */
        if (fixed_rv != 0 || len != LC_PREFACE_FIXED_LEN + rest ||
            out.id == 0 ||
            memchr(out.channel, '\0', sizeof out.channel) == NULL ||
            memchr(out.address, '\0', sizeof out.address) == NULL) {
            abort();
        }
        if (lc_preface_encode(key, klen, nonce, &out, again, sizeof again,
                              &again_len) != 0 ||
            again_len != len || memcmp(again, msg, len) != 0) {
            abort();
        }
    }
    free(msg);
    return 0;
}
