/*
 * Test support: read back the records of the spill files a recorded run
 * left in "<trace>.spill/" (include/heaptrail/spill.h), without the store.
 * Header-only, like spill_write.h.
 */
#ifndef HT_TEST_SPILL_READ_H
#define HT_TEST_SPILL_READ_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heaptrail/spill.h"

/* Every used record (kind != 0) of every spill of trace, in file order,
 * as a malloc'd array the caller frees; *n records, *nspills files. NULL
 * (and *n = 0) if the directory cannot be read or memory runs out. */
static inline struct ht_rec *ht_test_spill_read(const char *trace, size_t *n,
                                                int *nspills)
{
    char sdir[4200];
    snprintf(sdir, sizeof sdir, "%s.spill", trace);
    *n = 0;
    *nspills = 0;
    DIR *d = opendir(sdir);
    if (!d)
        return NULL;
    struct ht_rec *v = NULL;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "spill-", 6) != 0)
            continue;
        char p[4600];
        snprintf(p, sizeof p, "%s/%s", sdir, e->d_name);
        int fd = open(p, O_RDONLY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            if (fd >= 0)
                close(fd);
            continue;
        }
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        close(fd);
        if (m == MAP_FAILED)
            continue;
        (*nspills)++;
        const struct ht_spill_header *h = m;
        uint64_t nch = h->next_chunk < h->max_chunks ? h->next_chunk
                                                     : h->max_chunks;
        const struct ht_rec *r =
            (const struct ht_rec *)((char *)m + HT_SPILL_HEADER_SIZE);
        for (uint64_t i = 0; i < nch * h->chunk_records; i++) {
            if (!r[i].kind)
                continue;
            if (*n == cap) {
                cap = cap ? 2 * cap : 1024;
                struct ht_rec *nv = realloc(v, cap * sizeof *nv);
                if (!nv) {
                    free(v);
                    munmap(m, (size_t)st.st_size);
                    closedir(d);
                    *n = 0;
                    return NULL;
                }
                v = nv;
            }
            v[(*n)++] = r[i];
        }
        munmap(m, (size_t)st.st_size);
    }
    closedir(d);
    return v;
}

#endif
