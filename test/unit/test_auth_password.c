/* Tests of auth/password.c: BCrypt through libxcrypt as Nacos stores it,
 * the variants accepted and refused, the generated admin password, and the
 * thread-pool hash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "auth/internal.h"
#include "common/err.h"

/* Nacos's published hash of "nacos" (mysql-schema.sql until 2.3.x). */
static const char NACOS_HASH[] =
    "$2a$10$EuWPZHzz32dJN7jexM34MOeYirDdFAZm2kuWj7VEOJhhZkDrxfvUu";

static void test_nacos_published_hash(void **state)
{
    (void)state;
    assert_true(lc_password_verify("nacos", NACOS_HASH));
    assert_false(lc_password_verify("nacos1", NACOS_HASH));
    assert_false(lc_password_verify("Nacos", NACOS_HASH));
    assert_false(lc_password_verify("", NACOS_HASH));
    assert_false(lc_password_verify(NULL, NACOS_HASH));
}

static void test_variants(void **state)
{
    (void)state;
    /* The same hash as $2b$ and $2y$ (identical for ASCII passwords). */
    char h[sizeof NACOS_HASH];
    memcpy(h, NACOS_HASH, sizeof h);
    h[2] = 'b';
    assert_true(lc_password_verify("nacos", h));
    h[2] = 'y';
    assert_true(lc_password_verify("nacos", h));
    /* $2x$ (the buggy variant), $2$ and anything else: refused. */
    h[2] = 'x';
    assert_false(lc_password_verify("nacos", h));
    h[2] = 'a';
    h[5] = '1'; /* $2a$11$: another cost, so another hash */
    assert_false(lc_password_verify("nacos", h));
}

static void test_refused_forms(void **state)
{
    (void)state;
    static const char *const bad[] = {
        NULL,
        "",
        "*0",
        "*1",
        "nacos",
        /* DES, MD5 and SHA-512 crypt forms: libxcrypt knows them all. */
        "nagcaArRyPGXo",
        "$1$saltsalt$PKfvyuyqAF/.GNkDdFmQp1",
        "$6$saltsalt$1x9LtUnU/yp2VB7/5/ERD.uHLh2Gx0a6pXQDQN1lXqDq2jcsbMHOQ/"
        "t8yDn7QoJLgT6bA4ZbNKCmX96ecyc4y/",
        /* truncated, too long, bad character, cost out of range */
        "$2a$10$EuWPZHzz32dJN7jexM34MOeYirDdFAZm2kuWj7VEOJhhZkDrxfvU",
        "$2a$10$EuWPZHzz32dJN7jexM34MOeYirDdFAZm2kuWj7VEOJhhZkDrxfvUuu",
        "$2a$10$EuWPZHzz32dJN7jexM34MOeYirDdFAZm2kuWj7VEOJhhZkDrxfv!u",
        "$2a$03$EuWPZHzz32dJN7jexM34MOeYirDdFAZm2kuWj7VEOJhhZkDrxfvUu",
        "$2a$32$EuWPZHzz32dJN7jexM34MOeYirDdFAZm2kuWj7VEOJhhZkDrxfvUu",
        "$2a$1a$EuWPZHzz32dJN7jexM34MOeYirDdFAZm2kuWj7VEOJhhZkDrxfvUu",
        "$2a$10EuWPZHzz32dJN7jexM34MOeYirDdFAZm2kuWj7VEOJhhZkDrxfvUu$",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(lc_password_verify("nacos", bad[i]));
        assert_false(lc_password_verify("", bad[i]));
    }
}

static void test_hash_round_trip(void **state)
{
    (void)state;
    char h1[128], h2[128];
    assert_int_equal(lc_password_hash("s3cret!", h1, sizeof h1), 0);
    assert_int_equal(strlen(h1), 60);
    assert_memory_equal(h1, "$2a$10$", 7);
    assert_true(lc_password_verify("s3cret!", h1));
    assert_false(lc_password_verify("s3cret", h1));
    /* A fresh salt each time. */
    assert_int_equal(lc_password_hash("s3cret!", h2, sizeof h2), 0);
    assert_string_not_equal(h1, h2);
    assert_true(lc_password_verify("s3cret!", h2));
    /* Empty passwords hash too (the endpoints refuse them). */
    assert_int_equal(lc_password_hash("", h1, sizeof h1), 0);
    assert_true(lc_password_verify("", h1));
    assert_false(lc_password_verify("x", h1));
    /* Too small an output. */
    assert_int_equal(lc_password_hash("x", h1, 60), LC_EINVAL);
    assert_int_equal(lc_password_hash(NULL, h1, sizeof h1), LC_EINVAL);
}

