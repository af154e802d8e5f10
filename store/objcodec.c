/*
 * Object chunks "oc": the `objects` rows of blocks freed during a run,
 * stored compactly (one SQLite row per HT_OBJCHUNK_MAX_ROWS objects instead
 * of one per allocation), and the `objects_freed` virtual table decoding them.
 *
 * Why: a churn trace has one freed block per two events; inserting one SQLite
 * row each capped the replay near 3 M events/s (bench/RESULTS.md). These rows
 * carry no finding (leak columns NULL), so they are kept as columns.
 *
 * Layout of a blob (table object_chunks(run_id, chunk_no, nrows, data)):
 *   byte 0 OC_MAGIC, byte 1 version, then one zstd frame (content size and
 *   checksum) holding the body: the column lengths as varints, then the
 *   columns. Per row, in the row order written (free order):
 *   C_FREE   zigzag(free_seq - previous free_seq)     (first previous: 0)
 *   C_LIFE   zigzag(free_seq - alloc_seq)
 *   C_ADDR   zigzag(addr - previous addr)
 *   C_SIZE   size
 * Version 2 (written) stores these four in groups of OC_GROUP rows (rows
 * 0-15, 16-31, ... of the chunk; the last group holds the rest): per column
 * and group one byte w (0..8), then the group's values as w-byte little-
 * endian numbers, w the fewest bytes that hold the group's largest value
 * (branch-free to write, about as many bytes as varints). Every other
 * value is a LEB128 varint. A row is "same" when its pc and tid equal the
 * previous row's (first previous: 0, 0) and it has no refcnt, as nearly
 * every row of a trace is; only the other rows are in C_PC, C_TID, C_RC:
 *   C_RUN    the number of "same" rows before the first other row, then
 *            after each other row the number of "same" rows following it
 *            (so one value more than there are other rows)
 *   C_PC     zigzag(pc - previous other row's pc)
 *   C_TID    zigzag(tid - previous other row's tid)
 *   C_RC     0 = NULL refcnt, else 1 followed by zigzag(refcnt)
 * Version 1 (still read; written before 2026-11-22): every value a varint,
 * no C_RUN, every row in C_PC, C_TID, C_RC (columns in the order FREE LIFE
 * ADDR SIZE PC TID RC).
 * Version 2 exists for the replay's speed (bench/RESULTS.md, h-replay5):
 * fixed widths and runs cost less to encode than varints and three bytes a
 * row, and zstd runs at OC_LEVEL -1 (no Huffman coding of literals: a third
 * of level 1's work). Invariants:
 *  1. the decoder bounds-checks every read, requires the row count given by
 *     the nrows column and every column to be consumed exactly; anything else
 *     is HT_ECORRUPT (never a crash);
 *  2. encode then decode gives back every field of struct ht_objrow (refcnt
 *     only when has_refcnt);
 *  3. the encoder's run count (oc_enc.run) counts the "same" rows since the
 *     last other row; it is written to C_RUN at the next other row or when
 *     the chunk is finished;
 *  4. the encoder's pending rows (oc_enc.np < OC_GROUP) are the chunk's
 *     rows past its last whole group, their four values in oc_enc.pend;
 *     they are written as a group when it fills or the chunk is finished.
 */
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "store_priv.h"

#define OC_MAGIC 0x0Cu
#define OC_VERSION 2u
/* level -1: zstd's fast strategy with literals stored raw (see above) */
#define OC_LEVEL (-1)

#define OC_GROUP 16u /* rows per fixed-width group (version 2) */

/* version 2's columns, in body order; version 1's are V1_* */
enum { C_FREE, C_LIFE, C_ADDR, C_SIZE, C_RUN, C_PC, C_TID, C_RC, NCOL };
enum { V1_PC = 4, V1_TID, V1_RC, V1_NCOL };

/* Append varint v at p; returns the byte after it. One- to three-byte
 * values (nearly every field of a row: address deltas and lifetimes take
 * two or three) without the loop. */
