/*
 * Tests of libheaptrail_rt through the samples (samples/README.md gives the
 * expected counts). Each test runs a sample with HEAPTRAIL_TRACE in a fresh
 * temporary directory and reads the spill file(s) back with the test
 * support's unpacker (tests/support/spill_read.h) of include/heaptrail/spill.h.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "heaptrail/event.h"
#include "heaptrail/spill.h"
#include "heaptrail/store.h"
#include "tests/support/live_util.h"
#include "tests/support/spill_read.h"

struct spill {
    struct ht_spill_header *hdr; /* mapped */
    size_t map_size;
    struct ht_rec *recs;         /* malloc'd copies of kind != 0 slots */
    size_t n;
};

struct run {
    char dir[256];
    char trace[300];
    int status;
    char out[4096];
    struct spill sp[4];
    int nsp;
};

static void mk_tmp(struct run *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "/tmp/ht-rt-test-XXXXXX");
    assert_non_null(mkdtemp(r->dir));
    snprintf(r->trace, sizeof r->trace, "%s/t.db", r->dir);
}

/* Start sample `name` with HEAPTRAIL_TRACE=trace (+ optional extra env
 * "K=V"); returns pid and the read end of its stdout pipe in *out_fd. */
static pid_t start_sample(const char *name, const char *trace,
                          const char *extra, int *out_fd)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", HT_SAMPLE_DIR, name);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        setenv("HEAPTRAIL_TRACE", trace, 1);
        unsetenv("HEAPTRAIL_SPILL_MAX");
        unsetenv("HEAPTRAIL_DISABLE");
        if (extra) {
            char kv[256];
            snprintf(kv, sizeof kv, "%s", extra);
            char *eq = strchr(kv, '=');
            *eq = 0;
            setenv(kv, eq + 1, 1);
        }
        execl(path, path, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    *out_fd = p[0];
    return pid;
}

static void load_spills(struct run *r)
{
    char sdir[400];
    snprintf(sdir, sizeof sdir, "%s.spill", r->trace);
    DIR *d = opendir(sdir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "spill-", 6) != 0)
            continue;
        assert_true(r->nsp < 4);
        char p[800];
        snprintf(p, sizeof p, "%s/%s", sdir, e->d_name);
        int fd = open(p, O_RDONLY);
        assert_true(fd >= 0);
        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
        assert_true(m != MAP_FAILED);
        close(fd);
        struct spill *s = &r->sp[r->nsp++];
        s->hdr = m;
        s->map_size = (size_t)st.st_size;
        assert_memory_equal(s->hdr->magic, HT_SPILL_MAGIC, 8);
        assert_int_equal(s->hdr->version, HT_SPILL_VERSION);
        assert_int_equal(s->hdr->rec_size, sizeof(struct ht_spill_rec));
        assert_int_equal(s->hdr->header_size, HT_SPILL_HEADER_SIZE);
        uint64_t cr = s->hdr->chunk_records;
        assert_int_equal((uint64_t)st.st_size,
                         HT_SPILL_HEADER_SIZE +
                             s->hdr->max_chunks * cr *
                                 sizeof(struct ht_spill_rec));
        uint64_t nch = s->hdr->next_chunk < s->hdr->max_chunks
                           ? s->hdr->next_chunk
                           : s->hdr->max_chunks;
        s->recs = malloc(sizeof(struct ht_rec) * (nch * cr + 1));
        assert_non_null(s->recs);
        s->n = ht_test_spill_records(s->hdr, s->recs);
    }
    closedir(d);
}

static void free_run(struct run *r)
{
    for (int i = 0; i < r->nsp; i++) {
        munmap(r->sp[i].hdr, r->sp[i].map_size);
        free(r->sp[i].recs);
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "chmod -R u+rwx '%s'; rm -rf '%s'", r->dir,
             r->dir);
    assert_int_equal(system(cmd), 0);
}

/* Run a sample to completion, collecting stdout and spills. */
static void run_sample(struct run *r, const char *name, const char *extra)
{
    int fd;
    pid_t pid = start_sample(name, r->trace, extra, &fd);
    size_t got = 0;
    ssize_t k;
    while ((k = read(fd, r->out + got, sizeof r->out - 1 - got)) > 0)
        got += (size_t)k;
    close(fd);
    assert_int_equal(waitpid(pid, &r->status, 0), pid);
    load_spills(r);
}

static size_t count(const struct spill *s, unsigned kind, int site)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->recs[i].kind == kind &&
            (site < 0 || !!(s->recs[i].flags & HT_EVF_SITE) == site))
            n++;
    return n;
}

