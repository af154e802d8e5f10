/*
 * Allocator models behind one interface (replay_int.h, "allocator models"):
 * the pymalloc model (replay/pymalloc.c) adapted to it, and the system
 * model, in which every request goes to the raw allocator.
 *
 * System model invariants:
 *   1. every block handed out has a distinct address >= HT_PYM_RAW_BASE
 *      (a bump counter in 16-byte steps; addresses are identities, not a
 *      layout: the model knows nothing of the C library's heap);
 *   2. live_blocks and live_bytes are the number and requested bytes of the
 *      blocks handed out and not released (the engine passes each block's
 *      requested size back on realloc and release);
 *   3. realloc keeps the block's address (raw blocks have no class to leave).
 */
#include <stdlib.h>
#include <string.h>

#include "heaptrail/pymalloc.h"
#include "replay_int.h"

/* ---- pymalloc ---------------------------------------------------------- */

static ht_err pym_malloc(void *m, uint64_t size, uint64_t *addr)
{
    return ht_pym_malloc(m, size, addr);
}

static ht_err pym_realloc(void *m, uint64_t addr, uint64_t old_size,
                          uint64_t size, uint64_t *new_addr)
{
    (void)old_size;
    return ht_pym_realloc(m, addr, size, new_addr);
}

static ht_err pym_release(void *m, uint64_t addr, uint64_t size)
{
    (void)size;
    return ht_pym_release(m, addr);
}

static void pym_stats(const void *m, struct ht_pym_stats *st)
{
    ht_pym_stats(m, st);
}

static int pym_each_pool(const void *m,
                         int (*cb)(void *, const struct ht_pym_pool_info *),
                         void *ctx)
{
    return ht_pym_each_pool(m, cb, ctx);
}

static void pym_mark_peak(void *m)
{
    ht_pym_mark_peak(m);
}

static void pym_peak_stats(const void *m, struct ht_pym_stats *st)
{
    ht_pym_peak_stats(m, st);
}

static int pym_peak_each_pool(const void *m,
                              int (*cb)(void *, const struct ht_pym_pool_info *),
                              void *ctx)
{
    return ht_pym_peak_each_pool(m, cb, ctx);
}

static void pym_destroy(void *m)
{
    ht_pym_free(m);
}

static const struct ht__amodel_ops pym_ops = {
    "pymalloc", pym_malloc, pym_realloc, pym_release, pym_stats,
    pym_each_pool, pym_destroy, pym_mark_peak, pym_peak_stats,
    pym_peak_each_pool};

/* ---- system ------------------------------------------------------------ */

struct sysm {
    uint64_t next;                    /* offset of the next address */
    uint64_t live_blocks, live_bytes; /* invariant 2 */
    uint64_t pk_blocks, pk_bytes;     /* the two at the last peak mark */
};

static ht_err sys_malloc(void *m, uint64_t size, uint64_t *addr)
{
    struct sysm *s = m;
    *addr = HT_PYM_RAW_BASE + s->next;
    s->next += 16;
    s->live_blocks++;
    s->live_bytes += size;
    return HT_OK;
}

static ht_err sys_realloc(void *m, uint64_t addr, uint64_t old_size,
                          uint64_t size, uint64_t *new_addr)
{
    struct sysm *s = m;
    if (!addr)
        return sys_malloc(m, size, new_addr);
    s->live_bytes = s->live_bytes - old_size + size;
    *new_addr = addr;
    return HT_OK;
}

static ht_err sys_release(void *m, uint64_t addr, uint64_t size)
{
    struct sysm *s = m;
    if (!addr)
        return HT_OK;
    s->live_blocks--;
    s->live_bytes -= size;
    return HT_OK;
}

static void sys_fill(struct ht_pym_stats *st, uint64_t blocks, uint64_t bytes)
{
    memset(st, 0, sizeof *st);
    st->raw_blocks = blocks;
    st->bytes_allocated_blocks = bytes;
    st->bytes_total = bytes;
}

static void sys_stats(const void *m, struct ht_pym_stats *st)
{
    const struct sysm *s = m;
    sys_fill(st, s->live_blocks, s->live_bytes);
}

static void sys_mark_peak(void *m)
{
    struct sysm *s = m;
    s->pk_blocks = s->live_blocks;
    s->pk_bytes = s->live_bytes;
}

static void sys_peak_stats(const void *m, struct ht_pym_stats *st)
{
    const struct sysm *s = m;
    sys_fill(st, s->pk_blocks, s->pk_bytes);
}

static int sys_each_pool(const void *m,
                         int (*cb)(void *, const struct ht_pym_pool_info *),
                         void *ctx)
{
    (void)m;
    (void)cb;
    (void)ctx;
    return 0; /* no pools */
}

static const struct ht__amodel_ops sys_ops = {
    "system", sys_malloc, sys_realloc, sys_release, sys_stats,
    sys_each_pool, free, sys_mark_peak, sys_peak_stats, sys_each_pool};

/* ---- selection --------------------------------------------------------- */

int ht__amodel_is_system(const char *name)
{
    return name && !strcmp(name, "system");
}

const char *ht__amodel_profile(const char *name)
{
    if (name && !strncmp(name, "pymalloc-", 9)) /* "pymalloc-3.11" is "3.11" */
        return name + 9;
    return name;
}

ht_err ht__amodel_new(const char *name, struct ht__amodel *a)
{
    memset(a, 0, sizeof *a);
    if (ht__amodel_is_system(name)) {
        struct sysm *s = calloc(1, sizeof *s);
        if (!s)
            return HT_ENOMEM;
        *a = (struct ht__amodel){&sys_ops, s};
        return HT_OK;
    }
    struct ht_pym_config pc = {ht__amodel_profile(name), 0};
    ht_pym *p = NULL;
    ht_err e = ht_pym_new(&pc, &p);
    if (e)
        return e;
    *a = (struct ht__amodel){&pym_ops, p};
    return HT_OK;
}

/* The pymalloc model behind a, or NULL (the system model). */
struct ht_pym *ht__amodel_pym(const struct ht__amodel *a)
{
    return a->ops == &pym_ops ? a->m : NULL;
}

void ht__amodel_fini(struct ht__amodel *a)
{
    if (a && a->ops)
        a->ops->destroy(a->m);
    if (a)
        memset(a, 0, sizeof *a);
}
