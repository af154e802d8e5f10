/*
 * heaptrail-cc: a drop-in C compiler that builds programs for recording.
 *
 * Compile steps (-c or -S) get "-g -fno-optimize-sibling-calls" (exact call
 * sites and return addresses); -E and dependency-only (-M/-MM) runs pass
 * through untouched. Link steps get the --wrap flags of
 * analyzer/runtime/wrap-flags.txt, the runtime archive (rt_lib_path()) and
 * -lpthread -ldl. A compile-and-link
 * command gets both. The real compiler is $HEAPTRAIL_REAL_CC or "cc"; it is
 * always run with execvp, never through a shell.
 *
 * Compile mode: every C source of the command is instrumented (pointer
 * stores, configured refcount operations; see cc_driver.c for the command
 * shapes, cc_compile.c and analyzer/sites.h), options from $HEAPTRAIL_OPTS;
 * on any failure the original file is compiled after one warning line.
 * HEAPTRAIL_NO_REWRITE=1 turns compile mode off (link mode only).
 *
 * `@file` arguments are expanded first (cc_rsp.c), as gcc would.
 * `heaptrail-cc --print-opts-digest` prints the digest of the effective
 * options and the real compiler (for CCACHE_COMPILERCHECK, so ccache in
 * front of heaptrail-cc misses when HEAPTRAIL_OPTS or the config change).
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heaptrail/err.h"
#include "heaptrail/selfdir.h"
#include "cc_argv.h"
#include "cc_driver.h"
#include "cc_opts.h"
#include "cc_rsp.h"

#ifndef HT_CC_RT_LIB
#define HT_CC_RT_LIB "libheaptrail_rt.a"
#endif
#ifndef HT_CC_RT_REL
#define HT_CC_RT_REL "../lib/libheaptrail_rt.a"
#endif

/* The runtime archive: $HEAPTRAIL_RT_LIB; else HT_CC_RT_REL relative to
 * this program's directory, where `cmake --install` puts it (BINDIR to
 * LIBDIR; in a build tree bin/ and lib/ are laid out the same), so an
 * installed heaptrail-cc never links the build tree's; else the build
 * tree's archive (HT_CC_RT_LIB). The path found beside us is made
 * absolute (realpath): it is what --print-link-flags shows. */
static const char *rt_lib_path(void)
{
    static char self[PATH_MAX], cand[2 * PATH_MAX], real[PATH_MAX];
    const char *env = getenv("HEAPTRAIL_RT_LIB");
    if (env && *env)
        return env;
    if (HT_CC_RT_REL[0] == '/') /* an absolute LIBDIR */
        snprintf(cand, sizeof cand, "%s", HT_CC_RT_REL);
    else if (ht__self_dir(self, sizeof self) == 0)
        snprintf(cand, sizeof cand, "%s/%s", self, HT_CC_RT_REL);
    else
        return HT_CC_RT_LIB;
    return realpath(cand, real) && access(real, R_OK) == 0 ? real
                                                           : HT_CC_RT_LIB;
}

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

/* --print-opts-digest: one line, "<digest> <real compiler>"; what ccache's
 * compiler_check hashes instead of heaptrail-cc's mtime. */
static int print_opts_digest(const char *real_cc)
{
    char err[512];
    struct ht_cc_opts o;
    if (ht_cc_opts_load(&o, err, sizeof err) != 0) {
        fprintf(stderr, "heaptrail-cc: error: %s\n", err);
        ht_cc_opts_free(&o);
        return 2;
    }
    printf("0x%016llx %s\n", (unsigned long long)ht_cc_opts_digest(&o),
           real_cc);
    ht_cc_opts_free(&o);
    return 0;
}

int main(int argc, char **argv)
{
    const char *real_cc = getenv("HEAPTRAIL_REAL_CC");
    if (!real_cc || !*real_cc)
        real_cc = "cc";
    const char *rt_lib = rt_lib_path();
    if (argc == 2 && strcmp(argv[1], "--print-link-flags") == 0)
        return print_link_flags(real_cc, rt_lib);
    if (argc == 2 && strcmp(argv[1], "--print-opts-digest") == 0)
        return print_opts_digest(real_cc);
    struct ht_cc_args a;
    if (ht__cc_expand_args(argc - 1, argv + 1, &a) != 0) {
        fprintf(stderr, "heaptrail-cc: out of memory\n");
        return 1;
    }
    int st = ht_cc_drive(a.n, a.v, real_cc, rt_lib);
    ht__cc_args_free(&a);
    return st;
}
