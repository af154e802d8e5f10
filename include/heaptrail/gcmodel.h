/*
 * heaptrail collector model: CPython's generational cyclic GC (3.8 - 3.13,
 * and 3.14.5+ which reverted to it), as described in
 * /work/shared/design/cpython-memory.md sections 0.2, 2.3 and 2.4.
 *
 * The model is independent of the rest of heaptrail. Objects are named by
 * uint64 ids (the replay uses addresses). Each object has:
 *   - a tracked flag (container = GC-capable memory, in a generation list);
 *   - an external refcount: references from outside the object graph
 *     (roots, stack, unknown pointers), set with ht_gc_extref();
 *   - outgoing edges to other objects, a multiset (ht_gc_edge_add/del).
 * The modelled ob_refcnt of an object is extref + number of edges that point
 * to it (from any object, tracked or not), exactly the quantity that
 * update_refs copies into gc_refs.
 *
 * What is modelled: count0/count1/count2, thresholds, the trigger
 * (count0 > threshold0 on a container allocation, immediate for <= 3.11,
 * deferred to the next ht_gc_tick() for 3.12+), generation selection with
 * the long-lived 25 % rule, update_refs, subtract_refs, move_unreachable,
 * promotion, long_lived_pending/total, per-generation statistics.
 * What is not: finalizers, weakrefs, legacy tp_del (uncollectable is always
 * 0), tuple/dict untracking, free lists (the caller decides which
 * allocations reach _PyObject_GC_Link), immortal objects.
 *
 * Unreachable objects: a collection reports them (collected count and ids)
 * and then REMOVES them from the model, as if tp_clear had broken the cycle
 * and refcounting had freed them: their outgoing edges disappear and each
 * removal decrements count0 (clamped at 0) like PyObject_GC_Del. The caller
 * must not ht_gc_dealloc() them again (that returns HT_ENOTFOUND).
 *
 * A deallocated object may still be the target of edges held by others
 * (a stale pointer in C); such edges are ignored from then on and never
 * retarget a later object that reuses the id.
 *
 * Not thread-safe. Callbacks must not call back into the same ht_gc
 * (such calls return HT_EBUSY).
 */
#ifndef HEAPTRAIL_GCMODEL_H
#define HEAPTRAIL_GCMODEL_H

#include <stddef.h>
#include <stdint.h>

#include "heaptrail/err.h"

#define HT_GC_NGEN 3

typedef struct ht_gc ht_gc;

/* Information about one collection, passed to the hook and returned by
 * ht_gc_collect(). ids is borrowed: owned by the ht_gc, valid until the next
 * call that may collect (alloc, tick, collect) or ht_gc_free(). */
struct ht_gc_result {
    int generation;              /* generation collected (0..2) */
    int automatic;               /* 1: triggered by allocation/tick */
    int64_t count_before[HT_GC_NGEN]; /* counts when the collection began */
    size_t collected;            /* unreachable objects found and removed */
    size_t uncollectable;        /* always 0 in this model */
    const uint64_t *ids;         /* the collected ids, move_unreachable order */
};

/* Called after every collection (automatic or explicit). info is borrowed
 * for the duration of the call. */
typedef void ht_gc_hook(void *arg, const struct ht_gc_result *info);

struct ht_gc_config {
    int64_t threshold[HT_GC_NGEN]; /* gc.get_threshold(); threshold0 == 0 disables */
    int deferred;                  /* 1: 3.12+ eval-breaker scheduling */
    ht_gc_hook *hook;              /* may be NULL */
    void *hook_arg;                /* passed to hook, borrowed */
    int no_ids;                    /* 1: keep no id index; see ht_gc_ref */
    int lazy;                      /* 1 (needs no_ids): counts only until
                                    * ht_gc_lazy_end; see there */
};

/* Per generation statistics, like gc.get_stats(). */
struct ht_gc_stats {
    uint64_t collections;
    uint64_t collected;
    uint64_t uncollectable;
};

