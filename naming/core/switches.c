/* The switch domain's rules: SwitchManager.update's entries and validation,
 * and SwitchDomain's JSON (Nacos 2.4.3, naming/misc/SwitchManager.java,
 * SwitchDomain.java, SwitchEntry.java).
 *
 * Java's parsing is reproduced where it shows: Long.parseLong and
 * Integer.parseInt (no trimming, "For input string" messages),
 * Float.parseFloat, Boolean.parseBoolean (only "true", any case),
 * ConvertUtils.toBoolean, and String.split (trailing empty strings dropped).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/util.h"
#include "common/java.h"
#include "naming/core/switches.h"

#define VERSION_SYNTAX "[0-9]+\\.[0-9]+\\.[0-9]+"

/* ------------------------------------------------------------ ownership */

void lc_switches_clear(struct lc_switches *sw)
{
    json_decref(sw->masters);
    json_decref(sw->limited_url_map);
    free(sw->overridden_server_status);
    lc_switches_default(sw);
}

int lc_switches_copy(struct lc_switches *dst, const struct lc_switches *src)
{
    *dst = *src;
    dst->overridden_server_status = NULL;
    if (src->overridden_server_status != NULL) {
        dst->overridden_server_status = strdup(src->overridden_server_status);
        if (dst->overridden_server_status == NULL) {
            dst->masters = NULL;
            dst->limited_url_map = NULL;
            return LC_ENOMEM;
        }
    }
    json_incref(dst->masters);
    json_incref(dst->limited_url_map);
    return 0;
}

/* ------------------------------------------------------- Java parsing */

/* Float.parseFloat (the double parse, narrowed as Java rounds it). */
static bool java_parse_float(const char *s, float *out, char *msg,
                             size_t msglen)
{
    double d;
    if (!lc_java_parse_double(s, &d, msg, msglen)) {
        return false;
    }
    *out = (float)d;
    return true;
}

/* Java's String.split(@sep) for a one-character literal: pieces into @out
 * (malloc'd copies, at most @max), trailing empty pieces removed. Return the
 * count, or -1 when out of memory. */
static int java_split(const char *s, char sep, char **out, int max)
{
    int n = 0;
    int keep;
    const char *p = s;
    if (*s == '\0') { /* no match: the input itself */
        out[0] = strdup("");
        return out[0] == NULL ? -1 : 1;
    }
    for (;;) {
        const char *end = strchr(p, sep);
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (n == max) {
            break;
        }
        out[n] = strndup(p, len);
        if (out[n] == NULL) {
            goto oom;
        }
        n++;
        if (end == NULL) {
            break;
        }
        p = end + 1;
    }
    for (keep = n; keep > 0 && out[keep - 1][0] == '\0'; keep--) {
        free(out[keep - 1]);
    }
    return keep;
oom:
    while (n > 0) {
        free(out[--n]);
    }
    return -1;
}

static void free_pieces(char **p, int n)
{
    for (int i = 0; i < n; i++) {
        free(p[i]);
    }
}

static bool parse_boolean(const char *v) /* Boolean.parseBoolean */
{
    return strcasecmp(v, "true") == 0;
}

/* Java's Float.toString: the shortest digits that read back as @f, plain
 * for 1e-3 <= |f| < 1e7, else d.dddEn. */
