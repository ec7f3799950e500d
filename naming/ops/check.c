/* Nacos's validation rules with their messages (naming/ops/check.h).
 * Sources: alibaba/nacos 2.4.3 api/naming/utils/NamingUtils.java,
 * common/paramcheck/DefaultParamChecker.java, naming's
 * HttpRequestInstanceBuilder and InstanceIdGeneratorManager. */
#include "naming/ops/check.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/java.h"
#include "common/util.h"
#include "naming/core/model.h"

const char *lc_check_service_name_format(const char *grouped)
{
    /* Java's grouped.split("@@"): parts, minus trailing empty ones. */
    size_t parts = 0;
    size_t last_nonempty = 0;
    bool first_empty = false;
    const char *p = grouped;
    for (;;) {
        const char *sep = strstr(p, LC_GROUP_SEP);
        size_t len = sep != NULL ? (size_t)(sep - p) : strlen(p);
        parts++;
        if (parts == 1) {
            first_empty = len == 0;
        }
        if (len > 0) {
            last_nonempty = parts;
        }
        if (sep == NULL) {
            break;
        }
        p = sep + 2;
    }
    if (last_nonempty <= 1) {
        return "Param 'serviceName' is illegal, it should be format as "
               "'groupName@@serviceName'";
    }
    if (first_empty) {
        return "Param 'serviceName' is illegal, groupName can't be empty";
    }
    return NULL;
}

int lc_check_service_name(const char *grouped, struct lc_err *e)
{
    const char *msg = lc_check_service_name_format(grouped);
    return msg == NULL ? 0 : lc_err_set(e, LC_EINVAL, "%s", msg);
}

int lc_check_instance_ip(const char *ip, struct lc_err *e)
{
    if (lc_check_ip(ip)) {
        return 0;
    }
    return lc_err_set(e, LC_ECHECK,
                      "Param 'ip' is illegal, it should be an IPv4 or IPv6 "
                      "address or a host name.");
}

/* ------------------------------------------------------- param checker */

static bool only(const char *s, const char *extra)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (!isalnum(*p) && strchr(extra, *p) == NULL) {
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------ encodings, ip */

bool lc_check_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        unsigned cp;
        int n;
        if (*p < 0x80) {
            p++;
            continue;
        }
        if (*p >= 0xC2 && *p <= 0xDF) {
            n = 1;
            cp = *p & 0x1F;
        } else if (*p >= 0xE0 && *p <= 0xEF) {
            n = 2;
            cp = *p & 0x0F;
        } else if (*p >= 0xF0 && *p <= 0xF4) {
            n = 3;
            cp = *p & 0x07;
        } else {
            return false; /* continuation byte, C0/C1 or F5..FF */
        }
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80) {
                return false; /* also stops at the NUL */
            }
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        p += n + 1;
    }
    return true;
}

static bool ipv6_literal(const char *ip)
{
    char addr[64];
    struct in6_addr a6;
    const char *zone = strchr(ip, '%');
    size_t n = zone != NULL ? (size_t)(zone - ip) : strlen(ip);
    if (n >= sizeof addr) {
        return false;
    }
    memcpy(addr, ip, n);
    addr[n] = '\0';
    if (zone != NULL && (zone[1] == '\0' || !only(zone + 1, "-_."))) {
        return false;
    }
    return inet_pton(AF_INET6, addr, &a6) == 1;
}

/* RFC 1123 labels, with '_' as service names in DNS use it; a name of
 * digits and dots only is a mistyped IPv4 address. */
static bool host_name(const char *ip)
{
    size_t label = 0;
    bool digits_only = true;
    char prev = '.';
    if (strlen(ip) > 253) {
        return false;
    }
    for (const char *p = ip; *p != '\0'; p++) {
        if (*p == '.') {
            if (label == 0 || prev == '-') {
                return false;
            }
            label = 0;
        } else {
            if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
                return false;
            }
            if ((label == 0 && *p == '-') || ++label > 63) {
                return false;
            }
            digits_only = digits_only && isdigit((unsigned char)*p);
        }
        prev = *p;
    }
    return label > 0 && prev != '-' && !digits_only;
}

