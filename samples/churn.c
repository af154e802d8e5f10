/* N (argv[1], default 100000) malloc+free pairs of 64 bytes; prints
 * "churn N". For the disk-full and unwritable-trace tests: the program must
 * run to the end and exit 0 whatever happens to its recording. */
#include <stdio.h>
#include <stdlib.h>

void *volatile sink;

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    for (long i = 0; i < n; i++) {
        sink = malloc(64);
        free(sink);
    }
    printf("churn %ld\n", n);
    return 0;
}
