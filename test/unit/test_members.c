/* members/members.c: building the list from configuration entries (and
 * from cluster.conf's text through server/config.c), self, derived ports and
 * addresses, IPv6, sorting, lookup, states (pushed and probed), Distro's
 * healthy list with Nacos's hash, bad input refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "distro/mapper.h"
#include "members/members.h"
#include "server/config.h"

static struct lc_members *build(const struct lc_member_conf *entries,
                                unsigned n, const char *host, int port)
{
    struct lc_member_conf self = {host, port};
    struct lc_members *ms = NULL;
    char err[256] = "";
    int rv = lc_members_new(entries, n, &self, &ms, err, sizeof err);
    if (rv != 0) {
        fail_msg("lc_members_new: %s: %s", lc_errname(rv), err);
    }
    return ms;
}

/* lc_members_new refuses with @code, a message containing @want, and
 * leaves *out alone. */
static void refused(const struct lc_member_conf *entries, unsigned n,
                    const char *host, int port, int code, const char *want)
{
    struct lc_member_conf self = {host, port};
    struct lc_members *sentinel = (struct lc_members *)&self;
    struct lc_members *ms = sentinel;
    char err[256] = "";
    assert_int_equal(lc_members_new(entries, n, &self, &ms, err, sizeof err),
                     code);
    assert_ptr_equal(ms, sentinel);
    if (strstr(err, want) == NULL) {
        fail_msg("message '%s' lacks '%s'", err, want);
    }
    /* No message buffer is fine too. */
    assert_int_equal(lc_members_new(entries, n, &self, &ms, NULL, 0), code);
}

/* ----------------------------------------------------------- building */

/* From cluster.conf's text (nacos.member.list's form) through the
 * configuration's parser to the list, as server/node.c does. */
static void test_from_config(void **state)
{
    struct lc_config cfg;
    struct lc_member_conf conf[LC_MAX_MEMBERS];
    char err[256] = "";
    struct lc_members *ms;
    (void)state;

    lc_config_defaults(&cfg);
    assert_int_equal(lc_config_parse_members(&cfg,
                                             "127.0.0.3,[::1]:9848,"
                                             "127.0.0.1:8848,localhost:8850",
                                             err, sizeof err),
                     0);
    for (unsigned i = 0; i < cfg.n_members; i++) {
        conf[i] =
            (struct lc_member_conf){cfg.members[i].host, cfg.members[i].port};
    }
    ms = build(conf, cfg.n_members, "127.0.0.3", 8848);
    assert_int_equal(lc_members_count(ms), 4);
    assert_string_equal(lc_members_at(ms, 0)->addr, "127.0.0.1:8848");
    assert_string_equal(lc_members_at(ms, 1)->addr, "127.0.0.3:8848");
    assert_true(lc_members_at(ms, 1)->self);
    assert_string_equal(lc_members_at(ms, 2)->addr, "[::1]:9848");
    assert_string_equal(lc_members_at(ms, 2)->host, "::1");
    assert_string_equal(lc_members_at(ms, 2)->raft_addr, "[::1]:8848");
    assert_string_equal(lc_members_at(ms, 3)->addr, "localhost:8850");
    assert_string_equal(lc_members_at(ms, 3)->raft_addr, "localhost:7850");
    /* The raft port is the configuration's. */
    for (unsigned i = 0; i < 4; i++) {
        const struct lc_member *m = lc_members_at(ms, i);
        assert_int_equal(m->raft_port, lc_config_raft_port(m->port));
    }
    lc_members_free(ms);
}

