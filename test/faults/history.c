/* The history checker (history.h): allowed final states per key. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "test/faults/history.h"

const char *fh_outcome_name(enum fh_outcome o)
{
    switch (o) {
        case FH_OK:
            return "ok";
        case FH_FAILED:
            return "failed";
        case FH_UNKNOWN:
            return "unknown";
    }
    return "?";
}

struct fh_allowed fh_allowed(const struct fh_op *ops, size_t n, unsigned key,
                             uint64_t late_us)
{
    struct fh_allowed a = {false, false, 0};
    uint64_t max_ok_invoke = 0;
    bool any_ok = false;

    for (size_t i = 0; i < n; i++) {
        if (ops[i].key != key) {
            continue;
        }
        a.n_ops++;
        if (ops[i].outcome == FH_OK) {
            any_ok = true;
            if (ops[i].invoke_us > max_ok_invoke) {
                max_ok_invoke = ops[i].invoke_us;
            }
        }
    }
    /* Nothing acknowledged: it may be that nothing took effect. */
    a.absent = !any_ok;
    for (size_t i = 0; i < n; i++) {
        const struct fh_op *x = &ops[i];
        bool can_be_last;
        if (x->key != key || x->outcome == FH_FAILED) {
            continue;
        }
        /* An acknowledged op invoked after X completed must follow X; an
         * unknown X may land after all of them. */
        if (x->outcome == FH_OK) {
            can_be_last = x->complete_us >= max_ok_invoke;
        } else {
            can_be_last = late_us == FH_UNBOUNDED ||
                          x->complete_us + late_us >= max_ok_invoke;
        }
        if (can_be_last) {
            if (x->reg) {
                a.present = true;
            } else {
                a.absent = true;
            }
        }
    }
    return a;
}

static void say(char *why, size_t len, const char *fmt, ...)
{
    size_t used;
    va_list ap;
    if (why == NULL || len == 0) {
        return;
    }
    used = strlen(why);
    if (used + 1 >= len) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(why + used, len - used, fmt, ap);
    va_end(ap);
}

unsigned fh_check(const struct fh_op *ops, size_t n, const bool *present,
                  unsigned n_keys, unsigned extra, uint64_t late_us, char *why,
                  size_t why_len)
{
    unsigned violations = 0;
    for (unsigned k = 0; k < n_keys; k++) {
        struct fh_allowed a = fh_allowed(ops, n, k, late_us);
        if (present[k] && !a.present) {
            violations++;
            say(why, why_len,
                a.n_ops == 0 ? "key %u listed but never attempted\n"
                             : "key %u listed but no registration can have "
                               "taken effect last (%u ops)\n",
                k, a.n_ops);
        } else if (!present[k] && !a.absent) {
            violations++;
            say(why, why_len,
                "key %u missing but an acknowledged registration must "
                "have taken effect last (%u ops)\n",
                k, a.n_ops);
        }
    }
    if (extra > 0) {
        violations += extra;
        say(why, why_len, "%u listed instance(s) outside the key space\n",
            extra);
    }
    return violations;
}
