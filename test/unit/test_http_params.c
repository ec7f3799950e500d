/* Tests of rpc/http's parameters: query and form decoding, lookups,
 * percent-decoding and URL encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/http/http.h"
#include "rpc/http/internal.h"

#include "test/support/http_env.h"

static void test_params(void **state)
{
    struct ht_env *env = *state;
    struct lc_http_conn *conn = ht_client(env, 2000);
    struct ht_result res;

    ht_call(env, conn, &res, "GET",
            "/echo?a=1&b=x+y&c=%41%42%2b&d&e=100%&f=%zz&&a=2&=skip&g=%00&h=%e4%"
            "B8%AD",
            NULL, NULL);
    HT_ASSERT_RESULT(res, 200,
                     "GET /echo\na=1\nb=x y\nc=AB+\nd=\ne=100%\nf=%zz\na=2\n"
                     "g=%00\nh=\xe4\xb8\xad\nbody=");

    /* Query first, then the form body; charset parameter allowed. */
    ht_call(env, conn, &res, "POST", "/echo?q=1&b=0",
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
            "b=2&c=%26&d=a+b%3D");
    HT_ASSERT_RESULT(res, 200,
                     "POST /echo\nq=1\nb=0\nb=2\nc=&\nd=a b=\n"
                     "body=b=2&c=%26&d=a+b%3D");

    /* Form bodies count for every method. */
    ht_call(env, conn, &res, "DELETE", "/echo", HT_CT_FORM, "id=7");
    HT_ASSERT_RESULT(res, 200, "DELETE /echo\nid=7\nbody=id=7");

    /* Other content types: the body is not parameters. */
    ht_call(env, conn, &res, "POST", "/echo", "application/json", "x=1");
    HT_ASSERT_RESULT(res, 200, "POST /echo\nbody=x=1");
    ht_call(env, conn, &res, "POST", "/echo",
            "application/x-www-form-urlencodedX", "x=1");
    HT_ASSERT_RESULT(res, 200, "POST /echo\nbody=x=1");
    lc_http_conn_close(conn);
}

/* The first value wins, lookups are exact, iteration ends. */
static void h_lookup(struct lc_http_exchange *ex, void *data)
{
    const char *n, *v;
    (void)data;
    assert_string_equal(lc_http_param(ex, "a"), "1");
    assert_string_equal(lc_http_param(ex, "b"), "");
    assert_null(lc_http_param(ex, "A"));
    assert_null(lc_http_param(ex, "zz"));
    assert_true(lc_http_param_at(ex, 2, &n, &v));
    assert_string_equal(n, "a");
    assert_string_equal(v, "3");
    assert_false(lc_http_param_at(ex, 3, &n, &v));
    assert_int_equal(lc_http_method(ex), LC_HTTP_GET);
    lc_http_reply(ex, 204, NULL, "ignored", 7);
}

static void test_param_lookup(void **state)
{
    struct ht_env *env = *state;
    struct lc_http_conn *conn = ht_client(env, 2000);
    struct ht_result res;

    assert_int_equal(
        lc_http_server_route(env->srv, LC_HTTP_GET, "/lookup", h_lookup, NULL),
        0);
    ht_call(env, conn, &res, "GET", "/lookup?a=1&b&a=3", NULL, NULL);
    HT_ASSERT_RESULT(res, 204, "");
    lc_http_conn_close(conn);
}

/* ------------------------------------------------------------ parameters */

static void test_urlencode(void **state)
{
    char *out = NULL;
    size_t len = 0, cap = 0;
    char text[256];
    char dec[256];
    (void)state;

    assert_int_equal(
        lc_http_urlencode_append(&out, &len, &cap, "a b&c=d/\xc3\xa9~*._-"), 0);
    assert_string_equal(out, "a+b%26c%3Dd%2F%C3%A9%7E*._-");
    assert_int_equal(len, strlen(out));
    assert_int_equal(lc_http_urlencode_append(&out, &len, &cap, "+%"), 0);
    assert_string_equal(out, "a+b%26c%3Dd%2F%C3%A9%7E*._-%2B%25");

    /* Every byte but NUL survives the round trip. */
    for (int i = 1; i < 256; i++) {
        text[i - 1] = (char)i;
    }
    text[255] = '\0';
    len = 0;
    assert_int_equal(lc_http_urlencode_append(&out, &len, &cap, text), 0);
    assert_int_equal(lc_http_pct_decode(dec, out, len, true), 255);
    assert_memory_equal(dec, text, 255);
    free(out);

    assert_true(lc_http_is_form("application/x-www-form-urlencoded"));
    assert_true(lc_http_is_form(" APPLICATION/x-www-form-urlencoded ;a=b"));
    assert_false(lc_http_is_form("application/x-www-form-urlencoded2"));
    assert_false(lc_http_is_form("text/plain"));
    assert_false(lc_http_is_form(NULL));
}

static void test_urlencode_end_to_end(void **state)
{
    struct ht_env *env = *state;
    struct lc_http_conn *conn = ht_client(env, 2000);
    struct ht_result res;
    char *path = NULL;
    size_t len = 0, cap = 0;

    path = strdup("/echo?k=");
    len = strlen(path);
    cap = len + 1;
    assert_int_equal(
        lc_http_urlencode_append(&path, &len, &cap, "v a&l=u%+\xe4\xb8\xad"),
        0);
    ht_call(env, conn, &res, "GET", path, NULL, NULL);
    HT_ASSERT_RESULT(res, 200, "GET /echo\nk=v a&l=u%+\xe4\xb8\xad\nbody=");
    free(path);
    lc_http_conn_close(conn);
}

static void test_pct_decode(void **state)
{
    char out[64];
    size_t n;
    (void)state;

#define DEC(in, plus, want)                                                    \
    n = lc_http_pct_decode(out, in, strlen(in), plus);                         \
    assert_int_equal(n, strlen(want));                                         \
    assert_memory_equal(out, want, n)

    DEC("%41%4a%4A", true, "AJJ");
    DEC("a+b", true, "a b");
    DEC("a+b", false, "a+b");
    DEC("%", true, "%");
    DEC("%4", true, "%4");
    DEC("%4g", true, "%4g");
    DEC("x%", true, "x%");
    DEC("%00", true, "%00");
    DEC("%%41", true, "%A");
    DEC("%ff", true, "\xff");
#undef DEC
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, ht_setup, ht_teardown)
        T(test_params),
        T(test_param_lookup),
        cmocka_unit_test(test_urlencode),
        T(test_urlencode_end_to_end),
        cmocka_unit_test(test_pct_decode),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
