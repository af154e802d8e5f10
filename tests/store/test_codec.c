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
#include "tests/support/chunk_body.h"

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

/* ht__get_varint, the bounded varint reader of both codecs: every value
 * ht__put_varint writes reads back with its length; a 10th byte above 1
 * (bits past the 64th), an 11th byte and a varint cut by the end are
 * rejected; ht__body_split rejects such a part length. */
static void test_get_varint(void **state)
{
    (void)state;
    static const uint64_t vals[] = {0, 1, 127, 128, 16383, 16384,
                                    UINT64_C(1) << 35, UINT64_C(1) << 63,
                                    UINT64_MAX};
    uint8_t b[16];
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        size_t n = ht__put_varint(b, vals[i]);
        const uint8_t *p = b;
        uint64_t v = 12345;
        assert_int_equal(ht__get_varint(&p, b + n, &v), 1);
        assert_true(v == vals[i]);
        assert_ptr_equal(p, b + n);
        p = b; /* one byte short */
        assert_int_equal(ht__get_varint(&p, b + n - 1, &v), 0);
        assert_true(v == vals[i]); /* untouched */
    }
    /* UINT64_MAX is nine 0xff then 0x01: the 10th byte's limit */
    memset(b, 0xff, 9);
    for (unsigned last = 0; last < 256; last++) {
        b[9] = (uint8_t)last;
        b[10] = 0; /* ends an 11-byte varint when last has 0x80 */
        const uint8_t *p = b;
        uint64_t v = 0;
        int ok = ht__get_varint(&p, b + 11, &v);
        assert_int_equal(ok, last <= 1);
        if (ok)
            assert_true(v == (last ? UINT64_MAX : UINT64_MAX >> 1));
    }
    /* a body whose first part length is overlong */
    uint8_t body[16];
    memset(body, 0xff, 9);
    body[9] = 0x02;
    const uint8_t *ps[1], *pe[1];
    assert_int_equal(ht__body_split(body, 10, 1, ps, pe), 0);
    body[0] = 0x80; /* 0 as a 10-byte varint: accepted, an empty part */
    memset(body + 1, 0x80, 8);
    body[9] = 0x00;
    assert_int_equal(ht__body_split(body, 10, 1, ps, pe), 1);
    assert_ptr_equal(ps[0], pe[0]);
}

/* ht__body_pack (both codecs' compression): the blob is exactly hdr bytes
 * plus one zstd frame holding the part lengths then the parts; the caller's
 * workspace grows to the largest bound and is reused, not regrown, by a
 * smaller body; a bad part count is HT_ENOMEM with *out NULL. */
static void test_body_pack(void **state)
{
    (void)state;
    static uint8_t big[200000];
    uint8_t small[3] = {7, 8, 9};
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 31 % 251);
    uint8_t *base[3] = {big, small, small + 3}, *end[3] = {big + sizeof big,
                                                           small + 3,
                                                           small + 3};
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    assert_non_null(cctx);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    uint8_t *zbuf = NULL, *blob = NULL;
    size_t zcap = 0, len = 0;
    static uint8_t body[sizeof big + 16];
    size_t cap0 = 0;
    uint8_t *z0 = NULL;
    for (int round = 0; round < 2; round++) {
        /* round 0: the big part first; round 1: only the small one */
        int first = round;
        assert_int_equal(ht__body_pack(cctx, base + first, end + first,
                                       3 - first, 5, &zbuf, &zcap, &blob,
                                       &len),
                         HT_OK);
        if (round == 0) {
            assert_true(zcap >= ZSTD_compressBound(sizeof big));
            cap0 = zcap;
            z0 = zbuf;
        }
        assert_int_equal(zcap, cap0);
        assert_ptr_equal(zbuf, z0);
        assert_int_equal(ZSTD_findFrameCompressedSize(blob + 5, len - 5),
                         len - 5);
        size_t raw = ZSTD_decompress(body, sizeof body, blob + 5, len - 5);
        assert_false(ZSTD_isError(raw));
        assert_int_equal(ZSTD_getFrameContentSize(blob + 5, len - 5), raw);
        const uint8_t *ps[3], *pe[3];
        assert_int_equal(ht__body_split(body, raw, 3 - first, ps, pe), 1);
        for (int k = 0; k < 3 - first; k++) {
            assert_int_equal(pe[k] - ps[k], end[first + k] - base[first + k]);
            assert_memory_equal(ps[k], base[first + k],
                                (size_t)(pe[k] - ps[k]));
        }
        free(blob);
    }
    assert_int_equal(ht__body_pack(cctx, base, end, 0, 5, &zbuf, &zcap,
                                   &blob, &len),
                     HT_ENOMEM);
    assert_null(blob);
    assert_int_equal(len, 0);
    free(zbuf);
    ZSTD_freeCCtx(cctx);
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

