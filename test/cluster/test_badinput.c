/* Bad input on a running node: malformed and oversized HTTP, invalid
 * instance parameters (Nacos's exact answers), junk and forged prefaces on
 * the raft port. The node stays up and nothing changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "raft/internal.h"
#include "test/support/tcluster.h"

#define IP "127.9.0.1"
#define CT_FORM "application/x-www-form-urlencoded"

/* ------------------------------------------------------------ sockets */

static int connect_to(int port)
{
    struct sockaddr_in a = {0};
    struct timeval tv = {5, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fail_msg("connect to port %d: %s", port, strerror(errno));
    }
    return fd;
}

static void send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0) {
            return; /* the peer may close first; what it answered counts */
        }
        p += n;
        len -= (size_t)n;
    }
}

/* Read until EOF, error or timeout (5 s); return bytes read, -1 when the
 * read timed out with the connection still open. */
static ssize_t read_until_close(int fd, char *out, size_t size)
{
    size_t got = 0;
    for (;;) {
        ssize_t n = recv(fd, out + got, size - 1 - got, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            break;
        }
        if (n < 0) {
            out[got] = '\0';
            return -1;
        }
        got += (size_t)n;
        if (got == size - 1) {
            break;
        }
    }
    out[got] = '\0';
    return (ssize_t)got;
}

/* Send @req raw to node @i's HTTP port; return the response status line's
 * code (-1 if none) and the connection must be closed by the server. */
static int raw_http(struct tc *t, unsigned i, const void *req, size_t len)
{
    char resp[8192];
    int fd = connect_to(t->c.nodes[i].port);
    int code = -1;
    ssize_t n;
    send_all(fd, req, len);
    n = read_until_close(fd, resp, sizeof resp);
    close(fd);
    if (n < 0) {
        fail_msg("server kept the connection open after a bad request "
                 "(read so far: %.200s)",
                 resp);
    }
    if (sscanf(resp, "HTTP/1.1 %d", &code) != 1) {
        return -1;
    }
    return code;
}

/* ------------------------------------------------------------- state */

/* What must not change: counts and the hosts of the "base" service. */
static char *state_of(struct tc *t, unsigned i)
{
    char *body = NULL;
    json_t *m;
    json_t *list;
    json_t *o = json_object();
    char *text;
    int st =
        tc_http(t, i, "GET", "/nacos/v1/ns/operator/metrics?onlyStatus=false",
                NULL, NULL, &body);
    if (st != 200 || body == NULL) {
        fail_msg("node %u metrics: status %d (node down?)", i, st);
    }
    m = json_loads(body, 0, NULL);
    free(body);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "UP");
    json_object_set(o, "serviceCount", json_object_get(m, "serviceCount"));
    json_object_set(o, "instanceCount", json_object_get(m, "instanceCount"));
    json_decref(m);
    list = tc_list(t, i, "base", false, &st);
    assert_non_null(list);
    json_object_set(o, "hosts", json_object_get(list, "hosts"));
    json_decref(list);
    text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return text;
}

static void expect_state(struct tc *t, unsigned i, const char *before,
                         const char *what)
{
    char *now = state_of(t, i);
    if (strcmp(now, before) != 0) {
        char copy[1024];
        snprintf(copy, sizeof copy, "%s", now);
        free(now);
        fail_msg("state changed after %s:\nbefore %s\nafter  %s", what, before,
                 copy);
    }
    free(now);
}

/* ----------------------------------------------------------- 10a HTTP */

