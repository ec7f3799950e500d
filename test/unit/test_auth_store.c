/* The users, roles and permissions processor (auth/store.c), driven through
 * its statemachine glue without raft: every operation and every refusal
 * with Nacos's messages, the checks' reads, Nacos's '*' match, and the
 * snapshot tables saved, loaded and refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <raft.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/internal.h"
#include "auth/store.h"
#include "common/err.h"
#include "common/util.h"
#include "statemachine/statemachine.h"
#include "test/support/fixture_naming.h"
#include "test/support/fixture_sm.h"

#define HASH_A "$2a$10$EuWPZHzz32dJN7jexM34MOeYirDdFAZm2kuWj7VEOJhhZkDrxfvUu"
#define HASH_B "$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"

static uint64_t next_index = 1;

/* Apply @op with JSON @data (or raw @data when not JSON) to @s; return the
 * result's status, its message in @msg (may be NULL). */
static int apply_raw(struct lc_auth_store *s, const char *op,
                     const char *data, char *msg)
{
    struct lc_raft_sm *sm = lc_statemachine_sm(lc_auth_store_sm(s));
    struct lc_raft_result result;
    void *buf;
    size_t len;
    memset(&result, 0, sizeof result);
    assert_int_equal(lc_sm_encode_write(LC_AUTH_GROUP, "", op, "", data,
                                        strlen(data), &buf, &len),
                     0);
    sm->apply(sm, next_index++, buf, len, &result);
    raft_free(buf);
    if (msg != NULL) {
        strcpy(msg, result.message);
    }
    return result.status;
}

/* Build {"k":"v",...} from NULL-terminated key, value pairs (a NULL value
 * leaves the key out). */
static int apply(struct lc_auth_store *s, const char *op, char *msg, ...)
{
    json_t *doc = json_object();
    va_list ap;
    const char *k;
    char *text;
    int rv;
    va_start(ap, msg);
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        if (v != NULL) {
            json_object_set_new(doc, k, json_string(v));
        }
    }
    va_end(ap);
    text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    rv = apply_raw(s, op, text, msg);
    free(text);
    return rv;
}

#define USER_CREATE(s, msg, u, h)                                            \
    apply((s), LC_AUTH_OP_USER_CREATE, (msg), "username", (u), "password",   \
          (h), NULL)
#define ROLE_ADD(s, msg, r, u)                                               \
    apply((s), LC_AUTH_OP_ROLE_ADD, (msg), "role", (r), "username", (u), NULL)
#define PERM_ADD(s, msg, r, res, a)                                          \
    apply((s), LC_AUTH_OP_PERMISSION_ADD, (msg), "role", (r), "resource",    \
          (res), "action", (a), NULL)

static struct lc_auth_store *new_store(void)
{
    struct lc_auth_store *s;
    assert_int_equal(lc_auth_store_new_detached(&s), 0);
    return s;
}

/* -------------------------------------------------------------- dumping */

static bool dump_user(void *data, const char *u, const char *h)
{
    struct lc_buf *b = data;
    lc_buf_add(b, "U ", 2);
    lc_buf_add(b, u, strlen(u));
    lc_buf_add(b, " ", 1);
    lc_buf_add(b, h, strlen(h));
    lc_buf_add(b, "\n", 1);
    return true;
}

static bool dump_role(void *data, const char *r, const char *u)
{
    struct lc_buf *b = data;
    lc_buf_add(b, "R ", 2);
    lc_buf_add(b, r, strlen(r));
    lc_buf_add(b, " ", 1);
    lc_buf_add(b, u, strlen(u));
    lc_buf_add(b, "\n", 1);
    return true;
}

static bool dump_perm(void *data, const char *r, const char *res,
                      const char *a)
{
    struct lc_buf *b = data;
    lc_buf_add(b, "P ", 2);
    lc_buf_add(b, r, strlen(r));
    lc_buf_add(b, " ", 1);
    lc_buf_add(b, res, strlen(res));
    lc_buf_add(b, " ", 1);
    lc_buf_add(b, a, strlen(a));
    lc_buf_add(b, "\n", 1);
    return true;
}

/* Every row of @s as text, in order (malloc'd). */
static char *dump(const struct lc_auth_store *s)
{
    struct lc_buf b = {0};
    lc_auth_store_users(s, dump_user, &b);
    lc_auth_store_roles(s, dump_role, &b);
    lc_auth_store_permissions(s, dump_perm, &b);
    lc_buf_add(&b, "", 1);
    assert_false(b.oom);
    return b.p;
}

static void assert_dump(const struct lc_auth_store *s, const char *want)
{
    char *d = dump(s);
    assert_string_equal(d, want);
    free(d);
}

/* ---------------------------------------------------------------- match */

