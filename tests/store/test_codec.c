/*
 * Tests of the "cv1" chunk codec: exact round trips for every kind and for
 * edge values, and rejection of truncated or damaged chunks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zstd.h>

#include "store/store_int.h"

static uint64_t rs = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

/* A value drawn from a mix of small, pointer-like, and arbitrary 64-bit. */
static uint64_t rnd_val(void)
{
    switch (rnd() % 4) {
    case 0:
        return rnd() % 1024;
    case 1:
        return 0x7f0000000000ull + (rnd() % 4096) * 16;
    case 2:
        return rnd();
    default:
        return 0;
    }
}

static void fill_random(struct ht_rec *r, size_t n)
{
    uint64_t seq = rnd() % 1000;
    for (size_t i = 0; i < n; i++) {
        seq += 1 + (rnd() % 8 == 0 ? rnd() % 100000 : 0);
        r[i].seq = seq;
        r[i].kind = (uint8_t)(1 + rnd() % (HT_EV_KIND_COUNT - 1));
        r[i].tid = (uint32_t)(rnd() % 5 ? 100 + rnd() % 4 : rnd());
        r[i].flags = (uint16_t)(rnd() % 3 ? 0 : rnd());
        r[i].a = rnd_val();
        r[i].b = rnd_val();
        r[i].c = rnd_val();
        r[i].d = rnd() % 2 ? 0x400000 + rnd() % 16 : rnd_val();
        /* address reuse so the history tokens are exercised */
        if (i > 0 && rnd() % 2)
            r[i].a = r[rnd() % i].a;
        if (i > 0 && rnd() % 4 == 0)
            r[i].c = r[rnd() % i].a;
        r[i].reserved = 0;
    }
}

/* Encode then decode recs and check exact equality (reserved ignored). */
static void round_trip(const struct ht_rec *recs, size_t n)
{
    void *buf = NULL;
    size_t len = 0, got = 99;
    struct ht_rec *back = calloc(n, sizeof(*back));

    assert_non_null(back);
    assert_int_equal(ht__codec_encode(recs, n, &buf, &len), HT_OK);
    assert_non_null(buf);
    assert_true(len > 10);
    assert_int_equal(ht__codec_decode(buf, len, back, n, &got), HT_OK);
    assert_int_equal(got, n);
    for (size_t i = 0; i < n; i++) {
        struct ht_rec want = recs[i];
        want.reserved = 0;
        assert_memory_equal(&back[i], &want, sizeof(want));
    }
    free(buf);
    free(back);
}

static void test_round_trip_random(void **state)
{
    (void)state;
    for (size_t n = 1; n <= 4097; n = n * 3 + 1) {
        struct ht_rec *r = calloc(n, sizeof(*r));
        assert_non_null(r);
        fill_random(r, n);
        round_trip(r, n);
        free(r);
    }
}

static void test_round_trip_one(void **state)
{
    struct ht_rec r = {.seq = 7, .a = 0x1000, .b = 32, .c = 0, .d = 0x401234,
                       .tid = 55, .flags = 0, .reserved = 9,
                       .kind = HT_EV_ALLOC};
    (void)state;
    round_trip(&r, 1);
}

static void test_round_trip_extremes(void **state)
{
    static const uint64_t ext[] = {0, 1, UINT64_MAX, UINT64_MAX - 1,
                                   (uint64_t)INT64_MAX, (uint64_t)INT64_MIN,
                                   0x8000000000000001ull, 127, 128};
    enum { N = 9 * 9 };
    struct ht_rec r[N * 2];
    (void)state;
    memset(r, 0, sizeof(r));
    for (size_t i = 0; i < N * 2; i++) {
        size_t j = i % N;
        r[i].seq = ext[j / 9];
        r[i].a = ext[j % 9];
        r[i].b = ext[j / 9];
        r[i].c = ext[(j + 3) % 9];
        r[i].d = ext[(j + 5) % 9];
        r[i].tid = i % 2 ? UINT32_MAX : 0;
        r[i].flags = i % 3 ? UINT16_MAX : 0;
        r[i].kind = (uint8_t)(i < N ? i % 15 : 255 - i % 7);
    }
    round_trip(r, N * 2);
}

