/* The /nacos/v1/auth handlers (auth/http.c) over a real HTTP server and an
 * auth module whose store has no raft group (lc_auth_new_detached), filled
 * by applying entries: login and its Authorization header, the admin init
 * once an admin exists, listings and their paging and filters, and every
 * refusal made before a change is written (parameters missing, malformed,
 * out of bounds; PUT by someone else), each with Nacos's answer. The
 * changes themselves go through raft: test/cluster/test_auth_admin.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <raft.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/http.h"
#include "auth/internal.h"
#include "auth/store.h"
#include "common/err.h"
#include "statemachine/statemachine.h"
#include "test/support/http_env.h"

#define FORM "application/x-www-form-urlencoded"
#define HAVE_ADMIN                                                           \
    "{\"code\":409,\"message\":null,\"data\":\"have admin user cannot use "  \
    "it\"}"

struct env {
    struct ht_thread th;
    struct lc_auth *a;
    int setup_rv;
};

static struct env env;

/* Apply one entry to @a's store (on the server's thread, before it
 * listens); 0 or the entry's status. */
static int apply(struct lc_auth *a, const char *op, json_t *doc)
{
    struct lc_raft_sm *sm =
        lc_statemachine_sm(lc_auth_store_sm(lc_auth_store(a)));
    static uint64_t index = 1;
    struct lc_raft_result result;
    char *text = json_dumps(doc, JSON_COMPACT);
    void *buf;
    size_t len;
    json_decref(doc);
    memset(&result, 0, sizeof result);
    if (text == NULL || lc_sm_encode_write(LC_AUTH_GROUP, "", op, "", text,
                                           strlen(text), &buf, &len) != 0) {
        free(text);
        return LC_ENOMEM;
    }
    sm->apply(sm, index++, buf, len, &result);
    raft_free(buf);
    free(text);
    return result.status;
}

static int hashed(struct lc_auth *a, const char *op, const char *user,
                  const char *password)
{
    char hash[128];
    if (lc_password_hash(password, hash, sizeof hash) != 0) {
        return LC_EIO;
    }
    return apply(a, op,
                 user != NULL
                     ? json_pack("{s:s,s:s}", "username", user, "password",
                                 hash)
                     : json_pack("{s:s}", "password", hash));
}

/* On the server's thread: the module, its users, the routes. */
static int routes(struct lc_http_server *srv, void *data)
{
    struct env *e = data;
    struct lc_auth_config cfg;
    unsigned char key[32];
    int rv = 0;
    lc_auth_config_default(&cfg);
    cfg.enabled = true;
    memset(key, 0x5a, sizeof key);
    key[0] = (unsigned char)getpid();
    EVP_EncodeBlock((unsigned char *)cfg.secret_b64, key, sizeof key);
    if (lc_auth_new_detached(&e->th.loop, &cfg, &e->a) != 0) {
        return -1;
    }
    rv |= hashed(e->a, LC_AUTH_OP_ADMIN_INIT, NULL, "adminpw");
    rv |= hashed(e->a, LC_AUTH_OP_USER_CREATE, "alice", "alicepw");
    rv |= hashed(e->a, LC_AUTH_OP_USER_CREATE, "bob", "bobpw");
    rv |= apply(e->a, LC_AUTH_OP_ROLE_ADD,
                json_pack("{s:s,s:s}", "role", "dev", "username", "alice"));
    rv |= apply(e->a, LC_AUTH_OP_ROLE_ADD,
                json_pack("{s:s,s:s}", "role", "dev", "username", "bob"));
    rv |= apply(e->a, LC_AUTH_OP_PERMISSION_ADD,
                json_pack("{s:s,s:s,s:s}", "role", "dev", "resource",
                          "dev:*:*", "action", "rw"));
    e->setup_rv = rv;
    if (rv != 0) {
        return -1;
    }
    return lc_auth_http_routes(e->a, srv) != 0 ? -1 : 0;
}

