/* Nacos's request filters and parameter rules for /v1/ns, with their exact
 * messages: ServiceNameFilter, ParamCheckerFilter (DefaultParamChecker), and
 * WebUtils' required/optional. Sources: alibaba/nacos 2.4.3,
 * naming/web/ServiceNameFilter.java, common/paramcheck/DefaultParamChecker.java,
 * core/utils/WebUtils.java.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/util.h"
#include "naming/http/filters.h"
#include "naming/core/model.h"

/* ------------------------------------------------------------- replies */

static const char *reason(int status)
{
    switch (status) {
        case 400:
            return "Bad Request";
        case 404:
            return "Not Found";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 503:
            return "Service Unavailable";
    }
    return "Error";
}

/* Spring Boot's timestamp: 2024-11-05T10:00:00.123+08:00 (local zone). */
static void spring_timestamp(char *out, size_t size)
{
    struct timespec ts;
    struct tm tm;
    char base[24];
    char zone[8];
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    strftime(zone, sizeof zone, "%z", &tm); /* +0800 */
    snprintf(out, size, "%s.%03ld%.3s:%.2s", base, ts.tv_nsec / 1000000L,
             zone, zone + 3);
}

/* As Jackson writes a string: \" \\ \b \t \n \f \r, other controls as
 * \u00XX with upper-case hex, everything else verbatim. */
static char short_escape(unsigned char c)
{
    switch (c) {
        case '\b':
            return 'b';
        case '\t':
            return 't';
        case '\n':
            return 'n';
        case '\f':
            return 'f';
        case '\r':
            return 'r';
    }
    return 0;
}

static void json_escape(char *out, size_t size, const char *in)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in;
         *p != '\0' && o + 7 < size; p++) {
        if (*p == '"' || *p == '\\') {
            out[o++] = '\\';
            out[o++] = (char)*p;
        } else if (short_escape(*p) != 0) {
            out[o++] = '\\';
            out[o++] = short_escape(*p);
        } else if (*p < 0x20) {
            o += (size_t)snprintf(out + o, size - o, "\\u%04X", *p);
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o] = '\0';
}

void lc_naming_error(struct lc_http_exchange *ex, enum lc_err_kind kind,
                     int status, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    if (lc_v2(ex)) {
        lc_v2_error(ex, status, msg);
        return;
    }
    switch (kind) {
        case LC_KIND_TEXT:
            lc_http_reply(ex, status, "text/plain;charset=UTF-8", msg,
                          strlen(msg));
            break;
        case LC_KIND_CHECK: {
            size_t n = strlen(msg);
            if (n + 2 < sizeof msg) {
                memcpy(msg + n, "\r\n", 3);
                n += 2;
            }
            lc_http_reply(ex, status, NULL, msg, n);
            break;
        }
        case LC_KIND_DOWN:
            lc_http_reply(ex, status, NULL, msg, strlen(msg));
            break;
        case LC_KIND_SPRING: {
            char stamp[64];
            char emsg[4200];
            char epath[2100];
            char body[7000];
            int n;
            spring_timestamp(stamp, sizeof stamp);
            json_escape(emsg, sizeof emsg, msg);
            json_escape(epath, sizeof epath, lc_http_path(ex));
            n = snprintf(body, sizeof body,
                         "{\"timestamp\":\"%s\",\"status\":%d,\"error\":\"%s\","
                         "\"message\":\"%s\",\"path\":\"%s\"}",
                         stamp, status, reason(status), emsg, epath);
            lc_http_reply(ex, status, "application/json", body,
                          n > 0 && (size_t)n < sizeof body ? (size_t)n
                                                           : strlen(body));
            break;
        }
    }
}

void lc_naming_ok(struct lc_http_exchange *ex)
{
    if (lc_v2(ex)) {
        lc_v2_success(ex, json_string("ok"));
        return;
    }
    lc_http_reply(ex, 200, "text/plain;charset=UTF-8", "ok", 2);
}

