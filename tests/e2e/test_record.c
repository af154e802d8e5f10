/* E2E: the foundation samples recorded through the real `heaptrail run`,
 * then checked exactly through the store (counts from samples/README.md). */
#define _GNU_SOURCE
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "e2e_util.h"

#define HT HT_BIN_DIR "/heaptrail"

/* Record sample into dir/trace.db; returns heaptrail run's status. */
static int record(const char *dir, const char *sample, char *db, size_t n)
{
    snprintf(db, n, "%s/trace.db", dir);
    char prog[512];
    snprintf(prog, sizeof prog, "%s/%s", HT_SAMPLE_DIR, sample);
    char *run[] = {HT, "run", "-o", db, "--", prog, NULL};
    return e2e_run(run, NULL, NULL, 0);
}

static void test_threads(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("threads");
    char db[512];
    assert_int_equal(record(dir, "threads", db, sizeof db), 0);
    char *rep[] = {HT, "replay", db, NULL};
    assert_int_equal(e2e_run(rep, NULL, NULL, 0), 0);
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &st), HT_OK);
    assert_string_equal(e2e_sql1(st, "SELECT count(*) FROM runs"), "1");
    assert_string_equal(e2e_sql1(st, "SELECT status||','||complete||','||exit_status FROM runs"),
                        "exited,1,0");
    assert_string_equal(e2e_sql1(st, "SELECT count(*) FROM events WHERE kind='alloc'"), "80000");
    assert_string_equal(e2e_sql1(st, "SELECT count(*) FROM events WHERE kind='free'"), "48000");
    assert_string_equal(e2e_sql1(st, "SELECT live_blocks||','||allocs||','||frees||','||invalid_frees"
                                     " FROM run_stats"), "32000,80000,48000,0");
    /* 4 worker threads allocate; main only creates and joins them */
    assert_string_equal(e2e_sql1(st, "SELECT count(DISTINCT tid) FROM events WHERE kind='alloc'"), "4");
    /* seq unique and strictly increasing in the order events are returned */
    assert_string_equal(e2e_sql1(st, "SELECT count(*)=count(DISTINCT seq) FROM events"), "1");
    assert_string_equal(e2e_sql1(st,
        "SELECT count(*) FROM (SELECT seq, lag(seq) OVER () AS p FROM events)"
        " WHERE p IS NOT NULL AND seq <= p"), "0");
    /* per address, alloc and free alternate, starting with alloc */
    assert_string_equal(e2e_sql1(st,
        "SELECT count(*) FROM (SELECT kind, lag(kind) OVER (PARTITION BY addr ORDER BY seq) AS p"
        " FROM events WHERE kind IN ('alloc','free'))"
        " WHERE (p IS NULL AND kind<>'alloc') OR p = kind"), "0");
    ht_store_close(st);
    e2e_rmtree(dir);
}

static void test_fork(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("fork");
    char db[512];
    assert_int_equal(record(dir, "fork", db, sizeof db), 0);
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &st), HT_OK);
    assert_string_equal(e2e_sql1(st, "SELECT count(*) FROM runs"), "2");
    assert_string_equal(e2e_sql1(st,
        "SELECT count(*) FROM runs c JOIN runs p ON c.parent_pid = p.pid"
        " AND c.run_id <> p.run_id"), "1");
    const char *per_run =
        "SELECT (SELECT count(*) FROM events e WHERE e.run_id=r.run_id AND kind='alloc')||','||"
        "(SELECT count(*) FROM events e WHERE e.run_id=r.run_id AND kind='free')||','||"
        "status||','||complete FROM runs r WHERE ";
    char q[1024];
    snprintf(q, sizeof q, "%s r.pid NOT IN (SELECT parent_pid FROM runs"
             " WHERE parent_pid IS NOT NULL)", per_run);
    assert_string_equal(e2e_sql1(st, q), "7,2,exited,1"); /* the child */
    snprintf(q, sizeof q, "%s r.pid IN (SELECT parent_pid FROM runs)", per_run);
    assert_string_equal(e2e_sql1(st, q), "15,3,exited,1"); /* the parent */
    ht_store_close(st);
    e2e_rmtree(dir);
}

