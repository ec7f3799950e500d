/* The raft_uv_transport each group incarnation hands to raft_uv, on top of
 * the hub (net_hub.c): outbound connections open the group's channel with a
 * preface, inbound ones arrive from the hub already authenticated.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "raft/internal.h"

struct lc_transport_connect {
    struct lc_transport *tr;
    struct raft_uv_connect *req;
    raft_uv_connect_cb cb;
    struct lc_hub_connect hc;
    struct lc_transport_connect *prev, *next;
};

static void transport_on_closer(uv_handle_t *h)
{
    struct lc_transport *tr = h->data;
    struct lc_incarnation *inc = LC_CONTAINER_OF(tr, struct lc_incarnation, tr);
    raft_uv_transport_close_cb cb = tr->close_cb;
    tr->close_cb = NULL;
    if (cb != NULL) {
        cb(&inc->transport);
    }
}

static void transport_on_idle(uv_idle_t *idle)
{
    uv_idle_stop(idle);
    uv_close((uv_handle_t *)idle, transport_on_closer);
}

/* raft_uv finishes closing only after its transport reports closed. 0.15
 * fires its close callback while the writer of the last open segment may
 * still be closing (uvAliveSegmentFinalize leaves append_segments before
 * UvWriterClose completes), and that writer's callback then touches freed
 * memory and fires the close callback again. The writer closes in the loop
 * turn in which its last append completes, so report closed only once every
 * append has completed, one turn later (the idle handle). */
void lc_transport_maybe_close(struct lc_transport *tr)
{
    struct lc_incarnation *inc = LC_CONTAINER_OF(tr, struct lc_incarnation, tr);
    if (tr->closing && tr->n_connecting == 0 && tr->close_cb != NULL &&
        inc->appends_in_flight == 0 &&
        !uv_is_active((uv_handle_t *)&tr->closer) &&
        !uv_is_closing((uv_handle_t *)&tr->closer)) {
        uv_idle_start(&tr->closer, transport_on_idle);
    }
}

static int transport_init(struct raft_uv_transport *t, raft_id id,
                          const char *address)
{
    (void)t;
    (void)id;
    (void)address;
    return 0;
}

static int transport_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
    struct lc_transport *tr = t->impl;
    tr->accept_cb = cb;
    return 0;
}

static void transport_on_connected(void *data, uv_stream_t *stream,
                                   int status)
{
    struct lc_transport_connect *tc = data;
    struct lc_transport *tr = tc->tr;
    struct raft_uv_connect *req = tc->req;
    raft_uv_connect_cb cb = tc->cb;

    if (tc->prev != NULL) {
        tc->prev->next = tc->next;
    } else {
        tr->connecting = tc->next;
    }
    if (tc->next != NULL) {
        tc->next->prev = tc->prev;
    }
    tr->n_connecting--;
    free(tc);

    if (tr->closing) {
        if (stream != NULL) {
            uv_close((uv_handle_t *)stream, (uv_close_cb)raft_free);
        }
        cb(req, NULL, RAFT_CANCELED);
    } else if (status != 0) {
        cb(req, NULL, RAFT_NOCONNECTION);
    } else {
        cb(req, stream, 0);
    }
    lc_transport_maybe_close(tr);
}

static int transport_connect(struct raft_uv_transport *t,
                             struct raft_uv_connect *req, raft_id id,
                             const char *address, raft_uv_connect_cb cb)
{
    struct lc_transport *tr = t->impl;
    struct lc_transport_connect *tc;
    int rv;
    (void)id;

    if (tr->closing) {
        return RAFT_CANCELED;
    }
    tc = calloc(1, sizeof *tc);
    if (tc == NULL) {
        return RAFT_NOMEM;
    }
    tc->tr = tr;
    tc->req = req;
    tc->cb = cb;
    tc->hc.data = tc;
    rv = lc_hub_connect(tr->hub, &tc->hc, tr->group->name, address,
                        transport_on_connected);
    if (rv != 0) {
        free(tc);
        return RAFT_NOCONNECTION;
    }
    tc->next = tr->connecting;
    if (tr->connecting != NULL) {
        tr->connecting->prev = tc;
    }
    tr->connecting = tc;
    tr->n_connecting++;
    return 0;
}

static void transport_close(struct raft_uv_transport *t,
                            raft_uv_transport_close_cb cb)
{
    struct lc_transport *tr = t->impl;
    tr->closing = true;
    tr->accept_cb = NULL;
    tr->close_cb = cb;
    for (struct lc_transport_connect *tc = tr->connecting; tc != NULL;
         tc = tc->next) {
        lc_hub_connect_cancel(&tc->hc);
    }
    lc_transport_maybe_close(tr);
}

int lc_transport_init(struct raft_uv_transport *t, struct lc_transport *impl,
                      struct lc_raft_group *g, struct lc_hub *hub,
                      uv_loop_t *loop)
{
    memset(t, 0, sizeof *t);
    memset(impl, 0, sizeof *impl);
    impl->group = g;
    impl->hub = hub;
    uv_idle_init(loop, &impl->closer);
    impl->closer.data = impl;
    t->impl = impl;
    t->init = transport_init;
    t->listen = transport_listen;
    t->connect = transport_connect;
    t->close = transport_close;
    return 0;
}

void lc_transport_accept(struct lc_transport *impl,
                         const struct lc_preface *p, uv_stream_t *stream)
{
    struct raft_uv_transport *t =
        &LC_CONTAINER_OF(impl, struct lc_incarnation, tr)->transport;
    if (impl->closing || impl->accept_cb == NULL) {
        uv_close((uv_handle_t *)stream, (uv_close_cb)raft_free);
        return;
    }
    impl->accept_cb(t, p->id, p->address, stream);
}
