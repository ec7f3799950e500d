/* locusctl: inspect and steer a locus cluster, run clusters and benchmarks.
 *
 *   locusctl [--server host:port] [--json] groups
 *   locusctl [--server host:port] [--json] nodes
 *   locusctl [--server host:port] [--json] connections
 *   locusctl [--server host:port] raft transfer|snapshot|remove-peer|
 *            remove-peers|change-peers|reset-peers [--group G] PEERS
 *   locusctl cluster start|stop [--dir D] [--nodes N] [--port P] [--locusd F]
 *                               [--set K=V]...
 *   locusctl bench failover [options]       (see --help)
 *   locusctl [--server host:port] bench push [options]
 *   locusctl bench register|query|memory [options]
 *   locusctl bench grpc register|push|idle|storm|puts [options]
 *   locusctl bench distro [options]
 *   locusctl [auth options] login | auth init | user ... | role ... |
 *            perm ...                     (server/locusctl_auth.c,
 *                                          server/locusctl_users.c)
 *
 * Output is a table by default and JSON with --json. With auth on, every
 * call to the server carries a token: --token, or one got by logging in
 * with --username and a password first.
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/cluster.h"
#include "common/util.h"
#include "server/locusctl.h"

static const char usage[] =
    "usage: locusctl [--server host:port] [--json] COMMAND ...\n"
    "\n"
    "  groups                       raft groups of the server: state, leader,\n"
    "                               indexes, snapshot, members, elections\n"
    "  nodes                        cluster members (Nacos's cluster/nodes)\n"
    "  connections                  gRPC clients of the server: id, address,\n"
    "                               version, age, instances, subscriptions\n"
    "  raft transfer PEER           move leadership to PEER (ip:raftPort)\n"
    "  raft snapshot [PEER]         take a snapshot on PEER (default: server)\n"
    "  raft remove-peer PEER        remove a member\n"
    "  raft remove-peers P1,P2      remove several members\n"
    "  raft change-peers P1,P2,...  set the members (adds and removes)\n"
    "  raft reset-peers P1,...      force the members on this server only,\n"
    "                               to recover a group that lost its quorum\n"
    "       (raft commands take --group G; default: every group)\n"
    "  cluster start [--dir D] [--nodes N] [--port P] [--locusd PATH]\n"
    "                [--set K=V]...  (a property for every node)\n"
    "  cluster stop [--dir D]\n"
    "  bench failover [--help]      leader kill/partition/pause benchmark\n"
    "  bench push [--help]          change -> UDP subscriber latency\n"
    "  bench register [--help]      registrations/s on one node\n"
    "  bench query [--help]         instance/list queries/s on one node\n"
    "  bench memory [--help]        RSS of a node holding 100,000 instances\n"
    "  bench grpc register|push|idle|storm|puts [--help]\n"
    "                               the 2.x gRPC protocol under load\n"
    "  bench restart [--help]       follower restart behind a large state:\n"
    "                               catch-up time, longest event-loop block\n"
    "  bench distro [--help]        AP cluster: convergence, registrations/s,\n"
    "                               restart to UP (own 3-node cluster)\n"
    "  login [-q]                   log in: token, ttl, admin (-q: the token\n"
    "                               only, for LOCUS_TOKEN=$(locusctl ... -q))\n"
    "  auth init [--password P]     create the admin user nacos (once; the\n"
    "                               server generates a password if none)\n"
    "  user list|create|passwd|delete   users (see locusctl user --help)\n"
    "  role list|add|delete         roles (ROLE_ADMIN: global admin)\n"
    "  perm list|add|delete         a role's permissions on resources\n"
    "                               <ns>:<group>:naming/<service>, r/w/rw\n"
    "\n"
    "  --server host:port           default 127.0.0.1:8848\n"
    "  --json                       machine-readable output\n"
    "  --token T                    the token to send (env LOCUS_TOKEN)\n"
    "  --username U                 log in as U first (env LOCUS_USERNAME)\n"
    "  --password-file F            U's password: the first line of F ('-':\n"
    "                               stdin); or env LOCUS_PASSWORD, or asked\n"
    "                               on the terminal\n"
    "  --password P                 the same; visible to every user of the\n"
    "                               machine in ps: prefer the above\n";

static int fetch(struct ctl *c, const char *method, const char *path,
                 const char *ctype, const char *body, char **out)
{
    return ctl_fetch(c, method, path, ctype, body, out);
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "-";
}

static long long num(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static void fmt_ago(char *out, size_t size, long long ms_epoch)
{
    long long now = (long long)lc_now_ms();
    if (ms_epoch <= 0) {
        snprintf(out, size, "-");
    } else if (now - ms_epoch < 120000) {
        snprintf(out, size, "%llds ago", (now - ms_epoch) / 1000);
    } else {
        snprintf(out, size, "%lldm ago", (now - ms_epoch) / 60000);
    }
}

/* GET @path for a listing command. Return 1 when it failed (reported on
 * stderr); 0 with *root NULL when --json printed the body as it came; 0 with
 * the parsed body in *root (the caller's to free) for a table. */
