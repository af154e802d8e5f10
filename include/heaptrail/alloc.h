/*
 * heaptrail allocator table with fault injection (SQLite test_malloc.c style).
 *
 * The tool's allocations can be routed through ht_alloc_malloc() & co., which
 * call the functions of the current table (libc's by default) and can be told
 * to fail the Nth allocation from now: ht_alloc_fault_arm(n, persistent).
 * Tests loop n = 1, 2, ... until an operation completes without reaching the
 * fault, checking after each failure that the operation reported a clean
 * error and left nothing broken.
 *
 * How the tool's code reaches this table without editing call sites: the
 * fault-injection test executable is linked with -Wl,--wrap=malloc,... so
 * every malloc/calloc/realloc/strdup/free of the (static) heaptrail libraries
 * goes through __wrap_* functions that call ht_alloc_*; SQLite is pointed at
 * the same table with ht_store_use_allocator(). Normal builds do neither and
 * never call these functions.
 *
 * Not thread-safe: the fault counter is meant for single-threaded tests.
 */
#ifndef HEAPTRAIL_ALLOC_H
#define HEAPTRAIL_ALLOC_H

#include <stddef.h>

/* The functions an allocator table is made of (libc semantics). */
struct ht_alloc_table {
    void *(*malloc)(size_t n);
    void *(*calloc)(size_t n, size_t size);
    void *(*realloc)(void *p, size_t n);
    void (*free)(void *p);
};

/* Replace the underlying table (NULL: back to libc's). The table is borrowed
 * and must outlive its use. Memory must be freed by the table that
 * allocated it, so only swap tables while nothing is allocated through them. */
void ht_alloc_set_table(const struct ht_alloc_table *t);

/* Allocate through the table, failing (NULL, errno = ENOMEM) when the fault
 * counter says so. ht_alloc_free accepts NULL. ht_alloc_realloc that fails
 * leaves p untouched; ht_alloc_realloc(p, 0) frees p and returns NULL
 * (never counted as an allocation). */
void *ht_alloc_malloc(size_t n);
void *ht_alloc_calloc(size_t n, size_t size);
void *ht_alloc_realloc(void *p, size_t n);
char *ht_alloc_strdup(const char *s);
void ht_alloc_free(void *p);

/* Fail the nth allocation counted from now (n >= 1); with persistent, that
 * one and every later one fail too. n == 0 disarms. */
void ht_alloc_fault_arm(long n, int persistent);
/* Disarm; returns how many allocations failed since the last arm. */
long ht_alloc_fault_disarm(void);
/* Allocations attempted through the table since the last arm. */
long ht_alloc_count(void);

#endif