static void test_match(void **state)
{
    char many[4097];
    char pat[200];
    (void)state;
    assert_true(lc_auth_resource_match("*", ""));
    assert_true(lc_auth_resource_match("*", ":DEFAULT_GROUP:naming/a"));
    assert_true(lc_auth_resource_match("", ""));
    assert_false(lc_auth_resource_match("", "a"));
    assert_true(lc_auth_resource_match(":*:*", ":DEFAULT_GROUP:naming/a"));
    assert_false(lc_auth_resource_match(":*:*", "dev:G:naming/a"));
    assert_true(lc_auth_resource_match("dev:*:*", "dev:G:naming/a"));
    assert_false(lc_auth_resource_match("dev:*:*", "dev2:G:naming/a"));
    assert_true(lc_auth_resource_match("dev:*:naming/*", "dev:G:naming/s"));
    assert_false(lc_auth_resource_match("dev:*:naming/*", "dev:G:config/s"));
    /* Whole string, both ends. */
    assert_false(lc_auth_resource_match("abc", "abcd"));
    assert_false(lc_auth_resource_match("bcd", "abcd"));
    assert_true(lc_auth_resource_match("ab*", "ab"));
    assert_true(lc_auth_resource_match("*cd", "abcd"));
    assert_true(lc_auth_resource_match("a*b*c", "aXbYbZc"));
    assert_false(lc_auth_resource_match("a*b*c", "aXbYbZ"));
    assert_true(lc_auth_resource_match("a**c", "ac"));
    /* No regex: dots, question marks, brackets are literal. */
    assert_false(lc_auth_resource_match("a.b", "axb"));
    assert_true(lc_auth_resource_match("a.b", "a.b"));
    assert_false(lc_auth_resource_match("a?b", "axb"));
    assert_false(lc_auth_resource_match("[ab]", "a"));
    assert_false(lc_auth_resource_match(".*", "anything"));
    assert_true(lc_auth_resource_match(".*", ".anything"));
    assert_false(lc_auth_resource_match("a+", "aa"));
    /* A pattern that makes a backtracking regex explode is answered at
     * once. */
    memset(many, 'a', sizeof many - 1);
    many[sizeof many - 1] = '\0';
    for (size_t i = 0; i < 60; i += 2) {
        pat[i] = '*';
        pat[i + 1] = 'a';
    }
    strcpy(pat + 60, "*b");
    assert_false(lc_auth_resource_match(pat, many));
    assert_true(lc_auth_resource_match(pat + 1, "a" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                                "aaaaaaaaaaaaaaaaaab"));
    assert_false(lc_auth_resource_match(NULL, "a"));
    assert_false(lc_auth_resource_match("a", NULL));
}

static void test_validation(void **state)
{
    char longname[LC_AUTH_NAME_MAX + 2];
    const char *why;
    (void)state;
    assert_true(lc_auth_name_valid("alice", NULL));
    assert_true(lc_auth_name_valid("Jos\xc3\xa9", NULL));
    assert_false(lc_auth_name_valid("", &why));
    assert_string_equal(why, "is blank");
    assert_false(lc_auth_name_valid(NULL, &why));
    assert_false(lc_auth_name_valid("a b", &why));
    assert_string_equal(why, "has whitespace");
    assert_false(lc_auth_name_valid("a\tb", &why));
    assert_false(lc_auth_name_valid("a\x7f", &why));
    assert_string_equal(why, "has a control character");
    assert_false(lc_auth_name_valid("a\xc2\x85", NULL)); /* NEL, C1 */
    assert_false(lc_auth_name_valid("a\xc2\xa0", NULL)); /* NBSP */
    assert_false(lc_auth_name_valid("a\xe3\x80\x80", NULL)); /* ideographic */
    assert_false(lc_auth_name_valid("\xc3", &why));
    assert_string_equal(why, "is not valid UTF-8");
    assert_false(lc_auth_name_valid("\xc0\xaf", NULL)); /* overlong */
    assert_false(lc_auth_name_valid("\xed\xa0\x80", NULL)); /* surrogate */
    assert_false(lc_auth_name_valid("\xff", NULL));
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_false(lc_auth_name_valid(longname, &why));
    assert_string_equal(why, "is too long");
    longname[LC_AUTH_NAME_MAX] = '\0';
    assert_true(lc_auth_name_valid(longname, NULL));
    assert_true(lc_auth_resource_valid(":*:*", NULL));
    assert_false(lc_auth_resource_valid("a b", NULL));
    assert_true(lc_auth_action_valid("r"));
    assert_true(lc_auth_action_valid("w"));
    assert_true(lc_auth_action_valid("rw"));
    assert_false(lc_auth_action_valid("wr"));
    assert_false(lc_auth_action_valid("x"));
    assert_false(lc_auth_action_valid(""));
    assert_false(lc_auth_action_valid(NULL));
    assert_true(lc_auth_password_valid("pass word!", NULL));
    assert_false(lc_auth_password_valid("", NULL));
    assert_false(lc_auth_password_valid("a\nb", NULL));
    memset(longname, 'p', LC_AUTH_PASSWORD_MAX + 1);
    longname[LC_AUTH_PASSWORD_MAX + 1] = '\0';
    assert_false(lc_auth_password_valid(longname, NULL));
    longname[LC_AUTH_PASSWORD_MAX] = '\0';
    assert_true(lc_auth_password_valid(longname, NULL));
}

