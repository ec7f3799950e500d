/* Core admin endpoints: cluster members, raft groups, raft ops commands. */
#ifndef LC_SERVER_ADMIN_H
#define LC_SERVER_ADMIN_H

#include "members/members.h"
#include <jansson.h>

#include "raft/engine.h"
#include "rpc/cluster/peers.h"
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

/* Render /cluster/nodes and /cluster/self from the cluster plane
 * (lc_peers_member_json), borrowed until unset (NULL) or freed. */
void lc_admin_set_peers(struct lc_admin *admin, struct lc_peers *peers);

/* Nacos's raftMetaData of this node's groups ({"metaDataMap":{group:
 * {"leader","raftGroupMember","term"}}}): a new reference. */
json_t *lc_admin_raft_meta(struct lc_raft_engine *engine);

#endif /* LC_SERVER_ADMIN_H */
