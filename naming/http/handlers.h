/* Private to the naming HTTP handlers: the request parsing and write
 * plumbing every /v1/ns handler shares (naming/http/instance.c). */
#ifndef LC_NAMING_HTTP_NAMING_H
#define LC_NAMING_HTTP_NAMING_H

#include "naming/internal.h"

/* A parsed instance request (HttpRequestInstanceBuilder's view). */
struct lc_inst_req {
    char ns[256];
    char grouped[1300];
    char group[256];
    char service[1100];
    char ip[256];
    int port;
    char cluster[256];
    double weight;
    bool healthy;
    bool enabled;
    bool ephemeral;
    char *metadata; /* canonical JSON, malloc'd; the caller frees */
    char instance_id[2000];
};

/* 503 while this node has not caught up; false then. */
bool lc_ns_gate(struct lc_naming *n, struct lc_http_exchange *ex);
/* Nacos's 501 "no such api" for a method the path does not take. */
void lc_ns_no_such_api(struct lc_http_exchange *ex);
/* Gate, ServiceNameFilter and ParamCheckerFilter: the grouped name into
 * @grouped. Replies and returns false on failure. */
bool lc_ns_parse_common(struct lc_naming *n, struct lc_http_exchange *ex,
                        char *grouped, size_t gsize);
/* namespaceId and the (required) grouped name split into @r. */
bool lc_ns_parse_service(struct lc_http_exchange *ex, struct lc_inst_req *r,
                         const char *grouped);
/* ip, port, weight, healthy, enabled, ephemeral, cluster, metadata and the
 * instanceId into @r; r->metadata is set on success. */
bool lc_ns_parse_instance(struct lc_naming *n, struct lc_http_exchange *ex,
                          struct lc_inst_req *r);
/* NamingUtils.checkInstanceIsLegal. */
bool lc_ns_check_legal(struct lc_http_exchange *ex, struct lc_inst_req *r);
/* Reply to a failed Raft write with Nacos's status and a clear message. */
void lc_ns_reply_write_error(struct lc_http_exchange *ex, int status);
/* Answer a write that came back: the engine's @status, else the
 * processor's verdict in @result (400 for LC_EINVAL), else "ok". */
void lc_ns_reply_written(struct lc_http_exchange *ex, int status,
                         const struct lc_raft_result *result);
/* Write @data (consumed) to @sm under @key; reply "ok" once applied here. */
void lc_ns_submit(struct lc_naming *n, struct lc_http_exchange *ex,
                  struct lc_statemachine *sm, const char *key, const char *op,
                  void *data, size_t len);

/* @overlay as the packed MetadataStore of @okey: *@data is malloc'd.
 * Return 0 or LC_ENOMEM. */
int lc_ns_pack_overlay(const char *okey, json_t *overlay, void **data,
                       size_t *len);
/* Nacos's getInstance0: the instance ip:port of cluster r->cluster in @svc
 * (NULL is fine); else replies 404 "no ips found for cluster ..." or "no
 * matched ip found!" and returns NULL. */
struct lc_instance *lc_ns_find_instance(struct lc_naming *n,
                                       struct lc_http_exchange *ex,
                                       const struct lc_service *svc,
                                       const struct lc_inst_req *r);
/* PATCH /nacos/v1/ns/instance (naming/http/metadata.c). */
void lc_ns_on_patch(struct lc_naming *n, struct lc_http_exchange *ex);

#endif /* LC_NAMING_HTTP_NAMING_H */
