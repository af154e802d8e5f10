/* The HTML report: strings from the trace are escaped, absent tables are
 * skipped, an unknown run is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "heaptrail/report.h"

static char db[64];

static ht_store *fresh(void)
{
    strcpy(db, "/tmp/ht_test_html_XXXXXX");
    int fd = mkstemp(db);
    assert_true(fd >= 0);
    close(fd);
    unlink(db);
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_CREATE, &st), HT_OK);
    return st;
}

static void done(ht_store *st, char *out)
{
    free(out);
    ht_store_close(st);
    unlink(db);
}

static char *render(ht_store *st, int64_t run, ht_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    struct ht_report rep;
    *err = ht_report_load(st, run, NULL, &rep);
    if (*err == HT_OK)
        *err = ht_report_html(st, &rep, f);
    ht_report_free(&rep);
    fclose(f);
    return buf;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static const char hostile[] =
    "</script><script>alert(1)</script><!-- \"q\" \\ & \xe2\x80\xa8 \x01";

static void test_strings_are_escaped(void **state)
{
    (void)state;
    ht_store *st = fresh();
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO runs(run_id, pid, program, argv, status, complete)"
             " VALUES(1, 42, 'p', '%s', 'exited', 1);"
             "CREATE TABLE site_stats(run_id INTEGER, pc INTEGER, allocs INTEGER,"
             " bytes_allocated INTEGER, frees INTEGER, live_blocks INTEGER,"
             " live_bytes INTEGER);"
             "INSERT INTO site_stats VALUES(1, 4096, 3, 300, 0, 3, 300);"
             "INSERT INTO site_stats VALUES(1, 8192, 'NaN', 'Infinity', 0, 0,"
             " '1.5e+20');"
             "INSERT INTO pcs(run_id, pc, file, line, func) VALUES(1, 4096,"
             " '%s', 7, 'f<b>');", hostile, hostile);
    assert_int_equal(ht_store_exec(st, sql), HT_OK);
    ht_err e;
    char *out = render(st, 1, &e);
    assert_int_equal(e, HT_OK);
    /* the only script ends are the page's own two */
    assert_int_equal(count(out, "</script>"), 2);
    assert_int_equal(count(out, "<script>alert"), 0);
    assert_int_equal(count(out, "<!--"), 0);
    assert_int_equal(count(out, "<b>"), 0);
    /* argv and pcs.file both appear, escaped exactly */
    assert_int_equal(count(out, "\"\\u003c/script\\u003e\\u003cscript\\u003ealert(1)"
                                "\\u003c/script\\u003e\\u003c!-- \\\"q\\\" \\\\ "
                                "\\u0026 \\u2028 \\u0001"), 2);
    assert_non_null(strstr(out, "\"f\\u003cb\\u003e\""));
    /* the site row: file, func, line, bytes, allocs, live bytes */
    assert_non_null(strstr(out, ",\"f\\u003cb\\u003e\",7,300,3,300]"));
    /* numeric columns holding non-numbers become null; a REAL too large
     * for an integer keeps its exponent */
    assert_non_null(strstr(out, "[\"?\",\"0x2000\",0,null,null,1.5e+20]"));
    /* tables that do not exist are null sections */
    assert_non_null(strstr(out, "\"snaps\":null"));
    assert_non_null(strstr(out, "\"pool_map\":null"));
    assert_non_null(strstr(out, "\"sites\":["));
    done(st, out);
}

/* the site tables of newer replays come from the report model: shown when
 * present, empty when their columns are not the expected ones (the page
 * must not fail) */