/* ---------------------------------------------------------------- users */

static void test_users(void **state)
{
    struct lc_auth_store *s = new_store();
    char msg[300];
    uint64_t e;
    char longname[LC_AUTH_NAME_MAX + 2];
    (void)state;

    e = lc_auth_store_epoch(s);
    assert_null(lc_auth_store_password(s, "alice"));
    assert_int_equal(USER_CREATE(s, msg, "alice", HASH_A), 0);
    assert_true(lc_auth_store_epoch(s) != e);
    assert_string_equal(lc_auth_store_password(s, "alice"), HASH_A);
    assert_false(lc_auth_store_is_admin(s, "alice"));
    assert_false(lc_auth_store_has_admin(s));

    /* Refusals change nothing, the epoch included. */
    e = lc_auth_store_epoch(s);
    assert_int_equal(USER_CREATE(s, msg, "alice", HASH_B), LC_EEXIST);
    assert_string_equal(msg, "user 'alice' already exist!");
    assert_string_equal(lc_auth_store_password(s, "alice"), HASH_A);
    assert_int_equal(USER_CREATE(s, msg, "", HASH_B), LC_EINVAL);
    assert_string_equal(msg, "username is blank");
    assert_int_equal(USER_CREATE(s, msg, NULL, HASH_B), LC_EINVAL);
    assert_int_equal(USER_CREATE(s, msg, "bo b", HASH_B), LC_EINVAL);
    assert_string_equal(msg, "username has whitespace");
    assert_int_equal(USER_CREATE(s, msg, "bo\x01", HASH_B), LC_EINVAL);
    assert_int_equal(USER_CREATE(s, msg, "bo\xff", HASH_B), LC_EINVAL);
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(USER_CREATE(s, msg, longname, HASH_B), LC_EINVAL);
    assert_string_equal(msg, "username is too long");
    assert_int_equal(USER_CREATE(s, msg, "bob", "plain"), LC_EINVAL);
    assert_string_equal(msg, "password hash is malformed");
    assert_int_equal(USER_CREATE(s, msg, "bob", NULL), LC_EINVAL);
    assert_int_equal(USER_CREATE(s, msg, "bob", "$2a$10$ has space"),
                     LC_EINVAL);
    assert_int_equal(lc_auth_store_epoch(s), e);
    assert_dump(s, "U alice " HASH_A "\n");

    /* Password. */
    assert_int_equal(apply(s, LC_AUTH_OP_USER_PASSWORD, msg, "username",
                           "bob", "password", HASH_B, NULL),
                     LC_ENOTFOUND);
    assert_string_equal(msg, "user bob not exist!");
    assert_int_equal(apply(s, LC_AUTH_OP_USER_PASSWORD, msg, "username",
                           "alice", "password", "x", NULL),
                     LC_EINVAL);
    assert_int_equal(lc_auth_store_epoch(s), e);
    assert_int_equal(apply(s, LC_AUTH_OP_USER_PASSWORD, msg, "username",
                           "alice", "password", HASH_B, NULL),
                     0);
    assert_string_equal(lc_auth_store_password(s, "alice"), HASH_B);
    assert_true(lc_auth_store_epoch(s) != e);

    /* Delete: a missing user is a silent success that changes nothing. */
    assert_int_equal(USER_CREATE(s, msg, "bob", HASH_A), 0);
    e = lc_auth_store_epoch(s);
    assert_int_equal(apply(s, LC_AUTH_OP_USER_DELETE, msg, "username",
                           "carol", NULL),
                     0);
    assert_int_equal(lc_auth_store_epoch(s), e);
    assert_int_equal(apply(s, LC_AUTH_OP_USER_DELETE, msg, "username",
                           "alice", NULL),
                     0);
    assert_true(lc_auth_store_epoch(s) != e);
    assert_null(lc_auth_store_password(s, "alice"));
    assert_dump(s, "U bob " HASH_A "\n");
    lc_auth_store_free(s);
}

