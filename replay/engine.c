/*
 * The replay engine: one pass over a run's events through the object table
 * (replay/objects.c), the pymalloc model and the GC model, then the leak
 * detector over the final graph. Writes the tables documented in
 * include/heaptrail/replay.h and docs/trace-format.md ("Replay tables").
 *
 * Decisions:
 *  - every allocation is a GC container (C carries no type: an object with
 *    no pointer slot simply has no edges to traverse); GC ids are addresses;
 *    an edge exists in the GC model from a STORE/EDGE whose value points into
 *    a live object; a root slot holding a pointer is one external reference.
 *    C code keeps pointers on the stack that are not recorded, so the GC
 *    model's "collected" counts are what CPython would collect if the stack
 *    held nothing: an upper bound.
 *  - a pointer to any byte of a block (interior pointer) is a reference.
 *  - leak kinds (at the end, knowing the whole trace): reachable from a root
 *    slot -> 'reachable'; else member of a strongly connected component of
 *    >= 2 objects or with a self-loop -> 'cycle'; else no pointer from any
 *    object -> 'definite'; else 'indirect' (pointed to only by lost blocks).
 *  - last reference dropped: the last STORE whose overwritten value pointed
 *    into the object (lost_by 'store'), or the free of an object holding a
 *    pointer to it (lost_by 'free'); an object never pointed to by a
 *    recorded pointer has lost_by 'never_stored'.
 *  - double frees are told from invalid frees by a set of freed addresses
 *    (cleared when the address is allocated again), kept in the object
 *    table's address map as marks so a free costs one probe; store_into_freed is
 *    detected for a slot at the start of a freed block.
 *  - fragmentation snapshots: every opts->snapshot_every events, one at the
 *    peak of live bytes and one at the end. The peak one (and the peak
 *    pool_map) is the allocator model's state exactly after the event that
 *    made the peak (peak_seq, as in `peak`): the model is marked at every
 *    peak commit in O(1) and keeps its marked state copy-on-write (pools and
 *    arenas changed afterwards save it first), so the peak costs no walk
 *    over the pools while the replay runs.
 *  - refcounts: an object named by an INCREF/DECREF starts at 1 (its
 *    creator's reference) and is counted explicitly from then on; errors
 *    below zero / freed with references / lost with references, charged to
 *    the DECREF site or the object's last INCREF site (refcount_sites).
 *  - the allocation summary (run_stats, site_stats), churn and peak_sites
 *    come from this same pass: per-site aggregates (replay/agg.c) indexed
 *    from each object (site_i, churn_i). A realloc'd block counts at the
 *    realloc's pc from then on, as an allocation there (site_stats and its
 *    churn row (pc, new size); see churn_move).
 *  - objects rows of freed blocks (no finding on them: leak columns NULL)
 *    are buffered and written HT_OBJCHUNK_MAX_ROWS at a time as one
 *    compressed object_chunks row (store/objcodec.c); `objects` is the view
 *    objects_freed (decoding them) UNION ALL objects_live (blocks live at
 *    the end, one SQL row each). One SQLite row per allocation capped the
 *    replay near 3 M events/s. The object table keeps no page index until
 *    an event needs one.
 *  - bad traces are findings (errors rows), never failures: events out of
 *    seq order, lost events, an undecodable chunk, a run cut short.
 *  - the GC model starts lazy (gcmodel.h): until the first STORE/EDGE no
 *    edge or root reference exists, so it keeps counts only and an
 *    alloc/free trace never builds a node; gc_unlazy hands the objects'
 *    refs over before the first STORE/EDGE is applied.
 *  - per-event paths are inline in the replay loop (ALLOC, FREE, the object
 *    table's probe); rare cases (edges, missed frees, reallocs, the page
 *    index) go out of line, so the common path saves few registers.
 *
 * Invariants (checked by ht__objtab_is_valid over the table and the sums
 * here):
 *  1. live_bytes == sum of sizes of objects in the table and in pending;
 *     live_blocks == objects in the table and in pending;
 *  2. per site row: S_LIVE / S_LIVE_BYTES == its objects in the table and
 *     in pending (a pending object counts at its old site until its
 *     realloc completes);
 *  3. S_PK_* of a row with S_PK_EPOCH == epoch hold its live counters at the
 *     last committed peak; a row with an older epoch has not changed since.
 */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "heaptrail/gcmodel.h"
#include "heaptrail/pymalloc.h"
#include "heaptrail/replay.h"
#include "replay_int.h"

/* rows of freed blocks encoded at a time; divides HT_OBJCHUNK_MAX_ROWS, so
 * the chunks hold the same rows as when encoded all at once. 64 rows (4
 * KiB) are still in the first-level cache when encoded; 256 were not
 * (cachegrind, AF2: D1 misses -13 %) */
#define FREED_BATCH 64u
_Static_assert(HT_OBJCHUNK_MAX_ROWS % FREED_BATCH == 0, "FREED_BATCH");
/* prefetch distances (events) of the object table's slot and object */
#define PF_SLOT 16
#define PF_OBJ 8
/* ... and of a freed object's churn row (its object arrived by then); the
 * churn hints only once the churn rows (80 bytes each) outgrow the cache */
#define PF_ROW 4
#define PF_CHURN_MIN_ROWS 1024u

struct seg {
    uint64_t start, len;
    int stack; /* a thread stack range of one snapshot (HT_ROOT_STACK) */
};

/* a refcount site (d, flag) and its rcsites row + 1 (0: none) */
struct rc_last {
    uint64_t d, flag;
    int64_t row1;
};

struct eng {
    ht_store *st;
    int64_t run;
    struct ht__objtab t;
    struct ht__map pending;   /* old addr of a moving realloc -> obj */
    struct ht__map rootslots; /* root slot -> pointer value */
    int gc_lazy;              /* the GC model is lazy: until gc_unlazy */
    /* the STORE/EDGE being applied: its slot's block (ht__objtab_find) is
     * slot_o when slot_known (ptr_hints found it and the table has not
     * changed since; set by run_all before each event) */
    int slot_known;
    struct ht__obj *slot_o;
    uint64_t stores_in_blocks; /* STOREs (of g->stores) into a block */
    struct seg *segs;
    size_t nsegs, csegs;
    struct ht__amodel am; /* allocator model (--allocator) */
    struct ht_pym *pym;   /* am's pymalloc model, or NULL (system) */
    ht_gc *gc;
    ht_insert *ins_obj, *ins_err, *ins_snap, *ins_gc;
    /* objects rows of freed blocks (owned, FREED_BATCH rows), appended to
     * the object chunk being built (objenc, owned) a batch at a time: a
     * batch stays in cache, where the chunk's 64-byte rows (4 MB) were
     * written by the frees and read back by the encoder from memory */
    struct ht_objrow *freed_rows;
    size_t nfreed;
    ht_objenc *objenc;
    int64_t chunk_no;
    uint64_t seq, live_bytes, ncoll;
    /* run_stats counters and per-site aggregates (rows described at the
     * *_V constants below) */
    uint64_t live_blocks, peak_blocks, allocs, frees, reallocs, stores;
    uint64_t bytes_allocated, invalid_frees, last_seq, disorder;
    uint64_t gen_coll[3], gen_collected[3];
    uint64_t epoch; /* peaks committed so far (see site_touch) */
    int epoch_dirty; /* a new peak was reached by the current event */
    /* every object (in the table, pending, or being built) is a slot of
     * slab (replay_int.h): released ones are reused LIFO, all freed at
     * once at the end */
    struct ht__objslab slab;
    uint64_t site_pc; /* last site_add pc and its row: one-entry cache */
    int64_t site_row;
    /* per kind (DECREF, INCREF): the last refcount site (d, flag) and its
     * rcsites row + 1 (0: none yet); a refcounting program increfs and
     * decrefs at few sites, the two kinds interleaved */
    struct rc_last rc_last[2];
    struct ht__aggtab sites, churn, rcsites;
    /* churn row + 1 by size (< CHURN_DIRECT) for each of the first
     * CHURN_DIR_SITES site rows (NULL until the site allocates a small
     * block): an allocation finds its churn row without hashing (pc, size).
     * Owns the tables; ncdir entries. */
    uint32_t **cdir;
    size_t ncdir;
    int have_peak; /* a peak was committed (the allocator model marked) */
    ht_err err; /* sticky, from the GC hook */
    struct ht_replay_result r;
};

/* site_stats rows (key pc, 0); S_PK_* keep the site's live blocks/bytes at
 * the peak, saved copy-on-write (see site_touch) */
enum { S_ALLOCS, S_BYTES, S_FREES, S_LIVE, S_LIVE_BYTES, S_PK_LIVE,
       S_PK_BYTES, S_PK_EPOCH };
/* churn rows (key pc, size of the allocation) */
enum { C_ALLOCS, C_FREES, C_LIVE, C_MAX_LIVE, C_SHORT };
/* refcount_sites rows (key d, HT_EVF_SITE flag) */
enum { R_INC, R_DEC, R_UNBAL };
/* churn: a block freed within CHURN_SHORT events of its allocation is
 * short-lived; a (pc, size) is reported when it allocated at least
 * CHURN_MIN_ALLOCS blocks and at least CHURN_RATIO times its largest number
 * of blocks live at once (the same few blocks made over and over). */
#define CHURN_SHORT 1000u
#define CHURN_MIN_ALLOCS 100u
#define CHURN_RATIO 10u
/* the churn directory: sizes below CHURN_DIRECT (4 KB a site), for the
 * first CHURN_DIR_SITES sites (at most 16 MB) */
#define CHURN_DIRECT 1025u
#define CHURN_DIR_SITES 4096u
/* rows a batched insert (ht_store_insert_batch) writes at a time: graph's
 * 90636 errors rows cost 4700 instructions each one at a time */
#define ROW_BATCH 64
/* rows of seq_out_of_order written per run (all are counted) */
#define DISORDER_ROWS 100u

static inline ht_err keep(ht_err e)
{
    /* model complaints about a bad trace are not failures of the replay;
     * HT_OK (nearly always) first: `if ((e = keep(call())))` is then one
     * test of the call's result */
    if (__builtin_expect(e == HT_OK, 1))
        return HT_OK;
    return e == HT_ENOMEM || e == HT_ESQL ? e : HT_OK;
}

static ht_err add_error(struct eng *g, const char *kind, uint64_t addr,
                        uint64_t pc)
{
    g->r.errors++;
    return ht_store_insert_row(g->ins_err, "iisii", (int64_t)g->run,
                               (int64_t)g->seq, kind, (int64_t)addr,
                               (int64_t)pc);
}

