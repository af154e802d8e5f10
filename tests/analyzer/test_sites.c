/*
 * Analyzer tests: site finder on samples/analyzer/stores.c, the rewriter's
 * output compiled with heaptrail-cc and run with HEAPTRAIL_TRACE, its spill
 * read back with a small reader (as tests/runtime/test_runtime.c does).
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "an_util.h"

#include "heaptrail/spill.h"
#include "tests/support/spill_read.h"
#include "sites.h"

#define SRC HT_SAMPLE_SRC "/stores.c"

static const char *const incs[] = {"obj_incref", "OBJ_INCREF"};
static const char *const decs[] = {"obj_decref"};

static void find(struct ht_site_list *l)
{
    const char *argv[] = {"gcc", "-c", "-I" HT_SAMPLE_SRC, SRC};
    struct ht_site_opts o = {.inc_names = incs, .n_inc = 2, .dec_names = decs, .n_dec = 1};
    assert_int_equal(ht_sites_find(argv, 4, NULL, &o, l), HT_OK);
    assert_true(ht__sites_is_valid(l));
}

static const struct ht_site *at(const struct ht_site_list *l,
                                enum ht_site_kind k, unsigned line)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].kind == k && l->v[i].line == line)
            return &l->v[i];
    return NULL;
}

static size_t count(const struct ht_site_list *l, enum ht_site_kind k)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += l->v[i].kind == k;
    return n;
}

static void test_sites(void **state)
{
    (void)state;
    struct ht_site_list l;
    find(&l);
    char real[4096];
    assert_non_null(realpath(SRC, real));
    assert_string_equal(l.main_file, real);
    /* stores: lines 26-30, 32, 33, 34 (in SET_NEXT), 42; not `==` (31) */
    assert_int_equal(count(&l, HT_SITE_STORE), 9);
    assert_null(at(&l, HT_SITE_STORE, 31));
    const unsigned plain[] = {26, 27, 28, 29, 30, 32, 33, 42};
    for (size_t i = 0; i < 8; i++) {
        const struct ht_site *s = at(&l, HT_SITE_STORE, plain[i]);
        assert_non_null(s);
        assert_true(s->rewritable);
        assert_string_equal(s->macro, "");
        assert_string_equal(s->func, "main");
        assert_string_equal(s->file, real);
    }
    const struct ht_site *s = at(&l, HT_SITE_STORE, 27);
    assert_string_equal(s->type, "struct node");
    assert_string_equal(s->field, "next");
    assert_int_equal(s->col, 5);
    s = at(&l, HT_SITE_STORE, 32);
    assert_string_equal(s->field, "val");
    assert_int_equal(s->col, 9);
    s = at(&l, HT_SITE_STORE, 34);
    assert_false(s->rewritable);
    assert_string_equal(s->macro, "SET_NEXT");
    assert_string_equal(s->field, "next");
    /* allocs: 21, 22, 35 (NEW); frees 44-47; `alloc_fn = malloc` is not a call */
    assert_int_equal(count(&l, HT_SITE_ALLOC), 3);
    assert_string_equal(at(&l, HT_SITE_ALLOC, 21)->type, "struct node");
    assert_string_equal(at(&l, HT_SITE_ALLOC, 22)->type, "struct node");
    assert_int_equal(at(&l, HT_SITE_ALLOC, 21)->col, 22);
    s = at(&l, HT_SITE_ALLOC, 35);
    assert_string_equal(s->macro, "NEW");
    assert_false(s->rewritable);
    assert_int_equal(count(&l, HT_SITE_FREE), 4);
    /* printf is a FunctionDecl, not an icall; alloc_fn(16) is */
    assert_int_equal(count(&l, HT_SITE_ICALL), 1);
    assert_int_equal(at(&l, HT_SITE_ICALL, 36)->col, 15);
    assert_int_equal(count(&l, HT_SITE_FUNC), 1);
    assert_non_null(at(&l, HT_SITE_FUNC, 19));
    /* refcount: direct call (37), inside unconfigured KEEP (38, rewritable
     * by redefining obj_incref for line 38 only), configured macro
     * OBJ_INCREF (39), decref (40) */
    assert_int_equal(count(&l, HT_SITE_INCREF), 3);
    assert_true(at(&l, HT_SITE_INCREF, 37)->rewritable);
    s = at(&l, HT_SITE_INCREF, 38);
    assert_string_equal(s->macro, "KEEP");
    assert_true(s->rewritable);
    assert_int_equal(s->redef_line, 38);
    assert_int_equal(s->redef_line2, 39);
    assert_string_equal(s->callee, "obj_incref");
    s = at(&l, HT_SITE_INCREF, 39);
    assert_string_equal(s->macro, "OBJ_INCREF");
    assert_true(s->rewritable);
    assert_string_equal(s->func, "main");
    assert_int_equal(count(&l, HT_SITE_DECREF), 1);
    assert_true(at(&l, HT_SITE_DECREF, 40)->rewritable);
    assert_int_equal(l.n, 9 + 3 + 4 + 1 + 1 + 3 + 1);
    /* ids: deterministic across parses */
    struct ht_site_list l2;
    find(&l2);
    assert_int_equal(l2.n, l.n);
    for (size_t i = 0; i < l.n; i++)
        assert_true(l.v[i].id == l2.v[i].id);
    ht_sites_free(&l2);
    ht_sites_free(&l);
}