static inline uint8_t *put(uint8_t *p, uint64_t v)
{
    if (v < 0x80) {
        *p = (uint8_t)v;
        return p + 1;
    }
    if (v < 0x4000) {
        p[0] = (uint8_t)(v | 0x80);
        p[1] = (uint8_t)(v >> 7);
        return p + 2;
    }
    if (v < 0x200000) {
        p[0] = (uint8_t)(v | 0x80);
        p[1] = (uint8_t)(v >> 7 | 0x80);
        p[2] = (uint8_t)(v >> 14);
        return p + 3;
    }
    return p + ht__put_varint(p, v);
}

/* A chunk being encoded: its column cursors and the previous values the
 * deltas are taken from. Rows may come in several batches (ht_objenc):
 * the columns are the same as from one batch. */
struct oc_enc {
    uint8_t *base[NCOL], *c[NCOL];
    uint64_t pf, pa, pp, pt, run;
    size_t n;
    uint64_t pend[C_RUN][OC_GROUP]; /* invariant 4 */
    unsigned np;
};

/* columns of a chunk of up to HT_OBJCHUNK_MAX_ROWS rows laid out in col
 * (OC_COL_BYTES: a varint takes up to 10 bytes, C_RUN's up to 3 for one
 * value more than rows; C_RC, the last column, up to 2 varints per row) */
#define OC_COL_BYTES ((size_t)HT_OBJCHUNK_MAX_ROWS * 10 * (NCOL + 1))
/* a group column's bytes and its last store's 7 bytes past them fit */
_Static_assert(HT_OBJCHUNK_MAX_ROWS * 8 + HT_OBJCHUNK_MAX_ROWS / OC_GROUP +
                   1 + 7 <= HT_OBJCHUNK_MAX_ROWS * 10, "OC_COL_BYTES");
static void enc_init(struct oc_enc *e, uint8_t *col)
{
    for (int k = 0; k < NCOL; k++)
        e->base[k] = e->c[k] = col + (size_t)k * HT_OBJCHUNK_MAX_ROWS * 10;
    e->pf = e->pa = e->pp = e->pt = e->run = 0;
    e->n = 0;
    e->np = 0;
}

/* Write a group of k values (1 <= k <= OC_GROUP) at p: its width byte and
 * the values; returns the byte after them. Each value is one 8-byte store
 * (little-endian) of which the next overwrites all but its w bytes: the
 * column's buffer has room for 7 bytes past its end (OC_COL_BYTES). */
static inline __attribute__((always_inline)) uint8_t *
put_group(uint8_t *p, const uint64_t *v, unsigned k)
{
    uint64_t all = 0;
#pragma GCC unroll 16
    for (unsigned i = 0; i < k; i++)
        all |= v[i];
    const unsigned w = all ? (unsigned)(64 - __builtin_clzll(all) + 7) / 8 : 0;
    *p++ = (uint8_t)w;
#pragma GCC unroll 16
    for (unsigned i = 0; i < k; i++) {
        uint64_t x = v[i];
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        x = __builtin_bswap64(x);
#endif
        memcpy(p, &x, 8);
        p += w;
    }
    return p;
}

/* The pending rows' group (invariant 4) written, none left pending. */
static void flush_group(struct oc_enc *e)
{
    for (int k = 0; k < C_RUN; k++)
        e->c[k] = put_group(e->c[k], e->pend[k], e->np);
    e->np = 0;
}

/* Columns are independent streams, so the rows go through in two passes of
 * a few columns each: cursors, previous values and fields of one pass fit
 * the registers (all seven columns at once spilled them to the stack on
 * every row). A batch of rows stays in cache between the passes. */
/* Row x is not "same" (its pc, tid or refcnt): the run before it, then its
 * C_PC, C_TID, C_RC values (invariant 3); out of line, as it is rare. */
