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
 * An allocation B would accept but A refuses (a live id: B allows
 * duplicates) is not given to B. Checked after every operation:
 * ht__gc_is_valid() on both, the same error code from both, the same
 * collections (generation, count, collected ids in order), counts, stats,
 * long-lived figures, live and generation sizes, and each id's generation;
 * the hook runs as often in both and every call into a model from inside
 * its hook is HT_EBUSY. The first byte picks the version profile (bit 0x80
 * a tiny threshold0). Crashes, invalid states and differences abort.
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
};

/* After each collection: calls from inside the hook must be refused. */
static void hook(void *arg, const struct ht_gc_result *info)
{
    struct side *s = arg;
    struct ht_gc_result r;
    ht_gc_ref out = 1;
    int ran = 1;
    s->hooks++;
    s->h = (s->h ^ (uint64_t)info->generation ^
            (uint64_t)info->automatic << 2) * 0x100000001b3u;
    for (size_t i = 0; i < info->collected; i++)
        s->h = (s->h ^ info->ids[i]) * 0x100000001b3u;
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
    struct side a = {0}, b = {0};
    cfg.hook_arg = &a;
    cfg.no_ids = 0;
    if (ht_gc_new(&cfg, &a.gc) != HT_OK)
        abort();
    cfg.hook_arg = &b;
    cfg.no_ids = 1;
    if (ht_gc_new(&cfg, &b.gc) != HT_OK)
        abort();
    for (size_t i = 1; i + 4 <= size; i += 4) {
        const uint8_t *p = data + i;
        uint64_t x = 1 + (p[1] & 63), y = 1 + (p[2] & 63);
        int by_ref = (p[1] & 0x40) != 0; /* A: the ref-named call */
        int8_t d = (int8_t)p[3];
        struct ht_gc_result ra, rb;
        ht_gc_ref r;
        ht_err ea, eb;
        int rana, ranb;
        switch (p[0] % 10) {
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
            if (ea == HT_OK) {
                if (by_ref && now && now != r)
                    abort();
                a.ref[x] = by_ref ? r : now;
                eb = ht_gc_alloc_ref(b.gc, x, d & 1, &b.ref[x]);
                if (eb != HT_OK || !b.ref[x])
                    abort();
            } else if (ea != HT_EINVAL || !now || now != a.ref[x]) {
                abort(); /* refused only for a live id, left as it was */
            }
            break;
        }
        case 1: /* dealloc */
            ea = by_ref ? ht_gc_dealloc_ref(a.gc, a.ref[x])
                        : ht_gc_dealloc(a.gc, x);
            if (ea != ht_gc_dealloc_ref(b.gc, b.ref[x]))
                abort();
            break;
        case 2: /* edge add */
            ea = by_ref ? ht_gc_edge_add_ref(a.gc, a.ref[x], a.ref[y])
                        : ht_gc_edge_add(a.gc, x, y);
            if (ea != ht_gc_edge_add_ref(b.gc, b.ref[x], b.ref[y]))
                abort();
            break;
        case 3: /* edge del */
            ea = by_ref ? ht_gc_edge_del_ref(a.gc, a.ref[x], a.ref[y])
                        : ht_gc_edge_del(a.gc, x, y);
            if (ea != ht_gc_edge_del_ref(b.gc, b.ref[x], b.ref[y]))
                abort();
            break;
        case 4: /* external refcount */
            ea = by_ref ? ht_gc_extref_ref(a.gc, a.ref[x], d)
                        : ht_gc_extref(a.gc, x, d);
            if (ea != ht_gc_extref_ref(b.gc, b.ref[x], d))
                abort();
            break;
        case 5:
            ea = ht_gc_tick(a.gc, &rana);
            eb = ht_gc_tick(b.gc, &ranb);
            if (ea != eb || rana != ranb)
                abort();
            break;
        case 6:
            ea = ht_gc_collect(a.gc, d % 4, &ra);
            eb = ht_gc_collect(b.gc, d % 4, &rb);
            same_result(ea, &ra, eb, &rb);
            break;
        case 7:
            ea = ht_gc_set_threshold(a.gc, (int8_t)p[1], p[2] & 15, d & 15);
            if (ea != ht_gc_set_threshold(b.gc, (int8_t)p[1], p[2] & 15,
                                          d & 15))
                abort();
            break;
        case 8: /* B names nothing by id */
            if (ht_gc_alloc(b.gc, x, 1) != HT_EINVAL ||
                ht_gc_dealloc(b.gc, x) != HT_EINVAL ||
                ht_gc_edge_add(b.gc, x, y) != HT_EINVAL ||
                ht_gc_edge_del(b.gc, x, y) != HT_EINVAL ||
                ht_gc_extref(b.gc, x, 1) != HT_EINVAL ||
                ht_gc_ref_of(b.gc, x) != 0 ||
                ht_gc_generation_of(b.gc, x) != -2)
                abort();
            break;
        default: /* lookups: by id and by ref, in A and B */
            r = ht_gc_ref_of(a.gc, x);
            if ((r && r != a.ref[x]) ||
                ht_gc_generation_of(a.gc, x) !=
                    ht_gc_generation_of_ref(a.gc, r) ||
                ht_gc_generation_of_ref(a.gc, a.ref[x]) !=
                    ht_gc_generation_of_ref(b.gc, b.ref[x]) ||
                (!r && ht_gc_generation_of_ref(a.gc, a.ref[x]) != -2))
                abort();
            break;
        }
        same_state(&a, &b);
    }
    ht_gc_free(a.gc);
    ht_gc_free(b.gc);
    return 0;
}
