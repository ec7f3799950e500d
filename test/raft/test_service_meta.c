/* The naming_service_metadata processor on canonical/raft's fixture: CHANGE
 * (create and merge), ADD (cluster metadata), DELETE, refused entries,
 * snapshot install and direct restores (good and bad images), and what the
 * metadata does to the registry: services exist while they have metadata,
 * protectThreshold in the instance list, the empty-service cleaner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "naming/store/service_meta.h"
#include "snapshots/snapshots.h"
#include "test/support/fixture_naming.h"

#define ALL LC_FIXTURE_ALL
#define KEY(name) "public\x1f" "DEFAULT_GROUP\x1f" name

/* A ServiceMeta with its storage: one metadata pair, up to two clusters. */
struct meta {
    Locus__Naming__ServiceMeta m;
    Locus__Naming__MetaEntry e;
    Locus__Naming__MetaEntry *ep[1];
    Locus__Naming__ClusterMeta c[2];
    Locus__Naming__ClusterMeta *cp[2];
    Locus__Naming__MetaEntry ce[2];
    Locus__Naming__MetaEntry *cep[2][1];
};

static void meta_init(struct meta *b, float threshold, bool ephemeral,
                      const char *k, const char *v)
{
    memset(b, 0, sizeof *b);
    locus__naming__service_meta__init(&b->m);
    b->m.protect_threshold = threshold;
    b->m.ephemeral = ephemeral;
    b->m.selector_type = "none";
    if (k != NULL) {
        locus__naming__meta_entry__init(&b->e);
        b->e.key = (char *)k;
        b->e.value = (char *)v;
        b->ep[0] = &b->e;
        b->m.metadata = b->ep;
        b->m.n_metadata = 1;
    }
}

static void meta_cluster(struct meta *b, const char *name, const char *checker,
                         int port, const char *k, const char *v)
{
    size_t i = b->m.n_clusters++;
    locus__naming__cluster_meta__init(&b->c[i]);
    b->c[i].name = (char *)name;
    b->c[i].health_checker = (char *)checker;
    b->c[i].check_port = port;
    b->c[i].use_ip_port = true;
    if (k != NULL) {
        locus__naming__meta_entry__init(&b->ce[i]);
        b->ce[i].key = (char *)k;
        b->ce[i].value = (char *)v;
        b->cep[i][0] = &b->ce[i];
        b->c[i].metadata = b->cep[i];
        b->c[i].n_metadata = 1;
    }
    b->cp[i] = &b->c[i];
    b->m.clusters = b->cp;
}

static uint64_t submit(struct lc_fixture_cluster *c, const char *operation,
                       const char *name, const Locus__Naming__ServiceMeta *m)
{
    Locus__Naming__ServiceMetaOp op = LOCUS__NAMING__SERVICE_META_OP__INIT;
    uint8_t buf[1024];
    size_t len;
    uint64_t index;
    op.namespace_ = "public";
    op.group_name = "DEFAULT_GROUP";
    op.service_name = (char *)name;
    op.metadata = (Locus__Naming__ServiceMeta *)m;
    assert_true(locus__naming__service_meta_op__get_packed_size(&op) <=
                sizeof buf);
    len = locus__naming__service_meta_op__pack(&op, buf);
    index = lc_fixture_submit(c, 0, NULL, operation, buf, len);
    assert_true(index > 0);
    return index;
}

static void wait_all(struct lc_fixture_cluster *c, uint64_t index)
{
    lc_fixture_wait_applied(c, index, ALL);
    lc_fixture_assert_result(c, index, 0);
}

static const Locus__Naming__ServiceMeta *stored(struct lc_fixture_cluster *c,
                                                unsigned i, const char *key)
{
    struct lc_smeta *e = lc_service_meta_find(c->nodes[i].naming, key);
    return e != NULL ? e->meta : NULL;
}

static struct lc_service *service(struct lc_fixture_cluster *c, unsigned i,
                                  const char *name)
{
    struct lc_service_key k = {"public", "DEFAULT_GROUP", name};
    return lc_registry_find_service(c->nodes[i].naming->reg, &k);
}

static void converged(struct lc_fixture_cluster *c)
{
    free(lc_fixture_assert_converged(c, ALL));
}

/* ------------------------------------------------------------------ apply */

/* CHANGE on a new service stores it as given and makes a persistent
 * service on every member; CHANGE again replaces threshold, selector and
 * metadata but keeps the ephemeral flag and the clusters. */
