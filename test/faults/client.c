/* The fault suite's clients (client.h): blocking HTTP/1.1 on plain sockets,
 * one thread per client, one shared operation log.
 *
 * Outcomes: 200 with body "ok" is an acknowledgement; a 4xx is a refusal
 * (the request was rejected before anything was written); a connect that
 * fails means nothing was sent. Everything else (a timeout, a connection
 * closed before a whole answer, any 5xx: "raft write timed out ... may
 * still be applied", a proxy's read timeout) is unknown.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test/faults/client.h"

#define CONNECT_TIMEOUT_MS 1000

struct fc_client {
    struct fc_clients *cl;
    unsigned id;
    unsigned node;
    uint32_t rng;
    pthread_t thread;
};

struct fc_clients {
    struct fc_config cfg;
    atomic_bool stop;
    pthread_mutex_t mu;
    struct fh_op *ops;
    size_t n_ops;
    size_t cap;
    size_t counts[3];
    struct fc_client clients[FC_MAX_CLIENTS];
    unsigned started;
};

void fc_key_service(unsigned k, char *buf, size_t size)
{
    snprintf(buf, size, "faults%u", k % FC_SERVICES);
}

int fc_key_port(unsigned k)
{
    return FC_PORT0 + (int)k;
}

static int remaining_ms(uint64_t deadline_us)
{
    uint64_t now = lc_mono_us();
    return now >= deadline_us ? 0 : (int)((deadline_us - now + 999) / 1000);
}

/* Connect within the connect timeout. Return the socket or -1. */
static int connect_to(const char *host, int port, uint64_t deadline_us)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct pollfd p;
    int err = 0;
    socklen_t len = sizeof err;
    int ms = remaining_ms(deadline_us);
    int fd;

    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        return -1;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        return fd;
    }
    if (errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    p.fd = fd;
    p.events = POLLOUT;
    if (ms > CONNECT_TIMEOUT_MS) {
        ms = CONNECT_TIMEOUT_MS;
    }
    if (poll(&p, 1, ms) != 1 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const char *buf, size_t len, uint64_t deadline)
{
    while (len > 0) {
        struct pollfd p = {fd, POLLOUT, 0};
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            return false;
        }
        if (poll(&p, 1, remaining_ms(deadline)) != 1) {
            return false;
        }
    }
    return true;
}

/* Decode a chunked body in place; return its length or -1 if incomplete. */
static long dechunk(char *body, size_t len)
{
    size_t in = 0;
    size_t out = 0;
    for (;;) {
        char *end;
        unsigned long n;
        char *eol = memmem(body + in, len - in, "\r\n", 2);
        if (eol == NULL) {
            return -1;
        }
        n = strtoul(body + in, &end, 16);
        in = (size_t)(eol - body) + 2;
        if (n == 0) {
            return (long)out;
        }
        if (in + n + 2 > len) {
            return -1;
        }
        memmove(body + out, body + in, n);
        out += n;
        in += n + 2;
    }
}

/* Whether @buf (@len) holds a whole response; its status and body then. */
static bool parse_response(char *buf, size_t len, bool eof, int *status,
                           char *body, size_t body_size)
{
    char *head_end = memmem(buf, len, "\r\n\r\n", 4);
    char *p;
    size_t head_len;
    size_t have;
    long want = -1;
    bool chunked = false;
    int code;

    if (head_end == NULL || sscanf(buf, "HTTP/1.%*d %d", &code) != 1) {
        return false;
    }
    head_len = (size_t)(head_end - buf) + 4;
    *head_end = '\0';
    for (p = strstr(buf, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, "content-length:", 15) == 0) {
            want = strtol(p + 17, NULL, 10);
        } else if (strncasecmp(p + 2, "transfer-encoding:", 18) == 0 &&
                   strstr(p + 20, "chunked") != NULL) {
            chunked = true;
        }
    }
    *head_end = '\r';
    have = len - head_len;
    if (chunked) {
        long n;
        char *copy = malloc(have + 1);
        if (copy == NULL) {
            return false;
        }
        memcpy(copy, buf + head_len, have);
        n = dechunk(copy, have);
        if (n >= 0) {
            size_t k = (size_t)n < body_size - 1 ? (size_t)n : body_size - 1;
            memcpy(body, copy, k);
            body[k] = '\0';
        }
        free(copy);
        if (n < 0) {
            return false;
        }
    } else {
        size_t k;
        if (want >= 0 ? have < (size_t)want : !eof) {
            return false;
        }
        k = want >= 0 ? (size_t)want : have;
        if (k > body_size - 1) {
            k = body_size - 1;
        }
        memcpy(body, buf + head_len, k);
        body[k] = '\0';
    }
    *status = code;
    return true;
}

