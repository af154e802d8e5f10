/* Unit tests of the replay object table (replay/objects.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "slab_objs.h"

static void test_find_interior_and_pages(void **state)
{
    (void)state;
    struct ht__objtab t = {0};
    struct ht__obj *a = mk(0x1000, 16), *b = mk(0x1010, 32);
    struct ht__obj *big = mk(0x3ff0, 0x2020); /* spans pages 3, 4, 5 */
    struct ht__obj *z = mk(0x8000, 0);        /* zero-sized: one byte */
    assert_int_equal(ht__objtab_insert(&t, a), HT_OK);
    assert_int_equal(ht__objtab_insert(&t, b), HT_OK);
    assert_int_equal(ht__objtab_insert(&t, big), HT_OK);
    assert_int_equal(ht__objtab_insert(&t, z), HT_OK);
    assert_int_equal(ht__objtab_insert(&t, a), HT_EINVAL); /* already held */
    assert_int_equal(t.n, 4);
    assert_true(ht__objtab_is_valid(&t));
    assert_ptr_equal(ht__objtab_find(&t, 0x1000), a);
    assert_ptr_equal(ht__objtab_find(&t, 0x100f), a);
    assert_ptr_equal(ht__objtab_find(&t, 0x1010), b);
    assert_ptr_equal(ht__objtab_find(&t, 0x102f), b);
    assert_null(ht__objtab_find(&t, 0x1030));
    assert_null(ht__objtab_find(&t, 0xfff));
    assert_ptr_equal(ht__objtab_find(&t, 0x3ff0), big);
    assert_ptr_equal(ht__objtab_find(&t, 0x4800), big);     /* page 4 */
    assert_ptr_equal(ht__objtab_find(&t, 0x600f), big);     /* last byte */
    assert_null(ht__objtab_find(&t, 0x6010));
    assert_ptr_equal(ht__objtab_find(&t, 0x8000), z);
    assert_null(ht__objtab_find(&t, 0x8001));
    assert_null(ht__objtab_find(&t, 0));
    assert_ptr_equal(ht__objtab_get(&t, 0x1010), b);
    assert_null(ht__objtab_get(&t, 0x1011));
    /* a move: remove, change, insert */
    assert_ptr_equal(ht__objtab_remove(&t, 0x3ff0), big);
    assert_null(ht__objtab_find(&t, 0x4800));
    big->addr = 0x20000;
    assert_int_equal(ht__objtab_insert(&t, big), HT_OK);
    assert_ptr_equal(ht__objtab_find(&t, 0x21000), big);
    assert_null(ht__objtab_remove(&t, 0x3ff0));
    assert_true(ht__objtab_is_valid(&t));
    done(&t);
}

/* An unpaged table finds only block starts until ht__objtab_index_slab pages
 * it; removals before and inserts after keep it valid. */
static void test_lazy_index(void **state)
{
    (void)state;
    struct ht__objtab t = {0};
    t.unpaged = 1;
    struct ht__obj *a = mk(0x1000, 16), *big = mk(0x3ff0, 0x2020);
    struct ht__obj *gone = mk(0x9000, 8), *late = mk(0x7000, 64);
    assert_int_equal(ht__objtab_insert(&t, a), HT_OK);
    assert_int_equal(ht__objtab_insert(&t, big), HT_OK);
    assert_int_equal(ht__objtab_insert(&t, gone), HT_OK);
    assert_ptr_equal(ht__objtab_find(&t, 0x1000), a);
    assert_null(ht__objtab_find(&t, 0x1008)); /* interior: not yet */
    assert_int_equal(t.pages.n, 0);
    put(ht__objtab_remove(&t, 0x9000));
    assert_true(ht__objtab_is_valid(&t));
    assert_int_equal(ht__objtab_index_slab(&t, &g_slab), HT_OK);
    assert_int_equal(t.unpaged, 0);
    assert_int_equal(ht__objtab_insert(&t, late), HT_OK);
    assert_true(ht__objtab_is_valid(&t));
    assert_ptr_equal(ht__objtab_find(&t, 0x1008), a);
    assert_ptr_equal(ht__objtab_find(&t, 0x5000), big); /* third page */
    assert_ptr_equal(ht__objtab_find(&t, 0x703f), late);
    assert_null(ht__objtab_find(&t, 0x9000));
    assert_int_equal(t.n, 3);
    done(&t);
}

