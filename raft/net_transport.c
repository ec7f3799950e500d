/* The raft_uv_transport each group incarnation hands to raft_uv, on top of
 * the hub (net_hub.c): outbound connections open the group's channel with a
 * preface, inbound ones arrive from the hub already authenticated (the
 * engine hands them over with lc_net_transport_accept).
 *
 * Closing: raft_uv finishes closing only after its transport reports
 * closed, and 0.15 must not get there while an append is in flight (see
 * maybe_close below). The engine holds the transport while appends are.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "raft/net.h"

struct lc_net_transport_connect {
    struct lc_net_transport *tr;
    struct raft_uv_connect *req;
    raft_uv_connect_cb cb;
    struct lc_net_connect hc;
    struct lc_net_transport_connect *prev, *next;
};

static void transport_on_closer(uv_handle_t *h)
{
    struct lc_net_transport *tr = h->data;
    raft_uv_transport_close_cb cb = tr->close_cb;
    tr->close_cb = NULL;
    if (cb != NULL) {
        cb(tr->uvt);
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
static void maybe_close(struct lc_net_transport *tr)
{
    if (tr->closing && tr->n_connecting == 0 && tr->close_cb != NULL &&
        tr->holds == 0 &&
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
    struct lc_net_transport *tr = t->impl;
    tr->accept_cb = cb;
    return 0;
}

static void transport_on_connected(void *data, uv_stream_t *stream,
                                   int status)
{
    struct lc_net_transport_connect *tc = data;
    struct lc_net_transport *tr = tc->tr;
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
            lc_net_stream_close(stream);
        }
        cb(req, NULL, RAFT_CANCELED);
    } else if (status != 0) {
        cb(req, NULL, RAFT_NOCONNECTION);
    } else {
        cb(req, stream, 0);
    }
    maybe_close(tr);
}

static int transport_connect(struct raft_uv_transport *t,
                             struct raft_uv_connect *req, raft_id id,
                             const char *address, raft_uv_connect_cb cb)
{
    struct lc_net_transport *tr = t->impl;
    struct lc_net_transport_connect *tc;
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
    rv = lc_net_hub_connect(tr->hub, &tc->hc, tr->channel, address,
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
    struct lc_net_transport *tr = t->impl;
    tr->closing = true;
    tr->accept_cb = NULL;
    tr->close_cb = cb;
    for (struct lc_net_transport_connect *tc = tr->connecting; tc != NULL;
         tc = tc->next) {
        lc_net_hub_connect_cancel(&tc->hc);
    }
    maybe_close(tr);
}

int lc_net_transport_init(struct lc_net_transport *t,
                          struct raft_uv_transport *uvt,
                          struct lc_net_hub *hub, uv_loop_t *loop,
                          const char *channel)
{
    memset(uvt, 0, sizeof *uvt);
    memset(t, 0, sizeof *t);
    if (!lc_strlcpy(t->channel, channel, sizeof t->channel)) {
        return LC_EINVAL;
    }
    t->uvt = uvt;
    t->hub = hub;
    uv_idle_init(loop, &t->closer);
    t->closer.data = t;
    uvt->impl = t;
    uvt->init = transport_init;
    uvt->listen = transport_listen;
    uvt->connect = transport_connect;
    uvt->close = transport_close;
    return 0;
}

void lc_net_transport_hold(struct lc_net_transport *t)
{
    t->holds++;
}

void lc_net_transport_release(struct lc_net_transport *t)
{
    t->holds--;
    maybe_close(t);
}

bool lc_net_transport_listening(const struct lc_net_transport *t)
{
    return t->accept_cb != NULL;
}

void lc_net_transport_accept(struct lc_net_transport *t,
                             const struct lc_preface *claim,
                             uv_stream_t *stream)
{
    if (t->closing || t->accept_cb == NULL) {
        lc_net_stream_close(stream);
        return;
    }
    t->accept_cb(t->uvt, claim->id, claim->address, stream);
}

static void on_fini_closed(uv_handle_t *h)
{
    struct lc_net_transport *t = h->data;
    if (t->fini_cb != NULL) {
        t->fini_cb(t);
    }
}

bool lc_net_transport_fini(struct lc_net_transport *t,
                           lc_net_transport_fini_cb cb)
{
    if (uv_is_closing((uv_handle_t *)&t->closer)) {
        return false; /* raft_uv's close did it (transport_on_idle) */
    }
    t->fini_cb = cb;
    uv_close((uv_handle_t *)&t->closer, on_fini_closed);
    return true;
}
