/* The faults the suite injects (suite.h), each struck, held, undone, and
 * followed by a wait until every member is UP with an agreed leader.
 *
 * A member killed on purpose is marked down_by_us until restarted; any
 * other exit is a crash, recorded with its wait status and restarted so the
 * run goes on (the report then fails). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test/faults/suite.h"

const char *fs_kind_name(enum fs_kind k)
{
    static const char *names[FS_KINDS] = {
        "kill-leader",       "kill-follower",      "kill-all",
        "pause-leader",      "partition-leader",   "partition-follower",
        "link-down",         "snapshot-restart",   "disk-full",
    };
    return k < FS_KINDS ? names[k] : "?";
}

uint32_t fs_rand(struct fs_suite *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 17;
    s->rng ^= s->rng << 5;
    return s->rng;
}

unsigned fs_between(struct fs_suite *s, unsigned lo, unsigned hi)
{
    return lo + fs_rand(s) % (hi - lo + 1);
}

void fs_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

double fs_elapsed(const struct fs_suite *s)
{
    return (double)(lc_mono_us() - s->start_us) / 1e6;
}

int fs_start_node(struct fs_suite *s, unsigned i)
{
    if (lc_cluster_start_node(&s->c, i) != 0) {
        fprintf(stderr, "faults: cannot start node %u\n", i);
        return -1;
    }
    s->down_by_us[i] = false;
    return 0;
}

/* A signal to node @i, never to pid 0 (our own process group). */
static void signal_node(struct fs_suite *s, unsigned i, int sig)
{
    if (s->c.nodes[i].pid > 0) {
        kill(s->c.nodes[i].pid, sig);
    }
}

static void kill_node(struct fs_suite *s, unsigned i)
{
    s->down_by_us[i] = true;
    lc_cluster_signal(&s->c, i, SIGKILL);
}

static void note_crash(struct fs_suite *s, unsigned i, int status)
{
    char line[200];
    size_t used = strlen(s->crash_notes);
    s->crashes++;
    if (WIFSIGNALED(status)) {
        snprintf(line, sizeof line, "node %u died of signal %d at %.1f s\n",
                 i, WTERMSIG(status), fs_elapsed(s));
    } else {
        snprintf(line, sizeof line, "node %u exited with %d at %.1f s\n", i,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1, fs_elapsed(s));
    }
    fprintf(stderr, "faults: CRASH: %s", line);
    if (used + strlen(line) < sizeof s->crash_notes) {
        strcat(s->crash_notes, line);
    }
}

void fs_reap_crashes(struct fs_suite *s)
{
    for (unsigned i = 0; i < s->c.n; i++) {
        struct lc_cluster_node *nd = &s->c.nodes[i];
        int status;
        if (nd->pid != 0 && waitpid(nd->pid, &status, WNOHANG) == nd->pid) {
            nd->pid = 0;
            nd->exit_status = status;
            note_crash(s, i, status);
        } else if (nd->pid == 0 && !s->down_by_us[i]) {
            /* Reaped by lc_cluster_wait_ready, which saw it exit. */
            note_crash(s, i, nd->exit_status);
        } else {
            continue;
        }
        fs_start_node(s, i);
    }
}

int fs_wait_healthy(struct fs_suite *s, unsigned timeout_ms)
{
    uint64_t end = lc_mono_us() + (uint64_t)timeout_ms * 1000u;
    while (lc_mono_us() < end) {
        unsigned left = (unsigned)((end - lc_mono_us()) / 1000u);
        fs_reap_crashes(s);
        if (lc_cluster_wait_all_ready(&s->c, left) == 0) {
            fs_reap_crashes(s);
            left = lc_mono_us() < end ? (unsigned)((end - lc_mono_us()) / 1000u)
                                     : 1;
            if (lc_cluster_leader(&s->c, FS_GROUP, 0, left) >= 0) {
                return 0;
            }
        }
        fs_sleep_ms(100);
    }
    return -1;
}

/* The leader of FS_GROUP, or a random member when none is known now. */
static unsigned pick_leader(struct fs_suite *s)
{
    int l = lc_cluster_leader(&s->c, FS_GROUP, 0, 5000);
    return l >= 0 ? (unsigned)l : fs_rand(s) % s->c.n;
}

static unsigned pick_follower(struct fs_suite *s)
{
    unsigned l = pick_leader(s);
    return (l + 1 + fs_rand(s) % (s->c.n - 1)) % s->c.n;
}

/* Bytes of @path's log from @offset on that contain @needle (count of
 * lines). */