static void test_malformed_http(void **state)
{
    struct tc *t = *state;
    char *before;
    char big[12 * 1024];
    static const char garbage[] = "\x01\x02\x03garbage\xff\xfe\r\n\r\n";
    static const char bad_line[] = "GET\r\n\r\n";
    static const char bad_line2[] = "GET /nacos/v1/ns/instance/list "
                                    "HTTP/9.Z\r\nHost: x\r\n\r\n";
    static const char no_colon[] =
        "GET /nacos/v1/ns/instance/list?serviceName=base HTTP/1.1\r\n"
        "Host localhost\r\n\r\n";
    static const char body_len[] =
        "POST /nacos/v1/ns/instance HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: " CT_FORM "\r\nContent-Length: 2000000\r\n\r\n";
    static const char body_chunk[] =
        "POST /nacos/v1/ns/instance HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: " CT_FORM "\r\nTransfer-Encoding: chunked\r\n\r\n"
        "200000\r\n";
    int n;

    tc_up(t, "malformed-http", 1, NULL);
    tc_must_register(t, 0, "base", IP, 1);
    tc_must_register(t, 0, "base", IP, 2);
    before = state_of(t, 0);

    assert_int_equal(raw_http(t, 0, garbage, sizeof garbage - 1), 400);
    expect_state(t, 0, before, "garbage");
    assert_int_equal(raw_http(t, 0, bad_line, sizeof bad_line - 1), 400);
    expect_state(t, 0, before, "a request line without a path");
    assert_int_equal(raw_http(t, 0, bad_line2, sizeof bad_line2 - 1), 400);
    expect_state(t, 0, before, "a bad HTTP version");
    assert_int_equal(raw_http(t, 0, no_colon, sizeof no_colon - 1), 400);
    expect_state(t, 0, before, "a header without a colon");

    /* 12 KiB of headers (limit 8 KiB). */
    n = snprintf(big, sizeof big,
                 "GET /nacos/v1/ns/instance/list?serviceName=base HTTP/1.1\r\n"
                 "Host: x\r\nX-Big: ");
    memset(big + n, 'a', sizeof big - (size_t)n - 5);
    memcpy(big + sizeof big - 5, "\r\n\r\n", 4);
    assert_int_equal(raw_http(t, 0, big, sizeof big - 1), 431);
    expect_state(t, 0, before, "oversized headers");

    /* Bodies over 1 MiB, announced by length or by a chunk. */
    assert_int_equal(raw_http(t, 0, body_len, sizeof body_len - 1), 413);
    expect_state(t, 0, before, "an oversized Content-Length");
    assert_int_equal(raw_http(t, 0, body_chunk, sizeof body_chunk - 1), 413);
    expect_state(t, 0, before, "an oversized chunk");

    /* Random bytes, several times. */
    srand(42);
    for (int round = 0; round < 5; round++) {
        char junk[4096];
        int code;
        for (size_t k = 0; k < sizeof junk; k++) {
            junk[k] = (char)(rand() & 0xff);
        }
        code = raw_http(t, 0, junk, sizeof junk);
        assert_true(code == 400 || code == -1);
        expect_state(t, 0, before, "random bytes");
    }
    tc_must_register(t, 0, "base", IP, 3); /* still takes writes */
    free(before);
    tc_pass(t);
}

/* ------------------------------------------------------ 10b parameters */

struct bad {
    const char *method;
    const char *form;
    int status;
    const char *body;   /* exact, or NULL */
    const char *inside; /* substring, or NULL */
};

