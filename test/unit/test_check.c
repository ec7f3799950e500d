/* Tests of naming/ops/check.c called directly, as every transport calls
 * it: NamingUtils' instance legality, the builders' weight and id generator
 * checks, metadata parsing, and DefaultParamChecker on a struct
 * lc_param_info (test_filters drives the same checker through its HTTP
 * extractors). Each failure has Nacos's code and message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "naming/ops/check.h"

#define LEGAL_MSG                                                            \
    "Instance 'heart beat interval' must less than 'heart beat timeout' "    \
    "and 'ip delete timeout'."

static void want(int rv, const struct lc_err *e, int code, const char *msg)
{
    assert_int_equal(rv, code);
    assert_int_equal(e->code, code);
    assert_string_equal(e->msg, msg);
}

static void test_weight(void **state)
{
    struct lc_err e;
    const char *msg =
        "instance format invalid: The weights range from 0.0 to 10000.0";
    (void)state;
    assert_int_equal(lc_check_weight(0, &e), 0);
    assert_int_equal(lc_check_weight(10000, &e), 0);
    want(lc_check_weight(10000.5, &e), &e, LC_EINVAL, msg);
    want(lc_check_weight(-0.1, &e), &e, LC_EINVAL, msg);
    want(lc_check_weight(NAN, &e), &e, LC_EINVAL, msg);
}

static void test_id_generator(void **state)
{
    struct lc_err e;
    (void)state;
    assert_int_equal(lc_check_id_generator("{}", &e), 0);
    assert_int_equal(
        lc_check_id_generator(
            "{\"preserved.instance.id.generator\":\"simple\"}", &e),
        0);
    want(lc_check_id_generator(
             "{\"preserved.instance.id.generator\":\"snowflake\"}", &e),
         &e, LC_ESERVER, "caused: The InstanceIdGenerator type is not found ;");
}

static void test_instance_legal(void **state)
{
    struct lc_err e;
    (void)state;
    assert_int_equal(lc_check_instance_legal("{}", "DEFAULT", &e), 0);
    assert_int_equal(lc_check_instance_legal("{}", "a-Z-9", &e), 0);
    /* interval 6000 > timeout default 15000? no; > delete 5000: yes */
    want(lc_check_instance_legal(
             "{\"preserved.heart.beat.interval\":\"6000\","
             "\"preserved.ip.delete.timeout\":\"5000\"}",
             "DEFAULT", &e),
         &e, LC_EINVAL, LEGAL_MSG);
    want(lc_check_instance_legal(
             "{\"preserved.heart.beat.timeout\":\"1000\"}", "DEFAULT", &e),
         &e, LC_EINVAL, LEGAL_MSG);
    want(lc_check_instance_legal("{}", "a_b", &e), &e, LC_EINVAL,
         "Instance 'clusterName' should be characters with only "
         "0-9a-zA-Z-. (current: a_b)");
    /* An empty cluster passes here (the builders default it) but not for a
     * beat's re-registration. */
    assert_int_equal(lc_check_instance_legal("{}", "", &e), 0);
    want(lc_check_cluster_name("", &e), &e, LC_EINVAL,
         "Instance 'clusterName' should be characters with only "
         "0-9a-zA-Z-. (current: )");
    assert_int_equal(lc_check_cluster_name("c1", &e), 0);
}

static void test_metadata(void **state)
{
    struct lc_err e;
    char *c = NULL;
    (void)state;
    assert_int_equal(lc_check_metadata("b=2,a=1", &c, &e), 0);
    assert_string_equal(c, "{\"a\":\"1\",\"b\":\"2\"}");
    free(c);
    assert_int_equal(lc_check_metadata(NULL, &c, &e), 0);
    assert_string_equal(c, "{}");
    free(c);
    want(lc_check_metadata("abc", &c, &e), &e, LC_EINVAL,
         "metadata format incorrect:abc");
    assert_null(c);
    assert_int_equal(lc_check_metadata_len("{\"ab\":\"cde\",\" \":\"x\"}"),
                     6);
}

