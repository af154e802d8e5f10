/*
 * Internal interface of the replay engine (replay/objects.c, replay/engine.c).
 *
 * Object table: address -> live object, with a page index for "which live
 * object contains this slot". Ownership: every ht__obj is a slot of an
 * object slab (below), which owns it and its edge array; the table only
 * holds it. ht__objtab_remove() hands the object back to the caller, who
 * returns it to the slab with ht__objslab_put or inserts it again
 * (ht__objtab_insert) after changing addr/size (a moving realloc). The
 * owner ends with ht__objtab_fini_index (the table's index only), then
 * ht__objslab_fini (every object at once).
 */
#ifndef HEAPTRAIL_REPLAY_INT_H
#define HEAPTRAIL_REPLAY_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "heaptrail/err.h"

/* One outgoing pointer held in a slot of an object. */
struct ht__edge {
    uint64_t off;   /* slot offset inside the object */
    uint64_t val;   /* pointer value stored */
    uint64_t seq;   /* seq of the STORE/EDGE event that made it */
    uint64_t site;  /* its site id or pc */
};

/* A live object. */
struct ht__obj {
    uint64_t addr, size, alloc_seq, pc, model_addr;
    uint64_t drop_seq, drop_site; /* last reference dropped (0: none) */
    uint32_t tid;
    uint8_t drop_kind;            /* 0 none, 1 store, 2 free of owner */
    uint8_t referenced;           /* ever held by a recorded pointer */
    uint8_t rc_explicit;          /* an INCREF/DECREF named it */
    uint8_t held;                 /* in an object table (objects.c sets it) */
    int64_t refcnt;               /* explicit count: 1 + increfs - decrefs */
    uint32_t site_i, churn_i;     /* rows of the engine's site aggregates */
    uint64_t churn_seq;           /* seq it entered churn row churn_i */
    uint32_t inc_site;            /* refcount site row + 1 of its last INCREF */
    struct ht__edge *edges;
    uint32_t nedges, cedges;
    int64_t idx;                  /* scratch for the leak detector */
    uint64_t gcref;               /* its node in the GC model (ht_gc_ref) */
};

/* Generic open-addressing map uint64 key (never 0) -> uint64 value:
 * linear probing from a multiplicative hash, backward-shift deletion (no
 * tombstones). Key and value share a slot: a probe that finds the key has
 * its value in the same cache line. An empty slot has key 0. */
struct ht__slot {
    uint64_t key, val;
};
struct ht__map {
    struct ht__slot *s;
    size_t cap, n;  /* cap 0 or a power of two >= 64, n < cap / 2 */
    unsigned shift; /* 64 - log2(cap): home(key) = key * C >> shift */
};
ht_err ht__map_put(struct ht__map *m, uint64_t key, uint64_t val);
int ht__map_get(const struct ht__map *m, uint64_t key, uint64_t *val);
int ht__map_del(struct ht__map *m, uint64_t key);
void ht__map_fini(struct ht__map *m);
/* The slot where key's probe starts (cap > 0): Fibonacci hashing, the
 * top bits of key * 2^64/phi (one multiply; addresses differing in any
 * bit, aligned or sequential, land apart). */
static inline size_t ht__map_home(const struct ht__map *m, uint64_t key)
{
    return (size_t)((key * UINT64_C(0x9e3779b97f4a7c15)) >> m->shift);
}
/* Slot of key, or the empty slot ending its probe sequence (cap > 0). The
 * one probe loop: objects.c's map operations and the prefetch hint below
 * both use it. */
static inline size_t ht__map_slot(const struct ht__map *m, uint64_t key)
{
    size_t mask = m->cap - 1, j = ht__map_home(m, key);
    while (m->s[j].key && m->s[j].key != key)
        j = (j + 1) & mask; /* a third of the keys are not at home */
    return j;
}
/* 1 if the invariants of struct ht__map hold (see objects.c). */
int ht__map_is_valid(const struct ht__map *m);

