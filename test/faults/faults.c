/* The fault suite (`make test-faults`): three real locusd processes, each in
 * its own network namespace, under concurrent clients, with at least a
 * hundred faults mixed at random; then the history checker on every
 * member's consistent and local reads, and a report.
 *
 *   faults [--faults N] [--seconds S] [--clients N] [--keys N] [--seed N]
 *          [--locusd PATH] [--locusd-asan PATH] [--asan-nodes N]
 *          [--disk-mb N] [--kinds k1,k2,...] [--dir DIR] [--net N]
 *          [--port P] [-v]
 *
 * Exit status: 0 when nothing was violated, no member crashed or logged a
 * sanitizer report, every member stopped cleanly at the end and the cluster
 * recovered from every fault; 1 otherwise; 2 when it cannot run (not root,
 * no `ip`/`nft`, bad options).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "test/faults/suite.h"

#define PREFIX "lcfault"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static const char usage[] =
    "usage: faults [options]\n"
    "  --faults N         faults to inject (100)\n"
    "  --seconds S        stop injecting after S seconds (780)\n"
    "  --clients N        concurrent clients (6)\n"
    "  --keys N           instances the clients write (24)\n"
    "  --seed N           random seed (time)\n"
    "  --locusd PATH      locusd to run (build/locusd)\n"
    "  --locusd-asan PATH a sanitizer build for some members\n"
    "  --asan-nodes N     how many members run it, from node 0 (1)\n"
    "  --disk-mb N        size of the tmpfs under node 2's data (256)\n"
    "  --kinds LIST       comma-separated subset of the fault kinds:\n"
    "                     kill-leader,kill-follower,kill-all,pause-leader,\n"
    "                     partition-leader,partition-follower,link-down,\n"
    "                     snapshot-restart,disk-full (all)\n"
    "  --dir DIR          run directory (data/faults)\n"
    "  --net N            namespaces on 198.18.N.0/24 (212)\n"
    "  --port P           HTTP port of every member (18848)\n"
    "  -v                 more detail\n";

static int parse_kinds(const char *list, bool *on)
{
    char copy[512];
    char *save = NULL;
    snprintf(copy, sizeof copy, "%s", list);
    memset(on, 0, FS_KINDS * sizeof *on);
    for (char *t = strtok_r(copy, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        bool found = false;
        for (unsigned k = 0; k < FS_KINDS; k++) {
            if (strcmp(t, fs_kind_name((enum fs_kind)k)) == 0) {
                on[k] = found = true;
            }
        }
        if (!found) {
            fprintf(stderr, "faults: unknown fault kind '%s'\n", t);
            return -1;
        }
    }
    return 0;
}

static int parse_args(struct fs_suite *s, bool *kinds, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-v") == 0) {
            s->verbose = true;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            exit(0);
        }
        if (v == NULL) {
            fprintf(stderr, "faults: %s needs a value\n%s", a, usage);
            return -1;
        }
        i++;
        if (strcmp(a, "--faults") == 0) {
            s->n_faults = (unsigned)atoi(v);
        } else if (strcmp(a, "--seconds") == 0) {
            s->max_seconds = (unsigned)atoi(v);
        } else if (strcmp(a, "--clients") == 0) {
            s->n_clients = (unsigned)atoi(v);
        } else if (strcmp(a, "--keys") == 0) {
            s->n_keys = (unsigned)atoi(v);
        } else if (strcmp(a, "--seed") == 0) {
            s->seed = (uint32_t)strtoul(v, NULL, 10);
        } else if (strcmp(a, "--locusd") == 0) {
            s->locusd = v;
        } else if (strcmp(a, "--locusd-asan") == 0) {
            s->asan_locusd = v;
        } else if (strcmp(a, "--asan-nodes") == 0) {
            s->asan_nodes = (unsigned)atoi(v);
        } else if (strcmp(a, "--disk-mb") == 0) {
            s->disk_mb = (unsigned)atoi(v);
        } else if (strcmp(a, "--kinds") == 0) {
            if (parse_kinds(v, kinds) != 0) {
                return -1;
            }
        } else if (strcmp(a, "--dir") == 0) {
            s->dir = v;
        } else if (strcmp(a, "--net") == 0) {
            s->net = (unsigned)atoi(v);
        } else if (strcmp(a, "--port") == 0) {
            s->port = atoi(v);
        } else {
            fprintf(stderr, "faults: unknown option %s\n%s", a, usage);
            return -1;
        }
    }
    if (s->n_clients == 0 || s->n_clients > FC_MAX_CLIENTS ||
        s->n_keys < FC_SERVICES || s->n_keys > 1024 || s->asan_nodes > 3 ||
        s->net > 255 || s->disk_mb < 16 || s->port < 2000 ||
        s->port > 64000) {
        fprintf(stderr, "faults: bad option value\n%s", usage);
        return -1;
    }
    return 0;
}

/* Namespaces, directories, the tmpfs, the cluster's files. */
static int set_up(struct fs_suite *s)
{
    struct lc_cluster_spec spec = {0};
    char err[512];
    char opts[64];
    char extra[256];

    if (lc_netns_create(PREFIX, s->net, FS_NODES, &s->ns, err, sizeof err) !=
        0) {
        fprintf(stderr, "faults: cannot make namespaces: %s\n", err);
        return -1;
    }
    /* Low thresholds: snapshots every few hundred writes, so restarts and
     * a full disk meet them. */
    snprintf(extra, sizeof extra,
             "locus.raft.snapshot_threshold=200\n"
             "locus.raft.snapshot_trailing=50\n");
    spec.n = FS_NODES;
    spec.base_port = s->port;
    spec.dir = s->dir;
    spec.locusd = s->locusd;
    spec.extra = extra;
    spec.netns = s->ns;
    if (lc_cluster_init(&s->c, &spec) != 0) {
        return -1;
    }
    s->disk_node = FS_NODES - 1;
    snprintf(s->disk_path, sizeof s->disk_path, "%s",
             s->c.nodes[s->disk_node].data_dir);
    umount2(s->disk_path, MNT_DETACH); /* left by a crashed run */
    if (lc_cluster_wipe(&s->c) != 0) {
        fprintf(stderr, "faults: cannot wipe the old data in %s\n", s->dir);
        return -1;
    }
    for (unsigned i = 0; i < FS_NODES; i++) {
        truncate(s->c.nodes[i].log, 0);
        if (s->asan_locusd != NULL && i < s->asan_nodes) {
            s->c.nodes[i].locusd = s->asan_locusd;
        }
    }
    mkdir(s->disk_path, 0755);
    snprintf(opts, sizeof opts, "size=%um,mode=0755", s->disk_mb);
    if (mount("tmpfs", s->disk_path, "tmpfs", 0, opts) != 0) {
        fprintf(stderr, "faults: cannot mount a tmpfs on %s: %s\n",
                s->disk_path, strerror(errno));
        return -1;
    }
    s->disk_mounted = true;
    return 0;
}

