/* heaptrail replay / report: the allocation summary of each run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "heaptrail/replay.h"

static struct ht_replay_opts replay_opts;

static int parse_run_opt(int argc, char **argv, const char **trace,
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

/* Replay every run (or one) of the trace. Returns 0 or 1. */
static int replay_runs(ht_store *st, int64_t only, int quiet)
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
        e = ht_replay_run(st, ids[i], &replay_opts, &rr);
        if (e != HT_OK) {
            char what[64];
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
    "usage: heaptrail replay TRACE [--run N] [--allocator pymalloc-3.12]\n"
    "                        [--gc 3.12] [--snapshot-every N] [-v]\n"
    "  Replays the recorded events of every run (or run N) through the object\n"
    "  table, the pymalloc model (profiles 3.8 3.9 3.10 3.11 3.12 3.13) and\n"
    "  the CPython GC model, and writes the result tables into TRACE:\n"
    "  run_stats, site_stats, objects, errors, frag_snapshots,\n"
    "  gc_collections, cycles, cycle_members, cycle_edges and the views\n"
    "  site_report and leak_summary (docs/trace-format.md).\n";

int cmd_replay(int argc, char **argv)
{
    const char *trace;
    int64_t run;
    int rc = parse_run_opt(argc, argv, &trace, &run, replay_usage);
    if (rc)
        return rc < 0 ? 0 : rc;
    ht_store *st = cli_open_trace(trace, 0, 0);
    if (!st)
        return 1;
    rc = replay_runs(st, run, 0);
    ht_store_close(st);
    return rc;
}

static int print_cb(void *ctx, int ncol, const char *const *v,
                    const char *const *names)
{
    (void)ctx; (void)names;
    for (int i = 0; i < ncol; i++)
        fputs(v[i] ? v[i] : "", stdout);
    putchar('\n');
    return 0;
}

static const char report_sql[] =
    "SELECT printf('run %d: %s  (pid %d, %s%s)', r.run_id, r.argv, r.pid,"
    "  r.status || CASE WHEN r.exit_status IS NOT NULL THEN ' '||r.exit_status"
    "  WHEN r.signal IS NOT NULL THEN ' by signal '||r.signal ELSE '' END,"
    "  CASE WHEN r.complete THEN ', complete' ELSE ', INCOMPLETE' END)"
    "  FROM runs r WHERE r.run_id=@RUN@;"
    "SELECT printf('  events %,d   allocations %,d (%,d bytes)   reallocs %,d"
    "   frees %,d   invalid frees %,d', events, allocs, bytes_allocated,"
    "  reallocs, frees, invalid_frees),"
    " char(10) || printf('  peak live heap: %,d bytes in %,d blocks (event %d)',"
    "  peak_live_bytes, peak_live_blocks, peak_seq),"
    " char(10) || printf('  live at end: %,d blocks, %,d bytes', live_blocks,"
    "  live_bytes) FROM run_stats WHERE run_id=@RUN@;"
    "SELECT '  live at end by site:' WHERE EXISTS(SELECT 1 FROM site_stats"
    "  WHERE run_id=@RUN@ AND live_blocks>0);"
    "SELECT printf('    %8d blocks %10s bytes  %s', live_blocks,"
    "  printf('%,d', live_bytes), COALESCE(file||':'||line||':'||col||' '||"
    "  COALESCE(func,'?'), printf('pc 0x%x (no debug info)', pc)))"
    "  FROM site_report WHERE run_id=@RUN@ AND live_blocks>0"
    "  ORDER BY live_bytes DESC, live_blocks DESC, file, line LIMIT 20;"
    "SELECT '  leak summary (blocks live at the end):' WHERE EXISTS(SELECT 1"
    "  FROM leak_summary WHERE run_id=@RUN@);"
    "SELECT printf('    %-20s %8d blocks %10s bytes', CASE category"
    "  WHEN 'definite' THEN 'definitely lost:' WHEN 'indirect' THEN"
    "  'indirectly lost:' WHEN 'cycle' THEN 'lost in cycles:' WHEN 'reachable'"
    "  THEN 'still reachable:' ELSE category END, blocks, printf('%,d', bytes))"
    "  FROM leak_summary WHERE run_id=@RUN@ ORDER BY CASE category"
    "  WHEN 'definite' THEN 1 WHEN 'indirect' THEN 2 WHEN 'cycle' THEN 3 ELSE 4 END;"
    "SELECT printf('  errors: %s', group_concat(kind || ' x' || n, ', ')) FROM"
    "  (SELECT kind, count(*) n FROM errors WHERE run_id=@RUN@ GROUP BY kind)"
    "  HAVING count(*) > 0;";

/* Copy tmpl into out replacing every "@RUN@" by the run id. */
static void subst_run(char *out, size_t n, const char *tmpl, int64_t run)
{
    size_t j = 0;
    while (*tmpl && j + 32 < n) {
        if (!strncmp(tmpl, "@RUN@", 5)) {
            j += (size_t)snprintf(out + j, n - j, "%lld", (long long)run);
            tmpl += 5;
        } else {
            out[j++] = *tmpl++;
        }
    }
    out[j] = 0;
}

static const char report_usage[] =
    "usage: heaptrail report TRACE [--run N]\n"
    "  Prints, per run: allocations, frees, bytes, peak live heap, and the\n"
    "  blocks still live when the run ended, by allocation site. Replays the\n"
    "  trace first when it has not been replayed.\n";

int cmd_report(int argc, char **argv)
{
    const char *trace;
    int64_t run;
    int rc = parse_run_opt(argc, argv, &trace, &run, report_usage);
    if (rc)
        return rc < 0 ? 0 : rc;
    ht_store *st = cli_open_trace(trace, 0, 0);
    if (!st)
        return 1;
    /* replay runs that have no results yet */
    int64_t *ids = NULL;
    size_t n = 0;
    ht_err e = ht_store_runs(st, &ids, &n);
    if (e != HT_OK) {
        cli_error("listing runs", e);
        ht_store_close(st);
        return 1;
    }
    rc = replay_runs(st, run, 1);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (run && ids[i] != run)
            continue;
        char sql[sizeof report_sql + 128];
        subst_run(sql, sizeof sql, report_sql, ids[i]);
        if (ht_store_query(st, sql, 1, print_cb, NULL) != HT_OK) {
            fprintf(stderr, "heaptrail report: %s\n", ht_store_last_error());
            rc = 1;
        }
    }
    if (n == 0)
        printf("no runs recorded in %s\n", trace);
    free(ids);
    ht_store_close(st);
    return rc;
}
