/*
 * E2E: every build shape heaptrail-cc meets in real builds, each producing
 * a program that records the STORE events of every source file and whose
 * allocations and frees all join a site (samples/cc: list.c, main.c,
 * twice.S; exact counts in samples/README.md).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "e2e_util.h"
#include "tests/analyzer/an_util.h"

#define CC HT_BIN_DIR "/heaptrail-cc"
#define S HT_SOURCE_DIR "/samples/cc"

static char dir[256];

/* Run a shell command in dir; its exit status. */
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    int n = snprintf(cmd, sizeof cmd, "cd '%s' && ", dir);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
    va_end(ap);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    return e2e_run(argv, NULL, NULL, 0);
}

static char *slurp(const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return an_slurp(p);
}

/* Run exe under heaptrail run and check the sample's exact events; list is
 * the base name list.c was compiled from. */
static void check_prog_list(const char *exe, const char *list)
{
    char db[512], path[512], out[256];
    snprintf(db, sizeof db, "%s/%s.db", dir, exe);
    snprintf(path, sizeof path, "%s/%s", dir, exe);
    char *run[] = {HT_BIN_DIR "/heaptrail", "run", "-o", db, "--", path, NULL};
    assert_int_equal(e2e_run(run, NULL, out, sizeof out), 0);
    assert_string_equal(out, "10\n");
    char want[64];
    snprintf(want, sizeof want, "%s=5,main.c=2", list);
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &st), HT_OK);
    /* every STORE carries a site of the source it was written in */
    assert_string_equal(e2e_sql1(st,
        "SELECT group_concat(f, ',') FROM (SELECT substr(s.file,"
        " length(rtrim(s.file, replace(s.file, '/', ''))) + 1) || '=' ||"
        " count(*) AS f FROM events e JOIN sites s ON s.site_id = e.site"
        " WHERE e.kind = 'store' GROUP BY s.file ORDER BY 1)"), want);
    assert_string_equal(e2e_sql1(st,
        "SELECT count(*) FROM events WHERE kind = 'store'"), "7");
    /* every allocation and free joins its call site */
    assert_string_equal(e2e_sql1(st,
        "SELECT e.kind || ':' || count(*) || ':' || count(p.site_id)"
        " || ':' || min(s.kind) || ':' || min(s.line) FROM events e"
        " JOIN pcs p ON p.run_id = e.run_id AND p.pc = e.pc"
        " LEFT JOIN sites s ON s.site_id = p.site_id"
        " WHERE e.kind = 'alloc'"), "alloc:5:5:alloc:7");
    assert_string_equal(e2e_sql1(st,
        "SELECT count(*) || ':' || count(p.site_id) FROM events e"
        " JOIN pcs p ON p.run_id = e.run_id AND p.pc = e.pc"
        " WHERE e.kind = 'free'"), "5:5");
    ht_store_close(st);
}

static void check_prog(const char *exe) { check_prog_list(exe, "list.c"); }

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s", e2e_tmpdir("ccshapes"));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    e2e_rmtree(dir);
    return 0;
}

/* heaptrail-cc -O2 -o prog a.c b.c x.S -lm: per-source instrumented
 * compiles to temporary objects, then the original link. */
static void test_compile_and_link(void **state)
{
    (void)state;
    assert_int_equal(sh("'%s' -O2 -o p1 '%s/list.c' '%s/main.c' '%s/twice.S' "
                        "-lm", CC, S, S, S), 0);
    check_prog("p1");
    /* -MMD in a compile-and-link command: gcc's "<output>.d", original
     * source named, no temporary path */
    assert_int_equal(sh("'%s' -MMD -o p1b '%s/twice.S' '%s/list.c' "
                        "'%s/main.c'", CC, S, S, S), 0);
    const char *d = slurp("p1b.d");
    assert_non_null(d);
    assert_non_null(strstr(d, "p1b: " S "/main.c " S "/list.h"));
    assert_null(strstr(d, "heaptrail-cc-"));
}

/* heaptrail-cc -c a.c b.c x.S: each input to its own object, depfiles per
 * object naming the original sources; then a link-only command. */
