/* Tests of naming/ops/sync.c, the naming side of Distro: a member's
 * clients as ClientSyncData applied on another member give the same
 * instances and revisions; a changed client replaces its copy; DELETE,
 * VERIFY and the expiry of synced clients; a member's own connections are
 * left alone; bad ClientSyncData is refused and changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "naming/internal.h"
#include "naming/ops/ops.h"
#include "naming/ops/sync.h"
#include "test/support/naming_env.h"

#define CONN "1700000000000_127.0.0.1_50000"

struct node {
    struct lc_naming n;
    unsigned changed; /* ServiceChangedEvents */
};

struct env {
    struct node a, b;
};

static void on_changed(const struct lc_event *ev, void *data)
{
    struct node *nd = data;
    (void)ev;
    nd->changed++;
}

static void node_init(struct node *nd)
{
    nenv_init(&nd->n);
    assert_int_equal(
        lc_bus_subscribe(nd->n.bus, LC_EV_SERVICE_CHANGED, on_changed, nd), 0);
}

static void node_fini(struct node *nd)
{
    nenv_fini(&nd->n);
}

static int setup(void **state)
{
    struct env *env = calloc(1, sizeof *env);
    assert_non_null(env);
    node_init(&env->a);
    node_init(&env->b);
    *state = env;
    return 0;
}

static int teardown(void **state)
{
    struct env *env = *state;
    node_fini(&env->a);
    node_fini(&env->b);
    free(env);
    return 0;
}

static void req(struct lc_instance_req *r, const char *service, const char *ip,
                int port, const char *metadata)
{
    nenv_req(r, service, ip, port);
    r->weight = 2.5;
    r->metadata = metadata != NULL ? strdup(metadata) : NULL;
}

static void req_free(struct lc_instance_req *r)
{
    free(r->metadata);
}

struct seen {
    char text[4096];
};