static int cmp_addr_seq(const void *x, const void *y)
{
    const struct ht_rec *a = x, *b = y;
    if (a->a != b->a)
        return a->a < b->a ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* Seqs unique and below header.seq; per address, ALLOC and FREE alternate
 * starting with ALLOC (so every FREE orders before a reuse, S3). */
static void check_order(const struct spill *s)
{
    struct ht_rec *v = malloc(sizeof *v * (s->n + 1));
    assert_non_null(v);
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        assert_true(s->recs[i].seq < s->hdr->seq);
        if ((s->recs[i].kind == HT_EV_ALLOC || s->recs[i].kind == HT_EV_FREE) &&
            !(s->recs[i].flags & HT_EVF_SITE))
            v[n++] = s->recs[i];
    }
    qsort(v, n, sizeof *v, cmp_addr_seq);
    for (size_t i = 0; i < n; i++) {
        int first = i == 0 || v[i - 1].a != v[i].a;
        if (first)
            assert_int_equal(v[i].kind, HT_EV_ALLOC);
        else
            assert_int_not_equal(v[i].kind, v[i - 1].kind);
    }
    free(v);
    /* unique seqs over all records */
    uint64_t *q = malloc(sizeof *q * (s->n + 1));
    assert_non_null(q);
    for (size_t i = 0; i < s->n; i++)
        q[i] = s->recs[i].seq;
    qsort(q, s->n, sizeof *q, cmp_u64);
    for (size_t i = 1; i < s->n; i++)
        assert_true(q[i] != q[i - 1]);
    free(q);
}

static void check_roots(const struct spill *s)
{
    size_t nroot = 0;
    for (uint32_t i = 0; i < s->hdr->nmodules; i++)
        if (s->hdr->modules[i].data_hi)
            nroot++;
    assert_true(nroot >= 1);
    /* one ROOT per module data segment; the exit snapshot adds stack roots
     * (c = HT_ROOT_STACK, d = the owning thread) */
    size_t nmod = 0, nstack = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->recs[i].kind == HT_EV_ROOT) {
            if (s->recs[i].c == HT_ROOT_STACK) {
                nstack++;
                assert_true(s->recs[i].b > 0 && s->recs[i].d != 0);
            } else
                nmod++;
        }
    assert_int_equal(nmod, nroot);
    assert_int_equal(nstack + nmod, count(s, HT_EV_ROOT, -1));
    assert_string_equal(s->hdr->modules[0].path, "");
}

/* Distinct tids among records of `kind` (0: all kinds), up to 16. */
static int count_tids(const struct spill *s, unsigned kind)
{
    uint32_t tids[16];
    int nt = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (kind && s->recs[i].kind != kind)
            continue;
        int seen = 0;
        for (int k = 0; k < nt; k++)
            seen |= tids[k] == s->recs[i].tid;
        if (!seen && nt < 16)
            tids[nt++] = s->recs[i].tid;
    }
    return nt;
}

static void test_threads(void **state)
{
    (void)state;
    struct run r;
    mk_tmp(&r);
    /* chunk accounting below counts recorded events only: no exit snapshot */
    run_sample(&r, "threads", "HEAPTRAIL_SNAPSHOT=0");
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    assert_int_equal(r.nsp, 1);
    struct spill *s = &r.sp[0];
    assert_int_equal(count(s, HT_EV_ALLOC, 0), 80000);
    assert_int_equal(count(s, HT_EV_FREE, 0), 48000);
    /* 32000 events per worker: 2 chunks each, + the main thread's one */
    assert_int_equal(s->hdr->next_chunk, 9);
    assert_int_equal(count(s, HT_EV_EXIT, -1), 1);
    assert_int_equal(s->hdr->state, HT_SPILL_EXITED);
    assert_int_equal(s->hdr->exit_status, 0);
    assert_true(s->hdr->end_ns >= s->hdr->start_ns);
    assert_int_equal(s->hdr->overflow_events, 0);
    assert_int_equal(s->hdr->parent_pid, 0);
    /* 4 worker threads + main: at least 5 distinct tids */
    assert_int_equal(count_tids(s, 0), 5);
    check_order(s);
    check_roots(s);
    assert_true(strstr(s->hdr->exe, "threads") != NULL);
    assert_true(strstr(s->hdr->argv, "threads") != NULL);
    free_run(&r);
}

