/* Spring MVC @RequestParam binding (params.h), as the Nacos 2.4.3
 * controllers (Spring 5.3, JDK 8) behave. Sources: Spring's
 * AbstractNamedValueMethodArgumentResolver, TypeConverterDelegate with the
 * default CustomNumberEditor / CustomBooleanEditor, NestedExceptionUtils;
 * Nacos's ResponseExceptionHandler and ExceptionUtil.getAllExceptionMsg.
 */
#include "naming/http/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/java.h"

/* MethodArgumentTypeMismatchException, as getAllExceptionMsg prints it:
 * the mismatch with its nested cause, then the cause's own message. */
static int type_mismatch(struct lc_err *e, const char *type,
                         const char *cause_class, const char *cause_msg)
{
    return lc_err_set(e, LC_ESERVER,
                      "caused: Failed to convert value of type "
                      "'java.lang.String' to required type '%s'; nested "
                      "exception is %s: %s;caused: %s;",
                      type, cause_class, cause_msg, cause_msg);
}

int lc_rp_string(struct lc_http_exchange *ex, const char *name, bool required,
                 const char *dflt, const char **out, struct lc_err *e)
{
    const char *v = lc_http_param(ex, name);
    if (v == NULL || (v[0] == '\0' && dflt != NULL)) {
        if (dflt != NULL) {
            *out = dflt;
            return 0;
        }
        if (required) {
            return lc_err_missing(e, name, true);
        }
    }
    *out = v;
    return 0;
}

int lc_rp_int(struct lc_http_exchange *ex, const char *name, bool required,
              int *out, struct lc_err *e)
{
    const char *v = lc_http_param(ex, name);
    char err[300];
    if (v == NULL || v[0] == '\0') {
        if (required) {
            return lc_err_missing(e, name, true);
        }
        return lc_err_set(e, LC_ESERVER,
                          "caused: Optional int parameter '%s' is present "
                          "but cannot be translated into a null value due to "
                          "being declared as a primitive type. Consider "
                          "declaring it as object wrapper for the "
                          "corresponding primitive type.;",
                          name);
    }
    if (lc_spring_int(v, out, err, sizeof err)) {
        return 0;
    }
    return type_mismatch(e, "int", "java.lang.NumberFormatException", err);
}

int lc_rp_float(struct lc_http_exchange *ex, const char *name, float dflt,
                float *out, struct lc_err *e)
{
    const char *v = lc_http_param(ex, name);
    char t[256];
    char err[300];
    double d;
    if (v == NULL || v[0] == '\0') {
        *out = dflt;
        return 0;
    }
    lc_spring_strip_space(v, t, sizeof t);
    if (!lc_java_parse_double(t, &d, err, sizeof err)) {
        return type_mismatch(e, "float", "java.lang.NumberFormatException",
                             err);
    }
    *out = (float)d;
    return 0;
}

int lc_rp_bool(struct lc_http_exchange *ex, const char *name, bool *out,
               struct lc_err *e)
{
    const char *v = lc_http_param(ex, name);
    char err[300];
    *out = false;
    if (v == NULL || v[0] == '\0') {
        return 0;
    }
    if (lc_spring_bool(v, out, err, sizeof err)) {
        return 0;
    }
    return type_mismatch(e, "boolean", "java.lang.IllegalArgumentException",
                         err);
}