/* ---- codec version 1 (no reference history) stays readable -------------- */

/* 24 records of every address-carrying kind, values chosen by hand so that
 * the v2 predictors (ref history, NULL token) and the v1 deltas all occur. */
static void old_format_recs(struct ht_rec *r, size_t n)
{
    static const struct {
        uint8_t kind;
        uint64_t a, b, c, d;
    } t[] = {
        {HT_EV_ALLOC, 0x55d0c1e4a2a0, 80, 0, 0x401000},
        {HT_EV_ALLOC, 0x55d0c1e4a300, 80, 0, 0x401000},
        {HT_EV_INCREF, 0x55d0c1e4a300, 0, 0, 7},
        {HT_EV_STORE, 0x55d0c1e4a2a8, 0x55d0c1e4a300, 0, 9},
        {HT_EV_DECREF, 0x55d0c1e4a300, 0, 0, 8},
        {HT_EV_STORE, 0x55d0c1e4a2a8, 0, 0x55d0c1e4a300, 10},
        {HT_EV_INCREF, 0x55d0c1e4a2a0, 0, 0, 7},
        {HT_EV_STORE, 0x55d0c1e4a308, 0x55d0c1e4a2a0, 0, 9},
        {HT_EV_STORE, 0x601040, 0x55d0c1e4a300, 0, 11},
        {HT_EV_FREE, 0x55d0c1e4a300, 0, 0, 0x401040},
        {HT_EV_REALLOC, 0x55d0c1e4b000, 160, 0x55d0c1e4a2a0, 0x401080},
        {HT_EV_STORE, 0x601048, 0x55d0c1e4b000, 0x55d0c1e4a2a0, 11},
        {HT_EV_DECREF, 0x55d0c1e4a2a0, 0, 0, 8},
        {HT_EV_STORE, 0x55d0c1e4b008, 0x55d0c1e4b000, 0x55d0c1e4b000, 12},
        {HT_EV_INCREF, 0, 0, 0, 7},
        {HT_EV_STORE, 0x55d0c1e4b010, 0xffffffffffffffff, 1, 12},
        {HT_EV_EDGE, 0x55d0c1e4b008, 0x55d0c1e4b000, 0, 0},
        {HT_EV_ROOT, 0x601000, 0x1000, 0, 0},
        {HT_EV_INCREF, 0x55d0c1e4b000, 0, 0, 0x401100},
        {HT_EV_DECREF, 0x55d0c1e4b000, 0, 0, 0x401100},
        {HT_EV_DECREF, 0x55d0c1e4b000, 0, 0, 8},
        {HT_EV_FREE, 0x55d0c1e4b000, 0, 0, 0x401040},
        {HT_EV_STORE, 0x55d0c1e4b010, 0, 0x55d0c1e4b000, 12},
        {HT_EV_EXIT, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < n && i < sizeof t / sizeof t[0]; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].seq = 100 + 3 * i;
        r[i].kind = t[i].kind;
        r[i].tid = i % 5 == 4 ? 4242 : 4241;
        r[i].flags = t[i].kind >= HT_EV_STORE && t[i].kind <= HT_EV_DECREF
                         ? HT_EVF_SITE : 0;
        r[i].a = t[i].a;
        r[i].b = t[i].b;
        r[i].c = t[i].c;
        r[i].d = t[i].d;
    }
}

/* old_format_recs encoded by the version 1 encoder (74c3813, before the
 * reference history): traces written then must decode unchanged. */
