/*
 * Collector model: CPython's generational cyclic GC (gcmodule.c 3.8-3.12,
 * Python/gc.c 3.13). See include/heaptrail/gcmodel.h for the contract and
 * /work/shared/design/cpython-memory.md section 2 for the algorithm.
 *
 * Data structures
 *   nodes[]   one slot per live object; slots 0..3 are the list heads
 *             (generations 0, 1, 2 and the "unreachable" list of a running
 *             collection), objects start at HEAD_COUNT. Lists are circular,
 *             doubly linked by slot index, like PyGC_Head lists.
 *   map[]     open-addressing hash (linear probing, backward-shift delete)
 *             from id to slot index; 0 marks an empty bucket. NULL with
 *             cfg.no_ids: the caller names objects by ref (slot | stamp
 *             << 32) and an alloc/dealloc costs no hash operation.
 *   edges     each object owns an array of {slot, stamp}. An edge is live
 *             while nodes[slot].stamp == stamp; freeing a slot bumps its
 *             stamp, so edges to dead objects go stale instead of dangling.
 *
 * Invariants (checked by ht__gc_is_valid):
 *   1. every tracked object is in exactly one generation list, the one its
 *      gen field names; untracked objects are in no list; outside a
 *      collection the unreachable list is empty and no flag is set.
 *   2. gen_size[g] == length of list g.
 *   3. inref of an object == number of live edges, from any object, that
 *      resolve to it.
 *   4. map (unless no_ids) holds exactly the live objects, each at its own
 *      slot.
 *   5. count[g] >= 0; live == number of live objects.
 *   6. long_lived_pending and long_lived_total only change in collections.
 *   7. nedges_all == sum of nedges over live objects (stale edges included):
 *      while it is 0 no edge exists, and a collection is one pass over the
 *      young list (collect_no_edges).
 *   8. lazy (cfg.lazy, until ht_gc_lazy_end): no node exists (nnodes ==
 *      HEAD_COUNT, every list empty, nedges_all == 0), gen_size[1] ==
 *      gen_size[2] == 0 and live == gen_size[0] == the refs r with
 *      lz_start <= r < lz_next not yet deallocated: refs are allocation
 *      numbers, lz_start the first one made since the last collection
 *      (which destroyed every older object: none had a reference). This is
 *      the eager model's state with the nodes left out: with no edge and no
 *      extref, every object it holds is tracked, in generation 0 (a
 *      collection of g leaves every list 0..g empty), in allocation order.
 *
 * Layout: a node is one 64-byte cache line and the node array is 64-byte
 * aligned (nodes_alloc), so the collector's walk over a young list whose
 * slots are scattered touches one line per object, not two.
 *
 * Transitions: alloc (absent -> gen 0 or untracked), dealloc (-> absent),
 * collect (young -> old, or -> absent when unreachable).
 */
#include "heaptrail/gcmodel.h"

#include <stdlib.h>
#include <string.h>

#define HEAD_COUNT 4u
#define UNREACH_HEAD 3u
#define NIL UINT32_MAX

#define GEN_UNTRACKED 0xffu
#define F_COLLECTING 1u
#define F_UNREACHABLE 2u

struct edge {
    uint32_t slot;  /* target slot */
    uint32_t stamp; /* target stamp when the edge was added */
};

struct node {
    uint64_t id;
    uint32_t prev, next; /* list links; NIL when untracked */
    uint32_t stamp;      /* bumped on free; odd/even irrelevant */
    uint32_t nedges, cap;
    uint8_t gen;   /* 0..2, GEN_UNTRACKED, or 0xfe for a free slot */
    uint8_t flags; /* F_* during a collection only */
    int64_t extref; /* >= 0 */
    int64_t inref;  /* live edges pointing here */
    int64_t refs;   /* gc_refs during a collection */
    struct edge *edges;
};
_Static_assert(sizeof(struct node) == 64, "a node is one cache line");

#define GEN_FREE 0xfeu

struct ht_gc {
    struct ht_gc_config cfg;
    struct node *nodes;
    uint32_t nnodes, capnodes; /* slots used / allocated */
    uint32_t freelist;         /* free slots chained through next */
    uint64_t nedges_all;       /* invariant 7 */
    uint32_t *map;
    size_t mapcap, live;
    int64_t count[HT_GC_NGEN];
    size_t gen_size[HT_GC_NGEN];
    uint64_t ll_pending, ll_total;
    struct ht_gc_stats stats[HT_GC_NGEN];
    int collecting, scheduled;
    int lazy;                  /* invariant 8 */
    uint64_t lz_next, lz_start;
    uint64_t *ids;
    size_t ncap_ids;
};

/* ---- hash map --------------------------------------------------------- */

static size_t hash_id(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ull;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dull;
    x ^= x >> 33;
    return (size_t)x;
}

static size_t map_find_bucket(const ht_gc *gc, uint64_t id)
{
    size_t mask = gc->mapcap - 1, b = hash_id(id) & mask;
    while (gc->map[b] != 0 && gc->nodes[gc->map[b]].id != id)
        b = (b + 1) & mask;
    return b;
}

static uint32_t map_get(const ht_gc *gc, uint64_t id)
{
    return gc->map[map_find_bucket(gc, id)];
}

