/* Auth on real locusd processes: the HTTP gate (server/gate.c) and the
 * gRPC gate (naming/grpc/routes.c) in front of every naming, admin and
 * user-management route, the start refusals, tokens from Nacos's signer,
 * permissions, brute force, bypass attempts, and a cluster whose members
 * forward with the peer identity and apply a role's removal together.
 *
 * Auth off must leave everything as it was; with auth on, every refused
 * request must answer Spring's 403 JSON and change nothing. */
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
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "rpc/grpc/grpc.h"
#include "rpc/grpc/nclient.h"
#include "rpc/grpc/rpc.h"
#include "test/support/tcluster.h"

#define IP "127.12.0.1"
#define CT_FORM "application/x-www-form-urlencoded"

/* base64 of "locus-auth-gate-test-key-32bytes" (32 bytes: HS256). */
#define SECRET "bG9jdXMtYXV0aC1nYXRlLXRlc3Qta2V5LTMyYnl0ZXM="
#define ID_KEY "X-Locus-Peer"
#define ID_VALUE "peer-identity-value-for-tests-0123"
#define ADMIN_PASS "Admin-Pass-1"

#define AUTH_CONF                                                              \
    "nacos.core.auth.enabled=true\n"                                           \
    "nacos.core.auth.plugin.nacos.token.secret.key=" SECRET "\n"               \
    "nacos.core.auth.server.identity.key=" ID_KEY "\n"                         \
    "nacos.core.auth.server.identity.value=" ID_VALUE "\n"                     \
    "locus.auth.login.max_fails_per_user=3\n"                                  \
    "locus.auth.login.max_fails_per_ip=1000\n"                                 \
    "locus.auth.login.fail_window_s=120\n"

/* Tokens computed independently of locus with Python's hmac module:
 *
 *   import base64, hmac, hashlib
 *   u = lambda b: base64.urlsafe_b64encode(b).rstrip(b'=').decode()
 *   def tok(key, sub, exp, h='eyJhbGciOiJIUzI1NiJ9', hf=hashlib.sha256):
 *       p = u(('{"sub":"%s","exp":%d}' % (sub, exp)).encode())
 *       return h + '.' + p + '.' + u(hmac.new(key, (h + '.' + p).encode(),
 *                                             hf).digest())
 *   key = b'locus-auth-gate-test-key-32bytes'
 *   tok(key, 'nacos', 4102444800)                          # TOK_NACOS
 *   tok(key, 'nacos', 1000000000)                          # TOK_EXPIRED
 *   old = base64.b64decode('SecretKey0123456789012345678901234567890123'
 *                          '45678901234567890123456789'[:68])
 *   tok(old, 'nacos', 4102444800)                          # TOK_OLD256
 *   tok(old, 'nacos', 4102444800, 'eyJhbGciOiJIUzM4NCJ9',
 *       hashlib.sha384)                                    # TOK_OLD384
 *   tok(key, 'nacos', 4102444800, 'eyJhbGciOiJIUzM4NCJ9',
 *       hashlib.sha384)                                    # TOK_HS384
 *   tok(key, 'nacos', 4102444800, u(b'{"alg": "HS256"}'))  # TOK_SPACED
 *   u(b'{"alg":"none"}') + '.' + u(b'{"sub":"nacos","exp":4102444800}')
 *       + '.'                                              # TOK_NONE
 */
#define TOK_NACOS                                                              \
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJuYWNvcyIsImV4cCI6NDEwMjQ0NDgwMH0."        \
    "iTVN5tkGZvCezaiWRpRHW1jyh6h9nEsevRH97vPzFKk"
#define TOK_EXPIRED                                                            \
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJuYWNvcyIsImV4cCI6MTAwMDAwMDAwMH0."        \
    "B5SbVkd6joTRZGmNNIRJbzWB0HmUsG74WU51dsaQjCY"
#define TOK_OLD256                                                             \
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJuYWNvcyIsImV4cCI6NDEwMjQ0NDgwMH0."        \
    "Ne9QT0coKw7Buxszf22cTOD-AGvJ1fRhyZT2hYdEojY"
#define TOK_OLD384                                                             \
    "eyJhbGciOiJIUzM4NCJ9.eyJzdWIiOiJuYWNvcyIsImV4cCI6NDEwMjQ0NDgwMH0."        \
    "iAfsp0_9i8jvXXKRlia3dAbYtvDRys0yeslMPd2pD1_C4Ob85AQfpvf9Amk5HtP-"
#define TOK_HS384                                                              \
    "eyJhbGciOiJIUzM4NCJ9.eyJzdWIiOiJuYWNvcyIsImV4cCI6NDEwMjQ0NDgwMH0."        \
    "5i9O-Tj27aJWdE7V1X_ljkrRXJZaMJOvHYXTMVV90FsfawAf9970PxUYIFtBsRmb"
#define TOK_SPACED                                                             \
    "eyJhbGciOiAiSFMyNTYifQ.eyJzdWIiOiJuYWNvcyIsImV4cCI6NDEwMjQ0NDgwMH0."      \
    "foQ0s-KfnJ14jRyHxOhE6oK0QoZ72-0SE6-B8FHoIqY"
#define TOK_NONE                                                               \
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiJuYWNvcyIsImV4cCI6NDEwMjQ0NDgwMH0."

/* ------------------------------------------------------------ raw HTTP */

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

/* @method @target (sent as written: path and query) to node @i with extra
 * header lines @headers ("Name: value\r\n"..., or NULL) and a form body
 * @form (or NULL). Return the status (-1: no answer); *@body (if not
 * NULL) gets the body, malloc'd. */