static unsigned log_count_since(const char *path, long offset,
                                const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    unsigned n = 0;
    if (f == NULL) {
        return 0;
    }
    fseek(f, offset, SEEK_SET);
    while (fgets(line, sizeof line, f) != NULL) {
        if (strstr(line, needle) != NULL) {
            n++;
        }
    }
    fclose(f);
    return n;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* Take every free byte of the disk member's tmpfs into @fd. */
static void top_up(struct fs_suite *s, int fd)
{
    static char chunk[65536];
    struct statvfs vfs;
    if (statvfs(s->disk_path, &vfs) == 0) {
        off_t free_bytes = (off_t)vfs.f_bavail * (off_t)vfs.f_frsize;
        off_t end = lseek(fd, 0, SEEK_END);
        if (free_bytes > 65536) {
            posix_fallocate(fd, end, free_bytes - 65536);
        }
    }
    lseek(fd, 0, SEEK_END);
    while (write(fd, chunk, sizeof chunk) > 0) {
    }
    while (write(fd, chunk, 512) > 0) {
    }
}

/* Keep the disk member's tmpfs full for @hold_ms: the member frees space
 * as it compacts its log after a snapshot, so the filler takes it again
 * every few milliseconds, as another process writing would. */
static void hold_disk_full(struct fs_suite *s, unsigned hold_ms)
{
    char fill[1200];
    uint64_t end = lc_mono_us() + (uint64_t)hold_ms * 1000u;
    int fd;
    snprintf(fill, sizeof fill, "%s/fill", s->disk_path);
    fd = open(fill, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        fprintf(stderr, "faults: cannot create %s: %s\n", fill,
                strerror(errno));
        return;
    }
    while (lc_mono_us() < end) {
        top_up(s, fd);
        fs_sleep_ms(5);
    }
    close(fd);
    unlink(fill);
}

/* Lines of @path from @offset on that tell of a failed disk write. */
static unsigned disk_errors_since(const char *path, long offset)
{
    static const char *needles[] = {"No space", "disk is full",
                                    "disk write failed", "snapshot failed",
                                    "I/O error"};
    unsigned n = log_count_since(path, offset, " failed\n");
    for (size_t k = 0; k < sizeof needles / sizeof needles[0]; k++) {
        n += log_count_since(path, offset, needles[k]);
    }
    return n;
}

static uint64_t ms_since(uint64_t us)
{
    return (lc_mono_us() - us) / 1000u;
}

int fs_inject(struct fs_suite *s, enum fs_kind kind, struct fs_fault *f)
{
    unsigned hold;
    uint64_t healed;
    memset(f, 0, sizeof *f);
    f->kind = kind;
    f->node = -1;

    switch (kind) {
        case FS_KILL_LEADER:
        case FS_KILL_FOLLOWER: {
            unsigned i = kind == FS_KILL_LEADER ? pick_leader(s)
                                                : pick_follower(s);
            f->node = (int)i;
            f->at_us = lc_mono_us();
            kill_node(s, i);
            fs_sleep_ms(fs_between(s, 200, 2000));
            fs_start_node(s, i);
            break;
        }
        case FS_KILL_ALL:
            f->at_us = lc_mono_us();
            for (unsigned i = 0; i < s->c.n; i++) {
                signal_node(s, i, SIGKILL);
            }
            for (unsigned i = 0; i < s->c.n; i++) {
                kill_node(s, i); /* reaps */
            }
            fs_sleep_ms(fs_between(s, 200, 1500));
            for (unsigned i = 0; i < s->c.n; i++) {
                fs_start_node(s, i);
            }
            break;
        case FS_PAUSE_LEADER: {
            unsigned i = pick_leader(s);
            f->node = (int)i;
            hold = fs_between(s, 1000, 3000);
            f->at_us = lc_mono_us();
            signal_node(s, i, SIGSTOP);
            fs_sleep_ms(hold);
            signal_node(s, i, SIGCONT);
            break;
        }
        case FS_PARTITION_LEADER:
        case FS_PARTITION_FOLLOWER:
        case FS_LINK_DOWN: {
            unsigned i = kind == FS_PARTITION_LEADER ? pick_leader(s)
                         : kind == FS_PARTITION_FOLLOWER
                             ? pick_follower(s)
                             : fs_rand(s) % s->c.n;
            int rv;
            f->node = (int)i;
            hold = fs_between(s, 2000, 6000);
            rv = kind == FS_LINK_DOWN ? lc_netns_link_down(s->ns, i)
                                      : lc_netns_isolate(s->ns, i);
            /* From when every rule is in (they take a few ms to add). */
            f->at_us = lc_mono_us();
            if (rv != 0) {
                fprintf(stderr, "faults: could not cut node %u\n", i);
            }
            fs_sleep_ms(hold);
            if (lc_netns_heal(s->ns) != 0) {
                fprintf(stderr, "faults: heal failed\n");
            }
            break;
        }
        case FS_SNAPSHOT_RESTART: {
            unsigned i = fs_rand(s) % s->c.n;
            int status;
            char body[256];
            /* doSnapshot on every group of node i; kill it a few ms in,
             * while the snapshot is being taken or written. */
            enum fh_outcome o = fc_http(
                s->c.nodes[i].host, s->c.nodes[i].port, "POST",
                "/nacos/v1/core/ops/raft", "command=doSnapshot",
                fs_between(s, 2, 60), &status, body, sizeof body);
            f->node = (int)i;
            f->note = o != FH_OK; /* no answer yet: still in flight */
            f->at_us = lc_mono_us();
            kill_node(s, i);
            fs_sleep_ms(fs_between(s, 200, 1500));
            fs_start_node(s, i);
            break;
        }
        case FS_DISK_FULL: {
            long off = file_size(s->c.nodes[s->disk_node].log);
            f->node = (int)s->disk_node;
            hold = fs_between(s, 3000, 7000);
            f->at_us = lc_mono_us();
            hold_disk_full(s, hold);
            f->note = disk_errors_since(s->c.nodes[s->disk_node].log, off) > 0;
            break;
        }
        case FS_KINDS:
            return -1;
    }
    f->held_ms = ms_since(f->at_us);
    healed = lc_mono_us();
    if (fs_wait_healthy(s, 60000) != 0 && fs_wait_healthy(s, 60000) != 0) {
        s->stuck = true;
        return -1;
    }
    f->recover_ms = ms_since(healed);
    return 0;
}