static void test_edges(void **state)
{
    (void)state;
    struct ht__obj *o = mk(0x1000, 64);
    uint64_t old;
    assert_int_equal(ht__obj_set_edge(o, 8, 0x5000, 1, 11, &old), HT_OK);
    assert_int_equal(old, 0);
    assert_int_equal(ht__obj_set_edge(o, 40, 0x6000, 2, 12, &old), HT_OK);
    assert_int_equal(ht__obj_set_edge(o, 8, 0x7000, 3, 13, &old), HT_OK);
    assert_int_equal(old, 0x5000);
    assert_int_equal(o->nedges, 2);
    for (uint32_t i = 0; i < o->nedges; i++)
        if (o->edges[i].off == 8) {
            assert_int_equal(o->edges[i].val, 0x7000);
            assert_int_equal(o->edges[i].seq, 3);
            assert_int_equal(o->edges[i].site, 13);
        }
    ht__obj_truncate(o, 32); /* the slot at 40 is gone */
    assert_int_equal(o->nedges, 1);
    assert_int_equal(o->edges[0].off, 8);
    assert_int_equal(ht__obj_set_edge(o, 8, 0, 4, 14, &old), HT_OK);
    assert_int_equal(old, 0x7000);
    assert_int_equal(o->nedges, 0);
    put(o);
    ht__objslab_fini(&g_slab);
}

/* random inserts/removes against a plain array of what should be held */
static void test_random_against_reference(void **state)
{
    (void)state;
    enum { N = 3000 };
    static uint8_t held[N];
    memset(held, 0, sizeof held);
    struct ht__objtab t = {0};
    unsigned seed = 12345;
    size_t n = 0;
    for (int step = 0; step < 40000; step++) {
        seed = seed * 1103515245u + 12345u;
        unsigned i = (seed >> 8) % N;
        uint64_t addr = 0x10000 + (uint64_t)i * 96; /* 96 bytes apart */
        if (held[i]) {
            struct ht__obj *o = ht__objtab_remove(&t, addr);
            assert_non_null(o);
            put(o);
            held[i] = 0;
            n--;
        } else {
            assert_int_equal(ht__objtab_insert(&t, mk(addr, 80)), HT_OK);
            held[i] = 1;
            n++;
        }
        if (step % 5000 == 0)
            assert_true(ht__objtab_is_valid(&t));
    }
    assert_int_equal(t.n, n);
    for (unsigned i = 0; i < N; i++) {
        uint64_t addr = 0x10000 + (uint64_t)i * 96;
        struct ht__obj *o = ht__objtab_find(&t, addr + 79);
        if (held[i]) {
            assert_non_null(o);
            assert_int_equal(o->addr, addr);
        } else {
            assert_null(o);
        }
        assert_null(ht__objtab_find(&t, addr + 80)); /* the 16-byte gap */
    }
    assert_true(ht__objtab_is_valid(&t));
    done(&t);
}

/* Remove *s from t and put it back, if *s is a block; 1 if it was. */
static int drop_held(struct ht__objtab *t, struct ht__obj **s)
{
    if (!*s)
        return 0;
    assert_ptr_equal(ht__objtab_remove(t, (*s)->addr), *s);
    put(*s);
    *s = NULL;
    return 1;
}

/* Blocks that overlap (a corrupt trace) and span pages: the answer is the
 * one the sorted page vectors gave before the bitmap index - of the blocks
 * overlapping a's page, the one with the greatest start <= a, if it
 * contains a (else NULL: no big block here). Starts at word edges of a
 * page's bitmap (offsets 0, 63, 64, 4095); pages empty and come back, so
 * entries (cov arrays included) are reused from the free list. */
