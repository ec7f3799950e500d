/* Reading Java .properties files. */
#ifndef LC_SERVER_PROPERTIES_H
#define LC_SERVER_PROPERTIES_H

#include <stddef.h>

/* Called for each key=value, in file order. @where is "file:line" of the
 * line the entry starts on. Return 0 to go on, or an LC_E* code (with a
 * message in @err) to stop the read with that code. */
typedef int (*lc_properties_cb)(void *data, const char *key,
                                const char *value, const char *where,
                                char *err, size_t errlen);

/* Read @path and call @cb for each entry. Return 0, LC_ENOTFOUND (no such
 * file), LC_ECONFIG (cannot read, or a malformed line: message in @err names
 * file and line), LC_ENOMEM, or what @cb returned. */
int lc_properties_read(const char *path, lc_properties_cb cb, void *data,
                       char *err, size_t errlen);

#endif /* LC_SERVER_PROPERTIES_H */
