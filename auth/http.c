/* The /nacos/v1/auth endpoints (auth/http.h), answered as Nacos 2.4.3's
 * auth controllers answer through its ConsoleExceptionHandler:
 *
 *   success            200, RestResult {"code":200,"message":null,
 *                      "data":"create user ok!"} (login and admin init:
 *                      their own objects; listings: Page JSON)
 *   RestResultUtils.failed   200, {"code":409,"message":null,"data":"..."}
 *   IllegalArgumentException 400 text "caused: <msg>;" (the store's
 *                      refusals, bad parameter values)
 *   AccessException    403 text "<msg>" (login)
 *   sendError(403)     403 Spring JSON (PUT /users: not admin nor the user)
 *   anything else      500 text "caused: <msg>;" HTML-escaped, which is
 *                      also what Spring's binding failures become (a
 *                      missing @RequestParam, an int that does not parse,
 *                      a GET without search=accurate|blur)
 *
 * Changes are answered when the auth group has applied them on this member
 * (so a GET right after sees them); the exchange is held until then.
 */
#include "auth/http.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/http_console.h"
#include "auth/internal.h"
#include "auth/store.h"
#include "common/err.h"
#include "common/java.h"
#include "common/log.h"
#include "common/util.h"

#define NACOS_USER_CONFLICT                                                  \
    "User `nacos` is default admin user. Please use "                        \
    "`/nacos/v1/auth/users/admin` API to init `nacos` users. Detail see "    \
    "`https://nacos.io/docs/latest/manual/admin/auth/"                       \
    "#31-%E8%AE%BE%E7%BD%AE%E7%AE%A1%E7%90%86%E5%91%98%E5%AF%86%E7%A0%81`"

/* An exchange waiting for the auth module (a check, a login, a write). */
struct pending {
    struct lc_http_exchange *ex;
    struct lc_auth *a;
    const char *ok; /* RestResult data on success */
    char okbuf[LC_AUTH_NAME_MAX + 40];
    char password[LC_AUTH_PASSWORD_MAX + 1];
    bool admin_init;
    struct lc_auth_write w;
    struct lc_auth_login l;
    struct lc_auth_check c;
};

static struct pending *pending_new(struct lc_http_exchange *ex,
                                   struct lc_auth *a, const char *ok)
{
    struct pending *p = calloc(1, sizeof *p);
    if (p == NULL) {
        lc_console_reply_exception(ex, "out of memory");
        return NULL;
    }
    p->ex = ex;
    p->a = a;
    p->ok = ok;
    p->w.data = p;
    p->l.data = p;
    p->c.data = p;
    return p;
}

static void pending_free(struct pending *p)
{
    memset(p->password, 0, sizeof p->password);
    memset(p->l.token, 0, sizeof p->l.token);
    free(p);
}

static void on_written(struct lc_auth_write *w, const struct lc_err *e)
{
    struct pending *p = w->data;
    if (e == NULL && p->admin_init) {
        json_t *o = json_object();
        if (o != NULL) {
            json_object_set_new(o, "username",
                                json_string(LC_AUTH_ADMIN_USER));
            json_object_set_new(o, "password", json_string(p->password));
        }
        lc_console_reply_doc(p->ex, 200, o, NULL);
    } else if (e == NULL) {
        lc_console_reply_result(p->ex, 200, p->ok);
    } else if (p->admin_init && e->code == LC_EEXIST &&
               strcmp(e->msg, LC_AUTH_HAVE_ADMIN) == 0) {
        lc_console_reply_result(p->ex, 409, LC_AUTH_HAVE_ADMIN);
    } else {
        lc_console_reply_write_error(p->ex, e);
    }
    pending_free(p);
}

/* A write's start: on failure answer at once. */
static void write_started(struct pending *p, int rv)
{
    if (rv != 0) {
        struct lc_err e;
        if (rv == LC_EBUSY) {
            lc_err_set(&e, rv, "too many password checks in progress, "
                               "retry later");
        } else {
            lc_err_set(&e, rv, "%s", lc_strerror(rv));
        }
        lc_console_reply_write_error(p->ex, &e);
        pending_free(p);
    }
}

