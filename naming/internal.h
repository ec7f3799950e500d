/* Private structures of the naming module. */
#ifndef LC_NAMING_INTERNAL_H
#define LC_NAMING_INTERNAL_H

#include <uthash.h>
#include <uv.h>

#include "naming/events.h"
#include "naming/model.h"
#include "naming/naming.h"
#include "naming/registry.h"
#include "statemachine/statemachine.h"

#define LC_GROUP_PERSISTENT "naming_persistent_service_v2"
#define LC_GROUP_SERVICE_META "naming_service_metadata"
#define LC_GROUP_INSTANCE_META "naming_instance_metadata"

struct kv_entry;

/* The replicated key/value state of the metadata groups. */
struct lc_kvstore {
    struct kv_entry *entries;
};

void lc_kvstore_processor(struct lc_kvstore *kv, const char *group,
                          struct lc_processor *p);
void lc_kvstore_clear(struct lc_kvstore *kv);
unsigned lc_kvstore_count(const struct lc_kvstore *kv);

struct lc_naming {
    uv_loop_t *loop;
    struct lc_raft_engine *engine;
    struct lc_bus *bus;
    struct lc_registry *reg;

    struct lc_processor persistent_proc;
    struct lc_processor service_meta_proc;
    struct lc_processor instance_meta_proc;
    struct lc_statemachine *persistent_sm;
    struct lc_statemachine *service_meta_sm;
    struct lc_statemachine *instance_meta_sm;
    struct lc_kvstore service_meta;
    struct lc_kvstore instance_meta;

    unsigned cache_millis; /* switch defaultPushCacheMillis */
    unsigned long requests_in_flight;
};

void lc_naming_persistent_processor(struct lc_naming *n,
                                    struct lc_processor *p);

#endif /* LC_NAMING_INTERNAL_H */
