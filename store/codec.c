/*
 * Chunk codec "cv1": column-wise varint transform + zstd.
 *
 * Layout of an encoded chunk:
 *
 *   byte 0      HT_CV1_MAGIC
 *   byte 1      HT_CV1_VERSION
 *   bytes 2..5  n, record count (u32 little endian, 1..HT_CODEC_MAX_RECORDS)
 *   bytes 6..9  raw_len, size of the transformed body (u32 little endian)
 *   bytes 10..  one zstd frame (content size + checksum) holding the body
 *
 * The body is NSTREAM varint stream lengths followed by the streams' bytes,
 * in enum order. Each record contributes (version 4):
 *   S_KIND   header byte: kind in bits 0-2 (7: the kind byte follows in
 *            S_XKIND, for kinds >= 7), HB_SITE (bit 3): d is the previous
 *            d of the same kind (0 before the first) and is not written,
 *            and four bits saying which values
 *            differ from the usual, each followed by its value only then:
 *            HB_SEQ   seq - previous seq (u64 wrap) != 1: it in S_SEQ
 *            HB_TID   tid != previous record's: its dictionary index in
 *                     S_TID (a new tid: index == size, value in S_TIDNEW)
 *            HB_FLAGS flags != the previous record's OF THE SAME KIND:
 *                     them in S_FLAGS (before the first record: tid 0,
 *                     flags 0, seq 0)
 *            HB_ZERO  every M_RAW field of the record is 0 (vacuously set
 *                     for kinds without one): none written to S_RAW
 *   and one encoding per field a..d, chosen by a per-kind mode table
 *   (field_mode()):
 *   M_RAW    varint of the value (S_RAW, or S_SIZE for sizes)
 *   M_DELTA  ht__zigzag(value - previous value of the same kind and field), S_DELTA
 *   M_HIST_A / M_HIST_F  a token in S_HTOK: k >= 1 means "the address pushed
 *            k pushes ago on the alloc (resp. free) history"; 0 means not found
 *            and is followed by an M_DELTA encoding. A FREE's address is almost
 *            always a recently allocated one and an ALLOC's address a recently
 *            freed one (allocator reuse), so the tokens are 1-2 bytes where
 *            address deltas are 3-5.
 *   M_DICT   dictionary index in S_DIDX; index == dictionary size means a new
 *            value, whose varint follows in S_DNEW (call sites: few distinct).
 *   M_HIST_R (version 2: INCREF/DECREF a, STORE b and c) a token in S_RTOK:
 *            1 = NULL; k >= 2 = the pointer pushed k - 1 pushes ago on the
 *            reference history (every non-NULL INCREF/DECREF a and STORE b
 *            then c, every ALLOC a, in record order); 0 = not found, an M_DELTA
 *            encoding follows. The pointer a STORE writes was usually just
 *            INCREF'd or allocated and the one it replaces just DECREF'd (or
 *            is DECREF'd right after): bench_micro graph 5.93 -> 3.32
 *            bytes/event, alloc/free streams unchanged.
 *
 * Versions: 4 (written) is version 3 with HB_SITE, the kind in 3 bits:
 * nearly every ALLOC/FREE/STORE repeats its kind's previous call site
 * (bench_micro small, mixed: all; threads 96 %, graph 65 %), so the site
 * index (a dictionary lookup and a byte of S_DIDX per record) is gone:
 * encoder (with zstd) -6 to -8 %, decoder -3 to -12 % instructions per
 * event, bytes unchanged within 0.06 per event (DECISIONS 34).
 * 3 (before 2026-11-22 10:10 UTC, 13 streams) adds the header byte and
 * S_XKIND (kind byte of kinds >= 15): the
 * seq, tid and flags streams had a byte per record (the seq step is nearly
 * always 1, the tid nearly always the previous record's, the flags nearly
 * always the previous ones of the kind), as had S_RAW (a FREE's b and c, an
 * ALLOC's c: nearly always 0); about 4 of ~10 body bytes per record gone,
 * so zstd and the writers do less (bench/RESULTS.md, h-codec section).
 * 2 (12 streams, before 2026-11-22 07:40 UTC) writes the kind byte, S_SEQ,
 * S_TID and S_FLAGS for every record (tid: index only; S_TIDNEW for a new
 * one) and every M_RAW field; it adds M_HIST_R and the stream S_RTOK after
 * S_DNEW to 1 (before 2026-11; 11 streams; INCREF/DECREF a and STORE a..c
 * M_DELTA, INCREF/DECREF b, c M_RAW). Both are still decoded.
 *
 * The encoder finds history tokens and dictionary indexes through small
 * direct-mapped caches (lossy: a miss only costs a delta or a duplicate
 * dictionary entry; the three histories share one table, struct
 * hist_slot); the decoder keeps full arrays, so it accepts any token in
 * range whatever the encoder's cache sizes were.
 *
 * Invariants (both directions):
 *  1. Encoder and decoder update histories, dictionaries and previous values
 *     identically after every record, so every token resolves to one value.
 *  2. The decoder bounds-checks every read and token and requires every stream
 *     to be consumed exactly; any violation is HT_ECORRUPT. The zstd frame
 *     carries its content size and a checksum, so damaged chunks are rejected
 *     before parsing in all but astronomically rare cases.
 *
 * Measured with bench_codec (synthetic glibc-like alloc/free stream, 8 call
 * sites, 2 threads): about 2.95 bytes/event at zstd level 1, 20+ M events/s
 * encode and decode on an idle core (level 3 is both larger and slower here;
 * negative levels give ~3.9 bytes/event without being faster overall).
 * On real traces (`bench_codec --recs`, bench_micro small/graph/threads,
 * version 3): level 1 2.9-3.3 bytes/event, zstd 86-178 instructions/event
 * of the encoder's 254-333; level -1 would cut zstd by 34-44 instructions
 * for +0.55 bytes/event (realloc/ht-store's trace file then 5.84 of its 6
 * bytes/event budget): not taken. The 4-byte index slots the encoder tried
 * instead of these caches (checked against its own history arrays) had
 * fewer instructions but more cache misses (cachegrind), so they stay.
 */
#include "store/store_int.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define HT_CV1_MAGIC 0xC5u
#define HT_CV1_VERSION 4u /* written; 1 to 3 are still read */
#define HT_CV1_HDR 10u
#ifndef HT_CV1_LEVEL
#define HT_CV1_LEVEL 1 /* measured with bench_codec: see its header */
#endif

enum { S_KIND, S_SEQ, S_TID, S_TIDNEW, S_FLAGS, S_HTOK, S_DELTA, S_SIZE,
       S_RAW, S_DIDX, S_DNEW, S_RTOK, S_XKIND, NSTREAM };
