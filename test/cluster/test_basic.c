/* Cluster basics on real locusd processes: bootstrap and membership views,
 * writes through a follower, readiness before the first leader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test/support/tcluster.h"

static const char *const groups[] = {TC_PS, TC_SM, TC_IM, TC_SW};
#define N_GROUPS (sizeof groups / sizeof *groups)

/* Node @i's /nacos/v1/core/cluster/nodes satisfies everything test 1 wants;
 * @why gets what is wrong otherwise. */
static bool nodes_view_ok(struct tc *t, unsigned i,
                          const char *leaders[N_GROUPS],
                          char *why, size_t size)
{
    char *body = NULL;
    json_t *root;
    json_t *data;
    size_t k;
    json_t *m;
    bool ok = false;
    int st =
        tc_http(t, i, "GET", "/nacos/v1/core/cluster/nodes", NULL, NULL, &body);

    if (st != 200 || body == NULL) {
        snprintf(why, size, "status %d", st);
        free(body);
        return false;
    }
    root = json_loads(body, 0, NULL);
    data = json_object_get(root, "data");
    if (json_integer_value(json_object_get(root, "code")) != 200 ||
        json_array_size(data) != 3) {
        snprintf(why, size, "want code 200 and 3 members: %.300s", body);
        goto out;
    }
    json_array_foreach(data, k, m)
    {
        char want_addr[64];
        const char *state = json_string_value(json_object_get(m, "state"));
        const char *addr = json_string_value(json_object_get(m, "address"));
        json_t *map = json_object_get(
            json_object_get(json_object_get(m, "extendInfo"), "raftMetaData"),
            "metaDataMap");
        snprintf(want_addr, sizeof want_addr, "127.0.0.1:%d",
                 t->c.nodes[k].port); /* sorted by address */
        if (addr == NULL || strcmp(addr, want_addr) != 0) {
            snprintf(why, size, "member %zu is %s, want %s", k,
                     addr != NULL ? addr : "(null)", want_addr);
            goto out;
        }
        if (state == NULL || strcmp(state, "UP") != 0) {
            snprintf(why, size, "member %s is %s", addr,
                     state != NULL ? state : "(null)");
            goto out;
        }
        for (unsigned gi = 0; gi < N_GROUPS; gi++) {
            json_t *g = json_object_get(map, groups[gi]);
            const char *leader =
                json_string_value(json_object_get(g, "leader"));
            json_t *members = json_object_get(g, "raftGroupMember");
            if (g == NULL) {
                snprintf(why, size, "member %s: no raftMetaData for %s", addr,
                         groups[gi]);
                goto out;
            }
            if (leader == NULL || strcmp(leader, leaders[gi]) != 0) {
                snprintf(why, size, "member %s: leader of %s is %s, want %s",
                         addr, groups[gi], leader != NULL ? leader : "(null)",
                         leaders[gi]);
                goto out;
            }
            if (json_array_size(members) != 3) {
                snprintf(why, size, "member %s: %s has %zu raft members", addr,
                         groups[gi], json_array_size(members));
                goto out;
            }
            for (unsigned j = 0; j < 3; j++) {
                char raddr[64];
                bool found = false;
                size_t q;
                json_t *x;
                tc_raft_addr(t, j, raddr, sizeof raddr);
                json_array_foreach(members, q, x)
                {
                    found = found || strcmp(json_string_value(x) != NULL
                                                ? json_string_value(x)
                                                : "",
                                            raddr) == 0;
                }
                if (!found) {
                    snprintf(why, size, "member %s: %s lacks raft member %s",
                             addr, groups[gi], raddr);
                    goto out;
                }
            }
        }
    }
    ok = true;
out:
    json_decref(root);
    free(body);
    return ok;
}

/* 1. Three nodes bootstrap: ready, one agreed leader per group, Nacos's
 * member view lists three UP members with raftMetaData. */
