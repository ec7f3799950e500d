/* Java and Spring behaviour that Nacos's answers inherit, for every
 * transport: Java's number parsing and String methods, commons-lang's
 * NumberUtils and BooleanUtils, Spring's default property editors, and
 * String.matches() for name patterns. Pure functions of their arguments. */
#ifndef LC_COMMON_JAVA_H
#define LC_COMMON_JAVA_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Java's String.trim() of @in into @out (@size > 0; cut to fit): chars <=
 * ' ' are stripped from both ends. */
void lc_java_trim(const char *in, char *out, size_t size);

/* StringUtils.isBlank: NULL, "" or only chars <= ' '. Inline: every
 * request's parameters go through it. */
static inline bool lc_java_blank(const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        if ((unsigned char)*s > ' ') {
            return false;
        }
    }
    return true;
}

/* ConvertUtils.toBoolean: true only for true/t/yes/y/on, any case. */
bool lc_java_to_boolean(const char *s);

/* Integer.parseInt / Long.parseLong / Double.parseDouble, with the text of
 * NumberFormatException ("For input string: \"x\"", "empty String") in
 * @err on failure. */
bool lc_java_parse_int(const char *s, int *out, char *err, size_t errlen);
bool lc_java_parse_long(const char *s, long long *out, char *err,
                        size_t errlen);
bool lc_java_parse_double(const char *s, double *out, char *err,
                          size_t errlen);

/* NumberUtils.toInt / toFloat: the parsed value, or @dflt when @s is NULL
 * or not a number. */
int lc_java_to_int(const char *s, int dflt);
float lc_java_to_float(const char *s, float dflt);

/* String.hashCode() of @utf8 (taken as UTF-16 code units; a byte that is
 * not valid UTF-8 counts as U+FFFD, as Java's decoder makes it). */
int32_t lc_java_string_hash(const char *utf8);

/* Spring's StringUtils.trimAllWhitespace of @in into @out. */
void lc_spring_strip_space(const char *in, char *out, size_t size);

/* Spring's default editors for a non-empty @v: int/Integer
 * (CustomNumberEditor: whitespace removed, decimal or Integer.decode's hex
 * forms) and boolean/Boolean (CustomBooleanEditor: trimmed
 * true/on/yes/1/false/off/no/0, any case). On failure @msg gets the
 * exception's message (`For input string: "x"`, `Invalid boolean value
 * [x]`) and they return false. */
bool lc_spring_int(const char *v, int *out, char *msg, size_t size);
bool lc_spring_bool(const char *v, bool *out, char *msg, size_t size);

/* A Java regular expression for String.matches(), approximated with a
 * POSIX extended one (Java-only syntax such as \\d or (?i) differs). */
struct lc_jregex {
    regex_t re;
};

/* Compile @pattern. On failure put the compiler's message and the pattern
 * ("<message>\n<pattern>", as PatternSyntaxException prints) in @msg and
 * return false; nothing is to be freed then. */
bool lc_jregex_compile(struct lc_jregex *r, const char *pattern, char *msg,
                       size_t size);
/* Whole-string match, as String.matches(). */
bool lc_jregex_matches(const struct lc_jregex *r, const char *s);
void lc_jregex_free(struct lc_jregex *r);

#endif /* LC_COMMON_JAVA_H */
