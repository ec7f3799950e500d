/* Core admin endpoints: cluster members, raft groups, raft ops commands. */
#ifndef LC_SERVER_ADMIN_H
#define LC_SERVER_ADMIN_H

#include "raft/engine.h"
#include "rpc/http/http.h"
#include "server/config.h"

struct lc_admin;

/* Route /nacos/v1/core/cluster/..., /nacos/v1/core/raft/groups (also
 * without the /nacos prefix) and /nacos/v1/core/ops/raft on @srv. @cfg and
 * @engine are borrowed for the admin's lifetime. */
struct lc_admin *lc_admin_new(const struct lc_config *cfg,
                              struct lc_raft_engine *engine,
                              struct lc_http_server *srv);
void lc_admin_free(struct lc_admin *admin);

#endif /* LC_SERVER_ADMIN_H */
