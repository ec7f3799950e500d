/* locusctl and auth: who locusctl is to the server (a token, or a username
 * and password it logs in with, as the Nacos Java client does: POST
 * /nacos/v1/auth/login, the username in the query, the password in the form
 * body), the HTTP calls that carry the token (header "Authorization: Bearer
 * <token>", which Nacos and locus read on every port and path), and the
 * login command. The commands on users, roles and permissions are in
 * locusctl_users.c.
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

#define CTL_FORM "application/x-www-form-urlencoded"
#define CALL_TIMEOUT_MS 30000
#define SECRET_MAX 1024

/* ------------------------------------------------------------ secrets */

void ctl_wipe_free(char *s)
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
char *ctl_read_secret_file(const char *path)
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
char *ctl_prompt_secret(const char *prompt)
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
void ctl_qs_add(struct lc_buf *q, const char *name, const char *value)
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

const char *ctl_qs_str(struct lc_buf *q)
{
    if (q->p == NULL && !q->oom) {
        lc_buf_add(q, "", 0);
    }
    return q->oom ? NULL : q->p;
}

void ctl_qs_free(struct lc_buf *q)
{
    if (q->p != NULL) {
        explicit_bzero(q->p, q->cap); /* may hold a password */
    }
    free(q->p);
    q->p = NULL;
}

/* @base?@q in @out (malloc'd), or NULL when out of memory. */
char *ctl_with_query(const char *base, struct lc_buf *q)
{
    const char *s = ctl_qs_str(q);
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
int ctl_http_call(const struct ctl *c, const char *method, const char *path,
                  const char *ctype, const char *body,
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
char *ctl_server_message(const char *body)
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
    char *m = ctl_server_message(body);
    fprintf(stderr, "locusctl: %s: %s (HTTP %d)\n", what,
            m != NULL && m[0] != '\0' ? m : "(no message)", status);
    free(m);
}

/* Whether an answer is a success: HTTP 200, and when it is a RestResult
 * ({"code": N, ...}, which Nacos also sends with HTTP 200 for failures),
 * code 200. */
bool ctl_answer_ok(int status, const char *body)
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
    ctl_qs_add(&q, "username", c->username != NULL ? c->username : "");
    ctl_qs_add(&form, "password", c->password != NULL ? c->password : "");
    path = ctl_with_query("/nacos/v1/auth/login", &q);
    if (path == NULL || ctl_qs_str(&form) == NULL) {
        fprintf(stderr, "locusctl: out of memory\n");
        goto out;
    }
    snprintf(bearer, sizeof bearer, "Bearer %s", c->token);
    rv = ctl_http_call(c, "POST", path, CTL_FORM, ctl_qs_str(&form),
                       c->username == NULL ? headers : NULL, &st, out);
    if (rv != 0) {
        fprintf(stderr, "locusctl: cannot reach %s:%d (%s)\n", c->host,
                c->port, lc_strerror(rv));
        st = -1;
    }
out:
    explicit_bzero(bearer, sizeof bearer);
    free(path);
    ctl_qs_free(&q);
    ctl_qs_free(&form);
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
    rv = ctl_http_call(c, method, path, ctype, body,
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
    ctl_wipe_free(*dst);
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
        return set_password(&c->password, ctl_read_secret_file(v)) == 0 ? 1
                                                                        : -1;
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
        c->password = ctl_prompt_secret(prompt);
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
    ctl_wipe_free(c->password);
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
