/* Per-phase accounting of loop time for the lag monitor (loopmon.h). */
#include <stddef.h>

#include "common/log.h"
#include "common/loopmon.h"
#include "common/util.h"

#define MAX_PHASES 16

struct phase {
    const char *name;
    uint64_t us; /* time charged since the last report */
};

static struct phase phases[MAX_PHASES];
static unsigned n_phases;
static const char *current;
static unsigned depth;
static uint64_t entered_us;
static uint64_t max_ms;
static const char *max_phase;

void lc_loopmon_enter(const char *phase)
{
    if (depth++ == 0) {
        current = phase;
        entered_us = lc_mono_us();
    }
}

static struct phase *phase_slot(const char *name)
{
    for (unsigned i = 0; i < n_phases; i++) {
        if (phases[i].name == name) {
            return &phases[i];
        }
    }
    if (n_phases == MAX_PHASES) {
        return NULL; /* more names than expected: not charged */
    }
    phases[n_phases].name = name;
    phases[n_phases].us = 0;
    return &phases[n_phases++];
}

void lc_loopmon_leave(void)
{
    struct phase *p;
    if (depth == 0 || --depth > 0) {
        return;
    }
    p = phase_slot(current);
    if (p != NULL) {
        p->us += lc_mono_us() - entered_us;
    }
    current = NULL;
}

void lc_loopmon_report(uint64_t late_ms)
{
    const struct phase *top = NULL;
    for (unsigned i = 0; i < n_phases; i++) {
        if (top == NULL || phases[i].us > top->us) {
            top = &phases[i];
        }
    }
    if (late_ms > 0) {
        /* Charged time can exceed the lateness (work done while the timer
         * was not yet due); the lateness is what requests waited. */
        if (top != NULL && top->us >= 1000 * late_ms / 4) {
            lc_warnf("server",
                     "event loop blocked %llu ms in %s (%llu ms in it since "
                     "the last tick)",
                     (unsigned long long)late_ms, top->name,
                     (unsigned long long)(top->us / 1000));
        } else {
            lc_warnf("server",
                     "event loop blocked %llu ms outside named phases",
                     (unsigned long long)late_ms);
        }
        if (late_ms > max_ms) {
            max_ms = late_ms;
            max_phase = top != NULL && top->us >= 1000 * late_ms / 4
                            ? top->name
                            : "outside named phases";
        }
    }
    for (unsigned i = 0; i < n_phases; i++) {
        phases[i].us = 0;
    }
}

uint64_t lc_loopmon_max_ms(const char **phase)
{
    if (phase != NULL) {
        *phase = max_phase;
    }
    return max_ms;
}
