/*
 * pymalloc model: CPython's obmalloc with simulated addresses.
 *
 * Data structures (mirroring obmalloc.c, indices instead of pointers):
 *   - `arenas[]`: the arena_object vector. It starts with 16 slots and
 *     doubles; fresh slots are handed out in index order, released slots are
 *     pushed on the front of the `unused` list (LIFO), as in new_arena().
 *   - pools are numbered globally: id = arena_index * 64 + k, k < ntotal.
 *     `pools[id]` is the pool header; `blk[id * nb0 + b]` is the free-list
 *     link of block b (nb0 = blocks per pool of class 0, the maximum).
 *   - `usedpools[c]`: doubly linked list of used pools of class c, head first.
 *   - `usable`: doubly linked list of live arenas with at least one free pool,
 *     sorted ascending by nfreepools; `nfp2lasta[n]` = rightmost with n.
 *
 * Invariants (checked by ht__pym_is_valid):
 *   I1. A carved pool with 0 < count < NUMBLOCKS is on usedpools[szidx] and
 *       its free list is non-empty (pre-carve rule); a full pool (count ==
 *       NUMBLOCKS) is on no list and has an empty free list; an empty pool
 *       (count == 0) is on its arena's freepools list.
 *   I2. count + (free-list length) + (virgin blocks) == NUMBLOCKS, and
 *       exactly `count` carved blocks are marked allocated.
 *   I3. arena.nfreepools == |freepools| + (ntotal - carved).
 *   I4. An arena with nfreepools == 0 is on no list; every other live arena
 *       is on `usable`, which is sorted ascending by nfreepools.
 *   I5. nfp2lasta[n] is the rightmost arena of `usable` with n free pools,
 *       or -1 if there is none.
 *   I6. The unused list holds exactly the slots that are not live.
 *   I7. narenas_current == number of live arenas <= highwater <= total.
 *
 * Transitions: malloc (used pool: pop, pre-carve or become full; no used
 * pool: allocate_from_new_pool), free (push; full -> used at front of
 * usedpools; used -> empty: insert_to_freepool with its four arena cases).
 */
#include "heaptrail/pymalloc.h"

#include <stdlib.h>
#include <string.h>

#define NONE (-1)
#define BLK_END ((int16_t)-1)
#define BLK_ALLOC ((int16_t)-2)
#define DUMMY_SIZE_IDX 0xffffu
#define MAX_POOLS 64u

/* 32 bytes, and the pools vector is 32-byte aligned (grow_arenas): a
 * header never straddles two cache lines. Counts fit 16 bits (a pool holds
 * at most (65536 - 48) / 16 blocks). */
struct pym_pool {
    uint16_t count;          /* blocks allocated */
    uint16_t szidx;          /* class, DUMMY_SIZE_IDX when freshly carved */
    int32_t freehead;        /* block index of free-list head, or NONE */
    int32_t next, prev;      /* usedpools links; next also links freepools */
    uint32_t nextoffset;     /* byte offset of the next virgin block */
    uint32_t maxnextoffset;  /* POOL_SIZE - size */
    /* count and szidx at the last peak mark when pk_epoch == epoch (see
     * ht_pym_mark_peak; touch_pool) */
    uint32_t pk_epoch;
    uint16_t pk_count, pk_szidx;
};
_Static_assert(sizeof(struct pym_pool) == 32, "pool header: half a line");

struct pym_arena {
    int live;                /* address != 0 */
    uint32_t carved;         /* pools carved so far (pool_address) */
    uint32_t nfree;          /* cached empty pools + never carved pools */
    uint32_t ntotal;         /* pools in this arena */
    int32_t freepools;       /* pool id of LIFO head, or NONE */
    int32_t next, prev;      /* usable_arenas / unused links */
    /* live, carved, nfree, ntotal at the last peak mark when pk_epoch ==
     * epoch (touch_arena) */
    uint32_t pk_epoch, pk_carved, pk_nfree, pk_ntotal;
    int pk_live;
};

struct ht_pym {
    uint32_t pool_size, arena_size;
    /* log2 of pool_size and arena_size (both powers of two): a free maps
     * its address to pool and block with shifts, not 64-bit divisions */
    unsigned pool_shift;
    uint64_t pool_base;      /* address of pool 0 (pool_addr) */
    /* recip[c]: ceil(2^32 / (class_size(c) / 16)); see block_index */
    uint64_t recip[HT_PYM_NCLASSES];
    uint32_t ppa;            /* pools per arena (63 or 64) */
    uint64_t misalign;       /* base offset inside the arena slot */
    int keep_last;           /* 3.9+: keep the last empty arena */
    int count_raw;           /* 3.9+: raw_allocated_blocks */
    uint32_t nb0;            /* blocks per pool of class 0 */
    uint32_t nblocks[HT_PYM_NCLASSES];

