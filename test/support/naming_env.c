/* A bare struct lc_naming for the naming/ops unit tests (see naming_env.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "test/support/naming_env.h"

void nenv_init(struct lc_naming *n)
{
    n->bus = lc_bus_new();
    n->reg = lc_registry_new(n->bus);
    assert_non_null(n->reg);
    lc_switches_default(&n->sw);
}

void nenv_fini(struct lc_naming *n)
{
    lc_registry_free(n->reg);
    lc_bus_free(n->bus);
    lc_kvstore_clear(&n->instance_meta);
}

void nenv_req(struct lc_instance_req *r, const char *service, const char *ip,
              int port)
{
    struct lc_err e;
    char grouped[512];
    memset(r, 0, sizeof *r);
    strcpy(r->ns, "public");
    snprintf(grouped, sizeof grouped, "DEFAULT_GROUP@@%s", service);
    assert_int_equal(lc_op_instance_names(r, grouped, &e), 0);
    strcpy(r->ip, ip);
    r->port = port;
    strcpy(r->cluster, "DEFAULT");
    r->weight = 1.0;
    r->healthy = true;
    r->enabled = true;
    r->ephemeral = true;
    r->metadata = NULL;
}