/* ------------------------------------------------------------- values */

bool lc_to_boolean(const char *s)
{
    static const char *yes[] = {"true", "t", "yes", "y", "on"};
    if (s == NULL) {
        return false;
    }
    for (size_t i = 0; i < LC_ARRAY_SIZE(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* Java's String.trim: strips chars <= ' '. */
static void trim_copy(const char *in, char *out, size_t size)
{
    const char *end;
    size_t n;
    while (*in != '\0' && (unsigned char)*in <= ' ') {
        in++;
    }
    end = in + strlen(in);
    while (end > in && (unsigned char)end[-1] <= ' ') {
        end--;
    }
    n = (size_t)(end - in);
    if (n >= size) {
        n = size - 1;
    }
    memcpy(out, in, n);
    out[n] = '\0';
}

static bool blank(const char *s)
{
    if (s == NULL) {
        return true;
    }
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s > ' ') {
            return false;
        }
    }
    return true;
}

const char *lc_optional(const struct lc_http_exchange *ex, const char *name,
                        char *out, size_t size)
{
    const char *v = lc_http_param(ex, name);
    if (blank(v)) {
        return NULL;
    }
    trim_copy(v, out, size);
    return out;
}

const char *lc_required(struct lc_http_exchange *ex, const char *name,
                        char *out, size_t size)
{
    const char *v = lc_http_param(ex, name);
    if (v == NULL || v[0] == '\0') {
        lc_naming_error(ex, LC_KIND_TEXT, 400, "Param '%s' is required.",
                        name);
        return NULL;
    }
    trim_copy(v, out, size);
    return out;
}

bool lc_java_parse_int(const char *s, int *out, char *err, size_t errlen)
{
    const char *p = s;
    long long v = 0;
    bool neg = false;
    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        p++;
    }
    if (*p == '\0') {
        goto bad;
    }
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            goto bad;
        }
        v = v * 10 + (*p - '0');
        if (v > 2147483648LL) {
            goto bad;
        }
    }
    if (neg) {
        v = -v;
    }
    if (v > 2147483647LL) {
        goto bad;
    }
    *out = (int)v;
    return true;
bad:
    snprintf(err, errlen, "For input string: \"%s\"", s);
    return false;
}

/* After an exponent marker: [+-]<digits>. NULL when there are no digits. */
static const char *skip_exponent(const char *p)
{
    if (*p == '+' || *p == '-') {
        p++;
    }
    if (!isdigit((unsigned char)*p)) {
        return NULL;
    }
    while (isdigit((unsigned char)*p)) {
        p++;
    }
    return p;
}

/* FloatingDecimal's grammar: [+-] then NaN, Infinity, a hexadecimal
 * 0x<hex>[.<hex>]p[+-]<digits> or a decimal <digits>[.<digits>][e[+-]
 * <digits>], then one optional f/F/d/D. strtod alone would also take
 * "nan", "inf", "infinity" and "0x10". */
static bool java_double_syntax(const char *p)
{
    bool digits = false;
    if (*p == '+' || *p == '-') {
        p++;
    }
    if (strcmp(p, "NaN") == 0 || strcmp(p, "Infinity") == 0) {
        return true;
    }
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        for (p += 2; isxdigit((unsigned char)*p); p++) {
            digits = true;
        }
        if (*p == '.') {
            for (p++; isxdigit((unsigned char)*p); p++) {
                digits = true;
            }
        }
        if (!digits || (*p != 'p' && *p != 'P')) {
            return false;
        }
        p = skip_exponent(p + 1);
    } else {
        for (; isdigit((unsigned char)*p); p++) {
            digits = true;
        }
        if (*p == '.') {
            for (p++; isdigit((unsigned char)*p); p++) {
                digits = true;
            }
        }
        if (!digits) {
            return false;
        }
        if (*p == 'e' || *p == 'E') {
            p = skip_exponent(p + 1);
        }
    }
    if (p == NULL) {
        return false;
    }
    if (*p == 'd' || *p == 'D' || *p == 'f' || *p == 'F') {
        p++;
    }
    return *p == '\0';
}

