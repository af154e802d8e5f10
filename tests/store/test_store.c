#define _GNU_SOURCE
/* Unit tests of the store: schema checks, spill ingestion (offline and
 * live), reader, events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "heaptrail/spill.h"
#include "heaptrail/store.h"
#include "tests/support/hot_journal.h"
#include "tests/support/live_util.h"
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

/* cut: bytes cut off the end of the written (packed) file */
static void sb_write(struct spill_builder *b, const char *path, size_t cut)
{
    size_t body = b->nchunks * CR * sizeof(struct ht_rec);
    assert_int_equal(ht_test_spill_write(path, b->h, b->chunks, body), 0);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    if (cut)
        assert_int_equal(truncate(path, sb.st_size - (off_t)cut), 0);
    free(b->h);
    free(b->chunks);
}

#define query1 HT_TEST_Q /* live_util.h */

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
    sb_write(&b, spill, CR / 2 * sizeof(struct ht_spill_rec) + 20);
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

/* Ingest spill into a new trace db: want_events records and want_torn torn
 * slots (in the result and the runs row), then the events rows (ht_test_events_dump)
 * equal to dump and their seqs in stored order equal to seqs (each unless
 * NULL). Returns the ingest result for further checks. */
static struct ht_ingest_result ingest_expect(const char *db, const char *spill,
                                             int want_events, int want_torn,
                                             const char *dump, const char *seqs)
{
    struct ht_ingest_result res;
    ht_store *st = open_ingest(db, spill, &res);
    assert_int_equal(res.events, want_events);
    assert_int_equal(res.torn, want_torn);
    char out[256], want[64];
    snprintf(want, sizeof want, "%d|%d", want_torn, want_events);
    query1(st, "SELECT torn || '|' || events FROM runs", out);
    assert_string_equal(out, want);
    if (dump) {
        char *got = ht_test_events_dump(st);
        assert_non_null(got);
        assert_string_equal(got, dump);
        free(got);
    }
    if (seqs) {
        query1(st, "SELECT group_concat(seq) FROM events", out);
        assert_string_equal(out, seqs);
    }
    ht_store_close(st);
    return res;
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
    ingest_expect(db, spill, 5, 1, NULL, "0,1,2,3,4"); /* stored order */
}

/* The torn-slot rule (T1 in store/ingest.c): every slot before a chunk's
 * last written slot whose kind is not a valid event kind counts once,
 * whether it lies before the chunk's first valid record, between records,
 * or in a chunk without any valid record; unused slots after the last
 * written one do not count. */
static void test_torn_rule(void **state)
{
    (void)state;
    char db[300], spill[300];
    struct spill_builder b;
    fresh(db, spill, sizeof db, "t6.db", "spill-999996-1.hts", &b, 4);
    for (unsigned i = 0; i < 3; i++)
        sb_put(&b, 0, i, i, HT_EV_ALLOC, 0x100 + 16 * i, 16, 1);
    for (unsigned i = 0; i < 3; i++) /* garbage kinds only: 3 torn */
        sb_put(&b, 1, i, 100 + i, 0xEE, 0, 0, 2);
    /* slot 0 never completed, slot 2 garbage: 2 torn */
    sb_put(&b, 2, 1, 3, HT_EV_FREE, 0x100, 0, 3);
    sb_put(&b, 2, 2, 200, 0xEE, 0, 0, 3);
    sb_put(&b, 2, 3, 4, HT_EV_FREE, 0x110, 0, 3);
    sb_put(&b, 3, 0, 5, HT_EV_FREE, 0x120, 0, 4); /* then unused: not torn */
    sb_write(&b, spill, 0);
    struct ht_ingest_result res =
        ingest_expect(db, spill, 6, 5, NULL, "0,1,2,3,4,5");
    assert_int_equal(res.redone, 0);
}

/* ht_spill_list: spill names only, in ingest order (pid, then start time,
 * as numbers), one process's (not a pid that merely starts the same). */
static void test_spill_list(void **state)
{
    (void)state;
    char sd[300], p[400];
    snprintf(sd, sizeof sd, "%s/list.db.spill", dir);
    assert_int_equal(mkdir(sd, 0700), 0);
    const char *files[] = {"spill-12-300.hts", "spill-120-1.hts", "spill-3-999.hts",
                           "spill-12-20.hts", "notes.txt", "spill-12-5.tmp"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s/%s", sd, files[i]);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fclose(f);
    }
    char **v = NULL;
    size_t n = 0;
    assert_int_equal(ht_spill_list(sd, 0, &v, &n), HT_OK);
    const char *all[] = {"spill-3-999.hts", "spill-12-20.hts", "spill-12-300.hts",
                         "spill-120-1.hts"};
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/%s", sd, all[i]);
        assert_string_equal(v[i], p);
    }
    ht_spill_list_free(v, n);
    assert_int_equal(ht_spill_list(sd, 12, &v, &n), HT_OK);
    assert_int_equal(n, 2);
    snprintf(p, sizeof p, "%s/spill-12-20.hts", sd);
    assert_string_equal(v[0], p);
    snprintf(p, sizeof p, "%s/spill-12-300.hts", sd);
    assert_string_equal(v[1], p);
    ht_spill_list_free(v, n);
    assert_int_equal(ht_spill_list(sd, 7, &v, &n), HT_OK);
    assert_int_equal(n, 0);
    assert_null(v);
    snprintf(p, sizeof p, "%s/none.db.spill", dir);
    assert_int_equal(ht_spill_list(p, 0, &v, &n), HT_OK); /* missing dir */
    assert_int_equal(n, 0);
    ht_spill_list_free(NULL, 0);
}

/* background_free: ingest_dir still removes every spill before it returns
 * (never ingested twice); the background process removes the emptied
 * directory. New traces get 16 KiB pages. */
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
    assert_string_equal(out, "16384");
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

/* ---- spill layouts (include/heaptrail/spill.h S6-S8) -------------------- */

static void put_rec(struct ht_spill_rec *slot, unsigned *k, uint64_t seq,
                    unsigned kind, unsigned flags, uint64_t a, uint64_t b,
                    uint64_t c, uint64_t d)
{
    struct ht_rec r = {seq, a, b, c, d, 0, (uint16_t)flags, 0, (uint8_t)kind};
    *k += ht_spill_pack(slot + *k, &r);
}

