/*
 * heaptrail event records: the one decoded record shared by ingestion
 * (the merge's output), the chunk codec and replay.
 *
 * struct ht_rec is 48 bytes in memory. The spill file does not hold it:
 * since spill version 2 the recorder writes each event packed into one
 * 32-byte slot, or two when a, b, c or d is >= 2^48, with the tid in a
 * per-chunk owner slot and seq in 48 bits (include/heaptrail/spill.h,
 * docs/DECISIONS.md 32); ingest unpacks the slots into struct ht_rec. In
 * both forms the kind is written last with release ordering, so a reader
 * that sees kind != 0 sees a complete record; kind == 0 marks an unused or
 * torn slot. Kinds are below 0x7f (the spill's kind byte keeps its top bit
 * for wide records and 0x7f for owner slots).
 *
 * Field use by kind (a, b, c, d are 64-bit):
 *   ALLOC     a=address  b=size        c=alignment(0=default) d=pc or site
 *   REALLOC   a=new addr b=new size    c=old address          d=pc or site
 *             (a == 0 with b != 0: realloc failed, old block unchanged;
 *             a != c: the block moved, and its old address was released
 *             by the FREE flagged HT_EVF_REALLOC recorded just before the
 *             call: replay moves the object from c to a here)
 *   FREE      a=address  b=0           c=0                    d=pc or site
 *   STORE     a=slot     b=new value   c=old value            d=site id
 *   INCREF    a=object   b=count after (or 0 if unknown)      d=site id
 *   DECREF    a=object   b=count after (or 0 if unknown)      d=site id
 *   FN_ENTER  a=function site id       b=first pointer argument
 *   FN_EXIT   a=function site id
 *   ROOT      a=start    b=length     c=module index          (data/bss segment)
 *             or c=HT_ROOT_STACK         d=thread id  (a thread stack range
 *             scanned at a snapshot: the EDGEs after it from slots in the
 *             range are stack roots; replay treats it as a segment)
 *   EDGE      a=slot     b=value      (exit-snapshot conservative edge)
 *   SNAPSHOT  a=snapshot number        (start of an exit/on-demand snapshot)
 *   OVERFLOW  a=number of events lost (spill full)
 *   EXIT      a=status   (process is exiting normally through exit())
 *   THREAD    a=thread start/end (1=start, 2=end)
 * `flags` bit HT_EVF_SITE: d holds an exact analyzer site id, otherwise a
 * return address (pc) in the recording process.
 */
#ifndef HEAPTRAIL_EVENT_H
#define HEAPTRAIL_EVENT_H

#include <stdint.h>

#define HT_EVENT_KIND_LIST(X)                                                 \
    X(HT_EV_NONE, 0, "none")                                                  \
    X(HT_EV_ALLOC, 1, "alloc")                                                \
    X(HT_EV_REALLOC, 2, "realloc")                                            \
    X(HT_EV_FREE, 3, "free")                                                  \
    X(HT_EV_STORE, 4, "store")                                                \
    X(HT_EV_INCREF, 5, "incref")                                              \
    X(HT_EV_DECREF, 6, "decref")                                              \
    X(HT_EV_FN_ENTER, 7, "enter")                                             \
    X(HT_EV_FN_EXIT, 8, "exit_fn")                                            \
    X(HT_EV_ROOT, 9, "root")                                                  \
    X(HT_EV_EDGE, 10, "edge")                                                 \
    X(HT_EV_SNAPSHOT, 11, "snapshot")                                         \
    X(HT_EV_OVERFLOW, 12, "overflow")                                         \
    X(HT_EV_EXIT, 13, "exit")                                                 \
    X(HT_EV_THREAD, 14, "thread")

enum ht_event_kind {
#define HT__EV_ENUM(name, value, text) name = value,
    HT_EVENT_KIND_LIST(HT__EV_ENUM)
#undef HT__EV_ENUM
    HT_EV_KIND_COUNT
};

/* ROOT c of a thread stack range (module indexes are small). */
#define HT_ROOT_STACK UINT64_MAX

#define HT_EVF_SITE 0x1u    /* d is an exact site id, not a pc */
#define HT_EVF_REALLOC 0x2u /* FREE: the old block of a moving realloc */

struct ht_rec {
    uint64_t seq;   /* global order within one run (see spill.h) */
    uint64_t a, b, c, d;
    uint32_t tid;   /* kernel thread id */
    uint16_t flags; /* HT_EVF_* */
    uint8_t reserved;
    uint8_t kind; /* enum ht_event_kind; written last (release) */
};
_Static_assert(HT_EV_KIND_COUNT < 0x7f, "kinds must fit the spill's kind byte");
_Static_assert((HT_EVF_SITE | HT_EVF_REALLOC) <= 0xff,
               "flags must fit the spill's flags byte");

_Static_assert(sizeof(struct ht_rec) == 48, "ht_rec must stay 48 bytes");

/* Readable lowercase name of an event kind ("alloc", "free", ...), or
 * "unknown" for an out-of-range value. */
const char *ht_event_kind_name(unsigned kind);

#endif
