/* How Nacos 2.4.3's console controllers answer and read their parameters
 * (auth/http_console.h): RestResult and Page JSON, ConsoleExceptionHandler's
 * "caused: <msg>;" texts, Spring's binding failures, AuthPaginationHelper.
 */
#include "auth/http_console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/internal.h"
#include "common/err.h"
#include "common/java.h"
#include "common/util.h"

/* ---------------------------------------------------------------- replies */

void lc_console_reply_doc(struct lc_http_exchange *ex, int status, json_t *doc,
                      const char *const *headers)
{
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (text == NULL) {
        lc_http_reply(ex, 500, CT_TEXT, "caused: out of memory;", 22);
        return;
    }
    if (headers != NULL) {
        lc_http_reply_headers(ex, status, CT_JSON, text, strlen(text),
                              headers);
        free(text);
    } else {
        lc_http_reply_take(ex, status, CT_JSON, text, strlen(text));
    }
}

/* RestResult {"code","message":null,"data"} with HTTP 200. */
void lc_console_reply_result(struct lc_http_exchange *ex, int code,
                         const char *data)
{
    json_t *o = json_object();
    if (o != NULL) {
        json_object_set_new(o, "code", json_integer(code));
        json_object_set_new(o, "message", json_null());
        json_object_set_new(o, "data", json_string(data));
    }
    lc_console_reply_doc(ex, 200, o, NULL);
}

/* IllegalArgumentException: 400 "caused: <msg>;". */
void lc_console_reply_illegal(struct lc_http_exchange *ex, const char *msg)
{
    lc_http_reply_text(ex, 400, "caused: %s;", msg);
}

/* Spring's HtmlUtils.htmlEscape of @in appended to @b. */
static void html_escape(struct lc_buf *b, const char *in)
{
    for (; *in != '\0'; in++) {
        switch (*in) {
            case '&':
                LC_BUF_LIT(b, "&amp;");
                break;
            case '<':
                LC_BUF_LIT(b, "&lt;");
                break;
            case '>':
                LC_BUF_LIT(b, "&gt;");
                break;
            case '"':
                LC_BUF_LIT(b, "&quot;");
                break;
            case '\'':
                LC_BUF_LIT(b, "&#39;");
                break;
            default:
                lc_buf_add(b, in, 1);
        }
    }
}

/* The generic handler: 500 "caused: <msg>;" HTML-escaped; @msg2, when not
 * NULL, is a nested cause ("caused: <msg>;caused: <msg2>;"). */
static void reply_exception2(struct lc_http_exchange *ex, const char *msg,
                             const char *msg2)
{
    struct lc_buf b = {0};
    LC_BUF_LIT(&b, "caused: ");
    html_escape(&b, msg);
    LC_BUF_LIT(&b, ";");
    if (msg2 != NULL) {
        LC_BUF_LIT(&b, "caused: ");
        html_escape(&b, msg2);
        LC_BUF_LIT(&b, ";");
    }
    if (b.oom) {
        free(b.p);
        lc_http_reply(ex, 500, CT_TEXT, "caused: out of memory;", 22);
        return;
    }
    lc_http_reply_take(ex, 500, CT_TEXT, b.p, b.len);
}

void lc_console_reply_exception(struct lc_http_exchange *ex, const char *msg)
{
    reply_exception2(ex, msg, NULL);
}

/* A change's failure: the store's refusals are Nacos's
 * IllegalArgumentExceptions (400), anything else (no leader, timeout,
 * shutting down) the generic 500. */
void lc_console_reply_write_error(struct lc_http_exchange *ex,
                              const struct lc_err *e)
{
    switch (e->code) {
        case LC_EEXIST:
        case LC_ENOTFOUND:
        case LC_EINVAL:
            lc_console_reply_illegal(ex, e->msg);
            break;
        case LC_EBUSY:
            /* As login's (and Nacos's over-threshold answers): retry. */
            lc_http_reply(ex, 503, CT_TEXT, e->msg, strlen(e->msg));
            break;
        default:
            lc_console_reply_exception(ex, e->msg[0] != '\0' ? e->msg
                                                  : lc_strerror(e->code));
    }
}

