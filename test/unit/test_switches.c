/* The switch domain's rules (naming/core/switches.c): every entry of Nacos's
 * SwitchManager.update with good and bad values, the messages, the JSON
 * (key order, defaults, Java float text) and reading it back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "naming/core/switches.h"

/* The JSON text of @sw (malloc'd). */
static char *dump(const struct lc_switches *sw)
{
    json_t *doc = lc_switches_json(sw);
    char *text;
    assert_non_null(doc);
    text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(doc);
    assert_non_null(text);
    return text;
}

/* Apply entry=value to a default domain; return the JSON of one key
 * afterwards (malloc'd). */
static char *set_and_get(const char *entry, const char *value, const char *key)
{
    struct lc_switches sw;
    char msg[256];
    json_t *doc;
    char *text;
    lc_switches_default(&sw);
    if (lc_switches_update(&sw, entry, value, msg, sizeof msg) != 0) {
        fail_msg("%s=%s refused: %s", entry, value, msg);
    }
    doc = lc_switches_json(&sw);
    text = json_dumps(json_object_get(doc, key),
                      JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    json_decref(doc);
    lc_switches_clear(&sw);
    return text;
}

static void expect_switch(const char *entry, const char *value, const char *key,
                          const char *want)
{
    char *got = set_and_get(entry, value, key);
    if (strcmp(got, want) != 0) {
        fail_msg("%s=%s: %s is %s, want %s", entry, value, key, got, want);
    }
    free(got);
}

/* entry=value is refused with @code and exactly @message; nothing changes. */
static void expect_refused(const char *entry, const char *value, int code,
                           const char *message)
{
    struct lc_switches sw;
    char msg[256];
    char *before;
    char *after;
    int rv;
    lc_switches_default(&sw);
    /* Start from a domain with owned members, so a refusal must keep them. */
    assert_int_equal(
        lc_switches_update(&sw, "masters", "m1,m2", msg, sizeof msg), 0);
    assert_int_equal(
        lc_switches_update(&sw, "limitedUrlMap", "/u:429", msg, sizeof msg), 0);
    before = dump(&sw);
    rv = lc_switches_update(&sw, entry, value, msg, sizeof msg);
    if (rv != code) {
        fail_msg("%s=%s: code %d (%s), want %d", entry, value, rv, msg, code);
    }
    if (strcmp(msg, message) != 0) {
        fail_msg("%s=%s: message '%s', want '%s'", entry, value, msg, message);
    }
    after = dump(&sw);
    assert_string_equal(before, after);
    free(before);
    free(after);
    lc_switches_clear(&sw);
}

static void test_defaults_json(void **state)
{
    struct lc_switches sw;
    char *text;
    (void)state;
    lc_switches_default(&sw);
    text = dump(&sw);
    assert_string_equal(
        text,
        "{\"masters\":null,\"adWeightMap\":{},\"defaultPushCacheMillis\":10000,"
        "\"clientBeatInterval\":5000,\"defaultCacheMillis\":3000,"
        "\"distroThreshold\":0.7,\"healthCheckEnabled\":true,"
        "\"autoChangeHealthCheckEnabled\":true,\"distroEnabled\":true,"
        "\"enableStandalone\":true,\"pushEnabled\":true,\"checkTimes\":3,"
        "\"httpHealthParams\":{\"max\":5000,\"min\":500,\"factor\":0.85},"
        "\"tcpHealthParams\":{\"max\":5000,\"min\":1000,\"factor\":0.75},"
        "\"mysqlHealthParams\":{\"max\":3000,\"min\":2000,\"factor\":0.65},"
        "\"incrementalList\":[],"
        "\"serverStatusSynchronizationPeriodMillis\":2000,"
        "\"serviceStatusSynchronizationPeriodMillis\":5000,"
        "\"disableAddIP\":false,\"sendBeatOnly\":false,"
        "\"lightBeatEnabled\":true,\"limitedUrlMap\":{},"
        "\"distroServerExpiredMillis\":10000,\"pushGoVersion\":\"0.1.0\","
        "\"pushJavaVersion\":\"0.1.0\",\"pushPythonVersion\":\"0.4.3\","
        "\"pushCVersion\":\"1.0.12\",\"pushCSharpVersion\":\"0.9.0\","
        "\"enableAuthentication\":false,\"overriddenServerStatus\":null,"
        "\"defaultInstanceEphemeral\":true,\"healthCheckWhiteList\":[],"
        "\"name\":\"00-00---000-NACOS_SWITCH_DOMAIN-000---00-00\","
        "\"checksum\":null}");
    free(text);
}

static void test_numbers(void **state)
{
    (void)state;
    expect_switch("distroThreshold", "0.3", "distroThreshold", "0.3");
    expect_switch("distroThreshold", "2", "distroThreshold", "2.0");
    /* Java float precision. */
    expect_switch("distroThreshold", "0.1234567891", "distroThreshold",
                  "0.12345679");
    expect_switch("distroThreshold", " 0.5f ", "distroThreshold", "0.5");
    expect_refused("distroThreshold", "0", LC_EINVAL,
                   "distroThreshold can not be zero or negative: 0.0");
    expect_refused("distroThreshold", "-1", LC_EINVAL,
                   "distroThreshold can not be zero or negative: -1.0");
    expect_refused("distroThreshold", "-0.25", LC_EINVAL,
                   "distroThreshold can not be zero or negative: -0.25");
    expect_refused("distroThreshold", "-1e10", LC_EINVAL,
                   "distroThreshold can not be zero or negative: -1.0E10");
    expect_refused("distroThreshold", "abc", LC_EINVAL,
                   "For input string: \"abc\"");
    expect_refused("distroThreshold", "", LC_EINVAL, "empty String");

    expect_switch("clientBeatInterval", "7000", "clientBeatInterval", "7000");
    expect_switch("clientBeatInterval", "-5", "clientBeatInterval", "-5");
    expect_switch("clientBeatInterval", "+9", "clientBeatInterval", "9");
    expect_refused("clientBeatInterval", " 7000", LC_EINVAL,
                   "For input string: \" 7000\"");
    expect_refused("clientBeatInterval", "9223372036854775808", LC_EINVAL,
                   "For input string: \"9223372036854775808\"");
    expect_switch("clientBeatInterval", "-9223372036854775808",
                  "clientBeatInterval", "-9223372036854775808");

    expect_switch("pushCacheMillis", "10000", "defaultPushCacheMillis",
                  "10000");
    expect_refused("pushCacheMillis", "9999", LC_EINVAL,
                   "min cache time for http or tcp is too small(<10000)");
    expect_refused("pushCacheMillis", "x", LC_EINVAL,
                   "For input string: \"x\"");
    expect_switch("defaultCacheMillis", "1000", "defaultCacheMillis", "1000");
    expect_refused("defaultCacheMillis", "999", LC_EINVAL,
                   "min default cache time  is too small(<1000)");
    expect_switch("serviceStatusSynchronizationPeriodMillis", "5000",
                  "serviceStatusSynchronizationPeriodMillis", "5000");
    expect_refused("serviceStatusSynchronizationPeriodMillis", "4999",
                   LC_EINVAL,
                   "serviceStatusSynchronizationPeriodMillis is too "
                   "small(<5000)");
    expect_switch("serverStatusSynchronizationPeriodMillis", "1000",
                  "serverStatusSynchronizationPeriodMillis", "1000");
    expect_refused("serverStatusSynchronizationPeriodMillis", "999", LC_EINVAL,
                   "serverStatusSynchronizationPeriodMillis is too "
                   "small(<15000)");
    expect_switch("healthCheckTimes", "5", "checkTimes", "5");
    expect_switch("healthCheckTimes", "-1", "checkTimes", "-1");
    expect_refused("healthCheckTimes", "2147483648", LC_EINVAL,
                   "For input string: \"2147483648\"");
    expect_switch("distroServerExpiredMillis", "20000",
                  "distroServerExpiredMillis", "20000");
    expect_refused("distroServerExpiredMillis", "1.5", LC_EINVAL,
                   "For input string: \"1.5\"");
}

static void test_booleans(void **state)
{
    (void)state;
    /* Boolean.parseBoolean: only "true", any case. */
    expect_switch("distro", "false", "distroEnabled", "false");
    expect_switch("distro", "TRUE", "distroEnabled", "true");
    expect_switch("distro", "yes", "distroEnabled", "false");
    expect_switch("check", "false", "healthCheckEnabled", "false");
    expect_switch("check", "anything", "healthCheckEnabled", "false");
    expect_switch("pushEnabled", "false", "pushEnabled", "false");
    expect_switch("disableAddIP", "true", "disableAddIP", "true");
    expect_switch("sendBeatOnly", "True", "sendBeatOnly", "true");
    expect_switch("defaultInstanceEphemeral", "false",
                  "defaultInstanceEphemeral", "false");
    /* ConvertUtils.toBoolean: yes/on/y/t count. */
    expect_switch("lightBeatEnabled", "no", "lightBeatEnabled", "false");
    expect_switch("autoChangeHealthCheckEnabled", "off",
                  "autoChangeHealthCheckEnabled", "false");
    /* enableStandalone changes only for an empty value, to false. */
    expect_switch("enableStandalone", "false", "enableStandalone", "true");
    expect_switch("enableStandalone", "", "enableStandalone", "false");
    /* The JSON names are not entries: nothing changes. */
    expect_switch("healthCheckEnabled", "false", "healthCheckEnabled", "true");
    expect_switch("checkTimes", "9", "checkTimes", "3");
    expect_switch("noSuchEntry", "x", "checkTimes", "3");
}

static void test_strings_and_lists(void **state)
{
    (void)state;
    expect_switch("pushVersion", "java:1.2.3", "pushJavaVersion", "\"1.2.3\"");
    expect_switch("pushVersion", "python:0.5.0", "pushPythonVersion",
                  "\"0.5.0\"");
    expect_switch("pushVersion", "c:2.0.0", "pushCVersion", "\"2.0.0\"");
    expect_switch("pushVersion", "go:10.20.30", "pushGoVersion",
                  "\"10.20.30\"");
    expect_switch("pushVersion", "csharp:1.0.0:extra", "pushCSharpVersion",
                  "\"1.0.0\"");
    expect_refused("pushVersion", "java:1.2", LC_EINVAL,
                   "illegal version, must match: [0-9]+\\.[0-9]+\\.[0-9]+");
    expect_refused("pushVersion", "java:1.2.3a", LC_EINVAL,
                   "illegal version, must match: [0-9]+\\.[0-9]+\\.[0-9]+");
    expect_refused("pushVersion", "ruby:1.2.3", LC_EINVAL,
                   "unsupported client type: ruby");
    expect_refused("pushVersion", "java", LC_EPROTO,
                   "caused: Index 1 out of bounds for length 1;");
    expect_refused("pushVersion", ":", LC_EPROTO,
                   "caused: Index 0 out of bounds for length 0;");

    expect_switch("masters", "a,b", "masters", "[\"a\",\"b\"]");
    expect_switch("masters", "a,,b,,", "masters", "[\"a\",\"\",\"b\"]");
    expect_switch("masters", "", "masters", "[\"\"]");
    expect_switch("masters", ",", "masters", "[]");

    expect_switch("limitedUrlMap", "/a:429,/b:503:x", "limitedUrlMap",
                  "{\"/a\":429,\"/b\":503}");
    expect_switch("limitedUrlMap", "", "limitedUrlMap", "{}");
    expect_refused("limitedUrlMap", "/a", LC_EINVAL,
                   "invalid input for limited urls");
    expect_refused("limitedUrlMap", ",/a:1", LC_EINVAL,
                   "invalid input for limited urls");
    expect_refused("limitedUrlMap", ":429", LC_EINVAL,
                   "url can not be empty, url: ");
    expect_refused("limitedUrlMap", "/a:x", LC_EINVAL,
                   "For input string: \"x\"");
    expect_refused("limitedUrlMap", "/a:0", LC_EINVAL,
                   "illegal normal status code: 0");
    /* A later bad piece refuses the whole value. */
    expect_refused("limitedUrlMap", "/a:200,/b:-1", LC_EINVAL,
                   "illegal normal status code: -1");

    expect_switch("overriddenServerStatus", "DOWN", "overriddenServerStatus",
                  "\"DOWN\"");
    expect_switch("overriddenServerStatus", "null", "overriddenServerStatus",
                  "\"\"");
}

static void test_health_params(void **state)
{
    (void)state;
    expect_switch(
        "tcpHealthParams", "{\"max\":4000,\"min\":600,\"factor\":0.5}",
        "tcpHealthParams", "{\"max\":4000,\"min\":600,\"factor\":0.5}");
    /* Absent keys keep the class's defaults; unknown keys are ignored. */
    expect_switch("tcpHealthParams", "{\"max\":4000,\"x\":1}",
                  "tcpHealthParams",
                  "{\"max\":4000,\"min\":1000,\"factor\":0.75}");
    expect_switch("httpHealthParams", "{}", "httpHealthParams",
                  "{\"max\":5000,\"min\":500,\"factor\":0.85}");
    expect_switch("httpHealthParams", "{\"max\":\"3000\"}", "httpHealthParams",
                  "{\"max\":3000,\"min\":500,\"factor\":0.85}");
    expect_refused("tcpHealthParams", "{\"min\":499}", LC_EINVAL,
                   "min check time for http or tcp is too small(<500)");
    expect_refused("httpHealthParams", "{\"max\":2999}", LC_EINVAL,
                   "max check time for http or tcp is too small(<3000)");
    expect_refused("tcpHealthParams", "{\"factor\":1.5}", LC_EINVAL,
                   "malformed factor");
    expect_refused("tcpHealthParams", "{\"factor\":-0.1}", LC_EINVAL,
                   "malformed factor");
    expect_refused("tcpHealthParams", "not json", LC_EINVAL,
                   "json param invalid.");
    expect_refused("tcpHealthParams", "[1]", LC_EINVAL, "json param invalid.");
    expect_refused("httpHealthParams", "{\"max\":true}", LC_EINVAL,
                   "json param invalid.");
    /* MySQL parameters are not validated. */
    expect_switch("mysqlHealthParams", "{\"max\":1,\"min\":2,\"factor\":3}",
                  "mysqlHealthParams", "{\"max\":1,\"min\":2,\"factor\":3.0}");
    expect_refused("mysqlHealthParams", "{", LC_EINVAL, "json param invalid.");
}

/* Every entry changed, written as JSON, read back: the same domain. */
static void test_round_trip(void **state)
{
    static const char *const updates[][2] = {
        {"distroThreshold", "0.9"},
        {"clientBeatInterval", "4000"},
        {"pushVersion", "go:9.9.9"},
        {"pushCacheMillis", "20000"},
        {"defaultCacheMillis", "2000"},
        {"masters", "x,y"},
        {"distro", "false"},
        {"check", "false"},
        {"pushEnabled", "false"},
        {"serviceStatusSynchronizationPeriodMillis", "6000"},
        {"serverStatusSynchronizationPeriodMillis", "3000"},
        {"healthCheckTimes", "7"},
        {"disableAddIP", "true"},
        {"sendBeatOnly", "true"},
        {"limitedUrlMap", "/p:418"},
        {"enableStandalone", ""},
        {"overriddenServerStatus", "UP"},
        {"defaultInstanceEphemeral", "false"},
        {"distroServerExpiredMillis", "1"},
        {"lightBeatEnabled", "false"},
        {"autoChangeHealthCheckEnabled", "false"},
        {"httpHealthParams", "{\"max\":3500,\"min\":700,\"factor\":0.3}"},
        {"tcpHealthParams", "{\"max\":3100,\"min\":1100,\"factor\":0.2}"},
        {"mysqlHealthParams", "{\"max\":1,\"min\":1,\"factor\":0.1}"},
    };
    struct lc_switches sw;
    struct lc_switches back;
    struct lc_switches dflt;
    char msg[256];
    char *a;
    char *b;
    char *d;
    json_t *doc;
    (void)state;
    lc_switches_default(&sw);
    lc_switches_default(&dflt);
    d = dump(&dflt);
    for (size_t i = 0; i < sizeof updates / sizeof *updates; i++) {
        char *before = dump(&sw);
        char *after;
        assert_int_equal(lc_switches_update(&sw, updates[i][0], updates[i][1],
                                            msg, sizeof msg),
                         0);
        after = dump(&sw);
        if (strcmp(before, after) == 0) {
            fail_msg("%s=%s changed nothing", updates[i][0], updates[i][1]);
        }
        free(before);
        free(after);
    }
    a = dump(&sw);
    doc = json_loads(a, 0, NULL);
    assert_non_null(doc);
    assert_int_equal(lc_switches_from_json(doc, &back), 0);
    json_decref(doc);
    b = dump(&back);
    assert_string_equal(a, b);
    assert_string_not_equal(a, d);
    lc_switches_clear(&back);
    /* A copy is independent of its source. */
    {
        struct lc_switches copy;
        char *c;
        assert_int_equal(lc_switches_copy(&copy, &sw), 0);
        lc_switches_clear(&sw);
        c = dump(&copy);
        assert_string_equal(a, c);
        free(c);
        lc_switches_clear(&copy);
    }
    /* An empty document is the defaults; wrong types are refused. */
    doc = json_object();
    assert_int_equal(lc_switches_from_json(doc, &back), 0);
    json_decref(doc);
    free(b);
    b = dump(&back);
    assert_string_equal(b, d);
    lc_switches_clear(&back);
    {
        static const char *const bad[] = {
            "{\"checkTimes\":\"3\"}",
            "{\"masters\":[1]}",
            "{\"limitedUrlMap\":{\"a\":\"b\"}}",
            "{\"pushCVersion\":3}",
            "{\"tcpHealthParams\":{\"max\":1}}",
            "{\"healthCheckEnabled\":1}",
            "{\"overriddenServerStatus\":5}",
            "{\"distroThreshold\":\"x\"}",
            "[]",
        };
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
            doc = json_loads(bad[i], JSON_DECODE_ANY, NULL);
            assert_non_null(doc);
            if (lc_switches_from_json(doc, &back) != LC_EINVAL) {
                fail_msg("accepted %s", bad[i]);
            }
            json_decref(doc);
        }
    }
    free(a);
    free(b);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_json),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_booleans),
        cmocka_unit_test(test_strings_and_lists),
        cmocka_unit_test(test_health_params),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
