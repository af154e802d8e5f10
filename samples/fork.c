/* Parent: 10 mallocs before fork, 5 after (3 frees after). Child: 7 mallocs,
 * 2 frees, exit(0). Expected: parent spill 15 ALLOC / 3 FREE, child spill
 * 7 ALLOC / 2 FREE with parent_pid = parent's pid. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void *keep[32];

int main(void)
{
    for (int i = 0; i < 10; i++)
        keep[i] = malloc(32);
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        for (int i = 0; i < 7; i++)
            keep[10 + i] = malloc(64);
        free(keep[10]);
        free(keep[11]);
        exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    for (int i = 0; i < 5; i++)
        keep[20 + i] = malloc(48);
    for (int i = 0; i < 3; i++)
        free(keep[i]);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 2;
}
