/* The fault suite's history checker (test/faults/history.c) on synthetic
 * histories: ones every correct store may produce must pass, ones that
 * lose an acknowledged write, keep an undone one or invent one must fail.
 * Times are in microseconds on one clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "test/faults/history.h"

#define REG(key, o, from, to) {key, true, FH_##o, from, to, 0}
#define DEREG(key, o, from, to) {key, false, FH_##o, from, to, 1}

/* Violations of @ops when key 0 is @present (one key, nothing extra). */
static unsigned check1(const struct fh_op *ops, size_t n, bool present,
                       uint64_t late)
{
    char why[512] = "";
    return fh_check(ops, n, &present, 1, 0, late, why, sizeof why);
}

static void expect(const struct fh_op *ops, size_t n, bool present_ok,
                   bool absent_ok)
{
    assert_int_equal(check1(ops, n, true, FH_UNBOUNDED), present_ok ? 0 : 1);
    assert_int_equal(check1(ops, n, false, FH_UNBOUNDED), absent_ok ? 0 : 1);
}

static void test_empty(void **state)
{
    (void)state;
    expect(NULL, 0, false, true);
}

static void test_sequential(void **state)
{
    const struct fh_op reg[] = {REG(0, OK, 10, 20)};
    const struct fh_op reg_dereg[] = {REG(0, OK, 10, 20),
                                      DEREG(0, OK, 30, 40)};
    const struct fh_op again[] = {REG(0, OK, 10, 20), DEREG(0, OK, 30, 40),
                                  REG(0, OK, 50, 60)};
    (void)state;
    expect(reg, 1, true, false);
    expect(reg_dereg, 2, false, true);
    expect(again, 3, true, false);
}

/* Overlapping acknowledged ops may be ordered either way. */
static void test_concurrent(void **state)
{
    const struct fh_op overlap[] = {REG(0, OK, 10, 50), DEREG(0, OK, 20, 40)};
    /* The deregistration overlaps the first registration only; the second
     * registration starts after it completed, so it comes last. */
    const struct fh_op later[] = {DEREG(0, OK, 10, 100), REG(0, OK, 20, 30),
                                  REG(0, OK, 110, 120)};
    /* Listed in any order: clients interleave in the log. */
    const struct fh_op shuffled[] = {DEREG(0, OK, 30, 40), REG(0, OK, 50, 60),
                                     REG(0, OK, 10, 20)};
    (void)state;
    expect(overlap, 2, true, true);
    expect(later, 3, true, false);
    expect(shuffled, 3, true, false);
}

static void test_unknown(void **state)
{
    /* An unknown deregistration after an ok registration: either. */
    const struct fh_op dereg_unknown[] = {REG(0, OK, 10, 20),
                                          DEREG(0, UNKNOWN, 30, 40)};
    /* An unknown registration only: either. */
    const struct fh_op reg_unknown[] = {REG(0, UNKNOWN, 10, 20)};
    /* An unknown registration long before an acknowledged deregistration
     * may still land after it (indeterminate ops linearize anywhere after
     * their invocation). */
    const struct fh_op stale[] = {REG(0, UNKNOWN, 10, 20),
                                  DEREG(0, OK, 1000000, 1000010)};
    /* An unknown deregistration of what was never registered. */
    const struct fh_op never[] = {DEREG(0, UNKNOWN, 10, 20)};
    (void)state;
    expect(dereg_unknown, 2, true, true);
    expect(reg_unknown, 1, true, true);
    expect(stale, 2, true, true);
    expect(never, 1, false, true);
    /* With a bound on lateness, the stale registration may not come back
     * but a recent one still may. */
    assert_int_equal(check1(stale, 2, true, 500000), 1);
    assert_int_equal(check1(stale, 2, true, 999990), 0);
    assert_int_equal(check1(stale, 2, false, 500000), 0);
}

