/* Tests of naming/http/filters.c and naming/http/reply.c: Nacos's
 * ServiceNameFilter, ParamCheckerFilter (its HTTP extractors over
 * naming/ops/check.c) and WebUtils with their exact messages, and the four
 * v1 error forms and the v2 envelope on the wire, chosen by error code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "naming/http/filters.h"
#include "naming/http/reply.h"
#include "naming/ops/check.h"
#include "rpc/http/internal.h"
#include "test/support/http_env.h"

#define CT_TEXT "text/plain;charset=UTF-8"
#define CT_JSON "application/json"
#define FORMAT_MSG                                                             \
    "Param 'serviceName' is illegal, it should be format as "                  \
    "'groupName@@serviceName'"
#define EMPTY_GROUP_MSG                                                        \
    "Param 'serviceName' is illegal, groupName can't be empty"
#define ILLEGAL(p)                                                             \
    "Param '" p                                                                \
    "' is illegal, illegal characters should not appear in the param."
#define TOO_LONG(p, n)                                                         \
    "Param '" p "' is illegal, the param length should not exceed " #n "."
#define PORT_MSG                                                               \
    "Param 'port' is illegal, the value should be between 0 and 65535."

/* ------------------------------------------------------ server thread */

/* GET /svc: ServiceNameFilter, then 200 "[grouped]".
 * /params, /list: ServiceNameFilter and ParamCheckerFilter (default or
 *   instance-list extractor), then 200 "pass [grouped]".
 * /required, /optional: WebUtils on parameter ?name=, 200 "[value]".
 * /error, /nacos/v2/error: lc_naming_failf(code=<LC_E name>, "%s" msg=)
 *   (for LC_EMISSING, lc_err_missing(msg=)); /ok: lc_naming_ok. */

static void h_svc(struct lc_http_exchange *ex, void *data)
{
    char grouped[1200];
    struct lc_err e;
    (void)data;
    if (lc_filter_service_name(ex, grouped, sizeof grouped, &e) == 0) {
        lc_http_reply_text(ex, 200, "[%s]", grouped);
    } else {
        lc_naming_fail(ex, &e);
    }
}

static void h_params(struct lc_http_exchange *ex, void *data)
{
    char grouped[1200];
    bool list = data != NULL;
    struct lc_err e;
    if (lc_filter_service_name(ex, grouped, sizeof grouped, &e) == 0 &&
        lc_filter_params(ex, grouped, list, &e) == 0) {
        lc_http_reply_text(ex, 200, "pass [%s]", grouped);
    } else {
        lc_naming_fail(ex, &e);
    }
}

static void h_required(struct lc_http_exchange *ex, void *data)
{
    char out[256];
    struct lc_err e;
    (void)data;
    if (lc_required(ex, lc_http_param(ex, "name"), out, sizeof out, &e) !=
        NULL) {
        lc_http_reply_text(ex, 200, "[%s]", out);
    } else {
        lc_naming_fail(ex, &e);
    }
}

static void h_optional(struct lc_http_exchange *ex, void *data)
{
    char out[256];
    const char *v = lc_optional(ex, lc_http_param(ex, "name"), out, sizeof out);
    (void)data;
    if (v == NULL) {
        lc_http_reply_text(ex, 200, "(null)");
    } else {
        assert_ptr_equal(v, out);
        lc_http_reply_text(ex, 200, "[%s]", v);
    }
}

static void h_error(struct lc_http_exchange *ex, void *data)
{
    const char *name = lc_http_param(ex, "code");
    const char *msg = lc_http_param(ex, "msg");
    int code = 0;
    (void)data;
    for (int c = 1; c < 100; c++) {
        if (strcmp(lc_errname(c), name) == 0) {
            code = c;
        }
    }
    assert_true(code != 0);
    if (code == LC_EMISSING) {
        struct lc_err e;
        lc_err_missing(&e, msg, false);
        lc_naming_fail(ex, &e);
        return;
    }
    lc_naming_failf(ex, code, "%s", msg);
}

static void h_ok(struct lc_http_exchange *ex, void *data)
{
    (void)data;
    lc_naming_ok(ex);
}

