/* Helpers for test/cluster: one real locusd cluster per test in its own
 * temporary directory, HTTP shortcuts, instance lists, raft views, a
 * background writer that records acknowledged writes, bounded waits.
 *
 * Every helper that cannot do its job fails the running cmocka test with a
 * message (fail_msg), so tests read as a list of steps. Call them from the
 * test's thread only, except tc_writer_* and the tc_http* / tc_register*
 * functions, which are thread-safe.
 */
#ifndef LC_TEST_TCLUSTER_H
#define LC_TEST_TCLUSTER_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/cluster.h"

#define TC_PS "naming_persistent_service_v2"
#define TC_SM "naming_service_metadata"
#define TC_IM "naming_instance_metadata"
#define TC_SW "naming_persistent_service" /* the switch domain */

/* Most waits: long enough for an election or a restart on a slow (ASan)
 * build, short enough to keep a binary under a minute when all goes well. */
#define TC_WAIT_MS 20000

struct tc_writer;

#define TC_MAX_OWN_PORTS 16
#define TC_MAX_LIVE 16

struct tc {
    struct lc_cluster c;
    struct tc_writer *writer; /* background writer, freed by tc_down */
    char tmp[512];            /* mkdtemp root, removed by tc_down */
    char name[64];            /* test name, for messages */
    bool inited;
    bool passed; /* set by tc_pass(); logs are shown when false */
    /* Reserved ports (test/support/ports.h), released by tc_down: the
     * nodes' main ports, and those of tc_own_port / tc_node_port. */
    int node_ports[LC_CLUSTER_MAX];
    unsigned n_node_ports;
    int own_ports[TC_MAX_OWN_PORTS];
    unsigned n_own_ports;
    int live_fds[TC_MAX_LIVE]; /* tc_live listeners, closed by tc_down */
    unsigned n_live;
};

/* Path of the locusd to test: $LOCUSD, else $BUILD/locusd, else the locusd
 * next to this test binary's build tree (<build>/test/cluster/x ->
 * <build>/locusd), else build/locusd. */
const char *tc_locusd(void);

/* cmocka setup/teardown: allocate a struct tc as the state; free it after
 * stopping its nodes and removing its directory. */
int tc_setup(void **state);
int tc_teardown(void **state);

/* Write the configuration of an @n node cluster in a fresh temporary
 * directory; nothing is started. Each node's main port comes from
 * tc_port_reserve() (test/support/ports.h) and is in t->c.nodes[i].port;
 * they ascend with i, so node order is the members' address order. */
void tc_init(struct tc *t, const char *name, unsigned n, const char *extra);

/* tc_init, start every node, wait until all are ready (status UP). When a
 * node lost one of its ports to a process outside the allocator (it exited
 * and its log says "cannot listen on"), start over on new ports (twice at
 * most). */
void tc_up(struct tc *t, const char *name, unsigned n, const char *extra);

/* A port reserved for the test's own listener (a health-check target),
 * released by tc_down; fails the test when none is free. */
int tc_own_port(struct tc *t);

/* A main port reserved, with its raft and gRPC companions, for a locusd the
 * test starts itself (through `locusctl bench`), released by tc_down. */
int tc_node_port(struct tc *t);

/* Make @ip:@port (a loopback address; @port from tc_own_port) reachable
 * until tc_down: a listener there whose kernel completes every handshake
 * (backlog SOMAXCONN, never accepting), so the leader's TCP health checks
 * of a persistent instance there succeed and it stays healthy. Elsewhere
 * on 127.0.0.0/8 a check is refused and the instance turns unhealthy at
 * its first check (2-7 s after registration); tests whose instances must
 * keep the health they were registered with use this for the healthy
 * ones. */
void tc_live(struct tc *t, const char *ip, int port);

/* Start node @i (no wait). */
void tc_start(struct tc *t, unsigned i);
/* Start node @i with environment variable @name=@value set for it only. */
void tc_start_env(struct tc *t, unsigned i, const char *name,
                  const char *value);
/* Send @sig to node @i (SIGKILL/SIGTERM wait for it to exit; after
 * SIGTERM it must have exited with status 0). */
void tc_signal(struct tc *t, unsigned i, int sig);
/* SIGTERM every running node, each must exit cleanly. */
void tc_stop_all(struct tc *t);
void tc_wait_ready(struct tc *t, unsigned i);
void tc_wait_all_ready(struct tc *t);

/* Run only the tests matching $TC_FILTER (a cmocka pattern, e.g.
 * "test_full*"), when set. */
void tc_filter_from_env(void);

/* Mark the test passed (so the teardown does not print node logs). */
void tc_pass(struct tc *t);

/* Stop all nodes; print the tail of each log unless passed; remove the
 * directory (kept when $LOCUS_TEST_KEEP is set). Return -1 when a node did
 * not exit with status 0 or its log has a sanitizer report (ASan, LSan,
 * UBSan), else 0. */
int tc_down(struct tc *t);

/* ---------------------------------------------------------------- HTTP */

/* HTTP to node @i (3 s timeout): status, or -1 when no answer. *@body (if
 * not NULL) is malloc'd or NULL. Thread-safe. */
int tc_http(struct tc *t, unsigned i, const char *method, const char *path,
            const char *content_type, const char *req_body, char **body);

/* As tc_http with a caller-chosen timeout. */
int tc_http_timeout(struct tc *t, unsigned i, const char *method,
                    const char *path, const char *content_type,
                    const char *req_body, unsigned timeout_ms, char **body);

/* POST a persistent instance ip:port into @service through node @i.
 * Return the HTTP status (-1: no answer); true acknowledgement is status
 * 200 with body "ok", see tc_register_ok. Thread-safe. */