static void test_bad_entries(void **state)
{
    struct lc_auth_store *s = new_store();
    char msg[300];
    uint64_t e = lc_auth_store_epoch(s);
    (void)state;
    assert_int_equal(apply_raw(s, LC_AUTH_OP_USER_CREATE, "not json", msg),
                     LC_ECORRUPT);
    assert_int_equal(apply_raw(s, LC_AUTH_OP_USER_CREATE, "[1]", msg),
                     LC_ECORRUPT);
    assert_int_equal(apply_raw(s, LC_AUTH_OP_USER_CREATE, "", msg),
                     LC_ECORRUPT);
    assert_int_equal(
        apply_raw(s, LC_AUTH_OP_USER_CREATE,
                  "{\"username\":1,\"password\":\"" "$2a$10$x" "\"}", msg),
        LC_EINVAL);
    assert_int_equal(apply_raw(s, "Nuke", "{}", msg), LC_EINVAL);
    assert_string_equal(msg, "unknown operation 'Nuke'");
    assert_int_equal(lc_auth_store_epoch(s), e);
    assert_dump(s, "");
    lc_auth_store_free(s);
}

/* ---------------------------------------------------------------- admin */

static void test_admin(void **state)
{
    struct lc_auth_store *s = new_store();
    char msg[300];
    uint64_t e;
    (void)state;

    /* A user "nacos" that is not an admin blocks the init. */
    assert_int_equal(USER_CREATE(s, msg, "nacos", HASH_A), 0);
    assert_int_equal(apply(s, LC_AUTH_OP_ADMIN_INIT, msg, "password", HASH_B,
                           NULL),
                     LC_EEXIST);
    assert_string_equal(msg, "user 'nacos' already exist!");
    assert_false(lc_auth_store_has_admin(s));
    assert_int_equal(apply(s, LC_AUTH_OP_USER_DELETE, msg, "username",
                           "nacos", NULL),
                     0);

    assert_int_equal(apply(s, LC_AUTH_OP_ADMIN_INIT, msg, "password", "bad",
                           NULL),
                     LC_EINVAL);
    assert_false(lc_auth_store_has_admin(s));
    assert_int_equal(apply(s, LC_AUTH_OP_ADMIN_INIT, msg, "password", HASH_A,
                           NULL),
                     0);
    assert_true(lc_auth_store_has_admin(s));
    assert_true(lc_auth_store_is_admin(s, "nacos"));
    assert_string_equal(lc_auth_store_password(s, "nacos"), HASH_A);
    assert_dump(s, "U nacos " HASH_A "\nR ROLE_ADMIN nacos\n");

    e = lc_auth_store_epoch(s);
    assert_int_equal(apply(s, LC_AUTH_OP_ADMIN_INIT, msg, "password", HASH_B,
                           NULL),
                     LC_EEXIST);
    assert_string_equal(msg, LC_AUTH_HAVE_ADMIN);
    assert_int_equal(apply(s, LC_AUTH_OP_USER_DELETE, msg, "username",
                           "nacos", NULL),
                     LC_EINVAL);
    assert_string_equal(msg, "cannot delete admin: nacos");
    assert_int_equal(apply(s, LC_AUTH_OP_ROLE_DELETE, msg, "role",
                           LC_AUTH_ROLE_ADMIN, "username", "nacos", NULL),
                     LC_EINVAL);
    assert_string_equal(msg, "role 'ROLE_ADMIN' is not permitted to delete!");
    assert_int_equal(apply(s, LC_AUTH_OP_ROLE_DELETE, msg, "role",
                           LC_AUTH_ROLE_ADMIN, NULL),
                     LC_EINVAL);
    assert_int_equal(USER_CREATE(s, msg, "bob", HASH_B), 0);
    e = lc_auth_store_epoch(s);
    assert_int_equal(ROLE_ADD(s, msg, LC_AUTH_ROLE_ADMIN, "bob"), LC_EINVAL);
    assert_string_equal(msg, "role 'ROLE_ADMIN' is not permitted to create!");
    assert_false(lc_auth_store_is_admin(s, "bob"));
    assert_int_equal(lc_auth_store_epoch(s), e);
    assert_string_equal(lc_auth_store_password(s, "nacos"), HASH_A);
    assert_true(lc_auth_store_is_admin(s, "nacos"));
    lc_auth_store_free(s);
}

/* ---------------------------------------------------------------- roles */

