/* DistroFilter's proxy, as Nacos 2.4.3's DistroFilter with its
 * NacosRestTemplate (naming/web/DistroFilter.java,
 * naming/misc/HttpClient.java):
 *
 *   - URL http://<member ip:port><request path>, the same method;
 *   - every parameter (query and form, the first value of each name, as
 *     HttpUtils.translateParameterMap) in the query string, then
 *     encoding=UTF-8&nofix=1;
 *   - the request's headers (the first value of each name), then
 *     Content-Type: application/x-www-form-urlencoded, Client-Version and
 *     User-Agent: Nacos-Server:<version>, Request-Source: <this member>,
 *     Accept-Charset: UTF-8, and the peer identity header when one is
 *     configured (a client's copy of it is dropped); hop-by-hop headers
 *     (Host, Content-Length, Connection...) are the client's own;
 *   - the raw body again, which a servlet has consumed when it was a form;
 *   - connect and read timeouts of 2000 ms (PROXY_CONNECT_TIMEOUT,
 *     PROXY_READ_TIMEOUT).
 *
 * The member's answer is relayed with its status and body as
 * application/json;charset=UTF-8 (WebUtils.response). A forward that
 * throws answers 500 with the exception's toString(), Java's words for
 * what happened (refused, connect or read timeout, no answer).
 *
 * Read-your-writes on the member asked (docs/api.md): a write the target
 * acknowledged (2xx) is relayed once this member has applied what the
 * Raft group it may have written to had committed (a barrier,
 * lc_op_barrier*): persistent instances for registrations,
 * deregistrations (unless ephemeral=true: memory only) and health, the
 * overlays for updates, patches and metadata/batch; beats none. Nacos
 * gives no such promise; the answer is the same, only later. A barrier
 * that fails (no leader) does not hold the answer back: the write was
 * acknowledged.
 *
 * Nacos blocks a servlet thread per forward; here nothing blocks: each
 * member has a few keep-alive connections (lc_http_conn, one request at a
 * time each), a forward takes an idle one or opens one, and queues on the
 * least busy when all are taken.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "members/members.h"
#include "naming/http/forward.h"
#include "naming/http/reply.h"
#include "naming/internal.h"
#include "naming/ops/ops.h"

#define CONNECT_TIMEOUT_MS 2000 /* DistroFilter.PROXY_CONNECT_TIMEOUT */
#define READ_TIMEOUT_MS 2000    /* DistroFilter.PROXY_READ_TIMEOUT */
#define CONNS_PER_MEMBER 4
#define NACOS_VERSION "2.4.3" /* VersionUtils.version, as server/admin.c */
#define MAX_HEADERS 100       /* copied from the request; more are dropped */

/* One keep-alive connection to a member. */
struct slot {
    struct lc_http_conn *conn; /* NULL: free */
    char addr[LC_MEMBER_ADDR_MAX];
    unsigned inflight; /* forwards sent or queued on it */
};

struct lc_ns_forward {
    uv_loop_t *loop;
    struct slot slots[LC_MEMBERS_MAX * CONNS_PER_MEMBER];
    unsigned pending; /* forwards not answered yet */
    bool closing;
};

/* The Raft group a forwarded write may have written to, to catch up with
 * before relaying (a barrier is an entry of its own: one group only). */
enum barrier { BARRIER_NONE, BARRIER_PERSISTENT, BARRIER_META };

/* One forwarded exchange. */
struct fwd {
    struct lc_http_call call;
    struct lc_ns_forward *f;
    struct lc_naming *n;
    struct slot *slot;
    struct lc_http_exchange *ex;
    char target[LC_MEMBER_ADDR_MAX];
    enum barrier barrier; /* before relaying a 2xx answer */
    /* The answer held during the barriers. */
    struct lc_op op;
    int status;
    char *body;
    size_t len;
};

static void maybe_free(struct lc_ns_forward *f)
{
    if (f->closing && f->pending == 0) {
        free(f);
    }
}

void lc_ns_forward_close(struct lc_ns_forward *f)
{
    if (f == NULL) {
        return;
    }
    f->closing = true;
    for (size_t i = 0; i < LC_ARRAY_SIZE(f->slots); i++) {
        if (f->slots[i].conn != NULL) {
            lc_http_conn_close(f->slots[i].conn); /* queued: LC_ECANCELED */
            f->slots[i].conn = NULL;
        }
    }
    maybe_free(f);
}