static void java_float_text(float f, char *out, size_t size)
{
    char e[64];
    char digits[16];
    int nd = 0;
    int exp;
    int p;
    const char *s;
    size_t o = 0;
    if (f != f) {
        snprintf(out, size, "NaN");
        return;
    }
    if (isinf(f)) {
        snprintf(out, size, "%sInfinity", f < 0 ? "-" : "");
        return;
    }
    if (f == 0) {
        snprintf(out, size, "%s0.0", signbit(f) ? "-" : "");
        return;
    }
    for (p = 1; p < 9; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, (double)f);
        if ((float)strtod(e, NULL) == f) {
            break;
        }
    }
    snprintf(e, sizeof e, "%.*e", p - 1, (double)f);
    for (s = e; *s != 'e'; s++) {
        if (*s >= '0' && *s <= '9') {
            digits[nd++] = *s;
        }
    }
    exp = atoi(s + 1);
    while (nd > 1 && digits[nd - 1] == '0') {
        nd--;
    }
    char buf[96];
    if (f < 0) {
        buf[o++] = '-';
    }
    if (exp >= -3 && exp < 7) {
        if (exp < 0) {
            buf[o++] = '0';
            buf[o++] = '.';
            for (int z = -1; z > exp; z--) {
                buf[o++] = '0';
            }
            for (int i = 0; i < nd; i++) {
                buf[o++] = digits[i];
            }
        } else {
            for (int i = 0; i <= exp; i++) {
                buf[o++] = i < nd ? digits[i] : '0';
            }
            buf[o++] = '.';
            if (nd <= exp + 1) {
                buf[o++] = '0';
            }
            for (int i = exp + 1; i < nd; i++) {
                buf[o++] = digits[i];
            }
        }
        buf[o] = '\0';
    } else {
        buf[o++] = digits[0];
        buf[o++] = '.';
        if (nd == 1) {
            buf[o++] = '0';
        }
        for (int i = 1; i < nd; i++) {
            buf[o++] = digits[i];
        }
        snprintf(buf + o, sizeof buf - o, "E%d", exp);
    }
    lc_strlcpy(out, buf, size);
}

/* [0-9]+\.[0-9]+\.[0-9]+, the whole string. */
static bool version_syntax(const char *v)
{
    for (int part = 0; part < 3; part++) {
        const char *start = v;
        while (*v >= '0' && *v <= '9') {
            v++;
        }
        if (v == start) {
            return false;
        }
        if (part < 2) {
            if (*v != '.') {
                return false;
            }
            v++;
        }
    }
    return *v == '\0';
}

/* ------------------------------------------------------------- entries */

static int push_version(struct lc_switches *sw, const char *value, char *msg,
                        size_t msglen)
{
    char *parts[3];
    int n = java_split(value, ':', parts, 3);
    char *dst = NULL;
    int rv = 0;
    if (n < 0) {
        return LC_ENOMEM;
    }
    if (n < 2) {
        /* value.split(":")[1] throws ArrayIndexOutOfBoundsException. */
        free_pieces(parts, n);
        return lc_errf(LC_EPROTO, msg, msglen,
                       "caused: Index %d out of bounds for length %d;", n, n);
    }
    if (!version_syntax(parts[1]) || strlen(parts[1]) >= LC_PUSH_VERSION_MAX) {
        rv = lc_errf(LC_EINVAL, msg, msglen,
                     "illegal version, must match: " VERSION_SYNTAX);
        goto out;
    }
    if (strcmp(parts[0], "java") == 0) {
        dst = sw->push_java_version;
    } else if (strcmp(parts[0], "python") == 0) {
        dst = sw->push_python_version;
    } else if (strcmp(parts[0], "c") == 0) {
        dst = sw->push_c_version;
    } else if (strcmp(parts[0], "go") == 0) {
        dst = sw->push_go_version;
    } else if (strcmp(parts[0], "csharp") == 0) {
        dst = sw->push_csharp_version;
    } else {
        rv = lc_errf(LC_EINVAL, msg, msglen, "unsupported client type: %s",
                     parts[0]);
        goto out;
    }
    lc_strlcpy(dst, parts[1], LC_PUSH_VERSION_MAX);
out:
    free_pieces(parts, n);
    return rv;
}

static int masters(struct lc_switches *sw, const char *value)
{
    size_t cap = strlen(value) + 1;
    char **parts = malloc(cap * sizeof *parts);
    json_t *arr = json_array();
    int n;
    if (parts == NULL || arr == NULL) {
        goto oom;
    }
    n = java_split(value, ',', parts, (int)cap);
    if (n < 0) {
        goto oom;
    }
    for (int i = 0; i < n; i++) {
        json_array_append_new(arr, json_string(parts[i]));
    }
    free_pieces(parts, n);
    free(parts);
    if (json_array_size(arr) != (size_t)n) {
        json_decref(arr);
        return LC_ENOMEM;
    }
    json_decref(sw->masters);
    sw->masters = arr;
    return 0;
oom:
    free(parts);
    json_decref(arr);
    return LC_ENOMEM;
}