static int get_listing(struct ctl *c, const char *path, json_t **root)
{
    char *body = NULL;
    int st = fetch(c, "GET", path, NULL, NULL, &body);

    *root = NULL;
    if (st != 200) {
        if (st > 0) {
            ctl_print_failure(path, st, body);
        }
        free(body);
        return 1;
    }
    if (c->json) {
        printf("%s\n", body);
    } else {
        *root = json_loads(body, 0, NULL);
    }
    free(body);
    if (!c->json && *root == NULL) {
        fprintf(stderr, "locusctl: %s: the answer is not JSON\n", path);
        return 1;
    }
    return 0;
}

static int cmd_groups(struct ctl *c)
{
    json_t *root;
    json_t *g;
    size_t i;

    if (get_listing(c, "/nacos/v1/core/raft/groups", &root) != 0) {
        return 1;
    }
    if (root == NULL) {
        return 0;
    }
    printf("node %s  %s\n\n", str(root, "node"),
           json_is_true(json_object_get(root, "ready")) ? "ready"
                                                        : "NOT READY");
    printf("%-30s %-9s %-21s %5s %8s %8s %8s %9s %9s %5s %8s\n", "GROUP",
           "STATE", "LEADER", "TERM", "COMMIT", "APPLIED", "LAST", "SNAP@",
           "SNAPSHOT", "ELECT", "LASTELEC");
    json_array_foreach(json_object_get(root, "groups"), i, g)
    {
        json_t *snap = json_object_get(g, "lastSnapshot");
        json_t *le = json_object_get(g, "lastElectionMs");
        char ago[32];
        char lastelec[32] = "-";
        fmt_ago(ago, sizeof ago, num(snap, "time"));
        if (json_is_integer(le)) {
            snprintf(lastelec, sizeof lastelec, "%lldms",
                     (long long)json_integer_value(le));
        }
        printf("%-30s %-9s %-21s %5lld %8lld %8lld %8lld %9lld %9s %5lld "
               "%8s\n",
               str(g, "group"), str(g, "state"), str(g, "leader"),
               num(g, "term"), num(g, "commitIndex"), num(g, "appliedIndex"),
               num(g, "lastLogIndex"), num(snap, "index"), ago,
               num(g, "elections"), lastelec);
    }
    printf("\n%-30s %-21s %-8s %-9s %-6s %10s %12s\n", "GROUP", "MEMBER",
           "ROLE", "STATE", "LINK", "MATCH", "LASTCONTACT");
    json_array_foreach(json_object_get(root, "groups"), i, g)
    {
        size_t j;
        json_t *m;
        json_array_foreach(json_object_get(g, "members"), j, m)
        {
            json_t *match = json_object_get(m, "matchIndex");
            json_t *contact = json_object_get(m, "lastContactMs");
            char smatch[24] = "-";
            char scontact[24] = "-";
            if (json_is_integer(match)) {
                snprintf(smatch, sizeof smatch, "%lld",
                         (long long)json_integer_value(match));
            }
            if (json_is_integer(contact)) {
                snprintf(scontact, sizeof scontact, "%lldms",
                         (long long)json_integer_value(contact));
            }
            printf("%-30s %-21s %-8s %-9s %-6s %10s %12s\n",
                   j == 0 ? str(g, "group") : "", str(m, "address"),
                   str(m, "role"), str(m, "state"),
                   json_is_true(json_object_get(m, "linkUp")) ? "up" : "down",
                   smatch, scontact);
        }
    }
    json_decref(root);
    return 0;
}

static int cmd_nodes(struct ctl *c)
{
    json_t *root;
    json_t *m;
    size_t i;

    if (get_listing(c, "/nacos/v1/core/cluster/nodes", &root) != 0) {
        return 1;
    }
    if (root == NULL) {
        return 0;
    }
    printf("%-22s %-6s %-9s %s\n", "ADDRESS", "STATE", "RAFTPORT", "VERSION");
    json_array_foreach(json_object_get(root, "data"), i, m)
    {
        json_t *ext = json_object_get(m, "extendInfo");
        printf("%-22s %-6s %-9s %s\n", str(m, "address"), str(m, "state"),
               str(ext, "raftPort"), str(ext, "version"));
    }
    json_decref(root);
    return 0;
}

