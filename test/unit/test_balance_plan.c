/* server/balance_plan.c: how many connections a member resets given every
 * member's count, where they are sent, the band, the batch, and that
 * members running the policy independently converge to within the band
 * and then stay still. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "server/balance_plan.h"

static unsigned plan(const unsigned *counts, unsigned n, unsigned self,
                     unsigned batch, unsigned *to)
{
    return lc_balance_plan(counts, n, self, 10, batch, to);
}

static void test_balanced_moves_nothing(void **state)
{
    unsigned to[3];
    (void)state;
    unsigned even[3] = {1000, 1000, 1000};
    unsigned inside[3] = {1090, 1000, 910}; /* inside ±10 % */
    unsigned zero[3] = {0, 0, 0};
    for (unsigned s = 0; s < 3; s++) {
        assert_int_equal(plan(even, 3, s, 1000, to), 0);
        assert_int_equal(plan(inside, 3, s, 1000, to), 0);
        assert_int_equal(plan(zero, 3, s, 1000, to), 0);
    }
    assert_false(lc_balance_unbalanced(inside, 3, 10));
    assert_true(lc_balance_unbalanced(inside, 3, 5));
}

/* After a rolling restart: the last member restarted holds nothing. */
static void test_after_restart(void **state)
{
    unsigned counts[3] = {1500, 1500, 0};
    unsigned to[3];
    (void)state;
    assert_int_equal(plan(counts, 3, 0, 10000, to), 500);
    assert_int_equal(to[0], 0);
    assert_int_equal(to[1], 0);
    assert_int_equal(to[2], 500);
    /* The empty member sheds nothing. */
    assert_int_equal(plan(counts, 3, 2, 10000, to), 0);
    assert_int_equal(to[0] + to[1] + to[2], 0);
}

static void test_batch_bounds(void **state)
{
    unsigned counts[3] = {1500, 1500, 0};
    unsigned to[3];
    (void)state;
    assert_int_equal(plan(counts, 3, 1, 50, to), 50);
    assert_int_equal(to[2], 50);
    assert_int_equal(plan(counts, 3, 1, 0, to), 0);
}

/* Two members below the average share the excess by how far below. */
static void test_split_over_underloaded(void **state)
{
    unsigned counts[3] = {3000, 0, 0};
    unsigned counts2[4] = {1600, 1000, 600, 800};
    unsigned to[4];
    (void)state;
    assert_int_equal(plan(counts, 3, 0, 10000, to), 2000);
    assert_int_equal(to[1], 1000);
    assert_int_equal(to[2], 1000);
    /* avg 1000: member 0 sheds 600, 400 below at 2, 200 below at 3. */
    assert_int_equal(plan(counts2, 4, 0, 10000, to), 600);
    assert_int_equal(to[1], 0);
    assert_int_equal(to[2], 400);
    assert_int_equal(to[3], 200);
    /* A batch smaller than the excess is still split, and sums up. */
    assert_int_equal(plan(counts2, 4, 0, 7, to), 7);
    assert_int_equal(to[2] + to[3], 7);
    assert_true(to[2] >= to[3]);
}

/* Tiny counts do not bounce one connection around: ceil(avg). */
static void test_small_counts(void **state)
{
    unsigned one[3] = {1, 0, 0};
    unsigned two[3] = {2, 0, 0};
    unsigned to[3];
    (void)state;
    for (unsigned s = 0; s < 3; s++) {
        assert_int_equal(plan(one, 3, s, 100, to), 0);
    }
    assert_int_equal(plan(two, 3, 0, 100, to), 1);
    assert_int_equal(to[1] + to[2], 1);
}

static void test_bad_arguments(void **state)
{
    unsigned counts[3] = {1500, 1500, 0};
    unsigned to[3] = {7, 7, 7};
    (void)state;
    assert_int_equal(plan(counts, 3, 3, 100, to), 0); /* self out of range */
    assert_int_equal(to[0] + to[1] + to[2], 0);
    assert_int_equal(plan(counts, 1, 0, 100, to), 0); /* alone */
}

/* Every member runs the policy on the same counts each tick, the moves are
 * applied, again: the cluster ends inside the band within a few ticks and
 * a further tick moves nothing. */
static void simulate(unsigned *counts, unsigned n, unsigned batch,
                     unsigned max_ticks)
{
    unsigned ticks = 0;
    for (;;) {
        unsigned moves[8][8];
        unsigned total = 0;
        for (unsigned i = 0; i < n; i++) {
            plan(counts, n, i, batch, moves[i]);
        }
        for (unsigned i = 0; i < n; i++) {
            for (unsigned j = 0; j < n; j++) {
                counts[i] -= moves[i][j];
                counts[j] += moves[i][j];
                total += moves[i][j];
            }
        }
        if (total == 0) {
            break;
        }
        assert_true(++ticks <= max_ticks);
    }
    assert_false(lc_balance_unbalanced(counts, n, 10));
}

static void test_converges_and_stays(void **state)
{
    unsigned a[3] = {1500, 1500, 0};
    unsigned b[3] = {3000, 0, 0};
    unsigned c[5] = {5000, 10, 3, 700, 1287};
    unsigned d[3] = {1200, 1200, 600};
    (void)state;
    simulate(a, 3, 50, 12);
    simulate(b, 3, 50, 40);
    simulate(c, 5, 100, 60);
    simulate(d, 3, 50, 8);
    for (unsigned i = 0; i < 3; i++) {
        assert_in_range(a[i], 900, 1100);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_balanced_moves_nothing),
        cmocka_unit_test(test_after_restart),
        cmocka_unit_test(test_batch_bounds),
        cmocka_unit_test(test_split_over_underloaded),
        cmocka_unit_test(test_small_counts),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_converges_and_stays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
