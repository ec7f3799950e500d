/* Tests of rpc/grpc/payload.c: Nacos's Payload (Metadata + Any of JSON). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "rpc/grpc/nacos_grpc_service.pb-c.h"
#include "rpc/grpc/rpc.h"

/* Encode, decode, and compare. */
static void test_round_trip(void **state)
{
    json_t *body = json_pack("{s:s, s:i, s:{s:s}, s:[i, n]}", "module",
                             "naming", "n", 42, "inner", "k", "v", "list", 1);
    json_t *headers = json_pack("{s:s, s:s, s:i}", "accessToken", "abc", "app",
                                "unknown", "skipped", 3);
    struct lc_payload p;
    uint8_t *buf;
    size_t len;
    json_t *out;
    (void)state;

    assert_int_equal(
        lc_payload_encode("InstanceRequest", body, headers, &buf, &len), 0);
    assert_int_equal(lc_payload_decode(buf, len, &p), 0);
    assert_string_equal(p.type, "InstanceRequest");
    assert_string_equal(p.client_ip, "");
    assert_int_equal(json_object_size(p.headers), 2);
    assert_string_equal(
        json_string_value(json_object_get(p.headers, "accessToken")), "abc");
    assert_string_equal(json_string_value(json_object_get(p.headers, "app")),
                        "unknown");
    assert_int_equal(p.body_len, strlen(p.body));
    assert_string_equal(
        p.body,
        "{\"module\":\"naming\",\"n\":42,\"inner\":{\"k\":\"v\"},\"list\":[1,"
        "null]}");
    assert_int_equal(lc_payload_json(&p, &out), 0);
    assert_true(json_equal(out, body));
    json_decref(out);
    lc_payload_free(&p);
    free(buf);
    json_decref(body);
    json_decref(headers);
}

/* Null object members are left out, at any depth (Jackson NON_NULL);
 * nulls inside arrays stay; the caller's object is not changed. */
static void test_nulls_left_out(void **state)
{
    json_t *body = json_pack("{s:n, s:s, s:{s:n, s:i}, s:[n, {s:n}]}", "a", "b",
                             "x", "c", "d", "e", 1, "f", "g");
    struct lc_payload p;
    uint8_t *buf;
    size_t len;
    (void)state;

    assert_int_equal(lc_payload_encode("T", body, NULL, &buf, &len), 0);
    assert_int_equal(lc_payload_decode(buf, len, &p), 0);
    assert_string_equal(p.body,
                        "{\"b\":\"x\",\"c\":{\"e\":1},\"f\":[null,{}]}");
    assert_non_null(json_object_get(body, "a"));
    lc_payload_free(&p);
    free(buf);
    json_decref(body);
}

static void test_bad_protobuf(void **state)
{
    static const uint8_t bad[][4] = {
        {0x12, 0x05, 0x1a, 0x01}, /* metadata longer than the input */
        {0xff, 0xff, 0xff, 0xff}, /* truncated varint tag */
        {0x12, 0x02, 0x1a, 0x7f}, /* type's length past metadata */
        {0x1a, 0x02, 0x12, 0x09}, /* Any.value's length past Any */
    };
    struct lc_payload p;
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(lc_payload_decode(bad[i], sizeof bad[i], &p),
                         LC_EPROTO);
    }
    /* Not UTF-8 in a header. */
    {
        Locus__Grpc__Payload msg = LOCUS__GRPC__PAYLOAD__INIT;
        Locus__Grpc__Metadata md = LOCUS__GRPC__METADATA__INIT;
        Locus__Grpc__Metadata__HeadersEntry e =
            LOCUS__GRPC__METADATA__HEADERS_ENTRY__INIT;
        Locus__Grpc__Metadata__HeadersEntry *ep = &e;
        uint8_t buf[64];
        size_t len;
        e.key = "k";
        e.value = "\xff\xfe";
        md.type = "T";
        md.n_headers = 1;
        md.headers = &ep;
        msg.metadata = &md;
        len = locus__grpc__payload__pack(&msg, buf);
        assert_int_equal(lc_payload_decode(buf, len, &p), LC_EPROTO);
    }
}

/* The empty message is a Payload of nothing: type "", body "". */
static void test_missing_fields(void **state)
{
    struct lc_payload p;
    json_t *out;
    static const uint8_t only_type[] = {0x12, 0x03, 0x1a, 0x01, 'X'};
    (void)state;

    assert_int_equal(lc_payload_decode((const uint8_t *)"", 0, &p), 0);
    assert_string_equal(p.type, "");
    assert_string_equal(p.client_ip, "");
    assert_string_equal(p.body, "");
    assert_int_equal(p.body_len, 0);
    assert_int_equal(json_object_size(p.headers), 0);
    assert_int_equal(lc_payload_json(&p, &out), LC_EPROTO);
    assert_null(out);
    lc_payload_free(&p);

    assert_int_equal(lc_payload_decode(only_type, sizeof only_type, &p), 0);
    assert_string_equal(p.type, "X");
    assert_int_equal(lc_payload_json(&p, &out), LC_EPROTO);
    lc_payload_free(&p);
}