static ht_err map_grow(ht_gc *gc)
{
    size_t ncap = gc->mapcap ? gc->mapcap * 2 : 1024;
    uint32_t *old = gc->map;
    size_t oldcap = gc->mapcap;
    uint32_t *m = calloc(ncap, sizeof *m);
    if (!m)
        return HT_ENOMEM;
    gc->map = m;
    gc->mapcap = ncap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i])
            gc->map[map_find_bucket(gc, gc->nodes[old[i]].id)] = old[i];
    free(old);
    return HT_OK;
}

/* Empty bucket i (backward-shift deletion). */
static void map_del_at(ht_gc *gc, size_t i)
{
    size_t mask = gc->mapcap - 1, j = i;
    gc->map[i] = 0;
    for (;;) {
        j = (j + 1) & mask;
        if (!gc->map[j])
            return;
        size_t k = hash_id(gc->nodes[gc->map[j]].id) & mask;
        /* move j back to i unless its home k lies cyclically in (i, j] */
        if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        gc->map[i] = gc->map[j];
        gc->map[j] = 0;
        i = j;
    }
}

/* ---- lists ------------------------------------------------------------ */

static void list_init(ht_gc *gc, uint32_t h)
{
    gc->nodes[h].prev = gc->nodes[h].next = h;
}

static void list_append(ht_gc *gc, uint32_t n, uint32_t h)
{
    uint32_t last = gc->nodes[h].prev;
    gc->nodes[n].prev = last;
    gc->nodes[n].next = h;
    gc->nodes[last].next = n;
    gc->nodes[h].prev = n;
}

static void list_remove(ht_gc *gc, uint32_t n)
{
    struct node *x = &gc->nodes[n];
    gc->nodes[x->prev].next = x->next;
    gc->nodes[x->next].prev = x->prev;
    x->prev = x->next = NIL;
}

/* Append list `from` to the tail of list `to`; `from` becomes empty. */
static void list_merge(ht_gc *gc, uint32_t from, uint32_t to)
{
    struct node *f = &gc->nodes[from];
    if (f->next == from)
        return;
    uint32_t tl = gc->nodes[to].prev;
    gc->nodes[tl].next = f->next;
    gc->nodes[f->next].prev = tl;
    gc->nodes[to].prev = f->prev;
    gc->nodes[f->prev].next = to;
    list_init(gc, from);
}

/* ---- slots ------------------------------------------------------------ */

/* A 64-byte aligned copy of old[0..n) with room for cap nodes (the rest
 * zeroed); frees old. NULL on ENOMEM (old kept). */
static struct node *nodes_alloc(struct node *old, uint32_t n, uint32_t cap)
{
    struct node *p = aligned_alloc(64, (size_t)cap * sizeof *p);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, old, (size_t)n * sizeof *p);
    memset(p + n, 0, (size_t)(cap - n) * sizeof *p);
    free(old);
    return p;
}

static struct node *resolve(const ht_gc *gc, const struct edge *e)
{
    struct node *t = &gc->nodes[e->slot];
    return t->stamp == e->stamp && t->gen != GEN_FREE ? t : NULL;
}

static __attribute__((noinline)) ht_err slot_grow(ht_gc *gc)
{
    uint32_t nc = gc->capnodes * 2;
    struct node *n = nodes_alloc(gc->nodes, gc->nnodes, nc);
    if (!n)
        return HT_ENOMEM;
    gc->nodes = n;
    gc->capnodes = nc;
    return HT_OK;
}

static inline ht_err slot_take(ht_gc *gc, uint32_t *out)
{
    if (gc->freelist != NIL) {
        *out = gc->freelist;
        gc->freelist = gc->nodes[*out].next;
        return HT_OK;
    }
    if (gc->nnodes == gc->capnodes && slot_grow(gc) != HT_OK)
        return HT_ENOMEM;
    gc->nodes[gc->nnodes].stamp = 0;
    *out = gc->nnodes++;
    return HT_OK;
}

/* The last step of obj_destroy, when s has no edge array and no map
 * bucket: leave its list and free the slot. */
static inline __attribute__((always_inline)) void obj_unlink(ht_gc *gc,
                                                             uint32_t s)
{
    struct node *x = &gc->nodes[s];
    if (x->gen != GEN_UNTRACKED) {
        if (x->gen < HT_GC_NGEN)
            gc->gen_size[x->gen]--;
        list_remove(gc, s);
        if (gc->count[0] > 0)
            gc->count[0]--; /* PyObject_GC_Del */
    }
    x->gen = GEN_FREE;
    x->stamp++;
    x->next = gc->freelist;
    gc->freelist = s;
    gc->live--;
}

/* out of line: a free with edges or a map to update */
static __attribute__((noinline)) void obj_destroy_slow(ht_gc *gc, uint32_t s,
                                                       size_t bucket);

/* Remove a live object completely: edges, list, map, slot. */
/* bucket: s's map bucket when the caller has it, else SIZE_MAX. Inlined:
 * every free of a block (ht_gc_dealloc_ref) is one. */
static inline __attribute__((always_inline)) void
obj_destroy(ht_gc *gc, uint32_t s, size_t bucket)
{
    struct node *x = &gc->nodes[s];
    if (!gc->map && !x->edges) { /* the replay's common case */
        obj_unlink(gc, s);
        return;
    }
    obj_destroy_slow(gc, s, bucket);
}

