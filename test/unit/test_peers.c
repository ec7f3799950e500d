/* rpc/cluster: the membership proof (HMAC-SHA256 over the connection id,
 * checked in constant time), the Member JSON (self rendered with the
 * extend callback, peers from the list before any report), Member#check,
 * and requests refused without a network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "common/err.h"
#include "members/members.h"
#include "rpc/cluster/internal.h"
#include "rpc/cluster/peers.h"
#include "test/support/ports.h"

/* RFC 4231-style check against a well-known HMAC-SHA256 vector. */
static void test_proof(void **state)
{
    const char *key = "key";
    char out[LC_PEERS_PROOF_HEX];
    char upper[LC_PEERS_PROOF_HEX];
    (void)state;

    assert_true(sodium_init() >= 0);
    lc__peers_proof((const uint8_t *)key, 3,
                    "The quick brown fox jumps over the lazy dog", out);
    assert_string_equal(
        out,
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");

    lc__peers_proof((const uint8_t *)"secret", 6, "1700000000000_127.0.0.1_5",
                    out);
    assert_true(lc__peers_proof_ok((const uint8_t *)"secret", 6,
                                   "1700000000000_127.0.0.1_5", out));
    /* Another connection, another secret, a prefix, garbage, none. */
    assert_false(lc__peers_proof_ok((const uint8_t *)"secret", 6,
                                    "1700000000000_127.0.0.1_6", out));
    assert_false(lc__peers_proof_ok((const uint8_t *)"secreT", 6,
                                    "1700000000000_127.0.0.1_5", out));
    out[63] = '\0';
    assert_false(lc__peers_proof_ok((const uint8_t *)"secret", 6,
                                    "1700000000000_127.0.0.1_5", out));
    assert_false(lc__peers_proof_ok((const uint8_t *)"secret", 6,
                                    "1700000000000_127.0.0.1_5", ""));
    assert_false(lc__peers_proof_ok((const uint8_t *)"secret", 6,
                                    "1700000000000_127.0.0.1_5", NULL));
    /* Hex is lowercase: the same digits in uppercase are not the proof. */
    lc__peers_proof((const uint8_t *)"secret", 6, "x", out);
    for (size_t i = 0; i < sizeof upper; i++) {
        upper[i] =
            (out[i] >= 'a' && out[i] <= 'f') ? (char)(out[i] - 32) : out[i];
    }
    assert_true(strcmp(upper, out) != 0);
    assert_false(lc__peers_proof_ok((const uint8_t *)"secret", 6, "x", upper));
}

/* ---------------------------------------------------------- the plane */

struct fx {
    int port; /* the second member's, reserved: nothing listens */
    char addr2[64];
    uv_loop_t loop;
    struct lc_members *ms;
    struct lc_peers *ps;
};

static void on_extend(void *data, json_t *ext)
{
    (void)data;
    json_object_set_new(ext, "raftMetaData",
                        json_pack("{s:{s:{s:s}}}", "metaDataMap", "g", "leader",
                                  "127.0.0.1:7848"));
}

static void fx_up(struct fx *f)
{
    struct lc_member_conf confs[] = {
        {"127.0.0.1", 8848}, {"127.0.0.1", 0}, {"127.0.0.3", 8858}};
    struct lc_peers_config pc;

    memset(f, 0, sizeof *f);
    f->port = tc_port_reserve();
    assert_true(f->port > 0);
    confs[1].port = f->port;
    snprintf(f->addr2, sizeof f->addr2, "127.0.0.1:%d", f->port);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    assert_int_equal(lc_members_new(confs, 3, &confs[0], &f->ms, NULL, 0), 0);
    lc_peers_config_default(&pc);
    assert_int_equal(pc.request_timeout_ms, 3000);
    assert_int_equal(pc.report_interval_ms, 2000);
    assert_int_equal(pc.fail_access_cnt, 3);
    /* No member list: refused. */
    assert_int_equal(lc_peers_new(&f->loop, &pc, &f->ps), LC_EINVAL);
    pc.members = f->ms;
    pc.secret = (const uint8_t *)"0123456789abcdef";
    pc.secret_len = 16;
    assert_int_equal(lc_peers_new(&f->loop, &pc, &f->ps), 0);
    assert_non_null(lc_peers_rpc(f->ps));
}

static void on_closed(struct lc_peers *ps, void *data)
{
    (void)ps;
    *(bool *)data = true;
}

static void fx_down(struct fx *f)
{
    bool closed = false;
    lc_peers_close(f->ps, on_closed, &closed);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_true(closed);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    lc_members_free(f->ms);
    tc_port_release(f->port);
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "(none)";
}

static void test_member_json(void **state)
{
    struct fx f;
    json_t *j, *ext, *ab;
    (void)state;

    fx_up(&f);
    lc_peers_set_extend(f.ps, on_extend, NULL);

    /* Self: Nacos's Member, extendInfo rendered now with the callback's. */
    j = lc_peers_member_json(f.ps, "127.0.0.1:8848");
    assert_non_null(j);
    assert_string_equal(str(j, "ip"), "127.0.0.1");
    assert_int_equal(json_integer_value(json_object_get(j, "port")), 8848);
    assert_string_equal(str(j, "state"), "UP");
    assert_string_equal(str(j, "address"), "127.0.0.1:8848");
    assert_int_equal(json_integer_value(json_object_get(j, "failAccessCnt")),
                     0);
    assert_true(json_is_true(json_object_get(j, "grpcReportEnabled")));
    ext = json_object_get(j, "extendInfo");
    assert_string_equal(str(ext, "raftPort"), "7848");
    assert_string_equal(str(ext, "version"), "2.4.3");
    assert_true(json_is_true(json_object_get(ext, "readyToUpgrade")));
    assert_true(json_integer_value(json_object_get(ext, "lastRefreshTime")) >
                1600000000000LL);
    assert_string_equal(
        str(json_object_get(
                json_object_get(json_object_get(ext, "raftMetaData"),
                                "metaDataMap"),
                "g"),
            "leader"),
        "127.0.0.1:7848");
    ab = json_object_get(j, "abilities");
    assert_true(json_is_true(json_object_get(
        json_object_get(ab, "remoteAbility"), "grpcReportEnabled")));
    assert_true(lc__peers_node_ok(j)); /* what a peer checks */
    json_decref(j);

    /* A peer never heard from: the list's view, no raftMetaData of ours. */
    assert_int_equal(lc_members_set_report(f.ms, "127.0.0.3:8858",
                                           LC_MEMBER_SUSPICIOUS, 2, 0),
                     0);
    j = lc_peers_member_json(f.ps, "127.0.0.3:8858");
    assert_non_null(j);
    assert_string_equal(str(j, "state"), "SUSPICIOUS");
    assert_int_equal(json_integer_value(json_object_get(j, "failAccessCnt")),
                     2);
    ext = json_object_get(j, "extendInfo");
    assert_string_equal(str(ext, "raftPort"), "7858");
    assert_null(json_object_get(ext, "raftMetaData"));
    json_decref(j);

    assert_null(lc_peers_member_json(f.ps, "127.0.0.9:8848"));
    fx_down(&f);
}

/* Member#check: ip and address not blank, a port. */
static void test_node_check(void **state)
{
    const char *bad[] = {
        "null",
        "[]",
        "{}",
        "{\"ip\":\"\",\"address\":\"a:1\",\"port\":1}",
        "{\"ip\":\"  \",\"address\":\"a:1\",\"port\":1}",
        "{\"ip\":\"a\",\"address\":\"\",\"port\":1}",
        "{\"ip\":\"a\",\"address\":\"a:1\"}",
        "{\"ip\":\"a\",\"address\":\"a:1\",\"port\":\"1\"}",
        "{\"ip\":\"a\",\"address\":\"a:1\",\"port\":-1}",
        "{\"ip\":\"a\",\"address\":\"a:1\",\"port\":70000}",
        "{\"ip\":1,\"address\":\"a:1\",\"port\":1}",
        "{\"ip\":\"a\",\"address\":\"a:1\",\"port\":1,\"extendInfo\":[]}",
        "{\"ip\":\"a\",\"address\":\"a:1\",\"port\":1,\"abilities\":\"x\"}",
    };
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = json_loads(bad[i], JSON_DECODE_ANY, NULL);
        if (lc__peers_node_ok(j)) {
            fail_msg("accepted %s", bad[i]);
        }
        json_decref(j);
    }
    {
        json_t *j = json_loads("{\"ip\":\"a\",\"address\":\"a:1\",\"port\":1,"
                               "\"extendInfo\":null}",
                               0, NULL);
        assert_true(lc__peers_node_ok(j));
        json_decref(j);
    }
}