static __attribute__((noinline)) void other_row(struct oc_enc *e,
                                                const struct ht_objrow *x,
                                                uint64_t run)
{
    e->c[C_RUN] = put(e->c[C_RUN], run);
    e->c[C_PC] = put(e->c[C_PC], ht__zigzag((int64_t)(x->pc - e->pp)));
    e->c[C_TID] = put(e->c[C_TID], ht__zigzag((int64_t)(x->tid - e->pt)));
    uint8_t *cr = e->c[C_RC];
    *cr++ = x->has_refcnt != 0;
    if (x->has_refcnt)
        cr = put(cr, ht__zigzag(x->refcnt));
    e->c[C_RC] = cr;
    e->pp = x->pc;
    e->pt = x->tid;
}

/* One pass over the rows: whole groups straight from r (their values in a
 * local array, the cursors in locals: the byte stores may alias anything
 * reached through e or r); a group begun by an earlier batch, or the rest
 * of this one, row by row through e->pend (invariant 4). Each row's pc,
 * tid and refcnt extend the run or go to other_row (pp, pt: e->pp, e->pt
 * in locals, which only other_row changes). */
static void enc_rows(struct oc_enc *e, const struct ht_objrow *r, size_t n)
{
    uint64_t pf = e->pf, pa = e->pa, pp = e->pp, pt = e->pt, run = e->run;
#define OC_RUN_ROW(x)                                                      \
    do {                                                                   \
        if ((x)->pc == pp && (x)->tid == pt && !(x)->has_refcnt) {         \
            run++;                                                         \
        } else {                                                           \
            other_row(e, (x), run);                                        \
            run = 0;                                                       \
            pp = (x)->pc;                                                  \
            pt = (x)->tid;                                                 \
        }                                                                  \
    } while (0)
    size_t i = 0;
    while (i < n) {
        if (e->np == 0 && n - i >= OC_GROUP) {
            uint64_t v[C_RUN][OC_GROUP];
#pragma GCC unroll 16
            for (unsigned j = 0; j < OC_GROUP; j++, i++) {
                const uint64_t fs = r[i].free_seq, ad = r[i].addr;
                v[C_FREE][j] = ht__zigzag((int64_t)(fs - pf));
                v[C_LIFE][j] = ht__zigzag((int64_t)(fs - r[i].alloc_seq));
                v[C_ADDR][j] = ht__zigzag((int64_t)(ad - pa));
                v[C_SIZE][j] = r[i].size;
                pf = fs;
                pa = ad;
                OC_RUN_ROW(&r[i]);
            }
            uint8_t *cf = e->c[C_FREE], *cl = e->c[C_LIFE],
                    *ca = e->c[C_ADDR], *cs = e->c[C_SIZE];
            cf = put_group(cf, v[C_FREE], OC_GROUP);
            cl = put_group(cl, v[C_LIFE], OC_GROUP);
            ca = put_group(ca, v[C_ADDR], OC_GROUP);
            cs = put_group(cs, v[C_SIZE], OC_GROUP);
            e->c[C_FREE] = cf;
            e->c[C_LIFE] = cl;
            e->c[C_ADDR] = ca;
            e->c[C_SIZE] = cs;
            continue;
        }
        const unsigned np = e->np;
        const uint64_t fs = r[i].free_seq, ad = r[i].addr;
        e->pend[C_FREE][np] = ht__zigzag((int64_t)(fs - pf));
        e->pend[C_LIFE][np] = ht__zigzag((int64_t)(fs - r[i].alloc_seq));
        e->pend[C_ADDR][np] = ht__zigzag((int64_t)(ad - pa));
        e->pend[C_SIZE][np] = r[i].size;
        pf = fs;
        pa = ad;
        OC_RUN_ROW(&r[i]);
        i++;
        if (++e->np == OC_GROUP)
            flush_group(e);
    }
#undef OC_RUN_ROW
    e->pf = pf;
    e->pa = pa;
    e->run = run;
    e->n += n;
}

/* a zstd context as objects chunks are compressed; NULL on ENOMEM */
static ZSTD_CCtx *enc_cctx(void)
{
    ZSTD_CCtx *z = ZSTD_createCCtx();
    if (z) {
        ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, OC_LEVEL);
        ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1);
    }
    return z;
}

