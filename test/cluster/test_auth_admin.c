/* Users, roles and permissions on a live 3-member cluster with auth on
 * (auth/store.c, auth/http.c): the admin is initialised once (also after a
 * restart), login works on every member, a user, role and permission made
 * on one member are seen and enforced on every member, removing a role
 * takes effect everywhere, bad requests change nothing, and everything
 * survives a snapshot and a restart of the whole cluster. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "test/support/tcluster.h"

#define GROUP "auth_users_roles_permissions"
#define FORM "application/x-www-form-urlencoded"
#define IP "127.7.0.12"
#define HAVE_ADMIN "{\"code\":409,\"message\":null,\"data\":\"have admin user cannot use it\"}"

/* --------------------------------------------------------------- config */

static void random_bytes(unsigned char *out, size_t n)
{
    FILE *f = fopen("/dev/urandom", "rb");
    assert_non_null(f);
    assert_int_equal(fread(out, 1, n, f), n);
    fclose(f);
}

/* The extra configuration: auth on with a fresh random secret and server
 * identity (nothing published, nothing fixed in the test). */
static void auth_config(char *out, size_t size, const char *more)
{
    unsigned char key[48];
    unsigned char id[16];
    char b64[80];
    char hex[40];
    random_bytes(key, sizeof key);
    random_bytes(id, sizeof id);
    EVP_EncodeBlock((unsigned char *)b64, key, sizeof key);
    for (size_t i = 0; i < sizeof id; i++) {
        snprintf(hex + 2 * i, 3, "%02x", id[i]);
    }
    snprintf(out, size,
             "nacos.core.auth.enabled=true\n"
             "nacos.core.auth.system.type=nacos\n"
             "nacos.core.auth.plugin.nacos.token.secret.key=%s\n"
             "nacos.core.auth.server.identity.key=locus-test-%.8s\n"
             "nacos.core.auth.server.identity.value=%s\n"
             "%s",
             b64, hex, hex, more != NULL ? more : "");
}

/* ----------------------------------------------------------------- HTTP */

/* @method @path (with "accessToken=@token" added when not NULL) on node
 * @i with the form @form; status, body in *@body (malloc'd, may be NULL). */
static int call(struct tc *t, unsigned i, const char *method,
                const char *path, const char *token, const char *form,
                char **body)
{
    char full[2048];
    if (token != NULL) {
        snprintf(full, sizeof full, "%s%caccessToken=%s", path,
                 strchr(path, '?') != NULL ? '&' : '?', token);
    } else {
        snprintf(full, sizeof full, "%s", path);
    }
    return tc_http(t, i, method, full, form != NULL ? FORM : NULL, form,
                   body);
}

/* As call(), failing the test unless status @want and (when not NULL)
 * body @want_body. */
static void expect(struct tc *t, unsigned i, const char *method,
                   const char *path, const char *token, const char *form,
                   int want, const char *want_body)
{
    char *body = NULL;
    int st = call(t, i, method, path, token, form, &body);
    if (st != want ||
        (want_body != NULL &&
         (body == NULL || strcmp(body, want_body) != 0))) {
        fail_msg("node %u %s %s [%s]: status %d body '%s', want %d '%s'", i,
                 method, path, form != NULL ? form : "", st,
                 body != NULL ? body : "(none)", want,
                 want_body != NULL ? want_body : "(any)");
    }
    free(body);
}

/* Retry @method @path on node @i until it answers @want (and contains
 * @needle when not NULL); fail after TC_WAIT_MS. */
static void eventually(struct tc *t, unsigned i, const char *method,
                       const char *path, const char *token, const char *form,
                       int want, const char *needle)
{
    uint64_t end = tc_now_ms() + TC_WAIT_MS;
    int st;
    char *body = NULL;
    do {
        free(body);
        body = NULL;
        st = call(t, i, method, path, token, form, &body);
        if (st == want &&
            (needle == NULL || (body != NULL && strstr(body, needle)))) {
            free(body);
            return;
        }
        tc_sleep_ms(50);
    } while (tc_now_ms() < end);
    fail_msg("node %u %s %s: status %d body '%s', want %d with '%s'", i,
             method, path, st, body != NULL ? body : "(none)", want,
             needle != NULL ? needle : "");
}

