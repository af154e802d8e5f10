/* E2E, the recorded program's side (issue 7): a program recording under
 * heaptrail behaves exactly as without it - same stdout, same exit status -
 * and what it recorded is exact: 8 threads x 1 M events, signals whose
 * handler allocates during allocation, _exit, a disk that fills up, an
 * unwritable working directory. Plain (uninstrumented) builds of the same
 * samples are the reference (tests/reliability/CMakeLists.txt builds them
 * as plain_<sample> in HT_BIN_DIR). fork/exec, abort and SIGKILL are in
 * test_record.c and tests/runtime. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "e2e_util.h"

#define HT HT_BIN_DIR "/heaptrail"

static char out0[4096], out1[4096], err1[4096];

/* Run the plain build and the instrumented build of sample (args may be
 * NULL) under `heaptrail run -o db`; both stdouts must be equal; returns
 * the exit status, which must be equal too. */
static int both(const char *sample, const char *arg, const char *db)
{
    char plain[512], inst[512];
    snprintf(plain, sizeof plain, "%s/plain_%s", HT_BIN_DIR, sample);
    snprintf(inst, sizeof inst, "%s/%s", HT_SAMPLE_DIR, sample);
    char *p[] = {plain, (char *)arg, NULL};
    char *r[] = {HT, "run", "-o", (char *)db, "--", inst, (char *)arg, NULL};
    int s0 = e2e_run(p, NULL, out0, sizeof out0);
    int s1 = e2e_run2(r, NULL, out1, sizeof out1, err1, sizeof err1);
    assert_string_equal(out1, out0);
    assert_int_equal(s1, s0);
    return s1;
}

static ht_store *open_ro(const char *db)
{
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &st), HT_OK);
    return st;
}

static void test_threads_8x1M(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("stress8");
    char db[512];
    snprintf(db, sizeof db, "%s/trace.db", dir);
    assert_int_equal(both("stress8", NULL, db), 0);
    ht_store *st = open_ro(db);
    assert_string_equal(e2e_sql1(st, "SELECT status||','||complete||','||torn||','||"
                                     "overflow_events FROM runs"), "exited,1,0,0");
    /* 8 M allocation events, plus the few ROOT/THREAD/EXIT records */
    assert_string_equal(e2e_sql1(st, "SELECT sum(kind IN ('alloc','free'))||','||"
                                     "(count(*)=(SELECT events FROM runs)) FROM events"),
                        "8000000,1");
    /* every thread: exactly 500000 ALLOC and 500000 FREE */
    assert_string_equal(e2e_sql1(st,
        "SELECT count(*)||','||min(a)||','||max(a)||','||min(f)||','||max(f) FROM"
        " (SELECT tid, sum(kind='alloc') a, sum(kind='free') f FROM events"
        "  WHERE kind IN ('alloc','free') GROUP BY tid)"), "8,500000,500000,500000,500000");
    /* seqs: strictly increasing in stored order, no gap: each taken seq
     * was recorded exactly once */
    assert_string_equal(e2e_sql1(st,
        "SELECT (max(seq)-min(seq)+1 = count(*))||','||sum(seq <= p) FROM"
        " (SELECT seq, lag(seq) OVER () p FROM events)"), "1,0");
    ht_store_close(st);
    e2e_rmtree(dir);
}

static void test_signal_handler_allocates(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("sigalloc");
    char db[512];
    snprintf(db, sizeof db, "%s/trace.db", dir);
    assert_int_equal(both("sigalloc", NULL, db), 0);
    assert_string_equal(out1, "sigalloc ok\n");
    long m = 0, h = 0;
    assert_int_equal(sscanf(err1, "main %ld handler %ld", &m, &h), 2);
    assert_true(h >= 500);
    ht_store *st = open_ro(db);
    char want[128];
    snprintf(want, sizeof want, "%ld,%ld,%ld,0", m + 1, h + 1, m + h + 2);
    assert_string_equal(e2e_sql1(st,
        "SELECT sum(kind='alloc' AND size=32)||','||sum(kind='alloc' AND size=200)||','||"
        "sum(kind='free')||','||(SELECT torn+overflow_events FROM runs) FROM events"), want);
    assert_string_equal(e2e_sql1(st,
        "SELECT (max(seq)-min(seq)+1 = count(*))||','||sum(seq <= p) FROM"
        " (SELECT seq, lag(seq) OVER () p FROM events)"), "1,0");
    ht_store_close(st);
    e2e_rmtree(dir);
}