/* ---- ht_objenc: the encoder, a chunk appended in batches (see store.h) --
 * The only encoder of objects chunks (the replay, the tests and the fuzz
 * target). Owns its column buffer, its zstd context and the buffer frames
 * are compressed into (grown to the largest chunk's bound and reused; the
 * blob itself is allocated at its exact size, see ht__body_pack).
 * Invariant: e.n <= HT_OBJCHUNK_MAX_ROWS rows are in the columns. */
struct ht_objenc {
    struct oc_enc e;
    uint8_t *col; /* OC_COL_BYTES */
    ZSTD_CCtx *cctx;
    uint8_t *zbuf;
    size_t zcap;
};

ht_err ht_objenc_new(ht_objenc **out)
{
    *out = NULL;
    ht_objenc *x = calloc(1, sizeof *x);
    if (!x || !(x->col = malloc(OC_COL_BYTES)) || !(x->cctx = enc_cctx())) {
        ht_objenc_free(x);
        return HT_ENOMEM;
    }
    enc_init(&x->e, x->col);
    *out = x;
    return HT_OK;
}

void ht_objenc_free(ht_objenc *x)
{
    if (!x)
        return;
    ZSTD_freeCCtx(x->cctx);
    free(x->zbuf);
    free(x->col);
    free(x);
}

ht_err ht_objenc_add(ht_objenc *x, const struct ht_objrow *rows, size_t n)
{
    if (n > HT_OBJCHUNK_MAX_ROWS - x->e.n)
        return HT_EINVAL;
    enc_rows(&x->e, rows, n);
    return HT_OK;
}

/* The blob of x's rows, and x emptied; see store_int.h. */
ht_err ht__objenc_finish(ht_objenc *x, void **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (!x->e.n)
        return HT_EINVAL;
    if (x->e.np) /* invariant 4 */
        flush_group(&x->e);
    x->e.c[C_RUN] = put(x->e.c[C_RUN], x->e.run); /* invariant 3 */
    uint8_t *blob = NULL;
    ht_err e = ht__body_pack(x->cctx, x->e.base, x->e.c, NCOL, 2, &x->zbuf,
                             &x->zcap, &blob, len);
    enc_init(&x->e, x->col);
    if (e)
        return e;
    blob[0] = OC_MAGIC;
    blob[1] = OC_VERSION;
    *out = blob;
    return HT_OK;
}

size_t ht_objenc_count(const ht_objenc *x)
{
    return x->e.n;
}

/* Decoder workspace: the zstd context and the body buffer, kept between
 * chunks (the objects_freed cursor decodes one chunk after another) so a
 * chunk costs no allocation. Invariant: body has room for cap bytes. */
struct ht__objcodec_dec {
    ZSTD_DCtx *zd;
    uint8_t *body;
    size_t cap;
};

ht_err ht__objcodec_dec_new(ht__objcodec_dec **out)
{
    *out = NULL;
    ht__objcodec_dec *d = calloc(1, sizeof *d);
    if (!d || !(d->zd = ZSTD_createDCtx())) {
        free(d);
        return HT_ENOMEM;
    }
    *out = d;
    return HT_OK;
}

void ht__objcodec_dec_free(ht__objcodec_dec *d)
{
    if (!d)
        return;
    ZSTD_freeDCtx(d->zd);
    free(d->body);
    free(d);
}

/* Version 1's rows from its columns cs[0..V1_NCOL) (ending at ce) into
 * r[0..n); 0 if they do not decode exactly. */
static int decode_v1(const uint8_t **cs, const uint8_t *const *ce, size_t n,
                     struct ht_objrow *r)
{
    uint64_t pf = 0, pa = 0, pp = 0, pt = 0, v[V1_NCOL];
    for (size_t i = 0; i < n; i++) {
        uint64_t rcv = 0;
        for (int k = 0; k < V1_NCOL; k++)
            if (!ht__get_varint(&cs[k], ce[k], &v[k]))
                return 0;
        if (v[V1_RC] > 1 ||
            (v[V1_RC] && !ht__get_varint(&cs[V1_RC], ce[V1_RC], &rcv)))
            return 0;
        pf += (uint64_t)ht__unzigzag(v[C_FREE]);
        pa += (uint64_t)ht__unzigzag(v[C_ADDR]);
        pp += (uint64_t)ht__unzigzag(v[V1_PC]);
        pt += (uint64_t)ht__unzigzag(v[V1_TID]);
        r[i] = (struct ht_objrow){
            .addr = pa, .size = v[C_SIZE], .free_seq = pf,
            .alloc_seq = pf - (uint64_t)ht__unzigzag(v[C_LIFE]), .pc = pp,
            .tid = (uint32_t)pt, .has_refcnt = (uint8_t)v[V1_RC],
            .refcnt = ht__unzigzag(rcv)};
    }
    return 1;
}

