/* Service selectors as Nacos 2.4.3 parses them: ServiceController's
 * parseSelector (URL-decode, JSON, type lookup), SelectorManager's "none" and
 * "label" types, and the label selector's ExpressionInterpreter
 * ("CONSUMER.label.A = PROVIDER.label.A & ..."), with its exact quirks and
 * messages. Selecting instances by label needs a CMDB, which Nacos ships
 * without; with none, a label selector returns every provider, so locus
 * stores selectors and never filters by them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "naming/core/selector.h"

#define CONSUMER_PREFIX "CONSUMER.label."
#define PROVIDER_PREFIX "PROVIDER.label."
#define PREFIX_LEN 15

/* ------------------------------------------------------- URLDecoder */

/* java.net.URLDecoder.decode(s, "UTF-8"): '+' is a space, %XX a byte; the
 * two characters go through Integer.parseInt(.., 16), so "%+f" is 0x0f,
 * "%-0" is 0 and "%-1" is refused. Return a malloc'd string, or NULL with @msg set. */
static char *url_decode(const char *s, char *msg, size_t msglen)
{
    size_t len = strlen(s);
    char *out = malloc(len + 1);
    size_t o = 0;
    if (out == NULL) {
        snprintf(msg, msglen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] != '%') {
            out[o++] = s[i];
        } else {
            int hi, lo;
            if (i + 2 >= len) {
                snprintf(msg, msglen,
                         "URLDecoder: Incomplete trailing escape (%%) "
                         "pattern");
                free(out);
                return NULL;
            }
            if (s[i + 1] == '-' && lc_hex_digit(s[i + 2]) > 0) {
                snprintf(msg, msglen,
                         "URLDecoder: Illegal hex characters in escape (%%) "
                         "pattern - negative value");
                free(out);
                return NULL;
            }
            hi = s[i + 1] == '+' || s[i + 1] == '-' ? 0 : lc_hex_digit(s[i + 1]);
            lo = lc_hex_digit(s[i + 2]);
            if (hi < 0 || lo < 0) {
                snprintf(msg, msglen,
                         "URLDecoder: Illegal hex characters in escape (%%) "
                         "pattern - For input string: \"%c%c\"",
                         s[i + 1], s[i + 2]);
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        }
    }
    out[o] = '\0';
    return out;
}

/* ------------------------------------------------ ExpressionInterpreter */

struct terms {
    char **v;
    size_t n;
};

static void terms_free(struct terms *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i]);
    }
    free(t->v);
}

static bool terms_add(struct terms *t, const char *s, size_t len)
{
    char **v = realloc(t->v, (t->n + 1) * sizeof *v);
    if (v == NULL) {
        return false;
    }
    t->v = v;
    t->v[t->n] = strndup(s, len);
    return t->v[t->n++] != NULL;
}

/* getTerms: split on '=' and '&', keeping them; the character after a
 * connector is never looked at (Nacos skips it). */
static bool get_terms(const char *e, struct terms *t)
{
    size_t len = strlen(e);
    size_t last = 0;
    for (size_t i = 0; i < len; i++) {
        if (e[i] == '=' || e[i] == '&') {
            if (!terms_add(t, e + last, i - last) || !terms_add(t, e + i, 1)) {
                return false;
            }
            i++;
            last = i;
        }
    }
    return terms_add(t, e + last, len > last ? len - last : 0);
}

/* Does "CONSUMER.label." with Java regex '.' (any char) match at @s? */
static bool prefix_at(const char *s, const char *prefix)
{
    for (size_t i = 0; i < PREFIX_LEN; i++) {
        if (s[i] == '\0' || (prefix[i] != '.' && s[i] != prefix[i])) {
            return false;
        }
    }
    return true;
}

/* Java's s.split(prefix)[1], for an @s that starts with the prefix: the
 * text up to the next match. False when Java would throw
 * ArrayIndexOutOfBoundsException (split dropped every trailing empty part). */
static bool split_second(const char *s, const char *prefix, char *out,
                         size_t size)
{
    const char *p = s + PREFIX_LEN;
    const char *end = p;
    bool later_text = false;
    while (*end != '\0' && !prefix_at(end, prefix)) {
        end++;
    }
    if (end == p) {
        /* part 1 is empty: it survives only if a later part is not */
        const char *q = end;
        while (*q != '\0') {
            if (prefix_at(q, prefix)) {
                q += PREFIX_LEN;
            } else {
                later_text = true;
                break;
            }
        }
        if (!later_text) {
            return false;
        }
    }
    snprintf(out, size, "%.*s", (int)(end - p), p);
    return true;
}

enum { SYNTAX_BAD = -1, SYNTAX_THROW = -2 };

static size_t skip_empty(const struct terms *t, size_t i)
{
    while (i < t->n && t->v[i][0] == '\0') {
        i++;
    }
    return i;
}

/* checkInnerSyntax: CONSUMER.label.X = PROVIDER.label.X; the index of the
 * provider term, or SYNTAX_BAD / SYNTAX_THROW. */
static long inner_syntax(const struct terms *t, size_t i)
{
    char consumer[512];
    char provider[512];
    i = skip_empty(t, i);
    if (i >= t->n || strncmp(t->v[i], CONSUMER_PREFIX, PREFIX_LEN) != 0) {
        return SYNTAX_BAD;
    }
    if (!split_second(t->v[i], CONSUMER_PREFIX, consumer, sizeof consumer)) {
        return SYNTAX_THROW;
    }
    i = skip_empty(t, i + 1);
    if (i >= t->n || strcmp(t->v[i], "=") != 0) {
        return SYNTAX_BAD;
    }
    i = skip_empty(t, i + 1);
    if (i >= t->n || strncmp(t->v[i], PROVIDER_PREFIX, PREFIX_LEN) != 0) {
        return SYNTAX_BAD;
    }
    if (!split_second(t->v[i], PROVIDER_PREFIX, provider, sizeof provider)) {
        return SYNTAX_THROW;
    }
    return strcmp(consumer, provider) == 0 ? (long)i : SYNTAX_BAD;
}