/* A connection to @m: an idle one, else a new one while the member has
 * fewer than CONNS_PER_MEMBER (a free slot, or one idle slot of another
 * address, which members no longer need), else the least busy. NULL when
 * out of memory. */
static struct slot *pick(struct lc_ns_forward *f, const struct lc_member *m)
{
    struct slot *best = NULL;
    struct slot *spare = NULL;
    unsigned mine = 0;

    for (size_t i = 0; i < LC_ARRAY_SIZE(f->slots); i++) {
        struct slot *s = &f->slots[i];
        if (s->conn == NULL) {
            spare = spare != NULL && spare->conn == NULL ? spare : s;
            continue;
        }
        if (strcmp(s->addr, m->addr) != 0) {
            if (s->inflight == 0 && spare == NULL) {
                spare = s;
            }
            continue;
        }
        mine++;
        if (s->inflight == 0) {
            return s;
        }
        if (best == NULL || s->inflight < best->inflight) {
            best = s;
        }
    }
    if ((mine < CONNS_PER_MEMBER || best == NULL) && spare != NULL) {
        if (spare->conn != NULL) {
            lc_http_conn_close(spare->conn);
            spare->conn = NULL;
        }
        if (lc_http_conn_new(f->loop, m->host, m->port, 0, &spare->conn) == 0) {
            lc_strlcpy(spare->addr, m->addr, sizeof spare->addr);
            spare->inflight = 0;
            return spare;
        }
        spare->conn = NULL;
    }
    return best;
}

/* What Java's exception says of the forward's failure @status (toString():
 * class name, ": ", message). */
static void java_failure(const struct fwd *w, int status, char *out,
                         size_t size)
{
    bool sent = lc_http_call_sent(&w->call);

    switch (status) {
        case LC_ETIMEDOUT:
            snprintf(out, size, "java.net.SocketTimeoutException: %s",
                     sent ? "Read timed out" : "connect timed out");
            return;
        case LC_ECONN:
            if (sent) {
                snprintf(out, size,
                         "org.apache.http.NoHttpResponseException: %s "
                         "failed to respond",
                         w->target);
            } else {
                snprintf(out, size,
                         "java.net.ConnectException: Connection refused");
            }
            return;
        case LC_EPROTO:
            snprintf(out, size,
                     "org.apache.http.ProtocolException: Invalid response "
                     "from %s",
                     w->target);
            return;
    }
    snprintf(out, size, "java.io.IOException: %s", lc_strerror(status));
}

static const char ct_json[] = "application/json;charset=UTF-8";

/* Relay the held answer and forget @w. */
static void relay_held(struct fwd *w)
{
    struct lc_ns_forward *f = w->f;

    lc_http_reply_take(w->ex, w->status, ct_json, w->body, w->len);
    free(w);
    f->pending--;
    maybe_free(f);
}

static void on_barrier(struct lc_op *op, const struct lc_err *e)
{
    (void)e; /* acknowledged by the target: relayed whatever happens here */
    relay_held(LC_CONTAINER_OF(op, struct fwd, op));
}

/* Hold the target's 2xx answer until this member has caught up with what
 * was committed; false when the barrier cannot start (relay now). */
static bool hold(struct fwd *w, int http_status, const char *body, size_t len)
{
    struct lc_err e;
    int rv;

    if (w->barrier == BARRIER_NONE || http_status < 200 || http_status > 299 ||
        w->f->closing || w->n->persistent_sm == NULL) {
        return false;
    }
    w->body = malloc(len + 1);
    if (w->body == NULL) {
        return false;
    }
    memcpy(w->body, body, len);
    w->len = len;
    w->status = http_status;
    rv = w->barrier == BARRIER_META
             ? lc_op_barrier_meta(w->n, &w->op, on_barrier, &e)
             : lc_op_barrier(w->n, &w->op, on_barrier, &e);
    if (rv != 0) {
        free(w->body);
        w->body = NULL;
        return false;
    }
    return true;
}

