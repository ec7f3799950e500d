/* Private to naming/http/: the handlers of the naming HTTP API, the one
 * route table that serves them (routes.c), and the request decoding every
 * /v1/ns and /v2/ns handler shares (instance.c).
 *
 * A handler decodes its parameters as Nacos's controller binds them,
 * calls an operation (naming/ops/ops.h) and encodes its answer
 * (naming/http/reply.h); nothing else.
 */
#ifndef LC_NAMING_HTTP_HANDLERS_H
#define LC_NAMING_HTTP_HANDLERS_H

#include "naming/http/filters.h"
#include "naming/http/reply.h"
#include "naming/ops/ops.h"
#include "rpc/http/http.h"

/* ---------------------------------------------------------- decoding */

/* The gate, ServiceNameFilter and ParamCheckerFilter (default extractor,
 * or the instance-list one when @list): the grouped name into @grouped. */
int lc_ns_filters(struct lc_naming *n, struct lc_http_exchange *ex,
                  char *grouped, size_t gsize, bool list, struct lc_err *e);

/* namespaceId and the (required) grouped name @grouped, checked and split
 * into @r. */
int lc_ns_parse_service(struct lc_http_exchange *ex, struct lc_instance_req *r,
                        const char *grouped, struct lc_err *e);

/* ip, port, healthy, ephemeral, weight, cluster, enabled, metadata and the
 * instanceId into @r (HttpRequestInstanceBuilder); r->metadata is set on
 * success. */
int lc_ns_parse_instance(struct lc_http_exchange *ex, struct lc_instance_req *r,
                         struct lc_err *e);

/* An instance request with nothing set but r->metadata = NULL (its ~6 KB
 * of buffers are written before they are read). */
void lc_ns_req_init(struct lc_instance_req *r);

/* The gate and both filters, then the service name split into @s (its ns
 * is the caller's). */
int lc_ns_service_filters(struct lc_naming *n, struct lc_http_exchange *ex,
                          struct lc_service_name *s, struct lc_err *e);

/* ------------------------------------------------ answering operations */

/* An operation run for an exchange: answered "ok", or op.result as JSON
 * (consumed), or the operation's error, when it completes. */
struct lc_ns_write {
    struct lc_op op;
    struct lc_http_exchange *ex;
};

/* A new one for @ex; NULL with LC_ENOMEM in @e. */
struct lc_ns_write *lc_ns_write_new(struct lc_http_exchange *ex,
                                    struct lc_err *e);

/* The struct lc_op callback that answers and frees @op's lc_ns_write. */
void lc_ns_write_done(struct lc_op *op, const struct lc_err *e);

/* The operation started on @w returned @rv (@e its error): answer now and
 * free @w unless it is pending. */
void lc_ns_write_started(struct lc_ns_write *w, int rv, const struct lc_err *e);

/* ---------------------------------------------------------- handlers */

/* Each one a path (and its /v2 twin where there is one); @data is the
 * struct lc_naming. */
void lc_ns_on_instance(struct lc_http_exchange *ex, void *data);
void lc_ns_on_list(struct lc_http_exchange *ex, void *data);
void lc_ns_on_beat(struct lc_http_exchange *ex, void *data);
void lc_ns_on_metadata_batch(struct lc_http_exchange *ex, void *data);
void lc_ns_on_health(struct lc_http_exchange *ex, void *data);
void lc_ns_on_statuses(struct lc_http_exchange *ex, void *data);
void lc_ns_on_service(struct lc_http_exchange *ex, void *data);
void lc_ns_on_service_list(struct lc_http_exchange *ex, void *data);
void lc_ns_on_service_names(struct lc_http_exchange *ex, void *data);
void lc_ns_on_switches(struct lc_http_exchange *ex, void *data);
void lc_ns_on_catalog_services(struct lc_http_exchange *ex, void *data);
void lc_ns_on_catalog_service(struct lc_http_exchange *ex, void *data);
void lc_ns_on_catalog_instances(struct lc_http_exchange *ex, void *data);
void lc_ns_on_metrics(struct lc_http_exchange *ex, void *data);
void lc_ns_on_distro_client(struct lc_http_exchange *ex, void *data);
void lc_ns_on_log(struct lc_http_exchange *ex, void *data);
void lc_ns_on_subscribers(struct lc_http_exchange *ex, void *data);
void lc_ns_on_push_state(struct lc_http_exchange *ex, void *data);

/* PATCH /instance (metadata.c). */
void lc_ns_on_patch(struct lc_naming *n, struct lc_http_exchange *ex);

/* The subscription side effect of /instance/list (push.c): call it once
 * the request is validated; it checks udpPort, the User-Agent and the
 * switch. */
void lc_naming_push_on_list(struct lc_naming *n, struct lc_http_exchange *ex,
                            const struct lc_service_key *key,
                            const char *clusters, int udp_port);

/* The v2 list's subscriber parameters (InstanceControllerV2.list): `port`
 * (Integer, default 0) and `healthyOnly` (Boolean, default false); the
 * subscriber's address is `ip`, not v1's clientIP/udpPort. LC_ETYPE when
 * one does not convert. */
int lc_v2_list_params(struct lc_http_exchange *ex, int *port,
                      bool *healthy_only, struct lc_err *e);


#endif /* LC_NAMING_HTTP_HANDLERS_H */
