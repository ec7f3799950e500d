/* The health checker under load: 2,000 persistent instances at unreachable
 * addresses (each connect times out, so the 256 connect slots stay full
 * and most instances wait in the queue) plus a few reachable ones. The
 * unreachable ones are 127.0.s.i:<hole>, a listener on every local address
 * whose accept queue the test fills and never drains: the kernel drops
 * every further SYN, so each connect times out, and no packet leaves the
 * machine (tests use loopback addresses only). Every unreachable instance
 * turns unhealthy within the expected time, the reachable ones are still
 * checked (connections arrive) and stay healthy, a refused one turns
 * unhealthy, and the loop is never blocked. The check switch off drops
 * every task; on again, they are rebuilt and checking resumes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test/support/tcluster.h"

#define LOCAL "127.0.0.1"
#define SWITCHES "/nacos/v1/ns/operator/switches"
#define SERVICES 20
#define PER_SERVICE 100 /* unreachable instances per service */
#define REACHABLE 4
#define THREADS 4

/* Ports from the allocator (tc_own_port): the reachable targets, the
 * refused one, the black hole. */
static int target[REACHABLE];
static int refused;
static int hole_port;

/* A listener on *:hole_port whose accept queue is full: connects to it
 * hang until they time out. Its fd goes to *@fd, the fillers' to @fill. */
static void blackhole(int *fd, int fill[4])
{
    struct sockaddr_in a = {0};
    int one = 1;
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(*fd >= 0);
    setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)hole_port);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(*fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(*fd, 0) != 0) {
        fail_msg("listen on %d: %s", hole_port, strerror(errno));
    }
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fill[i] >= 0);
        fcntl(fill[i], F_SETFL, O_NONBLOCK);
        (void)connect(fill[i], (struct sockaddr *)&a, sizeof a);
    }
    tc_sleep_ms(200); /* the handshakes that fit are done */
}

/* Accept and close what the checker connected; return how many. */
static unsigned drain(int fd)
{
    unsigned k = 0;
    int c;
    while ((c = accept(fd, NULL, NULL)) >= 0) {
        close(c);
        k++;
    }
    return k;
}

struct reg_job {
    struct tc *t;
    unsigned from, to; /* services */
    bool ok;
};

/* Register services [from, to) x PER_SERVICE instances at
 * 127.0.(s+1).(i+1):hole_port. */
static void *reg_thread(void *arg)
{
    struct reg_job *j = arg;
    j->ok = true;
    for (unsigned s = j->from; s < j->to && j->ok; s++) {
        char service[32], ip[32];
        snprintf(service, sizeof service, "many%u", s);
        for (unsigned i = 0; i < PER_SERVICE && j->ok; i++) {
            snprintf(ip, sizeof ip, "127.0.%u.%u", s + 1, i + 1);
            j->ok = tc_register_ok(j->t, 0, service, ip, hole_port);
        }
    }
    return NULL;
}

/* Instances of @service with healthy @healthy in /instance/statuses
 * (-1: no answer). */
static int count_status(struct tc *t, const char *service, bool healthy)
{
    char path[256];
    char *body = NULL;
    json_t *doc, *x;
    size_t k;
    int n = 0;
    const char *want = healthy ? "_true" : "_false";
    snprintf(path, sizeof path,
             "/nacos/v1/ns/instance/statuses?key=public%%23%%23DEFAULT_GROUP"
             "%%40%%40%s",
             service);
    if (tc_http(t, 0, "GET", path, NULL, NULL, &body) != 200) {
        free(body);
        return -1;
    }
    doc = json_loads(body, 0, NULL);
    free(body);
    json_array_foreach(json_object_get(doc, "ips"), k, x)
    {
        const char *s = json_string_value(x);
        if (s != NULL && strlen(s) > strlen(want) &&
            strcmp(s + strlen(s) - strlen(want), want) == 0) {
            n++;
        }
    }
    json_decref(doc);
    return n;
}

static int unhealthy_total(struct tc *t)
{
    int total = 0;
    for (unsigned s = 0; s < SERVICES; s++) {
        char service[32];
        int n;
        snprintf(service, sizeof service, "many%u", s);
        n = count_status(t, service, false);
        if (n < 0) {
            return -1;
        }
        total += n;
    }
    return total;
}

/* For @ms: accept on every listener; fail unless each saw a connection and
 * the reachable instances stay healthy. */
