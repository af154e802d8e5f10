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
#include <string.h>

#include "heaptrail/err.h"
#include "cc_argv.h"
#include "cc_driver.h"

#ifndef HT_CC_RT_LIB
#define HT_CC_RT_LIB "libheaptrail_rt.a"
#endif

/* --print-link-flags: what a link step gets, for builds whose objects
 * were instrumented by `heaptrail instrument` but link without us. */
static int print_link_flags(const char *real_cc, const char *rt_lib)
{
    char *in[] = {"x.o"};
    char **v;
    int n;
    if (ht_cc_build_argv(1, in, real_cc, rt_lib, &v, &n) != HT_OK)
        return 1;
    int k = 0;
    while (k < n && v[k] != in[0])
        k++; /* what follows the input is the link part */
    for (int i = k + 1; i < n; i++)
        printf("%s%s", i > k + 1 ? " " : "", v[i]);
    putchar('\n');
    free(v);
    return 0;
}

int main(int argc, char **argv)
{
    const char *real_cc = getenv("HEAPTRAIL_REAL_CC");
    if (!real_cc || !*real_cc)
        real_cc = "cc";
    const char *rt_lib = getenv("HEAPTRAIL_RT_LIB");
    if (!rt_lib || !*rt_lib)
        rt_lib = HT_CC_RT_LIB;
    if (argc == 2 && strcmp(argv[1], "--print-link-flags") == 0)
        return print_link_flags(real_cc, rt_lib);
    return ht_cc_drive(argc - 1, argv + 1, real_cc, rt_lib);
}
