/* Helpers for end-to-end tests: temp dirs, running commands, one-value SQL. */
#ifndef HT_E2E_UTIL_H
#define HT_E2E_UTIL_H

#include <sys/types.h>

#include "heaptrail/store.h"

/* Make a fresh temp directory; returns its path (static storage). */
const char *e2e_tmpdir(const char *tag);
/* Remove a directory tree. */
void e2e_rmtree(const char *path);
/* Run argv (NULL-terminated) with optional extra environment entry env
 * ("NAME=value" or NULL); capture stdout into out (size n, may be NULL).
 * Returns the wait status decoded: exit code, or 128+signal. */
int e2e_run(char *const argv[], const char *env, char *out, size_t n);
/* Run SQL on an open store and return the first column of the first row
 * as text ("" if no row, "NULL" for NULL), static storage. */
const char *e2e_sql1(ht_store *st, const char *sql);
/* The path of the (last) spill-* file in dir, in static storage, or NULL. */
const char *e2e_find_spill(const char *dir);
/* Start argv with env; its stdout goes to a pipe whose read end is returned
 * in *out_fd (the caller closes it), its stderr to err_fd (-1: inherited). */
pid_t e2e_spawn(char *const argv[], const char *env, int err_fd, int *out_fd);
/* Wait for pid; exit code, or 128+signal. */
int e2e_wait(pid_t pid);
/* Like e2e_run, also capturing stderr into err (size en, may be NULL). */
int e2e_run2(char *const argv[], const char *env, char *out, size_t n,
             char *err, size_t en);

#endif
