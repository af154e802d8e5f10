/* E2E: heaptrail report on samples/report/findings.c (one of each finding):
 * golden text/JSON/SARIF output, SARIF schema validation, --fail-on per
 * category, suppressions, and heaptrail diff.
 * HT_UPDATE_GOLDEN=1 rewrites the goldens in tests/e2e/golden/ instead of
 * comparing (review the diff before committing it). */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "e2e_util.h"

#define HT HT_BIN_DIR "/heaptrail"

static char dir[512], db[600], demo_db[600];
static char out[1 << 20], err[65536];

/* Replace every match of re in s (in place, size n) by rep. */
static void subst_re(char *s, size_t n, const char *re, const char *rep)
{
    regex_t rx;
    assert_int_equal(regcomp(&rx, re, REG_EXTENDED), 0);
    char *tmp = malloc(n);
    assert_non_null(tmp);
    size_t j = 0;
    const char *p = s;
    regmatch_t m;
    while (*p && regexec(&rx, p, 1, &m, p == s ? 0 : REG_NOTBOL) == 0 &&
           m.rm_eo > 0) {
        size_t rl = strlen(rep);
        assert_true(j + (size_t)m.rm_so + rl < n);
        memcpy(tmp + j, p, (size_t)m.rm_so);
        j += (size_t)m.rm_so;
        memcpy(tmp + j, rep, rl);
        j += rl;
        p += m.rm_eo;
    }
    assert_true(j + strlen(p) < n);
    strcpy(tmp + j, p);
    strcpy(s, tmp);
    free(tmp);
    regfree(&rx);
}

/* Make output stable: paths, addresses, pids. */
static void normalise(char *s, size_t n)
{
    subst_re(s, n, HT_SAMPLE_DIR, "@SAMPLES@");
    subst_re(s, n, HT_SRC_DIR, "@SRC@");
    subst_re(s, n, dir, "@TMP@");
    subst_re(s, n, "0x[0-9a-f]+", "0xADDR");
    subst_re(s, n, "\"pid\": [0-9]+", "\"pid\": 0");
}

static void check_golden(const char *name, char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", HT_GOLDEN_DIR, name);
    normalise(text, sizeof out);
    if (getenv("HT_UPDATE_GOLDEN")) {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        return;
    }
    static char want[1 << 20];
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("missing golden %s (HT_UPDATE_GOLDEN=1 writes it)", path);
    size_t got = fread(want, 1, sizeof want - 1, f);
    want[got] = 0;
    fclose(f);
    assert_string_equal(text, want);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s", e2e_tmpdir("report"));
    snprintf(db, sizeof db, "%s/findings.db", dir);
    snprintf(demo_db, sizeof demo_db, "%s/demo.db", dir);
    char *run[] = {HT, "run", "-o", db, "--", HT_SAMPLE_DIR "/findings", NULL};
    if (e2e_run2(run, "HEAPTRAIL_SNAPSHOT=1", out, sizeof out, err, sizeof err) ||
        strcmp(out, "findings done\n"))
        return -1;
    char *run2[] = {HT, "run", "-o", demo_db, "--", HT_SAMPLE_DIR "/leaky", NULL};
    if (e2e_run(run2, "HEAPTRAIL_SNAPSHOT=1", out, sizeof out))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    e2e_rmtree(dir);
    return 0;
}

static int report(const char *const *args, const char *env)
{
    char *argv[32] = {HT, "report", db};
    int n = 3;
    for (; args && *args; args++)
        argv[n++] = (char *)*args;
    argv[n] = NULL;
    return e2e_run2(argv, env, out, sizeof out, err, sizeof err);
}

static void test_text_golden(void **state)
{
    (void)state;
    const char *a[] = {NULL};
    assert_int_equal(report(a, NULL), 0);
    /* the exact classes of the sample (see its header comment) */
    assert_non_null(strstr(out, "definitely lost: 72 bytes in 2 blocks"));
    assert_non_null(strstr(out, "indirectly lost: 48 bytes in 2 blocks"));
    assert_non_null(strstr(out, "lost in cycles: 64 bytes in 2 blocks (1 cycle)"));
    assert_non_null(strstr(out, "still reachable: 64 bytes in 1 blocks"));
    assert_null(strstr(out, "\033[")); /* not a TTY: no colour */
    check_golden("findings.txt", out);
}

static void test_json_golden(void **state)
{
    (void)state;
    const char *a[] = {"--format", "json", NULL};
    assert_int_equal(report(a, NULL), 0);
    assert_non_null(strstr(out, "\"schema_version\": 1"));
    check_golden("findings.json", out);
}

