/* Java and Spring MVC behaviour the Nacos controllers inherit: @RequestParam
 * binding (Spring 5.3) with the replies Nacos's ResponseExceptionHandler
 * gives for its failures, and String.matches() for the name patterns.
 *
 * Every lc_rp_* function either stores the value and returns true, or
 * replies to @ex and returns false.
 */
#ifndef LC_NAMING_JAVA_COMPAT_H
#define LC_NAMING_JAVA_COMPAT_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "rpc/http/http.h"

/* @RequestParam String: the raw value; @dflt when absent or "" (if not
 * NULL); NULL when absent and not @required. Absent and @required: 400
 * "Parameter '<name>' is missing". */
bool lc_rp_string(struct lc_http_exchange *ex, const char *name,
                  bool required, const char *dflt, const char **out);

/* @RequestParam int (no default). Absent: 400 "Parameter '<name>' is
 * missing" when @required, else Spring's 500 about a primitive null; not a
 * number: Spring's 500 type-mismatch text. */
bool lc_rp_int(struct lc_http_exchange *ex, const char *name, bool required,
               int *out);

/* @RequestParam(defaultValue = ...) float: @dflt when absent or "". */
bool lc_rp_float(struct lc_http_exchange *ex, const char *name, float dflt,
                 float *out);

/* @RequestParam(required = false) boolean: false when absent. */
bool lc_rp_bool(struct lc_http_exchange *ex, const char *name, bool *out);

/* Spring's default editors for a non-empty @v: int/Integer
 * (CustomNumberEditor: whitespace removed, decimal or Integer.decode's hex
 * forms) and boolean/Boolean (CustomBooleanEditor: trimmed
 * true/on/yes/1/false/off/no/0, any case). On failure @msg gets the
 * exception's message (`For input string: "x"`, `Invalid boolean value
 * [x]`) and they return false. */
bool lc_spring_int(const char *v, int *out, char *msg, size_t size);
bool lc_spring_bool(const char *v, bool *out, char *msg, size_t size);

/* Java's NumberUtils.toInt / toFloat (commons style): the parsed value, or
 * @dflt when @s is NULL or not a number. */
int lc_java_to_int(const char *s, int dflt);
float lc_java_to_float(const char *s, float dflt);

/* A Java regular expression for String.matches(), approximated with a
 * POSIX extended one (Java-only syntax such as \\d or (?i) differs). */
struct lc_jregex {
    regex_t re;
};

/* Compile @pattern. On failure reply 400 (Java's PatternSyntaxException is
 * an IllegalArgumentException) with the compiler's message and the pattern,
 * and return false. */
bool lc_jregex_compile(struct lc_http_exchange *ex, struct lc_jregex *r,
                       const char *pattern);
/* Whole-string match, as String.matches(). */
bool lc_jregex_matches(const struct lc_jregex *r, const char *s);
void lc_jregex_free(struct lc_jregex *r);

#endif /* LC_NAMING_JAVA_COMPAT_H */
