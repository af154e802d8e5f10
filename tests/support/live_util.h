/*
 * Test support for the live ingest (ht_store_ingest_begin/step/finish):
 * a hole-preserving copy of a spill (an offline ingest of the copy must see
 * the same allocated chunks: ingest never reads holes) and a text dump of
 * a run's chunks table, to compare two traces byte for byte; and query
 * results as text for any store test (ht_test_rows). Header-only.
 */
#ifndef HT_TEST_LIVE_UTIL_H
#define HT_TEST_LIVE_UTIL_H

/* the including file defines _GNU_SOURCE first (SEEK_DATA) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heaptrail/store.h"

/* Copy src to dst (created), same size and same data/hole layout.
 * Returns 0 or -1. */
static inline int ht_test_copy_sparse(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY), out = -1, ok = 0;
    struct stat sb;
    char *buf = malloc(1 << 20);
    if (in < 0 || !buf || fstat(in, &sb) != 0)
        goto done;
    out = open(dst, O_CREAT | O_EXCL | O_WRONLY, 0600);
    if (out < 0 || ftruncate(out, sb.st_size) != 0)
        goto done;
    off_t off = 0;
    for (;;) {
        off_t d = lseek(in, off, SEEK_DATA);
        if (d < 0) {
            ok = errno == ENXIO;
            break;
        }
        off_t h = lseek(in, d, SEEK_HOLE);
        if (h < 0)
            break;
        for (off = d; off < h;) {
            size_t n = (size_t)(h - off) < (1u << 20) ? (size_t)(h - off) : (1u << 20);
            ssize_t r = pread(in, buf, n, off);
            if (r <= 0 || pwrite(out, buf, (size_t)r, off) != r)
                goto done;
            off += r;
        }
    }
done:
    free(buf);
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

struct ht_test_dump {
    char *s;
    size_t n, cap;
};

/* Append x (len bytes) and the separator sep to d. Returns 0, or 1 when
 * out of memory (a query callback's "stop"). */
static inline int ht_test_dump_put(struct ht_test_dump *d, const char *x,
                                   size_t len, char sep)
{
    if (d->n + len + 2 > d->cap) {
        size_t nc = (d->n + len + 2) * 2;
        char *ns = realloc(d->s, nc);
        if (!ns)
            return 1;
        d->s = ns;
        d->cap = nc;
    }
    memcpy(d->s + d->n, x, len);
    d->n += len;
    d->s[d->n++] = sep;
    d->s[d->n] = 0;
    return 0;
}

/* Append the ncol values v (NULL as "NULL") to d, colsep between them and
 * rowsep after the last. Returns 0, or 1 when out of memory. */
static inline int ht_test_dump_cols(struct ht_test_dump *d, int ncol,
                                    const char *const *v, char colsep,
                                    char rowsep)
{
    for (int i = 0; i < ncol; i++) {
        const char *x = v[i] ? v[i] : "NULL";
        if (ht_test_dump_put(d, x, strlen(x), i + 1 < ncol ? colsep : rowsep))
            return 1;
    }
    return 0;
}

/* A query callback: each row as "x|y|z\n" onto the struct ht_test_dump
 * ctx. */
static inline int ht_test_dump_row(void *ctx, int ncol, const char *const *v,
                                   const char *const *names)
{
    (void)names;
    return ht_test_dump_cols(ctx, ncol, v, '|', '\n');
}

/* A query callback: each row as "a,b;" onto the struct ht_test_dump ctx
 * (ht_test_rows drops the last ';'). */
static inline int ht_test_rows_row(void *ctx, int ncol, const char *const *v,
                                   const char *const *names)
{
    (void)names;
    return ht_test_dump_cols(ctx, ncol, v, ',', ';');
}

/* The rows of sql as "a,b;c,d" into out (cap bytes; "" when none).
 * Returns 0, or -1 when the query fails or they do not fit (out "").
 * Tests call it through HT_TEST_Q (cmocka asserts), cap = sizeof out. */
static inline int ht_test_rows(ht_store *st, const char *sql, char *out,
                               size_t cap)
{
    struct ht_test_dump d = {0};
    int ok = ht_store_query(st, sql, 1, ht_test_rows_row, &d) == HT_OK &&
             (d.n ? d.n : 1) <= cap; /* the string and its NUL */
    if (ok && d.n)
        d.s[d.n - 1] = 0; /* the last row's ';' */
    if (cap)
        snprintf(out, cap, "%s", ok && d.s ? d.s : "");
    free(d.s);
    return ok ? 0 : -1;
}

/* ht_test_rows into the array out, asserted (needs cmocka.h first). */
#define HT_TEST_Q(st, sql, out)                                               \
    assert_int_equal(ht_test_rows((st), (sql), (out), sizeof(out)), 0)

/* Every column of run_id's chunks rows in chunk order (blobs in hex), as
 * one malloc'd string (the caller frees it), or NULL. */
static inline char *ht_test_chunks_dump(ht_store *st, int64_t run_id)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT chunk_no, first_seq, last_seq, nevents, codec, hex(data) "
             "FROM chunks WHERE run_id=%lld ORDER BY chunk_no", (long long)run_id);
    struct ht_test_dump d = {0};
    if (ht_store_query(st, sql, 1, ht_test_dump_row, &d) != HT_OK) {
        free(d.s);
        return NULL;
    }
    return d.s ? d.s : calloc(1, 1);
}

/* Every events row of st in seq order as "seq|kind|tid|a|b|c|d\n" (a..d
 * SQLite's signed integers), malloc'd (the caller frees it), or NULL. */
static inline char *ht_test_events_dump(ht_store *st)
{
    struct ht_test_dump d = {0};
    if (ht_store_query(st, "SELECT seq, kind, tid, a, b, c, d FROM events "
                           "ORDER BY seq", 1, ht_test_dump_row, &d) != HT_OK) {
        free(d.s);
        return NULL;
    }
    return d.s ? d.s : calloc(1, 1);
}

#endif
