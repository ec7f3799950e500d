/* Tests of naming/health/ephemeral.c: the beat checker's thresholds on a simulated
 * clock (instance metadata overriding the defaults), beats restoring health,
 * the healthCheckEnabled switch, and the events each change publishes. */
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
#include "naming/ops/ephemeral.h"
#include "test/support/naming_env.h"

struct env {
    struct lc_naming n;
    struct lc_service_key key;
    unsigned changed; /* ServiceChangedEvents seen */
};

static void on_changed(const struct lc_event *ev, void *data)
{
    struct env *env = data;
    (void)ev;
    env->changed++;
}

static int setup(void **state)
{
    struct env *env = calloc(1, sizeof *env);
    assert_non_null(env);
    nenv_init(&env->n);
    assert_int_equal(lc_bus_subscribe(env->n.bus, LC_EV_SERVICE_CHANGED,
                                      on_changed, env),
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

/* Register ip:port with @meta; the beat time is @at. */
static void add(struct env *env, const char *ip, int port, const char *meta,
                uint64_t at)
{
    struct lc_err err;
    char id[256];
    char cid[64];
    struct lc_instance *inst;
    struct lc_publish *pub;
    lc_instance_id(id, sizeof id, ip, port, "DEFAULT", "DEFAULT_GROUP@@svc");
    inst = lc_instance_new(ip, port, "DEFAULT", 1.0, true, true, true, meta,
                           id);
    assert_non_null(inst);
    assert_int_equal(lc_ephemeral_register(&env->n, &env->key, inst, &err), 0);
    lc_instance_unref(inst);
    lc_ephemeral_client_id(cid, sizeof cid, ip, port);
    pub = lc_registry_find_publish(
        env->n.reg, cid, lc_registry_find_service(env->n.reg, &env->key));
    assert_non_null(pub);
    pub->beat_ms = at;
}

/* 1 healthy, 0 unhealthy, -1 gone. */
static int health(struct env *env, const char *ip, int port)
{
    char cid[64];
    struct lc_service *svc = lc_registry_find_service(env->n.reg, &env->key);
    struct lc_instance *inst;
    lc_ephemeral_client_id(cid, sizeof cid, ip, port);
    inst = svc != NULL ? lc_registry_instance_of(env->n.reg, cid, svc) : NULL;
    return inst == NULL ? -1 : inst->healthy;
}

/* Defaults: unhealthy after more than 15 s, gone after more than 30 s; each
 * change is one ServiceChangedEvent. */
static void test_default_limits(void **state)
{
    struct env *env = *state;
    add(env, "127.0.0.1", 1, NULL, 1000);
    env->changed = 0;
    lc_ephemeral_check(&env->n, 16000);
    assert_int_equal(health(env, "127.0.0.1", 1), 1);
    assert_int_equal(env->changed, 0);
    lc_ephemeral_check(&env->n, 16001);
    assert_int_equal(health(env, "127.0.0.1", 1), 0);
    assert_int_equal(env->changed, 1);
    lc_ephemeral_check(&env->n, 20000); /* already unhealthy: no event */
    assert_int_equal(env->changed, 1);
    lc_ephemeral_check(&env->n, 31000);
    assert_int_equal(health(env, "127.0.0.1", 1), 0);
    lc_ephemeral_check(&env->n, 31001);
    assert_int_equal(health(env, "127.0.0.1", 1), -1);
    assert_int_equal(env->changed, 2);
    assert_null(lc_registry_find_client(env->n.reg, "127.0.0.1:1#true"));
}

/* preserved.* metadata overrides the limits per instance; a non-numeric
 * value falls back to the default. */
static void test_metadata_limits(void **state)
{
    struct env *env = *state;
    add(env, "127.0.0.1", 1,
        "{\"preserved.heart.beat.timeout\":\"2000\","
        "\"preserved.ip.delete.timeout\":\"4000\"}",
        0);
    add(env, "127.0.0.2", 2, "{\"preserved.heart.beat.timeout\":\"soon\"}", 0);
    lc_ephemeral_check(&env->n, 2001);
    assert_int_equal(health(env, "127.0.0.1", 1), 0);
    assert_int_equal(health(env, "127.0.0.2", 2), 1);
    lc_ephemeral_check(&env->n, 4001);
    assert_int_equal(health(env, "127.0.0.1", 1), -1);
    lc_ephemeral_check(&env->n, 15001);
    assert_int_equal(health(env, "127.0.0.2", 2), 0);
}

/* A beat makes an unhealthy instance healthy (one event), and a beat for an
 * unknown address is LC_ENOTFOUND. */
static void test_beat_restores(void **state)
{
    struct env *env = *state;
    struct lc_service *svc;
    add(env, "127.0.0.1", 1, NULL, 0);
    lc_ephemeral_check(&env->n, 15001);
    assert_int_equal(health(env, "127.0.0.1", 1), 0);
    svc = lc_registry_find_service(env->n.reg, &env->key);
    env->changed = 0;
    assert_int_equal(lc_ephemeral_beat(&env->n, svc, "127.0.0.1", 1), 0);
    assert_int_equal(health(env, "127.0.0.1", 1), 1);
    assert_int_equal(env->changed, 1);
    assert_int_equal(lc_ephemeral_beat(&env->n, svc, "127.0.0.1", 1), 0);
    assert_int_equal(env->changed, 1); /* healthy already: nothing to push */
    assert_int_equal(lc_ephemeral_beat(&env->n, svc, "127.0.0.9", 1),
                     LC_ENOTFOUND);
}

/* With healthCheckEnabled off, nothing expires. */
static void test_switch_off(void **state)
{
    struct env *env = *state;
    add(env, "127.0.0.1", 1, NULL, 0);
    env->n.sw.health_check_enabled = false;
    lc_ephemeral_check(&env->n, 100000);
    assert_int_equal(health(env, "127.0.0.1", 1), 1);
    env->n.sw.health_check_enabled = true;
    lc_ephemeral_check(&env->n, 100000);
    assert_int_equal(health(env, "127.0.0.1", 1), -1);
}

/* An ephemeral registration into a persistent service is refused with
 * Nacos's message, and changes nothing. */
static void test_persistent_service_refused(void **state)
{
    struct env *env = *state;
    struct lc_err err;
    struct lc_instance *inst = lc_instance_new("127.0.0.1", 1, "DEFAULT", 1.0,
                                               true, true, true, NULL, "x");
    assert_non_null(lc_registry_service(env->n.reg, &env->key, false));
    assert_int_equal(lc_ephemeral_register(&env->n, &env->key, inst, &err),
                     LC_EINVAL);
    assert_int_equal(err.code, LC_EINVAL);
    assert_string_equal(err.msg, "errCode: 400, errMsg: Current service "
                             "DEFAULT_GROUP@@svc is persistent service, "
                             "can't register ephemeral instance. ");
    assert_int_equal(health(env, "127.0.0.1", 1), -1);
    lc_instance_unref(inst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_default_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_beat_restores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_switch_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persistent_service_refused, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
