/* Helpers for the rpc/http unit tests (test/unit/test_http_*.c): a server
 * with test routes on 127.0.0.1 on the test's own loop, bounded loop runs,
 * a raw TCP client that records every byte it receives, a parser for what
 * it received, and lc_http_conn calls that wait for their answer.
 *
 * Helpers that cannot do their job fail the running cmocka test. Include
 * <cmocka.h> (with its prerequisites) before this header.
 */
#ifndef LC_TEST_HTTP_ENV_H
#define LC_TEST_HTTP_ENV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "rpc/http/http.h"

#define HT_CT_FORM "application/x-www-form-urlencoded"
#define HT_TEXT_HEAD(status_line, len)                                         \
    "HTTP/1.1 " status_line "\r\n"                                             \
    "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: " len "\r\n"

/* One server on its own loop. Routes (ht_add_routes):
 *   GET /a -> "a"; GET /m -> "get"; POST|DELETE /m -> "post";
 *   GET|HEAD /h -> "hello"; ANY /echo -> method, path, parameters, body;
 *   GET "/p q" -> "space"; GET /a+b -> "plus"; GET /port -> peer ip:port;
 *   ANY /hold -> kept unanswered in held[]; GET /slow?ms= -> "slow" later;
 *   GET /header?name= -> that request header or "(none)";
 *   GET /big -> 3 MiB + 7 bytes of "abc...z" repeated. */
struct ht_env {
    uv_loop_t loop;
    struct lc_http_server *srv;
    int port;
    struct lc_http_exchange *held[8];
    int nheld;
    int slow_replied; /* /slow answers sent */
    int slow_gone;    /* of those, to a client already gone */
    bool srv_closed;
};

/* Replies 200 with the text @data. */
void ht_h_text(struct lc_http_exchange *ex, void *data);
/* Add those routes; return 0 or the first LC_E* error. */
int ht_add_routes(struct lc_http_server *srv, void *env);

/* The limits the fixture starts with: 1 KiB heads, 4 KiB bodies, 16
 * connections. */
struct lc_http_limits ht_limits(void);
void ht_env_start(struct ht_env *env, const struct lc_http_limits *limits);
/* Close the server, answer held exchanges late (they must be gone), close
 * the loop; fails on stray handles. */
void ht_env_stop(struct ht_env *env);
int ht_setup(void **state);
int ht_teardown(void **state);
/* lc_http_server_close callback: sets env->srv_closed. */
void ht_on_srv_closed(struct lc_http_server *srv, void *data);

/* Run the loop until @cond holds or @ms pass; return whether it held. */
bool ht_run_until(struct ht_env *env, bool (*cond)(void *), void *arg,
                  unsigned ms);
bool ht_is_true(void *arg); /* *(bool *)arg */
bool ht_never(void *arg);   /* to run the loop for a fixed time */

/* A raw client connection (uv_tcp_t) to env->port. */
struct ht_raw {
    struct ht_env *env;
    uv_tcp_t tcp;
    uv_connect_t connect;
    char in[1 << 16];
    size_t in_len;
    int connected; /* 1 ok, <0 error */
    bool eof;
    bool closed;
    int want; /* responses, for ht_raw_wait() */
};

struct ht_raw *ht_raw_open(struct ht_env *env);
void ht_raw_send(struct ht_raw *r, const char *data, size_t len);
void ht_raw_sends(struct ht_raw *r, const char *text);
void ht_raw_free(struct ht_raw *r);
bool ht_raw_is_eof(void *arg);

/* A response parsed from what a raw connection received. */
struct ht_resp {
    int status;
    char body[512];
    size_t len;
    bool close;
};

/* Parse @buf as responses (interim 100s skipped) into @r (up to @max);
 * return how many complete responses there are. */
int ht_parse_resps(const char *buf, size_t len, struct ht_resp *r, int max);
/* Wait (3 s at most) for @n responses; return how many arrived. */
int ht_raw_wait(struct ht_raw *r, int n, struct ht_resp *out, int max);
/* Send @req on a fresh connection; expect exactly @want and then EOF. */
void ht_expect_exact_close(struct ht_env *env, const char *req,
                           const char *want);

/* One lc_http_conn call and what it ended with. */
struct ht_result {
    struct lc_http_call call;
    bool done;
    int status;
    int http;
    char body[512];
    size_t len;
};

void ht_on_result(struct lc_http_call *call, int status, int http_status,
                  const char *body, size_t len);
/* Send and wait (5 s at most) for the answer. */
void ht_call(struct ht_env *env, struct lc_http_conn *conn,
             struct ht_result *res, const char *method, const char *path,
             const char *ct, const char *body);
struct lc_http_conn *ht_client(struct ht_env *env, unsigned timeout_ms);

/* An HTTP server on its own thread and loop, for blocking clients
 * (lc_http_fetch, raw sockets). */
struct ht_thread {
    pthread_t thread;
    uv_loop_t loop;
    uv_async_t stop;
    struct lc_http_server *srv;
    uv_sem_t ready;
    int port; /* once started: the bound port, or -1 */
    int loop_close_rv;
    int (*routes)(struct lc_http_server *srv, void *data);
    void *data;
};

/* Start @t with default limits, @routes(srv, @data) called on its thread
 * before it listens on 127.0.0.1 (no cmocka assertions there: return
 * non-zero instead); return 0, or -1 when routes or listen failed. */
int ht_thread_start(struct ht_thread *t,
                    int (*routes)(struct lc_http_server *srv, void *data),
                    void *data);
/* Close the server and join the thread; return uv_loop_close's result (0
 * when every handle was closed). */
int ht_thread_stop(struct ht_thread *t);

#define HT_ASSERT_RESULT(res, st, text)                                        \
    do {                                                                       \
        assert_int_equal((res).status, 0);                                     \
        assert_int_equal((res).http, (st));                                    \
        assert_string_equal((res).body, (text));                               \
    } while (0)

#endif
