/* Distro (distro.h): sync, verify, expiry and the startup load over
 * DistroDataRequest on the cluster port (../shared/protocol.md §5).
 *
 * The wire is Nacos's: {"distroData":{"distroKey":{"resourceKey",
 * "resourceType":"Nacos:Naming:v2:ClientData","targetServer"},"type",
 * "content":"<base64 JSON>"},"dataOperation"}. Three locus extensions,
 * each a field Nacos's Jackson ignores (FAIL_ON_UNKNOWN_PROPERTIES off), so
 * a request still decodes as the one distroData it carries:
 *
 *   "locusBatch":[distroData...]  more ADD/CHANGE/DELETE items after
 *       distroData, checked whole before any is applied: one request
 *       carries every change due to a peer (a registration storm is a few
 *       requests, not one per client);
 *   "locusVerify":[["clientId",revision],...]  a VERIFY of many clients
 *       (distroData holds the first as Nacos's VerifyData); the answer
 *       lists the failed ones in "locusFailed":[...] and succeeds;
 *   "locusSnapshot":{"session":s,"cursor":c}  a SNAPSHOT in pieces: the
 *       answer holds clients [c, next) of a list of client ids frozen when
 *       session 0 asks (the answer names the session), each piece below
 *       piece_bytes, and "locusSnapshot":{"session","next"} (next -1: the
 *       last piece). Without it the whole snapshot is one answer, as Nacos.
 *
 * Sync. A change of a client this member owns (lc_sync_owned) marks it
 * dirty for every peer, at most once (changes merge); sync_delay_ms later
 * everything due for a peer goes in one request (as many as piece_bytes
 * needs), one request in flight per peer. A client that is gone is sent as
 * DELETE. A failed request's clients are due again after sync_retry_ms.
 * Nothing is sent to a DOWN peer: its changes wait until it is back.
 *
 * Verify. Every verify_interval_ms: synced clients not renewed within
 * client_expired_ms go; then the revisions of the owned clients go to every
 * UP peer in locusVerify pieces; each failed client is synced to that peer
 * at once (Nacos's ClientVerifyFailedEvent and its ADD).
 *
 * Startup load. The peers are asked in turn for a snapshot; the first that
 * answers every piece ends the load. A peer failing mid-load: the next is
 * asked from the start (applying is idempotent). A peer still loading
 * itself answers {"locusSnapshot":{"loading":true}} and the next is asked.
 * A round where every peer failed to connect or was loading means no other
 * member holds the cluster's view: nothing to load, loaded. A
 * round where some peer was reachable but failed is retried after
 * load_retry_ms.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "distro/distro.h"
#include "members/members.h"
#include "naming/ops/sync.h"
#include "rpc/cluster/peers.h"
#include "rpc/grpc/nclient.h"

#define RESOURCE_TYPE "Nacos:Naming:v2:ClientData"
#define REQ_TYPE "DistroDataRequest"
#define RESP_TYPE "DistroDataResponse"
#define SESSIONS_MAX 4
#define SESSION_IDLE_MS 60000

void lc_distro_config_default(struct lc_distro_config *cfg)
{
    *cfg = (struct lc_distro_config){
        .sync_delay_ms = 20,
        .sync_timeout_ms = 3000,
        .sync_retry_ms = 3000,
        .verify_interval_ms = 5000,
        .verify_timeout_ms = 3000,
        .load_retry_ms = 30000,
        .load_timeout_ms = 30000,
        .client_expired_ms = 180000,
        .piece_bytes = 4u << 20,
    };
}

/* ---------------------------------------------------------------- base64 */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Append @len bytes of @in base64-encoded to @out (room: 4 * ceil(len/3)). */
static size_t b64_encode(const unsigned char *in, size_t len, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = b64[v & 63];
    }
    if (i < len) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < len) {
            v |= (unsigned)in[i + 1] << 8;
        }
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    return o;
}

/* The 6-bit value of each base64 character, 64 for any other byte. */
static unsigned char b64_values[256];

static void b64_init(void)
{
    memset(b64_values, 64, sizeof b64_values);
    for (unsigned i = 0; i < 64; i++) {
        b64_values[(unsigned char)b64[i]] = (unsigned char)i;
    }
}

/* Decode @in (@len chars) into a malloc'd NUL-terminated buffer; NULL on
 * bad input or out of memory. */
