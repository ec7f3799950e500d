/* Tests of naming/ops/conn.c: the ephemeral instances of gRPC connection
 * clients, with Nacos 2.x's semantics (one publish per service and client,
 * register replaces, deregister whatever ip:port, batch replaces the set),
 * the refusals that change nothing, removal of a closed connection through
 * the bus, and the beat checker leaving connection instances alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "naming/internal.h"
#include "naming/ops/ops.h"
#include "test/support/naming_env.h"

#define CONN "1700000000000_127.0.0.1_50000"
#define CONN2 "1700000000001_127.0.0.1_50001"

struct env {
    struct lc_naming n;
    struct lc_service_key key;
    unsigned changed;    /* ServiceChangedEvents seen */
    unsigned deregister; /* ClientDeregisterServiceEvents seen */
};

static void on_changed(const struct lc_event *ev, void *data)
{
    struct env *env = data;
    (void)ev;
    env->changed++;
}

static void on_deregister(const struct lc_event *ev, void *data)
{
    struct env *env = data;
    (void)ev;
    env->deregister++;
}

static int setup(void **state)
{
    struct env *env = calloc(1, sizeof *env);
    assert_non_null(env);
    nenv_init(&env->n);
    assert_int_equal(
        lc_bus_subscribe(env->n.bus, LC_EV_SERVICE_CHANGED, on_changed, env),
        0);
    assert_int_equal(lc_bus_subscribe(env->n.bus,
                                      LC_EV_CLIENT_DEREGISTER_SERVICE,
                                      on_deregister, env),
                     0);
    env->key = (struct lc_service_key){"public", "DEFAULT_GROUP", "svc"};
    *state = env;
    return 0;
}

static int teardown(void **state)
{
    struct env *env = *state;
    nenv_fini(&env->n);
    free(env);
    return 0;
}

static void req(struct lc_instance_req *r, const char *service, const char *ip,
                int port)
{
    nenv_req(r, service, ip, port);
    lc_instance_id(r->instance_id, sizeof r->instance_id, ip, port, "DEFAULT",
                   r->grouped);
}

struct seen {
    char addrs[16][64];
    unsigned n;
};

static void collect(struct lc_instance *inst, void *data)
{
    struct seen *s = data;
    assert_true(s->n < 16);
    snprintf(s->addrs[s->n++], 64, "%s:%d", inst->ip, inst->port);
}

static int cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The service's instances as "ip:port,ip:port" sorted ("-" when the service
 * does not exist). */
static const char *instances(struct env *env, const char *service)
{
    static char out[1024];
    struct lc_service_key key = {"public", "DEFAULT_GROUP", service};
    struct lc_service *svc = lc_registry_find_service(env->n.reg, &key);
    struct seen s = {.n = 0};
    if (svc == NULL) {
        return "-";
    }
    lc_registry_each_instance(env->n.reg, svc, collect, &s);
    qsort(s.addrs, s.n, sizeof s.addrs[0], cmp);
    out[0] = '\0';
    for (unsigned i = 0; i < s.n; i++) {
        if (i > 0) {
            strcat(out, ",");
        }
        strcat(out, s.addrs[i]);
    }
    return out;
}

static void test_register_replaces(void **state)
{
    struct env *env = *state;
    struct lc_instance_req r;
    struct lc_err e;
    struct lc_client *c;

    req(&r, "svc", "127.0.0.1", 8080);
    assert_int_equal(lc_op_conn_register(&env->n, CONN, &r, &e), 0);
    assert_string_equal(instances(env, "svc"), "127.0.0.1:8080");
    c = lc_registry_find_client(env->n.reg, CONN);
    assert_non_null(c);
    assert_int_equal(c->kind, LC_CLIENT_CONNECTION);
    /* a second ip:port over the same connection replaces the first */
    req(&r, "svc", "127.0.0.2", 9090);
    assert_int_equal(lc_op_conn_register(&env->n, CONN, &r, &e), 0);
    assert_string_equal(instances(env, "svc"), "127.0.0.2:9090");
    /* another connection adds its own */
    req(&r, "svc", "127.0.0.2", 9090);
    assert_int_equal(lc_op_conn_register(&env->n, CONN2, &r, &e), 0);
    assert_string_equal(instances(env, "svc"), "127.0.0.2:9090,127.0.0.2:9090");
    assert_int_equal(lc_op_conn_instances(&env->n, CONN), 1);
    assert_int_equal(env->n.reg->n_instances, 2);
}

