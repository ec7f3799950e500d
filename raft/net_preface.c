/* The preface that opens every connection to the raft port.
 *
 *   acceptor  -> connector  hello:  "LCHI" version nonce[16]            21 bytes
 *   connector -> acceptor   claim:  "LCPF" version chan_len addr_len id  15 bytes
 *                                   channel address mac[32]
 *   acceptor  -> connector  status: one byte (enum lc_preface_status)
 *
 * mac = HMAC-SHA256(secret, "locus-preface-v1" nonce chan_len channel
 * addr_len address id). The acceptor's fresh nonce makes a recorded claim
 * useless on another connection. Everything read here comes from the network
 * and is checked before use.
 */
#include <sodium.h>
#include <string.h>

#include "common/err.h"
#include "raft/net.h"

static const uint8_t hello_magic[4] = {'L', 'C', 'H', 'I'};
static const uint8_t claim_magic[4] = {'L', 'C', 'P', 'F'};
static const char mac_label[] = "locus-preface-v1";

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

void lc_preface_hello(uint8_t out[LC_PREFACE_HELLO_LEN],
                      const uint8_t nonce[LC_PREFACE_NONCE_LEN])
{
    memcpy(out, hello_magic, 4);
    out[4] = LC_PREFACE_VERSION;
    memcpy(out + 5, nonce, LC_PREFACE_NONCE_LEN);
}

int lc_preface_parse_hello(const uint8_t in[LC_PREFACE_HELLO_LEN],
                           uint8_t nonce[LC_PREFACE_NONCE_LEN])
{
    if (memcmp(in, hello_magic, 4) != 0 || in[4] != LC_PREFACE_VERSION) {
        return LC_EPROTO;
    }
    memcpy(nonce, in + 5, LC_PREFACE_NONCE_LEN);
    return 0;
}

static bool channel_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.')) {
            return false;
        }
    }
    return n > 0;
}

static bool address_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] <= ' ' || s[i] > '~') {
            return false;
        }
    }
    return n > 0;
}

static void compute_mac(const uint8_t *key, size_t keylen,
                        const uint8_t nonce[LC_PREFACE_NONCE_LEN],
                        const uint8_t *channel, uint8_t chan_len,
                        const uint8_t *address, uint8_t addr_len,
                        const uint8_t id[8], uint8_t mac[LC_PREFACE_MAC_LEN])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, keylen);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)mac_label,
                                  sizeof mac_label - 1);
    crypto_auth_hmacsha256_update(&st, nonce, LC_PREFACE_NONCE_LEN);
    crypto_auth_hmacsha256_update(&st, &chan_len, 1);
    crypto_auth_hmacsha256_update(&st, channel, chan_len);
    crypto_auth_hmacsha256_update(&st, &addr_len, 1);
    crypto_auth_hmacsha256_update(&st, address, addr_len);
    crypto_auth_hmacsha256_update(&st, id, 8);
    crypto_auth_hmacsha256_final(&st, mac);
}

int lc_preface_encode(const uint8_t *key, size_t keylen,
                      const uint8_t nonce[LC_PREFACE_NONCE_LEN],
                      const struct lc_preface *p, uint8_t *out, size_t cap,
                      size_t *len)
{
    size_t chan_len = strlen(p->channel);
    size_t addr_len = strlen(p->address);
    size_t n = LC_PREFACE_FIXED_LEN + chan_len + addr_len + LC_PREFACE_MAC_LEN;
    uint8_t *cur = out;

    if (!channel_ok(p->channel, chan_len) ||
        chan_len >= LC_NET_CHANNEL_MAX || !address_ok(p->address, addr_len) ||
        addr_len >= LC_NET_ADDR_MAX || addr_len > 255 || n > cap) {
        return LC_EINVAL;
    }
    memcpy(cur, claim_magic, 4);
    cur[4] = LC_PREFACE_VERSION;
    cur[5] = (uint8_t)chan_len;
    cur[6] = (uint8_t)addr_len;
    put64(cur + 7, p->id);
    cur += LC_PREFACE_FIXED_LEN;
    memcpy(cur, p->channel, chan_len);
    cur += chan_len;
    memcpy(cur, p->address, addr_len);
    cur += addr_len;
    compute_mac(key, keylen, nonce, (const uint8_t *)p->channel,
                (uint8_t)chan_len, (const uint8_t *)p->address,
                (uint8_t)addr_len, out + 7, cur);
    *len = n;
    return 0;
}

int lc_preface_parse_fixed(const uint8_t in[LC_PREFACE_FIXED_LEN],
                           size_t *rest_len)
{
    uint8_t chan_len = in[5];
    uint8_t addr_len = in[6];
    if (memcmp(in, claim_magic, 4) != 0 || in[4] != LC_PREFACE_VERSION ||
        chan_len == 0 || chan_len >= LC_NET_CHANNEL_MAX || addr_len == 0) {
        return LC_EPROTO;
    }
    *rest_len = (size_t)chan_len + addr_len + LC_PREFACE_MAC_LEN;
    return 0;
}

int lc_preface_verify(const uint8_t *key, size_t keylen,
                      const uint8_t nonce[LC_PREFACE_NONCE_LEN],
                      const uint8_t *msg, size_t len, struct lc_preface *out)
{
    uint8_t mac[LC_PREFACE_MAC_LEN];
    size_t rest;
    uint8_t chan_len;
    uint8_t addr_len;
    const uint8_t *channel;
    const uint8_t *address;

    if (len < LC_PREFACE_FIXED_LEN ||
        lc_preface_parse_fixed(msg, &rest) != 0 ||
        len != LC_PREFACE_FIXED_LEN + rest) {
        return LC_EPROTO;
    }
    chan_len = msg[5];
    addr_len = msg[6];
    channel = msg + LC_PREFACE_FIXED_LEN;
    address = channel + chan_len;
    if (!channel_ok((const char *)channel, chan_len) ||
        !address_ok((const char *)address, addr_len)) {
        return LC_EPROTO;
    }
    compute_mac(key, keylen, nonce, channel, chan_len, address, addr_len,
                msg + 7, mac);
    if (sodium_memcmp(mac, address + addr_len, LC_PREFACE_MAC_LEN) != 0) {
        return LC_EUNAUTH;
    }
    memcpy(out->channel, channel, chan_len);
    out->channel[chan_len] = '\0';
    memcpy(out->address, address, addr_len);
    out->address[addr_len] = '\0';
    out->id = get64(msg + 7);
    if (out->id == 0) {
        return LC_EPROTO;
    }
    return 0;
}

const char *lc_preface_status_str(int status)
{
    switch (status) {
        case LC_PREFACE_OK:
            return "ok";
        case LC_PREFACE_BAD_AUTH:
            return "authentication failed (check locus.cluster.secret)";
        case LC_PREFACE_UNKNOWN_CHANNEL:
            return "unknown group or channel";
        case LC_PREFACE_MALFORMED:
            return "malformed preface";
        case LC_PREFACE_BUSY:
            return "busy";
        case LC_PREFACE_NOT_MEMBER:
            return "not a member of this cluster";
    }
    return "unknown status";
}
