/* Tests of DistroFilter's pieces on one loop, without a raft engine:
 * the responsible tag (DistroIpPortTagGenerator) from parameters, form
 * bodies and beat JSON, good and bad; the proxy (naming/http/forward.c)
 * to a listener playing the responsible member: what it receives (method,
 * path, every parameter once in the query with encoding and nofix, the
 * copied and overridden headers) and what is relayed (status, body);
 * a refused connection and a member that never answers (500 with Java's
 * words); the connect/read timeouts and extra headers of the HTTP client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "common/err.h"
#include "common/util.h"
#include "members/members.h"
#include "naming/http/filters.h"
#include "naming/http/forward.h"
#include "naming/internal.h"
#include "rpc/http/http.h"
#include "test/support/ports.h"

#define FORM "application/x-www-form-urlencoded"

struct env {
    uv_loop_t loop;
    struct lc_http_server *front;  /* this member: /tag and the forwarder */
    struct lc_http_server *target; /* the responsible member */
    int front_port;
    int target_port;
    int dead_port;   /* reserved, nothing listens */
    int silent_port; /* listens, never accepts */
    int silent_fd;
    struct lc_members *members;
    struct lc_naming n;
    const struct lc_member *to; /* where the forwarder sends */
    /* What the target saw of the last request. */
    char method[16];
    char path[128];
    char params[2048];  /* "name=value\n"... in order */
    char headers[4096]; /* "name: value\n"... in order */
    size_t body_len;
    int answer_status;
    const char *answer_body;
};

/* ------------------------------------------------------------ handlers */

static void h_tag(struct lc_http_exchange *ex, void *data)
{
    char tag[600];
    (void)data;
    lc_filter_distro_tag(ex, tag, sizeof tag);
    lc_http_reply_text(ex, 200, "%s", tag);
}

static void h_forward(struct lc_http_exchange *ex, void *data)
{
    struct env *env = data;
    lc_ns_forward(&env->n, ex, env->to);
}

static void h_target(struct lc_http_exchange *ex, void *data)
{
    struct env *env = data;
    const char *name;
    const char *value;
    size_t len = 0;

    lc_strlcpy(env->method, lc_http_method_name(ex), sizeof env->method);
    lc_strlcpy(env->path, lc_http_path(ex), sizeof env->path);
    env->params[0] = env->headers[0] = '\0';
    for (size_t i = 0; lc_http_param_at(ex, i, &name, &value); i++) {
        len += (size_t)snprintf(env->params + len, sizeof env->params - len,
                                "%s=%s\n", name, value);
    }
    len = 0;
    for (size_t i = 0; lc_http_header_at(ex, i, &name, &value); i++) {
        len += (size_t)snprintf(env->headers + len, sizeof env->headers - len,
                                "%s: %s\n", name, value);
    }
    lc_http_body(ex, &env->body_len);
    lc_http_reply_text(ex, env->answer_status, "%s", env->answer_body);
}

/* --------------------------------------------------------------- setup */

static int listen_silent(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 16), 0);
    return fd;
}

static int setup(void **state)
{
    struct env *env = calloc(1, sizeof *env);
    struct lc_member_conf confs[4];
    char err[256];

    assert_non_null(env);
    assert_int_equal(uv_loop_init(&env->loop), 0);
    env->front_port = tc_port_reserve_one();
    env->target_port = tc_port_reserve_one();
    env->dead_port = tc_port_reserve_one();
    env->silent_port = tc_port_reserve_one();
    assert_true(env->front_port > 0 && env->target_port > 0 &&
                env->dead_port > 0 && env->silent_port > 0);
    env->front = lc_http_server_new(&env->loop, NULL);
    env->target = lc_http_server_new(&env->loop, NULL);
    assert_int_equal(
        lc_http_server_route(env->front, LC_HTTP_ANY, "/tag", h_tag, env), 0);
    assert_int_equal(lc_http_server_route(env->front, LC_HTTP_ANY,
                                          "/nacos/v1/ns/instance", h_forward,
                                          env),
                     0);
    assert_int_equal(lc_http_server_route(env->target, LC_HTTP_ANY,
                                          "/nacos/v1/ns/instance", h_target,
                                          env),
                     0);
    assert_int_equal(
        lc_http_server_listen(env->front, "127.0.0.1", env->front_port), 0);
    assert_int_equal(
        lc_http_server_listen(env->target, "127.0.0.1", env->target_port), 0);
    env->silent_fd = listen_silent(env->silent_port);

    confs[0] = (struct lc_member_conf){"127.0.0.1", env->front_port};
    confs[1] = (struct lc_member_conf){"127.0.0.1", env->target_port};
    confs[2] = (struct lc_member_conf){"127.0.0.1", env->dead_port};
    confs[3] = (struct lc_member_conf){"127.0.0.1", env->silent_port};
    assert_int_equal(
        lc_members_new(confs, 4, &confs[0], &env->members, err, sizeof err), 0);
    env->n.loop = &env->loop;
    env->n.members = env->members;
    *state = env;
    return 0;
}

