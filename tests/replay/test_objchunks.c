#define _GNU_SOURCE
/* Tests of the object chunks (store/objcodec.c): objects rows of freed blocks
 * stored as compressed column chunks and read back through the
 * objects_freed virtual table and the `objects` view. Expected rows are
 * computed here from the same inputs (exact, row by row). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "heaptrail/replay.h"
#include "heaptrail/spill.h"
#include "heaptrail/store.h"
#include "store/store_int.h"
#include "tests/support/chunk_body.h"
#include "tests/support/live_util.h"
#include "tests/support/spill_write.h"

#include <zstd.h>

static char dir[256];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb; (void)flag; (void)f;
    return remove(p);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/ht-test-objchunks-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static ht_store *open_db(const char *name)
{
    char db[300];
    ht_store *st = NULL;
    snprintf(db, sizeof db, "%s/%s", dir, name);
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, &st), HT_OK);
    return st;
}

/* a query's rows compared one by one with expected objrows (in order) */
struct cmp {
    const struct ht_objrow *want;
    size_t n, at;
    int64_t run;
};

static int cmp_row(void *ctx, int ncol, const char *const *v,
                   const char *const *names)
{
    (void)names;
    struct cmp *c = ctx;
    assert_int_equal(ncol, 12);
    assert_true(c->at < c->n);
    const struct ht_objrow *w = &c->want[c->at++];
    char buf[12][32];
    snprintf(buf[0], 32, "%" PRId64, c->run);
    snprintf(buf[1], 32, "%" PRId64, (int64_t)w->addr);
    snprintf(buf[2], 32, "%" PRId64, (int64_t)w->size);
    snprintf(buf[3], 32, "%" PRId64, (int64_t)w->alloc_seq);
    snprintf(buf[4], 32, "%" PRId64, (int64_t)w->free_seq);
    snprintf(buf[5], 32, "%" PRId64, (int64_t)w->pc);
    snprintf(buf[6], 32, "%" PRIu32, w->tid);
    snprintf(buf[7], 32, "%" PRId64, w->refcnt);
    for (int i = 0; i < 7; i++) {
        assert_non_null(v[i]);
        assert_string_equal(v[i], buf[i]);
    }
    if (w->has_refcnt) {
        assert_non_null(v[7]);
        assert_string_equal(v[7], buf[7]);
    }
    else
        assert_null(v[7]);
    for (int i = 8; i < 12; i++) /* leak columns */
        assert_null(v[i]);
    return 0;
}

static void expect_rows(ht_store *st, const char *sql, int64_t run,
                        const struct ht_objrow *want, size_t n)
{
    struct cmp c = {want, n, 0, run};
    assert_int_equal(ht_store_query(st, sql, 1, cmp_row, &c), HT_OK);
    assert_int_equal(c.at, n);
}

#define q HT_TEST_Q /* live_util.h */

static const char *CHUNKS_DDL =
    "CREATE TABLE object_chunks(run_id INTEGER, chunk_no INTEGER,"
    " nrows INTEGER, data BLOB, PRIMARY KEY(run_id, chunk_no));";

/* edge values: extreme addresses, seq going backwards, negative refcounts */
static const struct ht_objrow EDGE[] = {
    {UINT64_C(0xffffffffffffff00), 1, 5, 9, 0x401000, -1, 1, 1},
    {0x10, 0, 9, 7, UINT64_C(0x7fffffffffffffff), 0, 4294967295u, 0},
    {0x7f0000001000, 4096, 0, 0, 0, INT64_MIN, 0, 1},
    {0x7f0000001000, 4096, 1, UINT64_C(0x7fffffffffffffff), 1, INT64_MAX, 3, 1},
};
#define NEDGE (sizeof EDGE / sizeof *EDGE)

