/* Loopback ports for test processes: bind checks and UDP holds. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test/support/ports.h"

#define MAX_HELD 128 /* reservations alive at once in one process */
#define TRIES 4000

/* The four ports of a locusd with main port P, as offsets from P. */
static const int companions[] = {0, -1000, 1000, 1001};

struct held {
    int port;   /* 0: slot unused */
    int fds[4]; /* UDP holds, one per port of the set */
    int n;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct held held[MAX_HELD];
static uint64_t rng;

/* splitmix64: a private sequence, so tests' own rand() is left alone. */
static uint64_t next_random(void)
{
    uint64_t z;
    if (rng == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        rng = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^
              ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)(uintptr_t)&rng;
    }
    z = (rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A socket of @type bound on 127.0.0.1:@port (close-on-exec, no
 * SO_REUSEADDR, so a port with a lingering connection counts as taken), or
 * -1. */
static int bind_loopback(int type, int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

bool tc_port_free(int port, bool udp)
{
    int fd = bind_loopback(SOCK_STREAM, port);
    if (fd < 0) {
        return false;
    }
    close(fd);
    if (udp) {
        fd = bind_loopback(SOCK_DGRAM, port);
        if (fd < 0) {
            return false;
        }
        close(fd);
    }
    return true;
}

/* Close the holds of @h and free its slot. */
static void drop(struct held *h)
{
    for (int k = 0; k < h->n; k++) {
        close(h->fds[k]);
    }
    memset(h, 0, sizeof *h);
}

/* Hold every port of @ports[0..@n) for UDP after checking it is free for
 * TCP; on success fill a free slot. Return 0, -1 when a port is taken, -2
 * when every slot is in use. Called with mu held. */
static int try_hold(const int *ports, int n)
{
    struct held *slot = NULL;
    struct held h = {0};
    for (int k = 0; k < MAX_HELD && slot == NULL; k++) {
        if (held[k].port == 0) {
            slot = &held[k];
        }
    }
    if (slot == NULL) {
        return -2;
    }
    h.port = ports[0];
    for (int k = 0; k < n; k++) {
        /* The UDP hold first: once it is ours, no other allocator takes
         * the port while we check TCP. */
        int fd = bind_loopback(SOCK_DGRAM, ports[k]);
        if (fd < 0) {
            drop(&h);
            return -1;
        }
        h.fds[h.n++] = fd;
        if (!tc_port_free(ports[k], false)) {
            drop(&h);
            return -1;
        }
    }
    *slot = h;
    return 0;
}

static int reserve(const int *offsets, int n)
{
    int span = TC_PORT_MAX - TC_PORT_MIN + 1;
    int out = -1;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < TRIES && out < 0; i++) {
        int p = TC_PORT_MIN + (int)(next_random() % (uint64_t)span);
        int ports[4];
        for (int k = 0; k < n; k++) {
            ports[k] = p + offsets[k];
        }
        int rv = try_hold(ports, n);
        if (rv == 0) {
            out = p;
        } else if (rv == -2) {
            break;
        }
    }
    pthread_mutex_unlock(&mu);
    return out;
}

int tc_port_reserve(void)
{
    return reserve(companions, 4);
}

int tc_port_reserve_one(void)
{
    return reserve(companions, 1);
}

void tc_port_release(int port)
{
    if (port <= 0) {
        return;
    }
    pthread_mutex_lock(&mu);
    for (int k = 0; k < MAX_HELD; k++) {
        if (held[k].port == port) {
            drop(&held[k]);
            break;
        }
    }
    pthread_mutex_unlock(&mu);
}