bool lc_java_parse_double(const char *s, double *out, char *err,
                          size_t errlen)
{
    char t[256];
    trim_copy(s, t, sizeof t); /* Double.parseDouble trims */
    if (t[0] == '\0') {
        snprintf(err, errlen, "empty String");
        return false;
    }
    if (!java_double_syntax(t)) {
        /* Java quotes the trimmed text. */
        snprintf(err, errlen, "For input string: \"%s\"", t);
        return false;
    }
    /* strtod stops before a d/f suffix; overflow gives Infinity as in
     * Java, so errno is not looked at. */
    *out = strtod(t, NULL);
    return true;
}

/* ------------------------------------------------------ service filter */

const char *lc_service_name_format_error(const char *grouped)
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

bool lc_filter_service_name(struct lc_http_exchange *ex, char *out,
                            size_t size)
{
    const char *raw = lc_http_param(ex, "serviceName");
    const char *group = lc_http_param(ex, "groupName");
    char name[1200];
    const char *error;

    out[0] = '\0';
    if (raw == NULL) {
        return true;
    }
    if (blank(raw)) {
        lc_strlcpy(out, raw, size);
        return true;
    }
    trim_copy(raw, name, sizeof name);
    if (blank(group)) {
        group = LC_DEFAULT_GROUP;
    }
    if (strstr(name, LC_GROUP_SEP) == NULL) {
        snprintf(out, size, "%s%s%s", group, LC_GROUP_SEP, name);
    } else {
        lc_strlcpy(out, name, size);
    }
    error = lc_service_name_format_error(out);
    if (error != NULL) {
        lc_naming_error(ex, LC_KIND_SPRING, 400,
                        "Service name filter error,caused: %s;", error);
        return false;
    }
    return true;
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

static bool check_fail(struct lc_http_exchange *ex, const char *param,
                       bool length)
{
    if (length) {
        return false; /* caller formats the length message */
    }
    lc_naming_error(ex, LC_KIND_CHECK, 400,
                    "Param '%s' is illegal, illegal characters should not "
                    "appear in the param.",
                    param);
    return false;
}

static bool check_len(struct lc_http_exchange *ex, const char *param,
                      const char *value, size_t max)
{
    if (java_len(value) > max) {
        lc_naming_error(ex, LC_KIND_CHECK, 400,
                        "Param '%s' is illegal, the param length should not "
                        "exceed %zu.",
                        param, max);
        return false;
    }
    return true;
}

static bool check_cluster(struct lc_http_exchange *ex, const char *c)
{
    if (!check_len(ex, "cluster", c, LC_MAX_CLUSTER_NAME)) {
        return false;
    }
    if (!only(c, "-_")) {
        return check_fail(ex, "cluster", false);
    }
    return true;
}

static size_t metadata_length(const char *raw, bool *bad)
{
    char *canonical = NULL;
    json_t *obj;
    const char *k;
    json_t *v;
    size_t total = 0;
    *bad = false;
    if (blank(raw)) {
        return 0;
    }
    if (lc_metadata_parse(raw, &canonical) != 0) {
        *bad = true;
        return 0;
    }
    obj = json_loads(canonical, 0, NULL);
    free(canonical);
    json_object_foreach(obj, k, v)
    {
        const char *s = json_string_value(v);
        if (!blank(k)) {
            total += java_len(k);
        }
        if (s != NULL && !blank(s)) {
            total += java_len(s);
        }
    }
    json_decref(obj);
    return total;
}

bool lc_filter_params(struct lc_http_exchange *ex, const char *grouped,
                      bool list)
{
    const char *ns = lc_http_param(ex, "namespaceId");
    const char *ip = list ? NULL : lc_http_param(ex, "ip");
    const char *port = list ? NULL : lc_http_param(ex, "port");
    const char *cluster = NULL;
    const char *metadata = list ? NULL : lc_http_param(ex, "metadata");
    char group[1200] = "";
    const char *service = grouped;
    const char *sep;
    bool bad_meta = false;
    size_t meta_len = 0;

    if (!list) {
        cluster = lc_http_param(ex, "clusterName");
        if (blank(cluster)) {
            cluster = lc_http_param(ex, "cluster");
        }
        if (blank(port)) {
            port = lc_http_param(ex, "checkPort");
        }
        /* The extractor parses metadata before any check runs. */
        meta_len = metadata_length(metadata, &bad_meta);
        if (bad_meta) {
            /* The extractor quotes the raw parameter, untrimmed. */
            lc_naming_error(ex, LC_KIND_SPRING, 500,
                            "Server failed, caused: ErrCode:400, "
                            "ErrMsg:metadata format incorrect:%s;caused: "
                            "metadata format incorrect:%s;",
                            metadata, metadata);
            return false;
        }
    }
    if (grouped != NULL && (sep = strstr(grouped, LC_GROUP_SEP)) != NULL) {
        size_t n = (size_t)(sep - grouped);
        if (n < sizeof group) {
            memcpy(group, grouped, n);
            group[n] = '\0';
        }
        service = sep + 2;
    } else if (grouped == NULL || grouped[0] == '\0') {
        service = NULL;
        const char *g = lc_http_param(ex, "groupName");
        if (g != NULL) {
            lc_strlcpy(group, g, sizeof group);
        }
    }

    if (!blank(ns)) {
        if (!check_len(ex, "namespaceId/tenant", ns, LC_MAX_NAMESPACE)) {
            return false;
        }
        if (!only(ns, "_-")) {
            return check_fail(ex, "namespaceId/tenant", false);
        }
    }
    if (!blank(service)) {
        if (!check_len(ex, "serviceName", service, LC_MAX_SERVICE_NAME)) {
            return false;
        }
        if (!service_chars_ok(service)) {
            return check_fail(ex, "serviceName", false);
        }
    }
    if (!blank(group)) {
        if (!check_len(ex, "group", group, LC_MAX_GROUP_NAME)) {
            return false;
        }
        if (!only(group, "-_:.")) {
            return check_fail(ex, "group", false);
        }
    }
    if (list) {
        const char *clusters = lc_http_param(ex, "clusters");
        char item[1200];
        const char *p = clusters;
        while (!blank(p)) {
            const char *comma = strchr(p, ',');
            size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
            if (n >= sizeof item) {
                n = sizeof item - 1;
            }
            memcpy(item, p, n);
            item[n] = '\0';
            if (!blank(item) && !check_cluster(ex, item)) {
                return false;
            }
            if (comma == NULL) {
                break;
            }
            p = comma + 1;
        }
        return true;
    }
    if (!blank(cluster) && !check_cluster(ex, cluster)) {
        return false;
    }
    if (!blank(ip)) {
        if (!check_len(ex, "ip", ip, 128)) {
            return false;
        }
        if (!ip_chars_ok(ip)) {
            return check_fail(ex, "ip", false);
        }
    }
    if (!blank(port)) {
        int v;
        char err[64];
        if (!lc_java_parse_int(port, &v, err, sizeof err) || v < 0 ||
            v > 65535) {
            lc_naming_error(ex, LC_KIND_CHECK, 400,
                            "Param 'port' is illegal, the value should be "
                            "between 0 and 65535.");
            return false;
        }
    }
    if (meta_len > LC_MAX_METADATA) {
        lc_naming_error(ex, LC_KIND_CHECK, 400,
                        "Param 'Metadata' is illegal, the param length "
                        "should not exceed %d.",
                        LC_MAX_METADATA);
        return false;
    }
    return true;
}
