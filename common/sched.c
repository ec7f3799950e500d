/* Due-time heap and removable FIFO of the health checker (hc_sched.h). */
#include <stdlib.h>

#include "common/err.h"
#include "common/sched.h"

/* ---------------------------------------------------------------- heap */

static void heap_set(struct lc_sched_heap *h, size_t i, struct lc_sched_node *x)
{
    h->v[i] = x;
    x->heap_pos = (uint32_t)i + 1;
}

static void sift_up(struct lc_sched_heap *h, size_t i)
{
    struct lc_sched_node *x = h->v[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!lc_sched_before(x->due, h->v[parent]->due)) {
            break;
        }
        heap_set(h, i, h->v[parent]);
        i = parent;
    }
    heap_set(h, i, x);
}

static void sift_down(struct lc_sched_heap *h, size_t i)
{
    struct lc_sched_node *x = h->v[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) {
            break;
        }
        if (c + 1 < h->n && lc_sched_before(h->v[c + 1]->due, h->v[c]->due)) {
            c++;
        }
        if (!lc_sched_before(h->v[c]->due, x->due)) {
            break;
        }
        heap_set(h, i, h->v[c]);
        i = c;
    }
    heap_set(h, i, x);
}

int lc_sched_heap_push(struct lc_sched_heap *h, struct lc_sched_node *x)
{
    if (h->n == h->cap) {
        size_t cap = h->cap == 0 ? 64 : h->cap * 2;
        struct lc_sched_node **v = realloc(h->v, cap * sizeof *v);
        if (v == NULL) {
            return LC_ENOMEM;
        }
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n++] = x;
    sift_up(h, h->n - 1);
    return 0;
}

void lc_sched_heap_remove(struct lc_sched_heap *h, struct lc_sched_node *x)
{
    size_t i = (size_t)x->heap_pos - 1;
    struct lc_sched_node *last = h->v[--h->n];
    x->heap_pos = 0;
    if (last == x) {
        return;
    }
    heap_set(h, i, last);
    if (i > 0 && lc_sched_before(last->due, h->v[(i - 1) / 2]->due)) {
        sift_up(h, i);
    } else {
        sift_down(h, i);
    }
}

void lc_sched_heap_clear(struct lc_sched_heap *h)
{
    for (size_t i = 0; i < h->n; i++) {
        h->v[i]->heap_pos = 0;
    }
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

/* ---------------------------------------------------------------- fifo */

static int fifo_reserve(struct lc_sched_fifo *f)
{
    size_t cap;
    struct lc_sched_node **v;
    size_t k = 0;
    if (f->len < f->cap) {
        return 0;
    }
    /* Full (holes included): copy the members in order to a new ring,
     * twice as large unless holes free enough room. */
    cap = f->cap == 0 ? 64 : (f->n * 2 > f->cap ? f->cap * 2 : f->cap);
    v = malloc(cap * sizeof *v);
    if (v == NULL) {
        return LC_ENOMEM;
    }
    for (size_t i = 0; i < f->len; i++) {
        struct lc_sched_node *x = f->v[(f->head + i) & (f->cap - 1)];
        if (x != NULL) {
            v[k] = x;
            x->fifo_pos = (uint32_t)k + 1;
            k++;
        }
    }
    free(f->v);
    f->v = v;
    f->cap = cap;
    f->head = 0;
    f->len = k;
    return 0;
}

int lc_sched_fifo_push(struct lc_sched_fifo *f, struct lc_sched_node *x)
{
    size_t slot;
    if (fifo_reserve(f) != 0) {
        return LC_ENOMEM;
    }
    slot = (f->head + f->len) & (f->cap - 1);
    f->v[slot] = x;
    x->fifo_pos = (uint32_t)slot + 1;
    f->len++;
    f->n++;
    return 0;
}

int lc_sched_fifo_push_front(struct lc_sched_fifo *f, struct lc_sched_node *x)
{
    if (fifo_reserve(f) != 0) {
        return LC_ENOMEM;
    }
    f->head = (f->head + f->cap - 1) & (f->cap - 1);
    f->v[f->head] = x;
    x->fifo_pos = (uint32_t)f->head + 1;
    f->len++;
    f->n++;
    return 0;
}

struct lc_sched_node *lc_sched_fifo_pop(struct lc_sched_fifo *f)
{
    while (f->len > 0) {
        struct lc_sched_node *x = f->v[f->head];
        f->head = (f->head + 1) & (f->cap - 1);
        f->len--;
        if (x != NULL) {
            x->fifo_pos = 0;
            f->n--;
            return x;
        }
    }
    return NULL;
}

void lc_sched_fifo_remove(struct lc_sched_fifo *f, struct lc_sched_node *x)
{
    f->v[x->fifo_pos - 1] = NULL;
    x->fifo_pos = 0;
    f->n--;
    /* Trim holes at the ends so an emptied FIFO is empty. */
    while (f->len > 0 && f->v[f->head] == NULL) {
        f->head = (f->head + 1) & (f->cap - 1);
        f->len--;
    }
    while (f->len > 0 && f->v[(f->head + f->len - 1) & (f->cap - 1)] == NULL) {
        f->len--;
    }
}

void lc_sched_fifo_clear(struct lc_sched_fifo *f)
{
    for (size_t i = 0; i < f->len; i++) {
        struct lc_sched_node *x = f->v[(f->head + i) & (f->cap - 1)];
        if (x != NULL) {
            x->fifo_pos = 0;
        }
    }
    free(f->v);
    f->v = NULL;
    f->cap = f->head = f->len = f->n = 0;
}
