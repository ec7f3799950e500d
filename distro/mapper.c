/* DistroMapper's hash (distro/mapper.h). */
#include "distro/mapper.h"

#include <stddef.h>

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

int32_t lc_distro_hash(const char *tag)
{
    int32_t r = lc_java_string_hash(tag) % INT32_MAX; /* Java's %: truncates */
    return r < 0 ? -r : r;
}

unsigned lc_distro_index(const char *tag, unsigned n)
{
    return (unsigned)lc_distro_hash(tag) % n;
}
