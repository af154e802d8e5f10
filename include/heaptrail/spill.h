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
 *   then chunk 0, chunk 1, ...  each chunk_records * sizeof(struct ht_rec)
 *
 * Invariants:
 *   S1. A chunk belongs to exactly one thread; chunks are handed out with an
 *       atomic increment of `next_chunk` (which may run past `max_chunks`:
 *       a reservation >= max_chunks is an overflow and is counted in
 *       `overflow_events`, never silently dropped).
 *   S2. Within a chunk, records are written front to back; `kind` is the last
 *       byte written (release store). kind == 0 means unused or torn: readers
 *       skip such slots, anywhere in a chunk.
 *   S3. `seq` values come from the header's atomic `seq` counter and are
 *       unique within the file. A FREE takes its seq before the block is
 *       released; an ALLOC takes its seq after the block is obtained. So a
 *       free always orders before a later allocation of the same address.
 *       (While one thread records, the recorder increments the counter
 *       without a locked instruction; see runtime invariant R6 in
 *       analyzer/runtime/rt.c for how other threads switch it back.)
 *   S4. Within one chunk, seq is increasing except where a signal handler
 *       interrupted the thread between taking a seq and its slot; readers must
 *       sort each chunk by seq (cheap: nearly sorted).
 *   S5. `state` is HT_SPILL_RUNNING until the process exits through exit() or
 *       returns from main (HT_SPILL_EXITED) or exec()s (HT_SPILL_EXECED).
 *       Anything else at ingest time means the run ended abnormally.
 */
#ifndef HEAPTRAIL_SPILL_H
#define HEAPTRAIL_SPILL_H

#include <stdint.h>

#include "heaptrail/event.h"

#define HT_SPILL_MAGIC "HTSPILL1"
#define HT_SPILL_VERSION 1u
#define HT_SPILL_HEADER_SIZE (1u << 20)   /* bytes before chunk 0 */
#define HT_SPILL_CHUNK_RECORDS 16384u     /* 768 KiB per chunk */
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
    uint32_t rec_size;         /* sizeof(struct ht_rec) */
    uint32_t chunk_records;    /* records per chunk */
    uint64_t max_chunks;       /* chunks that fit in the file */
    int32_t pid, ppid;
    uint64_t start_ns;         /* CLOCK_REALTIME at creation */
    uint64_t end_ns;           /* CLOCK_REALTIME at normal exit, else 0 */
    uint64_t seq;              /* atomic: next seq */
    uint64_t next_chunk;       /* atomic: next chunk to hand out (S1) */
    uint64_t overflow_events;  /* atomic: events lost because spill full */
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

#endif