static void obj_destroy_slow(ht_gc *gc, uint32_t s, size_t bucket)
{
    struct node *x = &gc->nodes[s];
    for (uint32_t i = 0; i < x->nedges; i++) {
        struct node *t = resolve(gc, &x->edges[i]);
        if (t)
            t->inref--;
    }
    if (x->edges) { /* most objects never had an edge: no call then */
        gc->nedges_all -= x->nedges;
        free(x->edges);
        x->edges = NULL;
        x->nedges = x->cap = 0;
    }
    if (gc->map)
        map_del_at(gc, bucket != SIZE_MAX ? bucket : map_find_bucket(gc, x->id));
    obj_unlink(gc, s);
}

/* ---- collection ------------------------------------------------------- */

static int in_young(const struct node *t)
{
    return t && t->gen != GEN_UNTRACKED && (t->flags & F_COLLECTING);
}

/* Steps 2-3: gc_refs = refcount - references from inside young. */
static void update_and_subtract(ht_gc *gc, uint32_t young)
{
    int edges = 0;
    for (uint32_t s = gc->nodes[young].next; s != young; s = gc->nodes[s].next) {
        struct node *x = &gc->nodes[s];
        x->refs = x->extref + x->inref;
        x->flags = F_COLLECTING;
        edges |= x->nedges != 0;
    }
    if (!edges) /* nothing to subtract (and no stale edge to drop) */
        return;
    for (uint32_t s = gc->nodes[young].next; s != young; s = gc->nodes[s].next) {
        struct node *x = &gc->nodes[s];
        for (uint32_t i = 0; i < x->nedges;) {
            struct node *t = resolve(gc, &x->edges[i]);
            if (!t) { /* stale edge: drop it, keeping memory bounded */
                x->edges[i] = x->edges[--x->nedges];
                gc->nedges_all--;
                continue;
            }
            if (in_young(t))
                t->refs--;
            i++;
        }
    }
}

/* visit_reachable for every referent of a reachable object. */
static void visit_reachable(ht_gc *gc, struct node *x, uint32_t young)
{
    for (uint32_t i = 0; i < x->nedges; i++) {
        struct node *t = resolve(gc, &x->edges[i]);
        if (!in_young(t))
            continue;
        uint32_t ts = x->edges[i].slot;
        if (t->flags & F_UNREACHABLE) {
            list_remove(gc, ts);
            list_append(gc, ts, young);
            t->flags &= (uint8_t)~F_UNREACHABLE;
            t->refs = 1;
        } else if (t->refs == 0) {
            t->refs = 1;
        }
    }
}

/* Step 4: leave reachable objects in young, move the rest to UNREACH_HEAD.
 * A node passed as reachable stays so (moves only go back to young's tail,
 * not yet scanned), so it gets its survivor generation `old` (step 6) here.
 * Returns the number of survivors. */
static size_t move_unreachable(ht_gc *gc, uint32_t young, uint8_t old)
{
    uint32_t prev = young, s = gc->nodes[young].next;
    size_t survivors = 0;
    while (s != young) {
        struct node *x = &gc->nodes[s];
        if (x->refs > 0) {
            visit_reachable(gc, x, young);
            x->flags = 0;
            x->gen = old;
            survivors++;
            prev = s;
        } else {
            list_remove(gc, s);
            list_append(gc, s, UNREACH_HEAD);
            x->flags |= F_UNREACHABLE;
        }
        s = gc->nodes[prev].next;
    }
    return survivors;
}

static ht_err ensure_ids(ht_gc *gc, size_t n)
{
    if (n <= gc->ncap_ids)
        return HT_OK;
    size_t nc = gc->ncap_ids ? gc->ncap_ids : 64;
    while (nc < n)
        nc *= 2;
    uint64_t *p = realloc(gc->ids, nc * sizeof *p);
    if (!p)
        return HT_ENOMEM;
    gc->ids = p;
    gc->ncap_ids = nc;
    return HT_OK;
}

/* generation the survivors of a collection of g move to */
static uint8_t older(int g)
{
    return (uint8_t)(g + 1 < HT_GC_NGEN ? g + 1 : g);
}

/* Step 6: merge the survivors of young (list g; their gen already set by
 * move_unreachable) into old and keep the long-lived bookkeeping. */
static void promote_survivors(ht_gc *gc, int g)
{
    uint32_t young = (uint32_t)g;
    uint8_t old = older(g);
    size_t survivors = gc->gen_size[g];
    if (old != g) {
        if (g == HT_GC_NGEN - 2)
            gc->ll_pending += survivors;
        list_merge(gc, young, old);
        gc->gen_size[old] += survivors;
        gc->gen_size[g] = 0;
    } else {
        gc->ll_pending = 0;
        gc->ll_total = survivors;
    }
}

/* Step 11: tp_clear breaks the cycles and refcounting frees the objects;
 * each free decrements count0 (clamped) like PyObject_GC_Del. The ids of
 * the collected objects go to gc->ids, in list order; returns their count. */
static size_t delete_garbage(ht_gc *gc)
{
    size_t n = 0;
    while (gc->nodes[UNREACH_HEAD].next != UNREACH_HEAD) {
        uint32_t s = gc->nodes[UNREACH_HEAD].next;
        gc->ids[n++] = gc->nodes[s].id;
        gc->nodes[s].flags = 0;
        gc->nodes[s].gen = HT_GC_NGEN; /* counted in no gen_size */
        obj_destroy(gc, s, SIZE_MAX);
    }
    return n;
}

