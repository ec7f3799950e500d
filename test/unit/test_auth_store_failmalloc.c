/* auth/store.c under allocation failure: every allocation of applying an
 * entry, and of loading a snapshot (SQLite's included), failed in turn.
 * A refused entry or load leaves the state exactly as it was (rows, order,
 * epoch) and no memory behind; one that succeeds despite a failure (a log
 * line that could not be formatted) has the full effect. Its own binary
 * because it replaces malloc, calloc and realloc for the whole process
 * (skipped under ASan, whose allocator cannot be wrapped this way). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <malloc.h>
#include <unistd.h>
#include <raft.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/store.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "statemachine/statemachine.h"
#include "test/support/fixture_sm.h"

#if defined(__SANITIZE_ADDRESS__)
#define NO_WRAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_WRAP 1
#endif
#endif

/* ------------------------------------------------------------ failing heap */

static long counter; /* allocations attempted since arm() */
static long fail_at; /* fail attempt number fail_at */
static bool armed;
static bool injected;

static __attribute__((unused)) bool should_fail(void)
{
    if (!armed) {
        return false;
    }
    if (++counter == fail_at) {
        injected = true;
        return true;
    }
    return false;
}

static void arm(long n)
{
    counter = 0;
    fail_at = n;
    injected = false;
    armed = true;
}

static void disarm(void)
{
    armed = false;
}

#ifndef NO_WRAP
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);

void *malloc(size_t n)
{
    return should_fail() ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    return should_fail() ? NULL : __libc_realloc(p, n);
}
#endif

/* Bytes in use (main() turns glibc's per-thread cache off, which would
 * count freed chunks as in use). */
static size_t heap_in_use(void)
{
    return mallinfo2().uordblks;
}

/* ----------------------------------------------------------------- store */

#define HASH_A "$2a$10$EuWPZHzz32dJN7jexM34MOeYirDdFAZm2kuWj7VEOJhhZkDrxfvUu"

static uint64_t next_index = 1;

/* Apply @op with the JSON @data; the result's status. The entry is
 * encoded before arming, so only the apply itself meets failures. */
static int apply_armed(struct lc_auth_store *s, const char *op,
                       const char *data, long fail)
{
    struct lc_raft_sm *sm = lc_statemachine_sm(lc_auth_store_sm(s));
    struct lc_raft_result result;
    void *buf;
    size_t len;
    memset(&result, 0, sizeof result);
    assert_int_equal(lc_sm_encode_write(LC_AUTH_GROUP, "", op, "", data,
                                        strlen(data), &buf, &len),
                     0);
    if (fail > 0) {
        arm(fail);
    }
    sm->apply(sm, next_index++, buf, len, &result);
    disarm();
    raft_free(buf);
    return result.status;
}

static bool dump_user(void *data, const char *u, const char *h)
{
    lc_buf_add(data, "U ", 2);
    lc_buf_add(data, u, strlen(u));
    lc_buf_add(data, " ", 1);
    lc_buf_add(data, h, strlen(h));
    lc_buf_add(data, "\n", 1);
    return true;
}

static bool dump_role(void *data, const char *r, const char *u)
{
    lc_buf_add(data, "R ", 2);
    lc_buf_add(data, r, strlen(r));
    lc_buf_add(data, " ", 1);
    lc_buf_add(data, u, strlen(u));
    lc_buf_add(data, "\n", 1);
    return true;
}

static bool dump_perm(void *data, const char *r, const char *res,
                      const char *a)
{
    lc_buf_add(data, "P ", 2);
    lc_buf_add(data, r, strlen(r));
    lc_buf_add(data, " ", 1);
    lc_buf_add(data, res, strlen(res));
    lc_buf_add(data, " ", 1);
    lc_buf_add(data, a, strlen(a));
    lc_buf_add(data, "\n", 1);
    return true;
}

/* The rows (in order) and what the checks read, as text (malloc'd). */
static char *dump(const struct lc_auth_store *s)
{
    struct lc_buf b = {0};
    char line[128];
    lc_auth_store_users(s, dump_user, &b);
    lc_auth_store_roles(s, dump_role, &b);
    lc_auth_store_permissions(s, dump_perm, &b);
    snprintf(line, sizeof line, "admin %d alice-r %d alice-w %d\n",
             lc_auth_store_has_admin(s),
             lc_auth_store_granted(s, "alice", "dev:G:naming/s", 'r'),
             lc_auth_store_granted(s, "alice", "dev:G:naming/s", 'w'));
    lc_buf_add(&b, line, strlen(line));
    lc_buf_add(&b, "", 1);
    assert_false(b.oom);
    return b.p;
}