static int limited_url_map(struct lc_switches *sw, const char *value, char *msg,
                           size_t msglen)
{
    size_t cap;
    char **entries;
    json_t *map;
    int n;
    int rv = 0;
    if (value[0] == '\0') {
        return 0; /* Nacos leaves the map as it is */
    }
    cap = strlen(value) + 1;
    entries = malloc(cap * sizeof *entries);
    map = json_object();
    if (entries == NULL || map == NULL ||
        (n = java_split(value, ',', entries, (int)cap)) < 0) {
        free(entries);
        json_decref(map);
        return LC_ENOMEM;
    }
    for (int i = 0; i < n && rv == 0; i++) {
        char *parts[3];
        int np = java_split(entries[i], ':', parts, 3);
        int code = 0;
        if (np < 0) {
            rv = LC_ENOMEM;
            break;
        }
        if (np < 2) {
            rv = lc_errf(LC_EINVAL, msg, msglen,
                         "invalid input for limited urls");
        } else if (parts[0][0] == '\0') {
            rv = lc_errf(LC_EINVAL, msg, msglen,
                         "url can not be empty, url: %s", parts[0]);
        } else if (!lc_java_parse_int(parts[1], &code, msg, msglen)) {
            rv = LC_EINVAL; /* NumberFormatException: 400 */
        } else if (code <= 0) {
            rv = lc_errf(LC_EINVAL, msg, msglen,
                         "illegal normal status code: %d", code);
        } else if (json_object_set_new(map, parts[0], json_integer(code)) !=
                   0) {
            rv = LC_ENOMEM;
        }
        free_pieces(parts, np);
    }
    free_pieces(entries, n);
    free(entries);
    if (rv != 0) {
        json_decref(map);
        return rv;
    }
    json_decref(sw->limited_url_map);
    sw->limited_url_map = map;
    return 0;
}

/* JacksonUtils.toObj(value, XxxHealthParams.class): unknown keys ignored,
 * absent ones keep @dflt's, numbers (or numeric strings) coerced. */
static int health_params(const char *value, const struct lc_health_params *dflt,
                         struct lc_health_params *out, char *msg, size_t msglen)
{
    json_t *doc = json_loads(value, JSON_DECODE_ANY, NULL);
    static const char *const keys[] = {"max", "min", "factor"};
    int rv = 0;
    *out = *dflt;
    if (!json_is_object(doc)) {
        json_decref(doc);
        return lc_errf(LC_EINVAL, msg, msglen, "json param invalid.");
    }
    for (int k = 0; k < 3 && rv == 0; k++) {
        json_t *v = json_object_get(doc, keys[k]);
        double d;
        if (v == NULL) {
            continue;
        }
        if (json_is_number(v)) {
            d = json_number_value(v);
        } else if (json_is_string(v) &&
                   lc_parse_double(json_string_value(v), &d) == 0) {
        } else {
            rv = lc_errf(LC_EINVAL, msg, msglen, "json param invalid.");
            break;
        }
        if (k < 2 && (d != d || d > 2147483647.0 || d < -2147483648.0)) {
            rv = lc_errf(LC_EINVAL, msg, msglen, "json param invalid.");
        } else if (k == 0) {
            out->max = (int)d;
        } else if (k == 1) {
            out->min = (int)d;
        } else {
            out->factor = (float)d;
        }
    }
    json_decref(doc);
    return rv;
}

/* SwitchManager.validateHealthParams. */
static int validate_health_params(const struct lc_health_params *p, char *msg,
                                  size_t msglen)
{
    if (p->min < 500) {
        return lc_errf(LC_EINVAL, msg, msglen,
                       "min check time for http or tcp is too small(<500)");
    }
    if (p->max < 3000) {
        return lc_errf(LC_EINVAL, msg, msglen,
                       "max check time for http or tcp is too small(<3000)");
    }
    if (p->factor < 0 || p->factor > 1) {
        return lc_errf(LC_EINVAL, msg, msglen, "malformed factor");
    }
    return 0;
}

