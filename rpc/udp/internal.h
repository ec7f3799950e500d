/* Private to rpc/udp: the socket's state, shared by socket.c and resolve.c. */
#ifndef LC_RPC_UDP_INTERNAL_H
#define LC_RPC_UDP_INTERNAL_H

#include "rpc/udp/udp.h"

#define LC_UDP_RECV_MAX 65536

struct lc_udp {
    uv_loop_t *loop;
    struct lc_udp_options opt;
    uv_udp_t handle;
    int port;
    bool v6; /* dual-stack IPv6 socket (IPv4 as mapped addresses) */
    lc_udp_recv_cb recv_cb;
    void *data;

    struct lc_udp_lookup *lookups; /* in flight, on the thread pool */

    bool closing;
    unsigned open; /* the handle, plus one per lookup in flight */
    lc_udp_close_cb close_cb;
    void *close_data;
    char rbuf[LC_UDP_RECV_MAX];
};

/* One fewer thing open; the last one frees @u once it is closing. */
void udp_release(struct lc_udp *u);

/* Cancel lookups that have not started and detach every peer (closing). */
void udp_cancel_lookups(struct lc_udp *u);

#endif /* LC_RPC_UDP_INTERNAL_H */
