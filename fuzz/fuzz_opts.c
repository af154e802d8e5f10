/*
 * Fuzz target: heaptrail-cc's option parser (analyzer/cc/cc_opts.c) on
 * arbitrary text, as HEAPTRAIL_OPTS and line by line as a config file is
 * read. Every accepted name must be a non-empty identifier and every
 * argument number in 1..127; an error must leave a message.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cc_opts.h"

static void check_name(const char *s)
{
    if (!s || !*s || isdigit((unsigned char)*s))
        abort();
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            abort();
}

static void check(const struct ht_cc_opts *o)
{
    for (size_t i = 0; i < o->ni; i++)
        check_name(o->inc[i]);
    for (size_t i = 0; i < o->nd; i++)
        check_name(o->dec[i]);
    for (size_t i = 0; i < o->na; i++) {
        check_name(o->alloc[i].name);
        if (o->alloc[i].arg < 1 || o->alloc[i].arg > 127)
            abort();
    }
    for (size_t i = 0; i < o->nf; i++) {
        check_name(o->free[i].name);
        if (o->free[i].arg < 1 || o->free[i].arg > 127)
            abort();
    }
}

/* libFuzzer entry point. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    struct ht_cc_opts o;
    char err[600];
    memset(&o, 0, sizeof o);
    err[0] = 0;
    if (ht_cc_opts_parse(&o, s, "fuzz", err, sizeof err) != 0 && !err[0])
        abort();
    check(&o);
    ht_cc_opts_free(&o);
    /* config-file reading: each line with its comment cut */
    memset(&o, 0, sizeof o);
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
        line[strcspn(line, "#")] = 0;
        if (ht_cc_opts_parse(&o, line, "fuzz:1", err, sizeof err) != 0)
            break;
    }
    check(&o);
    ht_cc_opts_free(&o);
    free(s);
    return 0;
}
