/* UDP push beyond v1 and IPv4, on real locusd processes:
 *
 *   - GET /nacos/v2/ns/instance/list subscribes `ip:port` (not v1's
 *     clientIP/udpPort) as InstanceControllerV2.list, with the User-Agent or
 *     else Client-Version; a bad `port` or `healthyOnly` gets Nacos v2's 500
 *     and subscribes nothing;
 *   - pushes reach a clientIP that is an IPv6 literal (::1) or a host name
 *     (localhost); a name that does not resolve fails its pushes;
 *   - /service/subscribers with aggregation (the default) merges every
 *     member's subscribers, keeps answering when a member is dead or hung,
 *     and aggregation=false stays local. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "test/support/tcluster.h"

#define AGENT "Nacos-Java-Client:v1.0.0"
#define EXTRA                                                                  \
    "locus.naming.push.ack_timeout_ms=400\n"                                   \
    "locus.naming.subscribers.timeout_ms=1000\n"

/* ----------------------------------------------------------- UDP client */

struct udp {
    int fd;
    int port;
    struct sockaddr_storage from; /* the server's push socket */
    socklen_t from_len;
};

/* A UDP socket on @ip (127.0.0.1 or ::1); false when the family is not
 * available. */
static bool udp_open(struct udp *u, const char *ip)
{
    struct sockaddr_storage a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    if (strchr(ip, ':') != NULL) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&a;
        a6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, ip, &a6->sin6_addr);
        len = sizeof *a6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&a;
        a4->sin_family = AF_INET;
        inet_pton(AF_INET, ip, &a4->sin_addr);
        len = sizeof *a4;
    }
    u->fd = socket(a.ss_family, SOCK_DGRAM, 0);
    if (u->fd < 0) {
        return false;
    }
    if (bind(u->fd, (struct sockaddr *)&a, len) != 0) {
        close(u->fd);
        return false;
    }
    len = sizeof a;
    assert_int_equal(getsockname(u->fd, (struct sockaddr *)&a, &len), 0);
    u->port = a.ss_family == AF_INET6
                  ? ntohs(((struct sockaddr_in6 *)&a)->sin6_port)
                  : ntohs(((struct sockaddr_in *)&a)->sin_port);
    return true;
}

/* The next push within @ms (gunzipped when needed), or NULL; its
 * ServiceInfo goes to *@info. */
static json_t *udp_recv(struct udp *u, unsigned ms, json_t **info)
{
    static char buf[65536];
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    ssize_t n;
    u->from_len = sizeof u->from;
    setsockopt(u->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    n = recvfrom(u->fd, buf, sizeof buf, 0, (struct sockaddr *)&u->from,
                 &u->from_len);
    if (n <= 0) {
        return NULL;
    }
    return tc_push_decode(buf, (size_t)n, info);
}

static void udp_ack(struct udp *u, json_t *push)
{
    char ack[128];
    int n = snprintf(
        ack, sizeof ack,
        "{\"type\":\"push-ack\",\"lastRefTime\":%lld,\"data\":\"\"}",
        (long long)json_integer_value(json_object_get(push, "lastRefTime")));
    assert_int_equal(sendto(u->fd, ack, (size_t)n, 0,
                            (struct sockaddr *)&u->from, u->from_len),
                     n);
}

/* Receive a push of @want hosts within 3 s and ack it. */
static void expect_push(struct udp *u, const char *name, size_t want)
{
    json_t *info = NULL;
    json_t *push = udp_recv(u, 3000, &info);
    if (push == NULL) {
        fail_msg("no push of %s (want %zu hosts)", name, want);
    }
    assert_string_equal(json_string_value(json_object_get(info, "name")), name);
    assert_int_equal(json_array_size(json_object_get(info, "hosts")), want);
    udp_ack(u, push);
    json_decref(push);
    json_decref(info);
}

/* ---------------------------------------------------------------- HTTP */

/* GET @path on node @i's port with @headers (each "Name: value\r\n"), over
 * a plain socket: the status; *@body gets the body (malloc'd). */
static int raw_get(struct tc *t, unsigned i, const char *path,
                   const char *headers, char **body)
{
    struct sockaddr_in a;
    char req[2048];
    char *resp = NULL;
    size_t len = 0, cap = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int n;
    int status = -1;
    const char *sep;
    struct timeval tv = {5, 0};

    assert_true(fd >= 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)t->c.nodes[i].port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    n = snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n",
                 path, headers);
    assert_int_equal(write(fd, req, (size_t)n), n);
    for (;;) {
        ssize_t r;
        if (cap - len < 4096) {
            cap = cap * 2 + 8192;
            resp = realloc(resp, cap);
            assert_non_null(resp);
        }
        r = read(fd, resp + len, cap - len - 1);
        if (r <= 0) {
            break;
        }
        len += (size_t)r;
    }
    close(fd);
    if (resp == NULL) {
        return -1;
    }
    resp[len] = '\0';
    sscanf(resp, "HTTP/1.1 %d", &status);
    sep = strstr(resp, "\r\n\r\n");
    *body = strdup(sep != NULL ? sep + 4 : "");
    free(resp);
    return status;
}

