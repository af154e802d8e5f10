/* Solo-mode switch (runtime invariant R6): 2 threads started through a
 * pthread_create found with dlsym, so the link-time wrap does not see them;
 * they and the main thread each do 30000 malloc/free pairs on a 16-slot
 * ring at the same time, freeing everything.
 * Expected: 90000 ALLOC, 90000 FREE, unique seqs, each FREE of an address
 * ordered before its next ALLOC. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define NPAIRS 30000

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *,
                         void *(*)(void *), void *);

static void *churn(void *arg)
{
    void *ring[16] = {0};
    for (int i = 0; i < NPAIRS; i++) {
        free(ring[i & 15]);
        ring[i & 15] = malloc((size_t)(16 + i % 64));
    }
    for (int i = 0; i < 16; i++)
        free(ring[i]);
    return arg;
}

int main(void)
{
    create_fn create = (create_fn)(uintptr_t)dlsym(RTLD_DEFAULT,
                                                   "pthread_create");
    if (!create)
        return 2;
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        if (create(&t[i], NULL, churn, NULL) != 0)
            return 1;
    churn(NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    return 0;
}
