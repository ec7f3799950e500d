/* Clients and the service index, as in Nacos 2.x.
 *
 * A client is who publishes instances. Its kind says where it comes from
 * and what keeps it alive (Nacos's IpPortBasedClient, ConnectionBasedClient
 * and their synced copies):
 *
 *   LC_CLIENT_EPHEMERAL   "ip:port#true", an ephemeral instance of an HTTP
 *                         client, kept alive by beats
 *   LC_CLIENT_PERSISTENT  "ip:port#false", a persistent instance; its state
 *                         lives in Raft (naming_persistent_service_v2)
 *   LC_CLIENT_CONNECTION  a gRPC connection id: lives as long as the
 *                         connection
 *   LC_CLIENT_SYNCED      a client another member is responsible for, as
 *                         Distro synced it here
 *
 * A client publishes at most one instance per service. The index maps each
 * service to the clients publishing it and is kept current by the bus:
 * ClientRegisterServiceEvent and ClientDeregisterServiceEvent update it and
 * publish ServiceChangedEvent. Any number of modules may observe clients
 * going away (lc_registry_observe).
 */
#ifndef LC_NAMING_REGISTRY_H
#define LC_NAMING_REGISTRY_H

#include <uthash.h>

#include "naming/core/events.h"
#include "common/sched.h"
#include "naming/core/model.h"

struct lc_service;

enum lc_client_kind {
    LC_CLIENT_EPHEMERAL,
    LC_CLIENT_PERSISTENT,
    LC_CLIENT_CONNECTION,
    LC_CLIENT_SYNCED,
};

/* Whether clients of @kind publish ephemeral instances (everything but
 * LC_CLIENT_PERSISTENT). */
static inline bool lc_client_kind_ephemeral(enum lc_client_kind kind)
{
    return kind != LC_CLIENT_PERSISTENT;
}

/* An instance a client publishes for a service. */
struct lc_publish {
    const char *service_key; /* the service's key (services outlive it) */
    struct lc_service *service;
    struct lc_instance *inst;
    size_t row; /* in lc_registry.rows (persistent clients only) */
    uint64_t beat_ms; /* last beat or register, loop ms (ephemeral only) */
    UT_hash_handle hh;
    /* HealthCheckStatus of a persistent instance (naming/health/health_check.c),
     * meaningful only while hc_epoch is the checker's: 8 bytes that fit in
     * the allocation's rounding (malloc hands out 112 bytes either way). */
    uint32_t hc_epoch;
    int16_t hc_streak; /* > 0: successes in a row, < 0: failures */
    uint8_t hc_flags;
};

/* One persistent publish, as a snapshot writes it. The registry keeps these
 * dense so that freezing a snapshot is one copy (see lc_model_pin). */
struct lc_row {
    const char *client_id;
    const struct lc_service *service;
    const struct lc_instance *inst;
};

struct lc_client {
    char *id; /* in the client's own allocation */
    enum lc_client_kind kind;
    bool ephemeral; /* lc_client_kind_ephemeral(kind) */
    struct lc_publish *publishes; /* by service key */
    UT_hash_handle hh;
    /* HealthCheckTaskV2 of a persistent client (naming/health/health_check.c). */
    struct lc_sched_node hc;
    /* Distro (naming/ops/sync.c): Nacos's client revision, bumped by every
     * publish and unpublish of this client (a synced client holds its
     * responsible member's), and lc_mono_ms() of the last renewal (a
     * publish, a sync or a verify), by which synced clients expire. */
    uint64_t revision;
    uint64_t renew_ms;
};

/* A client publishing a service (index side). */
struct lc_publisher {
    char *client_id; /* in the publisher's own allocation */
    UT_hash_handle hh;
};

/* Services are not freed while the registry lives (a frozen snapshot points
 * at them); code that removes one must free it with lc_model_defer_free. */