static void on_srv_closed(struct lc_http_server *srv, void *data)
{
    (void)srv;
    (*(int *)data)--;
}

static int teardown(void **state)
{
    struct env *env = *state;
    int open = 2;

    lc_ns_forward_close(env->n.forward);
    lc_http_server_close(env->front, 0, on_srv_closed, &open);
    lc_http_server_close(env->target, 0, on_srv_closed, &open);
    while (open > 0) {
        uv_run(&env->loop, UV_RUN_ONCE);
    }
    uv_run(&env->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&env->loop), 0);
    close(env->silent_fd);
    lc_members_free(env->members);
    tc_port_release(env->front_port);
    tc_port_release(env->target_port);
    tc_port_release(env->dead_port);
    tc_port_release(env->silent_port);
    free(env);
    return 0;
}

/* ------------------------------------------------------------- client */

struct result {
    struct lc_http_call call;
    bool done;
    int status;
    int http_status;
    bool sent;
    char body[1024];
};

static void on_result(struct lc_http_call *call, int status, int http_status,
                      const char *body, size_t len)
{
    struct result *r = call->data;
    r->done = true;
    r->status = status;
    r->http_status = http_status;
    r->sent = status != 0 && lc_http_call_sent(call);
    snprintf(r->body, sizeof r->body, "%.*s", (int)len,
             body != NULL ? body : "");
}

/* Send @req to @port on the env's loop and run it until answered (at most
 * 10 s). */
static void call(struct env *env, int port, const struct lc_http_req *req,
                 struct result *r)
{
    struct lc_http_conn *conn;
    uint64_t deadline = uv_now(&env->loop) + 10000;

    memset(r, 0, sizeof *r);
    r->call.data = r;
    assert_int_equal(lc_http_conn_new(&env->loop, "127.0.0.1", port, 0, &conn),
                     0);
    assert_int_equal(lc_http_conn_request(conn, &r->call, req, on_result), 0);
    while (!r->done && uv_now(&env->loop) < deadline) {
        uv_run(&env->loop, UV_RUN_ONCE);
    }
    assert_true(r->done);
    lc_http_conn_close(conn);
}

static void tag_of(struct env *env, const char *method, const char *query,
                   const char *form, const char *want)
{
    char path[1024];
    struct result r;
    struct lc_http_req req = {.method = method, .path = path};

    snprintf(path, sizeof path, "/tag%s%s", query != NULL ? "?" : "",
             query != NULL ? query : "");
    if (form != NULL) {
        req.content_type = FORM;
        req.body = form;
        req.len = strlen(form);
    }
    call(env, env->front_port, &req, &r);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.http_status, 200);
    if (strcmp(r.body, want) != 0) {
        fail_msg("tag of ?%s [%s]: \"%s\", want \"%s\"", query,
                 form != NULL ? form : "", r.body, want);
    }
}

/* --------------------------------------------------------------- tests */

static const struct lc_member *member(struct env *env, int port)
{
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    return lc_members_find(env->members, addr);
}

