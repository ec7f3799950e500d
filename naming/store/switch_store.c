/* The processor of naming_persistent_service, the legacy group Nacos keeps
 * for its switch domain (SwitchManager): every member applies the same
 * switch updates in log order into n->sw.
 *
 * Entries: operation "Write", key LC_SWITCH_DOMAIN_KEY, data the JSON
 * {"entry":"<entry>","value":"<value>"}. An entry carries the change, not
 * the whole domain as Nacos's does, so two operators changing different
 * switches at once cannot undo each other; the value is validated again on
 * apply (deterministically), so every member ends with the same domain.
 *
 * Snapshot: one `switch_domain` table (key TEXT, value TEXT) with the
 * domain's JSON under LC_SWITCH_DOMAIN_KEY.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "naming/internal.h"
#include "snapshots/snapshots.h"

static void on_apply(struct lc_processor *p, uint64_t index,
                     const Locus__Consistency__WriteRequest *req,
                     struct lc_raft_result *result)
{
    struct lc_naming *n = p->data;
    json_t *doc = NULL;
    const char *entry;
    const char *value;
    (void)index;
    if (strcmp(req->operation, "Write") != 0) {
        result->status = LC_EINVAL;
        snprintf(result->message, sizeof result->message,
                 "unknown operation '%s'", req->operation);
        return;
    }
    if (req->data.len > 0) {
        doc = json_loadb((const char *)req->data.data, req->data.len, 0, NULL);
    }
    entry = json_string_value(json_object_get(doc, "entry"));
    value = json_string_value(json_object_get(doc, "value"));
    if (entry == NULL || value == NULL) {
        result->status = LC_ECORRUPT;
        lc_strlcpy(result->message, "undecodable switch update",
                   sizeof result->message);
    } else {
        result->status = lc_switches_update(
            &n->sw, entry, value, result->message, sizeof result->message);
        if (result->status == 0) {
            lc_infof("naming", "switch %s set to '%s'", entry, value);
        }
    }
    json_decref(doc);
}

/* The domain is small: freezing renders it to text on the loop. */
static int snapshot_freeze(struct lc_processor *p, void **out)
{
    struct lc_naming *n = p->data;
    json_t *doc = lc_switches_json(&n->sw);
    char *text = doc != NULL
                     ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15))
                     : NULL;
    json_decref(doc);
    if (text == NULL) {
        return LC_ENOMEM;
    }
    *out = text;
    return 0;
}

static int snapshot_save(struct lc_processor *p, void *frozen, sqlite3 *db,
                         char *errmsg, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc;
    (void)p;
    rc = sqlite3_exec(db,
                      "CREATE TABLE switch_domain (key TEXT NOT NULL,"
                      " value TEXT NOT NULL)",
                      NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_prepare_v2(db, "INSERT INTO switch_domain VALUES (?,?)",
                                -1, &st, NULL);
    }
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, LC_SWITCH_DOMAIN_KEY, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, frozen, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    if (rc != SQLITE_OK) {
        snprintf(errmsg, errlen, "writing switch_domain: %s",
                 sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : LC_EIO;
}

static void snapshot_release(struct lc_processor *p, void *frozen)
{
    (void)p;
    free(frozen);
}

static int snapshot_load(struct lc_processor *p, sqlite3 *db, char *errmsg,
                         size_t errlen)
{
    struct lc_naming *n = p->data;
    struct lc_switches fresh;
    sqlite3_stmt *st = NULL;
    json_t *doc = NULL;
    int rv = 0;
    int rc = lc_snapshot_select(db, "switch_domain", "key, value", &st,
                                errmsg, errlen);
    if (rc != 0) {
        return rc;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        const char *value = (const char *)sqlite3_column_text(st, 1);
        if (key == NULL || value == NULL ||
            strcmp(key, LC_SWITCH_DOMAIN_KEY) != 0 || doc != NULL) {
            snprintf(errmsg, errlen, "unexpected switch_domain row");
            rv = LC_ECORRUPT;
            break;
        }
        doc = json_loads(value, 0, NULL);
        if (doc == NULL) {
            snprintf(errmsg, errlen, "switch domain is not JSON");
            rv = LC_ECORRUPT;
            break;
        }
    }
    if (rv == 0 && rc != SQLITE_DONE) {
        snprintf(errmsg, errlen, "reading switch_domain: %s",
                 sqlite3_errmsg(db));
        rv = LC_ECORRUPT;
    }
    sqlite3_finalize(st);
    if (rv == 0 && doc != NULL) {
        rv = lc_switches_from_json(doc, &fresh);
        if (rv != 0) {
            snprintf(errmsg, errlen, "bad switch domain in snapshot: %s",
                     lc_strerror(rv));
            rv = rv == LC_ENOMEM ? rv : LC_ECORRUPT;
        }
    } else if (rv == 0) {
        lc_switches_default(&fresh); /* an empty table: the defaults */
    }
    json_decref(doc);
    if (rv != 0) {
        return rv;
    }
    lc_switches_clear(&n->sw);
    n->sw = fresh;
    return 0;
}

void lc_naming_switch_processor(struct lc_naming *n, struct lc_processor *p)
{
    memset(p, 0, sizeof *p);
    p->group = LC_GROUP_SWITCHES;
    p->data = n;
    p->on_apply = on_apply;
    p->snapshot_freeze = snapshot_freeze;
    p->snapshot_save = snapshot_save;
    p->snapshot_release = snapshot_release;
    p->snapshot_load = snapshot_load;
}