bool lc_check_ip(const char *ip)
{
    struct in_addr a4;
    if (inet_pton(AF_INET, ip, &a4) == 1) {
        return true;
    }
    if (strchr(ip, ':') != NULL) {
        return ipv6_literal(ip);
    }
    return host_name(ip);
}

/* U+4E00..U+9FA5 in UTF-8: E4 B8 80 .. E9 BE A5. */
static bool cjk_at(const unsigned char *p)
{
    unsigned cp;
    if ((p[0] & 0xF0) != 0xE0 || (p[1] & 0xC0) != 0x80 ||
        (p[2] & 0xC0) != 0x80) {
        return false;
    }
    cp = ((unsigned)(p[0] & 0x0F) << 12) | ((unsigned)(p[1] & 0x3F) << 6) |
         (p[2] & 0x3F);
    return cp >= 0x4E00 && cp <= 0x9FA5;
}

static bool java_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == 0x0B || c == '\f' ||
           c == '\r';
}

/* Java's length() counts UTF-16 units; count code points (BMP is the same). */
static size_t java_len(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p & 0xC0) != 0x80) {
            n += (*p >= 0xF0) ? 2 : 1;
        }
    }
    return n;
}

/* ^(?!@).((?!@@)[^\u4E00-\u9FA5\s])*$ */
static bool service_chars_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    if (*p == '@' || *p == '\n' || *p == '\r') {
        return false;
    }
    /* skip the first character (any UTF-8 sequence) */
    p++;
    while ((*p & 0xC0) == 0x80) {
        p++;
    }
    for (; *p != '\0'; p++) {
        if (p[0] == '@' && p[1] == '@') {
            return false;
        }
        if (java_space(*p) || cjk_at(p)) {
            return false;
        }
    }
    return true;
}

static bool ip_chars_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (java_space(*p) || cjk_at(p)) {
            return false;
        }
    }
    return true;
}

static int illegal(struct lc_err *e, const char *param)
{
    return lc_err_set(e, LC_ECHECK,
                      "Param '%s' is illegal, illegal characters should not "
                      "appear in the param.",
                      param);
}

static int check_len(const char *param, const char *value, size_t max,
                     struct lc_err *e)
{
    if (java_len(value) > max) {
        return lc_err_set(e, LC_ECHECK,
                          "Param '%s' is illegal, the param length should "
                          "not exceed %zu.",
                          param, max);
    }
    return 0;
}

static int check_cluster(const char *c, struct lc_err *e)
{
    int rv = check_len("cluster", c, LC_MAX_CLUSTER_NAME, e);
    if (rv == 0 && !only(c, "-_")) {
        rv = illegal(e, "cluster");
    }
    return rv;
}