static void test_several_per_c(void **state)
{
    (void)state;
    assert_int_equal(sh("'%s' -c -MMD -O1 '%s/list.c' '%s/main.c' '%s/twice.S' "
                        "&& '%s' -o p2 list.o main.o twice.o",
                        CC, S, S, S, CC), 0);
    check_prog("p2");
    const char *d = slurp("list.d");
    assert_non_null(d);
    assert_non_null(strstr(d, "list.o: " S "/list.c"));
    assert_null(strstr(d, "heaptrail-cc-"));
    assert_non_null(strstr(slurp("main.d"), "main.o: " S "/main.c"));
    /* kbuild-style -Wp,-MD,<depfile> */
    assert_int_equal(sh("'%s' -c -Wp,-MD,.l.d '%s/list.c' -o l2.o", CC, S), 0);
    d = slurp(".l.d");
    assert_non_null(d);
    assert_non_null(strstr(d, ".o: " S "/list.c"));
    assert_null(strstr(d, "heaptrail-cc-"));
}

/* -x c on a file not named .c, the object put into an archive. */
static void test_x_c_and_archive(void **state)
{
    (void)state;
    assert_int_equal(sh("cp '%s/list.c' list.txt && '%s' -c -x c -I'%s' "
                        "list.txt -o l.o && ar rc libl.a l.o && '%s' -c "
                        "'%s/main.c' -o m.o && '%s' -c '%s/twice.S' -o t.o && "
                        "'%s' -o p3 m.o t.o libl.a", S, CC, S, CC, S, CC, S,
                        CC), 0);
    check_prog_list("p3", "list.txt");
}

/* -E and -o - pass through: byte-identical to the real compiler's. */
static void test_preprocess_passthrough(void **state)
{
    (void)state;
    assert_int_equal(sh("'%s' -E '%s/list.c' -o - > e1.txt && cc -E "
                        "'%s/list.c' -o - > e2.txt && cmp e1.txt e2.txt && "
                        "'%s' -M '%s/list.c' > m1.txt && cc -M '%s/list.c' > "
                        "m2.txt && cmp m1.txt m2.txt", CC, S, S, CC, S, S), 0);
}

/* ccache in front: its -E run passes through, the compile is instrumented,
 * and a cache hit keeps the site table (it is inside the object). */
static void test_ccache(void **state)
{
    (void)state;
    if (access("/usr/bin/ccache", X_OK) != 0)
        skip();
    const char *env = "CCACHE_DIR=ccache CCACHE_NOHASHDIR=1 CCACHE_LOGFILE=";
    for (int i = 0; i < 2; i++)
        assert_int_equal(sh("rm -f *.o && for f in list.c main.c twice.S; "
                            "do %s ccache '%s' -c '%s'/$f || exit 1; done",
                            env, CC, S), 0);
    assert_int_equal(sh("%s ccache --print-stats | grep -q "
                        "'^direct_cache_hit\t[1-9]' && '%s' -o p4 list.o "
                        "main.o twice.o", env, CC), 0);
    check_prog("p4");
}

/* Parallel compiles share nothing: distinct temporaries, all cleaned up,
 * one log line each. */
static void test_parallel(void **state)
{
    (void)state;
    assert_int_equal(sh("mkdir -p tmp && for i in 1 2 3 4 5 6; do "
                        "TMPDIR=$PWD/tmp HEAPTRAIL_CC_LOG=par.log '%s' -c "
                        "'%s/list.c' -o par$i.o & done; wait && "
                        "test -z \"$(ls tmp)\" && "
                        "'%s' -o p5 par6.o '%s/main.c' '%s/twice.S'",
                        CC, S, CC, S, S), 0);
    const char *log = slurp("par.log");
    assert_non_null(log);
    char want[8192] = "";
    for (int i = 0; i < 6; i++)
        strcat(want, "instrumented\t" S "/list.c\tunrecorded=0\t"
                     "splice_failed=0\n");
    assert_string_equal(log, want);
    check_prog("p5");
}