static void test_deregister_any_address(void **state)
{
    struct env *env = *state;
    struct lc_instance_req r;
    struct lc_err e;
    struct lc_service_key other = {"public", "DEFAULT_GROUP", "nope"};

    req(&r, "svc", "127.0.0.1", 8080);
    assert_int_equal(lc_op_conn_register(&env->n, CONN, &r, &e), 0);
    assert_int_equal(lc_op_conn_register(&env->n, CONN2, &r, &e), 0);
    /* whatever ip:port is named: the connection's publish goes */
    lc_op_conn_deregister(&env->n, CONN, &env->key);
    assert_string_equal(instances(env, "svc"), "127.0.0.1:8080");
    assert_null(lc_registry_find_client(env->n.reg, CONN));
    assert_non_null(lc_registry_find_client(env->n.reg, CONN2));
    /* no service, nothing published: no-ops */
    env->changed = 0;
    lc_op_conn_deregister(&env->n, CONN, &other);
    lc_op_conn_deregister(&env->n, CONN, &env->key);
    assert_int_equal(env->changed, 0);
    assert_string_equal(instances(env, "nope"), "-");
}

static void test_persistent_service_refused(void **state)
{
    struct env *env = *state;
    struct lc_instance_req r;
    struct lc_instance_req batch[2];
    struct lc_err e;
    struct lc_service_key key = {"public", "DEFAULT_GROUP", "pers"};

    assert_non_null(lc_registry_service(env->n.reg, &key, false));
    req(&r, "pers", "127.0.0.1", 8080);
    assert_int_equal(lc_op_conn_register(&env->n, CONN, &r, &e), LC_EINVAL);
    assert_string_equal(e.msg,
                        "errCode: 400, errMsg: Current service "
                        "DEFAULT_GROUP@@pers is persistent service, can't "
                        "register ephemeral instance. ");
    req(&batch[0], "pers", "127.0.0.1", 8080);
    req(&batch[1], "pers", "127.0.0.1", 8081);
    assert_int_equal(lc_op_conn_batch_register(&env->n, CONN, batch, 2, &e),
                     LC_EINVAL);
    assert_string_equal(e.msg,
                        "errCode: 400, errMsg: Current service "
                        "DEFAULT_GROUP@@pers is persistent service, can't "
                        "batch register ephemeral instance. ");
    assert_null(lc_registry_find_client(env->n.reg, CONN));
    assert_int_equal(env->n.reg->n_instances, 0);
    assert_int_equal(lc_op_conn_instances(&env->n, CONN), 0);
}

static void test_batch(void **state)
{
    struct env *env = *state;
    struct lc_instance_req b[3];
    struct lc_instance_req r;
    struct lc_err e;

    req(&b[0], "svc", "127.0.0.1", 1);
    req(&b[1], "svc", "127.0.0.1", 2);
    req(&b[2], "svc", "127.0.0.1", 3);
    assert_int_equal(lc_op_conn_batch_register(&env->n, CONN, b, 3, &e), 0);
    assert_string_equal(instances(env, "svc"),
                        "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3");
    assert_int_equal(lc_op_conn_instances(&env->n, CONN), 3);
    /* a smaller batch replaces the set (batchDeregister's retained list) */
    req(&b[0], "svc", "127.0.0.1", 3);
    assert_int_equal(lc_op_conn_batch_register(&env->n, CONN, b, 1, &e), 0);
    assert_string_equal(instances(env, "svc"), "127.0.0.1:3");
    assert_int_equal(lc_op_conn_instances(&env->n, CONN), 1);
    /* a batch again, then one register replaces it all */
    req(&b[0], "svc", "127.0.0.1", 1);
    assert_int_equal(lc_op_conn_batch_register(&env->n, CONN, b, 3, &e), 0);
    req(&r, "svc", "127.0.0.9", 9);
    assert_int_equal(lc_op_conn_register(&env->n, CONN, &r, &e), 0);
    assert_string_equal(instances(env, "svc"), "127.0.0.9:9");
    /* and a deregister takes the whole batch */
    assert_int_equal(lc_op_conn_batch_register(&env->n, CONN, b, 3, &e), 0);
    lc_op_conn_deregister(&env->n, CONN, &env->key);
    assert_string_equal(instances(env, "svc"), "");
    assert_int_equal(env->n.reg->n_instances, 0);
    assert_int_equal(HASH_COUNT(env->n.reg->clients), 0);
}

