#define _GNU_SOURCE
/*
 * Fault injection (SQLite test_malloc.c style): ingest (spill -> trace.db)
 * and replay (trace -> findings) are run with the Nth allocation failing,
 * for N = 1, 2, ... until the operation completes without reaching the
 * fault, once with a transient fault (only the Nth fails) and once with a
 * persistent one (the Nth and every later one fail).
 *
 * This executable is linked with -Wl,--wrap=malloc,calloc,realloc,strdup,
 * free (tests/reliability/CMakeLists.txt): every allocation of the static
 * heaptrail libraries and of this file goes through include/heaptrail/alloc.h,
 * whose table is set to the real libc functions; SQLite's allocations go
 * through the same table via ht_store_use_allocator(1). zstd and libdw are
 * shared libraries and are not covered.
 *
 * After every failure: the error is a clean ht_err (no crash; under ASan no
 * leak, checked by LeakSanitizer at exit), the trace passes PRAGMA
 * integrity_check, nothing is half-written (no run, or the complete run;
 * no findings, or the complete findings), nothing recorded is lost (the
 * spill is still there; ingesting it again without faults stores every
 * event) and a replay without faults gives the reference findings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heaptrail/alloc.h"
#include "heaptrail/replay.h"
#include "heaptrail/spill.h"
#include "heaptrail/store.h"
#include "tests/support/spill_write.h"

/* ---- the wrapped libc allocator -------------------------------------- */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);

void *__wrap_malloc(size_t n) { return ht_alloc_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) { return ht_alloc_calloc(n, size); }
void *__wrap_realloc(void *p, size_t n) { return ht_alloc_realloc(p, n); }
char *__wrap_strdup(const char *s) { return ht_alloc_strdup(s); }
void __wrap_free(void *p) { ht_alloc_free(p); }

static const struct ht_alloc_table real_table = {
    __real_malloc, __real_calloc, __real_realloc, __real_free,
};

/* ---- fixture ------------------------------------------------------------ */
#define CR 64u        /* records per spill chunk */
#define NCH 6u        /* spill chunks */
#define NEVENTS 300u  /* events written (the last chunk partly used) */

static char dir[64], db[128], spill_dir[128], spill[160], tmpl[128];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb; (void)flag; (void)f;
    return remove(p);
}

static int setup(void **state)
{
    (void)state;
    ht_alloc_set_table(&real_table);
    assert_int_equal(ht_store_use_allocator(1), HT_OK);
    snprintf(dir, sizeof dir, "/tmp/ht-test-faults-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/t.db", dir);
    snprintf(spill_dir, sizeof spill_dir, "%s/t.db.spill", dir);
    snprintf(spill, sizeof spill, "%s/spill-999999-1.hts", spill_dir);
    snprintf(tmpl, sizeof tmpl, "%s/template.db", dir);
    return 0;
}

static void check_close(void);