/* Steps 2-6 and 11 when no edge exists (invariant 7), in one pass: with no
 * edge gc_refs is the refcount, visit_reachable never moves a node, so the
 * general path leaves the survivors in young in list order and deletes the
 * rest in list order - exactly what this walk does as it goes. (During a
 * collection count[0] is 0 and a deleted node has gen HT_GC_NGEN, so
 * obj_destroy changes no counter either way.) Returns the number collected;
 * their ids go to gc->ids. */
static size_t collect_no_edges(ht_gc *gc, int g)
{
    uint32_t young = (uint32_t)g, s = gc->nodes[young].next;
    uint8_t old = older(g);
    size_t survivors = 0, n = 0;
    while (s != young) {
        struct node *x = &gc->nodes[s];
        uint32_t next = x->next;
        if (x->extref + x->inref > 0) {
            x->gen = old;
            survivors++;
        } else {
            gc->ids[n++] = x->id;
            x->gen = HT_GC_NGEN; /* counted in no gen_size */
            obj_destroy(gc, s, SIZE_MAX);
        }
        s = next;
    }
    gc->gen_size[g] = survivors;
    promote_survivors(gc, g);
    return n;
}

/* gc_collect_main for generation g, steps 1-6, 11 and 14 of section 2.4. */
static ht_err collect_main(ht_gc *gc, int g, int automatic, struct ht_gc_result *res)
{
    memset(res, 0, sizeof *res);
    ht_err rc = gc->lazy ? HT_OK /* no ids reported */
                         : ensure_ids(gc, gc->gen_size[0] + gc->gen_size[1] +
                                              gc->gen_size[2]);
    if (rc != HT_OK)
        return rc;
    res->generation = g;
    res->automatic = automatic;
    memcpy(res->count_before, gc->count, sizeof gc->count);
    gc->collecting = 1;
    if (g + 1 < HT_GC_NGEN)
        gc->count[g + 1]++;
    for (int i = 0; i <= g; i++)
        gc->count[i] = 0;
    uint32_t young = (uint32_t)g;
    for (int i = 0; i < g; i++) {
        list_merge(gc, (uint32_t)i, young);
        gc->gen_size[g] += gc->gen_size[i];
        gc->gen_size[i] = 0;
    }
    size_t n;
    if (gc->lazy) { /* invariant 8: every object is garbage */
        n = gc->gen_size[g];
        gc->live -= n;
        gc->gen_size[g] = 0;
        gc->lz_start = gc->lz_next;
        promote_survivors(gc, g);
    } else if (gc->nedges_all == 0) {
        n = collect_no_edges(gc, g);
    } else {
        update_and_subtract(gc, young);
        gc->gen_size[g] = move_unreachable(gc, young, older(g));
        promote_survivors(gc, g);
        n = delete_garbage(gc);
    }
    gc->stats[g].collections++;
    gc->stats[g].collected += n;
    res->collected = n;
    res->ids = gc->lazy ? NULL : gc->ids;
    if (gc->cfg.hook)
        gc->cfg.hook(gc->cfg.hook_arg, res);
    gc->collecting = 0;
    return HT_OK;
}

/* gc_collect_generations: oldest g with count[g] > threshold[g], skipping
 * g = 2 while long_lived_pending < long_lived_total / 4. -1 if none. */
static int select_generation(const ht_gc *gc)
{
    for (int g = HT_GC_NGEN - 1; g >= 0; g--) {
        if (gc->count[g] <= gc->cfg.threshold[g])
            continue;
        if (g == HT_GC_NGEN - 1 && gc->ll_pending < gc->ll_total / 4)
            continue;
        return g;
    }
    return -1;
}

/* out of line: the allocation path that may call it then stays a leaf */
static __attribute__((noinline)) ht_err collect_auto(ht_gc *gc, int *ran)
{
    struct ht_gc_result res;
    int g = select_generation(gc);
    if (g < 0)
        return HT_OK;
    ht_err rc = collect_main(gc, g, 1, &res);
    if (rc == HT_OK && ran)
        *ran = 1;
    return rc;
}

/* ---- public API ------------------------------------------------------- */

/* Defaults per version: section 0.2 of the design doc. */
ht_err ht_gc_config_for_version(const char *version, struct ht_gc_config *cfg)
{
    static const struct { const char *v; int64_t t0; int deferred; } tab[] = {
        {"3.8", 700, 0},   {"3.9", 700, 0},    {"3.10", 700, 0},
        {"3.11", 700, 0},  {"3.12", 700, 1},   {"3.13", 2000, 1},
        {"3.14.5", 2000, 1}, {"3.15", 2000, 1},
    };
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; version && i < sizeof tab / sizeof tab[0]; i++) {
        if (strcmp(version, tab[i].v) == 0) {
            cfg->threshold[0] = tab[i].t0;
            cfg->threshold[1] = cfg->threshold[2] = 10;
            cfg->deferred = tab[i].deferred;
            return HT_OK;
        }
    }
    return HT_EINVAL;
}

