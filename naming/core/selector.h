/* Service selectors as Nacos 2.4.3 parses them (naming/core/selector.c):
 * ServiceController's parseSelector, SelectorManager's "none" and "label"
 * types, and the label selector's expression grammar. */
#ifndef LC_NAMING_CORE_SELECTOR_H
#define LC_NAMING_CORE_SELECTOR_H

#include <jansson.h>

#include "common/err.h"

/* Nacos's ServiceController.parseSelector on the raw parameter @text: blank
 * gives the none selector. On success fill *@type ("none" or "label") and
 * *@expression (malloc'd, or NULL when the JSON has none) and return 0.
 * On failure return LC_EINVAL (IllegalArgumentException, bad JSON, unknown
 * type) or LC_ESERVER (an expression that does not parse) with Nacos's
 * message in @e. */
int lc_selector_parse(const char *text, const char **type, char **expression,
                      struct lc_err *e);

/* The labels of a label-selector @expression, sorted (a new array; [] when
 * it has none or does not parse). */
json_t *lc_selector_labels(const char *expression);

#endif /* LC_NAMING_CORE_SELECTOR_H */
