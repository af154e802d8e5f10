/* ht__slurp: see include/heaptrail/slurp.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "heaptrail/slurp.h"

char *ht__slurp(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0, k;
    char *b = malloc(cap + 1);
    while (b && (k = fread(b + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            char *nb = realloc(b, 2 * cap + 1);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    int err = !b ? ENOMEM : ferror(f) ? EIO : 0;
    fclose(f);
    if (err) {
        free(b);
        errno = err;
        return NULL;
    }
    b[n] = 0;
    *len = n;
    return b;
}
