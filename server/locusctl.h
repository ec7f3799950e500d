/* What locusctl.c (the commands on a running server), locusctl_auth.c
 * (who locusctl is to that server) and locusctl_users.c (the user, role
 * and permission commands) share: the connection settings and the one way
 * HTTP calls are made, which carries the caller's token. */
#ifndef LC_SERVER_LOCUSCTL_H
#define LC_SERVER_LOCUSCTL_H

#include <jansson.h>
#include <stdbool.h>

struct ctl {
    char host[256];
    int port;
    bool json;
    /* Who we are (locusctl_auth.c): a token given (--token, LOCUS_TOKEN)
     * or got by logging in with username and password on the first call
     * that needs one. password is malloc'd; wiped and freed by
     * ctl_auth_done. */
    const char *username;
    char *password;
    char token[4096];
    bool token_given; /* token set by the caller, no login */
    bool login_tried;
};

/* One HTTP call to the server, blocking (30 s), carrying the token
 * (logging in first when a username is set and no token is held yet).
 * @body may be NULL; *@out gets the malloc'd body (the caller frees; NULL
 * when no answer). Return the HTTP status, or -1 when the server was not
 * reached or the login failed (said on stderr). */
int ctl_fetch(struct ctl *c, const char *method, const char *path,
              const char *ctype, const char *body, char **out);

/* Print "locusctl: @what: <the server's message>" for a failed answer:
 * Spring's {"message"}, a RestResult's data or message, else the text. */
void ctl_print_failure(const char *what, int status, const char *body);

/* A global option of locusctl_auth.c at argv[*i] (--username, --password,
 * --password-file, --token): 1 when taken (*i moved past its value), 0
 * when not one of them, -1 when bad (said). */
int ctl_auth_option(struct ctl *c, int argc, char **argv, int *i);

/* After the options: fill what they left unset from LOCUS_TOKEN,
 * LOCUS_USERNAME and LOCUS_PASSWORD. Return 0 or -1 (said). */
int ctl_auth_env(struct ctl *c);

/* Wipe and free the password. */
void ctl_auth_done(struct ctl *c);

/* ------------------------------------------------- locusctl_auth.c, for
 * locusctl_users.c (the user, role, permission and auth init commands) */

struct lc_buf;

#define CTL_FORM "application/x-www-form-urlencoded"

/* Wipe and free @s (NULL is fine). */
void ctl_wipe_free(char *s);

/* The first line of @path ("-": standard input), malloc'd, or NULL (said). */
char *ctl_read_secret_file(const char *path);

/* Ask on the terminal with echo off; malloc'd, or NULL (no terminal). */
char *ctl_prompt_secret(const char *prompt);

/* Query strings and form bodies (name=value&...) in a zeroed struct lc_buf:
 * add name=value (both URL-encoded; a NULL @value adds nothing); the text
 * (borrowed; NULL when out of memory); wipe and free it; and @base?@q
 * (malloc'd, or NULL when out of memory). */
void ctl_qs_add(struct lc_buf *q, const char *name, const char *value);
const char *ctl_qs_str(struct lc_buf *q);
void ctl_qs_free(struct lc_buf *q);
char *ctl_with_query(const char *base, struct lc_buf *q);

/* One blocking call without the token, with @headers (name, value, ...,
 * NULL; may be NULL). Return 0 (*@http_status set, *@out the malloc'd
 * body) or LC_E*. */
int ctl_http_call(const struct ctl *c, const char *method, const char *path,
                  const char *ctype, const char *body,
                  const char *const *headers, int *http_status, char **out);

/* The server's message in @body (Spring's {"message"}, a RestResult's
 * data or message, else the text), malloc'd. */
char *ctl_server_message(const char *body);

/* HTTP 200, and a RestResult's code 200 when the body is one. */
bool ctl_answer_ok(int status, const char *body);

/* ------------------------------------------------------- locusctl_users.c */

/* locusctl login | auth init | user ... | role ... | perm ...: @argv[0] is
 * the command word. Return the exit code. */
int ctl_cmd_login(struct ctl *c, int argc, char **argv);
int ctl_cmd_auth(struct ctl *c, int argc, char **argv);
int ctl_cmd_user(struct ctl *c, int argc, char **argv);
int ctl_cmd_role(struct ctl *c, int argc, char **argv);
int ctl_cmd_perm(struct ctl *c, int argc, char **argv);

#endif /* LC_SERVER_LOCUSCTL_H */
