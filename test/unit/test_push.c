/* Tests of the push engine with its UDP transport (naming/push/udp.c) and
 * push_agent.c: against real UDP sockets on loopback, on a real loop, with
 * the real registry and bus. (test_push_engine.c drives the engine alone
 * over a fake transport on simulated time.)
 *
 * Times are short (delay 30 ms, ack timeout 150 ms) so the tests run fast;
 * each wait is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "naming/internal.h"
#include "test/support/fixture_naming.h"
#include "naming/push/push.h"
#include "naming/push/udp.h"

#define DELAY_MS 30
#define ACK_MS 150
#define MAX_GOT 64

struct got {
    char *text; /* NUL-terminated, gunzipped when it came gzipped */
    size_t len;
    bool gzipped;
    uint64_t at; /* uv_now */
    json_t *root;
    json_t *info; /* the parsed "data" */
};

/* One subscriber socket. */
struct peer {
    struct env *env;
    uv_udp_t udp;
    int port;
    bool auto_ack;
    bool ack_as_string;
    struct got got[MAX_GOT];
    unsigned n_got;
};

struct env {
    uv_loop_t loop;
    uv_timer_t guard;
    struct lc_naming *n;
    struct peer a, b;
    struct sockaddr_in engine;
    bool closed;
};

/* ---------------------------------------------------------------- gzip */

static char *gunzip(const char *in, size_t len, size_t *out_len)
{
    z_stream zs;
    size_t cap = 1 << 20;
    char *out = malloc(cap + 1);
    memset(&zs, 0, sizeof zs);
    assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = zs.total_out;
    out[*out_len] = '\0';
    inflateEnd(&zs);
    return out;
}

/* --------------------------------------------------------------- peers */

static void send_raw(struct peer *p, const char *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)(uintptr_t)data, (unsigned)len);
    assert_true(uv_udp_try_send(&p->udp, &b, 1,
                                (const struct sockaddr *)&p->env->engine) >= 0);
}

static void send_ack(struct peer *p, json_int_t ref, bool as_string)
{
    char buf[128];
    int n;
    if (as_string) {
        n = snprintf(buf, sizeof buf,
                     "{\"type\": \"push-ack\", \"lastRefTime\":\"%lld\", "
                     "\"data\":\"\"}",
                     (long long)ref);
    } else {
        n = snprintf(buf, sizeof buf,
                     "{\"type\":\"push-ack\",\"lastRefTime\":%lld,"
                     "\"data\":\"\"}",
                     (long long)ref);
    }
    send_raw(p, buf, (size_t)n);
}

static json_int_t ref_of(const struct got *g)
{
    return json_integer_value(json_object_get(g->root, "lastRefTime"));
}

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(size);
    buf->len = size;
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                    const struct sockaddr *addr, unsigned flags)
{
    struct peer *p = h->data;
    (void)flags;
    if (nread > 0 && addr != NULL && p->n_got < MAX_GOT) {
        struct got *g = &p->got[p->n_got++];
        const unsigned char *u = (const unsigned char *)buf->base;
        g->gzipped = nread >= 2 && u[0] == 0x1f && u[1] == 0x8b;
        if (g->gzipped) {
            g->text = gunzip(buf->base, (size_t)nread, &g->len);
        } else {
            g->text = malloc((size_t)nread + 1);
            memcpy(g->text, buf->base, (size_t)nread);
            g->text[nread] = '\0';
            g->len = (size_t)nread;
        }
        g->at = uv_now(h->loop);
        g->root = json_loads(g->text, 0, NULL);
        assert_non_null(g->root);
        g->info = json_loads(
            json_string_value(json_object_get(g->root, "data")), 0, NULL);
        assert_non_null(g->info);
        if (p->auto_ack) {
            send_ack(p, ref_of(g), p->ack_as_string);
        }
    }
    free(buf->base);
}

static void peer_open(struct env *e, struct peer *p)
{
    struct sockaddr_in addr;
    struct sockaddr_storage name;
    int len = sizeof name;
    p->env = e;
    assert_int_equal(uv_udp_init(&e->loop, &p->udp), 0);
    p->udp.data = p;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    assert_int_equal(uv_udp_bind(&p->udp, (const struct sockaddr *)&addr, 0),
                     0);
    assert_int_equal(
        uv_udp_getsockname(&p->udp, (struct sockaddr *)&name, &len), 0);
    p->port = ntohs(((struct sockaddr_in *)&name)->sin_port);
    assert_int_equal(uv_udp_recv_start(&p->udp, on_alloc, on_recv), 0);
}

