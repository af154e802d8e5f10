/*
 * Fuzz target: the GC model on arbitrary operation sequences (alloc,
 * dealloc, edge add/del, external refcount changes, tick, collect,
 * set_threshold), 4 input bytes per operation over 64 ids, with
 * ht__gc_is_valid() checked after every operation. The first byte picks
 * the version profile; its bit 0x40 selects cfg.no_ids, where objects are
 * named by the refs the allocations returned (kept per id, so stale refs
 * of deallocated or collected objects are used too). Errors are fine;
 * crashes and invalid states are not.
 */
#include <stdint.h>
#include <stdlib.h>

#include "heaptrail/gcmodel.h"

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
    cfg.no_ids = (data[0] & 0x40) != 0;
    ht_gc_ref ref[65] = {0};
    ht_gc *gc = NULL;
    if (ht_gc_new(&cfg, &gc) != HT_OK)
        abort();
    for (size_t i = 1; i + 4 <= size; i += 4) {
        const uint8_t *p = data + i;
        uint64_t x = 1 + (p[1] & 63), y = 1 + (p[2] & 63);
        struct ht_gc_result res;
        int ran;
        if (cfg.no_ids && p[0] % 8 < 5) {
            switch (p[0] % 8) {
            case 0: (void)ht_gc_alloc_ref(gc, x, p[3] & 1, &ref[x]); break;
            case 1: (void)ht_gc_dealloc_ref(gc, ref[x]); break;
            case 2: (void)ht_gc_edge_add_ref(gc, ref[x], ref[y]); break;
            case 3: (void)ht_gc_edge_del_ref(gc, ref[x], ref[y]); break;
            default: (void)ht_gc_extref_ref(gc, ref[x], (int8_t)p[3]); break;
            }
        } else switch (p[0] % 8) {
        case 0: (void)ht_gc_alloc(gc, x, p[3] & 1); break;
        case 1: (void)ht_gc_dealloc(gc, x); break;
        case 2: (void)ht_gc_edge_add(gc, x, y); break;
        case 3: (void)ht_gc_edge_del(gc, x, y); break;
        case 4: (void)ht_gc_extref(gc, x, (int8_t)p[3]); break;
        case 5: (void)ht_gc_tick(gc, &ran); break;
        case 6: (void)ht_gc_collect(gc, (int8_t)p[3] % 4, &res); break;
        default:
            (void)ht_gc_set_threshold(gc, (int8_t)p[1], p[2] & 15, p[3] & 15);
            break;
        }
        if (!ht__gc_is_valid(gc))
            abort();
    }
    ht_gc_free(gc);
    return 0;
}
