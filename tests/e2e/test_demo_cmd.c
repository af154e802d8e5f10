/* E2E: `heaptrail demo` builds samples/demo/tour.c, records, replays and
 * reports it; every finding the tour plants is checked exactly (the counts
 * are derived in the comment at the top of tour.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "e2e_util.h"

static char out[1 << 16];

static void test_demo_command(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("democmd");
    char *demo[] = {HT_BIN_DIR "/heaptrail", "demo", "-o", (char *)dir, NULL};
    assert_int_equal(e2e_run(demo, NULL, out, sizeof out), 0);
    /* the program's own output, then the text report */
    assert_non_null(strstr(out, "tour done: cycle 1, refcount 2, holder second\n"));
    assert_non_null(strstr(out, "20,012 allocations (1,280,520 bytes), 19,601 frees;"
                                " peak 1,280,504 bytes in 20,011 blocks"));
    assert_non_null(strstr(out, "live at exit: 26,104 bytes in 411 blocks"));
    assert_non_null(strstr(out, "definitely lost: 356 bytes in 7 blocks"));
    assert_non_null(strstr(out, "lost in cycles: 48 bytes in 3 blocks (1 cycle)"));
    assert_non_null(strstr(out, "report.html"));

    char db[512], html[512];
    snprintf(db, sizeof db, "%s/trace.db", dir);
    snprintf(html, sizeof html, "%s/report.html", dir);
    struct stat sb;
    assert_int_equal(stat(html, &sb), 0);
    assert_true(sb.st_size > 10000);

    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &st), HT_OK);
    /* leak categories: 5 names + the overwritten buffer + the refcounted
     * object are definite; the 3-node cycle; 400 kept blocks + the second
     * buffer are reachable through globals */
    assert_string_equal(e2e_sql1(st,
        "SELECT group_concat(category||':'||blocks||':'||bytes, ' ') FROM"
        " (SELECT * FROM leak_summary ORDER BY category)"),
        "cycle:3:48 definite:7:356 reachable:401:25700");
    assert_string_equal(e2e_sql1(st,
        "SELECT count(*)||','||sum(members)||','||sum(bytes) FROM cycles"), "1,3,48");
    assert_string_equal(e2e_sql1(st, "SELECT count(*) FROM cycle_edges"), "3");
    /* the first holder buffer was lost by the store that overwrote it */
    assert_string_equal(e2e_sql1(st,
        "SELECT group_concat(lost_by) FROM objects WHERE leak_kind='definite'"
        " AND size=100"), "store");
    /* refcount API calls: obj_incref twice, obj_decref three times */
    assert_string_equal(e2e_sql1(st, "SELECT count(*) FROM events WHERE kind='incref'"), "2");
    assert_string_equal(e2e_sql1(st, "SELECT count(*) FROM events WHERE kind='decref'"), "3");
    /* obj_new's objects: the good one freed at balance 0, the bad one
     * leaked at +1 (the missing decref) */
    assert_string_equal(e2e_sql1(st,
        "SELECT group_concat(o.refcnt||':'||COALESCE(o.leak_kind,'freed'), ' ')"
        " FROM (SELECT * FROM objects ORDER BY alloc_seq) o JOIN pcs p ON"
        " p.run_id=o.run_id AND p.pc=o.pc WHERE p.func='obj_new'"),
        "0:freed 1:definite");
    /* the refcount finding: the bad object lost with one reference */
    assert_string_equal(e2e_sql1(st,
        "SELECT group_concat(kind) FROM errors WHERE kind LIKE 'refcount%'"),
        "refcount_not_zero");
    /* the report replays with a snapshot every events/500 events */
    assert_string_equal(e2e_sql1(st,
        "SELECT (SELECT count(*) FROM frag_snapshots WHERE kind='periodic') ="
        " (SELECT events / (events / 500) FROM run_stats)"), "1");
    /* pool map: at the peak all 20011 blocks live; at exit the 400 kept
     * 64-byte blocks pin the 79 pools the 20000 needed, in 2 arenas; plus
     * one pool each for the 16-, 48- and 112-byte classes */
    assert_string_equal(e2e_sql1(st,
        "SELECT sum(used_blocks) FROM pool_map WHERE kind='peak'"), "20011");
    assert_string_equal(e2e_sql1(st,
        "SELECT count(*)||','||sum(used_blocks) FROM pool_map WHERE kind='exit'"
        " AND size_class=3"), "79,400");
    assert_string_equal(e2e_sql1(st,
        "SELECT count(*)||','||count(DISTINCT arena) FROM pool_map WHERE kind='exit'"
        " AND size_class>=0"), "82,2");
    ht_store_close(st);

    /* a second run into the same directory starts from a fresh trace */
    assert_int_equal(e2e_run(demo, NULL, out, sizeof out), 0);
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &st), HT_OK);
    assert_string_equal(e2e_sql1(st, "SELECT count(*) FROM runs"), "1");
    ht_store_close(st);
    e2e_rmtree(dir);
}

static void test_demo_bad_args(void **state)
{
    (void)state;
    char *bad[] = {HT_BIN_DIR "/heaptrail", "demo", "--bogus", NULL};
    assert_int_equal(e2e_run(bad, NULL, out, sizeof out), 2);
    char *nodir[] = {HT_BIN_DIR "/heaptrail", "demo", "-o",
                     "/nonexistent-dir/x/y", NULL};
    assert_int_equal(e2e_run(nodir, NULL, out, sizeof out), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_command),
        cmocka_unit_test(test_demo_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
