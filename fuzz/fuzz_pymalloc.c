/*
 * Fuzz target: the pymalloc model on arbitrary operation sequences.
 * 4 input bytes per operation: malloc / calloc / realloc / release (of a
 * live block, a stale one, or a random address), with ht__pym_is_valid()
 * checked after every operation. The first byte picks the profile.
 */
#include <stdint.h>
#include <stdlib.h>

#include "heaptrail/pymalloc.h"

#define FZ_SLOTS 256

/* libFuzzer entry point. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const prof[] = {"3.8", "3.9", "3.10", "3.11", "3.12",
                                       "3.13"};
    if (size < 1)
        return 0;
    struct ht_pym_config cfg = {prof[data[0] % 6], (data[0] & 0x80) ? 63 : 0};
    ht_pym *m = NULL;
    if (ht_pym_new(&cfg, &m) != HT_OK)
        abort();
    uint64_t slot[FZ_SLOTS] = {0};
    for (size_t i = 1; i + 4 <= size; i += 4) {
        const uint8_t *p = data + i;
        uint64_t sz = (uint64_t)p[2] | (uint64_t)(p[3] & 3) << 8;
        uint64_t *s = &slot[p[1]];
        uint64_t a = 0;
        switch (p[0] % 6) {
        case 0:
            if (ht_pym_malloc(m, sz, &a) == HT_OK)
                *s = a;
            break;
        case 1:
            if (ht_pym_calloc(m, p[2] & 15, p[3], &a) == HT_OK)
                *s = a;
            break;
        case 2:
            if (ht_pym_realloc(m, *s, sz, &a) == HT_OK)
                *s = a;
            break;
        case 3:
            if (ht_pym_release(m, *s) == HT_OK)
                *s = 0;
            break;
        case 4: /* double free / stale address: must be refused, not crash */
            (void)ht_pym_release(m, *s + (p[2] & 0xf0));
            break;
        default: {
            struct ht_pym_stats st;
            ht_pym_stats(m, &st);
            (void)ht_pym_owns(m, *s);
            break;
        }
        }
        if (!ht__pym_is_valid(m))
            abort();
    }
    ht_pym_free(m);
    return 0;
}
