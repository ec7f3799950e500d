/* Tests of the raft port (raft/net_hub.c) over real loopback sockets: a real
 * engine with a trivial state machine, raw clients that speak (or garble) the
 * preface, and lc_net_hub_connect between nodes (from a hub that claims a
 * node's address to the other node's engine). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "raft/internal.h"

#define SECRET "transport test secret"
#define GROUP "g1"

/* ------------------------------------------------- trivial state machine */

static unsigned applied;

static void sm_apply(struct lc_raft_sm *sm, uint64_t index, const void *buf,
                     size_t len, struct lc_raft_result *result)
{
    (void)sm;
    (void)index;
    (void)buf;
    (void)len;
    applied++;
    result->status = 0;
    result->message[0] = '\0';
}

static int sm_snapshot_take(struct lc_raft_sm *sm, uint64_t index,
                            uint64_t term, void **frozen)
{
    (void)sm;
    (void)index;
    (void)term;
    *frozen = NULL;
    return 0;
}

static int sm_snapshot_write(struct lc_raft_sm *sm, void *frozen,
                             struct raft_buffer **bufs, unsigned *n_bufs)
{
    struct raft_buffer *b = raft_malloc(sizeof *b);
    (void)sm;
    (void)frozen;
    if (b == NULL) {
        return LC_ENOMEM;
    }
    b->base = raft_calloc(1, 8);
    if (b->base == NULL) {
        raft_free(b);
        return LC_ENOMEM;
    }
    b->len = 8;
    *bufs = b;
    *n_bufs = 1;
    return 0;
}

static void sm_snapshot_release(struct lc_raft_sm *sm, void *frozen)
{
    (void)sm;
    (void)frozen;
}

static int sm_restore(struct lc_raft_sm *sm, const void *buf, size_t len,
                      struct lc_raft_snapshot_info *info, char *errmsg,
                      size_t errlen)
{
    (void)sm;
    (void)buf;
    (void)len;
    (void)errmsg;
    (void)errlen;
    info->created_ms = 0;
    return 0;
}

static struct lc_raft_sm dummy_sm = {
    .apply = sm_apply,
    .snapshot_take = sm_snapshot_take,
    .snapshot_write = sm_snapshot_write,
    .snapshot_release = sm_snapshot_release,
    .restore = sm_restore,
};

/* --------------------------------------------------------------- fixture */

struct node {
    struct lc_raft_engine *e;
    struct lc_net_hub *hub; /* outgoing connections claiming to be us */
    char self[LC_RAFT_ADDR_MAX];
    char host[64];
    int port;
    bool closed;
};

struct env {
    uv_loop_t loop;
    char dir[64];
    struct node a; /* 127.0.0.1 */
    struct node b; /* [::1], only in the two-engine tests */
};

/* A port nothing listens on right now, on @host. */
static int free_port(const char *host)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int family = strchr(host, ':') != NULL ? AF_INET6 : AF_INET;
    int fd = socket(family, SOCK_STREAM, 0);
    int port;
    memset(&ss, 0, sizeof ss);
    if (family == AF_INET6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, host, &a6->sin6_addr);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        inet_pton(AF_INET, host, &a4->sin_addr);
    }
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&ss,
                          family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                             : sizeof(struct sockaddr_in)),
                     0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                    : ((struct sockaddr_in *)&ss)->sin_port);
    close(fd);
    return port;
}

static void node_address(struct node *n, const char *host)
{
    lc_strlcpy(n->host, host, sizeof n->host);
    n->port = free_port(host);
    lc_join_host_port(n->self, sizeof n->self, host, n->port);
}

static void node_start(struct env *env, struct node *n, const char *name,
                       const char *const *members, unsigned n_members,
                       const char *secret)
{
    char dir[128];
    char errmsg[512] = "";
    struct lc_raft_options o = {
        .self = n->self,
        .members = members,
        .n_members = n_members,
        .data_dir = dir,
        .secret = secret,
        .secret_len = strlen(secret),
        .bootstrap = true,
        .election_timeout_ms = 1000,
        .heartbeat_ms = 100,
        .snapshot_threshold = 1 << 20,
        .snapshot_trailing = 1024,
        .rpc_timeout_ms = 5000,
    };
    snprintf(dir, sizeof dir, "%s/%s", env->dir, name);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(
        lc_raft_engine_new(&env->loop, &o, &n->e, errmsg, sizeof errmsg), 0);
    assert_int_equal(lc_raft_engine_add_group(n->e, GROUP, &dummy_sm, NULL), 0);
    if (lc_raft_engine_start(n->e, errmsg, sizeof errmsg) != 0) {
        fail_msg("engine start: %s", errmsg);
    }
    assert_int_equal(lc_net_hub_new(&env->loop, n->self, lc_raft_id_of(n->self),
                                    secret, strlen(secret), NULL, NULL, NULL,
                                    &n->hub),
                     0);
}

