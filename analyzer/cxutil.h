/*
 * libclang string helper shared by the analyzer's files (sites.c, ccdb.c,
 * typegraph.c).
 */
#ifndef HT_ANALYZER_CXUTIL_H
#define HT_ANALYZER_CXUTIL_H

#include <clang-c/CXString.h>

/* A malloc'd copy of s ("" for a NULL string; NULL only when out of
 * memory); s is disposed. The caller frees the copy. */
char *ht__cx_take(CXString s);

#endif
