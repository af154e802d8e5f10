/* heaptrail run: run a program, then ingest its spill however it ended. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

static const char run_usage[] =
    "NAME\n"
    "    heaptrail run - run a program and record its heap events\n"
    "\n"
    "SYNOPSIS\n"
    "    heaptrail run [-o TRACE] [-v] -- PROG [ARGS...]\n"
    "\n"
    "DESCRIPTION\n"
    "    Runs PROG (built with heaptrail-cc) with HEAPTRAIL_TRACE=TRACE so\n"
    "    that its instrumented code records into TRACE's spill, waits for it,\n"
    "    and ingests the spill even when PROG crashed, aborted or was killed\n"
    "    (the run is then marked incomplete). At exit the recorder scans the\n"
    "    live heap and data segments for pointer edges (memcheck-style leak\n"
    "    classes without instrumented stores); HEAPTRAIL_SNAPSHOT=0 in the\n"
    "    environment turns that off.\n"
    "\n"
    "OPTIONS\n"
    "    -o TRACE   trace database (default heaptrail.db)\n"
    "    -v         print what was ingested and timings on stderr\n"
    "\n"
    "EXIT STATUS\n"
    "    PROG's exit status, or 128+signal when PROG was killed; 127 PROG\n"
    "    could not be run; 1 PROG exited 0 but its spill could not be\n"
    "    ingested; 2 bad usage.\n"
    "\n"
    "EXAMPLES\n"
    "    heaptrail run -o trace.db -- ./prog --input data.txt\n"
    "    HEAPTRAIL_SNAPSHOT=0 heaptrail run -o trace.db -- ./prog\n";

/* Absolute form of a possibly relative path whose file may not exist. */
static int absolute_path(const char *p, char *out, size_t n)
{
    if (p[0] == '/')
        return snprintf(out, n, "%s", p) < (int)n ? 0 : -1;
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return -1;
    return snprintf(out, n, "%s/%s", cwd, p) < (int)n ? 0 : -1;
}

int cmd_run(int argc, char **argv)
{
    const char *trace = "heaptrail.db";
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--")) {
            i++;
            break;
        } else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            trace = argv[++i];
        } else if (!strcmp(argv[i], "-v")) {
            ht_cli_verbose = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(run_usage, stdout);
            return 0;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "heaptrail run: unknown option '%s'\n%s", argv[i], run_usage);
            return 2;
        } else {
            break;
        }
    }
    if (i >= argc) {
        fputs(run_usage, stderr);
        return 2;
    }
    char abs[PATH_MAX];
    if (absolute_path(trace, abs, sizeof abs) != 0) {
        fprintf(stderr, "heaptrail run: trace path too long\n");
        return 2;
    }
    if (setenv("HEAPTRAIL_TRACE", abs, 1) != 0) {
        perror("heaptrail run: setenv");
        return 2;
    }
    struct sigaction ign = {.sa_handler = SIG_IGN}, oint, oquit;
    sigaction(SIGINT, &ign, &oint);
    sigaction(SIGQUIT, &ign, &oquit);
    pid_t pid = fork();
    if (pid < 0) {
        perror("heaptrail run: fork");
        return 2;
    }
    if (pid == 0) {
        sigaction(SIGINT, &oint, NULL);
        sigaction(SIGQUIT, &oquit, NULL);
        execvp(argv[i], argv + i);
        fprintf(stderr, "heaptrail run: cannot run '%s': %s\n", argv[i], strerror(errno));
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            perror("heaptrail run: waitpid");
            return 2;
        }
    }
    sigaction(SIGINT, &oint, NULL);
    sigaction(SIGQUIT, &oquit, NULL);
    struct ht_run_end end = {.known = 1};
    int rc;
    if (WIFEXITED(status)) {
        end.exited = 1;
        end.status = WEXITSTATUS(status);
        rc = end.status;
    } else {
        end.exited = 0;
        end.status = WTERMSIG(status);
        rc = 128 + end.status;
        fprintf(stderr, "heaptrail run: %s was killed by signal %d (%s); "
                "the run is marked incomplete\n", argv[i], end.status,
                strsignal(end.status));
    }
    ht_store *st = NULL;
    ht_err e = ht_store_open(abs, HT_STORE_CREATE, &st);
    if (e != HT_OK) {
        cli_error(abs, e);
        return rc ? rc : 1;
    }
    /* the user's wait ends when the run is committed: the kernel frees the
     * spill's blocks in a detached process afterwards */
    ht_store_set_background_free(st, 1);
    if (cli_ingest(st, abs, pid, &end) != HT_OK && rc == 0)
        rc = 1;
    ht_store_close(st);
    return rc;
}
