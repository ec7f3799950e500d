/* Real locusd clusters on loopback, for tests, benchmarks and `make cluster`.
 *
 * Each node i gets HTTP port ports[i], or base+i*step when no ports are
 * given (raft: that - 1000; gRPC: + 1000 and + 1001), its own data
 * directory, properties file and log file under the cluster directory, and a
 * shared cluster.conf and secret. Nodes are real processes started with
 * fork/exec, killed with real signals.
 *
 * With spec.netns, node i runs inside network namespace i (bench/netns.h)
 * on that namespace's address, every node on the same ports (ports[0] or
 * base_port); this process reaches them through the bridge.
 */
#ifndef LC_BENCH_CLUSTER_H
#define LC_BENCH_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct lc_netns;

#define LC_CLUSTER_MAX 9

struct lc_cluster_spec {
    unsigned n;            /* nodes (1 = standalone) */
    int base_port;         /* HTTP port of node 0 */
    int port_step;         /* between nodes (10) */
    const char *dir;       /* cluster directory (created) */
    const char *locusd;    /* path of the locusd binary */
    const char *extra;     /* extra properties lines, or NULL */
    bool detach;           /* survive this process (make cluster) */
    const int *ports;      /* n HTTP ports (copied), or NULL: base + i step */
    /* Namespaces, one per node (borrowed: must outlive the cluster), or
     * NULL for loopback. */
    const struct lc_netns *netns;
};

struct lc_cluster_node {
    int port;
    char host[64]; /* its address: 127.0.0.1, or its namespace's */
    pid_t pid; /* 0 when not running */
    int exit_status; /* wait status of its last exit, -1 if not seen */
    char data_dir[1100];
    char conf[1100];
    char log[1100];
};

struct lc_cluster {
    struct lc_cluster_spec spec;
    char dir[1024];
    char cluster_conf[1100];
    char locusd[1024];
    unsigned n;
    struct lc_cluster_node nodes[LC_CLUSTER_MAX];
};

/* Create the directory and configuration files (a fresh secret is written
 * once and reused). Existing data directories are kept. Return 0 or -1 with
 * a message on stderr. */
int lc_cluster_init(struct lc_cluster *c, const struct lc_cluster_spec *spec);

/* Attach to an existing cluster directory without writing anything (to stop
 * it): finds the nodes by their properties files. Return 0, or -1 if @dir
 * holds no cluster. */
int lc_cluster_attach(struct lc_cluster *c, const char *dir);

/* Remove every node's data directory (nodes must be stopped). */
int lc_cluster_wipe(struct lc_cluster *c);

/* Start node @i (its output appended to its log file). Return 0 or -1. */
int lc_cluster_start_node(struct lc_cluster *c, unsigned i);
int lc_cluster_start(struct lc_cluster *c);

/* Send @sig to node @i. SIGKILL and SIGTERM also wait for the process (up to
 * 10 s for SIGTERM, then SIGKILL). */
int lc_cluster_signal(struct lc_cluster *c, unsigned i, int sig);

/* Stop every running node with SIGTERM (SIGKILL after 10 s). */
void lc_cluster_stop(struct lc_cluster *c);

/* Wait until node @i reports status UP on /nacos/v1/ns/operator/metrics.
 * Return 0, or -1 after @timeout_ms or as soon as the node (a child of this
 * process) has exited; its wait status is then in exit_status. */
int lc_cluster_wait_ready(struct lc_cluster *c, unsigned i,
                          unsigned timeout_ms);
int lc_cluster_wait_all_ready(struct lc_cluster *c, unsigned timeout_ms);

/* Index of the node that leads @group according to a running node's
 * /v1/core/raft/groups, or -1 if none within @timeout_ms. Nodes listed in
 * @skip_mask (bit i) are not asked. */
int lc_cluster_leader(struct lc_cluster *c, const char *group,
                      unsigned skip_mask, unsigned timeout_ms);

/* HTTP to node @i: returns the status (or -1 on connection failure) and,
 * when @body is not NULL, a malloc'd copy of the response body. */
int lc_cluster_http(struct lc_cluster *c, unsigned i, const char *method,
                    const char *path, const char *content_type,
                    const char *req_body, char **body);

/* Write pid files / read them back (detached clusters). */
int lc_cluster_save_pids(struct lc_cluster *c);
int lc_cluster_load_pids(struct lc_cluster *c);

#endif /* LC_BENCH_CLUSTER_H */
