/*
 * The spill file: how a recording process hands its events to heaptrail.
 *
 * One spill file per recording process image (a forked child or an exec'd
 * image gets a new one). It is created with O_EXCL|O_NOFOLLOW, mode 0600, in
 * the spill directory `<trace>.spill/` (trace = $HEAPTRAIL_TRACE, default
 * "heaptrail.db" in the working directory) and named
 * `spill-<pid>-<start_ns>.hts`. It is mapped MAP_SHARED, so everything written
 * survives a crash, abort, _exit or SIGKILL of the process.
 *
 * Layout:
 *   [0, HT_SPILL_HEADER_SIZE)   struct ht_spill_header (+ module table, argv)
 *   then chunk 0, chunk 1, ...  each chunk_records 32-byte slots
 *                               (struct ht_spill_rec; version 1: 48-byte
 *                               struct ht_rec, read by ingest only)
 *
 * Slot layout (version 2, little endian 64-bit words; docs/DECISIONS.md 32).
 * A record is not stored as struct ht_rec (event.h) but packed:
 *   compact (a, b, c and d all < 2^48, as user-space addresses, sizes, pcs
 *   and site ids are on x86-64), one slot:
 *     w0 = a | (d & 0xffff) << 48        w1 = b | (d >> 16 & 0xffff) << 48
 *     w2 = c | (d >> 32 & 0xffff) << 48  w3 = seq | flags << 48 | kind << 56
 *   wide (any of a, b, c, d >= 2^48), two consecutive slots of one chunk:
 *     slot i   = {c, d, 0, 0}            (kind byte 0: alone it is torn)
 *     slot i+1 = {a, b, 0, seq | flags << 48 | (kind | HT_SPILL_WIDE) << 56}
 *   owner (HT_SPILL_OWNER, spill-only, never an event): w0 = tid, the
 *     kernel thread id of every record after it in its chunk, up to the
 *     next owner slot; w1, w2 = 0, w3 = HT_SPILL_OWNER << 56.
 * w3 is written last (release store), so its top byte - the "kind byte" -
 * is still the slot's last byte and S2 reads as before.
 *
 * Invariants:
 *   S1. A chunk belongs to exactly one thread; chunks are handed out with an
 *       atomic increment of `next_chunk` (which may run past `max_chunks`:
 *       a reservation >= max_chunks is an overflow and is counted in
 *       `overflow_events`, never silently dropped).
 *   S2. Within a chunk, records are written front to back; `kind` is the last
 *       byte written (release store). kind == 0 means unused or torn: readers
 *       skip such slots, anywhere in a chunk (but for a wide record's first
 *       half, S7, which they read with its second).
 *   S3. `seq` values come from the header's atomic `seq` counter and are
 *       unique within the file. A FREE takes its seq before the block is
 *       released; an ALLOC takes its seq after the block is obtained. So a
 *       free always orders before a later allocation of the same address.
 *       (While one thread records, the recorder increments the counter
 *       without a locked instruction; see runtime invariant R6 in
 *       analyzer/runtime/rt.c for how other threads switch it back.)
 *   S4. Within one chunk, seq is increasing except where a signal handler
 *       interrupted the thread between taking a seq and its slot; readers must
 *       not assume order (sort each chunk, or detect disorder and redo from
 *       sorted copies as store/ingest.c does).
 *   S5. `state` is HT_SPILL_RUNNING until the process exits through exit() or
 *       returns from main (HT_SPILL_EXITED) or exec()s (HT_SPILL_EXECED).
 *       Anything else at ingest time means the run ended abnormally.
 *   S6. The first slot a thread writes in a chunk it was handed is an owner
 *       slot (slot 0, written and released before the chunk becomes the
 *       thread's current chunk, so before any other slot of it). A chunk
 *       whose owner slot is torn therefore has no other written slot (the
 *       process died between reserving the chunk and taking it). Records
 *       before any owner slot of their chunk (only synthetic or corrupt
 *       spills have them) get tid 0.
 *   S7. A wide record takes two slots of one chunk, reserved together; its
 *       first slot is written before the second is released, so a reader
 *       that acquires the second's kind byte sees both. If only one slot is
 *       left in the chunk, it stays unused (kind 0) and the record goes to a
 *       fresh chunk. A slot with kind byte 0 directly before a valid wide
 *       slot is that record's first half, not torn; a torn wide record is
 *       two torn slots. A wide slot not directly after a kind-0 slot (at a
 *       chunk's start, after a record or an owner slot: only in a corrupt
 *       spill) is torn.
 *   S8. seq < 2^48 (HT_SPILL_SEQ_LIMIT): an event that would take a larger
 *       seq is not recorded but counted in overflow_events, so the 48 bits
 *       of w3 carry the seq exactly.
 */