static void test_tag(void **state)
{
    struct env *env = *state;

    /* Parameters, trimmed; the query before the form. */
    tag_of(env, "POST", "ip=127.0.0.5&port=8080", NULL, "127.0.0.5:8080");
    tag_of(env, "POST", "ip=%20127.0.0.5%20&port=%208080%20", NULL,
           "127.0.0.5:8080");
    tag_of(env, "DELETE", NULL, "serviceName=s&ip=127.0.0.6&port=81",
           "127.0.0.6:81");
    tag_of(env, "PUT", "ip=127.0.0.7", "ip=127.0.0.8&port=82", "127.0.0.7:82");
    /* Blank port: 0. No ip: Java's "null". */
    tag_of(env, "POST", "ip=127.0.0.5", NULL, "127.0.0.5:0");
    tag_of(env, "POST", "ip=127.0.0.5&port=%20", NULL, "127.0.0.5:0");
    tag_of(env, "PUT", "serviceName=s", NULL, "null:0");
    tag_of(env, "PUT", "port=9", NULL, "null:9");
    /* A port that is not a number is used as written (the checks come
     * later, on the responsible member). */
    tag_of(env, "POST", "ip=127.0.0.5&port=x", NULL, "127.0.0.5:x");
    /* Beat JSON when ip is blank: its ip and port (0 when absent). */
    tag_of(env, "PUT",
           "beat=%7B%22ip%22%3A%22127.0.0.9%22%2C%22port%22%3A7001%7D", NULL,
           "127.0.0.9:7001");
    tag_of(env, "PUT", "ip=%20&beat=%7B%22ip%22%3A%22127.0.0.9%22%7D", NULL,
           "127.0.0.9:0");
    tag_of(env, "PUT",
           "port=5&beat=%7B%22ip%22%3A%22127.0.0.9%22%2C%22port%22%3A6%2C"
           "%22scheduled%22%3Atrue%7D",
           NULL, "127.0.0.9:6");
    /* ip given: the beat is not read. */
    tag_of(env, "PUT",
           "ip=127.0.0.1&port=1&beat=%7B%22ip%22%3A%22127.0.0.9%22%7D", NULL,
           "127.0.0.1:1");
    /* Beat without ip: null, with the beat's port. */
    tag_of(env, "PUT", "beat=%7B%22port%22%3A3%7D", NULL, "null:3");
    tag_of(env, "PUT", "beat=%7B%22ip%22%3Anull%7D", NULL, "null:0");
    /* A beat that does not bind as RsInfo changes nothing. */
    tag_of(env, "PUT", "port=4&beat=%7Bnot%20json", NULL, "null:4");
    tag_of(env, "PUT", "port=4&beat=%5B1%5D", NULL, "null:4");
    tag_of(env, "PUT", "port=4&beat=%7B%22ip%22%3A1%7D", NULL, "null:4");
    tag_of(env, "PUT",
           "port=4&beat=%7B%22ip%22%3A%22127.0.0.9%22%2C%22port%22%3A%22x%22"
           "%7D",
           NULL, "null:4");
    tag_of(env, "PUT",
           "port=4&beat=%7B%22ip%22%3A%22127.0.0.9%22%2C%22port%22%3A"
           "99999999999%7D",
           NULL, "null:4");
    /* The beat's ip is trimmed too. */
    tag_of(env, "PUT", "beat=%7B%22ip%22%3A%22%20127.0.0.9%20%22%7D", NULL,
           "127.0.0.9:0");
}

static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n') {
            return true;
        }
    }
    return false;
}

static unsigned count_prefix(const char *text, const char *prefix)
{
    unsigned c = 0;
    size_t n = strlen(prefix);
    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncasecmp(p, prefix, n) == 0) {
            c++;
        }
        p = strchr(p, '\n');
        p = p != NULL ? p + 1 : NULL;
    }
    return c;
}