/* A hand-built version-2 spill: compact and wide records with extreme
 * values, a wide record whose second slot was never released (its first
 * written: both slots torn, S7), owner slots changing the tid inside a
 * chunk (S6), a wide slot at a chunk's start (no first half: torn), and
 * trailing unused slots (not torn). The events rows carry every value. */
static void test_spill_v2_slots(void **state)
{
    (void)state;
    char db[300], spill[300];
    snprintf(db, sizeof db, "%s/v2.db", dir);
    snprintf(spill, sizeof spill, "%s/spill-999993-1.hts", dir);
    enum { V2_CR = 14 };
    struct ht_spill_header *h = ht_test_spill_header(V2_CR, 3, "/bin/true");
    assert_non_null(h);
    h->next_chunk = 3;
    static struct ht_spill_rec sl[3 * V2_CR];
    memset(sl, 0, sizeof sl);
    const uint64_t M = UINT64_MAX, W = 1ull << 48, L = W - 1;
    unsigned k = 0;
    ht_spill_owner(&sl[k++], 7);
    put_rec(sl, &k, 0, HT_EV_ALLOC, 0, L, L, L, L);            /* compact */
    put_rec(sl, &k, 1, HT_EV_STORE, HT_EVF_SITE, 0x200, M, W, 5); /* wide */
    put_rec(sl, &k, 3, HT_EV_INCREF, HT_EVF_SITE, M, W, 0, M);
    /* torn wide record: first half written, second never released */
    sl[k].w[0] = 0x77;
    sl[k].w[1] = 0x88;
    k += 2;
    put_rec(sl, &k, 4, HT_EV_FREE, 0, L, 0, 0, L);
    ht_spill_owner(&sl[k++], 8);
    put_rec(sl, &k, 6, HT_EV_REALLOC, 0, 0x5000, M, M - 0xfff, 0x400000);
    assert_true(k <= V2_CR - 1); /* then an unused slot */
    /* chunk 1: tid 9, a seq between chunk 0's (merge order) */
    k = V2_CR;
    ht_spill_owner(&sl[k++], 9);
    put_rec(sl, &k, 2, HT_EV_ROOT, 0, 0x7ffd0000, 4096, HT_ROOT_STACK, 9);
    put_rec(sl, &k, 5, HT_EV_FN_ENTER, HT_EVF_SITE, W, 0, 0, W);
    /* chunk 2: a lone wide slot at slot 0, then a record without owner */
    struct ht_spill_rec two[2];
    struct ht_rec wr = {7, M, M, 0, 0, 0, 0, 0, HT_EV_STORE};
    assert_int_equal(ht_spill_pack(two, &wr), 2);
    sl[2 * V2_CR] = two[1];
    k = 2 * V2_CR + 1;
    put_rec(sl, &k, 8, HT_EV_FN_EXIT, HT_EVF_SITE, 3, 0, 0, 3);
    assert_int_equal(ht_test_spill_write_raw(spill, h, sl, sizeof sl), 0);
    free(h);
    ingest_expect(db, spill, 8, 3,
        "0|alloc|7|281474976710655|281474976710655|281474976710655|281474976710655\n"
        "1|store|7|512|-1|281474976710656|5\n"
        "2|root|9|2147287040|4096|-1|9\n"
        "3|incref|7|-1|281474976710656|0|-1\n"
        "4|free|7|281474976710655|0|0|281474976710655\n"
        "5|enter|9|281474976710656|0|0|281474976710656\n"
        "6|realloc|8|20480|-1|-4096|4194304\n"
        "8|exit_fn|0|3|0|0|3\n", NULL);
}

/* A version-1 spill (48-byte records with their tid, left by an older
 * recorder): still ingested, values and tids exact, torn slots counted. */
static void test_spill_v1(void **state)
{
    (void)state;
    char db[300], spill[300];
    snprintf(db, sizeof db, "%s/v1.db", dir);
    snprintf(spill, sizeof spill, "%s/spill-999992-1.hts", dir);
    struct ht_spill_header *h = ht_test_spill_header(4, 2, "/bin/true");
    assert_non_null(h);
    h->version = 1;
    h->rec_size = sizeof(struct ht_rec);
    h->next_chunk = 2;
    struct ht_rec r[8];
    memset(r, 0, sizeof r);
    r[0] = (struct ht_rec){0, 0x100, 16, 0, 0x400000, 11, 0, 0, HT_EV_ALLOC};
    /* r[1] torn */
    r[2] = (struct ht_rec){3, 0x100, 0, 0, 0x400010, 11, 0, 0, HT_EV_FREE};
    r[4] = (struct ht_rec){1, 0x200, UINT64_MAX, 0, 6, 12, HT_EVF_SITE, 0,
                           HT_EV_STORE};
    r[5] = (struct ht_rec){2, 0x300, 1ull << 48, 0, 0x400020, 12, 0, 0,
                           HT_EV_ALLOC};
    assert_int_equal(ht_test_spill_write_raw(spill, h, r, sizeof r), 0);
    free(h);
    ingest_expect(db, spill, 4, 1, "0|alloc|11|256|16|0|4194304\n"
                             "1|store|12|512|-1|0|6\n"
                             "2|alloc|12|768|281474976710656|0|4194336\n"
                             "3|free|11|256|0|0|4194320\n", NULL);
}

/* ---- live ingest (ht_store_ingest_begin/step/finish, DECISIONS 18) ------
 * A synthetic spill that the test writes while it is being ingested, as
 * four recording threads would: the chunks stored must be byte-identical to
 * an offline ingest of a copy of the final spill, with or without a
 * straggler (a record whose seq is behind what a step already merged), and
 * an abort must leave the trace and the spill as they were. */

/* 4 "threads", one chunk each, 32768 records per chunk: 131072 events,
 * two stored chunks of 65536 (so the cut falls inside a live step). Event
 * i of thread c has seq 4 * i + c + 1: the threads interleave. */
#define LIVE_NT 4u
#define LIVE_CR 32768u

