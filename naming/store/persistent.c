/* The processor of naming_persistent_service_v2: persistent instances, one
 * "ip:port#false" client each, as Nacos's PersistentClientOperationServiceImpl.
 *
 * on_apply runs on every member in log order: ADD (register or update)
 * publishes the instance, DELETE withdraws it, HEALTH (locus's own, from
 * the health checker and health/instance) flips the healthy flag of the
 * instance as it stands at that point of the log; all go through the
 * registry, whose events update the index and reach the push pipeline.
 *
 * Snapshot: one `instances` table, a row per (client, service). Loading a
 * snapshot replaces the persistent clients, publishing events only for what
 * actually differs, so subscribers see no flapping. It is loaded in slices
 * (load_begin/load_step), so that a member installing a snapshot of 200,000
 * instances keeps serving (statemachine.h).
 */
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "naming/internal.h"
#include "snapshots/snapshots.h"
#include "naming/naming.pb-c.h"

/* ---------------------------------------------------------------- apply */

static void apply_add(struct lc_naming *n,
                      const Locus__Naming__InstanceStore *st,
                      struct lc_raft_result *result)
{
    struct lc_service_key key = {st->namespace_, st->group_name,
                                 st->service_name};
    struct lc_service *svc = lc_registry_find_service(n->reg, &key);
    struct lc_instance *inst;

    if (svc != NULL && svc->ephemeral) {
        result->status = LC_EINVAL;
        snprintf(result->message, sizeof result->message,
                 "errCode: 400, errMsg: Current service %s is ephemeral "
                 "service, can't register persistent instance. ",
                 svc->grouped);
        return;
    }
    inst = lc_instance_new(st->ip, st->port, st->cluster, st->weight,
                           st->healthy, st->enabled, false, st->metadata,
                           st->instance_id);
    if (inst == NULL) {
        result->status = LC_EINVAL;
        lc_strlcpy(result->message, "bad instance in log entry",
                   sizeof result->message);
        return;
    }
    /* Create the service only for an instance that will be in it. */
    if (svc == NULL) {
        svc = lc_registry_service(n->reg, &key, false);
    }
    result->status = svc == NULL ? LC_ENOMEM
                                 : lc_registry_publish(n->reg, st->client_id,
                                                       LC_CLIENT_PERSISTENT, svc, inst);
    lc_instance_unref(inst);
}

static void apply_delete(struct lc_naming *n,
                         const Locus__Naming__InstanceStore *st)
{
    struct lc_service_key key = {st->namespace_, st->group_name,
                                 st->service_name};
    struct lc_service *svc = lc_registry_find_service(n->reg, &key);
    if (svc != NULL) {
        lc_registry_unpublish(n->reg, st->client_id, svc);
    }
}

/* HEALTH: a health verdict is written with the instance as the checker saw
 * it, but an update or a deregistration may be committed before it. Nacos
 * writes the verdict as an ADD of the whole instance, which then undoes the
 * update or brings the deregistered instance back; here only the flag of
 * the instance that is still there (same ip, port and cluster) changes. */
static void apply_health(struct lc_naming *n,
                         const Locus__Naming__InstanceStore *st,
                         struct lc_raft_result *result)
{
    struct lc_service_key key = {st->namespace_, st->group_name,
                                 st->service_name};
    struct lc_service *svc = lc_registry_find_service(n->reg, &key);
    struct lc_publish *pub;
    const struct lc_instance *cur;
    struct lc_instance *inst;

    if (svc == NULL ||
        (pub = lc_registry_find_publish(n->reg, st->client_id, svc)) == NULL) {
        return; /* deregistered since the verdict */
    }
    cur = pub->inst;
    if (strcmp(cur->ip, st->ip) != 0 || cur->port != st->port ||
        strcmp(cur->cluster, st->cluster) != 0 || cur->healthy == st->healthy) {
        return;
    }
    inst = lc_instance_new(cur->ip, cur->port, cur->cluster, cur->weight,
                           st->healthy, cur->enabled, false,
                           cur->metadata_text, cur->instance_id);
    if (inst == NULL) {
        result->status = LC_ENOMEM;
        return;
    }
    result->status = lc_registry_publish(n->reg, st->client_id, LC_CLIENT_PERSISTENT, svc,
                                         inst);
    lc_instance_unref(inst);
}