/* clang as the real compiler: same events, same joins. */
static void test_clang(void **state)
{
    (void)state;
    if (access("/usr/bin/clang", X_OK) != 0)
        skip();
    assert_int_equal(sh("HEAPTRAIL_REAL_CC=clang '%s' -O2 -o p8 '%s/list.c' "
                        "'%s/main.c' '%s/twice.S'", CC, S, S, S), 0);
    check_prog("p8");
}

/* A module without the section: its "<path>.htsites" file is read instead;
 * with neither, the run simply has no sites. */
static void test_sidecar_table(void **state)
{
    (void)state;
    assert_int_equal(sh("'%s' -O2 -o p6 '%s/list.c' '%s/main.c' '%s/twice.S' && "
                        "objcopy --dump-section .heaptrail.sites=p6.htsites p6 && "
                        "objcopy -R .heaptrail.sites p6 && cp p6 p7 && "
                        "! objdump -h p6 | grep -q heaptrail", CC, S, S, S), 0);
    check_prog("p6");
    char db[512], path[512], out[64];
    snprintf(db, sizeof db, "%s/p7.db", dir);
    snprintf(path, sizeof path, "%s/p7", dir);
    char *run[] = {HT_BIN_DIR "/heaptrail", "run", "-o", db, "--", path, NULL};
    assert_int_equal(e2e_run(run, NULL, out, sizeof out), 0);
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &st), HT_OK);
    assert_string_equal(e2e_sql1(st, "SELECT count(*) FROM sites"), "0");
    assert_string_equal(e2e_sql1(st, "SELECT count(site_id) FROM pcs"), "0");
    ht_store_close(st);
}

/* The joined fraction of allocation events (pcs.site_id set) on
 * samples/cc/join.c: 6 of 6. Line 24's folded `?:` (gcc gives the
 * inlined malloc the column of the `:`) joins because its calloc is in the
 * never-selected branch (dead: no pc may join it), so the line has one
 * live call site. */
static void test_join_fraction(void **state)
{
    (void)state;
    assert_int_equal(sh("'%s' -O2 -Wall -Werror -o j '%s/join.c' && '%s' run "
                        "-o j.db -- ./j", CC, S, HT_BIN_DIR "/heaptrail"), 0);
    char db[512];
    snprintf(db, sizeof db, "%s/j.db", dir);
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &st), HT_OK);
    const char *frac =
        "SELECT count(p.site_id) || '/' || count(*) FROM events e"
        " JOIN pcs p ON p.run_id = e.run_id AND p.pc = e.pc WHERE e.kind = '%s'";
    char q[512];
    snprintf(q, sizeof q, frac, "alloc");
    assert_string_equal(e2e_sql1(st, q), "6/6");
    snprintf(q, sizeof q, frac, "free");
    assert_string_equal(e2e_sql1(st, q), "6/6");
    /* joined pcs show the call's source column (the strdup after a store,
     * the NEW macro), and the kind of the joined site */
    assert_string_equal(e2e_sql1(st,
        "SELECT group_concat(x, ' ') FROM (SELECT p.line || ':' || p.col || '='"
        " || coalesce(s.kind, '-') AS x FROM events e JOIN pcs p"
        " ON p.run_id = e.run_id AND p.pc = e.pc LEFT JOIN sites s"
        " ON s.site_id = p.site_id WHERE e.kind = 'alloc' ORDER BY p.line, p.col)"),
        "24:30=alloc 29:21=alloc 30:15=alloc 30:38=alloc 31:15=icall 32:42=alloc");
    /* the dead calls (24:42, 32:62) are sites that no pc joins */
    assert_string_equal(e2e_sql1(st,
        "SELECT group_concat(x, ' ') FROM (SELECT s.line || ':' || s.col || '=' ||"
        " (SELECT count(*) FROM pcs p WHERE p.site_id = s.site_id) AS x"
        " FROM sites s WHERE s.kind = 'alloc' AND s.file LIKE '%/join.c'"
        " AND ((s.line = 24 AND s.col = 42) OR (s.line = 32 AND s.col = 62))"
        " ORDER BY s.line)"),
        "24:42=0 32:62=0");
    ht_store_close(st);
}

