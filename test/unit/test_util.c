/* Tests of common/util.c and common/err.c: host:port, strict numbers, the
 * error table and its translations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <raft.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/err.h"
#include "common/util.h"

/* ------------------------------------------------------ host:port */

static void split_ok(const char *text, const char *want_host, int want_port)
{
    char host[64];
    int port = -1;
    memset(host, 'x', sizeof host);
    assert_int_equal(lc_split_host_port(text, host, sizeof host, &port), 0);
    assert_string_equal(host, want_host);
    assert_int_equal(port, want_port);
}

static void split_bad(const char *text)
{
    char host[64] = "untouched";
    int port = 4242;
    assert_int_equal(lc_split_host_port(text, host, sizeof host, &port),
                     LC_EINVAL);
    /* Nothing is written on failure. */
    assert_string_equal(host, "untouched");
    assert_int_equal(port, 4242);
}

static void test_split_ipv4(void **state)
{
    (void)state;
    split_ok("127.0.0.1:7848", "127.0.0.1", 7848);
    split_ok("127.0.0.2:1", "127.0.0.2", 1);
    split_ok("127.0.0.2:65535", "127.0.0.2", 65535);
    split_ok("localhost:80", "localhost", 80);
    split_ok("node-1.example.com:9848", "node-1.example.com", 9848);
    split_ok("h:+80", "h", 80); /* strtoll's sign is a number */
}

static void test_split_ipv6(void **state)
{
    (void)state;
    split_ok("[::1]:7848", "::1", 7848);
    split_ok("[fe80::1%eth0]:1", "fe80::1%eth0", 1);
    split_ok("[2001:db8::42]:65535", "2001:db8::42", 65535);
}

static void test_split_bad_forms(void **state)
{
    (void)state;
    split_bad(NULL);
    split_bad("");
    split_bad("127.0.0.1");  /* no port */
    split_bad("127.0.0.1:"); /* empty port */
    split_bad(":80");        /* empty host */
    split_bad("::1:80");     /* unbracketed IPv6 */
    split_bad("a:b:80");     /* two colons */
    split_bad("[::1]");      /* no port */
    split_bad("[::1]80");    /* no colon after ']' */
    split_bad("[::1:80");    /* no ']' */
    split_bad("[]:80");      /* empty host */
    split_bad("[::1]:");     /* empty port */
    split_bad("h:80x");      /* trailing junk */
    split_bad("h:8 0");
    split_bad("h:0x50");
    split_bad("h: 80"); /* whitespace is not a number */
    split_bad("h:80 ");
}

static void test_split_port_range(void **state)
{
    (void)state;
    split_bad("h:0");
    split_bad("h:-1");
    split_bad("h:65536");
    split_bad("h:99999999999999999999999");
    split_bad("[::1]:0");
    split_bad("[::1]:65536");
}

static void test_split_host_size(void **state)
{
    char host[5];
    int port = 0;
    (void)state;
    /* "abcd" plus NUL fits in 5 bytes; "abcde" does not. */
    assert_int_equal(lc_split_host_port("abcd:1", host, sizeof host, &port), 0);
    assert_string_equal(host, "abcd");
    assert_int_equal(lc_split_host_port("abcde:1", host, sizeof host, &port),
                     LC_EINVAL);
    assert_int_equal(lc_split_host_port("[::abcd]:1", host, sizeof host, &port),
                     LC_EINVAL);
}

static void test_join_host_port(void **state)
{
    char out[64];
    (void)state;
    lc_join_host_port(out, sizeof out, "127.0.0.1", 7848);
    assert_string_equal(out, "127.0.0.1:7848");
    lc_join_host_port(out, sizeof out, "::1", 7848);
    assert_string_equal(out, "[::1]:7848");
    lc_join_host_port(out, sizeof out, "localhost", 1);
    assert_string_equal(out, "localhost:1");
}

/* ------------------------------------------------------ numbers */

