/* One call of each rt.h entry point with site ids 1..8: expected exactly one
 * STORE, INCREF, DECREF, FN_ENTER, FN_EXIT, site-ALLOC, site-FREE and
 * SNAPSHOT event, each (but SNAPSHOT) with HT_EVF_SITE and d = its site. */
#include <stdint.h>

#include "heaptrail/rt.h"

static char obj[64];
void *rtcalls_slot;

int main(void)
{
    ht_rt_store(1, &rtcalls_slot, obj, 0);
    rtcalls_slot = obj;
    ht_rt_incref(2, obj);
    ht_rt_decref(3, obj);
    ht_rt_fn_enter(4, obj);
    ht_rt_fn_exit(4);
    if (ht_rt_alloc_note(6, obj + 8, 16) != obj + 8)
        return 1;
    ht_rt_free_note(7, obj + 8);
    ht_rt_snapshot();
    return 0;
}
