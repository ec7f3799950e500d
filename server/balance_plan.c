/* The connection-balancing policy (see balance_plan.h). */
#include <math.h>
#include <string.h>

#include "server/balance_plan.h"

int lc_balance_unbalanced(const unsigned *counts, unsigned n,
                          unsigned factor_pct)
{
    double total = 0;
    double avg;
    double f = factor_pct / 100.0;

    if (n < 2) {
        return 0;
    }
    for (unsigned i = 0; i < n; i++) {
        total += counts[i];
    }
    if (total == 0) {
        return 0;
    }
    avg = total / n;
    for (unsigned i = 0; i < n; i++) {
        if (counts[i] > avg * (1 + f) || counts[i] < avg * (1 - f)) {
            return 1;
        }
    }
    return 0;
}

unsigned lc_balance_plan(const unsigned *counts, unsigned n, unsigned self,
                         unsigned factor_pct, unsigned batch, unsigned *to)
{
    double total = 0;
    double avg;
    double deficit = 0;
    double rest[32];
    unsigned target;
    unsigned reset;
    unsigned given = 0;

    if (n > 0) {
        memset(to, 0, n * sizeof *to);
    }
    if (n < 2 || n > 32 || self >= n || batch == 0 ||
        !lc_balance_unbalanced(counts, n, factor_pct)) {
        return 0;
    }
    for (unsigned i = 0; i < n; i++) {
        total += counts[i];
    }
    avg = total / n;
    target = (unsigned)ceil(avg);
    if (counts[self] <= target) {
        return 0;
    }
    reset = counts[self] - target;
    if (reset > batch) {
        reset = batch;
    }
    for (unsigned i = 0; i < n; i++) {
        if (i != self && counts[i] < avg) {
            deficit += avg - counts[i];
        }
    }
    if (deficit <= 0) {
        return 0; /* cannot happen when self is above ceil(avg) */
    }
    /* Largest remainder: whole shares first, then one each to the largest
     * fractions until every reset has a destination. */
    for (unsigned i = 0; i < n; i++) {
        double share = 0;
        if (i != self && counts[i] < avg) {
            share = reset * (avg - counts[i]) / deficit;
        }
        to[i] = (unsigned)floor(share);
        rest[i] = share - to[i];
        given += to[i];
    }
    while (given < reset) {
        unsigned best = n;
        for (unsigned i = 0; i < n; i++) {
            if (i != self && counts[i] < avg &&
                (best == n || rest[i] > rest[best])) {
                best = i;
            }
        }
        to[best]++;
        rest[best] = -1;
        given++;
    }
    return reset;
}
