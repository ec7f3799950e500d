/* The fault suite's shared state: the cluster in its namespaces, the
 * clients, and what each injected fault did (test/faults/faults.c runs it,
 * inject.c injects faults, verify.c reads the members at the end). */
#ifndef LC_TEST_FAULTS_SUITE_H
#define LC_TEST_FAULTS_SUITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/cluster.h"
#include "bench/netns.h"
#include "test/faults/client.h"

#define FS_GROUP "naming_persistent_service_v2"
#define FS_NODES 3

enum fs_kind {
    FS_KILL_LEADER,
    FS_KILL_FOLLOWER,
    FS_KILL_ALL,
    FS_PAUSE_LEADER,
    FS_PARTITION_LEADER,
    FS_PARTITION_FOLLOWER,
    FS_LINK_DOWN,
    FS_SNAPSHOT_RESTART,
    FS_DISK_FULL,
    FS_KINDS
};

struct fs_fault {
    enum fs_kind kind;
    int node;            /* the member it hit (-1: all) */
    uint64_t at_us;      /* when it struck (lc_mono_us) */
    uint64_t held_ms;    /* how long it lasted until heal / restart */
    uint64_t recover_ms; /* from the heal until all UP with a leader */
    bool note;           /* kind-specific: snapshot in flight at the kill,
                            disk full made a write fail */
};

struct fs_suite {
    /* options */
    unsigned n_faults;
    unsigned max_seconds;
    unsigned n_clients;
    unsigned n_keys;
    unsigned disk_mb;
    unsigned asan_nodes; /* how many members (from node 0) run asan_locusd */
    unsigned net;
    int port;
    uint32_t seed;
    const char *locusd;
    const char *asan_locusd; /* NULL: none */
    const char *dir;
    bool verbose;

    /* run state */
    struct lc_netns *ns;
    struct lc_cluster c;
    bool started;
    bool disk_mounted;
    unsigned disk_node; /* the member whose data dir is a small tmpfs */
    char disk_path[1100];
    struct fc_clients *cl;
    uint64_t start_us;
    uint32_t rng;
    bool down_by_us[FS_NODES]; /* killed on purpose, not yet restarted */
    unsigned crashes;          /* exits nobody asked for */
    char crash_notes[2048];
    struct fs_fault *faults;
    size_t n_done;
    bool stuck; /* the cluster did not recover from a fault */
};

const char *fs_kind_name(enum fs_kind k);
uint32_t fs_rand(struct fs_suite *s);
/* A random duration in [@lo, @hi] ms. */
unsigned fs_between(struct fs_suite *s, unsigned lo, unsigned hi);
void fs_sleep_ms(unsigned ms);
/* Seconds since the run started. */
double fs_elapsed(const struct fs_suite *s);

/* Inject one fault of @kind, hold it, undo it, wait for recovery. Fills
 * @f. Return 0, or -1 when the cluster did not recover (s->stuck). */
int fs_inject(struct fs_suite *s, enum fs_kind kind, struct fs_fault *f);

/* Start node @i (its own binary when it is an ASan member). */
int fs_start_node(struct fs_suite *s, unsigned i);

/* Notice members that exited without being killed (crashes), record them
 * and start them again. */
void fs_reap_crashes(struct fs_suite *s);

/* Wait until every member is UP and agrees on a leader of FS_GROUP, within
 * @timeout_ms; restarts crashed members on the way. Return 0 or -1. */
int fs_wait_healthy(struct fs_suite *s, unsigned timeout_ms);

/* After the run: wait for the members to converge, then check every
 * member's consistent and local view against the history. Prints what it
 * finds; returns the number of violations. */
unsigned fs_verify(struct fs_suite *s, const struct fh_op *ops, size_t n,
                   unsigned *late);

#endif /* LC_TEST_FAULTS_SUITE_H */
