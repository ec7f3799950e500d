/* Health by hand and health listings: HealthOperatorV2Impl (PUT
 * /health/instance) and InstanceController.listWithHealthStatus
 * (instance/statuses), as Nacos 2.4.3.
 *
 * Setting health by hand is for persistent instances whose cluster is not
 * checked by the server: while lc_health_checks_on() holds it is refused
 * with Nacos's "health check is still working" message. Otherwise the
 * instance that "ip:port#false" publishes in the service is written again
 * through Raft as a HEALTH entry (so every member agrees and subscribers
 * get a push); an unknown client or service is "ok" and changes nothing, as
 * Nacos does. Ephemeral instances are never touched: Nacos looks up only
 * the persistent client id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "naming/ops/entries.h"
#include "naming/ops/internal.h"

int lc_op_set_health(struct lc_naming *n, const struct lc_instance_req *r,
                     bool healthy, struct lc_op *op, lc_op_cb cb,
                     struct lc_err *e)
{
    struct lc_service_key key = {r->ns, r->group, r->service};
    struct lc_service *svc = lc_registry_find_service(n->reg, &key);
    char client_id[320];
    struct lc_instance *inst;
    struct lc_sm_write *w;

    op->pending = false;
    if (lc_health_checks_on(n, svc, r->cluster)) {
        return lc_err_set(e, LC_EINVAL,
                          "health check is still working, service: %s, "
                          "cluster: %s",
                          r->grouped, r->cluster);
    }
    snprintf(client_id, sizeof client_id, "%s:%d#false", r->ip, r->port);
    inst = svc != NULL ? lc_registry_instance_of(n->reg, client_id, svc) : NULL;
    if (inst == NULL) {
        return 0; /* no such client or instance: nothing to do */
    }
    w = lc_op_start(op, LC_OP_ERRORS_INSTANCE, cb);
    return lc_op_submitted(op,
                           lc_entry_write_health(n, svc, client_id, inst,
                                                 healthy, w,
                                                 lc_op_written_cb()),
                           e);
}

/* Java's key.split(@sep)[@i] with @sep a literal: piece @i into @out, or
 * false when there are not that many pieces (trailing empty ones are
 * dropped); *@count gets the number of pieces. */
static bool split_piece(const char *s, const char *sep, int i, char *out,
                        size_t size, int *count)
{
    size_t seplen = strlen(sep);
    const char *p = s;
    int n = 0;
    int last_nonempty = 0;
    bool found = false;
    for (;;) {
        const char *end = strstr(p, sep);
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len > 0) {
            last_nonempty = n + 1;
        }
        if (n == i) {
            found = len < size;
            if (found) {
                memcpy(out, p, len);
                out[len] = '\0';
            }
        }
        n++;
        if (end == NULL) {
            break;
        }
        p = end + seplen;
    }
    if (s[0] == '\0') {
        last_nonempty = 1; /* "".split() is [""] */
    }
    *count = last_nonempty;
    return found && i < last_nonempty;
}

static void add_status(struct lc_instance *inst, void *data)
{
    json_t *ips = data;
    char text[320];
    snprintf(text, sizeof text, "%s:%d_%s", inst->ip, inst->port,
             inst->healthy ? "true" : "false");
    json_array_append_new(ips, json_string(text));
}

int lc_op_statuses(struct lc_naming *n, const char *key, json_t **out,
                   struct lc_err *e)
{
    /* Four pieces of at most the key's length each. */
    size_t size = strlen(key) + sizeof LC_DEFAULT_NAMESPACE;
    char *buf = malloc(4 * size);
    char *ns, *service, *group, *name;
    struct lc_service_key skey;
    struct lc_service *svc;
    json_t *ips;
    int count;
    int rv = 0;

    if (buf == NULL) {
        return lc_err_set(e, LC_ENOMEM, "out of memory");
    }
    ns = buf;
    service = buf + size;
    group = buf + 2 * size;
    name = buf + 3 * size;
    if (strstr(key, "##") != NULL) {
        if (!split_piece(key, "##", 0, ns, size, &count) ||
            !split_piece(key, "##", 1, service, size, &count)) {
            rv = lc_err_set(e, LC_ESERVER,
                            "caused: Index %d out of bounds for length %d;",
                            count < 1 ? 0 : 1, count);
            goto out;
        }
    } else {
        lc_strlcpy(ns, LC_DEFAULT_NAMESPACE, size);
        lc_strlcpy(service, key, size);
    }
    rv = lc_check_service_name(service, e);
    if (rv != 0) {
        goto out;
    }
    split_piece(service, LC_GROUP_SEP, 0, group, size, &count);
    split_piece(service, LC_GROUP_SEP, 1, name, size, &count);
    skey.ns = ns;
    skey.group = group;
    skey.name = name;
    svc = lc_registry_find_service(n->reg, &skey);
    ips = json_array();
    if (svc != NULL) {
        lc_registry_each_instance(n->reg, svc, add_status, ips);
    }
    *out = json_object();
    json_object_set_new(*out, "ips", ips);
out:
    free(buf);
    return rv;
}
