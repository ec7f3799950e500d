/* Tests of rpc/udp: the socket on loopback (send, receive with the sender,
 * IPv4 through the dual-stack socket), peers (literals at once, host names
 * looked up and refreshed after the TTL), and closing with a lookup in
 * flight (no peer callback afterwards, the close callback once, no handle
 * left). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "rpc/udp/udp.h"

struct got {
    char buf[64];
    size_t len;
    struct sockaddr_storage from;
    bool truncated;
    unsigned n;
};

struct env {
    uv_loop_t loop;
    uv_timer_t guard;
    struct lc_udp *a, *b;
    struct got got_a, got_b;
    unsigned closes;
    unsigned peer_cbs;
    int peer_status;
};

static void on_recv(void *data, const char *buf, size_t len,
                    const struct sockaddr *from, bool truncated)
{
    struct got *g = data;
    g->len = len < sizeof g->buf ? len : sizeof g->buf;
    memcpy(g->buf, buf, g->len);
    memset(&g->from, 0, sizeof g->from);
    memcpy(&g->from, from,
           from->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                       : sizeof(struct sockaddr_in));
    g->truncated = truncated;
    g->n++;
}

static void on_guard(uv_timer_t *t)
{
    (void)t;
}

/* Run the loop until *@counter reaches @want (fail after 2 s). */
static void wait_for(struct env *e, const unsigned *counter, unsigned want)
{
    uint64_t end;
    uv_update_time(&e->loop);
    end = uv_now(&e->loop) + 2000;
    uv_timer_start(&e->guard, on_guard, 2000, 0);
    while (*counter < want) {
        if (uv_now(&e->loop) >= end) {
            fail_msg("waited for %u, have %u", want, *counter);
        }
        uv_run(&e->loop, UV_RUN_ONCE);
    }
    uv_timer_stop(&e->guard);
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

static void on_closed(void *data)
{
    struct env *e = data;
    e->closes++;
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    assert_int_equal(uv_loop_init(&e->loop), 0);
    uv_timer_init(&e->loop, &e->guard);
    assert_int_equal(lc_udp_open(&e->loop, NULL, on_recv, &e->got_a, &e->a), 0);
    assert_int_equal(lc_udp_open(&e->loop, NULL, on_recv, &e->got_b, &e->b), 0);
    assert_true(lc_udp_port(e->a) > 0);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    if (e->a != NULL) {
        lc_udp_close(e->a, on_closed, e);
    }
    lc_udp_close(e->b, on_closed, e);
    uv_close((uv_handle_t *)&e->guard, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(e->closes, 2);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    free(e);
    return 0;
}

static void on_peer(struct lc_udp_peer *peer, int status)
{
    struct env *e = peer->data;
    e->peer_cbs++;
    e->peer_status = status;
}

/* ---------------------------------------------------------------- tests */

static void test_send_receive(void **state)
{
    struct env *e = *state;
    struct sockaddr_in to;
    struct sockaddr_in a_addr;
    struct lc_udp_key k1, k2;
    char text[64];

    uv_ip4_addr("127.0.0.1", lc_udp_port(e->b), &to);
    assert_int_equal(
        lc_udp_send(e->a, (const struct sockaddr *)&to, "hello", 5), 0);
    wait_for(e, &e->got_b.n, 1);
    assert_int_equal(e->got_b.len, 5);
    assert_memory_equal(e->got_b.buf, "hello", 5);
    assert_false(e->got_b.truncated);
    /* The sender, whatever family the socket reports it in, has the same
     * key as a's IPv4 address. */
    uv_ip4_addr("127.0.0.1", lc_udp_port(e->a), &a_addr);
    assert_true(lc_udp_addr_key((const struct sockaddr *)&e->got_b.from, &k1));
    assert_true(lc_udp_addr_key((const struct sockaddr *)&a_addr, &k2));
    assert_memory_equal(&k1, &k2, sizeof k1);
    lc_udp_addr_text((const struct sockaddr *)&a_addr, text, sizeof text);
    assert_true(strncmp(text, "127.0.0.1:", 10) == 0);

    /* An empty datagram reaches the callback too. */
    assert_int_equal(lc_udp_send(e->a, (const struct sockaddr *)&to, "", 0), 0);
    wait_for(e, &e->got_b.n, 2);
    assert_int_equal(e->got_b.len, 0);
}

static void test_literals(void **state)
{
    struct env *e = *state;
    struct lc_udp_peer p = {.data = e};
    struct sockaddr_storage ss;

    assert_int_equal(lc_udp_peer_init(e->a, &p, "127.0.0.1", 5000, on_peer), 0);
    assert_true(p.ok);
    assert_false(lc_udp_peer_resolving(&p));
    assert_int_equal(p.addr.ss_family, AF_INET);
    lc_udp_peer_refresh(&p); /* no-op for literals */
    assert_false(lc_udp_peer_resolving(&p));
    lc_udp_peer_cleanup(&p);

    assert_int_equal(lc_udp_peer_init(e->a, &p, "[::1]", 5000, on_peer), 0);
    assert_true(p.ok);
    assert_int_equal(p.addr.ss_family, AF_INET6);
    lc_udp_peer_cleanup(&p);
    assert_int_equal(lc_udp_peer_init(e->a, &p, "::1", 5000, on_peer), 0);
    assert_true(p.ok);
    lc_udp_peer_cleanup(&p);

    /* A port out of range gives no address. */
    assert_int_equal(lc_udp_peer_init(e->a, &p, "127.0.0.1", 0, on_peer), 0);
    assert_false(p.ok);
    assert_false(lc_udp_peer_resolving(&p));
    lc_udp_peer_cleanup(&p);
    assert_int_equal(e->peer_cbs, 0);

    assert_true(lc_udp_addr_literal("127.1.2.3", 1, &ss));
    assert_false(lc_udp_addr_literal("localhost", 1, &ss));
    assert_false(lc_udp_addr_literal("[127.1.2.3]", 1, &ss));
}

static void test_name_and_refresh(void **state)
{
    struct env *e = *state;
    struct lc_udp_peer p = {.data = e};

    assert_int_equal(lc_udp_peer_init(e->a, &p, "localhost", 5000, on_peer), 0);
    assert_false(p.ok);
    assert_true(lc_udp_peer_resolving(&p));
    assert_int_equal(e->peer_cbs, 0); /* never from inside the call */
    wait_for(e, &e->peer_cbs, 1);
    assert_int_equal(e->peer_status, 0);
    assert_true(p.ok);
    assert_false(lc_udp_peer_resolving(&p));
    /* Within the TTL: no new lookup. */
    lc_udp_peer_refresh(&p);
    assert_false(lc_udp_peer_resolving(&p));
    lc_udp_peer_cleanup(&p);

    /* A detached lookup never calls back. */
    assert_int_equal(lc_udp_peer_init(e->a, &p, "localhost", 5000, on_peer), 0);
    assert_true(lc_udp_peer_resolving(&p));
    lc_udp_peer_cleanup(&p);
    run_for(e, 200);
    assert_int_equal(e->peer_cbs, 1);
}

static void test_ttl_zero_refreshes(void **state)
{
    struct env *e = *state;
    struct lc_udp_options o;
    struct lc_udp *u;
    struct lc_udp_peer p = {.data = e};
    struct got g = {0};

    lc_udp_options_default(&o);
    o.dns_ttl_ms = 0;
    assert_int_equal(lc_udp_open(&e->loop, &o, on_recv, &g, &u), 0);
    assert_int_equal(lc_udp_peer_init(u, &p, "localhost", 1, on_peer), 0);
    wait_for(e, &e->peer_cbs, 1);
    lc_udp_peer_refresh(&p);
    assert_true(lc_udp_peer_resolving(&p));
    assert_true(p.ok); /* the cached answer stays in use meanwhile */
    wait_for(e, &e->peer_cbs, 2);

    /* Closing with a lookup in flight: no callback, close once. */
    lc_udp_peer_refresh(&p);
    assert_true(lc_udp_peer_resolving(&p));
    lc_udp_close(u, on_closed, e);
    assert_false(lc_udp_peer_resolving(&p));
    lc_udp_peer_cleanup(&p);
    wait_for(e, &e->closes, 1);
    assert_int_equal(e->peer_cbs, 2);
    e->closes = 0; /* teardown counts a's and b's */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_send_receive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_literals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_and_refresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ttl_zero_refreshes, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
