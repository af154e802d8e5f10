/* heaptrail diff: leak sites and peak of two traces compared. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "heaptrail/report.h"

static const char diff_usage[] =
    "NAME\n"
    "    heaptrail diff - what changed between two recorded runs\n"
    "\n"
    "SYNOPSIS\n"
    "    heaptrail diff A.db B.db [--run N[:M]] [--suppressions FILE]\n"
    "                   [--fail-on-new]\n"
    "\n"
    "DESCRIPTION\n"
    "    Compares a run of A (the baseline; the first unless --run) with a\n"
    "    run of B:\n"
    "    peak live bytes, the leak summary, and the leak sites (allocation\n"
    "    file:line function and leak kind) that are new in B, gone from A,\n"
    "    or whose leaked bytes changed. Both traces must have been replayed\n"
    "    (heaptrail replay or heaptrail report).\n"
    "\n"
    "OPTIONS\n"
    "    --run N[:M]     compare run N of A with run M of B (M defaults to\n"
    "                    N): traces of forking programs hold several runs.\n"
    "    --suppressions FILE\n"
    "                    leave suppressed leak sites out of the comparison\n"
    "                    (the syntax of heaptrail report --suppressions).\n"
    "    --fail-on-new   exit 1 when B has a new leak site or a site leaks\n"
    "                    more bytes than in A.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 compared (and, with --fail-on-new, nothing got worse); 1 B got\n"
    "    worse with --fail-on-new; 2 bad usage or unreadable trace.\n"
    "\n"
    "EXAMPLES\n"
    "    heaptrail diff before.db after.db\n"
    "    heaptrail diff before.db after.db --run 2 --suppressions ht.supp\n";

/* A site's identity across builds: kind, file, line, function. */
static void site_key(const struct ht_report_leak *l, char *buf, size_t n)
{
    const struct ht_report_loc *a = &l->alloc;
    if (a->file)
        snprintf(buf, n, "%s %s:%lld %s", ht_report_kind_words(l->kind),
                 a->file, (long long)a->line, a->func ? a->func : "?");
    else
        snprintf(buf, n, "%s 0x%llx", ht_report_kind_words(l->kind),
                 (unsigned long long)a->key);
}

static const struct ht_report_leak *find_site(const struct ht_report *r,
                                              const char *key)
{
    char k[4400];
    for (size_t i = 0; i < r->nleaks; i++) {
        site_key(&r->leaks[i], k, sizeof k);
        if (!strcmp(k, key))
            return &r->leaks[i];
    }
    return NULL;
}

/* Load run (0: the first) of the trace at path into r; 2 on error. */
static int load_run(const char *path, int64_t run, const ht_report_supp *supp,
                    struct ht_report *r)
{
    memset(r, 0, sizeof *r);
    ht_store *st = cli_open_trace(path, 0, 1);
    if (!st)
        return 2;
    int64_t *ids = NULL;
    size_t n = 0;
    ht_err e = run ? HT_OK : ht_store_runs(st, &ids, &n);
    if (e == HT_OK && !run && n == 0)
        e = HT_ENOTFOUND;
    if (e == HT_OK)
        e = ht_report_load(st, run ? run : ids[0], supp, r);
    if (e == HT_OK && !r->has_stats)
        e = HT_EINVAL;
    /* suppressed sites take no part in the comparison (the leak rows'
     * strings live in the model's pool: dropping rows frees nothing) */
    size_t kept = 0;
    for (size_t i = 0; e == HT_OK && i < r->nleaks; i++)
        if (!r->leaks[i].suppressed)
            r->leaks[kept++] = r->leaks[i];
    if (e == HT_OK)
        r->nleaks = kept;
    free(ids);
    ht_store_close(st);
    if (e != HT_OK) {
        char what[64];
        snprintf(what, sizeof what, "no run %lld", (long long)run);
        fprintf(stderr, "heaptrail diff: %s: %s\n", path, e == HT_EINVAL
                ? "not replayed (run heaptrail replay first)"
                : e == HT_ENOTFOUND ? (run ? what : "no runs")
                : ht_strerror(e));
        return 2;
    }
    return 0;
}