static ht_err write_snap(struct eng *g, const char *kind, uint64_t seq,
                         const struct ht_pym_stats *s, uint64_t live)
{
    uint64_t pools = 0, blocks = 0;
    for (unsigned i = 0; i < HT_PYM_NCLASSES; i++) {
        pools += s->cls[i].pools;
        blocks += s->cls[i].in_use;
    }
    double util = s->bytes_total
                      ? (double)s->bytes_allocated_blocks / (double)s->bytes_total
                      : 0.0;
    g->r.snapshots++;
    return ht_store_insert_row(g->ins_snap, "iisiiiididiii", (int64_t)g->run,
                               (int64_t)seq, kind, (int64_t)s->arenas_current,
                               (int64_t)pools, (int64_t)blocks,
                               (int64_t)s->bytes_allocated_blocks, util,
                               (int64_t)s->unused_pools,
                               (double)s->bytes_total,
                               (int64_t)s->raw_blocks, (int64_t)live,
                               (int64_t)s->bytes_quantization);
}

static void gc_hook(void *arg, const struct ht_gc_result *info)
{
    struct eng *g = arg;
    g->r.collections++;
    if (info->generation >= 0 && info->generation < 3) {
        g->gen_coll[info->generation]++;
        g->gen_collected[info->generation] += (uint64_t)info->collected;
    }
    if (g->err)
        return;
    g->err = ht_store_insert_row(g->ins_gc, "iiiiiiii", (int64_t)g->run,
                                 (int64_t)++g->ncoll, (int64_t)g->seq,
                                 (int64_t)info->generation,
                                 (int64_t)info->collected,
                                 info->count_before[0], info->count_before[1],
                                 info->count_before[2]);
}

/* 1 if a lies in a root range (stack_only: a thread stack range) of the
 * current snapshot */
static int in_segs(const struct eng *g, uint64_t a, int stack_only)
{
    for (size_t i = 0; i < g->nsegs; i++)
        if ((!stack_only || g->segs[i].stack) && a >= g->segs[i].start &&
            a - g->segs[i].start < g->segs[i].len)
            return 1;
    return 0;
}

/* The block containing pointer value a, as ht__objtab_find: a value
 * outside the paged table's [lo, hi) (objects.c invariant 6: Py_None, a
 * stack slot) is answered first, without a probe; a pointer mostly points
 * at the start of its block, found by the one-probe exact lookup. The same
 * answer: a block up to HT__OBJ_BIG starting at a is the page index's (the
 * last block starting at or below a); a bigger one goes through the full
 * lookup (the page index is searched before the big blocks). */
static inline struct ht__obj *find_ptr(const struct eng *g, uint64_t a)
{
    if (!a || (!g->t.unpaged && (a < g->t.lo || a >= g->t.hi)))
        return NULL;
    struct ht__obj *o = ht__objtab_get(&g->t, a);
    return o && o->size <= HT__OBJ_BIG ? o : ht__objtab_find(&g->t, a);
}

static void note_drop(struct ht__obj *x, uint8_t kind, uint64_t seq,
                      uint64_t site)
{
    x->drop_kind = kind;
    x->drop_seq = seq;
    x->drop_site = site;
}

static void grew(struct eng *g)
{
    if (g->live_bytes > g->r.peak_live_bytes) {
        g->r.peak_live_bytes = g->live_bytes;
        g->peak_blocks = g->live_blocks;
        g->epoch_dirty = 1;
        g->r.peak_seq = g->seq;
    }
}

/* Before a site's live counters change: the heap may have been at its peak
 * since they last changed (a peak is committed, epoch++, after the event
 * that reached a new maximum and before the next one, so the state at a
 * commit is the peak state). The first change after a commit saves the
 * values it had then.
 * A site's figures at the peak: S_PK_* if S_PK_EPOCH == epoch, else its
 * current live counters. O(1) per event, exact with reallocs. */
static struct ht__agg *site_touch(struct eng *g, uint32_t row)
{
    struct ht__agg *s = &g->sites.v[row];
    if (s->v[S_PK_EPOCH] != g->epoch) {
        s->v[S_PK_EPOCH] = g->epoch;
        s->v[S_PK_LIVE] = s->v[S_LIVE];
        s->v[S_PK_BYTES] = s->v[S_LIVE_BYTES];
    }
    return s;
}

/* Encode the batch of freed rows; store the chunk when full, or (end) when
 * any rows are left. */
static ht_err flush_freed(struct eng *g, int end)
{
    ht_err e = ht_objenc_add(g->objenc, g->freed_rows, g->nfreed);
    g->nfreed = 0;
    size_t n = ht_objenc_count(g->objenc);
    if (!e && (n == HT_OBJCHUNK_MAX_ROWS || (end && n)))
        e = ht_store_objchunk_flush(g->st, g->run, g->chunk_no++, g->objenc);
    return e;
}

/* row of site pc (one-entry cache in front of the hash); -1 on HT_ENOMEM */
static int64_t site_lookup(struct eng *g, uint64_t pc)
{
    int64_t r = g->sites.n && pc == g->site_pc ? g->site_row
                                               : ht__agg_row(&g->sites, pc, 0);
    if (r >= 0) {
        g->site_pc = pc;
        g->site_row = r;
    }
    return r;
}

/* o now counts at site row r with its current size */
static inline void site_add_row(struct eng *g, struct ht__obj *o, int64_t r)
{
    struct ht__agg *s = site_touch(g, (uint32_t)r);
    o->site_i = (uint32_t)r;
    s->v[S_ALLOCS]++;
    s->v[S_BYTES] += o->size;
    s->v[S_LIVE]++;
    s->v[S_LIVE_BYTES] += o->size;
    g->bytes_allocated += o->size;
}

/* churn row of (pc, size) where pc has site row sr; -1 on HT_ENOMEM. Small
 * sizes of the first sites go through the directory (same rows as the
 * hash: the directory only remembers them). */
static __attribute__((noinline)) int64_t
churn_lookup_slow(struct eng *g, int64_t sr, uint64_t pc, uint64_t size)
{
    if (size >= CHURN_DIRECT || (uint64_t)sr >= CHURN_DIR_SITES)
        return ht__agg_row(&g->churn, pc, size);
    if ((size_t)sr >= g->ncdir) {
        size_t nc = g->ncdir ? g->ncdir * 2 : 16;
        while (nc <= (size_t)sr)
            nc *= 2;
        uint32_t **nd = realloc(g->cdir, nc * sizeof *nd);
        if (!nd)
            return -1;
        memset(nd + g->ncdir, 0, (nc - g->ncdir) * sizeof *nd);
        g->cdir = nd;
        g->ncdir = nc;
    }
    uint32_t *d = g->cdir[sr];
    if (!d && !(d = g->cdir[sr] = calloc(CHURN_DIRECT, sizeof *d)))
        return -1;
    if (d[size])
        return (int64_t)d[size] - 1;
    int64_t cr = ht__agg_row(&g->churn, pc, size);
    if (cr >= 0)
        d[size] = (uint32_t)cr + 1;
    return cr;
}

/* churn_lookup_slow's directory hit, inline (nearly every allocation): sr <
 * ncdir <= CHURN_DIR_SITES */
static inline int64_t churn_lookup(struct eng *g, int64_t sr, uint64_t pc,
                                   uint64_t size)
{
    if (size < CHURN_DIRECT && (size_t)sr < g->ncdir && g->cdir[sr] &&
        g->cdir[sr][size])
        return (int64_t)g->cdir[sr][size] - 1;
    return churn_lookup_slow(g, sr, pc, size);
}

/* o no longer counts as live at its site; returns the site's row */
static inline __attribute__((always_inline)) struct ht__agg *
site_drop(struct eng *g, const struct ht__obj *o)
{
    struct ht__agg *s = site_touch(g, o->site_i);
    s->v[S_LIVE]--;
    s->v[S_LIVE_BYTES] -= o->size;
    return s;
}

/* a refcount error blamed on refcount site row+1 `site` (0: none) */
static void blame(struct eng *g, uint32_t site)
{
    if (site)
        g->rcsites.v[site - 1].v[R_UNBAL]++;
}

/* the allocator model's malloc and release: pymalloc's called directly */
static inline ht_err am_malloc(struct eng *g, uint64_t size, uint64_t *addr)
{
    return g->pym ? ht_pym_malloc(g->pym, size, addr)
                  : g->am.ops->malloc(g->am.m, size, addr);
}

static inline ht_err am_release(struct eng *g, uint64_t addr, uint64_t size)
{
    return g->pym ? ht_pym_release(g->pym, addr)
                  : g->am.ops->release(g->am.m, addr, size);
}

/* give o's slot back to the slab (accepts NULL) */
static void recycle(struct eng *g, struct ht__obj *o)
{
    ht__objslab_put(&g->slab, o);
}

/* o held pointers: the objects they point to lost a reference at seq */
static __attribute__((noinline)) void drop_edges(struct eng *g,
                                                 struct ht__obj *o,
                                                 uint64_t pc)
{
    for (uint32_t i = 0; i < o->nedges; i++) {
        struct ht__obj *x = find_ptr(g, o->edges[i].val);
        if (x && x != o)
            note_drop(x, 2, g->seq, pc);
    }
}

/* the object's memory is released at seq (free, or forced); marked: its
 * address is already marked freed in the table (ht__objtab_release);
 * user: a FREE event's, counted in its site's and churn row's frees here,
 * where those rows are at hand anyway.
 * Inline into the free path (every other event of a churn trace; the
 * other callers go through finish); what is rare is out of line. */
static inline __attribute__((always_inline)) ht_err
finish_inl(struct eng *g, struct ht__obj *o, uint64_t pc, int marked,
           int user)
{
    ht_err e = HT_OK;
    if (o->nedges)
        drop_edges(g, o, pc);
    /* o is freed on every path: the caller has already unlinked it */
    if ((e = keep(am_release(g, o->model_addr, o->size))) != HT_OK ||
        (e = keep(ht_gc_dealloc_ref(g->gc, o->gcref))) != HT_OK) {
        recycle(g, o);
        return e;
    }
    g->live_bytes -= o->size;
    g->live_blocks--;
    struct ht__agg *s = site_drop(g, o);
    struct ht__agg *c = &g->churn.v[o->churn_i];
    c->v[C_LIVE]--;
    if (user) {
        s->v[S_FREES]++;
        c->v[C_FREES]++;
        /* g->seq is the FREE event's seq (set before it is applied) */
        if (g->seq - o->churn_seq < CHURN_SHORT)
            c->v[C_SHORT]++;
    }
    /* refcnt: the explicit count, else unknown once freed */
    g->freed_rows[g->nfreed++] = (struct ht_objrow){
        .addr = o->addr, .size = o->size, .alloc_seq = o->alloc_seq,
        .free_seq = g->seq, .pc = o->pc, .refcnt = o->refcnt, .tid = o->tid,
        .has_refcnt = o->rc_explicit};
    if (g->nfreed == FREED_BATCH)
        e = flush_freed(g, 0);
    if (!e)
        e = marked ? HT_OK : ht__objtab_mark_freed(&g->t, o->addr);
    recycle(g, o);
    return e;
}

static __attribute__((noinline)) ht_err finish(struct eng *g,
                                               struct ht__obj *o,
                                               uint64_t pc, int marked)
{
    return finish_inl(g, o, pc, marked, 0);
}

/* ALLOC (or a realloc making a new block) of size bytes at addr. Inline
 * into the replay loop's ALLOC (every other event of a churn trace); the
 * realloc paths call do_alloc. */