/* ------------------------------------------------------------------ login */

/* The token a request carries as login reads it (resolveToken): the
 * Authorization header after "Bearer ", else the accessToken parameter. */
static const char *login_token(struct lc_http_exchange *ex)
{
    const char *h = lc_http_header(ex, "Authorization");
    if (h != NULL && strncmp(h, "Bearer ", 7) == 0 && h[7] != '\0') {
        return h + 7;
    }
    return lc_http_param(ex, "accessToken");
}

static void login_answer(struct pending *p, const struct lc_err *e)
{
    struct lc_http_exchange *ex = p->ex;
    if (e == NULL) {
        char bearer[sizeof p->l.token + 8];
        const char *headers[] = {"Authorization", bearer, NULL};
        json_t *o = json_object();
        snprintf(bearer, sizeof bearer, "Bearer %s", p->l.token);
        if (o != NULL) {
            json_object_set_new(o, "accessToken", json_string(p->l.token));
            json_object_set_new(o, "tokenTtl", json_integer(p->l.ttl_s));
            json_object_set_new(o, "globalAdmin", json_boolean(p->l.admin));
            json_object_set_new(o, "username", json_string(p->l.username));
        }
        lc_console_reply_doc(ex, 200, o, headers);
        memset(bearer, 0, sizeof bearer);
    } else if (e->code == LC_EDENIED) {
        lc_http_reply(ex, 403, CT_TEXT, e->msg, strlen(e->msg));
    } else if (e->code == LC_EBUSY || e->code == LC_ESHUTDOWN) {
        lc_http_reply(ex, 503, CT_TEXT, e->msg, strlen(e->msg));
    } else {
        lc_console_reply_exception(
            ex, e->msg[0] != '\0' ? e->msg : lc_strerror(e->code));
    }
    pending_free(p);
}

static void on_logged_in(struct lc_auth_login *l, const struct lc_err *e)
{
    login_answer(l->data, e);
}

static void on_login(struct lc_http_exchange *ex, void *data)
{
    struct lc_auth *a = data;
    const char *username;
    const char *password;
    struct lc_auth_ident id;
    struct pending *p;
    struct lc_err e;
    int rv;

    if (!lc_console_param_required(ex, "username", &username) ||
        !lc_console_param_required(ex, "password", &password)) {
        return;
    }
    p = pending_new(ex, a, NULL);
    if (p == NULL) {
        return;
    }
    memset(&id, 0, sizeof id);
    id.token = login_token(ex);
    id.username = username;
    id.password = password;
    id.remote_ip = lc_http_remote_ip(ex);
    memset(&e, 0, sizeof e);
    rv = lc_auth_login(a, &p->l, &id, on_logged_in, &e);
    if (rv == LC_EAGAIN) {
        return;
    }
    if (rv != 0 && e.code == 0) {
        lc_err_set(&e, rv, "%s", lc_strerror(rv));
    }
    login_answer(p, e.code == 0 ? NULL : &e);
}

/* ------------------------------------------------------------ admin init */

static void on_admin(struct lc_http_exchange *ex, void *data)
{
    struct lc_auth *a = data;
    const char *password = lc_http_param(ex, "password");
    struct pending *p;

    if (!lc_java_blank(password) &&
        !lc_console_check_password(ex, "password", password)) {
        return;
    }
    /* Answered from this member's state first: no hashing for nothing.
     * The entry is refused on apply anyway if an admin appears meanwhile. */
    if (lc_auth_store_has_admin(lc_auth_store(a))) {
        lc_console_reply_result(ex, 409, LC_AUTH_HAVE_ADMIN);
        return;
    }
    p = pending_new(ex, a, NULL);
    if (p == NULL) {
        return;
    }
    p->admin_init = true;
    if (lc_java_blank(password)) {
        lc_password_generate(p->password);
    } else {
        lc_strlcpy(p->password, password, sizeof p->password);
    }
    write_started(p, lc_auth_admin_init(a, &p->w, p->password,
                                        on_written));
}

/* ------------------------------------------------------------------ users */

