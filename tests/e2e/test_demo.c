/* E2E: the demo sample (samples/demo/leaky.c) recorded, replayed, reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "e2e_util.h"

static void test_demo_exact(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("demo");
    char db[512];
    snprintf(db, sizeof db, "%s/trace.db", dir);
    char *run[] = {HT_BIN_DIR "/heaptrail", "run", "-o", db, "--",
                   HT_SAMPLE_DIR "/leaky", NULL};
    char out[65536];
    assert_int_equal(e2e_run(run, "HEAPTRAIL_SNAPSHOT=1", out, sizeof out), 0);
    assert_string_equal(out, "built 100 nodes\ndemo done\n");

    char *rep[] = {HT_BIN_DIR "/heaptrail", "report", db, NULL};
    assert_int_equal(e2e_run(rep, NULL, out, sizeof out), 0);
    assert_non_null(strstr(out, "201 allocations (8,196 bytes)"));
    assert_non_null(strstr(out, "181 frees"));
    assert_non_null(strstr(out, "peak 8,196 bytes in 201 blocks"));
    assert_non_null(strstr(out, "live at exit: 410 bytes in 20 blocks"));
    assert_non_null(strstr(out, "leaky.c:21:22 push")); /* n = malloc(...) */
    assert_non_null(strstr(out, "leaky.c:24:15 push")); /* strdup(buf) */
    /* with the exit snapshot's edges, memcheck's classification: the list
     * head is definitely lost, the 9 nodes and 10 names behind it indirectly */
    assert_non_null(strstr(out, "definitely lost: 32 bytes in 1 blocks"));
    assert_non_null(strstr(out, "indirectly lost: 378 bytes in 19 blocks"));

    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &st), HT_OK);
    assert_string_equal(e2e_sql1(st, "SELECT count(*) FROM runs"), "1");
    assert_string_equal(e2e_sql1(st, "SELECT status||','||complete||','||exit_status FROM runs"),
                        "exited,1,0");
    assert_string_equal(e2e_sql1(st, "SELECT count(*) FROM events WHERE kind='alloc'"), "201");
    assert_string_equal(e2e_sql1(st, "SELECT count(*) FROM events WHERE kind='free'"), "181");
    assert_string_equal(e2e_sql1(st, "SELECT live_blocks||','||live_bytes FROM run_stats"), "20,410");
    /* every allocation event joins to a symbolised source line */
    assert_string_equal(e2e_sql1(st,
        "SELECT count(*) FROM events e LEFT JOIN pcs p ON p.run_id=e.run_id AND p.pc=e.pc"
        " WHERE e.kind='alloc' AND p.line IS NULL"), "0");
    ht_store_close(st);

    /* the events table loads into the plain sqlite3 shell as an extension */
    char *shell[] = {"/usr/bin/sqlite3", db, ".load " HT_LIB_DIR "/libheaptrail_sqlite",
                     "SELECT kind, count(*) FROM events WHERE kind IN ('alloc','free')"
                     " GROUP BY kind ORDER BY kind", NULL};
    assert_int_equal(e2e_run(shell, NULL, out, sizeof out), 0);
    assert_string_equal(out, "alloc|201\nfree|181\n");
    e2e_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
