/*
 * heaptrail instrument -p compile_commands.json
 *
 * Re-runs every compile of an existing build (CMake's
 * CMAKE_EXPORT_COMPILE_COMMANDS, bear) through heaptrail-cc, in the entry's
 * directory with HEAPTRAIL_REAL_CC set to the entry's compiler: the objects
 * are replaced in place by instrumented ones, each with its "<obj>.htsites"
 * site table. heaptrail-cc's warnings pass through; a file it compiles as
 * is (a "fallback" line in its HEAPTRAIL_CC_LOG) counts as "fell back".
 * Then tells the user how to link.
 *
 * heaptrail-cc is $HEAPTRAIL_CC, else the one next to this program, else
 * found in PATH.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ccdb.h"
#include "cli.h"
#include "heaptrail/selfdir.h"

static const char instrument_usage[] =
    "usage: heaptrail instrument -p compile_commands.json\n";

static const char instrument_help[] =
    "NAME\n"
    "    heaptrail instrument - re-run a build's compiles through heaptrail-cc\n"
    "\n"
    "SYNOPSIS\n"
    "    heaptrail instrument -p compile_commands.json\n"
    "\n"
    "DESCRIPTION\n"
    "    Re-runs every compile of an existing build (its compilation\n"
    "    database: CMake's CMAKE_EXPORT_COMPILE_COMMANDS, bear) through\n"
    "    heaptrail-cc, in each entry's directory with the entry's compiler as\n"
    "    the real compiler: the objects are replaced in place by\n"
    "    instrumented ones, each with its <obj>.htsites site table. A file\n"
    "    heaptrail-cc cannot instrument is compiled as is (counted as \"fell\n"
    "    back\", with heaptrail-cc's warning). Then prints how to link.\n"
    "\n"
    "OPTIONS\n"
    "    -p PATH         compile_commands.json, or the folder holding it.\n"
    "\n"
    "ENVIRONMENT\n"
    "    HEAPTRAIL_CC    the heaptrail-cc to use (default: the one next to\n"
    "                    this program, else PATH).\n"
    "\n"
    "EXIT STATUS\n"
    "    0 every compile succeeded; 1 a compile failed or the database is\n"
    "    unreadable; 2 bad usage.\n";

/* heaptrail-cc's path (static storage). */
static const char *cc_path(void)
{
    static char p[PATH_MAX + 16];
    const char *env = getenv("HEAPTRAIL_CC");
    if (env && *env)
        return env;
    if (ht__self_dir(p, PATH_MAX) == 0) {
        strcat(p, "/heaptrail-cc");
        if (access(p, X_OK) == 0)
            return p;
    }
    return "heaptrail-cc";
}

static int is_compile(const struct ht_ccdb_entry *e)
{
    for (int i = 1; i < e->argc; i++)
        if (strcmp(e->argv[i], "-c") == 0)
            return 1;
    return 0;
}

/* What heaptrail-cc left unrecorded in the entries it instrumented: sums
 * of the unrecorded= and splice_failed= fields of its HEAPTRAIL_CC_LOG
 * lines. */
struct counts {
    size_t unrecorded, splice_failed;
};

/* Read heaptrail-cc's log of one entry (lf, rewound) into c; copy it to
 * the user's own $HEAPTRAIL_CC_LOG if set. 1 if a source fell back. */
static int read_log(FILE *lf, struct counts *c)
{
    const char *user = getenv("HEAPTRAIL_CC_LOG");
    FILE *uf = user && *user ? fopen(user, "a") : NULL;
    char line[8192];
    int fell = 0;
    rewind(lf);
    while (fgets(line, sizeof line, lf)) {
        if (uf)
            fputs(line, uf);
        fell |= strncmp(line, "fallback\t", 9) == 0;
        const char *u = strstr(line, "\tunrecorded=");
        const char *f = strstr(line, "\tsplice_failed=");
        if (u)
            c->unrecorded += strtoull(u + 12, NULL, 10);
        if (f)
            c->splice_failed += strtoull(f + 15, NULL, 10);
    }
    if (uf)
        fclose(uf);
    return fell;
}

