/* DistroFilter's proxy (naming/http/forward.c): a v1 write or beat for a
 * client another member is responsible for, sent on to that member and its
 * answer relayed. Private to naming/ (naming.c closes it). */
#ifndef LC_NAMING_HTTP_FORWARD_H
#define LC_NAMING_HTTP_FORWARD_H

#include "rpc/http/http.h"

struct lc_naming;
struct lc_member;
struct lc_ns_forward;

/* Forward @ex to @target's main port, as DistroFilter does, and answer @ex
 * when the target answers or the forward fails. @target is read during the
 * call only. The connections are n->forward's, made on first use. */
void lc_ns_forward(struct lc_naming *n, struct lc_http_exchange *ex,
                   const struct lc_member *target);

/* Close every connection (forwards under way answer 500 with the
 * cancellation); the memory goes when the last one has answered. NULL is a
 * no-op. */
void lc_ns_forward_close(struct lc_ns_forward *f);

#endif /* LC_NAMING_HTTP_FORWARD_H */
