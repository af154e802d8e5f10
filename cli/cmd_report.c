/* heaptrail replay / report: the allocation summary of each run. */
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "heaptrail/replay.h"
#include "heaptrail/report.h"

static struct ht_replay_opts replay_opts;
static int auto_snapshots; /* html: snapshot_every = events / 500 unless given */


static int cli_parse_run_opt(int argc, char **argv, const char **trace,
                         int64_t *run, const char *usage)
{
    *trace = NULL;
    *run = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--allocator") && i + 1 < argc) {
            const char *a = argv[++i];
            replay_opts.allocator = !strncmp(a, "pymalloc-", 9) ? a + 9 : a;
        } else if (!strcmp(argv[i], "--gc") && i + 1 < argc) {
            replay_opts.gc_version = argv[++i];
        } else if (!strcmp(argv[i], "--snapshot-every") && i + 1 < argc) {
            char *end;
            replay_opts.snapshot_every = strtoull(argv[++i], &end, 10);
            if (*end) {
                fprintf(stderr, "%s: --snapshot-every takes a number of events\n", argv[0]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--run") && i + 1 < argc) {
            char *end;
            *run = strtoll(argv[++i], &end, 10);
            if (*end || *run <= 0) {
                fprintf(stderr, "%s: --run takes a run id (a positive number)\n", argv[0]);
                return 2;
            }
        } else if (!strcmp(argv[i], "-v")) {
            ht_cli_verbose = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return -1;
        } else if (argv[i][0] == '-' || *trace) {
            fprintf(stderr, "heaptrail %s: unexpected '%s'\n%s", argv[0], argv[i], usage);
            return 2;
        } else {
            *trace = argv[i];
        }
    }
    if (!*trace) {
        fputs(usage, stderr);
        return 2;
    }
    return 0;
}

/* Progress bar on stderr while a run replays (only when stderr is a TTY). */
struct progress {
    int64_t run;
    uint64_t total;    /* the run's recorded events; 0: unknown */
    int drawn;
};

static void progress_cb(void *ctx, uint64_t done)
{
    struct progress *p = ctx;
    if (!p->total)
        return;
    char what[48];
    snprintf(what, sizeof what, "replaying run %lld", (long long)p->run);
    cli_progress(what, done, p->total);
    p->drawn = 1;
}

static int row_u64(void *ctx, int ncol, const char *const *v,
                   const char *const *names)
{
    (void)ncol; (void)names;
    *(uint64_t *)ctx = v[0] ? strtoull(v[0], NULL, 10) : 0;
    return 0;
}

/* Replay one run with timing (-v) and a progress bar (TTY). */
static ht_err replay_one(ht_store *st, int64_t run,
                         struct ht_replay_result *rr)
{
    struct progress p = {run, 0, 0};
    struct ht_replay_opts o = replay_opts;
    if (isatty(2) || auto_snapshots) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT events FROM runs WHERE run_id=%lld",
                 (long long)run);
        ht_store_query(st, sql, 1, row_u64, &p.total);
    }
    if (isatty(2)) {
        o.progress = progress_cb;
        o.progress_ctx = &p;
    }
    if (auto_snapshots && !o.snapshot_every) /* ~500 points per plot */
        o.snapshot_every = p.total / 500 > 1 ? p.total / 500 : 1;
    double t0 = cli_now_s();
    ht_err e = ht_replay_run(st, run, &o, rr);
    if (p.drawn)
        fprintf(stderr, "\r%60s\r", "");
    if (ht_cli_verbose && e == HT_OK)
        fprintf(stderr, "heaptrail: replay of run %lld: %llu events in %.3f s\n",
                (long long)run, (unsigned long long)rr->events, cli_now_s() - t0);
    return e;
}

