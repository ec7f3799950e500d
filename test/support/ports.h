/* Loopback ports for the processes and listeners tests start: one allocator
 * for every test binary, so binaries (and several checkouts) can run at
 * once without port bands.
 *
 * A locusd with main (HTTP) port P also listens on P - 1000 (raft), P + 1000
 * and P + 1001 (gRPC, SDK and cluster). tc_port_reserve() picks P at random
 * in [TC_PORT_MIN, TC_PORT_MAX], below the kernel's ephemeral range
 * (32768-60999, where outgoing connections take their local port), such
 * that all four are free on 127.0.0.1 (a TCP bind succeeds), and reserves
 * them: it holds a UDP socket bound on 127.0.0.1 on each of the four until
 * tc_port_release(). locusd uses only TCP on those ports (its UDP push
 * socket takes an ephemeral port), so the holds do not get in its way, and
 * every allocator, the one in this process, in another test binary, or in
 * test/compat/harness.js, checks UDP too and so skips a held port. A port
 * stays reserved while its node is down between a kill and a restart.
 *
 * What the holds cannot stop is a process that binds one of the TCP ports
 * without asking (a service on the machine, a checkout with fixed ports)
 * between the check and locusd's own bind: tc_up() sees that race lost (the
 * node exits, its log says "cannot listen on") and starts over on new
 * ports.
 *
 * Thread-safe. The held sockets are close-on-exec: the processes a test
 * starts do not inherit them.
 */
#ifndef LC_TEST_PORTS_H
#define LC_TEST_PORTS_H

#include <stdbool.h>

#define TC_PORT_MIN 11000 /* its raft port: 10000 */
#define TC_PORT_MAX 31000 /* its gRPC ports: up to 32001 */

/* Reserve a main port P for one locusd (P, P - 1000, P + 1000, P + 1001).
 * Return P, or -1 when no free set was found after many tries. */
int tc_port_reserve(void);

/* Reserve one port Q (free for TCP on 127.0.0.1, held for UDP) for a
 * listener of the test's own, e.g. a health-check target. Return Q or -1. */
int tc_port_reserve_one(void);

/* Give back a reservation made by either function (unknown ports are
 * ignored). */
void tc_port_release(int port);

/* Whether @port is free on 127.0.0.1 for TCP (and, if @udp, for UDP); a
 * port this process holds is not free for UDP. */
bool tc_port_free(int port, bool udp);

#endif /* LC_TEST_PORTS_H */
