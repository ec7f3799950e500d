/* Network namespaces on a bridge, and silent partitions between them, made
 * with the `ip` and `nft` commands (see bench/netns.h).
 *
 * Creation: stale leftovers of the prefix are removed, then the bridge
 * "<prefix>br" (198.18.<net>.254/24) comes up in the root namespace, and
 * for each node a namespace, a veth pair ("<prefix>h<i>" on the bridge,
 * "<prefix>n<i>" inside with 198.18.<net>.<i+1>/24), loopback up, and an
 * nftables table whose input hook drops packets from the addresses in its
 * set "cut". A failure part way destroys what was made.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/netns.h"
#include "common/util.h"

#define NETNS_DIR "/run/netns"
#define TABLE "locus_fault"

struct lc_netns {
    char prefix[LC_NETNS_PREFIX_MAX + 1];
    unsigned net;
    unsigned n;
    unsigned made; /* namespaces created so far (for unwinding) */
    bool bridge_made;
    bool down[LC_NETNS_MAX];
    char bridge[IF_NAMESIZE];
    char bridge_addr[16];
    char name[LC_NETNS_MAX][32];
    char addr[LC_NETNS_MAX][16];
    char inner[LC_NETNS_MAX][IF_NAMESIZE]; /* veth inside namespace i */
};

/* Run argv (NULL-terminated), inside namespace @ns_i of @ns when @ns is
 * not NULL. Return 0 when it exits 0; otherwise -1 with its first line of
 * stderr (or why it could not run) in @err. */
static int run_argv(const struct lc_netns *ns, unsigned ns_i,
                    char *const argv[], char *err, size_t errlen)
{
    int fds[2];
    pid_t pid;
    int status;
    char out[512];
    size_t used = 0;
    ssize_t r;

    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
        }
        dup2(fds[1], 2);
        if (ns != NULL && lc_netns_enter(ns, ns_i) != 0) {
            dprintf(2, "setns %s: %s\n", ns->name[ns_i], strerror(errno));
            _exit(126);
        }
        execvp(argv[0], argv);
        dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    while (used + 1 < sizeof out &&
           (r = read(fds[0], out + used, sizeof out - 1 - used)) != 0) {
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        used += (size_t)r;
    }
    out[used] = '\0';
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return 0;
    }
    out[strcspn(out, "\n")] = '\0';
    {
        char cmd[256] = "";
        for (unsigned k = 0; argv[k] != NULL && strlen(cmd) < 200; k++) {
            strncat(cmd, argv[k], sizeof cmd - strlen(cmd) - 2);
            strcat(cmd, " ");
        }
        snprintf(err, errlen, "`%s` failed: %s", cmd,
                 out[0] != '\0' ? out : "no message");
    }
    return -1;
}

/* run_argv with the arguments given inline: run(ns, i, err, len, "ip",
 * "link", ..., NULL). */
static int run(const struct lc_netns *ns, unsigned ns_i, char *err,
               size_t errlen, const char *arg0, ...)
{
    char *argv[32];
    unsigned n = 0;
    va_list ap;
    argv[n++] = (char *)arg0;
    va_start(ap, arg0);
    while (n < 31 && (argv[n] = va_arg(ap, char *)) != NULL) {
        n++;
    }
    va_end(ap);
    argv[n] = NULL;
    return run_argv(ns, ns_i, argv, err, errlen);
}

/* Whether @name is @prefix followed by @mid (may be "") and one or more
 * digits only. */
static bool prefixed_number(const char *name, const char *prefix,
                            const char *mid)
{
    size_t pl = strlen(prefix);
    size_t ml = strlen(mid);
    const char *p;
    if (strncmp(name, prefix, pl) != 0 || strncmp(name + pl, mid, ml) != 0) {
        return false;
    }
    p = name + pl + ml;
    if (*p == '\0') {
        return false;
    }
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
    }
    return true;
}