    struct pym_arena *arenas;
    uint32_t maxarenas;
    struct pym_pool *pools;  /* maxarenas * MAX_POOLS */
    int16_t *blk;            /* maxarenas * MAX_POOLS * nb0 */
    int32_t unused;          /* head of unused arena objects */
    int32_t usable;          /* head of usable_arenas */
    int32_t nfp2lasta[MAX_POOLS + 1];
    int32_t usedpools[HT_PYM_NCLASSES];

    uint64_t total_arenas, current_arenas, highwater;
    uint64_t raw_blocks, raw_next;
    /* Peak view, copy-on-write (ht_pym_mark_peak): epoch counts the marks
     * (from 1, so zeroed pk_epoch never matches); a pool or arena changed
     * after the last mark saved its marked state first (touch_*); the
     * counters are copied at each mark. A mark costs O(1), a change one
     * compare, and the view at the end is exact. */
    uint32_t epoch;
    uint64_t pk_total_arenas, pk_current_arenas, pk_highwater, pk_raw_blocks;
};

/* before pool id changes count or szidx: keep its state at the last mark */
static inline void touch_pool(ht_pym *m, int32_t id)
{
    struct pym_pool *p = &m->pools[id];
    if (p->pk_epoch != m->epoch) {
        p->pk_epoch = m->epoch;
        p->pk_count = p->count;
        p->pk_szidx = p->szidx;
    }
}

/* before arena ai changes live, carved, nfree or ntotal */
static inline void touch_arena(ht_pym *m, int32_t ai)
{
    struct pym_arena *a = &m->arenas[ai];
    if (a->pk_epoch != m->epoch) {
        a->pk_epoch = m->epoch;
        a->pk_live = a->live;
        a->pk_carved = a->carved;
        a->pk_nfree = a->nfree;
        a->pk_ntotal = a->ntotal;
    }
}

static uint32_t class_size(unsigned c) { return (c + 1u) << 4; }

/* ---- geometry and addresses ------------------------------------------ */

/* Every profile has arena_size == MAX_POOLS * pool_size (ht_pym_new), so
 * (ai + 1) * arena_size + k * pool_size == arena_size + id * pool_size. */
static inline uint64_t pool_addr(const ht_pym *m, int32_t id)
{
    return m->pool_base + ((uint64_t)id << m->pool_shift);
}

/* Map addr to a pool id of a live arena, or NONE; *carved = the carved
 * pool count of that arena (for find_block, which then needs no second
 * arena lookup). */
static inline __attribute__((always_inline)) int32_t
addr_pool_c(const ht_pym *m, uint64_t addr, uint32_t *carved)
{
    /* Pool ids are consecutive pool_size steps from pool_base (pool_addr),
     * so one shift gives the id a pool at addr would have. Unsigned
     * wrap-around folds the low-side checks into the high ones: below
     * pool_base the id is huge; below the first pool of a 63-pool arena it
     * is pool 63 of the arena before, which no arena has (k >= ntotal). */
    uint64_t id = (addr - m->pool_base) >> m->pool_shift;
    uint64_t ai = id / MAX_POOLS, k = id % MAX_POOLS;
    if (ai >= m->maxarenas)
        return NONE;
    const struct pym_arena *a = &m->arenas[ai];
    if (!a->live || k >= a->ntotal)
        return NONE;
    *carved = a->carved;
    return (int32_t)id;
}

static inline __attribute__((always_inline)) int32_t
addr_pool(const ht_pym *m, uint64_t addr)
{
    uint32_t carved;
    return addr_pool_c(m, addr, &carved);
}

/* ---- construction ---------------------------------------------------- */

ht_err ht_pym_new(const struct ht_pym_config *cfg, ht_pym **out)
{
    const char *prof = (cfg && cfg->profile) ? cfg->profile : "3.12";
    unsigned ppa = cfg ? cfg->pools_per_arena : 0;
    ht_pym *m;

    *out = NULL;
    m = calloc(1, sizeof *m);
    if (!m)
        return HT_ENOMEM;
    if (!strcmp(prof, "3.8") || !strcmp(prof, "3.9")) {
        m->pool_size = 4096;
        m->arena_size = 256u << 10;
        m->keep_last = m->count_raw = !strcmp(prof, "3.9");
    } else if (!strcmp(prof, "3.10") || !strcmp(prof, "3.11") ||
               !strcmp(prof, "3.12") || !strcmp(prof, "3.13")) {
        m->pool_size = 16384;
        m->arena_size = 1u << 20;
        m->keep_last = m->count_raw = 1;
    } else {
        free(m);
        return HT_EINVAL;
    }
    if (ppa != 0 && ppa != 63 && ppa != 64) {
        free(m);
        return HT_EINVAL;
    }
    m->ppa = ppa == 63 ? 63 : 64;
    m->misalign = m->ppa == 63 ? m->pool_size / 4 : 0;
    for (unsigned c = 0; c < HT_PYM_NCLASSES; c++)
        m->nblocks[c] = (m->pool_size - HT_PYM_POOL_OVERHEAD) / class_size(c);
    m->nb0 = m->nblocks[0];
    while ((1u << m->pool_shift) < m->pool_size)
        m->pool_shift++;
    m->pool_base = m->arena_size + (m->misalign ? m->pool_size : 0);
    for (unsigned c = 0; c < HT_PYM_NCLASSES; c++)
        m->recip[c] = (((uint64_t)1 << 32) + c) / (c + 1);
    m->unused = m->usable = NONE;
    for (unsigned i = 0; i <= MAX_POOLS; i++)
        m->nfp2lasta[i] = NONE;
    for (unsigned c = 0; c < HT_PYM_NCLASSES; c++)
        m->usedpools[c] = NONE;
    m->raw_next = HT_PYM_RAW_BASE;
    m->epoch = 1;
    *out = m;
    return HT_OK;
}

