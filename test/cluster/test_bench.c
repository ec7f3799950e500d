/* Smoke tests of `locusctl bench register | query | memory | distro |
 * failover`: each
 * runs for
 * about a second with tiny counts, so the code paths keep working. They
 * check the output (the JSON parses, rates are positive, no request failed,
 * the counts are right), never the timings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/netns.h"
#include "test/support/tcluster.h"

/* build/locusctl, next to the locusd under test. */
static const char *locusctl(void)
{
    static char path[PATH_MAX];
    const char *d = tc_locusd();
    const char *slash = strrchr(d, '/');
    snprintf(path, sizeof path, "%.*slocusctl",
             slash != NULL ? (int)(slash - d + 1) : 0, d);
    return path;
}

/* Run `locusctl bench @args --json` (own node in the test's directory, on
 * @port); the exit status must be 0. Return its parsed output. */
static json_t *bench(struct tc *t, int port, const char *args)
{
    char cmd[4096];
    char err_path[600];
    char out[1 << 16];
    size_t n = 0;
    size_t r;
    int status;
    json_t *root;
    json_error_t jerr;
    FILE *p;

    snprintf(err_path, sizeof err_path, "%s/bench.err", t->tmp);
    if (snprintf(cmd, sizeof cmd,
                 "%s bench %s --json --locusd %s --dir %s/bench --port %d "
                 "2>%s",
                 locusctl(), args, tc_locusd(), t->tmp, port,
                 err_path) >= (int)sizeof cmd) {
        fail_msg("command too long");
    }
    p = popen(cmd, "r");
    assert_non_null(p);
    while ((r = fread(out + n, 1, sizeof out - 1 - n, p)) > 0) {
        n += r;
    }
    out[n] = '\0';
    status = pclose(p);
    if (status != 0) {
        char errs[4096] = "";
        FILE *f = fopen(err_path, "r");
        if (f != NULL) {
            errs[fread(errs, 1, sizeof errs - 1, f)] = '\0';
            fclose(f);
        }
        fail_msg("%s: status %d\nstdout: %s\nstderr: %s", cmd, status, out,
                 errs);
    }
    root = json_loads(out, 0, &jerr);
    if (root == NULL) {
        fail_msg("%s: output is not JSON (%s): %s", cmd, jerr.text, out);
    }
    return root;
}

/* A throughput result: @runs runs, each and the median with a positive
 * rate, requests, no errors. */
static void check_runs(json_t *root, size_t runs)
{
    json_t *arr = json_object_get(root, "runs");
    json_t *r;
    size_t k;
    assert_int_equal(json_array_size(arr), runs);
    assert_int_equal(json_integer_value(json_object_get(root, "errors")), 0);
    json_array_append(arr, json_object_get(root, "median"));
    json_array_foreach(arr, k, r)
    {
        assert_true(json_real_value(json_object_get(r, "perSec")) > 0);
        assert_true(json_integer_value(json_object_get(r, "requests")) > 0);
        assert_int_equal(json_integer_value(json_object_get(r, "errors")), 0);
        assert_true(json_real_value(json_object_get(r, "p50Ms")) > 0);
        assert_true(json_real_value(json_object_get(r, "maxMs")) >=
                    json_real_value(json_object_get(r, "p99Ms")));
    }
}

static void test_register(void **state)
{
    struct tc *t = *state;
    json_t *root;
    tc_init(t, "bench-register", 1, NULL);
    root = bench(t, tc_node_port(t),
                 "register --ephemeral --seconds 1 --runs 2 "
                 "--conns 4 --services 3");
    check_runs(root, 2);
    assert_string_equal(
        json_string_value(json_object_get(root, "benchmark")),
        "ephemeral registrations (one node)");
    json_decref(root);
    root = bench(t, tc_node_port(t),
                 "register --persistent --seconds 1 --runs 1 "
                 "--conns 4 --metadata {\\\"a\\\":\\\"b\\\"}");
    check_runs(root, 1);
    json_decref(root);
    tc_pass(t);
}

static void test_query(void **state)
{
    struct tc *t = *state;
    json_t *root;
    tc_init(t, "bench-query", 1, NULL);
    root = bench(t, tc_node_port(t),
                 "query --seconds 1 --runs 1 --conns 4 "
                 "--services 2 --instances 3");
    check_runs(root, 1);
    assert_int_equal(json_integer_value(json_object_get(root, "services")),
                     2);
    assert_int_equal(
        json_integer_value(json_object_get(root, "instancesPerService")), 3);
    json_decref(root);
    tc_pass(t);
}

static void test_memory(void **state)
{
    struct tc *t = *state;
    json_t *root;
    json_t *r;
    size_t k;
    tc_init(t, "bench-memory", 1, NULL);
    root = bench(t, tc_node_port(t), "memory --count 300 --conns 4");
    assert_int_equal(json_array_size(json_object_get(root, "results")), 2);
    json_array_foreach(json_object_get(root, "results"), k, r)
    {
        assert_int_equal(json_is_true(json_object_get(r, "ephemeral")),
                         k == 0);
        assert_int_equal(json_integer_value(json_object_get(r, "instances")),
                         300);
        assert_true(json_integer_value(json_object_get(r, "idleRssKb")) > 0);
        assert_true(json_integer_value(json_object_get(r, "rssKb")) > 0);
        assert_true(json_integer_value(json_object_get(r, "hwmKb")) >=
                    json_integer_value(json_object_get(r, "rssKb")));
    }
    json_decref(root);
    tc_pass(t);
}

