/* The cluster's member list (members/members.h): built once from the
 * configuration, sorted by address, states from a probe or pushed in. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "members/members.h"

/* Nacos's offsets from the main port; the main port's range keeps every
 * derived port in 1..65535 (as server/config.c checks it). */
#define RAFT_OFFSET (-1000)
#define GRPC_OFFSET 1000
#define GRPC_CLUSTER_OFFSET 1001
#define MIN_PORT 1001
#define MAX_PORT 64534

struct lc_members {
    lc_members_probe_cb probe;
    void *probe_data;
    unsigned self; /* index of this node in member[] */
    unsigned n;
    struct lc_member member[LC_MEMBERS_MAX]; /* sorted by addr */
};

static const char *const state_names[] = {
    [LC_MEMBER_STARTING] = "STARTING",     [LC_MEMBER_UP] = "UP",
    [LC_MEMBER_SUSPICIOUS] = "SUSPICIOUS", [LC_MEMBER_DOWN] = "DOWN",
    [LC_MEMBER_ISOLATION] = "ISOLATION",
};

static bool valid_state(enum lc_member_state state)
{
    return (unsigned)state < LC_ARRAY_SIZE(state_names);
}

const char *lc_member_state_name(enum lc_member_state state)
{
    return valid_state(state) ? state_names[state] : "UNKNOWN";
}

bool lc_member_state_healthy(enum lc_member_state state)
{
    return state == LC_MEMBER_UP || state == LC_MEMBER_SUSPICIOUS;
}

/* A host as cluster.conf may give it (server/config.c's rule): not empty,
 * no blanks or separators, and not exactly one colon ("host:port" in the
 * host field). */
static bool valid_host(const char *host)
{
    unsigned colons = 0;
    if (host == NULL || *host == '\0') {
        return false;
    }
    for (const unsigned char *c = (const unsigned char *)host; *c != '\0';
         c++) {
        if (*c <= ' ' || *c == 0x7f || strchr(",#[]/@\"'", *c) != NULL) {
            return false;
        }
        colons += *c == ':';
    }
    return colons != 1;
}

/* Fill @m from @c; LC_EINVAL (message in @errmsg) when it is not valid. */
static int member_set(struct lc_member *m, const struct lc_member_conf *c,
                      char *errmsg, size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (c->host != NULL && strlen(c->host) >= sizeof m->host) {
        return lc_errf(LC_EINVAL, errmsg, errlen,
                       "member host too long: %zu bytes, at most %zu",
                       strlen(c->host), sizeof m->host - 1);
    }
    if (!valid_host(c->host)) {
        return lc_errf(LC_EINVAL, errmsg, errlen, "bad member host '%.300s'",
                       c->host != NULL ? c->host : "(null)");
    }
    if (c->port < MIN_PORT || c->port > MAX_PORT) {
        return lc_errf(LC_EINVAL, errmsg, errlen,
                       "member %.300s: port %d not in %d..%d (raft is port "
                       "- 1000, gRPC port + 1000 and + 1001)",
                       c->host, c->port, MIN_PORT, MAX_PORT);
    }
    lc_strlcpy(m->host, c->host, sizeof m->host);
    m->port = c->port;
    m->raft_port = c->port + RAFT_OFFSET;
    m->grpc_port = c->port + GRPC_OFFSET;
    m->grpc_cluster_port = c->port + GRPC_CLUSTER_OFFSET;
    lc_join_host_port(m->addr, sizeof m->addr, m->host, m->port);
    lc_join_host_port(m->raft_addr, sizeof m->raft_addr, m->host, m->raft_port);
    m->state = LC_MEMBER_UP; /* MemberUtil.singleParse */
    return 0;
}

/* Address order: ServerMemberManager's serverList is a skip list keyed by
 * address (String order; the same as byte order for ASCII hosts). */
static int member_cmp(const void *a, const void *b)
{
    return strcmp(((const struct lc_member *)a)->addr,
                  ((const struct lc_member *)b)->addr);
}