#define NSTREAM_V1 S_RTOK  /* version 1 chunks have the streams before it */
#define NSTREAM_V2 S_XKIND /* version 2 chunks: the streams before it */

/* Worst-case bytes per record in each stream. */
static const size_t stream_max[NSTREAM] = {1, 10, 3, 5, 3, 6, 40, 10,
                                           40, 3, 10, 6, 1};

/* Version 3's record header byte (S_KIND): the kind in the low bits
 * (HB_KIND_ESC: the kind byte follows in S_XKIND) and which of the
 * per-record values differ from the usual (see the design comment).
 * Version 4 has three kind bits (HB4_KIND) and HB_SITE. */
#define HB_KIND 0x0fu
#define HB_KIND_ESC 0x0fu
#define HB4_KIND 0x07u
#define HB4_KIND_ESC 0x07u
#define HB_SITE 0x08u  /* version 4: d == previous same kind's: not written */
#define HB_SEQ 0x10u   /* seq - previous seq != 1: the difference in S_SEQ */
#define HB_TID 0x20u   /* tid != previous record's: its index in S_TID */
#define HB_FLAGS 0x40u /* flags != previous same kind's: them in S_FLAGS */
#define HB_ZERO 0x80u  /* every M_RAW field is 0: none in S_RAW */

enum mode { M_RAW, M_SIZE, M_DELTA, M_HIST_A, M_HIST_F, M_DICT, M_HIST_R };

/* Encoding of field f (0=a .. 3=d) for a record kind in codec version ver
 * (1 to 4: version 2 predicts the pointers of STORE/INCREF/DECREF from the
 * reference history, M_HIST_R; versions 3 and 4 have version 2's field
 * modes). */
static inline __attribute__((always_inline)) enum mode
field_mode(unsigned kind, unsigned f, unsigned ver)
{
    if (f == 3)
        return M_DICT;
    if (ver >= 2) {
        if (kind == HT_EV_STORE)
            return f == 0 ? M_DELTA : M_HIST_R;
        if (kind == HT_EV_INCREF || kind == HT_EV_DECREF)
            return f == 0 ? M_HIST_R : M_RAW;
    }
    switch (kind) {
    case HT_EV_ALLOC:
        return f == 0 ? M_HIST_F : f == 1 ? M_SIZE : M_RAW;
    case HT_EV_REALLOC:
        return f == 0 ? M_HIST_F : f == 1 ? M_SIZE : M_HIST_A;
    case HT_EV_FREE:
        return f == 0 ? M_HIST_A : M_RAW;
    case HT_EV_INCREF:
    case HT_EV_DECREF:
        return f == 0 ? M_DELTA : M_RAW;
    default:
        return M_DELTA;
    }
}

/* ---- shared state --------------------------------------------------------- */

/* Direct-mapped cache u64 -> u32 (index + 1; 0 = empty). Lossy: a colliding
 * key overwrites the slot, which only costs the encoder a cache miss (a delta
 * or a duplicate dictionary entry), never correctness, because the decoder
 * keeps the full history and dictionaries. */
#define HIST_BITS 13 /* address histories: 8192 slots of 32 bytes */
#define DICT_BITS 10 /* tid and call-site dictionaries: 16 KB each */

struct cache_ent {
    uint64_t key;
    uint32_t val;
    uint32_t gen; /* the chunk that put it (enc.gen): other chunks' are empty */
};

/* The encoder's three address histories in one direct-mapped table keyed
 * by the value: a slot holds the 1-based push index of its key on each
 * history (0: none), so a record's lookup and pushes of one value touch one
 * cache line, where three tables took up to three (an ALLOC looks its
 * address up on the free history and pushes it on the alloc and reference
 * ones). A push of another key takes the slot over and drops the old key's
 * indexes on all three histories: lossy like the rest (a miss costs a
 * delta). Cleared for every chunk (256 KB, a few thousandths of an
 * instruction per record): a generation check as the dictionaries have
 * cost more (cachegrind, bench_codec --recs small: 176 -> 157 instructions
 * per event). */
struct hist_slot {
    uint64_t key;
    uint32_t val[3]; /* push index + 1 on history [h] */
    uint32_t pad[3]; /* 32 bytes: a slot never straddles a cache line */
};