static void peer_clear(struct peer *p)
{
    for (unsigned i = 0; i < p->n_got; i++) {
        free(p->got[i].text);
        json_decref(p->got[i].root);
        json_decref(p->got[i].info);
    }
    p->n_got = 0;
}

/* ---------------------------------------------------------------- loop */

static void on_guard(uv_timer_t *t)
{
    (void)t;
}

/* Run the loop for @ms. */
static void run_for(struct env *e, unsigned ms)
{
    uint64_t end;
    uv_update_time(&e->loop);
    end = uv_now(&e->loop) + ms;
    uv_timer_start(&e->guard, on_guard, ms, 0);
    while (uv_now(&e->loop) < end) {
        uv_run(&e->loop, UV_RUN_ONCE);
    }
}

/* Run until @p has @n datagrams (fail after @ms). */
static void wait_got(struct env *e, struct peer *p, unsigned n, unsigned ms)
{
    uint64_t end;
    uv_update_time(&e->loop);
    end = uv_now(&e->loop) + ms;
    uv_timer_start(&e->guard, on_guard, ms, 0);
    while (p->n_got < n) {
        if (uv_now(&e->loop) >= end) {
            fail_msg("got %u datagrams, want %u", p->n_got, n);
        }
        uv_run(&e->loop, UV_RUN_ONCE);
    }
}

static struct lc_push *engine(struct env *e)
{
    return e->n->push;
}

static struct lc_push_udp *udp(struct env *e)
{
    return e->n->push_udp;
}

static struct lc_push_stats stats(struct env *e)
{
    struct lc_push_stats st;
    lc_push_stats(engine(e), &st);
    return st;
}

/* ---------------------------------------------------------------- setup */

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    struct lc_push_options o;
    struct lc_push_udp_options uo;
    assert_int_equal(uv_loop_init(&e->loop), 0);
    uv_timer_init(&e->loop, &e->guard);
    e->n = calloc(1, sizeof *e->n);
    e->n->loop = &e->loop;
    lc_switches_default(&e->n->sw);
    e->n->bus = lc_bus_new();
    e->n->reg = lc_registry_new(e->n->bus);
    lc_push_options_default(&o);
    o.delay_ms = DELAY_MS;
    o.expire_check_ms = 40;
    o.paused_poll_ms = 20;
    lc_push_udp_options_default(&uo);
    uo.ack_timeout_ms = ACK_MS;
    uo.client_expired_ms = 60000; /* test_expiry shortens it */
    assert_int_equal(lc_push_new(e->n, &o, &e->n->push), 0);
    assert_int_equal(lc_push_udp_new(e->n->push, &uo, &e->n->push_udp), 0);
    uv_ip4_addr("127.0.0.1", lc_push_udp_port(e->n->push_udp), &e->engine);
    peer_open(e, &e->a);
    peer_open(e, &e->b);
    *state = e;
    return 0;
}

static void on_engine_closed(void *data)
{
    struct env *e = data;
    e->closed = true;
}