static const struct bad bads[] = {
    {"POST", "ip=" IP "&port=9&ephemeral=false", 400,
     "Param 'serviceName' is required.", NULL},
    {"POST", "serviceName=svc&port=9&ephemeral=false", 400,
     "Param 'ip' is required.", NULL},
    {"POST", "serviceName=svc&ip=" IP "&ephemeral=false", 400,
     "Param 'port' is required.", NULL},
    {"POST", "serviceName=svc&ip=" IP "&port=abc&ephemeral=false", 400,
     "Param 'port' is illegal, the value should be between 0 and 65535.\r\n",
     NULL},
    {"POST", "serviceName=svc&ip=" IP "&port=70000&ephemeral=false", 400,
     "Param 'port' is illegal, the value should be between 0 and 65535.\r\n",
     NULL},
    {"POST", "serviceName=svc&ip=" IP "&port=9&weight=-1&ephemeral=false", 400,
     "instance format invalid: The weights range from 0.0 to 10000.0", NULL},
    /* Ephemeral (the default) goes through the same checks. */
    {"POST", "serviceName=svc&ip=" IP "&port=9&weight=20000", 400,
     "instance format invalid: The weights range from 0.0 to 10000.0", NULL},
    {"POST", "serviceName=svc&ip=" IP "&port=9&clusterName=a_b", 400, NULL,
     "Instance 'clusterName' should be characters with only 0-9a-zA-Z-."},
    {"POST", "serviceName=base&ip=" IP "&port=9&ephemeral=true", 400,
     "errCode: 400, errMsg: Current service DEFAULT_GROUP@@base is "
     "persistent service, can't register ephemeral instance. ",
     NULL},
    {"POST", "serviceName=@@svc&ip=" IP "&port=9&ephemeral=false", 400, NULL,
     "\"message\":\"Service name filter error,caused: Param 'serviceName' is "
     "illegal, groupName can't be empty;\""},
    {"DELETE", "serviceName=base&port=1&ephemeral=false", 400,
     "Param 'ip' is required.", NULL},
    {"DELETE", "serviceName=base&ip=" IP "&port=abc&ephemeral=false", 400,
     "Param 'port' is illegal, the value should be between 0 and 65535.\r\n",
     NULL},
    {"PUT", "serviceName=base&ip=" IP "&port=1&weight=-1&ephemeral=false", 400,
     "instance format invalid: The weights range from 0.0 to 10000.0", NULL},
    {"PUT", "serviceName=base&ip=" IP "&port=1&weight=20000&ephemeral=false",
     400, "instance format invalid: The weights range from 0.0 to 10000.0",
     NULL},
};

static void test_bad_params(void **state)
{
    struct tc *t = *state;
    char *before;
    char *body = NULL;
    int st;

    tc_up(t, "bad-params", 1, NULL);
    tc_must_register(t, 0, "base", IP, 1);
    tc_must_register(t, 0, "base", IP, 2);
    before = state_of(t, 0);

    for (size_t k = 0; k < sizeof bads / sizeof bads[0]; k++) {
        const struct bad *b = &bads[k];
        st = tc_http(t, 0, b->method, "/nacos/v1/ns/instance", CT_FORM, b->form,
                     &body);
        if (st != b->status || body == NULL ||
            (b->body != NULL && strcmp(body, b->body) != 0) ||
            (b->inside != NULL && strstr(body, b->inside) == NULL)) {
            char copy[1024];
            snprintf(copy, sizeof copy, "%s", body != NULL ? body : "(none)");
            free(body);
            fail_msg("%s %s: got %d '%s', want %d '%s'", b->method, b->form, st,
                     copy, b->status, b->body != NULL ? b->body : b->inside);
        }
        free(body);
        body = NULL;
        expect_state(t, 0, before, b->form);
    }
    /* The @@svc refusal is Spring's error JSON. */
    st = tc_http(t, 0, "POST", "/nacos/v1/ns/instance", CT_FORM,
                 "serviceName=@@svc&ip=" IP "&port=9&ephemeral=false", &body);
    assert_int_equal(st, 400);
    {
        json_t *j = json_loads(body != NULL ? body : "", 0, NULL);
        assert_non_null(j);
        assert_int_equal(json_integer_value(json_object_get(j, "status")), 400);
        assert_string_equal(json_string_value(json_object_get(j, "error")),
                            "Bad Request");
        assert_string_equal(json_string_value(json_object_get(j, "path")),
                            "/nacos/v1/ns/instance");
        assert_non_null(json_object_get(j, "timestamp"));
        json_decref(j);
    }
    free(body);
    body = NULL;

    /* Unknown /nacos/v1/ns paths: 501 "no such api". */
    st = tc_http(t, 0, "GET", "/nacos/v1/ns/nosuch?serviceName=base", NULL,
                 NULL, &body);
    assert_int_equal(st, 501);
    assert_non_null(body);
    assert_non_null(
        strstr(body, "\"message\":\"no such api:GET:/nacos/v1/ns/nosuch\""));
    free(body);
    st = tc_http(t, 0, "POST", "/nacos/v1/ns/instance/list", CT_FORM,
                 "serviceName=base&ip=" IP "&port=5&ephemeral=false", &body);
    assert_int_equal(st, 501);
    free(body);
    body = NULL;
    expect_state(t, 0, before, "unknown paths");

    /* None of the refused services exists. */
    {
        json_t *l = tc_list(t, 0, "svc", true, &st);
        assert_non_null(l);
        assert_int_equal(json_array_size(json_object_get(l, "hosts")), 0);
        json_decref(l);
    }
    tc_must_register(t, 0, "base", IP, 3);
    free(before);
    tc_pass(t);
}