/* A long entry with a lower bound (0: none) and Nacos's message. */
static int long_entry(const char *value, long min, const char *too_small,
                      long *dst, char *msg, size_t msglen)
{
    long long v;
    if (!lc_java_parse_long(value, &v, msg, msglen)) {
        return LC_EINVAL;
    }
    if (too_small != NULL && v < min) {
        return lc_errf(LC_EINVAL, msg, msglen, "%s", too_small);
    }
    *dst = (long)v;
    return 0;
}

/* Apply one entry to @sw (a private copy: may be left half-changed). */
static int apply_entry(struct lc_switches *sw, const char *entry,
                       const char *value, char *msg, size_t msglen)
{
    if (strcmp(entry, "distroThreshold") == 0) {
        float t;
        char num[64];
        if (!java_parse_float(value, &t, msg, msglen)) {
            return LC_EINVAL;
        }
        /* NaN passes Nacos's test but cannot be written as JSON. */
        if (t <= 0 || t != t) {
            java_float_text(t, num, sizeof num);
            return lc_errf(LC_EINVAL, msg, msglen,
                           "distroThreshold can not be zero or negative: %s",
                           num);
        }
        sw->distro_threshold = (double)t;
        return 0;
    }
    if (strcmp(entry, "clientBeatInterval") == 0) {
        return long_entry(value, 0, NULL, &sw->client_beat_interval, msg,
                          msglen);
    }
    if (strcmp(entry, "pushVersion") == 0) {
        return push_version(sw, value, msg, msglen);
    }
    if (strcmp(entry, "pushCacheMillis") == 0) {
        return long_entry(value, 10000,
                          "min cache time for http or tcp is too "
                          "small(<10000)",
                          &sw->default_push_cache_millis, msg, msglen);
    }
    if (strcmp(entry, "defaultCacheMillis") == 0) {
        return long_entry(value, 1000,
                          "min default cache time  is too small(<1000)",
                          &sw->default_cache_millis, msg, msglen);
    }
    if (strcmp(entry, "masters") == 0) {
        return masters(sw, value);
    }
    if (strcmp(entry, "distro") == 0) {
        sw->distro_enabled = parse_boolean(value);
        return 0;
    }
    if (strcmp(entry, "check") == 0) {
        sw->health_check_enabled = parse_boolean(value);
        return 0;
    }
    if (strcmp(entry, "pushEnabled") == 0) {
        sw->push_enabled = parse_boolean(value);
        return 0;
    }
    if (strcmp(entry, "serviceStatusSynchronizationPeriodMillis") == 0) {
        return long_entry(value, 5000,
                          "serviceStatusSynchronizationPeriodMillis is too "
                          "small(<5000)",
                          &sw->service_status_sync_millis, msg, msglen);
    }
    if (strcmp(entry, "serverStatusSynchronizationPeriodMillis") == 0) {
        /* The bound is 1000; the message says 15000, as in Nacos. */
        return long_entry(value, 1000,
                          "serverStatusSynchronizationPeriodMillis is too "
                          "small(<15000)",
                          &sw->server_status_sync_millis, msg, msglen);
    }
    if (strcmp(entry, "healthCheckTimes") == 0) {
        return lc_java_parse_int(value, &sw->check_times, msg, msglen)
                   ? 0
                   : LC_EINVAL;
    }
    if (strcmp(entry, "disableAddIP") == 0) {
        sw->disable_add_ip = parse_boolean(value);
        return 0;
    }
    if (strcmp(entry, "sendBeatOnly") == 0) {
        sw->send_beat_only = parse_boolean(value);
        return 0;
    }
    if (strcmp(entry, "limitedUrlMap") == 0) {
        return limited_url_map(sw, value, msg, msglen);
    }
    if (strcmp(entry, "enableStandalone") == 0) {
        /* Nacos sets it only when the value is empty, hence to false. */
        if (value[0] == '\0') {
            sw->enable_standalone = false;
        }
        return 0;
    }
    if (strcmp(entry, "overriddenServerStatus") == 0) {
        char *s = strdup(strcmp(value, "null") == 0 ? "" : value);
        if (s == NULL) {
            return LC_ENOMEM;
        }
        free(sw->overridden_server_status);
        sw->overridden_server_status = s;
        return 0;
    }
    if (strcmp(entry, "defaultInstanceEphemeral") == 0) {
        sw->default_instance_ephemeral = parse_boolean(value);
        return 0;
    }
    if (strcmp(entry, "distroServerExpiredMillis") == 0) {
        return long_entry(value, 0, NULL, &sw->distro_server_expired_millis,
                          msg, msglen);
    }
    if (strcmp(entry, "lightBeatEnabled") == 0) {
        sw->light_beat_enabled = lc_java_to_boolean(value);
        return 0;
    }
    if (strcmp(entry, "autoChangeHealthCheckEnabled") == 0) {
        sw->auto_change_health_check_enabled = lc_java_to_boolean(value);
        return 0;
    }
    if (strcmp(entry, "httpHealthParams") == 0 ||
        strcmp(entry, "tcpHealthParams") == 0) {
        bool http = entry[0] == 'h';
        struct lc_switches d;
        struct lc_health_params p;
        int rv;
        lc_switches_default(&d);
        rv = health_params(value, http ? &d.http_params : &d.tcp_params, &p,
                           msg, msglen);
        if (rv == 0) {
            rv = validate_health_params(&p, msg, msglen);
        }
        if (rv == 0) {
            *(http ? &sw->http_params : &sw->tcp_params) = p;
        }
        return rv;
    }
    if (strcmp(entry, "mysqlHealthParams") == 0) {
        struct lc_switches d;
        lc_switches_default(&d);
        return health_params(value, &d.mysql_params, &sw->mysql_params, msg,
                             msglen);
    }
    return 0; /* not an entry Nacos knows: nothing changes */
}