void ht_pym_free(ht_pym *m)
{
    if (!m)
        return;
    free(m->arenas);
    free(m->pools);
    free(m->blk);
    free(m);
}

uint32_t ht_pym_class_blocks(const ht_pym *m, unsigned cls)
{
    return cls < HT_PYM_NCLASSES ? m->nblocks[cls] : 0;
}

/* ---- arenas ---------------------------------------------------------- */

/* Grow the arena vector (16, then doubling); new slots go on `unused` in
 * index order. */
static ht_err grow_arenas(ht_pym *m)
{
    uint32_t n = m->maxarenas ? m->maxarenas * 2 : 16;
    struct pym_arena *a = realloc(m->arenas, n * sizeof *a);
    if (!a)
        return HT_ENOMEM;
    m->arenas = a;
    struct pym_pool *p = aligned_alloc(sizeof *p, (size_t)n * MAX_POOLS * sizeof *p);
    if (!p)
        return HT_ENOMEM;
    if (m->maxarenas)
        memcpy(p, m->pools, (size_t)m->maxarenas * MAX_POOLS * sizeof *p);
    free(m->pools);
    m->pools = p;
    int16_t *b = realloc(m->blk, (size_t)n * MAX_POOLS * m->nb0 * sizeof *b);
    if (!b)
        return HT_ENOMEM;
    m->blk = b;
    for (uint32_t i = m->maxarenas; i < n; i++) {
        memset(&a[i], 0, sizeof a[i]);
        a[i].next = i + 1 < n ? (int32_t)(i + 1) : NONE;
    }
    /* new pools: never carved, so no pk_epoch may match by chance */
    memset(&p[(size_t)m->maxarenas * MAX_POOLS], 0,
           (size_t)(n - m->maxarenas) * MAX_POOLS * sizeof *p);
    m->unused = (int32_t)m->maxarenas;
    m->maxarenas = n;
    return HT_OK;
}

/* new_arena(): returns the arena index, or NONE on ENOMEM. */
static int32_t new_arena(ht_pym *m)
{
    if (m->unused == NONE && grow_arenas(m) != HT_OK)
        return NONE;
    int32_t ai = m->unused;
    struct pym_arena *a = &m->arenas[ai];
    touch_arena(m, ai);
    m->unused = a->next;
    a->live = 1;
    a->carved = 0;
    a->nfree = a->ntotal = m->ppa;
    a->freepools = NONE;
    a->next = a->prev = NONE;
    m->current_arenas++;
    m->total_arenas++;
    if (m->current_arenas > m->highwater)
        m->highwater = m->current_arenas;
    return ai;
}

static void usable_unlink(ht_pym *m, struct pym_arena *a)
{
    if (a->prev == NONE)
        m->usable = a->next;
    else
        m->arenas[a->prev].next = a->next;
    if (a->next != NONE)
        m->arenas[a->next].prev = a->prev;
}

/* ---- pools ----------------------------------------------------------- */

static void used_unlink(ht_pym *m, int32_t id)
{
    struct pym_pool *p = &m->pools[id];
    if (p->prev == NONE)
        m->usedpools[p->szidx] = p->next;
    else
        m->pools[p->prev].next = p->next;
    if (p->next != NONE)
        m->pools[p->next].prev = p->prev;
}

static void used_push_front(ht_pym *m, int32_t id, unsigned c)
{
    struct pym_pool *p = &m->pools[id];
    p->prev = NONE;
    p->next = m->usedpools[c];
    if (p->next != NONE)
        m->pools[p->next].prev = id;
    m->usedpools[c] = id;
}

static uint64_t block_addr(const ht_pym *m, int32_t id, uint32_t b, unsigned c)
{
    return pool_addr(m, id) + HT_PYM_POOL_OVERHEAD + (uint64_t)b * class_size(c);
}