/* ----------------------------------------- names and addresses (issue 11) */

/* The number of services service/list counts. */
static long service_count(struct tc *t, unsigned i)
{
    char *body = NULL;
    json_t *j;
    long n;
    int st = tc_http(t, i, "GET",
                     "/nacos/v1/ns/service/list?pageNo=1&pageSize=100", NULL,
                     NULL, &body);
    assert_int_equal(st, 200);
    j = json_loads(body != NULL ? body : "", 0, NULL);
    free(body);
    assert_non_null(j);
    n = (long)json_integer_value(json_object_get(j, "count"));
    json_decref(j);
    return n;
}

struct enc {
    const char *method;
    const char *path;
    const char *form; /* body */
    const char *inside;
};

#define ILLEGAL_CHARS "is illegal, illegal characters should not appear"
#define IP_FORMAT "Param 'ip' is illegal, it should be an IPv4 or IPv6"

static const struct enc encs[] = {
    {"POST", "/nacos/v1/ns/instance",
     "serviceName=a%FF%FEb&ip=" IP "&port=9", "'serviceName' " ILLEGAL_CHARS},
    {"POST", "/nacos/v1/ns/instance",
     "serviceName=a%FF%FEb&ip=" IP "&port=9&ephemeral=false",
     "'serviceName' " ILLEGAL_CHARS},
    {"POST", "/nacos/v2/ns/instance",
     "serviceName=a%FF%FEb&ip=" IP "&port=9", "'serviceName' " ILLEGAL_CHARS},
    {"POST", "/nacos/v1/ns/instance", "serviceName=svc&ip=127.1.1.%FF&port=9",
     "'ip' " ILLEGAL_CHARS},
    {"POST", "/nacos/v1/ns/instance", "serviceName=svc&ip=127.1.1.300&port=9",
     IP_FORMAT},
    {"POST", "/nacos/v1/ns/instance",
     "serviceName=svc&ip=127.1.1.300&port=9&ephemeral=false", IP_FORMAT},
    {"POST", "/nacos/v2/ns/instance", "serviceName=svc&ip=bad..host&port=9",
     IP_FORMAT},
    {"POST", "/nacos/v1/ns/instance",
     "serviceName=svc&groupName=g%C3&ip=" IP "&port=9",
     "'groupName' " ILLEGAL_CHARS},
    {"POST", "/nacos/v1/ns/instance",
     "serviceName=svc&namespaceId=n%FF&ip=" IP "&port=9",
     "'namespaceId' " ILLEGAL_CHARS},
    {"POST", "/nacos/v1/ns/instance",
     "serviceName=svc&clusterName=c%FF&ip=" IP "&port=9",
     "'clusterName' " ILLEGAL_CHARS},
    {"POST", "/nacos/v1/ns/instance",
     "serviceName=svc&ip=" IP "&port=9&metadata=k%3D%FF",
     "'metadata' " ILLEGAL_CHARS},
    {"POST", "/nacos/v1/ns/instance",
     "serviceName=svc&ip=" IP "&port=9&metadata=%7B%22%ED%A0%80%22%3A%22v%22%7D",
     "'metadata' " ILLEGAL_CHARS},
    {"POST", "/nacos/v1/ns/instance",
     "serviceName=svc&ip=" IP "&port=9&app=%C0%AF", "'app' " ILLEGAL_CHARS},
    {"POST", "/nacos/v1/ns/instance", "serviceName=svc&ip=" IP "&port=9&k%FF=1",
     "Param name " ILLEGAL_CHARS},
    {"POST", "/nacos/v1/ns/service", "serviceName=a%FF", "'serviceName' "
                                                         ILLEGAL_CHARS},
    {"PUT", "/nacos/v1/ns/instance/beat",
     "serviceName=a%FF&beat=%7B%22ip%22%3A%22" IP "%22%2C%22port%22%3A9%7D",
     "'serviceName' " ILLEGAL_CHARS},
    {"PUT", "/nacos/v1/ns/instance/beat",
     "serviceName=svc&beat=%7B%22ip%22%3A%22127.1.1.300%22%2C%22port%22%3A9%"
     "7D",
     IP_FORMAT},
    {"PUT", "/nacos/v1/ns/health/instance",
     "serviceName=base&ip=127.9.0.%FF&port=1&healthy=false",
     "'ip' " ILLEGAL_CHARS},
    {"GET", "/nacos/v1/ns/catalog/instances?serviceName=a%FF&pageNo=1&"
            "pageSize=10",
     NULL, "'serviceName' " ILLEGAL_CHARS},
};