static int teardown(void **state)
{
    struct env *e = *state;
    struct lc_push *p = e->n->push;
    e->n->push = NULL;
    e->n->push_udp = NULL;
    lc_push_close(p, on_engine_closed, e);
    uv_close((uv_handle_t *)&e->a.udp, NULL);
    uv_close((uv_handle_t *)&e->b.udp, NULL);
    uv_close((uv_handle_t *)&e->guard, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_true(e->closed);
    /* Fails when any handle is left open. */
    assert_int_equal(uv_loop_close(&e->loop), 0);
    peer_clear(&e->a);
    peer_clear(&e->b);
    lc_registry_free(e->n->reg);
    lc_bus_free(e->n->bus);
    free(e->n);
    free(e);
    return 0;
}

static void subscribe(struct env *e, struct peer *p, const char *service,
                      const char *clusters)
{
    struct lc_push_subscriber s = {
        .ns = "public",
        .group = "DEFAULT_GROUP",
        .service = service,
        .clusters = clusters,
        .ip = "127.0.0.1",
        .port = p->port,
        .agent = "Nacos-Java-Client:v1.0.0",
        .app = "test",
    };
    assert_int_equal(lc_push_udp_subscribe(udp(e), &s), 0);
}

/* A persistent instance 127.0.1.<host>:<port> in @cluster of @service. */
static void publish(struct env *e, const char *service, int host, int port,
                    const char *cluster)
{
    char ip[32];
    snprintf(ip, sizeof ip, "127.0.1.%d", host);
    lc_fixture_publish(e->n, service, ip, port, cluster);
}

static size_t n_hosts(const struct got *g)
{
    return json_array_size(json_object_get(g->info, "hosts"));
}

/* ---------------------------------------------------------------- tests */

static void test_agent(void **state)
{
    static const struct {
        const char *agent;
        bool ok;
    } cases[] = {
        {"Nacos-Java-Client:v1.0.0", true},
        {"Nacos-Java-Client:v0.1.0", true},
        {"Nacos-Java-Client:v0.0.9", false},
        {"Nacos-Java-Client", false}, /* no version: 0.0.0 */
        {"Nacos-Java-Client:1.0.0", false},
        {"Nacos-Java-Client:v0.1.0-SNAPSHOT", false}, /* before 0.1.0 */
        {"Nacos-Java-Client:v0.1.0.1", false},        /* 4th part: snapshot */
        {"Nacos-Java-Client:v0.1.1-SNAPSHOT", true},
        {"Nacos-Java-Client:v10", true},
        {"Nacos-Java-Client:v1.4.1 (Linux)", true},
        {"Nacos-Java-Client:v 1.0.0", true}, /* trimmed */
        {"nacos-java-client:v1.0.0", false}, /* case matters */
        {"Nacos-Go-Client:v1.0.0", true},
        {"Nacos-Go-Client:v0.0.1", false},
        {"Nacos-C-Client:v1.0.11", false},
        {"Nacos-C-Client:v1.0.12", true},
        {"vip-client4cpp:v1.0.12", true},
        {"vip-client4cpp:v1.0.2", false},
        {"Nacos-DNS:v0.4.2", false},
        {"Nacos-DNS:v0.4.3", true},
        {"Nacos-CSharp-Client:v0.8.9", false},
        {"Nacos-CSharp-Client:v0.9.0", true},
        {"Nacos-Php-Client:v9.9.9", false},
        {"Nacos-SDK-Java/2.4.3", false},
        {"Nacos-Server:v2.4.3", false},
        {"Mozilla/5.0", false},
        {"", false},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (lc_push_agent_supported(cases[i].agent) != cases[i].ok) {
            fail_msg("agent '%s': want %s", cases[i].agent,
                     cases[i].ok ? "push" : "no push");
        }
    }
    assert_false(lc_push_agent_supported(NULL));
}

/* A new subscription gets one push after the delay; polling again does not
 * push again. */
static void test_subscribe_pushes_once(void **state)
{
    struct env *e = *state;
    struct got *g;
    uint64_t t0;
    e->a.auto_ack = true;
    uv_update_time(&e->loop);
    t0 = uv_now(&e->loop);
    subscribe(e, &e->a, "svc", "DEFAULT");
    subscribe(e, &e->a, "svc", "DEFAULT");
    wait_got(e, &e->a, 1, 2000);
    g = &e->a.got[0];
    assert_true(g->at - t0 >= DELAY_MS - 2);
    assert_false(g->gzipped);
    assert_string_equal(json_string_value(json_object_get(g->root, "type")),
                        "dom");
    /* Unknown service: the same shape with no hosts. */
    assert_string_equal(json_string_value(json_object_get(g->info, "name")),
                        "DEFAULT_GROUP@@svc");
    assert_int_equal(n_hosts(g), 0);
    run_for(e, 3 * DELAY_MS + ACK_MS);
    assert_int_equal(e->a.n_got, 1);
    assert_int_equal(stats(e).subscribers, 1);
    assert_int_equal(stats(e).total, 1);
    assert_int_equal(stats(e).failed, 0);
    assert_int_equal(stats(e).pending_acks, 0);
}

/* Twenty changes in a burst give one push holding all twenty instances. */
static void test_burst_merges(void **state)
{
    struct env *e = *state;
    e->a.auto_ack = true;
    subscribe(e, &e->a, "burst", "");
    wait_got(e, &e->a, 1, 2000);
    peer_clear(&e->a);
    for (int i = 1; i <= 20; i++) {
        publish(e, "burst", i, 8080, "DEFAULT");
    }
    /* Changes to another service without subscribers push nothing. */
    publish(e, "other", 1, 1, "DEFAULT");
    wait_got(e, &e->a, 1, 2000);
    run_for(e, 3 * DELAY_MS);
    assert_int_equal(e->a.n_got, 1);
    assert_int_equal(n_hosts(&e->a.got[0]), 20);
    assert_int_equal(stats(e).rounds, 2);

    /* Changes spread over time: a push at most one delay after each first
     * change, never more pushes than changes. */
    peer_clear(&e->a);
    for (int i = 21; i <= 25; i++) {
        publish(e, "burst", i, 8080, "DEFAULT");
        run_for(e, DELAY_MS / 3);
    }
    run_for(e, 3 * DELAY_MS);
    assert_true(e->a.n_got >= 1 && e->a.n_got <= 3);
    assert_int_equal(n_hosts(&e->a.got[e->a.n_got - 1]), 25);
}

/* Each subscriber sees its clusters; the embedded ServiceInfo has Nacos's
 * UDP shape (grouped name, no groupName). */
static void test_clusters_and_format(void **state)
{
    struct env *e = *state;
    struct got *ga, *gb;
    const char *keys[] = {
        "name",        "clusters", "cacheMillis", "hosts",
        "lastRefTime", "checksum", "allIPs",      "reachProtectionThreshold",
        "valid"};
    const char *outer[] = {"type", "data", "lastRefTime"};
    const char *k;
    json_t *v;
    size_t i = 0;

    publish(e, "c", 1, 80, "A");
    publish(e, "c", 2, 80, "B");
    publish(e, "c", 3, 80, "B");
    e->a.auto_ack = e->b.auto_ack = true;
    subscribe(e, &e->a, "c", "A");
    subscribe(e, &e->b, "c", "B,X");
    wait_got(e, &e->a, 1, 2000);
    wait_got(e, &e->b, 1, 2000);
    ga = &e->a.got[0];
    gb = &e->b.got[0];
    assert_int_equal(n_hosts(ga), 1);
    assert_int_equal(n_hosts(gb), 2);
    assert_string_equal(
        json_string_value(json_object_get(gb->info, "clusters")), "B,X");
    json_object_foreach(ga->info, k, v)
    {
        assert_true(i < sizeof keys / sizeof keys[0]);
        assert_string_equal(k, keys[i]);
        i++;
    }
    assert_int_equal(i, sizeof keys / sizeof keys[0]);
    i = 0;
    json_object_foreach(ga->root, k, v)
    {
        assert_string_equal(k, outer[i]);
        i++;
    }
    assert_string_equal(json_string_value(json_object_get(ga->info, "name")),
                        "DEFAULT_GROUP@@c");
    assert_false(json_is_true(json_object_get(ga->info, "allIPs")));
    assert_true(json_is_true(json_object_get(ga->info, "valid")));
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(ga->info, "hosts"), 0), "ip")),
        "127.0.1.1");

    /* One change: both pushed in one round with one lastRefTime. */
    peer_clear(&e->a);
    peer_clear(&e->b);
    publish(e, "c", 4, 80, "A");
    wait_got(e, &e->a, 1, 2000);
    wait_got(e, &e->b, 1, 2000);
    assert_int_equal(n_hosts(&e->a.got[0]), 2);
    assert_int_equal(n_hosts(&e->b.got[0]), 2);
    assert_true(ref_of(&e->a.got[0]) == ref_of(&e->b.got[0]));
    assert_true(ref_of(&e->a.got[0]) < ((json_int_t)1 << 53));

    /* The next round has a larger lastRefTime. */
    {
        json_int_t before = ref_of(&e->a.got[0]);
        peer_clear(&e->a);
        publish(e, "c", 5, 80, "A");
        wait_got(e, &e->a, 1, 2000);
        assert_true(ref_of(&e->a.got[0]) > before);
    }
}

