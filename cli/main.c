/* heaptrail: command dispatch and shared CLI helpers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "heaptrail/selfdir.h"

int ht_cli_verbose;

static const char usage[] =
    "usage: heaptrail <command> [options]\n"
    "\n"
    "commands:\n"
    "  run [-o TRACE] [-v] -- PROG [ARGS...]\n"
    "                  run PROG (built with heaptrail-cc), record its heap\n"
    "                  events into TRACE (default heaptrail.db); exits with\n"
    "                  PROG's status, even if it crashes or is killed\n"
    "  ingest TRACE    ingest spills left by instrumented programs that ran\n"
    "                  without 'heaptrail run'\n"
    "  sql [--write] TRACE [SQL]\n"
    "                  run SQL against TRACE (the 'events' table decodes the\n"
    "                  recorded events); without SQL, an interactive shell\n"
    "  replay TRACE [--run N]\n"
    "                  replay the recorded events and write result tables\n"
    "  demo [-o DIR]   build, record and report the bundled tour sample;\n"
    "                  writes DIR/report.html\n"
    "  analyze -p compile_commands.json [--format text|json]\n"
    "                  static report, no run: sites by kind and file, and\n"
    "                  type-level cycle candidates (node.next -> node)\n"
    "  instrument -p compile_commands.json\n"
    "                  recompile an existing build's objects instrumented\n"
    "                  (heaptrail-cc); prints the link flags to add\n"
    "  report TRACE [--format text|json|sarif|html] [-o FILE] [--fail-on L]\n"
    "                  the findings: leaks, cycles, refcount errors, bad\n"
    "                  frees, fragmentation, GC (replays first if needed)\n"
    "  diff A.db B.db  new/gone leak sites and peak delta between two traces\n"
    "  help COMMAND    details of one command\n"
    "\n"
    "Environment for instrumented programs: HEAPTRAIL_TRACE (trace path),\n"
    "HEAPTRAIL_SPILL_MAX (spill bytes), HEAPTRAIL_DISABLE=1.\n";

void cli_error(const char *what, ht_err err)
{
    const char *detail = ht_store_last_error();
    size_t wl = strlen(what);
    if (detail && !strncmp(detail, what, wl) && detail[wl] == ':')
        what = NULL; /* the detail already names it */
    if (!what)
        fprintf(stderr, "heaptrail: %s (%s)\n", detail, ht_strerror(err));
    else if (detail && *detail)
        fprintf(stderr, "heaptrail: %s: %s (%s)\n", what, detail,
                ht_strerror(err));
    else
        fprintf(stderr, "heaptrail: %s: %s\n", what, ht_strerror(err));
}

/* Report one spill's ingest; ctx counts the failures (int). */
static void ingest_cb(void *ctx, const char *spill, ht_err err,
                      const struct ht_ingest_result *res)
{
    int *failures = ctx;
    if (err == HT_OK) {
        if (ht_cli_verbose)
            fprintf(stderr, "heaptrail: ingested run %lld (pid %d): %llu events%s%s\n",
                    (long long)res->run_id, res->pid,
                    (unsigned long long)res->events,
                    res->complete ? "" : ", incomplete",
                    res->redone ? " (merge redone: records out of order)" : "");
        if (res->overflow_events > res->seq_limit_events)
            fprintf(stderr, "heaptrail: warning: run %lld lost %llu events "
                    "(spill full; raise HEAPTRAIL_SPILL_MAX)\n",
                    (long long)res->run_id,
                    (unsigned long long)(res->overflow_events -
                                         res->seq_limit_events));
        if (res->seq_limit_events)
            fprintf(stderr, "heaptrail: warning: run %lld lost its last %llu "
                    "events (event sequence numbers spent: the format "
                    "stores 2^48)\n",
                    (long long)res->run_id,
                    (unsigned long long)res->seq_limit_events);
        if (res->torn)
            fprintf(stderr, "heaptrail: warning: run %lld: %llu torn records skipped\n",
                    (long long)res->run_id, (unsigned long long)res->torn);
        return;
    }
    if (err == HT_EBUSY) {
        fprintf(stderr, "heaptrail: note: %s\n", ht_store_last_error());
        return;
    }
    ++*failures;
    fprintf(stderr, "heaptrail: cannot ingest %s: %s (%s); the spill is kept\n",
            spill, ht_store_last_error(), ht_strerror(err));
}

void cli_progress(const char *what, uint64_t done, uint64_t total)
{
    int pct = total ? (int)(100 * (done > total ? total : done) / total) : 0;
    char bar[31];
    memset(bar, ' ', 30);
    memset(bar, '#', (size_t)(pct * 30 / 100));
    bar[30] = 0;
    fprintf(stderr, "\rheaptrail: %s [%s] %3d%%", what, bar, pct);
}

/* Progress bar on stderr (a TTY) while a spill is ingested. */
static void ingest_progress(void *ctx, uint64_t done, uint64_t total)
{
    int *drawn = ctx;
    cli_progress("ingesting", done, total);
    *drawn = 1;
}

/* The ingest progress bar on a terminal (*drawn set once it drew), and
 * its line cleared afterwards. */
static void progress_on(ht_store *st, int *drawn)
{
    if (isatty(2))
        ht_store_set_progress(st, ingest_progress, drawn);
}

static void progress_off(ht_store *st, int drawn)
{
    ht_store_set_progress(st, NULL, NULL);
    if (drawn)
        fprintf(stderr, "\r%50s\r", "");
}