static void tear_down(struct fs_suite *s)
{
    if (s->started) {
        lc_cluster_stop(&s->c);
    }
    if (s->disk_mounted && umount2(s->disk_path, MNT_DETACH) != 0) {
        fprintf(stderr, "faults: cannot unmount %s: %s\n", s->disk_path,
                strerror(errno));
    }
    lc_netns_destroy(s->ns);
    s->ns = NULL;
}

/* Per fault: from the strike to the completion of the first acknowledged
 * registration invoked at or after it (any client); @end_us when none
 * came. Registrations only: each changes its instance (a weight of its
 * own), while deregistering an absent instance may be answered at once
 * without any Raft write, even by a member cut off from the leader. */
static uint64_t unavailability_ms(const struct fh_op *ops, size_t n,
                                  uint64_t at_us, uint64_t end_us)
{
    uint64_t best = end_us;
    for (size_t i = 0; i < n; i++) {
        if (ops[i].outcome == FH_OK && ops[i].reg &&
            ops[i].invoke_us >= at_us &&
            ops[i].complete_us < best) {
            best = ops[i].complete_us;
        }
    }
    return (best - at_us) / 1000u;
}

static void print_kinds(const struct fs_suite *s, const struct fh_op *ops,
                        size_t n, uint64_t end_us)
{
    printf("\n%-20s %5s %10s %10s %12s %s\n", "fault kind", "count",
           "unavail.50", "unavail.max", "recovery.50", "note");
    for (unsigned k = 0; k < FS_KINDS; k++) {
        uint64_t un[1024];
        uint64_t rec[1024];
        size_t m = 0;
        unsigned notes = 0;
        for (size_t i = 0; i < s->n_done && m < 1024; i++) {
            const struct fs_fault *f = &s->faults[i];
            if (f->kind != k) {
                continue;
            }
            un[m] = unavailability_ms(ops, n, f->at_us, end_us);
            rec[m] = f->recover_ms;
            notes += f->note;
            m++;
        }
        if (m == 0) {
            continue;
        }
        lc_bench_sort(un, m);
        lc_bench_sort(rec, m);
        printf("%-20s %5zu %8.2f s %8.2f s %10.2f s", fs_kind_name(k), m,
               (double)lc_bench_percentile(un, m, 50) / 1000.0,
               (double)un[m - 1] / 1000.0,
               (double)lc_bench_percentile(rec, m, 50) / 1000.0);
        if (k == FS_SNAPSHOT_RESTART) {
            printf(" %u of %zu killed before doSnapshot answered", notes, m);
        } else if (k == FS_DISK_FULL) {
            printf(" %u of %zu logged a failed write", notes, m);
        }
        printf("\n");
    }
}

