/* locusctl bench push: how long a change takes to reach v1 UDP subscribers.
 *
 * It starts a standalone locusd (or uses --server), opens N UDP sockets on
 * loopback and subscribes each to one service through /instance/list with a
 * Nacos-Java-Client User-Agent, as the npm client does. It keeps one base
 * instance registered, then makes C changes one after another: even changes
 * register a persistent instance, odd ones deregister it. For each change it
 * records, per subscriber, the time from the write's HTTP acknowledgement
 * (and from the request) to the first push whose host list is the new one;
 * the next change starts once every subscriber has it (or after 5 s). Every
 * push is acked, as clients do, so the server never resends.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>
#include <zlib.h>

#include "bench/bench.h"
#include "bench/cluster.h"
#include "common/util.h"
#include "rpc/http/http.h"

#define AGENT "Nacos-Java-Client:v1.0.0"
#define BASE_PORT 1
#define CHANGE_TIMEOUT_MS 5000

int lc_bench_http_agent(const char *host, int port, const char *method,
                        const char *path, const char *agent, int *status,
                        char **body)
{
    struct sockaddr_in addr;
    struct timeval tv = {5, 0};
    char req[4096];
    size_t cap = 65536, len = 0;
    char *buf;
    char *sep;
    int n;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    n = snprintf(req, sizeof req,
                 "%s %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: %s\r\n"
                 "Connection: close\r\nContent-Length: 0\r\n\r\n",
                 method, path, host, port, agent);
    if (n <= 0 || (size_t)n >= sizeof req || write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    buf = malloc(cap + 1);
    for (;;) {
        ssize_t r;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    sep = strstr(buf, "\r\n\r\n");
    if (strncmp(buf, "HTTP/1.1 ", 9) != 0 || sep == NULL) {
        free(buf);
        return -1;
    }
    *status = atoi(buf + 9);
    if (body != NULL) {
        *body = strdup(sep + 4);
    }
    free(buf);
    return 0;
}

struct pb;

struct subscriber {
    struct pb *pb;
    uv_udp_t udp;
    int port;
    unsigned seen; /* last change seen, +1 (0: none) */
    uint64_t pushes;
};

struct pb {
    uv_loop_t loop;
    uv_timer_t timer;
    struct subscriber *subs;
    unsigned n;
    char host[256];
    int port;
    char service[128];
    struct lc_http_conn *conn;
    struct lc_http_call call;
    /* the change in flight */
    unsigned change;
    bool register_op;
    uint64_t sent_us;
    uint64_t acked_us; /* 0 until the HTTP answer */
    unsigned have;     /* subscribers with the new list */
    bool http_done;
    int http_error;
    uint64_t *from_ack; /* us, per (change, subscriber) */
    uint64_t *from_req;
    size_t n_lat;
    uint64_t pushes;
    uint64_t malformed;
    uint64_t missed;
    char rbuf[65536];
    char zbuf[1 << 20];
};

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    struct subscriber *s = h->data;
    (void)size;
    buf->base = s->pb->rbuf;
    buf->len = sizeof s->pb->rbuf;
}

/* The ports of the pushed hosts are what this change should leave: the base
 * instance, plus 1000+change after a register. */
