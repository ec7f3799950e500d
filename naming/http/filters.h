/* What Nacos does to a /v1/ns request before and inside its controllers,
 * with its exact error responses (see docs/api.md, "Errors").
 *
 * Four kinds of error body, as Nacos 2.4.3 produces them:
 *   TEXT   controller errors: plain text, text/plain;charset=UTF-8
 *   SPRING filter errors: Spring Boot's {"timestamp","status","error",
 *          "message","path"} JSON
 *   CHECK  parameter checker: plain text ending in CRLF, no Content-Type
 *   DOWN   not ready: 503 plain text, no Content-Type
 */
#ifndef LC_NAMING_FILTERS_H
#define LC_NAMING_FILTERS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "rpc/http/http.h"

enum lc_err_kind {
    LC_KIND_TEXT,
    LC_KIND_SPRING,
    LC_KIND_CHECK,
    LC_KIND_DOWN,
};

/* Reply with an error of @kind. */
void lc_naming_error(struct lc_http_exchange *ex, enum lc_err_kind kind,
                     int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* True for a /nacos/v2/ request: replies go in the v2 envelope
 * (naming/http/v2.c). */
bool lc_v2(const struct lc_http_exchange *ex);
/* v2 envelopes: success with @data (consumed), or an error built from a
 * v1 status and message. */
void lc_v2_success(struct lc_http_exchange *ex, json_t *data);
void lc_v2_error(struct lc_http_exchange *ex, int status, const char *msg);
/* A v2 @RequestParam that does not convert to @type
 * (MethodArgumentTypeMismatchException through NacosApiExceptionHandler's
 * catch-all): 500 {"code":30000,"message":"Failed to convert value of type
 * 'java.lang.String' to required type '<type>'; nested exception is
 * <cause_class>: <cause_msg>","data":null}. */
void lc_v2_type_mismatch(struct lc_http_exchange *ex, const char *type,
                         const char *cause_class, const char *cause_msg);

/* Reply 200 "ok" as text/plain (v2: data "ok"). */
void lc_naming_ok(struct lc_http_exchange *ex);

/* Java's ConvertUtils.toBoolean: true only for true/t/yes/y/on. */
bool lc_to_boolean(const char *s);

/* Trimmed copy of parameter @name into @out, or NULL when absent or blank
 * (WebUtils.optional). */
const char *lc_optional(const struct lc_http_exchange *ex, const char *name,
                        char *out, size_t size);

/* WebUtils.required: reply TEXT 400 "Param '<name>' is required." and return
 * NULL when absent or empty; else the trimmed value (possibly ""). */
const char *lc_required(struct lc_http_exchange *ex, const char *name,
                        char *out, size_t size);

/* NamingUtils.checkServiceNameFormat: NULL if fine, else the message. */
const char *lc_service_name_format_error(const char *grouped);

/* ServiceNameFilter: the grouped service name into @out ("" when the
 * parameter is absent). Replies SPRING 400 and returns false on a bad
 * format. */
bool lc_filter_service_name(struct lc_http_exchange *ex, char *out,
                            size_t size);

/* ParamCheckerFilter with Nacos's default extractor (@list false) or the
 * instance-list extractor (@list true), given the grouped service name.
 * Replies CHECK 400 (or SPRING 500 for unparsable metadata) and returns
 * false on failure. */
bool lc_filter_params(struct lc_http_exchange *ex, const char *grouped,
                      bool list);

/* Java's Integer.parseInt / Double.parseDouble, with the text of
 * NumberFormatException ("For input string: \"x\"") in @err. */
bool lc_java_parse_int(const char *s, int *out, char *err, size_t errlen);
bool lc_java_parse_double(const char *s, double *out, char *err,
                          size_t errlen);

#endif /* LC_NAMING_FILTERS_H */
