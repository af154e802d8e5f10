#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "heaptrail/err.h"
#include "heaptrail/event.h"
#include "heaptrail/selfdir.h"

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(ht_strerror(HT_OK), "success");
    assert_string_equal(ht_strerror(HT_ECORRUPT), "file is corrupt");
    assert_string_equal(ht_strerror((ht_err)-999), "unknown error");
}

static void test_kind_names(void **state)
{
    (void)state;
    assert_string_equal(ht_event_kind_name(HT_EV_ALLOC), "alloc");
    assert_string_equal(ht_event_kind_name(HT_EV_FREE), "free");
    assert_string_equal(ht_event_kind_name(HT_EV_STORE), "store");
    assert_string_equal(ht_event_kind_name(200), "unknown");
}

/* ht__self_dir: the absolute directory holding this test's binary (the
 * real test_common beside it, the same directory as realpath of
 * /proc/self/exe minus the name); a buffer one byte too short for the full
 * executable path is refused rather than cut. */
static void test_self_dir(void **state)
{
    (void)state;
    char dir[PATH_MAX], exe[PATH_MAX], want[PATH_MAX + 16];
    assert_int_equal(ht__self_dir(dir, sizeof dir), 0);
    assert_true(dir[0] == '/');
    assert_non_null(realpath("/proc/self/exe", exe));
    size_t dl = strlen(dir);
    assert_memory_equal(exe, dir, dl);
    assert_true(exe[dl] == '/');
    assert_string_equal(exe + dl + 1, "test_common");
    snprintf(want, sizeof want, "%s/test_common", dir);
    assert_int_equal(access(want, X_OK), 0);
    size_t el = strlen(exe);
    char small[PATH_MAX];
    assert_int_equal(ht__self_dir(small, el + 1), -1); /* no room for NUL */
    assert_int_equal(ht__self_dir(small, el + 2), 0);
    assert_string_equal(small, dir);
    assert_int_equal(ht__self_dir(small, 1), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_self_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