int lc_switches_update(struct lc_switches *sw, const char *entry,
                       const char *value, char *msg, size_t msglen)
{
    struct lc_switches tmp;
    int rv = lc_switches_copy(&tmp, sw);
    if (rv != 0) {
        return lc_errf(rv, msg, msglen, "out of memory");
    }
    msg[0] = '\0';
    rv = apply_entry(&tmp, entry, value, msg, msglen);
    if (rv != 0) {
        if (rv == LC_ENOMEM) {
            lc_strlcpy(msg, "out of memory", msglen);
        }
        lc_switches_clear(&tmp);
        return rv;
    }
    lc_switches_clear(sw);
    *sw = tmp;
    return 0;
}

/* ------------------------------------------------------------------ JSON */

/* A Java float as Jackson writes it (Float.toString): the shortest decimal
 * that reads back as the same float. */
static json_t *java_float(double value)
{
    float f = (float)value;
    char buf[64];
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)f);
        if ((float)strtod(buf, NULL) == f) {
            break;
        }
    }
    return json_real(strtod(buf, NULL));
}

static json_t *params_json(const struct lc_health_params *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "max", json_integer(p->max));
    json_object_set_new(o, "min", json_integer(p->min));
    json_object_set_new(o, "factor", java_float(p->factor));
    return o;
}

static json_t *or_null(json_t *v)
{
    return v != NULL ? json_incref(v) : json_null();
}

