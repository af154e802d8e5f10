/*
 * Test support: build synthetic spill files (include/heaptrail/spill.h) for
 * the store and replay tests and the fuzz targets. Header-only so each user
 * compiles it in without a library.
 */
#ifndef HT_TEST_SPILL_WRITE_H
#define HT_TEST_SPILL_WRITE_H

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heaptrail/spill.h"

/* A valid header for nchunks chunks of cr records, of an exited process
 * 999999 (not alive) running `exe` with argv "prog arg1". calloc'd: the
 * caller frees it; NULL when out of memory. */
static inline struct ht_spill_header *ht_test_spill_header(uint32_t cr,
                                                           uint64_t nchunks,
                                                           const char *exe)
{
    struct ht_spill_header *h = calloc(1, HT_SPILL_HEADER_SIZE);
    if (!h)
        return NULL;
    memcpy(h->magic, HT_SPILL_MAGIC, 8);
    h->version = HT_SPILL_VERSION;
    h->header_size = HT_SPILL_HEADER_SIZE;
    h->rec_size = sizeof(struct ht_rec);
    h->chunk_records = cr;
    h->max_chunks = nchunks;
    h->pid = 999999;
    h->state = HT_SPILL_EXITED;
    strncpy(h->exe, exe, sizeof h->exe - 1);
    memcpy(h->argv, "prog\0arg1\0", 10);
    h->argv_len = 10;
    return h;
}

/* Write header + body to path (created 0600, truncated). Returns 0, or -1
 * on any I/O error. */
static inline int ht_test_spill_write(const char *path,
                                      const struct ht_spill_header *h,
                                      const void *body, size_t body_len)
{
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    int ok = write(fd, h, HT_SPILL_HEADER_SIZE) == (ssize_t)HT_SPILL_HEADER_SIZE &&
             (!body_len || write(fd, body, body_len) == (ssize_t)body_len);
    return close(fd) == 0 && ok ? 0 : -1;
}

#endif