/* Version 2's rows (see the top of the file); as decode_v1. */
static int decode_v2(const uint8_t **cs, const uint8_t *const *ce, size_t n,
                     struct ht_objrow *r)
{
    uint64_t pf = 0, pa = 0, pp = 0, pt = 0, run, v[C_RUN];
    unsigned w[C_RUN] = {0};
    uint8_t has_rc = 0;
    int64_t rc = 0;
    if (!ht__get_varint(&cs[C_RUN], ce[C_RUN], &run))
        return 0;
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < C_RUN; k++) {
            if (i % OC_GROUP == 0) { /* a group's width byte */
                if (cs[k] == ce[k] || *cs[k] > 8)
                    return 0;
                w[k] = *cs[k]++;
            }
            if ((size_t)(ce[k] - cs[k]) < w[k])
                return 0;
            v[k] = 0;
            for (unsigned b = 0; b < w[k]; b++)
                v[k] |= (uint64_t)cs[k][b] << (8 * b);
            cs[k] += w[k];
        }
        if (run) { /* a "same" row */
            run--;
            has_rc = 0;
            rc = 0;
        } else {
            uint64_t dp, dt, f, rcv = 0;
            if (!ht__get_varint(&cs[C_PC], ce[C_PC], &dp) ||
                !ht__get_varint(&cs[C_TID], ce[C_TID], &dt) ||
                !ht__get_varint(&cs[C_RC], ce[C_RC], &f) || f > 1 ||
                (f && !ht__get_varint(&cs[C_RC], ce[C_RC], &rcv)) ||
                !ht__get_varint(&cs[C_RUN], ce[C_RUN], &run))
                return 0;
            pp += (uint64_t)ht__unzigzag(dp);
            pt += (uint64_t)ht__unzigzag(dt);
            has_rc = (uint8_t)f;
            rc = ht__unzigzag(rcv);
        }
        pf += (uint64_t)ht__unzigzag(v[C_FREE]);
        pa += (uint64_t)ht__unzigzag(v[C_ADDR]);
        r[i] = (struct ht_objrow){
            .addr = pa, .size = v[C_SIZE], .free_seq = pf,
            .alloc_seq = pf - (uint64_t)ht__unzigzag(v[C_LIFE]), .pc = pp,
            .tid = (uint32_t)pt, .has_refcnt = has_rc, .refcnt = rc};
    }
    return !run; /* runs beyond the last row: not this chunk's count */
}

/* Decode a blob of n rows into r[0..n); see store_int.h. */
ht_err ht__objcodec_decode(ht__objcodec_dec *d, const void *blob, size_t len,
                           size_t n, struct ht_objrow *r)
{
    const uint8_t *in = blob;
    if (!n || n > HT_OBJCHUNK_MAX_ROWS || len < 3 || in[0] != OC_MAGIC ||
        (in[1] != 1 && in[1] != OC_VERSION))
        return HT_ECORRUPT;
    const int ncol = in[1] == 1 ? V1_NCOL : NCOL;
    unsigned long long fsz = ZSTD_getFrameContentSize(in + 2, len - 2);
    if (fsz == ZSTD_CONTENTSIZE_ERROR || fsz == ZSTD_CONTENTSIZE_UNKNOWN ||
        fsz > (unsigned long long)n * 10 * (NCOL + 1) + NCOL * 10)
        return HT_ECORRUPT;
    if (!ht__buf_room(&d->body, &d->cap, fsz ? (size_t)fsz : 1))
        return HT_ENOMEM;
    uint8_t *body = d->body;
    size_t got = ZSTD_decompressDCtx(d->zd, body, (size_t)fsz, in + 2,
                                     len - 2);
    const uint8_t *cs[NCOL], *ce[NCOL];
    if (ZSTD_isError(got) || got != fsz ||
        !ht__body_split(body, got, ncol, cs, ce))
        return HT_ECORRUPT;
    if (!(ncol == V1_NCOL ? decode_v1(cs, ce, n, r) : decode_v2(cs, ce, n, r)))
        return HT_ECORRUPT;
    for (int k = 0; k < ncol; k++)
        if (cs[k] != ce[k])
            return HT_ECORRUPT;
    return HT_OK;
}