/* Replay every run (or one) of the trace. Returns 0 or 1. */
static int cli_replay_runs(ht_store *st, int64_t only, int quiet)
{
    int64_t *ids = NULL;
    size_t n = 0;
    ht_err e = ht_store_runs(st, &ids, &n);
    if (e != HT_OK) {
        cli_error("listing runs", e);
        return 1;
    }
    int rc = 0, found = 0;
    for (size_t i = 0; i < n; i++) {
        if (only && ids[i] != only)
            continue;
        found = 1;
        struct ht_replay_result rr;
        e = replay_one(st, ids[i], &rr);
        if (e != HT_OK) {
            char what[64];
            if (e == HT_EINVAL) { /* the only bad input here: a profile */
                fprintf(stderr, "heaptrail: unknown --allocator or --gc "
                        "profile (allocators: 3.8 3.9 3.10 3.11 3.12 3.13, "
                        "optionally pymalloc-, or system; gc: 3.8..3.13)\n");
                rc = 1;
                break;
            }
            snprintf(what, sizeof what, "replaying run %lld", (long long)ids[i]);
            cli_error(what, e);
            rc = 1;
            continue;
        }
        if (!quiet)
            printf("run %lld: %llu events replayed: %llu definitely lost, "
                   "%llu indirectly lost, %llu in %llu cycles, %llu still "
                   "reachable, %llu errors\n", (long long)ids[i],
                   (unsigned long long)rr.events,
                   (unsigned long long)rr.definite,
                   (unsigned long long)rr.indirect,
                   (unsigned long long)rr.cycle, (unsigned long long)rr.cycles,
                   (unsigned long long)rr.reachable,
                   (unsigned long long)rr.errors);
    }
    free(ids);
    if (only && !found) {
        fprintf(stderr, "heaptrail: no run %lld in this trace\n", (long long)only);
        return 1;
    }
    return rc;
}

static const char replay_usage[] =
    "NAME\n"
    "    heaptrail replay - replay a trace through the CPython models\n"
    "\n"
    "SYNOPSIS\n"
    "    heaptrail replay TRACE [--run N] [--allocator pymalloc-3.12]\n"
    "                     [--gc 3.12] [--snapshot-every N] [-v]\n"
    "\n"
    "DESCRIPTION\n"
    "    Replays the recorded events of every run (or run N) through the\n"
    "    object table, the pymalloc model and the CPython GC model, and\n"
    "    writes the result tables into TRACE: run_stats, site_stats,\n"
    "    objects, errors, frag_snapshots, gc_collections, cycles,\n"
    "    cycle_members, cycle_edges and the views site_report and\n"
    "    leak_summary (docs/trace-format.md). A new replay of a run replaces\n"
    "    its earlier results. heaptrail report replays runs that have no\n"
    "    results yet by itself.\n"
    "\n"
    "OPTIONS\n"
    "    --run N             only run N\n"
    "    --allocator P       pymalloc profile 3.8 3.9 3.10 3.11 3.12 3.13\n"
    "                        (default 3.12; 'pymalloc-' prefix optional),\n"
    "                        or 'system': every request goes to the raw\n"
    "                        allocator (no pools or arenas; fragmentation\n"
    "                        snapshots then show arenas 0, no pool_map or\n"
    "                        pinning rows)\n"
    "    --gc V              GC profile (default: the allocator's; 3.12\n"
    "                        with --allocator system)\n"
    "    --snapshot-every N  events between fragmentation snapshots\n"
    "                        (default 100000)\n"
    "    -v                  timings on stderr\n"
    "\n"
    "EXIT STATUS\n"
    "    0 success; 1 a run could not be replayed or the trace is\n"
    "    unreadable; 2 bad usage.\n"
    "\n"
    "EXAMPLES\n"
    "    heaptrail replay trace.db --allocator pymalloc-3.11\n";

int cmd_replay(int argc, char **argv)
{
    const char *trace;
    int64_t run;
    int rc = cli_parse_run_opt(argc, argv, &trace, &run, replay_usage);
    if (rc)
        return rc < 0 ? 0 : rc;
    ht_store *st = cli_open_trace(trace, 0, 0);
    if (!st)
        return 1;
    rc = cli_replay_runs(st, run, 0);
    ht_store_close(st);
    return rc;
}


