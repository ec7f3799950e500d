/* What every operation shares (ops.h): the readiness gate, consistent
 * reads, and the completion of writes through Raft with Nacos's messages
 * for each way a write can fail. */
#include "naming/ops/ops.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "naming/ops/internal.h"

int lc_op_ready(struct lc_naming *n, struct lc_err *e)
{
    if (!lc_naming_ready(n)) {
        return lc_err_set(e, LC_ENOTREADY,
                          "server is STARTINGnow, please try again later!");
    }
    return 0;
}

/* The engine's failure of a write or read (@status) as Nacos words it.
 * "No leader" is said only when none was reachable (the request never left
 * this member, or was refused there); a leader that did not answer in time
 * is another case, and the write may then still be applied. */
static int raft_failed(int errors, int status, bool read, struct lc_err *e)
{
    const char *what = read ? "read" : "write";
    switch (status) {
        case LC_ENOTREADY:
            return lc_err_set(e, LC_ENOTREADY,
                              "server is STARTINGnow, please try again "
                              "later!");
        case LC_ESHUTDOWN:
            return lc_err_set(e, LC_ESHUTDOWN,
                              "server is DOWNnow, please try again later!");
    }
    if (errors == LC_OP_ERRORS_METADATA) {
        /* NamingMetadataOperateService's NacosRuntimeException */
        return lc_err_set(e, LC_ESERVER,
                          "errCode: 500, errMsg: do metadata operation "
                          "failed (%s) ",
                          lc_strerror(status));
    }
    switch (status) {
        case LC_ENOLEADER:
            return lc_err_set(e, LC_ENOLEADER,
                              "raft %s failed: no raft leader is reachable "
                              "from this member (it cannot reach a majority "
                              "or an election is under way); it was not "
                              "applied, retry on another member",
                              what);
        case LC_ETIMEDOUT:
            if (read) {
                return lc_err_set(e, LC_ETIMEDOUT,
                                  "raft read timed out: the raft leader did "
                                  "not confirm it in time, retry");
            }
            return lc_err_set(e, LC_ETIMEDOUT,
                              "raft write timed out: the raft leader did not "
                              "commit it in time; it may still be applied, "
                              "retry");
        case LC_ELEADERSHIPLOST:
            return lc_err_set(e, LC_ELEADERSHIPLOST,
                              "raft leadership changed before the write was "
                              "committed; it may or may not be applied, "
                              "retry");
        case LC_ECONN:
            if (read) {
                return lc_err_set(e, LC_ECONN,
                                  "lost the connection to the raft leader "
                                  "before it confirmed the read, retry");
            }
            return lc_err_set(e, LC_ECONN,
                              "lost the connection to the raft leader before "
                              "it answered; the write may or may not be "
                              "applied, retry");
    }
    return lc_err_set(e, LC_ESERVER, "raft %s failed: %s", what,
                      lc_strerror(status));
}

static int write_failed(int errors, int status, struct lc_err *e)
{
    return raft_failed(errors, status, false, e);
}

int lc_op_write_result(int errors, int status,
                       const struct lc_raft_result *result, struct lc_err *e)
{
    if (status != 0) {
        return write_failed(errors, status, e);
    }
    if (result->status == 0) {
        return 0;
    }
    if (errors == LC_OP_ERRORS_METADATA) {
        return lc_err_set(e, LC_ESERVER,
                          "errCode: 500, errMsg: do metadata operation "
                          "failed %s ",
                          result->message);
    }
    /* The processor's verdict: a request it refuses is the client's. */
    return lc_err_set(e, result->status == LC_EINVAL ? LC_EINVAL : LC_ESERVER,
                      "%s", result->message);
}

int lc_op_submit_failed(int errors, int status, struct lc_err *e)
{
    if (status == LC_ENOMEM) {
        return lc_err_set(e, LC_ENOMEM, "out of memory");
    }
    return write_failed(errors, status, e);
}

static void on_written(struct lc_sm_write *w, int status,
                       const struct lc_raft_result *result)
{
    struct lc_op *op = w->data;
    struct lc_err e;
    op->pending = false;
    if (lc_op_write_result(op->errors, status, result, &e) != 0) {
        op->cb(op, &e);
    } else {
        op->cb(op, NULL);
    }
}

struct lc_sm_write *lc_op_start(struct lc_op *op, int errors, lc_op_cb cb)
{
    op->result = NULL;
    op->pending = false;
    op->cb = cb;
    op->errors = errors;
    memset(&op->w, 0, sizeof op->w);
    op->w.data = op;
    return &op->w;
}

lc_sm_write_cb lc_op_written_cb(void)
{
    return on_written;
}

int lc_op_submitted(struct lc_op *op, int rv, struct lc_err *e)
{
    if (rv != 0) {
        return lc_op_submit_failed(op->errors, rv, e);
    }
    op->pending = true;
    return 0;
}

/* ------------------------------------------------------------- barrier */

static void on_barrier(struct lc_sm_read *rd, int status,
                       const Locus__Consistency__Response *resp)
{
    struct lc_op *op = rd->data;
    struct lc_err e;
    (void)resp;
    op->pending = false;
    if (status != 0) {
        raft_failed(LC_OP_ERRORS_INSTANCE, status, true, &e);
        op->cb(op, &e);
    } else {
        op->cb(op, NULL);
    }
}

static int barrier(struct lc_statemachine *sm, struct lc_op *op, lc_op_cb cb,
                   struct lc_err *e)
{
    int rv;
    lc_op_start(op, LC_OP_ERRORS_INSTANCE, cb);
    memset(&op->rd, 0, sizeof op->rd);
    op->rd.data = op;
    rv = lc_sm_read(sm, &op->rd, "", 0, on_barrier);
    if (rv != 0) {
        return raft_failed(LC_OP_ERRORS_INSTANCE, rv, true, e);
    }
    op->pending = true;
    return 0;
}

int lc_op_barrier(struct lc_naming *n, struct lc_op *op, lc_op_cb cb,
                  struct lc_err *e)
{
    return barrier(n->persistent_sm, op, cb, e);
}

int lc_op_barrier_meta(struct lc_naming *n, struct lc_op *op, lc_op_cb cb,
                       struct lc_err *e)
{
    return barrier(n->instance_meta_sm, op, cb, e);
}

/* --------------------------------------------------------------- names */

int lc_op_instance_names(struct lc_instance_req *r, const char *grouped,
                         struct lc_err *e)
{
    const char *group;
    size_t glen;
    const char *service;
    if (!lc_strlcpy(r->grouped, grouped, sizeof r->grouped) ||
        !lc_split_grouped(r->grouped, &group, &glen, &service) ||
        glen >= sizeof r->group ||
        !lc_strlcpy(r->service, service, sizeof r->service)) {
        return lc_check_service_name(grouped, e) != 0
                   ? e->code
                   : lc_err_set(e, LC_EINVAL, "service name too long: %s",
                                grouped);
    }
    memcpy(r->group, group, glen);
    r->group[glen] = '\0';
    return 0;
}
