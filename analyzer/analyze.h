/*
 * heaptrail analyze: the static report of a compile_commands.json, no run
 * needed. Each distinct source file is parsed once with its own entry's
 * flags; its sites are counted by kind, and the record types of every unit
 * feed one type graph whose cycles are the type-level cycle candidates.
 *
 * Ownership: a struct ht_analysis owns everything in it; release it with
 * ht_analysis_free(). Nothing here prints: progress and per-file parse
 * failures go to the callback.
 */
#ifndef HT_ANALYZER_ANALYZE_H
#define HT_ANALYZER_ANALYZE_H

#include <stddef.h>

#include "ccdb.h"
#include "sites.h"
#include "typegraph.h"

/* Inventory columns. */
enum ht_an_col {
    HT_AN_ALLOC,
    HT_AN_FREE,
    HT_AN_ICALL,
    HT_AN_STORE,
    HT_AN_STORE_MACRO, /* stores written inside a macro whose invocation
                          cannot be expanded (not instrumented) */
    HT_AN_INCREF,
    HT_AN_DECREF,
    HT_AN_FUNC,
    HT_AN_COLS
};

struct ht_an_file {
    char *file; /* absolute real path */
    unsigned n[HT_AN_COLS];
};

struct ht_analysis {
    struct ht_an_file *files; /* sorted by path */
    size_t nfiles;
    unsigned total[HT_AN_COLS];
    size_t units, failed; /* distinct files parsed / not parsed */
    struct ht_typegraph types;
    struct ht_tg_cycles cycles;
};

/* Called once per distinct source file after its parse (err != HT_OK: it
 * could not be parsed and is left out). */
typedef void (*ht_an_progress)(void *ctx, const struct ht_ccdb_entry *e,
                               ht_err err);

/* Analyze every entry of db with the site options opts (refcount names;
 * opts->types is ignored). Returns HT_ENOMEM (out zeroed) or HT_OK, also
 * when some files failed to parse (out->failed). */
ht_err ht_analyze_project(const struct ht_ccdb *db,
                          const struct ht_site_opts *opts,
                          struct ht_analysis *out, ht_an_progress cb,
                          void *ctx);

/* Column name ("alloc", "store-in-macro", ...). */
const char *ht_an_col_name(enum ht_an_col c);

void ht_analysis_free(struct ht_analysis *a);

#endif
