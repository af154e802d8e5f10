/* compile_commands.json through libclang: see ccdb.h. */
#define _GNU_SOURCE
#include <clang-c/CXCompilationDatabase.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "ccdb.h"
#include "cxutil.h"

/* The folder of path if it names a compile_commands.json, path if it is a
 * folder holding one (owned), or NULL. */
static char *db_dir(const char *path)
{
    struct stat st;
    char *dir = NULL;
    if (stat(path, &st) != 0)
        return NULL;
    if (S_ISDIR(st.st_mode)) {
        dir = realpath(path, NULL);
    } else {
        char *real = realpath(path, NULL);
        char *slash = real ? strrchr(real, '/') : NULL;
        if (slash && strcmp(slash + 1, "compile_commands.json") == 0) {
            *slash = 0;
            dir = strdup(*real ? real : "/");
        }
        free(real);
        return dir;
    }
    char *f = NULL;
    if (dir && asprintf(&f, "%s/compile_commands.json", dir) >= 0 &&
        stat(f, &st) == 0 && S_ISREG(st.st_mode)) {
        free(f);
        return dir;
    }
    free(f);
    free(dir);
    return NULL;
}

static ht_err add_entry(struct ht_ccdb *db, CXCompileCommand cmd,
                        const char *base)
{
    struct ht_ccdb_entry *e = &db->v[db->n];
    memset(e, 0, sizeof *e);
    db->n++;
    char *d = ht__cx_take(clang_CompileCommand_getDirectory(cmd));
    if (!d)
        return HT_ENOMEM;
    if (d[0] == '/') {
        e->dir = d;
    } else {
        if (asprintf(&e->dir, "%s/%s", base, d) < 0)
            e->dir = NULL;
        free(d);
    }
    e->file = ht__cx_take(clang_CompileCommand_getFilename(cmd));
    unsigned na = clang_CompileCommand_getNumArgs(cmd);
    e->argv = calloc((size_t)na + 1, sizeof *e->argv);
    if (!e->dir || !e->file || !e->argv)
        return HT_ENOMEM;
    for (unsigned i = 0; i < na; i++) {
        e->argv[i] = ht__cx_take(clang_CompileCommand_getArg(cmd, i));
        if (!e->argv[i])
            return HT_ENOMEM;
        e->argc++;
    }
    return na ? HT_OK : HT_EPARSE;
}

ht_err ht_ccdb_load(const char *path, struct ht_ccdb *out)
{
    memset(out, 0, sizeof *out);
    char *dir = db_dir(path);
    if (!dir)
        return HT_ENOENT;
    /* libclang prints "LIBCLANG TOOLING ERROR" lines itself: silence them,
     * the caller reports HT_EPARSE in its own words */
    CXCompilationDatabase_Error ce;
    fflush(stderr);
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    if (saved >= 0 && null >= 0)
        dup2(null, 2);
    CXCompilationDatabase db = clang_CompilationDatabase_fromDirectory(dir, &ce);
    if (saved >= 0 && null >= 0)
        dup2(saved, 2);
    if (saved >= 0)
        close(saved);
    if (null >= 0)
        close(null);
    if (ce != CXCompilationDatabase_NoError || !db) {
        free(dir);
        return HT_EPARSE;
    }
    CXCompileCommands cmds = clang_CompilationDatabase_getAllCompileCommands(db);
    unsigned n = cmds ? clang_CompileCommands_getSize(cmds) : 0;
    ht_err err = HT_OK;
    out->v = calloc((size_t)n + 1, sizeof *out->v);
    if (!out->v)
        err = HT_ENOMEM;
    for (unsigned i = 0; i < n && !err; i++)
        err = add_entry(out, clang_CompileCommands_getCommand(cmds, i), dir);
    if (cmds)
        clang_CompileCommands_dispose(cmds);
    clang_CompilationDatabase_dispose(db);
    free(dir);
    if (!err && n == 0)
        err = HT_EPARSE; /* an empty or unreadable database */
    if (err)
        ht_ccdb_free(out);
    return err;
}

char **ht_ccdb_parse_argv(const struct ht_ccdb_entry *e, int *argc)
{
    char **v = calloc((size_t)e->argc + 1, sizeof *v);
    int n = 0;
    if (!v)
        return NULL;
    for (int i = 0; i < e->argc; i++) {
        if (i > 0 && strcmp(e->argv[i], "-o") == 0) {
            i++;
            continue;
        }
        if (i > 0 && strncmp(e->argv[i], "-o", 2) == 0)
            continue;
        v[n++] = e->argv[i];
    }
    *argc = n;
    return v;
}

void ht_ccdb_free(struct ht_ccdb *db)
{
    if (!db)
        return;
    for (size_t i = 0; i < db->n; i++) {
        struct ht_ccdb_entry *e = &db->v[i];
        free(e->dir);
        free(e->file);
        for (int k = 0; e->argv && k < e->argc; k++)
            free(e->argv[k]);
        free(e->argv);
    }
    free(db->v);
    memset(db, 0, sizeof *db);
}
