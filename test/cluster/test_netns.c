/* bench/netns.h on a real 3-node cluster: nodes in their own namespaces
 * reach each other and are reached from here; a cut is silent (a connect
 * times out, nothing refuses it) while uncut paths still answer; an
 * isolated leader is replaced and still answers its clients; a link down
 * hides a node from everyone; healing brings it all back. Prints SKIP and
 * passes when namespaces cannot be made (not root, no ip/nft). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/cluster.h"
#include "bench/netns.h"
#include "test/support/netns_env.h"
#include "test/support/tcluster.h"

#define PREFIX "lctns"
#define NET 211
#define PORT 18848
#define GROUP "naming_persistent_service_v2"

enum probe { REACHED = 0, REFUSED = 1, SILENT = 2, OTHER = 3 };

/* Connect to @addr:@port with a @ms deadline from the calling namespace. */
static enum probe connect_probe(const char *addr, int port, int ms)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct pollfd p;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int err = 0;
    socklen_t len = sizeof err;
    enum probe r = OTHER;
    sa.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, addr, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        close(fd);
        return REACHED;
    }
    if (errno != EINPROGRESS) {
        r = errno == ECONNREFUSED ? REFUSED : OTHER;
        close(fd);
        return r;
    }
    p.fd = fd;
    p.events = POLLOUT;
    if (poll(&p, 1, ms) == 0) {
        close(fd);
        return SILENT;
    }
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    close(fd);
    return err == 0 ? REACHED : err == ECONNREFUSED ? REFUSED : OTHER;
}

/* The same from inside namespace @from (a forked child joins it). */
static enum probe probe_from(struct tn_env *f, unsigned from, unsigned to,
                             int port)
{
    int status;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (lc_netns_enter(f->ns, from) != 0) {
            _exit(OTHER);
        }
        _exit(connect_probe(lc_netns_addr(f->ns, to), port, 1500));
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return (enum probe)WEXITSTATUS(status);
}

static bool write_ok(struct tn_env *f, unsigned i, int port)
{
    char form[200];
    char *body = NULL;
    int st;
    bool ok;
    snprintf(form, sizeof form,
             "serviceName=netns&ip=127.11.0.1&port=%d&ephemeral=false", port);
    st = lc_cluster_http(&f->c, i, "POST", "/nacos/v1/ns/instance",
                         "application/x-www-form-urlencoded", form, &body);
    ok = st == 200 && body != NULL && strcmp(body, "ok") == 0;
    free(body);
    return ok;
}

/* Register port @port through node @a or @b, retried for up to 30 s: the
 * member DistroFilter holds responsible for the service may be the one cut
 * off, until the others mark it down. */
static bool write_eventually(struct tn_env *f, unsigned a, unsigned b,
                             int port)
{
    uint64_t end = tc_now_ms() + 30000;
    do {
        if (write_ok(f, a, port) || write_ok(f, b, port)) {
            return true;
        }
        tc_sleep_ms(200);
    } while (tc_now_ms() < end);
    return false;
}

/* Whether node @i lists 127.11.0.1:@port by a consistent read. */
static bool lists(struct tn_env *f, unsigned i, int port)
{
    char *body = NULL;
    char needle[64];
    bool found;
    int st = lc_cluster_http(
        &f->c, i, "GET",
        "/nacos/v1/ns/instance/list?serviceName=netns&consistent=true", NULL,
        NULL, &body);
    snprintf(needle, sizeof needle, "\"port\":%d", port);
    found = st == 200 && body != NULL && strstr(body, needle) != NULL;
    free(body);
    return found;
}

static void test_cut_isolate_heal(void **state)
{
    struct tn_env *f = *state;
    int leader;
    int next;
    uint64_t end;
    unsigned a;
    unsigned b;

    tn_skip_if_unavailable(f);
    tn_start(f, "netns", PORT);
    leader = lc_cluster_leader(&f->c, GROUP, 0, 20000);
    assert_true(leader >= 0);
    assert_true(write_ok(f, (unsigned)leader, 1));

    /* Between namespaces: the raft port answers, a closed port refuses. */
    assert_int_equal(probe_from(f, 0, 1, PORT - 1000), REACHED);
    assert_int_equal(probe_from(f, 0, 1, 9), REFUSED);

    /* Cut 0 from 1: silent both ways; 0 <-> 2 and the root still fine. */
    assert_int_equal(lc_netns_cut(f->ns, 0, 1), 0);
    assert_int_equal(probe_from(f, 0, 1, 9), SILENT);
    assert_int_equal(probe_from(f, 1, 0, PORT), SILENT);
    assert_int_equal(probe_from(f, 0, 2, 9), REFUSED);
    assert_int_equal(connect_probe(lc_netns_addr(f->ns, 1), PORT, 1500),
                     REACHED);
    assert_int_equal(lc_netns_heal(f->ns), 0);
    assert_int_equal(probe_from(f, 1, 0, 9), REFUSED);

    /* Isolate the leader: the others elect another; clients (here, the
     * root namespace) still reach the old one. */
    assert_int_equal(lc_netns_isolate(f->ns, (unsigned)leader), 0);
    a = ((unsigned)leader + 1) % 3;
    b = ((unsigned)leader + 2) % 3;
    assert_int_equal(probe_from(f, a, (unsigned)leader, PORT), SILENT);
    assert_int_equal(probe_from(f, a, b, 9), REFUSED);
    next = lc_cluster_leader(&f->c, GROUP, 1u << leader, 20000);
    assert_true(next >= 0 && next != leader);
    assert_true(write_eventually(f, a, b, 2));
    assert_int_equal(connect_probe(lc_netns_addr(f->ns, (unsigned)leader),
                                   PORT, 1500),
                     REACHED);

    /* Link down: nobody reaches it, the root namespace included. */
    assert_int_equal(lc_netns_link_down(f->ns, (unsigned)leader), 0);
    assert_int_not_equal(
        connect_probe(lc_netns_addr(f->ns, (unsigned)leader), PORT, 1500),
        REACHED);

    /* Heal: every node reachable again, and the old leader catches up. */
    assert_int_equal(lc_netns_heal(f->ns), 0);
    assert_int_equal(connect_probe(lc_netns_addr(f->ns, (unsigned)leader),
                                   PORT, 3000),
                     REACHED);
    assert_int_equal(probe_from(f, a, (unsigned)leader, 9), REFUSED);
    end = tc_now_ms() + 30000;
    while (!(lists(f, (unsigned)leader, 2) && lists(f, a, 2) &&
             lists(f, b, 2))) {
        assert_true(tc_now_ms() < end);
        tc_sleep_ms(100);
    }
    for (unsigned i = 0; i < 3; i++) {
        assert_true(lists(f, i, 1));
    }
}

static int setup(void **state)
{
    return tn_setup(state, PREFIX, NET);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cut_isolate_heal, setup,
                                        tn_teardown),
    };
    signal(SIGPIPE, SIG_IGN);
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
