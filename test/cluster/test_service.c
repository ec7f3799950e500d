/* The service API on a real standalone locusd: /nacos/v1/ns/service (create,
 * update, detail, delete, list, names) and /nacos/v1/ns/catalog, with
 * Nacos's answers to bad input (nothing changes), protectThreshold in the
 * instance list, paging and patterns, services surviving restarts (log and
 * snapshot), and the empty-service / expired-metadata cleaners. */
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
#define CT_FORM "application/x-www-form-urlencoded"

/* @method @path (query included) with @form as body (or NULL); fail unless
 * the status is @status and the body equals @body (if not NULL) or
 * contains @inside (if not NULL). Return the body (caller frees). */
static char *expect(struct tc *t, const char *method, const char *path,
                    const char *form, int status, const char *body,
                    const char *inside)
{
    char *got = NULL;
    int st = tc_http(t, 0, method, path, form != NULL ? CT_FORM : NULL, form,
                     &got);
    if (st != status || (body != NULL && (got == NULL ||
                                          strcmp(got, body) != 0)) ||
        (inside != NULL && (got == NULL || strstr(got, inside) == NULL))) {
        char copy[2048];
        snprintf(copy, sizeof copy, "%s", got != NULL ? got : "(none)");
        free(got);
        fail_msg("%s %s [%s]: got %d '%s', want %d '%s'", method, path,
                 form != NULL ? form : "", st, copy, status,
                 body != NULL ? body : inside != NULL ? inside : "");
    }
    return got;
}

static void ok(struct tc *t, const char *method, const char *path,
               const char *form)
{
    free(expect(t, method, path, form, 200, "ok", NULL));
}

/* GET @path, 200, parsed. */
static json_t *get_json(struct tc *t, const char *path)
{
    char *body = expect(t, "GET", path, NULL, 200, NULL, NULL);
    json_t *j = json_loads(body, 0, NULL);
    if (j == NULL) {
        fail_msg("GET %s: not JSON: %s", path, body);
    }
    free(body);
    return j;
}

static void expect_json(struct tc *t, const char *path, const char *want)
{
    char *body = expect(t, "GET", path, NULL, 200, want, NULL);
    free(body);
}

static void register_inst(struct tc *t, const char *service, const char *ip,
                          int port, bool healthy)
{
    char form[256];
    snprintf(form, sizeof form,
             "serviceName=%s&ip=%s&port=%d&ephemeral=false&healthy=%s",
             service, ip, port, healthy ? "true" : "false");
    ok(t, "POST", NS "/instance", form);
}

/* A healthy instance at a port of its own where health checks succeed
 * (tc_live): it stays healthy. Elsewhere on loopback checks are refused: an
 * instance registered unhealthy stays so, a healthy one turns unhealthy at
 * its first check (2-7 s). */
static void register_inst_live(struct tc *t, const char *service,
                               const char *ip)
{
    int port = tc_own_port(t);
    tc_live(t, ip, port);
    register_inst(t, service, ip, port, true);
}

static void deregister_inst(struct tc *t, const char *service, const char *ip,
                            int port)
{
    char form[256];
    snprintf(form, sizeof form,
             "serviceName=%s&ip=%s&port=%d&ephemeral=false", service, ip,
             port);
    ok(t, "DELETE", NS "/instance", form);
}

/* What the service API shows: every name, the catalog, one detail. */
static char *state_of(struct tc *t)
{
    char *a = expect(t, "GET", NS "/service/names", NULL, 200, NULL, NULL);
    char *b = expect(t, "GET",
                     NS "/catalog/services?pageNo=1&pageSize=100", NULL, 200,
                     NULL, NULL);
    char *c = expect(t, "GET", NS "/service?serviceName=base", NULL, 200,
                     NULL, NULL);
    char *s = NULL;
    assert_true(asprintf(&s, "%s\n%s\n%s", a, b, c) > 0);
    free(a);
    free(b);
    free(c);
    return s;
}

/* ------------------------------------------------------------- 1. CRUD */

