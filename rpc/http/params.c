/* HTTP parameters: percent-decoding, query and form parsing, encoder. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/util.h"
#include "rpc/http/internal.h"

/* Invalid escapes ("%zz", "100%", "%4") are kept as they are, like a lenient
 * servlet container, rather than failing the request: Nacos clients in the
 * wild send unencoded '%' in values. "%00" is kept too (see http_internal.h).
 */

size_t lc_http_pct_decode(char *dst, const char *src, size_t len, bool plus)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        char ch = src[i];
        if (ch == '%' && i + 2 < len) {
            int hi = lc_hex_digit((unsigned char)src[i + 1]);
            int lo = lc_hex_digit((unsigned char)src[i + 2]);
            if (hi >= 0 && lo >= 0 && (hi | lo) != 0) {
                dst[o++] = (char)(hi << 4 | lo);
                i += 2;
                continue;
            }
        } else if (ch == '+' && plus) {
            ch = ' ';
        }
        dst[o++] = ch;
    }
    return o;
}

int lc_http_params_begin(struct lc_http_params *p, size_t input_bytes)
{
    /* Every parameter costs at most its bytes plus two NULs, and takes at
     * least two input bytes ("a&"), so twice the input is always enough. */
    size_t need = 2 * input_bytes + 8;

    p->len = 0;
    p->n = 0;
    if (need > p->cap) {
        char *buf = malloc(need);
        if (buf == NULL) {
            return LC_ENOMEM;
        }
        free(p->buf);
        p->buf = buf;
        p->cap = need;
    }
    return 0;
}

const char *lc_http_params_add_path(struct lc_http_params *p, const char *s,
                                    size_t len)
{
    char *out;

    if (p->buf == NULL || p->cap - p->len < len + 1) {
        return NULL;
    }
    out = p->buf + p->len;
    p->len += lc_http_pct_decode(out, s, len, false);
    p->buf[p->len++] = '\0';
    return out;
}

static int add_item(struct lc_http_params *p, const char *name,
                    const char *value)
{
    if (p->n == p->items_cap) {
        size_t cap = p->items_cap ? 2 * p->items_cap : 16;
        struct lc_http_param *items = realloc(p->items, cap * sizeof *items);
        if (items == NULL) {
            return LC_ENOMEM;
        }
        p->items = items;
        p->items_cap = cap;
    }
    p->items[p->n].name = name;
    p->items[p->n].value = value;
    p->n++;
    return 0;
}

int lc_http_params_parse(struct lc_http_params *p, const char *s, size_t len)
{
    const char *end;

    if (len == 0) {
        return 0; /* and @s may be NULL */
    }
    end = s + len;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *eq;
        const char *name_end;
        char *name;
        char *value;
        int rv;

        if (amp == NULL) {
            amp = end;
        }
        eq = memchr(s, '=', (size_t)(amp - s));
        name_end = eq != NULL ? eq : amp;
        if (name_end > s) {
            if (p->n >= LC_HTTP_MAX_PARAMS) {
                return LC_ETOOBIG;
            }
            if (p->cap - p->len < (size_t)(amp - s) + 2) {
                return LC_ENOMEM; /* lc_http_params_begin() was too small */
            }
            name = p->buf + p->len;
            p->len += lc_http_pct_decode(name, s, (size_t)(name_end - s), true);
            p->buf[p->len++] = '\0';
            value = p->buf + p->len;
            if (eq != NULL) {
                p->len += lc_http_pct_decode(value, eq + 1,
                                             (size_t)(amp - eq - 1), true);
            }
            p->buf[p->len++] = '\0';
            rv = add_item(p, name, value);
            if (rv != 0) {
                return rv;
            }
        }
        s = amp + 1;
    }
    return 0;
}

void lc_http_params_free(struct lc_http_params *p)
{
    free(p->buf);
    free(p->items);
    memset(p, 0, sizeof *p);
}

bool lc_http_is_form(const char *content_type)
{
    static const char form[] = "application/x-www-form-urlencoded";
    const char *s = content_type;

    if (s == NULL) {
        return false;
    }
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (strncasecmp(s, form, sizeof form - 1) != 0) {
        return false;
    }
    s += sizeof form - 1;
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    return *s == '\0' || *s == ';';
}

/* application/x-www-form-urlencoded as java.net.URLEncoder writes it:
 * alphanumerics and ".-*_" stay, space is '+', the rest is %XX. */
static bool form_safe(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '*' ||
           ch == '_';
}

int lc_http_urlencode_append(char **out, size_t *len, size_t *cap,
                             const char *text)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(text);
    size_t need = *len + 3 * n + 1;
    char *o;

    if (need > *cap || *out == NULL) {
        size_t ncap = *cap > 32 ? *cap : 32;
        char *buf;
        while (ncap < need) {
            ncap *= 2;
        }
        buf = realloc(*out, ncap);
        if (buf == NULL) {
            return LC_ENOMEM;
        }
        *out = buf;
        *cap = ncap;
    }
    o = *out + *len;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (form_safe(ch)) {
            *o++ = (char)ch;
        } else if (ch == ' ') {
            *o++ = '+';
        } else {
            *o++ = '%';
            *o++ = hex[ch >> 4];
            *o++ = hex[ch & 15];
        }
    }
    *o = '\0';
    *len = (size_t)(o - *out);
    return 0;
}
