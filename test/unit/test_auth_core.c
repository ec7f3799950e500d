/* Tests of auth/auth.c: lc_auth_check and lc_auth_login against a real
 * store (no raft group: entries applied straight to its processor), the
 * thread pool, the cache of good passwords, the brute-force limits, the
 * bound on waiting checks, and shutdown with checks still on the pool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <raft.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "auth/internal.h"
#include "auth/store.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "statemachine/statemachine.h"

/* base64 of the 32 bytes of KEY */
#define SECRET32 "bG9jdXMtYXV0aC11bml0LXRlc3Qta2V5LTMyYnl0ZXM="
static const uint8_t KEY[] = "locus-auth-unit-test-key-32bytes";
#define KEYLEN 32

/* Nacos's published hash of "nacos". */
#define NACOS_HASH "$2a$10$EuWPZHzz32dJN7jexM34MOeYirDdFAZm2kuWj7VEOJhhZkDrxfvUu"

static char alice_hash[128]; /* "alice-pw" */
static char alice_hash2[128]; /* "alice-pw2" */
static char alice_hash3[128]; /* "alice-pw" again, another salt */

struct env {
    uv_loop_t loop;
    struct lc_auth *a;
    uint64_t index;
};

/* Apply @op with the NULL-terminated key/value pairs to the store. */
static int apply(struct env *env, const char *op, ...)
{
    json_t *doc = json_object();
    va_list ap;
    va_start(ap, op);
    const char *k;
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        json_object_set_new(doc, k, json_string(v));
    }
    va_end(ap);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    struct lc_raft_sm *sm =
        lc_statemachine_sm(lc_auth_store_sm(lc_auth_store(env->a)));
    struct lc_raft_result result;
    memset(&result, 0, sizeof result);
    void *buf;
    size_t len;
    assert_int_equal(lc_sm_encode_write(LC_AUTH_GROUP, "", op, "", text,
                                        strlen(text), &buf, &len),
                     0);
    sm->apply(sm, ++env->index, buf, len, &result);
    raft_free(buf);
    free(text);
    if (result.status != 0)
        fail_msg("%s refused: %s", op, result.message);
    return result.status;
}

static void env_start(struct env *env, bool enabled, const char *secret,
                      void (*tune)(struct lc_auth_config *))
{
    memset(env, 0, sizeof *env);
    assert_int_equal(uv_loop_init(&env->loop), 0);
    struct lc_auth_config cfg;
    lc_auth_config_default(&cfg);
    cfg.enabled = enabled;
    snprintf(cfg.secret_b64, sizeof cfg.secret_b64, "%s", secret);
    if (tune != NULL)
        tune(&cfg);
    assert_int_equal(lc_auth_new_detached(&env->loop, &cfg, &env->a), 0);
    /* nacos: admin; alice: role reader with r on dev's everything and rw on
     * one service of the public namespace. */
    apply(env, LC_AUTH_OP_ADMIN_INIT, "password", NACOS_HASH, NULL);
    apply(env, LC_AUTH_OP_USER_CREATE, "username", "alice", "password",
          alice_hash, NULL);
    apply(env, LC_AUTH_OP_ROLE_ADD, "role", "reader", "username", "alice",
          NULL);
    apply(env, LC_AUTH_OP_PERMISSION_ADD, "role", "reader", "resource",
          "dev:*:*", "action", "r", NULL);
    apply(env, LC_AUTH_OP_PERMISSION_ADD, "role", "reader", "resource",
          ":DEFAULT_GROUP:naming/orders", "action", "rw", NULL);
}

static void env_stop(struct env *env)
{
    lc_auth_detach(env->a);
    lc_auth_free(env->a);
    assert_int_equal(uv_run(&env->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&env->loop), 0);
}

static int setup_hashes(void **state)
{
    (void)state;
    if (lc_password_hash("alice-pw", alice_hash, sizeof alice_hash) != 0 ||
        lc_password_hash("alice-pw2", alice_hash2, sizeof alice_hash2) != 0 ||
        lc_password_hash("alice-pw", alice_hash3, sizeof alice_hash3) != 0)
        return -1;
    return 0;
}

/* ------------------------------------------------------------- helpers */

struct result {
    int calls;
    int code;
    char msg[2048];
};

static void on_check(struct lc_auth_check *c, const struct lc_err *e)
{
    struct result *r = c->data;
    r->calls++;
    r->code = e == NULL ? 0 : e->code;
    lc_strlcpy(r->msg, e == NULL ? "" : e->msg, sizeof r->msg);
}

static void on_login(struct lc_auth_login *l, const struct lc_err *e)
{
    struct result *r = l->data;
    r->calls++;
    r->code = e == NULL ? 0 : e->code;
    lc_strlcpy(r->msg, e == NULL ? "" : e->msg, sizeof r->msg);
}