/* Insert blob (taken: freed on every path) as chunk chunk_no of n rows. */
static ht_err chunk_insert(ht_store *st, int64_t run_id, int64_t chunk_no,
                           size_t n, void *blob, size_t len)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db,
            "INSERT INTO object_chunks VALUES(?1,?2,?3,?4)", -1, &s,
            NULL) != SQLITE_OK) {
        free(blob);
        return ht__store_sqlerr(st, "writing object chunk");
    }
    sqlite3_bind_int64(s, 1, run_id);
    sqlite3_bind_int64(s, 2, chunk_no);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)n);
    sqlite3_bind_blob(s, 4, blob, (int)len, free);
    ht_err e = sqlite3_step(s) == SQLITE_DONE
                   ? HT_OK
                   : ht__store_sqlerr(st, "writing object chunk");
    sqlite3_finalize(s);
    return e;
}

/* Store x's rows as one chunk and empty x; see store.h. */
ht_err ht_store_objchunk_flush(ht_store *st, int64_t run_id,
                               int64_t chunk_no, ht_objenc *x)
{
    void *blob = NULL;
    size_t len = 0, n = x->e.n;
    ht_err e = ht__objenc_finish(x, &blob, &len);
    return e ? e : chunk_insert(st, run_id, chunk_no, n, blob, len);
}

/* ---- objects_freed virtual table ---------------------------------------
 * Columns as `objects`; leak_kind, lost_seq, lost_by, lost_by_site are always
 * NULL. An equality on run_id is pushed down; a constraint on a leak column
 * that NULL cannot satisfy (=, <, >, LIKE, IS NOT NULL...) makes the scan
 * empty without reading a chunk, so `objects WHERE leak_kind=...` (the
 * reports, run_summary) costs nothing here. */
enum { O_RUN, O_ADDR, O_SIZE, O_ALLOC, O_FREE, O_PC, O_TID, O_RC, O_KIND,
       O_LSEQ, O_LBY, O_LSITE };

typedef struct {
    sqlite3_vtab base;
    ht_store *st;
} of_vtab;

typedef struct {
    sqlite3_vtab_cursor base;
    of_vtab *vt;
    sqlite3_stmt *stmt;
    struct ht_objrow *buf;
    ht__objcodec_dec *dec; /* made with buf, kept across chunks and scans */
    size_t n, pos;
    int64_t run_id, chunk_no, rowid;
    int eof;
} of_cursor;

static int of_connect(sqlite3 *db, void *aux, int argc,
                      const char *const *argv, sqlite3_vtab **out, char **errp)
{
    (void)argc; (void)argv; (void)errp;
    int rc = sqlite3_declare_vtab(db,
        "CREATE TABLE x(run_id INTEGER, addr INTEGER, size INTEGER,"
        " alloc_seq INTEGER, free_seq INTEGER, pc INTEGER, tid INTEGER,"
        " refcnt INTEGER, leak_kind TEXT, lost_seq INTEGER, lost_by TEXT,"
        " lost_by_site INTEGER)");
    if (rc != SQLITE_OK)
        return rc;
    of_vtab *vt = sqlite3_malloc(sizeof *vt);
    if (!vt)
        return SQLITE_NOMEM;
    memset(vt, 0, sizeof *vt);
    vt->st = aux;
    *out = &vt->base;
    return SQLITE_OK;
}