static const uint8_t old_chunk[235] = {
    0xc5, 0x01, 0x18, 0x00, 0x00, 0x00, 0x6f, 0x01, 0x00, 0x00, 0x28, 0xb5,
    0x2f, 0xfd, 0x64, 0x6f, 0x00, 0x9d, 0x06, 0x00, 0x12, 0x0a, 0x24, 0x2a,
    0xa0, 0x27, 0xe9, 0x2c, 0xea, 0xdf, 0x2f, 0x4e, 0xb4, 0xc1, 0xbd, 0xd2,
    0x59, 0xe4, 0xfa, 0xc5, 0xec, 0x3b, 0x33, 0x39, 0xfc, 0x83, 0x7f, 0x2b,
    0x3c, 0x31, 0xc2, 0x34, 0xf4, 0xb7, 0x1f, 0xd8, 0xb5, 0xd6, 0xf6, 0xde,
    0x64, 0x6f, 0xb9, 0xa5, 0x4c, 0x01, 0xca, 0x0b, 0x7c, 0x85, 0xb2, 0x02,
    0x2b, 0x3b, 0x9d, 0x70, 0xac, 0x21, 0xca, 0x0e, 0x37, 0xb6, 0x92, 0x73,
    0xad, 0xb1, 0x64, 0x49, 0x21, 0x4b, 0x69, 0x6e, 0xd2, 0x74, 0x9a, 0xe6,
    0x7f, 0x84, 0xfe, 0x4c, 0x3f, 0x78, 0x71, 0xf3, 0xb9, 0x0d, 0x22, 0x44,
    0x40, 0x12, 0x99, 0xfe, 0x02, 0x41, 0xf8, 0x44, 0x9c, 0xd1, 0xc1, 0x49,
    0xf3, 0xe1, 0xe3, 0x50, 0xd0, 0x19, 0x07, 0xa2, 0x3f, 0x10, 0x70, 0xf6,
    0x02, 0xc1, 0x04, 0x06, 0x81, 0x4e, 0x7d, 0xe6, 0xaf, 0x20, 0x28, 0x07,
    0xf9, 0xff, 0x09, 0x60, 0xb1, 0x69, 0x2d, 0xd5, 0x9c, 0xa6, 0x5d, 0xb5,
    0x6b, 0x55, 0x66, 0xe3, 0x31, 0x36, 0x1b, 0xd6, 0xdb, 0xf7, 0x5e, 0x1b,
    0x00, 0x39, 0x05, 0x6c, 0x23, 0x0a, 0xd3, 0x51, 0x98, 0x40, 0x0c, 0xcc,
    0x05, 0x87, 0x55, 0x1a, 0x46, 0x0a, 0x63, 0x36, 0xc7, 0x2f, 0x2a, 0x07,
    0x4d, 0x1b, 0x0a, 0x16, 0xc4, 0x33, 0x03, 0xae, 0xc8, 0xc8, 0x4c, 0x00,
    0x1a, 0xae, 0x3c, 0x8e, 0xe9, 0x6c, 0x26, 0xb2, 0x2c, 0xad, 0xa2, 0x92,
    0x55, 0xb9, 0xc6, 0x92, 0x03, 0x6e, 0x30, 0x28, 0x89, 0xc6, 0x29, 0xba,
    0xab, 0x34, 0x01, 0xbf, 0xf5, 0xdc, 0x73,
};

/* chunk[0..len), of codec version ver, decodes to old_format_recs. */
static void old_chunk_decodes(const uint8_t *chunk, size_t len, unsigned ver)
{
    struct ht_rec want[24], back[24];
    size_t got = 99;
    old_format_recs(want, 24);
    assert_int_equal(chunk[1], ver); /* really a chunk of that version */
    assert_int_equal(ht__codec_decode(chunk, len, back, 24, &got), HT_OK);
    assert_int_equal(got, 24);
    assert_memory_equal(back, want, sizeof want);
}

static void test_old_version_decodes(void **state)
{
    struct ht_rec want[24];
    (void)state;
    old_chunk_decodes(old_chunk, sizeof old_chunk, 1);
    old_format_recs(want, 24);
    /* the same records round-trip through the current version too */
    round_trip(want, 24);
}

/* old_format_recs encoded by the version 2 encoder (91239de, before the
 * record header byte of version 3): traces written then must decode
 * unchanged. */
