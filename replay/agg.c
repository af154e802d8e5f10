/*
 * Aggregate rows for the replay engine's per-site tables (site_stats, churn,
 * refcount_sites, pinning): a growable row array plus an open-addressing
 * index over (k1, k2).
 *
 * Invariants: 1. idx holds row + 1 for every row exactly once, at the probe
 * position of its key; 2. n * 2 <= icap (load <= 1/2).
 */
#include <stdlib.h>
#include <string.h>

#include "replay_int.h"

/* Row of (k1, k2), created zeroed when new. */
int64_t ht__agg_row(struct ht__aggtab *t, uint64_t k1, uint64_t k2)
{
    if ((t->n + 1) * 2 > t->icap) {
        size_t nc = t->icap ? t->icap * 2 : 256;
        uint32_t *ni = calloc(nc, sizeof *ni);
        if (!ni)
            return -1;
        for (size_t r = 0; r < t->n; r++) {
            size_t j = ht__agg_hash(t->v[r].k1, t->v[r].k2, nc);
            while (ni[j])
                j = (j + 1) & (nc - 1);
            ni[j] = (uint32_t)r + 1;
        }
        free(t->idx);
        t->idx = ni;
        t->icap = nc;
    }
    size_t j = ht__agg_hash(k1, k2, t->icap);
    while (t->idx[j]) {
        const struct ht__agg *a = &t->v[t->idx[j] - 1];
        if (a->k1 == k1 && a->k2 == k2)
            return t->idx[j] - 1;
        j = (j + 1) & (t->icap - 1);
    }
    if (t->n == t->vcap) {
        size_t nc = t->vcap ? t->vcap * 2 : 64;
        struct ht__agg *nv = realloc(t->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        t->v = nv;
        t->vcap = nc;
    }
    memset(&t->v[t->n], 0, sizeof t->v[t->n]);
    t->v[t->n].k1 = k1;
    t->v[t->n].k2 = k2;
    t->idx[j] = (uint32_t)t->n + 1;
    return (int64_t)t->n++;
}

/* Free the rows and the index. */
void ht__agg_fini(struct ht__aggtab *t)
{
    free(t->v);
    free(t->idx);
    memset(t, 0, sizeof *t);
}