/* ---- heaptrail report ---------------------------------------------------- */

static const char report_usage[] =
    "NAME\n"
    "    heaptrail report - findings of a recorded run, for people and CI\n"
    "\n"
    "SYNOPSIS\n"
    "    heaptrail report TRACE [--format text|json|sarif|html] [-o FILE]\n"
    "                     [--run N] [--fail-on LIST] [--error-exitcode N]\n"
    "                     [--suppressions FILE] [--no-color] [-v]\n"
    "                     [--allocator pymalloc-3.12] [--gc 3.12]\n"
    "\n"
    "DESCRIPTION\n"
    "    Replays the runs of TRACE that have not been replayed yet, then\n"
    "    renders their findings: the leak summary in memcheck's words\n"
    "    (definitely lost, indirectly lost, lost in cycles, still reachable),\n"
    "    the leak sites with the site that dropped the last reference,\n"
    "    cycles as field paths (A.next -> B.prev -> A), refcount errors,\n"
    "    invalid and double frees, fragmentation, the GC simulation and\n"
    "    allocation churn.\n"
    "\n"
    "OPTIONS\n"
    "    --format F      text (default), json (docs/report-json.md, schema\n"
    "                    version 1), sarif (SARIF 2.1.0) or html.\n"
    "    -o FILE         write the report to FILE instead of stdout.\n"
    "    --run N         only run N (default: every run of the trace).\n"
    "    --fail-on LIST  exit with --error-exitcode when an unsuppressed\n"
    "                    finding of a listed category exists; LIST is a\n"
    "                    comma list of leaks (definitely/indirectly lost),\n"
    "                    cycles, refcount, invalid-free (invalid, double\n"
    "                    and realloc-of-freed frees) or all.\n"
    "    --error-exitcode N\n"
    "                    exit status for --fail-on hits (default 1).\n"
    "    --suppressions FILE\n"
    "                    rules KIND:GLOB or KIND:FILE_GLOB:LINE, one a line,\n"
    "                    KIND leak, cycle, error, refcount or *; GLOB is an\n"
    "                    fnmatch pattern on the allocation (or error) site's\n"
    "                    function, file path or file name. Suppressed\n"
    "                    findings are counted apart and never fail --fail-on.\n"
    "    --no-color      no colour (also NO_COLOR=1, -o, or stdout not a TTY).\n"
    "    -v              timing of the ingest, replay and report phases on\n"
    "                    stderr.\n"
    "    --allocator, --gc, --snapshot-every\n"
    "                    replay options when a replay is needed (see\n"
    "                    heaptrail replay --help).\n"
    "\n"
    "EXIT STATUS\n"
    "    0 success; --error-exitcode (default 1) a --fail-on category has\n"
    "    findings; 2 bad usage, unreadable trace or replay error.\n"
    "\n"
    "EXAMPLES\n"
    "    heaptrail report trace.db\n"
    "    heaptrail report trace.db --format sarif -o heaptrail.sarif\n"
    "    heaptrail report trace.db --fail-on leaks,cycles --suppressions ht.supp\n";

struct rep_opts {
    const char *trace, *format, *out, *supp;
    int64_t run;
    unsigned fail_mask;
    int exitcode, no_color;
};

static void timing(const char *phase, double t0)
{
    if (ht_cli_verbose)
        fprintf(stderr, "heaptrail: %s: %.3f s\n", phase, cli_now_s() - t0);
}

