/* A locusd process: start order, signals and a clean shutdown.
 *
 * Start: lock the data directory, create the raft engine and register the
 * naming processors, start the engine (opening every group from disk), then
 * listen for HTTP, then for gRPC SDK clients on port + 1000 (served once
 * naming is ready, as HTTP). Stop (SIGTERM/SIGINT): GOAWAY and close every
 * gRPC connection (their instances go), then stop accepting HTTP and let
 * in-flight requests finish (5 s at most), then close the raft groups, which
 * leaves their logs consistent, then close the naming module's push engine,
 * then free everything. A second signal exits
 * at once.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/http.h"
#include "common/err.h"
#include "common/log.h"
#include "common/loopmon.h"
#include "common/util.h"
#include "members/members.h"
#include "naming/grpc/routes.h"
#include "naming/http/routes.h"
#include "naming/naming.h"
#include "raft/engine.h"
#include "rpc/cluster/peers.h"
#include "distro/distro.h"
#include "rpc/grpc/rpc.h"
#include "rpc/http/http.h"
#include "server/admin.h"
#include "server/balance.h"
#include "server/conf_watch.h"
#include "server/gate.h"
#include "server/loader.h"
#include "server/node.h"

#define SHUTDOWN_GRACE_MS 5000
#define CONF_WATCH_MS 2000

#define LAG_PERIOD_MS 50
#define TRIM_PERIOD_MS 10000
#define TRIM_MIN_FREE (32u << 20)
#define LAG_WARN_MS 50

/* Configuration, member list and raft engine agree on the most members. */
_Static_assert(LC_MAX_MEMBERS <= LC_MEMBERS_MAX, "config vs member list");
_Static_assert(LC_MEMBERS_MAX <= LC_RAFT_MAX_MEMBERS, "member list vs raft");
_Static_assert(LC_MEMBER_ADDR_MAX <= LC_RAFT_ADDR_MAX, "raft address text");

struct node {
    uv_loop_t loop;
    uv_timer_t lag_timer; /* event-loop lag monitor */
    uv_check_t ready_check; /* starts the SDK port the moment naming is ready */
    unsigned trim_ticks;    /* lag timer ticks since the last malloc_trim */
    uint64_t lag_due;
    const struct lc_config *cfg;
    struct lc_members *members;
    struct lc_raft_engine *engine; /* NULL once closed */
    struct lc_naming *naming;
    /* Users, roles, permissions and the checks (auth/auth.h); freed once
     * the loop has run everything. */
    struct lc_auth *auth;
    struct lc_gate *gate; /* the HTTP port's checks (server/gate.h) */
    struct lc_http_server *http;
    struct lc_admin *admin;
    /* The SDK gRPC server (port + 1000); NULL once closed. */
    struct lc_rpc *rpc;
    struct lc_naming_grpc *naming_grpc;
    struct lc_loader *loader;
    /* The cluster plane (port + 1001, peer channels, member reports);
     * NULL once closed. */
    struct lc_peers *peers;
    struct lc_balance *balance; /* connection balancing */
    /* Distro (distro/distro.h) over the plane; NULL once freed. */
    struct lc_distro *distro;
    struct lc_conf_watch *conf_watch; /* cluster.conf, cluster mode */
    bool rpc_started; /* lc_rpc_set_started(true) was called */
    uv_signal_t sigterm;
    uv_signal_t sigint;
    bool stopping;
    int lock_fd;
};

/* Freed heap memory goes back to the system when enough of it has piled up:
 * a burst (10,000 connections subscribing, a push of a large service to all
 * of them) frees its buffers, but glibc keeps free pages inside the heap
 * resident until malloc_trim. A few milliseconds every TRIM_PERIOD_MS at
 * most, and only with more than TRIM_MIN_FREE bytes free. */
static void trim_heap(void)
{
    struct mallinfo2 mi = mallinfo2();
    if (mi.fordblks > TRIM_MIN_FREE) {
        malloc_trim(0);
    }
}

/* A timer that should fire every LAG_PERIOD_MS: when it is late, something
 * held the loop (every request waited that long). */
