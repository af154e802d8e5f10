/*
 * Seed generator for the fuzz targets: writes real encoded chunks
 * (ht__codec_encode of plausible event streams) into DIR/codec/, and compact
 * inputs for the other targets into DIR/<target>/. Usage: fuzz_seedgen DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "heaptrail/event.h"
#include "heaptrail/spill.h"
#include "store/store_int.h"
#include "tests/support/spill_write.h"

static void put(const char *dir, const char *t, int i, const void *b, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, t);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/seed%d", dir, t, i);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n)
        exit(1);
    fclose(f);
}

/* A fuzz_spill input (fuzz/fuzz_spill.c): the header fields after the
 * magic, then two chunks of real slots. Even s: a version-2 spill with 16
 * slots per chunk (owner slots, compact and wide records, a torn wide
 * record, an unused tail); odd s: a version-1 spill of 48-byte records. */
static void spill_seed(const char *dir, int s)
{
    static uint8_t in[1 + 4096 + 2 * 16 * sizeof(struct ht_rec)];
    const size_t fields = offsetof(struct ht_spill_header, exe) - 8;
    const size_t cnt = offsetof(struct ht_spill_header, max_chunks);
    struct ht_spill_header *h = ht_test_spill_header(s & 1 ? 4 : 16, 15, "");
    if (!h)
        exit(1);
    h->next_chunk = 2;
    h->seq = 64;
    memset(in, 0, sizeof in);
    in[0] = (uint8_t)(s & 1 ? 1 + 2 * s : 2 * s); /* odd: all fields */
    static struct ht_spill_rec sl[2 * 16]; /* aligned; copied after the fields */
    static struct ht_rec r[8];
    memset(sl, 0, sizeof sl);
    memset(r, 0, sizeof r);
    const void *body = sl;
    size_t len;
    if (s & 1) {
        h->version = 1;
        h->rec_size = sizeof(struct ht_rec);
        memcpy(in + 1, (char *)h + 8, fields);
        body = r;
        for (int i = 0; i < 8; i++)
            if (i != 2 + s % 3) /* one torn slot */
                r[i] = (struct ht_rec){(uint64_t)(7 - i) ^ (uint64_t)(i & 4),
                                       0x1000 + 16u * (unsigned)(i % 3),
                                       i % 4 ? 32u : UINT64_MAX, 0, 0x401000,
                                       (uint32_t)(100 + i / 4), 0, 0,
                                       (uint8_t)(i % 2 ? HT_EV_FREE
                                                       : HT_EV_ALLOC)};
        len = 8 * sizeof *r;
    } else {
        memcpy(in + 1, (char *)h + cnt, fields - (cnt - 8));
        for (int c = 0; c < 2; c++) {
            size_t k = (size_t)c * 16;
            ht_spill_owner(&sl[k++], (uint32_t)(100 + c));
            for (int i = 0; i < 5; i++) {
                struct ht_rec r = {(uint64_t)(2 * i + c), 0x1000 + 16u * (unsigned)i,
                                   (i + s) % 3 ? 24u : UINT64_MAX - (unsigned)i,
                                   0, (i + c) % 2 ? 0x401000 : 1ull << 60, 0,
                                   (uint16_t)(i % 2), 0,
                                   (uint8_t)(1 + (i + s) % 14)};
                k += ht_spill_pack(&sl[k], &r);
                if (i == 2 && c == 1) {
                    sl[k].w[0] = 0x99; /* a wide record's first half alone */
                    k += 2;
                }
                if (i == 3 && c == 0)
                    ht_spill_owner(&sl[k++], 102);
            }
        }
        len = 2 * 16 * sizeof *sl;
    }
    free(h);
    memcpy(in + 1 + fields, body, len);
    put(dir, "spill", s, in, 1 + fields + len);
}

/* Entry point: see the file comment. */
int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    static struct ht_rec r[512];
    static uint8_t b[4096];
    for (int s = 0; s < 8; s++) {
        size_t n = 1 + (size_t)s * 60;
        for (size_t i = 0; i < n; i++) {
            memset(&r[i], 0, sizeof r[i]);
            r[i].seq = 100 + i;
            r[i].kind = (uint8_t)(1 + (i * 7 + (size_t)s) % 14);
            r[i].a = 0x55550000 + 16 * ((i * 13) % 40);
            r[i].b = (i * 37) % 600;
            r[i].c = (s & 1) ? 0x55550000 + 16 * (i % 5) : 0;
            r[i].d = 0x401000 + (i % 9) * 4;
            r[i].tid = 1000 + (uint32_t)(i % (1 + s % 3));
            r[i].flags = (uint16_t)(i % 3 == 0 ? HT_EVF_SITE : 0);
        }
        void *buf;
        size_t len;
        if (ht__codec_encode(r, n, &buf, &len) != 0)
            return 1;
        put(argv[1], "codec", s, buf, len);
        free(buf);
        /* compact streams: alloc/free pairs, reallocs, stores */
        for (size_t i = 0; i < 8 * n && i < sizeof b; i++)
            b[i] = (uint8_t)(i % 8 == 0 ? 1 + (i / 8) % 4 : (i * 31 + s) & 0xff);
        size_t bl = 8 * n < sizeof b ? 8 * n : sizeof b;
        put(argv[1], "summary", s, b, bl);
        put(argv[1], "pymalloc", s, b, bl);
        put(argv[1], "gcmodel", s, b, bl);
        spill_seed(argv[1], s);
    }
    return 0;
}
