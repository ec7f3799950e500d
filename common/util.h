/* Small helpers every module uses: clocks, bounded string copies, address parsing. */
#ifndef LC_COMMON_UTIL_H
#define LC_COMMON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define LC_CONTAINER_OF(ptr, type, member) \
    ((type *)((char *)(ptr)-offsetof(type, member)))

/* Milliseconds since the Unix epoch (wall clock). */
uint64_t lc_now_ms(void);

/* Monotonic milliseconds, for durations. */
uint64_t lc_mono_ms(void);

/* Monotonic microseconds, for latencies. */
uint64_t lc_mono_us(void);

/* Copy @src into @dst of @size bytes, always NUL-terminating. Return false if
 * @src did not fit (@dst then holds a truncated copy). */
bool lc_strlcpy(char *dst, const char *src, size_t size);

/* Split "host:port" or "[v6]:port" into @host (without brackets) and @port.
 * Return 0, or LC_EINVAL if the text is not of that form or the port is not in
 * 1..65535. */
int lc_split_host_port(const char *text, char *host, size_t host_size,
                       int *port);

/* Format @host and @port as "host:port", bracketing IPv6 literals. */
void lc_join_host_port(char *out, size_t size, const char *host, int port);

/* Parse a decimal integer in [min, max]; the whole string must be a number.
 * Return 0 or LC_EINVAL. */
int lc_parse_int(const char *text, long long min, long long max,
                 long long *out);

/* Parse a floating point number; the whole string must be a number and
 * finite. Return 0 or LC_EINVAL. */
int lc_parse_double(const char *text, double *out);

/* Parse "true"/"false" (case-insensitive, as Java's Boolean.parseBoolean:
 * anything but "true" is false). */
bool lc_parse_bool(const char *text);

/* The value of hexadecimal digit @c (either case), or -1. */
/* A growable text buffer, always NUL-terminated once written to: what
 * renders JSON straight to text (Distro's requests, ClientSyncData). A
 * failed growth sets @oom and makes every later append a no-op, so a
 * renderer checks once at the end. Zero-initialise; free(b.p). */
struct lc_buf {
    char *p;
    size_t len, cap;
    bool oom;
};

/* Append @len bytes of @s. */
void lc_buf_add(struct lc_buf *b, const char *s, size_t len);

/* Append @s as a JSON string: quotes, backslash and control bytes
 * escaped, the rest (UTF-8) as is. */
void lc_buf_json_str(struct lc_buf *b, const char *s);

#define LC_BUF_LIT(b, lit) lc_buf_add((b), (lit), sizeof(lit) - 1)

static inline int lc_hex_digit(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

#endif /* LC_COMMON_UTIL_H */