/* Run a check to its end: its answer's code, message in @msg. */
static int check(struct env *env, struct lc_auth_check *c,
                 const struct lc_auth_ident *id,
                 const struct lc_auth_need *need, bool *pooled, char *msg)
{
    struct result r;
    memset(&r, 0, sizeof r);
    memset(c, 0, sizeof *c);
    c->data = &r;
    struct lc_err e;
    memset(&e, 0x5a, sizeof e);
    int rv = lc_auth_check(env->a, c, id, need, on_check, &e);
    if (rv == 0) {
        assert_int_equal(r.calls, 0);
        *pooled = false;
        lc_strlcpy(msg, e.code == 0 ? "" : e.msg, 256);
        return e.code;
    }
    assert_int_equal(rv, LC_EAGAIN);
    /* Never called back from inside the call. */
    assert_int_equal(r.calls, 0);
    *pooled = true;
    uv_run(&env->loop, UV_RUN_DEFAULT);
    assert_int_equal(r.calls, 1);
    lc_strlcpy(msg, r.msg, 256);
    return r.code;
}

static const struct lc_auth_need NEED_R_DEV = {'r', "dev:G:naming/s", false};
static const struct lc_auth_need NEED_W_DEV = {'w', "dev:G:naming/s", false};
static const struct lc_auth_need NEED_R_PROD = {'r', "prod:G:naming/s", false};
static const struct lc_auth_need NEED_W_ORDERS = {
    'w', ":DEFAULT_GROUP:naming/orders", false};
static const struct lc_auth_need NEED_ADMIN = {'w', "console/users", true};
static const struct lc_auth_need NEED_PASSWORD = {'w', "console/user/password",
                                                  false};
static const struct lc_auth_need NEED_CONSOLE = {'r', "console/users", false};

#define GRANTED(env, c, id, need, want_pool)                                 \
    do {                                                                     \
        bool pooled_;                                                        \
        char msg_[256];                                                      \
        int rv_ = check((env), (c), (id), (need), &pooled_, msg_);            \
        if (rv_ != 0)                                                        \
            fail_msg("denied: %d %s", rv_, msg_);                            \
        assert_int_equal(pooled_, (want_pool));                              \
    } while (0)

#define DENIED(env, c, id, need, want_pool, want_msg)                        \
    do {                                                                     \
        bool pooled_;                                                        \
        char msg_[256];                                                      \
        int rv_ = check((env), (c), (id), (need), &pooled_, msg_);            \
        assert_int_equal(rv_, LC_EDENIED);                                   \
        assert_string_equal(msg_, (want_msg));                               \
        assert_int_equal(pooled_, (want_pool));                              \
    } while (0)

static void token_for(const char *user, int64_t exp, char *out, size_t size)
{
    assert_int_equal(lc_jwt_sign(KEY, KEYLEN, user, exp, out, size), 0);
}

/* --------------------------------------------------------------- tests */

static void test_auth_off(void **state)
{
    (void)state;
    struct env env;
    env_start(&env, false, "", NULL);
    struct lc_auth_check c;
    struct lc_auth_ident none = {0};
    GRANTED(&env, &c, &none, &NEED_ADMIN, false);
    struct lc_auth_ident bad = {.token = "garbage", .username = "x",
                                .password = "y"};
    GRANTED(&env, &c, &bad, &NEED_W_DEV, false);
    env_stop(&env);
}

