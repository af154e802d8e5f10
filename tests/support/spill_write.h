/*
 * Test support: build synthetic spill files (include/heaptrail/spill.h) for
 * the store and replay tests and the fuzz targets. Header-only so each user
 * compiles it in without a library.
 *
 * Tests describe a spill's body as chunks of chunk_records struct ht_rec
 * (one per slot, kind 0 = unused or torn, as the version-1 layout was);
 * ht_test_spill_write packs them into the version-2 layout the recorder
 * writes (32-byte slots, spill.h S6-S7): an owner slot wherever the thread
 * changes (so at each chunk's first record), a wide record in two slots,
 * an invalid kind as an invalid kind byte; chunk_records grows to the
 * slots the fullest chunk needs.
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
    h->rec_size = sizeof(struct ht_spill_rec);
    h->chunk_records = cr;
    h->max_chunks = nchunks;
    h->pid = 999999;
    h->state = HT_SPILL_EXITED;
    strncpy(h->exe, exe, sizeof h->exe - 1);
    memcpy(h->argv, "prog\0arg1\0", 10);
    h->argv_len = 10;
    return h;
}

/* Write header + body to path as they are (created 0600, truncated).
 * Returns 0, or -1 on any I/O error. */
static inline int ht_test_spill_write_raw(const char *path,
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

/* Pack the records of one test chunk, r[0..n), into out (NULL: only
 * count); returns the slots used. */
static inline size_t ht_test_spill_pack_chunk(const struct ht_rec *r,
                                              size_t n,
                                              struct ht_spill_rec *out)
{
    struct ht_spill_rec tmp[3];
    size_t k = 0;
    int have = 0;
    uint32_t tid = 0;
    for (size_t i = 0; i < n; i++) {
        struct ht_spill_rec *o = out ? out + k : tmp;
        if (r[i].kind == 0) {
            memset(o, 0, sizeof *o);
            k++;
        } else if (r[i].kind >= HT_EV_KIND_COUNT) {
            memset(o, 0, sizeof *o); /* torn garbage: an invalid kind byte */
            o->w[3] = ht_spill_w3(r[i].seq & HT_SPILL_LOW48, 0, 0x7e);
            k++;
        } else {
            if (!have || r[i].tid != tid) {
                ht_spill_owner(o++, r[i].tid);
                k++;
                have = 1;
                tid = r[i].tid;
            }
            k += ht_spill_pack(o, &r[i]);
        }
    }
    return k;
}

/* Write header + body (test chunks of h->chunk_records struct ht_rec,
 * body_len bytes; the last chunk may be short) to path in the version-2
 * layout (see the top). Returns 0, or -1 on any I/O or memory error. */
static inline int ht_test_spill_write(const char *path,
                                      const struct ht_spill_header *h,
                                      const void *body, size_t body_len)
{
    const struct ht_rec *r = body;
    size_t cr = h->chunk_records, n = body_len / sizeof *r, need = 1;
    for (size_t c = 0; c * cr < n; c++) {
        size_t k = ht_test_spill_pack_chunk(r + c * cr,
                                            n - c * cr < cr ? n - c * cr : cr,
                                            NULL);
        if (k > need)
            need = k;
    }
    if (need < cr + 1)
        need = cr + 1;
    struct ht_spill_header *h2 = malloc(HT_SPILL_HEADER_SIZE);
    struct ht_spill_rec *v = calloc(n / cr + 1, need * sizeof *v);
    if (!h2 || !v) {
        free(h2);
        free(v);
        return -1;
    }
    memcpy(h2, h, HT_SPILL_HEADER_SIZE);
    h2->chunk_records = (uint32_t)need;
    size_t len = 0;
    for (size_t c = 0; c * cr < n; c++) {
        size_t m = n - c * cr < cr ? n - c * cr : cr;
        size_t k = ht_test_spill_pack_chunk(r + c * cr, m, v + c * need);
        len = (c * need + (m == cr ? need : k)) * sizeof *v;
    }
    int rc = ht_test_spill_write_raw(path, h2, v, len);
    free(h2);
    free(v);
    return rc;
}

#endif
