/*
 * Fuzz target: the GC model on arbitrary operation sequences (alloc,
 * dealloc, edge add/del, external refcount changes, tick, collect,
 * set_threshold, lookups), 4 input bytes per operation over 64 ids, run
 * differentially on two models fed the same operations:
 *   A  with the id index (cfg.no_ids 0), each operation made through the
 *      id-named call or the ref-named one (input bit), refs got from
 *      ht_gc_alloc_ref or ht_gc_ref_of: the two kinds mixed, as allowed;
 *   B  with cfg.no_ids, the replay's mode: ref-named calls only, with the
 *      ref each alloc returned kept per id (so stale refs of deallocated or
 *      collected objects are used too); its id-named calls must all be
 *      refused (HT_EINVAL, ht_gc_ref_of 0, ht_gc_generation_of -2).
 *   C  with cfg.no_ids and cfg.lazy, as the replay makes it: B's calls
 *      while it can take them, under the rules of its lazy mode (gcmodel.h;
 *      replay/engine.c's gc_unlazy): a ref deallocated is dropped (freed
 *      once), and before the first edge or extref call, a non-container
 *      allocation or (input bit) a lookup op, ht_gc_lazy_end gets every ref
 *      C still holds; from then on C is eager and must act as B.
 *      Allocations with an input bit are made by ht_gc_alloc_tick_ref in
 *      C, by the alloc call then ht_gc_tick in A and B.
 * An allocation B would accept but A refuses (a live id: B allows
 * duplicates) is not given to B or C. Checked after every operation:
 * ht__gc_is_valid() on all three, the same error code from all, the same
 * collections (generation, count, collected ids in order: a lazy C reports
 * none, so its hook rebuilds them from the refs it holds - invariant 8 of
 * replay/gcmodel.c: a lazy collection takes every live object, in
 * allocation order), counts, stats, long-lived figures, live and
 * generation sizes, and each id's generation; the hook runs as often in
 * all and every call into a model from inside its hook is HT_EBUSY. The
 * first byte picks the version profile (bit 0x80 a tiny threshold0).
 * Crashes, invalid states and differences abort.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "heaptrail/gcmodel.h"

#define NID 64

struct side {
    ht_gc *gc;
    ht_gc_ref ref[NID + 1]; /* the ref of the last object made with each id */
    size_t hooks;           /* hook calls */
    uint64_t h;             /* hash of every collection the hook saw */
    /* C only: while lazy, ref[x] is 0 once x's object is known dead */
    int deferred;           /* cfg.deferred: a tick's collection takes the
                             * object the same alloc_tick call made */
    uint64_t pend;          /* id of that allocation in flight, or 0 */
};

static uint64_t mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 0x100000001b3u;
}

/* A lazy collection (ids NULL) took every live object in allocation order
 * (lazy refs are allocation numbers): hash their ids as the eager models
 * report them, check the count, and drop the refs (dead now). */
static uint64_t hash_lazy(struct side *s, uint64_t h, size_t collected)
{
    size_t n = 0;
    for (;;) {
        uint64_t best = 0;
        for (uint64_t x = 1; x <= NID; x++)
            if (s->ref[x] && (!best || s->ref[x] < s->ref[best]))
                best = x;
        if (!best)
            break;
        h = mix(h, best);
        s->ref[best] = 0;
        n++;
    }
    if (s->pend && s->deferred) { /* the newest, made before the tick */
        h = mix(h, s->pend);
        n++;
    }
    if (n != collected)
        abort();
    return h;
}

