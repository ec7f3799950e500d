/* Helpers for test/cluster: clusters in temporary directories, HTTP and raft
 * views, a background writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <zlib.h>

#include "rpc/http/http.h"
#include "test/support/ports.h"
#include "distro/mapper.h"
#include "test/support/tcluster.h"

#define CT_FORM "application/x-www-form-urlencoded"
#define CT_JSON "application/json"

uint64_t tc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void tc_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ----------------------------------------------------------- lifecycle */

const char *tc_locusd(void)
{
    static char path[PATH_MAX];
    const char *env = getenv("LOCUSD");
    char self[PATH_MAX - 16];
    ssize_t n;

    if (env != NULL && env[0] != '\0') {
        return env;
    }
    env = getenv("BUILD");
    if (env != NULL && env[0] != '\0') {
        snprintf(path, sizeof path, "%s/locusd", env);
        return path;
    }
    /* <build>/test/cluster/<binary> -> <build>/locusd */
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *p = strstr(self, "/test/cluster/");
        if (p != NULL) {
            strcpy(p, "/locusd");
            snprintf(path, sizeof path, "%s", self);
            if (access(path, X_OK) == 0) {
                return path;
            }
        }
    }
    return "build/locusd";
}

int tc_setup(void **state)
{
    struct tc *t = calloc(1, sizeof *t);
    if (t == NULL) {
        return -1;
    }
    *state = t;
    return 0;
}

int tc_teardown(void **state)
{
    struct tc *t = *state;
    int rv = tc_down(t);
    free(t);
    return rv;
}

static int by_value(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

void tc_init(struct tc *t, const char *name, unsigned n, const char *extra)
{
    struct lc_cluster_spec spec = {0};
    char dir[700];
    const char *tmpdir = getenv("TMPDIR");

    snprintf(t->name, sizeof t->name, "%s", name);
    if (n == 0 || n > LC_CLUSTER_MAX) {
        fail_msg("%s: 1..%d nodes, not %u", name, LC_CLUSTER_MAX, n);
    }
    snprintf(t->tmp, sizeof t->tmp, "%s/locus-%s-XXXXXX",
             tmpdir != NULL && tmpdir[0] != '\0' ? tmpdir : "/tmp", name);
    if (mkdtemp(t->tmp) == NULL) {
        fail_msg("%s: mkdtemp(%s): %s", name, t->tmp, strerror(errno));
    }
    t->inited = true; /* from here on tc_down cleans up */
    while (t->n_node_ports < n) {
        int p = tc_port_reserve();
        if (p < 0) {
            fail_msg("%s: no free loopback ports for node %u in %d-%d", name,
                     t->n_node_ports, TC_PORT_MIN, TC_PORT_MAX);
        }
        t->node_ports[t->n_node_ports++] = p;
    }
    /* Ascending: node order is address order, as members are sorted (all
     * ports have five digits). */
    qsort(t->node_ports, n, sizeof t->node_ports[0], by_value);
    snprintf(dir, sizeof dir, "%s/cluster", t->tmp);
    spec.n = n;
    spec.ports = t->node_ports;
    spec.dir = dir;
    spec.locusd = tc_locusd();
    {
        static bool said;
        if (!said) {
            print_message("locusd: %s\n", spec.locusd);
            said = true;
        }
    }
    spec.extra = extra;
    spec.detach = false;
    if (lc_cluster_init(&t->c, &spec) != 0) {
        fail_msg("%s: cannot set up a cluster in %s with locusd %s", name, dir,
                 spec.locusd);
    }
}

int tc_own_port(struct tc *t)
{
    int p;
    if (t->n_own_ports == TC_MAX_OWN_PORTS) {
        fail_msg("%s: more than %d own ports", t->name, TC_MAX_OWN_PORTS);
    }
    p = tc_port_reserve_one();
    if (p < 0) {
        fail_msg("%s: no free loopback port in %d-%d", t->name, TC_PORT_MIN,
                 TC_PORT_MAX);
    }
    t->own_ports[t->n_own_ports++] = p;
    return p;
}

int tc_node_port(struct tc *t)
{
    int p;
    if (t->n_own_ports == TC_MAX_OWN_PORTS) {
        fail_msg("%s: more than %d own ports", t->name, TC_MAX_OWN_PORTS);
    }
    p = tc_port_reserve();
    if (p < 0) {
        fail_msg("%s: no free loopback ports for a node in %d-%d", t->name,
                 TC_PORT_MIN, TC_PORT_MAX);
    }
    t->own_ports[t->n_own_ports++] = p;
    return p;
}

void tc_live(struct tc *t, const char *ip, int port)
{
    struct sockaddr_in a = {0};
    int fd;
    if (t->n_live == TC_MAX_LIVE) {
        fail_msg("%s: more than %d live addresses", t->name, TC_MAX_LIVE);
    }
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1 ||
        (ntohl(a.sin_addr.s_addr) >> 24) != 127) {
        fail_msg("%s: %s is not an IPv4 loopback address", t->name, ip);
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(fd, SOMAXCONN) != 0) {
        fail_msg("%s: listen on %s:%d: %s", t->name, ip, port, strerror(errno));
    }
    t->live_fds[t->n_live++] = fd;
}