static void test_bootstrap(void **state)
{
    struct tc *t = *state;
    char leaders[N_GROUPS][64];
    const char *lp[N_GROUPS];

    tc_up(t, "bootstrap", 3, NULL);
    for (unsigned gi = 0; gi < N_GROUPS; gi++) {
        int l = tc_leader(t, groups[gi], 0, 5000);
        unsigned n_leaders = 0;
        tc_wait_agree(t, groups[gi], (unsigned)l, 0, 5000);
        for (unsigned i = 0; i < 3; i++) {
            char st[32];
            tc_group_state(t, i, groups[gi], st, sizeof st);
            if (strcmp(st, "leader") == 0) {
                n_leaders++;
                assert_int_equal(i, l);
            } else {
                assert_string_equal(st, "follower");
            }
        }
        assert_int_equal(n_leaders, 1);
        tc_raft_addr(t, (unsigned)l, leaders[gi], sizeof leaders[gi]);
        lp[gi] = leaders[gi];
    }
    /* Each member's raftMetaData is its own, from its last member report
     * or answer (one peer every 2 s, round-robin): allow a few rounds. */
    for (unsigned i = 0; i < 3; i++) {
        char why[512] = "";
        uint64_t end = tc_now_ms() + 15000;
        bool ok;
        while (!(ok = nodes_view_ok(t, i, lp, why, sizeof why)) &&
               tc_now_ms() < end) {
            tc_sleep_ms(50);
        }
        if (!ok) {
            fail_msg("node %u cluster/nodes: %s", i, why);
        }
    }
    tc_pass(t);
}

/* 2. A write through a follower answers "ok", is visible on that follower at
 * once without consistent=true, and on every member with it. */
static void test_follower_write(void **state)
{
    struct tc *t = *state;
    int ports[20];
    unsigned followers[2];
    unsigned nf = 0;
    int l;

    tc_up(t, "follower-write", 3, NULL);
    l = tc_leader(t, TC_PS, 0, 5000);
    for (unsigned i = 0; i < 3; i++) {
        if ((int)i != l) {
            followers[nf++] = i;
        }
    }
    for (int k = 0; k < 20; k++) {
        unsigned f = followers[k % 2];
        int first = 0;
        int missing;
        ports[k] = 8000 + k;
        tc_must_register(t, f, "rw", "127.1.0.1", ports[k]);
        /* Read-your-writes on the follower, no barrier. */
        missing =
            tc_missing(t, f, "rw", "127.1.0.1", &ports[k], 1, false, &first);
        if (missing != 0) {
            fail_msg("write %d acknowledged by follower %u but not in its "
                     "own list right after (missing=%d)",
                     k, f, missing);
        }
    }
    for (unsigned i = 0; i < 3; i++) {
        int first = 0;
        int missing =
            tc_missing(t, i, "rw", "127.1.0.1", ports, 20, true, &first);
        if (missing != 0) {
            fail_msg("node %u, consistent read: %d of 20 missing (first "
                     "port %d)",
                     i, missing, first);
        }
    }
    tc_pass(t);
}

/* 11. Before the cluster has a leader a node is not UP, and writes get
 * Nacos's 503 text; once the others come, it becomes UP and writes work. */
static void test_readiness(void **state)
{
    struct tc *t = *state;
    uint64_t end;
    char *body = NULL;
    int st = -1;

    tc_init(t, "readiness", 3, NULL);
    tc_start(t, 0);
    /* Wait for the HTTP server to answer at all. */
    end = tc_now_ms() + TC_WAIT_MS;
    do {
        free(body);
        st = tc_http(t, 0, "GET", "/nacos/v1/ns/operator/metrics", NULL, NULL,
                     &body);
        if (st == 200) {
            break;
        }
        tc_sleep_ms(20);
    } while (tc_now_ms() < end);
    if (st != 200 || body == NULL) {
        fail_msg("node 0 metrics: status %d within %u ms", st, TC_WAIT_MS);
    }
    /* Alone it can never have a leader: check now and after more than an
     * election timeout. */
    for (int round = 0; round < 2; round++) {
        json_t *m = json_loads(body, 0, NULL);
        const char *status = json_string_value(json_object_get(m, "status"));
        if (status == NULL || strcmp(status, "UP") == 0) {
            fail_msg("lone node reports status %s: %s",
                     status != NULL ? status : "(none)", body);
        }
        assert_string_equal(status, "STARTING");
        json_decref(m);
        free(body);
        st = tc_register(t, 0, "ready", "127.2.0.1", 1, &body);
        assert_int_equal(st, 503);
        assert_non_null(body);
        assert_string_equal(body,
                            "server is STARTINGnow, please try again later!");
        free(body);
        if (round == 0) {
            tc_sleep_ms(1500);
        }
        st = tc_http(t, 0, "GET", "/nacos/v1/ns/operator/metrics", NULL, NULL,
                     &body);
        assert_int_equal(st, 200);
    }
    free(body);
    body = NULL;
    tc_start(t, 1);
    tc_start(t, 2);
    tc_wait_all_ready(t);
    tc_must_register(t, 0, "ready", "127.2.0.1", 1);
    {
        int port = 1;
        tc_expect_all(t, 1, "ready", "127.2.0.1", &port, 1);
    }
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bootstrap, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_follower_write, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_readiness, tc_setup, tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