static void test_find_overlapping(void **state)
{
    (void)state;
    enum { SLOTS = 64 };
    static const uint64_t edge[] = {0, 63, 64, 4095};
    const uint64_t base = 0x10000, span = 4 * 4096;
    static struct ht__obj *slot[SLOTS];
    memset(slot, 0, sizeof slot);
    struct ht__objtab t = {0};
    unsigned seed = 4242;
    for (int step = 0; step < 1500; step++) {
        seed = seed * 1103515245u + 12345u;
        unsigned k = (seed >> 8) % SLOTS;
        if (!drop_held(&t, &slot[k])) {
            uint64_t start = (seed >> 16) % 4 == 0
                                 ? base + ((seed >> 4) % 4) * 4096 +
                                       edge[(seed >> 12) % 4]
                                 : base + (seed >> 3) % span;
            uint64_t size = (seed >> 18) % 3 ? (seed >> 5) % 200
                                              : (seed >> 7) % 0x2400;
            slot[k] = mk(start, size);
            if (ht__objtab_insert(&t, slot[k]) != HT_OK) { /* start held */
                assert_non_null(ht__objtab_get(&t, start));
                put(slot[k]);
                slot[k] = NULL;
            }
        }
        if (step % 300 != 299)
            continue;
        assert_true(ht__objtab_is_valid(&t));
        for (uint64_t a = base - 16; a < base + span + 0x2400; a++) {
            struct ht__obj *best = NULL;
            for (unsigned j = 0; j < SLOTS; j++) {
                struct ht__obj *o = slot[j];
                uint64_t end = o ? o->addr + (o->size ? o->size : 1) : 0;
                if (o && o->addr <= a && (end - 1) >> 12 >= a >> 12 &&
                    (!best || o->addr > best->addr))
                    best = o;
            }
            uint64_t bend =
                best ? best->addr + (best->size ? best->size : 1) : 0;
            assert_ptr_equal(ht__objtab_find(&t, a), a < bend ? best : NULL);
        }
    }
    done(&t);
}

/* Invariant 6: a paged table answers NULL outside [lo, hi) of its blocks
 * (a stack slot) without a probe; the bounds cover the blocks held when it
 * was paged (a big one included) and widen with each insert after. */
static void test_find_bounds(void **state)
{
    (void)state;
    struct ht__objtab t = {0};
    t.unpaged = 1;
    struct ht__obj *a = mk(0x5000, 32), *big = mk(0x40000000, 2u << 20);
    struct ht__obj *late = mk(0x7ff000000000, 16);
    assert_int_equal(ht__objtab_insert(&t, a), HT_OK);
    assert_int_equal(ht__objtab_insert(&t, big), HT_OK);
    assert_int_equal(ht__objtab_index_slab(&t, &g_slab), HT_OK);
    assert_int_equal(t.lo, 0x5000);
    assert_int_equal(t.hi, 0x40000000 + (2u << 20));
    assert_true(ht__objtab_is_valid(&t));
    assert_ptr_equal(ht__objtab_find(&t, 0x501f), a);
    assert_ptr_equal(ht__objtab_find(&t, 0x401fffff), big); /* last byte */
    assert_null(ht__objtab_find(&t, 0x40200000));
    assert_null(ht__objtab_find(&t, 0x4fff));
    assert_null(ht__objtab_find(&t, 0x7ff000000008));
    assert_int_equal(ht__objtab_insert(&t, late), HT_OK);
    assert_int_equal(t.hi, 0x7ff000000010);
    assert_ptr_equal(ht__objtab_find(&t, 0x7ff000000008), late);
    /* removal keeps the bounds (they only widen) and the answers */
    put(ht__objtab_remove(&t, 0x5000));
    assert_int_equal(t.lo, 0x5000);
    assert_null(ht__objtab_find(&t, 0x5008));
    assert_true(ht__objtab_is_valid(&t));
    done(&t);
}

/* The page index against a brute-force search of every address: blocks of
 * 0..48 bytes at random offsets in 48-byte cells (some straddle a page, a
 * size-0 block spans one byte), inserted and removed in random order so
 * page vectors grow past their first capacity, shrink, empty and come back,
 * and entries move at the front, middle and end. */
static void test_find_brute_force(void **state)
{
    (void)state;
    enum { CELLS = 256, CELL = 48 };
    const uint64_t base = 0x4000 - 7 * CELL; /* starts on page 3 */
    static struct ht__obj *cell[CELLS];
    memset(cell, 0, sizeof cell);
    struct ht__objtab t = {0};
    unsigned seed = 777;
    for (int step = 0; step < 6000; step++) {
        seed = seed * 1103515245u + 12345u;
        unsigned k = (seed >> 8) % CELLS;
        uint64_t start = base + (uint64_t)k * CELL;
        if (!drop_held(&t, &cell[k])) {
            uint64_t size = (seed >> 20) % (CELL + 1);
            uint64_t off = (seed >> 4) % (CELL - (size ? size : 1) + 1);
            cell[k] = mk(start + off, size);
            assert_int_equal(ht__objtab_insert(&t, cell[k]), HT_OK);
        }
        if (step % 600 != 599)
            continue;
        assert_true(ht__objtab_is_valid(&t));
        for (uint64_t a = base - 64; a < base + CELLS * CELL + 64; a++) {
            struct ht__obj *want = NULL;
            for (unsigned j = 0; j < CELLS; j++) {
                struct ht__obj *o = cell[j];
                if (o && a >= o->addr && a < o->addr + (o->size ? o->size : 1))
                    want = o;
            }
            assert_ptr_equal(ht__objtab_find(&t, a), want);
        }
    }
    done(&t);
}

