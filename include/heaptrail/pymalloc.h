/*
 * A model of CPython's small-object allocator (pymalloc, Objects/obmalloc.c).
 *
 * The model never touches real memory: it hands out simulated addresses and
 * reproduces pymalloc's placement decisions (size classes, pool states,
 * usedpools front insertion, LIFO free lists, the pre-carve-one-block rule,
 * arena choice by fewest free pools, arena release rules) and the numbers of
 * `sys._debugmallocstats()`. The rules are those of
 * the design note cpython-memory.md §1 and §4; the model is checked against
 * real CPython 3.8-3.13 in tests/replay/test_pymalloc.c.
 *
 * Simulated addresses:
 *   - arena object i (an index in the model's arena vector, reused LIFO like
 *     CPython's unused_arena_objects) is placed at
 *       base = (i + 1) * ARENA_SIZE + misalign
 *     where misalign is 0 for 64-pool arenas and POOL_SIZE / 4 for 63-pool
 *     arenas (a base that is not pool-aligned loses one pool);
 *   - pool k of that arena starts at (i + 1) * ARENA_SIZE + (k + (misalign
 *     != 0)) * POOL_SIZE, so every pool lies inside [(i+1)*ARENA_SIZE,
 *     (i+2)*ARENA_SIZE);
 *   - raw (non-pymalloc) blocks come from a separate bump range at
 *     HT_PYM_RAW_BASE and are never reused.
 *
 * Ownership: ht_pym_new returns an owned model freed with ht_pym_free; the
 * config is copied (the profile string is only read during ht_pym_new).
 */
#ifndef HEAPTRAIL_PYMALLOC_H
#define HEAPTRAIL_PYMALLOC_H

#include <stdint.h>
#include <stdio.h>

#include "heaptrail/err.h"

#define HT_PYM_NCLASSES 32u             /* 512 / 16 */
#define HT_PYM_SMALL_REQUEST 512u       /* largest size served by pymalloc */
#define HT_PYM_POOL_OVERHEAD 48u        /* sizeof(pool_header), 64-bit */
#define HT_PYM_RAW_BASE (UINT64_C(1) << 56)

typedef struct ht_pym ht_pym;

struct ht_pym_config {
    const char *profile;     /* "3.8", "3.9", "3.10", "3.11", "3.12", "3.13";
                                NULL means "3.12" */
    unsigned pools_per_arena; /* 0 = ARENA_SIZE / POOL_SIZE (64, aligned
                                 bases); 63 = misaligned bases (one pool lost
                                 to alignment, the common case on 3.10+) */
};

struct ht_pym_class_stats {
    uint64_t pools;       /* carved pools with count > 0 (used + full) */
    uint64_t in_use;      /* sum of counts */
    uint64_t avail;       /* sum of (NUMBLOCKS - count) over those pools */
};

struct ht_pym_stats {
    uint32_t pool_size;             /* bytes */
    uint32_t arena_size;            /* bytes */
    struct ht_pym_class_stats cls[HT_PYM_NCLASSES];
    uint64_t arenas_allocated_total;   /* times an arena was "mmap'd" */
    uint64_t arenas_reclaimed;         /* total - current */
    uint64_t arenas_highwater;         /* max concurrently allocated */
    uint64_t arenas_current;
    uint64_t bytes_allocated_blocks;   /* sum in_use * size */
    uint64_t bytes_available_blocks;   /* sum avail * size */
    uint64_t unused_pools;             /* sum of arena nfreepools */
    uint64_t bytes_unused_pools;       /* unused_pools * POOL_SIZE */
    uint64_t bytes_pool_headers;       /* pools in use * 48 */
    uint64_t bytes_quantization;       /* sum pools * ((POOL-48) % size) */
    uint64_t bytes_arena_alignment;    /* POOL_SIZE per misaligned arena */
    uint64_t bytes_total;              /* == arenas_current * ARENA_SIZE */
    uint64_t raw_blocks;               /* live raw-allocator blocks */
};

/*
 * Create an empty allocator model (no arena yet). Returns HT_EINVAL for an
 * unknown profile or a pools_per_arena other than 0, 63 or 64 (every profile
 * accepts 63, although real 3.8/3.9 arenas are always pool-aligned),
 * HT_ENOMEM on allocation failure. *out is NULL on failure; on success the
 * caller owns it (ht_pym_free).
 */
