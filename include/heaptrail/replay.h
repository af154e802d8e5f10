/*
 * heaptrail replay: streams a run's events through the models and writes the
 * findings as tables into the trace (docs/trace-format.md, "Replay tables").
 */
#ifndef HEAPTRAIL_REPLAY_H
#define HEAPTRAIL_REPLAY_H

#include <stdint.h>

#include "heaptrail/err.h"
#include "heaptrail/store.h"

/* ---- the full replay (replay/engine.c) --------------------------------
 * ht_replay_run streams a run through the object table, the pymalloc model
 * and the GC model, classifies every object live at the end (memcheck's
 * meanings, with cycles split out) and writes, replacing earlier rows of the
 * run, in one transaction (schema in docs/trace-format.md, "Replay tables"):
 *   objects(run_id, addr, size, alloc_seq, free_seq, pc, tid, refcnt,
 *           leak_kind, lost_seq, lost_by, lost_by_site)
 *   errors(run_id, seq, kind, addr, pc)
 *   frag_snapshots(run_id, seq, kind, arenas, pools_used, blocks_in_use,
 *           bytes_in_use, utilisation, unused_pools, bytes_total, raw_blocks,
 *           live_bytes)
 *   gc_collections(run_id, n, seq, generation, collected, count0, count1,
 *           count2)
 *   cycles(run_id, cycle_id, members, bytes)
 *   cycle_members(run_id, cycle_id, addr, size, alloc_seq, pc)
 *   cycle_edges(run_id, cycle_id, from_addr, offset, to_addr, store_seq,
 *           store_site)
 *   pool_map(run_id, seq, kind, arena, pool, size_class, used_blocks,
 *           total_blocks)   (pymalloc pools at the peak and at exit)
 *   run_stats, site_stats (+ view site_report), refcount_sites, churn,
 *   peak, peak_sites, pinning, gc_stats
 *   views leak_summary(run_id, category, blocks, bytes), run_summary
 */
struct ht_replay_opts {
    const char *allocator;    /* pymalloc profile "3.8".."3.13" ("pymalloc-"
                                 prefix optional), or "system": every request
                                 to the raw allocator (no pools or arenas:
                                 frag_snapshots have arenas 0 and utilisation
                                 1, pool_map and pinning get no rows);
                                 NULL: "3.12" */
    const char *gc_version;   /* GC profile; NULL: same as allocator ("3.12"
                                 for "system") */
    uint64_t snapshot_every;  /* events between snapshots; 0: 100000 */
    /* Optional: called every 65536 events with the number replayed so far
     * (the CLI draws a progress bar with it); NULL: not called. */
    void (*progress)(void *ctx, uint64_t events);
    void *progress_ctx;
};

struct ht_replay_result {
    uint64_t events, objects, live_at_end;
    uint64_t definite, indirect, cycle, reachable;           /* blocks */
    uint64_t definite_bytes, indirect_bytes, cycle_bytes, reachable_bytes;
    uint64_t cycles, errors, snapshots, collections;
    uint64_t peak_live_bytes, peak_seq;
};

/* Replay run_id (opts may be NULL) and write the tables above; *out is
 * filled (zeroed on error). Errors: HT_EINVAL (unknown profile), HT_ESQL,
 * HT_ENOMEM. Bad traces (invalid frees, events out of seq order, lost
 * events, a chunk that does not decode, a run cut short) are rows of
 * `errors`, never errors of the call. */
ht_err ht_replay_run(ht_store *st, int64_t run_id,
                     const struct ht_replay_opts *opts,
                     struct ht_replay_result *out);

#endif
