/* The /nacos/v2/ns envelope: the v2 Open API runs the v1 handlers and wraps
 * what they answer, as Nacos 2.4.3's Result<T>:
 *
 *   success  200 {"code":0,"message":"success","data":<v1 body>}
 *   failure  the v1 status, {"code":<detail>,"message":<abstract>,
 *            "data":<v1 message>}
 *
 * The detail code is chosen here, in one place, from the v1 status and
 * message (ErrorCode: 10000 parameter missing, 20002 parameter validate
 * error, 20004 resource not found, 21007/21008/21009 service exists / does
 * not exist / cannot be deleted, 30000 server error).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "naming/http/filters.h"
#include "naming/internal.h"

bool lc_v2(const struct lc_http_exchange *ex)
{
    return strncmp(lc_http_path(ex), "/nacos/v2/", 10) == 0;
}

static void reply(struct lc_http_exchange *ex, int status, json_t *root)
{
    char *text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(root);
    if (text == NULL) {
        lc_http_reply_text(ex, 500, "out of memory");
        return;
    }
    lc_http_reply_take(ex, status, "application/json", text, strlen(text));
}

void lc_v2_success(struct lc_http_exchange *ex, json_t *data)
{
    json_t *o = json_object();
    json_object_set_new(o, "code", json_integer(0));
    json_object_set_new(o, "message", json_string("success"));
    json_object_set_new(o, "data", data);
    reply(ex, 200, o);
}

void lc_v2_error(struct lc_http_exchange *ex, int status, const char *msg)
{
    char name[256];
    char detail[600];
    int code;
    const char *abstract;
    json_t *o = json_object();

    if (sscanf(msg, "Param '%255[^']' is required.", name) == 1 ||
        sscanf(msg, "Parameter '%255[^']' is missing", name) == 1) {
        code = 10000;
        abstract = "parameter missing";
        snprintf(detail, sizeof detail,
                 "Required parameter '%s' type String is not present", name);
        msg = detail;
    } else if (strstr(msg, "already exists") != NULL) {
        code = 21007;
        abstract = "service already exist";
    } else if (strstr(msg, "is not empty") != NULL) {
        code = 21009;
        abstract = "service delete failure";
    } else if (strncmp(msg, "service ", 8) == 0 &&
               strstr(msg, "not found") != NULL) {
        code = 21008;
        abstract = "service not exist";
    } else if (status == 404) {
        code = 20004;
        abstract = "resource not found";
    } else if (status >= 400 && status < 500) {
        code = 20002;
        abstract = "parameter validate error";
    } else {
        code = 30000;
        abstract = "server error";
    }
    json_object_set_new(o, "code", json_integer(code));
    json_object_set_new(o, "message", json_string(abstract));
    json_object_set_new(o, "data", json_string(msg));
    reply(ex, status, o);
}

void lc_v2_type_mismatch(struct lc_http_exchange *ex, const char *type,
                         const char *cause_class, const char *cause_msg)
{
    char msg[1024];
    json_t *o = json_object();
    snprintf(msg, sizeof msg,
             "Failed to convert value of type 'java.lang.String' to required "
             "type '%s'; nested exception is %s: %s",
             type, cause_class, cause_msg);
    json_object_set_new(o, "code", json_integer(30000));
    json_object_set_new(o, "message", json_string(msg));
    json_object_set_new(o, "data", json_null());
    reply(ex, 500, o);
}