/* Allocate the model; see header. */
ht_err ht_gc_new(const struct ht_gc_config *cfg, ht_gc **out)
{
    *out = NULL;
    if (!cfg || cfg->threshold[0] < 0 || cfg->threshold[1] < 0 || cfg->threshold[2] < 0)
        return HT_EINVAL;
    if (cfg->lazy && !cfg->no_ids)
        return HT_EINVAL;
    ht_gc *gc = calloc(1, sizeof *gc);
    if (!gc)
        return HT_ENOMEM;
    gc->cfg = *cfg;
    gc->lazy = cfg->lazy;
    gc->lz_next = gc->lz_start = 1; /* 0 is never a ref */
    gc->capnodes = 1024;
    gc->nodes = nodes_alloc(NULL, 0, gc->capnodes);
    if (!gc->nodes || (!cfg->no_ids && map_grow(gc) != HT_OK)) {
        ht_gc_free(gc);
        return HT_ENOMEM;
    }
    gc->nnodes = HEAD_COUNT;
    for (uint32_t h = 0; h < HEAD_COUNT; h++) {
        list_init(gc, h);
        gc->nodes[h].gen = GEN_FREE;
    }
    gc->freelist = NIL;
    *out = gc;
    return HT_OK;
}

/* Free everything; accepts NULL. */
void ht_gc_free(ht_gc *gc)
{
    if (!gc)
        return;
    for (uint32_t s = HEAD_COUNT; gc->nodes && s < gc->nnodes; s++)
        free(gc->nodes[s].edges);
    free(gc->nodes);
    free(gc->map);
    free(gc->ids);
    free(gc);
}

/* The live slot a ref names, 0 if stale or not a ref. */
static uint32_t ref_slot(const ht_gc *gc, ht_gc_ref r)
{
    uint32_t s = (uint32_t)r;
    if (s < HEAD_COUNT || s >= gc->nnodes)
        return 0;
    const struct node *x = &gc->nodes[s];
    return x->stamp == (uint32_t)(r >> 32) && x->gen != GEN_FREE ? s : 0;
}

static ht_gc_ref slot_ref(const ht_gc *gc, uint32_t s)
{
    return (uint64_t)gc->nodes[s].stamp << 32 | s;
}

/* A container allocation's count0 += 1 and trigger: a collection now
 * (<= 3.11) or at the next tick (3.12+). */
static inline __attribute__((always_inline)) ht_err count_alloc(ht_gc *gc)
{
    gc->count[0]++;
    if (gc->count[0] > gc->cfg.threshold[0] && gc->cfg.threshold[0] != 0) {
        if (!gc->cfg.deferred)
            return collect_auto(gc, NULL);
        gc->scheduled = 1;
    }
    return HT_OK;
}

/* The part of ht_gc_alloc_ref after the map check: b is id's empty map
 * bucket (unused without a map). */
static inline __attribute__((always_inline)) ht_err
alloc_at(ht_gc *gc, uint64_t id, int container, size_t b, ht_gc_ref *out)
{
    uint32_t s;
    if (slot_take(gc, &s) != HT_OK) {
        *out = 0;
        return HT_ENOMEM;
    }
    struct node *x = &gc->nodes[s];
    uint32_t stamp = x->stamp;
    memset(x, 0, sizeof *x);
    x->stamp = stamp;
    x->id = id;
    x->prev = x->next = NIL;
    x->gen = GEN_UNTRACKED;
    if (gc->map)
        gc->map[b] = s;
    gc->live++;
    *out = slot_ref(gc, s);
    if (!container)
        return HT_OK;
    /* _PyObject_GC_Alloc: count, maybe collect, and only then does the new
     * object get tracked, so an immediate collection never sees it. */
    ht_err rc = count_alloc(gc);
    x = &gc->nodes[s];
    x->gen = 0;
    list_append(gc, s, 0);
    gc->gen_size[0]++;
    return rc;
}

/* ht_gc_alloc_ref with a map: out of line, so the map-less path (the
 * replay's: cfg.no_ids) keeps few registers live. */
static __attribute__((noinline)) ht_err
alloc_mapped(ht_gc *gc, uint64_t id, int container, ht_gc_ref *out)
{
    if ((gc->live + HEAD_COUNT + 1) * 2 > gc->mapcap && map_grow(gc) != HT_OK)
        return HT_ENOMEM;
    size_t b = map_find_bucket(gc, id); /* one probe: check and insert */
    if (gc->map[b])
        return HT_EINVAL;
    return alloc_at(gc, id, container, b, out);
}

/* alloc_at in lazy mode (invariant 8): the same counts and trigger, the
 * new object numbered after any collection the trigger ran (that one does
 * not see it, as alloc_at tracks it after). */
static inline void lazy_number(ht_gc *gc, ht_gc_ref *out)
{
    *out = gc->lz_next++;
    gc->gen_size[0]++;
}

static inline ht_err alloc_lazy(ht_gc *gc, ht_gc_ref *out)
{
    gc->live++;
    ht_err rc = count_alloc(gc);
    lazy_number(gc, out);
    return rc;
}

/* ht_gc_alloc_ref but the lazy path: out of line, so that one (nearly
 * every allocation of an alloc/free trace) saves no registers */
