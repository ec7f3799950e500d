/* DistroFilter on a real 3-node cluster: v1 registrations, beats and
 * deregistrations sent to a member that is not responsible for the
 * client's ip:port are forwarded to the one that is (the client lives
 * there) and its answer relayed as application/json, errors included;
 * a request for the receiving member's own client is served there; v2
 * writes stay where they are sent; a peer's forward to a member that is
 * not responsible either gets 400; a responsible member that stops
 * answering makes the forward answer 500 with Java's words, and once it
 * is dead and membership notices, the new responsible member serves.
 *
 * Which member is responsible is computed here as Nacos does
 * (lc_distro_index over the members in address order, which is node
 * order); ephemeral instances are read on the member expected to hold them
 * (Distro replication, when present, puts them on the others as well, so
 * nothing here asserts their absence elsewhere). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "distro/mapper.h"
#include "test/support/tcluster.h"

#define NS "/nacos/v1/ns"
#define CT_JSON "application/json;charset=UTF-8"
#define PEER_UA "User-Agent: Nacos-Server:2.4.3\r\n"

/* ------------------------------------------------------------ raw HTTP */

struct answer {
    int status; /* -1: no answer */
    char ctype[128];
    char *body; /* malloc'd, NUL-terminated */
};

static void answer_free(struct answer *a)
{
    free(a->body);
    a->body = NULL;
}

/* @method @target to node @i with @headers (whole lines, may be NULL) and
 * a form @form (may be NULL), on a connection of its own (Connection:
 * close): the status, Content-Type and body. */
static void raw(struct tc *t, unsigned i, const char *method,
                const char *target, const char *headers, const char *form,
                struct answer *a)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    struct timeval tv = {.tv_sec = 15};
    size_t cap = 65536;
    size_t len = 0;
    char *buf = malloc(cap);
    char *req = NULL;
    char *hdr_end;
    char *ct;
    int fd;
    ssize_t n;

    a->status = -1;
    a->ctype[0] = '\0';
    a->body = NULL;
    assert_non_null(buf);
    sa.sin_port = htons((uint16_t)t->c.nodes[i].port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        goto out;
    }
    assert_true(asprintf(&req,
                         "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "Connection: close\r\n%s%s%s"
                         "Content-Length: %zu\r\n\r\n%s",
                         method, target, headers != NULL ? headers : "",
                         form != NULL ? "Content-Type: application/"
                                        "x-www-form-urlencoded\r\n"
                                      : "",
                         "", form != NULL ? strlen(form) : 0,
                         form != NULL ? form : "") > 0);
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        goto out;
    }
    while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (len + 1 >= cap) {
            break;
        }
    }
    buf[len] = '\0';
    hdr_end = strstr(buf, "\r\n\r\n");
    if (len < 12 || hdr_end == NULL || strncmp(buf, "HTTP/1.1 ", 9) != 0) {
        goto out;
    }
    *hdr_end = '\0';
    a->status = atoi(buf + 9);
    ct = strcasestr(buf, "\r\nContent-Type: ");
    if (ct != NULL) {
        ct += 16;
        snprintf(a->ctype, sizeof a->ctype, "%.*s", (int)strcspn(ct, "\r\n"),
                 ct);
    }
    a->body = strdup(hdr_end + 4);
out:
    free(req);
    free(buf);
    close(fd);
}

/* --------------------------------------------------------- who is who */

/* The node responsible for @ip:@port among the nodes in @alive (a bit
 * mask; node order is address order). */
static unsigned responsible(unsigned alive, const char *ip, int port)
{
    unsigned nodes[LC_CLUSTER_MAX];
    unsigned n = 0;
    char tag[64];

    for (unsigned i = 0; i < LC_CLUSTER_MAX; i++) {
        if (alive & (1u << i)) {
            nodes[n++] = i;
        }
    }
    snprintf(tag, sizeof tag, "%s:%d", ip, port);
    return nodes[lc_distro_index(tag, n)];
}

/* A port from @from up whose 127.0.0.<x> client node @r is responsible
 * for among @alive. */
