/* Spring MVC @RequestParam binding and Java's String.matches(), as the
 * Nacos 2.4.3 controllers (Spring 5.3, JDK 8) behave. Sources: Spring's
 * AbstractNamedValueMethodArgumentResolver, TypeConverterDelegate with the
 * default CustomNumberEditor / CustomBooleanEditor, NestedExceptionUtils;
 * Nacos's ResponseExceptionHandler and ExceptionUtil.getAllExceptionMsg.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "naming/http/filters.h"
#include "naming/http/java_compat.h"

/* MethodArgumentTypeMismatchException, as getAllExceptionMsg prints it:
 * the mismatch with its nested cause, then the cause's own message. */
static void type_mismatch(struct lc_http_exchange *ex, const char *type,
                          const char *cause_class, const char *cause_msg)
{
    lc_naming_error(ex, LC_KIND_TEXT, 500,
                    "caused: Failed to convert value of type "
                    "'java.lang.String' to required type '%s'; nested "
                    "exception is %s: %s;caused: %s;",
                    type, cause_class, cause_msg, cause_msg);
}

static void missing(struct lc_http_exchange *ex, const char *name)
{
    lc_naming_error(ex, LC_KIND_TEXT, 400, "Parameter '%s' is missing", name);
}

/* Spring's StringUtils.trimAllWhitespace. */
static void strip_all_space(const char *in, char *out, size_t size)
{
    size_t o = 0;
    for (; *in != '\0' && o + 1 < size; in++) {
        if (!isspace((unsigned char)*in) && !(*in >= 0x1c && *in <= 0x1f)) {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
}

bool lc_rp_string(struct lc_http_exchange *ex, const char *name,
                  bool required, const char *dflt, const char **out)
{
    const char *v = lc_http_param(ex, name);
    if (v == NULL || (v[0] == '\0' && dflt != NULL)) {
        if (dflt != NULL) {
            *out = dflt;
            return true;
        }
        if (required) {
            missing(ex, name);
            return false;
        }
    }
    *out = v;
    return true;
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
    strip_all_space(v, t, sizeof t);
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

bool lc_rp_int(struct lc_http_exchange *ex, const char *name, bool required,
               int *out)
{
    const char *v = lc_http_param(ex, name);
    char err[300];
    if (v == NULL || v[0] == '\0') {
        if (required) {
            missing(ex, name);
        } else {
            lc_naming_error(ex, LC_KIND_TEXT, 500,
                            "caused: Optional int parameter '%s' is present "
                            "but cannot be translated into a null value due "
                            "to being declared as a primitive type. Consider "
                            "declaring it as object wrapper for the "
                            "corresponding primitive type.;",
                            name);
        }
        return false;
    }
    if (lc_spring_int(v, out, err, sizeof err)) {
        return true;
    }
    type_mismatch(ex, "int", "java.lang.NumberFormatException", err);
    return false;
}

bool lc_rp_float(struct lc_http_exchange *ex, const char *name, float dflt,
                 float *out)
{
    const char *v = lc_http_param(ex, name);
    char t[256];
    char err[300];
    double d;
    if (v == NULL || v[0] == '\0') {
        *out = dflt;
        return true;
    }
    strip_all_space(v, t, sizeof t);
    if (!lc_java_parse_double(t, &d, err, sizeof err)) {
        type_mismatch(ex, "float", "java.lang.NumberFormatException", err);
        return false;
    }
    *out = (float)d;
    return true;
}

bool lc_rp_bool(struct lc_http_exchange *ex, const char *name, bool *out)
{
    const char *v = lc_http_param(ex, name);
    char err[300];
    *out = false;
    if (v == NULL || v[0] == '\0') {
        return true;
    }
    if (lc_spring_bool(v, out, err, sizeof err)) {
        return true;
    }
    type_mismatch(ex, "boolean", "java.lang.IllegalArgumentException", err);
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

/* ---------------------------------------------------------------- regex */

bool lc_jregex_compile(struct lc_http_exchange *ex, struct lc_jregex *r,
                       const char *pattern)
{
    int rc = regcomp(&r->re, pattern, REG_EXTENDED);
    if (rc != 0) {
        char msg[256];
        regerror(rc, &r->re, msg, sizeof msg);
        lc_naming_error(ex, LC_KIND_TEXT, 400, "%s\n%s", msg, pattern);
        return false;
    }
    return true;
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
