/* E2E: thread stacks and registers as exit-snapshot roots
 * (samples/stackroots.c): blocks held only by main's local at exit() and by
 * a running thread's local are reachable, the dropped one definitely lost,
 * as memcheck and LeakSanitizer classify them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "e2e_util.h"

static void check(const char *snapshot, const char *want_leaks,
                  const char *want_stack_roots)
{
    const char *dir = e2e_tmpdir("stackroots");
    char db[512], env[64], out[4096];
    snprintf(db, sizeof db, "%s/trace.db", dir);
    snprintf(env, sizeof env, "HEAPTRAIL_SNAPSHOT=%s", snapshot);
    char *run[] = {HT_BIN_DIR "/heaptrail", "run", "-o", db, "--",
                   HT_SAMPLE_DIR "/stackroots", NULL};
    assert_int_equal(e2e_run(run, env, out, sizeof out), 0);
    assert_string_equal(out, "stackroots done\n");
    char *rep[] = {HT_BIN_DIR "/heaptrail", "replay", db, NULL};
    assert_int_equal(e2e_run(rep, NULL, out, sizeof out), 0);
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &st), HT_OK);
    assert_string_equal(e2e_sql1(st, "SELECT status||','||exit_status FROM runs"),
                        "exited,0");
    assert_string_equal(e2e_sql1(st,
        "SELECT group_concat(category || ',' || blocks || ',' || bytes, ' ')"
        " FROM (SELECT * FROM leak_summary ORDER BY category)"), want_leaks);
    /* stack ROOTs (c = HT_ROOT_STACK, stored as -1): the exiting thread's
     * registers and stack, and the running thread's stack */
    assert_string_equal(e2e_sql1(st,
        "SELECT count(*) FROM events WHERE kind='root' AND c=-1"),
        want_stack_roots);
    ht_store_close(st);
    e2e_rmtree(dir);
}

static void test_stack_roots(void **state)
{
    (void)state;
    check("1", "definite,1,16 reachable,2,80", "3");
}

/* without the snapshot there are no edges: every live block is lost */
static void test_no_snapshot(void **state)
{
    (void)state;
    check("0", "definite,3,96", "0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_stack_roots),
                                       cmocka_unit_test(test_no_snapshot)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
