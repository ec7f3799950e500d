/* The auth gate of the main HTTP port (gate.h): the table of what each
 * route needs, the request's identity and the check.
 *
 * Sources (alibaba/nacos 2.4.3): core/auth/AuthFilter.java,
 * auth/context/HttpIdentityContextBuilder.java,
 * auth/parser/http/NamingHttpResourceParser.java, the @Secured
 * annotations of naming/controllers/{Instance,Health,Service,Catalog,
 * Operator}Controller{,V2}.java, core/controller/{NacosClusterController,
 * CoreOpsController,ServerLoaderController}.java and the default auth
 * plugin's controllers.
 *
 * Deliberate differences, each the stricter reading:
 *   - the naming resource names what the handler acts on: a serviceName
 *     "G@@S" gives group G even when a groupName is given too (Nacos takes
 *     the groupName, while its handler writes G@@S);
 *   - the /v1/core/cluster and /v2/core/loader endpoints and locus's raft
 *     endpoints need a global admin (Nacos matches "/v1/core/cluster"
 *     against the permissions' patterns, which only a "*" permission
 *     passes);
 *   - PUT /v1/ns/operator/log (unsecured in Nacos) needs a global admin;
 *   - the routes that list or look up by other parameters than
 *     namespaceId / serviceName / groupName get the resource of what they
 *     read (Nacos parses those three there too, which lets a user with one
 *     group read every group): catalog/services filters groups by a
 *     substring pattern (groupNameParam), so it needs every group of the
 *     namespace ("<ns>:*:naming/" then "*"); service/names with a blank
 *     namespaceId lists every namespace (a global admin), else it needs
 *     every group of the namespace; service/list lists groupName
 *     (DEFAULT_GROUP when blank) whatever serviceName says; and
 *     instance/statuses (unsecured in Nacos) reads the service its `key`
 *     names;
 *   - the brute-force limits count the connection's address, never
 *     X-Forwarded-For or X-Real-IP, which a client sets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/java.h"
#include "common/log.h"
#include "common/util.h"
#include "server/gate.h"

/* What a route needs. */
enum kind {
    K_OPEN,   /* nothing (Nacos: no @Secured) */
    K_NAMING, /* @action on the request's naming resource */
    K_NAMED,  /* @action on the fixed resource */
    K_ADMIN,  /* a global admin */
};

/* The resource a K_NAMING route's handler acts on, from its parameters
 * (@param(@ctx, name): the first value or NULL), into @out; *@admin set
 * when only a global admin may make the request. */
typedef void naming_fn(const char *(*param)(void *, const char *), void *ctx,
                       char *out, size_t size, bool *admin);

static naming_fn naming_resource, catalog_services_resource,
    service_names_resource, service_list_resource, statuses_resource;

struct rule {
    const char *path;
    unsigned methods;
    enum kind kind;
    char action;
    const char *resource; /* K_NAMED, K_ADMIN (for logs) */
    naming_fn *naming;    /* K_NAMING: NULL is naming_resource */
};

#define GET LC_HTTP_GET
#define POST LC_HTTP_POST
#define PUT LC_HTTP_PUT
#define DEL LC_HTTP_DELETE
#define PATCH LC_HTTP_PATCH
#define ANY LC_HTTP_ANY

#define NAMING_R(p)                                                            \
    {                                                                          \
        p, GET, K_NAMING, 'r', NULL, NULL                                      \
    }
#define NAMING_W(p, m)                                                         \
    {                                                                          \
        p, m, K_NAMING, 'w', NULL, NULL                                        \
    }
#define OPEN(p, m)                                                             \
    {                                                                          \
        p, m, K_OPEN, 0, NULL, NULL                                            \
    }
#define NAMING_R_BY(p, m, fn)                                                  \
    {                                                                          \
        p, m, K_NAMING, 'r', NULL, fn                                          \
    }
#define ADMIN(p, m, a, res)                                                    \
    {                                                                          \
        p, m, K_ADMIN, a, res, NULL                                            \
    }