static int setup(void **state)
{
    (void)state;
    memset(&env, 0, sizeof env);
    if (ht_thread_start(&env.th, routes, &env) != 0) {
        fprintf(stderr, "setup failed (%d)\n", env.setup_rv);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (ht_thread_stop(&env.th) != 0) {
        return -1;
    }
    lc_auth_free(env.a);
    return 0;
}

/* ----------------------------------------------------------------- HTTP */

static int call(const char *method, const char *path, const char *form,
                char **body)
{
    int st = -1;
    size_t len;
    *body = NULL;
    if (lc_http_fetch("127.0.0.1", env.th.port, method, path,
                      form != NULL ? FORM : NULL, form,
                      form != NULL ? strlen(form) : 0, 5000, &st, body,
                      &len) != 0) {
        return -1;
    }
    return st;
}

static void expect(const char *method, const char *path, const char *form,
                   int want, const char *want_body)
{
    char *body;
    int st = call(method, path, form, &body);
    if (st != want ||
        (want_body != NULL && (body == NULL || strcmp(body, want_body)))) {
        fail_msg("%s %s [%s]: %d '%s', want %d '%s'", method, path,
                 form != NULL ? form : "", st, body != NULL ? body : "",
                 want, want_body != NULL ? want_body : "(any)");
    }
    free(body);
}

/* As expect(), the body only required to contain @part. */
static void expect_has(const char *method, const char *path,
                       const char *form, int want, const char *part)
{
    char *body;
    int st = call(method, path, form, &body);
    if (st != want || body == NULL || strstr(body, part) == NULL) {
        fail_msg("%s %s [%s]: %d '%s', want %d with '%s'", method, path,
                 form != NULL ? form : "", st, body != NULL ? body : "",
                 want, part);
    }
    free(body);
}

/* Log in; the token into @token. */
static void login(const char *user, const char *pw, char *token,
                  size_t size)
{
    char form[128];
    char *body;
    json_t *doc;
    snprintf(form, sizeof form, "username=%s&password=%s", user, pw);
    assert_int_equal(call("POST", "/nacos/v1/auth/login", form, &body), 200);
    doc = json_loads(body, 0, NULL);
    assert_non_null(json_string_value(json_object_get(doc, "accessToken")));
    snprintf(token, size, "%s",
             json_string_value(json_object_get(doc, "accessToken")));
    json_decref(doc);
    free(body);
}

/* ---------------------------------------------------------------- login */

static void test_login(void **state)
{
    char *body;
    json_t *doc;
    char head[4096];
    char req[512];
    struct sockaddr_in sa;
    struct timeval tv = {5, 0};
    size_t got = 0;
    ssize_t n;
    int fd;
    (void)state;

    assert_int_equal(call("POST", "/nacos/v1/auth/users/login",
                          "username=nacos&password=adminpw", &body),
                     200);
    doc = json_loads(body, 0, NULL);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "username")),
                        "nacos");
    assert_true(json_is_true(json_object_get(doc, "globalAdmin")));
    assert_true(json_integer_value(json_object_get(doc, "tokenTtl")) > 17000);
    /* Key order as Nacos's ObjectNode. */
    assert_true(strncmp(body, "{\"accessToken\":\"ey", 18) == 0);
    assert_non_null(strstr(body, "\",\"tokenTtl\":"));
    json_decref(doc);
    free(body);
    expect_has("POST", "/nacos/v1/auth/login",
               "username=alice&password=alicepw", 200,
               "\"globalAdmin\":false,\"username\":\"alice\"}");

    /* The token also comes in the Authorization header. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)env.th.port);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    snprintf(req, sizeof req,
             "POST /nacos/v1/auth/login?username=bob HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: " FORM "\r\nContent-Length: 14\r\n"
             "Connection: close\r\n\r\npassword=bobpw");
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    while (got < sizeof head - 1 &&
           (n = read(fd, head + got, sizeof head - 1 - got)) > 0) {
        got += (size_t)n;
    }
    head[got] = '\0';
    close(fd);
    if (strncmp(head, "HTTP/1.1 200 OK\r\n", 17) != 0 ||
        strstr(head, "\r\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.") ==
            NULL ||
        strstr(head, "\r\nContent-Type: application/json\r\n") == NULL) {
        fail_msg("login head: %s", head);
    }
    {
        /* The header's token is the body's. */
        const char *h = strstr(head, "Authorization: Bearer ") + 22;
        const char *b = strstr(head, "\"accessToken\":\"") + 15;
        size_t tl = strcspn(h, "\r");
        assert_true(tl > 20);
        assert_memory_equal(h, b, tl);
        assert_int_equal(b[tl], '"');
    }

    /* Refusals: wrong password, unknown user, blank; binding failures. */
    expect("POST", "/nacos/v1/auth/login", "username=nacos&password=x", 403,
           "user not found!");
    expect("POST", "/nacos/v1/auth/login", "username=ghost&password=x", 403,
           "user not found!");
    expect("POST", "/nacos/v1/auth/login", "username=&password=", 403,
           "user not found!");
    expect("POST", "/nacos/v1/auth/login", "username=nacos", 500,
           "caused: Required request parameter &#39;password&#39; for "
           "method parameter type String is not present;");
    expect("POST", "/nacos/v1/auth/login", NULL, 500,
           "caused: Required request parameter &#39;username&#39; for "
           "method parameter type String is not present;");
    expect("GET", "/nacos/v1/auth/login", NULL, 405, NULL);
}

