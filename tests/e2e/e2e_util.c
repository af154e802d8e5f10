#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "e2e_util.h"

const char *e2e_tmpdir(const char *tag)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "/tmp/ht-e2e-%s-XXXXXX", tag);
    assert_non_null(mkdtemp(buf));
    return buf;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb; (void)flag; (void)f;
    return remove(p);
}

void e2e_rmtree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int first_cb(void *ctx, int ncol, const char *const *v,
                    const char *const *names)
{
    (void)names;
    if (ncol > 0)
        snprintf(ctx, 4096, "%s", v[0] ? v[0] : "NULL");
    return 1;
}

const char *e2e_sql1(ht_store *st, const char *sql)
{
    static char buf[4096];
    buf[0] = 0;
    ht_err e = ht_store_query(st, sql, 1, first_cb, buf);
    if (e != HT_OK)
        fail_msg("SQL failed: %s: %s", sql, ht_store_last_error());
    return buf;
}

/* Read a file descriptor to its end into buf (size n, may be NULL). */
static void read_all(int fd, char *buf, size_t n)
{
    size_t len = 0;
    char tmp[4096];
    ssize_t k;
    while ((k = read(fd, tmp, sizeof tmp)) > 0) {
        if (buf && len + 1 < n) {
            size_t c = (size_t)k < n - 1 - len ? (size_t)k : n - 1 - len;
            memcpy(buf + len, tmp, c);
            len += c;
        }
    }
    if (buf && n)
        buf[len] = 0;
    close(fd);
}

pid_t e2e_spawn(char *const argv[], const char *env, int err_fd, int *out_fd)
{
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pfd[1], 1);
        if (err_fd >= 0) {
            dup2(err_fd, 2);
            close(err_fd);
        }
        close(pfd[0]);
        close(pfd[1]);
        if (env)
            putenv((char *)env);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    *out_fd = pfd[0];
    return pid;
}

int e2e_wait(pid_t pid)
{
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int e2e_run(char *const argv[], const char *env, char *out, size_t n)
{
    return e2e_run2(argv, env, out, n, NULL, 0);
}

int e2e_run2(char *const argv[], const char *env, char *out, size_t n,
             char *err, size_t en)
{
    int efd = -1;
    if (err) {
        char path[] = "/tmp/ht-e2e-stderr-XXXXXX";
        efd = mkstemp(path);
        assert_true(efd >= 0);
        unlink(path);
    }
    int ofd;
    pid_t pid = e2e_spawn(argv, env, efd, &ofd);
    read_all(ofd, out, n);
    int rc = e2e_wait(pid);
    if (err) {
        lseek(efd, 0, SEEK_SET);
        read_all(efd, err, en);
    }
    return rc;
}

const char *e2e_find_spill(const char *dir)
{
    static char path[1024];
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    struct dirent *de;
    const char *found = NULL;
    while ((de = readdir(d)))
        if (!strncmp(de->d_name, "spill-", 6)) {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            found = path;
        }
    closedir(d);
    return found;
}
