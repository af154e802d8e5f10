/* 4 threads x 20000 mallocs each; each thread frees 12000 and never frees
 * 8000 (each thread fills more than one 24576-slot spill chunk).
 * Expected: 80000 ALLOC, 48000 FREE, 32000 blocks leaked. */
#include <pthread.h>
#include <stdlib.h>

#define NTHREADS 4
#define NALLOC 20000
#define NFREE 12000

static void *worker(void *arg)
{
    void **keep = arg;
    void *tmp[NALLOC];
    for (int i = 0; i < NALLOC; i++)
        tmp[i] = malloc((size_t)(16 + i % 200));
    for (int i = 0; i < NFREE; i++)
        free(tmp[i]);
    for (int i = NFREE; i < NALLOC; i++)
        keep[i - NFREE] = tmp[i];
    return NULL;
}

int main(void)
{
    static void *keep[NTHREADS][NALLOC - NFREE];
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        if (pthread_create(&t[i], NULL, worker, keep[i]) != 0)
            return 1;
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    return 0;
}
