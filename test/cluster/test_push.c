/* UDP push end to end on a real standalone locusd: a UDP socket subscribes
 * through /instance/list as the npm client does, a persistent instance is
 * registered over HTTP, the push arrives and is acked (no resend); an
 * unacked push is resent once and then given up; the HTTP endpoints around
 * push answer Nacos's shapes and errors.
 *
 * The ack timeout is shortened to 400 ms (locus.naming.push.ack_timeout_ms)
 * so the test runs in seconds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "test/support/tcluster.h"

#define ACK_MS 400
#define AGENT "Nacos-Java-Client:v1.0.0"
#define EXTRA "locus.naming.push.ack_timeout_ms=400\n"

struct udp {
    int fd;
    int port;
    struct sockaddr_in from; /* the server's push socket */
};

static void udp_open(struct udp *u)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    u->fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(u->fd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(u->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(u->fd, (struct sockaddr *)&a, &len), 0);
    u->port = ntohs(a.sin_port);
}

/* The next push within @ms, parsed (gunzipped if needed), or NULL. The
 * embedded ServiceInfo goes to *@info. */
static json_t *udp_recv(struct udp *u, unsigned ms, json_t **info)
{
    static char buf[65536];
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    socklen_t len = sizeof u->from;
    ssize_t n;
    setsockopt(u->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    n = recvfrom(u->fd, buf, sizeof buf, 0, (struct sockaddr *)&u->from, &len);
    if (n <= 0) {
        return NULL;
    }
    return tc_push_decode(buf, (size_t)n, info);
}

/* Ack as the Java 1.x client does: lastRefTime as a string. */
static void udp_ack(struct udp *u, json_t *push)
{
    char ack[128];
    int n = snprintf(
        ack, sizeof ack,
        "{\"type\": \"push-ack\", \"lastRefTime\":\"%lld\", \"data\":\"\"}",
        (long long)json_integer_value(json_object_get(push, "lastRefTime")));
    assert_int_equal(sendto(u->fd, ack, (size_t)n, 0,
                            (struct sockaddr *)&u->from, sizeof u->from),
                     n);
}

static int get_agent(struct tc *t, const char *path, const char *agent,
                     char **body)
{
    int status = -1;
    if (lc_bench_http_agent("127.0.0.1", t->c.nodes[0].port, "GET", path, agent,
                            &status, body) != 0) {
        fail_msg("no answer to %s", path);
    }
    return status;
}

static void subscribe(struct tc *t, struct udp *u, const char *service,
                      const char *clusters)
{
    char path[512];
    char *body = NULL;
    snprintf(path, sizeof path,
             "/nacos/v1/ns/instance/list?serviceName=%s&clusters=%s"
             "&udpPort=%d&clientIP=127.0.0.1&healthyOnly=false&app=t",
             service, clusters, u->port);
    assert_int_equal(get_agent(t, path, AGENT, &body), 200);
    free(body);
}

static size_t n_hosts(json_t *info)
{
    return json_array_size(json_object_get(info, "hosts"));
}

static json_t *get_json(struct tc *t, const char *path)
{
    char *body = NULL;
    json_t *root;
    assert_int_equal(tc_http(t, 0, "GET", path, NULL, NULL, &body), 200);
    root = json_loads(body, 0, NULL);
    if (root == NULL) {
        fail_msg("not JSON: %s", body);
    }
    free(body);
    return root;
}

/* Subscribe, register, receive, ack: no resend. */
static void test_push_acked(void **state)
{
    struct tc *t = *state;
    struct udp u;
    json_t *push, *info;
    json_t *subs;
    uint64_t t0;
    int port;

    tc_up(t, "push_acked", 1, EXTRA);
    udp_open(&u);
    subscribe(t, &u, "psvc", "DEFAULT");

    /* One push for the new subscription (no instances yet). */
    push = udp_recv(&u, 3000, &info);
    assert_non_null(push);
    assert_string_equal(json_string_value(json_object_get(push, "type")),
                        "dom");
    assert_string_equal(json_string_value(json_object_get(info, "name")),
                        "DEFAULT_GROUP@@psvc");
    assert_null(json_object_get(info, "groupName"));
    assert_string_equal(json_string_value(json_object_get(info, "clusters")),
                        "DEFAULT");
    assert_int_equal(n_hosts(info), 0);
    udp_ack(&u, push);
    json_decref(push);
    json_decref(info);

    /* A persistent instance: pushed within well under a second. It stays
     * healthy (a listener at its address), so no health change pushes. */
    port = tc_own_port(t);
    tc_live(t, "127.1.1.1", port);
    t0 = tc_now_ms();
    tc_must_register(t, 0, "psvc", "127.1.1.1", port);
    push = udp_recv(&u, 3000, &info);
    assert_non_null(push);
    assert_true(tc_now_ms() - t0 < 1000);
    assert_int_equal(n_hosts(info), 1);
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(info, "hosts"), 0), "ip")),
        "127.1.1.1");
    assert_true(json_integer_value(json_object_get(push, "lastRefTime")) <
                ((json_int_t)1 << 53));
    udp_ack(&u, push);
    json_decref(push);
    json_decref(info);

    /* Acked: nothing more comes, not even after the ack timeout. */
    push = udp_recv(&u, 3 * ACK_MS, &info);
    assert_null(push);

    /* The subscriber as Nacos lists it. */
    subs = get_json(t, "/nacos/v1/ns/service/subscribers?serviceName=psvc");
    assert_int_equal(json_integer_value(json_object_get(subs, "count")), 1);
    {
        json_t *s = json_array_get(json_object_get(subs, "subscribers"), 0);
        const char *keys[] = {"addrStr",     "agent",  "app",
                              "ip",          "port",   "namespaceId",
                              "serviceName", "cluster"};
        const char *k;
        json_t *v;
        size_t i = 0;
        char addr[64];
        json_object_foreach(s, k, v)
        {
            assert_string_equal(k, keys[i]);
            i++;
        }
        assert_int_equal(i, 8);
        snprintf(addr, sizeof addr, "127.0.0.1:%d", u.port);
        assert_string_equal(json_string_value(json_object_get(s, "addrStr")),
                            addr);
        assert_string_equal(json_string_value(json_object_get(s, "agent")),
                            AGENT);
        assert_string_equal(json_string_value(json_object_get(s, "app")), "t");
        assert_string_equal(
            json_string_value(json_object_get(s, "serviceName")),
            "DEFAULT_GROUP@@psvc");
        assert_string_equal(json_string_value(json_object_get(s, "cluster")),
                            "DEFAULT");
    }
    json_decref(subs);
    /* Paging past the end: no subscribers, the full count. */
    subs = get_json(
        t, "/nacos/v1/ns/service/subscribers?serviceName=psvc&pageNo=2");
    assert_int_equal(json_array_size(json_object_get(subs, "subscribers")), 0);
    assert_int_equal(json_integer_value(json_object_get(subs, "count")), 1);
    json_decref(subs);

    subs = get_json(t, "/nacos/v1/ns/operator/push/state?detail=true");
    assert_int_equal(json_integer_value(json_object_get(subs, "total")), 2);
    assert_int_equal(json_integer_value(json_object_get(subs, "succeed")), 2);
    {
        json_t *cost =
            json_object_get(json_object_get(subs, "detail"), "maxPushCost");
        assert_true(json_is_integer(cost));
        assert_true(json_integer_value(cost) >= 0);
    }
    json_decref(subs);
    close(u.fd);
    tc_pass(t);
}

