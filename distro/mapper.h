/* Distro's assignment of clients to servers, as Nacos 2.4.3's DistroMapper:
 * a client ("ip:port") belongs to servers[distroHash(tag) % n] of the sorted
 * list of healthy servers, the same on every member. */
#ifndef LC_DISTRO_MAPPER_H
#define LC_DISTRO_MAPPER_H

#include <stdint.h>

/* DistroMapper.distroHash: Math.abs(hashCode % Integer.MAX_VALUE). */
int32_t lc_distro_hash(const char *tag);

/* Index of the responsible server among @n (> 0) sorted servers. */
unsigned lc_distro_index(const char *tag, unsigned n);

#endif /* LC_DISTRO_MAPPER_H */
