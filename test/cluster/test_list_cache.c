/* /instance/list answers served from naming/http/list_cache.c on a real locusd:
 * the cached answer is the rendered one with a fresh lastRefTime, and every
 * change the answer depends on shows at once: a new or withdrawn instance,
 * a health change, a PUT overlay, another query (clusters, healthyOnly). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test/support/tcluster.h"

#define NS "/nacos/v1/ns"

static void expect_ok(struct tc *t, const char *method, const char *path)
{
    char *body = NULL;
    int st = tc_http(t, 0, method, path, NULL, NULL, &body);
    if (st != 200 || body == NULL || strcmp(body, "ok") != 0) {
        fail_msg("%s %s: %d %s", method, path, st, body ? body : "(none)");
    }
    free(body);
}

/* GET @query (after "instance/list?") on node 0: the body, 200 required. */
static char *list_text(struct tc *t, const char *query)
{
    char path[512];
    char *body = NULL;
    int st;
    snprintf(path, sizeof path, NS "/instance/list?%s", query);
    st = tc_http(t, 0, "GET", path, NULL, NULL, &body);
    if (st != 200 || body == NULL) {
        fail_msg("GET %s: %d %s", path, st, body ? body : "(none)");
    }
    return body;
}

static json_t *list_json(struct tc *t, const char *query)
{
    char *body = list_text(t, query);
    json_t *root = json_loads(body, 0, NULL);
    if (root == NULL) {
        fail_msg("list %s: not JSON: %s", query, body);
    }
    free(body);
    return root;
}

/* The host with @port in @root's hosts, or NULL (borrowed). */
static json_t *host(json_t *root, int port)
{
    json_t *h;
    size_t k;
    json_array_foreach(json_object_get(root, "hosts"), k, h)
    {
        if (json_integer_value(json_object_get(h, "port")) == port) {
            return h;
        }
    }
    return NULL;
}

static size_t n_hosts(struct tc *t, const char *query)
{
    json_t *root = list_json(t, query);
    size_t n = json_array_size(json_object_get(root, "hosts"));
    json_decref(root);
    return n;
}

/* Replace the digits after "lastRefTime": with 0; return them. */
static long long cut_ref_time(char *text)
{
    char *p = strstr(text, "\"lastRefTime\":");
    char *d;
    char *end;
    long long v;
    assert_non_null(p);
    d = p + strlen("\"lastRefTime\":");
    v = strtoll(d, &end, 10);
    assert_true(end > d);
    *d = '0';
    memmove(d + 1, end, strlen(end) + 1);
    return v;
}

/* 1. A repeated answer is the first one with a newer lastRefTime; changes
 * of the registry show in the next answer. */
static void test_cached_and_fresh(void **state)
{
    struct tc *t = *state;
    char *a, *b;
    long long ta, tb;
    json_t *root;

    tc_up(t, "cache", 1, NULL);
    expect_ok(t, "POST",
              NS "/instance?serviceName=lc&ip=127.7.0.1&port=1"
                 "&metadata=%7B%22v%22%3A%221%22%7D");
    a = list_text(t, "serviceName=lc");
    tc_sleep_ms(20);
    b = list_text(t, "serviceName=lc");
    ta = cut_ref_time(a);
    tb = cut_ref_time(b);
    assert_string_equal(a, b);
    assert_true(tb > ta);
    assert_true(llabs(tb - (long long)time(NULL) * 1000) < 5000);
    free(a);
    free(b);

    /* A second instance, then one withdrawn. */
    expect_ok(t, "POST", NS "/instance?serviceName=lc&ip=127.7.0.2&port=2");
    assert_int_equal(n_hosts(t, "serviceName=lc"), 2);
    expect_ok(t, "DELETE", NS "/instance?serviceName=lc&ip=127.7.0.2&port=2");
    assert_int_equal(n_hosts(t, "serviceName=lc"), 1);

    /* Re-registering with other metadata changes the host. */
    expect_ok(t, "POST",
              NS "/instance?serviceName=lc&ip=127.7.0.1&port=1"
                 "&metadata=%7B%22v%22%3A%222%22%7D");
    root = list_json(t, "serviceName=lc");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(host(root, 1), "metadata"), "v")),
                        "2");
    json_decref(root);

    /* A PUT overlay (weight), through raft. */
    expect_ok(t, "PUT",
              NS "/instance?serviceName=lc&ip=127.7.0.1&port=1&weight=3");
    root = list_json(t, "serviceName=lc");
    assert_true(json_real_value(json_object_get(host(root, 1), "weight")) ==
                3.0);
    json_decref(root);

    /* Persistent instances too. */
    tc_must_register(t, 0, "lcp", "127.7.0.3", 3);
    assert_int_equal(n_hosts(t, "serviceName=lcp"), 1);
    tc_must_register(t, 0, "lcp", "127.7.0.3", 4);
    assert_int_equal(n_hosts(t, "serviceName=lcp"), 2);
    tc_pass(t);
}

