/* E2E: bad inputs given to the `heaptrail` command: each must give a one-line
 * error on stderr naming the problem and a non-zero exit, never a crash. */
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

#include "heaptrail/spill.h"
#include "e2e_util.h"

#define HT HT_BIN_DIR "/heaptrail"

static char out[65536], err[65536];

/* Record the leaky demo into dir/trace.db. */
static void record_leaky(const char *dir, char *db, size_t n)
{
    snprintf(db, n, "%s/trace.db", dir);
    char *run[] = {HT, "run", "-o", db, "--", HT_SAMPLE_DIR "/leaky", NULL};
    assert_int_equal(e2e_run(run, NULL, NULL, 0), 0);
}

/* Number of lines in s. */
static int nlines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Run `heaptrail report db` and `heaptrail sql db SQL`: both must fail
 * with one error line starting "heaptrail" and containing want. */
static void expect_fail(const char *db, const char *want)
{
    char *rep[] = {HT, "report", (char *)db, NULL};
    char *sql[] = {HT, "sql", (char *)db, "SELECT count(*) FROM events", NULL};
    char *const *cmds[] = {rep, sql};
    for (int i = 0; i < 2; i++) {
        int rc = e2e_run2(cmds[i], NULL, out, sizeof out, err, sizeof err);
        if (rc == 0 || rc >= 128 || nlines(err) != 1 || !strstr(err, want) ||
            strncmp(err, "heaptrail", 9) != 0)
            fail_msg("%s: rc %d, stderr '%s', want '%s'", cmds[i][1], rc, err, want);
    }
}

static void write_at(const char *path, off_t off, const void *buf, size_t n)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, buf, n, off), (ssize_t)n);
    close(fd);
}

static off_t file_size(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return sb.st_size;
}

static void test_truncated_trace(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("trunc");
    char db[512];
    record_leaky(dir, db, sizeof db);
    assert_int_equal(truncate(db, file_size(db) / 2), 0);
    expect_fail(db, db);
    e2e_rmtree(dir);
}

static void test_corrupt_trace(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("corrupt");
    char db[512];
    record_leaky(dir, db, sizeof db);
    off_t sz = file_size(db);
    /* page size from the header (offset 16, big-endian, 1 = 65536) */
    unsigned char hdr[100];
    int fd = open(db, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, hdr, sizeof hdr, 0), (ssize_t)sizeof hdr);
    close(fd);
    size_t pg = (size_t)hdr[16] << 8 | hdr[17];
    if (pg == 1)
        pg = 65536;
    assert_true(pg >= 512 && (pg & (pg - 1)) == 0 && sz >= (off_t)(3 * pg));
    /* the root page of the chunks table: every report reads it */
    char *root[] = {HT, "sql", db,
                    "SELECT rootpage FROM sqlite_schema WHERE name='chunks'", NULL};
    assert_int_equal(e2e_run2(root, NULL, out, sizeof out, err, sizeof err), 0);
    long rp = strtol(out, NULL, 10);
    assert_true(rp >= 2 && (off_t)(rp * (long)pg) <= sz);
    /* Keep page 1 (header + schema root) intact: overwrite that whole
     * data page with garbage, whatever the page size (a partial overwrite
     * could land in a page's unused space and go unnoticed). */
    char *junk = malloc(pg);
    assert_non_null(junk);
    for (size_t i = 0; i < pg; i++)
        junk[i] = (char)(i * 7 + 13);
    write_at(db, (off_t)(rp - 1) * (off_t)pg, junk, pg);
    free(junk);
    char *rep[] = {HT, "report", db, NULL};
    int rc = e2e_run2(rep, NULL, out, sizeof out, err, sizeof err);
    if (rc == 0 || rc >= 128 || nlines(err) < 1 || strncmp(err, "heaptrail", 9) != 0)
        fail_msg("report: rc %d, stderr '%s'", rc, err);
    assert_true(strstr(err, "corrupt") || strstr(err, "malformed"));
    char *sql[] = {HT, "sql", db,
                   "SELECT (SELECT count(*) FROM pcs)+(SELECT count(*) FROM events)"
                   "+(SELECT count(*) FROM modules)+(SELECT count(*) FROM runs)", NULL};
    rc = e2e_run2(sql, NULL, out, sizeof out, err, sizeof err);
    if (rc == 0 || rc >= 128 || nlines(err) != 1 || strncmp(err, "heaptrail", 9) != 0 ||
        !(strstr(err, "corrupt") || strstr(err, "malformed")))
        fail_msg("sql: rc %d, stderr '%s'", rc, err);
    e2e_rmtree(dir);
}

static void test_not_sqlite(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("notsql");
    char db[512];
    snprintf(db, sizeof db, "%s/trace.db", dir);
    FILE *f = fopen(db, "w");
    assert_non_null(f);
    for (int i = 0; i < 20000; i++)
        fputc((i * 131 + 7) & 0xff, f);
    fclose(f);
    expect_fail(db, db);
    expect_fail(db, "not");
    e2e_rmtree(dir);
}

static void test_newer_schema(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("newer");
    char db[512];
    record_leaky(dir, db, sizeof db);
    char *up[] = {HT, "sql", "--write", db,
                  "UPDATE meta SET value='99' WHERE key='schema_version'", NULL};
    assert_int_equal(e2e_run(up, NULL, NULL, 0), 0);
    expect_fail(db, "newer");
    e2e_rmtree(dir);
}

