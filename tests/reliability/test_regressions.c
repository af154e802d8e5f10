#define _GNU_SOURCE
/* Regression tests for bugs found by fuzzing (docs/RELIABILITY.md, "Bugs
 * found and fixed"); run under ASan by run-tests.sh, where a leak fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heaptrail/replay.h"
#include "heaptrail/spill.h"
#include "heaptrail/store.h"
#include "tests/support/spill_write.h"

static char dir[64];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb; (void)flag; (void)f;
    return remove(p);
}

static int first_col(void *ctx, int ncol, const char *const *v,
                     const char *const *names)
{
    (void)ncol; (void)names;
    snprintf(ctx, 256, "%s", v[0] ? v[0] : "NULL");
    return 0;
}

/* A fresh dir with t.db's spill directory; db and spill get the trace's
 * and the spill file's paths; returns a one-chunk header of 8-record chunks
 * (the caller frees it). */
static struct ht_spill_header *new_spill(char db[128], char spill[192])
{
    snprintf(dir, sizeof dir, "/tmp/ht-test-regress-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char sdir[128];
    snprintf(db, 128, "%s/t.db", dir);
    snprintf(sdir, sizeof sdir, "%s/t.db.spill", dir);
    snprintf(spill, 192, "%s/spill-999999-1.hts", sdir);
    assert_int_equal(mkdir(sdir, 0700), 0);
    struct ht_spill_header *h = ht_test_spill_header(8, 1, "/bin/true");
    assert_non_null(h);
    h->next_chunk = 1;
    return h;
}

/* Bug 5: two FREE halves of moving reallocs of the same address with no
 * REALLOC in between: the first pending old block was overwritten in the
 * engine's pending map and leaked. Both blocks must be released and
 * reported as freed objects. */
static void test_repeated_realloc_free(void **state)
{
    (void)state;
    char db[128], spill[192];
    struct ht_spill_header *h = new_spill(db, spill);
    struct ht_rec recs[8];
    memset(recs, 0, sizeof recs);
    const struct { unsigned kind; uint64_t size; uint16_t flags; } ev[] = {
        {HT_EV_ALLOC, 32, 0}, {HT_EV_FREE, 0, HT_EVF_REALLOC},
        {HT_EV_ALLOC, 48, 0}, {HT_EV_FREE, 0, HT_EVF_REALLOC},
    };
    for (size_t i = 0; i < 4; i++) {
        recs[i].seq = i;
        recs[i].kind = (uint8_t)ev[i].kind;
        recs[i].a = 0x1000;
        recs[i].b = ev[i].size;
        recs[i].flags = ev[i].flags;
        recs[i].d = 0x400000;
        recs[i].tid = 1;
    }
    assert_int_equal(ht_test_spill_write(spill, h, recs, sizeof recs), 0);
    free(h);
    ht_store *st = NULL;
    struct ht_ingest_result res;
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, &st), HT_OK);
    assert_int_equal(ht_store_ingest_spill(st, spill, NULL, 0, &res), HT_OK);
    struct ht_replay_result rr;
    assert_int_equal(ht_replay_run(st, res.run_id, NULL, &rr), HT_OK);
    assert_int_equal(rr.objects, 2);
    assert_int_equal(rr.live_at_end, 0);
    char out[256];
    assert_int_equal(ht_store_query(st, "SELECT group_concat(size||':'||alloc_seq||':'"
                                        "||free_seq, ',') FROM (SELECT * FROM objects"
                                        " ORDER BY alloc_seq)", 1, first_col, out),
                     HT_OK);
    /* the first block is released when its address is reused for a second
     * moving realloc (seq 3), the second at the end of the run (last seq 3) */
    assert_string_equal(out, "32:0:3,48:2:3");
    ht_store_close(st);
    assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* Bug 6: a spill header whose header_size is not a multiple of the slots'
 * alignment made the ingest read misaligned records (UBSan, fuzz_spill).
 * The header is refused as corrupt; nothing is ingested. */
static void test_misaligned_header_size(void **state)
{
    (void)state;
    char db[128], spill[192];
    struct ht_spill_header *h = new_spill(db, spill);
    h->header_size = HT_SPILL_HEADER_SIZE - 15;
    struct ht_rec recs[8];
    memset(recs, 0, sizeof recs);
    recs[0] = (struct ht_rec){.seq = 0, .kind = HT_EV_ALLOC, .a = 0x1000,
                              .b = 32, .d = 0x400000, .tid = 1};
    assert_int_equal(ht_test_spill_write(spill, h, recs, sizeof recs), 0);
    free(h);
    ht_store *st = NULL;
    struct ht_ingest_result res;
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, &st), HT_OK);
    assert_int_equal(ht_store_ingest_spill(st, spill, NULL, 0, &res),
                     HT_ECORRUPT);
    assert_non_null(strstr(ht_store_last_error(), "spill header is corrupt"));
    ht_store_close(st);
    assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repeated_realloc_free),
        cmocka_unit_test(test_misaligned_header_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
