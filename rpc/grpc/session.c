/* What the gRPC server and client share: message framing (the 5-byte
 * prefix, reassembled across DATA frames), per-stream output queues, the
 * write pump from nghttp2 onto a libuv socket, and header values
 * (grpc-timeout, grpc-message's percent-encoding).
 *
 * The pump asks nghttp2 for frames through its send callback, which copies
 * them into a 64 KiB staging buffer on the pump's stack; each full buffer
 * becomes one uv_write. DATA frames bypass nghttp2's own 16 KiB frame
 * buffer (NGHTTP2_DATA_FLAG_NO_COPY): their payload goes from the stream's
 * queue straight into the staging buffer (lc_grpc__send_data), one copy
 * less, and the session's frame buffer is never touched past its first
 * page, which keeps an idle session's resident memory small. The pump stops when nghttp2 has nothing more or
 * LC_GRPC__PUMP_HIGH bytes are in flight, and resumes from the write
 * callback, so a connection holds at most that much beyond its streams'
 * queues however slowly its peer reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "rpc/grpc/internal.h"

#define STAGE_SIZE (64 * 1024)
#define READ_SIZE (64 * 1024)
#define GROW_MIN (16 * 1024)

/* ---------------------------------------------------------------- framing */

bool lc_grpc__framer_partial(const struct lc_grpc__framer *f)
{
    return f->hdr_len > 0;
}

void lc_grpc__framer_free(struct lc_grpc__framer *f)
{
    free(f->buf);
    memset(f, 0, sizeof *f);
}

static void framer_reset(struct lc_grpc__framer *f)
{
    f->buf = NULL;
    f->len = 0;
    f->cap = 0;
    f->need = 0;
    f->hdr_len = 0;
}

int lc_grpc__framer_feed(struct lc_grpc__framer *f, const uint8_t *data,
                         size_t len, size_t max_inbound, lc_grpc__msg_cb cb,
                         void *arg)
{
    int rv;
    while (len > 0) {
        if (f->hdr_len < 5) {
            size_t n = 5 - f->hdr_len;
            if (n > len) {
                n = len;
            }
            memcpy(f->hdr + f->hdr_len, data, n);
            f->hdr_len += (uint8_t)n;
            data += n;
            len -= n;
            if (f->hdr_len < 5) {
                break;
            }
            if (f->hdr[0] != 0) {
                return LC_ENOTSUP;
            }
            f->need = (size_t)f->hdr[1] << 24 | (size_t)f->hdr[2] << 16 |
                      (size_t)f->hdr[3] << 8 | (size_t)f->hdr[4];
            if (f->need > max_inbound) {
                return LC_ETOOBIG;
            }
        }
        if (f->len < f->need) {
            size_t n;
            if (len == 0) {
                break;
            }
            n = f->need - f->len;
            if (n > len) {
                n = len;
            }
            if (f->len + n > f->cap) {
                size_t cap = f->cap * 2;
                uint8_t *p;
                if (cap < GROW_MIN) {
                    cap = GROW_MIN;
                }
                if (cap < f->len + n) {
                    cap = f->len + n;
                }
                if (cap > f->need) {
                    cap = f->need;
                }
                p = realloc(f->buf, cap);
                if (p == NULL) {
                    return LC_ENOMEM;
                }
                f->buf = p;
                f->cap = cap;
            }
            memcpy(f->buf + f->len, data, n);
            f->len += n;
            data += n;
            len -= n;
        }
        if (f->len == f->need) {
            uint8_t *msg = f->buf;
            size_t mlen = f->len;
            framer_reset(f);
            rv = cb(arg, msg, mlen);
            if (rv != 0) {
                return rv;
            }
        }
    }
    return 0;
}

/* ----------------------------------------------------------- output queue */

