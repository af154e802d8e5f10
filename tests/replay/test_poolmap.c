/* ht_pym_each_pool: every pool of every live arena, with exact occupancy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "heaptrail/pymalloc.h"

struct tally {
    unsigned pools, used_pools, stop_after;
    uint32_t cls[4], used[4], total[4];
};

static int each(void *ctx, const struct ht_pym_pool_info *p)
{
    struct tally *t = ctx;
    t->pools++;
    if (p->size_class >= 0) {
        assert_true(t->used_pools < 4);
        t->cls[t->used_pools] = (uint32_t)p->size_class;
        t->used[t->used_pools] = p->used;
        t->total[t->used_pools++] = p->total;
    } else {
        assert_int_equal(p->used, 0);
        assert_int_equal(p->total, 0);
    }
    return t->stop_after && t->pools == t->stop_after ? 7 : 0;
}

static void test_each_pool(void **state)
{
    (void)state;
    struct ht_pym_config cfg = {"3.12", 0};
    ht_pym *m = NULL;
    assert_int_equal(ht_pym_new(&cfg, &m), HT_OK);
    struct tally t = {0};
    assert_int_equal(ht_pym_each_pool(m, each, &t), 0);
    assert_int_equal(t.pools, 0); /* no arena yet */

    uint64_t a[3], big, freed;
    for (int i = 0; i < 3; i++)
        assert_int_equal(ht_pym_malloc(m, 16, &a[i]), HT_OK);
    assert_int_equal(ht_pym_malloc(m, 512, &big), HT_OK);
    assert_int_equal(ht_pym_malloc(m, 100, &freed), HT_OK);
    assert_int_equal(ht_pym_release(m, freed), HT_OK); /* its pool empties */
    t = (struct tally){0};
    assert_int_equal(ht_pym_each_pool(m, each, &t), 0);
    assert_int_equal(t.pools, 64); /* one 64-pool arena */
    assert_int_equal(t.used_pools, 2);
    assert_int_equal(t.cls[0], 0);
    assert_int_equal(t.used[0], 3);
    assert_int_equal(t.total[0], ht_pym_class_blocks(m, 0));
    assert_int_equal(t.cls[1], 31);
    assert_int_equal(t.used[1], 1);
    assert_int_equal(t.total[1], ht_pym_class_blocks(m, 31));

    t = (struct tally){.stop_after = 5};
    assert_int_equal(ht_pym_each_pool(m, each, &t), 7);
    assert_int_equal(t.pools, 5);
    ht_pym_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
