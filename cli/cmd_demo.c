/* heaptrail demo: build, record, replay and report the bundled tour sample. */
#include <errno.h>
#include <dirent.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "heaptrail/selfdir.h"

extern char **environ;

static const char demo_usage[] =
    "NAME\n"
    "    heaptrail demo - the whole pipeline on the bundled sample\n"
    "\n"
    "SYNOPSIS\n"
    "    heaptrail demo [-o DIR]\n"
    "\n"
    "DESCRIPTION\n"
    "    Builds the bundled sample samples/demo/tour.c with heaptrail-cc (a\n"
    "    leak, a leak by overwriting a pointer, a reference cycle, a missing\n"
    "    refcount decrement, a fragmentation pattern), runs it under\n"
    "    'heaptrail run' with the exit snapshot, replays it, prints the text\n"
    "    report and writes DIR/report.html.\n"
    "\n"
    "OPTIONS\n"
    "    -o DIR          where the build, trace.db and report.html go\n"
    "                    (default heaptrail-demo).\n"
    "\n"
    "EXIT STATUS\n"
    "    0 done; 1 a step failed (its output says which); 2 bad usage.\n";

/* Run argv, wait; returns its exit code (128+signal, 127 if not started). */
static int run_cmd(char *const argv[])
{
    pid_t pid;
    fflush(stdout);
    int e = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
    if (e) {
        fprintf(stderr, "heaptrail demo: cannot run %s: %s\n", argv[0], strerror(e));
        return 127;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return 127;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* tour.c of an install (BINDIR/../share/heaptrail/samples) or of the source
 * tree this binary was built from. */
static int find_tour(const char *bindir, char *out, size_t n)
{
    const char *env = getenv("HEAPTRAIL_SAMPLES");
    const char *cands[3] = {env, NULL, HT_SOURCE_SAMPLES};
    char inst[PATH_MAX + 32];
    if ((size_t)snprintf(inst, sizeof inst, "%s/../share/heaptrail/samples",
                         bindir) < sizeof inst)
        cands[1] = inst;
    for (int i = 0; i < 3; i++) {
        if (!cands[i])
            continue;
        if ((size_t)snprintf(out, n, "%s/demo/tour.c", cands[i]) < n &&
            access(out, R_OK) == 0)
            return 0;
    }
    return -1;
}

/* Remove a previous demo's trace and spill directory. */
static void clean_trace(const char *db)
{
    char spill[PATH_MAX + 8];
    unlink(db);
    if ((size_t)snprintf(spill, sizeof spill, "%s.spill", db) >= sizeof spill)
        return;
    DIR *d = opendir(spill);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        char p[PATH_MAX * 2];
        if (de->d_name[0] == '.')
            continue;
        if ((size_t)snprintf(p, sizeof p, "%s/%s", spill, de->d_name) < sizeof p)
            unlink(p);
    }
    closedir(d);
    rmdir(spill);
}

int cmd_demo(int argc, char **argv)
{
    const char *dir = "heaptrail-demo";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            dir = argv[++i];
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(demo_usage, stdout);
            return 0;
        } else {
            fprintf(stderr, "heaptrail demo: unexpected '%s'\nusage: heaptrail"
                    " demo [-o DIR]\n", argv[i]);
            return 2;
        }
    }
    char bindir[PATH_MAX], self[PATH_MAX + 16], cc[PATH_MAX + 16];
    char tour[PATH_MAX + 16], prog[PATH_MAX + 16], db[PATH_MAX + 16];
    char html[PATH_MAX + 16];
    if (ht__self_dir(bindir, sizeof bindir)) {
        fprintf(stderr, "heaptrail demo: cannot find the heaptrail binary\n");
        return 1;
    }
    snprintf(self, sizeof self, "%s/heaptrail", bindir);
    snprintf(cc, sizeof cc, "%s/heaptrail-cc", bindir);
    if (access(cc, X_OK)) {
        fprintf(stderr, "heaptrail demo: %s not found (build heaptrail-cc)\n", cc);
        return 1;
    }
    if (find_tour(bindir, tour, sizeof tour)) {
        fprintf(stderr, "heaptrail demo: samples/demo/tour.c not found (set "
                        "HEAPTRAIL_SAMPLES to the samples directory)\n");
        return 1;
    }
    if (mkdir(dir, 0777) && errno != EEXIST) {
        fprintf(stderr, "heaptrail demo: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    if (strlen(dir) > PATH_MAX - 16) {
        fprintf(stderr, "heaptrail demo: directory name too long\n");
        return 1;
    }
    snprintf(prog, sizeof prog, "%s/tour", dir);
    snprintf(db, sizeof db, "%s/trace.db", dir);
    snprintf(html, sizeof html, "%s/report.html", dir);
    clean_trace(db);

    /* compile (-c: the step heaptrail-cc instruments) and link apart */
    printf("== instrument: heaptrail-cc -O1 -c -o %s.o %s && heaptrail-cc -o %s %s.o\n",
           prog, tour, prog, prog);
    setenv("HEAPTRAIL_OPTS", "--refcount-inc=obj_incref --refcount-dec=obj_decref", 1);
    char obj[PATH_MAX + 24];
    snprintf(obj, sizeof obj, "%s.o", prog);
    char *comp[] = {cc, "-O1", "-c", "-o", obj, tour, NULL};
    char *link[] = {cc, "-o", prog, obj, NULL};
    if (run_cmd(comp) || run_cmd(link)) {
        fprintf(stderr, "heaptrail demo: building the tour failed\n");
        return 1;
    }
    unsetenv("HEAPTRAIL_OPTS");
    printf("== run: heaptrail run -o %s -- %s\n", db, prog);
    setenv("HEAPTRAIL_SNAPSHOT", "1", 1);
    char *run[] = {self, "run", "-o", db, "--", prog, NULL};
    int rc = run_cmd(run);
    unsetenv("HEAPTRAIL_SNAPSHOT");
    if (rc) {
        fprintf(stderr, "heaptrail demo: the tour exited with status %d\n", rc);
        return 1;
    }
    printf("== replay + report\n");
    /* the html report first: its replay takes ~500 snapshots for the plots,
     * and the text report then reuses that replay */
    char *rh[] = {self, "report", db, "--format", "html", "-o", html, NULL};
    if (run_cmd(rh))
        return 1;
    char *rep[] = {self, "report", db, NULL};
    if (run_cmd(rep))
        return 1;
    printf("== wrote %s (open it in a browser)\n", html);
    return 0;
}
