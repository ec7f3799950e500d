/* Clients and the service index, kept in step through the event bus. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "naming/core/registry.h"

/* Tables made here start with one bucket instead of uthash's 32: a client
 * publishes one service in the common case (an HTTP client per ip:port), so
 * its table of publishes would otherwise cost ~600 bytes per instance. A
 * table doubles as it fills (HASH_BKT_CAPACITY_THRESH items per bucket), so
 * the large ones (clients, services) pay a few more early expansions. */
#undef HASH_INITIAL_NUM_BUCKETS
#undef HASH_INITIAL_NUM_BUCKETS_LOG2
#define HASH_INITIAL_NUM_BUCKETS 1U
#define HASH_INITIAL_NUM_BUCKETS_LOG2 0U

#define KEY_MAX 1024

static void service_changed(struct lc_registry *reg, struct lc_service *svc)
{
    struct lc_event ev = {.type = LC_EV_SERVICE_CHANGED,
                          .ns = svc->ns,
                          .group = svc->group,
                          .service = svc->name};
    svc->revision++;
    svc->updated_ms = lc_mono_ms();
    lc_bus_publish(reg->bus, &ev);
}

static struct lc_service *service_of_event(struct lc_registry *reg,
                                           const struct lc_event *ev)
{
    struct lc_service_key key = {ev->ns, ev->group, ev->service};
    return lc_registry_find_service(reg, &key);
}

/* Index: a client now publishes the service. */
static void on_register(const struct lc_event *ev, void *data)
{
    struct lc_registry *reg = data;
    struct lc_service *svc = service_of_event(reg, ev);
    struct lc_publisher *p;
    if (svc == NULL) {
        return;
    }
    HASH_FIND_STR(svc->publishers, ev->client_id, p);
    if (p == NULL) {
        size_t len = strlen(ev->client_id);
        p = malloc(sizeof *p + len + 1); /* the id follows the struct */
        if (p == NULL) {
            lc_errorf("naming", "out of memory indexing %s", ev->client_id);
            return;
        }
        memset(p, 0, sizeof *p);
        p->client_id = (char *)(p + 1);
        memcpy(p->client_id, ev->client_id, len + 1);
        HASH_ADD_KEYPTR(hh, svc->publishers, p->client_id, len, p);
        svc->n_publishers++;
    }
    service_changed(reg, svc);
}

/* Index: a client no longer publishes the service. */
static void on_deregister(const struct lc_event *ev, void *data)
{
    struct lc_registry *reg = data;
    struct lc_service *svc = service_of_event(reg, ev);
    struct lc_publisher *p;
    if (svc == NULL) {
        return;
    }
    HASH_FIND_STR(svc->publishers, ev->client_id, p);
    if (p == NULL) {
        return;
    }
    HASH_DEL(svc->publishers, p);
    svc->n_publishers--;
    free(p);
    service_changed(reg, svc);
}

/* Tell every observer that @c goes. An observer may remove itself (or one
 * not yet called) from inside its callback. */
static void client_gone(struct lc_registry *reg, struct lc_client *c)
{
    struct lc_client_observer *o = reg->observers;
    while (o != NULL) {
        struct lc_client_observer *next = o->next;
        o->client_gone(o, c);
        o = next;
    }
}

void lc_registry_observe(struct lc_registry *reg,
                         struct lc_client_observer *obs)
{
    struct lc_client_observer **p = &reg->observers;
    while (*p != NULL) {
        p = &(*p)->next;
    }
    obs->next = NULL;
    *p = obs;
}

void lc_registry_unobserve(struct lc_registry *reg,
                           struct lc_client_observer *obs)
{
    struct lc_client_observer **p = &reg->observers;
    while (*p != NULL && *p != obs) {
        p = &(*p)->next;
    }
    if (*p != NULL) {
        *p = obs->next;
        obs->next = NULL;
    }
}

static int row_add(struct lc_registry *reg, struct lc_client *c,
                   struct lc_publish *pub)
{
    if (reg->n_rows == reg->cap_rows) {
        size_t cap = reg->cap_rows == 0 ? 1024 : reg->cap_rows * 2;
        struct lc_row *rows = realloc(reg->rows, cap * sizeof *rows);
        if (rows == NULL) {
            return LC_ENOMEM;
        }
        reg->rows = rows;
        reg->cap_rows = cap;
    }
    pub->row = reg->n_rows++;
    reg->rows[pub->row].client_id = c->id;
    reg->rows[pub->row].service = pub->service;
    reg->rows[pub->row].inst = pub->inst;
    return 0;
}

