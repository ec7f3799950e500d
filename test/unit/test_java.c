/* Tests of common/java.c: Java's number parsing, String.trim/hashCode,
 * ConvertUtils/NumberUtils, Spring's default editors, and String.matches()
 * through POSIX regexes, as Nacos's answers depend on them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "common/java.h"
#include "common/util.h"

static void int_ok(const char *s, int want)
{
    int v = 12345;
    char err[128] = "";
    assert_true(lc_java_parse_int(s, &v, err, sizeof err));
    assert_int_equal(v, want);
    assert_string_equal(err, "");
}

static void int_bad(const char *s, const char *msg)
{
    int v = 12345;
    char err[128] = "";
    assert_false(lc_java_parse_int(s, &v, err, sizeof err));
    assert_int_equal(v, 12345);
    assert_string_equal(err, msg);
}

static void test_java_parse_int(void **state)
{
    (void)state;
    int_ok("+80", 80);
    int_ok("0080", 80);
    int_ok("-1", -1);
    int_ok("0", 0);
    int_ok("-0", 0);
    int_ok("2147483647", 2147483647);
    int_ok("-2147483648", -2147483647 - 1);
    int_ok("000000000000000000001", 1);
    int_bad("abc", "For input string: \"abc\"");
    int_bad("", "For input string: \"\"");
    int_bad("2147483648", "For input string: \"2147483648\"");
    int_bad("-2147483649", "For input string: \"-2147483649\"");
    int_bad("99999999999999999999",
            "For input string: \"99999999999999999999\"");
    int_bad("+", "For input string: \"+\"");
    int_bad("-", "For input string: \"-\"");
    int_bad(" 1", "For input string: \" 1\"");
    int_bad("1 ", "For input string: \"1 \"");
    int_bad("1.0", "For input string: \"1.0\"");
    int_bad("0x10", "For input string: \"0x10\"");
    int_bad("+-1", "For input string: \"+-1\"");
}

static void double_ok(const char *s, double want)
{
    double v = 12345;
    char err[128] = "";
    assert_true(lc_java_parse_double(s, &v, err, sizeof err));
    if (!(v == want || (want != want && v != v))) {
        fail_msg("'%s' gave %g, want %g", s, v, want);
    }
}

static void double_bad(const char *s, const char *msg)
{
    double v = 12345;
    char err[128] = "";
    if (lc_java_parse_double(s, &v, err, sizeof err)) {
        fail_msg("'%s' accepted as %g", s, v);
    }
    assert_true(v == 12345);
    assert_string_equal(err, msg);
}

static void test_java_parse_double(void **state)
{
    (void)state;
    double_ok("1e3", 1000);
    double_ok(" 1 ", 1);
    double_ok("1d", 1);
    double_ok("1.5F", 1.5);
    double_ok("-2.5D", -2.5);
    double_ok("+.5", 0.5);
    double_ok("5.", 5);
    double_ok("1e-2", 0.01);
    double_ok("10000.0", 10000);
    double_ok("NaN", 0.0 / 0.0);
    double_ok("-Infinity", -1.0 / 0.0);
    double_ok("Infinity", 1.0 / 0.0);
    double_ok("1e999", 1.0 / 0.0); /* overflow is Infinity, no error */
    double_ok("0x1p3", 8);         /* Java's hexadecimal form */
    double_ok("0x1.8p1d", 3);
    double_bad("abc", "For input string: \"abc\"");
    double_bad("", "empty String");
    double_bad(" \t", "empty String");
    /* Java quotes the trimmed text. */
    double_bad(" abc ", "For input string: \"abc\"");
    double_bad("1e", "For input string: \"1e\"");
    double_bad("1x", "For input string: \"1x\"");
    double_bad("1dd", "For input string: \"1dd\"");
    double_bad("d", "For input string: \"d\"");
    double_bad(".", "For input string: \".\"");
    /* What C's strtod takes but Java does not. */
    double_bad("nan", "For input string: \"nan\"");
    double_bad("inf", "For input string: \"inf\"");
    double_bad("infinity", "For input string: \"infinity\"");
    double_bad("Infinityd", "For input string: \"Infinityd\"");
    double_bad("0x10", "For input string: \"0x10\"");
    double_bad("0x", "For input string: \"0x\"");
    double_bad("1,5", "For input string: \"1,5\"");
}

static void test_to_boolean(void **state)
{
    static const char *yes[] = {"true", "TRUE", "True", "t", "T",
                                "yes",  "YES",  "Yes",  "y", "Y",
                                "on",   "ON",   "On"};
    static const char *no[] = {"1",    "false", "abc",   "",      "0",
                               "no",   "off",   " true", "true ", "tru",
                               "yess", "o",     "n"};
    (void)state;
    for (size_t i = 0; i < LC_ARRAY_SIZE(yes); i++) {
        assert_true(lc_java_to_boolean(yes[i]));
    }
    for (size_t i = 0; i < LC_ARRAY_SIZE(no); i++) {
        assert_false(lc_java_to_boolean(no[i]));
    }
    assert_false(lc_java_to_boolean(NULL));
}

