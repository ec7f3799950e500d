/* Tests of test/support/ports.c, the loopback port allocator every test
 * that starts locusd uses: the sets it hands out are free, held, disjoint,
 * and given back on release. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test/support/ports.h"

#define SETS 40

static const int offsets[] = {0, -1000, 1000, 1001};

/* Each port of a set is free for TCP (locusd can listen) and held for UDP
 * (no other allocator takes it). */
static void expect_held(int p, int n)
{
    for (int k = 0; k < n; k++) {
        assert_true(tc_port_free(p + offsets[k], false));
        assert_false(tc_port_free(p + offsets[k], true));
    }
}

static void test_reserve(void **state)
{
    int p;
    (void)state;
    p = tc_port_reserve();
    assert_in_range(p, TC_PORT_MIN, TC_PORT_MAX);
    expect_held(p, 4);
    tc_port_release(p);
    for (int k = 0; k < 4; k++) {
        assert_true(tc_port_free(p + offsets[k], true));
    }
    tc_port_release(p); /* twice, or unknown: ignored */
    tc_port_release(-1);
}

static void test_disjoint(void **state)
{
    int got[SETS];
    (void)state;
    for (int i = 0; i < SETS; i++) {
        got[i] = i % 4 == 3 ? tc_port_reserve_one() : tc_port_reserve();
        assert_in_range(got[i], TC_PORT_MIN, TC_PORT_MAX);
        expect_held(got[i], i % 4 == 3 ? 1 : 4);
    }
    for (int i = 0; i < SETS; i++) {
        for (int j = 0; j < i; j++) {
            int ni = i % 4 == 3 ? 1 : 4, nj = j % 4 == 3 ? 1 : 4;
            for (int a = 0; a < ni; a++) {
                for (int b = 0; b < nj; b++) {
                    assert_int_not_equal(got[i] + offsets[a],
                                         got[j] + offsets[b]);
                }
            }
        }
    }
    for (int i = 0; i < SETS; i++) {
        tc_port_release(got[i]);
    }
}

/* A port something listens on is not free. */
static void test_listening_is_taken(void **state)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    (void)state;
    assert_true(fd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    assert_false(tc_port_free(ntohs(a.sin_port), false));
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reserve),
        cmocka_unit_test(test_disjoint),
        cmocka_unit_test(test_listening_is_taken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