int lc_grpc__outq_push(struct lc_grpc__outq *q, const uint8_t *msg, size_t len)
{
    struct lc_grpc__chunk *c = malloc(sizeof *c + 5 + len);
    if (c == NULL) {
        return LC_ENOMEM;
    }
    c->next = NULL;
    c->len = 5 + len;
    c->off = 0;
    c->data[0] = 0;
    c->data[1] = (uint8_t)(len >> 24);
    c->data[2] = (uint8_t)(len >> 16);
    c->data[3] = (uint8_t)(len >> 8);
    c->data[4] = (uint8_t)len;
    if (len > 0) {
        memcpy(c->data + 5, msg, len);
    }
    if (q->tail != NULL) {
        q->tail->next = c;
    } else {
        q->head = c;
    }
    q->tail = c;
    q->bytes += c->len;
    return 0;
}

size_t lc_grpc__outq_read(struct lc_grpc__outq *q, uint8_t *buf, size_t len)
{
    size_t done = 0;
    while (done < len && q->head != NULL) {
        struct lc_grpc__chunk *c = q->head;
        size_t n = c->len - c->off;
        if (n > len - done) {
            n = len - done;
        }
        memcpy(buf + done, c->data + c->off, n);
        c->off += n;
        done += n;
        if (c->off == c->len) {
            q->head = c->next;
            if (q->head == NULL) {
                q->tail = NULL;
            }
            free(c);
        }
    }
    q->bytes -= done;
    return done;
}

void lc_grpc__outq_free(struct lc_grpc__outq *q)
{
    while (q->head != NULL) {
        struct lc_grpc__chunk *c = q->head;
        q->head = c->next;
        free(c);
    }
    q->tail = NULL;
    q->bytes = 0;
}

/* ------------------------------------------------------------ write pump */

struct stage {
    uint8_t *buf;
    size_t len;
    bool full;
};

static _Thread_local struct stage *cur_stage;
static _Thread_local char read_buf[READ_SIZE];

struct wreq {
    uv_write_t req;
    struct lc_grpc__io *io;
    size_t len;
    uint8_t data[];
};

void lc_grpc__alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = read_buf;
    buf->len = sizeof read_buf;
}

ssize_t lc_grpc__send_cb(nghttp2_session *session, const uint8_t *data,
                         size_t length, int flags, void *user_data)
{
    struct stage *st = cur_stage;
    size_t n;
    (void)session;
    (void)flags;
    (void)user_data;
    if (st == NULL) {
        return NGHTTP2_ERR_WOULDBLOCK;
    }
    n = STAGE_SIZE - st->len;
    if (n == 0) {
        st->full = true;
        return NGHTTP2_ERR_WOULDBLOCK;
    }
    if (n > length) {
        n = length;
    }
    memcpy(st->buf + st->len, data, n);
    st->len += n;
    return (ssize_t)n;
}

int lc_grpc__send_data(const uint8_t *framehd, size_t length, size_t padlen,
                       struct lc_grpc__outq *q)
{
    struct stage *st = cur_stage;
    size_t need = 9 + (padlen > 0 ? 1 : 0) + length + (padlen > 0 ? padlen - 1
                                                                   : 0);
    if (st == NULL) {
        return NGHTTP2_ERR_WOULDBLOCK;
    }
    if (STAGE_SIZE - st->len < need) {
        st->full = true;
        return NGHTTP2_ERR_WOULDBLOCK;
    }
    memcpy(st->buf + st->len, framehd, 9);
    st->len += 9;
    if (padlen > 0) {
        st->buf[st->len++] = (uint8_t)(padlen - 1);
    }
    st->len += lc_grpc__outq_read(q, st->buf + st->len, length);
    if (padlen > 1) {
        memset(st->buf + st->len, 0, padlen - 1);
        st->len += padlen - 1;
    }
    return 0;
}

static void on_write(uv_write_t *req, int status)
{
    struct wreq *w = (struct wreq *)req;
    struct lc_grpc__io *io = w->io;
    io->wbytes -= w->len;
    io->writes--;
    free(w);
    if (io->written != NULL) {
        io->written(io, status);
    }
}