static int port_for(unsigned alive, const char *ip, unsigned r, int from)
{
    for (int p = from; p < from + 10000; p++) {
        if (responsible(alive, ip, p) == r) {
            return p;
        }
    }
    fail_msg("no port of %s maps to node %u", ip, r);
    return -1;
}

/* Whether node @i's own list of @service holds @ip:@port. */
static bool holds(struct tc *t, unsigned i, const char *service, const char *ip,
                  int port)
{
    return tc_missing(t, i, service, ip, &port, 1, false, NULL) == 0;
}

/* Wait (bounded) until node @i's list of @service holds @ip:@port. */
static void expect_held(struct tc *t, unsigned i, const char *service,
                        const char *ip, int port)
{
    uint64_t until = tc_now_ms() + TC_WAIT_MS;
    while (!holds(t, i, service, ip, port)) {
        if (tc_now_ms() > until) {
            fail_msg("node %u does not hold %s:%d in %s", i, ip, port, service);
        }
        tc_sleep_ms(50);
    }
}

static void expect_answer(const struct answer *a, int status, const char *ctype,
                          const char *body, const char *what)
{
    if (a->status != status || (ctype != NULL && strcmp(a->ctype, ctype)) ||
        (body != NULL && (a->body == NULL || strcmp(a->body, body) != 0))) {
        fail_msg("%s: %d [%s] '%s', want %d [%s] '%s'", what, a->status,
                 a->ctype, a->body != NULL ? a->body : "(none)", status,
                 ctype != NULL ? ctype : "*", body != NULL ? body : "*");
    }
}

/* ---------------------------------------------------------------- tests */

#define IP "127.0.0.41"
#define ALL 7u

static void test_forwarded(void **state)
{
    struct tc *t = *state;
    struct answer a;
    char target[512];
    char form[512];

    tc_up(t, "distro-filter", 3, NULL);

    for (unsigned s = 0; s < 3; s++) {
        unsigned r = (s + 1) % 3;
        int p = port_for(ALL, IP, r, 1000 + 1000 * (int)s);
        int own = port_for(ALL, IP, s, 1000 + 1000 * (int)s);

        /* Registration: forwarded, relayed as JSON; the client lives on
         * the responsible member. */
        snprintf(form, sizeof form,
                 "serviceName=fwd&ip=" IP "&port=%d&ephemeral=true", p);
        raw(t, s, "POST", NS "/instance", NULL, form, &a);
        expect_answer(&a, 200, CT_JSON, "ok", "forwarded register");
        answer_free(&a);
        expect_held(t, r, "fwd", IP, p);

        /* A client of the receiving member's own: served there (the
         * handler's text/plain answer). */
        snprintf(target, sizeof target,
                 NS "/instance?serviceName=fwd&ip=" IP "&port=%d", own);
        raw(t, s, "POST", target, NULL, NULL, &a);
        expect_answer(&a, 200, "text/plain;charset=UTF-8", "ok",
                      "local register");
        answer_free(&a);
        expect_held(t, s, "fwd", IP, own);

        /* A light beat (ip and port, no beat JSON) for the forwarded
         * client: the responsible member knows it (10200). */
        snprintf(target, sizeof target,
                 NS "/instance/beat?serviceName=fwd&ip=" IP "&port=%d", p);
        raw(t, s, "PUT", target, NULL, NULL, &a);
        if (a.status != 200 || strcmp(a.ctype, CT_JSON) != 0 ||
            a.body == NULL || strstr(a.body, "\"code\":10200") == NULL) {
            fail_msg("forwarded light beat: %d [%s] %s", a.status, a.ctype,
                     a.body);
        }
        answer_free(&a);

        /* An error of the responsible member: its status and body,
         * relayed as JSON; nothing registered. */
        snprintf(form, sizeof form,
                 "serviceName=bad&ip=" IP "&port=%d&weight=20000", p);
        raw(t, s, "POST", NS "/instance", NULL, form, &a);
        expect_answer(&a, 400, CT_JSON,
                      "instance format invalid: The weights range from 0.0 "
                      "to 10000.0",
                      "forwarded bad weight");
        answer_free(&a);
        assert_false(holds(t, r, "bad", IP, p));

        /* Deregistration, forwarded. */
        snprintf(target, sizeof target,
                 NS "/instance?serviceName=fwd&ip=" IP "&port=%d", p);
        raw(t, s, "DELETE", target, NULL, NULL, &a);
        expect_answer(&a, 200, CT_JSON, "ok", "forwarded deregister");
        answer_free(&a);
        assert_false(holds(t, r, "fwd", IP, p));
    }
    tc_pass(t);
}

