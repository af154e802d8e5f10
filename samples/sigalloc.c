/* A SIGALRM handler that itself mallocs and frees while the main loop
 * allocates (an interval timer every 50 us). glibc's malloc is not
 * async-signal-safe, so the sample keeps glibc out of trouble on its own:
 * main uses 32-byte blocks and the handler 200-byte ones, each warmed up
 * first, so both stay in their own per-thread cache bin and never take an
 * arena lock; what is exercised is heaptrail's recorder being interrupted.
 * stdout: "sigalloc ok" (deterministic); stderr: "main M handler H".
 * Expected events: M+1 ALLOC of 32 bytes and H+1 of 200, as many FREEs. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

static volatile sig_atomic_t handled;
void *volatile sink_main, *volatile sink_handler;

static void on_alarm(int sig)
{
    (void)sig;
    sink_handler = malloc(200);
    free(sink_handler);
    handled++;
}

int main(void)
{
    free(malloc(32));
    free(malloc(200));
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 50}, {0, 50}};
    setitimer(ITIMER_REAL, &it, NULL);
    long m = 0;
    while (handled < 500 || m < 200000) {
        sink_main = malloc(32);
        free(sink_main);
        m++;
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    fprintf(stderr, "main %ld handler %d\n", m, (int)handled);
    printf("sigalloc ok\n");
    return 0;
}