static void on_engine_closed(void *data)
{
    ((struct node *)data)->closed = true;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup_env(void **state)
{
    struct env *env = calloc(1, sizeof *env);
    static const char *members[1];
    assert_non_null(env);
    assert_int_equal(uv_loop_init(&env->loop), 0);
    strcpy(env->dir, "/tmp/locus-test-transport-XXXXXX");
    assert_non_null(mkdtemp(env->dir));
    applied = 0;
    /* A standalone engine on 127.0.0.1. */
    node_address(&env->a, "127.0.0.1");
    members[0] = env->a.self;
    node_start(env, &env->a, "a", members, 1, SECRET);
    *state = env;
    return 0;
}

/* Two engines that list each other: a on 127.0.0.1, b on ::1. */
static int setup_pair(void **state)
{
    struct env *env = calloc(1, sizeof *env);
    static const char *members[2];
    assert_non_null(env);
    assert_int_equal(uv_loop_init(&env->loop), 0);
    strcpy(env->dir, "/tmp/locus-test-transport-XXXXXX");
    assert_non_null(mkdtemp(env->dir));
    node_address(&env->a, "127.0.0.1");
    node_address(&env->b, "::1");
    members[0] = env->a.self;
    members[1] = env->b.self;
    node_start(env, &env->a, "a", members, 2, SECRET);
    node_start(env, &env->b, "b", members, 2, SECRET);
    *state = env;
    return 0;
}

static int teardown_env(void **state)
{
    struct env *env = *state;
    if (env->a.hub != NULL) {
        lc_net_hub_close(env->a.hub, NULL, NULL);
    }
    if (env->b.hub != NULL) {
        lc_net_hub_close(env->b.hub, NULL, NULL);
    }
    if (env->a.e != NULL) {
        lc_raft_engine_close(env->a.e, on_engine_closed, &env->a);
    }
    if (env->b.e != NULL) {
        lc_raft_engine_close(env->b.e, on_engine_closed, &env->b);
    }
    uv_run(&env->loop, UV_RUN_DEFAULT);
    assert_true(env->a.e == NULL || env->a.closed);
    assert_true(env->b.e == NULL || env->b.closed);
    assert_int_equal(uv_loop_close(&env->loop), 0);
    nftw(env->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(env);
    return 0;
}

/* Run the loop until @cond holds or @ms pass; a 1 ms ticker keeps the loop
 * turning while the condition is about raw sockets it does not watch. */
static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static void on_deadline(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

static bool run_until(struct env *env, bool (*cond)(void *), void *arg,
                      unsigned ms)
{
    uv_timer_t deadline;
    uv_timer_t tick;
    bool expired = false;
    bool ok;

    uv_timer_init(&env->loop, &deadline);
    uv_timer_init(&env->loop, &tick);
    deadline.data = &expired;
    uv_timer_start(&deadline, on_deadline, ms, 0);
    uv_timer_start(&tick, on_tick, 1, 1);
    while (!(ok = cond(arg)) && !expired) {
        uv_run(&env->loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&deadline, NULL);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&env->loop, UV_RUN_NOWAIT);
    return ok;
}

/* ------------------------------------------------------------ raw client */

static int raw_connect(const struct node *n)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)n->port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    inet_pton(AF_INET, n->host, &sin.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    return fd;
}

struct reader {
    int fd;
    uint8_t *buf;
    size_t need;
    size_t got;
    bool eof;  /* orderly close or reset */
    int error; /* errno of a reset */
};

static bool reader_step(void *arg)
{
    struct reader *r = arg;
    while (r->got < r->need && !r->eof) {
        ssize_t n =
            recv(r->fd, r->buf + r->got, r->need - r->got, MSG_DONTWAIT);
        if (n > 0) {
            r->got += (size_t)n;
        } else if (n == 0) {
            r->eof = true;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return false;
        } else if (errno != EINTR) {
            r->eof = true;
            r->error = errno;
        }
    }
    return true;
}

/* Read exactly @n bytes within @ms; false on close or timeout. */
static bool read_exact(struct env *env, int fd, void *buf, size_t n,
                       unsigned ms)
{
    struct reader r = {.fd = fd, .buf = buf, .need = n};
    run_until(env, reader_step, &r, ms);
    return r.got == n;
}

/* Wait until the server closes @fd (EOF or reset) within @ms, while
 * counting any byte that arrives first. Return whether it closed. */
static bool wait_closed(struct env *env, int fd, unsigned ms, size_t *extra)
{
    uint8_t sink[4096];
    struct reader r = {.fd = fd, .buf = sink, .need = sizeof sink};
    run_until(env, reader_step, &r, ms);
    if (extra != NULL) {
        *extra = r.got;
    }
    return r.eof && (r.error == 0 || r.error == ECONNRESET);
}

static void send_all(int fd, const void *buf, size_t len)
{
    assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Read the hello, answer with a claim, return the status byte (-1 if the
 * connection closed first). */
static int do_preface(struct env *env, int fd, const char *secret,
                      const char *channel, const char *address, raft_id id)
{
    uint8_t hello[LC_PREFACE_HELLO_LEN];
    uint8_t nonce[LC_PREFACE_NONCE_LEN];
    uint8_t claim[LC_PREFACE_MAX_LEN];
    uint8_t status = 0xff;
    size_t len = 0;
    struct lc_preface p;

    assert_true(read_exact(env, fd, hello, sizeof hello, 2000));
    assert_int_equal(lc_preface_parse_hello(hello, nonce), 0);
    memset(&p, 0, sizeof p);
    lc_strlcpy(p.channel, channel, sizeof p.channel);
    lc_strlcpy(p.address, address, sizeof p.address);
    p.id = id;
    assert_int_equal(lc_preface_encode((const uint8_t *)secret, strlen(secret),
                                       nonce, &p, claim, sizeof claim, &len),
                     0);
    send_all(fd, claim, len);
    if (!read_exact(env, fd, &status, 1, 2000)) {
        return -1;
    }
    return status;
}

static int self_preface(struct env *env, int fd, const char *channel)
{
    return do_preface(env, fd, SECRET, channel, env->a.self,
                      lc_raft_id_of(env->a.self));
}

/* ----------------------------------------------------------------- tests */

static void test_valid_preface(void **state)
{
    struct env *env = *state;
    int fd;

    /* The node-level peer channel and a group channel. */
    fd = raw_connect(&env->a);
    assert_int_equal(self_preface(env, fd, LC_RAFT_PEER_CHANNEL),
                     LC_PREFACE_OK);
    close(fd);
    fd = raw_connect(&env->a);
    assert_int_equal(self_preface(env, fd, GROUP), LC_PREFACE_OK);
    close(fd);
}

/* A write through the group proves the engine still works. */
struct write_ctx {
    struct lc_raft_write w;
    bool done;
    int status;
};

static void on_write(struct lc_raft_write *w, int status,
                     const struct lc_raft_result *result)
{
    struct write_ctx *c = w->data;
    (void)result;
    c->done = true;
    c->status = status;
}

static bool write_done(void *arg)
{
    return ((struct write_ctx *)arg)->done;
}

static bool healthy(void *arg)
{
    return lc_raft_engine_healthy(arg);
}

static void assert_engine_works(struct env *env)
{
    struct write_ctx c = {0};
    void *buf;
    unsigned before = applied;
    assert_true(run_until(env, healthy, env->a.e, 4000));
    buf = raft_malloc(8);
    memset(buf, 0, 8);
    c.w.data = &c;
    assert_int_equal(lc_raft_group_write(lc_raft_engine_group(env->a.e, GROUP),
                                         &c.w, buf, 8, on_write),
                     0);
    assert_true(run_until(env, write_done, &c, 4000));
    assert_int_equal(c.status, 0);
    assert_int_equal(applied, before + 1);
}

static void test_garbage_closed(void **state)
{
    struct env *env = *state;
    static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    uint8_t hello[LC_PREFACE_HELLO_LEN];
    uint8_t junk[65536];
    size_t extra = 99;
    int fd, fd2;

    /* An HTTP request instead of a claim: closed, no status byte. */
    fd = raw_connect(&env->a);
    assert_true(read_exact(env, fd, hello, sizeof hello, 2000));
    send_all(fd, http, sizeof http - 1);
    assert_true(wait_closed(env, fd, 2000, &extra));
    assert_int_equal(extra, 0);
    close(fd);

    /* 64 KiB of random bytes, sent before even reading the hello. */
    fd = raw_connect(&env->a);
    randombytes_buf(junk, sizeof junk);
    memcpy(junk, "XXXX", 4); /* never a valid magic */
    fd2 = raw_connect(&env->a);
    {
        /* Non-blocking: the server stops reading after 15 bytes. */
        int fl = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        (void)!send(fd, junk, sizeof junk, MSG_NOSIGNAL);
    }
    assert_true(wait_closed(env, fd, 2000, &extra));
    /* Just the hello (which a reset may discard), no status byte. */
    assert_true(extra == LC_PREFACE_HELLO_LEN || extra == 0);
    close(fd);

    /* A valid claim with a bad version byte: also closed at the head. */
    {
        uint8_t nonce[LC_PREFACE_NONCE_LEN];
        uint8_t claim[LC_PREFACE_MAX_LEN];
        size_t len = 0;
        struct lc_preface p;
        fd = raw_connect(&env->a);
        assert_true(read_exact(env, fd, hello, sizeof hello, 2000));
        assert_int_equal(lc_preface_parse_hello(hello, nonce), 0);
        memset(&p, 0, sizeof p);
        strcpy(p.channel, GROUP);
        strcpy(p.address, env->a.self);
        p.id = lc_raft_id_of(env->a.self);
        assert_int_equal(lc_preface_encode((const uint8_t *)SECRET,
                                           strlen(SECRET), nonce, &p, claim,
                                           sizeof claim, &len),
                         0);
        claim[4] = 9;
        send_all(fd, claim, len);
        assert_true(wait_closed(env, fd, 2000, &extra));
        assert_int_equal(extra, 0);
        close(fd);
    }

    /* The connection opened meanwhile, and a fresh one, both complete. */
    assert_int_equal(self_preface(env, fd2, GROUP), LC_PREFACE_OK);
    close(fd2);
    fd = raw_connect(&env->a);
    assert_int_equal(self_preface(env, fd, LC_RAFT_PEER_CHANNEL),
                     LC_PREFACE_OK);
    close(fd);
    assert_engine_works(env);
}

/* Refused claims get one status byte, then the connection is closed. */
static void expect_refused(struct env *env, const char *secret,
                           const char *channel, const char *address, raft_id id,
                           int status)
{
    size_t extra = 99;
    int fd = raw_connect(&env->a);
    assert_int_equal(do_preface(env, fd, secret, channel, address, id), status);
    assert_true(wait_closed(env, fd, 2000, &extra));
    assert_int_equal(extra, 0);
    close(fd);
}

static void test_refusals(void **state)
{
    struct env *env = *state;
    raft_id id = lc_raft_id_of(env->a.self);
    char stranger[64];

    expect_refused(env, "another secret", GROUP, env->a.self, id,
                   LC_PREFACE_BAD_AUTH);
    expect_refused(env, "", LC_RAFT_PEER_CHANNEL, env->a.self, id,
                   LC_PREFACE_BAD_AUTH);
    expect_refused(env, SECRET, "nosuch", env->a.self, id,
                   LC_PREFACE_UNKNOWN_CHANNEL);
    /* An id that is not the one of the claimed address. */
    expect_refused(env, SECRET, GROUP, env->a.self, id + 1,
                   LC_PREFACE_MALFORMED);
    /* Authenticated, but id 0. */
    expect_refused(env, SECRET, GROUP, env->a.self, 0, LC_PREFACE_MALFORMED);
    /* Authenticated, but not a member. */
    snprintf(stranger, sizeof stranger, "127.0.0.1:%d", env->a.port + 1);
    expect_refused(env, SECRET, GROUP, stranger, lc_raft_id_of(stranger),
                   LC_PREFACE_NOT_MEMBER);
    assert_engine_works(env);
}

struct silent {
    int fd[2];
    bool closed[2];
    uint64_t closed_at[2];
};

static bool both_closed(void *arg)
{
    struct silent *s = arg;
    for (int i = 0; i < 2; i++) {
        uint8_t b[64];
        ssize_t n;
        if (s->closed[i]) {
            continue;
        }
        n = recv(s->fd[i], b, sizeof b, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            s->closed[i] = true;
            s->closed_at[i] = lc_mono_ms();
        }
        assert_true(n <= 0 || n == LC_PREFACE_HELLO_LEN);
    }
    return s->closed[0] && s->closed[1];
}

static void test_silent_timeout(void **state)
{
    struct env *env = *state;
    struct silent s = {0};
    uint8_t hello[LC_PREFACE_HELLO_LEN];
    uint8_t partial[10] = {'L', 'C', 'P', 'F', 1, 2};
    uint64_t start = lc_mono_ms();

    /* One sends nothing, one stops in the middle of the fixed head. */
    s.fd[0] = raw_connect(&env->a);
    s.fd[1] = raw_connect(&env->a);
    assert_true(read_exact(env, s.fd[1], hello, sizeof hello, 2000));
    send_all(s.fd[1], partial, sizeof partial);
    assert_true(run_until(env, both_closed, &s, 5000));
    for (int i = 0; i < 2; i++) {
        uint64_t took = s.closed_at[i] - start;
        if (took < 2800 || took > 3800) {
            fail_msg("connection %d closed after %llu ms, want ~3000", i,
                     (unsigned long long)took);
        }
        close(s.fd[i]);
    }
}

struct many {
    struct env *env;
    int fd[100];
    uint8_t hello[100][LC_PREFACE_HELLO_LEN];
    size_t got[100];
};

static bool all_hellos(void *arg)
{
    struct many *m = arg;
    bool all = true;
    for (int i = 0; i < 100; i++) {
        while (m->got[i] < LC_PREFACE_HELLO_LEN) {
            ssize_t n = recv(m->fd[i], m->hello[i] + m->got[i],
                             LC_PREFACE_HELLO_LEN - m->got[i], MSG_DONTWAIT);
            if (n <= 0) {
                assert_true(n < 0 && (errno == EAGAIN || errno == EINTR));
                all = false;
                break;
            }
            m->got[i] += (size_t)n;
        }
    }
    return all;
}

static void test_hundred_connections(void **state)
{
    struct env *env = *state;
    struct many *m = calloc(1, sizeof *m);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons((uint16_t)env->a.port)};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);

    /* All 100 connect before the engine's loop runs once: with a backlog
     * of 1 most SYNs would be dropped and retried only after a second. */
    for (int i = 0; i < 100; i++) {
        m->fd[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        assert_true(m->fd[i] >= 0);
        int rv = connect(m->fd[i], (struct sockaddr *)&sin, sizeof sin);
        assert_true(rv == 0 || errno == EINPROGRESS);
    }
    assert_true(run_until(env, all_hellos, m, 900));
    for (int i = 0; i < 100; i++) {
        uint8_t nonce[LC_PREFACE_NONCE_LEN];
        assert_int_equal(lc_preface_parse_hello(m->hello[i], nonce), 0);
        /* Every connection gets a fresh nonce. */
        for (int j = 0; j < i; j++) {
            assert_memory_not_equal(m->hello[i], m->hello[j],
                                    LC_PREFACE_HELLO_LEN);
        }
    }
    for (int i = 0; i < 100; i++) {
        close(m->fd[i]);
    }
    free(m);
    /* The hub dropped them all and still answers. */
    int fd = raw_connect(&env->a);
    assert_int_equal(self_preface(env, fd, GROUP), LC_PREFACE_OK);
    close(fd);
}

/* The server's end of @client (same process): its fd, or -1. */
static int server_fd_of(int client)
{
    struct sockaddr_storage mine, peer;
    socklen_t len = sizeof mine;
    DIR *d;
    struct dirent *de;
    int found = -1;

    assert_int_equal(getsockname(client, (struct sockaddr *)&mine, &len), 0);
    d = opendir("/proc/self/fd");
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        int fd = atoi(de->d_name);
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (fd == client || de->d_name[0] == '.') {
            continue;
        }
        if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0 ||
            ss.ss_family != AF_INET) {
            continue;
        }
        memcpy(&peer, &ss, sizeof ss);
        if (((struct sockaddr_in *)&peer)->sin_port ==
            ((struct sockaddr_in *)&mine)->sin_port) {
            found = fd;
        }
    }
    closedir(d);
    return found;
}

