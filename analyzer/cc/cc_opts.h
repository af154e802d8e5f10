/*
 * heaptrail-cc options (internal): HEAPTRAIL_OPTS and config files.
 *
 * Syntax (the same in both places): options separated by white space;
 * an option that takes a value accepts `--opt=VALUE` or `--opt VALUE`.
 * In a config file, `#` starts a comment that runs to the end of the line.
 *
 *   --refcount-inc=A,B    functions or macros that increment a refcount
 *   --refcount-dec=A,B    ... that decrement one
 *   --preset=cpython      Py_INCREF/Py_XINCREF, Py_DECREF/Py_XDECREF
 *   --preset=glib         g_object_ref, g_object_unref
 *   --alloc-fn=NAME:size=N   custom allocator: its result is recorded as an
 *                         ALLOC of the size passed as argument N (1-based)
 *   --free-fn=NAME:ptr=N  custom deallocator: argument N is recorded freed
 *   --no-stores           do not instrument pointer stores
 *
 * Where options come from (ht_cc_opts_load): the config file named by
 * $HEAPTRAIL_CONFIG, else the first `.heaptrail-cc.conf` found in the
 * current directory or one of its parents; then $HEAPTRAIL_OPTS is applied
 * on top. Both are optional.
 *
 * Ownership: a struct ht_cc_opts owns every name it lists; release it with
 * ht_cc_opts_free(). Nothing here prints: errors are one line in err.
 */
#ifndef HEAPTRAIL_CC_OPTS_H
#define HEAPTRAIL_CC_OPTS_H

#include <stddef.h>
#include <stdint.h>

#include "sites.h"

#define HT_CC_MAX_NAMES 64

struct ht_cc_opts {
    const char *inc[HT_CC_MAX_NAMES], *dec[HT_CC_MAX_NAMES];
    size_t ni, nd;
    struct ht_site_fn alloc[HT_CC_MAX_NAMES], free[HT_CC_MAX_NAMES];
    size_t na, nf;
    int no_stores;
    char *config;     /* config file that was read, or NULL (owned) */
    char **owned;     /* every string above points into these (owned) */
    size_t nowned;
};

/* Parse the option text s (may be NULL) into o, which the caller zeroed
 * or filled by earlier calls. origin prefixes error messages
 * ("HEAPTRAIL_OPTS", "file:line"). Returns 0, or -1 with a one-line
 * message in err (o keeps what it had; free it with ht_cc_opts_free). */
int ht_cc_opts_parse(struct ht_cc_opts *o, const char *s, const char *origin,
                     char *err, size_t errsz);

/* Parse the config file at path into o (see the syntax above). Returns 0,
 * or -1 with "path:line: ..." in err (also when it cannot be read). */
int ht_cc_opts_parse_file(struct ht_cc_opts *o, const char *path, char *err,
                          size_t errsz);

/* Zero o and fill it from the config file and $HEAPTRAIL_OPTS (see above).
 * Returns 0 or -1 with a message in err; o is valid either way. */
int ht_cc_opts_load(struct ht_cc_opts *o, char *err, size_t errsz);

/* The analyzer's view of o (borrowed: valid while o is). */
struct ht_site_opts ht_cc_opts_site_opts(const struct ht_cc_opts *o);

/* Deterministic digest of the effective options (what they make the
 * analyzer do, not where they came from): the same option set gives the
 * same value in every process. heaptrail-cc passes it to the instrumented
 * compile as -D__HEAPTRAIL_OPTS__=0x<digest> and prints it for ccache's
 * compiler_check (`heaptrail-cc --print-opts-digest`). */
uint64_t ht_cc_opts_digest(const struct ht_cc_opts *o);

/* Release everything o owns and zero it; accepts NULL. */
void ht_cc_opts_free(struct ht_cc_opts *o);

#endif