/* No ack: the same datagram once more after the ack timeout, then nothing;
 * the push counts as failed. */
static void test_push_unacked(void **state)
{
    struct tc *t = *state;
    struct udp u;
    json_t *p1, *p2, *i1, *i2, *st;
    uint64_t t1;
    int port;

    tc_up(t, "push_unacked", 1, EXTRA);
    port = tc_own_port(t);
    tc_live(t, "127.1.1.2", port); /* stays healthy: no health push */
    tc_must_register(t, 0, "usvc", "127.1.1.2", port);
    udp_open(&u);
    subscribe(t, &u, "usvc", "");
    p1 = udp_recv(&u, 3000, &i1);
    assert_non_null(p1);
    t1 = tc_now_ms();
    assert_int_equal(n_hosts(i1), 1);
    p2 = udp_recv(&u, 3 * ACK_MS, &i2);
    assert_non_null(p2);
    assert_true(tc_now_ms() - t1 >= ACK_MS - 50);
    assert_true(json_equal(p1, p2)); /* the same bytes, same lastRefTime */
    assert_null(udp_recv(&u, 3 * ACK_MS, &i2));
    json_decref(p1);
    json_decref(p2);
    json_decref(i1);
    json_decref(i2);
    st = get_json(t, "/nacos/v1/ns/operator/push/state");
    assert_int_equal(json_integer_value(json_object_get(st, "total")), 1);
    assert_int_equal(json_integer_value(json_object_get(st, "succeed")), 0);
    assert_true(json_is_real(json_object_get(st, "ratio")));
    assert_null(json_object_get(st, "detail"));
    json_decref(st);
    close(u.fd);
    tc_pass(t);
}