/* 2. Each query has its own answer: clusters and healthyOnly. */
static void test_query_variants(void **state)
{
    struct tc *t = *state;
    json_t *root;

    tc_up(t, "variants", 1, NULL);
    expect_ok(t, "POST", NS "/instance?serviceName=qv&ip=127.7.1.1&port=1");
    expect_ok(t, "POST",
              NS "/instance?serviceName=qv&ip=127.7.1.2&port=2&clusterName=c2");
    expect_ok(t, "POST",
              NS "/instance?serviceName=qv&ip=127.7.1.3&port=3&healthy=false");
    for (int round = 0; round < 2; round++) { /* miss, then hit */
        assert_int_equal(n_hosts(t, "serviceName=qv"), 3);
        assert_int_equal(n_hosts(t, "serviceName=qv&clusters=c2"), 1);
        assert_int_equal(n_hosts(t, "serviceName=qv&clusters=DEFAULT,c2"), 3);
        assert_int_equal(n_hosts(t, "serviceName=qv&clusters=nope"), 0);
        assert_int_equal(n_hosts(t, "serviceName=qv&healthyOnly=true"), 2);
        root = list_json(t, "serviceName=qv&clusters=c2");
        assert_string_equal(json_string_value(json_object_get(root, "clusters")),
                            "c2");
        json_decref(root);
    }
    /* Health changes show in both variants: an instance whose beats stop
     * turns unhealthy after its 1.5 s timeout, a beat makes it healthy. */
    expect_ok(t, "POST",
              NS "/instance?serviceName=qv&ip=127.7.1.4&port=4&metadata="
                 "%7B%22preserved.heart.beat.interval%22%3A%22300%22%2C"
                 "%22preserved.heart.beat.timeout%22%3A%221500%22%7D");
    assert_int_equal(n_hosts(t, "serviceName=qv&healthyOnly=true"), 3);
    {
        uint64_t until = tc_now_ms() + 6000;
        while (n_hosts(t, "serviceName=qv&healthyOnly=true") != 2) {
            if (tc_now_ms() > until) {
                fail_msg("127.7.1.4 did not turn unhealthy");
            }
            tc_sleep_ms(100);
        }
    }
    root = list_json(t, "serviceName=qv");
    assert_true(json_is_false(json_object_get(host(root, 4), "healthy")));
    json_decref(root);
    {
        char *body = NULL;
        assert_int_equal(tc_http(t, 0, "PUT",
                                 NS "/instance/beat?serviceName=qv"
                                    "&ip=127.7.1.4&port=4",
                                 NULL, NULL, &body),
                         200);
        free(body);
    }
    assert_int_equal(n_hosts(t, "serviceName=qv&healthyOnly=true"), 3);
    root = list_json(t, "serviceName=qv");
    assert_true(json_is_true(json_object_get(host(root, 4), "healthy")));
    json_decref(root);
    /* An unknown service is answered (not cached) with no hosts. */
    assert_int_equal(n_hosts(t, "serviceName=none"), 0);
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cached_and_fresh, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_query_variants, tc_setup,
                                        tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
