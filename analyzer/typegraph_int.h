/* Internal: fill a type graph from a libclang TU (see typegraph.h). */
#ifndef HT_ANALYZER_TYPEGRAPH_INT_H
#define HT_ANALYZER_TYPEGRAPH_INT_H

#include <clang-c/Index.h>

#include "typegraph.h"

/* Add the record fields defined outside system headers in tu to g; an
 * allocation failure is left in g->err. */
void ht__typegraph_add_tu(struct ht_typegraph *g, CXTranslationUnit tu);

#endif