static void test_parse_int(void **state)
{
    long long v = 7;
    (void)state;
    assert_int_equal(lc_parse_int("0", 0, 10, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(lc_parse_int("10", 0, 10, &v), 0);
    assert_int_equal(v, 10);
    assert_int_equal(lc_parse_int("-5", -5, 5, &v), 0);
    assert_int_equal(v, -5);
    assert_int_equal(lc_parse_int("+5", 0, 5, &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(lc_parse_int("007", 0, 10, &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(lc_parse_int("9223372036854775807", 0, INT64_MAX, &v), 0);
    assert_true(v == INT64_MAX);

    v = 99;
    assert_int_equal(lc_parse_int("11", 0, 10, &v), LC_EINVAL);
    assert_int_equal(lc_parse_int("-6", -5, 5, &v), LC_EINVAL);
    assert_int_equal(lc_parse_int(NULL, 0, 10, &v), LC_EINVAL);
    assert_int_equal(lc_parse_int("", 0, 10, &v), LC_EINVAL);
    assert_int_equal(lc_parse_int("abc", 0, 10, &v), LC_EINVAL);
    assert_int_equal(lc_parse_int("1a", 0, 10, &v), LC_EINVAL);
    assert_int_equal(lc_parse_int("1.0", 0, 10, &v), LC_EINVAL);
    assert_int_equal(lc_parse_int(" 1", 0, 10, &v), LC_EINVAL);
    assert_int_equal(lc_parse_int("1 ", 0, 10, &v), LC_EINVAL);
    assert_int_equal(lc_parse_int("\t1", 0, 10, &v), LC_EINVAL);
    assert_int_equal(lc_parse_int("-", -5, 5, &v), LC_EINVAL);
    assert_int_equal(lc_parse_int("0x10", 0, 100, &v), LC_EINVAL);
    assert_int_equal(lc_parse_int("9223372036854775808", 0, INT64_MAX, &v),
                     LC_EINVAL);
    assert_int_equal(lc_parse_int("-9223372036854775809", INT64_MIN, 0, &v),
                     LC_EINVAL);
    assert_int_equal(v, 99); /* untouched on failure */
}

static void test_parse_double(void **state)
{
    double v = 7;
    (void)state;
    assert_int_equal(lc_parse_double("1.5", &v), 0);
    assert_true(v == 1.5);
    assert_int_equal(lc_parse_double("-0.25", &v), 0);
    assert_true(v == -0.25);
    assert_int_equal(lc_parse_double("1e3", &v), 0);
    assert_true(v == 1000.0);
    assert_int_equal(lc_parse_double("3", &v), 0);
    assert_true(v == 3.0);
    assert_int_equal(lc_parse_double(".5", &v), 0);
    assert_true(v == 0.5);

    v = 42;
    assert_int_equal(lc_parse_double(NULL, &v), LC_EINVAL);
    assert_int_equal(lc_parse_double("", &v), LC_EINVAL);
    assert_int_equal(lc_parse_double("abc", &v), LC_EINVAL);
    assert_int_equal(lc_parse_double("1.5x", &v), LC_EINVAL);
    assert_int_equal(lc_parse_double(" 1.5", &v), LC_EINVAL);
    assert_int_equal(lc_parse_double("1.5 ", &v), LC_EINVAL);
    assert_int_equal(lc_parse_double("nan", &v), LC_EINVAL);
    assert_int_equal(lc_parse_double("inf", &v), LC_EINVAL);
    assert_int_equal(lc_parse_double("-Infinity", &v), LC_EINVAL);
    assert_int_equal(lc_parse_double("1e999", &v), LC_EINVAL);
    assert_true(v == 42); /* untouched on failure */
}

static void test_parse_bool(void **state)
{
    (void)state;
    assert_true(lc_parse_bool("true"));
    assert_true(lc_parse_bool("TRUE"));
    assert_true(lc_parse_bool("tRuE"));
    assert_false(lc_parse_bool("false"));
    assert_false(lc_parse_bool("yes"));
    assert_false(lc_parse_bool("1"));
    assert_false(lc_parse_bool(" true"));
    assert_false(lc_parse_bool(""));
    assert_false(lc_parse_bool(NULL));
}

static void test_strlcpy(void **state)
{
    char buf[4];
    (void)state;
    assert_true(lc_strlcpy(buf, "abc", sizeof buf));
    assert_string_equal(buf, "abc");
    assert_false(lc_strlcpy(buf, "abcd", sizeof buf));
    assert_string_equal(buf, "abc");
    assert_true(lc_strlcpy(buf, "", sizeof buf));
    assert_string_equal(buf, "");
    buf[0] = 'z';
    assert_false(lc_strlcpy(buf, "a", 0));
    assert_int_equal(buf[0], 'z');
}

static void test_clocks(void **state)
{
    uint64_t m1 = lc_mono_ms();
    uint64_t u1 = lc_mono_us();
    uint64_t now = lc_now_ms();
    (void)state;
    assert_true(lc_mono_ms() >= m1);
    assert_true(lc_mono_us() >= u1);
    /* After 2020-01-01 and before 2100-01-01. */
    assert_true(now > 1577836800000ULL);
    assert_true(now < 4102444800000ULL);
}

/* ------------------------------------------------------ errors */

static void test_strerror_table(void **state)
{
    static const struct {
        int code;
        const char *name;
        const char *msg;
    } table[] = {
        {0, "OK", "ok"},
        {LC_ENOMEM, "LC_ENOMEM", "out of memory"},
        {LC_EINVAL, "LC_EINVAL", "invalid argument"},
        {LC_ENOTFOUND, "LC_ENOTFOUND", "not found"},
        {LC_EEXIST, "LC_EEXIST", "already exists"},
        {LC_EIO, "LC_EIO", "I/O error"},
        {LC_ECORRUPT, "LC_ECORRUPT", "corrupt data"},
        {LC_EPROTO, "LC_EPROTO", "protocol error"},
        {LC_ETOOBIG, "LC_ETOOBIG", "too big"},
        {LC_ETIMEDOUT, "LC_ETIMEDOUT", "timed out"},
        {LC_ECANCELED, "LC_ECANCELED", "canceled"},
        {LC_ESHUTDOWN, "LC_ESHUTDOWN", "shutting down"},
        {LC_ENOTLEADER, "LC_ENOTLEADER", "not the leader"},
        {LC_ENOLEADER, "LC_ENOLEADER", "no leader"},
        {LC_ELEADERSHIPLOST, "LC_ELEADERSHIPLOST",
         "leadership lost before commit"},
        {LC_ENOTREADY, "LC_ENOTREADY", "not ready"},
        {LC_EUNAUTH, "LC_EUNAUTH", "authentication failed"},
        {LC_ECONN, "LC_ECONN", "connection failed"},
        {LC_EBUSY, "LC_EBUSY", "busy"},
        {LC_ENOTSUP, "LC_ENOTSUP", "not supported"},
        {LC_ECONFIG, "LC_ECONFIG", "bad configuration"},
        {LC_EMISSING, "LC_EMISSING", "parameter missing"},
        {LC_ECHECK, "LC_ECHECK", "parameter check failed"},
        {LC_EBADNAME, "LC_EBADNAME", "bad service name"},
        {LC_EEXTRACT, "LC_EEXTRACT", "parameters do not parse"},
        {LC_ENOAPI, "LC_ENOAPI", "no such api"},
        {LC_ENOHANDLER, "LC_ENOHANDLER", "no handler"},
        {LC_ESERVER, "LC_ESERVER", "server error"},
        {LC_ETYPE, "LC_ETYPE", "parameter type mismatch"},
        {LC_ESERVICE_EXISTS, "LC_ESERVICE_EXISTS", "service already exists"},
        {LC_ESERVICE_NOTFOUND, "LC_ESERVICE_NOTFOUND", "service not found"},
        {LC_ESERVICE_NOTEMPTY, "LC_ESERVICE_NOTEMPTY", "service not empty"},
        {LC_EDENIED, "LC_EDENIED", "access denied"},
        {LC_EAGAIN, "LC_EAGAIN", "in progress"},
    };
    (void)state;
    for (size_t i = 0; i < LC_ARRAY_SIZE(table); i++) {
        /* Codes are 0, 1, 2, ... in table order. */
        assert_int_equal(table[i].code, (int)i);
        assert_string_equal(lc_errname(table[i].code), table[i].name);
        assert_string_equal(lc_strerror(table[i].code), table[i].msg);
    }
    /* Every code of LC_ERR_TABLE is in the list above. */
#define COUNT(name, value, msg, http, form, v2, grpc) +1
    assert_int_equal(0 LC_ERR_TABLE(COUNT), LC_ARRAY_SIZE(table) - 1);
#undef COUNT
    assert_string_equal(lc_strerror(34), "unknown error");
    assert_string_equal(lc_strerror(-1), "unknown error");
    assert_string_equal(lc_strerror(1000), "unknown error");
    assert_string_equal(lc_errname(34), "LC_EUNKNOWN");
    assert_string_equal(lc_errname(-7), "LC_EUNKNOWN");
}

/* What each transport answers with a code: the table's columns. */
static void test_err_columns(void **state)
{
    struct lc_err e;
    (void)state;
    assert_int_equal(lc_err_http_status(LC_EMISSING), 400);
    assert_int_equal(lc_err_v2_code(LC_EMISSING), 10000);
    assert_int_equal(lc_err_grpc_code(LC_EMISSING), 400);
    assert_int_equal(lc_err_form(LC_ECHECK), LC_FORM_CHECK);
    assert_int_equal(lc_err_form(LC_EBADNAME), LC_FORM_SPRING);
    assert_int_equal(lc_err_form(LC_ENOTREADY), LC_FORM_DOWN);
    assert_int_equal(lc_err_http_status(LC_ENOTREADY), 503);
    assert_int_equal(lc_err_grpc_code(LC_ENOTREADY), 300);
    assert_int_equal(lc_err_http_status(LC_ENOTFOUND), 404);
    assert_int_equal(lc_err_v2_code(LC_ENOTFOUND), 20004);
    assert_int_equal(lc_err_v2_code(LC_ESERVICE_EXISTS), 21007);
    assert_int_equal(lc_err_v2_code(LC_ESERVICE_NOTFOUND), 21008);
    assert_int_equal(lc_err_v2_code(LC_ESERVICE_NOTEMPTY), 21009);
    assert_int_equal(lc_err_http_status(LC_ESERVER), 500);
    assert_int_equal(lc_err_v2_code(LC_ESERVER), 30000);
    /* An unknown code answers as a server error. */
    assert_int_equal(lc_err_http_status(1000), 500);
    assert_int_equal(lc_err_form(1000), LC_FORM_TEXT);
    assert_int_equal(lc_err_v2_code(-3), 30000);
    assert_int_equal(lc_err_grpc_code(0x7fff), 500);
    assert_string_equal(lc_err_v2_abstract(10000), "parameter missing");
    assert_string_equal(lc_err_v2_abstract(20002), "parameter validate error");
    assert_string_equal(lc_err_v2_abstract(21009), "service delete failure");
    assert_string_equal(lc_err_v2_abstract(12345), "server error");

    assert_int_equal(lc_err_missing(&e, "ip", 0), LC_EMISSING);
    assert_int_equal(e.code, LC_EMISSING);
    assert_string_equal(e.param, "ip");
    assert_string_equal(e.msg, "Param 'ip' is required.");
    lc_err_missing(&e, "key", 1);
    assert_string_equal(e.msg, "Parameter 'key' is missing");
    assert_int_equal(lc_err_set(&e, LC_ECHECK, "bad %d", 7), LC_ECHECK);
    assert_string_equal(e.msg, "bad 7");
    assert_string_equal(e.param, "");
}

static void test_err_from_uv(void **state)
{
    (void)state;
    assert_int_equal(lc_err_from_uv(0), 0);
    assert_int_equal(lc_err_from_uv(UV_ENOMEM), LC_ENOMEM);
    assert_int_equal(lc_err_from_uv(UV_EINVAL), LC_EINVAL);
    assert_int_equal(lc_err_from_uv(UV_EAI_NONAME), LC_EINVAL);
    assert_int_equal(lc_err_from_uv(UV_EAI_FAMILY), LC_EINVAL);
    assert_int_equal(lc_err_from_uv(UV_ENOENT), LC_ENOTFOUND);
    assert_int_equal(lc_err_from_uv(UV_EEXIST), LC_EEXIST);
    assert_int_equal(lc_err_from_uv(UV_EADDRINUSE), LC_EEXIST);
    assert_int_equal(lc_err_from_uv(UV_ETIMEDOUT), LC_ETIMEDOUT);
    assert_int_equal(lc_err_from_uv(UV_ECANCELED), LC_ECANCELED);
    assert_int_equal(lc_err_from_uv(UV_ECONNREFUSED), LC_ECONN);
    assert_int_equal(lc_err_from_uv(UV_ECONNRESET), LC_ECONN);
    assert_int_equal(lc_err_from_uv(UV_EPIPE), LC_ECONN);
    assert_int_equal(lc_err_from_uv(UV_ENOTCONN), LC_ECONN);
    assert_int_equal(lc_err_from_uv(UV_EOF), LC_ECONN);
    assert_int_equal(lc_err_from_uv(UV_EHOSTUNREACH), LC_ECONN);
    assert_int_equal(lc_err_from_uv(UV_ENETUNREACH), LC_ECONN);
    assert_int_equal(lc_err_from_uv(UV_EACCES), LC_EIO);
    assert_int_equal(lc_err_from_uv(UV_EIO), LC_EIO);
}

static void test_err_from_raft(void **state)
{
    (void)state;
    assert_int_equal(lc_err_from_raft(0), 0);
    assert_int_equal(lc_err_from_raft(RAFT_NOMEM), LC_ENOMEM);
    assert_int_equal(lc_err_from_raft(RAFT_NOTLEADER), LC_ENOTLEADER);
    assert_int_equal(lc_err_from_raft(RAFT_LEADERSHIPLOST), LC_ELEADERSHIPLOST);
    assert_int_equal(lc_err_from_raft(RAFT_SHUTDOWN), LC_ESHUTDOWN);
    assert_int_equal(lc_err_from_raft(RAFT_CORRUPT), LC_ECORRUPT);
    assert_int_equal(lc_err_from_raft(RAFT_MALFORMED), LC_ECORRUPT);
    assert_int_equal(lc_err_from_raft(RAFT_CANCELED), LC_ECANCELED);
    assert_int_equal(lc_err_from_raft(RAFT_TOOBIG), LC_ETOOBIG);
    assert_int_equal(lc_err_from_raft(RAFT_NOCONNECTION), LC_ECONN);
    assert_int_equal(lc_err_from_raft(RAFT_BUSY), LC_EBUSY);
    assert_int_equal(lc_err_from_raft(RAFT_CANTCHANGE), LC_EBUSY);
    assert_int_equal(lc_err_from_raft(RAFT_NOTFOUND), LC_ENOTFOUND);
    assert_int_equal(lc_err_from_raft(RAFT_BADID), LC_ENOTFOUND);
    assert_int_equal(lc_err_from_raft(RAFT_INVALID), LC_EINVAL);
    assert_int_equal(lc_err_from_raft(RAFT_BADROLE), LC_EINVAL);
    assert_int_equal(lc_err_from_raft(RAFT_DUPLICATEID), LC_EINVAL);
    assert_int_equal(lc_err_from_raft(RAFT_DUPLICATEADDRESS), LC_EINVAL);
    assert_int_equal(lc_err_from_raft(RAFT_IOERR), LC_EIO);
}

/* lc_buf: appends grow it and keep it NUL-terminated; JSON strings escape
 * quotes, backslashes and control bytes only. */
static void test_buf(void **state)
{
    struct lc_buf b = {0};
    (void)state;
    LC_BUF_LIT(&b, "{\"k\":");
    lc_buf_json_str(&b, "a\"b\\c\n\x01\xc3\xa9");
    LC_BUF_LIT(&b, "}");
    assert_false(b.oom);
    assert_string_equal(b.p, "{\"k\":\"a\\\"b\\\\c\\u000a\\u0001\xc3\xa9\"}");
    for (unsigned i = 0; i < 1000; i++) {
        LC_BUF_LIT(&b, "0123456789");
    }
    assert_int_equal(b.len, strlen(b.p));
    assert_true(b.cap > b.len);
    free(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_ipv4),
        cmocka_unit_test(test_split_ipv6),
        cmocka_unit_test(test_split_bad_forms),
        cmocka_unit_test(test_split_port_range),
        cmocka_unit_test(test_split_host_size),
        cmocka_unit_test(test_join_host_port),
        cmocka_unit_test(test_parse_int),
        cmocka_unit_test(test_parse_double),
        cmocka_unit_test(test_parse_bool),
        cmocka_unit_test(test_strlcpy),
        cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_strerror_table),
        cmocka_unit_test(test_err_columns),
        cmocka_unit_test(test_err_from_uv),
        cmocka_unit_test(test_err_from_raft),
        cmocka_unit_test(test_buf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