/* Run sample without heaptrail run; return the path of its spill in buf. */
static void leave_spill(const char *dir, const char *sample, char *db, size_t n,
                        char *spill, size_t sn)
{
    snprintf(db, n, "%s/trace.db", dir);
    char env[600], prog[512];
    snprintf(env, sizeof env, "HEAPTRAIL_TRACE=%s", db);
    snprintf(prog, sizeof prog, "%s/%s", HT_SAMPLE_DIR, sample);
    char *argv[] = {prog, NULL};
    assert_int_equal(e2e_run(argv, env, NULL, 0), 0);
    char sd[600];
    snprintf(sd, sizeof sd, "%s.spill", db);
    DIR *d = opendir(sd);
    assert_non_null(d);
    struct dirent *de;
    spill[0] = 0;
    while ((de = readdir(d)))
        if (strncmp(de->d_name, "spill-", 6) == 0)
            snprintf(spill, sn, "%s/%s", sd, de->d_name);
    closedir(d);
    assert_true(spill[0] != 0);
}

static void test_torn_spill(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("torn");
    char db[512], spill[1024];
    /* threads fills 2 chunks per worker thread (+ any of the main thread);
     * cut the file 20 bytes into the first record of the last chunk handed
     * out: the chunks before it survive whole */
    leave_spill(dir, "threads", db, sizeof db, spill, sizeof spill);
    FILE *f = fopen(spill, "rb");
    assert_non_null(f);
    struct ht_spill_header *h = malloc(sizeof *h);
    assert_non_null(h);
    assert_int_equal(fread(h, sizeof *h, 1, f), 1);
    assert_true(h->next_chunk >= 8 && h->next_chunk <= h->max_chunks);
    size_t keep = (size_t)h->next_chunk - 1;
    size_t chunk_bytes = (size_t)h->chunk_records * sizeof(struct ht_spill_rec);
    off_t cut = h->header_size + (off_t)keep * (off_t)chunk_bytes + 20;
    /* expected: the valid records (compact or wide slots, not owner slots:
     * spill.h) of the chunks before the cut */
    long want = 0;
    struct ht_spill_rec rec;
    assert_int_equal(fseeko(f, h->header_size, SEEK_SET), 0);
    for (size_t i = 0; i < keep * h->chunk_records; i++) {
        assert_int_equal(fread(&rec, sizeof rec, 1, f), 1);
        unsigned k = ht_spill_kind_byte(rec.w[3]) & ~HT_SPILL_WIDE;
        want += k != 0 && k < HT_EV_KIND_COUNT;
    }
    fclose(f);
    free(h);
    /* 128000 alloc/free events; the lost chunk held at most chunk_records */
    assert_true(want >= 128000L - (long)HT_SPILL_CHUNK_RECORDS);
    assert_int_equal(truncate(spill, cut), 0);
    char *ing[] = {HT, "ingest", db, NULL};
    int rc = e2e_run2(ing, NULL, out, sizeof out, err, sizeof err);
    if (rc != 0)
        fail_msg("ingest: rc %d, stderr '%s'", rc, err);
    assert_int_equal(access(spill, F_OK), -1); /* ingested and removed */
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &st), HT_OK);
    assert_string_equal(e2e_sql1(st, "SELECT count(*) FROM runs"), "1");
    assert_string_equal(e2e_sql1(st, "SELECT complete FROM runs"), "0");
    char wants[32];
    snprintf(wants, sizeof wants, "%ld", want);
    assert_string_equal(e2e_sql1(st, "SELECT count(*) FROM events"), wants);
    assert_string_equal(e2e_sql1(st, "SELECT events FROM runs"), wants);
    ht_store_close(st);
    e2e_rmtree(dir);
}

static void test_garbage_spill(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("garbage");
    char db[512], sd[600], spill[700];
    snprintf(db, sizeof db, "%s/trace.db", dir);
    snprintf(sd, sizeof sd, "%s.spill", db);
    assert_int_equal(mkdir(sd, 0700), 0);
    snprintf(spill, sizeof spill, "%s/spill-999999-1.hts", sd);
    FILE *f = fopen(spill, "w");
    assert_non_null(f);
    for (int i = 0; i < 3 * 65536; i++)
        fputc((i * 17 + 3) & 0xff, f);
    fclose(f);
    char *ing[] = {HT, "ingest", db, NULL};
    int rc = e2e_run2(ing, NULL, out, sizeof out, err, sizeof err);
    if (rc == 0 || rc >= 128 || nlines(err) != 1 || !strstr(err, spill))
        fail_msg("ingest: rc %d, stderr '%s'", rc, err);
    assert_int_equal(access(spill, F_OK), 0); /* kept in place */
    e2e_rmtree(dir);
}

static void test_missing_trace(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("missing");
    char db[512];
    snprintf(db, sizeof db, "%s/nosuch.db", dir);
    expect_fail(db, db);
    /* the path is named once, not repeated by the CLI prefix */
    assert_null(strstr(strstr(err, db) + strlen(db), db));
    assert_non_null(strstr(err, "no such"));
    assert_int_equal(access(db, F_OK), -1); /* not created by report */
    e2e_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated_trace),
        cmocka_unit_test(test_corrupt_trace),
        cmocka_unit_test(test_not_sqlite),
        cmocka_unit_test(test_newer_schema),
        cmocka_unit_test(test_torn_spill),
        cmocka_unit_test(test_garbage_spill),
        cmocka_unit_test(test_missing_trace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