static void test_build_sorted_with_self(void **state)
{
    const struct lc_member_conf conf[] = {
        {"127.0.0.3", 8848}, {"127.0.0.1", 9848}, {"127.0.0.2", 8848}};
    struct lc_members *ms;
    const struct lc_member *m;
    (void)state;

    ms = build(conf, 3, "127.0.0.2", 8848);
    assert_int_equal(lc_members_count(ms), 3);
    /* Address order, not configuration order. */
    assert_string_equal(lc_members_at(ms, 0)->addr, "127.0.0.1:9848");
    assert_string_equal(lc_members_at(ms, 1)->addr, "127.0.0.2:8848");
    assert_string_equal(lc_members_at(ms, 2)->addr, "127.0.0.3:8848");
    assert_null(lc_members_at(ms, 3));

    m = lc_members_self(ms);
    assert_ptr_equal(m, lc_members_at(ms, 1));
    assert_true(m->self);
    assert_false(lc_members_at(ms, 0)->self);
    assert_false(lc_members_at(ms, 2)->self);

    /* Nacos's offsets from the main port. */
    m = lc_members_at(ms, 0);
    assert_string_equal(m->host, "127.0.0.1");
    assert_int_equal(m->port, 9848);
    assert_int_equal(m->raft_port, 8848);
    assert_int_equal(m->grpc_port, 10848);
    assert_int_equal(m->grpc_cluster_port, 10849);
    assert_string_equal(m->raft_addr, "127.0.0.1:8848");
    assert_int_equal(m->fail_access_cnt, 0);
    assert_int_equal(m->last_refresh_ms, 0);
    lc_members_free(ms);
}

/* Standalone: no entries; the list is this node alone. A self not listed
 * among entries is added too. */
static void test_self_not_listed(void **state)
{
    const struct lc_member_conf conf[] = {{"127.0.0.5", 8848}};
    struct lc_members *ms;
    (void)state;

    ms = build(NULL, 0, "127.0.0.1", 8848);
    assert_int_equal(lc_members_count(ms), 1);
    assert_true(lc_members_at(ms, 0)->self);
    assert_string_equal(lc_members_self(ms)->addr, "127.0.0.1:8848");
    assert_string_equal(lc_members_self(ms)->raft_addr, "127.0.0.1:7848");
    lc_members_free(ms);

    ms = build(conf, 1, "127.0.0.9", 8848);
    assert_int_equal(lc_members_count(ms), 2);
    assert_string_equal(lc_members_at(ms, 0)->addr, "127.0.0.5:8848");
    assert_false(lc_members_at(ms, 0)->self);
    assert_string_equal(lc_members_at(ms, 1)->addr, "127.0.0.9:8848");
    assert_true(lc_members_at(ms, 1)->self);
    lc_members_free(ms);
}

/* Self is matched by host as written and port: the same host on another
 * port is another member. */
static void test_self_by_host_and_port(void **state)
{
    const struct lc_member_conf conf[] = {
        {"127.0.0.1", 8848}, {"127.0.0.1", 8858}, {"localhost", 8848}};
    struct lc_members *ms;
    (void)state;

    ms = build(conf, 3, "127.0.0.1", 8858);
    assert_int_equal(lc_members_count(ms), 3);
    assert_string_equal(lc_members_self(ms)->addr, "127.0.0.1:8858");
    for (unsigned i = 0; i < 3; i++) {
        const struct lc_member *m = lc_members_at(ms, i);
        assert_int_equal(m->self, strcmp(m->addr, "127.0.0.1:8858") == 0);
    }
    lc_members_free(ms);
}

/* IPv6 hosts are kept bare and bracketed in addresses, as
 * lc_join_host_port (and Nacos's Member.getAddress for what cluster.conf
 * gives it); they sort by that text. */
static void test_ipv6(void **state)
{
    const struct lc_member_conf conf[] = {
        {"fd00::2", 8848}, {"::1", 9848}, {"127.0.0.1", 8848}};
    struct lc_members *ms;
    const struct lc_member *m;
    (void)state;

    ms = build(conf, 3, "::1", 9848);
    assert_string_equal(lc_members_at(ms, 0)->addr, "127.0.0.1:8848");
    assert_string_equal(lc_members_at(ms, 1)->addr, "[::1]:9848");
    assert_string_equal(lc_members_at(ms, 2)->addr, "[fd00::2]:8848");
    m = lc_members_self(ms);
    assert_string_equal(m->host, "::1");
    assert_string_equal(m->addr, "[::1]:9848");
    assert_string_equal(m->raft_addr, "[::1]:8848");
    assert_ptr_equal(lc_members_find(ms, "[::1]:9848"), m);
    assert_ptr_equal(lc_members_find_raft(ms, "[::1]:8848"), m);
    assert_null(lc_members_find(ms, "::1:9848"));
    lc_members_free(ms);
}

