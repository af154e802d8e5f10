/* A thread's stack unmapped while the exit snapshot runs
 * (tests/runtime/test_snapshot.c): main starts "victim" on a 64 MiB stack
 * of its own (pthread_attr_setstack, so the snapshot's scan of it takes
 * milliseconds) and "reaper", which joins victim and munmaps that stack.
 * main then calls exit(); its atexit handler (run before the runtime's
 * exit snapshot, which was registered first) lets victim return after
 * DELAY_US microseconds (argv[1]), so victim ends and its stack goes away
 * around the time the snapshot scans it. Without the runtime holding
 * thread ends back during a scan, the scan faults on the unmapped range.
 * Prints "stack_unmap done". */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define STACK_BYTES (64u << 20)

static void *g_stack;
void *g_block; /* one live block: the snapshot scans roots only then */
static pthread_t g_victim;
static int g_running, g_go;

static void spin_us(long us)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do
        clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000 <
           us);
}

static void *victim(void *arg)
{
    __atomic_store_n(&g_running, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&g_go, __ATOMIC_ACQUIRE))
        ;
    spin_us((long)(intptr_t)arg);
    return NULL;
}

static void *reaper(void *arg)
{
    (void)arg;
    if (pthread_join(g_victim, NULL) != 0 || munmap(g_stack, STACK_BYTES) != 0)
        abort();
    return NULL;
}

static void go(void) { __atomic_store_n(&g_go, 1, __ATOMIC_RELEASE); }

int main(int argc, char **argv)
{
    long delay = argc > 1 ? atol(argv[1]) : 0;
    g_block = malloc(16);
    g_stack = mmap(NULL, STACK_BYTES, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (g_stack == MAP_FAILED)
        return 1;
    pthread_attr_t at;
    pthread_t r;
    if (pthread_attr_init(&at) != 0 ||
        pthread_attr_setstack(&at, g_stack, STACK_BYTES) != 0 ||
        pthread_create(&g_victim, &at, victim, (void *)(intptr_t)delay) != 0 ||
        pthread_create(&r, NULL, reaper, NULL) != 0)
        return 1;
    pthread_attr_destroy(&at);
    while (!__atomic_load_n(&g_running, __ATOMIC_ACQUIRE))
        ;
    if (atexit(go) != 0)
        return 1;
    printf("stack_unmap done\n");
    exit(0);
}
