/* bench_churn: malloc/free pairs of mixed sizes (16..1024 bytes) through a
 * 64-slot ring; the pair count is an optional argument (default 10M), so slow
 * tools such as valgrind can run a scaled-down version of the same workload.
 * Usage: bench_churn [pairs] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define RING 64

int main(int argc, char **argv)
{
    static void *ring[RING];
    long pairs = argc > 1 ? atol(argv[1]) : 10000000L;
    uint64_t x = 88172645463325252ull; /* xorshift64 */
    uint64_t sum = 0;
    for (long i = 0; i < pairs; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t sz = 16 + (size_t)(x % 1009);
        unsigned k = (unsigned)(i % RING);
        free(ring[k]);
        ring[k] = malloc(sz);
        if (!ring[k])
            return 1;
        ((char *)ring[k])[0] = (char)i;
        sum += (uintptr_t)ring[k] & 0xff;
    }
    for (unsigned k = 0; k < RING; k++)
        free(ring[k]);
    printf("%lu\n", (unsigned long)sum);
    return 0;
}