/* The longest host fits, with its brackets, in the address fields. */
static void test_longest_host(void **state)
{
    char host[LC_MEMBER_HOST_MAX];
    char want[LC_MEMBER_ADDR_MAX + 8];
    struct lc_members *ms;
    (void)state;

    memset(host, 'a', sizeof host - 1);
    host[sizeof host - 1] = '\0';
    ms = build(NULL, 0, host, 64534);
    snprintf(want, sizeof want, "%s:64534", host);
    assert_string_equal(lc_members_self(ms)->addr, want);
    lc_members_free(ms);

    memset(host, 'f', sizeof host - 1);
    host[4] = ':';
    host[8] = ':';
    ms = build(NULL, 0, host, 64534);
    snprintf(want, sizeof want, "[%s]:64534", host);
    assert_string_equal(lc_members_self(ms)->addr, want);
    snprintf(want, sizeof want, "[%s]:63534", host);
    assert_string_equal(lc_members_self(ms)->raft_addr, want);
    lc_members_free(ms);
}

/* ------------------------------------------------------------- lookup */

static void test_lookup(void **state)
{
    const struct lc_member_conf conf[] = {
        {"127.0.0.1", 8848}, {"127.0.0.2", 8848}, {"127.0.0.3", 8848}};
    struct lc_members *ms;
    (void)state;

    ms = build(conf, 3, "127.0.0.1", 8848);
    for (unsigned i = 0; i < 3; i++) {
        const struct lc_member *m = lc_members_at(ms, i);
        assert_ptr_equal(lc_members_find(ms, m->addr), m);
        assert_ptr_equal(lc_members_find_raft(ms, m->raft_addr), m);
    }
    assert_null(lc_members_find(ms, "127.0.0.4:8848"));
    assert_null(lc_members_find(ms, "127.0.0.1:7848")); /* a raft address */
    assert_null(lc_members_find(ms, "127.0.0.1"));
    assert_null(lc_members_find(ms, ""));
    assert_null(lc_members_find_raft(ms, "127.0.0.1:8848"));
    lc_members_free(ms);
}

/* ------------------------------------------------------------- states */

static void test_state_names(void **state)
{
    (void)state;
    assert_string_equal(lc_member_state_name(LC_MEMBER_STARTING), "STARTING");
    assert_string_equal(lc_member_state_name(LC_MEMBER_UP), "UP");
    assert_string_equal(lc_member_state_name(LC_MEMBER_SUSPICIOUS),
                        "SUSPICIOUS");
    assert_string_equal(lc_member_state_name(LC_MEMBER_DOWN), "DOWN");
    assert_string_equal(lc_member_state_name(LC_MEMBER_ISOLATION), "ISOLATION");
    assert_string_equal(lc_member_state_name((enum lc_member_state)99),
                        "UNKNOWN");
    assert_false(lc_member_state_healthy(LC_MEMBER_STARTING));
    assert_true(lc_member_state_healthy(LC_MEMBER_UP));
    assert_true(lc_member_state_healthy(LC_MEMBER_SUSPICIOUS));
    assert_false(lc_member_state_healthy(LC_MEMBER_DOWN));
    assert_false(lc_member_state_healthy(LC_MEMBER_ISOLATION));
}

/* Pushed states: UP at first, then what was set; unknown members and
 * values are refused and change nothing. */
