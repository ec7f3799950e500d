/* Answers of the naming HTTP API (naming/http/reply.c): v1 bodies as Nacos
 * 2.4.3 writes them and the v2 Result envelope, for success and for every
 * LC_E* code (the code's row in common/err.h says the status, the v1 body
 * form and the v2 code). Private to naming/http/. */
#ifndef LC_NAMING_HTTP_REPLY_H
#define LC_NAMING_HTTP_REPLY_H

#include <jansson.h>
#include <stdbool.h>

#include "common/err.h"
#include "rpc/http/http.h"

/* True for a /nacos/v2/ request: replies go in the v2 envelope
 * {"code":0,"message":"success","data":...}. */
bool lc_v2(const struct lc_http_exchange *ex);

/* Answer @e: v1 with the code's status and body form (TEXT, SPRING, CHECK,
 * DOWN), v2 as {"code":<v2 code>,"message":<abstract>,"data":<message>}
 * with the code's status. */
void lc_naming_fail(struct lc_http_exchange *ex, const struct lc_err *e);

/* The same for @code with a message formatted here. */
void lc_naming_failf(struct lc_http_exchange *ex, int code, const char *fmt,
                     ...) __attribute__((format(printf, 3, 4)));

/* Nacos's 501 "no such api:<METHOD>:<path>" for a method the path does not
 * take. */
void lc_naming_no_such_api(struct lc_http_exchange *ex);

/* 200 "ok" as text/plain (v2: data "ok"). */
void lc_naming_ok(struct lc_http_exchange *ex);

/* Serialise @root (consumed) and answer 200 application/json; on /v2 paths
 * inside the envelope. */
void lc_reply_json(struct lc_http_exchange *ex, json_t *root);
/* The same, never wrapped (v2 beat answers are bare, as in Nacos). */
void lc_reply_json_raw(struct lc_http_exchange *ex, json_t *root);

#endif /* LC_NAMING_HTTP_REPLY_H */
