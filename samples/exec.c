/* 2 mallocs, a failing execl (state back to RUNNING), then execl of
 * /bin/true. Expected: 2 ALLOC, state EXECED, exit status 0. */
#include <stdlib.h>
#include <unistd.h>

void *exec_keep[2];

int main(void)
{
    exec_keep[0] = malloc(10);
    exec_keep[1] = malloc(20);
    if (execl("/nonexistent/heaptrail-none", "none", (char *)NULL) != -1)
        return 3;
    execl("/bin/true", "true", (char *)NULL);
    return 4;
}