static void test_change(void **state)
{
    struct lc_fixture_cluster *c =
        lc_fixture_cluster3(state, LC_GROUP_SERVICE_META);
    struct meta a, b;

    meta_init(&a, 0.5f, false, "k", "v");
    meta_cluster(&a, "DEFAULT", "NONE", 8080, "ck", "cv");
    wait_all(c, submit(c, LC_SMETA_CHANGE, "svc", &a.m));
    for (unsigned i = 0; i < 3; i++) {
        const Locus__Naming__ServiceMeta *m = stored(c, i, KEY("svc"));
        struct lc_service *svc = service(c, i, "svc");
        assert_non_null(m);
        assert_true(m->protect_threshold == 0.5f);
        assert_int_equal(m->n_metadata, 1);
        assert_string_equal(m->metadata[0]->value, "v");
        assert_int_equal(m->n_clusters, 1);
        assert_string_equal(m->clusters[0]->health_checker, "NONE");
        assert_non_null(svc);
        assert_false(svc->ephemeral);
        assert_int_equal(svc->n_publishers, 0);
    }

    meta_init(&b, 0.25f, true, "k2", "v2");
    b.m.selector_type = "label";
    b.m.selector_expression = "CONSUMER.label.A=PROVIDER.label.A";
    b.m.has_selector_expression = true;
    wait_all(c, submit(c, LC_SMETA_CHANGE, "svc", &b.m));
    for (unsigned i = 0; i < 3; i++) {
        const Locus__Naming__ServiceMeta *m = stored(c, i, KEY("svc"));
        json_t *sel = lc_selector_json(m);
        assert_true(m->protect_threshold == 0.25f);
        assert_false(m->ephemeral); /* kept */
        assert_int_equal(m->n_clusters, 1); /* kept */
        assert_int_equal(m->clusters[0]->check_port, 8080);
        assert_string_equal(m->metadata[0]->key, "k2"); /* replaced */
        assert_string_equal(json_string_value(json_object_get(sel, "type")),
                            "label");
        assert_string_equal(json_string_value(json_array_get(
                                json_object_get(sel, "labels"), 0)),
                            "A");
        json_decref(sel);
        assert_false(service(c, i, "svc")->ephemeral);
    }
    converged(c);
}

/* ADD merges clusters by name into what is stored (or stores a new entry,
 * making the service exist). */
static void test_add_clusters(void **state)
{
    struct lc_fixture_cluster *c =
        lc_fixture_cluster3(state, LC_GROUP_SERVICE_META);
    struct meta a, b;

    meta_init(&a, 0.0f, true, NULL, NULL);
    meta_cluster(&a, "A", "TCP", 80, NULL, NULL);
    wait_all(c, submit(c, LC_SMETA_ADD, "svc", &a.m));
    assert_non_null(service(c, 2, "svc"));
    assert_true(service(c, 2, "svc")->ephemeral);

    meta_init(&b, 0.9f, false, NULL, NULL);
    meta_cluster(&b, "C", "NONE", 81, "x", "y");
    meta_cluster(&b, "A", "NONE", 82, NULL, NULL);
    wait_all(c, submit(c, LC_SMETA_ADD, "svc", &b.m));
    for (unsigned i = 0; i < 3; i++) {
        const Locus__Naming__ServiceMeta *m = stored(c, i, KEY("svc"));
        assert_int_equal(m->n_clusters, 2);
        assert_string_equal(m->clusters[0]->name, "A");
        assert_string_equal(m->clusters[0]->health_checker, "NONE");
        assert_int_equal(m->clusters[0]->check_port, 82);
        assert_string_equal(m->clusters[1]->name, "C");
        assert_true(m->protect_threshold == 0.0f); /* not the ADD's */
        assert_true(m->ephemeral);
        assert_non_null(lc_cluster_meta(m, "C"));
        assert_null(lc_cluster_meta(m, "B"));
    }
    converged(c);
}

/* Publish a persistent instance of @name directly on every member. */
static void publish_everywhere(struct lc_fixture_cluster *c, const char *name,
                               bool healthy)
{
    for (unsigned i = 0; i < 3; i++) {
        struct lc_registry *reg = c->nodes[i].naming->reg;
        struct lc_service_key k = {"public", "DEFAULT_GROUP", name};
        struct lc_service *svc = lc_registry_service(reg, &k, false);
        struct lc_instance *inst = lc_instance_new(
            "10.0.0.1", 80, "DEFAULT", 1.0, healthy, true, false, NULL, "id");
        assert_non_null(inst);
        assert_int_equal(
            lc_registry_publish(reg, "10.0.0.1:80#false", LC_CLIENT_PERSISTENT, svc, inst),
            0);
        lc_instance_unref(inst);
    }
}