struct live_spill {
    struct ht_spill_header *h; /* the shared map */
    struct ht_spill_rec *rec;  /* chunk c: rec[c * (LIVE_CR + 1)], its owner
                                * slot, then event i in slot i + 1 */
    size_t size;
};
#define LIVE_SLOT(c, i) ((size_t)(c) * (LIVE_CR + 1) + (i) + 1)

static void ls_create(struct live_spill *ls, const char *path)
{
    struct ht_spill_header *h0 = ht_test_spill_header(LIVE_CR + 1, LIVE_NT, "/bin/true");
    assert_non_null(h0);
    h0->state = HT_SPILL_RUNNING;
    h0->pid = getpid(); /* "still running" */
    h0->next_chunk = LIVE_NT;
    ls->size = HT_SPILL_HEADER_SIZE +
               (size_t)LIVE_NT * (LIVE_CR + 1) * sizeof(struct ht_spill_rec);
    char *zero = calloc(1, ls->size - HT_SPILL_HEADER_SIZE);
    assert_non_null(zero);
    for (unsigned c = 0; c < LIVE_NT; c++) /* owner slots (spill.h S6) */
        ht_spill_owner((struct ht_spill_rec *)zero + (size_t)c * (LIVE_CR + 1), 100 + c);
    assert_int_equal(ht_test_spill_write_raw(path, h0, zero, ls->size - HT_SPILL_HEADER_SIZE), 0);
    free(zero);
    free(h0);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    void *m = mmap(NULL, ls->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    assert_true(m != MAP_FAILED);
    ls->h = m;
    ls->rec = (struct ht_spill_rec *)((char *)m + HT_SPILL_HEADER_SIZE);
}

/* Write event i of thread c as the recorder does (kind last, release). */
static void ls_put(struct live_spill *ls, unsigned c, unsigned i)
{
    struct ht_rec r = {0};
    r.seq = 4ull * i + c + 1;
    r.a = 0x10000 + 64ull * (i % 1000) + c; /* alloc/free pairs per slot */
    r.b = 64;
    r.d = 0x400000 + (i % 7);
    r.kind = (uint8_t)(i % 2 ? HT_EV_FREE : HT_EV_ALLOC);
    struct ht_spill_rec p;
    ht_spill_pack(&p, &r);
    struct ht_spill_rec *s = &ls->rec[LIVE_SLOT(c, i)];
    memcpy(s, &p, 24);
    __atomic_store_n(&s->w[3], p.w[3], __ATOMIC_RELEASE);
}

/* Step until something was merged (the watermark lags 20 ms behind the
 * seq counter); returns the slots merged. */
static uint64_t step_some(ht_ingest *ig)
{
    for (int k = 0; k < 2000; k++) {
        uint64_t merged = 0;
        assert_int_equal(ht_store_ingest_step(ig, &merged), HT_OK);
        if (merged)
            return merged;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    fail_msg("no live step merged anything");
    return 0;
}

/* Offline ingest of a copy of spill (into a new trace) must store exactly
 * the chunks the live ingest stored in live_db, and the same run figures. */
static void check_same_min(const char *live_db, const char *copy, int tag,
                           const char *run_row, size_t min_dump);

static void check_same(const char *live_db, const char *copy, int tag,
                       const char *run_row)
{
    /* 400: the two chunks of these regular streams are ~420 bytes of blob
     * (937 characters of dump) since codec version 3 */
    check_same_min(live_db, copy, tag, run_row, 400);
}

/* check_same, the chunks dump at least min_dump characters long. */
static void check_same_min(const char *live_db, const char *copy, int tag,
                           const char *run_row, size_t min_dump)
{
    char off_db[300];
    snprintf(off_db, sizeof off_db, "%s/off%d.db", dir, tag);
    ht_store *a = NULL, *b = NULL;
    assert_int_equal(ht_store_open(live_db, 0, &a), HT_OK);
    assert_int_equal(ht_store_open(off_db, HT_STORE_CREATE, &b), HT_OK);
    struct ht_ingest_result r;
    assert_int_equal(ht_store_ingest_spill(b, copy, NULL, 1, &r), HT_OK);
    char *ca = ht_test_chunks_dump(a, 1), *cb = ht_test_chunks_dump(b, 1);
    assert_non_null(ca);
    assert_non_null(cb);
    assert_true(strlen(ca) > min_dump);
    assert_string_equal(ca, cb);
    free(ca);
    free(cb);
    const char *q = "SELECT events, torn, status, complete FROM runs";
    char *ra = NULL, *rb = NULL;
    struct ht_test_dump da = {0}, db = {0};
    assert_int_equal(ht_store_query(a, q, 1, ht_test_dump_row, &da), HT_OK);
    assert_int_equal(ht_store_query(b, q, 1, ht_test_dump_row, &db), HT_OK);
    ra = da.s;
    rb = db.s;
    assert_string_equal(ra, run_row);
    assert_string_equal(ra, rb);
    free(ra);
    free(rb);
    ht_store_close(a);
    ht_store_close(b);
}

/* The paths of live test tag: its spill, the spill's copy and the trace
 * (room for 300 bytes each). */
static void live_paths(int tag, char *spill, char *copy, char *db)
{
    snprintf(spill, 300, "%s/spill-%d.hts", dir, tag);
    snprintf(copy, 300, "%s/copy-%d.hts", dir, tag);
    snprintf(db, 300, "%s/live%d.db", dir, tag);
}

/* straggler: slot 10000 of thread 2 stays empty while the steps run and is
 * written only afterwards, behind records already merged. messy: thread
 * 1's chunk has a torn slot (an invalid kind) and two records out of seq
 * order (as a signal handler leaves them) inside the first step's range,
 * so that step copies and sorts the chunk instead of merging it from the
 * map. */
static void live_case(int straggler, int messy, int tag)
{
    char spill[300], copy[300], db[300];
    live_paths(tag, spill, copy, db);
    struct live_spill ls;
    ls_create(&ls, spill);
    for (unsigned c = 0; c < LIVE_NT; c++)
        for (unsigned i = 0; i < 20000; i++)
            if (!(straggler && c == 2 && i == 10000))
                ls_put(&ls, c, i);
    if (messy) {
        /* swap the seqs (low 48 bits of w3) of thread 1's slots 700, 701 */
        struct ht_spill_rec *r = &ls.rec[LIVE_SLOT(1, 700)];
        uint64_t t = r[0].w[3] & HT_SPILL_LOW48;
        r[0].w[3] = (r[0].w[3] & ~HT_SPILL_LOW48) | (r[1].w[3] & HT_SPILL_LOW48);
        r[1].w[3] = (r[1].w[3] & ~HT_SPILL_LOW48) | t;
        struct ht_spill_rec *g = &ls.rec[LIVE_SLOT(1, 500)]; /* invalid kind */
        g->w[3] = (g->w[3] & ~(0xffull << 56)) | 0xEEull << 56;
    }
    ls.h->seq = 4ull * 20000 + 1;
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, &st), HT_OK);
    ht_ingest *ig = NULL;
    assert_int_equal(ht_store_ingest_begin(st, spill, &ig), HT_OK);
    uint64_t merged = step_some(ig);
    /* everything below the watermark, up to thread 2's empty slot */
    assert_int_equal(merged, straggler ? 4 * 20000 - 10000 : 4 * 20000);
    if (straggler)
        ls_put(&ls, 2, 10000); /* seq 40003: the output is at 80000 */
    for (unsigned c = 0; c < LIVE_NT; c++)
        for (unsigned i = 20000; i < LIVE_CR; i++)
            ls_put(&ls, c, i);
    ls.h->seq = 4ull * LIVE_CR + 1;
    if (!straggler)
        assert_int_equal(step_some(ig), 4 * (LIVE_CR - 20000));
    __atomic_store_n(&ls.h->state, HT_SPILL_EXITED, __ATOMIC_RELEASE);
    assert_int_equal(ht_test_copy_sparse(spill, copy), 0);
    struct ht_ingest_result res;
    assert_int_equal(ht_store_ingest_finish(ig, NULL, &res), HT_OK);
    assert_int_equal(res.events, 4 * LIVE_CR - messy);
    assert_int_equal(res.torn, messy);
    assert_int_equal(res.chunks, 2);
    assert_int_equal(res.redone, straggler); /* the fallback was taken */
    assert_int_equal(access(spill, F_OK), -1); /* deleted after the commit */
    ht_store_close(st);
    munmap(ls.h, ls.size);
    check_same(db, copy, tag,
               messy ? "131071|1|exited|1\n" : "131072|0|exited|1\n");
}

