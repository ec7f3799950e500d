/* The naming event bus: typed events, subscribers called in publish order.
 *
 * Dispatch is synchronous, so the index is up to date before a write is
 * acknowledged (read-your-writes). An event published while another is being
 * dispatched is queued and dispatched right after it, so every subscriber
 * sees events in one global order and never re-entrantly.
 */
#ifndef LC_NAMING_EVENTS_H
#define LC_NAMING_EVENTS_H

#include <stdbool.h>

enum lc_event_type {
    /* A client published an instance of a service (new or changed). */
    LC_EV_CLIENT_REGISTER_SERVICE,
    /* A client withdrew its instance of a service. */
    LC_EV_CLIENT_DEREGISTER_SERVICE,
    /* The instances of a service changed: push to subscribers. */
    LC_EV_SERVICE_CHANGED,
    /* A client is gone (connection closed, or IP-port client expired). */
    LC_EV_CLIENT_DISCONNECT,
    LC_EV__COUNT
};

struct lc_event {
    enum lc_event_type type;
    const char *ns;        /* service namespace, or NULL */
    const char *group;     /* service group, or NULL */
    const char *service;   /* bare service name, or NULL */
    const char *client_id; /* or NULL */
};

typedef void (*lc_event_cb)(const struct lc_event *ev, void *data);

struct lc_bus;

struct lc_bus *lc_bus_new(void);
void lc_bus_free(struct lc_bus *bus);

/* Call @cb for every event of @type, after earlier subscribers. Return 0 or
 * LC_ENOMEM. */
int lc_bus_subscribe(struct lc_bus *bus, enum lc_event_type type,
                     lc_event_cb cb, void *data);

/* Dispatch @ev (its strings are copied if it has to wait). */
void lc_bus_publish(struct lc_bus *bus, const struct lc_event *ev);

/* Events dispatched so far, per type (for metrics and tests). */
unsigned long lc_bus_count(const struct lc_bus *bus, enum lc_event_type type);

#endif /* LC_NAMING_EVENTS_H */