static const struct rule rules[] = {
    /* InstanceController, InstanceControllerV2 */
    NAMING_W("/nacos/v1/ns/instance", POST | DEL | PUT | PATCH),
    NAMING_R("/nacos/v1/ns/instance"),
    NAMING_W("/nacos/v2/ns/instance", POST | DEL | PUT | PATCH),
    NAMING_R("/nacos/v2/ns/instance"),
    NAMING_R("/nacos/v1/ns/instance/list"),
    NAMING_R("/nacos/v2/ns/instance/list"),
    NAMING_W("/nacos/v1/ns/instance/beat", PUT),
    NAMING_W("/nacos/v2/ns/instance/beat", PUT),
    NAMING_W("/nacos/v1/ns/instance/metadata/batch", PUT | DEL),
    NAMING_W("/nacos/v2/ns/instance/metadata/batch", PUT | DEL),
    NAMING_R_BY("/nacos/v1/ns/instance/statuses", ANY, statuses_resource),
    /* HealthController, HealthControllerV2 */
    NAMING_W("/nacos/v1/ns/health", PUT),
    NAMING_W("/nacos/v1/ns/health/instance", PUT),
    NAMING_W("/nacos/v2/ns/health", PUT),
    NAMING_W("/nacos/v2/ns/health/instance", PUT),
    OPEN("/nacos/v1/ns/health/server", ANY),
    /* ServiceController, ServiceControllerV2 */
    NAMING_W("/nacos/v1/ns/service", POST | DEL | PUT),
    NAMING_R("/nacos/v1/ns/service"),
    NAMING_W("/nacos/v2/ns/service", POST | DEL | PUT),
    NAMING_R("/nacos/v2/ns/service"),
    NAMING_R_BY("/nacos/v1/ns/service/list", GET, service_list_resource),
    NAMING_R_BY("/nacos/v2/ns/service/list", GET, service_list_resource),
    NAMING_R_BY("/nacos/v1/ns/service/names", ANY, service_names_resource),
    NAMING_R("/nacos/v1/ns/service/subscribers"),
    OPEN("/nacos/v1/ns/service/selector/types", GET),
    /* CatalogController */
    NAMING_R_BY("/nacos/v1/ns/catalog/services", GET,
                catalog_services_resource),
    NAMING_R("/nacos/v1/ns/catalog/service"),
    {"/nacos/v1/ns/catalog/instances", ANY, K_NAMING, 'r', NULL, NULL},
    /* OperatorController (and its /ops alias), OperatorControllerV2 */
    OPEN("/nacos/v1/ns/operator/switches", GET),
    OPEN("/nacos/v1/ns/ops/switches", GET),
    OPEN("/nacos/v2/ns/operator/switches", GET),
    {"/nacos/v1/ns/operator/switches", PUT, K_NAMED, 'w', "naming/switches",
     NULL},
    {"/nacos/v1/ns/ops/switches", PUT, K_NAMED, 'w', "naming/switches",
     NULL},
    {"/nacos/v2/ns/operator/switches", PUT, K_NAMED, 'w', "naming/switches",
     NULL},
    OPEN("/nacos/v1/ns/operator/metrics", GET),
    OPEN("/nacos/v1/ns/ops/metrics", GET),
    OPEN("/nacos/v2/ns/operator/metrics", GET),
    OPEN("/nacos/v1/ns/operator/distro/client", GET),
    OPEN("/nacos/v1/ns/ops/distro/client", GET),
    OPEN("/nacos/v1/ns/operator/push/state", ANY),
    OPEN("/nacos/v1/ns/ops/push/state", ANY),
    ADMIN("/nacos/v1/ns/operator/log", PUT, 'w', "naming/log"),
    ADMIN("/nacos/v1/ns/ops/log", PUT, 'w', "naming/log"),
    /* NacosClusterController: resource /v1/core/cluster */
    ADMIN("/nacos/v1/core/cluster/nodes", GET, 'r', "/v1/core/cluster"),
    ADMIN("/nacos/v1/core/cluster/self", GET, 'r', "/v1/core/cluster"),
    ADMIN("/nacos/v1/core/cluster/health", GET, 'r', "/v1/core/cluster"),
    /* CoreOpsController: nacos/admin; locus's raft views */
    ADMIN("/nacos/v1/core/ops/raft", POST, 'w', "nacos/admin"),
    ADMIN("/nacos/v1/core/raft/groups", GET, 'r', "nacos/admin"),
    ADMIN("/v1/core/raft/groups", GET, 'r', "nacos/admin"),
    /* ServerLoaderController: resource /v2/core/loader */
    ADMIN("/nacos/v2/core/loader/current", GET, 'r', "/v2/core/loader"),
    ADMIN("/nacos/v2/core/loader/cluster", GET, 'r', "/v2/core/loader"),
    ADMIN("/nacos/v2/core/loader/reloadCurrent", GET, 'w', "/v2/core/loader"),
    ADMIN("/nacos/v2/core/loader/reloadClient", GET, 'w', "/v2/core/loader"),
    ADMIN("/nacos/v2/core/loader/smartReloadCluster", GET, 'w',
          "/v2/core/loader"),
    ADMIN("/v2/core/loader/current", GET, 'r', "/v2/core/loader"),
    ADMIN("/v2/core/loader/cluster", GET, 'r', "/v2/core/loader"),
    ADMIN("/v2/core/loader/reloadCurrent", GET, 'w', "/v2/core/loader"),
    ADMIN("/v2/core/loader/reloadClient", GET, 'w', "/v2/core/loader"),
    ADMIN("/v2/core/loader/smartReloadCluster", GET, 'w', "/v2/core/loader"),
    /* The default auth plugin's UserController (mapped at /v1/auth and
     * /v1/auth/users), RoleController, PermissionController. PUT users
     * identifies the caller in its handler (admin or the same user). */
    OPEN("/nacos/v1/auth/login", POST),
    OPEN("/nacos/v1/auth/users/login", POST),
    OPEN("/nacos/v1/auth/users/admin", POST),
    OPEN("/nacos/v1/auth/users", PUT),
    ADMIN("/nacos/v1/auth/users", GET, 'r', "console/users"),
    ADMIN("/nacos/v1/auth/users", POST | DEL, 'w', "console/users"),
    ADMIN("/nacos/v1/auth/users/search", GET, 'r', "console/users"),
    ADMIN("/nacos/v1/auth/roles", GET, 'r', "console/roles"),
    ADMIN("/nacos/v1/auth/roles", POST | DEL, 'w', "console/roles"),
    ADMIN("/nacos/v1/auth/roles/search", GET, 'r', "console/roles"),
    ADMIN("/nacos/v1/auth/permissions", GET, 'r', "console/permissions"),
    ADMIN("/nacos/v1/auth/permissions", POST | DEL, 'w', "console/permissions"),
    /* UserController is mapped at /v1/auth too. */
    OPEN("/nacos/v1/auth", PUT),
    OPEN("/nacos/v1/auth/admin", POST),
    ADMIN("/nacos/v1/auth", GET, 'r', "console/users"),
    ADMIN("/nacos/v1/auth", POST | DEL, 'w', "console/users"),
    ADMIN("/nacos/v1/auth/search", GET, 'r', "console/users"),
    /* The console's state (auth_admin_request): unsecured in Nacos. */
    OPEN("/nacos/v1/console/server/state", GET),
};