/* Log in on node @i; the token into @token (or fail). */
static void login(struct tc *t, unsigned i, const char *user,
                  const char *password, char *token, size_t size,
                  bool *admin)
{
    char form[256];
    char *body = NULL;
    json_t *doc;
    const char *tok;
    int st;
    snprintf(form, sizeof form, "username=%s&password=%s", user, password);
    st = call(t, i, "POST", "/nacos/v1/auth/login", NULL, form, &body);
    doc = body != NULL ? json_loads(body, 0, NULL) : NULL;
    tok = json_string_value(json_object_get(doc, "accessToken"));
    if (st != 200 || tok == NULL ||
        !json_is_integer(json_object_get(doc, "tokenTtl")) ||
        strcmp(json_string_value(json_object_get(doc, "username")), user) !=
            0) {
        fail_msg("login %s on node %u: %d %s", user, i, st,
                 body != NULL ? body : "(none)");
    }
    snprintf(token, size, "%s", tok);
    if (admin != NULL) {
        *admin = json_is_true(json_object_get(doc, "globalAdmin"));
    }
    json_decref(doc);
    free(body);
}

/* Log in until it works (a member that has not applied the user yet). */
static void login_eventually(struct tc *t, unsigned i, const char *user,
                             const char *password, char *token, size_t size)
{
    char form[256];
    snprintf(form, sizeof form, "username=%s&password=%s", user, password);
    eventually(t, i, "POST", "/nacos/v1/auth/login", NULL, form, 200,
               "accessToken");
    login(t, i, user, password, token, size, NULL);
}

/* The raw response head of a login on node @i (to see its headers). */
static void login_head(struct tc *t, unsigned i, const char *form,
                       char *out, size_t size)
{
    struct sockaddr_in sa;
    struct timeval tv = {5, 0};
    char req[512];
    size_t got = 0;
    ssize_t n;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)t->c.nodes[i].port);
    inet_pton(AF_INET, t->c.nodes[i].host, &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    snprintf(req, sizeof req,
             "POST /nacos/v1/auth/users/login HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: " FORM "\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n%s",
             strlen(form), form);
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    while (got < size - 1 && (n = read(fd, out + got, size - 1 - got)) > 0) {
        got += (size_t)n;
    }
    out[got] = '\0';
    close(fd);
}

/* lastSnapshot.index of the auth group on node @i (-1: unknown). */
static long long snapshot_index(struct tc *t, unsigned i, const char *token)
{
    char *body = NULL;
    json_t *root, *g;
    size_t k;
    long long out = -1;
    if (call(t, i, "GET", "/nacos/v1/core/raft/groups", token, NULL,
             &body) != 200) {
        free(body);
        return -1;
    }
    root = json_loads(body, 0, NULL);
    free(body);
    json_array_foreach(json_object_get(root, "groups"), k, g)
    {
        const char *name = json_string_value(json_object_get(g, "group"));
        if (name != NULL && strcmp(name, GROUP) == 0) {
            json_t *idx = json_object_get(json_object_get(g, "lastSnapshot"),
                                          "index");
            out = json_is_integer(idx) ? json_integer_value(idx) : 0;
        }
    }
    json_decref(root);
    return out;
}

/* doSnapshot of the auth group on node @i; the snapshot file must have
 * the three tables. */
static void snapshot_now(struct tc *t, unsigned i, const char *token)
{
    char addr[64];
    char text[256];
    char *body = NULL;
    long long before = snapshot_index(t, i, token);
    long long after;
    int st;
    snprintf(text, sizeof text,
             "{\"groupId\":\"" GROUP "\",\"command\":\"doSnapshot\","
             "\"value\":\"%s\"}",
             tc_raft_addr(t, i, addr, sizeof addr));
    {
        char path[2048];
        snprintf(path, sizeof path, "/nacos/v1/core/ops/raft?accessToken=%s",
                 token);
        st = tc_http_timeout(t, i, "POST", path, "application/json", text,
                             30000, &body);
    }
    if (st != 200 || tc_rest_code(body) != 200) {
        fail_msg("doSnapshot on node %u: %d %s", i, st,
                 body != NULL ? body : "(none)");
    }
    free(body);
    after = snapshot_index(t, i, token);
    print_message("node %u: auth snapshot %lld -> %lld\n", i, before, after);
    assert_true(after > before);
    assert_true(after > 0);
}