/* ----------------------------------------------------------- admin init */

static void test_admin_closed(void **state)
{
    (void)state;
    expect("POST", "/nacos/v1/auth/users/admin", NULL, 200, HAVE_ADMIN);
    expect("POST", "/nacos/v1/auth/users/admin", "password=whatever1", 200,
           HAVE_ADMIN);
    expect("POST", "/nacos/v1/auth/admin", NULL, 200, HAVE_ADMIN);
    /* A bad password is refused before anything else. */
    expect("POST", "/nacos/v1/auth/users/admin", "password=a%01b", 400,
           "caused: password has a control character;");
}

/* ------------------------------------------------------------- listings */

#define USERS "/nacos/v1/auth/users?search="

static void test_listings(void **state)
{
    (void)state;
    expect("GET", USERS "accurate&pageNo=1&pageSize=10", NULL, 200,
           "{\"totalCount\":3,\"pageNumber\":1,\"pagesAvailable\":1,"
           "\"pageItems\":[{\"username\":\"nacos\",\"password\":\"\"},"
           "{\"username\":\"alice\",\"password\":\"\"},"
           "{\"username\":\"bob\",\"password\":\"\"}]}");
    expect("GET", USERS "accurate&pageNo=2&pageSize=1", NULL, 200,
           "{\"totalCount\":3,\"pageNumber\":2,\"pagesAvailable\":3,"
           "\"pageItems\":[{\"username\":\"alice\",\"password\":\"\"}]}");
    expect("GET", USERS "accurate&pageNo=2&pageSize=2", NULL, 200,
           "{\"totalCount\":3,\"pageNumber\":2,\"pagesAvailable\":2,"
           "\"pageItems\":[{\"username\":\"bob\",\"password\":\"\"}]}");
    expect("GET", USERS "accurate&pageNo=9&pageSize=2", NULL, 200,
           "{\"totalCount\":3,\"pageNumber\":9,\"pagesAvailable\":2,"
           "\"pageItems\":[]}");
    expect("GET", USERS "accurate&pageNo=1&pageSize=10&username=bob", NULL,
           200,
           "{\"totalCount\":1,\"pageNumber\":1,\"pagesAvailable\":1,"
           "\"pageItems\":[{\"username\":\"bob\",\"password\":\"\"}]}");
    /* accurate is whole-name; blur is LIKE: '*' any run, else exact. */
    expect("GET", USERS "accurate&pageNo=1&pageSize=10&username=bo", NULL,
           200,
           "{\"totalCount\":0,\"pageNumber\":1,\"pagesAvailable\":0,"
           "\"pageItems\":[]}");
    expect("GET", USERS "blur&pageNo=1&pageSize=10&username=bo", NULL, 200,
           "{\"totalCount\":0,\"pageNumber\":1,\"pagesAvailable\":0,"
           "\"pageItems\":[]}");
    expect("GET", USERS "blur&pageNo=1&pageSize=10&username=*o*", NULL, 200,
           "{\"totalCount\":2,\"pageNumber\":1,\"pagesAvailable\":1,"
           "\"pageItems\":[{\"username\":\"nacos\",\"password\":\"\"},"
           "{\"username\":\"bob\",\"password\":\"\"}]}");
    expect("GET", USERS "blur&pageNo=1&pageSize=10&username=a%25", NULL, 200,
           "{\"totalCount\":1,\"pageNumber\":1,\"pagesAvailable\":1,"
           "\"pageItems\":[{\"username\":\"alice\",\"password\":\"\"}]}");
    /* A blank filter is no filter. */
    expect_has("GET", USERS "accurate&pageNo=1&pageSize=10&username=%20",
               NULL, 200, "\"totalCount\":3");
    /* The alias. */
    expect_has("GET", "/nacos/v1/auth?search=accurate&pageNo=1&pageSize=10",
               NULL, 200, "\"totalCount\":3");

    expect("GET",
           "/nacos/v1/auth/roles?search=accurate&pageNo=1&pageSize=10"
           "&role=dev",
           NULL, 200,
           "{\"totalCount\":2,\"pageNumber\":1,\"pagesAvailable\":1,"
           "\"pageItems\":[{\"role\":\"dev\",\"username\":\"alice\"},"
           "{\"role\":\"dev\",\"username\":\"bob\"}]}");
    expect("GET",
           "/nacos/v1/auth/roles?search=blur&pageNo=1&pageSize=10"
           "&role=ROLE*&username=n*",
           NULL, 200,
           "{\"totalCount\":1,\"pageNumber\":1,\"pagesAvailable\":1,"
           "\"pageItems\":[{\"role\":\"ROLE_ADMIN\",\"username\":\"nacos\"}"
           "]}");
    expect("GET",
           "/nacos/v1/auth/permissions?search=accurate&pageNo=1&pageSize=10",
           NULL, 200,
           "{\"totalCount\":1,\"pageNumber\":1,\"pagesAvailable\":1,"
           "\"pageItems\":[{\"role\":\"dev\",\"resource\":\"dev:*:*\","
           "\"action\":\"rw\"}]}");
    expect("GET",
           "/nacos/v1/auth/permissions?search=accurate&pageNo=1&pageSize=10"
           "&role=de",
           NULL, 200,
           "{\"totalCount\":0,\"pageNumber\":1,\"pagesAvailable\":0,"
           "\"pageItems\":[]}");
    expect("GET", "/nacos/v1/auth/users/search?username=o", NULL, 200,
           "[\"nacos\",\"bob\"]");
    expect("GET", "/nacos/v1/auth/search?username=lic", NULL, 200,
           "[\"alice\"]");
    expect("GET", "/nacos/v1/auth/users/search?username=zzz", NULL, 200,
           "[]");
    expect("GET", "/nacos/v1/auth/roles/search?role=e", NULL, 200,
           "[\"dev\"]");
    expect("GET", "/nacos/v1/auth/roles/search", NULL, 500,
           "caused: Required request parameter &#39;role&#39; for method "
           "parameter type String is not present;");
}

