/* Server-side health checks of persistent instances and the switch domain
 * on a live 3-node cluster: TCP checks flip an instance unhealthy and back
 * on every member, follow leadership, stop while the check switch is off;
 * switches agree across members and survive a restart; PUT /health/instance
 * and /instance/statuses; bad input gets Nacos's answers and changes
 * nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test/support/tcluster.h"

#define LOCAL "127.0.0.1"
#define CT_FORM "application/x-www-form-urlencoded"
#define SWITCHES "/nacos/v1/ns/operator/switches"
#define HEALTH "/nacos/v1/ns/health/instance"

/* ------------------------------------------------------------ target */

/* Accept and close whatever the checker connected. */
static void drain(int fd)
{
    int c;
    while (fd >= 0 && (c = accept(fd, NULL, NULL)) >= 0) {
        close(c);
    }
}

/* ------------------------------------------------------------- HTTP */

/* @method @path on node @i must answer @status with body @body (NULL: any
 * body). */
static void expect(struct tc *t, unsigned i, const char *method,
                   const char *path, int status, const char *body)
{
    char *got = NULL;
    int st = tc_http(t, i, method, path, NULL, NULL, &got);
    if (st != status ||
        (body != NULL && (got == NULL || strcmp(got, body) != 0))) {
        char copy[600];
        snprintf(copy, sizeof copy, "%s", got != NULL ? got : "(none)");
        free(got);
        fail_msg("%s %s on node %u: %d '%s', want %d '%s'", method, path, i, st,
                 copy, status, body != NULL ? body : "(any)");
    }
    free(got);
}

static char *switches_of(struct tc *t, unsigned i)
{
    char *body = NULL;
    int st = tc_http(t, i, "GET", SWITCHES, NULL, NULL, &body);
    if (st != 200 || body == NULL) {
        free(body);
        fail_msg("GET switches on node %u: %d", i, st);
    }
    return body;
}

/* Value of @key in node @i's switch domain (a new reference). */
static json_t *switch_value(struct tc *t, unsigned i, const char *key)
{
    char *body = switches_of(t, i);
    json_t *doc = json_loads(body, 0, NULL);
    json_t *v;
    free(body);
    assert_non_null(doc);
    v = json_incref(json_object_get(doc, key));
    json_decref(doc);
    return v;
}

/* Wait until every node's switch @key equals the JSON @want. */
static void wait_switch(struct tc *t, const char *key, const char *want)
{
    uint64_t deadline = tc_now_ms() + 10000;
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    assert_non_null(w);
    for (unsigned i = 0; i < 3; i++) {
        for (;;) {
            json_t *v = switch_value(t, i, key);
            bool same = json_equal(v, w);
            json_decref(v);
            if (same) {
                break;
            }
            if (tc_now_ms() > deadline) {
                fail_msg("node %u: switch %s is not %s", i, key, want);
            }
            tc_sleep_ms(100);
        }
    }
    json_decref(w);
}

/* "ip:port_true" -> 1, "_false" -> 0, absent or no answer -> -1, in
 * node @i's /instance/statuses of @service. */
static int status_of(struct tc *t, unsigned i, const char *service, int port)
{
    char path[256];
    char *body = NULL;
    char want[64];
    json_t *doc;
    json_t *x;
    size_t k;
    int found = -1;
    snprintf(path, sizeof path,
             "/nacos/v1/ns/instance/statuses?key=public%%23%%23DEFAULT_GROUP"
             "%%40%%40%s",
             service);
    if (tc_http(t, i, "GET", path, NULL, NULL, &body) != 200) {
        free(body);
        return -1;
    }
    doc = json_loads(body, 0, NULL);
    free(body);
    snprintf(want, sizeof want, "%s:%d_", LOCAL, port);
    json_array_foreach(json_object_get(doc, "ips"), k, x)
    {
        const char *s = json_string_value(x);
        if (s != NULL && strncmp(s, want, strlen(want)) == 0) {
            found = strcmp(s + strlen(want), "true") == 0;
        }
    }
    json_decref(doc);
    return found;
}