static void test_token(void **state)
{
    (void)state;
    struct env env;
    env_start(&env, true, SECRET32, NULL);
    struct lc_auth_check c;
    char t[1024];
    token_for("alice", (int64_t)time(NULL) + 100, t, sizeof t);
    struct lc_auth_ident id = {.token = t, .remote_ip = "127.0.0.1"};
    GRANTED(&env, &c, &id, &NEED_R_DEV, false);
    assert_string_equal(c.username, "alice");
    assert_false(c.admin);
    GRANTED(&env, &c, &id, &NEED_W_ORDERS, false);
    GRANTED(&env, &c, &id, &NEED_PASSWORD, false);
    DENIED(&env, &c, &id, &NEED_W_DEV, false, "authorization failed!");
    assert_string_equal(c.username, "");
    DENIED(&env, &c, &id, &NEED_R_PROD, false, "authorization failed!");
    DENIED(&env, &c, &id, &NEED_ADMIN, false, "authorization failed!");
    DENIED(&env, &c, &id, &NEED_CONSOLE, false, "authorization failed!");
    /* A token wins over a wrong password beside it (Nacos: token first). */
    struct lc_auth_ident both = {.token = t, .username = "alice",
                                 .password = "wrong"};
    GRANTED(&env, &c, &both, &NEED_R_DEV, false);

    token_for("nacos", (int64_t)time(NULL) + 100, t, sizeof t);
    GRANTED(&env, &c, &id, &NEED_ADMIN, false);
    assert_true(c.admin);
    GRANTED(&env, &c, &id, &NEED_W_DEV, false);

    /* Well signed, for nobody the store knows. */
    token_for("mallory", (int64_t)time(NULL) + 100, t, sizeof t);
    DENIED(&env, &c, &id, &NEED_R_DEV, false, "user not found!");
    /* Expired, bad signature, wrong shapes. */
    token_for("alice", (int64_t)time(NULL) - 2, t, sizeof t);
    DENIED(&env, &c, &id, &NEED_R_DEV, false, "token expired!");
    token_for("alice", (int64_t)time(NULL) + 100, t, sizeof t);
    t[strlen(t) - 2] ^= 1;
    DENIED(&env, &c, &id, &NEED_R_DEV, false, "Invalid signature");
    id.token = "a.b";
    DENIED(&env, &c, &id, &NEED_R_DEV, false, "token invalid!");
    id.token = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJuYWNvcyIsImV4cCI6NDEwMjQ0NDgwMH0.x";
    DENIED(&env, &c, &id, &NEED_ADMIN, false, "unsupported signature algorithm");
    /* Nothing at all. */
    struct lc_auth_ident none = {.remote_ip = "127.0.0.1"};
    DENIED(&env, &c, &none, &NEED_R_DEV, false, "user not found!");
    none.token = "  ";
    DENIED(&env, &c, &none, &NEED_R_DEV, false, "user not found!");

    /* Role removed: the same token loses its grant at once. */
    token_for("alice", (int64_t)time(NULL) + 100, t, sizeof t);
    id.token = t;
    GRANTED(&env, &c, &id, &NEED_R_DEV, false);
    apply(&env, LC_AUTH_OP_ROLE_DELETE, "role", "reader", "username", "alice",
          NULL);
    DENIED(&env, &c, &id, &NEED_R_DEV, false, "authorization failed!");
    /* User deleted: its token names nobody. */
    apply(&env, LC_AUTH_OP_USER_DELETE, "username", "alice", NULL);
    DENIED(&env, &c, &id, &NEED_PASSWORD, false, "user not found!");
    env_stop(&env);
}

/* Verified tokens are remembered (auth.c's token cache): repeated checks
 * pass, a remembered token still expires, a changed one is verified anew,
 * and more tokens than the cache holds all keep working. */
static void test_token_cache(void **state)
{
    (void)state;
    struct env env;
    env_start(&env, true, SECRET32, NULL);
    struct lc_auth_check c;
    char t[1024];
    struct lc_auth_ident id = {.token = t, .remote_ip = "127.0.0.1"};

    token_for("alice", (int64_t)time(NULL) + 100, t, sizeof t);
    for (int i = 0; i < 5; i++) {
        GRANTED(&env, &c, &id, &NEED_R_DEV, false);
        assert_string_equal(c.username, "alice");
    }
    DENIED(&env, &c, &id, &NEED_W_DEV, false, "authorization failed!");
    t[strlen(t) - 1] ^= 1; /* one bit of the signature */
    DENIED(&env, &c, &id, &NEED_R_DEV, false, "Invalid signature");

    /* Remembered, then past its exp. */
    int64_t exp = (int64_t)time(NULL) + 1;
    token_for("alice", exp, t, sizeof t);
    GRANTED(&env, &c, &id, &NEED_R_DEV, false);
    while ((int64_t)time(NULL) <= exp) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    DENIED(&env, &c, &id, &NEED_R_DEV, false, "token expired!");
    DENIED(&env, &c, &id, &NEED_R_DEV, false, "token expired!");

    /* More distinct tokens than the cache's 1024. */
    char first[1024];
    token_for("alice", (int64_t)time(NULL) + 5000, first, sizeof first);
    for (int i = 0; i < 1100; i++) {
        token_for("alice", (int64_t)time(NULL) + 5000 + i, t, sizeof t);
        GRANTED(&env, &c, &id, &NEED_R_DEV, false);
    }
    id.token = first;
    GRANTED(&env, &c, &id, &NEED_R_DEV, false);
    env_stop(&env);
}