/* Fill *cfg with the defaults of CPython "3.8".."3.13" (and "3.14.5", "3.15":
 * the generational collector). Returns HT_EINVAL (cfg zeroed) for anything
 * else, including 3.14.0-3.14.4 whose incremental collector is not modelled. */
ht_err ht_gc_config_for_version(const char *version, struct ht_gc_config *cfg);

/* Create an empty model. cfg is copied. Returns HT_ENOMEM or HT_EINVAL
 * (negative threshold); *out is NULL on failure. Free with ht_gc_free(). */
ht_err ht_gc_new(const struct ht_gc_config *cfg, ht_gc **out);

/* Free the model and every id list it returned; accepts NULL. */
void ht_gc_free(ht_gc *gc);

/* An object appears. container != 0: GC memory, tracked in generation 0,
 * count0 += 1 (like _PyObject_GC_Link); may then collect (<= 3.11) or
 * schedule a collection (3.12+). External refcount starts at 0.
 * Errors: HT_EINVAL (id already live), HT_ENOMEM, HT_EBUSY (inside hook);
 * on error nothing changed. */
ht_err ht_gc_alloc(ht_gc *gc, uint64_t id, int container);

/* The object's memory is freed: its outgoing edges vanish, and for a
 * container count0 -= 1 clamped at 0 (like PyObject_GC_Del). HT_ENOTFOUND if
 * the id is not live. */
ht_err ht_gc_dealloc(ht_gc *gc, uint64_t id);

/* Add / remove one from->to edge. HT_ENOTFOUND if an endpoint is not live or
 * (del) no such edge exists; HT_ENOMEM. */
ht_err ht_gc_edge_add(ht_gc *gc, uint64_t from, uint64_t to);
ht_err ht_gc_edge_del(ht_gc *gc, uint64_t from, uint64_t to);

/* Change the external refcount by delta. HT_EINVAL if it would become
 * negative (nothing changed), HT_ENOTFOUND if id is not live. */
ht_err ht_gc_extref(ht_gc *gc, uint64_t id, int64_t delta);

/* The eval-breaker check: runs the scheduled collection, if any (3.12+
 * only; a no-op otherwise). *ran (may be NULL) is set to 1 if a collection
 * ran. */
ht_err ht_gc_tick(ht_gc *gc, int *ran);

/* gc.collect(generation): collect generation and all younger ones. *out
 * (may be NULL) receives the result; its ids are borrowed (see above).
 * HT_EINVAL for a generation outside 0..2, HT_EBUSY inside the hook. */
ht_err ht_gc_collect(ht_gc *gc, int generation, struct ht_gc_result *out);

/* gc.set_threshold(). HT_EINVAL for negative values. */
ht_err ht_gc_set_threshold(ht_gc *gc, int64_t t0, int64_t t1, int64_t t2);

/* Handles. ht_gc_alloc_ref() hands out a ref naming the new object; the
 * _ref calls below take it instead of an id and so need no id lookup (the
 * replay keeps each block's ref in its own record). A ref goes stale when
 * its object is deallocated or collected: the _ref calls then return
 * HT_ENOTFOUND, never act on a later object in the same slot. 0 is never a
 * ref. With cfg.no_ids the model keeps no id -> object index at all: ids
 * are only reported (collections' ids), several live objects may share an
 * id, and the id-named calls (ht_gc_alloc, _dealloc, _edge_add, _edge_del,
 * _extref) return HT_EINVAL, ht_gc_ref_of 0, ht_gc_generation_of -2.
 * Without no_ids the two kinds of call mix freely (ht_gc_alloc_ref then
 * refuses a live id with HT_EINVAL, like ht_gc_alloc). Errors as for the
 * id-named calls; *out is 0 when no object was made. */