static int req(struct tc *t, unsigned i, const char *method, const char *target,
               const char *headers, const char *form, char **body)
{
    static char in[1 << 17];
    char head[8192];
    size_t got = 0;
    int fd = connect_to(t->c.nodes[i].port);
    int n;
    int status = -1;
    char *sep;

    n = snprintf(head, sizeof head,
                 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s",
                 method, target, headers != NULL ? headers : "");
    assert_true(n > 0 && (size_t)n < sizeof head - 128);
    if (form != NULL) {
        n += snprintf(head + n, sizeof head - (size_t)n,
                      "Content-Type: " CT_FORM "\r\nContent-Length: %zu\r\n",
                      strlen(form));
    }
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    assert_int_equal(send(fd, head, (size_t)n, MSG_NOSIGNAL), n);
    if (form != NULL && form[0] != '\0') {
        send(fd, form, strlen(form), MSG_NOSIGNAL);
    }
    for (;;) {
        ssize_t r = recv(fd, in + got, sizeof in - 1 - got, 0);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    in[got] = '\0';
    if (body != NULL) {
        *body = NULL;
    }
    if (sscanf(in, "HTTP/1.1 %d", &status) != 1) {
        return -1;
    }
    sep = strstr(in, "\r\n\r\n");
    if (body != NULL) {
        *body = strdup(sep != NULL ? sep + 4 : "");
    }
    return status;
}

/* Spring's 403 for @path, with @msg when not NULL. */
static void assert_spring_403(int status, const char *body, const char *path,
                              const char *msg)
{
    char want[4096];
    if (status != 403 || body == NULL ||
        strncmp(body, "{\"timestamp\":\"", 14) != 0 ||
        strstr(body, "\"status\":403,\"error\":\"Forbidden\",\"message\":\"") ==
            NULL) {
        fail_msg("want Spring's 403 for %s, got %d %s", path, status,
                 body != NULL ? body : "(none)");
    }
    snprintf(want, sizeof want, "\"path\":\"%s\"}", path);
    if (strstr(body, want) == NULL) {
        fail_msg("403 without path %s: %s", path, body);
    }
    if (msg != NULL) {
        snprintf(want, sizeof want, "\"message\":\"%s\"", msg);
        if (strstr(body, want) == NULL) {
            fail_msg("403 without message '%s': %s", msg, body);
        }
    }
}

/* @method @target must answer Spring's 403 (message @msg unless NULL). */
static void refused(struct tc *t, unsigned i, const char *method,
                    const char *target, const char *headers, const char *msg)
{
    char *body = NULL;
    char path[2048];
    int st = req(t, i, method, target, headers, NULL, &body);
    size_t n = strcspn(target, "?");
    snprintf(path, sizeof path, "%.*s", (int)n, target);
    if (st != 403) {
        fail_msg("%s %s%s%s: want 403, got %d %s", method, target,
                 headers != NULL ? " with " : "",
                 headers != NULL ? headers : "", st, body != NULL ? body : "");
    }
    assert_spring_403(st, body, path, msg);
    free(body);
}

/* @method @target must answer @want. */
static void answers(struct tc *t, unsigned i, const char *method,
                    const char *target, const char *headers, int want)
{
    char *body = NULL;
    int st = req(t, i, method, target, headers, NULL, &body);
    if (st != want) {
        fail_msg("%s %s: want %d, got %d %s", method, target, want, st,
                 body != NULL ? body : "");
    }
    free(body);
}

/* ---------------------------------------------------------- the store */

/* POST /v1/auth/users/admin: the admin "nacos" with ADMIN_PASS. */
static void init_admin(struct tc *t, unsigned i)
{
    char *body = NULL;
    int st =
        req(t, i, "POST", "/nacos/v1/auth/users/admin?password=" ADMIN_PASS,
            NULL, NULL, &body);
    if (st != 200 || strstr(body, "\"username\":\"nacos\"") == NULL) {
        fail_msg("admin init: %d %s", st, body != NULL ? body : "");
    }
    free(body);
}

/* Log @user in on node @i; the token into @out. */
static void login(struct tc *t, unsigned i, const char *user, const char *pass,
                  char *out, size_t size)
{
    char form[256];
    char *body = NULL;
    json_t *root;
    int st;

    snprintf(form, sizeof form, "username=%s&password=%s", user, pass);
    st = req(t, i, "POST", "/nacos/v1/auth/login", NULL, form, &body);
    root = st == 200 ? json_loads(body, 0, NULL) : NULL;
    if (root == NULL ||
        json_string_value(json_object_get(root, "accessToken")) == NULL) {
        fail_msg("login %s: %d %s", user, st, body != NULL ? body : "");
    }
    snprintf(out, size, "%s",
             json_string_value(json_object_get(root, "accessToken")));
    json_decref(root);
    free(body);
}

/* @method /nacos/v1/auth/<what>?<query>&accessToken=<admin> must be 200. */
static void manage(struct tc *t, unsigned i, const char *tok,
                   const char *method, const char *what, const char *query)
{
    char target[2048];
    char *body = NULL;
    int st;
    snprintf(target, sizeof target, "/nacos/v1/auth/%s?%s&accessToken=%s", what,
             query, tok);
    st = req(t, i, method, target, NULL, NULL, &body);
    if (st != 200) {
        fail_msg("%s %s: %d %s", method, target, st, body != NULL ? body : "");
    }
    free(body);
}

/* How many hosts node @i lists for @service in @ns, read with token @tok
 * (-1: the list could not be read). */
static int hosts(struct tc *t, unsigned i, const char *tok, const char *ns,
                 const char *service)
{
    char target[2048];
    char *body = NULL;
    json_t *root;
    int n = -1;
    snprintf(target, sizeof target,
             "/nacos/v1/ns/instance/list?serviceName=%s&namespaceId=%s"
             "&accessToken=%s",
             service, ns, tok);
    if (req(t, i, "GET", target, NULL, NULL, &body) == 200 &&
        (root = json_loads(body, 0, NULL)) != NULL) {
        n = (int)json_array_size(json_object_get(root, "hosts"));
        json_decref(root);
    }
    free(body);
    return n;
}

/* Register IP:@port into @service of @ns with credentials @cred ("" or
 * "&accessToken=..." / "&username=..&password=.."); the status. */
static int reg(struct tc *t, unsigned i, const char *ns, const char *service,
               int port, const char *cred, const char *headers)
{
    char target[4096];
    snprintf(target, sizeof target,
             "/nacos/v1/ns/instance?serviceName=%s&namespaceId=%s&ip=" IP
             "&port=%d&ephemeral=false%s",
             service, ns, port, cred);
    return req(t, i, "POST", target, headers, NULL, NULL);
}

/* --------------------------------------------------------------- tests */

/* Auth off: every route works without credentials, as before. */
static void test_auth_off(void **state)
{
    struct tc *t = *state;
    char *body = NULL;

    tc_up(t, "auth-off", 1, NULL);
    assert_int_equal(reg(t, 0, "public", "off-svc", 1, "", NULL), 200);
    assert_int_equal(
        reg(t, 0, "public", "off-svc", 2, "&accessToken=junk", NULL), 200);
    assert_int_equal(hosts(t, 0, "junk", "public", "off-svc"), 2);
    answers(t, 0, "GET", "/nacos/v1/core/cluster/nodes", NULL, 200);
    answers(t, 0, "GET", "/v1/core/raft/groups", NULL, 200);
    assert_int_equal(req(t, 0, "PUT",
                         "/nacos/v1/ns/operator/switches?entry=distroThreshold"
                         "&value=0.7",
                         NULL, NULL, &body),
                     200);
    free(body);
    assert_false(tc_log_contains(t, 0, "not in the auth gate's table"));
    tc_pass(t);
}

/* Run locusd with @args (shell words) and expect it to refuse to start:
 * a non-zero exit and @key in what it printed; @hidden never. */
static void refuses(struct tc *t, const char *args, const char *key,
                    const char *hidden)
{
    char cmd[4096];
    char out[8192];
    size_t n;
    int rc;
    FILE *p;

    snprintf(cmd, sizeof cmd, "'%s' --data-dir '%s/refused' %s 2>&1",
             tc_locusd(), t->tmp, args);
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    rc = pclose(p);
    if (!WIFEXITED(rc) || WEXITSTATUS(rc) == 0) {
        fail_msg("locusd started with %s: %s", args, out);
    }
    if (strstr(out, key) == NULL) {
        fail_msg("refusal without %s: %s", key, out);
    }
    if (hidden != NULL && strstr(out, hidden) != NULL) {
        fail_msg("refusal shows %s: %s", hidden, out);
    }
}

static void test_start_refusals(void **state)
{
    struct tc *t = *state;
    char base[256];
    char cluster[512];
    char args[1024];
    int port;

    tc_init(t, "auth-refuse", 1, NULL);
    port = t->c.nodes[0].port;
    snprintf(base, sizeof base,
             "--standalone --port %d --set nacos.core.auth.enabled=true", port);
    refuses(t, base, "nacos.core.auth.plugin.nacos.token.secret.key", NULL);
    /* 16 bytes */
    snprintf(args, sizeof args,
             "%s --set nacos.core.auth.plugin.nacos.token.secret.key="
             "c2hvcnQtc2VjcmV0LTE2Qg==",
             base);
    refuses(t, args, "nacos.core.auth.plugin.nacos.token.secret.key",
            "c2hvcnQtc2VjcmV0LTE2Qg");
    snprintf(args, sizeof args,
             "%s --set 'nacos.core.auth.plugin.nacos.token.secret.key="
             "not*base64*at*all*not*base64*at*all*not*base64*'",
             base);
    refuses(t, args, "nacos.core.auth.plugin.nacos.token.secret.key",
            "not*base64");
    snprintf(args, sizeof args,
             "%s --set nacos.core.auth.plugin.nacos.token.secret.key="
             "SecretKey012345678901234567890123456789012345678901234567890"
             "123456789",
             base);
    refuses(t, args, "nacos.core.auth.plugin.nacos.token.secret.key",
            "SecretKey0123");
    snprintf(args, sizeof args,
             "%s --set nacos.core.auth.plugin.nacos.token.secret.key="
             "VGhpc0lzTXlDdXN0b21TZWNyZXRLZXkwMTIzNDU2Nzg=",
             base);
    refuses(t, args, "nacos.core.auth.plugin.nacos.token.secret.key",
            "VGhpc0lzTXlDdXN0b21");
    snprintf(args, sizeof args,
             "%s --set nacos.core.auth.plugin.nacos.token.secret.key=" SECRET
             " --set nacos.core.auth.enable.userAgentAuthWhite=true",
             base);
    refuses(t, args, "nacos.core.auth.enable.userAgentAuthWhite", SECRET);
    snprintf(args, sizeof args,
             "%s --set nacos.core.auth.plugin.nacos.token.secret.key=" SECRET
             " --set nacos.core.auth.system.type=ldap",
             base);
    refuses(t, args, "nacos.core.auth.system.type", SECRET);
    /* A cluster needs the identity, and not Nacos's old default. */
    snprintf(cluster, sizeof cluster,
             "--port %d --set nacos.member.list=127.0.0.1:%d,127.0.0.1:%d "
             "--set locus.cluster.secret=0123456789abcdef0123 --set "
             "nacos.core.auth.enabled=true --set "
             "nacos.core.auth.plugin.nacos.token.secret.key=" SECRET,
             port, port, port + 1);
    refuses(t, cluster, "nacos.core.auth.server.identity", SECRET);
    snprintf(args, sizeof args,
             "%s --set nacos.core.auth.server.identity.key=serverIdentity "
             "--set nacos.core.auth.server.identity.value=security",
             cluster);
    refuses(t, args, "nacos.core.auth.server.identity", NULL);
    snprintf(args, sizeof args,
             "%s --set nacos.core.auth.server.identity.key=X-Peer "
             "--set nacos.core.auth.server.identity.value:SHOULD-NOT-SHOW",
             cluster);
    refuses(t, args, "--set", "SHOULD-NOT-SHOW");
    tc_pass(t);
}

/* Without credentials nothing passes; tokens travel in every way Nacos
 * takes them; bad tokens are refused; a token signed elsewhere with the
 * same secret is accepted. */
static void test_http_tokens(void **state)
{
    struct tc *t = *state;
    char tok[1024];
    char cred[1200];
    char hdr[1200];
    static const struct {
        const char *token;
        const char *msg;
    } bad[] = {
        {TOK_EXPIRED, "token expired!"},
        {TOK_NACOS "x", "Invalid signature"},
        {TOK_OLD256, "Invalid signature"},
        {TOK_OLD384, NULL},
        /* The HS384 header on the HS256 signature. */
        {"eyJhbGciOiJIUzM4NCJ9.eyJzdWIiOiJuYWNvcyIsImV4cCI6NDEwMjQ0NDgwMH0."
         "iTVN5tkGZvCezaiWRpRHW1jyh6h9nEsevRH97vPzFKk",
         "Invalid signature"},
        {"eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJuYWNvcyIsImV4cCI6NDEwMjQ0NDgwMH0."
         "iTVN5tkGZvCezaiWRpRHW1jyh6h9nEsevRH97vPzFKk",
         "Invalid signature"},
        {TOK_SPACED, NULL},
        {TOK_NONE, NULL},
        {"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJuYWNvcyIsImV4cCI6NDEwMjQ0NDgwMH0",
         "token invalid!"},
        {"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJuYWNvcyIsImV4cCI6NDEwMjQ0NDgwMH0."
         "iTVN5tkGZvCezaiWRpRHW1jyh6h9nEs",
         "Invalid signature"},
    };

    tc_up(t, "auth-tokens", 1, AUTH_CONF);
    assert_false(tc_log_contains(t, 0, "not in the auth gate's table"));
    /* Nothing without credentials, on v1 and v2 alike. */
    refused(t, 0, "POST",
            "/nacos/v1/ns/instance?serviceName=tok-svc&ip=" IP "&port=1", NULL,
            "user not found!");
    refused(t, 0, "POST",
            "/nacos/v2/ns/instance?serviceName=tok-svc&ip=" IP "&port=1", NULL,
            NULL);
    refused(t, 0, "GET", "/nacos/v1/ns/instance/list?serviceName=tok-svc", NULL,
            NULL);
    refused(t, 0, "GET", "/nacos/v1/core/cluster/nodes", NULL, NULL);
    refused(t, 0, "GET", "/nacos/v1/auth/users?pageNo=1&pageSize=10", NULL,
            NULL);
    /* Unsecured in Nacos, unsecured here. */
    answers(t, 0, "GET", "/nacos/v1/ns/operator/metrics", NULL, 200);
    answers(t, 0, "GET", "/nacos/v1/ns/operator/switches", NULL, 200);

    init_admin(t, 0);
    login(t, 0, "nacos", ADMIN_PASS, tok, sizeof tok);
    assert_int_equal(hosts(t, 0, tok, "public", "tok-svc"), 0);

    /* accessToken parameter, accessToken header (any case), Bearer. */
    snprintf(cred, sizeof cred, "&accessToken=%s", tok);
    assert_int_equal(reg(t, 0, "public", "tok-svc", 1, cred, NULL), 200);
    snprintf(hdr, sizeof hdr, "accesstoken: %s\r\n", tok);
    assert_int_equal(reg(t, 0, "public", "tok-svc", 2, "", hdr), 200);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", tok);
    assert_int_equal(reg(t, 0, "public", "tok-svc", 3, "", hdr), 200);
    /* Authorization without "Bearer " is no token. */
    snprintf(hdr, sizeof hdr, "Authorization: %s\r\n", tok);
    assert_int_equal(reg(t, 0, "public", "tok-svc", 9, "", hdr), 403);
    /* username and password on each request, as the npm client does. */
    assert_int_equal(reg(t, 0, "public", "tok-svc", 4,
                         "&username=nacos&password=" ADMIN_PASS, NULL),
                     200);
    assert_int_equal(reg(t, 0, "public", "tok-svc", 5,
                         "&username=nacos&password=" ADMIN_PASS, NULL),
                     200);
    assert_int_equal(reg(t, 0, "public", "tok-svc", 9,
                         "&username=nacos&password=wrong", NULL),
                     403);
    /* Signed by Python with the cluster's secret. */
    assert_int_equal(
        reg(t, 0, "public", "tok-svc", 6, "&accessToken=" TOK_NACOS, NULL),
        200);
    /* Nacos takes any of its three headers with the secret, as long as
     * the signature is that header's HMAC. */
    assert_int_equal(
        reg(t, 0, "public", "tok-svc", 7, "&accessToken=" TOK_HS384, NULL),
        200);
    assert_int_equal(hosts(t, 0, tok, "public", "tok-svc"), 7);

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char target[2048];
        snprintf(target, sizeof target,
                 "/nacos/v1/ns/instance?serviceName=tok-svc&ip=" IP
                 "&port=%zu&accessToken=%s",
                 100 + i, bad[i].token);
        refused(t, 0, "POST", target, NULL, bad[i].msg);
        snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", bad[i].token);
        snprintf(target, sizeof target,
                 "/nacos/v1/ns/instance?serviceName=tok-svc&ip=" IP "&port=%zu",
                 200 + i);
        refused(t, 0, "POST", target, hdr, bad[i].msg);
    }
    assert_int_equal(hosts(t, 0, tok, "public", "tok-svc"), 7);
    tc_pass(t);
}