#ifndef HEAPTRAIL_SPILL_H
#define HEAPTRAIL_SPILL_H

#include <stdint.h>

#include "heaptrail/event.h"

#define HT_SPILL_MAGIC "HTSPILL1"
#define HT_SPILL_VERSION 2u
#define HT_SPILL_HEADER_SIZE (1u << 20)   /* bytes before chunk 0 */
/* 768 KiB per chunk, as with version 1's 16384 48-byte records: the same
 * disk reservation (fallocate) per thread and per refill, and 1.5 times the
 * events between refills. */
#define HT_SPILL_CHUNK_RECORDS 24576u
#define HT_SPILL_MAX_MODULES 512u
#define HT_SPILL_PATH_MAX 1024u
#define HT_SPILL_ARGV_MAX 8192u

enum ht_spill_state {
    HT_SPILL_RUNNING = 1,
    HT_SPILL_EXITED = 2,
    HT_SPILL_EXECED = 3,
};

/* One loaded ELF object of the recording process. Offsets of pcs are
 * computed as pc - bias; [lo, hi) is the union of its PT_LOAD segments. */
struct ht_spill_module {
    uint64_t bias;                 /* dlpi_addr: load bias */
    uint64_t lo, hi;               /* address range of the object's segments */
    uint64_t data_lo, data_hi;     /* writable PT_LOAD range (roots), or 0 */
    char path[HT_SPILL_PATH_MAX];  /* NUL-terminated; "" = main program */
};

struct ht_spill_header {
    char magic[8];             /* HT_SPILL_MAGIC, written last at creation */
    uint32_t version;          /* HT_SPILL_VERSION */
    uint32_t header_size;      /* HT_SPILL_HEADER_SIZE */
    uint32_t rec_size;         /* slot size: sizeof(struct ht_spill_rec) */
    uint32_t chunk_records;    /* records per chunk */
    uint64_t max_chunks;       /* chunks that fit in the file */
    int32_t pid, ppid;
    uint64_t start_ns;         /* CLOCK_REALTIME at creation */
    uint64_t end_ns;           /* CLOCK_REALTIME at normal exit, else 0 */
    uint64_t seq;              /* atomic: next seq */
    uint64_t next_chunk;       /* atomic: next chunk to hand out (S1) */
    uint64_t overflow_events;  /* atomic: events lost because spill full
                                * or seq spent (S8) */
    uint32_t state;            /* atomic: enum ht_spill_state (S5) */
    int32_t exit_status;       /* status passed to exit(), if state==EXITED */
    int32_t parent_pid;        /* pid of the process we forked from, or 0 */
    uint32_t nmodules;         /* atomic: entries used in modules[] */
    uint32_t argv_len;         /* bytes used in argv (NUL-separated) */
    uint32_t reserved0;
    char exe[HT_SPILL_PATH_MAX];   /* /proc/self/exe at start */
    char argv[HT_SPILL_ARGV_MAX];  /* NUL-separated arguments */
    char cwd[HT_SPILL_PATH_MAX];
    struct ht_spill_module modules[HT_SPILL_MAX_MODULES];
};

_Static_assert(sizeof(struct ht_spill_header) <= HT_SPILL_HEADER_SIZE,
               "spill header must fit its region");

/* One version-2 slot (layout above). */
struct ht_spill_rec {
    uint64_t w[4];
};
_Static_assert(sizeof(struct ht_spill_rec) == 32, "spill slot is 32 bytes");

#define HT_SPILL_WIDE 0x80u  /* kind byte bit: wide record (S7) */
#define HT_SPILL_OWNER 0x7fu /* kind byte of an owner slot (S6) */
#define HT_SPILL_LOW48 0xffffffffffffULL
#define HT_SPILL_SEQ_LIMIT (1ULL << 48) /* S8 */

