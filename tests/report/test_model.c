/* The report model on hand-written replay tables (the ones the replay
 * writes today and the planned ones: churn, refcount_sites, refcount error
 * kinds), suppressions, --fail-on, and the JSON/SARIF renderers read back. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "heaptrail/report.h"

static char path[64];

static const char tables[] =
    "INSERT INTO runs(run_id, pid, program, argv, status, exit_status,"
    " complete) VALUES(1, 42, '/bin/prog', 'prog a', 'exited', 3, 1);"
    "INSERT INTO runs(run_id, pid, program, argv, status, complete)"
    " VALUES(2, 43, '/bin/prog', 'prog b', 'running', 0);"
    "INSERT INTO pcs VALUES(1, 4096, 0, '/src/a.c', 10, 5, 'make_node', NULL);"
    "INSERT INTO pcs VALUES(1, 8192, 0, '/src/b.c', 20, 7, 'make_pair', NULL);"
    "INSERT INTO pcs VALUES(1, 12288, 0, '/src/b.c', 30, 3, 'release', NULL);"
    "INSERT INTO sites VALUES(777, 'store', '/src/a.c', 12, 9, 'drop', NULL,"
    " 'struct node', 'next');"
    "INSERT INTO sites VALUES(778, 'store', '/src/b.c', 22, 9, 'link', NULL,"
    " 'struct pair', 'prev');"
    "CREATE TABLE run_stats(run_id, allocs, reallocs, frees, bytes_allocated,"
    " peak_live_bytes, peak_live_blocks, peak_seq, live_blocks, live_bytes,"
    " invalid_frees, events);"
    "INSERT INTO run_stats VALUES(1, 10, 1, 4, 500, 300, 8, 17, 6, 200, 2, 40);"
    "CREATE TABLE objects(run_id, addr, size, alloc_seq, free_seq, pc, tid,"
    " refcnt, leak_kind, lost_seq, lost_by, lost_by_site);"
    "INSERT INTO objects VALUES(1, 1000, 40, 1, NULL, 4096, 1, 0, 'definite',"
    " 9, 'store', 777);"
    "INSERT INTO objects VALUES(1, 2000, 40, 2, NULL, 4096, 1, 0, 'definite',"
    " 11, 'store', 777);"
    "INSERT INTO objects VALUES(1, 3000, 16, 3, NULL, 4096, 1, 0, 'indirect',"
    " NULL, NULL, NULL);"
    "INSERT INTO objects VALUES(1, 4000, 32, 4, NULL, 8192, 1, 0, 'cycle',"
    " NULL, NULL, NULL);"
    "INSERT INTO objects VALUES(1, 5000, 32, 5, NULL, 8192, 1, 0, 'cycle',"
    " NULL, NULL, NULL);"
    "INSERT INTO objects VALUES(1, 6000, 40, 6, NULL, 4096, 1, 0, 'reachable',"
    " NULL, NULL, NULL);"
    "CREATE VIEW leak_summary AS SELECT run_id, leak_kind AS category,"
    " COUNT(*) AS blocks, SUM(size) AS bytes FROM objects WHERE leak_kind IS"
    " NOT NULL GROUP BY run_id, leak_kind;"
    "CREATE TABLE errors(run_id, seq, kind, addr, pc);"
    "INSERT INTO errors VALUES(1, 20, 'double_free', 1000, 12288);"
    "INSERT INTO errors VALUES(1, 25, 'double_free', 1000, 12288);"
    "INSERT INTO errors VALUES(1, 30, 'refcount_below_zero', 2000, 12288);"
    "CREATE TABLE cycles(run_id, cycle_id, members, bytes);"
    "INSERT INTO cycles VALUES(1, 1, 2, 64);"
    "CREATE TABLE cycle_members(run_id, cycle_id, addr, size, alloc_seq, pc);"
    "INSERT INTO cycle_members VALUES(1, 1, 5000, 32, 5, 8192);"
    "INSERT INTO cycle_members VALUES(1, 1, 4000, 32, 4, 8192);"
    "CREATE TABLE cycle_edges(run_id, cycle_id, from_addr, offset, to_addr,"
    " store_seq, store_site);"
    "INSERT INTO cycle_edges VALUES(1, 1, 4000, 0, 5000, 7, 0);"
    "INSERT INTO cycle_edges VALUES(1, 1, 5000, 8, 4000, 8, 778);"
    "CREATE TABLE frag_snapshots(run_id, seq, kind, arenas, pools_used,"
    " blocks_in_use, bytes_in_use, utilisation, unused_pools, bytes_total,"
    " raw_blocks, live_bytes, bytes_quantization);"
    "INSERT INTO frag_snapshots VALUES(1, 17, 'peak', 2, 9, 8, 300, 0.5, 1,"
    " 600.0, 0, 300, 0);"
    "INSERT INTO frag_snapshots VALUES(1, 40, 'exit', 1, 3, 6, 200, 0.25, 61,"
    " 800.0, 0, 200, 0);"
    "CREATE TABLE gc_collections(run_id, n, seq, generation, collected,"
    " count0, count1, count2);"
    "INSERT INTO gc_collections VALUES(1, 1, 10, 0, 2, 0, 0, 0);"
    "INSERT INTO gc_collections VALUES(1, 2, 20, 0, 0, 0, 0, 0);"
    "INSERT INTO gc_collections VALUES(1, 3, 30, 2, 5, 0, 0, 0);"
    "CREATE TABLE churn(run_id, pc, size, allocs, frees, max_live,"
    " short_lived);"
    "INSERT INTO churn VALUES(1, 12288, 64, 1000, 1000, 1, 990);"
    "CREATE TABLE refcount_sites(run_id, pc, site_id, increfs, decrefs,"
    " unbalanced);"
    "INSERT INTO refcount_sites VALUES(1, 12288, NULL, 5, 3, 1);"
    "INSERT INTO refcount_sites VALUES(1, 4096, NULL, 2, 2, 0);"
    "CREATE TABLE peak_sites(run_id, pc, blocks, bytes);"
    "INSERT INTO peak_sites VALUES(1, 4096, 3, 120);"
    "INSERT INTO peak_sites VALUES(1, 8192, 2, 180);"
    "CREATE TABLE pinning(run_id, seq, pc, blocks, pools, arenas);"
    "INSERT INTO pinning VALUES(1, 17, 4096, 9, 9, 9);"
    "INSERT INTO pinning VALUES(1, 40, 4096, 2, 1, 0);"
    "INSERT INTO pinning VALUES(1, 40, 8192, 4, 2, 1);"
    "CREATE TABLE gc_stats(run_id, generation, collections, collected,"
    " uncollectable);"
    "INSERT INTO gc_stats VALUES(1, 0, 2, 2, 1);"
    "INSERT INTO gc_stats VALUES(1, 2, 1, 5, 3);";

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/ht_report_model_%d.db", (int)getpid());
    unlink(path);
    ht_store *st = NULL;
    if (ht_store_open(path, HT_STORE_CREATE, &st) != HT_OK)
        return -1;
    ht_err e = ht_store_exec(st, tables);
    ht_store_close(st);
    return e == HT_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    /* a read-only connection leaves the WAL files behind */
    static const char *const sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[sizeof path + 8];
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        unlink(p);
    }
    return 0;
}

