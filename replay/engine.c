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
 *    (cleared when the address is allocated again); store_into_freed is
 *    detected for a slot at the start of a freed block.
 *  - fragmentation snapshots: every opts->snapshot_every events, one at the
 *    peak of live bytes (captured when the heap first shrinks after a peak at
 *    least 1 % above the last captured one, so within 1 % of the true peak
 *    state) and one at the end.
 *
 * Invariants (checked by ht__objtab_is_valid over the table and the sums
 * here): live_bytes == sum of sizes of objects in the table and in pending.
 */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "heaptrail/gcmodel.h"
#include "heaptrail/pymalloc.h"
#include "heaptrail/replay.h"
#include "replay_int.h"

struct seg {
    uint64_t start, len;
};

struct eng {
    ht_store *st;
    int64_t run;
    struct ht__objtab t;
    struct ht__map pending;   /* old addr of a moving realloc -> obj */
    struct ht__map freed;     /* freed addr -> seq */
    struct ht__map rootslots; /* root slot -> pointer value */
    struct seg *segs;
    size_t nsegs, csegs;
    ht_pym *pym;
    ht_gc *gc;
    ht_insert *ins_obj, *ins_err, *ins_snap, *ins_gc;
    uint64_t seq, live_bytes, ncoll;
    int peak_dirty, have_peak;
    uint64_t peak_snap_bytes, peak_snap_seq, peak_snap_live;
    struct ht_pym_stats peak_stats;
    ht_err err; /* sticky, from the GC hook */
    struct ht_replay_result r;
};

static ht_err keep(ht_err e)
{
    /* model complaints about a bad trace are not failures of the replay */
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
    if (g->err)
        return;
    g->err = ht_store_insert_row(g->ins_gc, "iiiiiiii", (int64_t)g->run,
                                 (int64_t)++g->ncoll, (int64_t)g->seq,
                                 (int64_t)info->generation,
                                 (int64_t)info->collected,
                                 info->count_before[0], info->count_before[1],
                                 info->count_before[2]);
}

static int in_root(const struct eng *g, uint64_t a)
{
    for (size_t i = 0; i < g->nsegs; i++)
        if (a >= g->segs[i].start && a - g->segs[i].start < g->segs[i].len)
            return 1;
    return 0;
}

static void note_drop(struct ht__obj *x, uint8_t kind, uint64_t seq,
                      uint64_t site)
{
    x->drop_kind = kind;
    x->drop_seq = seq;
    x->drop_site = site;
}

/* before the heap shrinks: keep the state at a new peak */
static void maybe_peak(struct eng *g)
{
    if (!g->peak_dirty)
        return;
    g->peak_dirty = 0;
    if (g->have_peak && g->r.peak_live_bytes * 100 < g->peak_snap_bytes * 101)
        return;
    ht_pym_stats(g->pym, &g->peak_stats);
    g->have_peak = 1;
    g->peak_snap_bytes = g->r.peak_live_bytes;
    g->peak_snap_seq = g->r.peak_seq;
    g->peak_snap_live = g->live_bytes;
}

static void grew(struct eng *g)
{
    if (g->live_bytes > g->r.peak_live_bytes) {
        g->r.peak_live_bytes = g->live_bytes;
        g->r.peak_seq = g->seq;
        g->peak_dirty = 1;
    }
}

/* the object's memory is released at seq (free, or forced) */
static ht_err finish(struct eng *g, struct ht__obj *o, uint64_t pc)
{
    ht_err e = HT_OK;
    maybe_peak(g);
    for (uint32_t i = 0; i < o->nedges; i++) {
        struct ht__obj *x = ht__objtab_find(&g->t, o->edges[i].val);
        if (x && x != o)
            note_drop(x, 2, g->seq, pc);
    }
    /* o is freed on every path: the caller has already unlinked it */
    if ((e = keep(ht_pym_release(g->pym, o->model_addr))) != HT_OK ||
        (e = keep(ht_gc_dealloc(g->gc, o->addr))) != HT_OK) {
        ht__obj_free(o);
        return e;
    }
    g->live_bytes -= o->size;
    e = ht_store_insert_row(g->ins_obj, "iiiiiiiisnnn", (int64_t)g->run,
                            (int64_t)o->addr, (int64_t)o->size,
                            (int64_t)o->alloc_seq, (int64_t)g->seq,
                            (int64_t)o->pc, (int64_t)o->tid, o->refcnt,
                            (const char *)NULL);
    if (!e)
        e = ht__map_put(&g->freed, o->addr, g->seq);
    ht__obj_free(o);
    return e;
}

