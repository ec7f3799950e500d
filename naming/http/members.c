/* The cluster's members as naming sees them: cluster.conf's list, this node
 * apart, sorted by address as Nacos's ServerMemberManager keeps them; their
 * health is the engine's view of the peer link. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "distro/mapper.h"
#include "naming/internal.h"
#include "naming/http/members.h"

static int member_set(struct lc_member *m, const struct lc_naming_member *c)
{
    if (!lc_strlcpy(m->host, c->host, sizeof m->host)) {
        return LC_EINVAL;
    }
    m->port = c->port;
    lc_join_host_port(m->addr, sizeof m->addr, c->host, c->port);
    lc_join_host_port(m->raft, sizeof m->raft, c->host, c->raft_port);
    return 0;
}

static int member_cmp(const void *a, const void *b)
{
    return strcmp(((const struct lc_member *)a)->addr,
                  ((const struct lc_member *)b)->addr);
}

int lc_naming_set_members(struct lc_naming *n,
                          const struct lc_naming_member *members,
                          unsigned count, const struct lc_naming_member *self,
                          unsigned timeout_ms)
{
    struct lc_peers *ps = calloc(1, sizeof *ps + count * sizeof ps->peer[0]);
    if (ps == NULL) {
        return LC_ENOMEM;
    }
    ps->timeout_ms = timeout_ms;
    if (member_set(&ps->self, self) != 0) {
        free(ps);
        return LC_EINVAL;
    }
    for (unsigned i = 0; i < count; i++) {
        if (members[i].port == self->port &&
            strcmp(members[i].host, self->host) == 0) {
            continue; /* allMembersWithoutSelf */
        }
        if (member_set(&ps->peer[ps->n], &members[i]) != 0) {
            free(ps);
            return LC_EINVAL;
        }
        ps->n++;
    }
    qsort(ps->peer, ps->n, sizeof ps->peer[0], member_cmp);
    free(n->peers);
    n->peers = ps;
    return 0;
}

void lc_naming_peers_free(struct lc_naming *n)
{
    free(n->peers);
    n->peers = NULL;
}

void lc_naming_distro_map(struct lc_naming *n, const char *tag, char *out,
                          size_t size)
{
    const struct lc_peers *ps = n->peers;
    const char *healthy[1 + LC_RAFT_MAX_MEMBERS];
    unsigned count = 0;
    bool self_placed = false;

    if (ps == NULL) {
        lc_strlcpy(out, "", size); /* never told who it is: no answer */
        return;
    }
    if (!n->sw.distro_enabled) {
        lc_strlcpy(out, ps->self.addr, size);
        return;
    }
    /* The healthy list, sorted: merge self into the sorted peers. A member
     * counts while its peer link is up (Nacos: UP or SUSPICIOUS). */
    for (unsigned i = 0; i <= ps->n && count < LC_ARRAY_SIZE(healthy); i++) {
        const struct lc_member *m = i < ps->n ? &ps->peer[i] : NULL;
        if (!self_placed &&
            (m == NULL || strcmp(ps->self.addr, m->addr) < 0)) {
            healthy[count++] = ps->self.addr;
            self_placed = true;
        }
        if (m != NULL && count < LC_ARRAY_SIZE(healthy) &&
            n->engine != NULL && lc_raft_engine_peer_up(n->engine, m->raft)) {
            healthy[count++] = m->addr;
        }
    }
    lc_strlcpy(out, healthy[lc_distro_index(tag, count)], size);
}