static void test_bad_encoding(void **state)
{
    struct tc *t = *state;
    char *before;
    char *body = NULL;
    long services;
    int st;

    tc_up(t, "bad-encoding", 1, NULL);
    tc_must_register(t, 0, "base", IP, 1);
    tc_must_register(t, 0, "base", IP, 2);
    before = state_of(t, 0);
    services = service_count(t, 0);

    for (size_t k = 0; k < sizeof encs / sizeof encs[0]; k++) {
        const struct enc *b = &encs[k];
        st = tc_http(t, 0, b->method, b->path, b->form != NULL ? CT_FORM : NULL,
                     b->form, &body);
        if (st != 400 || body == NULL || strstr(body, b->inside) == NULL) {
            char copy[1024];
            snprintf(copy, sizeof copy, "%s", body != NULL ? body : "(none)");
            free(body);
            fail_msg("%s %s %s: got %d '%s', want 400 '...%s...'", b->method,
                     b->path, b->form != NULL ? b->form : "", st, copy,
                     b->inside);
        }
        free(body);
        body = NULL;
        expect_state(t, 0, before, b->form != NULL ? b->form : b->path);
        assert_int_equal(service_count(t, 0), services);
    }
    /* Valid UTF-8 names and host names still register. */
    st = tc_http(t, 0, "POST", "/nacos/v1/ns/instance", CT_FORM,
                 "serviceName=caf%C3%A9&ip=localhost&port=9", &body);
    assert_int_equal(st, 200);
    free(body);
    assert_int_equal(service_count(t, 0), services + 1);
    free(before);
    tc_pass(t);
}

/* -------------------------------------------- HTTP/1 edges (issue 11) */

/* Send @req on a fresh connection and read until the server closes it;
 * @out gets what it sent (NUL-terminated). Fails if it stays open. */
static void raw_exchange(struct tc *t, const char *req, char *out, size_t size)
{
    int fd = connect_to(t->c.nodes[0].port);
    send_all(fd, req, strlen(req));
    if (read_until_close(fd, out, size) < 0) {
        close(fd);
        fail_msg("the server kept the connection open after: %.100s", req);
    }
    close(fd);
}

