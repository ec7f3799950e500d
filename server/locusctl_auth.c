/* locusctl and auth: who locusctl is to the server (a token, or a username
 * and password it logs in with, as the Nacos Java client does: POST
 * /nacos/v1/auth/login, the username in the query, the password in the form
 * body), the HTTP calls that carry the token (header "Authorization: Bearer
 * <token>", which Nacos and locus read on every port and path), and the
 * commands on users, roles and permissions (/nacos/v1/auth/..., §8.7 of the
 * protocol notes).
 *
 * Passwords given with --password are visible to anyone who can list the
 * machine's processes (ps, /proc/<pid>/cmdline): --password-file, the
 * LOCUS_PASSWORD environment variable or the terminal prompt keep them out
 * of argv. Passwords never go in a URL: the server may log request lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <uv.h>

#include "common/err.h"
#include "common/util.h"
#include "rpc/http/http.h"
#include "server/locusctl.h"

#define FORM "application/x-www-form-urlencoded"
#define CALL_TIMEOUT_MS 30000
#define SECRET_MAX 1024

/* ------------------------------------------------------------ secrets */

static void wipe_free(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void strip_newline(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r')) {
        s[--n] = '\0';
    }
}

/* The first line of @path ("-": standard input), malloc'd, or NULL (said). */
static char *read_secret_file(const char *path)
{
    char buf[SECRET_MAX];
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *s;

    if (f == NULL) {
        fprintf(stderr, "locusctl: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    s = fgets(buf, sizeof buf, f);
    if (f != stdin) {
        fclose(f);
    }
    if (s == NULL) {
        fprintf(stderr, "locusctl: %s: no password in it\n", path);
        return NULL;
    }
    strip_newline(buf);
    s = strdup(buf);
    explicit_bzero(buf, sizeof buf);
    return s;
}

/* Ask on the terminal with echo off; malloc'd, or NULL (no terminal). */
static char *prompt_secret(const char *prompt)
{
    char buf[SECRET_MAX];
    struct termios old, quiet;
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    FILE *f;
    char *s = NULL;

    if (fd < 0) {
        return NULL;
    }
    f = fdopen(fd, "r+");
    if (f == NULL) {
        close(fd);
        return NULL;
    }
    if (tcgetattr(fd, &old) == 0) {
        quiet = old;
        quiet.c_lflag &= (tcflag_t)~ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    fputs(prompt, f);
    fflush(f);
    if (fgets(buf, sizeof buf, f) != NULL) {
        strip_newline(buf);
        s = strdup(buf);
    }
    tcsetattr(fd, TCSAFLUSH, &old);
    fputs("\n", f);
    fclose(f);
    explicit_bzero(buf, sizeof buf);
    return s;
}

/* ------------------------------------------------------------ query strings */

/* Query strings and form bodies (name=value&name=value) are built in a
 * struct lc_buf (common/util.h). */

/* Add name=value (both URL-encoded); a NULL @value adds nothing. */
static void qs_add(struct lc_buf *q, const char *name, const char *value)
{
    if (value == NULL || q->oom) {
        return;
    }
    if (q->len > 0) {
        LC_BUF_LIT(q, "&");
    }
    if (q->oom ||
        lc_http_urlencode_append(&q->p, &q->len, &q->cap, name) != 0) {
        q->oom = true;
        return;
    }
    LC_BUF_LIT(q, "=");
    if (q->oom ||
        lc_http_urlencode_append(&q->p, &q->len, &q->cap, value) != 0) {
        q->oom = true;
    }
}

static const char *qs_str(struct lc_buf *q)
{
    if (q->p == NULL && !q->oom) {
        lc_buf_add(q, "", 0);
    }
    return q->oom ? NULL : q->p;
}

static void qs_free(struct lc_buf *q)
{
    if (q->p != NULL) {
        explicit_bzero(q->p, q->cap); /* may hold a password */
    }
    free(q->p);
    q->p = NULL;
}

/* @base?@q in @out (malloc'd), or NULL when out of memory. */
static char *with_query(const char *base, struct lc_buf *q)
{
    const char *s = qs_str(q);
    char *out;
    if (s == NULL) {
        return NULL;
    }
    if (asprintf(&out, "%s%s%s", base, s[0] != '\0' ? "?" : "", s) < 0) {
        return NULL;
    }
    return out;
}

/* ------------------------------------------------------------ HTTP */

struct answer {
    struct lc_http_conn *conn;
    int status;
    int http_status;
    char *body;
};

static void on_answer(struct lc_http_call *call, int status, int http_status,
                      const char *body, size_t len)
{
    struct answer *a = call->data;
    a->status = status;
    if (status == 0) {
        a->http_status = http_status;
        a->body = malloc(len + 1);
        if (a->body == NULL) {
            a->status = LC_ENOMEM;
        } else {
            memcpy(a->body, body, len);
            a->body[len] = '\0';
        }
    }
    lc_http_conn_close(a->conn);
}

/* One blocking call on a private loop with @headers (name, value, ...,
 * NULL; may be NULL). Return 0 (*@http_status, *@out set) or LC_E*. */
static int http_call(const struct ctl *c, const char *method,
                     const char *path, const char *ctype, const char *body,
                     const char *const *headers, int *http_status, char **out)
{
    uv_loop_t loop;
    struct lc_http_call call;
    struct answer a = {.status = LC_ECANCELED};
    struct lc_http_req req = {.method = method,
                              .path = path,
                              .content_type = ctype,
                              .body = body,
                              .len = body != NULL ? strlen(body) : 0,
                              .headers = headers};
    int rv;

    if (uv_loop_init(&loop) != 0) {
        return LC_EIO;
    }
    rv = lc_http_conn_new(&loop, c->host, c->port, CALL_TIMEOUT_MS, &a.conn);
    if (rv != 0) {
        uv_loop_close(&loop);
        return rv;
    }
    memset(&call, 0, sizeof call);
    call.data = &a;
    rv = lc_http_conn_request(a.conn, &call, &req, on_answer);
    if (rv != 0) {
        lc_http_conn_close(a.conn);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (rv == 0) {
        rv = a.status;
    }
    if (rv != 0) {
        free(a.body);
        return rv;
    }
    *http_status = a.http_status;
    *out = a.body;
    return 0;
}

/* The server's message in @body: Spring's error JSON {"message"}, a
 * RestResult's "data" when it is text (Nacos's failed() puts it there),
 * else its "message", else the text itself. Malloc'd. */
static char *server_message(const char *body)
{
    json_t *j = json_loads(body != NULL ? body : "", JSON_DECODE_ANY, NULL);
    const char *m = NULL;
    char *out;
    size_t n;

    if (json_is_object(j)) {
        const char *data = json_string_value(json_object_get(j, "data"));
        const char *msg = json_string_value(json_object_get(j, "message"));
        m = data != NULL && data[0] != '\0' ? data : msg;
    } else if (json_is_string(j)) {
        m = json_string_value(j);
    }
    out = strdup(m != NULL ? m : body != NULL ? body : "");
    json_decref(j);
    if (out == NULL) {
        return NULL;
    }
    /* Nacos's IllegalArgumentException text: "caused: <msg>;". */
    if (strncmp(out, "caused: ", 8) == 0) {
        memmove(out, out + 8, strlen(out + 8) + 1);
    }
    n = strlen(out);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ' ||
                     out[n - 1] == ';')) {
        out[--n] = '\0';
    }
    return out;
}

void ctl_print_failure(const char *what, int status, const char *body)
{
    char *m = server_message(body);
    fprintf(stderr, "locusctl: %s: %s (HTTP %d)\n", what,
            m != NULL && m[0] != '\0' ? m : "(no message)", status);
    free(m);
}

/* Whether an answer is a success: HTTP 200, and when it is a RestResult
 * ({"code": N, ...}, which Nacos also sends with HTTP 200 for failures),
 * code 200. */
static bool answer_ok(int status, const char *body)
{
    json_t *j, *code;
    bool ok;
    if (status != 200) {
        return false;
    }
    j = json_loads(body != NULL ? body : "", JSON_DECODE_ANY, NULL);
    code = json_object_get(j, "code");
    ok = !json_is_integer(code) || json_integer_value(code) == 200;
    json_decref(j);
    return ok;
}

static int need_password(struct ctl *c);

/* POST /nacos/v1/auth/login as the Java client: the username in the query,
 * the password in the form body; or, with only a token, the token in the
 * Authorization header (the server answers it back when it is valid).
 * Return the HTTP status (the body in *@out) or -1 (said). */
static int post_login(struct ctl *c, char **out)
{
    struct lc_buf q = {0}, form = {0};
    char *path;
    char bearer[sizeof c->token + 16];
    const char *headers[] = {"Authorization", bearer, NULL};
    int st = -1, rv;

    *out = NULL;
    if (c->username != NULL && need_password(c) != 0) {
        return -1;
    }
    /* Both are required parameters (Spring's @RequestParam, in Nacos
     * too), also when the token alone is to be checked: then empty. */
    qs_add(&q, "username", c->username != NULL ? c->username : "");
    qs_add(&form, "password", c->password != NULL ? c->password : "");
    path = with_query("/nacos/v1/auth/login", &q);
    if (path == NULL || qs_str(&form) == NULL) {
        fprintf(stderr, "locusctl: out of memory\n");
        goto out;
    }
    snprintf(bearer, sizeof bearer, "Bearer %s", c->token);
    rv = http_call(c, "POST", path, FORM, qs_str(&form),
                   c->username == NULL ? headers : NULL, &st, out);
    if (rv != 0) {
        fprintf(stderr, "locusctl: cannot reach %s:%d (%s)\n", c->host,
                c->port, lc_strerror(rv));
        st = -1;
    }
out:
    explicit_bzero(bearer, sizeof bearer);
    free(path);
    qs_free(&q);
    qs_free(&form);
    return st;
}

/* Log in once, before the first call, when a username is set. */
static int ensure_token(struct ctl *c)
{
    char *body = NULL;
    json_t *j;
    const char *t;
    int st;

    if (c->token[0] != '\0' || c->username == NULL) {
        return 0;
    }
    if (c->login_tried) {
        return -1;
    }
    c->login_tried = true;
    st = post_login(c, &body);
    if (st < 0) {
        return -1;
    }
    j = json_loads(body != NULL ? body : "", 0, NULL);
    t = json_string_value(json_object_get(j, "accessToken"));
    if (st != 200 || t == NULL || strlen(t) >= sizeof c->token) {
        ctl_print_failure("login refused", st, body);
        json_decref(j);
        free(body);
        return -1;
    }
    snprintf(c->token, sizeof c->token, "%s", t);
    json_decref(j);
    free(body);
    return 0;
}

int ctl_fetch(struct ctl *c, const char *method, const char *path,
              const char *ctype, const char *body, char **out)
{
    char bearer[sizeof c->token + 16];
    const char *headers[] = {"Authorization", bearer, NULL};
    int st = -1;
    int rv;

    *out = NULL;
    if (ensure_token(c) != 0) {
        return -1;
    }
    snprintf(bearer, sizeof bearer, "Bearer %s", c->token);
    rv = http_call(c, method, path, ctype, body,
                   c->token[0] != '\0' ? headers : NULL, &st, out);
    explicit_bzero(bearer, sizeof bearer);
    if (rv != 0) {
        fprintf(stderr, "locusctl: cannot reach %s:%d (%s)\n", c->host,
                c->port, lc_strerror(rv));
        return -1;
    }
    return st;
}

/* ------------------------------------------------------------ options */

static int set_password(char **dst, char *value)
{
    if (value == NULL) {
        return -1;
    }
    wipe_free(*dst);
    *dst = value;
    return 0;
}

int ctl_auth_option(struct ctl *c, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    bool known = strcmp(a, "--username") == 0 ||
                 strcmp(a, "--password") == 0 ||
                 strcmp(a, "--password-file") == 0 ||
                 strcmp(a, "--token") == 0;
    if (!known) {
        return 0;
    }
    if (v == NULL) {
        fprintf(stderr, "locusctl: %s needs a value\n", a);
        return -1;
    }
    (*i)++;
    if (strcmp(a, "--username") == 0) {
        c->username = v;
    } else if (strcmp(a, "--password") == 0) {
        return set_password(&c->password, strdup(v)) == 0 ? 1 : -1;
    } else if (strcmp(a, "--password-file") == 0) {
        return set_password(&c->password, read_secret_file(v)) == 0 ? 1 : -1;
    } else {
        if (strlen(v) >= sizeof c->token) {
            fprintf(stderr, "locusctl: --token: too long\n");
            return -1;
        }
        snprintf(c->token, sizeof c->token, "%s", v);
        c->token_given = true;
    }
    return 1;
}

int ctl_auth_env(struct ctl *c)
{
    const char *t = getenv("LOCUS_TOKEN");
    const char *u = getenv("LOCUS_USERNAME");
    const char *p = getenv("LOCUS_PASSWORD");

    /* The command line first; then a token before a username. */
    if (!c->token_given && c->username == NULL) {
        if (t != NULL && t[0] != '\0' && strlen(t) < sizeof c->token) {
            snprintf(c->token, sizeof c->token, "%s", t);
            c->token_given = true;
        } else if (u != NULL && u[0] != '\0') {
            c->username = u;
        }
    }
    if (c->token_given) {
        c->username = NULL; /* the token says who */
        return 0;
    }
    if (c->username != NULL && c->password == NULL && p != NULL) {
        c->password = strdup(p);
        if (c->password == NULL) {
            fprintf(stderr, "locusctl: out of memory\n");
            return -1;
        }
    }
    return 0;
}

/* The password to log in with, asked on the terminal when none was given
 * (only when a call needs it). Return 0 or -1 (said). */
static int need_password(struct ctl *c)
{
    char prompt[300];
    if (c->password != NULL) {
        return 0;
    }
    if (isatty(STDIN_FILENO)) {
        snprintf(prompt, sizeof prompt, "Password for %s: ", c->username);
        c->password = prompt_secret(prompt);
    }
    if (c->password == NULL) {
        fprintf(stderr, "locusctl: --username %s needs a password "
                        "(--password-file F, LOCUS_PASSWORD, or a terminal "
                        "to ask on)\n",
                c->username);
        return -1;
    }
    return 0;
}

void ctl_auth_done(struct ctl *c)
{
    wipe_free(c->password);
    c->password = NULL;
    explicit_bzero(c->token, sizeof c->token);
}

/* ------------------------------------------------------------ login */

int ctl_cmd_login(struct ctl *c, int argc, char **argv)
{
    bool quiet = false;
    char *body = NULL;
    json_t *j;
    int st, rc = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
            quiet = true;
        } else {
            fprintf(stderr, "locusctl: login: unexpected '%s'\n", argv[i]);
            return 2;
        }
    }
    if (c->username == NULL && c->token[0] == '\0') {
        fprintf(stderr, "locusctl: login needs --username (and a password) "
                        "or --token\n");
        return 2;
    }
    st = post_login(c, &body);
    if (st < 0) {
        return 1;
    }
    j = json_loads(body != NULL ? body : "", 0, NULL);
    if (st != 200 || json_string_value(json_object_get(j, "accessToken")) ==
                         NULL) {
        ctl_print_failure("login refused", st, body);
    } else if (c->json) {
        printf("%s\n", body);
        rc = 0;
    } else if (quiet) {
        printf("%s\n", json_string_value(json_object_get(j, "accessToken")));
        rc = 0;
    } else {
        printf("username  %s\n", json_string_value(json_object_get(
                                       j, "username")) != NULL
                                       ? json_string_value(
                                             json_object_get(j, "username"))
                                       : "-");
        printf("admin     %s\n",
               json_is_true(json_object_get(j, "globalAdmin")) ? "yes"
                                                               : "no");
        printf("ttl       %lld s\n",
               (long long)json_integer_value(json_object_get(j, "tokenTtl")));
        printf("token     %s\n",
               json_string_value(json_object_get(j, "accessToken")));
        rc = 0;
    }
    json_decref(j);
    if (body != NULL) {
        explicit_bzero(body, strlen(body));
    }
    free(body);
    return rc;
}