static const uint8_t v2_chunk[205] = {
    0xc5, 0x02, 0x18, 0x00, 0x00, 0x00, 0x2b, 0x01, 0x00, 0x00, 0x28, 0xb5,
    0x2f, 0xfd, 0x64, 0x2b, 0x00, 0xad, 0x05, 0x00, 0x72, 0x0a, 0x23, 0x27,
    0xa0, 0x27, 0xe9, 0x46, 0xf5, 0xef, 0x17, 0x27, 0xa6, 0xba, 0xb5, 0xfb,
    0xc8, 0x55, 0xe5, 0xed, 0x88, 0x9f, 0x54, 0x81, 0x12, 0x02, 0x40, 0x19,
    0xc2, 0x44, 0xfa, 0xdb, 0x0f, 0xec, 0x5a, 0x6b, 0x7b, 0x6f, 0xb2, 0xb7,
    0xdc, 0x29, 0xa5, 0xf7, 0x8f, 0xad, 0x11, 0x8f, 0x6a, 0xf4, 0x91, 0xfb,
    0xfe, 0x9f, 0x0a, 0x59, 0xc5, 0x33, 0x21, 0x9f, 0xce, 0x4b, 0xb4, 0xc5,
    0x90, 0xa7, 0x93, 0x6c, 0x29, 0xd4, 0x1a, 0x63, 0xcb, 0x0b, 0x25, 0x44,
    0xa5, 0x1b, 0xd1, 0xed, 0x30, 0x4c, 0xdb, 0xf6, 0x91, 0x2a, 0x5f, 0x36,
    0x5f, 0x41, 0x03, 0x84, 0x40, 0x12, 0x91, 0x8e, 0x4c, 0x5e, 0x2e, 0x4f,
    0xd3, 0x2c, 0x38, 0x10, 0xf8, 0xf5, 0xc1, 0x6f, 0x79, 0x1a, 0x04, 0x86,
    0x81, 0xe7, 0xd7, 0x6e, 0x95, 0x03, 0xc5, 0xc0, 0x6d, 0x8b, 0x02, 0x16,
    0x88, 0x94, 0x4a, 0xac, 0x1d, 0x21, 0x26, 0x54, 0x98, 0x6c, 0xd7, 0x70,
    0x0c, 0x04, 0x50, 0x0e, 0x9d, 0x73, 0x01, 0x10, 0x00, 0x39, 0x05, 0x20,
    0x46, 0x54, 0x30, 0x02, 0x1c, 0x56, 0x69, 0xb8, 0x26, 0x62, 0xd0, 0x34,
    0x4d, 0x91, 0xb0, 0x8c, 0x46, 0x75, 0xa0, 0xd2, 0x80, 0xc5, 0x01, 0x1c,
    0x66, 0x50, 0x12, 0x8d, 0x53, 0x74, 0x57, 0x69, 0x02, 0x1b, 0xab, 0x17,
    0x3d,
};

/* Every flipped body byte of chunk[0..clen) (24 records; rewrapped, so
 * that the zstd checksum does not catch it first) is rejected or decodes
 * to 24 records, and every cut body is rejected: the flips rejected,
 * *raw_len = the body's size. */
static size_t flips_rejected(const uint8_t *chunk0, size_t clen,
                             size_t *raw_len)
{
    struct ht_rec back[24];
    size_t got = 99;
    uint8_t raw[2048], mut[2048], chunk[4096];
    size_t rl = ZSTD_decompress(raw, sizeof raw, chunk0 + 10, clen - 10);
    assert_false(ZSTD_isError(rl));
    size_t rejected = 0;
    for (size_t i = 0; i < rl; i++) {
        memcpy(mut, raw, rl);
        mut[i] ^= 0x5a;
        size_t len = rewrap(chunk0, mut, rl, chunk, sizeof chunk);
        ht_err rc = ht__codec_decode(chunk, len, back, 24, &got);
        assert_true(rc == HT_OK ? got == 24 : rc == HT_ECORRUPT && got == 0);
        rejected += rc != HT_OK;
        len = rewrap(chunk0, raw, i, chunk, sizeof chunk);
        assert_int_equal(ht__codec_decode(chunk, len, back, 24, &got),
                         HT_ECORRUPT);
    }
    *raw_len = rl;
    return rejected;
}

static void test_v2_decodes(void **state)
{
    size_t raw_len;
    (void)state;
    old_chunk_decodes(v2_chunk, sizeof v2_chunk, 2);
    /* the decoder's checks do see v2 bodies: 111 of its 299 flips */
    assert_true(flips_rejected(v2_chunk, sizeof v2_chunk, &raw_len) >
                raw_len / 4);
}

/* old_format_recs encoded by the version 3 encoder (h-ingest7 at f558fb0,
 * before version 4's site bit): traces written then must decode
 * unchanged. */
