/*
 * The pseudo-random operation sequence shared by the golden harness
 * (golden.c, run inside CPython) and tests/replay/test_pymalloc.c (run
 * through the model). Header-only so both sides compile the same code.
 *
 * Phases of `phase` operations (20,000 or 100,000 in the fixtures) alternate between growth (70% malloc) and
 * shrinkage (30% malloc); 5% of operations are reallocs. Sizes are 0..599,
 * so some requests go to the raw allocator (0 and > 512).
 */
#ifndef HT_GOLDEN_OPS_H
#define HT_GOLDEN_OPS_H

#include <stdint.h>

#define HT_GOLDEN_MAX_LIVE (1L << 20)

enum { HT_GOLDEN_MALLOC, HT_GOLDEN_FREE, HT_GOLDEN_REALLOC };

struct ht_golden_gen { uint64_t x; };
struct ht_golden_op { int kind; long index; uint64_t size; };

static inline void ht_golden_init(struct ht_golden_gen *g, uint64_t seed)
{
    g->x = seed * 2862933555777941757ULL + 3037000493ULL;
}

static inline uint32_t ht_golden_rand(struct ht_golden_gen *g)
{
    g->x = g->x * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(g->x >> 33);
}

/* Operation number i (1-based) given the current number of live blocks. */
static inline struct ht_golden_op ht_golden_next(struct ht_golden_gen *g,
                                                 long i, long nlive,
                                                 long phase)
{
    struct ht_golden_op op = {HT_GOLDEN_MALLOC, 0, 0};
    uint32_t r = ht_golden_rand(g) % 100;
    uint32_t grow = ((i - 1) / phase) % 2 == 0 ? 70 : 30;
    if (nlive > 0 && r < 5) {
        op.kind = HT_GOLDEN_REALLOC;
        op.index = (long)(ht_golden_rand(g) % (uint32_t)nlive);
        op.size = ht_golden_rand(g) % 600;
    } else if (nlive > 0 && (r >= grow || nlive >= HT_GOLDEN_MAX_LIVE)) {
        op.kind = HT_GOLDEN_FREE;
        op.index = (long)(ht_golden_rand(g) % (uint32_t)nlive);
    } else {
        op.size = ht_golden_rand(g) % 600;
    }
    return op;
}

/*
 * The scripted "tie" scenario (ht_golden_script): exercises the rule that,
 * among arenas with equal free-pool counts, the one that just changed
 * becomes the leftmost of usable_arenas (cpython-memory.md §1.6), through a
 * difference in arena release that the printed counters show.
 *
 * From a state where no arena has a free pool:
 *   fill: allocate 4*64 pools' worth of 496-byte blocks -> arenas A B C D
 *         full (plus, with 63-pool arenas, 4 pools of an arena E);
 *   1. empty every pool of D: 3.9+ keeps it as the last of usable_arenas
 *      (so that A, below, is never last), 3.8 releases it;
 *   2. empty pool 0 of A, B, C;        usable = [C B A ...]
 *   3. empty pool 1 of A: A stays;     [C B A(2) ...]
 *   4. empty pool 1 of C: C moves after B, leftmost of the 2s: [B C A ...]
 *   5. allocate two pools' worth of 480-byte blocks: one pool from B, one
 *      from C (it precedes A);
 *   6. free every remaining block of A: A is wholly empty and (3.9+) D is
 *      to its right, so A is released; had the second pool come from A, A
 *      would stay.
 * Dumps are taken after step 4 ("tie1"), after 6 ("tie2") and after freeing
 * everything ("tie3").
 */
struct ht_golden_api {
    void *ctx;
    uint64_t (*alloc)(void *ctx, uint64_t size);
    void (*release)(void *ctx, uint64_t addr);
    void (*dump)(void *ctx, const char *title, long n);
};

#define HT_GOLDEN_SCRIPT_POOLS (4 * 64)

/* blocks: room for HT_GOLDEN_SCRIPT_POOLS * blocks-per-pool(496) + 2 *
 * blocks-per-pool(480) entries. Returns 0, or -1 if the pool layout was not
 * the expected one. */
static inline int ht_golden_script(const struct ht_golden_api *api,
                                   uint64_t pool_size, uint64_t *blocks)
{
    long nb = (long)((pool_size - 48) / 496), nb2 = (long)((pool_size - 48) / 480);
    long npools = HT_GOLDEN_SCRIPT_POOLS, n = npools * nb;
    long first[6], na = 0;   /* first pool index of each arena */
    for (long i = 0; i < n; i++)
        blocks[i] = api->alloc(api->ctx, 496);
    /* Arenas are runs of address-consecutive pools of at most 64 pools. */
    for (long q = 0; q < npools && na < 6; q++) {
        uint64_t pa = blocks[q * nb] - 48;
        if (blocks[q * nb] % pool_size != 48)
            return -1;
        if (q == 0 || pa != blocks[(q - 1) * nb] - 48 + pool_size ||
            q - first[na - 1] == 64)
            first[na++] = q;
    }
    if (na < 4)
        return -1;
    long a0 = first[0], b0 = first[1], c0 = first[2], d0 = first[3];
    long aend = first[1], dend = na > 4 ? first[4] : npools;
#define HT_GOLDEN_FREE_POOL(q)                                              \
    for (long j = (q) * nb; j < (q) * nb + nb; j++)                         \
        api->release(api->ctx, blocks[j]), blocks[j] = 0
    for (long q = d0; q < dend; q++)
        HT_GOLDEN_FREE_POOL(q);
    HT_GOLDEN_FREE_POOL(a0);
    HT_GOLDEN_FREE_POOL(b0);
    HT_GOLDEN_FREE_POOL(c0);
    HT_GOLDEN_FREE_POOL(a0 + 1);
    HT_GOLDEN_FREE_POOL(c0 + 1);
    api->dump(api->ctx, "tie1", 0);
    for (long i = 0; i < 2 * nb2; i++)
        blocks[n + i] = api->alloc(api->ctx, 480);
    for (long q = a0 + 2; q < aend; q++)
        HT_GOLDEN_FREE_POOL(q);
    api->dump(api->ctx, "tie2", 0);
    for (long i = 0; i < n + 2 * nb2; i++)
        if (blocks[i])
            api->release(api->ctx, blocks[i]);
    api->dump(api->ctx, "tie3", 0);
#undef HT_GOLDEN_FREE_POOL
    return 0;
}

#endif