/* The page index lists each block on the pages it spans: a size changed
 * while the block is held (the caller must remove it first) to span a page
 * more leaves that page without it, which ht__objtab_is_valid reports. */
static void test_stale_end_detected(void **state)
{
    (void)state;
    struct ht__objtab t = {0};
    struct ht__obj *o = mk(0x5000, 64);
    assert_int_equal(ht__objtab_insert(&t, mk(0x5100, 8)), HT_OK);
    assert_int_equal(ht__objtab_insert(&t, o), HT_OK);
    assert_true(ht__objtab_is_valid(&t));
    o->size = 0x1001; /* now ends on page 6 */
    assert_false(ht__objtab_is_valid(&t));
    assert_ptr_equal(ht__objtab_remove(&t, 0x5000), o);
    assert_true(ht__objtab_is_valid(&t));
    o->size = 32;
    assert_int_equal(ht__objtab_insert(&t, o), HT_OK);
    assert_ptr_equal(ht__objtab_find(&t, 0x501f), o);
    assert_null(ht__objtab_find(&t, 0x5020));
    assert_true(ht__objtab_is_valid(&t));
    done(&t);
}

static void test_map(void **state)
{
    (void)state;
    struct ht__map m = {0};
    uint64_t v;
    for (uint64_t k = 1; k <= 1000; k++)
        assert_int_equal(ht__map_put(&m, k * 4096, k), HT_OK);
    for (uint64_t k = 1; k <= 1000; k += 2)
        assert_int_equal(ht__map_del(&m, k * 4096), 1);
    assert_int_equal(ht__map_del(&m, 4096), 0);
    assert_int_equal(m.n, 500);
    for (uint64_t k = 1; k <= 1000; k++) {
        int has = ht__map_get(&m, k * 4096, &v);
        assert_int_equal(has, k % 2 == 0);
        if (has)
            assert_int_equal(v, k);
    }
    ht__map_fini(&m);
}

/* The map grows (load stays below 1/2), replaces a present key's value
 * without counting it twice, and keeps every key reachable. */
static void test_map_growth(void **state)
{
    (void)state;
    struct ht__map m = {0};
    uint64_t v;
    assert_true(ht__map_is_valid(&m));
    assert_int_equal(ht__map_get(&m, 16, &v), 0); /* empty: no slots */
    assert_int_equal(ht__map_del(&m, 16), 0);
    for (uint64_t k = 1; k <= 20000; k++) {
        assert_int_equal(ht__map_put(&m, k * 16, k), HT_OK);
        if (k == 31) /* 31 keys fill 64 slots to just below half */
            assert_int_equal(m.cap, 64);
        if (k == 32)
            assert_int_equal(m.cap, 128);
        if (k % 997 == 0)
            assert_true(ht__map_is_valid(&m));
    }
    assert_int_equal(m.n, 20000);
    assert_int_equal(m.cap, 65536);
    assert_int_equal(ht__map_put(&m, 16 * 777, 5), HT_OK); /* replace */
    assert_int_equal(m.n, 20000);
    for (uint64_t k = 1; k <= 20000; k++) {
        assert_int_equal(ht__map_get(&m, k * 16, &v), 1);
        assert_int_equal(v, k == 777 ? 5 : k);
    }
    assert_int_equal(ht__map_get(&m, 20001 * 16, &v), 0);
    assert_true(ht__map_is_valid(&m));
    ht__map_fini(&m);
    assert_true(ht__map_is_valid(&m));
}

/* Keys whose probe runs wrap from the last slot to slot 0, deleted in
 * several orders: backward-shift deletion must move each survivor back
 * only where its home allows (cyclically), so every survivor stays found. */
