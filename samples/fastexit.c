/* 10 mallocs, 3 frees, a line on stdout, then _exit(3): no atexit, no stdio
 * flush by exit (the line is flushed by hand). Expected: 10 ALLOC, 3 FREE,
 * exit status 3, run status exited-without-exit. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void *volatile keep[10];

int main(void)
{
    for (int i = 0; i < 10; i++)
        keep[i] = malloc((size_t)(16 * (i + 1)));
    for (int i = 0; i < 3; i++)
        free(keep[i]);
    printf("fastexit\n");
    fflush(stdout);
    _exit(3);
}