/* The newest snapshot file of the auth group on node @i has users, roles
 * and permissions tables holding @user. */
static void snapshot_file_has(struct tc *t, unsigned i, const char *user)
{
    char dir[1400];
    char file[1800] = "";
    char cmd[4000];
    char out[4096];
    unsigned long long best = 0;
    DIR *d;
    struct dirent *e;
    FILE *p;
    size_t n;
    snprintf(dir, sizeof dir, "%s/protocol/raft/%s", t->c.nodes[i].data_dir,
             GROUP);
    d = opendir(dir);
    if (d == NULL) {
        fail_msg("no %s", dir);
    }
    while ((e = readdir(d)) != NULL) {
        unsigned long long term, index, stamp;
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".meta") == 0) {
            continue;
        }
        if (sscanf(e->d_name, "snapshot-%llu-%llu-%llu", &term, &index,
                   &stamp) == 3 &&
            index >= best) {
            best = index;
            snprintf(file, sizeof file, "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    if (file[0] == '\0') {
        fail_msg("node %u: no auth snapshot file in %s", i, dir);
    }
    snprintf(cmd, sizeof cmd,
             "cp '%s' '%s/auth-copy.db' && sqlite3 '%s/auth-copy.db' "
             "'.tables' 'SELECT username FROM users' 2>&1",
             file, t->tmp, t->tmp);
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    pclose(p);
    if (strstr(out, "users") == NULL || strstr(out, "roles") == NULL ||
        strstr(out, "permissions") == NULL || strstr(out, user) == NULL) {
        fail_msg("node %u snapshot %s: %s", i, file, out);
    }
}

/* POST the admin init on node @i until it answers (the group may still be
 * electing); return the body (malloc'd). */
static char *admin_init(struct tc *t, unsigned i, const char *password)
{
    char form[128];
    char *body = NULL;
    uint64_t end = tc_now_ms() + TC_WAIT_MS;
    int st;
    snprintf(form, sizeof form, "password=%s", password);
    do {
        free(body);
        body = NULL;
        st = call(t, i, "POST", "/nacos/v1/auth/users/admin", NULL, form,
                  &body);
        if (st == 200) {
            return body;
        }
        tc_sleep_ms(100);
    } while (tc_now_ms() < end);
    fail_msg("admin init on node %u: %d %s", i, st,
             body != NULL ? body : "(none)");
    return NULL;
}

#define LIST(what) "/nacos/v1/auth/" what "?search=accurate&pageNo=1&pageSize=100"
#define SVC_LIST "/nacos/v1/ns/instance/list?serviceName=authsvc"

/* ---------------------------------------------------------------- tests */

/* Admin init, login everywhere, changes on one member seen and enforced
 * on every member, role removal everywhere, bad requests change nothing. */
