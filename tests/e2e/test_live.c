#define _GNU_SOURCE
/* E2E: the live ingest (ht_store_ingest_begin/step/finish, as `heaptrail
 * run` does it, docs/DECISIONS.md 18) of real recordings - one thread, 4
 * and 8 threads, a signal handler that allocates, a program SIGKILLed
 * mid-run - stores a chunks table byte-identical to an offline ingest of a
 * copy of the same final spill, with the same run figures. And `heaptrail
 * run` still handles a program that execs and one that never records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "e2e_util.h"
#include "heaptrail/store.h"
#include "tests/support/live_util.h"

#define HT HT_BIN_DIR "/heaptrail"

static int dump_runs(ht_store *st, char **out)
{
    struct ht_test_dump d = {0};
    ht_err e = ht_store_query(st, "SELECT events, torn, status, complete, "
                              "exit_status, signal, overflow_events FROM runs",
                              1, ht_test_dump_row, &d);
    *out = d.s;
    return e == HT_OK && d.s ? 0 : -1;
}

/* Record prog (argv) with HEAPTRAIL_TRACE in a fresh directory, ingesting
 * its spill live while it runs; with kill_ready, SIGKILL it once it printed
 * "ready" and a step merged something. Then compare with the offline
 * ingest of a copy of the final spill. Returns the slots merged before the
 * program ended; *redone = the live result's redone flag. */
static uint64_t live_vs_offline(const char *tag, char *const argv[],
                                int kill_ready, int *redone)
{
    const char *dir = e2e_tmpdir(tag);
    char db[512], sdir[600], env[600], spill[1024] = "", copy[600], off[600];
    snprintf(db, sizeof db, "%s/live.db", dir);
    snprintf(sdir, sizeof sdir, "%s.spill", db);
    snprintf(env, sizeof env, "HEAPTRAIL_TRACE=%s", db);
    snprintf(copy, sizeof copy, "%s/copy.hts", dir);
    snprintf(off, sizeof off, "%s/off.db", dir);
    int devnull = open("/dev/null", O_WRONLY);
    int out_fd;
    pid_t pid = e2e_spawn(argv, env, devnull, &out_fd);
    close(devnull);
    if (kill_ready) {
        char buf[16] = "";
        assert_true(read(out_fd, buf, 6) == 6);
        assert_memory_equal(buf, "ready\n", 6);
    }
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, &st), HT_OK);
    ht_ingest *ig = NULL;
    uint64_t live = 0;
    int status = 0, killed = 0;
    for (long rounds = 0;; rounds++) {
        assert_true(rounds < 60000); /* 2 min */
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
        const char *sp;
        if (!ig && (sp = e2e_find_spill(sdir))) {
            snprintf(spill, sizeof spill, "%s", sp);
            ht_err e = ht_store_ingest_begin(st, spill, &ig);
            /* ECORRUPT/ETRUNC: the recorder is still creating it */
            assert_true(e == HT_OK || e == HT_ECORRUPT || e == HT_ETRUNC);
        }
        uint64_t merged = 0;
        if (ig)
            assert_int_equal(ht_store_ingest_step(ig, &merged), HT_OK);
        live += merged;
        if (kill_ready && live && !killed) {
            assert_int_equal(kill(pid, SIGKILL), 0);
            killed = 1;
        }
        if (!merged) {
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
    }
    close(out_fd);
    if (!ig) { /* ended before a step: the live path with nothing merged */
        const char *sp = e2e_find_spill(sdir);
        assert_non_null(sp);
        snprintf(spill, sizeof spill, "%s", sp);
        assert_int_equal(ht_store_ingest_begin(st, spill, &ig), HT_OK);
    }
    struct ht_run_end end = {.known = 1, .exited = WIFEXITED(status),
                             .status = WIFEXITED(status) ? WEXITSTATUS(status)
                                                         : WTERMSIG(status)};
    if (kill_ready)
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    else
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(ht_test_copy_sparse(spill, copy), 0);
    struct ht_ingest_result res;
    assert_int_equal(ht_store_ingest_finish(ig, &end, &res), HT_OK);
    *redone = res.redone;
    assert_true(res.events > 0);
    print_message("%s: %llu events, %llu merged while it ran%s\n", tag,
                  (unsigned long long)res.events, (unsigned long long)live,
                  res.redone ? ", merge redone" : "");

    ht_store *st2 = NULL;
    assert_int_equal(ht_store_open(off, HT_STORE_CREATE, &st2), HT_OK);
    struct ht_ingest_result r2;
    assert_int_equal(ht_store_ingest_spill(st2, copy, &end, 1, &r2), HT_OK);
    assert_int_equal(res.events, r2.events);
    char *ca = ht_test_chunks_dump(st, res.run_id);
    char *cb = ht_test_chunks_dump(st2, r2.run_id);
    assert_non_null(ca);
    assert_non_null(cb);
    assert_true(strlen(ca) > 100);
    assert_string_equal(ca, cb);
    free(ca);
    free(cb);
    char *ra = NULL, *rb = NULL;
    assert_int_equal(dump_runs(st, &ra), 0);
    assert_int_equal(dump_runs(st2, &rb), 0);
    assert_string_equal(ra, rb);
    free(ra);
    free(rb);
    ht_store_close(st);
    ht_store_close(st2);
    e2e_rmtree(dir);
    return live;
}