/* Aggregate rows keyed by two uint64 (a site and a size, say): an array of
 * rows plus an open-addressing index. Rows are never removed, so an index
 * into v stays valid; memory grows with the distinct keys, not the events. */
#define HT__AGG_VALS 8
struct ht__agg {
    uint64_t k1, k2;
    uint64_t v[HT__AGG_VALS];
};
struct ht__aggtab {
    struct ht__agg *v;
    size_t n, vcap;
    uint32_t *idx; /* slot -> row + 1, 0 empty */
    size_t icap;
};
/* Home slot of (k1, k2) in an index of cap (a power of two) slots. */
static inline size_t ht__agg_hash(uint64_t a, uint64_t b, size_t cap)
{
    uint64_t k = a * UINT64_C(0x9e3779b97f4a7c15) ^ (b + 0x632be59bd9b4e019u);
    k ^= k >> 33;
    k *= UINT64_C(0xff51afd7ed558ccd);
    k ^= k >> 33;
    return (size_t)k & (cap - 1);
}
/* Hints, no effect on results, like ht__objtab_prefetch_*: prefetch_idx
 * starts loading (k1, k2)'s home index slot, prefetch_row (events later)
 * the first nvals values of the row that slot names (the key's row when it
 * is at home: nearly always at load <= 1/2). The replay calls them ahead
 * of an allocation whose churn row is hashed: with thousands of (site,
 * size) rows both loads miss the cache. always_inline: gcc 12 left to
 * itself judged the call free of effects (ipa-modref) and deleted it. */
static inline __attribute__((always_inline)) void
ht__agg_prefetch_idx(const struct ht__aggtab *t, uint64_t k1, uint64_t k2)
{
    if (t->icap)
        __builtin_prefetch(&t->idx[ht__agg_hash(k1, k2, t->icap)]);
}
static inline __attribute__((always_inline)) void
ht__agg_prefetch_row(const struct ht__aggtab *t, uint64_t k1, uint64_t k2,
                     unsigned nvals)
{
    uint32_t r = t->icap ? t->idx[ht__agg_hash(k1, k2, t->icap)] : 0;
    if (r) { /* an 80-byte row: the key and nvals values may span two lines */
        __builtin_prefetch(&t->v[r - 1]);
        __builtin_prefetch(&t->v[r - 1].v[nvals - 1]);
    }
}
/* Row index of (k1, k2), created zeroed if new; -1 on HT_ENOMEM. */
int64_t ht__agg_row(struct ht__aggtab *t, uint64_t k1, uint64_t k2);
void ht__agg_fini(struct ht__aggtab *t);

/* The object table. Invariants (checked by ht__objtab_is_valid):
 *  1. byaddr maps every held object's addr to it, and else only freed
 *     addresses to a mark (see ht__objtab_release);
 *  2. unless unpaged: every page (addr >> 12) overlapped by [addr, addr +
 *     max(size,1)) lists the object (its start bit on its first page, its
 *     cover entry on later ones); when unpaged, pages is empty;
 *  3. n == number of held objects;
 *  4. big: the held objects above 1 MiB, sorted by addr, never paged.
 * A table set unpaged by its owner (before the first insert) keeps no page
 * index - allocs and frees then cost one hash operation - until
 * ht__objtab_index_slab builds it for containing-block lookups. */
struct ht__objtab {
    struct ht__map byaddr; /* addr -> struct ht__obj* */
    struct ht__map pages;  /* (page + 1) -> struct ht__pagebits* */
    struct ht__pagebits *pagefree; /* emptied entries, for reuse (objects.c) */
    size_t n;
    int unpaged;
    struct ht__obj **big; /* blocks > 1 MiB by address (objects.c) */
    size_t nbig, cbig;
    /* paged: every held object lies in [lo, hi) (they only widen): a
     * lookup outside (a stack or static slot) needs no index probe */
    uint64_t lo, hi;
};
/* ht__objtab_insert, _remove, _release: inline, below (after the hints). */
/* The live object containing addr (interior pointers included), or NULL;
 * on an unpaged table only the object starting at addr. */
