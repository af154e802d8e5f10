/*
 * Test support for the live ingest (ht_store_ingest_begin/step/finish):
 * a hole-preserving copy of a spill (an offline ingest of the copy must see
 * the same allocated chunks: ingest never reads holes) and a text dump of
 * a run's chunks table, to compare two traces byte for byte. Header-only.
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

static inline int ht_test_dump_row(void *ctx, int ncol, const char *const *v,
                                   const char *const *names)
{
    (void)names;
    struct ht_test_dump *d = ctx;
    for (int i = 0; i < ncol; i++) {
        const char *x = v[i] ? v[i] : "NULL";
        size_t L = strlen(x);
        if (d->n + L + 2 > d->cap) {
            size_t nc = (d->n + L + 2) * 2;
            char *ns = realloc(d->s, nc);
            if (!ns)
                return 1;
            d->s = ns;
            d->cap = nc;
        }
        memcpy(d->s + d->n, x, L);
        d->n += L;
        d->s[d->n++] = i + 1 < ncol ? '|' : '\n';
        d->s[d->n] = 0;
    }
    return 0;
}

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
