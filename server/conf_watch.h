/* cluster.conf watched: an edited file changes the member list (Nacos's
 * FileConfigMemberLookup). */
#ifndef LC_SERVER_CONF_WATCH_H
#define LC_SERVER_CONF_WATCH_H

#include <uv.h>

#include "rpc/cluster/peers.h"

struct lc_conf_watch;

/* Watch @path (copied) every @interval_ms (a stat poll); when it changed,
 * parse it as cluster.conf and hand the members to @peers
 * (lc_peers_update_members, borrowed until closed). A file that does not
 * parse, lists no member or is missing is logged and ignored (the list
 * stays). Return 0 or LC_ENOMEM / LC_EINVAL. */
int lc_conf_watch_new(uv_loop_t *loop, const char *path, unsigned interval_ms,
                      struct lc_peers *peers, struct lc_conf_watch **out);

/* Stop watching; freed from the loop. */
void lc_conf_watch_close(struct lc_conf_watch *w);

#endif /* LC_SERVER_CONF_WATCH_H */
