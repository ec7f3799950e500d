/* Names, resources, actions and passwords as the store accepts them, and
 * Nacos's resource patterns (auth/store.h): '*' any run of characters, the
 * rest literal, over the whole resource; no regex. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "auth/store.h"

/* ------------------------------------------------------------ validation */

/* Length of the UTF-8 sequence at @s (well-formed, shortest form, no
 * surrogates) or 0. *@cp gets the code point. */
static size_t utf8_seq(const unsigned char *s, uint32_t *cp)
{
    uint32_t c = s[0];
    size_t n;
    uint32_t min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xe0) == 0xc0) {
        n = 2, c &= 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3, c &= 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4, c &= 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
        return 0;
    }
    *cp = c;
    return n;
}

static bool is_space(uint32_t c)
{
    return c == ' ' || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000 || c == 0xfeff;
}

static bool is_control(uint32_t c)
{
    return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

static bool text_valid(const char *s, size_t max, bool spaces,
                       const char **why)
{
    const char *dummy;
    size_t len;
    if (why == NULL) {
        why = &dummy;
    }
    if (s == NULL || s[0] == '\0') {
        *why = "is blank";
        return false;
    }
    len = strlen(s);
    if (len > max) {
        *why = "is too long";
        return false;
    }
    for (size_t i = 0; i < len;) {
        uint32_t c;
        size_t n = utf8_seq((const unsigned char *)s + i, &c);
        if (n == 0) {
            *why = "is not valid UTF-8";
            return false;
        }
        if (is_control(c)) {
            *why = "has a control character";
            return false;
        }
        if (!spaces && is_space(c)) {
            *why = "has whitespace";
            return false;
        }
        i += n;
    }
    return true;
}

bool lc_auth_name_valid(const char *name, const char **why)
{
    return text_valid(name, LC_AUTH_NAME_MAX, false, why);
}

bool lc_auth_resource_valid(const char *resource, const char **why)
{
    return text_valid(resource, LC_AUTH_RESOURCE_MAX, false, why);
}

bool lc_auth_password_valid(const char *password, const char **why)
{
    return text_valid(password, LC_AUTH_PASSWORD_MAX, true, why);
}

bool lc_auth_action_valid(const char *action)
{
    return action != NULL && (strcmp(action, "r") == 0 ||
                              strcmp(action, "w") == 0 ||
                              strcmp(action, "rw") == 0);
}

/* ----------------------------------------------------------------- match */

bool lc_auth_resource_match(const char *pattern, const char *resource)
{
    const char *p = pattern;
    const char *s = resource;
    const char *star = NULL; /* just after the last '*' seen */
    const char *mark = NULL; /* where that star's run ends for now */
    if (p == NULL || s == NULL) {
        return false;
    }
    while (*s != '\0') {
        if (*p == '*') {
            while (*p == '*') {
                p++;
            }
            if (*p == '\0') {
                return true;
            }
            star = p;
            mark = s;
        } else if (*p != '\0' && *p == *s) {
            p++;
            s++;
        } else if (star != NULL) {
            p = star;
            s = ++mark;
        } else {
            return false;
        }
    }
    while (*p == '*') {
        p++;
    }
    return *p == '\0';
}