typedef uint64_t ht_gc_ref;
ht_err ht_gc_alloc_ref(ht_gc *gc, uint64_t id, int container, ht_gc_ref *out);
/* ht_gc_alloc_ref, then ht_gc_tick (an eval-breaker check right after the
 * allocation, as the replay makes one): one call. The first error of the
 * two (the tick runs whatever the allocation returned). */
ht_err ht_gc_alloc_tick_ref(ht_gc *gc, uint64_t id, int container,
                            ht_gc_ref *out);
ht_err ht_gc_dealloc_ref(ht_gc *gc, ht_gc_ref r);
ht_err ht_gc_edge_add_ref(ht_gc *gc, ht_gc_ref from, ht_gc_ref to);
ht_err ht_gc_edge_del_ref(ht_gc *gc, ht_gc_ref from, ht_gc_ref to);
ht_err ht_gc_extref_ref(ht_gc *gc, ht_gc_ref r, int64_t delta);
/* The ref of live id (0 if none, or no_ids); generation of a ref's object
 * (as ht_gc_generation_of; -2 if stale). */
ht_gc_ref ht_gc_ref_of(const ht_gc *gc, uint64_t id);
int ht_gc_generation_of_ref(const ht_gc *gc, ht_gc_ref r);
/* A hint, no effect on results: start loading the node of r's object
 * (nothing while lazy or for a slot past the node array; a stale ref
 * prefetches a dead node, harmlessly). The
 * replay calls it events ahead of a STORE or refcount event that will
 * read the node. */
void ht_gc_prefetch_ref(const ht_gc *gc, ht_gc_ref r);

/* Lazy mode (cfg.lazy, with cfg.no_ids): while no edge and no external
 * reference exists, every object's refcount is 0, so a collection destroys
 * every tracked object and all live objects sit in generation 0 in
 * allocation order. A model made lazy keeps only counts until then: an
 * alloc/dealloc costs a few counter updates and no node; collections give
 * exact counts, statistics and generations but ids NULL. In lazy mode
 * container must be 1 (else HT_EINVAL), each ref must be deallocated at
 * most once, and the edge and extref calls return HT_EINVAL: before the
 * first of them the caller calls ht_gc_lazy_end with every ref it still
 * holds (refs[0..n), each once, in any order; ones a collection destroyed
 * allowed, never one the caller deallocated) and its
 * object's id; the model builds its nodes (in allocation order, as the
 * eager model would hold them), replaces each ref in place (0 for a dead
 * one: as stale) and is eager from then on. A ref deallocated in lazy mode
 * still reads as live (generation 0) until then. Errors: HT_EINVAL (the
 * number of live refs given is not the model's live count; nothing changed),
 * HT_ENOMEM (nothing changed), HT_EBUSY (inside the hook). No-op when not
 * lazy. */
ht_err ht_gc_lazy_end(ht_gc *gc, ht_gc_ref *refs, const uint64_t *ids,
                      size_t n);
/* 1 while the model is lazy. */
int ht_gc_is_lazy(const ht_gc *gc);

/* gc.get_count() into count[3]. */
void ht_gc_get_count(const ht_gc *gc, int64_t count[HT_GC_NGEN]);

/* gc.get_stats() into stats[3]. */
void ht_gc_get_stats(const ht_gc *gc, struct ht_gc_stats stats[HT_GC_NGEN]);

/* long_lived_pending and long_lived_total (either pointer may be NULL). */
void ht_gc_get_long_lived(const ht_gc *gc, uint64_t *pending, uint64_t *total);

/* Generation of a live object: 0..2, -1 if untracked, -2 if not live. */
int ht_gc_generation_of(const ht_gc *gc, uint64_t id);

/* Number of live objects (tracked or not) and of tracked objects in gen. */
size_t ht_gc_live(const ht_gc *gc);
size_t ht_gc_gen_size(const ht_gc *gc, int generation);

/* Check invariants 1-6 of replay/gcmodel.c; 1 if they hold. O(objects +
 * edges). */
int ht__gc_is_valid(const ht_gc *gc);

#endif
