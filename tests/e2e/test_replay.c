/* E2E: a program with a refcounted object API, built with heaptrail-cc
 * (HEAPTRAIL_OPTS naming its incref/decref functions), run under heaptrail
 * run and replayed: its refcount errors, per-site counts and leaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "e2e_util.h"

/* line numbers matter: the test checks them */
static const char prog[] =
    "#include <stdlib.h>\n"                                           /* 1 */
    "struct obj { long rc; long pad; };\n"                            /* 2 */
    "__attribute__((noinline)) struct obj *obj_new(void)\n"           /* 3 */
    "{ struct obj *o = calloc(1, sizeof *o); o->rc = 1; return o; }\n" /* 4 */
    "__attribute__((noinline)) void obj_ref(struct obj *o) { o->rc++; }\n"
    "__attribute__((noinline)) void obj_unref(struct obj *o)\n"       /* 6 */
    "{ if (--o->rc == 0) free(o); }\n"                                /* 7 */
    "int main(void)\n"                                                /* 8 */
    "{\n"                                                             /* 9 */
    "    struct obj *a = obj_new();\n"                                /* 10 */
    "    obj_ref(a);\n"                                               /* 11 */
    "    obj_unref(a);\n"                                             /* 12 */
    "    obj_unref(a);\n"                                             /* 13 */
    "    struct obj *b = obj_new();\n"                                /* 14 */
    "    obj_ref(b);\n"                                               /* 15 */
    "    obj_unref(b);\n"                                             /* 16 */
    "    struct obj *c = obj_new();\n"                                /* 17 */
    "    obj_ref(c);\n"                                               /* 18 */
    "    free(c);\n"                                                  /* 19 */
    "    return 0;\n"                                                 /* 20 */
    "}\n";

static void test_refcounts(void **state)
{
    (void)state;
    const char *dir = e2e_tmpdir("replay");
    char src[512], exe[512], db[512], out[65536];
    snprintf(src, sizeof src, "%s/rc.c", dir);
    snprintf(exe, sizeof exe, "%s/rc", dir);
    snprintf(db, sizeof db, "%s/trace.db", dir);
    FILE *f = fopen(src, "w");
    assert_non_null(f);
    assert_int_equal(fputs(prog, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    char obj[520];
    snprintf(obj, sizeof obj, "%s.o", exe);
    /* compile and link apart: heaptrail-cc rewrites in compile mode (-c) */
    char *cc[] = {HT_BIN_DIR "/heaptrail-cc", "-O1", "-c", "-o", obj, src,
                  NULL};
    char *ld[] = {HT_BIN_DIR "/heaptrail-cc", "-o", exe, obj, NULL};
    assert_int_equal(e2e_run(cc, "HEAPTRAIL_OPTS=--refcount-inc=obj_ref "
                                 "--refcount-dec=obj_unref", out, sizeof out),
                     0);
    assert_int_equal(e2e_run(ld, NULL, out, sizeof out), 0);
    char *run[] = {HT_BIN_DIR "/heaptrail", "run", "-o", db, "--", exe, NULL};
    assert_int_equal(e2e_run(run, NULL, out, sizeof out), 0);
    char *rep[] = {HT_BIN_DIR "/heaptrail", "replay", db, NULL};
    assert_int_equal(e2e_run(rep, NULL, out, sizeof out), 0);

    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &st), HT_OK);
    /* c freed holding the reference taken at line 18; b lost holding the
     * creator's reference (obj_new's 1 + the ref at 15 - the unref at 16);
     * a balanced (1 + 1 - 2) and freed by its last unref */
    assert_string_equal(e2e_sql1(st,
        "SELECT group_concat(kind, ',') FROM (SELECT kind FROM errors"
        " ORDER BY seq)"), "freed_with_refs,refcount_not_zero");
    /* one row per call site (lines 11 12 13 15 16 18, in first-use order;
     * the site ids are the analyzer's, none a pc) */
    assert_string_equal(e2e_sql1(st,
        "SELECT group_concat(increfs || '/' || decrefs || '/' || unbalanced,"
        " ' ') FROM (SELECT * FROM refcount_sites WHERE pc IS NULL"
        " AND site_id IS NOT NULL ORDER BY rowid)"),
        "1/0/0 0/1/0 0/1/0 1/0/1 0/1/0 1/0/1");
    assert_string_equal(e2e_sql1(st,
        "SELECT category || ',' || blocks || ',' || bytes FROM leak_summary"),
        "definite,1,16");
    assert_string_equal(e2e_sql1(st,
        "SELECT refcnt FROM objects WHERE leak_kind='definite'"), "1");
    assert_string_equal(e2e_sql1(st,
        "SELECT allocs || ',' || frees || ',' || definite_blocks || ','"
        " || errors FROM run_summary"), "3,2,1,2");
    ht_store_close(st);

    /* --allocator system replaces the results: the same findings, and the
     * exit snapshot holds the one leaked 16-byte block as a raw block */
    char *sys[] = {HT_BIN_DIR "/heaptrail", "replay", db, "--allocator",
                   "system", NULL};
    assert_int_equal(e2e_run(sys, NULL, out, sizeof out), 0);
    char *bad[] = {HT_BIN_DIR "/heaptrail", "replay", db, "--allocator",
                   "jemalloc", NULL};
    assert_int_not_equal(e2e_run(bad, NULL, out, sizeof out), 0);
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &st), HT_OK);
    assert_string_equal(e2e_sql1(st,
        "SELECT category || ',' || blocks || ',' || bytes FROM leak_summary"),
        "definite,1,16");
    assert_string_equal(e2e_sql1(st,
        "SELECT arenas || ',' || raw_blocks || ',' || bytes_in_use || ','"
        " || utilisation FROM frag_snapshots WHERE kind='exit'"),
        "0,1,16,1.0");
    assert_string_equal(e2e_sql1(st, "SELECT count(*) FROM pool_map"), "0");
    ht_store_close(st);
    e2e_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refcounts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