/* After each collection: calls from inside the hook must be refused. */
static void hook(void *arg, const struct ht_gc_result *info)
{
    struct side *s = arg;
    struct ht_gc_result r;
    ht_gc_ref out = 1;
    int ran = 1;
    s->hooks++;
    s->h = mix(s->h, (uint64_t)info->generation ^
                         (uint64_t)info->automatic << 2);
    if (info->ids)
        for (size_t i = 0; i < info->collected; i++)
            s->h = mix(s->h, info->ids[i]);
    else if (ht_gc_is_lazy(s->gc))
        s->h = hash_lazy(s, s->h, info->collected);
    else if (info->collected)
        abort(); /* only a lazy model reports no ids */
    if (ht_gc_lazy_end(s->gc, NULL, NULL, 0) !=
        (ht_gc_is_lazy(s->gc) ? HT_EBUSY : HT_OK))
        abort();
    if (info->uncollectable || info->generation < 0 ||
        info->generation >= HT_GC_NGEN ||
        ht_gc_alloc_ref(s->gc, 1, 1, &out) != HT_EBUSY || out != 0 ||
        ht_gc_dealloc_ref(s->gc, s->ref[1]) != HT_EBUSY ||
        ht_gc_collect(s->gc, 0, &r) != HT_EBUSY ||
        ht_gc_tick(s->gc, &ran) != HT_EBUSY || ran != 0)
        abort();
}

/* Everything observable of the two models must agree. */
static void same_state(const struct side *a, const struct side *b)
{
    int64_t ca[HT_GC_NGEN], cb[HT_GC_NGEN];
    struct ht_gc_stats sa[HT_GC_NGEN], sb[HT_GC_NGEN];
    uint64_t pa, ta, pb, tb;
    if (!ht__gc_is_valid(a->gc) || !ht__gc_is_valid(b->gc) ||
        a->hooks != b->hooks || a->h != b->h)
        abort();
    ht_gc_get_count(a->gc, ca);
    ht_gc_get_count(b->gc, cb);
    ht_gc_get_stats(a->gc, sa);
    ht_gc_get_stats(b->gc, sb);
    ht_gc_get_long_lived(a->gc, &pa, &ta);
    ht_gc_get_long_lived(b->gc, &pb, &tb);
    if (memcmp(ca, cb, sizeof ca) || memcmp(sa, sb, sizeof sa) || pa != pb ||
        ta != tb || ht_gc_live(a->gc) != ht_gc_live(b->gc))
        abort();
    for (int g = -1; g <= HT_GC_NGEN; g++)
        if (ht_gc_gen_size(a->gc, g) != ht_gc_gen_size(b->gc, g))
            abort();
}

static void same_result(ht_err ea, const struct ht_gc_result *ra,
                        ht_err eb, const struct ht_gc_result *rb)
{
    if (ea != eb || ra->generation != rb->generation ||
        ra->automatic != rb->automatic || ra->collected != rb->collected ||
        memcmp(ra->count_before, rb->count_before, sizeof ra->count_before) ||
        (ra->collected &&
         memcmp(ra->ids, rb->ids, ra->collected * sizeof *ra->ids)))
        abort();
}

/* A no_ids model's id-named calls are all refused. */
static int refuses_ids(ht_gc *gc, uint64_t x, uint64_t y)
{
    return ht_gc_alloc(gc, x, 1) == HT_EINVAL &&
           ht_gc_dealloc(gc, x) == HT_EINVAL &&
           ht_gc_edge_add(gc, x, y) == HT_EINVAL &&
           ht_gc_edge_del(gc, x, y) == HT_EINVAL &&
           ht_gc_extref(gc, x, 1) == HT_EINVAL && ht_gc_ref_of(gc, x) == 0 &&
           ht_gc_generation_of(gc, x) == -2;
}

/* gc_unlazy: hand over every ref C holds (its live objects': the dead ones
 * are 0 already) with its id; each comes back as its node's ref. */
static void unlazy(struct side *c)
{
    ht_gc_ref refs[NID];
    uint64_t ids[NID];
    size_t n = 0;
    if (!ht_gc_is_lazy(c->gc))
        return;
    for (uint64_t x = 1; x <= NID; x++)
        if (c->ref[x]) {
            refs[n] = c->ref[x];
            ids[n++] = x;
        }
    if (n && ht_gc_lazy_end(c->gc, refs, ids, n - 1) != HT_EINVAL)
        abort(); /* a live ref left out is refused */
    if (ht_gc_lazy_end(c->gc, refs, ids, n) != HT_OK || ht_gc_is_lazy(c->gc))
        abort();
    for (size_t i = 0; i < n; i++) {
        if (!refs[i] || ht_gc_generation_of_ref(c->gc, refs[i]) != 0)
            abort(); /* all live, all in generation 0 */
        c->ref[ids[i]] = refs[i];
    }
}