/* off / class_size(c) for a multiple of 16 below the pool size, by
 * multiplying with the rounded-up inverse of size / 16: the quotient has
 * fewer than 11 bits and the divisor is <= 32, so the error (< units / 2^32)
 * stays below 1 / divisor and the result is exact. */
static inline uint32_t block_index(const ht_pym *m, unsigned c, uint64_t off)
{
    return (uint32_t)(((off >> 4) * m->recip[c]) >> 32);
}

/* pymalloc_pool_extend(): the free list just became empty. Inlined: a
 * pool being filled takes this on every malloc. */
static inline __attribute__((always_inline)) void pool_extend(ht_pym *m,
                                                              int32_t id)
{
    struct pym_pool *p = &m->pools[id];
    uint32_t size = class_size(p->szidx);
    if (p->nextoffset <= p->maxnextoffset) {
        uint32_t b = block_index(m, p->szidx, p->nextoffset - HT_PYM_POOL_OVERHEAD);
        m->blk[(size_t)id * m->nb0 + b] = BLK_END;
        p->freehead = (int32_t)b;
        p->nextoffset += size;
        return;
    }
    used_unlink(m, id);  /* full */
}

/* allocate_from_new_pool(). */
/* out of line: small_alloc's fast path then saves few registers */
static __attribute__((noinline)) ht_err alloc_new_pool(ht_pym *m, unsigned c,
                                                      uint64_t *addr)
{
    if (m->usable == NONE) {
        int32_t ai = new_arena(m);
        if (ai == NONE)
            return HT_ENOMEM;
        m->usable = ai;
        m->nfp2lasta[m->arenas[ai].nfree] = ai;
    }
    int32_t ai = m->usable;
    struct pym_arena *a = &m->arenas[ai];
    int32_t id;
    if (m->nfp2lasta[a->nfree] == ai)
        m->nfp2lasta[a->nfree] = NONE;
    if (a->nfree > 1)
        m->nfp2lasta[a->nfree - 1] = ai;
    touch_arena(m, ai);
    int carve = a->freepools == NONE;
    id = carve ? ai * (int32_t)MAX_POOLS + (int32_t)a->carved++
               : a->freepools;
    touch_pool(m, id); /* before count and szidx change below */
    if (carve)
        m->pools[id].szidx = DUMMY_SIZE_IDX;
    else
        a->freepools = m->pools[id].next;
    if (--a->nfree == 0) {
        m->usable = a->next;
        if (a->next != NONE)
            m->arenas[a->next].prev = NONE;
        a->next = a->prev = NONE;
    }
    struct pym_pool *p = &m->pools[id];
    int16_t *blk = &m->blk[(size_t)id * m->nb0];
    used_push_front(m, id, c);
    p->count = 1;
    if (p->szidx == c) {
        uint32_t b = (uint32_t)p->freehead;
        p->freehead = blk[b];
        blk[b] = BLK_ALLOC;
        if (p->freehead == NONE)
            pool_extend(m, id);  /* unreachable in practice */
        *addr = block_addr(m, id, b, c);
        return HT_OK;
    }
    uint32_t size = class_size(c);
    p->szidx = c;
    p->nextoffset = HT_PYM_POOL_OVERHEAD + 2 * size;
    p->maxnextoffset = m->pool_size - size;
    blk[0] = BLK_ALLOC;
    blk[1] = BLK_END;
    p->freehead = 1;
    *addr = block_addr(m, id, 0, c);
    return HT_OK;
}

static ht_err small_alloc(ht_pym *m, unsigned c, uint64_t *addr)
{
    int32_t id = m->usedpools[c];
    if (id == NONE)
        return alloc_new_pool(m, c, addr);
    struct pym_pool *p = &m->pools[id];
    int16_t *blk = &m->blk[(size_t)id * m->nb0];
    uint32_t b = (uint32_t)p->freehead;
    touch_pool(m, id);
    p->count++;
    p->freehead = blk[b];
    blk[b] = BLK_ALLOC;
    /* the address first: then nothing is live across pool_extend's call of
     * used_unlink, and the common path saves no registers */
    *addr = block_addr(m, id, b, c);
    if (p->freehead == NONE)
        pool_extend(m, id);
    return HT_OK;
}

static void release_arena(ht_pym *m, int32_t ai)
{
    struct pym_arena *a = &m->arenas[ai];
    touch_arena(m, ai);
    usable_unlink(m, a);
    a->live = 0;
    a->next = m->unused;
    a->prev = NONE;
    m->unused = ai;
    m->current_arenas--;
}

