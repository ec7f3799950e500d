/* Nacos's raft ops (POST /nacos/v1/core/ops/raft) on a live cluster:
 * transferLeader, doSnapshot, errors, removePeer, resetPeers after losing
 * the quorum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test/support/tcluster.h"

#define IP "127.7.0.1"
/* A raft address no node has: below the port allocator's range. */
#define NOT_A_MEMBER "127.0.0.1:9"

static const char *const groups[] = {TC_PS, TC_SM, TC_IM, TC_SW};
#define N_GROUPS (sizeof groups / sizeof *groups)

/* Run an ops command on node @i; fail unless HTTP 200 with code 200. */
static void ops_ok(struct tc *t, unsigned i, const char *group,
                   const char *command, const char *value)
{
    char *body = NULL;
    int st = tc_ops(t, i, group, command, value, &body);
    if (st != 200 || tc_rest_code(body) != 200) {
        char copy[512];
        snprintf(copy, sizeof copy, "%s", body != NULL ? body : "(none)");
        free(body);
        fail_msg("%s %s %s on node %u: status %d, %s", command,
                 group != NULL ? group : "(all groups)",
                 value != NULL ? value : "", i, st, copy);
    }
    free(body);
}

/* 8a. transferLeader to each other member in turn: ten in a row all
 * succeed and leave the target leading; then one for all groups. */
static void test_transfer_leader(void **state)
{
    struct tc *t = *state;
    char addr[64];

    tc_up(t, "transfer", 3, NULL);
    for (unsigned k = 0; k < 10; k++) {
        int l = tc_leader(t, TC_PS, 0, 5000);
        unsigned target = ((unsigned)l + 1 + k % 2) % 3;
        unsigned via = k % 3; /* the leader, a follower or the target */
        char st[32];
        ops_ok(t, via, TC_PS, "transferLeader",
               tc_raft_addr(t, target, addr, sizeof addr));
        tc_group_state(t, target, TC_PS, st, sizeof st);
        if (strcmp(st, "leader") != 0) {
            fail_msg("transfer %u: node %u acknowledged, target %u is '%s'", k,
                     via, target, st);
        }
        tc_wait_agree(t, TC_PS, target, 0, 3000);
        tc_must_register(t, via, "transfer", IP, (int)k + 1);
    }
    /* No groupId: every group. */
    {
        int l = tc_leader(t, TC_SM, 0, 5000);
        unsigned target = ((unsigned)l + 1) % 3;
        ops_ok(t, 0, NULL, "transferLeader",
               tc_raft_addr(t, target, addr, sizeof addr));
        for (unsigned gi = 0; gi < N_GROUPS; gi++) {
            tc_wait_agree(t, groups[gi], target, 0, 3000);
        }
    }
    tc_pass(t);
}

/* Path of the newest snapshot file (not .meta) of @group on node @i. */
static bool newest_snapshot(struct tc *t, unsigned i, const char *group,
                            char *out, size_t size)
{
    char dir[1400];
    DIR *d;
    struct dirent *e;
    unsigned long long best = 0;
    bool found = false;
    snprintf(dir, sizeof dir, "%s/protocol/raft/%s", t->c.nodes[i].data_dir,
             group);
    d = opendir(dir);
    if (d == NULL) {
        return false;
    }
    while ((e = readdir(d)) != NULL) {
        unsigned long long term, index, stamp;
        size_t n = strlen(e->d_name);
        if (n > 5 && strcmp(e->d_name + n - 5, ".meta") == 0) {
            continue;
        }
        if (sscanf(e->d_name, "snapshot-%llu-%llu-%llu", &term, &index,
                   &stamp) == 3 &&
            index >= best) {
            best = index;
            snprintf(out, size, "%s/%s", dir, e->d_name);
            found = true;
        }
    }
    closedir(d);
    return found;
}

/* Output of `sqlite3 <copy of @file> <sql>` (first 4 KiB). */
static void sqlite3_cli(struct tc *t, const char *file, const char *sql,
                        char *out, size_t size)
{
    char copy[600];
    char cmd[2400];
    FILE *p;
    size_t n;
    snprintf(copy, sizeof copy, "%s/snapshot-copy.db", t->tmp);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && sqlite3 '%s' '%s' 2>&1", file,
             copy, copy, sql);
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    pclose(p);
}

static void snapshot_on(struct tc *t, unsigned node, unsigned via)
{
    char addr[64];
    char file[1700];
    char out[4096];
    long long before = tc_group_int(t, node, TC_PS, "lastSnapshot.index");
    long long applied = tc_group_int(t, node, TC_PS, "appliedIndex");
    long long after;

    ops_ok(t, via, TC_PS, "doSnapshot",
           tc_raft_addr(t, node, addr, sizeof addr));
    after = tc_group_int(t, node, TC_PS, "lastSnapshot.index");
    print_message("doSnapshot on node %u via %u: lastSnapshot %lld -> %lld "
                  "(applied %lld)\n",
                  node, via, before, after, applied);
    assert_true(after > before);
    assert_true(after >= applied);
    if (!newest_snapshot(t, node, TC_PS, file, sizeof file)) {
        fail_msg("node %u: no snapshot file in its raft directory", node);
    }
    sqlite3_cli(t, file, ".tables", out, sizeof out);
    if (strstr(out, "instances") == NULL || strstr(out, "meta") == NULL) {
        fail_msg("sqlite3 %s .tables: %s", file, out);
    }
    sqlite3_cli(t, file, "SELECT count(*) FROM instances", out, sizeof out);
    assert_true(atoi(out) >= 10);
}

