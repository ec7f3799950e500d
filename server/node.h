/* A running locusd: loop, raft engine, naming, HTTP, signals. */
#ifndef LC_SERVER_NODE_H
#define LC_SERVER_NODE_H

#include "server/config.h"

/* Run a node with @cfg until SIGTERM/SIGINT; return the exit code. */
int lc_node_run(const struct lc_config *cfg);

#endif /* LC_SERVER_NODE_H */