/* DELETE drops the metadata everywhere, and the service when nobody
 * publishes it. */
static void test_delete(void **state)
{
    struct lc_fixture_cluster *c =
        lc_fixture_cluster3(state, LC_GROUP_SERVICE_META);
    struct meta a;

    meta_init(&a, 0.5f, false, NULL, NULL);
    submit(c, LC_SMETA_CHANGE, "empty", &a.m);
    wait_all(c, submit(c, LC_SMETA_CHANGE, "busy", &a.m));
    publish_everywhere(c, "busy", true);

    submit(c, LC_SMETA_DELETE, "empty", NULL);
    submit(c, LC_SMETA_DELETE, "busy", NULL);
    wait_all(c, submit(c, LC_SMETA_DELETE, "never-there", NULL));
    for (unsigned i = 0; i < 3; i++) {
        assert_null(stored(c, i, KEY("empty")));
        assert_null(service(c, i, "empty"));
        assert_null(stored(c, i, KEY("busy")));
        assert_non_null(service(c, i, "busy")); /* it has an instance */
        assert_int_equal(HASH_COUNT(c->nodes[i].naming->smeta), 0);
    }
    converged(c);
}

/* Undecodable data, unknown operations and CHANGE without metadata are
 * refused on every member and change nothing. */
static void test_refused(void **state)
{
    struct lc_fixture_cluster *c =
        lc_fixture_cluster3(state, LC_GROUP_SERVICE_META);
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    struct meta a;
    char *before, *after;
    uint64_t bad_data, bad_op, no_meta, put;

    meta_init(&a, 0.5f, false, NULL, NULL);
    wait_all(c, submit(c, LC_SMETA_CHANGE, "svc", &a.m));
    before = lc_fixture_assert_converged(c, ALL);
    bad_data = lc_fixture_submit(c, 0, NULL, LC_SMETA_CHANGE, junk,
                                 sizeof junk);
    bad_op = submit(c, "PUT", "svc", &a.m);
    put = submit(c, "UPDATE", "other", &a.m);
    no_meta = submit(c, LC_SMETA_CHANGE, "other", NULL);
    lc_fixture_wait_applied(c, no_meta, ALL);
    lc_fixture_assert_result(c, bad_data, LC_ECORRUPT);
    lc_fixture_assert_result(c, bad_op, LC_EINVAL);
    lc_fixture_assert_result(c, put, LC_EINVAL);
    lc_fixture_assert_result(c, no_meta, LC_EINVAL);
    after = lc_fixture_assert_converged(c, ALL);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

/* ------------------------------------------------------------ snapshots */

/* A follower that missed compacted entries catches up by InstallSnapshot
 * with every service and its metadata. */
static void test_snapshot_install(void **state)
{
    struct lc_fixture_cluster *c =
        lc_fixture_cluster3(state, LC_GROUP_SERVICE_META);
    struct meta a;
    char name[32];
    uint64_t index = 0;

    for (unsigned i = 0; i < 3; i++) {
        raft_set_snapshot_threshold(lc_fixture_raft(c, i), 4);
        raft_set_snapshot_trailing(lc_fixture_raft(c, i), 1);
    }
    meta_init(&a, 0.5f, false, "k", "v");
    meta_cluster(&a, "DEFAULT", "NONE", 99, NULL, NULL);
    wait_all(c, submit(c, LC_SMETA_CHANGE, "gone-later", &a.m));
    raft_fixture_kill(&c->f, 2);
    for (int k = 0; k < 12; k++) {
        snprintf(name, sizeof name, "svc-%d", k);
        a.m.protect_threshold = (float)k / 16;
        index = submit(c, LC_SMETA_CHANGE, name, &a.m);
    }
    submit(c, LC_SMETA_DELETE, "gone-later", NULL);
    for (int k = 0; k < 6; k++) {
        index = submit(c, LC_SMETA_DELETE, "never-there", NULL);
    }
    lc_fixture_wait_applied(c, index, lc_fixture_live(c));
    assert_true(lc_fixture_raft(c, 0)->log.offset >
                raft_last_applied(lc_fixture_raft(c, 2)) + 1);

    raft_fixture_revive(&c->f, 2);
    lc_fixture_wait_applied(c, index, ALL);
    assert_true(raft_fixture_n_recv(&c->f, 2, RAFT_IO_INSTALL_SNAPSHOT) >= 1);
    assert_int_equal(c->nodes[2].adapter.n_restore_errors, 0);
    converged(c);
    assert_null(service(c, 2, "gone-later"));
    assert_non_null(service(c, 2, "svc-11"));
    assert_false(service(c, 2, "svc-11")->ephemeral);
    assert_true(stored(c, 2, KEY("svc-11"))->protect_threshold ==
                11.0f / 16);
    assert_int_equal(stored(c, 2, KEY("svc-3"))->clusters[0]->check_port, 99);
}

/* Images restored directly: bad ones are refused with the state unchanged;
 * a valid older one brings back exactly the state it was taken from. */
static void test_snapshot_images(void **state)
{
    struct lc_fixture_cluster *c =
        lc_fixture_cluster3(state, LC_GROUP_SERVICE_META);
    struct raft *leader = lc_fixture_raft(c, 0);
    struct meta a;
    void *s1, *buf;
    size_t s1_len, len;
    char *d1, *d2;
    uint64_t index;

    meta_init(&a, 0.5f, false, "k", "v");
    submit(c, LC_SMETA_CHANGE, "a", &a.m);
    index = submit(c, LC_SMETA_CHANGE, "b", &a.m);
    wait_all(c, index);
    d1 = lc_fixture_assert_converged(c, ALL);
    assert_int_equal(lc_fixture_sm_image(&c->nodes[0].adapter,
                                         raft_last_applied(leader),
                                         leader->current_term, &s1, &s1_len),
                     0);
    a.m.protect_threshold = 0.75f;
    submit(c, LC_SMETA_CHANGE, "a", &a.m);
    submit(c, LC_SMETA_DELETE, "b", NULL);
    wait_all(c, submit(c, LC_SMETA_CHANGE, "c", &a.m));
    d2 = lc_fixture_assert_converged(c, ALL);
    assert_string_not_equal(d1, d2);

    lc_fixture_assert_refused(c, 1, s1, s1_len / 2, "truncated");
    lc_fixture_image(LC_GROUP_SERVICE_META, "CREATE TABLE other (x)", &buf,
                     &len);
    lc_fixture_assert_refused(c, 1, buf, len, "no service_meta table");
    raft_free(buf);
    lc_fixture_image(
        LC_GROUP_SERVICE_META,
        "CREATE TABLE service_meta (namespace, group_name, "
        "service_name, meta);"
        "INSERT INTO service_meta VALUES ('public','DEFAULT_GROUP',"
        "'new',x'');"
        "INSERT INTO service_meta VALUES ('public','DEFAULT_GROUP',"
        "'bad',x'ffffffff');",
        &buf, &len);
    lc_fixture_assert_refused(c, 1, buf, len, "undecodable metadata");
    raft_free(buf);
    lc_fixture_image(
        LC_GROUP_SERVICE_META,
        "CREATE TABLE service_meta (namespace, group_name, "
        "service_name, meta);"
        "INSERT INTO service_meta VALUES ('public','DEFAULT_GROUP',"
        "'new',x'');"
        "INSERT INTO service_meta VALUES ('public',NULL,'x',x'');",
        &buf, &len);
    lc_fixture_assert_refused(c, 1, buf, len, "NULL field");
    raft_free(buf);
    lc_fixture_image(
        LC_GROUP_SERVICE_META,
        "CREATE TABLE service_meta (namespace, group_name, "
        "service_name, meta);"
        "INSERT INTO service_meta VALUES ('public','DEFAULT_GROUP',"
        "'new',x'');"
        "INSERT INTO service_meta VALUES ('public','DEFAULT_GROUP',"
        "'new',x'');",
        &buf, &len);
    lc_fixture_assert_refused(c, 1, buf, len, "repeated service");
    raft_free(buf);

    /* S1 on server 1: a back to 0.5, b back, c gone (service too). */
    lc_fixture_must_restore(c, 1, s1, s1_len);
    {
        char *now = lc_fixture_dump(c, 1);
        assert_string_equal(now, d1);
        free(now);
    }
    assert_null(service(c, 1, "c"));
    assert_non_null(service(c, 1, "b"));
    raft_free(s1);
    free(d1);
    free(d2);
}

/* -------------------------------------------------- registry and render */

/* protectThreshold in the instance list: only with stored metadata, and
 * when healthy/total <= threshold every host is returned healthy. */
static void test_protect_threshold(void **state)
{
    struct lc_fixture_cluster *c =
        lc_fixture_cluster3(state, LC_GROUP_SERVICE_META);
    struct lc_naming *n = c->nodes[1].naming;
    struct lc_service_key k = {"public", "DEFAULT_GROUP", "svc"};
    struct meta a;
    json_t *info;

    publish_everywhere(c, "svc", false);
    info = lc_render_service_info(n, service(c, 1, "svc"), &k, "", false);
    assert_false(json_is_true(
        json_object_get(info, "reachProtectionThreshold")));
    assert_false(json_is_true(json_object_get(
        json_array_get(json_object_get(info, "hosts"), 0), "healthy")));
    json_decref(info);

    /* metadata with the default threshold 0: all unhealthy is 0 <= 0 */
    meta_init(&a, 0.0f, false, NULL, NULL);
    wait_all(c, submit(c, LC_SMETA_CHANGE, "svc", &a.m));
    info = lc_render_service_info(n, service(c, 1, "svc"), &k, "", false);
    assert_true(json_is_true(
        json_object_get(info, "reachProtectionThreshold")));
    assert_int_equal(json_array_size(json_object_get(info, "hosts")), 1);
    assert_true(json_is_true(json_object_get(
        json_array_get(json_object_get(info, "hosts"), 0), "healthy")));
    json_decref(info);

    /* healthyOnly leaves no host: 0/0 never reaches it */
    info = lc_render_service_info(n, service(c, 1, "svc"), &k, "", true);
    assert_false(json_is_true(
        json_object_get(info, "reachProtectionThreshold")));
    assert_int_equal(json_array_size(json_object_get(info, "hosts")), 0);
    json_decref(info);

    /* another cluster filters everything out */
    info = lc_render_service_info(n, service(c, 1, "svc"), &k, "OTHER",
                                  false);
    assert_false(json_is_true(
        json_object_get(info, "reachProtectionThreshold")));
    json_decref(info);

    /* a negative threshold counts as 0 */
    a.m.protect_threshold = -1.0f;
    wait_all(c, submit(c, LC_SMETA_CHANGE, "svc", &a.m));
    info = lc_render_service_info(n, service(c, 1, "svc"), &k, "", false);
    assert_true(json_is_true(
        json_object_get(info, "reachProtectionThreshold")));
    json_decref(info);
}

/* The empty-service cleaner removes services nobody publishes once expired,
 * marking their metadata expired; a service with an instance stays. */
static void test_clean_empty(void **state)
{
    struct lc_fixture_cluster *c =
        lc_fixture_cluster3(state, LC_GROUP_SERVICE_META);
    struct lc_naming *n = c->nodes[0].naming;
    struct meta a;

    meta_init(&a, 0.5f, false, NULL, NULL);
    submit(c, LC_SMETA_CHANGE, "empty", &a.m);
    wait_all(c, submit(c, LC_SMETA_CHANGE, "busy", &a.m));
    publish_everywhere(c, "busy", true);

    lc_service_clean_empty(n, 3600 * 1000); /* not expired yet */
    assert_non_null(service(c, 0, "empty"));
    assert_int_equal(lc_service_meta_find(n, KEY("empty"))->expired_ms, 0);

    lc_service_clean_empty(n, 0);
    assert_null(service(c, 0, "empty"));
    assert_non_null(service(c, 0, "busy"));
    assert_true(lc_service_meta_find(n, KEY("empty"))->expired_ms > 0);
    assert_int_equal(lc_service_meta_find(n, KEY("busy"))->expired_ms, 0);
    assert_non_null(service(c, 1, "empty")); /* local to each member */

    /* Created again: back, and no longer expired. */
    wait_all(c, submit(c, LC_SMETA_CHANGE, "empty", &a.m));
    assert_non_null(service(c, 0, "empty"));
    assert_int_equal(lc_service_meta_find(n, KEY("empty"))->expired_ms, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_change, lc_fixture_teardown),
        cmocka_unit_test_teardown(test_add_clusters, lc_fixture_teardown),
        cmocka_unit_test_teardown(test_delete, lc_fixture_teardown),
        cmocka_unit_test_teardown(test_refused, lc_fixture_teardown),
        cmocka_unit_test_teardown(test_snapshot_install, lc_fixture_teardown),
        cmocka_unit_test_teardown(test_snapshot_images, lc_fixture_teardown),
        cmocka_unit_test_teardown(test_protect_threshold, lc_fixture_teardown),
        cmocka_unit_test_teardown(test_clean_empty, lc_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