/* gcc-only flags give driver "unknown argument" errors: keep going. */
static void test_gcc_flags(void **state)
{
    (void)state;
    const char *argv[] = {"gcc", "-c", "-fplan9-extensions",
                          "-mindirect-branch=thunk-extern",
                          "-I" HT_SAMPLE_SRC, SRC, "-o", "x.o", "-MMD"};
    struct ht_site_opts o = {.inc_names = incs, .n_inc = 2, .dec_names = decs, .n_dec = 1};
    struct ht_site_list l;
    char dir[] = "/tmp/ht_an_XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(ht_sites_find(argv, 9, dir, &o, &l), HT_OK);
    assert_int_equal(l.n, 22);
    ht_sites_free(&l);
    /* the parse itself writes no depfile (-MMD is dropped) */
    assert_int_equal(rmdir(dir), 0);
    /* relative source resolved with the working directory */
    const char *rel[] = {"gcc", "-c", "-I.", "stores.c"};
    assert_int_equal(ht_sites_find(rel, 4, HT_SAMPLE_SRC, &o, &l), HT_OK);
    assert_int_equal(l.n, 22);
    assert_string_equal(l.v[0].file, l.main_file);
    assert_true(l.main_file[0] == '/');
    ht_sites_free(&l);
}

static void test_broken(void **state)
{
    (void)state;
    const char *argv[] = {"gcc", "-c", HT_SAMPLE_SRC "/broken.c"};
    struct ht_site_list l;
    memset(&l, 0xff, sizeof l);
    assert_int_equal(ht_sites_find(argv, 3, NULL, NULL, &l), HT_EPARSE);
    assert_null(l.v);
    assert_int_equal(l.n, 0);
}

