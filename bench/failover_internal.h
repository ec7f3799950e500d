/* locusctl bench failover, inside: the clients, the cluster under test and
 * what one fault kind measured (bench/failover.c reports, failover_run.c
 * runs). Private to bench/. */
#ifndef LC_BENCH_FAILOVER_INTERNAL_H
#define LC_BENCH_FAILOVER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "bench/cluster.h"
#include "rpc/http/http.h"

struct lc_netns;

#define GROUP "naming_persistent_service_v2"
#define SLOTS 8000 /* per client: 127.201.<client>.<1 + slot / 1000> */
/* Slots a client cycles through in the steady phase: the registry keeps
 * the same size however long it runs (instances, health checks and
 * snapshots would otherwise grow with the duration and slow every write). */
#define STEADY_SLOTS 500
#define MAX_TRIALS 256
#define MAX_CLIENTS 250
#define RECOVERY_MS 20000 /* a trial fails when a client waits longer */
#define SHUN_MS 3000      /* a member that timed out is tried last */

enum fault { F_KILL, F_PARTITION, F_PAUSE, N_FAULTS };

/* "kill", "partition", "pause" */
extern const char *const lc_fo_fault_names[N_FAULTS];

struct fo;

struct client {
    struct fo *fo;
    unsigned id;
    unsigned node; /* the member it writes to */
    struct lc_http_conn *conn;
    struct lc_http_call call;
    uv_timer_t retry;
    bool busy;
    uint64_t seq;     /* writes sent so far (the metadata "s" of the next) */
    unsigned slot;    /* next slot this trial */
    unsigned in_slot; /* slot and number of the write in flight */
    uint64_t in_seq;
    uint64_t sent_us;
    uint64_t *acked; /* per slot: number of its last acknowledged write */
    uint64_t n_acked;
    int node_at_fault; /* the member it wrote to when the fault came */
    uint64_t shun_until[LC_CLUSTER_MAX]; /* a member that timed out (us) */
    bool answered_error; /* its member answered the last request with an error */
    uint64_t first_us; /* first ack of a request sent after the fault */
    char service[64];
};

struct u64v {
    uint64_t *v;
    size_t n;
    size_t cap;
};

struct poller {
    struct fo *fo;
    struct lc_http_conn *conn;
    struct lc_http_call call;
    unsigned node;
    bool busy;
};

/* Raft figures of one group as one member sees them. */
struct gstat {
    char name[64];
    uint64_t elections;
    uint64_t term;
};

#define MAX_GROUPS 8

struct view {
    struct gstat g[LC_CLUSTER_MAX][MAX_GROUPS];
    unsigned n[LC_CLUSTER_MAX];
    bool ok[LC_CLUSTER_MAX];
};

struct fo {
    uv_loop_t loop;
    struct lc_cluster_spec spec;
    struct lc_cluster cluster;
    bool started;
    struct client *clients;
    unsigned n_clients;
    unsigned timeout_ms;
    unsigned fault_ms;
    unsigned ring; /* slots the clients cycle through now */
    bool running;
    bool debug; /* LOCUS_BENCH_DEBUG: each client's requests around a fault */
    uint64_t errors;
    uint64_t timeouts;
    struct u64v acks;      /* ack times (us) */
    struct u64v latencies; /* us */
    /* the trial under way */
    enum fault kind;
    int faulted;
    bool recovering; /* fault applied, not yet undone */
    uint64_t fault_us;
    uint64_t leader_us;
    uint64_t undo_us;
    struct poller pollers[LC_CLUSTER_MAX];
    uv_timer_t poll_timer;
    uv_timer_t stop_timer;
    uv_timer_t undo_timer;
    /* Network namespaces (NULL: every node on 127.0.0.1, no partitions). */
    struct lc_netns *netns;
    char no_netns[200]; /* why there are none */
};

struct trial {
    int faulted;
    bool apply_failed;
    double apply_ms; /* how long applying the fault took (ip/nft, kill) */
    double leader_ms;
    double gap_ms;
    uint64_t leader_changes;
    uint64_t terms;
    uint64_t acked;
    uint64_t lost;
    uint64_t unverified;
    uint64_t timeouts;
    uint64_t errors;
    unsigned unrecovered;
};

/* Everything measured for one fault kind. */
struct kind_result {
    bool run;
    bool skipped;
    char reason[200];
    unsigned trials;
    struct trial t[MAX_TRIALS];
    struct u64v unavail;       /* us, every client of every trial */
    struct u64v unavail_other; /* clients not on the faulted member */
    unsigned unrecovered;
    uint64_t lost;
    uint64_t unverified;
    bool failed;
};

struct steady {
    unsigned seconds;
    double rate;
    uint64_t acked;
    uint64_t errors;
    uint64_t timeouts;
    uint64_t lost;
    uint64_t unverified;
    uint64_t p50, p90, p99, max;
    unsigned n_groups;
    struct gstat delta[MAX_GROUPS]; /* elections = leader changes, terms */
};

/* Append @x to @a (dropped when out of memory). */
void lc_fo_push(struct u64v *a, uint64_t x);

/* Run @trials trials of @kind on a fresh cluster (after @s's steady phase
 * when @s is not NULL and asks for one), filling @r. Return 0, or -1 when
 * a trial or the cluster failed (@r says which). */
int lc_fo_run_kind(struct fo *fo, enum fault kind, unsigned trials,
                   struct steady *s, struct kind_result *r);

#endif /* LC_BENCH_FAILOVER_INTERNAL_H */