/* gzip exactly when the datagram is 1024 bytes or more. */
static void test_gzip_threshold(void **state)
{
    struct env *e = *state;
    struct lc_service_key key = {"public", "DEFAULT_GROUP", "big"};
    bool seen_plain = false, seen_gzip = false;

    for (int h = 1; h <= 12; h++) {
        char *out;
        size_t len;
        char *text;
        size_t text_len;
        json_t *root;
        json_t *info;
        bool gz;
        publish(e, "big", h, 9000, "DEFAULT");
        assert_int_equal(
            lc_push_udp_render(e->n, &key, "", 4242 + (uint64_t)h, &out, &len),
            0);
        gz = len >= 2 && (unsigned char)out[0] == 0x1f &&
             (unsigned char)out[1] == 0x8b;
        if (gz) {
            text = gunzip(out, len, &text_len);
            assert_true(text_len >= LC_PUSH_UDP_GZIP_MIN);
            seen_gzip = true;
        } else {
            text = malloc(len + 1);
            memcpy(text, out, len);
            text[len] = '\0';
            text_len = len;
            assert_true(len < LC_PUSH_UDP_GZIP_MIN);
            seen_plain = true;
        }
        assert_int_equal(strlen(text), text_len);
        root = json_loads(text, 0, NULL);
        assert_non_null(root);
        assert_int_equal(
            json_integer_value(json_object_get(root, "lastRefTime")), 4242 + h);
        info = json_loads(json_string_value(json_object_get(root, "data")), 0,
                          NULL);
        assert_int_equal(json_array_size(json_object_get(info, "hosts")),
                         (size_t)h);
        json_decref(info);
        json_decref(root);
        free(text);
        free(out);
    }
    assert_true(seen_plain);
    assert_true(seen_gzip);

    /* A gzipped push arrives whole and is acked like any other. */
    e->a.auto_ack = true;
    subscribe(e, &e->a, "big", "");
    wait_got(e, &e->a, 1, 2000);
    assert_true(e->a.got[0].gzipped);
    assert_int_equal(n_hosts(&e->a.got[0]), 12);
    run_for(e, ACK_MS + 50);
    assert_int_equal(e->a.n_got, 1);
    assert_int_equal(stats(e).failed, 0);
    assert_int_equal(stats(e).total, 1);
}

