/*
 * Pool map: the pymalloc model's per-pool occupancy at the peak and at exit,
 * for the HTML report's arena/pool map. The peak copy is read from the
 * model's peak view (ht_pym_mark_peak), as are the peak statistics, so both
 * describe the exact peak.
 */
#include <stdlib.h>

#include "heaptrail/pymalloc.h"
#include "heaptrail/store.h"
#include "replay_int.h"

static int add_pool(void *ctx, const struct ht_pym_pool_info *p)
{
    struct ht__poolmap *pm = ctx;
    if (pm->n == pm->cap) {
        size_t nc = pm->cap ? pm->cap * 2 : 256;
        struct ht_pym_pool_info *np = realloc(pm->p, nc * sizeof *np);
        if (!np)
            return 1;
        pm->p = np;
        pm->cap = nc;
    }
    pm->p[pm->n++] = *p;
    return 0;
}

ht_err ht__poolmap_capture(const struct ht__amodel *a, int peak,
                           struct ht__poolmap *pm)
{
    pm->n = 0;
    int r = peak ? a->ops->peak_each_pool(a->m, add_pool, pm)
                 : a->ops->each_pool(a->m, add_pool, pm);
    return r ? HT_ENOMEM : HT_OK;
}

ht_err ht__poolmap_write(struct ht_insert *ins, int64_t run, uint64_t seq,
                         const char *kind, const struct ht__poolmap *pm)
{
    ht_err e = HT_OK;
    for (size_t i = 0; i < pm->n && !e; i++) {
        const struct ht_pym_pool_info *p = &pm->p[i];
        e = ht_store_insert_row(ins, "iisiiiii", run, (int64_t)seq, kind,
                                (int64_t)p->arena, (int64_t)p->pool,
                                (int64_t)p->size_class, (int64_t)p->used,
                                (int64_t)p->total);
    }
    return e;
}

void ht__poolmap_fini(struct ht__poolmap *pm)
{
    free(pm->p);
    pm->p = NULL;
    pm->n = pm->cap = 0;
}
