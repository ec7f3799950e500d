/* locus error codes: one table for every module, translated at module edges. */
#ifndef LC_COMMON_ERR_H
#define LC_COMMON_ERR_H

#include <stddef.h>

/* X(name, value, message). Values are positive; 0 means success. */
#define LC_ERR_TABLE(X)                                          \
    X(LC_ENOMEM, 1, "out of memory")                             \
    X(LC_EINVAL, 2, "invalid argument")                          \
    X(LC_ENOTFOUND, 3, "not found")                              \
    X(LC_EEXIST, 4, "already exists")                            \
    X(LC_EIO, 5, "I/O error")                                    \
    X(LC_ECORRUPT, 6, "corrupt data")                            \
    X(LC_EPROTO, 7, "protocol error")                            \
    X(LC_ETOOBIG, 8, "too big")                                  \
    X(LC_ETIMEDOUT, 9, "timed out")                              \
    X(LC_ECANCELED, 10, "canceled")                              \
    X(LC_ESHUTDOWN, 11, "shutting down")                         \
    X(LC_ENOTLEADER, 12, "not the leader")                       \
    X(LC_ENOLEADER, 13, "no leader")                             \
    X(LC_ELEADERSHIPLOST, 14, "leadership lost before commit")   \
    X(LC_ENOTREADY, 15, "not ready")                             \
    X(LC_EUNAUTH, 16, "authentication failed")                   \
    X(LC_ECONN, 17, "connection failed")                         \
    X(LC_EBUSY, 18, "busy")                                      \
    X(LC_ENOTSUP, 19, "not supported")                           \
    X(LC_ECONFIG, 20, "bad configuration")

enum {
#define LC__ERR_ENUM(name, value, msg) name = value,
    LC_ERR_TABLE(LC__ERR_ENUM)
#undef LC__ERR_ENUM
};

/* Return a static, human-readable message for @err (0 gives "ok"). */
const char *lc_strerror(int err);

/* Return the symbolic name of @err ("LC_EINVAL"), for logs and JSON. */
const char *lc_errname(int err);

/* Write a message into @buf (nothing when @buf is NULL or @size 0) and
 * return @code: `return lc_errf(LC_EINVAL, err, errlen, "bad %s", key);`. */
int lc_errf(int code, char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Translate a libuv error (negative UV_E*) into an LC_E* code. */
int lc_err_from_uv(int uv_err);

/* Translate a canonical/raft error (RAFT_*) into an LC_E* code. */
int lc_err_from_raft(int raft_err);

#endif /* LC_COMMON_ERR_H */
