/* SIGTERM while the leader has many raft appends in flight: the node must
 * exit 0 with its data intact. A node holding tens of thousands of
 * persistent instances at refused loopback addresses writes a HEALTH entry
 * for each as its checks fail, so appends queue up on the disk; canonical/
 * raft 0.15 then truncated its log once per canceled append at close, past
 * the end from the second on, and the node died of a double free (see
 * raft/observe.c, on_append_done). The crash needed the right moment, so
 * the test tries a few times; a run with the defect fails most of the
 * time, a fixed one never. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test/support/tcluster.h"

#define ROUNDS 3

/* build/locusctl, next to the locusd under test. */
static const char *locusctl(void)
{
    static char path[PATH_MAX];
    const char *d = tc_locusd();
    const char *slash = strrchr(d, '/');
    snprintf(path, sizeof path, "%.*slocusctl",
             slash != NULL ? (int)(slash - d + 1) : 0, d);
    return path;
}

/* `locusctl bench register --persistent` against node 0 for @seconds:
 * 64 connections, a new instance at a refused loopback address per
 * request. */
static void load(struct tc *t, unsigned seconds)
{
    char server[64];
    char secs[16];
    pid_t pid;
    int status;
    snprintf(server, sizeof server, "127.0.0.1:%d", t->c.nodes[0].port);
    snprintf(secs, sizeof secs, "%u", seconds);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        execl(locusctl(), "locusctl", "bench", "register", "--persistent",
              "--server", server, "--runs", "1", "--seconds", secs,
              (char *)NULL);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_sigterm_with_appends_in_flight(void **state)
{
    struct tc *t = *state;
    tc_up(t, "sigterm-appends", 1, NULL);
    for (unsigned r = 0; r < ROUNDS; r++) {
        long long before;
        load(t, 5);
        before = tc_group_int(t, 0, TC_PS, "appliedIndex");
        /* The health checks are failing and writing now. */
        tc_sleep_ms(300);
        assert_true(tc_group_int(t, 0, TC_PS, "appliedIndex") > before);
        tc_signal(t, 0, SIGTERM); /* fails unless it exited 0 */
        tc_start(t, 0);
        tc_wait_ready(t, 0);
    }
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sigterm_with_appends_in_flight,
                                        tc_setup, tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