/* Whatever is routed and not listed. */
static const struct rule fail_closed = {NULL, ANY, K_ADMIN, 'w', "unlisted",
                                       NULL};

struct lc_gate {
    struct lc_auth *auth;
    time_t warned_at; /* wrong identity values: one line per 10 s */
    unsigned unwarned;
};

/* A check waiting for the thread pool (a password not seen yet). */
struct held {
    struct lc_auth_check check;
    struct lc_http_exchange *ex;
};

static const struct rule *find_rule(const char *path, unsigned method)
{
    for (size_t i = 0; i < LC_ARRAY_SIZE(rules); i++) {
        if ((rules[i].methods & method) != 0 &&
            strcmp(rules[i].path, path) == 0) {
            return &rules[i];
        }
    }
    return &fail_closed;
}

static bool listed(const char *path)
{
    for (size_t i = 0; i < LC_ARRAY_SIZE(rules); i++) {
        if (strcmp(rules[i].path, path) == 0) {
            return true;
        }
    }
    return false;
}

void lc_gate_describe(unsigned method, const char *path, char *out, size_t size)
{
    const struct rule *r = find_rule(path, method);
    switch (r->kind) {
        case K_OPEN:
            snprintf(out, size, "open");
            break;
        case K_NAMING:
            snprintf(out, size, "%c naming", r->action);
            break;
        case K_NAMED:
            snprintf(out, size, "%c %s", r->action, r->resource);
            break;
        case K_ADMIN:
            snprintf(out, size, "admin");
            break;
    }
}

