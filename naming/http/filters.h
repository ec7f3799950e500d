/* What Nacos does to a /v1/ns request before its controllers
 * (naming/http/filters.c): ServiceNameFilter, ParamCheckerFilter's HTTP
 * extractors, WebUtils' required/optional. Each returns 0 or an LC_E* code
 * with Nacos's message in @e, and the handler answers it
 * (naming/http/reply.h). Private to naming/http/. */
#ifndef LC_NAMING_HTTP_FILTERS_H
#define LC_NAMING_HTTP_FILTERS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "rpc/http/http.h"

/* Trimmed copy of parameter @name into @out, or NULL when absent or blank
 * (WebUtils.optional). */
const char *lc_optional(const struct lc_http_exchange *ex, const char *name,
                        char *out, size_t size);

/* WebUtils.required: the trimmed value (possibly "") in @out; NULL with
 * LC_EMISSING ("Param '<name>' is required.") in @e when absent or empty. */
const char *lc_required(struct lc_http_exchange *ex, const char *name,
                        char *out, size_t size, struct lc_err *e);

/* ServiceNameFilter: the grouped service name into @out ("" when the
 * parameter is absent); LC_EBADNAME on a bad format. */
int lc_filter_service_name(struct lc_http_exchange *ex, char *out,
                           size_t size, struct lc_err *e);

/* ParamCheckerFilter with Nacos's default extractor (@list false) or the
 * instance-list extractor (@list true), given the grouped service name:
 * LC_ECHECK from the checker, or LC_EEXTRACT when metadata does not parse. */
int lc_filter_params(struct lc_http_exchange *ex, const char *grouped,
                     bool list, struct lc_err *e);

/* DistroIpPortTagGenerator.getResponsibleTag: "ip:port" of the client a
 * v1 write or beat is about, into @out (truncated to @size - 1 bytes). The
 * `ip` parameter (trimmed when not blank), or, when it is blank, `beat`'s
 * RsInfo ip and port (when the JSON parses as RsInfo; else nothing is taken
 * from it); the `port` parameter trimmed, "0" when blank. A missing ip
 * reads "null", as Java's string concatenation writes it. */
void lc_filter_distro_tag(const struct lc_http_exchange *ex, char *out,
                          size_t size);

/* DistroFilter (NM/web/DistroFilter.java, TrafficReviseFilter before it)
 * for a request to one of the @CanDistro handlers with a method in
 * @methods (LC_HTTP_* bits): return true when it answered @ex or forwarded
 * it to the responsible member (naming/http/forward.c), false when the
 * handler is to serve it here. */
struct lc_naming;
bool lc_filter_distro(struct lc_naming *n, struct lc_http_exchange *ex,
                      unsigned methods);

#endif /* LC_NAMING_HTTP_FILTERS_H */