static int teardown(void **state)
{
    (void)state;
    check_close();
    ht_store_use_allocator(0);
    return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A spill of NEVENTS events from two threads: thread 1 in even chunks,
 * thread 2 in odd ones, seqs interleaved; chunk 1 unsorted (a signal
 * handler) so ingest copies and sorts it. Blocks: 0x10000 + 64*i, every
 * third freed, every fifth reallocated; pcs 0x400000 + i%7. */
static void write_spill(void)
{
    struct ht_spill_header *h = ht_test_spill_header(CR, NCH, "/bin/true");
    struct ht_rec *recs = calloc(CR * NCH, sizeof *recs);
    assert_non_null(h);
    assert_non_null(recs);
    size_t fill[NCH] = {0};
    for (uint64_t seq = 0; seq < NEVENTS; seq++) {
        size_t c = (size_t)(seq / (2 * CR)) * 2 + (seq & 1);
        struct ht_rec *r = &recs[c * CR + fill[c]++];
        uint64_t i = seq / 3;
        r->seq = seq;
        r->tid = 1 + (uint32_t)(seq & 1);
        r->d = 0x400000 + seq % 7;
        r->a = 0x10000 + 64 * i;
        if (seq % 3 == 0) {
            r->kind = HT_EV_ALLOC;
            r->b = 16 + i % 48;
        } else if (seq % 3 == 1 && i % 5 == 0) {
            r->kind = HT_EV_REALLOC;
            r->c = r->a;
            r->b = 24 + i % 40;
        } else if (seq % 3 == 2 && i % 3 == 0) {
            r->kind = HT_EV_FREE;
        } else {
            r->kind = HT_EV_STORE;
            r->b = 0x10000 + 64 * (i / 2);
        }
    }
    /* reverse chunk 1: unsorted */
    for (size_t a = CR, b = CR + fill[1] - 1; a < b; a++, b--) {
        struct ht_rec t = recs[a];
        recs[a] = recs[b];
        recs[b] = t;
    }
    h->next_chunk = NCH;
    mkdir(spill_dir, 0700);
    assert_int_equal(ht_test_spill_write(spill, h, recs, CR * NCH * sizeof *recs), 0);
    free(h);
    free(recs);
}

static int first_col(void *ctx, int ncol, const char *const *v,
                     const char *const *names)
{
    (void)ncol; (void)names;
    snprintf(ctx, 256, "%s", v[0] ? v[0] : "NULL");
    return 0;
}

/* The checks open the trace once (no faults) and query it through sql1;
 * check_close closes it. */
static ht_store *chk;
static const char *chk_path;

/* First column of the first row of sql on the trace at path, no faults. */
static const char *sql1(const char *path, const char *sql)
{
    static char out[256];
    if (chk && strcmp(chk_path, path) != 0) {
        ht_store_close(chk);
        chk = NULL;
    }
    if (!chk) {
        assert_int_equal(ht_store_open(path, 0, &chk), HT_OK);
        chk_path = path;
    }
    out[0] = 0;
    ht_err e = ht_store_query(chk, sql, 0, first_col, out);
    if (e != HT_OK)
        snprintf(out, sizeof out, "error: %s", ht_store_last_error());
    return out;
}

static void check_close(void)
{
    ht_store_close(chk);
    chk = NULL;
}

static void fresh_trace(const char *path)
{
    check_close();
    char p[400];
    const char *sfx[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        unlink(p);
    }
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(path, HT_STORE_CREATE, &st), HT_OK);
    ht_store_close(st);
}

