/* Tests of the WriteRequest codec in statemachine/statemachine.c: entries
 * padded to a multiple of 8 that still decode as a plain WriteRequest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <raft.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "statemachine/statemachine.h"

/* Encode, check the length and the padding, decode, compare every field. */
static void round_trip(const char *group, const char *key,
                       const char *operation, const char *type,
                       const uint8_t *data, size_t len)
{
    Locus__Consistency__WriteRequest plain =
        LOCUS__CONSISTENCY__WRITE_REQUEST__INIT;
    Locus__Consistency__WriteRequest *req;
    void *buf = NULL;
    size_t buflen = 0;
    size_t n;
    uint8_t *bytes;
    uint8_t *expect;

    assert_int_equal(lc_sm_encode_write(group, key, operation, type, data, len,
                                        &buf, &buflen),
                     0);
    assert_non_null(buf);
    assert_true(buflen > 0);
    assert_int_equal(buflen % 8, 0);
    bytes = buf;

    /* The head is exactly what protobuf-c makes of the same fields; the
     * rest is one field 15 (bytes) of zeros: tag, length, zeros. */
    plain.group = (char *)group;
    plain.key = (char *)(key != NULL ? key : "");
    plain.operation = (char *)(operation != NULL ? operation : "");
    plain.type = (char *)(type != NULL ? type : "");
    plain.data.data = (uint8_t *)data;
    plain.data.len = len;
    n = locus__consistency__write_request__get_packed_size(&plain);
    assert_true(buflen >= n + 2);
    assert_true(buflen <= n + 9);
    expect = malloc(n > 0 ? n : 1);
    assert_non_null(expect);
    locus__consistency__write_request__pack(&plain, expect);
    assert_memory_equal(bytes, expect, n);
    free(expect);
    assert_int_equal(bytes[n], (15 << 3) | 2);
    assert_int_equal(bytes[n + 1], buflen - n - 2);
    for (size_t i = n + 2; i < buflen; i++) {
        assert_int_equal(bytes[i], 0);
    }

    req = locus__consistency__write_request__unpack(NULL, buflen, buf);
    assert_non_null(req);
    assert_string_equal(req->group, group);
    assert_string_equal(req->key, key != NULL ? key : "");
    assert_string_equal(req->operation, operation != NULL ? operation : "");
    assert_string_equal(req->type, type != NULL ? type : "");
    assert_int_equal(req->data.len, len);
    if (len > 0) {
        assert_memory_equal(req->data.data, data, len);
    }
    assert_int_equal(req->n_extendinfo, 0);
    /* The padding is kept as one unknown field, not mistaken for data. */
    assert_int_equal(req->base.n_unknown_fields, 1);
    assert_int_equal(req->base.unknown_fields[0].tag, 15);
    assert_int_equal(req->base.unknown_fields[0].wire_type,
                     PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED);
    /* protobuf-c keeps what follows the tag: the length byte, the zeros. */
    assert_int_equal(req->base.unknown_fields[0].len, buflen - n - 1);
    assert_int_equal(req->base.unknown_fields[0].data[0], buflen - n - 2);
    locus__consistency__write_request__free_unpacked(req, NULL);
    raft_free(buf);
}

static void fill(char *s, size_t n, char c)
{
    memset(s, c, n);
    s[n] = '\0';
}

static void test_many_sizes(void **state)
{
    static const size_t key_lens[] = {0, 1, 2, 3, 5, 7, 8, 13, 16, 21};
    static const size_t op_lens[] = {0, 1, 3, 6, 7, 8};
    uint8_t data[101];
    char key[32];
    char op[16];
    unsigned seen_pad[10] = {0};
    (void)state;

    for (size_t i = 0; i < sizeof data; i++) {
        data[i] = (uint8_t)(i * 37 + 11);
    }
    for (size_t d = 0; d <= 100; d++) {
        for (size_t k = 0; k < LC_ARRAY_SIZE(key_lens); k++) {
            for (size_t o = 0; o < LC_ARRAY_SIZE(op_lens); o++) {
                fill(key, key_lens[k], 'k');
                fill(op, op_lens[o], 'o');
                round_trip("naming_persistent_service_v2", key, op, "", data,
                           d);
                round_trip("g", key, op, "t", data, d);
            }
        }
    }
    /* Every padding length from 2 to 9 occurs for some size. */
    for (size_t d = 0; d < 16; d++) {
        Locus__Consistency__WriteRequest plain =
            LOCUS__CONSISTENCY__WRITE_REQUEST__INIT;
        plain.group = "g";
        plain.data.data = data;
        plain.data.len = d;
        size_t n = locus__consistency__write_request__get_packed_size(&plain);
        void *buf;
        size_t buflen;
        assert_int_equal(
            lc_sm_encode_write("g", "", "", "", data, d, &buf, &buflen), 0);
        seen_pad[buflen - n]++;
        raft_free(buf);
    }
    for (size_t p = 2; p <= 9; p++) {
        assert_true(seen_pad[p] > 0);
    }
}

static void test_varint_boundaries(void **state)
{
    /* Lengths around one- and two-byte varints of the data field. */
    static const size_t lens[] = {126,   127,   128,   129,   255,  256,
                                  16382, 16383, 16384, 16385, 70000};
    uint8_t *data = malloc(70000);
    (void)state;
    assert_non_null(data);
    for (size_t i = 0; i < 70000; i++) {
        data[i] = (uint8_t)(i ^ (i >> 8));
    }
    for (size_t i = 0; i < LC_ARRAY_SIZE(lens); i++) {
        round_trip("naming_instance_metadata", "127.2.3.4:80:DEFAULT", "u", "",
                   data, lens[i]);
    }
    free(data);
}

static void test_all_fields(void **state)
{
    static const uint8_t bin[] = {0, 0xff, 0x7a, 0x02, 0, 0};
    (void)state;
    round_trip("g", "key", "op", "type", bin, sizeof bin);
    round_trip("g", NULL, NULL, NULL, NULL, 0);
    round_trip("naming_persistent_service_v2", "ns##grp@@svc", "Write",
               "com.example.Type", (const uint8_t *)"{}", 2);
    /* A key made of the pad tag itself is still just a key. */
    round_trip("g", "zzzzzzz", "", "", bin, 3);
}

static void test_entry_is_not_empty(void **state)
{
    void *buf = NULL;
    size_t buflen = 0;
    (void)state;
    /* Even an all-default request has the group and the pad field. */
    assert_int_equal(lc_sm_encode_write("", "", "", "", NULL, 0, &buf, &buflen),
                     0);
    assert_int_equal(buflen, 8);
    assert_int_equal(((uint8_t *)buf)[0], 0x7a);
    assert_int_equal(((uint8_t *)buf)[1], 6);
    raft_free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_sizes),
        cmocka_unit_test(test_varint_boundaries),
        cmocka_unit_test(test_all_fields),
        cmocka_unit_test(test_entry_is_not_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
