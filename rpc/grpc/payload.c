/* Nacos's Payload codec: protobuf Metadata{type, clientIp, headers} and a
 * body whose Any.value is the request's or response's JSON.
 *
 * Decoding copies what it keeps out of protobuf-c's message (the message is
 * freed before returning), so a struct lc_payload owns plain strings. A
 * message that is not protobuf, or whose strings are not UTF-8 (proto3
 * strings must be; grpc-java refuses them too), is LC_EPROTO. Unknown
 * fields are skipped, a repeated header key keeps its last value.
 *
 * Encoding leaves out object members whose value is null, as Nacos's
 * Jackson mapper (NON_NULL) does, so no null reaches a client. */
#include <stdlib.h>
#include <string.h>

#include "rpc/grpc/nacos_grpc_service.pb-c.h"
#include "rpc/grpc/rpc.h"

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n + 1);
    if (out != NULL) {
        memcpy(out, s, n + 1);
    }
    return out;
}

static void payload_zero(struct lc_payload *p)
{
    memset(p, 0, sizeof *p);
}

void lc_payload_free(struct lc_payload *p)
{
    free(p->type);
    free(p->client_ip);
    json_decref(p->headers);
    free(p->body);
    payload_zero(p);
}

/* Copy the headers map into @p->headers. Return 0, LC_EPROTO (a key or
 * value not UTF-8) or LC_ENOMEM. */
static int copy_headers(const Locus__Grpc__Metadata *md, struct lc_payload *p)
{
    for (size_t i = 0; i < md->n_headers; i++) {
        const Locus__Grpc__Metadata__HeadersEntry *e = md->headers[i];
        json_t *v;
        if (e == NULL || e->key == NULL || e->value == NULL) {
            continue;
        }
        v = json_string(e->value);
        if (v == NULL) {
            return LC_EPROTO;
        }
        if (json_object_set_new(p->headers, e->key, v) != 0) {
            return LC_EPROTO; /* key not UTF-8 (or no memory) */
        }
    }
    return 0;
}

/* protobuf-c allocates each message, string and map entry on its own; a
 * small arena on the stack takes them (what does not fit goes to the heap),
 * as what is kept is copied out before it is freed. */
struct arena {
    _Alignas(16) uint8_t buf[2048];
    size_t used;
};

static void *arena_alloc(void *data, size_t size)
{
    struct arena *a = data;
    size_t n = (size + 15) & ~(size_t)15;

    if (n >= size && n <= sizeof a->buf - a->used) {
        void *out = a->buf + a->used;
        a->used += n;
        return out;
    }
    return malloc(size);
}

static void arena_free(void *data, void *ptr)
{
    struct arena *a = data;
    uintptr_t u = (uintptr_t)ptr;
    uintptr_t lo = (uintptr_t)a->buf;

    if (u >= lo && u < lo + sizeof a->buf) {
        return;
    }
    free(ptr);
}

int lc_payload_decode(const uint8_t *buf, size_t len, struct lc_payload *p)
{
    struct arena arena;
    ProtobufCAllocator alloc = {arena_alloc, arena_free, &arena};
    Locus__Grpc__Payload *msg;
    const Locus__Grpc__Metadata *md;
    const char *type = "";
    const char *client_ip = "";
    size_t body_len = 0;
    int rv;

    payload_zero(p);
    arena.used = 0;
    msg = locus__grpc__payload__unpack(&alloc, len, buf);
    if (msg == NULL) {
        return LC_EPROTO;
    }
    md = msg->metadata;
    if (md != NULL) {
        type = md->type != NULL ? md->type : "";
        client_ip = md->clientip != NULL ? md->clientip : "";
    }
    if (msg->body != NULL && msg->body->value.data != NULL) {
        body_len = msg->body->value.len;
    }

    rv = LC_ENOMEM;
    p->type = dup_str(type);
    p->client_ip = dup_str(client_ip);
    p->headers = json_object();
    p->body = malloc(body_len + 1);
    if (p->type == NULL || p->client_ip == NULL || p->headers == NULL ||
        p->body == NULL) {
        goto err_after_unpack;
    }
    if (body_len > 0) {
        memcpy(p->body, msg->body->value.data, body_len);
    }
    p->body[body_len] = '\0';
    p->body_len = body_len;
    if (md != NULL) {
        rv = copy_headers(md, p);
        if (rv != 0) {
            goto err_after_unpack;
        }
    }
    locus__grpc__payload__free_unpacked(msg, &alloc);
    return 0;

err_after_unpack:
    locus__grpc__payload__free_unpacked(msg, &alloc);
    lc_payload_free(p);
    return rv;
}