static void test_rewrite_run(void **state)
{
    (void)state;
    struct ht_site_list l;
    find(&l);
    char dir[] = "/tmp/ht_an_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char rw[256], exe[256], cmd[2048], trace[256];
    snprintf(rw, sizeof rw, "%s/stores_rw.c", dir);
    snprintf(exe, sizeof exe, "%s/stores", dir);
    snprintf(trace, sizeof trace, "%s/t.db", dir);
    assert_int_equal(ht_rewrite_file(&l, rw), HT_OK);
    snprintf(cmd, sizeof cmd,
             "HEAPTRAIL_NO_REWRITE=1 HEAPTRAIL_REAL_CC='%s' '%s' -O1 -Wall "
             "-Wextra -Werror -I'%s' -o '%s' '%s'", /* already rewritten */
             HT_CC, HT_CC_WRAPPER, HT_SAMPLE_SRC, exe, rw);
    assert_int_equal(system(cmd), 0);
    char out[256];
    snprintf(out, sizeof out, "%s/out.txt", dir);
    snprintf(cmd, sizeof cmd, "cd '%s' && HEAPTRAIL_TRACE='%s' '%s' > '%s'",
             dir, trace, exe, out);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    void *slot, *nw, *old, *obj;
    long rc;
    assert_int_equal(fscanf(f, "slot=%p new=%p old=%p\n", &slot, &nw, &old),
                     3);
    assert_int_equal(fscanf(f, "obj=%p rc=%ld", &obj, &rc), 2);
    fclose(f);
    assert_int_equal(rc, 3); /* 1 + incref(37) + OBJ_INCREF(39)... */
    /* read the spill */
    size_t n;
    int nsp;
    struct ht_rec *r = ht_test_spill_read(trace, &n, &nsp);
    assert_non_null(r);
    size_t nstore = 0, ninc = 0, ndec = 0, hit42 = 0;
    const uint64_t id42 = at(&l, HT_SITE_STORE, 42)->id;
    const uint64_t id37 = at(&l, HT_SITE_INCREF, 37)->id;
    const uint64_t id38 = at(&l, HT_SITE_INCREF, 38)->id;
    const uint64_t id39 = at(&l, HT_SITE_INCREF, 39)->id;
    const uint64_t id40 = at(&l, HT_SITE_DECREF, 40)->id;
    int seen37 = 0, seen38 = 0, seen39 = 0, seen40 = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i].kind == HT_EV_STORE) {
            nstore++;
            assert_true(r[i].flags & HT_EVF_SITE);
            if (r[i].d == id42) {
                hit42++;
                assert_true(r[i].a == (uintptr_t)slot);
                assert_true(r[i].b == (uintptr_t)nw);
                assert_true(r[i].c == (uintptr_t)old);
            }
        } else if (r[i].kind == HT_EV_INCREF) {
            ninc++;
            assert_true(r[i].a == (uintptr_t)obj);
            seen37 += r[i].d == id37;
            seen38 += r[i].d == id38;
            seen39 += r[i].d == id39;
        } else if (r[i].kind == HT_EV_DECREF) {
            ndec++;
            assert_true(r[i].a == (uintptr_t)obj);
            seen40 += r[i].d == id40;
        }
    }
    free(r);
    assert_int_equal(nsp, 1);
    /* executed rewritable stores: 26, 27, 28, 29, 30, 32, 33, 42 and 34
     * (SET_NEXT's body, through the expansion of the invocation) */
    assert_int_equal(nstore, 9);
    assert_int_equal(hit42, 1);
    assert_int_equal(ninc, 3);
    assert_int_equal(seen37, 1);
    assert_int_equal(seen38, 1);
    assert_int_equal(seen39, 1);
    assert_int_equal(ndec, 1);
    assert_int_equal(seen40, 1);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    ht_sites_free(&l);
}

/* Number of events of one kind in the (single) spill of trace. */
static size_t count_kind(const char *trace, unsigned kind)
{
    size_t n, k = 0;
    int nsp;
    struct ht_rec *r = ht_test_spill_read(trace, &n, &nsp);
    assert_non_null(r);
    assert_int_equal(nsp, 1);
    for (size_t i = 0; i < n; i++)
        k += r[i].kind == kind;
    free(r);
    return k;
}

/* heaptrail-cc compile mode: instrumented object, fixed depfile, site
 * table; a file clang cannot parse is compiled as is with one warning. */
