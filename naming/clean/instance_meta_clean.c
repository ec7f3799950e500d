/* The instance half of Nacos's ExpiredMetadataCleaner: overlays in
 * naming_instance_metadata of instances that no longer exist are deleted
 * through Raft once they have been orphaned for `expired-time`.
 *
 * Nacos 2.4.3 keeps ExpiredMetadataInfo marks in NamingMetadataManager: an
 * InstanceMetadataEvent(expired=true) on deregistration marks the overlay of
 * that metadata id ("ip:port:cluster"), a registration of the same id
 * (expired=false) removes the mark, and ExpiredMetadataCleaner deletes every
 * overlay marked for longer than nacos.naming.clean.expired-metadata.
 * expired-time (checked every ...interval) with a DELETE through the
 * metadata Raft group; applying the DELETE drops the mark. So an instance
 * re-registered before the expiry keeps its overlay.
 *
 * Here the marks live on the leader of naming_instance_metadata only, and
 * are derived from state rather than from events: each pass (on the
 * expired-metadata timer) the leader compares the overlays with the
 * instances of its registry, marks an overlay whose instance is missing
 * (at that time), unmarks one whose instance is back, and deletes what has
 * been marked for longer than expired-time. That covers what Nacos's events
 * miss: persistent instances (Nacos marks only ephemeral ones), overlays
 * orphaned across a restart or a snapshot, and a leader change (the new
 * leader starts its own clock, so a removal comes late, never early).
 *
 * Cost: the comparison is a walk over the overlays and the instances of
 * their services, and it runs only when something it depends on changed
 * (overlay writes, registrations, deregistrations); otherwise a pass only
 * looks at the marks. At most MAX_IN_FLIGHT deletes are on their way at
 * once. A DELETE that fails (leadership lost, timeout) leaves the mark; the
 * next pass tries again.
 */
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "naming/clean/instance_meta_clean.h"
#include "naming/ops/entries.h"

#define MAX_IN_FLIGHT 128

/* What this node knows of one overlay: ExpiredMetadataInfo when marked. */
struct mark {
    char *key;         /* overlay key */
    uint64_t since_ms; /* lc_mono_ms() when found orphaned; 0: not marked */
    bool ephemeral;    /* the overlay's instance is (was) ephemeral */
    bool present;      /* ephemeral: its instance was seen on this node */
    bool deleting;     /* our DELETE is on its way */
    bool seen;         /* the overlay still exists, at the last scan */
    UT_hash_handle hh;
};

struct lc_imeta_cleaner {
    struct mark *marks;
    bool scanned;  /* a scan ran with the current leadership */
    bool leading;  /* ...which was this */
    uint64_t gen;  /* what the last scan saw (see generation()) */
    unsigned in_flight;
    unsigned long removed; /* overlays deleted by this node */
};

struct delete_ctx {
    struct lc_sm_write w;
    struct lc_naming *n;
    char key[];
};

static void mark_free(struct lc_imeta_cleaner *c, struct mark *m)
{
    HASH_DEL(c->marks, m);
    free(m->key);
    free(m);
}

void lc_imeta_cleaner_free(struct lc_imeta_cleaner *c)
{
    struct mark *m, *tmp;
    if (c == NULL) {
        return;
    }
    HASH_ITER(hh, c->marks, m, tmp)
    {
        mark_free(c, m);
    }
    free(c);
}

unsigned lc_imeta_marked(const struct lc_naming *n)
{
    struct mark *m, *tmp;
    unsigned count = 0;
    if (n->imeta == NULL) {
        return 0;
    }
    HASH_ITER(hh, n->imeta->marks, m, tmp)
    {
        count += m->since_ms != 0;
    }
    return count;
}

/* Changes whenever an overlay or an instance may have come or gone. */
static uint64_t generation(const struct lc_naming *n)
{
    return n->instance_meta.changes +
           lc_bus_count(n->bus, LC_EV_CLIENT_REGISTER_SERVICE) +
           lc_bus_count(n->bus, LC_EV_CLIENT_DEREGISTER_SERVICE) +
           lc_bus_count(n->bus, LC_EV_CLIENT_DISCONNECT);
}