static inline uint32_t cache_hash(uint64_t key, unsigned bits)
{
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

static inline struct cache_ent *cache_slot(struct cache_ent *c, uint64_t key,
                                           unsigned bits)
{
    return &c[cache_hash(key, bits)];
}

/* The value cached for key, or 0. */
static inline uint32_t cache_get(struct cache_ent *c, uint64_t key,
                                 unsigned bits, uint32_t gen)
{
    struct cache_ent *e = cache_slot(c, key, bits);
    return e->key == key && e->gen == gen ? e->val : 0;
}

static inline void cache_put(struct cache_ent *c, uint64_t key, uint32_t val,
                             unsigned bits, uint32_t gen)
{
    struct cache_ent *e = cache_slot(c, key, bits);
    e->key = key;
    e->val = val;
    e->gen = gen;
}

/* Per-chunk model state shared by encoder and decoder (invariant 1). The
 * histories themselves are full arrays in the decoder and caches (value ->
 * 1-based push index) in the encoder; the previous values per (kind, field)
 * are each side's own table (prev). */
struct model {
    uint64_t prev_seq;
    uint32_t nhist[3];     /* pushes so far: [0] alloc, [1] free, [2] ref */
    unsigned ver;          /* codec version of the chunk (1 or 2) */
    uint32_t ntid, nd;     /* dictionary sizes */
};

/* The history pushes of one record, in push order within each history (the
 * one place that says which values are pushed: encoder and decoder both
 * apply exactly these, invariant 1). refs: the chunk keeps the reference
 * history (version 2; the decoder also drops it when the chunk has no
 * M_HIST_R token, since it is then never read). Returns the count (<= 2). */
struct push {
    int h;      /* history: 0 alloc, 1 free, 2 ref */
    int f;      /* the field pushed: 0 a, 1 b, 2 c */
    uint64_t v;
};

static inline __attribute__((always_inline)) unsigned
rec_pushes(unsigned kind, int refs, uint64_t a, uint64_t b, uint64_t c,
           struct push out[2])
{
    unsigned n = 0;
    switch (kind) {
    case HT_EV_ALLOC:
        out[n++] = (struct push){0, 0, a};
        if (refs)
            out[n++] = (struct push){2, 0, a};
        break;
    case HT_EV_FREE:
        out[n++] = (struct push){1, 0, a};
        break;
    case HT_EV_REALLOC:
        if (c)
            out[n++] = (struct push){1, 2, c};
        if (a)
            out[n++] = (struct push){0, 0, a};
        break;
    case HT_EV_STORE:
        if (refs && b)
            out[n++] = (struct push){2, 1, b};
        if (refs && c)
            out[n++] = (struct push){2, 2, c};
        break;
    case HT_EV_INCREF:
    case HT_EV_DECREF:
        if (refs && a)
            out[n++] = (struct push){2, 0, a};
        break;
    default:
        break;
    }
    return n;
}

/* ---- encoder ---------------------------------------------------------------- */

/* The encoder's tables, in the thread's workspace (enc_ws). */
struct enc_tab {
    uint16_t last_flags[256]; /* flags of the previous record of each kind
                               * (0 before the first, as the decoder's) */
    uint64_t prev[256][4]; /* previous value per (kind, field a..d) */
    struct hist_slot hist[1u << HIST_BITS]; /* cleared per chunk */
    /* Not cleared per chunk (32 KB; the rest above is): an entry counts
     * only when its gen is this chunk's, so a new gen empties the caches. */
    uint32_t gen;
    struct cache_ent tid[1u << DICT_BITS], d[1u << DICT_BITS];
};

/* The encoder's state of the open chunk: a local of
 * ht__codec_encode_to whose address never escapes (every function taking
 * it is inlined), so that the stream cursors, counts and gen stay in
 * registers; as members of the workspace they were reloaded after every
 * byte written to a stream (a uint8_t store may alias anything), ~20 % of
 * the transform's instructions. */
struct enc {
    uint8_t *s[NSTREAM]; /* write cursors */
    uint32_t last_tid;   /* tid of the previous record */
    uint32_t gen;        /* t->gen */
    struct model m;
    struct enc_tab *t;
};

static inline void put(struct enc *e, int s, uint64_t v)
{
    uint8_t *p = e->s[s];
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    e->s[s] = p;
}

/* The history caches at v's slot hv = cache_hash(v, HIST_BITS): the three
 * histories share their size, so a record hashes each value once for its
 * lookup and its pushes. */
static inline void hist_push_enc(struct enc *e, int h, uint64_t v, uint32_t hv)
{
    struct hist_slot *c = &e->t->hist[hv];
    if (c->key != v) {
        c->key = v;
        c->val[0] = c->val[1] = c->val[2] = 0;
    }
    c->val[h] = ++e->m.nhist[h];
}

/* The 1-based push index of v on history h, or 0 (not cached). */
static inline uint32_t hist_get_enc(struct enc *e, int h, uint64_t v,
                                    uint32_t hv)
{
    const struct hist_slot *c = &e->t->hist[hv];
    return c->key == v ? c->val[h] : 0;
}

/* Field f of a record of kind `kind`; zero: the record's header has
 * HB_ZERO (its M_RAW fields are 0 and not written). */
static inline __attribute__((always_inline)) void
enc_field(struct enc *e, unsigned kind, unsigned f, uint64_t v, uint32_t hv,
          int zero)
{
    /* the encoder writes HT_CV1_VERSION only: with kind a constant (see
     * enc_rec), the mode is one too */
    enum mode md = field_mode(kind, f, HT_CV1_VERSION);
    uint32_t idx;

    switch (md) {
    case M_RAW:
        if (!zero)
            put(e, S_RAW, v);
        return;
    case M_SIZE:
        put(e, S_SIZE, v);
        return;
    case M_DICT:
        idx = cache_get(e->t->d, v, DICT_BITS, e->gen);
        if (idx) {
            put(e, S_DIDX, idx - 1);
        } else {
            cache_put(e->t->d, v, ++e->m.nd, DICT_BITS, e->gen);
            put(e, S_DIDX, e->m.nd - 1);
            put(e, S_DNEW, v);
        }
        return;
    case M_HIST_R:
        /* token 1: NULL (prev unchanged); k >= 2: pushed k - 1 pushes ago */
        if (!v) {
            put(e, S_RTOK, 1);
            return;
        }
        idx = hist_get_enc(e, 2, v, hv);
        put(e, S_RTOK, idx ? e->m.nhist[2] - idx + 2 : 0);
        if (!idx)
            put(e, S_DELTA, ht__zigzag((int64_t)(v - e->t->prev[kind][f])));
        break;
    case M_HIST_A:
    case M_HIST_F: {
        int h = md == M_HIST_A ? 0 : 1;
        uint32_t tok = hist_get_enc(e, h, v, hv);
        if (tok)
            tok = e->m.nhist[h] - tok + 1;
        put(e, S_HTOK, tok);
        if (tok)
            break;
    }
        /* fall through */
    case M_DELTA:
        put(e, S_DELTA, ht__zigzag((int64_t)(v - e->t->prev[kind][f])));
        break;
    }
    e->t->prev[kind][f] = v;
}

/* The header byte of r (kind k; see HB_*) and its escaped kind, tid and
 * flags streams, then fields a..d and the history pushes. Inlined once
 * per kind by enc_rec, so that field_mode() folds to straight-line code. */
static inline __attribute__((always_inline)) void
enc_fields(struct enc *e, const struct ht_rec *r, unsigned k)
{
    uint64_t dseq = r->seq - e->m.prev_seq;
    /* HB_ZERO: every M_RAW field is 0 (vacuously for kinds without one) */
    int zero = 1;
    if (field_mode(k, 0, HT_CV1_VERSION) == M_RAW && r->a)
        zero = 0;
    if (field_mode(k, 1, HT_CV1_VERSION) == M_RAW && r->b)
        zero = 0;
    if (field_mode(k, 2, HT_CV1_VERSION) == M_RAW && r->c)
        zero = 0;
    unsigned h = (k < HB4_KIND_ESC ? k : HB4_KIND_ESC) |
                 (r->d == e->t->prev[k][3] ? HB_SITE : 0) |
                 (dseq != 1 ? HB_SEQ : 0) |
                 (r->tid != e->last_tid ? HB_TID : 0) |
                 (r->flags != e->t->last_flags[k] ? HB_FLAGS : 0) |
                 (zero ? HB_ZERO : 0);
    *e->s[S_KIND]++ = (uint8_t)h;
    if (k >= HB4_KIND_ESC)
        *e->s[S_XKIND]++ = (uint8_t)k;
    e->m.prev_seq = r->seq;
    if (h & HB_SEQ)
        put(e, S_SEQ, dseq);
    if (h & HB_TID) {
        uint32_t idx = cache_get(e->t->tid, r->tid, DICT_BITS, e->gen);
        if (!idx) {
            cache_put(e->t->tid, r->tid, ++e->m.ntid, DICT_BITS, e->gen);
            put(e, S_TIDNEW, r->tid);
            idx = e->m.ntid;
        }
        put(e, S_TID, idx - 1);
        e->last_tid = r->tid;
    }
    if (h & HB_FLAGS) {
        put(e, S_FLAGS, r->flags);
        e->t->last_flags[k] = r->flags;
    }
    /* each value's history slot, computed once (unused ones fold away) */
    const uint32_t hv[3] = {cache_hash(r->a, HIST_BITS),
                            cache_hash(r->b, HIST_BITS),
                            cache_hash(r->c, HIST_BITS)};
    enc_field(e, k, 0, r->a, hv[0], zero);
    enc_field(e, k, 1, r->b, hv[1], zero);
    enc_field(e, k, 2, r->c, hv[2], zero);
    if (!(h & HB_SITE)) {
        enc_field(e, k, 3, r->d, 0, zero);
        e->t->prev[k][3] = r->d;
    }
    struct push ps[2];
    unsigned np = rec_pushes(k, HT_CV1_VERSION >= 2, r->a, r->b, r->c, ps);
    for (unsigned i = 0; i < np; i++)
        hist_push_enc(e, ps[i].h, ps[i].v, hv[ps[i].f]);
}

static inline __attribute__((always_inline)) void
enc_rec(struct enc *e, const struct ht_rec *r)
{
    switch (r->kind) {
    case HT_EV_ALLOC:
        enc_fields(e, r, HT_EV_ALLOC);
        break;
    case HT_EV_REALLOC:
        enc_fields(e, r, HT_EV_REALLOC);
        break;
    case HT_EV_FREE:
        enc_fields(e, r, HT_EV_FREE);
        break;
    case HT_EV_STORE:
        enc_fields(e, r, HT_EV_STORE);
        break;
    case HT_EV_INCREF:
        enc_fields(e, r, HT_EV_INCREF);
        break;
    case HT_EV_DECREF:
        enc_fields(e, r, HT_EV_DECREF);
        break;
    default: /* M_DELTA a..c, M_DICT d; no history */
        enc_fields(e, r, r->kind);
        break;
    }
}

static void put_u32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static size_t raw_bound(size_t n)
{
    size_t per = 0;
    for (int s = 0; s < NSTREAM; s++)
        per += stream_max[s];
    return n * per + NSTREAM * 5;
}

/* Compress the part lengths then the parts, as one zstd frame with the
 * body size pledged, into dst[0..cap): the frame's size, or a zstd error
 * code (ZSTD_isError) also when cap is too small. */
static size_t body_compress(ZSTD_CCtx *cctx, uint8_t *const *base,
                            uint8_t *const *end, int nparts, uint8_t *dst,
                            size_t cap)
{
    uint8_t lens[HT_BODY_MAX_PARTS * 10];
    size_t nlens = 0, raw = 0, r;
    ZSTD_outBuffer out = {dst, cap, 0};

    if (nparts < 1 || nparts > HT_BODY_MAX_PARTS)
        return (size_t)-1; /* an error code for ZSTD_isError */
    for (int s = 0; s < nparts; s++) {
        size_t len = (size_t)(end[s] - base[s]);
        nlens += ht__put_varint(lens + nlens, len);
        raw += len;
    }
    ZSTD_CCtx_setPledgedSrcSize(cctx, nlens + raw);
    for (int s = -1; s < nparts; s++) {
        ZSTD_inBuffer in = {s < 0 ? lens : base[s],
                            s < 0 ? nlens : (size_t)(end[s] - base[s]),
                            0};
        ZSTD_EndDirective last = s == nparts - 1 ? ZSTD_e_end
                                                 : ZSTD_e_continue;
        do {
            r = ZSTD_compressStream2(cctx, &out, &in, last);
            if (ZSTD_isError(r))
                return r;
            if (out.pos == out.size && (r || in.pos < in.size))
                return (size_t)-1; /* an error code for ZSTD_isError */
        } while (last == ZSTD_e_end ? r != 0 : in.pos < in.size);
    }
    return out.pos;
}

/* Compress the parts into *buf after hdr bytes left for the caller (*buf
 * of capacity *cap, owned by the caller, grown here without keeping its
 * contents); *len = hdr + the frame's size. HT_ENOMEM (also a zstd
 * failure). */
static ht_err body_into(ZSTD_CCtx *cctx, uint8_t *const *base,
                        uint8_t *const *end, int nparts, size_t hdr,
                        uint8_t **buf, size_t *cap, size_t *len)
{
    *len = 0;
    size_t raw = 0;
    for (int s = 0; s < nparts; s++)
        raw += (size_t)(end[s] - base[s]) + 10; /* + its length's varint */
    if (!ht__buf_room(buf, cap, hdr + ZSTD_compressBound(raw)))
        return HT_ENOMEM;
    /* parameters are set once by the context's owner; a failed earlier
     * call may have left a frame half made */
    ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only);
    size_t z = body_compress(cctx, base, end, nparts, *buf + hdr, *cap - hdr);
    if (ZSTD_isError(z))
        return HT_ENOMEM;
    *len = hdr + z;
    return HT_OK;
}