static void test_listing_errors(void **state)
{
    (void)state;
    expect("GET", "/nacos/v1/auth/users?pageNo=1&pageSize=10&x=a&x=b", NULL,
           500,
           "caused: Parameter conditions &quot;search=accurate&quot; OR "
           "&quot;search=blur&quot; not met for actual request parameters: "
           "pageNo={1}, pageSize={10}, x={a, b};");
    expect("GET", "/nacos/v1/auth/roles?search=fuzzy&pageNo=1&pageSize=10",
           NULL, 500, NULL);
    expect("GET", USERS "accurate&pageSize=10", NULL, 500,
           "caused: Required request parameter &#39;pageNo&#39; for method "
           "parameter type int is not present;");
    expect("GET", USERS "accurate&pageNo=&pageSize=10", NULL, 500,
           "caused: Required request parameter &#39;pageNo&#39; for method "
           "parameter type int is present but converted to null;");
    expect("GET", USERS "accurate&pageNo=1&pageSize=x1", NULL, 500,
           "caused: Failed to convert value of type &#39;java.lang.String&#39;"
           " to required type &#39;int&#39;; nested exception is "
           "java.lang.NumberFormatException: For input string: "
           "&quot;x1&quot;;caused: For input string: &quot;x1&quot;;");
    expect("GET", USERS "accurate&pageNo=0&pageSize=10", NULL, 400,
           "caused: pageNo and pageSize must be greater than zero;");
    expect("GET", USERS "blur&pageNo=1&pageSize=-1", NULL, 400,
           "caused: pageNo and pageSize must be greater than zero;");
    /* Far pages do not overflow. */
    expect_has("GET", USERS "accurate&pageNo=2147483647&pageSize=2147483647",
               NULL, 200, "\"pageItems\":[]");
    expect("GET", USERS "accurate&pageNo=1&pageSize=10&username=a%01", NULL,
           400, "caused: username has a control character;");
    expect("GET", USERS "accurate&pageNo=1&pageSize=10&username=%FF", NULL,
           400, "caused: username is not valid UTF-8;");
    expect("DELETE", "/nacos/v1/auth/users/search?username=a", NULL, 405,
           NULL);
}

