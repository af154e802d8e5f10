#define _GNU_SOURCE
/* E2E: an ingest that fails is reported in exactly one line, by `heaptrail
 * run` whose live ingest fails at its finish (the spill is kept, the
 * offline ingest retries it and reports) and by `heaptrail ingest`; the
 * failure leaves the trace as it was and the spill whole, so a later
 * ingest succeeds. The failure: a trigger refusing the update of a runs
 * row, which the ingest makes at its commit (after the live steps). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_util.h"
#include "heaptrail/store.h"

#define HT HT_BIN_DIR "/heaptrail"

static const char *runs(const char *db)
{
    ht_store *st = NULL;
    static char out[64];
    assert_int_equal(ht_store_open(db, 0, &st), HT_OK);
    snprintf(out, sizeof out, "%s", e2e_sql1(st, "SELECT count(*) FROM runs"));
    ht_store_close(st);
    return out;
}

static size_t count(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, what)); p++)
        n++;
    return n;
}

static void test_failed_ingest_reported_once(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("ingerr");
    char db[512], sdir[600], out[256], err[8192], want[2048];
    snprintf(db, sizeof db, "%s/t.db", dir);
    snprintf(sdir, sizeof sdir, "%s.spill", db);
    char *first[] = {HT, "run", "-o", db, "--", HT_SAMPLE_DIR "/churn",
                     "1000", NULL};
    assert_int_equal(e2e_run(first, NULL, out, sizeof out), 0);
    assert_string_equal(runs(db), "1");
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, 0, &st), HT_OK);
    assert_int_equal(ht_store_exec(st, "CREATE TRIGGER no_more BEFORE UPDATE"
                                       " ON runs BEGIN SELECT RAISE(ABORT,"
                                       " 'no more runs'); END"), HT_OK);
    ht_store_close(st);

    /* heaptrail run: live ingest (long enough a program for steps to merge
     * records while it runs), failing at its finish */
    char *run[] = {HT, "run", "-v", "-o", db, "--", HT_SAMPLE_DIR "/churn",
                   "2000000", NULL};
    err[0] = 0;
    assert_int_equal(e2e_run2(run, NULL, out, sizeof out, err, sizeof err),
                     1);
    assert_string_equal(out, "churn 2000000\n");
    const char *spill = e2e_find_spill(sdir);
    assert_non_null(spill);
    snprintf(want, sizeof want, "heaptrail: cannot ingest %s: storing run: "
             "no more runs (SQL error); the spill is kept\n", spill);
    assert_int_equal(strncmp(err, want, strlen(want)), 0);
    const char *rest = err + strlen(want);
    unsigned long long merged = 0;
    assert_int_equal(sscanf(rest, "heaptrail: %llu records merged while the"
                            " program ran (live ingest)", &merged), 1);
    assert_true(merged > 0); /* the live path failed, not only the retry */
    assert_int_equal(count(err, "\n"), 2);
    assert_int_equal(count(err, "cannot ingest"), 1);
    assert_string_equal(runs(db), "1");

    /* heaptrail ingest: one line too (the error stops the ingest loop and
     * was printed by the per-spill report) */
    char *ing[] = {HT, "ingest", db, NULL};
    err[0] = 0;
    int rc = e2e_run2(ing, NULL, out, sizeof out, err, sizeof err);
    assert_int_not_equal(rc, 0);
    assert_string_equal(err, want);
    assert_string_equal(runs(db), "1");

    /* the spill was kept whole: without the trigger it ingests */
    assert_int_equal(ht_store_open(db, 0, &st), HT_OK);
    assert_int_equal(ht_store_exec(st, "DROP TRIGGER no_more"), HT_OK);
    ht_store_close(st);
    err[0] = 0;
    assert_int_equal(e2e_run2(ing, NULL, out, sizeof out, err, sizeof err),
                     0);
    assert_string_equal(err, "");
    assert_string_equal(runs(db), "2");
    assert_null(e2e_find_spill(sdir));
    e2e_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failed_ingest_reported_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
