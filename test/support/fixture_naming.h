/* Test cluster: canonical/raft's in-memory fixture whose servers each run one
 * naming processor (naming_persistent_service_v2, naming_service_metadata or
 * the instance-metadata kvstore) with
 * their own naming state (bus, registry, kvstores), through the real glue
 * (lc_statemachine_new_detached) and the fixture_sm adapter.
 *
 * Everything is deterministic: simulated time, network and disk.
 */
#ifndef LC_TEST_FIXTURE_NAMING_H
#define LC_TEST_FIXTURE_NAMING_H

#include <raft.h>
#include <raft/fixture.h>
#include <stdbool.h>
#include <stddef.h>

#include "naming/internal.h"
#include "naming/naming.pb-c.h"
#include "test/support/fixture_sm.h"

/* One server's state. */
struct lc_fixture_node {
    struct lc_naming *naming;  /* bus, reg, kvstores, processors */
    struct lc_processor *proc; /* the one of naming the group runs */
    struct lc_kvstore *kv;     /* for a metadata group, else NULL */
    struct lc_fixture_sm adapter;
    char **changed; /* keys the kvstore reported, in order */
    size_t n_changed;
};

struct lc_fixture_cluster {
    struct raft_fixture f;
    const char *group;
    unsigned n;
    struct lc_fixture_node nodes[RAFT_FIXTURE_MAX_SERVERS];
    char **keys; /* kvstore keys ever submitted, for dumps */
    size_t n_keys;
    unsigned long n_apply_ok;     /* raft_apply callbacks with status 0 */
    unsigned long n_apply_failed; /* ... with an error (leadership lost) */
};

/* Create @n servers running @group's processor (LC_GROUP_PERSISTENT,
 * LC_GROUP_SERVICE_META, LC_GROUP_INSTANCE_META or LC_GROUP_SWITCHES), all
 * voters, bootstrapped
 * and started (no leader yet). Fails the test on error. */
struct lc_fixture_cluster *lc_fixture_cluster_new(unsigned n,
                                                  const char *group);
void lc_fixture_cluster_free(struct lc_fixture_cluster *c);

struct raft *lc_fixture_raft(struct lc_fixture_cluster *c, unsigned i);

/* Submit the command @buf/@len (raft_malloc'd; ownership passes in every
 * case) with raft_apply on server @i. Return its log index, or 0 when raft
 * refused it (e.g. @i is not leader). */
uint64_t lc_fixture_submit_raw(struct lc_fixture_cluster *c, unsigned i,
                               void *buf, size_t len);

/* Encode a WriteRequest for @group (NULL: the cluster's group) with
 * @operation and @data, and submit it on server @i. */
uint64_t lc_fixture_submit(struct lc_fixture_cluster *c, unsigned i,
                           const char *group, const char *operation,
                           const void *data, size_t len);

/* Pack @st and submit it with @operation ("ADD", "DELETE") on server @i. */
uint64_t lc_fixture_submit_instance(struct lc_fixture_cluster *c, unsigned i,
                                    const char *operation,
                                    const Locus__Naming__InstanceStore *st);

/* Submit MetadataStore {@key, @value} with @operation ("PUT", "DELETE") on
 * server @i; @key is remembered for lc_fixture_dump(). */
uint64_t lc_fixture_submit_kv(struct lc_fixture_cluster *c, unsigned i,
                              const char *operation, const char *key,
                              const void *value, size_t len);

/* Servers as a bit mask: bit i is server i; 0 means every server. */
#define LC_FIXTURE_ALL 0u

/* The live server of @mask in leader state with the highest term, or c->n
 * when there is none. Unlike raft_fixture_leader_index() this also works
 * while the network is partitioned. */
unsigned lc_fixture_leader(struct lc_fixture_cluster *c, unsigned mask);

/* Step until a server of @mask is leader (at most @max_ms); return it, or
 * c->n. */
unsigned lc_fixture_step_until_leader(struct lc_fixture_cluster *c,
                                      unsigned mask, unsigned max_ms);

/* Cut (@connected false) or restore both directions between @i and @j. */
void lc_fixture_link(struct lc_fixture_cluster *c, unsigned i, unsigned j,
                     bool connected);

/* Step until every server of @mask (alive or not) has applied @index, at
 * most @max_ms of simulated time. */
bool lc_fixture_step_until_applied(struct lc_fixture_cluster *c, uint64_t index,
                                   unsigned mask, unsigned max_ms);

/* The mask of the servers alive now. */
unsigned lc_fixture_live(struct lc_fixture_cluster *c);

/* A canonical text of server @i's state: for the persistent group every
 * persistent client's publishes (all instance fields), the service index
 * (services with publishers) and the instance count; for a kvstore the count
 * and every key ever submitted with its value or absence; for the switches
 * group the switch domain's JSON; for service metadata every entry and
 * every service. Sorted; malloc'd,
 * caller frees. */