static void test_fork(void **state)
{
    (void)state;
    struct run r;
    mk_tmp(&r);
    run_sample(&r, "fork", NULL);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    assert_int_equal(r.nsp, 2);
    struct spill *par = &r.sp[0], *ch = &r.sp[1];
    if (par->hdr->parent_pid != 0) {
        struct spill *t = par;
        par = ch;
        ch = t;
    }
    assert_int_equal(par->hdr->parent_pid, 0);
    assert_int_equal(ch->hdr->parent_pid, par->hdr->pid);
    assert_int_equal(ch->hdr->ppid, par->hdr->pid);
    assert_int_equal(count(par, HT_EV_ALLOC, 0), 15);
    assert_int_equal(count(par, HT_EV_FREE, 0), 3);
    assert_int_equal(count(ch, HT_EV_ALLOC, 0), 7);
    assert_int_equal(count(ch, HT_EV_FREE, 0), 2);
    assert_int_equal(par->hdr->state, HT_SPILL_EXITED);
    assert_int_equal(ch->hdr->state, HT_SPILL_EXITED);
    check_order(par);
    check_order(ch);
    check_roots(ch);
    free_run(&r);
}

static void test_abort(void **state)
{
    (void)state;
    struct run r;
    mk_tmp(&r);
    run_sample(&r, "abort", NULL);
    assert_true(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT);
    assert_int_equal(r.nsp, 1);
    struct spill *s = &r.sp[0];
    assert_int_equal(count(s, HT_EV_ALLOC, 0), 20);
    assert_int_equal(count(s, HT_EV_FREE, 0), 5);
    assert_int_equal(count(s, HT_EV_EXIT, -1), 0);
    assert_int_equal(s->hdr->state, HT_SPILL_RUNNING);
    assert_int_equal(s->hdr->end_ns, 0);
    check_order(s);
    free_run(&r);
}

static void test_sigkill(void **state)
{
    (void)state;
    struct run r;
    mk_tmp(&r);
    int fd;
    pid_t pid = start_sample("killme", r.trace, NULL, &fd);
    char buf[64] = {0};
    ssize_t k = read(fd, buf, sizeof buf - 1);
    assert_true(k > 0);
    assert_non_null(strstr(buf, "ready"));
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, &r.status, 0), pid);
    close(fd);
    assert_true(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL);
    load_spills(&r);
    assert_int_equal(r.nsp, 1);
    struct spill *s = &r.sp[0];
    assert_true(count(s, HT_EV_ALLOC, 0) >= 5000);
    assert_int_equal(count(s, HT_EV_FREE, 0), 0);
    assert_int_equal(s->hdr->state, HT_SPILL_RUNNING);
    free_run(&r);
}

static void test_fnptr_strdup(void **state)
{
    (void)state;
    struct run r;
    mk_tmp(&r);
    run_sample(&r, "fnptr_strdup", NULL);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    struct spill *s = &r.sp[0];
    assert_int_equal(count(s, HT_EV_ALLOC, 0), 6);
    assert_int_equal(count(s, HT_EV_FREE, 0), 3);
    const struct ht_spill_module *m0 = &s->hdr->modules[0];
    size_t in_main = 0, sized = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct ht_rec *e = &s->recs[i];
        if (e->kind != HT_EV_ALLOC)
            continue;
        if (e->d >= m0->lo && e->d < m0->hi)
            in_main++;
        /* strdup("hello")=6, strdup("heaptrail")=10, strndup(..,3)=4 */
        if (e->b == 6 || e->b == 10 || e->b == 4)
            sized++;
    }
    assert_int_equal(in_main, 6);
    assert_int_equal(sized, 3);
    check_order(s);
    free_run(&r);
}

static void test_signal_handler(void **state)
{
    (void)state;
    struct run r;
    mk_tmp(&r);
    run_sample(&r, "signal", NULL);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    long m = -1;
    int h = -1;
    assert_int_equal(sscanf(r.out, "main %ld handler %d", &m, &h), 2);
    struct spill *s = &r.sp[0];
    assert_int_equal(count(s, HT_EV_ALLOC, 0), (size_t)m);
    assert_int_equal(count(s, HT_EV_FREE, 0), (size_t)m);
    assert_int_equal(count(s, HT_EV_ALLOC, 1), (size_t)h);
    assert_int_equal(s->hdr->overflow_events, 0);
    check_order(s);
    free_run(&r);
}

/* Threads the pthread_create wrap never saw leave solo mode themselves
 * (runtime invariant R6): seqs stay unique and ordered per address. */
static void test_foreign_threads(void **state)
{
    (void)state;
    struct run r;
    mk_tmp(&r);
    run_sample(&r, "foreign_threads", NULL);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    assert_int_equal(r.nsp, 1);
    struct spill *s = &r.sp[0];
    assert_int_equal(count(s, HT_EV_ALLOC, 0), 90000);
    assert_int_equal(count(s, HT_EV_FREE, 0), 90000);
    assert_int_equal(s->hdr->overflow_events, 0);
    assert_int_equal(count_tids(s, HT_EV_ALLOC), 3);
    check_order(s);
    free_run(&r);
}

