/* The error table's strings and the translations from libuv and raft codes. */
#include "common/err.h"

#include <raft.h>
#include <stdarg.h>
#include <stdio.h>
#include <uv.h>

const char *lc_strerror(int err)
{
    switch (err) {
        case 0:
            return "ok";
#define LC__ERR_MSG(name, value, msg, http, form, v2, grpc) \
    case name:                        \
        return msg;
            LC_ERR_TABLE(LC__ERR_MSG)
#undef LC__ERR_MSG
    }
    return "unknown error";
}

int lc_errf(int code, char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;

    if (buf != NULL && size > 0) {
        va_start(ap, fmt);
        vsnprintf(buf, size, fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *lc_errname(int err)
{
    switch (err) {
        case 0:
            return "OK";
#define LC__ERR_NAME(name, value, msg, http, form, v2, grpc) \
    case name:                         \
        return #name;
            LC_ERR_TABLE(LC__ERR_NAME)
#undef LC__ERR_NAME
    }
    return "LC_EUNKNOWN";
}

/* One row of the table's transport columns. */
struct row {
    int http;
    enum lc_err_form form;
    int v2;
    int grpc;
};

static struct row row_of(int err)
{
    switch (err) {
#define LC__ERR_ROW(name, value, msg, http, form, v2, grpc) \
    case name:                                              \
        return (struct row){http, LC_FORM_##form, v2, grpc};
        LC_ERR_TABLE(LC__ERR_ROW)
#undef LC__ERR_ROW
    }
    return (struct row){500, LC_FORM_TEXT, 30000, 500};
}

int lc_err_http_status(int err)
{
    return row_of(err).http;
}

enum lc_err_form lc_err_form(int err)
{
    return row_of(err).form;
}

int lc_err_v2_code(int err)
{
    return row_of(err).v2;
}

int lc_err_grpc_code(int err)
{
    return row_of(err).grpc;
}

const char *lc_err_v2_abstract(int v2_code)
{
    switch (v2_code) {
        case 0:
            return "success";
        case 10000:
            return "parameter missing";
        case 20002:
            return "parameter validate error";
        case 20004:
            return "resource not found";
        case 21007:
            return "service already exist";
        case 21008:
            return "service not exist";
        case 21009:
            return "service delete failure";
        default:
            return "server error";
    }
}

int lc_err_set(struct lc_err *e, int code, const char *fmt, ...)
{
    va_list ap;
    e->code = code;
    e->param[0] = '\0';
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

int lc_err_missing(struct lc_err *e, const char *name, int spring)
{
    lc_err_set(e, LC_EMISSING,
               spring ? "Parameter '%s' is missing" : "Param '%s' is required.",
               name);
    snprintf(e->param, sizeof e->param, "%s", name);
    return LC_EMISSING;
}

int lc_err_from_uv(int uv_err)
{
    switch (uv_err) {
        case 0:
            return 0;
        case UV_ENOMEM:
            return LC_ENOMEM;
        case UV_EINVAL:
        case UV_EAI_NONAME:
        case UV_EAI_FAMILY:
            return LC_EINVAL;
        case UV_ENOENT:
            return LC_ENOTFOUND;
        case UV_EEXIST:
        case UV_EADDRINUSE:
            return LC_EEXIST;
        case UV_ETIMEDOUT:
            return LC_ETIMEDOUT;
        case UV_ECANCELED:
            return LC_ECANCELED;
        case UV_ECONNREFUSED:
        case UV_ECONNRESET:
        case UV_EPIPE:
        case UV_ENOTCONN:
        case UV_EOF:
        case UV_EHOSTUNREACH:
        case UV_ENETUNREACH:
            return LC_ECONN;
        default:
            return LC_EIO;
    }
}

int lc_err_from_raft(int raft_err)
{
    switch (raft_err) {
        case 0:
            return 0;
        case RAFT_NOMEM:
            return LC_ENOMEM;
        case RAFT_NOTLEADER:
            return LC_ENOTLEADER;
        case RAFT_LEADERSHIPLOST:
            return LC_ELEADERSHIPLOST;
        case RAFT_SHUTDOWN:
            return LC_ESHUTDOWN;
        case RAFT_CORRUPT:
        case RAFT_MALFORMED:
            return LC_ECORRUPT;
        case RAFT_CANCELED:
            return LC_ECANCELED;
        case RAFT_TOOBIG:
            return LC_ETOOBIG;
        case RAFT_NOCONNECTION:
            return LC_ECONN;
        case RAFT_BUSY:
        case RAFT_CANTCHANGE:
            return LC_EBUSY;
        case RAFT_NOTFOUND:
        case RAFT_BADID:
            return LC_ENOTFOUND;
        case RAFT_INVALID:
        case RAFT_BADROLE:
        case RAFT_DUPLICATEID:
        case RAFT_DUPLICATEADDRESS:
            return LC_EINVAL;
        default:
            return LC_EIO;
    }
}
