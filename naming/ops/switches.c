/* The switch domain's operations, as Nacos 2.4.3's SwitchManager: read
 * this node's applied domain; change one entry, validated first on a copy
 * (a bad value changes nothing anywhere), then written through Raft (group
 * naming_persistent_service) and answered once applied here; debug changes
 * only this node's copy, without Raft, as Nacos does. */
#include "common/util.h"
#include "naming/ops/entries.h"
#include "naming/ops/internal.h"

int lc_op_switches(struct lc_naming *n, json_t **out, struct lc_err *e)
{
    *out = lc_switches_json(&n->sw);
    if (*out == NULL) {
        return lc_err_set(e, LC_ENOMEM, "out of memory");
    }
    return 0;
}

int lc_op_switch_update(struct lc_naming *n, const char *entry,
                        const char *value, bool debug, struct lc_op *op,
                        lc_op_cb cb, struct lc_err *e)
{
    struct lc_switches probe;
    struct lc_sm_write *w;
    char msg[512];
    int rv;

    op->pending = false;
    if (lc_switches_copy(&probe, &n->sw) != 0) {
        return lc_err_set(e, LC_ENOMEM, "out of memory");
    }
    rv = lc_switches_update(debug ? &n->sw : &probe, entry, value, msg,
                            sizeof msg);
    lc_switches_clear(&probe);
    if (rv != 0) {
        return lc_err_set(e, rv == LC_EINVAL ? LC_EINVAL : LC_ESERVER, "%s",
                          msg);
    }
    if (debug) { /* SwitchManager.update(domain): this node only */
        return 0;
    }
    w = lc_op_start(op, LC_OP_ERRORS_INSTANCE, cb);
    return lc_op_submitted(
        op, lc_entry_write_switch(n, entry, value, w, lc_op_written_cb()), e);
}
