/* Tests of server/gate.c's table: every route locusd registers on the main
 * port is listed, and what the routes Nacos secures (or leaves open) need. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "auth/http.h"
#include "common/log.h"
#include "naming/http/routes.h"
#include "rpc/http/http.h"
#include "server/admin.h"
#include "server/gate.h"
#include "server/loader.h"

static void h_none(struct lc_http_exchange *ex, void *data)
{
    (void)data;
    lc_http_reply(ex, 204, NULL, "", 0);
}

static void on_closed(struct lc_http_server *srv, void *data)
{
    (void)srv;
    *(bool *)data = true;
}

/* The routes of naming, admin, loader and auth (their modules are not
 * needed to register them) are all in the table. */
static void test_every_route_listed(void **state)
{
    uv_loop_t loop;
    struct lc_http_server *srv;
    struct lc_admin *admin;
    struct lc_loader *loader;
    bool closed = false;
    (void)state;

    lc_log_set_level(LC_LOG_WARN); /* the unlisted ones are named */
    assert_int_equal(uv_loop_init(&loop), 0);
    srv = lc_http_server_new(&loop, NULL);
    assert_non_null(srv);
    assert_int_equal(lc_naming_http_routes(NULL, srv), 0);
    admin = lc_admin_new(NULL, NULL, srv);
    assert_non_null(admin);
    loader = lc_loader_new(&loop, srv, NULL, NULL, NULL, 0);
    assert_non_null(loader);
    assert_int_equal(lc_auth_http_routes(NULL, srv), 0);
    assert_int_equal(lc_gate_check_routes(srv), 0);
    /* One route more, unknown to the table: reported. */
    assert_int_equal(
        lc_http_server_route(srv, LC_HTTP_GET, "/nacos/v1/new", h_none, NULL),
        0);
    assert_int_equal(lc_gate_check_routes(srv), 1);
    lc_http_server_close(srv, 0, on_closed, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_true(closed);
    lc_admin_free(admin);
    lc_loader_free(loader);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_needs(void **state)
{
    static const struct {
        unsigned method;
        const char *path;
        const char *need;
    } cases[] = {
        /* Unsecured in Nacos 2.4.3. */
        {LC_HTTP_GET, "/nacos/v1/ns/operator/switches", "open"},
        {LC_HTTP_GET, "/nacos/v1/ns/ops/switches", "open"},
        {LC_HTTP_GET, "/nacos/v2/ns/operator/switches", "open"},
        {LC_HTTP_GET, "/nacos/v1/ns/operator/metrics", "open"},
        {LC_HTTP_GET, "/nacos/v2/ns/operator/metrics", "open"},
        {LC_HTTP_GET, "/nacos/v1/ns/health/server", "open"},
        {LC_HTTP_POST, "/nacos/v1/auth/login", "open"},
        {LC_HTTP_POST, "/nacos/v1/auth/users/login", "open"},
        {LC_HTTP_POST, "/nacos/v1/auth/users/admin", "open"},
        {LC_HTTP_PUT, "/nacos/v1/auth/users", "open"},
        /* @Secured naming. */
        {LC_HTTP_POST, "/nacos/v1/ns/instance", "w naming"},
        {LC_HTTP_DELETE, "/nacos/v1/ns/instance", "w naming"},
        {LC_HTTP_PUT, "/nacos/v1/ns/instance", "w naming"},
        {LC_HTTP_PATCH, "/nacos/v1/ns/instance", "w naming"},
        {LC_HTTP_GET, "/nacos/v1/ns/instance", "r naming"},
        {LC_HTTP_GET, "/nacos/v1/ns/instance/list", "r naming"},
        {LC_HTTP_GET, "/nacos/v2/ns/instance/list", "r naming"},
        {LC_HTTP_PUT, "/nacos/v1/ns/instance/beat", "w naming"},
        {LC_HTTP_PUT, "/nacos/v2/ns/instance/beat", "w naming"},
        {LC_HTTP_DELETE, "/nacos/v1/ns/instance/metadata/batch", "w naming"},
        {LC_HTTP_PUT, "/nacos/v1/ns/health", "w naming"},
        {LC_HTTP_PUT, "/nacos/v2/ns/health/instance", "w naming"},
        {LC_HTTP_POST, "/nacos/v2/ns/service", "w naming"},
        {LC_HTTP_GET, "/nacos/v1/ns/service/list", "r naming"},
        {LC_HTTP_POST, "/nacos/v1/ns/service/names", "r naming"},
        {LC_HTTP_GET, "/nacos/v1/ns/service/subscribers", "r naming"},
        {LC_HTTP_GET, "/nacos/v1/ns/catalog/services", "r naming"},
        {LC_HTTP_GET, "/nacos/v1/ns/catalog/instances", "r naming"},
        {LC_HTTP_GET, "/nacos/v1/ns/instance/statuses", "r naming"},
        {LC_HTTP_PUT, "/nacos/v1/ns/operator/switches", "w naming/switches"},
        {LC_HTTP_PUT, "/nacos/v2/ns/operator/switches", "w naming/switches"},
        /* Admin. */
        {LC_HTTP_PUT, "/nacos/v1/ns/operator/log", "admin"},
        {LC_HTTP_GET, "/nacos/v1/core/cluster/nodes", "admin"},
        {LC_HTTP_POST, "/nacos/v1/core/ops/raft", "admin"},
        {LC_HTTP_GET, "/v1/core/raft/groups", "admin"},
        {LC_HTTP_GET, "/nacos/v2/core/loader/current", "admin"},
        {LC_HTTP_GET, "/v2/core/loader/reloadClient", "admin"},
        {LC_HTTP_GET, "/nacos/v1/auth/users", "admin"},
        {LC_HTTP_DELETE, "/nacos/v1/auth/roles", "admin"},
        {LC_HTTP_POST, "/nacos/v1/auth/permissions", "admin"},
        /* Fail closed: methods and paths not listed. */
        {LC_HTTP_PATCH, "/nacos/v1/ns/service", "admin"},
        {LC_HTTP_POST, "/nacos/v1/ns/instance/list", "admin"},
        {LC_HTTP_DELETE, "/nacos/v1/ns/operator/switches", "admin"},
        {LC_HTTP_GET, "/nacos/v1/ns/unknown", "admin"},
        {LC_HTTP_GET, "/nacos/v1/ns/../auth/users", "admin"},
    };
    char got[128];
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lc_gate_describe(cases[i].method, cases[i].path, got, sizeof got);
        if (strcmp(got, cases[i].need) != 0) {
            fail_msg("%s (method %u): want '%s', got '%s'", cases[i].path,
                     cases[i].method, cases[i].need, got);
        }
    }
}

/* Parameters as "name=value" strings, NULL-terminated. */
static const char *param_of(void *ctx, const char *name)
{
    const char *const *kv = ctx;
    size_t n = strlen(name);
    for (; *kv != NULL; kv++) {
        if (strncmp(*kv, name, n) == 0 && (*kv)[n] == '=') {
            return *kv + n + 1;
        }
    }
    return NULL;
}

/* The resource each naming route checks covers what its handler reads:
 * the routes that list by other parameters than namespaceId / serviceName
 * / groupName do not take a group from those. */
static void test_naming_resources(void **state)
{
    static const struct {
        unsigned method;
        const char *path;
        const char *params[5];
        const char *resource;
        bool admin;
    } cases[] = {
        /* The default: namespaceId, serviceName ("G@@S" names the group)
         * or groupName. */
        {LC_HTTP_GET, "/nacos/v1/ns/instance/list",
         {"serviceName=S", "groupName=G", NULL}, ":G:naming/S", false},
        {LC_HTTP_GET, "/nacos/v1/ns/instance/list",
         {"serviceName=H@@S", "groupName=G", "namespaceId=n1", NULL},
         "n1:H:naming/S", false},
        {LC_HTTP_GET, "/nacos/v1/ns/catalog/instances",
         {"serviceName=S", NULL}, ":DEFAULT_GROUP:naming/S", false},
        {LC_HTTP_PUT, "/nacos/v1/ns/instance/beat",
         {"serviceName=G@@S", "beat={\"serviceName\":\"X@@Y\"}", NULL},
         ":G:naming/S", false},
        /* catalog/services: groupNameParam and serviceNameParam are
         * substring patterns; groupName and serviceName are not what it
         * lists. */
        {LC_HTTP_GET, "/nacos/v1/ns/catalog/services",
         {"groupName=G", "withInstances=true", NULL}, ":*:naming/*", false},
        {LC_HTTP_GET, "/nacos/v1/ns/catalog/services",
         {"groupNameParam=G", "serviceName=G@@S", NULL}, ":*:naming/*",
         false},
        {LC_HTTP_GET, "/nacos/v1/ns/catalog/services",
         {"namespaceId=n1", "groupNameParam=G", "serviceNameParam=S", NULL},
         "n1:*:naming/*", false},
        /* service/names: blank namespaceId is every namespace. */
        {LC_HTTP_GET, "/nacos/v1/ns/service/names", {"groupName=G", NULL},
         ":*:naming/*", true},
        {LC_HTTP_GET, "/nacos/v1/ns/service/names",
         {"namespaceId= ", "serviceName=G@@S", NULL}, ":*:naming/*", true},
        {LC_HTTP_POST, "/nacos/v1/ns/service/names",
         {"namespaceId=n1", "groupName=G", NULL}, "n1:*:naming/*", false},
        {LC_HTTP_GET, "/nacos/v1/ns/service/names",
         {"namespaceId=public", NULL}, ":*:naming/*", false},
        /* service/list: the group is groupName's, not serviceName's. */
        {LC_HTTP_GET, "/nacos/v1/ns/service/list",
         {"serviceName=G@@S", NULL}, ":DEFAULT_GROUP:naming/*", false},
        {LC_HTTP_GET, "/nacos/v2/ns/service/list",
         {"serviceName=G@@S", "groupName=H", "namespaceId=n1", NULL},
         "n1:H:naming/*", false},
        /* instance/statuses: the service its key names. */
        {LC_HTTP_GET, "/nacos/v1/ns/instance/statuses",
         {"key=n1##G@@S", "serviceName=H@@T", NULL}, "n1:G:naming/S", false},
        {LC_HTTP_GET, "/nacos/v1/ns/instance/statuses",
         {"key=G@@S", NULL}, ":G:naming/S", false},
        {LC_HTTP_GET, "/nacos/v1/ns/instance/statuses", {NULL},
         ":*:naming/*", false},
    };
    char got[256];
    bool admin;
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        admin = !cases[i].admin;
        assert_true(lc_gate_naming_resource(
            cases[i].method, cases[i].path, param_of,
            (void *)cases[i].params, got, sizeof got, &admin));
        if (strcmp(got, cases[i].resource) != 0 || admin != cases[i].admin) {
            fail_msg("case %zu %s: want '%s'%s, got '%s'%s", i, cases[i].path,
                     cases[i].resource, cases[i].admin ? " (admin)" : "", got,
                     admin ? " (admin)" : "");
        }
    }
    /* Not a naming route. */
    assert_false(lc_gate_naming_resource(LC_HTTP_GET,
                                         "/nacos/v1/ns/operator/switches",
                                         param_of, (void *)cases[0].params,
                                         got, sizeof got, &admin));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_route_listed),
        cmocka_unit_test(test_needs),
        cmocka_unit_test(test_naming_resources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