/* T1 live and offline: thread 3's chunk holds only garbage kinds, which a
 * live step takes as one range without a valid record; they count as torn
 * there as in the offline ingest of the same spill (check_same). */
static void test_live_torn_range(void **state)
{
    (void)state;
    char spill[300], copy[300], db[300];
    live_paths(4, spill, copy, db);
    struct live_spill ls;
    ls_create(&ls, spill);
    for (unsigned c = 0; c < LIVE_NT - 1; c++)
        for (unsigned i = 0; i < LIVE_CR; i++)
            ls_put(&ls, c, i);
    for (unsigned i = 0; i < 10; i++) {
        struct ht_spill_rec *r = &ls.rec[LIVE_SLOT(LIVE_NT - 1, i)];
        __atomic_store_n(&r->w[3], ht_spill_w3(4ull * i + LIVE_NT, 0, 0xEE),
                         __ATOMIC_RELEASE);
    }
    ls.h->seq = 4ull * LIVE_CR + 1;
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, &st), HT_OK);
    ht_ingest *ig = NULL;
    assert_int_equal(ht_store_ingest_begin(st, spill, &ig), HT_OK);
    assert_int_equal(step_some(ig), 3 * LIVE_CR + 10);
    __atomic_store_n(&ls.h->state, HT_SPILL_EXITED, __ATOMIC_RELEASE);
    assert_int_equal(ht_test_copy_sparse(spill, copy), 0);
    struct ht_ingest_result res;
    assert_int_equal(ht_store_ingest_finish(ig, NULL, &res), HT_OK);
    assert_int_equal(res.events, 3 * LIVE_CR);
    assert_int_equal(res.torn, 10);
    assert_int_equal(res.redone, 0);
    ht_store_close(st);
    munmap(ls.h, ls.size);
    /* 3 threads: the chunks compress to a few hundred bytes */
    check_same_min(db, copy, 4, "98304|10|exited|1\n", 200);
}

/* A small live ingest into the new trace db of spill (a recording
 * process "still running", every record already written): one step must
 * merge want_merged slots; then the process "exits" (the header's state
 * written through the file), the spill is copied to copy and the ingest
 * finished without the offline fallback. The stored events must be
 * want_events (ht_test_events_dump) and the runs row run_row (events,
 * torn, status, complete), the same as an offline ingest of the copy's
 * (check_same_min, tag naming its trace). */
static void live_small_expect(const char *db, const char *spill,
                              const char *copy, int tag, uint64_t want_merged,
                              const char *want_events, const char *run_row)
{
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, &st), HT_OK);
    ht_ingest *ig = NULL;
    assert_int_equal(ht_store_ingest_begin(st, spill, &ig), HT_OK);
    assert_int_equal(step_some(ig), want_merged);
    int fd = open(spill, O_WRONLY);
    assert_true(fd >= 0);
    uint32_t exited = HT_SPILL_EXITED;
    assert_int_equal(pwrite(fd, &exited, sizeof exited,
                            offsetof(struct ht_spill_header, state)),
                     (ssize_t)sizeof exited);
    close(fd);
    assert_int_equal(ht_test_copy_sparse(spill, copy), 0);
    struct ht_ingest_result res;
    assert_int_equal(ht_store_ingest_finish(ig, NULL, &res), HT_OK);
    assert_int_equal(res.redone, 0);
    char *got = ht_test_events_dump(st);
    assert_non_null(got);
    assert_string_equal(got, want_events);
    free(got);
    ht_store_close(st);
    check_same_min(db, copy, tag, run_row, 20);
}

/* A live step takes a wide record's two slots together (S7): over a
 * chunk of alternating wide and compact records it merges every slot in
 * one step (never stopping at a first half, whose kind byte is 0), and
 * the result is an offline ingest's. */
