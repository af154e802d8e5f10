/* 3 mallocs through a function pointer, 2 strdup, 1 strndup; the 3
 * fnptr blocks are freed. Expected: 6 ALLOC, 3 FREE; the strdup ALLOCs
 * carry a pc inside the main program. */
#include <stdlib.h>
#include <string.h>

static void *keep[8];

int main(int argc, char **argv)
{
    (void)argv;
    void *(*f)(size_t) = malloc;
    for (int i = 0; i < 3; i++)
        keep[i] = f((size_t)(argc + 10 * i));
    keep[3] = strdup("hello");
    keep[4] = strdup("heaptrail");
    keep[5] = strndup("abcdefgh", 3);
    for (int i = 0; i < 3; i++)
        free(keep[i]);
    return 0;
}