static void test_underscore_exit(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("fastexit");
    char db[512];
    snprintf(db, sizeof db, "%s/trace.db", dir);
    assert_int_equal(both("fastexit", NULL, db), 3);
    assert_string_equal(out1, "fastexit\n");
    ht_store *st = open_ro(db);
    assert_string_equal(e2e_sql1(st, "SELECT status||','||exit_status FROM runs"),
                        "exited-without-exit,3");
    assert_string_equal(e2e_sql1(st, "SELECT sum(kind='alloc')||','||sum(kind='free')"
                                     " FROM events"), "10,3");
    ht_store_close(st);
    e2e_rmtree(dir);
}

/* A disk that fills up: a 2 MiB tmpfs when use_tmpfs and we may mount
 * one, else HEAPTRAIL_SPILL_MAX (room for the header and one chunk). */
static void disk_full(int use_tmpfs)
{
    const char *tmp = e2e_tmpdir("diskfull");
    char dir[256], mnt[300], trace_env[400], spill_dir[400], db[300];
    snprintf(dir, sizeof dir, "%s", tmp);
    snprintf(mnt, sizeof mnt, "%s/mnt", dir);
    assert_int_equal(mkdir(mnt, 0700), 0);
    const char *env = trace_env;
    int mounted = 0;
    if (use_tmpfs && geteuid() == 0 && mount("tmpfs", mnt, "tmpfs", 0, "size=2m") == 0) {
        mounted = 1; /* 1 MiB spill header + one 768 KiB chunk fit */
        snprintf(trace_env, sizeof trace_env, "HEAPTRAIL_TRACE=%s/t.db", mnt);
    } else {
        if (use_tmpfs)
            print_message("disk full: cannot mount a tmpfs (%s); using "
                          "HEAPTRAIL_SPILL_MAX instead\n", strerror(errno));
        snprintf(trace_env, sizeof trace_env, "HEAPTRAIL_TRACE=%s/t.db", mnt);
        setenv("HEAPTRAIL_SPILL_MAX", "1900000", 1);
    }
    char plain[512], inst[512];
    snprintf(plain, sizeof plain, "%s/plain_churn", HT_BIN_DIR);
    snprintf(inst, sizeof inst, "%s/churn", HT_SAMPLE_DIR);
    char *p[] = {plain, "200000", NULL};
    char *r[] = {inst, "200000", NULL};
    int s0 = e2e_run(p, NULL, out0, sizeof out0);
    int s1 = e2e_run2(r, env, out1, sizeof out1, err1, sizeof err1);
    unsetenv("HEAPTRAIL_SPILL_MAX");
    assert_int_equal(s0, 0);
    assert_int_equal(s1, 0);
    assert_string_equal(out1, "churn 200000\n");
    assert_string_equal(out1, out0);
    /* the spill is on the full disk: ingest it into a trace elsewhere */
    snprintf(spill_dir, sizeof spill_dir, "%s/t.db.spill", mnt);
    const char *spill = e2e_find_spill(spill_dir);
    assert_non_null(spill);
    snprintf(db, sizeof db, "%s/trace.db", dir);
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, &st), HT_OK);
    struct ht_run_end end = {.known = 1, .exited = 1, .status = 0};
    struct ht_ingest_result res;
    assert_int_equal(ht_store_ingest_spill(st, spill, &end, 0, &res), HT_OK);
    assert_true(res.overflow_events > 0);
    assert_int_equal(res.seq_limit_events, 0); /* all for want of room */
    /* the stored events are a gap-free prefix; the rest were counted */
    assert_string_equal(e2e_sql1(st, "SELECT (min(seq)=0 AND max(seq)+1=count(*))"
                                     " FROM events"), "1");
    long stored = atol(e2e_sql1(st, "SELECT count(*) FROM events WHERE kind IN"
                                    " ('alloc','free')"));
    long over = atol(e2e_sql1(st, "SELECT overflow_events FROM runs"));
    assert_int_equal((uint64_t)over, res.overflow_events);
    print_message("disk full (%s): %ld alloc/free events stored, %ld overflowed\n",
                  mounted ? "2 MiB tmpfs" : "HEAPTRAIL_SPILL_MAX", stored, over);
    assert_true(stored > 0 && stored < 400000);
    assert_true(over >= 400000 - stored && over <= 400000 - stored + 4);
    ht_store_close(st);
    if (mounted)
        assert_int_equal(umount(mnt), 0);
    e2e_rmtree(dir);
}

static void test_disk_full(void **state)
{
    (void)state;
    disk_full(1);
}

static void test_spill_max_full(void **state)
{
    (void)state;
    disk_full(0);
}

/* The two ways to lose events get their own warning from heaptrail run:
 * samples/seqlimit.c spends the 48-bit seq (its last 7 events lost, none
 * for room), churn under a one-chunk HEAPTRAIL_SPILL_MAX finds the spill
 * full (no seq spent). */