static void test_crud(void **state)
{
    struct tc *t = *state;
    json_t *j;

    tc_up(t, "service-crud", 1, NULL);

    /* create with everything; the selector JSON is URL-encoded once more,
     * as Nacos decodes it again */
    ok(t, "POST",
       NS "/service?serviceName=s1&protectThreshold=0.5&metadata=a%3D1",
       "selector=%257B%2522type%2522%253A%2522label%2522%252C%2522"
       "expression%2522%253A%2522CONSUMER.label.A%2520%253D%2520PROVIDER."
       "label.A%2522%257D");
    expect_json(t, NS "/service?serviceName=s1",
                "{\"namespaceId\":\"public\",\"groupName\":\"DEFAULT_GROUP\","
                "\"name\":\"s1\",\"protectThreshold\":0.5,\"metadata\":{\"a\":"
                "\"1\"},\"selector\":{\"type\":\"label\",\"expression\":"
                "\"CONSUMER.label.A = PROVIDER.label.A\",\"labels\":[\"A\"],"
                "\"contextType\":\"CMDB\"},\"clusters\":[]}");
    free(expect(t, "POST", NS "/service", "serviceName=s1", 400,
                "specified service DEFAULT_GROUP@@s1 already exists!", NULL));

    /* defaults; another group and namespace */
    ok(t, "POST", NS "/service?serviceName=s2&groupName=G&namespaceId=ns1",
       NULL);
    expect_json(t, NS "/service?serviceName=G@@s2&namespaceId=ns1",
                "{\"namespaceId\":\"ns1\",\"groupName\":\"G\",\"name\":\"s2\","
                "\"protectThreshold\":0.0,\"metadata\":{},\"selector\":{"
                "\"type\":\"none\",\"contextType\":\"NONE\"},\"clusters\":[]}");

    /* update replaces threshold, metadata and selector */
    ok(t, "PUT", NS "/service",
       "serviceName=s1&protectThreshold=0.8&metadata=%7B%22b%22%3A%222%22%7D");
    j = get_json(t, NS "/service?serviceName=s1");
    assert_true(json_real_value(json_object_get(j, "protectThreshold")) ==
                0.8);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "metadata"),
                                          "b")),
        "2");
    assert_null(json_object_get(json_object_get(j, "metadata"), "a"));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(j, "selector"), "type")),
                        "none");
    json_decref(j);

    /* an instance gives the service a cluster */
    register_inst(t, "s1", "127.0.0.1", 80, true);
    register_inst(t, "s1", "127.0.0.2", 80, true);
    j = get_json(t, NS "/service?serviceName=s1");
    assert_int_equal(json_array_size(json_object_get(j, "clusters")), 1);
    json_decref(j);
    expect_json(t, NS "/catalog/service?serviceName=s1",
                "{\"service\":{\"name\":\"s1\",\"groupName\":\"DEFAULT_GROUP\","
                "\"protectThreshold\":0.8,\"selector\":{\"type\":\"none\","
                "\"contextType\":\"NONE\"},\"metadata\":{\"b\":\"2\"}},"
                "\"clusters\":[{\"serviceName\":\"DEFAULT_GROUP@@s1\",\"name\":"
                "\"DEFAULT\",\"healthChecker\":{\"type\":\"TCP\"},"
                "\"defaultPort\":80,\"defaultCheckPort\":80,"
                "\"useIPPort4Check\":true,\"metadata\":{}}]}");

    /* delete: refused while it has instances */
    free(expect(t, "DELETE", NS "/service?serviceName=s1", NULL, 400,
                "Service DEFAULT_GROUP@@s1 is not empty, can't be delete. "
                "Please unregister instance first",
                NULL));
    deregister_inst(t, "s1", "127.0.0.1", 80);
    deregister_inst(t, "s1", "127.0.0.2", 80);
    ok(t, "DELETE", NS "/service?serviceName=s1", NULL);
    free(expect(t, "GET", NS "/service?serviceName=s1", NULL, 400,
                "service not found, namespace: public, serviceName: "
                "DEFAULT_GROUP@@s1",
                NULL));
    expect_json(t, NS "/service/list?pageNo=1&pageSize=10",
                "{\"count\":0,\"doms\":[]}");
    free(expect(t, "DELETE", NS "/service?serviceName=s1", NULL, 400,
                "service DEFAULT_GROUP@@s1 not found!", NULL));
    /* the form body works as well as the query */
    ok(t, "DELETE", NS "/service", "serviceName=G@@s2&namespaceId=ns1");
    expect_json(t, NS "/service/names",
                "{\"META-INF/services\":{},\"count\":0}");
    tc_pass(t);
}