static void test_set_state(void **state)
{
    const struct lc_member_conf conf[] = {{"127.0.0.1", 8848},
                                          {"127.0.0.2", 8848}};
    struct lc_members *ms;
    const struct lc_member *peer;
    (void)state;

    ms = build(conf, 2, "127.0.0.1", 8848);
    peer = lc_members_find(ms, "127.0.0.2:8848");
    assert_int_equal(lc_members_state(ms, peer), LC_MEMBER_UP);
    assert_int_equal(lc_members_state(ms, lc_members_self(ms)), LC_MEMBER_UP);

    assert_int_equal(
        lc_members_set_state(ms, "127.0.0.2:8848", LC_MEMBER_SUSPICIOUS), 0);
    assert_int_equal(lc_members_state(ms, peer), LC_MEMBER_SUSPICIOUS);
    assert_int_equal(peer->state, LC_MEMBER_SUSPICIOUS);
    assert_int_equal(lc_members_set_state(ms, "127.0.0.2:8848", LC_MEMBER_DOWN),
                     0);
    assert_int_equal(lc_members_state(ms, peer), LC_MEMBER_DOWN);

    assert_int_equal(lc_members_set_state(ms, "127.0.0.3:8848", LC_MEMBER_UP),
                     LC_ENOTFOUND);
    assert_int_equal(lc_members_set_state(ms, "127.0.0.2:7848", LC_MEMBER_UP),
                     LC_ENOTFOUND);
    assert_int_equal(
        lc_members_set_state(ms, "127.0.0.2:8848", (enum lc_member_state)42),
        LC_EINVAL);
    assert_int_equal(lc_members_state(ms, peer), LC_MEMBER_DOWN);
    assert_int_equal(lc_members_state(ms, lc_members_self(ms)), LC_MEMBER_UP);
    lc_members_free(ms);
}

/* A probe standing in for the raft peer links: the members whose raft
 * address is in @up are UP, the others DOWN; counts its calls and checks it
 * sees the pushed state. */
struct probe {
    const char *up[4];
    unsigned calls;
    enum lc_member_state last_pushed;
};

static enum lc_member_state on_probe(void *data, const struct lc_member *m)
{
    struct probe *p = data;
    p->calls++;
    p->last_pushed = m->state;
    for (unsigned i = 0; i < LC_ARRAY_SIZE(p->up); i++) {
        if (p->up[i] != NULL && strcmp(p->up[i], m->raft_addr) == 0) {
            return LC_MEMBER_UP;
        }
    }
    return LC_MEMBER_DOWN;
}

/* With a probe, every read asks it (the state at that moment); removing it
 * brings the pushed states back. */
static void test_probe(void **state)
{
    const struct lc_member_conf conf[] = {{"127.0.0.1", 8848},
                                          {"127.0.0.2", 8848}};
    struct probe p = {{"127.0.0.1:7848"}, 0, LC_MEMBER_STARTING};
    struct lc_members *ms;
    const struct lc_member *peer;
    (void)state;

    ms = build(conf, 2, "127.0.0.1", 8848);
    peer = lc_members_find(ms, "127.0.0.2:8848");
    assert_int_equal(lc_members_set_state(ms, peer->addr, LC_MEMBER_SUSPICIOUS),
                     0);
    lc_members_set_probe(ms, on_probe, &p);
    assert_int_equal(lc_members_state(ms, peer), LC_MEMBER_DOWN);
    assert_int_equal(p.calls, 1);
    assert_int_equal(p.last_pushed, LC_MEMBER_SUSPICIOUS);
    p.up[1] = "127.0.0.2:7848"; /* the link comes up */
    assert_int_equal(lc_members_state(ms, peer), LC_MEMBER_UP);
    assert_int_equal(p.calls, 2);

    lc_members_set_probe(ms, NULL, NULL);
    assert_int_equal(lc_members_state(ms, peer), LC_MEMBER_SUSPICIOUS);
    assert_int_equal(p.calls, 2);
    lc_members_free(ms);
}

