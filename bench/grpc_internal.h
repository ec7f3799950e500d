/* What bench/grpc.c (options, connections, the runner), grpc_rate.c
 * (register, puts) and grpc_fleet.c (push, idle, storm) share: the state of
 * one `locusctl bench grpc` run and the helpers around it. */
#ifndef LC_BENCH_GRPC_INTERNAL_H
#define LC_BENCH_GRPC_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bench/cluster.h"
#include "rpc/grpc/nclient.h"
#include "rpc/grpc/grpc.h"

#define MAX_RUNS 32
#define CONNECT_WINDOW 256 /* connection setups in flight */
#define REQ_TIMEOUT_MS 10000
#define SETUP_WINDOW 512 /* idle/storm setup requests in flight */
#define ETCD_PUT_PATH "/etcdserverpb.KV/Put"

enum cmd { CMD_REGISTER, CMD_PUSH, CMD_IDLE, CMD_STORM, CMD_PUTS };

struct opts {
    enum cmd cmd;
    bool json;
    unsigned conns;
    unsigned depth;
    unsigned services;
    unsigned seconds;
    unsigned runs;
    uint64_t first_seq; /* register/puts: number of the first request */
    unsigned changes;
    int port;
    const char *dir;
    const char *locusd;
    char host[256];
    int server_port; /* HTTP; 0: our own node */
    char etcd_host[256];
    int etcd_port; /* puts against etcd */
    char extra[2048];
    /* --token: metadata header accessToken on every request (auth on). */
    char token[2048];
};

struct bench;

/* One connection and what it does. */
struct slot {
    struct bench *b;
    unsigned i;
    struct lc_nclient *c;
    struct lc_nreq req[16]; /* --depth requests in flight */
    struct lc_grpc_ccall raw; /* puts against etcd */
    struct lc_grpc_client *etcd;
    bool ready;
    bool registered; /* idle/storm: instance acknowledged */
    bool subscribed;
    unsigned attempts; /* connect_all: failed setups */
    bool redoing; /* storm: registration and subscription sent again */
    bool resubscribe; /* storm: subscribe once the registration is answered */
    unsigned turns;       /* storm: failed reconnect passes */
    uint64_t last_change; /* push: the last change seen */
    uv_timer_t retry;     /* storm: reconnect timer */
    bool retry_init;
    uint16_t busy; /* paced register: req[k] in flight */
};

struct bench {
    struct opts o;
    uv_loop_t loop;
    uv_timer_t tick;
    struct slot *slots;
    char grpc_host[256];
    int grpc_port;
    /* Spread: slot i connects to member_ports[i % n_members] on grpc_host
     * (bench distro); none: every slot to grpc_port. */
    int member_ports[LC_CLUSTER_MAX];
    unsigned n_members;
    /* Paced register load (gbench_pace_start): per second, 0 = unpaced. */
    unsigned pace;
    uv_timer_t pace_timer;
    uint64_t pace_start, pace_sent;
    unsigned pace_next;
    void *ctx; /* the caller's, for its gbench_run_until conditions */
    /* connecting */
    unsigned connecting, ready, failed, closed;
    unsigned next_connect;
    /* load */
    bool running;
    uint64_t seq;
    uint64_t ok, errors;
    char first_error[200];
    uint64_t *lat_us; /* per request (register, puts) */
    size_t n_lat, cap_lat;
    /* push */
    struct lc_nclient *writer;
    struct lc_nreq wreq;
    uint64_t change;      /* current change number */
    uint64_t change_sent, change_ack; /* µs */
    bool change_done;
    unsigned have;
    uint64_t *from_ack; /* µs, one per delivery */
    size_t n_push;
    /* idle, storm */
    unsigned registered, subscribed;
    unsigned setup_next; /* the next slot to register or subscribe */
    unsigned inflight;   /* setup requests in flight */
    const char *sub_service; /* push: every slot's; NULL: idle_service() */
    bool reconnect;
    uint64_t pushes;
};

/* ---- grpc.c ---- */

/* A bench with @o's --conns slots on a fresh loop, connecting to
 * @host:@grpc_port; NULL when out of memory. */
struct bench *gbench_new(const struct opts *o, const char *host,
                         int grpc_port);
/* Close every connection, run the loop dry and free @b. */
void gbench_free(struct bench *b);
/* Parse the options after the subcommand into @o: the shared ones here
 * (--conns --depth --services --changes --seconds --runs --port --dir
 * --locusd --set --token --json --help), any other by @own(@ctx, option, value),
 * which returns 1 (taken), 0 (unknown) or -1 (bad value, said). Return -1
 * to go on, else the exit code (0 after --help). */
int gbench_parse_opts(int argc, char **argv, struct opts *o,
                      const char *use,
                      int (*own)(void *ctx, const char *a, const char *v),
                      void *ctx);
/* Room for @n sockets: raise the soft open-files limit to the hard one. */
void gbench_raise_nofile(unsigned n);

uint64_t gbench_now_us(void);
/* Keep one latency (µs). */
void gbench_lat_add(struct bench *b, uint64_t us);
/* Count an error; the first is kept as "@op: @what". */
void gbench_note_error(struct bench *b, const char *op, const char *what);
/* Run the loop until @done(b) or @ms pass; return whether done. */
bool gbench_run_until(struct bench *b, bool (*done)(struct bench *),
                      uint64_t ms);
void gbench_run_for(struct bench *b, uint64_t ms);
/* b->tick's callback: stops the loop (one turn of gbench_run_until). */
void gbench_on_tick(uv_timer_t *t);
/* A loopback address for @n (127.x.y.z). */
void gbench_instance_ip(uint64_t n, char *ip, size_t size);
/* Request bodies, new references. */
json_t *gbench_instance_request(const char *service, const char *type,
                                const char *ip, int port, bool ephemeral);
json_t *gbench_subscribe_request(const char *service, bool subscribe);
const char *gbench_response_error(int status, json_t *body);
/* Open --conns connections, CONNECT_WINDOW at a time; 0 when all are
 * ready. */
int gbench_connect_all(struct bench *b);
/* Start setups while fewer than CONNECT_WINDOW are on their way; true once
 * every connection has settled (ready or failed). */
bool gbench_all_settled(struct bench *b);

/* ---- grpc_rate.c ---- */

int gbench_bench_rate(struct bench *b);

/* One timed register (or puts) run: the rate and latencies. */
struct gbench_run {
    double rate;
    uint64_t ok, errors;
    double p50, p99;
};
/* Run @b->o.runs timed runs into @runs (MAX_RUNS) on connected slots;
 * return the index of the median run. */
unsigned gbench_rate_runs(struct bench *b, struct gbench_run *runs);
/* Keep about @per_sec registrations/s going on the connected slots (at
 * most --depth in flight each) until gbench_pace_stop, which returns once
 * the last of them is answered. */
void gbench_pace_start(struct bench *b, unsigned per_sec);
void gbench_pace_stop(struct bench *b);

/* ---- grpc_fleet.c ---- */

void gbench_on_push(struct lc_nclient *c, const char *json, size_t len,
                    void *data);
int gbench_bench_push(struct bench *b);
int gbench_bench_idle(struct bench *b, struct lc_cluster *cluster);
int gbench_bench_storm(struct bench *b, struct lc_cluster *cluster);

#endif /* LC_BENCH_GRPC_INTERNAL_H */