static void test_roles(void **state)
{
    struct lc_auth_store *s = new_store();
    char msg[300];
    uint64_t e;
    (void)state;

    assert_int_equal(ROLE_ADD(s, msg, "dev", "alice"), LC_ENOTFOUND);
    assert_string_equal(msg, "user 'alice' not found!");
    /* Nacos checks the user before the admin role. */
    assert_int_equal(ROLE_ADD(s, msg, LC_AUTH_ROLE_ADMIN, "alice"),
                     LC_ENOTFOUND);
    assert_int_equal(USER_CREATE(s, msg, "alice", HASH_A), 0);
    assert_int_equal(USER_CREATE(s, msg, "bob", HASH_B), 0);
    assert_int_equal(ROLE_ADD(s, msg, "dev", "alice"), 0);
    assert_int_equal(ROLE_ADD(s, msg, "dev", "bob"), 0);
    assert_int_equal(ROLE_ADD(s, msg, "ops", "bob"), 0);
    e = lc_auth_store_epoch(s);
    assert_int_equal(ROLE_ADD(s, msg, "dev", "alice"), LC_EEXIST);
    assert_string_equal(msg, "role 'dev' of user 'alice' already exist!");
    assert_int_equal(ROLE_ADD(s, msg, "d ev", "alice"), LC_EINVAL);
    assert_string_equal(msg, "role has whitespace");
    assert_int_equal(ROLE_ADD(s, msg, "", "alice"), LC_EINVAL);
    assert_int_equal(lc_auth_store_epoch(s), e);
    assert_dump(s, "U alice " HASH_A "\nU bob " HASH_B
                   "\nR dev alice\nR dev bob\nR ops bob\n");

    /* One user's role, then everyone's. */
    assert_int_equal(apply(s, LC_AUTH_OP_ROLE_DELETE, msg, "role", "dev",
                           "username", "bob", NULL),
                     0);
    assert_dump(s, "U alice " HASH_A "\nU bob " HASH_B
                   "\nR dev alice\nR ops bob\n");
    assert_int_equal(ROLE_ADD(s, msg, "dev", "bob"), 0);
    e = lc_auth_store_epoch(s);
    assert_int_equal(apply(s, LC_AUTH_OP_ROLE_DELETE, msg, "role", "nope",
                           "username", "bob", NULL),
                     0);
    assert_int_equal(lc_auth_store_epoch(s), e);
    assert_int_equal(apply(s, LC_AUTH_OP_ROLE_DELETE, msg, "role", "dev",
                           "username", "", NULL),
                     0);
    assert_true(lc_auth_store_epoch(s) != e);
    assert_dump(s, "U alice " HASH_A "\nU bob " HASH_B "\nR ops bob\n");

    /* Deleting a user takes its roles. */
    assert_int_equal(apply(s, LC_AUTH_OP_USER_DELETE, msg, "username", "bob",
                           NULL),
                     0);
    assert_dump(s, "U alice " HASH_A "\n");
    assert_int_equal(apply(s, LC_AUTH_OP_ROLE_DELETE, msg, "role", "",
                           NULL),
                     LC_EINVAL);
    lc_auth_store_free(s);
}

/* ---------------------------------------------------------- permissions */