/* --------------------------------------------------------------- Distro */

/* The member Nacos's DistroMapper.mapSrv picks for @tag. */
static const char *responsible(const struct lc_members *ms, const char *tag)
{
    const struct lc_member *healthy[LC_MEMBERS_MAX];
    unsigned n = lc_members_healthy(ms, healthy, LC_MEMBERS_MAX);
    assert_true(n >= 1);
    return healthy[lc_distro_index(tag, n)]->addr;
}

static void test_healthy_list(void **state)
{
    const struct lc_member_conf conf[] = {
        {"127.0.0.3", 8848}, {"127.0.0.1", 8848}, {"127.0.0.2", 8848}};
    const struct lc_member *h[LC_MEMBERS_MAX];
    struct probe p = {{NULL}, 0, LC_MEMBER_UP};
    struct lc_members *ms;
    (void)state;

    ms = build(conf, 3, "127.0.0.2", 8848);
    assert_int_equal(lc_members_healthy(ms, h, LC_MEMBERS_MAX), 3);
    assert_string_equal(h[0]->addr, "127.0.0.1:8848");
    assert_string_equal(h[1]->addr, "127.0.0.2:8848");
    assert_string_equal(h[2]->addr, "127.0.0.3:8848");
    /* distroHash % 3 (values from Java, as test_distro.c): 35736627 -> 0,
     * 97 -> 1, "zz:65535" -> 2. */
    assert_string_equal(responsible(ms, "127.0.0.1:8080"), "127.0.0.1:8848");
    assert_string_equal(responsible(ms, "a"), "127.0.0.2:8848");
    assert_string_equal(responsible(ms, "zz:65535"), "127.0.0.3:8848");

    /* A DOWN member leaves the list; a SUSPICIOUS one stays. */
    assert_int_equal(lc_members_set_state(ms, "127.0.0.3:8848", LC_MEMBER_DOWN),
                     0);
    assert_int_equal(
        lc_members_set_state(ms, "127.0.0.1:8848", LC_MEMBER_SUSPICIOUS), 0);
    assert_int_equal(lc_members_healthy(ms, h, LC_MEMBERS_MAX), 2);
    assert_string_equal(h[0]->addr, "127.0.0.1:8848");
    assert_string_equal(h[1]->addr, "127.0.0.2:8848");
    /* % 2: 35736627 -> 1, 97 -> 1, 763275164 -> 0. */
    assert_string_equal(responsible(ms, "127.0.0.1:8080"), "127.0.0.2:8848");
    assert_string_equal(responsible(ms, "a"), "127.0.0.2:8848");
    assert_string_equal(responsible(ms, "192.168.1.254:49152"),
                        "127.0.0.1:8848");

    /* STARTING and ISOLATION do not count either. */
    assert_int_equal(
        lc_members_set_state(ms, "127.0.0.1:8848", LC_MEMBER_STARTING), 0);
    assert_int_equal(lc_members_healthy(ms, h, LC_MEMBERS_MAX), 1);
    assert_int_equal(
        lc_members_set_state(ms, "127.0.0.1:8848", LC_MEMBER_ISOLATION), 0);
    assert_int_equal(lc_members_healthy(ms, h, LC_MEMBERS_MAX), 1);
    assert_true(h[0]->self);

    /* Through a probe: every link down, this node included, leaves this
     * node alone, responsible for everything. */
    lc_members_set_probe(ms, on_probe, &p);
    assert_int_equal(lc_members_healthy(ms, h, LC_MEMBERS_MAX), 1);
    assert_string_equal(responsible(ms, "127.0.0.1:8080"), "127.0.0.2:8848");
    p.up[0] = "127.0.0.3:7848";
    assert_int_equal(lc_members_healthy(ms, h, LC_MEMBERS_MAX), 2);
    assert_string_equal(h[0]->addr, "127.0.0.2:8848");
    assert_string_equal(h[1]->addr, "127.0.0.3:8848");

    /* A short buffer gets the first ones. */
    assert_int_equal(lc_members_healthy(ms, h, 1), 1);
    assert_string_equal(h[0]->addr, "127.0.0.2:8848");
    assert_int_equal(lc_members_healthy(ms, h, 0), 0);
    lc_members_free(ms);
}

