/* DistroMapper's hash (distro/mapper.h). */
#include "distro/mapper.h"

#include <stddef.h>

#include "common/java.h"



int32_t lc_distro_hash(const char *tag)
{
    int32_t r = lc_java_string_hash(tag) % INT32_MAX; /* Java's %: truncates */
    return r < 0 ? -r : r;
}

unsigned lc_distro_index(const char *tag, unsigned n)
{
    return (unsigned)lc_distro_hash(tag) % n;
}
