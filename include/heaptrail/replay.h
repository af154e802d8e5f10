/*
 * heaptrail replay: streams a run's events through the models and writes the
 * findings as tables into the trace.
 *
 * This first stage (summary.c) computes allocation statistics: counts and
 * bytes of allocations, reallocations and frees, peak live bytes with the seq
 * at which it was reached, blocks live at the end of the run, all per return
 * address (site), and frees of addresses that were never allocated.
 * Tables written (replacing earlier results of the same run):
 *   run_stats(run_id, allocs, reallocs, frees, bytes_allocated,
 *             peak_live_bytes, peak_live_blocks, peak_seq, live_blocks,
 *             live_bytes, invalid_frees, events)
 *   site_stats(run_id, pc, allocs, bytes_allocated, frees, live_blocks,
 *              live_bytes)
 * and the view site_report joining site_stats to symbolised pcs.
 */
#ifndef HEAPTRAIL_REPLAY_H
#define HEAPTRAIL_REPLAY_H

#include <stdint.h>

#include "heaptrail/err.h"
#include "heaptrail/store.h"

struct ht_summary {
    uint64_t events, allocs, reallocs, frees, invalid_frees;
    uint64_t bytes_allocated, peak_live_bytes, peak_live_blocks, peak_seq;
    uint64_t live_blocks, live_bytes;
};

/* Replay run_id's allocation events, write run_stats/site_stats rows for it
 * in one transaction, and fill *out (zeroed on error). Memory is bounded by
 * the live blocks. Errors: HT_ECORRUPT (a chunk does not decode; nothing is
 * written), HT_ESQL, HT_ENOMEM. */
ht_err ht_replay_summary(ht_store *st, int64_t run_id, struct ht_summary *out);

#endif
