/* The expired-metadata cleaner of instance overlays (naming_instance_
 * metadata), Nacos's ExpiredMetadataCleaner for instances: see
 * naming/clean/instance_meta_clean.c. Private to the naming module. */
#ifndef LC_NAMING_INSTANCE_META_CLEAN_H
#define LC_NAMING_INSTANCE_META_CLEAN_H

#include <stdbool.h>
#include <stdint.h>

#include "naming/internal.h"

/* Its state (marks), created on first use as n->imeta. */
struct lc_imeta_cleaner;

/* One pass as the expired-metadata timer runs it: on the ready leader of
 * naming_instance_metadata, mark overlays whose instance is missing and
 * delete, through Raft, those marked for longer than @expired_ms. Elsewhere
 * drop the marks. */
void lc_imeta_clean(struct lc_naming *n, uint64_t expired_ms);

/* The same with the clock and the leadership given (tests). */
void lc_imeta_clean_pass(struct lc_naming *n, uint64_t now, bool leading,
                         uint64_t expired_ms);

/* The overlay @key changed (naming.c's kvstore hook). */
void lc_imeta_on_overlay(struct lc_naming *n, const char *key);

/* Overlays currently marked expired on this node. */
unsigned lc_imeta_marked(const struct lc_naming *n);

/* Free the state; NULL is fine. Writes in flight must have completed. */
void lc_imeta_cleaner_free(struct lc_imeta_cleaner *c);

#endif /* LC_NAMING_INSTANCE_META_CLEAN_H */