/* pseudo-random rows shaped like a real run (addresses reused, free order) */
static struct ht_objrow *random_rows(size_t n, uint64_t seed)
{
    struct ht_objrow *r = calloc(n, sizeof *r);
    assert_non_null(r);
    uint64_t x = seed, seq = 3;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        seq += 1 + (x >> 60);
        r[i].addr = 0x55550000 + ((x >> 20) & 0xffff) * 16;
        r[i].size = (x >> 40) & 0x3ff;
        r[i].free_seq = seq;
        r[i].alloc_seq = seq - 1 - ((x >> 8) & 0xfff);
        r[i].pc = 0x401000 + ((x >> 33) & 7) * 0x40;
        r[i].tid = 100 + (uint32_t)((x >> 5) & 1);
        r[i].has_refcnt = (x >> 3) & 1;
        r[i].refcnt = r[i].has_refcnt ? (int64_t)((x >> 50) & 7) - 3 : 0;
    }
    return r;
}

/* Store rows[0..n) as chunk chunk_no of run_id through a fresh encoder in
 * one batch: the first error of ht_objenc_add (more than
 * HT_OBJCHUNK_MAX_ROWS rows) or ht_store_objchunk_flush (none). */
static ht_err write_chunk(ht_store *st, int64_t run_id, int64_t chunk_no,
                          const struct ht_objrow *rows, size_t n)
{
    ht_objenc *x = NULL;
    ht_err e = ht_objenc_new(&x);
    if (!e)
        e = ht_objenc_add(x, rows, n);
    if (!e)
        e = ht_store_objchunk_flush(st, run_id, chunk_no, x);
    ht_objenc_free(x);
    return e;
}

static void test_roundtrip_and_pushdown(void **state)
{
    (void)state;
    ht_store *st = open_db("rt.db");
    char out[4096];
    assert_int_equal(ht_store_exec(st, CHUNKS_DDL), HT_OK);
    size_t nbig = HT_OBJCHUNK_MAX_ROWS + 100;
    struct ht_objrow *big = random_rows(nbig, 42);
    assert_int_equal(write_chunk(st, 5, 0, EDGE, NEDGE), HT_OK);
    assert_int_equal(write_chunk(st, 6, 0, big, HT_OBJCHUNK_MAX_ROWS), HT_OK);
    assert_int_equal(write_chunk(st, 6, 1, big + HT_OBJCHUNK_MAX_ROWS, 100),
                     HT_OK);
    /* sizes out of range are refused */
    assert_int_equal(write_chunk(st, 7, 0, EDGE, 0), HT_EINVAL);
    assert_int_equal(write_chunk(st, 7, 0, big, HT_OBJCHUNK_MAX_ROWS + 1),
                     HT_EINVAL);
    expect_rows(st, "SELECT * FROM objects_freed WHERE run_id=5", 5, EDGE,
                NEDGE);
    expect_rows(st, "SELECT * FROM objects_freed WHERE run_id=6", 6, big,
                nbig);
    q(st, "SELECT run_id, COUNT(*) FROM objects_freed GROUP BY run_id", out);
    assert_string_equal(out, "5,4;6,65636");
    q(st, "SELECT COUNT(*) FROM objects_freed WHERE run_id=7", out);
    assert_string_equal(out, "0");
    /* run_id is pushed down (idxNum 1); a leak-column test that NULL cannot
     * pass empties the scan without decoding (idxNum 2) */
    q(st, "EXPLAIN QUERY PLAN SELECT * FROM objects_freed WHERE run_id=6",
      out);
    assert_non_null(strstr(out, "VIRTUAL TABLE INDEX 1:"));
    q(st, "EXPLAIN QUERY PLAN SELECT * FROM objects_freed WHERE"
          " leak_kind='definite'", out);
    assert_non_null(strstr(out, "VIRTUAL TABLE INDEX 2:"));
    q(st, "SELECT COUNT(*) FROM objects_freed WHERE leak_kind IS NOT NULL",
      out);
    assert_string_equal(out, "0");
    q(st, "SELECT COUNT(*) FROM objects_freed WHERE leak_kind IS NULL", out);
    assert_string_equal(out, "65640");
    free(big);
    ht_store_close(st);
}

/* ht_objenc: rows appended in uneven batches (one of them empty) to one
 * reused encoder store the chunks byte for byte as one batch each through
 * fresh encoders (write_chunk); a full encoder refuses more rows; the
 * encoder is reusable after each flush */