/* --------------------------------------------------------------- scan */

/* "ip:port:cluster" of one instance of a service. */
struct id {
    UT_hash_handle hh;
    char text[];
};

/* The ids of one service's instances, built when first needed. */
struct svc_ids {
    const struct lc_service *svc;
    struct id *ids;
    bool incomplete; /* out of memory: every id counts as existing */
    UT_hash_handle hh; /* by svc pointer */
};

static void add_id(struct lc_instance *inst, void *data)
{
    struct svc_ids *s = data;
    char text[1200];
    struct id *e;
    size_t len;
    snprintf(text, sizeof text, "%s:%d:%s", inst->ip, inst->port,
             inst->cluster);
    len = strlen(text);
    HASH_FIND(hh, s->ids, text, len, e);
    if (e != NULL) {
        return;
    }
    if ((e = malloc(sizeof *e + len + 1)) == NULL) {
        s->incomplete = true;
        return;
    }
    memcpy(e->text, text, len + 1);
    HASH_ADD_KEYPTR(hh, s->ids, e->text, len, e);
}

struct scan {
    struct lc_naming *n;
    struct lc_imeta_cleaner *c;
    struct svc_ids *cache;
    uint64_t now;
    bool failed; /* out of memory: scan again next time */
};

/* Whether the instance @id of @svc exists. */
static bool instance_exists(struct scan *s, const struct lc_service *svc,
                            const char *id)
{
    struct svc_ids *e = NULL;
    struct id *found = NULL;
    HASH_FIND_PTR(s->cache, &svc, e);
    if (e == NULL) {
        e = calloc(1, sizeof *e);
        if (e == NULL) {
            s->failed = true;
            return true; /* not knowing never removes anything */
        }
        e->svc = svc;
        lc_registry_each_instance(s->n->reg, svc, add_id, e);
        HASH_ADD_PTR(s->cache, svc, e);
        if (e->incomplete) {
            s->failed = true;
        }
    }
    if (e->incomplete) {
        return true;
    }
    HASH_FIND_STR(e->ids, id, found);
    return found != NULL;
}

/* Whether the overlay @value names a persistent instance. Overlays written
 * before the flag existed count as ephemeral: only a node that saw the
 * instance judges them, which is never wrong. */
static bool overlay_persistent(const void *value, size_t len)
{
    json_t *o = json_loadb(value, len, 0, NULL);
    bool persistent = json_is_false(json_object_get(o, "ephemeral"));
    json_decref(o);
    return persistent;
}

static struct mark *mark_get(struct scan *s, const char *key, bool ephemeral)
{
    struct mark *m = NULL;
    HASH_FIND_STR(s->c->marks, key, m);
    if (m != NULL) {
        return m;
    }
    m = calloc(1, sizeof *m);
    if (m == NULL || (m->key = strdup(key)) == NULL) {
        free(m);
        s->failed = true;
        return NULL;
    }
    m->ephemeral = ephemeral;
    HASH_ADD_KEYPTR(hh, s->c->marks, m->key, strlen(m->key), m);
    return m;
}

/* Persistent instances are replicated: the leader judges their overlays
 * from its registry. An ephemeral instance is judged by every node that saw
 * it present (its own client, or a copy Distro synced): each sees it go. */