static void test_admin_and_replication(void **state)
{
    struct tc *t = *state;
    char extra[512];
    char pw[32];
    char want[128];
    char admin[1024];
    char alice[1024];
    char head[4096];
    char *body;
    bool is_admin = false;
    unsigned char r[6];

    auth_config(extra, sizeof extra, NULL);
    tc_up(t, "auth-admin", 3, extra);

    /* Nothing is open before the admin exists but the init itself. */
    expect(t, 0, "GET", LIST("users"), NULL, NULL, 403, NULL);

    random_bytes(r, sizeof r);
    snprintf(pw, sizeof pw, "Adm%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2],
             r[3], r[4], r[5]);
    body = admin_init(t, 0, pw);
    snprintf(want, sizeof want, "{\"username\":\"nacos\",\"password\":\"%s\"}",
             pw);
    assert_string_equal(body, want);
    free(body);
    /* Once: on every member, whatever the password. */
    for (unsigned i = 0; i < 3; i++) {
        expect(t, i, "POST", "/nacos/v1/auth/users/admin", NULL,
               "password=another1", 200, HAVE_ADMIN);
        expect(t, i, "POST", "/nacos/v1/auth/users/admin", NULL, NULL, 200,
               HAVE_ADMIN);
    }

    /* Login on every member; wrong password and unknown user alike. */
    for (unsigned i = 0; i < 3; i++) {
        char form[128];
        login_eventually(t, i, "nacos", pw, admin, sizeof admin);
        login(t, i, "nacos", pw, admin, sizeof admin, &is_admin);
        assert_true(is_admin);
        snprintf(form, sizeof form, "username=nacos&password=%sx", pw);
        expect(t, i, "POST", "/nacos/v1/auth/login", NULL, form, 403,
               "user not found!");
        expect(t, i, "POST", "/nacos/v1/auth/users/login", NULL,
               "username=nobody&password=x", 403, "user not found!");
    }
    {
        char form[128];
        snprintf(form, sizeof form, "username=nacos&password=%s", pw);
        login_head(t, 1, form, head, sizeof head);
        if (strstr(head, "HTTP/1.1 200") != head ||
            strstr(head, "\r\nAuthorization: Bearer ey") == NULL) {
            fail_msg("login head: %s", head);
        }
    }

    /* A user, a role and a permission, each made on another member. */
    expect(t, 1, "POST", "/nacos/v1/auth/users", admin,
           "username=alice&password=alicepw1", 200,
           "{\"code\":200,\"message\":null,\"data\":\"create user ok!\"}");
    expect(t, 2, "POST", "/nacos/v1/auth/users", admin,
           "username=alice&password=other", 400,
           "caused: user 'alice' already exist!;");
    /* Member 2 may not have applied alice yet: the role waits for it. */
    eventually(t, 2, "GET", LIST("users"), admin, NULL, 200, "\"alice\"");
    expect(t, 2, "POST", "/nacos/v1/auth/roles", admin,
           "role=reader&username=alice", 200,
           "{\"code\":200,\"message\":null,\"data\":\"add role ok!\"}");
    eventually(t, 0, "GET", LIST("roles"), admin, NULL, 200, "\"reader\"");
    expect(t, 0, "POST", "/nacos/v1/auth/permissions", admin,
           "role=reader&resource=:*:*&action=r", 200,
           "{\"code\":200,\"message\":null,\"data\":\"add permission ok!\"}");
    expect(t, 0, "POST", "/nacos/v1/auth/permissions", admin,
           "role=nobody&resource=:*:*&action=r", 400,
           "caused: role nobody not found!;");
    expect(t, 0, "POST", "/nacos/v1/auth/roles", admin,
           "role=ROLE_ADMIN&username=alice", 400,
           "caused: role 'ROLE_ADMIN' is not permitted to create!;");
    expect(t, 1, "POST", "/nacos/v1/auth/users", admin,
           "username=nacos&password=x", 200, NULL);
    expect(t, 1, "DELETE", "/nacos/v1/auth/users?username=nacos", admin,
           NULL, 400, "caused: cannot delete admin: nacos;");

    /* Seen and enforced everywhere: alice reads public services but
     * neither writes them nor manages users. */
    for (unsigned i = 0; i < 3; i++) {
        eventually(t, i, "GET", LIST("permissions"), admin, NULL, 200,
                   "{\"role\":\"reader\",\"resource\":\":*:*\","
                   "\"action\":\"r\"}");
        expect(t, i, "GET", LIST("users"), admin, NULL, 200, NULL);
        login_eventually(t, i, "alice", "alicepw1", alice, sizeof alice);
        eventually(t, i, "GET", SVC_LIST, alice, NULL, 200, NULL);
        expect(t, i, "POST",
               "/nacos/v1/ns/instance?serviceName=authsvc&ip=" IP "&port=1",
               alice, NULL, 403, NULL);
        expect(t, i, "GET", LIST("users"), alice, NULL, 403, NULL);
        expect(t, i, "GET", "/nacos/v1/auth/users?search=accurate&pageNo=1"
                            "&pageSize=10&username=alice",
               admin, NULL, 200,
               "{\"totalCount\":1,\"pageNumber\":1,\"pagesAvailable\":1,"
               "\"pageItems\":[{\"username\":\"alice\",\"password\":\"\"}]}");
    }

    /* Bad requests change nothing. */
    {
        char *before = NULL;
        char *after = NULL;
        char longname[200];
        char form[300];
        memset(longname, 'x', 129);
        longname[129] = '\0';
        snprintf(form, sizeof form, "username=%s&password=p", longname);
        assert_int_equal(call(t, 0, "GET", LIST("users"), admin, NULL,
                              &before),
                         200);
        expect(t, 0, "POST", "/nacos/v1/auth/users", admin, form, 400,
               "caused: username is too long;");
        expect(t, 0, "POST", "/nacos/v1/auth/users", admin,
               "username=bad%C3&password=p", 400,
               "caused: username is not valid UTF-8;");
        expect(t, 0, "POST", "/nacos/v1/auth/users", admin,
               "username=b%20c&password=p", 400,
               "caused: username has whitespace;");
        expect(t, 0, "POST", "/nacos/v1/auth/users", admin,
               "username=b%01c&password=p", 400,
               "caused: username has a control character;");
        expect(t, 0, "POST", "/nacos/v1/auth/users", admin, "username=bob",
               500,
               "caused: Required request parameter &#39;password&#39; for "
               "method parameter type String is not present;");
        expect(t, 0, "POST", "/nacos/v1/auth/users", admin,
               "username=bob&password=", 400, "caused: password is blank;");
        expect(t, 0, "POST", "/nacos/v1/auth/permissions", admin,
               "role=reader&resource=:*:*&action=x", 400,
               "caused: action must be one of r, w, rw;");
        expect(t, 0, "GET", "/nacos/v1/auth/users?pageNo=1&pageSize=1",
               admin, NULL, 500, NULL);
        expect(t, 0, "GET",
               "/nacos/v1/auth/users?search=accurate&pageNo=0&pageSize=1",
               admin, NULL, 400,
               "caused: pageNo and pageSize must be greater than zero;");
        assert_int_equal(call(t, 0, "GET", LIST("users"), admin, NULL,
                              &after),
                         200);
        assert_string_equal(before, after);
        free(before);
        free(after);
    }

    /* Removing the role takes effect on every member. */
    expect(t, 1, "DELETE", "/nacos/v1/auth/roles?role=reader&username=alice",
           admin, NULL, 200,
           "{\"code\":200,\"message\":null,\"data\":\"delete role of user "
           "alice ok!\"}");
    for (unsigned i = 0; i < 3; i++) {
        eventually(t, i, "GET", SVC_LIST, alice, NULL, 403,
                   "authorization failed!");
    }
    /* Alice changes her own password, not the admin's. */
    expect(t, 2, "PUT", "/nacos/v1/auth/users", alice,
           "username=nacos&newPassword=stolen1", 403,
           NULL);
    expect(t, 2, "PUT", "/nacos/v1/auth/users", alice,
           "username=alice&newPassword=alicepw2", 200,
           "{\"code\":200,\"message\":null,\"data\":\"update user ok!\"}");
    /* Each change costs a BCrypt and a raft entry: five a minute per user
     * on a member, then 503 until the minute ends. */
    for (int k = 0; k < 4; k++) {
        expect(t, 2, "PUT", "/nacos/v1/auth/users", alice,
               "username=alice&newPassword=alicepw2", 200, NULL);
    }
    {
        char *b = NULL;
        assert_int_equal(call(t, 2, "PUT", "/nacos/v1/auth/users", alice,
                              "username=alice&newPassword=alicepw3", &b),
                         503);
        if (b == NULL ||
            strstr(b, "too many password changes for this user, retry in") ==
                NULL) {
            fail_msg("want the rate limit's answer, got '%s'",
                     b != NULL ? b : "");
        }
        free(b);
    }
    for (unsigned i = 0; i < 3; i++) {
        login_eventually(t, i, "alice", "alicepw2", alice, sizeof alice);
        expect(t, i, "POST", "/nacos/v1/auth/login", NULL,
               "username=alice&password=alicepw1", 403, "user not found!");
    }
    /* Deleting her takes her logins away everywhere. */
    expect(t, 0, "DELETE", "/nacos/v1/auth/users?username=alice", admin,
           NULL, 200,
           "{\"code\":200,\"message\":null,\"data\":\"delete user ok!\"}");
    for (unsigned i = 0; i < 3; i++) {
        eventually(t, i, "POST", "/nacos/v1/auth/login", NULL,
                   "username=alice&password=alicepw2", 403,
                   "user not found!");
    }
    tc_pass(t);
}