/* Permissions: r on one namespace, rw patterns, admin-only endpoints. */
static void test_permissions(void **state)
{
    struct tc *t = *state;
    char adm[1024];
    char target[2048];
    static const char alice[] = "&username=alice&password=Alice-Pass-1";
    static const char bob[] = "&username=bob&password=Bob-Pass-1";
    char alice_tok[1024];
    char hdr[1200];

    tc_up(t, "auth-perms", 1, AUTH_CONF);
    init_admin(t, 0);
    login(t, 0, "nacos", ADMIN_PASS, adm, sizeof adm);
    manage(t, 0, adm, "POST", "users", "username=alice&password=Alice-Pass-1");
    manage(t, 0, adm, "POST", "users", "username=bob&password=Bob-Pass-1");
    manage(t, 0, adm, "POST", "roles", "role=ROLE_A&username=alice");
    manage(t, 0, adm, "POST", "roles", "role=ROLE_B&username=bob");
    manage(t, 0, adm, "POST", "permissions",
           "role=ROLE_A&resource=nsA:*:*&action=r");
    manage(t, 0, adm, "POST", "permissions",
           "role=ROLE_B&resource=:*:naming/svc-*&action=rw");

    /* The admin writes into nsA; alice reads it and cannot write. */
    assert_int_equal(reg(t, 0, "nsA", "a-svc", 1, "", NULL), 403);
    snprintf(target, sizeof target, "&accessToken=%s", adm);
    assert_int_equal(reg(t, 0, "nsA", "a-svc", 1, target, NULL), 200);
    answers(t, 0, "GET",
            "/nacos/v1/ns/instance/list?serviceName=a-svc&namespaceId=nsA"
            "&username=alice&password=Alice-Pass-1",
            NULL, 200);
    assert_int_equal(reg(t, 0, "nsA", "a-svc", 2, alice, NULL), 403);
    refused(t, 0, "GET",
            "/nacos/v1/ns/instance/list?serviceName=a-svc&namespaceId=nsB"
            "&username=alice&password=Alice-Pass-1",
            NULL, "authorization failed!");
    refused(t, 0, "GET",
            "/nacos/v1/ns/instance/list?serviceName=a-svc"
            "&username=alice&password=Alice-Pass-1",
            NULL, "authorization failed!");
    /* A wrong password is no identity at all. */
    refused(t, 0, "GET",
            "/nacos/v1/ns/instance/list?serviceName=a-svc&namespaceId=nsA"
            "&username=alice&password=nope",
            NULL, NULL);
    assert_int_equal(hosts(t, 0, adm, "nsA", "a-svc"), 1);

    /* bob: rw on public services named svc-*, nothing else; the group in
     * a "G@@S" name is the one checked. */
    assert_int_equal(reg(t, 0, "public", "svc-1", 1, bob, NULL), 200);
    assert_int_equal(reg(t, 0, "public", "G1%40%40svc-2", 1, bob, NULL), 200);
    assert_int_equal(reg(t, 0, "public", "other", 1, bob, NULL), 403);
    assert_int_equal(reg(t, 0, "nsA", "svc-1", 1, bob, NULL), 403);
    assert_int_equal(hosts(t, 0, adm, "public", "svc-1"), 1);
    assert_int_equal(hosts(t, 0, adm, "public", "other"), 0);

    /* Admin only: cluster, raft, loader, users, switches. */
    static const char *const admin_only[][2] = {
        {"GET", "/nacos/v1/core/cluster/nodes"},
        {"GET", "/nacos/v1/core/cluster/self"},
        {"GET", "/nacos/v1/core/raft/groups"},
        {"GET", "/v1/core/raft/groups"},
        {"POST", "/nacos/v1/core/ops/raft"},
        {"GET", "/nacos/v2/core/loader/current"},
        {"GET", "/nacos/v1/auth/users?pageNo=1&pageSize=10"},
        {"POST", "/nacos/v1/auth/users?username=eve&password=Eve-Pass-1"},
        {"POST", "/nacos/v1/auth/roles?role=ROLE_ADMIN&username=alice"},
        {"PUT", "/nacos/v1/ns/operator/switches?entry=distroThreshold"
                "&value=0.5"},
    };
    login(t, 0, "alice", "Alice-Pass-1", alice_tok, sizeof alice_tok);
    snprintf(hdr, sizeof hdr, "accessToken: %s\r\n", alice_tok);
    for (size_t i = 0; i < sizeof admin_only / sizeof admin_only[0]; i++) {
        refused(t, 0, admin_only[i][0], admin_only[i][1], hdr,
                "authorization failed!");
    }
    snprintf(target, sizeof target,
             "/nacos/v1/core/cluster/nodes?accessToken=%s", adm);
    answers(t, 0, "GET", target, NULL, 200);
    snprintf(target, sizeof target, "/v1/core/raft/groups?accessToken=%s", adm);
    answers(t, 0, "GET", target, NULL, 200);
    tc_pass(t);
}

