/* The end of a run (suite.h): wait until the members agree, then hold
 * every member's consistent read and local read against the history.
 *
 * A view is the set of keys listed across the key space's services
 * (instance/list, with consistent=true for the consistent read: a read
 * barrier through Raft before answering), plus a count of listed instances
 * that are no key at all. Members have converged when every local view
 * and every consistent view is the same set. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/http/http.h"
#include "test/faults/suite.h"

struct view {
    bool present[1024];
    unsigned extra;
};

/* Node @i's view; 0, or -1 when a list could not be read. */
static int read_view(struct fs_suite *s, unsigned i, bool consistent,
                     struct view *v)
{
    memset(v, 0, sizeof *v);
    for (unsigned svc = 0; svc < FC_SERVICES && svc < s->n_keys; svc++) {
        char path[256];
        char *body = NULL;
        size_t len = 0;
        int status = 0;
        json_t *root;
        json_t *h;
        size_t k;
        snprintf(path, sizeof path,
                 "/nacos/v1/ns/instance/list?serviceName=faults%u%s", svc,
                 consistent ? "&consistent=true" : "");
        if (lc_http_fetch(s->c.nodes[i].host, s->c.nodes[i].port, "GET", path,
                          NULL, NULL, 0, 10000, &status, &body, &len) != 0) {
            return -1;
        }
        if (status != 200) {
            /* A service nobody ever registered into is not found. */
            bool none = body != NULL && strstr(body, "not found") != NULL;
            free(body);
            if (none) {
                continue;
            }
            return -1;
        }
        root = json_loads(body, 0, NULL);
        free(body);
        if (root == NULL) {
            return -1;
        }
        json_array_foreach(json_object_get(root, "hosts"), k, h)
        {
            const char *ip = json_string_value(json_object_get(h, "ip"));
            long long port = json_integer_value(json_object_get(h, "port"));
            long long key = port - FC_PORT0;
            if (ip != NULL && strcmp(ip, FC_IP) == 0 && key >= 0 &&
                key < (long long)s->n_keys && key % FC_SERVICES == svc) {
                v->present[key] = true;
            } else {
                v->extra++;
            }
        }
        json_decref(root);
    }
    return 0;
}

static bool same(const struct fs_suite *s, const struct view *a,
                 const struct view *b)
{
    return a->extra == b->extra &&
           memcmp(a->present, b->present, s->n_keys * sizeof(bool)) == 0;
}

static void print_view(const struct fs_suite *s, const char *what,
                       const struct view *v)
{
    unsigned n = 0;
    for (unsigned k = 0; k < s->n_keys; k++) {
        n += v->present[k];
    }
    printf("  %-22s %u of %u keys present, %u outside the key space\n", what,
           n, s->n_keys, v->extra);
}

/* Read all views; true when all were read and they agree. */
static bool read_all(struct fs_suite *s, struct view *local,
                     struct view *cons)
{
    bool ok = true;
    for (unsigned i = 0; i < s->c.n; i++) {
        if (read_view(s, i, false, &local[i]) != 0 ||
            read_view(s, i, true, &cons[i]) != 0) {
            return false;
        }
    }
    for (unsigned i = 0; i < s->c.n; i++) {
        ok = ok && same(s, &local[i], &local[0]) &&
             same(s, &cons[i], &local[0]);
    }
    return ok;
}

unsigned fs_verify(struct fs_suite *s, const struct fh_op *ops, size_t n,
                   unsigned *late)
{
    static struct view local[FS_NODES];
    static struct view cons[FS_NODES];
    uint64_t end = lc_mono_us() + 90u * 1000000u;
    bool converged = false;
    unsigned violations = 0;
    unsigned cons0 = 0; /* node 0's consistent read's violations */
    unsigned strict;
    char why[4096];

    if (fs_wait_healthy(s, 60000) != 0) {
        printf("  the cluster is not healthy after the run\n");
        violations++;
    }
    while (lc_mono_us() < end) {
        if (read_all(s, local, cons)) {
            converged = true;
            break;
        }
        fs_sleep_ms(500);
    }
    printf("members %s after %.1f s\n",
           converged ? "converged" : "did NOT converge",
           (double)(lc_mono_us() + 90u * 1000000u - end) / 1e6);
    if (!converged) {
        violations++;
        /* Check what could be read anyway. */
        read_all(s, local, cons);
    }
    for (unsigned i = 0; i < s->c.n; i++) {
        const struct view *views[2] = {&cons[i], &local[i]};
        const char *names[2] = {"consistent", "local"};
        for (unsigned w = 0; w < 2; w++) {
            char what[64];
            unsigned bad;
            why[0] = '\0';
            bad = fh_check(ops, n, views[w]->present, s->n_keys,
                           views[w]->extra, FH_UNBOUNDED, why, sizeof why);
            snprintf(what, sizeof what, "node %u %s read:", i, names[w]);
            print_view(s, what, views[w]);
            if (bad > 0) {
                printf("    %u VIOLATION(S):\n%s", bad, why);
            }
            if (i == 0 && w == 0) {
                cons0 = bad;
            }
            violations += bad;
        }
    }
    /* Informational: unknown writes that must have landed more than 10 s
     * after their client gave up (Raft allows it; a deadline on forwarded
     * writes should prevent it). */
    why[0] = '\0';
    strict = fh_check(ops, n, cons[0].present, s->n_keys, cons[0].extra,
                      10u * 1000000u, why, sizeof why);
    *late = strict > cons0 ? strict - cons0 : 0;
    if (*late > 0) {
        printf("  late unknown writes:\n%s", why);
    }
    return violations;
}
