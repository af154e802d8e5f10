/*
 * Regression tests for the object table (replay/objects.c) found by
 * fuzz/fuzz_summary: an ALLOC record with a size near 2^64 (corrupt trace)
 * made ht__objtab_insert index 2^52 pages and exhaust memory. Blocks above
 * 1 MiB are now held outside the page index (a sorted array searched when no
 * page holds a containing block), so any size is held at the cost of one
 * entry: a real program's 5 GiB buffer is tracked, and a block wrapping the
 * address space ends at 2^64.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "slab_objs.h"

static void test_huge_blocks_held(void **state)
{
    (void)state;
    struct ht__objtab t = {0};
    t.unpaged = 1;
    struct ht__obj *w = mk(UINT64_MAX - 0xfff, UINT64_MAX - 0x10); /* wraps */
    struct ht__obj *g = mk(0x100000000, (UINT64_C(5) << 30)); /* 5 GiB */
    struct ht__obj *h = mk(0x10000, UINT64_C(1) << 60);
    struct ht__obj *s = mk(0x20000, 64); /* inside h */
    assert_int_equal(ht__objtab_insert(&t, w), HT_OK);
    assert_int_equal(ht__objtab_insert(&t, g), HT_OK);
    assert_int_equal(ht__objtab_insert(&t, s), HT_OK);
    assert_int_equal(ht__objtab_insert(&t, h), HT_OK);
    assert_int_equal(t.n, 4);
    assert_true(ht__objtab_is_valid(&t));
    /* unpaged: exact addresses only */
    assert_ptr_equal(ht__objtab_find(&t, 0x100000000), g);
    assert_null(ht__objtab_find(&t, 0x100000008));
    assert_int_equal(ht__objtab_index_slab(&t, &g_slab), HT_OK);
    assert_int_equal(t.pages.n, 1); /* s's page only */
    assert_true(ht__objtab_is_valid(&t));
    assert_ptr_equal(ht__objtab_find(&t, 0x20010), s);
    /* inside h, on s's page past s and on a page of its own: the big array
     * answers */
    assert_ptr_equal(ht__objtab_find(&t, 0x20100), h);
    assert_ptr_equal(ht__objtab_find(&t, 0x10008), h);
    /* g starts inside h's range: the later start wins, as in a page */
    assert_ptr_equal(ht__objtab_find(&t, 0x100000000 + (UINT64_C(5) << 30) - 1), g);
    assert_ptr_equal(ht__objtab_find(&t, UINT64_MAX - 1), w);
    assert_ptr_equal(ht__objtab_find(&t, UINT64_MAX - 0xfff), w);
    assert_null(ht__objtab_find(&t, 0x8000));
    assert_ptr_equal(ht__objtab_remove(&t, 0x10000), h);
    assert_null(ht__objtab_find(&t, 0x20100));
    assert_ptr_equal(ht__objtab_find(&t, 0x20000), s);
    assert_ptr_equal(ht__objtab_release(&t, 0x100000000), g);
    assert_true(ht__objtab_was_freed(&t, 0x100000000));
    assert_null(ht__objtab_find(&t, 0x100000010));
    assert_int_equal(t.n, 2);
    assert_int_equal(t.nbig, 1);
    assert_true(ht__objtab_is_valid(&t));
    put(h);
    put(g);
    done(&t);
}

static void test_large_block_indexed(void **state)
{
    (void)state;
    struct ht__objtab t = {0};
    struct ht__obj *o = mk(0x10000, 3 * 4096 + 1); /* pages 0x10..0x13 */
    assert_int_equal(ht__objtab_insert(&t, o), HT_OK);
    assert_int_equal(t.n, 1);
    assert_ptr_equal(ht__objtab_find(&t, 0x10000 + 3 * 4096), o);
    assert_null(ht__objtab_find(&t, 0x10000 + 3 * 4096 + 1));
    assert_true(ht__objtab_is_valid(&t));
    done(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_huge_blocks_held),
        cmocka_unit_test(test_large_block_indexed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
