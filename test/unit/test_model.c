/* Tests of naming/core/model.c: instance ids, metadata parsing as Nacos's
 * UtilsAndCommons.parseMetadata, instances and their references, names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "naming/core/model.h"

/* ------------------------------------------------------------ ids */

static void test_instance_id(void **state)
{
    char out[128];
    char small[12];
    (void)state;
    lc_instance_id(out, sizeof out, "127.2.3.4", 8080, "DEFAULT",
                   "DEFAULT_GROUP@@svc");
    assert_string_equal(out, "127.2.3.4#8080#DEFAULT#DEFAULT_GROUP@@svc");
    lc_instance_id(out, sizeof out, "::1", 0, "c-1", "g@@a@@b");
    assert_string_equal(out, "::1#0#c-1#g@@a@@b");
    /* Truncated, still terminated. */
    lc_instance_id(small, sizeof small, "127.2.3.4", 8080, "DEFAULT", "g@@s");
    assert_string_equal(small, "127.2.3.4#8");
}

/* ------------------------------------------------------- metadata */

static void meta_ok(const char *text, const char *want)
{
    char *out = NULL;
    int rv = lc_metadata_parse(text, &out);
    if (rv != 0) {
        fail_msg("metadata '%s' refused, want %s", text, want);
    }
    assert_non_null(out);
    assert_string_equal(out, want);
    free(out);
}

static void meta_bad(const char *text)
{
    char *out = (char *)"untouched";
    int rv = lc_metadata_parse(text, &out);
    if (rv != LC_EINVAL) {
        fail_msg("metadata '%s' gave %d (%s), want LC_EINVAL", text, rv,
                 rv == 0 ? out : "-");
    }
    assert_string_equal(out, "untouched");
}

static void test_metadata_empty(void **state)
{
    (void)state;
    meta_ok(NULL, "{}");
    meta_ok("", "{}");
    meta_ok("{}", "{}");
}

static void test_metadata_json(void **state)
{
    (void)state;
    /* Canonical: compact, keys sorted. */
    meta_ok("{\"b\":\"2\", \"a\" : \"1\"}", "{\"a\":\"1\",\"b\":\"2\"}");
    meta_ok(" { \"k\" : \"v\" } ", "{\"k\":\"v\"}");
    meta_ok("{\"a\":\"x=y,z\"}", "{\"a\":\"x=y,z\"}");
    meta_ok("{\"\":\"\"}", "{\"\":\"\"}");
    meta_ok("{\"u\":\"\\u00e9\"}", "{\"u\":\"\xc3\xa9\"}");
    /* Numbers and booleans become strings (Map<String,String>). */
    meta_ok("{\"n\":1,\"t\":true,\"f\":false,\"r\":1.5,\"m\":-7}",
            "{\"f\":\"false\",\"m\":\"-7\",\"n\":\"1\",\"r\":\"1.5\","
            "\"t\":\"true\"}");
    /* The last of duplicate keys wins, as in Jackson. */
    meta_ok("{\"a\":\"1\",\"a\":\"2\"}", "{\"a\":\"2\"}");
}

/* The table of the research notes (section 1.4). */
static void test_metadata_table(void **state)
{
    (void)state;
    meta_ok("a=b,c=d", "{\"a\":\"b\",\"c\":\"d\"}");
    meta_ok("a=b,", "{\"a\":\"b\"}");
    meta_ok("=b", "{\"\":\"b\"}");
    meta_bad("a=");
    meta_bad("abc");
    meta_bad("a=b=c");
    meta_bad("a=b,,c=d");
    meta_bad("{\"a\":{\"b\":1}}");
    meta_bad("[1]");
}

static void test_metadata_kv_split(void **state)
{
    (void)state;
    /* Sorted like JSON input, values kept verbatim (no trimming). */
    meta_ok("z=1,a=2", "{\"a\":\"2\",\"z\":\"1\"}");
    meta_ok(" a = b ", "{\" a \":\" b \"}");
    meta_ok("a=1,a=2", "{\"a\":\"2\"}");
    meta_ok("k={x}", "{\"k\":\"{x}\"}");
    /* Java's split drops trailing empty strings. */
    meta_ok("a=b,,,", "{\"a\":\"b\"}");
    meta_ok("a=b=", "{\"a\":\"b\"}");
    meta_ok("a=b==", "{\"a\":\"b\"}");
    meta_ok(",", "{}");
    meta_ok(",,", "{}");
    meta_bad("=");
    meta_bad("==");
    meta_bad("a==b");
    meta_bad("==b");
    meta_bad(",a=b");
    meta_bad("a=b,c");
    meta_bad("a=b,c=");
    meta_bad("a=b,=");
    meta_bad(" ");
}

