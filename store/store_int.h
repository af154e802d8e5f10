/*
 * store/ private interfaces shared between its files.
 */
#ifndef HEAPTRAIL_STORE_INT_H
#define HEAPTRAIL_STORE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "heaptrail/err.h"
#include "heaptrail/event.h"

/* ---- chunk codec (codec.c) ------------------------------------------------
 * A stored chunk holds up to HT_CODEC_MAX_RECORDS records of ONE run in
 * increasing seq order (records of all threads, already merged). The codec is
 * lossless for every field of struct ht_rec except `reserved`.
 */
#define HT_CODEC_MAX_RECORDS 65536u

/* Encode n records (1 <= n <= HT_CODEC_MAX_RECORDS). On success *out is a
 * malloc'd buffer owned by the caller (free()), *out_len its size.
 * Errors: HT_EINVAL (n out of range), HT_ENOMEM. */
ht_err ht__codec_encode(const struct ht_rec *recs, size_t n, void **out,
                        size_t *out_len);
/* The same into a buffer the caller keeps for many chunks: *buf (capacity
 * *cap; NULL and 0 at first) is replaced by a larger one when too small
 * (contents not kept), owned by
 * the caller (free() once at the end); *len bytes written. Errors as
 * ht__codec_encode (*len = 0 then). */
ht_err ht__codec_encode_to(const struct ht_rec *recs, size_t n, uint8_t **buf,
                           size_t *cap, size_t *len);
/* Free the calling thread's encoder workspace (kept per thread between
 * calls); for a thread about to exit. */
void ht__codec_thread_done(void);

/* Decode a buffer produced by ht__codec_encode into recs[0..cap). Sets *n.
 * Errors: HT_ECORRUPT (any malformed input, never a crash), HT_EINVAL
 * (cap too small), HT_ENOMEM. On error *n = 0. */
ht_err ht__codec_decode(const void *buf, size_t len, struct ht_rec *recs,
                        size_t cap, size_t *n);

/* Streaming decoder (the reader's): one chunk at a time, handed out in
 * batches of the caller's size so its buffer stays in cache; the workspace
 * is reused across chunks. new: HT_ENOMEM; free accepts NULL. open: start
 * the chunk buf[0..len) (not referenced afterwards), *count its records;
 * HT_ECORRUPT, HT_ENOMEM. next: up to cap records into recs, *n of them (0
 * at the chunk's end); HT_ECORRUPT if the chunk turns out malformed (the
 * last record checks that every stream was consumed): batches handed out
 * before were decoded from a chunk whose zstd checksum held. */
typedef struct ht__codec_dec ht__codec_dec;
ht_err ht__codec_dec_new(ht__codec_dec **out);
void ht__codec_dec_free(ht__codec_dec *d);
ht_err ht__codec_dec_open(ht__codec_dec *d, const void *buf, size_t len,
                          size_t *count);
ht_err ht__codec_dec_next(ht__codec_dec *d, struct ht_rec *recs, size_t cap,
                          size_t *n);

/* Pack a body into a blob: the varint lengths of the nparts
 * (1..HT_BODY_MAX_PARTS) parts base[k]..end[k), then the parts' bytes in
 * order, compressed as one zstd frame with cctx's parameters (the caller sets
 * them once; the session is reset here, in case an earlier call failed
 * halfway) and the body size pledged, so the frame carries it. The frame is
 * made in *zbuf (capacity *zcap; a workspace owned by the caller, grown
 * here, contents not kept between calls) and copied into *out, malloc'd at
 * exactly hdr + the frame's size (caller frees; the first hdr bytes are left
 * for the caller's header), *len that size. Streams the parts without
 * copying them together. HT_ENOMEM (also for a zstd failure; *out NULL and
 * *len 0 then). The body of both codecs (cv1 events, oc1 object rows). */
#define HT_BODY_MAX_PARTS 16
struct ZSTD_CCtx_s;
ht_err ht__body_pack(struct ZSTD_CCtx_s *cctx, uint8_t *const *base,
                     uint8_t *const *end, int nparts, size_t hdr,
                     uint8_t **zbuf, size_t *zcap, uint8_t **out,
                     size_t *len);

/* Split a decompressed body body[0..len) of nparts parts back into
 * start[k]..end[k). Returns 0 if the lengths are malformed or do not add up
 * to the body exactly, else 1. */
int ht__body_split(const uint8_t *body, size_t len, int nparts,
                   const uint8_t **start, const uint8_t **end);