/* libFuzzer entry point. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const ver[] = {"3.8", "3.9", "3.10", "3.11", "3.12",
                                      "3.13"};
    if (size < 1)
        return 0;
    struct ht_gc_config cfg;
    if (ht_gc_config_for_version(ver[data[0] % 6], &cfg) != HT_OK)
        abort();
    cfg.threshold[0] = (data[0] & 0x80) ? 3 : cfg.threshold[0];
    cfg.hook = hook;
    struct side a = {0}, b = {0}, c = {0};
    cfg.hook_arg = &a;
    cfg.no_ids = 0;
    if (ht_gc_new(&cfg, &a.gc) != HT_OK)
        abort();
    cfg.hook_arg = &b;
    cfg.no_ids = 1;
    if (ht_gc_new(&cfg, &b.gc) != HT_OK)
        abort();
    cfg.hook_arg = &c;
    cfg.lazy = 1;
    c.deferred = cfg.deferred;
    if (ht_gc_new(&cfg, &c.gc) != HT_OK || !ht_gc_is_lazy(c.gc))
        abort();
    for (size_t i = 1; i + 4 <= size; i += 4) {
        const uint8_t *p = data + i;
        uint64_t x = 1 + (p[1] & 63), y = 1 + (p[2] & 63);
        int by_ref = (p[1] & 0x40) != 0; /* A: the ref-named call */
        int tick = (p[2] & 0x40) != 0;   /* alloc: then an eval-breaker check */
        int8_t d = (int8_t)p[3];
        struct ht_gc_result ra, rb, rc;
        ht_gc_ref r;
        ht_err ea, eb;
        int rana, ranb, ranc;
        int op = p[0] % 10;
        /* C leaves lazy mode where the replay would (or on an input bit) */
        if (op == 2 || op == 3 || op == 4 || (op == 0 && !(d & 1)) ||
            (op == 8 && (d & 1)))
            unlazy(&c);
        switch (op) {
        case 0: { /* alloc (which may collect, the new object too) */
            r = 0;
            if (by_ref) {
                ea = ht_gc_alloc_ref(a.gc, x, d & 1, &r);
                if ((ea == HT_OK) != (r != 0))
                    abort();
            } else {
                ea = ht_gc_alloc(a.gc, x, d & 1);
            }
            ht_gc_ref now = ht_gc_ref_of(a.gc, x);
            int made = ea == HT_OK;
            if (made) {
                if (by_ref && now && now != r)
                    abort();
                a.ref[x] = by_ref ? r : now;
                eb = ht_gc_alloc_ref(b.gc, x, d & 1, &b.ref[x]);
                if (eb != HT_OK || !b.ref[x])
                    abort();
                c.pend = tick ? x : 0;
                ea = tick ? ht_gc_alloc_tick_ref(c.gc, x, d & 1, &r)
                          : ht_gc_alloc_ref(c.gc, x, d & 1, &r);
                c.pend = 0;
                if (ea != HT_OK || !r)
                    abort();
                /* lazy: an object the tick collected is dead, its ref out */
                c.ref[x] = ht_gc_is_lazy(c.gc) &&
                                   ht_gc_generation_of_ref(c.gc, r) == -2
                               ? 0
                               : r;
            } else if (ea != HT_EINVAL || !now || now != a.ref[x]) {
                abort(); /* refused only for a live id, left as it was */
            }
            if (tick) {
                ea = ht_gc_tick(a.gc, &rana);
                eb = ht_gc_tick(b.gc, &ranb);
                if (ea != HT_OK || eb != HT_OK || rana != ranb)
                    abort();
                /* made: alloc_tick_ref ran it already */
                if (ht_gc_tick(c.gc, &ranc) != HT_OK ||
                    ranc != (made ? 0 : rana))
                    abort();
            }
            break;
        }
        case 1: /* dealloc */
            ea = by_ref ? ht_gc_dealloc_ref(a.gc, a.ref[x])
                        : ht_gc_dealloc(a.gc, x);
            if (ea != ht_gc_dealloc_ref(b.gc, b.ref[x]))
                abort();
            if (ht_gc_is_lazy(c.gc)) { /* each ref freed once */
                if (ea != (c.ref[x] ? ht_gc_dealloc_ref(c.gc, c.ref[x])
                                    : HT_ENOTFOUND))
                    abort();
                c.ref[x] = 0;
            } else if (ea != ht_gc_dealloc_ref(c.gc, c.ref[x])) {
                abort();
            }
            break;
        case 2: /* edge add */
            ea = by_ref ? ht_gc_edge_add_ref(a.gc, a.ref[x], a.ref[y])
                        : ht_gc_edge_add(a.gc, x, y);
            if (ea != ht_gc_edge_add_ref(b.gc, b.ref[x], b.ref[y]) ||
                ea != ht_gc_edge_add_ref(c.gc, c.ref[x], c.ref[y]))
                abort();
            break;
        case 3: /* edge del */
            ea = by_ref ? ht_gc_edge_del_ref(a.gc, a.ref[x], a.ref[y])
                        : ht_gc_edge_del(a.gc, x, y);
            if (ea != ht_gc_edge_del_ref(b.gc, b.ref[x], b.ref[y]) ||
                ea != ht_gc_edge_del_ref(c.gc, c.ref[x], c.ref[y]))
                abort();
            break;
        case 4: /* external refcount */
            ea = by_ref ? ht_gc_extref_ref(a.gc, a.ref[x], d)
                        : ht_gc_extref(a.gc, x, d);
            if (ea != ht_gc_extref_ref(b.gc, b.ref[x], d) ||
                ea != ht_gc_extref_ref(c.gc, c.ref[x], d))
                abort();
            break;
        case 5:
            ea = ht_gc_tick(a.gc, &rana);
            eb = ht_gc_tick(b.gc, &ranb);
            if (ea != eb || rana != ranb ||
                ea != ht_gc_tick(c.gc, &ranc) || rana != ranc)
                abort();
            break;
        case 6:
            ea = ht_gc_collect(a.gc, d % 4, &ra);
            eb = ht_gc_collect(b.gc, d % 4, &rb);
            same_result(ea, &ra, eb, &rb);
            int lazy = ht_gc_is_lazy(c.gc);
            eb = ht_gc_collect(c.gc, d % 4, &rc);
            if (lazy && rc.ids)
                abort(); /* its hook checked the ids */
            if (lazy)
                rc.ids = ra.ids;
            same_result(ea, &ra, eb, &rc);
            break;
        case 7:
            ea = ht_gc_set_threshold(a.gc, (int8_t)p[1], p[2] & 15, d & 15);
            if (ea != ht_gc_set_threshold(b.gc, (int8_t)p[1], p[2] & 15,
                                          d & 15) ||
                ea != ht_gc_set_threshold(c.gc, (int8_t)p[1], p[2] & 15,
                                          d & 15))
                abort();
            break;
        case 8: /* B and C name nothing by id */
            if (!refuses_ids(b.gc, x, y) || !refuses_ids(c.gc, x, y))
                abort();
            break;
        default: /* lookups: by id and by ref, in A, B and C */
            r = ht_gc_ref_of(a.gc, x);
            if ((r && r != a.ref[x]) ||
                ht_gc_generation_of(a.gc, x) !=
                    ht_gc_generation_of_ref(a.gc, r) ||
                ht_gc_generation_of_ref(a.gc, a.ref[x]) !=
                    ht_gc_generation_of_ref(b.gc, b.ref[x]) ||
                ht_gc_generation_of_ref(b.gc, b.ref[x]) !=
                    ht_gc_generation_of_ref(c.gc, c.ref[x]) ||
                (!r && ht_gc_generation_of_ref(a.gc, a.ref[x]) != -2))
                abort();
            break;
        }
        same_state(&a, &b);
        same_state(&b, &c);
    }
    ht_gc_free(a.gc);
    ht_gc_free(b.gc);
    ht_gc_free(c.gc);
    return 0;
}