static __attribute__((noinline)) ht_err
alloc_eager(ht_gc *gc, uint64_t id, int container, ht_gc_ref *out)
{
    *out = 0;
    if (gc->collecting)
        return HT_EBUSY;
    if (gc->lazy)
        return HT_EINVAL; /* container 0 */
    if (gc->map)
        return alloc_mapped(gc, id, container, out);
    return alloc_at(gc, id, container, 0, out);
}

/* _PyObject_GC_Link + the allocation-time trigger; see header. */
ht_err ht_gc_alloc_ref(ht_gc *gc, uint64_t id, int container, ht_gc_ref *out)
{
    if (gc->lazy && container && !gc->collecting)
        return alloc_lazy(gc, out);
    return alloc_eager(gc, id, container, out);
}

/* Allocation and eval-breaker check; see header. */
static __attribute__((noinline)) ht_err
alloc_tick_any(ht_gc *gc, uint64_t id, int container, ht_gc_ref *out)
{
    ht_err rc = ht_gc_alloc_ref(gc, id, container, out);
    if (__builtin_expect(!gc->scheduled || gc->collecting, 1))
        return rc; /* what ht_gc_tick would do: nothing */
    ht_err rt = ht_gc_tick(gc, NULL);
    return rc != HT_OK ? rc : rt;
}

ht_err ht_gc_alloc_tick_ref(ht_gc *gc, uint64_t id, int container,
                            ht_gc_ref *out)
{
    /* no collection to trigger or run (nearly every allocation) */
    if (container && !gc->collecting && !gc->scheduled &&
        (gc->count[0] + 1 <= gc->cfg.threshold[0] ||
         gc->cfg.threshold[0] == 0)) {
        if (gc->lazy) { /* alloc_lazy's counts without a frame */
            gc->live++;
            gc->count[0]++; /* count_alloc without its trigger */
            lazy_number(gc, out);
            return HT_OK;
        }
        /* eager without a map (the replay's, once a STORE came):
         * alloc_eager's path with no call chain, as count_alloc cannot
         * trigger here and nothing is scheduled */
        if (!gc->map)
            return alloc_at(gc, id, container, 0, out);
    }
    return alloc_tick_any(gc, id, container, out);
}

/* Id-named alloc; see header. */
ht_err ht_gc_alloc(ht_gc *gc, uint64_t id, int container)
{
    ht_gc_ref r;
    return gc->map ? ht_gc_alloc_ref(gc, id, container, &r) : HT_EINVAL;
}

/* PyObject_GC_Del (or a plain free); see header. */
ht_err ht_gc_dealloc_ref(ht_gc *gc, ht_gc_ref r)
{
    if (gc->collecting)
        return HT_EBUSY;
    if (gc->lazy) { /* invariant 8; obj_unlink's counts */
        /* a ref deallocated before looks live until ht_gc_lazy_end: only
         * a count can tell, so a second dealloc never underflows it */
        if (r < gc->lz_start || r >= gc->lz_next || !gc->gen_size[0])
            return HT_ENOTFOUND;
        gc->gen_size[0]--;
        if (gc->count[0] > 0)
            gc->count[0]--;
        gc->live--;
        return HT_OK;
    }
    uint32_t s = ref_slot(gc, r);
    if (!s)
        return HT_ENOTFOUND;
    obj_destroy(gc, s, SIZE_MAX);
    return HT_OK;
}

/* Id-named dealloc; see header. */
ht_err ht_gc_dealloc(ht_gc *gc, uint64_t id)
{
    if (!gc->map)
        return HT_EINVAL;
    if (gc->collecting)
        return HT_EBUSY;
    size_t b = map_find_bucket(gc, id); /* one probe: find and delete */
    uint32_t s = gc->map[b];
    if (!s)
        return HT_ENOTFOUND;
    obj_destroy(gc, s, b);
    return HT_OK;
}

/* Add one edge between live slots (0: not live). */
static ht_err edge_add(ht_gc *gc, uint32_t fs, uint32_t ts)
{
    if (gc->collecting)
        return HT_EBUSY;
    if (!fs || !ts)
        return HT_ENOTFOUND;
    struct node *f = &gc->nodes[fs];
    if (f->nedges == f->cap) {
        uint32_t nc = f->cap ? f->cap * 2 : 2;
        struct edge *e = realloc(f->edges, nc * sizeof *e);
        if (!e)
            return HT_ENOMEM;
        f->edges = e;
        f->cap = nc;
    }
    f->edges[f->nedges].slot = ts;
    f->edges[f->nedges].stamp = gc->nodes[ts].stamp;
    f->nedges++;
    gc->nedges_all++;
    gc->nodes[ts].inref++;
    return HT_OK;
}

/* Remove one edge between live slots (0: not live). */
static ht_err edge_del(ht_gc *gc, uint32_t fs, uint32_t ts)
{
    if (gc->collecting)
        return HT_EBUSY;
    if (!fs || !ts)
        return HT_ENOTFOUND;
    struct node *f = &gc->nodes[fs];
    for (uint32_t i = 0; i < f->nedges; i++) {
        if (f->edges[i].slot == ts && f->edges[i].stamp == gc->nodes[ts].stamp) {
            f->edges[i] = f->edges[--f->nedges];
            gc->nedges_all--;
            gc->nodes[ts].inref--;
            return HT_OK;
        }
    }
    return HT_ENOTFOUND;
}