struct req {
    struct lc_nreq r;
    int fired;
    int status;
};

static void on_req(struct lc_nreq *r, int status, const char *type,
                   json_t *body)
{
    struct req *q = r->data;
    (void)type;
    (void)body;
    q->fired++;
    q->status = status;
}

/* Bad arguments and unknown members are refused at once (no callback);
 * a peer nobody listens for fails from the loop, never inside the call. */
static void test_request_refused(void **state)
{
    struct fx f;
    struct req q = {.r.data = &q};
    json_t *body = json_object();
    (void)state;

    fx_up(&f);
    assert_int_equal(
        lc_peers_request(f.ps, "127.0.0.9:8848", &q.r, "X", body, 0, on_req),
        LC_ENOTFOUND);
    assert_int_equal(
        lc_peers_request(f.ps, "127.0.0.1:8848", &q.r, "X", body, 0, on_req),
        LC_ENOTFOUND); /* self */
    assert_int_equal(
        lc_peers_request(f.ps, f.addr2, &q.r, "X", NULL, 0, on_req), LC_EINVAL);
    assert_int_equal(
        lc_peers_request_text(f.ps, f.addr2, &q.r, "X", NULL, 0, 0, on_req),
        LC_EINVAL);
    /* Its cluster port refuses (nothing listens): LC_ECONN, from the loop. */
    assert_int_equal(
        lc_peers_request(f.ps, f.addr2, &q.r, "X", body, 2000, on_req), 0);
    assert_int_equal(q.fired, 0);
    while (q.fired == 0) {
        uv_run(&f.loop, UV_RUN_ONCE);
    }
    assert_int_equal(q.fired, 1);
    assert_true(q.status == LC_ECONN || q.status == LC_ETIMEDOUT);
    /* In backoff now: the next fails at once too, still from the loop. */
    q.fired = 0;
    assert_int_equal(
        lc_peers_request_text(f.ps, f.addr2, &q.r, "X", "{}", 2, 2000, on_req),
        0);
    assert_int_equal(q.fired, 0);
    while (q.fired == 0) {
        uv_run(&f.loop, UV_RUN_ONCE);
    }
    assert_int_equal(q.fired, 1);
    json_decref(body);
    fx_down(&f);
}

