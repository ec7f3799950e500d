/* Tests of naming/core/registry.c: clients, publishes and the service index kept
 * current through the event bus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "naming/core/registry.h"

struct env {
    struct lc_bus *bus;
    struct lc_registry *reg;
    struct lc_service *svc;  /* public / DEFAULT_GROUP / svc */
    struct lc_service *svc2; /* public / g2 / other */
    char log[2048];
    /* publishers of the changed service, seen from a ServiceChanged
     * subscriber: the index must be updated before it fires */
    unsigned publishers_seen;
};

static void on_any(const struct lc_event *ev, void *data)
{
    struct env *env = data;
    char line[256];
    static const char *names[] = {"register", "deregister", "changed",
                                  "disconnect"};
    snprintf(line, sizeof line, "%s %s/%s/%s %s|", names[ev->type],
             ev->ns != NULL ? ev->ns : "-", ev->group != NULL ? ev->group : "-",
             ev->service != NULL ? ev->service : "-",
             ev->client_id != NULL ? ev->client_id : "-");
    strncat(env->log, line, sizeof env->log - strlen(env->log) - 1);
}

static void on_changed(const struct lc_event *ev, void *data)
{
    struct env *env = data;
    struct lc_service_key key = {ev->ns, ev->group, ev->service};
    struct lc_service *svc = lc_registry_find_service(env->reg, &key);
    assert_non_null(svc);
    env->publishers_seen = svc->n_publishers;
}

static int setup(void **state)
{
    struct env *env = calloc(1, sizeof *env);
    struct lc_service_key k1 = {"public", "DEFAULT_GROUP", "svc"};
    struct lc_service_key k2 = {"public", "g2", "other"};
    env->bus = lc_bus_new();
    assert_non_null(env->bus);
    /* The registry subscribes first, so its index handlers run before the
     * test's subscribers. */
    env->reg = lc_registry_new(env->bus);
    assert_non_null(env->reg);
    for (int t = 0; t < LC_EV__COUNT; t++) {
        assert_int_equal(
            lc_bus_subscribe(env->bus, (enum lc_event_type)t, on_any, env), 0);
    }
    assert_int_equal(
        lc_bus_subscribe(env->bus, LC_EV_SERVICE_CHANGED, on_changed, env), 0);
    env->svc = lc_registry_service(env->reg, &k1, true);
    env->svc2 = lc_registry_service(env->reg, &k2, true);
    assert_non_null(env->svc);
    assert_non_null(env->svc2);
    *state = env;
    return 0;
}

static int teardown(void **state)
{
    struct env *env = *state;
    lc_registry_free(env->reg);
    lc_bus_free(env->bus);
    free(env);
    return 0;
}

static struct lc_instance *inst_new(const char *ip, int port, double weight)
{
    struct lc_instance *inst = lc_instance_new(ip, port, "DEFAULT", weight,
                                               true, true, true, NULL, "id");
    assert_non_null(inst);
    return inst;
}

static void test_services(void **state)
{
    struct env *env = *state;
    struct lc_service_key k1 = {"public", "DEFAULT_GROUP", "svc"};
    struct lc_service_key k3 = {"dev", "DEFAULT_GROUP", "svc"};
    struct lc_service *s;

    assert_string_equal(env->svc->ns, "public");
    assert_string_equal(env->svc->group, "DEFAULT_GROUP");
    assert_string_equal(env->svc->name, "svc");
    assert_string_equal(env->svc->grouped, "DEFAULT_GROUP@@svc");
    assert_string_equal(env->svc->key, "public\x1f"
                                       "DEFAULT_GROUP\x1fsvc");
    assert_true(env->svc->ephemeral);
    assert_int_equal(env->svc->n_publishers, 0);
    assert_int_equal(env->svc->revision, 0);

    /* Same key: the same service, whatever ephemeral says. */
    assert_ptr_equal(lc_registry_service(env->reg, &k1, false), env->svc);
    assert_true(env->svc->ephemeral);
    assert_ptr_equal(lc_registry_find_service(env->reg, &k1), env->svc);
    /* Another namespace is another service. */
    assert_null(lc_registry_find_service(env->reg, &k3));
    s = lc_registry_service(env->reg, &k3, false);
    assert_non_null(s);
    assert_ptr_not_equal(s, env->svc);
    assert_false(s->ephemeral);
    assert_ptr_equal(lc_registry_find_service(env->reg, &k3), s);
    /* Creating services publishes nothing. */
    assert_string_equal(env->log, "");
}

