/*
 * Site finder and rewriter (issue 3, first milestone).
 *
 * ht_sites_find() parses one translation unit with libclang using the
 * compile argv unchanged and lists the sites of the MAIN FILE: allocator
 * calls, indirect calls, pointer stores, function definitions and
 * configured refcount calls/macros. ht_rewrite_file() writes an
 * instrumented copy of the main file (pointer stores and refcount
 * operations) that keeps every line number.
 *
 * What is rewritten: plain-text stores `LHS = RHS` whose slot is a pointer
 * reached through `->`, `.`, `*`, `[]` or a global/static variable (locals
 * are not listed), and configured refcount operations: a call of a
 * configured function written in the main file, or an invocation of a
 * configured macro written in the main file (its single argument is wrapped
 * so it is evaluated once; a macro that expands its argument twice records
 * twice). Not reachable, listed with `macro` set and rewritable = 0: stores,
 * allocations and refcount calls produced by the body of a macro that is
 * not itself configured (e.g. KEEP(o) -> obj_incref(o)); refcount macros
 * with several arguments. Sites inside headers (static inline functions
 * included from a header) are not listed: only the main file is.
 * Allocations/frees are listed but never rewritten (the linker wraps record
 * them; the site table lets the store join their call line:col).
 *
 * Ownership: a struct ht_site_list owns all strings of its sites; release
 * it with ht_sites_free(). Nothing here prints.
 *
 * Invariants (checked by ht__sites_is_valid()):
 *   1. every site has a non-NULL file, kind < HT_SITE_KIND_COUNT, line >= 1;
 *   2. site ids are distinct and < 2^63;
 *   3. a rewritable store has lhs_b < lhs_e <= op < rhs_b < rhs_e.
 */
#ifndef HT_ANALYZER_SITES_H
#define HT_ANALYZER_SITES_H

#include <stddef.h>
#include <stdint.h>

#include "heaptrail/err.h"

enum ht_site_kind {
    HT_SITE_ALLOC,
    HT_SITE_FREE,
    HT_SITE_ICALL,
    HT_SITE_STORE,
    HT_SITE_FUNC,
    HT_SITE_INCREF,
    HT_SITE_DECREF,
    HT_SITE_KIND_COUNT
};

struct ht_site {
    enum ht_site_kind kind;
    uint64_t id;       /* 63-bit FNV-1a of "kind:file:line:col[:n]" */
    char *file;        /* absolute real path */
    unsigned line, col;/* expansion location */
    char *func;        /* enclosing function or "" */
    char *macro;       /* macro the site comes from, or "" */
    char *type;        /* store: struct type or slot type; alloc: sizeof T */
    char *field;       /* store through ->/.: field name, else "" */
    char *callee;      /* calls: callee name */
    int rewritable;    /* text of the site is plain main-file text */
    /* file offsets (rewritable sites only) */
    unsigned lhs_b, lhs_e, op, rhs_b, rhs_e; /* store */
    unsigned arg_b, arg_e;                   /* refcount: argument text */
    unsigned ccol; /* calls: column in the compiled (rewritten) copy, 0 = col */
};

struct ht_site_list {
    struct ht_site *v;
    size_t n, cap;
    char *main_file; /* absolute path of the main file */
};

struct ht_site_opts {
    const char *const *inc_names; /* refcount increment fns/macros */
    size_t n_inc;
    const char *const *dec_names;
    size_t n_dec;
    int no_stores; /* do not list pointer stores */
};

/* Text name of a site kind ("alloc", "store", ...). */
const char *ht_site_kind_name(enum ht_site_kind k);

/* Parse the TU compiled by argv[0..argc) (argv[0] = compiler) in directory
 * workdir (NULL = cwd) and list its main-file sites into *out (zeroed on
 * failure). Returns HT_EPARSE if no TU could be built. */
ht_err ht_sites_find(const char *const *argv, int argc, const char *workdir,
                     const struct ht_site_opts *opts,
                     struct ht_site_list *out);

/* Release everything a site list owns. */
void ht_sites_free(struct ht_site_list *l);

/* 1 if the list satisfies the invariants above. */
int ht__sites_is_valid(const struct ht_site_list *l);

/* Write an instrumented copy of l->main_file to out_path: a prelude
 * declaring the runtime calls, `#line 1 "<orig>"`, then the text with every
 * rewritable store and refcount site edited (no newline inserted). */
ht_err ht_rewrite_file(const struct ht_site_list *l, const char *out_path);

/* Write the site table as TSV (id kind file line col func macro type field
 * rewritable ccol) to path. */
ht_err ht_sites_write_tsv(const struct ht_site_list *l, const char *path);

#endif