struct ht__obj *ht__objtab_find(const struct ht__objtab *t, uint64_t addr);
/* The table also keeps the set of freed addresses where no block is live
 * (the engine tells double from invalid frees with it): release detaches
 * the object at addr and marks addr freed in one probe; mark_freed marks
 * addr unless a block is live there (HT_ENOMEM);
 * was_freed says whether addr is marked. Inserting at a marked address
 * replaces the mark. Marks cost memory per distinct freed address. */
ht_err ht__objtab_mark_freed(struct ht__objtab *t, uint64_t addr);
int ht__objtab_was_freed(const struct ht__objtab *t, uint64_t addr);
/* byaddr value of a freed address where no block is live; never an
 * object pointer */
#define HT__FREED_MARK UINT64_C(1)
/* Hints, no effect on results: prefetch_slot starts loading addr's home
 * slot, prefetch_obj (events later, when that slot has arrived) the
 * object held at addr (a probe: usually that slot alone). The
 * replay calls them ahead of each ALLOC and FREE: a free otherwise waits
 * on two cache misses in a row (slot, then object). They read the table
 * as it is now: a slot changed in between costs a useless prefetch, never
 * a wrong answer. Inline: three per event. A table under
 * HT__PREFETCH_MIN_CAP slots (64 KiB; ~2000 live objects at most) stays in
 * cache: no hints then (they cost 4 % more instructions, for nothing). */
#define HT__PREFETCH_MIN_CAP 4096u
static inline void ht__objtab_prefetch_slot(const struct ht__objtab *t,
                                            uint64_t addr)
{
    if (t->byaddr.cap >= HT__PREFETCH_MIN_CAP)
        __builtin_prefetch(&t->byaddr.s[ht__map_home(&t->byaddr, addr)]);
}
/* The object a byaddr slot holds, or NULL (empty, or a freed mark). */
static inline struct ht__obj *ht__slot_obj(const struct ht__slot *sl)
{
    return sl->key && sl->val != HT__FREED_MARK
               ? (struct ht__obj *)(uintptr_t)sl->val
               : NULL;
}
/* The object starting exactly at addr, or NULL (one probe, inline: the
 * replay loop's hints call it too). */
static inline struct ht__obj *ht__objtab_get(const struct ht__objtab *t,
                                             uint64_t addr)
{
    return t->byaddr.cap
               ? ht__slot_obj(&t->byaddr.s[ht__map_slot(&t->byaddr, addr)])
               : NULL;
}
static inline void ht__objtab_prefetch_obj(const struct ht__objtab *t,
                                           uint64_t addr)
{
    if (t->byaddr.cap < HT__PREFETCH_MIN_CAP)
        return;
    const char *o = (const char *)ht__objtab_get(t, addr);
    if (o) {
        /* 128 bytes: two lines of a slab slot (64-byte aligned) */
        __builtin_prefetch(o);
        __builtin_prefetch(o + 64);
    }
}
/* As prefetch_obj at any table size, and the object (or NULL) returned:
 * for a caller that hints more through it later (the replay's churn row
 * of a free, with no second probe). */
static inline const struct ht__obj *
ht__objtab_prefetch_get(const struct ht__objtab *t, uint64_t addr)
{
    const char *o = (const char *)ht__objtab_get(t, addr);
    if (o) {
        __builtin_prefetch(o);
        __builtin_prefetch(o + 64);
    }
    return (const struct ht__obj *)o;
}
/* ---- inline paths of the table's per-event operations ---- */
/* Blocks above this size are kept out of the page index (objects.c big). */
#define HT__OBJ_BIG (UINT64_C(1) << 20)
/* Empty slot j of m (backward-shift deletion). */
void ht__map_del_at(struct ht__map *m, size_t j);
/* Put o into byaddr slot sl (empty, or a freed mark: replaced); 0 (nothing
 * changed) if sl holds a live object. The index is the caller's. */
