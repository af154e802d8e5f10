#define _GNU_SOURCE
/* Unit tests of the store: schema checks, spill ingestion, reader, events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heaptrail/spill.h"
#include "heaptrail/store.h"
#include "tests/support/spill_write.h"

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/ht-test-store-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb; (void)flag; (void)f;
    return remove(p);
}

static int teardown(void **state)
{
    (void)state;
    return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A synthetic spill: chunk_records small so that several chunks are used. */
#define CR 8u

struct spill_builder {
    struct ht_spill_header *h;
    struct ht_rec *chunks;
    size_t nchunks;
};

static void sb_init(struct spill_builder *b, size_t nchunks)
{
    b->h = ht_test_spill_header(CR, nchunks, "/bin/true");
    assert_non_null(b->h);
    b->chunks = calloc(nchunks * CR, sizeof(struct ht_rec));
    assert_non_null(b->chunks);
    b->nchunks = nchunks;
}

static void sb_put(struct spill_builder *b, size_t chunk, size_t slot,
                   uint64_t seq, unsigned kind, uint64_t a, uint64_t bsz,
                   uint32_t tid)
{
    struct ht_rec *r = &b->chunks[chunk * CR + slot];
    r->seq = seq;
    r->kind = (uint8_t)kind;
    r->a = a;
    r->b = bsz;
    r->d = 0x1000 + seq;
    r->tid = tid;
    if (chunk + 1 > b->h->next_chunk)
        b->h->next_chunk = chunk + 1;
}

static void sb_write(struct spill_builder *b, const char *path, size_t cut)
{
    size_t body = b->nchunks * CR * sizeof(struct ht_rec);
    assert_int_equal(ht_test_spill_write(path, b->h, b->chunks, body), 0);
    if (cut)
        assert_int_equal(truncate(path, (off_t)(HT_SPILL_HEADER_SIZE + body - cut)), 0);
    free(b->h);
    free(b->chunks);
}

static int count_cb(void *ctx, int ncol, const char *const *v,
                    const char *const *names)
{
    (void)ncol; (void)names;
    snprintf(ctx, 256, "%s", v[0] ? v[0] : "NULL");
    return 0;
}

static void query1(ht_store *st, const char *sql, char *out)
{
    out[0] = 0;
    assert_int_equal(ht_store_query(st, sql, 1, count_cb, out), HT_OK);
}

static void test_ingest_merge(void **state)
{
    (void)state;
    char db[300], spill[300];
    snprintf(db, sizeof db, "%s/t.db", dir);
    snprintf(spill, sizeof spill, "%s/t.db.spill", dir);
    mkdir(spill, 0700);
    snprintf(spill, sizeof spill, "%s/t.db.spill/spill-999999-1.hts", dir);
    struct spill_builder b;
    sb_init(&b, 4);
    /* thread 1 in chunk 0 and 2, thread 2 in chunk 1 (interleaved seqs);
     * chunk 1 is unsorted (signal handler), chunk 2 has a torn slot */
    sb_put(&b, 0, 0, 0, HT_EV_ALLOC, 0x100, 16, 1);
    sb_put(&b, 0, 1, 2, HT_EV_ALLOC, 0x200, 32, 1);
    sb_put(&b, 0, 2, 5, HT_EV_FREE, 0x100, 0, 1);
    sb_put(&b, 1, 0, 3, HT_EV_ALLOC, 0x300, 48, 2);
    sb_put(&b, 1, 1, 1, HT_EV_ALLOC, 0x400, 64, 2);
    sb_put(&b, 1, 2, 4, HT_EV_FREE, 0x400, 0, 2);
    sb_put(&b, 2, 0, 6, HT_EV_ALLOC, 0x100, 80, 1);
    sb_put(&b, 2, 2, 8, HT_EV_FREE, 0x200, 0, 1); /* slot 1 left torn */
    sb_write(&b, spill, 0);

    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, &st), HT_OK);
    struct ht_ingest_result res;
    assert_int_equal(ht_store_ingest_spill(st, spill, NULL, 0, &res), HT_OK);
    assert_int_equal(res.events, 8);
    assert_int_equal(res.torn, 1);
    assert_int_equal(res.complete, 1);
    assert_int_equal(access(spill, F_OK), -1); /* spill removed after commit */

    ht_reader *r = NULL;
    assert_int_equal(ht_reader_open(st, res.run_id, &r), HT_OK);
    struct ht_rec ev;
    uint64_t want[] = {0, 1, 2, 3, 4, 5, 6, 8};
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(ht_reader_next(r, &ev), HT_OK);
        assert_int_equal(ev.seq, want[i]);
        assert_int_equal(ev.d, 0x1000 + want[i]);
    }
    assert_int_equal(ht_reader_next(r, &ev), HT_ENOTFOUND);
    ht_reader_close(r);

    char out[256];
    query1(st, "SELECT count(*) FROM events WHERE kind='alloc'", out);
    assert_string_equal(out, "5");
    query1(st, "SELECT sum(size) FROM events WHERE kind='alloc'", out);
    assert_string_equal(out, "240");
    query1(st, "SELECT group_concat(tid) FROM (SELECT tid FROM events ORDER BY seq)", out);
    assert_string_equal(out, "1,2,1,2,2,1,1,1");
    query1(st, "SELECT argv || '|' || status || '|' || complete FROM runs", out);
    assert_string_equal(out, "prog arg1|exited|1");
    /* read-only queries refuse writes */
    assert_int_equal(ht_store_query(st, "DELETE FROM runs", 1, NULL, NULL), HT_ESQL);
    ht_store_close(st);
}