/* --------------------------------------------------------- 2. bad input */

struct bad {
    const char *method;
    const char *path;
    int status;
    const char *body;   /* exact, or NULL */
    const char *inside; /* substring, or NULL */
};

#define TM_FLOAT                                                              \
    "caused: Failed to convert value of type 'java.lang.String' to required " \
    "type 'float'; nested exception is java.lang.NumberFormatException: "
#define TM_INT                                                                \
    "caused: Failed to convert value of type 'java.lang.String' to required " \
    "type 'int'; nested exception is java.lang.NumberFormatException: "

static const struct bad bads[] = {
    /* create */
    {"POST", NS "/service", 400, "Parameter 'serviceName' is missing", NULL},
    {"POST", NS "/service?protectThreshold=1", 400,
     "Parameter 'serviceName' is missing", NULL},
    {"POST", NS "/service?serviceName=x&protectThreshold=abc", 500,
     TM_FLOAT "For input string: \"abc\";caused: For input string: \"abc\";",
     NULL},
    {"POST", NS "/service?serviceName=x&protectThreshold=%20", 500,
     TM_FLOAT "empty String;caused: empty String;", NULL},
    {"POST", NS "/service?serviceName=x&selector=xx", 400,
     "errCode: 101, errMsg: Nacos deserialize failed.  ", NULL},
    {"POST", NS "/service?serviceName=x&selector=%7B%7D", 400,
     "not match any type of selector!", NULL},
    {"POST", NS "/service?serviceName=x&selector=%5B1%5D", 400,
     "not match any type of selector!", NULL},
    {"POST",
     NS "/service?serviceName=x&selector=%7B%22type%22%3A%22LABEL%22%7D", 400,
     "not match any type of selector!", NULL},
    {"POST",
     NS "/service?serviceName=x&selector=%7B%22type%22%3A%22label%22%2C%22"
        "expression%22%3A%22bad%22%7D",
     500, "Selector parses failed: parse expression failed!", NULL},
    {"POST",
     NS "/service?serviceName=x&selector=%7B%22type%22%3A%22label%22%2C%22"
        "expression%22%3A%22CONSUMER.label.A%3DPROVIDER.label.B%22%7D",
     500, "Selector parses failed: parse expression failed!", NULL},
    {"POST", NS "/service?serviceName=x&selector=%25zz", 400,
     "URLDecoder: Illegal hex characters in escape (%) pattern - For input "
     "string: \"zz\"",
     NULL},
    {"POST", NS "/service?serviceName=x&selector=%252", 400,
     "URLDecoder: Incomplete trailing escape (%) pattern", NULL},
    {"POST", NS "/service?serviceName=x&metadata=a%3Db%3Dc", 500, NULL,
     "metadata format incorrect:a=b=c"},
    {"POST", NS "/service?serviceName=", 400,
     "Param 'serviceName' is illegal, serviceName is blank", NULL},
    {"POST", NS "/service?serviceName=base", 400,
     "specified service DEFAULT_GROUP@@base already exists!", NULL},
    {"POST", NS "/service?serviceName=%40%40x", 400, NULL,
     "Service name filter error"},
    {"POST", NS "/service?serviceName=x&groupName=bad%20group", 400,
     "Param 'group' is illegal, illegal characters should not appear in the "
     "param.\r\n",
     NULL},
    {"POST", NS "/service?serviceName=x&namespaceId=bad%2Fns", 400,
     "Param 'namespaceId/tenant' is illegal, illegal characters should not "
     "appear in the param.\r\n",
     NULL},
    /* delete */
    {"DELETE", NS "/service", 400, "Parameter 'serviceName' is missing", NULL},
    {"DELETE", NS "/service?serviceName=nope", 400,
     "service DEFAULT_GROUP@@nope not found!", NULL},
    {"DELETE", NS "/service?serviceName=base&namespaceId=other", 400,
     "service DEFAULT_GROUP@@base not found!", NULL},
    {"DELETE", NS "/service?serviceName=base", 400,
     "Service DEFAULT_GROUP@@base is not empty, can't be delete. Please "
     "unregister instance first",
     NULL},
    /* update */
    {"PUT", NS "/service?protectThreshold=1", 400,
     "Param 'serviceName' is required.", NULL},
    {"PUT", NS "/service?serviceName=base", 400,
     "Param 'protectThreshold' is required.", NULL},
    {"PUT", NS "/service?serviceName=nope&protectThreshold=1", 400,
     "service DEFAULT_GROUP@@nope not found!", NULL},
    {"PUT", NS "/service?serviceName=base&protectThreshold=1&selector=%7B%7D",
     400, "not match any type of selector!", NULL},
    {"PUT", NS "/service?serviceName=%20&protectThreshold=1", 400,
     "Param 'serviceName' is illegal, serviceName is blank", NULL},
    /* detail */
    {"GET", NS "/service", 400, "Parameter 'serviceName' is missing", NULL},
    {"GET", NS "/service?serviceName=nope", 400,
     "service not found, namespace: public, serviceName: DEFAULT_GROUP@@nope",
     NULL},
    {"PATCH", NS "/service?serviceName=base", 501, NULL, "no such api"},
    /* list and names */
    {"GET", NS "/service/list?pageSize=1", 400, "Param 'pageNo' is required.",
     NULL},
    {"GET", NS "/service/list?pageNo=1", 400, "Param 'pageSize' is required.",
     NULL},
    {"GET", NS "/service/list?pageNo=1&pageSize=-1", 400,
     "fromIndex(0) > toIndex(-1)", NULL},
    {"POST", NS "/service/list?pageNo=1&pageSize=1", 501, NULL,
     "no such api"},
    {"GET", NS "/service/names?expr=%28", 400, NULL, ".*(.*"},
    /* catalog */
    {"GET", NS "/catalog/services?pageSize=10", 500,
     "caused: Optional int parameter 'pageNo' is present but cannot be "
     "translated into a null value due to being declared as a primitive "
     "type. Consider declaring it as object wrapper for the corresponding "
     "primitive type.;",
     NULL},
    {"GET", NS "/catalog/services?pageNo=1&pageSize=x", 500,
     TM_INT "For input string: \"x\";caused: For input string: \"x\";", NULL},
    {"GET", NS "/catalog/services?pageNo=1&pageSize=1&withInstances=maybe",
     500,
     "caused: Failed to convert value of type 'java.lang.String' to required "
     "type 'boolean'; nested exception is java.lang.IllegalArgumentException: "
     "Invalid boolean value [maybe];caused: Invalid boolean value [maybe];",
     NULL},
    {"GET", NS "/catalog/services?pageNo=1&pageSize=1&groupNameParam=%28",
     400, NULL, ".*(.*@@.*"},
    {"GET", NS "/catalog/service?serviceName=nope", 404,
     "service DEFAULT_GROUP@@nope is not found!", NULL},
    {"GET", NS "/catalog/service", 404, "service @@ is not found!", NULL},
    {"GET", NS "/catalog/instances?clusterName=DEFAULT&pageNo=1&pageSize=1",
     400, "Parameter 'serviceName' is missing", NULL},
    {"GET", NS "/catalog/instances?serviceName=base&pageNo=1&pageSize=1", 400,
     "Parameter 'clusterName' is missing", NULL},
    {"GET", NS "/catalog/instances?serviceName=base&clusterName=DEFAULT"
               "&pageSize=1",
     400, "Parameter 'pageNo' is missing", NULL},
    {"GET", NS "/catalog/instances?serviceName=base&clusterName=DEFAULT"
               "&pageNo=1",
     400, "Parameter 'pageSize' is missing", NULL},
    {"GET", NS "/catalog/instances?serviceName=base&clusterName=DEFAULT"
               "&pageNo=z&pageSize=1",
     500, TM_INT "For input string: \"z\";caused: For input string: \"z\";",
     NULL},
    {"GET", NS "/catalog/instances?serviceName=nope&clusterName=DEFAULT"
               "&pageNo=1&pageSize=1",
     404, "service DEFAULT_GROUP@@nope is not found!", NULL},
    {"GET", NS "/catalog/instances?serviceName=base&clusterName=OTHER"
               "&pageNo=1&pageSize=1",
     404, "cluster OTHER is not found!", NULL},
    {"GET", NS "/catalog/instances?serviceName=base&clusterName=DEFAULT"
               "&pageNo=1&pageSize=-1",
     400, "fromIndex(0) > toIndex(-1)", NULL},
};