static void test_metadata_json_fallback(void **state)
{
    (void)state;
    /* JSON that is not a Map<String,String> falls back to k=v, like the
     * Jackson failure in Nacos: arrays, nested values, scalars. */
    meta_bad("{\"a\":[1]}");
    meta_bad("{\"a\":{}}");
    meta_bad("[]");
    meta_ok("\"a=b\"", "{\"\\\"a\":\"b\\\"\"}");
    meta_bad("1");
    meta_ok("{\"a\":{\"b\":\"x=y\"}}", "{\"{\\\"a\\\":{\\\"b\\\":\\\"x\":"
                                       "\"y\\\"}}\"}");
    meta_ok("true=1", "{\"true\":\"1\"}");
    meta_bad("{\"a\":\"b\"");
    /* The JSON literal null is an absent map: no metadata. */
    meta_ok("null", "{}");
    /* Jackson ignores what follows the first JSON value. */
    meta_ok("{\"a\":\"b\"} trailing", "{\"a\":\"b\"}");
    meta_ok("{\"a\":\"b\"},c=d", "{\"a\":\"b\"}");
}

/* ------------------------------------------------------- instances */

static void test_instance_new(void **state)
{
    char ip[] = "127.0.0.1";
    struct lc_instance *inst;
    json_t *meta;
    (void)state;

    inst =
        lc_instance_new(ip, 8080, "c1", 2.5, false, true, false,
                        "{\"z\":\"1\",\"a\":\"2\"}", "127.0.0.1#8080#c1#g@@s");
    assert_non_null(inst);
    strcpy(ip, "xxxxxxxx"); /* strings are copied */
    assert_int_equal(inst->refs, 1);
    assert_string_equal(inst->ip, "127.0.0.1");
    assert_int_equal(inst->port, 8080);
    assert_string_equal(inst->cluster, "c1");
    assert_true(inst->weight == 2.5);
    assert_false(inst->healthy);
    assert_true(inst->enabled);
    assert_false(inst->ephemeral);
    assert_string_equal(inst->metadata_text, "{\"a\":\"2\",\"z\":\"1\"}");
    meta = lc_instance_metadata(inst);
    assert_string_equal(json_string_value(json_object_get(meta, "z")), "1");
    json_decref(meta);
    assert_string_equal(inst->instance_id, "127.0.0.1#8080#c1#g@@s");
    lc_instance_unref(inst);

    /* NULL strings become "", NULL or empty metadata {}. */
    inst = lc_instance_new(NULL, 1, NULL, 1, true, true, true, NULL, NULL);
    assert_non_null(inst);
    assert_string_equal(inst->ip, "");
    assert_string_equal(inst->cluster, "");
    assert_string_equal(inst->instance_id, "");
    assert_string_equal(inst->metadata_text, "{}");
    meta = lc_instance_metadata(inst);
    assert_true(json_is_object(meta));
    assert_int_equal(json_object_size(meta), 0);
    json_decref(meta);
    lc_instance_unref(inst);
    inst = lc_instance_new("a", 1, "c", 1, true, true, true, "", "i");
    assert_non_null(inst);
    assert_string_equal(inst->metadata_text, "{}");
    lc_instance_unref(inst);
    lc_instance_unref(NULL);
}

static void test_instance_new_refused(void **state)
{
    (void)state;
    assert_null(lc_instance_new("a", 1, "c", 1, true, true, true, "[1]", "i"));
    assert_null(
        lc_instance_new("a", 1, "c", 1, true, true, true, "\"s\"", "i"));
    assert_null(lc_instance_new("a", 1, "c", 1, true, true, true, "a=b", "i"));
    assert_null(lc_instance_new("a", 1, "c", 1, true, true, true, "{", "i"));
    assert_null(lc_instance_new("a", 1, "c", 1, true, true, true,
                                "{\"a\":\"1\",\"a\":\"2\"}", "i"));
}

static struct lc_instance *base(void)
{
    return lc_instance_new("127.1.1.1", 80, "DEFAULT", 1.0, true, true, true,
                           "{\"a\":\"1\",\"b\":\"2\"}", "id");
}