static int cmp_conn(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a;
    json_t *y = *(json_t *const *)b;
    return strcmp(str(x, "connectionId"), str(y, "connectionId"));
}

/* The gRPC connections of the server (/nacos/v2/core/loader/current), one
 * row each: id, client IP, version, labels, age, what it holds in naming. */
static int cmd_connections(struct ctl *c)
{
    char *body = NULL;
    int st =
        fetch(c, "GET", "/nacos/v2/core/loader/current", NULL, NULL, &body);
    json_t *root, *conn, *rows;
    const char *id;
    long long now = (long long)lc_now_ms();
    size_t i, n = 0;
    json_t **sorted;

    if (st != 200) {
        if (st > 0) {
            ctl_print_failure("connections", st, body);
        }
        free(body);
        return 1;
    }
    root = json_loads(body, 0, NULL);
    free(body);
    if (!json_is_object(root)) {
        fprintf(stderr, "locusctl: connections: the answer is not JSON\n");
        json_decref(root);
        return 1;
    }
    rows = json_array();
    json_object_foreach(root, id, conn)
    {
        json_t *meta = json_object_get(conn, "metaInfo");
        json_t *locus = json_object_get(conn, "locus");
        json_t *row = json_object();
        long long created = num(meta, "createTime");
        json_object_set_new(row, "connectionId", json_string(id));
        json_object_set_new(row, "clientIp",
                            json_string(str(meta, "clientIp")));
        json_object_set_new(row, "version", json_string(str(meta, "version")));
        json_object_set(row, "labels", json_object_get(meta, "labels"));
        json_object_set_new(row, "ageMs",
                            json_integer(created > 0 ? now - created : 0));
        json_object_set_new(row, "instances",
                            json_integer(num(locus, "instances")));
        json_object_set_new(row, "subscriptions",
                            json_integer(num(locus, "subscriptions")));
        json_array_append_new(rows, row);
    }
    json_decref(root);
    n = json_array_size(rows);
    sorted = calloc(n + 1, sizeof *sorted);
    if (sorted == NULL) {
        json_decref(rows);
        return 1;
    }
    json_array_foreach(rows, i, conn)
    {
        sorted[i] = conn;
    }
    qsort(sorted, n, sizeof *sorted, cmp_conn);
    if (c->json) {
        json_t *out = json_array();
        char *text;
        for (i = 0; i < n; i++) {
            json_array_append(out, sorted[i]);
        }
        text = json_dumps(out, JSON_COMPACT);
        printf("%s\n", text != NULL ? text : "[]");
        free(text);
        json_decref(out);
    } else {
        printf("%-36s %-16s %-26s %-7s %-5s %-5s %s\n", "CONNECTION", "CLIENT",
               "VERSION", "AGE", "INST", "SUBS", "LABELS");
        for (i = 0; i < n; i++) {
            json_t *r = sorted[i];
            char *labels = json_dumps(json_object_get(r, "labels"),
                                      JSON_COMPACT | JSON_SORT_KEYS);
            long long age = num(r, "ageMs") / 1000;
            char agebuf[32];
            if (age < 120) {
                snprintf(agebuf, sizeof agebuf, "%llds", age);
            } else if (age < 7200) {
                snprintf(agebuf, sizeof agebuf, "%lldm", age / 60);
            } else {
                snprintf(agebuf, sizeof agebuf, "%lldh", age / 3600);
            }
            printf("%-36s %-16s %-26s %-7s %-5lld %-5lld %s\n",
                   str(r, "connectionId"), str(r, "clientIp"),
                   str(r, "version"), agebuf, num(r, "instances"),
                   num(r, "subscriptions"), labels != NULL ? labels : "{}");
            free(labels);
        }
    }
    free(sorted);
    json_decref(rows);
    return 0;
}