/* --------------------------------------------- refusals before a write */

static void test_refusals(void **state)
{
    char form[300];
    char longname[200];
    (void)state;
    expect("POST", "/nacos/v1/auth/users", "username=nacos&password=x", 200,
           "{\"code\":409,\"message\":null,\"data\":\"User `nacos` is "
           "default admin user. Please use `/nacos/v1/auth/users/admin` API "
           "to init `nacos` users. Detail see `https://nacos.io/docs/latest/"
           "manual/admin/auth/#31-%E8%AE%BE%E7%BD%AE%E7%AE%A1%E7%90%86%E5%91"
           "%98%E5%AF%86%E7%A0%81`\"}");
    expect("POST", "/nacos/v1/auth/users", "username=alice&password=x", 400,
           "caused: user 'alice' already exist!;");
    expect("POST", "/nacos/v1/auth/users", "username=carol", 500,
           "caused: Required request parameter &#39;password&#39; for "
           "method parameter type String is not present;");
    expect("POST", "/nacos/v1/auth/users", "password=x", 500,
           "caused: Required request parameter &#39;username&#39; for "
           "method parameter type String is not present;");
    expect("POST", "/nacos/v1/auth/users", "username=&password=x", 400,
           "caused: username is blank;");
    expect("POST", "/nacos/v1/auth/users", "username=c%09d&password=x", 400,
           "caused: username has a control character;");
    expect("POST", "/nacos/v1/auth/users", "username=c%E3%80%80d&password=x",
           400, "caused: username has whitespace;");
    memset(longname, 'p', 73);
    longname[73] = '\0';
    snprintf(form, sizeof form, "username=carol&password=%s", longname);
    expect("POST", "/nacos/v1/auth/users", form, 400,
           "caused: password is too long (at most 72 bytes);");
    memset(longname, 'u', 129);
    longname[129] = '\0';
    snprintf(form, sizeof form, "username=%s&password=x", longname);
    expect("POST", "/nacos/v1/auth/users", form, 400,
           "caused: username is too long;");
    /* A name that cannot exist: Nacos's silent success, nothing written. */
    expect("DELETE", "/nacos/v1/auth/users?username=a%20b", NULL, 200,
           "{\"code\":200,\"message\":null,\"data\":\"delete user ok!\"}");
    expect("DELETE", "/nacos/v1/auth/users", NULL, 500, NULL);

    expect("POST", "/nacos/v1/auth/roles", "role=dev", 500,
           "caused: Required request parameter &#39;username&#39; for "
           "method parameter type String is not present;");
    expect("POST", "/nacos/v1/auth/roles", "role=d%20v&username=alice", 400,
           "caused: role has whitespace;");
    expect("DELETE", "/nacos/v1/auth/roles?role=&username=alice", NULL, 400,
           "caused: role is blank;");
    expect("POST", "/nacos/v1/auth/permissions",
           "role=dev&resource=x&action=wr", 400,
           "caused: action must be one of r, w, rw;");
    expect("POST", "/nacos/v1/auth/permissions",
           "role=dev&resource=a%20b&action=r", 400,
           "caused: resource has whitespace;");
    expect("DELETE", "/nacos/v1/auth/permissions?role=dev&resource=x", NULL,
           500,
           "caused: Required request parameter &#39;action&#39; for method "
           "parameter type String is not present;");

    /* Nothing changed. */
    expect_has("GET", USERS "accurate&pageNo=1&pageSize=10", NULL, 200,
               "\"totalCount\":3");
    expect_has("GET",
               "/nacos/v1/auth/permissions?search=accurate&pageNo=1"
               "&pageSize=10",
               NULL, 200, "\"totalCount\":1");
}