static void test_instance_equal(void **state)
{
    struct lc_instance *a = base();
    struct lc_instance *b = base();
    struct lc_instance *c;
    (void)state;

    assert_true(lc_instance_equal(a, b));
    assert_true(lc_instance_equal(a, a));
    /* Metadata equal whatever the key order it was given in. */
    c = lc_instance_new("127.1.1.1", 80, "DEFAULT", 1.0, true, true, true,
                        "{ \"b\":\"2\", \"a\":\"1\" }", "id");
    assert_true(lc_instance_equal(a, c));
    lc_instance_unref(c);

#define DIFFERS(...)                                                           \
    do {                                                                       \
        c = lc_instance_new(__VA_ARGS__);                                      \
        assert_non_null(c);                                                    \
        assert_false(lc_instance_equal(a, c));                                 \
        assert_false(lc_instance_equal(c, a));                                 \
        lc_instance_unref(c);                                                  \
    } while (0)
    const char *m = "{\"a\":\"1\",\"b\":\"2\"}";
    DIFFERS("127.1.1.2", 80, "DEFAULT", 1.0, true, true, true, m, "id");
    DIFFERS("127.1.1.1", 81, "DEFAULT", 1.0, true, true, true, m, "id");
    DIFFERS("127.1.1.1", 80, "OTHER", 1.0, true, true, true, m, "id");
    DIFFERS("127.1.1.1", 80, "DEFAULT", 1.5, true, true, true, m, "id");
    DIFFERS("127.1.1.1", 80, "DEFAULT", 1.0, false, true, true, m, "id");
    DIFFERS("127.1.1.1", 80, "DEFAULT", 1.0, true, false, true, m, "id");
    DIFFERS("127.1.1.1", 80, "DEFAULT", 1.0, true, true, false, m, "id");
    DIFFERS("127.1.1.1", 80, "DEFAULT", 1.0, true, true, true, "{\"a\":\"1\"}",
            "id");
    DIFFERS("127.1.1.1", 80, "DEFAULT", 1.0, true, true, true, m, "id2");
#undef DIFFERS
    lc_instance_unref(a);
    lc_instance_unref(b);
}

static void test_instance_refs(void **state)
{
    struct lc_instance *a = base();
    (void)state;
    assert_int_equal(a->refs, 1);
    lc_instance_ref(a);
    lc_instance_ref(a);
    assert_int_equal(a->refs, 3);
    lc_instance_unref(a);
    assert_int_equal(a->refs, 2);
    lc_instance_unref(a);
    assert_int_equal(a->refs, 1);
    assert_string_equal(a->ip, "127.1.1.1"); /* still alive */
    lc_instance_unref(a); /* freed: ASan reports a leak otherwise */
}

static void test_meta_long(void **state)
{
    struct lc_instance *inst = lc_instance_new(
        "a", 1, "c", 1, true, true, true,
        "{\"n\":\"15000\",\"zero\":\"0\",\"neg\":\"-5\",\"plus\":\"+5\","
        "\"sp\":\" 5\",\"tail\":\"5 \",\"abc\":\"abc\",\"mix\":\"12a\","
        "\"empty\":\"\",\"int\":42,\"real\":1.5,\"big\":"
        "\"99999999999999999999\"}",
        "i");
    (void)state;
    assert_non_null(inst);
    assert_int_equal(lc_instance_meta_long(inst, "n", 7), 15000);
    assert_int_equal(lc_instance_meta_long(inst, "zero", 7), 0);
    assert_int_equal(lc_instance_meta_long(inst, "missing", 7), 7);
    assert_int_equal(lc_instance_meta_long(inst, "int", 7), 42);
    /* Only ^\d+$ counts, as in Nacos's Instance#getMetaDataByKeyWithDefault. */
    assert_int_equal(lc_instance_meta_long(inst, "neg", 7), 7);
    assert_int_equal(lc_instance_meta_long(inst, "plus", 7), 7);
    assert_int_equal(lc_instance_meta_long(inst, "sp", 7), 7);
    assert_int_equal(lc_instance_meta_long(inst, "tail", 7), 7);
    assert_int_equal(lc_instance_meta_long(inst, "abc", 7), 7);
    assert_int_equal(lc_instance_meta_long(inst, "mix", 7), 7);
    assert_int_equal(lc_instance_meta_long(inst, "empty", 7), 7);
    assert_int_equal(lc_instance_meta_long(inst, "real", 7), 7);
    assert_int_equal(lc_instance_meta_long(inst, "big", 7), 7);
    lc_instance_unref(inst);
}

