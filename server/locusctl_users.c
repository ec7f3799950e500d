/* locusctl's commands on users, roles and permissions (/nacos/v1/auth/...,
 * §8.7 of the protocol notes) and auth init, made with locusctl_auth.c's
 * calls, which carry the token. Passwords go in form bodies, never in a
 * URL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/err.h"
#include "common/util.h"
#include "server/locusctl.h"

/* ------------------------------------------------------------ writes */

/* Send a change; print the server's answer ("create user ok!") or the
 * failure. Non-secret parameters go in the query (@q), passwords in the
 * form body (@form, may be NULL). Return the exit code. */
static int write_cmd(struct ctl *c, const char *what, const char *method,
                     const char *base, struct lc_buf *q, struct lc_buf *form)
{
    char *path = ctl_with_query(base, q);
    char *body = NULL;
    const char *fs = form != NULL ? ctl_qs_str(form) : NULL;
    int st, rc = 1;

    if (path == NULL || (form != NULL && fs == NULL)) {
        fprintf(stderr, "locusctl: out of memory\n");
        free(path);
        return 1;
    }
    st = ctl_fetch(c, method, path, fs != NULL ? CTL_FORM : NULL, fs, &body);
    free(path);
    if (st < 0) {
        return 1;
    }
    if (ctl_answer_ok(st, body)) {
        rc = 0;
        if (c->json) {
            printf("%s\n", body);
        } else {
            char *m = ctl_server_message(body);
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
        return ctl_read_secret_file(opt_file);
    }
    if (!isatty(STDIN_FILENO)) {
        return ctl_read_secret_file("-");
    }
    snprintf(prompt, sizeof prompt, "New password for %s: ", user);
    a = ctl_prompt_secret(prompt);
    if (a == NULL) {
        fprintf(stderr, "locusctl: no terminal to ask for the password on\n");
        return NULL;
    }
    b = ctl_prompt_secret("Again: ");
    if (b == NULL || strcmp(a, b) != 0) {
        fprintf(stderr, "locusctl: the two passwords differ\n");
        ctl_wipe_free(a);
        ctl_wipe_free(b);
        return NULL;
    }
    ctl_wipe_free(b);
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
    char *path = ctl_with_query(base, q);
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
    if (!ctl_answer_ok(st, body)) {
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
    ctl_qs_add(q, "pageNo", n);
    snprintf(n, sizeof n, "%d", o->size);
    ctl_qs_add(q, "pageSize", n);
    ctl_qs_add(q, "search", o->search != NULL ? "blur" : "accurate");
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
            ctl_qs_add(&q, "username", pattern);
        } else {
            ctl_qs_add(&q, "username", o.search != NULL ? o.search : "");
        }
        rc = get_page(c, "user list", "/nacos/v1/auth/users", &q, &page);
        ctl_qs_free(&q);
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
    ctl_qs_add(&q, "username", o.pos[0]);
    if (strcmp(verb, "delete") == 0) {
        rc = write_cmd(c, "user delete", "DELETE", "/nacos/v1/auth/users", &q,
                       NULL);
    } else {
        char *pw = new_password(o.password, o.password_file, o.pos[0]);
        if (pw == NULL) {
            ctl_qs_free(&q);
            return 1;
        }
        if (strcmp(verb, "create") == 0) {
            ctl_qs_add(&form, "password", pw);
            rc = write_cmd(c, "user create", "POST", "/nacos/v1/auth/users", &q,
                           &form);
        } else {
            ctl_qs_add(&form, "newPassword", pw);
            rc = write_cmd(c, "user passwd", "PUT", "/nacos/v1/auth/users", &q,
                           &form);
        }
        ctl_wipe_free(pw);
    }
    ctl_qs_free(&q);
    ctl_qs_free(&form);
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
        ctl_qs_add(&q, "username", o.username != NULL ? o.username : "");
        ctl_qs_add(&q, "role", o.role != NULL ? o.role : "");
        rc = get_page(c, "role list", "/nacos/v1/auth/roles", &q, &page);
        ctl_qs_free(&q);
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
        ctl_qs_add(&q, "role", o.pos[0]);
        ctl_qs_add(&q, "username", o.pos[1]);
        rc = write_cmd(c, "role add", "POST", "/nacos/v1/auth/roles", &q, NULL);
    } else if (strcmp(verb, "delete") == 0 && o.npos >= 1) {
        ctl_qs_add(&q, "role", o.pos[0]);
        ctl_qs_add(&q, "username", o.npos == 2 ? o.pos[1] : NULL);
        rc = write_cmd(c, "role delete", "DELETE", "/nacos/v1/auth/roles", &q,
                       NULL);
    } else {
        fputs(role_usage, stderr);
        return 2;
    }
    ctl_qs_free(&q);
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
        ctl_qs_add(&q, "role", o.role != NULL ? o.role : "");
        rc = get_page(c, "perm list", "/nacos/v1/auth/permissions", &q, &page);
        ctl_qs_free(&q);
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
    ctl_qs_add(&q, "role", o.pos[0]);
    ctl_qs_add(&q, "resource", o.pos[1]);
    ctl_qs_add(&q, "action", o.pos[2]);
    if (strcmp(verb, "add") == 0) {
        rc = write_cmd(c, "perm add", "POST", "/nacos/v1/auth/permissions", &q,
                       NULL);
    } else {
        rc = write_cmd(c, "perm delete", "DELETE",
                       "/nacos/v1/auth/permissions", &q, NULL);
    }
    ctl_qs_free(&q);
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
        ctl_qs_add(&form, "password", pw);
        ctl_wipe_free(pw);
    }
    if (ctl_qs_str(&form) == NULL) {
        fprintf(stderr, "locusctl: out of memory\n");
        ctl_qs_free(&form);
        return 1;
    }
    /* No token: the endpoint is open until an admin exists. */
    {
        int hs = 0;
        int rv = ctl_http_call(c, "POST", "/nacos/v1/auth/users/admin",
                               CTL_FORM, ctl_qs_str(&form), NULL, &hs, &body);
        ctl_qs_free(&form);
        if (rv != 0) {
            fprintf(stderr, "locusctl: cannot reach %s:%d (%s)\n", c->host,
                    c->port, lc_strerror(rv));
            return 1;
        }
        st = hs;
    }
    j = json_loads(body != NULL ? body : "", 0, NULL);
    if (!ctl_answer_ok(st, body) ||
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
