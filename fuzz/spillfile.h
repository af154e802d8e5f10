/*
 * Shared by the fuzz targets: write a synthetic spill file and ingest it into
 * a scratch trace. Header fields that make ingestion meaningful are valid
 * unless the caller overrides them; the chunks hold the given records.
 */
#ifndef HT_FUZZ_SPILLFILE_H
#define HT_FUZZ_SPILLFILE_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heaptrail/spill.h"
#include "heaptrail/store.h"
#include "tests/support/spill_write.h"

static char fz_dir[512];
static char fz_spill[600];
static char fz_trace[600];
static ht_store *fz_st;
static unsigned fz_uses;

/* A fresh scratch trace every 500 inputs keeps the database small. */
static ht_store *fz_store(void)
{
    if (!fz_dir[0]) {
        /* fuzz/run points HT_FUZZ_TMP into its build dir and removes it */
        const char *tmp = getenv("HT_FUZZ_TMP");
        snprintf(fz_dir, sizeof fz_dir, "%s/htfuzz.XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(fz_dir))
            abort();
        snprintf(fz_spill, sizeof fz_spill, "%s/spill.hts", fz_dir);
        snprintf(fz_trace, sizeof fz_trace, "%s/trace.db", fz_dir);
    }
    if (fz_st && ++fz_uses % 500 == 0) {
        ht_store_close(fz_st);
        fz_st = NULL;
    }
    if (!fz_st) {
        unlink(fz_trace);
        if (ht_store_open(fz_trace, HT_STORE_CREATE, &fz_st) != HT_OK)
            abort();
    }
    return fz_st;
}

/* A valid header for nchunks chunks of cr records. Caller frees. */
static struct ht_spill_header *fz_header(uint32_t cr, uint64_t nchunks)
{
    struct ht_spill_header *h = ht_test_spill_header(cr, nchunks, "/nonexistent/prog");
    if (!h)
        abort();
    h->next_chunk = nchunks;
    return h;
}

/* Write header + body (test chunks of struct ht_rec, body_len bytes,
 * packed as the recorder does: tests/support/spill_write.h) to the scratch
 * spill path. */
static inline void fz_write(const struct ht_spill_header *h,
                            const void *body, size_t body_len)
{
    if (ht_test_spill_write(fz_spill, h, body, body_len) != 0)
        abort();
}

/* Write header + body bytes as they are (any slot layout). */
static inline void fz_write_raw(const struct ht_spill_header *h,
                                const void *body, size_t body_len)
{
    if (ht_test_spill_write_raw(fz_spill, h, body, body_len) != 0)
        abort();
}

#endif
