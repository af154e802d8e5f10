/*
 * heaptrail-cc build driver (internal): splits one compiler command into
 * per-source instrumented compiles plus the original link; see cc_driver.c.
 */
#ifndef HEAPTRAIL_CC_DRIVER_H
#define HEAPTRAIL_CC_DRIVER_H

#include <stddef.h>

/* One input file of a compiler command. */
struct ht_cc_input {
    const char *path; /* borrowed from argv */
    const char *lang; /* explicit `-x LANG` in effect, or NULL */
    int is_c;         /* C source heaptrail-cc instruments */
};

/*
 * A parsed compiler command. All strings are borrowed from the argv given
 * to ht__cc_parse(); the arrays are owned (ht__cc_cmd_free()).
 */
struct ht_cc_cmd {
    int compile_only;    /* -c */
    int passthrough;     /* -E, -S, -M/-MM, `-o -`, stdin, no C input */
    const char *out;     /* -o value, or NULL */
    int md, has_mf, has_mt; /* -MD/-MMD, -MF given, -MT/-MQ given */
    const char **copts;  /* options for each per-source compile */
    int ncopts;
    struct ht_cc_input *in;
    int nin;
};

/* Parse argv (argv[0] excluded). 0, or -1 on ENOMEM (*cmd zeroed). */
int ht__cc_parse(int argc, char **argv, struct ht_cc_cmd *cmd);

/* Release the arrays of cmd (accepts a zeroed cmd). */
void ht__cc_cmd_free(struct ht_cc_cmd *cmd);

/*
 * Run the whole command: compile each C source instrumented (the original
 * on failure, with one warning line), other inputs unchanged, then link with
 * the --wrap flags and the runtime and write "<output>.htsites". Returns the
 * process exit status heaptrail-cc should exit with.
 */
int ht_cc_drive(int argc, char **argv, const char *real_cc,
                const char *rt_lib);

#endif