static void test_abort(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("abort");
    char db[512];
    assert_int_equal(record(dir, "abort", db, sizeof db), 128 + SIGABRT);
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &st), HT_OK);
    assert_string_equal(e2e_sql1(st, "SELECT complete||','||signal||','||status FROM runs"),
                        "0,6,killed");
    assert_string_equal(e2e_sql1(st, "SELECT count(*) FROM events WHERE kind='alloc'"), "20");
    assert_string_equal(e2e_sql1(st, "SELECT count(*) FROM events WHERE kind='free'"), "5");
    ht_store_close(st);
    e2e_rmtree(dir);
}

/* The pid of a child of parent, by scanning /proc/<pid>/stat; 0 if none. */
static pid_t child_of(pid_t parent)
{
    DIR *d = opendir("/proc");
    assert_non_null(d);
    struct dirent *de;
    pid_t found = 0;
    while (!found && (de = readdir(d))) {
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t k = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[k] = 0;
        char *rp = strrchr(buf, ')');
        int ppid = 0;
        char s;
        if (rp && sscanf(rp + 1, " %c %d", &s, &ppid) == 2 && ppid == parent)
            found = atoi(de->d_name);
    }
    closedir(d);
    return found;
}

static void test_killme(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("killme");
    char db[512];
    snprintf(db, sizeof db, "%s/trace.db", dir);
    char *argv[] = {HT, "run", "-o", db, "--", HT_SAMPLE_DIR "/killme", NULL};
    int pfd[1];
    pid_t pid = e2e_spawn(argv, NULL, -1, &pfd[0]);
    char line[64] = {0};
    size_t len = 0;
    while (len < sizeof line - 1 && !strchr(line, '\n')) {
        ssize_t k = read(pfd[0], line + len, sizeof line - 1 - len);
        assert_true(k > 0);
        len += (size_t)k;
    }
    assert_string_equal(line, "ready\n");
    pid_t victim = child_of(pid);
    assert_true(victim > 0);
    assert_int_equal(kill(victim, SIGKILL), 0);
    char rest[256];
    while (read(pfd[0], rest, sizeof rest) > 0)
        ;
    close(pfd[0]);
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 128 + SIGKILL);
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &st), HT_OK);
    char want[64];
    snprintf(want, sizeof want, "0,9,killed,%d", (int)victim);
    assert_string_equal(e2e_sql1(st, "SELECT complete||','||signal||','||status||','||pid FROM runs"),
                        want);
    assert_string_equal(e2e_sql1(st, "SELECT count(*) >= 5000 FROM events WHERE kind='alloc'"), "1");
    assert_string_equal(e2e_sql1(st, "PRAGMA integrity_check"), "ok");
    ht_store_close(st);
    e2e_rmtree(dir);
}

static void test_fnptr_strdup(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("fnptr");
    char db[512];
    assert_int_equal(record(dir, "fnptr_strdup", db, sizeof db), 0);
    /* "<repo>/tests/e2e/test_record.c" -> "<repo>/samples/fnptr_strdup.c" */
    char src[1024];
    snprintf(src, sizeof src, "%s", __FILE__);
    char *cut = strstr(src, "tests/e2e/test_record.c");
    assert_non_null(cut);
    snprintf(cut, sizeof src - (size_t)(cut - src), "samples/fnptr_strdup.c");
    FILE *f = fopen(src, "r");
    assert_non_null(f);
    char buf[512], lines[64] = "";
    int ln = 0, nstrdup = 0;
    while (fgets(buf, sizeof buf, f)) {
        ln++;
        if (strstr(buf, "strdup(")) {
            size_t l = strlen(lines);
            snprintf(lines + l, sizeof lines - l, "%s%d", nstrdup ? "," : "", ln);
            nstrdup++;
        }
    }
    fclose(f);
    assert_int_equal(nstrdup, 2);

    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &st), HT_OK);
    assert_string_equal(e2e_sql1(st, "SELECT count(*) FROM events WHERE kind='alloc'"), "6");
    assert_string_equal(e2e_sql1(st, "SELECT count(*) FROM events WHERE kind='free'"), "3");
    assert_string_equal(e2e_sql1(st,
        "SELECT count(*) FROM events e JOIN pcs p ON p.run_id=e.run_id AND p.pc=e.pc"
        " WHERE e.kind='alloc' AND p.line IS NOT NULL AND p.file LIKE '%fnptr_strdup.c'"), "6");
    /* the 4th and 5th allocations are the two strdup calls */
    assert_string_equal(e2e_sql1(st,
        "SELECT group_concat(line) FROM (SELECT p.line FROM events e JOIN pcs p"
        " ON p.run_id=e.run_id AND p.pc=e.pc WHERE e.kind='alloc' ORDER BY e.seq"
        " LIMIT 2 OFFSET 3)"), lines);
    ht_store_close(st);
    e2e_rmtree(dir);
}