static void test_live_wide(void **state)
{
    (void)state;
    char spill[300], copy[300], db[300];
    live_paths(5, spill, copy, db);
    struct ht_spill_header *h = ht_test_spill_header(8, 1, "/bin/true");
    assert_non_null(h);
    h->state = HT_SPILL_RUNNING;
    h->pid = getpid();
    h->next_chunk = 1;
    h->seq = 6;
    struct ht_rec r[8];
    memset(r, 0, sizeof r);
    for (unsigned i = 0; i < 6; i++)
        r[i] = (struct ht_rec){i, i % 2 ? 0x1000 + i : UINT64_MAX - i, i, 0,
                               9, 5, HT_EVF_SITE, 0, HT_EV_STORE};
    assert_int_equal(ht_test_spill_write(spill, h, r, sizeof r), 0);
    free(h);
    live_small_expect(db, spill, copy, 5, 3 * 2 + 3, /* slots, not the owner */
                      "0|store|5|-1|0|0|9\n1|store|5|4097|1|0|9\n"
                      "2|store|5|-3|2|0|9\n3|store|5|4099|3|0|9\n"
                      "4|store|5|-5|4|0|9\n5|store|5|4101|5|0|9\n",
                      "6|0|exited|1\n");
}

/* Only the second slot of a wide store of seq (a, b = -1, c = 0, d = 5)
 * at slot[*k]: a corrupt spill's wide slot without its first half. */
static void wide_second_half(struct ht_spill_rec *slot, unsigned *k,
                             uint64_t seq, uint64_t a)
{
    struct ht_spill_rec two[2];
    unsigned n = 0;
    put_rec(two, &n, seq, HT_EV_STORE, HT_EVF_SITE, a, UINT64_MAX, 0, 5);
    assert_int_equal(n, 2);
    slot[(*k)++] = two[1];
}

/* S7 on a corrupt spill: a wide slot is a record only directly after its
 * first half (kind byte 0). One after a compact record (the merge's run
 * over the map), after an owner slot, after another wide record, or in a
 * chunk out of seq order (a sorted copy) is torn, never unpacked with the
 * slot before it as its first half. Live and offline alike (check_same). */
static void test_wide_without_first_half(void **state)
{
    (void)state;
    char spill[300], copy[300], db[300];
    live_paths(6, spill, copy, db);
    enum { W_CR = 12 };
    struct ht_spill_header *h = ht_test_spill_header(W_CR, 2, "/bin/true");
    assert_non_null(h);
    h->state = HT_SPILL_RUNNING;
    h->pid = getpid();
    h->next_chunk = 2;
    h->seq = 9;
    static struct ht_spill_rec sl[2 * W_CR];
    memset(sl, 0, sizeof sl);
    const uint64_t M = UINT64_MAX;
    unsigned k = 0;
    ht_spill_owner(&sl[k++], 7);
    put_rec(sl, &k, 0, HT_EV_ALLOC, 0, 0x100, 16, 0, 0x400000);
    /* wide seq 1 without its first half, after a compact record: torn */
    wide_second_half(sl, &k, 1, 0x200);
    ht_spill_owner(&sl[k++], 8);
    /* wide seq 2 directly after the owner slot: torn */
    wide_second_half(sl, &k, 2, 0x210);
    put_rec(sl, &k, 3, HT_EV_STORE, HT_EVF_SITE, 0x300, M, 0, 5); /* whole */
    /* wide seq 4 directly after that wide record: torn */
    wide_second_half(sl, &k, 4, 0x310);
    put_rec(sl, &k, 5, HT_EV_FREE, 0, 0x100, 0, 0, 0x400010);
    /* chunk 1 (seqs 8, 6, 7: a sorted copy), seq 6 wide after seq 8 */
    k = W_CR;
    ht_spill_owner(&sl[k++], 9);
    put_rec(sl, &k, 8, HT_EV_FREE, 0, 0x500, 0, 0, 0x400020);
    wide_second_half(sl, &k, 6, 0x220);
    put_rec(sl, &k, 7, HT_EV_ALLOC, 0, 0x500, 32, 0, 0x400030);
    assert_int_equal(ht_test_spill_write_raw(spill, h, sl, sizeof sl), 0);
    free(h);
    live_small_expect(db, spill, copy, 6,
                      7 + 3, /* every slot but the owners (chunk 0, 1) */
                      "0|alloc|7|256|16|0|4194304\n"
                      "3|store|8|768|-1|0|5\n"
                      "5|free|8|256|0|0|4194320\n"
                      "7|alloc|9|1280|32|0|4194352\n"
                      "8|free|9|1280|0|0|4194336\n",
                      "5|4|exited|1\n");
}

static void test_live_in_order(void **state)
{
    (void)state;
    live_case(0, 0, 1);
}

static void test_live_straggler(void **state)
{
    (void)state;
    live_case(1, 0, 2);
}

static void test_live_torn_unsorted(void **state)
{
    (void)state;
    live_case(0, 1, 3);
}

static int live_count_row(void *ctx, int ncol, const char *const *v,
                     const char *const *names)
{
    (void)ncol; (void)names;
    *(long *)ctx = atol(v[0]);
    return 0;
}

/* A live spill whose LIVE_NT chunks are full (LIVE_CR events each), its
 * process still running. */
static void ls_full(struct live_spill *ls, const char *spill)
{
    ls_create(ls, spill);
    for (unsigned c = 0; c < LIVE_NT; c++)
        for (unsigned i = 0; i < LIVE_CR; i++)
            ls_put(ls, c, i);
    ls->h->seq = 4ull * LIVE_CR + 1;
}

/* ls_full's process exits (ls unmapped), and its spill is ingested into st
 * in full. */
static void ls_ingest_full(struct live_spill *ls, ht_store *st, const char *spill)
{
    __atomic_store_n(&ls->h->state, HT_SPILL_EXITED, __ATOMIC_RELEASE);
    munmap(ls->h, ls->size);
    struct ht_ingest_result res;
    assert_int_equal(ht_store_ingest_spill(st, spill, NULL, 1, &res), HT_OK);
    assert_int_equal(res.events, 4 * LIVE_CR);
}

/* Abort (or a crash) after live steps: nothing committed, spill intact and
 * ingested in full later. */