/* Compress a body into a blob of its exact size; see store_int.h (shared
 * with objcodec.c, whose columns are parts too). */
ht_err ht__body_pack(ZSTD_CCtx *cctx, uint8_t *const *base,
                     uint8_t *const *end, int nparts, size_t hdr,
                     uint8_t **zbuf, size_t *zcap, uint8_t **out,
                     size_t *len)
{
    *out = NULL;
    *len = 0;
    size_t z;
    ht_err e = body_into(cctx, base, end, nparts, 0, zbuf, zcap, &z);
    if (e != HT_OK)
        return e;
    uint8_t *b = malloc(hdr + z);
    if (!b)
        return HT_ENOMEM;
    memcpy(b + hdr, *zbuf, z);
    *out = b;
    *len = hdr + z;
    return HT_OK;
}

/* Raw (uncompressed) body size of streams base[s]..end[s]. */
static size_t body_len(uint8_t *const *base, uint8_t *const *end)
{
    uint8_t tmp[10];
    size_t total = 0;
    for (int s = 0; s < NSTREAM; s++) {
        size_t len = (size_t)(end[s] - base[s]);
        total += len + ht__put_varint(tmp, len);
    }
    return total;
}

/* Per-thread encoder workspace, made on first use and reused by every later
 * call of the thread (about 9 MB of mostly untouched address space, and the
 * zstd output buffer), so that encoding a chunk costs no page faults: the
 * caller's buffer is then allocated at its exact size, from the heap (a
 * compressBound-sized one, ~650 KB, was an mmap, its page faults and an
 * mremap per chunk). Never freed: it lives as long as the thread (reachable
 * through TLS, so leak checkers stay quiet). */
static __thread struct {
    struct enc_tab *e;
    uint8_t *streams;
    uint8_t *zbuf;
    size_t zcap;
    ZSTD_CCtx *cctx;
} enc_ws;

/* Free the calling thread's encoder workspace (for a thread about to exit;
 * a later encode on the thread makes a new one). */