/* No ack: sent once more after the ack timeout, then given up. */
static void test_resend_once(void **state)
{
    struct env *e = *state;
    struct lc_push_stats st;
    subscribe(e, &e->a, "r", "");
    wait_got(e, &e->a, 2, 2000);
    assert_string_equal(e->a.got[0].text, e->a.got[1].text);
    assert_true(e->a.got[1].at - e->a.got[0].at >= ACK_MS - 5);
    run_for(e, 2 * ACK_MS + 50);
    assert_int_equal(e->a.n_got, 2);
    st = stats(e);
    assert_int_equal(st.total, 1);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.resent, 1);
    assert_int_equal(st.sent, 2);
    assert_int_equal(st.pending_acks, 0);

    /* Acking the resend (as the Java client does, a string) counts. */
    peer_clear(&e->a);
    publish(e, "r", 1, 1, "DEFAULT");
    wait_got(e, &e->a, 2, 2000);
    send_ack(&e->a, ref_of(&e->a.got[1]), true);
    run_for(e, 2 * ACK_MS + 50);
    assert_int_equal(e->a.n_got, 2);
    st = stats(e);
    assert_int_equal(st.total, 2);
    assert_int_equal(st.failed, 1);
    assert_true(st.max_cost_ms >= ACK_MS);
}

/* Junk on the push socket is counted and dropped; acks from the wrong
 * address or with the wrong number match nothing; the engine goes on. */
static void test_malformed(void **state)
{
    struct env *e = *state;
    static char big[60000];
    char deep[3000];
    struct lc_push_stats st;
    json_int_t ref;
    const char *junk[] = {
        "garbage",
        "{}",
        "[]",
        "null",
        "{\"lastRefTime\":\"abc\"}",
        "{\"lastRefTime\":\"\"}",
        "{\"lastRefTime\":-1}",
        "{\"lastRefTime\":[1]}",
        "{\"lastRefTime\":99999999999999999999999}",
        "{\"lastRefTime\":\"99999999999999999999999\"}",
        "{\"lastRefTime\":1e400}",
        "{\"lastRefTime\":1",
        "\x1f\x8b\x08\x00",
    };
    subscribe(e, &e->a, "m", "");
    wait_got(e, &e->a, 1, 2000);
    ref = ref_of(&e->a.got[0]);
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        send_raw(&e->a, junk[i], strlen(junk[i]));
    }
    send_raw(&e->a, "", 0);
    memset(big, '{', sizeof big);
    send_raw(&e->a, big, sizeof big);
    memset(deep, '[', sizeof deep);
    send_raw(&e->a, deep, sizeof deep);
    /* Right number from the wrong socket; wrong number from the right one. */
    send_ack(&e->b, ref, false);
    send_ack(&e->a, ref + 1, false);
    run_for(e, 30);
    st = stats(e);
    assert_int_equal(st.malformed, sizeof junk / sizeof junk[0] + 3);
    assert_int_equal(st.unmatched, 2);
    assert_int_equal(st.pending_acks, 1);
    /* The real ack (with trailing blanks, as Java trims) still matches. */
    {
        char buf[128];
        int n = snprintf(buf, sizeof buf, "{\"lastRefTime\":%lld}  \n",
                         (long long)ref);
        send_raw(&e->a, buf, (size_t)n);
    }
    run_for(e, 30);
    st = stats(e);
    assert_int_equal(st.pending_acks, 0);
    assert_int_equal(st.total, 1);
    assert_int_equal(st.failed, 0);
    /* A second ack for the same push is unmatched. */
    send_ack(&e->a, ref, false);
    run_for(e, 30);
    assert_int_equal(stats(e).unmatched, 3);
}

