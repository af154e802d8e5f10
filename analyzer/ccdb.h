/*
 * compile_commands.json (CMake's CMAKE_EXPORT_COMPILE_COMMANDS, bear):
 * the entries as argv vectors, read with libclang's compilation database
 * (both the "arguments" and the "command" forms). A relative "directory"
 * is taken relative to the folder holding the file.
 *
 * Ownership: a struct ht_ccdb owns every string; ht_ccdb_free() releases
 * it. Nothing here prints.
 */
#ifndef HT_ANALYZER_CCDB_H
#define HT_ANALYZER_CCDB_H

#include <stddef.h>

#include "heaptrail/err.h"

struct ht_ccdb_entry {
    char *dir;   /* absolute working directory of the command */
    char *file;  /* the entry's "file", as written */
    char **argv; /* argv[0] = compiler; NULL-terminated */
    int argc;
};

struct ht_ccdb {
    struct ht_ccdb_entry *v;
    size_t n;
};

/* Load path (a compile_commands.json file, or the folder holding one) into
 * *out (zeroed on failure): HT_ENOENT if there is no such file, HT_EPARSE
 * if libclang cannot read it. */
ht_err ht_ccdb_load(const char *path, struct ht_ccdb *out);

/* argv of entry e without the output (-o X, -oX), for a parse. Borrowed
 * strings; the array is malloc'd (NULL-terminated, *argc set) and the
 * caller frees it; NULL when out of memory. */
char **ht_ccdb_parse_argv(const struct ht_ccdb_entry *e, int *argc);

void ht_ccdb_free(struct ht_ccdb *db);

#endif