/* GET @target as node @i answers it: the status, and whether the body
 * holds @needle. */
static int get_has(struct tc *t, unsigned i, const char *target,
                   const char *needle, bool *has)
{
    char *body = NULL;
    int st = req(t, i, "GET", target, NULL, NULL, &body);
    *has = body != NULL && strstr(body, needle) != NULL;
    free(body);
    return st;
}

/* The routes that list or look up by other parameters than namespaceId /
 * serviceName / groupName: a user with one group reads that group, not the
 * namespace's other groups nor other namespaces. */
static void test_read_scope(void **state)
{
    struct tc *t = *state;
    char adm[1024];
    char cred[1100];
    char target[2048];
    static const char gina[] = "&username=gina&password=Gina-Pass-1";
    static const char ivy[] = "&username=ivy&password=Ivy-Pass-1";
    bool has;

    tc_up(t, "auth-scope", 1, AUTH_CONF);
    init_admin(t, 0);
    login(t, 0, "nacos", ADMIN_PASS, adm, sizeof adm);
    manage(t, 0, adm, "POST", "users", "username=gina&password=Gina-Pass-1");
    manage(t, 0, adm, "POST", "users", "username=ivy&password=Ivy-Pass-1");
    manage(t, 0, adm, "POST", "roles", "role=ROLE_G&username=gina");
    manage(t, 0, adm, "POST", "roles", "role=ROLE_I&username=ivy");
    manage(t, 0, adm, "POST", "permissions",
           "role=ROLE_G&resource=:G:naming/*&action=r");
    manage(t, 0, adm, "POST", "permissions",
           "role=ROLE_I&resource=:*:naming/*&action=r");
    snprintf(cred, sizeof cred, "&accessToken=%s", adm);
    assert_int_equal(
        reg(t, 0, "public", "SECRET%40%40payments-db", 1, cred, NULL), 200);
    assert_int_equal(reg(t, 0, "secretns", "SECRET%40%40vault", 2, cred, NULL),
                     200);
    assert_int_equal(reg(t, 0, "public", "G%40%40ok", 3, cred, NULL), 200);

    /* The admin sees them all. */
    snprintf(target, sizeof target,
             "/nacos/v1/ns/catalog/services?groupName=G&withInstances=true"
             "&pageNo=1&pageSize=100%s",
             cred);
    assert_int_equal(get_has(t, 0, target, "payments-db", &has), 200);
    assert_true(has);
    snprintf(target, sizeof target,
             "/nacos/v1/ns/service/names?groupName=G%s", cred);
    assert_int_equal(get_has(t, 0, target, "SECRET@@vault", &has), 200);
    assert_true(has);

    /* gina (r on every service of group G): her group, nothing else. */
    snprintf(target, sizeof target,
             "/nacos/v1/ns/instance/list?serviceName=G%%40%%40ok%s", gina);
    assert_int_equal(get_has(t, 0, target, "\"port\":3", &has), 200);
    assert_true(has);
    static const char *const denied[] = {
        /* groupName is not what catalog/services lists */
        "/nacos/v1/ns/catalog/services?groupName=G&withInstances=true"
        "&pageNo=1&pageSize=100",
        "/nacos/v1/ns/catalog/services?groupName=G&pageNo=1&pageSize=100",
        "/nacos/v1/ns/catalog/services?serviceName=G%40%40ok"
        "&groupNameParam=SECRET&withInstances=true&pageNo=1&pageSize=100",
        /* groupNameParam is a substring pattern: "G" is not only G */
        "/nacos/v1/ns/catalog/services?groupNameParam=G&pageNo=1"
        "&pageSize=100",
        /* every namespace */
        "/nacos/v1/ns/service/names?groupName=G",
        "/nacos/v1/ns/service/names?serviceName=G%40%40ok",
        /* every group of the namespace */
        "/nacos/v1/ns/service/names?namespaceId=public&groupName=G",
        /* service/list lists groupName, not serviceName's group */
        "/nacos/v1/ns/service/list?serviceName=G%40%40ok&groupName=SECRET"
        "&pageNo=1&pageSize=100",
        "/nacos/v2/ns/service/list?serviceName=G%40%40ok&groupName=SECRET",
        "/nacos/v1/ns/service/list?serviceName=G%40%40ok&pageNo=1"
        "&pageSize=100",
        /* statuses reads the service its key names */
        "/nacos/v1/ns/instance/statuses?key=public%23%23SECRET%40%40"
        "payments-db&serviceName=G%40%40ok",
        "/nacos/v1/ns/instance/statuses?key=SECRET%40%40payments-db",
    };
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
        char *body = NULL;
        int st;
        snprintf(target, sizeof target, "%s%s", denied[i], gina);
        st = req(t, 0, "GET", target, NULL, NULL, &body);
        if (st != 403 || strstr(body, "SECRET") != NULL ||
            strstr(body, "payments-db") != NULL) {
            fail_msg("gina: GET %s: want 403, got %d %s", denied[i], st,
                     body != NULL ? body : "");
        }
        free(body);
    }
    /* Without any identity, statuses is refused too. */
    refused(t, 0, "GET",
            "/nacos/v1/ns/instance/statuses?key=SECRET%40%40payments-db", NULL,
            "user not found!");
    /* What gina may read still answers, and only her group. */
    snprintf(target, sizeof target,
             "/nacos/v1/ns/service/list?groupName=G&pageNo=1&pageSize=100%s",
             gina);
    assert_int_equal(get_has(t, 0, target, "SECRET", &has), 200);
    assert_false(has);
    snprintf(target, sizeof target,
             "/nacos/v1/ns/instance/statuses?key=G%%40%%40ok%s", gina);
    assert_int_equal(get_has(t, 0, target, ":3_", &has), 200);
    assert_true(has);

    /* ivy (r on every group of public): the namespace's catalog and names,
     * not another namespace's nor every namespace's. */
    snprintf(target, sizeof target,
             "/nacos/v1/ns/catalog/services?groupNameParam=SEC&withInstances="
             "true&pageNo=1&pageSize=100%s",
             ivy);
    assert_int_equal(get_has(t, 0, target, "payments-db", &has), 200);
    assert_true(has);
    snprintf(target, sizeof target,
             "/nacos/v1/ns/service/names?namespaceId=public%s", ivy);
    assert_int_equal(get_has(t, 0, target, "SECRET@@payments-db", &has), 200);
    assert_true(has);
    snprintf(target, sizeof target, "/nacos/v1/ns/service/names?expr=S%s",
             ivy);
    assert_int_equal(get_has(t, 0, target, "vault", &has), 403);
    assert_false(has);
    snprintf(target, sizeof target,
             "/nacos/v1/ns/catalog/services?namespaceId=secretns&pageNo=1"
             "&pageSize=100%s",
             ivy);
    assert_int_equal(get_has(t, 0, target, "vault", &has), 403);
    assert_false(has);
    tc_pass(t);
}

