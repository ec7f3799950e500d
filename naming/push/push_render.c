/* Push datagrams: the ServiceInfo a UDP subscriber gets, in Nacos's UDP
 * shape, wrapped as {"type":"dom","data":...,"lastRefTime":n} and gzipped
 * whole when large (UdpPushService.prepareAckEntry / compressIfNecessary).
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/err.h"
#include "naming/internal.h"
#include "naming/push/push_internal.h"

struct dgram *push_dgram_new(const char *data, size_t len)
{
    struct dgram *d = malloc(sizeof *d + len);
    if (d == NULL) {
        return NULL;
    }
    d->refs = 1;
    d->len = len;
    memcpy(d->data, data, len);
    return d;
}

void push_dgram_unref(struct dgram *d)
{
    if (d != NULL && --d->refs == 0) {
        free(d);
    }
}

/* Gzip @in whole (GZIPOutputStream's framing: a gzip member). */
static int gzip(const char *in, size_t len, char **out, size_t *out_len)
{
    z_stream zs;
    size_t cap;
    char *buf;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        return LC_ENOMEM;
    }
    cap = deflateBound(&zs, (uLong)len);
    buf = malloc(cap);
    if (buf == NULL) {
        deflateEnd(&zs);
        return LC_ENOMEM;
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)buf;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
        deflateEnd(&zs);
        free(buf);
        return LC_ENOMEM;
    }
    *out = buf;
    *out_len = zs.total_out;
    deflateEnd(&zs);
    return 0;
}

int lc_push_render(struct lc_naming *n, const struct lc_service_key *key,
                   const char *clusters, uint64_t ref, char **out, size_t *len)
{
    struct lc_service *svc = lc_registry_find_service(n->reg, key);
    json_t *info = lc_render_service_info(n, svc, key, clusters, false);
    json_t *root;
    char *data;
    char *text;
    size_t text_len;

    /* PushExecutorUdpImpl copies name (grouped), clusters, hosts,
     * lastRefTime and cacheMillis into a new ServiceInfo: groupName stays
     * null (left out) and reachProtectionThreshold false. */
    json_object_del(info, "groupName");
    json_object_set_new(info, "reachProtectionThreshold", json_false());
    data = json_dumps(info, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(info);
    if (data == NULL) {
        return LC_ENOMEM;
    }
    /* UdpPushService's HashMap iterates type, data, lastRefTime. */
    root = json_object();
    json_object_set_new(root, "type", json_string("dom"));
    json_object_set_new(root, "data", json_string(data));
    json_object_set_new(root, "lastRefTime", json_integer((json_int_t)ref));
    free(data);
    text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (text == NULL) {
        return LC_ENOMEM;
    }
    text_len = strlen(text);
    if (text_len >= LC_PUSH_GZIP_MIN) {
        char *z;
        size_t zlen;
        int rv = gzip(text, text_len, &z, &zlen);
        free(text);
        if (rv != 0) {
            return rv;
        }
        text = z;
        text_len = zlen;
    }
    *out = text;
    *len = text_len;
    return 0;
}
