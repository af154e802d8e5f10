/*
 * Fuzz target: the chunk decoder ht__codec_decode on arbitrary bytes.
 * Contract (store_int.h): malformed input gives HT_ECORRUPT, never a crash,
 * and *n = 0 on error. A buffer that decodes must re-encode to records that
 * decode to the same records (lossless except `reserved`).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "heaptrail/err.h"
#include "store/store_int.h"

static struct ht_rec recs[HT_CODEC_MAX_RECORDS];
static struct ht_rec again[HT_CODEC_MAX_RECORDS];

/* libFuzzer entry point: one decode (+ round trip when it succeeds). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = 99;
    ht_err e = ht__codec_decode(data, size, recs, HT_CODEC_MAX_RECORDS, &n);
    if (e != HT_OK) {
        if (n != 0)
            abort();
        return 0;
    }
    if (n == 0 || n > HT_CODEC_MAX_RECORDS)
        return 0;
    for (size_t i = 0; i < n; i++)
        recs[i].reserved = 0;
    void *buf = NULL;
    size_t len = 0;
    if (ht__codec_encode(recs, n, &buf, &len) != HT_OK)
        abort();
    size_t n2 = 0;
    if (ht__codec_decode(buf, len, again, HT_CODEC_MAX_RECORDS, &n2) != HT_OK ||
        n2 != n)
        abort();
    for (size_t i = 0; i < n; i++) {
        again[i].reserved = 0;
        if (memcmp(&recs[i], &again[i], sizeof recs[i]) != 0)
            abort();
    }
    free(buf);
    return 0;
}
