/*
 * heaptrail-cc option parser (analyzer/cc/cc_opts.c): every option form,
 * config files with comments, the upward search, and malformed input, each
 * with its exact error line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cc_opts.h"

static void test_forms(void **state)
{
    (void)state;
    struct ht_cc_opts o;
    char err[600] = "";
    memset(&o, 0, sizeof o);
    assert_int_equal(
        ht_cc_opts_parse(&o,
                         " --refcount-inc=a,b\t--refcount-dec c --preset=glib"
                         " --alloc-fn pool_alloc:size=2 "
                         "--free-fn=pool_free:ptr=2 --alloc-fn=A:size=1 "
                         "--no-stores\n",
                         "HEAPTRAIL_OPTS", err, sizeof err),
        0);
    assert_string_equal(err, "");
    assert_int_equal(o.ni, 3);
    assert_string_equal(o.inc[0], "a");
    assert_string_equal(o.inc[1], "b");
    assert_string_equal(o.inc[2], "g_object_ref");
    assert_int_equal(o.nd, 2);
    assert_string_equal(o.dec[0], "c");
    assert_string_equal(o.dec[1], "g_object_unref");
    assert_int_equal(o.na, 2);
    assert_string_equal(o.alloc[0].name, "pool_alloc");
    assert_int_equal(o.alloc[0].arg, 2);
    assert_string_equal(o.alloc[1].name, "A");
    assert_int_equal(o.alloc[1].arg, 1);
    assert_int_equal(o.nf, 1);
    assert_string_equal(o.free[0].name, "pool_free");
    assert_int_equal(o.free[0].arg, 2);
    assert_int_equal(o.no_stores, 1);
    struct ht_site_opts so = ht_cc_opts_site_opts(&o);
    assert_int_equal(so.n_inc, 3);
    assert_int_equal(so.n_dec, 2);
    assert_int_equal(so.n_alloc_fns, 2);
    assert_int_equal(so.n_free_fns, 1);
    assert_ptr_equal(so.alloc_fns, o.alloc);
    assert_int_equal(so.no_stores, 1);
    /* a second source adds to the first */
    assert_int_equal(ht_cc_opts_parse(&o, "--preset=cpython", "x", err,
                                      sizeof err), 0);
    assert_int_equal(o.ni, 5);
    assert_string_equal(o.inc[4], "Py_XINCREF");
    assert_string_equal(o.dec[3], "Py_XDECREF");
    assert_int_equal(ht_cc_opts_parse(&o, NULL, "x", err, sizeof err), 0);
    assert_int_equal(ht_cc_opts_parse(&o, "  ", "x", err, sizeof err), 0);
    ht_cc_opts_free(&o);
    assert_null(o.owned);
    ht_cc_opts_free(NULL);
}

static void bad(const char *s, const char *want)
{
    struct ht_cc_opts o;
    char err[600] = "";
    memset(&o, 0, sizeof o);
    assert_int_equal(ht_cc_opts_parse(&o, s, "HEAPTRAIL_OPTS", err, sizeof err),
                     -1);
    assert_string_equal(err, want);
    ht_cc_opts_free(&o);
}

