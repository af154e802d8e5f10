/* Stack roots for the exit snapshot: when main calls exit(),
 *   - a 32-byte block is held only by main's local variable,
 *   - a 48-byte block only by a local of a thread still running (blocked),
 *   - a 16-byte block is held by nothing (its only pointer was cleared).
 * memcheck and LeakSanitizer call the first two reachable and the last
 * definitely lost; so must heaptrail: reachable 2 blocks / 80 bytes,
 * definite 1 / 16. Prints "stackroots done". */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int g_ready[2]; /* the thread says its block is allocated */

static void *holder(void *arg)
{
    (void)arg;
    char *volatile held = malloc(48); /* volatile: kept in this frame */
    memset(held, 1, 48);
    char c = 1;
    if (write(g_ready[1], &c, 1) != 1)
        abort();
    for (;;)
        pause(); /* alive until the process exits */
    return NULL;
}

/* The 16-byte block's only pointer is cleared before returning. */
__attribute__((noinline)) static void drop(void)
{
    char *volatile p = malloc(16);
    p[0] = 1;
    p = NULL;
}

/* Overwrite the dead stack below main with zeros: stale words of returned
 * calls (drop's pointer) must not pose as roots. */
__attribute__((noinline)) static void scrub(void)
{
    volatile char buf[16384];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = 0;
}

int main(void)
{
    char *volatile local = malloc(32); /* held only by this local */
    memset(local, 2, 32);
    pthread_t t;
    char c;
    if (pipe(g_ready) != 0 || pthread_create(&t, NULL, holder, NULL) != 0 ||
        read(g_ready[0], &c, 1) != 1)
        return 1;
    drop();
    scrub();
    puts("stackroots done");
    fflush(stdout);
    exit(0);
}
