/*
 * Fuzz target: ht_replay_run on arbitrary event
 * streams. Every 8 input bytes become one struct ht_rec (kind, address out
 * of a small pool so frees meet allocations, size, flags, tid, pc, seq
 * jitter); the records go into a synthetic spill which is ingested, then the
 * run is replayed. Errors are fine, crashes and sanitizer reports are not.
 */
#include <stdint.h>

#include "heaptrail/replay.h"
#include "spillfile.h"

#define FZ_CR 16u

/* libFuzzer entry point. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = size / 8;
    if (n == 0 || n > 4096)
        return 0;
    size_t nchunks = (n + FZ_CR - 1) / FZ_CR;
    struct ht_rec *recs = calloc(nchunks * FZ_CR, sizeof *recs);
    if (!recs)
        abort();
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = data + 8 * i;
        struct ht_rec *r = &recs[i];
        r->kind = (uint8_t)(p[0] % (HT_EV_KIND_COUNT + 1));
        r->seq = 1 + 4 * i + (p[7] & 3);
        r->a = 0x10000 + (uint64_t)(p[1] % 64) * 16;
        r->b = (uint64_t)p[2] | (uint64_t)(p[3] & 0x3f) << 8;
        if (p[3] & 0x80)
            r->b = UINT64_MAX - p[2];
        r->c = (p[4] & 0x80) ? 0x10000 + (uint64_t)(p[4] % 64) * 16 : p[4];
        r->d = 0x400000 + (p[5] & 7);
        r->flags = (uint16_t)(p[6] & 3);
        r->tid = 1 + (p[6] >> 6);
    }
    ht_store *st = fz_store();
    struct ht_spill_header *h = fz_header(FZ_CR, nchunks);
    fz_write(h, recs, nchunks * FZ_CR * sizeof *recs);
    free(h);
    free(recs);
    struct ht_ingest_result res;
    if (ht_store_ingest_spill(st, fz_spill, NULL, 1, &res) != HT_OK) {
        unlink(fz_spill);
        return 0;
    }
    struct ht_replay_opts opts = {0};
    opts.snapshot_every = 64;
    struct ht_replay_result rr;
    (void)ht_replay_run(st, res.run_id, &opts, &rr);
    return 0;
}