static bool on_user_row(void *data, const char *username, const char *hash)
{
    struct page *pg = data;
    (void)hash; /* never handed out (2.4.3 returns it; locus blanks it) */
    if (!lc_console_filter_ok(pg, pg->f1, username) ||
        !lc_console_page_take(pg)) {
        return true;
    }
    lc_console_page_add(
        pg, json_pack("{s:s,s:s}", "username", username, "password", ""));
    return true;
}

static void users_list(struct lc_auth *a, struct lc_http_exchange *ex)
{
    struct page pg;
    int page_no, page_size;
    if (!lc_console_page_start(ex, &pg, &page_no, &page_size)) {
        return;
    }
    pg.f1 = lc_http_param(ex, "username");
    if (!lc_console_check_filter(ex, "username", pg.f1)) {
        json_decref(pg.items);
        return;
    }
    lc_auth_store_users(lc_auth_store(a), on_user_row, &pg);
    lc_console_page_reply(ex, &pg, page_no, page_size);
}

static void users_create(struct lc_auth *a, struct lc_http_exchange *ex)
{
    const char *username;
    const char *password;
    struct pending *p;
    char msg[300];
    if (!lc_console_param_required(ex, "username", &username) ||
        !lc_console_param_required(ex, "password", &password)) {
        return;
    }
    if (strcmp(username, LC_AUTH_ADMIN_USER) == 0) {
        lc_console_reply_result(ex, 409, NACOS_USER_CONFLICT);
        return;
    }
    if (!lc_console_check_name(ex, "username", username) ||
        !lc_console_check_password(ex, "password", password)) {
        return;
    }
    if (lc_auth_store_password(lc_auth_store(a), username) != NULL) {
        snprintf(msg, sizeof msg, "user '%s' already exist!", username);
        lc_console_reply_illegal(ex, msg);
        return;
    }
    p = pending_new(ex, a, "create user ok!");
    if (p != NULL) {
        write_started(p, lc_auth_user_create(a, &p->w, username,
                                             password, on_written));
    }
}

static void users_delete(struct lc_auth *a, struct lc_http_exchange *ex)
{
    const char *username;
    struct pending *p;
    if (!lc_console_param_required(ex, "username", &username)) {
        return;
    }
    if (!lc_auth_name_valid(username, NULL)) {
        /* No such user can exist: Nacos's silent success. */
        lc_console_reply_result(ex, 200, "delete user ok!");
        return;
    }
    p = pending_new(ex, a, "delete user ok!");
    if (p != NULL) {
        write_started(p, lc_auth_user_delete(a, &p->w, username,
                                             on_written));
    }
}

/* PUT: once the caller is known (@p->c), the rest of updateUser. */
static void password_checked(struct pending *p, const struct lc_err *e)
{
    struct lc_http_exchange *ex = p->ex;
    const char *username;
    const char *password;
    char msg[300];
    bool on = lc_auth_enabled(p->a);

    if (e != NULL) {
        /* What AuthFilter answers before the controller runs. */
        if (e->code == LC_EDENIED) {
            lc_http_reply_spring(ex, 403, e->msg);
        } else {
            lc_console_reply_exception(
                ex, e->msg[0] != '\0' ? e->msg : lc_strerror(e->code));
        }
        goto done;
    }
    if (!lc_console_param_required(ex, "username", &username) ||
        !lc_console_param_required(ex, "newPassword", &password)) {
        goto done;
    }
    if (on && !p->c.admin && strcmp(p->c.username, username) != 0) {
        lc_http_reply_spring(ex, 403, "authorization failed!");
        goto done;
    }
    if (lc_auth_store_password(lc_auth_store(p->a), username) == NULL) {
        snprintf(msg, sizeof msg, "user %s not exist!", username);
        lc_console_reply_illegal(ex, msg);
        goto done;
    }
    if (!lc_console_check_password(ex, "newPassword", password)) {
        goto done;
    }
    /* Each change costs a BCrypt and a raft entry. */
    uint64_t wait = lc_auth_change_wait(p->a, username);
    if (wait > 0) {
        snprintf(msg, sizeof msg,
                 "too many password changes for this user, retry in %llu s",
                 (unsigned long long)((wait + 999) / 1000));
        lc_http_reply(ex, 503, CT_TEXT, msg, strlen(msg));
        goto done;
    }
    p->ok = "update user ok!";
    int rv = lc_auth_user_password(p->a, &p->w, username, password,
                                   on_written);
    if (rv != 0) {
        lc_auth_change_undo(p->a, username); /* nothing started */
    }
    write_started(p, rv);
    return;
done:
    pending_free(p);
}