static void test_bad_input(void **state)
{
    struct tc *t = *state;
    char *before;

    tc_up(t, "service-bad", 1, NULL);
    ok(t, "POST", NS "/service?serviceName=base&protectThreshold=0.25", NULL);
    register_inst(t, "base", "127.0.0.1", 80, true);
    before = state_of(t);
    for (size_t k = 0; k < sizeof bads / sizeof bads[0]; k++) {
        const struct bad *b = &bads[k];
        char *now;
        free(expect(t, b->method, b->path, NULL, b->status, b->body,
                    b->inside));
        now = state_of(t);
        if (strcmp(now, before) != 0) {
            fail_msg("state changed after %s %s:\n%s\n%s", b->method, b->path,
                     before, now);
        }
        free(now);
    }
    /* the parameters in a form body are read the same way */
    free(expect(t, "PUT", NS "/service", "serviceName=nope&protectThreshold=1",
                400, "service DEFAULT_GROUP@@nope not found!", NULL));
    {
        char *now = state_of(t);
        assert_string_equal(now, before);
        free(now);
    }
    free(before);
    tc_pass(t);
}

/* ------------------------------------------------- 3. protectThreshold */

static json_t *list_of(struct tc *t, const char *service, const char *extra)
{
    char path[256];
    snprintf(path, sizeof path, NS "/instance/list?serviceName=%s%s", service,
             extra);
    return get_json(t, path);
}