static inline __attribute__((always_inline)) ht_err
do_alloc_inl(struct eng *g, const struct ht_rec *ev, uint64_t addr,
             uint64_t size)
{
    ht_err e;
    struct ht__obj *o = ht__objslab_get(&g->slab); /* zeroed */
    if (!o)
        return HT_ENOMEM;
    o->addr = addr;
    o->size = size;
    o->alloc_seq = o->churn_seq = ev->seq;
    o->pc = ev->d;
    o->tid = ev->tid;
    /* one probe when addr is free (nearly always); o is in no model yet, so
     * releasing a block still at addr first is as if done before */
    e = ht__objtab_insert(&g->t, o);
    struct ht__obj *old = e == HT_EINVAL ? ht__objtab_remove(&g->t, addr)
                                         : NULL;
    if (old) { /* a free we never saw */
        if ((e = add_error(g, "missed_free", addr, ev->d)) ||
            (e = finish(g, old, ev->d, 0))) {
            recycle(g, o);
            return e;
        }
        e = ht__objtab_insert(&g->t, o);
    }
    if (e != HT_OK) {
        recycle(g, o);
        return keep(e);
    }
    int64_t sr = site_lookup(g, o->pc);
    int64_t cr = sr < 0 ? -1 : churn_lookup(g, sr, o->pc, size);
    if (cr < 0) {
        recycle(g, ht__objtab_remove(&g->t, addr));
        return HT_ENOMEM;
    }
    site_add_row(g, o, sr);
    o->churn_i = (uint32_t)cr;
    struct ht__agg *c = &g->churn.v[cr];
    c->v[C_ALLOCS]++;
    if (++c->v[C_LIVE] > c->v[C_MAX_LIVE])
        c->v[C_MAX_LIVE] = c->v[C_LIVE];
    g->live_blocks++;
    g->r.objects++;
    /* the GC's tick (the eval-breaker check after the allocation) in the
     * same call: its collection reads nothing the lines below change */
    if ((e = keep(am_malloc(g, size, &o->model_addr))) ||
        (e = keep(ht_gc_alloc_tick_ref(g->gc, addr, 1, &o->gcref))))
        return e;
    g->live_bytes += size;
    grew(g);
    return HT_OK;
}

static __attribute__((noinline)) ht_err
do_alloc(struct eng *g, const struct ht_rec *ev, uint64_t addr, uint64_t size)
{
    return do_alloc_inl(g, ev, addr, size);
}

static ht_err do_free(struct eng *g, const struct ht_rec *ev)
{
    uint64_t a = ev->a;
    if (!a)
        return HT_OK;
    int user = !(ev->flags & HT_EVF_REALLOC);
    g->frees += (uint64_t)user;
    /* a realloc's FREE half leaves no freed mark: the block lives on */
    struct ht__obj *o = user ? ht__objtab_release(&g->t, a)
                             : ht__objtab_remove(&g->t, a);
    if (!o) {
        g->invalid_frees++;
        return add_error(g, ht__objtab_was_freed(&g->t, a) ? "double_free"
                                                           : "invalid_free",
                         a, ev->d);
    }
    if (user) { /* its frees counted by finish_inl */
        if (o->rc_explicit && o->refcnt > 0) {
            ht_err e = add_error(g, "freed_with_refs", a, ev->d);
            blame(g, o->inc_site);
            if (e) {
                recycle(g, o);
                return e;
            }
        }
    }
    if (ev->flags & HT_EVF_REALLOC) {
        uint64_t v;
        if (ht__map_get(&g->pending, a, &v)) {
            /* an earlier moving realloc's old block at a whose REALLOC never
             * came: it was released then. Overwriting it in the map leaked
             * it (found by fuzz_summary; tests/reliability/test_regressions.c) */
            ht__map_del(&g->pending, a);
            ht_err e = finish(g, (struct ht__obj *)(uintptr_t)v, ev->d, 1);
            if (e) {
                recycle(g, o);
                return e;
            }
        }
        ht_err e = ht__map_put(&g->pending, a, (uint64_t)(uintptr_t)o);
        if (e)
            recycle(g, o);
        return e;
    }
    return finish_inl(g, o, ev->d, 1, 1); /* user: the realloc half went above */
}

static ht_err gc_add_edges(struct eng *g, struct ht__obj *o)
{
    for (uint32_t i = 0; i < o->nedges; i++) {
        struct ht__obj *x = find_ptr(g, o->edges[i].val);
        if (x) {
            ht_err e = keep(ht_gc_edge_add_ref(g->gc, o->gcref, x->gcref));
            if (e)
                return e;
        }
    }
    return HT_OK;
}

/* Churn at a realloc that resizes a block (a demanding user reads a churn
 * row as "blocks of this size made at this site"): the block leaves its
 * (site, size) row as if freed there (a free, short-lived if it entered the
 * row fewer than CHURN_SHORT events before) and enters the row (realloc pc,
 * new size) as an allocation there - as site_stats counts it at the
 * realloc's pc. A loop growing a buffer with realloc therefore shows as
 * churn of each size it passed through, not as one long-lived block of its
 * first size. -1 on HT_ENOMEM (nothing changed). */
static int churn_move(struct eng *g, struct ht__obj *o, int64_t sr,
                      uint64_t pc, uint64_t size, uint64_t seq)
{
    int64_t cr = churn_lookup(g, sr, pc, size);
    if (cr < 0)
        return -1;
    struct ht__agg *c = &g->churn.v[o->churn_i];
    c->v[C_LIVE]--;
    c->v[C_FREES]++;
    if (seq - o->churn_seq < CHURN_SHORT)
        c->v[C_SHORT]++;
    o->churn_i = (uint32_t)cr;
    o->churn_seq = seq;
    c = &g->churn.v[cr];
    c->v[C_ALLOCS]++;
    if (++c->v[C_LIVE] > c->v[C_MAX_LIVE])
        c->v[C_MAX_LIVE] = c->v[C_LIVE];
    return 0;
}

/* REALLOC a = realloc(c, size). Neither the allocator model nor the object
 * table can refuse the new block: pymalloc serves any size (above its small
 * request limit from its raw allocator), the system model too, and the
 * object table holds any size (replay/objects.c keeps blocks above 1 MiB out
 * of its page index) at any address but 0, which was handled above. The
 * models' complaints about a bad trace (EINVAL: a block they do not know)
 * are kept going, as everywhere in the replay; what is left to fail is
 * HT_ENOMEM / HT_ESQL, which fails the whole replay (its transaction is
 * rolled back), so nothing is half-accounted in a written result. */
static ht_err do_realloc(struct eng *g, const struct ht_rec *ev)
{
    uint64_t a = ev->a, size = ev->b, c = ev->c;
    ht_err e;
    if (!c)
        return a ? do_alloc(g, ev, a, size) : HT_OK;
    if (!a && size)
        return HT_OK; /* failed: the old block is unchanged */
    uint64_t v;
    struct ht__obj *o = NULL;
    if (ht__map_get(&g->pending, c, &v)) {
        o = (struct ht__obj *)(uintptr_t)v;
        ht__map_del(&g->pending, c);
    } else {
        o = ht__objtab_remove(&g->t, c);
    }
    if (!o) {
        g->invalid_frees++;
        if ((e = add_error(g, ht__objtab_was_freed(&g->t, c) ? "realloc_freed"
                                                            : "invalid_free",
                           c, ev->d)))
            return e;
        return a ? do_alloc(g, ev, a, size) : HT_OK;
    }
    if (!a) /* realloc(p, 0) freed p */
        return finish(g, o, ev->d, 0);
    /* o is in no table now (a pending o's address c may hold another block:
     * a free we never saw, as one still live at a new address a) */
    struct ht__obj *old = ht__objtab_remove(&g->t, a);
    if (old && ((e = add_error(g, "missed_free", a, ev->d)) ||
                (e = finish(g, old, ev->d, 0))))
        goto fail;
    int64_t sr = site_lookup(g, ev->d);
    if (sr < 0 || churn_move(g, o, sr, ev->d, size, ev->seq) < 0) {
        e = HT_ENOMEM;
        goto fail;
    }
    site_drop(g, o);
    g->live_bytes = g->live_bytes - o->size + size;
    uint64_t nm = 0;
    if ((e = keep(g->am.ops->realloc(g->am.m, o->model_addr, o->size, size,
                                       &nm))))
        goto fail;
    o->model_addr = nm;
    ht__obj_truncate(o, size);
    /* a moved block gets a new GC node (a new object at a; its edges are
     * added again below). A block found at a == c (a missed free while o was
     * pending) had its own node (refs, not ids): o's node, its generation
     * and external references stay (test_realloc_keeps_gc_node). */
    int moved = a != c;
    if (moved && ((e = keep(ht_gc_dealloc_ref(g->gc, o->gcref))) ||
                  (e = keep(ht_gc_alloc_ref(g->gc, a, 1, &o->gcref)))))
        goto fail;
    if (a != c && (e = ht__objtab_mark_freed(&g->t, c)))
        goto fail;
    /* (a freed mark at a is replaced by the insert: objects.c invariant 1) */
    o->addr = a;
    o->size = size;
    if ((e = ht__objtab_insert(&g->t, o)) != HT_OK)
        goto fail;
    /* the block now belongs to the realloc's site, as a new allocation */
    site_add_row(g, o, sr);
    if (moved && (e = gc_add_edges(g, o)))
        return e;
    grew(g);
    return HT_OK;
fail:
    /* HT_ENOMEM or HT_ESQL: the replay fails; o is in no table */
    recycle(g, o);
    return e;
}

struct held {
    struct ht__obj **o;
    size_t n, cap; /* n counts past cap: the caller checks n == cap */
};

static void gather(void *ctx, struct ht__obj *o)
{
    struct held *d = ctx;
    if (d->n < d->cap)
        d->o[d->n] = o;
    d->n++;
}

/* The GC model counts only (lazy, gcmodel.h) while no edge and no root
 * reference exists: an alloc/free trace never builds a node. Before the
 * first STORE/EDGE (the only events that make one) every object holding a
 * ref - in the table or pending - hands it over and gets its node's. */
static ht_err gc_unlazy(struct eng *g)
{
    size_t n = g->t.n + g->pending.n, k = n ? n : 1;
    struct held d = {malloc(k * sizeof *d.o), 0, n};
    ht_gc_ref *refs = malloc(k * sizeof *refs);
    uint64_t *ids = malloc(k * sizeof *ids);
    ht_err e = HT_ENOMEM;
    if (d.o && refs && ids) {
        ht__objslab_each_held(&g->slab, gather, &d);
        for (size_t i = 0; i < g->pending.cap; i++)
            if (g->pending.s[i].key)
                gather(&d, (struct ht__obj *)(uintptr_t)g->pending.s[i].val);
        for (size_t i = 0; i < d.n && i < n; i++) {
            refs[i] = d.o[i]->gcref;
            ids[i] = d.o[i]->addr;
        }
        /* HT_EINVAL: a ref missing from the walk (a bug, not a bad trace) */
        e = d.n == n ? ht_gc_lazy_end(g->gc, refs, ids, n) : HT_EINVAL;
        for (size_t i = 0; !e && i < n; i++)
            d.o[i]->gcref = refs[i];
        g->gc_lazy = e != HT_OK;
    }
    free(d.o);
    free(refs);
    free(ids);
    return e;
}