static const struct {
    const char *op;
    const char *data;
} entries[] = {
    {LC_AUTH_OP_ADMIN_INIT, "{\"password\":\"" HASH_A "\"}"},
    {LC_AUTH_OP_USER_CREATE,
     "{\"username\":\"alice\",\"password\":\"" HASH_A "\"}"},
    {LC_AUTH_OP_USER_CREATE,
     "{\"username\":\"bob\",\"password\":\"" HASH_A "\"}"},
    {LC_AUTH_OP_ROLE_ADD, "{\"role\":\"dev\",\"username\":\"alice\"}"},
    {LC_AUTH_OP_ROLE_ADD, "{\"role\":\"dev\",\"username\":\"bob\"}"},
    {LC_AUTH_OP_ROLE_ADD, "{\"role\":\"ops\",\"username\":\"alice\"}"},
    {LC_AUTH_OP_PERMISSION_ADD,
     "{\"role\":\"dev\",\"resource\":\"dev:*:*\",\"action\":\"rw\"}"},
    {LC_AUTH_OP_PERMISSION_ADD,
     "{\"role\":\"ops\",\"resource\":\"*\",\"action\":\"r\"}"},
    {LC_AUTH_OP_USER_PASSWORD,
     "{\"username\":\"bob\",\"password\":\"$2b$10$xyz\"}"},
    /* Refused ones too: a refusal must not leak either. */
    {LC_AUTH_OP_ROLE_ADD, "{\"role\":\"dev\",\"username\":\"alice\"}"},
    {LC_AUTH_OP_USER_CREATE,
     "{\"username\":\"alice\",\"password\":\"" HASH_A "\"}"},
    {LC_AUTH_OP_PERMISSION_DELETE,
     "{\"role\":\"dev\",\"resource\":\"dev:*:*\",\"action\":\"rw\"}"},
    {LC_AUTH_OP_ROLE_DELETE, "{\"role\":\"dev\",\"username\":\"\"}"},
    {LC_AUTH_OP_USER_DELETE, "{\"username\":\"alice\"}"},
};
#define N_ENTRIES (sizeof entries / sizeof *entries)

static void test_apply(void **state)
{
    struct lc_auth_store *ref;
    struct lc_auth_store *s;
    unsigned long failures = 0;
    (void)state;
#ifdef NO_WRAP
    skip();
#endif
    lc_log_set_level(LC_LOG_WARN);
    assert_int_equal(lc_auth_store_new_detached(&ref), 0);
    assert_int_equal(lc_auth_store_new_detached(&s), 0);
    /* Warm up what allocates once for good (log and loop-monitor state,
     * the time zone), so the heap check below sees only the apply. */
    {
        struct lc_auth_store *scratch;
        assert_int_equal(lc_auth_store_new_detached(&scratch), 0);
        for (long n = 0; n < 8; n++) {
            apply_armed(scratch, entries[0].op, entries[0].data, n);
        }
        lc_auth_store_free(scratch);
    }
    for (size_t k = 0; k < N_ENTRIES; k++) {
        char *before = dump(s);
        uint64_t epoch = lc_auth_store_epoch(s);
        int want = apply_armed(ref, entries[k].op, entries[k].data, 0);
        char *after = dump(ref);
        for (long n = 1;; n++) {
            size_t heap;
            int st = apply_armed(s, entries[k].op, entries[k].data, n);
            char *now = dump(s);
            if (!injected) {
                assert_int_equal(st, want);
                assert_string_equal(now, after);
                free(now);
                break;
            }
            failures++;
            if (st == want) {
                assert_string_equal(now, after); /* a tolerated failure */
                free(now);
                break;
            }
            if (strcmp(now, before) != 0 || lc_auth_store_epoch(s) != epoch) {
                fail_msg("entry %zu (%s), allocation %ld failed: status %d "
                         "and the state changed:\n%s\nwas\n%s",
                         k, entries[k].op, n, st, now, before);
            }
            free(now);
            /* Out of memory here, applied elsewhere: said and kept. */
            if (st == LC_ENOMEM) {
                assert_true(lc_auth_store_diverged(s) != 0);
            }
            /* The same failure again must leave the heap as it was (the
             * first time may set up what is kept for good). */
            heap = heap_in_use();
            assert_int_equal(
                apply_armed(s, entries[k].op, entries[k].data, n), st);
            assert_true(injected);
            if (heap_in_use() != heap) {
                fail_msg("entry %zu, allocation %ld failed: %zd bytes left",
                         k, n, (ssize_t)(heap_in_use() - heap));
            }
        }
        free(before);
        free(after);
    }
    print_message("%lu allocation failures injected\n", failures);
    assert_true(failures > N_ENTRIES);
    /* A diverged member takes no snapshot (a restart replays from the last
     * good one); loading the leader's clears it. */
    {
        struct lc_fixture_sm fa;
        void *img;
        size_t len;
        struct lc_raft_snapshot_info info;
        char errmsg[256];
        struct lc_raft_sm *sm;
        assert_int_equal(lc_auth_store_diverged(ref), 0);
        assert_true(lc_auth_store_diverged(s) != 0);
        lc_fixture_sm_init(&fa, lc_statemachine_sm(lc_auth_store_sm(s)));
        assert_int_not_equal(lc_fixture_sm_image(&fa, 99, 1, &img, &len), 0);
        lc_fixture_sm_close(&fa);
        lc_fixture_sm_init(&fa, lc_statemachine_sm(lc_auth_store_sm(ref)));
        assert_int_equal(lc_fixture_sm_image(&fa, 99, 1, &img, &len), 0);
        lc_fixture_sm_close(&fa);
        sm = lc_statemachine_sm(lc_auth_store_sm(s));
        memset(&info, 0, sizeof info);
        assert_int_equal(
            sm->restore(sm, img, len, &info, errmsg, sizeof errmsg), 0);
        assert_int_equal(lc_auth_store_diverged(s), 0);
    }
    lc_auth_store_free(ref);
    lc_auth_store_free(s);
}