/* Every host's "healthy", and the response's reachProtectionThreshold. */
static void expect_hosts(json_t *l, size_t n, bool healthy, bool reached)
{
    json_t *hosts = json_object_get(l, "hosts");
    size_t i;
    json_t *h;
    assert_int_equal(json_array_size(hosts), n);
    json_array_foreach(hosts, i, h)
    {
        assert_int_equal(json_is_true(json_object_get(h, "healthy")),
                         healthy);
    }
    assert_int_equal(
        json_is_true(json_object_get(l, "reachProtectionThreshold")),
        reached);
}

static void test_protect_threshold(void **state)
{
    struct tc *t = *state;
    json_t *l, *c;

    tc_up(t, "service-protect", 1, NULL);
    /* No metadata: unhealthy instances are shown as they are. */
    register_inst(t, "plain", "127.0.0.1", 80, false);
    register_inst(t, "plain", "127.0.0.2", 80, false);
    l = list_of(t, "plain", "");
    expect_hosts(l, 2, false, false);
    json_decref(l);

    /* Created through the API (threshold 0.0): all unhealthy are all
     * returned, healthy, and the threshold is reported reached. */
    ok(t, "POST", NS "/service?serviceName=guarded", NULL);
    register_inst(t, "guarded", "127.0.0.1", 80, false);
    register_inst(t, "guarded", "127.0.0.2", 80, false);
    l = list_of(t, "guarded", "");
    expect_hosts(l, 2, true, true);
    json_decref(l);
    l = list_of(t, "guarded", "&healthyOnly=true");
    expect_hosts(l, 0, true, false);
    json_decref(l);
    c = get_json(t, NS "/catalog/services?pageNo=1&pageSize=10"
                       "&serviceNameParam=guarded");
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(c, "serviceList"), 0),
            "triggerFlag")),
        "true");
    json_decref(c);

    /* One of two healthy: 0.5 <= 0.5 reaches, 0.4 does not. */
    register_inst_live(t, "guarded", "127.0.0.3");
    deregister_inst(t, "guarded", "127.0.0.2", 80);
    ok(t, "PUT", NS "/service", "serviceName=guarded&protectThreshold=0.5");
    l = list_of(t, "guarded", "");
    expect_hosts(l, 2, true, true);
    json_decref(l);
    ok(t, "PUT", NS "/service", "serviceName=guarded&protectThreshold=0.4");
    l = list_of(t, "guarded", "");
    assert_int_equal(json_array_size(json_object_get(l, "hosts")), 2);
    assert_false(json_is_true(json_object_get(l, "reachProtectionThreshold")));
    json_decref(l);
    l = list_of(t, "guarded", "&healthyOnly=true");
    expect_hosts(l, 1, true, false);
    json_decref(l);

    /* A service created by an instance gets metadata through update. */
    ok(t, "PUT", NS "/service", "serviceName=plain&protectThreshold=1");
    l = list_of(t, "plain", "");
    expect_hosts(l, 2, true, true);
    json_decref(l);
    tc_pass(t);
}