static json_t *get_json(struct tc *t, unsigned i, const char *path)
{
    char *body = NULL;
    json_t *root;
    int st = tc_http_timeout(t, i, "GET", path, NULL, NULL, 8000, &body);
    if (st != 200) {
        fail_msg("GET %s on node %u: %d %s", path, i, st,
                 body != NULL ? body : "");
    }
    root = json_loads(body, 0, NULL);
    if (root == NULL) {
        fail_msg("not JSON: %s", body);
    }
    free(body);
    return root;
}

static json_int_t push_state(struct tc *t, const char *field)
{
    json_t *st = get_json(t, 0, "/nacos/v1/ns/operator/push/state");
    json_int_t v = json_integer_value(json_object_get(st, field));
    json_decref(st);
    return v;
}

static json_int_t n_subscribers(struct tc *t, unsigned i, const char *query)
{
    char path[256];
    json_t *r;
    json_int_t count;
    snprintf(path, sizeof path, "/nacos/v1/ns/service/subscribers?%s", query);
    r = get_json(t, i, path);
    count = json_integer_value(json_object_get(r, "count"));
    assert_int_equal(json_array_size(json_object_get(r, "subscribers")),
                     count < 1000 ? count : 1000);
    json_decref(r);
    return count;
}

/* ---------------------------------------------------------------- tests */

/* Register a persistent instance of @service at @ip on node 0, at an
 * address that stays healthy (tc_live): no health change pushes. */
static void must_register_live(struct tc *t, const char *service,
                               const char *ip)
{
    int port = tc_own_port(t);
    tc_live(t, ip, port);
    tc_must_register(t, 0, service, ip, port);
}

