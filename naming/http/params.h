/* Spring MVC @RequestParam binding as the Nacos 2.4.3 controllers get it
 * (Spring 5.3), with the answers Nacos's ResponseExceptionHandler gives for
 * its failures (naming/http/params.c). Private to naming/http/.
 *
 * Every lc_rp_* function stores the value and returns 0, or returns an
 * LC_E* code with Nacos's message in @e.
 */
#ifndef LC_NAMING_HTTP_PARAMS_H
#define LC_NAMING_HTTP_PARAMS_H

#include <stdbool.h>

#include "common/err.h"
#include "rpc/http/http.h"

/* @RequestParam String: the raw value; @dflt when absent or "" (if not
 * NULL); NULL when absent and not @required. Absent and @required:
 * LC_EMISSING "Parameter '<name>' is missing". */
int lc_rp_string(struct lc_http_exchange *ex, const char *name, bool required,
                 const char *dflt, const char **out, struct lc_err *e);

/* @RequestParam int (no default). Absent: LC_EMISSING when @required, else
 * Spring's 500 about a primitive null (LC_ESERVER); not a number: Spring's
 * 500 type-mismatch text (LC_ESERVER). */
int lc_rp_int(struct lc_http_exchange *ex, const char *name, bool required,
              int *out, struct lc_err *e);

/* @RequestParam(defaultValue = ...) float: @dflt when absent or "". */
int lc_rp_float(struct lc_http_exchange *ex, const char *name, float dflt,
                float *out, struct lc_err *e);

/* @RequestParam(required = false) boolean: false when absent. */
int lc_rp_bool(struct lc_http_exchange *ex, const char *name, bool *out,
               struct lc_err *e);

#endif /* LC_NAMING_HTTP_PARAMS_H */
