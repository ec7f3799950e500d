/* Runs test/compat-java/NacosCompat (the real Nacos Java client 2.4.3)
 * against a real standalone locusd: starts the node on reserved ports
 * (test/support/tcluster.h), starts one JVM, echoes its PASS/FAIL lines,
 * restarts the node when the JVM asks ("@@locusd restart" or "@@locusd
 * kill9" on its stdout, answered "@@ok" or "@@fail <why>" on its stdin),
 * and fails unless the JVM exits 0 after a SUMMARY line. Everything is
 * bounded: the JVM (and the JVM it starts itself) is killed after
 * JAVA_TIMEOUT_S seconds (default 170).
 *
 * `make test-java` builds and runs it; the environment says where things
 * are:
 *   JAVA_CP     the classpath: the compiled NacosCompat classes, the client
 *               jar and the Debian jars (../shared/nacos-java/classpath.sh)
 *   JAVA_WORK   a directory for the JVMs' user.home, JM.LOG.PATH,
 *               JM.SNAPSHOT.PATH and client logs (created)
 *   JAVA        the java binary (default: java on PATH)
 *   JAVA_TIMEOUT_S, JAVA_COMPAT_FILTER (NacosCompat.java), LOCUSD, BUILD,
 *   LOCUS_TEST_KEEP as for the cluster tests.
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

#include "test/support/tcluster.h"

#define DEFAULT_TIMEOUT_S 170
#define TAIL_LINES 40
#define MAX_FAILS 32

/* The JVM, so the teardown can kill it (and the JVM it started: same
 * process group) whatever happened. */
static pid_t jvm_pid;

struct run {
    struct tc *t;
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

/* Start the JVM: its own process group, killed with this process, stdin and
 * stdout on pipes, stderr to @dir/stderr.log. The client reports 127.0.0.1
 * as its own address (com.alibaba.nacos.client.local.ip) rather than the
 * machine's first non-loopback one. */
static void start_jvm(struct run *r, const char *dir)
{
    const char *java = env_or("JAVA", "java");
    const char *cp = getenv("JAVA_CP");
    char server[64], home[1100], logs[1100], snap[1100], logfile[1100];
    char errlog[1100], work[1100];
    int out[2], in[2];
    pid_t pid;

    if (cp == NULL || cp[0] == '\0') {
        fail_msg("JAVA_CP is not set (run through make test-java)");
    }
    snprintf(server, sizeof server, "127.0.0.1:%d", r->t->c.nodes[0].port);
    snprintf(home, sizeof home, "-Duser.home=%s/home", dir);
    snprintf(logs, sizeof logs, "-DJM.LOG.PATH=%s/logs", dir);
    snprintf(snap, sizeof snap, "-DJM.SNAPSHOT.PATH=%s/snapshot", dir);
    snprintf(logfile, sizeof logfile,
             "-Dorg.slf4j.simpleLogger.logFile=%s/client.log", dir);
    snprintf(errlog, sizeof errlog, "%s/stderr.log", dir);
    snprintf(work, sizeof work, "%s/home", dir);
    mkdirs(work);
    snprintf(work, sizeof work, "%s", env_or("JAVA_WORK", "."));
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
        execlp(java, java, "-cp", cp, home, logs, snap, logfile,
               "-Dcom.alibaba.nacos.client.local.ip=127.0.0.1",
               "-Dorg.slf4j.simpleLogger.showDateTime=true",
               "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
               "NacosCompat", server, work, (char *)NULL);
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

static void on_line(struct run *r, const char *line)
{
    if (strncmp(line, "@@locusd ", 9) == 0) {
        if (strcmp(line + 9, "restart") == 0) {
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

static void test_java_client(void **state)
{
    struct tc *t = *state;
    static struct run run;
    struct run *r = &run;
    const char *work = env_or("JAVA_WORK", "build/test/compat-java/work");
    int timeout_s = atoi(env_or("JAVA_TIMEOUT_S", "0"));
    char dir[600], path[700];
    bool done;
    int st = -1;

    if (timeout_s <= 0) {
        timeout_s = DEFAULT_TIMEOUT_S;
    }
    r->t = t;
    mkdirs(work);
    snprintf(dir, sizeof dir, "%.500s/jvm-main", work);
    tc_up(t, "java", 1, NULL);
    printf("runner: locusd %s on 127.0.0.1:%d (gRPC %d), JVM logs in %s\n",
           tc_locusd(), t->c.nodes[0].port, t->c.nodes[0].port + 1000, work);
    start_jvm(r, dir);
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
        cmocka_unit_test_setup_teardown(test_java_client, tc_setup, teardown),
    };
    setvbuf(stdout, NULL, _IOLBF, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