static int cmd_raft(struct ctl *c, int argc, char **argv)
{
    static const struct {
        const char *verb;
        const char *command;
        bool needs_value;
    } verbs[] = {
        {"transfer", "transferLeader", true},
        {"snapshot", "doSnapshot", false},
        {"remove-peer", "removePeer", true},
        {"remove-peers", "removePeers", true},
        {"change-peers", "changePeers", true},
        {"reset-peers", "resetPeers", true},
    };
    const char *group = NULL;
    const char *value = NULL;
    const char *command = NULL;
    bool needs_value = false;
    json_t *req;
    char *text;
    char *body = NULL;
    int st;

    if (argc < 1) {
        fputs(usage, stderr);
        return 2;
    }
    for (size_t i = 0; i < LC_ARRAY_SIZE(verbs); i++) {
        if (strcmp(argv[0], verbs[i].verb) == 0) {
            command = verbs[i].command;
            needs_value = verbs[i].needs_value;
        }
    }
    if (command == NULL) {
        fprintf(stderr, "locusctl: unknown raft command '%s'\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--group") == 0 && i + 1 < argc) {
            group = argv[++i];
        } else if (value == NULL) {
            value = argv[i];
        } else {
            fprintf(stderr, "locusctl: unexpected '%s'\n", argv[i]);
            return 2;
        }
    }
    if (needs_value && value == NULL) {
        fprintf(stderr, "locusctl: raft %s needs a peer list\n", argv[0]);
        return 2;
    }
    req = json_object();
    if (group != NULL) {
        json_object_set_new(req, "groupId", json_string(group));
    }
    json_object_set_new(req, "command", json_string(command));
    if (value != NULL) {
        json_object_set_new(req, "value", json_string(value));
    }
    text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    st = fetch(c, "POST", "/nacos/v1/core/ops/raft", "application/json", text,
               &body);
    free(text);
    if (st < 0) {
        return 1;
    }
    if (st != 200) {
        ctl_print_failure(command, st, body);
        free(body);
        return 1;
    }
    json_t *resp = json_loads(body != NULL ? body : "", 0, NULL);
    long long code = num(resp, "code");
    if (c->json) {
        printf("%s\n", body);
    } else if (code == 200) {
        printf("%s: ok\n", command);
    } else {
        printf("%s failed: %s\n", command,
               str(resp, "message"));
    }
    json_decref(resp);
    free(body);
    return code == 200 ? 0 : 1;
}

static int cmd_cluster(int argc, char **argv)
{
    struct lc_cluster_spec spec = {
        3, 8848, 10, "data/cluster", "build/locusd", NULL, true, NULL, NULL};
    struct lc_cluster c;
    const char *verb;
    char extra[1024] = "";

    if (argc < 1) {
        fputs(usage, stderr);
        return 2;
    }
    verb = argv[0];
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) {
            fprintf(stderr, "locusctl: %s needs a value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--dir") == 0) {
            spec.dir = argv[++i];
        } else if (strcmp(argv[i], "--nodes") == 0) {
            spec.n = (unsigned)atoi(argv[++i]);
        } else if (strcmp(argv[i], "--port") == 0) {
            spec.base_port = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--locusd") == 0) {
            spec.locusd = argv[++i];
        } else if (strcmp(argv[i], "--set") == 0) {
            /* A property line for every node, K=V (repeatable). */
            size_t l = strlen(extra);
            snprintf(extra + l, sizeof extra - l, "%s\n", argv[++i]);
            spec.extra = extra;
        } else {
            fprintf(stderr, "locusctl: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (strcmp(verb, "start") == 0) {
        if (lc_cluster_init(&c, &spec) != 0) {
            return 1;
        }
        if (lc_cluster_load_pids(&c) > 0) {
            fprintf(stderr, "locusctl: a cluster is already running in %s\n",
                    c.dir);
            lc_cluster_save_pids(&c);
            return 1;
        }
        if (lc_cluster_start(&c) != 0 || lc_cluster_save_pids(&c) != 0) {
            lc_cluster_stop(&c);
            return 1;
        }
        printf("starting %u nodes in %s ...\n", c.n, c.dir);
        if (lc_cluster_wait_all_ready(&c, 30000) != 0) {
            fprintf(stderr, "locusctl: cluster not ready after 30 s; see the "
                            "logs in %s\n", c.dir);
            return 1;
        }
        for (unsigned i = 0; i < c.n; i++) {
            printf("  node%u  http 127.0.0.1:%d  raft 127.0.0.1:%d  pid %d  "
                   "log %s\n",
                   i, c.nodes[i].port, c.nodes[i].port - 1000,
                   (int)c.nodes[i].pid, c.nodes[i].log);
        }
        printf("ready. Stop it with: make cluster-stop  (or: locusctl "
               "cluster stop --dir %s)\n",
               spec.dir);
        return 0;
    }
    if (strcmp(verb, "stop") == 0) {
        if (lc_cluster_attach(&c, spec.dir) != 0) {
            printf("no cluster in %s\n", spec.dir);
            return 0;
        }
        int n = lc_cluster_load_pids(&c);
        lc_cluster_stop(&c);
        printf("stopped %d node(s)\n", n);
        return 0;
    }
    fprintf(stderr, "locusctl: unknown cluster command '%s'\n", verb);
    return 2;
}

