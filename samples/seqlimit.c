/* The 48-bit seq limit (spill.h S8): finds its own spill (in
 * "$HEAPTRAIL_TRACE.spill/spill-<pid>-*.hts"), sets the header's seq
 * counter to 2^48 - 2, then mallocs 4 blocks and frees them. Expected with
 * HEAPTRAIL_SNAPSHOT=0: the first two ALLOCs recorded with seqs 2^48 - 2
 * and 2^48 - 1; the other 2 ALLOCs, the 4 FREEs and the EXIT counted in
 * overflow_events (7), none written. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "heaptrail/spill.h"

int main(void)
{
    const char *trace = getenv("HEAPTRAIL_TRACE");
    char dir[1024], pre[64], path[2200];
    if (!trace)
        return 2;
    snprintf(dir, sizeof dir, "%s.spill", trace);
    snprintf(pre, sizeof pre, "spill-%d-", (int)getpid());
    DIR *d = opendir(dir);
    struct dirent *e;
    path[0] = 0;
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, pre, strlen(pre)))
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (d)
        closedir(d);
    int fd = path[0] ? open(path, O_RDWR) : -1;
    if (fd < 0)
        return 3;
    struct ht_spill_header *h =
        mmap(NULL, HT_SPILL_HEADER_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (h == MAP_FAILED)
        return 4;
    __atomic_store_n(&h->seq, HT_SPILL_SEQ_LIMIT - 2, __ATOMIC_SEQ_CST);
    void *p[4];
    for (int i = 0; i < 4; i++)
        p[i] = malloc(16);
    for (int i = 0; i < 4; i++)
        free(p[i]);
    return 0;
}