static void test_live_abort(void **state)
{
    (void)state;
    char spill[300], db[300];
    snprintf(spill, sizeof spill, "%s/spill-abort.hts", dir);
    snprintf(db, sizeof db, "%s/abort.db", dir);
    struct live_spill ls;
    ls_full(&ls, spill);
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, &st), HT_OK);
    ht_ingest *ig = NULL;
    assert_int_equal(ht_store_ingest_begin(st, spill, &ig), HT_OK);
    assert_int_equal(step_some(ig), 4 * LIVE_CR);
    ht_store_ingest_abort(ig);
    long n = -1;
    assert_int_equal(ht_store_query(st, "SELECT count(*) FROM chunks", 1,
                                     live_count_row, &n), HT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(ht_store_query(st, "SELECT count(*) FROM runs", 1,
                                     live_count_row, &n), HT_OK);
    assert_int_equal(n, 0);
    assert_int_equal(access(spill, F_OK), 0);
    ls_ingest_full(&ls, st, spill);
    ht_store_close(st);
}

/* Chunk blobs must not waste most of an overflow page each: in a WITHOUT
 * ROWID table a row keeps at most ~a quarter page locally, so a blob a bit
 * over a page spilled a partly used overflow page per row (with 64 KiB
 * pages a 17 KB chunk took 64 KiB of file; with 16 KiB pages a 21,400 B
 * blob takes 2 KB + two overflow pages). A rowid table sizes the local part
 * so that overflow pages are full. */
static void test_chunk_blobs_packed(void **state)
{
    (void)state;
    char db[300];
    snprintf(db, sizeof db, "%s/pack.db", dir);
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, &st), HT_OK);
    ht_store_close(st);
    enum { ROWS = 64, BLOB = 21400 };
    static unsigned char blob[BLOB];
    uint32_t x = 12345;
    sqlite3 *h = NULL;
    sqlite3_stmt *ins = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h,
                         "INSERT INTO chunks VALUES(1,?,0,0,0,'cv1',?)", -1,
                         &ins, NULL),
                     SQLITE_OK);
    for (int i = 0; i < ROWS; i++) {
        for (size_t k = 0; k < BLOB; k++) /* incompressible */
            blob[k] = (unsigned char)((x = x * 1103515245u + 12345u) >> 24);
        sqlite3_bind_int(ins, 1, i);
        sqlite3_bind_blob(ins, 2, blob, BLOB, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    assert_int_equal(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_stmt *ps = NULL;
    assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA page_size", -1, &ps, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(ps), SQLITE_ROW);
    off_t page = sqlite3_column_int(ps, 0);
    sqlite3_finalize(ps);
    assert_int_equal(sqlite3_close(h), SQLITE_OK);
    struct stat sb;
    assert_int_equal(stat(db, &sb), 0);
    /* the blobs are 1.37 MB; the empty trace's tables take < 16 pages; a
     * wasted overflow page per row would add >= 64 pages */
    assert_true(sb.st_size < (off_t)ROWS * BLOB + 16 * page);
    unlink(db);
}

/* A batched insert writes 3 rows per statement and the rest at the flush:
 * 7 rows of every value kind (a short row's missing value NULL) arrive in
 * order with their rowids; a plain insert's flush is a no-op; a batch too
 * wide for SQLite's parameter limit is refused. */
static void test_insert_batch(void **state)
{
    (void)state;
    char db[300], got[256];
    snprintf(db, sizeof db, "%s/batch.db", dir);
    ht_store *st = NULL;
    ht_insert *ins = NULL, *plain = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, &st), HT_OK);
    assert_int_equal(ht_store_exec(st, "CREATE TABLE t(a, b, c, d)"), HT_OK);
    assert_int_equal(ht_store_insert_batch(st, "t", 4, 250, &ins), HT_EINVAL);
    assert_null(ins);
    assert_int_equal(ht_store_insert_batch(st, "t", 4, 3, &ins), HT_OK);
    assert_int_equal(ht_store_begin(st), HT_OK);
    static const char *const names[] = {"x", NULL, "z"};
    for (int i = 0; i < 7; i++) {
        if (i == 4) /* short: d is NULL */
            assert_int_equal(ht_store_insert_row(ins, "id", (int64_t)i, 0.5),
                             HT_OK);
        else
            assert_int_equal(ht_store_insert_row(ins, "idsn", (int64_t)i,
                                                 i * 0.25, names[i % 3]),
                             HT_OK);
        if (i == 5) { /* two full batches stepped, nothing buffered */
            query1(st, "SELECT count(*) FROM t", got);
            assert_string_equal(got, "6");
        }
    }
    query1(st, "SELECT count(*) FROM t", got);
    assert_string_equal(got, "6");
    assert_int_equal(ht_store_insert_flush(ins), HT_OK);
    assert_int_equal(ht_store_insert_flush(ins), HT_OK); /* nothing left */
    assert_int_equal(ht_store_insert_prepare(st, "INSERT INTO t VALUES(9,9,9,9)",
                                             &plain),
                     HT_OK);
    assert_int_equal(ht_store_insert_flush(plain), HT_OK);
    assert_int_equal(ht_store_insert_flush(NULL), HT_OK);
    assert_int_equal(ht_store_commit(st), HT_OK);
    query1(st, "SELECT group_concat(rowid || ':' || a || ':' || b || ':' ||"
               " coalesce(c, '-') || ':' || coalesce(d, '-'), ' ') FROM t",
           got);
    assert_string_equal(got, "1:0:0.0:x:- 2:1:0.25:-:- 3:2:0.5:z:-"
                             " 4:3:0.75:x:- 5:4:0.5:-:- 6:5:1.25:z:-"
                             " 7:6:1.5:x:-");
    ht_store_insert_free(ins);
    ht_store_insert_free(plain);
    ht_store_close(st);
    unlink(db);
}

