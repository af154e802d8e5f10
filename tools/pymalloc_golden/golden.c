/*
 * Golden-fixture harness for the pymalloc model (see README.md).
 *
 * Built as a shared object against one CPython's headers and loaded with
 * ctypes.PyDLL (the GIL is held for the whole call, and no Python code runs
 * while it works). ht_golden_run() does everything inside ONE C call:
 *   1. dump _PyObject_DebugMallocStats ("before") and parse it;
 *   2. prime: allocate exactly `avail` blocks of every populated class and
 *      then `unused pools` pools' worth of 496-byte blocks, so that every
 *      pre-existing pool is full and every pre-existing arena has no free
 *      pool. These blocks are never freed, so the interpreter's own state is
 *      frozen and every later pool comes from a fresh arena;
 *   3. dump "baseline";
 *   4. run the pseudo-random operation sequence of ht_golden_next() (shared,
 *      byte for byte, with tests/replay/test_pymalloc.c), dumping the stats
 *      every `every` operations, then free every live block and dump again;
 *      or, when nops == 0, the scripted tie scenario ht_golden_script().
 * All bookkeeping arrays use libc malloc, never pymalloc.
 */
#include <Python.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int _PyObject_DebugMallocStats(FILE *out);

#include "golden_ops.h"

static void dump(FILE *f, const char *title, long n)
{
    fprintf(f, "=== %s %ld\n", title, n);
    fflush(f);
    _PyObject_DebugMallocStats(f);
    fflush(f);
}

/* Parse class rows and "N unused pools" of a dump; returns 0 on success. */
static int parse_before(const char *txt, size_t avail[32], size_t *unused)
{
    const char *p = strstr(txt, "-----   ----");
    memset(avail, 0, 32 * sizeof avail[0]);
    if (!p)
        return -1;
    p = strchr(p, '\n') + 1;
    unsigned c, sz;
    size_t pools, used, av;
    while (sscanf(p, "%u %u %zu %zu %zu", &c, &sz, &pools, &used, &av) == 5) {
        if (c < 32)
            avail[c] = av;
        p = strchr(p, '\n') + 1;
    }
    const char *u = strstr(p, " unused pools * ");
    if (!u)
        return -1;
    while (u > p && u[-1] != '\n')
        u--;
    return sscanf(u, "%zu", unused) == 1 ? 0 : -1;
}

static uint64_t api_alloc(void *ctx, uint64_t size)
{
    (void)ctx;
    return (uint64_t)(uintptr_t)PyObject_Malloc((size_t)size);
}

static void api_release(void *ctx, uint64_t addr)
{
    (void)ctx;
    PyObject_Free((void *)(uintptr_t)addr);
}

static void api_dump(void *ctx, const char *title, long n)
{
    dump((FILE *)ctx, title, n);
}

/* nops == 0 selects the scripted tie scenario of golden_ops.h. */
long ht_golden_run(char *out, size_t outlen, uint64_t seed, long nops,
                   long every, long phase, unsigned pool_size)
{
    char *before = NULL;
    size_t blen = 0, avail[32], unused = 0;
    FILE *bf = open_memstream(&before, &blen);
    _PyObject_DebugMallocStats(bf);
    fclose(bf);   /* libc only */
    if (parse_before(before, avail, &unused))
        return -1;
    size_t nprime = unused * ((pool_size - 48) / 496);
    for (int c = 0; c < 32; c++)
        nprime += avail[c];
    void **prime = malloc((nprime + 1) * sizeof *prime);
    size_t np = 0;
    for (int c = 0; c < 32; c++)
        for (size_t i = 0; i < avail[c]; i++)
            prime[np++] = PyObject_Malloc((size_t)(c + 1) * 16);
    for (size_t i = 0; i < unused * ((pool_size - 48) / 496); i++)
        prime[np++] = PyObject_Malloc(496);

    FILE *f = fmemopen(out, outlen, "w");
    if (!f)
        return -1;
    fputs(before, f);   /* for the record only */
    free(before);
    dump(f, "baseline", 0);
    if (nops == 0) {
        struct ht_golden_api api = {f, api_alloc, api_release, api_dump};
        uint64_t *blocks = malloc((HT_GOLDEN_SCRIPT_POOLS + 2) * 1024 *
                                  sizeof *blocks);
        int rc = ht_golden_script(&api, pool_size, blocks);
        free(blocks);
        free(prime);
        long pos = ftell(f);
        fclose(f);
        return rc ? -2 : pos;
    }
    struct ht_golden_gen g;
    ht_golden_init(&g, seed);
    void **live = malloc(HT_GOLDEN_MAX_LIVE * sizeof *live);
    long nlive = 0;
    for (long i = 1; i <= nops; i++) {
        struct ht_golden_op op = ht_golden_next(&g, i, nlive, phase);
        if (op.kind == HT_GOLDEN_MALLOC) {
            live[nlive++] = PyObject_Malloc(op.size);
        } else if (op.kind == HT_GOLDEN_FREE) {
            PyObject_Free(live[op.index]);
            live[op.index] = live[--nlive];
        } else {
            live[op.index] = PyObject_Realloc(live[op.index], op.size);
        }
        if (i % every == 0)
            dump(f, "checkpoint", i);
    }
    for (long i = 0; i < nlive; i++)
        PyObject_Free(live[i]);
    dump(f, "freed", nops);
    long pos = ftell(f);
    fclose(f);
    free(live);
    /* prime blocks deliberately stay allocated (see README) */
    free(prime);
    return pos;
}
