/* HTTP/1.1 on libuv: the server behind port 8848 and a keep-alive client.
 *
 * Server: requests are parsed with http_parser (nodejs/http-parser), routed by
 * exact path and method, and handed to a handler as an exchange. A handler
 * answers exactly once, either before it returns or later from any callback on
 * the same loop (for example after a Raft commit). One request per connection
 * is in flight at a time; pipelined requests wait their turn, so responses keep
 * request order. Malformed requests, oversized headers or bodies and unknown
 * paths are answered by the server itself (400/431/413/404/405) and never
 * reach a handler.
 *
 * Parameters: the query string and, when Content-Type is
 * application/x-www-form-urlencoded, the body are both decoded ('+' is a
 * space, %XX escapes) into one list, query first, for every method, as a
 * servlet container does for Nacos.
 *
 * Client: one keep-alive connection per lc_http_conn, requests queued and sent
 * one at a time, with an optional per-request timeout. lc_http_fetch() is the
 * blocking form for command-line tools and tests.
 */
#ifndef LC_RPC_HTTP_H
#define LC_RPC_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Method bits for routes. */
enum {
    LC_HTTP_GET = 1 << 0,
    LC_HTTP_POST = 1 << 1,
    LC_HTTP_PUT = 1 << 2,
    LC_HTTP_DELETE = 1 << 3,
    LC_HTTP_PATCH = 1 << 4,
    LC_HTTP_HEAD = 1 << 5,
    LC_HTTP_ANY = 0x3f,
};

struct lc_http_server;
struct lc_http_exchange;

struct lc_http_limits {
    size_t max_header_bytes; /* request line + headers; 431 beyond (8 KiB) */
    size_t max_body_bytes;   /* 413 beyond (1 MiB) */
    unsigned idle_timeout_ms; /* keep-alive idle close (60 s) */
    unsigned max_connections; /* further accepts are closed at once (4096) */
    /* From a request's first byte to the end of its head, and from there to
     * the end of its body: past either, 408 and close, however steadily
     * bytes trickle in (10 s, 30 s; 0: none). */
    unsigned head_timeout_ms;
    unsigned body_timeout_ms;
    /* Connections from one remote address; further ones are closed at once
     * (1024; 0: no limit but max_connections). */
    unsigned max_connections_per_ip;
};

/* Fill @limits with the defaults given above. */
void lc_http_limits_default(struct lc_http_limits *limits);

typedef void (*lc_http_handler_cb)(struct lc_http_exchange *ex, void *data);
typedef void (*lc_http_server_close_cb)(struct lc_http_server *srv,
                                        void *data);

/* Create a server on @loop. @limits is copied; NULL means the defaults.
 * Return NULL when out of memory. */
struct lc_http_server *lc_http_server_new(uv_loop_t *loop,
                                          const struct lc_http_limits *limits);

/* Route requests whose path is exactly @path (no query) and whose method is in
 * @methods to @cb. @path is copied. A path routed for other methods answers
 * 405. HEAD on a path routed for GET goes to the GET handler as a GET (as
 * Spring maps it); the reply's body is dropped, its headers kept. Return 0
 * or LC_ENOMEM / LC_EEXIST. */
int lc_http_server_route(struct lc_http_server *srv, unsigned methods,
                         const char *path, lc_http_handler_cb cb, void *data);

/* Handler for every path that has no route (default: 404 "not found"). */
void lc_http_server_fallback(struct lc_http_server *srv,
                             lc_http_handler_cb cb, void *data);

/* A gate: asked for every request that has a route and a handler for its
 * method (not for 404, 405 or the fallback), before that handler, with the
 * exchange. Return false to let the handler run now; true when the gate
 * took the exchange: it then answers it itself (a refusal) or calls
 * lc_http_pass() later, from the loop, to run the handler. @data is
 * borrowed for the server's lifetime. One gate per server; NULL removes
 * it. */
typedef bool (*lc_http_gate_cb)(struct lc_http_exchange *ex, void *data);
void lc_http_server_gate(struct lc_http_server *srv, lc_http_gate_cb cb,
                         void *data);