static inline int ht__objtab_hold(struct ht__objtab *t, struct ht__slot *sl,
                                  struct ht__obj *o)
{
    if (ht__slot_obj(sl))
        return 0;
    t->byaddr.n += !sl->key;
    *sl = (struct ht__slot){o->addr, (uint64_t)(uintptr_t)o};
    o->held = 1;
    return 1;
}
/* Add o (its addr must not be held). HT_EINVAL if it is or addr is 0;
 * HT_ENOMEM. Any size. Inline when it is one probe (an unpaged table, a
 * block in no index, room without growing: nearly every allocation of a
 * replay); else ht__objtab_insert_any, which grows the map exactly where
 * this would have (the map's layout is seen: detect walks it). */
ht_err ht__objtab_insert_any(struct ht__objtab *t, struct ht__obj *o);
static inline ht_err ht__objtab_insert(struct ht__objtab *t, struct ht__obj *o)
{
    struct ht__map *m = &t->byaddr;
    if (t->unpaged && o->addr && o->size <= HT__OBJ_BIG &&
        (m->n + 1) * 2 < m->cap) {
        if (!ht__objtab_hold(t, &m->s[ht__map_slot(m, o->addr)], o))
            return HT_EINVAL;
        t->n++;
        return HT_OK;
    }
    return ht__objtab_insert_any(t, o);
}
/* Remove o from the page index or big (a block in either); objects.c. */
void ht__objtab_unindex(struct ht__objtab *t, struct ht__obj *o);
/* Detach the object at addr; mark: leave the freed mark in its slot (one
 * probe for a free), else empty the slot. Inline: every free is one. */
static inline struct ht__obj *ht__objtab_detach(struct ht__objtab *t,
                                                uint64_t addr, int mark)
{
    if (!t->byaddr.cap)
        return NULL;
    size_t j = ht__map_slot(&t->byaddr, addr);
    struct ht__obj *o = ht__slot_obj(&t->byaddr.s[j]);
    if (!o)
        return NULL;
    if (mark)
        t->byaddr.s[j].val = HT__FREED_MARK;
    else
        ht__map_del_at(&t->byaddr, j);
    o->held = 0;
    if (o->size > HT__OBJ_BIG || !t->unpaged)
        ht__objtab_unindex(t, o);
    t->n--;
    return o;
}
/* Detach the object at addr (NULL if none). */
static inline struct ht__obj *ht__objtab_remove(struct ht__objtab *t,
                                                uint64_t addr)
{
    return ht__objtab_detach(t, addr, 0);
}
/* Detach the object at addr and mark addr freed (one probe). */
static inline struct ht__obj *ht__objtab_release(struct ht__objtab *t,
                                                 uint64_t addr)
{
    return ht__objtab_detach(t, addr, 1);
}
/* Call fn on every held object (must not modify the table). */
void ht__objtab_each(const struct ht__objtab *t,
                     void (*fn)(void *ctx, struct ht__obj *o), void *ctx);
int ht__objtab_is_valid(const struct ht__objtab *t);

/* Set the edge at offset off (replacing any). *old receives the previous
 * value (0 if none). HT_ENOMEM. */
ht_err ht__obj_set_edge(struct ht__obj *o, uint64_t off, uint64_t val,
                        uint64_t seq, uint64_t site, uint64_t *old);
/* Drop edges at offsets >= size (after a shrinking realloc). */
void ht__obj_truncate(struct ht__obj *o, uint64_t size);