static void test_objenc_batches(void **state)
{
    (void)state;
    ht_store *st = open_db("enc.db");
    char out[4096];
    assert_int_equal(ht_store_exec(st, CHUNKS_DDL), HT_OK);
    size_t n = HT_OBJCHUNK_MAX_ROWS + 300;
    struct ht_objrow *r = random_rows(n, 7);
    ht_objenc *x = NULL;
    assert_int_equal(ht_objenc_new(&x), HT_OK);
    /* run 1: one batch per chunk; run 2 the same rows through x */
    assert_int_equal(write_chunk(st, 1, 0, r, HT_OBJCHUNK_MAX_ROWS), HT_OK);
    assert_int_equal(write_chunk(st, 1, 1, r + HT_OBJCHUNK_MAX_ROWS, 300),
                     HT_OK);
    assert_int_equal(write_chunk(st, 1, 2, EDGE, NEDGE), HT_OK);
    assert_int_equal(ht_store_objchunk_flush(st, 2, 0, x), HT_EINVAL);
    size_t at = 0, step = 1;
    while (at < HT_OBJCHUNK_MAX_ROWS) {
        size_t k = step < HT_OBJCHUNK_MAX_ROWS - at ? step
                                                   : HT_OBJCHUNK_MAX_ROWS - at;
        assert_int_equal(ht_objenc_add(x, r + at, k), HT_OK);
        at += k;
        step = step * 3 + 1;
    }
    assert_int_equal(ht_objenc_add(x, r, 0), HT_OK);
    assert_int_equal(ht_objenc_count(x), HT_OBJCHUNK_MAX_ROWS);
    assert_int_equal(ht_objenc_add(x, r, 1), HT_EINVAL);
    assert_int_equal(ht_store_objchunk_flush(st, 2, 0, x), HT_OK);
    assert_int_equal(ht_objenc_count(x), 0);
    assert_int_equal(ht_objenc_add(x, r + at, 100), HT_OK);
    assert_int_equal(ht_objenc_add(x, r + at + 100, 200), HT_OK);
    assert_int_equal(ht_store_objchunk_flush(st, 2, 1, x), HT_OK);
    assert_int_equal(ht_objenc_add(x, EDGE, NEDGE), HT_OK);
    assert_int_equal(ht_store_objchunk_flush(st, 2, 2, x), HT_OK);
    q(st, "SELECT COUNT(*), SUM(a.nrows = b.nrows AND a.data = b.data)"
          " FROM object_chunks a JOIN object_chunks b USING(chunk_no)"
          " WHERE a.run_id = 1 AND b.run_id = 2", out);
    assert_string_equal(out, "3,3");
    expect_rows(st, "SELECT * FROM objects_freed WHERE run_id=2"
                    " LIMIT 65836", 2, r, n);
    ht_objenc_free(x);
    ht_objenc_free(NULL);
    free(r);
    ht_store_close(st);
}

static void test_corrupt_chunk(void **state)
{
    (void)state;
    ht_store *st = open_db("bad.db");
    assert_int_equal(ht_store_exec(st, CHUNKS_DDL), HT_OK);
    assert_int_equal(write_chunk(st, 5, 0, EDGE, NEDGE), HT_OK);
    assert_int_equal(write_chunk(st, 5, 1, EDGE, NEDGE), HT_OK);
    static const char *const damage[] = {
        "UPDATE object_chunks SET nrows=3 WHERE chunk_no=1",
        "UPDATE object_chunks SET nrows=0 WHERE chunk_no=1",
        "UPDATE object_chunks SET data=substr(data,1,length(data)-3)"
        " WHERE chunk_no=1",
        "UPDATE object_chunks SET data=x'0c01deadbeef' WHERE chunk_no=1",
        "UPDATE object_chunks SET data=x'' WHERE chunk_no=1",
        "UPDATE object_chunks SET data=NULL WHERE chunk_no=1",
        "UPDATE object_chunks SET data=x'ff' || substr(data,2)"
        " WHERE chunk_no=1",
    };
    for (size_t i = 0; i < sizeof damage / sizeof *damage; i++) {
        assert_int_equal(ht_store_exec(st, "DELETE FROM object_chunks"
                                           " WHERE chunk_no=1"), HT_OK);
        assert_int_equal(write_chunk(st, 5, 1, EDGE, NEDGE), HT_OK);
        assert_int_equal(ht_store_exec(st, damage[i]), HT_OK);
        struct ht_test_dump d = {0};
        assert_int_equal(ht_store_query(st, "SELECT * FROM objects_freed"
                                            " WHERE run_id=5", 1,
                                        ht_test_dump_row, &d),
                         HT_ESQL);
        free(d.s);
        assert_non_null(strstr(ht_store_last_error(),
                               "object chunk 1 of run 5 does not decode"));
    }
    ht_store_close(st);
}

