/* cluster.conf watched (conf_watch.h): libuv's stat poll, then the same
 * parser the start uses (lc_config_load_members), then the cluster plane,
 * which changes the member list and its channels. Raft membership stays as
 * it is: it changes through /nacos/v1/core/ops/raft only, so an edit never
 * moves data by itself. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "server/conf_watch.h"
#include "server/config.h"

#define LOG "server"

struct lc_conf_watch {
    uv_fs_poll_t poll;
    struct lc_peers *peers;
    bool missing; /* said so once */
};

static void reload(struct lc_conf_watch *w, const char *path)
{
    struct lc_member_conf entries[LC_MAX_MEMBERS];
    struct lc_config *cfg = calloc(1, sizeof *cfg);
    char err[512] = "";
    bool changed = false;
    int rv;

    if (cfg == NULL) {
        lc_warnf(LOG, "%s changed: out of memory, ignored", path);
        return;
    }
    rv = lc_config_load_members(cfg, path, err, sizeof err);
    if (rv == 0 && cfg->n_members == 0) {
        rv = LC_EINVAL;
        snprintf(err, sizeof err, "no member listed");
    }
    if (rv == 0) {
        for (unsigned i = 0; i < cfg->n_members; i++) {
            entries[i] = (struct lc_member_conf){cfg->members[i].host,
                                                 cfg->members[i].port};
        }
        rv = lc_peers_update_members(w->peers, entries, cfg->n_members,
                                     &changed, err, sizeof err);
    }
    if (rv != 0) {
        lc_warnf(LOG, "%s changed but is not used: %s", path, err);
    } else if (!changed) {
        lc_infof(LOG, "%s changed: same members", path);
    } else {
        lc_infof(LOG,
                 "%s changed: %u member(s) now (raft membership unchanged: "
                 "see /nacos/v1/core/ops/raft)",
                 path, cfg->n_members);
    }
    free(cfg);
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_poll(uv_fs_poll_t *h, int status, const uv_stat_t *prev,
                    const uv_stat_t *curr)
{
    struct lc_conf_watch *w = h->data;
    char path[LC_PATH_MAX];
    size_t len = sizeof path;

    (void)prev;
    (void)curr;
    if (uv_fs_poll_getpath(h, path, &len) != 0) {
        return;
    }
    if (status < 0) {
        if (!w->missing) {
            lc_warnf(LOG, "%s: %s; the member list stays", path,
                     uv_strerror(status));
        }
        w->missing = true;
        return;
    }
    w->missing = false;
    reload(w, path);
}

int lc_conf_watch_new(uv_loop_t *loop, const char *path, unsigned interval_ms,
                      struct lc_peers *peers, struct lc_conf_watch **out)
{
    struct lc_conf_watch *w;

    if (path == NULL || path[0] == '\0' || peers == NULL) {
        return LC_EINVAL;
    }
    w = calloc(1, sizeof *w);
    if (w == NULL) {
        return LC_ENOMEM;
    }
    w->peers = peers;
    uv_fs_poll_init(loop, &w->poll);
    w->poll.data = w;
    if (uv_fs_poll_start(&w->poll, on_poll, path, interval_ms) != 0) {
        uv_close((uv_handle_t *)&w->poll, on_closed);
        return LC_ENOMEM;
    }
    *out = w;
    return 0;
}

void lc_conf_watch_close(struct lc_conf_watch *w)
{
    uv_close((uv_handle_t *)&w->poll, on_closed);
}
