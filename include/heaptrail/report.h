/*
 * heaptrail report: renderers of a replayed run's tables.
 */
#ifndef HEAPTRAIL_REPORT_H
#define HEAPTRAIL_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "heaptrail/err.h"
#include "heaptrail/store.h"

/* Write one self-contained HTML page (inline SVG plots, inline script, no
 * external resource) describing run_id of a replayed trace to out: live heap
 * over time with the peak, pymalloc utilisation and arenas, the arena/pool
 * occupancy map at the peak and at exit, an icicle graph of allocated bytes
 * by file/function/line, sortable leak, error and cycle tables and each
 * cycle drawn as a graph. Sections whose tables are absent or empty are left
 * out. Every string from the trace is escaped. Errors: HT_ENOTFOUND (no such
 * run), HT_ESQL, HT_EIO (writing failed). */
ht_err ht_report_html(ht_store *st, int64_t run_id, FILE *out);

#endif