/* insert_to_freepool(): pool id just became empty. */
static __attribute__((noinline)) void insert_to_freepool(ht_pym *m,
                                                        int32_t id)
{
    int32_t ai = id / (int32_t)MAX_POOLS;
    struct pym_arena *a = &m->arenas[ai];
    used_unlink(m, id);
    m->pools[id].next = a->freepools;
    a->freepools = id;
    uint32_t nf = a->nfree;
    int32_t lastnf = m->nfp2lasta[nf];
    if (lastnf == ai) {
        int32_t pv = a->prev;
        m->nfp2lasta[nf] =
            (pv != NONE && m->arenas[pv].nfree == nf) ? pv : NONE;
    }
    touch_arena(m, ai);
    a->nfree = ++nf;
    if (nf == a->ntotal && (!m->keep_last || a->next != NONE)) {
        release_arena(m, ai);
        return;
    }
    if (nf == 1) {
        a->next = m->usable;
        a->prev = NONE;
        if (m->usable != NONE)
            m->arenas[m->usable].prev = ai;
        m->usable = ai;
        if (m->nfp2lasta[1] == NONE)
            m->nfp2lasta[1] = ai;
        return;
    }
    if (m->nfp2lasta[nf] == NONE)
        m->nfp2lasta[nf] = ai;
    if (ai == lastnf)
        return;
    usable_unlink(m, a);
    struct pym_arena *l = &m->arenas[lastnf];
    a->prev = lastnf;
    a->next = l->next;
    if (a->next != NONE)
        m->arenas[a->next].prev = ai;
    l->next = ai;
}

/* Locate a live block in pool id (addr_pool_c(addr, &carved), not NONE):
 * pool id and block index, or NONE. */
static inline __attribute__((always_inline)) int32_t
find_block(const ht_pym *m, int32_t id, uint32_t carved, uint64_t addr,
           uint32_t *bout)
{
    const struct pym_pool *p = &m->pools[id];
    if ((uint32_t)id % MAX_POOLS >= carved || p->count == 0)
        return NONE;
    /* pools are pool_size-aligned (pool_addr) and addr is inside pool id:
     * its offset in the pool without recomputing the pool's address */
    uint64_t off = addr & (m->pool_size - 1);
    uint32_t size = class_size(p->szidx);
    if (off < HT_PYM_POOL_OVERHEAD)
        return NONE;
    /* b = floor(off / size) also for an offset that is no multiple of 16
     * (floor(floor(x / 16) / u) == floor(x / 16u)); the test below then
     * rejects it, as size is one */
    uint32_t b = block_index(m, p->szidx, off - HT_PYM_POOL_OVERHEAD);
    if ((uint64_t)b * size != off - HT_PYM_POOL_OVERHEAD)
        return NONE;
    if (HT_PYM_POOL_OVERHEAD + (uint64_t)b * size >= p->nextoffset ||
        m->blk[(size_t)id * m->nb0 + b] != BLK_ALLOC)
        return NONE;
    *bout = b;
    return id;
}

static inline __attribute__((always_inline)) void
small_free(ht_pym *m, int32_t id, uint32_t b)
{
    struct pym_pool *p = &m->pools[id];
    int32_t last = p->freehead;
    touch_pool(m, id);
    m->blk[(size_t)id * m->nb0 + b] = (int16_t)last;
    p->freehead = (int32_t)b;
    p->count--;
    if (last == NONE) {
        used_push_front(m, id, p->szidx);
        return;
    }
    if (p->count != 0)
        return;
    insert_to_freepool(m, id);
}

/* ---- public operations ----------------------------------------------- */

static uint64_t raw_alloc(ht_pym *m, uint64_t size)
{
    uint64_t a = m->raw_next;
    m->raw_next += ((size ? size : 1) + 15) & ~(uint64_t)15;
    m->raw_blocks++;
    return a;
}

ht_err ht_pym_malloc(ht_pym *m, uint64_t size, uint64_t *addr)
{
    *addr = 0;
    if (size == 0 || size > HT_PYM_SMALL_REQUEST) {
        *addr = raw_alloc(m, size);
        return HT_OK;
    }
    return small_alloc(m, (unsigned)((size - 1) >> 4), addr);
}

ht_err ht_pym_calloc(ht_pym *m, uint64_t nelem, uint64_t elsize,
                     uint64_t *addr)
{
    *addr = 0;
    if (elsize && nelem > UINT64_MAX / elsize)
        return HT_EINVAL;
    return ht_pym_malloc(m, nelem * elsize, addr);
}

ht_err ht_pym_release(ht_pym *m, uint64_t addr)
{
    uint32_t b, carved;
    if (addr == 0)
        return HT_OK;
    int32_t id = addr_pool_c(m, addr, &carved);
    if (id == NONE) {
        if (m->raw_blocks)
            m->raw_blocks--;
        return HT_OK;
    }
    id = find_block(m, id, carved, addr, &b);
    if (id == NONE)
        return HT_EINVAL;
    small_free(m, id, b);
    return HT_OK;
}

