/* Instance metadata overlays on a real locusd: PATCH /instance and
 * PUT/DELETE /instance/metadata/batch, their answers, their effect on the
 * list, their survival across a restart (they are Raft state), and their
 * refusals. */
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

/* Host ip:port of @service: "weight|metadata-json|enabled" into @out. */
static const char *host(struct tc *t, const char *service, const char *ip,
                        int port, char *out, size_t size)
{
    int st;
    char path[256];
    char *body = NULL;
    json_t *h;
    char *meta;
    snprintf(path, sizeof path, NS "/instance?serviceName=%s&ip=%s&port=%d",
             service, ip, port);
    st = tc_http(t, 0, "GET", path, NULL, NULL, &body);
    if (st != 200) {
        snprintf(out, size, "status %d", st);
        free(body);
        return out;
    }
    h = json_loads(body, 0, NULL);
    meta = json_dumps(json_object_get(h, "metadata"),
                      JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(out, size, "%g|%s",
             json_number_value(json_object_get(h, "weight")), meta);
    free(meta);
    json_decref(h);
    free(body);
    return out;
}

/* PATCH: metadata replaces the overlay's map, weight and enabled set
 * theirs; unknown instances are 404 with Nacos's messages. */
static void test_patch(void **state)
{
    struct tc *t = *state;
    char buf[256];
    tc_up(t, "patch", 1, NULL);
    tc_expect_body(t, 0, "POST",
                   NS "/instance?serviceName=p&ip=127.7.0.1&port=1&weight=3"
                      "&metadata=a%3D1",
                   200, "ok");
    tc_expect_body(t, 0, "PATCH",
                   NS "/instance?serviceName=p&ip=127.7.0.1&port=1&weight=2.5",
                   200, "ok");
    assert_string_equal(host(t, "p", "127.7.0.1", 1, buf, sizeof buf),
                        "2.5|{\"a\":\"1\"}");
    tc_expect_body(t, 0, "PATCH",
                   NS
                   "/instance?serviceName=p&ip=127.7.0.1&port=1&metadata=b%3D2",
                   200, "ok");
    /* The instance's own a=1 stays; the overlay's map is now {b:2}. */
    assert_string_equal(host(t, "p", "127.7.0.1", 1, buf, sizeof buf),
                        "2.5|{\"a\":\"1\",\"b\":\"2\"}");
    tc_expect_body(t, 0, "PATCH",
                   NS
                   "/instance?serviceName=p&ip=127.7.0.1&port=1&enabled=false",
                   200, "ok");
    {
        int st;
        json_t *l = tc_list(t, 0, "p", false, &st);
        assert_int_equal(json_array_size(json_object_get(l, "hosts")), 0);
        json_decref(l);
    }
    tc_expect_body(t, 0, "PATCH",
                   NS "/instance?serviceName=p&ip=127.7.0.9&port=1&weight=1",
                   404, "no matched ip found!");
    tc_expect_body(t, 0, "PATCH",
                   NS
                   "/instance?serviceName=p&ip=127.7.0.1&port=1&clusterName=c2"
                   "&weight=1",
                   404, "no matched ip found!");
    tc_expect_body(t, 0, "PATCH",
                   NS "/instance?serviceName=nope&ip=127.7.0.1&port=1&weight=1",
                   404,
                   "no ips found for cluster DEFAULT in service "
                   "DEFAULT_GROUP@@nope");
    tc_expect_body(t, 0, "PATCH", NS "/instance?serviceName=p&port=1&weight=1",
                   400, "Param 'ip' is required.");
    tc_expect_body(t, 0, "PATCH",
                   NS
                   "/instance?serviceName=p&ip=127.7.0.1&port=1&weight=heavy",
                   400, "For input string: \"heavy\"");
    /* Unparsable metadata: the parameter checker's 500 (as Nacos). */
    tc_expect_body(t, 0, "PATCH",
                   NS
                   "/instance?serviceName=p&ip=127.7.0.1&port=1&metadata=%7Bx",
                   500, NULL);
    assert_string_equal(host(t, "p", "127.7.0.1", 1, buf, sizeof buf),
                        "2.5|{\"a\":\"1\",\"b\":\"2\"}");
    tc_pass(t);
}

/* metadata/batch adds keys to all or to the listed instances, DELETE
 * removes them; persistent overlays survive a restart. */
static void test_batch(void **state)
{
    struct tc *t = *state;
    char buf[256];
    tc_up(t, "batch", 1, NULL);
    tc_expect_body(
        t, 0, "POST",
        NS "/instance?serviceName=b&ip=127.7.0.1&port=1&ephemeral=false", 200,
        "ok");
    tc_expect_body(
        t, 0, "POST",
        NS "/instance?serviceName=b&ip=127.7.0.2&port=2&ephemeral=false", 200,
        "ok");
    tc_expect_body(t, 0, "PUT",
                   NS "/instance/metadata/batch?serviceName=b&metadata=k%3Dv"
                      "&consistencyType=persist&instances=%5B%7B%22ip%22%3A%22"
                      "127.7.0.2%22%2C%22port%22%3A2%7D%5D",
                   200,
                   "{\"updated\":[\"127.7.0.2:2:unknown:DEFAULT:persist\"]}");
    assert_string_equal(host(t, "b", "127.7.0.1", 1, buf, sizeof buf), "1|{}");
    assert_string_equal(host(t, "b", "127.7.0.2", 2, buf, sizeof buf),
                        "1|{\"k\":\"v\"}");
    /* No list (or one that does not parse): every instance. */
    tc_expect_body(t, 0, "PUT",
                   NS "/instance/metadata/batch?serviceName=b&metadata=z%3D1"
                      "&instances=nonsense",
                   200, NULL);
    assert_string_equal(host(t, "b", "127.7.0.1", 1, buf, sizeof buf),
                        "1|{\"z\":\"1\"}");
    tc_expect_body(t, 0, "DELETE",
                   NS "/instance/metadata/batch?serviceName=b&metadata=z%3D0",
                   200, NULL);
    assert_string_equal(host(t, "b", "127.7.0.2", 2, buf, sizeof buf),
                        "1|{\"k\":\"v\"}");

    tc_signal(t, 0, SIGTERM);
    tc_start(t, 0);
    tc_wait_ready(t, 0);
    assert_string_equal(host(t, "b", "127.7.0.2", 2, buf, sizeof buf),
                        "1|{\"k\":\"v\"}");
    assert_string_equal(host(t, "b", "127.7.0.1", 1, buf, sizeof buf), "1|{}");

    /* Refusals. */
    tc_expect_body(t, 0, "PUT", NS "/instance/metadata/batch?serviceName=b",
                   400, "Param 'metadata' is required.");
    tc_expect_body(t, 0, "PUT", NS "/instance/metadata/batch?metadata=a%3D1",
                   400, "Param 'serviceName' is required.");
    tc_expect_body(t, 0, "PUT",
                   NS "/instance/metadata/batch?serviceName=b&metadata=%7Bbad",
                   500, NULL);
    tc_expect_body(t, 0, "GET",
                   NS "/instance/metadata/batch?serviceName=b&metadata=a%3D1",
                   501, NULL);
    /* A service that does not exist: nothing to update. */
    tc_expect_body(t, 0, "PUT",
                   NS
                   "/instance/metadata/batch?serviceName=none&metadata=a%3D1",
                   200, "{\"updated\":[]}");
    assert_string_equal(host(t, "b", "127.7.0.2", 2, buf, sizeof buf),
                        "1|{\"k\":\"v\"}");
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_patch, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_batch, tc_setup, tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