static void test_permissions(void **state)
{
    struct lc_auth_store *s = new_store();
    char msg[300];
    uint64_t e;
    (void)state;

    assert_int_equal(USER_CREATE(s, msg, "alice", HASH_A), 0);
    assert_int_equal(USER_CREATE(s, msg, "bob", HASH_B), 0);
    assert_int_equal(PERM_ADD(s, msg, "dev", ":*:*", "r"), LC_ENOTFOUND);
    assert_string_equal(msg, "role dev not found!");
    assert_int_equal(ROLE_ADD(s, msg, "dev", "alice"), 0);
    e = lc_auth_store_epoch(s);
    assert_int_equal(PERM_ADD(s, msg, "dev", ":*:*", "x"), LC_EINVAL);
    assert_string_equal(msg, "action must be one of r, w, rw");
    assert_int_equal(PERM_ADD(s, msg, "dev", ":*:*", NULL), LC_EINVAL);
    assert_int_equal(PERM_ADD(s, msg, "dev", "", "r"), LC_EINVAL);
    assert_string_equal(msg, "resource is blank");
    assert_int_equal(PERM_ADD(s, msg, "dev", "a\nb", "r"), LC_EINVAL);
    assert_int_equal(lc_auth_store_epoch(s), e);

    assert_int_equal(PERM_ADD(s, msg, "dev", ":*:*", "r"), 0);
    assert_int_equal(PERM_ADD(s, msg, "dev", "prod:G:naming/orders", "rw"),
                     0);
    assert_int_equal(PERM_ADD(s, msg, "dev", ":*:*", "r"), LC_EEXIST);
    assert_string_equal(msg, "permission 'dev' ':*:*' 'r' already exist!");

    /* Reads: alice by her role; bob has none. */
    assert_true(lc_auth_store_granted(s, "alice", ":DEFAULT_GROUP:naming/a",
                                      'r'));
    assert_false(lc_auth_store_granted(s, "alice", ":DEFAULT_GROUP:naming/a",
                                       'w'));
    assert_false(lc_auth_store_granted(s, "alice", "dev:G:naming/a", 'r'));
    assert_true(lc_auth_store_granted(s, "alice", "prod:G:naming/orders",
                                      'w'));
    assert_true(lc_auth_store_granted(s, "alice", "prod:G:naming/orders",
                                      'r'));
    assert_false(lc_auth_store_granted(s, "alice", "prod:G:naming/order",
                                       'r'));
    assert_false(lc_auth_store_granted(s, "alice", ":G:naming/a", 'x'));
    assert_false(lc_auth_store_granted(s, "alice", ":G:naming/a", '\0'));
    assert_false(lc_auth_store_granted(s, "bob", ":DEFAULT_GROUP:naming/a",
                                       'r'));
    assert_false(lc_auth_store_granted(s, "carol", ":G:naming/a", 'r'));
    assert_false(lc_auth_store_granted(s, NULL, ":G:naming/a", 'r'));
    /* console/ is for admins, but for the password entry point. */
    assert_int_equal(PERM_ADD(s, msg, "dev", "console/*", "rw"), 0);
    assert_false(lc_auth_store_granted(s, "alice", "console/users", 'r'));
    assert_true(lc_auth_store_granted(s, "alice", "console/user/password",
                                      'w'));
    assert_true(lc_auth_store_granted(s, "bob", "console/user/password",
                                      'w'));
    assert_false(lc_auth_store_granted(s, "carol", "console/user/password",
                                       'w'));
    /* An admin passes everything. */
    assert_int_equal(apply(s, LC_AUTH_OP_ADMIN_INIT, msg, "password", HASH_A,
                           NULL),
                     0);
    assert_true(lc_auth_store_granted(s, "nacos", "console/users", 'w'));
    assert_true(lc_auth_store_granted(s, "nacos", "x:y:naming/z", 'w'));

    /* Role removal takes effect; the permissions stay and come back with
     * the role, as Nacos's tables do. */
    assert_int_equal(apply(s, LC_AUTH_OP_ROLE_DELETE, msg, "role", "dev",
                           NULL),
                     0);
    assert_false(lc_auth_store_granted(s, "alice", ":DEFAULT_GROUP:naming/a",
                                       'r'));
    assert_int_equal(PERM_ADD(s, msg, "dev", "x", "r"), LC_ENOTFOUND);
    assert_int_equal(ROLE_ADD(s, msg, "dev", "bob"), 0);
    assert_true(lc_auth_store_granted(s, "bob", ":DEFAULT_GROUP:naming/a",
                                      'r'));

    /* Delete a permission: exact row only; a missing one is a success. */
    e = lc_auth_store_epoch(s);
    assert_int_equal(apply(s, LC_AUTH_OP_PERMISSION_DELETE, msg, "role",
                           "dev", "resource", ":*:*", "action", "rw", NULL),
                     0);
    assert_int_equal(lc_auth_store_epoch(s), e);
    assert_true(lc_auth_store_granted(s, "bob", ":DEFAULT_GROUP:naming/a",
                                      'r'));
    assert_int_equal(apply(s, LC_AUTH_OP_PERMISSION_DELETE, msg, "role",
                           "dev", "resource", ":*:*", "action", "r", NULL),
                     0);
    assert_true(lc_auth_store_epoch(s) != e);
    assert_false(lc_auth_store_granted(s, "bob", ":DEFAULT_GROUP:naming/a",
                                       'r'));
    assert_dump(s, "U alice " HASH_A "\nU bob " HASH_B "\nU nacos " HASH_A
                   "\nR ROLE_ADMIN nacos\nR dev bob\n"
                   "P dev prod:G:naming/orders rw\nP dev console/* rw\n");
    lc_auth_store_free(s);
}

/* ------------------------------------------------------------- snapshot */

static struct lc_auth_store *populated(void)
{
    struct lc_auth_store *s = new_store();
    char msg[300];
    assert_int_equal(apply(s, LC_AUTH_OP_ADMIN_INIT, msg, "password", HASH_A,
                           NULL),
                     0);
    assert_int_equal(USER_CREATE(s, msg, "alice", HASH_B), 0);
    assert_int_equal(USER_CREATE(s, msg, "Jos\xc3\xa9", HASH_A), 0);
    assert_int_equal(ROLE_ADD(s, msg, "dev", "alice"), 0);
    assert_int_equal(ROLE_ADD(s, msg, "dev", "Jos\xc3\xa9"), 0);
    assert_int_equal(PERM_ADD(s, msg, "dev", "dev:*:*", "rw"), 0);
    assert_int_equal(PERM_ADD(s, msg, "dev", ":*:*", "r"), 0);
    /* A role with permissions and no holder any more. */
    assert_int_equal(ROLE_ADD(s, msg, "gone", "alice"), 0);
    assert_int_equal(PERM_ADD(s, msg, "gone", "g:*:*", "w"), 0);
    assert_int_equal(apply(s, LC_AUTH_OP_ROLE_DELETE, msg, "role", "gone",
                           NULL),
                     0);
    return s;
}