static void test_round_trip_max(void **state)
{
    size_t n = HT_CODEC_MAX_RECORDS;
    struct ht_rec *r = calloc(n, sizeof(*r));
    (void)state;
    assert_non_null(r);
    fill_random(r, n);
    round_trip(r, n);
    free(r);
}

static void test_bad_args(void **state)
{
    struct ht_rec r[2] = {{.kind = HT_EV_FREE, .seq = 1}};
    void *buf = (void *)1;
    size_t len = 5, got = 5;
    (void)state;
    assert_int_equal(ht__codec_encode(r, 0, &buf, &len), HT_EINVAL);
    assert_null(buf);
    assert_int_equal(len, 0);
    assert_int_equal(ht__codec_encode(r, HT_CODEC_MAX_RECORDS + 1, &buf, &len),
                     HT_EINVAL);
    assert_int_equal(ht__codec_encode(r, 2, &buf, &len), HT_OK);
    /* capacity smaller than the record count */
    assert_int_equal(ht__codec_decode(buf, len, r, 1, &got), HT_EINVAL);
    assert_int_equal(got, 0);
    free(buf);
}

/* Every strict prefix of a valid chunk must be rejected. */
static void test_truncations(void **state)
{
    struct ht_rec r[40], back[40];
    void *buf;
    size_t len, got;
    (void)state;
    memset(r, 0, sizeof(r));
    fill_random(r, 40);
    assert_int_equal(ht__codec_encode(r, 40, &buf, &len), HT_OK);
    for (size_t l = 0; l < len; l++) {
        void *copy = malloc(l ? l : 1); /* exact size: ASan sees overreads */
        assert_non_null(copy);
        memcpy(copy, buf, l);
        got = 7;
        assert_int_equal(ht__codec_decode(copy, l, back, 40, &got),
                         HT_ECORRUPT);
        assert_int_equal(got, 0);
        free(copy);
    }
    free(buf);
}

/* Random byte flips never crash and never yield different records: the
 * decoder either rejects the chunk or returns exactly the original. */
static void test_byte_flips(void **state)
{
    struct ht_rec r[64], back[64];
    void *buf;
    size_t len, got;
    int rejected = 0;
    (void)state;
    memset(r, 0, sizeof(r));
    fill_random(r, 64);
    assert_int_equal(ht__codec_encode(r, 64, &buf, &len), HT_OK);
    for (int trial = 0; trial < 3000; trial++) {
        uint8_t *copy = malloc(len);
        assert_non_null(copy);
        memcpy(copy, buf, len);
        int flips = 1 + (int)(rnd() % 3);
        for (int f = 0; f < flips; f++)
            copy[rnd() % len] ^= (uint8_t)(1 + rnd() % 255);
        ht_err rc = ht__codec_decode(copy, len, back, 64, &got);
        if (rc == HT_OK) {
            assert_int_equal(got, 64);
            for (size_t i = 0; i < 64; i++)
                assert_memory_equal(&back[i], &r[i], sizeof(r[i]));
        } else {
            assert_int_equal(rc, HT_ECORRUPT);
            assert_int_equal(got, 0);
            rejected++;
        }
        free(copy);
    }
    assert_true(rejected > 2900);
    /* trailing garbage after the frame */
    uint8_t *longer = malloc(len + 3);
    assert_non_null(longer);
    memcpy(longer, buf, len);
    memset(longer + len, 0xAB, 3);
    assert_int_equal(ht__codec_decode(longer, len + 3, back, 64, &got),
                     HT_ECORRUPT);
    free(longer);
    free(buf);
}

/* Re-wrap a (mutated) raw body as a chunk with a valid header and a valid
 * zstd frame, so the decoder's body parser itself sees the damage. */
static size_t rewrap(const uint8_t *hdr, const uint8_t *raw, size_t raw_len,
                     uint8_t *dst, size_t cap)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    size_t z;
    assert_non_null(c);
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    z = ZSTD_compress2(c, dst + 10, cap - 10, raw, raw_len);
    ZSTD_freeCCtx(c);
    assert_false(ZSTD_isError(z));
    memcpy(dst, hdr, 6);
    dst[6] = (uint8_t)raw_len;
    dst[7] = (uint8_t)(raw_len >> 8);
    dst[8] = (uint8_t)(raw_len >> 16);
    dst[9] = (uint8_t)(raw_len >> 24);
    return z + 10;
}