static void test_publish_updates_index(void **state)
{
    struct env *env = *state;
    struct lc_instance *inst = inst_new("1.1.1.1", 80, 1);
    struct lc_client *c;

    assert_int_equal(
        lc_registry_publish(env->reg, "1.1.1.1:80#true", LC_CLIENT_EPHEMERAL, env->svc, inst),
        0);
    assert_string_equal(env->log,
                        "register public/DEFAULT_GROUP/svc 1.1.1.1:80#true|"
                        "changed public/DEFAULT_GROUP/svc -|");
    assert_int_equal(env->publishers_seen, 1);
    assert_int_equal(env->svc->n_publishers, 1);
    assert_int_equal(env->svc->revision, 1);
    assert_int_equal(env->reg->n_instances, 1);
    assert_int_equal(inst->refs, 2); /* ours and the registry's */
    c = lc_registry_find_client(env->reg, "1.1.1.1:80#true");
    assert_non_null(c);
    assert_string_equal(c->id, "1.1.1.1:80#true");
    assert_true(c->ephemeral);
    assert_ptr_equal(
        lc_registry_instance_of(env->reg, "1.1.1.1:80#true", env->svc), inst);
    assert_null(
        lc_registry_instance_of(env->reg, "1.1.1.1:80#true", env->svc2));
    assert_null(lc_registry_instance_of(env->reg, "nobody", env->svc));
    assert_int_equal(lc_bus_count(env->bus, LC_EV_CLIENT_REGISTER_SERVICE), 1);
    assert_int_equal(lc_bus_count(env->bus, LC_EV_SERVICE_CHANGED), 1);
    assert_int_equal(env->svc2->revision, 0);
    lc_instance_unref(inst);
}

static void collect(struct lc_instance *inst, void *data)
{
    char *out = data;
    char line[64];
    snprintf(line, sizeof line, "%s:%d;", inst->ip, inst->port);
    strcat(out, line);
}

static void test_republish_replaces(void **state)
{
    struct env *env = *state;
    struct lc_instance *a = inst_new("1.1.1.1", 80, 1);
    struct lc_instance *b = inst_new("1.1.1.1", 80, 5);
    char seen[256] = "";

    assert_int_equal(
        lc_registry_publish(env->reg, "1.1.1.1:80#true", LC_CLIENT_EPHEMERAL, env->svc, a), 0);
    assert_int_equal(a->refs, 2);
    assert_int_equal(
        lc_registry_publish(env->reg, "1.1.1.1:80#true", LC_CLIENT_EPHEMERAL, env->svc, b), 0);
    assert_int_equal(a->refs, 1); /* the registry let go of the old one */
    assert_int_equal(b->refs, 2);
    assert_ptr_equal(
        lc_registry_instance_of(env->reg, "1.1.1.1:80#true", env->svc), b);
    assert_int_equal(env->reg->n_instances, 1);
    assert_int_equal(env->svc->n_publishers, 1);
    /* Each publish is a register event and a change. */
    assert_int_equal(lc_bus_count(env->bus, LC_EV_CLIENT_REGISTER_SERVICE), 2);
    assert_int_equal(lc_bus_count(env->bus, LC_EV_SERVICE_CHANGED), 2);
    assert_int_equal(env->svc->revision, 2);
    lc_registry_each_instance(env->reg, env->svc, collect, seen);
    assert_string_equal(seen, "1.1.1.1:80;");

    /* Publishing the very instance it already holds keeps one ref. */
    assert_int_equal(
        lc_registry_publish(env->reg, "1.1.1.1:80#true", LC_CLIENT_EPHEMERAL, env->svc, b), 0);
    assert_int_equal(b->refs, 2);
    lc_instance_unref(a);
    lc_instance_unref(b);
}

static void test_two_clients(void **state)
{
    struct env *env = *state;
    struct lc_instance *a = inst_new("1.1.1.1", 80, 1);
    struct lc_instance *b = inst_new("2.2.2.2", 81, 1);
    char seen[256] = "";

    assert_int_equal(
        lc_registry_publish(env->reg, "1.1.1.1:80#true", LC_CLIENT_EPHEMERAL, env->svc, a), 0);
    assert_int_equal(
        lc_registry_publish(env->reg, "2.2.2.2:81#true", LC_CLIENT_EPHEMERAL, env->svc, b), 0);
    assert_int_equal(env->svc->n_publishers, 2);
    assert_int_equal(env->publishers_seen, 2);
    assert_int_equal(env->reg->n_instances, 2);
    lc_registry_each_instance(env->reg, env->svc, collect, seen);
    assert_true(strcmp(seen, "1.1.1.1:80;2.2.2.2:81;") == 0 ||
                strcmp(seen, "2.2.2.2:81;1.1.1.1:80;") == 0);

    env->log[0] = '\0';
    lc_registry_unpublish(env->reg, "1.1.1.1:80#true", env->svc);
    assert_string_equal(env->log,
                        "deregister public/DEFAULT_GROUP/svc 1.1.1.1:80#true|"
                        "changed public/DEFAULT_GROUP/svc -|"
                        "disconnect -/-/- 1.1.1.1:80#true|");
    assert_int_equal(env->publishers_seen, 1);
    assert_int_equal(env->svc->n_publishers, 1);
    assert_int_equal(env->reg->n_instances, 1);
    assert_int_equal(a->refs, 1);
    seen[0] = '\0';
    lc_registry_each_instance(env->reg, env->svc, collect, seen);
    assert_string_equal(seen, "2.2.2.2:81;");
    lc_instance_unref(a);
    lc_instance_unref(b);
}