static void on_apply(struct lc_processor *p, uint64_t index,
                     const Locus__Consistency__WriteRequest *req,
                     struct lc_raft_result *result)
{
    struct lc_naming *n = p->data;
    Locus__Naming__InstanceStore *st = locus__naming__instance_store__unpack(
        NULL, req->data.len, req->data.data);
    (void)index;
    if (st == NULL) {
        result->status = LC_ECORRUPT;
        lc_strlcpy(result->message, "undecodable instance",
                   sizeof result->message);
        return;
    }
    if (strcmp(req->operation, "ADD") == 0) {
        apply_add(n, st, result);
    } else if (strcmp(req->operation, "DELETE") == 0) {
        apply_delete(n, st);
    } else if (strcmp(req->operation, "HEALTH") == 0) {
        apply_health(n, st, result);
    } else {
        result->status = LC_EINVAL;
        snprintf(result->message, sizeof result->message,
                 "unknown operation '%s'", req->operation);
    }
    locus__naming__instance_store__free_unpacked(st, NULL);
}

static void on_read(struct lc_processor *p,
                    const Locus__Consistency__ReadRequest *req,
                    Locus__Consistency__Response *resp)
{
    struct lc_naming *n = p->data;
    char text[32];
    (void)req;
    /* The read barrier is what matters; answer with the instance count. */
    snprintf(text, sizeof text, "%lu", n->reg->n_instances);
    resp->data.data = (uint8_t *)strdup(text);
    resp->data.len = resp->data.data != NULL ? strlen(text) : 0;
    resp->success = resp->data.data != NULL;
}

/* ------------------------------------------------------------- snapshot */

/* What a snapshot writes: a copy of the registry's dense row array, taken
 * on the loop with the model pinned, so nothing it points to is freed until
 * snapshot_release. Freezing costs one memcpy, whatever the state's size. */
struct frozen {
    struct lc_row *rows;
    size_t n;
};

static int snapshot_freeze(struct lc_processor *p, void **out)
{
    struct lc_naming *n = p->data;
    struct frozen *f = calloc(1, sizeof *f);
    size_t n_rows = n->reg->n_rows;

    if (f == NULL) {
        return LC_ENOMEM;
    }
    f->rows = malloc((n_rows > 0 ? n_rows : 1) * sizeof *f->rows);
    if (f->rows == NULL) {
        free(f);
        return LC_ENOMEM;
    }
    memcpy(f->rows, n->reg->rows, n_rows * sizeof *f->rows);
    f->n = n_rows;
    lc_model_pin();
    *out = f;
    return 0;
}

static const char create_sql[] =
    "CREATE TABLE instances ("
    " client_id TEXT NOT NULL, namespace TEXT NOT NULL,"
    " group_name TEXT NOT NULL, service_name TEXT NOT NULL,"
    " ip TEXT NOT NULL, port INTEGER NOT NULL, cluster TEXT NOT NULL,"
    " weight REAL NOT NULL, healthy INTEGER NOT NULL,"
    " enabled INTEGER NOT NULL, metadata TEXT NOT NULL,"
    " instance_id TEXT NOT NULL)";