char *lc_fixture_dump(struct lc_fixture_cluster *c, unsigned i);

/* Fail unless every server in @mask has the same dump; return that dump
 * (malloc'd). */
char *lc_fixture_assert_converged(struct lc_fixture_cluster *c, unsigned mask);

/* How many times server @i's kvstore reported @key (NULL: any key). */
size_t lc_fixture_changes(struct lc_fixture_cluster *c, unsigned i,
                          const char *key);
void lc_fixture_changes_reset(struct lc_fixture_cluster *c, unsigned i);

/* ------------------------------------------------------------ instances */

#define LC_FIXTURE_MAX_MS 20000 /* bound on simulated time for one wait */

/* An InstanceStore with its strings. Not movable once initialised. */
struct lc_fixture_inst {
    Locus__Naming__InstanceStore st;
    char service[64];
    char ip[32];
    char client_id[64];
    char instance_id[256];
    char metadata[64];
};

/* A persistent instance of @service (public, DEFAULT_GROUP) at an ip made
 * from @host and @port, client "ip:port#false", Nacos's simple instance id,
 * weight 1, healthy, enabled, metadata {"host":"<host>"}. Fields may be
 * changed afterwards (strings: the buffers, or static strings). */
void lc_fixture_inst_init(struct lc_fixture_inst *in, const char *service,
                          int host, int port);

/* What server @i publishes for @in's client and service, or NULL. */
const struct lc_instance *lc_fixture_find(struct lc_fixture_cluster *c,
                                          unsigned i,
                                          const struct lc_fixture_inst *in);

/* Fail unless server @i publishes exactly @in (every field). */
void lc_fixture_assert_has(struct lc_fixture_cluster *c, unsigned i,
                           const struct lc_fixture_inst *in);

/* Fail if server @i publishes anything for @in's client and service. */
void lc_fixture_assert_lacks(struct lc_fixture_cluster *c, unsigned i,
                             const struct lc_fixture_inst *in);

/* lc_fixture_step_until_applied() within LC_FIXTURE_MAX_MS, or fail. */
void lc_fixture_wait_applied(struct lc_fixture_cluster *c, uint64_t index,
                             unsigned mask);

/* Fail unless every server applied @index with result @status (and a
 * message when @status is not 0). */
void lc_fixture_assert_result(struct lc_fixture_cluster *c, uint64_t index,
                              int status);

/* ------------------------------------------------------------ shortcuts */

/* A cluster of 3 running @group, server 0 elected, stored in *@state for
 * lc_fixture_teardown(). */
struct lc_fixture_cluster *lc_fixture_cluster3(void **state, const char *group);
/* cmocka teardown: frees the cluster in *@state. */
int lc_fixture_teardown(void **state);

/* Submit @in with "ADD" / "DELETE" on @leader; fail unless raft took it.
 * Return its log index. */
uint64_t lc_fixture_add(struct lc_fixture_cluster *c, unsigned leader,
                        const struct lc_fixture_inst *in);
uint64_t lc_fixture_del(struct lc_fixture_cluster *c, unsigned leader,
                        const struct lc_fixture_inst *in);

/* ------------------------------------------------------------ snapshots */

/* Restore the image @buf/@len directly on server @i's state machine; return
 * the LC_E* result, its message in @errmsg ("" on success). */
int lc_fixture_restore(struct lc_fixture_cluster *c, unsigned i,
                       const void *buf, size_t len, char *errmsg,
                       size_t errlen);

/* Server @i refuses @buf/@len with an error and a message, and nothing
 * changes: the same dump, no kvstore change reported, no event published.
 * @what names the image in failure messages. */
void lc_fixture_assert_refused(struct lc_fixture_cluster *c, unsigned i,
                               const void *buf, size_t len, const char *what);

/* Restore @buf/@len on server @i, or fail with the refusal's message. */
void lc_fixture_must_restore(struct lc_fixture_cluster *c, unsigned i,
                             const void *buf, size_t len);

/* A valid snapshot image for @group (index 1, term 1) holding the tables
 * @sql creates; free *@buf with raft_free(). */
void lc_fixture_image(const char *group, const char *sql, void **buf,
                      size_t *len);

/* Publish a persistent instance @ip:@port in @cluster of DEFAULT_GROUP's
 * @service in public straight into @n's registry (client "ip:port#false",
 * the service made persistent if new): one ServiceChangedEvent. Fails the
 * test on error. */
void lc_fixture_publish(struct lc_naming *n, const char *service,
                        const char *ip, int port, const char *cluster);

#endif /* LC_TEST_FIXTURE_NAMING_H */