static void delta(const char *what, uint64_t a, uint64_t b)
{
    printf("  %-16s %llu -> %llu bytes (%+lld)\n", what, (unsigned long long)a,
           (unsigned long long)b, (long long)(b - a));
}

/* Sites of x missing from y, printed with sign; returns how many. */
static int only_in(const struct ht_report *x, const struct ht_report *y,
                   const char *title, char sign)
{
    char k[4400];
    int cnt = 0;
    for (size_t i = 0; i < x->nleaks; i++) {
        site_key(&x->leaks[i], k, sizeof k);
        if (find_site(y, k))
            continue;
        if (!cnt++)
            printf("%s\n", title);
        printf("  %c %llu bytes in %llu blocks %s\n", sign,
               (unsigned long long)x->leaks[i].bytes,
               (unsigned long long)x->leaks[i].blocks, k);
    }
    return cnt;
}

/* "N" or "N:M" into *a, *b (positive run ids); 0 if malformed. */
static int parse_runs(const char *v, int64_t *a, int64_t *b)
{
    char *end;
    *a = strtoll(v, &end, 10);
    *b = *a;
    if (*end == ':')
        *b = strtoll(end + 1, &end, 10);
    return !*end && *a > 0 && *b > 0;
}

int cmd_diff(int argc, char **argv)
{
    const char *p[2] = {NULL, NULL}, *supp_path = NULL;
    int np = 0, fail_new = 0;
    int64_t run_a = 0, run_b = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(diff_usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--fail-on-new")) {
            fail_new = 1;
        } else if (!strcmp(argv[i], "--run") && i + 1 < argc) {
            if (!parse_runs(argv[++i], &run_a, &run_b)) {
                fprintf(stderr, "heaptrail diff: --run takes N or N:M (run"
                        " ids), not '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--suppressions") && i + 1 < argc) {
            supp_path = argv[++i];
        } else if (argv[i][0] == '-' || np == 2) {
            fprintf(stderr, "heaptrail diff: unexpected '%s'\n%s", argv[i],
                    diff_usage);
            return 2;
        } else {
            p[np++] = argv[i];
        }
    }
    if (np != 2) {
        fputs(diff_usage, stderr);
        return 2;
    }
    ht_report_supp *supp = NULL;
    if (supp_path && cli_supp_load("diff", supp_path, &supp))
        return 2;
    struct ht_report a, b;
    int bad = load_run(p[0], run_a, supp, &a);
    if (!bad)
        bad = load_run(p[1], run_b, supp, &b);
    else
        memset(&b, 0, sizeof b);
    ht_report_supp_free(supp);
    if (bad) {
        ht_report_free(&a);
        ht_report_free(&b);
        return 2;
    }
    printf("heaptrail diff: %s (run %lld) -> %s (run %lld)\n", p[0],
           (long long)a.run_id, p[1], (long long)b.run_id);
    delta("peak:", a.peak_bytes, b.peak_bytes);
    delta("live at exit:", a.live_bytes, b.live_bytes);
    for (int k = 0; k < HT_LEAK_KINDS; k++) {
        char w[40];
        snprintf(w, sizeof w, "%s:", ht_report_kind_words(k));
        delta(w, a.leak_bytes[k], b.leak_bytes[k]);
    }
    int worse = only_in(&b, &a, "new leak sites:", '+');
    only_in(&a, &b, "gone leak sites:", '-');
    char k[4400];
    int changed = 0;
    for (size_t i = 0; i < b.nleaks; i++) {
        site_key(&b.leaks[i], k, sizeof k);
        const struct ht_report_leak *o = find_site(&a, k);
        if (!o || o->bytes == b.leaks[i].bytes)
            continue;
        if (!changed++)
            printf("changed leak sites:\n");
        printf("  ~ %llu -> %llu bytes (%+lld) %s\n",
               (unsigned long long)o->bytes,
               (unsigned long long)b.leaks[i].bytes,
               (long long)(b.leaks[i].bytes - o->bytes), k);
        worse += b.leaks[i].bytes > o->bytes;
    }
    ht_report_free(&a);
    ht_report_free(&b);
    return fail_new && worse ? 1 : 0;
}
