/* Private to rpc/http_*.c, their tests and the fuzzer. */
#ifndef LC_RPC_HTTP_INTERNAL_H
#define LC_RPC_HTTP_INTERNAL_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uthash.h>
#include <uv.h>

#include "rpc/http/http.h"

/* ------------------------------------------------------------ parameters */

/* More parameters than this in one request answer 400, as Tomcat's
 * maxParameterCount does. */
#define LC_HTTP_MAX_PARAMS 10000

struct lc_http_param {
    const char *name;
    const char *value;
};

/* Decoded parameters (and the decoded path) of one request. The strings live
 * in @buf, which lc_http_params_begin() sizes once per request so that the
 * pointers in @items stay valid until the next lc_http_params_begin(). */
struct lc_http_params {
    char *buf;
    size_t len;
    size_t cap;
    struct lc_http_param *items;
    size_t n;
    size_t items_cap;
};

/* Forget the previous request and make room for decoding at most
 * @input_bytes of path, query and body text. Return 0 or LC_ENOMEM. */
int lc_http_params_begin(struct lc_http_params *p, size_t input_bytes);

/* Percent-decode the URL path @s (@len bytes, '+' kept) into @p; return the
 * NUL-terminated result, owned by @p, or NULL if lc_http_params_begin() did
 * not make room for it. */
const char *lc_http_params_add_path(struct lc_http_params *p, const char *s,
                                    size_t len);

/* Decode "a=1&b=x+y" (application/x-www-form-urlencoded) and append the
 * pairs to @p. Empty names are skipped; a name without '=' gets "". Return 0,
 * LC_ETOOBIG past LC_HTTP_MAX_PARAMS, or LC_ENOMEM. */
int lc_http_params_parse(struct lc_http_params *p, const char *s, size_t len);

/* Free what @p owns and zero it. */
void lc_http_params_free(struct lc_http_params *p);

/* Percent-decode @len bytes of @src into @dst (room for @len bytes); '+'
 * becomes a space when @plus. Escapes that are not '%' and two hex digits, and
 * "%00", are kept literally (decoded strings are C strings, so a NUL byte
 * could not be told from the end). Return the decoded length. */
size_t lc_http_pct_decode(char *dst, const char *src, size_t len, bool plus);

/* True when @content_type is application/x-www-form-urlencoded, in any case,
 * optionally followed by ";parameters". */
bool lc_http_is_form(const char *content_type);

/* ---------------------------------------------------------------- server */

struct lc_http_route_entry {
    unsigned methods;
    lc_http_handler_cb cb;
    void *data;
};

/* Every handler registered for one path; the methods of entries are
 * disjoint. */
struct lc_http_route {
    UT_hash_handle hh;
    unsigned methods; /* union of the entries' */
    unsigned n;
    struct lc_http_route_entry entries[6];
    char *path;
};

/* Open connections of one remote address (max_connections_per_ip). */
struct lc_http_ip_count {
    UT_hash_handle hh;
    unsigned n;
    char ip[64];
};

struct lc_http_server {
    uv_loop_t *loop;
    struct lc_http_limits limits;
    uv_tcp_t listener;
    uv_timer_t grace;
    struct lc_http_route *routes; /* uthash by path */
    lc_http_handler_cb fallback_cb;
    void *fallback_data;
    lc_http_gate_cb gate_cb; /* NULL: none */
    void *gate_data;
    struct lc_http_sconn *conns; /* open or closing, doubly linked */
    unsigned nconns;
    unsigned nrejects; /* refused sockets whose handles are closing */
    struct lc_http_ip_count *by_ip; /* uthash by ip */
    uint64_t ip_refused_since; /* loop ms: start of the refusal log window */
    unsigned ip_refused;       /* refusals per address limit in the window */
    char *rbuf;        /* every read lands here first (one loop thread) */
    lc_http_server_close_cb close_cb;
    void *close_data;
    bool listening;
    bool closing;
    bool listener_closed;
    bool done;
};

/* The request being handled on a connection; embedded in it. */
struct lc_http_exchange {
    unsigned method; /* LC_HTTP_* bit, 0 for other methods */
    const char *method_name;
    const char *path;
    const char *content_type;
    const char *body;
    size_t body_len;
    struct lc_http_params params;
    /* The routed handler, kept while a gate holds the exchange. */
    lc_http_handler_cb route_cb;
    void *route_data;
};

enum lc_http_sconn_state {
    LC_HTTP_OPEN,    /* reading and answering requests */
    LC_HTTP_DRAIN,   /* last response queued: flush, shut down, linger */
    LC_HTTP_CLOSING, /* handles closing */
    LC_HTTP_CLOSED,  /* handles closed; memory waits for the reply */
};

/* Which part of a request the connection is reading, for its deadlines. */
enum lc_http_phase {
    LC_HTTP_PHASE_NONE, /* between requests: the idle timeout applies */
    LC_HTTP_PHASE_HEAD, /* request line and headers: head_timeout_ms */
    LC_HTTP_PHASE_BODY, /* body: body_timeout_ms */
};