static void on_lag_timer(uv_timer_t *t)
{
    struct node *n = t->data;
    uint64_t now = uv_now(&n->loop);
    /* Logged with the phase that took the loop (common/loopmon.h). */
    lc_loopmon_report(n->lag_due != 0 && now > n->lag_due + LAG_WARN_MS
                          ? now - n->lag_due
                          : 0);
    n->lag_due = now + LAG_PERIOD_MS;
    if (++n->trim_ticks >= TRIM_PERIOD_MS / LAG_PERIOD_MS) {
        n->trim_ticks = 0;
        trim_heap();
    }
}

/* After every loop iteration: the SDK port serves from the iteration in
 * which naming becomes ready (lc_op_ready reads the same engine flag), not
 * up to a timer period later, so a client told "ready" over HTTP is not
 * refused on gRPC. Stops itself once done. */
static void on_ready_check(uv_check_t *h)
{
    struct node *n = h->data;
    if (n->rpc_started || n->rpc == NULL || n->engine == NULL ||
        !lc_raft_engine_caught_up(n->engine) ||
        !lc_distro_loaded(n->distro)) {
        return;
    }
    n->rpc_started = true;
    lc_rpc_set_started(n->rpc, true);
    lc_balance_set_ready(n->balance, true);
    if (n->peers != NULL) {
        lc_peers_set_self_state(n->peers, LC_MEMBER_UP);
    }
    lc_infof("server", "gRPC SDK port serving");
    uv_check_stop(h);
}

/* What this node adds to its Member (member reports, /cluster/nodes):
 * its own raft view. */
static void on_member_extend(void *data, json_t *extend_info)
{
    struct node *n = data;
    if (n->engine != NULL) {
        json_object_set_new(extend_info, "raftMetaData",
                            lc_admin_raft_meta(n->engine));
    }
}

static void on_naming_closed(void *data)
{
    struct node *n = data;
    lc_naming_grpc_free(n->naming_grpc);
    n->naming_grpc = NULL;
    lc_loader_free(n->loader);
    n->loader = NULL;
    lc_naming_free(n->naming);
    n->naming = NULL;
    lc_admin_free(n->admin);
    n->admin = NULL;
    lc_members_free(n->members); /* naming and admin borrowed it */
    n->members = NULL;
    uv_close((uv_handle_t *)&n->sigterm, NULL);
    uv_close((uv_handle_t *)&n->sigint, NULL);
    uv_close((uv_handle_t *)&n->lag_timer, NULL);
    uv_close((uv_handle_t *)&n->ready_check, NULL);
    lc_infof("server", "stopped");
}

/* The raft groups are closed (nothing applies any more): close the naming
 * module's own handles (UDP push), then free it. */
static void on_engine_closed(void *data)
{
    struct node *n = data;
    n->engine = NULL; /* freed */
    lc_naming_close(n->naming, on_naming_closed, n);
}

static void on_http_closed(struct lc_http_server *srv, void *data)
{
    struct node *n = data;
    (void)srv;
    n->http = NULL;
    lc_naming_detach_raft(n->naming);
    lc_auth_detach(n->auth); /* checks still waiting answer LC_ESHUTDOWN */
    lc_raft_engine_close(n->engine, on_engine_closed, n);
}

static void close_http(struct node *n)
{
    if (n->http != NULL) {
        lc_http_server_close(n->http, SHUTDOWN_GRACE_MS, on_http_closed, n);
    } else {
        on_http_closed(NULL, n);
    }
}

/* The gRPC connections are gone (GOAWAY first: clients move to another
 * member while this one still answers HTTP), their instances withdrawn. */
static void on_peers_closed(struct lc_peers *ps, void *data)
{
    struct node *n = data;
    (void)ps;
    n->peers = NULL;
    lc_admin_set_peers(n->admin, NULL);
    close_http(n);
}

static void close_plane(struct node *n)
{
    if (n->peers != NULL) {
        lc_peers_close(n->peers, on_peers_closed, n);
    } else {
        close_http(n);
    }
}

static void on_distro_flushed(void *data)
{
    struct node *n = data;
    lc_distro_free(n->distro); /* before the plane it sends over */
    n->distro = NULL;
    close_plane(n);
}