/* Mutated bodies inside valid frames: the parser must never read out of
 * bounds (run under ASan/valgrind) and must reject or decode consistently. */
static void test_mutated_bodies(void **state)
{
    enum { N = 200 };
    struct ht_rec r[N], back[N];
    uint8_t *buf, raw[N * 130], mut[N * 130 + 8], chunk[N * 200];
    size_t len, raw_len, got;
    int rejected = 0;
    (void)state;
    memset(r, 0, sizeof(r));
    fill_random(r, N);
    assert_int_equal(ht__codec_encode(r, N, (void **)&buf, &len), HT_OK);
    raw_len = ZSTD_decompress(raw, sizeof(raw), buf + 10, len - 10);
    assert_false(ZSTD_isError(raw_len));
    /* the unmodified re-wrapped body decodes to the original */
    len = rewrap(buf, raw, raw_len, chunk, sizeof(chunk));
    assert_int_equal(ht__codec_decode(chunk, len, back, N, &got), HT_OK);
    assert_memory_equal(back, r, sizeof(r));
    for (int trial = 0; trial < 2000; trial++) {
        size_t ml = raw_len;
        memcpy(mut, raw, raw_len);
        switch (trial % 3) {
        case 0: /* flip bytes */
            for (int f = 0; f < 1 + trial % 4; f++)
                mut[rnd() % ml] ^= (uint8_t)(1 + rnd() % 255);
            break;
        case 1: /* cut the tail */
            ml = rnd() % raw_len;
            break;
        default: /* large varints in random places */
            for (int f = 0; f < 4; f++)
                mut[rnd() % ml] = 0xff;
            break;
        }
        len = rewrap(buf, mut, ml, chunk, sizeof(chunk));
        ht_err rc = ht__codec_decode(chunk, len, back, N, &got);
        if (rc != HT_OK) {
            assert_int_equal(rc, HT_ECORRUPT);
            assert_int_equal(got, 0);
            rejected++;
        } else {
            assert_int_equal(got, N);
        }
    }
    assert_true(rejected > 1000);
    free(buf);
}

/* Realistic alloc/free traffic (LIFO reuse) must stay well under the
 * 6 bytes/event budget; the exact figure is measured by bench_codec. */
static void test_alloc_free_is_compact(void **state)
{
    enum { N = 8192 };
    struct ht_rec *r = calloc(N, sizeof(*r));
    uint64_t live[N], freed[N];
    size_t nlive = 0, nfreed = 0;
    uint64_t top = 0x55d0c1e4a2a0;
    void *buf;
    size_t len;
    (void)state;
    assert_non_null(r);
    for (size_t i = 0; i < N; i++) {
        r[i].seq = i + 1;
        r[i].tid = 10;
        r[i].d = 0x401000 + 0x40 * (rnd() % 8);
        if (nlive == 0 || rnd() % 2) {
            r[i].kind = HT_EV_ALLOC;
            r[i].b = 16 * (1 + rnd() % 4);
            r[i].a = nfreed ? freed[--nfreed] : (top += 0x50);
            live[nlive++] = r[i].a;
        } else {
            size_t k = rnd() % nlive;
            r[i].kind = HT_EV_FREE;
            r[i].a = live[k];
            freed[nfreed++] = live[k];
            live[k] = live[--nlive];
        }
    }
    round_trip(r, N);
    assert_int_equal(ht__codec_encode(r, N, &buf, &len), HT_OK);
    assert_true(len < 6 * N);
    free(buf);
    free(r);
}

/* The streaming decoder: one decoder over several chunks, batches of any
 * size give back exactly the records (workspace reused, state reset per
 * chunk); a chunk whose streams are not consumed exactly fails at its last
 * batch (and at every later call), and the decoder then decodes the next
 * chunk. */
