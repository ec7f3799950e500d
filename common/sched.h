/* Scheduling structures small enough to keep per task owner (the health
 * checker, naming/health/health_check.c, keeps one per persistent client):
 *
 * - a min-heap of due times: one uv timer serves every task, the heap says
 *   which is due next (no uv_timer_t per task);
 * - a FIFO of tasks waiting for a connect slot, with O(1) removal of any
 *   member (a client that goes away while queued).
 *
 * Both hold pointers to a `struct lc_sched_node` embedded in the task's owner
 * (a struct lc_client) and record their position in it, so removal needs no
 * search. Due times are uint32 milliseconds compared modulo 2^32 (serial
 * arithmetic): correct while every due time is within 2^31 ms (24 days) of
 * the others, far beyond any check interval.
 */
#ifndef LC_COMMON_SCHED_H
#define LC_COMMON_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Per-task scheduling state; all zero = unscheduled and unqueued. */
struct lc_sched_node {
    uint32_t due;      /* ms, on the checker's clock */
    uint32_t heap_pos; /* 1 + index in the heap, 0 = not in it */
    uint32_t fifo_pos; /* 1 + slot in the FIFO, 0 = not in it */
    int32_t rt;        /* the task's normalized check time, ms */
};

/* true when due time @a comes before @b. */
static inline bool lc_sched_before(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

struct lc_sched_heap {
    struct lc_sched_node **v;
    size_t n;
    size_t cap;
};

/* Add @x (not in the heap) with its due time set. Return 0 or LC_ENOMEM. */
int lc_sched_heap_push(struct lc_sched_heap *h, struct lc_sched_node *x);
/* The earliest, or NULL when empty. */
static inline struct lc_sched_node *lc_sched_heap_top(const struct lc_sched_heap *h)
{
    return h->n > 0 ? h->v[0] : NULL;
}
/* Remove @x (in the heap). */
void lc_sched_heap_remove(struct lc_sched_heap *h, struct lc_sched_node *x);
/* Empty it (every member's heap_pos back to 0) and release its memory. */
void lc_sched_heap_clear(struct lc_sched_heap *h);

/* A ring of slots; removed members leave a hole skipped by pop. */
struct lc_sched_fifo {
    struct lc_sched_node **v;
    size_t cap;  /* a power of two, or 0 */
    size_t head; /* slot of the first entry */
    size_t len;  /* slots in use from head, holes included */
    size_t n;    /* members */
};

/* Append @x (not in the FIFO). Return 0 or LC_ENOMEM. */
int lc_sched_fifo_push(struct lc_sched_fifo *f, struct lc_sched_node *x);
/* Put @x (not in the FIFO) back at the front. Return 0 or LC_ENOMEM. */
int lc_sched_fifo_push_front(struct lc_sched_fifo *f, struct lc_sched_node *x);
/* Take the first member out, or NULL when empty. */
struct lc_sched_node *lc_sched_fifo_pop(struct lc_sched_fifo *f);
/* Take @x (in the FIFO) out. */
void lc_sched_fifo_remove(struct lc_sched_fifo *f, struct lc_sched_node *x);
/* Empty it (every member's fifo_pos back to 0) and release its memory. */
void lc_sched_fifo_clear(struct lc_sched_fifo *f);

#endif /* LC_COMMON_SCHED_H */