/* Nothing a client can set skips the check. */
static void test_bypasses(void **state)
{
    struct tc *t = *state;
    char adm[1024];
    char target[2048];
    char *body = NULL;
    int st;

    tc_up(t, "auth-bypass", 1, AUTH_CONF);
    init_admin(t, 0);
    login(t, 0, "nacos", ADMIN_PASS, adm, sizeof adm);

    refused(t, 0, "POST",
            "/nacos/v1/ns/instance?serviceName=byp&ip=" IP "&port=1",
            "User-Agent: Nacos-Server:2.4.3\r\n", "user not found!");
    refused(t, 0, "POST",
            "/nacos/v1/ns/instance?serviceName=byp&ip=" IP "&port=2",
            ID_KEY ": wrong-value\r\n", NULL);
    refused(t, 0, "POST",
            "/nacos/v1/ns/instance?serviceName=byp&ip=" IP "&port=3",
            "serverIdentity: security\r\n", NULL);
    /* A forged DistroFilter forward. */
    refused(t, 0, "PUT",
            "/nacos/v1/ns/instance?serviceName=byp&ip=" IP "&port=4",
            "User-Agent: Nacos-Server:2.4.3\r\nRequest-Source: "
            "127.0.0.1:8848\r\nClient-Version: 2.4.3\r\n",
            NULL);
    assert_true(tc_log_contains(t, 0, "Invalid server identity value"));
    assert_false(tc_log_contains(t, 0, "wrong-value"));
    /* Path tricks: not a route (404/501), or the route itself, gated. */
    st = req(t, 0, "POST",
             "/nacos/v1/ns/../auth/users?username=evil&password=Evil-Pass-1",
             NULL, NULL, &body);
    assert_true(st == 404 || st == 501 || st == 400);
    free(body);
    st = req(t, 0, "POST",
             "//nacos/v1/ns/instance?serviceName=byp&ip=" IP "&port=5", NULL,
             NULL, &body);
    assert_true(st == 404 || st == 501 || st == 400 || st == 403);
    free(body);
    /* Encoded: decoded before routing, so the route's own check. */
    st = req(t, 0, "POST",
             "/nacos/v1/ns%2Finstance?serviceName=byp&ip=" IP "&port=6", NULL,
             NULL, &body);
    assert_spring_403(st, body, "/nacos/v1/ns/instance", "user not found!");
    free(body);
    st = req(t, 0, "POST",
             "/nacos/v1/ns/%69nstance?serviceName=byp&ip=" IP "&port=7", NULL,
             NULL, &body);
    assert_spring_403(st, body, "/nacos/v1/ns/instance", "user not found!");
    free(body);
    st = req(t, 0, "POST",
             "/NACOS/V1/NS/instance?serviceName=byp&ip=" IP "&port=8", NULL,
             NULL, &body);
    assert_true(st == 404 || st == 501);
    free(body);
    st = req(t, 0, "POST",
             "/nacos/v1/auth/users/?username=evil&password=Evil-Pass-1", NULL,
             NULL, &body);
    assert_true(st == 404 || st == 403);
    free(body);
    /* Nothing changed. */
    assert_int_equal(hosts(t, 0, adm, "public", "byp"), 0);
    snprintf(
        target, sizeof target,
        "/nacos/v1/auth/users?search=blur&pageNo=1&pageSize=100&accessToken=%s",
        adm);
    assert_int_equal(req(t, 0, "GET", target, NULL, NULL, &body), 200);
    assert_null(strstr(body, "evil"));
    free(body);
    /* The identity itself is what a peer sends: it passes. */
    assert_int_equal(
        reg(t, 0, "public", "byp", 9, "", ID_KEY ": " ID_VALUE "\r\n"), 200);
    assert_int_equal(hosts(t, 0, adm, "public", "byp"), 1);
    tc_pass(t);
}

