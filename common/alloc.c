/*
 * Allocator table with fault injection (include/heaptrail/alloc.h).
 *
 * State: the current table, and the fault counter.
 *   A1. countdown > 0: the countdown-th allocation from now fails, then
 *       countdown becomes 0 (transient) or stays "failing" (persistent).
 *   A2. countdown == 0 and !failing: nothing fails (the normal state).
 *   A3. nfail counts allocations refused since the last arm; nalloc counts
 *       attempts (successful or not) since the last arm.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "heaptrail/alloc.h"

static void *libc_malloc(size_t n) { return malloc(n); }
static void *libc_calloc(size_t n, size_t size) { return calloc(n, size); }
static void *libc_realloc(void *p, size_t n) { return realloc(p, n); }
static void libc_free(void *p) { free(p); }

static const struct ht_alloc_table libc_table = {
    libc_malloc, libc_calloc, libc_realloc, libc_free,
};

static const struct ht_alloc_table *table = &libc_table;
static long countdown, nfail, nalloc;
static int persistent, failing;

void ht_alloc_set_table(const struct ht_alloc_table *t)
{
    table = t ? t : &libc_table;
}

/* Count one allocation attempt; nonzero if it must fail (A1). */
static int should_fail(void)
{
    nalloc++;
    if (failing || (countdown > 0 && --countdown == 0)) {
        failing = persistent;
        nfail++;
        errno = ENOMEM;
        return 1;
    }
    return 0;
}

void *ht_alloc_malloc(size_t n)
{
    return should_fail() ? NULL : table->malloc(n);
}

void *ht_alloc_calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : table->calloc(n, size);
}

void *ht_alloc_realloc(void *p, size_t n)
{
    if (p && n == 0) {
        table->free(p);
        return NULL;
    }
    return should_fail() ? NULL : table->realloc(p, n);
}

char *ht_alloc_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = ht_alloc_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void ht_alloc_free(void *p)
{
    if (p)
        table->free(p);
}

void ht_alloc_fault_arm(long n, int persist)
{
    countdown = n > 0 ? n : 0;
    persistent = persist;
    failing = 0;
    nfail = 0;
    nalloc = 0;
}

long ht_alloc_fault_disarm(void)
{
    countdown = 0;
    failing = 0;
    return nfail;
}

long ht_alloc_count(void) { return nalloc; }