static void release_ports(struct tc *t)
{
    for (unsigned k = 0; k < t->n_node_ports; k++) {
        tc_port_release(t->node_ports[k]);
    }
    for (unsigned k = 0; k < t->n_own_ports; k++) {
        tc_port_release(t->own_ports[k]);
    }
    t->n_node_ports = 0;
    t->n_own_ports = 0;
}

static void close_live(struct tc *t)
{
    while (t->n_live > 0) {
        close(t->live_fds[--t->n_live]);
    }
}

void tc_start(struct tc *t, unsigned i)
{
    if (lc_cluster_start_node(&t->c, i) != 0) {
        fail_msg("%s: cannot start node %u", t->name, i);
    }
}

void tc_start_env(struct tc *t, unsigned i, const char *name, const char *value)
{
    int rv;
    setenv(name, value, 1);
    rv = lc_cluster_start_node(&t->c, i);
    unsetenv(name);
    if (rv != 0) {
        fail_msg("%s: cannot start node %u", t->name, i);
    }
}

/* "" when wait status @st is a clean exit (status 0), else what it was. */
static const char *unclean(int st, char *buf, size_t size)
{
    if (st == -1) {
        snprintf(buf, size, "exit not seen");
    } else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        buf[0] = '\0';
    } else if (WIFEXITED(st)) {
        snprintf(buf, size, "exit status %d", WEXITSTATUS(st));
    } else if (WIFSIGNALED(st)) {
        snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(st),
                 strsignal(WTERMSIG(st)));
    } else {
        snprintf(buf, size, "wait status %#x", st);
    }
    return buf;
}

void tc_signal(struct tc *t, unsigned i, int sig)
{
    char why[128];
    if (lc_cluster_signal(&t->c, i, sig) != 0) {
        fail_msg("%s: cannot send signal %d to node %u (not running?)", t->name,
                 sig, i);
    }
    if (sig == SIGTERM &&
        unclean(t->c.nodes[i].exit_status, why, sizeof why)[0] != '\0') {
        fail_msg("%s: node %u did not stop cleanly on SIGTERM: %s", t->name, i,
                 why);
    }
}

void tc_stop_all(struct tc *t)
{
    for (unsigned i = 0; i < t->c.n; i++) {
        if (t->c.nodes[i].pid != 0) {
            tc_signal(t, i, SIGTERM);
        }
    }
}

/* Fail the test: node @i did not become ready. */
static void not_ready(struct tc *t, unsigned i)
{
    char why[128];
    if (t->c.nodes[i].pid == 0) {
        fail_msg("%s: node %u (port %d) exited while starting: %s", t->name, i,
                 t->c.nodes[i].port,
                 unclean(t->c.nodes[i].exit_status, why, sizeof why));
    }
    fail_msg("%s: node %u (port %d) not UP within %u ms", t->name, i,
             t->c.nodes[i].port, TC_WAIT_MS);
}

void tc_wait_ready(struct tc *t, unsigned i)
{
    if (lc_cluster_wait_ready(&t->c, i, TC_WAIT_MS) != 0) {
        not_ready(t, i);
    }
}