static void test_password_and_cache(void **state)
{
    (void)state;
    struct env env;
    env_start(&env, true, SECRET32, NULL);
    struct lc_auth_check c;
    struct lc_auth_ident id = {.username = "alice", .password = "alice-pw",
                               .remote_ip = "127.0.0.1"};
    /* First time on the pool, then from the cache. */
    GRANTED(&env, &c, &id, &NEED_R_DEV, true);
    assert_string_equal(c.username, "alice");
    GRANTED(&env, &c, &id, &NEED_R_DEV, false);
    assert_string_equal(c.username, "alice");
    DENIED(&env, &c, &id, &NEED_W_DEV, false, "authorization failed!");
    /* A wrong password is not cached good, and says what a missing user
     * says. */
    id.password = "alice-pw ";
    DENIED(&env, &c, &id, &NEED_R_DEV, true, "user not found!");
    DENIED(&env, &c, &id, &NEED_R_DEV, true, "user not found!");
    /* The password changes: the cached pair no longer passes. */
    apply(&env, LC_AUTH_OP_USER_PASSWORD, "username", "alice", "password",
          alice_hash2, NULL);
    id.password = "alice-pw";
    DENIED(&env, &c, &id, &NEED_R_DEV, true, "user not found!");
    id.password = "alice-pw2";
    GRANTED(&env, &c, &id, &NEED_R_DEV, true);
    GRANTED(&env, &c, &id, &NEED_R_DEV, false);
    /* Admin by password. */
    struct lc_auth_ident adm = {.username = "nacos", .password = "nacos"};
    GRANTED(&env, &c, &adm, &NEED_ADMIN, true);
    assert_true(c.admin);
    /* Blank or missing: at once. */
    struct lc_auth_ident blank = {.username = "alice", .password = ""};
    DENIED(&env, &c, &blank, &NEED_R_DEV, false, "user not found!");
    blank.password = NULL;
    DENIED(&env, &c, &blank, &NEED_R_DEV, false, "user not found!");
    blank.username = " ";
    blank.password = "x";
    DENIED(&env, &c, &blank, &NEED_R_DEV, false, "user not found!");
    /* User deleted: the cached pair no longer passes. */
    apply(&env, LC_AUTH_OP_USER_DELETE, "username", "alice", NULL);
    DENIED(&env, &c, &id, &NEED_R_DEV, true, "user not found!");
    env_stop(&env);
}

static double check_ms(struct env *env, const char *user, const char *pw)
{
    struct lc_auth_check c;
    struct lc_auth_ident id = {.username = user, .password = pw};
    uint64_t t0 = lc_mono_us();
    DENIED(env, &c, &id, &NEED_R_DEV, true, "user not found!");
    return (double)(lc_mono_us() - t0) / 1000.0;
}

static void test_unknown_user_like_wrong_password(void **state)
{
    (void)state;
    struct env env;
    env_start(&env, true, SECRET32, NULL);
    /* Same answer (above), and a BCrypt's time too: the best of three of
     * each is within a factor of three of the other. */
    double wrong = 1e9, unknown = 1e9;
    for (int i = 0; i < 3; i++) {
        double w = check_ms(&env, "alice", "nope");
        double u = check_ms(&env, "nobody", "nope");
        if (w < wrong)
            wrong = w;
        if (u < unknown)
            unknown = u;
    }
    if (unknown * 3 < wrong || wrong * 3 < unknown)
        fail_msg("wrong password %.1f ms, unknown user %.1f ms", wrong,
                 unknown);
    env_stop(&env);
}

static void tune_limits(struct lc_auth_config *cfg)
{
    cfg->max_fails_per_user = 3;
    cfg->max_fails_per_ip = 5;
    cfg->fail_window_s = 60;
}

/* Alice keeps her password "alice-pw" under a hash with a new salt: the
 * cached pair no longer matches, the next check runs BCrypt. */
static void cache_forget(struct env *env)
{
    static bool third;
    third = !third;
    apply(env, LC_AUTH_OP_USER_PASSWORD, "username", "alice", "password",
          third ? alice_hash3 : alice_hash, NULL);
}