/* A failed op took no effect. */
static void test_failed(void **state)
{
    const struct fh_op reg_failed[] = {REG(0, FAILED, 10, 20)};
    const struct fh_op dereg_failed[] = {REG(0, OK, 10, 20),
                                         DEREG(0, FAILED, 30, 40)};
    (void)state;
    expect(reg_failed, 1, false, true);
    expect(dereg_failed, 2, true, false);
}

/* Several keys, instances outside the key space, and the messages. */
static void test_keys(void **state)
{
    const struct fh_op ops[] = {REG(0, OK, 10, 20), REG(1, OK, 10, 20),
                                DEREG(1, OK, 30, 40), REG(2, UNKNOWN, 5, 6)};
    bool good[4] = {true, false, true, false};
    bool lost[4] = {false, false, false, false};
    bool phantom[4] = {true, true, false, true};
    char why[512] = "";
    (void)state;
    assert_int_equal(fh_check(ops, 4, good, 4, 0, FH_UNBOUNDED, why,
                              sizeof why),
                     0);
    assert_string_equal(why, "");
    assert_int_equal(fh_check(ops, 4, lost, 4, 0, FH_UNBOUNDED, why,
                              sizeof why),
                     1);
    assert_non_null(strstr(why, "key 0 missing"));
    why[0] = '\0';
    assert_int_equal(fh_check(ops, 4, phantom, 4, 0, FH_UNBOUNDED, why,
                              sizeof why),
                     2);
    assert_non_null(strstr(why, "key 1 listed"));
    assert_non_null(strstr(why, "key 3 listed but never attempted"));
    why[0] = '\0';
    assert_int_equal(fh_check(ops, 4, good, 4, 2, FH_UNBOUNDED, why,
                              sizeof why),
                     2);
    assert_non_null(strstr(why, "outside the key space"));
    /* No room for messages: still counted. */
    assert_int_equal(fh_check(ops, 4, lost, 4, 0, FH_UNBOUNDED, NULL, 0), 1);
}

/* A long random history from a simulated register with known effect
 * times: the true final state always passes. */
static void test_simulated(void **state)
{
    enum { N = 4000, KEYS = 5 };
    struct fh_op *ops = calloc(N, sizeof *ops);
    bool truth[KEYS] = {false};
    uint64_t last_effect[KEYS] = {0};
    (void)state;
    srand(7);
    for (size_t i = 0; i < N; i++) {
        struct fh_op *op = &ops[i];
        uint64_t invoke = (uint64_t)i * 10 + (uint64_t)(rand() % 5);
        uint64_t effect = invoke + (uint64_t)(rand() % 40);
        int r = rand() % 10;
        op->key = (unsigned)(rand() % KEYS);
        op->reg = rand() % 2 == 0;
        op->invoke_us = invoke;
        op->complete_us = effect + (uint64_t)(rand() % 40);
        op->outcome = r < 7 ? FH_OK : r < 8 ? FH_FAILED : FH_UNKNOWN;
        /* ok ops take effect; unknown ones half the time, up to 500 us
         * late; effects in time order decide the truth. */
        if (op->outcome == FH_UNKNOWN && rand() % 2 == 0) {
            effect = op->complete_us + (uint64_t)(rand() % 500);
        } else if (op->outcome != FH_OK) {
            continue;
        }
        if (effect >= last_effect[op->key]) {
            last_effect[op->key] = effect;
            truth[op->key] = op->reg;
        }
    }
    assert_int_equal(fh_check(ops, N, truth, KEYS, 0, FH_UNBOUNDED, NULL, 0),
                     0);
    assert_int_equal(fh_check(ops, N, truth, KEYS, 0, 500, NULL, 0), 0);
    free(ops);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),     cmocka_unit_test(test_sequential),
        cmocka_unit_test(test_concurrent), cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_failed),    cmocka_unit_test(test_keys),
        cmocka_unit_test(test_simulated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
