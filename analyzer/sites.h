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
 * twice); a call of a configured one-argument function made by the body
 * of another macro invoked in the main file (KEEP(o) -> obj_incref(o)):
 * see redef_b below. Stores produced by the body of a macro invoked in the
 * main file are listed with `macro` set and rewritable = 0, and a splice
 * (ht_splice) when the invocation can be expanded: ht_rewrite_file() then
 * makes them rewritable. Not reachable, listed with `macro` set and
 * rewritable = 0: allocations produced by the body of a macro that is not
 * itself configured; refcount macros with several arguments;
 * configured macros invoked from the body of another macro. Sites inside headers (static inline functions
 * included from a header) are not in the main list; allocator, free and
 * indirect calls in non-system headers are listed apart (ht_site_list.hv)
 * for the join of return addresses.
 * Calls of the standard allocators are listed but never rewritten (the
 * linker wraps record them; the site table lets the store join their
 * call line:col). Calls of user-named allocators/deallocators
 * (opts->alloc_fns/free_fns) written in main-file text are rewritable:
 * the rewriter records ALLOC(result, size argument) after the call, or
 * FREE(pointer argument) before it.
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
#include <stdio.h>

#include "heaptrail/err.h"

struct ht_typegraph;

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
    unsigned arg_b, arg_e;                   /* refcount: argument text;
                                                custom alloc/free: the
                                                size/ptr argument text */
    unsigned call_b, call_e; /* custom allocator call (rewritable) */
    unsigned fn_arg;         /* custom alloc/free: 1-based size/ptr arg; 0 =
                                a built-in allocator (wrapped at link) */
    /* refcount call made by the body of an unconfigured macro (KEEP(o) ->
     * obj_incref(o)), rewritable: the callee is redefined as a recording
     * macro from the start of the invocation's first line (redef_b, line
     * redef_line) to the start of the line after it (redef_e, line
     * redef_line2), with #line directives keeping the line numbers. */
    unsigned redef_b, redef_e, redef_line, redef_line2;
    unsigned off;    /* main-file offset of the expansion location */
    unsigned seq;    /* visitation order (ties of line:col keep it) */
    unsigned splice; /* store in a macro: 1 + index of the splice of its
                        outermost invocation in ht_site_list.sp, or 0 */
    unsigned ccol; /* calls: column in the compiled (rewritten) copy, 0 = col */
    int dead;      /* in the branch of a `?:` whose condition is an integer
                      constant that selects the other branch: never runs
                      (its TSV ccol is 0, so no return address joins it) */
};

/* A macro invocation holding stores (not otherwise rewritable) that the
 * rewriter replaces by its one-level expansion in the temporary copy
 * (main-file offsets [b, e), expansion text without newline). */
struct ht_splice {
    unsigned b, e;
    char *text;
};

struct ht_site_list {
    struct ht_site *v;
    size_t n, cap;
    char *main_file; /* absolute path of the main file */
    struct ht_splice *sp; /* sorted by b, disjoint */
    size_t nsp;
    /* what the rewriter needs to parse a spliced copy again: the argv
     * given to libclang (owned, NULL-terminated) and the name libclang
     * gave the main file */
    char **argv;
    int argc;
    char *tu_name;
    /* rewriter outcome: spliced invocations whose stores could not be
     * rewritten after all (the copy keeps the expansion, unrecorded) */
    size_t n_splice_failed;
    /* header sites: alloc/free/icall calls in the bodies of functions
     * defined in non-system headers the TU includes (a `static inline`
     * allocation helper). Never rewritable (headers are not rewritten),
     * file is the header's real path, ccol = col, ids from the same key as
     * main-file sites, so every TU including the header gives the same
     * rows (the store keeps one per id). Only for the join of return
     * addresses: not in v, so the rewriter, `heaptrail analyze` and the
     * invariants above see main-file sites only. */
    struct ht_site *hv;
    size_t nh, hcap;
};

/* A user-named allocator or deallocator (--alloc-fn / --free-fn): calls
 * of name record an ALLOC of its result with argument arg as the size
 * (alloc) or a FREE of argument arg (free). */
struct ht_site_fn {
    const char *name;
    unsigned arg; /* 1-based */
};

struct ht_site_opts {
    const char *const *inc_names; /* refcount increment fns/macros */
    size_t n_inc;
    const char *const *dec_names;
    size_t n_dec;
    int no_stores; /* do not list pointer stores */
    const struct ht_site_fn *alloc_fns; /* custom allocators */
    size_t n_alloc_fns;
    const struct ht_site_fn *free_fns; /* custom deallocators */
    size_t n_free_fns;
    struct ht_typegraph *types; /* if set, the TU's record fields are
                                   added to it (typegraph.h) */
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
 * rewritable store and refcount site edited (no newline inserted). The
 * invocations of l->sp are first replaced by their expansion (newlines of
 * the invocation moved after it, so lines are kept), the copy is parsed
 * again (nested invocations expanded the same way, up to 4 levels) and the
 * stores found in each expansion get the ids of l's stores of that
 * invocation, in order; those sites become rewritable in l. An expansion
 * whose stores do not match one for one is kept unrecorded
 * (l->n_splice_failed); one whose copy does not parse is not used. */
ht_err ht_rewrite_file(struct ht_site_list *l, const char *out_path);

/* The rewriting of ht_rewrite_file() on the main file's text src[0..len),
 * written to out (not closed). HT_EINVAL if two edits overlap (nothing
 * usable was written). */
ht_err ht__rewrite_text(struct ht_site_list *l, const char *src,
                        size_t len, FILE *out);

/* ht_sites_find() on a TU whose main file text is given: argv names the
 * file path, whose contents are buf[0..len) instead of what is on disk
 * (libclang unsaved file; the file need not exist). */
ht_err ht__sites_find_text(const char *const *argv, int argc,
                           const struct ht_site_opts *opts, const char *path,
                           const char *buf, size_t len,
                           struct ht_site_list *out);

/* Write the site table as TSV (id kind file line col func macro type field
 * rewritable ccol) to path. */
ht_err ht_sites_write_tsv(const struct ht_site_list *l, const char *path);

#endif