static void test_brute_force_limits(void **state)
{
    (void)state;
    struct env env;
    env_start(&env, true, SECRET32, tune_limits);
    struct lc_auth_check c;
    bool pooled;
    char msg[256];
    /* Alice's good password, checked once from her address: cached. */
    struct lc_auth_ident good = {.username = "alice", .password = "alice-pw",
                                 .remote_ip = "127.0.0.9"};
    GRANTED(&env, &c, &good, &NEED_R_DEV, true);
    struct lc_auth_ident id = {.username = "alice", .password = "guess",
                               .remote_ip = "127.0.0.9"};
    for (int i = 0; i < 3; i++)
        DENIED(&env, &c, &id, &NEED_R_DEV, true, "user not found!");
    /* That pair is over its count: refused at once, a guess or the right
     * password alike (a refusal tells nothing about the password)... */
    assert_int_equal(check(&env, &c, &id, &NEED_R_DEV, &pooled, msg),
                     LC_EDENIED);
    assert_false(pooled);
    assert_non_null(
        strstr(msg, "too many failed logins for this user from this address"));
    assert_non_null(strstr(msg, "retry in 60 s"));
    struct lc_auth_ident fresh = {.username = "alice",
                                  .password = "alice-pw2",
                                  .remote_ip = "127.0.0.9"};
    assert_int_equal(check(&env, &c, &fresh, &NEED_R_DEV, &pooled, msg),
                     LC_EDENIED);
    assert_false(pooled);
    /* ...except a pair the cache already proved (no BCrypt, nothing to
     * learn): the npm client keeps working. */
    GRANTED(&env, &c, &good, &NEED_R_DEV, false);
    /* Nobody can lock alice out from elsewhere: from a clean address her
     * password is checked and passes. */
    struct lc_auth_ident other_addr = {.username = "alice",
                                       .password = "alice-pw",
                                       .remote_ip = "127.0.0.10"};
    cache_forget(&env); /* so that it reaches BCrypt */
    GRANTED(&env, &c, &other_addr, &NEED_R_DEV, true);
    /* A guess from another address spends that address's clean record:
     * alice is over her count from all addresses together, so its next
     * attempt is refused. */
    struct lc_auth_ident g2 = {.username = "alice", .password = "guess2",
                               .remote_ip = "127.0.0.12"};
    DENIED(&env, &c, &g2, &NEED_R_DEV, true, "user not found!");
    assert_int_equal(check(&env, &c, &g2, &NEED_R_DEV, &pooled, msg),
                     LC_EDENIED);
    assert_false(pooled);
    assert_non_null(strstr(msg, "too many failed logins for this user,"));
    /* Its right password too. */
    g2.password = "alice-pw";
    cache_forget(&env);
    assert_int_equal(check(&env, &c, &g2, &NEED_R_DEV, &pooled, msg),
                     LC_EDENIED);
    assert_false(pooled);
    /* A token still works. */
    char t[1024];
    token_for("alice", (int64_t)time(NULL) + 100, t, sizeof t);
    struct lc_auth_ident tok = {.token = t, .remote_ip = "127.0.0.9"};
    GRANTED(&env, &c, &tok, &NEED_R_DEV, false);
    /* Another user from the first address: its count there is 3 (alice's
     * good check was taken back); two more reach 5. */
    struct lc_auth_ident other = {.username = "nacos", .password = "guess",
                                  .remote_ip = "127.0.0.9"};
    DENIED(&env, &c, &other, &NEED_R_DEV, true, "user not found!");
    DENIED(&env, &c, &other, &NEED_R_DEV, true, "user not found!");
    other.password = "nacos";
    assert_int_equal(check(&env, &c, &other, &NEED_R_DEV, &pooled, msg),
                     LC_EDENIED);
    assert_false(pooled);
    assert_non_null(strstr(msg, "too many failed logins from this address"));
    /* The same user from elsewhere is fine. */
    other.remote_ip = "127.0.0.11";
    GRANTED(&env, &c, &other, &NEED_ADMIN, true);
    /* Cached there now; from the blocked address the cached pair passes. */
    other.remote_ip = "127.0.0.9";
    GRANTED(&env, &c, &other, &NEED_ADMIN, false);
    env_stop(&env);
}

static void test_limits_concurrent(void **state)
{
    (void)state;
    struct env env;
    env_start(&env, true, SECRET32, tune_limits);
    /* Five guesses at once for one user: only three reach BCrypt, the
     * others are refused before any has ended. */
    struct lc_auth_check cs[5];
    struct result rs[5];
    memset(rs, 0, sizeof rs);
    for (int i = 0; i < 5; i++) {
        char pw[32];
        snprintf(pw, sizeof pw, "guess%d", i);
        struct lc_auth_ident id = {.username = "alice", .password = pw,
                                   .remote_ip = "127.0.0.20"};
        struct lc_err e;
        memset(&cs[i], 0, sizeof cs[i]);
        cs[i].data = &rs[i];
        int rv = lc_auth_check(env.a, &cs[i], &id, &NEED_R_DEV, on_check, &e);
        if (i < 3) {
            assert_int_equal(rv, LC_EAGAIN);
        } else {
            assert_int_equal(rv, 0);
            assert_int_equal(e.code, LC_EDENIED);
            assert_non_null(strstr(e.msg, "too many failed logins"));
        }
    }
    uv_run(&env.loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 5; i++)
        assert_int_equal(rs[i].calls, i < 3 ? 1 : 0);

    /* Twenty checks at once with the right password wait on one BCrypt
     * and count as one attempt: none is refused. */
    struct lc_auth_check cg[20];
    struct result rg[20];
    memset(rg, 0, sizeof rg);
    for (int i = 0; i < 20; i++) {
        struct lc_auth_ident id = {.username = "nacos", .password = "nacos",
                                   .remote_ip = "127.0.0.22"};
        struct lc_err e;
        memset(&cg[i], 0, sizeof cg[i]);
        cg[i].data = &rg[i];
        assert_int_equal(
            lc_auth_check(env.a, &cg[i], &id, i % 2 ? &NEED_ADMIN : &NEED_R_DEV,
                          on_check, &e),
            LC_EAGAIN);
    }
    uv_run(&env.loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(rg[i].calls, 1);
        assert_int_equal(rg[i].code, 0);
        assert_string_equal(cg[i].username, "nacos");
        assert_true(cg[i].admin);
    }
    /* Mixed with a login for the same pair. */
    struct lc_auth_login lg;
    struct result rl;
    memset(&lg, 0, sizeof lg);
    memset(&rl, 0, sizeof rl);
    lg.data = &rl;
    /* (alice is over her count from above) */
    apply(&env, LC_AUTH_OP_USER_CREATE, "username", "carol", "password",
          alice_hash, NULL);
    struct lc_auth_ident bid = {.username = "carol", .password = "alice-pw"};
    struct lc_err be;
    struct result rb;
    memset(&rb, 0, sizeof rb);
    memset(&cg[0], 0, sizeof cg[0]);
    cg[0].data = &rb;
    assert_int_equal(lc_auth_check(env.a, &cg[0], &bid, &NEED_W_DEV, on_check,
                                   &be),
                     LC_EAGAIN);
    assert_int_equal(lc_auth_login(env.a, &lg, &bid, on_login, &be),
                     LC_EAGAIN);
    uv_run(&env.loop, UV_RUN_DEFAULT);
    assert_int_equal(rb.calls, 1);
    assert_string_equal(rb.msg, "authorization failed!");
    assert_int_equal(rl.calls, 1);
    assert_int_equal(rl.code, 0);
    assert_string_equal(lg.username, "carol");
    assert_memory_equal(lg.token, "eyJhbGciOiJIUzI1NiJ9.", 21);

    /* Good passwords are not failures: eight users behind one address
     * (more than its five) all get in. */
    struct lc_auth_check c;
    for (int i = 0; i < 8; i++) {
        char name[32];
        snprintf(name, sizeof name, "b%d", i);
        apply(&env, LC_AUTH_OP_USER_CREATE, "username", name, "password",
              alice_hash, NULL);
        struct lc_auth_ident id = {.username = name, .password = "alice-pw",
                                   .remote_ip = "127.0.0.21"};
        GRANTED(&env, &c, &id, &NEED_PASSWORD, true);
    }
    env_stop(&env);
}