/* The beat limits are read once, at creation, with Nacos's defaults. */
static void test_beat_limits(void **state)
{
    struct lc_instance *inst = lc_instance_new(
        "a", 1, "DEFAULT", 1, true, true, true,
        "{\"preserved.heart.beat.interval\":\"1000\","
        "\"preserved.heart.beat.timeout\":\"2000\","
        "\"preserved.ip.delete.timeout\":\"x\"}",
        "i");
    (void)state;
    assert_non_null(inst);
    assert_int_equal(inst->beat_interval_ms, 1000);
    assert_int_equal(inst->beat_timeout_ms, 2000);
    assert_int_equal(inst->delete_timeout_ms, 30000);
    assert_string_equal(inst->cluster, "DEFAULT");
    lc_instance_unref(inst);
    inst = lc_instance_new("a", 1, "DEFAULT", 1, true, true, true, "{ }", "i");
    assert_non_null(inst);
    assert_string_equal(inst->metadata_text, "{}");
    assert_int_equal(inst->beat_interval_ms, 5000);
    assert_int_equal(inst->beat_timeout_ms, 15000);
    assert_int_equal(inst->delete_timeout_ms, 30000);
    lc_instance_unref(inst);
    /* Not an object: refused. */
    assert_null(lc_instance_new("a", 1, "c", 1, true, true, true, "[1]", "i"));
    assert_null(lc_instance_new("a", 1, "c", 1, true, true, true, "{", "i"));
}

/* ----------------------------------------------------------- names */

static void split_ok(const char *grouped, const char *group,
                     const char *service)
{
    const char *g = NULL;
    const char *s = NULL;
    size_t glen = 99;
    assert_true(lc_split_grouped(grouped, &g, &glen, &s));
    assert_ptr_equal(g, grouped);
    assert_int_equal(glen, strlen(group));
    assert_memory_equal(g, group, glen);
    assert_string_equal(s, service);
}

static void test_split_grouped(void **state)
{
    const char *g = NULL;
    const char *s = NULL;
    size_t glen = 99;
    (void)state;
    split_ok("DEFAULT_GROUP@@svc", "DEFAULT_GROUP", "svc");
    split_ok("g@@a@@b", "g", "a@@b");
    split_ok("@@svc", "", "svc");
    split_ok("g@@", "g", "");
    split_ok("g@@@x", "g", "@x");
    split_ok("a@b@@c", "a@b", "c");
    assert_false(lc_split_grouped("svc", &g, &glen, &s));
    assert_false(lc_split_grouped("a@b", &g, &glen, &s));
    assert_false(lc_split_grouped("", &g, &glen, &s));
    assert_null(g);
    assert_int_equal(glen, 99);
}

static void test_service_key_text(void **state)
{
    struct lc_service_key key = {"public", "DEFAULT_GROUP", "svc"};
    char out[64];
    char tiny[23];
    (void)state;
    assert_true(lc_service_key_text(out, sizeof out, &key));
    assert_string_equal(out, "public\x1f"
                             "DEFAULT_GROUP\x1fsvc");
    /* 6 + 1 + 13 + 1 + 3 = 24 characters: 25 bytes needed. */
    assert_false(lc_service_key_text(tiny, sizeof tiny, &key));
    assert_true(lc_service_key_text(out, 25, &key));
    assert_false(lc_service_key_text(out, 24, &key));
}

/* The five names of a service in one block, freed with the block. */
static void test_service_names(void **state)
{
    const struct lc_service_key key = {"ns-1", "G", "svc.a"};
    char *ns, *group, *name, *grouped;
    char text[64];
    char *block = lc_service_names(&key, &ns, &group, &name, &grouped);
    (void)state;
    assert_non_null(block);
    assert_true(lc_service_key_text(text, sizeof text, &key));
    assert_string_equal(block, text);
    assert_string_equal(ns, "ns-1");
    assert_string_equal(group, "G");
    assert_string_equal(name, "svc.a");
    assert_string_equal(grouped, "G@@svc.a");
    free(block);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instance_id),
        cmocka_unit_test(test_metadata_empty),
        cmocka_unit_test(test_metadata_json),
        cmocka_unit_test(test_metadata_table),
        cmocka_unit_test(test_metadata_kv_split),
        cmocka_unit_test(test_metadata_json_fallback),
        cmocka_unit_test(test_instance_new),
        cmocka_unit_test(test_instance_new_refused),
        cmocka_unit_test(test_instance_equal),
        cmocka_unit_test(test_instance_refs),
        cmocka_unit_test(test_meta_long),
        cmocka_unit_test(test_beat_limits),
        cmocka_unit_test(test_split_grouped),
        cmocka_unit_test(test_service_key_text),
        cmocka_unit_test(test_service_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
