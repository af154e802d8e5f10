/*
 * heaptrail report: the findings of one replayed run as a plain C model, and
 * renderers for people (text) and machines (JSON, SARIF 2.1.0).
 *
 * ht_report_load reads a run's replay tables (docs/trace-format.md, "Replay
 * tables") through the store API into a struct ht_report that owns all its
 * memory. Tables a replay did not write (older traces, or a finding kind a
 * replay version does not produce) leave their part of the model empty:
 * renderers skip the section. Renderers never print anything but their
 * output and return HT_EIO when writing fails.
 */
#ifndef HEAPTRAIL_REPORT_H
#define HEAPTRAIL_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "heaptrail/err.h"
#include "heaptrail/store.h"

/* A resolved source location; all strings NULL when unknown. */
struct ht_report_loc {
    uint64_t key;         /* the pc or site id it was resolved from */
    const char *file;     /* borrowed from the model's string pool */
    int64_t line, col;
    const char *func;
    const char *type;     /* sites.type (allocation/store sites) or NULL */
    const char *field;    /* sites.field (store sites) or NULL */
};

enum ht_report_leak_kind {
    HT_LEAK_DEFINITE, HT_LEAK_INDIRECT, HT_LEAK_CYCLE, HT_LEAK_REACHABLE,
    HT_LEAK_KINDS
};

/* All leaked blocks of one allocation site and one leak kind. */
struct ht_report_leak {
    enum ht_report_leak_kind kind;
    struct ht_report_loc alloc;  /* allocation site */
    uint64_t blocks, bytes;
    uint64_t first_alloc_seq;
    const char *lost_by;         /* "store", "free", "never_stored" or NULL */
    uint64_t lost_seq;           /* of the latest drop among the blocks */
    struct ht_report_loc lost_at; /* where the last reference was dropped */
    int has_lost_at;
    int suppressed;              /* matched a suppression */
};

struct ht_report_member {
    char label;                  /* 'A', 'B', ... in allocation order */
    uint64_t addr, size, alloc_seq;
    struct ht_report_loc alloc;
};

struct ht_report_edge {
    uint64_t from_addr, to_addr, offset, store_seq;
    int from, to;                /* member indexes */
    struct ht_report_loc store;  /* store site; key 0 = edge from the exit
                                  * snapshot, file set when the STORE that
                                  * made it was found (at inferred_seq) */
    uint64_t inferred_seq;
};

struct ht_report_cycle {
    int64_t id;
    uint64_t bytes;
    struct ht_report_member *members;
    size_t nmembers;
    struct ht_report_edge *edges;
    size_t nedges;
    int suppressed;
};

/* Errors of one kind at one site. */
struct ht_report_error {
    const char *kind;            /* errors.kind, e.g. "double_free" */
    struct ht_report_loc at;
    uint64_t count, first_seq, first_addr;
    int suppressed;
};

struct ht_report_frag {
    int present;
    const char *kind;            /* "exit" or the last snapshot's kind */
    uint64_t seq, arenas, pools_used, unused_pools, blocks_in_use;
    uint64_t bytes_in_use, live_bytes;
    double utilisation, bytes_total;
};

struct ht_report_gen {
    int generation;
    uint64_t collections, collected;
};

struct ht_report_churn {
    struct ht_report_loc at;
    uint64_t size, allocs, frees, max_live, short_lived;
};

/* peak_sites / pinning rows (tables the replay may not write). */
struct ht_report_sitecount {
    struct ht_report_loc at;
    uint64_t blocks, bytes;      /* peak_sites: blocks, bytes live at peak */
    uint64_t pools, arenas;      /* pinning: pools/arenas it keeps alive */
};

struct ht_report_refsite {
    struct ht_report_loc at;
    uint64_t increfs, decrefs;
};