static void image_of(struct lc_auth_store *s, void **buf, size_t *len)
{
    struct lc_fixture_sm a;
    lc_fixture_sm_init(&a, lc_statemachine_sm(lc_auth_store_sm(s)));
    assert_int_equal(lc_fixture_sm_image(&a, 42, 3, buf, len), 0);
    lc_fixture_sm_close(&a);
}

static int restore(struct lc_auth_store *s, const void *buf, size_t len,
                   char *errmsg)
{
    struct lc_raft_sm *sm = lc_statemachine_sm(lc_auth_store_sm(s));
    struct lc_raft_snapshot_info info;
    memset(&info, 0, sizeof info);
    return sm->restore(sm, buf, len, &info, errmsg, 256);
}

static void test_snapshot_round_trip(void **state)
{
    struct lc_auth_store *s = populated();
    struct lc_auth_store *t = new_store();
    char msg[300];
    char errmsg[256];
    char *want;
    void *buf;
    size_t len;
    uint64_t e;
    (void)state;

    want = dump(s);
    image_of(s, &buf, &len);
    /* t has something else, all of it replaced. */
    assert_int_equal(USER_CREATE(t, msg, "other", HASH_A), 0);
    e = lc_auth_store_epoch(t);
    assert_int_equal(restore(t, buf, len, errmsg), 0);
    assert_true(lc_auth_store_epoch(t) != e);
    assert_dump(t, want);
    assert_null(lc_auth_store_password(t, "other"));
    assert_true(lc_auth_store_has_admin(t));
    assert_true(lc_auth_store_is_admin(t, "nacos"));
    assert_true(lc_auth_store_granted(t, "alice", "dev:G:naming/s", 'w'));
    assert_true(lc_auth_store_granted(t, "Jos\xc3\xa9", ":G:naming/s", 'r'));
    assert_false(lc_auth_store_granted(t, "alice", ":G:naming/s", 'w'));
    assert_false(lc_auth_store_granted(t, "alice", "g:x:naming/s", 'w'));
    /* The loaded state behaves as the original: admin init stays closed,
     * the held-less role's permissions come back with it. */
    assert_int_equal(apply(t, LC_AUTH_OP_ADMIN_INIT, msg, "password", HASH_B,
                           NULL),
                     LC_EEXIST);
    assert_int_equal(PERM_ADD(t, msg, "gone", "x", "r"), LC_ENOTFOUND);
    assert_int_equal(ROLE_ADD(t, msg, "gone", "alice"), 0);
    assert_true(lc_auth_store_granted(t, "alice", "g:x:naming/s", 'w'));
    assert_int_equal(apply(t, LC_AUTH_OP_USER_DELETE, msg, "username",
                           "alice", NULL),
                     0);
    assert_false(lc_auth_store_granted(t, "alice", "dev:G:naming/s", 'w'));
    /* Loading the same image again gives the same state. */
    assert_int_equal(restore(t, buf, len, errmsg), 0);
    assert_dump(t, want);
    raft_free(buf);

    /* An empty store round-trips to empty. */
    {
        struct lc_auth_store *empty = new_store();
        image_of(empty, &buf, &len);
        assert_int_equal(restore(t, buf, len, errmsg), 0);
        assert_dump(t, "");
        assert_false(lc_auth_store_has_admin(t));
        raft_free(buf);
        lc_auth_store_free(empty);
    }
    free(want);
    lc_auth_store_free(s);
    lc_auth_store_free(t);
}

#define TABLES_OK                                                            \
    "CREATE TABLE users (username TEXT, password TEXT);"                     \
    "CREATE TABLE roles (role TEXT, username TEXT);"                         \
    "CREATE TABLE permissions (role TEXT, resource TEXT, action TEXT);"

static void assert_refused(struct lc_auth_store *t, const char *sql,
                           const char *what, const char *errpart)
{
    char *before = dump(t);
    uint64_t e = lc_auth_store_epoch(t);
    char errmsg[256] = "";
    void *buf;
    size_t len;
    lc_fixture_image(LC_AUTH_GROUP, sql, &buf, &len);
    if (restore(t, buf, len, errmsg) == 0) {
        fail_msg("%s: image accepted", what);
    }
    if (strstr(errmsg, errpart) == NULL) {
        fail_msg("%s: message '%s' lacks '%s'", what, errmsg, errpart);
    }
    assert_int_equal(lc_auth_store_epoch(t), e);
    assert_dump(t, before);
    free(before);
    raft_free(buf);
}

