/* Small helpers: clocks, bounded copies, host:port handling, strict number parsing. */
#include "common/util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/err.h"

uint64_t lc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t lc_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t lc_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

bool lc_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);
    if (size == 0) {
        return false;
    }
    if (n >= size) {
        memcpy(dst, src, size - 1);
        dst[size - 1] = '\0';
        return false;
    }
    memcpy(dst, src, n + 1);
    return true;
}

int lc_split_host_port(const char *text, char *host, size_t host_size,
                       int *port)
{
    const char *colon;
    const char *h = text;
    size_t hlen;
    long long p;

    if (text == NULL || *text == '\0') {
        return LC_EINVAL;
    }
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':') {
            return LC_EINVAL;
        }
        h = text + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL || memchr(text, ':', (size_t)(colon - text))) {
            return LC_EINVAL; /* no port, or an unbracketed IPv6 literal */
        }
        hlen = (size_t)(colon - text);
    }
    if (hlen == 0 || hlen >= host_size) {
        return LC_EINVAL;
    }
    if (lc_parse_int(colon + 1, 1, 65535, &p) != 0) {
        return LC_EINVAL;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return 0;
}

void lc_join_host_port(char *out, size_t size, const char *host, int port)
{
    if (strchr(host, ':') != NULL) {
        snprintf(out, size, "[%s]:%d", host, port);
    } else {
        snprintf(out, size, "%s:%d", host, port);
    }
}

int lc_parse_int(const char *text, long long min, long long max,
                 long long *out)
{
    char *end;
    long long v;
    /* strtoll would skip leading white space; the text must be the number. */
    if (text == NULL || *text == '\0' || isspace((unsigned char)*text)) {
        return LC_EINVAL;
    }
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        return LC_EINVAL;
    }
    *out = v;
    return 0;
}

int lc_parse_double(const char *text, double *out)
{
    char *end;
    double v;
    if (text == NULL || *text == '\0' || isspace((unsigned char)*text)) {
        return LC_EINVAL;
    }
    errno = 0;
    v = strtod(text, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v)) {
        return LC_EINVAL;
    }
    *out = v;
    return 0;
}

bool lc_parse_bool(const char *text)
{
    return text != NULL && strcasecmp(text, "true") == 0;
}

void lc_buf_add(struct lc_buf *b, const char *s, size_t len)
{
    if (b->oom) {
        return;
    }
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap == 0 ? 1024 : b->cap;
        char *grown;
        while (cap < b->len + len + 1) {
            cap *= 2;
        }
        grown = realloc(b->p, cap);
        if (grown == NULL) {
            b->oom = true;
            return;
        }
        b->p = grown;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len] = '\0';
}

void lc_buf_json_str(struct lc_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const char *run = s;
    lc_buf_add(b, "\"", 1);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        lc_buf_add(b, run, (size_t)(s - run));
        if (c == '"' || c == '\\') {
            esc[1] = (char)c;
            lc_buf_add(b, esc, 2);
        } else {
            lc_buf_add(b, esc, 6);
        }
        run = s + 1;
    }
    lc_buf_add(b, run, (size_t)(s - run));
    lc_buf_add(b, "\"", 1);
}