static void test_sarif(void **state)
{
    (void)state;
    char path[700];
    snprintf(path, sizeof path, "%s/out.sarif", dir);
    const char *a[] = {"--format", "sarif", "-o", path, NULL};
    assert_int_equal(report(a, NULL), 0);
    assert_string_equal(out, ""); /* -o: nothing on stdout */
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t got = fread(out, 1, sizeof out - 1, f);
    out[got] = 0;
    fclose(f);
    assert_non_null(strstr(out, "\"version\": \"2.1.0\""));
    check_golden("findings.sarif", out);

    char vdir[700], js[800];
    snprintf(vdir, sizeof vdir, "%s/../sarif-validator", HT_BIN_DIR);
    char *inst[] = {"/bin/sh", HT_SRC_DIR "/scripts/install-sarif-validator.sh",
                    vdir, NULL};
    int rc = e2e_run2(inst, NULL, out, sizeof out, err, sizeof err);
    if (rc == 77) {
        fprintf(stderr, "SKIP SARIF schema validation: %s", err);
        skip();
    }
    assert_int_equal(rc, 0);
    snprintf(js, sizeof js, "%s/validate.js", vdir);
    char *val[] = {"/usr/bin/env", "node", js, path, NULL};
    rc = e2e_run2(val, NULL, out, sizeof out, err, sizeof err);
    if (rc)
        fail_msg("SARIF invalid: %s %s", out, err);
    assert_string_equal(out, "valid SARIF 2.1.0\n");
}

static int n_refcount_errors(void)
{
    ht_store *st = NULL;
    assert_int_equal(ht_store_open(db, HT_STORE_READONLY, &st), HT_OK);
    int n = atoi(e2e_sql1(st, "SELECT count(*) FROM errors WHERE kind LIKE"
                              " 'refcount%' OR kind='freed_with_refs'"));
    ht_store_close(st);
    return n;
}

