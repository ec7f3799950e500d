/* locusd: the locus server. */
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "common/log.h"
#include "server/config.h"
#include "server/node.h"

#define LOCUS_VERSION "0.1.0"

static const char usage[] =
    "usage: locusd [options]\n"
    "\n"
    "A Nacos-compatible service registry on Raft.\n"
    "\n"
    "  --conf FILE          properties file (conf/application.properties)\n"
    "  --cluster-conf FILE  members, one ip:port a line (conf/cluster.conf)\n"
    "  --port N             HTTP port (server.port, 8848); raft uses N-1000\n"
    "  --ip ADDR            this node's address (nacos.inetutils.ip-address)\n"
    "  --data-dir DIR       data directory (locus.data.dir, ./data)\n"
    "  --standalone         one-node mode (nacos.standalone=true)\n"
    "  --join               never bootstrap; wait to be added by changePeers\n"
    "  --log-level LEVEL    debug, info, warn or error\n"
    "  --set KEY=VALUE      set any property\n"
    "  --version, --help\n"
    "\n"
    "See docs/operations.md for every property.\n";

/* Every gRPC client holds a connection: take the whole open-files limit the
 * system allows (the soft limit up to the hard one), as Go servers such as
 * etcd do at start. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    struct lc_config cfg;
    char err[1024];

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("locusd %s\n", LOCUS_VERSION);
            return 0;
        }
    }
    if (lc_config_load(&cfg, argc, argv, err, sizeof err) != 0) {
        fprintf(stderr, "locusd: %s\n", err);
        return 2;
    }
    lc_log_set_level(cfg.log_level);
    /* Buffers of 256 KiB and more (snapshot images of tens of MB, the raft
     * log's entry arrays, HTTP bodies) come from mmap and go back to the
     * system when freed. glibc's default threshold starts there too but
     * rises to the size of the largest such buffer freed, after which
     * snapshot images land in the heap and the process keeps their pages. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    raise_nofile();
    return lc_node_run(&cfg);
}