static struct ht_thread srv;

static int add_routes(struct lc_http_server *s, void *data)
{
    static const struct {
        const char *path;
        lc_http_handler_cb fn;
        void *data;
    } r[] = {
        {"/svc", h_svc, NULL},
        {"/params", h_params, NULL},
        {"/list", h_params, "list"},
        {"/required", h_required, NULL},
        {"/optional", h_optional, NULL},
        {"/error", h_error, NULL},
        {"/nacos/v2/error", h_error, NULL},
        {"/ok", h_ok, NULL},
    };
    (void)data;
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        int rv =
            lc_http_server_route(s, LC_HTTP_ANY, r[i].path, r[i].fn, r[i].data);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    /* A fixed zone without tzdata: +05:30. */
    setenv("TZ", "IST-5:30", 1);
    tzset();
    return ht_thread_start(&srv, add_routes, NULL);
}

static int group_teardown(void **state)
{
    (void)state;
    return ht_thread_stop(&srv) == 0 ? 0 : -1;
}

/* ------------------------------------------------------ raw client */

struct reply {
    int status;
    bool has_ctype;
    char ctype[128];
    char body[8192];
    size_t len;
};

/* Send "@method @target" (target includes the query) with an optional form
 * body; read the whole reply (the server closes: Connection: close). */
static void request(const char *method, const char *target, const char *form,
                    struct reply *r)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)srv.port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    size_t cap = 64 * 1024;
    char *req = malloc(cap);
    char *in = malloc(cap);
    size_t n = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int len;
    char *head_end;
    char *p;
    struct timeval tv = {.tv_sec = 5};

    assert_non_null(req);
    assert_non_null(in);
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    if (form != NULL) {
        len = snprintf(req, cap,
                       "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       "Content-Type: application/x-www-form-urlencoded\r\n"
                       "Content-Length: %zu\r\n\r\n%s",
                       method, target, strlen(form), form);
    } else {
        len = snprintf(req, cap,
                       "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       "\r\n",
                       method, target);
    }
    assert_true(len > 0 && (size_t)len < cap);
    assert_int_equal(write(fd, req, (size_t)len), len);
    for (;;) {
        ssize_t got = read(fd, in + n, cap - 1 - n);
        assert_true(got >= 0);
        if (got == 0) {
            break;
        }
        n += (size_t)got;
    }
    close(fd);
    in[n] = '\0';

    memset(r, 0, sizeof *r);
    assert_int_equal(sscanf(in, "HTTP/1.1 %d", &r->status), 1);
    head_end = strstr(in, "\r\n\r\n");
    assert_non_null(head_end);
    *head_end = '\0';
    p = strstr(in, "\r\nContent-Type: ");
    if (p != NULL) {
        char *eol = strstr(p + 2, "\r\n");
        size_t clen;
        p += strlen("\r\nContent-Type: ");
        clen = eol != NULL ? (size_t)(eol - p) : strlen(p);
        assert_true(clen < sizeof r->ctype);
        memcpy(r->ctype, p, clen);
        r->has_ctype = true;
    }
    r->len = n - (size_t)(head_end + 4 - in);
    assert_true(r->len < sizeof r->body);
    memcpy(r->body, head_end + 4, r->len);
    free(req);
    free(in);
}

static struct reply get(const char *target)
{
    struct reply r;
    request("GET", target, NULL, &r);
    return r;
}

/* Expect a plain 200 whose body is @body. */
static void want_pass(const char *target, const char *body)
{
    struct reply r = get(target);
    if (r.status != 200 || strcmp(r.body, body) != 0) {
        fail_msg("%s: got %d '%s', want 200 '%s'", target, r.status, r.body,
                 body);
    }
}

/* Kind C: 400, no Content-Type, message + CRLF. */
static void want_check(const char *target, const char *msg)
{
    struct reply r = get(target);
    char want[2048];
    snprintf(want, sizeof want, "%s\r\n", msg);
    if (r.status != 400 || r.has_ctype || strcmp(r.body, want) != 0) {
        fail_msg("%s: got %d ctype '%s' '%s', want CHECK 400 '%s'", target,
                 r.status, r.ctype, r.body, msg);
    }
}

