/* The Raft entries of the naming groups, each kind built here and nowhere
 * else (the processors in naming/store/ decode them):
 *
 *   group                          operation           data
 *   naming_persistent_service_v2   ADD, DELETE, HEALTH InstanceStore
 *   naming_instance_metadata       PUT, DELETE         MetadataStore
 *   naming_service_metadata        CHANGE, ADD, DELETE ServiceMetaOp
 *   naming_persistent_service      Write               {"entry","value"}
 *
 * The lc_entry_write_* functions encode an entry and submit it to its group
 * with lc_sm_write(): @w is borrowed until @cb fires; they return 0, or an
 * LC_E* code and then @cb never fires. The lc_entry_encode_* functions only
 * encode (for tests and fixtures): *@data is malloc'd.
 */
#ifndef LC_NAMING_OPS_ENTRIES_H
#define LC_NAMING_OPS_ENTRIES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "naming/internal.h"
#include "naming/naming.pb-c.h"
#include "naming/store/service_meta.h"

#define LC_ENTRY_ADD "ADD"
#define LC_ENTRY_DELETE "DELETE"
#define LC_ENTRY_HEALTH "HEALTH"
#define LC_ENTRY_PUT "PUT"
#define LC_SWITCH_WRITE "Write"

/* A persistent instance of client "ip:port#false" in a service. Strings are
 * borrowed for the call. */
struct lc_instance_entry {
    const char *ns;
    const char *group;
    const char *service; /* bare */
    const char *grouped; /* group@@service */
    const char *client_id;
    const char *ip;
    int port;
    const char *cluster;
    double weight;
    bool healthy;
    bool enabled;
    const char *metadata; /* canonical JSON object text */
    const char *instance_id;
};

/* The raft key of an instance entry: "<ns>##<grouped>##<client id>". */
void lc_entry_instance_key(char *out, size_t size, const char *ns,
                           const char *grouped, const char *client_id);

int lc_entry_encode_instance(const struct lc_instance_entry *ie, void **data,
                             size_t *len);
/* @op: LC_ENTRY_ADD, LC_ENTRY_DELETE, or LC_ENTRY_HEALTH (only the healthy
 * flag of the instance still there when it applies changes). */
int lc_entry_write_instance(struct lc_naming *n, const char *op,
                            const struct lc_instance_entry *ie,
                            struct lc_sm_write *w, lc_sm_write_cb cb);

/* A HEALTH entry for @inst, published by persistent client @client_id in
 * @svc: its healthy flag becomes @healthy if that instance is still there
 * when the entry applies. */
int lc_entry_write_health(struct lc_naming *n, const struct lc_service *svc,
                          const char *client_id,
                          const struct lc_instance *inst, bool healthy,
                          struct lc_sm_write *w, lc_sm_write_cb cb);

/* An instance overlay (InstanceMetadata: enabled, weight, extendData, and
 * the locus-only "ephemeral") under @okey (lc_overlay_key). @overlay is
 * borrowed (serialised with sorted keys); NULL encodes a DELETE's data. */
int lc_entry_encode_overlay(const char *okey, const json_t *overlay,
                            void **data, size_t *len);
int lc_entry_write_overlay(struct lc_naming *n, const char *okey,
                           const json_t *overlay, struct lc_sm_write *w,
                           lc_sm_write_cb cb);
int lc_entry_write_overlay_delete(struct lc_naming *n, const char *okey,
                                  struct lc_sm_write *w, lc_sm_write_cb cb);

/* A service's metadata operation: @op LC_SMETA_CHANGE or LC_SMETA_ADD with
 * @meta, or LC_SMETA_DELETE with @meta NULL. */
int lc_entry_encode_service_meta(const char *ns, const char *group,
                                 const char *name,
                                 const Locus__Naming__ServiceMeta *meta,
                                 void **data, size_t *len);
int lc_entry_write_service_meta(struct lc_naming *n, const char *op,
                                const char *ns, const char *group,
                                const char *name,
                                const Locus__Naming__ServiceMeta *meta,
                                struct lc_sm_write *w, lc_sm_write_cb cb);

/* A switch domain update: entry @entry set to @value (validated before). */
int lc_entry_encode_switch(const char *entry, const char *value, void **data,
                           size_t *len);
int lc_entry_write_switch(struct lc_naming *n, const char *entry,
                          const char *value, struct lc_sm_write *w,
                          lc_sm_write_cb cb);

#endif /* LC_NAMING_OPS_ENTRIES_H */