/* A fresh trace dir/dbname and spill path dir/spillname, a builder of
 * nchunks chunks. */
static void fresh(char *db, char *spill, size_t n, const char *dbname,
                  const char *spillname, struct spill_builder *b, size_t nchunks)
{
    snprintf(db, n, "%s/%s", dir, dbname);
    snprintf(spill, n, "%s/%s", dir, spillname);
    sb_init(b, nchunks);
}

/* Open db (created) and ingest spill, which must succeed. */
static ht_store *open_ingest(const char *db, const char *spill,
                             struct ht_ingest_result *res)
{
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, &st), HT_OK);
    assert_int_equal(ht_store_ingest_spill(st, spill, NULL, 0, res), HT_OK);
    return st;
}

static void test_torn_tail_and_incomplete(void **state)
{
    (void)state;
    char db[300], spill[300];
    struct spill_builder b;
    fresh(db, spill, sizeof db, "t2.db", "spill-999999-2.hts", &b, 2);
    b.h->state = HT_SPILL_RUNNING; /* died without exit() */
    for (unsigned i = 0; i < 2 * CR; i++)
        sb_put(&b, i / CR, i % CR, i, HT_EV_ALLOC, 0x1000 + 16 * i, 16, 7);
    /* the file loses half of its last chunk and 20 bytes of the record
     * before: that record is torn, the ones before it survive */
    sb_write(&b, spill, CR / 2 * sizeof(struct ht_rec) + 20);
    struct ht_ingest_result res;
    ht_store *st = open_ingest(db, spill, &res);
    /* the whole first chunk and the complete records of the second */
    assert_int_equal(res.events, CR + CR / 2 - 1);
    assert_int_equal(res.complete, 0);
    char out[256];
    query1(st, "SELECT status || complete FROM runs", out);
    assert_string_equal(out, "incomplete0");
    ht_store_close(st);
}

/* Torn slots counted by the merge (no chunk out of order, so no eager
 * redo): the result and the runs row agree; an unsorted chunk whose smallest
 * seq is still ahead of the output merges without a redo too. */
static void test_torn_counted_in_merge(void **state)
{
    (void)state;
    char db[300], spill[300];
    struct spill_builder b;
    fresh(db, spill, sizeof db, "t5.db", "spill-999997-1.hts", &b, 2);
    sb_put(&b, 0, 0, 0, HT_EV_ALLOC, 0x100, 16, 1);
    sb_put(&b, 0, 2, 1, HT_EV_ALLOC, 0x200, 16, 1); /* slot 1 torn */
    sb_put(&b, 1, 0, 3, HT_EV_ALLOC, 0x300, 16, 2); /* unsorted: 3, 2, 4 */
    sb_put(&b, 1, 1, 2, HT_EV_ALLOC, 0x400, 16, 2);
    sb_put(&b, 1, 2, 4, HT_EV_FREE, 0x400, 0, 2);
    sb_write(&b, spill, 0);
    struct ht_ingest_result res;
    ht_store *st = open_ingest(db, spill, &res);
    assert_int_equal(res.events, 5);
    assert_int_equal(res.torn, 1);
    char out[256];
    query1(st, "SELECT torn || '|' || events FROM runs", out);
    assert_string_equal(out, "1|5");
    query1(st, "SELECT group_concat(seq) FROM events", out); /* stored order */
    assert_string_equal(out, "0,1,2,3,4");
    ht_store_close(st);
}

/* background_free: ingest_dir still removes every spill before it returns
 * (never ingested twice); the background process removes the emptied
 * directory. New traces get 64 KiB pages. */