static void collect(struct lc_instance *inst, void *data)
{
    struct seen *s = data;
    char one[512];
    snprintf(one, sizeof one, "%s:%d/%s/%g/%d/%d/%s;", inst->ip, inst->port,
             inst->cluster, inst->weight, inst->healthy, inst->enabled,
             inst->metadata_text != NULL ? inst->metadata_text : "{}");
    strncat(s->text, one, sizeof s->text - strlen(s->text) - 1);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The instances of @service on @nd, sorted, with their fields. */
static char *instances(struct node *nd, const char *service)
{
    struct lc_service_key key = {"public", "DEFAULT_GROUP", service};
    struct lc_service *svc = lc_registry_find_service(nd->n.reg, &key);
    struct seen s = {{0}};
    char *parts[64];
    unsigned count = 0;
    char *out = calloc(1, 4096);
    if (svc == NULL) {
        strcpy(out, "-");
        return out;
    }
    lc_registry_each_instance(nd->n.reg, svc, collect, &s);
    for (char *tok = strtok(s.text, ";"); tok != NULL && count < 64;
         tok = strtok(NULL, ";")) {
        parts[count++] = tok;
    }
    qsort(parts, count, sizeof *parts, cmp_str);
    for (unsigned i = 0; i < count; i++) {
        strcat(out, parts[i]);
        strcat(out, ";");
    }
    return out;
}

static void assert_same(struct env *env, const char *service)
{
    char *a = instances(&env->a, service);
    char *b = instances(&env->b, service);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

/* Sync @id from a to b, as a CHANGE would. */
static void sync_ab(struct env *env, const char *id)
{
    struct lc_err e;
    json_t *csd = lc_sync_data(&env->a.n, id);
    assert_non_null(csd);
    assert_int_equal(lc_sync_apply(&env->b.n, csd, &e), 0);
    json_decref(csd);
}

/* a: connection CONN with one instance of s1 and a batch of three in s2;
 * ip:port client 127.0.0.9:80. */
static void populate(struct env *env)
{
    struct lc_instance_req r, batch[3];
    struct lc_service_key key = {"public", "DEFAULT_GROUP", "s3"};
    struct lc_err e;
    req(&r, "s1", "127.0.0.1", 8080, "{\"k\":\"v\"}");
    assert_int_equal(lc_op_conn_register(&env->a.n, CONN, &r, &e), 0);
    req_free(&r);
    for (int i = 0; i < 3; i++) {
        req(&batch[i], "s2", "127.0.0.2", 9000 + i, NULL);
    }
    assert_int_equal(lc_op_conn_batch_register(&env->a.n, CONN, batch, 3, &e),
                     0);
    for (int i = 0; i < 3; i++) {
        req_free(&batch[i]);
    }
    req(&r, "s3", "127.0.0.9", 80, NULL);
    assert_int_equal(lc_ephemeral_register_req(&env->a.n, &key, &r, &e), 0);
    req_free(&r);
}

static void test_roundtrip(void **state)
{
    struct env *env = *state;
    uint64_t ra, rb;
    struct lc_client *c;
    populate(env);
    sync_ab(env, CONN);
    sync_ab(env, "127.0.0.9:80#true");
    assert_same(env, "s1");
    assert_same(env, "s2");
    assert_same(env, "s3");
    assert_int_equal(lc_op_conn_instances(&env->b.n, CONN), 4);
    assert_true(lc_sync_revision(&env->a.n, CONN, &ra));
    assert_true(lc_sync_revision(&env->b.n, CONN, &rb));
    assert_true(ra > 0);
    assert_int_equal(ra, rb);
    c = lc_registry_find_client(env->b.n.reg, CONN);
    assert_int_equal(c->kind, LC_CLIENT_SYNCED);
    c = lc_registry_find_client(env->b.n.reg, "127.0.0.9:80#true");
    assert_int_equal(c->kind, LC_CLIENT_EPHEMERAL);
    /* ownership: a holds the connection, b only a copy */
    assert_true(lc_sync_owned(&env->a.n, CONN));
    assert_false(lc_sync_owned(&env->b.n, CONN));
    /* verify */
    assert_true(lc_sync_verify(&env->b.n, CONN, ra));
    assert_true(lc_sync_verify(&env->b.n, CONN, 0));
    assert_false(lc_sync_verify(&env->b.n, CONN, ra + 1));
    assert_false(lc_sync_verify(&env->b.n, "nobody", 0));
}

static void test_change_replaces(void **state)
{
    struct env *env = *state;
    struct lc_service_key s2 = {"public", "DEFAULT_GROUP", "s2"};
    struct lc_instance_req r;
    struct lc_err e;
    unsigned before;
    populate(env);
    sync_ab(env, CONN);
    /* the batch goes, s1's instance changes */
    lc_op_conn_deregister(&env->a.n, CONN, &s2);
    req(&r, "s1", "127.0.0.1", 8081, NULL);
    assert_int_equal(lc_op_conn_register(&env->a.n, CONN, &r, &e), 0);
    req_free(&r);
    before = env->b.changed;
    sync_ab(env, CONN);
    assert_true(env->b.changed > before); /* subscribers are pushed */
    assert_same(env, "s1");
    assert_same(env, "s2");
    assert_int_equal(lc_op_conn_instances(&env->b.n, CONN), 1);
    /* the same data again changes nothing: no event */
    before = env->b.changed;
    sync_ab(env, CONN);
    assert_int_equal(env->b.changed, before);
}

static void test_delete(void **state)
{
    struct env *env = *state;
    populate(env);
    sync_ab(env, CONN);
    lc_sync_delete(&env->b.n, CONN);
    assert_int_equal(lc_op_conn_instances(&env->b.n, CONN), 0);
    assert_false(lc_sync_verify(&env->b.n, CONN, 0));
    /* a member's own connection is never deleted by a peer */
    lc_sync_delete(&env->a.n, CONN);
    assert_int_equal(lc_op_conn_instances(&env->a.n, CONN), 4);
}

static void test_own_connection_left_alone(void **state)
{
    struct env *env = *state;
    struct lc_err e;
    json_t *csd;
    populate(env);
    csd = lc_sync_data(&env->a.n, CONN);
    json_array_clear(json_object_get(csd, "instancePublishInfos"));
    json_array_clear(json_object_get(csd, "namespaces"));
    json_array_clear(json_object_get(csd, "groupNames"));
    json_array_clear(json_object_get(csd, "serviceNames"));
    assert_int_equal(lc_sync_apply(&env->a.n, csd, &e), 0);
    json_decref(csd);
    assert_int_equal(lc_op_conn_instances(&env->a.n, CONN), 4);
}

static void test_expiry(void **state)
{
    struct env *env = *state;
    struct lc_client *c;
    uint64_t now = lc_mono_ms();
    populate(env);
    sync_ab(env, CONN);
    sync_ab(env, "127.0.0.9:80#true");
    /* renewed just now: nothing goes */
    assert_int_equal(lc_sync_expire(&env->b.n, now, 180000), 0);
    c = lc_registry_find_client(env->b.n.reg, CONN);
    c->renew_ms = now - 200000;
    assert_int_equal(lc_sync_expire(&env->b.n, now, 180000), 1);
    assert_int_equal(lc_op_conn_instances(&env->b.n, CONN), 0);
    /* without members b is responsible for every ip:port client: kept */
    c = lc_registry_find_client(env->b.n.reg, "127.0.0.9:80#true");
    c->renew_ms = now - 200000;
    assert_int_equal(lc_sync_expire(&env->b.n, now, 180000), 0);
    /* a's own connection never expires */
    c = lc_registry_find_client(env->a.n.reg, CONN);
    c->renew_ms = now - 200000;
    assert_int_equal(lc_sync_expire(&env->a.n, now, 180000), 0);
}

struct list {
    char ids[16][LC_SYNC_ID_MAX];
    unsigned n;
};

static void each(const char *id, uint64_t rev, void *data)
{
    struct list *l = data;
    (void)rev;
    assert_true(l->n < 16);
    snprintf(l->ids[l->n++], LC_SYNC_ID_MAX, "%s", id);
}

static void test_each(void **state)
{
    struct env *env = *state;
    struct list l = {.n = 0};
    populate(env);
    lc_sync_each(&env->a.n, true, each, &l);
    /* the connection (its companions inside it) and the ip:port client */
    assert_int_equal(l.n, 2);
    sync_ab(env, CONN);
    l.n = 0;
    lc_sync_each(&env->b.n, true, each, &l);
    assert_int_equal(l.n, 0);
    lc_sync_each(&env->b.n, false, each, &l);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.ids[0], CONN);
}

/* Bad ClientSyncData: refused with LC_EINVAL, b unchanged. */
static void test_bad_input(void **state)
{
    struct env *env = *state;
    static const char *bad[] = {
        "[]",
        "{}",
        "{\"clientId\":\"\"}",
        "{\"clientId\":7}",
        "{\"clientId\":\"a#b1\"}",
        "{\"clientId\":\"x#y#true\"}",
        "{\"clientId\":\"c\",\"attributes\":{\"clientAttributes\":"
        "{\"revision\":-1}}}",
        "{\"clientId\":\"c\",\"namespaces\":[\"public\"],\"groupNames\":[],"
        "\"serviceNames\":[\"s\"],\"instancePublishInfos\":[{\"ip\":\"1.2.3.4\","
        "\"port\":1}]}",
        "{\"clientId\":\"c\",\"namespaces\":[\"public\"],\"groupNames\":"
        "[\"G\"],\"serviceNames\":[\"s\"],\"instancePublishInfos\":[{\"ip\":"
        "\"127.0.0.1\",\"port\":70000}]}",
        "{\"clientId\":\"c\",\"namespaces\":[\"public\"],\"groupNames\":"
        "[\"G\"],\"serviceNames\":[\"s\"],\"instancePublishInfos\":[{\"ip\":"
        "\"\",\"port\":1}]}",
        "{\"clientId\":\"c\",\"namespaces\":[\"public\"],\"groupNames\":"
        "[\"G\"],\"serviceNames\":[\"s\"],\"instancePublishInfos\":[{\"ip\":"
        "\"127.0.0.1\",\"port\":1,\"extendDatum\":[]}]}",
        "{\"clientId\":\"c\",\"namespaces\":[\"public\"],\"groupNames\":"
        "[\"G\"],\"serviceNames\":[\"s\"],\"instancePublishInfos\":[{\"ip\":"
        "\"127.0.0.1\",\"port\":1,\"extendDatum\":{\"weight\":-3}}]}",
        "{\"clientId\":\"c\",\"namespaces\":[\"public\",\"public\"],"
        "\"groupNames\":[\"G\",\"G\"],\"serviceNames\":[\"s\",\"s\"],"
        "\"instancePublishInfos\":[{\"ip\":\"127.0.0.1\",\"port\":1},"
        "{\"ip\":\"127.0.0.1\",\"port\":2}]}",
        "{\"clientId\":\"c\",\"batchInstanceData\":{\"namespaces\":"
        "[\"public\"],\"groupNames\":[\"G\"],\"serviceNames\":[\"s\"],"
        "\"batchInstancePublishInfos\":[{\"instancePublishInfos\":[]}]}}",
        "{\"clientId\":\"127.0.0.1:1#true\",\"batchInstanceData\":"
        "{\"namespaces\":[\"public\"],\"groupNames\":[\"G\"],\"serviceNames\":"
        "[\"s\"],\"batchInstancePublishInfos\":[{\"instancePublishInfos\":"
        "[{\"ip\":\"127.0.0.1\",\"port\":1}]}]}}",
        /* an ip that is no address nor host name (issue 11) */
        "{\"clientId\":\"c\",\"namespaces\":[\"public\"],\"groupNames\":"
        "[\"G\"],\"serviceNames\":[\"s\"],\"instancePublishInfos\":[{\"ip\":"
        "\"127.1.1.300\",\"port\":1}]}",
        /* a good instance followed by a bad one: nothing applied */
        "{\"clientId\":\"c\",\"namespaces\":[\"public\",\"public\"],"
        "\"groupNames\":[\"G\",\"G\"],\"serviceNames\":[\"s\",\"t\"],"
        "\"instancePublishInfos\":[{\"ip\":\"127.0.0.1\",\"port\":1},"
        "{\"ip\":\"127.0.0.1\",\"port\":\"2\"}]}",
    };
    unsigned long before = env->b.n.reg->n_instances;
    unsigned changed = env->b.changed;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct lc_err e;
        json_t *csd = json_loads(bad[i], 0, NULL);
        assert_non_null(csd);
        assert_int_equal(lc_sync_check(&env->b.n, csd, &e), LC_EINVAL);
        assert_int_equal(lc_sync_apply(&env->b.n, csd, &e), LC_EINVAL);
        assert_non_null(strstr(e.msg, "ClientSyncData"));
        json_decref(csd);
    }
    assert_int_equal(env->b.n.reg->n_instances, before);
    assert_int_equal(env->b.changed, changed);
    assert_null(lc_registry_find_client(env->b.n.reg, "c"));
}