/* ------------------------------------------------------------ parameters */

/* @RequestParam String (required): false, having answered Spring's
 * MissingServletRequestParameterException, when absent. */
bool lc_console_param_required(struct lc_http_exchange *ex, const char *name,
                           const char **out)
{
    char msg[200];
    *out = lc_http_param(ex, name);
    if (*out != NULL) {
        return true;
    }
    snprintf(msg, sizeof msg,
             "Required request parameter '%s' for method parameter type "
             "String is not present",
             name);
    lc_console_reply_exception(ex, msg);
    return false;
}

/* @RequestParam int (required). */
static bool param_int(struct lc_http_exchange *ex, const char *name,
                      int *out)
{
    const char *v = lc_http_param(ex, name);
    char msg[700];
    char cause[300];
    if (v == NULL || v[0] == '\0') {
        snprintf(msg, sizeof msg,
                 "Required request parameter '%s' for method parameter type "
                 "int is %s",
                 name,
                 v == NULL ? "not present" : "present but converted to null");
        lc_console_reply_exception(ex, msg);
        return false;
    }
    if (lc_spring_int(v, out, cause, sizeof cause)) {
        return true;
    }
    snprintf(msg, sizeof msg,
             "Failed to convert value of type 'java.lang.String' to required "
             "type 'int'; nested exception is "
             "java.lang.NumberFormatException: %s",
             cause);
    reply_exception2(ex, msg, cause);
    return false;
}

/* A name given to change something: 400 when not a valid name. */
bool lc_console_check_name(struct lc_http_exchange *ex, const char *what,
                       const char *v)
{
    const char *why;
    char msg[200];
    if (lc_auth_name_valid(v, &why)) {
        return true;
    }
    snprintf(msg, sizeof msg, "%s %s", what, why);
    lc_console_reply_illegal(ex, msg);
    return false;
}

bool lc_console_check_password(struct lc_http_exchange *ex, const char *what,
                           const char *v)
{
    const char *why;
    char msg[200];
    if (lc_auth_password_valid(v, &why)) {
        return true;
    }
    if (strcmp(why, "is too long") == 0) {
        snprintf(msg, sizeof msg, "%s is too long (at most %d bytes)", what,
                 LC_AUTH_PASSWORD_MAX);
    } else {
        snprintf(msg, sizeof msg, "%s %s", what, why);
    }
    lc_console_reply_illegal(ex, msg);
    return false;
}

/* A search filter (optional, "" = none): bounded, valid UTF-8, no control
 * characters or whitespace (no name can match one that has them). */
bool lc_console_check_filter(struct lc_http_exchange *ex, const char *what,
                         const char *v)
{
    const char *why;
    char msg[200];
    if (lc_java_blank(v) || lc_auth_resource_valid(v, &why)) {
        return true;
    }
    snprintf(msg, sizeof msg, "%s %s", what, why);
    lc_console_reply_illegal(ex, msg);
    return false;
}

/* ---------------------------------------------------------------- paging */

/* The search=accurate|blur condition of the GET mappings; false, having
 * answered Spring's UnsatisfiedServletRequestParameterException, when
 * neither holds. */