/* cluster.conf edits through the plane: observers hear of a member that
 * leaves and one that arrives; a bad list changes nothing. */
struct seen {
    struct lc_peers_observer obs;
    char log[512];
};

static void on_changed(struct lc_peers_observer *obs, const struct lc_member *m,
                       enum lc_member_state old, enum lc_member_state state)
{
    struct seen *s = obs->data;
    size_t n = strlen(s->log);
    snprintf(s->log + n, sizeof s->log - n, "%s %s->%s;", m->addr,
             lc_member_state_name(old), lc_member_state_name(state));
}

static void test_update_members(void **state)
{
    const struct lc_member_conf next[] = {
        {"127.0.0.1", 8848}, {"127.0.0.3", 8858}, {"127.0.0.4", 8848}};
    const struct lc_member_conf bad[] = {{"127.0.0.1", 8848}, {"x y", 8848}};
    struct fx f;
    struct seen s = {.obs = {.changed = on_changed}};
    struct req q = {.r.data = &q};
    json_t *body = json_object();
    char err[256] = "";
    bool changed = true;
    (void)state;

    s.obs.data = &s;
    fx_up(&f);
    lc_peers_observe(f.ps, &s.obs);
    assert_int_equal(
        lc_peers_update_members(f.ps, bad, 2, &changed, err, sizeof err),
        LC_EINVAL);
    assert_false(changed);
    assert_string_equal(s.log, "");
    assert_int_equal(lc_members_count(f.ms), 3);

    assert_int_equal(
        lc_peers_update_members(f.ps, next, 3, &changed, err, sizeof err), 0);
    assert_true(changed);
    {
        char want[256];
        snprintf(want, sizeof want, "%s UP->DOWN;127.0.0.4:8848 DOWN->UP;",
                 f.addr2);
        assert_string_equal(s.log, want);
    }
    assert_null(lc_members_find(f.ms, f.addr2));
    assert_int_equal(
        lc_peers_request(f.ps, f.addr2, &q.r, "X", body, 0, on_req),
        LC_ENOTFOUND);
    {
        json_t *j = lc_peers_member_json(f.ps, "127.0.0.4:8848");
        assert_non_null(j);
        json_decref(j);
    }

    /* The same list again: no change. */
    s.log[0] = '\0';
    assert_int_equal(
        lc_peers_update_members(f.ps, next, 3, &changed, err, sizeof err), 0);
    assert_false(changed);
    assert_string_equal(s.log, "");
    lc_peers_unobserve(f.ps, &s.obs);
    json_decref(body);
    fx_down(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proof),
        cmocka_unit_test(test_member_json),
        cmocka_unit_test(test_node_check),
        cmocka_unit_test(test_request_refused),
        cmocka_unit_test(test_update_members),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