/* Kind A: text/plain;charset=UTF-8, no trailing newline. */
static void want_text(const char *target, int status, const char *msg)
{
    struct reply r = get(target);
    if (r.status != status || strcmp(r.ctype, CT_TEXT) != 0 ||
        strcmp(r.body, msg) != 0) {
        fail_msg("%s: got %d ctype '%s' '%s', want TEXT %d '%s'", target,
                 r.status, r.ctype, r.body, status, msg);
    }
    assert_int_equal(r.len, strlen(msg));
}

/* Kind B: Spring Boot's error JSON, keys in order, exact message. The
 * timestamp is ISO-8601 with milliseconds in the local zone (+05:30). */
static void want_spring_body(const char *body, int status, const char *error,
                             const char *msg_json, const char *path)
{
    regex_t re;
    char tail[4096];
    const char *stamp_end;
    assert_int_equal(regcomp(&re,
                             "^\\{\"timestamp\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T"
                             "[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}\\+05:30\",",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    if (regexec(&re, body, 0, NULL, 0) != 0) {
        regfree(&re);
        fail_msg("bad Spring JSON head: %s", body);
    }
    regfree(&re);
    stamp_end = strstr(body, "\",\"status\":");
    assert_non_null(stamp_end);
    snprintf(tail, sizeof tail,
             "\",\"status\":%d,\"error\":\"%s\",\"message\":\"%s\","
             "\"path\":\"%s\"}",
             status, error, msg_json, path);
    if (strcmp(stamp_end, tail) != 0) {
        fail_msg("Spring JSON tail\n got  %s\n want %s", stamp_end, tail);
    }
}

static void want_spring(const char *target, int status, const char *error,
                        const char *msg_json, const char *path)
{
    struct reply r = get(target);
    if (r.status != status || strcmp(r.ctype, CT_JSON) != 0) {
        fail_msg("%s: got %d ctype '%s' '%s', want SPRING %d", target, r.status,
                 r.ctype, r.body, status);
    }
    want_spring_body(r.body, status, error, msg_json, path);
}

/* A string of @n copies of @c, URL-safe. */
static const char *rep(char c, size_t n)
{
    static char bufs[4][2048];
    static int next;
    char *b = bufs[next++ % 4];
    assert_true(n < sizeof bufs[0]);
    memset(b, c, n);
    b[n] = '\0';
    return b;
}

static const char *url(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static const char *url(const char *fmt, ...)
{
    static char bufs[4][8192];
    static int next;
    char *b = bufs[next++ % 4];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof bufs[0], fmt, ap);
    va_end(ap);
    return b;
}

/* ------------------------------------------- checkServiceNameFormat */

static void test_service_name_format(void **state)
{
    (void)state;
    assert_string_equal(lc_check_service_name_format("svc"), FORMAT_MSG);
    assert_string_equal(lc_check_service_name_format("g@@"), FORMAT_MSG);
    assert_string_equal(lc_check_service_name_format("@@"), FORMAT_MSG);
    assert_string_equal(lc_check_service_name_format("@@svc"), EMPTY_GROUP_MSG);
    assert_null(lc_check_service_name_format("g@@s"));
    assert_null(lc_check_service_name_format("g@@a@@b"));
    assert_string_equal(lc_check_service_name_format(""), FORMAT_MSG);
    assert_null(lc_check_service_name_format("g@@s@@"));
    /* More of Java's split("@@"): trailing empties dropped, leading kept. */
    assert_string_equal(lc_check_service_name_format("@@@@"), FORMAT_MSG);
    assert_string_equal(lc_check_service_name_format("g@@@@"), FORMAT_MSG);
    assert_string_equal(lc_check_service_name_format("@@@@svc"),
                        EMPTY_GROUP_MSG);
    assert_string_equal(lc_check_service_name_format("@@@"),
                        EMPTY_GROUP_MSG);              /* ["", "@"] */
    assert_null(lc_check_service_name_format("g@@@")); /* ["g", "@"] */
    assert_null(lc_check_service_name_format("a@b@@c"));
    assert_string_equal(lc_check_service_name_format("a@b"), FORMAT_MSG);
}

/* ------------------------------------------------ ServiceNameFilter */

static void test_service_filter(void **state)
{
    (void)state;
    want_spring("/svc?serviceName=@@svc", 400, "Bad Request",
                "Service name filter error,caused: " EMPTY_GROUP_MSG ";",
                "/svc");
    want_spring("/svc?serviceName=g@@", 400, "Bad Request",
                "Service name filter error,caused: " FORMAT_MSG ";", "/svc");
    want_spring("/svc?serviceName=@@", 400, "Bad Request",
                "Service name filter error,caused: " FORMAT_MSG ";", "/svc");
    want_spring("/svc?serviceName=svc@@&groupName=g", 400, "Bad Request",
                "Service name filter error,caused: " FORMAT_MSG ";", "/svc");

    want_pass("/svc?serviceName=g1@@svc&groupName=g2", "[g1@@svc]");
    want_pass("/svc?serviceName=svc&groupName=g2", "[g2@@svc]");
    want_pass("/svc?serviceName=svc", "[DEFAULT_GROUP@@svc]");
    want_pass("/svc?serviceName=g@@a@@b", "[g@@a@@b]");
    /* serviceName is trimmed; a blank groupName is DEFAULT_GROUP; a
     * groupName is used as given, untrimmed. */
    want_pass("/svc?serviceName=%20svc%09", "[DEFAULT_GROUP@@svc]");
    want_pass("/svc?serviceName=svc&groupName=%20", "[DEFAULT_GROUP@@svc]");
    want_pass("/svc?serviceName=svc&groupName=%20g", "[ g@@svc]");
    /* Absent, empty or blank: passed through for the controller. */
    want_pass("/svc", "[]");
    want_pass("/svc?serviceName=", "[]");
    want_pass("/svc?serviceName=%20", "[ ]");
    /* Parameters from a form body count too (PUT/DELETE as well). */
    {
        struct reply r;
        request("DELETE", "/svc", "serviceName=@@x", &r);
        assert_int_equal(r.status, 400);
        want_spring_body(
            r.body, 400, "Bad Request",
            "Service name filter error,caused: " EMPTY_GROUP_MSG ";", "/svc");
        request("PUT", "/svc?serviceName=q", "serviceName=f", &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, "[DEFAULT_GROUP@@q]"); /* query first */
    }
}

/* ------------------------------------------------ ParamCheckerFilter */

static void test_check_namespace(void **state)
{
    (void)state;
    want_check(url("/params?namespaceId=%s", rep('n', 65)),
               TOO_LONG("namespaceId/tenant", 64));
    want_pass(url("/params?namespaceId=%s", rep('n', 64)), "pass []");
    want_check("/params?namespaceId=a.b", ILLEGAL("namespaceId/tenant"));
    want_check("/params?namespaceId=a%20b", ILLEGAL("namespaceId/tenant"));
    want_check("/params?namespaceId=%C3%A9", ILLEGAL("namespaceId/tenant"));
    want_pass("/params?namespaceId=aZ09_-", "pass []");
    want_pass("/params?namespaceId=%20", "pass []"); /* blank: skipped */
    /* The length is checked before the characters. */
    want_check(url("/params?namespaceId=%s", rep('.', 65)),
               TOO_LONG("namespaceId/tenant", 64));
}

static void test_check_service(void **state)
{
    (void)state;
    /* The part after the first @@, at most 512. */
    want_check(url("/params?serviceName=%s", rep('s', 513)),
               TOO_LONG("serviceName", 512));
    want_pass(url("/params?serviceName=%s", rep('s', 512)),
              url("pass [DEFAULT_GROUP@@%s]", rep('s', 512)));
    want_check("/params?serviceName=g@@a@@b", ILLEGAL("serviceName"));
    want_check("/params?serviceName=a%20b", ILLEGAL("serviceName"));
    want_check("/params?serviceName=@x", ILLEGAL("serviceName"));
    want_check("/params?serviceName=x%E4%B8%AD", ILLEGAL("serviceName"));
    want_check("/params?serviceName=a%09b", ILLEGAL("serviceName"));
    want_pass("/params?serviceName=a@b", "pass [DEFAULT_GROUP@@a@b]");
    want_pass("/params?serviceName=a@", "pass [DEFAULT_GROUP@@a@]");
    /* The first character may be CJK; later ones may not. */
    want_pass("/params?serviceName=%E4%B8%ADx",
              "pass [DEFAULT_GROUP@@\xe4\xb8\xadx]");
    want_pass("/params?serviceName=x.y:z-_!", "pass [DEFAULT_GROUP@@x.y:z-_!]");
}

static void test_check_group(void **state)
{
    (void)state;
    want_check(url("/params?serviceName=s&groupName=%s", rep('g', 129)),
               TOO_LONG("group", 128));
    want_pass(url("/params?serviceName=s&groupName=%s", rep('g', 128)),
              url("pass [%s@@s]", rep('g', 128)));
    want_check("/params?serviceName=s&groupName=a%20b", ILLEGAL("group"));
    want_check("/params?serviceName=a!b@@s", ILLEGAL("group"));
    want_check("/params?serviceName=s&groupName=a/b", ILLEGAL("group"));
    want_pass("/params?serviceName=s&groupName=a:b.c-d_e9",
              "pass [a:b.c-d_e9@@s]");
    /* Without a service name the groupName parameter is still checked. */
    want_check("/params?groupName=a!b", ILLEGAL("group"));
}

static void test_check_cluster(void **state)
{
    (void)state;
    want_check(url("/params?clusterName=%s", rep('c', 65)),
               TOO_LONG("cluster", 64));
    want_pass(url("/params?clusterName=%s", rep('c', 64)), "pass []");
    want_check("/params?clusterName=a.b", ILLEGAL("cluster"));
    want_pass("/params?clusterName=a_b-9", "pass []");
    /* cluster= when clusterName is blank; clusterName wins otherwise. */
    want_check("/params?cluster=a.b", ILLEGAL("cluster"));
    want_check("/params?clusterName=%20&cluster=a.b", ILLEGAL("cluster"));
    want_pass("/params?clusterName=ok&cluster=a.b", "pass []");
}

#define IP_FORMAT                                                              \
    "Param 'ip' is illegal, it should be an IPv4 or IPv6 address or a host "   \
    "name."

static void test_check_ip_port(void **state)
{
    char host[129];
    (void)state;
    /* 128 bytes of a host name: labels "aaaaaaa." and a last 'h'. */
    for (size_t i = 0; i < 128; i++) {
        host[i] = i % 8 == 7 ? '.' : 'a';
    }
    host[127] = 'h';
    host[128] = '\0';
    want_check(url("/params?ip=%s", rep('1', 129)), TOO_LONG("ip", 128));
    want_pass(url("/params?ip=%s", host), "pass []");
    want_check("/params?ip=127.2.3.4%20", ILLEGAL("ip"));
    want_check("/params?ip=%E4%B8%AD", ILLEGAL("ip"));
    want_pass("/params?ip=abc", "pass []"); /* a host name */
    want_pass("/params?ip=::1", "pass []");
    /* Stricter than Nacos: an address or a host name. */
    want_check("/params?ip=127.1.1.%FF", IP_FORMAT);
    want_check("/params?ip=127.1.1.300", IP_FORMAT);
    want_check(url("/params?ip=%s", rep('1', 128)), IP_FORMAT);

    want_check("/params?port=abc", PORT_MSG);
    want_check("/params?port=70000", PORT_MSG);
    want_check("/params?port=-1", PORT_MSG);
    want_check("/params?port=65536", PORT_MSG);
    want_check("/params?port=2147483648", PORT_MSG);
    want_check("/params?port=1.0", PORT_MSG);
    want_check("/params?port=%2080", PORT_MSG);
    want_pass("/params?port=0", "pass []");
    want_pass("/params?port=65535", "pass []");
    want_pass("/params?port=%2B80", "pass []"); /* +80 */
    want_pass("/params?port=0080", "pass []");
    want_pass("/params?port=%20", "pass []"); /* blank: skipped */
    /* checkPort when port is blank. */
    want_check("/params?checkPort=abc", PORT_MSG);
    want_check("/params?port=&checkPort=abc", PORT_MSG);
    want_pass("/params?port=80&checkPort=abc", "pass []");
}

static void test_check_metadata(void **state)
{
    char meta[2200];
    (void)state;
    /* Keys and values add up: 24 + 1000 = 1024 is fine, 1025 is not. */
    snprintf(meta, sizeof meta, "%s=%s", rep('k', 24), rep('v', 1000));
    want_pass(url("/params?metadata=%s", meta), "pass []");
    snprintf(meta, sizeof meta, "%s=%s", rep('k', 25), rep('v', 1000));
    want_check(url("/params?metadata=%s", meta),
               "Param 'Metadata' is illegal, the param length should not "
               "exceed 1024.");
    /* JSON counts the same way; blank keys and values do not count. */
    snprintf(meta, sizeof meta, "{\"%s\":\"%s\",\"%%20\":\"%%20%%20\"}",
             rep('k', 24), rep('v', 1000));
    want_pass(url("/params?metadata=%s", meta), "pass []");
    snprintf(meta, sizeof meta, "{\"%s\":\"%s\",\"x\":\"%%20\"}", rep('k', 24),
             rep('v', 1000));
    want_check(url("/params?metadata=%s", meta),
               "Param 'Metadata' is illegal, the param length should not "
               "exceed 1024.");
    /* Metadata length comes after every other check. */
    snprintf(meta, sizeof meta, "%s=%s", rep('k', 25), rep('v', 1000));
    want_check(url("/params?port=abc&metadata=%s", meta), PORT_MSG);
}

static void test_check_metadata_unparsable(void **state)
{
    (void)state;
    want_spring("/params?metadata=abc", 500, "Internal Server Error",
                "Server failed, caused: ErrCode:400, ErrMsg:metadata "
                "format incorrect:abc;caused: metadata format incorrect:abc;",
                "/params");
    want_spring("/params?metadata=a=b,,c=d", 500, "Internal Server Error",
                "Server failed, caused: ErrCode:400, ErrMsg:metadata "
                "format incorrect:a=b,,c=d;caused: metadata format "
                "incorrect:a=b,,c=d;",
                "/params");
    /* The extractor quotes the raw parameter, untrimmed; JSON-escaped. */
    want_spring("/params?metadata=%20a%22b%20", 500, "Internal Server Error",
                "Server failed, caused: ErrCode:400, ErrMsg:metadata "
                "format incorrect: a\\\"b ;caused: metadata format "
                "incorrect: a\\\"b ;",
                "/params");
    /* Parsed during extraction: it wins over every other parameter error. */
    want_spring("/params?namespaceId=a.b&port=abc&metadata=abc", 500,
                "Internal Server Error",
                "Server failed, caused: ErrCode:400, ErrMsg:metadata "
                "format incorrect:abc;caused: metadata format incorrect:abc;",
                "/params");
    /* Blank metadata is no metadata. */
    want_pass("/params?metadata=%20", "pass []");
}

static void test_check_order(void **state)
{
    (void)state;
    /* namespaceId, serviceName, group, cluster, ip, port, metadata. */
    want_check("/params?namespaceId=a.b&serviceName=a%20b&port=abc",
               ILLEGAL("namespaceId/tenant"));
    want_check("/params?serviceName=x!@@a%20b&clusterName=a.b",
               ILLEGAL("serviceName"));
    want_check("/params?serviceName=x!@@s&clusterName=a.b", ILLEGAL("group"));
    want_check("/params?clusterName=a.b&ip=a%20b", ILLEGAL("cluster"));
    want_check("/params?ip=a%20b&port=abc", ILLEGAL("ip"));
}

static void test_check_list(void **state)
{
    (void)state;
    /* The instance-list extractor: clusters, no ip, port or metadata. */
    want_check("/list?serviceName=s&clusters=a,b.c", ILLEGAL("cluster"));
    want_check(url("/list?serviceName=s&clusters=a,%s", rep('c', 65)),
               TOO_LONG("cluster", 64));
    want_pass("/list?serviceName=s&clusters=,a,,b_c-1,",
              "pass [DEFAULT_GROUP@@s]");
    want_pass("/list?serviceName=s&clusters=a,%20,b",
              "pass [DEFAULT_GROUP@@s]");
    want_pass("/list?serviceName=s&port=abc&ip=a%20b&metadata=abc"
              "&clusterName=a.b",
              "pass [DEFAULT_GROUP@@s]");
    want_check("/list?serviceName=s&namespaceId=a.b",
               ILLEGAL("namespaceId/tenant"));
    want_check("/list?serviceName=a%20b", ILLEGAL("serviceName"));
    want_check("/list?serviceName=s&groupName=a!", ILLEGAL("group"));
}

/* ------------------------------------------------------- WebUtils */

static void test_required(void **state)
{
    (void)state;
    want_text("/required?name=serviceName", 400,
              "Param 'serviceName' is required.");
    want_text("/required?name=ip&ip=", 400, "Param 'ip' is required.");
    want_text("/required?name=port&port", 400, "Param 'port' is required.");
    /* isEmpty, not isBlank: " " passes and is trimmed to "". */
    want_text("/required?name=ip&ip=%20", 200, "[]");
    want_text("/required?name=ip&ip=%20%20127.2.3.4%09", 200, "[127.2.3.4]");
    want_text("/required?name=ip&ip=a%20b", 200, "[a b]");
}

static void test_optional(void **state)
{
    (void)state;
    want_text("/optional?name=v", 200, "(null)");
    want_text("/optional?name=v&v=", 200, "(null)");
    want_text("/optional?name=v&v=%20%09", 200, "(null)");
    want_text("/optional?name=v&v=%20x%20", 200, "[x]");
    want_text("/optional?name=v&v=a%20b", 200, "[a b]");
}

/* --------------------------------------------------- error kinds */

static void test_error_kinds(void **state)
{
    struct reply r;
    (void)state;

    r = get("/error?code=LC_ENOTFOUND&msg=no%20matched%20ip%20found!");
    assert_int_equal(r.status, 404);
    assert_string_equal(r.ctype, CT_TEXT);
    assert_string_equal(r.body, "no matched ip found!");

    r = get("/error?code=LC_EINVAL&msg=bad");
    assert_int_equal(r.status, 400);
    assert_string_equal(r.ctype, CT_TEXT);
    assert_string_equal(r.body, "bad");

    r = get("/error?code=LC_ESERVER&msg=caused:%20x;");
    assert_int_equal(r.status, 500);
    assert_string_equal(r.ctype, CT_TEXT);
    assert_string_equal(r.body, "caused: x;");

    r = get("/error?code=LC_ECHECK&msg=m");
    assert_int_equal(r.status, 400);
    assert_false(r.has_ctype);
    assert_int_equal(r.len, 3);
    assert_memory_equal(r.body, "m\r\n", 3);

    r = get("/error?code=LC_ENOTREADY&msg=server%20is%20STARTING"
            "now,%20please%20try%20again%20later!");
    assert_int_equal(r.status, 503);
    assert_false(r.has_ctype);
    assert_string_equal(r.body,
                        "server is STARTINGnow, please try again later!");

    r = get("/error?code=LC_EMISSING&msg=ip");
    assert_int_equal(r.status, 400);
    assert_string_equal(r.ctype, CT_TEXT);
    assert_string_equal(r.body, "Param 'ip' is required.");

    r = get("/ok");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, CT_TEXT);
    assert_int_equal(r.len, 2);
    assert_string_equal(r.body, "ok");

    want_spring("/error?code=LC_ENOAPI&msg=no%20such%20api:POST:/x", 501,
                "Not Implemented", "no such api:POST:/x", "/error");
    want_spring("/error?code=LC_ENOHANDLER&msg=m", 404, "Not Found", "m",
                "/error");
    want_spring("/error?code=LC_EBADNAME&msg=m", 400, "Bad Request", "m",
                "/error");
    want_spring("/error?code=LC_EEXTRACT&msg=m", 500,
                "Internal Server Error", "m", "/error");
}

/* The v2 envelope: the code's status, its v2 code and abstract, and the
 * message as data; a missing parameter says so in Spring's words, a type
 * mismatch puts its message where the abstract goes. */
static void test_error_v2(void **state)
{
    static const struct {
        const char *code;
        int status;
        const char *body;
    } cases[] = {
        {"LC_EMISSING", 400,
         "{\"code\":10000,\"message\":\"parameter missing\",\"data\":"
         "\"Required parameter 'ip' type String is not present\"}"},
        {"LC_EINVAL", 400,
         "{\"code\":20002,\"message\":\"parameter validate error\","
         "\"data\":\"ip\"}"},
        {"LC_ECHECK", 400,
         "{\"code\":20002,\"message\":\"parameter validate error\","
         "\"data\":\"ip\"}"},
        {"LC_ENOTFOUND", 404,
         "{\"code\":20004,\"message\":\"resource not found\",\"data\":"
         "\"ip\"}"},
        {"LC_ESERVICE_EXISTS", 400,
         "{\"code\":21007,\"message\":\"service already exist\",\"data\":"
         "\"ip\"}"},
        {"LC_ESERVICE_NOTFOUND", 400,
         "{\"code\":21008,\"message\":\"service not exist\",\"data\":"
         "\"ip\"}"},
        {"LC_ESERVICE_NOTEMPTY", 400,
         "{\"code\":21009,\"message\":\"service delete failure\","
         "\"data\":\"ip\"}"},
        {"LC_ESERVER", 500,
         "{\"code\":30000,\"message\":\"server error\",\"data\":\"ip\"}"},
        {"LC_ENOTREADY", 503,
         "{\"code\":30000,\"message\":\"server error\",\"data\":\"ip\"}"},
        {"LC_ETYPE", 500,
         "{\"code\":30000,\"message\":\"ip\",\"data\":null}"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char target[128];
        struct reply r;
        snprintf(target, sizeof target, "/nacos/v2/error?code=%s&msg=ip",
                 cases[i].code);
        r = get(target);
        if (r.status != cases[i].status ||
            strcmp(r.ctype, CT_JSON) != 0 ||
            strcmp(r.body, cases[i].body) != 0) {
            fail_msg("%s: got %d '%s' '%s', want %d '%s'", cases[i].code,
                     r.status, r.ctype, r.body, cases[i].status,
                     cases[i].body);
        }
    }
}

static void test_spring_escapes(void **state)
{
    (void)state;
    /* As Jackson writes strings: quote and backslash escaped, the five
     * short escapes, other controls as \u00XX (upper-case hex), the rest
     * (including non-ASCII and '/') verbatim. */
    want_spring("/error?code=LC_EBADNAME"
                "&msg=q%22b%5Cs/n%0At%09r%0Db%08f%0Ce%1Bu%C3%A9",
                400, "Bad Request",
                "q\\\"b\\\\s/n\\nt\\tr\\rb\\bf\\fe\\u001Bu\xc3\xa9", "/error");
}

static void test_spring_zone(void **state)
{
    struct reply r;
    (void)state;
    /* A zone behind UTC: "-03:00". The server thread is idle between
     * requests, so changing TZ here is safe. */
    setenv("TZ", "BRT+3", 1);
    tzset();
    r = get("/error?code=LC_EBADNAME&msg=m");
    setenv("TZ", "IST-5:30", 1);
    tzset();
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "-03:00\",\"status\":400,"));
    assert_int_equal(strlen("{\"timestamp\":\"2024-11-05T10:00:00.123-03:00\""),
                     strstr(r.body, ",\"status\"") - r.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_service_name_format),
        cmocka_unit_test(test_service_filter),
        cmocka_unit_test(test_check_namespace),
        cmocka_unit_test(test_check_service),
        cmocka_unit_test(test_check_group),
        cmocka_unit_test(test_check_cluster),
        cmocka_unit_test(test_check_ip_port),
        cmocka_unit_test(test_check_metadata),
        cmocka_unit_test(test_check_metadata_unparsable),
        cmocka_unit_test(test_check_order),
        cmocka_unit_test(test_check_list),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_optional),
        cmocka_unit_test(test_error_kinds),
        cmocka_unit_test(test_error_v2),
        cmocka_unit_test(test_spring_escapes),
        cmocka_unit_test(test_spring_zone),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
