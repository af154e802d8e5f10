/* Allocates 5000 blocks, prints "ready" and then keeps allocating slowly
 * until killed. Expected after SIGKILL: >= 5000 ALLOC, state RUNNING. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define M 5000

void *killme_keep[M];
void *volatile killme_sink;

int main(void)
{
    for (int i = 0; i < M; i++)
        killme_keep[i] = malloc(24);
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        killme_sink = malloc(16);
        usleep(10000);
    }
}