/* A column value whose 10th varint byte carries bits past the 64th is
 * corrupt (it used to be read with those bits dropped); with the 10th byte
 * 1 it is the largest value. Blob: one row, a 10- or 11-byte free delta, the
 * other columns 0 (store/objcodec.c's layout). */
static void test_overlong_varint(void **state)
{
    (void)state;
    ht__objcodec_dec *d = NULL;
    assert_int_equal(ht__objcodec_dec_new(&d), HT_OK);
    static const uint8_t tenth[] = {0x01, 0x00, 0x02, 0x7f, 0x81};
    for (size_t t = 0; t < sizeof tenth; t++) {
        size_t flen = tenth[t] & 0x80 ? 11 : 10;
        uint8_t body[32], blob[128];
        size_t n = 0;
        body[n++] = (uint8_t)flen;
        for (int k = 1; k < 7; k++)
            body[n++] = 1;
        memset(body + n, 0xff, 9);
        n += 9;
        body[n++] = tenth[t];
        if (flen == 11)
            body[n++] = 0;
        memset(body + n, 0, 6);
        n += 6;
        blob[0] = 0x0C;
        blob[1] = 1;
        size_t z = ZSTD_compress(blob + 2, sizeof blob - 2, body, n, 1);
        assert_false(ZSTD_isError(z));
        struct ht_objrow r;
        ht_err e = ht__objcodec_decode(d, blob, z + 2, 1, &r);
        if (tenth[t] <= 1) {
            assert_int_equal(e, HT_OK);
            /* unzigzag(2^64 - 1) = -2^63, unzigzag(2^63 - 1) = -2^62 */
            assert_true(r.free_seq ==
                        (tenth[t] ? (uint64_t)INT64_MIN
                                  : (uint64_t)-(INT64_C(1) << 62)));
            assert_true(r.alloc_seq == r.free_seq);
            assert_true(r.addr == 0 && r.size == 0 && !r.has_refcnt);
        } else {
            assert_int_equal(e, HT_ECORRUPT);
        }
    }
    ht__objcodec_dec_free(d);
}

/* ---- format versions ---------------------------------------------------- */

/* A version 1 chunk (no C_RUN column, zstd level 1) as heaptrail wrote it
 * before version 2: EDGE then random_rows(24, 11), made by the version 1
 * encoder (ed2638b) and kept here as bytes, so that traces replayed then
 * still read. */
static const char *V1_CHUNK =
    "INSERT INTO object_chunks VALUES(3, 0, 28, x'"
    "0c0128b52ffd64a500550b005656533f0053950e84ba893fed321076b33e5f22"
    "42294eaf7537b4b08b995bb610d0a8da00950000b4008002cb6c4b9ea6b3e42f"
    "6324fffbe2456267446493bd65920150004c003f003a26bc2165561c8b023e26"
    "40249428ab0130608883e3f235f8f1590910014b1c219f1714420e4220480508"
    "f28629946846368bb470dcc6715272b14ce486c14822e59de3fd01805c050618"
    "3c192c74022a6f43636e2bba04a7bee0e2caab7bd0628f8ac60ce94a0c2f0209"
    "af33a2833cba9fa6c88c69a0854780c50a3c740b4453838937b8e80f7b106c88"
    "40b3454a997628c863e6c98a22d89dd181adda61f9fcde962c3b32e4c8f3db77"
    "ecfdeaf945f6785164282943ab215d13624ceb71d2bb374cf10ff10604a19980"
    "2aa99d8825b491640e994bc31ad65702aa7bd5ab66fff51aaf9b5de155ffbfbb"
    "afd7d5bdae7eafaa47c94c77c732dd0ddbe56d7d477e43de7e2f43de0a005cc7"
    "89dbadc530c3e526616906b82b8285022e03e75c400709de42b1"
    "')";