struct lc_service {
    char *key; /* lc_service_key_text() */
    char *ns;
    char *group;
    char *name;    /* bare */
    char *grouped; /* group@@name */
    bool ephemeral;
    struct lc_publisher *publishers;
    unsigned n_publishers;
    uint64_t revision; /* bumped on every change */
    UT_hash_handle hh;
    /* lc_mono_ms() of creation or of the last ServiceChangedEvent published
     * by the registry (Nacos's Service.lastUpdatedTime). */
    uint64_t updated_ms;
    uint64_t uid; /* unique among the registry's services, ever */
};

struct lc_registry {
    struct lc_bus *bus;
    struct lc_client *clients;
    struct lc_service *services;
    unsigned long n_instances;
    struct lc_row *rows; /* persistent publishes, in no order */
    size_t n_rows;
    size_t cap_rows;
    uint64_t next_uid; /* of services */
    struct lc_client_observer *observers;
};

/* Told when a client goes away. Caller-allocated, registered with
 * lc_registry_observe and borrowed until lc_registry_unobserve. */
struct lc_client_observer {
    void *data;
    /* Called just before @c is removed (its last publish withdrawn),
     * whatever event dispatch is under way, so observers
     * can drop what they keep for it (the health checker drops the
     * client's task from its heap and FIFO here). It must not publish or
     * withdraw instances. */
    void (*client_gone)(struct lc_client_observer *obs, struct lc_client *c);
    struct lc_client_observer *next;
};

/* Add @obs; observers are called in the order they were added. */
void lc_registry_observe(struct lc_registry *reg,
                         struct lc_client_observer *obs);
/* Remove @obs (no-op if it is not registered). */
void lc_registry_unobserve(struct lc_registry *reg,
                           struct lc_client_observer *obs);

/* Create a registry that listens on @bus (borrowed). */
struct lc_registry *lc_registry_new(struct lc_bus *bus);
void lc_registry_free(struct lc_registry *reg);

struct lc_service *lc_registry_find_service(struct lc_registry *reg,
                                            const struct lc_service_key *key);
/* Find or create a service (strings copied). NULL when out of memory. */
struct lc_service *lc_registry_service(struct lc_registry *reg,
                                       const struct lc_service_key *key,
                                       bool ephemeral);

struct lc_client *lc_registry_find_client(struct lc_registry *reg,
                                          const char *client_id);

/* The instance @client_id publishes for @svc, or NULL. */
struct lc_instance *lc_registry_instance_of(struct lc_registry *reg,
                                            const char *client_id,
                                            const struct lc_service *svc);

/* @client_id publishes @inst (reference taken) for @svc, replacing what it
 * published before; publishes ClientRegisterServiceEvent. A new client is
 * created with @kind (an existing one keeps its own). Return 0 or
 * LC_ENOMEM. */
int lc_registry_publish(struct lc_registry *reg, const char *client_id,
                        enum lc_client_kind kind, struct lc_service *svc,
                        struct lc_instance *inst);

/* @client_id withdraws its instance of @svc (no-op if none); publishes
 * ClientDeregisterServiceEvent; a client left with nothing is removed. */
void lc_registry_unpublish(struct lc_registry *reg, const char *client_id,
                           struct lc_service *svc);

/* What @client_id publishes for @svc, or NULL. */
struct lc_publish *lc_registry_find_publish(struct lc_registry *reg,
                                            const char *client_id,
                                            const struct lc_service *svc);
/* Remove @svc (no client may publish it: LC_EBUSY otherwise). Its memory
 * is released with lc_model_defer_free, so a frozen snapshot may still read
 * it; nobody else may keep the pointer. Return 0 or LC_EBUSY. */
int lc_registry_remove_service(struct lc_registry *reg,
                               struct lc_service *svc);

/* Call @fn for every instance of @svc. */
void lc_registry_each_instance(struct lc_registry *reg,
                               const struct lc_service *svc,
                               void (*fn)(struct lc_instance *inst,
                                          void *data),
                               void *data);

#endif /* LC_NAMING_REGISTRY_H */