static void test_load(void **state)
{
    struct lc_auth_store *src;
    struct lc_auth_store *t;
    struct lc_fixture_sm a;
    struct lc_raft_sm *sm;
    char *want;
    char *before;
    void *img;
    size_t len;
    unsigned long failures = 0;
    (void)state;
#ifdef NO_WRAP
    skip();
#endif
    lc_log_set_level(LC_LOG_WARN);
    assert_int_equal(lc_auth_store_new_detached(&src), 0);
    for (size_t k = 0; k < 9; k++) {
        apply_armed(src, entries[k].op, entries[k].data, 0);
    }
    want = dump(src);
    lc_fixture_sm_init(&a, lc_statemachine_sm(lc_auth_store_sm(src)));
    assert_int_equal(lc_fixture_sm_image(&a, 9, 1, &img, &len), 0);
    lc_fixture_sm_close(&a);

    assert_int_equal(lc_auth_store_new_detached(&t), 0);
    apply_armed(t, LC_AUTH_OP_USER_CREATE,
                "{\"username\":\"other\",\"password\":\"" HASH_A "\"}", 0);
    before = dump(t);
    sm = lc_statemachine_sm(lc_auth_store_sm(t));
    for (long n = 1;; n++) {
        struct lc_raft_snapshot_info info;
        char errmsg[256];
        uint64_t epoch = lc_auth_store_epoch(t);
        char *now;
        int rv;
        memset(&info, 0, sizeof info);
        arm(n);
        rv = sm->restore(sm, img, len, &info, errmsg, sizeof errmsg);
        disarm();
        now = dump(t);
        if (rv == 0) {
            assert_string_equal(now, want);
            free(now);
            if (!injected) {
                break;
            }
            failures++;
            /* Tolerated: start again from the other state. */
            lc_auth_store_free(t);
            assert_int_equal(lc_auth_store_new_detached(&t), 0);
            apply_armed(t, LC_AUTH_OP_USER_CREATE,
                        "{\"username\":\"other\",\"password\":\"" HASH_A
                        "\"}",
                        0);
            sm = lc_statemachine_sm(lc_auth_store_sm(t));
            continue;
        }
        assert_true(injected);
        failures++;
        if (strcmp(now, before) != 0 || lc_auth_store_epoch(t) != epoch) {
            fail_msg("load, allocation %ld failed (%s): the state changed:"
                     "\n%s\nwas\n%s",
                     n, errmsg, now, before);
        }
        free(now);
    }
    print_message("%lu allocation failures injected\n", failures);
    assert_true(failures > 10);
    raft_free(img);
    free(want);
    free(before);
    lc_auth_store_free(src);
    lc_auth_store_free(t);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply),
        cmocka_unit_test(test_load),
    };
    (void)argc;
    if (getenv("LC_FAILMALLOC_REEXEC") == NULL) {
        setenv("LC_FAILMALLOC_REEXEC", "1", 1);
        setenv("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0", 1);
        execv("/proc/self/exe", argv);
        /* No re-exec: the heap checks may see cached chunks; go on. */
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