static void on_answer(struct lc_http_call *call, int status, int http_status,
                      const char *body, size_t len)
{
    struct fwd *w = call->data;
    struct lc_ns_forward *f = w->f;

    if (w->slot != NULL && w->slot->inflight > 0) {
        w->slot->inflight--;
    }
    if (status == 0 && hold(w, http_status, body, len)) {
        return;
    }
    if (status == 0) {
        lc_http_reply(w->ex, http_status, ct_json, body, len);
    } else {
        char msg[400];
        java_failure(w, status, msg, sizeof msg);
        lc_warnf("naming", "[DISTRO-FILTER] request failed: %s%s: %s",
                 w->target, lc_http_path(w->ex), msg);
        lc_http_reply(w->ex, 500, ct_json, msg, strlen(msg));
    }
    free(w);
    f->pending--;
    maybe_free(f);
}

/* Parameters sorted by name, then by position: the first of each name
 * leads its run. */
struct param {
    const char *name;
    const char *value;
    size_t at;
};

static int param_cmp(const void *a, const void *b)
{
    const struct param *x = a;
    const struct param *y = b;
    int c = strcmp(x->name, y->name);
    if (c != 0) {
        return c;
    }
    return x->at < y->at ? -1 : x->at > y->at;
}

/* Append @text as it is to the growable buffer *@buf. */
static int append_raw(char **buf, size_t *len, size_t *cap, const char *text)
{
    size_t n = strlen(text);

    if (*cap - *len < n + 1) {
        size_t c = *cap > 0 ? *cap : 256;
        char *nb;
        while (c - *len < n + 1) {
            c *= 2;
        }
        nb = realloc(*buf, c);
        if (nb == NULL) {
            return LC_ENOMEM;
        }
        *buf = nb;
        *cap = c;
    }
    memcpy(*buf + *len, text, n + 1);
    *len += n;
    return 0;
}

/* "<path>?<name>=<value>&...&encoding=UTF-8&nofix=1" into *@out
 * (malloc'd): the first value of each parameter name, URL-encoded. */
static int build_url(const struct lc_http_exchange *ex, char **out)
{
    const char *name;
    const char *value;
    struct param *ps;
    size_t n = 0;
    char *buf = NULL;
    size_t len = 0;
    size_t cap = 0;
    int rv;

    while (lc_http_param_at(ex, n, &name, &value)) {
        n++;
    }
    ps = malloc((n > 0 ? n : 1) * sizeof *ps);
    if (ps == NULL) {
        return LC_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        lc_http_param_at(ex, i, &ps[i].name, &ps[i].value);
        ps[i].at = i;
    }
    qsort(ps, n, sizeof *ps, param_cmp);
    /* The path is one of the routed ones: plain ASCII. */
    rv = append_raw(&buf, &len, &cap, lc_http_path(ex));
    rv = rv != 0 ? rv : append_raw(&buf, &len, &cap, "?");
    for (size_t i = 0; i < n && rv == 0; i++) {
        if (i > 0 && strcmp(ps[i].name, ps[i - 1].name) == 0) {
            continue;
        }
        if ((rv = lc_http_urlencode_append(&buf, &len, &cap, ps[i].name)) !=
                0 ||
            (rv = append_raw(&buf, &len, &cap, "=")) != 0 ||
            (rv = lc_http_urlencode_append(&buf, &len, &cap, ps[i].value)) !=
                0) {
            break;
        }
        rv = append_raw(&buf, &len, &cap, "&");
    }
    rv = rv != 0 ? rv : append_raw(&buf, &len, &cap, "encoding=UTF-8&nofix=1");
    free(ps);
    if (rv != 0) {
        free(buf);
        return rv;
    }
    *out = buf;
    return 0;
}

/* Headers DistroFilter's HttpClient does not carry over: those of the
 * connection (the client writes its own) and those it overrides. */