static void test_busy(void **state)
{
    (void)state;
    struct env env;
    env_start(&env, true, SECRET32, NULL);
    enum { N = 65 };
    struct lc_auth_check *cs = calloc(N, sizeof *cs);
    struct result *rs = calloc(N, sizeof *rs);
    char names[N][16];
    int eagain = 0;
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "u%d", i);
        struct lc_auth_ident id = {.username = names[i], .password = "p"};
        cs[i].data = &rs[i];
        struct lc_err e;
        int rv = lc_auth_check(env.a, &cs[i], &id, &NEED_R_DEV, on_check, &e);
        if (i < 64) {
            assert_int_equal(rv, LC_EAGAIN);
            eagain++;
        } else {
            assert_int_equal(rv, 0);
            assert_int_equal(e.code, LC_EBUSY);
        }
    }
    uv_run(&env.loop, UV_RUN_DEFAULT);
    for (int i = 0; i < N; i++) {
        assert_int_equal(rs[i].calls, i < 64 ? 1 : 0);
        if (i < 64)
            assert_string_equal(rs[i].msg, "user not found!");
    }
    /* Room again. */
    struct lc_auth_check c;
    struct lc_auth_ident id = {.username = "alice", .password = "alice-pw"};
    GRANTED(&env, &c, &id, &NEED_R_DEV, true);
    free(cs);
    free(rs);
    env_stop(&env);
}

static int hashed_calls, hashed_ok, hashed_shutdown;
static void on_hashed_count(struct lc_auth_hash_job *j, int status)
{
    (void)j;
    hashed_calls++;
    if (status == 0)
        hashed_ok++;
    else if (status == LC_ESHUTDOWN)
        hashed_shutdown++;
}

/* Hashes (password changes, new users) and checks share one budget: a
 * flood of changes cannot queue BCrypt without bound nor starve logins
 * beyond it. */