double cli_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int cli_ingest(ht_store *st, const char *path, int child_pid,
               const struct ht_run_end *end)
{
    char dir[4096];
    if (ht_store_spill_dir(path, dir, sizeof dir) != HT_OK)
        return HT_EINVAL;
    int failures = 0, drawn = 0;
    progress_on(st, &drawn);
    ht_err e = ht_store_ingest_dir(st, dir, end, child_pid, ingest_cb, &failures);
    progress_off(st, drawn);
    if (e != HT_OK) {
        /* the loop stops only on a spill's HT_ESQL / HT_ENOMEM, which
         * ingest_cb printed already; before any spill, the listing failed */
        if (!failures)
            cli_error("ingest", e);
        return e;
    }
    return failures ? HT_ECORRUPT : HT_OK;
}

int cli_ingest_finish(ht_store *st, ht_ingest *ig, const char *spill,
                      const struct ht_run_end *end, int *retry)
{
    int failures = 0, drawn = 0;
    progress_on(st, &drawn);
    struct ht_ingest_result res;
    ht_err e = ht_store_ingest_finish(ig, end, &res);
    progress_off(st, drawn);
    /* rolled back with the spill kept: cli_ingest tries it again and
     * reports how that ends (one message) */
    *retry = e != HT_OK && e != HT_EBUSY && access(spill, F_OK) == 0;
    if (!*retry)
        ingest_cb(&failures, spill, e, &res);
    return e == HT_EBUSY ? HT_OK : e; /* EBUSY: a note, as in cli_ingest */
}

ht_store *cli_open_trace(const char *path, int create, int readonly)
{
    char dir[4096];
    ht_store *st = NULL;
    int pending = ht_store_spill_dir(path, dir, sizeof dir) == HT_OK &&
                  access(dir, F_OK) == 0;
    if (pending || create) {
        /* a spill waiting: ingest it first, so nothing recorded is missed */
        ht_err e = ht_store_open(path, HT_STORE_CREATE, &st);
        if (e != HT_OK) {
            cli_error(path, e);
            return NULL;
        }
        if (pending)
            cli_ingest(st, path, 0, NULL);
        if (!readonly)
            return st;
        ht_store_close(st);
    }
    ht_err e = ht_store_open(path, readonly ? HT_STORE_READONLY : 0, &st);
    if (e != HT_OK) {
        cli_error(path, e);
        return NULL;
    }
    return st;
}

static const char ingest_usage[] =
    "NAME\n"
    "    heaptrail ingest - store the spills of programs run without heaptrail\n"
    "\n"
    "SYNOPSIS\n"
    "    heaptrail ingest TRACE\n"
    "\n"
    "DESCRIPTION\n"
    "    An instrumented program run without 'heaptrail run' records into\n"
    "    $HEAPTRAIL_TRACE (default heaptrail.db): its spill waits in\n"
    "    TRACE.spill/. This ingests every finished spill there into TRACE\n"
    "    (creating it if needed) and deletes the spills; a spill whose\n"
    "    process is still alive is left for later. Every other command that\n"
    "    opens a trace does this first by itself.\n"
    "\n"
    "OPTIONS\n"
    "    none\n"
    "\n"
    "EXIT STATUS\n"
    "    0 success; 1 a spill could not be ingested (it is kept); 2 bad\n"
    "    usage.\n"
    "\n"
    "EXAMPLES\n"
    "    HEAPTRAIL_TRACE=t.db ./prog && heaptrail ingest t.db\n";

int cmd_ingest(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs(ingest_usage, stdout);
        return 0;
    }
    if (argc != 2) {
        fputs(ingest_usage, stderr);
        return 2;
    }
    ht_store *st = NULL;
    ht_err e = ht_store_open(argv[1], HT_STORE_CREATE, &st);
    if (e != HT_OK) {
        cli_error(argv[1], e);
        return 1;
    }
    ht_store_set_background_free(st, 1); /* as heaptrail run: no wait for
                                          * the filesystem to free the spill */
    int rc = cli_ingest(st, argv[1], 0, NULL);
    ht_store_close(st);
    return rc == HT_OK ? 0 : 1;
}

/* analyze and instrument run in heaptrail-analyze, next to this program
 * (cli/analyze_main.c): only they need libclang. argv[0] is the command. */
static int cmd_libclang(int argc, char **argv)
{
    char self[4096], path[4096 + 32];
    if (ht__self_dir(self, sizeof self)) {
        perror("heaptrail: /proc/self/exe");
        return 2;
    }
    snprintf(path, sizeof path, "%s/heaptrail-analyze", self);
    char **v = calloc((size_t)argc + 2, sizeof *v);
    if (!v) {
        cli_error(argv[0], HT_ENOMEM);
        return 2;
    }
    v[0] = path;
    memcpy(v + 1, argv, (size_t)argc * sizeof *v);
    fflush(NULL);
    execv(path, v);
    fprintf(stderr, "heaptrail: cannot run %s: %s\n", path, strerror(errno));
    free(v);
    return 2;
}

static const struct {
    const char *name;
    int (*fn)(int, char **);
} commands[] = {
    {"run", cmd_run},       {"ingest", cmd_ingest}, {"sql", cmd_sql},
    {"replay", cmd_replay}, {"report", cmd_report},
    {"demo", cmd_demo},
    {"analyze", cmd_libclang}, {"instrument", cmd_libclang},
    {"diff", cmd_diff},
};

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "help")) {
        /* help COMMAND: the command's own manual page */
        for (size_t i = 0; argc > 2 && i < sizeof commands / sizeof commands[0]; i++)
            if (!strcmp(argv[2], commands[i].name)) {
                char *hv[] = {argv[2], "--help", NULL};
                return commands[i].fn(2, hv);
            }
        fputs(usage, stdout);
        return argc > 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("heaptrail 0.1.0 (trace schema %d)\n", HT_SCHEMA_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "heaptrail: unknown command '%s' (see heaptrail --help)\n", argv[1]);
    return 2;
}