/* Run the handler of the route a gate took @ex from. When the client went
 * away meanwhile, the handler does not run: @ex is answered (the answer is
 * dropped) and freed here. */
void lc_http_pass(struct lc_http_exchange *ex);

/* Call @cb once for every routed path with the union of its methods (in no
 * particular order). */
void lc_http_server_each_route(struct lc_http_server *srv,
                               void (*cb)(const char *path, unsigned methods,
                                          void *data),
                               void *data);

/* Bind and listen on @host:@port (IPv4 or IPv6 literal; backlog 4096).
 * Return 0 or an LC_E* code (LC_EEXIST when the address is in use). */
int lc_http_server_listen(struct lc_http_server *srv, const char *host,
                          int port);

/* Stop accepting, let in-flight exchanges answer (at most @grace_ms), close
 * every connection, then call @cb; the server's memory is freed after @cb
 * returns. Unanswered exchanges get 503 when the grace period ends. */
void lc_http_server_close(struct lc_http_server *srv, unsigned grace_ms,
                          lc_http_server_close_cb cb, void *data);

/* ---- exchange: the request, read-only, valid until the reply is sent ---- */

/* Method bit (LC_HTTP_GET...) and the method's name ("GET"). */
unsigned lc_http_method(const struct lc_http_exchange *ex);
const char *lc_http_method_name(const struct lc_http_exchange *ex);

/* Decoded path without the query string ("/nacos/v1/ns/instance"). */
const char *lc_http_path(const struct lc_http_exchange *ex);

/* First value of parameter @name (query, then form body), or NULL. Values are
 * URL-decoded and NUL-terminated; a parameter given without '=' is "". */
const char *lc_http_param(const struct lc_http_exchange *ex, const char *name);

/* Iterate parameters in order: @i from 0; return false past the end. */
bool lc_http_param_at(const struct lc_http_exchange *ex, size_t i,
                      const char **name, const char **value);

/* Value of request header @name (case-insensitive), or NULL. */
const char *lc_http_header(const struct lc_http_exchange *ex,
                           const char *name);

/* Iterate request headers in order: @i from 0; return false past the end.
 * Names as the client wrote them; both strings valid until the reply. */
bool lc_http_header_at(const struct lc_http_exchange *ex, size_t i,
                       const char **name, const char **value);

/* Raw body (not NUL-terminated; may be empty). */
const char *lc_http_body(const struct lc_http_exchange *ex, size_t *len);

/* Peer address as text ("127.0.0.1") and port. */
const char *lc_http_remote_ip(const struct lc_http_exchange *ex);
int lc_http_remote_port(const struct lc_http_exchange *ex);

/* True once the client has gone away; the reply will be dropped, but must
 * still be made so the exchange is freed. */
bool lc_http_gone(const struct lc_http_exchange *ex);

/* ---- replies: exactly one per exchange; the exchange is invalid after ---- */

/* Reply with @body (@len bytes, copied) and @content_type (NULL: none). */
void lc_http_reply(struct lc_http_exchange *ex, int status,
                   const char *content_type, const char *body, size_t len);

/* As lc_http_reply(), taking ownership of @body (malloc'd). */
void lc_http_reply_take(struct lc_http_exchange *ex, int status,
                        const char *content_type, char *body, size_t len);