static int count_in(const char *p, const char *set)
{
    int n = 0;
    for (; *p != '\0'; p++)
        if (strchr(set, *p) != NULL)
            n++;
    return n;
}

static void test_generate(void **state)
{
    (void)state;
    const char *all = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "0123456789!@#$%&";
    char seen[200][9];
    int first_pos_special = 0;
    for (int i = 0; i < 200; i++) {
        char p[16];
        memset(p, 'x', sizeof p);
        lc_password_generate(p);
        assert_int_equal(strlen(p), 8);
        assert_int_equal(count_in(p, all), 8);
        assert_true(count_in(p, "abcdefghijklmnopqrstuvwxyz") >= 1);
        assert_true(count_in(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") >= 1);
        assert_true(count_in(p, "0123456789") >= 1);
        assert_true(count_in(p, "!@#$%&") >= 1);
        assert_int_equal(p[9], 'x');
        if (strchr("!@#$%&", p[0]) != NULL)
            first_pos_special++;
        memcpy(seen[i], p, 9);
        for (int k = 0; k < i; k++)
            assert_string_not_equal(seen[k], p);
    }
    /* Shuffled: the special character is not always in one place. */
    assert_true(first_pos_special < 200);
}

/* ------------------------------------------------------------ async */

struct lc_auth;
static uv_loop_t *test_loop;
/* password.c asks the module for its loop; this test has no module. */
uv_loop_t *lc_auth_loop(struct lc_auth *a)
{
    (void)a;
    return test_loop;
}

/* The module's pool budget: a fixed number of slots here. */
static int slots = 100, taken;
int lc_auth_pool_take(struct lc_auth *a)
{
    (void)a;
    if (taken >= slots)
        return LC_EBUSY;
    taken++;
    return 0;
}
bool lc_auth_pool_give(struct lc_auth *a)
{
    (void)a;
    taken--;
    return false;
}
bool lc_auth_detached(const struct lc_auth *a)
{
    (void)a;
    return false;
}

static int done_calls;
static int done_status;
static void on_hashed(struct lc_auth_hash_job *j, int status)
{
    done_calls++;
    done_status = status;
    assert_ptr_equal(j->data, &done_calls);
}

static void test_hash_async(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    test_loop = &loop;
    struct lc_auth_hash_job j;
    memset(&j, 0, sizeof j);
    j.data = &done_calls;
    done_calls = 0;
    assert_int_equal(lc_auth_hash_async(NULL, &j, "pw-1", on_hashed), 0);
    /* Never from inside the call. */
    assert_int_equal(done_calls, 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(done_calls, 1);
    assert_int_equal(done_status, 0);
    assert_true(lc_password_verify("pw-1", j.hash));
    /* The password is not kept. */
    char zero[sizeof j.password];
    memset(zero, 0, sizeof zero);
    assert_memory_equal(j.password, zero, sizeof zero);

    /* Too long to hold: refused at once, no callback. */
    char big[600];
    memset(big, 'p', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(lc_auth_hash_async(NULL, &j, big, on_hashed),
                     LC_ETOOBIG);
    assert_int_equal(lc_auth_hash_async(NULL, &j, NULL, on_hashed), LC_EINVAL);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(done_calls, 1);
    /* The slot was given back; with none left: refused at once. */
    assert_int_equal(taken, 0);
    slots = 0;
    assert_int_equal(lc_auth_hash_async(NULL, &j, "pw-2", on_hashed),
                     LC_EBUSY);
    slots = 100;
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(done_calls, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nacos_published_hash),
        cmocka_unit_test(test_variants),
        cmocka_unit_test(test_refused_forms),
        cmocka_unit_test(test_hash_round_trip),
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_hash_async),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