static void test_exec(void **state)
{
    (void)state;
    struct run r;
    mk_tmp(&r);
    run_sample(&r, "exec", NULL);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    assert_int_equal(r.nsp, 1);
    assert_int_equal(count(&r.sp[0], HT_EV_ALLOC, 0), 2);
    assert_int_equal(count(&r.sp[0], HT_EV_EXIT, -1), 0);
    assert_int_equal(r.sp[0].hdr->state, HT_SPILL_EXECED);
    free_run(&r);
}

static const struct ht_rec *only(const struct spill *s, unsigned kind)
{
    const struct ht_rec *hit = NULL;
    for (size_t i = 0; i < s->n; i++)
        if (s->recs[i].kind == kind) {
            assert_null(hit);
            hit = &s->recs[i];
        }
    assert_non_null(hit);
    return hit;
}

static void test_rt_calls(void **state)
{
    (void)state;
    struct run r;
    mk_tmp(&r);
    run_sample(&r, "rtcalls", NULL);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    const struct spill *s = &r.sp[0];
    const struct ht_rec *st = only(s, HT_EV_STORE);
    assert_int_equal(st->d, 1);
    assert_int_equal(st->flags, HT_EVF_SITE);
    assert_int_equal(st->c, 0);
    assert_true(st->a != 0 && st->b != 0);
    const struct ht_rec *inc = only(s, HT_EV_INCREF);
    assert_int_equal(inc->d, 2);
    assert_int_equal(inc->a, st->b);
    const struct ht_rec *dec = only(s, HT_EV_DECREF);
    assert_int_equal(dec->d, 3);
    assert_int_equal(dec->a, st->b);
    const struct ht_rec *en = only(s, HT_EV_FN_ENTER);
    assert_int_equal(en->a, 4);
    assert_int_equal(en->b, st->b);
    assert_int_equal(only(s, HT_EV_FN_EXIT)->a, 4);
    const struct ht_rec *al = only(s, HT_EV_ALLOC);
    assert_int_equal(al->d, 6);
    assert_int_equal(al->flags, HT_EVF_SITE);
    assert_int_equal(al->a, st->b + 8);
    assert_int_equal(al->b, 16);
    const struct ht_rec *fr = only(s, HT_EV_FREE);
    assert_int_equal(fr->d, 7);
    assert_int_equal(fr->a, st->b + 8);
    assert_true(fr->seq > al->seq);
    /* snapshot 0 on demand, snapshot 1 at exit (on by default) */
    assert_int_equal(count(s, HT_EV_SNAPSHOT, -1), 2);
    free_run(&r);
}

static void test_vfork(void **state)
{
    (void)state;
    struct run r;
    mk_tmp(&r);
    run_sample(&r, "vfork", NULL);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    assert_int_equal(r.nsp, 1);
    assert_int_equal(count(&r.sp[0], HT_EV_ALLOC, 0), 5);
    assert_int_equal(r.sp[0].hdr->state, HT_SPILL_RUNNING);
    free_run(&r);
}

static void test_overflow(void **state)
{
    (void)state;
    struct run r;
    mk_tmp(&r);
    /* Room for exactly one chunk: the main thread's (ROOT/EXIT events);
     * every worker event (80000 ALLOC + 48000 FREE) must be counted lost. */
    char extra[64];
    snprintf(extra, sizeof extra, "HEAPTRAIL_SPILL_MAX=%llu",
             (unsigned long long)(HT_SPILL_HEADER_SIZE +
                                  HT_SPILL_CHUNK_RECORDS *
                                      sizeof(struct ht_spill_rec)));
    run_sample(&r, "threads", extra);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    struct spill *s = &r.sp[0];
    assert_int_equal(s->hdr->max_chunks, 1);
    assert_int_equal(count(s, HT_EV_ALLOC, 0), 0);
    assert_int_equal(s->hdr->overflow_events, 128000);
    assert_int_equal(count(s, HT_EV_EXIT, -1), 1);
    free_run(&r);
}

static void test_bad_env(void **state)
{
    (void)state;
    struct run r;
    mk_tmp(&r);
    run_sample(&r, "fnptr_strdup", "HEAPTRAIL_SPILL_MAX=12abc");
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    assert_int_equal(r.nsp, 1);
    assert_int_equal(r.sp[0].hdr->max_chunks,
                     ((64ull << 30) - HT_SPILL_HEADER_SIZE) /
                         (HT_SPILL_CHUNK_RECORDS * sizeof(struct ht_spill_rec)));
    assert_int_equal(count(&r.sp[0], HT_EV_ALLOC, 0), 6);
    free_run(&r);
}