/* PUT /users: the caller identifies itself; admin or the same user. */
static void test_password_change_refusals(void **state)
{
    char admin[1024];
    char alice[1024];
    char path[1400];
    (void)state;
    login("nacos", "adminpw", admin, sizeof admin);
    login("alice", "alicepw", alice, sizeof alice);

    expect_has("PUT", "/nacos/v1/auth/users",
               "username=alice&newPassword=x1", 403,
               "\"status\":403,\"error\":\"Forbidden\",\"message\":\"user "
               "not found!\",\"path\":\"/nacos/v1/auth/users\"}");
    expect_has("PUT", "/nacos/v1/auth/users?accessToken=garbage",
               "username=alice&newPassword=x1", 403,
               "\"message\":\"token invalid!\"");
    snprintf(path, sizeof path, "/nacos/v1/auth/users?accessToken=%s", alice);
    expect_has("PUT", path, "username=bob&newPassword=x1", 403,
               "\"message\":\"authorization failed!\"");
    expect_has("PUT", path, "username=nacos&newPassword=x1", 403,
               "\"message\":\"authorization failed!\"");
    /* Username and password on the request identify the caller too. */
    expect_has("PUT", "/nacos/v1/auth/users",
               "username=bob&password=alicepw&newPassword=x1", 403,
               "\"message\":\"user not found!\"");
    expect("PUT", path, "username=alice", 500,
           "caused: Required request parameter &#39;newPassword&#39; for "
           "method parameter type String is not present;");
    expect("PUT", path, "username=alice&newPassword=", 400,
           "caused: newPassword is blank;");
    snprintf(path, sizeof path, "/nacos/v1/auth/users?accessToken=%s", admin);
    expect("PUT", path, "username=ghost&newPassword=x1", 400,
           "caused: user ghost not exist!;");
    /* Nothing changed: the old passwords still work. */
    login("alice", "alicepw", alice, sizeof alice);
    login("bob", "bobpw", alice, sizeof alice);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login),
        cmocka_unit_test(test_admin_closed),
        cmocka_unit_test(test_listings),
        cmocka_unit_test(test_listing_errors),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_password_change_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
