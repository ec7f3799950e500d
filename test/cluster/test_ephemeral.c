/* Ephemeral instances on a real locusd: registration, beats keeping them
 * healthy, expiry (unhealthy, then removed), light beats, re-registration
 * from the beat JSON (also after a restart), kinds that must not mix, and
 * bad beats answered with Nacos's errors and changing nothing. */
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

#define NS "/nacos/v1/ns"

/* metadata={"preserved.heart.beat.interval":"300",
 *           "preserved.heart.beat.timeout":"1500",
 *           "preserved.ip.delete.timeout":"3000"} */
#define SHORT_META                                                          \
    "%7B%22preserved.heart.beat.interval%22%3A%22300%22%2C%22preserved."   \
    "heart.beat.timeout%22%3A%221500%22%2C%22preserved.ip.delete."        \
    "timeout%22%3A%223000%22%7D"

/* Request @method @path on node 0; fail unless the status is @want. Return
 * the body (malloc'd). */
static char *expect(struct tc *t, const char *method, const char *path,
                    int want)
{
    char *body = NULL;
    int st = tc_http(t, 0, method, path, NULL, NULL, &body);
    if (st != want) {
        fail_msg("%s %s: status %d, want %d: %s", method, path, st, want,
                 body != NULL ? body : "(no body)");
    }
    return body;
}

static void expect_body(struct tc *t, const char *method, const char *path,
                        int want, const char *want_body)
{
    char *body = expect(t, method, path, want);
    if (body == NULL || strcmp(body, want_body) != 0) {
        fail_msg("%s %s: body '%s', want '%s'", method, path,
                 body != NULL ? body : "(null)", want_body);
    }
    free(body);
}

/* The host ip:port of @service on node 0 (a new reference), or NULL. */
static json_t *host_of(struct tc *t, const char *service, const char *ip,
                       int port)
{
    int st;
    json_t *info = tc_list(t, 0, service, false, &st);
    json_t *hosts = json_object_get(info, "hosts");
    json_t *h, *found = NULL;
    size_t k;
    if (info == NULL) {
        fail_msg("list %s: status %d", service, st);
    }
    json_array_foreach(hosts, k, h)
    {
        if (strcmp(json_string_value(json_object_get(h, "ip")), ip) == 0 &&
            json_integer_value(json_object_get(h, "port")) == port) {
            found = json_incref(h);
        }
    }
    json_decref(info);
    return found;
}

static size_t n_hosts(struct tc *t, const char *service)
{
    int st;
    json_t *info = tc_list(t, 0, service, false, &st);
    size_t n;
    if (info == NULL) {
        fail_msg("list %s: status %d", service, st);
    }
    n = json_array_size(json_object_get(info, "hosts"));
    json_decref(info);
    return n;
}

/* Health of ip:port: 1, 0, or -1 when absent. */
static int health(struct tc *t, const char *service, const char *ip, int port)
{
    json_t *h = host_of(t, service, ip, port);
    int v = h == NULL ? -1 : json_is_true(json_object_get(h, "healthy"));
    json_decref(h);
    return v;
}

/* Beat ip:port of @service (light); return the "code" of the answer. */
static long long light_beat(struct tc *t, const char *service, const char *ip,
                            int port, long long *interval)
{
    char path[512];
    char *body;
    json_t *o;
    long long code;
    snprintf(path, sizeof path, NS "/instance/beat?serviceName=%s&ip=%s&port=%d",
             service, ip, port);
    body = expect(t, "PUT", path, 200);
    o = json_loads(body, 0, NULL);
    if (o == NULL) {
        fail_msg("beat answer is not JSON: %s", body);
    }
    code = json_integer_value(json_object_get(o, "code"));
    if (interval != NULL) {
        *interval = json_integer_value(json_object_get(o, "clientBeatInterval"));
    }
    assert_true(json_is_true(json_object_get(o, "lightBeatEnabled")));
    json_decref(o);
    free(body);
    return code;
}

/* Wait up to @ms for ip:port's health to become @want (-1: gone). Return
 * the time it took. */
static uint64_t wait_health(struct tc *t, const char *service, const char *ip,
                            int port, int want, unsigned ms)
{
    uint64_t start = tc_now_ms();
    int h;
    while ((h = health(t, service, ip, port)) != want) {
        if (tc_now_ms() - start > ms) {
            fail_msg("%s:%d of %s: health %d after %u ms, want %d", ip, port,
                     service, h, ms, want);
        }
        tc_sleep_ms(50);
    }
    return tc_now_ms() - start;
}

/* 1. Beats keep an instance healthy; without them it turns unhealthy after
 * its beat timeout and is removed after its delete timeout. */