static void test_spill_without_run(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("spill");
    char db[512], env[600], out[4096];
    snprintf(db, sizeof db, "%s/trace.db", dir);
    snprintf(env, sizeof env, "HEAPTRAIL_TRACE=%s", db);
    char *leaky[] = {HT_SAMPLE_DIR "/leaky", NULL};
    assert_int_equal(e2e_run(leaky, env, out, sizeof out), 0);
    assert_int_equal(access(db, F_OK), -1); /* nothing ingested yet */
    char *sql[] = {HT, "sql", db, "SELECT count(*) FROM runs", NULL};
    assert_int_equal(e2e_run(sql, NULL, out, sizeof out), 0);
    assert_string_equal(out, "1\n");
    char *sql2[] = {HT, "sql", db, "SELECT count(*) FROM events WHERE kind='alloc'", NULL};
    assert_int_equal(e2e_run(sql2, NULL, out, sizeof out), 0);
    assert_string_equal(out, "201\n");
    /* the spill dir is now empty (or gone): ingest is a no-op success */
    char spill[600];
    snprintf(spill, sizeof spill, "%s.spill", db);
    mkdir(spill, 0700);
    char *ing[] = {HT, "ingest", db, NULL};
    assert_int_equal(e2e_run(ing, NULL, out, sizeof out), 0);
    assert_int_equal(e2e_run(sql, NULL, out, sizeof out), 0);
    assert_string_equal(out, "1\n");
    e2e_rmtree(dir);
}

static void test_sql_cli(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("sqlcli");
    char db[512], out[4096];
    assert_int_equal(record(dir, "fork", db, sizeof db), 0);
    char *rows[] = {HT, "sql", db,
                    "SELECT kind, count(*), NULL FROM events WHERE kind IN ('alloc','free')"
                    " GROUP BY kind ORDER BY kind", NULL};
    assert_int_equal(e2e_run(rows, NULL, out, sizeof out), 0);
    assert_string_equal(out, "alloc|22|\nfree|5|\n");
    char *wr[] = {HT, "sql", db, "CREATE TABLE t(x); INSERT INTO t VALUES(42)", NULL};
    assert_int_not_equal(e2e_run(wr, NULL, out, sizeof out), 0);
    char *rd[] = {HT, "sql", db, "SELECT x FROM t", NULL};
    assert_int_not_equal(e2e_run(rd, NULL, out, sizeof out), 0);
    char *wr2[] = {HT, "sql", "--write", db, "CREATE TABLE t(x); INSERT INTO t VALUES(42)", NULL};
    assert_int_equal(e2e_run(wr2, NULL, out, sizeof out), 0);
    assert_int_equal(e2e_run(rd, NULL, out, sizeof out), 0);
    assert_string_equal(out, "42\n");
    e2e_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_fork),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_killme),
        cmocka_unit_test(test_fnptr_strdup),
        cmocka_unit_test(test_spill_without_run),
        cmocka_unit_test(test_sql_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