/* Stores, edges and refcount events look up the block containing an
 * address: the object table's page index is built on the first of them. */
static ht_err need_index(struct eng *g)
{
    return g->t.unpaged ? ht__objtab_index_slab(&g->t, &g->slab) : HT_OK;
}

/* STORE (drops != 0) or exit-snapshot EDGE */
static ht_err do_store(struct eng *g, const struct ht_rec *ev, int drops)
{
    uint64_t slot = ev->a, val = ev->b, oldv = drops ? ev->c : 0;
    ht_err e = need_index(g);
    if (!e && __builtin_expect(g->gc_lazy, 0)) /* the first STORE/EDGE */
        e = gc_unlazy(g);
    if (e)
        return e;
    struct ht__obj *n = find_ptr(g, val);
    struct ht__obj *o = g->slot_known ? g->slot_o : ht__objtab_find(&g->t, slot);
    /* the block oldv points into, once looked up (oldx_valid) */
    struct ht__obj *oldx = NULL;
    int oldx_valid = 0;
    if (n)
        n->referenced = 1;
    if (o) {
        uint64_t prev;
        g->stores_in_blocks += drops != 0; /* a STORE, not an EDGE */
        if ((e = ht__obj_set_edge(o, slot - o->addr, n ? val : 0, ev->seq,
                                  ev->d, &prev)))
            return e;
        if (prev) {
            struct ht__obj *x = find_ptr(g, prev);
            if (x && (e = keep(ht_gc_edge_del_ref(g->gc, o->gcref, x->gcref))))
                return e;
            if (drops) {
                oldv = prev;
                oldx = x;
                oldx_valid = 1;
            }
        }
        if (n && (e = keep(ht_gc_edge_add_ref(g->gc, o->gcref, n->gcref))))
            return e;
    } else if (in_segs(g, slot, 0)) {
        /* one probe: a slot already held is overwritten in place (the
         * same map contents as deleting and putting it again; its order is
         * read nowhere that an order changes a result) */
        struct ht__map *rs = &g->rootslots;
        size_t j = rs->cap ? ht__map_slot(rs, slot) : 0;
        int held = rs->cap && rs->s[j].key;
        if (held) {
            uint64_t prev = rs->s[j].val;
            struct ht__obj *x = find_ptr(g, prev);
            if (x && (e = keep(ht_gc_extref_ref(g->gc, x->gcref, -1))))
                return e;
            if (n)
                rs->s[j].val = val;
            else
                ht__map_del_at(rs, j);
            if (drops) {
                oldv = prev;
                oldx = x;
                oldx_valid = 1;
            }
        }
        if (n) {
            if ((!held && (e = ht__map_put(rs, slot, val))) ||
                (e = keep(ht_gc_extref_ref(g->gc, n->gcref, 1))))
                return e;
        }
    } else if (drops && ht__objtab_was_freed(&g->t, slot)) {
        if ((e = add_error(g, "store_into_freed", slot, ev->d)))
            return e;
    }
    if (drops && oldv) {
        struct ht__obj *x = oldx_valid ? oldx : find_ptr(g, oldv);
        if (x && x != n)
            note_drop(x, 1, ev->seq, ev->d);
    }
    return HT_OK;
}

/* INCREF/DECREF: an object named by one starts at count 1 (its creator's
 * reference, as PyObject_New / g_object_new hand out) and is counted
 * explicitly from then on. */
static ht_err do_refcount(struct eng *g, const struct ht_rec *ev)
{
    ht_err e0 = need_index(g);
    if (e0)
        return e0;
    int inc = ev->kind == HT_EV_INCREF;
    uint64_t flag = ev->flags & HT_EVF_SITE;
    struct rc_last *last = &g->rc_last[inc];
    int64_t r = last->row1 && ev->d == last->d && flag == last->flag
                    ? last->row1 - 1
                    : ht__agg_row(&g->rcsites, ev->d, flag);
    if (r < 0)
        return HT_ENOMEM;
    *last = (struct rc_last){ev->d, flag, r + 1};
    g->rcsites.v[r].v[inc ? R_INC : R_DEC]++;
    struct ht__obj *o = find_ptr(g, ev->a);
    if (!o) /* static objects (Py_None...) are not in the table */
        return ht__objtab_was_freed(&g->t, ev->a)
                   ? add_error(g, "refcount_on_freed", ev->a, ev->d)
                   : HT_OK;
    if (!o->rc_explicit) {
        o->rc_explicit = 1;
        o->refcnt = 1;
    }
    if (inc) {
        o->refcnt++;
        o->inc_site = (uint32_t)r + 1;
        return HT_OK;
    }
    if (--o->refcnt >= 0)
        return HT_OK;
    g->rcsites.v[r].v[R_UNBAL]++;
    return add_error(g, "refcount_below_zero", ev->a, ev->d);
}

/* A new snapshot: the thread stacks of the previous one are stale (their
 * frames are gone), so their ranges and the root slots in them are
 * dropped; the snapshot's own ROOT and EDGE events follow. Segment roots
 * (data/BSS) stay. */
static ht_err drop_stack_roots(struct eng *g)
{
    size_t nkeep = 0, ndrop = 0, nstack = 0;
    for (size_t i = 0; i < g->nsegs; i++)
        nstack += g->segs[i].stack;
    /* the root slots in any stack range with their values, found in one
     * scan of the map, then deleted (deleting moves entries, so not while
     * scanning) */
    struct ht__slot *drop = nstack && g->rootslots.n
                                ? malloc(g->rootslots.n * sizeof *drop)
                                : NULL;
    if (nstack && g->rootslots.n && !drop)
        return HT_ENOMEM;
    for (size_t k = 0; drop && k < g->rootslots.cap; k++) {
        const struct ht__slot *sl = &g->rootslots.s[k];
        if (sl->key && in_segs(g, sl->key, 1))
            drop[ndrop++] = *sl;
    }
    for (size_t i = 0; i < ndrop; i++) {
        struct ht__obj *x = find_ptr(g, drop[i].val);
        ht_err e;
        if (x && (e = keep(ht_gc_extref_ref(g->gc, x->gcref, -1)))) {
            free(drop);
            return e;
        }
        ht__map_del(&g->rootslots, drop[i].key);
    }
    free(drop);
    for (size_t i = 0; i < g->nsegs; i++)
        if (!g->segs[i].stack)
            g->segs[nkeep++] = g->segs[i];
    g->nsegs = nkeep;
    return HT_OK;
}

static ht_err step(struct eng *g, const struct ht_rec *ev)
{
    /* the two kinds of nearly every event first, as conditional branches
     * (their history predicts an alloc/free pattern; the switch's one
     * indirect jump mispredicted at every change of kind) */
    if (ev->kind == HT_EV_ALLOC) {
        g->allocs++;
        return ev->a ? do_alloc_inl(g, ev, ev->a, ev->b) : HT_OK;
    }
    if (ev->kind == HT_EV_FREE)
        return do_free(g, ev);
    switch (ev->kind) {
    case HT_EV_REALLOC:
        g->reallocs++;
        return do_realloc(g, ev);
    case HT_EV_STORE:
        g->stores++;
        return do_store(g, ev, 1);
    case HT_EV_OVERFLOW: /* the recorder dropped ev->a events here */
        return add_error(g, "events_lost", ev->a, 0);
    case HT_EV_EDGE:
        return do_store(g, ev, 0);
    case HT_EV_ROOT:
        if (!ev->b)
            return HT_OK;
        if (g->nsegs == g->csegs) {
            size_t nc = g->csegs ? g->csegs * 2 : 8;
            struct seg *ns = realloc(g->segs, nc * sizeof *ns);
            if (!ns)
                return HT_ENOMEM;
            g->segs = ns;
            g->csegs = nc;
        }
        g->segs[g->nsegs++] = (struct seg){ev->a, ev->b, ev->c == HT_ROOT_STACK};
        return HT_OK;
    case HT_EV_SNAPSHOT:
        return drop_stack_roots(g);
    case HT_EV_INCREF:
    case HT_EV_DECREF:
        return do_refcount(g, ev);
    default:
        return HT_OK;
    }
}

/* ---- leak detection ------------------------------------------------- */

struct det {
    struct ht__obj **o;
    size_t n;
};

static void collect(void *ctx, struct ht__obj *o)
{
    struct det *d = ctx;
    o->idx = (int64_t)d->n;
    d->o[d->n++] = o;
}

enum { K_REACH = 1, K_DEF, K_IND, K_CYC };

