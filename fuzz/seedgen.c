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
#include "store/store_int.h"

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
        memset(b, 0, 200);
        b[0] = (uint8_t)(2 * s);
        put(argv[1], "spill", s, b, 200 + 48 * (size_t)s);
    }
    return 0;
}