static const uint8_t v3_chunk[207] = {
    0xc5, 0x03, 0x18, 0x00, 0x00, 0x00, 0xf2, 0x00, 0x00, 0x00, 0x28, 0xb5,
    0x2f, 0xfd, 0x24, 0xf2, 0xc5, 0x05, 0x00, 0xf2, 0xca, 0x27, 0x2d, 0x80,
    0x4b, 0xd2, 0x01, 0x6a, 0x04, 0x13, 0xc2, 0xd2, 0xd2, 0xa1, 0x28, 0x9a,
    0xeb, 0x30, 0x0a, 0x6c, 0x2e, 0xf2, 0x89, 0x51, 0x17, 0xdf, 0xa9, 0xd2,
    0x39, 0x03, 0x08, 0xc4, 0x6a, 0xa5, 0x86, 0xde, 0x73, 0x8d, 0x96, 0x83,
    0xb5, 0x64, 0x6f, 0xb2, 0xc9, 0xde, 0x29, 0xa5, 0xf7, 0xbf, 0x5a, 0xaf,
    0x75, 0x55, 0x2f, 0x9f, 0xb9, 0xef, 0xff, 0x39, 0x91, 0x0d, 0x78, 0x4a,
    0xe4, 0x73, 0x8a, 0x00, 0x4d, 0x73, 0xcc, 0x73, 0x4a, 0xd7, 0x98, 0x6a,
    0x1a, 0xe7, 0x9a, 0x9b, 0x5a, 0x18, 0xb6, 0xdc, 0x4b, 0xdd, 0xad, 0xa7,
    0x28, 0x6a, 0xdb, 0x12, 0x24, 0xcb, 0x98, 0xcd, 0xa8, 0xa0, 0x01, 0x72,
    0xe0, 0x84, 0xe4, 0x40, 0x3a, 0x31, 0xa1, 0x8a, 0x24, 0x51, 0x6c, 0x24,
    0x38, 0x96, 0xc3, 0x11, 0xaa, 0x48, 0x11, 0x15, 0x08, 0xd1, 0xaf, 0x5b,
    0xdb, 0xcf, 0xc2, 0x13, 0x71, 0x95, 0x01, 0x04, 0x64, 0xa0, 0x50, 0x24,
    0x0e, 0x0f, 0x93, 0x0c, 0xd8, 0x00, 0x2f, 0x30, 0x20, 0x94, 0x4c, 0x3e,
    0x3a, 0x3c, 0x22, 0x16, 0x7d, 0x02, 0xaf, 0xab, 0x80, 0xa9, 0xe5, 0xde,
    0x0b, 0x09, 0x00, 0x60, 0x04, 0x38, 0xac, 0xd2, 0x70, 0x4d, 0xc4, 0xa0,
    0x69, 0x9a, 0x22, 0x65, 0x19, 0x2d, 0x97, 0xe1, 0x2b, 0xe0, 0x09, 0xaa,
    0x57, 0x25, 0x92,
};

static void test_v3_decodes(void **state)
{
    size_t raw_len;
    (void)state;
    old_chunk_decodes(v3_chunk, sizeof v3_chunk, 3);
    size_t rej = flips_rejected(v3_chunk, sizeof v3_chunk, &raw_len);
    assert_true(rej > raw_len / 4);
}

/* Version 4's HB_SITE: a record whose d is the previous d of its kind
 * writes no site index. Sites constant per kind, changing per record,
 * alternating between two, 0 and UINT64_MAX, on plain and escaped kinds
 * (7 and up in version 4) all round-trip; with constant sites only each
 * kind's first record writes an index. */
static void test_v4_site_bit(void **state)
{
    enum { N = 3000 };
    static const uint8_t kinds[] = {HT_EV_ALLOC, HT_EV_FREE, HT_EV_STORE,
                                    HT_EV_FN_ENTER, HT_EV_FN_EXIT,
                                    HT_EV_DECREF, 255};
    static const uint64_t sites[] = {0, UINT64_MAX, 0x401000, 0x401000,
                                     0x7fffffffffff, 0x401010};
    struct ht_rec *r = calloc(N, sizeof(*r));
    (void)state;
    assert_non_null(r);
    for (size_t i = 0; i < N; i++) {
        r[i].seq = 10 + i;
        r[i].tid = 5;
        r[i].kind = kinds[i % sizeof kinds];
        r[i].a = 0x7f0000001000ull + 16 * (i % 32);
        r[i].b = i % 3 ? 0 : UINT64_MAX;
        r[i].c = 0;
        /* runs of one site per kind, then changes (the pattern's period is
         * not a multiple of the kinds') */
        r[i].d = sites[i / 50 % (sizeof sites / sizeof sites[0])] +
                 (i % 11 == 0 ? i : 0);
    }
    round_trip(r, N);
    for (size_t i = 0; i < N; i++)
        r[i].d = 0x401000 + r[i].kind;
    round_trip(r, N);
    void *buf = NULL;
    size_t len = 0;
    uint8_t raw[N * 16];
    assert_int_equal(ht__codec_encode(r, N, &buf, &len), HT_OK);
    assert_int_equal(((uint8_t *)buf)[1], 4);
    /* the body starts with the stream lengths; S_DIDX is the tenth (one
     * byte each here: all < 128 but the kind and delta streams') */
    const uint8_t *p;
    uint64_t lens[13];
    ht_test_chunk_body(buf, len, 10, raw, sizeof raw, lens, 13, &p);
    assert_int_equal(lens[9], sizeof kinds); /* S_DIDX: each kind's first */
    free(buf);
    free(r);
}