/* Wait (at most @ms) until every node says @port is @healthy, draining
 * @listener meanwhile; return how long it took. */
static uint64_t wait_health(struct tc *t, const char *service, int port,
                            bool healthy, unsigned ms, int listener)
{
    uint64_t start = tc_now_ms();
    for (;;) {
        unsigned agree = 0;
        drain(listener);
        for (unsigned i = 0; i < 3; i++) {
            agree += status_of(t, i, service, port) == (healthy ? 1 : 0);
        }
        if (agree == 3) {
            return tc_now_ms() - start;
        }
        if (tc_now_ms() - start > ms) {
            fail_msg("%s:%d not %s on all nodes after %u ms (%u agree)",
                     service, port, healthy ? "healthy" : "unhealthy", ms,
                     agree);
        }
        tc_sleep_ms(200);
    }
}

/* For @ms, every node keeps saying @port is @healthy. */
static void hold_health(struct tc *t, const char *service, int port,
                        bool healthy, unsigned ms, int listener)
{
    uint64_t end = tc_now_ms() + ms;
    while (tc_now_ms() < end) {
        drain(listener);
        for (unsigned i = 0; i < 3; i++) {
            int s = status_of(t, i, service, port);
            if (s != (healthy ? 1 : 0)) {
                fail_msg("node %u: %s:%d became %d", i, service, port, s);
            }
        }
        tc_sleep_ms(300);
    }
}

/* ------------------------------------------------------------- tests */

/* A refused or silent target turns unhealthy everywhere, a listening one
 * healthy again after checkTimes successes; a new leader takes over. */
static void test_tcp_checks(void **state)
{
    struct tc *t = *state;
    int up, down;
    int l;
    int leader;
    char addr[64];

    tc_up(t, "checks", 3, NULL);
    up = tc_own_port(t);
    down = tc_own_port(t); /* nobody listens */
    l = tc_listen_on(up);
    tc_must_register(t, 0, "hc", LOCAL, up);
    tc_must_register(t, 1, "hc", LOCAL, down);
    wait_health(t, "hc", up, true, 5000, l);
    /* Refused: unhealthy at the first check (2-7 s), at once. */
    wait_health(t, "hc", down, false, 15000, l);
    hold_health(t, "hc", up, true, 1000, l);

    close(l);
    wait_health(t, "hc", up, false, 15000, -1);
    l = tc_listen_on(up);
    /* Three successes in a row, each up to tcpHealthParams.max apart. */
    wait_health(t, "hc", up, true, 30000, l);

    /* Move the persistent group's leadership: the new leader checks. */
    leader = tc_leader(t, TC_PS, 0, 5000);
    {
        unsigned target = ((unsigned)leader + 1) % 3;
        char *body = NULL;
        int st = tc_ops(t, target, TC_PS, "transferLeader",
                        tc_raft_addr(t, target, addr, sizeof addr), &body);
        if (st != 200) {
            fail_msg("transferLeader: %d %s", st, body != NULL ? body : "");
        }
        free(body);
        tc_wait_agree(t, TC_PS, target, 0, 5000);
        drain(l);
        close(l);
        wait_health(t, "hc", up, false, 20000, -1);
        assert_true(
            tc_log_contains(t, (unsigned)leader, "stopping health checks"));
        assert_true(tc_log_contains(t, target, "starting health checks"));
    }
    tc_pass(t);
}

/* Switches: agree on every member, survive a restart; bad values change
 * nothing; debug=true is local. */