/* Users, roles and permissions survive a snapshot and a restart of every
 * member; the admin init stays closed. */
static void test_restart_snapshot(void **state)
{
    struct tc *t = *state;
    char extra[512];
    char admin[1024];
    char tok[1024];
    char *body;
    char form[128];

    auth_config(extra, sizeof extra, NULL);
    tc_up(t, "auth-restart", 3, extra);
    body = admin_init(t, 1, "Restart9pw");
    assert_string_equal(body,
                        "{\"username\":\"nacos\",\"password\":\"Restart9pw\"}");
    free(body);
    login_eventually(t, 0, "nacos", "Restart9pw", admin, sizeof admin);
    for (int k = 1; k <= 5; k++) {
        snprintf(form, sizeof form, "username=user%d&password=pw%d", k, k);
        expect(t, (unsigned)k % 3, "POST", "/nacos/v1/auth/users", admin,
               form, 200, NULL);
    }
    eventually(t, 0, "GET", LIST("users"), admin, NULL, 200, "\"user5\"");
    expect(t, 0, "POST", "/nacos/v1/auth/roles", admin,
           "role=writer&username=user1", 200, NULL);
    expect(t, 0, "POST", "/nacos/v1/auth/permissions", admin,
           "role=writer&resource=:*:naming/*&action=rw", 200, NULL);
    expect(t, 0, "DELETE", "/nacos/v1/auth/users?username=user5", admin,
           NULL, 200, NULL);

    /* A snapshot on every member, then one more change in the log only. */
    for (unsigned i = 0; i < 3; i++) {
        eventually(t, i, "GET", LIST("permissions"), admin, NULL, 200,
                   "writer");
        snapshot_now(t, i, admin);
        snapshot_file_has(t, i, "user4");
    }
    expect(t, 2, "POST", "/nacos/v1/auth/users", admin,
           "username=user6&password=pw6", 200, NULL);
    for (unsigned i = 0; i < 3; i++) {
        eventually(t, i, "GET", LIST("users"), admin, NULL, 200, "\"user6\"");
    }

    tc_stop_all(t);
    for (unsigned i = 0; i < 3; i++) {
        tc_start(t, i);
    }
    tc_wait_all_ready(t);

    for (unsigned i = 0; i < 3; i++) {
        /* The old token still works (same secret); the state is all back. */
        eventually(t, i, "GET", LIST("users"), admin, NULL, 200, "\"user6\"");
        expect(t, i, "GET", LIST("users"), admin, NULL, 200, NULL);
        body = NULL;
        assert_int_equal(call(t, i, "GET", LIST("users"), admin, NULL, &body),
                         200);
        for (int k = 1; k <= 6; k++) {
            char name[32];
            snprintf(name, sizeof name, "\"user%d\"", k);
            if ((strstr(body, name) != NULL) != (k != 5)) {
                fail_msg("node %u after restart: %s in %s", i, name, body);
            }
        }
        free(body);
        eventually(t, i, "GET", LIST("permissions"), admin, NULL, 200,
                   "{\"role\":\"writer\",\"resource\":\":*:naming/*\","
                   "\"action\":\"rw\"}");
        expect(t, i, "POST", "/nacos/v1/auth/users/admin", NULL,
               "password=again1", 200, HAVE_ADMIN);
        login_eventually(t, i, "nacos", "Restart9pw", tok, sizeof tok);
        login_eventually(t, i, "user1", "pw1", tok, sizeof tok);
        eventually(t, i, "GET", SVC_LIST, tok, NULL, 200, NULL);
        login_eventually(t, i, "user6", "pw6", tok, sizeof tok);
        expect(t, i, "GET", SVC_LIST, tok, NULL, 403, NULL);
        expect(t, i, "POST", "/nacos/v1/auth/login", NULL,
               "username=user5&password=pw5", 403, "user not found!");
    }
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_admin_and_replication, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_restart_snapshot, tc_setup,
                                        tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