/* Delete what an earlier run with @prefix left: namespaces "<prefix><k>",
 * links "<prefix>h<k>", "<prefix>n<k>" and "<prefix>br" in the root
 * namespace. Errors are ignored (it may all be gone already). */
static void remove_stale(const char *prefix)
{
    char err[256];
    char bridge[IF_NAMESIZE + 8];
    DIR *d = opendir(NETNS_DIR);
    struct if_nameindex *ifs;
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (prefixed_number(e->d_name, prefix, "")) {
                run(NULL, 0, err, sizeof err, "ip", "netns", "delete",
                    e->d_name, (char *)NULL);
            }
        }
        closedir(d);
    }
    snprintf(bridge, sizeof bridge, "%sbr", prefix);
    ifs = if_nameindex();
    for (struct if_nameindex *p = ifs; p != NULL && p->if_index != 0; p++) {
        if (strcmp(p->if_name, bridge) == 0 ||
            prefixed_number(p->if_name, prefix, "h") ||
            prefixed_number(p->if_name, prefix, "n")) {
            run(NULL, 0, err, sizeof err, "ip", "link", "delete", p->if_name,
                (char *)NULL);
        }
    }
    if (ifs != NULL) {
        if_freenameindex(ifs);
    }
}

static bool in_path(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[1024];
    char dir[4096];
    /* sbin is searched too: root's tools live there even when PATH lacks
     * it (execvp below gets the same treatment through fix_path). */
    snprintf(dir, sizeof dir, "%s:/usr/sbin:/sbin",
             path != NULL ? path : "/usr/bin:/bin");
    for (char *save = NULL, *p = strtok_r(dir, ":", &save); p != NULL;
         p = strtok_r(NULL, ":", &save)) {
        snprintf(buf, sizeof buf, "%s/%s", p, prog);
        if (access(buf, X_OK) == 0) {
            return true;
        }
    }
    return false;
}

/* Make sure PATH has the sbin directories `ip` and `nft` live in. */
static void fix_path(void)
{
    const char *path = getenv("PATH");
    char buf[4096];
    if (path != NULL && strstr(path, "/usr/sbin") != NULL) {
        return;
    }
    snprintf(buf, sizeof buf, "%s:/usr/sbin:/sbin",
             path != NULL ? path : "/usr/bin:/bin");
    setenv("PATH", buf, 1);
}

bool lc_netns_available(char *why, size_t len)
{
    char dummy[8];
    if (why == NULL) {
        why = dummy;
        len = sizeof dummy;
    }
    if (geteuid() != 0) {
        snprintf(why, len, "network namespaces need root (euid is %d)",
                 (int)geteuid());
        return false;
    }
    if (access("/proc/self/ns/net", R_OK) != 0) {
        snprintf(why, len, "no /proc/self/ns/net: kernel without network "
                           "namespaces?");
        return false;
    }
    if (!in_path("ip")) {
        snprintf(why, len, "`ip` not found (apt-get install iproute2)");
        return false;
    }
    if (!in_path("nft")) {
        snprintf(why, len, "`nft` not found (apt-get install nftables)");
        return false;
    }
    snprintf(why, len, "available");
    return true;
}

/* The nftables table of namespace @i: a set of cut peers, dropped on
 * input before anything else sees them. */
static int add_table(struct lc_netns *ns, unsigned i, char *err,
                     size_t errlen)
{
    if (run(ns, i, err, errlen, "nft", "add table inet " TABLE, (char *)NULL) !=
            0 ||
        run(ns, i, err, errlen, "nft",
            "add set inet " TABLE " cut { type ipv4_addr; }", (char *)NULL) !=
            0 ||
        run(ns, i, err, errlen, "nft",
            "add chain inet " TABLE
            " input { type filter hook input priority -300; policy accept; }",
            (char *)NULL) != 0 ||
        run(ns, i, err, errlen, "nft",
            "add rule inet " TABLE " input ip saddr @cut drop",
            (char *)NULL) != 0) {
        return -1;
    }
    return 0;
}

