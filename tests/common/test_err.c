#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "heaptrail/err.h"
#include "heaptrail/event.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_kind_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