static void test_live_one_thread(void **state)
{
    (void)state;
    char *argv[] = {HT_SAMPLE_DIR "/churn", "2000000", NULL};
    int redone = 1;
    live_vs_offline("live1", argv, 0, &redone);
    /* one recording thread writes in seq order: never a straggler */
    assert_int_equal(redone, 0);
}

static void test_live_threads(void **state)
{
    (void)state;
    int redone;
    char *four[] = {HT_SAMPLE_DIR "/threads", NULL};
    live_vs_offline("live4", four, 0, &redone);
    char *eight[] = {HT_SAMPLE_DIR "/stress8", NULL};
    live_vs_offline("live8", eight, 0, &redone);
}

static void test_live_signal_handler(void **state)
{
    (void)state;
    int redone;
    char *argv[] = {HT_SAMPLE_DIR "/sigalloc", NULL};
    live_vs_offline("livesig", argv, 0, &redone);
}

static void test_live_sigkill(void **state)
{
    (void)state;
    int redone;
    char *argv[] = {HT_SAMPLE_DIR "/killme", NULL};
    assert_true(live_vs_offline("livekill", argv, 1, &redone) >= 5000);
}

static const char *run_sql(const char *db, const char *sql)
{
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &st), HT_OK);
    static char v[256];
    snprintf(v, sizeof v, "%s", e2e_sql1(st, sql));
    ht_store_close(st);
    return v;
}

/* heaptrail run of a program that execs an uninstrumented one, and of one
 * that never records (no spill): as before the live ingest. */
static void test_run_exec_and_no_spill(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("liverun");
    char db[512];
    snprintf(db, sizeof db, "%s/exec.db", dir);
    char *ex[] = {HT, "run", "-o", db, "--", HT_SAMPLE_DIR "/exec", NULL};
    assert_int_equal(e2e_run(ex, NULL, NULL, 0), 0);
    assert_string_equal(run_sql(db, "SELECT count(*) || ' ' || status || ' ' || "
                                    "complete || ' ' || exit_status FROM runs"),
                        "1 execed 1 0");
    assert_string_equal(run_sql(db, "SELECT count(*) FROM events WHERE kind='alloc'"
                                    " AND size IN (10, 20)"), "2");
    snprintf(db, sizeof db, "%s/none.db", dir);
    char *no[] = {HT, "run", "-o", db, "--", "/bin/true", NULL};
    assert_int_equal(e2e_run(no, NULL, NULL, 0), 0);
    assert_string_equal(run_sql(db, "SELECT count(*) FROM runs"), "0");
    e2e_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_one_thread),
        cmocka_unit_test(test_live_threads),
        cmocka_unit_test(test_live_signal_handler),
        cmocka_unit_test(test_live_sigkill),
        cmocka_unit_test(test_run_exec_and_no_spill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