static void on_password_checked(struct lc_auth_check *c,
                                const struct lc_err *e)
{
    password_checked(c->data, e);
}

/* The identity a request carries, as HttpIdentityContextBuilder collects
 * it: header, then parameter, names matched without case; a later one
 * wins. */
static void request_ident(struct lc_http_exchange *ex,
                          struct lc_auth_ident *id)
{
    const char *bearer = NULL;
    const char *access = NULL;
    const char *name;
    const char *value;
    memset(id, 0, sizeof id[0]);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0;
             pass == 0 ? lc_http_header_at(ex, i, &name, &value)
                       : lc_http_param_at(ex, i, &name, &value);
             i++) {
            if (strcasecmp(name, "Authorization") == 0) {
                bearer = strncmp(value, "Bearer ", 7) == 0 ? value + 7 : NULL;
            } else if (strcasecmp(name, "accessToken") == 0) {
                access = value;
            } else if (strcasecmp(name, "username") == 0) {
                id->username = value;
            } else if (strcasecmp(name, "password") == 0) {
                id->password = value;
            }
        }
    }
    id->token = bearer != NULL && bearer[0] != '\0' ? bearer : access;
    id->remote_ip = lc_http_remote_ip(ex);
}

static void users_password(struct lc_auth *a, struct lc_http_exchange *ex)
{
    struct lc_auth_ident id;
    struct lc_auth_need need = {'w', "console/user/password", false};
    struct pending *p = pending_new(ex, a, NULL);
    struct lc_err e;
    int rv;
    if (p == NULL) {
        return;
    }
    if (!lc_auth_enabled(a)) {
        password_checked(p, NULL);
        return;
    }
    request_ident(ex, &id);
    memset(&e, 0, sizeof e);
    rv = lc_auth_check(a, &p->c, &id, &need, on_password_checked, &e);
    if (rv == LC_EAGAIN) {
        return;
    }
    if (rv != 0 && e.code == 0) {
        lc_err_set(&e, rv, "%s", lc_strerror(rv));
    }
    password_checked(p, e.code == 0 ? NULL : &e);
}

static void on_users(struct lc_http_exchange *ex, void *data)
{
    struct lc_auth *a = data;
    switch (lc_http_method(ex)) {
        case LC_HTTP_GET:
            users_list(a, ex);
            break;
        case LC_HTTP_POST:
            users_create(a, ex);
            break;
        case LC_HTTP_DELETE:
            users_delete(a, ex);
            break;
        default:
            users_password(a, ex);
    }
}

/* GET /users/search and /roles/search: names LIKE '%x%', each once. */
struct name_search {
    const char *pattern; /* "*x*" */
    json_t *names;
    bool oom;
};

static void search_add(struct name_search *s, const char *name)
{
    size_t i;
    json_t *v;
    if (!lc_console_like(s->pattern, name)) {
        return;
    }
    json_array_foreach(s->names, i, v)
    {
        if (strcmp(json_string_value(v), name) == 0) {
            return;
        }
    }
    if (json_array_append_new(s->names, json_string(name)) != 0) {
        s->oom = true;
    }
}

static bool on_search_user(void *data, const char *username,
                           const char *hash)
{
    (void)hash;
    search_add(data, username);
    return true;
}

static bool on_search_role(void *data, const char *role, const char *user)
{
    (void)user;
    search_add(data, role);
    return true;
}