static void test_java_string_hash(void **state)
{
    (void)state;
    assert_int_equal(lc_java_string_hash(""), 0);
    assert_int_equal(lc_java_string_hash("a"), 97);
    assert_int_equal(lc_java_string_hash("127.0.0.1:8080"), -35736627);
    assert_int_equal(lc_java_string_hash("10.0.0.1:80"), 1106668620);
    assert_int_equal(lc_java_string_hash("192.168.1.254:49152"), -763275164);
    /* Two-byte UTF-8, and a code point outside the BMP (a surrogate pair
     * in Java's UTF-16). */
    assert_int_equal(lc_java_string_hash("\xc3\xa9t\xc3\xa9:1"), 218861909);
    assert_int_equal(lc_java_string_hash("\xf0\x9f\x98\x80:9"), 1703757794);
    /* A byte that is not UTF-8 decodes to U+FFFD, as in Java. */
    assert_int_equal(lc_java_string_hash("\xff" "a"), 2031620);
}

static void test_java_parse_long(void **state)
{
    long long v = 7;
    char err[128];
    (void)state;
    assert_true(lc_java_parse_long("9223372036854775807", &v, err, sizeof err));
    assert_true(v == INT64_MAX);
    assert_true(lc_java_parse_long("-9223372036854775808", &v, err, sizeof err));
    assert_true(v == INT64_MIN);
    assert_true(lc_java_parse_long("+42", &v, err, sizeof err));
    assert_true(v == 42);
    v = 7;
    assert_false(lc_java_parse_long("9223372036854775808", &v, err, sizeof err));
    assert_string_equal(err, "For input string: \"9223372036854775808\"");
    assert_false(lc_java_parse_long("1e3", &v, err, sizeof err));
    assert_false(lc_java_parse_long("-", &v, err, sizeof err));
    assert_true(v == 7);
}

static void test_trim_blank(void **state)
{
    char out[16];
    (void)state;
    lc_java_trim(" \t a b \r\n", out, sizeof out);
    assert_string_equal(out, "a b");
    lc_java_trim("   ", out, sizeof out);
    assert_string_equal(out, "");
    lc_java_trim("0123456789abcdefghij", out, sizeof out); /* cut to fit */
    assert_string_equal(out, "0123456789abcde");
    assert_true(lc_java_blank(NULL));
    assert_true(lc_java_blank(""));
    assert_true(lc_java_blank(" \t\n"));
    assert_false(lc_java_blank(" x "));
}

static void test_number_utils(void **state)
{
    (void)state;
    assert_int_equal(lc_java_to_int("42", 7), 42);
    assert_int_equal(lc_java_to_int("-1", 7), -1);
    assert_int_equal(lc_java_to_int("4x", 7), 7);
    assert_int_equal(lc_java_to_int(NULL, 7), 7);
    assert_int_equal(lc_java_to_int("2147483648", 7), 7);
    assert_true(lc_java_to_float("0.5", 0) == 0.5f);
    assert_true(lc_java_to_float("abc", 1.5f) == 1.5f);
    assert_true(lc_java_to_float(NULL, 2.0f) == 2.0f);
}

static void test_spring_editors(void **state)
{
    int i = 0;
    bool b = false;
    char msg[128];
    (void)state;
    assert_true(lc_spring_int(" 1 2 ", &i, msg, sizeof msg)); /* spaces go */
    assert_int_equal(i, 12);
    assert_true(lc_spring_int("0x1F", &i, msg, sizeof msg));
    assert_int_equal(i, 31);
    assert_true(lc_spring_int("#10", &i, msg, sizeof msg));
    assert_int_equal(i, 16);
    assert_false(lc_spring_int("1.5", &i, msg, sizeof msg));
    assert_string_equal(msg, "For input string: \"1.5\"");
    assert_true(lc_spring_bool(" YES ", &b, msg, sizeof msg));
    assert_true(b);
    assert_true(lc_spring_bool("0", &b, msg, sizeof msg));
    assert_false(b);
    assert_false(lc_spring_bool("maybe", &b, msg, sizeof msg));
    assert_string_equal(msg, "Invalid boolean value [maybe]");
}

static void test_jregex(void **state)
{
    struct lc_jregex re;
    char msg[256];
    (void)state;
    assert_true(lc_jregex_compile(&re, ".*svc.*", msg, sizeof msg));
    assert_true(lc_jregex_matches(&re, "g@@my-svc-1"));
    assert_false(lc_jregex_matches(&re, "g@@other"));
    lc_jregex_free(&re);
    /* String.matches() is a whole-string match. */
    assert_true(lc_jregex_compile(&re, "a+", msg, sizeof msg));
    assert_true(lc_jregex_matches(&re, "aaa"));
    assert_false(lc_jregex_matches(&re, "aab"));
    lc_jregex_free(&re);
    /* A bad pattern: the compiler's message, then the pattern. */
    assert_false(lc_jregex_compile(&re, "a(", msg, sizeof msg));
    assert_non_null(strstr(msg, "\na("));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_java_parse_int),
        cmocka_unit_test(test_java_parse_long),
        cmocka_unit_test(test_java_parse_double),
        cmocka_unit_test(test_to_boolean),
        cmocka_unit_test(test_java_string_hash),
        cmocka_unit_test(test_trim_blank),
        cmocka_unit_test(test_number_utils),
        cmocka_unit_test(test_spring_editors),
        cmocka_unit_test(test_jregex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