/* 8b. doSnapshot on a follower and on the leader. */
static void test_do_snapshot(void **state)
{
    struct tc *t = *state;
    int l;
    unsigned f;

    tc_up(t, "do-snapshot", 3, NULL);
    for (int k = 1; k <= 10; k++) {
        tc_must_register(t, (unsigned)k % 3, "snap", IP, k);
    }
    l = tc_leader(t, TC_PS, 0, 5000);
    f = ((unsigned)l + 1) % 3;
    snapshot_on(t, f, (unsigned)l);         /* follower, asked on the leader */
    snapshot_on(t, (unsigned)l, f);         /* leader, asked on a follower */
    tc_must_register(t, 0, "snap", IP, 11); /* and life goes on */
    snapshot_on(t, f, f);
    tc_pass(t);
}

/* 8c. Errors with Nacos's texts; removePeer of an absent peer is a
 * successful no-op. */
static void test_ops_errors(void **state)
{
    struct tc *t = *state;
    char *body = NULL;
    int st;
    json_t *g;

    tc_up(t, "ops-errors", 3, NULL);
    st = tc_ops(t, 1, TC_PS, "foo", NULL, &body);
    assert_non_null(body);
    assert_string_equal(
        body, "{\"code\":500,\"message\":\"Not support command : foo\","
              "\"data\":null}");
    assert_int_equal(st, 200); /* Nacos: RestResult, always HTTP 200 */
    free(body);

    st = tc_ops(t, 1, "x", "transferLeader", NOT_A_MEMBER, &body);
    assert_non_null(body);
    assert_string_equal(body, "{\"code\":500,\"message\":\"not this raft "
                              "group : x\",\"data\":null}");
    assert_int_equal(st, 200);
    free(body);

    ops_ok(t, 2, TC_PS, "removePeer", NOT_A_MEMBER);
    ops_ok(t, 0, NULL, "removePeer", NOT_A_MEMBER);
    for (unsigned i = 0; i < 3; i++) {
        g = tc_group(t, i, TC_PS);
        assert_int_equal(json_array_size(json_object_get(g, "members")), 3);
        json_decref(g);
    }
    tc_must_register(t, 2, "errors", IP, 1);
    tc_pass(t);
}

/* 8d. Two of three nodes die: the survivor has no leader and cannot write;
 * resetPeers with only itself makes it a one-node cluster that leads, takes
 * writes and still has the earlier data. */
static void test_reset_peers(void **state)
{
    struct tc *t = *state;
    int ports[11];
    char addr[64];
    char *body = NULL;
    uint64_t end;
    int st;
    const unsigned s = 0;

    tc_up(t, "reset-peers", 3, NULL);
    for (int k = 0; k < 10; k++) {
        ports[k] = k + 1;
        tc_must_register(t, (unsigned)k % 3, "reset", IP, ports[k]);
    }
    tc_signal(t, 1, SIGKILL);
    tc_signal(t, 2, SIGKILL);

    /* No leader any more, for any group. */
    end = tc_now_ms() + 10000;
    for (unsigned gi = 0; gi < N_GROUPS; gi++) {
        json_t *g;
        do {
            g = tc_group(t, s, groups[gi]);
            if (g != NULL && json_is_null(json_object_get(g, "leader"))) {
                break;
            }
            json_decref(g);
            g = NULL;
            tc_sleep_ms(50);
        } while (tc_now_ms() < end);
        if (g == NULL) {
            fail_msg("survivor still names a leader of %s after 10 s",
                     groups[gi]);
        }
        json_decref(g);
    }
    st = tc_register(t, s, "reset", IP, 100, &body);
    print_message("write without a quorum: status %d, %s\n", st,
                  body != NULL ? body : "(no answer)");
    assert_int_not_equal(st, 200);
    free(body);
    body = NULL;

    ops_ok(t, s, NULL, "resetPeers", tc_raft_addr(t, s, addr, sizeof addr));
    for (unsigned gi = 0; gi < N_GROUPS; gi++) {
        int l = tc_leader(t, groups[gi], 0, 10000);
        json_t *g = tc_group(t, s, groups[gi]);
        assert_int_equal(l, (int)s);
        assert_int_equal(json_array_size(json_object_get(g, "members")), 1);
        json_decref(g);
    }
    tc_wait_ready(t, s);
    tc_must_register(t, s, "reset", IP, 11);
    ports[10] = 11;
    tc_expect_all(t, s, "reset", IP, ports, 11);
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_transfer_leader, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_do_snapshot, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_ops_errors, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_reset_peers, tc_setup,
                                        tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