static void search_reply(struct lc_auth *a, struct lc_http_exchange *ex,
                         const char *param, bool users)
{
    const char *v;
    struct name_search s;
    char pattern[LC_AUTH_RESOURCE_MAX + 3];
    if (!lc_console_param_required(ex, param, &v) ||
        !lc_console_check_filter(ex, param, v)) {
        return;
    }
    snprintf(pattern, sizeof pattern, "*%s*", v);
    s.pattern = pattern;
    s.names = json_array();
    s.oom = s.names == NULL;
    if (!s.oom) {
        if (users) {
            lc_auth_store_users(lc_auth_store(a), on_search_user, &s);
        } else {
            lc_auth_store_roles(lc_auth_store(a), on_search_role, &s);
        }
    }
    if (s.oom) {
        json_decref(s.names);
        lc_console_reply_exception(ex, "out of memory");
        return;
    }
    lc_console_reply_doc(ex, 200, s.names, NULL);
}

static void on_users_search(struct lc_http_exchange *ex, void *data)
{
    search_reply(data, ex, "username", true);
}

/* ------------------------------------------------------------------ roles */

static bool on_role_row(void *data, const char *role, const char *username)
{
    struct page *pg = data;
    if (!lc_console_filter_ok(pg, pg->f1, username) ||
        !lc_console_filter_ok(pg, pg->f2, role) || !lc_console_page_take(pg)) {
        return true;
    }
    lc_console_page_add(
        pg, json_pack("{s:s,s:s}", "role", role, "username", username));
    return true;
}

static void roles_list(struct lc_auth *a, struct lc_http_exchange *ex)
{
    struct page pg;
    int page_no, page_size;
    if (!lc_console_page_start(ex, &pg, &page_no, &page_size)) {
        return;
    }
    pg.f1 = lc_http_param(ex, "username");
    pg.f2 = lc_http_param(ex, "role");
    if (!lc_console_check_filter(ex, "username", pg.f1) ||
        !lc_console_check_filter(ex, "role", pg.f2)) {
        json_decref(pg.items);
        return;
    }
    lc_auth_store_roles(lc_auth_store(a), on_role_row, &pg);
    lc_console_page_reply(ex, &pg, page_no, page_size);
}

static void roles_add(struct lc_auth *a, struct lc_http_exchange *ex)
{
    const char *role;
    const char *username;
    struct pending *p;
    if (!lc_console_param_required(ex, "role", &role) ||
        !lc_console_param_required(ex, "username", &username) ||
        !lc_console_check_name(ex, "role", role) ||
        !lc_console_check_name(ex, "username", username)) {
        return;
    }
    p = pending_new(ex, a, "add role ok!");
    if (p != NULL) {
        write_started(p, lc_auth_role_add(a, &p->w, role, username,
                                          on_written));
    }
}

static void roles_delete(struct lc_auth *a, struct lc_http_exchange *ex)
{
    const char *role;
    const char *username = lc_http_param(ex, "username");
    struct pending *p;
    if (!lc_console_param_required(ex, "role", &role) ||
        !lc_console_check_name(ex, "role", role)) {
        return;
    }
    if (username == NULL) {
        username = "";
    }
    if (!lc_java_blank(username) &&
        !lc_console_check_name(ex, "username", username)) {
        return;
    }
    p = pending_new(ex, a, NULL);
    if (p == NULL) {
        return;
    }
    /* "delete role of user <u> ok!", the username as given. */
    snprintf(p->okbuf, sizeof p->okbuf, "delete role of user %s ok!",
             username);
    p->ok = p->okbuf;
    write_started(p, lc_auth_role_delete(a, &p->w, role,
                                         lc_java_blank(username) ? ""
                                                                 : username,
                                         on_written));
}

static void on_roles(struct lc_http_exchange *ex, void *data)
{
    struct lc_auth *a = data;
    switch (lc_http_method(ex)) {
        case LC_HTTP_GET:
            roles_list(a, ex);
            break;
        case LC_HTTP_POST:
            roles_add(a, ex);
            break;
        default:
            roles_delete(a, ex);
    }
}

static void on_roles_search(struct lc_http_exchange *ex, void *data)
{
    search_reply(data, ex, "role", false);
}

/* ------------------------------------------------------------ permissions */