/* A chunk of the current version made from real-shaped records: every
 * body byte flip is rejected or decodes, every cut is rejected. */
static void test_v4_flips(void **state)
{
    struct ht_rec want[24];
    void *buf = NULL;
    size_t len = 0, raw_len;
    (void)state;
    old_format_recs(want, 24);
    assert_int_equal(ht__codec_encode(want, 24, &buf, &len), HT_OK);
    assert_true(flips_rejected(buf, len, &raw_len) > raw_len / 4);
    free(buf);
}

/* n records of a chunk whose headers are mostly version 4's usual ones
 * (ALLOC, FREE and, with stores, STORE: seq step 1, the previous tid, the
 * kind's previous flags and site, M_RAW fields 0), which the decoder takes
 * by a path of its own, with every 97 records one breaking each of those
 * in turn. stores: STOREs and INCREFs too (the chunk then keeps the
 * reference history; without them it does not). */
static void usual_recs(struct ht_rec *r, size_t n, int stores)
{
    const unsigned period = stores ? 4 : 2;
    for (size_t i = 0; i < n; i++) {
        struct ht_rec *x = &r[i];
        unsigned ph = (unsigned)(i % period), brk = (unsigned)(i % 97);
        memset(x, 0, sizeof *x);
        x->seq = i ? r[i - 1].seq + 1 : 1000;
        x->tid = 77;
        if (ph == 0) {
            x->kind = HT_EV_ALLOC;
            x->a = 0x55d0c1e4a2a0 + 48 * (i % 40); /* reused addresses */
            x->b = 16 + i % 64;
            x->d = 0x401000;
        } else if (ph == period - 1) {
            x->kind = HT_EV_FREE;
            x->a = r[i - ph].a; /* the ALLOC of this period */
            x->d = 0x401040;
        } else if (ph == 1) {
            x->kind = HT_EV_STORE;
            x->flags = HT_EVF_SITE;
            x->a = 0x601000 + 8 * (i % 16);
            x->b = r[i - 1].a;
            x->c = i >= 8 && i % 3 ? r[i - 8].a : 0;
            x->d = 0x401080;
        } else {
            x->kind = HT_EV_INCREF;
            x->flags = HT_EVF_SITE;
            x->a = r[i - 2].a;
            x->d = 0x4010c0;
        }
        if (brk == 10)
            x->seq += 5; /* and every later one */
        else if (brk == 20)
            x->tid = 78;
        else if (brk == 30)
            x->flags ^= 2;
        else if (brk == 40)
            x->d += 16;
        else if (brk == 50 && x->kind == HT_EV_ALLOC)
            x->c = 5;
    }
}

/* Version 4's usual headers: records with and without the reference
 * history round-trip exactly through their path and among the others; most
 * S_KIND bytes really are usual headers; every flip of such a chunk is
 * rejected or decodes to as many records, every cut is rejected. */
static void test_v4_usual_headers(void **state)
{
    enum { N = 5000 };
    struct ht_rec *r = calloc(N, sizeof(*r));
    static uint8_t raw[N * 40];
    (void)state;
    assert_non_null(r);
    for (int stores = 0; stores < 2; stores++) {
        void *buf = NULL;
        size_t len = 0, usual = 0;
        usual_recs(r, N, stores);
        round_trip(r, N);
        assert_int_equal(ht__codec_encode(r, N, &buf, &len), HT_OK);
        assert_int_equal(((uint8_t *)buf)[1], 4);
        const uint8_t *p;
        uint64_t lens[13];
        ht_test_chunk_body(buf, len, 10, raw, sizeof raw, lens, 13, &p);
        assert_int_equal(lens[0], N); /* S_KIND: a header per record */
        /* S_RTOK (the twelfth): the reference history is kept only with
         * the stores */
        assert_true(stores ? lens[11] > 0 : lens[11] == 0);
        for (size_t i = 0; i < N; i++)
            usual += p[i] == (HT_EV_ALLOC | 0x88) ||
                     p[i] == (HT_EV_FREE | 0x88) ||
                     p[i] == (HT_EV_STORE | 0x88);
        /* 0x88: HB_SITE | HB_ZERO; the INCREFs (a quarter with stores)
         * and the breaking records are not usual */
        assert_true(usual > (stores ? N * 6 / 10 : N * 9 / 10));
        assert_true(usual < N);
        free(buf);
    }
    /* 24 records with stores: flips and cuts */
    size_t raw_len;
    void *buf = NULL;
    size_t len = 0;
    usual_recs(r, 24, 1);
    assert_int_equal(ht__codec_encode(r, 24, &buf, &len), HT_OK);
    assert_true(flips_rejected(buf, len, &raw_len) > raw_len / 4);
    free(buf);
    free(r);
}