/* Swap-remove @pub's row; the moved row's publish learns its new place. */
static void row_remove(struct lc_registry *reg, struct lc_publish *pub)
{
    size_t last = --reg->n_rows;
    if (pub->row != last) {
        struct lc_row *moved = &reg->rows[last];
        struct lc_client *mc = lc_registry_find_client(reg, moved->client_id);
        struct lc_publish *mp = NULL;
        reg->rows[pub->row] = *moved;
        if (mc != NULL) {
            HASH_FIND_STR(mc->publishes, moved->service->key, mp);
        }
        if (mp != NULL) {
            mp->row = pub->row;
        }
    }
}

struct lc_registry *lc_registry_new(struct lc_bus *bus)
{
    struct lc_registry *reg = calloc(1, sizeof *reg);
    if (reg == NULL) {
        return NULL;
    }
    reg->bus = bus;
    if (lc_bus_subscribe(bus, LC_EV_CLIENT_REGISTER_SERVICE, on_register,
                         reg) != 0 ||
        lc_bus_subscribe(bus, LC_EV_CLIENT_DEREGISTER_SERVICE, on_deregister,
                         reg) != 0) {
        free(reg);
        return NULL;
    }
    return reg;
}

static void publish_free(struct lc_publish *pub)
{
    lc_instance_unref(pub->inst);
    free(pub); /* service_key is the service's */
}

void lc_registry_free(struct lc_registry *reg)
{
    struct lc_client *c, *ctmp;
    struct lc_service *s, *stmp;
    if (reg == NULL) {
        return;
    }
    HASH_ITER(hh, reg->clients, c, ctmp)
    {
        struct lc_publish *pub, *ptmp;
        HASH_ITER(hh, c->publishes, pub, ptmp)
        {
            HASH_DEL(c->publishes, pub);
            publish_free(pub);
        }
        HASH_DEL(reg->clients, c);
        free(c); /* c->id lives in the same block */
    }
    free(reg->rows);
    HASH_ITER(hh, reg->services, s, stmp)
    {
        struct lc_publisher *p, *ptmp;
        HASH_ITER(hh, s->publishers, p, ptmp)
        {
            HASH_DEL(s->publishers, p);
            free(p);
        }
        HASH_DEL(reg->services, s);
        free(s->key); /* and the other names (lc_service_names) */
        free(s);
    }
    free(reg);
}

struct lc_service *lc_registry_find_service(struct lc_registry *reg,
                                            const struct lc_service_key *key)
{
    char text[KEY_MAX];
    struct lc_service *svc = NULL;
    if (!lc_service_key_text(text, sizeof text, key)) {
        return NULL;
    }
    HASH_FIND_STR(reg->services, text, svc);
    return svc;
}

struct lc_service *lc_registry_service(struct lc_registry *reg,
                                       const struct lc_service_key *key,
                                       bool ephemeral)
{
    char text[KEY_MAX];
    struct lc_service *svc = lc_registry_find_service(reg, key);
    if (svc != NULL) {
        return svc;
    }
    if (!lc_service_key_text(text, sizeof text, key)) {
        return NULL; /* lc_registry_find_service could never find it */
    }
    svc = calloc(1, sizeof *svc);
    if (svc == NULL) {
        return NULL;
    }
    svc->key = lc_service_names(key, &svc->ns, &svc->group, &svc->name,
                                &svc->grouped);
    if (svc->key == NULL) {
        free(svc);
        return NULL;
    }
    svc->ephemeral = ephemeral;
    svc->updated_ms = lc_mono_ms();
    svc->uid = ++reg->next_uid;
    HASH_ADD_KEYPTR(hh, reg->services, svc->key, strlen(svc->key), svc);
    return svc;
}

struct lc_client *lc_registry_find_client(struct lc_registry *reg,
                                          const char *client_id)
{
    struct lc_client *c = NULL;
    HASH_FIND_STR(reg->clients, client_id, c);
    return c;
}

struct lc_publish *lc_registry_find_publish(struct lc_registry *reg,
                                            const char *client_id,
                                            const struct lc_service *svc)
{
    struct lc_client *c = lc_registry_find_client(reg, client_id);
    struct lc_publish *pub = NULL;
    if (c != NULL) {
        HASH_FIND_STR(c->publishes, svc->key, pub);
    }
    return pub;
}