static void test_lost_events_warnings(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("lost");
    char db[512], out[256], err[1024];
    snprintf(db, sizeof db, "%s/seq.db", dir);
    char *seq[] = {HT, "run", "-o", db, "--", HT_SAMPLE_DIR "/seqlimit", NULL};
    assert_int_equal(e2e_run2(seq, "HEAPTRAIL_SNAPSHOT=0", out, sizeof out,
                              err, sizeof err), 0);
    assert_string_equal(err, "heaptrail: warning: run 1 lost its last 7 events "
                             "(event sequence numbers spent: the format stores "
                             "2^48)\n");
    snprintf(db, sizeof db, "%s/full.db", dir);
    char *full[] = {HT, "run", "-o", db, "--", HT_SAMPLE_DIR "/churn",
                    "200000", NULL};
    assert_int_equal(e2e_run2(full, "HEAPTRAIL_SPILL_MAX=1900000", out,
                              sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(err, "(spill full; raise HEAPTRAIL_SPILL_MAX)\n"));
    assert_null(strstr(err, "sequence numbers"));
    ht_store *st = open_ro(db);
    long over = atol(e2e_sql1(st, "SELECT overflow_events FROM runs"));
    ht_store_close(st);
    char want[128];
    snprintf(want, sizeof want, "heaptrail: warning: run 1 lost %ld events "
             "(spill full; raise HEAPTRAIL_SPILL_MAX)\n", over);
    assert_true(over > 0);
    assert_string_equal(err, want);
    e2e_rmtree(dir);
}

/* Run argv as user nobody (65534) in cwd; capture stdout and stderr. */
static int run_as_nobody(const char *cwd, char *const argv[], char *out,
                         size_t n, char *err, size_t en)
{
    int po[2], pe[2];
    assert_int_equal(pipe(po), 0);
    assert_int_equal(pipe(pe), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        if (chdir(cwd) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
            _exit(126);
        unsetenv("HEAPTRAIL_TRACE");
        execv(argv[0], argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    size_t k = 0, ke = 0;
    ssize_t got;
    while ((got = read(po[0], out + k, n - 1 - k)) > 0)
        k += (size_t)got;
    while ((got = read(pe[0], err + ke, en - 1 - ke)) > 0)
        ke += (size_t)got;
    out[k] = 0;
    err[ke] = 0;
    close(po[0]);
    close(pe[0]);
    return e2e_wait(pid);
}

static void test_unwritable_cwd(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        print_message("skipped: needs root to run a child as user nobody\n");
        skip();
    }
    const char *dir = e2e_tmpdir("rocwd");
    assert_int_equal(chmod(dir, 0755), 0); /* nobody may enter, not write */
    char plain[512], inst[512];
    snprintf(plain, sizeof plain, "%s/plain_churn", HT_BIN_DIR);
    snprintf(inst, sizeof inst, "%s/churn", HT_SAMPLE_DIR);
    char *p[] = {plain, "1000", NULL};
    char *r[] = {inst, "1000", NULL};
    int s0 = run_as_nobody(dir, p, out0, sizeof out0, err1, sizeof err1);
    assert_int_equal(s0, 0);
    /* directly: default trace heaptrail.db in the read-only cwd */
    int s1 = run_as_nobody(dir, r, out1, sizeof out1, err1, sizeof err1);
    assert_int_equal(s1, 0);
    assert_string_equal(out1, out0);
    assert_non_null(strstr(err1, "heaptrail: cannot create spill in "));
    assert_non_null(strstr(err1, "recording disabled"));
    /* through heaptrail run: the program's output is intact and the reason
     * is said; heaptrail run itself fails (it recorded nothing) */
    char *hr[] = {HT, "run", "--", inst, "1000", NULL};
    int s2 = run_as_nobody(dir, hr, out1, sizeof out1, err1, sizeof err1);
    assert_string_equal(out1, out0);
    assert_non_null(strstr(err1, "heaptrail: cannot create spill in "));
    assert_non_null(strstr(err1, "heaptrail.db"));
    assert_int_not_equal(s2, 0);
    char path[400];
    snprintf(path, sizeof path, "%s/heaptrail.db", dir);
    assert_int_equal(access(path, F_OK), -1); /* nothing written there */
    snprintf(path, sizeof path, "%s/heaptrail.db.spill", dir);
    assert_int_equal(access(path, F_OK), -1);
    e2e_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_8x1M),
        cmocka_unit_test(test_signal_handler_allocates),
        cmocka_unit_test(test_underscore_exit),
        cmocka_unit_test(test_disk_full),
        cmocka_unit_test(test_spill_max_full),
        cmocka_unit_test(test_lost_events_warnings),
        cmocka_unit_test(test_unwritable_cwd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