static void load(struct ht_report *r, int64_t run, const ht_report_supp *s)
{
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(path, HT_STORE_READONLY, &st), HT_OK);
    assert_int_equal(ht_report_load(st, run, s, r), HT_OK);
    ht_store_close(st);
}

static void test_model(void **state)
{
    (void)state;
    struct ht_report r;
    load(&r, 1, NULL);
    assert_string_equal(r.argv, "prog a");
    assert_int_equal(r.exit_status, 3);
    assert_int_equal(r.signal, -1);
    assert_int_equal(r.peak_bytes, 300);
    assert_int_equal(r.leak_blocks[HT_LEAK_DEFINITE], 2);
    assert_int_equal(r.leak_bytes[HT_LEAK_DEFINITE], 80);
    assert_int_equal(r.leak_bytes[HT_LEAK_INDIRECT], 16);
    assert_int_equal(r.leak_bytes[HT_LEAK_CYCLE], 64);
    assert_int_equal(r.leak_bytes[HT_LEAK_REACHABLE], 40);
    /* leak groups: definite 80 first; lost_at from the latest drop */
    assert_int_equal(r.nleaks, 3);
    assert_int_equal(r.leaks[0].kind, HT_LEAK_DEFINITE);
    assert_string_equal(r.leaks[0].alloc.func, "make_node");
    assert_int_equal(r.leaks[0].lost_seq, 11);
    assert_string_equal(r.leaks[0].lost_by, "store");
    assert_string_equal(r.leaks[0].lost_at.func, "drop");
    assert_int_equal(r.leaks[0].lost_at.line, 12);
    /* the cycle: members in allocation order, edges labelled */
    assert_int_equal(r.ncycles, 1);
    assert_int_equal(r.cycles[0].nmembers, 2);
    assert_int_equal(r.cycles[0].members[0].addr, 4000);
    assert_int_equal(r.cycles[0].members[0].label, 'A');
    assert_int_equal(r.cycles[0].nedges, 2);
    assert_int_equal(r.cycles[0].edges[0].from, 0);
    assert_null(r.cycles[0].edges[0].store.field);
    assert_string_equal(r.cycles[0].edges[1].store.field, "prev");
    /* errors grouped per (kind, site) */
    assert_int_equal(r.nerrors, 2);
    assert_string_equal(r.errors[0].kind, "double_free");
    assert_int_equal(r.errors[0].count, 2);
    assert_int_equal(r.errors[0].first_seq, 20);
    assert_string_equal(r.errors[0].at.func, "release");
    assert_true(r.frag_exit.present);
    assert_string_equal(r.frag_exit.kind, "exit");
    assert_int_equal(r.frag_peak.arenas, 2);
    assert_int_equal(r.gc_collections, 3);
    assert_int_equal(r.gens[0].collections, 2);
    assert_int_equal(r.gc_collected, 7);
    assert_int_equal(r.nchurn, 1);
    assert_int_equal(r.churn[0].allocs, 1000);
    assert_int_equal(r.nrefsites, 1); /* only the unbalanced one */
    assert_int_equal(r.refsites[0].increfs, 5);
    assert_int_equal(r.npeak_sites, 2);
    assert_int_equal(r.peak_sites[0].bytes, 180);
    assert_string_equal(r.peak_sites[0].at.func, "make_pair");
    assert_int_equal(r.npinning, 2); /* the last snapshot's rows only */
    assert_int_equal(r.pinning[0].pools, 2);
    assert_int_equal(r.pinning[0].arenas, 1);
    assert_int_equal(r.gc_uncollectable, 4);
    assert_int_equal(ht_report_failures(&r, ~0u), HT_REPORT_FAIL_LEAKS |
                     HT_REPORT_FAIL_CYCLES | HT_REPORT_FAIL_REFCOUNT |
                     HT_REPORT_FAIL_INVALID_FREE);
    ht_report_free(&r);
    ht_report_free(&r); /* idempotent */
    ht_report_free(NULL);
}