/* Sanitizer reports in the members' logs. */
static unsigned sanitizer_reports(const struct fs_suite *s)
{
    static const char *needles[] = {"ERROR: AddressSanitizer",
                                    "ERROR: LeakSanitizer", "runtime error:"};
    unsigned found = 0;
    for (unsigned i = 0; i < s->c.n; i++) {
        FILE *f = fopen(s->c.nodes[i].log, "r");
        char line[4096];
        if (f == NULL) {
            continue;
        }
        while (fgets(line, sizeof line, f) != NULL) {
            for (size_t k = 0; k < sizeof needles / sizeof needles[0]; k++) {
                if (strstr(line, needles[k]) != NULL) {
                    printf("  node %u: %s", i, line);
                    found++;
                }
            }
        }
        fclose(f);
    }
    return found;
}

/* Stop every member with SIGTERM; each must exit with status 0. */
static unsigned stop_all(struct fs_suite *s)
{
    unsigned unclean = 0;
    fs_reap_crashes(s);
    lc_cluster_stop(&s->c);
    s->started = false;
    for (unsigned i = 0; i < s->c.n; i++) {
        int st = s->c.nodes[i].exit_status;
        if (!(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
            printf("  node %u did not stop cleanly (wait status %d)\n", i, st);
            unclean++;
        }
    }
    return unclean;
}

static void save_history(const struct fs_suite *s, const struct fh_op *ops,
                         size_t n)
{
    char path[1200];
    FILE *f;
    snprintf(path, sizeof path, "%s/history.tsv", s->dir);
    f = fopen(path, "w");
    if (f == NULL) {
        return;
    }
    fprintf(f, "client\top\tkey\tinvoke_us\tcomplete_us\toutcome\n");
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%u\t%s\t%u\t%llu\t%llu\t%s\n", ops[i].client,
                ops[i].reg ? "register" : "deregister", ops[i].key,
                (unsigned long long)(ops[i].invoke_us - s->start_us),
                (unsigned long long)(ops[i].complete_us - s->start_us),
                fh_outcome_name(ops[i].outcome));
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/faults.tsv", s->dir);
    f = fopen(path, "w");
    if (f == NULL) {
        return;
    }
    fprintf(f, "kind\tnode\tat_us\theld_ms\trecover_ms\tnote\n");
    for (size_t i = 0; i < s->n_done; i++) {
        const struct fs_fault *ft = &s->faults[i];
        fprintf(f, "%s\t%d\t%llu\t%llu\t%llu\t%d\n", fs_kind_name(ft->kind),
                ft->node, (unsigned long long)(ft->at_us - s->start_us),
                (unsigned long long)ft->held_ms,
                (unsigned long long)ft->recover_ms, ft->note);
    }
    fclose(f);
}