/* Parse report options; returns -1 (help printed), 0 or 2. */
static int report_args(int argc, char **argv, struct rep_opts *o)
{
    memset(o, 0, sizeof *o);
    o->format = "text";
    o->exitcode = 1;
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int nrest = 1, rc = 0;
    if (!rest)
        return 2;
    rest[0] = argv[0];
    for (int i = 1; i < argc && !rc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "--format") && v) {
            o->format = argv[++i];
        } else if (!strcmp(a, "-o") && v) {
            o->out = argv[++i];
        } else if (!strcmp(a, "--suppressions") && v) {
            o->supp = argv[++i];
        } else if (!strcmp(a, "--no-color")) {
            o->no_color = 1;
        } else if (!strcmp(a, "--fail-on") && v) {
            if (ht_report_parse_fail_on(argv[++i], &o->fail_mask) != HT_OK) {
                fprintf(stderr, "heaptrail report: --fail-on takes a comma list"
                        " of leaks, cycles, refcount, invalid-free, all\n");
                rc = 2;
            }
        } else if (!strcmp(a, "--error-exitcode") && v) {
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 0 || n > 255) {
                fprintf(stderr, "heaptrail report: --error-exitcode takes 0..255\n");
                rc = 2;
            }
            o->exitcode = (int)n;
        } else {
            rest[nrest++] = argv[i];
        }
    }
    if (!rc)
        rc = cli_parse_run_opt(nrest, rest, &o->trace, &o->run, report_usage);
    free(rest);
    if (!rc && strcmp(o->format, "text") && strcmp(o->format, "json") &&
        strcmp(o->format, "sarif") && strcmp(o->format, "html")) {
        fprintf(stderr, "heaptrail report: unknown --format '%s' (text, json,"
                " sarif, html)\n", o->format);
        rc = 2;
    }
    auto_snapshots = !rc && !strcmp(o->format, "html");
    return rc;
}

/* Load the suppression file path for command cmd ("report", "diff"):
 * 0, or 2 after one error line naming the file (and the bad line). */
int cli_supp_load(const char *cmd, const char *path, ht_report_supp **out)
{
    int bad = 0;
    ht_err e = ht_report_supp_load(path, out, &bad);
    if (e == HT_EPARSE)
        fprintf(stderr, "heaptrail %s: %s:%d: expected KIND:GLOB or"
                " KIND:FILE_GLOB:LINE (KIND leak, cycle, error, refcount"
                " or *)\n", cmd, path, bad);
    else if (e != HT_OK)
        fprintf(stderr, "heaptrail %s: %s: %s\n", cmd, path, ht_strerror(e));
    return e == HT_OK ? 0 : 2;
}

static int row_flag(void *ctx, int ncol, const char *const *v,
                    const char *const *names)
{
    (void)ncol; (void)names;
    *(int *)ctx = v[0] && atoi(v[0]);
    return 0;
}

/* Whether run has replay results (run_stats and objects written). */
static int replayed(ht_store *st, int64_t run)
{
    char sql[256];
    int yes = 0;
    snprintf(sql, sizeof sql, "SELECT EXISTS(SELECT 1 FROM run_stats WHERE"
             " run_id=%lld) AND EXISTS(SELECT 1 FROM sqlite_master WHERE"
             " name='objects')", (long long)run);
    return ht_store_query(st, sql, 1, row_flag, &yes) == HT_OK && yes;
}

static int render(ht_store *st, const struct rep_opts *o,
                  struct ht_report *reps, size_t n, FILE *f)
{
    ht_err e = HT_OK;
    if (!strcmp(o->format, "json")) {
        e = ht_report_json(reps, n, f);
    } else if (!strcmp(o->format, "sarif")) {
        e = ht_report_sarif(reps, n, f);
    } else if (!strcmp(o->format, "html")) {
        /* one page holds one run: the first, unless --run chose another */
        if (n > 1)
            fprintf(stderr, "heaptrail report: the trace has %zu runs; the"
                    " HTML page shows run %lld (choose with --run N)\n", n,
                    (long long)reps[0].run_id);
        if (n)
            e = ht_report_html(st, &reps[0], f);
    } else {
        struct ht_report_text_opts to = {0, 0};
        to.color = !o->no_color && !o->out && !getenv("NO_COLOR") &&
                   isatty(fileno(f));
        for (size_t i = 0; e == HT_OK && i < n; i++) {
            if (i)
                fputc('\n', f);
            e = ht_report_text(&reps[i], &to, f);
        }
    }
    if (e != HT_OK) {
        cli_error(o->out ? o->out : "writing the report", e);
        return 2;
    }
    return 0;
}