static void on_overlay(const char *key, const void *value, size_t len,
                       void *data)
{
    struct scan *s = data;
    const char *sep = strchr(key, '\x1e');
    struct lc_service *svc = NULL;
    struct mark *m = NULL;
    bool exists;
    bool ephemeral;
    if (sep == NULL) {
        return; /* not an overlay key */
    }
    ephemeral = !overlay_persistent(value, len);
    HASH_FIND(hh, s->n->reg->services, key, (unsigned)(sep - key), svc);
    exists = svc != NULL && instance_exists(s, svc, sep + 1);
    HASH_FIND_STR(s->c->marks, key, m);
    if (m != NULL && m->ephemeral != ephemeral && !m->deleting) {
        mark_free(s->c, m); /* rewritten for the other kind: afresh */
        m = NULL;
    }
    if (exists) {
        if (ephemeral && m == NULL) {
            m = mark_get(s, key, ephemeral); /* present here */
        }
        if (m != NULL) {
            m->present = true;
            if (!m->deleting) {
                m->since_ms = 0; /* back before the expiry: kept */
            }
        }
    } else if (ephemeral ? m != NULL && m->present : s->c->leading) {
        if (m == NULL) {
            m = mark_get(s, key, ephemeral);
        }
        if (m != NULL && m->since_ms == 0) {
            m->since_ms = s->now;
        }
    }
    if (m != NULL) {
        m->seen = true;
    }
}

/* Mark the orphaned overlays, unmark the ones whose instance is back,
 * forget the marks of overlays that are gone. */
static void scan(struct lc_naming *n, struct lc_imeta_cleaner *c,
                 uint64_t now)
{
    struct scan s = {.n = n, .c = c, .now = now};
    struct mark *m, *mtmp;
    struct svc_ids *e, *etmp;
    HASH_ITER(hh, c->marks, m, mtmp)
    {
        m->seen = false;
    }
    lc_kvstore_each(&n->instance_meta, on_overlay, &s);
    HASH_ITER(hh, c->marks, m, mtmp)
    {
        if ((!m->seen || (!m->ephemeral && !c->leading)) && !m->deleting) {
            mark_free(c, m); /* gone, or not ours to judge any more */
        }
    }
    HASH_ITER(hh, s.cache, e, etmp)
    {
        struct id *i, *itmp;
        HASH_ITER(hh, e->ids, i, itmp)
        {
            HASH_DEL(e->ids, i);
            free(i);
        }
        HASH_DEL(s.cache, e);
        free(e);
    }
    c->scanned = !s.failed;
}

/* ------------------------------------------------------------- delete */

static void on_deleted(struct lc_sm_write *w, int status,
                       const struct lc_raft_result *result)
{
    struct delete_ctx *d = w->data;
    struct lc_imeta_cleaner *c = d->n->imeta;
    struct mark *m = NULL;
    if (c != NULL) {
        c->in_flight--;
        HASH_FIND_STR(c->marks, d->key, m);
    }
    if (status != 0 || result->status != 0) {
        lc_warnf("naming", "deleting expired instance metadata: %s",
                 lc_strerror(status != 0 ? status : result->status));
        if (m != NULL) {
            m->deleting = false; /* tried again by the next pass */
        }
    } else if (m != NULL) {
        c->removed++;
        mark_free(c, m); /* applied: the overlay is gone */
    }
    free(d);
}

static void delete_overlay(struct lc_naming *n, struct lc_imeta_cleaner *c,
                           struct mark *m)
{
    size_t klen = strlen(m->key);
    struct delete_ctx *d = malloc(sizeof *d + klen + 1);
    const char *sep = strchr(m->key, '\x1e');
    int rv;

    if (d == NULL) {
        return;
    }
    memset(&d->w, 0, sizeof d->w);
    d->w.data = d;
    d->n = n;
    memcpy(d->key, m->key, klen + 1);
    /* Nacos: "Remove expired metadata ExpiredMetadataInfo{...}". */
    {
        char svc[1200];
        size_t i;
        snprintf(svc, sizeof svc, "%.*s", (int)(sep - m->key), m->key);
        for (i = 0; svc[i] != '\0'; i++) {
            svc[i] = svc[i] == '\x1f' ? ' ' : svc[i]; /* ns group name */
        }
        lc_infof("naming", "Remove expired metadata of instance %s in %s",
                 sep + 1, svc);
    }
    rv = lc_entry_write_overlay_delete(n, m->key, &d->w, on_deleted);
    if (rv != 0) {
        lc_warnf("naming", "deleting expired instance metadata: %s",
                 lc_strerror(rv));
        free(d);
        return;
    }
    m->deleting = true;
    c->in_flight++;
}

