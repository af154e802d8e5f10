/* The main loop mallocs+frees while a 100 us interval timer's handler records
 * ht_rt_alloc_note() events (site 77), interrupting the recorder. Prints
 * "main M handler H"; expected: M + 0 plain ALLOC, M FREE, H site ALLOC. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

#include "heaptrail/rt.h"

int ht__rt_is_valid(void); /* runtime self-check (analyzer/runtime/rt.c) */

static volatile sig_atomic_t handled;
static char area[1 << 16];
void *volatile signal_sink;

static void on_alarm(int sig)
{
    (void)sig;
    ht_rt_alloc_note(77, area + handled, 1);
    handled++;
}

int main(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 100}, {0, 100}};
    setitimer(ITIMER_REAL, &it, NULL);
    long m = 0;
    while (handled < 300) {
        signal_sink = malloc(32);
        free(signal_sink);
        m++;
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("main %ld handler %d\n", m, (int)handled);
    return ht__rt_is_valid() ? 0 : 5;
}