static void test_http_edges(void **state)
{
    struct tc *t = *state;
    char out[8192];
    char *before;
    char *body = NULL;
    const char *cl;
    int st;
    static const char chunk_bad[] =
        "POST /nacos/v1/ns/instance HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: " CT_FORM "\r\nTransfer-Encoding: chunked\r\n\r\n"
        "2\r\nabcdef\r\n0\r\n\r\n";

    tc_up(t, "http-edges", 1,
          "locus.http.head_timeout_ms=500\nlocus.http.body_timeout_ms=500\n"
          "locus.http.max_connections_per_ip=3\n");
    tc_must_register(t, 0, "base", IP, 1);
    before = state_of(t, 0);

    /* (a) the CRLF after a chunk's data is checked: 400 and closed. */
    assert_int_equal(raw_http(t, 0, chunk_bad, sizeof chunk_bad - 1), 400);
    expect_state(t, 0, before, "a chunk without its CRLF");

    /* (c) HEAD on a GET route: the GET's status and headers, no body. */
    raw_exchange(t,
                 "HEAD /nacos/v1/ns/instance/list?serviceName=base HTTP/1.1\r\n"
                 "Host: x\r\nConnection: close\r\n\r\n",
                 out, sizeof out);
    assert_true(strncmp(out, "HTTP/1.1 200 ", 13) == 0);
    cl = strstr(out, "Content-Length: ");
    assert_non_null(cl);
    assert_true(atoi(cl + 16) > 0);
    assert_string_equal(strstr(out, "\r\n\r\n"), "\r\n\r\n");
    raw_exchange(t,
                 "HEAD /nacos/v2/ns/instance/list?serviceName=base HTTP/1.1\r\n"
                 "Host: x\r\nConnection: close\r\n\r\n",
                 out, sizeof out);
    assert_true(strncmp(out, "HTTP/1.1 200 ", 13) == 0);

    /* (d) ops/raft with a body that is not a JSON object: 400. */
    st = tc_http(t, 0, "POST", "/nacos/v1/core/ops/raft", "application/json",
                 "[1,2]", &body);
    assert_int_equal(st, 400);
    assert_non_null(body);
    assert_non_null(strstr(body, "must be a JSON object"));
    free(body);
    st = tc_http(t, 0, "POST", "/nacos/v1/core/ops/raft", "application/json",
                 "{\"command\":", &body);
    assert_int_equal(st, 400);
    assert_non_null(strstr(body, "JSON parse error: "));
    free(body);
    body = NULL;

    /* (b) a head trickled a byte every 100 ms: 408 at its deadline. */
    {
        int fd = connect_to(t->c.nodes[0].port);
        struct timeval tv = {0, 100 * 1000};
        uint64_t t0 = tc_now_ms();
        size_t got = 0;
        static const char start[] =
            "GET /nacos/v1/ns/operator/metrics HTTP/1.1\r\nX-Slow: ";
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        send_all(fd, start, sizeof start - 1);
        while (tc_now_ms() - t0 < 5000) {
            ssize_t n;
            send(fd, "a", 1, MSG_NOSIGNAL);
            n = recv(fd, out + got, sizeof out - 1 - got, 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                break;
            }
            if (n > 0) {
                got += (size_t)n;
            }
        }
        out[got] = '\0';
        close(fd);
        if (strncmp(out, "HTTP/1.1 408 ", 13) != 0) {
            fail_msg("trickled head: got '%.100s' after %llu ms", out,
                     (unsigned long long)(tc_now_ms() - t0));
        }
        assert_true(tc_now_ms() - t0 >= 450 && tc_now_ms() - t0 < 3000);
    }

    /* (b) connections per address: the 4th from 127.0.0.1 is closed. */
    {
        int fds[4];
        for (int i = 0; i < 4; i++) {
            static const char req[] =
                "GET /nacos/v1/ns/operator/metrics HTTP/1.1\r\nHost: x\r\n\r\n";
            ssize_t n;
            fds[i] = connect_to(t->c.nodes[0].port);
            send_all(fds[i], req, sizeof req - 1);
            n = recv(fds[i], out, sizeof out - 1, 0);
            if (i < 3) {
                assert_true(n > 13 && strncmp(out, "HTTP/1.1 200 ", 13) == 0);
            } else if (n != 0 && !(n < 0 && errno == ECONNRESET)) {
                fail_msg("a 4th connection from one address was served");
            }
        }
        for (int i = 0; i < 4; i++) {
            close(fds[i]);
        }
    }
    tc_sleep_ms(100);
    expect_state(t, 0, before, "the HTTP edge cases");
    free(before);
    tc_pass(t);
}

