/* 8 threads x 500000 malloc+free pairs = 1 M events per thread, 8 M in all
 * (tests/e2e/test_reliability.c checks every one is recorded exactly once).
 * Prints a checksum that does not depend on addresses or scheduling. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 8
#define NPAIRS 500000

static void *worker(void *arg)
{
    uint64_t *sum = arg;
    for (int i = 0; i < NPAIRS; i++) {
        size_t n = (size_t)(8 + i % 120);
        unsigned char *p = malloc(n);
        if (!p)
            abort();
        memset(p, i & 0xff, n);
        *sum += p[n - 1] + n;
        free(p);
    }
    return NULL;
}

int main(void)
{
    pthread_t t[NTHREADS];
    uint64_t sums[NTHREADS] = {0}, total = 0;
    for (int i = 0; i < NTHREADS; i++)
        if (pthread_create(&t[i], NULL, worker, &sums[i]) != 0)
            return 1;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(t[i], NULL);
        total += sums[i];
    }
    printf("stress8 %d threads checksum %llu\n", NTHREADS, (unsigned long long)total);
    return 0;
}