/* Adjust the external refcount of a live slot (0: not live). */
static ht_err extref(ht_gc *gc, uint32_t s, int64_t delta)
{
    if (gc->collecting)
        return HT_EBUSY;
    if (!s)
        return HT_ENOTFOUND;
    if (gc->nodes[s].extref + delta < 0)
        return HT_EINVAL;
    gc->nodes[s].extref += delta;
    return HT_OK;
}

/* Edge and refcount calls by id or by ref; see header. */
ht_err ht_gc_edge_add(ht_gc *gc, uint64_t from, uint64_t to)
{
    return gc->map ? edge_add(gc, map_get(gc, from), map_get(gc, to)) : HT_EINVAL;
}

ht_err ht_gc_edge_del(ht_gc *gc, uint64_t from, uint64_t to)
{
    return gc->map ? edge_del(gc, map_get(gc, from), map_get(gc, to)) : HT_EINVAL;
}

ht_err ht_gc_extref(ht_gc *gc, uint64_t id, int64_t delta)
{
    return gc->map ? extref(gc, map_get(gc, id), delta) : HT_EINVAL;
}

ht_err ht_gc_edge_add_ref(ht_gc *gc, ht_gc_ref from, ht_gc_ref to)
{
    if (gc->lazy)
        return HT_EINVAL; /* ht_gc_lazy_end first */
    return edge_add(gc, ref_slot(gc, from), ref_slot(gc, to));
}

ht_err ht_gc_edge_del_ref(ht_gc *gc, ht_gc_ref from, ht_gc_ref to)
{
    if (gc->lazy)
        return HT_EINVAL;
    return edge_del(gc, ref_slot(gc, from), ref_slot(gc, to));
}

ht_err ht_gc_extref_ref(ht_gc *gc, ht_gc_ref r, int64_t delta)
{
    if (gc->lazy)
        return HT_EINVAL;
    return extref(gc, ref_slot(gc, r), delta);
}

/* Prefetch r's node; see header. Its slot index alone (no stamp check:
 * that would read the node it is to prefetch). */
void ht_gc_prefetch_ref(const ht_gc *gc, ht_gc_ref r)
{
    uint32_t s = (uint32_t)r;
    if (!gc->lazy && s >= HEAD_COUNT && s < gc->nnodes)
        __builtin_prefetch(&gc->nodes[s]);
}

struct lz_ref {
    uint64_t r; /* lazy ref (allocation number) */
    size_t i;   /* its index in the caller's arrays */
};

static int lz_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct lz_ref *)a)->r, y = ((const struct lz_ref *)b)->r;
    return (x > y) - (x < y);
}

/* Leave lazy mode; see header. The live refs sorted by allocation number
 * become nodes appended to generation 0 in that order: the list the eager
 * model would hold (invariant 8). Counts, sizes and live are unchanged. */
ht_err ht_gc_lazy_end(ht_gc *gc, ht_gc_ref *refs, const uint64_t *ids,
                      size_t n)
{
    if (!gc->lazy)
        return HT_OK;
    if (gc->collecting)
        return HT_EBUSY;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += refs[i] >= gc->lz_start && refs[i] < gc->lz_next;
    if (k != gc->live)
        return HT_EINVAL;
    struct lz_ref *v = malloc((k ? k : 1) * sizeof *v);
    if (!v)
        return HT_ENOMEM;
    uint32_t cap = gc->capnodes;
    while ((size_t)cap < HEAD_COUNT + k)
        cap *= 2;
    if (cap != gc->capnodes) {
        struct node *nn = nodes_alloc(gc->nodes, gc->nnodes, cap);
        if (!nn) {
            free(v);
            return HT_ENOMEM;
        }
        gc->nodes = nn;
        gc->capnodes = cap;
    }
    k = 0;
    for (size_t i = 0; i < n; i++) {
        if (refs[i] >= gc->lz_start && refs[i] < gc->lz_next)
            v[k++] = (struct lz_ref){refs[i], i};
        else
            refs[i] = 0; /* dead: stale from now on */
    }
    qsort(v, k, sizeof *v, lz_cmp);
    for (size_t j = 0; j < k; j++) {
        uint32_t s = gc->nnodes++;
        struct node *x = &gc->nodes[s]; /* zeroed by nodes_alloc */
        x->id = ids[v[j].i];
        x->gen = 0;
        list_append(gc, s, 0);
        refs[v[j].i] = slot_ref(gc, s);
    }
    free(v);
    gc->lazy = 0;
    return HT_OK;
}

int ht_gc_is_lazy(const ht_gc *gc)
{
    return gc->lazy;
}

/* Id -> ref; see header. */
ht_gc_ref ht_gc_ref_of(const ht_gc *gc, uint64_t id)
{
    uint32_t s = gc->map ? map_get(gc, id) : 0;
    return s ? slot_ref(gc, s) : 0;
}

/* _Py_RunGC at an eval-breaker check; see header. */
ht_err ht_gc_tick(ht_gc *gc, int *ran)
{
    if (ran)
        *ran = 0;
    if (gc->collecting)
        return HT_EBUSY;
    if (!gc->scheduled)
        return HT_OK;
    gc->scheduled = 0;
    return collect_auto(gc, ran);
}

