/*
 * heaptrail-cc compile mode (internal): see cc_compile.c.
 */
#ifndef HEAPTRAIL_CC_COMPILE_H
#define HEAPTRAIL_CC_COMPILE_H

#include <stddef.h>

#include "cc_argv.h"

enum {
    HT_CC_DONE = 0,           /* instrumented object written */
    HT_CC_NOT_APPLICABLE = 1, /* not a single-.c `-c` step: pass through */
    HT_CC_FAILED = 2,         /* compile the original; reason says why */
    HT_CC_BAD_OPTS = 3        /* HEAPTRAIL_OPTS invalid (message printed) */
};

/* What an instrumented compile left unrecorded (HEAPTRAIL_CC_LOG line,
 * `heaptrail instrument` totals). */
struct ht_cc_counts {
    size_t unrecorded;    /* store/refcount sites not rewritten */
    size_t splice_failed; /* macro invocations expanded but whose stores
                             could not be matched (ht_site_list) */
};

/* Try to compile the single .c source of a `-c` step instrumented (argv
 * excludes argv[0]; argv strings are not changed on return). On
 * HT_CC_FAILED, reason holds a one-line explanation and *src is the source
 * argument. On HT_CC_DONE, *counts (zeroed otherwise) says what was left
 * unrecorded. */
int ht_cc_compile_instrumented(int argc, char **argv, const char *real_cc,
                               const char *rt_lib, char *reason,
                               size_t reason_sz, const char **src,
                               struct ht_cc_counts *counts);

/* Run v (NULL-terminated) with its stderr into errfile (when not NULL)
 * and wait: its exit status, 127 if it cannot run, 128 + signal if killed. */
int ht__cc_spawn(char **v, const char *errfile);

#endif