static int sockopt(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof v;
    assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
    return v;
}

static void test_inbound_options(void **state)
{
    struct env *env = *state;
    uint8_t hello[LC_PREFACE_HELLO_LEN];
    int fd = raw_connect(&env->a);
    int sfd;

    /* Once the hello arrived, the accepted socket is set up. */
    assert_true(read_exact(env, fd, hello, sizeof hello, 2000));
    sfd = server_fd_of(fd);
    assert_true(sfd >= 0);
    assert_int_equal(sockopt(sfd, IPPROTO_TCP, TCP_NODELAY), 1);
    assert_int_equal(sockopt(sfd, SOL_SOCKET, SO_KEEPALIVE), 1);
    assert_int_equal(sockopt(sfd, IPPROTO_TCP, TCP_KEEPIDLE), 10);
    /* And it stays so once handed to raft. */
    close(fd);
    fd = raw_connect(&env->a);
    assert_int_equal(self_preface(env, fd, GROUP), LC_PREFACE_OK);
    sfd = server_fd_of(fd);
    assert_true(sfd >= 0);
    assert_int_equal(sockopt(sfd, IPPROTO_TCP, TCP_NODELAY), 1);
    close(fd);
}

/* ------------------------------------------------------------ hub connect */

struct conn {
    struct lc_net_connect req;
    bool in_call;
    bool done;
    int status;
    uv_stream_t *stream;
};