static void on_rpc_closed(struct lc_rpc *r, void *data)
{
    struct node *n = data;
    (void)r;
    n->rpc = NULL;
    if (n->naming_grpc != NULL) {
        lc_naming_grpc_detach(n->naming_grpc);
    }
    lc_loader_detach(n->loader);
    lc_balance_close(n->balance); /* freed once its requests end */
    n->balance = NULL;
    if (n->conf_watch != NULL) {
        lc_conf_watch_close(n->conf_watch);
        n->conf_watch = NULL;
    }
    if (n->distro != NULL) {
        /* the DELETEs of the connections just closed reach the peers */
        lc_distro_flush(n->distro, 1000, on_distro_flushed, n);
        return;
    }
    close_plane(n);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct node *n = s->data;
    if (n->stopping) {
        lc_warnf("server", "second signal: exiting now");
        _exit(1);
    }
    n->stopping = true;
    lc_infof("server", "%s: shutting down", strsignal(signum));
    if (n->rpc != NULL) {
        lc_rpc_close(n->rpc, on_rpc_closed, n);
    } else {
        on_rpc_closed(NULL, n);
    }
}

/* The SDK gRPC server on port + 1000, its naming handlers and the loader
 * admin endpoints. Return 0 or 1 (logged). */
static int start_grpc(struct node *n, const struct lc_config *cfg)
{
    struct lc_balance_config bc;
    struct lc_rpc_config rc;
    int port = lc_config_grpc_port(cfg->port);
    int rv;

    lc_rpc_config_default(&rc, LC_RPC_SDK);
    rc.limits.max_inbound = lc_config_grpc_max_inbound(cfg);
    rc.max_sdk_connections = cfg->grpc_sdk_max_connections;
    /* HTTP/2 sessions, set up or not: the SDK limit plus room for cluster
     * and not-yet-set-up ones; without an SDK limit, the open-files limit
     * is the bound (locusd raises it to the hard limit at start). */
    rc.limits.max_connections = cfg->grpc_sdk_max_connections > 0
                                    ? cfg->grpc_sdk_max_connections + 1024
                                    : UINT_MAX;
    n->rpc = lc_rpc_new(&n->loop, &rc);
    if (n->rpc == NULL) {
        lc_errorf("server", "out of memory setting up gRPC");
        return 1;
    }
    rv = lc_naming_grpc_new(n->naming, n->rpc, &n->naming_grpc);
    if (rv == 0) {
        lc_naming_grpc_set_auth(n->naming_grpc, n->auth);
        rv = lc_peers_guard_sdk(n->rpc); /* cluster types: "forbidden" */
    }
    if (rv != 0) {
        lc_errorf("server", "naming over gRPC: %s", lc_strerror(rv));
        return 1;
    }
    n->loader = lc_loader_new(&n->loop, n->http, n->rpc, n->naming_grpc,
                              n->naming, port);
    if (n->loader == NULL) {
        lc_errorf("server", "out of memory setting up the loader endpoints");
        return 1;
    }
    lc_balance_config_default(&bc);
    bc.enabled = cfg->balance_enabled;
    bc.interval_ms = cfg->balance_interval_ms;
    bc.factor_pct = cfg->balance_factor_pct;
    bc.batch = cfg->balance_batch;
    rv = lc_balance_new(&n->loop, &bc, n->members, n->peers, n->rpc,
                        &n->balance);
    if (rv != 0) {
        lc_errorf("server", "connection balancing: %s", lc_strerror(rv));
        return 1;
    }
    lc_loader_set_balance(n->loader, n->balance);
    rv = lc_rpc_listen(n->rpc, cfg->ip, port);
    if (rv != 0) {
        lc_errorf("server", "cannot listen on %s:%d (gRPC): %s", cfg->ip, port,
                  lc_strerror(rv));
        return 1;
    }
    return 0;
}

/* The cluster plane on port + 1001, in both modes: standalone, as Nacos's
 * GrpcClusterServer, it listens too (with a random secret nobody can
 * prove, so it admits no one), which keeps one wiring for the handlers
 * other modules register on it. Return 0 or 1 (logged). */
