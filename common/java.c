/* Java and Spring behaviour for every transport (common/java.h). Sources:
 * OpenJDK's Integer, FloatingDecimal and String; commons-lang NumberUtils;
 * Nacos's ConvertUtils; Spring 5.3's StringUtils, CustomNumberEditor and
 * CustomBooleanEditor. */
#include "common/java.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

bool lc_java_to_boolean(const char *s)
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

void lc_java_trim(const char *in, char *out, size_t size)
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

bool lc_java_parse_long(const char *s, long long *out, char *err,
                        size_t errlen)
{
    const char *p = s;
    unsigned long long v = 0;
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
        v = v * 10 + (unsigned)(*p - '0');
        if (v > 9223372036854775808ULL) {
            goto bad;
        }
    }
    if (!neg && v > 9223372036854775807ULL) {
        goto bad;
    }
    *out = neg ? (long long)(0 - v) : (long long)v;
    return true;
bad:
    snprintf(err, errlen, "For input string: \"%s\"", s);
    return false;
}

bool lc_java_parse_int(const char *s, int *out, char *err, size_t errlen)
{
    long long v;
    if (!lc_java_parse_long(s, &v, err, errlen)) {
        return false;
    }
    if (v < INT32_MIN || v > INT32_MAX) {
        snprintf(err, errlen, "For input string: \"%s\"", s);
        return false;
    }
    *out = (int)v;
    return true;
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
    lc_java_trim(s, t, sizeof t); /* Double.parseDouble trims */
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

/* The next code point of @s at *@i (advanced), U+FFFD for a malformed
 * sequence (one byte consumed), as Java's UTF-8 decoder replaces it. */
static uint32_t next_code_point(const unsigned char *s, size_t *i)
{
    unsigned char c = s[*i];
    uint32_t cp;
    size_t len;
    uint32_t min;

    if (c < 0x80) {
        (*i)++;
        return c;
    }
    if ((c & 0xe0) == 0xc0) {
        len = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        (*i)++;
        return 0xfffd;
    }
    for (size_t k = 1; k < len; k++) {
        if ((s[*i + k] & 0xc0) != 0x80) {
            (*i)++;
            return 0xfffd;
        }
        cp = (cp << 6) | (s[*i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        (*i)++;
        return 0xfffd;
    }
    *i += len;
    return cp;
}

int32_t lc_java_string_hash(const char *utf8)
{
    const unsigned char *s = (const unsigned char *)utf8;
    uint32_t h = 0; /* Java's int arithmetic wraps: do it unsigned */
    size_t i = 0;

    while (s[i] != '\0') {
        uint32_t cp = next_code_point(s, &i);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = 31 * h + (0xd800 + (cp >> 10));
            h = 31 * h + (0xdc00 + (cp & 0x3ff));
        } else {
            h = 31 * h + cp;
        }
    }
    return (int32_t)h;
}

void lc_spring_strip_space(const char *in, char *out, size_t size)
{
    size_t o = 0;
    for (; *in != '\0' && o + 1 < size; in++) {
        if (!isspace((unsigned char)*in) && !(*in >= 0x1c && *in <= 0x1f)) {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
}

/* Integer.decode for Spring's hex forms: [-]0x.., [-]0X.., [-]#.. */
static bool parse_hex_int(const char *s, int *out)
{
    bool neg = *s == '-';
    long long v = 0;
    const char *p = s + (neg ? 1 : 0);
    p += *p == '#' ? 1 : 2;
    if (*p == '\0') {
        return false;
    }
    for (; *p != '\0'; p++) {
        if (!isxdigit((unsigned char)*p)) {
            return false;
        }
        v = v * 16 + (isdigit((unsigned char)*p) ? *p - '0'
                                                   : (tolower(*p) - 'a' + 10));
        if (v > 2147483648LL) {
            return false;
        }
    }
    v = neg ? -v : v;
    if (v > 2147483647LL) {
        return false;
    }
    *out = (int)v;
    return true;
}

static bool is_hex(const char *s)
{
    s += *s == '-' ? 1 : 0;
    return strncmp(s, "0x", 2) == 0 || strncmp(s, "0X", 2) == 0 || *s == '#';
}

bool lc_spring_int(const char *v, int *out, char *msg, size_t size)
{
    char t[256];
    char err[300];
    lc_spring_strip_space(v, t, sizeof t);
    if (is_hex(t) ? parse_hex_int(t, out)
                  : lc_java_parse_int(t, out, err, sizeof err)) {
        return true;
    }
    snprintf(msg, size, "For input string: \"%s\"", t);
    return false;
}

bool lc_spring_bool(const char *v, bool *out, char *msg, size_t size)
{
    static const char *const yes[] = {"true", "on", "yes", "1"};
    static const char *const no[] = {"false", "off", "no", "0"};
    char t[256];
    size_t a = 0, b;
    /* CustomBooleanEditor trims; the message quotes the raw text. */
    while (v[a] != '\0' && (unsigned char)v[a] <= ' ') {
        a++;
    }
    b = strlen(v);
    while (b > a && (unsigned char)v[b - 1] <= ' ') {
        b--;
    }
    snprintf(t, sizeof t, "%.*s", (int)(b - a), v + a);
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(t, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(t, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    snprintf(msg, size, "Invalid boolean value [%s]", v);
    return false;
}

int lc_java_to_int(const char *s, int dflt)
{
    int v;
    char err[64];
    if (s == NULL || !lc_java_parse_int(s, &v, err, sizeof err)) {
        return dflt;
    }
    return v;
}

float lc_java_to_float(const char *s, float dflt)
{
    double d;
    char err[300];
    if (s == NULL || !lc_java_parse_double(s, &d, err, sizeof err)) {
        return dflt;
    }
    return (float)d;
}

bool lc_jregex_matches(const struct lc_jregex *r, const char *s)
{
    regmatch_t m;
    /* POSIX takes the leftmost-longest match: it covers the whole string
     * whenever some match does. */
    return regexec(&r->re, s, 1, &m, 0) == 0 && m.rm_so == 0 &&
           (size_t)m.rm_eo == strlen(s);
}

void lc_jregex_free(struct lc_jregex *r)
{
    regfree(&r->re);
}

bool lc_jregex_compile(struct lc_jregex *r, const char *pattern, char *msg,
                       size_t size)
{
    int rc = regcomp(&r->re, pattern, REG_EXTENDED);
    if (rc != 0) {
        char text[256];
        regerror(rc, &r->re, text, sizeof text);
        snprintf(msg, size, "%s\n%s", text, pattern);
        return false;
    }
    return true;
}