static void test_map_delete_wrapping_cluster(void **state)
{
    (void)state;
    struct ht__map m = {0};
    uint64_t v;
    assert_int_equal(ht__map_put(&m, 8, 8), HT_OK); /* cap 64 from here */
    assert_int_equal(ht__map_del(&m, 8), 1);
    assert_int_equal(m.cap, 64);
    /* 4 keys with home 62, 4 with home 63, 3 with home 0, 2 with home 2:
     * one cluster from slot 62 over the end to slot 6 */
    uint64_t keys[13];
    int want[4] = {4, 4, 3, 2}, homes[4] = {62, 63, 0, 2}, nk = 0;
    for (uint64_t a = 16; nk < 13; a += 16) {
        size_t h = ht__map_home(&m, a);
        for (int c = 0; c < 4; c++)
            if ((int)h == homes[c] && want[c]) {
                want[c]--;
                keys[nk++] = a;
            }
    }
    for (int order = 0; order < 4; order++) {
        for (int i = 0; i < 13; i++) /* odd values: freed marks too */
            assert_int_equal(ht__map_put(&m, keys[i], i % 3 ? i : 1), HT_OK);
        assert_int_equal(m.n, 13);
        assert_true(ht__map_is_valid(&m));
        /* slot 63 and 0 are both taken: the cluster wraps */
        assert_int_not_equal(m.s[63].key, 0);
        assert_int_not_equal(m.s[0].key, 0);
        int gone[13] = {0};
        for (int d = 0; d < 13; d++) {
            /* orders: forward, backward, from the middle out, stride 5 */
            int mid = 6 + (d % 2 ? -(d + 1) / 2 : d / 2); /* 6 5 7 4 8.. */
            int i = order == 0   ? d
                    : order == 1 ? 12 - d
                    : order == 2 ? (mid + 13) % 13
                                 : (d * 5) % 13;
            assert_int_equal(ht__map_del(&m, keys[i]), 1);
            assert_int_equal(ht__map_del(&m, keys[i]), 0);
            gone[i] = 1;
            assert_true(ht__map_is_valid(&m));
            for (int k = 0; k < 13; k++) {
                assert_int_equal(ht__map_get(&m, keys[k], &v), !gone[k]);
                if (!gone[k])
                    assert_int_equal(v, k % 3 ? (uint64_t)k : 1);
            }
        }
        assert_int_equal(m.n, 0);
        for (size_t j = 0; j < m.cap; j++)
            assert_int_equal(m.s[j].key, 0);
    }
    ht__map_fini(&m);
}

/* The freed-address set inside the table: a free marks the address, a
 * second free of it finds the mark (a double free), a new block there
 * replaces the mark, and a realloc move marks the old address only. */
static void test_freed_marks(void **state)
{
    (void)state;
    struct ht__objtab t = {0};
    t.unpaged = 1; /* as the replay starts */
    struct ht__obj *a = mk(0x7000, 32);
    assert_int_equal(ht__objtab_insert(&t, a), HT_OK);
    assert_false(ht__objtab_was_freed(&t, 0x7000));
    assert_ptr_equal(ht__objtab_release(&t, 0x7000), a); /* free */
    assert_true(ht__objtab_was_freed(&t, 0x7000));
    assert_null(ht__objtab_get(&t, 0x7000));
    assert_null(ht__objtab_release(&t, 0x7000)); /* double free */
    assert_true(ht__objtab_was_freed(&t, 0x7000));
    assert_false(ht__objtab_was_freed(&t, 0x7008)); /* a store inside it */
    assert_int_equal(t.n, 0);
    assert_true(ht__objtab_is_valid(&t));
    /* reinsertion at the freed address takes the mark's slot */
    size_t keys = t.byaddr.n;
    assert_int_equal(ht__objtab_insert(&t, a), HT_OK);
    assert_int_equal(t.byaddr.n, keys);
    assert_false(ht__objtab_was_freed(&t, 0x7000));
    assert_ptr_equal(ht__objtab_get(&t, 0x7000), a);
    /* mark_freed never hides a live block */
    assert_int_equal(ht__objtab_mark_freed(&t, 0x7000), HT_OK);
    assert_ptr_equal(ht__objtab_get(&t, 0x7000), a);
    assert_false(ht__objtab_was_freed(&t, 0x7000));
    /* a moving realloc: remove (no mark), mark the old address, insert */
    assert_ptr_equal(ht__objtab_remove(&t, 0x7000), a);
    assert_false(ht__objtab_was_freed(&t, 0x7000));
    assert_int_equal(ht__objtab_mark_freed(&t, 0x7000), HT_OK);
    a->addr = 0x9000;
    a->size = 64;
    assert_int_equal(ht__objtab_insert(&t, a), HT_OK);
    assert_true(ht__objtab_was_freed(&t, 0x7000));
    assert_false(ht__objtab_was_freed(&t, 0x9000));
    assert_ptr_equal(ht__objtab_get(&t, 0x9000), a);
    struct ht__obj *dup = mk(0x9000, 8); /* refused: the caller keeps it */
    assert_int_equal(ht__objtab_insert(&t, dup), HT_EINVAL);
    put(dup);
    assert_true(ht__objtab_is_valid(&t));
    /* many blocks freed and reused: marks and objects share one map */
    for (uint64_t r = 0; r < 3; r++) {
        for (uint64_t k = 0; k < 3000; k++)
            assert_int_equal(ht__objtab_insert(&t, mk(0x100000 + k * 48, 40)),
                             HT_OK);
        assert_true(ht__objtab_is_valid(&t));
        for (uint64_t k = 0; k < 3000; k += 1 + (k + r) % 2)
            put(ht__objtab_release(&t, 0x100000 + k * 48));
        for (uint64_t k = 0; k < 3000; k++) {
            struct ht__obj *o = ht__objtab_release(&t, 0x100000 + k * 48);
            assert_true(ht__objtab_was_freed(&t, 0x100000 + k * 48));
            put(o);
        }
        assert_true(ht__objtab_is_valid(&t));
        assert_int_equal(t.n, 1);
    }
    assert_int_equal(t.byaddr.n, 3002); /* a, 0x7000's mark, 3000 marks */
    assert_int_equal(ht__objtab_index_slab(&t, &g_slab), HT_OK);
    assert_ptr_equal(ht__objtab_find(&t, 0x903f), a);
    assert_true(ht__objtab_is_valid(&t));
    done(&t);
}