static void test_v1_chunk_reads(void **state)
{
    (void)state;
    ht_store *st = open_db("v1.db");
    assert_int_equal(ht_store_exec(st, CHUNKS_DDL), HT_OK);
    assert_int_equal(ht_store_exec(st, V1_CHUNK), HT_OK);
    struct ht_objrow want[NEDGE + 24];
    struct ht_objrow *r = random_rows(24, 11);
    memcpy(want, EDGE, sizeof EDGE);
    memcpy(want + NEDGE, r, 24 * sizeof *r);
    expect_rows(st, "SELECT * FROM objects_freed WHERE run_id=3", 3, want,
                NEDGE + 24);
    /* it is version 1, and what is written now is not */
    char out[4096];
    q(st, "SELECT hex(substr(data, 1, 2)) FROM object_chunks", out);
    assert_string_equal(out, "0C01");
    assert_int_equal(write_chunk(st, 4, 0, want, NEDGE + 24), HT_OK);
    q(st, "SELECT hex(substr(data, 1, 2)) FROM object_chunks WHERE run_id=4",
      out);
    assert_string_equal(out, "0C02");
    expect_rows(st, "SELECT * FROM objects_freed WHERE run_id=4", 4, want,
                NEDGE + 24);
    free(r);
    ht_store_close(st);
}

/* Rows in runs of equal (pc, tid) without refcnt (version 2's C_RUN): a run
 * from the first row (pc 0, tid 0, the encoder's starting values), runs
 * broken by a refcnt alone, by the tid alone, runs of one row and a run up
 * to the last row; encoded in batches of 1, 2, 3... rows they make the same
 * bytes as in one batch, and decode back row for row. */
static void test_runs(void **state)
{
    (void)state;
    ht_store *st = open_db("runs.db");
    assert_int_equal(ht_store_exec(st, CHUNKS_DDL), HT_OK);
    size_t n = 5000;
    struct ht_objrow *r = random_rows(n, 99);
    uint64_t pc = 0;
    uint32_t tid = 0;
    for (size_t i = 0, left = 0, k = 0; i < n; i++) {
        r[i].has_refcnt = 0;
        r[i].refcnt = 0;
        if (!left && i) { /* a new run: what breaks it cycles */
            left = 1 + (k * 37) % 300;
            switch (k++ % 4) {
            case 0: pc += 0x40; break;
            case 1: tid++; break;
            case 2: r[i].has_refcnt = 1; r[i].refcnt = -(int64_t)k; break;
            default: pc -= 0x10; tid += 2; left = 1; break;
            }
        } else if (!i) {
            left = 77;
        }
        left--;
        r[i].pc = pc;
        r[i].tid = tid;
    }
    assert_int_equal(write_chunk(st, 1, 0, r, n), HT_OK);
    ht_objenc *x = NULL;
    assert_int_equal(ht_objenc_new(&x), HT_OK);
    for (size_t at = 0, step = 1; at < n; at += step, step++)
        assert_int_equal(ht_objenc_add(x, r + at, step < n - at ? step
                                                                : n - at),
                         HT_OK);
    assert_int_equal(ht_store_objchunk_flush(st, 2, 0, x), HT_OK);
    char out[4096];
    q(st, "SELECT a.data = b.data FROM object_chunks a, object_chunks b"
          " WHERE a.run_id = 1 AND b.run_id = 2", out);
    assert_string_equal(out, "1");
    expect_rows(st, "SELECT * FROM objects_freed WHERE run_id=2", 2, r, n);
    /* one row fewer than the runs describe: corrupt */
    assert_int_equal(ht_store_exec(st, "UPDATE object_chunks SET nrows=4999"
                                       " WHERE run_id=2"), HT_OK);
    assert_int_equal(ht_test_rows(st, "SELECT * FROM objects_freed"
                                      " WHERE run_id=2", out, sizeof out),
                     -1);
    assert_non_null(strstr(ht_store_last_error(),
                           "object chunk 0 of run 2 does not decode"));
    ht_objenc_free(x);
    free(r);
    ht_store_close(st);
}

