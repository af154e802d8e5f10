/* E2E security (issue 7): trace files are created mode 0600 (spill 0600 in
 * a 0700 directory, trace.db and its WAL 0600), a symlink planted at the
 * trace path or the spill directory is never followed (the program still
 * runs normally; the symlink's target is untouched), and `heaptrail sql`
 * cannot change the trace or create files without --write. (Plain writes
 * without --write are in test_record.c, test_sql_cli; the shell check is
 * scripts/check-no-shell.sh, ctest check_no_shell.) A reader who cannot
 * roll a killed writer's hot journal back is told so. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "e2e_util.h"
#include "tests/support/hot_journal.h"

#define HT HT_BIN_DIR "/heaptrail"

static char out[4096], err[4096];

static unsigned mode_of(const char *path)
{
    struct stat sb;
    assert_int_equal(lstat(path, &sb), 0);
    return (unsigned)(sb.st_mode & 07777);
}

static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    return n;
}

static void test_file_modes(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("modes");
    char db[512], env[600], sdir[600], prog[512];
    snprintf(db, sizeof db, "%s/m.db", dir);
    snprintf(env, sizeof env, "HEAPTRAIL_TRACE=%s", db);
    snprintf(sdir, sizeof sdir, "%s.spill", db);
    snprintf(prog, sizeof prog, "%s/churn", HT_SAMPLE_DIR);
    mode_t old = umask(0); /* the most permissive umask a user could have */
    char *run[] = {prog, "100", NULL};
    assert_int_equal(e2e_run(run, env, out, sizeof out), 0);
    assert_int_equal(mode_of(sdir), 0700);
    const char *spill = e2e_find_spill(sdir);
    assert_non_null(spill);
    assert_int_equal(mode_of(spill), 0600);
    char *ing[] = {HT, "ingest", db, NULL};
    assert_int_equal(e2e_run(ing, NULL, out, sizeof out), 0);
    umask(old);
    assert_int_equal(mode_of(db), 0600);
    char wal[600];
    snprintf(wal, sizeof wal, "%s-wal", db);
    if (access(wal, F_OK) == 0)
        assert_int_equal(mode_of(wal), 0600);
    e2e_rmtree(dir);
}

