/*
 * Reading a whole file into memory: one helper for the tool's small text
 * inputs (sources to rewrite, site tables, response files, compiler
 * messages). Not for traces or spills, which are mapped or streamed.
 */
#ifndef HEAPTRAIL_SLURP_H
#define HEAPTRAIL_SLURP_H

#include <stddef.h>

/* The whole file at path, NUL-terminated (not counted in *len), malloc'd
 * and owned by the caller. NULL with errno set (ENOENT, EACCES, ENOMEM,
 * EIO...) when it cannot be read; *len is 0 then. */
char *ht__slurp(const char *path, size_t *len);

#endif