/* Version 2's fixed-width groups: groups whose largest size needs 0 to 8
 * bytes (and a last group of 5 rows) round-trip; a width byte over 8, or
 * a column cut inside a group, is corrupt. The blob is taken apart and
 * put together again with zstd here (layout: store/objcodec.c). */
static void test_group_widths(void **state)
{
    (void)state;
    enum { G = 16, NG = 9, N = NG * G + 5 };
    struct ht_objrow *r = random_rows(N, 5);
    for (size_t i = 0; i < N; i++) {
        size_t g = i / G < NG ? i / G : 8;
        /* group g's largest size takes g bytes; the others less */
        r[i].size = g == 0 ? 0
                    : i % G == 3 ? UINT64_MAX >> (64 - 8 * g)
                                 : (i * 7) & ((UINT64_C(1) << (8 * g - 8)) - 1);
    }
    ht_objenc *x = NULL;
    ht__objcodec_dec *d = NULL;
    assert_int_equal(ht_objenc_new(&x), HT_OK);
    assert_int_equal(ht__objcodec_dec_new(&d), HT_OK);
    assert_int_equal(ht_objenc_add(x, r, N), HT_OK);
    void *blob = NULL;
    size_t len = 0;
    assert_int_equal(ht__objenc_finish(x, &blob, &len), HT_OK);
    struct ht_objrow back[N];
    assert_int_equal(ht__objcodec_decode(d, blob, len, N, back), HT_OK);
    for (size_t i = 0; i < N; i++) {
        assert_true(back[i].size == r[i].size);
        assert_true(back[i].addr == r[i].addr);
        assert_true(back[i].alloc_seq == r[i].alloc_seq);
        assert_true(back[i].free_seq == r[i].free_seq);
    }
    /* the body: 8 column lengths (varints), then C_FREE C_LIFE C_ADDR
     * C_SIZE ...; the size column's widths 0, 1, ... 8, then 8 again */
    uint8_t body[8192], blob2[8192];
    uint64_t cl[8];
    const uint8_t *p;
    size_t blen = ht_test_chunk_body(blob, len, 2, body, sizeof body, cl, 8, &p);
    size_t size_at = (size_t)(p - body) + cl[0] + cl[1] + cl[2];
    size_t at = size_at;
    for (unsigned g = 0; g <= NG; g++) {
        unsigned w = g < NG ? g : 8;
        assert_int_equal(body[at], w);
        if (g == 8)
            assert_int_equal(at, size_at + 8 + 28 * G);
        at += 1 + (size_t)w * (g < NG ? G : 5);
    }
    assert_int_equal(at, size_at + cl[3]);
    for (int bad = 0; bad < 2; bad++) {
        uint8_t b2[8192];
        memcpy(b2, body, blen);
        size_t n2 = blen;
        if (bad == 0) { /* group 1's width 9 */
            b2[size_at + 1] = 9;
        } else { /* group 8's width 8 -> 7: the column's bytes no longer
                  * match its groups */
            b2[size_at + 8 + 28 * G] = 7; /* past groups 0..7: 1 + g*G each */
        }
        blob2[0] = 0x0C;
        blob2[1] = 2;
        size_t z = ZSTD_compress(blob2 + 2, sizeof blob2 - 2, b2, n2, 1);
        assert_false(ZSTD_isError(z));
        assert_int_equal(ht__objcodec_decode(d, blob2, z + 2, N, back),
                         HT_ECORRUPT);
    }
    free(blob);
    free(r);
    ht_objenc_free(x);
    ht__objcodec_dec_free(d);
}

/* ---- through the replay ------------------------------------------------ */

#define NOBJ 150000u /* > 2 chunks of freed rows */
#define RING 5u

struct tr {
    struct ht_rec *r;
    size_t n, cap;
};

static void put_ev(struct tr *t, unsigned kind, uint64_t a, uint64_t b,
                   uint64_t d, uint32_t tid)
{
    assert_true(t->n < t->cap);
    struct ht_rec *r = &t->r[t->n];
    memset(r, 0, sizeof *r);
    r->seq = t->n++;
    r->kind = (uint8_t)kind;
    r->a = a;
    r->b = b;
    r->d = d;
    r->tid = tid;
}