enum fh_outcome fc_http(const char *host, int port, const char *method,
                        const char *target, const char *form,
                        unsigned timeout_ms, int *status, char *body,
                        size_t body_size)
{
    uint64_t deadline = lc_mono_us() + (uint64_t)timeout_ms * 1000u;
    char req[2048];
    char buf[16384];
    size_t len = 0;
    int n;
    int fd = connect_to(host, port, deadline);

    if (fd < 0) {
        return FH_FAILED; /* nothing was sent */
    }
    if (form != NULL) {
        n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     method, target, host, port, strlen(form), form);
    } else {
        n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n"
                     "\r\n",
                     method, target, host, port);
    }
    if (n < 0 || (size_t)n >= sizeof req ||
        !send_all(fd, req, (size_t)n, deadline)) {
        close(fd);
        return FH_UNKNOWN;
    }
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t r;
        int ms = remaining_ms(deadline);
        if (ms == 0 || poll(&p, 1, ms) != 1) {
            break;
        }
        r = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            continue;
        }
        if (r <= 0 || len + (size_t)r >= sizeof buf - 1) {
            if (r > 0) {
                len += (size_t)r;
            }
            buf[len] = '\0';
            if (parse_response(buf, len, true, status, body, body_size)) {
                close(fd);
                return FH_OK;
            }
            break;
        }
        len += (size_t)r;
        buf[len] = '\0';
        if (parse_response(buf, len, false, status, body, body_size)) {
            close(fd);
            return FH_OK;
        }
    }
    close(fd);
    return FH_UNKNOWN;
}