/* Requests held for their password check whose clients go away: their
 * handlers never run, and the node carries on. */
static void test_gone_while_held(void **state)
{
    struct tc *t = *state;
    char adm[1024];
    char head[1024];
    char q[256];
    char *body = NULL;
    int n;

    tc_up(t, "auth-gone", 1, AUTH_CONF);
    init_admin(t, 0);
    login(t, 0, "nacos", ADMIN_PASS, adm, sizeof adm);
    for (int i = 0; i < 5; i++) {
        snprintf(q, sizeof q, "username=u%d&password=U-Pass-%d", i, i);
        manage(t, 0, adm, "POST", "users", q);
        snprintf(q, sizeof q, "role=ROLE_D&username=u%d", i);
        manage(t, 0, adm, "POST", "roles", q);
    }
    manage(t, 0, adm, "POST", "permissions",
           "role=ROLE_D&resource=:*:*&action=rw");
    /* Each user's first request: its password is not cached, so the check
     * goes to the thread pool, and the client is gone long before. */
    for (int i = 0; i < 5; i++) {
        int fd = connect_to(t->c.nodes[0].port);
        n = snprintf(head, sizeof head,
                     "POST /nacos/v1/ns/instance?serviceName=gone&ip=" IP
                     "&port=%d&ephemeral=false&username=u%d&password="
                     "U-Pass-%d HTTP/1.1\r\nHost: x\r\n\r\n",
                     i + 1, i, i);
        assert_int_equal(send(fd, head, (size_t)n, MSG_NOSIGNAL), n);
        close(fd);
    }
    tc_sleep_ms(1000);
    answers(t, 0, "GET", "/nacos/v1/ns/operator/metrics", NULL, 200);
    assert_int_equal(hosts(t, 0, adm, "public", "gone"), 0);
    /* The same users, staying for the answer, pass. */
    assert_int_equal(
        reg(t, 0, "public", "gone", 9, "&username=u0&password=U-Pass-0", NULL),
        200);
    assert_int_equal(hosts(t, 0, adm, "public", "gone"), 1);
    (void)body;
    tc_pass(t);
}

/* N wrong passwords from one address, then the right one is refused from
 * there for the window. */
static void test_brute_force(void **state)
{
    struct tc *t = *state;
    char tok[1024];
    char *body = NULL;
    int st;

    tc_up(t, "auth-brute", 1, AUTH_CONF);
    init_admin(t, 0);
    for (int i = 0; i < 3; i++) {
        st = req(t, 0, "POST", "/nacos/v1/auth/login", NULL,
                 "username=nacos&password=wrong-guess", &body);
        assert_int_equal(st, 403);
        free(body);
    }
    /* The guessing address is refused for that user, the right password
     * too (never checked: the answer tells nothing). */
    st = req(t, 0, "POST", "/nacos/v1/auth/login", NULL,
             "username=nacos&password=" ADMIN_PASS, &body);
    if (st != 403 || body == NULL ||
        strstr(body, "too many failed logins for this user from this "
                     "address") == NULL) {
        fail_msg("the right password after 3 failures: %d %s", st,
                 body != NULL ? body : "");
    }
    free(body);
    /* Per request too (npm style). */
    assert_int_equal(reg(t, 0, "public", "brute", 1,
                         "&username=nacos&password=" ADMIN_PASS, NULL),
                     403);
    /* A token signed before still works: only password checks are held. */
    assert_int_equal(
        reg(t, 0, "public", "brute", 2, "&accessToken=" TOK_NACOS, NULL), 200);
    (void)tok;
    tc_pass(t);
}

/* ------------------------------------------------------------------ gRPC */

struct gw {
    uv_loop_t loop;
    struct lc_nclient *c;
    int ready; /* 0 waiting, 1 ok, -1 failed */
    bool closed;
    bool done;
    int status;
    char type[128];
    json_t *body;
};

static void on_ready(struct lc_nclient *c, int status, void *data)
{
    struct gw *g = data;
    (void)c;
    g->ready = status == 0 ? 1 : -1;
}

static void on_closed(struct lc_nclient *c, void *data)
{
    struct gw *g = data;
    (void)c;
    g->closed = true;
}

