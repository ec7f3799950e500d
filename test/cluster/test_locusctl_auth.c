/* locusctl against a standalone locusd with auth on (issue 12): auth init
 * once, login (table, -q, --json; --username with --password-file, the
 * LOCUS_* environment, --token), the user, role and permission commands
 * and their refusals (no credentials, wrong password, not an admin, a
 * second admin init): every refusal exits non-zero with the server's
 * message, and changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "test/support/tcluster.h"

/* A secret for this test only (32 bytes, base64), not a published one. */
#define SECRET "dGVzdC1sb2N1c2N0bC1hdXRoLXNlY3JldC0wMTIzNDU2Nzg5YWI="
#define AUTH_PROPS                                                             \
    "nacos.core.auth.enabled=true\n"                                           \
    "nacos.core.auth.plugin.nacos.token.secret.key=" SECRET "\n"

/* build/locusctl, next to the locusd under test. */
static const char *locusctl(void)
{
    static char path[PATH_MAX];
    const char *d = tc_locusd();
    const char *slash = strrchr(d, '/');
    snprintf(path, sizeof path, "%.*slocusctl",
             slash != NULL ? (int)(slash - d + 1) : 0, d);
    return path;
}

struct out {
    char text[1 << 16]; /* stdout */
    char err[4096];     /* stderr */
    int code;           /* exit status */
};

/* Run `@env locusctl --server <node 0> @args` (stdin from /dev/null). */
static struct out *ctl(struct tc *t, const char *env, const char *args)
{
    static struct out o;
    char cmd[PATH_MAX + 12288], err_path[600];
    size_t n = 0, r;
    FILE *p;
    int st;

    snprintf(err_path, sizeof err_path, "%s/ctl.err", t->tmp);
    if (snprintf(cmd, sizeof cmd,
                 "%s %s --server 127.0.0.1:%d %s </dev/null 2>%s",
                 env != NULL ? env : "", locusctl(), t->c.nodes[0].port, args,
                 err_path) >= (int)sizeof cmd) {
        fail_msg("command too long");
    }
    p = popen(cmd, "r");
    assert_non_null(p);
    while ((r = fread(o.text + n, 1, sizeof o.text - 1 - n, p)) > 0) {
        n += r;
    }
    o.text[n] = '\0';
    st = pclose(p);
    o.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    p = fopen(err_path, "r");
    n = p != NULL ? fread(o.err, 1, sizeof o.err - 1, p) : 0;
    o.err[n] = '\0';
    if (p != NULL) {
        fclose(p);
    }
    return &o;
}

static struct out *ok(struct tc *t, const char *env, const char *args)
{
    struct out *o = ctl(t, env, args);
    if (o->code != 0) {
        fail_msg("locusctl %s: exit %d, stderr: %s, stdout: %s", args, o->code,
                 o->err, o->text);
    }
    return o;
}

/* Must exit 1 with @msg on stderr. */
static void refused(struct tc *t, const char *env, const char *args,
                    const char *msg)
{
    struct out *o = ctl(t, env, args);
    if (o->code != 1 || strstr(o->err, msg) == NULL) {
        fail_msg("locusctl %s: want exit 1 with \"%s\", got exit %d, stderr: "
                 "%s, stdout: %s",
                 args, msg, o->code, o->err, o->text);
    }
}

static void has(const struct out *o, const char *needle)
{
    if (strstr(o->text, needle) == NULL) {
        fail_msg("\"%s\" not in: %s", needle, o->text);
    }
}

static void lacks(const struct out *o, const char *needle)
{
    if (strstr(o->text, needle) != NULL) {
        fail_msg("\"%s\" in: %s", needle, o->text);
    }
}

/* A file in the test's directory holding @text (a password). */
static const char *pwfile(struct tc *t, const char *name, const char *text)
{
    static char path[4][600];
    static unsigned k;
    char *p = path[k++ % 4];
    FILE *f;
    snprintf(p, 600, "%s/%s", t->tmp, name);
    f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", text);
    fclose(f);
    return p;
}