/* Worker thread: reads only the frozen rows. */
static int snapshot_save(struct lc_processor *p, void *frozen, sqlite3 *db,
                         char *errmsg, size_t errlen)
{
    struct frozen *f = frozen;
    sqlite3_stmt *st = NULL;
    int rc;
    (void)p;

    rc = sqlite3_exec(db, create_sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_prepare_v2(db,
                                "INSERT INTO instances VALUES"
                                " (?,?,?,?,?,?,?,?,?,?,?,?)",
                                -1, &st, NULL);
    }
    for (size_t i = 0; rc == SQLITE_OK && i < f->n; i++) {
        const struct lc_row *r = &f->rows[i];
        sqlite3_bind_text(st, 1, r->client_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r->service->ns, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, r->service->group, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, r->service->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, r->inst->ip, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 6, r->inst->port);
        sqlite3_bind_text(st, 7, r->inst->cluster, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 8, r->inst->weight);
        sqlite3_bind_int(st, 9, r->inst->healthy);
        sqlite3_bind_int(st, 10, r->inst->enabled);
        sqlite3_bind_text(st, 11, r->inst->metadata_text, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 12, r->inst->instance_id, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        sqlite3_reset(st);
    }
    if (rc != SQLITE_OK) {
        snprintf(errmsg, errlen, "writing instances: %s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : LC_EIO;
}

static void snapshot_release(struct lc_processor *p, void *frozen)
{
    struct frozen *f = frozen;
    (void)p;
    free(f->rows);
    free(f);
    lc_model_unpin();
}

/* A (client, service) pair seen in the snapshot, for the diff. */
struct seen {
    char *key; /* client_id '\x1e' service key */
    UT_hash_handle hh;
};

/* Rows read back from a snapshot (strings owned). */
struct lrow {
    char *client_id;
    char *ns;
    char *group;
    char *service;
    struct lc_instance *inst;
};

/* A snapshot being loaded in slices (statemachine.h, load_begin). PARSE
 * reads and validates rows without touching the state; PUBLISH publishes
 * what is new or changed; WITHDRAW walks the registry's persistent rows
 * from the end (a withdrawn row's place is taken by one already visited)
 * and withdraws what the snapshot does not hold; FREE releases the
 * staging a few rows at a time. Nothing else changes
 * persistent rows meanwhile: entries wait in the glue until the load is
 * done, and ephemeral clients have no rows. */
enum load_phase { PARSE, PUBLISH, WITHDRAW, FREE, DONE };

struct staged {
    enum load_phase phase;
    sqlite3 *db;        /* borrowed until load_end */
    sqlite3_stmt *st;   /* PARSE */
    struct lrow *rows;
    size_t n;
    size_t cap;
    size_t cursor;      /* PUBLISH: next row; WITHDRAW: rows left */
    struct seen *seen;
};

static void lrow_free(struct lrow *r)
{
    free(r->client_id);
    free(r->ns);
    free(r->group);
    free(r->service);
    lc_instance_unref(r->inst);
}

static void staged_free(struct staged *f)
{
    struct seen *s, *stmp;
    sqlite3_finalize(f->st);
    for (size_t i = 0; i < f->n; i++) {
        lrow_free(&f->rows[i]);
    }
    HASH_ITER(hh, f->seen, s, stmp)
    {
        HASH_DEL(f->seen, s);
        free(s->key);
        free(s);
    }
    free(f->rows);
    free(f);
}

static int load_begin(struct lc_processor *p, sqlite3 *db, void **out,
                      char *errmsg, size_t errlen)
{
    struct staged *f = calloc(1, sizeof *f);
    int rv;
    (void)p;
    if (f == NULL) {
        return LC_ENOMEM;
    }
    rv = lc_snapshot_select(db, "instances",
                            "client_id, namespace, group_name, service_name,"
                            " ip, port, cluster, weight, healthy, enabled,"
                            " metadata, instance_id",
                            &f->st, errmsg, errlen);
    if (rv != 0) {
        free(f);
        return rv;
    }
    f->db = db;
    *out = f;
    return 0;
}

/* Read one row into f->rows: 0, or LC_ECORRUPT / LC_ENOMEM. */
static int parse_row(struct staged *f, char *errmsg, size_t errlen)
{
    sqlite3_stmt *st = f->st;
    const char *txt[12];
    struct lrow *r;
    if (f->n == f->cap) {
        size_t ncap = f->cap == 0 ? 1024 : f->cap * 2;
        struct lrow *nrows = realloc(f->rows, ncap * sizeof *nrows);
        if (nrows == NULL) {
            return LC_ENOMEM;
        }
        f->rows = nrows;
        f->cap = ncap;
    }
    for (int i = 0; i < 12; i++) {
        txt[i] = (const char *)sqlite3_column_text(st, i);
    }
    if (txt[0] == NULL || txt[1] == NULL || txt[2] == NULL ||
        txt[3] == NULL || txt[4] == NULL || txt[6] == NULL ||
        txt[10] == NULL || txt[11] == NULL) {
        snprintf(errmsg, errlen, "snapshot row %zu has NULL fields",
                 f->n + 1);
        return LC_ECORRUPT;
    }
    r = &f->rows[f->n++];
    memset(r, 0, sizeof *r);
    r->inst = lc_instance_new(
        txt[4], sqlite3_column_int(st, 5), txt[6], sqlite3_column_double(st, 7),
        sqlite3_column_int(st, 8) != 0, sqlite3_column_int(st, 9) != 0, false,
        txt[10], txt[11]);
    r->client_id = strdup(txt[0]);
    r->ns = strdup(txt[1]);
    r->group = strdup(txt[2]);
    r->service = strdup(txt[3]);
    if (r->inst == NULL || r->client_id == NULL || r->ns == NULL ||
        r->group == NULL || r->service == NULL) {
        snprintf(errmsg, errlen, "snapshot row %zu is invalid", f->n);
        return LC_ECORRUPT;
    }
    return 0;
}

static int publish_row(struct lc_naming *n, struct staged *f,
                       const struct lrow *r)
{
    struct lc_service_key key = {r->ns, r->group, r->service};
    struct lc_service *svc = lc_registry_service(n->reg, &key, false);
    struct lc_instance *old;
    struct seen *s;
    size_t klen;
    if (svc == NULL || (s = calloc(1, sizeof *s)) == NULL) {
        return LC_ENOMEM;
    }
    klen = strlen(r->client_id) + 1 + strlen(svc->key);
    if ((s->key = malloc(klen + 1)) == NULL) {
        free(s);
        return LC_ENOMEM;
    }
    snprintf(s->key, klen + 1, "%s\x1e%s", r->client_id, svc->key);
    HASH_ADD_KEYPTR(hh, f->seen, s->key, klen, s);
    old = lc_registry_instance_of(n->reg, r->client_id, svc);
    if (old == NULL || !lc_instance_equal(old, r->inst)) {
        lc_registry_publish(n->reg, r->client_id, LC_CLIENT_PERSISTENT, svc,
                            r->inst);
    }
    return 0;
}

/* Withdraw the persistent row at @i if the snapshot does not hold it. */
static void withdraw_row(struct lc_naming *n, struct staged *f, size_t i)
{
    const struct lc_row *row = &n->reg->rows[i];
    char buf[2048];
    char *k = buf;
    struct seen *s;
    size_t len = strlen(row->client_id) + 1 + strlen(row->service->key);
    if (len >= sizeof buf && (k = malloc(len + 1)) == NULL) {
        return; /* kept: an extra row rather than a crash */
    }
    {
        size_t c = strlen(row->client_id);
        memcpy(k, row->client_id, c);
        k[c] = '\x1e';
        memcpy(k + c + 1, row->service->key, len - c - 1);
    }
    HASH_FIND(hh, f->seen, k, len, s);
    if (k != buf) {
        free(k);
    }
    if (s == NULL) {
        struct lc_publish *pub =
            lc_registry_find_publish(n->reg, row->client_id, row->service);
        if (pub != NULL) {
            lc_registry_unpublish(n->reg, row->client_id, pub->service);
        }
    }
}

static int load_step(struct lc_processor *p, void *staged, uint64_t until_us,
                     bool *done, char *errmsg, size_t errlen)
{
    struct lc_naming *n = p->data;
    struct staged *f = staged;
    unsigned k = 0;
    int rc;
    int rv = 0;

    /* The clock is read every 16 rows (tens of microseconds of work). */
    while (f->phase != DONE && rv == 0 &&
           ((++k & 15) != 0 || lc_mono_us() < until_us)) {
        switch (f->phase) {
            case PARSE:
                rc = sqlite3_step(f->st);
                if (rc == SQLITE_ROW) {
                    rv = parse_row(f, errmsg, errlen);
                } else if (rc == SQLITE_DONE) {
                    f->phase = PUBLISH;
                } else {
                    snprintf(errmsg, errlen, "reading instances: %s",
                             sqlite3_errmsg(f->db));
                    rv = LC_ECORRUPT;
                }
                break;
            case PUBLISH:
                if (f->cursor < f->n) {
                    rv = publish_row(n, f, &f->rows[f->cursor++]);
                } else {
                    f->phase = WITHDRAW;
                    f->cursor = n->reg->n_rows;
                }
                break;
            case WITHDRAW:
                if (f->cursor > 0) {
                    size_t i = --f->cursor;
                    if (i < n->reg->n_rows) {
                        withdraw_row(n, f, i);
                    }
                } else {
                    f->phase = FREE;
                }
                break;
            case FREE:
                if (f->n > 0) {
                    lrow_free(&f->rows[--f->n]);
                } else if (f->seen != NULL) {
                    struct seen *sn = f->seen;
                    HASH_DEL(f->seen, sn);
                    free(sn->key);
                    free(sn);
                } else {
                    f->phase = DONE;
                }
                break;
            case DONE:
                break;
        }
    }
    if (rv == LC_ENOMEM) {
        snprintf(errmsg, errlen, "out of memory loading snapshot");
    }
    *done = f->phase == DONE;
    return rv;
}

static void load_end(struct lc_processor *p, void *staged)
{
    (void)p;
    staged_free(staged);
}

void lc_naming_persistent_processor(struct lc_naming *n,
                                    struct lc_processor *p)
{
    memset(p, 0, sizeof *p);
    p->group = LC_GROUP_PERSISTENT;
    p->data = n;
    p->on_apply = on_apply;
    p->on_read = on_read;
    p->snapshot_freeze = snapshot_freeze;
    p->snapshot_save = snapshot_save;
    p->snapshot_release = snapshot_release;
    p->load_begin = load_begin;
    p->load_step = load_step;
    p->load_end = load_end;
}
