/* Nacos's cleaners for services: EmptyServiceAutoCleanerV2 and the service
 * half of ExpiredMetadataCleaner, on uv timers of the naming loop.
 *
 * Every member runs the empty-service cleaner on its own registry (as Nacos
 * does; it is not replicated): a service nobody has published for
 * `expired-time` is removed, and if it has stored metadata that metadata is
 * marked expired. The metadata cleaner runs on the leader of
 * naming_service_metadata only: metadata marked expired for longer than its
 * `expired-time`, whose service has not come back, is deleted through Raft,
 * so every member drops it. Marks are local and not snapshotted: after a
 * restart the services come back from their metadata and the cycle starts
 * again.
 *
 * Timers: the empty-service cleaner first runs after min(30 s, interval),
 * the metadata cleaner after min(5 s, interval) (Nacos's initial delays,
 * shortened with the interval so tests can run them quickly).
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "naming/clean/instance_meta_clean.h"
#include "naming/ops/entries.h"
#include "naming/store/service_meta.h"

#define EMPTY_INITIAL_MS 30000
#define META_INITIAL_MS 5000

struct lc_service_cleaner {
    struct lc_naming *n;
    struct lc_naming_clean_options o;
    uv_timer_t empty;
    uv_timer_t meta;
    int open; /* handles not yet closed */
};

void lc_naming_clean_options_default(struct lc_naming_clean_options *o)
{
    o->empty_service_interval_ms = 60000;
    o->empty_service_expired_ms = 60000;
    o->expired_metadata_interval_ms = 5000;
    o->expired_metadata_expired_ms = 60000;
}

void lc_service_clean_empty(struct lc_naming *n, uint64_t expired_ms)
{
    uint64_t now = lc_mono_ms();
    struct lc_service *svc, *tmp;
    HASH_ITER(hh, n->reg->services, svc, tmp)
    {
        struct lc_smeta *e;
        if (svc->n_publishers > 0 || now - svc->updated_ms < expired_ms) {
            continue;
        }
        lc_warnf("naming",
                 "namespace : %s, [%s] services are automatically cleaned",
                 svc->ns, svc->grouped);
        e = lc_service_meta_find(n, svc->key);
        if (e != NULL && e->expired_ms == 0) {
            e->expired_ms = now > 0 ? now : 1;
        }
        lc_registry_remove_service(n->reg, svc);
    }
}

/* ---------------------------------------------------- expired metadata */

struct delete_ctx {
    struct lc_sm_write w;
    struct lc_naming *n;
    char key[];
};

static void on_deleted(struct lc_sm_write *w, int status,
                       const struct lc_raft_result *result)
{
    struct delete_ctx *c = w->data;
    struct lc_smeta *e = lc_service_meta_find(c->n, c->key);
    (void)result;
    if (e != NULL) {
        e->deleting = false; /* failed, or the service came back */
    }
    if (status != 0) {
        lc_warnf("naming", "deleting expired service metadata: %s",
                 lc_strerror(status));
    }
    free(c);
}

static void delete_expired(struct lc_naming *n, struct lc_smeta *e)
{
    struct delete_ctx *c = malloc(sizeof *c + strlen(e->key) + 1);
    int rv;

    if (c == NULL) {
        return;
    }
    memset(&c->w, 0, sizeof c->w);
    c->w.data = c;
    c->n = n;
    strcpy(c->key, e->key);
    lc_infof("naming", "Remove expired metadata of %s@@%s in %s", e->group,
             e->name, e->ns);
    rv = lc_entry_write_service_meta(n, LC_SMETA_DELETE, e->ns, e->group,
                                     e->name, NULL, &c->w, on_deleted);
    if (rv != 0) {
        free(c);
        return;
    }
    e->deleting = true;
}

static bool leads_service_meta(struct lc_naming *n)
{
    struct lc_raft_group *g = lc_statemachine_group(n->service_meta_sm);
    struct lc_raft_group_status st;
    if (g == NULL) {
        return false;
    }
    lc_raft_group_status(g, &st);
    return st.state != NULL && strcmp(st.state, "leader") == 0;
}

void lc_service_clean_metadata(struct lc_naming *n, uint64_t expired_ms)
{
    uint64_t now = lc_mono_ms();
    struct lc_smeta *e, *tmp;
    if (n->smeta == NULL || !leads_service_meta(n)) {
        return;
    }
    HASH_ITER(hh, n->smeta, e, tmp)
    {
        struct lc_service_key k = {e->ns, e->group, e->name};
        if (e->expired_ms == 0 || e->deleting) {
            continue;
        }
        if (lc_registry_find_service(n->reg, &k) != NULL) {
            e->expired_ms = 0; /* the service is back */
        } else if (now - e->expired_ms > expired_ms) {
            delete_expired(n, e);
        }
    }
}

/* --------------------------------------------------------------- timers */

static void on_empty_timer(uv_timer_t *t)
{
    struct lc_service_cleaner *c = t->data;
    lc_service_clean_empty(c->n, c->o.empty_service_expired_ms);
}

static void on_meta_timer(uv_timer_t *t)
{
    struct lc_service_cleaner *c = t->data;
    lc_service_clean_metadata(c->n, c->o.expired_metadata_expired_ms);
    lc_imeta_clean(c->n, c->o.expired_metadata_expired_ms);
}

static unsigned min_u(unsigned a, unsigned b)
{
    return a < b ? a : b;
}

int lc_service_cleaner_start(struct lc_naming *n,
                             const struct lc_naming_clean_options *opts,
                             struct lc_service_cleaner **out)
{
    struct lc_service_cleaner *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return LC_ENOMEM;
    }
    c->n = n;
    c->o = *opts;
    uv_timer_init(n->loop, &c->empty);
    uv_timer_init(n->loop, &c->meta);
    c->empty.data = c;
    c->meta.data = c;
    c->open = 2;
    uv_timer_start(&c->empty, on_empty_timer,
                   min_u(EMPTY_INITIAL_MS, opts->empty_service_interval_ms),
                   opts->empty_service_interval_ms);
    uv_timer_start(&c->meta, on_meta_timer,
                   min_u(META_INITIAL_MS, opts->expired_metadata_interval_ms),
                   opts->expired_metadata_interval_ms);
    *out = c;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    struct lc_service_cleaner *c = h->data;
    if (--c->open == 0) {
        free(c);
    }
}

void lc_service_cleaner_close(struct lc_service_cleaner *c)
{
    uv_timer_stop(&c->empty);
    uv_timer_stop(&c->meta);
    uv_close((uv_handle_t *)&c->empty, on_closed);
    uv_close((uv_handle_t *)&c->meta, on_closed);
}