int lc_grpc__io_write(struct lc_grpc__io *io, const uint8_t *buf, size_t len)
{
    struct wreq *w;
    uv_buf_t b;
    if (io->sink || len == 0) {
        return 0;
    }
    w = malloc(sizeof *w + len);
    if (w == NULL) {
        return LC_ENOMEM;
    }
    w->io = io;
    w->len = len;
    memcpy(w->data, buf, len);
    b = uv_buf_init((char *)w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&io->tcp, &b, 1, on_write) != 0) {
        free(w);
        return LC_ECONN;
    }
    io->wbytes += len;
    io->writes++;
    return 0;
}

int lc_grpc__io_pump(struct lc_grpc__io *io)
{
    uint8_t buf[STAGE_SIZE];
    struct stage st;
    struct stage *saved = cur_stage;
    int rv = 0;
    if (io->pumping || io->session == NULL) {
        return 0;
    }
    io->pumping = true;
    cur_stage = &st;
    for (;;) {
        if (!io->sink && io->wbytes >= LC_GRPC__PUMP_HIGH) {
            break;
        }
        st.buf = buf;
        st.len = 0;
        st.full = false;
        if (nghttp2_session_send(io->session) != 0) {
            rv = LC_EPROTO;
            break;
        }
        if (st.len > 0) {
            rv = lc_grpc__io_write(io, buf, st.len);
            if (rv != 0) {
                break;
            }
        }
        if (!st.full) {
            break;
        }
    }
    cur_stage = saved;
    io->pumping = false;
    return rv;
}

bool lc_grpc__io_finished(const struct lc_grpc__io *io)
{
    return io->wbytes == 0 && !nghttp2_session_want_read(io->session) &&
           !nghttp2_session_want_write(io->session);
}

/* --------------------------------------------------------------- headers */

int lc_grpc__timeout_parse(const uint8_t *v, size_t len, uint64_t *ms)
{
    uint64_t n = 0;
    size_t i;
    if (len < 2 || len > 9) {
        return LC_EINVAL;
    }
    for (i = 0; i + 1 < len; i++) {
        if (v[i] < '0' || v[i] > '9') {
            return LC_EINVAL;
        }
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    switch (v[len - 1]) {
        case 'H':
            n *= 3600 * 1000;
            break;
        case 'M':
            n *= 60 * 1000;
            break;
        case 'S':
            n *= 1000;
            break;
        case 'm':
            break;
        case 'u':
            n = (n + 999) / 1000;
            break;
        case 'n':
            n = (n + 999999) / 1000000;
            break;
        default:
            return LC_EINVAL;
    }
    *ms = n;
    return 0;
}

void lc_grpc__timeout_format(uint64_t ms, char out[16])
{
    if (ms <= 99999999) {
        snprintf(out, 16, "%llum", (unsigned long long)ms);
    } else if (ms / 1000 <= 99999999) {
        snprintf(out, 16, "%lluS", (unsigned long long)((ms + 999) / 1000));
    } else {
        snprintf(out, 16, "%lluH",
                 (unsigned long long)((ms / 3600000) > 99999999
                                          ? 99999999
                                          : (ms / 3600000)));
    }
}

char *lc_grpc__pct_encode(const char *msg)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    const unsigned char *p;
    char *out, *o;
    for (p = (const unsigned char *)msg; *p != 0; p++) {
        n += (*p < 0x20 || *p > 0x7e || *p == '%') ? 3 : 1;
    }
    out = malloc(n + 1);
    if (out == NULL) {
        return NULL;
    }
    o = out;
    for (p = (const unsigned char *)msg; *p != 0; p++) {
        if (*p < 0x20 || *p > 0x7e || *p == '%') {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        } else {
            *o++ = (char)*p;
        }
    }
    *o = 0;
    return out;
}

char *lc_grpc__pct_decode(const uint8_t *v, size_t len)
{
    char *out = malloc(len + 1);
    size_t i, o = 0;
    if (out == NULL) {
        return NULL;
    }
    for (i = 0; i < len; i++) {
        int hi = i + 2 < len ? lc_hex_digit(v[i + 1]) : -1;
        int lo = i + 2 < len ? lc_hex_digit(v[i + 2]) : -1;
        if (v[i] == '%' && hi >= 0 && lo >= 0 && (hi << 4 | lo) != 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = (char)v[i];
        }
    }
    out[o] = 0;
    return out;
}