void tc_wait_all_ready(struct tc *t)
{
    for (unsigned i = 0; i < t->c.n; i++) {
        if (t->c.nodes[i].pid != 0) {
            tc_wait_ready(t, i);
        }
    }
}

static int rm_one(const char *path, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* Stop every node, give the ports back, remove the directory: as if
 * tc_init had not run (before starting over on new ports). */
static void discard(struct tc *t)
{
    lc_cluster_stop(&t->c);
    release_ports(t);
    nftw(t->tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    t->inited = false;
}

/* Whether node @i exited because a port it needed was taken. */
static bool lost_port(struct tc *t, unsigned i)
{
    struct lc_cluster_node *nd = &t->c.nodes[i];
    int st;
    if (nd->pid != 0 && waitpid(nd->pid, &st, WNOHANG) == nd->pid) {
        nd->exit_status = st;
        nd->pid = 0;
    }
    return nd->pid == 0 && tc_log_contains(t, i, "cannot listen on");
}

void tc_up(struct tc *t, const char *name, unsigned n, const char *extra)
{
    for (unsigned attempt = 1;; attempt++) {
        unsigned i, lost;
        tc_init(t, name, n, extra);
        for (i = 0; i < n; i++) {
            tc_start(t, i);
        }
        for (i = 0; i < n; i++) {
            if (lc_cluster_wait_ready(&t->c, i, TC_WAIT_MS) != 0) {
                break;
            }
        }
        if (i == n) {
            return;
        }
        for (lost = 0; lost < n && !lost_port(t, lost); lost++) {
        }
        if (attempt == 3 || lost == n) {
            not_ready(t, i);
        }
        print_message("%s: node %u lost one of its ports (main %d) to "
                      "another process; starting over on new ports\n",
                      name, lost, t->c.nodes[lost].port);
        discard(t);
    }
}

void tc_filter_from_env(void)
{
    const char *f = getenv("TC_FILTER");
    if (f != NULL && f[0] != '\0') {
        cmocka_set_test_filter(f);
    }
}

void tc_pass(struct tc *t)
{
    t->passed = true;
}

static void print_log_tail(const char *path, unsigned lines)
{
    char cmd[1300];
    fprintf(stderr, "---- last %u lines of %s\n", lines, path);
    fflush(stderr);
    snprintf(cmd, sizeof cmd, "tail -n %u '%s' >&2", lines, path);
    if (system(cmd) != 0) {
        fprintf(stderr, "(cannot read it)\n");
    }
}

/* Sanitizer reports in node @i's log (the node runs on after UBSan's). */
static bool sanitizer_report(struct tc *t, unsigned i)
{
    static const char *const marks[] = {
        "ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"};
    for (size_t k = 0; k < sizeof marks / sizeof marks[0]; k++) {
        if (tc_log_contains(t, i, marks[k])) {
            return true;
        }
    }
    return false;
}

int tc_down(struct tc *t)
{
    bool running[LC_CLUSTER_MAX];
    int rv = 0;
    if (t->writer != NULL) {
        tc_writer_stop(t->writer);
        free(t->writer->acked);
        free(t->writer->acked_at);
        pthread_mutex_destroy(&t->writer->mu);
        free(t->writer);
        t->writer = NULL;
    }
    if (!t->inited) {
        release_ports(t);
        close_live(t);
        return 0;
    }
    for (unsigned i = 0; i < t->c.n; i++) {
        running[i] = t->c.nodes[i].pid != 0;
    }
    lc_cluster_stop(&t->c);
    for (unsigned i = 0; i < t->c.n; i++) {
        char why[128];
        if (running[i] &&
            unclean(t->c.nodes[i].exit_status, why, sizeof why)[0] != '\0') {
            fprintf(stderr, "%s: node %u did not stop cleanly: %s\n", t->name,
                    i, why);
            rv = -1;
            t->passed = false;
        }
        if (sanitizer_report(t, i)) {
            fprintf(stderr, "%s: node %u's log has a sanitizer report\n",
                    t->name, i);
            rv = -1;
            t->passed = false;
        }
    }
    if (!t->passed) {
        for (unsigned i = 0; i < t->c.n; i++) {
            print_log_tail(t->c.nodes[i].log, rv != 0 ? 200 : 40);
        }
    }
    if (getenv("LOCUS_TEST_KEEP") != NULL) {
        fprintf(stderr, "%s: kept %s\n", t->name, t->tmp);
    } else {
        nftw(t->tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
    release_ports(t);
    close_live(t);
    t->inited = false;
    return rv;
}

/* ---------------------------------------------------------------- HTTP */

int tc_http_timeout(struct tc *t, unsigned i, const char *method,
                    const char *path, const char *content_type,
                    const char *req_body, unsigned timeout_ms, char **body)
{
    int status = -1;
    size_t len;
    if (body != NULL) {
        *body = NULL;
    }
    if (lc_http_fetch(t->c.nodes[i].host, t->c.nodes[i].port, method, path,
                      content_type, req_body,
                      req_body != NULL ? strlen(req_body) : 0, timeout_ms,
                      &status, body, &len) != 0) {
        if (body != NULL) {
            *body = NULL;
        }
        return -1;
    }
    return status;
}

int tc_http(struct tc *t, unsigned i, const char *method, const char *path,
            const char *content_type, const char *req_body, char **body)
{
    return tc_http_timeout(t, i, method, path, content_type, req_body, 3000,
                           body);
}

int tc_register(struct tc *t, unsigned i, const char *service, const char *ip,
                int port, char **body)
{
    char form[512];
    snprintf(form, sizeof form, "serviceName=%s&ip=%s&port=%d&ephemeral=false",
             service, ip, port);
    return tc_http(t, i, "POST", "/nacos/v1/ns/instance", CT_FORM, form, body);
}

bool tc_register_ok(struct tc *t, unsigned i, const char *service,
                    const char *ip, int port)
{
    char *body = NULL;
    int st = tc_register(t, i, service, ip, port, &body);
    bool ok = st == 200 && body != NULL && strcmp(body, "ok") == 0;
    free(body);
    return ok;
}

void tc_must_register(struct tc *t, unsigned i, const char *service,
                      const char *ip, int port)
{
    char *body = NULL;
    int st = tc_register(t, i, service, ip, port, &body);
    if (st != 200 || body == NULL || strcmp(body, "ok") != 0) {
        char copy[256];
        snprintf(copy, sizeof copy, "%s", body != NULL ? body : "(none)");
        free(body);
        fail_msg("%s: register %s %s:%d on node %u: status %d, body %s",
                 t->name, service, ip, port, i, st, copy);
    }
    free(body);
}

json_t *tc_list(struct tc *t, unsigned i, const char *service, bool consistent,
                int *status)
{
    char path[512];
    char *body = NULL;
    json_t *root;
    int st;
    snprintf(path, sizeof path, "/nacos/v1/ns/instance/list?serviceName=%s%s",
             service, consistent ? "&consistent=true" : "");
    st = tc_http_timeout(t, i, "GET", path, NULL, NULL, 5000, &body);
    if (status != NULL) {
        *status = st;
    }
    if (st != 200 || body == NULL) {
        free(body);
        return NULL;
    }
    root = json_loads(body, 0, NULL);
    free(body);
    return root;
}

static bool hosts_have(json_t *hosts, const char *ip, int port)
{
    size_t k;
    json_t *h;
    json_array_foreach(hosts, k, h)
    {
        const char *hip = json_string_value(json_object_get(h, "ip"));
        if (hip != NULL && strcmp(hip, ip) == 0 &&
            json_integer_value(json_object_get(h, "port")) == port) {
            return true;
        }
    }
    return false;
}

int tc_missing(struct tc *t, unsigned i, const char *service, const char *ip,
               const int *ports, size_t n, bool consistent, int *first_missing)
{
    json_t *root = tc_list(t, i, service, consistent, NULL);
    json_t *hosts;
    int missing = 0;
    if (root == NULL) {
        return -1;
    }
    hosts = json_object_get(root, "hosts");
    if (!json_is_array(hosts)) {
        json_decref(root);
        return -1;
    }
    for (size_t k = 0; k < n; k++) {
        if (!hosts_have(hosts, ip, ports[k])) {
            if (missing == 0 && first_missing != NULL) {
                *first_missing = ports[k];
            }
            missing++;
        }
    }
    json_decref(root);
    return missing;
}

void tc_expect_all(struct tc *t, unsigned i, const char *service,
                   const char *ip, const int *ports, size_t n)
{
    uint64_t end = tc_now_ms() + TC_WAIT_MS;
    int missing = -1;
    int first = 0;
    do {
        missing = tc_missing(t, i, service, ip, ports, n, true, &first);
        if (missing == 0) {
            return;
        }
        tc_sleep_ms(100);
    } while (tc_now_ms() < end);
    if (missing < 0) {
        fail_msg("%s: node %u: no consistent list of %s within %u ms", t->name,
                 i, service, TC_WAIT_MS);
    }
    fail_msg("%s: node %u lost %d of %zu acknowledged instances of %s "
             "(first missing %s:%d)",
             t->name, i, missing, n, service, ip, first);
}

/* --------------------------------------------------------------- raft */

const char *tc_raft_addr(struct tc *t, unsigned i, char *buf, size_t size)
{
    snprintf(buf, size, "%s:%d", t->c.nodes[i].host, t->c.nodes[i].port - 1000);
    return buf;
}

json_t *tc_groups(struct tc *t, unsigned i)
{
    char *body = NULL;
    json_t *root;
    if (tc_http(t, i, "GET", "/v1/core/raft/groups", NULL, NULL, &body) !=
            200 ||
        body == NULL) {
        free(body);
        return NULL;
    }
    root = json_loads(body, 0, NULL);
    free(body);
    return root;
}

json_t *tc_group(struct tc *t, unsigned i, const char *group)
{
    json_t *root = tc_groups(t, i);
    json_t *found = NULL;
    size_t k;
    json_t *g;
    json_array_foreach(json_object_get(root, "groups"), k, g)
    {
        const char *name = json_string_value(json_object_get(g, "group"));
        if (name != NULL && strcmp(name, group) == 0) {
            found = json_incref(g);
        }
    }
    json_decref(root);
    return found;
}

long long tc_group_int(struct tc *t, unsigned i, const char *group,
                       const char *field)
{
    json_t *g = tc_group(t, i, group);
    json_t *v;
    const char *dot = strchr(field, '.');
    long long out = -1;
    if (g == NULL) {
        return -1;
    }
    if (dot != NULL) {
        char head[64];
        snprintf(head, sizeof head, "%.*s", (int)(dot - field), field);
        v = json_object_get(json_object_get(g, head), dot + 1);
    } else {
        v = json_object_get(g, field);
    }
    if (json_is_integer(v)) {
        out = json_integer_value(v);
    }
    json_decref(g);
    return out;
}

const char *tc_group_state(struct tc *t, unsigned i, const char *group,
                           char *buf, size_t size)
{
    json_t *g = tc_group(t, i, group);
    const char *s = json_string_value(json_object_get(g, "state"));
    snprintf(buf, size, "%s", s != NULL ? s : "");
    json_decref(g);
    return buf;
}

int tc_leader(struct tc *t, const char *group, unsigned skip_mask,
              unsigned timeout_ms)
{
    int l = lc_cluster_leader(&t->c, group, skip_mask, timeout_ms);
    if (l < 0) {
        fail_msg("%s: no leader of %s within %u ms", t->name, group,
                 timeout_ms);
    }
    return l;
}

/* The leader named by node @i for @group ("" when none). */
static void leader_named_by(struct tc *t, unsigned i, const char *group,
                            char *buf, size_t size)
{
    json_t *g = tc_group(t, i, group);
    const char *s = json_string_value(json_object_get(g, "leader"));
    snprintf(buf, size, "%s", s != NULL ? s : "");
    json_decref(g);
}

void tc_wait_agree(struct tc *t, const char *group, unsigned leader,
                   unsigned skip_mask, unsigned timeout_ms)
{
    char want[64];
    char got[64] = "";
    unsigned bad = 0;
    uint64_t end = tc_now_ms() + timeout_ms;
    tc_raft_addr(t, leader, want, sizeof want);
    do {
        bool all = true;
        for (unsigned i = 0; i < t->c.n && all; i++) {
            if (t->c.nodes[i].pid == 0 || (skip_mask & (1u << i))) {
                continue;
            }
            leader_named_by(t, i, group, got, sizeof got);
            if (strcmp(got, want) != 0) {
                all = false;
                bad = i;
            }
        }
        if (all) {
            return;
        }
        tc_sleep_ms(20);
    } while (tc_now_ms() < end);
    fail_msg("%s: node %u names '%s' as leader of %s, not node %u (%s), "
             "after %u ms",
             t->name, bad, got, group, leader, want, timeout_ms);
}

int tc_ops(struct tc *t, unsigned i, const char *group, const char *command,
           const char *value, char **body)
{
    json_t *o = json_object();
    char *text;
    int st;
    if (group != NULL) {
        json_object_set_new(o, "groupId", json_string(group));
    }
    if (command != NULL) {
        json_object_set_new(o, "command", json_string(command));
    }
    if (value != NULL) {
        json_object_set_new(o, "value", json_string(value));
    }
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    st = tc_http_timeout(t, i, "POST", "/nacos/v1/core/ops/raft", CT_JSON, text,
                         30000, body);
    free(text);
    return st;
}

int tc_rest_code(const char *body)
{
    json_t *root = body != NULL ? json_loads(body, 0, NULL) : NULL;
    json_t *code = json_object_get(root, "code");
    int out = json_is_integer(code) ? (int)json_integer_value(code) : -1;
    json_decref(root);
    return out;
}

/* ---------------------------------------------------------------- logs */

unsigned tc_log_count(struct tc *t, unsigned i, const char *needle)
{
    FILE *f = fopen(t->c.nodes[i].log, "r");
    char line[4096];
    unsigned count = 0;
    if (f == NULL) {
        return 0;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        count += strstr(line, needle) != NULL;
    }
    fclose(f);
    return count;
}

bool tc_log_contains(struct tc *t, unsigned i, const char *needle)
{
    return tc_log_count(t, i, needle) > 0;
}

/* ----------------------------------------------------- background writer */

static unsigned next_node(struct tc_writer *w, unsigned from)
{
    unsigned n = w->t->c.n;
    for (unsigned k = 1; k <= n; k++) {
        unsigned i = (from + k) % n;
        if (w->mask & (1u << i)) {
            return i;
        }
    }
    return from;
}

/* The node DistroFilter sends ip:@port to while every node is healthy
 * (Nacos's mapping over the nodes in address order, which is node order).
 * A write for a client a node outside the mask is responsible for would be
 * forwarded there, and would fail while that node is stopped until
 * membership notices: the writer leaves such ports out, so what it
 * measures is the raft path through the nodes in its mask. */
static unsigned responsible_node(struct tc_writer *w, int port)
{
    char tag[128];
    snprintf(tag, sizeof tag, "%s:%d", w->ip, port);
    return lc_distro_index(tag, w->t->c.n);
}

static void *writer_main(void *arg)
{
    struct tc_writer *w = arg;
    unsigned node = 0;
    for (;;) {
        int port;
        bool ok;
        pthread_mutex_lock(&w->mu);
        if (w->stop) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        node = next_node(w, node);
        port = w->next_port++;
        if ((w->mask & (1u << responsible_node(w, port))) == 0) {
            pthread_mutex_unlock(&w->mu);
            continue;
        }
        pthread_mutex_unlock(&w->mu);

        ok = tc_register_ok(w->t, node, w->service, w->ip, port);

        pthread_mutex_lock(&w->mu);
        if (ok) {
            if (w->n_acked == w->cap) {
                size_t cap = w->cap == 0 ? 1024 : 2 * w->cap;
                int *a = realloc(w->acked, cap * sizeof *a);
                uint64_t *at = realloc(w->acked_at, cap * sizeof *at);
                if (a != NULL) {
                    w->acked = a;
                }
                if (at != NULL) {
                    w->acked_at = at;
                }
                if (a != NULL && at != NULL) {
                    w->cap = cap;
                }
            }
            if (w->n_acked < w->cap) {
                w->acked[w->n_acked] = port;
                w->acked_at[w->n_acked] = tc_now_ms();
                w->n_acked++;
            }
        } else {
            w->failures++;
        }
        pthread_mutex_unlock(&w->mu);
        if (!ok) {
            tc_sleep_ms(20);
        }
    }
    return NULL;
}

struct tc_writer *tc_writer_start(struct tc *t, const char *service,
                                  const char *ip, unsigned mask)
{
    struct tc_writer *w;
    if (t->writer != NULL) {
        fail_msg("%s: one writer per test", t->name);
    }
    w = calloc(1, sizeof *w);
    if (w == NULL) {
        fail_msg("%s: out of memory", t->name);
    }
    t->writer = w;
    w->t = t;
    w->service = service;
    w->ip = ip;
    w->mask = mask;
    w->next_port = 1;
    pthread_mutex_init(&w->mu, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        fail_msg("%s: cannot start the writer thread", t->name);
    }
    w->running = true;
    return w;
}

void tc_writer_set_mask(struct tc_writer *w, unsigned mask)
{
    pthread_mutex_lock(&w->mu);
    w->mask = mask;
    pthread_mutex_unlock(&w->mu);
}

size_t tc_writer_acked(struct tc_writer *w)
{
    size_t n;
    pthread_mutex_lock(&w->mu);
    n = w->n_acked;
    pthread_mutex_unlock(&w->mu);
    return n;
}

void tc_writer_wait_more(struct tc_writer *w, size_t n, unsigned timeout_ms,
                         const char *what)
{
    size_t want = tc_writer_acked(w) + n;
    uint64_t end = tc_now_ms() + timeout_ms;
    size_t have;
    do {
        have = tc_writer_acked(w);
        if (have >= want) {
            return;
        }
        tc_sleep_ms(10);
    } while (tc_now_ms() < end);
    fail_msg("%s: %s: only %zu of %zu more writes acknowledged within %u ms "
             "(%u failures)",
             w->t->name, what, have + n - want, n, timeout_ms, w->failures);
}

uint64_t tc_writer_max_gap(struct tc_writer *w, uint64_t since_ms)
{
    uint64_t gap = 0;
    pthread_mutex_lock(&w->mu);
    for (size_t k = 1; k < w->n_acked; k++) {
        uint64_t d = w->acked_at[k] - w->acked_at[k - 1];
        if (w->acked_at[k] >= since_ms && d > gap) {
            gap = d;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return gap;
}

void tc_writer_stop(struct tc_writer *w)
{
    if (!w->running) {
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    w->running = false;
}

/* ---------------------------------------------------------- shared checks */

void tc_expect_body(struct tc *t, unsigned i, const char *method,
                    const char *path, int want, const char *want_body)
{
    char *body = NULL;
    int st = tc_http(t, i, method, path, NULL, NULL, &body);
    if (st != want || body == NULL ||
        (want_body != NULL && strcmp(body, want_body) != 0)) {
        fail_msg("%s: node %u: %s %s: got %d '%s', want %d '%s'", t->name, i,
                 method, path, st, body != NULL ? body : "(null)", want,
                 want_body != NULL ? want_body : "*");
    }
    free(body);
}

int tc_listen_on(int port)
{
    struct sockaddr_in a = {0};
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0) {
        fail_msg("listen on %d: %s", port, strerror(errno));
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

json_t *tc_push_decode(const char *buf, size_t n, json_t **info)
{
    static char z[1 << 20];
    const char *text = buf;
    size_t tlen = n;
    json_t *root;
    if (n >= 2 && (unsigned char)buf[0] == 0x1f &&
        (unsigned char)buf[1] == 0x8b) {
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
        zs.next_in = (Bytef *)buf;
        zs.avail_in = (uInt)n;
        zs.next_out = (Bytef *)z;
        zs.avail_out = sizeof z;
        assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
        tlen = zs.total_out;
        inflateEnd(&zs);
        text = z;
    }
    root = json_loadb(text, tlen, 0, NULL);
    assert_non_null(root);
    *info =
        json_loads(json_string_value(json_object_get(root, "data")), 0, NULL);
    assert_non_null(*info);
    return root;
}