ht_err ht_pym_realloc(ht_pym *m, uint64_t addr, uint64_t size,
                      uint64_t *new_addr)
{
    uint32_t b, carved;
    *new_addr = 0;
    if (addr == 0)
        return ht_pym_malloc(m, size, new_addr);
    int32_t id = addr_pool_c(m, addr, &carved);
    if (id == NONE) {
        /* raw stays raw: PyMem_RawRealloc */
        if (m->raw_blocks)
            m->raw_blocks--;
        *new_addr = raw_alloc(m, size);
        return HT_OK;
    }
    id = find_block(m, id, carved, addr, &b);
    if (id == NONE)
        return HT_EINVAL;
    uint64_t s = class_size(m->pools[id].szidx);
    if (size <= s && 4 * size > 3 * s) {
        *new_addr = addr;
        return HT_OK;
    }
    uint64_t na;
    ht_err rc = ht_pym_malloc(m, size, &na);
    if (rc != HT_OK)
        return rc;
    /* the old block may have moved in the table only if arrays grew; its
     * pool id and block index are stable. */
    small_free(m, id, b);
    *new_addr = na;
    return HT_OK;
}

int ht_pym_owns(const ht_pym *m, uint64_t addr)
{
    return addr_pool(m, addr) != NONE;
}

int ht__pym_arena_nfreepools(const ht_pym *m, uint64_t addr)
{
    int32_t id = addr_pool(m, addr);
    return id == NONE ? -1 : (int)m->arenas[id / MAX_POOLS].nfree;
}

/* ---- statistics ------------------------------------------------------ */

/* The state read by stats and each_pool: now, or at the last peak mark
 * (pk: a pool or arena touched since the mark reads its saved fields). */
struct view {
    int live;
    uint32_t carved, nfree, ntotal;
};

static struct view arena_view(const ht_pym *m, const struct pym_arena *a,
                              int pk)
{
    if (pk && a->pk_epoch == m->epoch)
        return (struct view){a->pk_live, a->pk_carved, a->pk_nfree,
                             a->pk_ntotal};
    return (struct view){a->live, a->carved, a->nfree, a->ntotal};
}

static void pool_view(const ht_pym *m, const struct pym_pool *p, int pk,
                      uint32_t *count, uint32_t *szidx)
{
    int saved = pk && p->pk_epoch == m->epoch;
    *count = saved ? p->pk_count : p->count;
    *szidx = saved ? p->pk_szidx : p->szidx;
}

static void stats_of(const ht_pym *m, int pk, struct ht_pym_stats *st)
{
    memset(st, 0, sizeof *st);
    st->pool_size = m->pool_size;
    st->arena_size = m->arena_size;
    uint64_t npools = 0;
    for (uint32_t ai = 0; ai < m->maxarenas; ai++) {
        struct view a = arena_view(m, &m->arenas[ai], pk);
        if (!a.live)
            continue;
        st->unused_pools += a.nfree;
        if (m->misalign)
            st->bytes_arena_alignment += m->pool_size;
        for (uint32_t k = 0; k < a.carved; k++) {
            uint32_t count, szidx;
            pool_view(m, &m->pools[ai * MAX_POOLS + k], pk, &count, &szidx);
            if (count == 0)
                continue;
            struct ht_pym_class_stats *c = &st->cls[szidx];
            c->pools++;
            c->in_use += count;
            c->avail += m->nblocks[szidx] - count;
            npools++;
        }
    }
    for (unsigned c = 0; c < HT_PYM_NCLASSES; c++) {
        uint64_t size = class_size(c);
        st->bytes_allocated_blocks += st->cls[c].in_use * size;
        st->bytes_available_blocks += st->cls[c].avail * size;
        st->bytes_quantization += st->cls[c].pools *
            ((m->pool_size - HT_PYM_POOL_OVERHEAD) % size);
    }
    uint64_t total = pk ? m->pk_total_arenas : m->total_arenas;
    uint64_t current = pk ? m->pk_current_arenas : m->current_arenas;
    st->arenas_allocated_total = total;
    st->arenas_current = current;
    st->arenas_reclaimed = total - current;
    st->arenas_highwater = pk ? m->pk_highwater : m->highwater;
    st->bytes_unused_pools = st->unused_pools * m->pool_size;
    st->bytes_pool_headers = npools * HT_PYM_POOL_OVERHEAD;
    st->bytes_total = st->bytes_allocated_blocks + st->bytes_available_blocks +
        st->bytes_unused_pools + st->bytes_pool_headers +
        st->bytes_quantization + st->bytes_arena_alignment;
    st->raw_blocks = !m->count_raw ? 0 : pk ? m->pk_raw_blocks : m->raw_blocks;
}