static void test_switches(void **state)
{
    struct tc *t = *state;
    static const struct {
        const char *query;
        int status;
        const char *body;
    } bad[] = {
        {"entry=distroThreshold&value=0", 400,
         "distroThreshold can not be zero or negative: 0.0"},
        {"entry=distroThreshold&value=x", 400, "For input string: \"x\""},
        {"entry=pushCacheMillis&value=9999", 400,
         "min cache time for http or tcp is too small(<10000)"},
        {"entry=defaultCacheMillis&value=1", 400,
         "min default cache time  is too small(<1000)"},
        {"entry=serviceStatusSynchronizationPeriodMillis&value=1", 400,
         "serviceStatusSynchronizationPeriodMillis is too small(<5000)"},
        {"entry=serverStatusSynchronizationPeriodMillis&value=1", 400,
         "serverStatusSynchronizationPeriodMillis is too small(<15000)"},
        {"entry=healthCheckTimes&value=three", 400,
         "For input string: \"three\""},
        {"entry=clientBeatInterval&value=1.5", 400,
         "For input string: \"1.5\""},
        {"entry=pushVersion&value=java:1.x", 400,
         "illegal version, must match: [0-9]+\\.[0-9]+\\.[0-9]+"},
        {"entry=pushVersion&value=perl:1.0.0", 400,
         "unsupported client type: perl"},
        {"entry=pushVersion&value=java", 500,
         "caused: Index 1 out of bounds for length 1;"},
        {"entry=limitedUrlMap&value=/a", 400, "invalid input for limited urls"},
        {"entry=limitedUrlMap&value=/a:0", 400,
         "illegal normal status code: 0"},
        {"entry=tcpHealthParams&value=%7B%22min%22:1%7D", 400,
         "min check time for http or tcp is too small(<500)"},
        {"entry=httpHealthParams&value=%7B%22max%22:1%7D", 400,
         "max check time for http or tcp is too small(<3000)"},
        {"entry=tcpHealthParams&value=%7B%22factor%22:2%7D", 400,
         "malformed factor"},
        {"entry=tcpHealthParams&value=nope", 400, "json param invalid."},
        {"value=1", 400, "Parameter 'entry' is missing"},
        {"entry=check", 400, "Parameter 'value' is missing"},
    };
    char path[512];
    char *before[3];

    tc_up(t, "switches", 3, NULL);
    for (unsigned i = 0; i < 3; i++) {
        before[i] = switches_of(t, i);
    }
    assert_string_equal(before[0], before[1]);
    assert_string_equal(before[0], before[2]);
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        snprintf(path, sizeof path, SWITCHES "?%s", bad[k].query);
        expect(t, (unsigned)k % 3, "PUT", path, bad[k].status, bad[k].body);
    }
    expect(t, 0, "POST", SWITCHES "?entry=check&value=false", 501, NULL);
    expect(t, 0, "PUT", SWITCHES "?entry=check&value=false&debug=maybe", 500,
           NULL);
    for (unsigned i = 0; i < 3; i++) {
        char *now = switches_of(t, i);
        assert_string_equal(now, before[i]);
        free(now);
        free(before[i]);
    }

    /* Through Raft from different members. */
    expect(t, 1, "PUT", SWITCHES "?entry=check&value=false", 200, "ok");
    expect(t, 2, "PUT", SWITCHES "?entry=healthCheckTimes&value=4", 200, "ok");
    expect(t, 0, "PUT", "/nacos/v1/ns/ops/switches?entry=masters&value=a,b",
           200, "ok");
    expect(t, 0, "PUT",
           SWITCHES "?entry=tcpHealthParams&value=%7B%22max%22:4000%7D", 200,
           "ok");
    /* Not an entry (the JSON key): accepted, changes nothing. */
    expect(t, 0, "PUT", SWITCHES "?entry=checkTimes&value=9", 200, "ok");
    wait_switch(t, "healthCheckEnabled", "false");
    wait_switch(t, "checkTimes", "4");
    wait_switch(t, "masters", "[\"a\",\"b\"]");
    wait_switch(t, "tcpHealthParams",
                "{\"max\":4000,\"min\":1000,\"factor\":0.75}");
    /* debug=true: this node only. */
    expect(t, 0, "PUT", SWITCHES "?entry=pushEnabled&value=false&debug=true",
           200, "ok");
    {
        json_t *v0 = switch_value(t, 0, "pushEnabled");
        json_t *v1 = switch_value(t, 1, "pushEnabled");
        assert_true(json_is_false(v0));
        assert_true(json_is_true(v1));
        json_decref(v0);
        json_decref(v1);
    }

    /* overriddenServerStatus replaces the status metrics report. */
    expect(t, 1, "PUT", SWITCHES "?entry=overriddenServerStatus&value=PAUSED",
           200, "ok");
    wait_switch(t, "overriddenServerStatus", "\"PAUSED\"");
    for (unsigned i = 0; i < 3; i++) {
        expect(t, i, "GET", "/nacos/v1/ns/operator/metrics", 200,
               "{\"status\":\"PAUSED\"}");
    }
    expect(t, 1, "PUT", SWITCHES "?entry=overriddenServerStatus&value=null",
           200, "ok");
    wait_switch(t, "overriddenServerStatus", "\"\"");
    for (unsigned i = 0; i < 3; i++) {
        expect(t, i, "GET", "/nacos/v1/ns/operator/metrics?onlyStatus=%20", 200,
               "{\"status\":\"UP\"}");
    }

    /* A restart keeps what went through Raft, not the debug change. */
    tc_stop_all(t);
    for (unsigned i = 0; i < 3; i++) {
        tc_start(t, i);
    }
    tc_wait_all_ready(t);
    wait_switch(t, "healthCheckEnabled", "false");
    wait_switch(t, "checkTimes", "4");
    wait_switch(t, "masters", "[\"a\",\"b\"]");
    wait_switch(t, "pushEnabled", "true");
    tc_pass(t);
}