static void test_client_kept_while_publishing(void **state)
{
    struct env *env = *state;
    struct lc_instance *a = inst_new("1.1.1.1", 80, 1);
    const char *id = "1.1.1.1:80#false";

    assert_int_equal(lc_registry_publish(env->reg, id, LC_CLIENT_PERSISTENT, env->svc, a), 0);
    assert_int_equal(lc_registry_publish(env->reg, id, LC_CLIENT_PERSISTENT, env->svc2, a), 0);
    assert_int_equal(a->refs, 3);
    assert_int_equal(env->reg->n_instances, 2);
    assert_false(lc_registry_find_client(env->reg, id)->ephemeral);

    env->log[0] = '\0';
    lc_registry_unpublish(env->reg, id, env->svc);
    /* Still publishing svc2: no disconnect, client kept. */
    assert_string_equal(env->log,
                        "deregister public/DEFAULT_GROUP/svc 1.1.1.1:80#false|"
                        "changed public/DEFAULT_GROUP/svc -|");
    assert_non_null(lc_registry_find_client(env->reg, id));
    assert_int_equal(env->svc->n_publishers, 0);
    assert_int_equal(env->svc2->n_publishers, 1);
    assert_int_equal(a->refs, 2);

    env->log[0] = '\0';
    lc_registry_unpublish(env->reg, id, env->svc2);
    assert_string_equal(env->log, "deregister public/g2/other 1.1.1.1:80#false|"
                                  "changed public/g2/other -|"
                                  "disconnect -/-/- 1.1.1.1:80#false|");
    assert_null(lc_registry_find_client(env->reg, id));
    assert_int_equal(env->reg->n_instances, 0);
    assert_int_equal(a->refs, 1);
    assert_int_equal(lc_bus_count(env->bus, LC_EV_CLIENT_DISCONNECT), 1);
    assert_int_equal(lc_bus_count(env->bus, LC_EV_CLIENT_DEREGISTER_SERVICE),
                     2);
    assert_int_equal(lc_bus_count(env->bus, LC_EV_SERVICE_CHANGED), 4);
    lc_instance_unref(a);
}

static void test_unpublish_nothing(void **state)
{
    struct env *env = *state;
    struct lc_instance *a = inst_new("1.1.1.1", 80, 1);

    lc_registry_unpublish(env->reg, "nobody", env->svc);
    assert_int_equal(
        lc_registry_publish(env->reg, "1.1.1.1:80#true", LC_CLIENT_EPHEMERAL, env->svc, a), 0);
    env->log[0] = '\0';
    /* A known client, a service it does not publish. */
    lc_registry_unpublish(env->reg, "1.1.1.1:80#true", env->svc2);
    assert_string_equal(env->log, "");
    assert_non_null(lc_registry_find_client(env->reg, "1.1.1.1:80#true"));
    assert_int_equal(env->svc->revision, 1);
    assert_int_equal(env->svc2->revision, 0);
    assert_int_equal(lc_bus_count(env->bus, LC_EV_CLIENT_DEREGISTER_SERVICE),
                     0);
    lc_instance_unref(a);
}

/* The client id passed in may be the registry's own copy (c->id), which is
 * freed when the client goes: the disconnect event must still carry it. */
static void test_unpublish_with_own_id(void **state)
{
    struct env *env = *state;
    struct lc_instance *a = inst_new("1.1.1.1", 80, 1);
    struct lc_client *c;

    assert_int_equal(
        lc_registry_publish(env->reg, "conn-42", LC_CLIENT_CONNECTION, env->svc, a), 0);
    c = lc_registry_find_client(env->reg, "conn-42");
    env->log[0] = '\0';
    lc_registry_unpublish(env->reg, c->id, env->svc);
    assert_string_equal(env->log, "deregister public/DEFAULT_GROUP/svc conn-42|"
                                  "changed public/DEFAULT_GROUP/svc -|"
                                  "disconnect -/-/- conn-42|");
    assert_null(lc_registry_find_client(env->reg, "conn-42"));
    lc_instance_unref(a);
}

