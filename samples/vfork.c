/* 3 mallocs, vfork + execl("/bin/true") in the child, then 2 more mallocs in
 * the parent, which leaves with _exit(0) (no exit handlers, so the state
 * stays what the vfork child left). The child must not mark the parent's
 * spill EXECED. Expected: one spill, 5 ALLOC, state RUNNING, status 0. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

void *vfork_keep[5];

int main(void)
{
    for (int i = 0; i < 3; i++)
        vfork_keep[i] = malloc(16);
    pid_t pid = vfork();
    if (pid == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        return 1;
    int st = 0;
    waitpid(pid, &st, 0);
    for (int i = 3; i < 5; i++)
        vfork_keep[i] = malloc(16);
    _exit(WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 2);
}
