/*
 * Tests: a trace left with a hot journal by a heaptrail process killed in
 * the middle of a large rollback-journal transaction (a new trace's first
 * ingest, DECISIONS 26; a first large replay, 36). Needs cmocka.h first
 * (asserts).
 */
#ifndef HT_TEST_HOT_JOURNAL_H
#define HT_TEST_HOT_JOURNAL_H

#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "heaptrail/store.h"

/* A child opens db and begins either (spill NULL) an append transaction on
 * the existing trace, as a first replay does, or (spill given) the first
 * ingest of spill into db, which it creates; it writes ~15 MB in the
 * transaction (table t: past the page cache, so pages reach the file) and
 * is killed by SIGKILL. Asserts the hot journal it leaves and the file
 * grown; returns db's size before the transaction. */
static inline off_t ht_test_kill_mid_txn(const char *db, const char *spill)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ht_store *c = NULL;
        ht_ingest *ig = NULL;
        struct stat sb;
        close(fds[0]);
        if (ht_store_open(db, spill ? HT_STORE_CREATE : 0, &c) != HT_OK ||
            stat(db, &sb) != 0 ||
            write(fds[1], &sb.st_size, sizeof sb.st_size) != sizeof sb.st_size ||
            (spill ? ht_store_ingest_begin(c, spill, &ig)
                   : ht_store_begin_append(c)) != HT_OK)
            _exit(1);
        for (int i = 0; i < 3; i++)
            if (ht_store_exec(c, "CREATE TABLE IF NOT EXISTS t(b);"
                                 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL"
                                 " SELECT i+1 FROM n WHERE i<300) INSERT INTO t"
                                 " SELECT randomblob(16384) FROM n") != HT_OK)
                _exit(1);
        raise(SIGKILL);
        _exit(1);
    }
    close(fds[1]);
    off_t before = -1;
    assert_int_equal(read(fds[0], &before, sizeof before), sizeof before);
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    char jr[4200];
    struct stat mid;
    snprintf(jr, sizeof jr, "%s-journal", db);
    assert_int_equal(stat(jr, &mid), 0); /* a hot journal */
    assert_true(mid.st_size > 0);
    assert_int_equal(stat(db, &mid), 0);
    assert_true(mid.st_size > before + 8 * 1024 * 1024);
    return before;
}

#endif