/* ------------------------------------------------------------ writes */

/* An overlay was written or loaded here. If it is an ephemeral HTTP
 * instance's ("ip:port#true") and that instance is here, remember it:
 * this node judges the overlay from now on, even if the instance goes
 * before the next pass. */
void lc_imeta_on_overlay(struct lc_naming *n, const char *key)
{
    const char *sep = strchr(key, '\x1e');
    const char *c1;
    const char *c2;
    struct lc_service *svc = NULL;
    struct lc_instance *inst;
    struct mark *m = NULL;
    char client[1200];
    size_t len;
    const void *value;

    if (sep == NULL || (c2 = strrchr(sep + 1, ':')) == NULL) {
        return;
    }
    for (c1 = c2 - 1; c1 > sep && *c1 != ':'; c1--) {
    }
    value = lc_kvstore_get(&n->instance_meta, key, &len);
    if (c1 <= sep || value == NULL || overlay_persistent(value, len) ||
        (size_t)(c2 - sep) >= sizeof client - 8) {
        return;
    }
    HASH_FIND(hh, n->reg->services, key, (unsigned)(sep - key), svc);
    if (svc == NULL) {
        return;
    }
    /* "ip:port" of "ip:port:cluster", then "#true". */
    snprintf(client, sizeof client, "%.*s#true", (int)(c2 - sep - 1),
             sep + 1);
    inst = lc_registry_instance_of(n->reg, client, svc);
    if (inst == NULL || strcmp(inst->cluster, c2 + 1) != 0) {
        return;
    }
    if (n->imeta == NULL && (n->imeta = calloc(1, sizeof *n->imeta)) == NULL) {
        return;
    }
    HASH_FIND_STR(n->imeta->marks, key, m);
    if (m == NULL) {
        m = calloc(1, sizeof *m);
        if (m == NULL || (m->key = strdup(key)) == NULL) {
            free(m);
            return;
        }
        m->ephemeral = true;
        HASH_ADD_KEYPTR(hh, n->imeta->marks, m->key, strlen(m->key), m);
    }
    m->present = true;
    m->seen = true;
}

/* --------------------------------------------------------------- pass */

/* Leading naming_instance_metadata, with everything committed before this
 * term applied here, and the registry caught up at least once. */
static bool leads_instance_meta(struct lc_naming *n)
{
    struct lc_raft_group *g = lc_statemachine_group(n->instance_meta_sm);
    struct lc_raft_group_status st;
    if (g == NULL) {
        return false;
    }
    lc_raft_group_status(g, &st);
    return st.state != NULL && strcmp(st.state, "leader") == 0 &&
           st.leader_ready && lc_raft_engine_caught_up(n->engine);
}

void lc_imeta_clean_pass(struct lc_naming *n, uint64_t now, bool leading,
                         uint64_t expired_ms)
{
    struct lc_imeta_cleaner *c = n->imeta;
    struct mark *m, *tmp;
    uint64_t gen;
    if (c == NULL) {
        if (lc_kvstore_count(&n->instance_meta) == 0) {
            return; /* nothing to clean, nothing to allocate */
        }
        c = n->imeta = calloc(1, sizeof *c);
        if (c == NULL) {
            return;
        }
    }
    gen = generation(n);
    if (!c->scanned || gen != c->gen || leading != c->leading) {
        /* A new leader keeps its own clock: late, never early. */
        c->leading = leading;
        c->gen = gen;
        scan(n, c, now);
    }
    /* ExpiredMetadataCleaner.doClean: currentTime - createTime > expired. */
    HASH_ITER(hh, c->marks, m, tmp)
    {
        if (c->in_flight >= MAX_IN_FLIGHT) {
            break;
        }
        if (m->since_ms != 0 && !m->deleting &&
            now - m->since_ms > expired_ms) {
            delete_overlay(n, c, m);
        }
    }
}

void lc_imeta_clean(struct lc_naming *n, uint64_t expired_ms)
{
    lc_imeta_clean_pass(n, lc_mono_ms(), leads_instance_meta(n), expired_ms);
}