static void test_busy_shared_with_hashes(void **state)
{
    (void)state;
    struct env env;
    env_start(&env, true, SECRET32, NULL);
    enum { N = 64 };
    struct lc_auth_hash_job *js = calloc(N + 1, sizeof *js);
    hashed_calls = hashed_ok = hashed_shutdown = 0;
    for (int i = 0; i < N; i++)
        assert_int_equal(
            lc_auth_hash_async(env.a, &js[i], "new-pw", on_hashed_count), 0);
    /* Full: one more hash, and a check that needs BCrypt, are refused. */
    assert_int_equal(
        lc_auth_hash_async(env.a, &js[N], "new-pw", on_hashed_count),
        LC_EBUSY);
    struct lc_auth_check c;
    struct lc_auth_ident id = {.username = "alice", .password = "alice-pw"};
    bool pooled;
    char msg[256];
    memset(&c, 0, sizeof c);
    struct lc_err e;
    assert_int_equal(
        lc_auth_check(env.a, &c, &id, &NEED_R_DEV, on_check, &e), 0);
    assert_int_equal(e.code, LC_EBUSY);
    uv_run(&env.loop, UV_RUN_DEFAULT);
    assert_int_equal(hashed_calls, N);
    assert_int_equal(hashed_ok, N);
    /* Room again. */
    assert_int_equal(check(&env, &c, &id, &NEED_R_DEV, &pooled, msg), 0);
    assert_true(pooled);

    /* Freed with hashes on the pool: each answers LC_ESHUTDOWN later, and
     * the module outlives them (ASan). */
    hashed_calls = 0;
    for (int i = 0; i < 4; i++)
        assert_int_equal(
            lc_auth_hash_async(env.a, &js[i], "new-pw", on_hashed_count), 0);
    lc_auth_detach(env.a);
    assert_int_equal(
        lc_auth_hash_async(env.a, &js[5], "new-pw", on_hashed_count),
        LC_ESHUTDOWN);
    lc_auth_free(env.a);
    assert_int_equal(uv_run(&env.loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(hashed_calls, 4);
    assert_int_equal(hashed_shutdown, 4);
    assert_int_equal(uv_loop_close(&env.loop), 0);
    free(js);
}

static void test_login(void **state)
{
    (void)state;
    struct env env;
    env_start(&env, true, SECRET32, NULL);
    struct lc_auth_login l;
    struct result r;
    struct lc_err e;
    memset(&l, 0, sizeof l);
    memset(&r, 0, sizeof r);
    l.data = &r;
    struct lc_auth_ident id = {.username = "nacos", .password = "nacos"};
    assert_int_equal(lc_auth_login(env.a, &l, &id, on_login, &e), LC_EAGAIN);
    assert_int_equal(r.calls, 0);
    uv_run(&env.loop, UV_RUN_DEFAULT);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, 0);
    assert_string_equal(l.username, "nacos");
    assert_true(l.admin);
    assert_int_equal(l.ttl_s, 18000);
    /* The token is Nacos's, for nacos, expiring in 18000 s. */
    char sub[64];
    int64_t exp;
    assert_int_equal(lc_jwt_verify(KEY, KEYLEN, l.token, (int64_t)time(NULL),
                                   sub, sizeof sub, &exp, &e),
                     0);
    assert_string_equal(sub, "nacos");
    assert_true(exp >= (int64_t)time(NULL) + 17998 &&
                exp <= (int64_t)time(NULL) + 18000);
    assert_memory_equal(l.token, "eyJhbGciOiJIUzI1NiJ9.", 21);

    /* Again: from the cache, decided now. */
    char first[1024];
    snprintf(first, sizeof first, "%s", l.token);
    memset(&r, 0, sizeof r);
    assert_int_equal(lc_auth_login(env.a, &l, &id, on_login, &e), 0);
    assert_int_equal(e.code, 0);
    assert_int_equal(r.calls, 0);
    assert_true(l.admin);

    /* A good token is returned as it is, with its own ttl. */
    char t[1024];
    token_for("alice", (int64_t)time(NULL) + 77, t, sizeof t);
    struct lc_auth_ident tid = {.token = t, .username = "x", .password = "y"};
    assert_int_equal(lc_auth_login(env.a, &l, &tid, on_login, &e), 0);
    assert_int_equal(e.code, 0);
    assert_string_equal(l.token, t);
    assert_string_equal(l.username, "alice");
    assert_false(l.admin);
    assert_true(l.ttl_s >= 75 && l.ttl_s <= 77);
    /* A bad token is refused with its message; the password is not
     * tried. */
    token_for("alice", (int64_t)time(NULL) - 1, t, sizeof t);
    struct lc_auth_ident bad = {.token = t, .username = "nacos",
                                .password = "nacos"};
    assert_int_equal(lc_auth_login(env.a, &l, &bad, on_login, &e), 0);
    assert_int_equal(e.code, LC_EDENIED);
    assert_string_equal(e.msg, "token expired!");
    /* Wrong password and unknown user: the same answer. */
    struct lc_auth_ident wrong = {.username = "alice", .password = "x"};
    memset(&r, 0, sizeof r);
    assert_int_equal(lc_auth_login(env.a, &l, &wrong, on_login, &e),
                     LC_EAGAIN);
    uv_run(&env.loop, UV_RUN_DEFAULT);
    assert_int_equal(r.code, LC_EDENIED);
    assert_string_equal(r.msg, "user not found!");
    wrong.username = "ghost";
    memset(&r, 0, sizeof r);
    assert_int_equal(lc_auth_login(env.a, &l, &wrong, on_login, &e),
                     LC_EAGAIN);
    uv_run(&env.loop, UV_RUN_DEFAULT);
    assert_int_equal(r.code, LC_EDENIED);
    assert_string_equal(r.msg, "user not found!");
    struct lc_auth_ident empty = {.username = "", .password = ""};
    assert_int_equal(lc_auth_login(env.a, &l, &empty, on_login, &e), 0);
    assert_string_equal(e.msg, "user not found!");
    env_stop(&env);
}

static void test_login_auth_disabled(void **state)
{
    (void)state;
    struct env env;
    env_start(&env, false, "", NULL);
    struct lc_auth_login l;
    struct result r;
    struct lc_err e;
    memset(&l, 0, sizeof l);
    memset(&r, 0, sizeof r);
    l.data = &r;
    struct lc_auth_ident id = {.username = "alice", .password = "alice-pw"};
    assert_int_equal(lc_auth_login(env.a, &l, &id, on_login, &e), LC_EAGAIN);
    uv_run(&env.loop, UV_RUN_DEFAULT);
    assert_int_equal(r.code, 0);
    assert_string_equal(l.token, "AUTH_DISABLED");
    assert_int_equal(l.ttl_s, 18000);
    assert_string_equal(l.username, "alice");
    /* The password is still checked (as Nacos). */
    id.password = "nope";
    memset(&r, 0, sizeof r);
    assert_int_equal(lc_auth_login(env.a, &l, &id, on_login, &e), LC_EAGAIN);
    uv_run(&env.loop, UV_RUN_DEFAULT);
    assert_string_equal(r.msg, "user not found!");
    env_stop(&env);
}

/* ------------------------------------------------------------ shutdown */

static struct env *free_env;
static int shutdown_calls;
static void on_check_shutdown(struct lc_auth_check *c, const struct lc_err *e)
{
    (void)c;
    assert_non_null(e);
    assert_int_equal(e->code, LC_ESHUTDOWN);
    shutdown_calls++;
}

static void test_shutdown_with_jobs(void **state)
{
    (void)state;
    struct env env;
    env_start(&env, true, SECRET32, NULL);
    enum { N = 20 };
    struct lc_auth_check cs[N];
    for (int i = 0; i < N; i++) {
        /* Distinct users, so each is a job of its own. */
        char name[32];
        snprintf(name, sizeof name, "s%d", i);
        struct lc_auth_ident id = {.username = name, .password = "x"};
        struct lc_err e;
        memset(&cs[i], 0, sizeof cs[i]);
        assert_int_equal(
            lc_auth_check(env.a, &cs[i], &id, &NEED_R_DEV, on_check_shutdown,
                          &e),
            LC_EAGAIN);
    }
    /* And one waiting on another's job. */
    struct lc_auth_check same;
    struct lc_auth_login samel;
    memset(&same, 0, sizeof same);
    memset(&samel, 0, sizeof samel);
    struct lc_auth_ident sid = {.username = "s0", .password = "x"};
    struct lc_err se;
    assert_int_equal(lc_auth_check(env.a, &same, &sid, &NEED_R_DEV,
                                   on_check_shutdown, &se),
                     LC_EAGAIN);
    /* Detach and free with every job still on the pool (the loop has not
     * run): each answers LC_ESHUTDOWN later, from the loop, and nothing
     * freed is touched (ASan). */
    shutdown_calls = 0;
    lc_auth_detach(env.a);
    struct lc_err e;
    struct lc_auth_check late;
    struct lc_auth_ident id = {.username = "alice", .password = "alice-pw"};
    assert_int_equal(lc_auth_check(env.a, &late, &id, &NEED_R_DEV,
                                   on_check_shutdown, &e),
                     0);
    assert_int_equal(e.code, LC_ESHUTDOWN);
    lc_auth_free(env.a);
    assert_int_equal(shutdown_calls, 0);
    assert_int_equal(uv_run(&env.loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(shutdown_calls, N + 1);
    assert_int_equal(uv_loop_close(&env.loop), 0);
}

/* The module freed from inside a check's callback. */
static void on_check_then_free(struct lc_auth_check *c, const struct lc_err *e)
{
    (void)e;
    shutdown_calls++;
    if (c->data != NULL) {
        struct lc_auth *a = c->data;
        lc_auth_detach(a);
        lc_auth_free(a);
    }
}

static void test_free_from_callback(void **state)
{
    (void)state;
    struct env env;
    env_start(&env, true, SECRET32, NULL);
    free_env = &env;
    struct lc_auth_check c1, c2;
    memset(&c1, 0, sizeof c1);
    memset(&c2, 0, sizeof c2);
    c1.data = env.a;
    struct lc_auth_ident id = {.username = "alice", .password = "alice-pw"};
    struct lc_err e;
    shutdown_calls = 0;
    assert_int_equal(lc_auth_check(env.a, &c1, &id, &NEED_R_DEV,
                                   on_check_then_free, &e),
                     LC_EAGAIN);
    assert_int_equal(lc_auth_check(env.a, &c2, &id, &NEED_R_DEV,
                                   on_check_then_free, &e),
                     LC_EAGAIN);
    assert_int_equal(uv_run(&env.loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(shutdown_calls, 2);
    assert_int_equal(uv_loop_close(&env.loop), 0);
}

int main(void)
{
    lc_log_set_level(LC_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_off),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_token_cache),
        cmocka_unit_test(test_password_and_cache),
        cmocka_unit_test(test_unknown_user_like_wrong_password),
        cmocka_unit_test(test_brute_force_limits),
        cmocka_unit_test(test_limits_concurrent),
        cmocka_unit_test(test_busy),
        cmocka_unit_test(test_busy_shared_with_hashes),
        cmocka_unit_test(test_login),
        cmocka_unit_test(test_login_auth_disabled),
        cmocka_unit_test(test_shutdown_with_jobs),
        cmocka_unit_test(test_free_from_callback),
    };
    return cmocka_run_group_tests(tests, setup_hashes, NULL);
}