static void test_beat_json(void **state)
{
    struct tc *t = *state;
    struct answer a;
    char target[512];
    int p;

    tc_up(t, "distro-beat", 3, NULL);
    /* The tag from the beat JSON (no ip parameter): node 2 responsible,
     * sent to node 0. The unknown instance is registered from the beat
     * where the beat lands. */
    p = port_for(ALL, IP, 2, 3000);
    snprintf(target, sizeof target,
             NS
             "/instance/beat?serviceName=beats&beat=%%7B%%22ip%%22%%3A%%22" IP
             "%%22%%2C%%22port%%22%%3A%d%%2C%%22cluster%%22%%3A%%22"
             "DEFAULT%%22%%7D",
             p);
    raw(t, 0, "PUT", target, NULL, NULL, &a);
    if (a.status != 200 || strcmp(a.ctype, CT_JSON) != 0 || a.body == NULL ||
        strstr(a.body, "\"code\":10200") == NULL) {
        fail_msg("forwarded beat: %d [%s] %s", a.status, a.ctype, a.body);
    }
    answer_free(&a);
    expect_held(t, 2, "beats", IP, p);

    /* Light beat for an unknown client: the responsible member's 20404. */
    p = port_for(ALL, IP, 1, 4000);
    snprintf(target, sizeof target,
             NS "/instance/beat?serviceName=beats&ip=" IP "&port=%d", p);
    raw(t, 0, "PUT", target, NULL, NULL, &a);
    if (a.status != 200 || a.body == NULL ||
        strstr(a.body, "\"code\":20404") == NULL) {
        fail_msg("forwarded light beat: %d [%s] %s", a.status, a.ctype, a.body);
    }
    answer_free(&a);
    tc_pass(t);
}

static void test_v2_and_peers(void **state)
{
    struct tc *t = *state;
    struct answer a;
    char form[512];
    char want[128];
    int p;

    tc_up(t, "distro-v2", 3, NULL);
    p = port_for(ALL, IP, 1, 5000);

    /* v2 is served where it is sent (DistroFilter maps /v1/ns paths only). */
    snprintf(form, sizeof form,
             "serviceName=v2&ip=" IP "&port=%d&ephemeral=true", p);
    raw(t, 0, "POST", "/nacos/v2/ns/instance", NULL, form, &a);
    expect_answer(&a, 200, NULL, NULL, "v2 register");
    answer_free(&a);
    assert_true(holds(t, 0, "v2", IP, p));

    /* A peer's forward to a member that is not responsible: 400, nothing
     * done. */
    snprintf(form, sizeof form,
             "serviceName=peer&ip=" IP "&port=%d&ephemeral=true", p);
    raw(t, 0, "POST", NS "/instance", PEER_UA, form, &a);
    snprintf(want, sizeof want,
             "receive invalid redirect request from peer 127.0.0.1");
    if (a.status != 400 || a.body == NULL || strstr(a.body, want) == NULL) {
        fail_msg("peer to the wrong member: %d %s", a.status, a.body);
    }
    answer_free(&a);
    assert_false(holds(t, 1, "peer", IP, p));
    assert_false(holds(t, 0, "peer", IP, p));

    /* A peer's forward to the responsible member: served. */
    raw(t, 1, "POST", NS "/instance", PEER_UA, form, &a);
    expect_answer(&a, 200, NULL, "ok", "peer to the responsible member");
    answer_free(&a);
    assert_true(holds(t, 1, "peer", IP, p));

    /* Bad input never reaches a peer: a bad service name is answered by
     * the receiving member (ServiceNameFilter comes first), and beats with
     * broken JSON still map to a member and get its answer. */
    raw(t, 0, "POST", NS "/instance?serviceName=%40%40x&ip=" IP "&port=1", NULL,
        NULL, &a);
    if (a.status != 400 || a.body == NULL ||
        strstr(a.body, "Service name filter error") == NULL) {
        fail_msg("bad name: %d %s", a.status, a.body);
    }
    answer_free(&a);
    for (unsigned i = 0; i < 3; i++) {
        raw(t, i, "PUT", NS "/instance/beat?serviceName=b&beat=%7Bx", NULL,
            NULL, &a);
        if (a.status < 400 || a.status >= 500) {
            fail_msg("broken beat JSON on node %u: %d %s", i, a.status, a.body);
        }
        answer_free(&a);
    }
    tc_pass(t);
}