/* The journal mode as another connection sees it. */
static void mode_of(const char *db, char *out, size_t cap)
{
    sqlite3 *c = NULL;
    sqlite3_stmt *q = NULL;
    out[0] = 0;
    assert_int_equal(sqlite3_open_v2(db, &c, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(c, "PRAGMA journal_mode", -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    snprintf(out, cap, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(c);
}

/* 300 rows of 16 KiB: more than the 2 MiB page cache, so the transaction
 * writes pages to the file before its commit (as a replay does) */
static void append_rows(ht_store *st)
{
    assert_int_equal(ht_store_exec(st, "WITH RECURSIVE n(i) AS (SELECT 1 UNION"
                                       " ALL SELECT i+1 FROM n WHERE i<300)"
                                       " INSERT INTO t SELECT randomblob(16384)"
                                       " FROM n"),
                     HT_OK);
}

/* After ht_test_kill_mid_txn (db's size before returned): a read-only open
 * rolls the hot journal back (sql answers want, db has its old size, the journal
 * is gone), and the next read-write open, returned, is in WAL. */
static ht_store *expect_rolled_back(const char *db, off_t before,
                                    const char *sql, const char *want)
{
    char got[256], jr[310];
    ht_store *st = NULL;
    struct stat after;
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &st), HT_OK);
    query1(st, sql, got);
    assert_string_equal(got, want);
    ht_store_close(st);
    assert_int_equal(stat(db, &after), 0);
    assert_int_equal(after.st_size, before);
    snprintf(jr, sizeof jr, "%s-journal", db);
    assert_int_not_equal(access(jr, F_OK), 0);
    assert_int_equal(ht_store_open(db, 0, &st), HT_OK);
    mode_of(db, got, sizeof got);
    assert_string_equal(got, "wal");
    return st;
}

/* ht_store_begin_append (DECISIONS 36): rollback-journal mode for the
 * transaction, WAL again after it; WAL throughout when another connection
 * has the trace open; a process killed mid-transaction leaves a hot journal
 * that a read-only open rolls back (the trace as before: its rows, its
 * size), and the next append transaction works. */
static void test_append_txn(void **state)
{
    (void)state;
    char db[300], got[256];
    snprintf(db, sizeof db, "%s/append.db", dir);
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, &st), HT_OK);
    assert_int_equal(ht_store_exec(st, "CREATE TABLE t(b)"), HT_OK);
    assert_int_equal(ht_store_exec(st, "INSERT INTO t VALUES(x'01')"), HT_OK);
    ht_store_close(st);
    mode_of(db, got, sizeof got);
    assert_string_equal(got, "wal");

    /* committed: each page once, then WAL again */
    assert_int_equal(ht_store_open(db, 0, &st), HT_OK);
    assert_int_equal(ht_store_begin_append(st), HT_OK);
    mode_of(db, got, sizeof got);
    assert_string_equal(got, "delete");
    append_rows(st);
    assert_int_equal(ht_store_commit(st), HT_OK);
    mode_of(db, got, sizeof got);
    assert_string_equal(got, "wal");
    query1(st, "SELECT count(*) FROM t", got);
    assert_string_equal(got, "301");
    /* rolled back: WAL again too */
    assert_int_equal(ht_store_begin_append(st), HT_OK);
    append_rows(st);
    ht_store_rollback(st);
    mode_of(db, got, sizeof got);
    assert_string_equal(got, "wal");
    query1(st, "SELECT count(*) FROM t", got);
    assert_string_equal(got, "301");

    /* another connection open: WAL throughout, at once (no busy wait) */
    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open_v2(db, &other, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "SELECT count(*) FROM t", NULL, NULL,
                                  NULL),
                     SQLITE_OK);
    time_t t0 = time(NULL);
    assert_int_equal(ht_store_begin_append(st), HT_OK);
    assert_true(time(NULL) - t0 < 5); /* the busy timeout is 10 s */
    mode_of(db, got, sizeof got);
    assert_string_equal(got, "wal");
    append_rows(st);
    assert_int_equal(ht_store_commit(st), HT_OK);
    sqlite3_close(other);
    query1(st, "SELECT count(*) FROM t", got);
    assert_string_equal(got, "601");
    ht_store_close(st);

    /* killed mid-transaction, after pages reached the file */
    off_t before = ht_test_kill_mid_txn(db, NULL);
    /* the next read-write open is in WAL, and appends again */
    st = expect_rolled_back(db, before, "SELECT count(*) FROM t", "601");
    assert_int_equal(ht_store_begin_append(st), HT_OK);
    append_rows(st);
    assert_int_equal(ht_store_commit(st), HT_OK);
    query1(st, "SELECT count(*) FROM t", got);
    assert_string_equal(got, "901");
    ht_store_close(st);
    unlink(db);
}

/* The trace's journal mode (as another connection sees it) and st's
 * PRAGMA synchronous ("1" NORMAL, "2" FULL) are mode and sync. */
static void expect_journal(const char *db, ht_store *st, const char *mode,
                           const char *sync)
{
    char got[256];
    mode_of(db, got, sizeof got);
    assert_string_equal(got, mode);
    query1(st, "PRAGMA synchronous", got);
    assert_string_equal(got, sync);
}

/* A trace this handle created is in rollback-journal mode (DECISIONS 26)
 * until its first transaction ends; an append transaction on it changes
 * nothing (the same state, synchronous NORMAL), and its commit switches to
 * WAL as an append transaction's does (store.c W1). */
static void test_first_txn_journal(void **state)
{
    (void)state;
    char db[300], got[256];
    snprintf(db, sizeof db, "%s/first.db", dir);
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, &st), HT_OK);
    expect_journal(db, st, "delete", "1");
    assert_int_equal(ht_store_begin_append(st), HT_OK);
    expect_journal(db, st, "delete", "1");
    assert_int_equal(ht_store_exec(st, "CREATE TABLE t(b)"), HT_OK);
    append_rows(st);
    assert_int_equal(ht_store_commit(st), HT_OK);
    expect_journal(db, st, "wal", "1");
    /* the next append transaction leaves WAL for its own time */
    assert_int_equal(ht_store_begin_append(st), HT_OK);
    expect_journal(db, st, "delete", "2");
    append_rows(st);
    ht_store_rollback(st);
    expect_journal(db, st, "wal", "1");
    query1(st, "SELECT count(*) FROM t", got);
    assert_string_equal(got, "300");
    ht_store_close(st);

    /* created, nothing written: WAL at the close */
    unlink(db);
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, &st), HT_OK);
    ht_store_close(st);
    mode_of(db, got, sizeof got);
    assert_string_equal(got, "wal");
    unlink(db);
}

