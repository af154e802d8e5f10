/* ht__self_dir: see heaptrail/selfdir.h. */
#include <string.h>
#include <unistd.h>

#include "heaptrail/selfdir.h"

int ht__self_dir(char *buf, size_t n)
{
    if (n < 2)
        return -1;
    ssize_t k = readlink("/proc/self/exe", buf, n - 1);
    if (k <= 0 || (size_t)k >= n - 1) /* n - 1 bytes: perhaps cut short */
        return -1;
    buf[k] = 0;
    char *slash = strrchr(buf, '/');
    if (!slash)
        return -1;
    *slash = 0;
    return 0;
}