static void test_dead_responsible(void **state)
{
    struct tc *t = *state;
    struct answer a;
    char form[512];
    uint64_t until;
    unsigned refused = 0;
    unsigned r2;
    int p;
    int p2;

    tc_up(t, "distro-dead", 3, NULL);
    p = port_for(ALL, IP, 2, 6000);
    snprintf(form, sizeof form,
             "serviceName=dead&ip=" IP "&port=%d&ephemeral=true", p);

    /* Stopped: connected, never answered: the read timeout. */
    tc_signal(t, 2, SIGSTOP);
    raw(t, 0, "POST", NS "/instance", NULL, form, &a);
    expect_answer(&a, 500, CT_JSON,
                  "java.net.SocketTimeoutException: Read timed out",
                  "forward to a stopped member");
    answer_free(&a);

    /* A persistent registration for the same tag is a Raft write: served
     * by the member asked (its own text/plain answer), not held up by the
     * stopped responsible member (which may have led Raft: the survivors
     * elect within a second). */
    p2 = port_for(ALL, IP, 2, 7000);
    snprintf(form, sizeof form,
             "serviceName=dead-p&ip=" IP "&port=%d&ephemeral=false", p2);
    {
        uint64_t t0 = tc_now_ms();
        raw(t, 0, "POST", NS "/instance", NULL, form, &a);
        expect_answer(&a, 200, "text/plain;charset=UTF-8", "ok",
                      "persistent register with the responsible member "
                      "stopped");
        answer_free(&a);
        assert_true(tc_now_ms() - t0 < 1900);
    }
    expect_held(t, 1, "dead-p", IP, p2);
    snprintf(form, sizeof form,
             "serviceName=dead&ip=" IP "&port=%d&ephemeral=true", p);

    /* Dead: refused until membership notices, then the new responsible
     * member (among the two left) serves. */
    tc_signal(t, 2, SIGKILL);
    until = tc_now_ms() + 3 * TC_WAIT_MS;
    for (;;) {
        raw(t, 0, "POST", NS "/instance", NULL, form, &a);
        if (a.status == 200) {
            answer_free(&a);
            break;
        }
        if (a.status != 500 || a.body == NULL ||
            (strncmp(a.body, "java.net.", 9) != 0 &&
             strncmp(a.body, "org.apache.http.", 16) != 0)) {
            fail_msg("forward to a dead member: %d %s", a.status, a.body);
        }
        refused++;
        answer_free(&a);
        if (tc_now_ms() > until) {
            fail_msg("still forwarded to the dead member after %u tries",
                     refused);
        }
        tc_sleep_ms(200);
    }
    r2 = responsible(3u, IP, p);
    expect_held(t, r2, "dead", IP, p);
    tc_pass(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_forwarded, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_beat_json, tc_setup, tc_teardown),
        cmocka_unit_test_setup_teardown(test_v2_and_peers, tc_setup,
                                        tc_teardown),
        cmocka_unit_test_setup_teardown(test_dead_responsible, tc_setup,
                                        tc_teardown),
    };
    tc_filter_from_env();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