int tc_register(struct tc *t, unsigned i, const char *service, const char *ip,
                int port, char **body);
bool tc_register_ok(struct tc *t, unsigned i, const char *service,
                    const char *ip, int port);

/* Register and fail the test unless acknowledged. */
void tc_must_register(struct tc *t, unsigned i, const char *service,
                      const char *ip, int port);

/* GET /instance/list of @service on node @i. Return the parsed response
 * (caller json_decref's) or NULL when the status is not 200. */
json_t *tc_list(struct tc *t, unsigned i, const char *service, bool consistent,
                int *status);

/* Number of @ports (with ip @ip) missing from node @i's list of @service,
 * or -1 when the list could not be read. The first missing port goes to
 * *@first_missing when not NULL. */
int tc_missing(struct tc *t, unsigned i, const char *service, const char *ip,
               const int *ports, size_t n, bool consistent, int *first_missing);

/* Wait (consistent reads, retried) until node @i lists all @ports; fail the
 * test otherwise. */
void tc_expect_all(struct tc *t, unsigned i, const char *service,
                   const char *ip, const int *ports, size_t n);

/* --------------------------------------------------------------- raft */

/* Raft address "<host>:<port-1000>" of node @i into @buf. */
const char *tc_raft_addr(struct tc *t, unsigned i, char *buf, size_t size);

/* Node @i's /v1/core/raft/groups, parsed, or NULL. */
json_t *tc_groups(struct tc *t, unsigned i);

/* The object of @group in node @i's view (a new reference), or NULL. */
json_t *tc_group(struct tc *t, unsigned i, const char *group);

/* Integer field @field of @group on node @i ("term", "restarts", ...), or
 * -1. A dotted "lastSnapshot.index" reads one level down. */
long long tc_group_int(struct tc *t, unsigned i, const char *group,
                       const char *field);

/* State ("leader", "follower", ...) of @group on node @i into @buf ("" on
 * failure). */
const char *tc_group_state(struct tc *t, unsigned i, const char *group,
                           char *buf, size_t size);

/* Leader of @group agreed by a node and itself, skipping @skip_mask; fail
 * the test when none within @timeout_ms. */
int tc_leader(struct tc *t, const char *group, unsigned skip_mask,
              unsigned timeout_ms);

/* Wait until every running node not in @skip_mask names node @leader as the
 * leader of @group; fail otherwise. */
void tc_wait_agree(struct tc *t, const char *group, unsigned leader,
                   unsigned skip_mask, unsigned timeout_ms);

/* POST /nacos/v1/core/ops/raft to node @i with {"groupId","command",
 * "value"} (NULL members are omitted). Return the HTTP status; *@body gets
 * the response (malloc'd) when not NULL. */
int tc_ops(struct tc *t, unsigned i, const char *group, const char *command,
           const char *value, char **body);

/* "code" of a RestResult body, or -1. */
int tc_rest_code(const char *body);

/* ---------------------------------------------------------------- logs */

/* True when node @i's log contains @needle. */
bool tc_log_contains(struct tc *t, unsigned i, const char *needle);
/* How many lines of node @i's log contain @needle. */
unsigned tc_log_count(struct tc *t, unsigned i, const char *needle);

/* --------------------------------------------------------------- misc */

uint64_t tc_now_ms(void);
void tc_sleep_ms(unsigned ms);

/* ----------------------------------------------------- background writer */

/* Registers ip @ip with ports 1, 2, 3... into @service, one write at a time,
 * cycling over the nodes in @mask (a node that does not answer is skipped
 * for a while), and records which ports were acknowledged and when. */
struct tc_writer {
    struct tc *t;
    const char *service;
    const char *ip;
    unsigned mask;
    pthread_t thread;
    pthread_mutex_t mu;
    bool running;
    bool stop;
    int next_port;
    int *acked;         /* acknowledged ports, in order */
    uint64_t *acked_at; /* tc_now_ms() of each */
    size_t n_acked;
    size_t cap;
    unsigned failures;
};

/* Start the writer of @t (one per test; owned by @t, freed by tc_down, so
 * a failing test leaves nothing running). */
struct tc_writer *tc_writer_start(struct tc *t, const char *service,
                                  const char *ip, unsigned mask);
/* Change the nodes used (e.g. to exclude one about to be killed). */
void tc_writer_set_mask(struct tc_writer *w, unsigned mask);
size_t tc_writer_acked(struct tc_writer *w);
/* Wait until @n more writes than now are acknowledged and acknowledged
 * after @since_ms; fail after @timeout_ms with @what in the message. */
void tc_writer_wait_more(struct tc_writer *w, size_t n, unsigned timeout_ms,
                         const char *what);
/* The longest time between two consecutive acknowledgements, the later at
 * or after @since_ms (how long writes stalled around an event). */
uint64_t tc_writer_max_gap(struct tc_writer *w, uint64_t since_ms);
/* Stop the thread; the acknowledged list stays readable until tc_down. */
void tc_writer_stop(struct tc_writer *w);

/* ---------------------------------------------------------- shared checks */

/* @method @path on node @i answers @want, with exactly @want_body unless
 * that is NULL; else fail with both. */
void tc_expect_body(struct tc *t, unsigned i, const char *method,
                    const char *path, int want, const char *want_body);

/* A listening TCP socket on 127.0.0.1:@port (non-blocking, backlog 64), or
 * fail. */
int tc_listen_on(int port);

/* A UDP push datagram @buf/@n (gzip'd or not) as JSON; *@info is its
 * `data` (the ServiceInfo) parsed. Both new references; fails the test when
 * either does not parse. */
json_t *tc_push_decode(const char *buf, size_t n, json_t **info);

#endif /* LC_TEST_TCLUSTER_H */