static int each_pool_of(const ht_pym *m, int pk,
                        int (*cb)(void *ctx, const struct ht_pym_pool_info *p),
                        void *ctx)
{
    for (uint32_t ai = 0; ai < m->maxarenas; ai++) {
        struct view a = arena_view(m, &m->arenas[ai], pk);
        if (!a.live)
            continue;
        for (uint32_t k = 0; k < a.ntotal; k++) {
            struct ht_pym_pool_info pi = {ai, k, -1, 0, 0};
            uint32_t count, szidx;
            pool_view(m, &m->pools[ai * MAX_POOLS + k], pk, &count, &szidx);
            if (k < a.carved && count) {
                pi.size_class = (int32_t)szidx;
                pi.used = count;
                pi.total = m->nblocks[szidx];
            }
            int r = cb(ctx, &pi);
            if (r)
                return r;
        }
    }
    return 0;
}

void ht_pym_stats(const ht_pym *m, struct ht_pym_stats *st)
{
    stats_of(m, 0, st);
}

int ht_pym_each_pool(const ht_pym *m,
                     int (*cb)(void *ctx, const struct ht_pym_pool_info *p),
                     void *ctx)
{
    return each_pool_of(m, 0, cb, ctx);
}

void ht_pym_mark_peak(ht_pym *m)
{
    m->epoch++;
    m->pk_total_arenas = m->total_arenas;
    m->pk_current_arenas = m->current_arenas;
    m->pk_highwater = m->highwater;
    m->pk_raw_blocks = m->raw_blocks;
}

void ht_pym_peak_stats(const ht_pym *m, struct ht_pym_stats *st)
{
    stats_of(m, 1, st);
}

int ht_pym_peak_each_pool(const ht_pym *m,
                          int (*cb)(void *ctx, const struct ht_pym_pool_info *p),
                          void *ctx)
{
    return each_pool_of(m, 1, cb, ctx);
}

/* CPython's printone(): label padded to 35, '=', value right-aligned in 21
 * columns with thousands separators. */
static int printone(FILE *out, const char *msg, uint64_t v)
{
    char buf[32];
    int i = 30, k = 3;
    buf[31] = '\0';
    do {
        buf[i--] = (char)('0' + v % 10);
        v /= 10;
        if (--k == 0 && v) {
            buf[i--] = ',';
            k = 3;
        }
    } while (v);
    return fprintf(out, "%-35s=%21s\n", msg, &buf[i + 1]) < 0;
}

ht_err ht_pym_format_stats(const ht_pym *m, FILE *out)
{
    struct ht_pym_stats st;
    char buf[100];
    int bad = 0;
    ht_pym_stats(m, &st);
    bad |= fprintf(out, "Small block threshold = %u, in %u size classes.\n",
                   HT_PYM_SMALL_REQUEST, HT_PYM_NCLASSES) < 0;
    bad |= fputs("\nclass   size   num pools   blocks in use  avail blocks\n"
                 "-----   ----   ---------   -------------  ------------\n",
                 out) < 0;
    for (unsigned c = 0; c < HT_PYM_NCLASSES; c++) {
        if (!st.cls[c].pools)
            continue;
        bad |= fprintf(out, "%5u %6u %11llu %15llu %13llu\n", c,
                       class_size(c), (unsigned long long)st.cls[c].pools,
                       (unsigned long long)st.cls[c].in_use,
                       (unsigned long long)st.cls[c].avail) < 0;
    }
    bad |= fputc('\n', out) == EOF;
    bad |= printone(out, "# arenas allocated total", st.arenas_allocated_total);
    bad |= printone(out, "# arenas reclaimed", st.arenas_reclaimed);
    bad |= printone(out, "# arenas highwater mark", st.arenas_highwater);
    bad |= printone(out, "# arenas allocated current", st.arenas_current);
    snprintf(buf, sizeof buf, "%llu arenas * %u bytes/arena",
             (unsigned long long)st.arenas_current, m->arena_size);
    bad |= printone(out, buf, st.arenas_current * m->arena_size);
    bad |= fputc('\n', out) == EOF;
    bad |= printone(out, "# bytes in allocated blocks", st.bytes_allocated_blocks);
    bad |= printone(out, "# bytes in available blocks", st.bytes_available_blocks);
    snprintf(buf, sizeof buf, "%llu unused pools * %u bytes",
             (unsigned long long)st.unused_pools, m->pool_size);
    bad |= printone(out, buf, st.bytes_unused_pools);
    bad |= printone(out, "# bytes lost to pool headers", st.bytes_pool_headers);
    bad |= printone(out, "# bytes lost to quantization", st.bytes_quantization);
    bad |= printone(out, "# bytes lost to arena alignment",
                    st.bytes_arena_alignment);
    bad |= printone(out, "Total", st.bytes_total);
    return bad ? HT_EIO : HT_OK;
}