static uint32_t next_rand(uint32_t *s)
{
    /* xorshift32: reproducible per client from the run's seed. */
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void record(struct fc_clients *cl, const struct fh_op *op)
{
    pthread_mutex_lock(&cl->mu);
    if (cl->n_ops == cl->cap) {
        size_t cap = cl->cap != 0 ? cl->cap * 2 : 4096;
        struct fh_op *ops = realloc(cl->ops, cap * sizeof *ops);
        if (ops == NULL) {
            pthread_mutex_unlock(&cl->mu);
            fprintf(stderr, "faults: out of memory for the log\n");
            abort();
        }
        cl->ops = ops;
        cl->cap = cap;
    }
    cl->ops[cl->n_ops++] = *op;
    cl->counts[op->outcome]++;
    pthread_mutex_unlock(&cl->mu);
}

/* One operation by client @c; returns its outcome. */
static enum fh_outcome one_op(struct fc_client *c)
{
    const struct fc_config *cfg = &c->cl->cfg;
    struct fh_op op = {0};
    char service[32];
    char form[256];
    char target[320];
    char body[256];
    int status = 0;
    enum fh_outcome o;

    op.key = next_rand(&c->rng) % cfg->n_keys;
    op.reg = next_rand(&c->rng) % 100 < 55;
    op.client = c->id;
    fc_key_service(op.key, service, sizeof service);
    snprintf(form, sizeof form,
             "serviceName=%s&ip=" FC_IP "&port=%d&ephemeral=false", service,
             fc_key_port(op.key));
    op.invoke_us = lc_mono_us();
    if (op.reg) {
        /* A weight of its own (1 in 100,000 to repeat one): a registration
         * always changes the instance, so it is a real Raft write even when
         * the instance is there already (an unchanged one may be answered
         * without one), and its acknowledgement shows the cluster could
         * write. */
        unsigned w = next_rand(&c->rng) % 100000u;
        size_t used = strlen(form);
        snprintf(form + used, sizeof form - used, "&weight=%u.%02u",
                 1 + w / 100u, w % 100u);
        o = fc_http(cfg->hosts[c->node], cfg->port, "POST",
                    "/nacos/v1/ns/instance", form, cfg->timeout_ms, &status,
                    body, sizeof body);
    } else {
        snprintf(target, sizeof target, "/nacos/v1/ns/instance?%s", form);
        o = fc_http(cfg->hosts[c->node], cfg->port, "DELETE", target, NULL,
                    cfg->timeout_ms, &status, body, sizeof body);
    }
    op.complete_us = lc_mono_us();
    if (o == FH_OK) {
        /* An answer: which kind? */
        if (status == 200 && strcmp(body, "ok") == 0) {
            o = FH_OK;
        } else if (status >= 400 && status < 500) {
            o = FH_FAILED;
        } else {
            o = FH_UNKNOWN;
        }
    }
    op.outcome = o;
    record(c->cl, &op);
    return o;
}

static void *client_main(void *arg)
{
    struct fc_client *c = arg;
    const struct fc_config *cfg = &c->cl->cfg;
    while (!atomic_load(&c->cl->stop)) {
        if (one_op(c) != FH_OK) {
            c->node = (c->node + 1) % cfg->n_nodes;
        }
        if (cfg->think_ms > 0) {
            usleep((useconds_t)(next_rand(&c->rng) % (cfg->think_ms + 1)) *
                   1000u);
        }
    }
    return NULL;
}

struct fc_clients *fc_start(const struct fc_config *cfg)
{
    struct fc_clients *cl;
    if (cfg->n_clients == 0 || cfg->n_clients > FC_MAX_CLIENTS ||
        cfg->n_nodes == 0 || cfg->n_nodes > FC_MAX_NODES || cfg->n_keys == 0) {
        return NULL;
    }
    cl = calloc(1, sizeof *cl);
    if (cl == NULL) {
        return NULL;
    }
    cl->cfg = *cfg;
    pthread_mutex_init(&cl->mu, NULL);
    for (unsigned i = 0; i < cfg->n_clients; i++) {
        struct fc_client *c = &cl->clients[i];
        c->cl = cl;
        c->id = i;
        c->node = i % cfg->n_nodes;
        c->rng = cfg->seed * 2654435761u + i * 40503u + 1u;
        if (pthread_create(&c->thread, NULL, client_main, c) != 0) {
            fc_stop(cl);
            fc_free(cl);
            return NULL;
        }
        cl->started++;
    }
    return cl;
}

void fc_stop(struct fc_clients *cl)
{
    atomic_store(&cl->stop, true);
    for (unsigned i = 0; i < cl->started; i++) {
        pthread_join(cl->clients[i].thread, NULL);
    }
    cl->started = 0;
}

struct fh_op *fc_ops(struct fc_clients *cl, size_t *n)
{
    struct fh_op *copy;
    pthread_mutex_lock(&cl->mu);
    copy = malloc((cl->n_ops + 1) * sizeof *copy);
    if (copy != NULL) {
        memcpy(copy, cl->ops, cl->n_ops * sizeof *copy);
        *n = cl->n_ops;
    } else {
        *n = 0;
    }
    pthread_mutex_unlock(&cl->mu);
    return copy;
}

void fc_counts(struct fc_clients *cl, size_t *ok, size_t *failed,
               size_t *unknown)
{
    pthread_mutex_lock(&cl->mu);
    if (ok != NULL) {
        *ok = cl->counts[FH_OK];
    }
    if (failed != NULL) {
        *failed = cl->counts[FH_FAILED];
    }
    if (unknown != NULL) {
        *unknown = cl->counts[FH_UNKNOWN];
    }
    pthread_mutex_unlock(&cl->mu);
}

void fc_free(struct fc_clients *cl)
{
    if (cl == NULL) {
        return;
    }
    pthread_mutex_destroy(&cl->mu);
    free(cl->ops);
    free(cl);
}