static void test_fail_on(void **state)
{
    (void)state;
    static const char *const cats[] = {"leaks", "cycles", "invalid-free", "all"};
    for (size_t i = 0; i < 4; i++) {
        const char *a[] = {"--fail-on", cats[i], NULL};
        assert_int_equal(report(a, NULL), 1);
        assert_non_null(strstr(err, "failing findings:"));
        const char *b[] = {"--fail-on", cats[i], "--error-exitcode", "42", NULL};
        assert_int_equal(report(b, NULL), 42);
    }
    /* refcount: fails exactly when the replay found refcount errors */
    const char *r[] = {"--fail-on", "refcount", "--error-exitcode", "7", NULL};
    assert_int_equal(report(r, NULL), n_refcount_errors() ? 7 : 0);
    /* the demo has leaks but no cycles or bad frees */
    char *d1[] = {HT, "report", demo_db, "--fail-on", "cycles,invalid-free", NULL};
    assert_int_equal(e2e_run2(d1, NULL, out, sizeof out, err, sizeof err), 0);
    char *d2[] = {HT, "report", demo_db, "--fail-on", "leaks", NULL};
    assert_int_equal(e2e_run2(d2, NULL, out, sizeof out, err, sizeof err), 1);
    assert_string_equal(err, "heaptrail report: failing findings: leaks\n");
    /* bad usage */
    const char *bad[] = {"--fail-on", "leaks,bogus", NULL};
    assert_int_equal(report(bad, NULL), 2);
    const char *badf[] = {"--format", "xml", NULL};
    assert_int_equal(report(badf, NULL), 2);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_suppressions(void **state)
{
    (void)state;
    char supp[700];
    snprintf(supp, sizeof supp, "%s/ht.supp", dir);
    write_file(supp, "# the list and the refcounted object are known\n"
                     "leak:make_list\n"
                     "leak:findings.c:71\n"
                     "cycle:make_cycle\n"
                     "error:free_surv*\n");
    const char *a[] = {"--suppressions", supp, "--fail-on",
                       "leaks,cycles,invalid-free", NULL};
    assert_int_equal(report(a, NULL), 0);
    /* 3 list blocks (72 bytes) + the 48-byte object + 2 cycle blocks (64) */
    assert_non_null(strstr(out, "suppressed: 184 bytes in 6 blocks"));
    assert_non_null(strstr(out, "definitely lost: 0 bytes in 0 blocks"));
    assert_non_null(strstr(out, "lost in cycles: 0 bytes in 0 blocks"));
    assert_null(strstr(out, "CYCLES"));
    assert_null(strstr(out, "double_free"));
    /* the HTML page shows the same suppressions: the summary row, no
     * definite or cycle bytes left, each suppressed group flagged */
    const char *h[] = {"--suppressions", supp, "--format", "html", NULL};
    assert_int_equal(report(h, NULL), 0);
    const char *ls = strstr(out, "\"leak_summary\":[");
    assert_non_null(ls);
    const char *le = strstr(ls, "]],");
    assert_non_null(le);
    char sum[512];
    snprintf(sum, sizeof sum, "%.*s", (int)(le - ls), ls);
    assert_non_null(strstr(sum, "[\"suppressed\",6,184"));
    assert_null(strstr(sum, "\"definite\""));
    assert_null(strstr(sum, "\"cycle\""));
    assert_non_null(strstr(out, "make_list\",null,null,"));
    assert_non_null(strstr(out, ",true]"));
    /* every location on the page has one form, file:line:col func (the
     * report model's, for leaks, errors, cycles and the site tables) */
    size_t nloc = 0;
    for (const char *p = strstr(out, "findings.c:"); p;
         p = strstr(p + 1, "findings.c:"), nloc++) {
        const char *q = p + strlen("findings.c:");
        size_t l = strspn(q, "0123456789");
        assert_true(l > 0 && q[l] == ':');
        size_t c = strspn(q + l + 1, "0123456789");
        assert_true(c > 0 && q[l + 1 + c] == ' ');
    }
    assert_true(nloc >= 20);
    /* the model's unbalanced refcount sites, as the text report lists
     * them ("+1 -0 at ...findings.c:73:5 refcounting") */
    assert_non_null(strstr(out, "\"refcount_sites\":[\n[\"" HT_SRC_DIR
                                "/samples/report/findings.c:73:5 refcounting\""
                                ",1,0]],"));
    /* only the cycle suppressed: cycles no longer fail, leaks still do */
    write_file(supp, "cycle:findings.c:*\n");
    const char *b[] = {"--suppressions", supp, "--fail-on", "cycles", NULL};
    assert_int_equal(report(b, NULL), 0);
    const char *c[] = {"--suppressions", supp, "--fail-on", "leaks", NULL};
    assert_int_equal(report(c, NULL), 1);
    /* a malformed rule: one error line naming the line */
    write_file(supp, "leak:ok\nnonsense\n");
    assert_int_equal(report(b, NULL), 2);
    assert_non_null(strstr(err, "ht.supp:2: expected KIND:GLOB"));
}

static void test_diff(void **state)
{
    (void)state;
    char *same[] = {HT, "diff", db, db, "--fail-on-new", NULL};
    assert_int_equal(e2e_run2(same, NULL, out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, "peak:            296 -> 296 bytes (+0)"));
    assert_null(strstr(out, "new leak sites"));
    char *d[] = {HT, "diff", demo_db, db, "--fail-on-new", NULL};
    assert_int_equal(e2e_run2(d, NULL, out, sizeof out, err, sizeof err), 1);
    assert_non_null(strstr(out, "peak:            8196 -> 296 bytes (-7900)"));
    assert_non_null(strstr(out, "new leak sites:\n  + 48 bytes in 2 blocks"
                                " indirectly lost " HT_SRC_DIR
                                "/samples/report/findings.c:50 make_list\n"));
    assert_non_null(strstr(out, "\n  + 48 bytes in 1 blocks definitely lost "
                                HT_SRC_DIR "/samples/report/findings.c:71"
                                " refcounting\n"));
    assert_non_null(strstr(out, "gone leak sites:\n  - "));
    assert_non_null(strstr(out, "leaky.c:21 push"));
    char *back[] = {HT, "diff", db, demo_db, NULL};
    assert_int_equal(e2e_run2(back, NULL, out, sizeof out, err, sizeof err), 0);
    /* suppressed sites are left out: nothing new remains */
    char supp[700];
    snprintf(supp, sizeof supp, "%s/diff.supp", dir);
    write_file(supp, "leak:make_list\nleak:refcounting\ncycle:make_cycle\n");
    char *sd[] = {HT, "diff", demo_db, db, "--suppressions", supp, "--run",
                  "1:1", "--fail-on-new", NULL};
    assert_int_equal(e2e_run2(sd, NULL, out, sizeof out, err, sizeof err), 0);
    assert_null(strstr(out, "new leak sites"));
    assert_non_null(strstr(out, "gone leak sites:\n  - "));
    assert_non_null(strstr(out, "(run 1) -> "));
    /* a run that does not exist, a malformed --run */
    char *nr[] = {HT, "diff", demo_db, db, "--run", "1:3", NULL};
    assert_int_equal(e2e_run2(nr, NULL, out, sizeof out, err, sizeof err), 2);
    assert_non_null(strstr(err, "findings.db: no run 3\n"));
    char *br[] = {HT, "diff", demo_db, db, "--run", "x", NULL};
    assert_int_equal(e2e_run2(br, NULL, out, sizeof out, err, sizeof err), 2);
    assert_non_null(strstr(err, "--run takes N or N:M"));
}

/* A trace with two runs (samples/fork: parent and child): the HTML page
 * shows one run and says which; --run picks the other. */
static void test_html_one_run(void **state)
{
    (void)state;
    char fdb[700], page[700];
    snprintf(fdb, sizeof fdb, "%s/fork.db", dir);
    snprintf(page, sizeof page, "%s/fork.html", dir);
    char *run[] = {HT, "run", "-o", fdb, "--", HT_SAMPLE_DIR "/fork", NULL};
    assert_int_equal(e2e_run(run, NULL, out, sizeof out), 0);
    char *rep[] = {HT, "report", fdb, "--format", "html", "-o", page, NULL};
    assert_int_equal(e2e_run2(rep, NULL, out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(err, "the trace has 2 runs; the HTML page shows run 1"));
    FILE *f = fopen(page, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    fclose(f);
    out[n] = 0;
    const char *d = strstr(out, "<!DOCTYPE html>");
    assert_non_null(d);
    assert_null(strstr(d + 1, "<!DOCTYPE html>"));
    char *rep2[] = {HT, "report", fdb, "--run", "2", "--format", "html",
                    "-o", page, NULL};
    assert_int_equal(e2e_run2(rep2, NULL, out, sizeof out, err, sizeof err), 0);
    assert_null(strstr(err, "runs;"));
}

static void test_help(void **state)
{
    (void)state;
    static const char *const cmds[] = {"run", "ingest", "sql", "replay",
                                       "report", "diff"};
    for (size_t i = 0; i < 12; i++) {
        /* `heaptrail CMD --help` and `heaptrail help CMD` */
        char *h[] = {HT, (char *)cmds[i % 6], "--help", NULL};
        char *h2[] = {HT, "help", (char *)cmds[i % 6], NULL};
        assert_int_equal(e2e_run(i < 6 ? h : h2, NULL, out, sizeof out), 0);
        static const char *const secs[] = {"NAME\n", "SYNOPSIS\n",
            "DESCRIPTION\n", "OPTIONS\n", "EXIT STATUS\n", "EXAMPLES\n"};
        for (size_t k = 0; k < 6; k++)
            if (!strstr(out, secs[k]))
                fail_msg("%s --help lacks %s", cmds[i % 6], secs[k]);
    }
    /* the analyzer commands and demo answer help too (usage on stdout) */
    static const char *const more[] = {"analyze", "instrument", "demo"};
    for (size_t i = 0; i < 3; i++) {
        char *h[] = {HT, "help", (char *)more[i], NULL};
        assert_int_equal(e2e_run(h, NULL, out, sizeof out), 0);
        assert_non_null(strstr(out, more[i]));
    }
}

/* Colour only on a TTY (script(1) gives the report one), never with
 * NO_COLOR or -o. */
static void test_color(void **state)
{
    (void)state;
    if (access("/usr/bin/script", X_OK) != 0) {
        fprintf(stderr, "SKIP colour test: /usr/bin/script missing\n");
        skip();
    }
    char cmd[1500];
    snprintf(cmd, sizeof cmd, "%s report %s", HT, db);
    char *tty[] = {"/usr/bin/script", "-qec", cmd, "/dev/null", NULL};
    assert_int_equal(e2e_run(tty, NULL, out, sizeof out), 0);
    assert_non_null(strstr(out, "\033[1mLEAK SUMMARY\033[0m"));
    assert_non_null(strstr(out, "\033[31m definitely lost: 72 bytes"));
    assert_int_equal(e2e_run(tty, "NO_COLOR=1", out, sizeof out), 0);
    assert_non_null(strstr(out, "LEAK SUMMARY"));
    assert_null(strstr(out, "\033["));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_golden),
        cmocka_unit_test(test_json_golden),
        cmocka_unit_test(test_sarif),
        cmocka_unit_test(test_html_one_run),
        cmocka_unit_test(test_fail_on),
        cmocka_unit_test(test_suppressions),
        cmocka_unit_test(test_diff),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_color),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
