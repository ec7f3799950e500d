/* Runs the Nacos Java client 2.4.3 scenarios against real locusd:
 * test/compat-java/NacosCompat against a standalone node, then
 * test/compat-java/NacosCluster against a 3-member cluster, then
 * test/compat-java/NacosAuth against a standalone node with auth on (a
 * token secret made here for the run), each node on
 * reserved ports (test/support/tcluster.h). For each: start one JVM, echo
 * its PASS/FAIL lines, do what it asks on its stdout ("@@locusd <command>",
 * answered "@@ok" or "@@fail <why>" on its stdin), and fail unless the JVM
 * exits 0 after a SUMMARY line. Commands: standalone, "restart" (SIGTERM,
 * start again, wait until UP) and "kill9" (the same with SIGKILL); cluster,
 * "kill9 N" (SIGKILL member N, left down) and "start N" (start it, wait
 * until UP). Everything is bounded: a JVM (and the JVMs it starts itself)
 * is killed after JAVA_TIMEOUT_S seconds (default 170 standalone, 150
 * cluster).
 *
 * `make test-java` builds and runs it; the environment says where things
 * are:
 *   JAVA_CP     the classpath: the compiled classes, the client jar and the
 *               Debian jars (../shared/nacos-java/classpath.sh)
 *   JAVA_WORK   a directory for the JVMs' user.home, JM.LOG.PATH,
 *               JM.SNAPSHOT.PATH and client logs (created; the cluster
 *               run's in JAVA_WORK/cluster)
 *   JAVA        the java binary (default: java on PATH)
 *   JAVA_TIMEOUT_S, JAVA_COMPAT_FILTER (NacosCompat.java, NacosCluster.java,
 *   NacosAuth.java), LOCUS_TEST_KEEP, TC_FILTER (test_java_standalone,
 *   test_java_cluster, test_java_auth) as for the cluster tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "test/support/tcluster.h"

#define DEFAULT_TIMEOUT_S 170
#define CLUSTER_TIMEOUT_S 150

/* The cluster: nacos.naming.client.expired.time short, so a dead member's
 * clients expire within the run (NacosCluster is told it); verify every
 * second (renews the synced copies); no automatic connection balancing, as
 * the scenarios pin each client to the member they name. */
#define CLUSTER_EXPIRED_MS 8000
#define CLUSTER_PROPS                                                          \
    "nacos.naming.client.expired.time=8000\n"                                \
    "nacos.core.protocol.distro.data.verify.intervalMs=1000\n"               \
    "locus.loader.balance.enabled=false\n"
#define TAIL_LINES 40
#define MAX_FAILS 32

/* The JVM, so the teardown can kill it (and the JVM it started: same
 * process group) whatever happened. */
static pid_t jvm_pid;

struct run {
    struct tc *t;
    bool cluster; /* NacosCluster: commands name a member */
    int out_fd; /* the JVM's stdout (read) */
    int in_fd;  /* its stdin (write) */
    char buf[65536];
    size_t len;
    unsigned passed;
    unsigned failed;
    bool summary;
    char fails[MAX_FAILS][512]; /* the FAIL lines, for the message */
    char problem[512];          /* a runner-side problem (restart) */
};

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : dflt;
}

static void mkdirs(const char *path)
{
    char p[1024];
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s != '\0'; s++) {
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0755);
            *s = '/';
        }
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST) {
        fail_msg("cannot create %s: %s", p, strerror(errno));
    }
}

/* Print the last @n lines of @path, each prefixed, or nothing. */
static void print_tail(const char *title, const char *path, unsigned n)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    char(*ring)[1024];
    unsigned count = 0;
    if (f == NULL) {
        return;
    }
    ring = calloc(n, sizeof *ring);
    if (ring == NULL) {
        fclose(f);
        return;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        snprintf(ring[count % n], sizeof ring[0], "%s", line);
        count++;
    }
    fclose(f);
    printf("---- %s (%s), last %u lines\n", title, path, n);
    for (unsigned i = count > n ? count - n : 0; i < count; i++) {
        const char *l = ring[i % n];
        printf("    | %s%s", l, l[strlen(l) - 1] == '\n' ? "" : "\n");
    }
    free(ring);
}

/* Start the JVM running @args (the main class and its arguments, NULL
 * ended): its own process group, killed with this process, stdin and
 * stdout on pipes, stderr to @dir/stderr.log. The client reports 127.0.0.1
 * as its own address (com.alibaba.nacos.client.local.ip) rather than the
 * machine's first non-loopback one. */