static bool is_new_list(struct pb *pb, json_t *hosts)
{
    size_t i;
    json_t *h;
    size_t want = pb->register_op ? 2 : 1;
    bool has_new = !pb->register_op;
    if (json_array_size(hosts) != want) {
        return false;
    }
    json_array_foreach(hosts, i, h)
    {
        json_int_t port = json_integer_value(json_object_get(h, "port"));
        if (port == 1000 + (json_int_t)pb->change) {
            has_new = true;
        } else if (port != BASE_PORT) {
            return false;
        }
    }
    return has_new;
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                    const struct sockaddr *addr, unsigned flags)
{
    struct subscriber *s = h->data;
    struct pb *pb = s->pb;
    const char *text = buf->base;
    size_t len = (size_t)nread;
    json_t *root = NULL;
    json_t *info = NULL;
    uint64_t now = lc_mono_us();
    (void)flags;

    if (nread <= 0 || addr == NULL) {
        return;
    }
    if (len >= 2 && (unsigned char)text[0] == 0x1f &&
        (unsigned char)text[1] == 0x8b) {
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        inflateInit2(&zs, 15 + 16);
        zs.next_in = (Bytef *)(uintptr_t)text;
        zs.avail_in = (uInt)len;
        zs.next_out = (Bytef *)pb->zbuf;
        zs.avail_out = sizeof pb->zbuf;
        if (inflate(&zs, Z_FINISH) != Z_STREAM_END) {
            inflateEnd(&zs);
            pb->malformed++;
            return;
        }
        text = pb->zbuf;
        len = zs.total_out;
        inflateEnd(&zs);
    }
    root = json_loadb(text, len, 0, NULL);
    info =
        json_loads(json_string_value(json_object_get(root, "data")), 0, NULL);
    if (info == NULL) {
        pb->malformed++;
        json_decref(root);
        return;
    }
    {
        char ack[128];
        int n = snprintf(ack, sizeof ack,
                         "{\"type\":\"push-ack\",\"lastRefTime\":%lld,"
                         "\"data\":\"\"}",
                         (long long)json_integer_value(
                             json_object_get(root, "lastRefTime")));
        uv_buf_t b = uv_buf_init(ack, (unsigned)n);
        uv_udp_try_send(h, &b, 1, addr);
    }
    s->pushes++;
    pb->pushes++;
    if (pb->change > 0 && s->seen != pb->change &&
        is_new_list(pb, json_object_get(info, "hosts"))) {
        size_t k = pb->n_lat++;
        s->seen = pb->change;
        pb->from_req[k] = now - pb->sent_us;
        /* A push that beats the HTTP answer counts as 0 once it comes. */
        pb->from_ack[k] = pb->acked_us == 0 ? UINT64_MAX : now - pb->acked_us;
        pb->have++;
    }
    json_decref(info);
    json_decref(root);
}

static void on_change_answer(struct lc_http_call *call, int status,
                             int http_status, const char *body, size_t len)
{
    struct pb *pb = call->data;
    (void)body;
    (void)len;
    pb->acked_us = lc_mono_us();
    pb->http_done = true;
    if (status != 0 || http_status != 200) {
        pb->http_error = status != 0 ? -status : http_status;
    }
    for (size_t k = pb->n_lat - pb->have; k < pb->n_lat; k++) {
        if (pb->from_ack[k] == UINT64_MAX) {
            pb->from_ack[k] = 0;
        }
    }
}