static uint64_t obj_addr(size_t i) { return 0x10000000 + (uint64_t)i * 2048; }

/* The objects rows the replay wrote as one SQL row each before object
 * chunks: per freed block (addr, size, alloc_seq, free_seq, pc, tid,
 * explicit refcnt or NULL), in free order. */
static void test_replay_view(void **state)
{
    (void)state;
    const uint32_t cr = 65536;
    size_t nch = (NOBJ * 3 + cr - 1) / cr;
    struct tr t = {calloc(nch * cr, sizeof(struct ht_rec)), 0, nch * cr};
    struct ht_objrow *want = calloc(NOBJ, sizeof *want);
    uint64_t *aseq = calloc(NOBJ, sizeof *aseq);
    int64_t *rc = calloc(NOBJ, sizeof *rc);
    uint8_t *expl = calloc(NOBJ, 1);
    assert_true(t.r && want && aseq && rc && expl);
    size_t nw = 0, live = 0;
    for (size_t i = 0; i < NOBJ + RING; i++) {
        if (i < NOBJ) {
            aseq[i] = t.n;
            put_ev(&t, HT_EV_ALLOC, obj_addr(i), 16 + (i * 37) % 1000,
                   0x400000 + (i % 13) * 8, 1 + (uint32_t)(i % 3));
            if (i % 7 == 0) { /* counted: 1 + 1 */
                put_ev(&t, HT_EV_INCREF, obj_addr(i), 0, 0x500000, 1);
                expl[i] = 1;
                rc[i] = 2;
            }
        }
        if (i < RING)
            continue;
        size_t k = i - RING; /* free the block made RING earlier */
        if (k % 1000 == 999) { /* stays live */
            live++;
            continue;
        }
        put_ev(&t, HT_EV_FREE, obj_addr(k), 0, 0x600000, 1);
        want[nw++] = (struct ht_objrow){
            obj_addr(k), 16 + (k * 37) % 1000, aseq[k], t.n - 1,
            0x400000 + (k % 13) * 8, rc[k], 1 + (uint32_t)(k % 3), expl[k]};
    }
    assert_true(nw > 2 * HT_OBJCHUNK_MAX_ROWS);
    char spill[300];
    snprintf(spill, sizeof spill, "%s/spill-999999-1.hts", dir);
    struct ht_spill_header *h = ht_test_spill_header(cr, nch, "/bin/true");
    assert_non_null(h);
    h->next_chunk = (t.n + cr - 1) / cr;
    assert_int_equal(ht_test_spill_write(spill, h, t.r,
                                         t.cap * sizeof(struct ht_rec)),
                     0);
    free(h);
    ht_store *st = open_db("replay.db");
    struct ht_ingest_result res;
    assert_int_equal(ht_store_ingest_spill(st, spill, NULL, 1, &res), HT_OK);
    assert_int_equal(res.events, t.n);
    struct ht_replay_result rr;
    assert_int_equal(ht_replay_run(st, res.run_id, NULL, &rr), HT_OK);
    assert_int_equal(rr.objects, NOBJ);
    char sql[512], out[4096], want_s[256];
    snprintf(sql, sizeof sql, "SELECT * FROM objects WHERE run_id=%lld"
             " AND free_seq IS NOT NULL", (long long)res.run_id);
    expect_rows(st, sql, res.run_id, want, nw);
    /* the freed rows are all in chunks; the live ones are SQL rows */
    snprintf(sql, sizeof sql, "SELECT (SELECT SUM(nrows) FROM object_chunks),"
             " (SELECT COUNT(*) FROM objects_live WHERE free_seq IS NULL),"
             " (SELECT COUNT(*) FROM objects_live),"
             " (SELECT COUNT(*) FROM objects WHERE leak_kind='definite')");
    q(st, sql, out);
    snprintf(want_s, sizeof want_s, "%zu,%zu,%zu,%zu", nw, live, live, live);
    assert_string_equal(out, want_s);
    /* a trace replayed by an older heaptrail: table `objects` (with a row of
     * another run) is moved into objects_live by the next replay */
    assert_int_equal(ht_store_exec(st,
        "DROP VIEW objects; CREATE TABLE objects AS SELECT * FROM"
        " objects_live WHERE 0; INSERT INTO objects VALUES(99, 1, 2, 3, 4,"
        " 5, 6, NULL, NULL, NULL, NULL, NULL); DROP TABLE objects_live;"
        " DELETE FROM object_chunks"), HT_OK);
    assert_int_equal(ht_replay_run(st, res.run_id, NULL, &rr), HT_OK);
    snprintf(sql, sizeof sql, "SELECT * FROM objects WHERE run_id=%lld"
             " AND free_seq IS NOT NULL", (long long)res.run_id);
    expect_rows(st, sql, res.run_id, want, nw);
    q(st, "SELECT * FROM objects WHERE run_id=99", out);
    assert_string_equal(out, "99,1,2,3,4,5,6,NULL,NULL,NULL,NULL,NULL");
    q(st, "SELECT type FROM sqlite_master WHERE name='objects'", out);
    assert_string_equal(out, "view");
    ht_store_close(st);
    free(t.r);
    free(want);
    free(aseq);
    free(rc);
    free(expl);
}