static int start_peers(struct node *n, const struct lc_config *cfg,
                       const uint8_t *secret, size_t secret_len)
{
    struct lc_peers_config pc;
    int port = lc_config_grpc_port(cfg->port) + 1;
    int rv;

    lc_peers_config_default(&pc);
    pc.members = n->members;
    pc.secret = secret;
    pc.secret_len = secret_len;
    pc.limits.max_inbound = lc_config_grpc_cluster_max_inbound(cfg);
    pc.fail_access_cnt = cfg->member_fail_access_cnt;
    rv = lc_peers_new(&n->loop, &pc, &n->peers);
    if (rv != 0) {
        lc_errorf("server", "cluster plane: %s", lc_strerror(rv));
        return 1;
    }
    lc_peers_set_extend(n->peers, on_member_extend, n);
    lc_admin_set_peers(n->admin, n->peers);
    /* STARTING until naming is ready (raft caught up, Distro loaded):
     * peers keep it out of Distro's healthy list meanwhile. */
    lc_peers_set_self_state(n->peers, LC_MEMBER_STARTING);
    rv = lc_peers_listen(n->peers, cfg->ip, port);
    if (rv != 0) {
        lc_errorf("server", "cannot listen on %s:%d (cluster gRPC): %s",
                  cfg->ip, port, lc_strerror(rv));
        return 1;
    }
    /* Member states come from the reports; cluster.conf edits change the
     * list (Nacos's FileConfigMemberLookup), every 2 s at most. */
    if (!cfg->standalone && cfg->cluster_conf_path[0] != '\0') {
        rv = lc_conf_watch_new(&n->loop, cfg->cluster_conf_path, CONF_WATCH_MS,
                               n->peers, &n->conf_watch);
        if (rv != 0) {
            lc_errorf("server", "cannot watch %s: %s", cfg->cluster_conf_path,
                      lc_strerror(rv));
            return 1;
        }
    }
    return 0;
}

static bool distro_ready(void *data)
{
    return lc_distro_loaded(data);
}

/* Distro over the cluster plane: naming is not ready (status, SDK port)
 * until its startup load is done. Return 0 or 1 (logged). */
static int start_distro(struct node *n, const struct lc_config *cfg)
{
    struct lc_distro_config dc;
    int rv;
    lc_distro_config_default(&dc);
    dc.sync_delay_ms = cfg->distro_sync_delay_ms;
    dc.sync_timeout_ms = cfg->distro_sync_timeout_ms;
    dc.sync_retry_ms = cfg->distro_sync_retry_ms;
    dc.verify_interval_ms = cfg->distro_verify_interval_ms;
    dc.verify_timeout_ms = cfg->distro_verify_timeout_ms;
    dc.load_retry_ms = cfg->distro_load_retry_ms;
    dc.client_expired_ms = cfg->client_expired_ms;
    /* a piece, base64'd (4/3) in its envelope, stays below the limit */
    dc.piece_bytes = lc_config_grpc_cluster_max_inbound(cfg) / 2;
    rv = lc_distro_new(&n->loop, n->naming, n->peers, n->members, &dc,
                       &n->distro);
    if (rv != 0) {
        lc_errorf("server", "distro: %s", lc_strerror(rv));
        return 1;
    }
    lc_naming_set_gate(n->naming, distro_ready, n->distro);
    lc_distro_start(n->distro);
    return 0;
}

/* One locusd per data directory. */
static int lock_data_dir(const char *dir, int *fd_out)
{
    char path[LC_PATH_MAX + 32];
    int fd;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        lc_errorf("server", "cannot create data dir %s: %s", dir,
                  strerror(errno));
        return LC_EIO;
    }
    snprintf(path, sizeof path, "%s/locusd.lock", dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        lc_errorf("server", "cannot open %s: %s", path, strerror(errno));
        return LC_EIO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        lc_errorf("server", "data dir %s is in use by another locusd", dir);
        close(fd);
        return LC_EBUSY;
    }
    *fd_out = fd;
    return 0;
}

/* The member list from @cfg: cluster.conf's members (none when
 * standalone) and this node. */