/* Inject faults until the count or the time is reached. */
static void fault_loop(struct fs_suite *s, const bool *kinds)
{
    enum fs_kind on[FS_KINDS];
    unsigned n_on = 0;
    for (unsigned k = 0; k < FS_KINDS; k++) {
        if (kinds[k]) {
            on[n_on++] = (enum fs_kind)k;
        }
    }
    while (s->n_done < s->n_faults && !interrupted &&
           fs_elapsed(s) < (double)s->max_seconds) {
        struct fs_fault *f = &s->faults[s->n_done];
        enum fs_kind k = on[fs_rand(s) % n_on];
        size_t ok;
        size_t failed;
        size_t unknown;
        int rv = fs_inject(s, k, f);
        s->n_done++;
        fc_counts(s->cl, &ok, &failed, &unknown);
        printf("[%3zu/%u %6.1f s] %-18s node %2d held %5.2f s, recovered "
               "in %5.2f s; ops ok %zu failed %zu unknown %zu%s\n",
               s->n_done, s->n_faults, fs_elapsed(s), fs_kind_name(k),
               f->node, (double)f->held_ms / 1000.0,
               (double)f->recover_ms / 1000.0, ok, failed, unknown,
               s->crashes > 0 ? " (CRASHES)" : "");
        fflush(stdout);
        if (rv != 0) {
            printf("the cluster did not recover from %s within 120 s\n",
                   fs_kind_name(k));
            break;
        }
        fs_sleep_ms(fs_between(s, 500, 1500));
    }
}