static void test_symlinked_spill_dir(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("symspill");
    char victim[512], link[512], env[600], prog[512];
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(link, sizeof link, "%s/s.db.spill", dir);
    assert_int_equal(mkdir(victim, 0700), 0);
    assert_int_equal(symlink(victim, link), 0);
    snprintf(env, sizeof env, "HEAPTRAIL_TRACE=%s/s.db", dir);
    snprintf(prog, sizeof prog, "%s/churn", HT_SAMPLE_DIR);
    char *run[] = {prog, "100", NULL};
    assert_int_equal(e2e_run2(run, env, out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "churn 100\n");
    assert_non_null(strstr(err, "heaptrail: cannot use spill directory"));
    assert_non_null(strstr(err, "recording disabled"));
    assert_int_equal(entries(victim), 0);
    e2e_rmtree(dir);
}

static void test_symlinked_trace(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("symtrace");
    char victim[512], link[512], prog[512];
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(link, sizeof link, "%s/l.db", dir);
    FILE *f = fopen(victim, "w");
    assert_non_null(f);
    fputs("precious\n", f);
    fclose(f);
    assert_int_equal(symlink(victim, link), 0);
    snprintf(prog, sizeof prog, "%s/churn", HT_SAMPLE_DIR);
    char *run[] = {HT, "run", "-o", link, "--", prog, "100", NULL};
    int rc = e2e_run2(run, NULL, out, sizeof out, err, sizeof err);
    assert_string_equal(out, "churn 100\n"); /* the program ran normally */
    assert_int_not_equal(rc, 0);            /* nothing could be stored */
    assert_non_null(strstr(err, "is a symbolic link"));
    f = fopen(victim, "r");
    assert_non_null(f);
    char buf[64] = {0};
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "precious\n");
    /* a dangling symlink is refused too: no file is created at its target */
    char dangling[512], target[512];
    snprintf(target, sizeof target, "%s/created", dir);
    snprintf(dangling, sizeof dangling, "%s/d.db", dir);
    assert_int_equal(symlink(target, dangling), 0);
    char *run2[] = {HT, "run", "-o", dangling, "--", prog, "100", NULL};
    assert_int_not_equal(e2e_run2(run2, NULL, out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "churn 100\n");
    assert_int_equal(access(target, F_OK), -1);
    /* a symlink planted at the WAL of a new trace: SQLite replaces it and
     * its target is untouched */
    char wdb[512], wal[600];
    snprintf(wdb, sizeof wdb, "%s/w.db", dir);
    snprintf(wal, sizeof wal, "%s-wal", wdb);
    assert_int_equal(symlink(victim, wal), 0);
    char *run3[] = {HT, "run", "-o", wdb, "--", prog, "100", NULL};
    assert_int_equal(e2e_run(run3, NULL, out, sizeof out), 0);
    assert_string_equal(out, "churn 100\n");
    f = fopen(victim, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "precious\n");
    assert_int_equal(mode_of(wdb), 0600);
    e2e_rmtree(dir);
}

static void test_sql_readonly(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("sqlro");
    char db[512], prog[512], attach[1200], made[600];
    snprintf(db, sizeof db, "%s/t.db", dir);
    snprintf(prog, sizeof prog, "%s/churn", HT_SAMPLE_DIR);
    char *run[] = {HT, "run", "-o", db, "--", prog, "10", NULL};
    assert_int_equal(e2e_run(run, NULL, out, sizeof out), 0);
    /* statements that write, and ATTACH that would create a file */
    snprintf(made, sizeof made, "%s/new.db", dir);
    snprintf(attach, sizeof attach, "ATTACH '%s' AS x; CREATE TABLE x.t(a)", made);
    const char *writes[] = {
        "DELETE FROM runs", "UPDATE runs SET pid=1", "DROP TABLE chunks",
        "PRAGMA user_version=7", "CREATE TEMP TABLE t(a); INSERT INTO runs(pid) VALUES(1)",
        attach,
    };
    for (size_t i = 0; i < sizeof writes / sizeof *writes; i++) {
        char *q[] = {HT, "sql", db, (char *)writes[i], NULL};
        assert_int_not_equal(e2e_run2(q, NULL, out, sizeof out, err, sizeof err), 0);
        assert_non_null(strstr(err, "heaptrail sql:"));
    }
    assert_int_equal(access(made, F_OK), -1);
    char *cnt[] = {HT, "sql", db, "SELECT count(*)||','||min(pid>1) FROM runs;"
                   " PRAGMA user_version", NULL};
    assert_int_equal(e2e_run(cnt, NULL, out, sizeof out), 0);
    assert_string_equal(out, "1,1\n0\n");
    /* with --write the same statement works */
    char *w[] = {HT, "sql", "--write", db, "PRAGMA user_version=7", NULL};
    assert_int_equal(e2e_run(w, NULL, out, sizeof out), 0);
    char *uv[] = {HT, "sql", db, "PRAGMA user_version", NULL};
    assert_int_equal(e2e_run(uv, NULL, out, sizeof out), 0);
    assert_string_equal(out, "7\n");
    e2e_rmtree(dir);
}

/* A trace whose writer was killed mid-transaction (a hot journal), read
 * by a user who can read but not write it or its directory (as root:
 * nobody, through setpriv; otherwise the files are made read-only): one
 * line saying what happened and what to do, exit 1; a user who can write
 * it then reads it as before (DECISIONS 36). */
static void test_hot_journal_other_user(void **state)
{
    (void)state;
    char dir[256], db[300], jr[310], want[2048];
    snprintf(dir, sizeof dir, "%s", e2e_tmpdir("hotjournal"));
    snprintf(db, sizeof db, "%s/t.db", dir);
    snprintf(jr, sizeof jr, "%s-journal", db);
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, &st), HT_OK);
    ht_store_close(st);
    ht_test_kill_mid_txn(db, NULL);
    int root = geteuid() == 0;
    mode_t fmode = root ? 0644 : 0444;
    assert_int_equal(chmod(db, fmode), 0);
    assert_int_equal(chmod(jr, fmode), 0);
    assert_int_equal(chmod(dir, root ? 0755 : 0555), 0);
    char *sql[] = {HT, "sql", db, "SELECT count(*) FROM runs", NULL};
    char *as_nobody[] = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                         "--clear-groups", HT, "sql", db,
                         "SELECT count(*) FROM runs", NULL};
    int rc = e2e_run2(root ? as_nobody : sql, NULL, out, sizeof out, err,
                      sizeof err);
    assert_int_equal(chmod(dir, 0700), 0);
    assert_int_equal(chmod(db, 0600), 0);
    assert_int_equal(chmod(jr, 0600), 0);
    if (root && (rc == 127 || !strncmp(err, "setpriv:", 8))) {
        print_message("skipped: cannot run as nobody (65534): %s\n", err);
        e2e_rmtree(dir);
        skip();
    }
    snprintf(want, sizeof want,
             "heaptrail: %s: a heaptrail process was killed while writing "
             "this trace; undoing its unfinished change (%s) needs write "
             "permission on the trace and its directory: run any heaptrail "
             "command on it once as a user who has that (e.g. heaptrail sql "
             "%s 'SELECT 1') (SQLite: attempt to write a readonly database) "
             "(permission denied)\n",
             db, jr, db);
    assert_string_equal(err, want);
    assert_string_equal(out, "");
    assert_int_equal(rc, 1);
    /* its owner's read rolls the journal back */
    assert_int_equal(e2e_run2(sql, NULL, out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "0\n");
    assert_string_equal(err, "");
    assert_int_not_equal(access(jr, F_OK), 0);
    e2e_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_modes),
        cmocka_unit_test(test_symlinked_spill_dir),
        cmocka_unit_test(test_symlinked_trace),
        cmocka_unit_test(test_sql_readonly),
        cmocka_unit_test(test_hot_journal_other_user),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
