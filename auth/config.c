/* The auth properties: defaults, and the refusals that keep Nacos's
 * published secrets and identities out of a running server. */
#include <sodium.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/internal.h"
#include "common/err.h"

#define KEY_ENABLED "nacos.core.auth.enabled"
#define KEY_SECRET "nacos.core.auth.plugin.nacos.token.secret.key"
#define KEY_TTL "nacos.core.auth.plugin.nacos.token.expire.seconds"
#define KEY_ID_KEY "nacos.core.auth.server.identity.key"
#define KEY_ID_VALUE "nacos.core.auth.server.identity.value"
#define KEY_WINDOW "locus.auth.login.fail_window_s"

/* Secrets published in Nacos's application.properties (up to 2.2.0), its
 * docker images' env files and its documentation's example. Compared
 * after decoding, so another spelling of the same bytes is refused too. */
static const char *const PUBLISHED_SECRETS[] = {
    "SecretKey012345678901234567890123456789012345678901234567890123456789",
    "VGhpc0lzTXlDdXN0b21TZWNyZXRLZXkwMTIzNDU2Nzg=",
};

/* The identity key and value Nacos shipped until 2.2.1. */
#define PUBLISHED_ID_KEY "serverIdentity"
#define PUBLISHED_ID_VALUE "security"

void lc_auth_config_default(struct lc_auth_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->enabled = false;
    cfg->token_ttl_s = 18000;
    cfg->max_fails_per_user = 10;
    cfg->max_fails_per_ip = 30;
    cfg->fail_window_s = 300;
}

/* @text is a published secret as written, or (@key, @len) its bytes. The
 * oldest (69 characters) is not even base64: Nacos's lenient decoder
 * dropped its last character. */
static bool published_secret(const char *text, const uint8_t *key, long len)
{
    for (size_t i = 0;
         i < sizeof PUBLISHED_SECRETS / sizeof PUBLISHED_SECRETS[0]; i++) {
        if (text != NULL && strcmp(text, PUBLISHED_SECRETS[i]) == 0)
            return true;
        if (key == NULL)
            continue;
        uint8_t k[LC_AUTH_KEY_MAX];
        long n = lc_auth_b64_decode(PUBLISHED_SECRETS[i], k, sizeof k);
        if (n == len && memcmp(k, key, (size_t)n) == 0)
            return true;
    }
    return false;
}

static int published_refusal(char *errmsg, size_t errlen)
{
    return lc_errf(LC_ECONFIG, errmsg, errlen,
                   "%s is a secret published by Nacos (anyone can sign "
                   "tokens with it): set your own (e.g. openssl rand -base64 "
                   "32)",
                   KEY_SECRET);
}

int lc_auth_config_validate(const struct lc_auth_config *cfg, bool cluster,
                            char *errmsg, size_t errlen)
{
    if (!cfg->enabled)
        return 0;
    const char *sec = cfg->secret_b64;
    if (sec[0] == '\0')
        return lc_errf(LC_ECONFIG, errmsg, errlen,
                       "%s is required when %s=true: set a base64 secret of "
                       "at least 32 random bytes (e.g. openssl rand -base64 "
                       "32), the same on every member",
                       KEY_SECRET, KEY_ENABLED);
    if (published_secret(sec, NULL, 0))
        return published_refusal(errmsg, errlen);
    uint8_t key[LC_AUTH_KEY_MAX];
    long n = lc_auth_b64_decode(sec, key, sizeof key);
    if (n < 0)
        return lc_errf(LC_ECONFIG, errmsg, errlen,
                       "%s is not base64 (standard alphabet, at most %d "
                       "bytes decoded)",
                       KEY_SECRET, LC_AUTH_KEY_MAX);
    if (n < 32)
        return lc_errf(LC_ECONFIG, errmsg, errlen,
                       "%s decodes to %ld bytes: it must be at least 32 "
                       "bytes (e.g. openssl rand -base64 32)",
                       KEY_SECRET, n);
    bool published = published_secret(NULL, key, n);
    sodium_memzero(key, sizeof key);
    if (published)
        return published_refusal(errmsg, errlen);
    if (cfg->token_ttl_s == 0)
        return lc_errf(LC_ECONFIG, errmsg, errlen,
                       "%s must be at least 1", KEY_TTL);
    if (cfg->fail_window_s == 0 &&
        (cfg->max_fails_per_user > 0 || cfg->max_fails_per_ip > 0))
        return lc_errf(LC_ECONFIG, errmsg, errlen, "%s must be at least 1",
                       KEY_WINDOW);
    if (cluster) {
        if (cfg->identity_key[0] == '\0' || cfg->identity_value[0] == '\0')
            return lc_errf(LC_ECONFIG, errmsg, errlen,
                           "%s and %s are required in a cluster when %s=true "
                           "(the header members add to the HTTP requests "
                           "they send each other)",
                           KEY_ID_KEY, KEY_ID_VALUE, KEY_ENABLED);
        /* The key is only a header name (every peer request shows it);
         * the value is the secret. */
        if (strcmp(cfg->identity_value, PUBLISHED_ID_VALUE) == 0)
            return lc_errf(LC_ECONFIG, errmsg, errlen,
                           "%s is \"%s\", Nacos's published default (with "
                           "%s=%s, anyone could pass as a member): set your "
                           "own value",
                           KEY_ID_VALUE, PUBLISHED_ID_VALUE, KEY_ID_KEY,
                           PUBLISHED_ID_KEY);
    }
    return 0;
}
