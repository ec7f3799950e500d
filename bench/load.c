/* Closed-loop HTTP load over keep-alive connections (see load.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bench/bench.h"
#include "bench/load.h"
#include "common/util.h"
#include "rpc/http/http.h"

struct load;

struct lconn {
    struct load *ld;
    struct lc_http_conn *conn;
    struct lc_http_call call;
    uint64_t sent_us;
    bool busy;
};

struct load {
    const struct lc_load_spec *spec;
    uv_loop_t loop;
    uv_timer_t tick;
    uv_timer_t stop;
    struct lconn *conns;
    bool running;
    uint64_t next_seq;
    uint64_t answered;
    uint64_t errors;
    uint64_t last_answered; /* at the previous progress tick */
    uint64_t last_errors;
    uint64_t start_us;
    uint64_t end_us;
    unsigned ticks;
    uint64_t *lat; /* us, successful requests */
    size_t n_lat;
    size_t cap_lat;
    char first_error[200];
};

static void finish(struct load *ld)
{
    if (!ld->running) {
        return;
    }
    ld->running = false;
    ld->end_us = lc_mono_us();
    uv_timer_stop(&ld->tick);
    uv_timer_stop(&ld->stop);
}

static bool in_flight(const struct load *ld)
{
    for (unsigned i = 0; i < ld->spec->conns; i++) {
        if (ld->conns[i].busy) {
            return true;
        }
    }
    return false;
}

/* Count an error; keep the first one's text: "@what @a: @body". */
static void record_error(struct load *ld, const char *what, int a,
                         const char *body, size_t len)
{
    ld->errors++;
    if (ld->first_error[0] == '\0') {
        char b[120];
        size_t n = len < sizeof b - 1 ? len : sizeof b - 1;
        memcpy(b, body != NULL ? body : "", body != NULL ? n : 0);
        b[body != NULL ? n : 0] = '\0';
        snprintf(ld->first_error, sizeof ld->first_error, "%s %d: %s", what,
                 a, b);
    }
}

static void send_next(struct lconn *c);

static void on_response(struct lc_http_call *call, int status,
                        int http_status, const char *body, size_t len)
{
    struct lconn *c = call->data;
    struct load *ld = c->ld;
    const struct lc_load_spec *s = ld->spec;
    uint64_t now = lc_mono_us();

    c->busy = false;
    if (!ld->running) {
        /* Answers after the end (or cancelled calls) do not count. */
        if (!in_flight(ld)) {
            uv_stop(&ld->loop);
        }
        return;
    }
    if (status != 0) {
        /* The client reconnects by itself on the next send. */
        record_error(ld, "connection error", status, NULL, 0);
    } else if (http_status < 200 || http_status > 299) {
        record_error(ld, "HTTP", http_status, body, len);
    } else if ((s->body_equals != NULL &&
                (len != strlen(s->body_equals) ||
                 memcmp(body, s->body_equals, len) != 0)) ||
               (s->body_prefix != NULL &&
                (len < strlen(s->body_prefix) ||
                 memcmp(body, s->body_prefix, strlen(s->body_prefix)) !=
                     0))) {
        record_error(ld, "unexpected body, HTTP", http_status, body, len);
    } else {
        if (ld->n_lat == ld->cap_lat) {
            size_t cap = ld->cap_lat == 0 ? 65536 : ld->cap_lat * 2;
            uint64_t *v = realloc(ld->lat, cap * sizeof *v);
            if (v != NULL) {
                ld->lat = v;
                ld->cap_lat = cap;
            }
        }
        if (ld->n_lat < ld->cap_lat) {
            ld->lat[ld->n_lat++] = now - c->sent_us;
        }
    }
    ld->answered++;
    if (s->limit != 0 && ld->answered >= s->limit) {
        finish(ld);
    }
    if (ld->running) {
        send_next(c);
    } else if (!in_flight(ld)) {
        uv_stop(&ld->loop);
    }
}

