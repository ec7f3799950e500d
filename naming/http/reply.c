/* Answers of the naming HTTP API (reply.h): Nacos 2.4.3's four v1 error
 * bodies, and the v2 Result<T> envelope:
 *
 *   success  200 {"code":0,"message":"success","data":<v1 body>}
 *   failure  the code's status, {"code":<v2 code>,"message":<abstract>,
 *            "data":<message>}
 *
 * Which status, body form and v2 code an error gets is the LC_E* code's row
 * of the error table (common/err.h); nothing here reads message text.
 */
#include "naming/http/reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

bool lc_v2(const struct lc_http_exchange *ex)
{
    return strncmp(lc_http_path(ex), "/nacos/v2/", 10) == 0;
}

static void reply_v2(struct lc_http_exchange *ex, int status, json_t *root)
{
    char *text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(root);
    if (text == NULL) {
        lc_http_reply_text(ex, 500, "out of memory");
        return;
    }
    lc_http_reply_take(ex, status, "application/json", text, strlen(text));
}

static void fail_v2(struct lc_http_exchange *ex, const struct lc_err *e)
{
    char detail[600];
    int code = lc_err_v2_code(e->code);
    const char *abstract = lc_err_v2_abstract(code);
    json_t *data = json_string(e->msg);
    json_t *o = json_object();

    if (e->code == LC_EMISSING) {
        snprintf(detail, sizeof detail,
                 "Required parameter '%s' type String is not present",
                 e->param);
        json_decref(data);
        data = json_string(detail);
    } else if (e->code == LC_ETYPE) {
        /* A @RequestParam that does not convert: NacosApiExceptionHandler's
         * catch-all puts the exception's message where the abstract goes. */
        abstract = e->msg;
        json_decref(data);
        data = json_null();
    }
    json_object_set_new(o, "code", json_integer(code));
    json_object_set_new(o, "message", json_string(abstract));
    json_object_set_new(o, "data", data);
    reply_v2(ex, lc_err_http_status(e->code), o);
}

void lc_naming_fail(struct lc_http_exchange *ex, const struct lc_err *e)
{
    int status = lc_err_http_status(e->code);
    char msg[sizeof e->msg + 2];
    size_t n;

    if (lc_v2(ex)) {
        fail_v2(ex, e);
        return;
    }
    switch (lc_err_form(e->code)) {
        case LC_FORM_TEXT:
            lc_http_reply(ex, status, "text/plain;charset=UTF-8", e->msg,
                          strlen(e->msg));
            break;
        case LC_FORM_CHECK:
            n = strlen(e->msg);
            memcpy(msg, e->msg, n);
            memcpy(msg + n, "\r\n", 2);
            lc_http_reply(ex, status, NULL, msg, n + 2);
            break;
        case LC_FORM_DOWN:
            lc_http_reply(ex, status, NULL, e->msg, strlen(e->msg));
            break;
        case LC_FORM_SPRING:
            lc_http_reply_spring(ex, status, e->msg);
            break;
    }
}

void lc_naming_failf(struct lc_http_exchange *ex, int code, const char *fmt,
                     ...)
{
    struct lc_err e;
    va_list ap;
    e.code = code;
    e.param[0] = '\0';
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof e.msg, fmt, ap);
    va_end(ap);
    lc_naming_fail(ex, &e);
}

void lc_naming_no_such_api(struct lc_http_exchange *ex)
{
    lc_naming_failf(ex, LC_ENOAPI, "no such api:%s:%s",
                    lc_http_method_name(ex), lc_http_path(ex));
}

void lc_naming_ok(struct lc_http_exchange *ex)
{
    if (lc_v2(ex)) {
        lc_reply_json(ex, json_string("ok"));
        return;
    }
    lc_http_reply(ex, 200, "text/plain;charset=UTF-8", "ok", 2);
}

void lc_reply_json(struct lc_http_exchange *ex, json_t *root)
{
    if (lc_v2(ex)) {
        json_t *o = json_object();
        json_object_set_new(o, "code", json_integer(0));
        json_object_set_new(o, "message", json_string("success"));
        json_object_set_new(o, "data", root);
        reply_v2(ex, 200, o);
        return;
    }
    lc_reply_json_raw(ex, root);
}

void lc_reply_json_raw(struct lc_http_exchange *ex, json_t *root)
{
    char *text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(root);
    if (text == NULL) {
        lc_http_reply_text(ex, 500, "out of memory");
        return;
    }
    lc_http_reply_take(ex, 200, "application/json", text, strlen(text));
}
