/* A 3-node cluster of real locusd processes, node i in network namespace i
 * (bench/netns.h), for tests of silent partitions.
 *
 * tn_setup() passes without namespaces (not root, no `ip`/`nft`, no
 * capability): tests call tn_skip_if_unavailable() first, which prints SKIP
 * with the reason and skips the test.
 */
#ifndef LC_TEST_NETNS_ENV_H
#define LC_TEST_NETNS_ENV_H

#include <stdbool.h>

#include "bench/cluster.h"
#include "bench/netns.h"

struct tn_env {
    struct lc_netns *ns; /* NULL when namespaces are unavailable */
    struct lc_cluster c;
    bool started;
    char dir[256];
};

/* cmocka setup/teardown bodies: namespaces "<prefix>0..2" on
 * 198.18.<net>.0/24 (each test binary its own prefix and net). */
int tn_setup(void **state, const char *prefix, unsigned net);
int tn_teardown(void **state);

/* Print "SKIP: <why>" and skip the running test when @e has no namespaces. */
void tn_skip_if_unavailable(const struct tn_env *e);

/* Start the three nodes on @port in each namespace (data under
 * /tmp/locus-<tag>-XXXXXX) and wait until all are ready. */
void tn_start(struct tn_env *e, const char *tag, int port);

#endif