static void test_not_replayed(void **state)
{
    (void)state;
    struct ht_report r;
    load(&r, 2, NULL); /* run 2 has no rows: every section empty */
    assert_false(r.has_stats);
    assert_false(r.complete);
    assert_int_equal(r.nleaks + r.ncycles + r.nerrors + r.nchurn, 0);
    assert_int_equal(ht_report_failures(&r, ~0u), 0);
    char buf[4096];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    assert_int_equal(ht_report_text(&r, NULL, f), HT_OK);
    fclose(f);
    assert_non_null(strstr(buf, "not replayed"));
    ht_report_free(&r);
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(path, HT_STORE_READONLY, &st), HT_OK);
    assert_int_equal(ht_report_load(st, 99, NULL, &r), HT_ENOTFOUND);
    ht_report_free(&r);
    ht_store_close(st);
}

static ht_report_supp *supp_from(const char *text, ht_err want, int bad)
{
    char p[80];
    snprintf(p, sizeof p, "/tmp/ht_report_supp_%d", (int)getpid());
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    ht_report_supp *s = (ht_report_supp *)1;
    int line = -1;
    assert_int_equal(ht_report_supp_load(p, &s, &line), want);
    assert_int_equal(line, bad);
    unlink(p);
    if (want != HT_OK)
        assert_null(s);
    return s;
}