static ht_err detect(struct eng *g)
{
    ht_err e = HT_OK;
    if ((e = ht__objtab_index_slab(&g->t, &g->slab)))
        return e;
    struct det d = {calloc(g->t.n + 1, sizeof(struct ht__obj *)), 0};
    size_t n = g->t.n, nedge = 0;
    if (!d.o)
        return HT_ENOMEM;
    ht__objtab_each(&g->t, collect, &d);
    for (size_t i = 0; i < n; i++)
        nedge += d.o[i]->nedges;
    size_t *off = calloc(n + 1, sizeof *off);
    int64_t *adj = calloc(nedge + 1, sizeof *adj);
    uint32_t *adje = calloc(nedge + 1, sizeof *adje); /* edge index in src */
    uint8_t *kind = calloc(n + 1, 1);
    uint32_t *indeg = calloc(n + 1, sizeof *indeg);
    int64_t *stack = calloc(n + 1, sizeof *stack);
    int64_t *tin = calloc(n + 1, sizeof *tin), *low = calloc(n + 1, sizeof *low);
    int64_t *comp = calloc(n + 1, sizeof *comp);
    int64_t *cstk = calloc(n + 1, sizeof *cstk);
    size_t *cpos = calloc(n + 1, sizeof *cpos);
    uint8_t *onst = calloc(n + 1, 1), *selfl = calloc(n + 1, 1);
    uint32_t *rootrefs = calloc(n + 1, sizeof *rootrefs);
    ht_insert *ic = NULL, *im = NULL, *ie = NULL;
    if (!off || !adj || !adje || !kind || !indeg || !stack || !tin || !low ||
        !comp || !cstk || !cpos || !onst || !selfl || !rootrefs) {
        e = HT_ENOMEM;
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        off[i] = k;
        for (uint32_t j = 0; j < d.o[i]->nedges; j++) {
            struct ht__obj *x = find_ptr(g, d.o[i]->edges[j].val);
            if (!x)
                continue;
            adj[k] = x->idx;
            adje[k++] = j;
            indeg[x->idx]++;
            if ((size_t)x->idx == i)
                selfl[i] = 1;
        }
    }
    off[n] = k;
    /* reachability from root slots */
    size_t sp = 0;
    for (size_t i = 0; i < g->rootslots.cap; i++) {
        if (!g->rootslots.s[i].key)
            continue;
        struct ht__obj *x = find_ptr(g, g->rootslots.s[i].val);
        if (x)
            rootrefs[x->idx]++;
        if (x && !kind[x->idx]) {
            kind[x->idx] = K_REACH;
            stack[sp++] = x->idx;
        }
    }
    while (sp) {
        int64_t v = stack[--sp];
        for (size_t q = off[v]; q < off[v + 1]; q++)
            if (!kind[adj[q]]) {
                kind[adj[q]] = K_REACH;
                stack[sp++] = adj[q];
            }
    }
    /* iterative Tarjan over the unreachable subgraph */
    int64_t timer = 0, ncomp = 0;
    size_t csp = 0;
    for (size_t s = 0; s < n; s++) {
        if (kind[s] || tin[s])
            continue;
        sp = 0;
        stack[sp++] = (int64_t)s;
        tin[s] = low[s] = ++timer;
        cpos[s] = off[s];
        cstk[csp++] = (int64_t)s;
        onst[s] = 1;
        while (sp) {
            int64_t v = stack[sp - 1];
            if (cpos[v] < off[v + 1]) {
                int64_t w = adj[cpos[v]++];
                if (kind[w])
                    continue;
                if (!tin[w]) {
                    tin[w] = low[w] = ++timer;
                    cpos[w] = off[w];
                    cstk[csp++] = w;
                    onst[w] = 1;
                    stack[sp++] = w;
                } else if (onst[w] && tin[w] < low[v]) {
                    low[v] = tin[w];
                }
                continue;
            }
            sp--;
            if (sp && low[v] < low[stack[sp - 1]])
                low[stack[sp - 1]] = low[v];
            if (low[v] == tin[v]) {
                size_t base = csp;
                while (cstk[base - 1] != v)
                    base--;
                base--;
                size_t members = csp - base;
                int cyc = members >= 2 || selfl[v];
                if (cyc)
                    ncomp++;
                for (size_t q = base; q < csp; q++) {
                    onst[cstk[q]] = 0;
                    comp[cstk[q]] = cyc ? ncomp : 0;
                }
                csp = base;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!kind[i])
            kind[i] = comp[i] ? K_CYC : indeg[i] ? K_IND : K_DEF;
    /* rows */
    static const char *names[] = {NULL, "reachable", "definite", "indirect",
                                  "cycle"};
    for (size_t i = 0; i < n; i++) {
        struct ht__obj *o = d.o[i];
        const char *lb = NULL;
        int lost = kind[i] != K_REACH;
        if (lost)
            lb = o->drop_kind == 1 ? "store"
                 : o->drop_kind == 2 ? "free"
                 : !o->referenced   ? "never_stored"
                                    : NULL;
        uint64_t *cnt = kind[i] == K_REACH  ? &g->r.reachable
                        : kind[i] == K_DEF  ? &g->r.definite
                        : kind[i] == K_IND  ? &g->r.indirect
                                            : &g->r.cycle;
        uint64_t *by = kind[i] == K_REACH  ? &g->r.reachable_bytes
                       : kind[i] == K_DEF  ? &g->r.definite_bytes
                       : kind[i] == K_IND  ? &g->r.indirect_bytes
                                           : &g->r.cycle_bytes;
        (*cnt)++;
        *by += o->size;
        if (lost && o->rc_explicit && o->refcnt > 0) {
            if ((e = add_error(g, "refcount_not_zero", o->addr, o->pc)))
                goto out;
            blame(g, o->inc_site);
        }
        /* refcnt: explicit when counted, else the pointers to it */
        int64_t rc = o->rc_explicit ? o->refcnt
                                    : (int64_t)(indeg[i] + rootrefs[i]);
        int has = lost && o->drop_kind;
        if (has)
            e = ht_store_insert_row(g->ins_obj, "iiiiniiisisi",
                                    (int64_t)g->run, (int64_t)o->addr,
                                    (int64_t)o->size, (int64_t)o->alloc_seq,
                                    (int64_t)o->pc, (int64_t)o->tid, rc,
                                    names[kind[i]], (int64_t)o->drop_seq, lb,
                                    (int64_t)o->drop_site);
        else
            e = ht_store_insert_row(g->ins_obj, "iiiiniiisnsn",
                                    (int64_t)g->run, (int64_t)o->addr,
                                    (int64_t)o->size, (int64_t)o->alloc_seq,
                                    (int64_t)o->pc, (int64_t)o->tid, rc,
                                    names[kind[i]], lb);
        if (e)
            goto out;
    }
    /* cycles */
    g->r.cycles = (uint64_t)ncomp;
    if ((e = ht_store_insert_prepare(g->st,
             "INSERT INTO cycles VALUES(?,?,?,?)", &ic)) ||
        (e = ht_store_insert_batch(g->st, "cycle_members", 6, ROW_BATCH,
                                   &im)) ||
        (e = ht_store_insert_batch(g->st, "cycle_edges", 7, ROW_BATCH, &ie)))
        goto out;
    uint64_t *cm = calloc((size_t)ncomp + 1, sizeof *cm);
    uint64_t *cb = calloc((size_t)ncomp + 1, sizeof *cb);
    if (!cm || !cb) {
        free(cm);
        free(cb);
        e = HT_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n && !e; i++) {
        if (!comp[i])
            continue;
        struct ht__obj *o = d.o[i];
        cm[comp[i]]++;
        cb[comp[i]] += o->size;
        e = ht_store_insert_row(im, "iiiiii", (int64_t)g->run, comp[i],
                                (int64_t)o->addr, (int64_t)o->size,
                                (int64_t)o->alloc_seq, (int64_t)o->pc);
        for (size_t q = off[i]; q < off[i + 1] && !e; q++) {
            if (comp[adj[q]] != comp[i])
                continue;
            const struct ht__edge *ed = &o->edges[adje[q]];
            e = ht_store_insert_row(ie, "iiiiiii", (int64_t)g->run, comp[i],
                                    (int64_t)o->addr, (int64_t)ed->off,
                                    (int64_t)d.o[adj[q]]->addr,
                                    (int64_t)ed->seq, (int64_t)ed->site);
        }
    }
    for (int64_t c = 1; c <= ncomp && !e; c++)
        e = ht_store_insert_row(ic, "iiii", (int64_t)g->run, c,
                                (int64_t)cm[c], (int64_t)cb[c]);
    free(cm);
    free(cb);
    if (!e && !(e = ht_store_insert_flush(im)))
        e = ht_store_insert_flush(ie);
out:
    ht_store_insert_free(ic);
    ht_store_insert_free(im);
    ht_store_insert_free(ie);
    free(d.o);
    free(off);
    free(adj);
    free(adje);
    free(kind);
    free(indeg);
    free(stack);
    free(tin);
    free(low);
    free(comp);
    free(cstk);
    free(cpos);
    free(onst);
    free(selfl);
    free(rootrefs);
    return e;
}

/* objects rows: blocks live at the end (objects_live) and the chunks of
 * freed ones (object_chunks, read through the objects_freed virtual table of
 * store/objcodec.c); a trace replayed before had a table `objects`, moved
 * into objects_live by migrate_objects() first. */
static const char *SCHEMA =
    "CREATE TABLE IF NOT EXISTS objects_live(run_id INTEGER, addr INTEGER,"
    " size INTEGER, alloc_seq INTEGER, free_seq INTEGER, pc INTEGER,"
    " tid INTEGER, refcnt INTEGER, leak_kind TEXT, lost_seq INTEGER,"
    " lost_by TEXT, lost_by_site INTEGER);"
    "CREATE INDEX IF NOT EXISTS objects_live_run ON objects_live(run_id,"
    " leak_kind);"
    "CREATE TABLE IF NOT EXISTS object_chunks(run_id INTEGER,"
    " chunk_no INTEGER, nrows INTEGER, data BLOB,"
    " PRIMARY KEY(run_id, chunk_no));"
    "CREATE VIEW IF NOT EXISTS objects AS SELECT * FROM objects_freed"
    " UNION ALL SELECT * FROM objects_live;"
    "CREATE TABLE IF NOT EXISTS errors(run_id INTEGER, seq INTEGER,"
    " kind TEXT, addr INTEGER, pc INTEGER);"
    "CREATE TABLE IF NOT EXISTS frag_snapshots(run_id INTEGER, seq INTEGER,"
    " kind TEXT, arenas INTEGER, pools_used INTEGER, blocks_in_use INTEGER,"
    " bytes_in_use INTEGER, utilisation REAL, unused_pools INTEGER,"
    " bytes_total REAL, raw_blocks INTEGER, live_bytes INTEGER,"
    " bytes_quantization INTEGER);"
    "CREATE TABLE IF NOT EXISTS gc_collections(run_id INTEGER, n INTEGER,"
    " seq INTEGER, generation INTEGER, collected INTEGER, count0 INTEGER,"
    " count1 INTEGER, count2 INTEGER);"
    "CREATE TABLE IF NOT EXISTS cycles(run_id INTEGER, cycle_id INTEGER,"
    " members INTEGER, bytes INTEGER);"
    "CREATE TABLE IF NOT EXISTS cycle_members(run_id INTEGER,"
    " cycle_id INTEGER, addr INTEGER, size INTEGER, alloc_seq INTEGER,"
    " pc INTEGER);"
    "CREATE TABLE IF NOT EXISTS cycle_edges(run_id INTEGER, cycle_id INTEGER,"
    " from_addr INTEGER, offset INTEGER, to_addr INTEGER, store_seq INTEGER,"
    " store_site INTEGER);"
    "CREATE TABLE IF NOT EXISTS pool_map(run_id INTEGER, seq INTEGER,"
    " kind TEXT, arena INTEGER, pool INTEGER, size_class INTEGER,"
    " used_blocks INTEGER, total_blocks INTEGER);"
    /* leak rows are only ever blocks live at the end (objects_live), so
     * the documented views read that table: they then work in a plain
     * sqlite3 shell, without the objects_freed virtual table (redefined
     * here for traces replayed before) */
    "DROP VIEW IF EXISTS leak_summary;"
    "CREATE VIEW IF NOT EXISTS leak_summary AS SELECT run_id,"
    " leak_kind AS category, COUNT(*) AS blocks, SUM(size) AS bytes"
    " FROM objects_live WHERE leak_kind IS NOT NULL GROUP BY run_id,"
    " leak_kind;"
    "CREATE TABLE IF NOT EXISTS run_stats(run_id INTEGER PRIMARY KEY,"
    " allocs INTEGER, reallocs INTEGER, frees INTEGER,"
    " bytes_allocated INTEGER, peak_live_bytes INTEGER,"
    " peak_live_blocks INTEGER, peak_seq INTEGER, live_blocks INTEGER,"
    " live_bytes INTEGER, invalid_frees INTEGER, events INTEGER,"
    " stores INTEGER);"
    "CREATE TABLE IF NOT EXISTS site_stats(run_id INTEGER, pc INTEGER,"
    " allocs INTEGER, bytes_allocated INTEGER, frees INTEGER,"
    " live_blocks INTEGER, live_bytes INTEGER,"
    " PRIMARY KEY(run_id, pc)) WITHOUT ROWID;"
    "CREATE VIEW IF NOT EXISTS site_report AS SELECT s.run_id, s.pc,"
    " p.file, p.line, p.col, p.func, s.allocs, s.bytes_allocated,"
    " s.frees, s.live_blocks, s.live_bytes FROM site_stats s"
    " LEFT JOIN pcs p ON p.run_id = s.run_id AND p.pc = s.pc;"
    "CREATE TABLE IF NOT EXISTS refcount_sites(run_id INTEGER, pc INTEGER,"
    " site_id INTEGER, increfs INTEGER, decrefs INTEGER,"
    " unbalanced INTEGER);"
    "CREATE TABLE IF NOT EXISTS churn(run_id INTEGER, pc INTEGER,"
    " size INTEGER, allocs INTEGER, frees INTEGER, max_live INTEGER,"
    " short_lived INTEGER);"
    "CREATE TABLE IF NOT EXISTS peak(run_id INTEGER PRIMARY KEY, seq INTEGER,"
    " live_blocks INTEGER, live_bytes INTEGER);"
    "CREATE TABLE IF NOT EXISTS peak_sites(run_id INTEGER, pc INTEGER,"
    " blocks INTEGER, bytes INTEGER);"
    "CREATE TABLE IF NOT EXISTS pinning(run_id INTEGER, seq INTEGER,"
    " pc INTEGER, blocks INTEGER, pools INTEGER, arenas INTEGER);"
    "CREATE TABLE IF NOT EXISTS gc_stats(run_id INTEGER, generation INTEGER,"
    " collections INTEGER, collected INTEGER, uncollectable INTEGER);"
    "DROP VIEW IF EXISTS run_summary;"
    "CREATE VIEW IF NOT EXISTS run_summary AS SELECT s.run_id, r.program,"
    " s.events, s.allocs, s.frees, s.reallocs, s.stores,"
    " s.peak_live_bytes AS peak_bytes, s.peak_seq,"
    " s.live_blocks AS live_blocks_exit, s.live_bytes AS live_bytes_exit,"
    " (SELECT COUNT(*) FROM objects_live o WHERE o.run_id=s.run_id"
    "  AND o.leak_kind='definite') AS definite_blocks,"
    " (SELECT TOTAL(size) FROM objects_live o WHERE o.run_id=s.run_id"
    "  AND o.leak_kind='definite') AS definite_bytes,"
    " (SELECT COUNT(*) FROM objects_live o WHERE o.run_id=s.run_id"
    "  AND o.leak_kind='indirect') AS indirect_blocks,"
    " (SELECT TOTAL(size) FROM objects_live o WHERE o.run_id=s.run_id"
    "  AND o.leak_kind='indirect') AS indirect_bytes,"
    " (SELECT COUNT(*) FROM objects_live o WHERE o.run_id=s.run_id"
    "  AND o.leak_kind='cycle') AS cycle_blocks,"
    " (SELECT TOTAL(size) FROM objects_live o WHERE o.run_id=s.run_id"
    "  AND o.leak_kind='cycle') AS cycle_bytes,"
    " (SELECT COUNT(*) FROM objects_live o WHERE o.run_id=s.run_id"
    "  AND o.leak_kind='reachable') AS reachable_blocks,"
    " (SELECT TOTAL(size) FROM objects_live o WHERE o.run_id=s.run_id"
    "  AND o.leak_kind='reachable') AS reachable_bytes,"
    " (SELECT COUNT(*) FROM cycles c WHERE c.run_id=s.run_id) AS cycles,"
    " (SELECT COUNT(*) FROM errors x WHERE x.run_id=s.run_id) AS errors,"
    " (SELECT COUNT(*) FROM gc_collections c WHERE c.run_id=s.run_id)"
    "  AS gc_collections"
    " FROM run_stats s LEFT JOIN runs r ON r.run_id = s.run_id;";

/* tables holding rows of one run, cleared before a replay of it */
static const char *const RUN_TABLES[] = {
    "objects_live", "object_chunks", "errors", "frag_snapshots", "gc_collections", "cycles",
    "cycle_members", "cycle_edges", "pool_map", "run_stats", "site_stats",
    "refcount_sites", "churn", "peak", "peak_sites", "pinning", "gc_stats"};

static int type_row(void *ctx, int ncol, const char *const *v,
                    const char *const *names)
{
    (void)names;
    if (ncol >= 1 && v[0] && !strcmp(v[0], "table"))
        *(int *)ctx = 1;
    return 0;
}

/* a trace replayed by an older heaptrail has a table `objects` (one row per
 * allocation): move its rows into objects_live so the view can take the
 * name (freed rows stay ordinary rows there; nothing is lost) */
static ht_err migrate_objects(struct eng *g)
{
    int old = 0;
    ht_err e = ht_store_query(g->st, "SELECT type FROM sqlite_master"
                              " WHERE name='objects'", 0, type_row, &old);
    if (e || !old)
        return e;
    return ht_store_exec(g->st,
        "CREATE TABLE IF NOT EXISTS objects_live(run_id INTEGER,"
        " addr INTEGER, size INTEGER, alloc_seq INTEGER, free_seq INTEGER,"
        " pc INTEGER, tid INTEGER, refcnt INTEGER, leak_kind TEXT,"
        " lost_seq INTEGER, lost_by TEXT, lost_by_site INTEGER);"
        "INSERT INTO objects_live SELECT run_id, addr, size, alloc_seq,"
        " free_seq, pc, tid, refcnt, leak_kind, lost_seq, lost_by,"
        " lost_by_site FROM objects;"
        "DROP TABLE objects;");
}

static ht_err prepare(struct eng *g)
{
    ht_err e;
    char sql[128];
    if ((e = migrate_objects(g)) || (e = ht_store_exec(g->st, SCHEMA)))
        return e;
    /* a trace replayed by an older heaptrail has run_stats without stores */
    if (ht_store_exec(g->st, "SELECT stores FROM run_stats LIMIT 0") &&
        (e = ht_store_exec(g->st,
             "ALTER TABLE run_stats ADD COLUMN stores INTEGER")))
        return e;
    for (size_t i = 0; i < sizeof RUN_TABLES / sizeof *RUN_TABLES; i++) {
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE run_id=%lld;",
                 RUN_TABLES[i], (long long)g->run);
        if ((e = ht_store_exec(g->st, sql)))
            return e;
    }
    /* objects_live and errors rows may be many (a leaky run's blocks, a
     * refcount error per free): batched, flushed by ht_replay_run */
    if ((e = ht_store_insert_batch(g->st, "objects_live", 12, ROW_BATCH,
                                   &g->ins_obj)) ||
        (e = ht_store_insert_batch(g->st, "errors", 5, ROW_BATCH,
                                   &g->ins_err)) ||
        (e = ht_store_insert_prepare(g->st,
             "INSERT INTO frag_snapshots VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
             &g->ins_snap)) ||
        (e = ht_store_insert_prepare(g->st,
             "INSERT INTO gc_collections VALUES(?,?,?,?,?,?,?,?)", &g->ins_gc)))
        return e;
    return HT_OK;
}

static int run_row(void *ctx, int ncol, const char *const *v,
                   const char *const *names)
{
    (void)names;
    int *incomplete = ctx;
    if (ncol >= 1)
        *incomplete = v[0] && !strcmp(v[0], "0");
    return 0;
}

/* a run whose recording did not finish (killed, spill cut short): the
 * live-at-end figures are those of the last recorded event, so say so */
static ht_err check_run(struct eng *g)
{
    char sql[96];
    int incomplete = 0;
    snprintf(sql, sizeof sql, "SELECT complete FROM runs WHERE run_id=%lld",
             (long long)g->run);
    ht_err e = ht_store_query(g->st, sql, 0, run_row, &incomplete);
    if (e)
        return e;
    return incomplete ? add_error(g, "truncated_run", 0, 0) : HT_OK;
}

struct pin {
    uint64_t unit, pc; /* pool or arena number; allocation site */
};

static int pin_cmp(const void *a, const void *b)
{
    const struct pin *x = a, *y = b;
    if (x->unit != y->unit)
        return x->unit < y->unit ? -1 : 1;
    return x->pc < y->pc ? -1 : x->pc > y->pc;
}

struct pinctx {
    struct pin *p;
    size_t n;
    uint64_t shift_div;
};

static void pin_collect(void *ctx, struct ht__obj *o)
{
    struct pinctx *c = ctx;
    if (o->model_addr && o->model_addr < HT_PYM_RAW_BASE)
        c->p[c->n++] = (struct pin){o->model_addr / c->shift_div, o->pc};
}

/* over pins sorted by (unit, pc): per unit, the site with the most blocks
 * (ties: the lowest pc) is charged with the unit in value col of its row;
 * with blocks set, every site's blocks are added to value 0 as well */
static ht_err pin_charge(struct ht__aggtab *t, const struct pin *p, size_t n,
                         int col, int blocks)
{
    for (size_t i = 0; i < n;) {
        size_t j = i, best = i, bestn = 0;
        while (j < n && p[j].unit == p[i].unit) {
            size_t k = j;
            while (k < n && p[k].unit == p[j].unit && p[k].pc == p[j].pc)
                k++;
            if (k - j > bestn) {
                bestn = k - j;
                best = j;
            }
            int64_t r = blocks ? ht__agg_row(t, p[j].pc, 0) : 0;
            if (r < 0)
                return HT_ENOMEM;
            if (blocks)
                t->v[r].v[0] += k - j;
            j = k;
        }
        int64_t r = ht__agg_row(t, p[best].pc, 0);
        if (r < 0)
            return HT_ENOMEM;
        t->v[r].v[col]++;
        i = j;
    }
    return HT_OK;
}

/* pinning rows: at exit, per allocation site, its live pymalloc blocks and
 * the pools and arenas in which it holds the most blocks (the site whose
 * blocks keep that pool or arena from being released) */
static ht_err write_pinning(struct eng *g)
{
    struct ht_pym_stats s;
    g->am.ops->stats(g->am.m, &s);
    struct pinctx c = {calloc(g->t.n + 1, sizeof(struct pin)), 0,
                       s.pool_size ? s.pool_size : 1};
    struct ht__aggtab t = {0};
    ht_insert *ins = NULL;
    ht_err e = HT_OK;
    if (!c.p)
        return HT_ENOMEM;
    /* slot order, not the table's: the sort below orders pins by their
     * whole content, so the rows do not depend on the walk's order */
    ht__objslab_each_held(&g->slab, pin_collect, &c);
    qsort(c.p, c.n, sizeof *c.p, pin_cmp);
    if ((e = pin_charge(&t, c.p, c.n, 1, 1)))
        goto out;
    for (size_t i = 0; i < c.n; i++) /* pool -> arena */
        c.p[i].unit = c.p[i].unit * s.pool_size / (s.arena_size ? s.arena_size : 1);
    qsort(c.p, c.n, sizeof *c.p, pin_cmp);
    if ((e = pin_charge(&t, c.p, c.n, 2, 0)) ||
        (e = ht_store_insert_prepare(g->st,
             "INSERT INTO pinning VALUES(?,?,?,?,?,?)", &ins)))
        goto out;
    for (size_t i = 0; i < t.n && !e; i++)
        e = ht_store_insert_row(ins, "iiiiii", (int64_t)g->run,
                                (int64_t)g->seq, (int64_t)t.v[i].k1,
                                (int64_t)t.v[i].v[0], (int64_t)t.v[i].v[1],
                                (int64_t)t.v[i].v[2]);
out:
    ht_store_insert_free(ins);
    ht__agg_fini(&t);
    free(c.p);
    return e;
}

typedef ht_err (*agg_row_fn)(ht_insert *ins, int64_t run,
                             const struct ht__agg *a);

/* one row per aggregate (fn may skip one by returning HT_OK unwritten) */
static ht_err write_agg(struct eng *g, const char *sql,
                        const struct ht__aggtab *t, agg_row_fn fn)
{
    ht_insert *ins = NULL;
    ht_err e = ht_store_insert_prepare(g->st, sql, &ins);
    for (size_t i = 0; i < t->n && !e; i++)
        e = fn(ins, g->run, &t->v[i]);
    ht_store_insert_free(ins);
    return e;
}

static ht_err site_row(ht_insert *ins, int64_t run, const struct ht__agg *a)
{
    return ht_store_insert_row(ins, "iiiiiii", run, (int64_t)a->k1,
                               (int64_t)a->v[S_ALLOCS], (int64_t)a->v[S_BYTES],
                               (int64_t)a->v[S_FREES], (int64_t)a->v[S_LIVE],
                               (int64_t)a->v[S_LIVE_BYTES]);
}

static ht_err rcsite_row(ht_insert *ins, int64_t run, const struct ht__agg *a)
{
    /* k2 says whether k1 is an analyzer site id or a pc */
    return ht_store_insert_row(ins, a->k2 ? "iniiii" : "iiniii", run,
                               (int64_t)a->k1, (int64_t)a->v[R_INC],
                               (int64_t)a->v[R_DEC], (int64_t)a->v[R_UNBAL]);
}

static ht_err peak_site_row(ht_insert *ins, int64_t run,
                            const struct ht__agg *a)
{
    /* write_tables commits the last peak first: S_PK_* are current */
    if (!a->v[S_PK_LIVE])
        return HT_OK;
    return ht_store_insert_row(ins, "iiii", run, (int64_t)a->k1,
                               (int64_t)a->v[S_PK_LIVE],
                               (int64_t)a->v[S_PK_BYTES]);
}

static ht_err churn_row(ht_insert *ins, int64_t run, const struct ht__agg *a)
{
    if (a->v[C_ALLOCS] < CHURN_MIN_ALLOCS ||
        a->v[C_MAX_LIVE] * CHURN_RATIO > a->v[C_ALLOCS])
        return HT_OK;
    return ht_store_insert_row(ins, "iiiiiii", run, (int64_t)a->k1,
                               (int64_t)a->k2, (int64_t)a->v[C_ALLOCS],
                               (int64_t)a->v[C_FREES],
                               (int64_t)a->v[C_MAX_LIVE],
                               (int64_t)a->v[C_SHORT]);
}

/* run_stats, site_stats, refcount_sites, churn, peak, peak_sites, gc_stats */
static ht_err write_tables(struct eng *g)
{
    ht_insert *ins = NULL;
    ht_err e;
    char sql[128];
    /* bring every site's S_PK_* to the last committed peak */
    for (size_t i = 0; i < g->sites.n; i++)
        site_touch(g, (uint32_t)i);
    if ((e = ht_store_insert_prepare(g->st,
             "INSERT INTO run_stats VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)", &ins)))
        return e;
    e = ht_store_insert_row(ins, "iiiiiiiiiiiii", (int64_t)g->run,
                            (int64_t)g->allocs, (int64_t)g->reallocs,
                            (int64_t)g->frees, (int64_t)g->bytes_allocated,
                            (int64_t)g->r.peak_live_bytes,
                            (int64_t)g->peak_blocks, (int64_t)g->r.peak_seq,
                            (int64_t)g->live_blocks, (int64_t)g->live_bytes,
                            (int64_t)g->invalid_frees, (int64_t)g->r.events,
                            (int64_t)g->stores);
    ht_store_insert_free(ins);
    ins = NULL;
    if (e ||
        (e = write_agg(g, "INSERT INTO site_stats VALUES(?,?,?,?,?,?,?)",
                       &g->sites, site_row)) ||
        (e = write_agg(g, "INSERT INTO refcount_sites VALUES(?,?,?,?,?,?)",
                       &g->rcsites, rcsite_row)) ||
        (e = write_agg(g, "INSERT INTO churn VALUES(?,?,?,?,?,?,?)",
                       &g->churn, churn_row)) ||
        (e = write_agg(g, "INSERT INTO peak_sites VALUES(?,?,?,?)",
                       &g->sites, peak_site_row)) ||
        (e = ht_store_insert_prepare(g->st,
             "INSERT INTO gc_stats VALUES(?,?,?,?,0)", &ins)))
        return e;
    for (int i = 0; i < 3 && !e; i++)
        e = ht_store_insert_row(ins, "iiii", (int64_t)g->run, (int64_t)i,
                                (int64_t)g->gen_coll[i],
                                (int64_t)g->gen_collected[i]);
    ht_store_insert_free(ins);
    if (e)
        return e;
    snprintf(sql, sizeof sql, "INSERT INTO peak VALUES(%lld,%lld,%llu,%llu);",
             (long long)g->run, (long long)g->r.peak_seq,
             (unsigned long long)g->peak_blocks,
             (unsigned long long)g->r.peak_live_bytes);
    return ht_store_exec(g->st, sql);
}

/* pool_map rows: the peak copy and the model's state now (exit) */
static ht_err write_pool_map(struct eng *g)
{
    ht_insert *ins = NULL;
    struct ht__poolmap now = {0};
    ht_err e = ht_store_insert_prepare(g->st,
        "INSERT INTO pool_map VALUES(?,?,?,?,?,?,?,?)", &ins);
    if (!e && g->have_peak && !(e = ht__poolmap_capture(&g->am, 1, &now)))
        e = ht__poolmap_write(ins, g->run, g->r.peak_seq, "peak", &now);
    if (!e)
        e = ht__poolmap_capture(&g->am, 0, &now);
    if (!e)
        e = ht__poolmap_write(ins, g->run, g->seq, "exit", &now);
    ht__poolmap_fini(&now);
    ht_store_insert_free(ins);
    return e;
}

/* The look-ahead hints of event i of recs[0..nrec): the object table's
 * cache misses, started events ahead (and the churn row of an allocation
 * the directory does not cover, and of a free). With churn hints, a freed
 * block's object is looked up once, PF_OBJ events ahead, and kept in
 * ring[event % PF_OBJ] (NULL for any other event) until its churn row is
 * hinted PF_ROW events ahead: one probe instead of two (the entry was
 * written PF_OBJ - PF_ROW events before, and no event in between writes
 * it). The caller zeroes ring at each batch. */
static inline __attribute__((always_inline)) void
hints(const struct eng *g, const struct ht_rec *recs, size_t i, size_t nrec,
      int pf_churn, const struct ht__obj **ring)
{
    _Static_assert(PF_ROW < PF_OBJ, "the ring holds PF_OBJ events");
    if (i + PF_SLOT < nrec) {
        const struct ht_rec *f = &recs[i + PF_SLOT];
        if (f->kind <= HT_EV_FREE) {
            ht__objtab_prefetch_slot(&g->t, f->a);
            if (pf_churn && f->kind == HT_EV_ALLOC &&
                f->b >= CHURN_DIRECT)
                ht__agg_prefetch_idx(&g->churn, f->d, f->b);
        }
    }
    if (pf_churn && i + PF_ROW < nrec) {
        const struct ht__obj *o = ring[(i + PF_ROW) % PF_OBJ];
        if (o) { /* its C_FREES .. C_SHORT */
            const struct ht__agg *c = &g->churn.v[o->churn_i];
            __builtin_prefetch(&c->v[C_FREES]);
            __builtin_prefetch(&c->v[C_SHORT]);
        }
    }
    if (i + PF_OBJ < nrec) {
        const struct ht_rec *f = &recs[i + PF_OBJ];
        const struct ht__obj *o = NULL;
        if (f->kind == HT_EV_FREE) {
            if (pf_churn)
                o = ht__objtab_prefetch_get(&g->t, f->a);
            else
                ht__objtab_prefetch_obj(&g->t, f->a);
        } else if (pf_churn && f->kind == HT_EV_ALLOC &&
                   f->b >= CHURN_DIRECT) {
            ht__agg_prefetch_row(&g->churn, f->d, f->b, C_MAX_LIVE + 1);
        }
        if (pf_churn)
            ring[i % PF_OBJ] = o;
    }
}

/* The look-ahead hints of pointer event i of recs[0..nrec), called
 * once the page index exists (the first such event built it) and the
 * table outgrows the cache. STORE/EDGE (pf_st): a store into a block
 * waits on a chain of misses (page index, byaddr slot, block, then the
 * block's edge array and GC node). PF_OBJ events ahead: the slot's block by the full
 * lookup (its misses then overlap the events in between), its two lines
 * prefetched, the answer kept in pring[event % PF_OBJ] as the block's
 * address | 1 (slab slots are 64-byte aligned; 0: no answer); PF_ROW
 * ahead: its edge array and GC node. run_all clears pring at each event
 * that changes the table, so an answer still there when its store comes
 * is the store's own (do_store then does not look it up again); a block
 * freed in between costs a useless prefetch (its slab slot stays readable
 * until the run ends). INCREF/DECREF (pf_rc): the byaddr slot of the
 * object PF_SLOT events ahead, its two lines PF_OBJ ahead (graph: CPU
 * -12 %). Measured on graph: hinting a STORE's value and old value blocks
 * as well cost 80 more instructions an event for no CPU time gained. */
static inline __attribute__((always_inline)) void
ptr_hints(const struct eng *g, const struct ht_rec *recs, size_t i,
          size_t nrec, uintptr_t *pring, int pf_st, int pf_rc)
{
    if (pf_rc && i + PF_SLOT < nrec) {
        const struct ht_rec *f = &recs[i + PF_SLOT];
        if ((f->kind == HT_EV_INCREF || f->kind == HT_EV_DECREF) &&
            f->a >= g->t.lo && f->a < g->t.hi)
            ht__objtab_prefetch_slot(&g->t, f->a);
    }
    if (i + PF_ROW < nrec) {
        const struct ht__obj *o =
            (const struct ht__obj *)(pring[(i + PF_ROW) % PF_OBJ] & ~(uintptr_t)1);
        if (o) {
            __builtin_prefetch(o->edges);
            ht_gc_prefetch_ref(g->gc, o->gcref);
        }
    }
    if (i + PF_OBJ < nrec) {
        const struct ht_rec *f = &recs[i + PF_OBJ];
        uintptr_t p = 0;
        if (pf_st && (f->kind == HT_EV_STORE || f->kind == HT_EV_EDGE)) {
            const struct ht__obj *o = ht__objtab_find(&g->t, f->a);
            p = (uintptr_t)o | 1;
            if (o) {
                __builtin_prefetch(o);
                __builtin_prefetch((const char *)o + 64);
            }
        } else if (pf_rc &&
                   (f->kind == HT_EV_INCREF || f->kind == HT_EV_DECREF) &&
                   f->a >= g->t.lo && f->a < g->t.hi) {
            const struct ht__obj *o = ht__objtab_get(&g->t, f->a);
            if (o) {
                __builtin_prefetch(o);
                __builtin_prefetch((const char *)o + 64);
            }
        }
        pring[i % PF_OBJ] = p;
    }
}

static ht_err run_all(struct eng *g, const struct ht_replay_opts *opts)
{
    ht_err e;
    ht_reader *rd = NULL;
    uint64_t every = opts && opts->snapshot_every ? opts->snapshot_every
                                                  : 100000;
    if ((e = prepare(g)) || (e = ht_reader_open(g->st, g->run, &rd)))
        return e;
    const struct ht_rec *recs;
    size_t nrec;
    struct ht_pym_stats s;
    uint64_t until_snap = every;
    void (*progress)(void *, uint64_t) = opts ? opts->progress : NULL;
    /* the event count and last seq in registers (nothing the events call
     * reads them), written back at the stop */
    uint64_t nev = g->r.events, last = g->last_seq;
    while ((e = ht_reader_batch(rd, &recs, &nrec)) == HT_OK) {
        /* churn rows in cache need no hints (a test per batch, not per
         * event: most traces never have that many rows) */
        const int pf_churn = g->churn.n >= PF_CHURN_MIN_ROWS;
        /* no hint at all while table and rows stay in cache (alloc/free
         * rings): one test per event instead of the look-ahead's */
        const int pf_any =
            pf_churn || g->t.byaddr.cap >= HT__PREFETCH_MIN_CAP;
        const struct ht__obj *ring[PF_OBJ] = {0};
        /* pointer events' hints: the page index built and the table
         * large; the stores' when a quarter of the stores so far went into
         * blocks (stores into root slots, all of small's and libyaml's but
         * 27, need no block), the refcounts' once one came */
        const int pf_big =
            !g->t.unpaged && g->t.byaddr.cap >= HT__PREFETCH_MIN_CAP;
        const int pf_st =
            pf_big && g->stores_in_blocks * 4 >= g->stores;
        const int pf_rc = pf_big && g->rcsites.n > 0;
        const int pf_ptrs = pf_st || pf_rc;
        uintptr_t pring[PF_OBJ] = {0};
        /* set per event only while pf_ptrs; this batch may run without it:
         * no answer of the last batch's last event may reach this one */
        g->slot_known = 0;
        for (size_t i = 0; i < nrec; i++) {
            const struct ht_rec *ev = &recs[i];
            if (pf_any)
                hints(g, recs, i, nrec, pf_churn, ring);
            if (pf_ptrs) {
                /* event i's answer, if no event since it was found (before
                 * event i - PF_OBJ) changed the table */
                const uintptr_t cur = pring[i % PF_OBJ];
                g->slot_known = (int)(cur & 1);
                g->slot_o = (struct ht__obj *)(cur & ~(uintptr_t)1);
                ptr_hints(g, recs, i, nrec, pring, pf_st, pf_rc);
                _Static_assert(HT_EV_ALLOC == 1 && HT_EV_REALLOC == 2 &&
                                   HT_EV_FREE == 3,
                               "the kinds that change the object table");
                if (ev->kind - 1u < 3u) /* this one will: drop them all */
                    memset(pring, 0, sizeof pring);
            }
            ++nev;
            g->seq = ev->seq;
            if (__builtin_expect((nev & 0xffff) == 0, 0) && progress)
                progress(opts->progress_ctx, nev);
            if (__builtin_expect(ev->seq <= last, 0) && nev > 1) {
                /* replayed in stored order anyway: the result may be off */
                if (g->disorder++ < DISORDER_ROWS &&
                    (e = add_error(g, "seq_out_of_order", last, 0)))
                    goto stop;
            } else {
                last = ev->seq;
            }
            if ((e = step(g, ev)) || (e = g->err))
                goto stop;
            if (g->epoch_dirty) { /* this event made a new peak: commit it */
                g->epoch++;
                g->epoch_dirty = 0;
                g->am.ops->mark_peak(g->am.m);
                g->have_peak = 1;
            }
            if (--until_snap == 0) { /* every `every` events; no division */
                until_snap = every;
                g->am.ops->stats(g->am.m, &s);
                if ((e = write_snap(g, "periodic", g->seq, &s, g->live_bytes)))
                    goto stop;
            }
        }
    }
stop:
    g->slot_known = 0;
    ht_reader_close(rd);
    g->r.events = nev;
    g->last_seq = last;
    g->seq = g->last_seq;
    if (e == HT_ECORRUPT) /* keep what was read; say the rest is missing */
        e = add_error(g, "trace_corrupt", 0, 0) ? HT_ESQL : HT_ENOTFOUND;
    if (e != HT_ENOTFOUND)
        return e;
    if ((e = check_run(g)))
        return e;
    /* realloc halves never completed: the block was released */
    for (size_t i = 0; i < g->pending.cap; i++) {
        if (!g->pending.s[i].key)
            continue;
        struct ht__obj *o = (struct ht__obj *)(uintptr_t)g->pending.s[i].val;
        g->pending.s[i].key = 0;
        if ((e = finish(g, o, 0, 0)))
            return e;
    }
    g->pending.n = 0;
    /* every object left is in the table: chunks of dead objects go back to
     * malloc for the writing below (peak RSS of a run that frees its blocks
     * stays as it was before the slab) */
    ht__objslab_trim(&g->slab, g->t.n);
    if ((e = flush_freed(g, 1)))
        return e;
    if (g->have_peak) {
        g->am.ops->peak_stats(g->am.m, &s);
        if ((e = write_snap(g, "peak", g->r.peak_seq, &s,
                            g->r.peak_live_bytes)))
            return e;
    }
    g->am.ops->stats(g->am.m, &s);
    if ((e = write_snap(g, "exit", g->seq, &s, g->live_bytes)) ||
        (e = write_pool_map(g)))
        return e;
    g->r.live_at_end = g->t.n;
    if ((e = detect(g)) || (e = write_pinning(g)))
        return e;
    return write_tables(g);
}

static int int_row(void *ctx, int ncol, const char *const *v,
                   const char *const *names)
{
    (void)names;
    *(long long *)ctx = ncol >= 1 && v[0] ? atoll(v[0]) : 0;
    return 1;
}

/* A first replay of a run only appends its output: its transaction runs in
 * rollback-journal mode, which writes each page once (DECISIONS 36). A run
 * replayed before deletes its old rows first and the inserts reuse those
 * pages, which a rollback journal must save (AF20 again: 112 MB to the file
 * + 54 MB journal and 75 syncs, WAL: 110 MB and 4), so it stays in WAL; so
 * does a run of fewer than APPEND_MIN_EVENTS events, whose output (< ~10
 * MB) saves less than the ~10 syncs of the two journal-mode switches cost
 * (the fault-injection test replays small runs thousands of times). */
#define APPEND_MIN_EVENTS 4000000
static int append_txn(ht_store *st, int64_t run_id)
{
    char sql[96];
    long long n = -1, events = 0;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM run_stats WHERE run_id=%lld",
             (long long)run_id);
    (void)ht_store_query(st, sql, 1, int_row, &n); /* no table: -1 */
    snprintf(sql, sizeof sql, "SELECT events FROM runs WHERE run_id=%lld",
             (long long)run_id);
    (void)ht_store_query(st, sql, 1, int_row, &events);
    return n <= 0 && events >= APPEND_MIN_EVENTS;
}

