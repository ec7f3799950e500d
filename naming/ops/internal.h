/* Private to naming/ops/: how the operations complete their writes. */
#ifndef LC_NAMING_OPS_INTERNAL_H
#define LC_NAMING_OPS_INTERNAL_H

#include "naming/ops/ops.h"

/* How a group's write failures read (Nacos words them per service). */
enum {
    LC_OP_ERRORS_INSTANCE, /* instances, overlays, health, switches */
    LC_OP_ERRORS_METADATA, /* service metadata */
};

/* Prepare @op for a write: returns the lc_sm_write to submit with
 * lc_op_written_cb(), which completes @op with @errors' wording. */
struct lc_sm_write *lc_op_start(struct lc_op *op, int errors, lc_op_cb cb);
lc_sm_write_cb lc_op_written_cb(void);

/* After submitting: @rv is the submit's return. Marks @op pending, or
 * words the failure into @e and returns its code. */
int lc_op_submitted(struct lc_op *op, int rv, struct lc_err *e);

/* A write that came back: 0, or the failure worded into @e. */
int lc_op_write_result(int errors, int status,
                       const struct lc_raft_result *result, struct lc_err *e);

/* A submit that failed with @status, worded into @e. */
int lc_op_submit_failed(int errors, int status, struct lc_err *e);

#endif /* LC_NAMING_OPS_INTERNAL_H */
