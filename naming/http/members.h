/* The cluster's members as naming sees them (naming/http/members.c): who to ask
 * for service/subscribers?aggregation=true, and Distro's list of healthy
 * servers (operator/distro/client). */
#ifndef LC_NAMING_MEMBERS_H
#define LC_NAMING_MEMBERS_H

#include <stdbool.h>
#include <stddef.h>

struct lc_naming;

struct lc_member {
    char host[256];
    int port;         /* HTTP */
    char addr[300];   /* "host:port", Nacos's Member.getAddress() */
    char raft[300];   /* "host:raft_port", the engine's name for it */
};

struct lc_peers {
    unsigned timeout_ms; /* bound on a request to another member */
    struct lc_member self;
    unsigned n;               /* the others, sorted by addr */
    struct lc_member peer[];
};

/* Free the member list (lc_naming_free). */
void lc_naming_peers_free(struct lc_naming *n);

/* DistroMapper.mapSrv: the address ("host:port") of the server responsible
 * for @tag ("ip:port" of a client) into @out, among this node and the
 * members whose peer link is up, sorted by address; this node's own
 * address when it knows no members or distro is switched off. */
void lc_naming_distro_map(struct lc_naming *n, const char *tag, char *out,
                          size_t size);

#endif /* LC_NAMING_MEMBERS_H */