static int cmp_json_str(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a),
                  json_string_value(*(json_t *const *)b));
}

/* parseExpression: 0 with the labels in @labels, SYNTAX_BAD or
 * SYNTAX_THROW. */
static int parse_expression(const char *expression, json_t *labels)
{
    char *e = malloc(strlen(expression) + 1);
    struct terms t = {NULL, 0};
    size_t o = 0;
    long idx;
    int rv = SYNTAX_BAD;

    if (e == NULL) {
        return SYNTAX_BAD;
    }
    /* StringUtils.deleteWhitespace */
    for (const char *p = expression; *p != '\0'; p++) {
        if (strchr(" \t\n\r\f\v", *p) == NULL && !(*p >= 0x1c && *p <= 0x1f)) {
            e[o++] = *p;
        }
    }
    e[o] = '\0';
    if (o == 0) {
        free(e);
        return 0;
    }
    if (!get_terms(e, &t)) {
        goto out;
    }
    for (size_t i = 0;;) {
        char label[512];
        idx = inner_syntax(&t, i);
        if (idx < 0) {
            rv = (int)idx;
            goto out;
        }
        split_second(t.v[idx], PROVIDER_PREFIX, label, sizeof label);
        json_t *s = json_string(label);
        bool dup = false;
        size_t k;
        json_t *x;
        json_array_foreach(labels, k, x)
        {
            dup = dup || json_equal(x, s);
        }
        if (s != NULL && !dup) {
            json_array_append(labels, s);
        }
        json_decref(s);
        /* checkOuterSyntax */
        i = skip_empty(&t, (size_t)idx + 1);
        if (i >= t.n) {
            rv = 0;
            break;
        }
        if (strcmp(t.v[i], "&") != 0) {
            rv = SYNTAX_BAD;
            goto out;
        }
        i++;
    }
out:
    terms_free(&t);
    free(e);
    return rv;
}

json_t *lc_selector_labels(const char *expression)
{
    json_t *labels = json_array();
    if (expression == NULL || parse_expression(expression, labels) != 0) {
        json_array_clear(labels);
        return labels;
    }
    /* a HashSet in Nacos: any order is Nacos's order */
    {
        size_t n = json_array_size(labels);
        json_t **v = malloc((n > 0 ? n : 1) * sizeof *v);
        if (v != NULL) {
            for (size_t i = 0; i < n; i++) {
                v[i] = json_incref(json_array_get(labels, i));
            }
            qsort(v, n, sizeof *v, cmp_json_str);
            json_array_clear(labels);
            for (size_t i = 0; i < n; i++) {
                json_array_append_new(labels, v[i]);
            }
            free(v);
        }
    }
    return labels;
}

/* ----------------------------------------------------------- parseSelector */

static bool blank(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s > ' ') {
            return false;
        }
    }
    return true;
}

/* Jackson's JsonNode.asText() of @v. */
static char *as_text(json_t *v)
{
    char buf[64];
    switch (json_typeof(v)) {
        case JSON_STRING:
            return strdup(json_string_value(v));
        case JSON_INTEGER:
            snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT,
                     json_integer_value(v));
            return strdup(buf);
        case JSON_REAL:
            snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
            return strdup(buf);
        case JSON_TRUE:
            return strdup("true");
        case JSON_FALSE:
            return strdup("false");
        case JSON_NULL:
            return strdup("null");
        default:
            return strdup(""); /* containers */
    }
}

int lc_selector_parse(const char *text, const char **type, char **expression,
                      struct lc_err *e)
{
    char *decoded;
    json_t *root;
    json_t *t;
    json_t *x;
    int rv = 0;

    *type = "none";
    *expression = NULL;
    if (text == NULL || blank(text)) {
        return 0;
    }
    decoded = url_decode(text, e->msg, sizeof e->msg);
    if (decoded == NULL) {
        e->code = LC_EINVAL; /* IllegalArgumentException */
        e->param[0] = '\0';
        return LC_EINVAL;
    }
    root = json_loads(decoded, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK,
                      NULL);
    free(decoded);
    if (root == NULL) {
        /* NacosDeserializationException: Nacos answers with its errCode
         * (101) as the HTTP status; locus says 400. */
        return lc_err_set(e, LC_EINVAL,
                          "errCode: 101, errMsg: Nacos deserialize failed.  ");
    }
    t = json_is_object(root) ? json_object_get(root, "type") : NULL;
    if (json_is_string(t) && strcmp(json_string_value(t), "none") == 0) {
        *type = "none";
    } else if (json_is_string(t) &&
               strcmp(json_string_value(t), "label") == 0) {
        *type = "label";
        x = json_object_get(root, "expression");
        if (x != NULL) {
            json_t *labels = json_array();
            int syntax;
            *expression = as_text(x);
            syntax = *expression == NULL
                         ? SYNTAX_BAD
                         : parse_expression(*expression, labels);
            json_decref(labels);
            if (syntax != 0) {
                rv = lc_err_set(e, LC_ESERVER, "Selector parses failed: %s",
                                syntax == SYNTAX_THROW
                                    ? "1"
                                    : "parse expression failed!");
                free(*expression);
                *expression = NULL;
            }
        }
    } else {
        rv = lc_err_set(e, LC_EINVAL, "not match any type of selector!");
    }
    json_decref(root);
    return rv;
}