static void test_snapshot_refused(void **state)
{
    struct lc_auth_store *t = populated();
    char errmsg[256];
    void *buf;
    size_t len;
    (void)state;

    assert_refused(t, "CREATE TABLE users (username TEXT, password TEXT);",
                   "no roles table", "roles");
    assert_refused(t,
                   "CREATE TABLE roles (role TEXT, username TEXT);"
                   "CREATE TABLE permissions (role, resource, action);",
                   "no users table", "users");
    assert_refused(t,
                   TABLES_OK "INSERT INTO users VALUES ('a', NULL);",
                   "NULL hash", "NULL");
    assert_refused(t,
                   TABLES_OK "INSERT INTO users VALUES ('a', '" HASH_A "');"
                             "INSERT INTO users VALUES ('a', '" HASH_B "');",
                   "duplicate user", "users row 2");
    assert_refused(t,
                   TABLES_OK "INSERT INTO users VALUES ('a b', '" HASH_A
                             "');",
                   "bad username", "username has whitespace");
    assert_refused(t,
                   TABLES_OK "INSERT INTO users VALUES ('a', 'plain');",
                   "plain password", "malformed");
    assert_refused(t,
                   TABLES_OK "INSERT INTO users VALUES ('a', '" HASH_A "');"
                             "INSERT INTO roles VALUES ('dev', 'b');",
                   "role of an unknown user", "roles row 1");
    assert_refused(t,
                   TABLES_OK "INSERT INTO users VALUES ('a', '" HASH_A "');"
                             "INSERT INTO roles VALUES ('dev', 'a');"
                             "INSERT INTO roles VALUES ('dev', 'a');",
                   "duplicate role", "duplicate");
    assert_refused(t,
                   TABLES_OK "INSERT INTO permissions VALUES ('d', 'x', "
                             "'rwx');",
                   "bad action", "permissions row 1");
    assert_refused(t,
                   TABLES_OK "INSERT INTO permissions VALUES ('d', 'x', 'r');"
                             "INSERT INTO permissions VALUES ('d', 'x', 'r');",
                   "duplicate permission", "duplicate");
    /* An image of another group. */
    lc_fixture_image("naming_persistent_service", TABLES_OK, &buf, &len);
    assert_int_not_equal(restore(t, buf, len, errmsg), 0);
    raft_free(buf);
    /* Tables that are fine load, permissions without a holder included. */
    lc_fixture_image(LC_AUTH_GROUP,
                     TABLES_OK "INSERT INTO users VALUES ('a', '" HASH_A "');"
                               "INSERT INTO roles VALUES ('ROLE_ADMIN', 'a');"
                               "INSERT INTO permissions VALUES ('d', 'x', "
                               "'w');",
                     &buf, &len);
    assert_int_equal(restore(t, buf, len, errmsg), 0);
    assert_dump(t, "U a " HASH_A "\nR ROLE_ADMIN a\nP d x w\n");
    assert_true(lc_auth_store_is_admin(t, "a"));
    raft_free(buf);
    lc_auth_store_free(t);
}

static void never_cb(struct lc_auth_write *w, const struct lc_err *e)
{
    (void)w;
    (void)e;
    fail_msg("a write refused at once must not call back");
}

/* Writes started once the module is detached (shutting down) are refused
 * at once, before hashing or touching the group. */
static void test_writes_after_detach(void **state)
{
    uv_loop_t loop;
    struct lc_auth_config cfg;
    struct lc_auth *a;
    struct lc_auth_write w;
    (void)state;
    assert_int_equal(uv_loop_init(&loop), 0);
    lc_auth_config_default(&cfg);
    assert_int_equal(lc_auth_new_detached(&loop, &cfg, &a), 0);
    assert_false(lc_auth_store_detached(lc_auth_store(a)));
    /* Bad arguments first. */
    assert_int_equal(lc_auth_user_create(a, &w, "a b", "pw", never_cb),
                     LC_EINVAL);
    assert_int_equal(lc_auth_user_create(a, &w, "alice", "", never_cb),
                     LC_EINVAL);
    assert_int_equal(lc_auth_permission_add(a, &w, "r", "x", "rwx",
                                            never_cb),
                     LC_EINVAL);
    lc_auth_detach(a);
    assert_true(lc_auth_store_detached(lc_auth_store(a)));
    assert_int_equal(lc_auth_user_create(a, &w, "alice", "pw", never_cb),
                     LC_ESHUTDOWN);
    assert_int_equal(lc_auth_admin_init(a, &w, "pw", never_cb),
                     LC_ESHUTDOWN);
    assert_int_equal(lc_auth_role_add(a, &w, "dev", "alice", never_cb),
                     LC_ESHUTDOWN);
    assert_int_equal(lc_auth_permission_delete(a, &w, "dev", "x", "r",
                                               never_cb),
                     LC_ESHUTDOWN);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    lc_auth_free(a);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_users),
        cmocka_unit_test(test_bad_entries),
        cmocka_unit_test(test_admin),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_permissions),
        cmocka_unit_test(test_snapshot_round_trip),
        cmocka_unit_test(test_snapshot_refused),
        cmocka_unit_test(test_writes_after_detach),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