static void test_cc_compile(void **state)
{
    (void)state;
    char dir[] = "/tmp/ht_an_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[2048], p[400];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && HEAPTRAIL_REAL_CC='%s' HEAPTRAIL_OPTS='"
             "--refcount-inc=obj_incref,OBJ_INCREF --refcount-dec=obj_decref'"
             " '%s' -c -MMD -Wall -Werror -I'%s' '%s' -o s.o 2> err.txt",
             dir, HT_CC, HT_CC_WRAPPER, HT_SAMPLE_SRC, SRC);
    assert_int_equal(system(cmd), 0);
    snprintf(p, sizeof p, "%s/err.txt", dir);
    assert_string_equal(an_slurp(p), "");
    snprintf(cmd, sizeof cmd, "nm '%s/s.o' | grep -c ' U ht_rt_store$' > '%s/nm.txt'",
             dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(p, sizeof p, "%s/nm.txt", dir);
    assert_string_equal(an_slurp(p), "1\n");
    snprintf(p, sizeof p, "%s/s.d", dir);
    char *d = an_slurp(p);
    assert_non_null(d);
    char real[4096];
    assert_non_null(realpath(SRC, real));
    assert_non_null(strstr(d, real));
    assert_null(strstr(d, "heaptrail-cc-"));
    /* the site table rides in the object's .heaptrail.sites section */
    snprintf(cmd, sizeof cmd, "objcopy --dump-section .heaptrail.sites='%s/s.tsv' "
             "'%s/s.o' '%s/s.tmp.o'", dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(p, sizeof p, "%s/s.tsv", dir);
    char *t = an_slurp(p);
    assert_non_null(t);
    size_t lines = 0;
    for (char *c = t; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 22); /* the 22 sites of test_sites, no header */
    /* nested stores, -Wshadow -Werror: 5 stores, same behaviour */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && HEAPTRAIL_REAL_CC='%s' '%s' -c -Wall -Wextra -Wshadow "
             "-Werror '%s' -o n.o 2> err.txt && HEAPTRAIL_REAL_CC='%s' '%s' "
             "-o n n.o && HEAPTRAIL_TRACE='%s/n.db' ./n > out.txt",
             dir, HT_CC, HT_CC_WRAPPER, HT_SAMPLE_SRC "/nested.c", HT_CC,
             HT_CC_WRAPPER, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(p, sizeof p, "%s/out.txt", dir);
    assert_string_equal(an_slurp(p), "1\n");
    snprintf(p, sizeof p, "%s/n.db", dir);
    assert_int_equal(count_kind(p, HT_EV_STORE), 5);
    /* unparsable file: compiled as is, exactly one warning line */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && HEAPTRAIL_REAL_CC='%s' '%s' -c '%s' -o b.o 2> err.txt",
             dir, HT_CC, HT_CC_WRAPPER, HT_SAMPLE_SRC "/broken.c");
    assert_int_equal(system(cmd), 0);
    snprintf(p, sizeof p, "%s/b.o", dir);
    assert_int_equal(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/err.txt", dir);
    assert_string_equal(an_slurp(p),
                        "heaptrail-cc: warning: " HT_SAMPLE_SRC
                        "/broken.c not instrumented: parse error\n");
    /* invalid options: a clear error, no compile */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && HEAPTRAIL_REAL_CC='%s' HEAPTRAIL_OPTS=--bogus '%s' -c "
             "'%s' -o x.o 2> err.txt",
             dir, HT_CC, HT_CC_WRAPPER, HT_SAMPLE_SRC "/broken.c");
    assert_int_not_equal(system(cmd), 0);
    assert_non_null(strstr(an_slurp(p), "unknown option '--bogus'"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* A refcount function that is also a macro (as GLib's g_object_ref is)
 * is never redefined: its call from a macro body stays unrecorded. */
static void test_redef_guard(void **state)
{
    (void)state;
    char dir[] = "/tmp/ht_an_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[300];
    snprintf(p, sizeof p, "%s/m.c", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("struct o { int rc; };\n"
          "void obj_ref(struct o *x);\n"
          "void obj_unref(struct o *x);\n"
          "#define obj_ref(x) (obj_ref)(x)\n"
          "#define HOLD(x) obj_ref(x)\n"
          "#define DROP(x) obj_unref(x)\n"
          "void f(struct o *x)\n"
          "{\n"
          "    HOLD(x);\n"
          "    DROP(x);\n"
          "}\n", f);
    fclose(f);
    static const char *const inc[] = {"obj_ref"}, *const dec[] = {"obj_unref"};
    struct ht_site_opts o = {.inc_names = inc, .n_inc = 1, .dec_names = dec,
                             .n_dec = 1};
    const char *argv[] = {"gcc", "-c", p};
    struct ht_site_list l;
    assert_int_equal(ht_sites_find(argv, 3, NULL, &o, &l), HT_OK);
    const struct ht_site *s = at(&l, HT_SITE_INCREF, 9);
    assert_non_null(s);
    assert_false(s->rewritable); /* obj_ref is also a macro */
    s = at(&l, HT_SITE_DECREF, 10);
    assert_non_null(s);
    assert_true(s->rewritable); /* obj_unref is not */
    assert_string_equal(s->macro, "DROP");
    ht_sites_free(&l);
    unlink(p);
    rmdir(dir);
}

/* Header sites (samples/cc/hbuf.h, included by hbuf_a.c and hbuf_b.c):
 * the 6 allocator calls of its static inline helpers, with the header's
 * real path and the same ids from both TUs; none from system headers, and
 * the main list (what is rewritten and analyzed) holds no header site. */
static void test_header_sites(void **state)
{
    (void)state;
    static const char *const tu[] = {"hbuf_a.c", "hbuf_b.c"};
    uint64_t ids[2][6];
    char real[4096];
    assert_non_null(realpath(HT_SAMPLE_SRC "/../cc/hbuf.h", real));
    for (int t = 0; t < 2; t++) {
        char src[600];
        snprintf(src, sizeof src, "%s/../cc/%s", HT_SAMPLE_SRC, tu[t]);
        const char *argv[] = {"gcc", "-c", src};
        struct ht_site_list l;
        assert_int_equal(ht_sites_find(argv, 3, NULL, NULL, &l), HT_OK);
        assert_int_equal(l.nh, 6);
        /* line, col, free?, dead? (hbuf_raw's folded ?: keeps malloc) */
        static const unsigned want[6][4] = {{15, 22, 0, 0}, {16, 15, 0, 0},
                                            {23, 5, 1, 0},  {24, 5, 1, 0},
                                            {30, 30, 0, 0}, {30, 42, 0, 1}};
        for (size_t i = 0; i < 6; i++) {
            assert_string_equal(l.hv[i].file, real);
            assert_int_equal(l.hv[i].line, want[i][0]);
            assert_int_equal(l.hv[i].col, want[i][1]);
            assert_int_equal(l.hv[i].kind, want[i][2] ? HT_SITE_FREE
                                                      : HT_SITE_ALLOC);
            assert_int_equal(l.hv[i].dead, (int)want[i][3]);
            assert_false(l.hv[i].rewritable);
            ids[t][i] = l.hv[i].id;
        }
        assert_string_equal(l.hv[0].type, "struct hbuf");
        for (size_t i = 0; i < l.n; i++)
            assert_string_not_equal(l.v[i].file, real);
        ht_sites_free(&l);
    }
    assert_memory_equal(ids[0], ids[1], sizeof ids[0]);
}

/* `?:` with an integer constant condition: the calls of the branch it
 * never selects are dead (TSV ccol 0, joined by no return address);
 * a variable condition leaves both live. */
static void test_dead_branches(void **state)
{
    (void)state;
    static const char src[] =
        "#include <stdlib.h>\n"
        "void *f(int c, size_t n) {\n"
        "  void *a = sizeof(int) > 2 ? malloc(n) : calloc(1, n);\n"
        "  void *b = c ? malloc(n) : calloc(1, n);\n"
        "  void *d = 0 ? malloc(n) : (1 ? calloc(1, n) : realloc(a, n));\n"
        "  free(b); free(d); return a; }\n";
    const char *argv[] = {"gcc", "-c", "/tmp/ht_dead_branches.c"};
    struct ht_site_list l;
    assert_int_equal(ht__sites_find_text(argv, 3, NULL, argv[2], src,
                                         sizeof src - 1, &l), HT_OK);
    char got[256] = "";
    for (size_t i = 0; i < l.n; i++)
        if (l.v[i].kind == HT_SITE_ALLOC)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%u:%u%s",
                     *got ? " " : "", l.v[i].line, l.v[i].col,
                     l.v[i].dead ? "=dead" : "");
    assert_string_equal(got, "3:31 3:43=dead 4:17 4:29 5:17=dead 5:34 "
                             "5:49=dead");
    ht_sites_free(&l);
}

/* samples/analyzer/macroedge.c: the stores of expandable macro
 * invocations become rewritable when the copy is written; the copy
 * compiles cleanly and keeps the line numbers. */
static void test_macro_edges(void **state)
{
    (void)state;
    const char *argv[] = {"gcc", "-c", "-I" HT_SAMPLE_SRC,
                          HT_SAMPLE_SRC "/macroedge.c"};
    struct ht_site_list l;
    assert_int_equal(ht_sites_find(argv, 4, NULL, NULL, &l), HT_OK);
    assert_true(ht__sites_is_valid(&l));
    /* one splice per store but NAME's (# is refused); L's is not matched */
    assert_int_equal(l.nsp, 8);
    char dir[] = "/tmp/ht_an_XXXXXX", rw[300], cmd[1200];
    assert_non_null(mkdtemp(dir));
    snprintf(rw, sizeof rw, "%s/macroedge.c", dir);
    assert_int_equal(ht_rewrite_file(&l, rw), HT_OK);
    assert_int_equal(l.n_splice_failed, 1);
    static const struct {
        unsigned line;
        const char *macro;
        int rw;
    } want[] = {{22, "HLINK", 1}, {23, "L", 0},     {24, "NAME", 0},
                {25, "FIRST", 1}, {26, "FIRST", 1}, {27, "LINK", 1},
                {29, "LINK", 1},  {30, "IFSET", 1}, {31, "EACH", 1}};
    assert_int_equal(count(&l, HT_SITE_STORE), 9);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct ht_site *s = at(&l, HT_SITE_STORE, want[i].line);
        assert_non_null(s);
        assert_string_equal(s->macro, want[i].macro);
        assert_int_equal(s->rewritable, want[i].rw);
    }
    snprintf(cmd, sizeof cmd,
             "'%s' -std=gnu11 -Wall -Wextra -Werror -I'%s' -c '%s' -o '%s/o.o'",
             HT_CC, HT_SAMPLE_SRC, rw, dir);
    assert_int_equal(system(cmd), 0);
    /* every recorded store went through ht_rt_store, with its own id */
    char *t = an_slurp(rw);
    assert_non_null(t);
    for (size_t i = 0; i < l.n; i++) {
        char id[40];
        snprintf(id, sizeof id, "0x%" PRIx64 "ULL", l.v[i].id);
        assert_int_equal(strstr(t, id) != NULL,
                         l.v[i].kind == HT_SITE_STORE && l.v[i].rewritable);
    }
    ht_sites_free(&l);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sites),
        cmocka_unit_test(test_gcc_flags),
        cmocka_unit_test(test_broken),
        cmocka_unit_test(test_rewrite_run),
        cmocka_unit_test(test_cc_compile),
        cmocka_unit_test(test_redef_guard),
        cmocka_unit_test(test_macro_edges),
        cmocka_unit_test(test_header_sites),
        cmocka_unit_test(test_dead_branches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