/* ------------------------------------------------------------ bad input */

static void test_too_many(void **state)
{
    struct lc_member_conf conf[LC_MEMBERS_MAX + 1];
    char hosts[LC_MEMBERS_MAX + 1][32];
    struct lc_members *ms;
    (void)state;

    for (unsigned i = 0; i < LC_MEMBERS_MAX + 1; i++) {
        snprintf(hosts[i], sizeof hosts[i], "127.0.1.%u", i + 1);
        conf[i] = (struct lc_member_conf){hosts[i], 8848};
    }
    /* Exactly the most is fine. */
    ms = build(conf, LC_MEMBERS_MAX, "127.0.1.1", 8848);
    assert_int_equal(lc_members_count(ms), LC_MEMBERS_MAX);
    lc_members_free(ms);

    refused(conf, LC_MEMBERS_MAX + 1, "127.0.1.1", 8848, LC_ETOOBIG,
            "too many members: at most 16");
    /* The most, and this node not among them: one too many. */
    refused(conf, LC_MEMBERS_MAX, "127.0.0.1", 8848, LC_ETOOBIG,
            "too many members");
}

static void test_bad_host(void **state)
{
    char longest[LC_MEMBER_HOST_MAX + 1];
    const struct lc_member_conf ok = {"127.0.0.1", 8848};
    struct lc_member_conf bad[2] = {ok, ok};
    static const char *const hosts[] = {
        "",
        "a b",
        "a\tb",
        "a,b",
        "a#b",
        "[::1]",
        "a/b",
        "a@b",
        "a\"b",
        "a'b",
        "127.0.0.1:8848",
        "a\x01",
        "a\x7f",
    };
    (void)state;

    memset(longest, 'a', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0'; /* one byte too long */
    bad[1].host = longest;
    refused(bad, 2, "127.0.0.1", 8848, LC_EINVAL,
            "member host too long: 256 bytes, at most 255");
    refused(NULL, 0, longest, 8848, LC_EINVAL, "member host too long");

    for (size_t i = 0; i < LC_ARRAY_SIZE(hosts); i++) {
        bad[1].host = hosts[i];
        refused(bad, 2, "127.0.0.1", 8848, LC_EINVAL, "bad member host");
        refused(NULL, 0, hosts[i], 8848, LC_EINVAL, "bad member host");
    }
    bad[1].host = NULL;
    refused(bad, 2, "127.0.0.1", 8848, LC_EINVAL, "bad member host '(null)'");
}

static void test_bad_port(void **state)
{
    static const int ports[] = {-1, 0, 1000, 64535, 65535, 65536};
    struct lc_member_conf bad[2] = {{"127.0.0.1", 8848}, {"127.0.0.2", 0}};
    struct lc_members *ms;
    (void)state;

    for (size_t i = 0; i < LC_ARRAY_SIZE(ports); i++) {
        bad[1].port = ports[i];
        refused(bad, 2, "127.0.0.1", 8848, LC_EINVAL, "not in 1001..64534");
        refused(NULL, 0, "127.0.0.1", ports[i], LC_EINVAL,
                "not in 1001..64534");
    }
    /* The edges are fine. */
    bad[0].port = 1001;
    bad[1].port = 64534;
    ms = build(bad, 2, "127.0.0.1", 1001);
    assert_int_equal(lc_members_at(ms, 0)->raft_port, 1);
    assert_int_equal(lc_members_at(ms, 1)->grpc_cluster_port, 65535);
    lc_members_free(ms);
}

static void test_duplicate(void **state)
{
    const struct lc_member_conf dup[] = {
        {"127.0.0.1", 8848}, {"127.0.0.2", 8848}, {"127.0.0.1", 8848}};
    const struct lc_member_conf v6[] = {{"::1", 8848}, {"::1", 8848}};
    (void)state;

    refused(dup, 3, "127.0.0.1", 8848, LC_EEXIST,
            "member 127.0.0.1:8848 listed twice");
    refused(v6, 2, "::1", 8848, LC_EEXIST, "member [::1]:8848 listed twice");
}

/* cluster.conf edited: members added and removed, self kept, what is
 * known of the members that stay kept; a bad list changes nothing. */
static void test_update(void **state)
{
    const struct lc_member_conf three[] = {
        {"127.0.0.1", 8848}, {"127.0.0.2", 8848}, {"127.0.0.3", 8848}};
    const struct lc_member_conf next[] = {{"127.0.0.3", 8848},
                                          {"127.0.0.4", 8848}};
    const struct lc_member_conf bad[] = {{"127.0.0.3", 8848}, {"", 8848}};
    const struct lc_member_conf dup[] = {{"127.0.0.3", 8848},
                                         {"127.0.0.3", 8848}};
    struct lc_members *ms = build(three, 3, "127.0.0.1", 8848);
    const struct lc_member *m;
    char err[256] = "";
    (void)state;

    assert_int_equal(lc_members_set_report(ms, "127.0.0.3:8848",
                                           LC_MEMBER_SUSPICIOUS, 2, 1234),
                     0);
    assert_int_equal(
        lc_members_set_report(ms, "127.0.0.9:8848", LC_MEMBER_UP, 0, 1),
        LC_ENOTFOUND);
    assert_int_equal(lc_members_set_report(ms, "127.0.0.3:8848",
                                           (enum lc_member_state)99, 0, 1),
                     LC_EINVAL);

    /* Refused: nothing changes. */
    assert_int_equal(lc_members_update(ms, bad, 2, err, sizeof err), LC_EINVAL);
    assert_int_equal(lc_members_update(ms, dup, 2, err, sizeof err), LC_EEXIST);
    assert_int_equal(lc_members_count(ms), 3);
    assert_non_null(lc_members_find(ms, "127.0.0.2:8848"));

    /* Self is not listed: it stays; .2 leaves, .4 arrives UP, .3 keeps
     * what reports said. */
    assert_int_equal(lc_members_update(ms, next, 2, err, sizeof err), 0);
    assert_int_equal(lc_members_count(ms), 3);
    assert_string_equal(lc_members_at(ms, 0)->addr, "127.0.0.1:8848");
    assert_true(lc_members_at(ms, 0)->self);
    assert_string_equal(lc_members_self(ms)->addr, "127.0.0.1:8848");
    assert_null(lc_members_find(ms, "127.0.0.2:8848"));
    m = lc_members_find(ms, "127.0.0.3:8848");
    assert_non_null(m);
    assert_int_equal(m->state, LC_MEMBER_SUSPICIOUS);
    assert_int_equal(m->fail_access_cnt, 2);
    assert_int_equal(m->last_refresh_ms, 1234);
    m = lc_members_find(ms, "127.0.0.4:8848");
    assert_non_null(m);
    assert_int_equal(m->state, LC_MEMBER_UP);
    assert_int_equal(m->fail_access_cnt, 0);
    assert_int_equal(m->raft_port, 7848);
    lc_members_free(ms);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_config),
        cmocka_unit_test(test_build_sorted_with_self),
        cmocka_unit_test(test_self_not_listed),
        cmocka_unit_test(test_self_by_host_and_port),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_longest_host),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_state_names),
        cmocka_unit_test(test_set_state),
        cmocka_unit_test(test_probe),
        cmocka_unit_test(test_healthy_list),
        cmocka_unit_test(test_too_many),
        cmocka_unit_test(test_bad_host),
        cmocka_unit_test(test_bad_port),
        cmocka_unit_test(test_duplicate),
        cmocka_unit_test(test_update),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