/* ------------------------------------------------- 4. listing and paging */

static void test_listing(void **state)
{
    struct tc *t = *state;
    json_t *j;

    tc_up(t, "service-list", 1, NULL);
    ok(t, "POST", NS "/service?serviceName=a1", NULL);
    ok(t, "POST", NS "/service?serviceName=a2", NULL);
    ok(t, "POST", NS "/service?serviceName=b1", NULL);
    ok(t, "POST", NS "/service?serviceName=b2", NULL);
    ok(t, "POST", NS "/service?serviceName=c1", NULL);
    ok(t, "POST", NS "/service?serviceName=x1&groupName=G2", NULL);
    ok(t, "POST", NS "/service?serviceName=G2@@x2", NULL);
    ok(t, "POST", NS "/service?serviceName=y1&namespaceId=ns1", NULL);
    register_inst_live(t, "b1", "127.0.0.1");
    register_inst(t, "b1", "127.0.0.2", 80, false);
    register_inst_live(t, "b1", "127.0.0.3");

    expect_json(t, NS "/service/list?pageNo=1&pageSize=2",
                "{\"count\":5,\"doms\":[\"a1\",\"a2\"]}");
    expect_json(t, NS "/service/list?pageNo=3&pageSize=2",
                "{\"count\":5,\"doms\":[\"c1\"]}");
    expect_json(t, NS "/service/list?pageNo=4&pageSize=2",
                "{\"count\":5,\"doms\":[]}");
    expect_json(t, NS "/service/list?pageNo=0&pageSize=2",
                "{\"count\":5,\"doms\":[\"a1\",\"a2\"]}");
    expect_json(t, NS "/service/list?pageNo=1&pageSize=10&groupName=G2",
                "{\"count\":2,\"doms\":[\"x1\",\"x2\"]}");
    expect_json(t, NS "/service/list?pageNo=1&pageSize=10&namespaceId=ns1",
                "{\"count\":1,\"doms\":[\"y1\"]}");
    expect_json(t, NS "/service/list?pageNo=x&pageSize=2",
                "{\"count\":5,\"doms\":[\"a1\",\"a2\"]}");

    expect_json(t, NS "/service/names?namespaceId=public&expr=x",
                "{\"META-INF/services\":{\"public\":[\"G2@@x1\","
                "\"G2@@x2\"]},\"count\":2}");
    expect_json(t, NS "/service/names?namespaceId=nons",
                "{\"META-INF/services\":{\"nons\":[]},\"count\":0}");
    j = get_json(t, NS "/service/names?expr=%5Bab%5D1");
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 2);
    assert_int_equal(
        json_array_size(json_object_get(
            json_object_get(j, "META-INF/services"), "public")),
        2);
    assert_int_equal(
        json_array_size(json_object_get(
            json_object_get(j, "META-INF/services"), "ns1")),
        0);
    json_decref(j);
    j = get_json(t, NS "/service/names");
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 8);
    json_decref(j);

    /* catalog */
    j = get_json(t, NS "/catalog/services?pageNo=1&pageSize=100");
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 7);
    json_decref(j);
    expect_json(t, NS "/catalog/services?pageNo=1&pageSize=10&hasIpCount=true",
                "{\"count\":1,\"serviceList\":[{\"name\":\"b1\",\"groupName\":"
                "\"DEFAULT_GROUP\",\"clusterCount\":1,\"ipCount\":3,"
                "\"healthyInstanceCount\":2,\"triggerFlag\":\"false\"}]}");
    j = get_json(t, NS "/catalog/services?pageNo=1&pageSize=10"
                       "&groupNameParam=G&serviceNameParam=x");
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 2);
    json_decref(j);
    /* pages: fewer than a page is everything, whatever the page */
    j = get_json(t, NS "/catalog/services?pageNo=5&pageSize=10");
    assert_int_equal(json_array_size(json_object_get(j, "serviceList")), 7);
    json_decref(j);
    j = get_json(t, NS "/catalog/services?pageNo=2&pageSize=3");
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(j, "serviceList"), 0), "name")),
        "b2");
    assert_int_equal(json_array_size(json_object_get(j, "serviceList")), 3);
    json_decref(j);
    j = get_json(t, NS "/catalog/services?pageNo=1&pageSize=10"
                       "&withInstances=true&serviceNameParam=b1");
    assert_true(json_is_array(j));
    assert_int_equal(json_array_size(j), 1);
    assert_int_equal(
        json_array_size(json_object_get(
            json_object_get(json_object_get(json_array_get(j, 0),
                                            "clusterMap"),
                            "DEFAULT"),
            "hosts")),
        3);
    assert_true(json_is_null(json_object_get(json_array_get(j, 0),
                                             "selector")));
    json_decref(j);

    j = get_json(t, NS "/catalog/instances?serviceName=b1&clusterName=DEFAULT"
                       "&pageNo=2&pageSize=2");
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 3);
    assert_int_equal(json_array_size(json_object_get(j, "list")), 1);
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(j, "list"), 0), "ip")),
        "127.0.0.3");
    json_decref(j);
    j = get_json(t, NS "/catalog/instances?serviceName=b1&clusterName=DEFAULT"
                       "&pageNo=1&pageSize=2");
    assert_false(json_is_true(json_object_get(
        json_array_get(json_object_get(j, "list"), 1), "healthy")));
    json_decref(j);
    tc_pass(t);
}