/* v2 instance/list subscribes ip:port like InstanceControllerV2.list. */
static void test_v2_subscribe(void **state)
{
    struct tc *t = *state;
    struct udp u;
    char path[512];
    char *body = NULL;
    json_t *subs;
    json_t *s;
    char addr[64];
    json_t *info;

    tc_up(t, "v2_subscribe", 1, EXTRA);
    assert_true(udp_open(&u, "127.0.0.1"));

    /* v1's names mean nothing to v2: no subscription. */
    snprintf(path, sizeof path,
             "/nacos/v2/ns/instance/list?serviceName=v2s&udpPort=%d"
             "&clientIP=127.0.0.1",
             u.port);
    assert_int_equal(raw_get(t, 0, path, "User-Agent: " AGENT "\r\n", &body),
                     200);
    free(body);
    assert_null(udp_recv(&u, 300, &info));

    /* Bad port / healthyOnly: Nacos v2's 500, nothing subscribed. */
    assert_int_equal(
        raw_get(t, 0,
                "/nacos/v2/ns/instance/list?serviceName=v2s&ip=127.0.0.1"
                "&port=x",
                "User-Agent: " AGENT "\r\n", &body),
        500);
    assert_string_equal(
        body, "{\"code\":30000,\"message\":\"Failed to convert value of type "
              "'java.lang.String' to required type 'java.lang.Integer'; "
              "nested exception is java.lang.NumberFormatException: For "
              "input string: \\\"x\\\"\",\"data\":null}");
    free(body);
    snprintf(path, sizeof path,
             "/nacos/v2/ns/instance/list?serviceName=v2s&ip=127.0.0.1"
             "&port=%d&healthyOnly=maybe",
             u.port);
    assert_int_equal(raw_get(t, 0, path, "User-Agent: " AGENT "\r\n", &body),
                     500);
    assert_string_equal(
        body, "{\"code\":30000,\"message\":\"Failed to convert value of type "
              "'java.lang.String' to required type 'java.lang.Boolean'; "
              "nested exception is java.lang.IllegalArgumentException: "
              "Invalid boolean value [maybe]\",\"data\":null}");
    free(body);
    /* port 0 / negative, or an agent that cannot take pushes: answered,
     * not subscribed. */
    assert_int_equal(
        raw_get(t, 0,
                "/nacos/v2/ns/instance/list?serviceName=v2s&port=-1"
                "&ip=127.0.0.1",
                "User-Agent: " AGENT "\r\n", &body),
        200);
    free(body);
    snprintf(path, sizeof path,
             "/nacos/v2/ns/instance/list?serviceName=v2s&ip=127.0.0.1"
             "&port=%d",
             u.port);
    assert_int_equal(raw_get(t, 0, path, "User-Agent: curl/8\r\n", &body), 200);
    free(body);
    assert_null(udp_recv(&u, 300, &info));
    assert_int_equal(n_subscribers(t, 0, "serviceName=v2s"), 0);

    /* No User-Agent: Client-Version names the client. Hex port, as
     * Spring's Integer.decode reads it. */
    snprintf(path, sizeof path,
             "/nacos/v2/ns/instance/list?serviceName=v2s&ip=127.0.0.1"
             "&port=%%20%#x&app=v2app&healthyOnly=%%20TRUE",
             u.port);
    assert_int_equal(
        raw_get(t, 0, path, "Client-Version: " AGENT "\r\n", &body), 200);
    subs = json_loads(body, 0, NULL);
    free(body);
    assert_int_equal(json_integer_value(json_object_get(subs, "code")), 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(subs, "data"), "name")),
                        "DEFAULT_GROUP@@v2s");
    json_decref(subs);
    expect_push(&u, "DEFAULT_GROUP@@v2s", 0);
    must_register_live(t, "v2s", "127.2.2.2");
    expect_push(&u, "DEFAULT_GROUP@@v2s", 1);

    subs = get_json(t, 0, "/nacos/v1/ns/service/subscribers?serviceName=v2s");
    assert_int_equal(json_integer_value(json_object_get(subs, "count")), 1);
    s = json_array_get(json_object_get(subs, "subscribers"), 0);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", u.port);
    assert_string_equal(json_string_value(json_object_get(s, "addrStr")), addr);
    assert_string_equal(json_string_value(json_object_get(s, "agent")), AGENT);
    assert_string_equal(json_string_value(json_object_get(s, "app")), "v2app");
    assert_string_equal(json_string_value(json_object_get(s, "cluster")), "");
    json_decref(subs);
    assert_int_equal(push_state(t, "succeed"), 2);
    close(u.fd);
    tc_pass(t);
}

/* Subscribe @u as clientIP @ip (URL-encoded by the caller) to @service. */
static void subscribe_v1(struct tc *t, unsigned node, const struct udp *u,
                         const char *service, const char *ip)
{
    char path[512];
    char *body = NULL;
    snprintf(path, sizeof path,
             "/nacos/v1/ns/instance/list?serviceName=%s&clusters="
             "&udpPort=%d&clientIP=%s",
             service, u->port, ip);
    assert_int_equal(raw_get(t, node, path, "User-Agent: " AGENT "\r\n", &body),
                     200);
    free(body);
}

/* clientIP as an IPv6 literal or a host name. */
static void test_push_v6_and_names(void **state)
{
    struct tc *t = *state;
    struct udp u4, u6;
    json_t *info;

    tc_up(t, "push_v6", 1, EXTRA);

    /* A host name: resolved off the loop, pushed, acked. */
    assert_true(udp_open(&u4, "127.0.0.1"));
    subscribe_v1(t, 0, &u4, "named", "localhost");
    expect_push(&u4, "DEFAULT_GROUP@@named", 0);
    must_register_live(t, "named", "127.3.3.3");
    expect_push(&u4, "DEFAULT_GROUP@@named", 1);
    assert_null(udp_recv(&u4, 1000, &info)); /* acked: no resend */
    assert_int_equal(push_state(t, "succeed"), 2);

    /* A name that does not resolve: its push fails, nothing else does. */
    subscribe_v1(t, 0, &u4, "named", "no-such-host.invalid");
    for (int i = 0; i < 50 && push_state(t, "total") < 3; i++) {
        usleep(100 * 1000);
    }
    assert_int_equal(push_state(t, "total"), 3);
    assert_int_equal(push_state(t, "succeed"), 2);

    /* An IPv6 literal, bracketed or not. */
    if (!udp_open(&u6, "::1")) {
        print_message("[  SKIP    ] IPv6 part: no ::1 on this host "
                      "(socket/bind failed)\n");
    } else {
        subscribe_v1(t, 0, &u6, "six", "::1");
        expect_push(&u6, "DEFAULT_GROUP@@six", 0);
        must_register_live(t, "six", "127.6.6.6");
        expect_push(&u6, "DEFAULT_GROUP@@six", 1);
        assert_null(udp_recv(&u6, 1000, &info));
        assert_int_equal(push_state(t, "succeed"), 4);
        close(u6.fd);
        /* "[::1]" is the same address; a second client id, so a second
         * subscription gets its own push. */
        assert_true(udp_open(&u6, "::1"));
        subscribe_v1(t, 0, &u6, "six", "%5B::1%5D");
        expect_push(&u6, "DEFAULT_GROUP@@six", 1);
        close(u6.fd);
    }
    close(u4.fd);
    tc_pass(t);
}

