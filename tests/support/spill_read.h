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

/* Unpack the records of nslots version-2 slots r (whole chunks of cr
 * slots from the first chunk's start; a valid compact or wide slot, with
 * the tid of its chunk's owner slot: spill.h S6-S7) into out (room for
 * nslots), in file order; returns how many. */
static inline size_t ht_test_spill_unpack(const struct ht_spill_rec *r,
                                          size_t nslots, size_t cr,
                                          struct ht_rec *out)
{
    uint32_t tid = 0;
    size_t n = 0;
    for (size_t i = 0; i < nslots; i++) {
        unsigned kb = ht_spill_kind_byte(
            __atomic_load_n(&r[i].w[3], __ATOMIC_ACQUIRE));
        if (i % cr == 0)
            tid = 0;
        if (kb == HT_SPILL_OWNER)
            tid = (uint32_t)r[i].w[0];
        if (!kb || kb == HT_SPILL_OWNER ||
            ((kb & HT_SPILL_WIDE) && i % cr == 0))
            continue;
        ht_spill_unpack(&r[i], tid, &out[n++]);
    }
    return n;
}

/* ht_test_spill_unpack of the chunks handed out of a mapped spill h. */
static inline size_t ht_test_spill_records(const struct ht_spill_header *h,
                                           struct ht_rec *out)
{
    uint64_t nch = h->next_chunk < h->max_chunks ? h->next_chunk
                                                 : h->max_chunks;
    return ht_test_spill_unpack((const struct ht_spill_rec *)
                                    ((const char *)h + HT_SPILL_HEADER_SIZE),
                                nch * h->chunk_records, h->chunk_records, out);
}

/* Every record of every spill of trace (ht_test_spill_records), in file
 * order, as a malloc'd array the caller frees; *n records, *nspills files.
 * NULL (and *n = 0) if the directory cannot be read or memory runs out. */
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
        struct ht_rec *nv =
            realloc(v, (*n + nch * h->chunk_records + 1) * sizeof *nv);
        if (!nv) {
            free(v);
            munmap(m, (size_t)st.st_size);
            closedir(d);
            *n = 0;
            return NULL;
        }
        v = nv;
        *n += ht_test_spill_records(h, v + *n);
        munmap(m, (size_t)st.st_size);
    }
    closedir(d);
    return v;
}

#endif