static void on_reply(struct lc_nreq *r, int status, const char *type,
                     json_t *body)
{
    struct gw *g = r->data;
    g->done = true;
    g->status = status;
    snprintf(g->type, sizeof g->type, "%s", type != NULL ? type : "");
    g->body = body != NULL ? json_incref(body) : NULL;
}

static void spin(struct gw *g, bool (*cond)(struct gw *), unsigned ms)
{
    uint64_t until = tc_now_ms() + ms;
    while (!cond(g) && tc_now_ms() < until) {
        uv_run(&g->loop, UV_RUN_NOWAIT);
        tc_sleep_ms(1);
    }
}

static bool is_ready(struct gw *g)
{
    return g->ready != 0;
}
static bool is_done(struct gw *g)
{
    return g->done;
}
static bool is_closed(struct gw *g)
{
    return g->closed;
}

/* An InstanceRequest with metadata headers @headers (an object, consumed);
 * the response body (new reference) and its type in g->type. */
static json_t *grpc_register(struct gw *g, int port, json_t *headers)
{
    struct lc_nreq r = {0};
    char svc[32];
    json_t *body;
    snprintf(svc, sizeof svc, "grpc-%d", port);
    body = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o}", "namespace", "public",
                     "serviceName", svc, "groupName", "DEFAULT_GROUP", "type",
                     "registerInstance", "instance",
                     lc_nclient_instance(IP, port, true), "headers", headers);
    r.data = g;
    g->done = false;
    assert_int_equal(
        lc_nclient_request(g->c, &r, "InstanceRequest", body, 3000, on_reply),
        0);
    json_decref(body);
    spin(g, is_done, 5000);
    assert_true(g->done);
    assert_int_equal(g->status, 0);
    return g->body;
}

/* As the Java client sends it: the credentials in the Payload's metadata
 * headers, none in the body. */
struct raw_call {
    struct lc_grpc_ccall cc;
    struct gw *g;
};

static void on_raw(struct lc_grpc_ccall *cc, int status, int grpc_status,
                   const char *message, const uint8_t *msg, size_t len)
{
    struct raw_call *rc = cc->data;
    struct gw *g = rc->g;
    struct lc_payload p;
    (void)message;
    g->done = true;
    g->status = status != 0 ? status : grpc_status;
    g->body = NULL;
    if (g->status == 0 && lc_payload_decode(msg, len, &p) == 0) {
        snprintf(g->type, sizeof g->type, "%s", p.type);
        if (lc_payload_json(&p, &g->body) != 0) {
            g->body = NULL;
        }
        lc_payload_free(&p);
    }
}

static json_t *grpc_register_meta(struct gw *g, int port, json_t *meta)
{
    struct raw_call rc = {0};
    uint8_t *buf;
    size_t len;
    char svc[32];
    json_t *body;
    snprintf(svc, sizeof svc, "grpc-%d", port);
    body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:{}}", "requestId", "77",
                     "namespace", "public", "serviceName", svc, "groupName",
                     "DEFAULT_GROUP", "type", "registerInstance", "instance",
                     lc_nclient_instance(IP, port, true), "module", "naming",
                     "headers");
    rc.cc.data = &rc;
    rc.g = g;
    g->done = false;
    assert_int_equal(
        lc_payload_encode("InstanceRequest", body, meta, &buf, &len), 0);
    json_decref(body);
    json_decref(meta);
    assert_int_equal(lc_grpc_client_unary(lc_nclient_grpc(g->c), &rc.cc,
                                          "/Request/request", buf, len, 3000,
                                          on_raw),
                     0);
    free(buf);
    spin(g, is_done, 5000);
    assert_true(g->done);
    assert_int_equal(g->status, 0);
    assert_non_null(g->body);
    return g->body;
}

static void test_grpc(void **state)
{
    struct tc *t = *state;
    struct gw g;
    struct lc_nclient_cbs cbs = {0};
    char adm[1024];
    json_t *resp;

    tc_up(t, "auth-grpc", 1, AUTH_CONF);
    init_admin(t, 0);
    login(t, 0, "nacos", ADMIN_PASS, adm, sizeof adm);

    memset(&g, 0, sizeof g);
    assert_int_equal(uv_loop_init(&g.loop), 0);
    cbs.data = &g;
    cbs.ready = on_ready;
    cbs.closed = on_closed;
    assert_int_equal(lc_nclient_new(&g.loop, "127.0.0.1",
                                    t->c.nodes[0].port + 1000, &cbs, &g.c),
                     0);
    spin(&g, is_ready, 10000);
    assert_int_equal(g.ready, 1);

    /* Without a token: the handler's own type, errorCode 403. */
    resp = grpc_register(&g, 1, json_object());
    assert_string_equal(g.type, "InstanceResponse");
    assert_int_equal(json_integer_value(json_object_get(resp, "errorCode")),
                     403);
    assert_int_equal(json_integer_value(json_object_get(resp, "resultCode")),
                     500);
    json_decref(resp);
    /* A bad token, a wrong password. */
    resp = grpc_register(&g, 2, json_pack("{s:s}", "accessToken", TOK_EXPIRED));
    assert_int_equal(json_integer_value(json_object_get(resp, "errorCode")),
                     403);
    json_decref(resp);
    resp = grpc_register(
        &g, 3, json_pack("{s:s,s:s}", "username", "nacos", "password", "x"));
    assert_int_equal(json_integer_value(json_object_get(resp, "errorCode")),
                     403);
    json_decref(resp);
    for (int p = 1; p <= 3; p++) {
        char svc[32];
        snprintf(svc, sizeof svc, "grpc-%d", p);
        assert_int_equal(hosts(t, 0, adm, "public", svc), 0);
    }

    /* With a token, or the password (checked on the thread pool). */
    resp = grpc_register(&g, 4, json_pack("{s:s}", "accessToken", adm));
    if (!lc_nclient_ok(0, resp)) {
        char *text = json_dumps(resp, 0);
        fail_msg("with a token: %s %s", g.type, text);
    }
    json_decref(resp);
    resp = grpc_register(
        &g, 5,
        json_pack("{s:s,s:s}", "username", "nacos", "password", ADMIN_PASS));
    assert_true(lc_nclient_ok(0, resp));
    json_decref(resp);
    {
        char bearer[1100];
        snprintf(bearer, sizeof bearer, "Bearer %s", adm);
        resp =
            grpc_register(&g, 6, json_pack("{s:s}", "Authorization", bearer));
        assert_true(lc_nclient_ok(0, resp));
        json_decref(resp);
    }
    /* Keys are compared exactly, as GrpcIdentityContextBuilder does. */
    resp = grpc_register_meta(&g, 10, json_pack("{s:s}", "accesstoken", adm));
    assert_int_equal(json_integer_value(json_object_get(resp, "errorCode")),
                     403);
    json_decref(resp);
    /* In the metadata, as the Java client puts them. */
    resp = grpc_register_meta(&g, 7, json_object());
    assert_string_equal(g.type, "InstanceResponse");
    assert_int_equal(json_integer_value(json_object_get(resp, "errorCode")),
                     403);
    json_decref(resp);
    resp = grpc_register_meta(&g, 8, json_pack("{s:s}", "accessToken", adm));
    assert_true(lc_nclient_ok(0, resp));
    json_decref(resp);
    for (int p = 4; p <= 8; p++) {
        char svc[32];
        snprintf(svc, sizeof svc, "grpc-%d", p);
        assert_int_equal(hosts(t, 0, adm, "public", svc), p == 7 ? 0 : 1);
    }

    lc_nclient_close(g.c);
    spin(&g, is_closed, 5000);

    /* A connection that closes while its request waits for the password
     * check: nothing is registered for it. */
    manage(t, 0, adm, "POST", "users", "username=gu&password=Gu-Pass-1");
    manage(t, 0, adm, "POST", "roles", "role=ROLE_G&username=gu");
    manage(t, 0, adm, "POST", "permissions",
           "role=ROLE_G&resource=:*:*&action=rw");
    g.closed = false;
    g.ready = 0;
    assert_int_equal(lc_nclient_new(&g.loop, "127.0.0.1",
                                    t->c.nodes[0].port + 1000, &cbs, &g.c),
                     0);
    spin(&g, is_ready, 10000);
    assert_int_equal(g.ready, 1);
    {
        struct lc_nreq r = {0};
        json_t *body = json_pack(
            "{s:s,s:s,s:s,s:s,s:o,s:{s:s,s:s}}", "namespace", "public",
            "serviceName", "grpc-20", "groupName", "DEFAULT_GROUP", "type",
            "registerInstance", "instance", lc_nclient_instance(IP, 20, true),
            "headers", "username", "gu", "password", "Gu-Pass-1");
        r.data = &g;
        g.done = false;
        assert_int_equal(lc_nclient_request(g.c, &r, "InstanceRequest", body,
                                            3000, on_reply),
                         0);
        json_decref(body);
        uv_run(&g.loop, UV_RUN_NOWAIT); /* sent */
        lc_nclient_close(g.c);
        spin(&g, is_closed, 5000);
        spin(&g, is_done, 1000);
        json_decref(g.body);
    }
    tc_sleep_ms(500);
    assert_int_equal(hosts(t, 0, adm, "public", "grpc-20"), 0);

    uv_run(&g.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&g.loop), 0);
    tc_pass(t);
}