/* aggregation=true asks every member; dead or hung members are skipped. */
static void test_subscribers_aggregate(void **state)
{
    struct tc *t = *state;
    struct udp a, b;
    json_t *r;
    json_t *list;
    char addr[64];
    uint64_t t0;

    tc_up(t, "subs_agg", 3, EXTRA);
    assert_true(udp_open(&a, "127.0.0.1"));
    assert_true(udp_open(&b, "127.0.0.1"));
    subscribe_v1(t, 0, &a, "agg", "127.0.0.1");
    snprintf(addr, sizeof addr, "127.0.0.1:%d", a.port);

    /* Every member sees node 0's subscriber; aggregation=false does not. */
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(n_subscribers(t, i, "serviceName=agg"), 1);
        assert_int_equal(
            n_subscribers(t, i, "serviceName=agg&aggregation=TRUE"), 1);
    }
    assert_int_equal(n_subscribers(t, 0, "serviceName=agg&aggregation=false"),
                     1);
    assert_int_equal(n_subscribers(t, 1, "serviceName=agg&aggregation=false"),
                     0);
    assert_int_equal(n_subscribers(t, 2, "serviceName=agg&aggregation=no"), 0);
    r = get_json(t, 2, "/nacos/v1/ns/service/subscribers?serviceName=agg");
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(r, "subscribers"), 0), "addrStr")),
        addr);
    json_decref(r);

    /* The same client through node 1 too: one subscriber (toString dedup);
     * another client through node 1: two, node 0's first (members in
     * address order), paged. */
    subscribe_v1(t, 1, &a, "agg", "127.0.0.1");
    assert_int_equal(n_subscribers(t, 2, "serviceName=agg"), 1);
    subscribe_v1(t, 1, &b, "agg", "127.0.0.1");
    assert_int_equal(n_subscribers(t, 2, "serviceName=agg"), 2);
    r = get_json(t, 2,
                 "/nacos/v1/ns/service/subscribers?serviceName=agg"
                 "&pageNo=2&pageSize=1");
    assert_int_equal(json_integer_value(json_object_get(r, "count")), 2);
    list = json_object_get(r, "subscribers");
    assert_int_equal(json_array_size(list), 1);
    snprintf(addr, sizeof addr, "127.0.0.1:%d", b.port);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(list, 0), "addrStr")),
        addr);
    json_decref(r);
    /* Fuzzy, as getFuzzySubscribers: a part of the name matches. */
    assert_int_equal(n_subscribers(t, 2, "serviceName=ag"), 2);
    assert_int_equal(n_subscribers(t, 2, "serviceName=agg&namespaceId=x"), 0);

    /* A hung member (stopped: connections open, nothing answers): the
     * answer comes after the member timeout, without it. */
    tc_signal(t, 0, SIGSTOP);
    t0 = tc_now_ms();
    assert_int_equal(n_subscribers(t, 2, "serviceName=agg"), 2);
    assert_true(tc_now_ms() - t0 >= 900);
    assert_true(tc_now_ms() - t0 < 4000);
    /* A dead member (connection refused): at once. */
    tc_signal(t, 0, SIGKILL);
    t0 = tc_now_ms();
    assert_int_equal(n_subscribers(t, 2, "serviceName=agg"), 2);
    assert_int_equal(n_subscribers(t, 1, "serviceName=agg"), 2);
    assert_true(tc_now_ms() - t0 < 900);
    close(a.fd);
    close(b.fd);
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_v2_subscribe, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_push_v6_and_names, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_subscribers_aggregate, tc_setup,
                                        tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