/* Prefetch hints change nothing, on an empty table, a freed mark, an
 * absent key or a held object, in a table small (no hints) or large. */
static void test_prefetch_no_effect(void **state)
{
    (void)state;
    struct ht__objtab t = {0};
    ht__objtab_prefetch_slot(&t, 0x1000);
    ht__objtab_prefetch_obj(&t, 0x1000);
    struct ht__obj *a = mk(0x1000, 16);
    assert_int_equal(ht__objtab_insert(&t, a), HT_OK);
    assert_int_equal(ht__objtab_insert(&t, mk(0x2000, 16)), HT_OK);
    put(ht__objtab_release(&t, 0x2000));
    for (int big = 0; big < 2; big++) {
        for (uint64_t x = 0x1000; x <= 0x3000; x += 0x1000) {
            ht__objtab_prefetch_slot(&t, x);
            ht__objtab_prefetch_obj(&t, x);
        }
        for (uint64_t k = 0; k < 2100 && !big; k++) /* cap 8192 */
            assert_int_equal(ht__objtab_insert(&t, mk(0x40000 + k * 32, 8)),
                             HT_OK);
    }
    assert_true(t.byaddr.cap >= HT__PREFETCH_MIN_CAP);
    assert_ptr_equal(ht__objtab_get(&t, 0x1000), a);
    assert_true(ht__objtab_was_freed(&t, 0x2000));
    assert_int_equal(t.n, 2101);
    assert_true(ht__objtab_is_valid(&t));
    done(&t);
}

/* The slab hands out zeroed, 64-byte-aligned, distinct slots; a put slot
 * comes back first (LIFO), zeroed, with its edges freed; slots span more
 * than one chunk; fini frees the edges of slots never put back (ASan's
 * leak check in the sanitizer build proves it). */
