/* Tests of the health checker's scheduling structures (common/sched.c):
 * the due-time heap pops in due order (across the uint32 wrap too) and
 * removes any member; the FIFO keeps order through holes, fronts and
 * growth, and both reset their members when cleared. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "common/sched.h"

#define N 5000

static uint64_t rnd_state = 88172645463325252ULL;
static uint32_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return (uint32_t)rnd_state;
}

/* Pop everything: due times never go back (modulo 2^32 from @base). */
static size_t pop_all_in_order(struct lc_sched_heap *h, uint32_t base)
{
    size_t k = 0;
    uint32_t last = base;
    struct lc_sched_node *x;
    while ((x = lc_sched_heap_top(h)) != NULL) {
        assert_int_equal(x->heap_pos, 1);
        assert_false(lc_sched_before(x->due, last));
        last = x->due;
        lc_sched_heap_remove(h, x);
        assert_int_equal(x->heap_pos, 0);
        k++;
    }
    return k;
}

static void test_heap_order(void **state)
{
    static struct lc_sched_node nodes[N];
    struct lc_sched_heap h = {0};
    /* Due times within 5 s of a base close to the uint32 wrap. */
    const uint32_t base = UINT32_MAX - 2500;
    (void)state;
    memset(nodes, 0, sizeof nodes);
    for (size_t i = 0; i < N; i++) {
        nodes[i].due = base + 1000 + rnd() % 4000;
        assert_int_equal(lc_sched_heap_push(&h, &nodes[i]), 0);
        assert_int_not_equal(nodes[i].heap_pos, 0);
    }
    assert_int_equal(h.n, N);
    assert_true(lc_sched_before(UINT32_MAX, 5)); /* the wrap itself */
    /* Remove every third from the middle; the rest still pops in order. */
    for (size_t i = 0; i < N; i += 3) {
        lc_sched_heap_remove(&h, &nodes[i]);
        assert_int_equal(nodes[i].heap_pos, 0);
    }
    for (size_t i = 0; i < h.n; i++) {
        assert_int_equal(h.v[i]->heap_pos, i + 1);
    }
    assert_int_equal(pop_all_in_order(&h, base), N - (N + 2) / 3);
    lc_sched_heap_clear(&h);
}

static void test_heap_clear(void **state)
{
    struct lc_sched_node nodes[10];
    struct lc_sched_heap h = {0};
    (void)state;
    memset(nodes, 0, sizeof nodes);
    for (int i = 0; i < 10; i++) {
        nodes[i].due = (uint32_t)(10 - i);
        assert_int_equal(lc_sched_heap_push(&h, &nodes[i]), 0);
    }
    assert_ptr_equal(lc_sched_heap_top(&h), &nodes[9]);
    lc_sched_heap_clear(&h);
    assert_null(lc_sched_heap_top(&h));
    for (int i = 0; i < 10; i++) {
        assert_int_equal(nodes[i].heap_pos, 0);
    }
}

/* A model: the FIFO against a plain array of what it should hold. */
static void test_fifo_model(void **state)
{
    static struct lc_sched_node nodes[N];
    static struct lc_sched_node *model[4 * N];
    size_t mh = 2 * N, mt = 2 * N; /* model[mh..mt) */
    struct lc_sched_fifo f = {0};
    (void)state;
    memset(nodes, 0, sizeof nodes);
    for (unsigned step = 0; step < 40000; step++) {
        uint32_t r = rnd() % 10;
        struct lc_sched_node *x = &nodes[rnd() % N];
        if (r < 4) { /* push back */
            if (x->fifo_pos == 0) {
                assert_int_equal(lc_sched_fifo_push(&f, x), 0);
                model[mt++] = x;
            }
        } else if (r < 5) { /* push front */
            if (x->fifo_pos == 0) {
                assert_int_equal(lc_sched_fifo_push_front(&f, x), 0);
                model[--mh] = x;
            }
        } else if (r < 8) { /* pop */
            struct lc_sched_node *y = lc_sched_fifo_pop(&f);
            while (mh < mt && model[mh] == NULL) {
                mh++;
            }
            if (mh == mt) {
                assert_null(y);
            } else {
                assert_ptr_equal(y, model[mh]);
                assert_int_equal(y->fifo_pos, 0);
                mh++;
            }
        } else if (x->fifo_pos != 0) { /* remove from anywhere */
            lc_sched_fifo_remove(&f, x);
            assert_int_equal(x->fifo_pos, 0);
            for (size_t i = mh; i < mt; i++) {
                if (model[i] == x) {
                    model[i] = NULL;
                }
            }
        }
        /* Keep the model's window inside its array. */
        if (mh < N / 2 || mt > 4 * N - N / 2) {
            size_t k = 0;
            static struct lc_sched_node *tmp[4 * N];
            for (size_t i = mh; i < mt; i++) {
                if (model[i] != NULL) {
                    tmp[k++] = model[i];
                }
            }
            mh = 2 * N - k / 2;
            mt = mh + k;
            memcpy(&model[mh], tmp, k * sizeof *tmp);
        }
        {
            size_t live = 0;
            for (size_t i = mh; i < mt; i++) {
                live += model[i] != NULL;
            }
            assert_int_equal(f.n, live);
        }
    }
    /* Whatever is left pops in the model's order. */
    for (size_t i = mh; i < mt; i++) {
        if (model[i] != NULL) {
            assert_ptr_equal(lc_sched_fifo_pop(&f), model[i]);
        }
    }
    assert_null(lc_sched_fifo_pop(&f));
    assert_int_equal(f.len, 0);
    lc_sched_fifo_clear(&f);
}

static void test_fifo_clear(void **state)
{
    struct lc_sched_node nodes[100];
    struct lc_sched_fifo f = {0};
    (void)state;
    memset(nodes, 0, sizeof nodes);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(lc_sched_fifo_push(&f, &nodes[i]), 0);
    }
    lc_sched_fifo_remove(&f, &nodes[50]);
    assert_int_equal(f.n, 99);
    lc_sched_fifo_clear(&f);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(nodes[i].fifo_pos, 0);
    }
    assert_null(lc_sched_fifo_pop(&f));
    /* Usable again after a clear. */
    assert_int_equal(lc_sched_fifo_push(&f, &nodes[3]), 0);
    assert_ptr_equal(lc_sched_fifo_pop(&f), &nodes[3]);
    lc_sched_fifo_clear(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heap_order),
        cmocka_unit_test(test_heap_clear),
        cmocka_unit_test(test_fifo_model),
        cmocka_unit_test(test_fifo_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