static void test_forward(void **state)
{
    struct env *env = *state;
    static const char *const headers[] = {
        "X-Custom",
        "one",
        "User-Agent",
        "Nacos-Java-Client:v2.4.3",
        "x-custom",
        "two",
        "Accept-Charset",
        "latin1",
        "Connection",
        "keep-alive",
        NULL,
    };
    struct lc_http_req req = {
        .method = "PUT",
        .path = "/nacos/v1/ns/instance?serviceName=svc&ip=127.0.0.5&ip=127.0."
                "0.6&q=a%20b%26c",
        .content_type = FORM,
        .body = "port=8080&weight=2&q=ignored",
        .len = 28,
        .headers = headers,
    };
    char want[300];
    struct result r;

    env->to = member(env, env->target_port);
    assert_int_equal(env->to->port, env->target_port);
    env->answer_status = 400;
    env->answer_body = "instance format invalid: The weights range from 0.0 "
                       "to 10000.0";
    call(env, env->front_port, &req, &r);
    assert_int_equal(r.status, 0);
    /* The target's status and body. */
    assert_int_equal(r.http_status, 400);
    assert_string_equal(r.body, env->answer_body);
    /* The same method and path; the first value of each parameter, the
     * form's too, then encoding and nofix; no body (the form was read). */
    assert_string_equal(env->method, "PUT");
    assert_string_equal(env->path, "/nacos/v1/ns/instance");
    assert_true(has_line(env->params, "serviceName=svc"));
    assert_true(has_line(env->params, "ip=127.0.0.5"));
    assert_false(has_line(env->params, "ip=127.0.0.6"));
    assert_true(has_line(env->params, "q=a b&c"));
    assert_false(has_line(env->params, "q=ignored"));
    assert_true(has_line(env->params, "port=8080"));
    assert_true(has_line(env->params, "weight=2"));
    assert_true(has_line(env->params, "encoding=UTF-8"));
    assert_true(has_line(env->params, "nofix=1"));
    assert_int_equal(env->body_len, 0);
    /* Headers: copied (the first of each name), then overridden. */
    assert_true(has_line(env->headers, "X-Custom: one"));
    assert_int_equal(count_prefix(env->headers, "X-Custom:"), 1);
    assert_true(has_line(env->headers, "User-Agent: Nacos-Server:2.4.3"));
    assert_int_equal(count_prefix(env->headers, "User-Agent:"), 1);
    assert_true(has_line(env->headers, "Client-Version: 2.4.3"));
    snprintf(want, sizeof want, "Request-Source: 127.0.0.1:%d",
             env->front_port);
    assert_true(has_line(env->headers, want));
    assert_true(has_line(env->headers, "Accept-Charset: UTF-8"));
    assert_int_equal(count_prefix(env->headers, "Accept-Charset:"), 1);
    assert_true(has_line(env->headers, "Content-Type: " FORM));
    assert_int_equal(count_prefix(env->headers, "Content-Type:"), 1);
    assert_int_equal(count_prefix(env->headers, "Host:"), 1);
    snprintf(want, sizeof want, "Host: 127.0.0.1:%d", env->target_port);
    assert_true(has_line(env->headers, want));

    /* A body that is not a form is sent on; 200 relayed. */
    env->answer_status = 200;
    env->answer_body = "ok";
    req.content_type = "text/plain";
    req.body = "raw";
    req.len = 3;
    req.headers = NULL;
    call(env, env->front_port, &req, &r);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.http_status, 200);
    assert_string_equal(r.body, "ok");
    assert_int_equal(env->body_len, 3);

    /* Keep-alive: many forwards in a row, some at once, all answered. */
    {
        struct result rs[12];
        struct lc_http_conn *conns[12];
        uint64_t deadline = uv_now(&env->loop) + 10000;
        bool all;
        req.content_type = FORM;
        req.body = "";
        req.len = 0;
        for (int i = 0; i < 12; i++) {
            memset(&rs[i], 0, sizeof rs[i]);
            rs[i].call.data = &rs[i];
            assert_int_equal(lc_http_conn_new(&env->loop, "127.0.0.1",
                                              env->front_port, 0, &conns[i]),
                             0);
            assert_int_equal(
                lc_http_conn_request(conns[i], &rs[i].call, &req, on_result),
                0);
        }
        do {
            uv_run(&env->loop, UV_RUN_ONCE);
            all = true;
            for (int i = 0; i < 12; i++) {
                all = all && rs[i].done;
            }
        } while (!all && uv_now(&env->loop) < deadline);
        for (int i = 0; i < 12; i++) {
            assert_true(rs[i].done);
            assert_int_equal(rs[i].http_status, 200);
            lc_http_conn_close(conns[i]);
        }
    }
}

static void test_forward_failures(void **state)
{
    struct env *env = *state;
    struct lc_http_req req = {
        .method = "POST",
        .path = "/nacos/v1/ns/instance?serviceName=svc&ip=127.0.0.5&port=1",
    };
    struct result r;
    uint64_t t0;

    /* Refused. */
    env->to = member(env, env->dead_port);
    assert_int_equal(env->to->port, env->dead_port);
    call(env, env->front_port, &req, &r);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.http_status, 500);
    assert_string_equal(r.body,
                        "java.net.ConnectException: Connection refused");

    /* Connected, never answered: the read timeout (2 s). */
    env->to = member(env, env->silent_port);
    assert_int_equal(env->to->port, env->silent_port);
    uv_update_time(&env->loop);
    t0 = uv_now(&env->loop);
    call(env, env->front_port, &req, &r);
    assert_int_equal(r.http_status, 500);
    assert_string_equal(r.body,
                        "java.net.SocketTimeoutException: Read timed out");
    assert_true(uv_now(&env->loop) - t0 >= 1900);
}

/* The client's own timeouts: read (sent, then silence) and connect. */
static void test_client_timeouts(void **state)
{
    struct env *env = *state;
    struct lc_http_req req = {
        .method = "GET",
        .path = "/x",
        .connect_timeout_ms = 300,
        .read_timeout_ms = 200,
    };
    static const char *const bad[] = {"X-Bad", "a\r\nb", NULL};
    static const char *const bad_name[] = {"X Bad", "a", NULL};
    struct lc_http_conn *conn;
    struct result r;

    call(env, env->silent_port, &req, &r);
    assert_int_equal(r.status, LC_ETIMEDOUT);
    assert_true(r.sent);
    call(env, env->dead_port, &req, &r);
    assert_int_equal(r.status, LC_ECONN);
    assert_false(r.sent);

    assert_int_equal(
        lc_http_conn_new(&env->loop, "127.0.0.1", env->target_port, 0, &conn),
        0);
    req.headers = bad;
    assert_int_equal(lc_http_conn_request(conn, &r.call, &req, on_result),
                     LC_EINVAL);
    req.headers = bad_name;
    assert_int_equal(lc_http_conn_request(conn, &r.call, &req, on_result),
                     LC_EINVAL);
    lc_http_conn_close(conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_timeouts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