static void decode_body(const char *json, struct lc_payload *p)
{
    Locus__Grpc__Payload msg = LOCUS__GRPC__PAYLOAD__INIT;
    Locus__Grpc__Metadata md = LOCUS__GRPC__METADATA__INIT;
    Locus__Grpc__Any any = LOCUS__GRPC__ANY__INIT;
    uint8_t buf[256];
    size_t len;

    md.type = "T";
    md.clientip = "127.0.0.9";
    any.value.data = (uint8_t *)json;
    any.value.len = strlen(json);
    msg.metadata = &md;
    msg.body = &any;
    assert_true(locus__grpc__payload__get_packed_size(&msg) <= sizeof buf);
    len = locus__grpc__payload__pack(&msg, buf);
    assert_int_equal(lc_payload_decode(buf, len, p), 0);
    assert_string_equal(p->client_ip, "127.0.0.9");
}

static void test_non_object_json(void **state)
{
    static const char *bodies[] = {"[1,2]", "\"s\"", "42",       "null",
                                   "{",     "{}x",   "{\"a\":}", "\xff"};
    struct lc_payload p;
    json_t *out;
    (void)state;

    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        decode_body(bodies[i], &p);
        assert_int_equal(lc_payload_json(&p, &out), LC_EPROTO);
        assert_null(out);
        lc_payload_free(&p);
    }
    decode_body(" {\"a\":1} ", &p);
    assert_int_equal(lc_payload_json(&p, &out), 0);
    assert_int_equal(json_integer_value(json_object_get(out, "a")), 1);
    json_decref(out);
    lc_payload_free(&p);
}

/* Fields the Payload does not know are skipped, at both levels, whatever
 * their wire type; the body's type_url is ignored. */
static void test_unknown_fields(void **state)
{
    static const uint8_t msg[] = {
        0x08, 0x96, 0x01,                         /* field 1 varint 150 */
        0x12, 0x0a,                               /* metadata, 10 bytes */
        0x1a, 0x01, 'T',                          /* type "T" */
        0x25, 0x01, 0x02, 0x03, 0x04,             /* field 4 fixed32 */
        0x30, 0x07,                               /* field 6 varint */
        0x1a, 0x0b,                               /* body, 11 bytes */
        0x0a, 0x03, 'u',  'r',  'l',              /* type_url "url" */
        0x12, 0x02, '{',  '}',                    /* value "{}" */
        0x18, 0x01,                               /* field 3 varint */
        0x29, 1,    2,    3,    4,    5, 6, 7, 8, /* field 5 fixed64 */
    };
    struct lc_payload p;
    json_t *out;
    (void)state;

    assert_int_equal(lc_payload_decode(msg, sizeof msg, &p), 0);
    assert_string_equal(p.type, "T");
    assert_string_equal(p.body, "{}");
    assert_int_equal(lc_payload_json(&p, &out), 0);
    json_decref(out);
    lc_payload_free(&p);
}

/* A repeated header key keeps its last value (protobuf's map semantics). */
static void test_headers_map(void **state)
{
    Locus__Grpc__Payload msg = LOCUS__GRPC__PAYLOAD__INIT;
    Locus__Grpc__Metadata md = LOCUS__GRPC__METADATA__INIT;
    Locus__Grpc__Metadata__HeadersEntry e[3] = {
        LOCUS__GRPC__METADATA__HEADERS_ENTRY__INIT,
        LOCUS__GRPC__METADATA__HEADERS_ENTRY__INIT,
        LOCUS__GRPC__METADATA__HEADERS_ENTRY__INIT};
    Locus__Grpc__Metadata__HeadersEntry *ep[3] = {&e[0], &e[1], &e[2]};
    struct lc_payload p;
    uint8_t buf[128];
    size_t len;
    (void)state;

    e[0].key = "a";
    e[0].value = "1";
    e[1].key = "b";
    e[1].value = "";
    e[2].key = "a";
    e[2].value = "3";
    md.n_headers = 3;
    md.headers = ep;
    msg.metadata = &md;
    len = locus__grpc__payload__pack(&msg, buf);
    assert_int_equal(lc_payload_decode(buf, len, &p), 0);
    assert_int_equal(json_object_size(p.headers), 2);
    assert_string_equal(json_string_value(json_object_get(p.headers, "a")),
                        "3");
    assert_string_equal(json_string_value(json_object_get(p.headers, "b")), "");
    lc_payload_free(&p);
}

/* What Nacos sends is what protobuf-c makes of the same fields: the codec
 * adds nothing (type_url empty, no clientIp). */
static void test_wire_shape(void **state)
{
    json_t *body = json_pack("{s:s}", "module", "internal");
    Locus__Grpc__Payload *msg;
    uint8_t *buf;
    size_t len;
    (void)state;

    assert_int_equal(
        lc_payload_encode("ServerCheckRequest", body, NULL, &buf, &len), 0);
    msg = locus__grpc__payload__unpack(NULL, len, buf);
    assert_non_null(msg);
    assert_non_null(msg->metadata);
    assert_string_equal(msg->metadata->type, "ServerCheckRequest");
    assert_string_equal(msg->metadata->clientip, "");
    assert_int_equal(msg->metadata->n_headers, 0);
    assert_non_null(msg->body);
    assert_string_equal(msg->body->type_url, "");
    assert_int_equal(msg->body->value.len, strlen("{\"module\":\"internal\"}"));
    assert_memory_equal(msg->body->value.data, "{\"module\":\"internal\"}",
                        msg->body->value.len);
    locus__grpc__payload__free_unpacked(msg, NULL);
    free(buf);
    json_decref(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_nulls_left_out),
        cmocka_unit_test(test_bad_protobuf),
        cmocka_unit_test(test_missing_fields),
        cmocka_unit_test(test_non_object_json),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_headers_map),
        cmocka_unit_test(test_wire_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