static void test_stream_batches(void **state)
{
    enum { N1 = 5000, N2 = 3001 };
    static struct ht_rec r1[N1], r2[N2], back[N1];
    void *b1, *b2;
    size_t l1, l2, cnt, got;
    ht__codec_dec *d = NULL;
    (void)state;
    fill_random(r1, N1);
    fill_random(r2, N2);
    assert_int_equal(ht__codec_encode(r1, N1, &b1, &l1), HT_OK);
    assert_int_equal(ht__codec_encode(r2, N2, &b2, &l2), HT_OK);
    assert_int_equal(ht__codec_dec_new(&d), HT_OK);
    static const size_t batch[] = {1, 7, 1024, N1};
    for (size_t t = 0; t < sizeof batch / sizeof *batch; t++) {
        const struct ht_rec *want[2] = {r1, r2};
        const void *buf[2] = {b1, b2};
        size_t len[2] = {l1, l2}, n[2] = {N1, N2};
        for (int c = 0; c < 2; c++) {
            assert_int_equal(ht__codec_dec_open(d, buf[c], len[c], &cnt),
                             HT_OK);
            assert_int_equal(cnt, n[c]);
            size_t at = 0;
            do {
                assert_int_equal(ht__codec_dec_next(d, back + at, batch[t],
                                                    &got), HT_OK);
                assert_true(got <= batch[t]);
                at += got;
            } while (got);
            assert_int_equal(at, n[c]);
            for (size_t i = 0; i < n[c]; i++) {
                struct ht_rec w = want[c][i];
                w.reserved = 0;
                assert_memory_equal(&back[i], &w, sizeof w);
            }
        }
    }
    /* one extra byte in the last stream: every record decodes, the check
     * at the end does not hold */
    uint8_t raw[N2 * 140], chunk[N2 * 150];
    size_t raw_len = ZSTD_decompress(raw, sizeof raw, (uint8_t *)b2 + 10,
                                     l2 - 10);
    assert_false(ZSTD_isError(raw_len));
    /* the last stream's length is the 11th varint of the body: rebuild the
     * body with it one larger and a trailing byte */
    const uint8_t *p = raw;
    uint8_t nb[N2 * 140 + 20];
    size_t nl = 0, lens[11];
    for (int s = 0; s < 11; s++) {
        uint64_t v = 0;
        for (unsigned sh = 0;; sh += 7) {
            v |= (uint64_t)(*p & 0x7f) << sh;
            if (!(*p++ & 0x80))
                break;
        }
        lens[s] = v + (s == 10);
    }
    for (int s = 0; s < 11; s++)
        nl += ht__put_varint(nb + nl, lens[s]);
    size_t rest = raw_len - (size_t)(p - raw);
    memcpy(nb + nl, p, rest);
    nl += rest;
    nb[nl++] = 0;
    size_t cl = rewrap(b2, nb, nl, chunk, sizeof chunk);
    assert_int_equal(ht__codec_dec_open(d, chunk, cl, &cnt), HT_OK);
    assert_int_equal(ht__codec_dec_next(d, back, 1000, &got), HT_OK);
    assert_int_equal(got, 1000);
    assert_int_equal(ht__codec_dec_next(d, back, N2, &got), HT_ECORRUPT);
    assert_int_equal(got, 0);
    /* the error stays until the next open */
    assert_int_equal(ht__codec_dec_next(d, back, N2, &got), HT_ECORRUPT);
    assert_int_equal(got, 0);
    assert_int_equal(ht__codec_decode(chunk, cl, back, N2, &got), HT_ECORRUPT);
    /* the decoder is usable for the next chunk */
    assert_int_equal(ht__codec_dec_open(d, b1, l1, &cnt), HT_OK);
    assert_int_equal(ht__codec_dec_next(d, back, N1, &got), HT_OK);
    assert_int_equal(got, N1);
    assert_int_equal(ht__codec_dec_open(d, "xx", 2, &cnt), HT_ECORRUPT);
    assert_int_equal(cnt, 0);
    ht__codec_dec_free(d);
    ht__codec_dec_free(NULL);
    free(b1);
    free(b2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_one),
        cmocka_unit_test(test_round_trip_random),
        cmocka_unit_test(test_round_trip_extremes),
        cmocka_unit_test(test_round_trip_max),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_byte_flips),
        cmocka_unit_test(test_mutated_bodies),
        cmocka_unit_test(test_alloc_free_is_compact),
        cmocka_unit_test(test_stream_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
