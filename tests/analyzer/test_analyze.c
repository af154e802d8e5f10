/*
 * heaptrail analyze on samples/analyzer/project with a compile_commands.json
 * written at test time: both entry forms ("arguments", "command"), a
 * relative "directory", a duplicate entry, a per-entry -D the file needs,
 * a gcc-only flag, a file that does not parse. Exact text and JSON output.
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

#include "an_util.h"

#define PROJ HT_SAMPLE_SRC "/project"

static char dir[] = "/tmp/ht_analyze_XXXXXX";

/* Run heaptrail analyze ARGS in the sample project; stdout and stderr
 * into out.txt / err.txt of the temp dir. Returns the exit status. */
static int analyze(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && unset HEAPTRAIL_OPTS HEAPTRAIL_CONFIG; '%s' analyze "
             "%s > '%s/out.txt' 2> '%s/err.txt'",
             PROJ, HT_HEAPTRAIL, args, dir, dir);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *file_of(const char *name)
{
    static char p[300];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    char p[400];
    snprintf(p, sizeof p, "%s/proj", dir);
    if (symlink(PROJ, p) != 0)
        return -1;
    FILE *f = fopen(file_of("compile_commands.json"), "w");
    if (!f)
        return -1;
    fprintf(f,
            "[\n"
            " {\"directory\": \"proj\", \"arguments\": [\"gcc\", \"-Iinclude\","
            " \"-c\", \"list.c\", \"-o\", \"/nonexistent/list.o\"],"
            " \"file\": \"list.c\"},\n"
            " {\"directory\": \"proj\", \"arguments\": [\"gcc\", \"-Iinclude\","
            " \"-c\", \"list.c\", \"-o\", \"list2.o\"], \"file\": \"list.c\"},\n"
            " {\"directory\": \"/\", \"command\": \"cc -I%s/include "
            "-DTREE_FLAG -O2 -fplan9-extensions -c %s/tree.c -o tree.o\","
            " \"file\": \"%s/tree.c\"},\n"
            " {\"directory\": \"%s\", \"command\": \"cc -c broken.c\","
            " \"file\": \"broken.c\"}\n"
            "]\n",
            PROJ, PROJ, PROJ, HT_SAMPLE_SRC);
    return fclose(f);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

static void test_text(void **state)
{
    (void)state;
    char args[400];
    snprintf(args, sizeof args, "-p '%s'", file_of("compile_commands.json"));
    assert_int_equal(analyze(args), 0);
    assert_string_equal(
        an_slurp(file_of("out.txt")),
        "heaptrail analyze: 2 source files parsed, 1 failed\n"
        "\n"
        "sites by kind\n"
        "  alloc                 2\n"
        "  free                  2\n"
        "  icall                 1\n"
        "  store                 4\n"
        "  store-in-macro        1\n"
        "  incref                0\n"
        "  decref                0\n"
        "  func                  4\n"
        "\n"
        "sites by file\n"
        "  file    alloc   free  icall  store store-in-macro incref decref   func\n"
        "  list.c      1      0      0      3              0      0      0      2\n"
        "  tree.c      1      2      1      1              1      0      0      2\n"
        "\n"
        "type-level cycle candidates: 4\n"
        "  a.b \xe2\x86\x92 b.a \xe2\x86\x92 a\n"
        "    b.a -> a  include/types.h:10\n"
        "    a.b -> b  include/types.h:13\n"
        "  holder.in \xe2\x86\x92 holder_inner.back \xe2\x86\x92 owner.h "
        "\xe2\x86\x92 holder\n"
        "    holder.in -> holder_inner (by value)  include/types.h:24\n"
        "    holder_inner.back -> owner  include/types.h:23\n"
        "    owner.h -> holder (by value)  include/types.h:27\n"
        "  node.next \xe2\x86\x92 node\n"
        "    node.next -> node  include/types.h:5\n"
        "  tree.kids \xe2\x86\x92 tree\n"
        "    tree.kids -> tree  include/types.h:18\n"
        "\n"
        "untyped pointer fields (void *, not followed): 1\n"
        "  tree.data  include/types.h:19\n");
    assert_string_equal(an_slurp(file_of("err.txt")),
                        "heaptrail: warning: " HT_SAMPLE_SRC
                        "/broken.c not analyzed: parse error\n");
}

static void test_json(void **state)
{
    (void)state;
    char args[400];
    /* the folder holding compile_commands.json works as well */
    snprintf(args, sizeof args, "-p '%s' --format json", dir);
    assert_int_equal(analyze(args), 0);
    assert_string_equal(
        an_slurp(file_of("out.txt")),
        "{\"files_parsed\":2,\"files_failed\":1,\"by_kind\":{\"alloc\":2,"
        "\"free\":2,\"icall\":1,\"store\":4,\"store-in-macro\":1,\"incref\":0,"
        "\"decref\":0,\"func\":4},\"by_file\":[{\"file\":\"list.c\","
        "\"alloc\":1,\"free\":0,\"icall\":0,\"store\":3,\"store-in-macro\":0,"
        "\"incref\":0,\"decref\":0,\"func\":2},{\"file\":\"tree.c\","
        "\"alloc\":1,\"free\":2,\"icall\":1,\"store\":1,\"store-in-macro\":1,"
        "\"incref\":0,\"decref\":0,\"func\":2}],\"cycles\":["
        "{\"cycle\":\"a.b \xe2\x86\x92 b.a \xe2\x86\x92 a\",\"edges\":["
        "{\"type\":\"b\",\"field\":\"a\",\"to\":\"a\",\"embedded\":false,"
        "\"file\":\"include/types.h\",\"line\":10},"
        "{\"type\":\"a\",\"field\":\"b\",\"to\":\"b\",\"embedded\":false,"
        "\"file\":\"include/types.h\",\"line\":13}]},"
        "{\"cycle\":\"holder.in \xe2\x86\x92 holder_inner.back \xe2\x86\x92 "
        "owner.h \xe2\x86\x92 holder\",\"edges\":["
        "{\"type\":\"holder\",\"field\":\"in\",\"to\":\"holder_inner\","
        "\"embedded\":true,\"file\":\"include/types.h\",\"line\":24},"
        "{\"type\":\"holder_inner\",\"field\":\"back\",\"to\":\"owner\","
        "\"embedded\":false,\"file\":\"include/types.h\",\"line\":23},"
        "{\"type\":\"owner\",\"field\":\"h\",\"to\":\"holder\","
        "\"embedded\":true,\"file\":\"include/types.h\",\"line\":27}]},"
        "{\"cycle\":\"node.next \xe2\x86\x92 node\",\"edges\":["
        "{\"type\":\"node\",\"field\":\"next\",\"to\":\"node\","
        "\"embedded\":false,\"file\":\"include/types.h\",\"line\":5}]},"
        "{\"cycle\":\"tree.kids \xe2\x86\x92 tree\",\"edges\":["
        "{\"type\":\"tree\",\"field\":\"kids\",\"to\":\"tree\","
        "\"embedded\":false,\"file\":\"include/types.h\",\"line\":18}]}],"
        "\"untyped\":[{\"type\":\"tree\",\"field\":\"data\","
        "\"file\":\"include/types.h\",\"line\":19}]}\n");
}

static void test_bad_input(void **state)
{
    (void)state;
    char args[400];
    assert_int_equal(analyze("-p /nonexistent/compile_commands.json"), 1);
    assert_string_equal(an_slurp(file_of("err.txt")),
                        "heaptrail: /nonexistent/compile_commands.json: no "
                        "compile_commands.json there\n");
    FILE *f = fopen(file_of("bad/compile_commands.json"), "w");
    if (!f) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "mkdir '%s'", file_of("bad"));
        assert_int_equal(system(cmd), 0);
        f = fopen(file_of("bad/compile_commands.json"), "w");
    }
    assert_non_null(f);
    fputs("[ {\"directory\": ", f);
    fclose(f);
    snprintf(args, sizeof args, "-p '%s'", file_of("bad"));
    assert_int_equal(analyze(args), 1);
    char want[600];
    snprintf(want, sizeof want,
             "heaptrail: %s: not a readable compile_commands.json (or it has "
             "no entries)\n", file_of("bad"));
    assert_string_equal(an_slurp(file_of("err.txt")), want);
    assert_int_equal(analyze("-p"), 2);
    assert_string_equal(an_slurp(file_of("err.txt")),
                        "heaptrail analyze: unexpected argument '-p'\n"
                        "usage: heaptrail analyze -p compile_commands.json "
                        "[--format text|json]\n");
    snprintf(args, sizeof args, "-p '%s' --format xml", dir);
    assert_int_equal(analyze(args), 2);
    assert_string_equal(an_slurp(file_of("err.txt")),
                        "usage: heaptrail analyze -p compile_commands.json "
                        "[--format text|json]\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
