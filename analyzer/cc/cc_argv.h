/*
 * heaptrail-cc argument handling (internal to analyzer/cc and its tests).
 */
#ifndef HEAPTRAIL_CC_ARGV_H
#define HEAPTRAIL_CC_ARGV_H

#include "heaptrail/err.h"

/* Whether compiler option a takes the next argument as its value (-o,
 * -I, -MF, -isysroot, ...): the one list every part of heaptrail-cc uses. */
int ht__cc_takes_value(const char *a);

/*
 * Build the real compiler's argument vector from the wrapper's arguments
 * (argv[0] excluded, argc of them). real_cc becomes element 0; rt_lib is the
 * runtime archive appended at link steps. On success *out is a
 * NULL-terminated array allocated with malloc (the caller frees the array;
 * the strings are borrowed from argv/real_cc/rt_lib or static) and *out_n
 * its length without the NULL. Returns HT_OK, or HT_ENOMEM with *out = NULL
 * and *out_n = 0.
 */
ht_err ht_cc_build_argv(int argc, char **argv, const char *real_cc,
                        const char *rt_lib, char ***out, int *out_n);

#endif