/* A dead member's synced connection and the client's new connection here
 * publish the same address: rendered once, the local one. */
static void test_render_once(void **state)
{
    struct env *env = *state;
    struct lc_service_key key = {"public", "DEFAULT_GROUP", "s1"};
    struct lc_instance_req r;
    struct lc_err e;
    json_t *info, *hosts;
    populate(env);
    sync_ab(env, CONN);
    req(&r, "s1", "127.0.0.1", 8080, "{\"k\":\"new\"}");
    assert_int_equal(
        lc_op_conn_register(&env->b.n, "1700000000009_127.0.0.1_1", &r, &e),
        0);
    req_free(&r);
    info = lc_render_service_info(
        &env->b.n, lc_registry_find_service(env->b.n.reg, &key), &key, NULL,
        false);
    hosts = json_object_get(info, "hosts");
    assert_int_equal(json_array_size(hosts), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(hosts, 0),
                                            "metadata"),
                            "k")),
                        "new");
    json_decref(info);
}

/* lc_sync_text writes what lc_sync_data builds: escapes, metadata,
 * batches, a metadata key extendDatum sets itself, integral weights. */
static void test_text_same(void **state)
{
    struct env *env = *state;
    struct lc_instance_req r;
    struct lc_err e;
    const char *ids[] = {CONN, "127.0.0.9:80#true", "1700000000002_127.0.0.1_2"};
    populate(env);
    req(&r, "s\"q\\1", "127.0.0.3", 1, "{\"a\\\"\":\"x\\u0001\u00e9\",\"b\":\"\"}");
    r.weight = 1;
    assert_int_equal(lc_op_conn_register(&env->a.n, ids[2], &r, &e), 0);
    req_free(&r);
    req(&r, "s4", "127.0.0.4", 2, "{\"weight\":\"9\",\"z\":\"1\"}");
    r.enabled = false;
    assert_int_equal(lc_op_conn_register(&env->a.n, ids[2], &r, &e), 0);
    req_free(&r);
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        size_t len;
        char *text = lc_sync_text(&env->a.n, ids[i], &len);
        json_t *tree = lc_sync_data(&env->a.n, ids[i]);
        json_t *parsed;
        assert_non_null(text);
        assert_int_equal(len, strlen(text));
        parsed = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
        assert_non_null(parsed);
        assert_true(json_equal(parsed, tree));
        json_decref(parsed);
        json_decref(tree);
        free(text);
    }
    assert_null(lc_sync_text(&env->a.n, "nobody", &(size_t){0}));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_change_replaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_own_connection_left_alone, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_render_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_same, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
