/* Two translation units use the header helpers of hbuf.h: the header's
 * sites are listed by both and kept once (same ids). */
#include <stdio.h>

#include "hbuf.h"

struct hbuf *g_keep; /* the blocks escape: -O2 keeps the calls */

size_t hbuf_a(void)
{
    g_keep = hbuf_new(16); /* STORE to a global */
    size_t n = g_keep->n;
    hbuf_free(g_keep);
    g_keep = NULL; /* STORE to a global */
    return n;
}

int main(void)
{
    printf("%zu\n", hbuf_a() + hbuf_b());
    return 0;
}