/* The settings, a static so that the password is wiped at exit. */
static struct ctl ctl = {.host = "127.0.0.1", .port = 8848};

static void wipe_at_exit(void)
{
    ctl_auth_done(&ctl);
}

int main(int argc, char **argv)
{
    struct ctl *cp = &ctl;
    const char *server = NULL; /* --server as given, for bench push */
    int i = 1;
    int taken;

    atexit(wipe_at_exit);
    signal(SIGPIPE, SIG_IGN);
    for (; i < argc && argv[i][0] == '-'; i++) {
        if ((taken = ctl_auth_option(cp, argc, argv, &i)) != 0) {
            if (taken < 0) {
                return 2;
            }
        } else if (strcmp(argv[i], "--json") == 0) {
            cp->json = true;
        } else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc) {
            server = argv[i + 1];
            if (lc_split_host_port(argv[++i], cp->host, sizeof cp->host,
                                   &cp->port) != 0) {
                fprintf(stderr, "locusctl: --server wants host:port\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--help") == 0 ||
                   strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else {
            fprintf(stderr, "locusctl: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (i >= argc) {
        fputs(usage, stderr);
        return 2;
    }
    if (ctl_auth_env(cp) != 0) {
        return 2;
    }
    if (strcmp(argv[i], "bench") != 0 && strcmp(argv[i], "cluster") != 0) {
        /* `locusctl user list --json` as well as `locusctl --json user
         * list`: the flag is taken wherever it stands. */
        int kept = i;
        for (int j = i; j < argc; j++) {
            if (strcmp(argv[j], "--json") == 0) {
                cp->json = true;
            } else {
                argv[kept++] = argv[j];
            }
        }
        argv[kept] = NULL;
        argc = kept;
    }
    if (strcmp(argv[i], "login") == 0) {
        return ctl_cmd_login(cp, argc - i, argv + i);
    }
    if (strcmp(argv[i], "auth") == 0) {
        return ctl_cmd_auth(cp, argc - i, argv + i);
    }
    if (strcmp(argv[i], "user") == 0) {
        return ctl_cmd_user(cp, argc - i, argv + i);
    }
    if (strcmp(argv[i], "role") == 0) {
        return ctl_cmd_role(cp, argc - i, argv + i);
    }
    if (strcmp(argv[i], "perm") == 0) {
        return ctl_cmd_perm(cp, argc - i, argv + i);
    }
    if (strcmp(argv[i], "groups") == 0) {
        return cmd_groups(cp);
    }
    if (strcmp(argv[i], "nodes") == 0) {
        return cmd_nodes(cp);
    }
    if (strcmp(argv[i], "connections") == 0) {
        return cmd_connections(cp);
    }
    if (strcmp(argv[i], "raft") == 0) {
        return cmd_raft(cp, argc - i - 1, argv + i + 1);
    }
    if (strcmp(argv[i], "cluster") == 0) {
        return cmd_cluster(argc - i - 1, argv + i + 1);
    }
    if (strcmp(argv[i], "bench") == 0 && i + 1 < argc &&
        strcmp(argv[i + 1], "failover") == 0) {
        return lc_bench_failover(argc - i - 2, argv + i + 2, cp->json);
    }
    if (strcmp(argv[i], "bench") == 0 && i + 1 < argc &&
        strcmp(argv[i + 1], "push") == 0) {
        return lc_bench_push(argc - i - 2, argv + i + 2, cp->json, server);
    }
    if (strcmp(argv[i], "bench") == 0 && i + 1 < argc &&
        strcmp(argv[i + 1], "grpc") == 0) {
        return lc_bench_grpc(argc - i - 2, argv + i + 2, cp->json);
    }
    if (strcmp(argv[i], "bench") == 0 && i + 1 < argc &&
        strcmp(argv[i + 1], "restart") == 0) {
        return lc_bench_restart(argc - i - 2, argv + i + 2, cp->json);
    }
    if (strcmp(argv[i], "bench") == 0 && i + 1 < argc &&
        strcmp(argv[i + 1], "distro") == 0) {
        return lc_bench_distro(argc - i - 2, argv + i + 2, cp->json);
    }
    if (strcmp(argv[i], "bench") == 0 && i + 1 < argc &&
        (strcmp(argv[i + 1], "register") == 0 ||
         strcmp(argv[i + 1], "query") == 0 ||
         strcmp(argv[i + 1], "memory") == 0)) {
        return lc_bench_naming(argv[i + 1], argc - i - 2, argv + i + 2,
                               cp->json);
    }
    fprintf(stderr, "locusctl: unknown command '%s' (see --help)\n", argv[i]);
    return 2;
}
