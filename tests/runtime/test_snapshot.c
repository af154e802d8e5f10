/* Exit snapshot: runs samples/snapshot with HEAPTRAIL_SNAPSHOT=1 and checks
 * the SNAPSHOT + EDGE events against the addresses the sample prints. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "heaptrail/event.h"
#include "heaptrail/spill.h"

static int has_edge(const struct ht_rec *r, size_t n, uint64_t a, uint64_t b)
{
    for (size_t i = 0; i < n; i++)
        if (r[i].kind == HT_EV_EDGE && r[i].a == a && r[i].b == b)
            return 1;
    return 0;
}

static void test_exit_snapshot(void **state)
{
    (void)state;
    char dir[] = "/tmp/ht_snapXXXXXX", cmd[600];
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd,
             "HEAPTRAIL_SNAPSHOT=1 HEAPTRAIL_TRACE=%s/t.db %s/snapshot > %s/out"
             " && cat %s/t.db.spill/* | head -c 8000000 > %s/sp",
             dir, HT_SAMPLE_DIR, dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    uint64_t g = 0, list[5] = {0}, lost[3] = {0};
    int nl = 0, nx = 0;
    char path[300], w[16];
    void *p;
    snprintf(path, sizeof path, "%s/out", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    while (fscanf(f, "%15s %p", w, &p) == 2) {
        if (!strcmp(w, "global"))
            g = (uintptr_t)p;
        else if (!strcmp(w, "list") && nl < 5)
            list[nl++] = (uintptr_t)p;
        else if (!strcmp(w, "lost") && nx < 3)
            lost[nx++] = (uintptr_t)p;
    }
    fclose(f);
    assert_int_equal(nl, 5);
    assert_int_equal(nx, 3);
    snprintf(path, sizeof path, "%s/sp", dir);
    f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[8000000];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(len > HT_SPILL_HEADER_SIZE);
    const struct ht_rec *r = (const struct ht_rec *)(buf + HT_SPILL_HEADER_SIZE);
    size_t n = (len - HT_SPILL_HEADER_SIZE) / sizeof *r, snaps = 0;
    for (size_t i = 0; i < n; i++)
        snaps += r[i].kind == HT_EV_SNAPSHOT;
    assert_int_equal(snaps, 1);
    assert_true(has_edge(r, n, g, list[0]));
    for (int i = 0; i < 4; i++)
        assert_true(has_edge(r, n, list[i], list[i + 1]));
    assert_true(has_edge(r, n, lost[0], lost[1]));
    assert_true(has_edge(r, n, lost[1], lost[2]));
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_exit_snapshot)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
