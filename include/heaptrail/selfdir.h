/*
 * Where this executable is: the tools find their siblings from it
 * (heaptrail execs heaptrail-analyze, heaptrail-cc links the runtime
 * archive in ../lib, heaptrail demo and instrument find heaptrail-cc).
 */
#ifndef HEAPTRAIL_SELFDIR_H
#define HEAPTRAIL_SELFDIR_H

#include <stddef.h>

/* The directory of this executable (from /proc/self/exe, absolute, no
 * trailing slash) into buf[0..n). 0, or -1 (buf's contents unspecified)
 * if it cannot be read or does not fit. */
int ht__self_dir(char *buf, size_t n);

#endif