/* Name of the codec, stored with every chunk ("cv1" = column varint + zstd). */
#define HT_CODEC_NAME "cv1"

/* ---- object chunk codec "oc1" (objcodec.c) -------------------------------
 * Encoding goes through ht_objenc (store.h): ht__objenc_finish makes the
 * blob of the rows added to x (1 <= n <= HT_OBJCHUNK_MAX_ROWS) into *out,
 * malloc'd (caller frees), *len its size, and empties x (also on error):
 * HT_EINVAL (no rows), HT_ENOMEM (*out NULL then).
 * Decode a blob of exactly n rows into r[0..n) with the workspace d (zstd
 * context and body buffer, reused by every chunk decoded with it; dec_new:
 * HT_ENOMEM; dec_free accepts NULL): HT_ECORRUPT for any malformed input or
 * row count (never a crash), HT_ENOMEM. Lossless for every field (refcnt
 * when has_refcnt; has_refcnt as 0/1). */
struct ht_objrow;
struct ht_objenc;
typedef struct ht__objcodec_dec ht__objcodec_dec;
ht_err ht__objenc_finish(struct ht_objenc *x, void **out, size_t *len);
ht_err ht__objcodec_dec_new(ht__objcodec_dec **out);
void ht__objcodec_dec_free(ht__objcodec_dec *d);
ht_err ht__objcodec_decode(ht__objcodec_dec *d, const void *blob, size_t len,
                           size_t n, struct ht_objrow *r);

/* ---- symbolizer (symbolize.c) --------------------------------------------- */
typedef struct ht_symbolizer ht_symbolizer;

struct ht_symloc {
    const char *file; /* absolute source path, or NULL; owned by symbolizer */
    const char *func; /* innermost (inlined) function name, or NULL */
    int line, col;    /* 0 if unknown */
};

ht_err ht__sym_new(ht_symbolizer **out);
void ht__sym_free(ht_symbolizer *sym); /* accepts NULL */

/* Symbolise the return address `pc` (as recorded: the address AFTER the call;
 * the lookup uses pc - 1) inside the ELF object `module_path` loaded with
 * load bias `bias`. Strings in *out stay valid until ht__sym_free().
 * Errors: HT_ENOTFOUND (no debug info / no line for that pc; *out zeroed),
 * HT_ENOENT (module file missing), HT_ENOMEM. */
ht_err ht__sym_lookup(ht_symbolizer *sym, const char *module_path,
                      uint64_t bias, uint64_t pc, struct ht_symloc *out);

/* Zigzag mapping of signed deltas to unsigned (small magnitudes stay
 * small) and LEB128 varints: the column encoding of both codecs (codec.c
 * events, objcodec.c object rows). ht__put_varint writes at most 10 bytes
 * at p and returns how many. */
static inline uint64_t ht__zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t ht__unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static inline size_t ht__put_varint(uint8_t *p, uint64_t v)
{
    size_t i = 0;
    while (v >= 0x80) {
        p[i++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[i++] = (uint8_t)v;
    return i;
}

/* Make *buf (capacity *cap, owned by the caller) hold at least need bytes:
 * a larger buffer replaces it, its contents not kept (no realloc copy).
 * Returns 0 on ENOMEM (*buf and *cap unchanged), else 1. The reused
 * workspaces of both codecs (ht__body_pack's frame buffer, objcodec.c's
 * decoded body). */
static inline int ht__buf_room(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 1;
    uint8_t *b = malloc(need);
    if (!b)
        return 0;
    free(*buf);
    *buf = b;
    *cap = need;
    return 1;
}

/* Read a varint from [*p, end) into *v, advancing *p past it; returns 1, or
 * 0 (*v untouched, *p somewhere inside the bad varint) when it runs past end
 * or is overlong: more than 10 bytes, or a 10th byte above 1 (bits past the
 * 64th, which ht__put_varint never writes; rejected rather than dropped, so
 * one value has one reading). The bounded reader of both codecs (codec.c's
 * body lengths, objcodec.c's columns). */
static inline int ht__get_varint(const uint8_t **p, const uint8_t *end,
                                 uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned s = 0; s < 64 && *p < end; s += 7) {
        uint8_t b = *(*p)++;
        if (s == 63 && b > 1)
            return 0;
        r |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) {
            *v = r;
            return 1;
        }
    }
    return 0;
}

#endif
