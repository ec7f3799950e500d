/* Spring Boot's error JSON (BasicErrorController with
 * server.error.include-message=ALWAYS), as Nacos's servlet filters answer
 * through sendError(): naming's filters and the auth gate alike. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rpc/http/http.h"

static const char *reason(int status)
{
    switch (status) {
        case 400:
            return "Bad Request";
        case 403:
            return "Forbidden";
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
    snprintf(out, size, "%s.%03ld%.3s:%.2s", base, ts.tv_nsec / 1000000L, zone,
             zone + 3);
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

/* How many bytes the UTF-8 character starting at @p has: 2 to 4 for a
 * lead byte followed by its continuation bytes, else 1. */
static size_t utf8_len(const unsigned char *p)
{
    size_t n = *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : *p >= 0xC0 ? 2 : 1;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            return 1;
        }
    }
    return n;
}

/* @in escaped into @out, cut (when @size is too small) before a whole
 * escape or character, never inside one. */
static void json_escape(char *out, size_t size, const char *in)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in;
         *p != '\0' && o + 7 < size; p++) {
        if (*p >= 0x80) {
            /* A character of up to 4 bytes fits in the 7 left. */
            size_t n = utf8_len(p);
            memcpy(out + o, p, n);
            o += n;
            p += n - 1;
        } else if (*p == '"' || *p == '\\') {
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

void lc_http_reply_spring(struct lc_http_exchange *ex, int status,
                          const char *msg)
{
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
                  n > 0 && (size_t)n < sizeof body ? (size_t)n : strlen(body));
}
