/* A locusd process: start order, signals and a clean shutdown.
 *
 * Start: lock the data directory, create the raft engine and register the
 * naming processors, start the engine (opening every group from disk), then
 * listen for HTTP. Stop (SIGTERM/SIGINT): stop accepting HTTP and let
 * in-flight requests finish (5 s at most), then close the raft groups, which
 * leaves their logs consistent, then close the naming module's UDP push
 * socket, then free everything. A second signal exits
 * at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "naming/http/routes.h"
#include "naming/naming.h"
#include "raft/engine.h"
#include "rpc/http/http.h"
#include "server/admin.h"
#include "server/node.h"

#define SHUTDOWN_GRACE_MS 5000

#define LAG_PERIOD_MS 100
#define LAG_WARN_MS 100

struct node {
    uv_loop_t loop;
    uv_timer_t lag_timer; /* event-loop lag monitor */
    uint64_t lag_due;
    const struct lc_config *cfg;
    struct lc_raft_engine *engine;
    struct lc_naming *naming;
    struct lc_http_server *http;
    struct lc_admin *admin;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    bool stopping;
    int lock_fd;
};

/* A timer that should fire every LAG_PERIOD_MS: when it is late, something
 * held the loop (every request waited that long). */
static void on_lag_timer(uv_timer_t *t)
{
    struct node *n = t->data;
    uint64_t now = uv_now(&n->loop);
    if (n->lag_due != 0 && now > n->lag_due + LAG_WARN_MS) {
        lc_warnf("server", "event loop blocked for %llu ms",
                 (unsigned long long)(now - n->lag_due));
    }
    n->lag_due = now + LAG_PERIOD_MS;
}

static void on_naming_closed(void *data)
{
    struct node *n = data;
    lc_naming_free(n->naming);
    n->naming = NULL;
    lc_admin_free(n->admin);
    n->admin = NULL;
    uv_close((uv_handle_t *)&n->sigterm, NULL);
    uv_close((uv_handle_t *)&n->sigint, NULL);
    uv_close((uv_handle_t *)&n->lag_timer, NULL);
    lc_infof("server", "stopped");
}

/* The raft groups are closed (nothing applies any more): close the naming
 * module's own handles (UDP push), then free it. */
static void on_engine_closed(void *data)
{
    struct node *n = data;
    lc_naming_close(n->naming, on_naming_closed, n);
}

static void on_http_closed(struct lc_http_server *srv, void *data)
{
    struct node *n = data;
    (void)srv;
    n->http = NULL;
    lc_raft_engine_close(n->engine, on_engine_closed, n);
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
    if (n->http != NULL) {
        lc_http_server_close(n->http, SHUTDOWN_GRACE_MS, on_http_closed, n);
    } else {
        on_http_closed(NULL, n);
    }
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

int lc_node_run(const struct lc_config *cfg)
{
    struct node n;
    struct lc_raft_options ro;
    struct lc_http_limits limits;
    char self[LC_RAFT_ADDR_MAX];
    char members[LC_MAX_MEMBERS][LC_RAFT_ADDR_MAX];
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

    lc_join_host_port(self, sizeof self, cfg->ip,
                      lc_config_raft_port(cfg->port));
    memset(&ro, 0, sizeof ro);
    ro.self = self;
    if (cfg->standalone) {
        lc_strlcpy(members[0], self, sizeof members[0]);
        member_ptrs[0] = members[0];
        ro.n_members = 1;
        /* Nobody else connects: any secret will do. */
        randombytes_buf(random_secret, sizeof random_secret);
        ro.secret = random_secret;
        ro.secret_len = sizeof random_secret;
    } else {
        for (unsigned i = 0; i < cfg->n_members; i++) {
            lc_join_host_port(members[i], sizeof members[i],
                              cfg->members[i].host,
                              lc_config_raft_port(cfg->members[i].port));
            member_ptrs[i] = members[i];
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
    {
        struct lc_naming_member nm[LC_MAX_MEMBERS];
        struct lc_naming_member me = {cfg->ip, cfg->port,
                                        lc_config_raft_port(cfg->port)};
        unsigned count = cfg->standalone ? 0 : cfg->n_members;
        for (unsigned i = 0; i < count; i++) {
            nm[i] = (struct lc_naming_member){
                cfg->members[i].host, cfg->members[i].port,
                lc_config_raft_port(cfg->members[i].port)};
        }
        rv = lc_naming_set_members(n.naming, nm, count, &me,
                                   cfg->subscribers_timeout_ms);
        if (rv != 0) {
            lc_errorf("server", "naming members: %s", lc_strerror(rv));
            return 1;
        }
    }
    lc_naming_configure_push(n.naming, cfg->push_task_delay_ms,
                             cfg->push_ack_timeout_ms,
                             cfg->client_expired_ms);
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
    rv = lc_raft_engine_start(n.engine, errmsg, sizeof errmsg);
    if (rv != 0) {
        lc_errorf("server", "raft: %s", errmsg);
        return 1;
    }

    lc_http_limits_default(&limits);
    limits.max_header_bytes = cfg->http_max_header_bytes;
    limits.max_body_bytes = cfg->http_max_body_bytes;
    n.http = lc_http_server_new(&n.loop, &limits);
    if (n.http == NULL || lc_naming_http_routes(n.naming, n.http) != 0 ||
        (n.admin = lc_admin_new(cfg, n.engine, n.http)) == NULL) {
        lc_errorf("server", "out of memory setting up HTTP");
        return 1;
    }
    rv = lc_http_server_listen(n.http, cfg->ip, cfg->port);
    if (rv != 0) {
        lc_errorf("server", "cannot listen on %s:%d: %s", cfg->ip, cfg->port,
                  lc_strerror(rv));
        return 1;
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

    lc_infof("server",
             "locusd up: %s mode, http %s:%d, raft %s, data %s, %u member(s)",
             cfg->standalone ? "standalone" : "cluster", cfg->ip, cfg->port,
             self, cfg->data_dir, ro.n_members);
    uv_run(&n.loop, UV_RUN_DEFAULT);
    lc_raft_free_closed();
    rv = uv_loop_close(&n.loop);
    if (rv != 0) {
        lc_warnf("server", "loop closed with handles still open");
    }
    close(n.lock_fd);
    return 0;
}
