#include "hbuf.h"

size_t hbuf_b(void)
{
    size_t k = 0;
    for (int i = 0; i < 2; i++) {
        g_keep = hbuf_new(8); /* STORE to a global */
        k += g_keep->n;
        hbuf_free(g_keep);
    }
    g_keep = hbuf_raw(4); /* STORE to a global */
    free(g_keep);
    g_keep = NULL; /* STORE to a global */
    return k;
}
