/*
 * Tests of the DWARF symbolizer against sym_fixture, a program built with
 * -g -O2 that prints its load bias and the return addresses of two calls to
 * my_alloc(): one direct, one inside an inlined static function; and the same
 * for one call inside the shared object sym_fixture_lib. Expected
 * file:line:column come from the fixture's source (marker comments).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/store_int.h"

struct fixture_run {
    uint64_t bias, direct, inl; /* main program */
    uint64_t lib_bias, lib;     /* shared object sym_fixture_lib */
};

static void run_prog(const char *prog, struct fixture_run *r)
{
    FILE *p = popen(prog, "r");
    assert_non_null(p);
    assert_int_equal(fscanf(p,
                            "bias %lx direct %lx inline %lx libbias %lx "
                            "lib %lx",
                            (unsigned long *)&r->bias,
                            (unsigned long *)&r->direct,
                            (unsigned long *)&r->inl,
                            (unsigned long *)&r->lib_bias,
                            (unsigned long *)&r->lib),
                     5);
    assert_int_equal(pclose(p), 0);
}

static void run_fixture(struct fixture_run *r)
{
    run_prog(SYM_FIXTURE, r);
}

/* Line and column (1-based) of the call of my_alloc/lib_alloc on the line
 * of src holding marker. */
static void site_of(const char *src, const char *marker, int *line, int *col)
{
    FILE *f = fopen(src, "r");
    char buf[512];
    int ln = 0;
    assert_non_null(f);
    *line = *col = 0;
    while (fgets(buf, sizeof(buf), f)) {
        ln++;
        char *m = strstr(buf, marker), *c = strstr(buf, "_alloc(");
        if (m && c) {
            *line = ln;
            while (c > buf && c[-1] != ' ')
                c--; /* start of the callee's name */
            *col = (int)(c - buf) + 1;
        }
    }
    fclose(f);
    assert_int_not_equal(*line, 0);
}

static void check_site_in(ht_symbolizer *sym, const char *prog,
                          const char *src, uint64_t bias, uint64_t pc,
                          const char *marker, const char *func)
{
    struct ht_symloc loc;
    char want_path[PATH_MAX], got_path[PATH_MAX];
    int line, col;

    site_of(src, marker, &line, &col);
    assert_int_equal(ht__sym_lookup(sym, prog, bias, pc, &loc), HT_OK);
    assert_non_null(loc.file);
    assert_true(loc.file[0] == '/');
    assert_non_null(realpath(src, want_path));
    assert_non_null(realpath(loc.file, got_path));
    assert_string_equal(got_path, want_path);
    assert_int_equal(loc.line, line);
    assert_int_equal(loc.col, col);
    assert_non_null(loc.func);
    assert_string_equal(loc.func, func);
}

static void check_site(ht_symbolizer *sym, const char *prog, uint64_t bias,
                       uint64_t pc, const char *marker, const char *func)
{
    check_site_in(sym, prog, SYM_FIXTURE_SRC, bias, pc, marker, func);
}

static void test_direct_and_inlined_sites(void **state)
{
    struct fixture_run r;
    ht_symbolizer *sym;
    (void)state;
    run_fixture(&r);
    assert_int_equal(ht__sym_new(&sym), HT_OK);
    assert_int_not_equal(r.bias, 0); /* PIE: loaded at a random address */
    check_site(sym, SYM_FIXTURE, r.bias, r.direct, "SITE_DIRECT",
               "outer_direct");
    check_site(sym, SYM_FIXTURE, r.bias, r.inl, "SITE_INLINE", "inl_make");
    ht__sym_free(sym);
}

static void test_shared_object(void **state)
{
    struct fixture_run r;
    ht_symbolizer *sym;
    (void)state;
    run_fixture(&r);
    assert_int_not_equal(r.lib_bias, 0);
    assert_int_equal(ht__sym_new(&sym), HT_OK);
    check_site_in(sym, SYM_FIXTURE_LIB, SYM_FIXTURE_LIB_SRC, r.lib_bias, r.lib,
                  "SITE_LIB", "lib_site");
    ht__sym_free(sym);
}

static void test_non_pie(void **state)
{
    struct fixture_run r;
    ht_symbolizer *sym;
    (void)state;
    run_prog(SYM_FIXTURE_NOPIE, &r);
    assert_int_equal(r.bias, 0);
    assert_int_equal(ht__sym_new(&sym), HT_OK);
    check_site(sym, SYM_FIXTURE_NOPIE, r.bias, r.direct, "SITE_DIRECT",
               "outer_direct");
    check_site(sym, SYM_FIXTURE_NOPIE, r.bias, r.inl, "SITE_INLINE",
               "inl_make");
    /* both modules in one symbolizer stay apart */
    run_fixture(&r);
    check_site(sym, SYM_FIXTURE, r.bias, r.direct, "SITE_DIRECT",
               "outer_direct");
    ht__sym_free(sym);
}

/* A second lookup of the same (path, pc) hits the cache: same strings. */
static void test_cache_returns_same_strings(void **state)
{
    struct fixture_run r;
    struct ht_symloc a, b;
    ht_symbolizer *sym;
    (void)state;
    run_fixture(&r);
    assert_int_equal(ht__sym_new(&sym), HT_OK);
    assert_int_equal(ht__sym_lookup(sym, SYM_FIXTURE, r.bias, r.direct, &a),
                     HT_OK);
    assert_int_equal(ht__sym_lookup(sym, SYM_FIXTURE, r.bias, r.direct, &b),
                     HT_OK);
    assert_ptr_equal(a.file, b.file);
    assert_ptr_equal(a.func, b.func);
    assert_int_equal(a.line, b.line);
    ht__sym_free(sym);
}

static void test_errors(void **state)
{
    struct ht_symloc loc;
    ht_symbolizer *sym;
    (void)state;
    assert_int_equal(ht__sym_new(&sym), HT_OK);
    memset(&loc, 0x5a, sizeof(loc));
    assert_int_equal(ht__sym_lookup(sym, "/nonexistent/heaptrail/x.so", 0,
                                    0x1234, &loc),
                     HT_ENOENT);
    assert_null(loc.file);
    assert_null(loc.func);
    assert_int_equal(loc.line, 0);
    /* an address far outside any code of the fixture */
    memset(&loc, 0x5a, sizeof(loc));
    assert_int_equal(ht__sym_lookup(sym, SYM_FIXTURE, 0, 0x7fff00000000ull,
                                    &loc),
                     HT_ENOTFOUND);
    assert_null(loc.file);
    assert_int_equal(loc.col, 0);
    /* a file that is not ELF */
    assert_int_equal(ht__sym_lookup(sym, SYM_FIXTURE_SRC, 0, 0x1000, &loc),
                     HT_ENOTFOUND);
    ht__sym_free(sym);
    ht__sym_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_direct_and_inlined_sites),
        cmocka_unit_test(test_non_pie),
        cmocka_unit_test(test_shared_object),
        cmocka_unit_test(test_cache_returns_same_strings),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
