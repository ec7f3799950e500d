/* Real hosts on one machine, for fault tests and benchmarks: network
 * namespaces joined by a bridge, with silent partitions.
 *
 * Node i lives in network namespace "<prefix><i>" with address
 * 198.18.<net>.<i+1>/24 on a veth whose peer is enslaved to a bridge in the
 * root namespace (bridge address 198.18.<net>.254, so clients in the root
 * namespace reach every node). Each namespace's loopback is up (instances
 * registered on 127.x are health-checked there).
 *
 * Partitions are silent: an nftables set in each namespace lists the peers
 * whose packets its input hook drops, so a cut peer sees neither a reset
 * nor an ICMP error, only silence, as with a dead switch port or a frozen
 * host. lc_netns_link_down() sets the node's own veth down instead.
 *
 * Everything is done with the `ip` and `nft` commands (iproute2,
 * nftables); it needs root. lc_netns_create() first deletes what a crashed
 * earlier run with the same prefix left behind (namespaces, veths, bridge),
 * so a test can always start clean. Not thread-safe: call from one thread.
 */
#ifndef LC_BENCH_NETNS_H
#define LC_BENCH_NETNS_H

#include <stdbool.h>
#include <stddef.h>

#define LC_NETNS_MAX 9
/* Interface names are "<prefix>br" and "<prefix>h<i>" (15 bytes at most). */
#define LC_NETNS_PREFIX_MAX 10

struct lc_netns;

/* Whether this process can make namespaces (root, `ip` and `nft`
 * present); @why (when not NULL) says why not. */
bool lc_netns_available(char *why, size_t len);

/* Create @n namespaces; @net picks 198.18.<net>.0/24 (use distinct ones for
 * parallel users). On success *@out is owned by the caller (free it with
 * lc_netns_destroy). Return 0, or -1 with a message in @err. */
int lc_netns_create(const char *prefix, unsigned net, unsigned n,
                    struct lc_netns **out, char *err, size_t errlen);

/* "198.18.x.y" of node @i (borrowed from @ns). */
const char *lc_netns_addr(const struct lc_netns *ns, unsigned i);
/* The namespace's name, "<prefix><i>" (borrowed from @ns). */
const char *lc_netns_name(const struct lc_netns *ns, unsigned i);
/* The bridge's address in the root namespace, "198.18.<net>.254". */
const char *lc_netns_bridge_addr(const struct lc_netns *ns);
/* Number of namespaces. */
unsigned lc_netns_count(const struct lc_netns *ns);

/* In a forked child before exec: join namespace @i (setns). Return 0 or -1
 * (errno set). Async-signal-safe apart from the path formatting. */
int lc_netns_enter(const struct lc_netns *ns, unsigned i);

/* Silent partitions (packets dropped, nothing refused or closed). Each
 * returns 0 or -1 (a message on stderr). */
int lc_netns_cut(struct lc_netns *ns, unsigned i, unsigned j); /* i <-/-> j */
/* i from every other node; clients in the root namespace still reach it. */
int lc_netns_isolate(struct lc_netns *ns, unsigned i);
/* i from everyone, clients included: its veth goes down. */
int lc_netns_link_down(struct lc_netns *ns, unsigned i);
/* Undo every cut and link down. */
int lc_netns_heal(struct lc_netns *ns);

/* Delete the namespaces and the bridge and free @ns (NULL is ignored).
 * Processes still inside a namespace keep it alive but unreachable; stop
 * them first. */
void lc_netns_destroy(struct lc_netns *ns);

#endif /* LC_BENCH_NETNS_H */