/* Version 3's record header: every combination of its bits (seq step of
 * 1 or not, tid and per-kind flags changed or not, M_RAW fields all zero or
 * not, escaped kinds) round-trips, and the constant cases cost no stream
 * bytes beyond the header. */
static void test_v3_header_bits(void **state)
{
    enum { N = 4096 };
    static const uint8_t kinds[] = {HT_EV_ALLOC, HT_EV_FREE, HT_EV_INCREF,
                                    HT_EV_DECREF, HT_EV_STORE, HT_EV_REALLOC,
                                    HT_EV_EDGE, 0, 14, 15, 16, 255};
    struct ht_rec *r = calloc(N, sizeof(*r));
    uint64_t seq = 5;
    (void)state;
    assert_non_null(r);
    for (size_t i = 0; i < N; i++) {
        unsigned bits = (unsigned)(i * 2654435761u >> 7);
        r[i].kind = kinds[(i / 3 + (bits & 1)) % sizeof kinds];
        seq += bits & 2 ? 1 : bits & 4 ? 0 : (uint64_t)-3; /* wraps too */
        r[i].seq = seq;
        r[i].tid = bits & 8 ? 1000 + (bits >> 4) % 3 : UINT32_MAX;
        r[i].flags = bits & 16 ? (uint16_t)(r[i].kind * 3) : (uint16_t)bits;
        r[i].a = bits & 32 ? 0 : 0x7f0000001000ull + 16 * (i % 64);
        r[i].b = bits & 64 ? 0 : bits;
        r[i].c = bits & 128 ? 0 : UINT64_MAX - i;
        r[i].d = 0x401000 + (bits >> 8) % 5;
    }
    round_trip(r, N);
    /* constant seq step, tid and flags: one header byte, the address
     * tokens, sites and sizes only */
    for (size_t i = 0; i < N; i++) {
        r[i].seq = 1000 + i;
        r[i].tid = 77;
        r[i].flags = 0;
        r[i].kind = i % 2 ? HT_EV_FREE : HT_EV_ALLOC;
        r[i].a = 0x7f0000001000ull + 64 * (i / 2 % 16);
        r[i].b = i % 2 ? 0 : 48;
        r[i].c = 0;
        r[i].d = 0x401000 + i % 2;
    }
    round_trip(r, N);
    void *buf = NULL;
    size_t len = 0;
    uint8_t raw[N * 16];
    assert_int_equal(ht__codec_encode(r, N, &buf, &len), HT_OK);
    size_t raw_len = ZSTD_decompress(raw, sizeof raw, (uint8_t *)buf + 10,
                                     len - 10);
    assert_false(ZSTD_isError(raw_len));
    /* header + tid/seq/flag values of the first record + htok + delta +
     * size + site index per record */
    assert_true(raw_len < (size_t)N * 5);
    free(buf);
    free(r);
}

/* An escaped kind byte below the escape value (version 4: 7) is not an
 * encoding the encoder makes: rejected. */
static void test_v3_escape_rejected(void **state)
{
    struct ht_rec r = {.seq = 1, .kind = 200, .a = 1, .tid = 3};
    struct ht_rec back;
    void *buf = NULL;
    size_t len = 0, got = 9;
    uint8_t raw[256], chunk[512];
    (void)state;
    assert_int_equal(ht__codec_encode(&r, 1, &buf, &len), HT_OK);
    size_t raw_len = ZSTD_decompress(raw, sizeof raw, (uint8_t *)buf + 10,
                                     len - 10);
    assert_false(ZSTD_isError(raw_len));
    /* S_XKIND is the last stream: the body's last byte */
    assert_int_equal(raw[raw_len - 1], 200);
    raw[raw_len - 1] = HT_EV_FREE;
    size_t cl = rewrap(buf, raw, raw_len, chunk, sizeof chunk);
    assert_int_equal(ht__codec_decode(chunk, cl, &back, 1, &got), HT_ECORRUPT);
    assert_int_equal(got, 0);
    raw[raw_len - 1] = 15;
    cl = rewrap(buf, raw, raw_len, chunk, sizeof chunk);
    assert_int_equal(ht__codec_decode(chunk, cl, &back, 1, &got), HT_OK);
    assert_int_equal(back.kind, 15);
    free(buf);
}