/* A first ingest killed mid-transaction (a new trace: rollback-journal
 * mode, DECISIONS 26): a read-only open rolls its hot journal back (the
 * trace as created: no run, its size), the next read-write open is in WAL,
 * and the spill, left in place, is ingested in full. */
static void test_first_ingest_killed(void **state)
{
    (void)state;
    char spill[300], db[300], got[256];
    snprintf(spill, sizeof spill, "%s/spill-killed.hts", dir);
    snprintf(db, sizeof db, "%s/killed.db", dir);
    struct live_spill ls;
    ls_full(&ls, spill);
    off_t before = ht_test_kill_mid_txn(db, spill);
    ht_store *st = expect_rolled_back(
        db, before,
        "SELECT count(*) FROM runs UNION ALL"
        " SELECT count(*) FROM sqlite_master WHERE name='t'", "0;0");
    ls_ingest_full(&ls, st, spill);
    query1(st, "SELECT count(*) FROM runs", got);
    assert_string_equal(got, "1");
    ht_store_close(st);
    unlink(db);
}

/* In a child that cannot write db or its directory, ht_store_open(db,
 * HT_STORE_READONLY): its result into *code and ht_store_last_error() into
 * msg (cap bytes). As root (CI) the child drops to nobody (65534), who
 * cannot write root's files; as another user the caller has made the files
 * and directory read-only. Returns 0, or -1 when the child could not drop
 * to nobody. */
static int open_unprivileged(const char *db, ht_err *code, char *msg, size_t cap)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        if (geteuid() == 0 &&
            (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0))
            _exit(77);
        ht_store *st = NULL;
        ht_err e = ht_store_open(db, HT_STORE_READONLY, &st);
        ht_store_close(st);
        char buf[1024 + sizeof e] = {0};
        memcpy(buf, &e, sizeof e);
        snprintf(buf + sizeof e, sizeof buf - sizeof e, "%s", ht_store_last_error());
        _exit(write(fds[1], buf, sizeof buf) == (ssize_t)sizeof buf ? 0 : 1);
    }
    close(fds[1]);
    char buf[1024 + sizeof *code];
    ssize_t n = read(fds[0], buf, sizeof buf);
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        return -1;
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(n, (ssize_t)sizeof buf);
    memcpy(code, buf, sizeof *code);
    buf[sizeof buf - 1] = 0;
    snprintf(msg, cap, "%s", buf + sizeof *code);
    return 0;
}

/* A hot journal that the reader cannot roll back (it can read the trace
 * and its directory, but write neither): a read-only open says so
 * (HT_EPERM: what happened, what to do), where it used to go on and fail
 * with SQLite's "attempt to write a readonly database"; the trace is left
 * as it is, and a user who can write it then opens it as before. */
static void test_hot_journal_unwritable(void **state)
{
    (void)state;
    char sub[300], db[320], jr[330], msg[1100];
    snprintf(sub, sizeof sub, "%s/ro", dir);
    snprintf(db, sizeof db, "%s/t.db", sub);
    snprintf(jr, sizeof jr, "%s-journal", db);
    assert_int_equal(mkdir(sub, 0755), 0);
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, &st), HT_OK);
    assert_int_equal(ht_store_exec(st, "CREATE TABLE t(b);"
                                       "INSERT INTO t VALUES(x'01')"), HT_OK);
    ht_store_close(st);
    off_t before = ht_test_kill_mid_txn(db, NULL);
    struct stat mid, now;
    assert_int_equal(stat(db, &mid), 0);
    /* root: readable by nobody (the test's directory 0700 -> 0711);
     * another user: read-only to the user too */
    int root = geteuid() == 0;
    mode_t fmode = root ? 0644 : 0444, dmode = root ? 0755 : 0555;
    assert_int_equal(chmod(dir, 0711), 0);
    assert_int_equal(chmod(db, fmode), 0);
    assert_int_equal(chmod(jr, fmode), 0);
    assert_int_equal(chmod(sub, dmode), 0);
    ht_err code = HT_OK;
    int dropped = open_unprivileged(db, &code, msg, sizeof msg);
    assert_int_equal(chmod(sub, 0700), 0);
    assert_int_equal(chmod(db, 0600), 0);
    assert_int_equal(chmod(jr, 0600), 0);
    assert_int_equal(chmod(dir, 0700), 0);
    if (dropped != 0) {
        print_message("skipped: cannot setuid to nobody (65534) here\n");
        skip();
    }
    assert_int_equal(code, HT_EPERM);
    assert_non_null(strstr(msg, db));
    assert_non_null(strstr(msg, "was killed while writing this trace"));
    assert_non_null(strstr(msg, "needs write permission on the trace and its directory"));
    assert_non_null(strstr(msg, "heaptrail sql "));
    /* nothing changed: the journal is still there, the file as it was */
    assert_int_equal(stat(jr, &now), 0);
    assert_int_equal(stat(db, &now), 0);
    assert_int_equal(now.st_size, mid.st_size);
    st = expect_rolled_back(db, before, "SELECT count(*) FROM t", "1");
    ht_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spill_v2_slots),
        cmocka_unit_test(test_spill_v1),
        cmocka_unit_test(test_ingest_merge),
        cmocka_unit_test(test_torn_tail_and_incomplete),
        cmocka_unit_test(test_torn_counted_in_merge),
        cmocka_unit_test(test_torn_rule),
        cmocka_unit_test(test_spill_list),
        cmocka_unit_test(test_background_free),
        cmocka_unit_test(test_bad_spill),
        cmocka_unit_test(test_bad_trace_files),
        cmocka_unit_test(test_live_in_order),
        cmocka_unit_test(test_live_wide),
        cmocka_unit_test(test_wide_without_first_half),
        cmocka_unit_test(test_live_straggler),
        cmocka_unit_test(test_live_torn_unsorted),
        cmocka_unit_test(test_live_torn_range),
        cmocka_unit_test(test_live_abort),
        cmocka_unit_test(test_chunk_blobs_packed),
        cmocka_unit_test(test_insert_batch),
        cmocka_unit_test(test_append_txn),
        cmocka_unit_test(test_first_txn_journal),
        cmocka_unit_test(test_first_ingest_killed),
        cmocka_unit_test(test_hot_journal_unwritable),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