/* The kind byte of a slot (0: unused or torn). */
static inline unsigned ht_spill_kind_byte(uint64_t w3)
{
    return (unsigned)(w3 >> 56);
}

/* Whether a record with these values fits one compact slot. */
static inline int ht_spill_is_compact(uint64_t a, uint64_t b, uint64_t c,
                                      uint64_t d)
{
    return ((a | b | c | d) >> 48) == 0;
}

/* w3 of a record: seq (< 2^48, S8) | flags << 48 | kind byte << 56. */
static inline uint64_t ht_spill_w3(uint64_t seq, unsigned flags,
                                   unsigned kind_byte)
{
    return seq | (uint64_t)(uint8_t)flags << 48 | (uint64_t)(uint8_t)kind_byte
                                                      << 56;
}

/* Unpack the record whose kind byte is in s (a valid compact or wide slot;
 * a wide record's first half is s[-1]) into *o, with tid. */
static inline void ht_spill_unpack(const struct ht_spill_rec *s, uint32_t tid,
                                   struct ht_rec *o)
{
    uint64_t w0 = s->w[0], w1 = s->w[1], w3 = s->w[3];
    o->seq = w3 & HT_SPILL_LOW48;
    o->tid = tid;
    o->flags = (uint16_t)(w3 >> 48 & 0xff);
    o->reserved = 0;
    o->kind = (uint8_t)(w3 >> 56 & 0x7f);
    if (w3 >> 56 & HT_SPILL_WIDE) {
        o->a = w0;
        o->b = w1;
        o->c = s[-1].w[0];
        o->d = s[-1].w[1];
    } else {
        uint64_t w2 = s->w[2];
        o->a = w0 & HT_SPILL_LOW48;
        o->b = w1 & HT_SPILL_LOW48;
        o->c = w2 & HT_SPILL_LOW48;
        o->d = w0 >> 48 | (w1 >> 48) << 16 | (w2 >> 48) << 32;
    }
}

/* w0..w2 of a compact slot (all of a, b, c, d < 2^48): d's three 16-bit
 * pieces in the top bytes of a, b and c. The one spelling of that layout,
 * for the recorder and ht_spill_pack (plain stores; w3 goes last). */
static inline void ht_spill_compact_words(struct ht_spill_rec *s, uint64_t a,
                                          uint64_t b, uint64_t c, uint64_t d)
{
    s->w[0] = a | d << 48;
    s->w[1] = b | (d >> 16) << 48;
    s->w[2] = c | (d >> 32) << 48;
}

/* Pack r (seq < 2^48, flags < 256, kind < 0x7f) into s[0] (compact) or
 * s[0..1] (wide) with plain stores, for readers that re-pack a sorted copy
 * and for tests; the recorder writes the same words but releases w3 last
 * itself (S2).
 * Returns the slots used. */
static inline unsigned ht_spill_pack(struct ht_spill_rec *s,
                                     const struct ht_rec *r)
{
    if (ht_spill_is_compact(r->a, r->b, r->c, r->d)) {
        ht_spill_compact_words(s, r->a, r->b, r->c, r->d);
        s->w[3] = ht_spill_w3(r->seq, r->flags, r->kind);
        return 1;
    }
    s[0].w[0] = r->c;
    s[0].w[1] = r->d;
    s[0].w[2] = s[0].w[3] = 0;
    s[1].w[0] = r->a;
    s[1].w[1] = r->b;
    s[1].w[2] = 0;
    s[1].w[3] = ht_spill_w3(r->seq, r->flags, r->kind | HT_SPILL_WIDE);
    return 2;
}

/* w3 of an owner slot (S6); its w[0] is the tid. */
#define HT_SPILL_OWNER_W3 ((uint64_t)HT_SPILL_OWNER << 56)

/* Fill s as an owner slot of thread tid (S6). */
static inline void ht_spill_owner(struct ht_spill_rec *s, uint32_t tid)
{
    s->w[0] = tid;
    s->w[1] = s->w[2] = 0;
    s->w[3] = HT_SPILL_OWNER_W3;
}

#endif