/* --------------------------------------------------------- 5. restarts */

static const char *const kept_detail =
    "{\"namespaceId\":\"public\",\"groupName\":\"DEFAULT_GROUP\",\"name\":"
    "\"kept\",\"protectThreshold\":0.7,\"metadata\":{\"k\":\"v\"},"
    "\"selector\":{\"type\":\"none\",\"contextType\":\"NONE\"},\"clusters\":"
    "[]}";

static void test_restart(void **state)
{
    struct tc *t = *state;
    char addr[64];

    tc_up(t, "service-restart", 1, NULL);
    ok(t, "POST", NS "/service?serviceName=kept&protectThreshold=0.7"
                  "&metadata=k%3Dv",
       NULL);
    ok(t, "POST", NS "/service?serviceName=dropped", NULL);
    ok(t, "DELETE", NS "/service?serviceName=dropped", NULL);

    /* from the log */
    tc_signal(t, 0, SIGTERM);
    tc_start(t, 0);
    tc_wait_ready(t, 0);
    expect_json(t, NS "/service?serviceName=kept", kept_detail);
    expect_json(t, NS "/service/list?pageNo=1&pageSize=10",
                "{\"count\":1,\"doms\":[\"kept\"]}");

    /* from a snapshot */
    assert_int_equal(tc_ops(t, 0, TC_SM, "doSnapshot",
                            tc_raft_addr(t, 0, addr, sizeof addr), NULL),
                     200);
    tc_signal(t, 0, SIGKILL);
    tc_start(t, 0);
    tc_wait_ready(t, 0);
    expect_json(t, NS "/service?serviceName=kept", kept_detail);
    expect_json(t, NS "/service/list?pageNo=1&pageSize=10",
                "{\"count\":1,\"doms\":[\"kept\"]}");
    tc_pass(t);
}

