/*
 * bench_codec: measures the "cv1" chunk codec on a synthetic but realistic
 * alloc/free stream and prints bytes/event and encode/decode speed.
 *
 * The workload keeps a pool of live blocks; each step allocates (sizes
 * 16..1024) or frees a random live block. Addresses come from a toy allocator
 * with per-size-class LIFO free lists (like glibc's tcache/fastbins) and a bump
 * pointer for fresh memory, so recently freed addresses are reused first. Call
 * sites are drawn from 8 return addresses, two threads interleave.
 *
 * Usage: bench_codec [events]   (default 4M events; best of 3 passes)
 *        bench_codec --recs FILE [passes]
 *            FILE: raw struct ht_rec array (e.g. a real trace's records,
 *            decoded chunk by chunk), encoded in chunks of
 *            HT_CODEC_MAX_RECORDS; passes 3 by default (1 for a profile).
 */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NCLASS 64 /* 16-byte size classes up to 1024 */

struct toy {
    uint64_t top;
    uint64_t *fl[NCLASS];
    size_t nfl[NCLASS], capfl[NCLASS];
};

static uint64_t rng_state = 0x1234567887654321ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static unsigned cls_of(uint64_t size)
{
    return (unsigned)((size + 15) / 16 - 1);
}

static uint64_t toy_alloc(struct toy *t, uint64_t size)
{
    unsigned c = cls_of(size);
    if (t->nfl[c])
        return t->fl[c][--t->nfl[c]];
    uint64_t a = t->top;
    t->top += (uint64_t)(c + 1) * 16 + 16; /* chunk header */
    return a;
}

static void toy_free(struct toy *t, uint64_t a, uint64_t size)
{
    unsigned c = cls_of(size);
    if (t->nfl[c] == t->capfl[c]) {
        t->capfl[c] = t->capfl[c] ? 2 * t->capfl[c] : 64;
        t->fl[c] = realloc(t->fl[c], t->capfl[c] * sizeof(uint64_t));
        if (!t->fl[c])
            exit(1);
    }
    t->fl[c][t->nfl[c]++] = a;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The records of FILE (a raw struct ht_rec array) into *out, malloc'd;
 * their count, 0 on failure. */
static size_t load_recs(const char *path, struct ht_rec **out)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 1u << 20, n = 0, got;
    struct ht_rec *r = malloc(cap * sizeof(*r));

    *out = NULL;
    if (!f || !r) {
        if (f)
            fclose(f);
        free(r);
        return 0;
    }
    while ((got = fread(r + n, sizeof(*r), cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            struct ht_rec *g = realloc(r, 2 * cap * sizeof(*r));
            if (!g) {
                n = 0;
                break;
            }
            r = g;
            cap *= 2;
        }
    }
    fclose(f);
    if (!n)
        free(r);
    else
        *out = r;
    return n;
}

int main(int argc, char **argv)
{
    int file = argc > 2 && strcmp(argv[1], "--recs") == 0;
    size_t nev = file ? 0 : argc > 1 ? strtoull(argv[1], NULL, 10) : 4u << 20;
    int passes = file && argc > 3 ? atoi(argv[3]) : 3;
    struct ht_rec *recs = NULL;
    if (file) {
        if (!(nev = load_recs(argv[2], &recs))) {
            fprintf(stderr, "bench_codec: cannot read records from %s\n",
                    argv[2]);
            return 1;
        }
    } else {
        recs = calloc(nev, sizeof(*recs));
    }
    struct ht_rec *back = calloc(HT_CODEC_MAX_RECORDS, sizeof(*back));
    uint64_t *live = malloc(nev * sizeof(uint64_t));
    uint64_t *lsize = malloc(nev * sizeof(uint64_t));
    static const uint64_t pcs[8] = {
        0x55d0c0a01234, 0x55d0c0a01388, 0x55d0c0a0150c, 0x55d0c0a016f0,
        0x7f3a2b4c1a20, 0x7f3a2b4c1b44, 0x55d0c0a02210, 0x55d0c0a02954};
    struct toy t = {.top = 0x55d0c1e4a2a0};
    size_t nlive = 0, total = 0;
    double tenc = 1e30, tdec = 1e30;

    if (!recs || !back || !live || !lsize)
        return 1;
    for (size_t i = 0; !file && i < nev; i++) {
        struct ht_rec *r = &recs[i];
        r->seq = i + 1;
        r->tid = (rng() % 8) ? 4242 : 4243;
        r->d = pcs[rng() % 8];
        /* grow to ~2000 live blocks, then stay around that level */
        if (nlive == 0 || rng() % 4000 >= nlive) {
            uint64_t size = 16 + rng() % 1009;
            r->kind = HT_EV_ALLOC;
            r->a = toy_alloc(&t, size);
            r->b = size;
            live[nlive] = r->a;
            lsize[nlive++] = size;
        } else {
            size_t k = rng() % nlive;
            /* recently allocated blocks die young half of the time */
            if (rng() % 2 && nlive > 8)
                k = nlive - 1 - rng() % 8;
            r->kind = HT_EV_FREE;
            r->a = live[k];
            toy_free(&t, live[k], lsize[k]);
            live[k] = live[--nlive];
            lsize[k] = lsize[nlive];
        }
    }
    /* best of 3 passes: the machine may be shared */
    for (int pass = 0; pass < passes; pass++) {
        double te = 0, td = 0;
        total = 0;
        for (size_t off = 0; off < nev; off += HT_CODEC_MAX_RECORDS) {
            size_t n = nev - off < HT_CODEC_MAX_RECORDS ? nev - off
                                                        : HT_CODEC_MAX_RECORDS;
            void *buf;
            size_t len, got;
            double t0 = now();
            if (ht__codec_encode(recs + off, n, &buf, &len) != HT_OK)
                return 1;
            double t1 = now();
            if (ht__codec_decode(buf, len, back, HT_CODEC_MAX_RECORDS, &got) !=
                    HT_OK ||
                got != n)
                return 2;
            double t2 = now();
            for (size_t i = 0; i < n; i++) {
                /* reserved is not kept; a file's records may have it set */
                struct ht_rec want = recs[off + i];
                want.reserved = 0;
                if (memcmp(&back[i], &want, sizeof(*back)) != 0)
                    return 3;
            }
            te += t1 - t0;
            td += t2 - t1;
            total += len;
            free(buf);
        }
        tenc = te < tenc ? te : tenc;
        tdec = td < tdec ? td : tdec;
    }
    printf("events        %zu\n", nev);
    printf("bytes/event   %.3f\n", (double)total / (double)nev);
    printf("encode        %.1f M events/s  (%.0f MB/s of records)\n",
           (double)nev / tenc / 1e6, (double)nev * 48 / tenc / 1e6);
    printf("decode        %.1f M events/s  (%.0f MB/s of records)\n",
           (double)nev / tdec / 1e6, (double)nev * 48 / tdec / 1e6);
    for (int c = 0; c < NCLASS; c++)
        free(t.fl[c]);
    free(recs);
    free(back);
    free(live);
    free(lsize);
    return 0;
}