static int of_disconnect(sqlite3_vtab *vt)
{
    sqlite3_free(vt);
    return SQLITE_OK;
}

/* idxNum: 0 all runs, 1 one run (argv[0]), 2 empty */
static int of_best_index(sqlite3_vtab *vt, sqlite3_index_info *info)
{
    (void)vt;
    info->idxNum = 0;
    info->estimatedCost = 1e9;
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        if (!c->usable || c->iColumn < O_KIND)
            continue;
        switch (c->op) {
        case SQLITE_INDEX_CONSTRAINT_EQ: case SQLITE_INDEX_CONSTRAINT_GT:
        case SQLITE_INDEX_CONSTRAINT_LE: case SQLITE_INDEX_CONSTRAINT_LT:
        case SQLITE_INDEX_CONSTRAINT_GE: case SQLITE_INDEX_CONSTRAINT_LIKE:
        case SQLITE_INDEX_CONSTRAINT_GLOB: case SQLITE_INDEX_CONSTRAINT_NE:
        case SQLITE_INDEX_CONSTRAINT_ISNOTNULL:
            info->idxNum = 2; /* false for NULL: no row qualifies */
            info->estimatedCost = 1;
            return SQLITE_OK;
        default:
            break;
        }
    }
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        if (c->usable && c->iColumn == O_RUN &&
            c->op == SQLITE_INDEX_CONSTRAINT_EQ) {
            info->idxNum = 1;
            info->aConstraintUsage[i].argvIndex = 1;
            info->aConstraintUsage[i].omit = 1;
            info->estimatedCost = 1e6;
            break;
        }
    }
    return SQLITE_OK;
}

static int of_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out)
{
    of_cursor *c = sqlite3_malloc(sizeof *c);
    if (!c)
        return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    c->vt = (of_vtab *)vt;
    *out = &c->base;
    return SQLITE_OK;
}

static void of_reset(of_cursor *c)
{
    sqlite3_finalize(c->stmt);
    c->stmt = NULL;
    c->n = c->pos = 0;
    c->eof = 1;
}

static int of_close(sqlite3_vtab_cursor *cur)
{
    of_cursor *c = (of_cursor *)cur;
    of_reset(c);
    free(c->buf);
    ht__objcodec_dec_free(c->dec);
    sqlite3_free(c);
    return SQLITE_OK;
}

/* report msg (sqlite3_mprintf'd, owned here) as the error of the scan */
static int of_fail(of_cursor *c, int rc, char *msg)
{
    sqlite3_free(c->vt->base.zErrMsg);
    c->vt->base.zErrMsg = msg;
    of_reset(c);
    return rc;
}

/* Make buf[pos] valid or set eof. */
static int of_fill(of_cursor *c)
{
    while (c->pos >= c->n && !c->eof) {
        int rc = sqlite3_step(c->stmt);
        if (rc == SQLITE_DONE) {
            of_reset(c);
            return SQLITE_OK;
        }
        if (rc != SQLITE_ROW)
            return of_fail(c, rc, sqlite3_mprintf("reading object_chunks: %s",
                sqlite3_errmsg(sqlite3_db_handle(c->stmt))));
        c->run_id = sqlite3_column_int64(c->stmt, 0);
        c->chunk_no = sqlite3_column_int64(c->stmt, 1);
        int64_t n = sqlite3_column_int64(c->stmt, 2);
        const void *blob = sqlite3_column_blob(c->stmt, 3);
        size_t len = (size_t)sqlite3_column_bytes(c->stmt, 3);
        ht_err e = n < 1 || n > HT_OBJCHUNK_MAX_ROWS
                       ? HT_ECORRUPT
                       : ht__objcodec_decode(c->dec, blob, len, (size_t)n,
                                             c->buf);
        if (e == HT_ENOMEM)
            return of_fail(c, SQLITE_NOMEM, sqlite3_mprintf("out of memory"));
        if (e)
            return of_fail(c, SQLITE_CORRUPT, sqlite3_mprintf(
                "object chunk %lld of run %lld does not decode",
                (long long)c->chunk_no, (long long)c->run_id));
        c->n = (size_t)n;
        c->pos = 0;
    }
    return SQLITE_OK;
}

