/* A fleet of Nacos gRPC SDK connections that choose their server as the
 * Java client does (RpcClient, ServerListManager; ../shared/protocol.md
 * §11.4, §11.5), for the connection-balancing test and benchmarks:
 *
 *   - each client starts on a random server of the list;
 *   - on ConnectResetRequest with serverIp/serverPort it reconnects to
 *     serverIp:serverPort+1000 when that server is in its list, otherwise
 *     (or without a redirect) to the next server;
 *   - when its connection is lost, or a connect fails (refused, server
 *     starting), it tries the next server, sleeping min(turns+1, 50)*100 ms
 *     between tries once a whole pass of the list has failed (retryTurns).
 *
 * Clients hold no registrations: they are connections, counted per server.
 * Everything runs on one libuv loop.
 */
#ifndef LC_BENCH_FLEET_H
#define LC_BENCH_FLEET_H

#include <stdint.h>
#include <uv.h>

#define LC_FLEET_MAX_SERVERS 16

struct lc_fleet;

struct lc_fleet_config {
    const char *host;                      /* every server's host */
    int ports[LC_FLEET_MAX_SERVERS];       /* main (HTTP) ports */
    unsigned n_servers;
    unsigned conns;                        /* clients */
    unsigned max_connecting;               /* in flight at start; 0: 200 */
    unsigned seed;                         /* first servers' choice */
};

struct lc_fleet_stats {
    unsigned ready[LC_FLEET_MAX_SERVERS]; /* set-up connections per server */
    unsigned connecting;                  /* connecting or waiting to */
    uint64_t resets;          /* ConnectResetRequests received */
    uint64_t redirects;       /* of which followed to the given server */
    uint64_t losses;          /* connections lost without a reset */
    uint64_t failed_connects; /* connect attempts that failed */
};

/* Create the fleet and start connecting (@cfg copied). Return 0 or LC_E*. */
int lc_fleet_new(uv_loop_t *loop, const struct lc_fleet_config *cfg,
                 struct lc_fleet **out);

void lc_fleet_stats(const struct lc_fleet *f, struct lc_fleet_stats *out);

/* Close every client; the fleet is freed once they are all gone (run the
 * loop until lc_fleet_closed says so, then call lc_fleet_free). */
void lc_fleet_close(struct lc_fleet *f);
int lc_fleet_closed(const struct lc_fleet *f);
void lc_fleet_free(struct lc_fleet *f);

#endif /* LC_BENCH_FLEET_H */