/* ------------------------------------------------------------ writes */

/* Send a change; print the server's answer ("create user ok!") or the
 * failure. Non-secret parameters go in the query (@q), passwords in the
 * form body (@form, may be NULL). Return the exit code. */
static int write_cmd(struct ctl *c, const char *what, const char *method,
                     const char *base, struct lc_buf *q, struct lc_buf *form)
{
    char *path = with_query(base, q);
    char *body = NULL;
    const char *fs = form != NULL ? qs_str(form) : NULL;
    int st, rc = 1;

    if (path == NULL || (form != NULL && fs == NULL)) {
        fprintf(stderr, "locusctl: out of memory\n");
        free(path);
        return 1;
    }
    st = ctl_fetch(c, method, path, fs != NULL ? FORM : NULL, fs, &body);
    free(path);
    if (st < 0) {
        return 1;
    }
    if (answer_ok(st, body)) {
        rc = 0;
        if (c->json) {
            printf("%s\n", body);
        } else {
            char *m = server_message(body);
            printf("%s\n", m != NULL && m[0] != '\0' ? m : "ok");
            free(m);
        }
    } else if (c->json) {
        printf("%s\n", body != NULL ? body : "");
        ctl_print_failure(what, st, body);
    } else {
        ctl_print_failure(what, st, body);
    }
    free(body);
    return rc;
}