void ht__codec_thread_done(void)
{
    free(enc_ws.e);
    free(enc_ws.streams);
    free(enc_ws.zbuf);
    ZSTD_freeCCtx(enc_ws.cctx);
    memset(&enc_ws, 0, sizeof(enc_ws));
}

/* The thread's workspace (enc_ws), made on first use; HT_ENOMEM. */
static ht_err enc_ws_get(void)
{
    if (enc_ws.e)
        return HT_OK;
    enc_ws.e = calloc(1, sizeof(*enc_ws.e)); /* gen 0: every cache empty */
    enc_ws.streams = malloc(raw_bound(HT_CODEC_MAX_RECORDS));
    enc_ws.cctx = ZSTD_createCCtx();
    if (!enc_ws.e || !enc_ws.streams || !enc_ws.cctx) {
        ht__codec_thread_done();
        return HT_ENOMEM;
    }
    ZSTD_CCtx_setParameter(enc_ws.cctx, ZSTD_c_compressionLevel, HT_CV1_LEVEL);
    ZSTD_CCtx_setParameter(enc_ws.cctx, ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(enc_ws.cctx, ZSTD_c_contentSizeFlag, 1);
    return HT_OK;
}

/* A fresh per-chunk state in e for n records, the workspace's tables
 * reset: everything but the tid/site dictionaries zeroed (the history
 * table too), those emptied by a new generation; base[s] = the start of
 * stream s. */
static void enc_reset(struct enc *e, uint8_t **base, size_t n)
{
    struct enc_tab *t = enc_ws.e;
    uint32_t gen = t->gen + 1;
    if (gen == 0) { /* wrapped: entries of gen 1 could be 2^32 chunks old */
        memset(t, 0, sizeof(*t));
        gen = 1;
    }
    memset(t, 0, offsetof(struct enc_tab, gen));
    t->gen = gen;
    memset(e, 0, sizeof(*e));
    e->t = t;
    e->gen = gen;
    e->m.ver = HT_CV1_VERSION;
    size_t off = 0;
    for (int s = 0; s < NSTREAM; s++) {
        base[s] = e->s[s] = enc_ws.streams + off;
        off += stream_max[s] * n;
    }
}

/*
 * Encode recs[0..n) into the caller's buffer *buf (capacity *cap, replaced
 * by a larger one when too small; *buf NULL and *cap 0 at first; the caller
 * owns it and frees it once, whatever the calls returned), *len bytes. Reusing one
 * buffer for every chunk spares a malloc, free and copy of each chunk (the
 * ingest's encoders: its first-touch page faults too). Errors: HT_EINVAL
 * (n is 0 or above HT_CODEC_MAX_RECORDS, or an argument is NULL),
 * HT_ENOMEM (also an internal zstd failure); *len = 0 then.
 */
ht_err ht__codec_encode_to(const struct ht_rec *recs, size_t n, uint8_t **buf,
                           size_t *cap, size_t *len)
{
    if (len)
        *len = 0;
    if (!recs || !buf || !cap || !len || n == 0 || n > HT_CODEC_MAX_RECORDS)
        return HT_EINVAL;
    if (enc_ws_get() != HT_OK)
        return HT_ENOMEM;
    struct enc e;
    uint8_t *base[NSTREAM];
    enc_reset(&e, base, n);
    for (size_t i = 0; i < n; i++)
        enc_rec(&e, &recs[i]);
    size_t raw_len = body_len(base, e.s);
    ht_err err = body_into(enc_ws.cctx, base, e.s, NSTREAM, HT_CV1_HDR,
                           buf, cap, len);
    if (err != HT_OK)
        return err;
    uint8_t *b = *buf;
    b[0] = HT_CV1_MAGIC;
    b[1] = HT_CV1_VERSION;
    put_u32le(b + 2, (uint32_t)n);
    put_u32le(b + 6, (uint32_t)raw_len);
    return HT_OK;
}

/*
 * Encode recs[0..n) into a new malloc'd buffer (*out, *out_len), owned by the
 * caller. Errors: HT_EINVAL if n is 0 or above HT_CODEC_MAX_RECORDS or an
 * argument is NULL, HT_ENOMEM (also for an internal zstd failure). On error
 * *out = NULL and *out_len = 0.
 */
ht_err ht__codec_encode(const struct ht_rec *recs, size_t n, void **out,
                        size_t *out_len)
{
    if (out)
        *out = NULL;
    if (out_len)
        *out_len = 0;
    if (!out || !out_len)
        return HT_EINVAL;
    /* through the thread's reused buffer, then a blob of the exact size */
    size_t len = 0;
    ht_err e = ht__codec_encode_to(recs, n, &enc_ws.zbuf, &enc_ws.zcap, &len);
    if (e != HT_OK)
        return e;
    uint8_t *buf = malloc(len);
    if (!buf)
        return HT_ENOMEM;
    memcpy(buf, enc_ws.zbuf, len);
    *out = buf;
    *out_len = len;
    return HT_OK;
}

/* ---- decoder ---------------------------------------------------------------- */

/* Decoder state of the open chunk. ht__codec_dec_next works on a local copy
 * of it (written back after the batch), so that the stream cursors, counts
 * and array bases live in registers rather than being reloaded after every
 * store into the history arrays and records (which might alias them). */
struct dec {
    const uint8_t *p[NSTREAM], *end[NSTREAM];
    uint64_t *hist[3]; /* pushed values, m.nhist[h] of them */
    uint64_t *tids, *ds;
    uint64_t (*prev)[4]; /* previous value per (kind, field a..d): 256 rows
                          * (d: version 4's HB_SITE) */
    struct model m;
    uint64_t last_tid; /* version 3: tid of the previous record */
    uint16_t *last_flags; /* version 3: flags of the previous record of each
                           * kind (256; 0 before the first, as the
                           * encoder's) */
    int refs; /* the reference history is kept (see rec_pushes) */
    int bad;
};

/* get()'s loop for a varint of 4 or more bytes at p: its value and length
 * (0: malformed). Takes no pointer to the decoder, whose local copy then
 * stays in registers. */
struct varint {
    uint64_t v;
    unsigned len;
};

static __attribute__((noinline)) struct varint get_long(const uint8_t *p)
{
    uint64_t v = 0;
    for (unsigned shift = 0, i = 0; shift < 64; shift += 7) {
        uint8_t b = p[i++];
        if (shift == 63 && b > 1)
            break;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return (struct varint){v, i};
    }
    return (struct varint){0, 0};
}

/* Read a varint from stream s; sets d->bad and returns 0 on a malformed one.
 * No end test: the caller guarantees readable bytes past the stream's end
 * (the body's padding) and checks for an overrun afterwards (see
 * ht__codec_dec_next). */
static inline __attribute__((always_inline)) uint64_t get(struct dec *d, int s)
{
    const uint8_t *p = d->p[s];
    uint64_t v;
    /* one- to three-byte varints (nearly all: history tokens and deltas)
     * unrolled; the loop below gives the same */
    if (__builtin_expect(p[0] < 0x80, 1)) {
        d->p[s] = p + 1;
        return p[0];
    }
    v = (uint64_t)(p[0] & 0x7f) | (uint64_t)(p[1] & 0x7f) << 7;
    if (p[1] < 0x80) {
        d->p[s] = p + 2;
        return v;
    }
    v |= (uint64_t)(p[2] & 0x7f) << 14;
    if (p[2] < 0x80) {
        d->p[s] = p + 3;
        return v;
    }
    struct varint r = get_long(p);
    if (!r.len)
        d->bad = 1;
    d->p[s] = p + r.len;
    return r.v;
}

/* Field f of a record of kind `kind`; zero: the record's header has
 * HB_ZERO (version 3; M_RAW fields are then 0, not in S_RAW). */
static inline __attribute__((always_inline)) uint64_t
dec_field(struct dec *d, unsigned kind, unsigned f, int zero)
{
    enum mode md = field_mode(kind, f, d->m.ver);
    uint64_t v, i;

    switch (md) {
    case M_RAW:
        return zero ? 0 : get(d, S_RAW);
    case M_SIZE:
        return get(d, S_SIZE);
    case M_DICT:
        i = get(d, S_DIDX);
        if (__builtin_expect(i < d->m.nd, 1))
            return d->ds[i];
        if (i == d->m.nd) {
            v = get(d, S_DNEW);
            d->ds[d->m.nd++] = v;
            return v;
        }
        d->bad = 1;
        return 0;
    case M_HIST_R:
        i = get(d, S_RTOK);
        if (i == 1)
            return 0;
        if (i > (uint64_t)d->m.nhist[2] + 1) {
            d->bad = 1;
            return 0;
        }
        v = i ? d->hist[2][d->m.nhist[2] - (i - 1)]
              : d->prev[kind][f] + (uint64_t)ht__unzigzag(get(d, S_DELTA));
        break;
    case M_HIST_A:
    case M_HIST_F: {
        /* no array index by a variable h: d stays in registers */
        uint32_t nh = md == M_HIST_A ? d->m.nhist[0] : d->m.nhist[1];
        i = get(d, S_HTOK);
        if (i > nh) {
            d->bad = 1;
            return 0;
        }
        if (__builtin_expect(i != 0, 1)) {
            v = (md == M_HIST_A ? d->hist[0] : d->hist[1])[nh - i];
            break;
        }
    }
        /* fall through */
    case M_DELTA:
        v = d->prev[kind][f] + (uint64_t)ht__unzigzag(get(d, S_DELTA));
        break;
    default:
        d->bad = 1;
        return 0;
    }
    d->prev[kind][f] = v;
    return v;
}

/* The fields a..d of a record of kind k (a constant where inlined for the
 * common kinds, so that field_mode() folds away) and its history pushes;
 * refs: d->refs (a constant in dec_usual: the pushes' loop unrolls). */
static inline __attribute__((always_inline)) void
dec_fields(struct dec *restrict d, struct ht_rec *restrict r, unsigned k,
           int zero, int site, int refs)
{
    struct push ps[2];
    unsigned np;

    r->a = dec_field(d, k, 0, zero);
    r->b = dec_field(d, k, 1, zero);
    r->c = dec_field(d, k, 2, zero);
    if (site) {
        r->d = d->prev[k][3];
    } else {
        r->d = dec_field(d, k, 3, zero);
        d->prev[k][3] = r->d;
    }
    np = rec_pushes(k, refs, r->a, r->b, r->c, ps);
    for (unsigned i = 0; i < np; i++) {
        /* constant indexes (see struct dec) */
        if (ps[i].h == 0)
            d->hist[0][d->m.nhist[0]++] = ps[i].v;
        else if (ps[i].h == 1)
            d->hist[1][d->m.nhist[1]++] = ps[i].v;
        else
            d->hist[2][d->m.nhist[2]++] = ps[i].v;
    }
}

/* dec_fields with the two kinds of nearly every record as constants;
 * site: version 4's HB_SITE (d not written: the previous d of the kind);
 * refs: d->refs (0 where the caller knows it is: version 1) */
static inline __attribute__((always_inline)) void
dec_kind_fields(struct dec *restrict d, struct ht_rec *restrict r, unsigned k,
                int zero, int site, int refs)
{
    if (k == HT_EV_ALLOC)
        dec_fields(d, r, HT_EV_ALLOC, zero, site, refs);
    else if (k == HT_EV_FREE)
        dec_fields(d, r, HT_EV_FREE, zero, site, refs);
    else
        dec_fields(d, r, k, zero, site, refs);
}

/* A tid: its dictionary index in S_TID, a new one's value in S_TIDNEW;
 * sets d->bad (returning 0) on an index past the dictionary's end. */
static inline __attribute__((always_inline)) uint64_t dec_tid(struct dec *d)
{
    uint64_t t = get(d, S_TID);
    if (__builtin_expect(t >= d->m.ntid, 0)) {
        if (t > d->m.ntid) {
            d->bad = 1;
            return 0;
        }
        uint64_t v = get(d, S_TIDNEW);
        if (v > UINT32_MAX)
            d->bad = 1;
        d->tids[d->m.ntid++] = v;
    }
    return d->tids[t];
}

/* A version 1 or 2 record; refs: d->refs (version 1: 0) */
static inline __attribute__((always_inline)) void
dec_rec(struct dec *restrict d, struct ht_rec *restrict r, int refs)
{
    uint64_t t, fl;
    unsigned k;

    /* every field is written below (on error recs are unspecified): no
     * memset, the output buffer is larger than the cache */
    r->reserved = 0;
    k = *d->p[S_KIND]++;
    r->kind = (uint8_t)k;
    r->seq = d->m.prev_seq + get(d, S_SEQ);
    d->m.prev_seq = r->seq;
    /* a bad index gives 0 and d->bad; decoding goes on (every read and
     * token stays bounds-checked) until the batch's end refuses the chunk */
    t = dec_tid(d);
    r->tid = (uint32_t)t;
    fl = get(d, S_FLAGS);
    if (fl > UINT16_MAX)
        d->bad = 1;
    r->flags = (uint16_t)fl;
    dec_kind_fields(d, r, k, 0, 0, refs);
}

/* A version 3 or (v4) 4 record whose header byte h (HB_*) the caller has
 * read from S_KIND: the fields. */
static inline __attribute__((always_inline)) void
dec_rec3(struct dec *restrict d, struct ht_rec *restrict r, unsigned h,
         int v4)
{
    const unsigned esc = v4 ? HB4_KIND_ESC : HB_KIND_ESC;
    unsigned k = h & (v4 ? HB4_KIND : HB_KIND);

    r->reserved = 0;
    if (__builtin_expect(k == esc, 0)) {
        k = *d->p[S_XKIND]++;
        if (k < esc) /* the encoder escapes no other kind */
            d->bad = 1;
    }
    r->kind = (uint8_t)k;
    r->seq = d->m.prev_seq + (h & HB_SEQ ? get(d, S_SEQ) : 1);
    d->m.prev_seq = r->seq;
    if (h & HB_TID) {
        d->last_tid = dec_tid(d);
        if (d->bad)
            return;
    }
    r->tid = (uint32_t)d->last_tid;
    if (h & HB_FLAGS) {
        uint64_t fl = get(d, S_FLAGS);
        if (fl > UINT16_MAX)
            d->bad = 1;
        d->last_flags[k] = (uint16_t)fl;
    }
    r->flags = d->last_flags[k];
    dec_kind_fields(d, r, k, (h & HB_ZERO) != 0, v4 && (h & HB_SITE),
                    d->refs);
}

/* Version 4's usual header of kind k (a constant < HB4_KIND_ESC): seq step
 * 1, the previous record's tid, the kind's previous flags and call site,
 * every M_RAW field 0 (a STORE has none). Nearly every ALLOC and FREE of
 * an alloc/free trace has it (bench_micro small, mixed: all), and most
 * STOREs. */
#define HB4_USUAL(k) ((k) | HB_SITE | HB_ZERO)

/* dec_rec3 of a record with header HB4_USUAL(k): none of its tests;
 * refs: d->refs */
static inline __attribute__((always_inline)) void
dec_usual(struct dec *restrict d, struct ht_rec *restrict r, unsigned k,
          int refs)
{
    r->reserved = 0;
    r->kind = (uint8_t)k;
    r->seq = ++d->m.prev_seq;
    r->tid = (uint32_t)d->last_tid;
    r->flags = d->last_flags[k];
    dec_fields(d, r, k, 1, 1, refs);
}

/* A version 4 record; refs: d->refs (the caller's loop is specialised on
 * it) */
static inline __attribute__((always_inline)) void
dec_rec4(struct dec *restrict d, struct ht_rec *restrict r, int refs)
{
    unsigned h = *d->p[S_KIND]++;
    if (h == HB4_USUAL(HT_EV_ALLOC))
        dec_usual(d, r, HT_EV_ALLOC, refs);
    else if (h == HB4_USUAL(HT_EV_FREE))
        dec_usual(d, r, HT_EV_FREE, refs);
    else if (h == HB4_USUAL(HT_EV_STORE))
        dec_usual(d, r, HT_EV_STORE, refs);
    else
        dec_rec3(d, r, h, 1);
}

/* Split a body the encoders wrote; see store_int.h. */
int ht__body_split(const uint8_t *body, size_t len, int nparts,
                   const uint8_t **start, const uint8_t **end)
{
    uint64_t lens[HT_BODY_MAX_PARTS], total = 0;
    const uint8_t *p = body;

    if (nparts < 1 || nparts > HT_BODY_MAX_PARTS)
        return 0;
    for (int s = 0; s < nparts; s++) {
        if (!ht__get_varint(&p, body + len, &lens[s]))
            return 0;
        total += lens[s];
        if (lens[s] > len || total > len)
            return 0;
    }
    if (total != (uint64_t)(body + len - p))
        return 0;
    for (int s = 0; s < nparts; s++) {
        start[s] = p;
        p += lens[s];
        end[s] = p;
    }
    return 1;
}

/* The streams of a chunk body; a version 1 body lacks the reference
 * stream and a version 2 one S_XKIND, which are then empty. */
static int body_split(struct dec *d, const uint8_t *body, size_t len)
{
    int ns = d->m.ver < 2 ? NSTREAM_V1 : d->m.ver < 3 ? NSTREAM_V2 : NSTREAM;
    if (!ht__body_split(body, len, ns, d->p, d->end))
        return 0;
    for (int s = ns; s < NSTREAM; s++)
        d->p[s] = d->end[s] = body + len;
    return 1;
}

/* ---- streaming decoder ------------------------------------------------------
 * One chunk at a time, its records handed out a batch at a time: the caller's
 * batch buffer (a few thousand records) stays in cache, where a whole chunk
 * (up to HT_CODEC_MAX_RECORDS x 48 bytes = 3 MB) would not. The workspace
 * (zstd context, body, histories, dictionaries) is kept between chunks, so a
 * chunk costs no allocation.
 * Invariants: 1. left == records of the open chunk not yet handed out, and
 * the streams hold exactly their encodings; 2. the body, histories and
 * dictionaries have room for cap_recs records (hist/tids/ds) and cap_body
 * bytes. */
/* Records decoded between two overrun checks, and the body's padding that
 * makes it safe: a record reads at most 40 bytes of one stream (four
 * 10-byte varints), so streams that were within their ends at a check stay
 * within the body plus DEC_PAD until the next. */
#define DEC_FAST 256u
#define DEC_PAD (DEC_FAST * 40u + 16u)

struct ht__codec_dec {
    struct dec d;
    uint64_t prev[256][4]; /* d.prev: previous values of the open chunk */
    uint16_t last_flags[256]; /* d.last_flags */
    ZSTD_DCtx *zd;
    uint8_t *body;
    size_t cap_body, cap_recs;
    uint32_t left;
};

ht_err ht__codec_dec_new(ht__codec_dec **out)
{
    *out = NULL;
    ht__codec_dec *c = calloc(1, sizeof(*c));
    if (!c || !(c->zd = ZSTD_createDCtx())) {
        free(c);
        return HT_ENOMEM;
    }
    *out = c;
    return HT_OK;
}

void ht__codec_dec_free(ht__codec_dec *c)
{
    if (!c)
        return;
    ZSTD_freeDCtx(c->zd);
    free(c->body);
    free(c->d.hist[0]);
    free(c->d.hist[1]);
    free(c->d.hist[2]);
    free(c->d.tids);
    free(c->d.ds);
    free(c);
}

/* room for cnt records and raw_len body bytes (contents not kept) */
static ht_err dec_reserve(ht__codec_dec *c, uint32_t cnt, size_t raw_len)
{
    if (raw_len > c->cap_body) {
        uint8_t *b = malloc(raw_len + DEC_PAD);
        if (!b)
            return HT_ENOMEM;
        /* read past the end of a malformed chunk's last stream: defined
         * bytes (the overrun is then rejected) */
        memset(b + raw_len, 0, DEC_PAD);
        free(c->body);
        c->body = b;
        c->cap_body = raw_len;
    }
    if (cnt > c->cap_recs) {
        uint64_t **arr[5] = {&c->d.hist[0], &c->d.hist[1], &c->d.tids,
                             &c->d.ds, &c->d.hist[2]};
        c->cap_recs = 0; /* until every array has the room */
        for (int i = 0; i < 5; i++) {
            free(*arr[i]);
            /* the reference history takes up to 2 pushes a record (a
             * STORE's new and old value; rec_pushes) */
            if (!(*arr[i] = malloc(sizeof(uint64_t) * cnt * (i == 4 ? 2 : 1))))
                return HT_ENOMEM;
        }
        c->cap_recs = cnt;
    }
    return HT_OK;
}

/* 1 if a stream was read past its end (exact: or not to its end) */
static int overrun(const struct dec *d, int exact)
{
    for (int s = 0; s < NSTREAM; s++)
        if (exact ? d->p[s] != d->end[s] : d->p[s] > d->end[s])
            return 1;
    return 0;
}

/*
 * Start decoding the chunk buf[0..len) (not referenced after the call);
 * *count = its record count. Errors: HT_ECORRUPT (malformed; nothing is
 * open), HT_ENOMEM. A chunk still open is dropped.
 */
ht_err ht__codec_dec_open(ht__codec_dec *c, const void *buf, size_t len,
                          size_t *count)
{
    const uint8_t *in = buf;
    uint32_t cnt, raw_len;
    unsigned long long fsz;
    size_t got;
    ht_err rc;

    *count = 0;
    c->left = 0;
    if (!buf || len < HT_CV1_HDR || in[0] != HT_CV1_MAGIC || in[1] < 1 ||
        in[1] > HT_CV1_VERSION)
        return HT_ECORRUPT;
    cnt = get_u32le(in + 2);
    raw_len = get_u32le(in + 6);
    if (cnt == 0 || cnt > HT_CODEC_MAX_RECORDS || raw_len > raw_bound(cnt))
        return HT_ECORRUPT;
    fsz = ZSTD_getFrameContentSize(in + HT_CV1_HDR, len - HT_CV1_HDR);
    if (fsz != raw_len)
        return HT_ECORRUPT;
    if ((rc = dec_reserve(c, cnt, raw_len ? raw_len : 1)) != HT_OK)
        return rc;
    uint64_t *keep[5] = {c->d.hist[0], c->d.hist[1], c->d.hist[2], c->d.tids,
                         c->d.ds};
    memset(&c->d, 0, sizeof(c->d));
    c->d.hist[0] = keep[0];
    c->d.hist[1] = keep[1];
    c->d.hist[2] = keep[2];
    c->d.tids = keep[3];
    c->d.ds = keep[4];
    c->d.prev = c->prev;
    memset(c->prev, 0, sizeof(c->prev));
    c->d.last_flags = c->last_flags;
    memset(c->last_flags, 0, sizeof(c->last_flags));
    c->d.m.ver = in[1];
    got = ZSTD_decompressDCtx(c->zd, c->body, raw_len, in + HT_CV1_HDR,
                              len - HT_CV1_HDR);
    if (ZSTD_isError(got) || got != raw_len ||
        !body_split(&c->d, c->body, raw_len) ||
        (size_t)(c->d.end[S_KIND] - c->d.p[S_KIND]) != cnt)
        return HT_ECORRUPT;
    /* no M_HIST_R token in the chunk: the reference history is never read */
    c->d.refs = c->d.m.ver >= 2 && c->d.p[S_RTOK] != c->d.end[S_RTOK];
    c->left = cnt;
    *count = cnt;
    return HT_OK;
}

/*
 * The next up to cap records of the open chunk into recs[0..*n); *n == 0 at
 * its end. With the last record, checks that every stream was consumed
 * exactly. HT_ECORRUPT: the chunk is malformed at or before this batch (the
 * records of earlier batches were valid encodings; this batch's are
 * unspecified); *n = 0 on error, and every later call fails the same way
 * until the next open.
 */
ht_err ht__codec_dec_next(ht__codec_dec *c, struct ht_rec *restrict recs,
                          size_t cap, size_t *n)
{
    /* a local copy (see struct dec), written back before each check */
    struct dec d = c->d;
    uint32_t k = c->left < cap ? c->left : (uint32_t)cap;

    *n = 0;
    /* DEC_FAST records at a time without a test of the streams' ends per
     * read (a third of the decoder's work), then one test that no stream
     * was overrun: a malformed chunk is rejected at the same batch */
    for (uint32_t i = 0; i < k && !d.bad;) {
        uint32_t e = k - i < DEC_FAST ? k : i + DEC_FAST;
        if (d.m.ver >= 4 && d.refs)
            for (; i < e; i++)
                dec_rec4(&d, &recs[i], 1);
        else if (d.m.ver >= 4)
            for (; i < e; i++)
                dec_rec4(&d, &recs[i], 0);
        else if (d.m.ver == 3)
            for (; i < e; i++)
                dec_rec3(&d, &recs[i], *d.p[S_KIND]++, 0);
        else if (d.m.ver == 2 && d.refs)
            for (; i < e; i++)
                dec_rec(&d, &recs[i], 1);
        else if (d.m.ver == 2)
            for (; i < e; i++)
                dec_rec(&d, &recs[i], 0);
        else /* version 1: no reference history */
            for (; i < e; i++)
                dec_rec(&d, &recs[i], 0);
        c->d = d;
        d.bad |= overrun(&c->d, 0);
    }
    c->left -= k;
    c->d = d;
    if (!d.bad && !c->left)
        c->d.bad = overrun(&c->d, 1);
    if (c->d.bad) {
        c->left = 0;
        return HT_ECORRUPT;
    }
    *n = k;
    return HT_OK;
}

/*
 * Decode the chunk buf[0..len) into recs[0..cap); *n = record count.
 * Errors: HT_ECORRUPT for any malformed input, HT_EINVAL if cap is smaller
 * than the chunk's record count (or a pointer is NULL), HT_ENOMEM. On error
 * *n = 0 and recs' contents are unspecified.
 */
ht_err ht__codec_decode(const void *buf, size_t len, struct ht_rec *recs,
                        size_t cap, size_t *n)
{
    ht__codec_dec *c = NULL;
    size_t cnt = 0, got = 0;
    ht_err rc;

    if (n)
        *n = 0;
    if (!n || (!buf && len) || (!recs && cap))
        return HT_EINVAL;
    if ((rc = ht__codec_dec_new(&c)) != HT_OK)
        return rc;
    if ((rc = ht__codec_dec_open(c, buf, len, &cnt)) == HT_OK) {
        if (cnt > cap)
            rc = HT_EINVAL;
        else
            rc = ht__codec_dec_next(c, recs, cnt, &got);
    }
    ht__codec_dec_free(c);
    if (rc == HT_OK)
        *n = got;
    return rc;
}
