/* Objects for the object-table unit tests (test_objects.c,
 * test_objtab_limits.c): slots of one slab per test binary, owned as the
 * engine's are (replay_int.h: the table holds them, the slab owns them). */
#ifndef HEAPTRAIL_TESTS_SLAB_OBJS_H
#define HEAPTRAIL_TESTS_SLAB_OBJS_H

#include "replay_int.h"

static struct ht__objslab g_slab;

/* A zeroed object of g_slab at addr, of size bytes. */
static inline struct ht__obj *mk(uint64_t addr, uint64_t size)
{
    struct ht__obj *o = ht__objslab_get(&g_slab);
    assert_non_null(o);
    o->addr = addr;
    o->size = size;
    return o;
}

/* Give o (NULL: nothing) back to g_slab. */
static inline void put(struct ht__obj *o)
{
    ht__objslab_put(&g_slab, o);
}

/* Free t's index and every object mk made (held or not). */
static inline void done(struct ht__objtab *t)
{
    ht__objtab_fini_index(t);
    ht__objslab_fini(&g_slab);
}

#endif