static ht_err do_alloc(struct eng *g, const struct ht_rec *ev, uint64_t addr,
                       uint64_t size)
{
    ht_err e;
    struct ht__obj *old = ht__objtab_remove(&g->t, addr);
    if (old) { /* a free we never saw */
        if ((e = add_error(g, "missed_free", addr, ev->d)) ||
            (e = finish(g, old, ev->d)))
            return e;
    }
    struct ht__obj *o = calloc(1, sizeof *o);
    if (!o)
        return HT_ENOMEM;
    o->addr = addr;
    o->size = size;
    o->alloc_seq = ev->seq;
    o->pc = ev->d;
    o->tid = ev->tid;
    if ((e = ht__objtab_insert(&g->t, o)) != HT_OK) {
        free(o);
        return keep(e);
    }
    g->r.objects++;
    ht__map_del(&g->freed, addr);
    if ((e = keep(ht_pym_malloc(g->pym, size, &o->model_addr))) ||
        (e = keep(ht_gc_alloc(g->gc, addr, 1))))
        return e;
    g->live_bytes += size;
    grew(g);
    return keep(ht_gc_tick(g->gc, NULL));
}

static ht_err do_free(struct eng *g, const struct ht_rec *ev)
{
    uint64_t a = ev->a;
    if (!a)
        return HT_OK;
    struct ht__obj *o = ht__objtab_remove(&g->t, a);
    if (!o)
        return add_error(g, ht__map_get(&g->freed, a, NULL) ? "double_free"
                                                            : "invalid_free",
                         a, ev->d);
    if (ev->flags & HT_EVF_REALLOC) {
        uint64_t v;
        if (ht__map_get(&g->pending, a, &v)) {
            /* an earlier moving realloc's old block at a whose REALLOC never
             * came: it was released then. Overwriting it in the map leaked
             * it (found by fuzz_summary; tests/reliability/test_regressions.c) */
            ht__map_del(&g->pending, a);
            ht_err e = finish(g, (struct ht__obj *)(uintptr_t)v, ev->d);
            if (e) {
                ht__obj_free(o);
                return e;
            }
        }
        ht_err e = ht__map_put(&g->pending, a, (uint64_t)(uintptr_t)o);
        if (e)
            ht__obj_free(o);
        return e;
    }
    return finish(g, o, ev->d);
}

static ht_err gc_add_edges(struct eng *g, struct ht__obj *o)
{
    for (uint32_t i = 0; i < o->nedges; i++) {
        struct ht__obj *x = ht__objtab_find(&g->t, o->edges[i].val);
        if (x) {
            ht_err e = keep(ht_gc_edge_add(g->gc, o->addr, x->addr));
            if (e)
                return e;
        }
    }
    return HT_OK;
}

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
        if ((e = add_error(g, ht__map_get(&g->freed, c, NULL) ? "realloc_freed"
                                                             : "invalid_free",
                           c, ev->d)))
            return e;
        return a ? do_alloc(g, ev, a, size) : HT_OK;
    }
    if (!a) /* realloc(p, 0) freed p */
        return finish(g, o, ev->d);
    if (size < o->size)
        maybe_peak(g);
    g->live_bytes = g->live_bytes - o->size + size;
    uint64_t nm = 0;
    if ((e = keep(ht_pym_realloc(g->pym, o->model_addr, size, &nm))))
        goto fail;
    o->model_addr = nm;
    ht__obj_truncate(o, size);
    if (a != c) {
        struct ht__obj *old = ht__objtab_remove(&g->t, a);
        if (old && ((e = add_error(g, "missed_free", a, ev->d)) ||
                    (e = finish(g, old, ev->d))))
            goto fail;
        if ((e = keep(ht_gc_dealloc(g->gc, c))) ||
            (e = keep(ht_gc_alloc(g->gc, a, 1))))
            goto fail;
        if ((e = ht__map_put(&g->freed, c, ev->seq)))
            goto fail;
    }
    ht__map_del(&g->freed, a);
    o->addr = a;
    o->size = size;
    if ((e = ht__objtab_insert(&g->t, o)) != HT_OK)
        goto fail;
    if (a != c && (e = gc_add_edges(g, o)))
        return e;
    grew(g);
    return HT_OK;
fail:
    ht__obj_free(o);
    return e == HT_EINVAL ? HT_OK : e;
}

