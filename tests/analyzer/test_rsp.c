/*
 * heaptrail-cc response files (analyzer/cc/cc_rsp.c): gcc's quoting, nested
 * and self-naming files, and sizes that a per-argument realloc made
 * quadratic (a 200 000-argument file; 2000 nested expansions), each checked
 * argument by argument.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cc_rsp.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/ht_rsp.XXXXXX");
    return mkdtemp(dir) && chdir(dir) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void test_quoting_nesting(void **state)
{
    (void)state;
    put_file("in.rsp", "-DX='a b' \"\" -I\\ d\n@missing.rsp");
    put_file("out.rsp", "-c\t@in.rsp 'q\"r' x.c");
    char *argv[] = {"cc", "@out.rsp", "-o", "x.o"};
    struct ht_cc_args a;
    assert_int_equal(ht__cc_expand_args(4, argv, &a), 0);
    static const char *const want[] = {"cc", "-c", "-DX=a b", "", "-I d",
                                       "@missing.rsp", "q\"r", "x.c", "-o",
                                       "x.o"};
    assert_int_equal(a.n, 10);
    for (int i = 0; i < 10; i++)
        assert_string_equal(a.v[i], want[i]);
    assert_null(a.v[10]);
    assert_int_equal(a.nowned, 8); /* 4 of in.rsp, 4 of out.rsp (@in.rsp too) */
    assert_ptr_equal(a.v[0], argv[0]); /* borrowed, not copied */
    ht__cc_args_free(&a);
    ht__cc_args_free(NULL);
}

#define NBIG 200000

static void test_huge_file(void **state)
{
    (void)state;
    FILE *f = fopen("big.rsp", "w");
    assert_non_null(f);
    for (int i = 0; i < NBIG; i++)
        fprintf(f, i % 3 ? "-DA%d=%d\n" : "'-DA%d=%d' ", i, i);
    assert_int_equal(fclose(f), 0);
    char *argv[] = {"cc", "@big.rsp", "x.c"};
    struct ht_cc_args a;
    assert_int_equal(ht__cc_expand_args(3, argv, &a), 0);
    assert_int_equal(a.n, NBIG + 2);
    assert_int_equal(a.nowned, NBIG);
    assert_string_equal(a.v[0], "cc");
    char want[64];
    for (int i = 0; i < NBIG; i++) {
        snprintf(want, sizeof want, "-DA%d=%d", i, i);
        assert_string_equal(a.v[1 + i], want);
    }
    assert_string_equal(a.v[NBIG + 1], "x.c");
    assert_null(a.v[NBIG + 2]);
    ht__cc_args_free(&a);
}

/* A file naming itself is expanded 2000 times (the limit), then the
 * argument stays: 2000 files' worth of growth of both arrays. */
static void test_self_naming(void **state)
{
    (void)state;
    put_file("self.rsp", "-g @self.rsp");
    char *argv[] = {"cc", "@self.rsp"};
    struct ht_cc_args a;
    assert_int_equal(ht__cc_expand_args(2, argv, &a), 0);
    assert_int_equal(a.n, 2002);
    assert_int_equal(a.nowned, 4000);
    for (int i = 1; i <= 2000; i++)
        assert_string_equal(a.v[i], "-g");
    assert_string_equal(a.v[2001], "@self.rsp");
    assert_null(a.v[2002]);
    ht__cc_args_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quoting_nesting),
        cmocka_unit_test(test_huge_file),
        cmocka_unit_test(test_self_naming),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