static void test_locusctl_auth(void **state)
{
    struct tc *t = *state;
    char args[8192], env[2304], token[2048], bob_token[2048];
    struct out *o;
    json_t *j;

    tc_up(t, "locusctl_auth", 1, AUTH_PROPS);

    /* Nothing works before the admin exists; then auth init, once. */
    refused(t, NULL, "user list", "user not found!");
    snprintf(args, sizeof args, "auth init --password-file %s",
             pwfile(t, "admin.pw", "Adm1n-pass!"));
    o = ok(t, NULL, args);
    has(o, "admin user  nacos");
    has(o, "password    Adm1n-pass!");
    refused(t, NULL, "auth init", "have admin user cannot use it");

    /* Login: wrong password, no password, the table, -q, --json. */
    snprintf(args, sizeof args, "--username nacos --password-file %s login",
             pwfile(t, "bad.pw", "wrong"));
    refused(t, NULL, args, "user not found!");
    refused(t, NULL, "--username nacos login", "needs a password");
    snprintf(args, sizeof args, "--username nacos --password-file %s login",
             pwfile(t, "admin.pw", "Adm1n-pass!"));
    o = ok(t, NULL, args);
    has(o, "username  nacos");
    has(o, "admin     yes");
    has(o, "token     eyJ");
    o = ok(t, "LOCUS_USERNAME=nacos LOCUS_PASSWORD='Adm1n-pass!'",
           "--json login");
    j = json_loads(o->text, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_true(json_object_get(j, "globalAdmin")));
    assert_true(json_integer_value(json_object_get(j, "tokenTtl")) > 17000);
    json_decref(j);
    o = ok(t, "LOCUS_USERNAME=nacos LOCUS_PASSWORD='Adm1n-pass!'", "login -q");
    assert_true(strncmp(o->text, "eyJ", 3) == 0);
    snprintf(token, sizeof token, "%.*s", (int)strcspn(o->text, "\n"),
             o->text);
    /* A token given back: login answers it as it is. */
    snprintf(args, sizeof args, "--token %s login -q", token);
    o = ok(t, NULL, args);
    assert_int_equal(strncmp(o->text, token, strlen(token)), 0);
    refused(t, NULL, "--token eyJhbGciOiJIUzI1NiJ9.e30.x user list",
            "Invalid signature");

    /* The admin's token carries every other command too. */
    snprintf(env, sizeof env, "LOCUS_TOKEN=%s", token);
    ok(t, env, "groups");
    refused(t, NULL, "groups", "user not found!");

    /* Users. */
    snprintf(args, sizeof args, "user create bob --password-file %s",
             pwfile(t, "bob.pw", "b0b-first"));
    has(ok(t, env, args), "create user ok!");
    refused(t, env, args, "already exist");
    o = ok(t, env, "user list");
    has(o, "USERNAME");
    has(o, "bob");
    has(o, "nacos");
    o = ok(t, env, "--json user list --search bo");
    j = json_loads(o->text, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "totalCount")), 1);
    json_decref(j);

    /* Roles and permissions. */
    has(ok(t, env, "role add ROLE_DEV bob"), "add role ok!");
    refused(t, env, "role add ROLE_DEV nobody", "nobody");
    o = ok(t, env, "role list");
    has(o, "ROLE_DEV");
    has(o, "ROLE_ADMIN");
    has(ok(t, env, "perm add ROLE_DEV ':*:*' rw"), "add permission ok!");
    o = ok(t, env, "perm list --role ROLE_DEV");
    has(o, "ROLE_DEV");
    has(o, ":*:*");
    has(o, "rw");
    refused(t, env, "perm add ROLE_NONE ':*:*' rw", "ROLE_NONE");

    /* bob: not an admin. */
    o = ok(t, "LOCUS_USERNAME=bob LOCUS_PASSWORD=b0b-first", "login -q");
    snprintf(bob_token, sizeof bob_token, "%.*s", (int)strcspn(o->text, "\n"),
             o->text);
    snprintf(args, sizeof args, "--token %s user list", bob_token);
    refused(t, NULL, args, "authorization failed!");
    snprintf(args, sizeof args, "--token %s user delete nacos", bob_token);
    refused(t, NULL, args, "authorization failed!");
    snprintf(args, sizeof args,
             "--token %s user passwd nacos --password-file %s", bob_token,
             pwfile(t, "x.pw", "taken-over"));
    refused(t, NULL, args, "authorization failed!");
    /* ... but may change his own password. */
    snprintf(args, sizeof args, "--token %s user passwd bob --password-file %s",
             bob_token, pwfile(t, "bob2.pw", "b0b-second"));
    has(ok(t, NULL, args), "update user ok!");
    refused(t, "LOCUS_USERNAME=bob LOCUS_PASSWORD=b0b-first", "login",
            "user not found!");
    ok(t, "LOCUS_USERNAME=bob LOCUS_PASSWORD=b0b-second", "login");
    /* The admin's password was not changed by bob's attempt. */
    ok(t, "LOCUS_USERNAME=nacos LOCUS_PASSWORD='Adm1n-pass!'", "login");

    /* Removal. */
    has(ok(t, env, "perm delete ROLE_DEV ':*:*' rw"), "delete permission ok!");
    lacks(ok(t, env, "perm list --role ROLE_DEV"), ":*:*");
    has(ok(t, env, "role delete ROLE_DEV bob"), "ok!");
    lacks(ok(t, env, "role list --role ROLE_DEV"), "bob");
    has(ok(t, env, "user delete bob"), "delete user ok!");
    lacks(ok(t, env, "user list"), "bob");
    refused(t, "LOCUS_USERNAME=bob LOCUS_PASSWORD=b0b-second", "login",
            "user not found!");

    /* Usage errors exit 2 and send nothing. */
    assert_int_equal(ctl(t, env, "user create")->code, 2);
    assert_int_equal(ctl(t, env, "perm add ROLE_X ':*:*'")->code, 2);
    assert_int_equal(ctl(t, env, "role frob")->code, 2);
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_locusctl_auth, tc_setup,
                                        tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