/* ccache in front, keyed by `heaptrail-cc --print-opts-digest`
 * (CCACHE_COMPILERCHECK): same options hit, changed options miss and the
 * new object records the new refcount function; the instrumented compile
 * itself carries -D__HEAPTRAIL_OPTS__=<the same digest>. */
static void test_ccache_opts(void **state)
{
    (void)state;
    if (access("/usr/bin/ccache", X_OK) != 0)
        skip();
    const char *env = "CCACHE_DIR=$PWD/cc CCACHE_NOHASHDIR=1 CCACHE_LOGFILE= "
                      "CCACHE_COMPILERCHECK='%compiler% --print-opts-digest'";
    static const char *const opts[] = {"", "", "--refcount-dec=list_free",
                                       "--refcount-dec=list_free", ""};
    static const char *const stats[] = {"1:0", "1:1", "2:1", "2:2", "2:3"};
    static const char *const decref[] = {"0", "0", "1", "1", "0"};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(sh("rm -f m.o && %s HEAPTRAIL_OPTS='%s' ccache "
                            "'%s' -c -I'%s' '%s/main.c' -o m.o && "
                            "objcopy --dump-section .heaptrail.sites=s.tsv "
                            "m.o m2.o && grep -c '	decref	' s.tsv > n.txt;"
                            " %s ccache --print-stats | awk -F'	' "
                            "'$1==\"cache_miss\"{m=$2} "
                            "$1==\"direct_cache_hit\"{h=$2} "
                            "END{print m \":\" h}' > st.txt",
                            env, opts[i], CC, S, S, env), 0);
        char want[16];
        snprintf(want, sizeof want, "%s\n", decref[i]);
        assert_string_equal(slurp("n.txt"), want);
        snprintf(want, sizeof want, "%s\n", stats[i]);
        assert_string_equal(slurp("st.txt"), want);
    }
    /* the digest on the instrumented compile's command line */
    assert_int_equal(sh("printf '#!/bin/sh\\necho \"$*\" >> args.txt\\n"
                        "exec cc \"$@\"\\n' > rec.sh && chmod +x rec.sh && "
                        "for o in '' --refcount-dec=list_free; do "
                        "HEAPTRAIL_OPTS=$o HEAPTRAIL_REAL_CC=./rec.sh '%s' -c "
                        "-I'%s' '%s/main.c' -o m3.o && HEAPTRAIL_OPTS=$o "
                        "'%s' --print-opts-digest | cut -d' ' -f1 >> d.txt; "
                        "done", CC, S, S, CC), 0);
    char args[8192], dg[256], want[600];
    snprintf(args, sizeof args, "%s", slurp("args.txt"));
    snprintf(dg, sizeof dg, "%s", slurp("d.txt"));
    assert_int_equal(strlen(dg), 2 * 19);
    assert_true(strncmp(dg, dg + 19, 18) != 0);
    for (int i = 0; i < 2; i++) {
        snprintf(want, sizeof want, "-D__HEAPTRAIL_OPTS__=%.18s", dg + 19 * i);
        assert_non_null(strstr(args, want));
    }
}

/* @file response files, nested, with gcc's quoting: compile and link. */
static void test_response_file(void **state)
{
    (void)state;
    assert_int_equal(sh("mkdir -p 'a b' && printf '%%s\\n' "
                        "\"-o 'a b/p9' \\\"%s/list.c\\\" @inner.rsp\" > outer.rsp "
                        "&& printf '%%s\\n' '%s/main.c %s/twice.S -DX=a\\ b' "
                        "> inner.rsp && HEAPTRAIL_CC_LOG=rsp.log '%s' "
                        "@outer.rsp && cp 'a b/p9' p9", S, S, S, CC), 0);
    assert_string_equal(slurp("rsp.log"),
                        "instrumented\t" S "/list.c\tunrecorded=0\t"
                        "splice_failed=0\ninstrumented\t" S "/main.c\t"
                        "unrecorded=0\tsplice_failed=0\n");
    check_prog("p9");
    /* an unreadable @file is left for the compiler to report */
    assert_int_not_equal(sh("'%s' -c @missing.rsp 2> err.txt", CC), 0);
    assert_non_null(strstr(slurp("err.txt"), "missing.rsp"));
}

