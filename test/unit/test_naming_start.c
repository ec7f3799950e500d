/* naming/naming.c's start and stop: lc_naming_new on a real loop and a real
 * (never started) raft engine. When the push engine cannot open its UDP
 * socket (no file descriptor left), lc_naming_new fails, closes the beat
 * and health checkers it had started, registers nothing with the engine,
 * and leaves no handle that outlives its memory: the loop then runs to
 * completion with every handle closed (under ASan, any use after free or
 * leak fails the binary). A normal start registers the four groups, and
 * lc_naming_close + lc_naming_free, then the engine's close, leave the loop
 * empty (uv_loop_close succeeds). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/err.h"
#include "naming/naming.h"
#include "raft/engine.h"

struct env {
    uv_loop_t loop;
    struct lc_raft_engine *engine;
    char dir[64];
};

static int setup(void **state)
{
    struct env *env = calloc(1, sizeof *env);
    static const char *const members[] = {"127.0.0.1:17901"};
    char errmsg[256];
    struct lc_raft_options o = {
        .self = members[0],
        .members = members,
        .n_members = 1,
        .secret = "0123456789abcdef0123456789abcdef",
        .secret_len = 32,
        .bootstrap = true,
        .election_timeout_ms = 1000,
        .heartbeat_ms = 100,
        .snapshot_threshold = 1024,
        .snapshot_trailing = 128,
        .rpc_timeout_ms = 1000,
    };
    assert_non_null(env);
    snprintf(env->dir, sizeof env->dir, "/tmp/lc-naming-start-XXXXXX");
    assert_non_null(mkdtemp(env->dir));
    o.data_dir = env->dir;
    assert_int_equal(uv_loop_init(&env->loop), 0);
    assert_int_equal(lc_raft_engine_new(&env->loop, &o, &env->engine, errmsg,
                                        sizeof errmsg),
                     0);
    *state = env;
    return 0;
}

static void on_engine_closed(void *data)
{
    *(bool *)data = true;
}

static void walk_count(uv_handle_t *h, void *data)
{
    (void)h;
    (*(int *)data)++;
}

static int handles(uv_loop_t *loop)
{
    int n = 0;
    uv_walk(loop, walk_count, &n);
    return n;
}

static int teardown(void **state)
{
    struct env *env = *state;
    bool closed = false;
    lc_raft_engine_close(env->engine, on_engine_closed, &closed);
    while (!closed) {
        uv_run(&env->loop, UV_RUN_ONCE);
    }
    uv_run(&env->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&env->loop), 0);
    lc_raft_free_closed();
    rmdir(env->dir);
    free(env);
    return 0;
}

/* No descriptor left: the push engine's UDP socket cannot be opened. */
static void test_push_failure_unwinds(void **state)
{
    struct env *env = *state;
    struct lc_naming *n = NULL;
    struct rlimit old, lim;
    int fd;
    int rv;
    int before = handles(&env->loop); /* the engine's own */

    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    /* The lowest free descriptor is the next one handed out; allow none. */
    fd = dup(0);
    assert_true(fd >= 0);
    close(fd);
    lim = old;
    lim.rlim_cur = (rlim_t)fd;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
    rv = lc_naming_new(&env->loop, env->engine, &n);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);

    assert_int_not_equal(rv, 0);
    assert_null(n);
    /* Nothing was registered with the engine. */
    assert_int_equal(lc_raft_engine_n_groups(env->engine), 0);
    /* What had started is closing, and goes with one turn of the loop. */
    assert_true(handles(&env->loop) > before);
    uv_run(&env->loop, UV_RUN_NOWAIT);
    assert_int_equal(handles(&env->loop), before);
}

static void on_naming_closed(void *data)
{
    *(bool *)data = true;
}

static void test_start_and_close(void **state)
{
    struct env *env = *state;
    struct lc_naming *n = NULL;
    bool closed = false;
    int before = handles(&env->loop); /* the engine's own */

    assert_int_equal(lc_naming_new(&env->loop, env->engine, &n), 0);
    assert_non_null(n);
    assert_int_equal(lc_raft_engine_n_groups(env->engine), 4);
    assert_non_null(lc_raft_engine_group(env->engine,
                                         "naming_persistent_service_v2"));
    assert_non_null(lc_raft_engine_group(env->engine,
                                         "naming_persistent_service"));
    assert_true(handles(&env->loop) > before);
    lc_naming_close(n, on_naming_closed, &closed);
    while (!closed) {
        uv_run(&env->loop, UV_RUN_ONCE);
    }
    lc_naming_free(n);
    /* The engine's handles are left (it made some for the four groups):
     * teardown closes it and checks the loop is empty. */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_push_failure_unwinds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_start_and_close, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
