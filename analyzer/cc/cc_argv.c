/*
 * heaptrail-cc argument handling: turns the wrapper's argv into the real
 * compiler's (see heaptrail_cc.c for the rules). Kept apart from main() so
 * the analyzer can extend it and tests can call it.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "cc_argv.h"
#include "ht_cc_wrap_flags.h"

/* Options whose value is the next argument (see cc_argv.h). */
int ht__cc_takes_value(const char *a)
{
    static const char *const opts[] = {
        "-o", "-I", "-D", "-U", "-L", "-l", "-include", "-imacros",
        "-isystem", "-idirafter", "-iquote", "-iprefix", "-x", "-MF", "-MT",
        "-MQ", "-Xlinker", "-Xassembler", "-Xpreprocessor", "-aux-info",
        "--param", "-T", "-u", "-z", "-isysroot", "--sysroot", NULL};
    for (int i = 0; opts[i]; i++)
        if (strcmp(a, opts[i]) == 0)
            return 1;
    return 0;
}

/*
 * Build the real compiler's argument vector from ours (argv[0] excluded).
 * rt_lib is the runtime archive. On success *out is a NULL-terminated,
 * malloc'd array (caller frees the array, not the strings, which are
 * borrowed from argv or static) and *out_n its length. Returns HT_OK, or
 * HT_ENOMEM with *out = NULL and *out_n = 0.
 */
ht_err ht_cc_build_argv(int argc, char **argv, const char *real_cc,
                        const char *rt_lib, char ***out, int *out_n)
{
    *out = NULL;
    *out_n = 0;
    int compile = 0, preprocess = 0, deps_only = 0, shared = 0, inputs = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-c") == 0 || strcmp(a, "-S") == 0)
            compile = 1;
        else if (strcmp(a, "-E") == 0)
            preprocess = 1;
        else if (strcmp(a, "-M") == 0 || strcmp(a, "-MM") == 0)
            deps_only = 1;
        else if (strcmp(a, "-shared") == 0)
            shared = 1;
        else if (ht__cc_takes_value(a)) {
            if (strcmp(a, "-l") == 0)
                inputs++;
            i++;
        } else if (a[0] != '-' || strncmp(a, "-l", 2) == 0)
            inputs++;
    }
    int pass = preprocess || deps_only || inputs == 0;
    int add_compile = !pass && !preprocess;
    int link = !pass && !compile;
    (void)shared; /* -shared links get the wraps + runtime like programs */
    size_t nwrap = sizeof ht__cc_wrap_flags / sizeof ht__cc_wrap_flags[0];
    size_t cap = (size_t)argc + 8 + nwrap;
    char **v = calloc(cap, sizeof *v);
    if (!v)
        return HT_ENOMEM;
    int n = 0;
    v[n++] = (char *)real_cc;
    if (add_compile) {
        const char *base = strrchr(real_cc, '/');
        v[n++] = "-g";
        v[n++] = "-fno-optimize-sibling-calls";
        /* clang omits .debug_aranges by default, and the store's libdw
         * symbolizer finds a return address's CU through it */
        if (strstr(base ? base + 1 : real_cc, "clang"))
            v[n++] = "-gdwarf-aranges";
    }
    for (int i = 0; i < argc; i++)
        v[n++] = argv[i];
    if (link) {
        for (size_t k = 0; k < nwrap; k++)
            v[n++] = (char *)ht__cc_wrap_flags[k];
        v[n++] = (char *)rt_lib;
        v[n++] = "-lpthread";
        v[n++] = "-ldl";
    }
    v[n] = NULL;
    *out = v;
    *out_n = n;
    return HT_OK;
}

