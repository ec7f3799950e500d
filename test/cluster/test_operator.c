/* /nacos/v1/ns/operator/distro/client and /operator/log on real locusd
 * processes: the responsible server is Nacos's DistroMapper choice among the
 * healthy members, the same on every member, and moves when a member dies;
 * the log endpoint changes a module's level; bad requests are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distro/mapper.h"
#include "test/support/tcluster.h"

#define OPS "/nacos/v1/ns/operator"

/* Node @i's responsibleServer for ip:port, into @out ("" on failure). */
static const char *responsible(struct tc *t, unsigned i, const char *ip,
                               const char *port, char *out, size_t size)
{
    char path[256];
    char *body = NULL;
    json_t *root;
    snprintf(path, sizeof path, OPS "/distro/client?ip=%s&port=%s", ip, port);
    out[0] = '\0';
    if (tc_http(t, i, "GET", path, NULL, NULL, &body) == 200 &&
        (root = json_loads(body, 0, NULL)) != NULL) {
        const char *s =
            json_string_value(json_object_get(root, "responsibleServer"));
        snprintf(out, size, "%s", s != NULL ? s : "");
        json_decref(root);
    }
    free(body);
    return out;
}

static const char *const tags[][2] = {
    {"127.0.0.1", "8080"}, {"127.0.0.1", "80"},   {"127.168.1.254", "49152"},
    {"zz", "65535"},       {"127.1.2.3", "7001"}, {"127.16.0.9", "31000"},
};

/* Every node in @mask answers lc_distro_index over the @n sorted @servers. */
static bool all_agree(struct tc *t, unsigned mask, const char *const *servers,
                      unsigned n)
{
    char got[300];
    char tag[300];
    for (size_t k = 0; k < sizeof tags / sizeof tags[0]; k++) {
        snprintf(tag, sizeof tag, "%s:%s", tags[k][0], tags[k][1]);
        for (unsigned i = 0; i < t->c.n; i++) {
            if ((mask & (1u << i)) &&
                strcmp(
                    responsible(t, i, tags[k][0], tags[k][1], got, sizeof got),
                    servers[lc_distro_index(tag, n)]) != 0) {
                return false;
            }
        }
    }
    return true;
}

static void test_standalone(void **state)
{
    struct tc *t = *state;
    char got[300];
    char self[64];

    tc_up(t, "operator-standalone", 1, NULL);
    snprintf(self, sizeof self, "127.0.0.1:%d", t->c.nodes[0].port);
    assert_string_equal(responsible(t, 0, "127.0.0.1", "80", got, sizeof got),
                        self);
    tc_expect_body(t, 0, "GET",
                   "/nacos/v1/ns/ops/distro/client?ip=a&port=", 200, NULL);
    tc_expect_body(t, 0, "GET", OPS "/distro/client?port=80", 400,
                   "Parameter 'ip' is missing");
    tc_expect_body(t, 0, "GET", OPS "/distro/client?ip=127.0.0.1", 400,
                   "Parameter 'port' is missing");
    tc_expect_body(t, 0, "POST", OPS "/distro/client?ip=127.0.0.1&port=80", 501,
                   NULL);

    /* log: PUT only, both parameters required; a known name changes the
     * module's level (its lines appear), an unknown one changes nothing. */
    tc_expect_body(t, 0, "PUT", OPS "/log?logLevel=INFO", 400,
                   "Parameter 'logName' is missing");
    tc_expect_body(t, 0, "PUT", OPS "/log?logName=naming-push", 400,
                   "Parameter 'logLevel' is missing");
    tc_expect_body(t, 0, "GET", OPS "/log?logName=naming-push&logLevel=INFO",
                   501, NULL);
    tc_expect_body(t, 0, "PUT", OPS "/log?logName=no-such-log&logLevel=DEBUG",
                   200, "ok");
    assert_false(tc_log_contains(t, 0, "log level of no-such-log"));
    tc_expect_body(t, 0, "PUT",
                   "/nacos/v1/ns/ops/log?logName=naming-raft&logLevel=warn",
                   200, "ok");
    assert_true(
        tc_log_contains(t, 0, "log level of naming-raft (raft) set to warn"));
    tc_pass(t);
}

static void test_cluster_mapping(void **state)
{
    struct tc *t = *state;
    char addr[3][64];
    const char *servers[3];
    uint64_t end;

    tc_up(t, "operator-cluster", 3, NULL);
    for (unsigned i = 0; i < 3; i++) {
        snprintf(addr[i], sizeof addr[i], "127.0.0.1:%d", t->c.nodes[i].port);
        servers[i] = addr[i]; /* already in address order (tc_init) */
    }
    end = tc_now_ms() + 10000; /* peer links come up after the start */
    while (!all_agree(t, 7, servers, 3) && tc_now_ms() < end) {
        tc_sleep_ms(100);
    }
    assert_true(all_agree(t, 7, servers, 3));

    /* The last member dies: the two others map over themselves alone. */
    tc_signal(t, 2, SIGKILL);
    end = tc_now_ms() + 10000;
    while (!all_agree(t, 3, servers, 2) && tc_now_ms() < end) {
        tc_sleep_ms(100);
    }
    assert_true(all_agree(t, 3, servers, 2));
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_standalone, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_cluster_mapping, tc_setup,
                                        tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