/* Reply with a plain-text body ("text/plain;charset=UTF-8"), printf-style. */
void lc_http_reply_text(struct lc_http_exchange *ex, int status,
                        const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reply with a JSON body ("application/json;charset=UTF-8"), copied. */
void lc_http_reply_json(struct lc_http_exchange *ex, int status,
                        const char *json, size_t len);

/* Spring Boot's error JSON, as a servlet filter's sendError() renders it:
 * {"timestamp":"<local time>","status":@status,"error":"<reason>",
 * "message":"@msg","path":"<path>"}, application/json. */
void lc_http_reply_spring(struct lc_http_exchange *ex, int status,
                          const char *msg);

/* As lc_http_reply(), with extra response headers: @headers is name,
 * value, name, value, ..., NULL (copied). A header whose name is empty or
 * holds ':', blanks or control bytes, or whose value holds CR, LF or NUL,
 * is left out (never splits the response head). */
void lc_http_reply_headers(struct lc_http_exchange *ex, int status,
                           const char *content_type, const char *body,
                           size_t len, const char *const *headers);

/* ------------------------------------------------------------------ client */

struct lc_http_conn;
struct lc_http_call;

/* Called once per call. @status is 0 when a response arrived (then
 * @http_status, @body and @len describe it; @body is valid only during the
 * callback) or an LC_E* code (LC_ECONN, LC_ETIMEDOUT, LC_ECANCELED). */
typedef void (*lc_http_call_cb)(struct lc_http_call *call, int status,
                                int http_status, const char *body,
                                size_t len);

struct lc_http_call {
    void *data;         /* user data */
    lc_http_call_cb cb; /* set by lc_http_conn_send() */
    /* private */
    void *priv[8];
};

/* Create a keep-alive connection to @host:@port (connected lazily, and again
 * after any failure). @timeout_ms bounds each call (0: none). Return 0 or
 * LC_ENOMEM / LC_EINVAL. */
int lc_http_conn_new(uv_loop_t *loop, const char *host, int port,
                     unsigned timeout_ms, struct lc_http_conn **out);

/* Queue a request. @path includes the query string. @body (may be NULL) and
 * @content_type are copied. @call is borrowed until its callback fires.
 * Return 0 or LC_ENOMEM / LC_ESHUTDOWN. */
int lc_http_conn_send(struct lc_http_conn *conn, struct lc_http_call *call,
                      const char *method, const char *path,
                      const char *content_type, const char *body, size_t len,
                      lc_http_call_cb cb);

/* A request with more than lc_http_conn_send() says: extra headers and
 * Java's two timeouts (HttpURLConnection's, Apache HttpClient's): the
 * connect timeout bounds establishing the connection when the call needs a
 * new one, the read timeout the wait for each next bytes of the response
 * once the request is sent (SO_TIMEOUT). When both are 0 the connection's
 * @timeout_ms bounds the whole call, as for lc_http_conn_send(). Every
 * string is copied by the call. */
struct lc_http_req {
    const char *method;
    const char *path; /* with the query string */
    const char *content_type; /* NULL: none */
    const char *body;         /* may be NULL */
    size_t len;
    /* Header name, value, name, value, ..., NULL (NULL: none). Host,
     * Content-Type and Content-Length are the client's. */
    const char *const *headers;
    unsigned connect_timeout_ms; /* 0: none */
    unsigned read_timeout_ms;    /* 0: none */
};

/* Queue @req on @conn as lc_http_conn_send() does. Return 0 or LC_ENOMEM /
 * LC_ESHUTDOWN / LC_EINVAL (a method, path or header that would split the
 * request head: blanks in the method or path, CR or LF anywhere, a header
 * name that is empty or holds ':' or blanks). */
int lc_http_conn_request(struct lc_http_conn *conn, struct lc_http_call *call,
                         const struct lc_http_req *req, lc_http_call_cb cb);

/* After a call failed (its callback had a status other than 0): whether its
 * request had been sent on an established connection, so a timeout was a
 * read timeout and LC_ECONN a connection lost before the answer, rather
 * than a connect timeout or a refused connection. */
bool lc_http_call_sent(const struct lc_http_call *call);

/* Cancel queued calls (LC_ECANCELED), close the socket, free the connection
 * once its handles are closed. */
void lc_http_conn_close(struct lc_http_conn *conn);

/* Blocking request on a private loop. On 0, *@http_status is set and, when
 * @body_out is not NULL, *@body_out receives a malloc'd NUL-terminated copy of
 * the body (caller frees). Return 0 or an LC_E* code. */
int lc_http_fetch(const char *host, int port, const char *method,
                  const char *path, const char *content_type,
                  const char *body, size_t len, unsigned timeout_ms,
                  int *http_status, char **body_out, size_t *body_len);

/* Append @text to @out URL-encoded (application/x-www-form-urlencoded rules).
 * @out is a growable buffer: *@out is realloc'd as needed. Return 0 or
 * LC_ENOMEM. */
int lc_http_urlencode_append(char **out, size_t *len, size_t *cap,
                             const char *text);

#endif /* LC_RPC_HTTP_H */