static void test_suppressions(void **state)
{
    (void)state;
    supp_from("leak:x\nbogus:y\n", HT_EPARSE, 2);
    supp_from("leak\n", HT_EPARSE, 1);
    supp_from("leak:a.c:zero\n", HT_EPARSE, 1);
    ht_report_supp_free(supp_from("# only a comment\n\n", HT_OK, 0));
    ht_report_supp *s = NULL;
    int line;
    assert_int_equal(ht_report_supp_load("/nonexistent/x", &s, &line), HT_ENOENT);
    /* by function glob, by file:line, by file glob for cycles */
    s = supp_from("leak:make_*   # comment\nerror:b.c:30\ncycle:b.c:*\n",
                  HT_OK, 0);
    struct ht_report r;
    load(&r, 1, s);
    assert_int_equal(r.leak_blocks[HT_LEAK_DEFINITE], 0);
    assert_int_equal(r.leak_blocks[HT_LEAK_CYCLE], 0);
    assert_int_equal(r.leak_blocks[HT_LEAK_REACHABLE], 1); /* never suppressed */
    assert_int_equal(r.suppressed_blocks, 5);
    assert_int_equal(r.suppressed_bytes, 160);
    assert_true(r.cycles[0].suppressed);
    assert_true(r.errors[0].suppressed);
    /* the refcount error at the same line is another category */
    assert_false(r.errors[1].suppressed);
    assert_int_equal(ht_report_failures(&r, ~0u), HT_REPORT_FAIL_REFCOUNT);
    ht_report_free(&r);
    ht_report_supp_free(s);
    ht_report_supp_free(NULL);
}

static void test_fail_on_parse(void **state)
{
    (void)state;
    unsigned m = 99;
    assert_int_equal(ht_report_parse_fail_on("leaks,cycles", &m), HT_OK);
    assert_int_equal(m, HT_REPORT_FAIL_LEAKS | HT_REPORT_FAIL_CYCLES);
    assert_int_equal(ht_report_parse_fail_on("invalid-free", &m), HT_OK);
    assert_int_equal(m, HT_REPORT_FAIL_INVALID_FREE);
    assert_int_equal(ht_report_parse_fail_on("all", &m), HT_OK);
    assert_int_equal(m, 0xf);
    assert_int_equal(ht_report_parse_fail_on("leaks,nope", &m), HT_EINVAL);
    assert_int_equal(m, 0);
    assert_int_equal(ht_report_parse_fail_on("", &m), HT_EINVAL);
    assert_int_equal(ht_report_parse_fail_on("leak", &m), HT_EINVAL);
}

/* Render into memory and parse back with jansson. */
static json_t *render(int sarif, const struct ht_report *r)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    assert_int_equal(sarif ? ht_report_sarif(r, 1, f) : ht_report_json(r, 1, f),
                     HT_OK);
    fclose(f);
    json_error_t je;
    json_t *doc = json_loads(buf, 0, &je);
    if (!doc)
        fail_msg("invalid JSON: %s", je.text);
    free(buf);
    return doc;
}