/* A version byte above the current one is rejected, not misparsed. */
static void test_future_version_rejected(void **state)
{
    uint8_t buf[sizeof old_chunk];
    struct ht_rec back[24];
    size_t got = 99;
    (void)state;
    memcpy(buf, old_chunk, sizeof buf);
    buf[1] = 0x7f;
    assert_int_equal(ht__codec_decode(buf, sizeof buf, back, 24, &got),
                     HT_ECORRUPT);
    assert_int_equal(got, 0);
    buf[1] = 0;
    assert_int_equal(ht__codec_decode(buf, sizeof buf, back, 24, &got),
                     HT_ECORRUPT);
}

/* Store-heavy traffic like bench_micro's graph (incref new target, decref
 * old target, store; random nodes): the pointers a STORE writes and
 * replaces were named by the INCREF/DECREF just before it, so version 2
 * codes them as reference-history tokens. Round trip exact, and well under
 * the 6 bytes/event budget (measured: version 1 5.6, version 2 3.1). */
static void test_store_refs_are_compact(void **state)
{
    enum { N = 60000, NODES = 4096 };
    struct ht_rec *r = calloc(N, sizeof(*r));
    uint64_t node[NODES], edge[NODES][4];
    size_t i = 0;
    void *buf;
    size_t len;
    (void)state;
    assert_non_null(r);
    memset(edge, 0, sizeof edge);
    for (size_t k = 0; k < NODES; k++)
        node[k] = 0x55d0c1e4a2a0 + 80 * k;
#define EV(K, A, B, C, D)                                                    \
    do {                                                                     \
        r[i].seq = i + 1;                                                    \
        r[i].kind = (K);                                                     \
        r[i].tid = 10;                                                       \
        r[i].flags = HT_EVF_SITE;                                            \
        r[i].a = (A);                                                        \
        r[i].b = (B);                                                        \
        r[i].c = (C);                                                        \
        r[i].d = (D);                                                        \
        i++;                                                                 \
    } while (0)
    while (i + 3 <= N) {
        uint64_t x = rnd();
        size_t a = x % NODES, b = (x >> 16) % NODES, e = (x >> 32) & 3;
        uint64_t slot = node[a] + 8 + 8 * e, old = edge[a][e];
        if ((x >> 40) % 2) { /* link */
            if (old)
                EV(HT_EV_DECREF, old, 0, 0, 11);
            EV(HT_EV_INCREF, node[b], 0, 0, 12);
            EV(HT_EV_STORE, slot, node[b], old, 13);
            edge[a][e] = node[b];
        } else if (old) { /* unlink */
            EV(HT_EV_DECREF, old, 0, 0, 14);
            EV(HT_EV_STORE, slot, 0, old, 15);
            edge[a][e] = 0;
        }
    }
#undef EV
    round_trip(r, i);
    assert_int_equal(ht__codec_encode(r, i, &buf, &len), HT_OK);
    assert_true(len < 4 * i);
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
    /* the last stream's length is the 13th varint of the body (codec
     * version 3 has 13 streams): rebuild the body with it one larger and a
     * trailing byte */
    enum { NS = 13 };
    const uint8_t *p = raw;
    uint8_t nb[N2 * 140 + 20];
    size_t nl = 0, lens[NS];
    for (int s = 0; s < NS; s++) {
        uint64_t v = 0;
        for (unsigned sh = 0;; sh += 7) {
            v |= (uint64_t)(*p & 0x7f) << sh;
            if (!(*p++ & 0x80))
                break;
        }
        lens[s] = v + (s == NS - 1);
    }
    for (int s = 0; s < NS; s++)
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
        cmocka_unit_test(test_old_version_decodes),
        cmocka_unit_test(test_future_version_rejected),
        cmocka_unit_test(test_v2_decodes),
        cmocka_unit_test(test_v3_decodes),
        cmocka_unit_test(test_v4_site_bit),
        cmocka_unit_test(test_v4_flips),
        cmocka_unit_test(test_v4_usual_headers),
        cmocka_unit_test(test_v3_header_bits),
        cmocka_unit_test(test_v3_escape_rejected),
        cmocka_unit_test(test_store_refs_are_compact),
        cmocka_unit_test(test_stream_batches),
        cmocka_unit_test(test_body_pack),
        cmocka_unit_test(test_get_varint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