static void test_objslab(void **state)
{
    (void)state;
    struct ht__objslab s = {0};
    size_t n = HT__SLAB_SLOTS + 10; /* two chunks */
    struct ht__obj **o = calloc(n, sizeof *o);
    assert_non_null(o);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(o[i] = ht__objslab_get(&s));
        assert_int_equal((uintptr_t)o[i] & 63, 0);
        assert_int_equal(o[i]->addr, 0);
        assert_null(o[i]->edges);
        o[i]->addr = 0x1000 + i * 16;
    }
    assert_int_equal(s.nchunks, 2);
    assert_int_equal(s.used, 10);
    for (size_t i = 0; i < n; i++) /* distinct: each kept its addr */
        assert_int_equal(o[i]->addr, 0x1000 + i * 16);
    uint64_t old = 1;
    assert_int_equal(ht__obj_set_edge(o[3], 8, 0x77, 1, 2, &old), HT_OK);
    assert_int_equal(ht__obj_set_edge(o[5], 8, 0x99, 1, 2, &old), HT_OK);
    ht__objslab_put(&s, o[3]);
    ht__objslab_put(&s, o[7]);
    ht__objslab_put(&s, NULL);
    assert_null(o[3]->edges);
    assert_true(ht__objslab_is_valid(&s));
    struct ht__obj *a = ht__objslab_get(&s), *b = ht__objslab_get(&s);
    assert_ptr_equal(a, o[7]);
    assert_ptr_equal(b, o[3]);
    assert_int_equal(b->addr, 0);
    assert_int_equal(b->nedges, 0);
    assert_null(s.free);
    struct ht__obj *c = ht__objslab_get(&s); /* before reading chunks */
    assert_ptr_equal(c, &s.chunks[1][10]);
    assert_true(ht__objslab_is_valid(&s));
    /* a free-list slot holding edges breaks invariant 2 */
    ht__objslab_put(&s, a);
    a->edges = o[5]->edges;
    assert_false(ht__objslab_is_valid(&s));
    a->edges = NULL;
    assert_true(ht__objslab_is_valid(&s));
    free(o);
    ht__objslab_fini(&s); /* frees o[5]'s edges */
    assert_int_equal(s.nchunks, 0);
    assert_null(s.chunks);
}

/* A slab object for [addr, addr + size), inserted in t: held. */
static struct ht__obj *slab_insert(struct ht__objslab *s, struct ht__objtab *t,
                                   uint64_t addr, uint64_t size)
{
    struct ht__obj *o = ht__objslab_get(s);
    assert_non_null(o);
    o->addr = addr;
    o->size = size;
    assert_int_equal(ht__objtab_insert(t, o), HT_OK);
    assert_int_equal(o->held, 1);
    return o;
}

static void count_held(void *ctx, struct ht__obj *o)
{
    (void)o;
    ++*(size_t *)ctx;
}

/* Objects of a slab inserted in a table: held follows insert/detach;
 * each_held visits exactly the table's objects; the slab-walk index finds
 * a held object by an interior address and none for a detached one; trim releases the chunk left with
 * no held slot and rebuilds the free list in ascending address order. */
static void test_objslab_held_index_trim(void **state)
{
    (void)state;
    struct ht__objslab s = {0};
    struct ht__objtab t = {.unpaged = 1};
    size_t n = HT__SLAB_SLOTS + 3, cnt = 0;
    struct ht__obj **o = calloc(n, sizeof *o);
    assert_non_null(o);
    for (size_t i = 0; i < n; i++)
        o[i] = slab_insert(&s, &t, 0x10000 + i * 32, 24);
    /* free every slot of the second chunk and two of the first */
    for (size_t i = HT__SLAB_SLOTS; i < n; i++)
        ht__objslab_put(&s, ht__objtab_release(&t, o[i]->addr));
    ht__objslab_put(&s, ht__objtab_remove(&t, o[9]->addr));
    ht__objslab_put(&s, ht__objtab_release(&t, o[4]->addr));
    assert_int_equal(o[4]->held, 0);
    ht__objslab_each_held(&s, count_held, &cnt);
    assert_int_equal(cnt, HT__SLAB_SLOTS - 2);
    assert_int_equal(cnt, t.n);
    assert_int_equal(ht__objtab_index_slab(&t, &s), HT_OK);
    assert_int_equal(t.unpaged, 0);
    assert_true(ht__objtab_is_valid(&t));
    assert_ptr_equal(ht__objtab_find(&t, 0x10000 + 5 * 32 + 7), o[5]);
    assert_null(ht__objtab_find(&t, 0x10000 + 4 * 32 + 7));
    ht__objslab_trim(&s, t.n); /* the second chunk is freed unread */
    assert_int_equal(s.nchunks, 1);
    assert_int_equal(s.used, HT__SLAB_SLOTS);
    assert_true(ht__objslab_is_valid(&s));
    assert_ptr_equal(ht__objslab_get(&s), o[4]); /* ascending order */
    assert_ptr_equal(ht__objslab_get(&s), o[9]);
    assert_null(s.free);
    struct ht__obj *c = ht__objslab_get(&s); /* before reading chunks */
    assert_int_equal(s.nchunks, 2);
    assert_ptr_equal(c, &s.chunks[1][0]); /* a new chunk */
    free(o);
    ht__objtab_fini_index(&t);
    ht__objslab_fini(&s);
}

