/* locus error codes: one table for every module and every transport.
 *
 * Each LC_E* code carries what each transport answers with it, so that no
 * layer maps errors by reading message text:
 *
 *   http    the HTTP status of the Open API (v1 and v2)
 *   form    the shape of a v1 error body, as Nacos 2.4.3 produces it
 *   v2      the v2 Open API's Result code (ErrorCode: 10000 parameter
 *           missing, 20002 parameter validate error, 20004 resource not
 *           found, 21007/21008/21009 service exists / does not exist / cannot
 *           be deleted, 30000 server error); its "message" is the code's
 *           abstract (lc_err_v2_abstract), its "data" the error's message
 *   grpc    the errorCode of a gRPC ErrorResponse (NacosException codes:
 *           300 server not started, 302 no handler, 400 invalid parameter,
 *           403 no right, 404 not found, 500 server error, 503 over
 *           threshold)
 *
 * Foreign codes (UV_E*, RAFT_*, SQLITE_*) are translated at module edges.
 */
#ifndef LC_COMMON_ERR_H
#define LC_COMMON_ERR_H

#include <stddef.h>

/* How a v1 error body looks (Nacos 2.4.3). */
enum lc_err_form {
    LC_FORM_TEXT,   /* controller errors: plain text, text/plain;charset=UTF-8 */
    LC_FORM_SPRING, /* filter errors: Spring Boot's {"timestamp","status",
                       "error","message","path"} JSON */
    LC_FORM_CHECK,  /* parameter checker: plain text ending in CRLF, no
                       Content-Type */
    LC_FORM_DOWN,   /* not ready: plain text, no Content-Type */
};

/* X(name, value, message, http, form, v2, grpc). Values are positive; 0
 * means success. */
#define LC_ERR_TABLE(X)                                                      \
    X(LC_ENOMEM, 1, "out of memory", 500, TEXT, 30000, 500)                 \
    X(LC_EINVAL, 2, "invalid argument", 400, TEXT, 20002, 400)              \
    X(LC_ENOTFOUND, 3, "not found", 404, TEXT, 20004, 404)                  \
    X(LC_EEXIST, 4, "already exists", 409, TEXT, 20002, 409)                \
    X(LC_EIO, 5, "I/O error", 500, TEXT, 30000, 500)                        \
    X(LC_ECORRUPT, 6, "corrupt data", 500, TEXT, 30000, 500)                \
    X(LC_EPROTO, 7, "protocol error", 400, TEXT, 20002, 400)                \
    X(LC_ETOOBIG, 8, "too big", 413, TEXT, 20002, 400)                      \
    X(LC_ETIMEDOUT, 9, "timed out", 500, TEXT, 30000, 500)                  \
    X(LC_ECANCELED, 10, "canceled", 500, TEXT, 30000, 500)                  \
    X(LC_ESHUTDOWN, 11, "shutting down", 503, DOWN, 30000, 300)             \
    X(LC_ENOTLEADER, 12, "not the leader", 500, TEXT, 30000, 500)           \
    X(LC_ENOLEADER, 13, "no leader", 500, TEXT, 30000, 500)                 \
    X(LC_ELEADERSHIPLOST, 14, "leadership lost before commit", 500, TEXT,   \
      30000, 500)                                                           \
    X(LC_ENOTREADY, 15, "not ready", 503, DOWN, 30000, 300)                 \
    X(LC_EUNAUTH, 16, "authentication failed", 403, TEXT, 30000, 403)       \
    X(LC_ECONN, 17, "connection failed", 500, TEXT, 30000, 500)             \
    X(LC_EBUSY, 18, "busy", 503, TEXT, 30000, 503)                          \
    X(LC_ENOTSUP, 19, "not supported", 501, TEXT, 30000, 500)               \
    X(LC_ECONFIG, 20, "bad configuration", 500, TEXT, 30000, 500)           \
    /* Nacos's answers to requests (naming and the transports). */         \
    X(LC_EMISSING, 21, "parameter missing", 400, TEXT, 10000, 400)          \
    X(LC_ECHECK, 22, "parameter check failed", 400, CHECK, 20002, 400)      \
    X(LC_EBADNAME, 23, "bad service name", 400, SPRING, 20002, 400)         \
    X(LC_EEXTRACT, 24, "parameters do not parse", 500, SPRING, 30000, 400)  \
    X(LC_ENOAPI, 25, "no such api", 501, SPRING, 30000, 302)                \
    X(LC_ENOHANDLER, 26, "no handler", 404, SPRING, 20004, 302)             \
    X(LC_ESERVER, 27, "server error", 500, TEXT, 30000, 500)                \
    X(LC_ETYPE, 28, "parameter type mismatch", 500, TEXT, 30000, 400)       \
    X(LC_ESERVICE_EXISTS, 29, "service already exists", 400, TEXT, 21007,   \
      400)                                                                  \
    X(LC_ESERVICE_NOTFOUND, 30, "service not found", 400, TEXT, 21008, 400) \
    X(LC_ESERVICE_NOTEMPTY, 31, "service not empty", 400, TEXT, 21009, 400) \
    /* auth: AuthFilter's sendError(403) (Spring's JSON on v1 and v2 alike), \
     * errorCode 403 in the handler's typed gRPC response */                \
    X(LC_EDENIED, 32, "access denied", 403, SPRING, 30000, 403)            \
    /* not a failure: the answer comes later, from a callback (the thread \
     * pool's password checks); never sent to a client */                  \
    X(LC_EAGAIN, 33, "in progress", 500, TEXT, 30000, 500)

enum {
#define LC__ERR_ENUM(name, value, msg, http, form, v2, grpc) name = value,
    LC_ERR_TABLE(LC__ERR_ENUM)
#undef LC__ERR_ENUM
};

/* Return a static, human-readable message for @err (0 gives "ok"). */
const char *lc_strerror(int err);

/* Return the symbolic name of @err ("LC_EINVAL"), for logs and JSON. */
const char *lc_errname(int err);

/* The table's columns for @err (an unknown code reads as LC_ESERVER's:
 * 500, TEXT, 30000, 500). */
int lc_err_http_status(int err);
enum lc_err_form lc_err_form(int err);
int lc_err_v2_code(int err);
int lc_err_grpc_code(int err);

/* The v2 Result message of a v2 code ("parameter missing", ...; "server
 * error" for codes it does not know). */
const char *lc_err_v2_abstract(int v2_code);

/* Write a message into @buf (nothing when @buf is NULL or @size 0) and
 * return @code: `return lc_errf(LC_EINVAL, err, errlen, "bad %s", key);`. */
int lc_errf(int code, char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* An error with its detail, for operations whose callers answer clients:
 * the code says how every transport answers, the message is what Nacos
 * would say. @param names the missing parameter of LC_EMISSING (a v2 answer
 * says "Required parameter '<param>' type String is not present"). */
struct lc_err {
    int code;
    char param[64];
    char msg[2048];
};

/* Fill @e and return @code. */
int lc_err_set(struct lc_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* LC_EMISSING for parameter @name, with the v1 message of WebUtils.required
 * ("Param '<name>' is required.") or, when @spring, of a Spring
 * @RequestParam ("Parameter '<name>' is missing"). Return LC_EMISSING. */
int lc_err_missing(struct lc_err *e, const char *name, int spring);

/* Translate a libuv error (negative UV_E*) into an LC_E* code. */
int lc_err_from_uv(int uv_err);

/* Translate a canonical/raft error (RAFT_*) into an LC_E* code. */
int lc_err_from_raft(int raft_err);

#endif /* LC_COMMON_ERR_H */