static void send_next(struct lconn *c)
{
    struct load *ld = c->ld;
    const struct lc_load_spec *s = ld->spec;
    char path[2048];
    int rv;

    if (s->limit != 0 && ld->next_seq >= s->limit) {
        return; /* the others finish the last ones */
    }
    s->path(s->data, ld->next_seq++, path, sizeof path);
    c->call.data = c;
    c->sent_us = lc_mono_us();
    c->busy = true;
    rv = lc_http_conn_send(c->conn, &c->call, s->method, path, NULL, NULL, 0,
                           on_response);
    if (rv != 0) {
        c->busy = false;
        record_error(ld, "cannot send, error", rv, NULL, 0);
        finish(ld);
        if (!in_flight(ld)) {
            uv_stop(&ld->loop);
        }
    }
}

static void on_tick(uv_timer_t *t)
{
    struct load *ld = t->data;
    const struct lc_load_spec *s = ld->spec;
    ld->ticks++;
    if (!s->quiet) {
        fprintf(stderr, "  %s: %2u s  %8llu %s  %llu errors\n",
                s->label != NULL ? s->label : "load", ld->ticks,
                (unsigned long long)(ld->answered - ld->last_answered -
                                     (ld->errors - ld->last_errors)),
                s->unit != NULL ? s->unit : "requests/s",
                (unsigned long long)ld->errors);
    }
    ld->last_answered = ld->answered;
    ld->last_errors = ld->errors;
}

static void on_stop(uv_timer_t *t)
{
    struct load *ld = t->data;
    finish(ld);
    if (!in_flight(ld)) {
        uv_stop(&ld->loop);
    }
}

int lc_load_run(const struct lc_load_spec *spec, struct lc_load_result *out)
{
    struct load ld;
    int rv = 0;

    memset(out, 0, sizeof *out);
    memset(&ld, 0, sizeof ld);
    ld.spec = spec;
    if (spec->conns == 0 || (spec->ms == 0 && spec->limit == 0)) {
        return -1;
    }
    ld.conns = calloc(spec->conns, sizeof *ld.conns);
    if (ld.conns == NULL || uv_loop_init(&ld.loop) != 0) {
        free(ld.conns);
        return -1;
    }
    uv_timer_init(&ld.loop, &ld.tick);
    uv_timer_init(&ld.loop, &ld.stop);
    ld.tick.data = &ld;
    ld.stop.data = &ld;
    for (unsigned i = 0; i < spec->conns; i++) {
        ld.conns[i].ld = &ld;
        if (lc_http_conn_new(&ld.loop, spec->host, spec->port, 30000,
                             &ld.conns[i].conn) != 0) {
            rv = -1;
        }
    }
    if (rv == 0) {
        ld.running = true;
        ld.start_us = lc_mono_us();
        uv_timer_start(&ld.tick, on_tick, 1000, 1000);
        if (spec->ms != 0) {
            uv_timer_start(&ld.stop, on_stop, spec->ms, 0);
        }
        for (unsigned i = 0; i < spec->conns && ld.running; i++) {
            send_next(&ld.conns[i]);
        }
        if (ld.running || in_flight(&ld)) {
            uv_run(&ld.loop, UV_RUN_DEFAULT);
        }
        finish(&ld);
    }
    for (unsigned i = 0; i < spec->conns; i++) {
        if (ld.conns[i].conn != NULL) {
            lc_http_conn_close(ld.conns[i].conn);
        }
    }
    uv_close((uv_handle_t *)&ld.tick, NULL);
    uv_close((uv_handle_t *)&ld.stop, NULL);
    uv_run(&ld.loop, UV_RUN_DEFAULT);
    uv_loop_close(&ld.loop);

    out->seconds = (double)(ld.end_us - ld.start_us) / 1e6;
    out->requests = ld.answered;
    out->errors = ld.errors;
    out->rate = out->seconds > 0
                    ? (double)(ld.answered - ld.errors) / out->seconds
                    : 0;
    lc_bench_sort(ld.lat, ld.n_lat);
    out->p50_ms = (double)lc_bench_percentile(ld.lat, ld.n_lat, 50) / 1000;
    out->p90_ms = (double)lc_bench_percentile(ld.lat, ld.n_lat, 90) / 1000;
    out->p99_ms = (double)lc_bench_percentile(ld.lat, ld.n_lat, 99) / 1000;
    out->max_ms = (double)lc_bench_percentile(ld.lat, ld.n_lat, 100) / 1000;
    memcpy(out->first_error, ld.first_error, sizeof out->first_error);
    free(ld.lat);
    free(ld.conns);
    return rv;
}