static void test_background_free(void **state)
{
    (void)state;
    char db[300], sdir[300], spill[2][340];
    snprintf(db, sizeof db, "%s/t4.db", dir);
    snprintf(sdir, sizeof sdir, "%s/t4.db.spill", dir);
    assert_int_equal(mkdir(sdir, 0700), 0);
    for (int k = 0; k < 2; k++) {
        snprintf(spill[k], sizeof spill[k], "%s/spill-99999%d-1.hts", sdir, 8 + k);
        struct spill_builder b;
        sb_init(&b, 1);
        for (unsigned i = 0; i < 3 + (unsigned)k; i++)
            sb_put(&b, 0, i, i, HT_EV_ALLOC, 0x1000 + 16 * i, 16, 1);
        sb_write(&b, spill[k], 0);
    }
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, &st), HT_OK);
    ht_store_set_background_free(st, 1);
    assert_int_equal(ht_store_ingest_dir(st, sdir, NULL, 0, NULL, NULL), HT_OK);
    assert_int_equal(access(spill[0], F_OK), -1);
    assert_int_equal(access(spill[1], F_OK), -1);
    char out[256];
    query1(st, "SELECT group_concat(events) FROM (SELECT events FROM runs ORDER BY run_id)", out);
    assert_string_equal(out, "3,4");
    query1(st, "PRAGMA page_size", out);
    assert_string_equal(out, "65536");
    ht_store_close(st);
    /* the detached process exits right after dropping the last spill */
    for (int i = 0; i < 3000 && access(sdir, F_OK) == 0; i++)
        usleep(10000);
    assert_int_equal(access(sdir, F_OK), -1);
}

static void test_bad_spill(void **state)
{
    (void)state;
    char db[300], spill[300];
    snprintf(db, sizeof db, "%s/t3.db", dir);
    snprintf(spill, sizeof spill, "%s/spill-1-1.hts", dir);
    FILE *f = fopen(spill, "w");
    fputs("garbage", f);
    fclose(f);
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, &st), HT_OK);
    struct ht_ingest_result res;
    assert_int_equal(ht_store_ingest_spill(st, spill, NULL, 0, &res), HT_ETRUNC);
    assert_int_equal(access(spill, F_OK), 0); /* kept: nothing lost */
    ht_store_close(st);
}

static void test_bad_trace_files(void **state)
{
    (void)state;
    char path[300];
    ht_store *st = (ht_store *)1;
    snprintf(path, sizeof path, "%s/missing.db", dir);
    assert_int_equal(ht_store_open(path, HT_STORE_READONLY, &st), HT_ENOENT);
    assert_null(st);
    snprintf(path, sizeof path, "%s/text.db", dir);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 200; i++)
        fputs("this is not a database at all\n", f);
    fclose(f);
    assert_int_equal(ht_store_open(path, 0, &st), HT_ENOTTRACE);
    /* a newer schema version */
    snprintf(path, sizeof path, "%s/new.db", dir);
    assert_int_equal(ht_store_open(path, HT_STORE_CREATE, &st), HT_OK);
    assert_int_equal(ht_store_exec(st, "UPDATE meta SET value=99 WHERE key='schema_version'"), HT_OK);
    ht_store_close(st);
    assert_int_equal(ht_store_open(path, 0, &st), HT_EVERSION);
    assert_non_null(strstr(ht_store_last_error(), "newer"));
    /* a truncated database: cut a populated trace in half */
    snprintf(path, sizeof path, "%s/cut.db", dir);
    assert_int_equal(ht_store_open(path, HT_STORE_CREATE, &st), HT_OK);
    assert_int_equal(ht_store_exec(st, "PRAGMA journal_mode=DELETE; CREATE TABLE big(x);"
        "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<20000)"
        " INSERT INTO big SELECT randomblob(100) FROM c;"), HT_OK);
    ht_store_close(st);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(truncate(path, sb.st_size / 2), 0);
    ht_err e = ht_store_open(path, 0, &st);
    if (e == HT_OK) { /* the header survived: the damage shows on use */
        e = ht_store_query(st, "SELECT count(*) FROM big", 1, NULL, NULL);
        ht_store_close(st);
        assert_int_not_equal(e, HT_OK);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ingest_merge),
        cmocka_unit_test(test_torn_tail_and_incomplete),
        cmocka_unit_test(test_torn_counted_in_merge),
        cmocka_unit_test(test_background_free),
        cmocka_unit_test(test_bad_spill),
        cmocka_unit_test(test_bad_trace_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