static void on_timer(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Run the loop until every subscriber has change @pb->change and the HTTP
 * answer came, or @ms passed. */
static bool wait_change(struct pb *pb, unsigned ms)
{
    uint64_t end = lc_mono_ms() + ms;
    while (!(pb->http_done && pb->have == pb->n)) {
        if (lc_mono_ms() >= end) {
            return false;
        }
        uv_update_time(&pb->loop);
        uv_timer_start(&pb->timer, on_timer, 5, 0);
        uv_run(&pb->loop, UV_RUN_DEFAULT);
    }
    return true;
}

static int change(struct pb *pb, unsigned k)
{
    char path[512];
    pb->change = k;
    pb->register_op = k % 2 == 1;
    pb->have = 0;
    pb->http_done = false;
    pb->http_error = 0;
    pb->acked_us = 0;
    snprintf(path, sizeof path,
             "/nacos/v1/ns/instance?serviceName=%s&ip=127.9.9.9&port=%u"
             "&ephemeral=false",
             pb->service, 1000 + (pb->register_op ? k : k - 1));
    pb->call.data = pb;
    pb->sent_us = lc_mono_us();
    if (pb->register_op) {
        return lc_http_conn_send(pb->conn, &pb->call, "POST", path, NULL, NULL,
                                 0, on_change_answer);
    }
    return lc_http_conn_send(pb->conn, &pb->call, "DELETE", path, NULL, NULL, 0,
                             on_change_answer);
}

/* "host:port" (IPv4 literal host) into @host and *@port. */
static bool parse_server(const char *v, char *host, size_t size, int *port)
{
    const char *colon = strrchr(v, ':');
    if (colon == NULL || (size_t)(colon - v) >= size || atoi(colon + 1) <= 0) {
        fprintf(stderr, "locusctl: --server wants host:port (got '%s')\n", v);
        return false;
    }
    snprintf(host, size, "%.*s", (int)(colon - v), v);
    *port = atoi(colon + 1);
    return true;
}

static const char pb_usage[] =
    "usage: locusctl bench push [--subscribers N] [--changes C]\n"
    "       [--server host:port | --port P --dir D --locusd PATH]\n"
    "       [--set key=value] [--json]\n"
    "\n"
    "Opens N UDP subscribers (100) on one service and makes C changes (200),\n"
    "alternately registering and deregistering a persistent instance, and\n"
    "measures change acknowledged -> every subscriber has the new list.\n"
    "Without --server it starts a standalone locusd (HTTP port P, default\n"
    "19948, data in D, default data/bench-push); --set adds a property to\n"
    "its configuration (e.g. --set nacos.naming.push.pushTaskDelay=500).\n";

static void pct_row(const char *what, uint64_t *v, size_t n)
{
    lc_bench_sort(v, n);
    printf("%-34s %8.2f %8.2f %8.2f %8.2f\n", what,
           (double)lc_bench_percentile(v, n, 50) / 1000,
           (double)lc_bench_percentile(v, n, 90) / 1000,
           (double)lc_bench_percentile(v, n, 99) / 1000,
           (double)lc_bench_percentile(v, n, 100) / 1000);
}

static json_t *pct_json(uint64_t *v, size_t n)
{
    json_t *o = json_object();
    lc_bench_sort(v, n);
    json_object_set_new(
        o, "p50Ms", json_real((double)lc_bench_percentile(v, n, 50) / 1000));
    json_object_set_new(
        o, "p90Ms", json_real((double)lc_bench_percentile(v, n, 90) / 1000));
    json_object_set_new(
        o, "p99Ms", json_real((double)lc_bench_percentile(v, n, 99) / 1000));
    json_object_set_new(
        o, "maxMs", json_real((double)lc_bench_percentile(v, n, 100) / 1000));
    return o;
}

int lc_bench_push(int argc, char **argv, bool json, const char *server)
{
    struct lc_cluster_spec spec = {.n = 1,
                                   .base_port = 19948,
                                   .port_step = 10,
                                   .dir = "data/bench-push",
                                   .locusd = "build/locusd"};
    struct lc_cluster cluster;
    bool own = true;
    unsigned n = 100;
    unsigned changes = 200;
    char extra[2048] = "";
    struct pb *pb;
    int status;
    char *body = NULL;
    int rc = 0;
    unsigned done = 0;
    char server_host[256] = "";
    int server_port = 0;

    if (server != NULL) {
        if (!parse_server(server, server_host, sizeof server_host,
                          &server_port)) {
            return 2;
        }
        own = false;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            json = true;
            continue;
        }
        if (strcmp(a, "--help") == 0) {
            fputs(pb_usage, stdout);
            return 0;
        }
        if (v == NULL) {
            fprintf(stderr, "locusctl: %s needs a value\n%s", a, pb_usage);
            return 2;
        }
        i++;
        if (strcmp(a, "--subscribers") == 0) {
            n = (unsigned)atoi(v);
        } else if (strcmp(a, "--changes") == 0) {
            changes = (unsigned)atoi(v);
        } else if (strcmp(a, "--port") == 0) {
            spec.base_port = atoi(v);
        } else if (strcmp(a, "--dir") == 0) {
            spec.dir = v;
        } else if (strcmp(a, "--locusd") == 0) {
            spec.locusd = v;
        } else if (strcmp(a, "--server") == 0) {
            if (!parse_server(v, server_host, sizeof server_host,
                              &server_port)) {
                return 2;
            }
            own = false;
        } else if (strcmp(a, "--set") == 0) {
            size_t l = strlen(extra);
            snprintf(extra + l, sizeof extra - l, "%s\n", v);
        } else {
            fprintf(stderr, "locusctl: unknown option %s\n%s", a, pb_usage);
            return 2;
        }
    }
    if (n == 0 || n > 4096 || changes < 2 || changes > 100000) {
        fprintf(stderr, "locusctl: 1..4096 subscribers, 2..100000 changes\n");
        return 2;
    }
    pb = calloc(1, sizeof *pb);
    pb->n = n;
    if (own) {
        spec.extra = extra;
        if (lc_cluster_init(&cluster, &spec) != 0 ||
            lc_cluster_wipe(&cluster) != 0) {
            free(pb);
            return 1;
        }
        fprintf(stderr, "starting a standalone locusd in %s (port %d)...\n",
                cluster.dir, cluster.nodes[0].port);
        if (lc_cluster_start(&cluster) != 0 ||
            lc_cluster_wait_all_ready(&cluster, 30000) != 0) {
            fprintf(stderr,
                    "locusctl: locusd did not become ready; log in "
                    "%s\n",
                    cluster.dir);
            lc_cluster_stop(&cluster);
            free(pb);
            return 1;
        }
        snprintf(pb->host, sizeof pb->host, "127.0.0.1");
        pb->port = cluster.nodes[0].port;
    } else {
        snprintf(pb->host, sizeof pb->host, "%s", server_host);
        pb->port = server_port;
    }
    snprintf(pb->service, sizeof pb->service, "bench-push-%d", (int)getpid());

    uv_loop_init(&pb->loop);
    uv_timer_init(&pb->loop, &pb->timer);
    pb->subs = calloc(n, sizeof *pb->subs);
    pb->from_ack = calloc((size_t)n * changes, sizeof *pb->from_ack);
    pb->from_req = calloc((size_t)n * changes, sizeof *pb->from_req);
    if (lc_http_conn_new(&pb->loop, pb->host, pb->port, 10000, &pb->conn) !=
        0) {
        rc = 1;
        goto out;
    }

    /* The base instance, then the subscribers. */
    {
        char path[512];
        snprintf(path, sizeof path,
                 "/nacos/v1/ns/instance?serviceName=%s&ip=127.9.9.9&port=%d"
                 "&ephemeral=false",
                 pb->service, BASE_PORT);
        if (lc_bench_http_agent(pb->host, pb->port, "POST", path, AGENT,
                                &status, NULL) != 0 ||
            status != 200) {
            fprintf(stderr, "locusctl: cannot register on %s:%d\n", pb->host,
                    pb->port);
            rc = 1;
            goto out;
        }
    }
    fprintf(stderr, "subscribing %u UDP sockets to %s...\n", n, pb->service);
    for (unsigned i = 0; i < n; i++) {
        struct subscriber *s = &pb->subs[i];
        struct sockaddr_in addr;
        struct sockaddr_storage name;
        int namelen = sizeof name;
        char path[512];
        s->pb = pb;
        uv_udp_init(&pb->loop, &s->udp);
        s->udp.data = s;
        uv_ip4_addr("127.0.0.1", 0, &addr);
        if (uv_udp_bind(&s->udp, (const struct sockaddr *)&addr, 0) != 0 ||
            uv_udp_getsockname(&s->udp, (struct sockaddr *)&name, &namelen) !=
                0) {
            fprintf(stderr, "locusctl: cannot open UDP socket %u\n", i);
            rc = 1;
            goto out;
        }
        s->port = ntohs(((struct sockaddr_in *)&name)->sin_port);
        uv_udp_recv_start(&s->udp, on_alloc, on_recv);
        snprintf(path, sizeof path,
                 "/nacos/v1/ns/instance/list?serviceName=%s&clusters="
                 "&udpPort=%d&clientIP=127.0.0.1&healthyOnly=false",
                 pb->service, s->port);
        if (lc_bench_http_agent(pb->host, pb->port, "GET", path, AGENT, &status,
                                NULL) != 0 ||
            status != 200) {
            fprintf(stderr, "locusctl: subscription %u failed\n", i);
            rc = 1;
            goto out;
        }
    }
    /* The subscription pushes (acked by on_recv). */
    {
        uint64_t end = lc_mono_ms() + 3000;
        bool all = false;
        while (!all && lc_mono_ms() < end) {
            uv_update_time(&pb->loop);
            uv_timer_start(&pb->timer, on_timer, 10, 0);
            uv_run(&pb->loop, UV_RUN_DEFAULT);
            all = true;
            for (unsigned i = 0; i < n; i++) {
                all = all && pb->subs[i].pushes > 0;
            }
        }
        if (!all) {
            fprintf(stderr, "locusctl: not every subscriber got its first "
                            "push\n");
            rc = 1;
            goto out;
        }
    }

    fprintf(stderr, "%u changes...\n", changes);
    for (unsigned k = 1; k <= changes; k++) {
        if (change(pb, k) != 0) {
            rc = 1;
            break;
        }
        if (!wait_change(pb, CHANGE_TIMEOUT_MS)) {
            pb->missed += n - pb->have;
            fprintf(stderr,
                    "change %u: %u of %u subscribers got it in %d ms%s\n", k,
                    pb->have, n, CHANGE_TIMEOUT_MS,
                    pb->http_done ? "" : " (no HTTP answer)");
            /* Let the HTTP call finish before the next change. */
            while (!pb->http_done) {
                uv_update_time(&pb->loop);
                uv_timer_start(&pb->timer, on_timer, 10, 0);
                uv_run(&pb->loop, UV_RUN_DEFAULT);
            }
        }
        if (pb->http_error != 0) {
            fprintf(stderr, "change %u: the write failed (%d)\n", k,
                    pb->http_error);
            rc = 1;
            break;
        }
        done = k;
        if (k % (changes / 10 > 0 ? changes / 10 : 1) == 0) {
            fprintf(stderr, "  %u/%u changes, %zu deliveries\n", k, changes,
                    pb->n_lat);
        }
    }
    if (lc_bench_http_agent(pb->host, pb->port, "GET",
                            "/nacos/v1/ns/operator/push/state?detail=true",
                            AGENT, &status, &body) != 0) {
        body = NULL;
    }

    if (json) {
        json_t *root = json_object();
        json_object_set_new(root, "subscribers", json_integer(n));
        json_object_set_new(root, "changes", json_integer(done));
        json_object_set_new(root, "deliveries",
                            json_integer((json_int_t)pb->n_lat));
        json_object_set_new(root, "missed",
                            json_integer((json_int_t)pb->missed));
        json_object_set_new(root, "pushesReceived",
                            json_integer((json_int_t)pb->pushes));
        json_object_set_new(root, "fromAck", pct_json(pb->from_ack, pb->n_lat));
        json_object_set_new(root, "fromRequest",
                            pct_json(pb->from_req, pb->n_lat));
        json_object_set_new(root, "serverPushState",
                            body != NULL ? json_loads(body, 0, NULL)
                                         : json_null());
        char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        printf("%s\n", text);
        free(text);
        json_decref(root);
    } else {
        printf("\n%u subscribers, %u changes: %zu deliveries, %llu missed, "
               "%llu pushes received\n\n",
               n, done, pb->n_lat, (unsigned long long)pb->missed,
               (unsigned long long)pb->pushes);
        printf("%-34s %8s %8s %8s %8s\n", "latency (ms)", "p50", "p90", "p99",
               "max");
        pct_row("write acknowledged -> new list", pb->from_ack, pb->n_lat);
        pct_row("write sent -> new list", pb->from_req, pb->n_lat);
        if (body != NULL) {
            printf("\nserver /operator/push/state: %s\n", body);
        }
    }
    if (pb->missed > 0) {
        rc = 1;
    }

out:
    free(body);
    if (pb->conn != NULL) {
        lc_http_conn_close(pb->conn);
    }
    for (unsigned i = 0; i < n; i++) {
        if (pb->subs[i].pb != NULL) {
            uv_close((uv_handle_t *)&pb->subs[i].udp, NULL);
        }
    }
    uv_close((uv_handle_t *)&pb->timer, NULL);
    uv_run(&pb->loop, UV_RUN_DEFAULT);
    uv_loop_close(&pb->loop);
    if (own) {
        lc_cluster_stop(&cluster);
    }
    free(pb->subs);
    free(pb->from_ack);
    free(pb->from_req);
    free(pb);
    return rc;
}
