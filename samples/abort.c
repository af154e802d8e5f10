/* 20 mallocs, 5 frees, then abort(). Expected: 20 ALLOC, 5 FREE, state
 * RUNNING (abnormal end). */
#include <stdlib.h>

static void *keep[20];

int main(void)
{
    for (int i = 0; i < 20; i++)
        keep[i] = malloc((size_t)(8 * (i + 1)));
    for (int i = 0; i < 5; i++)
        free(keep[i]);
    abort();
}