static void test_service_name(void **state)
{
    struct lc_err e;
    (void)state;
    assert_int_equal(lc_check_service_name("g@@s", &e), 0);
    want(lc_check_service_name("s", &e), &e, LC_EINVAL,
         "Param 'serviceName' is illegal, it should be format as "
         "'groupName@@serviceName'");
    want(lc_check_service_name("@@s", &e), &e, LC_EINVAL,
         "Param 'serviceName' is illegal, groupName can't be empty");
}

static void test_params(void **state)
{
    struct lc_err e;
    struct lc_param_info pi = {.ns = "public", .group = "g", .service = "s"};
    (void)state;
    assert_int_equal(lc_check_params(&pi, &e), 0);
    pi.clusters = "a,b_c, ,d-e";
    assert_int_equal(lc_check_params(&pi, &e), 0);
    pi.clusters = "a,b.c";
    want(lc_check_params(&pi, &e), &e, LC_ECHECK,
         "Param 'cluster' is illegal, illegal characters should not appear "
         "in the param.");
    pi.clusters = NULL;
    pi.port = "65536";
    want(lc_check_params(&pi, &e), &e, LC_ECHECK,
         "Param 'port' is illegal, the value should be between 0 and "
         "65535.");
    pi.port = "80";
    pi.metadata_len = 1025;
    want(lc_check_params(&pi, &e), &e, LC_ECHECK,
         "Param 'Metadata' is illegal, the param length should not exceed "
         "1024.");
    /* Nacos's order: the namespace is checked before the rest. */
    pi.ns = "a.b";
    want(lc_check_params(&pi, &e), &e, LC_ECHECK,
         "Param 'namespaceId/tenant' is illegal, illegal characters should "
         "not appear in the param.");
}

/* Names must be valid UTF-8 (JSON answers could not carry them) and an ip
 * an IPv4 or IPv6 literal or a host name. */
static void test_params_encoding_and_ip(void **state)
{
    static const char *good_ips[] = {
        "127.0.0.1", "::1", "fe80::1%eth0", "2001:db8::8a2e:370:7334",
        "localhost", "my-host.example.com", "abc", "host_1.svc", NULL,
    };
    static const char *bad_ips[] = {
        "127.1.1.\xff", "127.1.1.300", "1.2.3", "127.0.0.", "a..b",
        "-a.b", "a.b-", "[::1", "::g", "a/b", "a:b", "h\xc3\xa9", NULL,
    };
    struct lc_err e;
    struct lc_param_info pi = {.ns = "public", .group = "g", .service = "s"};
    (void)state;
    for (int i = 0; good_ips[i] != NULL; i++) {
        pi.ip = good_ips[i];
        if (lc_check_params(&pi, &e) != 0) {
            fail_msg("ip '%s' refused: %s", good_ips[i], e.msg);
        }
    }
    for (int i = 0; bad_ips[i] != NULL; i++) {
        pi.ip = bad_ips[i];
        if (lc_check_params(&pi, &e) != LC_ECHECK) {
            fail_msg("ip '%s' accepted", bad_ips[i]);
        }
        assert_string_equal(e.msg, "Param 'ip' is illegal, it should be an "
                                   "IPv4 or IPv6 address or a host name.");
    }
    pi.ip = NULL;
    pi.service = "a\xff\xfe" "b";
    want(lc_check_params(&pi, &e), &e, LC_ECHECK,
         "Param 'serviceName' is illegal, illegal characters should not "
         "appear in the param.");
    pi.service = "a\xc3"; /* truncated sequence */
    assert_int_equal(lc_check_params(&pi, &e), LC_ECHECK);
    pi.service = "a\xed\xa0\x80"; /* a UTF-16 surrogate */
    assert_int_equal(lc_check_params(&pi, &e), LC_ECHECK);
    pi.service = "a\xc0\xaf"; /* overlong '/' */
    assert_int_equal(lc_check_params(&pi, &e), LC_ECHECK);
    pi.service = "caf\xc3\xa9-\xf0\x9f\x98\x80"; /* fine: é and an emoji */
    assert_int_equal(lc_check_params(&pi, &e), 0);
    assert_true(lc_check_utf8("caf\xc3\xa9"));
    assert_false(lc_check_utf8("\xf4\x90\x80\x80")); /* past U+10FFFF */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weight),
        cmocka_unit_test(test_id_generator),
        cmocka_unit_test(test_instance_legal),
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_service_name),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_params_encoding_and_ip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