/* ---- object slab (replay/objects.c) ---------------------------------
 * The replay's objects, in fixed 128-byte slots carved from 2 MiB chunks
 * (ht__objslab_get), so a run holding a million objects pays no malloc
 * header, no per-object malloc/free and no free() of each at the end.
 * Ownership: the slab owns its chunks and every slot; a slot handed out
 * by get belongs to the caller (the engine: its object table or pending
 * map) until put returns it; ht__objslab_fini frees every slot's edge
 * array and every chunk at once. Invariants (ht__objslab_is_valid):
 *  1. chunks[0..nchunks) are 64-byte-aligned arrays of HT__SLAB_SLOTS
 *     objects; slots [0, HT__SLAB_SLOTS) of all chunks but the last, and
 *     [0, used) of the last, have been handed out at least once; the rest
 *     have never been touched;
 *  2. a slot on the free list (linked through its addr field) has edges
 *     NULL: so fini frees edges of every handed-out slot without knowing
 *     which are live;
 *  3. the free list is LIFO (the last slot put is the next got: warm);
 *  4. a slot's held flag is 1 iff an object table holds it (objects.c sets
 *     it on insert, clears it on detach; free slots have it 0): a walk over
 *     the dense slots finds the table's objects without the sparse map. */
#define HT__SLAB_SLOTS ((size_t)(2u << 20) / sizeof(struct ht__obj))
struct ht__objslab {
    struct ht__obj *free;   /* free list through (struct ht__obj *)addr */
    struct ht__obj **chunks;
    size_t nchunks, cchunks;
    size_t used;            /* slots handed out of chunks[nchunks - 1] */
};
/* A slot never handed out (a new chunk when the last is used up), not
 * zeroed; NULL: HT_ENOMEM. */
struct ht__obj *ht__objslab_grow(struct ht__objslab *s);
/* A zeroed object slot, or NULL (HT_ENOMEM). Inline: one per allocation
 * event. */
static inline struct ht__obj *ht__objslab_get(struct ht__objslab *s)
{
    static const struct ht__obj zero_obj;
    struct ht__obj *o = s->free;
    if (o)
        s->free = (struct ht__obj *)(uintptr_t)o->addr;
    else if (s->nchunks && s->used < HT__SLAB_SLOTS)
        o = &s->chunks[s->nchunks - 1][s->used++];
    else if (!(o = ht__objslab_grow(s)))
        return NULL;
    /* a copy of a zero record, not memset: gcc makes the memset (and an
     * initializer) a rep stos, slow to start, on every allocation */
    *o = zero_obj;
    return o;
}
/* Return o (and free its edges); accepts NULL. */
static inline void ht__objslab_put(struct ht__objslab *s, struct ht__obj *o)
{
    if (!o)
        return;
    if (o->edges) { /* most blocks never held a pointer: no call then */
        free(o->edges);
        o->edges = NULL;
    }
    o->addr = (uint64_t)(uintptr_t)s->free;
    s->free = o;
}
/* Call fn on every slot whose object is held by an object table, in slot
 * order (not address order: only for walks whose order is not seen). */
void ht__objslab_each_held(const struct ht__objslab *s,
                           void (*fn)(void *ctx, struct ht__obj *o), void *ctx);
/* Release the chunks whose slots are all free and rebuild the free list
 * (address order), so the end of a run (findings, rows, SQLite) can reuse
 * the memory of objects already freed. Precondition: every slot handed out
 * is held by a table or was put back (none pending or being built), and
 * held is the number of held slots (the walk stops reading slots once it
 * has seen them all). */
void ht__objslab_trim(struct ht__objslab *s, size_t held);
/* Free every slot's edges and every chunk (slots need not be put back). */
void ht__objslab_fini(struct ht__objslab *s);
int ht__objslab_is_valid(const struct ht__objslab *s);
/* Build the page index of an unpaged table (no-op otherwise) from the
 * objects it holds, all slots of s: the walk reads s's dense slots, not
 * t's sparse map (page vectors are sorted, whatever the order of
 * insertion). HT_ENOMEM leaves the table unpaged. */
ht_err ht__objtab_index_slab(struct ht__objtab *t, const struct ht__objslab *s);
/* Free the table's index but none of its objects (they belong to a slab). */
void ht__objtab_fini_index(struct ht__objtab *t);

