/* A closed-loop HTTP load generator on libuv for `locusctl bench ...`.
 *
 * N keep-alive connections (rpc/http/http.h's client), each with one request in
 * flight: as soon as a response arrives the connection sends the next one.
 * Requests are numbered 0, 1, 2, ... across all connections; the caller's
 * callback turns a number into a path. A response is an error unless it is
 * 2xx and its body passes the check (exactly "ok", or a prefix). Latencies
 * are kept per request (microseconds) for percentiles.
 */
#ifndef LC_BENCH_LOAD_H
#define LC_BENCH_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lc_load_spec {
    const char *host;
    int port;
    unsigned conns;      /* keep-alive connections (64) */
    unsigned ms;         /* duration; 0: until @limit requests */
    uint64_t limit;      /* stop after this many requests (0: no limit) */
    const char *method;  /* "POST", "GET", ... */
    /* Path and query of request @seq. */
    void (*path)(void *data, uint64_t seq, char *out, size_t size);
    void *data;
    const char *body_equals; /* the body must be exactly this, or NULL */
    const char *body_prefix; /* the body must start with this, or NULL */
    const char *label;       /* progress lines: "run 1" */
    const char *unit;        /* "registrations/s" */
    bool quiet;              /* no progress on stderr */
};

struct lc_load_result {
    double seconds;
    uint64_t requests; /* answered, errors included */
    uint64_t errors;
    double rate;       /* successful requests per second */
    double p50_ms, p90_ms, p99_ms, max_ms;
    char first_error[200]; /* the first error seen, for the report */
};

/* Run the load; blocking (its own loop). Return 0, or -1 when nothing
 * could be sent at all. */
int lc_load_run(const struct lc_load_spec *spec, struct lc_load_result *out);

#endif /* LC_BENCH_LOAD_H */