static void test_optional_tables(void **state)
{
    (void)state;
    ht_store *st = fresh();
    assert_int_equal(ht_store_exec(st,
        "INSERT INTO runs(run_id, pid, argv, status, complete)"
        " VALUES(3, 1, 'p', 'exited', 1);"
        "INSERT INTO pcs(run_id, pc, file, line, col, func)"
        " VALUES(3, 4096, 'a.c', 9, 3, 'g');"
        "INSERT INTO sites(site_id, kind, file, line, col, func)"
        " VALUES(5, 'incref', 'r.c', 4, NULL, '');"
        "CREATE TABLE churn(run_id, pc, size, allocs, frees, max_live, short_lived);"
        "INSERT INTO churn VALUES(3, 4096, 64, 1000, 999, 2, 990);"
        "INSERT INTO churn VALUES(3, 12288, 32, 7, 7, 1, 7);"
        "INSERT INTO churn VALUES(4, 4096, 64, 5, 5, 1, 5);"
        "CREATE TABLE refcount_sites(run_id, pc, site_id, increfs, decrefs,"
        " unbalanced);"
        "INSERT INTO refcount_sites VALUES(3, 0, 5, 2, 1, 1);"
        "INSERT INTO refcount_sites VALUES(3, 4096, NULL, 1, 1, 0);"
        "CREATE TABLE pinning(run_id, something_else);"
        "INSERT INTO pinning VALUES(3, 1);"), HT_OK);
    ht_err e;
    char *out = render(st, 3, &e);
    assert_int_equal(e, HT_OK);
    /* locations read as the report model's (ht__rep_loc_str): file:line:col
     * func, a NULL col 0, an empty func "?", an unresolved pc in hex; a pc
     * first, a site id when there is no pc */
    assert_non_null(strstr(out, "\"churn\":[\n[\"a.c:9:3 g\",64,1000,999,2,990],"
                                "\n[\"0x3000 (no debug info)\",32,7,7,1,7]]"));
    assert_non_null(strstr(out, "\"pinning\":[]"));
    /* only the unbalanced site, as in the text report */
    assert_non_null(strstr(out, "\"refcount_sites\":[\n[\"r.c:4:0 ?\",2,1]],"));
    done(st, out);
}

/* Rows of the JSON array "key":[...] in page (rows hold no "]]"). */
static size_t section_rows(const char *page, const char *key)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\":[", key);
    const char *s = strstr(page, k);
    assert_non_null(s);
    s += strlen(k);
    const char *e = strstr(s, "]]");
    size_t n = 0;
    for (const char *p = s; e && p < e && (p = strstr(p, "\n[")) && p < e; p++)
        n++;
    return n;
}

/* The site tables hold the model's rows: its row limit (60 peak sites, 50
 * shown, the largest first), only the last pinning snapshot's rows, the
 * order of the model. */
static void test_site_tables_are_the_models(void **state)
{
    (void)state;
    ht_store *st = fresh();
    assert_int_equal(ht_store_exec(st,
        "INSERT INTO runs(run_id, pid, argv, status, complete)"
        " VALUES(2, 1, 'p', 'exited', 1);"
        "CREATE TABLE peak_sites(run_id, pc, blocks, bytes);"
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k"
        " WHERE i < 60) INSERT INTO peak_sites SELECT 2, 4096 * i, 1, i FROM k;"
        "CREATE TABLE pinning(run_id, seq, pc, blocks, pools, arenas);"
        "INSERT INTO pinning VALUES(2, 17, 4096, 9, 9, 9);"
        "INSERT INTO pinning VALUES(2, 40, 4096, 2, 1, 0);"
        "INSERT INTO pinning VALUES(2, 40, 8192, 4, 2, 1);"), HT_OK);
    struct ht_report rep;
    assert_int_equal(ht_report_load(st, 2, NULL, &rep), HT_OK);
    assert_int_equal(rep.npeak_sites, 50);
    ht_report_free(&rep);
    ht_err e;
    char *out = render(st, 2, &e);
    assert_int_equal(e, HT_OK);
    assert_int_equal(section_rows(out, "peak_sites"), 50);
    assert_non_null(strstr(out, "\"peak_sites\":[\n[\"0x3c000 (no debug info)"
                                "\",1,60],\n[\"0x3b000 (no debug info)\",1,59],"));
    assert_non_null(strstr(out, ",\n[\"0xb000 (no debug info)\",1,11]],"));
    assert_non_null(strstr(out, "\"pinning\":[\n[\"0x2000 (no debug info)\",4,2,1],"
                                "\n[\"0x1000 (no debug info)\",2,1,0]],"));
    done(st, out);
}

static void test_unknown_run(void **state)
{
    (void)state;
    ht_store *st = fresh();
    ht_err e;
    char *out = render(st, 5, &e);
    assert_int_equal(e, HT_ENOTFOUND);
    assert_string_equal(out, ""); /* nothing written */
    free(out);
    struct ht_report rep = {0};
    assert_int_equal(ht_report_html(NULL, &rep, stdout), HT_EINVAL);
    assert_int_equal(ht_report_html(st, NULL, stdout), HT_EINVAL);
    ht_store_close(st);
    unlink(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings_are_escaped),
        cmocka_unit_test(test_optional_tables),
        cmocka_unit_test(test_site_tables_are_the_models),
        cmocka_unit_test(test_unknown_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