/* bench distro on one member: the convergence probes (pushes and queries
 * on the writer's own member; there is no other), the spread register
 * load, and a restart with batch-registered instances. */
static void test_distro(void **state)
{
    struct tc *t = *state;
    json_t *root, *conv, *reg, *rs, *r;
    size_t k;
    tc_init(t, "bench-distro", 1, NULL);
    root = bench(t, tc_node_port(t),
                 "distro --members 1 --changes 5 --load 200 --conns 4 "
                 "--subscribers 2 --seconds 1 --runs 1 --sizes 300,500 "
                 "--batch 100");
    assert_int_equal(json_integer_value(json_object_get(root, "members")), 1);
    conv = json_object_get(root, "convergence");
    assert_int_equal(json_integer_value(json_object_get(conv, "changes")), 5);
    assert_int_equal(json_integer_value(json_object_get(conv, "errors")), 0);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(conv, "pushSameMember"), "count")),
                     10);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(conv, "querySameMember"), "count")),
                     5);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(conv, "pushOtherMembers"), "count")),
                     0);
    reg = json_object_get(root, "registrations");
    assert_true(json_real_value(json_object_get(reg, "medianRate")) > 0);
    rs = json_object_get(root, "restart");
    assert_int_equal(json_array_size(rs), 2);
    json_array_foreach(rs, k, r)
    {
        json_int_t n = k == 0 ? 300 : 500;
        assert_int_equal(json_integer_value(json_object_get(r, "instances")),
                         n);
        assert_int_equal(json_integer_value(json_object_get(r, "registered")),
                         n);
        assert_int_equal(json_integer_value(json_object_get(r, "peerCount")),
                         n);
        assert_true(json_is_true(json_object_get(r, "up")));
        assert_true(json_integer_value(json_object_get(r, "startToUpMs")) > 0);
        assert_true(json_integer_value(json_object_get(r, "startToSdkMs")) >
                    0);
    }
    json_decref(root);
    tc_pass(t);
}

/* One trial of bench failover with @fault on its own 3-node cluster (in
 * network namespaces when it can make them): every client recovered, no
 * acknowledged write lost, the figures present and ordered. */
static void failover_once(struct tc *t, const char *fault)
{
    char args[256];
    json_t *root, *k, *u, *st, *tr;
    int p0 = tc_node_port(t);
    int p1 = tc_node_port(t);
    int p2 = tc_node_port(t);
    snprintf(args, sizeof args,
             "failover --fault %s --trials 1 --clients 4 --steady 1 "
             "--ports %d,%d,%d",
             fault, p0, p1, p2);
    root = bench(t, p0, args);
    assert_int_equal(json_integer_value(json_object_get(root, "lost")), 0);
    assert_int_equal(json_integer_value(json_object_get(root, "unverified")),
                     0);
    st = json_object_get(root, "steady");
    assert_true(json_real_value(json_object_get(st, "writesPerSec")) > 0);
    assert_true(json_array_size(json_object_get(st, "groups")) >= 1);
    k = json_object_get(json_object_get(root, "faults"), fault);
    assert_non_null(k);
    assert_false(json_is_true(json_object_get(k, "skipped")));
    assert_int_equal(json_integer_value(json_object_get(k, "trials")), 1);
    assert_int_equal(
        json_integer_value(json_object_get(k, "unrecoveredClients")), 0);
    assert_int_equal(json_integer_value(json_object_get(k, "lost")), 0);
    u = json_object_get(k, "unavailableMs");
    assert_int_equal(json_integer_value(json_object_get(u, "count")), 4);
    assert_true(json_real_value(json_object_get(u, "min")) > 0);
    assert_true(json_real_value(json_object_get(u, "median")) >=
                json_real_value(json_object_get(u, "min")));
    assert_true(json_real_value(json_object_get(u, "max")) >=
                json_real_value(json_object_get(u, "p90")));
    tr = json_array_get(json_object_get(k, "trialDetails"), 0);
    assert_true(json_integer_value(json_object_get(tr, "acked")) > 0);
    json_decref(root);
}

static void test_failover_pause(void **state)
{
    struct tc *t = *state;
    tc_init(t, "bench-failover-pause", 1, NULL);
    failover_once(t, "pause");
    tc_pass(t);
}

static void test_failover_partition(void **state)
{
    struct tc *t = *state;
    char why[200];
    if (!lc_netns_available(why, sizeof why)) {
        print_message("SKIP partition: %s\n", why);
        skip();
    }
    tc_init(t, "bench-failover-partition", 1, NULL);
    failover_once(t, "partition");
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_register, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_query, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_memory, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_distro, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_failover_pause, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_failover_partition, tc_setup,
                                        tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
