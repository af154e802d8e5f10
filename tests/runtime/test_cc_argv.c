/*
 * Tests of heaptrail-cc's argument handling (analyzer/cc/cc_argv.c) against
 * the rules of the brief: -g -fno-optimize-sibling-calls at compile steps,
 * wraps + runtime + -lpthread -ldl at link steps, -E/-M untouched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cc_argv.h"

#define RT "/x/libheaptrail_rt.a"

static int has(char **v, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

static void build(char **args, int argc, char ***v, int *n)
{
    assert_int_equal(ht_cc_build_argv(argc, args, "gcc", RT, v, n), HT_OK);
    assert_string_equal((*v)[0], "gcc");
    assert_null((*v)[*n]);
}

static void test_compile_only(void **state)
{
    (void)state;
    char *a[] = {"-c", "-O2", "x.c", "-o", "x.o"};
    char **v;
    int n;
    build(a, 5, &v, &n);
    assert_int_equal(n, 1 + 2 + 5);
    assert_true(has(v, n, "-g"));
    assert_true(has(v, n, "-fno-optimize-sibling-calls"));
    assert_false(has(v, n, "-Wl,--wrap=malloc"));
    assert_false(has(v, n, RT));
    free(v);
}

static void test_link_only(void **state)
{
    (void)state;
    char *a[] = {"x.o", "-o", "prog"};
    char **v;
    int n;
    build(a, 3, &v, &n);
    assert_true(has(v, n, "-Wl,--wrap=malloc"));
    assert_true(has(v, n, "-Wl,--wrap=free"));
    assert_true(has(v, n, "-Wl,--wrap=strdup"));
    assert_true(has(v, n, "-Wl,--wrap=execve"));
    assert_string_equal(v[n - 3], RT);
    assert_string_equal(v[n - 2], "-lpthread");
    assert_string_equal(v[n - 1], "-ldl");
    /* user arguments keep their order */
    assert_string_equal(v[3], "x.o");
    assert_string_equal(v[4], "-o");
    assert_string_equal(v[5], "prog");
    free(v);
}

static void test_compile_and_link(void **state)
{
    (void)state;
    char *a[] = {"x.c", "-o", "prog"};
    char **v;
    int n;
    build(a, 3, &v, &n);
    assert_true(has(v, n, "-g"));
    assert_true(has(v, n, "-Wl,--wrap=calloc"));
    assert_true(has(v, n, RT));
    free(v);
}

static void test_shared(void **state)
{
    (void)state;
    char *a[] = {"-shared", "-fPIC", "x.o", "-o", "libx.so"};
    char **v;
    int n;
    build(a, 5, &v, &n);
    assert_true(has(v, n, "-Wl,--wrap=realloc"));
    assert_true(has(v, n, RT));
    free(v);
}

static void test_passthrough(void **state)
{
    (void)state;
    char *e[] = {"-E", "x.c"};
    char *m[] = {"-M", "x.c"};
    char *ver[] = {"--version"};
    char **args[] = {e, m, ver};
    int counts[] = {2, 2, 1};
    for (int k = 0; k < 3; k++) {
        char **v;
        int n;
        build(args[k], counts[k], &v, &n);
        assert_int_equal(n, 1 + counts[k]);
        for (int i = 0; i < counts[k]; i++)
            assert_string_equal(v[1 + i], args[k][i]);
        free(v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compile_only),
        cmocka_unit_test(test_link_only),
        cmocka_unit_test(test_compile_and_link),
        cmocka_unit_test(test_shared),
        cmocka_unit_test(test_passthrough),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