/* Replay a run through every model; see replay.h. */
ht_err ht_replay_run(ht_store *st, int64_t run_id,
                     const struct ht_replay_opts *opts,
                     struct ht_replay_result *out)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!st || !out)
        return HT_EINVAL;
    struct eng *g = calloc(1, sizeof *g);
    if (!g)
        return HT_ENOMEM;
    g->st = st;
    g->run = run_id;
    g->t.unpaged = 1; /* paged at the first event needing it */
    g->freed_rows = malloc(FREED_BATCH * sizeof *g->freed_rows);
    const char *prof =
        ht__amodel_profile(opts && opts->allocator ? opts->allocator : "3.12");
    const char *gcv = opts && opts->gc_version ? opts->gc_version
                      : ht__amodel_is_system(prof) ? "3.12" : prof;
    struct ht_gc_config gcc;
    ht_err e;
    if (!g->freed_rows || (e = ht_objenc_new(&g->objenc))) {
        e = HT_ENOMEM;
        goto done;
    }
    if ((e = ht__amodel_new(prof, &g->am)) ||
        (e = ht_gc_config_for_version(gcv, &gcc)))
        goto done;
    g->pym = ht__amodel_pym(&g->am);
    gcc.hook = gc_hook;
    gcc.hook_arg = g;
    gcc.no_ids = 1; /* each block keeps its node's ref (gcref) */
    gcc.lazy = 1;   /* counts only until the first STORE/EDGE (gc_unlazy) */
    if ((e = ht_gc_new(&gcc, &g->gc)))
        goto done;
    g->gc_lazy = ht_gc_is_lazy(g->gc);
    if ((e = append_txn(st, run_id) ? ht_store_begin_append(st)
                                    : ht_store_begin(st)))
        goto done;
    e = run_all(g, opts);
    if (!e && !(e = ht_store_insert_flush(g->ins_obj)))
        e = ht_store_insert_flush(g->ins_err);
    ht_store_insert_free(g->ins_obj);
    ht_store_insert_free(g->ins_err);
    ht_store_insert_free(g->ins_snap);
    ht_store_insert_free(g->ins_gc);
    g->ins_obj = g->ins_err = g->ins_snap = g->ins_gc = NULL;
    if (!e)
        e = ht_store_commit(st);
    else
        ht_store_rollback(st);
    if (!e)
        *out = g->r;
done:
    /* pending objects are slab slots: the slab's fini frees them */
    ht__map_fini(&g->pending);
    ht__map_fini(&g->rootslots);
    ht__agg_fini(&g->sites);
    ht__agg_fini(&g->churn);
    for (size_t i = 0; i < g->ncdir; i++)
        free(g->cdir[i]);
    free(g->cdir);
    ht__agg_fini(&g->rcsites);
    ht__objtab_fini_index(&g->t);
    ht__objslab_fini(&g->slab);
    free(g->segs);
    free(g->freed_rows);
    ht_objenc_free(g->objenc);
    ht__amodel_fini(&g->am);
    ht_gc_free(g->gc);
    free(g);
    return e;
}