/* Index of the member at @addr in @ms, or -1. */
static int index_of(const struct lc_members *ms, const char *addr)
{
    for (unsigned i = 0; i < ms->n; i++) {
        if (strcmp(ms->member[i].addr, addr) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Add the member @c to @ms (not yet sorted). */
static int add(struct lc_members *ms, const struct lc_member_conf *c,
               char *errmsg, size_t errlen)
{
    struct lc_member m;
    int rv = member_set(&m, c, errmsg, errlen);
    if (rv != 0) {
        return rv;
    }
    if (index_of(ms, m.addr) >= 0) {
        return lc_errf(LC_EEXIST, errmsg, errlen, "member %s listed twice",
                       m.addr);
    }
    if (ms->n == LC_MEMBERS_MAX) {
        return lc_errf(LC_ETOOBIG, errmsg, errlen,
                       "too many members: at most %d (at %s)", LC_MEMBERS_MAX,
                       m.addr);
    }
    ms->member[ms->n++] = m;
    return 0;
}

int lc_members_new(const struct lc_member_conf *entries, unsigned n,
                   const struct lc_member_conf *self, struct lc_members **out,
                   char *errmsg, size_t errlen)
{
    struct lc_members *ms;
    struct lc_member me;
    int found;
    int rv;

    rv = member_set(&me, self, errmsg, errlen);
    if (rv != 0) {
        return rv;
    }
    ms = calloc(1, sizeof *ms);
    if (ms == NULL) {
        return lc_errf(LC_ENOMEM, errmsg, errlen, "out of memory");
    }
    for (unsigned i = 0; i < n; i++) {
        rv = add(ms, &entries[i], errmsg, errlen);
        if (rv != 0) {
            goto err_after_alloc;
        }
    }
    if (index_of(ms, me.addr) < 0) {
        rv = add(ms, self, errmsg, errlen); /* standalone: self only */
        if (rv != 0) {
            goto err_after_alloc;
        }
    }
    qsort(ms->member, ms->n, sizeof ms->member[0], member_cmp);
    found = index_of(ms, me.addr);
    ms->self = (unsigned)found;
    ms->member[found].self = true;
    *out = ms;
    return 0;

err_after_alloc:
    free(ms);
    return rv;
}

int lc_members_update(struct lc_members *ms,
                      const struct lc_member_conf *entries, unsigned n,
                      char *errmsg, size_t errlen)
{
    const struct lc_member *self = &ms->member[ms->self];
    struct lc_member_conf me = {self->host, self->port};
    struct lc_members *next;
    int rv = lc_members_new(entries, n, &me, &next, errmsg, errlen);

    if (rv != 0) {
        return rv;
    }
    for (unsigned i = 0; i < next->n; i++) {
        struct lc_member *m = &next->member[i];
        int old = index_of(ms, m->addr);
        if (old >= 0) {
            m->state = ms->member[old].state;
            m->fail_access_cnt = ms->member[old].fail_access_cnt;
            m->last_refresh_ms = ms->member[old].last_refresh_ms;
        }
    }
    next->probe = ms->probe;
    next->probe_data = ms->probe_data;
    *ms = *next;
    free(next);
    return 0;
}

void lc_members_free(struct lc_members *ms)
{
    free(ms);
}

unsigned lc_members_count(const struct lc_members *ms)
{
    return ms->n;
}

const struct lc_member *lc_members_at(const struct lc_members *ms, unsigned i)
{
    return i < ms->n ? &ms->member[i] : NULL;
}

const struct lc_member *lc_members_self(const struct lc_members *ms)
{
    return &ms->member[ms->self];
}

const struct lc_member *lc_members_find(const struct lc_members *ms,
                                        const char *addr)
{
    int i = index_of(ms, addr);
    return i >= 0 ? &ms->member[i] : NULL;
}

const struct lc_member *lc_members_find_raft(const struct lc_members *ms,
                                             const char *raft_addr)
{
    for (unsigned i = 0; i < ms->n; i++) {
        if (strcmp(ms->member[i].raft_addr, raft_addr) == 0) {
            return &ms->member[i];
        }
    }
    return NULL;
}

void lc_members_set_probe(struct lc_members *ms, lc_members_probe_cb cb,
                          void *data)
{
    ms->probe = cb;
    ms->probe_data = data;
}

/* The member at @addr, into *@m, when its state may become @state: LC_EINVAL
 * for a state outside enum lc_member_state, else LC_ENOTFOUND for an
 * address not in the list. */
static int settable(struct lc_members *ms, const char *addr,
                    enum lc_member_state state, struct lc_member **m)
{
    int i = index_of(ms, addr);
    if (!valid_state(state)) {
        return LC_EINVAL;
    }
    if (i < 0) {
        return LC_ENOTFOUND;
    }
    *m = &ms->member[i];
    return 0;
}

int lc_members_set_state(struct lc_members *ms, const char *addr,
                         enum lc_member_state state)
{
    struct lc_member *m;
    int rv = settable(ms, addr, state, &m);
    if (rv != 0) {
        return rv;
    }
    m->state = state;
    return 0;
}

int lc_members_set_report(struct lc_members *ms, const char *addr,
                          enum lc_member_state state, unsigned fail_access_cnt,
                          uint64_t last_refresh_ms)
{
    struct lc_member *m;
    int rv = settable(ms, addr, state, &m);
    if (rv != 0) {
        return rv;
    }
    m->state = state;
    m->fail_access_cnt = fail_access_cnt;
    if (last_refresh_ms != 0) {
        m->last_refresh_ms = last_refresh_ms;
    }
    return 0;
}

enum lc_member_state lc_members_state(const struct lc_members *ms,
                                      const struct lc_member *m)
{
    return ms->probe != NULL ? ms->probe(ms->probe_data, m) : m->state;
}

unsigned lc_members_healthy(const struct lc_members *ms,
                            const struct lc_member **out, unsigned size)
{
    unsigned count = 0;
    for (unsigned i = 0; i < ms->n && count < size; i++) {
        const struct lc_member *m = &ms->member[i];
        if (m->self || lc_member_state_healthy(lc_members_state(ms, m))) {
            out[count++] = m;
        }
    }
    return count;
}
