/* Helpers for test/cluster: this test process joins a real locusd cluster
 * (test/support/tcluster.h) as its last member with its own cluster plane
 * (rpc/cluster/peers.h): the same member list and secret as the nodes, so
 * its requests carry the membership proof and, listening, it receives the
 * nodes' requests too.
 *
 * Call from the test's thread only; failures fail the running cmocka test.
 */
#ifndef LC_TEST_TPEER_H
#define LC_TEST_TPEER_H

#include <stdbool.h>
#include <uv.h>

#include "members/members.h"
#include "rpc/cluster/peers.h"
#include "rpc/grpc/nclient.h"
#include "test/support/tcluster.h"

struct tpeer {
    uv_loop_t loop;
    uv_timer_t tick; /* keeps uv_run(ONCE) returning */
    struct lc_members *members;
    struct lc_peers *ps;
    char secret[256];                              /* the cluster's */
    char addr[LC_CLUSTER_MAX][LC_MEMBER_ADDR_MAX]; /* node i's "ip:port" */
};

/* Join @t's cluster (configured by tc_init; its nodes need not be running)
 * as its last member: read the cluster secret, build the member list with
 * this process as node t->c.n - 1, run a plane on p->loop, listening on
 * that node's cluster port (main + 1001) when @listen. */
void tpeer_up(struct tpeer *p, struct tc *t, bool listen);

/* Run p->loop until *@flag or @ms pass; return *@flag. */
bool tpeer_spin(struct tpeer *p, const volatile bool *flag, unsigned ms);

/* Close the plane (fail unless it closes within 10 s), the loop and the
 * member list. */
void tpeer_down(struct tpeer *p);

/* One request's end, for lc_peers_request / lc_nclient_request with
 * tpeer_on_req as the callback. */
struct tpeer_req {
    struct lc_nreq r;
    bool done;
    int status;
    char type[128]; /* the response's type, "" without one */
    json_t *body;   /* the response (a reference: the caller decrefs) */
};

/* Ready @q for one request: cleared, q->r.data = q. */
void tpeer_req_init(struct tpeer_req *q);

/* The callback that fills the struct tpeer_req of @r. */
void tpeer_on_req(struct lc_nreq *r, int status, const char *type,
                  json_t *body);

#endif /* LC_TEST_TPEER_H */