static void expect_checked(struct tc *t, const int *l, unsigned ms)
{
    unsigned seen[REACHABLE] = {0};
    uint64_t end = tc_now_ms() + ms;
    while (tc_now_ms() < end) {
        for (unsigned i = 0; i < REACHABLE; i++) {
            seen[i] += drain(l[i]);
        }
        assert_int_equal(count_status(t, "reach", true), REACHABLE);
        tc_sleep_ms(100);
    }
    for (unsigned i = 0; i < REACHABLE; i++) {
        if (seen[i] == 0) {
            fail_msg("%s:%d was not checked in %u ms", LOCAL, target[i], ms);
        }
    }
}

static void test_many_instances(void **state)
{
    struct tc *t = *state;
    struct reg_job jobs[THREADS];
    pthread_t th[THREADS];
    int l[REACHABLE];
    int hole, fill[4];
    uint64_t start;
    int bad = -2;

    hole_port = tc_own_port(t);
    for (unsigned i = 0; i < REACHABLE; i++) {
        target[i] = tc_own_port(t);
    }
    refused = tc_own_port(t); /* nobody listens */
    blackhole(&hole, fill);
    tc_up(t, "many", 1, NULL);
    start = tc_now_ms();
    for (unsigned k = 0; k < THREADS; k++) {
        jobs[k] = (struct reg_job){t, k * SERVICES / THREADS,
                                   (k + 1) * SERVICES / THREADS, false};
        assert_int_equal(pthread_create(&th[k], NULL, reg_thread, &jobs[k]), 0);
    }
    for (unsigned k = 0; k < THREADS; k++) {
        pthread_join(th[k], NULL);
        assert_true(jobs[k].ok);
    }
    print_message("registered %d unreachable instances in %llu ms\n",
                  SERVICES * PER_SERVICE,
                  (unsigned long long)(tc_now_ms() - start));

    /* Behind the queue: reachable instances are still checked. */
    for (unsigned i = 0; i < REACHABLE; i++) {
        l[i] = tc_listen_on(target[i]);
        tc_must_register(t, 0, "reach", LOCAL, target[i]);
    }
    tc_must_register(t, 0, "refused", LOCAL, refused);
    expect_checked(t, l, 20000);

    /* Three timeouts in a row each: at most 256 connects of 500 ms at once
     * (512 a second), tasks every 1-5 s; 2,000 need about 15 s. */
    start = tc_now_ms();
    while (tc_now_ms() - start < 60000) {
        for (unsigned i = 0; i < REACHABLE; i++) {
            drain(l[i]);
        }
        bad = unhealthy_total(t);
        if (bad == SERVICES * PER_SERVICE) {
            break;
        }
        tc_sleep_ms(500);
    }
    print_message("all unreachable instances unhealthy after %llu ms more "
                  "(%d)\n",
                  (unsigned long long)(tc_now_ms() - start), bad);
    assert_int_equal(bad, SERVICES * PER_SERVICE);
    assert_int_equal(count_status(t, "refused", false), 1);
    expect_checked(t, l, 8000);

    /* Switch off: the tasks go; on: rebuilt, checking resumes. */
    assert_int_equal(tc_http(t, 0, "PUT", SWITCHES "?entry=check&value=false",
                             NULL, NULL, NULL),
                     200);
    {
        uint64_t until = tc_now_ms() + 5000;
        while (!tc_log_contains(t, 0, "health check tasks dropped")) {
            assert_true(tc_now_ms() < until);
            tc_sleep_ms(100);
        }
    }
    tc_sleep_ms(1500); /* probes already running may still connect */
    for (unsigned i = 0; i < REACHABLE; i++) {
        drain(l[i]);
    }
    tc_sleep_ms(6000);
    for (unsigned i = 0; i < REACHABLE; i++) {
        assert_int_equal(drain(l[i]), 0); /* nothing checks meanwhile */
    }
    assert_int_equal(tc_http(t, 0, "PUT", SWITCHES "?entry=check&value=true",
                             NULL, NULL, NULL),
                     200);
    expect_checked(t, l, 15000);
    assert_true(tc_log_contains(t, 0, "scheduling health checks"));
    assert_int_equal(unhealthy_total(t), SERVICES * PER_SERVICE);

    /* The loop kept up all along. A sweep of every client on the loop
     * would block at every poll, dozens of times in this run; a shared
     * 2-core machine may stall the process once or twice whatever it
     * does (seen: 111 and 155 ms in one run of `make test`). */
    {
        unsigned blocked = tc_log_count(t, 0, "event loop blocked");
        if (blocked > 2) {
            fail_msg("the event loop was blocked %u times", blocked);
        }
    }
    for (unsigned i = 0; i < REACHABLE; i++) {
        close(l[i]);
    }
    for (int i = 0; i < 4; i++) {
        close(fill[i]);
    }
    close(hole);
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_many_instances, tc_setup,
                                        tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