json_t *lc_switches_json(const struct lc_switches *sw)
{
    json_t *o = json_object();
    json_t *urls = sw->limited_url_map != NULL
                       ? json_incref(sw->limited_url_map)
                       : json_object();
#define SET(k, v) json_object_set_new(o, k, v)
    SET("masters", or_null(sw->masters));
    SET("adWeightMap", json_object());
    SET("defaultPushCacheMillis", json_integer(sw->default_push_cache_millis));
    SET("clientBeatInterval", json_integer(sw->client_beat_interval));
    SET("defaultCacheMillis", json_integer(sw->default_cache_millis));
    SET("distroThreshold", java_float(sw->distro_threshold));
    SET("healthCheckEnabled", json_boolean(sw->health_check_enabled));
    SET("autoChangeHealthCheckEnabled",
        json_boolean(sw->auto_change_health_check_enabled));
    SET("distroEnabled", json_boolean(sw->distro_enabled));
    SET("enableStandalone", json_boolean(sw->enable_standalone));
    SET("pushEnabled", json_boolean(sw->push_enabled));
    SET("checkTimes", json_integer(sw->check_times));
    SET("httpHealthParams", params_json(&sw->http_params));
    SET("tcpHealthParams", params_json(&sw->tcp_params));
    SET("mysqlHealthParams", params_json(&sw->mysql_params));
    SET("incrementalList", json_array());
    SET("serverStatusSynchronizationPeriodMillis",
        json_integer(sw->server_status_sync_millis));
    SET("serviceStatusSynchronizationPeriodMillis",
        json_integer(sw->service_status_sync_millis));
    SET("disableAddIP", json_boolean(sw->disable_add_ip));
    SET("sendBeatOnly", json_boolean(sw->send_beat_only));
    SET("lightBeatEnabled", json_boolean(sw->light_beat_enabled));
    SET("limitedUrlMap", urls);
    SET("distroServerExpiredMillis",
        json_integer(sw->distro_server_expired_millis));
    SET("pushGoVersion", json_string(sw->push_go_version));
    SET("pushJavaVersion", json_string(sw->push_java_version));
    SET("pushPythonVersion", json_string(sw->push_python_version));
    SET("pushCVersion", json_string(sw->push_c_version));
    SET("pushCSharpVersion", json_string(sw->push_csharp_version));
    SET("enableAuthentication", json_boolean(sw->enable_authentication));
    SET("overriddenServerStatus",
        sw->overridden_server_status != NULL
            ? json_string(sw->overridden_server_status)
            : json_null());
    SET("defaultInstanceEphemeral",
        json_boolean(sw->default_instance_ephemeral));
    SET("healthCheckWhiteList", json_array());
    SET("name", json_string(LC_SWITCH_DOMAIN_NAME));
    SET("checksum", json_null());
#undef SET
    if (json_object_size(o) != 34) { /* a value was NULL: out of memory */
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ------------------------------------------------------------- reading */

static bool get_long(const json_t *doc, const char *key, long *dst)
{
    json_t *v = json_object_get(doc, key);
    if (v == NULL) {
        return true;
    }
    if (!json_is_integer(v)) {
        return false;
    }
    *dst = (long)json_integer_value(v);
    return true;
}

static bool get_bool(const json_t *doc, const char *key, bool *dst)
{
    json_t *v = json_object_get(doc, key);
    if (v == NULL) {
        return true;
    }
    if (!json_is_boolean(v)) {
        return false;
    }
    *dst = json_is_true(v);
    return true;
}

static bool get_params(const json_t *doc, const char *key,
                       struct lc_health_params *p)
{
    json_t *v = json_object_get(doc, key);
    json_t *max, *min, *factor;
    if (v == NULL) {
        return true;
    }
    max = json_object_get(v, "max");
    min = json_object_get(v, "min");
    factor = json_object_get(v, "factor");
    if (!json_is_integer(max) || !json_is_integer(min) ||
        !json_is_number(factor)) {
        return false;
    }
    p->max = (int)json_integer_value(max);
    p->min = (int)json_integer_value(min);
    p->factor = (float)json_number_value(factor);
    return true;
}

static bool get_version(const json_t *doc, const char *key, char *dst)
{
    json_t *v = json_object_get(doc, key);
    if (v == NULL) {
        return true;
    }
    return json_is_string(v) &&
           lc_strlcpy(dst, json_string_value(v), LC_PUSH_VERSION_MAX);
}

int lc_switches_from_json(const json_t *doc, struct lc_switches *out)
{
    struct lc_switches sw;
    json_t *v;
    long check_times = 3;
    bool ok;
    lc_switches_default(&sw);
    if (!json_is_object(doc)) {
        return LC_EINVAL;
    }
    v = json_object_get(doc, "distroThreshold");
    if (v != NULL && !json_is_number(v)) {
        return LC_EINVAL;
    }
    if (v != NULL) {
        sw.distro_threshold = (double)(float)json_number_value(v);
    }
    ok = get_long(doc, "defaultPushCacheMillis",
                  &sw.default_push_cache_millis) &&
         get_long(doc, "clientBeatInterval", &sw.client_beat_interval) &&
         get_long(doc, "defaultCacheMillis", &sw.default_cache_millis) &&
         get_bool(doc, "healthCheckEnabled", &sw.health_check_enabled) &&
         get_bool(doc, "autoChangeHealthCheckEnabled",
                  &sw.auto_change_health_check_enabled) &&
         get_bool(doc, "distroEnabled", &sw.distro_enabled) &&
         get_bool(doc, "enableStandalone", &sw.enable_standalone) &&
         get_bool(doc, "pushEnabled", &sw.push_enabled) &&
         get_long(doc, "checkTimes", &check_times) &&
         get_params(doc, "httpHealthParams", &sw.http_params) &&
         get_params(doc, "tcpHealthParams", &sw.tcp_params) &&
         get_params(doc, "mysqlHealthParams", &sw.mysql_params) &&
         get_long(doc, "serverStatusSynchronizationPeriodMillis",
                  &sw.server_status_sync_millis) &&
         get_long(doc, "serviceStatusSynchronizationPeriodMillis",
                  &sw.service_status_sync_millis) &&
         get_bool(doc, "disableAddIP", &sw.disable_add_ip) &&
         get_bool(doc, "sendBeatOnly", &sw.send_beat_only) &&
         get_bool(doc, "lightBeatEnabled", &sw.light_beat_enabled) &&
         get_long(doc, "distroServerExpiredMillis",
                  &sw.distro_server_expired_millis) &&
         get_version(doc, "pushGoVersion", sw.push_go_version) &&
         get_version(doc, "pushJavaVersion", sw.push_java_version) &&
         get_version(doc, "pushPythonVersion", sw.push_python_version) &&
         get_version(doc, "pushCVersion", sw.push_c_version) &&
         get_version(doc, "pushCSharpVersion", sw.push_csharp_version) &&
         get_bool(doc, "enableAuthentication", &sw.enable_authentication) &&
         get_bool(doc, "defaultInstanceEphemeral",
                  &sw.default_instance_ephemeral);
    if (!ok || check_times < -2147483648L || check_times > 2147483647L) {
        return LC_EINVAL;
    }
    sw.check_times = (int)check_times;
    v = json_object_get(doc, "masters");
    if (v != NULL && !json_is_null(v)) {
        size_t i;
        json_t *x;
        if (!json_is_array(v)) {
            return LC_EINVAL;
        }
        json_array_foreach(v, i, x)
        {
            if (!json_is_string(x)) {
                return LC_EINVAL;
            }
        }
        sw.masters = json_deep_copy(v);
        if (sw.masters == NULL) {
            return LC_ENOMEM;
        }
    }
    v = json_object_get(doc, "limitedUrlMap");
    if (v != NULL) {
        const char *k;
        json_t *x;
        if (!json_is_object(v)) {
            goto bad;
        }
        json_object_foreach(v, k, x)
        {
            if (!json_is_integer(x)) {
                goto bad;
            }
        }
        if (json_object_size(v) > 0 &&
            (sw.limited_url_map = json_deep_copy(v)) == NULL) {
            lc_switches_clear(&sw);
            return LC_ENOMEM;
        }
    }
    v = json_object_get(doc, "overriddenServerStatus");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_string(v)) {
            goto bad;
        }
        sw.overridden_server_status = strdup(json_string_value(v));
        if (sw.overridden_server_status == NULL) {
            lc_switches_clear(&sw);
            return LC_ENOMEM;
        }
    }
    *out = sw;
    return 0;
bad:
    lc_switches_clear(&sw);
    return LC_EINVAL;
}