/* With pushEnabled false, changes wait (merged) and go out once it is true
 * again. */
static void test_push_disabled(void **state)
{
    struct env *e = *state;
    e->a.auto_ack = true;
    subscribe(e, &e->a, "d", "");
    wait_got(e, &e->a, 1, 2000);
    peer_clear(&e->a);
    e->n->sw.push_enabled = false;
    publish(e, "d", 1, 1, "DEFAULT");
    publish(e, "d", 2, 1, "DEFAULT");
    run_for(e, 5 * DELAY_MS);
    assert_int_equal(e->a.n_got, 0);
    e->n->sw.push_enabled = true;
    wait_got(e, &e->a, 1, 2000);
    run_for(e, 3 * DELAY_MS);
    assert_int_equal(e->a.n_got, 1);
    assert_int_equal(n_hosts(&e->a.got[0]), 2);
}

/* Subscribers expire unless they poll again within the expiry time. */
static void test_expiry(void **state)
{
    struct env *e = *state;
    struct lc_push_options o;
    struct lc_push_udp_options uo;
    lc_push_options_default(&o);
    o.delay_ms = DELAY_MS;
    o.expire_check_ms = 40;
    lc_push_set_options(engine(e), &o);
    lc_push_udp_options_default(&uo);
    uo.ack_timeout_ms = ACK_MS;
    uo.client_expired_ms = 200;
    lc_push_udp_set_options(udp(e), &uo);
    e->a.auto_ack = e->b.auto_ack = true;
    subscribe(e, &e->a, "x", "");
    subscribe(e, &e->b, "x", "");
    assert_int_equal(stats(e).subscribers, 2);
    for (int i = 0; i < 6; i++) {
        run_for(e, 80);
        subscribe(e, &e->b, "x", ""); /* b keeps polling */
    }
    assert_int_equal(stats(e).subscribers, 1);
    /* The expired one gets no push; the live one does. */
    peer_clear(&e->a);
    peer_clear(&e->b);
    publish(e, "x", 1, 1, "DEFAULT");
    wait_got(e, &e->b, 1, 2000);
    run_for(e, 2 * DELAY_MS);
    assert_int_equal(e->a.n_got, 0);
}

/* A blank clientIP pushes to loopback, as Java's InetSocketAddress("")
 * does; a host name that does not resolve counts as a failed push. */
static void test_client_ip(void **state)
{
    struct env *e = *state;
    struct lc_push_subscriber s = {
        .ns = "public",
        .group = "DEFAULT_GROUP",
        .service = "ip",
        .clusters = "",
        .ip = "",
        .port = e->a.port,
        .agent = "Nacos-Java-Client:v1.0.0",
        .app = "",
    };
    e->a.auto_ack = true;
    assert_int_equal(lc_push_udp_subscribe(udp(e), &s), 0);
    wait_got(e, &e->a, 1, 2000);
    s.ip = "not-an-ip.invalid";
    assert_int_equal(lc_push_udp_subscribe(udp(e), &s), 0);
    run_for(e, 3 * DELAY_MS);
    assert_int_equal(stats(e).failed, 1);
    assert_int_equal(stats(e).subscribers, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent),
        cmocka_unit_test_setup_teardown(test_subscribe_pushes_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_burst_merges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clusters_and_format, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_gzip_threshold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resend_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_disabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_ip, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
