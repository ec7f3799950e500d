/* Which clients get UDP pushes (udp.h): Nacos's ClientInfo and
 * UdpPushService.canEnablePush, with Jackson's VersionUtil version rules.
 *
 * The User-Agent names the client type by prefix; the version is what
 * follows the first ":v", split on any of "-_./;:" into major, minor, patch
 * (each the leading digits of its part) and a fourth part that marks a
 * snapshot, which sorts before the same release. The minimum versions are
 * the switch domain's defaults (pushJavaVersion ...), which locus does not
 * let operators change yet.
 */
#include <stdbool.h>
#include <string.h>

#include "naming/push/udp.h"

struct client_type {
    const char *prefix;
    const char *min_version;
};

/* ClientType order (GO, JAVA, C, CSHARP, ... first match wins); the C++
 * client counts as C; DNS uses pushPythonVersion. Types without a row
 * (PHP, nginx, SDK, server) never get pushes. */
static const struct client_type types[] = {
    {"Nacos-Go-Client", "0.1.0"}, {"Nacos-Java-Client", "0.1.0"},
    {"Nacos-C-Client", "1.0.12"}, {"Nacos-CSharp-Client", "0.9.0"},
    {"Nacos-Php-Client", NULL},   {"Nacos-DNS", "0.4.3"},
    {"unit-nginx", NULL},         {"Nacos-SDK-Java", NULL},
    {"Nacos-Server", NULL},       {"vip-client4cpp", "1.0.12"},
};

struct version {
    long major, minor, patch;
    bool snapshot;
};

static bool is_sep(char c)
{
    return c != '\0' && strchr("-_./;:", c) != NULL;
}

/* VersionUtil.parseVersion(s, null, null). */
static void parse_version(const char *s, struct version *v)
{
    const char *end;
    const char *part[4] = {NULL, NULL, NULL, NULL};
    size_t len[4] = {0, 0, 0, 0};
    unsigned n = 0;
    long *num[3] = {&v->major, &v->minor, &v->patch};

    memset(v, 0, sizeof *v);
    while (*s != '\0' && (unsigned char)*s <= ' ') {
        s++;
    }
    end = s + strlen(s);
    while (end > s && (unsigned char)end[-1] <= ' ') {
        end--;
    }
    /* Only four parts matter; Java's split also drops trailing empty
     * parts, which changes nothing here (an empty part reads as 0, and an
     * empty fourth part is no snapshot). */
    for (const char *p = s; p <= end && n < 4;) {
        const char *q = p;
        while (q < end && !is_sep(*q)) {
            q++;
        }
        part[n] = p;
        len[n] = (size_t)(q - p);
        n++;
        p = q + 1;
    }
    for (unsigned i = 0; i < 3 && i < n; i++) {
        long x = 0;
        for (size_t k = 0; k < len[i] && part[i][k] >= '0' && part[i][k] <= '9';
             k++) {
            x = x * 10 + (part[i][k] - '0');
            if (x > 0x7fffffffL) {
                x &= 0x7fffffffL; /* int arithmetic wraps in Java */
            }
        }
        *num[i] = x;
    }
    v->snapshot = n > 3 && len[3] > 0;
}

/* Version.compareTo for versions without group or artifact. */
static int compare(const struct version *a, const struct version *b)
{
    if (a->major != b->major) {
        return a->major < b->major ? -1 : 1;
    }
    if (a->minor != b->minor) {
        return a->minor < b->minor ? -1 : 1;
    }
    if (a->patch != b->patch) {
        return a->patch < b->patch ? -1 : 1;
    }
    if (a->snapshot != b->snapshot) {
        return a->snapshot ? -1 : 1;
    }
    return 0;
}

bool lc_push_agent_supported(const char *agent)
{
    const struct client_type *type = NULL;
    struct version have, want;
    const char *v;

    if (agent == NULL) {
        return false;
    }
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (strncmp(agent, types[i].prefix, strlen(types[i].prefix)) == 0) {
            type = &types[i];
            break;
        }
    }
    if (type == NULL || type->min_version == NULL) {
        return false;
    }
    v = strstr(agent, ":v");
    if (v == NULL) {
        memset(&have, 0, sizeof have); /* Version.unknownVersion() */
    } else {
        parse_version(v + 2, &have);
    }
    parse_version(type->min_version, &want);
    return compare(&have, &want) >= 0;
}