/* ------------------------------------------------------------ identity */

/* Nacos's identity names, matched in any case; a parameter overrides a
 * header of the same name (HttpIdentityContextBuilder reads headers, then
 * parameters, into one map). */
enum { ID_AUTHZ, ID_TOKEN, ID_USER, ID_PASS, ID_N };
static const char *const id_names[ID_N] = {"Authorization", "accessToken",
                                           "username", "password"};

static int id_index(const char *name)
{
    /* Most names are none of the four: their first letter says so. */
    switch (name[0] | 0x20) {
        case 'a':
        case 'u':
        case 'p':
            break;
        default:
            return -1;
    }
    for (int i = 0; i < ID_N; i++) {
        if (strcasecmp(name, id_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

static void identity_of(struct lc_http_exchange *ex, struct lc_auth_ident *id)
{
    const char *v[ID_N] = {NULL};
    const char *pname[ID_N] = {NULL};
    const char *name;
    const char *value;
    int k;

    for (size_t i = 0; lc_http_header_at(ex, i, &name, &value); i++) {
        if ((k = id_index(name)) >= 0) {
            v[k] = value;
        }
    }
    for (size_t i = 0; lc_http_param_at(ex, i, &name, &value); i++) {
        if ((k = id_index(name)) < 0) {
            continue;
        }
        /* getParameter: the first value of a name */
        if (pname[k] != NULL && strcmp(pname[k], name) == 0) {
            continue;
        }
        pname[k] = name;
        v[k] = value;
    }
    memset(id, 0, sizeof *id);
    id->token = lc_auth_token_of(v[ID_AUTHZ], v[ID_TOKEN]);
    id->username = v[ID_USER];
    id->password = v[ID_PASS];
    id->remote_ip = lc_http_remote_ip(ex);
}

/* ------------------------------------------------------------ resource */

/* The naming resource as most handlers read it: namespaceId (trimmed;
 * blank is public), and the service from serviceName, whose "G@@S" form
 * names the group, else groupName (blank: DEFAULT_GROUP when a service is
 * named). */
static void naming_resource(const char *(*param)(void *, const char *),
                            void *ctx, char *out, size_t size, bool *admin)
{
    char ns[300] = "";
    char group[600] = "";
    char service[1200] = "";
    const char *raw_ns = param(ctx, "namespaceId");
    const char *raw_svc = param(ctx, "serviceName");
    const char *raw_group = param(ctx, "groupName");
    const char *sep;

    *admin = false;
    if (!lc_java_blank(raw_ns)) {
        lc_java_trim(raw_ns, ns, sizeof ns);
    }
    if (!lc_java_blank(raw_svc)) {
        lc_java_trim(raw_svc, service, sizeof service);
    }
    sep = strstr(service, "@@");
    if (sep != NULL) {
        size_t n = (size_t)(sep - service);
        if (n >= sizeof group) {
            n = sizeof group - 1;
        }
        memcpy(group, service, n);
        group[n] = '\0';
        memmove(service, sep + 2, strlen(sep + 2) + 1);
    } else if (!lc_java_blank(raw_group)) {
        lc_java_trim(raw_group, group, sizeof group);
    } else if (service[0] != '\0') {
        lc_strlcpy(group, "DEFAULT_GROUP", sizeof group);
    }
    lc_auth_naming_resource(ns, group, service, out, size);
}

/* The namespace part: namespaceId trimmed, blank is public (the filters
 * refuse a namespaceId with anything but letters, digits, '_' and '-'
 * before a handler reads it, so trimmed or not names the same one). */
static void namespace_of(const char *(*param)(void *, const char *),
                         void *ctx, char *ns, size_t size)
{
    const char *raw = param(ctx, "namespaceId");
    ns[0] = '\0';
    if (!lc_java_blank(raw)) {
        lc_java_trim(raw, ns, size);
    }
}

/* GET catalog/services: every service of namespaceId whose grouped name
 * matches ".*<groupNameParam>.*@@.*<serviceNameParam>.*" (both substring
 * patterns, blank is any), so any group and service of the namespace. */
static void catalog_services_resource(const char *(*param)(void *,
                                                          const char *),
                                      void *ctx, char *out, size_t size,
                                      bool *admin)
{
    char ns[300];
    *admin = false;
    namespace_of(param, ctx, ns, sizeof ns);
    lc_auth_naming_resource(ns, "*", "*", out, size);
}

/* service/names: the names matching `expr` in namespaceId, or in every
 * namespace when namespaceId is blank (then only a global admin). */
static void service_names_resource(const char *(*param)(void *, const char *),
                                   void *ctx, char *out, size_t size,
                                   bool *admin)
{
    char ns[300];
    namespace_of(param, ctx, ns, sizeof ns);
    *admin = ns[0] == '\0';
    lc_auth_naming_resource(ns, "*", "*", out, size);
}

/* service/list: the services of groupName (trimmed; blank is
 * DEFAULT_GROUP) in namespaceId, whatever serviceName says. */
static void service_list_resource(const char *(*param)(void *, const char *),
                                  void *ctx, char *out, size_t size,
                                  bool *admin)
{
    char ns[300];
    char group[600];
    const char *raw = param(ctx, "groupName");

    *admin = false;
    namespace_of(param, ctx, ns, sizeof ns);
    if (lc_java_blank(raw)) {
        lc_strlcpy(group, "DEFAULT_GROUP", sizeof group);
    } else {
        lc_java_trim(raw, group, sizeof group);
    }
    lc_auth_naming_resource(ns, group, "*", out, size);
}

/* Piece @i of @s split at @sep, into @out (empty when there is none). */
static void piece(const char *s, const char *sep, int i, char *out,
                  size_t size)
{
    size_t seplen = strlen(sep);
    for (; i > 0 && s != NULL; i--) {
        s = strstr(s, sep);
        if (s != NULL) {
            s += seplen;
        }
    }
    out[0] = '\0';
    if (s != NULL) {
        const char *end = strstr(s, sep);
        size_t n = end != NULL ? (size_t)(end - s) : strlen(s);
        if (n < size) {
            memcpy(out, s, n);
            out[n] = '\0';
        }
    }
}

/* instance/statuses: the service `key` names, as lc_op_statuses reads it:
 * "<ns>##<group>@@<service>" or "<group>@@<service>" (public). A key it
 * cannot read names nothing; the resource is then the namespace's "*",
 * which asks more, never less. */
static void statuses_resource(const char *(*param)(void *, const char *),
                              void *ctx, char *out, size_t size, bool *admin)
{
    const char *key = param(ctx, "key");
    char ns[300] = "";
    char service[1200] = "";
    char group[600] = "";
    char name[1200] = "";

    *admin = false;
    if (key == NULL) {
        key = "";
    }
    if (strstr(key, "##") != NULL) {
        piece(key, "##", 0, ns, sizeof ns);
        piece(key, "##", 1, service, sizeof service);
    } else {
        lc_strlcpy(service, key, sizeof service);
    }
    piece(service, "@@", 0, group, sizeof group);
    piece(service, "@@", 1, name, sizeof name);
    lc_auth_naming_resource(ns, group, name, out, size);
}

static const char *exchange_param(void *ctx, const char *name)
{
    return lc_http_param(ctx, name);
}

bool lc_gate_naming_resource(unsigned method, const char *path,
                             const char *(*param)(void *, const char *),
                             void *ctx, char *out, size_t size, bool *admin)
{
    const struct rule *r = find_rule(path, method);
    if (r->kind != K_NAMING) {
        return false;
    }
    (r->naming != NULL ? r->naming : naming_resource)(param, ctx, out, size,
                                                      admin);
    return true;
}

/* --------------------------------------------------------------- check */

static void deny(struct lc_http_exchange *ex, const struct lc_err *e)
{
    if (e->code == LC_EDENIED) {
        lc_http_reply_spring(ex, 403, e->msg);
        return;
    }
    /* AuthFilter: anything else is 500 "Server failed, <msg>"; shutting
     * down and overload keep their own status. */
    if (e->code == LC_ESHUTDOWN || e->code == LC_EBUSY) {
        lc_http_reply_spring(ex, lc_err_http_status(e->code), e->msg);
        return;
    }
    {
        char msg[sizeof e->msg + 32];
        snprintf(msg, sizeof msg, "Server failed, %s", e->msg);
        lc_http_reply_spring(ex, 500, msg);
    }
}

static void on_checked(struct lc_auth_check *c, const struct lc_err *e)
{
    struct held *h = LC_CONTAINER_OF(c, struct held, check);
    struct lc_http_exchange *ex = h->ex;

    free(h);
    if (e == NULL) {
        lc_http_pass(ex);
    } else {
        deny(ex, e);
    }
}

static void warn_identity(struct lc_gate *g, struct lc_http_exchange *ex)
{
    time_t now = time(NULL);
    if (now - g->warned_at < 10) {
        g->unwarned++;
        return;
    }
    lc_warnf("auth", "Invalid server identity value for %s from %s (%s %s)%s",
             lc_auth_identity_key(g->auth), lc_http_remote_ip(ex),
             lc_http_method_name(ex), lc_http_path(ex),
             g->unwarned > 0 ? "; more not logged" : "");
    g->warned_at = now;
    g->unwarned = 0;
}

static bool on_gate(struct lc_http_exchange *ex, void *data)
{
    struct lc_gate *g = data;
    const struct rule *r;
    const char *key;
    struct lc_auth_ident id;
    struct lc_auth_need need;
    char resource[1600]; /* a naming rule's (lc_auth_check copies it) */
    struct held *h;
    struct lc_err e;
    int rv;

    if (!lc_auth_enabled(g->auth)) {
        return false;
    }
    r = find_rule(lc_http_path(ex), lc_http_method(ex));
    if (r->kind == K_OPEN) {
        return false;
    }
    key = lc_auth_identity_key(g->auth);
    if (key[0] != '\0') {
        const char *v = lc_http_header(ex, key);
        if (v != NULL && !lc_java_blank(v)) {
            if (lc_auth_peer_identity(g->auth, v)) {
                return false; /* a peer: checked where it came in */
            }
            warn_identity(g, ex);
        }
    }
    h = malloc(sizeof *h);
    if (h == NULL) {
        lc_err_set(&e, LC_ENOMEM, "out of memory");
        deny(ex, &e);
        return true;
    }
    h->ex = ex;
    identity_of(ex, &id);
    need.admin = r->kind == K_ADMIN;
    need.resource = r->resource;
    if (r->kind == K_NAMING) {
        (r->naming != NULL ? r->naming : naming_resource)(
            exchange_param, ex, resource, sizeof resource, &need.admin);
        need.resource = resource;
    }
    need.action = r->action;
    h->check.data = g;
    rv = lc_auth_check(g->auth, &h->check, &id, &need, on_checked, &e);
    if (rv == LC_EAGAIN) {
        return true; /* on_checked answers or passes */
    }
    free(h);
    if (rv == 0 && e.code == 0) {
        return false;
    }
    if (e.code == 0) {
        lc_err_set(&e, rv, "%s", lc_strerror(rv));
    }
    deny(ex, &e);
    return true;
}

/* ------------------------------------------------------------ lifetime */

int lc_gate_new(struct lc_auth *auth, struct lc_http_server *srv,
                struct lc_gate **out)
{
    struct lc_gate *g = calloc(1, sizeof *g);
    if (g == NULL) {
        return LC_ENOMEM;
    }
    g->auth = auth;
    lc_http_server_gate(srv, on_gate, g);
    *out = g;
    return 0;
}

static void on_route(const char *path, unsigned methods, void *data)
{
    (void)methods;
    if (!listed(path)) {
        ++*(unsigned *)data;
        lc_warnf("auth",
                 "%s is routed but not in the auth gate's table: with auth "
                 "on only a global admin may use it",
                 path);
    }
}

unsigned lc_gate_check_routes(struct lc_http_server *srv)
{
    unsigned unlisted = 0;
    lc_http_server_each_route(srv, on_route, &unlisted);
    return unlisted;
}

void lc_gate_free(struct lc_gate *g)
{
    free(g);
}
