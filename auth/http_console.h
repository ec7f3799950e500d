/* How Nacos 2.4.3's console controllers answer and read their parameters
 * (ConsoleExceptionHandler, Spring's binding, AuthPaginationHelper), for
 * the /nacos/v1/auth endpoints of auth/http.c. Private to auth/.
 *
 * Each reply_* answers @ex; each function returning bool returns false
 * once it has answered @ex (the handler then stops). Strings are borrowed
 * for the call. */
#ifndef LC_AUTH_HTTP_CONSOLE_H
#define LC_AUTH_HTTP_CONSOLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth/auth.h"
#include "rpc/http/http.h"

#define CT_TEXT "text/plain;charset=UTF-8"
#define CT_JSON "application/json"

/* ---------------------------------------------------------------- replies */

/* @doc (taken, may be NULL: out of memory) as compact JSON with @status
 * and the NULL-terminated name, value pairs @headers (may be NULL). */
void lc_console_reply_doc(struct lc_http_exchange *ex, int status,
                          json_t *doc, const char *const *headers);

/* RestResult {"code":@code,"message":null,"data":@data} with HTTP 200. */
void lc_console_reply_result(struct lc_http_exchange *ex, int code,
                             const char *data);

/* IllegalArgumentException: 400 "caused: <msg>;". */
void lc_console_reply_illegal(struct lc_http_exchange *ex, const char *msg);

/* The generic handler: 500 "caused: <msg>;", HTML-escaped. */
void lc_console_reply_exception(struct lc_http_exchange *ex,
                                const char *msg);

/* A change's failure (@e from lc_auth_* writes): the store's refusals 400,
 * LC_EBUSY 503, anything else the generic 500. */
void lc_console_reply_write_error(struct lc_http_exchange *ex,
                                  const struct lc_err *e);

/* ------------------------------------------------------------ parameters */

/* @RequestParam String (required) @name into *@out (borrowed from @ex). */
bool lc_console_param_required(struct lc_http_exchange *ex,
                               const char *name, const char **out);

/* A name, password or search filter (optional, "" = none) given as @what:
 * 400 when not valid. */
bool lc_console_check_name(struct lc_http_exchange *ex, const char *what,
                           const char *v);
bool lc_console_check_password(struct lc_http_exchange *ex,
                               const char *what, const char *v);
bool lc_console_check_filter(struct lc_http_exchange *ex, const char *what,
                             const char *v);

/* ---------------------------------------------------------------- paging */

enum search { SEARCH_ACCURATE, SEARCH_BLUR };

/* A page being collected (AuthPaginationHelper.fetchPage). */
struct page {
    uint64_t first; /* index of the first row to include */
    uint64_t end;   /* one past the last */
    uint64_t total;
    json_t *items;
    enum search search;
    const char *f1; /* the filters, "" = none */
    const char *f2;
    bool oom;
};

/* Nacos's LIKE argument: '*' (and SQL's own '%') any run, the rest
 * literal. */
bool lc_console_like(const char *pattern, const char *s);

/* Whether @v passes @filter (NULL or blank: everything) under @pg's
 * search. */
bool lc_console_filter_ok(const struct page *pg, const char *filter,
                          const char *v);

/* Count a matching row; whether it falls in the page. */
bool lc_console_page_take(struct page *pg);

/* Append @item (taken; NULL marks the page out of memory). */
void lc_console_page_add(struct page *pg, json_t *item);

/* Answer the Page JSON of @pg (its items taken). */
void lc_console_page_reply(struct lc_http_exchange *ex, struct page *pg,
                           int page_no, int page_size);

/* Parse search, pageNo and pageSize and set up @pg. */
bool lc_console_page_start(struct lc_http_exchange *ex, struct page *pg,
                           int *page_no, int *page_size);

#endif