static void test_beats_and_expiry(void **state)
{
    struct tc *t = *state;
    long long interval = 0;
    uint64_t start, took;

    tc_up(t, "beats", 1, NULL);
    expect_body(
        t, "POST",
        NS
        "/instance?serviceName=eph&ip=127.6.0.1&port=80&metadata=" SHORT_META,
        200, "ok");
    assert_int_equal(health(t, "eph", "127.6.0.1", 80), 1);
    {
        json_t *h = host_of(t, "eph", "127.6.0.1", 80);
        assert_true(json_is_true(json_object_get(h, "ephemeral")));
        assert_int_equal(
            json_integer_value(json_object_get(h, "instanceHeartBeatTimeOut")),
            1500);
        json_decref(h);
    }

    /* 3 s of beats: more than the beat timeout, more than the delete one. */
    start = tc_now_ms();
    while (tc_now_ms() - start < 3500) {
        assert_int_equal(light_beat(t, "eph", "127.6.0.1", 80, &interval),
                         10200);
        assert_int_equal(interval, 300); /* from the instance's metadata */
        assert_int_equal(health(t, "eph", "127.6.0.1", 80), 1);
        tc_sleep_ms(300);
    }

    /* Silence: unhealthy after 1.5 s (+ one 1 s check period). */
    start = tc_now_ms();
    wait_health(t, "eph", "127.6.0.1", 80, 0, 4000);
    took = tc_now_ms() - start;
    if (took + 300 < 1500) {
        fail_msg("unhealthy after %llu ms of silence, before its 1500 ms "
                 "timeout",
                 (unsigned long long)took);
    }
    /* A beat makes it healthy again at once. */
    assert_int_equal(light_beat(t, "eph", "127.6.0.1", 80, NULL), 10200);
    assert_int_equal(health(t, "eph", "127.6.0.1", 80), 1);

    /* Silence again: removed after 3 s. */
    start = tc_now_ms();
    wait_health(t, "eph", "127.6.0.1", 80, -1, 6000);
    took = tc_now_ms() - start;
    if (took + 300 < 3000) {
        fail_msg("removed after %llu ms, before its 3000 ms delete timeout",
                 (unsigned long long)took);
    }
    /* Now unknown: a light beat says so (20404), with the switch's
     * interval. */
    assert_int_equal(light_beat(t, "eph", "127.6.0.1", 80, &interval), 20404);
    assert_int_equal(interval, 5000);
    assert_true(tc_log_contains(t, 0, "unhealthy: no beat"));
    tc_pass(t);
}

/* 2. A beat with its JSON re-registers an unknown instance from it; also
 * after the server restarts (ephemeral instances are not persisted). */
static void test_reregister_from_beat(void **state)
{
    struct tc *t = *state;
    /* beat={"ip":"127.6.0.2","port":81,"serviceName":"DEFAULT_GROUP@@rb",
     *       "cluster":"c1","weight":2.5,"metadata":{"k":"v"},
     *       "scheduled":true} (the npm client's extra key is ignored) */
    const char *beat =
        NS "/instance/beat?serviceName=DEFAULT_GROUP%40%40rb&beat=%7B%22ip%22"
           "%3A%22127.6.0.2%22%2C%22port%22%3A81%2C%22serviceName%22%3A%22"
           "DEFAULT_GROUP%40%40rb%22%2C%22cluster%22%3A%22c1%22%2C%22weight%22"
           "%3A2.5%2C%22metadata%22%3A%7B%22k%22%3A%22v%22%7D%2C%22scheduled%22"
           "%3Atrue%7D";
    json_t *h;
    char *body;

    tc_up(t, "rebeat", 1, NULL);
    body = expect(t, "PUT", beat, 200);
    assert_non_null(strstr(body, "\"code\":10200"));
    free(body);
    h = host_of(t, "rb", "127.6.0.2", 81);
    assert_non_null(h);
    assert_string_equal(json_string_value(json_object_get(h, "clusterName")),
                        "c1");
    assert_true(json_number_value(json_object_get(h, "weight")) == 2.5);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(h, "metadata"), "k")),
        "v");
    assert_string_equal(json_string_value(json_object_get(h, "instanceId")),
                        "127.6.0.2#81#c1#DEFAULT_GROUP@@rb");
    json_decref(h);

    tc_signal(t, 0, SIGTERM);
    tc_start(t, 0);
    tc_wait_ready(t, 0);
    assert_int_equal(health(t, "rb", "127.6.0.2", 81), -1);
    free(expect(t, "PUT", beat, 200));
    assert_int_equal(health(t, "rb", "127.6.0.2", 81), 1);

    /* Deregister (the npm client sends the bare name and the cluster). */
    expect_body(t, "DELETE",
                NS "/instance?serviceName=rb&ip=127.6.0.2&port=81"
                   "&clusterName=c1&ephemeral=true",
                200, "ok");
    assert_int_equal(n_hosts(t, "rb"), 0);
    /* Deregistering what is not there is fine too. */
    expect_body(t, "DELETE", NS "/instance?serviceName=rb&ip=127.6.0.2&port=81",
                200, "ok");
    tc_pass(t);
}