struct lc_instance *lc_registry_instance_of(struct lc_registry *reg,
                                            const char *client_id,
                                            const struct lc_service *svc)
{
    struct lc_publish *pub = lc_registry_find_publish(reg, client_id, svc);
    return pub != NULL ? pub->inst : NULL;
}

int lc_registry_publish(struct lc_registry *reg, const char *client_id,
                        enum lc_client_kind kind, struct lc_service *svc,
                        struct lc_instance *inst)
{
    struct lc_client *c = lc_registry_find_client(reg, client_id);
    struct lc_publish *pub = NULL;
    struct lc_event ev = {.type = LC_EV_CLIENT_REGISTER_SERVICE,
                          .ns = svc->ns,
                          .group = svc->group,
                          .service = svc->name,
                          .client_id = client_id};

    if (c == NULL) {
        size_t len = strlen(client_id);
        c = malloc(sizeof *c + len + 1); /* the id follows the struct */
        if (c == NULL) {
            return LC_ENOMEM;
        }
        memset(c, 0, sizeof *c);
        c->id = (char *)(c + 1);
        memcpy(c->id, client_id, len + 1);
        c->kind = kind;
        c->ephemeral = lc_client_kind_ephemeral(kind);
        HASH_ADD_KEYPTR(hh, reg->clients, c->id, len, c);
    }
    HASH_FIND_STR(c->publishes, svc->key, pub);
    if (pub == NULL) {
        pub = calloc(1, sizeof *pub);
        if (pub == NULL) {
            return LC_ENOMEM;
        }
        /* Services outlive their publishes: share the key. */
        pub->service_key = svc->key;
        pub->service = svc;
        pub->inst = inst;
        if (!c->ephemeral && row_add(reg, c, pub) != 0) {
            free(pub);
            return LC_ENOMEM;
        }
        HASH_ADD_KEYPTR(hh, c->publishes, pub->service_key,
                        strlen(pub->service_key), pub);
        reg->n_instances++;
    } else {
        lc_instance_unref(pub->inst);
        if (!c->ephemeral) {
            reg->rows[pub->row].inst = inst;
        }
    }
    lc_instance_ref(inst);
    pub->inst = inst;
    c->revision++;
    c->renew_ms = lc_mono_ms();
    lc_bus_publish(reg->bus, &ev);
    return 0;
}

void lc_registry_unpublish(struct lc_registry *reg, const char *client_id,
                           struct lc_service *svc)
{
    struct lc_client *c = lc_registry_find_client(reg, client_id);
    struct lc_publish *pub = NULL;
    struct lc_event ev = {.type = LC_EV_CLIENT_DEREGISTER_SERVICE,
                          .ns = svc->ns,
                          .group = svc->group,
                          .service = svc->name,
                          .client_id = client_id};
    if (c == NULL) {
        return;
    }
    HASH_FIND_STR(c->publishes, svc->key, pub);
    if (pub == NULL) {
        return;
    }
    HASH_DEL(c->publishes, pub);
    if (!c->ephemeral) {
        row_remove(reg, pub);
    }
    publish_free(pub);
    reg->n_instances--;
    c->revision++;
    lc_bus_publish(reg->bus, &ev);
    if (c->publishes == NULL) {
        struct lc_event gone = {.type = LC_EV_CLIENT_DISCONNECT,
                                .client_id = client_id};
        lc_bus_publish(reg->bus, &gone);
        /* client_id may point into c->id: publish before freeing. A frozen
         * snapshot may point at c->id too (it lives in c's block). */
        client_gone(reg, c);
        HASH_DEL(reg->clients, c);
        lc_model_defer_free(c);
    }
}

void lc_registry_each_instance(struct lc_registry *reg,
                               const struct lc_service *svc,
                               void (*fn)(struct lc_instance *inst,
                                          void *data),
                               void *data)
{
    struct lc_publisher *p, *tmp;
    HASH_ITER(hh, svc->publishers, p, tmp)
    {
        struct lc_instance *inst =
            lc_registry_instance_of(reg, p->client_id, svc);
        if (inst != NULL) {
            fn(inst, data);
        }
    }
}

int lc_registry_remove_service(struct lc_registry *reg, struct lc_service *svc)
{
    if (svc->n_publishers > 0) {
        return LC_EBUSY;
    }
    HASH_DEL(reg->services, svc);
    lc_model_defer_free(svc->key); /* and the other names */
    lc_model_defer_free(svc);
    return 0;
}