/* ---------------------------------------------------------- 6. cleaners */

static bool listed(struct tc *t, const char *name)
{
    json_t *j = get_json(t, NS "/service/list?pageNo=1&pageSize=100");
    size_t i;
    json_t *x;
    bool found = false;
    json_array_foreach(json_object_get(j, "doms"), i, x)
    {
        found = found || strcmp(json_string_value(x), name) == 0;
    }
    json_decref(j);
    return found;
}

static void wait_unlisted(struct tc *t, const char *name, unsigned max_ms)
{
    uint64_t end = tc_now_ms() + max_ms;
    while (listed(t, name)) {
        if (tc_now_ms() > end) {
            fail_msg("%s still listed after %u ms", name, max_ms);
        }
        tc_sleep_ms(100);
    }
}

static void test_cleaners(void **state)
{
    struct tc *t = *state;
    uint64_t t0;

    tc_up(t, "service-clean", 1,
          "nacos.naming.clean.empty-service.interval=200\n"
          "nacos.naming.clean.empty-service.expired-time=1500\n"
          "nacos.naming.clean.expired-metadata.interval=200\n"
          "nacos.naming.clean.expired-metadata.expired-time=1000\n");
    ok(t, "POST", NS "/service?serviceName=empty&protectThreshold=0.5", NULL);
    ok(t, "POST", NS "/service?serviceName=busy", NULL);
    register_inst(t, "busy", "127.0.0.1", 80, true);
    register_inst(t, "bare", "127.0.0.1", 80, true);
    t0 = tc_now_ms();
    assert_true(listed(t, "empty"));

    /* Empty for the expired time: removed; not before. */
    wait_unlisted(t, "empty", 5000);
    assert_true(tc_now_ms() - t0 >= 1000);
    assert_true(listed(t, "busy"));
    assert_true(listed(t, "bare"));
    assert_true(tc_log_contains(
        t, 0, "namespace : public, [DEFAULT_GROUP@@empty] services are "
              "automatically cleaned"));

    /* A service whose last instance left goes the same way. */
    deregister_inst(t, "bare", "127.0.0.1", 80);
    assert_true(listed(t, "bare"));
    wait_unlisted(t, "bare", 5000);

    /* The metadata of the removed service is deleted through Raft: after
     * a restart it does not bring the service back. */
    {
        uint64_t end = tc_now_ms() + 5000;
        while (!tc_log_contains(t, 0, "Remove expired metadata of "
                                      "DEFAULT_GROUP@@empty in public")) {
            if (tc_now_ms() > end) {
                fail_msg("expired metadata never removed");
            }
            tc_sleep_ms(100);
        }
    }
    /* The log line comes before the write: wait until it is applied. */
    {
        uint64_t end = tc_now_ms() + 5000;
        long long last = tc_group_int(t, 0, TC_SM, "lastLogIndex");
        while (tc_group_int(t, 0, TC_SM, "appliedIndex") < last) {
            if (tc_now_ms() > end) {
                fail_msg("%s: entry %lld not applied after 5 s", TC_SM, last);
            }
            tc_sleep_ms(20);
        }
    }
    tc_signal(t, 0, SIGTERM);
    tc_start(t, 0);
    tc_wait_ready(t, 0);
    assert_false(listed(t, "empty"));
    assert_true(listed(t, "busy"));
    free(expect(t, "GET", NS "/service?serviceName=empty", NULL, 400, NULL,
                "service not found"));
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crud, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_protect_threshold, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_listing, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_restart, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_cleaners, tc_setup, tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