/* Every item of a comma-separated list of clusters. */
static int check_clusters(const char *list, struct lc_err *e)
{
    char item[1200];
    const char *p = list;
    while (!lc_java_blank(p)) {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (n >= sizeof item) {
            n = sizeof item - 1;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        if (!lc_java_blank(item) && check_cluster(item, e) != 0) {
            return e->code;
        }
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    return 0;
}

int lc_check_params(const struct lc_param_info *pi, struct lc_err *e)
{
    if (!lc_java_blank(pi->ns)) {
        if (check_len("namespaceId/tenant", pi->ns, LC_MAX_NAMESPACE, e) !=
            0) {
            return e->code;
        }
        if (!only(pi->ns, "_-")) {
            return illegal(e, "namespaceId/tenant");
        }
    }
    if (!lc_java_blank(pi->service)) {
        if (check_len("serviceName", pi->service, LC_MAX_SERVICE_NAME, e) !=
            0) {
            return e->code;
        }
        if (!service_chars_ok(pi->service) || !lc_check_utf8(pi->service)) {
            return illegal(e, "serviceName");
        }
    }
    if (!lc_java_blank(pi->group)) {
        if (check_len("group", pi->group, LC_MAX_GROUP_NAME, e) != 0) {
            return e->code;
        }
        if (!only(pi->group, "-_:.")) {
            return illegal(e, "group");
        }
    }
    if (check_clusters(pi->clusters, e) != 0) {
        return e->code;
    }
    if (!lc_java_blank(pi->cluster) && check_cluster(pi->cluster, e) != 0) {
        return e->code;
    }
    if (!lc_java_blank(pi->ip)) {
        if (check_len("ip", pi->ip, 128, e) != 0) {
            return e->code;
        }
        if (!ip_chars_ok(pi->ip)) {
            return illegal(e, "ip");
        }
        if (lc_check_instance_ip(pi->ip, e) != 0) {
            return e->code;
        }
    }
    if (!lc_java_blank(pi->port)) {
        int v;
        char err[64];
        if (!lc_java_parse_int(pi->port, &v, err, sizeof err) || v < 0 ||
            v > 65535) {
            return lc_err_set(e, LC_ECHECK,
                              "Param 'port' is illegal, the value should be "
                              "between 0 and 65535.");
        }
    }
    if (pi->metadata_len > LC_MAX_METADATA) {
        return lc_err_set(e, LC_ECHECK,
                          "Param 'Metadata' is illegal, the param length "
                          "should not exceed %d.",
                          LC_MAX_METADATA);
    }
    return 0;
}

size_t lc_check_metadata_len(const char *canonical)
{
    json_t *obj = json_loads(canonical, 0, NULL);
    const char *k;
    json_t *v;
    size_t total = 0;
    json_object_foreach(obj, k, v)
    {
        const char *s = json_string_value(v);
        if (!lc_java_blank(k)) {
            total += java_len(k);
        }
        if (s != NULL && !lc_java_blank(s)) {
            total += java_len(s);
        }
    }
    json_decref(obj);
    return total;
}

/* ------------------------------------------------------------ instances */

int lc_check_weight(double weight, struct lc_err *e)
{
    if (weight != weight || weight > 10000.0 || weight < 0.0) {
        return lc_err_set(
            e, LC_EINVAL,
            "instance format invalid: The weights range from 0.0 to 10000.0");
    }
    return 0;
}

int lc_check_id_generator(const char *metadata, struct lc_err *e)
{
    json_t *meta;
    const char *gen;
    bool unknown;
    if (strcmp(metadata, "{}") == 0) {
        return 0;
    }
    meta = json_loads(metadata, 0, NULL);
    gen = json_string_value(json_object_get(meta, LC_META_ID_GENERATOR));
    unknown = gen != NULL && strcmp(gen, "simple") != 0;
    json_decref(meta);
    if (unknown) {
        return lc_err_set(e, LC_ESERVER,
                          "caused: The InstanceIdGenerator type is not found "
                          ";");
    }
    return 0;
}

static bool cluster_chars_ok(const char *c)
{
    for (const char *p = c; *p != '\0'; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
              (*p >= 'A' && *p <= 'Z') || *p == '-')) {
            return false;
        }
    }
    return true;
}

static int bad_cluster(const char *cluster, struct lc_err *e)
{
    return lc_err_set(e, LC_EINVAL,
                      "Instance 'clusterName' should be characters with only "
                      "0-9a-zA-Z-. (current: %s)",
                      cluster);
}

int lc_check_instance_legal(const char *metadata, const char *cluster,
                            struct lc_err *e)
{
    json_t *meta = strcmp(metadata, "{}") == 0 ? json_object()
                                               : json_loads(metadata, 0, NULL);
    long long interval = lc_meta_long(meta, LC_META_BEAT_INTERVAL, 5000);
    bool bad = lc_meta_long(meta, LC_META_BEAT_TIMEOUT, 15000) < interval ||
               lc_meta_long(meta, LC_META_DELETE_TIMEOUT, 30000) < interval;
    json_decref(meta);
    if (bad) {
        return lc_err_set(e, LC_EINVAL,
                          "Instance 'heart beat interval' must less than "
                          "'heart beat timeout' and 'ip delete timeout'.");
    }
    return cluster_chars_ok(cluster) ? 0 : bad_cluster(cluster, e);
}

int lc_check_cluster_name(const char *cluster, struct lc_err *e)
{
    if (cluster[0] == '\0' || !cluster_chars_ok(cluster)) {
        return bad_cluster(cluster, e);
    }
    return 0;
}

int lc_check_metadata(const char *text, char **canonical, struct lc_err *e)
{
    *canonical = NULL;
    if (lc_metadata_parse(text, canonical) != 0) {
        return lc_err_set(e, LC_EINVAL, "metadata format incorrect:%s",
                          text != NULL ? text : "null");
    }
    return 0;
}
