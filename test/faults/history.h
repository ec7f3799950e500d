/* The fault suite's history checker: which final states of a key the
 * clients' operations allow, and whether what the members list is one of
 * them.
 *
 * Each key (one persistent instance) is a register: a registration sets it
 * present, a deregistration absent. An operation has an invoke and a
 * complete time on one monotonic clock and an outcome:
 *
 *   ok      acknowledged: it took effect at one instant in
 *           [invoke, complete];
 *   failed  definitely refused (the request was never sent, or a 4xx):
 *           it took no effect;
 *   unknown a timeout, a dropped connection, a 5xx: it took effect at one
 *           instant at or after invoke, however late, or never.
 *
 * The final state is the value written by the operation that took effect
 * last, or absent when none did. Operation X can be last unless an
 * acknowledged operation Y must follow it: Y invoked after X completed
 * (only an ok X completes; an unknown X may land after anything). So the
 * allowed final values are those of every such X, plus absent when no
 * operation was acknowledged. Operations overlapping in time may be ordered
 * either way, which this allows.
 */
#ifndef LC_TEST_FAULTS_HISTORY_H
#define LC_TEST_FAULTS_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fh_outcome { FH_OK, FH_FAILED, FH_UNKNOWN };

struct fh_op {
    unsigned key;
    bool reg; /* registration (true) or deregistration */
    enum fh_outcome outcome;
    uint64_t invoke_us;
    uint64_t complete_us; /* when the outcome was known */
    unsigned client;
};

/* What a key's final state may be. */
struct fh_allowed {
    bool present;
    bool absent;
    unsigned n_ops; /* operations on the key (any outcome) */
};

/* Unknown operations may take effect however late (linearizability with
 * indeterminate operations). */
#define FH_UNBOUNDED UINT64_MAX

/* The final states of @key that @ops (@n, any order, every key) allow,
 * when an unknown operation takes effect at most @late_us after its client
 * gave up on it (FH_UNBOUNDED: any time). A bound turns the check into a
 * stricter one: an unknown write applied long after a later acknowledged
 * write is then reported, as the writes that should have expired. */
struct fh_allowed fh_allowed(const struct fh_op *ops, size_t n, unsigned key,
                             uint64_t late_us);

/* Check one member's view: @present[k] for k < @n_keys says whether key k
 * is listed. @extra counts listed instances outside the key space (never
 * attempted: each is a violation). Every violation is described in @why
 * (one line each, appended while room lasts, @why may be NULL). Return the
 * number of violations. */
unsigned fh_check(const struct fh_op *ops, size_t n, const bool *present,
                  unsigned n_keys, unsigned extra, uint64_t late_us, char *why,
                  size_t why_len);

/* "ok", "failed", "unknown". */
const char *fh_outcome_name(enum fh_outcome o);

#endif /* LC_TEST_FAULTS_HISTORY_H */
