/* Core admin endpoints: cluster members, raft groups, raft ops commands. */
#ifndef LC_SERVER_ADMIN_H
#define LC_SERVER_ADMIN_H

#include "members/members.h"
#include "raft/engine.h"
#include "rpc/http/http.h"

struct lc_admin;

/* Route /nacos/v1/core/cluster/..., /nacos/v1/core/raft/groups (also
 * without the /nacos prefix) and /nacos/v1/core/ops/raft on @srv. The
 * member list @members (its states as /cluster/nodes shows them) and
 * @engine are borrowed for the admin's lifetime. */
struct lc_admin *lc_admin_new(const struct lc_members *members,
                              struct lc_raft_engine *engine,
                              struct lc_http_server *srv);
void lc_admin_free(struct lc_admin *admin);

#endif /* LC_SERVER_ADMIN_H */