/* Freeing a registry that still holds publishes drops its references. */
static void test_free_drops_refs(void **state)
{
    struct env *env = *state;
    struct lc_instance *a = inst_new("1.1.1.1", 80, 1);
    assert_int_equal(lc_registry_publish(env->reg, "x", LC_CLIENT_EPHEMERAL, env->svc, a), 0);
    assert_int_equal(lc_registry_publish(env->reg, "y", LC_CLIENT_EPHEMERAL, env->svc2, a), 0);
    assert_int_equal(a->refs, 3);
    lc_registry_free(env->reg);
    env->reg = NULL;
    assert_int_equal(a->refs, 1);
    lc_instance_unref(a);
    lc_registry_free(NULL);
}

/* Every persistent publish has exactly one row, pointing back at it. */
static void check_rows(struct lc_registry *reg)
{
    size_t n = 0;
    struct lc_client *c, *ctmp;
    HASH_ITER(hh, reg->clients, c, ctmp)
    {
        struct lc_publish *pub, *ptmp;
        if (c->ephemeral) {
            continue;
        }
        HASH_ITER(hh, c->publishes, pub, ptmp)
        {
            assert_true(pub->row < reg->n_rows);
            assert_ptr_equal(reg->rows[pub->row].client_id, c->id);
            assert_ptr_equal(reg->rows[pub->row].service, pub->service);
            assert_ptr_equal(reg->rows[pub->row].inst, pub->inst);
            n++;
        }
    }
    assert_int_equal(n, reg->n_rows);
}

static void test_rows_stay_dense(void **state)
{
    struct env *env = *state;
    char id[64];
    for (int i = 0; i < 50; i++) {
        struct lc_instance *inst = lc_instance_new(
            "10.0.0.1", 1000 + i, "DEFAULT", 1, true, true, false, NULL, "x");
        snprintf(id, sizeof id, "10.0.0.1:%d#false", 1000 + i);
        assert_int_equal(lc_registry_publish(env->reg, id, LC_CLIENT_PERSISTENT,
                                             i % 2 ? env->svc : env->svc2,
                                             inst),
                         0);
        lc_instance_unref(inst);
    }
    check_rows(env->reg);
    for (int i = 0; i < 50; i += 3) {
        snprintf(id, sizeof id, "10.0.0.1:%d#false", 1000 + i);
        lc_registry_unpublish(env->reg, id, i % 2 ? env->svc : env->svc2);
        check_rows(env->reg);
    }
    assert_int_equal(env->reg->n_rows, 50 - 17);
}

/* A frozen copy of the rows stays readable while pinned, whatever happens
 * to the registry meanwhile (ASan would report a use after free). */
static void test_pinned_rows_survive(void **state)
{
    struct env *env = *state;
    struct lc_instance *a = lc_instance_new("1.1.1.1", 1, "DEFAULT", 1, true,
                                            true, false, "{\"k\":\"v\"}", "a");
    struct lc_instance *b = lc_instance_new("1.1.1.2", 2, "DEFAULT", 2, true,
                                            true, false, NULL, "b");
    struct lc_row *copy;
    size_t n;

    assert_int_equal(lc_registry_publish(env->reg, "1.1.1.1:1#false", LC_CLIENT_PERSISTENT,
                                         env->svc, a),
                     0);
    lc_instance_unref(a);
    n = env->reg->n_rows;
    copy = malloc(n * sizeof *copy);
    memcpy(copy, env->reg->rows, n * sizeof *copy);
    lc_model_pin();
    /* Replace the instance, then withdraw it: client and instance go. */
    assert_int_equal(lc_registry_publish(env->reg, "1.1.1.1:1#false", LC_CLIENT_PERSISTENT,
                                         env->svc, b),
                     0);
    lc_instance_unref(b);
    lc_registry_unpublish(env->reg, "1.1.1.1:1#false", env->svc);
    assert_null(lc_registry_find_client(env->reg, "1.1.1.1:1#false"));
    assert_string_equal(copy[0].client_id, "1.1.1.1:1#false");
    assert_string_equal(copy[0].inst->ip, "1.1.1.1");
    assert_string_equal(copy[0].inst->metadata_text, "{\"k\":\"v\"}");
    lc_model_unpin();
    free(copy);
    check_rows(env->reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_services, setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish_updates_index, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_republish_replaces, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_two_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_kept_while_publishing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_unpublish_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unpublish_with_own_id, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_free_drops_refs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rows_stay_dense, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pinned_rows_survive, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