ht_err ht_pym_new(const struct ht_pym_config *cfg, ht_pym **out);

/* Free a model; accepts NULL. */
void ht_pym_free(ht_pym *m);

/*
 * PyObject_Malloc(size): 1..512 bytes come from pymalloc, 0 and > 512 from
 * the raw allocator. *addr receives the simulated address (0 on failure).
 * Returns HT_ENOMEM if the model's own bookkeeping cannot grow.
 */
ht_err ht_pym_malloc(ht_pym *m, uint64_t size, uint64_t *addr);

/* PyObject_Calloc(nelem, elsize): pymalloc iff 1 <= product <= 512; an
 * overflowing product returns HT_EINVAL. */
ht_err ht_pym_calloc(ht_pym *m, uint64_t nelem, uint64_t elsize,
                     uint64_t *addr);

/*
 * PyObject_Realloc(addr, size). addr 0 behaves as malloc. A pymalloc block of
 * class size S stays in place iff size <= S and 4*size > 3*S; otherwise it
 * moves (to pymalloc or raw by the new size) and the old block is freed. A
 * raw block stays raw (its simulated address may change). HT_EINVAL if addr
 * is a pymalloc address that is not a live block.
 */
ht_err ht_pym_realloc(ht_pym *m, uint64_t addr, uint64_t size,
                      uint64_t *new_addr);

/* PyObject_Free(addr). 0 is a no-op. HT_EINVAL for a pymalloc address that
 * is not a live block (double free); the model is left unchanged then. */
ht_err ht_pym_release(ht_pym *m, uint64_t addr);

/* address_in_range: 1 iff addr lies in a pool of a live arena. */
int ht_pym_owns(const ht_pym *m, uint64_t addr);

/* Fill *st (walks every carved pool: O(arenas * pools)). */
void ht_pym_stats(const ht_pym *m, struct ht_pym_stats *st);

/*
 * Print the pymalloc part of sys._debugmallocstats() exactly as CPython does:
 * from "Small block threshold" up to and including the first "Total" line.
 * Returns HT_EIO if writing fails.
 */
ht_err ht_pym_format_stats(const ht_pym *m, FILE *out);

/* One pool of a live arena, for occupancy maps. size_class is -1 for a pool
 * that holds no block (never carved, or empty on the arena's free list). */
struct ht_pym_pool_info {
    uint32_t arena;       /* arena slot index */
    uint32_t pool;        /* pool index inside the arena */
    int32_t size_class;   /* 0..31, or -1 */
    uint32_t used, total; /* blocks allocated / blocks per pool (0 if -1) */
};

/* Call cb for every pool of every live arena, in (arena, pool) order; stops
 * early when cb returns non-zero and returns that value (else 0). */
int ht_pym_each_pool(const ht_pym *m,
                     int (*cb)(void *ctx, const struct ht_pym_pool_info *p),
                     void *ctx);

/* Peak view: ht_pym_mark_peak remembers the current state as the peak
 * (O(1): pools and arenas changed afterwards save their marked state first,
 * one compare per change); ht_pym_peak_stats and ht_pym_peak_each_pool
 * report exactly the state at the last mark, as ht_pym_stats and
 * ht_pym_each_pool do for the current one (before any mark: the state at
 * creation). */
void ht_pym_mark_peak(ht_pym *m);
void ht_pym_peak_stats(const ht_pym *m, struct ht_pym_stats *st);
int ht_pym_peak_each_pool(const ht_pym *m,
                          int (*cb)(void *ctx, const struct ht_pym_pool_info *p),
                          void *ctx);

/* Blocks per pool of size class cls (0 for cls >= 32). */
uint32_t ht_pym_class_blocks(const ht_pym *m, unsigned cls);

/* Internal: check every invariant of the design comment in
 * replay/pymalloc.c; returns 1 if all hold. */
int ht__pym_is_valid(const ht_pym *m);

/* Internal, for tests: free pools of the arena that owns addr, or -1. */
int ht__pym_arena_nfreepools(const ht_pym *m, uint64_t addr);

#endif