/* Run fnptr_strdup in r->dir as its cwd with one HEAPTRAIL_* setting kv
 * ("K=V"; HEAPTRAIL_TRACE=r->trace unless kv sets it), its stderr in err;
 * returns the wait status. */
static int run_env_case(struct run *r, const char *kv, char *err, size_t cap)
{
    char errpath[300];
    snprintf(errpath, sizeof errpath, "%s/stderr", r->dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (chdir(r->dir) != 0 || !freopen("/dev/null", "w", stdout) ||
            !freopen(errpath, "w", stderr))
            _exit(126);
        unsetenv("HEAPTRAIL_SPILL_MAX");
        unsetenv("HEAPTRAIL_DISABLE");
        unsetenv("HEAPTRAIL_SNAPSHOT");
        setenv("HEAPTRAIL_TRACE", r->trace, 1);
        putenv((char *)kv);
        execl(HT_SAMPLE_DIR "/fnptr_strdup", "fnptr_strdup", (char *)NULL);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    FILE *f = fopen(errpath, "r");
    assert_non_null(f);
    size_t n = fread(err, 1, cap - 1, f);
    err[n] = 0;
    fclose(f);
    return st;
}

/* Every HEAPTRAIL_* variable: a malformed value gives exactly one stderr
 * line and the default, the program's exit status is unchanged; empty 0/1
 * variables mean unset. fnptr_strdup: 6 ALLOC, exits 0. */
static void test_env_validation(void **state)
{
    (void)state;
    static const struct {
        const char *kv, *err;
        int snapshots; /* SNAPSHOT events expected */
    } cases[] = {
        {"HEAPTRAIL_SNAPSHOT=yes",
         "heaptrail: invalid HEAPTRAIL_SNAPSHOT=\"yes\" (want 0 or 1), "
         "exit snapshot stays on\n", 1},
        {"HEAPTRAIL_SNAPSHOT=0", "", 0},
        {"HEAPTRAIL_SNAPSHOT=1", "", 1},
        {"HEAPTRAIL_SNAPSHOT=", "", 1},
        {"HEAPTRAIL_SPILL_THREAD=2",
         "heaptrail: invalid HEAPTRAIL_SPILL_THREAD=\"2\" (want 0 or 1), "
         "no helper thread\n", 1},
        {"HEAPTRAIL_SPILL_THREAD=0", "", 1},
        {"HEAPTRAIL_SPILL_THREAD=1", "", 1},
        {"HEAPTRAIL_DISABLE=true",
         "heaptrail: invalid HEAPTRAIL_DISABLE=\"true\" (want 0 or 1), "
         "recording stays on\n", 1},
        {"HEAPTRAIL_DISABLE=", "", 1},
        {"HEAPTRAIL_DISABLE=0", "", 1},
        {"HEAPTRAIL_SPILL_MAX=-5",
         "heaptrail: invalid HEAPTRAIL_SPILL_MAX=\"-5\" (want bytes >= "
         "1048576), using 64 GiB\n", 1},
        {"HEAPTRAIL_SPILL_MAX=99999999999999999999999",
         "heaptrail: invalid HEAPTRAIL_SPILL_MAX=\"99999999999999999999999\" "
         "(want bytes >= 1048576), using 64 GiB\n", 1},
        {"HEAPTRAIL_TRACE=",
         "heaptrail: invalid HEAPTRAIL_TRACE (empty or longer than 944 "
         "bytes), using \"heaptrail.db\"\n", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct run r;
        mk_tmp(&r);
        char err[1024];
        int st = run_env_case(&r, cases[i].kv, err, sizeof err);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        assert_string_equal(err, cases[i].err);
        if (!strcmp(cases[i].kv, "HEAPTRAIL_TRACE="))
            snprintf(r.trace, sizeof r.trace, "%s/heaptrail.db", r.dir);
        load_spills(&r);
        assert_int_equal(r.nsp, 1);
        assert_int_equal(count(&r.sp[0], HT_EV_ALLOC, 0), 6);
        assert_int_equal(count(&r.sp[0], HT_EV_SNAPSHOT, -1),
                         (size_t)cases[i].snapshots);
        assert_int_equal(r.sp[0].hdr->max_chunks,
                         ((64ull << 30) - HT_SPILL_HEADER_SIZE) /
                             (HT_SPILL_CHUNK_RECORDS * sizeof(struct ht_spill_rec)));
        free_run(&r);
    }
}

static void test_disable(void **state)
{
    (void)state;
    struct run r;
    mk_tmp(&r);
    int fd;
    pid_t pid = start_sample("fnptr_strdup", r.trace, "HEAPTRAIL_DISABLE=1",
                             &fd);
    close(fd);
    assert_int_equal(waitpid(pid, &r.status, 0), pid);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    char sdir[400];
    snprintf(sdir, sizeof sdir, "%s.spill", r.trace);
    struct stat st;
    assert_int_not_equal(stat(sdir, &st), 0);
    free_run(&r);
}

static void test_unwritable_dir(void **state)
{
    (void)state;
    struct run r;
    mk_tmp(&r);
    /* The spill directory's parent is a regular file (fails even as root). */
    char file[300];
    snprintf(file, sizeof file, "%s/plain", r.dir);
    int fd = open(file, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    char trace[400];
    snprintf(trace, sizeof trace, "%s/t.db", file);
    int ofd;
    pid_t pid = start_sample("fnptr_strdup", trace, NULL, &ofd);
    close(ofd);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    if (geteuid() != 0) {
        char ro[300];
        snprintf(ro, sizeof ro, "%s/ro", r.dir);
        assert_int_equal(mkdir(ro, 0500), 0);
        snprintf(trace, sizeof trace, "%s/t.db", ro);
        pid = start_sample("threads", trace, NULL, &ofd);
        close(ofd);
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    free_run(&r);
}

/* ---- spill version 2 (spill.h S6-S8, docs/DECISIONS.md 32) ------------ */

static int cmp_seq(const void *x, const void *y)
{
    const struct ht_rec *a = x, *b = y;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* The slot array of a loaded spill. */
static const struct ht_spill_rec *slots_of(const struct spill *s)
{
    return (const struct ht_spill_rec *)((const char *)s->hdr +
                                         HT_SPILL_HEADER_SIZE);
}

static uint64_t chunks_of(const struct spill *s)
{
    return s->hdr->next_chunk < s->hdr->max_chunks ? s->hdr->next_chunk
                                                   : s->hdr->max_chunks;
}

static void ingest_cb(void *ctx, const char *path, ht_err err,
                      const struct ht_ingest_result *res)
{
    (void)path;
    assert_int_equal(err, HT_OK);
    *(struct ht_ingest_result *)ctx = *res;
}

/* Ingest r's one spill into a new trace and check that its events table
 * holds exactly the records read from the spill (seq, kind, tid, a..d as
 * SQLite's signed integers), no slot torn. Returns the ingest's result. */
static struct ht_ingest_result check_ingest_same(struct run *r)
{
    char db[400], sdir[400];
    snprintf(db, sizeof db, "%s/in.db", r->dir);
    snprintf(sdir, sizeof sdir, "%s.spill", r->trace);
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, &st), HT_OK);
    struct ht_ingest_result res;
    memset(&res, 0, sizeof res);
    assert_int_equal(ht_store_ingest_dir(st, sdir, NULL, 0, ingest_cb, &res),
                     HT_OK);
    const struct spill *s = &r->sp[0];
    assert_int_equal(res.events, s->n);
    assert_int_equal(res.torn, 0);
    struct ht_rec *v = malloc((s->n + 1) * sizeof *v);
    assert_non_null(v);
    memcpy(v, s->recs, s->n * sizeof *v);
    qsort(v, s->n, sizeof *v, cmp_seq);
    struct ht_test_dump want = {0};
    for (size_t i = 0; i < s->n; i++) {
        char tid[16], seq[24], a[24], b[24], c[24], d[24];
        snprintf(seq, sizeof seq, "%llu", (unsigned long long)v[i].seq);
        snprintf(tid, sizeof tid, "%u", v[i].tid);
        snprintf(a, sizeof a, "%lld", (long long)v[i].a);
        snprintf(b, sizeof b, "%lld", (long long)v[i].b);
        snprintf(c, sizeof c, "%lld", (long long)v[i].c);
        snprintf(d, sizeof d, "%lld", (long long)v[i].d);
        const char *cols[7] = {seq, ht_event_kind_name(v[i].kind), tid, a, b, c, d};
        assert_int_equal(ht_test_dump_row(&want, 7, cols, NULL), 0);
    }
    char *got = ht_test_events_dump(st);
    assert_non_null(got);
    assert_string_equal(got, want.s);
    free(want.s);
    free(got);
    free(v);
    ht_store_close(st);
    return res;
}

/* Extreme values through real recording (samples/widevals.c): every
 * field of compact (< 2^48) and wide records carried exactly, a chunk
 * filled with wide records leaves its one last slot unused (S7), every
 * chunk starts with its owner slot (S6), and ingest stores the same. */
static void test_wide_values(void **state)
{
    (void)state;
    struct run r;
    mk_tmp(&r);
    const uint64_t nbulk = 2 * HT_SPILL_CHUNK_RECORDS;
    char extra[64];
    snprintf(extra, sizeof extra, "WIDEVALS_N=%llu", (unsigned long long)nbulk);
    run_sample(&r, "widevals", extra);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    assert_int_equal(r.nsp, 1);
    const struct spill *s = &r.sp[0];
    const uint64_t M = UINT64_MAX, W = 1ull << 48, L = W - 1;
    const struct {
        unsigned kind;
        uint64_t a, b, c, d;
    } want[] = {
        {HT_EV_STORE, L, L, L, L},   {HT_EV_FN_ENTER, L, L, 0, L},
        {HT_EV_INCREF, L, 0, 0, L},  {HT_EV_STORE, W, W, W, W},
        {HT_EV_FN_ENTER, W, W, 0, W}, {HT_EV_INCREF, W, 0, 0, W},
        {HT_EV_STORE, M, M, M, M},   {HT_EV_FN_ENTER, M, M, 0, M},
        {HT_EV_INCREF, M, 0, 0, M},  {HT_EV_STORE, W, 0x10, 0x20, 1},
        {HT_EV_STORE, 0x30, W, 0x40, 2}, {HT_EV_STORE, 0x50, 0x60, W, 3},
        {HT_EV_STORE, 0x70, 0x80, 0x90, W}, {HT_EV_ALLOC, W, W, 0, 4},
        {HT_EV_FREE, W, 0, 0, 5},
    };
    const size_t nw = sizeof want / sizeof *want;
    size_t k = 0, bulk = 0, roots = 0;
    const struct ht_rec *blk = NULL, *re = NULL;
    for (size_t i = 0; i < s->n; i++) {
        const struct ht_rec *x = &s->recs[i];
        assert_int_equal(x->tid, (uint32_t)s->hdr->pid); /* one thread */
        if (x->kind == HT_EV_STORE && x->d == 9) {
            assert_int_equal(x->a, M - bulk);
            assert_int_equal(x->b, bulk);
            assert_int_equal(x->c, 0);
            assert_int_equal(x->flags, HT_EVF_SITE);
            bulk++;
        } else if (x->kind == HT_EV_ROOT && x->c == HT_ROOT_STACK) {
            assert_int_equal(x->d, (uint64_t)s->hdr->pid);
            roots++;
        } else if (x->kind == HT_EV_ALLOC && !(x->flags & HT_EVF_SITE)) {
            blk = x; /* malloc(24) */
        } else if (x->kind == HT_EV_REALLOC) {
            re = x;
        } else if (x->kind == HT_EV_STORE || x->kind == HT_EV_FN_ENTER ||
                   x->kind == HT_EV_INCREF ||
                   (x->flags & HT_EVF_SITE && (x->kind == HT_EV_ALLOC ||
                                               x->kind == HT_EV_FREE))) {
            assert_true(k < nw);
            assert_int_equal(x->kind, want[k].kind);
            assert_int_equal(x->a, want[k].a);
            assert_int_equal(x->b, want[k].b);
            assert_int_equal(x->c, want[k].c);
            assert_int_equal(x->d, want[k].d);
            assert_int_equal(x->flags, HT_EVF_SITE);
            k++;
        }
    }
    assert_int_equal(k, nw);
    assert_int_equal(bulk, nbulk);
    assert_int_equal(roots, 2); /* exit(): saved registers and stack */
    assert_non_null(blk);
    assert_non_null(re); /* failed: a = 0, b = SIZE_MAX, c = the block */
    assert_int_equal(re->a, 0);
    assert_int_equal(re->b, M);
    assert_int_equal(re->c, blk->a);
    assert_int_equal(re->flags, 0);
    assert_true(re->d != 0 && re->d < W);
    /* S6: every chunk handed out starts with an owner slot of this thread;
     * S7: a chunk of wide records from slot 1 on ends with one unused slot */
    const struct ht_spill_rec *sl = slots_of(s);
    const uint64_t cr = s->hdr->chunk_records;
    int full_wide = 0;
    assert_true(chunks_of(s) >= 3);
    for (uint64_t c = 0; c < chunks_of(s); c++) {
        const struct ht_spill_rec *ch = sl + c * cr;
        assert_int_equal(ht_spill_kind_byte(ch[0].w[3]), HT_SPILL_OWNER);
        assert_int_equal(ch[0].w[0], (uint64_t)s->hdr->pid);
        if (ht_spill_kind_byte(ch[cr - 1].w[3]) == 0 &&
            ht_spill_kind_byte(ch[cr - 2].w[3]) == (HT_EV_STORE | HT_SPILL_WIDE) &&
            ht_spill_kind_byte(ch[1].w[3]) == 0 &&
            ht_spill_kind_byte(ch[2].w[3]) == (HT_EV_STORE | HT_SPILL_WIDE))
            full_wide++;
    }
    assert_true(full_wide >= 1);
    check_ingest_same(&r);
    free_run(&r);
}

/* S6 with several threads (samples/threads.c: 4 workers of 20000 ALLOC +
 * 12000 FREE each, more than one chunk each): each chunk's slot 0 is an
 * owner slot, each worker owns exactly two chunks, every record carries
 * its chunk owner's tid (so each worker tid has its 32000 events), and
 * ingest stores the same tids. */
static void test_owner_slots_threads(void **state)
{
    (void)state;
    struct run r;
    mk_tmp(&r);
    run_sample(&r, "threads", NULL);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    const struct spill *s = &r.sp[0];
    const struct ht_spill_rec *sl = slots_of(s);
    const uint64_t cr = s->hdr->chunk_records;
    uint32_t tids[16];
    unsigned nchunks[16] = {0};
    size_t nt = 0;
    for (uint64_t c = 0; c < chunks_of(s); c++) {
        assert_int_equal(ht_spill_kind_byte(sl[c * cr].w[3]), HT_SPILL_OWNER);
        uint32_t t = (uint32_t)sl[c * cr].w[0];
        size_t j = 0;
        while (j < nt && tids[j] != t)
            j++;
        if (j == nt) {
            assert_true(nt < 16);
            tids[nt++] = t;
        }
        nchunks[j]++;
    }
    assert_int_equal(nt, 5);
    for (size_t j = 0; j < nt; j++) {
        size_t allocs = 0, frees = 0;
        for (size_t i = 0; i < s->n; i++) {
            allocs += s->recs[i].tid == tids[j] && s->recs[i].kind == HT_EV_ALLOC;
            frees += s->recs[i].tid == tids[j] && s->recs[i].kind == HT_EV_FREE;
        }
        if (tids[j] == (uint32_t)s->hdr->pid)
            continue; /* the main thread: startup and exit events */
        assert_int_equal(nchunks[j], 2);
        assert_int_equal(allocs, 20000);
        assert_int_equal(frees, 12000);
    }
    check_ingest_same(&r);
    free_run(&r);
}

/* S8/R8 (samples/seqlimit.c): once the seq counter reaches 2^48 nothing
 * more is written; each event is counted in overflow_events instead (2
 * ALLOCs, 4 FREEs, the EXIT), and the last two seqs below 2^48 are stored
 * exactly, also after ingest. */
static void test_seq_limit(void **state)
{
    (void)state;
    struct run r;
    mk_tmp(&r);
    run_sample(&r, "seqlimit", "HEAPTRAIL_SNAPSHOT=0");
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    const struct spill *s = &r.sp[0];
    size_t high = 0;
    for (size_t i = 0; i < s->n; i++) {
        assert_true(s->recs[i].seq < HT_SPILL_SEQ_LIMIT);
        if (s->recs[i].seq >= HT_SPILL_SEQ_LIMIT - 2) {
            assert_int_equal(s->recs[i].kind, HT_EV_ALLOC);
            assert_int_equal(s->recs[i].seq, HT_SPILL_SEQ_LIMIT - 2 + high);
            high++;
        }
    }
    assert_int_equal(high, 2);
    assert_int_equal(s->hdr->overflow_events, 7);
    assert_int_equal(count(s, HT_EV_EXIT, -1), 0);
    /* ingest tells the seq limit from a full spill: all 7 are the former */
    struct ht_ingest_result res = check_ingest_same(&r);
    assert_int_equal(res.overflow_events, 7);
    assert_int_equal(res.seq_limit_events, 7);
    free_run(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_fork),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_sigkill),
        cmocka_unit_test(test_fnptr_strdup),
        cmocka_unit_test(test_signal_handler),
        cmocka_unit_test(test_foreign_threads),
        cmocka_unit_test(test_exec),
        cmocka_unit_test(test_rt_calls),
        cmocka_unit_test(test_wide_values),
        cmocka_unit_test(test_owner_slots_threads),
        cmocka_unit_test(test_seq_limit),
        cmocka_unit_test(test_vfork),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_bad_env),
        cmocka_unit_test(test_env_validation),
        cmocka_unit_test(test_disable),
        cmocka_unit_test(test_unwritable_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
