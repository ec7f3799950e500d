/* The naming event bus: synchronous, ordered, non-re-entrant dispatch. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "naming/core/events.h"

struct subscriber {
    lc_event_cb cb;
    void *data;
    struct subscriber *next;
};

struct queued {
    struct lc_event ev;
    char *strings[4];
    struct queued *next;
};

struct lc_bus {
    struct subscriber *subs[LC_EV__COUNT];
    unsigned long counts[LC_EV__COUNT];
    bool dispatching;
    struct queued *head, *tail;
};

struct lc_bus *lc_bus_new(void)
{
    return calloc(1, sizeof(struct lc_bus));
}

void lc_bus_free(struct lc_bus *bus)
{
    if (bus == NULL) {
        return;
    }
    for (int t = 0; t < LC_EV__COUNT; t++) {
        while (bus->subs[t] != NULL) {
            struct subscriber *s = bus->subs[t];
            bus->subs[t] = s->next;
            free(s);
        }
    }
    free(bus);
}

int lc_bus_subscribe(struct lc_bus *bus, enum lc_event_type type,
                     lc_event_cb cb, void *data)
{
    struct subscriber *s = calloc(1, sizeof *s);
    struct subscriber **p = &bus->subs[type];
    if (s == NULL) {
        return LC_ENOMEM;
    }
    s->cb = cb;
    s->data = data;
    while (*p != NULL) {
        p = &(*p)->next;
    }
    *p = s;
    return 0;
}

static void dispatch(struct lc_bus *bus, const struct lc_event *ev)
{
    bus->counts[ev->type]++;
    for (struct subscriber *s = bus->subs[ev->type]; s != NULL; s = s->next) {
        s->cb(ev, s->data);
    }
}

static char *dup_opt(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

void lc_bus_publish(struct lc_bus *bus, const struct lc_event *ev)
{
    if (bus->dispatching) {
        struct queued *q = calloc(1, sizeof *q);
        if (q == NULL) {
            lc_errorf("naming", "out of memory queueing an event; dropped");
            return;
        }
        q->ev = *ev;
        q->ev.ns = q->strings[0] = dup_opt(ev->ns);
        q->ev.group = q->strings[1] = dup_opt(ev->group);
        q->ev.service = q->strings[2] = dup_opt(ev->service);
        q->ev.client_id = q->strings[3] = dup_opt(ev->client_id);
        if (bus->tail != NULL) {
            bus->tail->next = q;
        } else {
            bus->head = q;
        }
        bus->tail = q;
        return;
    }
    bus->dispatching = true;
    dispatch(bus, ev);
    while (bus->head != NULL) {
        struct queued *q = bus->head;
        bus->head = q->next;
        if (bus->head == NULL) {
            bus->tail = NULL;
        }
        dispatch(bus, &q->ev);
        for (int i = 0; i < 4; i++) {
            free(q->strings[i]);
        }
        free(q);
    }
    bus->dispatching = false;
}

unsigned long lc_bus_count(const struct lc_bus *bus, enum lc_event_type type)
{
    return bus->counts[type];
}