static int new_member_list(const struct lc_config *cfg, struct lc_members **out)
{
    struct lc_member_conf entries[LC_MAX_MEMBERS];
    struct lc_member_conf self = {cfg->ip, cfg->port};
    unsigned count = cfg->standalone ? 0 : cfg->n_members;
    char errmsg[512] = "";
    int rv;

    for (unsigned i = 0; i < count; i++) {
        entries[i] =
            (struct lc_member_conf){cfg->members[i].host, cfg->members[i].port};
    }
    rv = lc_members_new(entries, count, &self, out, errmsg, sizeof errmsg);
    if (rv != 0) {
        lc_errorf("server", "members: %s", errmsg);
    }
    return rv;
}

int lc_node_run(const struct lc_config *cfg)
{
    struct node n;
    struct lc_raft_options ro;
    struct lc_http_limits limits;
    const char *member_ptrs[LC_MAX_MEMBERS];
    uint8_t random_secret[32];
    char errmsg[512] = "";
    int rv;

    memset(&n, 0, sizeof n);
    n.cfg = cfg;
    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0) {
        lc_errorf("server", "libsodium failed to initialise");
        return 1;
    }
    if (lock_data_dir(cfg->data_dir, &n.lock_fd) != 0) {
        return 1;
    }
    uv_loop_init(&n.loop);

    if (new_member_list(cfg, &n.members) != 0) {
        return 1;
    }
    memset(&ro, 0, sizeof ro);
    ro.self = lc_members_self(n.members)->raft_addr;
    if (cfg->standalone) {
        member_ptrs[0] = ro.self;
        ro.n_members = 1;
        /* Nobody else connects: any secret will do. */
        randombytes_buf(random_secret, sizeof random_secret);
        ro.secret = random_secret;
        ro.secret_len = sizeof random_secret;
    } else {
        /* In cluster.conf's order, as the groups were bootstrapped. */
        for (unsigned i = 0; i < cfg->n_members; i++) {
            char addr[LC_MEMBER_ADDR_MAX];
            const struct lc_member *m;
            lc_join_host_port(addr, sizeof addr, cfg->members[i].host,
                              cfg->members[i].port);
            m = lc_members_find(n.members, addr);
            assert(m != NULL); /* built from these entries */
            member_ptrs[i] = m->raft_addr;
        }
        ro.n_members = cfg->n_members;
        ro.secret = cfg->secret;
        ro.secret_len = strlen(cfg->secret);
    }
    ro.members = member_ptrs;
    ro.data_dir = cfg->data_dir;
    ro.bootstrap = !cfg->join;
    ro.election_timeout_ms = cfg->election_timeout_ms;
    ro.heartbeat_ms = cfg->heartbeat_ms;
    ro.snapshot_threshold = cfg->snapshot_threshold;
    ro.snapshot_trailing = cfg->snapshot_trailing;
    ro.snapshot_interval_secs = cfg->snapshot_interval_secs;
    ro.rpc_timeout_ms = cfg->rpc_request_timeout_ms;
    ro.fast_failover = cfg->fast_failover;

    rv = lc_raft_engine_new(&n.loop, &ro, &n.engine, errmsg, sizeof errmsg);
    if (rv != 0) {
        lc_errorf("server", "raft: %s", errmsg);
        return 1;
    }
    rv = lc_naming_new(&n.loop, n.engine, &n.naming);
    if (rv != 0) {
        lc_errorf("server", "naming: %s", lc_strerror(rv));
        return 1;
    }
    lc_naming_set_members(n.naming, n.members, cfg->subscribers_timeout_ms);
    rv = lc_auth_new(&n.loop, n.engine, &cfg->auth, &n.auth);
    if (rv != 0) {
        lc_errorf("server", "auth: %s", lc_strerror(rv));
        return 1;
    }
    if (cfg->auth.identity_key[0] != '\0' &&
        cfg->auth.identity_value[0] != '\0') {
        lc_naming_set_peer_identity(n.naming, cfg->auth.identity_key,
                                    cfg->auth.identity_value);
    }
    lc_naming_configure_push(n.naming, cfg->push_task_delay_ms,
                             cfg->push_ack_timeout_ms, cfg->client_expired_ms);
    {
        struct lc_naming_clean_options co;
        co.empty_service_interval_ms = cfg->clean_empty_interval_ms;
        co.empty_service_expired_ms = cfg->clean_empty_expired_ms;
        co.expired_metadata_interval_ms = cfg->clean_metadata_interval_ms;
        co.expired_metadata_expired_ms = cfg->clean_metadata_expired_ms;
        rv = lc_naming_start_cleaners(n.naming, &co);
        if (rv != 0) {
            lc_errorf("server", "naming cleaners: %s", lc_strerror(rv));
            return 1;
        }
    }
    uint64_t start_us = lc_mono_us(); /* loading may block startup */
    rv = lc_raft_engine_start(n.engine, errmsg, sizeof errmsg);
    lc_infof("server", "raft groups loaded from disk in %.1f ms",
             (double)(lc_mono_us() - start_us) / 1000.0);
    if (rv != 0) {
        lc_errorf("server", "raft: %s", errmsg);
        return 1;
    }

    lc_http_limits_default(&limits);
    limits.max_header_bytes = cfg->http_max_header_bytes;
    limits.max_body_bytes = cfg->http_max_body_bytes;
    limits.head_timeout_ms = cfg->http_head_timeout_ms;
    limits.body_timeout_ms = cfg->http_body_timeout_ms;
    limits.max_connections_per_ip = cfg->http_max_connections_per_ip;
    n.http = lc_http_server_new(&n.loop, &limits);
    if (n.http == NULL || lc_naming_http_routes(n.naming, n.http) != 0 ||
        (n.admin = lc_admin_new(n.members, n.engine, n.http)) == NULL ||
        lc_auth_http_routes(n.auth, n.http) != 0 ||
        lc_gate_new(n.auth, n.http, &n.gate) != 0) {
        lc_errorf("server", "out of memory setting up HTTP");
        return 1;
    }
    rv = lc_http_server_listen(n.http, cfg->ip, cfg->port);
    if (rv != 0) {
        lc_errorf("server", "cannot listen on %s:%d: %s", cfg->ip, cfg->port,
                  lc_strerror(rv));
        return 1;
    }

    if (start_peers(&n, cfg, ro.secret, ro.secret_len) != 0 ||
        start_grpc(&n, cfg) != 0 || start_distro(&n, cfg) != 0) {
        return 1;
    }

    if (cfg->auth.enabled) {
        lc_gate_check_routes(n.http); /* every route is registered */
        lc_infof("server", "auth on: %s mode, server identity %s",
                 cfg->standalone ? "standalone" : "cluster",
                 cfg->auth.identity_key[0] != '\0' ? "set" : "not set");
    }

    uv_signal_init(&n.loop, &n.sigterm);
    uv_signal_init(&n.loop, &n.sigint);
    n.sigterm.data = &n;
    n.sigint.data = &n;
    uv_signal_start(&n.sigterm, on_signal, SIGTERM);
    uv_signal_start(&n.sigint, on_signal, SIGINT);
    uv_timer_init(&n.loop, &n.lag_timer);
    n.lag_timer.data = &n;
    uv_timer_start(&n.lag_timer, on_lag_timer, LAG_PERIOD_MS, LAG_PERIOD_MS);
    uv_check_init(&n.loop, &n.ready_check);
    n.ready_check.data = &n;
    uv_check_start(&n.ready_check, on_ready_check);

    lc_infof("server",
             "locusd up: %s mode, http %s:%d, grpc %d, raft %s, data %s, "
             "%u member(s)",
             cfg->standalone ? "standalone" : "cluster", cfg->ip, cfg->port,
             lc_config_grpc_port(cfg->port), ro.self, cfg->data_dir,
             ro.n_members);
    uv_run(&n.loop, UV_RUN_DEFAULT);
    /* The loop ran every thread-pool callback: nothing refers to them. */
    lc_auth_free(n.auth);
    lc_gate_free(n.gate);
    lc_raft_free_closed();
    rv = uv_loop_close(&n.loop);
    if (rv != 0) {
        lc_warnf("server", "loop closed with handles still open");
    }
    close(n.lock_fd);
    return 0;
}