static void start_jvm(struct run *r, const char *dir, const char *const *args)
{
    const char *java = env_or("JAVA", "java");
    const char *cp = getenv("JAVA_CP");
    char home[1100], logs[1100], snap[1100], logfile[1100];
    char errlog[1100], work[1100];
    const char *argv[32];
    unsigned n = 0;
    int out[2], in[2];
    pid_t pid;

    if (cp == NULL || cp[0] == '\0') {
        fail_msg("JAVA_CP is not set (run through make test-java)");
    }
    snprintf(home, sizeof home, "-Duser.home=%s/home", dir);
    snprintf(logs, sizeof logs, "-DJM.LOG.PATH=%s/logs", dir);
    snprintf(snap, sizeof snap, "-DJM.SNAPSHOT.PATH=%s/snapshot", dir);
    snprintf(logfile, sizeof logfile,
             "-Dorg.slf4j.simpleLogger.logFile=%s/client.log", dir);
    snprintf(errlog, sizeof errlog, "%s/stderr.log", dir);
    snprintf(work, sizeof work, "%s/home", dir);
    mkdirs(work);
    argv[n++] = java;
    argv[n++] = "-cp";
    argv[n++] = cp;
    argv[n++] = home;
    argv[n++] = logs;
    argv[n++] = snap;
    argv[n++] = logfile;
    argv[n++] = "-Dcom.alibaba.nacos.client.local.ip=127.0.0.1";
    argv[n++] = "-Dorg.slf4j.simpleLogger.showDateTime=true";
    argv[n++] = "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS";
    for (unsigned i = 0; args[i] != NULL && n < 31; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(in, O_CLOEXEC) != 0) {
        fail_msg("pipe: %s", strerror(errno));
    }
    fflush(stdout);
    pid = fork();
    if (pid < 0) {
        fail_msg("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        int fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(in[0], 0);
        dup2(out[1], 1);
        if (fd >= 0) {
            dup2(fd, 2);
        }
        execvp(java, (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", java, strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid); /* also here: no race with the kill below */
    jvm_pid = pid;
    close(out[1]);
    close(in[0]);
    r->out_fd = out[0];
    r->in_fd = in[1];
}

static void reply(struct run *r, const char *line)
{
    size_t n = strlen(line);
    if (write(r->in_fd, line, n) != (ssize_t)n) {
        snprintf(r->problem, sizeof r->problem, "cannot answer the JVM: %s",
                 strerror(errno));
    }
}

/* "@@locusd restart": SIGTERM (it must exit 0), start, wait until UP.
 * "@@locusd kill9": the same with SIGKILL. */
static void restart_node(struct run *r, int sig)
{
    struct lc_cluster *c = &r->t->c;
    char msg[600];
    int st;

    printf("runner: restarting locusd (%s, start, wait for UP)\n",
           sig == SIGKILL ? "SIGKILL" : "SIGTERM");
    fflush(stdout);
    if (lc_cluster_signal(c, 0, sig) != 0) {
        snprintf(msg, sizeof msg, "@@fail signal %d: locusd not running\n",
                 sig);
        goto answer;
    }
    st = c->nodes[0].exit_status;
    if (sig == SIGTERM && (!WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
        snprintf(r->problem, sizeof r->problem,
                 "locusd did not exit 0 on SIGTERM (wait status %#x)", st);
    }
    if (lc_cluster_start_node(c, 0) != 0) {
        snprintf(msg, sizeof msg, "@@fail cannot start locusd again\n");
        goto answer;
    }
    if (lc_cluster_wait_ready(c, 0, TC_WAIT_MS) != 0) {
        snprintf(msg, sizeof msg, "@@fail locusd not UP within %d ms\n",
                 TC_WAIT_MS);
        goto answer;
    }
    snprintf(msg, sizeof msg, "@@ok\n");
answer:
    if (strncmp(msg, "@@fail", 6) == 0 && r->problem[0] == '\0') {
        snprintf(r->problem, sizeof r->problem, "restart: %.400s", msg + 7);
    }
    reply(r, msg);
}

/* Cluster mode: "kill9 N" (SIGKILL member N, left down), "start N" (start
 * it, wait until UP). */
static void member_command(struct run *r, const char *cmd)
{
    struct lc_cluster *c = &r->t->c;
    char msg[600];
    unsigned i;
    char what[16];

    if (sscanf(cmd, "%15s %u", what, &i) != 2 || i >= c->n) {
        snprintf(msg, sizeof msg, "@@fail unknown command\n");
    } else if (strcmp(what, "kill9") == 0) {
        printf("runner: kill -9 member %u (127.0.0.1:%d)\n", i,
               c->nodes[i].port);
        fflush(stdout);
        snprintf(msg, sizeof msg,
                 lc_cluster_signal(c, i, SIGKILL) == 0
                     ? "@@ok\n"
                     : "@@fail member not running\n");
    } else if (strcmp(what, "start") == 0) {
        printf("runner: starting member %u, waiting for UP\n", i);
        fflush(stdout);
        if (lc_cluster_start_node(c, i) != 0) {
            snprintf(msg, sizeof msg, "@@fail cannot start member %u\n", i);
        } else if (lc_cluster_wait_ready(c, i, TC_WAIT_MS) != 0) {
            snprintf(msg, sizeof msg, "@@fail member %u not UP within %d ms\n",
                     i, TC_WAIT_MS);
        } else {
            snprintf(msg, sizeof msg, "@@ok\n");
        }
    } else {
        snprintf(msg, sizeof msg, "@@fail unknown command\n");
    }
    if (strncmp(msg, "@@fail", 6) == 0 && r->problem[0] == '\0') {
        snprintf(r->problem, sizeof r->problem, "%s: %.400s", cmd, msg + 7);
    }
    reply(r, msg);
}

static void on_line(struct run *r, const char *line)
{
    if (strncmp(line, "@@locusd ", 9) == 0) {
        if (r->cluster) {
            member_command(r, line + 9);
        } else if (strcmp(line + 9, "restart") == 0) {
            restart_node(r, SIGTERM);
        } else if (strcmp(line + 9, "kill9") == 0) {
            restart_node(r, SIGKILL);
        } else {
            reply(r, "@@fail unknown command\n");
        }
        return;
    }
    printf("%s\n", line);
    fflush(stdout);
    if (strncmp(line, "PASS ", 5) == 0) {
        r->passed++;
    } else if (strncmp(line, "FAIL ", 5) == 0) {
        if (r->failed < MAX_FAILS) {
            snprintf(r->fails[r->failed], sizeof r->fails[0], "%s", line);
        }
        r->failed++;
    } else if (strncmp(line, "SUMMARY ", 8) == 0) {
        r->summary = true;
    }
}

/* Read the JVM's output until EOF or @deadline; false on timeout. */
static bool pump(struct run *r, uint64_t deadline)
{
    for (;;) {
        struct pollfd p = {.fd = r->out_fd, .events = POLLIN};
        uint64_t now = tc_now_ms();
        ssize_t n;
        char *nl;
        if (now >= deadline) {
            return false;
        }
        if (poll(&p, 1, (int)(deadline - now)) <= 0) {
            continue;
        }
        n = read(r->out_fd, r->buf + r->len, sizeof r->buf - 1 - r->len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (r->len > 0) {
                r->buf[r->len] = '\0';
                on_line(r, r->buf);
            }
            return true;
        }
        r->len += (size_t)n;
        r->buf[r->len] = '\0';
        while ((nl = strchr(r->buf, '\n')) != NULL) {
            *nl = '\0';
            on_line(r, r->buf);
            r->len -= (size_t)(nl + 1 - r->buf);
            memmove(r->buf, nl + 1, r->len + 1);
        }
        if (r->len == sizeof r->buf - 1) { /* a line too long: flush it */
            on_line(r, r->buf);
            r->len = 0;
        }
    }
}

static void kill_jvm(void)
{
    if (jvm_pid > 0) {
        kill(-jvm_pid, SIGKILL);
        kill(jvm_pid, SIGKILL);
        waitpid(jvm_pid, NULL, 0);
        jvm_pid = 0;
    }
}

/* Run one JVM (@args) to its end, bounded; its files in @dir; fail the
 * test unless it passed everything. */
static void run_jvm(struct run *r, const char *dir, const char *work,
                    const char *const *args, int dflt_timeout_s)
{
    int timeout_s = atoi(env_or("JAVA_TIMEOUT_S", "0"));
    char path[1200];
    bool done;
    int st = -1;

    if (timeout_s <= 0) {
        timeout_s = dflt_timeout_s;
    }
    start_jvm(r, dir, args);
    done = pump(r, tc_now_ms() + (uint64_t)timeout_s * 1000);
    if (done) {
        for (int i = 0; i < 100; i++) { /* it exits right after SUMMARY */
            if (waitpid(jvm_pid, &st, WNOHANG) == jvm_pid) {
                jvm_pid = 0;
                break;
            }
            tc_sleep_ms(100);
        }
    }
    kill_jvm();
    close(r->out_fd);
    close(r->in_fd);

    if (!done || r->failed > 0 || !r->summary || st != 0 ||
        r->problem[0] != '\0') {
        snprintf(path, sizeof path, "%s/stderr.log", dir);
        print_tail("JVM stderr", path, TAIL_LINES);
        snprintf(path, sizeof path, "%s/client.log", dir);
        print_tail("Nacos client log", path, TAIL_LINES);
        snprintf(path, sizeof path, "%.500s/jvm-child/client.log", work);
        print_tail("Nacos client log of the killed JVM", path, 15);
        printf("runner: %u passed, %u failed%s%s%s\n", r->passed, r->failed,
               done ? "" : ", timed out", r->problem[0] != '\0' ? ", " : "",
               r->problem);
        for (unsigned i = 0; i < r->failed && i < MAX_FAILS; i++) {
            printf("  %s\n", r->fails[i]);
        }
        fflush(stdout);
        if (!done) {
            fail_msg("the JVM did not finish within %d s (killed)", timeout_s);
        }
        fail_msg("the Java client run failed (JVM wait status %#x)", st);
    }
    printf("runner: all %u scenarios passed\n", r->passed);
}

static void test_java_standalone(void **state)
{
    struct tc *t = *state;
    static struct run run;
    const char *work = env_or("JAVA_WORK", "build/test/compat-java/work");
    char dir[600], server[64];
    const char *args[] = {"NacosCompat", server, work, NULL};

    run.t = t;
    mkdirs(work);
    snprintf(dir, sizeof dir, "%.500s/jvm-main", work);
    tc_up(t, "java", 1, NULL);
    snprintf(server, sizeof server, "127.0.0.1:%d", t->c.nodes[0].port);
    printf("runner: locusd %s on 127.0.0.1:%d (gRPC %d), JVM logs in %s\n",
           tc_locusd(), t->c.nodes[0].port, t->c.nodes[0].port + 1000, work);
    run_jvm(&run, dir, work, args, DEFAULT_TIMEOUT_S);
    tc_pass(t);
}

static void test_java_cluster(void **state)
{
    struct tc *t = *state;
    static struct run run;
    char work[600], dir[700], addr[3][64], expired[32];
    const char *args[] = {"NacosCluster", addr[0], addr[1], addr[2],
                          expired,        work,    NULL};

    run.t = t;
    run.cluster = true;
    snprintf(work, sizeof work, "%.500s/cluster",
             env_or("JAVA_WORK", "build/test/compat-java/work"));
    mkdirs(work);
    snprintf(dir, sizeof dir, "%s/jvm-main", work);
    tc_up(t, "java-cluster", 3, CLUSTER_PROPS);
    for (unsigned i = 0; i < 3; i++) {
        snprintf(addr[i], sizeof addr[i], "127.0.0.1:%d", t->c.nodes[i].port);
    }
    snprintf(expired, sizeof expired, "%d", CLUSTER_EXPIRED_MS);
    printf("runner: 3 locusd %s on 127.0.0.1:%d,%d,%d, JVM logs in %s\n",
           tc_locusd(), t->c.nodes[0].port, t->c.nodes[1].port,
           t->c.nodes[2].port, work);
    run_jvm(&run, dir, work, args, CLUSTER_TIMEOUT_S);
    tc_pass(t);
}

/* Auth on (issue 12): nacos.core.auth.enabled and a token secret of 32
 * random bytes (base64) made for this run; the JVM initialises the admin
 * and the users itself, through the endpoints. */
static void test_java_auth(void **state)
{
    struct tc *t = *state;
    static struct run run;
    unsigned char key[32];
    char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    char props[512], work[600], dir[700], server[64];
    const char *args[] = {"NacosAuth", server, work, NULL};

    assert_true(sodium_init() >= 0);
    randombytes_buf(key, sizeof key);
    sodium_bin2base64(b64, sizeof b64, key, sizeof key,
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(props, sizeof props,
             "nacos.core.auth.enabled=true\n"
             "nacos.core.auth.plugin.nacos.token.secret.key=%s\n",
             b64);
    run.t = t;
    snprintf(work, sizeof work, "%.500s/auth",
             env_or("JAVA_WORK", "build/test/compat-java/work"));
    mkdirs(work);
    snprintf(dir, sizeof dir, "%s/jvm-main", work);
    tc_up(t, "java-auth", 1, props);
    snprintf(server, sizeof server, "127.0.0.1:%d", t->c.nodes[0].port);
    printf("runner: locusd %s with auth on, 127.0.0.1:%d (gRPC %d), JVM logs "
           "in %s\n",
           tc_locusd(), t->c.nodes[0].port, t->c.nodes[0].port + 1000, work);
    run_jvm(&run, dir, work, args, DEFAULT_TIMEOUT_S);
    tc_pass(t);
}

static int teardown(void **state)
{
    kill_jvm();
    return tc_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_java_standalone, tc_setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_java_cluster, tc_setup, teardown),
        cmocka_unit_test_setup_teardown(test_java_auth, tc_setup, teardown),
    };
    setvbuf(stdout, NULL, _IOLBF, 0);
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