static bool param_search(struct lc_http_exchange *ex, enum search *out)
{
    const char *v = lc_http_param(ex, "search");
    struct lc_buf b = {0};
    const char *name;
    const char *value;
    bool first = true;
    if (v != NULL && strcmp(v, "accurate") == 0) {
        *out = SEARCH_ACCURATE;
        return true;
    }
    if (v != NULL && strcmp(v, "blur") == 0) {
        *out = SEARCH_BLUR;
        return true;
    }
    LC_BUF_LIT(&b, "Parameter conditions \"search=accurate\" OR "
                   "\"search=blur\" not met for actual request parameters: ");
    for (size_t i = 0; lc_http_param_at(ex, i, &name, &value); i++) {
        const char *n2;
        const char *v2;
        bool seen = false;
        /* One entry per name, with all its values: {a, b}. */
        for (size_t j = 0; j < i && lc_http_param_at(ex, j, &n2, &v2); j++) {
            if (strcmp(n2, name) == 0) {
                seen = true;
                break;
            }
        }
        if (seen) {
            continue;
        }
        if (!first) {
            LC_BUF_LIT(&b, ", ");
        }
        first = false;
        lc_buf_add(&b, name, strlen(name));
        LC_BUF_LIT(&b, "={");
        for (size_t j = i; lc_http_param_at(ex, j, &n2, &v2); j++) {
            if (strcmp(n2, name) != 0) {
                continue;
            }
            if (j != i) {
                LC_BUF_LIT(&b, ", ");
            }
            lc_buf_add(&b, v2, strlen(v2));
        }
        LC_BUF_LIT(&b, "}");
    }
    lc_buf_add(&b, "", 1);
    lc_console_reply_exception(ex,
                               b.oom ? "Parameter conditions not met" : b.p);
    free(b.p);
    return false;
}

/* Nacos's LIKE argument: '*' (and SQL's own '%') any run, the rest
 * literal ('_' is escaped by generateLikeArgument). */
bool lc_console_like(const char *pattern, const char *s)
{
    char buf[LC_AUTH_RESOURCE_MAX + 1];
    size_t i;
    for (i = 0; pattern[i] != '\0' && i < sizeof buf - 1; i++) {
        buf[i] = pattern[i] == '%' ? '*' : pattern[i];
    }
    buf[i] = '\0';
    return lc_auth_resource_match(buf, s);
}

bool lc_console_filter_ok(const struct page *pg, const char *filter,
                      const char *v)
{
    if (filter == NULL || lc_java_blank(filter)) {
        return true;
    }
    return pg->search == SEARCH_ACCURATE ? strcmp(filter, v) == 0
                                         : lc_console_like(filter, v);
}

bool lc_console_page_take(struct page *pg)
{
    bool in = pg->total >= pg->first && pg->total < pg->end;
    pg->total++;
    return in;
}

void lc_console_page_add(struct page *pg, json_t *item)
{
    if (item == NULL || json_array_append_new(pg->items, item) != 0) {
        pg->oom = true;
    }
}

void lc_console_page_reply(struct lc_http_exchange *ex, struct page *pg,
                       int page_no, int page_size)
{
    json_t *o;
    uint64_t pages;
    if (pg->oom) {
        json_decref(pg->items);
        lc_console_reply_exception(ex, "out of memory");
        return;
    }
    pages = (pg->total + (uint64_t)page_size - 1) / (uint64_t)page_size;
    o = json_object();
    if (o != NULL) {
        json_object_set_new(o, "totalCount",
                            json_integer((json_int_t)pg->total));
        json_object_set_new(o, "pageNumber", json_integer(page_no));
        json_object_set_new(o, "pagesAvailable",
                            json_integer((json_int_t)pages));
        json_object_set_new(o, "pageItems", pg->items);
    } else {
        json_decref(pg->items);
    }
    lc_console_reply_doc(ex, 200, o, NULL);
}

/* Parse search, pageNo and pageSize and set up @pg; false once
 * answered. */
bool lc_console_page_start(struct lc_http_exchange *ex, struct page *pg,
                       int *page_no, int *page_size)
{
    memset(pg, 0, sizeof *pg);
    if (!param_search(ex, &pg->search) || !param_int(ex, "pageNo", page_no) ||
        !param_int(ex, "pageSize", page_size)) {
        return false;
    }
    if (*page_no <= 0 || *page_size <= 0) {
        lc_console_reply_illegal(
            ex, "pageNo and pageSize must be greater than zero");
        return false;
    }
    pg->first = (uint64_t)(*page_no - 1) * (uint64_t)*page_size;
    pg->end = pg->first + (uint64_t)*page_size;
    pg->items = json_array();
    if (pg->items == NULL) {
        lc_console_reply_exception(ex, "out of memory");
        return false;
    }
    return true;
}
