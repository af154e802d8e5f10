/* heaptrail run: run a program, ingesting its spill while it runs (live
 * ingest, docs/DECISIONS.md 18), then the rest however it ended.
 *
 * While the child runs, the parent polls for the child's own spill
 * (<trace>.spill/spill-<pid>-*.hts, the first image's: an exec'd image and
 * forked children are ingested after the exit, as before) and merges it in
 * steps (ht_store_ingest_step), sleeping only when a step found nothing;
 * waitpid(WNOHANG) ends the loop whether the child exited or was killed.
 * Any problem of the live ingest (no spill yet, a spill not yet complete,
 * an error) only drops back to the offline ingest after the exit: the
 * spill is never modified before the final commit. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
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
    "    that its instrumented code records into TRACE's spill, ingests the\n"
    "    spill while PROG runs and the rest once it ended, even when PROG\n"
    "    crashed, aborted or was killed (the run is then marked incomplete);\n"
    "    nothing is committed before PROG ended. At exit the recorder scans the\n"
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


/* State of the live ingest while the child runs. */
struct live {
    pid_t pid;
    const char *trace; /* absolute trace path */
    ht_store *st;      /* opened once the child's spill exists */
    ht_ingest *ig;     /* the child's spill being ingested, or NULL */
    int off;           /* live ingest given up: offline after the exit */
    int ig_done;       /* ig was finished (committed or failed) */
    uint64_t merged;   /* slots merged while the child ran */
    char spill[PATH_MAX];
};

/* The spill files of trace's spill directory (pid's only unless 0), in
 * ingest order (ht_spill_list). */
static ht_err list_spills(const char *trace, pid_t pid, char ***paths,
                          size_t *np)
{
    char dir[PATH_MAX];
    ht_err e = ht_store_spill_dir(trace, dir, sizeof dir);
    return e != HT_OK ? e : ht_spill_list(dir, (int)pid, paths, np);
}

/* Path of pid's first spill (smallest start time) into out: 1 found, 0
 * not (yet). */
static int find_spill(const char *trace, pid_t pid, char *out, size_t n)
{
    char **paths = NULL;
    size_t np = 0;
    if (list_spills(trace, pid, &paths, &np) != HT_OK)
        return 0;
    int found = np && snprintf(out, n, "%s", paths[0]) < (int)n;
    ht_spill_list_free(paths, np);
    return found;
}

/* Whether trace's spill directory may still hold a spill: 1 as well when it
 * cannot be listed, so that the ingest runs and reports why. */
static int spills_left(const char *trace)
{
    char **paths = NULL;
    size_t np = 0;
    if (list_spills(trace, 0, &paths, &np) != HT_OK)
        return 1;
    ht_spill_list_free(paths, np);
    return np != 0;
}

/* Try to start the live ingest of the child's spill (quietly: a spill
 * being created is not complete yet; any other failure is reported by the
 * offline ingest after the exit). */
static void live_start(struct live *lv)
{
    if (!find_spill(lv->trace, lv->pid, lv->spill, sizeof lv->spill))
        return;
    if (!lv->st && ht_store_open(lv->trace, HT_STORE_CREATE, &lv->st) != HT_OK) {
        lv->st = NULL;
        lv->off = 1;
        return;
    }
    ht_err e = ht_store_ingest_begin(lv->st, lv->spill, &lv->ig);
    if (e == HT_ECORRUPT || e == HT_ETRUNC)
        return; /* magic not written yet: the recorder is creating it */
    if (e != HT_OK)
        lv->off = 1;
}

/* Wait for the child, ingesting its spill meanwhile. 0, or -1 (waitpid
 * failed: message printed). */
static int live_wait(struct live *lv, int *status)
{
    /* a descriptor that polls readable when the child ends: the sleeps
     * below end at its exit, not up to 20 ms later (Linux >= 5.3; without
     * it, plain sleeps) */
    int pfd = (int)syscall(SYS_pidfd_open, lv->pid, 0);
    for (;;) {
        pid_t r = waitpid(lv->pid, status, lv->off && !lv->ig ? 0 : WNOHANG);
        if (r == lv->pid) {
            if (pfd >= 0)
                close(pfd);
            return 0;
        }
        if (r < 0) {
            if (errno == EINTR)
                continue;
            perror("heaptrail run: waitpid");
            if (pfd >= 0)
                close(pfd);
            return -1;
        }
        uint64_t merged = 0;
        if (!lv->ig && !lv->off)
            live_start(lv);
        if (lv->ig && ht_store_ingest_step(lv->ig, &merged) != HT_OK) {
            merged = 0;
            ht_store_ingest_abort(lv->ig); /* rolled back; offline later */
            lv->ig = NULL;
            lv->off = 1;
        }
        lv->merged += merged;
        if (!merged) {
            /* 20 ms with a spill (the step's lag), 5 ms while waiting for
             * it to appear (most programs allocate at once) */
            int ms = lv->ig ? 20 : 5;
            struct pollfd pf = {.fd = pfd, .events = POLLIN};
            if (pfd < 0 || poll(&pf, 1, ms) < 0) {
                struct timespec ts = {0, ms * 1000000L};
                nanosleep(&ts, NULL);
            }
        }
    }
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
    struct live lv = {.pid = pid, .trace = abs};
    if (live_wait(&lv, &status) != 0)
        return 2;
    double t_exit = cli_now_s();
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
    ht_store *st = lv.st;
    if (!st) {
        ht_err e = ht_store_open(abs, HT_STORE_CREATE, &st);
        if (e != HT_OK) {
            cli_error(abs, e);
            return rc ? rc : 1;
        }
    }
    /* the user's wait ends when the run is committed: the kernel frees the
     * spill's blocks in a detached process afterwards */
    ht_store_set_background_free(st, 1);
    int failed = 0, retry = 0;
    if (lv.ig) {
        /* a failure that kept the spill is not printed: retried below */
        failed = cli_ingest_finish(st, lv.ig, lv.spill, &end, &retry) !=
                     HT_OK && !retry;
        lv.ig = NULL;
        lv.ig_done = 1;
    }
    /* the other spills (forked children, exec'd images, or the child's own
     * when the live ingest did not start or failed), as before. With none
     * left, no ingest_dir: its rmdir would wait for the filesystem to free
     * the live spill (DECISIONS 17; the background process removes the
     * directory) */
    if (!lv.ig_done || retry || spills_left(abs))
        failed |= cli_ingest(st, abs, pid, &end) != HT_OK;
    if (failed && rc == 0)
        rc = 1;
    if (ht_cli_verbose)
        fprintf(stderr, "heaptrail: %llu records merged while the program ran "
                "(live ingest); %.3f s of ingest after it ended\n",
                (unsigned long long)lv.merged, cli_now_s() - t_exit);
    ht_store_close(st);
    return rc;
}
