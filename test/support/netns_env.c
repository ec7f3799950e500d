#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "test/support/netns_env.h"
#include "test/support/tcluster.h"

int tn_setup(void **state, const char *prefix, unsigned net)
{
    char why[256];
    char err[512];
    struct tn_env *e = calloc(1, sizeof *e);
    *state = e;
    if (e == NULL) {
        return -1;
    }
    if (!lc_netns_available(why, sizeof why)) {
        return 0;
    }
    if (lc_netns_create(prefix, net, 3, &e->ns, err, sizeof err) != 0) {
        fprintf(stderr, "netns: %s\n", err);
        return -1;
    }
    return 0;
}

int tn_teardown(void **state)
{
    struct tn_env *e = *state;
    if (e->started) {
        lc_cluster_stop(&e->c);
    }
    lc_netns_destroy(e->ns);
    if (e->dir[0] != '\0' && getenv("LOCUS_TEST_KEEP") == NULL) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
        if (system(cmd) != 0) {
            fprintf(stderr, "cannot remove %s\n", e->dir);
        }
    }
    free(e);
    return 0;
}

void tn_skip_if_unavailable(const struct tn_env *e)
{
    char why[256];
    if (e->ns != NULL) {
        return;
    }
    lc_netns_available(why, sizeof why);
    print_message("SKIP: network namespaces unavailable: %s\n", why);
    skip();
}

void tn_start(struct tn_env *e, const char *tag, int port)
{
    struct lc_cluster_spec spec = {0};
    snprintf(e->dir, sizeof e->dir, "/tmp/locus-%s-XXXXXX", tag);
    assert_non_null(mkdtemp(e->dir));
    spec.n = 3;
    spec.base_port = port;
    spec.dir = e->dir;
    spec.locusd = tc_locusd();
    spec.netns = e->ns;
    assert_int_equal(lc_cluster_init(&e->c, &spec), 0);
    assert_int_equal(lc_cluster_start(&e->c), 0);
    e->started = true;
    assert_int_equal(lc_cluster_wait_all_ready(&e->c, 30000), 0);
}