/* ------------------------------------------------------ 10c raft port */

/* Connect to node @i's raft port and read its hello; returns the fd. */
static int raft_hello(struct tc *t, unsigned i,
                      uint8_t nonce[LC_PREFACE_NONCE_LEN])
{
    uint8_t hello[LC_PREFACE_HELLO_LEN];
    size_t got = 0;
    int fd = connect_to(t->c.nodes[i].port - 1000);
    while (got < sizeof hello) {
        ssize_t n = recv(fd, hello + got, sizeof hello - got, 0);
        if (n <= 0) {
            fail_msg("no hello from the raft port of node %u", i);
        }
        got += (size_t)n;
    }
    assert_int_equal(lc_preface_parse_hello(hello, nonce), 0);
    return fd;
}

/* The server must close the connection; return what it sent first. */
static ssize_t expect_dropped(int fd, char *out, size_t size, const char *what)
{
    ssize_t n = read_until_close(fd, out, size);
    close(fd);
    if (n < 0) {
        fail_msg("raft port kept the connection open after %s", what);
    }
    return n;
}

static void test_raft_port_junk(void **state)
{
    struct tc *t = *state;
    uint8_t nonce[LC_PREFACE_NONCE_LEN];
    char out[256];
    char junk[512];
    int fd;

    tc_up(t, "raft-junk", 3, NULL);
    tc_must_register(t, 1, "junk", IP, 1);

    /* Junk before even reading the hello. */
    fd = connect_to(t->c.nodes[1].port - 1000);
    send_all(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
    expect_dropped(fd, out, sizeof out, "an HTTP request");

    /* Random bytes after the hello. */
    srand(7);
    for (int round = 0; round < 5; round++) {
        for (size_t k = 0; k < sizeof junk; k++) {
            junk[k] = (char)(rand() & 0xff);
        }
        fd = raft_hello(t, 1, nonce);
        send_all(fd, junk, sizeof junk);
        expect_dropped(fd, out, sizeof out, "random bytes");
    }

    /* A well-formed claim to be member 0 on a real group, with a MAC made
     * with the wrong secret: answered "bad auth", then dropped. */
    {
        static const uint8_t wrong[] = "not-the-cluster-secret-0123456789";
        struct lc_preface p = {0};
        uint8_t claim[LC_PREFACE_MAX_LEN];
        size_t len = 0;
        ssize_t n;
        fd = raft_hello(t, 1, nonce);
        snprintf(p.channel, sizeof p.channel, "%s", TC_PS);
        tc_raft_addr(t, 0, p.address, sizeof p.address);
        p.id = 1234567;
        assert_int_equal(lc_preface_encode(wrong, sizeof wrong - 1, nonce, &p,
                                           claim, sizeof claim, &len),
                         0);
        send_all(fd, claim, len);
        n = expect_dropped(fd, out, sizeof out, "a claim with a wrong MAC");
        assert_int_equal(n, 1);
        assert_int_equal(out[0], LC_PREFACE_BAD_AUTH);
    }

    /* The node still works, with its peers. */
    tc_must_register(t, 1, "junk", IP, 2);
    {
        int ports[2] = {1, 2};
        for (unsigned i = 0; i < 3; i++) {
            tc_expect_all(t, i, "junk", IP, ports, 2);
        }
    }
    assert_true(tc_log_contains(t, 1, "dropped connection"));
    assert_true(tc_log_contains(t, 1, "authentication failed"));
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_malformed_http, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_bad_params, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_bad_encoding, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_http_edges, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_raft_port_junk, tc_setup,
                                        tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