static int of_filter(sqlite3_vtab_cursor *cur, int idx, const char *idxstr,
                     int argc, sqlite3_value **argv)
{
    (void)idxstr; (void)argc;
    of_cursor *c = (of_cursor *)cur;
    of_reset(c);
    c->rowid = 0;
    if (idx == 2)
        return SQLITE_OK;
    if (!c->buf && !(c->buf = malloc(HT_OBJCHUNK_MAX_ROWS * sizeof *c->buf)))
        return SQLITE_NOMEM;
    if (!c->dec && ht__objcodec_dec_new(&c->dec) != HT_OK)
        return SQLITE_NOMEM;
    const char *sql = idx == 1
        ? "SELECT run_id, chunk_no, nrows, data FROM object_chunks"
          " WHERE run_id=?1 ORDER BY chunk_no"
        : "SELECT run_id, chunk_no, nrows, data FROM object_chunks"
          " ORDER BY run_id, chunk_no";
    if (sqlite3_prepare_v2(c->vt->st->db, sql, -1, &c->stmt, NULL) !=
        SQLITE_OK) {
        /* a trace never replayed by this version has no object_chunks */
        if (!strstr(sqlite3_errmsg(c->vt->st->db), "no such table"))
            return of_fail(c, SQLITE_ERROR, sqlite3_mprintf(
                "reading object_chunks: %s", sqlite3_errmsg(c->vt->st->db)));
        return SQLITE_OK;
    }
    if (idx == 1)
        sqlite3_bind_int64(c->stmt, 1, sqlite3_value_int64(argv[0]));
    c->eof = 0;
    return of_fill(c);
}

static int of_next(sqlite3_vtab_cursor *cur)
{
    of_cursor *c = (of_cursor *)cur;
    c->pos++;
    c->rowid++;
    return of_fill(c);
}

static int of_eof(sqlite3_vtab_cursor *cur)
{
    of_cursor *c = (of_cursor *)cur;
    return c->eof && c->pos >= c->n;
}

static int of_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col)
{
    of_cursor *c = (of_cursor *)cur;
    const struct ht_objrow *r = &c->buf[c->pos];
    switch (col) {
    case O_RUN: sqlite3_result_int64(ctx, c->run_id); break;
    case O_ADDR: sqlite3_result_int64(ctx, (sqlite3_int64)r->addr); break;
    case O_SIZE: sqlite3_result_int64(ctx, (sqlite3_int64)r->size); break;
    case O_ALLOC: sqlite3_result_int64(ctx, (sqlite3_int64)r->alloc_seq); break;
    case O_FREE: sqlite3_result_int64(ctx, (sqlite3_int64)r->free_seq); break;
    case O_PC: sqlite3_result_int64(ctx, (sqlite3_int64)r->pc); break;
    case O_TID: sqlite3_result_int64(ctx, r->tid); break;
    case O_RC:
        if (r->has_refcnt)
            sqlite3_result_int64(ctx, r->refcnt);
        break;
    default: break; /* leak columns: NULL */
    }
    return SQLITE_OK;
}

static int of_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *out)
{
    *out = ((of_cursor *)cur)->rowid;
    return SQLITE_OK;
}

static sqlite3_module objects_freed_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous-only */
    .xConnect = of_connect,
    .xBestIndex = of_best_index,
    .xDisconnect = of_disconnect,
    .xDestroy = of_disconnect,
    .xOpen = of_open,
    .xClose = of_close,
    .xFilter = of_filter,
    .xNext = of_next,
    .xEof = of_eof,
    .xColumn = of_column,
    .xRowid = of_rowid,
};

/* Register objects_freed on db with st as its store (see store_priv.h). */
int ht__objvtab_register(sqlite3 *db, ht_store *st)
{
    return sqlite3_create_module(db, "objects_freed", &objects_freed_module,
                                 st);
}