static void test_batch_refused(void **state)
{
    struct env *env = *state;
    struct lc_instance_req b[2];
    struct lc_err e;

    req(&b[0], "svc", "127.0.0.1", 1);
    assert_int_equal(lc_op_conn_batch_register(&env->n, CONN, b, 1, &e), 0);
    env->changed = 0;
    /* empty: Nacos's instances.get(0) */
    assert_int_equal(lc_op_conn_batch_register(&env->n, CONN, b, 0, &e),
                     LC_ESERVER);
    assert_string_equal(e.msg, "Index 0 out of bounds for length 0");
    /* a persistent instance in the batch */
    req(&b[0], "svc", "127.0.0.1", 5);
    req(&b[1], "svc", "127.0.0.1", 6);
    b[1].ephemeral = false;
    assert_int_equal(lc_op_conn_batch_register(&env->n, CONN, b, 2, &e),
                     LC_EINVAL);
    assert_non_null(strstr(e.msg, "Batch registration does not allow "
                                  "persistent instance registration"));
    assert_int_equal(env->changed, 0);
    assert_string_equal(instances(env, "svc"), "127.0.0.1:1");
}

static void test_remove(void **state)
{
    struct env *env = *state;
    struct lc_instance_req b[3];
    struct lc_instance_req r;
    struct lc_err e;

    req(&b[0], "a", "127.0.0.1", 1);
    req(&b[1], "a", "127.0.0.1", 2);
    req(&b[2], "a", "127.0.0.1", 3);
    assert_int_equal(lc_op_conn_batch_register(&env->n, CONN, b, 3, &e), 0);
    req(&b[0], "b", "127.0.0.1", 1);
    req(&b[1], "b", "127.0.0.1", 2);
    assert_int_equal(lc_op_conn_batch_register(&env->n, CONN, b, 2, &e), 0);
    req(&r, "c", "127.0.0.1", 1);
    assert_int_equal(lc_op_conn_register(&env->n, CONN, &r, &e), 0);
    assert_int_equal(lc_op_conn_register(&env->n, CONN2, &r, &e), 0);
    assert_int_equal(lc_op_conn_instances(&env->n, CONN), 6);

    env->changed = 0;
    env->deregister = 0;
    assert_int_equal(lc_op_conn_remove(&env->n, CONN), 6);
    assert_int_equal(env->deregister, 6);
    assert_true(env->changed >= 3); /* each service changed: pushes */
    assert_string_equal(instances(env, "a"), "");
    assert_string_equal(instances(env, "b"), "");
    assert_string_equal(instances(env, "c"), "127.0.0.1:1");
    assert_int_equal(lc_op_conn_instances(&env->n, CONN), 0);
    assert_int_equal(HASH_COUNT(env->n.reg->clients), 1);
    assert_int_equal(lc_op_conn_remove(&env->n, CONN), 0);
}

/* No beat keeps a connection's instance: the beat checker must not expire
 * it, whatever the time. */
static void test_beat_checker_skips(void **state)
{
    struct env *env = *state;
    struct lc_instance_req r;
    struct lc_err e;

    req(&r, "svc", "127.0.0.1", 8080);
    assert_int_equal(lc_op_conn_register(&env->n, CONN, &r, &e), 0);
    lc_ephemeral_check(&env->n, 10 * 60 * 1000);
    assert_string_equal(instances(env, "svc"), "127.0.0.1:8080");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_register_replaces, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deregister_any_address, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_persistent_service_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_beat_checker_skips, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
