/*
 * Regression tests for the object table (replay/objects.c) found by
 * fuzz/fuzz_summary: an ALLOC record with a size near 2^64 (corrupt trace)
 * made ht__objtab_insert index 2^52 pages and exhaust memory. Blocks larger
 * than 4 GiB or wrapping the address space are now refused with HT_EINVAL
 * and leave the table unchanged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "replay_int.h"

static void test_huge_block_refused(void **state)
{
    (void)state;
    struct ht__objtab t = {0};
    struct ht__obj *o = calloc(1, sizeof *o);
    assert_non_null(o);
    o->addr = 0x10000;
    o->size = UINT64_MAX - 0x10; /* wraps the address space */
    assert_int_equal(ht__objtab_insert(&t, o), HT_EINVAL);
    o->size = (UINT64_C(1) << 32) + 1; /* just over the 4 GiB limit */
    assert_int_equal(ht__objtab_insert(&t, o), HT_EINVAL);
    assert_int_equal(t.n, 0);
    assert_null(ht__objtab_get(&t, 0x10000));
    assert_true(ht__objtab_is_valid(&t));
    free(o);
    ht__objtab_fini(&t);
}

static void test_large_block_indexed(void **state)
{
    (void)state;
    struct ht__objtab t = {0};
    struct ht__obj *o = calloc(1, sizeof *o);
    assert_non_null(o);
    o->addr = 0x10000;
    o->size = 3 * 4096 + 1; /* spans pages 0x10..0x13 */
    assert_int_equal(ht__objtab_insert(&t, o), HT_OK);
    assert_int_equal(t.n, 1);
    assert_ptr_equal(ht__objtab_find(&t, 0x10000 + 3 * 4096), o);
    assert_null(ht__objtab_find(&t, 0x10000 + 3 * 4096 + 1));
    assert_true(ht__objtab_is_valid(&t));
    ht__objtab_fini(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_huge_block_refused),
        cmocka_unit_test(test_large_block_indexed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