static void on_connected(void *data, uv_stream_t *stream, int status)
{
    struct conn *c = data;
    assert_false(c->in_call); /* never from inside lc_net_hub_connect */
    assert_false(c->done);    /* exactly once */
    c->done = true;
    c->status = status;
    c->stream = stream;
}

static bool conn_done(void *arg)
{
    return ((struct conn *)arg)->done;
}

static int hub_connect(struct env *env, struct lc_net_hub *hub, struct conn *c,
                       const char *channel, const char *address)
{
    int rv;
    memset(c, 0, sizeof *c);
    c->req.data = c;
    c->in_call = true;
    rv = lc_net_hub_connect(hub, &c->req, channel, address, on_connected);
    c->in_call = false;
    if (rv == 0) {
        assert_true(run_until(env, conn_done, c, 4000));
    }
    return rv;
}

static void on_stream_closed(uv_handle_t *h)
{
    raft_free(h);
}

static void close_stream(struct env *env, struct conn *c)
{
    uv_close((uv_handle_t *)c->stream, on_stream_closed);
    c->stream = NULL;
    uv_run(&env->loop, UV_RUN_NOWAIT);
}

static void expect_stream(struct conn *c, int family, int port)
{
    uv_os_fd_t fd;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    assert_int_equal(c->status, 0);
    assert_non_null(c->stream);
    assert_int_equal(uv_fileno((uv_handle_t *)c->stream, &fd), 0);
    assert_int_equal(sockopt(fd, IPPROTO_TCP, TCP_NODELAY), 1);
    assert_int_equal(sockopt(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
    assert_int_equal(getpeername(fd, (struct sockaddr *)&ss, &len), 0);
    assert_int_equal(ss.ss_family, family);
    if (family == AF_INET6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        assert_true(IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr));
        assert_int_equal(ntohs(a6->sin6_port), port);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        assert_int_equal(ntohl(a4->sin_addr.s_addr), INADDR_LOOPBACK);
        assert_int_equal(ntohs(a4->sin_port), port);
    }
}

static void test_connect_ipv6_literal(void **state)
{
    struct env *env = *state;
    struct conn c;

    assert_int_equal(hub_connect(env, env->a.hub, &c, GROUP, env->b.self),
                     0);
    expect_stream(&c, AF_INET6, env->b.port);
    close_stream(env, &c);
    /* And back: ::1 to 127.0.0.1 on the peer channel. */
    assert_int_equal(
        hub_connect(env, env->b.hub, &c, LC_RAFT_PEER_CHANNEL, env->a.self),
        0);
    expect_stream(&c, AF_INET, env->a.port);
    close_stream(env, &c);
}

static void test_connect_hostname(void **state)
{
    struct env *env = *state;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    const struct node *target;
    char address[64];
    struct conn c;

    /* "localhost" goes to whichever engine listens on the family the
     * resolver gives first. */
    assert_int_equal(getaddrinfo("localhost", "1", &hints, &res), 0);
    target = res->ai_family == AF_INET6 ? &env->b : &env->a;
    snprintf(address, sizeof address, "localhost:%d", target->port);
    assert_int_equal(hub_connect(env, env->a.hub, &c, GROUP, address), 0);
    expect_stream(&c, res->ai_family, target->port);
    close_stream(env, &c);
    freeaddrinfo(res);
}

static void test_connect_failures(void **state)
{
    struct env *env = *state;
    struct lc_net_hub *hub = env->a.hub;
    struct lc_net_hub *other = NULL;
    struct conn c;
    char nobody[64];

    /* Not an address at all: refused at once, no callback. */
    memset(&c, 0, sizeof c);
    assert_int_equal(lc_net_hub_connect(hub, &c.req, GROUP, "nope", on_connected),
                     LC_EINVAL);
    assert_int_equal(lc_net_hub_connect(hub, &c.req, GROUP, "[::1]", on_connected),
                     LC_EINVAL);
    assert_false(c.done);

    /* Nothing listening. */
    snprintf(nobody, sizeof nobody, "127.0.0.1:%d", free_port("127.0.0.1"));
    assert_int_equal(hub_connect(env, hub, &c, GROUP, nobody), 0);
    assert_int_equal(c.status, LC_ECONN);
    assert_null(c.stream);

    /* A group the other side does not run. */
    assert_int_equal(hub_connect(env, hub, &c, "nosuch", env->b.self), 0);
    assert_int_equal(c.status, LC_ECONN);
    assert_null(c.stream);

    /* A hub with another secret: refused as unauthenticated. */
    assert_int_equal(lc_net_hub_new(&env->loop, env->a.self,
                                    lc_raft_id_of(env->a.self), "wrong", 5,
                                    NULL, NULL, NULL, &other),
                     0);
    assert_int_equal(hub_connect(env, other, &c, GROUP, env->b.self), 0);
    assert_int_equal(c.status, LC_EUNAUTH);
    assert_null(c.stream);
    lc_net_hub_close(other, NULL, NULL);

    /* Cancelled: the callback comes later, with LC_ECANCELED. */
    memset(&c, 0, sizeof c);
    c.req.data = &c;
    c.in_call = true;
    assert_int_equal(
        lc_net_hub_connect(hub, &c.req, GROUP, env->b.self, on_connected), 0);
    lc_net_hub_connect_cancel(&c.req);
    c.in_call = false;
    assert_false(c.done);
    assert_true(run_until(env, conn_done, &c, 2000));
    assert_int_equal(c.status, LC_ECANCELED);
    assert_null(c.stream);

    /* Still fine afterwards. */
    assert_int_equal(hub_connect(env, hub, &c, GROUP, env->b.self), 0);
    expect_stream(&c, AF_INET6, env->b.port);
    close_stream(env, &c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_valid_preface, setup_env,
                                        teardown_env),
        cmocka_unit_test_setup_teardown(test_garbage_closed, setup_env,
                                        teardown_env),
        cmocka_unit_test_setup_teardown(test_refusals, setup_env, teardown_env),
        cmocka_unit_test_setup_teardown(test_silent_timeout, setup_env,
                                        teardown_env),
        cmocka_unit_test_setup_teardown(test_hundred_connections, setup_env,
                                        teardown_env),
        cmocka_unit_test_setup_teardown(test_inbound_options, setup_env,
                                        teardown_env),
        cmocka_unit_test_setup_teardown(test_connect_ipv6_literal, setup_pair,
                                        teardown_env),
        cmocka_unit_test_setup_teardown(test_connect_hostname, setup_pair,
                                        teardown_env),
        cmocka_unit_test_setup_teardown(test_connect_failures, setup_pair,
                                        teardown_env),
    };
    lc_log_set_level(LC_LOG_WARN);
    if (sodium_init() < 0) {
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