/* ---- invariant checker ----------------------------------------------- */

static int pool_is_valid(const ht_pym *m, int32_t id, int *on_used)
{
    const struct pym_pool *p = &m->pools[id];
    if (p->count == 0)
        return 1;  /* checked through freepools */
    if (p->szidx >= HT_PYM_NCLASSES)
        return 0;
    uint32_t nb = m->nblocks[p->szidx], size = class_size(p->szidx);
    uint32_t carved = (p->nextoffset - HT_PYM_POOL_OVERHEAD) / size;
    uint32_t nfl = 0, nalloc = 0;
    const int16_t *blk = &m->blk[(size_t)id * m->nb0];
    for (int32_t b = p->freehead; b != NONE; b = blk[b]) {
        if (b < 0 || (uint32_t)b >= carved || ++nfl > nb)
            return 0;
    }
    for (uint32_t b = 0; b < carved; b++)
        nalloc += blk[b] == BLK_ALLOC;
    if (nalloc != p->count || p->count + nfl + (nb - carved) != nb)
        return 0;
    /* I1 */
    if (p->count < nb)
        return nfl > 0 && on_used[id];
    return nfl == 0 && !on_used[id];
}

int ht__pym_is_valid(const ht_pym *m)
{
    size_t np = (size_t)m->maxarenas * MAX_POOLS;
    int *on_used = calloc(np ? np : 1, sizeof *on_used);
    int ok = 1;
    uint64_t live = 0;
    if (!on_used)
        return 0;
    for (unsigned c = 0; c < HT_PYM_NCLASSES && ok; c++) {
        int32_t prev = NONE;
        for (int32_t id = m->usedpools[c]; id != NONE && ok;
             id = m->pools[id].next) {
            ok = (size_t)id < np && !on_used[id] && m->pools[id].prev == prev &&
                 m->pools[id].szidx == c;
            if (ok)
                on_used[id] = 1;
            prev = id;
        }
    }
    for (uint32_t ai = 0; ai < m->maxarenas && ok; ai++) {
        const struct pym_arena *a = &m->arenas[ai];
        if (!a->live)
            continue;
        live++;
        uint32_t nempty = 0;
        for (int32_t id = a->freepools; id != NONE && ok; id = m->pools[id].next) {
            ok = id / (int32_t)MAX_POOLS == (int32_t)ai &&
                 (uint32_t)(id % MAX_POOLS) < a->carved &&
                 m->pools[id].count == 0 && !on_used[id] && ++nempty <= a->ntotal;
        }
        for (uint32_t k = 0; k < a->carved && ok; k++)
            ok = pool_is_valid(m, (int32_t)(ai * MAX_POOLS + k), on_used);
        uint32_t zero = 0;
        for (uint32_t k = 0; k < a->carved; k++)
            zero += m->pools[ai * MAX_POOLS + k].count == 0;
        /* I3 */
        ok = ok && zero == nempty && a->nfree == nempty + (a->ntotal - a->carved);
    }
    /* I4, I5 */
    uint64_t onlist = 0;
    int32_t prev = NONE;
    for (int32_t ai = m->usable; ai != NONE && ok; ai = m->arenas[ai].next) {
        const struct pym_arena *a = &m->arenas[ai];
        ok = a->live && a->nfree > 0 && a->prev == prev &&
             (prev == NONE || m->arenas[prev].nfree <= a->nfree) &&
             ++onlist <= live;
        if (ok && (a->next == NONE || m->arenas[a->next].nfree != a->nfree))
            ok = m->nfp2lasta[a->nfree] == ai;
        prev = ai;
    }
    for (uint32_t ai = 0; ai < m->maxarenas && ok; ai++)
        if (m->arenas[ai].live && m->arenas[ai].nfree == 0)
            ok = m->arenas[ai].next == NONE && m->arenas[ai].prev == NONE &&
                 m->usable != (int32_t)ai;
    uint64_t withfree = 0;
    for (uint32_t ai = 0; ai < m->maxarenas; ai++)
        withfree += m->arenas[ai].live && m->arenas[ai].nfree > 0;
    ok = ok && withfree == onlist;
    for (unsigned n = 0; n <= MAX_POOLS && ok; n++) {
        int32_t l = m->nfp2lasta[n];
        if (l == NONE)
            continue;
        ok = m->arenas[l].live && m->arenas[l].nfree == n && n > 0;
    }
    /* I6, I7 */
    uint64_t nunused = 0;
    for (int32_t ai = m->unused; ai != NONE && ok; ai = m->arenas[ai].next)
        ok = !m->arenas[ai].live && ++nunused <= m->maxarenas;
    ok = ok && nunused + live == m->maxarenas && live == m->current_arenas &&
         live <= m->highwater && m->highwater <= m->total_arenas;
    free(on_used);
    return ok;
}