static bool header_dropped(const char *name)
{
    static const char *const dropped[] = {
        "Host",       "Content-Length", "Transfer-Encoding",
        "Connection", "Keep-Alive",     "Proxy-Connection",
        "TE",         "Trailer",        "Upgrade",
        "Expect",     "Content-Type",   "Client-Version",
        "User-Agent", "Request-Source", "Accept-Charset",
    };
    for (size_t i = 0; i < LC_ARRAY_SIZE(dropped); i++) {
        if (strcasecmp(name, dropped[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* The Raft group @ex may write to: the persistent instances' (register,
 * deregister, health) unless the request says ephemeral=true, the
 * overlays' (update, patch, metadata/batch), none for a beat. */
static enum barrier which_group(const struct lc_http_exchange *ex)
{
    const char *path = lc_http_path(ex);
    const char *eph = lc_http_param(ex, "ephemeral");
    unsigned m = lc_http_method(ex);

    if (strcmp(path, "/nacos/v1/ns/instance/beat") == 0) {
        return BARRIER_NONE;
    }
    if (strcmp(path, "/nacos/v1/ns/instance/metadata/batch") == 0 ||
        m == LC_HTTP_PUT || m == LC_HTTP_PATCH) {
        return strncmp(path, "/nacos/v1/ns/health", 19) == 0
                   ? BARRIER_PERSISTENT
                   : BARRIER_META;
    }
    if (eph != NULL && strcasecmp(eph, "true") == 0) {
        return BARRIER_NONE; /* memory only */
    }
    return BARRIER_PERSISTENT;
}

void lc_ns_forward(struct lc_naming *n, struct lc_http_exchange *ex,
                   const struct lc_member *target)
{
    const char *headers[2 * (MAX_HEADERS + 6) + 1];
    struct lc_ns_forward *f = n->forward;
    const char *name;
    const char *value;
    const char *ctype = lc_http_header(ex, "Content-Type");
    const char *body = NULL;
    size_t body_len = 0;
    size_t h = 0;
    size_t fixed; /* where the headers set here start */
    size_t copied = 0;
    struct fwd *w;
    char *url = NULL;
    int rv;

    if (f == NULL) {
        f = calloc(1, sizeof *f);
        if (f == NULL) {
            lc_naming_failf(ex, LC_ENOMEM, "out of memory");
            return;
        }
        f->loop = n->loop;
        n->forward = f;
    }
    w = calloc(1, sizeof *w);
    if (w == NULL || build_url(ex, &url) != 0) {
        free(w);
        lc_naming_failf(ex, LC_ENOMEM, "out of memory");
        return;
    }
    w->f = f;
    w->n = n;
    w->barrier = which_group(ex);
    w->ex = ex;
    w->call.data = w;
    lc_strlcpy(w->target, target->addr, sizeof w->target);

    for (size_t i = 0;
         lc_http_header_at(ex, i, &name, &value) && copied < MAX_HEADERS; i++) {
        bool seen = false;
        if (header_dropped(name) || (n->peer_id_key[0] != '\0' &&
                                     strcasecmp(name, n->peer_id_key) == 0)) {
            continue; /* a client's identity header is never passed on */
        }
        for (size_t j = 0; j < h && !seen; j += 2) {
            seen = strcasecmp(headers[j], name) == 0;
        }
        if (!seen) {
            headers[h++] = name;
            headers[h++] = value;
            copied++;
        }
    }
    fixed = h;
    headers[h++] = "Client-Version";
    headers[h++] = NACOS_VERSION;
    headers[h++] = "User-Agent";
    headers[h++] = "Nacos-Server:" NACOS_VERSION;
    headers[h++] = "Request-Source";
    headers[h++] = lc_members_self(n->members)->addr;
    headers[h++] = "Accept-Charset";
    headers[h++] = "UTF-8";
    if (n->peer_id_key[0] != '\0') {
        headers[h++] = n->peer_id_key;
        headers[h++] = n->peer_id_value;
    }
    headers[h] = NULL;
    /* A form body was read for the parameters; anything else is sent on. */
    if (ctype == NULL ||
        strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0) {
        body = lc_http_body(ex, &body_len);
    }

    struct lc_http_req req = {
        .method = lc_http_method_name(ex),
        .path = url,
        .content_type = "application/x-www-form-urlencoded",
        .body = body,
        .len = body_len,
        .headers = headers,
        .connect_timeout_ms = CONNECT_TIMEOUT_MS,
        .read_timeout_ms = READ_TIMEOUT_MS,
    };
    w->slot = pick(f, target);
    rv = w->slot == NULL
             ? LC_ENOMEM
             : lc_http_conn_request(w->slot->conn, &w->call, &req, on_answer);
    if (rv == LC_EINVAL) {
        /* A header value the client may not send again (CR or LF, which
         * the server would not have parsed): forward without the copies. */
        req.headers = headers + fixed;
        rv = lc_http_conn_request(w->slot->conn, &w->call, &req, on_answer);
    }
    free(url);
    if (rv != 0) {
        free(w);
        lc_naming_failf(ex, rv, "Server failed, caused: %s;", lc_strerror(rv));
        return;
    }
    w->slot->inflight++;
    f->pending++;
}