/* Run one entry through heaptrail-cc; its stderr is ours. Returns the exit
 * status (-1: could not run); *fell_back if heaptrail-cc compiled the file
 * as is, from its log alone (it logs every fallback it warns about: one
 * source, not the log and the warning both); its unrecorded counts are
 * added to c. */
static int run_entry(const struct ht_ccdb_entry *e, const char *cc,
                     int *fell_back, struct counts *c)
{
    *fell_back = 0;
    const char *td = getenv("TMPDIR");
    char logp[PATH_MAX];
    snprintf(logp, sizeof logp, "%s/heaptrail-instrument-log-XXXXXX",
             td && *td && strlen(td) < PATH_MAX - 40 ? td : "/tmp");
    int lfd = mkstemp(logp);
    if (lfd < 0)
        return -1;
    FILE *lf = fdopen(lfd, "r");
    if (!lf) {
        close(lfd);
        unlink(logp);
        return -1;
    }
    const char *base = strrchr(e->argv[0], '/');
    base = base ? base + 1 : e->argv[0];
    int already = strcmp(base, "heaptrail-cc") == 0;
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fclose(lf);
        unlink(logp);
        return -1;
    }
    if (pid == 0) {
        if (chdir(e->dir) != 0)
            _exit(126);
        if (!already)
            setenv("HEAPTRAIL_REAL_CC", e->argv[0], 1);
        setenv("HEAPTRAIL_CC_LOG", logp, 1);
        char **v = e->argv;
        char *first = v[0];
        v[0] = already ? first : (char *)cc;
        execvp(v[0], v);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        ;
    *fell_back = read_log(lf, c);
    fclose(lf);
    unlink(logp);
    if (!WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st) == 126 || WEXITSTATUS(st) == 127
               ? -1 : WEXITSTATUS(st);
}

int cmd_instrument(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs(instrument_help, stdout);
        return 0;
    }
    if (argc != 3 || strcmp(argv[1], "-p") != 0) {
        fprintf(stderr, "%s", instrument_usage);
        return 2;
    }
    struct ht_ccdb db;
    ht_err e = ht_ccdb_load(argv[2], &db);
    if (e) {
        fprintf(stderr, "heaptrail: %s: %s\n", argv[2],
                e == HT_ENOENT ? "no compile_commands.json there"
                : e == HT_EPARSE ? "not a readable compile_commands.json "
                                   "(or it has no entries)"
                                 : ht_strerror(e));
        return 1;
    }
    const char *cc = cc_path();
    size_t ok = 0, fell = 0, failed = 0, skipped = 0;
    struct counts cnt = {0, 0};
    for (size_t i = 0; i < db.n; i++) {
        const struct ht_ccdb_entry *en = &db.v[i];
        if (!is_compile(en)) {
            skipped++;
            continue;
        }
        int fb;
        int rc = run_entry(en, cc, &fb, &cnt);
        if (rc < 0)
            fprintf(stderr, "heaptrail: cannot run %s for %s\n", cc, en->file);
        if (rc != 0) {
            if (rc > 0)
                fprintf(stderr, "heaptrail: compile of %s failed (status %d)\n",
                        en->file, rc);
            failed++;
        } else if (fb) {
            fell++;
        } else {
            ok++;
        }
    }
    ht_ccdb_free(&db);
    printf("heaptrail instrument: %zu instrumented, %zu compiled as is, "
           "%zu failed, %zu skipped (not -c)\n", ok, fell, failed, skipped);
    printf("heaptrail instrument: %zu stores/refcount operations left "
           "unrecorded, %zu macro expansions unmatched (splice failed)\n",
           cnt.unrecorded, cnt.splice_failed);
    printf("relink the program with these flags at the end of its link "
           "command (`%s --print-link-flags`;\nfor CMake: cmake "
           "-DCMAKE_C_STANDARD_LIBRARIES=\"$(%s --print-link-flags)\" "
           "BUILD_DIR,\nremove the program, build again), or link it with "
           "heaptrail-cc:\n  ", cc, cc);
    fflush(stdout);
    char *pv[] = {(char *)cc, "--print-link-flags", NULL};
    pid_t pid = fork();
    if (pid == 0) {
        execvp(cc, pv);
        _exit(127);
    }
    int st = 0;
    if (pid > 0)
        waitpid(pid, &st, 0);
    return failed ? 1 : 0;
}