/* Namespace @i with its veth on the bridge and its address. */
static int add_node(struct lc_netns *ns, unsigned i, char *err, size_t errlen)
{
    char host[IF_NAMESIZE + 8];
    char cidr[32];
    snprintf(ns->name[i], sizeof ns->name[i], "%s%u", ns->prefix, i);
    snprintf(ns->addr[i], sizeof ns->addr[i], "198.18.%u.%u", ns->net, i + 1);
    snprintf(ns->inner[i], sizeof ns->inner[i], "%sn%u", ns->prefix, i);
    snprintf(host, sizeof host, "%sh%u", ns->prefix, i);
    snprintf(cidr, sizeof cidr, "%s/24", ns->addr[i]);
    if (run(NULL, 0, err, errlen, "ip", "netns", "add", ns->name[i],
            (char *)NULL) != 0) {
        return -1;
    }
    ns->made = i + 1;
    if (run(NULL, 0, err, errlen, "ip", "link", "add", host, "type", "veth",
            "peer", "name", ns->inner[i], (char *)NULL) != 0 ||
        run(NULL, 0, err, errlen, "ip", "link", "set", ns->inner[i], "netns",
            ns->name[i], (char *)NULL) != 0 ||
        run(NULL, 0, err, errlen, "ip", "link", "set", host, "master",
            ns->bridge, "up", (char *)NULL) != 0 ||
        run(NULL, 0, err, errlen, "ip", "-n", ns->name[i], "addr", "add", cidr,
            "dev", ns->inner[i], (char *)NULL) != 0 ||
        run(NULL, 0, err, errlen, "ip", "-n", ns->name[i], "link", "set",
            ns->inner[i], "up", (char *)NULL) != 0 ||
        run(NULL, 0, err, errlen, "ip", "-n", ns->name[i], "link", "set", "lo",
            "up", (char *)NULL) != 0) {
        return -1;
    }
    return add_table(ns, i, err, errlen);
}

int lc_netns_create(const char *prefix, unsigned net, unsigned n,
                    struct lc_netns **out, char *err, size_t errlen)
{
    struct lc_netns *ns;
    char cidr[32];

    *out = NULL;
    if (!lc_netns_available(err, errlen)) {
        return -1;
    }
    if (prefix == NULL || prefix[0] == '\0' ||
        strlen(prefix) > LC_NETNS_PREFIX_MAX || net > 255 || n == 0 ||
        n > LC_NETNS_MAX) {
        snprintf(err, errlen,
                 "netns: prefix of 1..%d characters, net 0..255, 1..%d "
                 "namespaces",
                 LC_NETNS_PREFIX_MAX, LC_NETNS_MAX);
        return -1;
    }
    fix_path();
    ns = calloc(1, sizeof *ns);
    if (ns == NULL) {
        snprintf(err, errlen, "netns: out of memory");
        return -1;
    }
    lc_strlcpy(ns->prefix, prefix, sizeof ns->prefix);
    ns->net = net;
    ns->n = n;
    snprintf(ns->bridge, sizeof ns->bridge, "%sbr", prefix);
    snprintf(ns->bridge_addr, sizeof ns->bridge_addr, "198.18.%u.254", net);
    snprintf(cidr, sizeof cidr, "%s/24", ns->bridge_addr);

    remove_stale(prefix);
    if (run(NULL, 0, err, errlen, "ip", "link", "add", ns->bridge, "type",
            "bridge", (char *)NULL) != 0) {
        goto err_after_alloc;
    }
    ns->bridge_made = true;
    if (run(NULL, 0, err, errlen, "ip", "addr", "add", cidr, "dev", ns->bridge,
            (char *)NULL) != 0 ||
        run(NULL, 0, err, errlen, "ip", "link", "set", ns->bridge, "up",
            (char *)NULL) != 0) {
        goto err_after_alloc;
    }
    for (unsigned i = 0; i < n; i++) {
        if (add_node(ns, i, err, errlen) != 0) {
            goto err_after_alloc;
        }
    }
    *out = ns;
    return 0;

err_after_alloc:
    lc_netns_destroy(ns);
    return -1;
}