static bool on_perm_row(void *data, const char *role, const char *resource,
                        const char *action)
{
    struct page *pg = data;
    if (!lc_console_filter_ok(pg, pg->f1, role) || !lc_console_page_take(pg)) {
        return true;
    }
    lc_console_page_add(pg, json_pack("{s:s,s:s,s:s}", "role", role, "resource",
                                      resource, "action", action));
    return true;
}

static void perms_list(struct lc_auth *a, struct lc_http_exchange *ex)
{
    struct page pg;
    int page_no, page_size;
    if (!lc_console_page_start(ex, &pg, &page_no, &page_size)) {
        return;
    }
    pg.f1 = lc_http_param(ex, "role");
    if (!lc_console_check_filter(ex, "role", pg.f1)) {
        json_decref(pg.items);
        return;
    }
    lc_auth_store_permissions(lc_auth_store(a), on_perm_row, &pg);
    lc_console_page_reply(ex, &pg, page_no, page_size);
}

static void perms_change(struct lc_auth *a, struct lc_http_exchange *ex,
                         bool add)
{
    const char *role;
    const char *resource;
    const char *action;
    const char *why;
    char msg[200];
    struct pending *p;
    if (!lc_console_param_required(ex, "role", &role) ||
        !lc_console_param_required(ex, "resource", &resource) ||
        !lc_console_param_required(ex, "action", &action) ||
        !lc_console_check_name(ex, "role", role)) {
        return;
    }
    if (!lc_auth_resource_valid(resource, &why)) {
        snprintf(msg, sizeof msg, "resource %s", why);
        lc_console_reply_illegal(ex, msg);
        return;
    }
    if (!lc_auth_action_valid(action)) {
        lc_console_reply_illegal(ex, "action must be one of r, w, rw");
        return;
    }
    p = pending_new(ex, a,
                    add ? "add permission ok!" : "delete permission ok!");
    if (p == NULL) {
        return;
    }
    write_started(p, add ? lc_auth_permission_add(a, &p->w, role,
                                                  resource, action,
                                                  on_written)
                         : lc_auth_permission_delete(a, &p->w, role,
                                                     resource, action,
                                                     on_written));
}

static void on_permissions(struct lc_http_exchange *ex, void *data)
{
    struct lc_auth *a = data;
    switch (lc_http_method(ex)) {
        case LC_HTTP_GET:
            perms_list(a, ex);
            break;
        case LC_HTTP_POST:
            perms_change(a, ex, true);
            break;
        default:
            perms_change(a, ex, false);
    }
}

/* ----------------------------------------------------------------- routes */

int lc_auth_http_routes(struct lc_auth *a, struct lc_http_server *srv)
{
    static const struct {
        unsigned methods;
        const char *path;
        lc_http_handler_cb cb;
    } routes[] = {
        {LC_HTTP_POST, "/nacos/v1/auth/login", on_login},
        {LC_HTTP_POST, "/nacos/v1/auth/users/login", on_login},
        {LC_HTTP_POST, "/nacos/v1/auth/users/admin", on_admin},
        {LC_HTTP_POST, "/nacos/v1/auth/admin", on_admin},
        {LC_HTTP_GET | LC_HTTP_POST | LC_HTTP_DELETE | LC_HTTP_PUT,
         "/nacos/v1/auth/users", on_users},
        {LC_HTTP_GET | LC_HTTP_POST | LC_HTTP_DELETE | LC_HTTP_PUT,
         "/nacos/v1/auth", on_users},
        {LC_HTTP_GET, "/nacos/v1/auth/users/search", on_users_search},
        {LC_HTTP_GET, "/nacos/v1/auth/search", on_users_search},
        {LC_HTTP_GET | LC_HTTP_POST | LC_HTTP_DELETE, "/nacos/v1/auth/roles",
         on_roles},
        {LC_HTTP_GET, "/nacos/v1/auth/roles/search", on_roles_search},
        {LC_HTTP_GET | LC_HTTP_POST | LC_HTTP_DELETE,
         "/nacos/v1/auth/permissions", on_permissions},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rv = lc_http_server_route(srv, routes[i].methods, routes[i].path,
                                      routes[i].cb, a);
        if (rv != 0) {
            return rv;
        }
    }
    return 0;
}
