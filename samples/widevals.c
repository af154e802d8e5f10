/* Extreme values through the recorder (spill.h: compact and wide slots).
 * For v = 2^48 - 1 (compact), 2^48 and UINT64_MAX (wide): a STORE with
 * a = b = c = d = v, a FN_ENTER (a = b = d = v), an INCREF (a = d = v);
 * then a STORE per field with 2^48 in that field only (wide); a site
 * ALLOC + FREE of 2^48 bytes at 2^48; a failed realloc of a malloc'd block
 * to SIZE_MAX bytes (REALLOC a = 0, b = SIZE_MAX, c = the block), which
 * stays live (so the exit snapshot scans); then $WIDEVALS_N (default 0) wide STOREs a = UINT64_MAX - i, b = i,
 * site 9, so that whole chunks fill with wide records; exit(0): the exit
 * snapshot records ROOTs with c = HT_ROOT_STACK (wide) for the saved
 * registers and the stack. */
#include <stdint.h>
#include <stdlib.h>

#include "heaptrail/rt.h"

#define P(x) ((void *)(uintptr_t)(x))

int main(void)
{
    static const uint64_t vals[3] = {(1ull << 48) - 1, 1ull << 48, UINT64_MAX};
    for (int i = 0; i < 3; i++) {
        uint64_t v = vals[i];
        ht_rt_store(v, P(v), P(v), P(v));
        ht_rt_fn_enter(v, P(v));
        ht_rt_incref(v, P(v));
    }
    const uint64_t w = 1ull << 48;
    ht_rt_store(1, P(w), P(0x10), P(0x20));
    ht_rt_store(2, P(0x30), P(w), P(0x40));
    ht_rt_store(3, P(0x50), P(0x60), P(w));
    ht_rt_store(w, P(0x70), P(0x80), P(0x90));
    ht_rt_free_note(5, ht_rt_alloc_note(4, P(w), w));
    void *p = malloc(24);
    volatile size_t huge = SIZE_MAX;
    if (!p || realloc(p, huge) != NULL)
        return 1;
    const char *ns = getenv("WIDEVALS_N");
    long n = ns ? atol(ns) : 0;
    for (long i = 0; i < n; i++)
        ht_rt_store(9, P(UINT64_MAX - (uint64_t)i), P(i), NULL);
    exit(0);
}
