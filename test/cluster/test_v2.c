/* The /nacos/v2/ns envelope on a real locusd: success and error shapes,
 * status codes, detail codes, and the v2 spellings (clusterName for the
 * list, serviceName in the detail, a bare beat answer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test/support/tcluster.h"

#define V2 "/nacos/v2/ns"
#define CT_FORM "application/x-www-form-urlencoded"

/* @method @path (form @form) → status @status and an envelope with @code;
 * return its data (a new reference). */
static json_t *call(struct tc *t, const char *method, const char *path,
                    const char *form, int status, int code)
{
    char *body = NULL;
    int st = tc_http(t, 0, method, path, form != NULL ? CT_FORM : NULL, form,
                     &body);
    json_t *o = body != NULL ? json_loads(body, 0, NULL) : NULL;
    json_t *data;
    if (st != status || o == NULL ||
        json_integer_value(json_object_get(o, "code")) != code ||
        !json_is_string(json_object_get(o, "message"))) {
        fail_msg("%s %s %s: got %d '%s', want %d with code %d", method, path,
                 form != NULL ? form : "", st, body != NULL ? body : "(null)",
                 status, code);
    }
    data = json_incref(json_object_get(o, "data"));
    json_decref(o);
    free(body);
    return data;
}

static void test_envelope(void **state)
{
    struct tc *t = *state;
    json_t *d;
    char *body = NULL;

    tc_up(t, "v2", 1, NULL);
    d = call(t, "POST", V2 "/instance", "serviceName=s&ip=127.8.0.1&port=1",
             200, 0);
    assert_string_equal(json_string_value(d), "ok");
    json_decref(d);
    d = call(t, "POST", V2 "/instance",
             "serviceName=s&ip=127.8.0.1&port=2&clusterName=c2&ephemeral=true",
             200, 0);
    json_decref(d);

    d = call(t, "GET", V2 "/instance?serviceName=s&ip=127.8.0.1&port=1", NULL,
             200, 0);
    assert_string_equal(json_string_value(json_object_get(d, "serviceName")),
                        "DEFAULT_GROUP@@s");
    assert_int_equal(json_integer_value(json_object_get(d, "port")), 1);
    json_decref(d);

    /* v2 filters the list by clusterName. */
    d = call(t, "GET", V2 "/instance/list?serviceName=s&clusterName=c2", NULL,
             200, 0);
    assert_int_equal(json_array_size(json_object_get(d, "hosts")), 1);
    assert_string_equal(json_string_value(json_object_get(d, "clusters")),
                        "c2");
    json_decref(d);

    /* Errors keep the HTTP status and carry the detail. */
    d = call(t, "POST", V2 "/instance", "serviceName=s&ip=127.8.0.1", 400,
             10000);
    assert_string_equal(json_string_value(d), "Required parameter 'port' type "
                                              "String is not present");
    json_decref(d);
    d = call(t, "POST", V2 "/instance",
             "serviceName=s&ip=127.8.0.1&port=3&weight=20000", 400, 20002);
    json_decref(d);
    d = call(t, "GET", V2 "/instance?serviceName=s&ip=127.8.0.9&port=1", NULL,
             404, 20004);
    assert_string_equal(json_string_value(d), "no matched ip found!");
    json_decref(d);

    /* The beat answer is not wrapped. */
    assert_int_equal(tc_http(t, 0, "PUT",
                             V2
                             "/instance/beat?serviceName=s&ip=127.8.0.1&port=1",
                             NULL, NULL, &body),
                     200);
    assert_non_null(body);
    assert_non_null(strstr(body, "\"code\":10200"));
    assert_null(strstr(body, "\"message\""));
    free(body);

    d = call(t, "GET", V2 "/operator/metrics", NULL, 200, 0);
    assert_string_equal(json_string_value(json_object_get(d, "status")), "UP");
    json_decref(d);

    /* Services: create, detail in v2's shape, list, refusals. */
    d = call(t, "POST", V2 "/service", "serviceName=made&protectThreshold=0.5",
             200, 0);
    json_decref(d);
    d = call(t, "POST", V2 "/service", "serviceName=made", 400, 21007);
    json_decref(d);
    d = call(t, "GET", V2 "/service?serviceName=made", NULL, 200, 0);
    assert_string_equal(json_string_value(json_object_get(d, "serviceName")),
                        "made");
    assert_true(json_is_object(json_object_get(d, "clusterMap")));
    assert_true(json_is_false(json_object_get(d, "ephemeral")));
    assert_true(json_number_value(json_object_get(d, "protectThreshold")) ==
                0.5);
    json_decref(d);
    d = call(t, "GET", V2 "/service/list", NULL, 200, 0);
    assert_int_equal(json_integer_value(json_object_get(d, "count")), 2);
    assert_int_equal(json_array_size(json_object_get(d, "services")), 2);
    json_decref(d);
    d = call(t, "DELETE", V2 "/service", "serviceName=s", 400, 21009);
    json_decref(d);
    d = call(t, "DELETE", V2 "/service", "serviceName=made", 200, 0);
    json_decref(d);

    d = call(t, "GET", V2 "/operator/switches", NULL, 200, 0);
    assert_int_equal(
        json_integer_value(json_object_get(d, "clientBeatInterval")), 5000);
    json_decref(d);
    d = call(t, "PUT", V2 "/operator/switches?entry=clientBeatInterval&value=x",
             NULL, 400, 20002);
    json_decref(d);
    d = call(t, "PUT", V2 "/operator/switches?entry=clientBeatInterval"
                       "&value=6000",
             NULL, 200, 0);
    json_decref(d);
    d = call(t, "PUT",
             V2
             "/health/instance?serviceName=s&ip=127.8.0.1&port=1&healthy=false",
             NULL, 400, 20002); /* refused while the server checks health */
    json_decref(d);

    d = call(t, "DELETE", V2 "/instance", "serviceName=s&ip=127.8.0.1&port=1",
             200, 0);
    json_decref(d);
    d = call(t, "GET", V2 "/instance/list?serviceName=s", NULL, 200, 0);
    assert_int_equal(json_array_size(json_object_get(d, "hosts")), 1);
    json_decref(d);
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_envelope, tc_setup, tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