/* What does not subscribe, and Nacos's errors around push. */
static void test_push_bad_input(void **state)
{
    struct tc *t = *state;
    struct udp u;
    char path[512];
    char *body = NULL;
    json_t *subs;
    json_t *info;

    tc_up(t, "push_bad", 1, EXTRA);
    udp_open(&u);

    /* Unknown agents, old versions and udpPort=0 do not subscribe. */
    snprintf(path, sizeof path,
             "/nacos/v1/ns/instance/list?serviceName=b&udpPort=%d"
             "&clientIP=127.0.0.1",
             u.port);
    assert_int_equal(get_agent(t, path, "curl/8.0", &body), 200);
    free(body);
    assert_int_equal(get_agent(t, path, "Nacos-Java-Client:v0.0.1", &body),
                     200);
    free(body);
    snprintf(path, sizeof path,
             "/nacos/v1/ns/instance/list?serviceName=b&udpPort=0"
             "&clientIP=127.0.0.1");
    assert_int_equal(get_agent(t, path, AGENT, &body), 200);
    free(body);
    assert_null(udp_recv(&u, 300, &info));
    subs = get_json(t, "/nacos/v1/ns/service/subscribers?serviceName=b");
    assert_int_equal(json_integer_value(json_object_get(subs, "count")), 0);
    json_decref(subs);

    /* A bad udpPort is refused before anything happens. */
    snprintf(path, sizeof path,
             "/nacos/v1/ns/instance/list?serviceName=b&udpPort=x");
    assert_int_equal(get_agent(t, path, AGENT, &body), 400);
    assert_string_equal(body, "For input string: \"x\"");
    free(body);
    assert_null(udp_recv(&u, 300, &info));
    subs = get_json(t, "/nacos/v1/ns/service/subscribers?serviceName=b");
    assert_int_equal(json_integer_value(json_object_get(subs, "count")), 0);
    json_decref(subs);

    /* /service/subscribers: serviceName required; GET only. */
    assert_int_equal(tc_http(t, 0, "GET", "/nacos/v1/ns/service/subscribers",
                             NULL, NULL, &body),
                     400);
    assert_string_equal(body, "Param 'serviceName' is required.");
    free(body);
    assert_int_equal(tc_http(t, 0, "POST",
                             "/nacos/v1/ns/service/subscribers?serviceName=b",
                             NULL, NULL, &body),
                     501);
    assert_non_null(strstr(body, "no such api:POST:"));
    free(body);
    assert_int_equal(tc_http(t, 0, "GET",
                             "/nacos/v1/ns/service/subscribers?serviceName=@@",
                             NULL, NULL, &body),
                     400);
    free(body);

    /* /operator/push/state: Spring's boolean conversion. */
    assert_int_equal(tc_http(t, 0, "GET",
                             "/nacos/v1/ns/operator/push/state?detail=maybe",
                             NULL, NULL, &body),
                     500);
    assert_non_null(strstr(body, "Invalid boolean value 'maybe'"));
    free(body);
    subs = get_json(t, "/nacos/v1/ns/ops/push/state?reset=yes");
    assert_true(json_is_true(json_object_get(subs, "reset")));
    assert_int_equal(json_integer_value(json_object_get(subs, "ratio")), 0);
    json_decref(subs);
    close(u.fd);
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_push_acked, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_push_unacked, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_push_bad_input, tc_setup,
                                        tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
