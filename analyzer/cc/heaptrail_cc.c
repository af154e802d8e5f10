/*
 * heaptrail-cc: a drop-in C compiler that builds programs for recording.
 *
 * Compile steps (-c or -S) get "-g -fno-optimize-sibling-calls" (exact call
 * sites and return addresses); -E and dependency-only (-M/-MM) runs pass
 * through untouched. Link steps get the --wrap flags of
 * analyzer/runtime/wrap-flags.txt, the runtime archive ($HEAPTRAIL_RT_LIB or
 * the build tree's libheaptrail_rt.a) and -lpthread -ldl. A compile-and-link
 * command gets both. The real compiler is $HEAPTRAIL_REAL_CC or "cc"; it is
 * always run with execvp, never through a shell.
 *
 * Compile mode: every C source of the command is instrumented (pointer
 * stores, configured refcount operations; see cc_driver.c for the command
 * shapes, cc_compile.c and analyzer/sites.h), options from $HEAPTRAIL_OPTS;
 * on any failure the original file is compiled after one warning line.
 * HEAPTRAIL_NO_REWRITE=1 turns compile mode off (link mode only).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

#include "cc_driver.h"

#ifndef HT_CC_RT_LIB
#define HT_CC_RT_LIB "libheaptrail_rt.a"
#endif

int main(int argc, char **argv)
{
    const char *real_cc = getenv("HEAPTRAIL_REAL_CC");
    if (!real_cc || !*real_cc)
        real_cc = "cc";
    const char *rt_lib = getenv("HEAPTRAIL_RT_LIB");
    if (!rt_lib || !*rt_lib)
        rt_lib = HT_CC_RT_LIB;
    return ht_cc_drive(argc - 1, argv + 1, real_cc, rt_lib);
}