/* A map past 2 MiB of slots (its own huge-page mapping) and a slab of
 * several chunks work as the small ones: every key found after each
 * doubling, deletions keep the map valid, fini releases it. */
static void test_big_map_and_slab(void **state)
{
    (void)state;
    struct ht__map m = {0};
    const uint64_t n = 100000; /* cap 262144: 4 MiB of slots */
    for (uint64_t k = 1; k <= n; k++)
        assert_int_equal(ht__map_put(&m, k * 4096, k), HT_OK);
    assert_int_equal(m.cap, 262144);
    assert_true(ht__map_is_valid(&m));
    for (uint64_t k = 1; k <= n; k += 2)
        assert_int_equal(ht__map_del(&m, k * 4096), 1);
    assert_true(ht__map_is_valid(&m));
    for (uint64_t k = 1; k <= n; k++) {
        uint64_t v = 0;
        assert_int_equal(ht__map_get(&m, k * 4096, &v), (int)(k % 2 == 0));
        if (k % 2 == 0)
            assert_int_equal(v, k);
    }
    ht__map_fini(&m);
    assert_int_equal(m.cap, 0);
    struct ht__objslab s = {0};
    for (size_t i = 0; i < 3 * HT__SLAB_SLOTS; i++) {
        struct ht__obj *o = ht__objslab_get(&s);
        assert_non_null(o);
        assert_int_equal((uintptr_t)o % 64, 0);
        assert_int_equal(o->addr | o->size | o->held, 0); /* zeroed */
    }
    assert_int_equal(s.nchunks, 3);
    ht__objslab_fini(&s);
}

/* A table emptied by frees keeps the freed marks: each visits nothing,
 * and trim told no slot is held releases every chunk (the end of a run
 * that freed all its blocks); the slab then starts afresh. */
static void test_objslab_trim_none_held(void **state)
{
    (void)state;
    struct ht__objslab s = {0};
    struct ht__objtab t = {.unpaged = 1};
    size_t n = 2 * HT__SLAB_SLOTS + 5, cnt = 0;
    for (size_t i = 0; i < n; i++)
        slab_insert(&s, &t, 0x10000 + i * 32, 16);
    /* one left held in the last chunk: visited once, its chunk kept */
    for (size_t i = 0; i + 1 < n; i++)
        ht__objslab_put(&s, ht__objtab_release(&t, 0x10000 + i * 32));
    ht__objtab_each(&t, count_held, &cnt);
    assert_int_equal(cnt, 1);
    assert_int_equal(ht__objtab_was_freed(&t, 0x10000), 1);
    struct ht__obj *last = ht__objtab_get(&t, 0x10000 + (n - 1) * 32);
    assert_non_null(last);
    ht__objslab_trim(&s, t.n);
    assert_int_equal(s.nchunks, 1);
    assert_ptr_equal(s.chunks[0], last - 4); /* 5 slots of the third chunk */
    assert_true(ht__objslab_is_valid(&s));
    ht__objslab_put(&s, ht__objtab_release(&t, last->addr));
    cnt = 0;
    ht__objtab_each(&t, count_held, &cnt);
    assert_int_equal(cnt, 0);
    ht__objslab_trim(&s, t.n);
    assert_int_equal(s.nchunks, 0);
    assert_int_equal(s.used, 0);
    assert_null(s.free);
    assert_true(ht__objslab_is_valid(&s));
    struct ht__obj *o = ht__objslab_get(&s);
    assert_non_null(o);
    assert_int_equal(s.nchunks, 1);
    ht__objslab_put(&s, o);
    ht__objtab_fini_index(&t);
    ht__objslab_fini(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_interior_and_pages),
        cmocka_unit_test(test_objslab_trim_none_held),
        cmocka_unit_test(test_big_map_and_slab),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_lazy_index),
        cmocka_unit_test(test_random_against_reference),
        cmocka_unit_test(test_find_bounds),
        cmocka_unit_test(test_find_brute_force),
        cmocka_unit_test(test_find_overlapping),
        cmocka_unit_test(test_stale_end_detected),
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_map_growth),
        cmocka_unit_test(test_map_delete_wrapping_cluster),
        cmocka_unit_test(test_freed_marks),
        cmocka_unit_test(test_prefetch_no_effect),
        cmocka_unit_test(test_objslab),
        cmocka_unit_test(test_objslab_held_index_trim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