/* ---------------------------------------------------------------- cluster */

/* Three members: a write through any member reaches the one responsible
 * (DistroFilter forwards with the identity), aggregation works, and a
 * role's removal takes effect on every member. */
static void test_cluster(void **state)
{
    struct tc *t = *state;
    char adm[1024];
    char target[2048];
    static const char carol[] = "&username=carol&password=Carol-Pass-1";

    tc_up(t, "auth-cluster", 3, AUTH_CONF);
    init_admin(t, 0);
    login(t, 0, "nacos", ADMIN_PASS, adm, sizeof adm);
    /* Every member has applied the admin. */
    for (unsigned i = 0; i < 3; i++) {
        uint64_t until = tc_now_ms() + 5000;
        int st;
        snprintf(target, sizeof target,
                 "/nacos/v1/core/cluster/self?accessToken=%s", adm);
        while ((st = req(t, i, "GET", target, NULL, NULL, NULL)) != 200 &&
               tc_now_ms() < until) {
            tc_sleep_ms(50);
        }
        assert_int_equal(st, 200);
    }
    manage(t, 2, adm, "POST", "users", "username=carol&password=Carol-Pass-1");
    manage(t, 0, adm, "POST", "roles", "role=ROLE_C&username=carol");
    manage(t, 1, adm, "POST", "permissions",
           "role=ROLE_C&resource=:*:*&action=rw");

    /* Every member has applied carol's grants: first her user (seen with
     * the admin's token, so no failed password is counted), then her
     * permission. */
    for (unsigned i = 0; i < 3; i++) {
        uint64_t until = tc_now_ms() + 5000;
        int st;
        char *body = NULL;
        snprintf(target, sizeof target,
                 "/nacos/v1/auth/users?search=accurate&username=carol"
                 "&pageNo=1&pageSize=10&accessToken=%s",
                 adm);
        for (;;) {
            st = req(t, i, "GET", target, NULL, NULL, &body);
            if ((st == 200 && strstr(body, "\"carol\"") != NULL) ||
                tc_now_ms() >= until) {
                break;
            }
            free(body);
            body = NULL;
            tc_sleep_ms(50);
        }
        assert_non_null(body);
        assert_non_null(strstr(body, "\"carol\""));
        free(body);
        snprintf(target, sizeof target,
                 "/nacos/v1/ns/instance/list?serviceName=c-svc%s", carol);
        while ((st = req(t, i, "GET", target, NULL, NULL, NULL)) != 200 &&
               tc_now_ms() < until) {
            tc_sleep_ms(50);
        }
        assert_int_equal(st, 200);
    }

    /* Ephemeral v1 registrations are forwarded to the responsible member. */
    for (unsigned i = 0; i < 3; i++) {
        for (int p = 1; p <= 3; p++) {
            char tgt[2048];
            int st;
            snprintf(tgt, sizeof tgt,
                     "/nacos/v1/ns/instance?serviceName=c-svc&ip=127.12.%u.%d"
                     "&port=%d%s",
                     i, p, 80 + p, carol);
            st = req(t, i, "POST", tgt, NULL, NULL, NULL);
            assert_int_equal(st, 200);
        }
    }
    for (unsigned i = 0; i < 3; i++) {
        uint64_t until = tc_now_ms() + 5000;
        while (hosts(t, i, adm, "public", "c-svc") != 9 &&
               tc_now_ms() < until) {
            tc_sleep_ms(50);
        }
        assert_int_equal(hosts(t, i, adm, "public", "c-svc"), 9);
    }
    snprintf(target, sizeof target,
             "/nacos/v1/ns/service/subscribers?serviceName=c-svc"
             "&aggregation=true&accessToken=%s",
             adm);
    answers(t, 2, "GET", target, NULL, 200);
    /* The other members answered the aggregation (with the identity). */
    assert_false(tc_log_contains(t, 2, "subscribers of member"));
    for (unsigned i = 0; i < 3; i++) {
        assert_false(tc_log_contains(t, i, "Invalid server identity value"));
    }

    /* The role goes: carol is refused everywhere. */
    manage(t, 2, adm, "DELETE", "roles", "role=ROLE_C&username=carol");
    for (unsigned i = 0; i < 3; i++) {
        uint64_t until = tc_now_ms() + 5000;
        int st;
        snprintf(target, sizeof target,
                 "/nacos/v1/ns/instance/list?serviceName=c-svc%s", carol);
        while ((st = req(t, i, "GET", target, NULL, NULL, NULL)) != 403 &&
               tc_now_ms() < until) {
            tc_sleep_ms(50);
        }
        assert_int_equal(st, 403);
        assert_int_equal(reg(t, i, "public", "c-svc2", 1, carol, NULL), 403);
    }
    assert_int_equal(hosts(t, 0, adm, "public", "c-svc2"), 0);
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, tc_setup, tc_teardown)
        T(test_auth_off),    T(test_start_refusals), T(test_http_tokens),
        T(test_permissions), T(test_read_scope),     T(test_bypasses),
        T(test_brute_force),
        T(test_grpc),        T(test_cluster),        T(test_gone_while_held),
#undef T
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
