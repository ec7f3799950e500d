/* An ip:port client's heart beat, as Nacos 2.4.3's
 * InstanceOperatorClientImpl.handleBeat.
 *
 * A known instance is refreshed and made healthy again. An unknown one is
 * re-registered from the beat's RsInfo when there is one (this is how
 * clients come back after a server restart: the npm client never
 * re-registers by itself), or answered with code 20404 when the beat was a
 * light one, which makes Java clients re-register.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "naming/ops/ops.h"

#define CODE_OK 10200
#define CODE_NOT_FOUND 20404

/* The instance's beat interval: overlay, then its metadata, then the
 * switch (InstanceOperatorClientImpl.getHeartBeatInterval). */
static long long beat_interval(struct lc_naming *n, struct lc_service *svc,
                               const char *ip, int port)
{
    char client_id[320];
    struct lc_instance *inst;
    long long interval = n->sw.client_beat_interval;
    if (svc == NULL) {
        return interval;
    }
    lc_ephemeral_client_id(client_id, sizeof client_id, ip, port);
    inst = lc_registry_instance_of(n->reg, client_id, svc);
    if (inst != NULL) {
        struct lc_view v;
        lc_instance_view(n, svc, inst, &v);
        interval = lc_meta_long(v.metadata, LC_META_BEAT_INTERVAL, interval);
        json_decref(v.metadata);
    }
    return interval;
}

/* Re-register ip:port from the beat (BeatInfoInstanceBuilder). */
static int register_from_beat(struct lc_naming *n,
                              const struct lc_instance_req *r,
                              const struct lc_service_key *key,
                              const struct lc_beat_info *b, struct lc_err *e)
{
    char id[2000];
    struct lc_instance *inst;
    int rv;

    /* The beat's RsInfo ip passed no parameter checker. */
    if (lc_check_instance_ip(r->ip, e) != 0 ||
        lc_check_weight(b->weight, e) != 0 ||
        lc_check_cluster_name(r->cluster, e) != 0) {
        return e->code;
    }
    lc_instance_id(id, sizeof id, r->ip, r->port, r->cluster, r->grouped);
    inst = lc_instance_new(r->ip, r->port, r->cluster, b->weight, true, true,
                           true, b->metadata, id);
    if (inst == NULL) {
        return lc_err_set(e, LC_ENOMEM, "out of memory");
    }
    rv = lc_ephemeral_register(n, key, inst, e);
    lc_instance_unref(inst);
    if (rv == 0) {
        lc_infof("naming", "%s:%d re-registered in %s from its beat", r->ip,
                 r->port, r->grouped);
    }
    return rv;
}

int lc_op_beat(struct lc_naming *n, const struct lc_instance_req *r,
               const struct lc_beat_info *beat, struct lc_beat_reply *reply,
               struct lc_err *e)
{
    struct lc_service_key key = {r->ns, r->group, r->service};
    struct lc_service *svc = lc_registry_find_service(n->reg, &key);

    reply->code = CODE_OK;
    if (svc == NULL || lc_ephemeral_beat(n, svc, r->ip, r->port) != 0) {
        if (beat == NULL) {
            reply->code = CODE_NOT_FOUND;
        } else if (register_from_beat(n, r, &key, beat, e) != 0) {
            return e->code;
        }
        svc = lc_registry_find_service(n->reg, &key);
        if (reply->code == CODE_OK && svc == NULL) {
            return lc_err_set(e, LC_ESERVER, "service not found: %s@%s",
                              r->grouped, r->ns);
        }
    }
    reply->interval_ms = beat_interval(n, svc, r->ip, r->port);
    reply->light_beat_enabled = n->sw.light_beat_enabled;
    return 0;
}