/* STORE (drops != 0) or exit-snapshot EDGE */
static ht_err do_store(struct eng *g, const struct ht_rec *ev, int drops)
{
    uint64_t slot = ev->a, val = ev->b, oldv = drops ? ev->c : 0;
    ht_err e = HT_OK;
    struct ht__obj *n = ht__objtab_find(&g->t, val);
    struct ht__obj *o = ht__objtab_find(&g->t, slot);
    if (n)
        n->referenced = 1;
    if (o) {
        uint64_t prev;
        if ((e = ht__obj_set_edge(o, slot - o->addr, n ? val : 0, ev->seq,
                                  ev->d, &prev)))
            return e;
        if (prev) {
            struct ht__obj *x = ht__objtab_find(&g->t, prev);
            if (x && (e = keep(ht_gc_edge_del(g->gc, o->addr, x->addr))))
                return e;
            if (drops)
                oldv = prev;
        }
        if (n && (e = keep(ht_gc_edge_add(g->gc, o->addr, n->addr))))
            return e;
    } else if (in_root(g, slot)) {
        uint64_t prev;
        if (ht__map_get(&g->rootslots, slot, &prev)) {
            struct ht__obj *x = ht__objtab_find(&g->t, prev);
            if (x && (e = keep(ht_gc_extref(g->gc, x->addr, -1))))
                return e;
            ht__map_del(&g->rootslots, slot);
            if (drops)
                oldv = prev;
        }
        if (n) {
            if ((e = ht__map_put(&g->rootslots, slot, val)) ||
                (e = keep(ht_gc_extref(g->gc, n->addr, 1))))
                return e;
        }
    } else if (drops && ht__map_get(&g->freed, slot, NULL)) {
        if ((e = add_error(g, "store_into_freed", slot, ev->d)))
            return e;
    }
    if (drops && oldv) {
        struct ht__obj *x = ht__objtab_find(&g->t, oldv);
        if (x && x != n)
            note_drop(x, 1, ev->seq, ev->d);
    }
    return HT_OK;
}