int lc_payload_json(const struct lc_payload *p, json_t **out)
{
    json_error_t jerr;
    json_t *v;

    *out = NULL;
    if (p->body == NULL || p->body_len == 0) {
        return LC_EPROTO;
    }
    v = json_loadb(p->body, p->body_len, 0, &jerr);
    if (v == NULL) {
        return LC_EPROTO;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        return LC_EPROTO;
    }
    *out = v;
    return 0;
}

/* Whether @v holds an object member that is null, at any depth. */
static bool has_null_member(const json_t *v, int depth)
{
    const char *key;
    json_t *m;
    size_t i;

    if (depth > 64) {
        return false;
    }
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, m)
        {
            if (json_is_null(m) || has_null_member(m, depth + 1)) {
                return true;
            }
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m)
        {
            if (has_null_member(m, depth + 1)) {
                return true;
            }
        }
    }
    return false;
}

/* Drop null object members of @v (a private deep copy), at any depth. */
static void strip_nulls(json_t *v, int depth)
{
    const char *key;
    json_t *m;
    void *tmp;
    size_t i;

    if (depth > 64) {
        return;
    }
    if (json_is_object(v)) {
        json_object_foreach_safe(v, tmp, key, m)
        {
            if (json_is_null(m)) {
                json_object_del(v, key);
            } else {
                strip_nulls(m, depth + 1);
            }
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m)
        {
            strip_nulls(m, depth + 1);
        }
    }
}

int lc_payload_text(const json_t *body, char **text)
{
    json_t *copy = NULL;
    *text = NULL;
    if (has_null_member(body, 0)) {
        copy = json_deep_copy(body);
        if (copy == NULL) {
            return LC_ENOMEM;
        }
        strip_nulls(copy, 0);
        body = copy;
    }
    *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(copy);
    return *text != NULL ? 0 : LC_ENOMEM;
}

int lc_payload_encode_text(const char *type, const char *text, size_t text_len,
                           const json_t *headers, uint8_t **out, size_t *len)
{
    Locus__Grpc__Payload msg = LOCUS__GRPC__PAYLOAD__INIT;
    Locus__Grpc__Metadata md = LOCUS__GRPC__METADATA__INIT;
    Locus__Grpc__Any any = LOCUS__GRPC__ANY__INIT;
    Locus__Grpc__Metadata__HeadersEntry *entries = NULL;
    Locus__Grpc__Metadata__HeadersEntry **entry_ptrs = NULL;
    uint8_t *buf;
    size_t n = 0;
    size_t size;
    int rv = LC_ENOMEM;

    *out = NULL;
    *len = 0;
    if (headers != NULL && json_object_size(headers) > 0) {
        const char *key;
        json_t *v;
        size_t cap = json_object_size(headers);
        entries = calloc(cap, sizeof *entries);
        entry_ptrs = calloc(cap, sizeof *entry_ptrs);
        if (entries == NULL || entry_ptrs == NULL) {
            goto err_after_entries;
        }
        json_object_foreach((json_t *)headers, key, v)
        {
            if (!json_is_string(v)) {
                continue;
            }
            locus__grpc__metadata__headers_entry__init(&entries[n]);
            entries[n].key = (char *)key;
            entries[n].value = (char *)json_string_value(v);
            entry_ptrs[n] = &entries[n];
            n++;
        }
    }
    md.type = (char *)(type != NULL ? type : "");
    md.n_headers = n;
    md.headers = entry_ptrs;
    if (text != NULL) {
        any.value.data = (uint8_t *)text;
        any.value.len = text_len;
    }
    msg.metadata = &md;
    msg.body = &any;

    size = locus__grpc__payload__get_packed_size(&msg);
    buf = malloc(size > 0 ? size : 1);
    if (buf == NULL) {
        goto err_after_entries;
    }
    locus__grpc__payload__pack(&msg, buf);
    *out = buf;
    *len = size;
    rv = 0;

err_after_entries:
    free(entries);
    free(entry_ptrs);
    return rv;
}

int lc_payload_encode(const char *type, const json_t *body,
                      const json_t *headers, uint8_t **out, size_t *len)
{
    char *text = NULL;
    int rv;
    if (body != NULL && (rv = lc_payload_text(body, &text)) != 0) {
        *out = NULL;
        *len = 0;
        return rv;
    }
    rv = lc_payload_encode_text(type, text, text != NULL ? strlen(text) : 0,
                                headers, out, len);
    free(text);
    return rv;
}
