/*
 * Fuzz target: ht_store_ingest_spill on arbitrary spill files.
 * The input is compact: its first 96 bytes overwrite the header fields after
 * the magic (version .. reserved0) of an otherwise valid header, unless the
 * first byte is even, in which case only the counters (max_chunks onwards)
 * are taken so most inputs keep a valid version/sizes; the rest of the input
 * is the chunk area, written as it is: 32-byte version-2 slots (owner,
 * compact, wide, torn; include/heaptrail/spill.h), or 48-byte records when
 * the fields say version 1 (fuzz/seedgen.c seeds both). Ingestion may fail
 * with an error but must not crash.
 */
#include <stddef.h>
#include <stdint.h>

#include "spillfile.h"

/* libFuzzer entry point. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const size_t fields = offsetof(struct ht_spill_header, exe) - 8;
    if (size < 1 + fields)
        return 0;
    ht_store *st = fz_store();
    struct ht_spill_header *h = fz_header(8, 1);
    if (data[0] & 1) {
        memcpy((char *)h + 8, data + 1, fields);
    } else {
        size_t off = offsetof(struct ht_spill_header, max_chunks);
        memcpy((char *)h + off, data + 1, fields - (off - 8));
        h->state = 1 + data[0] % 4;
        h->chunk_records = 1 + (data[1] % 16);
        h->pid = 999999;
    }
    h->nmodules %= 4; /* keep symbolisation cheap (paths are empty) */
    fz_write_raw(h, data + 1 + fields, size - 1 - fields);
    free(h);
    struct ht_ingest_result res;
    struct ht_run_end end = {1, 1, 0};
    (void)ht_store_ingest_spill(st, fz_spill, (data[0] & 2) ? &end : NULL, 1,
                                &res);
    unlink(fz_spill);
    return 0;
}