/* an allocation at a live block's address: the missed free releases the
 * old block at that event (a freed row, in a chunk), the new one is live */
static void test_missed_free(void **state)
{
    (void)state;
    const uint32_t cr = 64;
    struct tr t = {calloc(cr, sizeof(struct ht_rec)), 0, cr};
    assert_non_null(t.r);
    put_ev(&t, HT_EV_ALLOC, 0x5000, 32, 0x400010, 1); /* 0 */
    put_ev(&t, HT_EV_ALLOC, 0x6000, 48, 0x400020, 1); /* 1 */
    put_ev(&t, HT_EV_ALLOC, 0x5000, 64, 0x400030, 2); /* 2: missed free */
    put_ev(&t, HT_EV_FREE, 0x6000, 0, 0x400040, 1);   /* 3 */
    put_ev(&t, HT_EV_FREE, 0x6000, 0, 0x400050, 1);   /* 4: double free */
    char spill[300];
    snprintf(spill, sizeof spill, "%s/spill-999999-2.hts", dir);
    struct ht_spill_header *h = ht_test_spill_header(cr, 1, "/bin/true");
    assert_non_null(h);
    h->next_chunk = 1;
    assert_int_equal(ht_test_spill_write(spill, h, t.r,
                                         cr * sizeof(struct ht_rec)), 0);
    free(h);
    free(t.r);
    ht_store *st = open_db("missed.db");
    struct ht_ingest_result res;
    assert_int_equal(ht_store_ingest_spill(st, spill, NULL, 1, &res), HT_OK);
    struct ht_replay_result rr;
    assert_int_equal(ht_replay_run(st, res.run_id, NULL, &rr), HT_OK);
    char out[4096];
    q(st, "SELECT printf('%x', addr), size, alloc_seq, free_seq,"
          " printf('%x', pc), tid, leak_kind FROM objects ORDER BY alloc_seq",
      out);
    assert_string_equal(out, "5000,32,0,2,400010,1,NULL;"
                             "6000,48,1,3,400020,1,NULL;"
                             "5000,64,2,NULL,400030,2,definite");
    q(st, "SELECT seq, kind, printf('%x', addr) FROM errors ORDER BY seq",
      out);
    assert_string_equal(out, "2,missed_free,5000;4,double_free,6000");
    q(st, "SELECT (SELECT SUM(nrows) FROM object_chunks),"
          " (SELECT COUNT(*) FROM objects_live)", out);
    assert_string_equal(out, "2,1");
    ht_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_and_pushdown),
        cmocka_unit_test(test_objenc_batches),
        cmocka_unit_test(test_overlong_varint),
        cmocka_unit_test(test_corrupt_chunk),
        cmocka_unit_test(test_v1_chunk_reads),
        cmocka_unit_test(test_runs),
        cmocka_unit_test(test_group_widths),
        cmocka_unit_test(test_replay_view),
        cmocka_unit_test(test_missed_free),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
