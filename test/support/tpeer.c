/* This test process as a member of a real cluster, with its own cluster
 * plane (see tpeer.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "test/support/tpeer.h"

#define TPEER_CLOSE_MS 10000

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

/* The secret locusctl wrote for @t's nodes (<dir>/secret), without its
 * trailing newline. */
static void read_secret(struct tc *t, char *out, size_t size)
{
    char path[1200];
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "%s/secret", t->c.dir);
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(out, 1, size - 1, f);
    fclose(f);
    out[n] = '\0';
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ')) {
        out[--n] = '\0';
    }
    assert_true(n > 0);
}

void tpeer_up(struct tpeer *p, struct tc *t, bool listen)
{
    struct lc_member_conf confs[LC_CLUSTER_MAX];
    struct lc_peers_config pc;
    unsigned n = t->c.n;

    assert_true(n > 0 && n <= LC_CLUSTER_MAX);
    memset(p, 0, sizeof *p);
    read_secret(t, p->secret, sizeof p->secret);
    for (unsigned i = 0; i < n; i++) {
        confs[i] = (struct lc_member_conf){"127.0.0.1", t->c.nodes[i].port};
        snprintf(p->addr[i], sizeof p->addr[i], "127.0.0.1:%d",
                 t->c.nodes[i].port);
    }
    assert_int_equal(
        lc_members_new(confs, n, &confs[n - 1], &p->members, NULL, 0), 0);
    assert_int_equal(uv_loop_init(&p->loop), 0);
    uv_timer_init(&p->loop, &p->tick);
    uv_timer_start(&p->tick, on_tick, 10, 10);
    lc_peers_config_default(&pc);
    pc.members = p->members;
    pc.secret = (const uint8_t *)p->secret;
    pc.secret_len = strlen(p->secret);
    assert_int_equal(lc_peers_new(&p->loop, &pc, &p->ps), 0);
    if (listen) {
        assert_int_equal(
            lc_peers_listen(p->ps, "127.0.0.1", t->c.nodes[n - 1].port + 1001),
            0);
    }
}

bool tpeer_spin(struct tpeer *p, const volatile bool *flag, unsigned ms)
{
    uint64_t until = tc_now_ms() + ms;
    while (!*flag && tc_now_ms() < until) {
        uv_run(&p->loop, UV_RUN_ONCE);
    }
    return *flag;
}

static void on_closed(struct lc_peers *ps, void *data)
{
    (void)ps;
    *(bool *)data = true;
}

void tpeer_down(struct tpeer *p)
{
    bool closed = false;

    lc_peers_close(p->ps, on_closed, &closed);
    assert_true(tpeer_spin(p, &closed, TPEER_CLOSE_MS));
    uv_close((uv_handle_t *)&p->tick, NULL);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&p->loop), 0);
    lc_members_free(p->members);
}

void tpeer_req_init(struct tpeer_req *q)
{
    memset(q, 0, sizeof *q);
    q->r.data = q;
}

void tpeer_on_req(struct lc_nreq *r, int status, const char *type, json_t *body)
{
    struct tpeer_req *q = r->data;
    q->done = true;
    q->status = status;
    snprintf(q->type, sizeof q->type, "%s", type != NULL ? type : "");
    q->body = json_incref(body);
}