/* A new password for @user: --password P, --password-file F, else the
 * terminal (asked twice), else one line of standard input. */
static char *new_password(const char *opt_password, const char *opt_file,
                          const char *user)
{
    char prompt[300], *a, *b;
    if (opt_password != NULL) {
        return strdup(opt_password);
    }
    if (opt_file != NULL) {
        return read_secret_file(opt_file);
    }
    if (!isatty(STDIN_FILENO)) {
        return read_secret_file("-");
    }
    snprintf(prompt, sizeof prompt, "New password for %s: ", user);
    a = prompt_secret(prompt);
    if (a == NULL) {
        fprintf(stderr, "locusctl: no terminal to ask for the password on\n");
        return NULL;
    }
    b = prompt_secret("Again: ");
    if (b == NULL || strcmp(a, b) != 0) {
        fprintf(stderr, "locusctl: the two passwords differ\n");
        wipe_free(a);
        wipe_free(b);
        return NULL;
    }
    wipe_free(b);
    return a;
}

/* The options of the commands: positional words into @pos (up to @npos),
 * the named ones into their slots. Return 0 or 2 (said). */
struct cmd_opts {
    const char *pos[4];
    int npos;
    const char *password, *password_file;
    const char *search, *username, *role;
    int page, size;
};

static int parse_cmd(int argc, char **argv, int max_pos, struct cmd_opts *o)
{
    memset(o, 0, sizeof *o);
    o->page = 1;
    o->size = 100;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **slot = NULL;
        int *num = NULL;
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            if (o->npos >= max_pos) {
                fprintf(stderr, "locusctl: %s: unexpected '%s'\n", argv[0],
                        a);
                return 2;
            }
            o->pos[o->npos++] = a;
            continue;
        }
        if (strcmp(a, "--password") == 0) {
            slot = &o->password;
        } else if (strcmp(a, "--password-file") == 0) {
            slot = &o->password_file;
        } else if (strcmp(a, "--search") == 0) {
            slot = &o->search;
        } else if (strcmp(a, "--username") == 0) {
            slot = &o->username;
        } else if (strcmp(a, "--role") == 0) {
            slot = &o->role;
        } else if (strcmp(a, "--page") == 0) {
            num = &o->page;
        } else if (strcmp(a, "--size") == 0) {
            num = &o->size;
        } else {
            fprintf(stderr, "locusctl: %s: unknown option %s\n", argv[0], a);
            return 2;
        }
        if (v == NULL) {
            fprintf(stderr, "locusctl: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (slot != NULL) {
            *slot = v;
        } else {
            *num = atoi(v);
            if (*num < 1 || *num > 10000) {
                fprintf(stderr, "locusctl: %s: 1..10000\n", a);
                return 2;
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------ listings */

/* GET a page (/nacos/v1/auth/users|roles|permissions); with --json print
 * it as it came and return 0 with *@page NULL. Return the exit code. */
static int get_page(struct ctl *c, const char *what, const char *base,
                    struct lc_buf *q, json_t **page)
{
    char *path = with_query(base, q);
    char *body = NULL;
    int st;

    *page = NULL;
    if (path == NULL) {
        fprintf(stderr, "locusctl: out of memory\n");
        return 1;
    }
    st = ctl_fetch(c, "GET", path, NULL, NULL, &body);
    free(path);
    if (st < 0) {
        return 1;
    }
    if (!answer_ok(st, body)) {
        ctl_print_failure(what, st, body);
        free(body);
        return 1;
    }
    if (c->json) {
        printf("%s\n", body);
        free(body);
        return 0;
    }
    *page = json_loads(body, 0, NULL);
    free(body);
    if (!json_is_array(json_object_get(*page, "pageItems"))) {
        fprintf(stderr, "locusctl: %s: the answer is not a page\n", what);
        json_decref(*page);
        *page = NULL;
        return 1;
    }
    return 0;
}

static const char *field(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "-";
}

static void page_footer(json_t *page, const struct cmd_opts *o)
{
    long long total = json_integer_value(json_object_get(page, "totalCount"));
    size_t shown = json_array_size(json_object_get(page, "pageItems"));
    if (total > (long long)shown) {
        printf("(%zu of %lld; page %d of %lld: --page N, --size N)\n", shown,
               total, o->page,
               json_integer_value(json_object_get(page, "pagesAvailable")));
    }
}

static void page_params(struct lc_buf *q, const struct cmd_opts *o)
{
    char n[16];
    snprintf(n, sizeof n, "%d", o->page);
    qs_add(q, "pageNo", n);
    snprintf(n, sizeof n, "%d", o->size);
    qs_add(q, "pageSize", n);
    qs_add(q, "search", o->search != NULL ? "blur" : "accurate");
}

static const char user_usage[] =
    "usage: locusctl [auth options] user list [--search TEXT] [--page N]\n"
    "                                         [--size N]\n"
    "         (--search: names containing TEXT, or a pattern with '*')\n"
    "       locusctl [auth options] user create NAME [--password P |\n"
    "                                   --password-file F]\n"
    "       locusctl [auth options] user passwd NAME [--password P |\n"
    "                                   --password-file F]\n"
    "       locusctl [auth options] user delete NAME\n"
    "  Without --password/--password-file the new password is asked on the\n"
    "  terminal, or read from standard input (one line).\n";

int ctl_cmd_user(struct ctl *c, int argc, char **argv)
{
    struct cmd_opts o;
    struct lc_buf q = {0}, form = {0};
    const char *verb = argc > 1 ? argv[1] : "";
    int rc;

    if (parse_cmd(argc - 1, argv + 1, 1, &o) != 0) {
        return 2;
    }
    if (strcmp(verb, "list") == 0) {
        json_t *page, *u;
        size_t i;
        if (o.npos != 0) {
            fputs(user_usage, stderr);
            return 2;
        }
        page_params(&q, &o);
        if (o.search != NULL && strchr(o.search, '*') == NULL) {
            /* Nacos's blur search matches '*' patterns only: a plain
             * text means "names containing it". */
            char pattern[300];
            snprintf(pattern, sizeof pattern, "*%.280s*", o.search);
            qs_add(&q, "username", pattern);
        } else {
            qs_add(&q, "username", o.search != NULL ? o.search : "");
        }
        rc = get_page(c, "user list", "/nacos/v1/auth/users", &q, &page);
        qs_free(&q);
        if (rc != 0 || page == NULL) {
            return rc;
        }
        printf("%s\n", "USERNAME");
        json_array_foreach(json_object_get(page, "pageItems"), i, u)
        {
            printf("%s\n", field(u, "username"));
        }
        page_footer(page, &o);
        json_decref(page);
        return 0;
    }
    if (o.npos != 1 || (strcmp(verb, "create") != 0 &&
                        strcmp(verb, "passwd") != 0 &&
                        strcmp(verb, "delete") != 0)) {
        fputs(user_usage, stderr);
        return 2;
    }
    qs_add(&q, "username", o.pos[0]);
    if (strcmp(verb, "delete") == 0) {
        rc = write_cmd(c, "user delete", "DELETE", "/nacos/v1/auth/users", &q,
                       NULL);
    } else {
        char *pw = new_password(o.password, o.password_file, o.pos[0]);
        if (pw == NULL) {
            qs_free(&q);
            return 1;
        }
        if (strcmp(verb, "create") == 0) {
            qs_add(&form, "password", pw);
            rc = write_cmd(c, "user create", "POST", "/nacos/v1/auth/users",
                           &q, &form);
        } else {
            qs_add(&form, "newPassword", pw);
            rc = write_cmd(c, "user passwd", "PUT", "/nacos/v1/auth/users", &q,
                           &form);
        }
        wipe_free(pw);
    }
    qs_free(&q);
    qs_free(&form);
    return rc;
}

static const char role_usage[] =
    "usage: locusctl [auth options] role list [--username U] [--role R]\n"
    "                                         [--page N] [--size N]\n"
    "       locusctl [auth options] role add ROLE USERNAME\n"
    "       locusctl [auth options] role delete ROLE [USERNAME]\n"
    "  (delete without USERNAME removes ROLE from every user)\n";

int ctl_cmd_role(struct ctl *c, int argc, char **argv)
{
    struct cmd_opts o;
    struct lc_buf q = {0};
    const char *verb = argc > 1 ? argv[1] : "";
    int rc;

    if (parse_cmd(argc - 1, argv + 1, 2, &o) != 0) {
        return 2;
    }
    if (strcmp(verb, "list") == 0) {
        json_t *page, *r;
        size_t i;
        if (o.npos != 0) {
            fputs(role_usage, stderr);
            return 2;
        }
        page_params(&q, &o);
        qs_add(&q, "username", o.username != NULL ? o.username : "");
        qs_add(&q, "role", o.role != NULL ? o.role : "");
        rc = get_page(c, "role list", "/nacos/v1/auth/roles", &q, &page);
        qs_free(&q);
        if (rc != 0 || page == NULL) {
            return rc;
        }
        printf("%-32s %s\n", "ROLE", "USERNAME");
        json_array_foreach(json_object_get(page, "pageItems"), i, r)
        {
            printf("%-32s %s\n", field(r, "role"), field(r, "username"));
        }
        page_footer(page, &o);
        json_decref(page);
        return 0;
    }
    if (strcmp(verb, "add") == 0 && o.npos == 2) {
        qs_add(&q, "role", o.pos[0]);
        qs_add(&q, "username", o.pos[1]);
        rc = write_cmd(c, "role add", "POST", "/nacos/v1/auth/roles", &q,
                       NULL);
    } else if (strcmp(verb, "delete") == 0 && o.npos >= 1) {
        qs_add(&q, "role", o.pos[0]);
        qs_add(&q, "username", o.npos == 2 ? o.pos[1] : NULL);
        rc = write_cmd(c, "role delete", "DELETE", "/nacos/v1/auth/roles", &q,
                       NULL);
    } else {
        fputs(role_usage, stderr);
        return 2;
    }
    qs_free(&q);
    return rc;
}

static const char perm_usage[] =
    "usage: locusctl [auth options] perm list [--role R] [--page N]\n"
    "                                         [--size N]\n"
    "       locusctl [auth options] perm add ROLE RESOURCE ACTION\n"
    "       locusctl [auth options] perm delete ROLE RESOURCE ACTION\n"
    "  RESOURCE: <namespace>:<group>:naming/<service>, '*' a wildcard,\n"
    "  the namespace empty for public (\":*:*\" is everything in public);\n"
    "  ACTION: r, w or rw\n";

int ctl_cmd_perm(struct ctl *c, int argc, char **argv)
{
    struct cmd_opts o;
    struct lc_buf q = {0};
    const char *verb = argc > 1 ? argv[1] : "";
    int rc;

    if (parse_cmd(argc - 1, argv + 1, 3, &o) != 0) {
        return 2;
    }
    if (strcmp(verb, "list") == 0) {
        json_t *page, *p;
        size_t i;
        if (o.npos != 0) {
            fputs(perm_usage, stderr);
            return 2;
        }
        page_params(&q, &o);
        qs_add(&q, "role", o.role != NULL ? o.role : "");
        rc = get_page(c, "perm list", "/nacos/v1/auth/permissions", &q, &page);
        qs_free(&q);
        if (rc != 0 || page == NULL) {
            return rc;
        }
        printf("%-24s %-40s %s\n", "ROLE", "RESOURCE", "ACTION");
        json_array_foreach(json_object_get(page, "pageItems"), i, p)
        {
            printf("%-24s %-40s %s\n", field(p, "role"), field(p, "resource"),
                   field(p, "action"));
        }
        page_footer(page, &o);
        json_decref(page);
        return 0;
    }
    if ((strcmp(verb, "add") != 0 && strcmp(verb, "delete") != 0) ||
        o.npos != 3) {
        fputs(perm_usage, stderr);
        return 2;
    }
    qs_add(&q, "role", o.pos[0]);
    qs_add(&q, "resource", o.pos[1]);
    qs_add(&q, "action", o.pos[2]);
    if (strcmp(verb, "add") == 0) {
        rc = write_cmd(c, "perm add", "POST", "/nacos/v1/auth/permissions", &q,
                       NULL);
    } else {
        rc = write_cmd(c, "perm delete", "DELETE",
                       "/nacos/v1/auth/permissions", &q, NULL);
    }
    qs_free(&q);
    return rc;
}

/* ------------------------------------------------------------ auth init */

int ctl_cmd_auth(struct ctl *c, int argc, char **argv)
{
    struct cmd_opts o;
    struct lc_buf form = {0};
    char *body = NULL, *pw = NULL;
    json_t *j;
    int st, rc = 1;

    if (argc < 2 || strcmp(argv[1], "init") != 0 ||
        parse_cmd(argc - 1, argv + 1, 0, &o) != 0) {
        fputs("usage: locusctl auth init [--password P | --password-file "
              "F]\n"
              "  creates the admin user \"nacos\" (once: refused when an "
              "admin exists);\n"
              "  without a password the server generates one and it is "
              "printed\n",
              stderr);
        return 2;
    }
    if (o.password != NULL || o.password_file != NULL) {
        pw = new_password(o.password, o.password_file, "nacos");
        if (pw == NULL) {
            return 1;
        }
        qs_add(&form, "password", pw);
        wipe_free(pw);
    }
    if (qs_str(&form) == NULL) {
        fprintf(stderr, "locusctl: out of memory\n");
        qs_free(&form);
        return 1;
    }
    /* No token: the endpoint is open until an admin exists. */
    {
        int hs = 0;
        int rv = http_call(c, "POST", "/nacos/v1/auth/users/admin", FORM,
                           qs_str(&form), NULL, &hs, &body);
        qs_free(&form);
        if (rv != 0) {
            fprintf(stderr, "locusctl: cannot reach %s:%d (%s)\n", c->host,
                    c->port, lc_strerror(rv));
            return 1;
        }
        st = hs;
    }
    j = json_loads(body != NULL ? body : "", 0, NULL);
    if (!answer_ok(st, body) ||
        json_string_value(json_object_get(j, "password")) == NULL) {
        ctl_print_failure("auth init", st, body);
    } else if (c->json) {
        printf("%s\n", body);
        rc = 0;
    } else {
        printf("admin user  %s\n", field(j, "username"));
        printf("password    %s\n", field(j, "password"));
        rc = 0;
    }
    json_decref(j);
    if (body != NULL) {
        explicit_bzero(body, strlen(body));
    }
    free(body);
    return rc;
}