struct ht_report {
    int64_t run_id;
    const char *program, *argv, *status; /* runs columns; may be NULL */
    int64_t pid, exit_status, signal;    /* -1 when NULL */
    int complete;
    /* run_stats (has_stats = 0 when the run was not replayed) */
    int has_stats;
    uint64_t events, allocs, reallocs, frees, bytes_allocated;
    uint64_t peak_bytes, peak_blocks, peak_seq, live_blocks, live_bytes;
    uint64_t invalid_frees;
    /* leak classes: blocks and bytes, suppressed ones excluded */
    uint64_t leak_blocks[HT_LEAK_KINDS], leak_bytes[HT_LEAK_KINDS];
    uint64_t suppressed_blocks, suppressed_bytes;
    struct ht_report_leak *leaks;        /* lost kinds by bytes desc */
    size_t nleaks;
    struct ht_report_cycle *cycles;
    size_t ncycles;
    struct ht_report_error *errors;      /* by kind then count desc */
    size_t nerrors;
    struct ht_report_frag frag_exit, frag_peak;
    int has_gc;
    struct ht_report_gen gens[3];
    uint64_t gc_collections, gc_collected;
    struct ht_report_churn *churn;
    size_t nchurn;
    struct ht_report_refsite *refsites;  /* unbalanced incref/decref sites */
    size_t nrefsites;
    struct ht_report_sitecount *peak_sites; /* bytes desc, at most 50 */
    size_t npeak_sites;
    struct ht_report_sitecount *pinning;    /* pools desc, at most 50 */
    size_t npinning;
    uint64_t gc_uncollectable;           /* gc_stats, when written */
    void *pool;                          /* private string storage */
};

/* Suppression list: lines `KIND:FUNC_GLOB` or `KIND:FILE_GLOB:LINE`, KIND
 * one of leak, cycle, error, refcount or `*`; '#' comments. Owned by the
 * caller, freed with ht_report_supp_free. */
typedef struct ht_report_supp ht_report_supp;
/* Parse the file. HT_ENOENT / HT_EIO if unreadable, HT_EPARSE with the line
 * in *bad_line for a malformed line; *out NULL then. */
ht_err ht_report_supp_load(const char *path, ht_report_supp **out,
                           int *bad_line);
void ht_report_supp_free(ht_report_supp *s); /* accepts NULL */

/* Load run_id's findings into *out (zeroed first; free with
 * ht_report_free even on error). supp may be NULL. Errors: HT_ENOTFOUND
 * (no such run), HT_ESQL, HT_ENOMEM. */
ht_err ht_report_load(ht_store *st, int64_t run_id, const ht_report_supp *supp,
                      struct ht_report *out);
void ht_report_free(struct ht_report *r); /* accepts NULL */

/* Finding categories for --fail-on. */
enum {
    HT_REPORT_FAIL_LEAKS = 0x1,      /* definitely or indirectly lost */
    HT_REPORT_FAIL_CYCLES = 0x2,     /* lost in cycles */
    HT_REPORT_FAIL_REFCOUNT = 0x4,   /* refcount errors */
    HT_REPORT_FAIL_INVALID_FREE = 0x8, /* invalid, double, realloc of freed */
};
/* Parse "leaks,cycles,refcount,invalid-free" (or "all") into a mask.
 * HT_EINVAL for an unknown word. */
ht_err ht_report_parse_fail_on(const char *list, unsigned *mask);
/* The categories of mask with unsuppressed findings in r. */
unsigned ht_report_failures(const struct ht_report *r, unsigned mask);

/* Renderers: one run each (text, JSON) or all given runs (SARIF/JSON
 * documents wrap the runs). color: ANSI colours in the text. */
struct ht_report_text_opts {
    int color;
    int detail;   /* number of rows per detail table (0: 10) */
};
ht_err ht_report_text(const struct ht_report *r,
                      const struct ht_report_text_opts *o, FILE *out);
ht_err ht_report_json(const struct ht_report *runs, size_t n, FILE *out);
ht_err ht_report_sarif(const struct ht_report *runs, size_t n, FILE *out);

/* Write one self-contained HTML page (inline SVG plots, inline script, no
 * external resource) describing the run of rep (loaded from st with
 * ht_report_load; its suppression flags are shown) to out: live heap
 * over time with the peak, pymalloc utilisation and arenas, the arena/pool
 * occupancy map at the peak and at exit, an icicle graph of allocated bytes
 * by file/function/line, sortable leak, error and cycle tables and each
 * cycle drawn as a graph. Sections whose tables are absent or empty are left
 * out. Every string from the trace is escaped. Errors: HT_EINVAL, HT_ESQL,
 * HT_EIO (writing failed). */
ht_err ht_report_html(ht_store *st, const struct ht_report *rep, FILE *out);

/* The kind's name in memcheck's words ("definitely lost"...) and in the
 * tables ("definite"...). */
const char *ht_report_kind_words(enum ht_report_leak_kind k);
const char *ht_report_kind_name(enum ht_report_leak_kind k);

#endif
