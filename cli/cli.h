/* cli/ internals: one file per group of subcommands. */
#ifndef HEAPTRAIL_CLI_H
#define HEAPTRAIL_CLI_H

#include <stddef.h>

#include "heaptrail/err.h"
#include "heaptrail/store.h"

extern int ht_cli_verbose;

/* Print "heaptrail: <what>: <error text>" on stderr; with the store's
 * last error as a detail, "heaptrail: <what>: <detail> (<error text>)", or
 * without what when the detail starts with "<what>:". */
void cli_error(const char *what, ht_err err);
/* Open a trace; ingest any finished spills first unless readonly_only.
 * Prints its own error; returns NULL on failure. */
ht_store *cli_open_trace(const char *path, int create, int readonly);
/* Ingest the spills of path's spill dir; child_pid/end describe a run that
 * heaptrail itself waited for (0/NULL otherwise). Returns 0 or an error. */
/* One redraw of a 30-column progress bar "heaptrail: WHAT [###  ] NN%" on
 * stderr (callers draw only when stderr is a TTY). */
void cli_progress(const char *what, uint64_t done, uint64_t total);
int cli_ingest(ht_store *st, const char *path, int child_pid,
               const struct ht_run_end *end);
/* Finish the live ingest ig of spill (heaptrail run) with cli_ingest's
 * progress bar and messages. Returns 0 or an error. A failure that left the
 * spill in place (rolled back) prints nothing and sets *retry (else 0): the
 * caller's cli_ingest is to ingest the spill again and report. */
int cli_ingest_finish(ht_store *st, ht_ingest *ig, const char *spill,
                      const struct ht_run_end *end, int *retry);

/* Monotonic clock in seconds (phase timings of -v). */
double cli_now_s(void);

struct ht_report_supp;
/* Load a suppression file for heaptrail CMD (cli/cmd_report.c): 0, or 2
 * after one error line. */
int cli_supp_load(const char *cmd, const char *path,
                  struct ht_report_supp **out);

int cmd_run(int argc, char **argv);
int cmd_ingest(int argc, char **argv);
int cmd_sql(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_instrument(int argc, char **argv);
int cmd_diff(int argc, char **argv);

#endif