static char *b64_decode(const char *in, size_t len, size_t *out_len)
{
    char *out;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    if (len % 4 != 0) {
        return NULL;
    }
    out = malloc(len / 4 * 3 + 1);
    if (out == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned v = b64_values[(unsigned char)in[i]];
        if (v == 64) {
            if (in[i] != '=' || i < len - 2 ||
                (i == len - 2 && in[len - 1] != '=')) {
                free(out);
                return NULL;
            }
            break;
        }
        acc = acc << 6 | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

/* The JSON content of distroData @dd, parsed (NULL: absent or bad). */
static json_t *content_of(const json_t *dd)
{
    const json_t *c = json_object_get(dd, "content");
    size_t len;
    char *text;
    json_t *v;
    if (!json_is_string(c)) {
        return NULL;
    }
    text = b64_decode(json_string_value(c), json_string_length(c), &len);
    if (text == NULL) {
        return NULL;
    }
    v = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    free(text);
    return v;
}

/* ------------------------------------------------------------- the module */

struct dirty {
    uint64_t due;
    UT_hash_handle hh;
    char id[]; /* the Distro client id */
};

struct peer {
    struct lc_distro *d;
    char addr[LC_MEMBER_ADDR_MAX];
    struct dirty *dirty; /* by id, in insertion order */
    uv_timer_t timer;
    uint64_t timer_due; /* when the timer fires, while active */
    bool timer_open;
    struct lc_nreq req;
    bool in_flight;
    char **sent; /* ids of the request in flight */
    size_t n_sent;
    unsigned verifying; /* verify pieces in flight */
    struct peer *next;
};

struct session {
    uint64_t id;
    uint64_t used_ms;
    char **ids;
    size_t count;
};

struct verify_req {
    struct lc_nreq r;
    struct peer *p;
};

struct lc_distro {
    uv_loop_t *loop;
    struct lc_naming *n;
    struct lc_peers *peers;
    struct lc_members *ms;
    struct lc_distro_config cfg;
    struct peer *peer_list;
    bool applying; /* changes come from a peer: do not sync them back */
    bool loaded;
    bool closing;
    unsigned refs; /* the module, open handles, requests in flight */
    uv_timer_t verify_timer;
    uv_timer_t load_timer;

    /* startup load */
    unsigned load_index;    /* the member asked */
    bool load_reachable;    /* some peer answered this round */
    uint64_t load_session;
    long long load_cursor;
    struct lc_nreq load_req;
    uint64_t load_started;
    size_t load_clients;
    json_t *load_pending; /* a piece received, to apply (apply_timer) */
    bool load_pending_last;
    char load_from[LC_MEMBER_ADDR_MAX];
    uv_timer_t apply_timer;

    /* snapshot sessions served */
    struct session sessions[SESSIONS_MAX];
    uint64_t next_session;

    struct lc_peers_observer obs; /* member states */

    /* lc_distro_flush */
    uv_timer_t flush_timer;
    uint64_t flush_until;
    void (*flush_cb)(void *data);
    void *flush_data;

    /* pump's render cache */
    struct rendered *rendered;
    uint64_t rendered_ms;

    /* counters (logs, tests) */
    unsigned long synced, sync_failures, verify_failed;
    unsigned too_big_logged;
};

static void cache_clear(struct lc_distro *d);

static void unref(struct lc_distro *d)
{
    if (--d->refs > 0) {
        return;
    }
    for (struct peer *p = d->peer_list, *next; p != NULL; p = next) {
        struct dirty *x, *tmp;
        next = p->next;
        HASH_ITER(hh, p->dirty, x, tmp)
        {
            HASH_DEL(p->dirty, x);
            free(x);
        }
        free(p);
    }
    cache_clear(d);
    for (unsigned i = 0; i < SESSIONS_MAX; i++) {
        for (size_t j = 0; j < d->sessions[i].count; j++) {
            free(d->sessions[i].ids[j]);
        }
        free(d->sessions[i].ids);
    }
    free(d);
}

static void on_handle_closed(uv_handle_t *h)
{
    unref(h->data);
}

static uint64_t now_ms(struct lc_distro *d)
{
    return uv_now(d->loop);
}

static const struct lc_member *member_of(struct lc_distro *d, const char *addr)
{
    return lc_members_find(d->ms, addr);
}

static bool peer_down(struct lc_distro *d, const char *addr)
{
    const struct lc_member *m = member_of(d, addr);
    enum lc_member_state st;
    if (m == NULL) {
        return true;
    }
    st = lc_members_state(d->ms, m);
    return st == LC_MEMBER_DOWN || st == LC_MEMBER_ISOLATION;
}

static struct peer *peer_get(struct lc_distro *d, const char *addr)
{
    struct peer *p;
    for (p = d->peer_list; p != NULL; p = p->next) {
        if (strcmp(p->addr, addr) == 0) {
            return p;
        }
    }
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        return NULL;
    }
    p->d = d;
    snprintf(p->addr, sizeof p->addr, "%s", addr);
    uv_timer_init(d->loop, &p->timer);
    p->timer.data = d;
    p->timer_open = true;
    d->refs++;
    p->next = d->peer_list;
    d->peer_list = p;
    return p;
}

/* ------------------------------------------------------------------ sync */

static void pump(struct peer *p);

static void on_peer_timer(uv_timer_t *t)
{
    struct peer *p =
        (struct peer *)((char *)t - offsetof(struct peer, timer));
    pump(p);
}

/* Fire the peer's timer at @due unless it fires earlier already. */
static void arm_at(struct peer *p, uint64_t due)
{
    uint64_t now = now_ms(p->d);
    if (p->in_flight || p->d->closing ||
        (uv_is_active((uv_handle_t *)&p->timer) && p->timer_due <= due)) {
        return;
    }
    p->timer_due = due;
    uv_timer_start(&p->timer, on_peer_timer, due > now ? due - now : 0, 0);
}

/* Arm for the earliest due client. */
static void arm(struct peer *p)
{
    struct dirty *x, *tmp;
    uint64_t min = UINT64_MAX;
    HASH_ITER(hh, p->dirty, x, tmp)
    {
        min = x->due < min ? x->due : min;
    }
    if (min != UINT64_MAX) {
        arm_at(p, min);
    }
}

static void mark(struct peer *p, const char *id, uint64_t due)
{
    struct dirty *x;
    size_t len = strlen(id);
    HASH_FIND(hh, p->dirty, id, len, x);
    if (x != NULL) {
        if (due < x->due) {
            x->due = due;
            arm_at(p, due);
        }
        return;
    }
    x = malloc(sizeof *x + len + 1);
    if (x == NULL) {
        lc_errorf("distro", "out of memory marking %s for %s", id, p->addr);
        return;
    }
    x->due = due;
    memcpy(x->id, id, len + 1);
    HASH_ADD(hh, p->dirty, id, len, x);
    arm_at(p, due);
}

static void cache_forget(struct lc_distro *d, const char *id);

/* A client of ours changed: due to every peer. */
static void on_change(const char *id, void *data)
{
    struct lc_distro *d = data;
    uint64_t due;
    cache_forget(d, id);
    if (d->applying || d->closing || !lc_sync_owned(d->n, id)) {
        return;
    }
    due = now_ms(d) + d->cfg.sync_delay_ms;
    for (unsigned i = 0; i < lc_members_count(d->ms); i++) {
        const struct lc_member *m = lc_members_at(d->ms, i);
        struct peer *p;
        if (m->self) {
            continue;
        }
        p = peer_get(d, m->addr);
        if (p != NULL) {
            mark(p, id, due);
        }
    }
}

/* A distroData of @type for @id with content @text (@len bytes of JSON;
 * NULL: none), as JSON. */
static json_t *distro_data_text(const char *id, const char *target,
                                const char *type, const char *text,
                                size_t len)
{
    json_t *dd = json_pack("{s:{s:s,s:s,s:s},s:s}", "distroKey", "resourceKey",
                           id, "resourceType", RESOURCE_TYPE, "targetServer",
                           target, "type", type);
    if (dd != NULL && text != NULL) {
        char *enc = malloc(len / 3 * 4 + 8);
        if (enc != NULL) {
            size_t n = b64_encode((const unsigned char *)text, len, enc);
            json_object_set_new(dd, "content", json_stringn(enc, n));
        }
        free(enc);
    }
    return dd;
}

/* The same with @content (NULL: none) as a tree. */
static json_t *distro_data(const char *id, const char *target,
                           const char *type, const json_t *content)
{
    char *text = content != NULL ? json_dumps(content, JSON_COMPACT) : NULL;
    json_t *dd = distro_data_text(id, target, type, text,
                                  text != NULL ? strlen(text) : 0);
    free(text);
    return dd;
}

static void on_sync_answer(struct lc_nreq *r, int status, const char *type,
                           json_t *body);

/* Whether a client whose base64 content is @len bytes is larger than one
 * message may be (above 1.3 piece_bytes, the piece being half the cluster
 * port's inbound limit): such a client is not synced (logged, the first
 * times); its peers keep their copy until it expires. */
static bool too_big(struct lc_distro *d, const char *id, size_t len)
{
    if (len <= d->cfg.piece_bytes / 10 * 13) {
        return false;
    }
    if (d->too_big_logged < 10) {
        d->too_big_logged++;
        lc_errorf("distro", "client %s is too large to sync (%zu bytes "
                            "encoded): split its instances over more "
                            "connections",
                  id, len);
    }
    return true;
}

static void free_sent(struct peer *p)
{
    for (size_t i = 0; i < p->n_sent; i++) {
        free(p->sent[i]);
    }
    free(p->sent);
    p->sent = NULL;
    p->n_sent = 0;
}


/* ------------------------------------------------------- render cache */

/* A client's base64 content, rendered once for all the peers it is due
 * to. An entry goes when its client changes (on_change), and the whole
 * cache at the next millisecond, so it never outlives one burst of
 * pumps. */
struct rendered {
    char *b64;
    size_t len;
    UT_hash_handle hh;
    char id[];
};

static void cache_forget(struct lc_distro *d, const char *id)
{
    struct rendered *r;
    HASH_FIND_STR(d->rendered, id, r);
    if (r != NULL) {
        HASH_DEL(d->rendered, r);
        free(r->b64);
        free(r);
    }
}

static void cache_clear(struct lc_distro *d)
{
    struct rendered *r, *tmp;
    HASH_ITER(hh, d->rendered, r, tmp)
    {
        HASH_DEL(d->rendered, r);
        free(r->b64);
        free(r);
    }
}

/* The base64 ClientSyncData of @id (borrowed from the cache), NULL when
 * the client is gone (or out of memory: *@oom). */
static const struct rendered *cache_get(struct lc_distro *d, const char *id,
                                        bool *oom)
{
    struct rendered *r;
    size_t len, idlen = strlen(id);
    char *text;
    *oom = false;
    if (d->rendered_ms != now_ms(d)) {
        cache_clear(d);
        d->rendered_ms = now_ms(d);
    }
    HASH_FIND(hh, d->rendered, id, idlen, r);
    if (r != NULL) {
        return r;
    }
    text = lc_sync_text(d->n, id, &len);
    if (text == NULL) {
        return NULL;
    }
    r = malloc(sizeof *r + idlen + 1);
    if (r != NULL) {
        r->b64 = malloc(len / 3 * 4 + 8);
    }
    if (r == NULL || r->b64 == NULL) {
        free(r);
        free(text);
        *oom = true;
        return NULL;
    }
    r->len = b64_encode((const unsigned char *)text, len, r->b64);
    free(text);
    memcpy(r->id, id, idlen + 1);
    HASH_ADD(hh, d->rendered, id, idlen, r);
    return r;
}


/* One distroData item of @type for @id (content @b64: NULL for none). */
static void buf_item(struct lc_buf *b, const char *id, const char *target,
                     const char *type, const struct rendered *r)
{
    LC_BUF_LIT(b, "{\"distroKey\":{\"resourceKey\":");
    lc_buf_json_str(b, id);
    LC_BUF_LIT(b, ",\"resourceType\":\"" RESOURCE_TYPE "\",\"targetServer\":");
    lc_buf_json_str(b, target);
    LC_BUF_LIT(b, "},\"type\":\"");
    lc_buf_add(b, type, strlen(type));
    lc_buf_add(b, "\"", 1);
    if (r != NULL) {
        LC_BUF_LIT(b, ",\"content\":\"");
        lc_buf_add(b, r->b64, r->len);
        lc_buf_add(b, "\"", 1);
    }
    lc_buf_add(b, "}", 1);
}

/* Send what is due to @p, one request at a time. The request is written
 * as text: its items' contents are rendered once for every peer. */
static void pump(struct peer *p)
{
    struct lc_distro *d = p->d;
    uint64_t now = now_ms(d);
    struct dirty *x, *tmp;
    struct lc_buf items = {0}, body = {0};
    size_t bytes = 0, cap = 0, first_len = 0;
    const char *first_type = NULL;
    int rv;

    if (p->in_flight || d->closing || p->dirty == NULL) {
        return;
    }
    if (peer_down(d, p->addr)) {
        /* Nothing is sent to a DOWN peer; what is due waits for it to be
         * back (lc_peers_observe), so a DELETE is not lost across a
         * partition (Nacos drops the task and relies on the expiry). */
        arm_at(p, now + d->cfg.sync_retry_ms);
        return;
    }
    HASH_ITER(hh, p->dirty, x, tmp)
    {
        const struct rendered *r = NULL;
        const char *type = NULL;
        bool oom;
        if (x->due > now) {
            continue;
        }
        if (bytes >= d->cfg.piece_bytes) {
            break;
        }
        if (!lc_sync_revision(d->n, x->id, &(uint64_t){0})) {
            type = "DELETE";
        } else if (lc_sync_owned(d->n, x->id)) {
            r = cache_get(d, x->id, &oom);
            type = r != NULL ? "CHANGE" : oom ? NULL : "DELETE";
        } /* else no longer ours: its member syncs it */
        if (r != NULL && too_big(d, x->id, r->len)) {
            type = NULL;
        }
        if (type != NULL) {
            bytes += 128 + strlen(x->id) + (r != NULL ? r->len : 0);
            if (p->n_sent == cap) {
                cap = cap == 0 ? 64 : cap * 2;
                char **grown = realloc(p->sent, cap * sizeof *grown);
                if (grown == NULL) {
                    break;
                }
                p->sent = grown;
            }
            p->sent[p->n_sent] = strdup(x->id);
            if (p->sent[p->n_sent] == NULL) {
                break;
            }
            p->n_sent++;
            if (first_type == NULL) {
                first_type = type;
            } else {
                lc_buf_add(&items, ",", 1);
            }
            buf_item(&items, x->id, p->addr, type, r);
            if (first_len == 0) {
                first_len = items.len;
            }
        }
        HASH_DEL(p->dirty, x);
        free(x);
    }
    if (first_type == NULL || items.oom) {
        for (size_t i = 0; items.oom && i < p->n_sent; i++) {
            mark(p, p->sent[i], now + d->cfg.sync_retry_ms);
        }
        free(items.p);
        free_sent(p);
        arm(p);
        return;
    }
    LC_BUF_LIT(&body,
            "{\"headers\":{},\"module\":\"cluster\",\"dataOperation\":\"");
    lc_buf_add(&body, first_type, strlen(first_type));
    LC_BUF_LIT(&body, "\",\"distroData\":");
    lc_buf_add(&body, items.p, first_len);
    if (items.len > first_len) {
        LC_BUF_LIT(&body, ",\"locusBatch\":[");
        lc_buf_add(&body, items.p + first_len + 1, items.len - first_len - 1);
        lc_buf_add(&body, "]", 1);
    }
    lc_buf_add(&body, "}", 1);
    free(items.p);
    p->req.data = p;
    rv = body.oom ? LC_ENOMEM
                  : lc_peers_request_text(d->peers, p->addr, &p->req, REQ_TYPE,
                                          body.p, body.len,
                                          d->cfg.sync_timeout_ms,
                                          on_sync_answer);
    free(body.p);
    if (rv != 0) {
        lc_warnf("distro", "sync to %s not sent: %s", p->addr, lc_strerror(rv));
        for (size_t i = 0; i < p->n_sent; i++) {
            mark(p, p->sent[i], now + d->cfg.sync_retry_ms);
        }
        free_sent(p);
        arm(p);
        return;
    }
    p->in_flight = true;
    d->refs++;
}


static void on_sync_answer(struct lc_nreq *r, int status, const char *type,
                           json_t *body)
{
    struct peer *p = r->data;
    struct lc_distro *d = p->d;
    (void)type;
    p->in_flight = false;
    if (!d->closing) {
        if (lc_nclient_ok(status, body)) {
            d->synced += p->n_sent;
        } else {
            uint64_t due = now_ms(d) + d->cfg.sync_retry_ms;
            d->sync_failures++;
            lc_warnf("distro", "sync of %zu client(s) to %s failed (%s%s%s), "
                               "retry in %u ms",
                     p->n_sent, p->addr,
                     status != 0 ? lc_strerror(status) : "refused",
                     status == 0 ? ": " : "",
                     status == 0 ? json_string_value(
                                       json_object_get(body, "message")) != NULL
                                       ? json_string_value(
                                             json_object_get(body, "message"))
                                       : ""
                                 : "",
                     d->cfg.sync_retry_ms);
            for (size_t i = 0; i < p->n_sent; i++) {
                mark(p, p->sent[i], due);
            }
        }
        free_sent(p);
        pump(p);
    } else {
        free_sent(p);
    }
    unref(d);
}

/* ---------------------------------------------------------------- verify */

struct owned {
    json_t *list; /* [[id, rev], ...] */
};

static void collect_owned(const char *id, uint64_t rev, void *data)
{
    struct owned *o = data;
    json_array_append_new(o->list,
                          json_pack("[s,I]", id, (json_int_t)rev));
}

static void on_verify_answer(struct lc_nreq *r, int status, const char *type,
                             json_t *body)
{
    struct verify_req *vr = (struct verify_req *)r;
    struct peer *p = vr->p;
    struct lc_distro *d = p->d;
    (void)type;
    p->verifying--;
    if (!d->closing && lc_nclient_ok(status, body)) {
        json_t *failed = json_object_get(body, "locusFailed");
        size_t i;
        json_t *v;
        json_array_foreach(failed, i, v)
        {
            if (json_is_string(v) && lc_sync_owned(d->n, json_string_value(v))) {
                d->verify_failed++;
                mark(p, json_string_value(v), now_ms(d));
            }
        }
        if (json_array_size(failed) > 0) {
            lc_infof("distro", "verify: %zu client(s) differ on %s: syncing",
                     json_array_size(failed), p->addr);
        }
    } else if (!d->closing) {
        lc_debugf("distro", "verify to %s failed: %s", p->addr,
                  status != 0 ? lc_strerror(status) : "refused");
    }
    free(vr);
    unref(d);
}

static void verify_piece(struct peer *p, json_t *list, size_t from, size_t to)
{
    struct lc_distro *d = p->d;
    json_t *piece = json_array();
    json_t *first = json_array_get(json_array_get(list, from), 0);
    json_t *rev = json_array_get(json_array_get(list, from), 1);
    json_t *vd, *dd, *body;
    struct verify_req *vr;
    for (size_t i = from; i < to; i++) {
        json_array_append(piece, json_array_get(list, i));
    }
    vd = json_pack("{s:O,s:O}", "clientId", first, "revision", rev);
    dd = distro_data(json_string_value(first), p->addr, "VERIFY", vd);
    json_decref(vd);
    body = json_pack("{s:o,s:s,s:o}", "distroData", dd, "dataOperation",
                     "VERIFY", "locusVerify", piece);
    vr = calloc(1, sizeof *vr);
    if (vr != NULL) {
        vr->p = p;
        if (lc_peers_request(d->peers, p->addr, &vr->r, REQ_TYPE, body,
                             d->cfg.verify_timeout_ms, on_verify_answer) == 0) {
            p->verifying++;
            d->refs++;
        } else {
            free(vr);
        }
    }
    json_decref(body);
}

static void on_verify_timer(uv_timer_t *t)
{
    struct lc_distro *d = t->data;
    struct owned o = {NULL};
    size_t count, per_piece;

    d->applying = true;
    lc_sync_expire(d->n, lc_mono_ms(), d->cfg.client_expired_ms);
    d->applying = false;
    if (!d->loaded) {
        return; /* Nacos skips verification until the load is done */
    }
    o.list = json_array();
    lc_sync_each(d->n, true, collect_owned, &o);
    count = json_array_size(o.list);
    /* ~80 bytes an entry: a piece stays well below piece_bytes */
    per_piece = d->cfg.piece_bytes / 80 > 0 ? d->cfg.piece_bytes / 80 : 1;
    for (unsigned i = 0; count > 0 && i < lc_members_count(d->ms); i++) {
        const struct lc_member *m = lc_members_at(d->ms, i);
        struct peer *p;
        if (m->self || lc_members_state(d->ms, m) != LC_MEMBER_UP) {
            continue;
        }
        p = peer_get(d, m->addr);
        if (p == NULL || p->verifying > 0) {
            continue;
        }
        for (size_t from = 0; from < count; from += per_piece) {
            verify_piece(p, o.list, from,
                         from + per_piece < count ? from + per_piece : count);
        }
    }
    json_decref(o.list);
}

/* --------------------------------------------------------------- handler */

static void fail(struct lc_rpc_req *req, const char *what)
{
    struct lc_err e;
    lc_err_set(&e, LC_ESERVER, "[DISTRO-FAILED] %s", what);
    lc_rpc_reply_error(req, RESP_TYPE, &e);
}

static bool good_key(const json_t *dd, const char **id)
{
    const json_t *key = json_object_get(dd, "distroKey");
    const json_t *rk = json_object_get(key, "resourceKey");
    const json_t *rt = json_object_get(key, "resourceType");
    if (!json_is_object(dd) || !json_is_object(key) || !json_is_string(rk) ||
        json_string_length(rk) == 0 ||
        json_string_length(rk) >= LC_SYNC_ID_MAX ||
        strlen(json_string_value(rk)) != json_string_length(rk) ||
        (rt != NULL && !json_is_null(rt) &&
         (!json_is_string(rt) ||
          strcmp(json_string_value(rt), RESOURCE_TYPE) != 0))) {
        return false;
    }
    *id = json_string_value(rk);
    return true;
}

/* One ADD/CHANGE/DELETE item, checked: its ClientSyncData in *@csd (NULL
 * for DELETE). */
static int check_item(struct lc_distro *d, const json_t *dd, json_t **csd,
                      struct lc_sync_prepared **prep, bool *del,
                      const char **id, struct lc_err *e)
{
    const char *type = json_string_value(json_object_get(dd, "type"));
    *csd = NULL;
    if (!good_key(dd, id) || type == NULL) {
        return lc_err_set(e, LC_EINVAL, "bad distroKey or type");
    }
    if (strcmp(type, "DELETE") == 0) {
        *del = true;
        return 0;
    }
    *del = false;
    if (strcmp(type, "ADD") != 0 && strcmp(type, "CHANGE") != 0) {
        return lc_err_set(e, LC_EINVAL, "unsupported type %s", type);
    }
    *csd = content_of(dd);
    if (*csd == NULL) {
        return lc_err_set(e, LC_EINVAL, "content is not base64 JSON");
    }
    if (lc_sync_prepare(d->n, *csd, prep, e) != 0) {
        json_decref(*csd);
        *csd = NULL;
        return e->code;
    }
    if (strcmp(json_string_value(json_object_get(*csd, "clientId")), *id) !=
        0) {
        lc_sync_prepared_free(*prep);
        *prep = NULL;
        json_decref(*csd);
        *csd = NULL;
        return lc_err_set(e, LC_EINVAL, "clientId is not the resourceKey");
    }
    return 0;
}

static void handle_sync(struct lc_distro *d, struct lc_rpc_req *req,
                        json_t *body, json_t *dd)
{
    json_t *more = json_object_get(body, "locusBatch");
    size_t count = 1 + json_array_size(more);
    json_t **csds;
    struct lc_sync_prepared **preps;
    const char **ids;
    bool *dels;
    struct lc_err e;
    size_t i;

    if (more != NULL && !json_is_array(more)) {
        fail(req, "distro data handle failed: locusBatch");
        return;
    }
    csds = calloc(count, sizeof *csds);
    preps = calloc(count, sizeof *preps);
    ids = calloc(count, sizeof *ids);
    dels = calloc(count, sizeof *dels);
    if (csds == NULL || preps == NULL || ids == NULL || dels == NULL) {
        fail(req, "out of memory");
        goto out;
    }
    for (i = 0; i < count; i++) {
        json_t *item = i == 0 ? dd : json_array_get(more, i - 1);
        if (check_item(d, item, &csds[i], &preps[i], &dels[i], &ids[i],
                       &e) != 0) {
            char what[2200];
            snprintf(what, sizeof what, "distro data handle failed: %s",
                     e.msg);
            lc_warnf("distro", "DistroDataRequest refused: %s", e.msg);
            fail(req, what);
            goto out;
        }
    }
    d->applying = true;
    for (i = 0; i < count; i++) {
        if (dels[i]) {
            lc_sync_delete(d->n, ids[i]);
        } else if (lc_sync_apply_prepared(d->n, preps[i], &e) != 0) {
            lc_warnf("distro", "sync of %s failed: %s", ids[i], e.msg);
        }
    }
    d->applying = false;
    lc_rpc_reply(req, RESP_TYPE, NULL);
out:
    for (i = 0; csds != NULL && preps != NULL && i < count; i++) {
        lc_sync_prepared_free(preps[i]); /* before its csd: it points in */
        json_decref(csds[i]);
    }
    free(preps);
    free(csds);
    free(ids);
    free(dels);
}

static void handle_verify(struct lc_distro *d, struct lc_rpc_req *req,
                          json_t *body, json_t *dd)
{
    json_t *list = json_object_get(body, "locusVerify");
    json_t *failed, *v, *answer;
    size_t i;
    const char *id;

    if (!d->loaded) {
        /* Still loading its snapshot: every client would fail and be
         * synced again on top of the load (twice the work for the same
         * data). The peer verifies again at its next interval. */
        fail(req, "distro data verify failed: startup load not done");
        return;
    }
    if (list == NULL) {
        /* Nacos's one VerifyData */
        json_t *vd = content_of(dd);
        json_t *rev = json_object_get(vd, "revision");
        id = json_string_value(json_object_get(vd, "clientId"));
        if (id == NULL || (rev != NULL && !json_is_integer(rev))) {
            json_decref(vd);
            fail(req, "distro data verify failed");
            return;
        }
        if (!lc_sync_verify(d->n, id,
                            (uint64_t)json_integer_value(rev))) {
            json_decref(vd);
            fail(req, "distro data verify failed");
            return;
        }
        json_decref(vd);
        lc_rpc_reply(req, RESP_TYPE, NULL);
        return;
    }
    if (!json_is_array(list)) {
        fail(req, "distro data verify failed: locusVerify");
        return;
    }
    json_array_foreach(list, i, v)
    {
        json_t *rev = json_array_get(v, 1);
        if (!json_is_array(v) || json_array_size(v) != 2 ||
            !json_is_string(json_array_get(v, 0)) || !json_is_integer(rev) ||
            json_integer_value(rev) < 0) {
            fail(req, "distro data verify failed: locusVerify");
            return;
        }
    }
    failed = json_array();
    json_array_foreach(list, i, v)
    {
        id = json_string_value(json_array_get(v, 0));
        if (!lc_sync_verify(d->n, id,
                            (uint64_t)json_integer_value(
                                json_array_get(v, 1)))) {
            json_array_append_new(failed, json_string(id));
        }
    }
    answer = json_pack("{s:o}", "locusFailed", failed);
    lc_rpc_reply(req, RESP_TYPE, answer);
    json_decref(answer);
}

static void collect_all(const char *id, uint64_t rev, void *data)
{
    struct session *s = data;
    char *copy;
    (void)rev;
    if ((s->count & (s->count - 1)) == 0) { /* 0, 1, 2, 4, ...: grow */
        char **grown =
            realloc(s->ids, (s->count == 0 ? 1 : s->count * 2) * sizeof *grown);
        if (grown == NULL) {
            return;
        }
        s->ids = grown;
    }
    copy = strdup(id);
    if (copy != NULL) {
        s->ids[s->count++] = copy;
    }
}

static void session_drop(struct session *s)
{
    for (size_t j = 0; j < s->count; j++) {
        free(s->ids[j]);
    }
    free(s->ids);
    memset(s, 0, sizeof *s);
}

static struct session *session_find(struct lc_distro *d, uint64_t id)
{
    uint64_t now = now_ms(d);
    struct session *found = NULL;
    for (unsigned i = 0; i < SESSIONS_MAX; i++) {
        struct session *s = &d->sessions[i];
        if (s->id != 0 && now > s->used_ms + SESSION_IDLE_MS) {
            session_drop(s);
        }
        if (s->id != 0 && s->id == id) {
            found = s;
        }
    }
    return found;
}

static struct session *session_new(struct lc_distro *d)
{
    struct session *s = &d->sessions[0];
    for (unsigned i = 0; i < SESSIONS_MAX; i++) {
        if (d->sessions[i].id == 0) {
            s = &d->sessions[i];
            break;
        }
        if (d->sessions[i].used_ms < s->used_ms) {
            s = &d->sessions[i];
        }
    }
    session_drop(s);
    s->id = ++d->next_session;
    lc_sync_each(d->n, false, collect_all, s);
    return s;
}

/* The answer to a raw piece: the content as JSON in "locusContent", not
 * base64 text in distroData's "content" (no encoding here, one parse on
 * the asker). Frees @list. */
static void snapshot_raw_reply(struct lc_rpc_req *req, struct session *s,
                               size_t next, struct lc_buf *list)
{
    struct lc_buf out = {0};
    char tail[160];
    static const char head[] =
        "{\"resultCode\":200,\"errorCode\":0,\"success\":true,"
        "\"distroData\":{\"distroKey\":{\"resourceKey\":\"\","
        "\"resourceType\":\"" RESOURCE_TYPE "\"},\"type\":\"SNAPSHOT\"},"
        "\"locusContent\":";
    lc_buf_add(&out, head, sizeof head - 1);
    lc_buf_add(&out, list->p, list->len);
    snprintf(tail, sizeof tail,
             ",\"locusSnapshot\":{\"session\":%llu,\"next\":%lld,"
             "\"total\":%zu}}",
             (unsigned long long)s->id,
             next < s->count ? (long long)next : -1LL, s->count);
    lc_buf_add(&out, tail, strlen(tail));
    if (next >= s->count) {
        session_drop(s);
    }
    if (out.oom || list->oom) {
        free(out.p);
        free(list->p);
        fail(req, "out of memory");
        return;
    }
    free(list->p);
    lc_rpc_reply_text(req, RESP_TYPE, out.p, out.len);
    free(out.p);
}

static void handle_snapshot(struct lc_distro *d, struct lc_rpc_req *req,
                            json_t *body)
{
    json_t *ls = json_object_get(body, "locusSnapshot");
    json_t *sv = json_object_get(ls, "session");
    json_t *cv = json_object_get(ls, "cursor");
    json_t *rv = json_object_get(ls, "raw");
    bool raw = json_is_true(rv);
    struct session *s = NULL, whole = {0};
    struct lc_buf list = {0}, out = {0};
    json_int_t cursor = 0;
    size_t i, limit;
    char head[256];
    char *enc;

    if (ls != NULL && (!json_is_object(ls) ||
                       (sv != NULL && !json_is_integer(sv)) ||
                       (cv != NULL && !json_is_integer(cv)) ||
                       (rv != NULL && !json_is_boolean(rv)))) {
        fail(req, "distro data handle failed: locusSnapshot");
        return;
    }
    if (ls != NULL && !d->loaded && json_integer_value(sv) == 0) {
        /* Still loading itself: what it holds is not the cluster's view.
         * A locus member asking is told so and asks the next member; when
         * every member it reaches is loading (all started together), there
         * is nothing to load. */
        json_t *ans = json_pack("{s:{s:b}}", "locusSnapshot", "loading", 1);
        lc_rpc_reply(req, RESP_TYPE, ans);
        json_decref(ans);
        return;
    }
    if (ls != NULL) {
        cursor = json_integer_value(cv);
        if (json_integer_value(sv) != 0) {
            s = session_find(d, (uint64_t)json_integer_value(sv));
            if (s == NULL) {
                fail(req, "distro data handle failed: snapshot session "
                          "expired");
                return;
            }
        } else {
            s = session_new(d);
        }
        if (cursor < 0 || (size_t)cursor > s->count) {
            fail(req, "distro data handle failed: cursor");
            return;
        }
        s->used_ms = now_ms(d);
        limit = d->cfg.piece_bytes;
    } else {
        lc_sync_each(d->n, false, collect_all, &whole);
        s = &whole;
        limit = SIZE_MAX;
    }
    lc_buf_add(&list, "{\"clientSyncDataList\":[", 23);
    for (i = (size_t)cursor; i < s->count && list.len < limit; i++) {
        size_t len;
        char *text = lc_sync_text(d->n, s->ids[i], &len);
        if (text == NULL) {
            continue; /* gone since */
        }
        if (list.p[list.len - 1] != '[') {
            lc_buf_add(&list, ",", 1);
        }
        lc_buf_add(&list, text, len);
        free(text);
    }
    lc_buf_add(&list, "]}", 2);
    if (raw) {
        snapshot_raw_reply(req, s, i, &list);
        return;
    }
    enc = list.oom ? NULL : malloc(list.len / 3 * 4 + 8);
    if (enc == NULL) {
        free(list.p);
        if (s == &whole) {
            session_drop(&whole);
        }
        fail(req, "out of memory");
        return;
    }
    snprintf(head, sizeof head,
             "{\"resultCode\":200,\"errorCode\":0,\"success\":true,"
             "\"distroData\":{\"distroKey\":{\"resourceKey\":\"\","
             "\"resourceType\":\"" RESOURCE_TYPE "\"},\"type\":\"SNAPSHOT\","
             "\"content\":\"");
    lc_buf_add(&out, head, strlen(head));
    {
        size_t n = b64_encode((const unsigned char *)list.p, list.len, enc);
        lc_buf_add(&out, enc, n);
    }
    free(enc);
    free(list.p);
    if (ls != NULL) {
        snprintf(head, sizeof head,
                 "\"},\"locusSnapshot\":{\"session\":%llu,\"next\":%lld,"
                 "\"total\":%zu}}",
                 (unsigned long long)s->id,
                 i < s->count ? (long long)i : -1LL, s->count);
        if (i >= s->count) {
            session_drop(s);
        }
    } else {
        snprintf(head, sizeof head, "\"}}");
        session_drop(&whole);
    }
    lc_buf_add(&out, head, strlen(head));
    if (out.oom) {
        free(out.p);
        fail(req, "out of memory");
        return;
    }
    lc_rpc_reply_text(req, RESP_TYPE, out.p, out.len);
    free(out.p);
}

static void on_request(struct lc_rpc_req *req, void *data)
{
    struct lc_distro *d = data;
    json_t *body = lc_rpc_req_body(req);
    json_t *dd = json_object_get(body, "distroData");
    const char *type = json_string_value(json_object_get(dd, "type"));

    if (d->closing) {
        fail(req, "distro data handle failed: shutting down");
        return;
    }
    if (!json_is_object(dd) || type == NULL) {
        fail(req, "distro data handle failed: no distroData");
        return;
    }
    if (strcmp(type, "SNAPSHOT") == 0) {
        handle_snapshot(d, req, body);
    } else if (strcmp(type, "VERIFY") == 0) {
        handle_verify(d, req, body, dd);
    } else if (strcmp(type, "ADD") == 0 || strcmp(type, "CHANGE") == 0 ||
               strcmp(type, "DELETE") == 0) {
        handle_sync(d, req, body, dd);
    } else {
        fail(req, "distro data handle failed: unsupported type");
    }
}

/* ----------------------------------------------------------- startup load */

static void load_next(struct lc_distro *d);

static void loaded(struct lc_distro *d, const char *from)
{
    d->loaded = true;
    lc_infof("distro", "startup load done: %zu client(s) from %s in %llu ms",
             d->load_clients, from,
             (unsigned long long)(now_ms(d) - d->load_started));
}

static void on_load_timer(uv_timer_t *t)
{
    struct lc_distro *d = t->data;
    d->load_index = 0;
    d->load_reachable = false;
    load_next(d);
}

static void ask_piece(struct lc_distro *d);

static const struct lc_member *load_member(struct lc_distro *d)
{
    /* The load_index-th member that is not this node. */
    unsigned k = 0;
    for (unsigned i = 0; i < lc_members_count(d->ms); i++) {
        const struct lc_member *m = lc_members_at(d->ms, i);
        if (m->self) {
            continue;
        }
        if (k++ == d->load_index) {
            return m;
        }
    }
    return NULL;
}

static void apply_piece(struct lc_distro *d, json_t *list)
{
    size_t i;
    json_t *csd;
    struct lc_err e;
    d->applying = true;
    json_array_foreach(list, i, csd)
    {
        if (lc_sync_apply(d->n, csd, &e) != 0) {
            lc_warnf("distro", "snapshot entry refused: %s", e.msg);
        } else {
            d->load_clients++;
        }
    }
    d->applying = false;
}

/* Apply the piece waiting, if any; the last one ends the load. */
static void apply_pending(struct lc_distro *d)
{
    json_t *content = d->load_pending;
    if (content == NULL) {
        return;
    }
    d->load_pending = NULL;
    apply_piece(d, json_object_get(content, "clientSyncDataList"));
    json_decref(content);
    if (d->load_pending_last && !d->loaded) {
        loaded(d, d->load_from);
    }
}

static void on_apply_timer(uv_timer_t *t)
{
    struct lc_distro *d = t->data;
    if (!d->closing) {
        apply_pending(d);
    }
}

static void on_load_answer(struct lc_nreq *r, int status, const char *type,
                           json_t *body)
{
    struct lc_distro *d = r->data;
    const struct lc_member *m = load_member(d);
    const char *addr = m != NULL ? m->addr : "?";
    json_t *ls, *content, *next;
    bool more;
    (void)type;

    if (d->closing) {
        unref(d);
        return;
    }
    if (lc_nclient_ok(status, body) &&
        json_is_true(json_object_get(json_object_get(body, "locusSnapshot"),
                                     "loading"))) {
        lc_infof("distro", "%s is loading too: asking the next member", addr);
        d->load_index++;
        load_next(d);
        unref(d);
        return;
    }
    if (status == 0) {
        d->load_reachable = true;
    }
    if (!lc_nclient_ok(status, body)) {
        lc_warnf("distro", "snapshot from %s failed: %s", addr,
                 status != 0 ? lc_strerror(status)
                 : json_string_value(json_object_get(body, "message")) != NULL
                     ? json_string_value(json_object_get(body, "message"))
                     : "refused");
        d->load_index++;
        load_next(d);
        unref(d);
        return;
    }
    content = json_object_get(body, "locusContent");
    if (content != NULL) {
        json_incref(content);
    } else {
        content = content_of(json_object_get(body, "distroData"));
    }
    if (!json_is_array(json_object_get(content, "clientSyncDataList"))) {
        json_decref(content);
        lc_warnf("distro", "snapshot from %s: bad content", addr);
        d->load_index++;
        load_next(d);
        unref(d);
        return;
    }
    ls = json_object_get(body, "locusSnapshot");
    next = json_object_get(ls, "next");
    more = json_is_integer(next) && json_integer_value(next) >= 0;
    if (more) {
        /* Ask for the next piece before applying this one, so that the
         * peer renders it while this member applies (a failure to ask
         * moves on to the next peer; applying this piece stays right:
         * applying is idempotent). */
        d->load_session =
            (uint64_t)json_integer_value(json_object_get(ls, "session"));
        d->load_cursor = (long long)json_integer_value(next);
        ask_piece(d);
    }
    /* Applied 1 ms later, once the loop has sent the request for the next
     * piece (requests leave from an idle handle, after this callback): the
     * peer renders and sends it meanwhile. A piece still waiting is
     * applied first, in order. */
    apply_pending(d);
    d->load_pending = content;
    d->load_pending_last = !more;
    snprintf(d->load_from, sizeof d->load_from, "%s", addr);
    uv_timer_start(&d->apply_timer, on_apply_timer, 1, 0);
    unref(d);
}

static void ask_piece(struct lc_distro *d)
{
    const struct lc_member *m = load_member(d);
    json_t *body;
    int rv;
    if (m == NULL) {
        load_next(d);
        return;
    }
    body = json_pack("{s:{s:{s:s,s:s,s:s},s:s},s:s,s:{s:I,s:I,s:b}}",
                     "distroData",
                     "distroKey", "resourceKey", "", "resourceType",
                     RESOURCE_TYPE, "targetServer", m->addr, "type", "SNAPSHOT",
                     "dataOperation", "SNAPSHOT", "locusSnapshot", "session",
                     (json_int_t)d->load_session, "cursor",
                     (json_int_t)d->load_cursor, "raw", 1);
    d->load_req.data = d;
    rv = lc_peers_request(d->peers, m->addr, &d->load_req, REQ_TYPE, body,
                          d->cfg.load_timeout_ms, on_load_answer);
    json_decref(body);
    if (rv != 0) {
        lc_warnf("distro", "snapshot from %s not asked: %s", m->addr,
                 lc_strerror(rv));
        d->load_index++;
        load_next(d);
        return;
    }
    d->refs++;
}

/* Ask the load_index-th peer from the start, or end the round. */
static void load_next(struct lc_distro *d)
{
    if (d->closing || d->loaded) {
        return;
    }
    if (load_member(d) == NULL) {
        if (!d->load_reachable) {
            lc_infof("distro", "no other member reachable and loaded: "
                               "nothing to load");
            loaded(d, "nobody");
            return;
        }
        lc_warnf("distro", "snapshot from every member failed: retry in %u ms",
                 d->cfg.load_retry_ms);
        uv_timer_start(&d->load_timer, on_load_timer, d->cfg.load_retry_ms, 0);
        return;
    }
    d->load_session = 0;
    d->load_cursor = 0;
    ask_piece(d);
}

/* -------------------------------------------------------------- lifecycle */

/* A peer back from DOWN gets what waited for it at once. */
static void on_member_state(struct lc_peers_observer *obs,
                            const struct lc_member *m,
                            enum lc_member_state old_state,
                            enum lc_member_state new_state)
{
    struct lc_distro *d = obs->data;
    struct peer *p;
    (void)old_state;
    if (d->closing || m->self || !lc_member_state_healthy(new_state)) {
        return;
    }
    for (p = d->peer_list; p != NULL; p = p->next) {
        if (strcmp(p->addr, m->addr) == 0) {
            pump(p);
        }
    }
}

int lc_distro_new(uv_loop_t *loop, struct lc_naming *n, struct lc_peers *peers,
                  struct lc_members *ms, const struct lc_distro_config *cfg,
                  struct lc_distro **out)
{
    struct lc_distro *d = calloc(1, sizeof *d);
    int rv;
    if (d == NULL) {
        return LC_ENOMEM;
    }
    b64_init();
    d->loop = loop;
    d->n = n;
    d->peers = peers;
    d->ms = ms;
    d->cfg = *cfg;
    if (d->cfg.piece_bytes == 0) {
        d->cfg.piece_bytes = 4u << 20;
    }
    d->refs = 1;
    if (peers != NULL) {
        rv = lc_rpc_handle(lc_peers_rpc(peers), REQ_TYPE, LC_RPC_CLUSTER,
                           on_request, d);
        if (rv != 0) {
            free(d);
            return rv;
        }
    }
    if (peers != NULL) {
        d->obs.changed = on_member_state;
        d->obs.data = d;
        lc_peers_observe(peers, &d->obs);
    }
    rv = lc_sync_watch(n, on_change, d);
    if (rv != 0) {
        free(d);
        return rv;
    }
    uv_timer_init(loop, &d->verify_timer);
    d->verify_timer.data = d;
    uv_timer_init(loop, &d->load_timer);
    d->load_timer.data = d;
    uv_timer_init(loop, &d->flush_timer);
    d->flush_timer.data = d;
    uv_timer_init(loop, &d->apply_timer);
    d->apply_timer.data = d;
    d->refs += 4;
    *out = d;
    return 0;
}

void lc_distro_start(struct lc_distro *d)
{
    d->load_started = now_ms(d);
    uv_timer_start(&d->verify_timer, on_verify_timer,
                   d->cfg.verify_interval_ms, d->cfg.verify_interval_ms);
    if (d->peers == NULL || lc_members_count(d->ms) <= 1) {
        loaded(d, "nobody (standalone)");
        return;
    }
    d->load_index = 0;
    d->load_reachable = false;
    load_next(d);
}

static bool flushed(struct lc_distro *d)
{
    for (struct peer *p = d->peer_list; p != NULL; p = p->next) {
        if (p->in_flight || (p->dirty != NULL && !peer_down(d, p->addr))) {
            return false;
        }
    }
    return true;
}

static void on_flush_timer(uv_timer_t *t)
{
    struct lc_distro *d = t->data;
    void (*cb)(void *data) = d->flush_cb;
    if (cb == NULL || (!flushed(d) && now_ms(d) < d->flush_until)) {
        return;
    }
    d->flush_cb = NULL;
    uv_timer_stop(t);
    cb(d->flush_data);
}

void lc_distro_flush(struct lc_distro *d, unsigned timeout_ms,
                     void (*cb)(void *data), void *data)
{
    uint64_t now = now_ms(d);
    struct dirty *x, *tmp;
    lc_sync_watch(d->n, NULL, NULL); /* nothing new */
    uv_timer_stop(&d->verify_timer);
    uv_timer_stop(&d->load_timer);
    for (struct peer *p = d->peer_list; p != NULL; p = p->next) {
        HASH_ITER(hh, p->dirty, x, tmp)
        {
            x->due = now;
        }
        pump(p);
    }
    d->flush_cb = cb;
    d->flush_data = data;
    d->flush_until = now + timeout_ms;
    uv_timer_start(&d->flush_timer, on_flush_timer, 0, 10);
}

bool lc_distro_loaded(const struct lc_distro *d)
{
    return d == NULL || d->loaded;
}

void lc_distro_free(struct lc_distro *d)
{
    if (d == NULL) {
        return;
    }
    d->closing = true;
    lc_sync_watch(d->n, NULL, NULL);
    if (d->peers != NULL) {
        lc_peers_unobserve(d->peers, &d->obs);
    }
    uv_close((uv_handle_t *)&d->verify_timer, on_handle_closed);
    uv_close((uv_handle_t *)&d->load_timer, on_handle_closed);
    uv_close((uv_handle_t *)&d->flush_timer, on_handle_closed);
    uv_close((uv_handle_t *)&d->apply_timer, on_handle_closed);
    json_decref(d->load_pending);
    d->load_pending = NULL;
    for (struct peer *p = d->peer_list; p != NULL; p = p->next) {
        if (p->timer_open) {
            p->timer_open = false;
            uv_close((uv_handle_t *)&p->timer, on_handle_closed);
        }
    }
    unref(d);
}
