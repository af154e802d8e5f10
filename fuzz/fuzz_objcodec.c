/*
 * Fuzz target: the object chunk codec "oc1" (store/objcodec.c).
 * Contract (store_int.h): decoding arbitrary bytes gives HT_OK or
 * HT_ECORRUPT, never a crash; rows built from the input round-trip exactly;
 * an encoded blob with one byte changed (chosen by the input) decodes or is
 * rejected, never crashes. Self-seeding: no corpus of valid blobs needed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "heaptrail/err.h"
#include "heaptrail/store.h"
#include "store/store_int.h"

#define MAXROWS 512u

static struct ht_objrow rows[MAXROWS], back[HT_OBJCHUNK_MAX_ROWS];
/* one decoder for every input, as a cursor keeps one across chunks: a
 * malformed blob must leave it fit for the next */
static ht__objcodec_dec *dec;
/* and one encoder (the replay's: rows added, then the blob made) */
static ht_objenc *enc;

static uint64_t rd64(const uint8_t *p, size_t avail)
{
    uint64_t v = 0;
    memcpy(&v, p, avail < 8 ? avail : 8);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    if ((!dec && ht__objcodec_dec_new(&dec) != HT_OK) ||
        (!enc && ht_objenc_new(&enc) != HT_OK))
        abort();
    /* 1. the input as a blob of nrows rows */
    size_t n = (size_t)(data[0] | data[1] << 8) % (MAXROWS + 1);
    if (n) {
        ht_err e = ht__objcodec_decode(dec, data + 2, size - 2, n, back);
        if (e != HT_OK && e != HT_ECORRUPT)
            abort();
    }
    /* 2. the input as rows: round trip */
    size_t nr = 0;
    for (size_t at = 2; at < size && nr < MAXROWS; at += 41, nr++) {
        const uint8_t *p = data + at;
        size_t av = size - at;
        struct ht_objrow *r = &rows[nr];
        memset(r, 0, sizeof *r);
        r->addr = rd64(p, av);
        r->size = av > 8 ? rd64(p + 8, av - 8) : 0;
        r->alloc_seq = av > 16 ? rd64(p + 16, av - 16) : 0;
        r->free_seq = av > 24 ? rd64(p + 24, av - 24) : 0;
        r->pc = av > 32 ? rd64(p + 32, av - 32) ^ r->addr : 0;
        r->has_refcnt = av > 40 ? p[40] & 1 : 0;
        r->refcnt = r->has_refcnt ? (int64_t)(r->addr ^ r->size) : 0;
        r->tid = (uint32_t)(r->free_seq >> 17);
    }
    if (!nr)
        return 0;
    void *blob = NULL;
    size_t len = 0;
    if (ht_objenc_add(enc, rows, nr) != HT_OK ||
        ht__objenc_finish(enc, &blob, &len) != HT_OK ||
        ht_objenc_count(enc) != 0)
        abort();
    if (ht__objcodec_decode(dec, blob, len, nr, back) != HT_OK)
        abort();
    for (size_t i = 0; i < nr; i++) {
        const struct ht_objrow *a = &rows[i], *b = &back[i];
        if (a->addr != b->addr || a->size != b->size ||
            a->alloc_seq != b->alloc_seq || a->free_seq != b->free_seq ||
            a->pc != b->pc || a->tid != b->tid ||
            a->has_refcnt != b->has_refcnt || a->refcnt != b->refcnt)
            abort();
    }
    /* 3. one byte of the blob changed, or the row count off by one */
    ((uint8_t *)blob)[data[1] % len] ^= (uint8_t)(data[0] | 1);
    ht_err e = ht__objcodec_decode(dec, blob, len, nr, back);
    if (e != HT_OK && e != HT_ECORRUPT)
        abort();
    ((uint8_t *)blob)[data[1] % len] ^= (uint8_t)(data[0] | 1);
    if (ht__objcodec_decode(dec, blob, len, nr + 1, back) != HT_ECORRUPT)
        abort();
    free(blob);
    return 0;
}