int main(int argc, char **argv)
{
    struct fs_suite s = {0};
    bool kinds[FS_KINDS];
    char why[256];
    struct fh_op *ops = NULL;
    size_t n_ops = 0;
    size_t count[2][3] = {{0}};
    unsigned violations = 0;
    unsigned late = 0;
    unsigned sanitizer;
    unsigned unclean;
    uint64_t end_us;
    bool pass;

    s.n_faults = 100;
    s.max_seconds = 780;
    s.n_clients = 6;
    s.n_keys = 24;
    s.disk_mb = 256;
    s.asan_nodes = 1;
    s.net = 212;
    s.port = 18848;
    s.seed = (uint32_t)time(NULL);
    s.locusd = "build/locusd";
    s.dir = "data/faults";
    for (unsigned k = 0; k < FS_KINDS; k++) {
        kinds[k] = true;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress shows when piped */
    if (parse_args(&s, kinds, argc, argv) != 0) {
        return 2;
    }
    if (!lc_netns_available(why, sizeof why)) {
        fprintf(stderr,
                "test-faults: cannot run: %s. The suite puts each member in "
                "its own network namespace and cuts them apart with "
                "nftables; it needs root and the iproute2 and nftables "
                "packages.\n",
                why);
        return 2;
    }
    s.rng = s.seed != 0 ? s.seed : 1;
    s.faults = calloc(s.n_faults + 1, sizeof *s.faults);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    printf("fault suite: %u faults (at most %u s), %u clients, %u keys, seed "
           "%u\n  locusd %s%s%s%s; disk-full member: node %u (%u MB tmpfs)\n",
           s.n_faults, s.max_seconds, s.n_clients, s.n_keys, s.seed, s.locusd,
           s.asan_locusd != NULL ? ", ASan build on " : "",
           s.asan_locusd != NULL ? (s.asan_nodes == 3 ? "every member"
                                    : s.asan_nodes == 1 ? "node 0"
                                                        : "nodes 0-1")
                                 : "",
           s.asan_locusd != NULL ? "" : " (no ASan member)", FS_NODES - 1,
           s.disk_mb);
    if (set_up(&s) != 0) {
        tear_down(&s);
        return 2;
    }
    s.start_us = lc_mono_us();
    for (unsigned i = 0; i < FS_NODES; i++) {
        fs_start_node(&s, i);
    }
    s.started = true;
    if (fs_wait_healthy(&s, 90000) != 0) {
        fprintf(stderr, "faults: the cluster did not come up; see %s/node*.log\n",
                s.dir);
        tear_down(&s);
        return 1;
    }
    {
        struct fc_config cfg = {0};
        cfg.n_clients = s.n_clients;
        cfg.n_keys = s.n_keys;
        cfg.n_nodes = FS_NODES;
        for (unsigned i = 0; i < FS_NODES; i++) {
            cfg.hosts[i] = s.c.nodes[i].host;
        }
        cfg.port = s.port;
        cfg.timeout_ms = 8000;
        cfg.think_ms = 20;
        cfg.seed = s.seed;
        s.cl = fc_start(&cfg);
        if (s.cl == NULL) {
            fprintf(stderr, "faults: cannot start the clients\n");
            tear_down(&s);
            return 1;
        }
    }
    printf("cluster up in %.1f s; clients started\n", fs_elapsed(&s));
    fs_sleep_ms(3000);
    fault_loop(&s, kinds);
    /* A quiet end: heal everything, let the clients write a little more. */
    lc_netns_heal(s.ns);
    fs_sleep_ms(3000);
    fc_stop(s.cl);
    end_us = lc_mono_us();
    ops = fc_ops(s.cl, &n_ops);
    printf("\nclients stopped at %.1f s; checking the members\n",
           fs_elapsed(&s));
    violations = fs_verify(&s, ops, n_ops, &late);
    printf("stopping the members\n");
    unclean = stop_all(&s);
    sanitizer = sanitizer_reports(&s);
    save_history(&s, ops, n_ops);

    for (size_t i = 0; i < n_ops; i++) {
        count[ops[i].reg][ops[i].outcome]++;
    }
    printf("\n== fault suite report (seed %u, %.0f s) ==\n", s.seed,
           fs_elapsed(&s));
    print_kinds(&s, ops, n_ops, end_us);
    printf("\nfaults: %zu%s\n", s.n_done,
           s.n_done < s.n_faults ? " (FEWER than asked: time ran out)" : "");
    printf("operations: %zu: ok %zu, failed %zu, unknown %zu "
           "(registrations %zu/%zu/%zu, deregistrations %zu/%zu/%zu)\n",
           n_ops, count[0][FH_OK] + count[1][FH_OK],
           count[0][FH_FAILED] + count[1][FH_FAILED],
           count[0][FH_UNKNOWN] + count[1][FH_UNKNOWN], count[1][FH_OK],
           count[1][FH_FAILED], count[1][FH_UNKNOWN], count[0][FH_OK],
           count[0][FH_FAILED], count[0][FH_UNKNOWN]);
    printf("violations: %u\n", violations);
    printf("crashes (exits nobody asked for): %u\n%s", s.crashes,
           s.crash_notes);
    printf("sanitizer reports: %u\n", sanitizer);
    printf("members that did not stop cleanly: %u\n", unclean);
    printf("unknown writes applied more than 10 s after their client gave "
           "up (allowed, informational): %u\n",
           late);
    printf("history: %s/history.tsv, faults: %s/faults.tsv, logs: "
           "%s/node*.log\n",
           s.dir, s.dir, s.dir);
    pass = violations == 0 && s.crashes == 0 && sanitizer == 0 &&
           unclean == 0 && !s.stuck && !interrupted;
    printf("RESULT: %s\n", pass ? "PASS" : "FAIL");
    tear_down(&s);
    fc_free(s.cl);
    free(ops);
    free(s.faults);
    return pass ? 0 : 1;
}
