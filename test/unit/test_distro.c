/* distro/mapper.c: Java's String.hashCode and DistroMapper's hash, checked
 * against values computed by Java 17 (String.hashCode, Math.abs(h %
 * Integer.MAX_VALUE)). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "distro/mapper.h"

static void test_distro_hash_and_index(void **state)
{
    (void)state;
    assert_int_equal(lc_distro_hash("127.0.0.1:8080"), 35736627);
    assert_int_equal(lc_distro_hash("192.168.1.254:49152"), 763275164);
    assert_int_equal(lc_distro_index("127.0.0.1:8080", 3), 0);
    assert_int_equal(lc_distro_index("a", 3), 1);
    assert_int_equal(lc_distro_index("zz:65535", 3), 2);
    assert_int_equal(lc_distro_index("192.168.1.254:49152", 3), 2);
    assert_int_equal(lc_distro_index("192.168.1.254:49152", 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distro_hash_and_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
