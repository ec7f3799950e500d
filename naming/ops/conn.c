/* Ephemeral instances of gRPC connections (ops.h, "connection clients"):
 * Nacos 2.4.3's EphemeralClientOperationServiceImpl over
 * ConnectionBasedClient. A connection publishes one instance per service
 * through its own client; a batch adds companion clients "<id>#b<k>", so
 * that the registry's one instance per client and service holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "naming/ops/ops.h"

#define CONN_ID_MAX 320

static void companion_id(char *out, size_t size, const char *conn_id,
                         unsigned k)
{
    snprintf(out, size, "%s#b%u", conn_id, k);
}

/* Withdraw the companions of @conn_id for @svc from @from on (numbered
 * without gaps per service). */
static void drop_companions(struct lc_naming *n, const char *conn_id,
                            struct lc_service *svc, unsigned from)
{
    char id[CONN_ID_MAX + 16];
    for (unsigned k = from;; k++) {
        companion_id(id, sizeof id, conn_id, k);
        if (lc_registry_find_publish(n->reg, id, svc) == NULL) {
            return;
        }
        lc_registry_unpublish(n->reg, id, svc);
    }
}

/* The service of @key, created ephemeral when missing; LC_EINVAL with
 * @what's message when it is persistent. */
static int ephemeral_service(struct lc_naming *n,
                             const struct lc_service_key *key, const char *what,
                             struct lc_service **out, struct lc_err *e)
{
    struct lc_service *svc = lc_registry_find_service(n->reg, key);
    if (svc != NULL && !svc->ephemeral) {
        return lc_err_set(e, LC_EINVAL,
                          "errCode: 400, errMsg: Current service %s is "
                          "persistent service, can't %s ephemeral "
                          "instance. ",
                          svc->grouped, what);
    }
    if (svc == NULL) {
        svc = lc_registry_service(n->reg, key, true);
        if (svc == NULL) {
            return lc_err_set(e, LC_ENOMEM, "out of memory");
        }
    }
    *out = svc;
    return 0;
}

static struct lc_instance *instance_of(const struct lc_instance_req *r)
{
    return lc_instance_new(r->ip, r->port, r->cluster, r->weight, r->healthy,
                           r->enabled, true, r->metadata, r->instance_id);
}

/* @id publishes @inst (reference dropped) for @svc. */
static int publish(struct lc_naming *n, const char *id, struct lc_service *svc,
                   struct lc_instance *inst, struct lc_err *e)
{
    int rv;
    if (inst == NULL) {
        return lc_err_set(e, LC_ENOMEM, "out of memory");
    }
    rv = lc_registry_publish(n->reg, id, LC_CLIENT_CONNECTION, svc, inst);
    lc_instance_unref(inst);
    if (rv != 0) {
        return lc_err_set(e, LC_ENOMEM, "out of memory");
    }
    return 0;
}

int lc_op_conn_register(struct lc_naming *n, const char *conn_id,
                        const struct lc_instance_req *r, struct lc_err *e)
{
    struct lc_service_key key = {r->ns, r->group, r->service};
    struct lc_service *svc;

    if (ephemeral_service(n, &key, "register", &svc, e) != 0) {
        return e->code;
    }
    if (publish(n, conn_id, svc, instance_of(r), e) != 0) {
        return e->code;
    }
    /* A batch published here before is replaced whole. */
    drop_companions(n, conn_id, svc, 1);
    return 0;
}

void lc_op_conn_deregister(struct lc_naming *n, const char *conn_id,
                           const struct lc_service_key *key)
{
    struct lc_service *svc = lc_registry_find_service(n->reg, key);
    if (svc == NULL) {
        lc_infof("naming", "remove instance from non-exist service: %s@@%s",
                 key->group, key->name);
        return;
    }
    drop_companions(n, conn_id, svc, 1);
    lc_registry_unpublish(n->reg, conn_id, svc);
}

int lc_op_conn_batch_register(struct lc_naming *n, const char *conn_id,
                              const struct lc_instance_req *rs, size_t count,
                              struct lc_err *e)
{
    struct lc_service_key key;
    struct lc_service *svc;
    struct lc_instance **insts;
    char id[CONN_ID_MAX + 16];
    int rv = 0;

    if (count == 0) {
        return lc_err_set(e, LC_ESERVER, "Index 0 out of bounds for length 0");
    }
    for (size_t i = 0; i < count; i++) {
        if (!rs[i].ephemeral) {
            return lc_err_set(
                e, LC_EINVAL,
                "Batch registration does not allow persistent "
                "instance registration , Instance：Instance{ip='%s', "
                "port=%d, clusterName='%s', ephemeral=false}",
                rs[i].ip, rs[i].port, rs[i].cluster);
        }
    }
    key = (struct lc_service_key){rs[0].ns, rs[0].group, rs[0].service};
    /* Everything that can fail, before anything changes. */
    insts = calloc(count, sizeof *insts);
    if (insts == NULL) {
        return lc_err_set(e, LC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        insts[i] = instance_of(&rs[i]);
        if (insts[i] == NULL) {
            rv = lc_err_set(e, LC_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (ephemeral_service(n, &key, "batch register", &svc, e) != 0) {
        rv = e->code;
        goto out;
    }
    for (size_t i = 0; i < count && rv == 0; i++) {
        const char *who = conn_id;
        if (i > 0) {
            companion_id(id, sizeof id, conn_id, (unsigned)i);
            who = id;
        }
        rv = publish(n, who, svc, insts[i], e);
        insts[i] = NULL; /* publish dropped it */
    }
    if (rv == 0) {
        drop_companions(n, conn_id, svc, (unsigned)count);
    }
out:
    for (size_t i = 0; i < count; i++) {
        if (insts[i] != NULL) {
            lc_instance_unref(insts[i]);
        }
    }
    free(insts);
    return rv;
}

/* Withdraw everything client @id publishes; return how many. */
static unsigned drop_client(struct lc_naming *n, const char *id)
{
    struct lc_client *c = lc_registry_find_client(n->reg, id);
    unsigned count = 0;
    while (c != NULL && c->publishes != NULL) {
        struct lc_service *svc = c->publishes->service;
        /* The last unpublish frees the client: look it up again. */
        lc_registry_unpublish(n->reg, id, svc);
        count++;
        c = lc_registry_find_client(n->reg, id);
    }
    return count;
}

unsigned lc_op_conn_remove(struct lc_naming *n, const char *conn_id)
{
    char id[CONN_ID_MAX + 16];
    unsigned count = drop_client(n, conn_id);
    for (unsigned k = 1;; k++) {
        companion_id(id, sizeof id, conn_id, k);
        if (lc_registry_find_client(n->reg, id) == NULL) {
            break;
        }
        count += drop_client(n, id);
    }
    if (count > 0) {
        lc_infof("naming", "connection %s closed: %u instance(s) removed",
                 conn_id, count);
    }
    return count;
}

unsigned lc_op_conn_instances(struct lc_naming *n, const char *conn_id)
{
    char id[CONN_ID_MAX + 16];
    struct lc_client *c = lc_registry_find_client(n->reg, conn_id);
    unsigned count = c != NULL ? HASH_COUNT(c->publishes) : 0;
    for (unsigned k = 1;; k++) {
        companion_id(id, sizeof id, conn_id, k);
        c = lc_registry_find_client(n->reg, id);
        if (c == NULL) {
            return count;
        }
        count += HASH_COUNT(c->publishes);
    }
}