static ht_err step(struct eng *g, const struct ht_rec *ev)
{
    switch (ev->kind) {
    case HT_EV_ALLOC:
        return ev->a ? do_alloc(g, ev, ev->a, ev->b) : HT_OK;
    case HT_EV_FREE:
        return do_free(g, ev);
    case HT_EV_REALLOC:
        return do_realloc(g, ev);
    case HT_EV_STORE:
        return do_store(g, ev, 1);
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
        g->segs[g->nsegs++] = (struct seg){ev->a, ev->b};
        return HT_OK;
    case HT_EV_INCREF:
    case HT_EV_DECREF: {
        struct ht__obj *o = ht__objtab_find(&g->t, ev->a);
        if (o)
            o->refcnt += ev->kind == HT_EV_INCREF ? 1 : -1;
        return HT_OK;
    }
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
    ht_insert *ic = NULL, *im = NULL, *ie = NULL;
    if (!off || !adj || !adje || !kind || !indeg || !stack || !tin || !low ||
        !comp || !cstk || !cpos || !onst || !selfl) {
        e = HT_ENOMEM;
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        off[i] = k;
        for (uint32_t j = 0; j < d.o[i]->nedges; j++) {
            struct ht__obj *x = ht__objtab_find(&g->t, d.o[i]->edges[j].val);
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
        if (!g->rootslots.keys[i])
            continue;
        struct ht__obj *x = ht__objtab_find(&g->t, g->rootslots.vals[i]);
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
        int has = lost && o->drop_kind;
        if (has)
            e = ht_store_insert_row(g->ins_obj, "iiiiniiisisi",
                                    (int64_t)g->run, (int64_t)o->addr,
                                    (int64_t)o->size, (int64_t)o->alloc_seq,
                                    (int64_t)o->pc, (int64_t)o->tid, o->refcnt,
                                    names[kind[i]], (int64_t)o->drop_seq, lb,
                                    (int64_t)o->drop_site);
        else
            e = ht_store_insert_row(g->ins_obj, "iiiiniiisnsn",
                                    (int64_t)g->run, (int64_t)o->addr,
                                    (int64_t)o->size, (int64_t)o->alloc_seq,
                                    (int64_t)o->pc, (int64_t)o->tid, o->refcnt,
                                    names[kind[i]], lb);
        if (e)
            goto out;
    }
    /* cycles */
    g->r.cycles = (uint64_t)ncomp;
    if ((e = ht_store_insert_prepare(g->st,
             "INSERT INTO cycles VALUES(?,?,?,?)", &ic)) ||
        (e = ht_store_insert_prepare(g->st,
             "INSERT INTO cycle_members VALUES(?,?,?,?,?,?)", &im)) ||
        (e = ht_store_insert_prepare(g->st,
             "INSERT INTO cycle_edges VALUES(?,?,?,?,?,?,?)", &ie)))
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
    return e;
}

static const char *SCHEMA =
    "CREATE TABLE IF NOT EXISTS objects(run_id INTEGER, addr INTEGER,"
    " size INTEGER, alloc_seq INTEGER, free_seq INTEGER, pc INTEGER,"
    " tid INTEGER, refcnt INTEGER, leak_kind TEXT, lost_seq INTEGER,"
    " lost_by TEXT, lost_by_site INTEGER);"
    "CREATE INDEX IF NOT EXISTS objects_run ON objects(run_id, leak_kind);"
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
    "CREATE VIEW IF NOT EXISTS leak_summary AS SELECT run_id,"
    " leak_kind AS category, COUNT(*) AS blocks, SUM(size) AS bytes"
    " FROM objects WHERE leak_kind IS NOT NULL GROUP BY run_id, leak_kind;";

static ht_err prepare(struct eng *g)
{
    ht_err e;
    char sql[1024];
    long long r = (long long)g->run;
    if ((e = ht_store_exec(g->st, SCHEMA)))
        return e;
    snprintf(sql, sizeof sql,
             "DELETE FROM objects WHERE run_id=%lld;"
             "DELETE FROM errors WHERE run_id=%lld;"
             "DELETE FROM frag_snapshots WHERE run_id=%lld;"
             "DELETE FROM gc_collections WHERE run_id=%lld;"
             "DELETE FROM cycles WHERE run_id=%lld;"
             "DELETE FROM cycle_members WHERE run_id=%lld;"
             "DELETE FROM cycle_edges WHERE run_id=%lld;",
             r, r, r, r, r, r, r);
    if ((e = ht_store_exec(g->st, sql)) ||
        (e = ht_store_insert_prepare(g->st,
             "INSERT INTO objects VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
             &g->ins_obj)) ||
        (e = ht_store_insert_prepare(g->st,
             "INSERT INTO errors VALUES(?,?,?,?,?)", &g->ins_err)) ||
        (e = ht_store_insert_prepare(g->st,
             "INSERT INTO frag_snapshots VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
             &g->ins_snap)) ||
        (e = ht_store_insert_prepare(g->st,
             "INSERT INTO gc_collections VALUES(?,?,?,?,?,?,?,?)", &g->ins_gc)))
        return e;
    return HT_OK;
}

static ht_err run_all(struct eng *g, const struct ht_replay_opts *opts)
{
    ht_err e;
    ht_reader *rd = NULL;
    uint64_t every = opts && opts->snapshot_every ? opts->snapshot_every
                                                  : 100000;
    if ((e = prepare(g)) || (e = ht_reader_open(g->st, g->run, &rd)))
        return e;
    struct ht_rec ev;
    struct ht_pym_stats s;
    while ((e = ht_reader_next(rd, &ev)) == HT_OK) {
        g->seq = ev.seq;
        g->r.events++;
        if ((e = step(g, &ev)) || (e = g->err))
            break;
        if (g->r.events % every == 0) {
            ht_pym_stats(g->pym, &s);
            if ((e = write_snap(g, "periodic", g->seq, &s, g->live_bytes)))
                break;
        }
    }
    ht_reader_close(rd);
    if (e != HT_ENOTFOUND)
        return e;
    /* realloc halves never completed: the block was released */
    for (size_t i = 0; i < g->pending.cap; i++) {
        if (!g->pending.keys[i])
            continue;
        struct ht__obj *o = (struct ht__obj *)(uintptr_t)g->pending.vals[i];
        g->pending.keys[i] = 0;
        if ((e = finish(g, o, 0)))
            return e;
    }
    g->pending.n = 0;
    maybe_peak(g);
    if (g->have_peak &&
        (e = write_snap(g, "peak", g->peak_snap_seq, &g->peak_stats,
                        g->peak_snap_live)))
        return e;
    ht_pym_stats(g->pym, &s);
    if ((e = write_snap(g, "exit", g->seq, &s, g->live_bytes)))
        return e;
    g->r.live_at_end = g->t.n;
    return detect(g);
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
    const char *prof = opts && opts->allocator ? opts->allocator : "3.12";
    const char *gcv = opts && opts->gc_version ? opts->gc_version : prof;
    struct ht_pym_config pc = {prof, 0};
    struct ht_gc_config gcc;
    ht_err e;
    if ((e = ht_pym_new(&pc, &g->pym)) ||
        (e = ht_gc_config_for_version(gcv, &gcc)))
        goto done;
    gcc.hook = gc_hook;
    gcc.hook_arg = g;
    if ((e = ht_gc_new(&gcc, &g->gc)))
        goto done;
    if ((e = ht_store_begin(st)))
        goto done;
    e = run_all(g, opts);
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
    for (size_t i = 0; i < g->pending.cap; i++)
        if (g->pending.keys[i])
            ht__obj_free((struct ht__obj *)(uintptr_t)g->pending.vals[i]);
    ht__map_fini(&g->pending);
    ht__map_fini(&g->freed);
    ht__map_fini(&g->rootslots);
    ht__objtab_fini(&g->t);
    free(g->segs);
    ht_pym_free(g->pym);
    ht_gc_free(g->gc);
    free(g);
    return e;
}