const char *lc_netns_addr(const struct lc_netns *ns, unsigned i)
{
    return i < ns->n ? ns->addr[i] : NULL;
}

const char *lc_netns_name(const struct lc_netns *ns, unsigned i)
{
    return i < ns->n ? ns->name[i] : NULL;
}

const char *lc_netns_bridge_addr(const struct lc_netns *ns)
{
    return ns->bridge_addr;
}

unsigned lc_netns_count(const struct lc_netns *ns)
{
    return ns->n;
}

int lc_netns_enter(const struct lc_netns *ns, unsigned i)
{
    char path[128];
    int fd;
    int rv;
    if (i >= ns->n) {
        errno = EINVAL;
        return -1;
    }
    snprintf(path, sizeof path, NETNS_DIR "/%s", ns->name[i]);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    rv = setns(fd, CLONE_NEWNET);
    close(fd);
    return rv;
}

/* Namespace @i drops what comes from node @j's address. */
static int drop_from(struct lc_netns *ns, unsigned i, unsigned j)
{
    char err[512];
    char cmd[160];
    snprintf(cmd, sizeof cmd, "add element inet " TABLE " cut { %s }",
             ns->addr[j]);
    if (run(ns, i, err, sizeof err, "nft", cmd, (char *)NULL) != 0) {
        fprintf(stderr, "netns: %s\n", err);
        return -1;
    }
    return 0;
}

int lc_netns_cut(struct lc_netns *ns, unsigned i, unsigned j)
{
    if (i >= ns->n || j >= ns->n || i == j) {
        fprintf(stderr, "netns: cannot cut %u from %u\n", i, j);
        return -1;
    }
    return drop_from(ns, i, j) == 0 && drop_from(ns, j, i) == 0 ? 0 : -1;
}

int lc_netns_isolate(struct lc_netns *ns, unsigned i)
{
    int rv = 0;
    for (unsigned j = 0; j < ns->n; j++) {
        if (j != i && lc_netns_cut(ns, i, j) != 0) {
            rv = -1;
        }
    }
    return rv;
}

static int set_link(struct lc_netns *ns, unsigned i, const char *state)
{
    char err[512];
    if (run(NULL, 0, err, sizeof err, "ip", "-n", ns->name[i], "link", "set",
            ns->inner[i], state, (char *)NULL) != 0) {
        fprintf(stderr, "netns: %s\n", err);
        return -1;
    }
    return 0;
}

int lc_netns_link_down(struct lc_netns *ns, unsigned i)
{
    if (i >= ns->n) {
        return -1;
    }
    if (set_link(ns, i, "down") != 0) {
        return -1;
    }
    ns->down[i] = true;
    return 0;
}

int lc_netns_heal(struct lc_netns *ns)
{
    int rv = 0;
    for (unsigned i = 0; i < ns->n; i++) {
        char err[512];
        if (run(ns, i, err, sizeof err, "nft",
                "flush set inet " TABLE " cut", (char *)NULL) != 0) {
            fprintf(stderr, "netns: %s\n", err);
            rv = -1;
        }
        if (ns->down[i]) {
            if (set_link(ns, i, "up") != 0) {
                rv = -1;
            } else {
                ns->down[i] = false;
            }
        }
    }
    return rv;
}

void lc_netns_destroy(struct lc_netns *ns)
{
    char err[256];
    if (ns == NULL) {
        return;
    }
    /* Deleting a namespace deletes its end of the veth, and with it the
     * bridge's end; remove_stale sweeps up whatever is still there. */
    for (unsigned i = 0; i < ns->made; i++) {
        run(NULL, 0, err, sizeof err, "ip", "netns", "delete", ns->name[i],
            (char *)NULL);
    }
    if (ns->bridge_made) {
        run(NULL, 0, err, sizeof err, "ip", "link", "delete", ns->bridge,
            (char *)NULL);
    }
    remove_stale(ns->prefix);
    free(ns);
}
