/* Reading Java .properties files (the syntax Nacos's application.properties
 * uses): '#'/'!' comments, key=value, key:value or key value, blanks around
 * them, backslash line continuation, and the escapes \t \n \r \f \uXXXX.
 * One deviation: blanks after a continuation backslash still continue the
 * line (Java would not), which is what a hand-edited file means. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/properties.h"

#define fail(err, errlen, ...) lc_errf(LC_ECONFIG, err, errlen, __VA_ARGS__)

static bool is_space(char c)
{
    return isspace((unsigned char)c) != 0;
}

/* Java's .properties separators between key and value. */
static bool is_prop_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\f';
}

static unsigned hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return (unsigned)(c - '0');
    }
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f') {
        return (unsigned)(c - 'a' + 10);
    }
    return 16;
}

/* Read the 4 hex digits of a \uXXXX at @s (@n bytes available). */
static bool read_u4(const char *s, size_t n, unsigned *cp)
{
    *cp = 0;
    if (n < 4) {
        return false;
    }
    for (int i = 0; i < 4; i++) {
        unsigned d = hex_digit(s[i]);
        if (d > 15) {
            return false;
        }
        *cp = *cp * 16 + d;
    }
    return true;
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decode Java escapes in [s, s + n) into @out (n + 1 bytes suffice): \t \n
 * \r \f, \uXXXX (UTF-8 out), and \x for any other x. Return false on a
 * malformed \u. */
static bool unescape(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned cp, lo;
        if (s[i] != '\\') {
            out[o++] = s[i];
            continue;
        }
        if (++i == n) {
            break; /* a lone trailing backslash is dropped, as in Java */
        }
        switch (s[i]) {
            case 't':
                out[o++] = '\t';
                break;
            case 'n':
                out[o++] = '\n';
                break;
            case 'r':
                out[o++] = '\r';
                break;
            case 'f':
                out[o++] = '\f';
                break;
            case 'u':
                if (!read_u4(s + i + 1, n - i - 1, &cp)) {
                    return false;
                }
                i += 4;
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return false; /* lone low surrogate */
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (n - i - 1 < 6 || s[i + 1] != '\\' || s[i + 2] != 'u' ||
                        !read_u4(s + i + 3, n - i - 3, &lo) || lo < 0xDC00 ||
                        lo > 0xDFFF) {
                        return false;
                    }
                    i += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                o += put_utf8(out + o, cp);
                break;
            default:
                out[o++] = s[i];
                break;
        }
    }
    out[o] = '\0';
    return true;
}

/* Split one logical line (comments and continuations already handled) into
 * key and value and hand them to @cb. */
static int parse_line(const char *raw, size_t len, const char *where,
                      lc_properties_cb cb, void *data, char *err,
                      size_t errlen)
{
    size_t i = 0;
    size_t key_end;
    char *key = NULL;
    char *value = NULL;
    int rc;

    while (i < len && raw[i] != '=' && raw[i] != ':' &&
           !is_prop_blank(raw[i])) {
        i += raw[i] == '\\' ? 2 : 1;
    }
    if (i > len) {
        i = len;
    }
    key_end = i;
    while (i < len && is_prop_blank(raw[i])) {
        i++;
    }
    if (i < len && (raw[i] == '=' || raw[i] == ':')) {
        i++;
        while (i < len && is_prop_blank(raw[i])) {
            i++;
        }
    }
    if (key_end == 0) {
        return fail(err, errlen, "%s: line has no key", where);
    }

    key = malloc(key_end + 1);
    value = malloc(len - i + 1);
    if (key == NULL || value == NULL) {
        rc = lc_errf(LC_ENOMEM, err, errlen, "%s: out of memory", where);
        goto out;
    }
    if (!unescape(raw, key_end, key) || !unescape(raw + i, len - i, value)) {
        rc = fail(err, errlen, "%s: malformed \\uXXXX escape", where);
        goto out;
    }
    rc = cb(data, key, value, where, err, errlen);
out:
    free(value);
    free(key);
    return rc;
}

/* Append [s, s + n) to the growing buffer *buf. */
static bool append(char **buf, size_t *len, size_t *cap, const char *s,
                   size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t ncap = (*len + n + 1) * 2;
        char *nbuf = realloc(*buf, ncap);
        if (nbuf == NULL) {
            return false;
        }
        *buf = nbuf;
        *cap = ncap;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return true;
}

int lc_properties_read(const char *path, lc_properties_cb cb, void *data,
                       char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    char *logical = NULL;
    size_t llen = 0;
    size_t lcap = 0;
    ssize_t n;
    unsigned lineno = 0;
    unsigned start = 0;
    bool continuing = false;
    char where[1100];
    int rc = 0;

    if (f == NULL) {
        if (errno == ENOENT) {
            return lc_errf(LC_ENOTFOUND, err, errlen, "%s: no such file",
                             path);
        }
        return fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    }
    errno = 0;
    while ((n = getline(&line, &cap, f)) != -1) {
        const char *s = line;
        size_t len = (size_t)n;
        size_t slashes = 0;

        lineno++;
        /* Trailing blanks are dropped before looking for a continuation
         * backslash (Java would keep them and not continue). */
        while (len > 0 && is_space(s[len - 1])) {
            len--;
        }
        while (len > 0 && is_prop_blank(*s)) {
            s++;
            len--;
        }
        if (!continuing) {
            if (len == 0 || *s == '#' || *s == '!') {
                continue;
            }
            start = lineno;
            llen = 0;
        }
        while (slashes < len && s[len - 1 - slashes] == '\\') {
            slashes++;
        }
        continuing = slashes % 2 == 1;
        if (!append(&logical, &llen, &lcap, s, continuing ? len - 1 : len)) {
            rc = lc_errf(LC_ENOMEM, err, errlen, "%s: out of memory", path);
            goto out;
        }
        if (!continuing) {
            snprintf(where, sizeof where, "%s:%u", path, start);
            rc = parse_line(logical, llen, where, cb, data, err, errlen);
            if (rc != 0) {
                goto out;
            }
        }
    }
    if (ferror(f)) {
        rc = errno == ENOMEM ? LC_ENOMEM : LC_ECONFIG;
        fail(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        goto out;
    }
    if (continuing) { /* a continuation on the last line ends there */
        snprintf(where, sizeof where, "%s:%u", path, start);
        rc = parse_line(logical, llen, where, cb, data, err, errlen);
        if (rc != 0) {
            goto out;
        }
    }
out:
    free(logical);
    free(line);
    fclose(f);
    return rc;
}