/* 3. Ephemeral and persistent instances do not share a service. */
static void test_kinds_do_not_mix(void **state)
{
    struct tc *t = *state;
    tc_up(t, "kinds", 1, NULL);
    expect_body(t, "POST",
                NS "/instance?serviceName=pers&ip=127.6.0.3&port=1"
                   "&ephemeral=false",
                200, "ok");
    expect_body(t, "POST", NS "/instance?serviceName=pers&ip=127.6.0.3&port=2",
                400,
                "errCode: 400, errMsg: Current service DEFAULT_GROUP@@pers is "
                "persistent service, can't register ephemeral instance. ");
    expect_body(t, "POST", NS "/instance?serviceName=eph&ip=127.6.0.3&port=1",
                200, "ok");
    expect_body(t, "POST",
                NS "/instance?serviceName=eph&ip=127.6.0.3&port=2"
                   "&ephemeral=false",
                400,
                "errCode: 400, errMsg: Current service DEFAULT_GROUP@@eph is "
                "ephemeral service, can't register persistent instance. ");
    /* A beat carrying a registration into the persistent service is refused
     * the same way. */
    expect_body(t, "PUT",
                NS "/instance/beat?serviceName=pers&beat=%7B%22ip%22%3A%22127."
                   "6.0.3%22%2C%22port%22%3A9%7D",
                400,
                "errCode: 400, errMsg: Current service DEFAULT_GROUP@@pers is "
                "persistent service, can't register ephemeral instance. ");
    assert_int_equal(n_hosts(t, "pers"), 1);
    assert_int_equal(n_hosts(t, "eph"), 1);
    tc_pass(t);
}

/* 4. Bad beats: Nacos's status and message, nothing registered. */
static void test_bad_beats(void **state)
{
    struct tc *t = *state;
    static const struct {
        const char *method;
        const char *path;
        int status;
        const char *body; /* prefix */
    } cases[] = {
        {"GET", NS "/instance/beat?serviceName=bad&ip=127.6.0.4&port=1", 501,
         NULL},
        {"PUT", NS "/instance/beat?ip=127.6.0.4&port=1", 400,
         "Param 'serviceName' is required."},
        {"PUT", NS "/instance/beat?serviceName=bad&ip=127.6.0.4&port=x", 400,
         "Param 'port' is illegal"}, /* the parameter checker first */
        {"PUT", NS "/instance/beat?serviceName=bad&beat=%7Bnope", 400,
         "errCode: 101, errMsg: Nacos deserialize"},
        {"PUT", NS "/instance/beat?serviceName=bad&beat=%5B1%5D", 400,
         "errCode: 101, errMsg: Nacos deserialize"},
        {"PUT",
         NS "/instance/beat?serviceName=bad&beat=%7B%22port%22%3A%22a"
            "%22%7D",
         400, "errCode: 101, errMsg: Nacos deserialize"},
        {"PUT",
         NS "/instance/beat?serviceName=bad&beat=%7B%22ip%22%3A%22127.6"
            ".0.4%22%2C%22port%22%3A70000%7D",
         400, "Param check invalid:Param 'port' is illegal"},
        {"PUT",
         NS "/instance/beat?serviceName=bad&beat=%7B%22ip%22%3A%22127.6"
            ".0.4%22%2C%22port%22%3A1%2C%22weight%22%3A-1%7D",
         400, "instance format invalid: The weights range"},
        {"PUT",
         NS "/instance/beat?serviceName=bad&beat=%7B%22ip%22%3A%22127.6"
            ".0.4%22%2C%22port%22%3A1%2C%22cluster%22%3A%22a_b%22%7D",
         400, "Instance 'clusterName' should be characters"},
        {"PUT", NS "/instance/beat?serviceName=%40%40bad", 400, NULL},
    };

    tc_up(t, "bad-beats", 1, NULL);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *body = expect(t, cases[k].method, cases[k].path,
                            cases[k].status);
        if (cases[k].body != NULL &&
            (body == NULL ||
             strncmp(body, cases[k].body, strlen(cases[k].body)) != 0)) {
            fail_msg("%s %s: body '%s', want it to start with '%s'",
                     cases[k].method, cases[k].path,
                     body != NULL ? body : "(null)", cases[k].body);
        }
        free(body);
    }
    assert_int_equal(n_hosts(t, "bad"), 0);
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_beats_and_expiry, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_reregister_from_beat, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_kinds_do_not_mix, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_bad_beats, tc_setup, tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