/* PUT /health/instance: refused while checks are on, then through Raft to
 * every member; the checker leaves instances alone while the switch is
 * off. /instance/statuses answers and refuses as Nacos. */
static void test_manual_health(void **state)
{
    struct tc *t = *state;
    int port;
    char path[512];

    tc_up(t, "manual", 3, NULL);
    port = tc_own_port(t); /* nobody listens */
    tc_must_register(t, 0, "hm", LOCAL, port);
    snprintf(path, sizeof path,
             HEALTH "?serviceName=hm&ip=" LOCAL "&port=%d&healthy=true", port);
    expect(t, 1, "PUT", path, 400,
           "health check is still working, service: DEFAULT_GROUP@@hm, "
           "cluster: DEFAULT");
    /* The checker marks it unhealthy (refused). */
    wait_health(t, "hm", port, false, 15000, -1);

    expect(t, 2, "PUT", SWITCHES "?entry=check&value=false", 200, "ok");
    wait_switch(t, "healthCheckEnabled", "false");
    expect(t, 1, "PUT", path, 200, "ok");
    wait_health(t, "hm", port, true, 5000, -1);
    /* Checks are off: nothing turns it unhealthy again. */
    hold_health(t, "hm", port, true, 8000, -1);
    /* "valid" instead of "healthy", the /health alias, another node. */
    snprintf(path, sizeof path,
             "/nacos/v1/ns/health?serviceName=DEFAULT_GROUP@@hm&ip=" LOCAL
             "&port=%d&valid=false&clusterName=DEFAULT",
             port);
    expect(t, 0, "PUT", path, 200, "ok");
    wait_health(t, "hm", port, false, 5000, -1);

    /* Bad input: Nacos's answers, nothing changes. */
    snprintf(path, sizeof path, HEALTH "?serviceName=hm&ip=" LOCAL "&port=%d",
             port);
    expect(t, 0, "PUT", path, 400, "Param 'healthy' is required.");
    snprintf(path, sizeof path, HEALTH "?ip=" LOCAL "&port=%d&healthy=true",
             port);
    expect(t, 0, "PUT", path, 400, "Param 'serviceName' is required.");
    expect(t, 0, "PUT", HEALTH "?serviceName=hm&port=1&healthy=true", 400,
           "Param 'ip' is required.");
    expect(t, 0, "PUT", HEALTH "?serviceName=hm&ip=" LOCAL "&healthy=true", 400,
           "Param 'port' is required.");
    expect(t, 0, "PUT",
           HEALTH "?serviceName=hm&ip=" LOCAL "&port=99999&healthy=true", 400,
           "Param 'port' is illegal, the value should be between 0 and "
           "65535.\r\n");
    expect(t, 0, "PUT",
           HEALTH "?serviceName=@@hm&ip=" LOCAL "&port=1&healthy=true", 400,
           NULL);
    snprintf(path, sizeof path,
             HEALTH "?serviceName=hm&ip=" LOCAL "&port=%d&healthy=true", port);
    expect(t, 0, "POST", path, 501, NULL);
    expect(t, 0, "GET", path, 501, NULL);
    /* Unknown instance or service: ok, nothing happens. */
    expect(t, 0, "PUT",
           HEALTH "?serviceName=hm&ip=" LOCAL "&port=1&healthy=true", 200,
           "ok");
    expect(t, 0, "PUT",
           HEALTH "?serviceName=nope&ip=" LOCAL "&port=1&healthy=true", 200,
           "ok");
    hold_health(t, "hm", port, false, 1000, -1);

    /* metrics?onlyStatus=false: Nacos's keys in Nacos's order. */
    {
        static const char *const keys[] = {"status",
                                           "serviceCount",
                                           "instanceCount",
                                           "subscribeCount",
                                           "responsibleInstanceCount",
                                           "clientCount",
                                           "connectionBasedClientCount",
                                           "ephemeralIpPortClientCount",
                                           "persistentIpPortClientCount",
                                           "responsibleClientCount",
                                           "cpu",
                                           "load",
                                           "mem"};
        char *body = NULL;
        json_t *doc;
        const char *k;
        json_t *v;
        size_t at = 0;
        assert_int_equal(tc_http(t, 1, "GET",
                                 "/nacos/v1/ns/operator/metrics?onlyStatus="
                                 "false",
                                 NULL, NULL, &body),
                         200);
        doc = json_loads(body, 0, NULL);
        assert_non_null(doc);
        json_object_foreach(doc, k, v)
        {
            assert_true(at < sizeof keys / sizeof *keys);
            assert_string_equal(k, keys[at]);
            at++;
        }
        assert_int_equal(at, sizeof keys / sizeof *keys);
        assert_int_equal(
            json_integer_value(json_object_get(doc, "instanceCount")), 1);
        assert_int_equal(json_integer_value(json_object_get(
                             doc, "persistentIpPortClientCount")),
                         1);
        json_decref(doc);
        free(body);
    }

    /* statuses */
    expect(t, 0, "GET", "/nacos/v1/ns/instance/statuses", 400,
           "Parameter 'key' is missing");
    expect(t, 0, "GET", "/nacos/v1/ns/instance/statuses?key=hm", 400,
           "Param 'serviceName' is illegal, it should be format as "
           "'groupName@@serviceName'");
    expect(t, 0, "GET", "/nacos/v1/ns/instance/statuses?key=@@hm", 400,
           "Param 'serviceName' is illegal, groupName can't be empty");
    expect(t, 0, "GET", "/nacos/v1/ns/instance/statuses?key=public%23%23", 500,
           "caused: Index 1 out of bounds for length 1;");
    expect(t, 0, "GET",
           "/nacos/v1/ns/instance/statuses?key=other%23%23DEFAULT_GROUP@@hm",
           200, "{\"ips\":[]}");
    snprintf(path, sizeof path, "{\"ips\":[\"" LOCAL ":%d_false\"]}", port);
    expect(t, 2, "POST", "/nacos/v1/ns/instance/statuses?key=DEFAULT_GROUP@@hm",
           200, path);
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tcp_checks, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_switches, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_manual_health, tc_setup,
                                        tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