/* Load the model of every selected run into *reps (n of them). */
static int load_all(ht_store *st, const struct rep_opts *o,
                    const ht_report_supp *supp, struct ht_report **reps,
                    size_t *n)
{
    int64_t *ids = NULL;
    size_t nids = 0;
    *reps = NULL;
    *n = 0;
    ht_err e = ht_store_runs(st, &ids, &nids);
    if (e != HT_OK) {
        cli_error("listing runs", e);
        return 2;
    }
    int rc = 0;
    *reps = calloc(nids ? nids : 1, sizeof **reps);
    for (size_t i = 0; *reps && !rc && i < nids; i++) {
        if (o->run && ids[i] != o->run)
            continue;
        if (!replayed(st, ids[i]) && cli_replay_runs(st, ids[i], 1))
            rc = 2;
        else if ((e = ht_report_load(st, ids[i], supp, &(*reps)[*n])) != HT_OK) {
            cli_error("reading the findings", e);
            ht_report_free(&(*reps)[*n]);
            rc = 2;
        } else {
            (*n)++;
        }
    }
    if (!*reps)
        rc = 2;
    if (!rc && o->run && !*n) {
        fprintf(stderr, "heaptrail: no run %lld in this trace\n", (long long)o->run);
        rc = 2;
    }
    free(ids);
    return rc;
}

int cmd_report(int argc, char **argv)
{
    struct rep_opts o;
    int rc = report_args(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    ht_report_supp *supp = NULL;
    if (o.supp && cli_supp_load("report", o.supp, &supp))
        return 2;
    double t0 = cli_now_s();
    ht_store *st = cli_open_trace(o.trace, 0, 0);
    timing("open and ingest", t0);
    if (!st) {
        ht_report_supp_free(supp);
        return 2;
    }
    struct ht_report *reps = NULL;
    size_t n = 0;
    t0 = cli_now_s();
    rc = load_all(st, &o, supp, &reps, &n);
    timing("replay and load findings", t0);
    FILE *f = stdout;
    if (!rc && o.out && !(f = fopen(o.out, "w"))) {
        fprintf(stderr, "heaptrail report: cannot write %s: %s\n", o.out,
                strerror(errno));
        rc = 2;
    }
    t0 = cli_now_s();
    if (!rc)
        rc = render(st, &o, reps, n, f);
    if (f && f != stdout && fclose(f) && !rc) {
        fprintf(stderr, "heaptrail report: cannot write %s\n", o.out);
        rc = 2;
    }
    timing("render", t0);
    unsigned hit = 0;
    for (size_t i = 0; i < n; i++) {
        hit |= ht_report_failures(&reps[i], o.fail_mask);
        ht_report_free(&reps[i]);
    }
    if (!rc && hit) {
        fprintf(stderr, "heaptrail report: failing findings:%s%s%s%s\n",
                hit & HT_REPORT_FAIL_LEAKS ? " leaks" : "",
                hit & HT_REPORT_FAIL_CYCLES ? " cycles" : "",
                hit & HT_REPORT_FAIL_REFCOUNT ? " refcount" : "",
                hit & HT_REPORT_FAIL_INVALID_FREE ? " invalid-free" : "");
        rc = o.exitcode;
    }
    if (!n && !rc)
        fprintf(stderr, "heaptrail report: no runs recorded in %s\n", o.trace);
    free(reps);
    ht_store_close(st);
    ht_report_supp_free(supp);
    return rc;
}