/* gc.collect(generation); see header. */
ht_err ht_gc_collect(ht_gc *gc, int generation, struct ht_gc_result *out)
{
    struct ht_gc_result tmp;
    struct ht_gc_result *res = out ? out : &tmp;
    memset(res, 0, sizeof *res);
    if (generation < 0 || generation >= HT_GC_NGEN)
        return HT_EINVAL;
    if (gc->collecting)
        return HT_EBUSY;
    return collect_main(gc, generation, 0, res);
}

/* gc.set_threshold(); see header. */
ht_err ht_gc_set_threshold(ht_gc *gc, int64_t t0, int64_t t1, int64_t t2)
{
    if (t0 < 0 || t1 < 0 || t2 < 0)
        return HT_EINVAL;
    gc->cfg.threshold[0] = t0;
    gc->cfg.threshold[1] = t1;
    gc->cfg.threshold[2] = t2;
    return HT_OK;
}

/* gc.get_count(); see header. */
void ht_gc_get_count(const ht_gc *gc, int64_t count[HT_GC_NGEN])
{
    memcpy(count, gc->count, sizeof gc->count);
}

/* gc.get_stats(); see header. */
void ht_gc_get_stats(const ht_gc *gc, struct ht_gc_stats stats[HT_GC_NGEN])
{
    memcpy(stats, gc->stats, sizeof gc->stats);
}

/* long-lived bookkeeping; see header. */
void ht_gc_get_long_lived(const ht_gc *gc, uint64_t *pending, uint64_t *total)
{
    if (pending)
        *pending = gc->ll_pending;
    if (total)
        *total = gc->ll_total;
}

/* Generation lookup; see header. */
int ht_gc_generation_of(const ht_gc *gc, uint64_t id)
{
    return ht_gc_generation_of_ref(gc, ht_gc_ref_of(gc, id));
}

/* Generation lookup by ref; see header. */
int ht_gc_generation_of_ref(const ht_gc *gc, ht_gc_ref r)
{
    if (gc->lazy) /* invariant 8: every live object is in generation 0 */
        return r >= gc->lz_start && r < gc->lz_next ? 0 : -2;
    uint32_t s = ref_slot(gc, r);
    if (!s)
        return -2;
    return gc->nodes[s].gen == GEN_UNTRACKED ? -1 : gc->nodes[s].gen;
}

/* Live object count; see header. */
size_t ht_gc_live(const ht_gc *gc)
{
    return gc->live;
}

/* Tracked objects in a generation; see header. */
size_t ht_gc_gen_size(const ht_gc *gc, int generation)
{
    return generation >= 0 && generation < HT_GC_NGEN ? gc->gen_size[generation] : 0;
}

static int lists_valid(const ht_gc *gc, size_t *tracked)
{
    *tracked = 0;
    if (gc->nodes[UNREACH_HEAD].next != UNREACH_HEAD)
        return 0;
    for (uint32_t g = 0; g < HT_GC_NGEN; g++) {
        size_t n = 0;
        for (uint32_t s = gc->nodes[g].next; s != g; s = gc->nodes[s].next) {
            const struct node *x = &gc->nodes[s];
            if (s < HEAD_COUNT || s >= gc->nnodes || x->gen != g || x->flags ||
                gc->nodes[x->next].prev != s || ++n > gc->live)
                return 0;
        }
        if (n != gc->gen_size[g])
            return 0;
        *tracked += n;
    }
    return 1;
}

/* Invariants 1-5 and 7 of the design comment; see header. */
int ht__gc_is_valid(const ht_gc *gc)
{
    size_t tracked, live = 0, tracked2 = 0;
    if (gc && gc->lazy) /* invariant 8 (the refs' liveness is the caller's) */
        return gc->nnodes == HEAD_COUNT && gc->nedges_all == 0 &&
               gc->gen_size[1] == 0 && gc->gen_size[2] == 0 &&
               gc->live == gc->gen_size[0] && gc->lz_start <= gc->lz_next &&
               gc->nodes[0].next == 0 && gc->nodes[1].next == 1 &&
               gc->nodes[2].next == 2 && gc->nodes[UNREACH_HEAD].next ==
               UNREACH_HEAD && gc->count[0] >= 0 && gc->count[1] >= 0 &&
               gc->count[2] >= 0;
    if (!gc || !lists_valid(gc, &tracked))
        return 0;
    int64_t *in = calloc(gc->nnodes, sizeof *in);
    if (!in)
        return 0;
    int ok = 1;
    uint64_t nedges = 0;
    for (uint32_t s = HEAD_COUNT; s < gc->nnodes; s++) {
        const struct node *x = &gc->nodes[s];
        if (x->gen == GEN_FREE)
            continue;
        live++;
        nedges += x->nedges;
        tracked2 += x->gen != GEN_UNTRACKED;
        if (x->extref < 0 || (gc->map && map_get(gc, x->id) != s))
            ok = 0;
        for (uint32_t i = 0; i < x->nedges; i++)
            if (resolve(gc, &x->edges[i]))
                in[x->edges[i].slot]++;
    }
    for (uint32_t s = HEAD_COUNT; s < gc->nnodes; s++)
        if (gc->nodes[s].gen != GEN_FREE && in[s] != gc->nodes[s].inref)
            ok = 0;
    free(in);
    for (int g = 0; g < HT_GC_NGEN; g++)
        if (gc->count[g] < 0)
            ok = 0;
    return ok && live == gc->live && tracked == tracked2 &&
           nedges == gc->nedges_all;
}
