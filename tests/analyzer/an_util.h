/* Analyzer test helpers (header-only). */
#ifndef HT_TEST_AN_UTIL_H
#define HT_TEST_AN_UTIL_H

#include <stdio.h>

/* The text of a small file (up to 64 KiB) in static storage, or NULL. */
static inline char *an_slurp(const char *path)
{
    static char buf[65536];
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

#endif