/* Offsets into lc_http_sconn.head of one header's NUL-terminated strings. */
struct lc_http_hdr {
    uint32_t name;
    uint32_t value;
};

/* One accepted connection. Its buffers are reused request after request. */
struct lc_http_sconn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* idle timeout, linger, resume after async reply */
    uv_shutdown_t shutdown;
    struct lc_http_server *srv; /* NULL once closed */
    struct lc_http_sconn *prev;
    struct lc_http_sconn *next;
    http_parser parser;
    struct lc_http_exchange ex;

    /* Request head being parsed: URL then header names and values. */
    char *head;
    size_t head_len;
    size_t head_cap;
    size_t url_len;
    struct lc_http_hdr *hdrs;
    size_t nhdrs;
    size_t hdrs_cap;
    size_t head_bytes; /* request line + headers, for max_header_bytes */
    int seg;           /* which string the parser is appending to */
    int reject;        /* status to answer when a parser callback fails */

    char *body;
    size_t body_len;
    size_t body_cap;

    /* Received but not yet parsed (pipelined requests, paused parser). */
    char *in;
    size_t in_off;
    size_t in_len;
    size_t in_cap;

    /* Socket-less connections: everything written. */
    char *out;
    size_t out_len;
    size_t out_cap;

    uint64_t last_active; /* loop time of the last read or reply */
    enum lc_http_phase phase;
    uint64_t phase_start; /* loop time the phase began */
    uint64_t chunk_left;  /* data bytes of the current chunk not yet seen */
    const char *exec_end; /* end of the bytes http_parser is executing */
    int crlf_need;        /* bytes of a chunk's closing CRLF still to check */
    bool head_req;        /* HEAD: answered without the body */
    bool ip_counted;      /* counted in srv->by_ip */
    enum lc_http_sconn_state state;
    int handles; /* open libuv handles */
    bool fake;
    bool reading;
    bool eof;
    bool keep_alive;
    bool http10;
    bool in_body;     /* head complete: header callbacks are trailers */
    bool req_ready;   /* parser paused on a complete request */
    bool ex_inflight; /* handed to a handler, not answered yet */
    bool dispatching; /* inside the handler call */
    char remote_ip[64];
    int remote_port;
};

/* http_request.c: parse @len bytes; stop early when a request goes to an
 * asynchronous handler, or the connection stops being parseable. Return the
 * number of bytes consumed (all of them when the connection is closing). */
size_t lc_http_sconn_parse(struct lc_http_sconn *c, const char *data,
                           size_t len);

/* http_request.c: write a complete response. @owned, when not NULL, is the
 * malloc'd @body and is freed once written. HEAD, 1xx, 204 and 304 responses
 * carry no body. @extra is more header lines ("Allow: GET\r\n") or NULL. */
void lc_http_sconn_respond(struct lc_http_sconn *c, int status,
                           const char *content_type, const char *body,
                           size_t len, char *owned, const char *extra,
                           bool close, bool head_only);

/* http_server.c: the connection's request enters @phase (request.c's
 * parser hooks call it); arms the deadline timer when needed. */
void lc_http_sconn_phase(struct lc_http_sconn *c, enum lc_http_phase phase,
                         bool has_body);

/* http_server.c: true when the next request may be parsed now. */
bool lc_http_sconn_can_parse(const struct lc_http_sconn *c);

/* http_server.c: write @head then @body; @owned as for
 * lc_http_sconn_respond(). @head is copied if it cannot be written at once. */
void lc_http_sconn_send(struct lc_http_sconn *c, const char *head, size_t hlen,
                        const char *body, size_t blen, char *owned);

/* http_server.c: the exchange was answered; close after it or resume. */
void lc_http_sconn_after_reply(struct lc_http_sconn *c, bool close);

/* http_server.c: stop reading requests, flush what was written, then
 * close. */
void lc_http_sconn_drain(struct lc_http_sconn *c);

/* http_server.c: close now; queued writes are dropped. */
void lc_http_sconn_close(struct lc_http_sconn *c);

/* http_server.c: free a connection whose handles are closed. */
void lc_http_sconn_free(struct lc_http_sconn *c);

/* The port @srv listens on (useful after listening on port 0), or -1. */
int lc_http_server_bound_port(struct lc_http_server *srv);

/* ------------------------------------------- socket-less server connections */

/* A connection on @srv that no socket backs: bytes come from
 * lc_http_fake_conn_feed() and responses collect in a buffer. Routes,
 * limits and handlers are @srv's. For the fuzzer and tests. NULL when out of
 * memory. */
struct lc_http_sconn *lc_http_fake_conn_new(struct lc_http_server *srv);

/* Feed @len bytes (0 to go on after an asynchronous reply). Return false once
 * the connection has decided to close. */
bool lc_http_fake_conn_feed(struct lc_http_sconn *c, const char *data,
                            size_t len);

/* What the connection has written so far (borrowed). */
const char *lc_http_fake_conn_output(const struct lc_http_sconn *c,
                                     size_t *len);

/* Free @c; an exchange still in flight is freed by its reply. */
void lc_http_fake_conn_free(struct lc_http_sconn *c);

#endif /* LC_RPC_HTTP_INTERNAL_H */