static void test_json_sarif(void **state)
{
    (void)state;
    struct ht_report r;
    load(&r, 1, NULL);
    json_t *doc = render(0, &r);
    assert_int_equal(json_integer_value(json_object_get(doc, "schema_version")), 1);
    json_t *run = json_array_get(json_object_get(doc, "runs"), 0);
    json_t *lk = json_array_get(json_object_get(run, "leaks"), 0);
    assert_string_equal(json_string_value(json_object_get(
        json_object_get(lk, "lost_at"), "function")), "drop");
    json_t *edge = json_array_get(json_object_get(json_array_get(
        json_object_get(run, "cycles"), 0), "edges"), 1);
    assert_string_equal(json_string_value(json_object_get(
        json_object_get(edge, "store_site"), "field")), "prev");
    json_decref(doc);

    doc = render(1, &r);
    assert_string_equal(json_string_value(json_object_get(doc, "version")), "2.1.0");
    json_t *res = json_object_get(json_array_get(json_object_get(doc, "runs"), 0),
                                  "results");
    /* 1 definite + 1 indirect site, 1 cycle, 2 error groups */
    assert_int_equal(json_array_size(res), 5);
    json_t *first = json_array_get(res, 0);
    assert_string_equal(json_string_value(json_object_get(first, "ruleId")), "HT1001");
    json_t *rel = json_array_get(json_object_get(first, "relatedLocations"), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(
        json_object_get(rel, "physicalLocation"), "region"), "startLine")), 12);
    json_decref(doc);
    ht_report_free(&r);
}

/* SARIF URIs are RFC 3986: a path with a space, '#' and '%' is
 * percent-encoded after file://. */
static void test_sarif_uri(void **state)
{
    (void)state;
    struct ht_report r;
    load(&r, 1, NULL);
    assert_true(r.nleaks > 0);
    r.leaks[0].alloc.file = "/src/my dir/a#b%c.c"; /* a literal: not freed */
    json_t *doc = render(1, &r);
    json_t *res = json_object_get(json_array_get(json_object_get(doc, "runs"), 0),
                                  "results");
    json_t *loc = json_array_get(json_object_get(json_array_get(res, 0),
                                                 "locations"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(
        json_object_get(loc, "physicalLocation"), "artifactLocation"), "uri")),
        "file:///src/my%20dir/a%23b%25c.c");
    json_decref(doc);
    ht_report_free(&r);
}

/* The text sections the e2e sample does not reach: refcount errors and
 * sites, churn, GC, peak attribution, pinning, a cycle with a known field. */
static void test_text_sections(void **state)
{
    (void)state;
    struct ht_report r;
    load(&r, 1, NULL);
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    assert_int_equal(ht_report_text(&r, NULL, f), HT_OK);
    fclose(f);
    static const char *const want[] = {
        "heaptrail report: run 1  prog a  (exited 3)\n",
        "   definitely lost: 80 bytes in 2 blocks\n",
        "    lost in cycles: 64 bytes in 2 blocks (1 cycle)\n",
        "  80 bytes in 2 blocks definitely lost, allocated at /src/a.c:10:5"
        " make_node\n      last reference dropped at /src/a.c:12:9 drop"
        " (event 11)\n",
        "    A+0 → B.prev → A\n",
        "    B.prev stored at /src/b.c:22:9 link (event 8)\n",
        "REFCOUNT ERRORS\n  refcount_below_zero x1 at /src/b.c:30:3 release"
        " (first at event 30)\n  unbalanced incref/decref sites:\n"
        "    +5 -3 at /src/b.c:30:3 release\n",
        "ERRORS\n  double_free x2 at /src/b.c:30:3 release (first at event 20)\n",
        "  fragmentation at exit: utilisation 25.00 % (200 of 800 arena bytes"
        " in use), 1 arena, 3 pools used, 61 unused\n",
        "  live at the peak: 180 bytes in 2 blocks from /src/b.c:20:7 make_pair\n",
        "  pinned: 2 pools, 1 arena kept alive by 4 blocks from /src/b.c:20:7"
        " make_pair\n",
        "  GC simulation: 3 collections (gen0 2, gen1 0, gen2 1), 7 objects"
        " collected\n",
        "  churn: 1,000 allocations of 64 bytes at /src/b.c:30:3 release (at"
        " most 1 live): reuse one buffer\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(buf, want[i]))
            fail_msg("missing:\n%s\nin:\n%s", want[i], buf);
    assert_null(strstr(buf, "\033["));
    free(buf);
    ht_report_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model),
        cmocka_unit_test(test_not_replayed),
        cmocka_unit_test(test_suppressions),
        cmocka_unit_test(test_fail_on_parse),
        cmocka_unit_test(test_json_sarif),
        cmocka_unit_test(test_sarif_uri),
        cmocka_unit_test(test_text_sections),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