static void test_malformed(void **state)
{
    (void)state;
    bad("--bogus", "HEAPTRAIL_OPTS: unknown option '--bogus' (known: "
                   "--refcount-inc=A,B --refcount-dec=A,B --preset=cpython "
                   "--preset=glib --alloc-fn=NAME:size=N --free-fn=NAME:ptr=N "
                   "--no-stores)");
    bad("--no-stores=1", "HEAPTRAIL_OPTS: unknown option '--no-stores=1' "
                         "(known: --refcount-inc=A,B --refcount-dec=A,B "
                         "--preset=cpython --preset=glib "
                         "--alloc-fn=NAME:size=N --free-fn=NAME:ptr=N "
                         "--no-stores)");
    bad("--refcount-inc", "HEAPTRAIL_OPTS: --refcount-inc needs a value");
    bad("--refcount-inc=", "HEAPTRAIL_OPTS: --refcount-inc needs a value");
    bad("--refcount-inc=a,,b",
        "HEAPTRAIL_OPTS: --refcount-inc: '' is not a C identifier");
    bad("--refcount-dec=a,",
        "HEAPTRAIL_OPTS: --refcount-dec: '' is not a C identifier");
    bad("--refcount-dec=1x",
        "HEAPTRAIL_OPTS: --refcount-dec: '1x' is not a C identifier");
    bad("--preset=python",
        "HEAPTRAIL_OPTS: unknown preset 'python' (known: cpython, glib)");
    bad("--alloc-fn=pool_alloc",
        "HEAPTRAIL_OPTS: --alloc-fn: 'pool_alloc' is not NAME:size=N");
    bad("--alloc-fn=pool_alloc:ptr=1",
        "HEAPTRAIL_OPTS: --alloc-fn: 'pool_alloc:ptr=1' is not NAME:size=N");
    bad("--alloc-fn=pool_alloc:size",
        "HEAPTRAIL_OPTS: --alloc-fn: 'pool_alloc:size' is not NAME:size=N");
    bad("--alloc-fn=pool_alloc:size=0",
        "HEAPTRAIL_OPTS: --alloc-fn: argument number '0' is not in 1..127 "
        "(arguments count from 1)");
    bad("--alloc-fn=pool_alloc:size=",
        "HEAPTRAIL_OPTS: --alloc-fn: argument number '' is not in 1..127 "
        "(arguments count from 1)");
    bad("--alloc-fn=pool_alloc:size=-1",
        "HEAPTRAIL_OPTS: --alloc-fn: argument number '-1' is not in 1..127 "
        "(arguments count from 1)");
    bad("--alloc-fn=pool_alloc:size=2x",
        "HEAPTRAIL_OPTS: --alloc-fn: argument number '2x' is not in 1..127 "
        "(arguments count from 1)");
    bad("--alloc-fn=pool_alloc:size=99999999999999999999",
        "HEAPTRAIL_OPTS: --alloc-fn: argument number '99999999999999999999' "
        "is not in 1..127 (arguments count from 1)");
    bad("--alloc-fn=:size=1",
        "HEAPTRAIL_OPTS: --alloc-fn: '' is not a C identifier");
    bad("--free-fn=my-free:ptr=1",
        "HEAPTRAIL_OPTS: --free-fn: 'my-free' is not a C identifier");
    bad("--free-fn=f:size=1",
        "HEAPTRAIL_OPTS: --free-fn: 'f:size=1' is not NAME:ptr=N");
    bad("--free-fn", "HEAPTRAIL_OPTS: --free-fn needs a value");
    /* too many names */
    char many[65 * 4 + 32];
    strcpy(many, "--refcount-inc=");
    for (int i = 0; i < 65; i++)
        sprintf(many + strlen(many), "%sa%d", i ? "," : "", i % 10);
    bad(many, "HEAPTRAIL_OPTS: --refcount-inc: more than 64 names");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_config(void **state)
{
    (void)state;
    char dir[] = "/tmp/ht_opts_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[300], sub[300], cwd[4096];
    snprintf(p, sizeof p, "%s/.heaptrail-cc.conf", dir);
    write_file(p, "# heaptrail-cc options\n"
                  "--refcount-inc=obj_incref   # the API\n"
                  "\n"
                  "--alloc-fn pool_alloc:size=2\n"
                  "--free-fn=pool_free:ptr=2\n");
    snprintf(sub, sizeof sub, "%s/a/b", dir);
    char mk[400];
    snprintf(mk, sizeof mk, "mkdir -p '%s'", sub);
    assert_int_equal(system(mk), 0);
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(sub), 0);
    unsetenv("HEAPTRAIL_CONFIG");
    setenv("HEAPTRAIL_OPTS", "--refcount-dec=obj_decref", 1);
    struct ht_cc_opts o;
    char err[600] = "";
    /* found upward from the cwd; HEAPTRAIL_OPTS applies on top */
    assert_int_equal(ht_cc_opts_load(&o, err, sizeof err), 0);
    assert_string_equal(o.config, p);
    assert_int_equal(o.ni, 1);
    assert_string_equal(o.inc[0], "obj_incref");
    assert_int_equal(o.nd, 1);
    assert_string_equal(o.dec[0], "obj_decref");
    assert_int_equal(o.na, 1);
    assert_int_equal(o.alloc[0].arg, 2);
    assert_int_equal(o.nf, 1);
    ht_cc_opts_free(&o);
    /* HEAPTRAIL_CONFIG wins over the search; errors name file:line */
    char q[300];
    snprintf(q, sizeof q, "%s/other.conf", dir);
    write_file(q, "--preset=glib\n# fine\n--alloc-fn=x:size=zero\n");
    setenv("HEAPTRAIL_CONFIG", q, 1);
    assert_int_equal(ht_cc_opts_load(&o, err, sizeof err), -1);
    char want[700];
    snprintf(want, sizeof want,
             "%s:3: --alloc-fn: argument number 'zero' is not in 1..127 "
             "(arguments count from 1)", q);
    assert_string_equal(err, want);
    ht_cc_opts_free(&o);
    /* a missing config file is an error, not silently ignored */
    snprintf(q, sizeof q, "%s/missing.conf", dir);
    setenv("HEAPTRAIL_CONFIG", q, 1);
    assert_int_equal(ht_cc_opts_load(&o, err, sizeof err), -1);
    snprintf(want, sizeof want,
             "%s: cannot read the config file: No such file or directory", q);
    assert_string_equal(err, want);
    ht_cc_opts_free(&o);
    /* bad HEAPTRAIL_OPTS after a good file */
    unsetenv("HEAPTRAIL_CONFIG");
    setenv("HEAPTRAIL_OPTS", "--preset", 1);
    assert_int_equal(ht_cc_opts_load(&o, err, sizeof err), -1);
    assert_string_equal(err, "HEAPTRAIL_OPTS: --preset needs a value");
    ht_cc_opts_free(&o);
    unsetenv("HEAPTRAIL_OPTS");
    assert_int_equal(chdir(cwd), 0);
    snprintf(mk, sizeof mk, "rm -rf '%s'", dir);
    assert_int_equal(system(mk), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