/* ---- pool map (replay/poolmap.c) ------------------------------------
 * A copy of the pymalloc model's per-pool occupancy, at the peak and
 * at exit and written as pool_map(run_id, seq, kind, arena, pool,
 * size_class, used_blocks, total_blocks) rows. Owns its array. */
struct ht_pym;
struct ht__amodel;
struct ht_pym_pool_info;
struct ht__poolmap {
    struct ht_pym_pool_info *p;
    size_t n, cap;
};
/* Replace pm's contents with the model's pools now (peak 0) or at its last
 * peak mark (peak 1). HT_ENOMEM. */
ht_err ht__poolmap_capture(const struct ht__amodel *a, int peak,
                           struct ht__poolmap *pm);
/* Insert pm's rows (ins: "INSERT INTO pool_map VALUES(?,?,?,?,?,?,?,?)"). */
struct ht_insert;
ht_err ht__poolmap_write(struct ht_insert *ins, int64_t run, uint64_t seq,
                         const char *kind, const struct ht__poolmap *pm);
void ht__poolmap_fini(struct ht__poolmap *pm);

/* ---- allocator models (replay/amodel.c) -----------------------------
 * The one interface the engine calls for the allocator model chosen by
 * --allocator: "pymalloc" (a profile "3.8".."3.13", replay/pymalloc.c) or
 * "system" (every request goes to the raw allocator: no pools, no arenas).
 * Addresses handed out are simulated block identities; the engine keeps
 * each block's in its object record (model_addr) and passes it back, with
 * the block's requested size, so no model needs a size map of its own.
 * Statistics use struct ht_pym_stats for both; the system model fills
 * only raw_blocks (live blocks), bytes_allocated_blocks and bytes_total
 * (both the live requested bytes: the model has no overhead of its own,
 * so utilisation is 1 when anything is live), everything else 0; it has
 * no pools, so each_pool calls nothing (no pool_map rows) and no address
 * is below HT_PYM_RAW_BASE (no pinning rows). */
struct ht_pym_stats;
struct ht__amodel_ops {
    const char *name;
    ht_err (*malloc)(void *m, uint64_t size, uint64_t *addr);
    /* addr: a live block of old_size requested bytes (0: malloc) */
    ht_err (*realloc)(void *m, uint64_t addr, uint64_t old_size,
                      uint64_t size, uint64_t *new_addr);
    ht_err (*release)(void *m, uint64_t addr, uint64_t size);
    void (*stats)(const void *m, struct ht_pym_stats *st);
    int (*each_pool)(const void *m,
                     int (*cb)(void *ctx, const struct ht_pym_pool_info *p),
                     void *ctx);
    void (*destroy)(void *m);
    /* the peak view: mark_peak remembers the state now in O(1); peak_stats
     * and peak_each_pool report it exactly (see ht_pym_mark_peak) */
    void (*mark_peak)(void *m);
    void (*peak_stats)(const void *m, struct ht_pym_stats *st);
    int (*peak_each_pool)(const void *m,
                          int (*cb)(void *ctx, const struct ht_pym_pool_info *p),
                          void *ctx);
};
struct ht__amodel {
    const struct ht__amodel_ops *ops;
    void *m; /* owned; freed by ht__amodel_fini */
};
/* name: "system", a pymalloc profile ("3.8".."3.13", optionally prefixed
 * "pymalloc-"), or NULL ("3.12"). HT_EINVAL for another name, HT_ENOMEM;
 * *a is zeroed on failure. */
ht_err ht__amodel_new(const char *name, struct ht__amodel *a);
/* 1 iff name selects the system model. */
int ht__amodel_is_system(const char *name);
/* name without its optional "pymalloc-" prefix (a pointer into name; NULL
 * for NULL): the one place that prefix is read. */
const char *ht__amodel_profile(const char *name);
void ht__amodel_fini(struct ht__amodel *a);
/* The pymalloc model behind a, or NULL: the replay calls its malloc and
 * release directly (no indirect call, no adapter) on every event. */
struct ht_pym *ht__amodel_pym(const struct ht__amodel *a);

#endif