/* Allocations written in a header (samples/cc/hbuf.h: static inline
 * helpers used by two TUs, -O2 so they are inlined, one a folded `?:`):
 * every allocation and free joins its header site, listed by both objects
 * and kept once. */
static void test_header_sites(void **state)
{
    (void)state;
    assert_int_equal(sh("'%s' -O2 -c '%s/hbuf_a.c' -o ha.o && '%s' -O2 -c "
                        "'%s/hbuf_b.c' -o hb.o && '%s' -o ph ha.o hb.o && "
                        "'%s/heaptrail' run -o \"$PWD/ph.db\" -- ./ph > "
                        "ph.txt", CC, S, CC, S, CC, HT_BIN_DIR), 0);
    assert_string_equal(slurp("ph.txt"), "32\n");
    char db[512];
    snprintf(db, sizeof db, "%s/ph.db", dir);
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &st), HT_OK);
    assert_string_equal(e2e_sql1(st,
        "SELECT group_concat(x, ' ') FROM (SELECT e.kind || ':' ||"
        " s.line || ':' || s.col || '=' || count(*) AS x FROM events e"
        " JOIN pcs p ON p.run_id = e.run_id AND p.pc = e.pc"
        " JOIN sites s ON s.site_id = p.site_id"
        " WHERE e.kind IN ('alloc', 'free') AND s.file = '" S "/hbuf.h'"
        " GROUP BY e.kind, s.line, s.col ORDER BY s.line)"),
        "alloc:15:22=3 alloc:16:15=3 free:23:5=3 free:24:5=3 alloc:30:30=1");
    assert_string_equal(e2e_sql1(st,
        "SELECT count(*) || ':' || count(p.site_id) FROM events e"
        " JOIN pcs p ON p.run_id = e.run_id AND p.pc = e.pc"
        " WHERE e.kind IN ('alloc', 'free')"), "14:14");
    /* both objects list the header's 6 sites (one a dead calloc); the
     * trace keeps them once */
    assert_string_equal(e2e_sql1(st,
        "SELECT count(*) || ':' || sum(kind = 'alloc') FROM sites"
        " WHERE file = '" S "/hbuf.h'"), "6:4");
    ht_store_close(st);
    assert_int_equal(sh("for o in ha hb; do objcopy --dump-section "
                        ".heaptrail.sites=$o.tsv $o.o $o.x && grep -c "
                        "'/hbuf.h\t' $o.tsv; done > n.txt"), 0);
    assert_string_equal(slurp("n.txt"), "6\n6\n");
    /* the header reached as "src/../inc/hbuf.h" (relative -I): DWARF keeps
     * that spelling, the table has the real path; the join compares real
     * paths */
    assert_int_equal(sh("mkdir -p inc src && cp '%s/hbuf.h' inc && cp "
                        "'%s/hbuf_a.c' '%s/hbuf_b.c' src && cd src && "
                        "'%s' -O2 -I../inc -c hbuf_a.c && '%s' -O2 -I../inc "
                        "-c hbuf_b.c && '%s' -o pr hbuf_a.o hbuf_b.o && "
                        "'%s/heaptrail' run -o \"$PWD/pr.db\" -- ./pr",
                        S, S, S, CC, CC, CC, HT_BIN_DIR), 0);
    snprintf(db, sizeof db, "%s/src/pr.db", dir);
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &st), HT_OK);
    assert_string_equal(e2e_sql1(st,
        "SELECT count(*) || ':' || count(p.site_id) || ':' ||"
        " sum(p.file LIKE '%/src/../inc/hbuf.h') FROM events e"
        " JOIN pcs p ON p.run_id = e.run_id AND p.pc = e.pc"
        " WHERE e.kind IN ('alloc', 'free')"), "14:14:13");
    ht_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_compile_and_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_several_per_c, setup, teardown),
        cmocka_unit_test_setup_teardown(test_x_c_and_archive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_preprocess_passthrough, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ccache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parallel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_join_fraction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sidecar_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clang, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ccache_opts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_response_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_sites, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