static void copy_file(const char *from, const char *to)
{
    check_close();
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

static int clean_error(ht_err e)
{
    return e == HT_ENOMEM || e == HT_ESQL || e == HT_EIO;
}

/* The trace holds exactly the one complete run of the spill. */
static void check_ingested(const char *path)
{
    char want[32];
    snprintf(want, sizeof want, "%u", NEVENTS);
    assert_string_equal(sql1(path, "PRAGMA integrity_check"), "ok");
    assert_string_equal(sql1(path, "SELECT count(*) FROM runs"), "1");
    assert_string_equal(sql1(path, "SELECT events FROM runs"), want);
    assert_string_equal(sql1(path, "SELECT count(*) FROM events"), want);
    assert_string_equal(sql1(path, "SELECT count(DISTINCT seq) FROM events"), want);
    assert_string_equal(sql1(path, "SELECT count(*) FROM pcs"), "7");
    /* text columns too: a failed string copy must not store NULL */
    assert_string_equal(sql1(path, "SELECT program||'|'||argv||'|'||status||'|'||"
                                   "(spill IS NOT NULL) FROM runs"),
                        "/bin/true|prog arg1|exited|1");
}

/* ht_store_ingest_dir callback: the error of the (one) spill. */
static void ingest_cb(void *ctx, const char *path, ht_err err,
                      const struct ht_ingest_result *res)
{
    (void)path;
    (void)res;
    *(ht_err *)ctx = err;
}

/* Step between the N of successive runs: 1 (every allocation) unless
 * HT_FAULT_STRIDE says otherwise; run-tests.sh's ASan pass uses a stride,
 * its plain pass covers every N. */
static long fault_stride(void)
{
    const char *s = getenv("HT_FAULT_STRIDE");
    long v = s ? atol(s) : 1;
    return v > 0 ? v : 1;
}

struct loop_stats {
    long iterations, failed, benign, max_allocs;
};

static void ingest_loop(int persistent, struct loop_stats *ls)
{
    memset(ls, 0, sizeof *ls);
    for (long n = 1;; n += fault_stride()) {
        fresh_trace(db);
        write_spill();
        struct ht_ingest_result res;
        memset(&res, 0xff, sizeof res);
        check_close();
        ht_alloc_fault_arm(n, persistent);
        ht_store *st = NULL;
        ht_err e = ht_store_open(db, 0, &st), per_spill = HT_EINVAL;
        if (e == HT_OK)
            e = ht_store_ingest_dir(st, spill_dir, NULL, 0, ingest_cb, &per_spill);
        if (e == HT_OK)
            e = per_spill;
        ht_store_close(st);
        long allocs = ht_alloc_count();
        long fails = ht_alloc_fault_disarm();
        ls->iterations++;
        if (fails == 0) {
            assert_int_equal(e, HT_OK);
            ls->max_allocs = allocs;
            check_ingested(db);
            break;
        }
        if (e == HT_OK) { /* SQLite recovered from the failed allocation */
            ls->benign++;
            assert_int_equal(access(spill, F_OK), -1);
            assert_int_equal(access(spill_dir, F_OK), -1); /* rmdir'd when empty */
            check_ingested(db);
            continue;
        }
        ls->failed++;
        if (!clean_error(e))
            fail_msg("N=%ld: ingest failed with %s (%s)", n, ht_strerror(e),
                     ht_store_last_error());
        /* nothing lost, nothing half-written */
        assert_int_equal(access(spill, F_OK), 0);
        assert_string_equal(sql1(db, "PRAGMA integrity_check"), "ok");
        assert_string_equal(sql1(db, "SELECT count(*) FROM runs"), "0");
        assert_string_equal(sql1(db, "SELECT count(*) FROM chunks"), "0");
        /* a retry without faults stores every event */
        check_close();
        assert_int_equal(ht_store_open(db, 0, &st), HT_OK);
        assert_int_equal(ht_store_ingest_spill(st, spill, NULL, 0, &res), HT_OK);
        assert_int_equal(res.events, NEVENTS);
        ht_store_close(st);
        check_ingested(db);
    }
}

/* ---- replay -------------------------------------------------------------- */

/* Findings of the run as one comparable string. */
static void findings(const char *path, char *out, size_t n)
{
    static const char *const q[] = {
        "SELECT count(*)||','||coalesce(sum(size),0)||','||"
        "coalesce(sum(leak_kind IS NOT NULL),0) FROM objects",
        "SELECT count(*) FROM errors",
        "SELECT count(*) FROM frag_snapshots",
        "SELECT allocs||','||frees||','||live_blocks||','||peak_live_bytes FROM run_stats",
        "SELECT count(*)||','||coalesce(sum(allocs),0) FROM site_stats",
    };
    out[0] = 0;
    for (size_t i = 0; i < sizeof q / sizeof *q; i++) {
        size_t L = strlen(out);
        snprintf(out + L, n - L, "%s;", sql1(path, q[i]));
    }
}

/* Replay the run in path (one pass writes every result table). */
static ht_err replay(const char *path, struct ht_replay_result *rr)
{
    check_close();
    ht_store *st = NULL;
    ht_err e = ht_store_open(path, 0, &st);
    int64_t *ids = NULL;
    size_t nids = 0;
    if (e == HT_OK)
        e = ht_store_runs(st, &ids, &nids);
    if (e == HT_OK)
        e = nids == 1 ? ht_replay_run(st, ids[0], NULL, rr) : HT_EINVAL;
    free(ids);
    ht_store_close(st);
    return e;
}

/* A table that a failed replay may have left absent or empty. */
static int empty_or_missing(const char *path, const char *table)
{
    char q[128];
    snprintf(q, sizeof q, "SELECT count(*) FROM %s", table);
    const char *v = sql1(path, q);
    return !strcmp(v, "0") || !strncmp(v, "error: SQL error: no such table", 31);
}

static void replay_loop(int persistent, struct loop_stats *ls)
{
    fresh_trace(tmpl);
    write_spill();
    ht_store *st = NULL;
    struct ht_ingest_result res;
    assert_int_equal(ht_store_open(tmpl, 0, &st), HT_OK);
    assert_int_equal(ht_store_ingest_spill(st, spill, NULL, 0, &res), HT_OK);
    ht_store_close(st);

    /* reference findings, no faults */
    char ref[1024], got[1024];
    struct ht_replay_result rr0, rr;
    fresh_trace(db);
    copy_file(tmpl, db);
    assert_int_equal(replay(db, &rr0), HT_OK);
    findings(db, ref, sizeof ref);
    assert_true(rr0.objects > 0);

    memset(ls, 0, sizeof *ls);
    for (long n = 1;; n += fault_stride()) {
        copy_file(tmpl, db);
        ht_alloc_fault_arm(n, persistent);
        ht_err e = replay(db, &rr);
        long allocs = ht_alloc_count();
        long fails = ht_alloc_fault_disarm();
        ls->iterations++;
        assert_string_equal(sql1(db, "PRAGMA integrity_check"), "ok");
        assert_string_equal(sql1(db, "SELECT count(*) FROM events"), "300");
        if (fails == 0 || e == HT_OK) {
            assert_int_equal(e, HT_OK);
            if (fails)
                ls->benign++;
            else
                ls->max_allocs = allocs;
            assert_memory_equal(&rr, &rr0, sizeof rr);
            findings(db, got, sizeof got);
            assert_string_equal(got, ref);
            if (fails == 0)
                break;
            continue;
        }
        ls->failed++;
        if (!clean_error(e))
            fail_msg("N=%ld: replay failed with %s (%s)", n, ht_strerror(e),
                     ht_store_last_error());
        /* a failed replay leaves no findings of its own (one transaction) */
        if (empty_or_missing(db, "objects")) {
            assert_true(empty_or_missing(db, "errors"));
            assert_true(empty_or_missing(db, "cycles"));
            assert_true(empty_or_missing(db, "frag_snapshots"));
        }
        assert_true(empty_or_missing(db, "run_stats"));
        assert_true(empty_or_missing(db, "site_stats"));
        /* a retry without faults gives the reference findings (on every
         * 8th N: a replay per N is most of this test's time) */
        if (n % 8)
            continue;
        assert_int_equal(replay(db, &rr), HT_OK);
        assert_memory_equal(&rr, &rr0, sizeof rr);
        findings(db, got, sizeof got);
        assert_string_equal(got, ref);
    }
}

/* Run loop with a transient or persistent fault and report the counts. */
static void run_loop(const char *what, int persistent,
                     void (*loop)(int, struct loop_stats *))
{
    struct loop_stats ls;
    loop(persistent, &ls);
    print_message("%s, %s fault: %ld runs (%ld failed cleanly, %ld recovered), "
                  "%ld allocations without faults\n", what,
                  persistent ? "persistent" : "transient", ls.iterations,
                  ls.failed, ls.benign, ls.max_allocs);
    assert_true(ls.failed > 0);
}

static void test_ingest_transient(void **state) { (void)state; run_loop("ingest", 0, ingest_loop); }
static void test_ingest_persistent(void **state) { (void)state; run_loop("ingest", 1, ingest_loop); }
static void test_replay_transient(void **state) { (void)state; run_loop("replay", 0, replay_loop); }
static void test_replay_persistent(void **state) { (void)state; run_loop("replay", 1, replay_loop); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ingest_transient),
        cmocka_unit_test(test_ingest_persistent),
        cmocka_unit_test(test_replay_transient),
        cmocka_unit_test(test_replay_persistent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
